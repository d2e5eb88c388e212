//! The watchdog: fails runs whose runner stopped reporting, stops runs past their timeout,
//! deletes logs past their retention, and reconciles runs with the launcher's tasks.

use super::{finish_as, finish_lost};
use crate::db::DbPool;
use crate::launcher::Launcher;
use crate::models::run::Run;
use crate::schema::runs;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::runs::RunStatus;
use hakobu_core::ids::RunId;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

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

/// How long after a run's end its task's times are asked for: ECS describes stopped tasks
/// for at least an hour.
const TASK_TIMES_WINDOW: ChronoDuration = ChronoDuration::hours(1);
/// Runs whose task times are asked for in one round (one DescribeTasks call on ECS).
const TASK_TIMES_BATCH: i64 = 100;

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
        let mut last_task_times: Option<std::time::Instant> = None;
        // Since when this watchdog could have heard every heartbeat: its start, or the
        // database's return after a failed sweep. Runners could not report while the app
        // was down or without its database; their silence counts from then, or a restart
        // would fail every run in flight (and retry loads that may have committed).
        let mut listening_since: Option<DateTime<Utc>> = None;
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
            if self.launcher.reports_task_times()
                && last_task_times.is_none_or(|t| t.elapsed() > RECONCILE_EVERY)
            {
                last_task_times = Some(std::time::Instant::now());
                if let Err(e) = self.record_task_times_once().await {
                    tracing::warn!(error = format!("{e:#}"), "recording task times");
                }
            }
            let since = *listening_since.get_or_insert_with(Utc::now);
            if let Err(e) = self.sweep_listening_since(Some(since)).await {
                tracing::error!(error = format!("{e:#}"), "watchdog");
                listening_since = None;
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

    /// Records when the tasks of recently ended runs started and stopped, by the
    /// platform's clock, for their usage (ECS: what Fargate bills). Answers how many runs
    /// got their times; a task the platform cannot tell about yet is asked again on the
    /// next round, for as long as the platform remembers stopped tasks.
    pub async fn record_task_times_once(&self) -> anyhow::Result<usize> {
        let mut conn = self.pool.get().await?;
        let waiting = Run::awaiting_task_times(
            &mut conn,
            self.launcher.name(),
            ChronoDuration::from_std(RECONCILE_GRACE)?,
            TASK_TIMES_WINDOW,
            TASK_TIMES_BATCH,
        )
        .await?;
        if waiting.is_empty() {
            return Ok(0);
        }
        let task_ids: Vec<String> = waiting.iter().map(|(_, task)| task.clone()).collect();
        let times = self.launcher.task_times(&task_ids).await?;
        let mut recorded = 0;
        for (run, task) in &waiting {
            if let Some(t) = times.get(task) {
                recorded += Run::record_task_times(&mut conn, *run, t.started, t.stopped).await?;
            }
        }
        Ok(recorded)
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
        self.sweep_listening_since(None).await
    }

    /// One pass, counting a runner's silence from `listening_since` at the earliest (when
    /// the app could hear heartbeats again after a start or a database outage).
    pub async fn sweep_listening_since(
        &self,
        listening_since: Option<DateTime<Utc>>,
    ) -> anyhow::Result<usize> {
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
            let silent_since = run
                .heartbeat_at
                .unwrap_or(started)
                .max(listening_since.unwrap_or(DateTime::<Utc>::MIN_UTC));
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
                        "The runner stopped reporting (no heartbeat for {} s): it crashed, ran out of memory or lost its network.",
                        self.heartbeat_timeout.as_secs()
                    ),
                ))
            } else if run.status == RunStatus::Starting
                && now - started > ChronoDuration::from_std(self.start_timeout)?
            {
                Some((RunStatus::Failed, self.did_not_start(&run).await))
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
                finish_lost(&mut conn, run.id, &message).await?.is_some()
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
    /// The message of a run that did not start in time, with what holds its runner up
    /// when the launcher can tell (an image that cannot be pulled, a refused pod).
    async fn did_not_start(&self, run: &Run) -> String {
        let within = format!(
            "The runner did not start within {} s",
            self.start_timeout.as_secs()
        );
        let Some(task) = &run.task_id else {
            return format!("{within}.");
        };
        match self.launcher.start_problem(task).await {
            Ok(Some(why)) => format!("{within}: {}.", why.trim_end_matches('.')),
            Ok(None) => format!("{within}."),
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), run_id = %run.id, "cannot read why the runner did not start");
                format!("{within}.")
            }
        }
    }

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
                finish_lost(&mut conn, run.id, &message).await?.is_some()
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
        self.remove_leftovers(&mut conn, now - grace).await?;
        Ok(done)
    }
}

impl Watchdog {
    /// Removes what the launcher kept for runs that finished before `cutoff` (never for a
    /// run this database does not know, nor one still queued or in flight: its next launch
    /// reuses it).
    async fn remove_leftovers(
        &self,
        conn: &mut AsyncPgConnection,
        cutoff: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let leftovers = match self.launcher.list_leftovers().await {
            Ok(leftovers) => leftovers,
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "cannot list the launcher's leftovers"
                );
                return Ok(());
            }
        };
        if leftovers.is_empty() {
            return Ok(());
        }
        let named: Vec<RunId> = leftovers.iter().filter_map(|t| t.run_id).collect();
        let finished: std::collections::HashSet<RunId> = runs::table
            .filter(runs::id.eq_any(named))
            .filter(runs::status.eq_any([
                RunStatus::Succeeded,
                RunStatus::Failed,
                RunStatus::Cancelled,
                RunStatus::TimedOut,
            ]))
            .filter(runs::finished_at.lt(cutoff))
            .select(runs::id)
            .load::<RunId>(conn)
            .await?
            .into_iter()
            .collect();
        for leftover in leftovers {
            if !leftover.run_id.is_some_and(|r| finished.contains(&r)) {
                continue;
            }
            match self.launcher.stop(&leftover.task_id).await {
                Ok(()) => {
                    tracing::info!(task = %leftover.task_id, run_id = ?leftover.run_id, "removed what the launcher kept for a finished run");
                }
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), task = %leftover.task_id, "removing what the launcher kept for a finished run failed");
                }
            }
        }
        Ok(())
    }

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
            if let Some(task) = tasks.iter().find(|t| t.run_id == Some(run_id)) {
                if Run::adopt_task(conn, run_id, claimed_at, &task.task_id).await? {
                    tracing::warn!(run_id = %run_id, task = %task.task_id, "recorded the runner of a run whose launch was not recorded");
                    done.adopted += 1;
                }
                continue;
            }
            let requeued = Run::requeue_unlaunched(conn, run_id, claimed_at).await?;
            if requeued {
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
            format!("The runner stopped {when} without reporting a result{detail}.")
        }
        _ => format!(
            "The runner's task no longer exists: it ended {when} without reporting a result."
        ),
    }
}
