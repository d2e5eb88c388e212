//! The connection a check runs on: its settings, and running one query under the check's
//! time limit with its failure classified.

use super::error::{CheckError, ErrorKind, changed_host_key, classify_my, classify_pg};
use futures::StreamExt;
use mysql_async::prelude::Queryable;
use std::time::Duration;

use hakobu_core::config::DbEndpoint;
pub use hakobu_core::config::DbKind;

/// A database to check or browse, and how long a check on it may take in total.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Connection {
    /// The database.
    pub endpoint: DbEndpoint,
    /// How long a check may take in total.
    pub timeout: Duration,
}

impl Connection {
    /// The server kind.
    pub fn kind(&self) -> DbKind {
        self.endpoint.kind
    }

    /// Seconds the connect itself may take: the whole check's limit, at least one.
    fn connect_timeout(&self) -> Option<u64> {
        Some(self.timeout.as_secs().max(1))
    }

    /// Runs `f` under the connection's timeout and classifies its error.
    pub(super) async fn guarded<T>(
        &self,
        f: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> Result<T, CheckError> {
        match tokio::time::timeout(self.timeout, f).await {
            Err(_) => Err(CheckError {
                kind: ErrorKind::Timeout,
                ssh_host_key: None,
                message: format!("no answer within {:?}", self.timeout),
            }),
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                let kind = match self.endpoint.kind {
                    DbKind::Postgresql => classify_pg(&e),
                    DbKind::Mysql => classify_my(&e),
                };
                Err(CheckError {
                    kind,
                    ssh_host_key: changed_host_key(&e),
                    message: format!("{e:#}")
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                })
            }
        }
    }

    /// An all-text query (the shape every browsing call needs), read row by row until
    /// `max_rows` rows or `max_bytes` of text: the rest is never read. The SQL should
    /// limit its rows too, so the server does not produce what is not read.
    ///
    /// It runs as one prepared statement (the servers refuse a second statement in it, so
    /// no text fallback can smuggle one) inside a read-only transaction (a function with
    /// side effects fails), whatever the tenant's SQL says; the connection closes after.
    pub(super) async fn query_text(
        &self,
        sql: &str,
        params: &[&str],
        max_rows: usize,
        max_bytes: usize,
    ) -> anyhow::Result<TextRows> {
        let mut answer = TextRows::default();
        let mut bytes = 0usize;
        // Takes a row unless it passes a bound; `false` once reading must stop.
        let mut take = |row: Vec<Option<String>>| -> bool {
            let size: usize = row.iter().map(|v| v.as_ref().map_or(0, String::len)).sum();
            if answer.rows.len() == max_rows || bytes + size > max_bytes {
                answer.truncated = true;
                return false;
            }
            bytes += size;
            answer.rows.push(row);
            true
        };
        match self.endpoint.kind {
            DbKind::Postgresql => {
                let client =
                    crate::connectors::postgres::connect(&self.endpoint, self.connect_timeout())
                        .await?;
                client.batch_execute("START TRANSACTION READ ONLY").await?;
                let p = params
                    .iter()
                    .map(|s| s as &(dyn tokio_postgres::types::ToSql + Sync));
                let stream = client.query_raw(sql, p).await?;
                let mut stream = std::pin::pin!(stream);
                while let Some(row) = stream.next().await {
                    let row = row?;
                    let values = (0..row.len())
                        .map(|i| row.get::<_, Option<String>>(i))
                        .collect();
                    if !take(values) {
                        break;
                    }
                }
            }
            DbKind::Mysql => {
                let mut conn =
                    crate::connectors::mysql::connect(&self.endpoint, self.connect_timeout())
                        .await?;
                let params: Vec<mysql_async::Value> = params
                    .iter()
                    .map(|s| mysql_async::Value::from(*s))
                    .collect();
                conn.query_drop("START TRANSACTION READ ONLY").await?;
                let mut result = conn.exec_iter(sql, params).await?;
                while let Some(row) = result.next().await? {
                    if !take(mysql_text(row)) {
                        break;
                    }
                }
                // The session closes with the connection: rows not read are not fetched.
                drop(conn);
            }
        }
        Ok(answer)
    }

    /// The names of the one column `sql` returns (MySQL), from the prepared statement's
    /// description, without running it.
    pub(super) async fn describe_mysql(&self, sql: &str) -> anyhow::Result<Vec<String>> {
        let mut conn =
            crate::connectors::mysql::connect(&self.endpoint, self.connect_timeout()).await?;
        let stmt = conn.prep(sql).await?;
        let names = stmt
            .columns()
            .iter()
            .map(|c| c.name_str().into_owned())
            .collect();
        let _ = conn.close(stmt).await;
        let _ = conn.disconnect().await;
        Ok(names)
    }
}

/// A MySQL row as text (`NULL` as `None`).
fn mysql_text(row: mysql_async::Row) -> Vec<Option<String>> {
    row.unwrap()
        .into_iter()
        .map(|v| match v {
            mysql_async::Value::NULL => None,
            mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
        })
        .collect()
}

/// Rows of text, and whether reading stopped at a bound before the answer ended.
#[derive(Debug, Default)]
pub(super) struct TextRows {
    pub rows: Vec<Vec<Option<String>>>,
    pub truncated: bool,
}
