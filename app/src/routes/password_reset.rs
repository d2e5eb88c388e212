//! Forgotten passwords: a single-use link by email (valid for an hour, stored as its
//! SHA-256), and setting a new password with it, which ends every session of the account.
//!
//! The request always answers 202, whether or not the address has an account, and the mail
//! goes out after the answer, so neither the status nor the timing tells who is a user.

use crate::audit::{self, Actor};
use crate::auth::{password, secret_token};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::extract::ClientIp;
use crate::limiter::AccountAction;
use crate::mail::Email;
use crate::models::api_token::ApiToken;
use crate::models::password_reset::{self, NewPasswordReset};
use crate::models::session;
use crate::models::user::User;
use crate::schema::users;
use crate::state::AppState;
use actix_web::{HttpResponse, post, web};
use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::notifications::{PasswordResetConfirm, PasswordResetRequest};
use hakobu_core::ids::OrganizationId;
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::normalize_email;
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(request_reset).service(confirm_reset);
}

/// How long a reset link stays valid.
pub const RESET_MINUTES: i64 = 60;

/// Links mailed to one account per `RESET_MINUTES`: enough for a lost mail or two, too few
/// for anyone to flood an inbox through the public request form.
pub const MAX_LINKS_PER_WINDOW: i64 = 3;

/// Sends a password reset link to the address if it has an account. Always 202.
#[utoipa::path(tag = "auth", request_body = PasswordResetRequest, responses(
    (status = 202, description = "a link was sent if the address has an account"), (status = 400, body = ErrorBody),
    (status = 429, body = ErrorBody, description = "too many requests from this address")))]
#[post("/api/auth/password-reset")]
async fn request_reset(
    state: web::Data<AppState>,
    ip: ClientIp,
    body: ApiJson<PasswordResetRequest>,
) -> Result<HttpResponse, ApiError> {
    // Each request may send a mail to someone else's inbox: limited per address.
    state.limiter.account_action(
        &state.settings.abuse_limits,
        AccountAction::PasswordResetRequest,
        &ip.0,
    )?;
    let email = normalize_email(&body.0.email);
    let state = state.into_inner();
    // The lookup, the link and the mail happen after the answer: the caller learns nothing.
    tokio::spawn(async move {
        if let Err(e) = send_link(&state, &email).await {
            tracing::warn!(
                error = format!("{e:#}"),
                "sending a password reset link failed"
            );
        }
    });
    Ok(HttpResponse::Accepted().finish())
}

async fn send_link(state: &AppState, email: &str) -> anyhow::Result<()> {
    let Some(mailer) = &state.sender.mailer else {
        tracing::info!("password reset asked, but HAKOBU_SMTP_HOST is not set: no mail sent");
        return Ok(());
    };
    let mut conn = state.pool.get().await?;
    let Some(user) = User::find_by_email(&mut conn, email).await? else {
        return Ok(());
    };
    let token = secret_token::generate("");
    let digest = secret_token::digest(&token);
    let window_start = Utc::now() - Duration::minutes(RESET_MINUTES);
    let created = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            // One request at a time per account, so the count below holds.
            users::table
                .find(user.id)
                .select(users::id)
                .for_update()
                .execute(conn)
                .await?;
            if password_reset::created_since(conn, user.id, window_start).await?
                >= MAX_LINKS_PER_WINDOW
            {
                return Ok(false);
            }
            password_reset::insert(
                conn,
                NewPasswordReset {
                    token_hash: &digest,
                    user_id: user.id,
                    expires_at: Utc::now() + Duration::minutes(RESET_MINUTES),
                },
            )
            .await?;
            Ok(true)
        })
        .await?;
    drop(conn);
    if !created {
        tracing::info!(
            user_id = %user.id,
            "password reset asked again within the hour after {MAX_LINKS_PER_WINDOW} links: no mail sent"
        );
        return Ok(());
    }
    let link = format!("{}/reset-password/{token}", state.settings.public_url);
    mailer
        .send(&Email {
            to: user.email.clone(),
            subject: "Reset your Hakobu password".to_owned(),
            body: format!(
                "Hello {},\n\nSomeone (hopefully you) asked to reset the password of your Hakobu \
                 account. To choose a new password, open this link within {RESET_MINUTES} \
                 minutes:\n{link}\n\nThe link works once. If you did not ask for this, ignore \
                 this message: your password stays as it is.\n",
                user.name
            ),
            message_id: None,
        })
        .await
}

/// Sets a new password with the link's token; every session of the account ends.
#[utoipa::path(tag = "auth", request_body = PasswordResetConfirm, responses(
    (status = 204), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody, description = "too many requests from this address")))]
#[post("/api/auth/password-reset/confirm")]
async fn confirm_reset(
    state: web::Data<AppState>,
    ip: ClientIp,
    body: ApiJson<PasswordResetConfirm>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    body.validate().into_result()?;
    state.limiter.account_action(
        &state.settings.abuse_limits,
        AccountAction::PasswordResetConfirm,
        &ip.0,
    )?;
    let digest = secret_token::digest(&body.token);
    let new_hash = password::hash(body.password).await?;
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let user_id = password_reset::consume(conn, &digest)
            .await?
            .ok_or_else(|| ApiError::field("token", MessageCode::ResetLinkInvalid))?;
        User::set_password_hash(conn, user_id, &new_hash).await?;
        let revoked = session::revoke_all_but(conn, user_id, None).await?;
        // Whoever knew the old password may have made API tokens with it.
        let tokens_revoked = ApiToken::revoke_all(conn, user_id).await?;
        let (organization_id, email): (OrganizationId, String) = users::table
            .find(user_id)
            .select((users::organization_id, users::email))
            .first(conn)
            .await?;
        audit::record(
            conn,
            &Actor {
                organization_id,
                user_id: Some(user_id),
                email: Some(&email),
                ip: Some(&ip.0),
            },
            "member.password_reset",
            "user",
            user_id,
            json!({"sessions_revoked": revoked, "api_tokens_revoked": tokens_revoked}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
