//! `in: {type: mysql}`: one streaming text-protocol query (rows are decoded as they
//! arrive, never buffered whole), or one per key range of the primary key when
//! `exec.max_threads` > 1.

use super::{connect, ensure_readable, primary_key, table_columns};
use crate::connectors::sql::input::{
    Cursor, InputTable, SourceQuery, key_ranges_possible, reads_whole_table, socket_timeout,
    source_query, within,
};
use crate::connectors::sql::objects::{Side, my_error};
use crate::connectors::sql::{Dialect, key_range_conditions, table_query};
use crate::shared::source::{Source, Task, TaskState};
use crate::shared::stats::Expected;
use crate::shared::time::wall_to_instant;
use crate::types::{self, BatchBuilder, Value, date_to_days};
use anyhow::{Context, Result, anyhow, bail};
use arrow_schema::SchemaRef;
use chrono::NaiveDate;
use futures::FutureExt;
use hakobu_core::config::{ColumnType, DbEndpoint, DbKind, JdbcInput, ValueType, ZeroDates};
use hakobu_core::zone::Zone;
use mysql_async::Conn;
use mysql_async::consts::{ColumnFlags, ColumnType as My};
use mysql_async::prelude::Queryable;
use std::time::Duration;

const D: Dialect = Dialect::Mysql;
const BINARY_CHARSET: u16 = 63;

/// The database a MySQL input reads.
pub fn endpoint(c: &JdbcInput) -> Result<DbEndpoint> {
    c.endpoint(DbKind::Mysql).map_err(|e| anyhow!("in.{e}"))
}

/// How a text-protocol value is decoded.
#[derive(Debug, Clone, Copy)]
enum Read {
    Bool,
    Long,
    Double,
    Text,
    Bytes,
    Date,
    /// DATETIME: wall time in this zone; TIMESTAMP: UTC (the session zone)
    Timestamp(Zone),
}

fn reader_for(
    col: &mysql_async::Column,
    tz: Zone,
    override_type: Option<ColumnType>,
) -> (Read, ColumnType) {
    if let Some(t) = override_type {
        let r = match t {
            ColumnType::Boolean => Read::Bool,
            ColumnType::Long => Read::Long,
            ColumnType::Double => Read::Double,
            ColumnType::Date => Read::Date,
            ColumnType::Timestamp => Read::Timestamp(tz),
            ColumnType::Bytes => Read::Bytes,
            ColumnType::String | ColumnType::Json | ColumnType::Decimal => Read::Text,
        };
        return (r, t);
    }
    let unsigned = col.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    match col.column_type() {
        // tinyint(1) is MySQL's boolean, as in Embulk (JDBC tinyInt1isBit).
        My::MYSQL_TYPE_TINY if col.column_length() == 1 => (Read::Bool, ColumnType::Boolean),
        My::MYSQL_TYPE_LONGLONG if unsigned => (Read::Text, ColumnType::Decimal),
        My::MYSQL_TYPE_TINY
        | My::MYSQL_TYPE_SHORT
        | My::MYSQL_TYPE_INT24
        | My::MYSQL_TYPE_LONG
        | My::MYSQL_TYPE_LONGLONG
        | My::MYSQL_TYPE_YEAR => (Read::Long, ColumnType::Long),
        My::MYSQL_TYPE_FLOAT | My::MYSQL_TYPE_DOUBLE => (Read::Double, ColumnType::Double),
        My::MYSQL_TYPE_DECIMAL | My::MYSQL_TYPE_NEWDECIMAL => (Read::Text, ColumnType::Decimal),
        My::MYSQL_TYPE_DATE | My::MYSQL_TYPE_NEWDATE => (Read::Date, ColumnType::Date),
        My::MYSQL_TYPE_DATETIME | My::MYSQL_TYPE_DATETIME2 => {
            (Read::Timestamp(tz), ColumnType::Timestamp)
        }
        My::MYSQL_TYPE_TIMESTAMP | My::MYSQL_TYPE_TIMESTAMP2 => {
            (Read::Timestamp(Zone::UTC), ColumnType::Timestamp)
        }
        My::MYSQL_TYPE_JSON => (Read::Text, ColumnType::Json),
        My::MYSQL_TYPE_TINY_BLOB
        | My::MYSQL_TYPE_MEDIUM_BLOB
        | My::MYSQL_TYPE_LONG_BLOB
        | My::MYSQL_TYPE_BLOB
        | My::MYSQL_TYPE_VAR_STRING
        | My::MYSQL_TYPE_STRING
        | My::MYSQL_TYPE_VARCHAR
            if col.character_set() == BINARY_CHARSET =>
        {
            (Read::Bytes, ColumnType::Bytes)
        }
        My::MYSQL_TYPE_GEOMETRY | My::MYSQL_TYPE_BIT => (Read::Bytes, ColumnType::Bytes),
        _ => (Read::Text, ColumnType::String),
    }
}

/// The `CAST(.. AS <type>)` of a column for `value_type`, or `None` when the column is
/// already read that way, or the kind has no MySQL cast (`boolean` and `json` are decoded
/// from the text the server sends: MySQL has no boolean type, and MariaDB's JSON is text).
fn value_cast(v: ValueType, col: &mysql_async::Column) -> Option<&'static str> {
    let t = col.column_type();
    let integer = matches!(
        t,
        My::MYSQL_TYPE_TINY
            | My::MYSQL_TYPE_SHORT
            | My::MYSQL_TYPE_INT24
            | My::MYSQL_TYPE_LONG
            | My::MYSQL_TYPE_LONGLONG
            | My::MYSQL_TYPE_YEAR
    );
    let native = reader_for(col, Zone::UTC, None).1;
    match v {
        ValueType::Coalesce | ValueType::Boolean | ValueType::Json => None,
        ValueType::Long => (!integer).then_some("SIGNED"),
        ValueType::Float | ValueType::Double => {
            (!matches!(t, My::MYSQL_TYPE_FLOAT | My::MYSQL_TYPE_DOUBLE)).then_some("DOUBLE")
        }
        // Integers and decimals already arrive as exact decimal text.
        ValueType::Decimal => (!integer
            && !matches!(t, My::MYSQL_TYPE_DECIMAL | My::MYSQL_TYPE_NEWDECIMAL))
        .then_some("DECIMAL(65,30)"),
        ValueType::String => (native != ColumnType::String).then_some("CHAR"),
        ValueType::Date => (native != ColumnType::Date).then_some("DATE"),
        ValueType::Time => {
            (t != My::MYSQL_TYPE_TIME && t != My::MYSQL_TYPE_TIME2).then_some("TIME")
        }
        // A TIMESTAMP or DATETIME column keeps its own reading (TIMESTAMP is UTC).
        ValueType::Timestamp => (native != ColumnType::Timestamp).then_some("DATETIME(6)"),
    }
}

/// Parses `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` as µs since the epoch of a UTC wall clock.
fn parse_wall(s: &[u8]) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        s.get(r)?.iter().try_fold(0u32, |a, b| {
            b.is_ascii_digit().then(|| a * 10 + (b - b'0') as u32)
        })
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let (h, m, sec) = if s.len() >= 19 {
        (num(11..13)?, num(14..16)?, num(17..19)?)
    } else {
        (0, 0, 0)
    };
    let mut micros = 0u32;
    if s.len() > 20 {
        let frac = &s[20..];
        for i in 0..6 {
            micros = micros * 10 + frac.get(i).map(|b| (b - b'0') as u32).unwrap_or(0);
        }
    }
    let t = date.and_hms_micro_opt(h, m, sec, micros)?;
    Some(t.and_utc().timestamp_micros())
}

/// A TIME value (`HH:MM:SS[.ffffff]`) read as a timestamp: that time on 1970-01-01, as
/// Connector/J's `getTimestamp` gives it (Embulk's `column_options: {type: timestamp}` on a
/// TIME column). Negative times and times past 24:00 have no such instant.
fn parse_time_of_day(s: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(s).ok()?;
    let time = chrono::NaiveTime::parse_from_str(text, "%H:%M:%S%.f").ok()?;
    Some(
        NaiveDate::from_ymd_opt(1970, 1, 1)?
            .and_time(time)
            .and_utc()
            .timestamp_micros(),
    )
}

fn decode(r: Read, v: &[u8], zero_dates: ZeroDates, col: &mut types::ColumnBuilder) -> Result<()> {
    let text = || std::str::from_utf8(v).map_err(|_| anyhow!("value is not UTF-8"));
    // Zero dates ('0000-00-00') become NULL by default, as with Connector/J's
    // convertToNull; `zeroDateTimeBehavior` asks for a failure or the earliest date.
    let zero = v.starts_with(b"0000-00-00") && matches!(r, Read::Date | Read::Timestamp(_));
    if zero {
        match zero_dates {
            ZeroDates::Null => return col.append(Value::Null),
            ZeroDates::Fail => bail!(
                "{:?} is a zero date (options.zeroDateTimeBehavior: exception)",
                text()?
            ),
            ZeroDates::Round => {
                let earliest = chrono::NaiveDate::from_ymd_opt(1, 1, 1).expect("valid");
                return col.append(match r {
                    Read::Date => Value::Days(date_to_days(earliest)),
                    _ => Value::Micros(
                        earliest
                            .and_hms_opt(0, 0, 0)
                            .expect("valid")
                            .and_utc()
                            .timestamp_micros(),
                    ),
                });
            }
        }
    }
    let value = match r {
        Read::Bool => Value::Bool(v != b"0"),
        Read::Long => Value::Long(
            text()?
                .parse()
                .map_err(|_| anyhow!("{:?} is not an integer", text()))?,
        ),
        Read::Double => Value::Double(
            text()?
                .parse()
                .map_err(|_| anyhow!("{:?} is not a number", text()))?,
        ),
        Read::Text => Value::Str(text()?),
        Read::Bytes => Value::Bytes(v),
        Read::Date => {
            let wall = parse_wall(v).ok_or_else(|| anyhow!("{:?} is not a date", text()))?;
            Value::Days(date_to_days(
                chrono::DateTime::from_timestamp_micros(wall)
                    .expect("valid")
                    .date_naive(),
            ))
        }
        Read::Timestamp(tz) => {
            let wall = parse_wall(v)
                .or_else(|| parse_time_of_day(v))
                .ok_or_else(|| anyhow!("{:?} is not a datetime", text()))?;
            Value::Micros(if tz == Zone::UTC {
                wall
            } else {
                wall_to_instant(wall, tz)?
            })
        }
    };
    col.append(value)
}

/// Opens the source: runs `before_setup`, describes the query, and plans one streaming
/// task, or `parallel` tasks over key ranges (see [`key_ranges`]).
pub async fn open(c: &JdbcInput, parallel: usize) -> Result<Source> {
    let mut conn = connect(&endpoint(c)?, c.connect_timeout_secs(DbKind::Mysql)).await?;
    if let Some(sql) = &c.before_setup {
        conn.query_drop(sql).await.context("before_setup")?;
    }
    if let Some(sql) = &c.before_select {
        conn.query_drop(sql).await.context("before_select")?;
    }
    let default_tz: Zone = c
        .zoneless_timezone(DbKind::Mysql)
        .parse()
        .map_err(|_| anyhow!("default_timezone: unknown zone"))?;
    let incremental = c.incremental.unwrap_or(false);
    let table = InputTable::of(D, c);
    // A missing or closed table is said as such before anything is looked up in it (a
    // renamed table would otherwise surface as "has no primary key").
    if let Some(t) = &table {
        ensure_readable(&mut conn, &t.quoted, Side::Source).await?;
    }
    let object = table
        .as_ref()
        .map_or_else(|| "the query".to_owned(), |t| t.name.clone());
    let SourceQuery { sql, cursor } = source_query(D, c, table.as_ref(), async |t: &str| {
        primary_key(&mut conn, t).await
    })
    .await?;
    let stmt = conn
        .prep(&sql)
        .await
        .map_err(|e| my_error(e, Side::Source, &object, || format!("query failed: {sql}")))?;
    // `value_type` converts a column in the select list (Embulk reads it with that
    // getter); the query is then wrapped and described again, so each column is decoded
    // by what the server says the converted value is.
    let mut select = Vec::new();
    let mut needs_wrap = false;
    for col in stmt.columns().iter() {
        let name = col.name_str().into_owned();
        let value_type = c.column_options.get(&name).and_then(|o| o.value_type);
        match value_type.and_then(|v| value_cast(v, col)) {
            Some(to) => {
                needs_wrap = true;
                select.push(format!("CAST({0} AS {to}) AS {0}", D.ident(&name)));
            }
            None => select.push(D.ident(&name)),
        }
    }
    conn.close(stmt).await?;
    let order = if incremental {
        Some(D.column_list(&cursor))
    } else if c.query.is_none() {
        c.order_by.clone()
    } else {
        None
    };
    // MariaDB does not keep the order of a derived table: the order is applied outside.
    let wrap = move |sql: &str, ordered: bool| -> String {
        if !needs_wrap {
            return sql.to_owned();
        }
        let mut wrapped = format!("SELECT {} FROM ({sql}) AS hakobu_src", select.join(", "));
        if let (true, Some(o)) = (ordered, &order) {
            wrapped.push_str(" ORDER BY ");
            wrapped.push_str(o);
        }
        wrapped
    };
    let sql = wrap(&sql, true);
    let stmt = conn
        .prep(&sql)
        .await
        .map_err(|e| my_error(e, Side::Source, &object, || format!("query failed: {sql}")))?;
    let mut readers = Vec::new();
    let mut columns = Vec::new();
    for col in stmt.columns().iter() {
        let name = col.name_str().into_owned();
        let opt = c.column_options.get(&name);
        let tz = match opt.and_then(|o| o.timezone.as_deref()) {
            Some(z) => z
                .parse()
                .map_err(|_| anyhow!("column_options.{name}.timezone: unknown zone"))?,
            None => default_tz,
        };
        // Kinds without a cast of their own (boolean, json, decimal of an integer) are
        // decoded as that kind from the text the server sends.
        let native = reader_for(col, tz, None);
        let override_type = opt.and_then(|o| o.type_).or_else(|| {
            opt.and_then(|o| o.value_type)
                .and_then(|v| v.column_type())
                .filter(|t| *t != native.1)
        });
        let (r, t) = match override_type {
            Some(t) => reader_for(col, tz, Some(t)),
            None => native,
        };
        readers.push(r);
        columns.push((name, t));
    }
    conn.close(stmt).await?;
    let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
    // DATETIME (and TIMESTAMP, read in UTC): the cursor keeps the wall time the server
    // compares.
    let cursor = Cursor::new(D, &names, &cursor, |i| match readers[i] {
        Read::Timestamp(tz) => Some(tz),
        _ => None,
    })?;
    let schema = types::schema(&columns);
    let reading = Reading {
        readers,
        names,
        schema: schema.clone(),
        cursor,
        after_select: c.after_select.clone(),
        socket_timeout: socket_timeout(c, DbKind::Mysql),
        zero_dates: c
            .driver_options(DbKind::Mysql)
            .map_err(|e| anyhow!("{e}"))?
            .zero_dates,
    };
    let expected = Expected {
        rows: match &table {
            Some(t) if reads_whole_table(c) => row_statistics(&mut conn, &t.name).await,
            _ => None,
        },
        bytes: None,
    };
    let tasks = match key_ranges(&mut conn, c, parallel).await? {
        Some(ranges) => {
            // The describing session has done its part; each range has its own.
            let _ = conn.disconnect().await;
            ranges
                .into_iter()
                .map(|(session, sql)| reading.clone().task(session, wrap(&sql, false)))
                .collect()
        }
        None => vec![reading.task(conn, sql)],
    };
    Ok(Source {
        schema,
        tasks,
        expected,
    })
}

/// The table's row count from the server's statistics (`information_schema.tables`:
/// InnoDB's estimate, often off by a third), for progress; `None` when it cannot be read.
async fn row_statistics(conn: &mut Conn, table: &str) -> Option<u64> {
    conn.exec_first::<Option<u64>, _, _>(
        "SELECT table_rows FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = ?",
        (table,),
    )
    .await
    .ok()
    .flatten()
    .flatten()
}

/// For a plain table read with `parallel` > 1 of an InnoDB table whose primary key is one
/// integer column: one session per key range ([`key_range_conditions`]), each in a
/// consistent snapshot, with the SELECT of its range.
///
/// MySQL sessions cannot share a snapshot as PostgreSQL's can. So, as mydumper does, the
/// snapshots are started while `conn` holds a read lock on the table: no write to it can
/// commit in between, so every range sees the same rows a single read would. (mydumper
/// takes `FLUSH TABLES WITH READ LOCK`, which needs the RELOAD privilege; `LOCK TABLES`
/// needs only LOCK TABLES and SELECT on the table.) Without the lock (no privilege, or a
/// long write transaction holding the table past [`LOCK_WAIT_SECONDS`]) the table is read
/// by one query, as without `max_threads`.
async fn key_ranges(
    conn: &mut Conn,
    c: &JdbcInput,
    parallel: usize,
) -> Result<Option<Vec<(Conn, String)>>> {
    let Some(InputTable {
        name: table,
        quoted: qualified,
    }) = InputTable::of(D, c).filter(|_| key_ranges_possible(c, parallel))
    else {
        return Ok(None);
    };
    let table = table.as_str();
    let key = match primary_key(conn, table).await?.as_slice() {
        [one] => one.clone(),
        _ => return Ok(None),
    };
    let integer = table_columns(conn, table)
        .await?
        .iter()
        .any(|(name, data_type)| {
            *name == key
                && matches!(
                    data_type.to_ascii_lowercase().as_str(),
                    "tinyint" | "smallint" | "mediumint" | "int" | "bigint"
                )
        });
    // Consistent snapshots are InnoDB's; other engines (MyISAM, Aria) are read in one query.
    let engine: Option<Option<String>> = conn
        .exec_first(
            "SELECT engine FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
            (table,),
        )
        .await
        .with_context(|| format!("cannot read the storage engine of {table}"))?;
    let innodb = engine
        .flatten()
        .is_some_and(|e| e.eq_ignore_ascii_case("InnoDB"));
    if !integer || !innodb {
        return Ok(None);
    }
    let k = D.ident(&key);
    // As text, so BIGINT UNSIGNED keys above i64 come through exactly.
    let bounds_sql = table_query(
        &qualified,
        Some(&format!("CAST(MIN({k}) AS CHAR), CAST(MAX({k}) AS CHAR)")),
        c.where_.as_deref(),
        None,
        None,
    );
    let bounds: Option<(Option<String>, Option<String>)> = conn
        .query_first(bounds_sql)
        .await
        .context("reading the key range")?;
    let Some((Some(min), Some(max))) = bounds else {
        return Ok(None);
    };
    let parse = |v: &str| {
        v.parse::<i128>()
            .with_context(|| format!("the key range of {table}: {v:?} is not an integer"))
    };
    // The bounds only balance the ranges: the first and last range are open-ended, so rows
    // written before the snapshot outside min..max are still read, exactly once.
    let Some(conds) = key_range_conditions(&k, parse(&min)?, parse(&max)?, parallel) else {
        return Ok(None);
    };

    conn.query_drop(format!(
        "SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}"
    ))
    .await
    .context("setting lock_wait_timeout")?;
    let locked = conn
        .query_drop(format!("LOCK TABLES {qualified} READ"))
        .await;
    conn.query_drop("SET SESSION lock_wait_timeout = DEFAULT")
        .await
        .context("resetting lock_wait_timeout")?;
    if let Err(e) = locked {
        tracing::info!("reading {table} in one query: cannot lock it for a parallel read: {e}");
        return Ok(None);
    }
    let sessions = futures::future::join_all(conds.iter().map(|_| range_session(c))).await;
    // Unlock before looking at the outcome, so a failed session never leaves the lock held.
    let unlocked = conn.query_drop("UNLOCK TABLES").await;
    let sessions = sessions.into_iter().collect::<Result<Vec<_>>>()?;
    unlocked.context("unlocking the table after starting the parallel read")?;
    tracing::debug!(ranges = conds.len(), "reading {table} in key ranges");
    Ok(Some(
        sessions
            .into_iter()
            .zip(conds)
            .map(|(session, cond)| {
                let sql = table_query(
                    &qualified,
                    c.select.as_deref(),
                    c.where_.as_deref(),
                    Some(cond),
                    None,
                );
                (session, sql)
            })
            .collect(),
    ))
}

/// How long the parallel read waits for write transactions on the table to end before it
/// reads the table in one query instead.
const LOCK_WAIT_SECONDS: u32 = 10;

/// A session for one key range: `before_select`, then a read-only consistent snapshot.
async fn range_session(c: &JdbcInput) -> Result<Conn> {
    let mut session = connect(&endpoint(c)?, c.connect_timeout_secs(DbKind::Mysql)).await?;
    if let Some(sql) = &c.before_select {
        session.query_drop(sql).await.context("before_select")?;
    }
    session
        .query_drop("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .await
        .context("starting the snapshot of the parallel read")?;
    session
        .query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .await
        .context("starting the snapshot of the parallel read")?;
    Ok(session)
}

/// How rows of one query are decoded; shared by its key-range tasks.
#[derive(Clone)]
struct Reading {
    readers: Vec<Read>,
    names: Vec<String>,
    schema: SchemaRef,
    cursor: Cursor,
    after_select: Option<String>,
    socket_timeout: Duration,
    zero_dates: ZeroDates,
}

impl Reading {
    /// Streams the rows of `sql` on `conn`, then runs `after_select` there.
    fn task(self, mut conn: Conn, sql: String) -> Task {
        Box::new(move |tx, stats| {
            async move {
                let Reading {
                    readers,
                    names,
                    schema,
                    cursor,
                    after_select,
                    socket_timeout,
                    zero_dates,
                } = self;
                let mut result = within(socket_timeout, conn.query_iter(sql))
                    .await?
                    .map_err(|e| {
                        my_error(e, Side::Source, "the query", || "query failed".to_owned())
                    })?;
                let mut builder = BatchBuilder::new(schema);
                let mut last_record = None;
                let mut bytes = 0u64;
                while let Some(row) = within(socket_timeout, result.next())
                    .await?
                    .context("reading rows failed")?
                {
                    let mut row_bytes = 0;
                    for (i, (r, col)) in
                        readers.iter().zip(builder.columns().iter_mut()).enumerate()
                    {
                        match row.as_ref(i) {
                            Some(mysql_async::Value::Bytes(v)) => {
                                row_bytes += v.len();
                                decode(*r, v, zero_dates, col)
                                    .with_context(|| format!("column {:?}", names[i]))?
                            }
                            Some(mysql_async::Value::NULL) | None => col.append_null(),
                            Some(other) => {
                                bail!("column {:?}: unexpected binary value {other:?}", names[i])
                            }
                        }
                    }
                    builder.end_row();
                    bytes += row_bytes as u64;
                    if builder.is_full() {
                        stats.add_read(builder.len() as u64, bytes);
                        bytes = 0;
                        cursor
                            .send_batch(&tx, builder.finish()?, &mut last_record)
                            .await?;
                    }
                }
                drop(result);
                if !builder.is_empty() {
                    stats.add_read(builder.len() as u64, bytes);
                    cursor
                        .send_batch(&tx, builder.finish()?, &mut last_record)
                        .await?;
                }
                if let Some(sql) = after_select {
                    conn.query_drop(sql).await.context("after_select")?;
                }
                let _ = conn.disconnect().await;
                Ok(TaskState {
                    last_record,
                    last_path: None,
                })
            }
            .boxed()
        })
    }
}
