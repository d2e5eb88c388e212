//! What the PostgreSQL and MySQL readers share beyond SQL text: how long a read may wait
//! for the server.

use anyhow::{Result, anyhow};
use hakobu_core::config::JdbcInput;

/// Embulk's `socket_timeout` of a database input: how long a read may wait for the
/// server's next data (not counting time the destination makes it wait). Default: 1800 s.
pub fn socket_timeout(c: &JdbcInput) -> std::time::Duration {
    std::time::Duration::from_secs(c.socket_timeout.unwrap_or(1800))
}

/// Awaits `io` for at most `limit`, so a server or network that stopped answering fails
/// the run instead of hanging it.
pub async fn within<T>(
    limit: std::time::Duration,
    io: impl std::future::Future<Output = T>,
) -> Result<T> {
    tokio::time::timeout(limit, io).await.map_err(|_| {
        anyhow!(
            "the server sent nothing for {} s (socket_timeout)",
            limit.as_secs()
        )
    })
}
