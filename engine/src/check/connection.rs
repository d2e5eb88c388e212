//! The connection a check runs on: its settings, and running one query under the check's
//! time limit with its failure classified.

use super::error::{CheckError, ErrorKind, classify_my, classify_pg};
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
                    message: format!("{e:#}")
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" "),
                })
            }
        }
    }

    /// A single-row, all-text query (the shape every browsing call needs).
    pub(super) async fn query_text(
        &self,
        sql: &str,
        params: &[&str],
    ) -> anyhow::Result<Vec<Vec<Option<String>>>> {
        match self.endpoint.kind {
            DbKind::Postgresql => {
                let client =
                    crate::connectors::postgres::connect(&self.endpoint, self.connect_timeout())
                        .await?;
                let p: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|s| s as &(dyn tokio_postgres::types::ToSql + Sync))
                    .collect();
                let rows = client.query(sql, &p).await?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| r.get::<_, Option<String>>(i))
                            .collect()
                    })
                    .collect())
            }
            DbKind::Mysql => {
                let mut conn =
                    crate::connectors::mysql::connect(&self.endpoint, self.connect_timeout())
                        .await?;
                let params: Vec<mysql_async::Value> = params
                    .iter()
                    .map(|s| mysql_async::Value::from(*s))
                    .collect();
                let rows: Vec<mysql_async::Row> = if params.is_empty() {
                    conn.query(sql).await?
                } else {
                    conn.exec(sql, params).await?
                };
                let _ = conn.disconnect().await;
                Ok(rows
                    .into_iter()
                    .map(|r| {
                        r.unwrap()
                            .into_iter()
                            .map(|v| match v {
                                mysql_async::Value::NULL => None,
                                mysql_async::Value::Bytes(b) => {
                                    Some(String::from_utf8_lossy(&b).into_owned())
                                }
                                other => Some(other.as_sql(true).trim_matches('\'').to_owned()),
                            })
                            .collect()
                    })
                    .collect())
            }
        }
    }
}
