//! Creating an organization with its owner and first team: sign-up and
//! `hakobu create-admin` share it.

use crate::audit::{self, Actor};
use crate::error::{ApiError, is_unique_violation};
use crate::models::organization::Organization;
use crate::models::team::{Team, TeamMember};
use crate::models::user::{NewUser, User};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::authz::{OrgRole, TeamRole};
use hakobu_core::ids::UserId;
use hakobu_core::messages::MessageCode;
use serde_json::json;

/// Name of the team every new organization starts with.
pub const DEFAULT_TEAM_NAME: &str = "Default";

/// Creates an organization with its owner and default team, audited; shared by sign-up
/// and `hakobu create-admin`.
pub async fn create_organization(
    conn: &mut AsyncPgConnection,
    organization_name: &str,
    owner_name: &str,
    email: &str,
    password_hash: &str,
    first_team_name: &str,
    ip: Option<&str>,
) -> Result<User, ApiError> {
    conn.transaction::<_, ApiError, _>(async |conn| {
        let org = Organization::insert(conn, organization_name).await?;
        let user = User::insert(
            conn,
            NewUser {
                id: UserId::new(),
                organization_id: org.id,
                email,
                name: owner_name,
                password_hash,
                org_role: OrgRole::Owner,
            },
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                ApiError::conflict("email", MessageCode::DuplicateAccount)
            } else {
                e.into()
            }
        })?;
        let team = Team::insert(conn, org.id, first_team_name).await?;
        TeamMember::upsert(conn, org.id, team.id, user.id, TeamRole::Admin).await?;
        let actor = Actor {
            organization_id: org.id,
            user_id: Some(user.id),
            email: Some(&user.email),
            ip,
        };
        audit::record(
            conn,
            &actor,
            "organization.create",
            "organization",
            org.id,
            json!({"name": org.name}),
        )
        .await?;
        audit::record(
            conn,
            &actor,
            "member.create",
            "user",
            user.id,
            json!({"email": user.email, "org_role": user.org_role}),
        )
        .await?;
        audit::record(
            conn,
            &actor,
            "team.create",
            "team",
            team.id,
            json!({"name": team.name}),
        )
        .await?;
        Ok(user)
    })
    .await
}
