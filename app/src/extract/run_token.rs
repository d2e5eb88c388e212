//! The run token of a runner's request: bound to exactly one run, 401 when missing,
//! invalid or expired, 403 for another run's token.

use crate::auth::run_token::{RunTokenRefusal, VerifiedRunToken};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::HttpRequest;
use hakobu_core::ids::RunId;
use std::time::Duration;

/// The request's run token, if it is bound to the run named in the path: 401 when it is
/// missing, invalid or expired, 403 when it belongs to another run.
pub fn verify_runner(
    req: &HttpRequest,
    state: &AppState,
    run: RunId,
) -> Result<VerifiedRunToken, ApiError> {
    verify_runner_within(req, state, run, Duration::ZERO)
}

/// How long after its run token expired a runner may still report its commit and result:
/// longer than a runner keeps trying (`hakobu-runner`'s report patience, 30 minutes), so
/// a report held up by an app restart or a database outage is still taken.
pub const REPORT_GRACE: Duration = Duration::from_secs(45 * 60);

/// As [`authorize_runner`] for the commit and the result: a run token that expired less
/// than [`REPORT_GRACE`] ago is still good (the caller checks that the run is active).
pub fn authorize_runner_report(
    req: &HttpRequest,
    state: &AppState,
    run: RunId,
) -> Result<(), ApiError> {
    refuse_launch_token(verify_runner_within(req, state, run, REPORT_GRACE)?)
}

fn verify_runner_within(
    req: &HttpRequest,
    state: &AppState,
    run: RunId,
    grace: Duration,
) -> Result<VerifiedRunToken, ApiError> {
    let token = super::credential(req)
        .ok_or_else(|| ApiError::Unauthorized("A run token is required.".into()))?;
    match state.run_tokens.verify_expired_within(&token, grace) {
        Ok(verified) if verified.run == run => Ok(verified),
        Ok(_) => Err(ApiError::Forbidden(
            "This run token belongs to another run.".into(),
        )),
        Err(RunTokenRefusal::Expired) => Err(ApiError::Unauthorized(
            "The run token has expired: a runner gets a fresh one with every heartbeat.".into(),
        )),
        Err(RunTokenRefusal::Invalid) => {
            Err(ApiError::Unauthorized("The run token is not valid.".into()))
        }
    }
}

/// As [`verify_runner`], and refuses launch tokens: they only fetch the assignment.
pub fn authorize_runner(req: &HttpRequest, state: &AppState, run: RunId) -> Result<(), ApiError> {
    refuse_launch_token(verify_runner(req, state, run)?)
}

fn refuse_launch_token(token: VerifiedRunToken) -> Result<(), ApiError> {
    if token.launch {
        return Err(ApiError::Unauthorized(
            "A launch token only fetches the assignment; use the run token the assignment answered."
                .into(),
        ));
    }
    Ok(())
}
