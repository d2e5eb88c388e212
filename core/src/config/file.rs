//! `in:` / `out:` of `type: file` and `type: s3`, with their parsers, formatters and codecs.

use super::jdbc::check_timezone;
use super::{Codec, ColumnType, ConfigError, Newline, QuotePolicy, QuotesInQuotedFields, Secret};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Local files whose path starts with `path_prefix`, read in path order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileInput {
    /// Files whose full path starts with this string are read (e.g. `/data/orders_`).
    pub path_prefix: String,
    /// Regular-expression-like filter on the path (Embulk uses Java regex; Hakobu accepts
    /// a glob, e.g. `*.csv.gz`, matched against the file name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_match_pattern: Option<String>,
    /// Incremental state: only paths sorting after this one are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_path: Option<String>,
    /// Whether `last_path` is updated after a run. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<bool>,
    /// Follow symbolic links while listing. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_symlinks: Option<bool>,
    /// Byte-stream decoders applied in order, e.g. `[{type: gzip}]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decoders: Vec<CodecConfig>,
    /// How bytes become rows.
    pub parser: ParserConfig,
}

/// Objects of an S3-compatible bucket whose key starts with `path_prefix`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Input {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix.
    pub path_prefix: String,
    /// Endpoint URL of an S3-compatible service. Default: AWS for `region`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Region. Default: us-east-1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Access key id; with `secret_access_key`, static credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<Secret>,
    /// Secret access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
    /// Session token of temporary credentials (Embulk's `auth_method: session`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<Secret>,
    /// Hakobu's own: the role whose temporary credentials fill the three fields above. The
    /// Hakobu app assumes it for the runs it starts; the runner never assumes roles itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Embulk's `auth_method`: `basic` (the default) and `session` take the keys above;
    /// `env`, `instance` and `default` take the runner's own environment or role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    /// Filter on the key (glob on the object name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_match_pattern: Option<String>,
    /// Incremental state: only keys sorting after this one are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_path: Option<String>,
    /// Whether `last_path` is updated after a run. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<bool>,
    /// Byte-stream decoders applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decoders: Vec<CodecConfig>,
    /// How bytes become rows.
    pub parser: ParserConfig,
}

/// A decoder or encoder entry: `{type: gzip}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodecConfig {
    /// The codec.
    #[serde(rename = "type")]
    pub type_: Codec,
    /// Compression level (encoders only): gzip 0-9 (default 6), bzip2 1-9 (default 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u32>,
}

/// A parser (`type: csv | jsonl | json | parquet`).
#[derive(Debug, Clone, PartialEq)]
pub enum ParserConfig {
    /// Delimited text.
    Csv(CsvParser),
    /// One JSON object per line.
    Jsonl(JsonlParser),
    /// A stream of JSON values, each object one row (Embulk's `json` parser).
    Json(JsonParser),
    /// Apache Parquet (uncompressed, snappy or gzip).
    Parquet(ParquetParser),
}

/// Parquet parser: columns and types come from the file unless `columns` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetParser {
    /// The columns to read, with the type to read them as. Default: every column of the
    /// first file, typed from its schema.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<SchemaColumn>,
}

/// A column of a parser's schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaColumn {
    /// Column name.
    pub name: String,
    /// Column type.
    #[serde(rename = "type")]
    pub type_: ColumnType,
    /// strftime format of timestamp/date text. Default: ISO 8601 / RFC 3339 forms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Zone of timestamps without an offset. Default: the parser's `default_timezone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Date (YYYY-MM-DD) of values whose `format` has only a time of day (Embulk `date:`).
    /// Default: the parser's `default_date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// Embulk's CSV parser, with every option it documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvParser {
    /// Text encoding, e.g. Shift_JIS, EUC-JP, windows-1252, ISO-8859-1. Default: UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// Line separator. Default: CRLF (any of CRLF, LF, CR is accepted when reading).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newline: Option<Newline>,
    /// Field separator, one character. Default: `,`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Quote character; empty disables quoting. Default: `"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// Escape character inside quotes: `\` for backslash escapes. Default: quotes are
    /// escaped by doubling them (RFC 4180), which is also what `escape: '"'` means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escape: Option<String>,
    /// The text that means NULL. Default: none (empty unquoted fields are NULL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_string: Option<String>,
    /// Lines skipped at the start of each file (e.g. a header). Default: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_header_lines: Option<u32>,
    /// Deprecated Embulk alias: `true` means `skip_header_lines: 1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_line: Option<bool>,
    /// How a quote inside a quoted value is read. Only Embulk's default,
    /// `ACCEPT_ONLY_RFC4180_ESCAPED` (a quote inside quotes is doubled or escaped), is
    /// supported; `ACCEPT_STRAY_QUOTES_ASSUMING_NO_DELIMITERS_IN_FIELDS` is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quotes_in_quoted_fields: Option<QuotesInQuotedFields>,
    /// Trim spaces around values that are not quoted. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trim_if_not_quoted: Option<bool>,
    /// Rows with fewer fields get NULLs instead of being invalid. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_optional_columns: Option<bool>,
    /// Rows with more fields drop the extra ones instead of being invalid. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_extra_columns: Option<bool>,
    /// Lines starting with this text are skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_line_marker: Option<String>,
    /// Largest quoted value in bytes (of its UTF-8 text; a doubled quote counts as one).
    /// A record with a longer one is invalid: skipped and counted, or the run's error
    /// with `stop_on_invalid_record`. Default: 131072, as in Embulk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_quoted_size_limit: Option<u64>,
    /// Fail on the first invalid row (naming file and line) instead of skipping it.
    /// Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_on_invalid_record: Option<bool>,
    /// Zone of timestamps without an offset. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_timezone: Option<String>,
    /// Default strftime format of timestamp columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_timestamp_format: Option<String>,
    /// Date (YYYY-MM-DD) of timestamps whose format has only a time of day. Default:
    /// 1970-01-01, as in Embulk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_date: Option<String>,
    /// The columns, in file order.
    pub columns: Vec<SchemaColumn>,
}

/// JSON Lines parser: each line is an object; listed columns are taken from its keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlParser {
    /// Text encoding. Default: UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// Line separator. Default: LF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newline: Option<Newline>,
    /// Fail on the first invalid line instead of skipping it. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_on_invalid_record: Option<bool>,
    /// Zone of timestamps without an offset. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_timezone: Option<String>,
    /// The columns to extract.
    pub columns: Vec<SchemaColumn>,
}

/// Embulk's `json` parser: the file is a stream of JSON values (one or several per line,
/// or one spread over many lines); each object is a row. Without `columns` the row is one
/// `json` column named `record` holding the whole object, as in Embulk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonParser {
    /// Text encoding. Default: UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// Line separator (accepted; values may span lines, so it changes nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newline: Option<Newline>,
    /// Fail on the first value that is not an object (or not JSON) instead of skipping it
    /// (an unreadable value also ends the file, as nothing after it can be trusted).
    /// Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_on_invalid_record: Option<bool>,
    /// A JSON pointer (`/data/items`) to the part of each value that holds the record(s).
    /// Default: the value itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
    /// An array (at `root`) gives one row per element. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flatten_json_array: Option<bool>,
    /// Zone of timestamps without an offset. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_timezone: Option<String>,
    /// Columns taken from each object's keys. Default: one `json` column `record`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<SchemaColumn>,
}

impl JsonParser {
    /// The columns rows get: the listed ones, else Embulk's single `record`.
    pub fn schema(&self) -> Vec<SchemaColumn> {
        if !self.columns.is_empty() {
            return self.columns.clone();
        }
        vec![SchemaColumn {
            name: "record".to_owned(),
            type_: ColumnType::Json,
            format: None,
            timezone: None,
            date: None,
        }]
    }
}

/// Local files written under `path_prefix`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileOutput {
    /// Output path prefix, e.g. `/out/orders_`.
    pub path_prefix: String,
    /// File extension without the dot, e.g. `csv.gz`.
    pub file_ext: String,
    /// Embulk's format of the part after the prefix: `%03d.%02d.` (task, file). Default
    /// `%03d.%02d.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_format: Option<String>,
    /// Byte-stream encoders applied in order, e.g. `[{type: gzip}]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encoders: Vec<CodecConfig>,
    /// How rows become bytes.
    pub formatter: FormatterConfig,
}

/// Embulk's standard `stdout` output: each record printed as one line, its values
/// separated by `,` as they are (no quoting), NULL as nothing, timestamps as
/// `%Y-%m-%d %H:%M:%S.%6N %z` in `timezone`. For trying a config on a terminal; a job
/// needs a real destination, so an import refuses it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutOutput {
    /// Print the column names, comma-separated, as a first line. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prints_column_names: Option<bool>,
    /// Zone timestamps are printed in. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// The name Embulk before 0.9 read the zone from; `timezone` wins when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_timezone: Option<String>,
}

impl StdoutOutput {
    /// The zone timestamps are printed in.
    pub fn zone(&self) -> &str {
        self.timezone
            .as_deref()
            .or(self.default_timezone.as_deref())
            .unwrap_or("UTC")
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        check_timezone("timezone", &self.timezone)?;
        check_timezone("default_timezone", &self.default_timezone)
    }
}

/// Objects written to an S3-compatible bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Output {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix.
    pub path_prefix: String,
    /// File extension without the dot.
    pub file_ext: String,
    /// Sequence format, as for `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_format: Option<String>,
    /// Endpoint URL of an S3-compatible service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Region. Default: us-east-1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Access key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<Secret>,
    /// Secret access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
    /// Session token of temporary credentials, as for `in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<Secret>,
    /// The role the temporary credentials belong to, as for `in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// How credentials are found, as for `in`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    /// Byte-stream encoders applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub encoders: Vec<CodecConfig>,
    /// How rows become bytes.
    pub formatter: FormatterConfig,
}

/// A formatter (`type: csv | jsonl`).
#[derive(Debug, Clone, PartialEq)]
pub enum FormatterConfig {
    /// Delimited text.
    Csv(CsvFormatter),
    /// One JSON object per line.
    Jsonl(JsonlFormatter),
    /// Apache Parquet.
    Parquet(ParquetFormatter),
}

/// Parquet formatter. Types are kept: timestamps as UTC microseconds, dates as dates,
/// decimals and JSON as UTF-8 text (exact at any precision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetFormatter {
    /// `snappy`, `gzip` or `uncompressed`. Default: `snappy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// Rows per row group. Default: 1048576.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub row_group_size: Option<u64>,
}

/// Embulk's CSV formatter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvFormatter {
    /// Text encoding of the file written, e.g. `Shift_JIS`, `EUC-JP`, `windows-1252`.
    /// Default: UTF-8. A character the charset lacks is written as `?`, as Embulk's Java
    /// encoder does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// Write a header line with the column names. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_line: Option<bool>,
    /// Field separator. Default: `,`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Quote character. Default: `"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// When values are quoted. Default: MINIMAL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote_policy: Option<QuotePolicy>,
    /// Escape character for quotes inside quoted values. Default: the quote (doubling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escape: Option<String>,
    /// How NULL is written. Default: empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_string: Option<String>,
    /// Line separator. Default: CRLF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newline: Option<Newline>,
    /// What a line break inside a value (CRLF, LF or CR) is written as. Default: LF, as
    /// in Embulk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newline_in_field: Option<Newline>,
    /// Zone timestamps are written in. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_timezone: Option<String>,
    /// Per-column timestamp format and zone.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub column_options: BTreeMap<String, FormatterColumnOption>,
}

/// Timestamp format/zone of one formatted column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormatterColumnOption {
    /// strftime format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// IANA zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// JSON Lines formatter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlFormatter {
    /// Text encoding. Default: UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// Line separator. Default: LF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newline: Option<Newline>,
    /// strftime format of timestamps. Default: RFC 3339 with microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_format: Option<String>,
    /// Zone timestamps are written in. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

fn one_char(path: &str, v: &Option<String>, allow_empty: bool) -> Result<(), ConfigError> {
    if let Some(s) = v {
        let n = s.chars().count();
        if n > 1 || (n == 0 && !allow_empty) || (n == 1 && !s.is_ascii()) {
            return Err(ConfigError::new(
                path,
                format!("{s:?} is not one ASCII character"),
            ));
        }
    }
    Ok(())
}

fn utf8_only(path: &str, v: &Option<String>) -> Result<(), ConfigError> {
    match v.as_deref() {
        None => Ok(()),
        Some(s) if s.eq_ignore_ascii_case("utf-8") || s.eq_ignore_ascii_case("utf8") => Ok(()),
        Some(s) => Err(ConfigError::new(
            path,
            format!("charset {s:?} is not supported; expected UTF-8"),
        )),
    }
}

fn check_date(path: &str, date: &Option<String>) -> Result<(), ConfigError> {
    match date {
        Some(d) if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() => Err(
            ConfigError::new(path, format!("{d:?} is not a date; expected YYYY-MM-DD")),
        ),
        _ => Ok(()),
    }
}

fn check_columns(columns: &[SchemaColumn]) -> Result<(), ConfigError> {
    if columns.is_empty() {
        return Err(ConfigError::new(
            "columns",
            "at least one column is required",
        ));
    }
    for (i, c) in columns.iter().enumerate() {
        check_timezone(&format!("columns[{i}].timezone"), &c.timezone)?;
        check_date(&format!("columns[{i}].date"), &c.date)?;
        if columns[..i].iter().any(|o| o.name == c.name) {
            return Err(ConfigError::new(
                format!("columns[{i}].name"),
                format!("duplicate column {:?}", c.name),
            ));
        }
    }
    Ok(())
}

/// `decoders:` / `encoders:`: levels only where they mean something, in their range.
pub(crate) fn check_codecs(
    section: &str,
    codecs: &[CodecConfig],
    encoding: bool,
) -> Result<(), ConfigError> {
    for (i, c) in codecs.iter().enumerate() {
        let Some(level) = c.level else { continue };
        let field = format!("{section}[{i}].level");
        if !encoding {
            return Err(ConfigError::new(
                &field,
                "a decoder reads whatever level the file was written with; remove level",
            ));
        }
        let (least, most) = match c.type_ {
            Codec::Gzip => (0, 9),
            Codec::Bzip2 => (1, 9),
        };
        if !(least..=most).contains(&level) {
            return Err(ConfigError::new(
                &field,
                format!("{} levels go from {least} to {most}", c.type_),
            ));
        }
    }
    Ok(())
}

impl ParserConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.check_fields().map_err(|e| e.prefixed("parser"))
    }

    fn check_fields(&self) -> Result<(), ConfigError> {
        match self {
            // Input charsets are checked by the engine, which has the encoding tables.
            ParserConfig::Csv(p) => {
                one_char("delimiter", &p.delimiter, false)?;
                one_char("quote", &p.quote, true)?;
                one_char("escape", &p.escape, true)?;
                if p.quotes_in_quoted_fields == Some(QuotesInQuotedFields::AcceptStrayQuotes) {
                    return Err(ConfigError::new(
                        "quotes_in_quoted_fields",
                        "stray quotes inside quoted values are not supported; remove the option (ACCEPT_ONLY_RFC4180_ESCAPED) and double such quotes",
                    ));
                }
                check_timezone("default_timezone", &p.default_timezone)?;
                check_date("default_date", &p.default_date)?;
                check_columns(&p.columns)
            }
            ParserConfig::Jsonl(p) => {
                check_timezone("default_timezone", &p.default_timezone)?;
                check_columns(&p.columns)
            }
            ParserConfig::Json(p) => {
                check_timezone("default_timezone", &p.default_timezone)?;
                if let Some(root) = &p.root
                    && !(root.is_empty() || root.starts_with('/'))
                {
                    return Err(ConfigError::new(
                        "root",
                        "must be a JSON pointer such as /data/items (starting with /)",
                    ));
                }
                if p.columns.is_empty() {
                    Ok(())
                } else {
                    check_columns(&p.columns)
                }
            }
            ParserConfig::Parquet(p) if p.columns.is_empty() => Ok(()),
            ParserConfig::Parquet(p) => check_columns(&p.columns),
        }
    }
}

impl FormatterConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.check_fields().map_err(|e| e.prefixed("formatter"))
    }

    fn check_fields(&self) -> Result<(), ConfigError> {
        match self {
            // Output charsets are checked by the engine, which has the encoding tables.
            FormatterConfig::Csv(f) => {
                one_char("delimiter", &f.delimiter, false)?;
                one_char("quote", &f.quote, false)?;
                one_char("escape", &f.escape, false)?;
                check_timezone("default_timezone", &f.default_timezone)?;
                for (name, o) in &f.column_options {
                    check_timezone(&format!("column_options.{name}.timezone"), &o.timezone)?;
                }
                Ok(())
            }
            FormatterConfig::Jsonl(f) => {
                utf8_only("encoding", &f.encoding)?;
                check_timezone("timezone", &f.timezone)
            }
            FormatterConfig::Parquet(f) => match f.compression.as_deref() {
                None | Some("snappy") | Some("gzip") | Some("uncompressed") => Ok(()),
                Some(other) => Err(ConfigError::new(
                    "compression",
                    format!(
                        "unknown compression {other:?}; expected one of snappy, gzip, uncompressed"
                    ),
                )),
            },
        }
    }
}
