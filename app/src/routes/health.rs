//! Liveness, readiness and the API description.

use crate::db;
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(healthz).service(readyz).service(openapi_json);
}

/// The process is up. Says nothing about its dependencies.
#[utoipa::path(tag = "operations", responses((status = 200, description = "alive")))]
#[get("/healthz")]
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready to serve: the database answers and every migration is applied.
#[utoipa::path(tag = "operations", responses((status = 200, description = "ready"), (status = 503, description = "not ready, with the reason")))]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let mut conn = match state.pool.get().await {
        Ok(conn) => conn,
        Err(e) => return not_ready(format!("database unreachable: {e}")),
    };
    match db::pending_migrations(&mut conn).await {
        Ok(0) => HttpResponse::Ok().json(json!({"status": "ready"})),
        Ok(n) => not_ready(format!(
            "{n} database migrations are not applied; run `hakobu migrate`"
        )),
        Err(e) => not_ready(format!("database not usable: {e:#}")),
    }
}

fn not_ready(reason: String) -> HttpResponse {
    HttpResponse::ServiceUnavailable().json(json!({"status": "unavailable", "reason": reason}))
}

/// This document.
#[utoipa::path(tag = "operations", responses((status = 200, description = "OpenAPI 3.1 document")))]
#[get("/api/openapi.json")]
async fn openapi_json(api: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(api.get_ref())
}
