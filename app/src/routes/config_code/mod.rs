//! Config as code (`docs/config-as-code.md`): `GET /api/export` answers the organization
//! as YAML files (teams, notification destinations, connections, jobs with their
//! schedules, rules and shares; names as keys, secrets as `${secret:NAME}` references);
//! `POST /api/apply` answers the plan for files and carries it out in one transaction.
//! Organization admins only: it reads and writes every team's resources.

mod apply;
mod snapshot;

use crate::error::ApiError;
use crate::extract::{ApiJson, Auth};
use crate::models::destination::Destination;
use crate::state::AppState;
use actix_web::{get, post, web};
use diesel_async::AsyncConnection;
use hakobu_core::api::config::{ApplyRequest, ApplyResponse, ExportResponse};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::authz::{Action, Target};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(export).service(apply_files);
}

/// The organization as YAML files, path -> text (organization admins). Secrets appear as
/// `${secret:NAME}` references, never as values.
#[utoipa::path(tag = "config", responses(
    (status = 200, body = ExportResponse), (status = 403, body = ErrorBody)))]
#[get("/api/export")]
async fn export(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<ExportResponse>, ApiError> {
    auth.require(
        Action::ManageConfiguration,
        Target::Organization,
        "export the organization's configuration",
    )?;
    let mut conn = state.pool.get().await?;
    // One snapshot (a read-only repeatable-read transaction): the files agree with each
    // other even while others make changes.
    let files = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, ApiError, _>(async |conn| {
            snapshot::Snapshot::load(conn, auth.organization_id)
                .await?
                .files()
        })
        .await?;
    Ok(web::Json(ExportResponse { files }))
}

/// Why a transaction ends without committing.
enum Rollback {
    Failed(ApiError),
    DryRun(ApplyResponse),
}

impl From<diesel::result::Error> for Rollback {
    fn from(e: diesel::result::Error) -> Self {
        Rollback::Failed(e.into())
    }
}

/// Plans files against the organization and, unless `dry_run`, applies the plan in one
/// transaction (organization admins). A dry run makes every change and every check, then
/// rolls back. Errors name the file and its field.
#[utoipa::path(tag = "config", request_body = ApplyRequest, responses(
    (status = 200, body = ApplyResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/apply")]
async fn apply_files(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<ApplyRequest>,
) -> Result<web::Json<ApplyResponse>, ApiError> {
    auth.require(
        Action::ManageConfiguration,
        Target::Organization,
        "apply configuration files to the organization",
    )?;
    let request = body.0;
    let mut conn = state.pool.get().await?;
    let outcome = conn
        .transaction::<_, Rollback, _>(async |conn| {
            let (plan, confirmations) = apply::run(conn, &state, &auth, &request)
                .await
                .map_err(Rollback::Failed)?;
            if request.dry_run {
                return Err(Rollback::DryRun(ApplyResponse {
                    applied: false,
                    ..plan
                }));
            }
            Ok((plan, confirmations))
        })
        .await;
    let (plan, confirmations): (ApplyResponse, Vec<(Destination, String)>) = match outcome {
        Ok(done) => done,
        Err(Rollback::DryRun(plan)) => return Ok(web::Json(plan)),
        Err(Rollback::Failed(e)) => return Err(e),
    };
    for (d, token) in &confirmations {
        crate::routes::destinations::send_confirmation(&state, &mut conn, d, token).await;
    }
    Ok(web::Json(plan))
}
