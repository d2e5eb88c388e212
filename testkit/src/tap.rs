//! A TCP relay that keeps what clients send: put between a client and a server (moto), it
//! shows which credentials the client's requests were signed with and which session token
//! they carried, which the server itself does not record.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A relay on a free local port to one upstream address; every byte clients send is kept.
pub struct TcpTap {
    /// `127.0.0.1:port` to point clients at.
    pub address: String,
    sent: Arc<Mutex<Vec<u8>>>,
}

impl TcpTap {
    /// Starts relaying to `upstream` (`host:port`) on the current tokio runtime.
    pub async fn start(upstream: &str) -> TcpTap {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port for the tap");
        let address = listener
            .local_addr()
            .expect("the tap's address")
            .to_string();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_owned();
        let kept = sent.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(relay(client, server, kept.clone()));
            }
        });
        TcpTap { address, sent }
    }

    /// Everything clients sent so far, as text (request lines and headers are ASCII).
    pub fn sent(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

async fn relay(client: TcpStream, server: TcpStream, kept: Arc<Mutex<Vec<u8>>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upward = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            kept.lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(&buffer[..n]);
            if server_write.write_all(&buffer[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downward = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upward, downward);
}
