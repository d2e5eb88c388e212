//! Embulk options Hakobu accepts without acting on them, and "did you mean" for the rest.
//!
//! Real Embulk configs carry options that only tune the JVM plugins' speed, memory or
//! retries (`batch_size`, `retry_limit`, `driver_path`, `min_task_size`, ...). Refusing
//! them makes a working config fail for nothing; dropping them silently hides that they
//! do nothing here. So one pass over the document, before the typed parse, takes out the
//! keys listed in [`IGNORED`] and returns a [`ConfigNotice`] for each, which the runner
//! writes to the run log. Every other key still meets the sections' `deny_unknown_fields`,
//! and that error names the nearest known key ([`did_you_mean`]), so a typo keeps failing
//! with a hint instead of being ignored.

use serde_json::Value;
use std::fmt;

/// Something about the config a user should know that does not stop the run: an option
/// accepted and ignored, or a driver option mapped to Hakobu's own setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigNotice {
    /// The option, e.g. `out.retry_limit` or `in.options.useSSL`.
    pub path: String,
    /// What Hakobu does with it.
    pub message: String,
}

impl ConfigNotice {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigNotice {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The kinds of section whose keys [`IGNORED`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    JdbcInput,
    JdbcOutput,
    FileInput,
    S3Input,
    S3Output,
    CsvParser,
    Exec,
}

const JVM_DRIVER: &str = "Hakobu connects with its own native driver, not a JDBC jar";
const STATEMENT_RETRIES: &str =
    "Hakobu retries a failed run as a whole (the job's retry settings), not each statement";

/// Options of Embulk's standard plugins that only tune how the JVM plugin works, never
/// which rows arrive or what they contain: accepted, logged, not used.
const IGNORED: &[(Section, &str, &str)] = &[
    (Section::JdbcInput, "driver_path", JVM_DRIVER),
    (Section::JdbcInput, "driver_class", JVM_DRIVER),
    (
        Section::JdbcInput,
        "application_name",
        "the session's name in the server's activity list only",
    ),
    (
        Section::JdbcInput,
        "use_legacy_datetime_code",
        "a Connector/J switch; Hakobu's MySQL session runs in UTC and reads DATETIME in default_timezone",
    ),
    (Section::JdbcOutput, "driver_path", JVM_DRIVER),
    (Section::JdbcOutput, "driver_class", JVM_DRIVER),
    (Section::JdbcOutput, "retry_limit", STATEMENT_RETRIES),
    (Section::JdbcOutput, "retry_wait", STATEMENT_RETRIES),
    (Section::JdbcOutput, "max_retry_wait", STATEMENT_RETRIES),
    (
        Section::JdbcOutput,
        "insert_method",
        "Hakobu always loads PostgreSQL with COPY and MySQL with LOAD DATA (or multi-row INSERTs)",
    ),
    (
        Section::JdbcOutput,
        "max_table_name_length",
        "Hakobu's intermediate table names always fit the server's limit",
    ),
    (
        Section::JdbcOutput,
        "connect_timeout",
        "the destination connects within Hakobu's 300 s limit",
    ),
    (
        Section::JdbcOutput,
        "socket_timeout",
        "the destination's statements are bounded by the run's timeout",
    ),
    (
        Section::FileInput,
        "min_task_size",
        "Hakobu reads each file as one task",
    ),
    (
        Section::S3Input,
        "min_task_size",
        "Hakobu reads each object as one task",
    ),
    (
        Section::S3Input,
        "use_path_style_access",
        "Hakobu addresses an S3-compatible endpoint by path and AWS by its own rules",
    ),
    (
        Section::S3Input,
        "max_connections",
        "Hakobu streams each object over one connection",
    ),
    (
        Section::S3Output,
        "tmp_path",
        "Hakobu uploads in parts from memory, with no local temporary file",
    ),
    (
        Section::S3Output,
        "tmp_path_prefix",
        "Hakobu uploads in parts from memory, with no local temporary file",
    ),
    (
        Section::S3Output,
        "use_path_style_access",
        "Hakobu addresses an S3-compatible endpoint by path and AWS by its own rules",
    ),
    (
        Section::CsvParser,
        "line_delimiter_recognized",
        "Hakobu ends a record at any of CRLF, LF and CR outside quotes",
    ),
    (
        Section::Exec,
        "preview_sample_buffer_bytes",
        "Hakobu's previews have their own budget",
    ),
];

/// Takes the [`IGNORED`] keys out of a config document, one notice per key taken.
pub(crate) fn take_ignored(doc: &mut Value) -> Vec<ConfigNotice> {
    let mut notices = Vec::new();
    let Value::Object(root) = doc else {
        return notices;
    };
    if let Some(section) = root.get_mut("in") {
        let kind = match type_of(section) {
            Some("postgresql" | "mysql") => Some(Section::JdbcInput),
            Some("file") => Some(Section::FileInput),
            Some("s3") => Some(Section::S3Input),
            _ => None,
        };
        take(section, kind, "in", &mut notices);
        if let Some(parser) = section.get_mut("parser") {
            let kind = (type_of(parser) == Some("csv")).then_some(Section::CsvParser);
            take(parser, kind, "in.parser", &mut notices);
        }
    }
    if let Some(section) = root.get_mut("out") {
        let kind = match type_of(section) {
            Some("postgresql" | "mysql") => Some(Section::JdbcOutput),
            Some("s3") => Some(Section::S3Output),
            _ => None,
        };
        take(section, kind, "out", &mut notices);
    }
    if let Some(exec) = root.get_mut("exec") {
        take(exec, Some(Section::Exec), "exec", &mut notices);
    }
    notices
}

/// Keys whose value is a time zone, wherever they appear.
const ZONE_KEYS: &[&str] = &["timezone", "default_timezone", "serverTimezone"];

/// Rewrites zones written as whole-hour UTC offsets (`+0900`, `+09:00`, `-05`), which
/// Embulk accepts, into the IANA zone of that fixed offset (`Etc/GMT-9`: the IANA names
/// count the other way), one notice each. Offsets with minutes have no IANA name and stay
/// as written: `zone::Zone` reads them as fixed offsets.
pub(crate) fn name_offset_zones(doc: &mut Value, path: &str, notices: &mut Vec<ConfigNotice>) {
    match doc {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if ZONE_KEYS.contains(&key.as_str())
                    && let Value::String(zone) = value
                    && let Some(name) = offset_zone_name(zone)
                {
                    notices.push(ConfigNotice::new(
                        at,
                        format!("the offset {zone} is read as the zone {name}"),
                    ));
                    *zone = name;
                } else {
                    name_offset_zones(value, &at, notices);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                name_offset_zones(item, &format!("{path}[{i}]"), notices);
            }
        }
        _ => {}
    }
}

/// `Etc/GMT-9` for `+0900` / `+09:00` / `+09`, `UTC` for a zero offset.
fn offset_zone_name(zone: &str) -> Option<String> {
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    let digits = digits.replace(':', "");
    if !(digits.len() == 2 || digits.len() == 4) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    if digits.len() == 4 && &digits[2..] != "00" {
        return None;
    }
    match sign * hours {
        0 => Some("UTC".to_owned()),
        h if (-12..=14).contains(&h) => Some(format!("Etc/GMT{:+}", -h)),
        _ => None,
    }
}

fn type_of(section: &Value) -> Option<&str> {
    section.get("type").and_then(Value::as_str)
}

fn take(section: &mut Value, kind: Option<Section>, path: &str, notices: &mut Vec<ConfigNotice>) {
    let (Some(kind), Value::Object(map)) = (kind, section) else {
        return;
    };
    for (_, key, why) in IGNORED.iter().filter(|(s, _, _)| *s == kind) {
        if map.remove(*key).is_some() {
            notices.push(ConfigNotice::new(
                format!("{path}.{key}"),
                format!("accepted and ignored: {why}"),
            ));
        }
    }
}

/// The known key nearest to `unknown`, when it is near enough to be a typo of it: at most
/// a third of its letters differ (at least one may), ignoring case.
pub(crate) fn did_you_mean<'a>(unknown: &str, known: &[&'a str]) -> Option<&'a str> {
    let unknown = unknown.to_ascii_lowercase();
    let allowed = (unknown.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (edit_distance(&unknown, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// The known keys of a section where serde's "unknown field" error lists them, plus the
/// keys Hakobu accepts and ignores there, so `retry_limt` suggests `retry_limit`.
pub(crate) fn suggestion_for_unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (unknown, expected) = rest.split_once('`')?;
    let mut known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    known.extend(IGNORED.iter().map(|(_, key, _)| *key));
    did_you_mean(unknown, &known).map(|k| format!("unknown field `{unknown}`; did you mean `{k}`?"))
}

/// Edit distance over characters where swapping two neighbours counts as one edit
/// (optimal string alignment), so `tabel` is one edit from `table`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_keys_are_suggested_and_far_ones_are_not() {
        let known = ["newline", "newline_in_field", "null_string", "quote_policy"];
        assert_eq!(
            did_you_mean("newline_in_feild", &known),
            Some("newline_in_field")
        );
        assert_eq!(did_you_mean("Quote_Policy", &known), Some("quote_policy"));
        assert_eq!(did_you_mean("nul_string", &known), Some("null_string"));
        assert_eq!(did_you_mean("compression", &known), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(offset_zone_name("+0900").as_deref(), Some("Etc/GMT-9"));
        assert_eq!(offset_zone_name("-05:00").as_deref(), Some("Etc/GMT+5"));
        assert_eq!(offset_zone_name("+00").as_deref(), Some("UTC"));
        assert_eq!(offset_zone_name("+0530"), None);
        assert_eq!(offset_zone_name("Asia/Tokyo"), None);
        assert_eq!(did_you_mean("tabel", &["table", "tables"]), Some("table"));
    }

    #[test]
    fn serde_unknown_field_messages_get_the_nearest_key() {
        let m = "unknown field `delimeter`, expected one of `charset`, `delimiter`, `quote`";
        assert_eq!(
            suggestion_for_unknown_field(m).as_deref(),
            Some("unknown field `delimeter`; did you mean `delimiter`?")
        );
        let m = "unknown field `retry_limt`, expected `host` or `table`";
        assert_eq!(
            suggestion_for_unknown_field(m).as_deref(),
            Some("unknown field `retry_limt`; did you mean `retry_limit`?")
        );
        assert_eq!(
            suggestion_for_unknown_field("unknown field `zzz`, expected `a`"),
            None
        );
    }
}
