//! The scheduler: turns due schedules into queued runs (of a job) or started workflow runs
//! (of a workflow), and turns off a schedule whose runs keep failing.
//!
//! Every replica runs it. A round locks due schedules with `FOR UPDATE SKIP LOCKED`, so
//! replicas share the work, and every run it creates carries the idempotency key
//! `schedule:<id>:<fire time>`: even two rounds that both saw a schedule due cannot
//! create its run twice.
//!
//! After downtime each schedule catches up by its policy: `none` runs only fire times that
//! are still on time (within [`ON_TIME_GRACE_SECONDS`]), `last` one run for the most
//! recent missed time, `all` one run per missed time, newest [`MAX_CATCH_UP_RUNS`] at
//! most, oldest first.
//!
//! A workflow's schedule starts a workflow run per fire time with `as_of` = the fire time;
//! the run records the schedule and the time (one run per pair, a unique index). Its
//! `overlap` policy skips a fire time while a run of the workflow is still going.

use crate::db::DbPool;
use crate::models::job::Job;
use crate::models::schedule::ScheduleRow;
use crate::models::workflow::{Workflow, WorkflowRun};
use crate::runs::{self, RunRequest};
use crate::schema::schedules;
use crate::services::quotas::{self, Counted};
use crate::settings::Quotas;
use crate::workflows;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use hakobu_core::ids::WorkflowId;
use hakobu_core::job::OverlapPolicy;
use hakobu_core::schedule::{CatchUp, MAX_CATCH_UP_RUNS, ON_TIME_GRACE_SECONDS, ScheduleSettings};
use hakobu_core::workflow::WorkflowSpec;
use std::sync::Arc;
use std::time::Duration;

/// Schedules handled per transaction.
const BATCH: i64 = 100;

pub struct Scheduler {
    pub pool: DbPool,
    /// How often it looks for due schedules.
    pub tick: Duration,
    /// The organizations' quotas: a fire time finding its organization's queue full is
    /// skipped (and logged), not queued.
    pub quotas: Quotas,
}

impl Scheduler {
    pub async fn run(self: Arc<Self>) {
        loop {
            if let Err(e) = self.fire_due_once(Utc::now()).await {
                tracing::error!(error = format!("{e:#}"), "scheduler");
            }
            tokio::time::sleep(self.tick).await;
        }
    }

    /// Creates the runs of every schedule due at `now`; answers how many.
    pub async fn fire_due_once(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let mut conn = self.pool.get().await?;
        let mut created = 0;
        loop {
            let (handled, runs) = conn
                .transaction::<_, anyhow::Error, _>(async |conn| {
                    fire_batch(conn, now, &self.quotas).await
                })
                .await?;
            created += runs;
            if handled < BATCH as usize {
                return Ok(created);
            }
        }
    }
}

/// One transaction's worth: (schedules handled, runs created).
async fn fire_batch(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    quotas: &Quotas,
) -> anyhow::Result<(usize, usize)> {
    let due = ScheduleRow::claim_due(conn, now, BATCH).await?;
    let mut created = 0;
    for row in &due {
        created += fire(conn, row, now, quotas).await?;
    }
    Ok((due.len(), created))
}

async fn fire(
    conn: &mut AsyncPgConnection,
    row: &ScheduleRow,
    now: DateTime<Utc>,
    quota_defaults: &Quotas,
) -> anyhow::Result<usize> {
    let parsed = serde_json::from_value::<ScheduleSettings>(row.settings.clone())
        .map_err(|e| e.to_string())
        .and_then(|s| {
            s.validate("")
                .map(|schedule| (s, schedule))
                .map_err(|e| e.to_string())
        });
    let (settings, schedule) = match parsed {
        Ok(ok) => ok,
        Err(problem) => {
            // Stored settings that no longer validate (a time zone removed from the tz
            // database): stop, and say why, rather than fail on every tick.
            tracing::error!(schedule_id = %row.id, problem, "schedule turned off");
            diesel::update(schedules::table.find(row.id))
                .set((
                    schedules::enabled.eq(false),
                    schedules::next_fire_at.eq(None::<DateTime<Utc>>),
                    schedules::disabled_reason.eq(format!("Its settings are not valid: {problem}")),
                ))
                .execute(conn)
                .await?;
            return Ok(0);
        }
    };
    let first = row.next_fire_at.unwrap_or(now);
    let after = first - ChronoDuration::seconds(1);
    let recent = schedule.recent_fire_times(after, now, MAX_CATCH_UP_RUNS);
    let on_time = |t: &DateTime<Utc>| (now - *t).num_seconds() <= ON_TIME_GRACE_SECONDS;
    let mut fire_times: Vec<DateTime<Utc>> = match settings.catch_up {
        CatchUp::None => recent.iter().copied().filter(on_time).collect(),
        CatchUp::Last => recent.iter().take(1).copied().collect(),
        CatchUp::All => recent.clone(),
    };
    fire_times.reverse();
    let missed = recent.len() - fire_times.len();
    if missed > 0 {
        tracing::info!(schedule_id = %row.id, missed, policy = %settings.catch_up, "missed fire times not run");
    }
    let mut created = 0;
    if let Some(workflow_id) = row.workflow_id {
        created += fire_workflow(conn, row, workflow_id, &fire_times).await?;
    }
    let job = match row.job_id {
        Some(job) => Job::find(conn, row.organization_id, job).await?,
        None => None,
    };
    if let Some(job) = job.filter(|j| j.enabled) {
        for at in &fire_times {
            if let Some(limit) = quotas::over(
                conn,
                quota_defaults,
                row.organization_id,
                Counted::QueuedRuns,
                1,
            )
            .await?
            {
                tracing::warn!(schedule_id = %row.id, at = %at, limit, "the organization's queue is full: this fire time is skipped");
                continue;
            }
            let key = format!("schedule:{}:{}", row.id, at.to_rfc3339());
            let run = runs::enqueue(
                conn,
                &job,
                RunRequest {
                    trigger: "schedule",
                    idempotency_key: Some(&key),
                    schedule_id: Some(row.id),
                    scheduled_time: Some(*at),
                    ..Default::default()
                },
            )
            .await?;
            created += usize::from(run.is_some());
        }
    }
    diesel::update(schedules::table.find(row.id))
        .set((
            schedules::next_fire_at.eq(schedule.next_after(now)),
            schedules::last_fired_at.eq(fire_times.last().copied().or(row.last_fired_at)),
        ))
        .execute(conn)
        .await?;
    Ok(created)
}

/// Starts one run of the workflow per fire time (`as_of` = the fire time), skipping a time
/// that already has its run and, with `overlap: skip`, one while a run is still going.
async fn fire_workflow(
    conn: &mut AsyncPgConnection,
    row: &ScheduleRow,
    workflow_id: WorkflowId,
    fire_times: &[DateTime<Utc>],
) -> anyhow::Result<usize> {
    let Some(workflow) = Workflow::find(conn, row.organization_id, workflow_id).await? else {
        return Ok(0);
    };
    let spec: WorkflowSpec = match serde_json::from_value(workflow.spec.clone()) {
        Ok(spec) => spec,
        Err(e) => {
            tracing::error!(schedule_id = %row.id, error = %e, "a scheduled workflow cannot be read");
            return Ok(0);
        }
    };
    let mut created = 0;
    for at in fire_times {
        if WorkflowRun::for_schedule_time(conn, row.id, *at)
            .await?
            .is_some()
        {
            continue;
        }
        if spec.overlap == OverlapPolicy::Skip
            && WorkflowRun::running_of(conn, row.organization_id, workflow.id).await? > 0
        {
            tracing::info!(schedule_id = %row.id, at = %at, "a run of the workflow is still going: this fire time is skipped (overlap: skip)");
            continue;
        }
        let run = workflows::start_scheduled(conn, &workflow, row.id, *at).await?;
        tracing::info!(schedule_id = %row.id, workflow_run_id = %run.id, at = %at, "scheduled workflow run started");
        created += 1;
    }
    Ok(created)
}
