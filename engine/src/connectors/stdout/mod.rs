//! `out: {type: stdout}`: Embulk's standard stdout output, for trying a config on a
//! terminal. Each record is one line, as Embulk's `PagePrinter` prints it: the values
//! joined by `,` without quoting or escaping, NULL as nothing, booleans `true`/`false`,
//! doubles in their shortest form (`1.5`, `1.0`), timestamps as
//! `%Y-%m-%d %H:%M:%S.%6N %z` in the output's `timezone` (default UTC), JSON compact.
//! With `prints_column_names: true` the names come first, joined the same way.
//!
//! The writer takes any [`Write`], so tests read exactly what a terminal would show.
//! Nothing is transactional: what was printed stays printed.

use crate::shared::stats::{ByteCounter, CountingWriter};
use crate::shared::text::{DEFAULT_TIMESTAMP_FORMAT, FieldFormatter};
use crate::types::{ColumnView, Value};
use anyhow::{Context, Result, anyhow};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use hakobu_core::config::StdoutOutput;
use hakobu_core::zone::Zone;
use std::io::{BufWriter, Write};

/// An open stdout output.
pub struct StdoutWriter {
    out: BufWriter<CountingWriter<Box<dyn Write + Send>>>,
    names: Vec<String>,
    formatter: FieldFormatter,
    /// The line being formatted.
    line: String,
}

impl StdoutWriter {
    /// Prints to the process's standard output.
    pub fn open(c: &StdoutOutput, schema: SchemaRef, written: ByteCounter) -> Result<Self> {
        Self::to(c, schema, Box::new(std::io::stdout()), written)
    }

    /// Prints to `sink`; the column names first when the config asks for them.
    pub fn to(
        c: &StdoutOutput,
        schema: SchemaRef,
        sink: Box<dyn Write + Send>,
        written: ByteCounter,
    ) -> Result<Self> {
        let zone: Zone = c
            .zone()
            .parse()
            .map_err(|_| anyhow!("timezone: unknown time zone {:?}", c.zone()))?;
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let mut out = BufWriter::with_capacity(1 << 16, CountingWriter::new(sink, written));
        if c.prints_column_names.unwrap_or(false) {
            writeln!(out, "{}", names.join(","))?;
        }
        Ok(StdoutWriter {
            out,
            names,
            formatter: FieldFormatter::new(DEFAULT_TIMESTAMP_FORMAT, zone)?,
            line: String::new(),
        })
    }

    /// Prints one batch, a line per record.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let views = (0..batch.num_columns())
            .map(|i| ColumnView::of(&batch, i))
            .collect::<Result<Vec<_>>>()?;
        for row in 0..batch.num_rows() {
            self.line.clear();
            for (i, v) in views.iter().enumerate() {
                if i > 0 {
                    self.line.push(',');
                }
                match v.get(row) {
                    Value::Null => {}
                    value => self
                        .formatter
                        .write(value, &mut self.line)
                        .with_context(|| format!("column {:?}", self.names[i]))?,
                }
            }
            self.line.push('\n');
            self.out.write_all(self.line.as_bytes())?;
        }
        Ok(())
    }

    /// Flushes what is buffered.
    pub async fn commit(mut self) -> Result<()> {
        self.out.flush().context("writing to stdout")
    }

    /// Flushes too: the lines already formatted belong to records that were read.
    pub async fn abort(mut self) {
        let _ = self.out.flush();
    }
}
