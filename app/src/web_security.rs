//! Headers every response carries, and the token in front of `/metrics`.
//!
//! The policy fits the wasm UI: its code comes from this origin only (`boot.js`, the
//! wasm-bindgen glue and the module, which needs `'wasm-unsafe-eval'` to compile), its
//! one stylesheet likewise, and it talks to this origin's API only. No framing at all:
//! a tenant's pages must not be clickjacked from another site.

use crate::state::AppState;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{HttpResponse, web};
use hakobu_core::api::error::ErrorBody;

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; \
     script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The security headers; HSTS only when the public address is https (over plain http
/// it would be ignored, and on a local install it would pin `localhost` to https).
pub fn headers(public_url: &str) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Frame-Options", "DENY"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"));
    if public_url.starts_with("https://") {
        headers.add(("Strict-Transport-Security", "max-age=31536000"))
    } else {
        headers
    }
}

/// `/metrics` answers only with `Authorization: Bearer <HAKOBU_METRICS_TOKEN>`; without
/// the setting it is not served at all (404), since request counts per route tell a
/// stranger what the service's tenants do and a proxy in front may make any address
/// look local.
pub async fn metrics_gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.path() != "/metrics" {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let token = req
        .app_data::<web::Data<AppState>>()
        .and_then(|s| s.settings.metrics_token.clone());
    let refusal = match token {
        None => Some(HttpResponse::NotFound().json(ErrorBody::new(
            "not_found",
            "Metrics are not served: set HAKOBU_METRICS_TOKEN to turn them on.".into(),
        ))),
        Some(token) => {
            let given = crate::extract::credential(req.request()).unwrap_or_default();
            // Compared as digests, so the time taken says nothing about the token.
            (crate::auth::secret_token::digest(&given) != crate::auth::secret_token::digest(&token))
                .then(|| {
                    HttpResponse::Unauthorized().json(ErrorBody::new(
                        "unauthorized",
                        "Metrics need the bearer token set in HAKOBU_METRICS_TOKEN.".into(),
                    ))
                })
        }
    };
    match refusal {
        Some(response) => Ok(req.into_response(response)),
        None => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}
