//! The life of a run: creating it ([`enqueue`]), recording how it ended ([`finish`],
//! [`finish_as`]) and what that means for its schedule ([`record_outcome`]). Every run
//! status change goes through `models::run`.
//!
//! The floors below this module's children: [`dispatch`] claims queued runs and launches
//! them, [`watchdog`] ends runs whose runner went quiet and reconciles with the launcher,
//! [`assign`] builds a runner's assignment. They call this module; it calls none of them.
//! A run's incremental state reaches its job only in the transaction that records success.

pub mod assign;
pub mod dispatch;
mod outcome;
pub mod watchdog;

pub use outcome::record_outcome;

use crate::models::job::Job;
use crate::models::run::{NewRun, Run, RunEnd};
use crate::notify::NotificationEvent;
use crate::schema::runs;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::runs::{RunStatus, RunnerOutcome, RunnerResult};
use hakobu_core::ids::{BackfillId, RunId, ScheduleId, UserId};
use hakobu_core::job::{JobSettings, OverlapPolicy};
use serde_json::Value;

/// What a new run is for.
#[derive(Debug, Clone, Default)]
pub struct RunRequest<'a> {
    pub trigger: &'a str,
    pub triggered_by: Option<UserId>,
    pub idempotency_key: Option<&'a str>,
    /// `{"as_of": .., "overrides": {..}}` from the request, or a re-run's `{"variables":
    /// {..}}` to reuse; the dispatcher adds the resolved `variables`.
    pub resolved_inputs: Value,
    /// The revision to run; the job's current one when `None`.
    pub revision: Option<i32>,
    pub schedule_id: Option<ScheduleId>,
    /// When the run was due; the time it was asked for when `None`.
    pub scheduled_time: Option<DateTime<Utc>>,
    /// A backfill's id and how many of its runs may run at once.
    pub backfill: Option<(BackfillId, i32)>,
    /// Queue even when the overlap policy is `skip` and a run is active (a backfill asks
    /// for every one of its runs).
    pub ignore_skip: bool,
}

/// Queues a run of `job`. `None` when the job's overlap policy is `skip` and a run is
/// already active, or when a run with the same idempotency key exists.
pub async fn enqueue(
    conn: &mut AsyncPgConnection,
    job: &Job,
    request: RunRequest<'_>,
) -> anyhow::Result<Option<Run>> {
    let settings: JobSettings = serde_json::from_value(job.settings.clone())?;
    if settings.overlap == OverlapPolicy::Skip
        && !request.ignore_skip
        && Run::active_for_job(conn, job.id).await? > 0
    {
        return Ok(None);
    }
    let id = RunId::new();
    let mut inputs = match request.resolved_inputs {
        Value::Object(map) => map,
        _ => Default::default(),
    };
    if let Some((_, parallelism)) = request.backfill {
        inputs.insert("backfill_parallelism".to_owned(), parallelism.into());
    }
    let inputs = Value::Object(inputs);
    let inserted = diesel::insert_into(runs::table)
        .values(NewRun {
            id,
            organization_id: job.organization_id,
            job_id: job.id,
            job_revision: request.revision.unwrap_or(job.revision),
            status: RunStatus::Queued,
            attempt: 1,
            max_attempts: settings.retry.count as i32 + 1,
            root_run_id: id,
            trigger: request.trigger,
            triggered_by: request.triggered_by,
            idempotency_key: request.idempotency_key,
            resolved_inputs: inputs,
            timeout_seconds: (settings.timeout_minutes * 60) as i32,
            not_before: Utc::now(),
            schedule_id: request.schedule_id,
            scheduled_time: request.scheduled_time,
            backfill_id: request.backfill.map(|(id, _)| id),
        })
        .on_conflict_do_nothing()
        .returning(Run::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    Ok(inserted)
}

pub(crate) fn failure(message: &str) -> RunnerResult {
    RunnerResult {
        outcome: RunnerOutcome::Failed,
        rows_read: 0,
        rows_written: 0,
        rows_skipped: 0,
        bytes_read: 0,
        error: Some(message.to_owned()),
        next_state: None,
    }
}

/// Records how a run ended; idempotent (a second report of a final run changes nothing).
/// On success the run's incremental state becomes the job's; on failure with attempts
/// left, the next attempt is queued after its backoff.
pub async fn finish(
    conn: &mut AsyncPgConnection,
    run_id: RunId,
    result: RunnerResult,
) -> anyhow::Result<Option<Run>> {
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let run: Run = runs::table
            .find(run_id)
            .for_update()
            .select(Run::as_select())
            .first(conn)
            .await?;
        if run.status.is_final() {
            return Ok(None);
        }
        let mut status = match result.outcome {
            RunnerOutcome::Succeeded => RunStatus::Succeeded,
            RunnerOutcome::Failed => RunStatus::Failed,
            RunnerOutcome::Cancelled => RunStatus::Cancelled,
        };
        let mut error = result.error.clone();
        // A data check with `fail` that did not pass fails the run after a committed load.
        let check_failure = if status == RunStatus::Succeeded {
            crate::models::run_check::RunCheck::failure_summary(conn, run_id).await?
        } else {
            None
        };
        if let Some(summary) = &check_failure {
            status = RunStatus::Failed;
            error = Some(summary.clone());
        }
        let end = RunEnd {
            rows_read: result.rows_read,
            rows_written: result.rows_written,
            rows_skipped: result.rows_skipped,
            bytes_read: result.bytes_read,
            error: error.as_deref(),
            next_state: result.next_state.as_ref(),
        };
        let finished = Run::record_end(conn, run_id, status, end).await?;
        // The load committed even when a check failed it: the state moves on, or the next
        // run would load the same rows again.
        if (status == RunStatus::Succeeded || check_failure.is_some())
            && let Some(state) = incremental_state(result.next_state.as_ref())
        {
            diesel::update(crate::schema::jobs::table.find(run.job_id))
                .set(crate::schema::jobs::incremental_state.eq(state))
                .execute(conn)
                .await?;
        }
        // A retry would load again what a failed check judged: checks fail without retries.
        if status == RunStatus::Failed
            && check_failure.is_none()
            && !run.cancel_requested
            && run.attempt < run.max_attempts
        {
            let job = Job::find(conn, run.organization_id, run.job_id).await?;
            let backoff = job
                .and_then(|j| serde_json::from_value::<JobSettings>(j.settings).ok())
                .map(|s| s.retry.backoff_seconds)
                .unwrap_or(60);
            let delay = i64::from(backoff) * 2_i64.pow((run.attempt - 1).clamp(0, 16) as u32);
            diesel::insert_into(runs::table)
                .values(NewRun {
                    id: RunId::new(),
                    organization_id: run.organization_id,
                    job_id: run.job_id,
                    job_revision: run.job_revision,
                    status: RunStatus::Queued,
                    attempt: run.attempt + 1,
                    max_attempts: run.max_attempts,
                    root_run_id: run.root_run_id,
                    trigger: "retry",
                    triggered_by: run.triggered_by,
                    idempotency_key: None,
                    resolved_inputs: run.resolved_inputs.clone(),
                    timeout_seconds: run.timeout_seconds,
                    not_before: Utc::now() + ChronoDuration::seconds(delay),
                    schedule_id: run.schedule_id,
                    scheduled_time: run.scheduled_time,
                    backfill_id: run.backfill_id,
                })
                .execute(conn)
                .await?;
        }
        crate::notify::enqueue_event(conn, NotificationEvent::RunEnded { run_id }).await?;
        record_outcome(conn, run_id).await?;
        Ok(Some(finished))
    })
    .await
}

/// Ends a run the runner could not report on (timeout, lost runner after a cancel).
pub async fn finish_as(
    conn: &mut AsyncPgConnection,
    run_id: RunId,
    status: RunStatus,
    error: &str,
) -> anyhow::Result<bool> {
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let ended = Run::end_if_active(conn, run_id, status, error).await?;
        if ended {
            crate::notify::enqueue_event(conn, NotificationEvent::RunEnded { run_id }).await?;
            record_outcome(conn, run_id).await?;
        }
        Ok(ended)
    })
    .await
}

/// `{"in": {"last_record": [...]}}` (the runner's config diff) -> the job's state.
fn incremental_state(next: Option<&Value>) -> Option<Value> {
    let input = next?.get("in")?;
    let state: serde_json::Map<String, Value> = ["last_record", "last_path"]
        .into_iter()
        .filter_map(|k| input.get(k).map(|v| (k.to_owned(), v.clone())))
        .collect();
    (!state.is_empty()).then_some(Value::Object(state))
}
