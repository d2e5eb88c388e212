//! Workflows, their runs and the state of each task of a run: the tables the workflow
//! engine (`crate::workflows`) is a state machine over.

use crate::schema::{workflow_runs, workflow_task_runs, workflows};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::ids::{
    OrganizationId, RunId, ScheduleId, TeamId, UserId, WorkflowId, WorkflowRunId,
};
use hakobu_core::workflow::{Ended, TaskState, WorkflowRunStatus};
use serde_json::Value;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = workflows)]
pub struct Workflow {
    pub id: WorkflowId,
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    pub name: String,
    pub description: String,
    pub spec: Value,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = workflows)]
pub struct NewWorkflow<'a> {
    pub id: WorkflowId,
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    pub name: &'a str,
    pub description: &'a str,
    pub spec: Value,
    pub created_by: Option<UserId>,
}

#[derive(AsChangeset)]
#[diesel(table_name = workflows)]
pub struct WorkflowChangeset<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub spec: Value,
    pub updated_at: DateTime<Utc>,
}

crate::tenant_rows!(Workflow, workflows, WorkflowId, WorkflowChangeset<'_>);

impl Workflow {
    pub async fn insert(conn: &mut AsyncPgConnection, new: NewWorkflow<'_>) -> QueryResult<Self> {
        diesel::insert_into(workflows::table)
            .values(new)
            .returning(Workflow::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn list(conn: &mut AsyncPgConnection, org: OrganizationId) -> QueryResult<Vec<Self>> {
        workflows::table
            .filter(workflows::organization_id.eq(org))
            .order(workflows::name)
            .select(Workflow::as_select())
            .load(conn)
            .await
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = workflow_runs)]
pub struct WorkflowRun {
    pub id: WorkflowRunId,
    pub organization_id: OrganizationId,
    pub workflow_id: WorkflowId,
    pub spec: Value,
    pub status: WorkflowRunStatus,
    pub attempt: i32,
    pub trigger: String,
    pub triggered_by: Option<UserId>,
    pub resolved_inputs: Value,
    pub wake_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The schedule that started the run, and for which fire time.
    pub schedule_id: Option<ScheduleId>,
    pub scheduled_time: Option<DateTime<Utc>>,
    /// The run whose workflow task started this one (a child run).
    pub parent_run_id: Option<WorkflowRunId>,
}

#[derive(Insertable)]
#[diesel(table_name = workflow_runs)]
pub struct NewWorkflowRun<'a> {
    pub id: WorkflowRunId,
    pub organization_id: OrganizationId,
    pub workflow_id: WorkflowId,
    pub spec: Value,
    pub status: WorkflowRunStatus,
    pub trigger: &'a str,
    pub triggered_by: Option<UserId>,
    pub resolved_inputs: Value,
    pub wake_at: Option<DateTime<Utc>>,
    pub schedule_id: Option<ScheduleId>,
    pub scheduled_time: Option<DateTime<Utc>>,
    pub parent_run_id: Option<WorkflowRunId>,
}

/// How a run changes at a step of the engine, a cancel or a resume.
#[derive(AsChangeset)]
#[diesel(table_name = workflow_runs, treat_none_as_null = true)]
pub struct WorkflowRunChangeset<'a> {
    pub status: WorkflowRunStatus,
    pub attempt: i32,
    pub wake_at: Option<DateTime<Utc>>,
    pub error: Option<&'a str>,
    pub ended_at: Option<DateTime<Utc>>,
}

crate::tenant_rows!(WorkflowRun, workflow_runs, WorkflowRunId);

impl WorkflowRun {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: NewWorkflowRun<'_>,
    ) -> QueryResult<Self> {
        diesel::insert_into(workflow_runs::table)
            .values(new)
            .returning(WorkflowRun::as_returning())
            .get_result(conn)
            .await
    }

    /// The run, locked for this transaction; `None` when another transaction holds it
    /// (another replica is stepping it: this one has nothing to do) or it is gone.
    pub async fn lock_or_skip(
        conn: &mut AsyncPgConnection,
        id: WorkflowRunId,
    ) -> QueryResult<Option<Self>> {
        workflow_runs::table
            .find(id)
            .for_update()
            .skip_locked()
            .select(WorkflowRun::as_select())
            .first(conn)
            .await
            .optional()
    }

    /// The run of `org`, locked for this transaction, waiting for another holder.
    pub async fn lock(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: WorkflowRunId,
    ) -> QueryResult<Option<Self>> {
        workflow_runs::table
            .filter(workflow_runs::organization_id.eq(org))
            .filter(workflow_runs::id.eq(id))
            .for_update()
            .select(WorkflowRun::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn set(
        conn: &mut AsyncPgConnection,
        id: WorkflowRunId,
        changes: WorkflowRunChangeset<'_>,
    ) -> QueryResult<usize> {
        diesel::update(workflow_runs::table.find(id))
            .set(changes)
            .execute(conn)
            .await
    }

    /// Runs the engine should look at now, oldest wake first.
    pub async fn due(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<WorkflowRunId>> {
        workflow_runs::table
            .filter(workflow_runs::wake_at.le(now))
            .order(workflow_runs::wake_at)
            .limit(limit)
            .select(workflow_runs::id)
            .load(conn)
            .await
    }

    /// The run a schedule started for a fire time, if any.
    pub async fn for_schedule_time(
        conn: &mut AsyncPgConnection,
        schedule: ScheduleId,
        at: DateTime<Utc>,
    ) -> QueryResult<Option<WorkflowRunId>> {
        workflow_runs::table
            .filter(workflow_runs::schedule_id.eq(schedule))
            .filter(workflow_runs::scheduled_time.eq(at))
            .select(workflow_runs::id)
            .first(conn)
            .await
            .optional()
    }

    /// How many runs of the workflow are still running.
    pub async fn running_of(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        workflow: WorkflowId,
    ) -> QueryResult<i64> {
        workflow_runs::table
            .filter(workflow_runs::organization_id.eq(org))
            .filter(workflow_runs::workflow_id.eq(workflow))
            .filter(workflow_runs::status.eq(WorkflowRunStatus::Running))
            .count()
            .get_result(conn)
            .await
    }

    /// A workflow's runs, newest first.
    pub async fn for_workflow(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        workflow: WorkflowId,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        workflow_runs::table
            .filter(workflow_runs::organization_id.eq(org))
            .filter(workflow_runs::workflow_id.eq(workflow))
            .order(workflow_runs::created_at.desc())
            .limit(limit)
            .select(WorkflowRun::as_select())
            .load(conn)
            .await
    }

    /// Called in the transaction that records the end of a job run (`runs::finish`,
    /// `finish_as`): the workflow run whose task started it is looked at now. The task's
    /// state itself is read from the run by the engine's next step, so this is all a
    /// run's end has to do, and a missed call only delays that step to the periodic
    /// check. `root_run_id` is the run's first attempt, which the task names.
    pub async fn wake_for_job_run(
        conn: &mut AsyncPgConnection,
        root_run_id: RunId,
    ) -> QueryResult<usize> {
        let owner = workflow_task_runs::table
            .filter(workflow_task_runs::run_id.eq(root_run_id))
            .select(workflow_task_runs::workflow_run_id);
        diesel::update(workflow_runs::table)
            .filter(workflow_runs::id.eq_any(owner))
            .filter(workflow_runs::status.eq(WorkflowRunStatus::Running))
            .set(workflow_runs::wake_at.eq(diesel::dsl::now))
            .execute(conn)
            .await
    }

    /// Called in the transaction that ends a child run (its last step, or a cancel): the
    /// run whose workflow task waits for it is looked at now. The lock order is the
    /// child's row, then the parent's; the parent's step never locks a running child.
    pub async fn wake_parent(
        conn: &mut AsyncPgConnection,
        child: WorkflowRunId,
    ) -> QueryResult<usize> {
        let owner = workflow_task_runs::table
            .filter(workflow_task_runs::child_run_id.eq(child))
            .select(workflow_task_runs::workflow_run_id);
        diesel::update(workflow_runs::table)
            .filter(workflow_runs::id.eq_any(owner))
            .filter(workflow_runs::status.eq(WorkflowRunStatus::Running))
            .set(workflow_runs::wake_at.eq(diesel::dsl::now))
            .execute(conn)
            .await
    }

    /// The workflows of `run` and of the runs above it (`parent_run_id`), nearest first,
    /// with their names; at most `limit` of them.
    pub async fn ancestry(
        conn: &mut AsyncPgConnection,
        run: &WorkflowRun,
        limit: usize,
    ) -> QueryResult<Vec<(WorkflowId, String)>> {
        let mut chain = Vec::new();
        let mut at = Some((run.workflow_id, run.parent_run_id));
        while let Some((workflow, parent)) = at
            && chain.len() < limit
        {
            let name = workflows::table
                .find(workflow)
                .filter(workflows::organization_id.eq(run.organization_id))
                .select(workflows::name)
                .first::<String>(conn)
                .await
                .optional()?
                .unwrap_or_default();
            chain.push((workflow, name));
            at = match parent {
                Some(parent) => workflow_runs::table
                    .find(parent)
                    .filter(workflow_runs::organization_id.eq(run.organization_id))
                    .select((workflow_runs::workflow_id, workflow_runs::parent_run_id))
                    .first::<(WorkflowId, Option<WorkflowRunId>)>(conn)
                    .await
                    .optional()?,
                None => None,
            };
        }
        Ok(chain)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = workflow_task_runs)]
pub struct TaskRun {
    pub workflow_run_id: WorkflowRunId,
    pub organization_id: OrganizationId,
    pub task_name: String,
    pub state: TaskState,
    pub skipped_for_failure: bool,
    pub run_id: Option<RunId>,
    pub starts: i32,
    pub wait_until: Option<DateTime<Utc>>,
    pub message: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The workflow run a workflow task started; kept across a resume, which resumes it.
    pub child_run_id: Option<WorkflowRunId>,
    /// Failed attempts the engine retried since the task last became pending at the
    /// run's start or resume.
    pub failed_attempts: i32,
}

/// A task's new state.
#[derive(AsChangeset)]
#[diesel(table_name = workflow_task_runs, treat_none_as_null = true)]
pub struct TaskRunChangeset<'a> {
    pub state: TaskState,
    pub skipped_for_failure: bool,
    pub run_id: Option<RunId>,
    pub starts: i32,
    pub wait_until: Option<DateTime<Utc>>,
    pub message: Option<&'a str>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub child_run_id: Option<WorkflowRunId>,
    pub failed_attempts: i32,
}

impl TaskRun {
    /// A pending task of a new run.
    pub fn pending(run: &WorkflowRun, name: &str) -> Self {
        Self {
            workflow_run_id: run.id,
            organization_id: run.organization_id,
            task_name: name.to_owned(),
            state: TaskState::Pending,
            skipped_for_failure: false,
            run_id: None,
            starts: 0,
            wait_until: None,
            message: None,
            started_at: None,
            ended_at: None,
            child_run_id: None,
            failed_attempts: 0,
        }
    }

    pub async fn insert_all(conn: &mut AsyncPgConnection, rows: &[TaskRun]) -> QueryResult<usize> {
        diesel::insert_into(workflow_task_runs::table)
            .values(rows)
            .execute(conn)
            .await
    }

    /// The tasks of a run; lock the run first when they are to change.
    pub async fn of_run(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        run: WorkflowRunId,
    ) -> QueryResult<Vec<Self>> {
        workflow_task_runs::table
            .filter(workflow_task_runs::organization_id.eq(org))
            .filter(workflow_task_runs::workflow_run_id.eq(run))
            .select(TaskRun::as_select())
            .load(conn)
            .await
    }

    pub async fn set(
        conn: &mut AsyncPgConnection,
        run: WorkflowRunId,
        name: &str,
        changes: TaskRunChangeset<'_>,
    ) -> QueryResult<usize> {
        diesel::update(workflow_task_runs::table.find((run, name)))
            .set(changes)
            .execute(conn)
            .await
    }

    /// The changes that leave everything as it is but what the caller overrides.
    pub fn unchanged(&self) -> TaskRunChangeset<'_> {
        TaskRunChangeset {
            state: self.state,
            skipped_for_failure: self.skipped_for_failure,
            run_id: self.run_id,
            starts: self.starts,
            wait_until: self.wait_until,
            message: self.message.as_deref(),
            started_at: self.started_at,
            ended_at: self.ended_at,
            child_run_id: self.child_run_id,
            failed_attempts: self.failed_attempts,
        }
    }

    /// How the task ended, or `None` while it has not.
    pub fn ended(&self) -> Option<Ended> {
        self.state.is_final().then_some(Ended {
            state: self.state,
            for_failure: self.skipped_for_failure,
        })
    }
}

mod side_tasks;
pub use side_tasks::Claim;
