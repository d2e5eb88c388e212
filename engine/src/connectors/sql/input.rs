//! What the PostgreSQL and MySQL readers share beyond SQL text: the query an input reads
//! (Embulk's `table` / `query` / incremental options), its cursor and how the cursor's
//! values become `last_record`, whether a table can be read in key ranges, and how long a
//! read may wait for the server. Each reader brings its dialect and its catalog lookups.

use super::{Dialect, select_is_row_wise, table_query};
use crate::shared::time::instant_to_wall;
use crate::types::{self, ColumnView, Value};
use anyhow::{Context, Result, anyhow, bail};
use arrow_array::RecordBatch;
use hakobu_core::config::{ColumnType, JdbcInput};
use hakobu_core::zone::Zone;
use tokio::sync::mpsc::Sender;

/// The table of a `table:` input.
#[derive(Debug, Clone)]
pub struct InputTable {
    /// How the catalog lookups (primary key, columns) and messages name it.
    pub name: String,
    /// How SQL text names it, quoted.
    pub quoted: String,
}

impl InputTable {
    /// The table of `c`, if it names one. PostgreSQL qualifies it with `schema` (default
    /// `public`) and looks it up by that quoted name; MySQL reads the connection's
    /// database and looks tables up by their plain name.
    pub fn of(d: Dialect, c: &JdbcInput) -> Option<Self> {
        let table = c.table.as_deref()?;
        Some(match d {
            // The warehouses have no database reader: only PostgreSQL and MySQL come here.
            Dialect::Postgres | Dialect::Bigquery | Dialect::Snowflake => {
                let qualified = d.qualified(Some(c.schema.as_deref().unwrap_or("public")), table);
                InputTable {
                    name: qualified.clone(),
                    quoted: qualified,
                }
            }
            Dialect::Mysql => InputTable {
                name: table.to_owned(),
                quoted: d.ident(table),
            },
        })
    }
}

/// The query a database input reads.
#[derive(Debug)]
pub struct SourceQuery {
    /// The SELECT of a `table:` input, or the configured `query`.
    pub sql: String,
    /// The cursor columns of an incremental read; empty otherwise.
    pub cursor: Vec<String>,
}

/// Plans the query of `c`: the configured `query` (its `:column` placeholders filled from
/// `last_record` when incremental), or a SELECT of `table` with Embulk's incremental
/// condition and order. The cursor is `incremental_columns`, else the table's primary
/// key, looked up with `primary_key(table.name)`.
pub async fn source_query(
    d: Dialect,
    c: &JdbcInput,
    table: Option<&InputTable>,
    primary_key: impl AsyncFnOnce(&str) -> Result<Vec<String>>,
) -> Result<SourceQuery> {
    let incremental = c.incremental.unwrap_or(false);
    let mut cursor = c.incremental_columns.clone();
    if incremental && cursor.is_empty() {
        let Some(t) = table else {
            bail!(
                "incremental_columns: required with query (there is no table to take the primary key from)"
            );
        };
        cursor = primary_key(&t.name).await?;
        if cursor.is_empty() {
            bail!(
                "incremental_columns: table {} has no primary key; list the cursor columns",
                t.name
            );
        }
    }
    // A query as people paste it ends with `;`, which the JDBC drivers Embulk uses drop;
    // it would break the COPY or subquery the query is wrapped in.
    let query = c.query.as_deref().map(without_final_semicolons);
    let sql = match (&query, table) {
        (Some(q), _) if incremental => match &c.last_record {
            Some(last) => d
                .fill_placeholders(q, &cursor, last)
                .map_err(anyhow::Error::msg)
                .context("query")?,
            None => bail!(
                "last_record: required with use_raw_query_with_incremental (the first value to read after)"
            ),
        },
        (Some(q), _) => (*q).to_owned(),
        (None, Some(t)) => {
            let cond = match (&c.last_record, incremental) {
                (Some(last), true) => Some(
                    d.after_last_record(&cursor, last)
                        .map_err(anyhow::Error::msg)
                        .context("last_record")?,
                ),
                _ => None,
            };
            let order = if incremental {
                Some(d.column_list(&cursor))
            } else {
                c.order_by.clone()
            };
            table_query(
                &t.quoted,
                c.select.as_deref(),
                c.where_.as_deref(),
                cond,
                order,
            )
        }
        (None, None) => bail!("table: either table or query is required"),
    };
    Ok(SourceQuery {
        sql,
        cursor: if incremental { cursor } else { Vec::new() },
    })
}

/// Whether the read of `c` is the whole table, so the table's row statistics tell how many
/// rows it will read: a table without `query` or `where`, and not an incremental run that
/// starts after a `last_record` (it reads only the new rows, a number no statistic
/// gives). `select` does not change the row count unless it aggregates: row-wise only.
pub fn reads_whole_table(c: &JdbcInput) -> bool {
    c.table.is_some()
        && c.query.is_none()
        && c.where_.is_none()
        && !(c.incremental.unwrap_or(false) && c.last_record.is_some())
        && select_is_row_wise(c.select.as_deref())
}

/// Whether reading `c` in `parallel` key ranges gives exactly the rows one query gives: a
/// table read as it is (no query, not incremental, no order, no `after_select`, and a
/// select list that is row-wise, see [`select_is_row_wise`]). The reader still needs a
/// one-column integer primary key to split on.
pub fn key_ranges_possible(c: &JdbcInput, parallel: usize) -> bool {
    parallel > 1
        && c.table.is_some()
        && c.query.is_none()
        && !c.incremental.unwrap_or(false)
        && c.order_by.is_none()
        && c.after_select.is_none()
        && select_is_row_wise(c.select.as_deref())
}

/// The cursor of a read: which selected columns it is and how their values in the last
/// row read are written into `last_record`, for the next run's incremental condition.
#[derive(Debug, Clone)]
pub struct Cursor {
    columns: Vec<usize>,
    /// The zone of each cursor column that holds a wall time (a timestamp without a zone
    /// of its own), whose `last_record` is that wall time as the server compares it.
    wall_zones: Vec<Option<Zone>>,
    /// How such a wall time is written.
    wall_format: &'static str,
}

impl Cursor {
    /// The `cursor` columns among the `selected` ones; `wall_zone(i)` is the zone of the
    /// selected column `i` if it is read as wall time in that zone.
    pub fn new(
        d: Dialect,
        selected: &[String],
        cursor: &[String],
        wall_zone: impl Fn(usize) -> Option<Zone>,
    ) -> Result<Self> {
        let columns = cursor
            .iter()
            .map(|name| {
                selected.iter().position(|n| n == name).ok_or_else(|| {
                    anyhow!("incremental column {name:?} is not among the selected columns")
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Cursor {
            wall_zones: columns.iter().map(|i| wall_zone(*i)).collect(),
            columns,
            wall_format: match d {
                Dialect::Postgres | Dialect::Bigquery | Dialect::Snowflake => {
                    "%Y-%m-%dT%H:%M:%S%.6f"
                }
                // MySQL's DATETIME literal.
                Dialect::Mysql => "%Y-%m-%d %H:%M:%S%.6f",
            },
        })
    }

    /// Sends `batch` down the pipeline, first moving `last_record` to its last row (when
    /// the read is incremental): `last_record` always names the last row handed over.
    pub async fn send_batch(
        &self,
        tx: &Sender<RecordBatch>,
        batch: RecordBatch,
        last_record: &mut Option<Vec<serde_json::Value>>,
    ) -> Result<()> {
        if !self.columns.is_empty() {
            *last_record = Some(self.values(&batch)?);
        }
        tx.send(batch)
            .await
            .map_err(|_| anyhow!("the destination stopped"))
    }

    fn values(&self, batch: &RecordBatch) -> Result<Vec<serde_json::Value>> {
        let row = batch.num_rows() - 1;
        self.columns
            .iter()
            .zip(&self.wall_zones)
            .map(|(i, zone)| {
                Ok(match (ColumnView::of(batch, *i)?.get(row), zone) {
                    (Value::Null, _) => bail!(
                        "incremental column {:?} is NULL in the last row; cursor columns must not be NULL",
                        batch.schema().field(*i).name()
                    ),
                    (Value::Micros(m), Some(tz)) => {
                        let wall = instant_to_wall(m, *tz)?;
                        serde_json::Value::String(
                            types::micros_to_datetime(wall)
                                .expect("in range")
                                .format(self.wall_format)
                                .to_string(),
                        )
                    }
                    // Numbers stay numbers; decimal and JSON text stay text.
                    (v, _) => types::value_to_json(v, ColumnType::String),
                })
            })
            .collect()
    }
}

/// Embulk's `socket_timeout` of a database input (else the JDBC `socketTimeout` of a
/// `kind` driver): how long a read may wait for the server's next data (not counting time
/// the destination makes it wait). Default: 1800 s.
pub fn socket_timeout(c: &JdbcInput, kind: hakobu_core::config::DbKind) -> std::time::Duration {
    std::time::Duration::from_secs(c.socket_timeout_secs(kind))
}

/// Awaits `io` for at most `limit`, so a server or network that stopped answering fails
/// the run instead of hanging it.
pub async fn within<T>(
    limit: std::time::Duration,
    io: impl std::future::Future<Output = T>,
) -> Result<T> {
    tokio::time::timeout(limit, io).await.map_err(|_| {
        anyhow!(
            "the server sent nothing for {} s (socket_timeout)",
            limit.as_secs()
        )
    })
}

/// The query without the `;` (and blanks) it may end with.
fn without_final_semicolons(query: &str) -> &str {
    query.trim_end_matches(|c: char| c == ';' || c.is_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, TimestampMicrosecondArray};
    use serde_json::json;
    use std::sync::Arc;

    fn input(yaml: &str) -> JdbcInput {
        serde_norway::from_str(&format!("host: h\nuser: u\ndatabase: d\n{yaml}")).unwrap()
    }

    async fn plan(d: Dialect, c: &JdbcInput) -> Result<SourceQuery> {
        source_query(d, c, InputTable::of(d, c).as_ref(), async |_: &str| {
            Ok(vec!["id".to_owned()])
        })
        .await
    }

    #[tokio::test]
    async fn each_dialect_names_and_orders_its_table() {
        let c = input("table: t\nincremental: true\nlast_record: [7]");
        let pg = plan(Dialect::Postgres, &c).await.unwrap();
        assert_eq!(
            pg.sql,
            r#"SELECT * FROM "public"."t" WHERE ("id" > 7) ORDER BY "id""#
        );
        assert_eq!(pg.cursor, ["id"]);
        let my = plan(Dialect::Mysql, &c).await.unwrap();
        assert_eq!(my.sql, "SELECT * FROM `t` WHERE (`id` > 7) ORDER BY `id`");
    }

    #[tokio::test]
    async fn only_incremental_reads_have_a_cursor() {
        let c = input("table: t\nincremental_columns: [id]\norder_by: id DESC");
        for d in [Dialect::Postgres, Dialect::Mysql] {
            let q = plan(d, &c).await.unwrap();
            assert!(q.cursor.is_empty(), "{d:?}");
            assert!(q.sql.ends_with(" ORDER BY id DESC"), "{d:?}: {}", q.sql);
        }
        let c = input("query: SELECT 1\nincremental: true");
        let err = plan(Dialect::Mysql, &c).await.unwrap_err().to_string();
        assert!(err.starts_with("incremental_columns: required with query"));
    }

    #[tokio::test]
    async fn cursor_wall_times_are_written_as_each_server_reads_them() {
        let schema = types::schema(&[
            ("id".to_owned(), ColumnType::Long),
            ("at".to_owned(), ColumnType::Timestamp),
        ]);
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![0, 1_704_067_200_000_001])
                        .with_timezone("UTC"),
                ),
            ],
        )
        .unwrap();
        let names = ["id".to_owned(), "at".to_owned()];
        let cursor = ["at".to_owned(), "id".to_owned()];
        let tokyo: Zone = "Asia/Tokyo".parse().unwrap();
        for (d, at) in [
            (Dialect::Postgres, "2024-01-01T09:00:00.000001"),
            (Dialect::Mysql, "2024-01-01 09:00:00.000001"),
        ] {
            let c = Cursor::new(d, &names, &cursor, |i| (i == 1).then_some(tokyo)).unwrap();
            let (tx, mut rx) = tokio::sync::mpsc::channel(1);
            let mut last_record = None;
            c.send_batch(&tx, batch.clone(), &mut last_record)
                .await
                .unwrap();
            assert_eq!(last_record, Some(vec![json!(at), json!(2)]), "{d:?}");
            assert_eq!(rx.recv().await.unwrap().num_rows(), 2);
        }
        let missing = Cursor::new(Dialect::Postgres, &names, &["nope".to_owned()], |_| None);
        assert!(missing.is_err());
    }
}
