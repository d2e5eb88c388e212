//! Rows into MySQL / MariaDB through `LOAD DATA LOCAL INFILE`.
//!
//! Batches are encoded as LOAD DATA's escaped tab-separated text (`\N` is NULL; backslash,
//! tab, newline, carriage return and NUL are backslash-escaped, so an empty string stays
//! an empty string) and sent in chunks of [`MAX_CHUNK`] bytes, one `LOAD DATA` statement
//! each, through mysql_async's one-time infile handler (no file is involved: the server
//! asks for the "file" and gets the chunk). The writer lends the connection to a task for
//! each chunk, so the next chunk is encoded while the server stores the previous one; a
//! chunk's failure surfaces when the next one is sent or at commit. Binary columns travel as hex into a user
//! variable and are stored with `SET col = UNHEX(@var)`, so no byte is reinterpreted by
//! the `utf8mb4` character set the text is read in.
//!
//! `LOAD DATA LOCAL` behaves as `IGNORE`: a duplicate key or a value the column cannot
//! hold is a warning, not an error, even in strict mode (the server cannot stop the
//! client's stream). The INSERT path fails on those, so every chunk's warnings are read and
//! any warning (notes aside) fails the load; `insert_direct` loads each chunk in its own
//! transaction and rolls it back then, as a failed multi-row INSERT would be.

use crate::connectors::mysql::datetime_text;
use crate::connectors::sql::Dialect;
use crate::connectors::sql::objects::{Side, from_my};
use crate::types::{ColumnView, Value, column_type, days_to_date};
use anyhow::{Context, Result, anyhow, bail};
use arrow_schema::SchemaRef;
use bytes::Bytes;
use futures::StreamExt;
use hakobu_core::config::{ColumnType, Mode};
use hakobu_core::zone::Zone;
use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

const D: Dialect = Dialect::Mysql;

/// Bytes of text per LOAD DATA statement: as large as the INSERT path's statements, which
/// stays well under MariaDB's default 16 MiB max_allowed_packet.
pub(super) const MAX_CHUNK: usize = 4 << 20;
/// Size of the pieces a chunk is handed to the driver in (each becomes a protocol packet,
/// which the server must be able to hold).
const PIECE: usize = MAX_CHUNK;

/// MariaDB's "The used command is not allowed with this MariaDB version" (local_infile
/// off) and MySQL 8's "Loading local data is disabled".
const REFUSED: [u16; 2] = [1148, 3948];

/// `options.allowLoadLocalInfile` (Connector/J's name): `false` writes with INSERTs.
pub(super) fn allowed(options: &BTreeMap<String, String>) -> Result<bool> {
    match options.get("allowLoadLocalInfile").map(|v| v.trim()) {
        None => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => bail!("out.options.allowLoadLocalInfile: expected true or false, got {v:?}"),
    }
}

/// An open LOAD DATA load into one table.
pub(super) struct LoadData {
    /// The statement every chunk is sent with.
    sql: Arc<str>,
    /// Rows of the current chunk, encoded.
    buf: Vec<u8>,
    /// Whether each column is binary (sent as hex).
    hex: Vec<bool>,
    /// Each chunk in its own transaction (`insert_direct`: the target itself).
    pub(super) transaction: bool,
    rows_in_chunk: u64,
    rows_sent: u64,
}

impl LoadData {
    /// Prepares loading into `table` (already quoted), or `None` when INSERTs are to be
    /// used: `allowed` is false, or the server refuses local infile, which an empty load
    /// finds out before any row is read.
    pub(super) async fn open(
        conn: &mut Conn,
        allowed: bool,
        table: &str,
        schema: &SchemaRef,
        mode: Mode,
    ) -> Result<Option<Self>> {
        if !allowed {
            tracing::info!(
                "out: options.allowLoadLocalInfile is false: writing with multi-row INSERTs"
            );
            return Ok(None);
        }
        let hex: Vec<bool> = schema
            .fields()
            .iter()
            .map(|f| column_type(f) == ColumnType::Bytes)
            .collect();
        let mut targets = Vec::new();
        let mut sets = Vec::new();
        for (i, f) in schema.fields().iter().enumerate() {
            if hex[i] {
                targets.push(format!("@hakobu_{i}"));
                sets.push(format!("{} = UNHEX(@hakobu_{i})", D.ident(f.name())));
            } else {
                targets.push(D.ident(f.name()));
            }
        }
        // The literals rely on backslash escapes in SQL strings (MySQL's default
        // sql_mode, as the INSERT path's literals do): '\t' is a tab, '\\' one backslash.
        let mut sql = format!(
            "LOAD DATA LOCAL INFILE 'hakobu' INTO TABLE {table} CHARACTER SET utf8mb4 \
             FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' \
             LINES STARTING BY '' TERMINATED BY '\\n' ({})",
            targets.join(", ")
        );
        if !sets.is_empty() {
            sql.push_str(" SET ");
            sql.push_str(&sets.join(", "));
        }
        let load = LoadData {
            sql: sql.into(),
            buf: Vec::new(),
            hex,
            transaction: mode == Mode::InsertDirect,
            rows_in_chunk: 0,
            rows_sent: 0,
        };
        match send(conn, &load.sql, Bytes::new()).await {
            Ok(()) => Ok(Some(load)),
            Err(e) if refused(&e) => {
                tracing::warn!(
                    "out: the server refuses LOAD DATA LOCAL INFILE ({e}); writing with multi-row INSERTs instead"
                );
                Ok(None)
            }
            // A missing table or a refused INSERT is said as such (objects.rs).
            Err(e) => match e
                .downcast_ref::<mysql_async::Error>()
                .and_then(|m| from_my(m, Side::Destination, table))
            {
                Some(object) => Err(object.into()),
                None => Err(e).context("LOAD DATA LOCAL INFILE failed"),
            },
        }
    }

    /// Whether the chunk is large enough to send.
    pub(super) fn is_full(&self) -> bool {
        self.buf.len() >= MAX_CHUNK
    }

    /// Appends row `row` of the batch.
    pub(super) fn push_row(
        &mut self,
        views: &[ColumnView<'_>],
        row: usize,
        zones: &[Zone],
        names: &[String],
    ) -> Result<()> {
        for (i, v) in views.iter().enumerate() {
            if i > 0 {
                self.buf.push(b'\t');
            }
            field(v.get(row), zones[i], self.hex[i], &mut self.buf)
                .with_context(|| format!("column {:?}", names[i]))?;
        }
        self.buf.push(b'\n');
        self.rows_in_chunk += 1;
        Ok(())
    }

    /// The statement chunks are sent with.
    pub(super) fn sql(&self) -> Arc<str> {
        self.sql.clone()
    }

    /// Takes the rows encoded so far, if any.
    pub(super) fn take_chunk(&mut self) -> Option<Chunk> {
        if self.rows_in_chunk == 0 {
            return None;
        }
        let chunk = Chunk {
            bytes: Bytes::from(std::mem::take(&mut self.buf)),
            first: self.rows_sent + 1,
            rows: self.rows_in_chunk,
        };
        self.rows_sent += self.rows_in_chunk;
        self.rows_in_chunk = 0;
        Some(chunk)
    }
}

impl Chunk {
    /// Its size as sent.
    pub(super) fn size(&self) -> usize {
        self.bytes.len()
    }
}

/// Encoded rows for one LOAD DATA statement.
pub(super) struct Chunk {
    bytes: Bytes,
    /// Number of its first row in the load (from 1), for messages.
    first: u64,
    rows: u64,
}

/// Sends one chunk with `sql` and fails on the rows the server only warned about; with
/// `transaction`, the chunk is committed alone or rolled back.
pub(super) async fn load(
    conn: &mut Conn,
    sql: &str,
    transaction: bool,
    chunk: Chunk,
) -> Result<()> {
    if transaction {
        conn.query_drop("START TRANSACTION").await?;
    }
    let sent = match send(conn, sql, chunk.bytes).await {
        Ok(()) => rejected(conn).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(()) if transaction => conn.query_drop("COMMIT").await.context("COMMIT failed"),
        Ok(()) => Ok(()),
        Err(e) => {
            if transaction {
                let _ = conn.query_drop("ROLLBACK").await;
            }
            Err(e.context(format!(
                "LOAD DATA of rows {} to {} failed",
                chunk.first,
                chunk.first + chunk.rows - 1
            )))
        }
    }
}

async fn send(conn: &mut Conn, sql: &str, chunk: Bytes) -> Result<()> {
    let pieces: Vec<std::io::Result<Bytes>> = (0..chunk.len())
        .step_by(PIECE)
        .map(|at| Ok(chunk.slice(at..(at + PIECE).min(chunk.len()))))
        .collect();
    conn.set_infile_handler(async move { Ok(futures::stream::iter(pieces).boxed()) });
    conn.query_drop(sql).await?;
    Ok(())
}

/// Whether `e` is the server refusing local infile.
fn refused(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<mysql_async::Error>(),
        Some(mysql_async::Error::Server(s)) if REFUSED.contains(&s.code)
    )
}

/// Fails with the server's words when the last LOAD DATA left warnings (not notes): with
/// LOCAL they stand for rows an INSERT would have refused.
/// (Asked every time: one round trip per chunk, and no reliance on the driver keeping the
/// warning count of a LOCAL INFILE reply.)
async fn rejected(conn: &mut Conn) -> Result<()> {
    let warnings: Vec<(String, u32, String)> = conn
        .query("SHOW WARNINGS")
        .await
        .context("reading the warnings of LOAD DATA failed")?;
    let serious: Vec<String> = warnings
        .into_iter()
        .filter(|(level, _, _)| !level.eq_ignore_ascii_case("note"))
        .map(|(_, _, message)| message)
        .take(3)
        .collect();
    if serious.is_empty() {
        return Ok(());
    }
    bail!("{}", serious.join("; "))
}

/// One field in LOAD DATA's text format.
fn field(v: Value<'_>, tz: Zone, hex: bool, out: &mut Vec<u8>) -> Result<()> {
    match v {
        Value::Null => out.extend_from_slice(b"\\N"),
        Value::Bool(b) => out.push(if b { b'1' } else { b'0' }),
        Value::Long(n) => write!(out, "{n}")?,
        Value::Double(f) if f.is_finite() => write!(out, "{f:?}")?,
        Value::Double(f) => bail!("{f} cannot be stored in MySQL"),
        Value::Str(s) => push_escaped(s.as_bytes(), out),
        Value::Micros(m) => out.extend_from_slice(datetime_text(m, tz)?.as_str().as_bytes()),
        Value::Days(d) => write!(
            out,
            "{}",
            days_to_date(d).ok_or_else(|| anyhow!("date out of range"))?
        )?,
        Value::Bytes(b) if hex => out.extend_from_slice(hex::encode(b).as_bytes()),
        // Binary values of a column not marked binary cannot occur (the marks come from
        // the same schema); escaping keeps them intact anyway.
        Value::Bytes(b) => push_escaped(b, out),
    }
    Ok(())
}

/// Copies `s`, backslash-escaping what LOAD DATA would read as a separator or escape.
fn push_escaped(s: &[u8], out: &mut Vec<u8>) {
    let mut from = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            0 => b"\\0",
            _ => continue,
        };
        out.extend_from_slice(&s[from..i]);
        out.extend_from_slice(esc);
        from = i + 1;
    }
    out.extend_from_slice(&s[from..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_load_data_would_read_as_structure() {
        let mut out = Vec::new();
        push_escaped("a\tb\nc\\d\re\0f\\N 日本".as_bytes(), &mut out);
        assert_eq!(out, "a\\tb\\nc\\\\d\\re\\0f\\\\N 日本".as_bytes());
        let mut out = Vec::new();
        field(Value::Null, Zone::UTC, false, &mut out).unwrap();
        field(Value::Str(""), Zone::UTC, false, &mut out).unwrap();
        field(Value::Bytes(&[0, 0xff]), Zone::UTC, true, &mut out).unwrap();
        assert_eq!(out, b"\\N00ff");
    }

    #[test]
    fn allow_load_local_infile_takes_true_or_false() {
        let opts = |v: &str| BTreeMap::from([("allowLoadLocalInfile".to_owned(), v.to_owned())]);
        assert!(allowed(&BTreeMap::new()).unwrap());
        assert!(allowed(&opts("TRUE")).unwrap());
        assert!(!allowed(&opts("false")).unwrap());
        let err = allowed(&opts("no")).unwrap_err().to_string();
        assert!(err.contains("out.options.allowLoadLocalInfile: expected true or false"));
    }
}
