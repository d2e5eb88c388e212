//! Runs (one row per attempt) and their log lines.

use crate::schema::{run_launch_refusals, run_logs, runs};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::runs::{RunLogLine, RunStatus, RunView, RunnerCommit, RunnerProgress};
use hakobu_core::ids::{BackfillId, JobId, OrganizationId, RunId, ScheduleId, UserId};
use hakobu_core::job::Resources;
use hakobu_core::usage::{UnitPrices, Usage};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

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
    /// The next incremental state (possibly empty), present exactly when the destination
    /// committed: from the runner's commit report while the run is active
    /// ([`Run::record_commit`]), from its end after.
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
    /// What the source expected to read, as the runner reported (progress).
    pub rows_expected: Option<i64>,
    pub bytes_expected: Option<i64>,
    /// The task its runner was given (the job's resources at the claim).
    pub task_vcpu: Option<f32>,
    pub task_memory_mb: Option<i32>,
    /// Bytes sent to the destination (see [`RunView::bytes_written`]).
    pub bytes_written: i64,
    /// When its task started and stopped, as the platform tells after the end (ECS:
    /// from the image pull to the stop); see [`Run::usage`].
    pub task_started_at: Option<DateTime<Utc>>,
    pub task_stopped_at: Option<DateTime<Utc>>,
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
    /// The base of the backoff between this run's attempts instead of the job's own (a
    /// workflow task's `retry_delay_seconds`); the retries carry it on.
    pub retry_backoff_seconds: Option<i32>,
}

/// Filters of the run list; all optional.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub job_id: Option<JobId>,
    pub status: Option<RunStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Most runs a list counts: past it the total is "more than" (a count of a long history
/// costs a scan of it on every request).
pub const COUNT_CAP: i64 = 1_000;

/// Which page of [`Run::list`]: after a run (keyset), else at an offset.
pub struct RunPage {
    pub after: Option<(DateTime<Utc>, RunId)>,
    pub offset: i64,
    pub limit: i64,
}

/// A page of [`Run::list`].
pub struct RunList {
    pub items: Vec<Run>,
    /// Matching runs, up to [`COUNT_CAP`].
    pub total: i64,
    /// More than [`COUNT_CAP`] match.
    pub total_capped: bool,
    /// Older runs follow this page.
    pub more: bool,
}

impl Run {
    /// The run as the API shows it; what its runner used is priced with `prices`.
    pub fn view(&self, queue_position: Option<i64>, prices: &UnitPrices) -> RunView {
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
            held_by_its_job: false,
            launcher: self.launcher.clone(),
            task_id: self.task_id.clone(),
            runner_image: self.runner_image.clone(),
            rows_read: self.rows_read,
            rows_written: self.rows_written,
            rows_skipped: self.rows_skipped,
            bytes_read: self.bytes_read,
            bytes_written: self.bytes_written,
            rows_expected: self.rows_expected,
            bytes_expected: self.bytes_expected,
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
            task_vcpu: self.task_vcpu.map(f64::from),
            task_memory_mb: self.task_memory_mb,
            usage: self.usage(prices),
        }
    }

    /// What the runner used so far: the task's size times the time its task ran, as the
    /// platform reported it once the run ended (ECS: image pull to stop, what Fargate
    /// bills), else from the claim to the end (to now while it runs); `None` before a
    /// claim or for runs claimed before task sizes were recorded. The claim-to-end time
    /// includes the runner's start, which the platforms bill too.
    pub fn usage(&self, prices: &UnitPrices) -> Option<Usage> {
        let (vcpu, memory_mb) = (self.task_vcpu?, self.task_memory_mb?);
        let (started, ended) = match (self.task_started_at, self.task_stopped_at) {
            (Some(started), Some(stopped)) => (started, stopped),
            _ => (self.started_at?, self.finished_at.unwrap_or_else(Utc::now)),
        };
        let seconds = ((ended - started).num_milliseconds() as f64 / 1000.0).max(0.0);
        Some(Usage::of_task(
            f64::from(vcpu),
            u32::try_from(memory_mb).unwrap_or(0),
            seconds,
            prices,
        ))
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

    /// One page of the organization's runs of `jobs` matching `f`, newest first: the page
    /// after the run `before` (keyset: as fast deep in a long history as at its top), else
    /// the one at `offset`. Answers the rows, the count (up to [`COUNT_CAP`]: a bound, not
    /// the end of a history of 100,000 runs) and whether older runs follow.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        f: &RunFilter,
        jobs: &[JobId],
        page: RunPage,
    ) -> QueryResult<RunList> {
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
        // Up to one past the cap, unordered: the scan stops there (a COUNT(*) of a
        // 100,000-run history costs 17 ms a request, this a fraction of one).
        let counted = build()
            .select(diesel::dsl::sql::<diesel::sql_types::Integer>("1"))
            .limit(COUNT_CAP + 1)
            .load::<i32>(conn)
            .await?
            .len() as i64;
        let mut rows = build().order((runs::queued_at.desc(), runs::id.desc()));
        match page.after {
            Some((at, id)) => {
                // `(queued_at, id) < (at, id)`, spelled so that `queued_at <= at` bounds
                // the index scan (the organization's index is on its queue time).
                rows = rows.filter(
                    runs::queued_at
                        .le(at)
                        .and(runs::queued_at.lt(at).or(runs::id.lt(id))),
                );
            }
            None => rows = rows.offset(page.offset),
        }
        let mut items: Vec<Run> = rows
            .limit(page.limit + 1)
            .select(Run::as_select())
            .load(conn)
            .await?;
        let more = items.len() as i64 > page.limit;
        items.truncate(page.limit as usize);
        Ok(RunList {
            items,
            total: counted.min(COUNT_CAP),
            total_capped: counted > COUNT_CAP,
            more,
        })
    }

    /// Where a page of [`Run::list`] starting after run `id` begins: its queue time, when
    /// the run is the organization's.
    pub async fn list_position(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: RunId,
    ) -> QueryResult<Option<(DateTime<Utc>, RunId)>> {
        runs::table
            .filter(runs::organization_id.eq(org))
            .find(id)
            .select((runs::queued_at, runs::id))
            .first(conn)
            .await
            .optional()
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

    /// Each queued run's place in the queue (runs ahead of it), in one query.
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
        // The runs it waits behind: its organization's due runs ahead of it in the
        // dispatcher's order, less those held back by their own job or backfill (they do
        // not start first) unless they hold back this one too. Another organization's
        // backlog never counts: the dispatcher takes organizations in turn.
        let sql = format!(
            "SELECT me.id, (SELECT count(*) FROM (SELECT 1 FROM runs r \
               WHERE r.organization_id = me.organization_id AND r.status = 'queued' \
                 AND r.not_before <= now() \
                 AND (r.not_before, r.queued_at, r.id) < (me.not_before, me.queued_at, me.id) \
                 AND (r.job_id = me.job_id OR r.backfill_id = me.backfill_id \
                      OR ({HELD_BY_ITS_JOB}) IS NOT TRUE) \
               LIMIT {POSITION_COUNTED_UP_TO}) ahead) AS position \
             FROM runs me WHERE me.id = ANY($1)"
        );
        let rows: Vec<Position> = diesel::sql_query(sql)
            .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(queued)
            .load(conn)
            .await?;
        Ok(rows.into_iter().map(|p| (p.id, p.position)).collect())
    }

    /// Recently ended runs of `launcher` whose task times are not recorded yet, with
    /// their task ids: ended at least `grace` ago (the task stops after its result) and at
    /// most `window` ago (platforms forget stopped tasks: ECS after about an hour).
    pub async fn awaiting_task_times(
        conn: &mut AsyncPgConnection,
        launcher: &str,
        grace: chrono::Duration,
        window: chrono::Duration,
        limit: i64,
    ) -> QueryResult<Vec<(RunId, String)>> {
        let now = Utc::now();
        runs::table
            .filter(runs::task_stopped_at.is_null())
            .filter(runs::finished_at.is_not_null())
            .filter(runs::finished_at.lt(now - grace))
            .filter(runs::finished_at.gt(now - window))
            .filter(runs::launcher.eq(launcher))
            .filter(runs::task_id.is_not_null())
            .order(runs::finished_at)
            .limit(limit)
            .select((runs::id, runs::task_id.assume_not_null()))
            .load(conn)
            .await
    }

    /// Records when the run's task started and stopped, as its platform reported.
    pub async fn record_task_times(
        conn: &mut AsyncPgConnection,
        id: RunId,
        started: DateTime<Utc>,
        stopped: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::update(runs::table.find(id))
            .filter(runs::task_stopped_at.is_null())
            .set((
                runs::task_started_at.eq(started),
                runs::task_stopped_at.eq(stopped),
            ))
            .execute(conn)
            .await
    }

    /// The queued runs among `runs` that wait for earlier runs of their own job (its
    /// overlap policy or limit of runs at once) or backfill, by the dispatcher's rule.
    pub async fn held_by_their_jobs(
        conn: &mut AsyncPgConnection,
        runs: &[Run],
    ) -> QueryResult<HashSet<RunId>> {
        #[derive(QueryableByName)]
        struct Held {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: RunId,
        }
        let queued: Vec<RunId> = runs
            .iter()
            .filter(|r| r.status == RunStatus::Queued)
            .map(|r| r.id)
            .collect();
        if queued.is_empty() {
            return Ok(HashSet::new());
        }
        let sql = format!(
            "SELECT r.id FROM runs r WHERE r.id = ANY($1) AND r.status = 'queued' \
               AND ({HELD_BY_ITS_JOB}) IS TRUE"
        );
        let rows: Vec<Held> = diesel::sql_query(sql)
            .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(queued)
            .load(conn)
            .await?;
        Ok(rows.into_iter().map(|h| h.id).collect())
    }

    /// The queued runs the dispatcher should try next, at most `batch`, in turn by
    /// organization: each organization's oldest runs first (one of each before a second of
    /// any), each organization at most its free room under `limits`, and never a run held
    /// back by its job's overlap policy or its backfill's parallelism. So a backlog one
    /// organization cannot start never stands in front of another's runs.
    ///
    /// A hint, read without locks: the caller locks the rows and checks the limits again
    /// (two runs of one exclusive job can both be candidates while none runs).
    pub async fn dispatch_candidates(
        conn: &mut AsyncPgConnection,
        limits: crate::settings::RunLimits,
        batch: i64,
    ) -> QueryResult<Vec<RunId>> {
        #[derive(QueryableByName)]
        struct Candidate {
            #[diesel(sql_type = diesel::sql_types::Uuid)]
            id: RunId,
        }
        // Organizations with queued runs are found by skipping through
        // `runs_org_queue_idx` (one probe per organization, not one row per queued run).
        // Each organization's walk stops at `batch` (a constant the planner sees, so its
        // estimate stays small: a computed limit made it expect the whole queue and JIT-
        // compile every claim, 100 ms and more), then at its room.
        let sql = format!(
            "WITH RECURSIVE queued_orgs(organization_id) AS ( \
               (SELECT organization_id FROM runs WHERE status = 'queued' \
                ORDER BY organization_id LIMIT 1) \
               UNION ALL \
               SELECT (SELECT r.organization_id FROM runs r WHERE r.status = 'queued' \
                       AND r.organization_id > q.organization_id \
                       ORDER BY r.organization_id LIMIT 1) \
               FROM queued_orgs q WHERE q.organization_id IS NOT NULL \
             ), room AS ( \
               SELECT o.id AS organization_id, \
                 LEAST(COALESCE(o.max_concurrent_runs, $1), $1) - (SELECT count(*) FROM runs a \
                   WHERE a.organization_id = o.id AND a.status IN ('starting', 'running')) AS free \
               FROM queued_orgs q JOIN organizations o ON o.id = q.organization_id \
             ), candidates AS ( \
               SELECT c.id, c.not_before, c.queued_at, room.free, \
                 row_number() OVER (PARTITION BY room.organization_id \
                   ORDER BY c.not_before, c.queued_at, c.scheduled_time) AS turn \
               FROM room CROSS JOIN LATERAL ( \
                 SELECT r.id, r.not_before, r.queued_at, r.scheduled_time FROM runs r \
                 WHERE r.organization_id = room.organization_id AND r.status = 'queued' \
                   AND r.not_before <= now() AND ({HELD_BY_ITS_JOB}) IS NOT TRUE \
                 ORDER BY r.not_before, r.queued_at, r.scheduled_time \
                 LIMIT $2 \
               ) c \
               WHERE room.free > 0 \
             ) \
             SELECT id FROM candidates WHERE turn <= free \
             ORDER BY turn, not_before, queued_at LIMIT $2"
        );
        let rows: Vec<Candidate> = diesel::sql_query(sql)
            .bind::<diesel::sql_types::BigInt, _>(limits.per_organization)
            .bind::<diesel::sql_types::BigInt, _>(batch)
            .load(conn)
            .await?;
        Ok(rows.into_iter().map(|c| c.id).collect())
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

/// A queue position is counted up to this many runs ahead (a list of runs deep in a
/// backlog stays quick; past this, "10,000 ahead" says enough).
const POSITION_COUNTED_UP_TO: i64 = 10_000;

/// SQL: whether the queued run `r` is held back
/// by its own job or backfill whatever its organization's room: an exclusive job (overlap
/// `skip` or `queue`, the revision's setting as the dispatcher reads it) with a run in
/// flight, a job whose runs may overlap with its `max_concurrent_runs` in flight, or a
/// backfill with its parallelism in flight. The `jsonb_typeof` guards keep a
/// malformed value from failing the query for every organization.
const HELD_BY_ITS_JOB: &str = "(SELECT count(*) FROM runs a WHERE a.organization_id = r.organization_id \
           AND a.job_id = r.job_id AND a.status IN ('starting', 'running')) \
       >= COALESCE((SELECT CASE \
             WHEN COALESCE(s->>'overlap', 'skip') <> 'allow' THEN 1 \
             WHEN jsonb_typeof(s->'max_concurrent_runs') = 'number' \
               THEN (s->>'max_concurrent_runs')::numeric \
             ELSE 2147483647 END \
           FROM (SELECT COALESCE(jr.settings, j.settings) AS s FROM jobs j \
             LEFT JOIN job_revisions jr ON jr.job_id = j.id AND jr.revision = r.job_revision \
             WHERE j.id = r.job_id) js), 1) \
    OR (r.backfill_id IS NOT NULL \
       AND (SELECT count(*) FROM runs b WHERE b.backfill_id = r.backfill_id \
            AND b.status IN ('starting', 'running')) \
           >= CASE WHEN jsonb_typeof(r.resolved_inputs->'backfill_parallelism') = 'number' \
              THEN (r.resolved_inputs->>'backfill_parallelism')::numeric ELSE 1 END)";

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

/// Every change of a run's status, in one place: the dispatcher's claim, the runner's
/// start, the end (a runner's result or the app's verdict), and a lost launch's return to
/// the queue. Each is one guarded `UPDATE`, so a change that lost a race changes nothing.
impl Run {
    /// `queued` -> `starting`: the dispatcher claimed the run for `launcher`; answers the
    /// claim's mark (`started_at`), which a late launch compares to find it was superseded.
    pub async fn mark_starting(
        conn: &mut AsyncPgConnection,
        id: RunId,
        launcher: &str,
        image: &str,
        snapshot: &str,
        task: &Resources,
    ) -> QueryResult<Option<DateTime<Utc>>> {
        diesel::update(runs::table.find(id))
            .set((
                runs::status.eq(RunStatus::Starting),
                runs::task_vcpu.eq(task.cpu as f32),
                runs::task_memory_mb.eq(i32::try_from(task.memory_mb).unwrap_or(i32::MAX)),
                runs::launcher.eq(launcher),
                runs::runner_image.eq(image),
                runs::config_snapshot.eq(snapshot),
                runs::started_at.eq(diesel::dsl::now),
            ))
            .returning(runs::started_at)
            .get_result(conn)
            .await
    }

    /// -> `running` when the run is in one of `from`; `false` when it was not.
    pub async fn mark_running(
        conn: &mut AsyncPgConnection,
        id: RunId,
        from: &[RunStatus],
    ) -> QueryResult<bool> {
        let started = diesel::update(runs::table.find(id))
            .filter(runs::status.eq_any(from.to_vec()))
            .set((
                runs::status.eq(RunStatus::Running),
                runs::heartbeat_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        Ok(started == 1)
    }

    /// `starting` -> `queued` for a claim whose launch never answered, if the run is still
    /// exactly as that claim left it (no task, the same `started_at`).
    pub async fn requeue_unlaunched(
        conn: &mut AsyncPgConnection,
        id: RunId,
        claimed_at: Option<DateTime<Utc>>,
    ) -> QueryResult<bool> {
        let requeued = diesel::update(Self::untouched_since_claim(id, claimed_at))
            .set((
                runs::status.eq(RunStatus::Queued),
                runs::started_at.eq(None::<DateTime<Utc>>),
                runs::launcher.eq(None::<String>),
                runs::runner_image.eq(None::<String>),
            ))
            .execute(conn)
            .await?;
        Ok(requeued == 1)
    }

    /// `starting` -> `queued` for a claim whose launch the platform refused for a passing
    /// reason (throttling, no capacity): due again after `delay`, the refusal counted
    /// (`run_launch_refusals`), under the same guard as [`Run::requeue_unlaunched`]. A run
    /// being cancelled is not queued again (`false`). The caller holds a transaction.
    pub async fn requeue_after_launch_error(
        conn: &mut AsyncPgConnection,
        run: &Run,
        claimed_at: Option<DateTime<Utc>>,
        delay: std::time::Duration,
        error: &str,
    ) -> QueryResult<bool> {
        // The database's clock, as `dispatch_candidates` compares `not_before` with it.
        let due = diesel::dsl::sql::<diesel::sql_types::Timestamptz>(&format!(
            "now() + interval '{} milliseconds'",
            delay.as_millis()
        ));
        let requeued = diesel::update(
            Self::untouched_since_claim(run.id, claimed_at)
                .filter(runs::cancel_requested.eq(false)),
        )
        .set((
            runs::status.eq(RunStatus::Queued),
            runs::started_at.eq(None::<DateTime<Utc>>),
            runs::launcher.eq(None::<String>),
            runs::runner_image.eq(None::<String>),
            runs::not_before.eq(due),
        ))
        .execute(conn)
        .await?;
        if requeued == 0 {
            return Ok(false);
        }
        diesel::insert_into(run_launch_refusals::table)
            .values((
                run_launch_refusals::run_id.eq(run.id),
                run_launch_refusals::organization_id.eq(run.organization_id),
                run_launch_refusals::refusals.eq(1),
                run_launch_refusals::last_error.eq(error),
            ))
            .on_conflict(run_launch_refusals::run_id)
            .do_update()
            .set((
                run_launch_refusals::refusals.eq(run_launch_refusals::refusals + 1),
                run_launch_refusals::last_error.eq(error),
            ))
            .execute(conn)
            .await?;
        Ok(true)
    }

    /// How many launches of the run the platform refused for a passing reason so far.
    pub async fn launch_refusals(conn: &mut AsyncPgConnection, id: RunId) -> QueryResult<i32> {
        Ok(run_launch_refusals::table
            .find(id)
            .select(run_launch_refusals::refusals)
            .first(conn)
            .await
            .optional()?
            .unwrap_or(0))
    }

    /// Records `task_id` as the runner of a claim whose launch answered too late to record
    /// it, under the same guard as [`Run::requeue_unlaunched`].
    pub async fn adopt_task(
        conn: &mut AsyncPgConnection,
        id: RunId,
        claimed_at: Option<DateTime<Utc>>,
        task_id: &str,
    ) -> QueryResult<bool> {
        let adopted = diesel::update(Self::untouched_since_claim(id, claimed_at))
            .set(runs::task_id.eq(task_id))
            .execute(conn)
            .await?;
        Ok(adopted == 1)
    }

    fn untouched_since_claim(id: RunId, claimed_at: Option<DateTime<Utc>>) -> UntouchedSinceClaim {
        runs::table
            .find(id)
            .filter(runs::status.eq(RunStatus::Starting))
            .filter(runs::task_id.is_null())
            .filter(runs::started_at.eq(claimed_at))
    }

    /// -> `status` (final) with what the runner reported; the caller holds the row lock and
    /// has checked that the run was still active.
    pub async fn record_end(
        conn: &mut AsyncPgConnection,
        id: RunId,
        status: RunStatus,
        end: RunEnd<'_>,
    ) -> QueryResult<Run> {
        diesel::update(runs::table.find(id))
            .set((
                runs::status.eq(status),
                runs::rows_read.eq(end.rows_read),
                runs::rows_written.eq(end.rows_written),
                runs::rows_skipped.eq(end.rows_skipped),
                runs::bytes_read.eq(end.bytes_read),
                runs::bytes_written.eq(end.bytes_written),
                runs::error_summary.eq(end.error),
                runs::next_state.eq(end.next_state),
                runs::finished_at.eq(diesel::dsl::now),
            ))
            .returning(Run::as_returning())
            .get_result(conn)
            .await
    }

    /// -> `status` (final) with `error`, if the run is still queued, starting or running;
    /// `false` when it had already ended.
    pub async fn end_if_active(
        conn: &mut AsyncPgConnection,
        id: RunId,
        status: RunStatus,
        error: &str,
    ) -> QueryResult<bool> {
        let updated = diesel::update(runs::table.find(id))
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
        Ok(updated == 1)
    }

    /// The runner's report that the destination committed, recorded while the run is
    /// active: the counts and the next incremental state (its presence marks the commit). `false` when the run
    /// had ended (its end already says what happened).
    pub async fn record_commit(
        conn: &mut AsyncPgConnection,
        id: RunId,
        commit: &RunnerCommit,
    ) -> QueryResult<bool> {
        let recorded = diesel::update(runs::table.find(id))
            .filter(runs::status.eq_any([RunStatus::Starting, RunStatus::Running]))
            .set((
                runs::rows_read.eq(commit.rows_read),
                runs::rows_written.eq(commit.rows_written),
                runs::rows_skipped.eq(commit.rows_skipped),
                runs::bytes_read.eq(commit.bytes_read),
                runs::bytes_written.eq(commit.bytes_written),
                runs::next_state.eq(&commit.next_state),
                runs::heartbeat_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        Ok(recorded == 1)
    }

    /// A heartbeat of an active run: its progress and the time; answers whether a cancel
    /// was asked, or `None` when the run is no longer active.
    pub async fn record_progress(
        conn: &mut AsyncPgConnection,
        id: RunId,
        progress: &RunnerProgress,
    ) -> QueryResult<Option<bool>> {
        diesel::update(runs::table.find(id))
            .filter(runs::status.eq_any([RunStatus::Starting, RunStatus::Running]))
            .set((
                runs::rows_read.eq(progress.rows_read),
                runs::rows_written.eq(progress.rows_written),
                runs::bytes_read.eq(progress.bytes_read),
                runs::bytes_written.eq(progress.bytes_written),
                runs::rows_expected.eq(progress.rows_expected),
                runs::bytes_expected.eq(progress.bytes_expected),
                runs::heartbeat_at.eq(diesel::dsl::now),
            ))
            .returning(runs::cancel_requested)
            .get_result(conn)
            .await
            .optional()
    }

    /// The config the run executes (secrets as references), recompiled at its start when
    /// its variables changed it.
    pub async fn store_snapshot(
        conn: &mut AsyncPgConnection,
        id: RunId,
        snapshot: &str,
    ) -> QueryResult<()> {
        diesel::update(runs::table.find(id))
            .set(runs::config_snapshot.eq(snapshot))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The run's inputs with its resolved variable values, reused by its retries.
    pub async fn store_inputs(
        conn: &mut AsyncPgConnection,
        id: RunId,
        inputs: &Value,
    ) -> QueryResult<()> {
        diesel::update(runs::table.find(id))
            .set(runs::resolved_inputs.eq(inputs))
            .execute(conn)
            .await?;
        Ok(())
    }

    /// Asks the runner to stop: its next heartbeat answers `cancel`.
    /// The last attempt of the run whose first attempt is `root` (retries share it as
    /// `root_run_id`); a retry is queued in the transaction that ends the attempt before
    /// it, so a final last attempt is the chain's end.
    pub async fn last_attempt(
        conn: &mut AsyncPgConnection,
        root: RunId,
    ) -> QueryResult<Option<Run>> {
        runs::table
            .filter(runs::root_run_id.eq(root))
            .order(runs::attempt.desc())
            .select(Run::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn by_idempotency_key(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        key: &str,
    ) -> QueryResult<Option<Run>> {
        runs::table
            .filter(runs::organization_id.eq(org))
            .filter(runs::idempotency_key.eq(key))
            .select(Run::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn request_cancel(conn: &mut AsyncPgConnection, id: RunId) -> QueryResult<()> {
        diesel::update(runs::table.find(id))
            .set(runs::cancel_requested.eq(true))
            .execute(conn)
            .await?;
        Ok(())
    }
}

/// A run still `starting` with no task and the claim's `started_at`.
type UntouchedSinceClaim = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Filter<
            diesel::dsl::Find<runs::table, RunId>,
            diesel::dsl::Eq<runs::status, RunStatus>,
        >,
        diesel::dsl::IsNull<runs::task_id>,
    >,
    diesel::dsl::Eq<runs::started_at, Option<DateTime<Utc>>>,
>;

/// What a runner reported when its run ended.
#[derive(Debug, Clone, Copy)]
pub struct RunEnd<'a> {
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_skipped: i64,
    pub bytes_read: i64,
    pub bytes_written: i64,
    pub error: Option<&'a str>,
    pub next_state: Option<&'a Value>,
}
