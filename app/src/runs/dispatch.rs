//! The dispatcher: claims due runs and launches them.
//!
//! The queue is the `runs` table. A dispatcher claims due runs with
//! `FOR UPDATE SKIP LOCKED` inside a transaction that also holds an advisory lock, so
//! several app replicas never start the same run twice and never exceed the concurrency
//! limits together. It takes organizations in turn (each one's oldest runs first) and
//! only runs that can start (`Run::dispatch_candidates`), so a backlog that one
//! organization's limit, overlap policy or backfill holds back delays no one else.
//!
//! A launch the platform refused for a passing reason ([`TemporaryLaunchError`]:
//! throttling, server errors, no Spot capacity) queues the run again with a growing delay
//! ([`LAUNCH_RETRY`]) instead of failing it; past the bound the run fails, saying so.

use super::{failure, finish};
use crate::auth::run_token::RunTokens;
use crate::db::DbPool;
use crate::launcher::{LaunchSpec, Launcher, TemporaryLaunchError};
use crate::models::connection::Connection;
use crate::models::job::Job;
use crate::models::run::Run;
use crate::notify::NotificationEvent;
use crate::schema::{organizations, runs};
use crate::services::jobs::yaml_with_references;
use crate::settings::RunLimits;
use anyhow::Context;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::runs::RunStatus;
use hakobu_core::ids::{BackfillId, JobId, OrganizationId, RunId};
use hakobu_core::job::{JobSettings, OverlapPolicy};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Claims and launches queued runs until the app stops.
pub struct Dispatcher {
    pub pool: DbPool,
    pub launcher: Arc<dyn Launcher>,
    pub run_tokens: RunTokens,
    /// How runners reach the app.
    pub app_url: String,
    pub limits: RunLimits,
    /// Runs claimed per transaction.
    pub batch: i64,
}

/// How long a run waits out launches refused for a passing reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchRetry {
    /// Launches refused in a row after which the run fails.
    pub max_attempts: i32,
    /// The delay after the first refusal; it doubles after each further one.
    pub first_delay: Duration,
    pub max_delay: Duration,
}

/// 15 s, 30 s, 1, 2, 4 minutes, then every 5 minutes: ten launches over about 28 minutes,
/// longer than ECS throttling or a Spot capacity shortage usually lasts.
pub const LAUNCH_RETRY: LaunchRetry = LaunchRetry {
    max_attempts: 10,
    first_delay: Duration::from_secs(15),
    max_delay: Duration::from_secs(300),
};

impl LaunchRetry {
    /// The delay before launch number `attempt + 1`, after `attempt` (1-based) refusals;
    /// `None` once `attempt` reaches the bound.
    pub fn delay(&self, attempt: i32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let doublings = attempt.saturating_sub(1).clamp(0, 20) as u32;
        Some(
            self.first_delay
                .saturating_mul(1 << doublings)
                .min(self.max_delay),
        )
    }

    /// The total wait over every allowed attempt.
    pub fn total(&self) -> Duration {
        (1..self.max_attempts).filter_map(|a| self.delay(a)).sum()
    }
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
                let temporary = TemporaryLaunchError::is_in(&e);
                let error = format!("{e:#}");
                let attempt = if temporary {
                    Run::launch_refusals(&mut conn, run.id).await? + 1
                } else {
                    0
                };
                if let Some(delay) = LAUNCH_RETRY.delay(attempt).filter(|_| temporary) {
                    let requeued = conn
                        .transaction::<_, anyhow::Error, _>(async |conn| {
                            let requeued = Run::requeue_after_launch_error(
                                conn,
                                &run,
                                Some(claimed.claimed_at),
                                delay,
                                &error,
                            )
                            .await?;
                            if requeued {
                                // The run's log says why it is queued again, for its page.
                                let line = format!(
                                    "The runner could not be started for a reason that usually passes; trying again in {} s (launch {attempt} of {}): {error}",
                                    delay.as_secs(),
                                    LAUNCH_RETRY.max_attempts
                                );
                                Run::append_logs(conn, run.id, &[("warn".to_owned(), line)])
                                    .await?;
                            }
                            Ok(requeued)
                        })
                        .await?;
                    if requeued {
                        tracing::warn!(run_id = %run.id, attempt, delay_seconds = delay.as_secs(), error, "launch refused for a passing reason; the run is queued again");
                        return Ok(());
                    }
                }
                let message = if temporary && attempt >= LAUNCH_RETRY.max_attempts {
                    format!(
                        "The runner could not be started: the platform refused {attempt} launches in a row over about {} minutes for reasons that usually pass (throttling, server errors, no capacity); the last answer: {error}",
                        LAUNCH_RETRY.total().as_secs().div_ceil(60)
                    )
                } else {
                    format!("The runner could not be started: {error}")
                };
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

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn claim(
    conn: &mut AsyncPgConnection,
    limits: RunLimits,
    batch: i64,
    launcher: &str,
    image: &str,
) -> anyhow::Result<Vec<Claimed>> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(CLAIM_LOCK)
        .execute(conn)
        .await?;
    // Only runs that can start, organizations in turn; the checks below are the
    // authority (the candidates were read before the locks).
    let candidates = Run::dispatch_candidates(conn, limits, batch).await?;
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut due: Vec<Run> = runs::table
        .filter(runs::id.eq_any(&candidates))
        .filter(runs::status.eq(RunStatus::Queued))
        .for_update()
        .skip_locked()
        .select(Run::as_select())
        .load(conn)
        .await?;
    let turn: HashMap<RunId, usize> = candidates
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i))
        .collect();
    due.sort_by_key(|run| turn.get(&run.id).copied());
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
        let job_limit = match settings.overlap {
            OverlapPolicy::Allow => settings.max_concurrent_runs.map_or(i64::MAX, i64::from),
            OverlapPolicy::Skip | OverlapPolicy::Queue => 1,
        };
        if job_active >= job_limit {
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
        let claimed_at = Run::mark_starting(
            conn,
            run.id,
            launcher,
            image,
            &snapshot,
            &settings.resources,
        )
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
    if !Run::end_if_active(conn, run, RunStatus::Failed, message).await? {
        return Ok(());
    }
    crate::notify::enqueue_event(conn, NotificationEvent::RunEnded { run_id: run }).await?;
    crate::runs::record_outcome(conn, run).await?;
    // A claimed run is its chain's last attempt; its root names the workflow task.
    if let Some(ended) = Run::find_any(conn, run).await? {
        crate::models::workflow::WorkflowRun::wake_for_job_run(conn, ended.root_run_id).await?;
    }
    Ok(())
}
