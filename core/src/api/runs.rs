//! Runs, their logs, and the protocol between the app and a managed runner.

use crate::ids::{JobId, RunId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// Where a run is in its life: `queued -> starting -> running -> succeeded | failed |
/// cancelled | timed_out`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    /// Handed to the launcher; a Fargate task takes a minute or two to start.
    Starting,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Queued,
        RunStatus::Starting,
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::TimedOut,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Starting => "starting",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::TimedOut => "timed_out",
        }
    }

    /// Whether the run has ended and will not change again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunStatus::Succeeded | RunStatus::Failed | RunStatus::Cancelled | RunStatus::TimedOut
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        RunStatus::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown run status {s:?}; expected one of queued, starting, running, succeeded, failed, cancelled, timed_out"))
    }
}

crate::text_sql_enum!(RunStatus);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunView {
    pub id: RunId,
    pub job_id: JobId,
    pub job_revision: i32,
    pub status: RunStatus,
    pub attempt: i32,
    pub max_attempts: i32,
    pub root_run_id: RunId,
    pub trigger: String,
    pub triggered_by: Option<UserId>,
    /// Runs ahead of this one in the queue (queued runs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<i64>,
    pub launcher: Option<String>,
    pub task_id: Option<String>,
    /// What the runner ran from: its image (ECS task definition) or binary.
    pub runner_image: Option<String>,
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_skipped: i64,
    pub bytes_read: i64,
    pub error_summary: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub resolved_inputs: Value,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunLogLine {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub level: String,
    pub message: String,
}

// --- The managed runner's protocol ---------------------------------------------------

/// What a runner fetches with its run token: the config with secrets in clear.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerAssignment {
    pub run_id: RunId,
    /// The Embulk-style YAML to execute.
    pub config: String,
    /// Send a heartbeat at least this often.
    pub heartbeat_seconds: u64,
}

// The config carries decrypted secrets.
impl fmt::Debug for RunnerAssignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunnerAssignment")
            .field("run_id", &self.run_id)
            .finish_non_exhaustive()
    }
}

/// Progress, sent as the runner's heartbeat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerProgress {
    pub rows_read: i64,
    pub rows_written: i64,
    pub bytes_read: i64,
}

/// The app's answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatAnswer {
    /// The run was cancelled: stop, roll back, and report `cancelled`.
    pub cancel: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerLogLine {
    pub level: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerLogBatch {
    pub lines: Vec<RunnerLogLine>,
}

/// How a run ended, as the runner saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunnerOutcome {
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerResult {
    pub outcome: RunnerOutcome,
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_skipped: i64,
    pub bytes_read: i64,
    /// One line saying what failed and where.
    #[serde(default)]
    pub error: Option<String>,
    /// The next incremental state (`{"in": {"last_record": [...]}}`), after the commit.
    #[serde(default)]
    pub next_state: Option<Value>,
}
