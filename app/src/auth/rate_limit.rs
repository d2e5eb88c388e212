//! Sign-in rate limits, per account and per client address.
//!
//! Attempts are rows in PostgreSQL rather than counters in memory, so the limits hold
//! across app replicas and restarts. A successful sign-in clears the account's count.

use crate::error::ApiError;
use crate::models::login_attempt;
use crate::settings::LoginLimits;
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use hakobu_core::messages::MessageCode;

/// Refuses the attempt when either limit is reached, before the password is checked.
pub async fn check(
    conn: &mut AsyncPgConnection,
    limits: &LoginLimits,
    email: &str,
    ip: &str,
) -> Result<(), ApiError> {
    let since = Utc::now() - limits.window;
    let retry_after_secs = limits.window.as_secs();
    if login_attempt::failures_for_email(conn, email, since).await?
        >= limits.max_failures_per_account
    {
        return Err(ApiError::TooManyRequests {
            message: MessageCode::TooManyFailuresAccount
                .with("n", retry_after_secs / 60)
                .into(),
            retry_after_secs,
        });
    }
    if login_attempt::failures_for_ip(conn, ip, since).await? >= limits.max_failures_per_ip {
        return Err(ApiError::TooManyRequests {
            message: MessageCode::TooManyFailuresAddress
                .with("n", retry_after_secs / 60)
                .into(),
            retry_after_secs,
        });
    }
    Ok(())
}
