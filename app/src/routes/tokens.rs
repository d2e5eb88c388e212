//! Personal API tokens of the signed-in user.

use crate::audit::{self, Actor};
use crate::auth::secret_token;
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::extract::Auth;
use crate::models::api_token::{ApiToken, NewApiToken};
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{Duration, Utc};
use diesel_async::AsyncConnection;
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::tokens::{ApiTokenCreated, ApiTokenView, CreateApiTokenRequest};
use hakobu_core::ids::ApiTokenId;
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_tokens)
        .service(create_token)
        .service(revoke_token);
}

#[utoipa::path(tag = "tokens", responses((status = 200, body = Vec<ApiTokenView>), (status = 401, body = ErrorBody)))]
#[get("/api/tokens")]
async fn list_tokens(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<Vec<ApiTokenView>>, ApiError> {
    let mut conn = state.pool.get().await?;
    let tokens = ApiToken::list_for_user(&mut conn, auth.user_id).await?;
    Ok(web::Json(tokens.iter().map(ApiToken::view).collect()))
}

/// Creates a token acting as the caller. The token is in this response only.
#[utoipa::path(tag = "tokens", request_body = CreateApiTokenRequest, responses(
    (status = 201, body = ApiTokenCreated), (status = 422, body = ErrorBody)))]
#[post("/api/tokens")]
async fn create_token(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<CreateApiTokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    body.validate()?;
    let token = secret_token::generate(secret_token::API_TOKEN_PREFIX);
    let digest = secret_token::digest(&token);
    let prefix = secret_token::display_prefix(&token);
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let created = ApiToken::insert(
                conn,
                NewApiToken {
                    id: ApiTokenId::new(),
                    user_id: auth.user_id,
                    organization_id: auth.organization_id,
                    name: body.name.trim(),
                    prefix: &prefix,
                    token_hash: &digest,
                    expires_at: body.expires_in_days.map(|d| Utc::now() + Duration::days(d.into())),
                    scope: body.scope,
                },
            )
            .await?;
            audit::record(conn, &Actor::from(&auth), "api_token.create", "api_token", created.id,
                json!({"name": created.name, "prefix": created.prefix, "expires_at": created.expires_at, "scope": created.scope})).await?;
            Ok(created)
        })
        .await?;
    Ok(HttpResponse::Created().json(ApiTokenCreated {
        token,
        api_token: created.view(),
    }))
}

/// Revokes one of the caller's tokens; it stops working at once.
#[utoipa::path(tag = "tokens", params(("token_id" = ApiTokenId, Path)), responses((status = 204), (status = 404, body = ErrorBody)))]
#[delete("/api/tokens/{token_id}")]
async fn revoke_token(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ApiTokenId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let token = ApiToken::revoke(conn, auth.user_id, id)
            .await?
            .ok_or_else(|| ApiError::not_found("API token"))?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "api_token.revoke",
            "api_token",
            id,
            json!({"name": token.name, "prefix": token.prefix}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
