//! `in: {type: postgresql}`: one `COPY (SELECT ...) TO STDOUT (FORMAT binary)` per run.

use super::copy::{CopyDecoder, PgRead, instant_to_wall};
use super::{PgConn, connect, primary_key};
use crate::connectors::sql::{Dialect, table_query};
use crate::connectors::{Source, Task, TaskState};
use crate::types::{self, BatchBuilder, ColumnView, Value};
use anyhow::{Context, Result, anyhow, bail};
use chrono_tz::Tz;
use futures::{FutureExt, StreamExt};
use hakobu_core::config::{ColumnType, JdbcInput};

const D: Dialect = Dialect::Postgres;

/// The connection settings of a PostgreSQL input.
pub fn conn(c: &JdbcInput) -> PgConn<'_> {
    PgConn {
        host: &c.host,
        port: c.port,
        user: &c.user,
        password: c.password.as_ref().map(|p| p.expose()),
        database: &c.database,
        ssl: c.ssl.unwrap_or(false),
        connect_timeout: c.connect_timeout,
    }
}

fn parse_tz(tz: Option<&str>) -> Result<Tz> {
    tz.unwrap_or("UTC")
        .parse()
        .map_err(|_| anyhow!("unknown time zone {tz:?}"))
}

/// The SQL that reads the rows, and the cursor columns when incremental.
pub(crate) async fn build_query(
    client: &tokio_postgres::Client,
    c: &JdbcInput,
) -> Result<(String, Vec<String>)> {
    let incremental = c.incremental.unwrap_or(false);
    let qualified = c
        .table
        .as_deref()
        .map(|t| D.qualified(Some(c.schema.as_deref().unwrap_or("public")), t));
    let mut cursor = c.incremental_columns.clone();
    if incremental && cursor.is_empty() {
        let Some(q) = &qualified else {
            bail!(
                "incremental_columns: required with query (there is no table to take the primary key from)"
            );
        };
        cursor = primary_key(client, q).await?;
        if cursor.is_empty() {
            bail!("incremental_columns: table {q} has no primary key; list the cursor columns");
        }
    }
    let sql = match (&c.query, &qualified) {
        (Some(q), _) if incremental => match &c.last_record {
            Some(last) => D.fill_placeholders(q, &cursor, last).context("query")?,
            None => bail!(
                "last_record: required with use_raw_query_with_incremental (the first value to read after)"
            ),
        },
        (Some(q), _) => q.clone(),
        (None, Some(t)) => {
            let cond = match (&c.last_record, incremental) {
                (Some(last), true) => {
                    Some(D.after_last_record(&cursor, last).context("last_record")?)
                }
                _ => None,
            };
            let order = if incremental {
                Some(D.order_by(&cursor))
            } else {
                c.order_by.clone()
            };
            table_query(t, c.select.as_deref(), c.where_.as_deref(), cond, order)
        }
        (None, None) => bail!("table: either table or query is required"),
    };
    Ok((sql, if incremental { cursor } else { Vec::new() }))
}

/// How a cursor value is written into `last_record`.
#[derive(Clone, Copy)]
enum CursorFormat {
    Plain,
    /// timestamp without time zone: the wall time, as the server prints it
    Wall(Tz),
}

/// Opens the source: runs `before_setup`, describes the query, plans one COPY task.
pub async fn open(c: &JdbcInput) -> Result<Source> {
    let client = connect(&conn(c)).await?;
    if let Some(sql) = &c.before_setup {
        client.batch_execute(sql).await.context("before_setup")?;
    }
    if let Some(sql) = &c.before_select {
        client.batch_execute(sql).await.context("before_select")?;
    }
    let default_tz = parse_tz(c.default_timezone.as_deref())?;
    let (sql, cursor) = build_query(&client, c).await?;
    let stmt = client
        .prepare(&sql)
        .await
        .with_context(|| format!("query failed: {sql}"))?;

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
        let typname = col.type_().name();
        let cast = match opt.and_then(|o| o.type_) {
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
                select.push(format!("{}::{sql_type}", D.ident(&name)));
                match as_type {
                    "numeric" => (PgRead::Text, ColumnType::Decimal),
                    other => PgRead::for_type(other, tz).expect("cast targets are decodable"),
                }
            }
            None => {
                select.push(D.ident(&name));
                PgRead::for_type(typname, tz).expect("checked above")
            }
        };
        readers.push(reader);
        columns.push((
            name,
            t,
            if typname == "timestamp" {
                CursorFormat::Wall(tz)
            } else {
                CursorFormat::Plain
            },
        ));
    }

    let mut seen = std::collections::HashSet::new();
    for (name, ..) in &columns {
        if !seen.insert(name) {
            bail!("the query returns two columns named {name:?}; give one an alias");
        }
    }
    let cursor_idx = cursor
        .iter()
        .map(|name| {
            columns.iter().position(|(n, ..)| n == name).ok_or_else(|| {
                anyhow!("incremental column {name:?} is not among the selected columns")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let cursor_fmt: Vec<CursorFormat> = cursor_idx.iter().map(|i| columns[*i].2).collect();

    let copy_sql = if needs_wrap {
        let order = if cursor.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", D.order_by(&cursor))
        };
        format!(
            "COPY (SELECT {} FROM ({sql}) AS hakobu_src{order}) TO STDOUT (FORMAT binary)",
            select.join(", ")
        )
    } else {
        format!("COPY ({sql}) TO STDOUT (FORMAT binary)")
    };
    let schema = types::schema(
        &columns
            .iter()
            .map(|(n, t, _)| (n.clone(), *t))
            .collect::<Vec<_>>(),
    );
    let names: Vec<String> = columns.iter().map(|(n, ..)| n.clone()).collect();
    let after_select = c.after_select.clone();
    let task_schema = schema.clone();
    let task: Task = Box::new(move |tx, stats| {
        async move {
            let stream = client
                .copy_out(copy_sql.as_str())
                .await
                .context("COPY out failed")?;
            let mut stream = std::pin::pin!(stream);
            let mut decoder = CopyDecoder::new(readers, names);
            let mut builder = BatchBuilder::new(task_schema);
            let mut last_record = None;
            let mut bytes = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.context("reading rows failed")?;
                bytes += chunk.len() as u64;
                let rows = decoder.feed(&chunk, &mut builder)?;
                stats.add_read(rows as u64, chunk.len() as u64);
                if builder.is_full() {
                    let batch = builder.finish()?;
                    if !cursor_idx.is_empty() {
                        last_record = Some(cursor_values(&batch, &cursor_idx, &cursor_fmt)?);
                    }
                    tx.send(batch)
                        .await
                        .map_err(|_| anyhow!("the destination stopped"))?;
                }
            }
            if !builder.is_empty() {
                let batch = builder.finish()?;
                if !cursor_idx.is_empty() {
                    last_record = Some(cursor_values(&batch, &cursor_idx, &cursor_fmt)?);
                }
                tx.send(batch)
                    .await
                    .map_err(|_| anyhow!("the destination stopped"))?;
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
    });
    Ok(Source {
        schema,
        tasks: vec![task],
    })
}

fn cursor_values(
    batch: &arrow_array::RecordBatch,
    idx: &[usize],
    fmt: &[CursorFormat],
) -> Result<Vec<serde_json::Value>> {
    let row = batch.num_rows() - 1;
    idx.iter()
        .zip(fmt)
        .map(|(i, f)| {
            let v = ColumnView::of(batch, *i)?.get(row);
            Ok(match (f, v) {
                (_, Value::Null) => bail!("incremental column {:?} is NULL in the last row; cursor columns must not be NULL", batch.schema().field(*i).name()),
                (CursorFormat::Wall(tz), Value::Micros(m)) => {
                    let wall = instant_to_wall(m, *tz)?;
                    serde_json::Value::String(
                        types::micros_to_datetime(wall).expect("in range").format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
                    )
                }
                // Numbers stay numbers; decimal and JSON text stay text.
                (_, v) => types::value_to_json(v, ColumnType::String),
            })
        })
        .collect()
}
