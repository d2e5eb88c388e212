//! Transfer jobs: settings, revisions, compiled config, import and export.

use crate::api::org::TeamGrant;
use crate::authz::TeamRole;
use crate::ids::{JobId, TeamId, UserId};
use crate::job::JobSettings;
use crate::messages::MessageCode;
use crate::validation::{FieldErrors, check_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::NAME_MAX_CHARS;

pub const DESCRIPTION_MAX_CHARS: usize = 2000;
pub const LABEL_MAX_CHARS: usize = 40;
pub const MAX_LABELS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateJobRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub labels: Vec<String>,
    pub team_id: TeamId,
    #[serde(default = "enabled")]
    pub enabled: bool,
    pub settings: JobSettings,
}

fn enabled() -> bool {
    true
}

/// Changes a job; what is left out stays. A change of name, description, labels or
/// settings makes a new revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateJobRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub settings: Option<JobSettings>,
}

/// Checks name, description and labels; settings are checked against their connections.
pub fn validate_job_text(
    e: &mut FieldErrors,
    name: Option<&str>,
    description: Option<&str>,
    labels: Option<&[String]>,
) {
    if let Some(name) = name {
        check_text(e, "name", name, NAME_MAX_CHARS);
    }
    if let Some(d) = description
        && d.chars().count() > DESCRIPTION_MAX_CHARS
    {
        e.push_message(
            "description",
            MessageCode::TooLong.with("n", DESCRIPTION_MAX_CHARS),
        );
    }
    if let Some(labels) = labels {
        if labels.len() > MAX_LABELS {
            e.push("labels", format!("at most {MAX_LABELS} labels"));
        }
        for (i, l) in labels.iter().enumerate() {
            check_text(e, &format!("labels[{i}]"), l, LABEL_MAX_CHARS);
            if labels[..i].contains(l) {
                e.push_message(format!("labels[{i}]"), MessageCode::ListedTwice);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobView {
    pub id: JobId,
    pub name: String,
    pub description: String,
    pub labels: Vec<String>,
    pub enabled: bool,
    pub team_id: TeamId,
    pub revision: i32,
    /// A transfer or a data mart (shown to every role, unlike the settings).
    #[serde(default)]
    pub kind: crate::job::JobKind,
    pub your_role: TeamRole,
    /// The teams besides the owner that may view, run or edit the job
    /// (`PUT /api/jobs/{id}/shares` replaces the list).
    #[serde(default)]
    pub shares: Vec<TeamGrant>,
    /// Only for editors and admins of the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<JobSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub incremental_state: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobRevisionView {
    pub revision: i32,
    pub name: String,
    pub description: String,
    pub labels: Vec<String>,
    pub settings: JobSettings,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

/// One difference between two revisions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevisionChange {
    /// Dotted path, e.g. `settings.destination.mode`.
    pub path: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub before: Option<Value>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub after: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RevisionDiff {
    pub from: i32,
    pub to: i32,
    pub changes: Vec<RevisionChange>,
}

/// Every path where `a` and `b` differ; objects are compared key by key, anything else
/// (arrays included) as a whole.
pub fn json_diff(path: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<RevisionChange>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                json_diff(&p, x.get(k), y.get(k), out);
            }
        }
        (a, b) if a != b => out.push(RevisionChange {
            path: path.to_owned(),
            before: a.cloned(),
            after: b.cloned(),
        }),
        _ => {}
    }
}

/// Creates connections and a job from an Embulk config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ImportJobRequest {
    /// The team that will own the job and any connection created for it.
    pub team_id: TeamId,
    pub name: String,
    /// The `config.yml` or `config.yml.liquid` text.
    pub config: String,
    /// Values for `{{ env.NAME }}` in a Liquid config.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImportJobResponse {
    pub job: JobView,
    /// Connections created by the import (existing equal ones are reused).
    pub created_connections: Vec<crate::ids::ConnectionId>,
}
