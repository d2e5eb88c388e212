//! Times and numbers formatted for the reader's language and time zone.
//!
//! The server sends instants in UTC; people read them in their own zone, with the zone's
//! name next to them so "09:00" is never ambiguous. The browser's `Intl` does the work:
//! it knows the user's zone and each language's conventions (`2026/11/22 8:55 JST` for
//! Japanese, `22 Nov 2026, 08:55 GMT+9` for English). Off the browser (unit tests on the
//! host), a plain UTC rendering stands in.

use crate::i18n::Lang;
use chrono::{DateTime, Utc};

/// A date and time with the zone's short name, e.g. `Nov 22, 2026, 8:55 AM GMT+9`.
pub fn date_time(lang: Lang, at: &DateTime<Utc>) -> String {
    imp::date_time(lang, at)
}

/// The time of day in the user's zone, to the second (`08:55:03`): log lines, whose date
/// and zone the page states once.
pub fn clock_time(lang: Lang, at: &DateTime<Utc>) -> String {
    imp::clock_time(lang, at)
}

/// An integer with the language's digit grouping: `12,345`.
pub fn number(lang: Lang, n: i64) -> String {
    imp::number(lang, n)
}

/// A size in bytes with a decimal unit, as storage and network prices count them:
/// `950 B`, `12.3 kB`, `4.2 MB`, `1.1 GB`. Units are the same in both languages.
pub fn bytes(lang: Lang, n: i64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n.abs() < 1000 {
        return format!("{} B", number(lang, n));
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value.abs() >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The user's time zone: its IANA id (`Asia/Tokyo`) and its long name in `lang`
/// (`日本標準時`, `Japan Standard Time`).
pub fn time_zone(lang: Lang) -> (String, String) {
    imp::time_zone(lang)
}

/// An instant typed into an `<input type="datetime-local">` (`2026-11-22T08:55`), read in
/// the user's zone, as RFC 3339 for the API. `None` when the input is empty or invalid.
pub fn local_input_to_rfc3339(value: &str) -> Option<String> {
    if value.trim().is_empty() {
        return None;
    }
    imp::local_input_to_rfc3339(value)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::*;
    use js_sys::{Array, Date, Object, Reflect};
    use wasm_bindgen::JsValue;

    fn options(pairs: &[(&str, &str)]) -> Object {
        let object = Object::new();
        for (key, value) in pairs {
            let _ = Reflect::set(&object, &(*key).into(), &(*value).into());
        }
        object
    }

    fn js_date(at: &DateTime<Utc>) -> Date {
        Date::new(&JsValue::from_f64(at.timestamp_millis() as f64))
    }

    pub fn date_time(lang: Lang, at: &DateTime<Utc>) -> String {
        let opts = options(&[
            ("year", "numeric"),
            ("month", "short"),
            ("day", "numeric"),
            ("hour", "numeric"),
            ("minute", "2-digit"),
            ("timeZoneName", "short"),
        ]);
        js_date(at).to_locale_string(lang.locale(), &opts).into()
    }

    pub fn clock_time(lang: Lang, at: &DateTime<Utc>) -> String {
        let opts = options(&[
            ("hour", "2-digit"),
            ("minute", "2-digit"),
            ("second", "2-digit"),
            ("hourCycle", "h23"),
        ]);
        js_date(at)
            .to_locale_time_string_with_options(lang.locale(), &opts)
            .into()
    }

    pub fn number(lang: Lang, n: i64) -> String {
        js_sys::Number::from(n as f64)
            .to_locale_string(lang.locale())
            .into()
    }

    pub fn time_zone(lang: Lang) -> (String, String) {
        let locales = Array::of1(&lang.locale().into());
        let resolved =
            js_sys::Intl::DateTimeFormat::new(&locales, &Object::new()).resolved_options();
        let id = Reflect::get(&resolved, &"timeZone".into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_else(|| "UTC".to_owned());
        let long =
            js_sys::Intl::DateTimeFormat::new(&locales, &options(&[("timeZoneName", "long")]));
        let parts = long.format_to_parts(&Date::new_0());
        let name = parts
            .iter()
            .find_map(|part| {
                let kind = Reflect::get(&part, &"type".into()).ok()?.as_string()?;
                (kind == "timeZoneName")
                    .then(|| Reflect::get(&part, &"value".into()).ok()?.as_string())
                    .flatten()
            })
            .unwrap_or_else(|| id.clone());
        (id, name)
    }

    pub fn local_input_to_rfc3339(value: &str) -> Option<String> {
        // `new Date("2026-11-22T08:55")` reads a date-time without zone as local time.
        let date = Date::new(&JsValue::from_str(value));
        let millis = date.get_time();
        if millis.is_nan() {
            return None;
        }
        DateTime::<Utc>::from_timestamp_millis(millis as i64).map(|d| d.to_rfc3339())
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::*;

    pub fn date_time(_lang: Lang, at: &DateTime<Utc>) -> String {
        at.format("%Y-%m-%d %H:%M UTC").to_string()
    }

    pub fn clock_time(_lang: Lang, at: &DateTime<Utc>) -> String {
        at.format("%H:%M:%S").to_string()
    }

    pub fn number(_lang: Lang, n: i64) -> String {
        let digits = n.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    }

    pub fn time_zone(_lang: Lang) -> (String, String) {
        ("UTC".to_owned(), "UTC".to_owned())
    }

    pub fn local_input_to_rfc3339(value: &str) -> Option<String> {
        chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
            .ok()
            .map(|n| n.and_utc().to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_fallbacks() {
        assert_eq!(number(Lang::En, 1234567), "1,234,567");
        assert_eq!(number(Lang::En, -1000), "-1,000");
        assert_eq!(number(Lang::En, 12), "12");
        assert_eq!(bytes(Lang::En, 0), "0 B");
        assert_eq!(bytes(Lang::En, 999), "999 B");
        assert_eq!(bytes(Lang::En, 1000), "1.0 kB");
        assert_eq!(bytes(Lang::En, 12_345), "12.3 kB");
        assert_eq!(bytes(Lang::En, 999_960), "1.0 MB");
        assert_eq!(bytes(Lang::Ja, 4_200_000_000), "4.2 GB");
        assert_eq!(local_input_to_rfc3339(""), None);
        assert_eq!(
            local_input_to_rfc3339("2026-11-22T08:55").as_deref(),
            Some("2026-11-22T08:55:00+00:00")
        );
    }
}
