//! `out: {type: file}`: CSV or JSON Lines, optionally gzip, into one file per run.
//!
//! The file is written under a temporary name and renamed at commit, so a failed run
//! never leaves a partial file where a downstream job would pick it up.

use super::csv_out::CsvStyle;
use crate::shared::files_root::{FileAccess, PathRefused};
use crate::shared::stats::{ByteCounter, CountingWriter};
use crate::shared::text::{DEFAULT_TIMESTAMP_FORMAT, FieldFormatter, chrono_format};
use crate::types::{ColumnView, Value, column_type};
use anyhow::{Context, Result, anyhow, bail};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use encoding_rs::Encoder;
use flate2::write::GzEncoder;
use hakobu_core::config::{
    Codec, ColumnType, CsvFormatter, FileOutput, FormatterConfig, JsonlFormatter, Newline,
};
use hakobu_core::zone::Zone;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Embulk's default `sequence_format`: task number, file number.
const DEFAULT_SEQUENCE: &str = "%03d.%02d.";

/// The output file name: `path_prefix` + sequence + `file_ext`.
pub fn output_path(c: &FileOutput, task: u32, file: u32) -> String {
    let seq = c.sequence_format.as_deref().unwrap_or(DEFAULT_SEQUENCE);
    format!(
        "{}{}{}",
        c.path_prefix,
        format_sequence(seq, &[task, file]),
        c.file_ext
    )
}

/// A tiny printf for `%d` / `%0Nd` with the given numbers in order.
fn format_sequence(fmt: &str, nums: &[u32]) -> String {
    let mut out = String::new();
    let mut args = nums.iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut width = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(*d);
            chars.next();
        }
        match chars.next() {
            Some('d') => {
                let n = args.next().copied().unwrap_or(0);
                let w: usize = width.trim_start_matches('0').parse().unwrap_or(0);
                if width.starts_with('0') {
                    out.push_str(&format!("{n:0w$}"));
                } else {
                    out.push_str(&format!("{n:w$}"));
                }
            }
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push_str(&width);
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// The file being written, counting the bytes that reach it.
type Counted = CountingWriter<File>;

enum Sink {
    Plain(BufWriter<Counted>),
    Gzip(GzEncoder<BufWriter<Counted>>),
    Bzip2(bzip2::write::BzEncoder<BufWriter<Counted>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Gzip(w) => w.write(buf),
            Sink::Bzip2(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Gzip(w) => w.flush(),
            Sink::Bzip2(w) => w.flush(),
        }
    }
}

impl Sink {
    fn finish(self) -> std::io::Result<()> {
        let mut inner = match self {
            Sink::Plain(w) => w,
            Sink::Gzip(w) => w.finish()?,
            Sink::Bzip2(w) => w.finish()?,
        };
        // No fsync: like `COPY TO` and Embulk, the rename only promises that a reader never
        // sees a partial file, not durability across a power loss (fsync doubled the time).
        inner.flush()
    }
}

enum Format {
    Csv {
        out: Sink,
        style: Box<CsvStyle>,
        /// `charset` when it is not UTF-8.
        encoder: Option<Box<Encoder>>,
    },
    Jsonl {
        out: Sink,
        newline: &'static [u8],
    },
    Parquet(Box<parquet::arrow::ArrowWriter<Counted>>),
}

/// An open file output.
pub struct FileWriter {
    format: Option<Format>,
    names: Vec<String>,
    types: Vec<ColumnType>,
    formatters: Vec<FieldFormatter>,
    tmp: PathBuf,
    path: PathBuf,
    /// The output's name as the config's author knows it (relative to the organization's
    /// folder when there is one), for messages.
    shown: String,
    /// The record being formatted.
    text: String,
    /// One value being formatted (a timestamp, a number) before it is quoted.
    value: String,
    /// The record in the formatter's charset, when that is not UTF-8.
    encoded: Vec<u8>,
}

/// Writes `text` to `out`, encoded when the formatter has a charset other than UTF-8.
fn put(
    out: &mut Sink,
    encoder: &mut Option<Box<Encoder>>,
    encoded: &mut Vec<u8>,
    text: &str,
) -> std::io::Result<()> {
    match encoder {
        None => out.write_all(text.as_bytes()),
        Some(encoder) => {
            encoded.clear();
            super::charset::encode_into(encoder, text, encoded, false);
            out.write_all(encoded)
        }
    }
}

/// Where the output goes: the final path and its temporary name, in a directory that
/// exists and, within a folder, was checked to be inside it after it was created.
fn place_output(access: &FileAccess, output: &str) -> Result<(PathBuf, PathBuf)> {
    let root = access.root()?;
    let refused = |e: PathRefused| anyhow!("path_prefix {output:?}: {e}");
    let path = match root {
        None => PathBuf::from(output),
        Some(root) => root.resolve(output).map_err(refused)?,
    };
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("path_prefix {output:?}: names a directory, not a file"))?
        .to_owned();
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| {
                format!(
                    "cannot create the directory of {output} ({})",
                    root.map_or_else(|| dir.display().to_string(), |r| r.shown(dir))
                )
            })?;
            match root {
                None => dir.to_path_buf(),
                // Again now that it exists: a directory made meanwhile by someone else
                // could be a link.
                Some(root) => root.check(dir).map_err(refused)?,
            }
        }
        None => PathBuf::new(),
    };
    let mut tmp_name = name.clone();
    tmp_name.push(".hakobu-tmp");
    Ok((dir.join(name), dir.join(tmp_name)))
}

/// Creates the temporary file new. A file left there by a crashed run is removed first;
/// creating with `create_new` never follows a link planted at that name (which would
/// truncate whatever it points to) and fails if one appears in between.
fn create_temporary(access: &FileAccess, tmp: &Path, shown: &str) -> Result<File> {
    match std::fs::remove_file(tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot replace {shown}.hakobu-tmp"));
        }
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
        .with_context(|| format!("cannot create {shown}.hakobu-tmp"))?;
    if let Some(root) = access.root()? {
        root.verify_opened(&file)
            .map_err(|e| anyhow!("path_prefix {shown:?}: {e}"))?;
    }
    Ok(file)
}

fn tz(name: Option<&str>) -> Result<Zone> {
    name.unwrap_or("UTC")
        .parse()
        .map_err(|_| anyhow!("unknown time zone {name:?}"))
}

impl FileWriter {
    /// Creates the temporary file and writes the header. `access` says where files may
    /// be written: with a files root, `path_prefix` is relative to it and must stay inside.
    /// What reaches the file is added to `written`.
    pub async fn open(
        c: &FileOutput,
        schema: SchemaRef,
        access: &FileAccess,
        written: ByteCounter,
    ) -> Result<Self> {
        let shown = output_path(c, 0, 0);
        let (path, tmp) = place_output(access, &shown)?;
        let file = CountingWriter::new(create_temporary(access, &tmp, &shown)?, written);
        if let FormatterConfig::Parquet(f) = &c.formatter {
            if !c.encoders.is_empty() {
                bail!("encoders: Parquet compresses inside the file; remove encoders");
            }
            let writer = super::parquet::writer(file, schema.clone(), f)?;
            return Ok(FileWriter {
                format: Some(Format::Parquet(Box::new(writer))),
                names: Vec::new(),
                types: Vec::new(),
                formatters: Vec::new(),
                tmp,
                path,
                shown,
                text: String::new(),
                value: String::new(),
                encoded: Vec::new(),
            });
        }
        let buffered = BufWriter::with_capacity(1 << 20, file);
        if c.encoders.len() > 1 {
            bail!("encoders: one codec at a time (gzip or bzip2); compressing twice gains nothing");
        }
        let sink = match c.encoders.first() {
            None => Sink::Plain(buffered),
            Some(e) => match e.type_ {
                Codec::Gzip => Sink::Gzip(GzEncoder::new(
                    buffered,
                    flate2::Compression::new(e.level.unwrap_or(6)),
                )),
                Codec::Bzip2 => Sink::Bzip2(bzip2::write::BzEncoder::new(
                    buffered,
                    bzip2::Compression::new(e.level.unwrap_or(9)),
                )),
            },
        };
        let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let types: Vec<ColumnType> = schema.fields().iter().map(|f| column_type(f)).collect();
        let (format, formatters) = match &c.formatter {
            FormatterConfig::Csv(f) => Self::csv(f, sink, &names)?,
            FormatterConfig::Jsonl(f) => Self::jsonl(f, sink, names.len())?,
            FormatterConfig::Parquet(_) => unreachable!("handled above"),
        };
        Ok(FileWriter {
            format: Some(format),
            names,
            types,
            formatters,
            tmp,
            path,
            shown,
            text: String::new(),
            value: String::new(),
            encoded: Vec::new(),
        })
    }

    fn csv(
        f: &CsvFormatter,
        sink: Sink,
        names: &[String],
    ) -> Result<(Format, Vec<FieldFormatter>)> {
        let style = CsvStyle::of(f);
        let mut out = sink;
        let mut encoder = super::charset::output_encoding(f.charset.as_deref())?
            .map(|e| Box::new(e.new_encoder()));
        if f.header_line.unwrap_or(true) {
            let mut line = String::new();
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    style.push_delimiter(&mut line);
                }
                style.push_value(name, &mut line);
            }
            line.push_str(style.newline_text());
            put(&mut out, &mut encoder, &mut Vec::new(), &line)?;
        }
        let default_tz = tz(f.default_timezone.as_deref())?;
        let formatters = names
            .iter()
            .map(|n| {
                let o = f.column_options.get(n);
                FieldFormatter::new(
                    &o.and_then(|o| o.format.as_deref())
                        .map(chrono_format)
                        .unwrap_or_else(|| DEFAULT_TIMESTAMP_FORMAT.to_owned()),
                    match o.and_then(|o| o.timezone.as_deref()) {
                        Some(z) => tz(Some(z))?,
                        None => default_tz,
                    },
                )
                .with_context(|| format!("column_options.{n}.format"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((
            Format::Csv {
                out,
                style: Box::new(style),
                encoder,
            },
            formatters,
        ))
    }

    fn jsonl(f: &JsonlFormatter, sink: Sink, n: usize) -> Result<(Format, Vec<FieldFormatter>)> {
        let formatter = FieldFormatter::new(
            &f.date_format
                .as_deref()
                .map(chrono_format)
                .unwrap_or_else(|| DEFAULT_TIMESTAMP_FORMAT.to_owned()),
            tz(f.timezone.as_deref())?,
        )
        .context("date_format")?;
        Ok((
            Format::Jsonl {
                out: sink,
                newline: f.newline.unwrap_or(Newline::Lf).bytes(),
            },
            vec![formatter; n],
        ))
    }

    /// Formats and writes one batch.
    pub async fn write(&mut self, batch: RecordBatch) -> Result<()> {
        let views = (0..batch.num_columns())
            .map(|i| ColumnView::of(&batch, i))
            .collect::<Result<Vec<_>>>()?;
        let text = &mut self.text;
        match self.format.as_mut().expect("open") {
            Format::Parquet(w) => w.write(&batch)?,
            Format::Csv {
                out,
                style,
                encoder,
            } => {
                for row in 0..batch.num_rows() {
                    text.clear();
                    for (i, v) in views.iter().enumerate() {
                        if i > 0 {
                            style.push_delimiter(text);
                        }
                        match v.get(row) {
                            Value::Null => text.push_str(&style.null),
                            Value::Str(s) => style.push_value(s, text),
                            other => {
                                let mut formatted = std::mem::take(&mut self.value);
                                formatted.clear();
                                self.formatters[i]
                                    .write(other, &mut formatted)
                                    .with_context(|| format!("column {:?}", self.names[i]))?;
                                style.push_value(&formatted, text);
                                self.value = formatted;
                            }
                        }
                    }
                    text.push_str(style.newline_text());
                    put(out, encoder, &mut self.encoded, text)?;
                }
            }
            Format::Jsonl { out, newline } => {
                for row in 0..batch.num_rows() {
                    text.clear();
                    text.push('{');
                    for (i, v) in views.iter().enumerate() {
                        if i > 0 {
                            text.push(',');
                        }
                        text.push_str(&serde_json::to_string(&self.names[i])?);
                        text.push(':');
                        match (v.get(row), self.types[i]) {
                            (Value::Null, _) => text.push_str("null"),
                            // JSON and exact decimals are written verbatim, not re-encoded.
                            (Value::Str(s), ColumnType::Json | ColumnType::Decimal) => {
                                text.push_str(s)
                            }
                            (Value::Str(s), _) => text.push_str(&serde_json::to_string(s)?),
                            (Value::Bool(b), _) => text.push_str(if b { "true" } else { "false" }),
                            (Value::Long(n), _) => text.push_str(&n.to_string()),
                            (Value::Double(f), _) if f.is_finite() => {
                                text.push_str(&format!("{f:?}"))
                            }
                            (other, _) => {
                                let mut s = String::new();
                                self.formatters[i].write(other, &mut s)?;
                                text.push_str(&serde_json::to_string(&s)?);
                            }
                        }
                    }
                    text.push('}');
                    out.write_all(text.as_bytes())?;
                    out.write_all(newline)?;
                }
            }
        }
        Ok(())
    }

    /// Flushes, syncs and moves the file to its final name.
    pub async fn commit(mut self) -> Result<()> {
        let sink = match self.format.take().expect("open") {
            Format::Csv {
                mut out,
                encoder: Some(mut encoder),
                ..
            } => {
                // A stateful charset (ISO-2022-JP) ends in ASCII.
                let mut end = Vec::new();
                super::charset::encode_into(&mut encoder, "", &mut end, true);
                out.write_all(&end)?;
                out
            }
            Format::Csv { out, .. } => out,
            Format::Jsonl { out, .. } => out,
            Format::Parquet(w) => {
                w.close()
                    .with_context(|| format!("writing {} failed", self.shown))?;
                return self.rename();
            }
        };
        sink.finish()
            .with_context(|| format!("writing {} failed", self.shown))?;
        self.rename()
    }

    /// Gives the temporary file its final name (a rename replaces a link there rather
    /// than writing through it).
    fn rename(&self) -> Result<()> {
        std::fs::rename(&self.tmp, &self.path)
            .with_context(|| format!("cannot rename to {}", self.shown))
    }

    /// Removes the temporary file.
    pub async fn abort(mut self) {
        self.format.take();
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sequence_format() {
        assert_eq!(super::format_sequence("%03d.%02d.", &[0, 1]), "000.01.");
        assert_eq!(super::format_sequence("_%d", &[7]), "_7");
    }
}
