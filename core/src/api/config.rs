//! Config as code: the organization as YAML files (`GET /api/export`) and a plan of what
//! applying files changes (`POST /api/apply`); see `docs/config-as-code.md`.

use crate::api::jobs::RevisionChange;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most files one apply takes.
pub const MAX_FILES: usize = 2000;
/// Longest file one apply takes, in bytes.
pub const MAX_FILE_BYTES: usize = 256 * 1024;

/// The organization's configuration: path (`connections/<name>.yml`, `jobs/...`,
/// `teams/...`, `destinations/...`) -> YAML text, sorted by path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportResponse {
    pub files: BTreeMap<String, String>,
}

/// Files to apply, with the values of the secrets they reference.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    /// Path -> YAML text, as `GET /api/export` answers them.
    pub files: BTreeMap<String, String>,
    /// Values of `${secret:NAME}` references, by NAME. A reference without a value keeps
    /// the secret the object already has; a new object's secret must be given.
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Answer the plan and change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Delete the objects of the kinds present in `files` that no file names.
    #[serde(default)]
    pub prune: bool,
}

// The secrets' values stay out of logs: their names only.
impl std::fmt::Debug for ApplyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplyRequest")
            .field("files", &self.files.keys().collect::<Vec<_>>())
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .field("dry_run", &self.dry_run)
            .field("prune", &self.prune)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PlanAction {
    Create,
    Change,
    Delete,
    Unchanged,
}

impl PlanAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanAction::Create => "create",
            PlanAction::Change => "change",
            PlanAction::Delete => "delete",
            PlanAction::Unchanged => "unchanged",
        }
    }
}

/// What applying does to one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanEntry {
    /// `team`, `destination`, `connection` or `job`.
    pub kind: String,
    pub name: String,
    /// The file that describes it (for a deletion: the file the export would write).
    pub file: String,
    pub action: PlanAction,
    /// The fields that change (secret values never appear: a changed secret shows as
    /// `(secret)` on both sides).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<RevisionChange>,
}

/// The plan, and whether it was carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplyResponse {
    pub entries: Vec<PlanEntry>,
    /// False for a dry run, and when nothing was to change.
    pub applied: bool,
}

impl ApplyResponse {
    /// The plan in lines a person reads: `+ create`, `~ change` (with the changed
    /// fields), `- delete`; unchanged objects are counted only.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mut unchanged = 0;
        for e in &self.entries {
            let sign = match e.action {
                PlanAction::Create => "+",
                PlanAction::Change => "~",
                PlanAction::Delete => "-",
                PlanAction::Unchanged => {
                    unchanged += 1;
                    continue;
                }
            };
            out.push_str(&format!(
                "{sign} {} {} {:?} ({})\n",
                e.action.as_str(),
                e.kind,
                e.name,
                e.file
            ));
            for c in &e.changes {
                let show = |v: &Option<serde_json::Value>| {
                    v.as_ref()
                        .map_or_else(|| "(none)".to_owned(), |v| v.to_string())
                };
                out.push_str(&format!(
                    "    {}: {} -> {}\n",
                    c.path,
                    show(&c.before),
                    show(&c.after)
                ));
            }
        }
        out.push_str(&format!("{unchanged} unchanged\n"));
        out
    }
}
