//! `in: {type: postgresql}`: one `COPY (SELECT ...) TO STDOUT (FORMAT binary)` per run,
//! or one per key range of the primary key when `exec.max_threads` > 1.

use super::copy::{CopyDecoder, PgRead};
use super::{connect, ensure_readable, primary_key, table_columns};
use crate::connectors::sql::input::{
    Cursor, InputTable, SourceQuery, key_ranges_possible, reads_whole_table, socket_timeout,
    source_query, within,
};
use crate::connectors::sql::objects::{Side, pg_error};
use crate::connectors::sql::{Dialect, key_range_conditions, table_query};
use crate::shared::source::{Source, Task, TaskState};
use crate::shared::stats::Expected;
use crate::types::{self, BatchBuilder};
use anyhow::{Context, Result, anyhow, bail};
use arrow_schema::SchemaRef;
use futures::{FutureExt, StreamExt};
use hakobu_core::config::{ColumnType, DbEndpoint, DbKind, JdbcInput, ValueType};
use hakobu_core::zone::Zone;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::Client;

const D: Dialect = Dialect::Postgres;

/// The database a PostgreSQL input reads.
pub fn endpoint(c: &JdbcInput) -> Result<DbEndpoint> {
    c.endpoint(DbKind::Postgresql)
        .map_err(|e| anyhow!("in.{e}"))
}

fn parse_tz(tz: Option<&str>) -> Result<Zone> {
    tz.unwrap_or("UTC")
        .parse()
        .map_err(|_| anyhow!("unknown time zone {tz:?}"))
}

/// Opens the source: runs `before_setup`, describes the query, and plans one COPY task,
/// or `parallel` tasks over key ranges (see [`key_ranges`]).
pub async fn open(c: &JdbcInput, parallel: usize) -> Result<Source> {
    let client = connect(&endpoint(c)?, c.connect_timeout_secs(DbKind::Postgresql)).await?;
    if let Some(sql) = &c.before_setup {
        client.batch_execute(sql).await.context("before_setup")?;
    }
    if let Some(sql) = &c.before_select {
        client.batch_execute(sql).await.context("before_select")?;
    }
    let default_tz = parse_tz(c.default_timezone.as_deref())?;
    let table = InputTable::of(D, c);
    // A missing or closed table is said as such before anything is looked up in it (a
    // renamed table would otherwise surface as "has no primary key").
    if table.is_some() {
        let schema = c.schema.as_deref().unwrap_or("public");
        ensure_readable(
            &client,
            schema,
            c.table.as_deref().unwrap_or_default(),
            Side::Source,
        )
        .await?;
    }
    let object = table
        .as_ref()
        .map_or_else(|| "the query".to_owned(), |t| t.name.clone());
    let SourceQuery {
        sql,
        cursor: cursor_columns,
    } = source_query(D, c, table.as_ref(), async |t: &str| {
        primary_key(&client, t).await
    })
    .await?;
    let stmt = client
        .prepare(&sql)
        .await
        .map_err(|e| pg_error(e, Side::Source, &object, || format!("query failed: {sql}")))?;

    // Columns without a binary decoder, or with a `type:` override, are cast in SQL: the
    // server converts them exactly and the reader only ever sees types it knows.
    let mut select = Vec::new();
    let mut readers = Vec::new();
    let mut columns = Vec::new();
    let mut needs_wrap = false;
    for col in stmt.columns() {
        let name = col.name().to_owned();
        let opt = c.column_options.get(&name);
        let tz = match opt.and_then(|o| o.timezone.as_deref()) {
            Some(z) => parse_tz(Some(z))?,
            None => default_tz,
        };
        // `value_type` converts the column first (Embulk reads it with that getter), and
        // `type`, when given, converts what that read gives.
        let value_type = opt.and_then(|o| o.value_type);
        let (expr, typname) = match value_type.and_then(|v| value_cast(v, col.type_().name())) {
            Some(sql_type) => {
                needs_wrap = true;
                (format!("{}::{sql_type}", D.ident(&name)), sql_type)
            }
            None => (D.ident(&name), col.type_().name()),
        };
        let override_type = opt
            .and_then(|o| o.type_)
            .or_else(|| value_type.and_then(|v| v.column_type()));
        let cast = match override_type {
            Some(ColumnType::String) if !matches!(typname, "text" | "varchar" | "bpchar") => {
                Some(("text", "text"))
            }
            Some(ColumnType::Json) if !matches!(typname, "json" | "jsonb") => {
                Some(("json", "json"))
            }
            Some(ColumnType::Decimal) => Some(("numeric::text", "numeric")),
            Some(ColumnType::Long) if typname != "int8" => Some(("int8", "int8")),
            Some(ColumnType::Double) if typname != "float8" => Some(("float8", "float8")),
            Some(ColumnType::Boolean) if typname != "bool" => Some(("bool", "bool")),
            Some(ColumnType::Date) if typname != "date" => Some(("date", "date")),
            Some(ColumnType::Timestamp) if !matches!(typname, "timestamp" | "timestamptz") => {
                Some(("timestamptz", "timestamptz"))
            }
            Some(ColumnType::Bytes) if typname != "bytea" => Some(("bytea", "bytea")),
            _ if typname == "numeric" => Some(("text", "numeric")),
            _ if PgRead::for_type(typname, tz).is_none() => Some(("text", "text")),
            _ => None,
        };
        let (reader, t) = match cast {
            Some((sql_type, as_type)) => {
                needs_wrap = true;
                select.push(format!("{expr}::{sql_type} AS {}", D.ident(&name)));
                match as_type {
                    "numeric" => (PgRead::Text, ColumnType::Decimal),
                    other => PgRead::for_type(other, tz).expect("cast targets are decodable"),
                }
            }
            None => {
                select.push(format!("{expr} AS {}", D.ident(&name)));
                PgRead::for_type(typname, tz).expect("checked above")
            }
        };
        readers.push(reader);
        // timestamp without time zone: the cursor keeps the wall time the server compares.
        columns.push((name, t, (typname == "timestamp").then_some(tz)));
    }

    let mut seen = std::collections::HashSet::new();
    for (name, ..) in &columns {
        if !seen.insert(name) {
            bail!("the query returns two columns named {name:?}; give one an alias");
        }
    }
    let names: Vec<String> = columns.iter().map(|(n, ..)| n.clone()).collect();
    let cursor = Cursor::new(D, &names, &cursor_columns, |i| columns[i].2)?;

    let copy_of = move |sql: &str| {
        if needs_wrap {
            let order = if cursor_columns.is_empty() {
                String::new()
            } else {
                format!(" ORDER BY {}", D.column_list(&cursor_columns))
            };
            format!(
                "COPY (SELECT {} FROM ({sql}) AS hakobu_src{order}) TO STDOUT (FORMAT binary)",
                select.join(", ")
            )
        } else {
            format!("COPY ({sql}) TO STDOUT (FORMAT binary)")
        }
    };
    let schema = types::schema(
        &columns
            .iter()
            .map(|(n, t, _)| (n.clone(), *t))
            .collect::<Vec<_>>(),
    );
    let reading = Reading {
        readers,
        names,
        schema: schema.clone(),
        cursor,
        after_select: c.after_select.clone(),
        socket_timeout: socket_timeout(c, DbKind::Postgresql),
    };
    let expected = Expected {
        rows: match &table {
            Some(t) if reads_whole_table(c) => row_statistics(&client, &t.quoted).await,
            _ => None,
        },
        bytes: None,
    };
    let tasks = match key_ranges(&client, c, parallel).await? {
        Some((snapshot, conds)) => {
            let holder = Arc::new(client);
            let qualified = table.expect("key ranges need a table").quoted;
            conds
                .into_iter()
                .map(|cond| {
                    let sql = table_query(
                        &qualified,
                        c.select.as_deref(),
                        c.where_.as_deref(),
                        Some(cond),
                        None,
                    );
                    let session = Session::Import {
                        input: Box::new(c.clone()),
                        snapshot: snapshot.clone(),
                        holder: holder.clone(),
                    };
                    reading.clone().task(session, copy_of(&sql))
                })
                .collect()
        }
        None => vec![reading.task(Session::Ready(client), copy_of(&sql))],
    };
    Ok(Source {
        schema,
        tasks,
        expected,
    })
}

/// The planner's row count of `table` (`pg_class.reltuples`), for progress; `None` when
/// the table was never analyzed (-1) or the catalog cannot be read.
async fn row_statistics(client: &tokio_postgres::Client, table: &str) -> Option<u64> {
    let row = client
        .query_opt(
            "SELECT reltuples::float8 FROM pg_class WHERE oid = to_regclass($1)",
            &[&table],
        )
        .await
        .ok()??;
    let rows: f64 = row.get(0);
    (rows >= 0.0).then_some(rows as u64)
}

/// The SQL type a column of type `typname` is cast to for `value_type`, or `None` when
/// it is already read that way. `time` has no reader: it is then cast on to text.
fn value_cast(v: ValueType, typname: &str) -> Option<&'static str> {
    let (to, already): (&'static str, &[&str]) = match v {
        ValueType::Coalesce => return None,
        ValueType::Long => ("int8", &["int8"]),
        ValueType::Float => ("float4", &["float4"]),
        ValueType::Double => ("float8", &["float8"]),
        ValueType::Decimal => ("numeric", &["numeric"]),
        ValueType::Boolean => ("bool", &["bool"]),
        ValueType::String => ("text", &["text", "varchar", "bpchar"]),
        ValueType::Json => ("json", &["json", "jsonb"]),
        ValueType::Date => ("date", &["date"]),
        ValueType::Time => ("time", &["time"]),
        // timestamptz, as `type: timestamp` casts: text with an offset keeps it.
        ValueType::Timestamp => ("timestamptz", &["timestamp", "timestamptz"]),
    };
    (!already.contains(&typname)).then_some(to)
}

/// For a plain table read with `parallel` > 1 and a one-column integer primary key: a
/// snapshot exported by `client` (so every range reads the same state of the table, as
/// `pg_dump -j` does) and one condition per key range ([`key_range_conditions`]).
async fn key_ranges(
    client: &Client,
    c: &JdbcInput,
    parallel: usize,
) -> Result<Option<(String, Vec<String>)>> {
    let Some(table) = InputTable::of(D, c).filter(|_| key_ranges_possible(c, parallel)) else {
        return Ok(None);
    };
    let qualified = table.quoted;
    let key = match primary_key(client, &qualified).await?.as_slice() {
        [one] => one.clone(),
        _ => return Ok(None),
    };
    let integer = table_columns(client, &qualified)
        .await?
        .iter()
        .any(|col| col.name == key && matches!(col.typname.as_str(), "int2" | "int4" | "int8"));
    if !integer {
        return Ok(None);
    }
    client
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .context("starting the snapshot for parallel reads")?;
    let snapshot: String = client
        .query_one("SELECT pg_export_snapshot()", &[])
        .await
        .context("exporting the snapshot for parallel reads")?
        .get(0);
    let k = D.ident(&key);
    let bounds_sql = table_query(
        &qualified,
        Some(&format!("min({k})::int8, max({k})::int8")),
        c.where_.as_deref(),
        None,
        None,
    );
    let row = client
        .query_one(bounds_sql.as_str(), &[])
        .await
        .context("reading the key range")?;
    let (Some(min), Some(max)) = (row.get::<_, Option<i64>>(0), row.get::<_, Option<i64>>(1))
    else {
        return Ok(None);
    };
    let Some(conds) = key_range_conditions(&k, min.into(), max.into(), parallel) else {
        return Ok(None);
    };
    tracing::debug!(ranges = conds.len(), "reading {qualified} in key ranges");
    Ok(Some((snapshot, conds)))
}

/// Where a read task gets its session.
enum Session {
    /// The session that described the query reads it.
    Ready(Client),
    /// A new session that imports the snapshot of `holder`; the holder's transaction (and
    /// so the snapshot) lives until every range has imported it and dropped its handle.
    Import {
        input: Box<JdbcInput>,
        snapshot: String,
        holder: Arc<Client>,
    },
}

/// How rows of one query are decoded; shared by its key-range tasks.
#[derive(Clone)]
struct Reading {
    readers: Vec<PgRead>,
    names: Vec<String>,
    schema: SchemaRef,
    cursor: Cursor,
    after_select: Option<String>,
    socket_timeout: Duration,
}

impl Reading {
    fn task(self, session: Session, copy_sql: String) -> Task {
        Box::new(move |tx, stats| {
            async move {
                let client = match session {
                    Session::Ready(client) => client,
                    Session::Import {
                        input,
                        snapshot,
                        holder,
                    } => {
                        let client = connect(&endpoint(&input)?, input.connect_timeout_secs(DbKind::Postgresql)).await?;
                        if let Some(sql) = &input.before_select {
                            client.batch_execute(sql).await.context("before_select")?;
                        }
                        client
                            .batch_execute(&format!(
                                "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot}'"
                            ))
                            .await
                            .context("joining the snapshot of the parallel read")?;
                        drop(holder);
                        client
                    }
                };
                let Reading {
                    readers,
                    names,
                    schema,
                    cursor,
                    after_select,
                    socket_timeout,
                } = self;
                let stream = within(socket_timeout, client.copy_out(copy_sql.as_str()))
                    .await?
                    .map_err(|e| pg_error(e, Side::Source, "the query", || "COPY out failed".to_owned()))?;
                let mut stream = std::pin::pin!(stream);
                let mut decoder = CopyDecoder::new(readers, names);
                let mut builder = BatchBuilder::new(schema);
                let mut last_record = None;
                let mut bytes = 0u64;
                while let Some(chunk) = within(socket_timeout, stream.next()).await? {
                    let chunk = chunk.context("reading rows failed")?;
                    bytes += chunk.len() as u64;
                    let rows = decoder.feed(&chunk, &mut builder)?;
                    stats.add_read(rows as u64, chunk.len() as u64);
                    if builder.is_full() {
                        cursor
                            .send_batch(&tx, builder.finish()?, &mut last_record)
                            .await?;
                    }
                }
                if !builder.is_empty() {
                    cursor
                        .send_batch(&tx, builder.finish()?, &mut last_record)
                        .await?;
                }
                if let Some(sql) = after_select {
                    client.batch_execute(&sql).await.context("after_select")?;
                }
                tracing::debug!(bytes, "postgres copy out finished");
                Ok(TaskState {
                    last_record,
                    last_path: None,
                })
            }
            .boxed()
        })
    }
}
