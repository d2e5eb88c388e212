//! Members of the organization and invitations to join it.

use crate::audit::{self, Actor};
use crate::auth::secret_token;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::extract::Auth;
use crate::models::invitation::{Invitation, NewInvitation};
use crate::models::team::Team;
use crate::models::user::User;
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{Duration, Utc};
use diesel_async::AsyncConnection;
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::org::{
    ChangeOrgRoleRequest, InvitationCreated, InvitationView, InviteRequest, MemberView,
};
use hakobu_core::authz::{Action, OrgRole, Target};
use hakobu_core::ids::{InvitationId, UserId};
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::{FieldErrors, normalize_email};
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_members)
        .service(change_member_role)
        .service(remove_member)
        .service(invite)
        .service(list_invitations)
        .service(revoke_invitation);
}

/// How long an invitation link stays valid.
pub const INVITATION_DAYS: i64 = 7;

/// Everyone in the organization.
#[utoipa::path(tag = "members", responses((status = 200, body = Vec<MemberView>), (status = 401, body = ErrorBody)))]
#[get("/api/members")]
async fn list_members(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<Vec<MemberView>>, ApiError> {
    auth.require(
        Action::ViewOrganization,
        Target::Organization,
        "see the members",
    )?;
    let mut conn = state.pool.get().await?;
    let members = User::list(&mut conn, auth.organization_id).await?;
    Ok(web::Json(members.iter().map(User::view).collect()))
}

/// Changes a member's organization role. Only owners make or unmake owners, and the last
/// owner cannot step down.
#[utoipa::path(tag = "members", params(("user_id" = UserId, Path)), request_body = ChangeOrgRoleRequest, responses(
    (status = 200, body = MemberView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[put("/api/members/{user_id}/role")]
async fn change_member_role(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<UserId>,
    body: ApiJson<ChangeOrgRoleRequest>,
) -> Result<web::Json<MemberView>, ApiError> {
    auth.require(
        Action::ManageMembers,
        Target::Organization,
        "change members' roles",
    )?;
    let user_id = path.into_inner();
    let new_role = body.0.org_role;
    let mut conn = state.pool.get().await?;
    let member = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let member = User::find(conn, auth.organization_id, user_id)
                .await?
                .ok_or_else(|| ApiError::not_found("member"))?;
            auth.require(
                Action::ChangeOrgRole { from: member.org_role, to: new_role },
                Target::Organization,
                "give or take away the owner role",
            )?;
            if member.org_role == new_role {
                return Ok(member);
            }
            if member.org_role == OrgRole::Owner && User::count_owners(conn, auth.organization_id).await? <= 1 {
                return Err(ApiError::conflict(
                    "org_role",
                    MessageCode::OnlyOwner,
                ));
            }
            User::set_role(conn, auth.organization_id, user_id, new_role).await?;
            audit::record(conn, &Actor::from(&auth), "member.role_change", "user", user_id,
                json!({"email": member.email, "before": {"org_role": member.org_role}, "after": {"org_role": new_role}})).await?;
            User::find(conn, auth.organization_id, user_id)
                .await?
                .ok_or_else(|| ApiError::not_found("member"))
        })
        .await?;
    Ok(web::Json(member.view()))
}

/// Removes a member from the organization: their account, sessions and tokens end.
#[utoipa::path(tag = "members", params(("user_id" = UserId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[delete("/api/members/{user_id}")]
async fn remove_member(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<UserId>,
) -> Result<HttpResponse, ApiError> {
    auth.require(
        Action::ManageMembers,
        Target::Organization,
        "remove members",
    )?;
    let user_id = path.into_inner();
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let member = User::find(conn, auth.organization_id, user_id)
            .await?
            .ok_or_else(|| ApiError::not_found("member"))?;
        if member.org_role == OrgRole::Owner {
            auth.require(
                Action::ChangeOrgRole {
                    from: OrgRole::Owner,
                    to: OrgRole::Member,
                },
                Target::Organization,
                "remove an owner",
            )?;
            if User::count_owners(conn, auth.organization_id).await? <= 1 {
                return Err(ApiError::Conflict {
                    message: MessageCode::OnlyOwnerRemove.into(),
                    field: None,
                });
            }
        }
        User::delete(conn, auth.organization_id, user_id).await?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "member.remove",
            "user",
            user_id,
            json!({"email": member.email, "org_role": member.org_role}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Invites someone by email: when the server sends mail (`HAKOBU_SMTP_HOST`) the link
/// goes to the address; the response also carries it, once, for the admin to pass on.
#[utoipa::path(tag = "members", request_body = InviteRequest, responses(
    (status = 201, body = InvitationCreated), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/invitations")]
async fn invite(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<InviteRequest>,
) -> Result<HttpResponse, ApiError> {
    auth.require(
        Action::ManageMembers,
        Target::Organization,
        "invite members",
    )?;
    let body = body.0;
    body.validate()?;
    auth.require(
        Action::ChangeOrgRole {
            from: OrgRole::Member,
            to: body.org_role,
        },
        Target::Organization,
        "invite an owner",
    )?;
    let email = normalize_email(&body.email);
    let token = secret_token::generate("");
    let digest = secret_token::digest(&token);
    let mut conn = state.pool.get().await?;
    let invitation = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let mut errors = FieldErrors::default();
            for (i, grant) in body.teams.iter().enumerate() {
                if Team::find(conn, auth.organization_id, grant.team_id)
                    .await?
                    .is_none()
                {
                    errors.push_message(format!("teams[{i}].team_id"), MessageCode::NotATeam);
                }
            }
            errors.into_result()?;
            if User::find_by_email(conn, &email).await?.is_some() {
                return Err(ApiError::conflict("email", MessageCode::AlreadyMember));
            }
            // A new invitation replaces any earlier one for the same person.
            Invitation::revoke_pending_for_email(conn, auth.organization_id, &email).await?;
            let invitation = Invitation::insert(
                conn,
                NewInvitation {
                    id: InvitationId::new(),
                    organization_id: auth.organization_id,
                    email: &email,
                    org_role: body.org_role,
                    teams: serde_json::to_value(&body.teams).map_err(anyhow::Error::from)?,
                    token_hash: &digest,
                    invited_by: Some(auth.user_id),
                    expires_at: Utc::now() + Duration::days(INVITATION_DAYS),
                },
            )
            .await?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "invitation.create",
                "invitation",
                invitation.id,
                json!({"email": email, "org_role": body.org_role, "teams": body.teams}),
            )
            .await?;
            Ok(invitation)
        })
        .await?;
    let invite_url = format!("{}/invite/{token}", state.settings.public_url);
    if let Some(mailer) = &state.sender.mailer {
        let email = crate::mail::Email {
            to: email.clone(),
            subject: format!("{} invited you to Hakobu", auth.name),
            body: format!(
                "{} ({}) invited you to join their organization on Hakobu, where teams set up \
                 and schedule data transfers.\n\nTo accept, open this link within \
                 {INVITATION_DAYS} days and choose your password:\n{invite_url}\n",
                auth.name, auth.email
            ),
            message_id: None,
        };
        // The invitation stands even if the mail fails: the admin has the link.
        if let Err(e) = mailer.send(&email).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "sending an invitation email failed"
            );
        }
    }
    Ok(HttpResponse::Created().json(InvitationCreated {
        invitation: invitation.view(),
        invite_url,
    }))
}

/// Invitations not yet accepted, withdrawn or expired.
#[utoipa::path(tag = "members", responses((status = 200, body = Vec<InvitationView>), (status = 403, body = ErrorBody)))]
#[get("/api/invitations")]
async fn list_invitations(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<Vec<InvitationView>>, ApiError> {
    auth.require(
        Action::ManageMembers,
        Target::Organization,
        "see invitations",
    )?;
    let mut conn = state.pool.get().await?;
    let pending = Invitation::list_pending(&mut conn, auth.organization_id).await?;
    Ok(web::Json(pending.iter().map(Invitation::view).collect()))
}

/// Withdraws a pending invitation; its link stops working.
#[utoipa::path(tag = "members", params(("invitation_id" = InvitationId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/api/invitations/{invitation_id}")]
async fn revoke_invitation(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<InvitationId>,
) -> Result<HttpResponse, ApiError> {
    auth.require(
        Action::ManageMembers,
        Target::Organization,
        "withdraw invitations",
    )?;
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let invitation = Invitation::revoke(conn, auth.organization_id, id)
            .await?
            .ok_or_else(|| ApiError::not_found("invitation"))?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "invitation.revoke",
            "invitation",
            id,
            json!({"email": invitation.email}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
