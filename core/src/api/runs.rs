//! Runs, their logs, and the protocol between the app and a managed runner.

use crate::ids::{JobId, RunId, UserId};
use crate::messages::MessageCode;
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
    /// A queued run that waits for earlier runs of its own job to end, not for room in
    /// the organization: the job's overlap policy, its limit of runs at once
    /// (`max_concurrent_runs`) or its backfill's parallelism holds it back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held_by_its_job: bool,
    pub launcher: Option<String>,
    pub task_id: Option<String>,
    /// What the runner ran from: its image (ECS task definition) or binary.
    pub runner_image: Option<String>,
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_skipped: i64,
    pub bytes_read: i64,
    /// Bytes sent to the destination: the binary COPY stream, the LOAD DATA text or INSERT
    /// statements, the file as stored (compressed if it is).
    #[serde(default)]
    pub bytes_written: i64,
    /// Rows the source expected to read in all (a table's statistics), when it could tell.
    #[serde(default)]
    pub rows_expected: Option<i64>,
    /// Bytes the source expected to read in all (its files' sizes), when it could tell.
    #[serde(default)]
    pub bytes_expected: Option<i64>,
    pub error_summary: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub resolved_inputs: Value,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    /// When the run was due: its schedule's fire time, a manual run's "as of", a backfill
    /// period; its queue time otherwise.
    #[serde(default)]
    pub scheduled_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub schedule_id: Option<crate::ids::ScheduleId>,
    #[serde(default)]
    pub backfill_id: Option<crate::ids::BackfillId>,
    /// The runner's task size: vCPUs and memory (MiB), from the job's resources.
    #[serde(default)]
    pub task_vcpu: Option<f64>,
    #[serde(default)]
    pub task_memory_mb: Option<i32>,
    /// What the runner used (so far, while it runs) and its estimated price in the
    /// service's unit prices (`GET /api/insights` names them).
    #[serde(default)]
    pub usage: Option<crate::usage::Usage>,
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
    /// Where the run's connections may go; missing means public addresses only.
    #[serde(default)]
    pub egress: crate::egress::EgressPolicy,
    /// The token to use from now on (the launch token fetches the assignment only);
    /// heartbeats renew it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_token: Option<String>,
    /// The organization's files folder (`<HAKOBU_LOCAL_FILES_ROOT>/<organization id>`), the
    /// only place the config's local paths may lead, which are relative to it. Absent when
    /// the job uses no files on the server: the runner then opens none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_root: Option<String>,
}

// The config carries decrypted secrets.
impl fmt::Debug for RunnerAssignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunnerAssignment")
            .field("run_id", &self.run_id)
            .field("files_root", &self.files_root)
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
    /// Bytes sent to the destination: the binary COPY stream, the LOAD DATA text or INSERT
    /// statements, the file as stored (compressed if it is).
    #[serde(default)]
    pub bytes_written: i64,
    /// Rows the source expects to read in all (a table's statistics), when it can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_expected: Option<i64>,
    /// Bytes the source expects to read in all (its files' sizes), when it can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_expected: Option<i64>,
}

/// The app's answer to a heartbeat.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatAnswer {
    /// The run was cancelled: stop, roll back, and report `cancelled`.
    pub cancel: bool,
    /// A fresh run token while the run is active: the runner switches to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_token: Option<String>,
}

// The token is a credential.
impl fmt::Debug for HeartbeatAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeartbeatAnswer")
            .field("cancel", &self.cancel)
            .field("run_token", &self.run_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
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
    /// The platform stopped the runner (SIGTERM: a Fargate Spot reclaim, a Kubernetes
    /// eviction, a node drain). The app records a cancel if it had asked for one, and
    /// otherwise a failure its job's retry policy may run again.
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerResult {
    pub outcome: RunnerOutcome,
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_skipped: i64,
    pub bytes_read: i64,
    /// Bytes sent to the destination: the binary COPY stream, the LOAD DATA text or INSERT
    /// statements, the file as stored (compressed if it is).
    #[serde(default)]
    pub bytes_written: i64,
    /// One line saying what failed and where.
    #[serde(default)]
    pub error: Option<String>,
    /// The next incremental state (`{"in": {"last_record": [...]}}`, possibly empty): present
    /// exactly when the destination committed, whatever the outcome.
    #[serde(default)]
    pub next_state: Option<Value>,
}

/// What a runner reports the moment its destination committed, before the data checks and
/// its result: the app records it first, so a run whose result is lost is never taken
/// for one that committed nothing (and retried, loading the same rows again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerCommit {
    pub rows_read: i64,
    pub rows_written: i64,
    pub rows_skipped: i64,
    pub bytes_read: i64,
    /// Bytes sent to the destination: the binary COPY stream, the LOAD DATA text or INSERT
    /// statements, the file as stored (compressed if it is).
    #[serde(default)]
    pub bytes_written: i64,
    /// The next incremental state (`{"in": {"last_record": [...]}}`, possibly empty).
    pub next_state: Value,
}

// --- Manual runs and backfills -------------------------------------------------------

/// Optional body of `POST /api/jobs/{id}/runs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StartRunRequest {
    /// Run as if it were due at this time: timestamp variables are computed from it.
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
    /// Explicit values for some of the job's variables, by name.
    #[serde(default)]
    pub variables: std::collections::BTreeMap<String, String>,
}

/// How a backfill divides its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BackfillStep {
    Day,
    Hour,
}

/// Most runs one backfill creates.
pub const BACKFILL_MAX_RUNS: usize = 1000;
/// Most runs of one backfill that run at once.
pub const BACKFILL_MAX_PARALLELISM: u32 = 10;

/// One run per day or hour of a range, each as of the start of its period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// First period's start, a local date-time in `timezone` (`2026-11-01T00:00`).
    pub from: chrono::NaiveDateTime,
    /// Last period's start (inclusive).
    pub to: chrono::NaiveDateTime,
    pub step: BackfillStep,
    #[serde(default = "utc_name")]
    pub timezone: String,
    /// Runs at once: 1 runs them one after another, oldest first.
    #[serde(default = "one")]
    pub parallelism: u32,
    #[serde(default)]
    pub variables: std::collections::BTreeMap<String, String>,
}

fn utc_name() -> String {
    "UTC".to_owned()
}

fn one() -> u32 {
    1
}

impl BackfillRequest {
    /// The periods' start instants, oldest first.
    pub fn periods(&self) -> Result<Vec<DateTime<Utc>>, crate::validation::FieldErrors> {
        use chrono::TimeZone;
        let mut errors = crate::validation::FieldErrors::default();
        let zone: Option<chrono_tz::Tz> = self.timezone.parse().ok();
        if zone.is_none() {
            errors.push_message(
                "timezone",
                MessageCode::UnknownZone.with("zone", format!("{:?}", self.timezone)),
            );
        }
        if self.to < self.from {
            errors.push_message("to", MessageCode::NotBefore);
        }
        if !(1..=BACKFILL_MAX_PARALLELISM).contains(&self.parallelism) {
            errors.push_message(
                "parallelism",
                MessageCode::FromTo
                    .with("from", 1)
                    .with("to", BACKFILL_MAX_PARALLELISM),
            );
        }
        let step = match self.step {
            BackfillStep::Day => chrono::Duration::days(1),
            BackfillStep::Hour => chrono::Duration::hours(1),
        };
        let span = (self.to - self.from).num_seconds().max(0) / step.num_seconds() + 1;
        if span as usize > BACKFILL_MAX_RUNS {
            errors.push_message(
                "to",
                MessageCode::RangeRuns
                    .with("n", span)
                    .with("max", BACKFILL_MAX_RUNS),
            );
        }
        errors.clone().into_result()?;
        let zone = zone.expect("checked above");
        let mut periods = Vec::new();
        let mut local = self.from;
        while local <= self.to {
            // A period starting in a skipped hour starts when the clocks jump; one in a
            // repeated hour at its first occurrence.
            let instant = match zone.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => Some(t),
                chrono::LocalResult::None => zone
                    .from_local_datetime(&(local + chrono::Duration::hours(1)))
                    .earliest(),
            };
            if let Some(t) = instant {
                let t = t.with_timezone(&Utc);
                if periods.last() != Some(&t) {
                    periods.push(t);
                }
            }
            local += step;
        }
        Ok(periods)
    }
}

/// The runs a backfill queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackfillView {
    pub backfill_id: crate::ids::BackfillId,
    pub runs: Vec<RunView>,
}

/// The organization's concurrency limit and its runs in flight and waiting, for the queue
/// page (`GET /api/queue`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueView {
    /// Runs of this organization that may be starting or running at once.
    pub limit: i64,
    /// The organization's own setting; `None` means the service's ceiling applies.
    pub organization_limit: Option<i64>,
    /// The most any organization may run at once on this service.
    pub service_limit: i64,
    /// Starting or running runs of the whole organization, including jobs the caller
    /// cannot see (only counted, never listed).
    pub active_count: i64,
    /// Queued runs of the whole organization that are due.
    pub queued_count: i64,
    /// Starting or running runs of the jobs the caller can see, oldest first.
    pub active: Vec<RunView>,
    /// Due queued runs of the jobs the caller can see, in the order they will start; each
    /// carries its `queue_position`.
    pub queued: Vec<RunView>,
}

/// Sets the organization's concurrency limit (`PUT /api/organization/concurrency`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConcurrencyRequest {
    /// At most this many runs at once; `null` uses the service's ceiling.
    pub max_concurrent_runs: Option<i64>,
}

impl ConcurrencyRequest {
    /// `service_limit` is the ceiling the deployment sets for every organization.
    pub fn validate(&self, service_limit: i64) -> Result<(), crate::validation::FieldErrors> {
        let mut e = crate::validation::FieldErrors::default();
        if let Some(n) = self.max_concurrent_runs
            && !(1..=service_limit).contains(&n)
        {
            e.push(
                "max_concurrent_runs",
                format!("must be a whole number from 1 to {service_limit} (this service's ceiling), or empty for the ceiling"),
            );
        }
        e.into_result()
    }
}
