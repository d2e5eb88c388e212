//! Typed calls to Hakobu's REST API.
//!
//! Every request goes to the same origin that served the app, so the browser sends the
//! HttpOnly `hakobu_session` cookie by itself; the UI never sees or stores the session
//! token. Request and response bodies are `hakobu_core::api` types, the same ones the
//! server (de)serializes, so a renamed field breaks the build rather than a page.

use gloo_net::http::{Request, RequestBuilder, Response};
use hakobu_core::api::Page;
use hakobu_core::api::audit::AuditEntryView;
use hakobu_core::api::auth::{
    AcceptInvitationRequest, ChangePasswordRequest, InvitationPreview, LoginRequest, Me,
    SessionResponse, SignupRequest,
};
use hakobu_core::api::connections::{
    ColumnView, ConnectionKindAvailability, ConnectionTestResult, ConnectionView,
    CreateConnectionRequest, FileView, FilesRequest, GuessResponse, PreviewRequest,
    PreviewResponse, SharesRequest, TestConnectionRequest, UpdateConnectionRequest,
};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::jobs::{
    CreateJobRequest, ImportJobRequest, ImportJobResponse, JobRevisionView, JobView,
    UpdateJobRequest,
};
use hakobu_core::api::notifications::{
    DeliveryView, DestinationRequest, DestinationView, PasswordResetConfirm, PasswordResetRequest,
    RuleRequest, RuleView, TestSendResult,
};
use hakobu_core::api::org::{
    ChangeOrgRoleRequest, InvitationCreated, InvitationView, InviteRequest, MemberView,
    OrganizationView, PutTeamMemberRequest, TeamMemberView, TeamNameRequest, TeamView,
};
use hakobu_core::api::runs::{
    BackfillRequest, BackfillView, ConcurrencyRequest, QueueView, RunLogLine, RunStatus, RunView,
    StartRunRequest,
};
use hakobu_core::api::schedules::{BulkEnableRequest, ScheduleRequest, ScheduleView};
use hakobu_core::api::tokens::{ApiTokenCreated, ApiTokenView, CreateApiTokenRequest};
use hakobu_core::api::workflows::{
    SaveWorkflowRequest, StartWorkflowRunRequest, WorkflowRunView, WorkflowView,
};
use hakobu_core::authz::OrgRole;
use hakobu_core::ids::{
    ApiTokenId, ConnectionId, DestinationId, InvitationId, JobId, NotificationRuleId, RunId,
    ScheduleId, TeamId, UserId, WorkflowId, WorkflowRunId,
};
use hakobu_core::job::checks::CheckResultView;
use hakobu_core::messages::Text;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::cell::RefCell;
use std::fmt;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The server answered with an error status and its JSON error body (boxed: it is
    /// large, and every `Result` of a call carries this type).
    Server { status: u16, body: Box<ErrorBody> },
    /// The request never got an answer (offline, server down), or the answer was not the
    /// JSON we expected.
    Network(String),
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Server { status, .. } => Some(*status),
            ApiError::Network(_) => None,
        }
    }

    /// What to tell the reader: the server's message (with its code, to translate), or
    /// this error's own English words.
    pub fn text(&self) -> Text {
        match self {
            ApiError::Server { body, .. } => body.text(),
            ApiError::Network(_) => self.to_string().into(),
        }
    }

    /// The server's error body, if the server answered.
    pub fn body(&self) -> Option<&ErrorBody> {
        match self {
            ApiError::Server { body, .. } => Some(body),
            ApiError::Network(_) => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Server { body, .. } => f.write_str(&body.message),
            ApiError::Network(detail) => write!(f, "network error: {detail}"),
        }
    }
}

impl std::error::Error for ApiError {}

thread_local! {
    /// Called when the server says the session is gone (401), so the app can send the user
    /// to the sign-in page from wherever they are. The browser runs the app on one thread.
    static ON_UNAUTHORIZED: RefCell<Option<Box<dyn Fn()>>> = const { RefCell::new(None) };
}

/// Registers what to do when any call answers 401 (except the sign-in call itself).
pub fn on_unauthorized(f: impl Fn() + 'static) {
    ON_UNAUTHORIZED.with(|cell| *cell.borrow_mut() = Some(Box::new(f)));
}

async fn send(request: Result<Request, gloo_net::Error>) -> Result<Response, ApiError> {
    let request = request.map_err(|e| ApiError::Network(e.to_string()))?;
    let url = request.url();
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let body = match response.json::<ErrorBody>().await {
        Ok(body) => body,
        // A proxy or a crash can answer with HTML; keep the status so the message is useful.
        Err(_) => ErrorBody::new(
            "http",
            format!("The server answered with status {status}.").into(),
        ),
    };
    if status == 401 && !url.contains("/api/auth/") {
        ON_UNAUTHORIZED.with(|cell| {
            if let Some(f) = cell.borrow().as_ref() {
                f();
            }
        });
    }
    Err(ApiError::Server {
        status,
        body: Box::new(body),
    })
}

async fn json<T: DeserializeOwned>(
    request: Result<Request, gloo_net::Error>,
) -> Result<T, ApiError> {
    send(request)
        .await?
        .json::<T>()
        .await
        .map_err(|e| ApiError::Network(format!("unexpected answer: {e}")))
}

async fn no_content(request: Result<Request, gloo_net::Error>) -> Result<(), ApiError> {
    send(request).await.map(|_| ())
}

fn get(url: &str) -> Result<Request, gloo_net::Error> {
    Request::get(url).build()
}

fn with_body(builder: RequestBuilder, body: &impl Serialize) -> Result<Request, gloo_net::Error> {
    builder.json(body)
}

// --- auth -------------------------------------------------------------------------------

pub async fn me() -> Result<Me, ApiError> {
    json(get("/api/me")).await
}

pub async fn login(body: &LoginRequest) -> Result<SessionResponse, ApiError> {
    json(with_body(Request::post("/api/auth/login"), body)).await
}

pub async fn signup(body: &SignupRequest) -> Result<SessionResponse, ApiError> {
    json(with_body(Request::post("/api/auth/signup"), body)).await
}

pub async fn logout() -> Result<(), ApiError> {
    no_content(Request::post("/api/auth/logout").build()).await
}

pub async fn change_password(body: &ChangePasswordRequest) -> Result<(), ApiError> {
    no_content(with_body(Request::post("/api/me/password"), body)).await
}

pub async fn lookup_invitation(token: &str) -> Result<InvitationPreview, ApiError> {
    json(
        Request::get("/api/invitations/lookup")
            .query([("token", token)])
            .build(),
    )
    .await
}

pub async fn accept_invitation(
    body: &AcceptInvitationRequest,
) -> Result<SessionResponse, ApiError> {
    json(with_body(Request::post("/api/invitations/accept"), body)).await
}

// --- organization and members ------------------------------------------------------------

pub async fn organization() -> Result<OrganizationView, ApiError> {
    json(get("/api/organization")).await
}

pub async fn rename_organization(body: &TeamNameRequest) -> Result<OrganizationView, ApiError> {
    json(with_body(Request::patch("/api/organization"), body)).await
}

pub async fn members() -> Result<Vec<MemberView>, ApiError> {
    json(get("/api/members")).await
}

pub async fn change_org_role(user: UserId, org_role: OrgRole) -> Result<MemberView, ApiError> {
    json(with_body(
        Request::put(&format!("/api/members/{user}/role")),
        &ChangeOrgRoleRequest { org_role },
    ))
    .await
}

pub async fn remove_member(user: UserId) -> Result<(), ApiError> {
    no_content(Request::delete(&format!("/api/members/{user}")).build()).await
}

pub async fn invite(body: &InviteRequest) -> Result<InvitationCreated, ApiError> {
    json(with_body(Request::post("/api/invitations"), body)).await
}

pub async fn invitations() -> Result<Vec<InvitationView>, ApiError> {
    json(get("/api/invitations")).await
}

pub async fn withdraw_invitation(id: InvitationId) -> Result<(), ApiError> {
    no_content(Request::delete(&format!("/api/invitations/{id}")).build()).await
}

// --- teams ------------------------------------------------------------------------------

pub async fn teams() -> Result<Vec<TeamView>, ApiError> {
    json(get("/api/teams")).await
}

pub async fn team(id: TeamId) -> Result<TeamView, ApiError> {
    json(get(&format!("/api/teams/{id}"))).await
}

pub async fn create_team(body: &TeamNameRequest) -> Result<TeamView, ApiError> {
    json(with_body(Request::post("/api/teams"), body)).await
}

pub async fn rename_team(id: TeamId, body: &TeamNameRequest) -> Result<(), ApiError> {
    no_content(with_body(Request::patch(&format!("/api/teams/{id}")), body)).await
}

pub async fn delete_team(id: TeamId) -> Result<(), ApiError> {
    no_content(Request::delete(&format!("/api/teams/{id}")).build()).await
}

pub async fn team_members(id: TeamId) -> Result<Vec<TeamMemberView>, ApiError> {
    json(get(&format!("/api/teams/{id}/members"))).await
}

pub async fn put_team_member(
    team: TeamId,
    user: UserId,
    body: &PutTeamMemberRequest,
) -> Result<(), ApiError> {
    no_content(with_body(
        Request::put(&format!("/api/teams/{team}/members/{user}")),
        body,
    ))
    .await
}

pub async fn remove_team_member(team: TeamId, user: UserId) -> Result<(), ApiError> {
    no_content(Request::delete(&format!("/api/teams/{team}/members/{user}")).build()).await
}

// --- API tokens -------------------------------------------------------------------------

pub async fn tokens() -> Result<Vec<ApiTokenView>, ApiError> {
    json(get("/api/tokens")).await
}

pub async fn create_token(body: &CreateApiTokenRequest) -> Result<ApiTokenCreated, ApiError> {
    json(with_body(Request::post("/api/tokens"), body)).await
}

pub async fn revoke_token(id: ApiTokenId) -> Result<(), ApiError> {
    no_content(Request::delete(&format!("/api/tokens/{id}")).build()).await
}

// --- audit log --------------------------------------------------------------------------

/// Filters of the audit log, as the query string of `/api/audit` and `/api/audit.csv`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub action: String,
    pub actor: Option<UserId>,
    pub target_type: String,
    pub target_id: String,
    /// RFC 3339 instants.
    pub from: Option<String>,
    pub to: Option<String>,
    pub page: i64,
    pub per_page: i64,
}

impl AuditQuery {
    /// The query string (without `?`); empty filters are left out.
    pub fn query_string(&self, with_paging: bool) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        let mut text = |key, value: &str| {
            if !value.trim().is_empty() {
                pairs.push((key, value.trim().to_owned()));
            }
        };
        text("action", &self.action);
        text("target_type", &self.target_type);
        text("target_id", &self.target_id);
        if let Some(actor) = self.actor {
            pairs.push(("actor", actor.to_string()));
        }
        if let Some(from) = &self.from {
            pairs.push(("from", from.clone()));
        }
        if let Some(to) = &self.to {
            pairs.push(("to", to.clone()));
        }
        if with_paging {
            pairs.push(("page", self.page.max(1).to_string()));
            pairs.push(("per_page", self.per_page.to_string()));
        }
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Link to the CSV export of the same filters (every page).
    pub fn csv_url(&self) -> String {
        let query = self.query_string(false);
        if query.is_empty() {
            "/api/audit.csv".to_owned()
        } else {
            format!("/api/audit.csv?{query}")
        }
    }
}

pub async fn audit(query: &AuditQuery) -> Result<Page<AuditEntryView>, ApiError> {
    json(get(&format!("/api/audit?{}", query.query_string(true)))).await
}

// --- connections --------------------------------------------------------------------

/// Whether the operator allows each connection kind here. The fields themselves come from
/// `core`'s schema, compiled in; only availability is asked.
pub async fn connection_kinds() -> Result<Vec<ConnectionKindAvailability>, ApiError> {
    json(get("/api/connection-kinds")).await
}

pub async fn connections() -> Result<Vec<ConnectionView>, ApiError> {
    json(get("/api/connections")).await
}

pub async fn connection(id: ConnectionId) -> Result<ConnectionView, ApiError> {
    json(get(&format!("/api/connections/{id}"))).await
}

pub async fn create_connection(body: &CreateConnectionRequest) -> Result<ConnectionView, ApiError> {
    json(with_body(Request::post("/api/connections"), body)).await
}

pub async fn update_connection(
    id: ConnectionId,
    body: &UpdateConnectionRequest,
) -> Result<ConnectionView, ApiError> {
    json(with_body(
        Request::patch(&format!("/api/connections/{id}")),
        body,
    ))
    .await
}

pub async fn delete_connection(id: ConnectionId) -> Result<(), ApiError> {
    no_content(Request::delete(&format!("/api/connections/{id}")).build()).await
}

pub async fn share_connection(
    id: ConnectionId,
    body: &SharesRequest,
) -> Result<ConnectionView, ApiError> {
    json(with_body(
        Request::put(&format!("/api/connections/{id}/shares")),
        body,
    ))
    .await
}

pub async fn test_connection(
    body: &TestConnectionRequest,
) -> Result<ConnectionTestResult, ApiError> {
    json(with_body(Request::post("/api/connections/test"), body)).await
}

/// Accepts the new host key of a connection's SSH bastion (editors).
pub async fn accept_ssh_host_key(
    id: ConnectionId,
    fingerprint: String,
) -> Result<ConnectionView, ApiError> {
    json(with_body(
        Request::post(&format!("/api/connections/{id}/ssh-host-key")),
        &hakobu_core::api::connections::AcceptSshHostKeyRequest { fingerprint },
    ))
    .await
}

pub async fn test_saved_connection(id: ConnectionId) -> Result<ConnectionTestResult, ApiError> {
    json(Request::post(&format!("/api/connections/{id}/test")).build()).await
}

pub async fn schemas(id: ConnectionId) -> Result<Vec<String>, ApiError> {
    json(get(&format!("/api/connections/{id}/schemas"))).await
}

pub async fn tables(id: ConnectionId, schema: Option<&str>) -> Result<Vec<String>, ApiError> {
    let url = match schema.filter(|s| !s.is_empty()) {
        Some(schema) => format!(
            "/api/connections/{id}/tables?schema={}",
            encode_query_value(schema)
        ),
        None => format!("/api/connections/{id}/tables"),
    };
    json(get(&url)).await
}

pub async fn columns(
    id: ConnectionId,
    schema: Option<&str>,
    table: &str,
) -> Result<Vec<ColumnView>, ApiError> {
    let mut url = format!(
        "/api/connections/{id}/columns?table={}",
        encode_query_value(table)
    );
    if let Some(schema) = schema.filter(|s| !s.is_empty()) {
        url.push_str(&format!("&schema={}", encode_query_value(schema)));
    }
    json(get(&url)).await
}

pub async fn preview(id: ConnectionId, body: &PreviewRequest) -> Result<PreviewResponse, ApiError> {
    json(with_body(
        Request::post(&format!("/api/connections/{id}/preview")),
        body,
    ))
    .await
}

/// The files a file source's path prefix and pattern match.
pub async fn files(
    id: ConnectionId,
    prefix: &str,
    pattern: &str,
) -> Result<Vec<FileView>, ApiError> {
    let mut url = format!(
        "/api/connections/{id}/files?path_prefix={}",
        encode_query_value(prefix)
    );
    if !pattern.is_empty() {
        url.push_str(&format!(
            "&path_match_pattern={}",
            encode_query_value(pattern)
        ));
    }
    json(get(&url)).await
}

/// The guessed format settings and columns of a file source's first file, with its first
/// rows.
pub async fn guess(id: ConnectionId, body: &FilesRequest) -> Result<GuessResponse, ApiError> {
    json(with_body(
        Request::post(&format!("/api/connections/{id}/guess")),
        body,
    ))
    .await
}

// --- jobs -------------------------------------------------------------------------------

pub async fn jobs() -> Result<Vec<JobView>, ApiError> {
    json(get("/api/jobs")).await
}

pub async fn job(id: JobId) -> Result<JobView, ApiError> {
    json(get(&format!("/api/jobs/{id}"))).await
}

/// Replaces the teams a job is shared with (admins of the owning team).
pub async fn share_job(id: JobId, body: &SharesRequest) -> Result<JobView, ApiError> {
    json(with_body(
        Request::put(&format!("/api/jobs/{id}/shares")),
        body,
    ))
    .await
}

pub async fn create_job(body: &CreateJobRequest) -> Result<JobView, ApiError> {
    json(with_body(Request::post("/api/jobs"), body)).await
}

pub async fn update_job(id: JobId, body: &UpdateJobRequest) -> Result<JobView, ApiError> {
    json(with_body(Request::patch(&format!("/api/jobs/{id}")), body)).await
}

pub async fn job_revisions(id: JobId) -> Result<Vec<JobRevisionView>, ApiError> {
    json(get(&format!("/api/jobs/{id}/revisions"))).await
}

/// The compiled YAML a run of the job executes (secrets as `{{ env.* }}` references).
pub async fn job_config(id: JobId) -> Result<String, ApiError> {
    send(get(&format!("/api/jobs/{id}/config")))
        .await?
        .text()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))
}

/// Where the browser downloads the compiled config.
pub fn job_config_url(id: JobId) -> String {
    format!("/api/jobs/{id}/config")
}

pub async fn import_job(body: &ImportJobRequest) -> Result<ImportJobResponse, ApiError> {
    json(with_body(Request::post("/api/jobs/import"), body)).await
}

// --- schedules --------------------------------------------------------------------------

pub async fn job_schedules(job: JobId) -> Result<Vec<ScheduleView>, ApiError> {
    json(get(&format!("/api/jobs/{job}/schedules"))).await
}

pub async fn create_schedule(job: JobId, body: &ScheduleRequest) -> Result<ScheduleView, ApiError> {
    json(with_body(
        Request::post(&format!("/api/jobs/{job}/schedules")),
        body,
    ))
    .await
}

pub async fn workflow_schedules(workflow: WorkflowId) -> Result<Vec<ScheduleView>, ApiError> {
    json(get(&format!("/api/workflows/{workflow}/schedules"))).await
}

pub async fn create_workflow_schedule(
    workflow: WorkflowId,
    body: &ScheduleRequest,
) -> Result<ScheduleView, ApiError> {
    json(with_body(
        Request::post(&format!("/api/workflows/{workflow}/schedules")),
        body,
    ))
    .await
}

pub async fn delete_schedule(id: ScheduleId) -> Result<(), ApiError> {
    no_content(Request::delete(&format!("/api/schedules/{id}")).build()).await
}

// --- runs -------------------------------------------------------------------------------

pub async fn start_run(job: JobId) -> Result<RunView, ApiError> {
    json(Request::post(&format!("/api/jobs/{job}/runs")).build()).await
}

/// Filters of `GET /api/runs`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunQuery {
    pub job: Option<JobId>,
    pub status: Option<RunStatus>,
    /// Queued at or after this instant.
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub page: i64,
    pub per_page: i64,
    /// The page after this run (the previous page's `next`), instead of `page`.
    pub before: Option<RunId>,
}

impl RunQuery {
    pub fn query_string(&self) -> String {
        let mut pairs = Vec::new();
        if let Some(job) = self.job {
            pairs.push(format!("job={job}"));
        }
        if let Some(status) = self.status {
            pairs.push(format!("status={status}"));
        }
        if let Some(from) = self.from {
            pairs.push(format!("from={}", encode_query_value(&from.to_rfc3339())));
        }
        match self.before {
            Some(run) => pairs.push(format!("before={run}")),
            None => pairs.push(format!("page={}", self.page.max(1))),
        }
        pairs.push(format!("per_page={}", self.per_page.clamp(1, 500)));
        pairs.join("&")
    }
}

pub async fn runs(query: &RunQuery) -> Result<Page<RunView>, ApiError> {
    json(get(&format!("/api/runs?{}", query.query_string()))).await
}

pub async fn run(id: RunId) -> Result<RunView, ApiError> {
    json(get(&format!("/api/runs/{id}"))).await
}

/// The config a run executes (secrets as references).
pub async fn run_config(id: RunId) -> Result<String, ApiError> {
    send(get(&format!("/api/runs/{id}/config")))
        .await?
        .text()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))
}

pub async fn run_logs(id: RunId, after: i64) -> Result<Vec<RunLogLine>, ApiError> {
    json(get(&format!(
        "/api/runs/{id}/logs?after={after}&limit=1000"
    )))
    .await
}

/// The live event stream of a run (Server-Sent Events).
pub fn run_events_url(id: RunId) -> String {
    format!("/api/runs/{id}/events")
}

pub async fn cancel_run(id: RunId) -> Result<RunView, ApiError> {
    json(Request::post(&format!("/api/runs/{id}/cancel")).build()).await
}

pub async fn rerun(id: RunId) -> Result<RunView, ApiError> {
    json(Request::post(&format!("/api/runs/{id}/rerun")).build()).await
}

// --- notification destinations and organization rules (#9) -------------------------

pub async fn destinations() -> Result<Vec<DestinationView>, ApiError> {
    json(get("/api/notification-destinations")).await
}

pub async fn create_destination(body: &DestinationRequest) -> Result<DestinationView, ApiError> {
    json(with_body(
        Request::post("/api/notification-destinations"),
        body,
    ))
    .await
}

pub async fn update_destination(
    id: DestinationId,
    body: &DestinationRequest,
) -> Result<DestinationView, ApiError> {
    json(with_body(
        Request::put(&format!("/api/notification-destinations/{id}")),
        body,
    ))
    .await
}

pub async fn delete_destination(id: DestinationId) -> Result<(), ApiError> {
    no_content(Request::delete(&format!("/api/notification-destinations/{id}")).build()).await
}

pub async fn test_destination(id: DestinationId) -> Result<TestSendResult, ApiError> {
    json(Request::post(&format!("/api/notification-destinations/{id}/test")).build()).await
}

pub async fn resend_confirmation(id: DestinationId) -> Result<(), ApiError> {
    no_content(Request::post(&format!("/api/notification-destinations/{id}/confirmation")).build())
        .await
}

pub async fn organization_rules() -> Result<Vec<RuleView>, ApiError> {
    json(get("/api/notification-rules")).await
}

pub async fn create_organization_rule(body: &RuleRequest) -> Result<RuleView, ApiError> {
    json(with_body(Request::post("/api/notification-rules"), body)).await
}

pub async fn delete_organization_rule(id: NotificationRuleId) -> Result<(), ApiError> {
    no_content(Request::delete(&format!("/api/notification-rules/{id}")).build()).await
}

// --- schedules overview and queue (#9) ---------------------------------------------------

/// Every schedule of the jobs the caller can see, soonest first.
pub async fn all_schedules() -> Result<Vec<ScheduleView>, ApiError> {
    json(get("/api/schedules")).await
}

pub async fn bulk_enable_schedules(
    body: &BulkEnableRequest,
) -> Result<Vec<ScheduleView>, ApiError> {
    json(with_body(Request::post("/api/schedules/bulk"), body)).await
}

pub async fn queue() -> Result<QueueView, ApiError> {
    json(get("/api/queue")).await
}

pub async fn set_concurrency(body: &ConcurrencyRequest) -> Result<(), ApiError> {
    no_content(with_body(
        Request::put("/api/organization/concurrency"),
        body,
    ))
    .await
}

// --- analyst pages (#8): manual runs, backfills, checks, job rules, password reset -----

pub async fn start_run_with(job: JobId, body: &StartRunRequest) -> Result<RunView, ApiError> {
    json(with_body(
        Request::post(&format!("/api/jobs/{job}/runs")),
        body,
    ))
    .await
}

pub async fn backfill(job: JobId, body: &BackfillRequest) -> Result<BackfillView, ApiError> {
    json(with_body(
        Request::post(&format!("/api/jobs/{job}/backfill")),
        body,
    ))
    .await
}

pub async fn run_checks(id: RunId) -> Result<Vec<CheckResultView>, ApiError> {
    json(get(&format!("/api/runs/{id}/checks"))).await
}

pub async fn run_notifications(id: RunId) -> Result<Vec<DeliveryView>, ApiError> {
    json(get(&format!("/api/runs/{id}/notifications"))).await
}

pub async fn job_rules(job: JobId) -> Result<Vec<RuleView>, ApiError> {
    json(get(&format!("/api/jobs/{job}/notification-rules"))).await
}

pub async fn workflow_rules(workflow: WorkflowId) -> Result<Vec<RuleView>, ApiError> {
    json(get(&format!(
        "/api/workflows/{workflow}/notification-rules"
    )))
    .await
}

pub async fn create_workflow_rule(
    workflow: WorkflowId,
    body: &RuleRequest,
) -> Result<RuleView, ApiError> {
    json(with_body(
        Request::post(&format!("/api/workflows/{workflow}/notification-rules")),
        body,
    ))
    .await
}

pub async fn create_job_rule(job: JobId, body: &RuleRequest) -> Result<RuleView, ApiError> {
    json(with_body(
        Request::post(&format!("/api/jobs/{job}/notification-rules")),
        body,
    ))
    .await
}

pub async fn update_rule(id: NotificationRuleId, body: &RuleRequest) -> Result<RuleView, ApiError> {
    json(with_body(
        Request::put(&format!("/api/notification-rules/{id}")),
        body,
    ))
    .await
}

pub async fn delete_rule(id: NotificationRuleId) -> Result<(), ApiError> {
    no_content(Request::delete(&format!("/api/notification-rules/{id}")).build()).await
}

pub async fn request_password_reset(body: &PasswordResetRequest) -> Result<(), ApiError> {
    no_content(with_body(Request::post("/api/auth/password-reset"), body)).await
}

pub async fn confirm_password_reset(body: &PasswordResetConfirm) -> Result<(), ApiError> {
    no_content(with_body(
        Request::post("/api/auth/password-reset/confirm"),
        body,
    ))
    .await
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay as they are), so
/// `+09:00` in a time survives the trip.
pub fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

// --- insights and usage (#21) ----------------------------------------------------------

/// The query string of a period: the last `days` days, grouped in `timezone`. The end is
/// left to the server (its "now"), so a run that ended a moment ago is in, whatever the
/// browser's clock says.
pub fn period_query(days: i64, timezone: &str) -> String {
    let from = chrono::Utc::now() - chrono::Duration::days(days);
    format!(
        "from={}&timezone={}",
        encode_query_value(&from.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        encode_query_value(timezone)
    )
}

pub async fn insights(query: &str) -> Result<hakobu_core::api::insights::Insights, ApiError> {
    json(get(&format!("/api/insights?{query}"))).await
}

// --- workflows (#19) ----------------------------------------------------------------------

pub async fn workflows() -> Result<Vec<WorkflowView>, ApiError> {
    json(get("/api/workflows")).await
}

pub async fn workflow(id: WorkflowId) -> Result<WorkflowView, ApiError> {
    json(get(&format!("/api/workflows/{id}"))).await
}

pub async fn create_workflow(body: &SaveWorkflowRequest) -> Result<WorkflowView, ApiError> {
    json(with_body(Request::post("/api/workflows"), body)).await
}

pub async fn update_workflow(
    id: WorkflowId,
    body: &SaveWorkflowRequest,
) -> Result<WorkflowView, ApiError> {
    json(with_body(
        Request::put(&format!("/api/workflows/{id}")),
        body,
    ))
    .await
}

pub async fn delete_workflow(id: WorkflowId) -> Result<(), ApiError> {
    no_content(Request::delete(&format!("/api/workflows/{id}")).build()).await
}

pub async fn start_workflow_run(
    id: WorkflowId,
    body: &StartWorkflowRunRequest,
) -> Result<WorkflowRunView, ApiError> {
    json(with_body(
        Request::post(&format!("/api/workflows/{id}/runs")),
        body,
    ))
    .await
}

/// The workflow's latest runs, newest first (`limit` of them, at most 100).
pub async fn workflow_runs(id: WorkflowId, limit: u32) -> Result<Vec<WorkflowRunView>, ApiError> {
    json(get(&format!("/api/workflows/{id}/runs?limit={limit}"))).await
}

pub async fn workflow_run(id: WorkflowRunId) -> Result<WorkflowRunView, ApiError> {
    json(get(&format!("/api/workflow-runs/{id}"))).await
}

pub async fn cancel_workflow_run(id: WorkflowRunId) -> Result<WorkflowRunView, ApiError> {
    json(Request::post(&format!("/api/workflow-runs/{id}/cancel")).build()).await
}

pub async fn resume_workflow_run(id: WorkflowRunId) -> Result<WorkflowRunView, ApiError> {
    json(Request::post(&format!("/api/workflow-runs/{id}/resume")).build()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_query_leaves_out_empty_filters_and_encodes_values() {
        let q = AuditQuery {
            action: " team ".to_owned(),
            from: Some("2026-01-01T00:00:00+09:00".to_owned()),
            page: 2,
            per_page: 50,
            ..AuditQuery::default()
        };
        assert_eq!(
            q.query_string(true),
            "action=team&from=2026-01-01T00%3A00%3A00%2B09%3A00&page=2&per_page=50"
        );
        assert_eq!(
            q.csv_url(),
            "/api/audit.csv?action=team&from=2026-01-01T00%3A00%3A00%2B09%3A00"
        );
        assert_eq!(AuditQuery::default().csv_url(), "/api/audit.csv");
    }
}
