//! Runs for users: start one, list, inspect, read logs, cancel, re-run.

use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::Auth;
use crate::extract::{ApiJson, parse_json};
use crate::models::job::Job;
use crate::models::organization::Organization;
use crate::models::run::{Run, RunFilter, RunPage};
use crate::runs::{self, RunRequest};
use crate::services::jobs::{load_job, visible_jobs};
use crate::services::quotas::{self, Counted};
use crate::state::AppState;
use actix_web::{HttpResponse, get, post, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::runs::{
    BackfillRequest, BackfillView, QueueView, RunLogLine, RunStatus, RunView, StartRunRequest,
};
use hakobu_core::api::{MAX_PER_PAGE, Page};
use hakobu_core::authz::Action;
use hakobu_core::ids::{BackfillId, JobId, RunId};
use hakobu_core::messages::MessageCode;
use hakobu_core::usage::UnitPrices;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(start_run)
        .service(backfill)
        .service(list_runs)
        .service(get_run)
        .service(run_config)
        .service(run_logs)
        .service(run_events)
        .service(cancel_run)
        .service(rerun)
        .service(queue);
}

/// The organization's concurrency limit, its runs in flight and the queue, as far as the
/// caller can see them; counts include the runs of jobs the caller cannot see.
#[utoipa::path(tag = "runs", responses((status = 200, body = QueueView), (status = 401, body = ErrorBody)))]
#[get("/api/queue")]
async fn queue(state: web::Data<AppState>, auth: Auth) -> Result<web::Json<QueueView>, ApiError> {
    let mut conn = state.pool.get().await?;
    let organization = Organization::find(&mut conn, auth.organization_id).await?;
    let limits = state.settings.run_limits;
    let visible = visible_jobs(&mut conn, &auth).await?;
    let snapshot =
        Run::queue_snapshot(&mut conn, auth.organization_id, &visible, QUEUE_PAGE_LIMIT).await?;
    let queued = views(&mut conn, &snapshot.queued, &state.settings.unit_prices).await?;
    Ok(web::Json(QueueView {
        limit: limits.for_organization(organization.max_concurrent_runs),
        organization_limit: organization.max_concurrent_runs,
        service_limit: limits.per_organization,
        active_count: snapshot.active_count,
        queued_count: snapshot.queued_count,
        active: snapshot
            .active
            .iter()
            .map(|r| r.view(None, &state.settings.unit_prices))
            .collect(),
        queued,
    }))
}

/// The queue page lists at most this many runs in flight and this many waiting.
const QUEUE_PAGE_LIMIT: i64 = 200;

async fn view(
    conn: &mut AsyncPgConnection,
    run: &Run,
    prices: &UnitPrices,
) -> Result<RunView, ApiError> {
    Ok(views(conn, std::slice::from_ref(run), prices)
        .await?
        .pop()
        .expect("one view per run"))
}

/// [`view`] of many runs, with the queue positions and what holds them back read in one
/// query each.
async fn views(
    conn: &mut AsyncPgConnection,
    runs: &[Run],
    prices: &UnitPrices,
) -> Result<Vec<RunView>, ApiError> {
    let positions = Run::queue_positions(conn, runs).await?;
    let held = Run::held_by_their_jobs(conn, runs).await?;
    Ok(runs
        .iter()
        .map(|r| RunView {
            held_by_its_job: held.contains(&r.id),
            ..r.view(positions.get(&r.id).copied(), prices)
        })
        .collect())
}

/// A run and its job, if the caller may do `action` on the job.
async fn load_run(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    id: RunId,
    action: Action,
    what: &str,
) -> Result<(Run, Job), ApiError> {
    let run = Run::find(conn, auth.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("run"))?;
    let (job, _) = load_job(conn, auth, run.job_id, action, what)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::not_found("run"),
            other => other,
        })?;
    Ok((run, job))
}

/// Runs the job now (operators and up), optionally "as of" another time (timestamp
/// variables are computed from it) and with explicit variable values. With the `skip`
/// overlap policy a job that is already running answers 409. The body may be empty.
#[utoipa::path(tag = "runs", params(("job_id" = JobId, Path)), request_body(content = Option<StartRunRequest>), responses(
    (status = 201, body = RunView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/jobs/{job_id}/runs")]
async fn start_run(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: StartRunRequest = if body.iter().all(u8::is_ascii_whitespace) {
        StartRunRequest::default()
    } else {
        parse_json(&body)?
    };
    let mut conn = state.pool.get().await?;
    let run = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (job, shares) = load_job(conn, &auth, path.into_inner(), Action::UseResource, "run this job").await?;
            check_overrides(&auth, &job, &shares, &request.variables)?;
            quotas::ensure_room(conn, &state.settings.quotas, auth.organization_id, Counted::QueuedRuns, 1).await?;
            let request = RunRequest {
                trigger: "manual",
                triggered_by: Some(auth.user_id),
                resolved_inputs: manual_inputs(request.as_of, &request.variables),
                scheduled_time: request.as_of,
                ..Default::default()
            };
            let run = runs::enqueue(conn, &job, request).await?.ok_or_else(|| ApiError::Conflict {
                message: "This job is already running, and its overlap policy is skip. Wait for the run to end, or change the policy to queue.".into(),
                field: None,
            })?;
            audit::record(conn, &Actor::from(&auth), "run.start", "run", run.id, json!({"job_id": job.id, "job_name": job.name, "revision": run.job_revision, "as_of": run.scheduled_time})).await?;
            Ok(run)
        })
        .await?;
    Ok(HttpResponse::Created().json(view(&mut conn, &run, &state.settings.unit_prices).await?))
}

/// What a manual run stores before the dispatcher resolves the rest.
fn manual_inputs(
    as_of: Option<chrono::DateTime<chrono::Utc>>,
    overrides: &BTreeMap<String, String>,
) -> serde_json::Value {
    let mut inputs = serde_json::Map::new();
    if let Some(at) = as_of {
        inputs.insert("as_of".into(), json!(at));
    }
    if !overrides.is_empty() {
        inputs.insert("overrides".into(), json!(overrides));
    }
    serde_json::Value::Object(inputs)
}

/// Explicit values must name the job's variables; a value for an identifier or raw
/// variable goes into SQL as a name or as it is, so only editors of the job may give one.
fn check_overrides(
    auth: &Auth,
    job: &Job,
    shares: &crate::models::job::Shares,
    overrides: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    if overrides.is_empty() {
        return Ok(());
    }
    let settings = crate::services::jobs::parse_settings(job)?;
    for (name, value) in overrides {
        let field = format!("variables.{name}");
        let Some(variable) = settings.variables.iter().find(|v| &v.name == name) else {
            return Err(ApiError::field(
                &field,
                MessageCode::NoSuchVariable.with("var", name),
            ));
        };
        if value.chars().count() > hakobu_core::variables::VALUE_MAX_CHARS {
            return Err(ApiError::field(
                &field,
                MessageCode::TooLong.with("n", hakobu_core::variables::VALUE_MAX_CHARS),
            ));
        }
        if variable.in_sql != hakobu_core::variables::SqlUse::Literal {
            auth.require(
                Action::EditResource,
                hakobu_core::authz::Target::Resource {
                    owner: job.team_id,
                    shares,
                },
                "give a value to a variable that goes into SQL as a name or fragment",
            )?;
        }
    }
    Ok(())
}

/// Queues one run per day or hour of a range, each as of its period's start. They run
/// oldest first, at most `parallelism` at once (and never more than the job's overlap
/// policy allows).
#[utoipa::path(tag = "runs", params(("job_id" = JobId, Path)), request_body = BackfillRequest, responses(
    (status = 201, body = BackfillView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/jobs/{job_id}/backfill")]
async fn backfill(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
    body: ApiJson<BackfillRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let periods = request.periods()?;
    let backfill_id = BackfillId::new();
    let mut conn = state.pool.get().await?;
    let created = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (job, shares) = load_job(conn, &auth, path.into_inner(), Action::UseResource, "run this job").await?;
            check_overrides(&auth, &job, &shares, &request.variables)?;
            quotas::ensure_room(conn, &state.settings.quotas, auth.organization_id, Counted::QueuedRuns, periods.len() as i64).await?;
            let mut created = Vec::new();
            for at in &periods {
                let run = runs::enqueue(
                    conn,
                    &job,
                    RunRequest {
                        trigger: "backfill",
                        triggered_by: Some(auth.user_id),
                        resolved_inputs: manual_inputs(Some(*at), &request.variables),
                        scheduled_time: Some(*at),
                        backfill: Some((backfill_id, request.parallelism as i32)),
                        ignore_skip: true,
                        ..Default::default()
                    },
                )
                .await?
                .ok_or_else(|| anyhow::anyhow!("a backfill run was not queued"))?;
                created.push(run);
            }
            audit::record(conn, &Actor::from(&auth), "run.backfill", "job", job.id, json!({"job_name": job.name, "backfill_id": backfill_id, "runs": created.len(), "from": request.from, "to": request.to, "step": request.step, "timezone": request.timezone, "parallelism": request.parallelism})).await?;
            Ok(created)
        })
        .await?;
    let views = views(&mut conn, &created, &state.settings.unit_prices).await?;
    Ok(HttpResponse::Created().json(BackfillView {
        backfill_id,
        runs: views,
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct RunQuery {
    job: Option<JobId>,
    status: Option<RunStatus>,
    /// Queued at or after this instant (RFC 3339).
    from: Option<chrono::DateTime<chrono::Utc>>,
    /// Queued before this instant.
    to: Option<chrono::DateTime<chrono::Utc>>,
    page: Option<i64>,
    per_page: Option<i64>,
    /// The page after this run (the `next` of the page before): deep in a long history as
    /// fast as at its top, and steady while new runs arrive. Takes the place of `page`.
    before: Option<RunId>,
}

/// Runs of the jobs the caller can see, newest first. The count stops at 1,000
/// (`total_capped`); `next` names where the following page starts (`before`).
#[utoipa::path(tag = "runs", params(RunQuery), responses((status = 200, body = Page<RunView>)))]
#[get("/api/runs")]
async fn list_runs(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<RunQuery>,
) -> Result<web::Json<Page<RunView>>, ApiError> {
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(50);
    if page < 1 {
        return Err(ApiError::field("page", "must be 1 or more"));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::field(
            "per_page",
            MessageCode::FromTo.with("from", 1).with("to", MAX_PER_PAGE),
        ));
    }
    let mut conn = state.pool.get().await?;
    let visible = visible_jobs(&mut conn, &auth).await?;
    let filter = RunFilter {
        job_id: query.job,
        status: query.status,
        from: query.from,
        to: query.to,
    };
    let after = match query.before {
        Some(id) => Some(
            Run::list_position(&mut conn, auth.organization_id, id)
                .await?
                .ok_or_else(|| {
                    ApiError::field("before", "no such run: start again from the first page")
                })?,
        ),
        None => None,
    };
    if after.is_some() && query.page.is_some() {
        return Err(ApiError::field(
            "page",
            "give either page or before, not both",
        ));
    }
    let list = Run::list(
        &mut conn,
        auth.organization_id,
        &filter,
        &visible,
        RunPage {
            after,
            offset: (page - 1) * per_page,
            limit: per_page,
        },
    )
    .await?;
    let next = list
        .more
        .then(|| list.items.last().map(|r| r.id.to_string()))
        .flatten();
    let views = views(&mut conn, &list.items, &state.settings.unit_prices).await?;
    Ok(web::Json(Page {
        items: views,
        total: list.total,
        page,
        per_page,
        total_capped: list.total_capped,
        next,
    }))
}

#[utoipa::path(tag = "runs", params(("run_id" = RunId, Path)), responses((status = 200, body = RunView), (status = 404, body = ErrorBody)))]
#[get("/api/runs/{run_id}")]
async fn get_run(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<RunId>,
) -> Result<web::Json<RunView>, ApiError> {
    let mut conn = state.pool.get().await?;
    let (run, _) = load_run(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResource,
        "see this run",
    )
    .await?;
    Ok(web::Json(
        view(&mut conn, &run, &state.settings.unit_prices).await?,
    ))
}

/// The config this run executes or executed: the snapshot fixed when it was dispatched
/// (recompiled at its start when its variables changed it), secrets as `{{ env.* }}`
/// references. For the job's editors and those who may see its connections' details,
/// like the job's own config.
#[utoipa::path(tag = "runs", params(("run_id" = RunId, Path)), responses(
    (status = 200, description = "YAML", content_type = "application/yaml"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/api/runs/{run_id}/config")]
async fn run_config(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<RunId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let (run, _) = load_run(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResourceDetails,
        "see this run's config",
    )
    .await?;
    // The snapshot names the connections' hosts and users: the same rights as the job's
    // config, checked against the connections of the revision this run executes.
    let revision = Job::revision(
        &mut conn,
        auth.organization_id,
        run.job_id,
        run.job_revision,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("job revision"))?;
    let settings: hakobu_core::job::JobSettings =
        serde_json::from_value(revision.settings).map_err(anyhow::Error::from)?;
    for id in [
        settings.source.connection_id,
        settings.destination.connection_id,
    ] {
        crate::services::access::load_authorized(
            &mut conn,
            &auth,
            id,
            Action::ViewResourceDetails,
            "see the details of the connections this run uses",
        )
        .await?;
    }
    let snapshot = run.config_snapshot.ok_or_else(|| {
        ApiError::NotFound(
            "This run has not started yet: its config is fixed when it is dispatched.".into(),
        )
    })?;
    Ok(HttpResponse::Ok()
        .content_type("application/yaml; charset=utf-8")
        .body(snapshot))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    /// Only lines after this sequence number (for following a live run).
    after: Option<i64>,
    /// At most this many lines, up to 1000. Default 200.
    limit: Option<i64>,
}

/// The run's log lines in order; poll with `after` to follow a running transfer.
#[utoipa::path(tag = "runs", params(("run_id" = RunId, Path), LogQuery), responses((status = 200, body = Vec<RunLogLine>), (status = 404, body = ErrorBody)))]
#[get("/api/runs/{run_id}/logs")]
async fn run_logs(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<RunId>,
    query: web::Query<LogQuery>,
) -> Result<web::Json<Vec<RunLogLine>>, ApiError> {
    let limit = query.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            MessageCode::FromTo.with("from", 1).with("to", 1000),
        ));
    }
    let mut conn = state.pool.get().await?;
    let (run, _) = load_run(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResource,
        "see this run",
    )
    .await?;
    Ok(web::Json(
        Run::logs(&mut conn, run.id, query.after.unwrap_or(0), limit).await?,
    ))
}

/// How long one live stream stays open before it ends (the client reconnects).
const STREAM_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// A live stream (Server-Sent Events) of a run: `progress` events with the run (status,
/// rows, bytes) when it changes, `log` events with new lines, and `end` when it is over.
#[utoipa::path(tag = "runs", params(("run_id" = RunId, Path)), responses(
    (status = 200, description = "text/event-stream", content_type = "text/event-stream"), (status = 404, body = ErrorBody)))]
#[get("/api/runs/{run_id}/events")]
async fn run_events(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<RunId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let (run, _) = load_run(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResource,
        "see this run",
    )
    .await?;
    drop(conn);
    let slot = state
        .streams
        .open(auth.user_id, state.settings.abuse_limits.streams_per_user)?;
    let org = auth.organization_id;
    let pool = state.pool.clone();
    let prices = state.settings.unit_prices.clone();
    struct Cursor {
        last_seq: i64,
        last_view: Option<String>,
        ended: bool,
        first: bool,
        opened: std::time::Instant,
        /// Held for the stream's life: its place among the user's open streams.
        _slot: crate::limiter::StreamSlot,
    }
    let start = Cursor {
        last_seq: 0,
        last_view: None,
        ended: false,
        first: true,
        opened: std::time::Instant::now(),
        _slot: slot,
    };
    let stream = futures::stream::unfold(start, move |mut cursor| {
        let pool = pool.clone();
        let prices = prices.clone();
        let id = run.id;
        async move {
            // A stream ends with its run; one left open for long ends too (the browser's
            // EventSource reconnects, through the checks and the limit again).
            if cursor.ended || cursor.opened.elapsed() > STREAM_MAX_AGE {
                return None;
            }
            if !cursor.first {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            cursor.first = false;
            let mut out = String::new();
            // A connection for this poll only: none is held while the stream waits.
            let Ok(mut conn) = pool.get().await else {
                return Some((
                    Ok::<_, actix_web::Error>(web::Bytes::from(": database busy\n\n")),
                    cursor,
                ));
            };
            if let Ok(lines) = Run::logs(&mut conn, id, cursor.last_seq, 500).await {
                for line in lines {
                    cursor.last_seq = line.seq;
                    out.push_str(&format!(
                        "event: log\nid: {}\ndata: {}\n\n",
                        line.seq,
                        json!(line)
                    ));
                }
            }
            match Run::find(&mut conn, org, id).await {
                Ok(Some(run)) => {
                    let view = json!(run.view(None, &prices)).to_string();
                    if cursor.last_view.as_deref() != Some(view.as_str()) {
                        out.push_str(&format!("event: progress\ndata: {view}\n\n"));
                        cursor.last_view = Some(view);
                    }
                    if run.status.is_final() {
                        out.push_str("event: end\ndata: {}\n\n");
                        cursor.ended = true;
                    }
                }
                Ok(None) => {
                    out.push_str("event: end\ndata: {\"reason\":\"gone\"}\n\n");
                    cursor.ended = true;
                }
                Err(_) => {} // the next poll tries again
            }
            if out.is_empty() {
                // A comment keeps proxies from closing an idle stream.
                out.push_str(": waiting\n\n");
            }
            Some((Ok(web::Bytes::from(out)), cursor))
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        // Compression would hold events back until a buffer fills.
        .insert_header(actix_web::http::header::ContentEncoding::Identity)
        .streaming(stream))
}

/// Cancels a run (operators and up): a queued run ends at once; a running one is stopped
/// and rolls back.
#[utoipa::path(tag = "runs", params(("run_id" = RunId, Path)), responses(
    (status = 200, body = RunView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/api/runs/{run_id}/cancel")]
async fn cancel_run(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<RunId>,
) -> Result<web::Json<RunView>, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let (run, _) = load_run(&mut conn, &auth, id, Action::UseResource, "cancel this run").await?;
    if run.status.is_final() {
        return Err(ApiError::Conflict {
            message: format!("This run has already ended ({}).", run.status).into(),
            field: None,
        });
    }
    conn.transaction::<_, ApiError, _>(async |conn| {
        Run::request_cancel(conn, id).await?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "run.cancel",
            "run",
            id,
            json!({"job_id": run.job_id, "status": run.status}),
        )
        .await?;
        Ok(())
    })
    .await?;
    runs::stop_cancelled(&mut conn, state.launcher.as_ref(), &run).await?;
    let run = Run::find(&mut conn, auth.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("run"))?;
    Ok(web::Json(
        view(&mut conn, &run, &state.settings.unit_prices).await?,
    ))
}

/// Runs the same job revision again with the same resolved inputs.
#[utoipa::path(tag = "runs", params(("run_id" = RunId, Path)), responses(
    (status = 201, body = RunView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/api/runs/{run_id}/rerun")]
async fn rerun(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<RunId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let run = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (previous, job) = load_run(
                conn,
                &auth,
                path.into_inner(),
                Action::UseResource,
                "run this job",
            )
            .await?;
            quotas::ensure_room(conn, &state.settings.quotas, auth.organization_id, Counted::QueuedRuns, 1).await?;
            // An old revision may have been pruned (`HAKOBU_QUOTA_REVISIONS_KEPT`).
            if Job::revision(conn, auth.organization_id, job.id, previous.job_revision).await?.is_none() {
                return Err(ApiError::Conflict {
                    message: format!(
                        "Revision {} of this job is no longer kept, so this run cannot be repeated as it was. Start a new run of the job instead.",
                        previous.job_revision
                    )
                    .into(),
                    field: None,
                });
            }
            let request = RunRequest {
                trigger: "rerun",
                triggered_by: Some(auth.user_id),
                resolved_inputs: previous.resolved_inputs.clone(),
                revision: Some(previous.job_revision),
                scheduled_time: previous.scheduled_time,
                ..Default::default()
            };
            let run =
                runs::enqueue(conn, &job, request)
                    .await?
                    .ok_or_else(|| ApiError::Conflict {
                        message: "This job is already running, and its overlap policy is skip."
                            .into(),
                        field: None,
                    })?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "run.rerun",
                "run",
                run.id,
                json!({"job_id": job.id, "rerun_of": previous.id}),
            )
            .await?;
            Ok(run)
        })
        .await?;
    Ok(HttpResponse::Created().json(view(&mut conn, &run, &state.settings.unit_prices).await?))
}
