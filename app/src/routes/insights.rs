//! The organization's insights (`GET /api/insights`) and what its runners used, per run,
//! as CSV (`GET /api/usage.csv`). Both cover only the jobs the caller may see.

use crate::error::ApiError;
use crate::extract::Auth;
use crate::models::run_insights::{InsightScope, RunUsageRow};
use crate::schema::jobs;
use crate::services::jobs::visible_jobs;
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use chrono::{Datelike, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::insights::{
    DayOutcomes, Insights, JobFigures, MonthUsage, Period, PeriodQuery,
};
use hakobu_core::ids::JobId;
use hakobu_core::usage::{UnitPrices, Usage};
use std::collections::HashMap;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(insights).service(usage_csv);
}

/// Most runs one CSV export holds; a longer period is refused with a way out.
const EXPORT_MAX_RUNS: i64 = 100_000;

fn resolve(query: &PeriodQuery) -> Result<Period, ApiError> {
    query.resolve(Utc::now()).map_err(ApiError::from)
}

/// Runs per day by outcome, failure rate, durations and queue waits (p50/p95), rows
/// moved and what the runners used, over the period and per job and month.
#[utoipa::path(tag = "insights", params(PeriodQuery), responses(
    (status = 200, body = Insights), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/api/insights")]
async fn insights(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<PeriodQuery>,
) -> Result<web::Json<Insights>, ApiError> {
    let period = resolve(&query)?;
    let prices = &state.settings.unit_prices;
    let mut conn = state.pool.get().await?;
    let visible = visible_jobs(&mut conn, &auth).await?;
    let scope = InsightScope {
        organization: auth.organization_id,
        jobs: &visible,
        period: &period,
    };
    let by_day = scope.outcomes_by_day(&mut conn).await?;
    let figures = scope.figures(&mut conn, prices).await?;
    let months = scope.usage_by_month(&mut conn, prices).await?;
    let names: HashMap<JobId, String> = jobs::table
        .filter(jobs::organization_id.eq(auth.organization_id))
        .filter(jobs::id.eq_any(figures.iter().filter_map(|(j, _)| *j).collect::<Vec<_>>()))
        .select((jobs::id, jobs::name))
        .load::<(JobId, String)>(&mut conn)
        .await?
        .into_iter()
        .collect();
    let mut totals = Default::default();
    let mut per_job = Vec::new();
    for (job, f) in figures {
        match job {
            None => totals = f,
            Some(job_id) => per_job.push(JobFigures {
                job_id,
                job_name: names.get(&job_id).cloned().unwrap_or_default(),
                figures: f,
            }),
        }
    }
    per_job.sort_by(|a, b| {
        a.job_name
            .cmp(&b.job_name)
            .then(a.job_id.0.cmp(&b.job_id.0))
    });
    Ok(web::Json(Insights {
        from: period.from,
        to: period.to,
        timezone: period.timezone.name().to_owned(),
        days: every_day(&period, by_day),
        totals,
        jobs: per_job,
        months: every_month(&period, months),
        prices: prices.clone(),
    }))
}

/// Each day of the period in its zone, with zeros where no run ended.
fn every_day(period: &Period, found: Vec<DayOutcomes>) -> Vec<DayOutcomes> {
    let first = period.from.with_timezone(&period.timezone).date_naive();
    // `to` is exclusive: a period ending at midnight does not include that day.
    let last = (period.to - chrono::Duration::milliseconds(1))
        .with_timezone(&period.timezone)
        .date_naive();
    let mut found: HashMap<NaiveDate, DayOutcomes> =
        found.into_iter().map(|d| (d.day, d)).collect();
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|day| {
            found.remove(&day).unwrap_or(DayOutcomes {
                day,
                succeeded: 0,
                failed: 0,
                cancelled: 0,
                rows_written: 0,
            })
        })
        .collect()
}

/// Each month the period touches, with zeros where no run ended.
fn every_month(period: &Period, found: Vec<(String, i64, Usage)>) -> Vec<MonthUsage> {
    let first = period.from.with_timezone(&period.timezone).date_naive();
    let last = (period.to - chrono::Duration::milliseconds(1))
        .with_timezone(&period.timezone)
        .date_naive();
    let mut found: HashMap<String, (i64, Usage)> =
        found.into_iter().map(|(m, n, u)| (m, (n, u))).collect();
    let mut months = Vec::new();
    let (mut year, mut month) = (first.year(), first.month());
    while (year, month) <= (last.year(), last.month()) {
        let name = format!("{year:04}-{month:02}");
        let (runs, usage) = found.remove(&name).unwrap_or_default();
        months.push(MonthUsage {
            month: name,
            runs,
            usage,
        });
        (year, month) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
    }
    months
}

/// Every run that ended in the period with its job, task size, time and estimated price,
/// as CSV (UTC times), for a spreadsheet or an invoice check.
#[utoipa::path(tag = "insights", params(PeriodQuery), responses(
    (status = 200, description = "CSV, one run per line", content_type = "text/csv"),
    (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/api/usage.csv")]
async fn usage_csv(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, ApiError> {
    let period = resolve(&query)?;
    let mut conn = state.pool.get().await?;
    let visible = visible_jobs(&mut conn, &auth).await?;
    let scope = InsightScope {
        organization: auth.organization_id,
        jobs: &visible,
        period: &period,
    };
    let rows = scope.run_usage(&mut conn, EXPORT_MAX_RUNS + 1).await?;
    if rows.len() as i64 > EXPORT_MAX_RUNS {
        return Err(ApiError::field(
            "from",
            format!("more than {EXPORT_MAX_RUNS} runs ended in this period; export a shorter one"),
        ));
    }
    let body = usage_table(&rows, &state.settings.unit_prices);
    let file = format!(
        "hakobu-usage-{}-{}.csv",
        period.from.format("%Y%m%d"),
        period.to.format("%Y%m%d")
    );
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{file}\""),
        ))
        .body(body))
}

/// The CSV of [`usage_csv`].
fn usage_table(rows: &[RunUsageRow], prices: &UnitPrices) -> String {
    let mut out = format!(
        "run_id,job_id,job_name,status,started_at,finished_at,seconds,billed_seconds,vcpu,\
         memory_mb,vcpu_seconds,gb_seconds,estimated_price_{}\n",
        prices.currency.to_lowercase()
    );
    for r in rows {
        let usage = match (r.task_vcpu, r.task_memory_mb, r.billed_seconds) {
            (Some(vcpu), Some(memory), Some(seconds)) => Some(Usage::of_task(
                vcpu,
                u32::try_from(memory).unwrap_or(0),
                seconds,
                prices,
            )),
            _ => None,
        };
        let opt =
            |v: Option<f64>, digits: usize| v.map(|v| format!("{v:.digits$}")).unwrap_or_default();
        let fields = [
            r.run_id.to_string(),
            r.job_id.to_string(),
            csv_text(&r.job_name),
            r.status.clone(),
            r.started_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            r.finished_at.to_rfc3339(),
            opt(r.seconds, 3),
            opt(r.billed_seconds, 3),
            opt(r.task_vcpu, 2),
            r.task_memory_mb.map(|m| m.to_string()).unwrap_or_default(),
            opt(usage.as_ref().map(|u| u.vcpu_seconds), 3),
            opt(usage.as_ref().map(|u| u.gb_seconds), 3),
            opt(usage.as_ref().map(|u| u.price), 6),
        ];
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

/// A tenant's text as one CSV field: quoted when it holds a delimiter, a quote or a line
/// break; and a leading `=`, `+`, `-`, `@`, tab or carriage return is defused with `'`, so
/// a job named `=HYPERLINK(...)` stays text in a spreadsheet instead of a formula.
fn csv_text(value: &str) -> String {
    let defused = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_text_in_the_csv_is_never_a_formula_nor_a_second_field() {
        assert_eq!(csv_text("orders daily"), "orders daily");
        assert_eq!(csv_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_text("+1"), "'+1");
        assert_eq!(csv_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_text("a,b"), "\"a,b\"");
        assert_eq!(csv_text("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn every_day_and_month_of_a_period_is_listed_in_its_zone() {
        let period = Period {
            from: "2026-11-29T15:00:00Z".parse().unwrap(),
            to: "2026-12-02T15:00:00Z".parse().unwrap(),
            timezone: "Asia/Tokyo".parse().unwrap(),
        };
        // In Tokyo the period is Nov 30 00:00 to Dec 3 00:00 (exclusive).
        let found = vec![DayOutcomes {
            day: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            succeeded: 2,
            failed: 1,
            cancelled: 0,
            rows_written: 10,
        }];
        let days = every_day(&period, found);
        let names: Vec<String> = days.iter().map(|d| d.day.to_string()).collect();
        assert_eq!(names, ["2026-11-30", "2026-12-01", "2026-12-02"]);
        assert_eq!(days[1].failed, 1);
        assert_eq!(days[0].succeeded + days[2].succeeded, 0);
        let months = every_month(&period, vec![]);
        let names: Vec<&str> = months.iter().map(|m| m.month.as_str()).collect();
        assert_eq!(names, ["2026-11", "2026-12"]);
    }
}
