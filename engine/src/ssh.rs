//! SSH tunnels to databases in a tenant's private network.
//!
//! The engine signs in to the tenant's bastion ([`SshTunnel`]) with their private key and
//! asks it to open a TCP connection (`direct-tcpip`) to the database's host and port.
//! The bastion resolves and reaches that host on its own network, so the egress policy
//! checks only the bastion's address ([`crate::egress::pinned_addresses`]): what the
//! bastion reaches is the tenant's network, not the service's.
//!
//! The drivers (tokio-postgres, mysql_async) connect to an address, so [`forward`]
//! listens on `127.0.0.1` on an ephemeral port, accepts exactly one connection (the
//! driver's) and relays it through the SSH channel; the listener closes after it. That
//! loopback address is the engine's own and never goes through the egress check (a
//! tenant's `host: 127.0.0.1` still does). TLS to the database runs end to end through
//! the tunnel and still checks the database's name.
//!
//! The bastion's host key is compared with the pinned fingerprint
//! (`host_key_fingerprint`, as `ssh-keygen -l` prints it) before the key is used to
//! sign in: another key is refused with [`HostKeyChanged`], naming both.

use anyhow::{Context, Result, anyhow};
use hakobu_core::config::SshTunnel;
use russh::client::{self, AuthResult, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};

pub use hakobu_core::config::SshHostKey as HostKey;

/// The bastion presented a host key other than the pinned one.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the SSH bastion {host} presented the host key {seen}, but {expected} is pinned; this may be an impostor, or the bastion's key was replaced: accept the new key only if its administrator confirms it"
)]
pub struct HostKeyChanged {
    /// The bastion as written.
    pub host: String,
    /// The pinned fingerprint.
    pub expected: String,
    /// What the bastion presented.
    pub seen: HostKey,
}

/// A failure to open the tunnel before any database is involved (reaching the bastion,
/// its key, signing in, the forward it refused).
#[derive(Debug, thiserror::Error)]
pub enum SshFailure {
    /// The bastion did not accept the key for the user.
    #[error(
        "the SSH bastion {host} did not accept the private key for the user {user}; add its public key to ~{user}/.ssh/authorized_keys on the bastion"
    )]
    AuthRejected {
        /// The bastion as written.
        host: String,
        /// The user.
        user: String,
    },
    /// The private key text does not parse (or the passphrase is wrong).
    #[error("ssh.private_key: {0}")]
    BadKey(String),
    /// The bastion refused to open the connection to the database.
    #[error(
        "the SSH bastion {bastion} could not open a connection to {target}: {reason}; check the database host and port as the bastion sees them, and that the bastion allows TCP forwarding (AllowTcpForwarding)"
    )]
    ForwardRefused {
        /// The bastion as written.
        bastion: String,
        /// The database `host:port`.
        target: String,
        /// What the bastion said.
        reason: String,
    },
}

/// Checks the bastion's host key against the pin and remembers what it saw.
struct PinnedHostKey {
    expected: Option<String>,
    seen: Arc<Mutex<Option<HostKey>>>,
}

impl client::Handler for PinnedHostKey {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let (algorithm, fingerprint) = match server_public_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => {
                (key.algorithm(), key.fingerprint(HashAlg::Sha256))
            }
            // A certificate is pinned by the key it certifies; no authority is trusted.
            PublicKeyOrCertificate::Certificate(c) => (
                c.public_key().algorithm(),
                c.public_key().fingerprint(HashAlg::Sha256),
            ),
        };
        let seen = HostKey {
            algorithm: algorithm.as_str().to_owned(),
            fingerprint: fingerprint.to_string(),
        };
        let accepted = self
            .expected
            .as_deref()
            .is_none_or(|pinned| pinned.trim() == seen.fingerprint);
        *self.seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(seen);
        Ok(accepted)
    }
}

/// A signed-in session with the bastion.
pub struct Session {
    handle: Handle<PinnedHostKey>,
    /// The bastion's host key.
    pub host_key: HostKey,
    bastion: String,
}

/// Connects to the bastion (through the egress policy), checks its host key and signs in.
pub async fn sign_in(ssh: &SshTunnel, timeout: Duration) -> Result<Session> {
    let bastion = format!("{}:{}", ssh.host, ssh.port());
    tokio::time::timeout(timeout, sign_in_unbounded(ssh, &bastion))
        .await
        .map_err(|_| {
            anyhow::Error::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("the SSH bastion {bastion} did not answer within {timeout:?}"),
            ))
        })?
}

async fn sign_in_unbounded(ssh: &SshTunnel, bastion: &str) -> Result<Session> {
    // Parsed first: a bad key fails before anything is sent anywhere.
    let key = russh::keys::decode_secret_key(
        ssh.private_key.expose(),
        ssh.private_key_passphrase.as_ref().map(|p| p.expose()),
    )
    .map_err(|e| SshFailure::BadKey(key_problem(&e, ssh.private_key_passphrase.is_some())))?;
    let socket = match crate::egress::pinned_addresses(&ssh.host, ssh.port())
        .await
        .with_context(|| format!("cannot connect to the SSH bastion {bastion}"))?
    {
        Some(addresses) => {
            let targets: Vec<SocketAddr> = addresses
                .into_iter()
                .map(|ip| SocketAddr::new(ip, ssh.port()))
                .collect();
            TcpStream::connect(&targets[..]).await
        }
        None => TcpStream::connect((ssh.host.trim(), ssh.port())).await,
    }
    .with_context(|| format!("cannot connect to the SSH bastion {bastion}"))?;
    let _ = socket.set_nodelay(true);
    let config = Arc::new(client::Config {
        // Long runs: keep NAT and firewalls from dropping an idle tunnel, and notice a
        // dead bastion instead of waiting on it forever.
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 4,
        nodelay: true,
        ..Default::default()
    });
    let seen = Arc::new(Mutex::new(None));
    let handler = PinnedHostKey {
        expected: ssh.host_key_fingerprint.clone(),
        seen: Arc::clone(&seen),
    };
    let connected = client::connect_stream(config, socket, handler).await;
    let host_key = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut handle = match (connected, host_key) {
        (Ok(handle), _) => handle,
        (Err(russh::Error::UnknownKey), Some(seen)) => {
            return Err(anyhow::Error::new(HostKeyChanged {
                host: ssh.host.clone(),
                expected: ssh.host_key_fingerprint.clone().unwrap_or_default(),
                seen,
            }));
        }
        (Err(e), _) => {
            return Err(anyhow!(
                "cannot open an SSH session with the bastion {bastion}: {e}"
            ));
        }
    };
    let host_key = seen
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .ok_or_else(|| anyhow!("the SSH bastion {bastion} presented no host key"))?;
    let hash = if key.algorithm().is_rsa() {
        // rsa-sha2-256/512 where the server says it takes them (OpenSSH refuses SHA-1).
        handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten()
            .or(Some(HashAlg::Sha256))
    } else {
        None
    };
    let auth = handle
        .authenticate_publickey(
            ssh.user.clone(),
            PrivateKeyWithHashAlg::new(Arc::new(key), hash),
        )
        .await
        .with_context(|| format!("signing in to the SSH bastion {bastion} failed"))?;
    if !matches!(auth, AuthResult::Success) {
        return Err(SshFailure::AuthRejected {
            host: ssh.host.clone(),
            user: ssh.user.clone(),
        }
        .into());
    }
    Ok(Session {
        handle,
        host_key,
        bastion: bastion.to_owned(),
    })
}

/// Says what is wrong with a key without repeating any of it.
fn key_problem(e: &russh::keys::Error, has_passphrase: bool) -> String {
    use russh::keys::Error as E;
    match e {
        E::KeyIsEncrypted if !has_passphrase => {
            "the key is encrypted: give its passphrase in ssh.private_key_passphrase".to_owned()
        }
        E::UnsupportedKeyType { .. } | E::UnknownAlgorithm(_) => {
            "unsupported key type; use an ed25519 or RSA key (ssh-keygen -t ed25519)".to_owned()
        }
        _ if has_passphrase => {
            "the key does not open with the passphrase given, or is not a private key file (ed25519 or RSA, OpenSSH or PEM text)".to_owned()
        }
        _ => "not a private key Hakobu can read; give the whole text of an OpenSSH or PEM private key file (ed25519 or RSA)".to_owned(),
    }
}

impl Session {
    /// Ends the session.
    pub async fn close(self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }

    /// Opens a TCP connection from the bastion to `host:port` and serves it on a
    /// loopback port of this process for one connection; the session ends with it.
    pub async fn forward(self, host: &str, port: u16) -> Result<SocketAddr> {
        let target = format!("{host}:{port}");
        let channel = self
            .handle
            .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0)
            .await
            .map_err(|e| SshFailure::ForwardRefused {
                bastion: self.bastion.clone(),
                target: target.clone(),
                reason: match e {
                    russh::Error::ChannelOpenFailure(reason) => format!("{reason:?}"),
                    other => other.to_string(),
                },
            })?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .context("cannot open the local end of the SSH tunnel")?;
        let local = listener.local_addr()?;
        let handle = self.handle;
        tokio::spawn(async move {
            // Only the driver connects, right after this returns; a port nobody takes
            // closes with the tunnel instead of waiting forever.
            let accepted = tokio::time::timeout(Duration::from_secs(60), listener.accept()).await;
            drop(listener);
            if let Ok(Ok((mut socket, _))) = accepted {
                let _ = socket.set_nodelay(true);
                let mut stream = channel.into_stream();
                if let Err(e) = tokio::io::copy_bidirectional(&mut socket, &mut stream).await {
                    tracing::debug!("SSH tunnel to {target} closed: {e}");
                }
            }
            let _ = handle
                .disconnect(russh::Disconnect::ByApplication, "", "en")
                .await;
        });
        Ok(local)
    }
}

/// Where a database driver connects: the database itself, or the loopback end of a tunnel
/// through `ssh` to it.
pub async fn forward(
    ssh: &SshTunnel,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<SocketAddr> {
    let session = sign_in(ssh, timeout).await?;
    tokio::time::timeout(timeout, session.forward(host.trim(), port))
        .await
        .map_err(|_| anyhow!("the SSH bastion {}:{} did not open the connection to {host}:{port} within {timeout:?}", ssh.host, ssh.port()))?
}
