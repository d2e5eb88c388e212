//! The managed runner's side of the protocol. A runner authenticates with its run token
//! (`Authorization: Bearer`), which names exactly one run: a token used for any other run
//! gets 403. It fetches its config with secrets, posts progress as heartbeats, log lines,
//! and its result.

use crate::error::ApiError;
use crate::extract::{ApiJson, authorize_runner, authorize_runner_report, verify_runner};
use crate::models::connection::Connection;
use crate::models::run::Run;
use crate::runs;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use hakobu_core::api::runs::{
    HeartbeatAnswer, RunnerAssignment, RunnerCommit, RunnerLogBatch, RunnerProgress, RunnerResult,
};
use hakobu_core::ids::RunId;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(assignment)
        .service(heartbeat)
        .service(logs)
        .service(committed)
        .service(result);
}

/// The config to execute, with secrets; marks the run `running`.
#[utoipa::path(tag = "runner", params(("run_id" = RunId, Path)), responses((status = 200, description = "the assignment (config with secrets)"), (status = 403), (status = 409)))]
#[get("/api/runner/runs/{run_id}/assignment")]
async fn assignment(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<RunId>,
) -> Result<web::Json<RunnerAssignment>, ApiError> {
    let id = path.into_inner();
    let token = verify_runner(&req, &state, id)?;
    crate::runs::assign::resolve_variables(&state, id).await?;
    let mut conn = state.pool.get().await?;
    let assignment = crate::runs::assign::start(&state, &mut conn, id, token.launch).await?;
    Ok(web::Json(RunnerAssignment {
        run_id: id,
        config: assignment.config,
        heartbeat_seconds: state.settings.heartbeat_interval.as_secs(),
        egress: state.probes.egress().clone(),
        run_token: Some(state.run_tokens.renew(id)?),
        files_root: assignment
            .files_root
            .map(|folder| folder.to_string_lossy().into_owned()),
    }))
}

/// Progress; answers whether the run was cancelled, and a fresh run token.
#[utoipa::path(tag = "runner", params(("run_id" = RunId, Path)), responses((status = 200, description = "cancel flag and a fresh run token"), (status = 401), (status = 403)))]
#[post("/api/runner/runs/{run_id}/heartbeat")]
async fn heartbeat(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<RunId>,
    body: ApiJson<RunnerProgress>,
) -> Result<web::Json<HeartbeatAnswer>, ApiError> {
    let id = path.into_inner();
    authorize_runner(&req, &state, id)?;
    let p = body.0;
    for (field, value) in [
        ("rows_read", Some(p.rows_read)),
        ("rows_written", Some(p.rows_written)),
        ("bytes_read", Some(p.bytes_read)),
        ("bytes_written", Some(p.bytes_written)),
        ("rows_expected", p.rows_expected),
        ("bytes_expected", p.bytes_expected),
    ] {
        if value.is_some_and(|v| v < 0) {
            return Err(ApiError::field(field, "must be 0 or more"));
        }
    }
    let mut conn = state.pool.get().await?;
    let cancel = Run::record_progress(&mut conn, id, &p).await?;
    // A run that already ended (cancelled while queued, timed out) is told to stop; an
    // active one gets a fresh token.
    let run_token = match cancel {
        Some(_) => Some(state.run_tokens.renew(id)?),
        None => None,
    };
    Ok(web::Json(HeartbeatAnswer {
        cancel: cancel.unwrap_or(true),
        run_token,
    }))
}

/// Log lines, stored in order with known secret values masked.
#[utoipa::path(tag = "runner", params(("run_id" = RunId, Path)), responses((status = 204), (status = 403)))]
#[post("/api/runner/runs/{run_id}/logs")]
async fn logs(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<RunId>,
    body: ApiJson<RunnerLogBatch>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    authorize_runner(&req, &state, id)?;
    if body.0.lines.len() > 1000 {
        return Err(ApiError::field("lines", "send at most 1000 lines at once"));
    }
    let mut conn = state.pool.get().await?;
    let run = Run::find_any(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("run"))?;
    // A run token is good while its run is active: lines that arrive after the end
    // would be written into a finished record by whoever still holds the token.
    if run.status.is_final() {
        return Err(ApiError::Conflict {
            message: format!(
                "The run has ended ({}): its log is closed and takes no more lines.",
                run.status
            )
            .into(),
            field: None,
        });
    }
    let secrets = run_secrets(&state, &mut conn, &run).await?;
    let lines: Vec<(String, String)> = body
        .0
        .lines
        .into_iter()
        .map(|l| {
            let mut message: String = l.message.chars().take(8000).collect();
            for s in secrets.iter().filter(|s| s.len() >= 4) {
                message = message.replace(s.as_str(), "***");
            }
            (l.level.chars().take(10).collect(), message)
        })
        .collect();
    if !lines.is_empty() {
        Run::append_logs(&mut conn, id, &lines).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Every secret value of the run's connections, to mask them in logs.
async fn run_secrets(
    state: &AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    run: &Run,
) -> Result<Vec<String>, ApiError> {
    let job = crate::models::job::Job::find(conn, run.organization_id, run.job_id).await?;
    let mut out = Vec::new();
    if let Some(job) = job {
        for id in [job.source_connection_id, job.destination_connection_id] {
            if let Some(c) = Connection::find(conn, run.organization_id, id).await? {
                out.extend(
                    crate::services::engine_bridge::decrypt_secrets(state, &c)?
                        .into_iter()
                        .filter_map(|(_, v)| v.as_str().map(str::to_owned)),
                );
            }
        }
    }
    Ok(out)
}

/// The destination committed: the counts and the next incremental state, recorded before
/// the data checks and the result, so that a lost result cannot make a committed load look
/// like one that committed nothing. Idempotent; taken with a run token that expired within
/// the report grace. 409 when the run has already ended.
#[utoipa::path(tag = "runner", params(("run_id" = RunId, Path)), responses((status = 204), (status = 401), (status = 403), (status = 409)))]
#[post("/api/runner/runs/{run_id}/committed")]
async fn committed(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<RunId>,
    body: ApiJson<RunnerCommit>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    authorize_runner_report(&req, &state, id)?;
    let mut conn = state.pool.get().await?;
    if !Run::record_commit(&mut conn, id, &body.0).await? {
        return Err(ApiError::Conflict {
            message: "The run has ended: its end already records what happened.".into(),
            field: None,
        });
    }
    Ok(HttpResponse::NoContent().finish())
}

/// How the run ended. Idempotent; taken with a run token that expired within the report
/// grace (a runner retrying through an app restart or a database outage).
#[utoipa::path(tag = "runner", params(("run_id" = RunId, Path)), responses((status = 204), (status = 401), (status = 403)))]
#[post("/api/runner/runs/{run_id}/result")]
async fn result(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<RunId>,
    body: ApiJson<RunnerResult>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    authorize_runner_report(&req, &state, id)?;
    let mut conn = state.pool.get().await?;
    runs::finish(&mut conn, id, body.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
