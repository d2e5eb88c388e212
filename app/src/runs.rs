//! The life of a run: creating it, the dispatcher that claims and launches queued runs,
//! and recording what the runner reports.
//!
//! The queue is the `runs` table. A dispatcher claims due runs with
//! `FOR UPDATE SKIP LOCKED` inside a transaction that also holds an advisory lock, so
//! several app replicas never start the same run twice and never exceed the concurrency
//! limits together. A run's incremental state reaches its job only in the transaction that
//! records success.

use crate::auth::run_token::RunTokens;
use crate::db::DbPool;
use crate::launcher::{LaunchSpec, Launcher};
use crate::models::connection::Connection;
use crate::models::job::Job;
use crate::models::run::{NewRun, Run};
use crate::notify::NotificationEvent;
use crate::routes::jobs::yaml_with_references;
use crate::schema::{organizations, runs};
use anyhow::Context;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::runs::{RunStatus, RunnerOutcome, RunnerResult};
use hakobu_core::ids::{BackfillId, JobId, OrganizationId, RunId, ScheduleId, UserId};
use hakobu_core::job::{JobSettings, OverlapPolicy};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Concurrency limits of the dispatcher.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Runs starting or running at once in the whole service.
    pub global: i64,
    /// Runs starting or running at once per organization.
    pub per_organization: i64,
}

impl Limits {
    /// An organization's limit: its own setting, never above the service's ceiling.
    pub fn for_organization(&self, own: Option<i64>) -> i64 {
        own.map_or(self.per_organization, |n| n.min(self.per_organization))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            global: 100,
            per_organization: 20,
        }
    }
}

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

/// Claims and launches queued runs until the app stops.
pub struct Dispatcher {
    pub pool: DbPool,
    pub launcher: Arc<dyn Launcher>,
    pub run_tokens: RunTokens,
    /// How runners reach the app.
    pub app_url: String,
    pub limits: Limits,
    /// Runs claimed per transaction.
    pub batch: i64,
}

/// Key of the advisory lock that serializes claiming across app replicas.
const CLAIM_LOCK: i64 = 0x6861_6b6f_6275; // "hakobu"

/// A claimed run, ready to launch.
struct Claimed {
    run: Run,
    settings: JobSettings,
    /// When this claim moved the run to `starting`: it tells this launch apart from a
    /// later one if the run went back to the queue meanwhile (see [`Watchdog::reconcile_once`]).
    claimed_at: DateTime<Utc>,
}

impl Dispatcher {
    /// Runs forever: claim, launch, and sleep a little when the queue is empty.
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.dispatch_once().await {
                Ok(0) => tokio::time::sleep(Duration::from_millis(500)).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "dispatcher");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    /// One round: claims up to `batch` due runs within the limits and launches them.
    /// Answers how many were launched.
    pub async fn dispatch_once(&self) -> anyhow::Result<usize> {
        let mut conn = self.pool.get().await?;
        let limits = self.limits;
        let launcher_name = self.launcher.name();
        let image = self.launcher.runner_image();
        let batch = self.batch;
        let claimed = conn
            .transaction::<_, anyhow::Error, _>(async |conn| {
                claim(conn, limits, batch, launcher_name, &image).await
            })
            .await?;
        let count = claimed.len();
        let launches = claimed.into_iter().map(|c| self.launch(c));
        for outcome in futures::future::join_all(launches).await {
            if let Err(e) = outcome {
                tracing::error!(error = format!("{e:#}"), "launch");
            }
        }
        Ok(count)
    }

    async fn launch(&self, claimed: Claimed) -> anyhow::Result<()> {
        let run = claimed.run;
        let timeout = Duration::from_secs(run.timeout_seconds.max(60) as u64);
        let spec = LaunchSpec {
            run_id: run.id,
            app_url: self.app_url.clone(),
            run_token: self.run_tokens.issue_launch(run.id)?,
            cpu: claimed.settings.resources.cpu,
            memory_mb: claimed.settings.resources.memory_mb,
            timeout,
        };
        let outcome = self.launcher.launch(spec).await;
        let mut conn = self.pool.get().await?;
        // Only this claim's launch may record its task or fail the run: a launch that took
        // longer than the reconciler's patience finds its run queued again or launched by
        // another claim, and its runner must not compete with that one.
        let still_ours = runs::table
            .find(run.id)
            .filter(runs::started_at.eq(claimed.claimed_at))
            .filter(runs::task_id.is_null())
            .filter(runs::status.eq_any([RunStatus::Starting, RunStatus::Running]));
        match outcome {
            Ok(task_id) => {
                let recorded = diesel::update(still_ours)
                    .set(runs::task_id.eq(&task_id))
                    .execute(&mut conn)
                    .await?;
                if recorded == 0 {
                    tracing::warn!(run_id = %run.id, task = %task_id, "a late launch found its run claimed again; stopping its runner");
                    self.launcher.stop(&task_id).await?;
                }
            }
            Err(e) => {
                let message = format!("The runner could not be started: {e:#}");
                conn.transaction::<_, anyhow::Error, _>(async |conn| {
                    let ours = still_ours
                        .for_update()
                        .select(runs::id)
                        .first::<RunId>(conn)
                        .await
                        .optional()?;
                    if ours.is_some() {
                        finish(conn, run.id, failure(&message)).await?;
                    }
                    Ok(())
                })
                .await?;
            }
        }
        Ok(())
    }
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

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn claim(
    conn: &mut AsyncPgConnection,
    limits: Limits,
    batch: i64,
    launcher: &str,
    image: &str,
) -> anyhow::Result<Vec<Claimed>> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(CLAIM_LOCK)
        .execute(conn)
        .await?;
    let due: Vec<Run> = runs::table
        .filter(runs::status.eq(RunStatus::Queued))
        .filter(runs::not_before.le(diesel::dsl::now))
        .order((runs::not_before, runs::queued_at, runs::scheduled_time))
        .limit(batch)
        .for_update()
        .skip_locked()
        .select(Run::as_select())
        .load(conn)
        .await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let active = |status_filter: &'static str| {
        format!(
            "SELECT count(*) AS n FROM runs WHERE status IN ('starting', 'running') {status_filter}"
        )
    };
    let mut global: i64 = diesel::sql_query(active(""))
        .get_result::<Count>(conn)
        .await?
        .n;
    let mut per_org: HashMap<OrganizationId, (i64, i64)> = HashMap::new();
    let mut per_job: HashMap<JobId, i64> = HashMap::new();
    let mut per_backfill: HashMap<BackfillId, i64> = HashMap::new();
    let mut prepared: HashMap<(JobId, i32), Result<(JobSettings, String), String>> = HashMap::new();
    let mut claimed = Vec::new();
    for run in due {
        if global >= limits.global {
            break;
        }
        let (org_active, org_limit) = match per_org.get(&run.organization_id) {
            Some(known) => *known,
            None => {
                let active = runs::table
                    .filter(runs::organization_id.eq(run.organization_id))
                    .filter(runs::status.eq_any([RunStatus::Starting, RunStatus::Running]))
                    .count()
                    .get_result(conn)
                    .await?;
                let own: Option<i64> = organizations::table
                    .find(run.organization_id)
                    .select(organizations::max_concurrent_runs)
                    .first(conn)
                    .await?;
                (active, limits.for_organization(own))
            }
        };
        if org_active >= org_limit {
            per_org.insert(run.organization_id, (org_active, org_limit));
            continue;
        }
        // Runs of one job and revision share their settings and snapshot in a round.
        let key = (run.job_id, run.job_revision);
        if let std::collections::hash_map::Entry::Vacant(slot) = prepared.entry(key) {
            slot.insert(prepare(conn, &run).await?);
        }
        let (settings, snapshot) = match &prepared[&key] {
            Ok(ready) => ready.clone(),
            Err(message) => {
                fail_claimed(conn, run.id, message).await?;
                continue;
            }
        };
        let job_active = match per_job.get(&run.job_id) {
            Some(n) => *n,
            None => Run::active_for_job(conn, run.job_id).await?,
        };
        if settings.overlap != OverlapPolicy::Allow && job_active > 0 {
            per_job.insert(run.job_id, job_active);
            continue;
        }
        // A backfill runs at most its parallelism at once, oldest period first.
        let parallelism = run
            .resolved_inputs
            .get("backfill_parallelism")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let backfill_active = match run.backfill_id {
            Some(backfill) => {
                let limit = parallelism;
                let active = match per_backfill.get(&backfill) {
                    Some(n) => *n,
                    None => {
                        runs::table
                            .filter(runs::backfill_id.eq(backfill))
                            .filter(runs::status.eq_any([RunStatus::Starting, RunStatus::Running]))
                            .count()
                            .get_result(conn)
                            .await?
                    }
                };
                if active >= limit {
                    per_backfill.insert(backfill, active);
                    continue;
                }
                Some((backfill, active))
            }
            None => None,
        };
        if let Some((backfill, active)) = backfill_active {
            per_backfill.insert(backfill, active + 1);
        }
        let claimed_at: Option<DateTime<Utc>> = diesel::update(runs::table.find(run.id))
            .set((
                runs::status.eq(RunStatus::Starting),
                runs::launcher.eq(launcher),
                runs::runner_image.eq(image),
                runs::config_snapshot.eq(&snapshot),
                runs::started_at.eq(diesel::dsl::now),
            ))
            .returning(runs::started_at)
            .get_result(conn)
            .await?;
        let claimed_at = claimed_at.context("a claimed run has a start time")?;
        global += 1;
        per_org.insert(run.organization_id, (org_active + 1, org_limit));
        per_job.insert(run.job_id, job_active + 1);
        claimed.push(Claimed {
            run,
            settings,
            claimed_at,
        });
    }
    Ok(claimed)
}

/// The settings of the run's job revision and its compiled config (secrets as references);
/// `Err` with a plain message when the run cannot be started.
async fn prepare(
    conn: &mut AsyncPgConnection,
    run: &Run,
) -> anyhow::Result<Result<(JobSettings, String), String>> {
    let Some(job) = Job::find(conn, run.organization_id, run.job_id).await? else {
        return Ok(Err("The job no longer exists.".to_owned()));
    };
    let revision = Job::revision(conn, run.organization_id, run.job_id, run.job_revision).await?;
    let settings_value = revision
        .map(|r| r.settings)
        .unwrap_or_else(|| job.settings.clone());
    let settings: JobSettings = match serde_json::from_value(settings_value) {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("The job's settings cannot be read: {e}"))),
    };
    Ok(match snapshot(conn, &job, &settings).await {
        Ok(yaml) => Ok((settings, yaml)),
        Err(e) => Err(format!("The job could not be compiled: {e:#}")),
    })
}

async fn snapshot(
    conn: &mut AsyncPgConnection,
    job: &Job,
    settings: &JobSettings,
) -> anyhow::Result<String> {
    let mut connections = Vec::new();
    for id in [
        settings.source.connection_id,
        settings.destination.connection_id,
    ] {
        connections.push(
            Connection::find(conn, job.organization_id, id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("connection {id} no longer exists"))?,
        );
    }
    let (yaml, _) = yaml_with_references(
        settings,
        &connections[0],
        &connections[1],
        job.incremental_state.as_ref(),
    )?;
    Ok(yaml)
}

async fn fail_claimed(
    conn: &mut AsyncPgConnection,
    run: RunId,
    message: &str,
) -> anyhow::Result<()> {
    diesel::update(runs::table.find(run))
        .set((
            runs::status.eq(RunStatus::Failed),
            runs::error_summary.eq(message),
            runs::finished_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    crate::notify::enqueue_event(conn, NotificationEvent::RunEnded { run_id: run }).await?;
    crate::scheduler::record_outcome(conn, run).await?;
    Ok(())
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
        let finished: Run = diesel::update(runs::table.find(run_id))
            .set((
                runs::status.eq(status),
                runs::rows_read.eq(result.rows_read),
                runs::rows_written.eq(result.rows_written),
                runs::rows_skipped.eq(result.rows_skipped),
                runs::bytes_read.eq(result.bytes_read),
                runs::error_summary.eq(error.as_deref()),
                runs::next_state.eq(result.next_state.as_ref()),
                runs::finished_at.eq(diesel::dsl::now),
            ))
            .returning(Run::as_returning())
            .get_result(conn)
            .await?;
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
        crate::scheduler::record_outcome(conn, run_id).await?;
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
        let updated = diesel::update(runs::table.find(run_id))
            .filter(runs::status.eq_any([
                RunStatus::Queued,
                RunStatus::Starting,
                RunStatus::Running,
            ]))
            .set((
                runs::status.eq(status),
                runs::error_summary.eq(error),
                runs::finished_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        if updated == 1 {
            crate::notify::enqueue_event(conn, NotificationEvent::RunEnded { run_id }).await?;
            crate::scheduler::record_outcome(conn, run_id).await?;
        }
        Ok(updated == 1)
    })
    .await
}

/// Fails runs whose runner stopped reporting, stops runs past their timeout, and makes
/// sure cancelled runs end. Safe to run on every replica: each change re-checks the
/// run's state under a row lock.
pub struct Watchdog {
    pub pool: DbPool,
    pub launcher: Arc<dyn Launcher>,
    /// A running run with no heartbeat for this long has lost its runner.
    pub heartbeat_timeout: Duration,
    /// How long a run may stay `starting` (Fargate takes a minute or two to start a task).
    pub start_timeout: Duration,
    /// Log lines of runs that ended longer ago than this are deleted.
    pub log_retention: Duration,
}

/// How often runs are reconciled with the launcher (and at every start).
const RECONCILE_EVERY: Duration = Duration::from_secs(60);
/// Reconciling leaves alone runs launched less than this ago (a task just created may not
/// be listed yet) and runners whose run ended less than this ago (they exit on their own).
const RECONCILE_GRACE: Duration = Duration::from_secs(30);
/// A run claimed this long ago with no task recorded was never launched: the app stopped
/// between the claim and the launcher's answer. Far above any launch call (RunTask answers
/// in seconds, with the SDK's retries well under a minute).
const LAUNCH_PATIENCE: Duration = Duration::from_secs(120);

/// What one reconciliation pass changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Active runs whose runner had ended without reporting, now ended.
    pub ended: usize,
    /// Runners of finished runs that were stopped.
    pub stopped: usize,
    /// Claimed runs whose launch was lost (the app stopped before the launcher answered),
    /// back in the queue.
    pub requeued: usize,
    /// Claimed runs without a recorded task whose runner the launcher lists: the app
    /// stopped after launching and before recording; the task is now recorded.
    pub adopted: usize,
}

impl Watchdog {
    pub async fn run(self: Arc<Self>) {
        let mut last_housekeeping: Option<std::time::Instant> = None;
        let mut last_reconcile: Option<std::time::Instant> = None;
        loop {
            // First thing after a start: runs in flight meet what the launcher knows.
            if last_reconcile.is_none_or(|t| t.elapsed() > RECONCILE_EVERY) {
                last_reconcile = Some(std::time::Instant::now());
                match self.reconcile_once().await {
                    Ok(r) if r != Reconciled::default() => {
                        tracing::warn!(
                            ended = r.ended,
                            stopped = r.stopped,
                            requeued = r.requeued,
                            adopted = r.adopted,
                            "reconciled runs with the launcher"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = format!("{e:#}"), "reconcile"),
                }
            }
            if let Err(e) = self.sweep_once().await {
                tracing::error!(error = format!("{e:#}"), "watchdog");
            }
            if last_housekeeping.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                last_housekeeping = Some(std::time::Instant::now());
                if let Err(e) = self.housekeeping_once().await {
                    tracing::error!(error = format!("{e:#}"), "housekeeping");
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Deletes log lines past their retention and sign-in attempts older than a day.
    /// Answers how many log lines went.
    pub async fn housekeeping_once(&self) -> anyhow::Result<usize> {
        let mut conn = self.pool.get().await?;
        let cutoff = Utc::now() - ChronoDuration::from_std(self.log_retention)?;
        let old_runs = runs::table
            .filter(runs::finished_at.lt(cutoff))
            .select(runs::id);
        let deleted = diesel::delete(
            crate::schema::run_logs::table.filter(crate::schema::run_logs::run_id.eq_any(old_runs)),
        )
        .execute(&mut conn)
        .await?;
        crate::models::login_attempt::prune(&mut conn, Utc::now() - ChronoDuration::days(1))
            .await?;
        Ok(deleted)
    }

    /// One pass; answers how many runs it ended.
    pub async fn sweep_once(&self) -> anyhow::Result<usize> {
        let mut conn = self.pool.get().await?;
        let active: Vec<Run> = runs::table
            .filter(runs::status.eq_any([RunStatus::Starting, RunStatus::Running]))
            .select(Run::as_select())
            .load(&mut conn)
            .await?;
        let now = Utc::now();
        let mut ended = 0;
        for run in active {
            let started = run.started_at.unwrap_or(run.queued_at);
            let timeout = ChronoDuration::seconds(i64::from(run.timeout_seconds));
            let silent_since = run.heartbeat_at.unwrap_or(started);
            let verdict = if now - started > timeout {
                Some((
                    RunStatus::TimedOut,
                    format!(
                        "The run passed its timeout of {} minutes and was stopped.",
                        run.timeout_seconds / 60
                    ),
                ))
            } else if run.status == RunStatus::Running
                && now - silent_since > ChronoDuration::from_std(self.heartbeat_timeout)?
            {
                Some((
                    RunStatus::Failed,
                    format!(
                        "The runner stopped reporting (no heartbeat for {} s): it crashed, ran out of memory or lost its network. Nothing was committed in transactional modes.",
                        self.heartbeat_timeout.as_secs()
                    ),
                ))
            } else if run.status == RunStatus::Starting
                && now - started > ChronoDuration::from_std(self.start_timeout)?
            {
                Some((
                    RunStatus::Failed,
                    format!(
                        "The runner did not start within {} s.",
                        self.start_timeout.as_secs()
                    ),
                ))
            } else if run.cancel_requested
                && now - silent_since > ChronoDuration::from_std(self.heartbeat_timeout)?
            {
                Some((
                    RunStatus::Cancelled,
                    "Cancelled; the runner was stopped.".to_owned(),
                ))
            } else {
                None
            };
            let Some((status, message)) = verdict else {
                continue;
            };
            if let Some(task) = &run.task_id
                && let Err(e) = self.launcher.stop(task).await
            {
                tracing::warn!(error = format!("{e:#}"), run_id = %run.id, "stopping a runner failed");
            }
            let done = if status == RunStatus::Failed {
                finish(&mut conn, run.id, failure(&message))
                    .await?
                    .is_some()
            } else {
                finish_as(&mut conn, run.id, status, &message).await?
            };
            if done {
                tracing::warn!(run_id = %run.id, status = %status, "watchdog ended a run");
                ended += 1;
            }
        }
        Ok(ended)
    }
}

impl Watchdog {
    /// Reconciles runs with the launcher: a `starting` or `running` run whose task has
    /// stopped or vanished without a result is ended (failed, or cancelled if it was being
    /// cancelled) with the launcher's reason; a task still running is left alone. Then the
    /// launcher's active tasks whose run has finished are stopped. Tasks naming a run this
    /// database does not know (another installation's) are never touched.
    ///
    /// A run claimed [`LAUNCH_PATIENCE`] ago that has no task recorded lost its launch to
    /// an app stop: if the launcher lists a runner for it, that task is recorded; if not,
    /// no runner exists and the run goes back to the queue, where the next claim launches
    /// it once (a launch that answers later finds the run no longer its own and stops its
    /// runner; see `Dispatcher::launch`).
    pub async fn reconcile_once(&self) -> anyhow::Result<Reconciled> {
        let mut conn = self.pool.get().await?;
        let grace = ChronoDuration::from_std(RECONCILE_GRACE)?;
        let now = Utc::now();
        let mut done = Reconciled::default();
        let in_flight: Vec<Run> = runs::table
            .filter(runs::status.eq_any([RunStatus::Starting, RunStatus::Running]))
            .filter(runs::launcher.eq(self.launcher.name()))
            .filter(runs::task_id.is_not_null())
            .select(Run::as_select())
            .load(&mut conn)
            .await?;
        let in_flight: Vec<Run> = in_flight
            .into_iter()
            .filter(|run| now - run.started_at.unwrap_or(run.queued_at) >= grace)
            .collect();
        let task_ids: Vec<String> = in_flight.iter().filter_map(|r| r.task_id.clone()).collect();
        let states = if task_ids.is_empty() {
            HashMap::new()
        } else {
            match self.launcher.states(&task_ids).await {
                Ok(states) => states,
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "cannot read the runners' states");
                    HashMap::new()
                }
            }
        };
        for run in in_flight {
            let Some(state) = run.task_id.as_deref().and_then(|t| states.get(t)) else {
                continue;
            };
            if !state.has_ended() {
                continue;
            }
            let ended = if run.cancel_requested {
                finish_as(
                    &mut conn,
                    run.id,
                    RunStatus::Cancelled,
                    "Cancelled; the runner was stopped.",
                )
                .await?
            } else {
                let message = ended_without_result(run.status, state);
                finish(&mut conn, run.id, failure(&message))
                    .await?
                    .is_some()
            };
            if ended {
                tracing::warn!(run_id = %run.id, state = ?state, "the runner ended without a result");
                done.ended += 1;
            }
        }

        // Listed after the pass above, so that a launcher failing to list still lets the
        // runs whose runner ended be ended.
        let tasks = self.launcher.list_active().await?;
        let named: Vec<RunId> = tasks.iter().filter_map(|t| t.run_id).collect();
        let finished: std::collections::HashSet<RunId> = runs::table
            .filter(runs::id.eq_any(named))
            .filter(runs::status.eq_any([
                RunStatus::Succeeded,
                RunStatus::Failed,
                RunStatus::Cancelled,
                RunStatus::TimedOut,
            ]))
            .filter(runs::finished_at.lt(now - grace))
            .select(runs::id)
            .load::<RunId>(&mut conn)
            .await?
            .into_iter()
            .collect();
        for task in &tasks {
            if !task.run_id.is_some_and(|r| finished.contains(&r)) {
                continue;
            }
            match self.launcher.stop(&task.task_id).await {
                Ok(()) => {
                    tracing::warn!(task = %task.task_id, run_id = ?task.run_id, "stopped the runner of a finished run");
                    done.stopped += 1;
                }
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), task = %task.task_id, "stopping the runner of a finished run failed");
                }
            }
        }
        self.recover_lost_launches(&mut conn, &tasks, &mut done)
            .await?;
        Ok(done)
    }
}

impl Watchdog {
    async fn recover_lost_launches(
        &self,
        conn: &mut AsyncPgConnection,
        tasks: &[crate::launcher::ActiveTask],
        done: &mut Reconciled,
    ) -> anyhow::Result<()> {
        let cutoff = Utc::now() - ChronoDuration::from_std(LAUNCH_PATIENCE)?;
        let unlaunched: Vec<(RunId, Option<DateTime<Utc>>)> = runs::table
            .filter(runs::status.eq(RunStatus::Starting))
            .filter(runs::launcher.eq(self.launcher.name()))
            .filter(runs::task_id.is_null())
            .filter(runs::started_at.lt(cutoff))
            .select((runs::id, runs::started_at))
            .load(conn)
            .await?;
        for (run_id, claimed_at) in unlaunched {
            // The same guard as the launch's own: untouched since that claim.
            let untouched = runs::table
                .find(run_id)
                .filter(runs::status.eq(RunStatus::Starting))
                .filter(runs::task_id.is_null())
                .filter(runs::started_at.eq(claimed_at));
            if let Some(task) = tasks.iter().find(|t| t.run_id == Some(run_id)) {
                let adopted = diesel::update(untouched)
                    .set(runs::task_id.eq(&task.task_id))
                    .execute(conn)
                    .await?;
                if adopted == 1 {
                    tracing::warn!(run_id = %run_id, task = %task.task_id, "recorded the runner of a run whose launch was not recorded");
                    done.adopted += 1;
                }
                continue;
            }
            let requeued = diesel::update(untouched)
                .set((
                    runs::status.eq(RunStatus::Queued),
                    runs::started_at.eq(None::<DateTime<Utc>>),
                    runs::launcher.eq(None::<String>),
                    runs::runner_image.eq(None::<String>),
                ))
                .execute(conn)
                .await?;
            if requeued == 1 {
                tracing::warn!(run_id = %run_id, "a claimed run was never launched; it is queued again");
                done.requeued += 1;
            }
        }
        Ok(())
    }
}

/// Why a run ended when its runner went away without a result, in plain words.
fn ended_without_result(status: RunStatus, state: &crate::launcher::TaskState) -> String {
    use crate::launcher::TaskState;
    let when = if status == RunStatus::Starting {
        "before it began the transfer"
    } else {
        "during the transfer"
    };
    match state {
        TaskState::Stopped { exit_code, reason } => {
            let mut detail = Vec::new();
            if let Some(code) = exit_code {
                detail.push(format!("exit code {code}"));
            }
            if let Some(reason) = reason.as_deref().filter(|r| !r.is_empty()) {
                detail.push(reason.to_owned());
            }
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", detail.join(": "))
            };
            format!(
                "The runner stopped {when} without reporting a result{detail}. Nothing was committed in transactional modes."
            )
        }
        _ => format!(
            "The runner's task no longer exists: it ended {when} without reporting a result. Nothing was committed in transactional modes."
        ),
    }
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
