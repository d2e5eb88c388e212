//! The audit log.

use crate::ids::{AuditEntryId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntryView {
    pub id: AuditEntryId,
    pub created_at: DateTime<Utc>,
    pub actor_user_id: Option<UserId>,
    pub actor_email: Option<String>,
    /// Dotted verb, e.g. `team.create`, `member.role_change`.
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    /// Before/after summary; never contains secrets.
    pub details: serde_json::Value,
    pub ip: Option<String>,
}
