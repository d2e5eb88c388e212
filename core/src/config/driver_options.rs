//! JDBC `options:` of `type: postgresql | mysql` sections: what each driver property
//! means for Hakobu's native drivers.
//!
//! Embulk hands `options:` to the JDBC driver as connection properties, so configs carry
//! whatever pgjdbc or Connector/J understood, written as YAML scalars (`useSSL: false`,
//! `connectTimeout: 300`). Hakobu accepts every scalar, maps the properties that change
//! what a run does (TLS in `jdbc::resolve_tls`; time-outs, the server's time zone and
//! MySQL's zero dates here) and reports every other one as ignored: a property a JVM
//! driver needed is never a reason to refuse a config.

use super::compat::ConfigNotice;
use super::endpoint::DbKind;
use super::error::{ConfigError, join_path};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;

/// What Connector/J's `zeroDateTimeBehavior` asks for MySQL's `0000-00-00` dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZeroDates {
    /// NULL (Hakobu's default, Connector/J's `convertToNull`).
    #[default]
    Null,
    /// The run fails on the first zero date (`exception`).
    Fail,
    /// The earliest date, `0001-01-01` (`round`).
    Round,
}

/// The driver properties Hakobu acts on, and a notice for each property of the section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverOptions {
    /// Seconds to wait for a connection (`connectTimeout`, `loginTimeout`).
    pub connect_timeout: Option<u64>,
    /// Seconds a read may wait for the server (`socketTimeout`).
    pub socket_timeout: Option<u64>,
    /// The zone of the server's zone-less date-times (Connector/J's `serverTimezone`).
    pub server_timezone: Option<String>,
    /// MySQL's zero dates.
    pub zero_dates: ZeroDates,
    /// One line per property: what it was mapped to, or why it changes nothing.
    pub notices: Vec<ConfigNotice>,
}

/// Properties that choose the connection's encryption; `jdbc::resolve_tls` reads them.
const TLS_PROPERTIES: &[&str] = &[
    "sslmode",
    "sslMode",
    "ssl",
    "sslfactory",
    "sslrootcert",
    "useSSL",
    "requireSSL",
    "verifyServerCertificate",
];

const UTF8_ALWAYS: &str = "Hakobu always talks UTF-8 (utf8mb4) to the server, which converts every column's character set, so text arrives the same";
const DRIVER_TUNING: &str = "tunes the JDBC driver's caching, batching or fetching; Hakobu's native driver streams and batches on its own";

/// Properties known to change nothing Hakobu does, with the reason logged.
const NO_EFFECT: &[(&str, &str)] = &[
    ("characterEncoding", UTF8_ALWAYS),
    ("useUnicode", UTF8_ALWAYS),
    ("characterSetResults", UTF8_ALWAYS),
    ("charSet", UTF8_ALWAYS),
    ("useCursorFetch", DRIVER_TUNING),
    ("defaultFetchSize", DRIVER_TUNING),
    ("defaultRowFetchSize", DRIVER_TUNING),
    ("rewriteBatchedStatements", DRIVER_TUNING),
    ("reWriteBatchedInserts", DRIVER_TUNING),
    ("cachePrepStmts", DRIVER_TUNING),
    ("useServerPrepStmts", DRIVER_TUNING),
    ("prepStmtCacheSize", DRIVER_TUNING),
    ("prepStmtCacheSqlLimit", DRIVER_TUNING),
    ("prepareThreshold", DRIVER_TUNING),
    ("useCompression", DRIVER_TUNING),
    ("tcpKeepAlive", DRIVER_TUNING),
    ("binaryTransfer", DRIVER_TUNING),
    (
        "useLegacyDatetimeCode",
        "Hakobu's MySQL session runs in UTC; zone-less values are read in default_timezone (or serverTimezone)",
    ),
    (
        "useJDBCCompliantTimezoneShift",
        "Hakobu's MySQL session runs in UTC; zone-less values are read in default_timezone (or serverTimezone)",
    ),
    (
        "ApplicationName",
        "the session's name in the server's activity list only",
    ),
    (
        "allowPublicKeyRetrieval",
        "Hakobu's driver authenticates without the JDBC driver's key retrieval switch",
    ),
    (
        "allowLoadLocalInfile",
        "read by the MySQL output: false writes with INSERTs instead of LOAD DATA",
    ),
];

/// Reads `options:` values: any scalar (text, number, true/false; empty is empty text).
/// A list or a mapping is refused, naming the property.
pub(crate) fn scalar_options<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Null => String::new(),
                _ => {
                    return Err(D::Error::custom(
                        ConfigError::new(
                            key.as_str(),
                            "expected one value (text, a number or true/false), not a list or mapping",
                        )
                        .to_nested_message(),
                    ));
                }
            };
            Ok((key, text))
        })
        .collect()
}

/// What the `options` of a `kind` section ask for. `input` says whether it is a source
/// (the time-outs apply to reads there); `path` is the section's (`in`, `out`).
pub fn driver_options(
    kind: DbKind,
    input: bool,
    options: &BTreeMap<String, String>,
    path: &str,
) -> Result<DriverOptions, ConfigError> {
    let mut out = DriverOptions::default();
    for (key, value) in options {
        let at = join_path(path, &format!("options.{key}"));
        let note = |message: String| ConfigNotice::new(at.clone(), message);
        let value = value.trim();
        match key.as_str() {
            k if TLS_PROPERTIES.contains(&k) => {
                out.notices
                    .push(note(format!("{value:?} chooses the connection's ssl_mode")));
            }
            "connectTimeout" | "loginTimeout" | "socketTimeout" if !input => {
                out.notices.push(note(
                    "accepted and ignored: the destination is bounded by Hakobu's own limits"
                        .into(),
                ));
            }
            "connectTimeout" | "loginTimeout" | "socketTimeout" => {
                // Connector/J counts milliseconds, pgjdbc seconds.
                let number: u64 = value.parse().map_err(|_| {
                    ConfigError::new(&at, format!("{value:?} is not a whole number"))
                })?;
                let seconds = match kind {
                    DbKind::Mysql => number.div_ceil(1000),
                    DbKind::Postgresql => number,
                };
                if seconds == 0 {
                    out.notices.push(note(
                        "0 (no limit) is not allowed here; Hakobu's default limit applies".into(),
                    ));
                    continue;
                }
                let field = if key == "socketTimeout" {
                    out.socket_timeout = Some(seconds);
                    "socket_timeout"
                } else {
                    out.connect_timeout = Some(seconds);
                    "connect_timeout"
                };
                out.notices.push(note(format!(
                    "used as {field}: {seconds} s unless {field} is set"
                )));
            }
            "serverTimezone" | "serverTimeZone" => {
                if let Err(e) = value.parse::<crate::zone::Zone>() {
                    return Err(ConfigError::new(&at, e));
                }
                out.server_timezone = Some(value.to_owned());
                out.notices.push(note(format!(
                    "zone-less date-times are read in {value} unless default_timezone is set"
                )));
            }
            "zeroDateTimeBehavior" => {
                out.zero_dates = match value {
                    "convertToNull" | "CONVERT_TO_NULL" => ZeroDates::Null,
                    "exception" | "EXCEPTION" => ZeroDates::Fail,
                    "round" | "ROUND" => ZeroDates::Round,
                    other => {
                        return Err(ConfigError::new(
                            &at,
                            format!(
                                "unknown value {other:?}; expected one of convertToNull, exception, round"
                            ),
                        ));
                    }
                };
                out.notices
                    .push(note(format!("zero dates: {value} applies")));
            }
            k => {
                let why = NO_EFFECT
                    .iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, why)| *why)
                    .unwrap_or("not a setting of Hakobu's native driver");
                out.notices
                    .push(note(format!("accepted and ignored: {why}")));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn connector_j_counts_milliseconds_and_pgjdbc_seconds() {
        let o = options(&[("connectTimeout", "2500"), ("socketTimeout", "60000")]);
        let my = driver_options(DbKind::Mysql, true, &o, "in").unwrap();
        assert_eq!((my.connect_timeout, my.socket_timeout), (Some(3), Some(60)));
        let o = options(&[("connectTimeout", "20"), ("loginTimeout", "30")]);
        let pg = driver_options(DbKind::Postgresql, true, &o, "in").unwrap();
        // BTreeMap order: loginTimeout comes after connectTimeout and wins.
        assert_eq!(pg.connect_timeout, Some(30));
        let err = driver_options(
            DbKind::Mysql,
            true,
            &options(&[("connectTimeout", "soon")]),
            "in",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "in.options.connectTimeout: \"soon\" is not a whole number"
        );
    }

    #[test]
    fn zero_dates_and_server_zone_are_mapped_and_the_rest_is_noted() {
        let o = options(&[
            ("zeroDateTimeBehavior", "round"),
            ("serverTimezone", "Asia/Tokyo"),
            ("useUnicode", "true"),
            ("somethingNew", "1"),
        ]);
        let d = driver_options(DbKind::Mysql, true, &o, "in").unwrap();
        assert_eq!(d.zero_dates, ZeroDates::Round);
        assert_eq!(d.server_timezone.as_deref(), Some("Asia/Tokyo"));
        let lines: Vec<String> = d.notices.iter().map(ToString::to_string).collect();
        assert!(
            lines.contains(
                &"in.options.somethingNew: accepted and ignored: not a setting of Hakobu's native driver"
                    .to_owned()
            ),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with(
                "in.options.useUnicode: accepted and ignored: Hakobu always talks UTF-8"
            )),
            "{lines:?}"
        );
        let err = driver_options(
            DbKind::Mysql,
            true,
            &options(&[("zeroDateTimeBehavior", "nothing")]),
            "in",
        )
        .unwrap_err();
        assert!(err.to_string().starts_with(
            "in.options.zeroDateTimeBehavior: unknown value \"nothing\"; expected one of"
        ));
    }
}
