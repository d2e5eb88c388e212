//! Schedules of a job, and the organization-wide list with next fire times.

use crate::ids::{JobId, ScheduleId, WorkflowId};
use crate::schedule::ScheduleSettings;
use crate::validation::FieldErrors;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many upcoming fire times a schedule's view lists.
pub const UPCOMING: usize = 10;

/// Creates or replaces a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduleRequest {
    pub settings: ScheduleSettings,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

impl ScheduleRequest {
    pub fn validate(&self) -> Result<crate::schedule::Schedule, FieldErrors> {
        self.settings.validate("settings.")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleView {
    pub id: ScheduleId,
    /// The job it runs; none for a workflow's schedule.
    pub job_id: Option<JobId>,
    /// The workflow it runs; none for a job's schedule.
    pub workflow_id: Option<WorkflowId>,
    /// The name of the job or workflow it runs.
    pub target_name: String,
    pub settings: ScheduleSettings,
    pub enabled: bool,
    /// When the next run is created; none while disabled.
    pub next_fire_at: Option<DateTime<Utc>>,
    /// The next fire times (up to ten), also while disabled, to see what enabling does.
    pub upcoming: Vec<DateTime<Utc>>,
    pub last_fired_at: Option<DateTime<Utc>>,
    /// Failed scheduled runs in a row; the schedule turns off at its limit.
    pub consecutive_failures: i32,
    /// Why the schedule turned itself off.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Turns many schedules on or off at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BulkEnableRequest {
    pub ids: Vec<ScheduleId>,
    pub enabled: bool,
}

/// Most schedules one bulk request changes.
pub const BULK_MAX: usize = 500;

impl BulkEnableRequest {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::default();
        if self.ids.is_empty() {
            errors.push("ids", "choose at least one schedule");
        } else if self.ids.len() > BULK_MAX {
            errors.push("ids", format!("at most {BULK_MAX} schedules at once"));
        }
        errors.into_result()
    }
}
