//! Guessing a file's format and columns from its first bytes, as Embulk's `guess` does: the
//! wizard fills the source's format settings and columns with it, and the analyst adjusts
//! them instead of typing every column.
//!
//! Everything here works on bytes already read within the budgets of [`crate::limits`]
//! (at most [`GUESS_MAX_BYTES`], [`GUESS_MAX_ROWS`] rows, [`GUESS_MAX_COLUMNS`] columns);
//! reading them is `files`' part.
//!
//! - Parquet: by the `.parquet` name or the `PAR1` magic; the columns come from the footer.
//! - gzip: by the `.gz` name or the `1f 8b` magic; the sample is decompressed, bounded.
//! - JSONL: the sample's lines are JSON objects; columns are their keys, in first-seen order.
//! - CSV otherwise: the delimiter among `,` tab `;` `|` whose rows have the same number of
//!   fields, the quote (`"` or `'`), leading lines that are not rows (`skip_header_lines`),
//!   and whether the first row names the columns.
//!
//! Types are guessed from the values as Embulk does: every value a whole number is `long`,
//! a number `double`, `true`/`false` (and yes/no, on/off) `boolean`, a time in one of the
//! usual forms `timestamp` with its format, anything else `string`; empty values count for
//! nothing.

use crate::limits::{GUESS_MAX_BYTES, GUESS_MAX_COLUMNS, GUESS_MAX_ROWS};
use crate::shared::text::FieldParser;
use hakobu_core::config::ColumnType;
use serde::{Deserialize, Serialize};
use std::io::Read;

/// The formats a guess tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuessedFormat {
    Csv,
    Jsonl,
    Parquet,
}

/// One guessed column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuessedColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: ColumnType,
    /// The format of a timestamp column's text (Embulk's strftime dialect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// What a sample of text says about its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextGuess {
    pub format: GuessedFormat,
    /// CSV: the character between values.
    pub delimiter: String,
    /// CSV: the quote character.
    pub quote: String,
    /// CSV: lines before the rows (titles, notes), not counting the header line.
    pub skip_header_lines: u32,
    /// CSV: the first row names the columns.
    pub header_line: bool,
    pub columns: Vec<GuessedColumn>,
}

/// Whether a file is gzip-compressed, by its name or its first bytes.
pub fn looks_gzip(name: &str, head: &[u8]) -> bool {
    name.to_ascii_lowercase().ends_with(".gz") || head.starts_with(&[0x1f, 0x8b])
}

/// Whether a file is Parquet, by its name or its first bytes.
pub fn looks_parquet(name: &str, head: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".parquet") || lower.ends_with(".parq") || head.starts_with(b"PAR1")
}

/// The sample as text: `raw` (the first bytes of the file, `whole` when that is all of it)
/// decompressed when `gzip`, at most [`GUESS_MAX_BYTES`] of it, cut after its last complete
/// line unless the file ended within it. A gzip stream cut short or broken ends the sample
/// where it breaks.
pub fn sample_text(raw: &[u8], whole: bool, gzip: bool) -> Vec<u8> {
    let (mut bytes, ended) = if gzip {
        let mut out = Vec::new();
        let mut decoder = flate2::read::MultiGzDecoder::new(raw).take(GUESS_MAX_BYTES as u64 + 1);
        let clean = decoder.read_to_end(&mut out).is_ok();
        let ended = whole && clean && out.len() <= GUESS_MAX_BYTES;
        out.truncate(GUESS_MAX_BYTES);
        (out, ended)
    } else {
        let n = raw.len().min(GUESS_MAX_BYTES);
        (raw[..n].to_vec(), whole && raw.len() <= GUESS_MAX_BYTES)
    };
    if !ended && let Some(last) = bytes.iter().rposition(|b| *b == b'\n') {
        bytes.truncate(last + 1);
    }
    bytes
}

/// Guesses JSONL or CSV, and the columns, from a sample of text.
pub fn guess_text(sample: &[u8]) -> Result<TextGuess, String> {
    if sample.iter().take(4096).filter(|b| **b == 0).count() > 8 {
        return Err(
            "the file does not look like text (CSV or JSON lines), nor like Parquet".to_owned(),
        );
    }
    let text = String::from_utf8_lossy(sample);
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err("the file is empty: there are no rows to guess columns from".to_owned());
    }
    if text.trim_start().starts_with('{')
        && let Some(guess) = guess_jsonl(text)?
    {
        return Ok(guess);
    }
    guess_csv(text)
}

/// JSON lines, when most of the sample's lines are objects.
fn guess_jsonl(text: &str) -> Result<Option<TextGuess>, String> {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(GUESS_MAX_ROWS)
        .collect();
    let objects: Vec<Vec<(String, serde_json::Value)>> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Ordered>(l).ok().map(|o| o.0))
        .collect();
    if objects.is_empty() || objects.len() * 10 < lines.len() * 9 {
        return Ok(None);
    }
    let mut names: Vec<String> = Vec::new();
    for object in &objects {
        for (key, _) in object {
            if !names.contains(key) {
                if names.len() == GUESS_MAX_COLUMNS {
                    return Err(too_many_columns());
                }
                names.push(key.clone());
            }
        }
    }
    let columns = names
        .into_iter()
        .map(|name| {
            let values: Vec<&serde_json::Value> = objects
                .iter()
                .filter_map(|o| o.iter().find(|(k, _)| *k == name).map(|(_, v)| v))
                .collect();
            let (type_, format) = json_type(&values);
            GuessedColumn {
                name,
                type_,
                format,
            }
        })
        .collect();
    Ok(Some(TextGuess {
        format: GuessedFormat::Jsonl,
        delimiter: ",".to_owned(),
        quote: "\"".to_owned(),
        skip_header_lines: 0,
        header_line: false,
        columns,
    }))
}

/// A JSON object's members in the order the line has them (a `serde_json::Map` sorts
/// them), so guessed columns come in the file's order.
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(member) = m.next_entry::<String, serde_json::Value>()? {
                    out.push(member);
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(Members)
    }
}

/// The type of a JSON key's values: numbers, booleans and nested values by their JSON
/// kind, strings by their text.
fn json_type(values: &[&serde_json::Value]) -> (ColumnType, Option<String>) {
    use serde_json::Value as J;
    let present: Vec<&&J> = values.iter().filter(|v| !v.is_null()).collect();
    if present.is_empty() {
        return (ColumnType::String, None);
    }
    if present.iter().all(|v| v.is_i64() || v.is_u64()) {
        return (ColumnType::Long, None);
    }
    if present.iter().all(|v| v.is_number()) {
        return (ColumnType::Double, None);
    }
    if present.iter().all(|v| v.is_boolean()) {
        return (ColumnType::Boolean, None);
    }
    if present.iter().all(|v| v.is_object() || v.is_array()) {
        return (ColumnType::Json, None);
    }
    if present.iter().all(|v| v.is_string()) {
        let texts: Vec<&str> = present.iter().filter_map(|v| v.as_str()).collect();
        if let Some(format) = timestamp_format(&texts) {
            return (ColumnType::Timestamp, format);
        }
    }
    (ColumnType::String, None)
}

const DELIMITERS: [char; 4] = [',', '\t', ';', '|'];

/// Rows of fields.
type Records = Vec<Vec<String>>;

/// Records of the sample split by `delimiter` and `quote` (at most [`GUESS_MAX_ROWS`] and
/// a few more for the lines before them).
fn records(text: &str, delimiter: char, quote: char) -> Records {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter as u8)
        .quote(quote as u8)
        .from_reader(text.as_bytes());
    reader
        .records()
        .take(GUESS_MAX_ROWS + 10)
        .map_while(Result::ok)
        .filter(|r| !(r.len() == 1 && r[0].trim().is_empty()))
        .map(|r| r.iter().map(str::to_owned).collect())
        .collect()
}

/// The most common field count of `rows` (ties: the larger), and how many rows have it.
fn mode_count(rows: &[Vec<String>]) -> (usize, usize) {
    let mut counts = std::collections::BTreeMap::<usize, usize>::new();
    for r in rows {
        *counts.entry(r.len()).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(width, n)| (*n, *width))
        .unwrap_or((0, 0))
}

fn guess_csv(text: &str) -> Result<TextGuess, String> {
    // Embulk's rule: a single quote quotes only where no double quote appears.
    let quote = if !text.contains('"') && single_quoted_fields(text) {
        '\''
    } else {
        '"'
    };
    // The delimiter whose rows agree most on a width of two or more.
    let mut best: Option<(char, Records, (usize, usize))> = None;
    for d in DELIMITERS {
        let rows = records(text, d, quote);
        let (width, n) = mode_count(&rows);
        if width < 2 {
            continue;
        }
        let better = match &best {
            None => true,
            Some((_, _, (bw, bn))) => (n, width) > (*bn, *bw),
        };
        if better {
            best = Some((d, rows, (width, n)));
        }
    }
    let (delimiter, rows, width) = match best {
        Some((d, rows, (width, _))) => (d, rows, width),
        // One column: every line is a value.
        None => (',', records(text, ',', quote), 1),
    };
    if width > GUESS_MAX_COLUMNS {
        return Err(too_many_columns());
    }
    // Lines before the first row of the common width are not rows (a title, a note).
    let skip = rows
        .iter()
        .take(10)
        .position(|r| r.len() == width)
        .unwrap_or(0);
    let rows = &rows[skip..];
    let (first, rest) = rows.split_first().ok_or("no rows")?;
    let rest: Vec<&Vec<String>> = rest.iter().take(GUESS_MAX_ROWS).collect();
    let column_values = |i: usize, from: &[&Vec<String>]| -> Vec<String> {
        from.iter()
            .filter_map(|r| r.get(i))
            .filter(|v| !v.trim().is_empty())
            .cloned()
            .collect()
    };
    let rest_types: Vec<(ColumnType, Option<String>)> = (0..width)
        .map(|i| {
            let values = column_values(i, &rest);
            guess_type(&values.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .collect();
    let header = !rest.is_empty() && is_header(first, &rest, &rest_types);
    let columns = if header {
        let mut columns: Vec<GuessedColumn> = Vec::with_capacity(width);
        for (i, (type_, format)) in rest_types.into_iter().enumerate() {
            let raw = first.get(i).map(|s| s.trim()).unwrap_or_default();
            let base = if raw.is_empty() {
                format!("c{i}")
            } else {
                raw.to_owned()
            };
            // Two columns of one name would be ambiguous downstream: number the later ones.
            let mut name = base.clone();
            let mut n = 2;
            while columns.iter().any(|c| c.name == name) {
                name = format!("{base}_{n}");
                n += 1;
            }
            columns.push(GuessedColumn {
                name,
                type_,
                format,
            });
        }
        columns
    } else {
        let all: Vec<&Vec<String>> = std::iter::once(first).chain(rest).collect();
        (0..width)
            .map(|i| {
                let values = column_values(i, &all);
                let (type_, format) =
                    guess_type(&values.iter().map(String::as_str).collect::<Vec<_>>());
                GuessedColumn {
                    name: format!("c{i}"),
                    type_,
                    format,
                }
            })
            .collect()
    };
    Ok(TextGuess {
        format: GuessedFormat::Csv,
        delimiter: delimiter.to_string(),
        quote: quote.to_string(),
        skip_header_lines: skip as u32,
        header_line: header,
        columns,
    })
}

/// Whether some line has a field that starts and ends with a single quote.
fn single_quoted_fields(text: &str) -> bool {
    text.lines().take(GUESS_MAX_ROWS).any(|line| {
        line.split(DELIMITERS)
            .any(|f| f.len() >= 2 && f.starts_with('\'') && f.ends_with('\''))
    })
}

/// Whether the first row names the columns: some column of the other rows has a type its
/// first value is not of; or, every column being text, the first row's values are all
/// there, distinct, and none of them appears again below it in its column.
fn is_header(
    first: &[String],
    rest: &[&Vec<String>],
    rest_types: &[(ColumnType, Option<String>)],
) -> bool {
    if first.iter().any(|v| v.trim().is_empty()) {
        return false;
    }
    let typed_mismatch = rest_types.iter().enumerate().any(|(i, (t, f))| {
        *t != ColumnType::String
            && first
                .get(i)
                .is_some_and(|v| guess_type(&[v.as_str()]) != (*t, f.clone()))
    });
    if typed_mismatch {
        return true;
    }
    if rest_types.iter().any(|(t, _)| *t != ColumnType::String) {
        return false;
    }
    let distinct = first
        .iter()
        .enumerate()
        .all(|(i, v)| !first[..i].contains(v));
    let unseen = first
        .iter()
        .enumerate()
        .all(|(i, v)| !rest.iter().any(|r| r.get(i) == Some(v)));
    distinct && unseen
}

/// The type of a column's (non-empty) values.
pub fn guess_type(values: &[&str]) -> (ColumnType, Option<String>) {
    if values.is_empty() {
        return (ColumnType::String, None);
    }
    let all = |f: &dyn Fn(&str) -> bool| values.iter().all(|v| f(v.trim()));
    if all(&|v| v.parse::<i64>().is_ok()) {
        return (ColumnType::Long, None);
    }
    if all(&|v| v.parse::<f64>().is_ok_and(f64::is_finite) && v.bytes().any(|b| b.is_ascii_digit()))
    {
        return (ColumnType::Double, None);
    }
    if all(&|v| {
        matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off"
        )
    }) {
        return (ColumnType::Boolean, None);
    }
    if let Some(format) = timestamp_format(values) {
        return (ColumnType::Timestamp, format);
    }
    (ColumnType::String, None)
}

/// Formats tried in order, most specific first (Embulk's strftime dialect, which the
/// engine's parser reads).
const TIMESTAMP_FORMATS: [&str; 10] = [
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d%H%M%S",
];

/// `Some(format)` when every value is a time: the first of [`TIMESTAMP_FORMATS`] that reads
/// them all, or `Some(None)` when only the engine's default forms do (fractions of a second,
/// RFC 3339 with `Z`).
fn timestamp_format(values: &[&str]) -> Option<Option<String>> {
    if values.is_empty()
        || values
            .iter()
            .any(|v| !v.bytes().any(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let parser = |format: Option<&str>| FieldParser {
        name: String::new(),
        type_: ColumnType::Timestamp,
        format: format.map(str::to_owned),
        tz: hakobu_core::zone::Zone::UTC,
        date: None,
    };
    let reads_all = |p: &FieldParser| values.iter().all(|v| p.parse(v).is_ok());
    // A run of digits alone is a number, not a compact time, unless it has 14 of them.
    let digits_only = values
        .iter()
        .all(|v| v.trim().bytes().all(|b| b.is_ascii_digit()));
    for format in TIMESTAMP_FORMATS {
        if digits_only && format != "%Y%m%d%H%M%S" {
            continue;
        }
        if reads_all(&parser(Some(format))) {
            return Some(Some(format.to_owned()));
        }
    }
    (!digits_only && reads_all(&parser(None))).then_some(None)
}

fn too_many_columns() -> String {
    format!("the file has more than {GUESS_MAX_COLUMNS} columns; it does not look like a table")
}

/// The columns of a Parquet file from its `tail` (the file's last bytes, at most
/// [`crate::limits::GUESS_PARQUET_FOOTER_MAX_BYTES`] and eight more).
pub fn parquet_columns(tail: &[u8]) -> Result<Vec<GuessedColumn>, String> {
    let not_parquet = || "the file is not a Parquet file (no Parquet footer at its end)".to_owned();
    if tail.len() < 8 || !tail.ends_with(b"PAR1") {
        return Err(not_parquet());
    }
    let len_bytes: [u8; 4] = tail[tail.len() - 8..tail.len() - 4]
        .try_into()
        .map_err(|_| not_parquet())?;
    let metadata_len = u32::from_le_bytes(len_bytes) as usize;
    if metadata_len > tail.len() - 8 {
        return Err(format!(
            "the Parquet footer (the schema) is over {}; list the columns by hand",
            crate::limits::human_bytes(crate::limits::GUESS_PARQUET_FOOTER_MAX_BYTES)
        ));
    }
    let footer = &tail[tail.len() - 8 - metadata_len..tail.len() - 8];
    let metadata = parquet::file::metadata::ParquetMetaDataReader::decode_metadata(footer)
        .map_err(|e| format!("the Parquet footer cannot be read: {e}"))?;
    let file = metadata.file_metadata();
    let schema =
        parquet::arrow::parquet_to_arrow_schema(file.schema_descr(), file.key_value_metadata())
            .map_err(|e| format!("the Parquet schema cannot be read: {e}"))?;
    if schema.fields().len() > GUESS_MAX_COLUMNS {
        return Err(too_many_columns());
    }
    Ok(schema
        .fields()
        .iter()
        .map(|f| GuessedColumn {
            name: f.name().clone(),
            // A type with no faithful pipeline type is read as its text.
            type_: crate::connectors::file::parquet::mapped_type(f).unwrap_or(ColumnType::String),
            format: None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_as_embulk_guesses_them() {
        assert_eq!(guess_type(&["1", "-20"]).0, ColumnType::Long);
        assert_eq!(guess_type(&["1", "2.5"]).0, ColumnType::Double);
        assert_eq!(guess_type(&["true", "FALSE"]).0, ColumnType::Boolean);
        assert_eq!(
            guess_type(&["2024-01-02 03:04:05", "2024-12-31 23:59:59"]),
            (ColumnType::Timestamp, Some("%Y-%m-%d %H:%M:%S".to_owned()))
        );
        assert_eq!(
            guess_type(&["2024-01-02"]),
            (ColumnType::Timestamp, Some("%Y-%m-%d".to_owned()))
        );
        assert_eq!(guess_type(&["2024-01-02", "soon"]).0, ColumnType::String);
        assert_eq!(guess_type(&["20240102"]).0, ColumnType::Long);
        assert_eq!(guess_type(&[]).0, ColumnType::String);
    }
}
