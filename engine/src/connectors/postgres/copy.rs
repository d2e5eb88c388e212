//! PostgreSQL's binary COPY format: a header, then per row an i16 field count and per
//! field an i32 length (-1 = NULL) and the value in the type's binary send format.

use crate::shared::time::{instant_to_wall, wall_to_instant};
use crate::types::{BatchBuilder, ColumnBuilder, ColumnView, Value};
use anyhow::{Result, anyhow, bail};
use bytes::{BufMut, BytesMut};
use hakobu_core::config::ColumnType;
use hakobu_core::zone::Zone;

/// `PGCOPY\n\377\r\n\0`, flags, header extension length.
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;
/// Days between the Unix epoch and PostgreSQL's.
const PG_EPOCH_DAYS: i32 = 10_957;

/// How one column is decoded from binary COPY.
#[derive(Debug, Clone, Copy)]
pub enum PgRead {
    /// bool
    Bool,
    /// int2
    Int2,
    /// int4
    Int4,
    /// int8
    Int8,
    /// float4
    Float4,
    /// float8
    Float8,
    /// text-like: text, varchar, bpchar, name, json, and anything cast `::text`
    Text,
    /// jsonb (a version byte, then text)
    Jsonb,
    /// timestamptz
    Timestamptz,
    /// timestamp without time zone, read as wall time in this zone
    Timestamp(Zone),
    /// date
    Date,
    /// bytea
    Bytea,
}

impl PgRead {
    /// The decoder and pipeline type for a column of PostgreSQL type `typname`, or `None`
    /// when the column must be cast to text in SQL first.
    pub fn for_type(typname: &str, tz: Zone) -> Option<(PgRead, ColumnType)> {
        Some(match typname {
            "bool" => (PgRead::Bool, ColumnType::Boolean),
            "int2" => (PgRead::Int2, ColumnType::Long),
            "int4" => (PgRead::Int4, ColumnType::Long),
            "int8" => (PgRead::Int8, ColumnType::Long),
            "float4" => (PgRead::Float4, ColumnType::Double),
            "float8" => (PgRead::Float8, ColumnType::Double),
            "text" | "varchar" | "bpchar" | "name" => (PgRead::Text, ColumnType::String),
            "json" => (PgRead::Text, ColumnType::Json),
            "jsonb" => (PgRead::Jsonb, ColumnType::Json),
            "timestamptz" => (PgRead::Timestamptz, ColumnType::Timestamp),
            "timestamp" => (PgRead::Timestamp(tz), ColumnType::Timestamp),
            "date" => (PgRead::Date, ColumnType::Date),
            "bytea" => (PgRead::Bytea, ColumnType::Bytes),
            _ => return None,
        })
    }
}

/// Incremental decoder of a COPY TO STDOUT (FORMAT binary) stream.
pub struct CopyDecoder {
    readers: Vec<PgRead>,
    names: Vec<String>,
    pending: BytesMut,
    header_done: bool,
    /// Set when the trailer was seen.
    pub finished: bool,
}

impl CopyDecoder {
    /// A decoder for columns read with `readers`.
    pub fn new(readers: Vec<PgRead>, names: Vec<String>) -> Self {
        CopyDecoder {
            readers,
            names,
            pending: BytesMut::new(),
            header_done: false,
            finished: false,
        }
    }

    /// Decodes every complete row of `chunk` (plus bytes left from earlier chunks) into
    /// `out`. Returns the rows decoded.
    pub fn feed(&mut self, chunk: &[u8], out: &mut BatchBuilder) -> Result<usize> {
        // Rows usually arrive one per chunk: decode in place and copy only a partial tail.
        let owned;
        let data: &[u8] = if self.pending.is_empty() {
            chunk
        } else {
            self.pending.extend_from_slice(chunk);
            owned = self.pending.split().freeze();
            &owned
        };
        let mut pos = 0;
        if !self.header_done {
            if data.len() < HEADER.len() {
                self.pending.extend_from_slice(data);
                return Ok(0);
            }
            if data[..11] != HEADER[..11] {
                bail!("the server did not send binary COPY data");
            }
            let ext = i32::from_be_bytes(data[15..19].try_into().expect("4 bytes")) as usize;
            pos = 19 + ext;
            self.header_done = true;
        }
        let mut rows = 0;
        while let Some(end) = self.complete_row(&data[pos..]) {
            let row = &data[pos..pos + end];
            pos += end;
            if row == [0xff, 0xff] {
                self.finished = true;
                break;
            }
            self.decode_row(row, out)?;
            rows += 1;
        }
        if pos < data.len() && !self.finished {
            self.pending.extend_from_slice(&data[pos..]);
        }
        Ok(rows)
    }

    /// The length of the first row of `buf` if it is complete.
    fn complete_row(&self, buf: &[u8]) -> Option<usize> {
        if buf.len() < 2 {
            return None;
        }
        let n = i16::from_be_bytes([buf[0], buf[1]]);
        if n == -1 {
            return Some(2);
        }
        let mut p = 2;
        for _ in 0..n {
            let len = i32::from_be_bytes(buf.get(p..p + 4)?.try_into().ok()?);
            p += 4;
            if len > 0 {
                p += len as usize;
            }
        }
        (p <= buf.len()).then_some(p)
    }

    fn decode_row(&self, row: &[u8], out: &mut BatchBuilder) -> Result<()> {
        let n = i16::from_be_bytes([row[0], row[1]]) as usize;
        if n != self.readers.len() {
            bail!("COPY row has {n} fields, expected {}", self.readers.len());
        }
        let mut p = 2;
        for (i, (reader, col)) in self
            .readers
            .iter()
            .zip(out.columns().iter_mut())
            .enumerate()
        {
            let len = i32::from_be_bytes(row[p..p + 4].try_into().expect("checked"));
            p += 4;
            if len < 0 {
                col.append_null();
                continue;
            }
            let v = &row[p..p + len as usize];
            p += len as usize;
            decode(*reader, v, col).map_err(|e| anyhow!("column {:?}: {e}", self.names[i]))?;
        }
        out.end_row();
        Ok(())
    }
}

fn be<const N: usize>(v: &[u8]) -> Result<[u8; N]> {
    v.try_into()
        .map_err(|_| anyhow!("expected {N} bytes, got {}", v.len()))
}

fn decode(reader: PgRead, v: &[u8], col: &mut ColumnBuilder) -> Result<()> {
    let value = match reader {
        PgRead::Bool => Value::Bool(v.first().copied().unwrap_or(0) != 0),
        PgRead::Int2 => Value::Long(i16::from_be_bytes(be(v)?) as i64),
        PgRead::Int4 => Value::Long(i32::from_be_bytes(be(v)?) as i64),
        PgRead::Int8 => Value::Long(i64::from_be_bytes(be(v)?)),
        PgRead::Float4 => Value::Double(f32::from_be_bytes(be(v)?) as f64),
        PgRead::Float8 => Value::Double(f64::from_be_bytes(be(v)?)),
        PgRead::Text => Value::Str(std::str::from_utf8(v)?),
        PgRead::Jsonb => Value::Str(std::str::from_utf8(v.get(1..).unwrap_or_default())?),
        PgRead::Timestamptz => Value::Micros(pg_micros(i64::from_be_bytes(be(v)?))?),
        PgRead::Timestamp(tz) => {
            let wall = pg_micros(i64::from_be_bytes(be(v)?))?;
            Value::Micros(if tz == Zone::UTC {
                wall
            } else {
                wall_to_instant(wall, tz)?
            })
        }
        PgRead::Date => {
            let d = i32::from_be_bytes(be(v)?);
            if d == i32::MAX || d == i32::MIN {
                bail!("infinite dates cannot be transferred");
            }
            Value::Days(d + PG_EPOCH_DAYS)
        }
        PgRead::Bytea => Value::Bytes(v),
    };
    col.append(value)
}

fn pg_micros(v: i64) -> Result<i64> {
    if v == i64::MAX || v == i64::MIN {
        bail!("infinite timestamps cannot be transferred");
    }
    Ok(v + PG_EPOCH_MICROS)
}

/// How one column is encoded for COPY FROM STDIN (FORMAT binary), chosen from the type of
/// the column being written.
#[derive(Debug, Clone, Copy)]
pub enum PgWrite {
    /// bool
    Bool,
    /// int2
    Int2,
    /// int4
    Int4,
    /// int8
    Int8,
    /// float4
    Float4,
    /// float8
    Float8,
    /// numeric
    Numeric,
    /// text-like
    Text,
    /// json
    Json,
    /// jsonb
    Jsonb,
    /// timestamptz
    Timestamptz,
    /// timestamp without time zone: wall time in this zone
    Timestamp(Zone),
    /// date (from a date, or the day of a timestamp in this zone)
    Date(Zone),
    /// bytea
    Bytea,
    /// uuid
    Uuid,
}

impl PgWrite {
    /// The encoder for a target column of type `typname`.
    pub fn for_type(typname: &str, tz: Zone) -> Option<PgWrite> {
        Some(match typname {
            "bool" => PgWrite::Bool,
            "int2" => PgWrite::Int2,
            "int4" => PgWrite::Int4,
            "int8" => PgWrite::Int8,
            "float4" => PgWrite::Float4,
            "float8" => PgWrite::Float8,
            "numeric" => PgWrite::Numeric,
            "text" | "varchar" | "bpchar" | "name" => PgWrite::Text,
            "json" => PgWrite::Json,
            "jsonb" => PgWrite::Jsonb,
            "timestamptz" => PgWrite::Timestamptz,
            "timestamp" => PgWrite::Timestamp(tz),
            "date" => PgWrite::Date(tz),
            "bytea" => PgWrite::Bytea,
            "uuid" => PgWrite::Uuid,
            _ => return None,
        })
    }
}

/// Appends rows `0..n` of `views` (one per written column) to `buf`.
pub fn encode_rows(
    views: &[ColumnView<'_>],
    writers: &[PgWrite],
    names: &[String],
    n: usize,
    buf: &mut BytesMut,
) -> Result<()> {
    let mut text = String::new();
    for row in 0..n {
        buf.put_i16(views.len() as i16);
        for (i, (view, w)) in views.iter().zip(writers).enumerate() {
            encode(view.get(row), *w, buf, &mut text)
                .map_err(|e| anyhow!("column {:?}: {e}", names[i]))?;
        }
    }
    Ok(())
}

/// Writes a length-prefixed value produced by `f`.
fn with_len(buf: &mut BytesMut, f: impl FnOnce(&mut BytesMut)) {
    let at = buf.len();
    buf.put_i32(0);
    f(buf);
    let len = (buf.len() - at - 4) as i32;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
}

fn encode(v: Value<'_>, w: PgWrite, buf: &mut BytesMut, text: &mut String) -> Result<()> {
    use std::fmt::Write;
    match (w, v) {
        (_, Value::Null) => buf.put_i32(-1),
        (PgWrite::Bool, Value::Bool(b)) => {
            buf.put_i32(1);
            buf.put_u8(b as u8);
        }
        (PgWrite::Int2, Value::Long(n)) => {
            buf.put_i32(2);
            buf.put_i16(i16::try_from(n).map_err(|_| anyhow!("{n} does not fit smallint"))?);
        }
        (PgWrite::Int4, Value::Long(n)) => {
            buf.put_i32(4);
            buf.put_i32(i32::try_from(n).map_err(|_| anyhow!("{n} does not fit integer"))?);
        }
        (PgWrite::Int8, Value::Long(n)) => {
            buf.put_i32(8);
            buf.put_i64(n);
        }
        (PgWrite::Float4, Value::Double(f)) => {
            buf.put_i32(4);
            buf.put_f32(f as f32);
        }
        (PgWrite::Float4, Value::Long(n)) => {
            buf.put_i32(4);
            buf.put_f32(n as f32);
        }
        (PgWrite::Float8, Value::Double(f)) => {
            buf.put_i32(8);
            buf.put_f64(f);
        }
        (PgWrite::Float8, Value::Long(n)) => {
            buf.put_i32(8);
            buf.put_f64(n as f64);
        }
        (PgWrite::Numeric, v) => {
            text.clear();
            match v {
                Value::Str(s) => text.push_str(s.trim()),
                Value::Long(n) => write!(text, "{n}")?,
                Value::Double(f) => write!(text, "{f}")?,
                other => bail!("cannot write {other:?} into a numeric column"),
            }
            if !is_decimal_text(text) {
                bail!("{text:?} is not a decimal number");
            }
            with_len(buf, |b| numeric_send(text, b));
        }
        (PgWrite::Text | PgWrite::Json, Value::Str(s)) => {
            buf.put_i32(s.len() as i32);
            buf.put_slice(s.as_bytes());
        }
        (PgWrite::Jsonb, Value::Str(s)) => {
            buf.put_i32(s.len() as i32 + 1);
            buf.put_u8(1);
            buf.put_slice(s.as_bytes());
        }
        (PgWrite::Text, other) => {
            text.clear();
            match other {
                Value::Bool(b) => write!(text, "{b}")?,
                Value::Long(n) => write!(text, "{n}")?,
                Value::Double(f) => write!(text, "{f}")?,
                Value::Micros(m) => write!(
                    text,
                    "{}",
                    crate::types::micros_to_datetime(m)
                        .ok_or_else(|| anyhow!("timestamp out of range"))?
                        .format("%Y-%m-%d %H:%M:%S%.6f UTC")
                )?,
                Value::Days(d) => write!(
                    text,
                    "{}",
                    crate::types::days_to_date(d).ok_or_else(|| anyhow!("date out of range"))?
                )?,
                Value::Bytes(b) => text.push_str(std::str::from_utf8(b)?),
                Value::Null | Value::Str(_) => unreachable!("handled above"),
            }
            buf.put_i32(text.len() as i32);
            buf.put_slice(text.as_bytes());
        }
        (PgWrite::Timestamptz, Value::Micros(m)) => {
            buf.put_i32(8);
            buf.put_i64(m - PG_EPOCH_MICROS);
        }
        (PgWrite::Timestamp(tz), Value::Micros(m)) => {
            let wall = if tz == Zone::UTC {
                m
            } else {
                instant_to_wall(m, tz)?
            };
            buf.put_i32(8);
            buf.put_i64(wall - PG_EPOCH_MICROS);
        }
        (PgWrite::Date(_), Value::Days(d)) => {
            buf.put_i32(4);
            buf.put_i32(d - PG_EPOCH_DAYS);
        }
        (PgWrite::Date(tz), Value::Micros(m)) => {
            let wall = instant_to_wall(m, tz)?;
            buf.put_i32(4);
            buf.put_i32(wall.div_euclid(86_400_000_000) as i32 - PG_EPOCH_DAYS);
        }
        (PgWrite::Bytea, Value::Bytes(b)) => {
            buf.put_i32(b.len() as i32);
            buf.put_slice(b);
        }
        (PgWrite::Bytea, Value::Str(s)) => {
            buf.put_i32(s.len() as i32);
            buf.put_slice(s.as_bytes());
        }
        (PgWrite::Uuid, Value::Str(s)) => {
            let hex: String = s.chars().filter(|c| *c != '-').collect();
            let bytes = hex::decode(&hex)
                .ok()
                .filter(|b| b.len() == 16)
                .ok_or_else(|| anyhow!("{s:?} is not a UUID"))?;
            buf.put_i32(16);
            buf.put_slice(&bytes);
        }
        (w, v) => bail!("cannot write {v:?} into a column encoded as {w:?}"),
    }
    Ok(())
}

fn is_decimal_text(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        || matches!(s, "NaN")
}

/// PostgreSQL's numeric send format: ndigits, weight, sign, dscale, then base-10000
/// digits. `s` must satisfy [`is_decimal_text`].
fn numeric_send(s: &str, buf: &mut BytesMut) {
    if s == "NaN" {
        buf.put_slice(&[0, 0, 0, 0, 0xC0, 0, 0, 0]);
        return;
    }
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let int = int.trim_start_matches('0');
    let dscale = frac.len() as u16;
    // Pad the integer part on the left and the fraction on the right to groups of 4.
    let int_pad = (4 - int.len() % 4) % 4;
    let frac_pad = (4 - frac.len() % 4) % 4;
    let mut digits_str = String::with_capacity(int.len() + frac.len() + 8);
    digits_str.extend(std::iter::repeat_n('0', int_pad));
    digits_str.push_str(int);
    let int_groups = (int_pad + int.len()) / 4;
    digits_str.push_str(frac);
    digits_str.extend(std::iter::repeat_n('0', frac_pad));
    let mut groups: Vec<i16> = digits_str
        .as_bytes()
        .chunks(4)
        .map(|c| c.iter().fold(0i16, |acc, d| acc * 10 + (d - b'0') as i16))
        .collect();
    let mut weight = int_groups as i16 - 1;
    // Strip leading zero groups (adjusting weight) and trailing zero groups.
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= leading as i16;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    buf.put_i16(groups.len() as i16);
    buf.put_i16(weight);
    buf.put_u16(if neg && !groups.is_empty() { 0x4000 } else { 0 });
    buf.put_u16(dscale);
    for g in groups {
        buf.put_i16(g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(s: &str) -> Vec<u8> {
        let mut b = BytesMut::new();
        numeric_send(s, &mut b);
        b.to_vec()
    }

    #[test]
    fn numeric_matches_postgres_send_format() {
        // SELECT numeric_send('12345.678'::numeric) = \x0003000100000003000109291a7c
        assert_eq!(
            hex::encode(numeric("12345.678")),
            "0003000100000003000109291a7c"
        );
        // SELECT numeric_send('-0.0001'::numeric) = \x0001ffff400000040001
        assert_eq!(hex::encode(numeric("-0.0001")), "0001ffff400000040001");
        // SELECT numeric_send('0'::numeric) = \x0000000000000000
        assert_eq!(hex::encode(numeric("0")), "0000000000000000");
        assert_eq!(hex::encode(numeric("10000")), "00010001000000000001");
        assert_eq!(hex::encode(numeric("0.00")), "0000000000000002");
    }
}
