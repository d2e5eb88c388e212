//! Sign-up, sign-in, sign-out, the current user, password change, invitation acceptance.

use crate::audit::{self, Actor};
use crate::auth::{SESSION_COOKIE, password, rate_limit, secret_token};
use crate::error::{ApiError, is_unique_violation};
use crate::extract::ApiJson;
use crate::extract::{Auth, AuthVia, ClientIp};
use crate::limiter::AccountAction;
use crate::models::api_token::ApiToken;
use crate::models::invitation::Invitation;
use crate::models::login_attempt;
use crate::models::organization::Organization;
use crate::models::session::{self, NewSession};
use crate::models::team::{Team, TeamMember};
use crate::models::user::{NewUser, User};
use crate::services::organizations::{DEFAULT_TEAM_NAME, create_organization};
use crate::state::AppState;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::api::auth::{
    AcceptInvitationRequest, ChangePasswordRequest, InvitationPreview, LoginRequest, Me, MyTeam,
    SessionResponse, SignupRequest,
};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::ids::{SessionId, UserId};
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::normalize_email;
use serde::Deserialize;
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(signup)
        .service(login)
        .service(logout)
        .service(me)
        .service(change_password)
        .service(lookup_invitation)
        .service(accept_invitation);
}

/// Creates an organization, its owner and a first team, and signs the owner in.
#[utoipa::path(tag = "auth", request_body = SignupRequest, responses(
    (status = 201, body = SessionResponse),
    (status = 409, body = ErrorBody, description = "the email is taken"),
    (status = 422, body = ErrorBody),
    (status = 429, body = ErrorBody, description = "too many sign-ups from this address")))]
#[post("/api/auth/signup")]
async fn signup(
    req: HttpRequest,
    state: web::Data<AppState>,
    ip: ClientIp,
    body: ApiJson<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    body.validate()?;
    state
        .limiter
        .account_action(&state.settings.abuse_limits, AccountAction::SignUp, &ip.0)?;
    let email = normalize_email(&body.email);
    let password_hash = password::hash(body.password.clone()).await?;
    let mut conn = state.pool.get().await?;
    let user = create_organization(
        &mut conn,
        body.organization_name.trim(),
        body.name.trim(),
        &email,
        &password_hash,
        body.first_team_name
            .as_deref()
            .map(str::trim)
            .unwrap_or(DEFAULT_TEAM_NAME),
        Some(&ip.0),
    )
    .await?;
    let response = start_session(&mut conn, &state, &req, &user, &ip).await?;
    Ok(with_session_cookie(HttpResponse::Created(), &state, &response).json(response))
}

/// Signs in with email and password.
#[utoipa::path(tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = SessionResponse),
    (status = 401, body = ErrorBody, description = "wrong email or password"),
    (status = 429, body = ErrorBody, description = "too many failed attempts")))]
#[post("/api/auth/login")]
async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    ip: ClientIp,
    body: ApiJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    body.validate()?;
    let email = normalize_email(&body.email);
    let mut conn = state.pool.get().await?;
    rate_limit::check(&mut conn, &state.settings.login_limits, &email, &ip.0).await?;
    let user = User::find_by_email(&mut conn, &email).await?;
    let ok = password::verify(
        body.password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    login_attempt::record(&mut conn, &email, &ip.0, ok).await?;
    let user = match (ok, user) {
        (true, Some(user)) => user,
        _ => {
            tracing::info!(ip = %ip.0, "failed sign-in");
            return Err(ApiError::Unauthorized(MessageCode::WrongPassword.into()));
        }
    };
    let response = start_session(&mut conn, &state, &req, &user, &ip).await?;
    Ok(with_session_cookie(HttpResponse::Ok(), &state, &response).json(response))
}

/// Signs out: the session's token stops working at once, and the cookie is cleared.
#[utoipa::path(tag = "auth", responses((status = 204), (status = 401, body = ErrorBody)))]
#[post("/api/auth/logout")]
async fn logout(state: web::Data<AppState>, auth: Auth) -> Result<HttpResponse, ApiError> {
    if let AuthVia::Session(sid) = auth.via {
        let mut conn = state.pool.get().await?;
        session::revoke(&mut conn, sid).await?;
    }
    let mut expired = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.secure_cookies())
        .finish();
    expired.make_removal();
    Ok(HttpResponse::NoContent().cookie(expired).finish())
}

/// The signed-in user, their organization and team roles.
#[utoipa::path(tag = "auth", responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
#[get("/api/me")]
async fn me(state: web::Data<AppState>, auth: Auth) -> Result<web::Json<Me>, ApiError> {
    let mut conn = state.pool.get().await?;
    let user = User::find(&mut conn, auth.organization_id, auth.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized(MessageCode::AccountGone.into()))?;
    Ok(web::Json(load_me(&mut conn, &user).await?))
}

async fn load_me(conn: &mut AsyncPgConnection, user: &User) -> Result<Me, ApiError> {
    let org = Organization::find(conn, user.organization_id).await?;
    let teams = TeamMember::teams_of(conn, user.id).await?;
    Ok(Me {
        user_id: user.id,
        name: user.name.clone(),
        email: user.email.clone(),
        organization_id: org.id,
        organization_name: org.name,
        org_role: user.org_role,
        teams: teams
            .into_iter()
            .map(|(team_id, name, role)| MyTeam {
                team_id,
                name,
                role,
            })
            .collect(),
    })
}

/// Changes the caller's password and signs out every other session.
#[utoipa::path(tag = "auth", request_body = ChangePasswordRequest, responses(
    (status = 204), (status = 422, body = ErrorBody, description = "wrong current password or weak new one")))]
#[post("/api/me/password")]
async fn change_password(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    body.validate()?;
    let mut conn = state.pool.get().await?;
    let user = User::find(&mut conn, auth.organization_id, auth.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized(MessageCode::AccountGone.into()))?;
    if !password::verify(body.current_password, Some(user.password_hash.clone())).await? {
        return Err(ApiError::field(
            "current_password",
            MessageCode::NotCurrentPassword,
        ));
    }
    let new_hash = password::hash(body.new_password).await?;
    let keep = match auth.via {
        AuthVia::Session(sid) => Some(sid),
        AuthVia::ApiToken(_) => None,
    };
    conn.transaction::<_, ApiError, _>(async |conn| {
        User::set_password_hash(conn, user.id, &new_hash).await?;
        let revoked = session::revoke_all_but(conn, user.id, keep).await?;
        // Whoever knew the old password may have made API tokens with it.
        let tokens_revoked = ApiToken::revoke_all(conn, user.id).await?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "member.password_change",
            "user",
            user.id,
            json!({"other_sessions_revoked": revoked, "api_tokens_revoked": tokens_revoked}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
struct InvitationTokenQuery {
    /// The token from the invitation link.
    token: String,
}

/// Looks up an invitation link (no sign-in needed).
#[utoipa::path(tag = "auth", params(InvitationTokenQuery), responses(
    (status = 200, body = InvitationPreview), (status = 404, body = ErrorBody)))]
#[get("/api/invitations/lookup")]
async fn lookup_invitation(
    state: web::Data<AppState>,
    query: web::Query<InvitationTokenQuery>,
) -> Result<web::Json<InvitationPreview>, ApiError> {
    let mut conn = state.pool.get().await?;
    let invitation =
        Invitation::find_pending_by_token(&mut conn, &secret_token::digest(&query.token), false)
            .await?
            .ok_or_else(|| ApiError::NotFound(MessageCode::InvalidInvitation.into()))?;
    let org = Organization::find(&mut conn, invitation.organization_id).await?;
    Ok(web::Json(InvitationPreview {
        organization_name: org.name,
        email: invitation.email,
        expires_at: invitation.expires_at,
    }))
}

/// Accepts an invitation: creates the account, joins its teams, and signs in.
#[utoipa::path(tag = "auth", request_body = AcceptInvitationRequest, responses(
    (status = 201, body = SessionResponse),
    (status = 404, body = ErrorBody, description = "used, withdrawn or expired link"),
    (status = 409, body = ErrorBody),
    (status = 429, body = ErrorBody, description = "too many acceptances from this address")))]
#[post("/api/invitations/accept")]
async fn accept_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    ip: ClientIp,
    body: ApiJson<AcceptInvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    body.validate()?;
    state.limiter.account_action(
        &state.settings.abuse_limits,
        AccountAction::InvitationAcceptance,
        &ip.0,
    )?;
    let password_hash = password::hash(body.password.clone()).await?;
    let digest = secret_token::digest(&body.token);
    let mut conn = state.pool.get().await?;
    let user = conn
        .transaction::<_, ApiError, _>(async |conn| {
            // The row lock makes a link single-use even when clicked twice at once.
            let invitation = Invitation::find_pending_by_token(conn, &digest, true)
                .await?
                .ok_or_else(|| ApiError::NotFound(MessageCode::InvalidInvitation.into()))?;
            let user = User::insert(
                conn,
                NewUser {
                    id: UserId::new(),
                    organization_id: invitation.organization_id,
                    email: &invitation.email,
                    name: body.name.trim(),
                    password_hash: &password_hash,
                    org_role: invitation.org_role,
                },
            )
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::conflict("token", MessageCode::DuplicateAccount)
                } else {
                    e.into()
                }
            })?;
            let mut joined = Vec::new();
            for grant in invitation.team_grants() {
                // A team deleted since the invitation was sent is skipped.
                if Team::find(conn, invitation.organization_id, grant.team_id)
                    .await?
                    .is_some()
                {
                    TeamMember::upsert(
                        conn,
                        invitation.organization_id,
                        grant.team_id,
                        user.id,
                        grant.role,
                    )
                    .await?;
                    joined.push(json!({"team_id": grant.team_id, "role": grant.role}));
                }
            }
            Invitation::mark_accepted(conn, invitation.id).await?;
            let actor = Actor {
                organization_id: invitation.organization_id,
                user_id: Some(user.id),
                email: Some(&user.email),
                ip: Some(&ip.0),
            };
            audit::record(
                conn,
                &actor,
                "invitation.accept",
                "invitation",
                invitation.id,
                json!({
                    "email": user.email, "org_role": user.org_role, "teams": joined,
                }),
            )
            .await?;
            Ok(user)
        })
        .await?;
    let response = start_session(&mut conn, &state, &req, &user, &ip).await?;
    Ok(with_session_cookie(HttpResponse::Created(), &state, &response).json(response))
}

/// Records a new session and issues its JWT.
async fn start_session(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    req: &HttpRequest,
    user: &User,
    ip: &ClientIp,
) -> Result<SessionResponse, ApiError> {
    let now = Utc::now();
    let expires_at = now + state.settings.session_lifetime;
    let sid = SessionId::new();
    let user_agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(300).collect::<String>());
    session::insert(
        conn,
        NewSession {
            id: sid,
            user_id: user.id,
            organization_id: user.organization_id,
            expires_at,
            ip: Some(&ip.0),
            user_agent: user_agent.as_deref(),
        },
    )
    .await?;
    let token = state
        .jwt
        .issue(user.id, user.organization_id, sid, now, expires_at)?;
    Ok(SessionResponse {
        token,
        expires_at,
        me: load_me(conn, user).await?,
    })
}

fn with_session_cookie(
    mut builder: actix_web::HttpResponseBuilder,
    state: &AppState,
    session: &SessionResponse,
) -> actix_web::HttpResponseBuilder {
    let max_age = CookieDuration::seconds(state.settings.session_lifetime.as_secs() as i64);
    builder.cookie(
        Cookie::build(SESSION_COOKIE, session.token.clone())
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(state.settings.secure_cookies())
            .max_age(max_age)
            .finish(),
    );
    builder
}
