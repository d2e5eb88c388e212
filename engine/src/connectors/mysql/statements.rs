//! `sql: {type: mysql}`: a data mart's statements, in one transaction where MySQL allows.
//!
//! MySQL commits implicitly before and after DDL (`CREATE`, `ALTER`, `DROP`, `TRUNCATE`,
//! `RENAME`, ...): the statements before a DDL statement are committed by it, whatever
//! follows. DML alone (`INSERT`, `UPDATE`, `DELETE` on InnoDB) rolls back as a whole.

use super::connect;
use anyhow::{Context, Result};
use hakobu_core::config::{DbKind, JdbcStatements};
use mysql_async::Row;
use mysql_async::prelude::Queryable;

/// Runs the statements (one multi-statement text query) in a transaction, awaiting
/// `commit_gate` before the COMMIT. Answers the rows the statements changed.
pub async fn run(
    s: &JdbcStatements,
    commit_gate: impl std::future::Future<Output = Result<()>>,
) -> Result<u64> {
    let endpoint = s
        .endpoint(DbKind::Mysql)
        .map_err(|e| anyhow::anyhow!("sql.{e}"))?;
    let mut conn = connect(&endpoint, None).await?;
    conn.query_drop("START TRANSACTION").await?;
    let result = async {
        let mut changed = 0;
        let mut sets = conn
            .query_iter(s.statements.as_str())
            .await
            .context("the statements failed")?;
        // Each statement's OK packet (its affected rows) is read when the driver moves
        // to its result set, so the count is taken before moving on; a statement with
        // rows (a SELECT) changed none.
        loop {
            if sets.columns().is_none_or(|c| c.is_empty()) {
                changed += sets.affected_rows();
            }
            if sets.is_empty() {
                break;
            }
            sets.for_each(|_: Row| ())
                .await
                .context("the statements failed")?;
        }
        drop(sets);
        commit_gate.await?;
        conn.query_drop("COMMIT").await.context("COMMIT failed")?;
        Ok(changed)
    }
    .await;
    if result.is_err() {
        let _ = conn.query_drop("ROLLBACK").await;
    }
    let _ = conn.disconnect().await;
    result
}
