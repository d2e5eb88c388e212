//! The time zone of a config setting (`timezone`, `default_timezone`, a column's zone): an
//! IANA zone, or a fixed UTC offset as Embulk also accepts them (`+05:30`, `+0545`).
//!
//! Whole-hour offsets are rewritten to their IANA name (`Etc/GMT-9`) when a config is read
//! (`config::compat`); offsets with minutes have no IANA name, so they stay offsets and
//! are this type's second case. It implements chrono's `TimeZone`, so the engine converts
//! with it exactly as with a `chrono_tz::Tz`.

use chrono::{FixedOffset, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{Tz, TzOffset};
use std::fmt;
use std::str::FromStr;

/// An IANA zone or a fixed offset from UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Iana(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    pub const UTC: Zone = Zone::Iana(Tz::UTC);
}

/// The offset of a [`Zone`] at one instant.
#[derive(Debug, Clone, Copy)]
pub enum ZoneOffset {
    Iana(TzOffset),
    Fixed(FixedOffset),
}

impl Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        match self {
            ZoneOffset::Iana(o) => o.fix(),
            ZoneOffset::Fixed(o) => *o,
        }
    }
}

impl fmt::Display for ZoneOffset {
    /// The zone's abbreviation (`JST`), or the offset (`+05:30`): what `%Z` prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZoneOffset::Iana(o) => fmt::Display::fmt(o, f),
            ZoneOffset::Fixed(o) => fmt::Display::fmt(o, f),
        }
    }
}

fn map<T>(r: LocalResult<T>, f: impl Fn(T) -> ZoneOffset) -> LocalResult<ZoneOffset> {
    match r {
        LocalResult::Single(o) => LocalResult::Single(f(o)),
        LocalResult::Ambiguous(a, b) => LocalResult::Ambiguous(f(a), f(b)),
        LocalResult::None => LocalResult::None,
    }
}

impl TimeZone for Zone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Zone {
        match offset {
            ZoneOffset::Iana(o) => Zone::Iana(Tz::from_offset(o)),
            ZoneOffset::Fixed(o) => Zone::Fixed(*o),
        }
    }

    #[allow(deprecated)]
    fn offset_from_local_date(&self, local: &NaiveDate) -> LocalResult<ZoneOffset> {
        match self {
            Zone::Iana(tz) => map(tz.offset_from_local_date(local), ZoneOffset::Iana),
            Zone::Fixed(o) => map(o.offset_from_local_date(local), ZoneOffset::Fixed),
        }
    }

    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> LocalResult<ZoneOffset> {
        match self {
            Zone::Iana(tz) => map(tz.offset_from_local_datetime(local), ZoneOffset::Iana),
            Zone::Fixed(o) => map(o.offset_from_local_datetime(local), ZoneOffset::Fixed),
        }
    }

    #[allow(deprecated)]
    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        match self {
            Zone::Iana(tz) => ZoneOffset::Iana(tz.offset_from_utc_date(utc)),
            Zone::Fixed(o) => ZoneOffset::Fixed(o.offset_from_utc_date(utc)),
        }
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        match self {
            Zone::Iana(tz) => ZoneOffset::Iana(tz.offset_from_utc_datetime(utc)),
            Zone::Fixed(o) => ZoneOffset::Fixed(o.offset_from_utc_datetime(utc)),
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Iana(tz) => f.write_str(tz.name()),
            Zone::Fixed(o) => fmt::Display::fmt(o, f),
        }
    }
}

/// The offset in `+05:30`, `+0530` or `-05` form, at most 14 hours from UTC.
fn parse_offset(s: &str) -> Option<FixedOffset> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = s[1..].replacen(':', "", 1);
    if !(digits.len() == 2 || digits.len() == 4) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

impl FromStr for Zone {
    type Err = String;

    fn from_str(s: &str) -> Result<Zone, String> {
        if let Ok(tz) = s.parse::<Tz>() {
            return Ok(Zone::Iana(tz));
        }
        parse_offset(s).map(Zone::Fixed).ok_or_else(|| {
            format!(
                "unknown time zone {s:?}; expected an IANA name such as UTC or Asia/Tokyo, or a UTC offset such as +05:30"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Timelike};

    #[test]
    fn reads_names_and_offsets_with_minutes() {
        assert_eq!(
            "Asia/Tokyo".parse::<Zone>(),
            Ok(Zone::Iana(Tz::Asia__Tokyo))
        );
        assert_eq!(
            "+05:30".parse::<Zone>(),
            Ok(Zone::Fixed(FixedOffset::east_opt(19_800).unwrap()))
        );
        assert_eq!(
            "+0545".parse::<Zone>(),
            Ok(Zone::Fixed(FixedOffset::east_opt(20_700).unwrap()))
        );
        assert_eq!(
            "-03:30".parse::<Zone>(),
            Ok(Zone::Fixed(FixedOffset::west_opt(12_600).unwrap()))
        );
        for bad in ["Mars/Olympus", "+5:30", "+15:00", "+05:75", "0530", "+05:3"] {
            let e = bad.parse::<Zone>().unwrap_err();
            assert!(e.contains("or a UTC offset such as +05:30"), "{bad}: {e}");
        }
    }

    #[test]
    fn converts_like_the_zone_it_names() {
        let instant = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        // 2023-11-14 22:13:20 UTC.
        let kolkata = instant.with_timezone(&"+05:30".parse::<Zone>().unwrap());
        assert_eq!(
            (kolkata.day(), kolkata.hour(), kolkata.minute()),
            (15, 3, 43)
        );
        assert_eq!(kolkata.format("%z").to_string(), "+0530");
        let tokyo = instant.with_timezone(&"Asia/Tokyo".parse::<Zone>().unwrap());
        assert_eq!(tokyo.format("%H:%M %Z %z").to_string(), "07:13 JST +0900");
        let wall = NaiveDate::from_ymd_opt(2024, 3, 10)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        // A fixed offset has no DST gap; New York's 02:30 that night does not exist.
        assert!(
            "-05:30"
                .parse::<Zone>()
                .unwrap()
                .from_local_datetime(&wall)
                .single()
                .is_some()
        );
        assert!(
            "America/New_York"
                .parse::<Zone>()
                .unwrap()
                .from_local_datetime(&wall)
                .single()
                .is_none()
        );
        assert_eq!(Zone::UTC.to_string(), "UTC");
        assert_eq!("+05:30".parse::<Zone>().unwrap().to_string(), "+05:30");
    }
}
