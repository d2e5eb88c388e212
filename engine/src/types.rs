//! Column types in the pipeline and their Arrow representation.
//!
//! Every Arrow field carries its Hakobu type in the `hakobu.type` metadata, because two
//! Hakobu types share one Arrow type: `json` and `decimal` are UTF-8 text (decimal text is
//! exact at any precision, where Arrow's Decimal128 stops at 38 digits and would make a
//! PostgreSQL `numeric` without precision lossy).

use anyhow::{Result, bail};
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate, Utc};
use hakobu_core::config::ColumnType;
use std::collections::HashMap;
use std::sync::Arc;

const TYPE_KEY: &str = "hakobu.type";

/// Rows per batch: large enough to amortize per-batch work, small enough to keep memory flat.
pub const BATCH_ROWS: usize = 8192;

/// A batch is also full once its text and bytes columns hold this much, so a table of wide
/// rows (a tenant's 1 MB values) never builds a batch of 8192 of them: every reader sends
/// at most about this much at a time, which is what lets a preview stop reading near its
/// budget ([`crate::limits::PREVIEW_MAX_BYTES`]).
pub const BATCH_BYTES: usize = 8 * 1024 * 1024;

/// The Arrow type that carries a Hakobu column type.
pub fn arrow_type(t: ColumnType) -> DataType {
    match t {
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Long => DataType::Int64,
        ColumnType::Double => DataType::Float64,
        ColumnType::String | ColumnType::Json | ColumnType::Decimal => DataType::Utf8,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::Date => DataType::Date32,
        ColumnType::Bytes => DataType::Binary,
    }
}

/// A nullable field of type `t`.
pub fn field(name: &str, t: ColumnType) -> Field {
    Field::new(name, arrow_type(t), true).with_metadata(HashMap::from([(
        TYPE_KEY.to_owned(),
        t.as_str().to_owned(),
    )]))
}

/// A schema from `(name, type)` pairs.
pub fn schema(columns: &[(String, ColumnType)]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, t)| field(n, *t))
            .collect::<Vec<_>>(),
    ))
}

/// The Hakobu type of a field built by [`field`].
pub fn column_type(f: &Field) -> ColumnType {
    f.metadata()
        .get(TYPE_KEY)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| match f.data_type() {
            DataType::Boolean => ColumnType::Boolean,
            DataType::Int64 => ColumnType::Long,
            DataType::Float64 => ColumnType::Double,
            DataType::Timestamp(..) => ColumnType::Timestamp,
            DataType::Date32 => ColumnType::Date,
            DataType::Binary => ColumnType::Bytes,
            _ => ColumnType::String,
        })
}

/// Accumulates one column's values.
pub enum ColumnBuilder {
    /// boolean
    Boolean(BooleanBuilder),
    /// long
    Long(Int64Builder),
    /// double
    Double(Float64Builder),
    /// string, json, decimal
    Text(StringBuilder),
    /// timestamp (µs since the Unix epoch, UTC)
    Timestamp(TimestampMicrosecondBuilder),
    /// date (days since the Unix epoch)
    Date(Date32Builder),
    /// bytes
    Bytes(BinaryBuilder),
}

impl ColumnBuilder {
    /// An empty builder for type `t`.
    pub fn new(t: ColumnType, capacity: usize) -> Self {
        match t {
            ColumnType::Boolean => Self::Boolean(BooleanBuilder::with_capacity(capacity)),
            ColumnType::Long => Self::Long(Int64Builder::with_capacity(capacity)),
            ColumnType::Double => Self::Double(Float64Builder::with_capacity(capacity)),
            ColumnType::String | ColumnType::Json | ColumnType::Decimal => {
                Self::Text(StringBuilder::with_capacity(capacity, capacity * 16))
            }
            ColumnType::Timestamp => Self::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            ),
            ColumnType::Date => Self::Date(Date32Builder::with_capacity(capacity)),
            ColumnType::Bytes => Self::Bytes(BinaryBuilder::with_capacity(capacity, capacity * 16)),
        }
    }

    /// Appends NULL.
    pub fn append_null(&mut self) {
        match self {
            Self::Boolean(b) => b.append_null(),
            Self::Long(b) => b.append_null(),
            Self::Double(b) => b.append_null(),
            Self::Text(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Bytes(b) => b.append_null(),
        }
    }

    /// Appends a value of the matching kind; a mismatch is a bug in the caller.
    pub fn append(&mut self, v: Value<'_>) -> Result<()> {
        match (self, v) {
            (b, Value::Null) => b.append_null(),
            (Self::Boolean(b), Value::Bool(v)) => b.append_value(v),
            (Self::Long(b), Value::Long(v)) => b.append_value(v),
            (Self::Double(b), Value::Double(v)) => b.append_value(v),
            (Self::Double(b), Value::Long(v)) => b.append_value(v as f64),
            (Self::Text(b), Value::Str(v)) => b.append_value(v),
            (Self::Timestamp(b), Value::Micros(v)) => b.append_value(v),
            (Self::Date(b), Value::Days(v)) => b.append_value(v),
            (Self::Bytes(b), Value::Bytes(v)) => b.append_value(v),
            (_, v) => bail!("internal: value {v:?} does not fit the column builder"),
        }
        Ok(())
    }

    /// The finished array.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Boolean(b) => Arc::new(b.finish()),
            Self::Long(b) => Arc::new(b.finish()),
            Self::Double(b) => Arc::new(b.finish()),
            Self::Text(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Bytes(b) => Arc::new(b.finish()),
        }
    }
}

/// One value on its way into a builder or out of an array.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// NULL
    Null,
    /// boolean
    Bool(bool),
    /// long
    Long(i64),
    /// double
    Double(f64),
    /// string / json / decimal text
    Str(&'a str),
    /// timestamp, µs since the Unix epoch
    Micros(i64),
    /// date, days since the Unix epoch
    Days(i32),
    /// bytes
    Bytes(&'a [u8]),
}

/// Builds record batches row by row.
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    rows: usize,
}

impl BatchBuilder {
    /// A builder for `schema` (fields made by [`field`]).
    pub fn new(schema: SchemaRef) -> Self {
        let columns = schema
            .fields()
            .iter()
            .map(|f| ColumnBuilder::new(column_type(f), BATCH_ROWS))
            .collect();
        BatchBuilder {
            schema,
            columns,
            rows: 0,
        }
    }

    /// The column builders, for a reader that appends one value per column per row.
    pub fn columns(&mut self) -> &mut [ColumnBuilder] {
        &mut self.columns
    }

    /// Counts a row whose columns were all appended.
    pub fn end_row(&mut self) {
        self.rows += 1;
    }

    /// Rows appended since the last [`BatchBuilder::finish`].
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is pending.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Whether the batch reached its target size: [`BATCH_ROWS`] rows or [`BATCH_BYTES`].
    pub fn is_full(&self) -> bool {
        self.rows >= BATCH_ROWS || self.value_bytes() >= BATCH_BYTES
    }

    /// The bytes held by the pending rows' text and bytes columns (the only ones whose
    /// values can be large).
    fn value_bytes(&self) -> usize {
        self.columns
            .iter()
            .map(|c| match c {
                ColumnBuilder::Text(b) => b.values_slice().len(),
                ColumnBuilder::Bytes(b) => b.values_slice().len(),
                _ => 0,
            })
            .sum()
    }

    /// The pending rows as a batch; the builder starts over.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let arrays = self.columns.iter_mut().map(|c| c.finish()).collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

/// A typed view of one column of a batch, for writers.
pub enum ColumnView<'a> {
    /// boolean
    Boolean(&'a BooleanArray),
    /// long
    Long(&'a Int64Array),
    /// double
    Double(&'a Float64Array),
    /// string, json, decimal
    Text(&'a StringArray, ColumnType),
    /// timestamp
    Timestamp(&'a TimestampMicrosecondArray),
    /// date
    Date(&'a Date32Array),
    /// bytes
    Bytes(&'a BinaryArray),
}

impl<'a> ColumnView<'a> {
    /// Views column `i` of `batch`.
    pub fn of(batch: &'a RecordBatch, i: usize) -> Result<Self> {
        let array = batch.column(i);
        let t = column_type(batch.schema_ref().field(i));
        let any = array.as_any();
        let view = match t {
            ColumnType::Boolean => any.downcast_ref().map(Self::Boolean),
            ColumnType::Long => any.downcast_ref().map(Self::Long),
            ColumnType::Double => any.downcast_ref().map(Self::Double),
            ColumnType::String | ColumnType::Json | ColumnType::Decimal => {
                any.downcast_ref().map(|a| Self::Text(a, t))
            }
            ColumnType::Timestamp => any.downcast_ref().map(Self::Timestamp),
            ColumnType::Date => any.downcast_ref().map(Self::Date),
            ColumnType::Bytes => any.downcast_ref().map(Self::Bytes),
        };
        match view {
            Some(v) => Ok(v),
            None => bail!("internal: column {i} is not stored as {t}"),
        }
    }

    /// The value at `row`.
    #[inline]
    pub fn get(&self, row: usize) -> Value<'a> {
        macro_rules! get {
            ($a:expr, $f:expr) => {
                if $a.is_null(row) {
                    Value::Null
                } else {
                    $f($a.value(row))
                }
            };
        }
        match self {
            Self::Boolean(a) => get!(a, Value::Bool),
            Self::Long(a) => get!(a, Value::Long),
            Self::Double(a) => get!(a, Value::Double),
            Self::Text(a, _) => get!(a, Value::Str),
            Self::Timestamp(a) => get!(a, Value::Micros),
            Self::Date(a) => get!(a, Value::Days),
            Self::Bytes(a) => get!(a, Value::Bytes),
        }
    }
}

/// The instant of µs since the Unix epoch, `None` when out of chrono's range.
pub fn micros_to_datetime(micros: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
}

/// The calendar date of days since the Unix epoch.
pub fn days_to_date(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(days as i64))
}

/// Days since the Unix epoch of a date.
pub fn date_to_days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")).num_days() as i32
}

/// A value as JSON (for `last_record`, previews and jsonl).
pub fn value_to_json(v: Value<'_>, t: ColumnType) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(b),
        Value::Long(n) => J::from(n),
        Value::Double(f) => serde_json::Number::from_f64(f)
            .map(J::Number)
            .unwrap_or(J::Null),
        Value::Str(s) if t == ColumnType::Json => {
            serde_json::from_str(s).unwrap_or_else(|_| J::String(s.to_owned()))
        }
        Value::Str(s) => J::String(s.to_owned()),
        Value::Micros(m) => J::String(
            micros_to_datetime(m)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
                .unwrap_or_default(),
        ),
        Value::Days(d) => J::String(days_to_date(d).map(|d| d.to_string()).unwrap_or_default()),
        Value::Bytes(b) => J::String(hex::encode(b)),
    }
}
