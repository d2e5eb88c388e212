//! Aggregates over `runs` for the insights page and the usage export: runs per day by
//! outcome, durations and queue waits (percentiles), rows moved and runner usage, per job
//! and per month. Each query reads one organization's runs of the given jobs that ended
//! in the period (`runs_org_finished_idx`), and lets PostgreSQL do the sums.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Double, Nullable, Text, Timestamptz, Uuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::insights::{DayOutcomes, Period, RunFigures};
use hakobu_core::ids::{JobId, OrganizationId, RunId};
use hakobu_core::usage::{UnitPrices, Usage};

/// The runs the queries read: `$1` organization, `$2` jobs, `$3`..`$4` the period.
const ENDED_IN_PERIOD: &str = "organization_id = $1 AND job_id = ANY($2) \
     AND finished_at >= $3 AND finished_at < $4";

/// Seconds from the claim to the end: how long a run took.
const SECONDS: &str = "extract(epoch FROM finished_at - started_at)::float8";

/// Seconds its task is billed for: the platform's own start and stop when recorded (ECS),
/// else [`SECONDS`]; the same arithmetic as [`crate::models::run::Run::usage`].
const BILLED_SECONDS: &str = "greatest(extract(epoch FROM CASE WHEN task_stopped_at IS NOT NULL \
       THEN task_stopped_at - task_started_at ELSE finished_at - started_at END), 0)::float8";

/// `vcpu_seconds` and `gb_seconds` of a group of runs (a negative duration counts as
/// none), [`BILLED_SECONDS`] summed.
const USAGE_SUMS: &str = "coalesce(sum(greatest(extract(epoch FROM CASE WHEN task_stopped_at IS NOT NULL \
       THEN task_stopped_at - task_started_at ELSE finished_at - started_at END), 0) \
       * task_vcpu), 0)::float8 AS vcpu_seconds, \
     coalesce(sum(greatest(extract(epoch FROM CASE WHEN task_stopped_at IS NOT NULL \
       THEN task_stopped_at - task_started_at ELSE finished_at - started_at END), 0) \
       * task_memory_mb / 1024.0), 0)::float8 AS gb_seconds";

#[derive(QueryableByName)]
struct DayRow {
    #[diesel(sql_type = diesel::sql_types::Date)]
    day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    succeeded: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
    #[diesel(sql_type = BigInt)]
    cancelled: i64,
    #[diesel(sql_type = BigInt)]
    rows_written: i64,
}

#[derive(QueryableByName)]
struct FiguresRow {
    #[diesel(sql_type = Nullable<Uuid>)]
    job_id: Option<JobId>,
    #[diesel(sql_type = BigInt)]
    runs: i64,
    #[diesel(sql_type = BigInt)]
    succeeded: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
    #[diesel(sql_type = BigInt)]
    cancelled: i64,
    #[diesel(sql_type = BigInt)]
    rows_written: i64,
    #[diesel(sql_type = Nullable<Double>)]
    duration_p50: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    duration_p95: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    wait_p50: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    wait_p95: Option<f64>,
    #[diesel(sql_type = Double)]
    vcpu_seconds: f64,
    #[diesel(sql_type = Double)]
    gb_seconds: f64,
}

#[derive(QueryableByName)]
struct MonthRow {
    #[diesel(sql_type = Text)]
    month: String,
    #[diesel(sql_type = BigInt)]
    runs: i64,
    #[diesel(sql_type = Double)]
    vcpu_seconds: f64,
    #[diesel(sql_type = Double)]
    gb_seconds: f64,
}

/// One ended run's usage, for the CSV export.
#[derive(QueryableByName)]
pub struct RunUsageRow {
    #[diesel(sql_type = Uuid)]
    pub run_id: RunId,
    #[diesel(sql_type = Uuid)]
    pub job_id: JobId,
    #[diesel(sql_type = Text)]
    pub job_name: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub started_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Timestamptz)]
    pub finished_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Double>)]
    pub seconds: Option<f64>,
    /// What its task is billed for (see `BILLED_SECONDS`).
    #[diesel(sql_type = Nullable<Double>)]
    pub billed_seconds: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    pub task_vcpu: Option<f64>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Integer>)]
    pub task_memory_mb: Option<i32>,
    #[diesel(sql_type = BigInt)]
    pub rows_written: i64,
}

/// What the queries of one request share.
pub struct InsightScope<'a> {
    pub organization: OrganizationId,
    pub jobs: &'a [JobId],
    pub period: &'a Period,
}

impl InsightScope<'_> {
    fn job_uuids(&self) -> Vec<uuid::Uuid> {
        self.jobs.iter().map(|j| j.0).collect()
    }

    /// Runs that ended on each day (of the period's zone) with runs, oldest first.
    pub async fn outcomes_by_day(
        &self,
        conn: &mut AsyncPgConnection,
    ) -> QueryResult<Vec<DayOutcomes>> {
        let sql = format!(
            "SELECT (finished_at AT TIME ZONE $5)::date AS day, \
               count(*) FILTER (WHERE status = 'succeeded') AS succeeded, \
               count(*) FILTER (WHERE status IN ('failed', 'timed_out')) AS failed, \
               count(*) FILTER (WHERE status = 'cancelled') AS cancelled, \
               coalesce(sum(rows_written), 0)::int8 AS rows_written \
             FROM runs WHERE {ENDED_IN_PERIOD} GROUP BY 1 ORDER BY 1"
        );
        let rows: Vec<DayRow> = diesel::sql_query(sql)
            .bind::<Uuid, _>(self.organization.0)
            .bind::<Array<Uuid>, _>(self.job_uuids())
            .bind::<Timestamptz, _>(self.period.from)
            .bind::<Timestamptz, _>(self.period.to)
            .bind::<Text, _>(self.period.timezone.name())
            .load(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| DayOutcomes {
                day: r.day,
                succeeded: r.succeeded,
                failed: r.failed,
                cancelled: r.cancelled,
                rows_written: r.rows_written,
            })
            .collect())
    }

    /// Figures of each job with runs in the period, and of all of them (`None`).
    pub async fn figures(
        &self,
        conn: &mut AsyncPgConnection,
        prices: &UnitPrices,
    ) -> QueryResult<Vec<(Option<JobId>, RunFigures)>> {
        let wait = "extract(epoch FROM started_at - greatest(queued_at, not_before))::float8";
        let sql = format!(
            "SELECT job_id, count(*) AS runs, \
               count(*) FILTER (WHERE status = 'succeeded') AS succeeded, \
               count(*) FILTER (WHERE status IN ('failed', 'timed_out')) AS failed, \
               count(*) FILTER (WHERE status = 'cancelled') AS cancelled, \
               coalesce(sum(rows_written), 0)::int8 AS rows_written, \
               percentile_cont(0.5) WITHIN GROUP (ORDER BY {SECONDS}) AS duration_p50, \
               percentile_cont(0.95) WITHIN GROUP (ORDER BY {SECONDS}) AS duration_p95, \
               percentile_cont(0.5) WITHIN GROUP (ORDER BY {wait}) AS wait_p50, \
               percentile_cont(0.95) WITHIN GROUP (ORDER BY {wait}) AS wait_p95, \
               {USAGE_SUMS} \
             FROM runs WHERE {ENDED_IN_PERIOD} \
             GROUP BY GROUPING SETS ((job_id), ())"
        );
        let rows: Vec<FiguresRow> = diesel::sql_query(sql)
            .bind::<Uuid, _>(self.organization.0)
            .bind::<Array<Uuid>, _>(self.job_uuids())
            .bind::<Timestamptz, _>(self.period.from)
            .bind::<Timestamptz, _>(self.period.to)
            .load(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let figures = RunFigures {
                    runs: r.runs,
                    succeeded: r.succeeded,
                    failed: r.failed,
                    cancelled: r.cancelled,
                    rows_written: r.rows_written,
                    duration_p50_seconds: r.duration_p50,
                    duration_p95_seconds: r.duration_p95,
                    queue_wait_p50_seconds: r.wait_p50,
                    queue_wait_p95_seconds: r.wait_p95,
                    usage: Usage::from_totals(r.vcpu_seconds, r.gb_seconds, prices),
                };
                (r.job_id, figures)
            })
            .collect())
    }

    /// Runs and usage per calendar month (of the period's zone), oldest first.
    pub async fn usage_by_month(
        &self,
        conn: &mut AsyncPgConnection,
        prices: &UnitPrices,
    ) -> QueryResult<Vec<(String, i64, Usage)>> {
        let sql = format!(
            "SELECT to_char(finished_at AT TIME ZONE $5, 'YYYY-MM') AS month, count(*) AS runs, \
               {USAGE_SUMS} \
             FROM runs WHERE {ENDED_IN_PERIOD} GROUP BY 1 ORDER BY 1"
        );
        let rows: Vec<MonthRow> = diesel::sql_query(sql)
            .bind::<Uuid, _>(self.organization.0)
            .bind::<Array<Uuid>, _>(self.job_uuids())
            .bind::<Timestamptz, _>(self.period.from)
            .bind::<Timestamptz, _>(self.period.to)
            .bind::<Text, _>(self.period.timezone.name())
            .load(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let usage = Usage::from_totals(r.vcpu_seconds, r.gb_seconds, prices);
                (r.month, r.runs, usage)
            })
            .collect())
    }

    /// Every run that ended in the period with its job's name and task, oldest first, at
    /// most `limit`.
    pub async fn run_usage(
        &self,
        conn: &mut AsyncPgConnection,
        limit: i64,
    ) -> QueryResult<Vec<RunUsageRow>> {
        // The runs' columns are not qualified: only `runs` has them (jobs has its own
        // `organization_id`, so that one is).
        let sql = format!(
            "SELECT runs.id AS run_id, job_id, jobs.name AS job_name, status, started_at, \
               finished_at, {SECONDS} AS seconds, {BILLED_SECONDS} AS billed_seconds, \
               task_vcpu::float8 AS task_vcpu, \
               task_memory_mb, rows_written \
             FROM runs JOIN jobs ON jobs.id = runs.job_id \
             WHERE runs.{ENDED_IN_PERIOD} ORDER BY finished_at, runs.id LIMIT $5"
        );
        diesel::sql_query(sql)
            .bind::<Uuid, _>(self.organization.0)
            .bind::<Array<Uuid>, _>(self.job_uuids())
            .bind::<Timestamptz, _>(self.period.from)
            .bind::<Timestamptz, _>(self.period.to)
            .bind::<BigInt, _>(limit)
            .load(conn)
            .await
    }
}
