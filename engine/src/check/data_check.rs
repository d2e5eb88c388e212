//! Data checks: a query that returns one value, compared with an expected value (as exact
//! decimals when both are numbers).

use super::connection::{Connection, DbKind};
use super::error::{CheckError, ErrorKind};
use hakobu_core::job::checks::{CheckOperator, evaluate};
use serde::Serialize;

/// The outcome of a data check.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct DataCheckResult {
    /// Whether the check holds.
    pub passed: bool,
    /// The value the query returned (`None` for NULL).
    pub actual: Option<String>,
}

/// Runs a query that returns one value and compares it with `expected`. A query that
/// returns no row counts as NULL.
pub async fn data_check(
    conn: &Connection,
    sql: &str,
    op: CheckOperator,
    expected: &str,
    null_passes: bool,
) -> Result<DataCheckResult, CheckError> {
    let rows = conn
        .guarded(async {
            let rows = conn
                .query_text(
                    &format!(
                        "SELECT CAST(v AS {}) FROM ({sql}) AS hakobu_check(v)",
                        text_type(conn.endpoint.kind)
                    ),
                    &[],
                )
                .await;
            match (conn.endpoint.kind, rows) {
                // MySQL has no column-alias list on derived tables: ask for the value as-is.
                (DbKind::Mysql, Err(_)) => conn.query_text(sql, &[]).await,
                (_, r) => r,
            }
        })
        .await?;
    if rows.len() > 1 || rows.first().is_some_and(|r| r.len() != 1) {
        return Err(CheckError {
            kind: ErrorKind::Other,
            message: "a data check query must return exactly one value (one row, one column)"
                .into(),
        });
    }
    let actual = rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten());
    Ok(DataCheckResult {
        passed: evaluate(actual.as_deref(), op, expected, null_passes),
        actual,
    })
}

fn text_type(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Postgresql => "text",
        DbKind::Mysql => "CHAR",
    }
}
