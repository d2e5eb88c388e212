//! Members, invitations and teams of an organization.

use crate::authz::{OrgRole, TeamRole};
use crate::ids::{InvitationId, OrganizationId, TeamId, UserId};
use crate::messages::MessageCode;
use crate::validation::{FieldErrors, check_email, check_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::NAME_MAX_CHARS;

/// The caller's organization (`GET /api/organization`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrganizationView {
    pub id: OrganizationId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Runs at once; `None` means the service's ceiling (see `GET /api/queue`).
    pub max_concurrent_runs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberView {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub org_role: OrgRole,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    #[serde(default = "default_member")]
    pub org_role: OrgRole,
    /// Teams the new member joins on acceptance, with their role in each.
    #[serde(default)]
    pub teams: Vec<TeamGrant>,
}

fn default_member() -> OrgRole {
    OrgRole::Member
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TeamGrant {
    pub team_id: TeamId,
    pub role: TeamRole,
}

impl InviteRequest {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        check_email(&mut e, "email", &self.email);
        for (i, grant) in self.teams.iter().enumerate() {
            if self.teams[..i].iter().any(|g| g.team_id == grant.team_id) {
                e.push_message(format!("teams[{i}].team_id"), MessageCode::SameTeamTwice);
            }
        }
        e.into_result()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationView {
    pub id: InvitationId,
    pub email: String,
    pub org_role: OrgRole,
    pub teams: Vec<TeamGrant>,
    pub invited_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

/// Answer to an invitation: until email delivery exists the admin passes the link on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationCreated {
    pub invitation: InvitationView,
    /// Single-use link that creates the account; shown once.
    pub invite_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangeOrgRoleRequest {
    pub org_role: OrgRole,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamView {
    pub id: TeamId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub member_count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TeamNameRequest {
    pub name: String,
}

impl TeamNameRequest {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        check_text(&mut e, "name", &self.name, NAME_MAX_CHARS);
        e.into_result()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TeamMemberView {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub role: TeamRole,
}

/// Adds a member to a team, or changes their role there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PutTeamMemberRequest {
    pub role: TeamRole,
}
