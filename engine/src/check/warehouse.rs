//! A data warehouse's connection test: sign in and run `SELECT 1` (BigQuery as a query
//! job in the connection's project, Snowflake in a session), under the probe's egress
//! policy like every request of those connectors (the API endpoint, the key's
//! `token_uri`, Snowflake's account host are all resolved through it).

use super::error::classify_http;
use super::{CheckError, ErrorKind};
use crate::connectors::bigquery::Client;
use crate::connectors::snowflake::writer::SnowflakeWriter;
use std::time::Duration;

/// The warehouse to test, as its output section (the table is not used).
pub use hakobu_core::config::Warehouse;

/// Signs in and runs `SELECT 1` within `timeout`.
pub async fn test_warehouse(w: &Warehouse, timeout: Duration) -> Result<(), CheckError> {
    let work = async {
        match w {
            Warehouse::Bigquery(c) => {
                let client = Client::connect(c).await?;
                client.query("SELECT 1").await.map(|_| ())
            }
            Warehouse::Snowflake(c) => {
                let session = SnowflakeWriter::connect(c).await?;
                let answer = session.execute("SELECT 1").await.map(|_| ());
                session.close().await;
                answer
            }
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(CheckError {
            kind: classify_http(&e),
            message: format!("{e:#}"),
            ssh_host_key: None,
        }),
        Err(_) => Err(CheckError {
            kind: ErrorKind::Timeout,
            message: format!("no answer within {timeout:?}"),
            ssh_host_key: None,
        }),
    }
}
