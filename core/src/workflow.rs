//! Workflows: a graph of tasks (run a job, wait, notify, check data, send an HTTP request)
//! that run after each other, and
//! the rules the engine follows, kept here without I/O so they are tested as plain
//! functions and the browser can check a workflow as it is edited.
//!
//! - [`WorkflowSpec::validate`] names every problem with its field path (`tasks[2].after[0]`):
//!   an empty workflow, too many tasks, duplicate names, a task after itself, unknown
//!   task references and cycles (the cycle is spelled out).
//! - [`decide`] says what a pending task does once its upstream tasks have ended: start,
//!   wait, or be skipped (and whether the skip is because of a failure).
//! - [`resume_set`] picks the tasks a resume runs again: those that failed, were
//!   cancelled or were skipped because of a failure, and everything downstream of them.
//! - [`outcome`] says how a workflow run ended once every task has.
//! - [`layout`] places the tasks for drawing the graph (the web page's SVG).
//! - [`time_of_day`] computes when a `wait_until` task's wait ends, [`nesting`] keeps
//!   workflows that run workflows finite, and `crate::retry` spaces a task's retries.

use crate::http::HttpHeader;
use crate::ids::{ConnectionId, DestinationId, JobId, WorkflowId};
use crate::job::OverlapPolicy;
use crate::job::checks::CheckOperator;
use crate::validation::{FieldErrors, check_text};
use crate::variables::{Variable, VariableValue};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

/// A workflow has at most this many tasks.
pub const MAX_TASKS: usize = 100;
/// Longest task name, in characters.
pub const TASK_NAME_MAX_CHARS: usize = 100;
/// Most tasks of one workflow run that may run at once.
pub const MAX_PARALLELISM: u32 = 50;
/// Longest wait: a week.
pub const MAX_WAIT_SECONDS: u32 = 7 * 86_400;
/// Most retries of one task.
pub const MAX_RETRIES: u32 = 10;
/// Longest task timeout: a week, in minutes.
pub const MAX_TIMEOUT_MINUTES: u32 = 7 * 24 * 60;
/// Longest notification message, in characters.
pub const MESSAGE_MAX_CHARS: usize = 2_000;

fn default_parallelism() -> u32 {
    4
}

/// What a workflow runs: its tasks and how many may run at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    /// Most tasks running at once (1 to 50; 4 when absent). The organization's run limits
    /// apply to the job runs on top of it.
    #[serde(default = "default_parallelism")]
    pub parallelism: u32,
    /// What a schedule's fire time does while a run of the workflow is still going:
    /// `allow` (the default) starts another run, `skip` skips the fire time. `queue` is not
    /// available for workflows. A manual start always starts.
    #[serde(default = "default_overlap", skip_serializing_if = "is_allow")]
    pub overlap: OverlapPolicy,
    /// Values computed once per run (a text, or a time from the run's `as_of`) and given
    /// to every job task: a job variable of the same name takes the workflow's value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<Variable>,
    pub tasks: Vec<TaskSpec>,
}

fn default_overlap() -> OverlapPolicy {
    OverlapPolicy::Allow
}

fn is_allow(overlap: &OverlapPolicy) -> bool {
    *overlap == OverlapPolicy::Allow
}

/// One task: what it does, after which tasks, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Unique in the workflow; other tasks name it in `after`.
    pub name: String,
    pub action: TaskAction,
    /// The tasks that must end before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// When the task runs once the tasks in `after` have ended.
    #[serde(default)]
    pub run_if: RunIf,
    /// Attempts after a failed one (a job's own retry policy when absent; none for a
    /// check or HTTP task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// Minutes after which a job run is stopped (the job's own timeout when absent); for a
    /// check or HTTP task, how long one attempt may take (at most an hour; a minute when
    /// absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_minutes: Option<u32>,
    /// Seconds before the first retry, doubled at each further one up to a day (1 to
    /// 86400). For a job task, the backoff of its job run's retries (the job's own
    /// `retry.backoff_seconds` when absent); for a task the engine retries itself
    /// (another workflow), 60 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay_seconds: Option<u32>,
}

impl TaskSpec {
    /// The pause before the engine starts this task again after its `failed_attempts`-th
    /// failed attempt, or `None` when no retry is left (job tasks are retried by their
    /// job run instead: see [`TaskAction::retried_by_engine`]).
    pub fn engine_retry_after(&self, failed_attempts: u32) -> Option<u32> {
        if !self.action.retried_by_engine() {
            return None;
        }
        crate::retry::next_retry(
            self.retries.unwrap_or(0),
            self.retry_delay_seconds
                .unwrap_or(crate::retry::DEFAULT_RETRY_DELAY_SECONDS),
            failed_attempts,
        )
    }
}

/// What a task does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskAction {
    /// Run a transfer or data mart job of the organization and wait for its end.
    Job { job_id: JobId },
    /// Wait this many seconds.
    Wait { seconds: u32 },
    /// Wait until the clocks of a time zone show a time of day: the first such moment
    /// at or after the task starts (see [`time_of_day`]).
    WaitUntil {
        /// `HH:MM` on a 24-hour clock, such as `09:30`.
        time: String,
        /// An IANA time zone name, such as `Asia/Tokyo` or `UTC`.
        time_zone: String,
    },
    /// Run another workflow of the organization and wait for its end; the task ends as
    /// that run does.
    Workflow { workflow_id: WorkflowId },
    /// Send a message through a notification destination of the organization.
    Notify {
        destination_id: DestinationId,
        #[serde(default)]
        message: String,
    },
    /// Run a query that returns one value on a database or data warehouse connection of the
    /// organization and compare the value with an expected one: the task succeeds when
    /// the check holds (`side_tasks.rs` in the app; docs/workflows.md).
    Check {
        /// A PostgreSQL, MySQL, BigQuery or Snowflake connection the workflow's team may use (operator or more).
        connection_id: ConnectionId,
        /// One SELECT (or WITH ... SELECT) returning one row with one column.
        sql: String,
        operator: CheckOperator,
        /// Compared as numbers when both sides are numbers, else as text.
        expected: String,
        /// Whether a NULL (or no row at all) counts as a pass.
        #[serde(default)]
        null_passes: bool,
    },
    /// Send an HTTP request through the organization's egress policy: the task succeeds
    /// when the answer's status is the expected one (any 2xx when none is given).
    Http {
        method: HttpMethod,
        /// `http://` or `https://`.
        url: String,
        /// Sent as given; a `secret` header's value is write-only (never shown again).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        headers: Vec<HttpHeader>,
        /// Sent as it is (set a `Content-Type` header to say what it is).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        body: String,
        /// The one status that counts as success (100 to 599); any 2xx when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect_status: Option<u16>,
    },
}

/// The method of an HTTP task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }
}

/// Whether an HTTP task's answer status is a success: the expected one, or any 2xx.
pub fn http_status_passes(expect_status: Option<u16>, status: u16) -> bool {
    match expect_status {
        Some(expected) => status == expected,
        None => (200..300).contains(&status),
    }
}

/// Header names an HTTP task may not set: the exchange's own, and the idempotency key
/// the engine sends itself.
pub const HTTP_RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "idempotency-key",
];
/// Longest body of an HTTP task, in bytes.
pub const HTTP_BODY_MAX_BYTES: usize = 64 * 1024;
/// Longest query of a check task, in characters.
pub const CHECK_SQL_MAX_CHARS: usize = 100_000;
/// Longest timeout of a check or HTTP task, in minutes: these run in a probe worker, not
/// a runner (a task waiting longer than this is a job's work).
pub const MAX_SIDE_TASK_TIMEOUT_MINUTES: u32 = 60;

impl TaskAction {
    pub fn kind(&self) -> &'static str {
        match self {
            TaskAction::Job { .. } => "job",
            TaskAction::Wait { .. } => "wait",
            TaskAction::WaitUntil { .. } => "wait_until",
            TaskAction::Notify { .. } => "notify",
            TaskAction::Workflow { .. } => "workflow",
            TaskAction::Check { .. } => "check",
            TaskAction::Http { .. } => "http",
        }
    }

    /// A check or an HTTP request: executed by the app's side-task worker through a probe
    /// worker, outside the engine's step (which never waits on a tenant's server).
    pub fn is_side_task(&self) -> bool {
        matches!(self, TaskAction::Check { .. } | TaskAction::Http { .. })
    }

    /// Whether the engine itself retries a failed attempt of this task, after
    /// `crate::retry`'s backoff: a kind whose failure another try may fix and which has
    /// no retries of its own (a job run retries itself; a wait does not fail; a
    /// notification fails only when its destination is gone; a check or HTTP task is
    /// retried by the side-task worker, with the same backoff).
    pub fn retried_by_engine(&self) -> bool {
        matches!(self, TaskAction::Workflow { .. })
    }
}

/// When a task runs, given how the tasks it runs after ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunIf {
    /// Every upstream task succeeded.
    #[default]
    Success,
    /// Every upstream task ended and at least one failed (cleanup, alerting).
    Failure,
    /// Every upstream task ended, however.
    Always,
}

/// Where one task of a workflow run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
}

impl TaskState {
    pub const ALL: [TaskState; 6] = [
        TaskState::Pending,
        TaskState::Running,
        TaskState::Succeeded,
        TaskState::Failed,
        TaskState::Skipped,
        TaskState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
            TaskState::Skipped => "skipped",
            TaskState::Cancelled => "cancelled",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, TaskState::Pending | TaskState::Running)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        TaskState::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown task state {s:?}"))
    }
}

crate::text_sql_enum!(TaskState);

/// Where a workflow run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum WorkflowRunStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl WorkflowRunStatus {
    pub const ALL: [WorkflowRunStatus; 4] = [
        WorkflowRunStatus::Running,
        WorkflowRunStatus::Succeeded,
        WorkflowRunStatus::Failed,
        WorkflowRunStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowRunStatus::Running => "running",
            WorkflowRunStatus::Succeeded => "succeeded",
            WorkflowRunStatus::Failed => "failed",
            WorkflowRunStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for WorkflowRunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkflowRunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        WorkflowRunStatus::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown workflow run status {s:?}"))
    }
}

crate::text_sql_enum!(WorkflowRunStatus);

impl WorkflowSpec {
    /// Every problem, each at its field path (`tasks`, `tasks[1].name`,
    /// `tasks[2].after[0]`, `parallelism`), in words an analyst reads.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        if self.parallelism == 0 || self.parallelism > MAX_PARALLELISM {
            errors.push(
                "parallelism",
                format!("must be between 1 and {MAX_PARALLELISM} tasks at once"),
            );
        }
        if self.overlap == OverlapPolicy::Queue {
            errors.push(
                "overlap",
                "A workflow's schedule can skip a fire time while a run is going (skip) or start another run (allow); queue is not available for workflows.",
            );
        }
        crate::variables::check_definitions(&self.variables, &mut errors);
        for (i, v) in self.variables.iter().enumerate() {
            if matches!(v.value, VariableValue::Query { .. }) {
                errors.push(
                    format!("variables[{i}].value.kind"),
                    "A workflow variable is a text or a time (string or timestamp); a query variable belongs on the job that uses it.",
                );
            }
        }
        if self.tasks.is_empty() {
            errors.push(
                "tasks",
                "A workflow needs at least one task: add a job to run, a wait or a notification.",
            );
            return errors.into_result();
        }
        if self.tasks.len() > MAX_TASKS {
            errors.push(
                "tasks",
                format!(
                    "A workflow has at most {MAX_TASKS} tasks; this one has {}. Split it into several workflows.",
                    self.tasks.len()
                ),
            );
            return errors.into_result();
        }
        let mut first_named: HashMap<&str, usize> = HashMap::new();
        for (i, task) in self.tasks.iter().enumerate() {
            let field = format!("tasks[{i}].name");
            check_text(&mut errors, &field, &task.name, TASK_NAME_MAX_CHARS);
            if task.name != task.name.trim() {
                errors.push(&field, "must not start or end with spaces");
            }
            match first_named.get(task.name.as_str()) {
                Some(first) => errors.push(
                    &field,
                    format!(
                        "Another task is already named \"{}\" (task {}); each task needs its own name.",
                        task.name,
                        first + 1
                    ),
                ),
                None => {
                    first_named.insert(task.name.as_str(), i);
                }
            }
        }
        for (i, task) in self.tasks.iter().enumerate() {
            let mut seen = BTreeSet::new();
            for (j, upstream) in task.after.iter().enumerate() {
                let field = format!("tasks[{i}].after[{j}]");
                if *upstream == task.name {
                    errors.push(&field, "A task cannot run after itself.");
                } else if !first_named.contains_key(upstream.as_str()) {
                    errors.push(
                        &field,
                        format!("No task is named \"{upstream}\"; name a task of this workflow."),
                    );
                } else if !seen.insert(upstream.as_str()) {
                    errors.push(&field, format!("\"{upstream}\" is listed twice."));
                }
            }
            if task.run_if == RunIf::Failure && task.after.is_empty() {
                errors.push(
                    format!("tasks[{i}].run_if"),
                    "A task that runs on failure must run after at least one task whose failure it handles.",
                );
            }
            if let Some(retries) = task.retries
                && retries > MAX_RETRIES
            {
                errors.push(
                    format!("tasks[{i}].retries"),
                    format!("must be at most {MAX_RETRIES}"),
                );
            }
            if let Some(delay) = task.retry_delay_seconds
                && (delay == 0 || delay > crate::retry::MAX_RETRY_DELAY_SECONDS)
            {
                errors.push(
                    format!("tasks[{i}].retry_delay_seconds"),
                    format!(
                        "must be between 1 and {} seconds (a day)",
                        crate::retry::MAX_RETRY_DELAY_SECONDS
                    ),
                );
            }
            if let Some(minutes) = task.timeout_minutes
                && (minutes == 0 || minutes > MAX_TIMEOUT_MINUTES)
            {
                errors.push(
                    format!("tasks[{i}].timeout_minutes"),
                    format!("must be between 1 and {MAX_TIMEOUT_MINUTES} minutes (a week)"),
                );
            }
            match &task.action {
                TaskAction::Job { .. } => {}
                TaskAction::Wait { seconds } => {
                    if *seconds == 0 || *seconds > MAX_WAIT_SECONDS {
                        errors.push(
                            format!("tasks[{i}].action.seconds"),
                            format!("must be between 1 and {MAX_WAIT_SECONDS} seconds (a week)"),
                        );
                    }
                }
                TaskAction::WaitUntil { time, time_zone } => {
                    check_wait_until(&mut errors, i, time, time_zone);
                }
                TaskAction::Workflow { .. } => {}
                TaskAction::Notify { message, .. } => {
                    if message.chars().count() > MESSAGE_MAX_CHARS {
                        errors.push(
                            format!("tasks[{i}].action.message"),
                            format!("must be at most {MESSAGE_MAX_CHARS} characters"),
                        );
                    }
                }
                TaskAction::Check { .. } | TaskAction::Http { .. } => {
                    check_side_task(i, task, &mut errors)
                }
            }
        }
        // Cycles only mean something once every reference names a task.
        if errors.is_empty()
            && let Some(cycle) = self.find_cycle()
        {
            let (i, j) = self.edge_of(&cycle[0], &cycle[1]);
            errors.push(
                format!("tasks[{i}].after[{j}]"),
                format!(
                    "These tasks wait for each other, so none of them can start: {}. Remove one of these \"after\" links.",
                    cycle.join(" -> ")
                ),
            );
        }
        errors.into_result()
    }

    /// A cycle as task names, each running after the next one, the first repeated at the
    /// end (`a -> b -> a`: `a` runs after `b`, which runs after `a`); `None` when the
    /// graph has none. References to unknown tasks are ignored.
    pub fn find_cycle(&self) -> Option<Vec<String>> {
        let index: HashMap<&str, usize> = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        // 0 unvisited, 1 on the current path, 2 done.
        let mut mark = vec![0u8; self.tasks.len()];
        let mut path: Vec<usize> = Vec::new();
        fn visit(
            spec: &WorkflowSpec,
            index: &HashMap<&str, usize>,
            node: usize,
            mark: &mut [u8],
            path: &mut Vec<usize>,
        ) -> Option<Vec<String>> {
            mark[node] = 1;
            path.push(node);
            for upstream in &spec.tasks[node].after {
                let Some(&next) = index.get(upstream.as_str()) else {
                    continue;
                };
                if mark[next] == 1 {
                    let start = path.iter().position(|&n| n == next).unwrap_or(0);
                    let mut cycle: Vec<String> = path[start..]
                        .iter()
                        .map(|&n| spec.tasks[n].name.clone())
                        .collect();
                    cycle.push(spec.tasks[next].name.clone());
                    return Some(cycle);
                }
                if mark[next] == 0
                    && let Some(cycle) = visit(spec, index, next, mark, path)
                {
                    return Some(cycle);
                }
            }
            path.pop();
            mark[node] = 2;
            None
        }
        for start in 0..self.tasks.len() {
            if mark[start] == 0
                && let Some(cycle) = visit(self, &index, start, &mut mark, &mut path)
            {
                return Some(cycle);
            }
        }
        None
    }

    /// Where `task` lists `upstream` in its `after`: (task index, position).
    fn edge_of(&self, task: &str, upstream: &str) -> (usize, usize) {
        self.tasks
            .iter()
            .enumerate()
            .find(|(_, t)| t.name == task)
            .map(|(i, t)| (i, t.after.iter().position(|a| a == upstream).unwrap_or(0)))
            .unwrap_or((0, 0))
    }

    pub fn task(&self, name: &str) -> Option<&TaskSpec> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// The jobs the workflow runs, with the field path of each reference.
    pub fn job_references(&self) -> Vec<(String, JobId)> {
        self.tasks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t.action {
                TaskAction::Job { job_id } => Some((format!("tasks[{i}].action.job_id"), job_id)),
                _ => None,
            })
            .collect()
    }

    /// The workflows the workflow runs, with the field path of each reference.
    pub fn workflow_references(&self) -> Vec<(String, WorkflowId)> {
        self.tasks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t.action {
                TaskAction::Workflow { workflow_id } => {
                    Some((format!("tasks[{i}].action.workflow_id"), workflow_id))
                }
                _ => None,
            })
            .collect()
    }

    /// The connections the workflow's check tasks query, with the field path of each.
    pub fn connection_references(&self) -> Vec<(String, ConnectionId)> {
        self.tasks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t.action {
                TaskAction::Check { connection_id, .. } => {
                    Some((format!("tasks[{i}].action.connection_id"), connection_id))
                }
                _ => None,
            })
            .collect()
    }

    /// The destinations the workflow notifies, with the field path of each reference.
    pub fn destination_references(&self) -> Vec<(String, DestinationId)> {
        self.tasks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t.action {
                TaskAction::Notify { destination_id, .. } => {
                    Some((format!("tasks[{i}].action.destination_id"), destination_id))
                }
                _ => None,
            })
            .collect()
    }
}

/// A `wait_until` task's time (`HH:MM`) and time zone (an IANA name).
fn check_wait_until(errors: &mut FieldErrors, i: usize, time: &str, time_zone: &str) {
    if time_of_day::parse_time_of_day(time).is_none() {
        errors.push(
            format!("tasks[{i}].action.time"),
            "must be a time of day as HH:MM on a 24-hour clock, such as 09:30",
        );
    }
    if time_zone.parse::<chrono_tz::Tz>().is_err() {
        errors.push(
            format!("tasks[{i}].action.time_zone"),
            "must be a time zone name such as Asia/Tokyo, Europe/Paris or UTC",
        );
    }
}

/// When a `wait_until` task that starts at `now` ends; `None` when its time or zone
/// does not read (validation refuses those). Never more than [`MAX_WAIT_SECONDS`] away.
pub fn wait_until_moment(
    now: chrono::DateTime<chrono::Utc>,
    time: &str,
    time_zone: &str,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let time = time_of_day::parse_time_of_day(time)?;
    let zone: chrono_tz::Tz = time_zone.parse().ok()?;
    let at = time_of_day::next_time_of_day(now, time, zone);
    Some(at.min(now + chrono::Duration::seconds(i64::from(MAX_WAIT_SECONDS))))
}

/// The fields of a check or HTTP task: a query that says something, a URL of http or
/// https, valid headers and bounded sizes, a timeout a probe worker can hold.
fn check_side_task(i: usize, task: &TaskSpec, errors: &mut FieldErrors) {
    let field = |name: &str| format!("tasks[{i}].action.{name}");
    if let Some(minutes) = task.timeout_minutes
        && minutes > MAX_SIDE_TASK_TIMEOUT_MINUTES
    {
        errors.push(
            format!("tasks[{i}].timeout_minutes"),
            format!(
                "A check or HTTP task waits at most {MAX_SIDE_TASK_TIMEOUT_MINUTES} minutes; for longer work run a job."
            ),
        );
    }
    match &task.action {
        TaskAction::Check { sql, expected, .. } => {
            if sql.trim().is_empty() {
                errors.push(
                    field("sql"),
                    "Write the query to check: one SELECT returning one value, e.g. SELECT count(*) FROM orders WHERE amount < 0.",
                );
            } else if sql.chars().count() > CHECK_SQL_MAX_CHARS {
                errors.push(
                    field("sql"),
                    format!("must be at most {CHECK_SQL_MAX_CHARS} characters"),
                );
            }
            if expected.chars().count() > crate::job::checks::EXPECTED_MAX_CHARS {
                errors.push(
                    field("expected"),
                    format!(
                        "must be at most {} characters",
                        crate::job::checks::EXPECTED_MAX_CHARS
                    ),
                );
            }
        }
        TaskAction::Http {
            url,
            headers,
            body,
            expect_status,
            ..
        } => {
            crate::http::check_url(errors, &field("url"), url);
            // A secret value may be left out: the one saved before is kept (the app
            // refuses a secret header that has none).
            crate::http::check_headers(
                errors,
                &field("headers"),
                headers,
                HTTP_RESERVED_HEADERS,
                true,
            );
            if body.len() > HTTP_BODY_MAX_BYTES {
                errors.push(
                    field("body"),
                    format!("must be at most {} KiB", HTTP_BODY_MAX_BYTES / 1024),
                );
            }
            if let Some(status) = expect_status
                && !(100..=599).contains(status)
            {
                errors.push(
                    field("expect_status"),
                    "must be an HTTP status between 100 and 599 (leave it out to accept any 2xx)",
                );
            }
        }
        _ => {}
    }
}

/// How a task ended, as the tasks after it see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub state: TaskState,
    /// A skip caused by a failure upstream (so a task on failure after it fires, and a
    /// resume runs it again), rather than by a condition that simply did not hold.
    pub for_failure: bool,
}

impl Ended {
    /// Failed, cancelled, or skipped because something upstream failed.
    pub fn is_failure(self) -> bool {
        matches!(self.state, TaskState::Failed | TaskState::Cancelled)
            || (self.state == TaskState::Skipped && self.for_failure)
    }
}

/// What a pending task does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Some upstream task has not ended yet.
    Wait,
    Start,
    /// Its condition cannot hold; `for_failure` when an upstream failure is why.
    Skip {
        for_failure: bool,
    },
}

/// What a pending task with `run_if` does, given its upstream tasks' states (`None` for
/// one that has not ended).
pub fn decide(run_if: RunIf, upstream: &[Option<Ended>]) -> Decision {
    let Some(ended) = upstream.iter().copied().collect::<Option<Vec<Ended>>>() else {
        return Decision::Wait;
    };
    let any_failure = ended.iter().any(|e| e.is_failure());
    let all_succeeded = ended.iter().all(|e| e.state == TaskState::Succeeded);
    match run_if {
        RunIf::Always => Decision::Start,
        RunIf::Success if all_succeeded => Decision::Start,
        RunIf::Success => Decision::Skip {
            for_failure: any_failure,
        },
        RunIf::Failure if any_failure => Decision::Start,
        RunIf::Failure => Decision::Skip { for_failure: false },
    }
}

/// The tasks a resume runs again: every task that failed, was cancelled or was skipped
/// because of a failure, and every task downstream of one of them (an on-failure task
/// that fired included: it decides again). Succeeded tasks upstream stay as they are.
pub fn resume_set(spec: &WorkflowSpec, states: &BTreeMap<String, Ended>) -> BTreeSet<String> {
    let mut again: BTreeSet<String> = states
        .iter()
        .filter(|(_, e)| e.is_failure() || !e.state.is_final())
        .map(|(name, _)| name.clone())
        .collect();
    // Downstream closure: repeat until nothing is added (at most MAX_TASKS rounds).
    loop {
        let before = again.len();
        for task in &spec.tasks {
            if !again.contains(&task.name) && task.after.iter().any(|a| again.contains(a)) {
                again.insert(task.name.clone());
            }
        }
        if again.len() == before {
            return again;
        }
    }
}

/// How a workflow run ended once every task has: failed when a task failed or was
/// cancelled (an on-failure task that handled it does not make it succeed), else
/// succeeded; `None` while a task is pending or running.
pub fn outcome(states: &[Ended]) -> Option<WorkflowRunStatus> {
    if states.iter().any(|e| !e.state.is_final()) {
        return None;
    }
    if states
        .iter()
        .any(|e| matches!(e.state, TaskState::Failed | TaskState::Cancelled))
    {
        Some(WorkflowRunStatus::Failed)
    } else {
        Some(WorkflowRunStatus::Succeeded)
    }
}

pub mod layout;
pub mod nesting;
pub mod time_of_day;

#[cfg(test)]
mod tests;
