//! Workflows: CRUD (team editors), runs (operators and up), cancel and resume. The jobs a
//! workflow runs must be jobs the caller may run, and the connections its checks query
//! connections the caller and the workflow's team may use, checked when it is saved and
//! again when a run starts or resumes (and each check again when it runs). Secret header
//! values of HTTP tasks are sealed into `workflows.secrets`, never stored in the spec. The engine is `crate::workflows`.

use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::{ApiJson, Auth, parse_json};
use crate::models::destination::Destination;
use crate::models::workflow::{NewWorkflow, Workflow, WorkflowChangeset, WorkflowRun};
use crate::services::access::{TeamRefusal, load_authorized, require_team_editor, team_connection};
use crate::services::jobs::{load_job, name_conflict};
use crate::state::AppState;
use crate::workflows::side_tasks::seal_secret_headers;
use crate::workflows::{self, Refused};
use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::workflows::{
    SaveWorkflowRequest, StartWorkflowRunRequest, WorkflowRunView, WorkflowView,
};
use hakobu_core::authz::{Action, Target};
use hakobu_core::ids::{TeamId, WorkflowId, WorkflowRunId};
use hakobu_core::validation::FieldErrors;
use hakobu_core::workflow::WorkflowSpec;
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_workflows)
        .service(create_workflow)
        .service(get_workflow)
        .service(update_workflow)
        .service(delete_workflow)
        .service(start_workflow_run)
        .service(list_workflow_runs)
        .service(get_workflow_run)
        .service(cancel_workflow_run)
        .service(resume_workflow_run);
}

fn view(workflow: &Workflow) -> Result<WorkflowView, ApiError> {
    Ok(WorkflowView {
        id: workflow.id,
        team_id: workflow.team_id,
        name: workflow.name.clone(),
        description: workflow.description.clone(),
        spec: serde_json::from_value(workflow.spec.clone()).map_err(anyhow::Error::from)?,
        created_at: workflow.created_at,
        updated_at: workflow.updated_at,
    })
}

/// The workflow, if the caller may do `action` on it (404 for one the caller may not see).
pub(crate) async fn load_workflow(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    id: WorkflowId,
    action: Action,
    what: &str,
) -> Result<Workflow, ApiError> {
    let workflow = Workflow::find(conn, auth.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("workflow"))?;
    auth.require(
        action,
        Target::Resource {
            owner: workflow.team_id,
            shares: &[],
        },
        what,
    )
    .map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::not_found("workflow"),
        other => other,
    })?;
    Ok(workflow)
}

/// The run and its workflow, if the caller may do `action` on the workflow.
async fn load_run(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    id: WorkflowRunId,
    action: Action,
    what: &str,
) -> Result<(WorkflowRun, Workflow), ApiError> {
    let run = WorkflowRun::find(conn, auth.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("workflow run"))?;
    let workflow = load_workflow(conn, auth, run.workflow_id, action, what)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::not_found("workflow run"),
            other => other,
        })?;
    Ok((run, workflow))
}

/// Every job the spec runs must be one the caller may run, and every destination one of
/// the organization's; each problem at its field (`prefix` + `tasks[i].action.job_id`).
pub(crate) async fn check_references(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    spec: &WorkflowSpec,
    prefix: &str,
) -> Result<FieldErrors, ApiError> {
    let mut errors = FieldErrors::default();
    for (field, job) in spec.job_references() {
        let field = format!("{prefix}{field}");
        match load_job(conn, auth, job, Action::UseResource, "run this job").await {
            Ok((job, shares)) => {
                // A workflow variable gives its value to the job's variable of the same
                // name; one that goes into SQL as a name or fragment only from editors of
                // the job (as a manual run's explicit value).
                let settings = crate::services::jobs::parse_settings(&job)?;
                for (i, variable) in spec.variables.iter().enumerate() {
                    let unquoted = settings.variables.iter().any(|v| {
                        v.name == variable.name
                            && v.in_sql != hakobu_core::variables::SqlUse::Literal
                    });
                    if unquoted
                        && auth
                            .require(
                                Action::EditResource,
                                Target::Resource {
                                    owner: job.team_id,
                                    shares: &shares,
                                },
                                "give a value to a variable that goes into SQL as a name or fragment",
                            )
                            .is_err()
                    {
                        errors.push(
                            format!("{prefix}variables[{i}].name"),
                            format!(
                                "The job \"{}\" writes ${}$ into SQL as a name or as it is: only its editors may give it a value from a workflow.",
                                job.name, variable.name
                            ),
                        );
                    }
                }
            }
            Err(ApiError::NotFound(_)) => {
                errors.push(field, "No job you can see has this id.");
            }
            Err(ApiError::Forbidden(_)) => errors.push(
                field,
                "Your role on this job's team does not allow running it: a workflow may run only jobs you may run (operator or more).",
            ),
            Err(other) => return Err(other),
        }
    }
    check_workflow_references(conn, auth, spec, prefix, &mut errors).await?;
    for (field, destination) in spec.destination_references() {
        if Destination::find(conn, auth.organization_id, destination)
            .await?
            .is_none()
        {
            errors.push(
                format!("{prefix}{field}"),
                "No notification destination of your organization has this id.",
            );
        }
    }
    errors
        .0
        .extend(check_connections(conn, auth, spec, prefix).await?.0);
    Ok(errors)
}

/// Every connection a check task queries must be a PostgreSQL or MySQL connection the
/// caller may use (operator or more; another organization's is unknown here).
async fn check_connections(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    spec: &WorkflowSpec,
    prefix: &str,
) -> Result<FieldErrors, ApiError> {
    let mut errors = FieldErrors::default();
    for (field, id) in spec.connection_references() {
        let field = format!("{prefix}{field}");
        match load_authorized(conn, auth, id, Action::UseResource, "query this connection").await {
            Ok((c, _)) if !c.kind.runs_data_checks() => errors.push(
                field,
                "must be a database or data warehouse connection (PostgreSQL, MySQL, BigQuery or Snowflake): a check runs SQL.",
            ),
            Ok(_) => {}
            Err(ApiError::NotFound(_)) => {
                errors.push(field, "No connection you can see has this id.")
            }
            Err(ApiError::Forbidden(_)) => errors.push(
                field,
                "Your role on this connection's team does not allow using it: a check may query only connections you may use (operator or more).",
            ),
            Err(other) => return Err(other),
        }
    }
    Ok(errors)
}

/// At save: the workflow's team must be able to use every connection its checks query
/// (it is what the task runs with, checked again at every execution).
async fn check_team_connections(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    team: TeamId,
    spec: &WorkflowSpec,
    prefix: &str,
) -> Result<FieldErrors, ApiError> {
    let mut errors = FieldErrors::default();
    for (field, id) in spec.connection_references() {
        match team_connection(conn, auth.organization_id, team, id).await? {
            Ok(_) => {}
            Err(TeamRefusal::Gone) => {
                errors.push(format!("{prefix}{field}"), "No connection you can see has this id.")
            }
            Err(TeamRefusal::NotAllowed(name)) => errors.push(
                format!("{prefix}{field}"),
                format!("The workflow's team may not use connection {name:?}: share it with the team at operator or higher."),
            ),
        }
    }
    Ok(errors)
}

/// Every workflow the spec runs must be one of the organization's the caller may run (an
/// id of another organization is "no workflow you can see", as an unknown one).
async fn check_workflow_references(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    spec: &WorkflowSpec,
    prefix: &str,
    errors: &mut FieldErrors,
) -> Result<(), ApiError> {
    for (field, id) in spec.workflow_references() {
        let field = format!("{prefix}{field}");
        match load_workflow(conn, auth, id, Action::UseResource, "run this workflow").await {
            Ok(_) => {}
            Err(ApiError::NotFound(_)) => errors.push(field, "No workflow you can see has this id."),
            Err(ApiError::Forbidden(_)) => errors.push(
                field,
                "Your role on this workflow's team does not allow running it: a workflow may run only workflows you may run (operator or more).",
            ),
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// The nesting of workflow `id` with the tasks of `spec`, over the organization's saved
/// workflows (`hakobu_core::workflow::nesting`): a loop back to itself or through others,
/// or a chain too deep, at the field of the task that leads to it.
async fn check_nesting(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    id: WorkflowId,
    name: &str,
    spec: &WorkflowSpec,
    prefix: &str,
) -> Result<FieldErrors, ApiError> {
    use hakobu_core::workflow::nesting::{Node, check_nesting as find_problem};
    let mut errors = FieldErrors::default();
    let references = spec.workflow_references();
    if references.is_empty() {
        return Ok(errors);
    }
    let mut graph = std::collections::HashMap::new();
    for saved in Workflow::list(conn, auth.organization_id).await? {
        let runs = serde_json::from_value::<WorkflowSpec>(saved.spec.clone())
            .map(|s| {
                s.workflow_references()
                    .into_iter()
                    .map(|(_, w)| w)
                    .collect()
            })
            .unwrap_or_default();
        graph.insert(
            saved.id,
            Node {
                name: saved.name,
                runs,
            },
        );
    }
    graph.insert(
        id,
        Node {
            name: name.to_owned(),
            runs: references.iter().map(|(_, w)| *w).collect(),
        },
    );
    if let Err((via, problem)) = find_problem(id, &graph) {
        let field = references
            .iter()
            .find(|(_, w)| *w == via)
            .map(|(f, _)| f.clone())
            .unwrap_or_else(|| "tasks".to_owned());
        errors.push(format!("{prefix}{field}"), problem.message());
    }
    Ok(errors)
}

/// At a run's start or resume: the caller must still be allowed every job it runs.
async fn check_references_at_run(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    run_spec: &serde_json::Value,
) -> Result<(), ApiError> {
    let spec: WorkflowSpec =
        serde_json::from_value(run_spec.clone()).map_err(anyhow::Error::from)?;
    let errors = check_references(conn, auth, &spec, "spec.").await?;
    match errors.first() {
        None => Ok(()),
        Some(first) => Err(ApiError::Forbidden(
            format!(
                "This workflow cannot run for you: {} ({})",
                first.message, first.field
            )
            .into(),
        )),
    }
}

/// Workflows the caller can see.
#[utoipa::path(tag = "workflows", responses((status = 200, body = Vec<WorkflowView>)))]
#[get("/api/workflows")]
async fn list_workflows(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<Vec<WorkflowView>>, ApiError> {
    let mut conn = state.pool.get().await?;
    let mut views = Vec::new();
    for workflow in Workflow::list(&mut conn, auth.organization_id).await? {
        if auth
            .principal
            .resource_role(workflow.team_id, &[])
            .is_some()
        {
            views.push(view(&workflow)?);
        }
    }
    Ok(web::Json(views))
}

/// Creates a workflow (editors of the team; every job it runs must be one the caller may
/// run).
#[utoipa::path(tag = "workflows", request_body = SaveWorkflowRequest, responses(
    (status = 201, body = WorkflowView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/workflows")]
async fn create_workflow(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<SaveWorkflowRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut conn = state.pool.get().await?;
    require_team_editor(&mut conn, &auth, body.team_id, "team_id").await?;
    body.validate()?;
    let id = WorkflowId::new();
    let workflow = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let mut errors = check_references(conn, &auth, &body.spec, "spec.").await?;
            if errors.is_empty() {
                errors =
                    check_team_connections(conn, &auth, body.team_id, &body.spec, "spec.").await?;
            }
            errors.into_result()?;
            check_nesting(conn, &auth, id, body.name.trim(), &body.spec, "spec.")
                .await?
                .into_result()?;
            let (stored, sealed) = seal_secret_headers(
                &state,
                auth.organization_id,
                id,
                &body.spec,
                &Default::default(),
                "spec.",
            )?;
            let workflow = Workflow::insert(
                conn,
                NewWorkflow {
                    id,
                    organization_id: auth.organization_id,
                    team_id: body.team_id,
                    name: body.name.trim(),
                    description: body.description.trim(),
                    spec: serde_json::to_value(&stored).map_err(anyhow::Error::from)?,
                    created_by: Some(auth.user_id),
                },
            )
            .await
            .map_err(name_conflict)?;
            Workflow::set_secrets(conn, auth.organization_id, id, sealed).await?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "workflow.create",
                "workflow",
                workflow.id,
                json!({"name": workflow.name, "tasks": body.spec.tasks.len()}),
            )
            .await?;
            Ok(workflow)
        })
        .await?;
    Ok(HttpResponse::Created().json(view(&workflow)?))
}

#[utoipa::path(tag = "workflows", params(("workflow_id" = WorkflowId, Path)), responses(
    (status = 200, body = WorkflowView), (status = 404, body = ErrorBody)))]
#[get("/api/workflows/{workflow_id}")]
async fn get_workflow(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<WorkflowId>,
) -> Result<web::Json<WorkflowView>, ApiError> {
    let mut conn = state.pool.get().await?;
    let workflow = load_workflow(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResource,
        "see this workflow",
    )
    .await?;
    Ok(web::Json(view(&workflow)?))
}

/// Replaces a workflow's name, description and tasks (editors); `team_id` must be its
/// team. Runs already started keep the tasks they started with.
#[utoipa::path(tag = "workflows", params(("workflow_id" = WorkflowId, Path)), request_body = SaveWorkflowRequest, responses(
    (status = 200, body = WorkflowView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/workflows/{workflow_id}")]
async fn update_workflow(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<WorkflowId>,
    body: ApiJson<SaveWorkflowRequest>,
) -> Result<web::Json<WorkflowView>, ApiError> {
    let body = body.0;
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let workflow = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let before = load_workflow(
                conn,
                &auth,
                id,
                Action::EditResource,
                "change this workflow",
            )
            .await?;
            if body.team_id != before.team_id {
                return Err(ApiError::field(
                    "team_id",
                    "A workflow stays with its team: send the team it belongs to.",
                ));
            }
            body.validate()?;
            let mut errors = check_references(conn, &auth, &body.spec, "spec.").await?;
            if errors.is_empty() {
                errors = check_team_connections(conn, &auth, before.team_id, &body.spec, "spec.")
                    .await?;
            }
            errors.into_result()?;
            let previous = Workflow::secrets(conn, auth.organization_id, id)
                .await?
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
            check_nesting(conn, &auth, id, body.name.trim(), &body.spec, "spec.")
                .await?
                .into_result()?;
            let (stored, sealed) = seal_secret_headers(
                &state,
                auth.organization_id,
                id,
                &body.spec,
                &previous,
                "spec.",
            )?;
            let after = Workflow::update(
                conn,
                auth.organization_id,
                id,
                WorkflowChangeset {
                    name: body.name.trim(),
                    description: body.description.trim(),
                    spec: serde_json::to_value(&stored).map_err(anyhow::Error::from)?,
                    updated_at: Utc::now(),
                },
            )
            .await
            .map_err(name_conflict)?
            .ok_or_else(|| ApiError::not_found("workflow"))?;
            Workflow::set_secrets(conn, auth.organization_id, id, sealed).await?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "workflow.update",
                "workflow",
                id,
                json!({"name": after.name, "tasks": body.spec.tasks.len()}),
            )
            .await?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(view(&workflow)?))
}

/// Deletes a workflow and its run history (editors). Job runs it started stay.
#[utoipa::path(tag = "workflows", params(("workflow_id" = WorkflowId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[delete("/api/workflows/{workflow_id}")]
async fn delete_workflow(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<WorkflowId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let workflow = load_workflow(
            conn,
            &auth,
            id,
            Action::EditResource,
            "delete this workflow",
        )
        .await?;
        let running = WorkflowRun::for_workflow(conn, auth.organization_id, id, 1000)
            .await?
            .iter()
            .any(|r| r.status == hakobu_core::workflow::WorkflowRunStatus::Running);
        if running {
            return Err(ApiError::Conflict {
                message: "This workflow has a run in progress: cancel it first.".into(),
                field: None,
            });
        }
        Workflow::delete(conn, auth.organization_id, id).await?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "workflow.delete",
            "workflow",
            id,
            json!({"name": workflow.name}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Starts a run of the workflow (operators and up, who must still be allowed to run every
/// job in it). The body may be empty.
#[utoipa::path(tag = "workflows", params(("workflow_id" = WorkflowId, Path)), request_body(content = Option<StartWorkflowRunRequest>), responses(
    (status = 201, body = WorkflowRunView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/api/workflows/{workflow_id}/runs")]
async fn start_workflow_run(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<WorkflowId>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: StartWorkflowRunRequest = if body.iter().all(u8::is_ascii_whitespace) {
        StartWorkflowRunRequest::default()
    } else {
        parse_json(&body)?
    };
    let mut conn = state.pool.get().await?;
    let run = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let workflow = load_workflow(
                conn,
                &auth,
                path.into_inner(),
                Action::UseResource,
                "run this workflow",
            )
            .await?;
            check_references_at_run(conn, &auth, &workflow.spec).await?;
            // Other workflows may have changed since this one was saved.
            let spec: WorkflowSpec =
                serde_json::from_value(workflow.spec.clone()).map_err(anyhow::Error::from)?;
            if let Some(problem) =
                check_nesting(conn, &auth, workflow.id, &workflow.name, &spec, "spec.")
                    .await?
                    .first()
            {
                return Err(ApiError::Conflict {
                    message: format!(
                        "This workflow cannot start: {} ({})",
                        problem.message, problem.field
                    )
                    .into(),
                    field: None,
                });
            }
            let inputs = match request.as_of {
                Some(at) => json!({"as_of": at}),
                None => json!({}),
            };
            let run =
                workflows::start(conn, &workflow, "manual", Some(auth.user_id), inputs).await?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "workflow.run.start",
                "workflow_run",
                run.id,
                json!({"workflow_id": workflow.id, "workflow_name": workflow.name}),
            )
            .await?;
            Ok(run)
        })
        .await?;
    Ok(HttpResponse::Created().json(workflows::view(&mut conn, &run).await?))
}

/// How many runs `GET /api/workflows/{id}/runs` answers.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct RunsQuery {
    /// The latest this many runs, 1 to 100 (100 when absent): the workflows page asks
    /// for 1, the last run, per workflow.
    limit: Option<i64>,
}

/// The workflow's latest runs (up to 100, or `limit`), newest first, with their tasks'
/// states.
#[utoipa::path(tag = "workflows", params(("workflow_id" = WorkflowId, Path), RunsQuery), responses(
    (status = 200, body = Vec<WorkflowRunView>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/api/workflows/{workflow_id}/runs")]
async fn list_workflow_runs(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<WorkflowId>,
    query: web::Query<RunsQuery>,
) -> Result<web::Json<Vec<WorkflowRunView>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        let mut errors = FieldErrors::default();
        errors.push("limit", "must be between 1 and 100 runs");
        return Err(errors.into());
    }
    let mut conn = state.pool.get().await?;
    let workflow = load_workflow(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResource,
        "see this workflow",
    )
    .await?;
    let mut views = Vec::new();
    for run in
        WorkflowRun::for_workflow(&mut conn, auth.organization_id, workflow.id, limit).await?
    {
        views.push(workflows::view(&mut conn, &run).await?);
    }
    Ok(web::Json(views))
}

/// A workflow run with each task's state and the job run it started.
#[utoipa::path(tag = "workflows", params(("run_id" = WorkflowRunId, Path)), responses(
    (status = 200, body = WorkflowRunView), (status = 404, body = ErrorBody)))]
#[get("/api/workflow-runs/{run_id}")]
async fn get_workflow_run(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<WorkflowRunId>,
) -> Result<web::Json<WorkflowRunView>, ApiError> {
    let mut conn = state.pool.get().await?;
    let (run, _) = load_run(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResource,
        "see this workflow",
    )
    .await?;
    Ok(web::Json(workflows::view(&mut conn, &run).await?))
}

fn refused(e: Refused) -> ApiError {
    match e {
        Refused::NotFound => ApiError::not_found("workflow run"),
        Refused::Conflict(message) => ApiError::Conflict {
            message: message.into(),
            field: None,
        },
    }
}

/// Cancels the whole run (operators and up): pending tasks will not start, running job
/// runs are cancelled.
#[utoipa::path(tag = "workflows", params(("run_id" = WorkflowRunId, Path)), responses(
    (status = 200, body = WorkflowRunView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/api/workflow-runs/{run_id}/cancel")]
async fn cancel_workflow_run(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<WorkflowRunId>,
) -> Result<web::Json<WorkflowRunView>, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let (_, workflow) = load_run(
        &mut conn,
        &auth,
        id,
        Action::UseResource,
        "cancel this workflow",
    )
    .await?;
    workflows::cancel(&mut conn, state.launcher.as_ref(), auth.organization_id, id)
        .await?
        .map_err(refused)?;
    audit::record(
        &mut conn,
        &Actor::from(&auth),
        "workflow.run.cancel",
        "workflow_run",
        id,
        json!({"workflow_id": workflow.id}),
    )
    .await?;
    let (run, _) = load_run(
        &mut conn,
        &auth,
        id,
        Action::ViewResource,
        "see this workflow",
    )
    .await?;
    Ok(web::Json(workflows::view(&mut conn, &run).await?))
}

/// Resumes a failed or cancelled run (operators and up): only the tasks that failed, were
/// cancelled or skipped because of a failure, and those after them, run again; the
/// succeeded ones are kept.
#[utoipa::path(tag = "workflows", params(("run_id" = WorkflowRunId, Path)), responses(
    (status = 200, body = WorkflowRunView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[post("/api/workflow-runs/{run_id}/resume")]
async fn resume_workflow_run(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<WorkflowRunId>,
) -> Result<web::Json<WorkflowRunView>, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let (run, workflow) = load_run(
        &mut conn,
        &auth,
        id,
        Action::UseResource,
        "resume this workflow",
    )
    .await?;
    check_references_at_run(&mut conn, &auth, &run.spec).await?;
    let again = workflows::resume(&mut conn, auth.organization_id, id)
        .await?
        .map_err(refused)?;
    audit::record(
        &mut conn,
        &Actor::from(&auth),
        "workflow.run.resume",
        "workflow_run",
        id,
        json!({"workflow_id": workflow.id, "tasks": again}),
    )
    .await?;
    let (run, _) = load_run(
        &mut conn,
        &auth,
        id,
        Action::ViewResource,
        "see this workflow",
    )
    .await?;
    Ok(web::Json(workflows::view(&mut conn, &run).await?))
}
