//! HTTP routes. Every API handler carries a `#[utoipa::path]`, and is registered through
//! utoipa-actix-web, so the OpenAPI document at `/api/openapi.json` lists exactly the
//! endpoints that exist.

mod audit;
mod auth;
mod config_code;
mod connections;
mod data_checks;
mod destinations;
mod health;
mod insights;
mod job_import;
mod jobs;
mod members;
mod notification_rules;
mod organization;
mod password_reset;
mod runner;
mod runs;
mod schedules;
mod teams;
mod tokens;
mod workflows;

use crate::error::ApiError;
use actix_web::{HttpRequest, HttpResponse, web};
use std::path::Path;
use utoipa::OpenApi;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    health::configure(cfg);
    auth::configure(cfg);
    organization::configure(cfg);
    members::configure(cfg);
    connections::configure(cfg);
    jobs::configure(cfg);
    runs::configure(cfg);
    insights::configure(cfg);
    schedules::configure(cfg);
    runner::configure(cfg);
    teams::configure(cfg);
    tokens::configure(cfg);
    audit::configure(cfg);
    data_checks::configure(cfg);
    destinations::configure(cfg);
    notification_rules::configure(cfg);
    password_reset::configure(cfg);
    config_code::configure(cfg);
    workflows::configure(cfg);
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hakobu API",
        description = "Managed data transfers. Authenticate with the session cookie set by \
                       /api/auth/login, or with `Authorization: Bearer <token>` (a session \
                       JWT or a personal API token). Errors are JSON: \
                       {\"error\", \"message\", \"field\"}."
    ),
    paths(metrics_doc),
    components(schemas(hakobu_core::api::error::ErrorBody))
)]
struct BaseDoc;

/// Prometheus metrics in the text exposition format (served by the metrics middleware).
#[utoipa::path(get, path = "/metrics", tag = "operations", responses(
    (status = 200, description = "Prometheus text format", content_type = "text/plain"),
    (status = 401, description = "no or a wrong `Authorization: Bearer` token (HAKOBU_METRICS_TOKEN)"),
    (status = 404, description = "HAKOBU_METRICS_TOKEN is not set: metrics are not served")))]
#[allow(dead_code)]
fn metrics_doc() {}

pub fn base_openapi() -> utoipa::openapi::OpenApi {
    BaseDoc::openapi()
}

/// The web UI's files, and JSON 404s for unknown API paths.
pub fn configure_static(cfg: &mut web::ServiceConfig, static_dir: &Path) {
    if static_dir.join("index.html").is_file() {
        let index = static_dir.join("index.html");
        cfg.service(
            actix_files::Files::new("/", static_dir)
                .index_file("index.html")
                // Client-side routes (`/jobs/123`) load the app, which routes itself.
                .default_handler(web::to(move |req: HttpRequest| {
                    let index = index.clone();
                    async move {
                        if req.path().starts_with("/api/") {
                            return Err(ApiError::NotFound("No such API endpoint.".into()).into());
                        }
                        // The page names content-hashed assets: it must never be cached stale.
                        actix_files::NamedFile::open_async(index)
                            .await
                            .map(|f| {
                                let mut response = f.into_response(&req);
                                response.headers_mut().insert(
                                    actix_web::http::header::CACHE_CONTROL,
                                    actix_web::http::header::HeaderValue::from_static("no-cache"),
                                );
                                response
                            })
                            .map_err(actix_web::Error::from)
                    }
                })),
        );
    } else {
        cfg.default_service(web::to(|req: HttpRequest| async move {
            if req.path() == "/" {
                return Ok(HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(
                        "<!doctype html><title>Hakobu</title><h1>Hakobu is running</h1>\
                     <p>The web UI has not been built yet. The API is at \
                     <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p>",
                    ));
            }
            Err(ApiError::NotFound("No such page or API endpoint.".into()))
        }));
    }
}
