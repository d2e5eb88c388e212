//! The run token of a runner's request: bound to exactly one run, 401 when missing,
//! invalid or expired, 403 for another run's token.

use crate::auth::run_token::{RunTokenRefusal, VerifiedRunToken};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::HttpRequest;
use hakobu_core::ids::RunId;

/// The request's run token, if it is bound to the run named in the path: 401 when it is
/// missing, invalid or expired, 403 when it belongs to another run.
pub fn verify_runner(
    req: &HttpRequest,
    state: &AppState,
    run: RunId,
) -> Result<VerifiedRunToken, ApiError> {
    let token = super::credential(req)
        .ok_or_else(|| ApiError::Unauthorized("A run token is required.".into()))?;
    match state.run_tokens.verify(&token) {
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
    if verify_runner(req, state, run)?.launch {
        return Err(ApiError::Unauthorized(
            "A launch token only fetches the assignment; use the run token the assignment answered."
                .into(),
        ));
    }
    Ok(())
}
