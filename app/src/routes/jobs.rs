//! Transfer jobs: CRUD with revisions, sharing, the compiled config, Embulk import/export.

use crate::audit::{self, Actor};
use crate::auth::Auth;
use crate::error::{ApiError, is_unique_violation};
use crate::extract::ApiJson;
use crate::models::connection::Connection;
use crate::models::job::{Job, JobChangeset, JobRevision, NewJob, Shares};
use crate::routes::connections::{check_shares, grants, load_authorized, require_team_editor};
use crate::startup::AppState;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::api::connections::SharesRequest;
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::jobs::{
    CreateJobRequest, JobRevisionView, JobView, RevisionDiff, UpdateJobRequest, json_diff,
    validate_job_text,
};
use hakobu_core::api::org::TeamGrant;
use hakobu_core::authz::{Action, Target, TeamRole};
use hakobu_core::ids::{JobId, TeamId};
use hakobu_core::job::{CompileConnection, ConnectionInfo, JobSettings, compile};
use hakobu_core::validation::FieldErrors;
use serde::Deserialize;
use serde_json::{Map, Value, json};
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

/// A job and its shares, if the caller may do `action` on it (404 otherwise).
pub async fn load_job(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    id: JobId,
    action: Action,
    what: &str,
) -> Result<(Job, Shares), ApiError> {
    let job = Job::find(conn, auth.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))?;
    let shares = Job::shares(conn, auth.organization_id, id).await?;
    auth.require(
        action,
        Target::Resource {
            owner: job.team_id,
            shares: &shares,
        },
        what,
    )
    .map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::not_found("job"),
        other => other,
    })?;
    Ok((job, shares))
}

pub fn parse_settings(job: &Job) -> Result<JobSettings, ApiError> {
    serde_json::from_value(job.settings.clone()).map_err(|e| {
        ApiError::Internal(anyhow::anyhow!(
            "stored settings of job {} do not parse: {e}",
            job.id
        ))
    })
}

pub fn job_view(job: &Job, shares: &Shares, role: TeamRole) -> Result<JobView, ApiError> {
    let details = role >= TeamRole::Editor;
    Ok(JobView {
        id: job.id,
        name: job.name.clone(),
        description: job.description.clone(),
        labels: job.labels.clone(),
        enabled: job.enabled,
        team_id: job.team_id,
        revision: job.revision,
        your_role: role,
        shares: shares
            .iter()
            .map(|(team_id, role)| TeamGrant {
                team_id: *team_id,
                role: *role,
            })
            .collect(),
        settings: if details {
            Some(parse_settings(job)?)
        } else {
            None
        },
        incremental_state: if details {
            job.incremental_state.clone()
        } else {
            None
        },
        created_at: job.created_at,
        updated_at: job.updated_at,
    })
}

fn role_on(auth: &Auth, job: &Job, shares: &Shares) -> TeamRole {
    auth.principal
        .resource_role(job.team_id, shares)
        .unwrap_or(TeamRole::Viewer)
}

/// The connections a job names, each usable by the caller; problems as field errors.
pub async fn resolve_connections(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    settings: &JobSettings,
) -> Result<(Connection, Connection), ApiError> {
    let mut errors = FieldErrors::default();
    let mut found = Vec::new();
    for (field, id) in [
        (
            "settings.source.connection_id",
            settings.source.connection_id,
        ),
        (
            "settings.destination.connection_id",
            settings.destination.connection_id,
        ),
    ] {
        match load_authorized(conn, auth, id, Action::UseResource, "use this connection").await {
            Ok((c, _)) => found.push(Some(c)),
            Err(ApiError::NotFound(_)) => {
                errors.push(field, "is not a connection you can see");
                found.push(None);
            }
            Err(ApiError::Forbidden(_)) => {
                errors.push(
                    field,
                    "is a connection your role may not use (operator or higher is needed)",
                );
                found.push(None);
            }
            Err(other) => return Err(other),
        }
    }
    super::data_checks::check_connections(conn, auth, settings, &mut errors).await?;
    let destination = found.pop().flatten();
    let source = found.pop().flatten();
    let info = |c: &Option<Connection>| c.as_ref().map(|c| ConnectionInfo { kind: c.kind });
    errors.0.extend(
        settings
            .validate(info(&source), info(&destination))
            .0
            .into_iter()
            .map(|mut e| {
                e.field = format!("settings.{}", e.field);
                e
            }),
    );
    errors.into_result()?;
    match (source, destination) {
        (Some(s), Some(d)) => Ok((s, d)),
        _ => unreachable!("errors were reported above"),
    }
}

const DUPLICATE_NAME: &str = "A job with this name already exists.";

fn name_conflict(e: diesel::result::Error) -> ApiError {
    if is_unique_violation(&e) {
        ApiError::conflict("name", DUPLICATE_NAME)
    } else {
        e.into()
    }
}

/// Creates a job with its first revision.
pub async fn insert_job(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    auth: &Auth,
    request: &CreateJobRequest,
    action: &str,
    extra_audit: Value,
) -> Result<Job, ApiError> {
    let (source, destination) = resolve_connections(conn, auth, &request.settings).await?;
    super::job_checks::check_against_databases(state, &request.settings, &source, &destination)
        .await?;
    let job = Job::insert(
        conn,
        NewJob {
            id: JobId::new(),
            organization_id: auth.organization_id,
            team_id: request.team_id,
            name: request.name.trim(),
            description: request.description.trim(),
            labels: &request.labels,
            enabled: request.enabled,
            settings: serde_json::to_value(&request.settings).map_err(anyhow::Error::from)?,
            source_connection_id: source.id,
            destination_connection_id: destination.id,
            created_by: Some(auth.user_id),
        },
    )
    .await
    .map_err(name_conflict)?;
    Job::record_revision(conn, &job, Some(auth.user_id)).await?;
    let mut details = json!({"name": job.name, "team_id": job.team_id, "revision": job.revision, "settings": job.settings});
    if let (Some(d), Value::Object(extra)) = (details.as_object_mut(), extra_audit) {
        d.extend(extra);
    }
    audit::record(conn, &Actor::from(auth), action, "job", job.id, details).await?;
    Ok(job)
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
    let mut conn = state.pool.get().await?;
    require_team_editor(&mut conn, &auth, body.team_id, "team_id").await?;
    let mut errors = FieldErrors::default();
    validate_job_text(
        &mut errors,
        Some(&body.name),
        Some(&body.description),
        Some(&body.labels),
    );
    errors.into_result()?;
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
    let mut conn = state.pool.get().await?;
    let (job, shares) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (before, shares) =
                load_job(conn, &auth, id, Action::EditResource, "change this job").await?;
            let settings = match &body.settings {
                Some(s) => s.clone(),
                None => parse_settings(&before)?,
            };
            let (source, destination) = if body.settings.is_some() {
                let (s, d) = resolve_connections(conn, &auth, &settings).await?;
                super::job_checks::check_against_databases(&state, &settings, &s, &d).await?;
                (s.id, d.id)
            } else {
                (
                    before.source_connection_id,
                    before.destination_connection_id,
                )
            };
            let settings_value = serde_json::to_value(&settings).map_err(anyhow::Error::from)?;
            let name = body
                .name
                .as_deref()
                .map(str::trim)
                .unwrap_or(&before.name)
                .to_owned();
            let description = body
                .description
                .as_deref()
                .map(str::trim)
                .unwrap_or(&before.description)
                .to_owned();
            let labels = body.labels.clone().unwrap_or_else(|| before.labels.clone());
            let revised = name != before.name
                || description != before.description
                || labels != before.labels
                || settings_value != before.settings;
            let after = Job::update(
                conn,
                auth.organization_id,
                id,
                JobChangeset {
                    name: &name,
                    description: &description,
                    labels: &labels,
                    enabled: body.enabled.unwrap_or(before.enabled),
                    settings: settings_value,
                    source_connection_id: source,
                    destination_connection_id: destination,
                    revision: before.revision + i32::from(revised),
                    updated_at: Utc::now(),
                },
            )
            .await
            .map_err(name_conflict)?
            .ok_or_else(|| ApiError::not_found("job"))?;
            if revised {
                Job::record_revision(conn, &after, Some(auth.user_id)).await?;
            }
            let mut changes = Vec::new();
            json_diff(
                "",
                Some(&revision_doc(&before)),
                Some(&revision_doc(&after)),
                &mut changes,
            );
            if after.enabled != before.enabled {
                changes.push(hakobu_core::api::jobs::RevisionChange {
                    path: "enabled".into(),
                    before: Some(json!(before.enabled)),
                    after: Some(json!(after.enabled)),
                });
            }
            let action = match (revised, after.enabled != before.enabled, after.enabled) {
                (false, true, true) => "job.enable",
                (false, true, false) => "job.disable",
                _ => "job.update",
            };
            if !changes.is_empty() {
                audit::record(
                    conn,
                    &Actor::from(&auth),
                    action,
                    "job",
                    id,
                    json!({"name": after.name, "revision": after.revision, "changes": changes}),
                )
                .await?;
            }
            Ok((after, shares))
        })
        .await?;
    Ok(web::Json(job_view(
        &job,
        &shares,
        role_on(&auth, &job, &shares),
    )?))
}

fn revision_doc(job: &Job) -> Value {
    json!({"name": job.name, "description": job.description, "labels": job.labels, "settings": job.settings})
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
            .ok_or_else(|| ApiError::NotFound(format!("This job has no revision {n}.")))?;
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

/// Environment variable that stands for a secret in shown and exported YAML.
pub fn secret_env_name(role: &str, field: &str) -> String {
    format!("{}_{}", role.to_uppercase(), field.to_uppercase())
}

/// The job compiled with secrets as `{{ env.* }}` references, plus those variable names
/// (editors of both connections only).
pub async fn compile_with_references(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    job: &Job,
    include_state: bool,
) -> Result<(String, Vec<String>), ApiError> {
    let settings = parse_settings(job)?;
    let mut connections = Vec::new();
    for id in [job.source_connection_id, job.destination_connection_id] {
        let (c, _) = load_authorized(
            conn,
            auth,
            id,
            Action::ViewResourceDetails,
            "see the details of the connections this job uses",
        )
        .await?;
        connections.push(c);
    }
    let state = if include_state {
        job.incremental_state.as_ref()
    } else {
        None
    };
    yaml_with_references(&settings, &connections[0], &connections[1], state)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("job {} does not compile: {e}", job.id)))
}

/// Compiles settings with each secret as `{{ env.SOURCE_PASSWORD }}`-style references;
/// answers the YAML and the variable names. Runs render it with the decrypted values.
pub fn yaml_with_references(
    settings: &JobSettings,
    source: &Connection,
    destination: &Connection,
    state: Option<&Value>,
) -> Result<(String, Vec<String>), hakobu_core::config::ConfigError> {
    let mut env_names = Vec::new();
    let mut references = Vec::new();
    for (role, c) in [("source", source), ("destination", destination)] {
        let mut map = Map::new();
        for name in c.secret_names() {
            let env = secret_env_name(role, name);
            map.insert(
                name.to_owned(),
                Value::String(format!("{{{{ env.{env} }}}}")),
            );
            env_names.push(env);
        }
        references.push(map);
    }
    let empty = Map::new();
    let plain = |c: &Connection| {
        c.settings
            .as_object()
            .cloned()
            .unwrap_or_else(|| empty.clone())
    };
    let (source_plain, destination_plain) = (plain(source), plain(destination));
    let config = compile(
        settings,
        &CompileConnection {
            kind: source.kind,
            settings: &source_plain,
            secrets: &references[0],
        },
        &CompileConnection {
            kind: destination.kind,
            settings: &destination_plain,
            secrets: &references[1],
        },
        state,
    )?;
    Ok((config.to_yaml(), env_names))
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

/// Used by import to find an existing equal connection before creating one.
pub fn same_connection(
    c: &Connection,
    kind: hakobu_core::connection::ConnectionKind,
    team: TeamId,
    settings: &Map<String, Value>,
) -> bool {
    c.kind == kind
        && c.team_id == team
        && hakobu_core::connection::same_settings(
            kind,
            c.settings.as_object().unwrap_or(&Map::new()),
            settings,
        )
}
