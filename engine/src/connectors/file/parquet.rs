//! Parquet files: written straight from the pipeline's Arrow batches, read back into the
//! pipeline's types (files from other tools are mapped: any integer width, float, text,
//! binary, date, timestamp of any unit and zone, decimal as exact text).

use crate::shared::stats::Stats;
use crate::shared::text::{FieldFormatter, FieldParser};
use crate::types::{self, ColumnBuilder, Value, column_type};
use anyhow::{Context, Result, anyhow, bail};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date64Type, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, SchemaRef, TimeUnit};
use hakobu_core::config::{ColumnType, ParquetFormatter, SchemaColumn};
use hakobu_core::zone::Zone;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc::Sender;

/// The pipeline type of a Parquet/Arrow field, `None` when there is no faithful one.
pub fn mapped_type(f: &Field) -> Option<ColumnType> {
    if f.metadata().contains_key("hakobu.type") {
        return Some(column_type(f));
    }
    Some(match f.data_type() {
        DataType::Boolean => ColumnType::Boolean,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => ColumnType::Long,
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => ColumnType::Long,
        DataType::UInt64 | DataType::Decimal128(..) | DataType::Decimal256(..) => {
            ColumnType::Decimal
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => ColumnType::Double,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnType::String,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => ColumnType::Bytes,
        DataType::Date32 | DataType::Date64 => ColumnType::Date,
        DataType::Timestamp(..) => ColumnType::Timestamp,
        _ => return None,
    })
}

/// The columns of an opened Parquet file (`path` names it in messages), typed for the
/// pipeline.
pub fn file_columns(file: File, path: &Path) -> Result<Vec<SchemaColumn>> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not a Parquet file", path.display()))?;
    builder
        .schema()
        .fields()
        .iter()
        .map(|f| {
            let t = mapped_type(f).ok_or_else(|| {
                anyhow!(
                    "{}: column {:?} has Parquet type {}, which Hakobu cannot read yet",
                    path.display(),
                    f.name(),
                    f.data_type()
                )
            })?;
            Ok(SchemaColumn {
                name: f.name().clone(),
                type_: t,
                format: None,
                timezone: None,
                date: None,
            })
        })
        .collect()
}

/// One value of `array` at `row`, with text owned in `scratch` when it must be made.
fn value_at<'a>(array: &'a ArrayRef, row: usize, scratch: &'a mut String) -> Result<Value<'a>> {
    if array.is_null(row) {
        return Ok(Value::Null);
    }
    Ok(match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => Value::Long(array.as_primitive::<Int8Type>().value(row) as i64),
        DataType::Int16 => Value::Long(array.as_primitive::<Int16Type>().value(row) as i64),
        DataType::Int32 => Value::Long(array.as_primitive::<Int32Type>().value(row) as i64),
        DataType::Int64 => Value::Long(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Value::Long(array.as_primitive::<UInt8Type>().value(row) as i64),
        DataType::UInt16 => Value::Long(array.as_primitive::<UInt16Type>().value(row) as i64),
        DataType::UInt32 => Value::Long(array.as_primitive::<UInt32Type>().value(row) as i64),
        DataType::UInt64 => {
            *scratch = array.as_primitive::<UInt64Type>().value(row).to_string();
            Value::Str(scratch)
        }
        DataType::Float16 => Value::Double(array.as_primitive::<Float16Type>().value(row).to_f64()),
        DataType::Float32 => Value::Double(array.as_primitive::<Float32Type>().value(row) as f64),
        DataType::Float64 => Value::Double(array.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => Value::Str(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Value::Str(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Value::Str(array.as_string_view().value(row)),
        DataType::Binary => Value::Bytes(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => Value::Bytes(array.as_binary::<i64>().value(row)),
        DataType::BinaryView => Value::Bytes(array.as_binary_view().value(row)),
        DataType::Date32 => Value::Days(
            array
                .as_primitive::<arrow_array::types::Date32Type>()
                .value(row),
        ),
        DataType::Date64 => {
            Value::Days((array.as_primitive::<Date64Type>().value(row) / 86_400_000) as i32)
        }
        DataType::Timestamp(unit, _) => Value::Micros(match unit {
            TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row) * 1_000_000,
            TimeUnit::Millisecond => {
                array.as_primitive::<TimestampMillisecondType>().value(row) * 1_000
            }
            TimeUnit::Microsecond => array
                .as_primitive::<arrow_array::types::TimestampMicrosecondType>()
                .value(row),
            TimeUnit::Nanosecond => {
                array.as_primitive::<TimestampNanosecondType>().value(row) / 1_000
            }
        }),
        DataType::Decimal128(..) => {
            *scratch = array
                .as_primitive::<arrow_array::types::Decimal128Type>()
                .value_as_string(row);
            Value::Str(scratch)
        }
        DataType::Decimal256(..) => {
            *scratch = array
                .as_primitive::<arrow_array::types::Decimal256Type>()
                .value_as_string(row);
            Value::Str(scratch)
        }
        other => bail!("Parquet type {other} cannot be read yet"),
    })
}

/// Reads an opened Parquet file (`path` names it in messages) into batches of `schema`
/// (columns picked by name).
pub fn read(
    file: File,
    path: &Path,
    schema: SchemaRef,
    tx: &Sender<RecordBatch>,
    stats: &Arc<Stats>,
) -> Result<()> {
    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("{} is not a Parquet file", path.display()))?
        .with_batch_size(types::BATCH_ROWS)
        .build()?;
    let text_out = FieldFormatter::utc_default();
    let mut first = true;
    for batch in reader {
        let batch = batch.with_context(|| format!("reading {}", path.display()))?;
        let mut arrays = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let want = column_type(field);
            let idx = batch.schema().index_of(field.name()).map_err(|_| {
                anyhow!(
                    "{}: no column {:?} in the file",
                    path.display(),
                    field.name()
                )
            })?;
            let source = batch.column(idx);
            if source.data_type() == field.data_type() {
                arrays.push(source.clone());
                continue;
            }
            // Other widths, units and zones: convert value by value, through text when
            // the kinds differ (e.g. a long read as string).
            let parser = FieldParser {
                name: field.name().clone(),
                type_: want,
                format: None,
                tz: Zone::UTC,
                date: None,
            };
            let mut b = ColumnBuilder::new(want, source.len());
            let mut scratch = String::new();
            let mut text = String::new();
            for row in 0..source.len() {
                let v = value_at(source, row, &mut scratch)
                    .with_context(|| format!("{}: column {:?}", path.display(), field.name()))?;
                let same_kind = matches!(
                    (want, v),
                    (_, Value::Null)
                        | (ColumnType::Boolean, Value::Bool(_))
                        | (ColumnType::Long, Value::Long(_))
                        | (ColumnType::Double, Value::Double(_) | Value::Long(_))
                        | (
                            ColumnType::String | ColumnType::Json | ColumnType::Decimal,
                            Value::Str(_)
                        )
                        | (ColumnType::Timestamp, Value::Micros(_))
                        | (ColumnType::Date, Value::Days(_))
                        | (ColumnType::Bytes, Value::Bytes(_))
                );
                if same_kind {
                    b.append(v)?;
                } else {
                    text.clear();
                    text_out.write(v, &mut text)?;
                    b.append(
                        parser
                            .parse(&text)
                            .with_context(|| format!("{}: row {}", path.display(), row + 1))?,
                    )?;
                }
            }
            arrays.push(b.finish());
        }
        let out = RecordBatch::try_new(schema.clone(), arrays)?;
        stats.add_read(out.num_rows() as u64, if first { bytes } else { 0 });
        first = false;
        tx.blocking_send(out)
            .map_err(|_| anyhow!("the destination stopped"))?;
    }
    Ok(())
}

/// A Parquet writer for the output schema.
pub fn writer<W: std::io::Write + Send>(
    file: W,
    schema: SchemaRef,
    f: &ParquetFormatter,
) -> Result<ArrowWriter<W>> {
    let compression = match f.compression.as_deref() {
        Some("uncompressed") => Compression::UNCOMPRESSED,
        Some("gzip") => Compression::GZIP(Default::default()),
        _ => Compression::SNAPPY,
    };
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(f.row_group_size.map(|n| n as usize))
        .build();
    Ok(ArrowWriter::try_new(file, schema, Some(props))?)
}
