//! Testing a connection: connect, ask the server's version, measure the round trip, and
//! tell a MySQL user that needs TLS from a wrong password.

use super::connection::{Connection, DbKind};
use super::error::{CheckError, ErrorKind};
use hakobu_core::config::{Tls, TlsMode};
use serde::Serialize;
use std::time::Instant;

/// The result of a successful connection test.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct CheckOk {
    /// What the server reports as its version.
    pub server_version: String,
    /// Time to connect and run one query.
    pub latency_ms: u64,
}

/// Connects, asks the server's version, and measures the round trip.
pub async fn check(conn: &Connection) -> Result<CheckOk, CheckError> {
    let started = Instant::now();
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
            message: format!(
                "the server accepts {} only over TLS; set the TLS mode to require or stricter",
                conn.endpoint.user
            ),
        },
        Err(_) => denied,
    }
}
