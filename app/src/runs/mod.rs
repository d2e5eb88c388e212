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
pub(crate) mod outcome;
pub mod watchdog;

pub use outcome::record_outcome;

use crate::launcher::Launcher;
use crate::models::job::Job;
use crate::models::run::{NewRun, Run, RunEnd};
use crate::models::workflow::WorkflowRun;
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
    /// Attempts in all, instead of the job's retry policy (a workflow task's `retries`).
    pub max_attempts: Option<i32>,
    /// Instead of the job's timeout (a workflow task's `timeout_minutes`).
    pub timeout_seconds: Option<i32>,
    /// Instead of the job's retry backoff (a workflow task's `retry_delay_seconds`).
    pub retry_backoff_seconds: Option<i32>,
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
            max_attempts: request
                .max_attempts
                .unwrap_or(settings.retry.count as i32 + 1),
            root_run_id: id,
            trigger: request.trigger,
            triggered_by: request.triggered_by,
            idempotency_key: request.idempotency_key,
            resolved_inputs: inputs,
            timeout_seconds: request
                .timeout_seconds
                .unwrap_or((settings.timeout_minutes * 60) as i32),
            not_before: Utc::now(),
            schedule_id: request.schedule_id,
            scheduled_time: request.scheduled_time,
            backfill_id: request.backfill.map(|(id, _)| id),
            retry_backoff_seconds: request.retry_backoff_seconds,
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
        bytes_written: 0,
        error: Some(message.to_owned()),
        next_state: None,
    }
}

/// Records how a run ended, as its runner reported; idempotent (a second report of a final
/// run changes nothing). A load that committed (the report carries `next_state`, or the
/// runner reported the commit before: `Run::record_commit`) is never recorded as failed or
/// retried: its incremental state becomes the job's, and the run succeeds unless a data
/// check with `fail` did not pass or the app asked for the cancel. Otherwise a failure
/// with attempts left queues the next attempt after its backoff; an interruption by the
/// platform is a failure, or a cancel when the app had asked for one.
pub async fn finish(
    conn: &mut AsyncPgConnection,
    run_id: RunId,
    result: RunnerResult,
) -> anyhow::Result<Option<Run>> {
    end_run(conn, run_id, Ending::Reported(result)).await
}

/// Records the end of a run whose runner went away without a result (it stopped, went
/// silent, its task vanished): `reason` says how. A run whose commit was reported succeeds
/// with what it committed (the reason kept as a note); any other fails, and is retried by
/// its job's policy unless it was being cancelled.
pub async fn finish_lost(
    conn: &mut AsyncPgConnection,
    run_id: RunId,
    reason: &str,
) -> anyhow::Result<Option<Run>> {
    end_run(conn, run_id, Ending::RunnerLost(reason)).await
}

/// How a run's end became known.
enum Ending<'a> {
    /// The runner's own result.
    Reported(RunnerResult),
    /// The app's finding that the runner is gone, in plain words.
    RunnerLost(&'a str),
}

/// Said of a run that ended before its destination committed.
const NOTHING_COMMITTED: &str = "Nothing was committed in transactional modes.";

async fn end_run(
    conn: &mut AsyncPgConnection,
    run_id: RunId,
    ending: Ending<'_>,
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
        // What the runner said at its commit stands when the end carries nothing newer
        // (a runner failing after the commit, or gone without a result).
        let reported_commit = run.next_state.is_some().then_some(RunEnd {
            rows_read: run.rows_read,
            rows_written: run.rows_written,
            rows_skipped: run.rows_skipped,
            bytes_read: run.bytes_read,
            bytes_written: run.bytes_written,
            error: None,
            next_state: run.next_state.as_ref(),
        });
        let (outcome, mut end) = match &ending {
            Ending::Reported(result) => {
                let reported = RunEnd {
                    rows_read: result.rows_read,
                    rows_written: result.rows_written,
                    rows_skipped: result.rows_skipped,
                    bytes_read: result.bytes_read,
                    bytes_written: result.bytes_written,
                    error: None,
                    next_state: result.next_state.as_ref(),
                };
                let end = match reported_commit {
                    Some(commit) if result.next_state.is_none() => commit,
                    _ => reported,
                };
                (result.outcome, end)
            }
            Ending::RunnerLost(_) => (
                RunnerOutcome::Failed,
                reported_commit.unwrap_or(RunEnd {
                    rows_read: run.rows_read,
                    rows_written: 0,
                    rows_skipped: 0,
                    bytes_read: run.bytes_read,
                    bytes_written: run.bytes_written,
                    error: None,
                    next_state: None,
                }),
            ),
        };
        let committed = end.next_state.is_some();
        let runner_error = match &ending {
            Ending::Reported(result) => result.error.clone(),
            Ending::RunnerLost(reason) => Some(reason.to_string()),
        };
        let state_moves = if incremental_state(end.next_state).is_some() {
            "; the incremental state moved on"
        } else {
            ""
        };
        let committed_note = |after: &str| {
            format!(
                "The load committed ({} rows written{state_moves}); {after}",
                end.rows_written
            )
        };
        let (mut status, mut error) = match (outcome, committed) {
            (RunnerOutcome::Succeeded, _) => (RunStatus::Succeeded, runner_error),
            (RunnerOutcome::Cancelled, true) => (
                RunStatus::Cancelled,
                Some(committed_note("the run was cancelled after that.")),
            ),
            (RunnerOutcome::Cancelled, false) => (RunStatus::Cancelled, runner_error),
            (RunnerOutcome::Interrupted, true) if run.cancel_requested => (
                RunStatus::Cancelled,
                Some(committed_note("the run was cancelled after that.")),
            ),
            (RunnerOutcome::Interrupted, false) if run.cancel_requested => (
                RunStatus::Cancelled,
                Some(format!("Cancelled while running; {}", left_behind(&runner_error))),
            ),
            (RunnerOutcome::Failed | RunnerOutcome::Interrupted, true) => {
                let what = runner_error.unwrap_or_default();
                let what = if matches!(ending, Ending::RunnerLost(_)) {
                    format!("the runner's result never arrived: {what}")
                } else {
                    format!("after that: {what}")
                };
                (RunStatus::Succeeded, Some(committed_note(&what)))
            }
            (RunnerOutcome::Interrupted, false) => (
                RunStatus::Failed,
                Some(format!(
                    "Interrupted by the platform (a Spot reclaim, an eviction or a node drain stopped the runner); {}",
                    left_behind(&runner_error)
                )),
            ),
            (RunnerOutcome::Failed, false) => match &ending {
                Ending::RunnerLost(reason) => {
                    (RunStatus::Failed, Some(format!("{reason} {NOTHING_COMMITTED}")))
                }
                Ending::Reported(_) => (RunStatus::Failed, runner_error),
            },
        };
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
        end.error = error.as_deref();
        let finished = Run::record_end(conn, run_id, status, end).await?;
        // A committed load moves the state on whatever the run's status, or the next run
        // would load the same rows again.
        if committed && let Some(state) = incremental_state(end.next_state) {
            diesel::update(crate::schema::jobs::table.find(run.job_id))
                .set(crate::schema::jobs::incremental_state.eq(state))
                .execute(conn)
                .await?;
        }
        // A retry would load again what was committed: only a load that did not commit
        // is retried.
        if status == RunStatus::Failed
            && !committed
            && !run.cancel_requested
            && run.attempt < run.max_attempts
        {
            queue_retry(conn, &run).await?;
        }
        crate::notify::enqueue_event(conn, NotificationEvent::RunEnded { run_id }).await?;
        record_outcome(conn, run_id).await?;
        // A workflow task waiting for this run is looked at now (not for a retry queued
        // above: its last attempt is the retry, still to run).
        WorkflowRun::wake_for_job_run(conn, run.root_run_id).await?;
        Ok(Some(finished))
    })
    .await
}

/// What an interrupted runner said its load left in the target, or the general rule.
fn left_behind(runner_said: &Option<String>) -> String {
    runner_said
        .clone()
        .unwrap_or_else(|| "nothing was committed in transactional modes.".to_owned())
}

/// Queues the attempt after `run`, after its backoff (`hakobu_core::retry::backoff_delay`:
/// `backoff * 2^(attempt-1)`, at most a day), from the run's own base (a workflow task's)
/// or the job's.
async fn queue_retry(conn: &mut AsyncPgConnection, run: &Run) -> anyhow::Result<()> {
    let own: Option<i32> = runs::table
        .find(run.id)
        .select(runs::retry_backoff_seconds)
        .first(conn)
        .await?;
    let backoff = match own {
        Some(seconds) => seconds.max(1) as u32,
        None => {
            let job = Job::find(conn, run.organization_id, run.job_id).await?;
            job.and_then(|j| serde_json::from_value::<JobSettings>(j.settings).ok())
                .map(|s| s.retry.backoff_seconds)
                .unwrap_or(hakobu_core::retry::DEFAULT_RETRY_DELAY_SECONDS)
        }
    };
    let delay = i64::from(hakobu_core::retry::backoff_delay(
        backoff,
        run.attempt.max(1) as u32,
    ));
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
            retry_backoff_seconds: own,
        })
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends a run the runner could not report on (timeout, a cancel whose runner is gone) as
/// `status` with `error`. A commit the runner reported still moves the job's state on,
/// and the message says it.
pub async fn finish_as(
    conn: &mut AsyncPgConnection,
    run_id: RunId,
    status: RunStatus,
    error: &str,
) -> anyhow::Result<bool> {
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let Some(run) = runs::table
            .find(run_id)
            .for_update()
            .select(Run::as_select())
            .first::<Run>(conn)
            .await
            .optional()?
        else {
            return Ok(false);
        };
        let committed_state = incremental_state(run.next_state.as_ref());
        let error = match (&run.next_state, &committed_state) {
            (Some(_), Some(_)) => format!(
                "{error} The load had committed ({} rows written); the incremental state moved on.",
                run.rows_written
            ),
            (Some(_), None) => format!(
                "{error} The load had committed ({} rows written).",
                run.rows_written
            ),
            (None, _) => error.to_owned(),
        };
        let ended = Run::end_if_active(conn, run_id, status, &error).await?;
        if ended {
            if let Some(state) = committed_state {
                diesel::update(crate::schema::jobs::table.find(run.job_id))
                    .set(crate::schema::jobs::incremental_state.eq(state))
                    .execute(conn)
                    .await?;
            }
            crate::notify::enqueue_event(conn, NotificationEvent::RunEnded { run_id }).await?;
            record_outcome(conn, run_id).await?;
            WorkflowRun::wake_for_job_run(conn, run.root_run_id).await?;
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

/// The second half of a cancel, once `cancel_requested` is recorded: a queued run ends at
/// once; a running one's runner is stopped (it rolls back and reports, or the watchdog
/// ends the run). Shared by the cancel of a run and of a workflow run.
pub async fn stop_cancelled(
    conn: &mut AsyncPgConnection,
    launcher: &dyn Launcher,
    run: &Run,
) -> anyhow::Result<()> {
    if run.status == RunStatus::Queued {
        let cancelled = RunnerResult {
            outcome: RunnerOutcome::Cancelled,
            rows_read: 0,
            rows_written: 0,
            rows_skipped: 0,
            bytes_read: 0,
            bytes_written: 0,
            error: Some("Cancelled before it started.".to_owned()),
            next_state: None,
        };
        finish(conn, run.id, cancelled).await?;
    } else if let Some(task) = &run.task_id
        && let Err(e) = launcher.stop(task).await
    {
        tracing::warn!(error = format!("{e:#}"), run_id = %run.id, "stopping the runner failed; the watchdog will retry");
    }
    Ok(())
}
