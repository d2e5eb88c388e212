//! The connection a check runs on: its settings, and running one query under the check's
//! time limit with its failure classified.

use super::error::{CheckError, ErrorKind, classify_my, classify_pg};
use crate::connectors::mysql::MyConn;
use crate::connectors::postgres::PgConn;
use mysql_async::prelude::Queryable;
use serde::Serialize;
use std::time::Duration;

/// A database connection to check or browse.
#[derive(Clone)]
pub struct Connection {
    /// Which server.
    pub kind: DbKind,
    /// Host name or address.
    pub host: String,
    /// Port; the server's default when `None`.
    pub port: Option<u16>,
    /// User.
    pub user: String,
    /// Password.
    pub password: Option<String>,
    /// Database.
    pub database: String,
    /// Encryption.
    pub tls: hakobu_core::config::Tls,
    /// How long a check may take in total.
    pub timeout: Duration,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Database servers Hakobu connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DbKind {
    /// PostgreSQL
    Postgresql,
    /// MySQL or MariaDB
    Mysql,
}

impl Connection {
    fn pg(&self) -> PgConn<'_> {
        PgConn {
            host: &self.host,
            port: self.port,
            user: &self.user,
            password: self.password.as_deref(),
            database: &self.database,
            tls: self.tls.clone(),
            connect_timeout: Some(self.timeout.as_secs().max(1)),
        }
    }

    fn my(&self) -> MyConn<'_> {
        MyConn {
            host: &self.host,
            port: self.port,
            user: &self.user,
            password: self.password.as_deref(),
            database: &self.database,
            tls: self.tls.clone(),
            connect_timeout: Some(self.timeout.as_secs().max(1)),
        }
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
                let kind = match self.kind {
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
        match self.kind {
            DbKind::Postgresql => {
                let client = crate::connectors::postgres::connect(&self.pg()).await?;
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
                let mut conn = crate::connectors::mysql::connect(&self.my()).await?;
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
