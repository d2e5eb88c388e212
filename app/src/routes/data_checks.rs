//! Data checks: the runner's side (fetch the run's checks with their connections, report
//! outcomes), a run's check results for users, "run this check now" for the job form, and
//! the save-time rule that a check's connection is a database the caller may use.

use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::extract::Auth;
use crate::extract::authorize_runner;
use crate::models::connection::Connection;
use crate::models::job::Job;
use crate::models::run::Run;
use crate::models::run_check::{NewRunCheck, RunCheck};
use crate::services::access::load_authorized;
use crate::services::engine_bridge;
use crate::services::jobs::load_job;
use crate::services::warehouses::{self, Browse};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use diesel_async::AsyncPgConnection;
use hakobu_core::api::error::ErrorBody;
use hakobu_core::authz::Action;
use hakobu_core::ids::RunId;
use hakobu_core::job::JobSettings;
use hakobu_core::job::checks::{
    AssignedCheck, CheckPreviewRequest, CheckPreviewResponse, CheckReports, CheckResultView,
};
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(runner_checks)
        .service(report_checks)
        .service(run_checks)
        .service(preview_check);
}

/// The settings of the run's job revision.
async fn run_settings(conn: &mut AsyncPgConnection, run: &Run) -> Result<JobSettings, ApiError> {
    let revision = Job::revision(conn, run.organization_id, run.job_id, run.job_revision)
        .await?
        .ok_or_else(|| ApiError::not_found("job revision"))?;
    Ok(serde_json::from_value(revision.settings).map_err(anyhow::Error::from)?)
}

/// The run's data checks with their connections' settings and passwords (run token).
#[utoipa::path(tag = "runner", params(("run_id" = RunId, Path)), responses((status = 200, description = "the checks, with secrets"), (status = 401), (status = 403)))]
#[get("/api/runner/runs/{run_id}/checks")]
async fn runner_checks(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<RunId>,
) -> Result<web::Json<Vec<AssignedCheck>>, ApiError> {
    let id = path.into_inner();
    authorize_runner(&req, &state, id)?;
    let mut conn = state.pool.get().await?;
    let run = Run::find_any(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("run"))?;
    if run.status.is_final() {
        return Err(ApiError::Conflict {
            message: format!(
                "The run has ended ({}): its token no longer fetches data checks.",
                run.status
            )
            .into(),
            field: None,
        });
    }
    let settings = run_settings(&mut conn, &run).await?;
    // The checks' connections are handed over with their passwords: the job's team must
    // still be allowed to use them now, not only when the run started.
    let owner = Job::find(&mut conn, run.organization_id, run.job_id)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))?;
    if let Some(message) = crate::services::access::team_use_refusal(
        &mut conn,
        run.organization_id,
        owner.team_id,
        &settings,
    )
    .await?
    {
        return Err(ApiError::Forbidden(message.into()));
    }
    let mut out = Vec::with_capacity(settings.checks.len());
    for (position, check) in settings.checks.iter().enumerate() {
        let saved = Connection::find(&mut conn, run.organization_id, check.connection_id).await?;
        let connection = saved
            .as_ref()
            .map(|c| engine_bridge::database(&state, c))
            .transpose()?
            .flatten();
        let warehouse = saved
            .as_ref()
            .map(|c| warehouses::saved(&state, c))
            .transpose()?
            .flatten();
        let mut assigned = AssignedCheck {
            position: position as i32,
            name: check.name.clone(),
            // The runner reports a check without a usable connection as not passed.
            endpoint: None,
            warehouse: None,
            sql: check.sql.clone(),
            operator: check.operator,
            expected: check.expected.clone(),
            null_passes: check.null_passes,
            on_failure: check.on_failure,
        };
        // The run's resolved values go in as quoted literals of the check's dialect, a
        // database's or a warehouse's.
        if let Some(c) = &saved
            && (connection.is_some() || warehouse.is_some())
        {
            assigned.sql =
                crate::services::variables::check_sql(&run, &settings, &check.sql, c.kind)?;
            assigned.endpoint = connection.map(|c| c.endpoint);
            assigned.warehouse = warehouse;
        }
        out.push(assigned);
    }
    Ok(web::Json(out))
}

/// The runner's check outcomes, posted before its result. Names, operators and expected
/// values come from the job revision, not from the runner.
#[utoipa::path(tag = "runner", params(("run_id" = RunId, Path)), responses((status = 204), (status = 401), (status = 403), (status = 409)))]
#[post("/api/runner/runs/{run_id}/checks")]
async fn report_checks(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<RunId>,
    body: ApiJson<CheckReports>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    authorize_runner(&req, &state, id)?;
    let mut conn = state.pool.get().await?;
    let run = Run::find_any(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("run"))?;
    if run.status.is_final() {
        return Err(ApiError::Conflict {
            message: format!("The run has ended ({}).", run.status).into(),
            field: None,
        });
    }
    let settings = run_settings(&mut conn, &run).await?;
    let mut rows = Vec::new();
    for (i, report) in body.0.checks.iter().enumerate() {
        let Some(check) = usize::try_from(report.position)
            .ok()
            .and_then(|p| settings.checks.get(p))
        else {
            return Err(ApiError::field(
                &format!("checks[{i}].position"),
                "is not a check of this run",
            ));
        };
        rows.push(NewRunCheck {
            run_id: id,
            position: report.position,
            name: &check.name,
            outcome: report.outcome,
            actual: report.actual.as_deref(),
            expected: &check.expected,
            operator: check.operator.as_str(),
            message: report.message.as_deref(),
        });
    }
    if !rows.is_empty() {
        RunCheck::insert_all(&mut conn, rows).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The data check results of a run, in the job's check order.
#[utoipa::path(tag = "runs", params(("run_id" = RunId, Path)), responses(
    (status = 200, body = Vec<CheckResultView>), (status = 404, body = ErrorBody)))]
#[get("/api/runs/{run_id}/checks")]
async fn run_checks(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<RunId>,
) -> Result<web::Json<Vec<CheckResultView>>, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let run = Run::find(&mut conn, auth.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("run"))?;
    load_job(
        &mut conn,
        &auth,
        run.job_id,
        Action::ViewResource,
        "see this run",
    )
    .await
    .map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::not_found("run"),
        other => other,
    })?;
    let checks = RunCheck::for_run(&mut conn, id).await?;
    Ok(web::Json(checks.iter().map(RunCheck::view).collect()))
}

/// Runs a check now and says whether it holds, for the job form (editors of the
/// connection, like a preview). Nothing is stored.
#[utoipa::path(tag = "jobs", request_body = CheckPreviewRequest, responses(
    (status = 200, body = CheckPreviewResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/data-checks/preview")]
async fn preview_check(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<CheckPreviewRequest>,
) -> Result<web::Json<CheckPreviewResponse>, ApiError> {
    let body = body.0;
    body.validate().into_result()?;
    let mut conn = state.pool.get().await?;
    let (c, _) = load_authorized(
        &mut conn,
        &auth,
        body.connection_id,
        Action::ViewResourceDetails,
        "run queries on this connection",
    )
    .await?;
    drop(conn);
    // A check's preview starts a probe worker and queries the tenant's database, like a
    // connection test: the same per-user and per-organization limits apply.
    state.limiter.probe(
        &state.settings.abuse_limits,
        auth.user_id,
        auth.organization_id,
    )?;
    let target = warehouses::browse(&state, &c)?.ok_or_else(|| {
        ApiError::field(
            "connection_id",
            "must be a database (PostgreSQL, MySQL) or data warehouse (BigQuery, Snowflake) connection: data checks run SQL",
        )
    })?;
    let op = body.operator;
    let checked = match &target {
        Browse::Database(target) => {
            engine_bridge::data_check(
                &state,
                target,
                &body.sql,
                op,
                &body.expected,
                body.null_passes,
            )
            .await
        }
        Browse::Warehouse(w) => {
            warehouses::data_check(&state, w, &body.sql, op, &body.expected, body.null_passes).await
        }
    };
    let answer = match checked {
        Ok(result) => CheckPreviewResponse {
            passed: result.passed,
            actual: result.actual,
            error: None,
        },
        Err(e) => CheckPreviewResponse {
            passed: false,
            actual: None,
            error: Some(e.to_string()),
        },
    };
    Ok(web::Json(answer))
}
