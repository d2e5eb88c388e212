//! Notification rules: per job (its editors manage them), per workflow (editors of its
//! team; its runs' success and failure) and organization-wide defaults for jobs
//! (organization admins), and the deliveries a run caused.

use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::extract::Auth;
use crate::models::destination::Destination;
use crate::models::notification_outbox::OutboxEntry;
use crate::models::notification_rule::{
    NewNotificationRule, NotificationRule, NotificationRuleChangeset,
};
use crate::models::run::Run;
use crate::notify::render;
use crate::routes::workflows::load_workflow;
use crate::services::jobs::load_job;
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::Utc;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::notifications::{DeliveryView, NotificationEventKind, RuleRequest, RuleView};
use hakobu_core::authz::{Action, Target};
use hakobu_core::ids::{JobId, NotificationRuleId, RunId, WorkflowId};
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::FieldErrors;
use hakobu_engine::template::TemplateError;
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_job_rules)
        .service(create_job_rule)
        .service(list_workflow_rules)
        .service(create_workflow_rule)
        .service(list_default_rules)
        .service(create_default_rule)
        .service(update_rule)
        .service(delete_rule)
        .service(run_notifications);
}

/// Field checks that need the database: the destination belongs to the organization,
/// and the templates render.
pub(crate) async fn validate(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    body: &RuleRequest,
) -> Result<(), ApiError> {
    let mut errors: FieldErrors = body.validate();
    if Destination::find(conn, auth.organization_id, body.destination_id)
        .await?
        .is_none()
    {
        errors.push_message("destination_id", MessageCode::NotADestination);
    }
    for (field, text) in [("template", &body.template), ("subject", &body.subject)] {
        let Some(text) = text.clone() else {
            continue;
        };
        // A render may take up to the template time limit: not on an async worker.
        let checked = web::block(move || render::check_template(&text))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("checking a template: {e}")))?;
        match checked {
            Ok(()) => {}
            Err(TemplateError::Limit(limit)) => errors.push_message(field, limit.message()),
            Err(TemplateError::Invalid(detail)) => errors.push_message(
                field,
                MessageCode::TemplateBroken.with("detail", detail).with(
                    "names",
                    "job_name, status, rows, duration, run_url, error, threshold, checks, schedule, variables.NAME",
                ),
            ),
        }
    }
    errors.into_result()?;
    Ok(())
}

fn new_rule<'a>(
    auth: &Auth,
    job: Option<JobId>,
    workflow: Option<WorkflowId>,
    body: &'a RuleRequest,
) -> NewNotificationRule<'a> {
    NewNotificationRule {
        id: NotificationRuleId::new(),
        organization_id: auth.organization_id,
        job_id: job,
        workflow_id: workflow,
        destination_id: body.destination_id,
        event: body.event,
        threshold: body.threshold,
        subject: body.subject.as_deref(),
        template: body.template.as_deref(),
        mentions: json!(body.mentions),
        enabled: body.enabled,
    }
}

/// May the caller change `rule`? Job rules: editors of the job; workflow rules: editors
/// of the workflow's team; defaults: organization admins. Another organization's rule, or a job the caller cannot see: 404.
async fn authorize_change(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    rule: &NotificationRule,
) -> Result<(), ApiError> {
    if let Some(workflow) = rule.workflow_id {
        return load_workflow(
            conn,
            auth,
            workflow,
            Action::EditResource,
            "change this workflow's notifications",
        )
        .await
        .map(|_| ())
        .map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::not_found("notification rule"),
            other => other,
        });
    }
    match rule.job_id {
        Some(job) => load_job(
            conn,
            auth,
            job,
            Action::EditResource,
            "change this job's notifications",
        )
        .await
        .map(|_| ())
        .map_err(|e| match e {
            ApiError::NotFound(_) => ApiError::not_found("notification rule"),
            other => other,
        }),
        None => auth.require(
            Action::ManageNotifications,
            Target::Organization,
            "change the organization's default notifications",
        ),
    }
}

/// The job's rules (anyone who sees the job).
#[utoipa::path(tag = "notifications", params(("job_id" = JobId, Path)), responses(
    (status = 200, body = Vec<RuleView>), (status = 404, body = ErrorBody)))]
#[get("/api/jobs/{job_id}/notification-rules")]
async fn list_job_rules(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
) -> Result<web::Json<Vec<RuleView>>, ApiError> {
    let mut conn = state.pool.get().await?;
    let (job, _) = load_job(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResource,
        "see this job",
    )
    .await?;
    let rules = NotificationRule::list(&mut conn, auth.organization_id, Some(job.id)).await?;
    Ok(web::Json(
        rules.iter().map(NotificationRule::view).collect(),
    ))
}

/// Adds a rule to the job (editors of the job).
#[utoipa::path(tag = "notifications", params(("job_id" = JobId, Path)), request_body = RuleRequest, responses(
    (status = 201, body = RuleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/jobs/{job_id}/notification-rules")]
async fn create_job_rule(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<JobId>,
    body: ApiJson<RuleRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut conn = state.pool.get().await?;
    let rule = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (job, _) = load_job(
                conn,
                &auth,
                path.into_inner(),
                Action::EditResource,
                "change this job's notifications",
            )
            .await?;
            validate(conn, &auth, &body).await?;
            let rule =
                NotificationRule::insert(conn, new_rule(&auth, Some(job.id), None, &body)).await?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "notification_rule.create",
                "notification_rule",
                rule.id,
                json!({"job_id": job.id, "job_name": job.name, "rule": rule.view()}),
            )
            .await?;
            Ok(rule)
        })
        .await?;
    Ok(HttpResponse::Created().json(rule.view()))
}

/// A workflow run ends succeeded or failed: a workflow's rule is for one of these.
pub(crate) fn workflow_event(body: &RuleRequest) -> Result<(), ApiError> {
    if matches!(
        body.event,
        NotificationEventKind::Success | NotificationEventKind::Failure
    ) {
        return Ok(());
    }
    let mut errors = FieldErrors::default();
    errors.push(
        "event",
        "A workflow's rule is for its runs' success or failure; the other events are about a job's run.",
    );
    errors.into_result()?;
    Ok(())
}

/// The workflow's rules (anyone who sees the workflow).
#[utoipa::path(tag = "notifications", params(("workflow_id" = WorkflowId, Path)), responses(
    (status = 200, body = Vec<RuleView>), (status = 404, body = ErrorBody)))]
#[get("/api/workflows/{workflow_id}/notification-rules")]
async fn list_workflow_rules(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<WorkflowId>,
) -> Result<web::Json<Vec<RuleView>>, ApiError> {
    let mut conn = state.pool.get().await?;
    let workflow = load_workflow(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResource,
        "see this workflow",
    )
    .await?;
    let rules =
        NotificationRule::for_workflow(&mut conn, auth.organization_id, workflow.id).await?;
    Ok(web::Json(
        rules.iter().map(NotificationRule::view).collect(),
    ))
}

/// Adds a rule to the workflow (editors of its team): `success` or `failure` of its runs.
#[utoipa::path(tag = "notifications", params(("workflow_id" = WorkflowId, Path)), request_body = RuleRequest, responses(
    (status = 201, body = RuleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/workflows/{workflow_id}/notification-rules")]
async fn create_workflow_rule(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<WorkflowId>,
    body: ApiJson<RuleRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut conn = state.pool.get().await?;
    let rule = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let workflow = load_workflow(
                conn,
                &auth,
                path.into_inner(),
                Action::EditResource,
                "change this workflow's notifications",
            )
            .await?;
            validate(conn, &auth, &body).await?;
            workflow_event(&body)?;
            let rule =
                NotificationRule::insert(conn, new_rule(&auth, None, Some(workflow.id), &body))
                    .await?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "notification_rule.create",
                "notification_rule",
                rule.id,
                json!({"workflow_id": workflow.id, "workflow_name": workflow.name, "rule": rule.view()}),
            )
            .await?;
            Ok(rule)
        })
        .await?;
    Ok(HttpResponse::Created().json(rule.view()))
}

/// The organization-wide default rules (everyone in the organization).
#[utoipa::path(tag = "notifications", responses((status = 200, body = Vec<RuleView>)))]
#[get("/api/notification-rules")]
async fn list_default_rules(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<Vec<RuleView>>, ApiError> {
    auth.require(
        Action::ViewOrganization,
        Target::Organization,
        "see the default notifications",
    )?;
    let mut conn = state.pool.get().await?;
    let rules = NotificationRule::list(&mut conn, auth.organization_id, None).await?;
    Ok(web::Json(
        rules.iter().map(NotificationRule::view).collect(),
    ))
}

/// Adds an organization-wide default rule (organization admins). It applies to every job
/// that has no rule of its own for the same event.
#[utoipa::path(tag = "notifications", request_body = RuleRequest, responses(
    (status = 201, body = RuleView), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/notification-rules")]
async fn create_default_rule(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<RuleRequest>,
) -> Result<HttpResponse, ApiError> {
    auth.require(
        Action::ManageNotifications,
        Target::Organization,
        "change the organization's default notifications",
    )?;
    let body = body.0;
    let mut conn = state.pool.get().await?;
    let rule = conn
        .transaction::<_, ApiError, _>(async |conn| {
            validate(conn, &auth, &body).await?;
            let rule = NotificationRule::insert(conn, new_rule(&auth, None, None, &body)).await?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "notification_rule.create",
                "notification_rule",
                rule.id,
                json!({"job_id": null, "rule": rule.view()}),
            )
            .await?;
            Ok(rule)
        })
        .await?;
    Ok(HttpResponse::Created().json(rule.view()))
}

#[utoipa::path(tag = "notifications", params(("rule_id" = NotificationRuleId, Path)), request_body = RuleRequest, responses(
    (status = 200, body = RuleView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/notification-rules/{rule_id}")]
async fn update_rule(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<NotificationRuleId>,
    body: ApiJson<RuleRequest>,
) -> Result<web::Json<RuleView>, ApiError> {
    let id = path.into_inner();
    let body = body.0;
    let mut conn = state.pool.get().await?;
    let rule = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let before = NotificationRule::find(conn, auth.organization_id, id)
                .await?
                .ok_or_else(|| ApiError::not_found("notification rule"))?;
            authorize_change(conn, &auth, &before).await?;
            validate(conn, &auth, &body).await?;
            if before.workflow_id.is_some() {
                workflow_event(&body)?;
            }
            let rule = NotificationRule::update(
                conn,
                auth.organization_id,
                id,
                NotificationRuleChangeset {
                    destination_id: body.destination_id,
                    event: body.event,
                    threshold: body.threshold,
                    subject: body.subject.as_deref(),
                    template: body.template.as_deref(),
                    mentions: json!(body.mentions),
                    enabled: body.enabled,
                    updated_at: Utc::now(),
                },
            )
            .await?
            .ok_or_else(|| ApiError::not_found("notification rule"))?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "notification_rule.update",
                "notification_rule",
                id,
                json!({"before": before.view(), "after": rule.view()}),
            )
            .await?;
            Ok(rule)
        })
        .await?;
    Ok(web::Json(rule.view()))
}

#[utoipa::path(tag = "notifications", params(("rule_id" = NotificationRuleId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/api/notification-rules/{rule_id}")]
async fn delete_rule(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<NotificationRuleId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let before = NotificationRule::find(conn, auth.organization_id, id)
            .await?
            .ok_or_else(|| ApiError::not_found("notification rule"))?;
        authorize_change(conn, &auth, &before).await?;
        NotificationRule::delete(conn, auth.organization_id, id).await?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "notification_rule.delete",
            "notification_rule",
            id,
            json!({"rule": before.view()}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The notifications a run caused and how their delivery went.
#[utoipa::path(tag = "runs", params(("run_id" = RunId, Path)), responses(
    (status = 200, body = Vec<DeliveryView>), (status = 404, body = ErrorBody)))]
#[get("/api/runs/{run_id}/notifications")]
async fn run_notifications(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<RunId>,
) -> Result<web::Json<Vec<DeliveryView>>, ApiError> {
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
    let entries = OutboxEntry::list_for_run(&mut conn, auth.organization_id, id).await?;
    Ok(web::Json(entries.iter().map(OutboxEntry::view).collect()))
}
