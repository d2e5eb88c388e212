use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .with_timezone(&Utc)
}

fn schedule(recurrence: Recurrence, timezone: &str) -> Schedule {
    ScheduleSettings {
        recurrence,
        timezone: timezone.to_owned(),
        catch_up: CatchUp::Last,
        max_consecutive_failures: 5,
    }
    .validate("")
    .unwrap_or_else(|e| panic!("{e}"))
}

fn daily(time: &str, zone: &str) -> Schedule {
    schedule(
        Recurrence::Daily {
            time: time.to_owned(),
        },
        zone,
    )
}

fn times(s: &Schedule, after: &str, n: usize) -> Vec<String> {
    s.fire_times(utc(after), None, n)
        .into_iter()
        .map(|t| t.to_rfc3339())
        .collect()
}

fn errors(settings: ScheduleSettings) -> Vec<(String, String)> {
    match settings.validate("schedule.") {
        Ok(_) => Vec::new(),
        Err(e) => e.0.into_iter().map(|e| (e.field, e.message)).collect(),
    }
}

fn settings(recurrence: Recurrence, timezone: &str) -> ScheduleSettings {
    ScheduleSettings {
        recurrence,
        timezone: timezone.to_owned(),
        catch_up: CatchUp::None,
        max_consecutive_failures: 5,
    }
}

#[test]
fn new_york_skipped_time_runs_once_when_the_clocks_jump() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that night.
    let s = daily("02:30", "America/New_York");
    assert_eq!(
        times(&s, "2026-03-07T00:00:00-05:00", 3),
        [
            "2026-03-07T07:30:00+00:00", // 02:30 EST
            "2026-03-08T07:00:00+00:00", // 03:00 EDT, the first valid time
            "2026-03-09T06:30:00+00:00", // 02:30 EDT
        ]
    );
}

#[test]
fn new_york_repeated_time_runs_once() {
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST, so 01:30 happens twice.
    let s = daily("01:30", "America/New_York");
    assert_eq!(
        times(&s, "2026-10-31T00:00:00-04:00", 3),
        [
            "2026-10-31T05:30:00+00:00",
            "2026-11-01T05:30:00+00:00", // the first 01:30 (EDT) only
            "2026-11-02T06:30:00+00:00",
        ]
    );
}

#[test]
fn berlin_spring_and_autumn() {
    let s = daily("02:30", "Europe/Berlin");
    assert_eq!(
        times(&s, "2026-03-28T00:00:00+01:00", 3),
        [
            "2026-03-28T01:30:00+00:00", // 02:30 CET
            "2026-03-29T01:00:00+00:00", // 03:00 CEST: 02:30 was skipped
            "2026-03-30T00:30:00+00:00", // 02:30 CEST
        ]
    );
    assert_eq!(
        times(&s, "2026-10-24T00:00:00+02:00", 3),
        [
            "2026-10-24T00:30:00+00:00",
            "2026-10-25T00:30:00+00:00", // 02:30 CEST, not again at 02:30 CET
            "2026-10-26T01:30:00+00:00",
        ]
    );
}

#[test]
fn hourly_follows_real_time_across_both_changes() {
    let s = schedule(Recurrence::Hourly { minute: 15 }, "America/New_York");
    // Autumn: the repeated hour gets its own run, so runs stay one hour apart.
    let autumn = s.fire_times(utc("2026-11-01T00:00:00-04:00"), None, 5);
    for pair in autumn.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::hours(1), "{autumn:?}");
    }
    // Spring: the skipped hour has no run, and the next comes an hour after the last.
    let spring = s.fire_times(utc("2026-03-08T00:00:00-05:00"), None, 4);
    assert_eq!(
        spring.iter().map(|t| t.to_rfc3339()).collect::<Vec<_>>(),
        [
            "2026-03-08T05:15:00+00:00", // 00:15 EST
            "2026-03-08T06:15:00+00:00", // 01:15 EST
            "2026-03-08T07:15:00+00:00", // 03:15 EDT
            "2026-03-08T08:15:00+00:00",
        ]
    );
}

#[test]
fn tokyo_has_no_transitions() {
    let s = daily("02:30", "Asia/Tokyo");
    let year = s.fire_times(utc("2026-01-01T00:00:00Z"), None, 400);
    assert_eq!(year.len(), 400);
    assert_eq!(year[0].to_rfc3339(), "2026-01-01T17:30:00+00:00");
    for pair in year.windows(2) {
        assert_eq!(pair[1] - pair[0], chrono::Duration::days(1));
    }
}

#[test]
fn monthly_on_a_day_some_months_lack() {
    let skip = schedule(
        Recurrence::Monthly {
            day: 31,
            time: "06:00".into(),
            short_month: ShortMonth::Skip,
        },
        "UTC",
    );
    assert_eq!(
        times(&skip, "2026-01-01T00:00:00Z", 4),
        [
            "2026-01-31T06:00:00+00:00",
            "2026-03-31T06:00:00+00:00",
            "2026-05-31T06:00:00+00:00",
            "2026-07-31T06:00:00+00:00",
        ]
    );
    let last = schedule(
        Recurrence::Monthly {
            day: 31,
            time: "06:00".into(),
            short_month: ShortMonth::LastDay,
        },
        "UTC",
    );
    assert_eq!(
        times(&last, "2026-01-01T00:00:00Z", 4),
        [
            "2026-01-31T06:00:00+00:00",
            "2026-02-28T06:00:00+00:00",
            "2026-03-31T06:00:00+00:00",
            "2026-04-30T06:00:00+00:00",
        ]
    );
}

#[test]
fn leap_days() {
    let day_30_or_last = schedule(
        Recurrence::Monthly {
            day: 30,
            time: "00:00".into(),
            short_month: ShortMonth::LastDay,
        },
        "UTC",
    );
    assert_eq!(
        times(&day_30_or_last, "2028-01-15T00:00:00Z", 3),
        [
            "2028-01-30T00:00:00+00:00",
            "2028-02-29T00:00:00+00:00", // a leap year's February ends on the 29th
            "2028-03-30T00:00:00+00:00",
        ]
    );
    let day_29 = schedule(
        Recurrence::Monthly {
            day: 29,
            time: "00:00".into(),
            short_month: ShortMonth::LastDay,
        },
        "UTC",
    );
    // 2028 is a leap year: one run on the 29th, not a second on the last day.
    assert_eq!(
        times(&day_29, "2028-02-01T00:00:00Z", 2),
        ["2028-02-29T00:00:00+00:00", "2028-03-29T00:00:00+00:00"]
    );
    assert_eq!(
        times(&day_29, "2027-02-01T00:00:00Z", 1),
        ["2027-02-28T00:00:00+00:00"]
    );
    let leap_cron = schedule(
        Recurrence::Cron {
            expression: "0 12 29 2 *".into(),
        },
        "UTC",
    );
    assert_eq!(
        times(&leap_cron, "2026-03-01T00:00:00Z", 2),
        ["2028-02-29T12:00:00+00:00", "2032-02-29T12:00:00+00:00"]
    );
}

#[test]
fn weekly_on_chosen_days() {
    let s = schedule(
        Recurrence::Weekly {
            weekdays: vec![Weekday::Friday, Weekday::Monday],
            time: "09:00".into(),
        },
        "Asia/Tokyo",
    );
    // 2026-11-23 is a Monday.
    assert_eq!(
        times(&s, "2026-11-22T00:00:00+09:00", 3),
        [
            "2026-11-23T00:00:00+00:00",
            "2026-11-27T00:00:00+00:00",
            "2026-11-30T00:00:00+00:00",
        ]
    );
}

#[test]
fn catch_up_window_lists_missed_times() {
    let s = daily("03:00", "UTC");
    let missed = s.fire_times(
        utc("2026-11-18T12:00:00Z"),
        Some(utc("2026-11-21T12:00:00Z")),
        MAX_CATCH_UP_RUNS,
    );
    assert_eq!(
        missed.iter().map(|t| t.to_rfc3339()).collect::<Vec<_>>(),
        [
            "2026-11-19T03:00:00+00:00",
            "2026-11-20T03:00:00+00:00",
            "2026-11-21T03:00:00+00:00",
        ]
    );
    let newest_first =
        s.recent_fire_times(utc("2026-11-18T12:00:00Z"), utc("2026-11-21T12:00:00Z"), 2);
    assert_eq!(
        newest_first
            .iter()
            .map(|t| t.to_rfc3339())
            .collect::<Vec<_>>(),
        ["2026-11-21T03:00:00+00:00", "2026-11-20T03:00:00+00:00"]
    );
    // `until` itself counts; `after` does not.
    assert_eq!(
        s.recent_fire_times(utc("2026-11-20T03:00:00Z"), utc("2026-11-21T03:00:00Z"), 5),
        [utc("2026-11-21T03:00:00Z")]
    );
    let every_minute = schedule(
        Recurrence::Cron {
            expression: "* * * * *".into(),
        },
        "UTC",
    );
    let bounded = every_minute.fire_times(
        utc("2026-11-18T12:00:00Z"),
        Some(utc("2026-11-21T12:00:00Z")),
        MAX_CATCH_UP_RUNS,
    );
    assert_eq!(bounded.len(), MAX_CATCH_UP_RUNS);
}

#[test]
fn cron_expressions_in_a_zone() {
    let s = schedule(
        Recurrence::Cron {
            expression: "*/20 9-10 * * 1-5".into(),
        },
        "Europe/Berlin",
    );
    // Friday 2026-11-20, then Monday.
    assert_eq!(
        times(&s, "2026-11-20T10:30:00+01:00", 4),
        [
            "2026-11-20T09:40:00+00:00",
            "2026-11-23T08:00:00+00:00",
            "2026-11-23T08:20:00+00:00",
            "2026-11-23T08:40:00+00:00",
        ]
    );
}

#[test]
fn invalid_schedules_name_the_field() {
    assert_eq!(
        errors(settings(Recurrence::Hourly { minute: 60 }, "UTC")),
        [(
            "schedule.recurrence.minute".to_owned(),
            "must be a minute from 0 to 59".to_owned()
        )]
    );
    let bad_zone = errors(settings(Recurrence::Hourly { minute: 0 }, "Tokyo"));
    assert_eq!(bad_zone[0].0, "schedule.timezone");
    assert!(bad_zone[0].1.contains("Asia/Tokyo"), "{bad_zone:?}");
    let bad_time = errors(settings(
        Recurrence::Daily {
            time: "25:00".into(),
        },
        "UTC",
    ));
    assert_eq!(bad_time[0].0, "schedule.recurrence.time");
    assert!(bad_time[0].1.contains("HH:MM"), "{bad_time:?}");
    let no_days = errors(settings(
        Recurrence::Weekly {
            weekdays: vec![],
            time: "09:00".into(),
        },
        "UTC",
    ));
    assert_eq!(no_days[0].0, "schedule.recurrence.weekdays");
    let six_fields = errors(settings(
        Recurrence::Cron {
            expression: "0 0 * * * *".into(),
        },
        "UTC",
    ));
    assert_eq!(six_fields[0].0, "schedule.recurrence.expression");
    assert!(six_fields[0].1.contains("found 6"), "{six_fields:?}");
    let nonsense = errors(settings(
        Recurrence::Cron {
            expression: "0 25 * * *".into(),
        },
        "UTC",
    ));
    assert_eq!(nonsense[0].0, "schedule.recurrence.expression");
    assert!(
        nonsense[0].1.starts_with("is not a valid cron expression"),
        "{nonsense:?}"
    );
    let never = errors(settings(
        Recurrence::Cron {
            expression: "0 0 30 2 *".into(),
        },
        "UTC",
    ));
    assert_eq!(
        never,
        [(
            "schedule.recurrence.expression".to_owned(),
            "never fires (no such date in the next 8 years)".to_owned()
        )]
    );
}

#[test]
fn settings_read_from_json_with_defaults() {
    let s: ScheduleSettings =
        serde_json::from_str(r#"{"recurrence": {"kind": "daily", "time": "07:00"}}"#).unwrap();
    assert_eq!(s.timezone, "UTC");
    assert_eq!(s.catch_up, CatchUp::Last);
    assert_eq!(s.max_consecutive_failures, 5);
    let typo = serde_json::from_str::<ScheduleSettings>(
        r#"{"recurrence": {"kind": "daily", "time": "07:00", "minute": 3}}"#,
    );
    assert!(typo.is_err());
}

#[test]
fn the_time_zone_list_holds_every_name_a_schedule_accepts() {
    let names: Vec<&str> = super::time_zone_names().collect();
    assert!(names.len() > 400, "{}", names.len());
    for name in ["Asia/Tokyo", "UTC", "America/Argentina/Buenos_Aires"] {
        assert!(names.contains(&name), "{name}");
    }
    for name in &names {
        assert!(name.parse::<chrono_tz::Tz>().is_ok(), "{name}");
    }
}
