//! Custom variables: `$name$` placeholders in a job's text settings, resolved once per run.
//!
//! Syntax, everywhere: `$name$` is a variable (letters, digits and `_`, starting with a
//! letter or `_`); `$$` writes one `$`; any other `$` is an error naming its position.
//!
//! SQL is never spliced as text. In a SQL setting (the source query, its WHERE filter, a
//! data check) a value is written as a quoted string literal, so whatever it contains it
//! stays one value and cannot change the statement. A variable an editor declares as an
//! `identifier` is written as a quoted name, and only one declared `raw` is inserted as it
//! is. Because Hakobu adds the quotes, a placeholder written inside quotes (`'$date$'`) is
//! refused when the job is saved.
//!
//! Resolution: built-ins (`run_id`, `job_name`, `scheduled_time`), fixed strings and
//! timestamps are computed here from the run's times; `query` variables need a database
//! and are evaluated by the app, after the others, so their SQL may use them.

use crate::ids::ConnectionId;
use crate::messages::{MessageCode, Text};
use crate::validation::FieldErrors;
use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, Duration, LocalResult, Months, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Names every run has without defining them.
pub const BUILT_INS: [&str; 3] = ["run_id", "job_name", "scheduled_time"];
/// Longest variable name.
pub const NAME_MAX_CHARS: usize = 64;
/// Most variables one job may define.
pub const MAX_VARIABLES: usize = 50;
/// Longest value a query variable may return, and an override may give.
pub const VALUE_MAX_CHARS: usize = 4096;

/// A variable a job defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// Written as `$name$` in settings.
    pub name: String,
    pub value: VariableValue,
    /// How the value is written into SQL settings.
    #[serde(default)]
    pub in_sql: SqlUse,
}

/// Where a variable's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum VariableValue {
    /// A fixed text.
    String { value: String },
    /// A point in time relative to the run, formatted in a time zone.
    Timestamp {
        /// The run's scheduled time (its start for a manual run), or its actual start.
        #[serde(default)]
        base: TimeBase,
        /// Moves the time, e.g. one day ago.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        offset: Option<Offset>,
        /// strftime format, e.g. `%Y-%m-%d` or `%Y%m%d%H`.
        format: String,
        /// IANA zone the time is shown in, e.g. `Asia/Tokyo`.
        #[serde(default = "utc")]
        timezone: String,
    },
    /// The single value a SQL query returns when the run starts.
    Query {
        connection_id: ConnectionId,
        /// A SELECT returning one row with one column; may use other, non-query variables.
        sql: String,
        /// Seconds the query may take before the run fails.
        #[serde(default = "default_query_timeout")]
        timeout_seconds: u32,
    },
}

fn utc() -> String {
    "UTC".to_owned()
}

fn default_query_timeout() -> u32 {
    30
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TimeBase {
    /// The time the run was due (a manual run: when it was asked for, or its "as of").
    #[default]
    ScheduledTime,
    /// The moment the run actually started.
    StartTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Offset {
    pub quantity: u32,
    pub unit: OffsetUnit,
    pub direction: OffsetDirection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OffsetUnit {
    Minute,
    Hour,
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OffsetDirection {
    Ago,
    Later,
}

/// How a value is written into a SQL setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SqlUse {
    /// A quoted string literal: `'2026-11-21'`.
    #[default]
    Literal,
    /// A quoted table or column name: `"sales_202611"`.
    Identifier,
    /// As it is. Only for values an editor controls: a raw value can change the statement.
    Raw,
}

pub use crate::sql::Dialect;

// --- Parsing placeholders --------------------------------------------------------------

/// A piece of a text with placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// `$$`.
    Dollar,
    /// `$name$`, at `position` (1-based character index of its first `$`).
    Variable {
        name: &'a str,
        position: usize,
    },
}

/// A `$` that starts neither a variable nor `$$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceholderError {
    /// 1-based character index of the `$`.
    pub position: usize,
    pub message: Text,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits `text` into literal text and placeholders.
pub fn parse(text: &str) -> Result<Vec<Piece<'_>>, PlaceholderError> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut consumed_chars = 0;
    while let Some(at) = rest.find('$') {
        if at > 0 {
            pieces.push(Piece::Text(&rest[..at]));
        }
        let position = consumed_chars + rest[..at].chars().count() + 1;
        let after = &rest[at + 1..];
        if let Some(after_dollar) = after.strip_prefix('$') {
            pieces.push(Piece::Dollar);
            consumed_chars = position + 1;
            rest = after_dollar;
            continue;
        }
        let name_len = after
            .char_indices()
            .find(|(_, c)| !is_name_char(*c))
            .map_or(after.len(), |(i, _)| i);
        let name = &after[..name_len];
        let closed = after[name_len..].starts_with('$');
        if name.is_empty() || !name.starts_with(is_name_start) || !closed {
            let found: String = rest[at..].chars().take(12).collect();
            return Err(PlaceholderError {
                position,
                message: MessageCode::NotAVariable
                    .with("found", format!("\"{found}\""))
                    .with("position", position)
                    .into(),
            });
        }
        pieces.push(Piece::Variable { name, position });
        consumed_chars = position + name.chars().count() + 1;
        rest = &after[name_len + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

/// Names used in `text`, in order.
pub fn names_in(text: &str) -> Result<Vec<&str>, PlaceholderError> {
    Ok(parse(text)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Variable { name, .. } => Some(name),
            _ => None,
        })
        .collect())
}

/// Positions (1-based character index) of the `$` of placeholders that sit inside a quoted
/// string or name, or a comment, in SQL text, as any of the dialects reads the text the
/// server will get: each placeholder a literal there, each `$$` one `$` (which may open a
/// PostgreSQL `$tag$` or a Snowflake `$$` string), backslash escapes as each dialect takes
/// them. A placeholder inside quotes under one reading is refused for all: the connection
/// may change, and a value must never be able to end a string it was not meant to be in.
fn quoted_placeholders(sql: &str) -> Vec<(String, usize)> {
    let chars: Vec<char> = sql.chars().collect();
    let mut served = String::with_capacity(sql.len());
    // (name, position in `sql`, byte offset in `served`)
    let mut spots = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            if chars.get(i + 1) == Some(&'$') {
                served.push('$');
                i += 2;
                continue;
            }
            let name: String = chars[i + 1..]
                .iter()
                .take_while(|c| is_name_char(**c))
                .collect();
            if !name.is_empty() && chars.get(i + 1 + name.len()) == Some(&'$') {
                spots.push((name.clone(), i + 1, served.len()));
                // A literal is one token of code: a digit stands for it.
                served.push('0');
                i += name.len() + 2;
                continue;
            }
        }
        served.push(chars[i]);
        i += 1;
    }
    let ranges: Vec<std::ops::Range<usize>> = [
        Dialect::Postgres,
        Dialect::Mysql,
        Dialect::Bigquery,
        Dialect::Snowflake,
    ]
    .into_iter()
    .flat_map(|d| d.quoted_ranges(&served))
    .collect();
    spots
        .into_iter()
        .filter(|(_, _, offset)| ranges.iter().any(|r| r.contains(offset)))
        .map(|(name, position, _)| (name, position))
        .collect()
}

// --- Checking a job's settings ------------------------------------------------------------

/// Whether the setting at `path` (e.g. `source.query`, `checks[0].sql`) is SQL.
pub fn is_sql_path(path: &str) -> bool {
    path == "source.query"
        || path == "source.filter"
        || path == "source.statements"
        || path == "destination.delete_where"
        || (path.starts_with("checks[") && path.ends_with("].sql"))
}

/// Checks the variable definitions, and every placeholder in `settings` (a job's settings
/// as JSON; the `variables` list itself is skipped): syntax, known names, no placeholder
/// inside quotes in SQL.
pub fn check_settings(settings: &Value, variables: &[Variable], errors: &mut FieldErrors) {
    check_definitions(variables, errors);
    let defined: BTreeMap<&str, &Variable> =
        variables.iter().map(|v| (v.name.as_str(), v)).collect();
    walk_strings(settings, String::new(), &mut |path, text| {
        if path.starts_with("variables[") {
            return;
        }
        check_text(path, text, &defined, is_sql_path(path), errors);
    });
    for (i, v) in variables.iter().enumerate() {
        if let VariableValue::Query { sql, .. } = &v.value {
            let others: BTreeMap<&str, &Variable> = defined
                .iter()
                .filter(|(_, d)| !matches!(d.value, VariableValue::Query { .. }))
                .map(|(k, d)| (*k, *d))
                .collect();
            check_text(
                &format!("variables[{i}].value.sql"),
                sql,
                &others,
                true,
                errors,
            );
        }
    }
}

fn check_text(
    path: &str,
    text: &str,
    defined: &BTreeMap<&str, &Variable>,
    sql: bool,
    errors: &mut FieldErrors,
) {
    let pieces = match parse(text) {
        Ok(p) => p,
        Err(e) => {
            errors.push_message(path, e.message);
            return;
        }
    };
    for piece in pieces {
        if let Piece::Variable { name, position } = piece
            && !BUILT_INS.contains(&name)
            && !defined.contains_key(name)
        {
            let mut known: Vec<String> = BUILT_INS.iter().map(|n| format!("${n}$")).collect();
            known.extend(defined.keys().map(|n| format!("${n}$")));
            errors.push_message(
                path,
                MessageCode::UnknownVariable
                    .with("var", format!("${name}$"))
                    .with("position", position)
                    .with("known", known.join(", ")),
            );
        }
    }
    if sql {
        for (name, position) in quoted_placeholders(text) {
            let raw = defined
                .get(name.as_str())
                .is_some_and(|v| v.in_sql == SqlUse::Raw);
            if !raw {
                errors.push_message(
                    path,
                    MessageCode::QuotedVariable
                        .with("var", format!("${name}$"))
                        .with("position", position),
                );
            }
        }
    }
}

/// Checks variable definitions (names, formats, time zones, limits) at `variables[i]`.
pub fn check_definitions(variables: &[Variable], errors: &mut FieldErrors) {
    if variables.len() > MAX_VARIABLES {
        errors.push_message(
            "variables",
            MessageCode::MaxVariables.with("n", MAX_VARIABLES),
        );
    }
    let mut seen = BTreeMap::new();
    for (i, v) in variables.iter().enumerate() {
        let f = |name: &str| format!("variables[{i}].{name}");
        if v.name.is_empty()
            || !v.name.starts_with(is_name_start)
            || !v.name.chars().all(is_name_char)
            || v.name.len() > NAME_MAX_CHARS
        {
            errors.push_message(
                f("name"),
                MessageCode::VariableName.with("n", NAME_MAX_CHARS),
            );
        } else if BUILT_INS.contains(&v.name.as_str()) {
            errors.push_message(
                f("name"),
                MessageCode::BuiltIn.with("var", format!("${}$", v.name)),
            );
        } else if let Some(first) = seen.insert(v.name.as_str(), i) {
            errors.push_message(
                f("name"),
                MessageCode::NameTaken
                    .with("other", format!("variables[{first}]"))
                    .with("var", &v.name),
            );
        }
        match &v.value {
            VariableValue::String { value } => {
                if let Err(e) = parse(value) {
                    errors.push_message(f("value.value"), e.message);
                } else if value.chars().count() > VALUE_MAX_CHARS {
                    errors.push_message(
                        f("value.value"),
                        MessageCode::TooLong.with("n", VALUE_MAX_CHARS),
                    );
                }
            }
            VariableValue::Timestamp {
                format,
                timezone,
                offset,
                ..
            } => {
                if let Err(m) = check_format(format) {
                    errors.push_message(f("value.format"), m);
                }
                if timezone.parse::<Tz>().is_err() {
                    errors.push_message(
                        f("value.timezone"),
                        MessageCode::UnknownZone.with("zone", format!("{timezone:?}")),
                    );
                }
                if offset.is_some_and(|o| o.quantity > 10_000) {
                    errors.push_message(
                        f("value.offset.quantity"),
                        MessageCode::FromTo.with("from", 0).with("to", 10_000),
                    );
                }
            }
            VariableValue::Query {
                sql,
                timeout_seconds,
                ..
            } => {
                if sql.trim().is_empty() {
                    errors.push_message(f("value.sql"), MessageCode::SelectOneValue);
                }
                if !(1..=600).contains(timeout_seconds) {
                    errors.push_message(
                        f("value.timeout_seconds"),
                        MessageCode::FromToSeconds.with("from", 1).with("to", 600),
                    );
                }
            }
        }
    }
}

/// A strftime format chrono can write, without placeholders of its own.
pub fn check_format(format: &str) -> Result<(), Text> {
    if format.trim().is_empty() {
        return Err(MessageCode::FormatRequired.into());
    }
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Err(MessageCode::BadFormat
            .with("format", format!("{format:?}"))
            .into());
    }
    Ok(())
}

/// Calls `visit(path, text)` for every string in `value`.
fn walk_strings(value: &Value, path: String, visit: &mut dyn FnMut(&str, &str)) {
    match value {
        Value::String(s) => visit(&path, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_strings(item, format!("{path}[{i}]"), visit);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk_strings(v, child, visit);
            }
        }
        _ => {}
    }
}

// --- Resolving ------------------------------------------------------------------------------

/// What a run knows when its variables are resolved.
#[derive(Debug, Clone)]
pub struct RunContext<'a> {
    pub run_id: &'a str,
    pub job_name: &'a str,
    /// When the run was due: the schedule's fire time, a manual run's "as of" or the time it
    /// was asked for.
    pub scheduled_time: DateTime<Utc>,
    pub start_time: DateTime<Utc>,
}

/// Resolved values by name, with how each is written into SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    values: BTreeMap<String, (String, SqlUse)>,
}

impl Values {
    pub fn insert(&mut self, name: &str, value: String, in_sql: SqlUse) {
        self.values.insert(name.to_owned(), (value, in_sql));
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|(v, _)| v.as_str())
    }

    /// Name -> value, as stored on the run and shown to users.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.values
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect()
    }

    /// Values stored on a run (a re-run reuses them), with SQL use from the definitions.
    pub fn from_map(map: &BTreeMap<String, String>, variables: &[Variable]) -> Self {
        let mut values = Values::default();
        for (name, value) in map {
            let in_sql = variables
                .iter()
                .find(|v| &v.name == name)
                .map_or(SqlUse::Literal, |v| v.in_sql);
            values.insert(name, value.clone(), in_sql);
        }
        values
    }
}

/// A value that could not be computed or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ResolveError {
    pub field: String,
    pub message: Text,
}

/// Built-ins, fixed strings and timestamps. `overrides` (a manual run's explicit values)
/// replace computed values by name; query variables are left to the caller, which
/// evaluates them with [`expand`] on their SQL and adds them with [`Values::insert`].
pub fn resolve_local(
    variables: &[Variable],
    run: &RunContext<'_>,
    overrides: &BTreeMap<String, String>,
) -> Result<Values, ResolveError> {
    let mut values = Values::default();
    values.insert("run_id", run.run_id.to_owned(), SqlUse::Literal);
    values.insert("job_name", run.job_name.to_owned(), SqlUse::Literal);
    values.insert(
        "scheduled_time",
        run.scheduled_time
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        SqlUse::Literal,
    );
    for name in overrides.keys() {
        if BUILT_INS.contains(&name.as_str()) {
            return Err(ResolveError {
                field: format!("variables.{name}"),
                message: MessageCode::BuiltInValue.into(),
            });
        }
        if !variables.iter().any(|v| &v.name == name) {
            return Err(ResolveError {
                field: format!("variables.{name}"),
                message: MessageCode::NoSuchVariable.with("var", name).into(),
            });
        }
    }
    for (i, v) in variables.iter().enumerate() {
        if let Some(given) = overrides.get(&v.name) {
            if given.chars().count() > VALUE_MAX_CHARS {
                return Err(ResolveError {
                    field: format!("variables.{}", v.name),
                    message: MessageCode::TooLong.with("n", VALUE_MAX_CHARS).into(),
                });
            }
            values.insert(&v.name, given.clone(), v.in_sql);
            continue;
        }
        let value = match &v.value {
            VariableValue::String { value } => Some(expand(value, Target::Text, &values).map_err(
                |message| ResolveError {
                    field: format!("variables[{i}].value.value"),
                    message: message.into(),
                },
            )?),
            VariableValue::Timestamp {
                base,
                offset,
                format,
                timezone,
            } => {
                let zone: Tz = timezone.parse().map_err(|_| ResolveError {
                    field: format!("variables[{i}].value.timezone"),
                    message: format!("unknown time zone {timezone:?}").into(),
                })?;
                let at = match base {
                    TimeBase::ScheduledTime => run.scheduled_time,
                    TimeBase::StartTime => run.start_time,
                };
                let moved = offset.map_or(Some(at), |o| apply_offset(at, o, zone));
                let moved = moved.ok_or_else(|| ResolveError {
                    field: format!("variables[{i}].value.offset"),
                    message: "moves the time out of the supported range".into(),
                })?;
                Some(
                    format_time(moved, zone, format).map_err(|message| ResolveError {
                        field: format!("variables[{i}].value.format"),
                        message: message.into(),
                    })?,
                )
            }
            VariableValue::Query { .. } => None,
        };
        if let Some(value) = value {
            values.insert(&v.name, value, v.in_sql);
        }
    }
    Ok(values)
}

/// Moves `at` by the offset. Minutes and hours are elapsed time; days, weeks and months
/// are calendar steps on the zone's wall clock (a day ago at 00:30 is the previous day at
/// 00:30 even across a daylight-saving change; a month ago from 31 March is 28 or 29
/// February).
pub fn apply_offset(at: DateTime<Utc>, offset: Offset, zone: Tz) -> Option<DateTime<Utc>> {
    let q = i64::from(offset.quantity);
    let sign = match offset.direction {
        OffsetDirection::Ago => -1,
        OffsetDirection::Later => 1,
    };
    match offset.unit {
        OffsetUnit::Minute => at.checked_add_signed(Duration::minutes(sign * q)),
        OffsetUnit::Hour => at.checked_add_signed(Duration::hours(sign * q)),
        OffsetUnit::Day | OffsetUnit::Week | OffsetUnit::Month => {
            let local = at.with_timezone(&zone).naive_local();
            let moved: NaiveDateTime = match offset.unit {
                OffsetUnit::Month => {
                    let months = Months::new(offset.quantity);
                    if sign < 0 {
                        local.checked_sub_months(months)?
                    } else {
                        local.checked_add_months(months)?
                    }
                }
                OffsetUnit::Week => local.checked_add_signed(Duration::weeks(sign * q))?,
                _ => local.checked_add_signed(Duration::days(sign * q))?,
            };
            Some(wall_clock_to_instant(moved, zone)?.with_timezone(&Utc))
        }
    }
}

/// A wall-clock time in `zone`: the first of two when the clocks repeat it, the moment
/// the clocks jump when they skip it.
fn wall_clock_to_instant(local: NaiveDateTime, zone: Tz) -> Option<DateTime<Tz>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(first, _) => Some(first),
        LocalResult::None => {
            let mut probe = local;
            for _ in 0..(48 * 60) {
                probe = probe.checked_add_signed(Duration::minutes(1))?;
                if let Some(t) = zone.from_local_datetime(&probe).earliest() {
                    return Some(t);
                }
            }
            None
        }
    }
}

/// `at` shown in `zone` with a strftime `format`.
pub fn format_time(at: DateTime<Utc>, zone: Tz, format: &str) -> Result<String, String> {
    check_format(format).map_err(|text| text.english)?;
    let mut out = String::new();
    write!(out, "{}", at.with_timezone(&zone).format(format))
        .map_err(|_| format!("{format:?} cannot be written for this time"))?;
    Ok(out)
}

// --- Expanding ------------------------------------------------------------------------------

/// Where an expanded text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Names, paths, messages: the value as it is.
    Text,
    /// SQL for this dialect: values quoted per their [`SqlUse`].
    Sql(Dialect),
}

/// `text` with every placeholder replaced. Errors name the position.
pub fn expand(text: &str, target: Target, values: &Values) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    for piece in parse(text).map_err(|e| e.message.english)? {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Dollar => out.push('$'),
            Piece::Variable { name, position } => {
                let (value, in_sql) = values.values.get(name).ok_or_else(|| {
                    format!("${name}$ at position {position} has no value in this run")
                })?;
                match target {
                    Target::Text => out.push_str(value),
                    Target::Sql(dialect) => match in_sql {
                        SqlUse::Literal => out.push_str(&dialect.literal(value)?),
                        SqlUse::Identifier => out.push_str(&dialect.checked_ident(value)?),
                        SqlUse::Raw => out.push_str(value),
                    },
                }
            }
        }
    }
    Ok(out)
}

/// A job's settings (as JSON) with every placeholder expanded: SQL settings for the dialect
/// `sql_dialect` gives for their path, the rest as text. The `variables` list is left as it
/// is. Errors carry the setting's path.
pub fn expand_settings(
    settings: &Value,
    values: &Values,
    sql_dialect: &dyn Fn(&str) -> Option<Dialect>,
) -> Result<Value, FieldErrors> {
    let mut errors = FieldErrors::default();
    let expanded = expand_value(settings, String::new(), values, sql_dialect, &mut errors);
    errors.into_result().map(|()| expanded)
}

fn expand_value(
    value: &Value,
    path: String,
    values: &Values,
    sql_dialect: &dyn Fn(&str) -> Option<Dialect>,
    errors: &mut FieldErrors,
) -> Value {
    match value {
        Value::String(s) if s.contains('$') && !path.starts_with("variables[") => {
            let target = if is_sql_path(&path) {
                match sql_dialect(&path) {
                    Some(d) => Target::Sql(d),
                    None => {
                        errors.push(&path, "is SQL for a connection whose dialect is unknown");
                        return value.clone();
                    }
                }
            } else {
                Target::Text
            };
            match expand(s, target, values) {
                Ok(v) => Value::String(v),
                Err(m) => {
                    errors.push(&path, m);
                    value.clone()
                }
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    expand_value(item, format!("{path}[{i}]"), values, sql_dialect, errors)
                })
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    (
                        k.clone(),
                        expand_value(v, child, values, sql_dialect, errors),
                    )
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests;
