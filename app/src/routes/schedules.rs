//! Schedules: per job or per workflow (editors of it change them), the organization-wide
//! list with next fire times, and turning many on or off at once. A schedule runs one job
//! or one workflow; every check is on that target (its team, and the job's shares).

use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::extract::Auth;
use crate::models::job::Job;
use crate::models::schedule::{NewSchedule, ScheduleChangeset, ScheduleRow};
use crate::models::workflow::Workflow;
use crate::routes::workflows::load_workflow;
use crate::services::jobs::load_job;
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::schedules::{BulkEnableRequest, ScheduleRequest, ScheduleView, UPCOMING};
use hakobu_core::authz::Action;
use hakobu_core::ids::{JobId, ScheduleId, WorkflowId};
use hakobu_core::schedule::ScheduleSettings;
use serde_json::json;
use std::collections::HashMap;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_job_schedules)
        .service(create_schedule)
        .service(list_workflow_schedules)
        .service(create_workflow_schedule)
        .service(list_schedules)
        .service(bulk_enable)
        .service(update_schedule)
        .service(delete_schedule);
}

/// Most schedules one job or workflow may have.
const MAX_PER_JOB: usize = 20;

/// What a schedule runs.
enum Target {
    Job(Job),
    Workflow(Workflow),
}

impl Target {
    fn name(&self) -> &str {
        match self {
            Target::Job(job) => &job.name,
            Target::Workflow(workflow) => &workflow.name,
        }
    }

    /// The target's fields of an audit entry.
    fn audit(&self) -> serde_json::Value {
        match self {
            Target::Job(job) => json!({"job_id": job.id, "job_name": job.name}),
            Target::Workflow(w) => json!({"workflow_id": w.id, "workflow_name": w.name}),
        }
    }

    fn what(&self) -> &'static str {
        match self {
            Target::Job(_) => "job",
            Target::Workflow(_) => "workflow",
        }
    }
}

fn audit_details(target: &Target, extra: serde_json::Value) -> serde_json::Value {
    let mut details = target.audit();
    if let (Some(d), serde_json::Value::Object(extra)) = (details.as_object_mut(), extra) {
        d.extend(extra);
    }
    details
}

fn view(row: &ScheduleRow, target_name: &str) -> Result<ScheduleView, ApiError> {
    let settings: ScheduleSettings = serde_json::from_value(row.settings.clone())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("schedule {}: {e}", row.id)))?;
    let upcoming = settings
        .validate("")
        .map(|s| s.fire_times(Utc::now(), None, UPCOMING))
        .unwrap_or_default();
    Ok(ScheduleView {
        id: row.id,
        job_id: row.job_id,
        workflow_id: row.workflow_id,
        target_name: target_name.to_owned(),
        settings,
        enabled: row.enabled,
        next_fire_at: row.next_fire_at,
        upcoming,
        last_fired_at: row.last_fired_at,
        consecutive_failures: row.consecutive_failures,
        disabled_reason: row.disabled_reason.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A schedule and what it runs, if the caller may do `action` on that job or workflow
/// (404 for a schedule of one the caller cannot see).
async fn load_schedule(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    id: ScheduleId,
    action: Action,
    what: &str,
) -> Result<(ScheduleRow, Target), ApiError> {
    let row = ScheduleRow::find(conn, auth.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("schedule"))?;
    let target = match (row.job_id, row.workflow_id) {
        (Some(job), _) => load_job(conn, auth, job, action, what)
            .await
            .map(|(job, _)| Target::Job(job)),
        (None, Some(workflow)) => load_workflow(conn, auth, workflow, action, what)
            .await
            .map(Target::Workflow),
        (None, None) => Err(ApiError::not_found("schedule")),
    }
    .map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::not_found("schedule"),
        other => other,
    })?;
    Ok((row, target))
}

/// Adds a schedule to a job or a workflow the caller may edit (checked by the caller).
async fn insert_schedule(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    auth: &Auth,
    target: &Target,
    request: &ScheduleRequest,
) -> Result<ScheduleRow, ApiError> {
    let schedule = request.validate()?;
    crate::services::quotas::ensure_room(
        conn,
        &state.settings.quotas,
        auth.organization_id,
        crate::services::quotas::Counted::Schedules,
        1,
    )
    .await?;
    let existing = match target {
        Target::Job(job) => ScheduleRow::for_job(conn, auth.organization_id, job.id).await?,
        Target::Workflow(w) => ScheduleRow::for_workflow(conn, auth.organization_id, w.id).await?,
    };
    if existing.len() >= MAX_PER_JOB {
        return Err(ApiError::field(
            "settings",
            format!(
                "a {} can have at most {MAX_PER_JOB} schedules",
                target.what()
            ),
        ));
    }
    let row = ScheduleRow::insert(
        conn,
        NewSchedule {
            id: ScheduleId::new(),
            organization_id: auth.organization_id,
            job_id: match target {
                Target::Job(job) => Some(job.id),
                Target::Workflow(_) => None,
            },
            workflow_id: match target {
                Target::Job(_) => None,
                Target::Workflow(w) => Some(w.id),
            },
            settings: serde_json::to_value(&request.settings).map_err(anyhow::Error::from)?,
            enabled: request.enabled,
            next_fire_at: request
                .enabled
                .then(|| schedule.next_after(Utc::now()))
                .flatten(),
            created_by: Some(auth.user_id),
        },
    )
    .await?;
    audit::record(
        conn,
        &Actor::from(auth),
        "schedule.create",
        "schedule",
        row.id,
        audit_details(
            target,
            json!({"settings": request.settings, "enabled": request.enabled}),
        ),
    )
    .await?;
    Ok(row)
}

/// The job's schedules with their next fire times.
#[utoipa::path(tag = "schedules", params(("job_id" = JobId, Path)), responses(
    (status = 200, body = Vec<ScheduleView>), (status = 404, body = ErrorBody)))]
#[get("/api/jobs/{job_id}/schedules")]
async fn list_job_schedules(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
) -> Result<web::Json<Vec<ScheduleView>>, ApiError> {
    let mut conn = state.pool.get().await?;
    let (job, _) = load_job(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResource,
        "see this job",
    )
    .await?;
    let rows = ScheduleRow::for_job(&mut conn, auth.organization_id, job.id).await?;
    Ok(web::Json(
        rows.iter()
            .map(|r| view(r, &job.name))
            .collect::<Result<_, _>>()?,
    ))
}

/// Adds a schedule to a job (editors of the job).
#[utoipa::path(tag = "schedules", params(("job_id" = JobId, Path)), request_body = ScheduleRequest, responses(
    (status = 201, body = ScheduleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/jobs/{job_id}/schedules")]
async fn create_schedule(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
    body: ApiJson<ScheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let mut conn = state.pool.get().await?;
    let (row, target) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (job, _) = load_job(
                conn,
                &auth,
                path.into_inner(),
                Action::EditResource,
                "schedule this job",
            )
            .await?;
            let target = Target::Job(job);
            let row = insert_schedule(conn, &state, &auth, &target, &request).await?;
            Ok((row, target))
        })
        .await?;
    Ok(HttpResponse::Created().json(view(&row, target.name())?))
}

/// The workflow's schedules with their next fire times.
#[utoipa::path(tag = "schedules", params(("workflow_id" = WorkflowId, Path)), responses(
    (status = 200, body = Vec<ScheduleView>), (status = 404, body = ErrorBody)))]
#[get("/api/workflows/{workflow_id}/schedules")]
async fn list_workflow_schedules(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<WorkflowId>,
) -> Result<web::Json<Vec<ScheduleView>>, ApiError> {
    let mut conn = state.pool.get().await?;
    let workflow = load_workflow(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResource,
        "see this workflow",
    )
    .await?;
    let rows = ScheduleRow::for_workflow(&mut conn, auth.organization_id, workflow.id).await?;
    Ok(web::Json(
        rows.iter()
            .map(|r| view(r, &workflow.name))
            .collect::<Result<_, _>>()?,
    ))
}

/// Adds a schedule to a workflow (editors of the workflow). Each fire time starts a run of
/// the workflow with `as_of` = the fire time.
#[utoipa::path(tag = "schedules", params(("workflow_id" = WorkflowId, Path)), request_body = ScheduleRequest, responses(
    (status = 201, body = ScheduleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/workflows/{workflow_id}/schedules")]
async fn create_workflow_schedule(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<WorkflowId>,
    body: ApiJson<ScheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let mut conn = state.pool.get().await?;
    let (row, target) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let workflow = load_workflow(
                conn,
                &auth,
                path.into_inner(),
                Action::EditResource,
                "schedule this workflow",
            )
            .await?;
            let target = Target::Workflow(workflow);
            let row = insert_schedule(conn, &state, &auth, &target, &request).await?;
            Ok((row, target))
        })
        .await?;
    Ok(HttpResponse::Created().json(view(&row, target.name())?))
}

/// Replaces a schedule's settings and whether it is on. Turning a schedule on clears its
/// failure count and the reason it was turned off.
#[utoipa::path(tag = "schedules", params(("schedule_id" = ScheduleId, Path)), request_body = ScheduleRequest, responses(
    (status = 200, body = ScheduleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/schedules/{schedule_id}")]
async fn update_schedule(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ScheduleId>,
    body: ApiJson<ScheduleRequest>,
) -> Result<web::Json<ScheduleView>, ApiError> {
    let request = body.0;
    let mut conn = state.pool.get().await?;
    let (row, target) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (row, target) = load_schedule(
                conn,
                &auth,
                path.into_inner(),
                Action::EditResource,
                "change these schedules",
            )
            .await?;
            let schedule = request.validate()?;
            let updated = ScheduleRow::update(
                conn,
                auth.organization_id,
                row.id,
                changeset(&row, &request.settings, request.enabled, &schedule)?,
            )
            .await?
            .ok_or_else(|| ApiError::not_found("schedule"))?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "schedule.update",
                "schedule",
                row.id,
                audit_details(
                    &target,
                    json!({"settings": request.settings, "enabled": request.enabled}),
                ),
            )
            .await?;
            Ok((updated, target))
        })
        .await?;
    Ok(web::Json(view(&row, target.name())?))
}

fn changeset(
    row: &ScheduleRow,
    settings: &ScheduleSettings,
    enabled: bool,
    schedule: &hakobu_core::schedule::Schedule,
) -> Result<ScheduleChangeset, ApiError> {
    let turned_on = enabled && !row.enabled;
    Ok(ScheduleChangeset {
        settings: serde_json::to_value(settings).map_err(anyhow::Error::from)?,
        enabled,
        next_fire_at: enabled.then(|| schedule.next_after(Utc::now())).flatten(),
        consecutive_failures: if turned_on {
            0
        } else {
            row.consecutive_failures
        },
        disabled_reason: if enabled {
            None
        } else {
            row.disabled_reason.clone()
        },
        updated_at: Utc::now(),
    })
}

#[utoipa::path(tag = "schedules", params(("schedule_id" = ScheduleId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/api/schedules/{schedule_id}")]
async fn delete_schedule(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ScheduleId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let (row, target) = load_schedule(
            conn,
            &auth,
            path.into_inner(),
            Action::EditResource,
            "change these schedules",
        )
        .await?;
        ScheduleRow::delete(conn, auth.organization_id, row.id).await?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "schedule.delete",
            "schedule",
            row.id,
            target.audit(),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every schedule of the jobs and workflows the caller can see, soonest first.
#[utoipa::path(tag = "schedules", responses((status = 200, body = Vec<ScheduleView>)))]
#[get("/api/schedules")]
async fn list_schedules(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<Vec<ScheduleView>>, ApiError> {
    let mut conn = state.pool.get().await?;
    let rows = ScheduleRow::for_organization(&mut conn, auth.organization_id).await?;
    let jobs: HashMap<JobId, Job> = Job::search(&mut conn, auth.organization_id, None, None)
        .await?
        .into_iter()
        .map(|j| (j.id, j))
        .collect();
    let workflows: HashMap<WorkflowId, Workflow> = Workflow::list(&mut conn, auth.organization_id)
        .await?
        .into_iter()
        .map(|w| (w.id, w))
        .collect();
    let shares = Job::all_shares(&mut conn, auth.organization_id).await?;
    let none = Vec::new();
    let mut views = Vec::new();
    for row in &rows {
        let seen = match (row.job_id, row.workflow_id) {
            (Some(job), _) => jobs
                .get(&job)
                .filter(|job| {
                    auth.principal
                        .resource_role(job.team_id, shares.get(&job.id).unwrap_or(&none))
                        .is_some()
                })
                .map(|job| job.name.as_str()),
            (None, Some(workflow)) => workflows
                .get(&workflow)
                .filter(|w| auth.principal.resource_role(w.team_id, &[]).is_some())
                .map(|w| w.name.as_str()),
            (None, None) => None,
        };
        if let Some(name) = seen {
            views.push(view(row, name)?);
        }
    }
    Ok(web::Json(views))
}

/// Turns the listed schedules on or off, all or none: a schedule the caller cannot see
/// answers 404, one it cannot change 403.
#[utoipa::path(tag = "schedules", request_body = BulkEnableRequest, responses(
    (status = 200, body = Vec<ScheduleView>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/schedules/bulk")]
async fn bulk_enable(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<BulkEnableRequest>,
) -> Result<web::Json<Vec<ScheduleView>>, ApiError> {
    let request = body.0;
    request.validate()?;
    let mut conn = state.pool.get().await?;
    let views = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let mut views = Vec::new();
            for id in &request.ids {
                let (row, target) = load_schedule(
                    conn,
                    &auth,
                    *id,
                    Action::EditResource,
                    "change these schedules",
                )
                .await?;
                let settings: ScheduleSettings =
                    serde_json::from_value(row.settings.clone()).map_err(anyhow::Error::from)?;
                let schedule = settings.validate("")?;
                let updated = ScheduleRow::update(
                    conn,
                    auth.organization_id,
                    row.id,
                    changeset(&row, &settings, request.enabled, &schedule)?,
                )
                .await?
                .ok_or_else(|| ApiError::not_found("schedule"))?;
                audit::record(
                    conn,
                    &Actor::from(&auth),
                    if request.enabled {
                        "schedule.enable"
                    } else {
                        "schedule.disable"
                    },
                    "schedule",
                    row.id,
                    audit_details(&target, json!({"bulk": true})),
                )
                .await?;
                views.push(view(&updated, target.name())?);
            }
            Ok(views)
        })
        .await?;
    Ok(web::Json(views))
}
