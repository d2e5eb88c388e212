//! Values <-> text: Embulk's strftime dialect, parsing of typed text fields, and
//! formatting of values in a time zone. The file formats read and write with it, and the
//! cast and column filters convert with it, so a value reads the same wherever it is text.

use crate::types::{Value, date_to_days, days_to_date, micros_to_datetime};
use anyhow::{Result, anyhow, bail};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
use hakobu_core::config::ColumnType;
use hakobu_core::zone::Zone;
use std::fmt::Write;

/// Embulk's default timestamp format for CSV (`%Y-%m-%d %H:%M:%S.%6N %z`), in chrono's dialect.
pub const DEFAULT_TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f %z";

/// Translates Embulk's Ruby-style `%N`, `%6N`, `%3N`, `%L` into chrono's `%9f`, `%6f`, `%3f`.
pub fn chrono_format(embulk: &str) -> String {
    embulk
        .replace("%9N", "%9f")
        .replace("%6N", "%6f")
        .replace("%3N", "%3f")
        .replace("%N", "%9f")
        .replace("%L", "%3f")
}

/// How one column is parsed from text.
#[derive(Debug, Clone)]
pub struct FieldParser {
    /// Column name (for errors).
    pub name: String,
    /// Target type.
    pub type_: ColumnType,
    /// strftime format for timestamp/date (chrono dialect), or None for the defaults.
    pub format: Option<String>,
    /// Zone of timestamps without an offset.
    pub tz: Zone,
    /// The day of timestamps whose format has only a time of day (Embulk `date:` /
    /// `default_date`).
    pub date: Option<NaiveDate>,
}

impl FieldParser {
    /// Parses `s` into a value of the column's type.
    pub fn parse<'a>(&self, s: &'a str) -> Result<Value<'a>> {
        let bad = |what: &str| anyhow!("column {:?}: {s:?} is not a {what}", self.name);
        Ok(match self.type_ {
            ColumnType::String | ColumnType::Bytes => Value::Str(s),
            ColumnType::Long => Value::Long(s.trim().parse().map_err(|_| bad("long"))?),
            ColumnType::Double => Value::Double(s.trim().parse().map_err(|_| bad("double"))?),
            ColumnType::Boolean => Value::Bool(match s.trim().to_ascii_lowercase().as_str() {
                "true" | "t" | "yes" | "y" | "on" | "1" => true,
                "false" | "f" | "no" | "n" | "off" | "0" => false,
                _ => return Err(bad("boolean (true/false, yes/no, on/off, 1/0)")),
            }),
            ColumnType::Json => {
                serde_json::from_str::<serde::de::IgnoredAny>(s).map_err(|_| bad("JSON value"))?;
                Value::Str(s)
            }
            ColumnType::Decimal => {
                let t = s.trim();
                let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
                let (i, f) = digits.split_once('.').unwrap_or((digits, ""));
                if (i.is_empty() && f.is_empty())
                    || !i.bytes().chain(f.bytes()).all(|b| b.is_ascii_digit())
                {
                    return Err(bad("decimal number"));
                }
                Value::Str(t)
            }
            ColumnType::Date => {
                let fmt = self.format.as_deref().unwrap_or("%Y-%m-%d");
                Value::Days(date_to_days(
                    NaiveDate::parse_from_str(s.trim(), fmt)
                        .map_err(|_| bad(&format!("date in format {fmt}")))?,
                ))
            }
            ColumnType::Timestamp => Value::Micros(self.parse_timestamp(s.trim()).ok_or_else(
                || match &self.format {
                    Some(f) => bad(&format!("timestamp in format {f}")),
                    None => bad(
                        "timestamp (e.g. 2024-01-02 03:04:05.123456 +0900 or 2024-01-02T03:04:05Z)",
                    ),
                },
            )?),
        })
    }

    fn parse_timestamp(&self, s: &str) -> Option<i64> {
        self.parse_timestamp_as_is(s).or_else(|| {
            let (date, format) = (self.date?, self.format.as_deref()?);
            let on_date = FieldParser {
                format: Some(format!("%Y-%m-%d {format}")),
                date: None,
                ..self.clone()
            };
            on_date.parse_timestamp_as_is(&format!("{} {s}", date.format("%Y-%m-%d")))
        })
    }

    fn parse_timestamp_as_is(&self, s: &str) -> Option<i64> {
        let with_zone = |fmt: &str| {
            DateTime::parse_from_str(s, fmt)
                .ok()
                .map(|d| d.timestamp_micros())
        };
        let naive = |fmt: &str| {
            NaiveDateTime::parse_from_str(s, fmt)
                .ok()
                .and_then(|n| self.tz.from_local_datetime(&n).earliest())
                .map(|d| d.timestamp_micros())
        };
        let date_only = |fmt: &str| {
            NaiveDate::parse_from_str(s, fmt)
                .ok()
                .and_then(|d| {
                    self.tz
                        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
                        .earliest()
                })
                .map(|d| d.timestamp_micros())
        };
        match &self.format {
            Some(f) if f.contains("%z") || f.contains("%:z") || f.contains("%Z") => with_zone(f),
            Some(f)
                if ["%H", "%I", "%k", "%l", "%T", "%R", "%r", "%X", "%s"]
                    .iter()
                    .any(|d| f.contains(d)) =>
            {
                naive(f)
            }
            Some(f) => date_only(f),
            None => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|d| d.timestamp_micros())
                .or_else(|| with_zone("%Y-%m-%d %H:%M:%S%.f %z"))
                .or_else(|| with_zone("%Y-%m-%d %H:%M:%S%.f %:z"))
                .or_else(|| naive("%Y-%m-%d %H:%M:%S%.f"))
                .or_else(|| naive("%Y-%m-%dT%H:%M:%S%.f"))
                .or_else(|| date_only("%Y-%m-%d")),
        }
    }
}

/// How one column is written as text.
#[derive(Debug, Clone)]
pub struct FieldFormatter {
    /// The strftime format, parsed once: re-parsing it per value was the largest cost of
    /// writing CSV.
    items: Vec<chrono::format::Item<'static>>,
    /// The format is Embulk's default, written by hand (chrono's general formatter was
    /// most of the CPU time of a CSV export).
    default_format: bool,
    /// Zone timestamps are written in.
    pub tz: Zone,
}

fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut i = buf.len();
    let mut n = n;
    while n > 0 || i == buf.len() {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    for _ in (buf.len() - i)..width {
        out.push('0');
    }
    out.push_str(std::str::from_utf8(&buf[i..]).expect("ASCII digits"));
}

/// `%Y-%m-%d %H:%M:%S%.6f %z` for years 0-9999.
fn push_default_timestamp(out: &mut String, t: &chrono::DateTime<Zone>) -> bool {
    use chrono::{Datelike, Offset, Timelike};
    let n = t.naive_local();
    if !(0..=9999).contains(&n.year()) {
        return false;
    }
    push_digits(out, n.year() as u32, 4);
    out.push('-');
    push_digits(out, n.month(), 2);
    out.push('-');
    push_digits(out, n.day(), 2);
    out.push(' ');
    push_digits(out, n.hour(), 2);
    out.push(':');
    push_digits(out, n.minute(), 2);
    out.push(':');
    push_digits(out, n.second(), 2);
    out.push('.');
    push_digits(out, n.nanosecond() / 1000 % 1_000_000, 6);
    out.push(' ');
    let offset = t.offset().fix().local_minus_utc();
    out.push(if offset < 0 { '-' } else { '+' });
    let offset = offset.unsigned_abs() / 60;
    push_digits(out, offset / 60, 2);
    push_digits(out, offset % 60, 2);
    true
}

impl FieldFormatter {
    /// A formatter for strftime `format` (chrono dialect) in `tz`.
    pub fn new(format: &str, tz: Zone) -> Result<Self> {
        let items = chrono::format::StrftimeItems::new(format)
            .parse_to_owned()
            .map_err(|_| anyhow!("{format:?} is not a valid strftime format"))?;
        Ok(FieldFormatter {
            items,
            default_format: format == DEFAULT_TIMESTAMP_FORMAT,
            tz,
        })
    }

    /// Embulk's default format in UTC.
    pub fn utc_default() -> Self {
        Self::new(DEFAULT_TIMESTAMP_FORMAT, Zone::UTC).expect("valid default format")
    }

    /// Appends the text of `v` (not NULL) to `out`.
    pub fn write(&self, v: Value<'_>, out: &mut String) -> Result<()> {
        match v {
            Value::Null => {}
            Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
            Value::Long(n) => write!(out, "{n}")?,
            // Debug keeps the shortest round-trip form and uses exponents (1e300), like
            // Java's Double.toString rather than 301 digits.
            Value::Double(f) => write!(out, "{f:?}")?,
            Value::Str(s) => out.push_str(s),
            Value::Micros(m) => {
                let t = micros_to_datetime(m).ok_or_else(|| anyhow!("timestamp out of range"))?;
                let local = t.with_timezone(&self.tz);
                if !(self.default_format && push_default_timestamp(out, &local)) {
                    write!(out, "{}", local.format_with_items(self.items.iter()))?
                }
            }
            Value::Days(d) => write!(
                out,
                "{}",
                days_to_date(d).ok_or_else(|| anyhow!("date out of range"))?
            )?,
            Value::Bytes(b) => match std::str::from_utf8(b) {
                Ok(s) => out.push_str(s),
                Err(_) => bail!("binary value is not UTF-8 text; cast it or remove the column"),
            },
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: ColumnType, format: Option<&str>, tz: &str) -> FieldParser {
        FieldParser {
            name: "c".into(),
            type_: t,
            format: format.map(chrono_format),
            tz: tz.parse().unwrap(),
            date: None,
        }
    }

    #[test]
    fn the_fast_default_format_matches_chrono() {
        for (micros, tz) in [
            (0i64, "UTC"),
            (1_704_067_200_000_001, "Asia/Tokyo"),
            (-1, "America/New_York"),
            (253_402_300_799_999_999, "UTC"),
        ] {
            let tz: Zone = tz.parse().unwrap();
            let mut fast = String::new();
            FieldFormatter::new(DEFAULT_TIMESTAMP_FORMAT, tz)
                .unwrap()
                .write(Value::Micros(micros), &mut fast)
                .unwrap();
            let slow = micros_to_datetime(micros)
                .unwrap()
                .with_timezone(&tz)
                .format(DEFAULT_TIMESTAMP_FORMAT)
                .to_string();
            assert_eq!(fast, slow);
        }
    }

    #[test]
    fn timestamps_use_the_zone_only_without_offset() {
        let tokyo = p(ColumnType::Timestamp, None, "Asia/Tokyo");
        assert_eq!(
            tokyo.parse("2024-01-01 09:00:00").unwrap(),
            Value::Micros(1_704_067_200_000_000)
        );
        assert_eq!(
            tokyo.parse("2024-01-01T00:00:00Z").unwrap(),
            Value::Micros(1_704_067_200_000_000)
        );
        let fmt = p(ColumnType::Timestamp, Some("%Y/%m/%d %H:%M:%S.%6N"), "UTC");
        assert_eq!(
            fmt.parse("2024/01/01 00:00:00.000001").unwrap(),
            Value::Micros(1_704_067_200_000_001)
        );
        assert!(
            p(ColumnType::Long, None, "UTC")
                .parse("1.5")
                .unwrap_err()
                .to_string()
                .contains("is not a long")
        );
    }
}
