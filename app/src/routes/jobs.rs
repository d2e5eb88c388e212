//! Transfer jobs: CRUD with revisions, sharing, the compiled config, Embulk import/export.

use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::extract::Auth;
use crate::models::job::{Job, JobRevision};
use crate::services::access::{check_shares, grants, require_team_editor};
use crate::services::jobs::{
    compile_with_references, insert_job, job_view, load_job, parse_settings, role_on,
};
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use diesel_async::AsyncConnection;
use hakobu_core::api::connections::SharesRequest;
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::jobs::{
    CreateJobRequest, JobRevisionView, JobView, RevisionDiff, UpdateJobRequest, json_diff,
    validate_job_text,
};
use hakobu_core::authz::Action;
use hakobu_core::ids::{JobId, TeamId};
use hakobu_core::validation::FieldErrors;
use serde::Deserialize;
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_jobs)
        .service(create_job)
        .service(super::job_import::import_job)
        .service(get_job)
        .service(update_job)
        .service(delete_job)
        .service(duplicate_job)
        .service(put_job_shares)
        .service(list_revisions)
        .service(diff_revisions)
        .service(get_revision)
        .service(job_config)
        .service(super::job_import::export_job);
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct JobQuery {
    /// Part of the name, any case.
    q: Option<String>,
    /// Only jobs with this label.
    label: Option<String>,
    team: Option<TeamId>,
}

/// Jobs the caller can see, by name and label.
#[utoipa::path(tag = "jobs", params(JobQuery), responses((status = 200, body = Vec<JobView>)))]
#[get("/api/jobs")]
async fn list_jobs(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<JobQuery>,
) -> Result<web::Json<Vec<JobView>>, ApiError> {
    let mut conn = state.pool.get().await?;
    let jobs = Job::search(
        &mut conn,
        auth.organization_id,
        query.q.as_deref(),
        query.label.as_deref(),
    )
    .await?;
    let shares = Job::all_shares(&mut conn, auth.organization_id).await?;
    let none = Vec::new();
    let mut views = Vec::new();
    for job in jobs
        .iter()
        .filter(|j| query.team.is_none_or(|t| j.team_id == t))
    {
        if let Some(role) = auth
            .principal
            .resource_role(job.team_id, shares.get(&job.id).unwrap_or(&none))
        {
            views.push(job_view(job, shares.get(&job.id).unwrap_or(&none), role)?);
        }
    }
    Ok(web::Json(views))
}

/// Creates a job (editors of the team; operators or more on both connections).
#[utoipa::path(tag = "jobs", request_body = CreateJobRequest, responses(
    (status = 201, body = JobView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/jobs")]
async fn create_job(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<CreateJobRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    {
        let mut conn = state.pool.get().await?;
        require_team_editor(&mut conn, &auth, body.team_id, "team_id").await?;
    }
    let mut errors = FieldErrors::default();
    validate_job_text(
        &mut errors,
        Some(&body.name),
        Some(&body.description),
        Some(&body.labels),
    );
    errors.into_result()?;
    crate::services::jobs::check_against_databases(&state, &auth, &body.settings).await?;
    let mut conn = state.pool.get().await?;
    let job = conn
        .transaction::<_, ApiError, _>(async |conn| {
            insert_job(conn, &state, &auth, &body, "job.create", json!({})).await
        })
        .await?;
    Ok(HttpResponse::Created().json(job_view(
        &job,
        &Vec::new(),
        role_on(&auth, &job, &Vec::new()),
    )?))
}

#[utoipa::path(tag = "jobs", params(("job_id" = JobId, Path)), responses((status = 200, body = JobView), (status = 404, body = ErrorBody)))]
#[get("/api/jobs/{job_id}")]
async fn get_job(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
) -> Result<web::Json<JobView>, ApiError> {
    let mut conn = state.pool.get().await?;
    let (job, shares) = load_job(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResource,
        "see this job",
    )
    .await?;
    Ok(web::Json(job_view(
        &job,
        &shares,
        role_on(&auth, &job, &shares),
    )?))
}

/// Changes a job (editors); a new revision keeps the previous settings.
#[utoipa::path(tag = "jobs", params(("job_id" = JobId, Path)), request_body = UpdateJobRequest, responses(
    (status = 200, body = JobView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/api/jobs/{job_id}")]
async fn update_job(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
    body: ApiJson<UpdateJobRequest>,
) -> Result<web::Json<JobView>, ApiError> {
    let body = body.0;
    let id = path.into_inner();
    let mut errors = FieldErrors::default();
    validate_job_text(
        &mut errors,
        body.name.as_deref(),
        body.description.as_deref(),
        body.labels.as_deref(),
    );
    errors.into_result()?;
    if let Some(settings) = &body.settings {
        {
            let mut conn = state.pool.get().await?;
            load_job(
                &mut conn,
                &auth,
                id,
                Action::EditResource,
                "change this job",
            )
            .await?;
        }
        crate::services::jobs::check_against_databases(&state, &auth, settings).await?;
    }
    let mut conn = state.pool.get().await?;
    let (job, shares) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            crate::services::jobs::update_job(conn, &state, &auth, id, &body).await
        })
        .await?;
    Ok(web::Json(job_view(
        &job,
        &shares,
        role_on(&auth, &job, &shares),
    )?))
}

#[utoipa::path(tag = "jobs", params(("job_id" = JobId, Path)), responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/api/jobs/{job_id}")]
async fn delete_job(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let (job, _) = load_job(conn, &auth, id, Action::EditResource, "delete this job").await?;
        Job::delete(conn, auth.organization_id, id).await?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "job.delete",
            "job",
            id,
            json!({"name": job.name, "revision": job.revision}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DuplicateRequest {
    /// Name of the copy; default: "<name> (copy)".
    #[serde(default)]
    name: Option<String>,
}

/// Copies a job; the copy starts disabled so it never runs twice by accident.
#[utoipa::path(tag = "jobs", params(("job_id" = JobId, Path)), request_body = DuplicateRequest, responses(
    (status = 201, body = JobView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/api/jobs/{job_id}/duplicate")]
async fn duplicate_job(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
    body: ApiJson<DuplicateRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let job = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (original, _) = load_job(
                conn,
                &auth,
                id,
                Action::ViewResourceDetails,
                "copy this job",
            )
            .await?;
            require_team_editor(conn, &auth, original.team_id, "team_id").await?;
            let request = CreateJobRequest {
                name: body
                    .0
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{} (copy)", original.name)),
                description: original.description.clone(),
                labels: original.labels.clone(),
                team_id: original.team_id,
                enabled: false,
                settings: parse_settings(&original)?,
            };
            let mut errors = FieldErrors::default();
            validate_job_text(&mut errors, Some(&request.name), None, None);
            errors.into_result()?;
            insert_job(
                conn,
                &state,
                &auth,
                &request,
                "job.duplicate",
                json!({"copied_from": original.id}),
            )
            .await
        })
        .await?;
    Ok(HttpResponse::Created().json(job_view(
        &job,
        &Vec::new(),
        role_on(&auth, &job, &Vec::new()),
    )?))
}

#[utoipa::path(tag = "jobs", params(("job_id" = JobId, Path)), request_body = SharesRequest, responses(
    (status = 200, body = JobView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/jobs/{job_id}/shares")]
async fn put_job_shares(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
    body: ApiJson<SharesRequest>,
) -> Result<web::Json<JobView>, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let (job, shares) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (job, before) =
                load_job(conn, &auth, id, Action::ShareResource, "share this job").await?;
            let shares = check_shares(conn, &auth, job.team_id, &body.0.shares).await?;
            Job::set_shares(conn, auth.organization_id, id, &shares).await?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "job.share",
                "job",
                id,
                json!({"name": job.name, "before": grants(&before), "after": grants(&shares)}),
            )
            .await?;
            Ok((job, shares))
        })
        .await?;
    Ok(web::Json(job_view(
        &job,
        &shares,
        role_on(&auth, &job, &shares),
    )?))
}

fn revision_view(r: JobRevision) -> Result<JobRevisionView, ApiError> {
    Ok(JobRevisionView {
        revision: r.revision,
        name: r.name,
        description: r.description,
        labels: r.labels,
        settings: serde_json::from_value(r.settings).map_err(|e| ApiError::Internal(e.into()))?,
        created_by: r.created_by,
        created_at: r.created_at,
    })
}

/// Every saved version of the job, newest first (editors).
#[utoipa::path(tag = "jobs", params(("job_id" = JobId, Path)), responses((status = 200, body = Vec<JobRevisionView>), (status = 404, body = ErrorBody)))]
#[get("/api/jobs/{job_id}/revisions")]
async fn list_revisions(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
) -> Result<web::Json<Vec<JobRevisionView>>, ApiError> {
    let mut conn = state.pool.get().await?;
    let (job, _) = load_job(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResourceDetails,
        "see this job's settings",
    )
    .await?;
    let revisions = Job::revisions(&mut conn, auth.organization_id, job.id).await?;
    Ok(web::Json(
        revisions
            .into_iter()
            .map(revision_view)
            .collect::<Result<_, _>>()?,
    ))
}

#[utoipa::path(tag = "jobs", params(("job_id" = JobId, Path), ("revision" = i32, Path)), responses((status = 200, body = JobRevisionView), (status = 404, body = ErrorBody)))]
#[get("/api/jobs/{job_id}/revisions/{revision}")]
async fn get_revision(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<(JobId, i32)>,
) -> Result<web::Json<JobRevisionView>, ApiError> {
    let (id, revision) = path.into_inner();
    let mut conn = state.pool.get().await?;
    load_job(
        &mut conn,
        &auth,
        id,
        Action::ViewResourceDetails,
        "see this job's settings",
    )
    .await?;
    let r = Job::revision(&mut conn, auth.organization_id, id, revision)
        .await?
        .ok_or_else(|| ApiError::not_found("revision"))?;
    Ok(web::Json(revision_view(r)?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct DiffQuery {
    from: i32,
    to: i32,
}

/// What changed between two revisions, path by path.
#[utoipa::path(tag = "jobs", params(("job_id" = JobId, Path), DiffQuery), responses((status = 200, body = RevisionDiff), (status = 404, body = ErrorBody)))]
#[get("/api/jobs/{job_id}/diff")]
async fn diff_revisions(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
    query: web::Query<DiffQuery>,
) -> Result<web::Json<RevisionDiff>, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    load_job(
        &mut conn,
        &auth,
        id,
        Action::ViewResourceDetails,
        "see this job's settings",
    )
    .await?;
    let mut docs = Vec::new();
    for n in [query.from, query.to] {
        let r = Job::revision(&mut conn, auth.organization_id, id, n)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("This job has no revision {n}.").into()))?;
        docs.push(json!({"name": r.name, "description": r.description, "labels": r.labels, "settings": r.settings}));
    }
    let mut changes = Vec::new();
    json_diff("", Some(&docs[0]), Some(&docs[1]), &mut changes);
    Ok(web::Json(RevisionDiff {
        from: query.from,
        to: query.to,
        changes,
    }))
}

/// The Embulk-style YAML a run of this job executes; secrets appear as `{{ env.* }}`
/// references (editors of the job and of its connections).
#[utoipa::path(tag = "jobs", params(("job_id" = JobId, Path)), responses(
    (status = 200, description = "YAML", content_type = "application/yaml"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/api/jobs/{job_id}/config")]
async fn job_config(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let (job, _) = load_job(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResourceDetails,
        "see this job's settings",
    )
    .await?;
    let (yaml, _) = compile_with_references(&mut conn, &auth, &job, true).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/yaml; charset=utf-8")
        .body(yaml))
}
