//! Testing a connection: connect, ask the server's version, measure the round trip, and
//! tell a MySQL user that needs TLS from a wrong password.

use super::connection::{Connection, DbKind};
use super::error::{CheckError, ErrorKind};
use hakobu_core::config::{SshHostKey, Tls, TlsMode};
use serde::Serialize;
use std::time::Instant;

/// The result of a successful connection test.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CheckOk {
    /// What the server reports as its version.
    pub server_version: String,
    /// Time to connect and run one query.
    pub latency_ms: u64,
    /// The host key of the SSH bastion the connection went through, for the app to pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_host_key: Option<SshHostKey>,
}

/// Connects, asks the server's version, and measures the round trip.
pub async fn check(conn: &Connection) -> Result<CheckOk, CheckError> {
    let started = Instant::now();
    // Through a bastion: sign in first, so its host key (pinned or first seen) is known
    // and a refusal names the bastion, not the database; the database connection below
    // then insists on that same key.
    let tunneled;
    let mut conn = conn;
    let mut ssh_host_key = None;
    if let Some(ssh) = &conn.endpoint.ssh {
        let session = conn.guarded(crate::ssh::sign_in(ssh, conn.timeout)).await?;
        let key = session.host_key.clone();
        session.close().await;
        let mut pinned = conn.clone();
        if let Some(ssh) = pinned.endpoint.ssh.as_mut() {
            ssh.host_key_fingerprint = Some(key.fingerprint.clone());
        }
        tunneled = pinned;
        conn = &tunneled;
        ssh_host_key = Some(key);
    }
    let sql = match conn.endpoint.kind {
        DbKind::Postgresql => "SELECT current_setting('server_version')",
        DbKind::Mysql => "SELECT VERSION()",
    };
    // The server's own answer, but still a tenant's: one row, and a version string is short.
    let rows = match conn.guarded(conn.query_text(sql, &[], 1, 1024)).await {
        Err(e)
            if e.kind == ErrorKind::WrongPassword
                && conn.endpoint.kind == DbKind::Mysql
                && conn.endpoint.tls.mode == TlsMode::Disable =>
        {
            return Err(tls_required_or(conn, e).await);
        }
        rows => rows?,
    };
    let server_version = rows
        .rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_default();
    Ok(CheckOk {
        server_version,
        latency_ms: started.elapsed().as_millis() as u64,
        ssh_host_key,
    })
}

/// MySQL answers a plain login of a `REQUIRE SSL` user with "access denied", as for a
/// wrong password. If the same login succeeds encrypted, TLS is what was missing.
async fn tls_required_or(conn: &Connection, denied: CheckError) -> CheckError {
    let mut encrypted = conn.clone();
    encrypted.endpoint.tls = Tls {
        mode: TlsMode::Require,
        ca_certificate: None,
    };
    match encrypted
        .guarded(encrypted.query_text("SELECT 1", &[], 1, 1024))
        .await
    {
        Ok(_) => CheckError {
            kind: ErrorKind::TlsRequired,
            ssh_host_key: None,
            message: format!(
                "the server accepts {} only over TLS; set the TLS mode to require or stricter",
                conn.endpoint.user
            ),
        },
        Err(_) => denied,
    }
}
