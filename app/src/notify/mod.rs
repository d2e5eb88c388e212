//! Notifications: which events happened, which rules they match, and the outbox rows that
//! carry them to the notifier.
//!
//! Events are written by [`enqueue_event`] inside the transaction of the state change that
//! caused them (a run's end in `runs::finish`, a schedule disabled by the scheduler), so an
//! event exists exactly when its cause was committed. Each (rule, occurrence) has a dedupe
//! key, so a second write of the same occurrence (a duration rule seen by two replicas, a
//! repeated result report) is a no-op. [`deliver::Notifier`] delivers the rows. A
//! workflow run's end is [`enqueue_workflow_ended`], in the engine's step that ends it.

pub mod deliver;
pub mod render;

use crate::models::destination::Destination;
use crate::models::job::Job;
use crate::models::notification_outbox::{NewOutboxEntry, OutboxEntry};
use crate::models::notification_rule::NotificationRule;
use crate::models::run::Run;
use crate::models::run_check::RunCheck;
use crate::models::workflow::{Workflow, WorkflowRun};
use crate::schema::{notification_rules, runs};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::notifications::{DeliveryStatus, NotificationEventKind};
use hakobu_core::api::runs::RunStatus;
use hakobu_core::ids::{
    JobId, NotificationEventId, OrganizationId, RunId, WorkflowId, WorkflowRunId,
};
use hakobu_core::job::checks::CheckOutcome;
use hakobu_core::workflow::WorkflowRunStatus;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Something that may deserve a notification.
#[derive(Debug, Clone)]
pub enum NotificationEvent {
    /// A run reached a final status (succeeded, failed, timed out, cancelled). Its row,
    /// counts and check results are read in the caller's transaction.
    RunEnded { run_id: RunId },
    /// A run is still going past a `duration_over` threshold (the notifier's sweep).
    RunOverdue { run_id: RunId },
    /// The scheduler disabled a schedule after repeated failures.
    ScheduleDisabled {
        organization_id: OrganizationId,
        /// The job of the schedule; none for a workflow's schedule.
        job_id: Option<JobId>,
        /// The schedule's id, for the message and the webhook payload.
        schedule_id: uuid::Uuid,
        /// How the schedule reads, e.g. `daily at 02:30 (Europe/Berlin)`.
        schedule: String,
        consecutive_failures: u32,
    },
}

/// What a message is rendered from; stored on the outbox row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventContext {
    pub event: Option<NotificationEventKind>,
    pub job_id: Option<JobId>,
    pub job_name: String,
    pub run_id: Option<RunId>,
    pub status: String,
    pub rows: i64,
    pub duration_seconds: i64,
    pub error: String,
    /// The rule's threshold (rows, or seconds for `duration_over`).
    pub threshold: Option<i64>,
    pub checks: Vec<CheckLine>,
    pub schedule: Option<String>,
    pub schedule_id: Option<uuid::Uuid>,
    pub consecutive_failures: Option<u32>,
    /// The run's resolved variable values.
    pub variables: Map<String, Value>,
    pub organization_id: Option<OrganizationId>,
    /// The message of a workflow's notify task (a template like a rule's), used when the
    /// row has no rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// A workflow run's end: the workflow and the run (`job_name` holds the workflow's
    /// name, so templates read the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<WorkflowId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run_id: Option<WorkflowRunId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckLine {
    pub name: String,
    pub outcome: CheckOutcome,
    pub actual: Option<String>,
    pub operator: String,
    pub expected: String,
    pub message: Option<String>,
}

impl EventContext {
    fn of_run(run: &Run, job_name: &str, checks: &[RunCheck], now: DateTime<Utc>) -> Self {
        let started = run.started_at.unwrap_or(run.queued_at);
        let ended = run.finished_at.unwrap_or(now);
        EventContext {
            event: None,
            job_id: Some(run.job_id),
            job_name: job_name.to_owned(),
            run_id: Some(run.id),
            status: run.status.to_string(),
            rows: run.rows_written,
            duration_seconds: (ended - started).num_seconds().max(0),
            error: run.error_summary.clone().unwrap_or_default(),
            threshold: None,
            checks: checks
                .iter()
                .map(|c| CheckLine {
                    name: c.name.clone(),
                    outcome: c.outcome,
                    actual: c.actual.clone(),
                    operator: c.operator.clone(),
                    expected: c.expected.clone(),
                    message: c.message.clone(),
                })
                .collect(),
            schedule: None,
            schedule_id: None,
            consecutive_failures: None,
            // The values resolved for this run (built-ins included), not the request's inputs.
            variables: run
                .resolved_inputs
                .get("variables")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            organization_id: Some(run.organization_id),
            template: None,
            workflow_id: None,
            workflow_run_id: None,
        }
    }
}

/// Writes an outbox row for every enabled rule the event matches, in the caller's
/// transaction. Rules of the job win; the organization's defaults apply to events the
/// job has no rule for. Safe to call twice for the same occurrence.
pub async fn enqueue_event(
    conn: &mut AsyncPgConnection,
    event: NotificationEvent,
) -> QueryResult<()> {
    match event {
        NotificationEvent::RunEnded { run_id } => run_ended(conn, run_id).await,
        NotificationEvent::RunOverdue { run_id } => run_overdue(conn, run_id).await,
        NotificationEvent::ScheduleDisabled {
            organization_id,
            job_id,
            schedule_id,
            schedule,
            consecutive_failures,
        } => {
            // A workflow's schedule: the workflow's rules are asked about its runs' ends
            // only (`WorkflowEnded`); a disabled workflow schedule shows on its page.
            let Some(job_id) = job_id else {
                return Ok(());
            };
            let Some(job) = Job::find(conn, organization_id, job_id).await? else {
                return Ok(());
            };
            let context = EventContext {
                job_id: Some(job.id),
                job_name: job.name.clone(),
                status: "schedule disabled".to_owned(),
                error: format!(
                    "The schedule {schedule} was disabled after {consecutive_failures} failed runs in a row."
                ),
                schedule: Some(schedule),
                schedule_id: Some(schedule_id),
                consecutive_failures: Some(consecutive_failures),
                organization_id: Some(organization_id),
                ..Default::default()
            };
            // Each disabling is its own occurrence: a schedule re-enabled and disabled
            // again notifies again.
            let occurrence = format!("schedule:{schedule_id}:{}", uuid::Uuid::new_v4());
            let rules = NotificationRule::for_job(conn, organization_id, job.id).await?;
            for rule in
                NotificationRule::pick(&rules, job.id, NotificationEventKind::ScheduleDisabled)
            {
                write(conn, rule, &context, None, &occurrence).await?;
            }
            Ok(())
        }
    }
}

async fn run_ended(conn: &mut AsyncPgConnection, run_id: RunId) -> QueryResult<()> {
    let Some(run) = Run::find_any(conn, run_id).await? else {
        return Ok(());
    };
    if !run.status.is_final() {
        return Ok(());
    }
    let Some(job) = Job::find(conn, run.organization_id, run.job_id).await? else {
        return Ok(());
    };
    let checks = RunCheck::for_run(conn, run.id).await?;
    let context = EventContext::of_run(&run, &job.name, &checks, Utc::now());
    // A failed attempt that will be retried is not yet a failure worth a message.
    let retry_follows: bool = diesel::select(diesel::dsl::exists(
        runs::table
            .filter(runs::root_run_id.eq(run.root_run_id))
            .filter(runs::attempt.gt(run.attempt)),
    ))
    .get_result(conn)
    .await?;
    let succeeded = run.status == RunStatus::Succeeded;
    let ended_badly = matches!(
        run.status,
        RunStatus::Failed | RunStatus::TimedOut | RunStatus::Cancelled
    );
    let occurrence = format!("run:{}", run.id);
    let rules = NotificationRule::for_job(conn, run.organization_id, run.job_id).await?;
    for kind in NotificationEventKind::ALL {
        for rule in NotificationRule::pick(&rules, run.job_id, kind) {
            let threshold = rule.threshold.unwrap_or(0);
            let fires = match kind {
                NotificationEventKind::Success => succeeded,
                NotificationEventKind::Failure => ended_badly && !retry_follows,
                NotificationEventKind::RowsBelow => succeeded && run.rows_written < threshold,
                NotificationEventKind::RowsAbove => succeeded && run.rows_written > threshold,
                // The sweep usually fired it while the run went on; this catches a run that
                // ended before the sweep saw it (same dedupe key: still once).
                NotificationEventKind::DurationOver => context.duration_seconds > threshold,
                NotificationEventKind::CheckFailed => {
                    checks.iter().any(|c| c.outcome == CheckOutcome::Failed)
                }
                NotificationEventKind::CheckWarned => {
                    checks.iter().any(|c| c.outcome == CheckOutcome::Warned)
                }
                NotificationEventKind::ScheduleDisabled => false,
            };
            if fires {
                write(conn, rule, &context, Some(run.id), &occurrence).await?;
            }
        }
    }
    Ok(())
}

async fn run_overdue(conn: &mut AsyncPgConnection, run_id: RunId) -> QueryResult<()> {
    let Some(run) = Run::find_any(conn, run_id).await? else {
        return Ok(());
    };
    if run.status.is_final() {
        return Ok(());
    }
    let Some(job) = Job::find(conn, run.organization_id, run.job_id).await? else {
        return Ok(());
    };
    let context = EventContext::of_run(&run, &job.name, &[], Utc::now());
    let rules = NotificationRule::for_job(conn, run.organization_id, run.job_id).await?;
    let occurrence = format!("run:{}", run.id);
    for rule in NotificationRule::pick(&rules, run.job_id, NotificationEventKind::DurationOver) {
        if context.duration_seconds > rule.threshold.unwrap_or(0) {
            write(conn, rule, &context, Some(run.id), &occurrence).await?;
        }
    }
    Ok(())
}

/// Outbox rows for the workflow's enabled rules that `run`'s end as `status` matches (`success` when
/// it succeeded, `failure` when it failed or was cancelled), in the caller's transaction
/// (the one that ends the run). The organization's defaults are rules for jobs: they do
/// not apply. Each attempt (a resume) is its own occurrence; the same attempt ended twice
/// writes once.
pub async fn enqueue_workflow_ended(
    conn: &mut AsyncPgConnection,
    run: &WorkflowRun,
    status: WorkflowRunStatus,
    error: Option<&str>,
) -> QueryResult<()> {
    let succeeded = match status {
        WorkflowRunStatus::Succeeded => true,
        WorkflowRunStatus::Failed | WorkflowRunStatus::Cancelled => false,
        WorkflowRunStatus::Running => return Ok(()),
    };
    let rules = NotificationRule::for_workflow(conn, run.organization_id, run.workflow_id).await?;
    let event = if succeeded {
        NotificationEventKind::Success
    } else {
        NotificationEventKind::Failure
    };
    if !rules.iter().any(|r| r.enabled && r.event == event) {
        return Ok(());
    }
    let Some(workflow) = Workflow::find(conn, run.organization_id, run.workflow_id).await? else {
        return Ok(());
    };
    let ended = run.ended_at.unwrap_or_else(Utc::now);
    let context = EventContext {
        job_name: workflow.name.clone(),
        status: status.to_string(),
        duration_seconds: (ended - run.created_at).num_seconds().max(0),
        error: error.unwrap_or_default().to_owned(),
        variables: run
            .resolved_inputs
            .get("variables")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        organization_id: Some(run.organization_id),
        workflow_id: Some(workflow.id),
        workflow_run_id: Some(run.id),
        ..Default::default()
    };
    let occurrence = format!("workflow_run:{}:{}", run.id, run.attempt);
    for rule in rules.iter().filter(|r| r.enabled && r.event == event) {
        write(conn, rule, &context, None, &occurrence).await?;
    }
    Ok(())
}

/// The outbox row of a workflow's notify task: `message` (the rule's default for the
/// event when empty) to `destination`, once per `occurrence`. `failed_upstream` makes it
/// a failure event (for webhook payloads and the default message).
pub async fn enqueue_workflow_message(
    conn: &mut AsyncPgConnection,
    destination: &Destination,
    occurrence: &str,
    workflow_name: &str,
    message: &str,
    failed_upstream: bool,
) -> QueryResult<bool> {
    let event = if failed_upstream {
        NotificationEventKind::Failure
    } else {
        NotificationEventKind::Success
    };
    let context = EventContext {
        event: Some(event),
        job_name: workflow_name.to_owned(),
        status: if failed_upstream {
            "failed"
        } else {
            "succeeded"
        }
        .to_owned(),
        organization_id: Some(destination.organization_id),
        template: (!message.trim().is_empty()).then(|| message.to_owned()),
        ..Default::default()
    };
    let (status, error) = if destination.confirmed() {
        (DeliveryStatus::Pending, None)
    } else {
        (
            DeliveryStatus::Skipped,
            Some("The email address has not been confirmed yet: nothing was sent."),
        )
    };
    OutboxEntry::insert_once(
        conn,
        NewOutboxEntry {
            id: NotificationEventId::new(),
            organization_id: destination.organization_id,
            rule_id: None,
            destination_id: destination.id,
            job_id: None,
            run_id: None,
            event,
            dedupe_key: occurrence,
            context: serde_json::to_value(&context).unwrap_or(Value::Null),
            status,
            last_error: error,
        },
    )
    .await
}

/// One outbox row for `rule`; unconfirmed email addresses get a `skipped` row, so the
/// notification is visible rather than silently lost.
async fn write(
    conn: &mut AsyncPgConnection,
    rule: &NotificationRule,
    context: &EventContext,
    run: Option<RunId>,
    occurrence: &str,
) -> QueryResult<bool> {
    let Some(destination) =
        Destination::find(conn, rule.organization_id, rule.destination_id).await?
    else {
        return Ok(false);
    };
    let mut context = context.clone();
    context.event = Some(rule.event);
    context.threshold = rule.threshold;
    let (status, error) = if destination.confirmed() {
        (DeliveryStatus::Pending, None)
    } else {
        (
            DeliveryStatus::Skipped,
            Some("The email address has not been confirmed yet: nothing was sent."),
        )
    };
    let dedupe_key = format!("{}:{}:{occurrence}", rule.id, rule.event);
    OutboxEntry::insert_once(
        conn,
        NewOutboxEntry {
            id: NotificationEventId::new(),
            organization_id: rule.organization_id,
            rule_id: Some(rule.id),
            destination_id: rule.destination_id,
            job_id: context.job_id,
            run_id: run,
            event: rule.event,
            dedupe_key: &dedupe_key,
            context: serde_json::to_value(&context).unwrap_or(Value::Null),
            status,
            last_error: error,
        },
    )
    .await
}

/// Writes `duration_over` events for runs still going past a rule's threshold. Answers
/// how many runs it looked at. Cheap when no organization has such a rule.
pub async fn sweep_overdue_runs(conn: &mut AsyncPgConnection) -> QueryResult<usize> {
    let orgs: Vec<OrganizationId> = notification_rules::table
        .filter(notification_rules::event.eq(NotificationEventKind::DurationOver))
        .filter(notification_rules::enabled.eq(true))
        .select(notification_rules::organization_id)
        .distinct()
        .load(conn)
        .await?;
    if orgs.is_empty() {
        return Ok(0);
    }
    let active: Vec<RunId> = runs::table
        .filter(runs::organization_id.eq_any(orgs))
        .filter(runs::status.eq_any([RunStatus::Starting, RunStatus::Running]))
        .select(runs::id)
        .load(conn)
        .await?;
    for run in &active {
        run_overdue(conn, *run).await?;
    }
    Ok(active.len())
}
