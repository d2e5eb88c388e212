//! `sql: {type: postgresql}`: a data mart's statements, in one transaction.

use super::connect;
use crate::connectors::sql::Dialect;
use anyhow::{Context, Result};
use hakobu_core::config::{DbKind, JdbcStatements};
use tokio_postgres::SimpleQueryMessage;

/// Runs the statements in one transaction, awaiting `commit_gate` before the COMMIT (an
/// error from it, or from any statement, rolls everything back). Answers the rows the
/// statements changed, as the server counted them.
pub async fn run(
    s: &JdbcStatements,
    commit_gate: impl std::future::Future<Output = Result<()>>,
) -> Result<u64> {
    let endpoint = s
        .endpoint(DbKind::Postgresql)
        .map_err(|e| anyhow::anyhow!("sql.{e}"))?;
    let client = connect(&endpoint, None).await?;
    client.batch_execute("BEGIN").await?;
    let result = async {
        if let Some(schema) = s.schema.as_deref().filter(|s| !s.is_empty()) {
            client
                .batch_execute(&format!(
                    "SET LOCAL search_path TO {}",
                    Dialect::Postgres.ident(schema)
                ))
                .await
                .context("setting the schema failed")?;
        }
        let messages = client
            .simple_query(&s.statements)
            .await
            .context("the statements failed; nothing was committed")?;
        let changed = messages
            .iter()
            .map(|m| match m {
                SimpleQueryMessage::CommandComplete(n) => *n,
                _ => 0,
            })
            .sum::<u64>();
        commit_gate.await?;
        client
            .batch_execute("COMMIT")
            .await
            .context("COMMIT failed")?;
        Ok(changed)
    }
    .await;
    if result.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}
