//! Session tokens: HS256 JWTs naming the user, organization and session.
//!
//! The signature proves the token was issued here; the session row (looked up on every
//! request) makes logout and password changes revoke tokens before they expire.

use chrono::{DateTime, Utc};
use hakobu_core::ids::{OrganizationId, SessionId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: UserId,
    pub org: OrganizationId,
    /// The session id; also the token's `jti`.
    pub sid: SessionId,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(<redacted>)")
    }
}

impl JwtKeys {
    pub fn new(secret: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    pub fn issue(
        &self,
        user: UserId,
        org: OrganizationId,
        session: SessionId,
        issued: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let claims = Claims {
            sub: user,
            org,
            sid: session,
            iat: issued.timestamp(),
            exp: expires.timestamp(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The claims of a token signed here and not expired; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn issued_tokens_verify_and_forged_or_expired_do_not() {
        let keys = JwtKeys::new("0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let (user, org, sid) = (UserId::new(), OrganizationId::new(), SessionId::new());
        let token = keys
            .issue(user, org, sid, now, now + Duration::hours(1))
            .unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub, claims.org, claims.sid), (user, org, sid));

        let other = JwtKeys::new("another secret another secret 12");
        let forged = other
            .issue(user, org, sid, now, now + Duration::hours(1))
            .unwrap();
        assert!(keys.verify(&forged).is_none());

        let expired = keys
            .issue(
                user,
                org,
                sid,
                now - Duration::hours(2),
                now - Duration::hours(1),
            )
            .unwrap();
        assert!(keys.verify(&expired).is_none());
        assert!(keys.verify("not.a.jwt").is_none());
    }
}
