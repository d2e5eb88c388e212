//! MySQL / MariaDB source (streaming text-protocol query) and destination (`LOAD DATA
//! LOCAL INFILE`, or multi-row `INSERT`s, through a session-temporary staging table).
//!
//! This module holds what the reader, the writer and the app's checks share: the
//! connection, catalog lookups, and the DATETIME text of an instant.

pub mod reader;
pub mod statements;
pub mod writer;

use crate::connectors::sql::objects::{Side, my_error};
use crate::shared::time::instant_to_wall;
use crate::tls::{TlsFailure, TlsProblem, my_ssl_opts, name_to_check, problem_of};
use crate::types::micros_to_datetime;
use anyhow::{Context, Result, anyhow};
use chrono::{Datelike, Timelike};
use hakobu_core::config::{DbEndpoint, TlsMode};
use hakobu_core::zone::Zone;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, SslOpts};
use std::time::Duration;

/// Opens a session with UTC as its time zone, so TIMESTAMP columns read and write instants.
pub async fn connect(c: &DbEndpoint, connect_timeout: Option<u64>) -> Result<Conn> {
    let port = c.port();
    let at = || {
        format!(
            "cannot connect to MySQL at {}:{port} as {} (database {})",
            c.host, c.user, c.database
        )
    };
    let attempt = connect_with(
        c,
        connect_timeout,
        my_ssl_opts(&c.tls, None).with_context(at)?,
    )
    .await;
    let retried = match (&attempt, c.tls.mode) {
        // mysql_async has no "prefer": fall back to a plain session like libpq does.
        (Err(e), TlsMode::Prefer) if problem_of(e.as_ref()) == Some(TlsProblem::NotOffered) => {
            Some(connect_with(c, connect_timeout, None).await)
        }
        // mysql_async cannot check a certificate's signer without its name (its own switch
        // for that does not work with this rustls), so check the trusted certificate
        // against a name it lists.
        (Err(e), TlsMode::VerifyCa) => match problem_of(e.as_ref()) {
            Some(TlsProblem::HostMismatch { presented }) => match name_to_check(&presented) {
                Some(name) => {
                    Some(connect_with(c, connect_timeout, my_ssl_opts(&c.tls, Some(name))?).await)
                }
                None => None,
            },
            _ => None,
        },
        _ => None,
    };
    let result = retried.unwrap_or(attempt);
    result.map_err(|e| match problem_of(e.as_ref()) {
        Some(problem) => anyhow::Error::new(TlsFailure::new(problem, &c.host)).context(at()),
        None => e.context(at()),
    })
}

async fn connect_with(
    c: &DbEndpoint,
    connect_timeout: Option<u64>,
    ssl: Option<SslOpts>,
) -> Result<Conn> {
    let timeout = Duration::from_secs(connect_timeout.unwrap_or(300));
    // The checked addresses (or the loopback end of the SSH tunnel, whose bastion reaches
    // the database); the name stays for TLS. No switch to a local socket even when the
    // server is on this machine.
    let (pinned, port) = match &c.ssh {
        Some(ssh) => {
            let local = crate::ssh::forward(ssh, &c.host, c.port(), timeout).await?;
            (Some(vec![local.ip()]), local.port())
        }
        None => (
            crate::egress::pinned_addresses(&c.host, c.port()).await?,
            c.port(),
        ),
    };
    let opts = OptsBuilder::default()
        .ip_or_hostname(c.host.as_str())
        .resolved_ips(pinned)
        .prefer_socket(false)
        .tcp_port(port)
        .user(Some(c.user.as_str()))
        .pass(c.password.as_deref())
        .db_name(Some(c.database.as_str()))
        .ssl_opts(ssl)
        .init(vec!["SET time_zone = '+00:00'", "SET NAMES utf8mb4"]);
    let connecting = Conn::new(opts);
    let conn = tokio::time::timeout(timeout, connecting)
        .await
        .map_err(|_| {
            anyhow::anyhow!("timed out connecting to MySQL at {}:{}", c.host, c.port())
        })??;
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

/// A timestamp as MySQL's DATETIME text, as wall time in `tz` (zone-less columns) or UTC
/// (the session's zone, so TIMESTAMP columns get the instant).
pub(crate) fn datetime_text(m: i64, tz: Zone) -> Result<DatetimeText> {
    let wall = if tz == Zone::UTC {
        m
    } else {
        instant_to_wall(m, tz)?
    };
    let t = micros_to_datetime(wall).ok_or_else(|| anyhow!("timestamp out of range"))?;
    // Written digit by digit: two timestamps a row made chrono's format string, parsed
    // for every value, a large part of the writer's time (issue #16).
    let (year, micros) = (t.year(), t.timestamp_subsec_micros());
    if !(0..=9999).contains(&year) || micros > 999_999 {
        return Ok(DatetimeText::Other(
            t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        ));
    }
    let mut b = *b"0000-00-00 00:00:00.000000";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year as u32);
    put(5, 2, t.month());
    put(8, 2, t.day());
    put(11, 2, t.hour());
    put(14, 2, t.minute());
    put(17, 2, t.second());
    put(20, 6, micros);
    Ok(DatetimeText::Digits(b))
}

/// MySQL's DATETIME text of one instant (`YYYY-MM-DD HH:MM:SS.ffffff`).
pub(crate) enum DatetimeText {
    /// Years 0 to 9999, every digit in place.
    Digits([u8; 26]),
    /// Years outside them, as chrono writes them.
    Other(String),
}

impl DatetimeText {
    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Self::Digits(b) => std::str::from_utf8(b).expect("ASCII digits"),
            Self::Other(s) => s,
        }
    }
}

impl std::fmt::Display for DatetimeText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Fails with what is missing or closed (the table, the right to read it) when `quoted`
/// cannot be read by this session. MySQL's catalog hides tables a user has no right to,
/// so the server's own error on a read is what tells "missing" from "closed".
pub async fn ensure_readable(conn: &mut Conn, quoted: &str, side: Side) -> Result<()> {
    conn.query_drop(format!("SELECT 1 FROM {quoted} LIMIT 0"))
        .await
        .map_err(|e| my_error(e, side, quoted, || format!("cannot read {quoted}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_text_is_what_chrono_writes() {
        let zone: Zone = "Asia/Tokyo".parse().unwrap();
        for m in [
            0,
            1,
            -1,
            1_704_067_200_123_456,
            253_402_300_799_999_999,
            -62_135_596_800_000_000,
            -62_167_219_200_000_000 - 1,
            300_000_000_000_000_000,
        ] {
            for tz in [Zone::UTC, zone] {
                let wall = if tz == Zone::UTC {
                    m
                } else {
                    instant_to_wall(m, tz).unwrap()
                };
                let chrono = micros_to_datetime(wall)
                    .unwrap()
                    .format("%Y-%m-%d %H:%M:%S%.6f")
                    .to_string();
                assert_eq!(
                    datetime_text(m, tz).unwrap().to_string(),
                    chrono,
                    "{m} {tz}"
                );
            }
        }
    }
}
