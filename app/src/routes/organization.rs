//! The caller's organization.

use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::extract::Auth;
use crate::models::organization::Organization;
use crate::state::AppState;
use actix_web::{get, patch, put, web};
use diesel_async::AsyncConnection;
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::org::{OrganizationView, TeamNameRequest};
use hakobu_core::api::runs::ConcurrencyRequest;
use hakobu_core::authz::{Action, Target};
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_organization)
        .service(rename_organization)
        .service(set_concurrency);
}

impl From<Organization> for OrganizationView {
    fn from(o: Organization) -> Self {
        OrganizationView {
            id: o.id,
            name: o.name,
            created_at: o.created_at,
            max_concurrent_runs: o.max_concurrent_runs,
        }
    }
}

#[utoipa::path(tag = "organization", responses((status = 200, body = OrganizationView), (status = 401, body = ErrorBody)))]
#[get("/api/organization")]
async fn get_organization(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<OrganizationView>, ApiError> {
    auth.require(
        Action::ViewOrganization,
        Target::Organization,
        "see the organization",
    )?;
    let mut conn = state.pool.get().await?;
    Ok(web::Json(
        Organization::find(&mut conn, auth.organization_id)
            .await?
            .into(),
    ))
}

/// Renames the organization (organization admins).
#[utoipa::path(tag = "organization", request_body = TeamNameRequest, responses(
    (status = 200, body = OrganizationView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/api/organization")]
async fn rename_organization(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<TeamNameRequest>,
) -> Result<web::Json<OrganizationView>, ApiError> {
    auth.require(
        Action::ManageMembers,
        Target::Organization,
        "rename the organization",
    )?;
    body.0.validate()?;
    let name = body.0.name.trim().to_owned();
    let mut conn = state.pool.get().await?;
    let org = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let before = Organization::find(conn, auth.organization_id).await?;
            let after = Organization::rename(conn, auth.organization_id, &name).await?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "organization.rename",
                "organization",
                after.id,
                json!({"before": {"name": before.name}, "after": {"name": after.name}}),
            )
            .await?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(org.into()))
}

/// Sets how many runs of the organization may be starting or running at once, up to the
/// service's ceiling (organization admins). Runs already going are not stopped; the
/// dispatcher starts queued ones only while the organization is under the new limit.
#[utoipa::path(tag = "organization", request_body = ConcurrencyRequest, responses(
    (status = 200, body = OrganizationView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/organization/concurrency")]
async fn set_concurrency(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<ConcurrencyRequest>,
) -> Result<web::Json<OrganizationView>, ApiError> {
    auth.require(
        Action::ManageMembers,
        Target::Organization,
        "change the organization's concurrency limit",
    )?;
    body.0
        .validate(state.settings.run_limits.per_organization)?;
    let limit = body.0.max_concurrent_runs;
    let mut conn = state.pool.get().await?;
    let org = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let before = Organization::find(conn, auth.organization_id).await?;
            let after =
                Organization::set_max_concurrent_runs(conn, auth.organization_id, limit).await?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "organization.concurrency",
                "organization",
                after.id,
                json!({"before": {"max_concurrent_runs": before.max_concurrent_runs},
                       "after": {"max_concurrent_runs": after.max_concurrent_runs}}),
            )
            .await?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(org.into()))
}
