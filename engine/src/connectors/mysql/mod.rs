//! MySQL / MariaDB source (streaming text-protocol query) and destination (multi-row
//! `INSERT` through a session-temporary staging table).

pub mod reader;
pub mod writer;

use anyhow::{Context, Result, bail};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};
use std::time::Duration;

/// Connection settings shared by the reader, the writer and the app's checks.
#[derive(Clone)]
pub struct MyConn<'a> {
    /// Host.
    pub host: &'a str,
    /// Port (default 3306).
    pub port: Option<u16>,
    /// User.
    pub user: &'a str,
    /// Password.
    pub password: Option<&'a str>,
    /// Database.
    pub database: &'a str,
    /// Require TLS.
    pub ssl: bool,
    /// Seconds to wait for the connection.
    pub connect_timeout: Option<u64>,
}

impl std::fmt::Debug for MyConn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MyConn")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.map(|_| "***"))
            .field("database", &self.database)
            .finish()
    }
}

/// Opens a session with UTC as its time zone, so TIMESTAMP columns read and write instants.
pub async fn connect(c: &MyConn<'_>) -> Result<Conn> {
    if c.ssl {
        bail!(
            "ssl: true is not supported by this build yet (it has no TLS library); use ssl: false on a trusted network"
        );
    }
    let opts = OptsBuilder::default()
        .ip_or_hostname(c.host)
        .tcp_port(c.port.unwrap_or(3306))
        .user(Some(c.user))
        .pass(c.password)
        .db_name(Some(c.database))
        .init(vec!["SET time_zone = '+00:00'", "SET NAMES utf8mb4"]);
    let port = c.port.unwrap_or(3306);
    let connecting = Conn::new(opts);
    let conn = tokio::time::timeout(
        Duration::from_secs(c.connect_timeout.unwrap_or(300)),
        connecting,
    )
    .await
    .map_err(|_| anyhow::anyhow!("timed out connecting to MySQL at {}:{port}", c.host))?
    .with_context(|| {
        format!(
            "cannot connect to MySQL at {}:{port} as {} (database {})",
            c.host, c.user, c.database
        )
    })?;
    Ok(conn)
}

/// Primary key columns of `table` in the current database.
pub async fn primary_key(conn: &mut Conn, table: &str) -> Result<Vec<String>> {
    let cols: Vec<String> = conn
        .exec(
            "SELECT column_name FROM information_schema.key_column_usage \
             WHERE table_schema = DATABASE() AND table_name = ? AND constraint_name = 'PRIMARY' ORDER BY ordinal_position",
            (table,),
        )
        .await
        .with_context(|| format!("cannot read the primary key of {table}"))?;
    Ok(cols)
}

/// Columns of `table` in the current database as `(name, data_type)`; empty if missing.
pub async fn table_columns(conn: &mut Conn, table: &str) -> Result<Vec<(String, String)>> {
    let cols: Vec<(String, String)> = conn
        .exec(
            "SELECT column_name, data_type FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
        .await
        .with_context(|| format!("cannot read the columns of {table}"))?;
    Ok(cols)
}
