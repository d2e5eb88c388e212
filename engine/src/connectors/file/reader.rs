//! `in: {type: file}`: every file under `path_prefix` (sorted, after `last_path`, matching
//! `path_match_pattern`) is one task; up to `exec.max_threads` files are parsed at once.
//!
//! Parsing is synchronous (csv, flate2), so each file is read on a blocking thread and
//! hands batches to the async pipeline with `blocking_send`.

use super::prescan::{CsvPrescan, Oversized, QuotedEmpties, Quoting};
use crate::shared::files_root::{FileAccess, PathRefused};
use crate::shared::source::{Source, Task, TaskState};
use crate::shared::stats::Expected;
use crate::shared::stats::Stats;
use crate::shared::text::{FieldParser, chrono_format};
use crate::types::{self, BatchBuilder, Value};
use anyhow::{Context, Result, anyhow, bail};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use chrono::NaiveDate;
use flate2::read::MultiGzDecoder;
use futures::FutureExt;
use hakobu_core::config::{
    Codec, CsvParser, FileInput, JsonParser, JsonlParser, Newline, ParserConfig, SchemaColumn,
};
use hakobu_core::files;
use hakobu_core::zone::Zone;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc::Sender;

/// A file a source reads: where it is on the disk, and its name as the person who wrote
/// the config knows it (the path as written; with a files root, relative to the
/// organization's folder). Patterns, `last_path` and messages use the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    pub path: PathBuf,
    pub shown: String,
}

/// Files under `prefix` in path order; the directory part of the prefix is walked
/// recursively, as Embulk's local file input does.
///
/// Symbolic links are not followed. Within an organization's folder, a link the prefix
/// matches that leads outside stops the listing: a tenant who planted it learns it is
/// refused, rather than their run quietly reading nothing.
pub fn list_files(
    access: &FileAccess,
    prefix: &str,
    pattern: Option<&regex::Regex>,
    last_path: Option<&str>,
) -> Result<Vec<ListedFile>> {
    let unbounded = ListingBound {
        max_entries: usize::MAX,
        deadline: None,
    };
    Ok(list_files_bounded(access, prefix, pattern, last_path, &unbounded)?.0)
}

/// How far a listing for a person goes (the wizard's "find files"): at most this many
/// files, walking no longer than until the deadline.
#[derive(Debug, Clone)]
pub struct ListingBound {
    pub max_entries: usize,
    pub deadline: Option<std::time::Instant>,
}

/// [`list_files`] within `bound`; the second value says whether the walk stopped at it
/// (the files found are then the first ones walked, not the first in path order).
pub fn list_files_bounded(
    access: &FileAccess,
    prefix: &str,
    pattern: Option<&regex::Regex>,
    last_path: Option<&str>,
    bound: &ListingBound,
) -> Result<(Vec<ListedFile>, bool)> {
    let root = access.root()?;
    // Within a folder the prefix is matched in the tenant's terms: relative and
    // normalized, so `./exports/day_` finds `exports/day_1.csv`.
    let prefix = match root {
        Some(_) => {
            files::check_relative(prefix).map_err(|e| anyhow!("path_prefix {prefix:?}: {e}"))?;
            files::normalize(prefix)
        }
        None => prefix.to_owned(),
    };
    // A prefix without a directory (`sample.csv`, as people write for the folder they run
    // in) lists `.`, whose entries read `./sample.csv`: they are matched without the `./`.
    let implicit_dot = root.is_none()
        && !prefix.ends_with('/')
        && Path::new(&prefix)
            .parent()
            .is_none_or(|p| p.as_os_str().is_empty());
    let (start, start_shown) = match root {
        None => {
            let dir = if prefix.ends_with('/') {
                PathBuf::from(&prefix)
            } else {
                Path::new(&prefix)
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."))
            };
            let shown = dir.display().to_string();
            (dir, shown)
        }
        Some(root) => {
            let dir = match prefix.rsplit_once('/') {
                Some((dir, _)) => dir.to_owned(),
                None => String::new(),
            };
            let physical = root
                .resolve(&dir)
                .map_err(|e| anyhow!("path_prefix {prefix:?}: {e}"))?;
            (physical, dir)
        }
    };
    // A child's name: as the disk says without a root (as before); within a folder, the
    // parent's name as the tenant wrote it plus the entry's, which stays right when a
    // directory of the prefix is a link to another place in the folder.
    let child_shown = |parent: &str, path: &Path| match root {
        None if implicit_dot => {
            let shown = path.to_string_lossy();
            shown.strip_prefix("./").unwrap_or(&shown).to_owned()
        }
        None => path.to_string_lossy().into_owned(),
        Some(_) => {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if parent.is_empty() {
                name.into_owned()
            } else {
                format!("{parent}/{name}")
            }
        }
    };
    let mut out = Vec::new();
    let mut truncated = false;
    let mut stack = vec![(start.clone(), start_shown.clone())];
    'walk: while let Some((d, d_shown)) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if d == start && e.kind() == std::io::ErrorKind::NotFound => {
                let named = if start_shown.is_empty() {
                    "."
                } else {
                    &start_shown
                };
                bail!("path_prefix: directory {named} does not exist")
            }
            Err(e) => {
                let named = if d_shown.is_empty() { "." } else { &d_shown };
                return Err(e).with_context(|| format!("cannot list {named}"));
            }
        };
        for entry in entries {
            if out.len() >= bound.max_entries
                || bound
                    .deadline
                    .is_some_and(|d| std::time::Instant::now() >= d)
            {
                truncated = true;
                break 'walk;
            }
            let entry = entry?;
            let path = entry.path();
            let ft = entry.file_type()?;
            let s = child_shown(&d_shown, &path);
            if ft.is_dir() {
                if s.starts_with(&prefix) || prefix.starts_with(&*format!("{s}/")) {
                    stack.push((path, s));
                }
                continue;
            }
            let wanted = s.starts_with(&prefix)
                && !s.ends_with(".hakobu-tmp")
                && pattern.is_none_or(|p| p.is_match(&s))
                && last_path.is_none_or(|l| *s > *l);
            if !wanted {
                continue;
            }
            if ft.is_file() {
                out.push(ListedFile { path, shown: s });
            } else if ft.is_symlink()
                && let Some(root) = root
            {
                root.check(&path).map_err(|e| anyhow!("{s}: {e}"))?;
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((out, truncated))
}

/// Opens a listed file for reading, within the folder when there is one: checked before
/// opening (canonical path inside) and after (what the descriptor really is).
pub fn open_listed(access: &FileAccess, file: &ListedFile) -> Result<File> {
    let refused = |e: PathRefused| anyhow!("{}: {e}", file.shown);
    match access.root()? {
        None => File::open(&file.path).with_context(|| format!("cannot open {}", file.shown)),
        Some(root) => {
            let canonical = root.check(&file.path).map_err(refused)?;
            let opened =
                File::open(&canonical).with_context(|| format!("cannot open {}", file.shown))?;
            root.verify_opened(&opened).map_err(refused)?;
            Ok(opened)
        }
    }
}

fn parsers(
    columns: &[SchemaColumn],
    default_tz: Option<&str>,
    default_format: Option<&str>,
    default_date: Option<&str>,
) -> Result<Vec<FieldParser>> {
    let default_tz: Zone = default_tz
        .unwrap_or("UTC")
        .parse()
        .map_err(|_| anyhow!("unknown time zone {default_tz:?}"))?;
    let day = |d: &str| {
        NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| anyhow!("{d:?} is not a date; expected YYYY-MM-DD"))
    };
    // Embulk's default_date.
    let default_date = day(default_date.unwrap_or("1970-01-01"))?;
    columns
        .iter()
        .map(|c| {
            Ok(FieldParser {
                name: c.name.clone(),
                type_: c.type_,
                format: c.format.as_deref().or(default_format).map(chrono_format),
                tz: match &c.timezone {
                    Some(z) => z.parse().map_err(|_| anyhow!("unknown time zone {z:?}"))?,
                    None => default_tz,
                },
                date: Some(match &c.date {
                    Some(d) => day(d).with_context(|| format!("column {:?}: date", c.name))?,
                    None => default_date,
                }),
            })
        })
        .collect()
}

/// Opens the source: lists the files and plans one task per file.
pub async fn open(c: &FileInput, access: &FileAccess) -> Result<Source> {
    let pattern = c
        .path_match_pattern
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .context("path_match_pattern: not a valid regular expression")?;
    let files = list_files(
        access,
        &c.path_prefix,
        pattern.as_ref(),
        c.last_path.as_deref(),
    )?;
    let columns = match &c.parser {
        ParserConfig::Csv(p) => {
            super::charset::encoding(p.charset.as_deref())?;
            p.columns.clone()
        }
        ParserConfig::Jsonl(p) => {
            super::charset::encoding(p.charset.as_deref())?;
            p.columns.clone()
        }
        ParserConfig::Json(p) => {
            super::charset::encoding(p.charset.as_deref())?;
            p.schema()
        }
        ParserConfig::Parquet(p) => {
            if !c.decoders.is_empty() {
                bail!("decoders: Parquet files are compressed inside; remove decoders");
            }
            match (p.columns.is_empty(), files.first()) {
                (false, _) => p.columns.clone(),
                (true, Some(first)) => super::parquet::file_columns(
                    open_listed(access, first)?,
                    Path::new(&first.shown),
                )?,
                (true, None) => bail!(
                    "parser.columns: no file matched, so there is no Parquet schema to read; list the columns"
                ),
            }
        }
    };
    let schema = types::schema(
        &columns
            .iter()
            .map(|c| (c.name.clone(), c.type_))
            .collect::<Vec<_>>(),
    );
    let decoders: Vec<Codec> = c.decoders.iter().map(|d| d.type_).collect();
    // A file that cannot be looked at now fails when it is read, with its own message.
    let expected = Expected {
        rows: None,
        bytes: files
            .iter()
            .map(|f| std::fs::symlink_metadata(&f.path).ok().map(|m| m.len()))
            .sum(),
    };
    let tasks = files
        .into_iter()
        .map(|listed| {
            let parser = c.parser.clone();
            let schema = schema.clone();
            let access = access.clone();
            let decoders = decoders.clone();
            let task: Task = Box::new(move |tx, stats| {
                async move {
                    let shown = listed.shown.clone();
                    tokio::task::spawn_blocking(move || {
                        let file = open_listed(&access, &listed)?;
                        read_file(
                            file,
                            Path::new(&listed.shown),
                            &decoders,
                            &parser,
                            schema,
                            &tx,
                            &stats,
                        )
                    })
                    .await
                    .context("file reader panicked")??;
                    Ok(TaskState {
                        last_record: None,
                        last_path: Some(shown),
                    })
                }
                .boxed()
            });
            task
        })
        .collect();
    Ok(Source {
        schema,
        tasks,
        expected,
    })
}

/// Counts bytes as they are read, for progress.
struct Counting<R> {
    inner: R,
    bytes: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
}

/// The file's bytes through `decoders` in the order the config lists them (the outermost
/// compression first, as Embulk applies them). Concatenated members are read to the end
/// for both codecs (`cat a.gz b.gz`, `pbzip2` output).
fn open_reader(file: File, decoders: &[Codec]) -> Box<dyn Read + Send> {
    let mut reader: Box<dyn Read + Send> = Box::new(BufReader::with_capacity(1 << 20, file));
    for codec in decoders {
        reader = match codec {
            Codec::Gzip => Box::new(MultiGzDecoder::new(BufReader::new(reader))),
            Codec::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(BufReader::new(reader))),
        };
    }
    reader
}

fn send(tx: &Sender<RecordBatch>, builder: &mut BatchBuilder) -> Result<()> {
    let batch = builder.finish()?;
    tx.blocking_send(batch)
        .map_err(|_| anyhow!("the destination stopped"))
}

/// Parses an opened file; `path` is its name in messages (see [`ListedFile::shown`]).
pub(crate) fn read_file(
    file: File,
    path: &Path,
    decoders: &[Codec],
    parser: &ParserConfig,
    schema: SchemaRef,
    tx: &Sender<RecordBatch>,
    stats: &Arc<Stats>,
) -> Result<()> {
    let text = |file: File, charset: Option<&str>| -> Result<Box<dyn Read + Send>> {
        let raw = open_reader(file, decoders);
        Ok(match super::charset::encoding(charset)? {
            Some(encoding) => Box::new(super::charset::Transcode::new(raw, encoding)),
            None => raw,
        })
    };
    match parser {
        ParserConfig::Csv(p) => read_csv(
            path,
            text(file, p.charset.as_deref())?,
            p,
            schema,
            tx,
            stats,
        ),
        ParserConfig::Jsonl(p) => read_jsonl(
            path,
            text(file, p.charset.as_deref())?,
            p,
            schema,
            tx,
            stats,
        ),
        ParserConfig::Json(p) => read_json(
            path,
            text(file, p.charset.as_deref())?,
            p,
            schema,
            tx,
            stats,
        ),
        ParserConfig::Parquet(_) => super::parquet::read(file, path, schema, tx, stats),
    }
}

/// A row that could not be parsed: skipped and counted, or fatal with
/// `stop_on_invalid_record`.
fn invalid(stop: bool, stats: &Stats, path: &Path, line: u64, why: String) -> Result<()> {
    let reason = format!("{}:{line}: {why}", path.display());
    if stop {
        bail!("invalid record at {reason} (stop_on_invalid_record is true)");
    }
    stats.skip(reason);
    Ok(())
}

/// Whether the record starting on `line` had a quoted value over the limit. The prescan
/// has scanned every byte of a record before the csv crate returns it, and notes lines
/// in file order, so earlier entries (skipped header lines) are dropped on the way.
fn starts_oversized(oversized: &Oversized, line: u64) -> bool {
    let mut lines = oversized.lock().expect("not poisoned");
    while lines.front().is_some_and(|l| *l < line) {
        lines.pop_front();
    }
    lines.front() == Some(&line) && lines.pop_front().is_some()
}

/// The reader's side of the prescan's [`QuotedEmpties`]: notes are taken over in bulk,
/// so most questions need no lock.
struct QuotedEmptyLookup {
    shared: QuotedEmpties,
    local: VecDeque<(u64, u32)>,
}

impl QuotedEmptyLookup {
    /// Whether field `field` of the record starting on `line` was written `""`. Notes of
    /// earlier lines are dropped on the way (records are read in order).
    fn was_quoted(&mut self, line: u64, field: usize) -> bool {
        while self.local.front().is_some_and(|(l, _)| *l < line) {
            self.local.pop_front();
        }
        // Notes of this line may still be in the shared queue unless a later line's are
        // already here (the prescan notes in file order, and has scanned this record).
        if self.local.back().is_none_or(|(l, _)| *l <= line) {
            self.local
                .extend(self.shared.lock().expect("not poisoned").drain(..));
            while self.local.front().is_some_and(|(l, _)| *l < line) {
                self.local.pop_front();
            }
        }
        self.local
            .iter()
            .take_while(|(l, _)| *l == line)
            .any(|(_, f)| *f as usize == field)
    }
}

fn read_csv(
    path: &Path,
    input: Box<dyn Read + Send>,
    p: &CsvParser,
    schema: SchemaRef,
    tx: &Sender<RecordBatch>,
    stats: &Arc<Stats>,
) -> Result<()> {
    let fields = parsers(
        &p.columns,
        p.default_timezone.as_deref(),
        p.default_timestamp_format.as_deref(),
        p.default_date.as_deref(),
    )?;
    let quote = p.quote.as_deref().map(|q| q.bytes().next());
    // The csv crate reads either doubled quotes (RFC 4180) or an escape character, not
    // both as Embulk does. Doubled quotes are what most files use, so they are the
    // default; an explicit `escape: "\\"` switches to backslash escapes.
    let escape = p.escape.as_deref().and_then(|e| e.bytes().next());
    let quote_byte = quote.flatten().unwrap_or(b'"');
    let backslash = escape.is_some_and(|e| e != quote_byte);
    let quoting = !matches!(quote, Some(None));
    let delimiter = p
        .delimiter
        .as_deref()
        .and_then(|d| d.bytes().next())
        .unwrap_or(b',');
    let trim = p.trim_if_not_quoted.unwrap_or(false);
    let cr_as_lf = p.newline == Some(Newline::Cr);
    let comment = p
        .comment_line_marker
        .as_deref()
        .and_then(|c| c.bytes().next());
    // Embulk's default limit of a quoted value.
    let limit = p.max_quoted_size_limit.unwrap_or(131_072);
    let oversized = Oversized::default();
    let null_string = p.null_string.as_deref();
    // Without null_string, an empty field is NULL unless it was written `""` (Embulk's
    // rule); the prescan notes those, as the csv crate gives both as "".
    let quoted_empties = (quoting && null_string.is_none()).then(QuotedEmpties::default);
    let mut quoted_lookup = quoted_empties.clone().map(|shared| QuotedEmptyLookup {
        shared,
        local: VecDeque::new(),
    });
    // Every quoted CSV goes through the prescan, which is what finds quoted values over
    // the limit (the csv crate does not say which values were quoted).
    let input: Box<dyn Read + Send> = if trim || cr_as_lf || quoting {
        let rules = Quoting {
            quote: quoting.then_some(quote_byte),
            escape: if backslash { escape } else { None },
            delimiter,
        };
        let mut prescan = CsvPrescan::new(input, rules, trim, cr_as_lf)
            .with_quoted_size_limit(
                usize::try_from(limit).unwrap_or(usize::MAX),
                oversized.clone(),
            )
            .with_comment_marker(comment);
        if let Some(empties) = &quoted_empties {
            prescan = prescan.with_quoted_empties(empties.clone());
        }
        Box::new(prescan)
    } else {
        input
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .quote(quote.flatten().unwrap_or(b'"'))
        .quoting(quoting)
        .double_quote(!backslash)
        .escape(if backslash { escape } else { None })
        .comment(comment)
        .from_reader(Counting {
            inner: input,
            bytes: 0,
        });
    let skip = p
        .skip_header_lines
        .unwrap_or(if p.header_line.unwrap_or(false) { 1 } else { 0 }) as u64;
    let stop = p.stop_on_invalid_record.unwrap_or(false);
    let allow_optional = p.allow_optional_columns.unwrap_or(false);
    let allow_extra = p.allow_extra_columns.unwrap_or(false);
    let n = fields.len();
    let mut builder = BatchBuilder::new(schema);
    let mut record = csv::StringRecord::new();
    let mut index = 0u64;
    let mut last_bytes = 0;
    loop {
        let line = reader.position().line();
        let more = match reader.read_record(&mut record) {
            Ok(more) => more,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                if stop || !matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                    bail!("{}:{line}: {e}", path.display());
                }
                invalid(stop, stats, path, line, e.to_string())?;
                continue;
            }
        };
        if !more {
            break;
        }
        index += 1;
        if index <= skip {
            continue;
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        stats.add_read(1, 0);
        if starts_oversized(&oversized, line) {
            invalid(
                stop,
                stats,
                path,
                line,
                format!("a quoted value is longer than max_quoted_size_limit ({limit} bytes)"),
            )?;
            continue;
        }
        if record.len() < n && !allow_optional {
            invalid(
                stop,
                stats,
                path,
                line,
                format!("expected {n} columns, got {}", record.len()),
            )?;
            continue;
        }
        if record.len() > n && !allow_extra {
            invalid(
                stop,
                stats,
                path,
                line,
                format!("expected {n} columns, got {}", record.len()),
            )?;
            continue;
        }
        let mut values: Vec<Value<'_>> = Vec::with_capacity(n);
        let mut error = None;
        for (i, f) in fields.iter().enumerate() {
            let v = match record.get(i) {
                None => Value::Null,
                Some(s) if Some(s) == null_string => Value::Null,
                Some("")
                    if null_string.is_none()
                        && !quoted_lookup
                            .as_mut()
                            .is_some_and(|q| q.was_quoted(line, i)) =>
                {
                    Value::Null
                }
                Some(s) => match f.parse(s) {
                    Ok(Value::Str(s)) if f.type_ == hakobu_core::config::ColumnType::Bytes => {
                        Value::Bytes(s.as_bytes())
                    }
                    Ok(v) => v,
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                },
            };
            values.push(v);
        }
        if let Some(why) = error {
            invalid(stop, stats, path, line, why)?;
            continue;
        }
        for (col, v) in builder.columns().iter_mut().zip(values.drain(..)) {
            col.append(v)?;
        }
        builder.end_row();
        if builder.is_full() {
            // Notes no empty value asked for (`""""`, `""x`) go with their batch.
            if let Some(q) = quoted_lookup.as_mut() {
                q.was_quoted(line, usize::MAX);
            }
            let bytes = reader.get_ref().bytes;
            stats.add_read(0, bytes - last_bytes);
            last_bytes = bytes;
            send(tx, &mut builder)?;
        }
    }
    stats.add_read(0, reader.get_ref().bytes - last_bytes);
    if !builder.is_empty() {
        send(tx, &mut builder)?;
    }
    Ok(())
}

fn read_jsonl(
    path: &Path,
    input: Box<dyn Read + Send>,
    p: &JsonlParser,
    schema: SchemaRef,
    tx: &Sender<RecordBatch>,
    stats: &Arc<Stats>,
) -> Result<()> {
    let fields = parsers(&p.columns, p.default_timezone.as_deref(), None, None)?;
    let stop = p.stop_on_invalid_record.unwrap_or(false);
    let mut builder = BatchBuilder::new(schema);
    let mut reader = BufReader::new(Counting {
        inner: input,
        bytes: 0,
    });
    let mut line = String::new();
    let mut number = 0u64;
    let mut texts: Vec<Option<String>> = Vec::with_capacity(fields.len());
    loop {
        line.clear();
        if reader
            .read_line(&mut line)
            .with_context(|| format!("{}:{}", path.display(), number + 1))?
            == 0
        {
            break;
        }
        number += 1;
        if line.trim().is_empty() {
            continue;
        }
        stats.add_read(1, line.len() as u64);
        let object = match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&line)
        {
            Ok(o) => o,
            Err(e) => {
                invalid(stop, stats, path, number, format!("not a JSON object: {e}"))?;
                continue;
            }
        };
        if let Err(e) = append_object(&fields, &object, &mut texts, &mut builder)? {
            invalid(stop, stats, path, number, e.to_string())?;
            continue;
        }
        if builder.is_full() {
            send(tx, &mut builder)?;
        }
    }
    if !builder.is_empty() {
        send(tx, &mut builder)?;
    }
    Ok(())
}

/// One object as a row of `fields` (by key). The outer error is the batch's; the inner
/// one a value that does not fit its column (an invalid record).
fn append_object(
    fields: &[FieldParser],
    object: &serde_json::Map<String, serde_json::Value>,
    texts: &mut Vec<Option<String>>,
    builder: &mut BatchBuilder,
) -> Result<Result<()>> {
    texts.clear();
    for f in fields {
        texts.push(match object.get(&f.name) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s))
                if f.type_ != hakobu_core::config::ColumnType::Json =>
            {
                Some(s.clone())
            }
            Some(other) => Some(other.to_string()),
        });
    }
    let parsed: Result<Vec<Value<'_>>> = fields
        .iter()
        .zip(texts.iter())
        .map(|(f, t)| match t {
            None => Ok(Value::Null),
            Some(s) if f.type_ == hakobu_core::config::ColumnType::Bytes => {
                Ok(Value::Bytes(s.as_bytes()))
            }
            Some(s) => f.parse(s),
        })
        .collect();
    match parsed {
        Ok(values) => {
            for (col, v) in builder.columns().iter_mut().zip(values) {
                col.append(v)?;
            }
            builder.end_row();
            Ok(Ok(()))
        }
        Err(e) => Ok(Err(e)),
    }
}

/// Embulk's `json` parser: a stream of JSON values, each object (or, with
/// `flatten_json_array`, each object of an array) one row. Without listed columns the row
/// is the whole object as the `record` column. Values are numbered for messages in the
/// order they appear, as a value may span lines.
fn read_json(
    path: &Path,
    input: Box<dyn Read + Send>,
    p: &JsonParser,
    schema: SchemaRef,
    tx: &Sender<RecordBatch>,
    stats: &Arc<Stats>,
) -> Result<()> {
    let whole_record = p.columns.is_empty();
    let fields = parsers(&p.schema(), p.default_timezone.as_deref(), None, None)?;
    let stop = p.stop_on_invalid_record.unwrap_or(false);
    let flatten = p.flatten_json_array.unwrap_or(false);
    let root = p.root.as_deref().unwrap_or("");
    let mut builder = BatchBuilder::new(schema);
    let mut texts: Vec<Option<String>> = Vec::with_capacity(fields.len());
    let mut values = serde_json::Deserializer::from_reader(BufReader::new(input))
        .into_iter::<serde_json::Value>();
    let mut number = 0u64;
    let mut offset = 0usize;
    loop {
        let value = match values.next() {
            None => break,
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                // Nothing after an unreadable value can be found again reliably.
                stats.add_read(1, 0);
                invalid(stop, stats, path, number + 1, format!("not JSON: {e}"))?;
                break;
            }
        };
        number += 1;
        stats.add_read(0, (values.byte_offset() - offset) as u64);
        offset = values.byte_offset();
        let Some(at_root) = value.pointer(root) else {
            stats.add_read(1, 0);
            invalid(stop, stats, path, number, format!("nothing at root {root}"))?;
            continue;
        };
        let records: Vec<&serde_json::Value> = match at_root {
            serde_json::Value::Array(items) if flatten => items.iter().collect(),
            other => vec![other],
        };
        for record in records {
            stats.add_read(1, 0);
            let Some(object) = record.as_object() else {
                invalid(stop, stats, path, number, "not a JSON object".to_owned())?;
                continue;
            };
            if whole_record {
                builder.columns()[0].append(fields[0].parse(&record.to_string())?)?;
                builder.end_row();
            } else if let Err(e) = append_object(&fields, object, &mut texts, &mut builder)? {
                invalid(stop, stats, path, number, e.to_string())?;
                continue;
            }
            if builder.is_full() {
                send(tx, &mut builder)?;
            }
        }
    }
    if !builder.is_empty() {
        send(tx, &mut builder)?;
    }
    Ok(())
}
