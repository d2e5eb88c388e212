//! Workflows and their runs: the bodies of `/api/workflows` and `/api/workflow-runs`.

use crate::api::NAME_MAX_CHARS;
use crate::ids::{RunId, TeamId, UserId, WorkflowId, WorkflowRunId};
use crate::messages::MessageCode;
use crate::validation::{FieldErrors, check_text};
use crate::workflow::{TaskState, WorkflowRunStatus, WorkflowSpec};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest workflow description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 2_000;

/// A new workflow, or a workflow's new content (`PUT` replaces all of it but the team).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SaveWorkflowRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The owning team; ignored by `PUT` (a workflow stays with its team).
    pub team_id: TeamId,
    pub spec: WorkflowSpec,
}

impl SaveWorkflowRequest {
    /// The name, the description and the graph (`spec.tasks[i]...`), every problem listed.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        check_text(&mut errors, "name", &self.name, NAME_MAX_CHARS);
        if self.description.chars().count() > DESCRIPTION_MAX_CHARS {
            errors.push_message(
                "description",
                MessageCode::TooLong.with("n", DESCRIPTION_MAX_CHARS),
            );
        }
        if let Err(spec) = self.spec.validate() {
            for mut e in spec.0 {
                e.field = format!("spec.{}", e.field);
                errors.0.push(e);
            }
        }
        errors.into_result()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkflowView {
    pub id: WorkflowId,
    pub team_id: TeamId,
    pub name: String,
    pub description: String,
    pub spec: WorkflowSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Starts a run of a workflow; the body may be empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StartWorkflowRunRequest {
    /// The "as of" time every job run of the workflow computes its timestamp variables
    /// from (now when absent).
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkflowRunView {
    pub id: WorkflowRunId,
    pub workflow_id: WorkflowId,
    pub status: WorkflowRunStatus,
    /// 1, then one more per resume.
    pub attempt: i32,
    pub trigger: String,
    pub triggered_by: Option<UserId>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The spec the run follows (the workflow's when the run started).
    pub spec: WorkflowSpec,
    /// One per task, in the spec's order.
    pub tasks: Vec<TaskRunView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskRunView {
    pub name: String,
    pub state: TaskState,
    /// Skipped because a task upstream failed (a resume runs it again).
    pub skipped_for_failure: bool,
    /// The job run it started (its first attempt; retries share it as `root_run_id`).
    pub run_id: Option<RunId>,
    /// The workflow run a workflow task started (a resume or retry resumes that one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run_id: Option<WorkflowRunId>,
    /// How many times the task was started, resumes included.
    pub starts: i32,
    pub message: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}
