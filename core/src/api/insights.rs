//! The organization's insights over a period: runs per day by outcome, failure rate,
//! durations, queue waits, rows moved and what the runners used, per job and per month.
//! Every figure covers only the jobs the caller may see.

use crate::ids::JobId;
use crate::usage::{UnitPrices, Usage};
use crate::validation::FieldErrors;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The longest period one request covers.
pub const MAX_PERIOD_DAYS: i64 = 366;

/// A period: runs that ended at or after `from` and before `to`, grouped into days of
/// `timezone`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// Start of the period (RFC 3339); default 30 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// End of the period (RFC 3339), exclusive; default now.
    pub to: Option<DateTime<Utc>>,
    /// The IANA time zone whose days and months group the runs; default UTC.
    pub timezone: Option<String>,
}

/// A [`PeriodQuery`] with its defaults filled in and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub timezone: chrono_tz::Tz,
}

impl PeriodQuery {
    /// The period asked for, or every field that is wrong.
    pub fn resolve(&self, now: DateTime<Utc>) -> Result<Period, FieldErrors> {
        let mut e = FieldErrors::default();
        let to = self.to.unwrap_or(now);
        let from = self.from.unwrap_or(to - chrono::Duration::days(30));
        if from >= to {
            e.push("from", "must be before the end of the period (to)");
        } else if to - from > chrono::Duration::days(MAX_PERIOD_DAYS) {
            e.push(
                "to",
                format!("the period may span at most {MAX_PERIOD_DAYS} days"),
            );
        }
        let timezone = match self.timezone.as_deref().map(str::trim) {
            None | Some("") => chrono_tz::UTC,
            Some(name) => name.parse().unwrap_or_else(|_| {
                e.push(
                    "timezone",
                    "must be an IANA time zone name, such as Asia/Tokyo or UTC",
                );
                chrono_tz::UTC
            }),
        };
        e.into_result()?;
        Ok(Period { from, to, timezone })
    }
}

/// Runs that ended on one day, by outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayOutcomes {
    pub day: NaiveDate,
    pub succeeded: i64,
    /// Failed or timed out.
    pub failed: i64,
    pub cancelled: i64,
    pub rows_written: i64,
}

/// Figures of a set of runs (a job's, or all of them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunFigures {
    /// Runs that ended in the period.
    pub runs: i64,
    pub succeeded: i64,
    /// Failed or timed out.
    pub failed: i64,
    pub cancelled: i64,
    pub rows_written: i64,
    /// From the runner's claim to its end; `None` without runs that started.
    pub duration_p50_seconds: Option<f64>,
    pub duration_p95_seconds: Option<f64>,
    /// From when the run was due to when the dispatcher claimed it.
    pub queue_wait_p50_seconds: Option<f64>,
    pub queue_wait_p95_seconds: Option<f64>,
    /// What the runners used, priced with [`Insights::prices`].
    pub usage: Usage,
}

impl RunFigures {
    /// Failed runs per ended run, from 0 to 1; `None` without runs.
    pub fn failure_rate(&self) -> Option<f64> {
        (self.runs > 0).then(|| self.failed as f64 / self.runs as f64)
    }
}

/// One job's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobFigures {
    pub job_id: JobId,
    pub job_name: String,
    #[serde(flatten)]
    pub figures: RunFigures,
}

/// What one calendar month's runs used (in the period's time zone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MonthUsage {
    /// `YYYY-MM`.
    pub month: String,
    pub runs: i64,
    pub usage: Usage,
}

/// `GET /api/insights`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Insights {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub timezone: String,
    /// Every day of the period, oldest first, days without runs included.
    pub days: Vec<DayOutcomes>,
    pub totals: RunFigures,
    /// Jobs with runs that ended in the period, by name.
    pub jobs: Vec<JobFigures>,
    /// Months the period touches, oldest first.
    pub months: Vec<MonthUsage>,
    pub prices: UnitPrices,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_defaults_to_the_last_30_days_in_utc() {
        let now = at("2026-12-06T10:00:00Z");
        let q = PeriodQuery {
            from: None,
            to: None,
            timezone: None,
        };
        let p = q.resolve(now).unwrap();
        assert_eq!(p.to, now);
        assert_eq!(p.from, at("2026-11-06T10:00:00Z"));
        assert_eq!(p.timezone, chrono_tz::UTC);
    }

    #[test]
    fn a_bad_period_names_each_field() {
        let q = PeriodQuery {
            from: Some(at("2026-12-06T00:00:00Z")),
            to: Some(at("2026-12-01T00:00:00Z")),
            timezone: Some("Mars/Olympus".into()),
        };
        let e = q.resolve(Utc::now()).unwrap_err();
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["from", "timezone"]);
        let long = PeriodQuery {
            from: Some(at("2024-01-01T00:00:00Z")),
            to: Some(at("2026-01-01T00:00:00Z")),
            timezone: Some("Asia/Tokyo".into()),
        };
        let e = long.resolve(Utc::now()).unwrap_err();
        assert!(e.to_string().contains("366 days"), "{e}");
    }
}
