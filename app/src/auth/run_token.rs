//! Run tokens: the only credential a runner gets. A JWT bound to one run, with its own
//! audience so a session token can never pass for one (and the reverse).
//!
//! Two kinds: the *launch* token travels with the runner (process environment, ECS
//! override, Kubernetes Secret) and fetches the assignment once, while the run is still
//! `starting`; the assignment answers a short-lived run token that every heartbeat renews.
//! So the token a launcher handed over is spent once the runner has started, and a token
//! taken from a runner stops working a few minutes after its heartbeats stop.

use chrono::{DateTime, Utc};
use hakobu_core::ids::RunId;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::Duration;

const AUDIENCE: &str = "hakobu-runner";
/// Replicas' clocks may differ by a little.
const LEEWAY_SECONDS: u64 = 5;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunClaims {
    pub run: RunId,
    pub aud: String,
    pub exp: i64,
    /// A launch token: good for fetching the assignment once, nothing else.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub launch: bool,
}

/// A token that passed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedRunToken {
    pub run: RunId,
    pub launch: bool,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunTokenRefusal {
    Expired,
    /// Not a run token of this app (bad signature, wrong audience, garbage).
    Invalid,
}

#[derive(Clone)]
pub struct RunTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    launch_lifetime: Duration,
    lifetime: Duration,
}

impl std::fmt::Debug for RunTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunTokens(<redacted>)")
    }
}

impl RunTokens {
    /// Keys derived from the app's JWT secret with a distinct suffix; launch tokens last
    /// 15 minutes and run tokens 5 until [`RunTokens::with_lifetimes`] says otherwise.
    pub fn new(jwt_secret: &str) -> Self {
        let key = format!("{jwt_secret}:run-tokens");
        RunTokens {
            encoding: EncodingKey::from_secret(key.as_bytes()),
            decoding: DecodingKey::from_secret(key.as_bytes()),
            launch_lifetime: Duration::from_secs(15 * 60),
            lifetime: Duration::from_secs(5 * 60),
        }
    }

    pub fn with_lifetimes(mut self, launch: Duration, renewed: Duration) -> Self {
        self.launch_lifetime = launch;
        self.lifetime = renewed;
        self
    }

    fn encode(&self, run: RunId, expires: DateTime<Utc>, launch: bool) -> anyhow::Result<String> {
        let claims = RunClaims {
            run,
            aud: AUDIENCE.to_owned(),
            exp: expires.timestamp(),
            launch,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// A run token (not a launch token) expiring at `expires`.
    pub fn issue(&self, run: RunId, expires: DateTime<Utc>) -> anyhow::Result<String> {
        self.encode(run, expires, false)
    }

    /// The token a launcher hands to a new runner.
    pub fn issue_launch(&self, run: RunId) -> anyhow::Result<String> {
        self.encode(run, Utc::now() + self.launch_lifetime, true)
    }

    /// A fresh run token, answered with the assignment and every heartbeat.
    pub fn renew(&self, run: RunId) -> anyhow::Result<String> {
        self.encode(run, Utc::now() + self.lifetime, false)
    }

    /// The run a valid, unexpired token is bound to, and its kind.
    pub fn verify(&self, token: &str) -> Result<VerifiedRunToken, RunTokenRefusal> {
        self.verify_expired_within(token, Duration::ZERO)
    }

    /// As [`RunTokens::verify`], and accepts a token that expired less than `grace` ago:
    /// for the reports that must reach the app after an outage (a commit, a result), when
    /// the runner could not renew its token meanwhile.
    pub fn verify_expired_within(
        &self,
        token: &str,
        grace: Duration,
    ) -> Result<VerifiedRunToken, RunTokenRefusal> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        validation.leeway = LEEWAY_SECONDS + grace.as_secs();
        match jsonwebtoken::decode::<RunClaims>(token, &self.decoding, &validation) {
            Ok(data) => Ok(VerifiedRunToken {
                run: data.claims.run,
                launch: data.claims.launch,
            }),
            Err(e) if matches!(e.kind(), ErrorKind::ExpiredSignature) => {
                Err(RunTokenRefusal::Expired)
            }
            Err(_) => Err(RunTokenRefusal::Invalid),
        }
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
        assert_eq!(
            tokens.verify(&token),
            Ok(VerifiedRunToken { run, launch: false })
        );
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
        assert_eq!(
            tokens.verify(&session),
            Err(RunTokenRefusal::Invalid),
            "a session token is no run token"
        );
        let expired = tokens
            .issue(run, Utc::now() - Duration::minutes(5))
            .unwrap();
        assert_eq!(tokens.verify(&expired), Err(RunTokenRefusal::Expired));
        let other_app = RunTokens::new("another-secret-another-secret-0000");
        assert_eq!(other_app.verify(&token), Err(RunTokenRefusal::Invalid));
    }

    #[test]
    fn reports_accept_a_token_expired_within_their_grace_only() {
        let tokens = RunTokens::new("0123456789abcdef0123456789abcdef");
        let run = RunId::new();
        let expired = tokens
            .issue(run, Utc::now() - Duration::minutes(10))
            .unwrap();
        let grace = std::time::Duration::from_secs(30 * 60);
        assert_eq!(tokens.verify(&expired), Err(RunTokenRefusal::Expired));
        assert_eq!(
            tokens.verify_expired_within(&expired, grace),
            Ok(VerifiedRunToken { run, launch: false })
        );
        let long_expired = tokens
            .issue(run, Utc::now() - Duration::minutes(31))
            .unwrap();
        assert_eq!(
            tokens.verify_expired_within(&long_expired, grace),
            Err(RunTokenRefusal::Expired)
        );
    }

    #[test]
    fn launch_and_renewed_tokens_have_their_lifetimes() {
        let tokens = RunTokens::new("0123456789abcdef0123456789abcdef").with_lifetimes(
            std::time::Duration::from_secs(900),
            std::time::Duration::from_secs(120),
        );
        let run = RunId::new();
        let claims = |token: &str| {
            let mut v = Validation::new(Algorithm::HS256);
            v.set_audience(&[AUDIENCE]);
            jsonwebtoken::decode::<RunClaims>(token, &tokens.decoding, &v)
                .unwrap()
                .claims
        };
        let launch = tokens.issue_launch(run).unwrap();
        let renewed = tokens.renew(run).unwrap();
        let now = Utc::now().timestamp();
        assert!(claims(&launch).launch);
        assert!((claims(&launch).exp - now - 900).abs() <= 2);
        assert!(!claims(&renewed).launch);
        assert!((claims(&renewed).exp - now - 120).abs() <= 2);
        assert_eq!(
            tokens.verify(&launch),
            Ok(VerifiedRunToken { run, launch: true })
        );
    }
}
