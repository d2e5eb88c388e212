//! Notification destinations of the organization: Slack incoming webhooks, email addresses
//! (confirmed by a link before anything is sent to them) and generic webhooks. Everyone in
//! the organization sees them (to pick one in a job's rules); organization admins manage
//! them. Secret values are encrypted like connection secrets and never returned.

use crate::audit::{self, Actor};
use crate::auth::secret_token;
use crate::error::{ApiError, is_unique_violation};
use crate::extract::ApiJson;
use crate::extract::Auth;
use crate::mail::Email;
use crate::models::destination::{Destination, DestinationChangeset, NewDestination};
use crate::models::organization::Organization;
use crate::notify::deliver::{Outgoing, public_settings};
use crate::notify::render;
use crate::secrets::SecretSlot;
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::notifications::{
    DestinationKind, DestinationRequest, DestinationSettings, DestinationView,
    NotificationEventKind, TestSendResult,
};
use hakobu_core::authz::{Action, Target};
use hakobu_core::ids::{DestinationId, NotificationEventId, OrganizationId};
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::normalize_email;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    // The confirmation link's path must not be taken for a destination id.
    cfg.service(confirm_address_page)
        .service(confirm_address)
        .service(list_destinations)
        .service(create_destination)
        .service(get_destination)
        .service(update_destination)
        .service(delete_destination)
        .service(test_destination)
        .service(resend_confirmation);
}

/// How long an email confirmation link stays valid.
pub const CONFIRMATION_DAYS: i64 = 7;

fn view(d: &Destination) -> DestinationView {
    DestinationView {
        id: d.id,
        name: d.name.clone(),
        kind: d.kind,
        settings: public_settings(d),
        confirmed: d.confirmed(),
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

pub(crate) fn name_conflict(e: diesel::result::Error) -> ApiError {
    if is_unique_violation(&e) {
        ApiError::conflict("name", MessageCode::DuplicateDestination)
    } else {
        e.into()
    }
}

/// Every destination of the organization.
#[utoipa::path(tag = "notifications", responses((status = 200, body = Vec<DestinationView>), (status = 401, body = ErrorBody)))]
#[get("/api/notification-destinations")]
async fn list_destinations(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<Vec<DestinationView>>, ApiError> {
    auth.require(
        Action::ViewOrganization,
        Target::Organization,
        "see notification destinations",
    )?;
    let mut conn = state.pool.get().await?;
    let all = Destination::list(&mut conn, auth.organization_id).await?;
    Ok(web::Json(all.iter().map(view).collect()))
}

#[utoipa::path(tag = "notifications", params(("destination_id" = DestinationId, Path)), responses(
    (status = 200, body = DestinationView), (status = 404, body = ErrorBody)))]
#[get("/api/notification-destinations/{destination_id}")]
async fn get_destination(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<DestinationId>,
) -> Result<web::Json<DestinationView>, ApiError> {
    auth.require(
        Action::ViewOrganization,
        Target::Organization,
        "see notification destinations",
    )?;
    let mut conn = state.pool.get().await?;
    let d = Destination::find(&mut conn, auth.organization_id, path.into_inner())
        .await?
        .ok_or_else(|| ApiError::not_found("destination"))?;
    Ok(web::Json(view(&d)))
}

/// A URL whose host is an address the egress policy refuses is refused on its field when
/// saved; names are checked when the message is sent.
fn check_address_literal(state: &AppState, field: &str, url: &str) -> Result<(), ApiError> {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Ok(()); // the request's own validation names a malformed URL
    };
    let (Some(host), Some(port)) = (parsed.host_str(), parsed.port_or_known_default()) else {
        return Ok(());
    };
    hakobu_engine::egress::check_literal_host(state.probes.egress(), host, port)
        .map_err(|e| ApiError::field(field, e.to_string()))
}

/// Settings and sealed secrets of a request; `before` supplies secrets an update left out.
pub(crate) fn split(
    state: &AppState,
    (organization, id): (OrganizationId, DestinationId),
    settings: &DestinationSettings,
    before: Option<&Destination>,
) -> Result<(Value, Value), ApiError> {
    let seal = |field: &str, plain: &str| -> Result<Value, ApiError> {
        let secrets = state.secrets.as_ref().ok_or_else(|| {
            ApiError::Unavailable(
                "The operator has not set HAKOBU_SECRET_KEY, so secrets cannot be saved.".into(),
            )
        })?;
        let slot = SecretSlot::destination(organization, id, field);
        Ok(Value::String(secrets.encrypt(plain, &slot)?))
    };
    let kept = |path: &[&str]| -> Option<Value> {
        let mut v = &before?.secrets;
        for p in path {
            v = v.get(p)?;
        }
        Some(v.clone())
    };
    Ok(match settings {
        DestinationSettings::Slack { webhook_url } => {
            let sealed = match webhook_url {
                Some(url) => {
                    check_address_literal(state, "settings.webhook_url", url)?;
                    seal("webhook_url", url)?
                }
                None => kept(&["webhook_url"]).ok_or_else(|| {
                    ApiError::field("settings.webhook_url", MessageCode::Required)
                })?,
            };
            (json!({}), json!({"webhook_url": sealed}))
        }
        DestinationSettings::Email { address } => {
            (json!({"address": normalize_email(address)}), json!({}))
        }
        DestinationSettings::Webhook { url, headers } => {
            check_address_literal(state, "settings.url", url)?;
            let mut plain = Vec::new();
            let mut sealed = Map::new();
            for (i, h) in headers.iter().enumerate() {
                if h.secret {
                    let value = match &h.value {
                        Some(v) => seal(&format!("headers.{}", h.name), v)?,
                        None => kept(&["headers", &h.name]).ok_or_else(|| {
                            ApiError::field(
                                &format!("settings.headers[{i}].value"),
                                MessageCode::Required,
                            )
                        })?,
                    };
                    sealed.insert(h.name.clone(), value);
                    plain.push(json!({"name": h.name, "secret": true}));
                } else {
                    plain.push(json!({"name": h.name, "value": h.value, "secret": false}));
                }
            }
            (
                json!({"url": url, "headers": plain}),
                json!({"headers": sealed}),
            )
        }
    })
}

/// A fresh confirmation token and its digest and expiry.
pub(crate) fn confirmation() -> (String, Vec<u8>, chrono::DateTime<Utc>) {
    let token = secret_token::generate("");
    let digest = secret_token::digest(&token);
    (
        token,
        digest,
        Utc::now() + Duration::days(CONFIRMATION_DAYS),
    )
}

/// Sends the confirmation link; a failure is logged (the admin can ask for another).
pub(crate) async fn send_confirmation(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    d: &Destination,
    token: &str,
) {
    let Some(mailer) = &state.sender.mailer else {
        return;
    };
    let organization = Organization::find(conn, d.organization_id)
        .await
        .map(|o| o.name)
        .unwrap_or_else(|_| "your organization".to_owned());
    let link = format!(
        "{}/api/notification-destinations/confirm?token={token}",
        state.settings.public_url
    );
    let email = Email {
        to: d.settings["address"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        subject: "Confirm Hakobu notifications to this address".to_owned(),
        body: format!(
            "Someone in {organization} asked Hakobu to send data transfer notifications \
             (\"{}\") to this address.\n\nTo receive them, open this link within \
             {CONFIRMATION_DAYS} days:\n{link}\n\nIf you did not expect this, ignore this \
             message: nothing will be sent.\n",
            d.name
        ),
        message_id: None,
    };
    if let Err(e) = mailer.send(&email).await {
        tracing::warn!(error = format!("{e:#}"), destination_id = %d.id, "sending a confirmation link failed");
    }
}

pub(crate) fn require_mail(state: &AppState, kind: DestinationKind) -> Result<(), ApiError> {
    if kind == DestinationKind::Email && state.sender.mailer.is_none() {
        return Err(ApiError::Conflict {
            message: "Email is not set up on this Hakobu server (HAKOBU_SMTP_HOST), so email \
                      destinations cannot be confirmed. Ask your operator, or use Slack or a webhook."
                .into(),
            field: Some("settings.kind".to_owned()),
        });
    }
    Ok(())
}

/// Adds a destination (organization admins). An email address receives a confirmation
/// link and nothing else until it is followed.
#[utoipa::path(tag = "notifications", request_body = DestinationRequest, responses(
    (status = 201, body = DestinationView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/notification-destinations")]
async fn create_destination(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<DestinationRequest>,
) -> Result<HttpResponse, ApiError> {
    auth.require(
        Action::ManageNotifications,
        Target::Organization,
        "add notification destinations",
    )?;
    let body = body.0;
    body.validate(true).into_result()?;
    let kind = body.settings.kind();
    require_mail(&state, kind)?;
    let id = DestinationId::new();
    let (settings, secrets) = split(&state, (auth.organization_id, id), &body.settings, None)?;
    let (token, digest, expires) = confirmation();
    let email = kind == DestinationKind::Email;
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let d = Destination::insert(
                conn,
                NewDestination {
                    id,
                    organization_id: auth.organization_id,
                    name: body.name.trim(),
                    kind,
                    settings,
                    secrets,
                    confirmed_at: (!email).then(Utc::now),
                    confirm_token_hash: email.then_some(digest.as_slice()),
                    confirm_expires_at: email.then_some(expires),
                    created_by: Some(auth.user_id),
                },
            )
            .await
            .map_err(name_conflict)?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "destination.create",
                "destination",
                d.id,
                json!({"name": d.name, "kind": d.kind, "settings": public_settings(&d)}),
            )
            .await?;
            Ok(d)
        })
        .await?;
    if email {
        send_confirmation(&state, &mut conn, &created, &token).await;
    }
    Ok(HttpResponse::Created().json(view(&created)))
}

/// Changes a destination. Secret values left out are kept; a new email address must be
/// confirmed again.
#[utoipa::path(tag = "notifications", params(("destination_id" = DestinationId, Path)), request_body = DestinationRequest, responses(
    (status = 200, body = DestinationView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/notification-destinations/{destination_id}")]
async fn update_destination(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<DestinationId>,
    body: ApiJson<DestinationRequest>,
) -> Result<web::Json<DestinationView>, ApiError> {
    auth.require(
        Action::ManageNotifications,
        Target::Organization,
        "change notification destinations",
    )?;
    let id = path.into_inner();
    let body = body.0;
    body.validate(false).into_result()?;
    let (token, digest, expires) = confirmation();
    let mut conn = state.pool.get().await?;
    let (updated, reconfirm) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let before = Destination::find(conn, auth.organization_id, id)
                .await?
                .ok_or_else(|| ApiError::not_found("destination"))?;
            if before.kind != body.settings.kind() {
                return Err(ApiError::field(
                    "settings.kind",
                    format!(
                        "cannot change from {} to {}: add a new destination instead",
                        before.kind,
                        body.settings.kind()
                    ),
                ));
            }
            let (settings, secrets) = split(
                &state,
                (before.organization_id, before.id),
                &body.settings,
                Some(&before),
            )?;
            let reconfirm = before.kind == DestinationKind::Email
                && before.settings["address"] != settings["address"];
            if reconfirm {
                require_mail(&state, before.kind)?;
            }
            let (confirmed_at, hash, until) = if reconfirm {
                (None, Some(digest.as_slice()), Some(expires))
            } else {
                (
                    before.confirmed_at,
                    before.confirm_token_hash.as_deref(),
                    before.confirm_expires_at,
                )
            };
            let d = Destination::update(
                conn,
                auth.organization_id,
                id,
                DestinationChangeset {
                    name: body.name.trim(),
                    settings,
                    secrets,
                    confirmed_at,
                    confirm_token_hash: hash,
                    confirm_expires_at: until,
                    updated_at: Utc::now(),
                },
            )
            .await
            .map_err(name_conflict)?
            .ok_or_else(|| ApiError::not_found("destination"))?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "destination.update",
                "destination",
                d.id,
                json!({"before": {"name": before.name, "settings": public_settings(&before)},
                       "after": {"name": d.name, "settings": public_settings(&d)}}),
            )
            .await?;
            Ok((d, reconfirm))
        })
        .await?;
    if reconfirm {
        send_confirmation(&state, &mut conn, &updated, &token).await;
    }
    Ok(web::Json(view(&updated)))
}

/// Deletes a destination with its rules and undelivered notifications.
#[utoipa::path(tag = "notifications", params(("destination_id" = DestinationId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/api/notification-destinations/{destination_id}")]
async fn delete_destination(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<DestinationId>,
) -> Result<HttpResponse, ApiError> {
    auth.require(
        Action::ManageNotifications,
        Target::Organization,
        "delete notification destinations",
    )?;
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let d = Destination::find(conn, auth.organization_id, id)
            .await?
            .ok_or_else(|| ApiError::not_found("destination"))?;
        Destination::delete(conn, auth.organization_id, id).await?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "destination.delete",
            "destination",
            id,
            json!({"name": d.name, "kind": d.kind}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sends a sample message now (a failed run of "Sample job") and says what happened.
#[utoipa::path(tag = "notifications", params(("destination_id" = DestinationId, Path)), responses(
    (status = 200, body = TestSendResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/api/notification-destinations/{destination_id}/test")]
async fn test_destination(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<DestinationId>,
) -> Result<web::Json<TestSendResult>, ApiError> {
    auth.require(
        Action::ManageNotifications,
        Target::Organization,
        "test notification destinations",
    )?;
    let mut conn = state.pool.get().await?;
    let d = Destination::find(&mut conn, auth.organization_id, path.into_inner())
        .await?
        .ok_or_else(|| ApiError::not_found("destination"))?;
    drop(conn);
    if !d.confirmed() {
        return Err(ApiError::Conflict {
            message: MessageCode::NotConfirmedYet.into(),
            field: None,
        });
    }
    let mut context = render::sample_context(NotificationEventKind::Failure);
    context.organization_id = Some(auth.organization_id);
    let outgoing = Outgoing {
        id: NotificationEventId::new(),
        context: &context,
        subject: Some("[Hakobu] Test message: {{ job_name }} {{ status }}"),
        template: None,
        mentions: &[],
    };
    let answer = match state.sender.send(&d, &outgoing).await {
        Ok(status) => TestSendResult::new(
            true,
            match status {
                Some(code) => MessageCode::DeliveredStatus.with("n", code),
                None => MessageCode::DeliveredMail.into(),
            },
        ),
        Err(e) => TestSendResult::new(false, e.message),
    };
    Ok(web::Json(answer))
}

/// Sends the confirmation link of an email destination again (with a new link).
#[utoipa::path(tag = "notifications", params(("destination_id" = DestinationId, Path)), responses(
    (status = 202), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/api/notification-destinations/{destination_id}/confirmation")]
async fn resend_confirmation(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<DestinationId>,
) -> Result<HttpResponse, ApiError> {
    auth.require(
        Action::ManageNotifications,
        Target::Organization,
        "confirm notification destinations",
    )?;
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let d = Destination::find(&mut conn, auth.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("destination"))?;
    if d.kind != DestinationKind::Email || d.confirmed() {
        return Err(ApiError::Conflict {
            message: "Only an email address that is not confirmed yet needs a confirmation link."
                .into(),
            field: None,
        });
    }
    require_mail(&state, d.kind)?;
    let (token, digest, expires) = confirmation();
    let d = Destination::update(
        &mut conn,
        auth.organization_id,
        id,
        DestinationChangeset {
            name: &d.name,
            settings: d.settings.clone(),
            secrets: d.secrets.clone(),
            confirmed_at: None,
            confirm_token_hash: Some(&digest),
            confirm_expires_at: Some(expires),
            updated_at: Utc::now(),
        },
    )
    .await?
    .ok_or_else(|| ApiError::not_found("destination"))?;
    send_confirmation(&state, &mut conn, &d, &token).await;
    Ok(HttpResponse::Accepted().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams, utoipa::ToSchema)]
struct ConfirmQuery {
    /// The token from the confirmation email.
    token: String,
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{0}</title><h1>{0}</h1><p>{1}</p>",
        escape_html(title),
        escape_html(text)
    )
}

fn page_with_form(title: &str, text: &str, token: &str) -> String {
    format!(
        "{}<form method=\"post\" action=\"/api/notification-destinations/confirm\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\"><button type=\"submit\">Confirm</button></form>",
        page(title, text),
        escape_html(token)
    )
}

/// The link in a confirmation email (no sign-in needed) opens a page with a button; only
/// pressing it confirms. Mail scanners and link previews open links on their own, and an
/// address must not be confirmed by one of them.
#[utoipa::path(tag = "notifications", params(ConfirmQuery), responses(
    (status = 200, description = "a page asking to confirm", content_type = "text/html"),
    (status = 404, description = "unknown, used or expired link (an HTML page)", content_type = "text/html")))]
#[get("/api/notification-destinations/confirm")]
async fn confirm_address_page(
    state: web::Data<AppState>,
    query: web::Query<ConfirmQuery>,
) -> Result<HttpResponse, ApiError> {
    let digest = secret_token::digest(&query.token);
    let mut conn = state.pool.get().await?;
    Ok(
        match Destination::find_by_confirm_token(&mut conn, &digest).await? {
            Some(d) => html(
                actix_web::http::StatusCode::OK,
                page_with_form(
                    "Confirm this address",
                    &format!(
                        "Send the Hakobu notifications of \"{}\" to {}?",
                        d.name,
                        d.settings["address"].as_str().unwrap_or_default(),
                    ),
                    &query.token,
                ),
            ),
            None => invalid_link_page(),
        },
    )
}

fn html(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body)
}

fn invalid_link_page() -> HttpResponse {
    html(
        actix_web::http::StatusCode::NOT_FOUND,
        page(
            "Link not valid",
            "This confirmation link is not valid any more: it was used, replaced by a newer one, or has expired.",
        ),
    )
}

/// The button of the confirmation page: from now on the address receives the
/// notifications its rules send.
#[utoipa::path(tag = "notifications", request_body(content = ConfirmQuery, content_type = "application/x-www-form-urlencoded"), responses(
    (status = 200, description = "confirmed (an HTML page)", content_type = "text/html"),
    (status = 404, description = "unknown, used or expired link (an HTML page)", content_type = "text/html")))]
#[post("/api/notification-destinations/confirm")]
async fn confirm_address(
    state: web::Data<AppState>,
    form: web::Form<ConfirmQuery>,
) -> Result<HttpResponse, ApiError> {
    let digest = secret_token::digest(&form.token);
    let mut conn = state.pool.get().await?;
    let confirmed = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let Some(d) = Destination::confirm(conn, &digest).await? else {
                return Ok(None);
            };
            let actor = Actor {
                organization_id: d.organization_id,
                user_id: None,
                email: d.settings["address"].as_str(),
                ip: None,
            };
            audit::record(
                conn,
                &actor,
                "destination.confirm",
                "destination",
                d.id,
                json!({"name": d.name, "address": d.settings["address"]}),
            )
            .await?;
            Ok(Some(d))
        })
        .await?;
    Ok(match confirmed {
        Some(d) => html(
            actix_web::http::StatusCode::OK,
            page(
                "Address confirmed",
                &format!(
                    "{} will now receive the Hakobu notifications of \"{}\".",
                    d.settings["address"].as_str().unwrap_or_default(),
                    d.name
                ),
            ),
        ),
        None => invalid_link_page(),
    })
}
