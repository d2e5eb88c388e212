//! Filters between source and destination: rename, remove_columns, column, cast, mask.
//!
//! Each filter is planned once against its input schema (so a wrong column name fails
//! before any row moves, naming the filter and the column) and then applied per batch.

use crate::shared::text::{DEFAULT_TIMESTAMP_FORMAT, FieldFormatter, FieldParser, chrono_format};
use crate::shared::time::instant_to_wall;
use crate::types::{self, ColumnBuilder, ColumnView, Value};
use anyhow::{Context, Result, anyhow, bail};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use hakobu_core::config::{ColumnType, FilterConfig, MaskType};
use hakobu_core::zone::Zone;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// How one output column is produced.
enum Out {
    /// Input column `i`, unchanged.
    Keep(usize),
    /// A constant (or NULL) of a type, for added columns, read by the parser of its
    /// `format` and zone.
    Constant(ColumnType, Option<String>, Box<FieldParser>),
    /// Input column `i` converted value by value.
    Convert(usize, Conversion),
}

#[derive(Clone)]
enum Conversion {
    Cast {
        to: ColumnType,
        parser: FieldParser,
        formatter: FieldFormatter,
        name: String,
    },
    Mask {
        how: MaskType,
        head: usize,
        tail: usize,
        ch: char,
    },
    /// Replace NULLs of an existing column with a default, read by the parser of its
    /// `format` and zone.
    Default(String, Box<FieldParser>),
}

struct Step {
    schema: SchemaRef,
    outs: Vec<Out>,
}

/// The configured filters, applied in order.
pub struct FilterChain {
    input: SchemaRef,
    steps: Vec<Step>,
}

fn index_of(schema: &Schema, name: &str) -> Result<usize> {
    schema.index_of(name).map_err(|_| {
        anyhow!(
            "column {name:?} does not exist; the columns are {}",
            schema
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn tz(name: Option<&str>) -> Result<Zone> {
    name.unwrap_or("UTC")
        .parse()
        .map_err(|_| anyhow!("unknown time zone {name:?}"))
}

fn default_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn plan(f: &FilterConfig, input: &Schema) -> Result<Step> {
    let field = |i: usize| input.field(i).clone();
    let mut fields: Vec<Field> = Vec::new();
    let mut outs = Vec::new();
    match f {
        FilterConfig::Rename(r) => {
            for name in r.columns.keys() {
                index_of(input, name).context("columns")?;
            }
            for (i, f) in input.fields().iter().enumerate() {
                let name = r.columns.get(f.name()).unwrap_or(f.name());
                fields.push(f.as_ref().clone().with_name(name));
                outs.push(Out::Keep(i));
            }
        }
        FilterConfig::RemoveColumns(r) => {
            let accept = r.accept_unmatched_columns.unwrap_or(false);
            for name in r.remove.iter().chain(&r.keep) {
                if !accept {
                    index_of(input, name)?;
                }
            }
            for (i, f) in input.fields().iter().enumerate() {
                let keep = if r.keep.is_empty() {
                    !r.remove.contains(f.name())
                } else {
                    r.keep.contains(f.name())
                };
                if keep {
                    fields.push(field(i));
                    outs.push(Out::Keep(i));
                }
            }
        }
        FilterConfig::Column(c) => {
            let default_tz = tz(c.default_timezone.as_deref())?;
            let add = |col: &hakobu_core::config::ColumnFilterColumn,
                       path: String|
             -> Result<(Field, Out)> {
                let src = col.src.as_deref().unwrap_or(&col.name);
                let default = col.default.as_ref().and_then(default_text);
                // A default is read with the column's `format`, in its `timezone`, else
                // the filter's `default_timezone` (a wall time without a zone is a time
                // in that zone), whether it fills NULLs or makes a new column.
                let parser = |t: ColumnType| -> Result<FieldParser> {
                    let p = FieldParser {
                        name: col.name.clone(),
                        type_: t,
                        format: col.format.as_deref().map(chrono_format),
                        tz: match &col.timezone {
                            Some(z) => tz(Some(z))?,
                            None => default_tz,
                        },
                        date: None,
                    };
                    if let Some(d) = &default
                        && t != ColumnType::Bytes
                    {
                        p.parse(d).with_context(|| format!("{path}.default"))?;
                    }
                    Ok(p)
                };
                match input.index_of(src) {
                    Ok(i)
                        if col.type_.is_none()
                            || col.type_ == Some(types::column_type(input.field(i))) =>
                    {
                        let t = types::column_type(input.field(i));
                        Ok((
                            input.field(i).clone().with_name(&col.name),
                            match default.clone() {
                                Some(d) => {
                                    Out::Convert(i, Conversion::Default(d, Box::new(parser(t)?)))
                                }
                                None => Out::Keep(i),
                            },
                        ))
                    }
                    _ => {
                        let t = col.type_.ok_or_else(|| anyhow!("{path}: column {src:?} does not exist; give type: (and default:) to add it"))?;
                        let p = parser(t)?;
                        Ok((
                            types::field(&col.name, t),
                            Out::Constant(t, default.clone(), Box::new(p)),
                        ))
                    }
                }
            };
            if c.columns.is_empty() {
                for (i, f) in input.fields().iter().enumerate() {
                    if !c.drop_columns.iter().any(|d| &d.name == f.name()) {
                        fields.push(field(i));
                        outs.push(Out::Keep(i));
                    }
                }
            } else {
                for (i, col) in c.columns.iter().enumerate() {
                    let (f, o) = add(col, format!("columns[{i}]"))?;
                    fields.push(f);
                    outs.push(o);
                }
            }
            for (i, col) in c.add_columns.iter().enumerate() {
                let (f, o) = add(col, format!("add_columns[{i}]"))?;
                fields.push(f);
                outs.push(o);
            }
            for d in &c.drop_columns {
                index_of(input, &d.name).context("drop_columns")?;
            }
        }
        FilterConfig::Cast(c) => {
            for (i, f) in input.fields().iter().enumerate() {
                match c.columns.iter().find(|cc| cc.name == *f.name()) {
                    Some(cc) => {
                        let zone = tz(cc.timezone.as_deref())?;
                        let format = cc.format.as_deref().map(chrono_format);
                        fields.push(types::field(f.name(), cc.type_));
                        outs.push(Out::Convert(
                            i,
                            Conversion::Cast {
                                to: cc.type_,
                                parser: FieldParser {
                                    name: cc.name.clone(),
                                    type_: cc.type_,
                                    format: format.clone(),
                                    tz: zone,
                                    date: None,
                                },
                                formatter: FieldFormatter::new(
                                    format.as_deref().unwrap_or(DEFAULT_TIMESTAMP_FORMAT),
                                    zone,
                                )?,
                                name: cc.name.clone(),
                            },
                        ));
                    }
                    None => {
                        fields.push(field(i));
                        outs.push(Out::Keep(i));
                    }
                }
            }
            for (i, cc) in c.columns.iter().enumerate() {
                index_of(input, &cc.name).with_context(|| format!("columns[{i}]"))?;
            }
        }
        FilterConfig::Mask(m) => {
            for (i, f) in input.fields().iter().enumerate() {
                match m.columns.iter().find(|mc| mc.name == *f.name()) {
                    Some(mc) => {
                        fields.push(types::field(f.name(), ColumnType::String));
                        outs.push(Out::Convert(
                            i,
                            Conversion::Mask {
                                how: mc.type_.unwrap_or(MaskType::Sha256),
                                head: mc.keep_head.unwrap_or(0) as usize,
                                tail: mc.keep_tail.unwrap_or(0) as usize,
                                ch: mc
                                    .mask_char
                                    .as_deref()
                                    .and_then(|c| c.chars().next())
                                    .unwrap_or('*'),
                            },
                        ));
                    }
                    None => {
                        fields.push(field(i));
                        outs.push(Out::Keep(i));
                    }
                }
            }
            for (i, mc) in m.columns.iter().enumerate() {
                index_of(input, &mc.name).with_context(|| format!("columns[{i}]"))?;
            }
        }
    }
    Ok(Step {
        schema: Arc::new(Schema::new(fields)),
        outs,
    })
}

impl FilterChain {
    /// Plans the filters for input `schema`; errors name the filter (`filters[1]`).
    pub fn new(filters: &[FilterConfig], schema: SchemaRef) -> Result<Self> {
        let mut steps = Vec::new();
        let mut current = schema.clone();
        for (i, f) in filters.iter().enumerate() {
            let step =
                plan(f, &current).with_context(|| format!("filters[{i}] ({})", f.type_name()))?;
            current = step.schema.clone();
            steps.push(step);
        }
        Ok(FilterChain {
            input: schema,
            steps,
        })
    }

    /// The output schema.
    pub fn schema(&self) -> SchemaRef {
        self.steps
            .last()
            .map(|s| s.schema.clone())
            .unwrap_or_else(|| self.input.clone())
    }

    /// Applies every filter.
    pub fn apply(&self, mut batch: RecordBatch) -> Result<RecordBatch> {
        for (i, step) in self.steps.iter().enumerate() {
            batch = apply_step(step, &batch).with_context(|| format!("filters[{i}]"))?;
        }
        Ok(batch)
    }
}

fn apply_step(step: &Step, batch: &RecordBatch) -> Result<RecordBatch> {
    let n = batch.num_rows();
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(step.outs.len());
    for (o, out) in step.outs.iter().enumerate() {
        let t = types::column_type(step.schema.field(o));
        arrays.push(match out {
            Out::Keep(i) => batch.column(*i).clone(),
            Out::Constant(t, default, parser) => {
                let mut b = ColumnBuilder::new(*t, n);
                for _ in 0..n {
                    match default {
                        None => b.append_null(),
                        Some(d) if *t == ColumnType::Bytes => {
                            b.append(Value::Bytes(d.as_bytes()))?
                        }
                        Some(d) => b.append(parser.parse(d)?)?,
                    }
                }
                b.finish()
            }
            Out::Convert(i, conv) => {
                let view = ColumnView::of(batch, *i)?;
                let mut b = ColumnBuilder::new(t, n);
                let mut text = String::new();
                for row in 0..n {
                    convert(view.get(row), conv, t, &mut b, &mut text)?;
                }
                b.finish()
            }
        });
    }
    Ok(RecordBatch::try_new(step.schema.clone(), arrays)?)
}

fn convert(
    v: Value<'_>,
    conv: &Conversion,
    to: ColumnType,
    b: &mut ColumnBuilder,
    text: &mut String,
) -> Result<()> {
    match (conv, v) {
        (Conversion::Default(d, _), Value::Null) if to == ColumnType::Bytes => {
            b.append(Value::Bytes(d.as_bytes()))
        }
        (Conversion::Default(d, parser), Value::Null) => b.append(parser.parse(d)?),
        (Conversion::Default(..), v) => b.append(v),
        (_, Value::Null) => {
            b.append_null();
            Ok(())
        }
        (
            Conversion::Mask {
                how,
                head,
                tail,
                ch,
            },
            v,
        ) => {
            text.clear();
            FieldFormatter::utc_default().write(v, text)?;
            let masked = match how {
                MaskType::Sha256 => hex::encode(Sha256::digest(text.as_bytes())),
                MaskType::All => text.chars().map(|_| *ch).collect(),
                MaskType::Partial => {
                    let len = text.chars().count();
                    text.chars()
                        .enumerate()
                        .map(|(i, c)| {
                            if i < *head || i + *tail >= len {
                                c
                            } else {
                                *ch
                            }
                        })
                        .collect()
                }
            };
            b.append(Value::Str(&masked))
        }
        (
            Conversion::Cast {
                to,
                parser,
                formatter,
                name,
            },
            v,
        ) => {
            let err = |v: Value<'_>| anyhow!("column {name:?}: cannot cast {v:?} to {to}");
            match (to, v) {
                (ColumnType::String | ColumnType::Json | ColumnType::Decimal, Value::Str(s))
                    if *to == ColumnType::String =>
                {
                    b.append(Value::Str(s))
                }
                (ColumnType::String, v) => {
                    text.clear();
                    formatter.write(v, text)?;
                    b.append(Value::Str(text))
                }
                (_, Value::Str(s)) => b.append(match parser.parse(s)? {
                    Value::Str(s) if *to == ColumnType::Bytes => Value::Bytes(s.as_bytes()),
                    v => v,
                }),
                (ColumnType::Long, Value::Double(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => {
                    b.append(Value::Long(f as i64))
                }
                (ColumnType::Long, Value::Bool(x)) => b.append(Value::Long(x as i64)),
                (ColumnType::Long, Value::Micros(m)) => {
                    b.append(Value::Long(m.div_euclid(1_000_000)))
                }
                (ColumnType::Double, Value::Long(n)) => b.append(Value::Double(n as f64)),
                (ColumnType::Boolean, Value::Long(n)) => b.append(Value::Bool(n != 0)),
                (ColumnType::Timestamp, Value::Long(n)) => b.append(Value::Micros(
                    n.checked_mul(1_000_000).ok_or_else(|| err(v))?,
                )),
                (ColumnType::Timestamp, Value::Days(d)) => {
                    b.append(Value::Micros(d as i64 * 86_400_000_000))
                }
                (ColumnType::Date, Value::Micros(m)) => {
                    let wall = instant_to_wall(m, parser.tz)?;
                    b.append(Value::Days(wall.div_euclid(86_400_000_000) as i32))
                }
                (
                    ColumnType::Decimal | ColumnType::Json,
                    Value::Long(_) | Value::Double(_) | Value::Bool(_),
                ) => {
                    text.clear();
                    formatter.write(v, text)?;
                    b.append(Value::Str(text))
                }
                (t, v) if types::arrow_type(*t) == types::arrow_type(value_type(v)) => b.append(v),
                (_, v) => bail!(err(v)),
            }
        }
    }
}

fn value_type(v: Value<'_>) -> ColumnType {
    match v {
        Value::Bool(_) => ColumnType::Boolean,
        Value::Long(_) => ColumnType::Long,
        Value::Double(_) => ColumnType::Double,
        Value::Micros(_) => ColumnType::Timestamp,
        Value::Days(_) => ColumnType::Date,
        Value::Bytes(_) => ColumnType::Bytes,
        Value::Str(_) | Value::Null => ColumnType::String,
    }
}
