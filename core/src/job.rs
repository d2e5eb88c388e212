//! Transfer job settings as the forms build them, their validation, and the compiler that
//! turns them into the Embulk-style [`Config`] a runner executes.
//!
//! The compiler builds the config as a document and parses it with [`Config::from_value`],
//! the same parser the runner uses on hand-written YAML, so every compiled config is one
//! the runner accepts.

use crate::config::{
    BigqueryMode, ColumnType, Config, ConfigError, Mode, RunnerConfig, StatementsConfig,
};
use crate::connection::{ConnectionKind, S3Auth, TEMPORARY_CREDENTIAL_FIELDS, setting_str};
use crate::ids::ConnectionId;
use crate::messages::{MessageCode, Text};
use crate::sql::Dialect;
use crate::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Everything that decides what a run does. Stored per revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// A transfer, or a data mart (SQL on one database; see [`JobKind`]).
    #[serde(default, skip_serializing_if = "JobKind::is_transfer")]
    pub kind: JobKind,
    pub source: SourceSettings,
    pub destination: DestinationSettings,
    /// Column changes applied in order: rename, drop, cast, add a constant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnChange>,
    /// Columns hidden before they reach the destination.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masks: Vec<MaskRule>,
    #[serde(default)]
    pub resources: Resources,
    /// A run still going after this many minutes is stopped and marked timed out.
    #[serde(default = "default_timeout_minutes")]
    pub timeout_minutes: u32,
    #[serde(default)]
    pub retry: RetryPolicy,
    /// What happens when a run is due while the previous one still runs.
    #[serde(default)]
    pub overlap: OverlapPolicy,
    /// With `overlap: allow`, at most this many runs of the job at once; further due runs
    /// wait in the queue. Empty: only the organization's limit applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_runs: Option<u32>,
    /// Data checks run after the load (see [`checks`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<checks::DataCheck>,
    /// `$name$` values resolved when a run starts (see [`crate::variables`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<crate::variables::Variable>,
}

fn default_timeout_minutes() -> u32 {
    360
}

/// What a job is. A data mart is a job on one database connection (source and
/// destination are the same): it runs `source.statements`, or writes the result of
/// `source.query` into `destination.table` with a load mode. Everything else (schedules,
/// variables, checks, retries, runs) is the same as for transfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Rows from a source to a destination.
    #[default]
    Transfer,
    /// SQL run on one database (`docs/data-marts.md`).
    DataMart,
}

impl JobKind {
    pub fn is_transfer(&self) -> bool {
        *self == JobKind::Transfer
    }
}

/// The load modes a data mart writes a query's result with: append (`insert`),
/// `replace`, `delete_insert` (by key or by a condition) and `merge`.
pub const DATA_MART_MODES: &[Mode] =
    &[Mode::Insert, Mode::Replace, Mode::DeleteInsert, Mode::Merge];

/// Where rows come from: a table, a query, or files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SourceSettings {
    pub connection_id: ConnectionId,
    /// A table of a database connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<TableRef>,
    /// A SELECT (or WITH) query on a database connection, instead of a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Data marts: SQL statements (DDL, DML) run in one transaction, instead of a query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statements: Option<String>,
    /// A SQL condition on `table`, e.g. `status = 'paid'`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// Files of a storage connection (S3 or local files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<FileSource>,
    /// Load only rows (or files) that are new since the last successful run.
    #[serde(default)]
    pub incremental: bool,
    /// The columns that order rows for incremental loads; empty means the primary key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incremental_columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TableRef {
    /// The schema (PostgreSQL); empty means the connection's default schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    #[default]
    Csv,
    Jsonl,
    /// Columnar Parquet files; the schema comes from the files.
    Parquet,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FileSource {
    /// Path (or key) prefix of the files to read, e.g. `exports/orders/`.
    pub path_prefix: String,
    /// Regular expression the rest of the path must match, e.g. `\.csv$`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_match_pattern: Option<String>,
    #[serde(default)]
    pub format: FileFormat,
    /// The files are gzip-compressed.
    #[serde(default)]
    pub gzip: bool,
    /// CSV: the first line holds column names and is skipped.
    #[serde(default = "yes")]
    pub header_line: bool,
    /// CSV: the character between values.
    #[serde(default = "comma")]
    pub delimiter: String,
    /// CSV: the character that quotes values (`"` when unset; `'` for files quoted so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// CSV: lines skipped before the header line (or the first row), e.g. a title.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skip_header_lines: u32,
    /// The columns of each row, in order.
    pub columns: Vec<FileColumn>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn yes() -> bool {
    true
}

fn comma() -> String {
    ",".to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FileColumn {
    pub name: String,
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub type_: ColumnType,
    /// strftime format of timestamps, e.g. `%Y-%m-%d %H:%M:%S`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// Where rows go: a table (with a load mode) or files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DestinationSettings {
    pub connection_id: ConnectionId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<TableRef>,
    /// How rows are written into the table.
    #[serde(default = "default_mode")]
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub mode: Mode,
    /// Columns that identify a row for `merge` / `merge_direct` (empty means the primary
    /// key) and for `delete_insert` by key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_keys: Vec<String>,
    /// `delete_insert` by a condition: a SQL condition on the target table (e.g.
    /// `day = $date$`); the rows it matches are replaced by the new rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_where: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<FileDestination>,
}

fn default_mode() -> Mode {
    Mode::Insert
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FileDestination {
    /// Path (or key) prefix of the files written, e.g. `exports/orders_`.
    pub path_prefix: String,
    #[serde(default)]
    pub format: FileFormat,
    #[serde(default)]
    pub gzip: bool,
    /// CSV: write a first line with the column names.
    #[serde(default = "yes")]
    pub header_line: bool,
    #[serde(default = "comma")]
    pub delimiter: String,
}

/// One change to the columns between source and destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ColumnChange {
    Rename {
        column: String,
        to: String,
    },
    Drop {
        column: String,
    },
    Cast {
        column: String,
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        to: ColumnType,
        /// strftime format when casting between text and timestamps.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        format: Option<String>,
    },
    Add {
        column: String,
        #[serde(rename = "type")]
        #[cfg_attr(feature = "openapi", schema(value_type = String))]
        type_: ColumnType,
        value: Value,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MaskMethod {
    /// Replace the value with its SHA-256 (joins still work, the value is gone).
    Sha256,
    /// Replace all but the first/last characters with `*`.
    Partial,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MaskRule {
    pub column: String,
    pub method: MaskMethod,
    #[serde(default)]
    pub keep_head: u32,
    #[serde(default)]
    pub keep_tail: u32,
}

/// CPU and memory of the runner's container.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// vCPUs: 0.25, 0.5, 1, 2, 4, 8 or 16 (Fargate's sizes).
    pub cpu: f64,
    /// Memory in MiB, 512 to 122880.
    pub memory_mb: u32,
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpu: 1.0,
            memory_mb: 2048,
        }
    }
}

/// Most runs of one job at once a job may ask for (the organization's limit still applies).
pub const MAX_CONCURRENT_RUNS_PER_JOB: u32 = 100;

pub const CPU_SIZES: &[f64] = &[0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0];

impl Resources {
    /// The memory sizes (MiB) Fargate accepts with `cpu` vCPUs, as ECS validates a task
    /// definition: 0.25 vCPU takes 512, 1024 or 2048; 0.5 takes 1-4 GiB; 1 takes 2-8 GiB;
    /// 2 takes 4-16 GiB; 4 takes 8-30 GiB (steps of 1 GiB); 8 takes 16-60 GiB in steps of
    /// 4 GiB; 16 takes 32-120 GiB in steps of 8 GiB. Empty for a size Fargate lacks.
    pub fn memory_choices(cpu: f64) -> Vec<u32> {
        let range = |from: u32, to: u32, step: u32| (from..=to).step_by(step as usize).collect();
        match cpu {
            0.25 => vec![512, 1024, 2048],
            0.5 => range(1024, 4096, 1024),
            1.0 => range(2048, 8192, 1024),
            2.0 => range(4096, 16384, 1024),
            4.0 => range(8192, 30720, 1024),
            8.0 => range(16384, 61440, 4096),
            16.0 => range(32768, 122_880, 8192),
            _ => Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Further attempts after a failed one, 0 to 10.
    pub count: u32,
    /// Seconds before the first retry; doubles for each further one.
    pub backoff_seconds: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            count: 0,
            backoff_seconds: 60,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OverlapPolicy {
    /// Do not start a run while the previous one runs.
    #[default]
    Skip,
    /// Start it after the previous one ends.
    Queue,
    /// Run both at once.
    Allow,
}

/// Longest identifier accepted (PostgreSQL's limit; MySQL allows 64).
pub const IDENTIFIER_MAX_CHARS: usize = 63;

/// A table, schema or column name. The engine always quotes identifiers; names that
/// quoting cannot carry safely on every database are refused here.
pub fn check_identifier(errors: &mut FieldErrors, field: &str, name: &str) {
    if name.is_empty() {
        errors.push_message(field, MessageCode::Required);
    } else if name.trim() != name {
        errors.push(field, "must not start or end with spaces");
    } else if name.chars().count() > IDENTIFIER_MAX_CHARS {
        errors.push_message(field, MessageCode::TooLong.with("n", IDENTIFIER_MAX_CHARS));
    } else if name.chars().any(|c| c == '"' || c == '`' || c.is_control()) {
        errors.push(
            field,
            "must not contain quotes, backticks or control characters",
        );
    }
}

/// Whether the engine can cast a value of type `from` to `to`.
pub fn can_cast(from: ColumnType, to: ColumnType) -> bool {
    use ColumnType::*;
    from == to
        || to == String
        || matches!(
            (from, to),
            (String, _)
                | (Long, Double | Decimal | Boolean | Timestamp)
                | (Double, Long | Decimal)
                | (Decimal, Long | Double)
                | (Boolean, Long)
                | (Timestamp, Long | Date)
                | (Date, Timestamp)
        ) && !matches!((from, to), (String, Bytes))
}

/// What the validator needs to know about the connections a job names.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionInfo {
    pub kind: ConnectionKind,
}

impl JobSettings {
    /// Field-level checks. `source` and `destination` are the kinds of the named
    /// connections, when they exist (the caller reports missing ones).
    pub fn validate(
        &self,
        source: Option<ConnectionInfo>,
        destination: Option<ConnectionInfo>,
    ) -> FieldErrors {
        let mut e = FieldErrors::default();
        match self.kind {
            JobKind::Transfer => {
                if self.source.statements.is_some() {
                    e.push(
                        "source.statements",
                        "only apply to data mart jobs; a transfer reads a table, a query or files",
                    );
                }
                self.validate_source(&mut e, source);
                self.validate_destination(&mut e, destination);
            }
            JobKind::DataMart => self.validate_data_mart(&mut e, destination),
        }
        for (i, change) in self.columns.iter().enumerate() {
            let f = |name: &str| format!("columns[{i}].{name}");
            match change {
                ColumnChange::Rename { column, to } => {
                    check_identifier(&mut e, &f("column"), column);
                    check_identifier(&mut e, &f("to"), to);
                }
                ColumnChange::Drop { column } | ColumnChange::Cast { column, .. } => {
                    check_identifier(&mut e, &f("column"), column);
                }
                ColumnChange::Add {
                    column,
                    type_,
                    value,
                } => {
                    check_identifier(&mut e, &f("column"), column);
                    if !constant_fits(*type_, value) {
                        e.push(f("value"), format!("must be a {type_} value"));
                    }
                }
            }
        }
        for (i, mask) in self.masks.iter().enumerate() {
            check_identifier(&mut e, &format!("masks[{i}].column"), &mask.column);
        }
        if !CPU_SIZES.contains(&self.resources.cpu) {
            e.push("resources.cpu", "must be one of 0.25, 0.5, 1, 2, 4, 8, 16");
        } else {
            let choices = Resources::memory_choices(self.resources.cpu);
            if !choices.contains(&self.resources.memory_mb) {
                let (first, last) = (choices[0], choices[choices.len() - 1]);
                let step = choices.get(1).map_or(0, |second| second - first);
                e.push_message(
                    "resources.memory_mb",
                    MessageCode::FargateMemory
                        .with("cpu", self.resources.cpu)
                        .with("from", first)
                        .with("to", last)
                        .with("step", step),
                );
            }
        }
        match self.max_concurrent_runs {
            Some(n) if !(1..=MAX_CONCURRENT_RUNS_PER_JOB).contains(&n) => e.push_message(
                "max_concurrent_runs",
                MessageCode::FromTo
                    .with("from", 1)
                    .with("to", MAX_CONCURRENT_RUNS_PER_JOB),
            ),
            Some(n) if n > 1 && self.overlap != OverlapPolicy::Allow => e.push(
                "max_concurrent_runs",
                "applies only when runs may overlap (overlap: allow); with skip or queue, one run goes at a time",
            ),
            _ => {}
        }
        if !(1..=10_080).contains(&self.timeout_minutes) {
            e.push_message(
                "timeout_minutes",
                MessageCode::FromTo
                    .with("from", "1 minute")
                    .with("to", "10080 minutes (7 days)"),
            );
        }
        if self.retry.count > 10 {
            e.push_message(
                "retry.count",
                MessageCode::FromTo.with("from", 0).with("to", 10),
            );
        }
        if !(1..=86_400).contains(&self.retry.backoff_seconds) {
            e.push_message(
                "retry.backoff_seconds",
                MessageCode::FromToSeconds
                    .with("from", 1)
                    .with("to", 86_400),
            );
        }
        checks::validate_checks(&mut e, &self.checks);
        self.validate_variables(&mut e);
        e
    }

    /// Definitions, and every `$name$` in the other settings.
    fn validate_variables(&self, e: &mut FieldErrors) {
        if let Ok(json) = serde_json::to_value(self) {
            crate::variables::check_settings(&json, &self.variables, e);
        }
        for (i, v) in self.variables.iter().enumerate() {
            if let crate::variables::VariableValue::Query { sql, .. } = &v.value
                && !sql.trim().is_empty()
                && let Err(m) = check_select(sql)
            {
                e.push_message(format!("variables[{i}].value.sql"), m);
            }
        }
    }

    fn validate_source(&self, e: &mut FieldErrors, source: Option<ConnectionInfo>) {
        let s = &self.source;
        let given = [s.table.is_some(), s.query.is_some(), s.files.is_some()]
            .iter()
            .filter(|x| **x)
            .count();
        let Some(info) = source else { return };
        if !info.kind.is_source() {
            e.push(
                "source.connection_id",
                format!(
                    "is a {} connection, which Hakobu loads into but does not read from yet: choose a database or storage connection as the source",
                    info.kind.label()
                ),
            );
            return;
        }
        if info.kind.is_database() {
            if s.files.is_some() {
                e.push("source.files", "is for storage connections; this source is a database: choose a table or a query");
            } else if given != 1 {
                e.push("source.table", "choose either a table or a query");
            }
            if let Some(t) = &s.table {
                check_table(e, "source.table", t);
            }
            if let Some(q) = &s.query {
                if let Err(m) = check_select(q) {
                    e.push_message("source.query", m);
                }
                if s.incremental {
                    e.push("source.incremental", "works with a table source; for a query, filter on the newest values yourself");
                }
            }
            if s.filter.is_some() && s.table.is_none() {
                e.push("source.filter", "only applies to a table source");
            }
            for (i, c) in s.incremental_columns.iter().enumerate() {
                check_identifier(e, &format!("source.incremental_columns[{i}]"), c);
            }
        } else {
            match &s.files {
                None => e.push("source.files", "is required for a storage connection"),
                Some(files) => {
                    if s.table.is_some() || s.query.is_some() {
                        e.push("source.table", "is for database connections; this source is storage: describe the files");
                    }
                    if files.path_prefix.trim().is_empty() {
                        e.push_message("source.files.path_prefix", MessageCode::Required);
                    }
                    check_local_path(e, "source.files.path_prefix", info, &files.path_prefix);
                    check_delimiter(e, "source.files.delimiter", &files.delimiter);
                    if let Some(q) = &files.quote
                        && !matches!(q.as_str(), "\"" | "'")
                    {
                        e.push("source.files.quote", "must be \" or '");
                    }
                    if files.skip_header_lines > 1000 {
                        e.push_message(
                            "source.files.skip_header_lines",
                            MessageCode::FromTo.with("from", 0).with("to", 1000),
                        );
                    }
                    if files.columns.is_empty() && files.format != FileFormat::Parquet {
                        e.push("source.files.columns", "list at least one column");
                    }
                    for (i, c) in files.columns.iter().enumerate() {
                        check_identifier(e, &format!("source.files.columns[{i}].name"), &c.name);
                        if files.columns[..i].iter().any(|o| o.name == c.name) {
                            e.push_message(
                                format!("source.files.columns[{i}].name"),
                                MessageCode::ListedTwice,
                            );
                        }
                    }
                }
            }
            if !s.incremental_columns.is_empty() {
                e.push(
                    "source.incremental_columns",
                    "only apply to database sources; files are loaded incrementally by path",
                );
            }
        }
    }

    fn validate_destination(&self, e: &mut FieldErrors, destination: Option<ConnectionInfo>) {
        let d = &self.destination;
        let Some(info) = destination else { return };
        if info.kind.is_warehouse() {
            match &d.table {
                None => e.push(
                    "destination.table",
                    "is required for a data warehouse destination",
                ),
                Some(t) => check_table(e, "destination.table", t),
            }
            if d.files.is_some() {
                e.push(
                    "destination.files",
                    "is for storage connections; this destination is a data warehouse",
                );
            }
            let modes = warehouse_modes(info.kind);
            if !modes.contains(&d.mode) {
                e.push(
                    "destination.mode",
                    format!(
                        "is not offered for {}; expected one of {}",
                        info.kind.label(),
                        modes
                            .iter()
                            .map(|m| m.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            if d.mode == Mode::Merge && d.merge_keys.is_empty() {
                e.push(
                    "destination.merge_keys",
                    "are required for merge: list the key columns that identify a row",
                );
            }
            if d.mode != Mode::Merge && !d.merge_keys.is_empty() {
                e.push("destination.merge_keys", "only apply to the merge mode");
            }
            for (i, k) in d.merge_keys.iter().enumerate() {
                check_identifier(e, &format!("destination.merge_keys[{i}]"), k);
            }
            if d.delete_where.is_some() {
                e.push(
                    "destination.delete_where",
                    "only applies to database destinations (the delete_insert mode)",
                );
            }
            return;
        }
        if info.kind.is_database() {
            match &d.table {
                None => e.push(
                    "destination.table",
                    "is required for a database destination",
                ),
                Some(t) => check_table(e, "destination.table", t),
            }
            if d.files.is_some() {
                e.push(
                    "destination.files",
                    "is for storage connections; this destination is a database",
                );
            }
            check_keys_and_condition(e, d, None);
        } else {
            match &d.files {
                None => e.push("destination.files", "is required for a storage destination"),
                Some(files) => {
                    if files.path_prefix.trim().is_empty() {
                        e.push_message("destination.files.path_prefix", MessageCode::Required);
                    }
                    check_local_path(e, "destination.files.path_prefix", info, &files.path_prefix);
                    check_delimiter(e, "destination.files.delimiter", &files.delimiter);
                }
            }
            if d.table.is_some() {
                e.push(
                    "destination.table",
                    "is for database connections; this destination is storage",
                );
            }
            if d.mode != Mode::Insert {
                e.push(
                    "destination.mode",
                    "load modes apply to database destinations; files are always written new",
                );
            }
        }
    }
}

impl JobSettings {
    /// A data mart: one database connection (source and destination alike); either
    /// statements, or a query written into a table with one of [`DATA_MART_MODES`].
    fn validate_data_mart(&self, e: &mut FieldErrors, connection: Option<ConnectionInfo>) {
        let (s, d) = (&self.source, &self.destination);
        if s.connection_id != d.connection_id {
            e.push(
                "destination.connection_id",
                "must be the source's connection: a data mart runs SQL on one database",
            );
        }
        if let Some(info) = connection
            && !info.kind.is_database()
            && !info.kind.is_warehouse()
        {
            e.push(
                "source.connection_id",
                "must be a database or data warehouse connection (PostgreSQL, MySQL, BigQuery or Snowflake)",
            );
            return;
        }
        let on_warehouse = connection.is_some_and(|info| info.kind.is_warehouse());
        if s.table.is_some() || s.files.is_some() || s.filter.is_some() || s.incremental {
            e.push(
                "source.table",
                "a data mart has no source table, filter or files: write the SQL as a query or statements",
            );
        }
        if !self.columns.is_empty() || !self.masks.is_empty() {
            e.push(
                "columns",
                "column changes and masks apply to transfers; shape the columns in the query",
            );
        }
        if d.files.is_some() {
            e.push("destination.files", "a data mart writes to a table");
        }
        match (&s.statements, &s.query) {
            (Some(_), Some(_)) => e.push(
                "source.query",
                "give either statements to run or a query to write into a table, not both",
            ),
            (None, None) => e.push_message("source.query", MessageCode::Required),
            (Some(statements), None) => {
                if statements.trim().is_empty() {
                    e.push_message("source.statements", MessageCode::Required);
                }
                if d.table.is_some() || !d.merge_keys.is_empty() || d.delete_where.is_some() {
                    e.push(
                        "destination.table",
                        "statements write where they say; a target table, keys or a condition only apply when writing a query's result",
                    );
                }
            }
            (None, Some(query)) => {
                // A warehouse reads the query under its own rules too (a BigQuery
                // `'''...'''` string may hide a `;` from the databases' readings).
                let own = connection
                    .and_then(|info| Dialect::of(info.kind))
                    .filter(|_| on_warehouse);
                let checked = check_select(query)
                    .and_then(|()| own.map_or(Ok(()), |d| check_select_in(query, d)));
                if let Err(m) = checked {
                    e.push_message("source.query", m);
                }
                match &d.table {
                    None => e.push(
                        "destination.table",
                        "is required: the table the query's result is written into",
                    ),
                    Some(t) => check_table(e, "destination.table", t),
                }
                if !DATA_MART_MODES.contains(&d.mode) {
                    e.push(
                        "destination.mode",
                        "must be insert (append), replace, delete_insert or merge",
                    );
                }
                check_keys_and_condition(e, d, own);
                if on_warehouse && d.mode == Mode::Merge && d.merge_keys.is_empty() {
                    e.push(
                        "destination.merge_keys",
                        "are required for merge on a data warehouse: it enforces no primary key to merge on",
                    );
                }
            }
        }
    }
}

/// The load modes a data warehouse destination offers, in the job's words: `insert`
/// (append through a temporary table), `insert_direct`, `truncate_insert`, `replace` and
/// `merge`. Empty for other kinds.
pub fn warehouse_modes(kind: ConnectionKind) -> &'static [Mode] {
    match kind {
        ConnectionKind::Bigquery | ConnectionKind::Snowflake => crate::config::SNOWFLAKE_MODES,
        _ => &[],
    }
}

/// A job's mode as BigQuery names it (embulk-output-bigquery's names).
fn bigquery_mode(mode: Mode) -> Option<BigqueryMode> {
    Some(match mode {
        Mode::Insert => BigqueryMode::Append,
        Mode::InsertDirect => BigqueryMode::AppendDirect,
        Mode::TruncateInsert => BigqueryMode::DeleteInAdvance,
        Mode::Replace => BigqueryMode::Replace,
        Mode::Merge => BigqueryMode::Merge,
        _ => return None,
    })
}

/// The job's mode a BigQuery mode is ([`bigquery_mode`] read backwards), for imports.
fn mode_of_bigquery(mode: BigqueryMode) -> Mode {
    match mode {
        BigqueryMode::Append => Mode::Insert,
        BigqueryMode::AppendDirect => Mode::InsertDirect,
        BigqueryMode::DeleteInAdvance => Mode::TruncateInsert,
        BigqueryMode::Replace => Mode::Replace,
        BigqueryMode::Merge => Mode::Merge,
    }
}

/// Keys and the delete condition of a database destination: which modes use them, and
/// `delete_insert` needs exactly one of them.
/// `own`: the dialect of a warehouse that splices the condition into its SQL, whose
/// reading is checked too.
fn check_keys_and_condition(e: &mut FieldErrors, d: &DestinationSettings, own: Option<Dialect>) {
    let keyed = matches!(d.mode, Mode::Merge | Mode::MergeDirect | Mode::DeleteInsert);
    if !keyed && !d.merge_keys.is_empty() {
        e.push(
            "destination.merge_keys",
            "only apply to the merge, merge_direct and delete_insert modes",
        );
    }
    for (i, k) in d.merge_keys.iter().enumerate() {
        check_identifier(e, &format!("destination.merge_keys[{i}]"), k);
    }
    let condition = d.delete_where.as_deref().map(str::trim);
    match (d.mode, condition) {
        (Mode::DeleteInsert, None | Some("")) if d.merge_keys.is_empty() => e.push(
            "destination.merge_keys",
            "are required for delete_insert: list the key columns whose rows are replaced, or give a condition (delete_where) instead",
        ),
        (Mode::DeleteInsert, Some(c)) if !c.is_empty() => {
            if !d.merge_keys.is_empty() {
                e.push(
                    "destination.delete_where",
                    "give either key columns or a condition, not both",
                );
            }
            check_condition(e, "destination.delete_where", c, own);
        }
        (Mode::DeleteInsert, _) | (_, None) => {}
        (_, Some(_)) => e.push(
            "destination.delete_where",
            "only applies to the delete_insert mode",
        ),
    }
}

/// A SQL condition (a WHERE without the word): one expression, no second statement under
/// any dialect's reading. The engine also sends it as one prepared statement.
fn check_condition(e: &mut FieldErrors, field: &str, condition: &str, own: Option<Dialect>) {
    if [Dialect::Postgres, Dialect::Mysql]
        .into_iter()
        .chain(own)
        .any(|d| d.statement_count(condition.trim().trim_end_matches(';')) > 1)
    {
        e.push_message(field, MessageCode::SingleStatement);
    }
}

/// A prefix on the Hakobu server is relative to the organization's files folder
/// (`crate::files`). Object keys (S3) are names, not paths, and are left alone.
fn check_local_path(e: &mut FieldErrors, field: &str, info: ConnectionInfo, prefix: &str) {
    if info.kind == ConnectionKind::LocalFiles
        && let Err(refusal) = crate::files::check_relative(prefix)
    {
        e.push_message(field, refusal.message());
    }
}

fn check_table(e: &mut FieldErrors, field: &str, t: &TableRef) {
    check_identifier(e, &format!("{field}.name"), &t.name);
    if let Some(schema) = &t.schema {
        check_identifier(e, &format!("{field}.schema"), schema);
    }
}

fn check_delimiter(e: &mut FieldErrors, field: &str, d: &str) {
    let mut chars = d.chars();
    if !(chars
        .next()
        .is_some_and(|c| c.is_ascii() && c != '"' && c != '\n' && c != '\r')
        && chars.next().is_none())
    {
        e.push(field, "must be one character, such as , or ; or a tab");
    }
}

/// A query for previews, sources, data checks and variables: one SELECT or WITH
/// statement, nothing else, under PostgreSQL's and MySQL's readings (the connection may
/// not be known yet where this runs; a query either server would split in two is refused
/// everywhere). A warehouse's queries are checked again under its own reading where they
/// run (`engine/src/check/warehouse_read.rs`).
///
/// This is a guard against mistakes, not the security boundary: database queries also run
/// as one prepared statement in a read-only transaction (`docs/security.md`), and a
/// warehouse runs what the tenant's own credentials allow.
pub fn check_select(query: &str) -> Result<(), Text> {
    [Dialect::Postgres, Dialect::Mysql]
        .into_iter()
        .try_for_each(|d| check_select_in(query, d))
}

/// [`check_select`] as `dialect`'s server reads the text.
pub fn check_select_in(query: &str, dialect: Dialect) -> Result<(), Text> {
    let trimmed = query.trim().trim_end_matches(';').trim();
    let first = trimmed
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if trimmed.is_empty() {
        return Err(MessageCode::Required.into());
    }
    if first != "select" && first != "with" {
        return Err(MessageCode::SingleSelect.into());
    }
    if dialect.statement_count(trimmed) > 1 {
        return Err(MessageCode::SingleStatement.into());
    }
    Ok(())
}

fn constant_fits(t: ColumnType, v: &Value) -> bool {
    use ColumnType::*;
    match t {
        Boolean => v.is_boolean(),
        Long => v.as_i64().is_some(),
        Double => v.is_number(),
        Decimal => v.is_number() || v.as_str().is_some_and(|s| s.parse::<f64>().is_ok()),
        String | Timestamp | Date | Bytes => v.is_string(),
        Json => true,
    }
}

/// A connection as the compiler sees it: settings plus secrets, already decrypted (for a
/// run) or replaced by references (for showing the YAML).
#[derive(Debug, Clone)]
pub struct CompileConnection<'a> {
    pub kind: ConnectionKind,
    pub settings: &'a Map<String, Value>,
    pub secrets: &'a Map<String, Value>,
}

/// Compiles job settings into the runner's config.
///
/// `last_state` is the job's incremental state (`last_record` or `last_path`) from the
/// previous successful run, if any.
pub fn compile(
    settings: &JobSettings,
    source: &CompileConnection<'_>,
    destination: &CompileConnection<'_>,
    last_state: Option<&Value>,
) -> Result<Config, ConfigError> {
    let mut doc = Map::new();
    doc.insert(
        "in".to_owned(),
        compile_input(&settings.source, source, last_state),
    );
    let filters = compile_filters(settings);
    if !filters.is_empty() {
        doc.insert("filters".to_owned(), Value::Array(filters));
    }
    doc.insert(
        "out".to_owned(),
        compile_output(&settings.destination, destination),
    );
    for (side, c) in [("in", source), ("out", destination)] {
        require_pinned_bastion(side, c)?;
    }
    Config::from_value(Value::Object(doc))
}

/// A saved connection's bastion is trusted only with the key its first test pinned (the
/// runner would otherwise trust whatever key it meets first).
fn require_pinned_bastion(side: &str, c: &CompileConnection<'_>) -> Result<(), ConfigError> {
    if c.kind.is_database()
        && setting_str(c.kind, c.settings, "ssh_host").is_some()
        && setting_str(c.kind, c.settings, "ssh_host_key_fingerprint").is_none()
    {
        return Err(ConfigError::new(
            format!("{side}.ssh.host_key_fingerprint"),
            "the SSH bastion's host key is not pinned yet: test the connection once, which pins the key the bastion presents",
        ));
    }
    Ok(())
}

/// Compiles job settings into what a runner runs: [`compile`]'s transfer, or for a data
/// mart with statements the `sql:` document. `connection` is the source's (a data mart's
/// only connection).
pub fn compile_runner(
    settings: &JobSettings,
    source: &CompileConnection<'_>,
    destination: &CompileConnection<'_>,
    last_state: Option<&Value>,
) -> Result<RunnerConfig, ConfigError> {
    if source.kind.is_warehouse() {
        return compile_warehouse_sql(settings, source);
    }
    let Some(statements) = &settings.source.statements else {
        return compile(settings, source, destination, last_state).map(RunnerConfig::Transfer);
    };
    require_pinned_bastion("sql", source)?;
    let mut section = Map::new();
    connection_fields(source, &mut section);
    if source.kind == ConnectionKind::Postgresql
        && let Some(schema) = setting_str(source.kind, source.settings, "schema")
    {
        section.insert("schema".into(), json!(schema));
    }
    section.insert("statements".into(), json!(statements));
    let doc = json!({ "sql": section });
    let config: StatementsConfig =
        serde_path_to_error::deserialize(doc).map_err(ConfigError::from_path_error)?;
    // The same parse a runner does, so a compiled document is one it accepts.
    RunnerConfig::from_yaml(&RunnerConfig::Statements(config).to_yaml())
}

/// A data mart on a data warehouse: a `sql:` document with its statements, or with the
/// query's result written into a table (the warehouse runs it on its own tables; the data
/// never leaves it).
fn compile_warehouse_sql(
    settings: &JobSettings,
    c: &CompileConnection<'_>,
) -> Result<RunnerConfig, ConfigError> {
    let (s, d) = (&settings.source, &settings.destination);
    let mut section = Map::new();
    connection_fields(c, &mut section);
    if let Some(statements) = &s.statements {
        section.insert("statements".into(), json!(statements));
    } else {
        let table = d.table.as_ref();
        // The job's schema is BigQuery's dataset, Snowflake's schema: the target's, which
        // is also where the statements' unqualified names are found.
        let container = if c.kind == ConnectionKind::Bigquery {
            "dataset"
        } else {
            "schema"
        };
        if let Some(schema) = table
            .and_then(|t| t.schema.as_ref())
            .filter(|s| !s.trim().is_empty())
        {
            section.insert(container.into(), json!(schema));
        }
        let mut write = Map::new();
        write.insert(
            "query".into(),
            json!(
                s.query
                    .as_deref()
                    .unwrap_or_default()
                    .trim()
                    .trim_end_matches(';')
            ),
        );
        write.insert("table".into(), json!(table.map(|t| t.name.as_str())));
        write.insert("mode".into(), json!(d.mode));
        if !d.merge_keys.is_empty() {
            write.insert("merge_keys".into(), json!(d.merge_keys));
        }
        if let Some(condition) = d.delete_where.as_ref().filter(|c| !c.trim().is_empty()) {
            write.insert(
                "delete_where".into(),
                json!(condition.trim().trim_end_matches(';')),
            );
        }
        section.insert("write".into(), Value::Object(write));
    }
    let config: StatementsConfig = serde_path_to_error::deserialize(json!({ "sql": section }))
        .map_err(ConfigError::from_path_error)?;
    RunnerConfig::from_yaml(&RunnerConfig::Statements(config).to_yaml())
}

/// A data warehouse connection's `out:` section as a connection test uses it: the
/// connection's fields and a placeholder table (the section needs one; a test writes
/// nothing). `None` for other kinds.
pub fn warehouse_section(c: &CompileConnection<'_>) -> Option<Value> {
    if !c.kind.is_warehouse() {
        return None;
    }
    let mut m = Map::new();
    connection_fields(c, &mut m);
    m.remove("type");
    m.insert("table".into(), json!("hakobu_connection_test"));
    Some(Value::Object(m))
}

fn connection_fields(c: &CompileConnection<'_>, out: &mut Map<String, Value>) {
    let get = |name: &str| setting_str(c.kind, c.settings, name).map(|v| v.into_owned());
    match c.kind {
        ConnectionKind::Postgresql | ConnectionKind::Mysql => {
            out.insert(
                "type".into(),
                json!(if c.kind == ConnectionKind::Postgresql {
                    "postgresql"
                } else {
                    "mysql"
                }),
            );
            out.insert("host".into(), json!(get("host")));
            if let Some(port) = get("port").and_then(|p| p.parse::<u16>().ok()) {
                out.insert("port".into(), json!(port));
            }
            out.insert("user".into(), json!(get("user")));
            if let Some(password) = c.secrets.get("password") {
                out.insert("password".into(), password.clone());
            }
            out.insert("database".into(), json!(get("database")));
            let tls = get("tls_mode").unwrap_or_else(|| "disable".to_owned());
            out.insert("ssl_mode".into(), json!(tls));
            if tls.starts_with("verify")
                && let Some(ca) = get("ca_certificate")
            {
                out.insert("ssl_ca_certificate".into(), json!(ca));
            }
            if let Some(ssh_host) = get("ssh_host") {
                let mut ssh = Map::new();
                ssh.insert("host".into(), json!(ssh_host));
                if let Some(port) = get("ssh_port").and_then(|p| p.parse::<u16>().ok()) {
                    ssh.insert("port".into(), json!(port));
                }
                ssh.insert("user".into(), json!(get("ssh_user").unwrap_or_default()));
                // Like the password: the value, or the `{{ env.* }}` reference a snapshot
                // carries in its place.
                for (secret, key) in [
                    ("ssh_private_key", "private_key"),
                    ("ssh_private_key_passphrase", "private_key_passphrase"),
                ] {
                    if let Some(value) = c.secrets.get(secret) {
                        ssh.insert(key.into(), value.clone());
                    }
                }
                if let Some(f) = get("ssh_host_key_fingerprint") {
                    ssh.insert("host_key_fingerprint".into(), json!(f));
                }
                out.insert("ssh".into(), Value::Object(ssh));
            }
        }
        ConnectionKind::S3 => {
            out.insert("type".into(), json!("s3"));
            out.insert("bucket".into(), json!(get("bucket")));
            if let Some(endpoint) = get("endpoint") {
                out.insert("endpoint".into(), json!(endpoint));
            }
            out.insert("region".into(), json!(get("region")));
            match S3Auth::of(c.settings) {
                S3Auth::AccessKey => {
                    out.insert("access_key_id".into(), json!(get("access_key_id")));
                    if let Some(secret) = c.secrets.get("secret_access_key") {
                        out.insert("secret_access_key".into(), secret.clone());
                    }
                }
                // The role's temporary credentials exist only once the app has assumed it
                // for a run: `secrets` holds them then, and references to them otherwise.
                S3Auth::AssumeRole => {
                    out.insert("role_arn".into(), json!(get("role_arn")));
                    out.insert("auth_method".into(), json!("session"));
                    for name in TEMPORARY_CREDENTIAL_FIELDS {
                        if let Some(value) = c.secrets.get(name) {
                            out.insert(name.into(), value.clone());
                        }
                    }
                }
                S3Auth::Ambient => {
                    out.insert("auth_method".into(), json!("instance"));
                }
            }
        }
        ConnectionKind::LocalFiles => {
            out.insert("type".into(), json!("file"));
        }
        ConnectionKind::Bigquery => {
            out.insert("type".into(), json!("bigquery"));
            out.insert("project".into(), json!(get("project")));
            out.insert("dataset".into(), json!(get("dataset")));
            for name in ["location", "endpoint"] {
                if let Some(v) = get(name) {
                    out.insert(name.into(), json!(v));
                }
            }
            if let Some(key) = c.secrets.get("json_keyfile") {
                out.insert("json_keyfile".into(), key.clone());
            }
        }
        ConnectionKind::Snowflake => {
            out.insert("type".into(), json!("snowflake"));
            for name in ["account", "user", "database", "schema"] {
                out.insert(name.into(), json!(get(name)));
            }
            for name in ["warehouse", "role", "endpoint"] {
                if let Some(v) = get(name) {
                    out.insert(name.into(), json!(v));
                }
            }
            for name in ["password", "private_key"] {
                if let Some(value) = c.secrets.get(name) {
                    out.insert(name.into(), value.clone());
                }
            }
        }
    }
}

/// Joins a storage connection's base (local directory) with a job's path prefix. A local
/// path stays relative to the organization's files folder: the runner resolves it there.
fn full_prefix(c: &CompileConnection<'_>, prefix: &str) -> String {
    match c.kind {
        ConnectionKind::LocalFiles => {
            let dir = setting_str(c.kind, c.settings, "directory").unwrap_or_default();
            crate::files::join(&dir, prefix)
        }
        _ => prefix.to_owned(),
    }
}

/// The path a job reads (`source`) or writes on the Hakobu server, relative to the
/// organization's files folder: the connection's directory joined with the job's prefix,
/// exactly as [`compile`] writes it into the config. `None` for other kinds or when the
/// settings have no files.
pub fn local_path(
    kind: ConnectionKind,
    connection_settings: &Map<String, Value>,
    prefix: Option<&str>,
) -> Option<String> {
    let prefix = prefix?;
    (kind == ConnectionKind::LocalFiles).then(|| {
        full_prefix(
            &CompileConnection {
                kind,
                settings: connection_settings,
                secrets: &Map::new(),
            },
            prefix,
        )
    })
}

fn compile_input(
    s: &SourceSettings,
    c: &CompileConnection<'_>,
    last_state: Option<&Value>,
) -> Value {
    let mut m = Map::new();
    connection_fields(c, &mut m);
    if c.kind.is_database() {
        if let Some(t) = &s.table {
            m.insert("table".into(), json!(t.name));
            let schema = t
                .schema
                .clone()
                .or_else(|| setting_str(c.kind, c.settings, "schema").map(|s| s.into_owned()));
            if let (ConnectionKind::Postgresql, Some(schema)) = (c.kind, schema) {
                m.insert("schema".into(), json!(schema));
            }
            if let Some(filter) = s.filter.as_ref().filter(|f| !f.trim().is_empty()) {
                m.insert("where".into(), json!(filter));
            }
        }
        if let Some(q) = &s.query {
            m.insert("query".into(), json!(q.trim().trim_end_matches(';')));
        }
        if s.incremental {
            m.insert("incremental".into(), json!(true));
            if !s.incremental_columns.is_empty() {
                m.insert("incremental_columns".into(), json!(s.incremental_columns));
            }
            if let Some(last) = last_state.and_then(|v| v.get("last_record")) {
                m.insert("last_record".into(), last.clone());
            }
        }
    } else if let Some(f) = &s.files {
        m.insert("path_prefix".into(), json!(full_prefix(c, &f.path_prefix)));
        if let Some(p) = &f.path_match_pattern {
            m.insert("path_match_pattern".into(), json!(p));
        }
        if s.incremental {
            m.insert("incremental".into(), json!(true));
            if let Some(last) = last_state.and_then(|v| v.get("last_path")) {
                m.insert("last_path".into(), last.clone());
            }
        }
        if f.gzip {
            m.insert("decoders".into(), json!([{"type": "gzip"}]));
        }
        let columns: Vec<Value> = f
            .columns
            .iter()
            .map(|col| {
                let mut c = json!({"name": col.name, "type": col.type_});
                if let Some(format) = &col.format {
                    c["format"] = json!(format);
                }
                c
            })
            .collect();
        let parser = match f.format {
            FileFormat::Csv => {
                let mut parser = json!({
                    "type": "csv",
                    "delimiter": f.delimiter,
                    "skip_header_lines": f.skip_header_lines + u32::from(f.header_line),
                    "columns": columns,
                });
                if let Some(q) = &f.quote {
                    parser["quote"] = json!(q);
                }
                parser
            }
            FileFormat::Jsonl => json!({"type": "jsonl", "columns": columns}),
            FileFormat::Parquet => json!({"type": "parquet", "columns": columns}),
        };
        m.insert("parser".into(), parser);
    }
    Value::Object(m)
}

fn compile_output(d: &DestinationSettings, c: &CompileConnection<'_>) -> Value {
    let mut m = Map::new();
    connection_fields(c, &mut m);
    if c.kind.is_warehouse() {
        if let Some(t) = &d.table {
            m.insert("table".into(), json!(t.name));
            // The job's schema is BigQuery's dataset, Snowflake's schema.
            let container = if c.kind == ConnectionKind::Bigquery {
                "dataset"
            } else {
                "schema"
            };
            if let Some(schema) = t.schema.as_ref().filter(|s| !s.trim().is_empty()) {
                m.insert(container.into(), json!(schema));
            }
        }
        // A mode the kind does not offer was refused by validation; the runner's parse
        // refuses it again if a stored job still has one.
        match (c.kind, bigquery_mode(d.mode)) {
            (ConnectionKind::Bigquery, Some(mode)) => m.insert("mode".into(), json!(mode)),
            _ => m.insert("mode".into(), json!(d.mode)),
        };
        if !d.merge_keys.is_empty() {
            m.insert("merge_keys".into(), json!(d.merge_keys));
        }
    } else if c.kind.is_database() {
        if let Some(t) = &d.table {
            m.insert("table".into(), json!(t.name));
            let schema = t
                .schema
                .clone()
                .or_else(|| setting_str(c.kind, c.settings, "schema").map(|s| s.into_owned()));
            if let (ConnectionKind::Postgresql, Some(schema)) = (c.kind, schema) {
                m.insert("schema".into(), json!(schema));
            }
        }
        m.insert("mode".into(), json!(d.mode));
        if !d.merge_keys.is_empty() {
            m.insert("merge_keys".into(), json!(d.merge_keys));
        }
        if let Some(condition) = d.delete_where.as_ref().filter(|c| !c.trim().is_empty()) {
            m.insert(
                "delete_where".into(),
                json!(condition.trim().trim_end_matches(';')),
            );
        }
    } else if let Some(f) = &d.files {
        m.insert("path_prefix".into(), json!(full_prefix(c, &f.path_prefix)));
        let ext = match f.format {
            FileFormat::Csv => "csv",
            FileFormat::Jsonl => "jsonl",
            FileFormat::Parquet => "parquet",
        };
        m.insert(
            "file_ext".into(),
            json!(if f.gzip {
                format!("{ext}.gz")
            } else {
                ext.to_owned()
            }),
        );
        if f.gzip {
            m.insert("encoders".into(), json!([{"type": "gzip"}]));
        }
        let formatter = match f.format {
            FileFormat::Csv => {
                json!({"type": "csv", "header_line": f.header_line, "delimiter": f.delimiter})
            }
            FileFormat::Jsonl => json!({"type": "jsonl"}),
            FileFormat::Parquet => json!({"type": "parquet"}),
        };
        m.insert("formatter".into(), formatter);
    }
    Value::Object(m)
}

fn compile_filters(s: &JobSettings) -> Vec<Value> {
    let mut filters = Vec::new();
    for change in &s.columns {
        filters.push(match change {
            ColumnChange::Rename { column, to } => json!({"type": "rename", "columns": {column: to}}),
            ColumnChange::Drop { column } => json!({"type": "remove_columns", "remove": [column]}),
            ColumnChange::Cast { column, to, format } => {
                let mut c = json!({"name": column, "type": to});
                if let Some(f) = format {
                    c["format"] = json!(f);
                }
                json!({"type": "cast", "columns": [c]})
            }
            ColumnChange::Add { column, type_, value } => {
                json!({"type": "column", "add_columns": [{"name": column, "type": type_, "default": value}]})
            }
        });
    }
    if !s.masks.is_empty() {
        let columns: Vec<Value> = s
            .masks
            .iter()
            .map(|m| match m.method {
                MaskMethod::Sha256 => json!({"name": m.column, "type": "sha256"}),
                MaskMethod::Partial => json!({"name": m.column, "type": "partial", "keep_head": m.keep_head, "keep_tail": m.keep_tail}),
            })
            .collect();
        filters.push(json!({"type": "mask", "columns": columns}));
    }
    filters
}

#[cfg(test)]
mod tests;

pub mod checks;
pub mod import;
