//! The [`Auth`] extractor: who is calling, in which organization, with which roles.

use crate::auth::{SESSION_COOKIE, secret_token};
use crate::error::ApiError;
use crate::models::api_token::ApiToken;
use crate::models::session;
use crate::models::team::TeamMember;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use hakobu_core::api::tokens::TokenScope;
use hakobu_core::authz::{Action, Decision, Principal, Target, authorize};
use hakobu_core::ids::{ApiTokenId, OrganizationId, SessionId, UserId};
use hakobu_core::messages::MessageCode;
use std::future::Future;
use std::pin::Pin;

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVia {
    Session(SessionId),
    ApiToken(ApiTokenId),
}

/// An authenticated caller. Taking it as a handler argument makes the endpoint require
/// authentication; [`Auth::require`] then asks the policy about the action.
#[derive(Debug, Clone)]
pub struct Auth {
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub email: String,
    pub name: String,
    pub principal: Principal,
    pub via: AuthVia,
    pub ip: ClientIp,
}

impl Auth {
    /// Asks the policy; `what` describes the action for the 403 message.
    pub fn require(&self, action: Action, target: Target<'_>, what: &str) -> Result<(), ApiError> {
        match authorize(&self.principal, action, target) {
            Decision::Allow => Ok(()),
            Decision::Forbidden => Err(ApiError::forbidden_role(what)),
            Decision::Hidden => Err(ApiError::not_found(what_target(target))),
        }
    }
}

fn what_target(target: Target<'_>) -> &'static str {
    match target {
        Target::Organization => "organization",
        Target::Team(_) => "team",
        Target::Resource { .. } => "resource",
    }
}

/// The client's address: the TCP peer, or the right-most `X-Forwarded-For` hop when
/// the operator says a trusted proxy sets it.
///
/// The right-most hop is the one the trusted proxy appended (the address it saw);
/// everything left of it came from the client and can be forged, so taking the
/// left-most would let anyone pick a fresh address per request and escape the
/// per-address limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

impl ClientIp {
    pub fn of(req: &HttpRequest) -> ClientIp {
        let trust_proxy = req
            .app_data::<web::Data<AppState>>()
            .is_some_and(|s| s.settings.trust_proxy_headers);
        let peer = req.peer_addr().map(|a| a.ip().to_string());
        let ip = if trust_proxy {
            forwarded_client(req.headers()).or(peer)
        } else {
            peer
        };
        ClientIp(ip.unwrap_or_else(|| "unknown".to_owned()))
    }
}

/// The right-most non-empty hop of all `X-Forwarded-For` headers (several headers
/// count as one comma-separated list, in order).
fn forwarded_client(headers: &actix_web::http::header::HeaderMap) -> Option<String> {
    headers
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|hop| !hop.is_empty())
        .map(|hop| strip_port(hop).to_owned())
}

fn strip_port(addr: &str) -> &str {
    // `1.2.3.4:5678` -> `1.2.3.4`; IPv6 forms are left alone unless bracketed.
    if let Some(rest) = addr.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(addr);
    }
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            host
        }
        _ => addr,
    }
}

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(ClientIp::of(req)))
    }
}

/// The bearer credential of a request: `Authorization: Bearer` first, then the cookie.
pub fn credential(req: &HttpRequest) -> Option<String> {
    if let Some(header) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))?;
        return Some(token.trim().to_owned());
    }
    req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned())
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("AppState is not registered"))?;
            let token = credential(&req)
                .ok_or_else(|| ApiError::Unauthorized(MessageCode::SignedOut.into()))?;
            let mut conn = state.pool.get().await?;

            let (user, via) = if token.starts_with(secret_token::API_TOKEN_PREFIX) {
                let digest = secret_token::digest(&token);
                let (api_token, user) = ApiToken::authenticate(&mut conn, &digest)
                    .await?
                    .ok_or_else(|| ApiError::Unauthorized("This API token is not valid: it may have been revoked or have expired.".into()))?;
                // A read-only token reads: anything but GET/HEAD is refused before the
                // handler runs, whatever the user's role would allow.
                if api_token.scope == TokenScope::ReadOnly
                    && !matches!(*req.method(), Method::GET | Method::HEAD)
                {
                    return Err(ApiError::Forbidden(MessageCode::ReadOnlyToken.into()));
                }
                (user, AuthVia::ApiToken(api_token.id))
            } else {
                let claims = state
                    .jwt
                    .verify(&token)
                    .ok_or_else(|| ApiError::Unauthorized(MessageCode::SignedOut.into()))?;
                let user = session::live_user(&mut conn, claims.sid, claims.sub, claims.org)
                    .await?
                    .ok_or_else(|| ApiError::Unauthorized(MessageCode::SignedOut.into()))?;
                (user, AuthVia::Session(claims.sid))
            };
            let team_roles = TeamMember::roles_of(&mut conn, user.id).await?;
            let span = tracing::Span::current();
            span.record("user_id", tracing::field::display(user.id));
            span.record(
                "organization_id",
                tracing::field::display(user.organization_id),
            );
            Ok(Auth {
                principal: Principal {
                    org_role: user.org_role,
                    team_roles,
                },
                user_id: user.id,
                organization_id: user.organization_id,
                email: user.email.clone(),
                name: user.name.clone(),
                via,
                ip: ClientIp::of(&req),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{forwarded_client, strip_port};
    use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

    #[test]
    fn the_right_most_forwarded_hop_is_the_client() {
        let mut headers = HeaderMap::new();
        let xff = HeaderName::from_static("x-forwarded-for");
        assert_eq!(forwarded_client(&headers), None);
        headers.append(
            xff.clone(),
            HeaderValue::from_static("6.6.6.6, 10.0.0.7:443"),
        );
        assert_eq!(forwarded_client(&headers).as_deref(), Some("10.0.0.7"));
        headers.append(xff, HeaderValue::from_static("203.0.113.9 , "));
        assert_eq!(forwarded_client(&headers).as_deref(), Some("203.0.113.9"));
    }

    #[test]
    fn ports_are_stripped_from_forwarded_addresses() {
        assert_eq!(strip_port("10.0.0.1:443"), "10.0.0.1");
        assert_eq!(strip_port("10.0.0.1"), "10.0.0.1");
        assert_eq!(strip_port("[::1]:8080"), "::1");
        assert_eq!(strip_port("::1"), "::1");
    }
}
