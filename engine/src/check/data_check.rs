//! Data checks: a query that returns one value, compared with an expected value (as exact
//! decimals when both are numbers).

use super::connection::{Connection, DbKind};
use super::error::{CheckError, ErrorKind};
use crate::connectors::sql::Dialect;
use crate::limits::DATA_CHECK_MAX_VALUE_CHARS;
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
/// returns no row counts as NULL; a value longer than [`DATA_CHECK_MAX_VALUE_CHARS`] is
/// refused (see [`query_value`]).
pub async fn data_check(
    conn: &Connection,
    sql: &str,
    op: CheckOperator,
    expected: &str,
    null_passes: bool,
) -> Result<DataCheckResult, CheckError> {
    let actual = query_value(conn, sql, DATA_CHECK_MAX_VALUE_CHARS).await?;
    Ok(DataCheckResult {
        passed: evaluate(actual.as_deref(), op, expected, null_passes),
        actual,
    })
}

/// The one value `sql` returns, as text (`None` for no row or NULL), read within
/// `max_chars`: the database is asked for at most two rows and `max_chars` + 1 characters
/// of the value, so a tenant's query of a million rows or of a 1 GB value sends a few
/// kilobytes. More than one row (or column) is an error, and so is a longer value, naming
/// the limit.
pub async fn query_value(
    conn: &Connection,
    sql: &str,
    max_chars: usize,
) -> Result<Option<String>, CheckError> {
    let sql = sql.trim().trim_end_matches(';');
    hakobu_core::job::check_select_in(sql, Dialect::of_server(conn.endpoint.kind)).map_err(
        |message| CheckError {
            kind: ErrorKind::Other,
            ssh_host_key: None,
            message: format!("the query {}", message.english),
        },
    )?;
    let answer = conn
        .guarded(async {
            let wrapped = match conn.endpoint.kind {
                DbKind::Postgresql => format!(
                    "SELECT left(CAST(v AS text), {}) FROM ({sql}) AS hakobu_check(v) LIMIT 2",
                    max_chars + 1
                ),
                // MySQL has no column-alias list on derived tables: the value's column is
                // named from the statement's description instead.
                DbKind::Mysql => {
                    let columns = conn.describe_mysql(sql).await?;
                    let [column] = columns.as_slice() else {
                        anyhow::bail!("{ONE_VALUE}");
                    };
                    format!(
                        "SELECT LEFT(CAST(hakobu_check.{} AS CHAR), {}) FROM ({sql}) AS hakobu_check LIMIT 2",
                        Dialect::Mysql.ident(column),
                        max_chars + 1
                    )
                }
            };
            // At most 4 bytes a character: what the SQL lets through, read no further.
            let max_bytes = 2 * 4 * (max_chars + 1);
            conn.query_text(&wrapped, &[], 2, max_bytes).await
        })
        .await?;
    one_value(answer.rows, max_chars)
}

/// The one value of a data check's answer: an error for more than one row or column, or
/// for a value longer than `max_chars` (the query asked for one character more, so a
/// longer value shows); no row is `None`. The rule of databases and warehouses alike.
pub(crate) fn one_value(
    rows: Vec<Vec<Option<String>>>,
    max_chars: usize,
) -> Result<Option<String>, CheckError> {
    if rows.len() > 1 || rows.first().is_some_and(|r| r.len() != 1) {
        return Err(CheckError {
            kind: ErrorKind::Other,
            ssh_host_key: None,
            message: ONE_VALUE.into(),
        });
    }
    let value = rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten());
    if value
        .as_ref()
        .is_some_and(|v| v.chars().count() > max_chars)
    {
        return Err(CheckError {
            kind: ErrorKind::Other,
            ssh_host_key: None,
            message: format!(
                "the query returned a value longer than {max_chars} characters; values are limited to {max_chars} characters"
            ),
        });
    }
    Ok(value)
}

const ONE_VALUE: &str = "a data check query must return exactly one value (one row, one column)";
