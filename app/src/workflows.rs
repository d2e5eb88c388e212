//! The workflow engine: a state machine in PostgreSQL, stepped by [`advance`].
//!
//! A workflow run is a row in `workflow_runs` and one row per task in
//! `workflow_task_runs`; nothing lives in memory between steps, so a restart or another
//! replica carries on where the last step ended. [`advance`] takes the run's row with
//! `FOR UPDATE SKIP LOCKED` (a replica already stepping it is left to it), reads how its
//! running tasks' job runs ended, starts every task whose dependencies are met (up to the
//! workflow's parallelism; job runs through `runs::enqueue`, so the organization's limits
//! apply at dispatch), skips those whose `run_if` cannot hold, and ends the run when every
//! task has. Each start is written in the same transaction as the lock, so two replicas
//! never start a task twice; the job run also carries an idempotency key per task start.
//!
//! A job run's end (`runs::finish`, `finish_as`) sets the workflow run's `wake_at` in its
//! own transaction (`WorkflowRun::wake_for_job_run`); the [`WorkflowEngine`] worker steps
//! every run whose `wake_at` has come, and a running workflow is looked at again at least
//! every [`RECHECK`] whatever happens. Check and HTTP tasks are executed outside the step
//! by [`side_tasks`]. The rules (what starts, what is skipped, what a
//! resume runs again) are `hakobu_core::workflow`'s.
//!
//! A workflow task starts a child run of another workflow ([`start_child`]): the child's
//! last step (or its cancel) wakes the parent (`WorkflowRun::wake_parent`), whose next
//! step reads how it ended ([`child_end`]). A cancel of the parent cancels its running
//! children; a retry or a resume of the task resumes the failed child from its failed
//! tasks rather than starting the whole child again. A failed attempt of a task the
//! engine retries itself goes back to pending until its backoff has passed
//! ([`retry_or_end`]).

use crate::db::DbPool;
use crate::launcher::Launcher;
use crate::models::destination::Destination;
use crate::models::job::Job;
use crate::models::run::Run;
use crate::models::workflow::{
    NewWorkflowRun, TaskRun, TaskRunChangeset, Workflow, WorkflowRun, WorkflowRunChangeset,
};
use crate::runs::{self, RunRequest};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::api::runs::RunStatus;
use hakobu_core::api::workflows::{TaskRunView, WorkflowRunView};
use hakobu_core::ids::{OrganizationId, RunId, ScheduleId, UserId, WorkflowRunId};
use hakobu_core::job::JobSettings;
use hakobu_core::variables::{self, RunContext};
use hakobu_core::workflow::{
    Decision, Ended, TaskAction, TaskSpec, TaskState, WorkflowRunStatus, WorkflowSpec, decide,
    outcome, resume_set, wait_until_moment,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

pub mod side_tasks;

/// A running workflow is stepped at least this often, even if no job run's end woke it.
pub const RECHECK: Duration = Duration::from_secs(30);

/// Steps due workflow runs until the app stops (every replica with the dispatcher).
pub struct WorkflowEngine {
    pub pool: DbPool,
    /// The pause between rounds when nothing was due.
    pub tick: Duration,
}

impl WorkflowEngine {
    pub async fn run(self: Arc<Self>) {
        loop {
            match self.step_once().await {
                Ok(n) if n >= BATCH as usize => {}
                Ok(_) => tokio::time::sleep(self.tick).await,
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "workflow engine");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    /// One round: steps every run due now (up to a batch); answers how many were due.
    pub async fn step_once(&self) -> anyhow::Result<usize> {
        let mut conn = self.pool.get().await?;
        let due = WorkflowRun::due(&mut conn, Utc::now(), BATCH).await?;
        for id in &due {
            if let Err(e) = advance(&mut conn, *id).await {
                tracing::error!(error = format!("{e:#}"), workflow_run_id = %id, "stepping a workflow run");
            }
        }
        Ok(due.len())
    }
}

const BATCH: i64 = 20;

/// What one call of [`advance`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Step {
    /// `false` when another transaction held the run (it is stepping it).
    pub locked: bool,
    /// The tasks this step started.
    pub started: Vec<String>,
    /// The run's status after the step.
    pub status: Option<WorkflowRunStatus>,
}

/// One step of a workflow run, in one transaction: see the module's documentation.
pub async fn advance(conn: &mut AsyncPgConnection, id: WorkflowRunId) -> anyhow::Result<Step> {
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let Some(run) = WorkflowRun::lock_or_skip(conn, id).await? else {
            return Ok(Step::default());
        };
        let mut step = Step {
            locked: true,
            status: Some(run.status),
            ..Default::default()
        };
        if run.status != WorkflowRunStatus::Running {
            // Ended (a cancel, or a job run's late end woke it): nothing to step.
            if run.wake_at.is_some() {
                WorkflowRun::set(
                    conn,
                    run.id,
                    ended_changes(&run, run.status, run.error.as_deref()),
                )
                .await?;
            }
            return Ok(step);
        }
        let spec: WorkflowSpec = match serde_json::from_value(run.spec.clone()) {
            Ok(spec) => spec,
            Err(e) => {
                let error = format!("The workflow's tasks cannot be read: {e}");
                WorkflowRun::set(
                    conn,
                    run.id,
                    ended_changes(&run, WorkflowRunStatus::Failed, Some(&error)),
                )
                .await?;
                step.status = Some(WorkflowRunStatus::Failed);
                return Ok(step);
            }
        };
        let now = Utc::now();
        let mut tasks: HashMap<String, TaskRun> =
            TaskRun::of_run(conn, run.organization_id, run.id)
                .await?
                .into_iter()
                .map(|t| (t.task_name.clone(), t))
                .collect();
        // 1. Running tasks that have ended: their job run's last attempt ended, their wait is over.
        for spec_task in &spec.tasks {
            let Some(task) = tasks.get(&spec_task.name).cloned() else {
                continue;
            };
            if task.state != TaskState::Running {
                continue;
            }
            let ended = match &spec_task.action {
                TaskAction::Job { .. } => match task.run_id {
                    Some(root) => match Run::last_attempt(conn, root).await? {
                        Some(last) if last.status.is_final() => Some(job_run_end(&last)),
                        Some(_) => None,
                        None => Some((
                            TaskState::Failed,
                            Some("The job run of this task no longer exists.".to_owned()),
                        )),
                    },
                    None => Some((
                        TaskState::Failed,
                        Some("This task lost its job run.".to_owned()),
                    )),
                },
                TaskAction::Wait { .. } | TaskAction::WaitUntil { .. } => task
                    .wait_until
                    .is_none_or(|until| until <= now)
                    .then_some((TaskState::Succeeded, None)),
                TaskAction::Notify { .. } => Some((TaskState::Succeeded, None)),
                TaskAction::Workflow { .. } => child_end(conn, &run, &task).await?,
                // Ended by the side-task worker, which records the end itself.
                TaskAction::Check { .. } | TaskAction::Http { .. } => None,
            };
            if let Some((state, message)) = ended {
                let updated = retry_or_end(spec_task, task, state, message, now);
                TaskRun::set(conn, run.id, &updated.task_name, updated.unchanged()).await?;
                tasks.insert(updated.task_name.clone(), updated);
            }
        }
        // 2. Pending tasks, in the spec's order, until nothing changes: a skip or a task
        // that ends at its start (a notification) may free the tasks after it.
        let mut running = tasks
            .values()
            .filter(|t| t.state == TaskState::Running)
            .count();
        let parallelism = spec.parallelism as usize;
        loop {
            let mut changed = false;
            for spec_task in &spec.tasks {
                let Some(task) = tasks.get(&spec_task.name).cloned() else {
                    continue;
                };
                if task.state != TaskState::Pending {
                    continue;
                }
                // A retry waiting for its backoff.
                if task.wait_until.is_some_and(|until| until > now) {
                    continue;
                }
                let upstream: Vec<Option<Ended>> = spec_task
                    .after
                    .iter()
                    .map(|a| tasks.get(a).and_then(TaskRun::ended))
                    .collect();
                let updated = match decide(spec_task.run_if, &upstream) {
                    Decision::Wait => continue,
                    Decision::Skip { for_failure } => TaskRun {
                        state: TaskState::Skipped,
                        skipped_for_failure: for_failure,
                        message: Some(skip_reason(spec_task, for_failure)),
                        ended_at: Some(now),
                        ..task
                    },
                    Decision::Start if running >= parallelism => continue,
                    Decision::Start => {
                        let failed_upstream = upstream.iter().flatten().any(|e| e.is_failure());
                        let started =
                            start_task(conn, &run, spec_task, task, failed_upstream, now).await?;
                        step.started.push(spec_task.name.clone());
                        if started.state == TaskState::Running {
                            running += 1;
                        }
                        started
                    }
                };
                TaskRun::set(conn, run.id, &updated.task_name, updated.unchanged()).await?;
                tasks.insert(updated.task_name.clone(), updated);
                changed = true;
            }
            if !changed {
                break;
            }
        }
        // 3. The run's end, or when to look again.
        let states: Vec<Ended> = spec
            .tasks
            .iter()
            .map(|t| match tasks.get(&t.name).and_then(TaskRun::ended) {
                Some(e) => e,
                None => Ended {
                    state: TaskState::Running,
                    for_failure: false,
                },
            })
            .collect();
        match outcome(&states) {
            Some(status) => {
                let error =
                    (status == WorkflowRunStatus::Failed).then(|| failure_summary(&spec, &tasks));
                WorkflowRun::set(conn, run.id, ended_changes(&run, status, error.as_deref()))
                    .await?;
                run_ended(conn, &run, status, error.as_deref()).await?;
                WorkflowRun::wake_parent(conn, run.id).await?;
                step.status = Some(status);
            }
            None => {
                let recheck = now + ChronoDuration::from_std(RECHECK)?;
                // A running wait's end, or a pending retry's backoff.
                let next_wait = tasks
                    .values()
                    .filter(|t| !t.state.is_final())
                    .filter_map(|t| t.wait_until)
                    .min();
                let wake = next_wait.map_or(recheck, |w| w.min(recheck));
                WorkflowRun::set(
                    conn,
                    run.id,
                    WorkflowRunChangeset {
                        status: WorkflowRunStatus::Running,
                        attempt: run.attempt,
                        wake_at: Some(wake),
                        error: None,
                        ended_at: None,
                    },
                )
                .await?;
            }
        }
        Ok(step)
    })
    .await
}

/// What a run's end means beyond the run: its schedule's failure count and its
/// workflow's notification rules, in the step's transaction (so they happen exactly once
/// with the end).
async fn run_ended(
    conn: &mut AsyncPgConnection,
    run: &WorkflowRun,
    status: WorkflowRunStatus,
    error: Option<&str>,
) -> anyhow::Result<()> {
    if let Some(schedule) = run.schedule_id {
        crate::runs::outcome::record_schedule_outcome(
            conn,
            schedule,
            status == WorkflowRunStatus::Succeeded,
            status == WorkflowRunStatus::Failed,
            error,
            serde_json::json!({ "last_workflow_run_id": run.id }),
        )
        .await?;
    }
    crate::notify::enqueue_workflow_ended(conn, run, status, error).await?;
    Ok(())
}

fn ended_changes<'a>(
    run: &WorkflowRun,
    status: WorkflowRunStatus,
    error: Option<&'a str>,
) -> WorkflowRunChangeset<'a> {
    WorkflowRunChangeset {
        status,
        attempt: run.attempt,
        wake_at: None,
        error,
        ended_at: Some(run.ended_at.unwrap_or_else(Utc::now)),
    }
}

/// A task's state from its job run's last attempt.
fn job_run_end(last: &Run) -> (TaskState, Option<String>) {
    let state = match last.status {
        RunStatus::Succeeded => TaskState::Succeeded,
        RunStatus::Cancelled => TaskState::Cancelled,
        _ => TaskState::Failed,
    };
    let message = match (state, &last.error_summary) {
        (TaskState::Succeeded, _) => None,
        (_, Some(error)) => Some(format!("The job run {}: {}", last.status, clip(error))),
        (_, None) => Some(format!("The job run {}.", last.status)),
    };
    (state, message)
}

fn clip(text: &str) -> String {
    const MAX: usize = 500;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    }
}

fn skip_reason(task: &TaskSpec, for_failure: bool) -> String {
    match (task.run_if, for_failure) {
        (_, true) => "Skipped: a task it runs after did not succeed.".to_owned(),
        (hakobu_core::workflow::RunIf::Failure, false) => {
            "Skipped: it runs only when a task before it fails, and none did.".to_owned()
        }
        _ => "Skipped: a task it runs after was skipped.".to_owned(),
    }
}

fn failure_summary(spec: &WorkflowSpec, tasks: &HashMap<String, TaskRun>) -> String {
    let failed: Vec<&str> = spec
        .tasks
        .iter()
        .filter(|t| {
            tasks
                .get(&t.name)
                .is_some_and(|r| matches!(r.state, TaskState::Failed | TaskState::Cancelled))
        })
        .map(|t| t.name.as_str())
        .collect();
    format!(
        "{} did not succeed: {}. Resume the run to run {} and what follows again.",
        if failed.len() == 1 {
            "One task"
        } else {
            "Some tasks"
        },
        failed.join(", "),
        if failed.len() == 1 { "it" } else { "them" }
    )
}

/// Starts one task whose dependencies are met; answers its new row (running, or already
/// ended when it ends at its start or cannot start).
async fn start_task(
    conn: &mut AsyncPgConnection,
    run: &WorkflowRun,
    spec: &TaskSpec,
    task: TaskRun,
    failed_upstream: bool,
    now: DateTime<Utc>,
) -> anyhow::Result<TaskRun> {
    let starts = task.starts + 1;
    let running = TaskRun {
        state: TaskState::Running,
        skipped_for_failure: false,
        starts,
        started_at: Some(now),
        ended_at: None,
        message: None,
        wait_until: None,
        run_id: None,
        ..task
    };
    let failed = |running: TaskRun, message: String| TaskRun {
        state: TaskState::Failed,
        message: Some(message),
        ended_at: Some(now),
        ..running
    };
    match &spec.action {
        TaskAction::Wait { seconds } => Ok(TaskRun {
            wait_until: Some(now + ChronoDuration::seconds(i64::from(*seconds))),
            ..running
        }),
        TaskAction::WaitUntil { time, time_zone } => {
            Ok(match wait_until_moment(now, time, time_zone) {
                Some(until) => TaskRun {
                    wait_until: Some(until),
                    ..running
                },
                None => failed(
                    running,
                    format!("The time {time:?} in the time zone {time_zone:?} cannot be read."),
                ),
            })
        }
        TaskAction::Workflow { workflow_id } => {
            match start_child(conn, run, *workflow_id, &running).await? {
                Ok(child) => Ok(TaskRun {
                    child_run_id: Some(child),
                    ..running
                }),
                Err(message) => Ok(failed(running, message)),
            }
        }
        // Executed outside this transaction (`side_tasks`): only marked due here.
        TaskAction::Check { .. } | TaskAction::Http { .. } => {
            TaskRun::mark_due(conn, run.id, &spec.name, now).await?;
            Ok(running)
        }
        TaskAction::Job { job_id } => {
            let Some(job) = Job::find(conn, run.organization_id, *job_id).await? else {
                return Ok(failed(
                    running,
                    "The job this task runs no longer exists.".to_owned(),
                ));
            };
            // One key per start of the task: a second start of the same one is a no-op.
            let key = format!("workflow:{}:{}:{}:{starts}", run.id, run.attempt, spec.name);
            let as_of = run
                .resolved_inputs
                .get("as_of")
                .and_then(|v| serde_json::from_value::<DateTime<Utc>>(v.clone()).ok());
            let request = RunRequest {
                trigger: "workflow",
                triggered_by: run.triggered_by,
                idempotency_key: Some(&key),
                resolved_inputs: job_run_inputs(run, &job),
                scheduled_time: as_of,
                // The job's overlap policy holds the run in the queue rather than dropping
                // a task of the workflow.
                ignore_skip: true,
                max_attempts: spec.retries.map(|r| r as i32 + 1),
                timeout_seconds: spec.timeout_minutes.map(|m| (m * 60) as i32),
                retry_backoff_seconds: spec.retry_delay_seconds.map(|s| s as i32),
                ..Default::default()
            };
            let job_run = match runs::enqueue(conn, &job, request).await? {
                Some(job_run) => job_run,
                None => Run::by_idempotency_key(conn, run.organization_id, &key)
                    .await?
                    .ok_or_else(|| {
                        anyhow::anyhow!("the job run of task {} was not queued", spec.name)
                    })?,
            };
            Ok(TaskRun {
                run_id: Some(job_run.root_run_id),
                ..running
            })
        }
        TaskAction::Notify {
            destination_id,
            message,
        } => {
            let Some(destination) =
                Destination::find(conn, run.organization_id, *destination_id).await?
            else {
                return Ok(failed(
                    running,
                    "The notification destination of this task no longer exists.".to_owned(),
                ));
            };
            let workflow = Workflow::find(conn, run.organization_id, run.workflow_id).await?;
            let name = workflow.map(|w| w.name).unwrap_or_default();
            crate::notify::enqueue_workflow_message(
                conn,
                &destination,
                &format!("workflow:{}:{}:{}:{starts}", run.id, run.attempt, spec.name),
                &name,
                message,
                failed_upstream,
            )
            .await?;
            Ok(TaskRun {
                state: TaskState::Succeeded,
                message: Some("Handed to the notifier.".to_owned()),
                ended_at: Some(now),
                ..running
            })
        }
    }
}

/// Creates a run of `workflow` (its current spec) with every task pending, in the caller's
/// transaction; the engine starts its first tasks at its next round.
pub async fn start(
    conn: &mut AsyncPgConnection,
    workflow: &Workflow,
    trigger: &str,
    triggered_by: Option<UserId>,
    resolved_inputs: Value,
) -> anyhow::Result<WorkflowRun> {
    insert_run(
        conn,
        workflow,
        trigger,
        triggered_by,
        resolved_inputs,
        None,
        None,
    )
    .await
}

/// Creates the run a schedule's fire time starts: `as_of` is the fire time.
pub async fn start_scheduled(
    conn: &mut AsyncPgConnection,
    workflow: &Workflow,
    schedule: ScheduleId,
    at: DateTime<Utc>,
) -> anyhow::Result<WorkflowRun> {
    let inputs = serde_json::json!({ "as_of": at });
    insert_run(
        conn,
        workflow,
        "schedule",
        None,
        inputs,
        Some((schedule, at)),
        None,
    )
    .await
}

async fn insert_run(
    conn: &mut AsyncPgConnection,
    workflow: &Workflow,
    trigger: &str,
    triggered_by: Option<UserId>,
    resolved_inputs: Value,
    scheduled: Option<(ScheduleId, DateTime<Utc>)>,
    parent: Option<WorkflowRunId>,
) -> anyhow::Result<WorkflowRun> {
    let spec: WorkflowSpec = serde_json::from_value(workflow.spec.clone())?;
    let id = WorkflowRunId::new();
    let resolved_inputs = resolve_variables(&spec, workflow, id, resolved_inputs)?;
    let run = WorkflowRun::insert(
        conn,
        NewWorkflowRun {
            id,
            organization_id: workflow.organization_id,
            workflow_id: workflow.id,
            spec: workflow.spec.clone(),
            status: WorkflowRunStatus::Running,
            trigger,
            triggered_by,
            resolved_inputs,
            wake_at: Some(Utc::now()),
            schedule_id: scheduled.map(|(id, _)| id),
            scheduled_time: scheduled.map(|(_, at)| at),
            parent_run_id: parent,
        },
    )
    .await?;
    let rows: Vec<TaskRun> = spec
        .tasks
        .iter()
        .map(|t| TaskRun::pending(&run, &t.name))
        .collect();
    TaskRun::insert_all(conn, &rows).await?;
    Ok(run)
}

/// The run's inputs with its workflow variables' values (`variables`), computed once at
/// its start from its `as_of` (the start when absent): a resume reuses them.
fn resolve_variables(
    spec: &WorkflowSpec,
    workflow: &Workflow,
    id: WorkflowRunId,
    inputs: Value,
) -> anyhow::Result<Value> {
    let mut inputs = match inputs {
        Value::Object(map) => map,
        _ => Default::default(),
    };
    if spec.variables.is_empty() {
        return Ok(Value::Object(inputs));
    }
    let now = Utc::now();
    let as_of = inputs
        .get("as_of")
        .and_then(|v| serde_json::from_value::<DateTime<Utc>>(v.clone()).ok())
        .unwrap_or(now);
    let run_id = id.to_string();
    let context = RunContext {
        run_id: &run_id,
        job_name: &workflow.name,
        scheduled_time: as_of,
        start_time: now,
    };
    let values = variables::resolve_local(&spec.variables, &context, &BTreeMap::new())
        .map_err(|e| anyhow::anyhow!("workflow variable {e}"))?;
    let mine: BTreeMap<String, String> = values
        .to_map()
        .into_iter()
        .filter(|(name, _)| spec.variables.iter().any(|v| &v.name == name))
        .collect();
    inputs.insert("variables".to_owned(), serde_json::to_value(mine)?);
    Ok(Value::Object(inputs))
}

/// What a job task's run starts with: the workflow's `as_of`, and the workflow variables
/// the job defines too as overrides of the job's own values (a job refuses an override of
/// a variable it does not define, and could not use one anyway).
fn job_run_inputs(run: &WorkflowRun, job: &Job) -> Value {
    let mut inputs = serde_json::Map::new();
    if let Some(as_of) = run.resolved_inputs.get("as_of") {
        inputs.insert("as_of".to_owned(), as_of.clone());
    }
    let defined: Vec<String> = serde_json::from_value::<JobSettings>(job.settings.clone())
        .map(|s| s.variables.into_iter().map(|v| v.name).collect())
        .unwrap_or_default();
    let overrides: serde_json::Map<String, Value> = run
        .resolved_inputs
        .get("variables")
        .and_then(Value::as_object)
        .map(|values| {
            values
                .iter()
                .filter(|(name, _)| defined.contains(name))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    if !overrides.is_empty() {
        inputs.insert("overrides".to_owned(), Value::Object(overrides));
    }
    Value::Object(inputs)
}

/// Why a cancel or a resume was refused.
#[derive(Debug)]
pub enum Refused {
    NotFound,
    /// The run's status does not allow it; the message says why, in plain words.
    Conflict(String),
}

/// Cancels a running workflow run: its pending and running tasks become cancelled in one
/// transaction, then each running job run is cancelled as a user's cancel would (a queued
/// one ends at once, a running one's runner is stopped and rolls back).
pub async fn cancel(
    conn: &mut AsyncPgConnection,
    launcher: &dyn Launcher,
    org: OrganizationId,
    id: WorkflowRunId,
) -> anyhow::Result<Result<(), Refused>> {
    let roots = conn
        .transaction::<_, anyhow::Error, _>(async |conn| {
            let Some(run) = WorkflowRun::lock(conn, org, id).await? else {
                return Ok(Err(Refused::NotFound));
            };
            if run.status != WorkflowRunStatus::Running {
                return Ok(Err(Refused::Conflict(format!(
                    "This workflow run has already ended ({}).",
                    run.status
                ))));
            }
            let now = Utc::now();
            let mut roots: Vec<RunId> = Vec::new();
            let mut children: Vec<WorkflowRunId> = Vec::new();
            for task in TaskRun::of_run(conn, org, id).await? {
                if task.state.is_final() {
                    continue;
                }
                if task.state == TaskState::Running
                    && let Some(root) = task.run_id
                {
                    roots.push(root);
                }
                if task.state == TaskState::Running
                    && let Some(child) = task.child_run_id
                {
                    children.push(child);
                }
                let changes = TaskRunChangeset {
                    state: TaskState::Cancelled,
                    message: Some("Cancelled with the workflow run."),
                    ended_at: Some(now),
                    ..task.unchanged()
                };
                TaskRun::set(conn, id, &task.task_name, changes).await?;
            }
            WorkflowRun::set(
                conn,
                id,
                ended_changes(&run, WorkflowRunStatus::Cancelled, Some("Cancelled.")),
            )
            .await?;
            // A cancel is a failure to the workflow's rules, as a cancelled job run is.
            crate::notify::enqueue_workflow_ended(
                conn,
                &run,
                WorkflowRunStatus::Cancelled,
                Some("Cancelled."),
            )
            .await?;
            // A child run cancelled on its own is a cancelled task to its parent.
            WorkflowRun::wake_parent(conn, id).await?;
            Ok(Ok((roots, children)))
        })
        .await?;
    let (roots, children) = match roots {
        Ok(found) => found,
        Err(refused) => return Ok(Err(refused)),
    };
    // The child runs after the parent's transaction, as the job runs: a child locks its
    // row, then its parent's, never the other way round. One that ended meanwhile is left.
    for child in children {
        let _ended_meanwhile = Box::pin(cancel(conn, launcher, org, child)).await?;
    }
    // Each job run in a transaction of its own, after the workflow's: a job run ending
    // meanwhile locks its run row, then the workflow run's, never the other way round.
    for root in roots {
        if let Some(last) = Run::last_attempt(conn, root).await?
            && !last.status.is_final()
        {
            Run::request_cancel(conn, last.id).await?;
            runs::stop_cancelled(conn, launcher, &last).await?;
        }
    }
    Ok(Ok(()))
}

/// Resumes a failed or cancelled run: the tasks that failed, were cancelled or were
/// skipped because of a failure, and every task after them, become pending again; the
/// succeeded ones stay. The run's attempt counts the resume.
pub async fn resume(
    conn: &mut AsyncPgConnection,
    org: OrganizationId,
    id: WorkflowRunId,
) -> anyhow::Result<Result<Vec<String>, Refused>> {
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let Some(run) = WorkflowRun::lock(conn, org, id).await? else {
            return Ok(Err(Refused::NotFound));
        };
        match run.status {
            WorkflowRunStatus::Running => {
                return Ok(Err(Refused::Conflict(
                    "This workflow run is still running; cancel it first, or wait for its end."
                        .to_owned(),
                )));
            }
            WorkflowRunStatus::Succeeded => {
                return Ok(Err(Refused::Conflict(
                    "Every task of this run succeeded: nothing to resume. Start a new run to run them again."
                        .to_owned(),
                )));
            }
            WorkflowRunStatus::Failed | WorkflowRunStatus::Cancelled => {}
        }
        let spec: WorkflowSpec = serde_json::from_value(run.spec.clone())?;
        let tasks = TaskRun::of_run(conn, org, id).await?;
        let states: BTreeMap<String, Ended> = tasks
            .iter()
            .map(|t| {
                let ended = t.ended().unwrap_or(Ended {
                    state: t.state,
                    for_failure: false,
                });
                (t.task_name.clone(), ended)
            })
            .collect();
        let again = resume_set(&spec, &states);
        for task in tasks.iter().filter(|t| again.contains(&t.task_name)) {
            let changes = TaskRunChangeset {
                state: TaskState::Pending,
                skipped_for_failure: false,
                run_id: None,
                starts: task.starts,
                wait_until: None,
                message: None,
                started_at: None,
                ended_at: None,
                // Kept: the task's start resumes its failed child run.
                child_run_id: task.child_run_id,
                failed_attempts: 0,
            };
            TaskRun::set(conn, id, &task.task_name, changes).await?;
        }
        WorkflowRun::set(
            conn,
            id,
            WorkflowRunChangeset {
                status: WorkflowRunStatus::Running,
                attempt: run.attempt + 1,
                wake_at: Some(Utc::now()),
                error: None,
                ended_at: None,
            },
        )
        .await?;
        Ok(Ok(again.into_iter().collect()))
    })
    .await
}

/// The run with its tasks in the spec's order.
pub async fn view(
    conn: &mut AsyncPgConnection,
    run: &WorkflowRun,
) -> anyhow::Result<WorkflowRunView> {
    let spec: WorkflowSpec = serde_json::from_value(run.spec.clone())?;
    let mut tasks: HashMap<String, TaskRun> = TaskRun::of_run(conn, run.organization_id, run.id)
        .await?
        .into_iter()
        .map(|t| (t.task_name.clone(), t))
        .collect();
    let views = spec
        .tasks
        .iter()
        .filter_map(|t| tasks.remove(&t.name))
        .map(|t| TaskRunView {
            name: t.task_name,
            state: t.state,
            skipped_for_failure: t.skipped_for_failure,
            run_id: t.run_id,
            workflow_run_id: t.child_run_id,
            starts: t.starts,
            message: t.message,
            started_at: t.started_at,
            ended_at: t.ended_at,
        })
        .collect();
    Ok(WorkflowRunView {
        id: run.id,
        workflow_id: run.workflow_id,
        status: run.status,
        attempt: run.attempt,
        trigger: run.trigger.clone(),
        triggered_by: run.triggered_by,
        error: run.error.clone(),
        created_at: run.created_at,
        ended_at: run.ended_at,
        spec,
        tasks: views,
    })
}

/// A task's end as the engine records it: a failed attempt of a task the engine retries
/// itself (`TaskSpec::engine_retry_after`) goes back to pending with `wait_until` at the
/// end of its backoff, counted in `failed_attempts`; anything else is the task's end.
fn retry_or_end(
    spec: &TaskSpec,
    task: TaskRun,
    state: TaskState,
    message: Option<String>,
    now: DateTime<Utc>,
) -> TaskRun {
    let failed_attempts = task.failed_attempts.max(0) as u32 + 1;
    if state == TaskState::Failed
        && let Some(delay) = spec.engine_retry_after(failed_attempts)
    {
        let at = now + ChronoDuration::seconds(i64::from(delay));
        let why = message.unwrap_or_else(|| "no reason given".to_owned());
        return TaskRun {
            state: TaskState::Pending,
            failed_attempts: failed_attempts as i32,
            wait_until: Some(at),
            ended_at: None,
            message: Some(format!(
                "Attempt {failed_attempts} failed ({why}); the next one starts {delay} seconds later, at {}.",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )),
            ..task
        };
    }
    TaskRun {
        state,
        message,
        ended_at: Some(now),
        ..task
    }
}

/// How a workflow task's child run ended, or `None` while it runs.
async fn child_end(
    conn: &mut AsyncPgConnection,
    run: &WorkflowRun,
    task: &TaskRun,
) -> anyhow::Result<Option<(TaskState, Option<String>)>> {
    let Some(child) = task.child_run_id else {
        return Ok(Some((
            TaskState::Failed,
            Some("This task lost its workflow run.".to_owned()),
        )));
    };
    let Some(child) = WorkflowRun::find(conn, run.organization_id, child).await? else {
        return Ok(Some((
            TaskState::Failed,
            Some("The workflow run of this task no longer exists.".to_owned()),
        )));
    };
    Ok(match child.status {
        WorkflowRunStatus::Running => None,
        WorkflowRunStatus::Succeeded => Some((TaskState::Succeeded, None)),
        WorkflowRunStatus::Failed => Some((
            TaskState::Failed,
            Some(match &child.error {
                Some(error) => format!("The workflow run failed: {}", clip(error)),
                None => "The workflow run failed.".to_owned(),
            }),
        )),
        WorkflowRunStatus::Cancelled => Some((
            TaskState::Cancelled,
            Some("The workflow run was cancelled.".to_owned()),
        )),
    })
}

/// Starts (or, for a retry or a resume, resumes) the child run of a workflow task, in the
/// parent's step: answers the child run, or why the task fails at once (the workflow is
/// gone, the nesting loops or goes too deep since it was saved, or the person who started
/// the parent may no longer run it).
async fn start_child(
    conn: &mut AsyncPgConnection,
    run: &WorkflowRun,
    workflow_id: hakobu_core::ids::WorkflowId,
    task: &TaskRun,
) -> anyhow::Result<Result<WorkflowRunId, String>> {
    use hakobu_core::workflow::nesting::{MAX_NESTING_DEPTH, check_ancestry};
    let Some(workflow) = Workflow::find(conn, run.organization_id, workflow_id).await? else {
        return Ok(Err(
            "The workflow this task runs no longer exists.".to_owned()
        ));
    };
    let ancestors = WorkflowRun::ancestry(conn, run, MAX_NESTING_DEPTH + 2).await?;
    if let Err(message) = check_ancestry(workflow_id, &ancestors, &workflow.name) {
        return Ok(Err(message));
    }
    let previous = match task.child_run_id {
        Some(id) => WorkflowRun::find(conn, run.organization_id, id)
            .await?
            .filter(|p| p.workflow_id == workflow_id),
        None => None,
    };
    if let Some(previous) = previous {
        match previous.status {
            // Resumed by hand meanwhile, or it succeeded since: follow it.
            WorkflowRunStatus::Running | WorkflowRunStatus::Succeeded => {
                return Ok(Ok(previous.id));
            }
            WorkflowRunStatus::Failed | WorkflowRunStatus::Cancelled => {
                if let Err(message) = may_run_child(conn, run, &workflow, &previous.spec).await? {
                    return Ok(Err(message));
                }
                return Ok(
                    match resume(conn, run.organization_id, previous.id).await? {
                        Ok(_) => Ok(previous.id),
                        Err(Refused::Conflict(message)) => Err(message),
                        Err(Refused::NotFound) => {
                            Err("The workflow run of this task no longer exists.".to_owned())
                        }
                    },
                );
            }
        }
    }
    if let Err(message) = may_run_child(conn, run, &workflow, &workflow.spec).await? {
        return Ok(Err(message));
    }
    let mut inputs = serde_json::Map::new();
    if let Some(as_of) = run.resolved_inputs.get("as_of") {
        inputs.insert("as_of".to_owned(), as_of.clone());
    }
    let child = insert_run(
        conn,
        &workflow,
        "workflow",
        run.triggered_by,
        Value::Object(inputs),
        None,
        Some(run.id),
    )
    .await?;
    Ok(Ok(child.id))
}

/// Whether the person who started `run` may still run `workflow` with the tasks of
/// `spec` (the child run's): the operator role or more on the workflow's team and on
/// every job it runs, as at a manual start. A run a schedule started has no person: the
/// schedule's editors chose its tasks, as for its job tasks.
async fn may_run_child(
    conn: &mut AsyncPgConnection,
    run: &WorkflowRun,
    workflow: &Workflow,
    spec: &Value,
) -> anyhow::Result<Result<(), String>> {
    use crate::models::team::TeamMember;
    use crate::models::user::User;
    use hakobu_core::authz::{self, Action, Principal, Target};
    let Some(user) = run.triggered_by else {
        return Ok(Ok(()));
    };
    let refuse = |why: String| {
        Err(format!(
            "The workflow \"{}\" cannot run for the person who started this run: {why}",
            workflow.name
        ))
    };
    let Some(user) = User::find(conn, run.organization_id, user).await? else {
        return Ok(refuse(
            "they are no longer a member of the organization.".to_owned(),
        ));
    };
    let principal = Principal {
        org_role: user.org_role,
        team_roles: TeamMember::roles_of(conn, user.id).await?,
    };
    let allowed = |owner, shares: &[_]| {
        matches!(
            authz::authorize(
                &principal,
                Action::UseResource,
                Target::Resource { owner, shares }
            ),
            authz::Decision::Allow
        )
    };
    if !allowed(workflow.team_id, &[]) {
        return Ok(refuse(
            "their role on its team does not allow running it (operator or more).".to_owned(),
        ));
    }
    let spec: WorkflowSpec = serde_json::from_value(spec.clone())?;
    for (field, job_id) in spec.job_references() {
        // A job gone since fails its own task, with its own message.
        let Some(job) = Job::find(conn, run.organization_id, job_id).await? else {
            continue;
        };
        let shares = Job::shares(conn, run.organization_id, job_id).await?;
        if !allowed(job.team_id, &shares) {
            return Ok(refuse(format!(
                "their role does not allow running the job \"{}\" ({field}).",
                job.name
            )));
        }
    }
    Ok(Ok(()))
}
