//! Sign-up, login, the current user, password change.

use crate::authz::{OrgRole, TeamRole};
use crate::ids::{OrganizationId, TeamId, UserId};
use crate::messages::MessageCode;
use crate::validation::{FieldErrors, check_email, check_password, check_text};
use serde::{Deserialize, Serialize};

use super::NAME_MAX_CHARS;

/// What an invitation link is for, so the accept page can greet the invitee
/// (`GET /api/invitations/lookup`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvitationPreview {
    pub organization_name: String,
    pub email: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Creates an organization and its owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub organization_name: String,
    pub name: String,
    pub email: String,
    pub password: String,
    /// The first team's name, which the owner can rename later; `Default` when absent.
    /// The web form sends it in the reader's language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_team_name: Option<String>,
}

impl SignupRequest {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        check_text(
            &mut e,
            "organization_name",
            &self.organization_name,
            NAME_MAX_CHARS,
        );
        check_text(&mut e, "name", &self.name, NAME_MAX_CHARS);
        check_email(&mut e, "email", &self.email);
        check_password(&mut e, "password", &self.password);
        if let Some(team) = &self.first_team_name {
            check_text(&mut e, "first_team_name", team, NAME_MAX_CHARS);
        }
        e.into_result()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

impl LoginRequest {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        check_email(&mut e, "email", &self.email);
        if self.password.is_empty() {
            e.push_message("password", MessageCode::Required);
        }
        e.into_result()
    }
}

/// Answer to a login or sign-up: the same token is also set as an HttpOnly cookie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionResponse {
    /// A JWT for `Authorization: Bearer`; browsers can ignore it and use the cookie.
    pub token: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub me: Me,
}

/// The signed-in user, their organization and roles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub org_role: OrgRole,
    pub teams: Vec<MyTeam>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MyTeam {
    pub team_id: TeamId,
    pub name: String,
    pub role: TeamRole,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

impl ChangePasswordRequest {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        if self.current_password.is_empty() {
            e.push_message("current_password", MessageCode::Required);
        }
        check_password(&mut e, "new_password", &self.new_password);
        if !self.new_password.is_empty() && self.new_password == self.current_password {
            e.push_message("new_password", MessageCode::SamePassword);
        }
        e.into_result()
    }
}

/// Accepts an invitation: creates the invited person's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the invitation link.
    pub token: String,
    pub name: String,
    pub password: String,
}

impl AcceptInvitationRequest {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        if self.token.trim().is_empty() {
            e.push_message("token", MessageCode::Required);
        }
        check_text(&mut e, "name", &self.name, NAME_MAX_CHARS);
        check_password(&mut e, "password", &self.password);
        e.into_result()
    }
}
