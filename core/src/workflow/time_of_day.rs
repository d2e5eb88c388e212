//! `wait_until` tasks: the next moment a wall-clock time of day comes in a time zone.
//!
//! The moment is the first one at or after the task starts (its upstream tasks have
//! ended), not one tied to the run's `as_of`: a task "wait until 09:30 Tokyo" after a
//! load that ends at 10:00 waits for the next morning, whatever day the run is for, and a
//! resumed run waits for the next 09:30 again rather than for one long gone. A wall
//! clock has days without some times and with others twice (daylight saving): a time
//! skipped by a jump forward means the first moment after the jump (02:30 on the night
//! clocks go from 02:00 to 03:00 is 03:00), a time that comes twice counts once a
//! day, at its first occurrence (a task that starts between the two waits for the next
//! day's).

use chrono::{DateTime, Days, LocalResult, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// `HH:MM` on a 24-hour clock (`09:30`, `23:05`), exactly two digits each.
pub fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return None;
    }
    let digits = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let hours = digits(&text[..2])?;
    let minutes = digits(&text[3..])?;
    NaiveTime::from_hms_opt(hours, minutes, 0).filter(|_| hours < 24)
}

/// The first moment at or after `after` when the clocks of `zone` show `time`.
pub fn next_time_of_day(after: DateTime<Utc>, time: NaiveTime, zone: Tz) -> DateTime<Utc> {
    let today = after.with_timezone(&zone).date_naive();
    // The local day of `after` or the next has it, unless `after` is late on a day whose
    // time was skipped: the day after next then has it for sure.
    for days in 0..=2 {
        let Some(day) = today.checked_add_days(Days::new(days)) else {
            break;
        };
        let at = first_moment_at(day.and_time(time), zone);
        if at >= after {
            return at;
        }
    }
    // Only at the end of chrono's calendar; the caller bounds the wait anyway.
    after
}

/// The moment the clocks of `zone` show `local`: its first occurrence when they show it
/// twice, the first moment after the jump when they skip it.
fn first_moment_at(local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    let mut probe = local;
    // Jumps forward are at most a few hours; step by minutes to the end of the gap.
    for _ in 0..=24 * 60 {
        match zone.from_local_datetime(&probe) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                return at.with_timezone(&Utc);
            }
            LocalResult::None => probe += chrono::Duration::minutes(1),
        }
    }
    local.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn hm(text: &str) -> NaiveTime {
        parse_time_of_day(text).unwrap()
    }

    #[test]
    fn times_of_day_are_hh_mm() {
        assert_eq!(
            parse_time_of_day("09:30"),
            NaiveTime::from_hms_opt(9, 30, 0)
        );
        assert_eq!(parse_time_of_day("00:00"), NaiveTime::from_hms_opt(0, 0, 0));
        assert_eq!(
            parse_time_of_day("23:59"),
            NaiveTime::from_hms_opt(23, 59, 0)
        );
        for bad in [
            "9:30", "24:00", "12:60", "12-30", "12:3", "+1:30", "12:30:00", "", "ab:cd",
        ] {
            assert_eq!(parse_time_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn tokyo_has_no_daylight_saving() {
        let tokyo: Tz = "Asia/Tokyo".parse().unwrap();
        // 09:00 in Tokyo: 09:30 is half an hour later, the same day.
        assert_eq!(
            next_time_of_day(utc("2026-12-08T00:00:00Z"), hm("09:30"), tokyo),
            utc("2026-12-08T00:30:00Z")
        );
        // At the very moment: now.
        assert_eq!(
            next_time_of_day(utc("2026-12-08T00:30:00Z"), hm("09:30"), tokyo),
            utc("2026-12-08T00:30:00Z")
        );
        // A second later: the next day.
        assert_eq!(
            next_time_of_day(utc("2026-12-08T00:30:01Z"), hm("09:30"), tokyo),
            utc("2026-12-09T00:30:00Z")
        );
        // 23:00 UTC is already the next day in Tokyo (08:00): 09:30 that day.
        assert_eq!(
            next_time_of_day(utc("2026-12-07T23:00:00Z"), hm("09:30"), tokyo),
            utc("2026-12-08T00:30:00Z")
        );
    }

    #[test]
    fn new_york_across_daylight_saving() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // Saturday 7 March 2026, 10:00 EST: 09:30 has passed; Sunday's 09:30 is EDT
        // (UTC-4), 23 hours of elapsed time later rather than 24.
        assert_eq!(
            next_time_of_day(utc("2026-03-07T15:00:00Z"), hm("09:30"), ny),
            utc("2026-03-08T13:30:00Z")
        );
        // 02:30 does not exist on 8 March (02:00 jumps to 03:00): the jump's end.
        assert_eq!(
            next_time_of_day(utc("2026-03-08T05:00:00Z"), hm("02:30"), ny),
            utc("2026-03-08T07:00:00Z")
        );
        // 01:30 comes twice on 1 November (EDT, then EST): the first.
        assert_eq!(
            next_time_of_day(utc("2026-11-01T04:00:00Z"), hm("01:30"), ny),
            utc("2026-11-01T05:30:00Z")
        );
        // Between the two 01:30s: the next day's, not the second one.
        assert_eq!(
            next_time_of_day(utc("2026-11-01T06:00:00Z"), hm("01:30"), ny),
            utc("2026-11-02T06:30:00Z")
        );
    }
}
