//! Teams and team membership.

use crate::audit::{self, Actor};
use crate::error::{ApiError, is_unique_violation};
use crate::extract::ApiJson;
use crate::extract::Auth;
use crate::models::team::{Team, TeamMember};
use crate::models::user::User;
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::org::{PutTeamMemberRequest, TeamMemberView, TeamNameRequest, TeamView};
use hakobu_core::authz::{Action, Target};
use hakobu_core::ids::{TeamId, UserId};
use hakobu_core::messages::MessageCode;
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_teams)
        .service(create_team)
        .service(get_team)
        .service(rename_team)
        .service(delete_team)
        .service(list_team_members)
        .service(put_team_member)
        .service(remove_team_member);
}

/// Teams the caller can see: all of them for organization admins, otherwise their own.
#[utoipa::path(tag = "teams", responses((status = 200, body = Vec<TeamView>), (status = 401, body = ErrorBody)))]
#[get("/api/teams")]
async fn list_teams(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<Vec<TeamView>>, ApiError> {
    let only = (!auth.principal.is_org_admin())
        .then(|| auth.principal.team_roles.keys().copied().collect());
    let mut conn = state.pool.get().await?;
    Ok(web::Json(
        Team::list_with_counts(&mut conn, auth.organization_id, only).await?,
    ))
}

/// Creates a team (organization admins).
#[utoipa::path(tag = "teams", request_body = TeamNameRequest, responses(
    (status = 201, body = TeamView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/teams")]
async fn create_team(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<TeamNameRequest>,
) -> Result<HttpResponse, ApiError> {
    auth.require(Action::CreateTeam, Target::Organization, "create teams")?;
    body.0.validate()?;
    let mut conn = state.pool.get().await?;
    let team = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let team = Team::insert(conn, auth.organization_id, &body.0.name)
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        ApiError::conflict("name", MessageCode::DuplicateTeam)
                    } else {
                        e.into()
                    }
                })?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "team.create",
                "team",
                team.id,
                json!({"name": team.name}),
            )
            .await?;
            Ok(team)
        })
        .await?;
    Ok(HttpResponse::Created().json(TeamView {
        id: team.id,
        name: team.name,
        created_at: team.created_at,
        member_count: 0,
    }))
}

async fn visible_team(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    id: TeamId,
    action: Action,
    what: &str,
) -> Result<Team, ApiError> {
    let team = Team::find(conn, auth.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("team"))?;
    auth.require(action, Target::Team(team.id), what)?;
    Ok(team)
}

#[utoipa::path(tag = "teams", params(("team_id" = TeamId, Path)), responses((status = 200, body = TeamView), (status = 404, body = ErrorBody)))]
#[get("/api/teams/{team_id}")]
async fn get_team(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<TeamId>,
) -> Result<web::Json<TeamView>, ApiError> {
    let mut conn = state.pool.get().await?;
    let team = visible_team(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewTeam,
        "see this team",
    )
    .await?;
    let views =
        Team::list_with_counts(&mut conn, auth.organization_id, Some(vec![team.id])).await?;
    views
        .into_iter()
        .next()
        .map(web::Json)
        .ok_or_else(|| ApiError::not_found("team"))
}

/// Renames a team (team admins).
#[utoipa::path(tag = "teams", params(("team_id" = TeamId, Path)), request_body = TeamNameRequest, responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[patch("/api/teams/{team_id}")]
async fn rename_team(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<TeamId>,
    body: ApiJson<TeamNameRequest>,
) -> Result<HttpResponse, ApiError> {
    body.0.validate()?;
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let team = visible_team(conn, &auth, id, Action::ManageTeam, "rename this team").await?;
        Team::rename(conn, auth.organization_id, id, &body.0.name)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::conflict("name", MessageCode::DuplicateTeam)
                } else {
                    e.into()
                }
            })?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "team.rename",
            "team",
            id,
            json!({"before": {"name": team.name}, "after": {"name": body.0.name.trim()}}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Deletes a team (organization admins).
#[utoipa::path(tag = "teams", params(("team_id" = TeamId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/api/teams/{team_id}")]
async fn delete_team(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<TeamId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let team = visible_team(conn, &auth, id, Action::DeleteTeam, "delete teams").await?;
        Team::delete(conn, auth.organization_id, id).await?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "team.delete",
            "team",
            id,
            json!({"name": team.name}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "teams", params(("team_id" = TeamId, Path)), responses((status = 200, body = Vec<TeamMemberView>), (status = 404, body = ErrorBody)))]
#[get("/api/teams/{team_id}/members")]
async fn list_team_members(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<TeamId>,
) -> Result<web::Json<Vec<TeamMemberView>>, ApiError> {
    let mut conn = state.pool.get().await?;
    let team = visible_team(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewTeam,
        "see this team",
    )
    .await?;
    Ok(web::Json(
        TeamMember::list(&mut conn, auth.organization_id, team.id).await?,
    ))
}

/// Adds a member to the team or changes their team role (team admins).
#[utoipa::path(tag = "teams", params(("team_id" = TeamId, Path), ("user_id" = UserId, Path)), request_body = PutTeamMemberRequest, responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[put("/api/teams/{team_id}/members/{user_id}")]
async fn put_team_member(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(TeamId, UserId)>,
    body: ApiJson<PutTeamMemberRequest>,
) -> Result<HttpResponse, ApiError> {
    let (team_id, user_id) = path.into_inner();
    let role = body.0.role;
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        visible_team(conn, &auth, team_id, Action::ManageTeam, "manage this team's members").await?;
        let member = User::find(conn, auth.organization_id, user_id)
            .await?
            .ok_or_else(|| ApiError::not_found("member"))?;
        let before = TeamMember::find_role(conn, team_id, user_id).await?;
        if before == Some(role) {
            return Ok(());
        }
        TeamMember::upsert(conn, auth.organization_id, team_id, user_id, role).await?;
        let action = if before.is_some() { "team.member_role_change" } else { "team.member_add" };
        audit::record(conn, &Actor::from(&auth), action, "team", team_id,
            json!({"user_id": user_id, "email": member.email, "before": {"role": before}, "after": {"role": role}})).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a member from the team (team admins).
#[utoipa::path(tag = "teams", params(("team_id" = TeamId, Path), ("user_id" = UserId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/api/teams/{team_id}/members/{user_id}")]
async fn remove_team_member(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(TeamId, UserId)>,
) -> Result<HttpResponse, ApiError> {
    let (team_id, user_id) = path.into_inner();
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        visible_team(
            conn,
            &auth,
            team_id,
            Action::ManageTeam,
            "manage this team's members",
        )
        .await?;
        let before = TeamMember::find_role(conn, team_id, user_id)
            .await?
            .ok_or_else(|| ApiError::not_found("team member"))?;
        TeamMember::remove(conn, auth.organization_id, team_id, user_id).await?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "team.member_remove",
            "team",
            team_id,
            json!({"user_id": user_id, "before": {"role": before}}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
