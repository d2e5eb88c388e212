//! Run tokens: the only credential a runner gets. A JWT bound to one run, with its own
//! audience so a session token can never pass for one (and the reverse).

use chrono::{DateTime, Utc};
use hakobu_core::ids::RunId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const AUDIENCE: &str = "hakobu-runner";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunClaims {
    pub run: RunId,
    pub aud: String,
    pub exp: i64,
}

#[derive(Clone)]
pub struct RunTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for RunTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunTokens(<redacted>)")
    }
}

impl RunTokens {
    /// Keys derived from the app's JWT secret with a distinct suffix.
    pub fn new(jwt_secret: &str) -> Self {
        let key = format!("{jwt_secret}:run-tokens");
        RunTokens {
            encoding: EncodingKey::from_secret(key.as_bytes()),
            decoding: DecodingKey::from_secret(key.as_bytes()),
        }
    }

    pub fn issue(&self, run: RunId, expires: DateTime<Utc>) -> anyhow::Result<String> {
        let claims = RunClaims {
            run,
            aud: AUDIENCE.to_owned(),
            exp: expires.timestamp(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The run a valid, unexpired token is bound to.
    pub fn verify(&self, token: &str) -> Option<RunId> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        jsonwebtoken::decode::<RunClaims>(token, &self.decoding, &validation)
            .ok()
            .map(|d| d.claims.run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwt::JwtKeys;
    use chrono::Duration;
    use hakobu_core::ids::{OrganizationId, SessionId, UserId};

    #[test]
    fn run_tokens_and_session_tokens_do_not_mix() {
        let secret = "0123456789abcdef0123456789abcdef";
        let tokens = RunTokens::new(secret);
        let run = RunId::new();
        let token = tokens
            .issue(run, Utc::now() + Duration::minutes(5))
            .unwrap();
        assert_eq!(tokens.verify(&token), Some(run));
        assert!(
            JwtKeys::new(secret).verify(&token).is_none(),
            "a run token is no session"
        );
        let now = Utc::now();
        let session = JwtKeys::new(secret)
            .issue(
                UserId::new(),
                OrganizationId::new(),
                SessionId::new(),
                now,
                now + Duration::hours(1),
            )
            .unwrap();
        assert!(
            tokens.verify(&session).is_none(),
            "a session token is no run token"
        );
        let expired = tokens
            .issue(run, Utc::now() - Duration::minutes(5))
            .unwrap();
        assert!(tokens.verify(&expired).is_none());
    }
}
