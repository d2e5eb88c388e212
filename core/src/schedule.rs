//! When a job runs: recurrences (presets and 5-field cron) in an IANA time zone, and the
//! instants they fire at.
//!
//! Schedules follow the wall clock of their zone. Around a daylight-saving change a
//! fixed-time schedule (daily at 02:30) fires once: at the moment the clocks jump when
//! they skip its time, and at the first occurrence when they repeat it. Interval
//! schedules (hourly, `*/15 * * * *`) follow real time, so they neither double nor stall.
//! croner implements exactly these rules; the tests pin them for America/New_York,
//! Europe/Berlin and Asia/Tokyo.
//!
//! This module is pure so the browser can show the next fire times while the user types.

use crate::messages::MessageCode;
use crate::validation::FieldErrors;
use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// How often a schedule fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Recurrence {
    /// Every hour at `minute` past the hour.
    Hourly { minute: u8 },
    /// Every day at `time` (`HH:MM`, 24-hour).
    Daily { time: String },
    /// On each of `weekdays` at `time`.
    Weekly {
        weekdays: Vec<Weekday>,
        time: String,
    },
    /// On `day` (1-31) of every month at `time`.
    Monthly {
        day: u8,
        time: String,
        /// What happens in a month without that day (the 31st in April).
        #[serde(default)]
        short_month: ShortMonth,
    },
    /// A 5-field cron expression: minute hour day-of-month month day-of-week.
    Cron { expression: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    /// Cron's number for the day (Sunday is 0).
    fn cron_number(self) -> u8 {
        match self {
            Weekday::Sunday => 0,
            Weekday::Monday => 1,
            Weekday::Tuesday => 2,
            Weekday::Wednesday => 3,
            Weekday::Thursday => 4,
            Weekday::Friday => 5,
            Weekday::Saturday => 6,
        }
    }
}

/// A monthly schedule's day missing from a month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ShortMonth {
    /// No run that month.
    #[default]
    Skip,
    /// Run on the month's last day instead.
    LastDay,
}

/// Which fire times missed while the service was down are run when it comes back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// None: carry on with the next fire time.
    None,
    /// One run, for the most recent missed time.
    #[default]
    Last,
    /// One run per missed time, oldest first, at most [`MAX_CATCH_UP_RUNS`].
    All,
}

impl CatchUp {
    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::None => "none",
            CatchUp::Last => "last",
            CatchUp::All => "all",
        }
    }
}

impl fmt::Display for CatchUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Most runs one schedule creates when catching up with `all`.
pub const MAX_CATCH_UP_RUNS: usize = 100;
/// A fire time this late still counts as on time (the scheduler's tick, a short restart).
pub const ON_TIME_GRACE_SECONDS: i64 = 300;
/// Default for [`ScheduleSettings::max_consecutive_failures`].
pub const DEFAULT_MAX_CONSECUTIVE_FAILURES: u32 = 5;

/// What a user sets for one schedule of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduleSettings {
    pub recurrence: Recurrence,
    /// IANA time zone the times are in, e.g. `Asia/Tokyo`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default)]
    pub catch_up: CatchUp,
    /// After this many failed runs in a row the schedule turns itself off (0: never).
    #[serde(default = "default_max_failures")]
    pub max_consecutive_failures: u32,
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

fn default_max_failures() -> u32 {
    DEFAULT_MAX_CONSECUTIVE_FAILURES
}

/// A validated schedule, ready to compute fire times.
#[derive(Debug, Clone)]
pub struct Schedule {
    zone: Tz,
    /// The union of these expressions' occurrences; `Some(day)` keeps only the occurrences
    /// on a day of the month before `day` (the "last day" stand-ins of a monthly schedule).
    parts: Vec<(Cron, Option<u32>)>,
}

impl ScheduleSettings {
    /// Every problem, with field paths under `prefix` (e.g. `schedule.`).
    pub fn validate(&self, prefix: &str) -> Result<Schedule, FieldErrors> {
        let mut errors = FieldErrors::default();
        let zone = match self.timezone.trim().parse::<Tz>() {
            Ok(zone) => Some(zone),
            Err(_) => {
                errors.push_message(
                    format!("{prefix}timezone"),
                    MessageCode::ScheduleZone.with("zone", format!("{:?}", self.timezone)),
                );
                None
            }
        };
        if self.max_consecutive_failures > 1000 {
            errors.push_message(
                format!("{prefix}max_consecutive_failures"),
                MessageCode::FromTo
                    .with("from", "0 (never turn off)")
                    .with("to", 1000),
            );
        }
        let field = |name: &str| format!("{prefix}recurrence.{name}");
        let mut expressions: Vec<(String, Option<u32>)> = Vec::new();
        match &self.recurrence {
            Recurrence::Hourly { minute } => {
                if *minute > 59 {
                    errors.push_message(field("minute"), MessageCode::MinuteOfHour);
                } else {
                    expressions.push((format!("{minute} * * * *"), None));
                }
            }
            Recurrence::Daily { time } => {
                if let Some(t) = parse_time(&mut errors, &field("time"), time) {
                    expressions.push((format!("{} {} * * *", t.minute(), t.hour()), None));
                }
            }
            Recurrence::Weekly { weekdays, time } => {
                let days: BTreeSet<u8> = weekdays.iter().map(|d| d.cron_number()).collect();
                if days.is_empty() {
                    errors.push_message(field("weekdays"), MessageCode::ChooseWeekday);
                }
                if days.len() != weekdays.len() {
                    errors.push_message(field("weekdays"), MessageCode::WeekdayTwice);
                }
                if let Some(t) = parse_time(&mut errors, &field("time"), time)
                    && !days.is_empty()
                {
                    let list: Vec<String> = days.iter().map(u8::to_string).collect();
                    expressions.push((
                        format!("{} {} * * {}", t.minute(), t.hour(), list.join(",")),
                        None,
                    ));
                }
            }
            Recurrence::Monthly {
                day,
                time,
                short_month,
            } => {
                if !(1..=31).contains(day) {
                    errors.push_message(field("day"), MessageCode::DayOfMonth);
                }
                if let Some(t) = parse_time(&mut errors, &field("time"), time)
                    && (1..=31).contains(day)
                {
                    let (m, h) = (t.minute(), t.hour());
                    expressions.push((format!("{m} {h} {day} * *"), None));
                    if *day > 28 && *short_month == ShortMonth::LastDay {
                        expressions.push((format!("{m} {h} L * *"), Some(u32::from(*day))));
                    }
                }
            }
            Recurrence::Cron { expression } => {
                let fields = expression.split_whitespace().count();
                if fields != 5 || expression.contains('@') {
                    errors.push_message(
                        field("expression"),
                        MessageCode::CronFields.with("found", fields),
                    );
                } else {
                    expressions.push((expression.trim().to_owned(), None));
                }
            }
        }
        let mut parts = Vec::new();
        for (expression, before_day) in expressions {
            match parser().parse(&expression) {
                Ok(cron) => parts.push((cron, before_day)),
                Err(e) => errors.push_message(
                    field("expression"),
                    MessageCode::CronInvalid.with("detail", plain_cron_error(&e)),
                ),
            }
        }
        errors.into_result()?;
        let schedule = Schedule {
            zone: zone.expect("a zone when there are no errors"),
            parts,
        };
        // A pattern such as "0 0 30 2 *" parses but never fires.
        if schedule.fire_times(reference_instant(), None, 1).is_empty() {
            let mut errors = FieldErrors::default();
            errors.push_message(field("expression"), MessageCode::NeverFires);
            return Err(errors);
        }
        Ok(schedule)
    }
}

/// A fixed starting point for the "does it ever fire" check, so validation does not depend
/// on the clock (the frontend and the server agree).
fn reference_instant() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).expect("2026-01-01T00:00:00Z")
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
}

fn plain_cron_error(e: &croner::errors::CronError) -> String {
    use croner::errors::CronError;
    match e {
        CronError::InvalidPattern(m)
        | CronError::IllegalCharacters(m)
        | CronError::ComponentError(m) => m.trim_end_matches('.').to_owned(),
        other => other.to_string().trim_end_matches('.').to_owned(),
    }
}

fn parse_time(errors: &mut FieldErrors, field: &str, text: &str) -> Option<NaiveTime> {
    let parsed = NaiveTime::parse_from_str(text.trim(), "%H:%M").ok();
    if parsed.is_none() {
        errors.push_message(
            field,
            MessageCode::NotATime.with("time", format!("{text:?}")),
        );
    }
    parsed
}

/// Occurrences further apart than this are not searched for: a schedule that does not
/// fire within it is treated as never firing.
const SEARCH_YEARS: i32 = 8;

impl Schedule {
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Fire times strictly after `after` and, when given, at or before `until`; at most
    /// `limit`, in order.
    pub fn fire_times(
        &self,
        after: DateTime<Utc>,
        until: Option<DateTime<Utc>>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let horizon = after
            .with_timezone(&self.zone)
            .with_year(after.year() + SEARCH_YEARS)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let end = until.map_or(horizon, |u| u.min(horizon));
        let mut all = BTreeSet::new();
        for (cron, before_day) in &self.parts {
            let mut cursor = after.with_timezone(&self.zone);
            let mut kept = 0;
            while kept < limit {
                let Ok(next) = cron.find_next_occurrence(&cursor, false) else {
                    break;
                };
                if next.with_timezone(&Utc) > end {
                    break;
                }
                cursor = next;
                if before_day.is_none_or(|day| next.day() < day) {
                    all.insert(next.with_timezone(&Utc));
                    kept += 1;
                }
            }
        }
        all.into_iter().take(limit).collect()
    }

    /// Fire times strictly after `after` and at or before `until`, newest first; at most
    /// `limit`. The scheduler's catch-up reads the most recent missed times with it.
    pub fn recent_fire_times(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut all = BTreeSet::new();
        for (cron, before_day) in &self.parts {
            let mut cursor = until.with_timezone(&self.zone);
            let mut inclusive = true;
            let mut kept = 0;
            while kept < limit {
                let Ok(previous) = cron.find_previous_occurrence(&cursor, inclusive) else {
                    break;
                };
                inclusive = false;
                if previous.with_timezone(&Utc) <= after {
                    break;
                }
                cursor = previous;
                if before_day.is_none_or(|day| previous.day() < day) {
                    all.insert(previous.with_timezone(&Utc));
                    kept += 1;
                }
            }
        }
        all.into_iter().rev().take(limit).collect()
    }

    /// The first fire time strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.fire_times(after, None, 1).into_iter().next()
    }
}

/// Every IANA time zone name a schedule accepts, for the form's searchable list.
pub fn time_zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())
}

#[cfg(test)]
mod tests;
