//! Browsing and checking a data warehouse (BigQuery, Snowflake): its datasets or schemas,
//! their tables and columns, a table's or a query's first rows, and a data check's one
//! value. Everything runs under the probe's egress policy and the call's time limit, and
//! is read within the budgets of [`crate::limits`] (each answer within
//! [`WAREHOUSE_ANSWER_MAX_BYTES`](crate::limits::WAREHOUSE_ANSWER_MAX_BYTES), listings and
//! previews cut at their own bounds and saying so).
//!
//! "Schema" means a BigQuery dataset of the connection's project, or a schema of the
//! Snowflake connection's database; an empty one is the connection's own (its `dataset:`,
//! or its `schema:`, default `PUBLIC`).

use super::discovery::{ColumnInfo, Listing};
use super::error::classify_http;
use super::{CheckError, DataCheckResult, ErrorKind, Warehouse};
use crate::connectors::bigquery::Client;
use crate::connectors::bigquery::discover::BqRows;
use crate::connectors::snowflake::discover::{columns_sql, schemas_sql, tables_sql};
use crate::connectors::snowflake::writer::{SnowflakeWriter, ident};
use crate::connectors::snowflake::{Rows, Session};
use crate::limits::{
    DATA_CHECK_MAX_VALUE_CHARS, DISCOVERY_MAX_BYTES, DISCOVERY_MAX_ENTRIES, PREVIEW_MAX_BYTES,
    PREVIEW_MAX_VALUE_BYTES,
};
use crate::pipeline::Preview;
use hakobu_core::job::checks::{CheckOperator, evaluate};
use hakobu_core::sql::Dialect;
use std::time::Duration;

/// What a warehouse preview reads: a table, or a query (one SELECT, checked by the caller).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarehouseRead {
    Table { schema: String, table: String },
    Query { query: String },
}

/// Runs `f` within `timeout`, its failure in the check's words.
async fn guarded<T>(
    timeout: Duration,
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> Result<T, CheckError> {
    match tokio::time::timeout(timeout, f).await {
        Ok(Ok(v)) => Ok(v),
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

/// Signs in to Snowflake, runs `f` on the session and ends it whatever `f` answered.
async fn with_session<T>(
    c: &hakobu_core::config::SnowflakeOutput,
    f: impl AsyncFnOnce(&Session) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let session = SnowflakeWriter::connect(c).await?;
    let answer = f(&session).await;
    session.close().await;
    answer
}

/// The schema asked for, or the connection's own.
fn schema_or_own<'a>(w: &'a Warehouse, schema: &'a str) -> &'a str {
    if !schema.trim().is_empty() {
        return schema;
    }
    match w {
        Warehouse::Bigquery(c) => &c.dataset,
        Warehouse::Snowflake(c) => c.schema_name(),
    }
}

/// The first column of each row, within the listing bounds (the SQL asked for one more
/// row than is kept).
fn first_column(rows: Rows) -> Listing<String> {
    let mut items = Vec::new();
    let mut bytes = 0;
    let mut truncated = false;
    for name in rows
        .rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
    {
        if items.len() == DISCOVERY_MAX_ENTRIES || bytes + name.len() > DISCOVERY_MAX_BYTES {
            truncated = true;
            break;
        }
        bytes += name.len();
        items.push(name);
    }
    Listing { items, truncated }
}

/// Datasets of the BigQuery project, or schemas of the Snowflake database.
pub async fn warehouse_schemas(
    w: &Warehouse,
    timeout: Duration,
) -> Result<Listing<String>, CheckError> {
    guarded(timeout, async {
        match w {
            Warehouse::Bigquery(c) => {
                let names = Client::connect(c)
                    .await?
                    .list_datasets(DISCOVERY_MAX_ENTRIES, DISCOVERY_MAX_BYTES)
                    .await?;
                Ok(Listing {
                    items: names.names,
                    truncated: names.truncated,
                })
            }
            Warehouse::Snowflake(c) => {
                let sql = schemas_sql(&c.database, DISCOVERY_MAX_ENTRIES + 1);
                let rows = with_session(c, async |s| s.execute(&sql).await).await?;
                Ok(first_column(rows))
            }
        }
    })
    .await
}

/// Tables and views of a dataset or schema.
pub async fn warehouse_tables(
    w: &Warehouse,
    schema: &str,
    timeout: Duration,
) -> Result<Listing<String>, CheckError> {
    let schema = schema_or_own(w, schema);
    guarded(timeout, async {
        match w {
            Warehouse::Bigquery(c) => {
                let names = Client::connect(c)
                    .await?
                    .list_tables(schema, DISCOVERY_MAX_ENTRIES, DISCOVERY_MAX_BYTES)
                    .await?;
                Ok(Listing {
                    items: names.names,
                    truncated: names.truncated,
                })
            }
            Warehouse::Snowflake(c) => {
                let sql = tables_sql(&c.database, schema, DISCOVERY_MAX_ENTRIES + 1);
                let rows = with_session(c, async |s| s.execute(&sql).await).await?;
                Ok(first_column(rows))
            }
        }
    })
    .await
}

/// Columns of a table, in table order; empty when it does not exist.
pub async fn warehouse_columns(
    w: &Warehouse,
    schema: &str,
    table: &str,
    timeout: Duration,
) -> Result<Listing<ColumnInfo>, CheckError> {
    let schema = schema_or_own(w, schema);
    guarded(timeout, async {
        let columns: Vec<ColumnInfo> = match w {
            Warehouse::Bigquery(c) => Client::connect(c)
                .await?
                .columns(schema, table)
                .await?
                .unwrap_or_default()
                .into_iter()
                .map(|c| ColumnInfo {
                    name: c.name,
                    data_type: c.type_,
                    nullable: c.nullable,
                })
                .collect(),
            Warehouse::Snowflake(c) => {
                let sql = columns_sql(&c.database, schema, table, DISCOVERY_MAX_ENTRIES + 1);
                with_session(c, async |s| s.execute(&sql).await)
                    .await?
                    .rows
                    .into_iter()
                    .map(|r| ColumnInfo {
                        name: r.first().cloned().flatten().unwrap_or_default(),
                        data_type: r.get(1).cloned().flatten().unwrap_or_default(),
                        nullable: r.get(2).cloned().flatten().as_deref() == Some("YES"),
                    })
                    .collect()
            }
        };
        let truncated = columns.len() > DISCOVERY_MAX_ENTRIES;
        Ok(Listing {
            items: columns.into_iter().take(DISCOVERY_MAX_ENTRIES).collect(),
            truncated,
        })
    })
    .await
}

/// Refuses anything but one SELECT under the databases' readings (as everywhere) and the
/// warehouse's own: a `;` its quoting hides from PostgreSQL and MySQL (a BigQuery
/// `'''...'''` string) may not split it into a script.
fn one_select(w: &Warehouse, sql: &str) -> Result<(), CheckError> {
    let own = match w {
        Warehouse::Bigquery(_) => Dialect::Bigquery,
        Warehouse::Snowflake(_) => Dialect::Snowflake,
    };
    hakobu_core::job::check_select(sql)
        .and_then(|()| hakobu_core::job::check_select_in(sql, own))
        .map_err(|message| CheckError {
            kind: ErrorKind::Other,
            ssh_host_key: None,
            message: format!("the query {}", message.english),
        })
}

/// The first `limit` rows of a table or a query. A BigQuery table is read by
/// `tabledata.list` (no query is billed); a query, and anything on Snowflake, as
/// `SELECT * FROM (...) LIMIT limit`, so nothing but the SELECT runs. Values are text as
/// the warehouse answers them, cut to the preview budgets.
pub async fn warehouse_preview(
    w: &Warehouse,
    read: &WarehouseRead,
    limit: usize,
    timeout: Duration,
) -> Result<Preview, CheckError> {
    if let WarehouseRead::Query { query } = read {
        one_select(w, query)?;
    }
    let rows = guarded(timeout, async {
        match (w, read) {
            (Warehouse::Bigquery(c), WarehouseRead::Table { schema, table }) => {
                let dataset = schema_or_own(w, schema);
                Client::connect(c)
                    .await?
                    .table_rows(dataset, table, limit)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("there is no table {dataset}.{table}"))
                    .map(|r| {
                        (
                            r.fields.into_iter().map(|f| (f.name, f.type_)).collect(),
                            r.rows,
                        )
                    })
            }
            (Warehouse::Bigquery(c), WarehouseRead::Query { query }) => {
                let sql = format!("SELECT * FROM ({}) LIMIT {limit}", bare(query));
                let BqRows { fields, rows } = Client::connect(c)
                    .await?
                    .query_rows(&sql, limit, timeout.as_millis() as u64)
                    .await?;
                Ok((
                    fields.into_iter().map(|f| (f.name, f.type_)).collect(),
                    rows,
                ))
            }
            (Warehouse::Snowflake(c), read) => {
                let sql = match read {
                    WarehouseRead::Table { schema, table } => format!(
                        "SELECT * FROM {}.{}.{} LIMIT {limit}",
                        ident(&c.database),
                        ident(schema_or_own(w, schema)),
                        ident(table)
                    ),
                    WarehouseRead::Query { query } => {
                        format!("SELECT * FROM ({}) LIMIT {limit}", bare(query))
                    }
                };
                let rows = with_session(c, async |s| s.execute(&sql).await).await?;
                Ok((
                    rows.columns.into_iter().zip(rows.types).collect(),
                    rows.rows,
                ))
            }
        }
    })
    .await?;
    Ok(within_budget(rows.0, rows.1, limit))
}

/// A query's text without its trailing `;`, to be wrapped.
fn bare(query: &str) -> &str {
    query.trim().trim_end_matches(';').trim_end()
}

/// Rows of text as a preview: each value at most [`PREVIEW_MAX_VALUE_BYTES`] (cut with
/// `…`), no row taken once [`PREVIEW_MAX_BYTES`] are.
fn within_budget(
    columns: Vec<(String, String)>,
    rows: Vec<Vec<Option<String>>>,
    limit: usize,
) -> Preview {
    let mut taken = Vec::new();
    let mut bytes = 0usize;
    let mut truncated = false;
    for row in rows.into_iter().take(limit) {
        if bytes >= PREVIEW_MAX_BYTES {
            truncated = true;
            break;
        }
        let values = row
            .into_iter()
            .map(|cell| match cell {
                None => serde_json::Value::Null,
                Some(mut text) => {
                    let room = PREVIEW_MAX_VALUE_BYTES.min(PREVIEW_MAX_BYTES.saturating_sub(bytes));
                    if text.len() > room {
                        let mut cut = room;
                        while !text.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        text.truncate(cut);
                        text.push('…');
                        truncated = true;
                    }
                    bytes += text.len();
                    serde_json::Value::String(text)
                }
            })
            .collect();
        taken.push(values);
    }
    Preview {
        columns,
        rows: taken,
        truncated,
    }
}

/// The one value `sql` returns, as text (`None`: no row, or NULL), at most `max_chars`.
///
/// The query runs as a scalar subquery, `SELECT LEFT(CAST((sql) AS text), max_chars + 1)`:
/// the warehouse itself refuses a second column or a second row, answers NULL for no
/// row, and sends no more of the value than the limit and one character, so a longer
/// value is refused naming the limit without being sent.
pub async fn warehouse_value(
    w: &Warehouse,
    sql: &str,
    max_chars: usize,
    timeout: Duration,
) -> Result<Option<String>, CheckError> {
    one_select(w, sql)?;
    let sql = bare(sql);
    let rows = guarded(timeout, async {
        match w {
            Warehouse::Bigquery(c) => {
                let wrapped = format!(
                    "SELECT SUBSTR(CAST(({sql}) AS STRING), 1, {})",
                    max_chars + 1
                );
                Ok(Client::connect(c)
                    .await?
                    .query_rows(&wrapped, 2, timeout.as_millis() as u64)
                    .await?
                    .rows)
            }
            Warehouse::Snowflake(c) => {
                let wrapped = format!("SELECT LEFT(CAST(({sql}) AS VARCHAR), {})", max_chars + 1);
                Ok(with_session(c, async |s| s.execute(&wrapped).await)
                    .await?
                    .rows)
            }
        }
    })
    .await?;
    super::data_check::one_value(rows, max_chars)
}

/// A data check on a warehouse: its one value ([`warehouse_value`]) compared with
/// `expected` as on a database.
pub async fn warehouse_data_check(
    w: &Warehouse,
    sql: &str,
    op: CheckOperator,
    expected: &str,
    null_passes: bool,
    timeout: Duration,
) -> Result<DataCheckResult, CheckError> {
    let actual = warehouse_value(w, sql, DATA_CHECK_MAX_VALUE_CHARS, timeout).await?;
    Ok(DataCheckResult {
        passed: evaluate(actual.as_deref(), op, expected, null_passes),
        actual,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_keeps_within_its_budgets() {
        let big = "x".repeat(PREVIEW_MAX_VALUE_BYTES + 10);
        let rows = (0..40).map(|_| vec![Some(big.clone()), None]).collect();
        let p = within_budget(vec![("a".into(), "STRING".into())], rows, 100);
        assert!(p.truncated);
        assert!(p.rows.len() < 40, "{}", p.rows.len());
        let first = p.rows[0][0].as_str().unwrap();
        assert!(first.ends_with('…') && first.len() <= PREVIEW_MAX_VALUE_BYTES + 3);
        let total: usize = p
            .rows
            .iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .map(str::len)
            .sum();
        assert!(total <= PREVIEW_MAX_BYTES + 3 * p.rows.len(), "{total}");
    }
}
