//! Runs (one row per attempt) and their log lines.

use crate::schema::{run_logs, runs};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::runs::{RunLogLine, RunStatus, RunView};
use hakobu_core::ids::{BackfillId, JobId, OrganizationId, RunId, ScheduleId, UserId};
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = runs)]
pub struct Run {
    pub id: RunId,
    pub organization_id: OrganizationId,
    pub job_id: JobId,
    pub job_revision: i32,
    pub status: RunStatus,
    pub attempt: i32,
    pub max_attempts: i32,
    pub root_run_id: RunId,
    pub trigger: String,
    pub triggered_by: Option<UserId>,
    pub idempotency_key: Option<String>,
    pub config_snapshot: Option<String>,
    pub resolved_inputs: Value,
    pub launcher: Option<String>,
    pub task_id: Option<String>,
    pub runner_image: Option<String>,
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_skipped: i64,
    pub bytes_read: i64,
    pub error_summary: Option<String>,
    pub next_state: Option<Value>,
    pub cancel_requested: bool,
    pub timeout_seconds: i32,
    pub queued_at: DateTime<Utc>,
    pub not_before: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub schedule_id: Option<ScheduleId>,
    pub scheduled_time: Option<DateTime<Utc>>,
    pub backfill_id: Option<BackfillId>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = runs)]
pub struct NewRun<'a> {
    pub id: RunId,
    pub organization_id: OrganizationId,
    pub job_id: JobId,
    pub job_revision: i32,
    pub status: RunStatus,
    pub attempt: i32,
    pub max_attempts: i32,
    pub root_run_id: RunId,
    pub trigger: &'a str,
    pub triggered_by: Option<UserId>,
    pub idempotency_key: Option<&'a str>,
    pub resolved_inputs: Value,
    pub timeout_seconds: i32,
    pub not_before: DateTime<Utc>,
    pub schedule_id: Option<ScheduleId>,
    pub scheduled_time: Option<DateTime<Utc>>,
    pub backfill_id: Option<BackfillId>,
}

/// Filters of the run list; all optional.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub job_id: Option<JobId>,
    pub status: Option<RunStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl Run {
    pub fn view(&self, queue_position: Option<i64>) -> RunView {
        RunView {
            id: self.id,
            job_id: self.job_id,
            job_revision: self.job_revision,
            status: self.status,
            attempt: self.attempt,
            max_attempts: self.max_attempts,
            root_run_id: self.root_run_id,
            trigger: self.trigger.clone(),
            triggered_by: self.triggered_by,
            queue_position,
            launcher: self.launcher.clone(),
            task_id: self.task_id.clone(),
            runner_image: self.runner_image.clone(),
            rows_read: self.rows_read,
            rows_written: self.rows_written,
            rows_skipped: self.rows_skipped,
            bytes_read: self.bytes_read,
            error_summary: self.error_summary.clone(),
            resolved_inputs: self.resolved_inputs.clone(),
            queued_at: self.queued_at,
            started_at: self.started_at,
            heartbeat_at: self.heartbeat_at,
            finished_at: self.finished_at,
            cancel_requested: self.cancel_requested,
            scheduled_time: self.scheduled_time,
            schedule_id: self.schedule_id,
            backfill_id: self.backfill_id,
        }
    }

    pub async fn insert(conn: &mut AsyncPgConnection, new: NewRun<'_>) -> QueryResult<Run> {
        diesel::insert_into(runs::table)
            .values(new)
            .returning(Run::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn find(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: RunId,
    ) -> QueryResult<Option<Run>> {
        runs::table
            .filter(runs::organization_id.eq(org))
            .filter(runs::id.eq(id))
            .select(Run::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// For the runner protocol, where the run token (not a user) names the run.
    pub async fn find_any(conn: &mut AsyncPgConnection, id: RunId) -> QueryResult<Option<Run>> {
        runs::table
            .find(id)
            .select(Run::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn list(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        f: &RunFilter,
        jobs: &[JobId],
        offset: i64,
        limit: i64,
    ) -> QueryResult<(Vec<Run>, i64)> {
        let build = || {
            let mut q = runs::table
                .filter(runs::organization_id.eq(org))
                .filter(runs::job_id.eq_any(jobs.to_vec()))
                .into_boxed();
            if let Some(j) = f.job_id {
                q = q.filter(runs::job_id.eq(j));
            }
            if let Some(s) = f.status {
                q = q.filter(runs::status.eq(s));
            }
            if let Some(from) = f.from {
                q = q.filter(runs::queued_at.ge(from));
            }
            if let Some(to) = f.to {
                q = q.filter(runs::queued_at.lt(to));
            }
            q
        };
        let total = build().count().get_result(conn).await?;
        let items = build()
            .order(runs::queued_at.desc())
            .offset(offset)
            .limit(limit)
            .select(Run::as_select())
            .load(conn)
            .await?;
        Ok((items, total))
    }

    /// Queued runs due before this one: its place in the queue.
    pub async fn queue_position(conn: &mut AsyncPgConnection, run: &Run) -> QueryResult<i64> {
        runs::table
            .filter(runs::status.eq(RunStatus::Queued))
            .filter(runs::not_before.le(diesel::dsl::now))
            .filter(runs::queued_at.lt(run.queued_at))
            .count()
            .get_result(conn)
            .await
    }

    /// The organization's runs in flight and due in the queue: counts over all its jobs,
    /// rows (oldest first, at most `limit` each) of the `visible` jobs only.
    pub async fn queue_snapshot(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        visible: &[JobId],
        limit: i64,
    ) -> QueryResult<QueueSnapshot> {
        let active_statuses = [RunStatus::Starting, RunStatus::Running];
        let active_count = runs::table
            .filter(runs::organization_id.eq(org))
            .filter(runs::status.eq_any(active_statuses))
            .count()
            .get_result(conn)
            .await?;
        let queued_count = runs::table
            .filter(runs::organization_id.eq(org))
            .filter(runs::status.eq(RunStatus::Queued))
            .filter(runs::not_before.le(diesel::dsl::now))
            .count()
            .get_result(conn)
            .await?;
        let active = runs::table
            .filter(runs::organization_id.eq(org))
            .filter(runs::job_id.eq_any(visible.to_vec()))
            .filter(runs::status.eq_any(active_statuses))
            .order(runs::started_at.asc())
            .limit(limit)
            .select(Run::as_select())
            .load(conn)
            .await?;
        // The dispatcher's own order, so the list reads as the order runs will start.
        let queued = runs::table
            .filter(runs::organization_id.eq(org))
            .filter(runs::job_id.eq_any(visible.to_vec()))
            .filter(runs::status.eq(RunStatus::Queued))
            .filter(runs::not_before.le(diesel::dsl::now))
            .order((runs::not_before, runs::queued_at, runs::scheduled_time))
            .limit(limit)
            .select(Run::as_select())
            .load(conn)
            .await?;
        Ok(QueueSnapshot {
            active_count,
            queued_count,
            active,
            queued,
        })
    }

    /// [`Run::queue_position`] of each queued run among `runs`, in one query, for lists.
    pub async fn queue_positions(
        conn: &mut AsyncPgConnection,
        runs: &[Run],
    ) -> QueryResult<HashMap<RunId, i64>> {
        let queued: Vec<RunId> = runs
            .iter()
            .filter(|r| r.status == RunStatus::Queued)
            .map(|r| r.id)
            .collect();
        if queued.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<Position> = diesel::sql_query(
            "SELECT r.id, (SELECT count(*) FROM runs q WHERE q.status = 'queued' \
             AND q.not_before <= now() AND q.queued_at < r.queued_at) AS position \
             FROM runs r WHERE r.id = ANY($1)",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(queued)
        .load(conn)
        .await?;
        Ok(rows.into_iter().map(|p| (p.id, p.position)).collect())
    }

    /// Runs of the job that are starting or running.
    pub async fn active_for_job(conn: &mut AsyncPgConnection, job: JobId) -> QueryResult<i64> {
        runs::table
            .filter(runs::job_id.eq(job))
            .filter(runs::status.eq_any([RunStatus::Starting, RunStatus::Running]))
            .count()
            .get_result(conn)
            .await
    }

    pub async fn logs(
        conn: &mut AsyncPgConnection,
        run: RunId,
        after: i64,
        limit: i64,
    ) -> QueryResult<Vec<RunLogLine>> {
        let rows: Vec<(i64, DateTime<Utc>, String, String)> = run_logs::table
            .filter(run_logs::run_id.eq(run))
            .filter(run_logs::seq.gt(after))
            .order(run_logs::seq)
            .limit(limit)
            .select((
                run_logs::seq,
                run_logs::at,
                run_logs::level,
                run_logs::message,
            ))
            .load(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, at, level, message)| RunLogLine {
                seq,
                at,
                level,
                message,
            })
            .collect())
    }

    pub async fn append_logs(
        conn: &mut AsyncPgConnection,
        run: RunId,
        lines: &[(String, String)],
    ) -> QueryResult<usize> {
        let rows: Vec<_> = lines
            .iter()
            .map(|(level, message)| {
                (
                    run_logs::run_id.eq(run),
                    run_logs::level.eq(level),
                    run_logs::message.eq(message),
                )
            })
            .collect();
        diesel::insert_into(run_logs::table)
            .values(rows)
            .execute(conn)
            .await
    }
}

/// What `Run::queue_snapshot` found.
pub struct QueueSnapshot {
    pub active_count: i64,
    pub queued_count: i64,
    pub active: Vec<Run>,
    pub queued: Vec<Run>,
}

#[derive(QueryableByName)]
struct Position {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: RunId,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    position: i64,
}
