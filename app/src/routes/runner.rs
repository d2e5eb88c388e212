//! The managed runner's side of the protocol. A runner authenticates with its run token
//! (`Authorization: Bearer`), which names exactly one run: a token used for any other run
//! gets 403. It fetches its config with secrets, posts progress as heartbeats, log lines,
//! and its result.

use crate::auth::run_token::{RunTokenRefusal, VerifiedRunToken};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::models::connection::Connection;
use crate::models::run::Run;
use crate::runs;
use crate::schema::runs as runs_table;
use crate::startup::AppState;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use hakobu_core::api::runs::{
    HeartbeatAnswer, RunStatus, RunnerAssignment, RunnerLogBatch, RunnerProgress, RunnerResult,
};
use hakobu_core::ids::RunId;
use hakobu_core::job::JobSettings;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(assignment)
        .service(heartbeat)
        .service(logs)
        .service(result);
}

/// The request's run token, if it is bound to the run named in the path: 401 when it is
/// missing, invalid or expired, 403 when it belongs to another run.
fn verify_runner(
    req: &HttpRequest,
    state: &AppState,
    run: RunId,
) -> Result<VerifiedRunToken, ApiError> {
    let token = crate::auth::credential_of(req)
        .ok_or_else(|| ApiError::Unauthorized("A run token is required.".to_owned()))?;
    match state.run_tokens.verify(&token) {
        Ok(verified) if verified.run == run => Ok(verified),
        Ok(_) => Err(ApiError::Forbidden(
            "This run token belongs to another run.".to_owned(),
        )),
        Err(RunTokenRefusal::Expired) => Err(ApiError::Unauthorized(
            "The run token has expired: a runner gets a fresh one with every heartbeat.".to_owned(),
        )),
        Err(RunTokenRefusal::Invalid) => Err(ApiError::Unauthorized(
            "The run token is not valid.".to_owned(),
        )),
    }
}

/// As [`verify_runner`], and refuses launch tokens: they only fetch the assignment.
pub(super) fn authorize_runner(
    req: &HttpRequest,
    state: &AppState,
    run: RunId,
) -> Result<(), ApiError> {
    if verify_runner(req, state, run)?.launch {
        return Err(ApiError::Unauthorized(
            "A launch token only fetches the assignment; use the run token the assignment answered."
                .to_owned(),
        ));
    }
    Ok(())
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
    let mut conn = state.pool.get().await?;
    let run = Run::find_any(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("run"))?;
    if run.status.is_final() || run.cancel_requested {
        return Err(ApiError::Conflict {
            message: format!("The run has ended ({}).", run.status),
            field: None,
        });
    }
    let snapshot = run
        .config_snapshot
        .clone()
        .ok_or_else(|| ApiError::Conflict {
            message: "The run has not been dispatched.".to_owned(),
            field: None,
        })?;
    let revision = crate::models::job::Job::revision(
        &mut conn,
        run.organization_id,
        run.job_id,
        run.job_revision,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("job revision"))?;
    let settings: JobSettings =
        serde_json::from_value(revision.settings).map_err(anyhow::Error::from)?;
    let prepared =
        match crate::variables::prepare_run(&state, &mut conn, &run, settings, snapshot).await {
            Ok(p) => p,
            Err(crate::variables::Refusal(message)) => {
                runs::finish(&mut conn, id, runs::failure(&message)).await?;
                return Err(ApiError::Conflict {
                    message,
                    field: None,
                });
            }
        };
    let settings = prepared.settings;
    let mut secrets = Vec::new();
    for (role, id) in [
        ("source", settings.source.connection_id),
        ("destination", settings.destination.connection_id),
    ] {
        let c = Connection::find(&mut conn, run.organization_id, id)
            .await?
            .ok_or_else(|| ApiError::not_found("connection"))?;
        secrets.push((role, super::engine_bridge::decrypt_secrets(&state, &c)?));
    }
    let config = crate::variables::fill_secrets(&prepared.snapshot, &secrets)?;
    // A launch token is spent by the fetch that starts the run: a copy read from the
    // launcher (task overrides, process environment) cannot fetch the secrets again.
    let startable = if token.launch {
        vec![RunStatus::Starting]
    } else {
        vec![RunStatus::Starting, RunStatus::Running]
    };
    let started = diesel::update(runs_table::table.find(id))
        .filter(runs_table::status.eq_any(startable))
        .set((
            runs_table::status.eq(RunStatus::Running),
            runs_table::heartbeat_at.eq(diesel::dsl::now),
        ))
        .execute(&mut conn)
        .await?;
    if started == 0 {
        return Err(ApiError::Conflict {
            message: "This launch token was already used: the run's runner has started.".to_owned(),
            field: None,
        });
    }
    Ok(web::Json(RunnerAssignment {
        run_id: id,
        config,
        heartbeat_seconds: state.settings.heartbeat_interval.as_secs(),
        run_token: Some(state.run_tokens.renew(id)?),
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
    let mut conn = state.pool.get().await?;
    let cancel: Option<bool> = diesel::update(runs_table::table.find(id))
        .filter(runs_table::status.eq_any([RunStatus::Starting, RunStatus::Running]))
        .set((
            runs_table::rows_read.eq(p.rows_read),
            runs_table::rows_written.eq(p.rows_written),
            runs_table::bytes_read.eq(p.bytes_read),
            runs_table::heartbeat_at.eq(diesel::dsl::now),
        ))
        .returning(runs_table::cancel_requested)
        .get_result(&mut conn)
        .await
        .optional()?;
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
                    super::engine_bridge::decrypt_secrets(state, &c)?
                        .into_iter()
                        .filter_map(|(_, v)| v.as_str().map(str::to_owned)),
                );
            }
        }
    }
    Ok(out)
}

/// How the run ended. Idempotent.
#[utoipa::path(tag = "runner", params(("run_id" = RunId, Path)), responses((status = 204), (status = 403)))]
#[post("/api/runner/runs/{run_id}/result")]
async fn result(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<RunId>,
    body: ApiJson<RunnerResult>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    authorize_runner(&req, &state, id)?;
    let mut conn = state.pool.get().await?;
    runs::finish(&mut conn, id, body.0).await?;
    Ok(HttpResponse::NoContent().finish())
}
