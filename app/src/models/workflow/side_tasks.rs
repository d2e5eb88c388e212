//! The columns of check and HTTP tasks (`crate::workflows::side_tasks`): when a running
//! task is due for execution, the lease of the replica executing it, how many of its
//! executions failed; and a workflow's sealed secret header values.

use super::{TaskRun, Workflow, WorkflowRun};
use crate::schema::{workflow_runs, workflow_task_runs, workflows};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Int4, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::ids::{OrganizationId, WorkflowId, WorkflowRunId};
use hakobu_core::workflow::{TaskState, WorkflowRunStatus};
use serde_json::Value;

/// A task this replica claimed for execution, until its lease ends.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claim {
    #[diesel(sql_type = SqlUuid)]
    pub workflow_run_id: WorkflowRunId,
    #[diesel(sql_type = SqlUuid)]
    pub organization_id: OrganizationId,
    #[diesel(sql_type = Text)]
    pub task_name: String,
    /// The task's start this execution belongs to: its end is recorded only if the task
    /// is still running that start (not cancelled, not resumed and started again).
    #[diesel(sql_type = Int4)]
    pub starts: i32,
    #[diesel(sql_type = Int4)]
    pub execution_failures: i32,
}

impl TaskRun {
    /// Marks a task the step just started as due for execution now (its failures of an
    /// earlier start forgotten); in the step's transaction.
    pub async fn mark_due(
        conn: &mut AsyncPgConnection,
        run: WorkflowRunId,
        name: &str,
        at: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::update(workflow_task_runs::table.find((run, name)))
            .set((
                workflow_task_runs::execute_at.eq(Some(at)),
                workflow_task_runs::claimed_until.eq(None::<DateTime<Utc>>),
                workflow_task_runs::execution_failures.eq(0),
            ))
            .execute(conn)
            .await
    }

    /// Claims up to `limit` running tasks that are due and unclaimed (or whose claim
    /// expired: its replica stopped), each for `lease_seconds`. One statement: rows
    /// another replica is claiming are skipped, so each claim is taken once.
    pub async fn claim_due(
        conn: &mut AsyncPgConnection,
        lease_seconds: f64,
        limit: i64,
    ) -> QueryResult<Vec<Claim>> {
        diesel::sql_query(
            "UPDATE workflow_task_runs t SET claimed_until = now() + make_interval(secs => $1) \
             FROM (SELECT workflow_run_id, task_name FROM workflow_task_runs \
                   WHERE state = 'running' AND execute_at <= now() \
                     AND (claimed_until IS NULL OR claimed_until < now()) \
                   ORDER BY execute_at LIMIT $2 FOR UPDATE SKIP LOCKED) due \
             WHERE t.workflow_run_id = due.workflow_run_id AND t.task_name = due.task_name \
             RETURNING t.workflow_run_id, t.organization_id, t.task_name, t.starts, t.execution_failures",
        )
        .bind::<Double, _>(lease_seconds)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await
    }

    /// Extends this replica's claim to `until` (the task's own time and a margin).
    pub async fn extend_claim(
        conn: &mut AsyncPgConnection,
        claim: &Claim,
        until: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::update(
            workflow_task_runs::table
                .find((claim.workflow_run_id, &claim.task_name))
                .filter(workflow_task_runs::state.eq(TaskState::Running))
                .filter(workflow_task_runs::starts.eq(claim.starts)),
        )
        .set(workflow_task_runs::claimed_until.eq(Some(until)))
        .execute(conn)
        .await
    }

    /// The claimed task, still running the claimed start, locked (the run's row is locked
    /// first by the caller, in the engine's lock order).
    pub async fn still_claimed(conn: &mut AsyncPgConnection, claim: &Claim) -> QueryResult<bool> {
        let found: Option<i32> = workflow_task_runs::table
            .find((claim.workflow_run_id, &claim.task_name))
            .filter(workflow_task_runs::organization_id.eq(claim.organization_id))
            .filter(workflow_task_runs::state.eq(TaskState::Running))
            .filter(workflow_task_runs::starts.eq(claim.starts))
            .filter(workflow_task_runs::execute_at.is_not_null())
            .select(workflow_task_runs::starts)
            .for_update()
            .first(conn)
            .await
            .optional()?;
        Ok(found.is_some())
    }

    /// A failed execution with retries left: executed again at `at`.
    pub async fn execute_again(
        conn: &mut AsyncPgConnection,
        claim: &Claim,
        at: DateTime<Utc>,
        message: &str,
    ) -> QueryResult<usize> {
        diesel::update(workflow_task_runs::table.find((claim.workflow_run_id, &claim.task_name)))
            .set((
                workflow_task_runs::execute_at.eq(Some(at)),
                workflow_task_runs::claimed_until.eq(None::<DateTime<Utc>>),
                workflow_task_runs::execution_failures.eq(claim.execution_failures + 1),
                workflow_task_runs::message.eq(Some(message)),
            ))
            .execute(conn)
            .await
    }

    /// The execution's end is the task's end.
    pub async fn end_execution(
        conn: &mut AsyncPgConnection,
        claim: &Claim,
        state: TaskState,
        message: &str,
        now: DateTime<Utc>,
    ) -> QueryResult<usize> {
        diesel::update(workflow_task_runs::table.find((claim.workflow_run_id, &claim.task_name)))
            .set((
                workflow_task_runs::state.eq(state),
                workflow_task_runs::message.eq(Some(message)),
                workflow_task_runs::ended_at.eq(Some(now)),
                workflow_task_runs::execute_at.eq(None::<DateTime<Utc>>),
                workflow_task_runs::claimed_until.eq(None::<DateTime<Utc>>),
            ))
            .execute(conn)
            .await
    }
}

impl WorkflowRun {
    /// The engine looks at the run now (a task of it ended outside a step).
    pub async fn wake_now(conn: &mut AsyncPgConnection, id: WorkflowRunId) -> QueryResult<usize> {
        diesel::update(workflow_runs::table.find(id))
            .filter(workflow_runs::status.eq(WorkflowRunStatus::Running))
            .set(workflow_runs::wake_at.eq(diesel::dsl::now))
            .execute(conn)
            .await
    }
}

impl Workflow {
    /// The sealed values of the workflow's secret headers, by key (`crate::workflows::side_tasks::secret_key`).
    pub async fn secrets(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: WorkflowId,
    ) -> QueryResult<Option<Value>> {
        workflows::table
            .filter(workflows::organization_id.eq(org))
            .filter(workflows::id.eq(id))
            .select(workflows::secrets)
            .first(conn)
            .await
            .optional()
    }

    pub async fn set_secrets(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: WorkflowId,
        sealed: Value,
    ) -> QueryResult<usize> {
        diesel::update(
            workflows::table
                .filter(workflows::organization_id.eq(org))
                .filter(workflows::id.eq(id)),
        )
        .set(workflows::secrets.eq(sealed))
        .execute(conn)
        .await
    }
}
