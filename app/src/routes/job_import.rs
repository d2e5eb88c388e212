//! Embulk import and portable export of jobs.
//!
//! Export writes the job's compiled config as `.yml.liquid` with every secret as
//! `{{ env.SOURCE_PASSWORD }}`-style references. Import renders such a file with the given
//! values, maps `in:`/`filters:`/`out:` back to job settings, and creates the connections,
//! reusing an existing equal connection of the team, so import -> export -> import gives an
//! equal job.

use crate::audit::{self, Actor};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::extract::Auth;
use crate::models::connection::{Connection, NewConnection};
use crate::secrets::SecretSlot;
use crate::services::access::check_operator_rules;
use crate::services::engine_bridge;
use crate::services::job_checks::check_against_databases;
use crate::services::jobs::{
    compile_with_references, insert_job, job_view, load_job, resolve_connections, same_connection,
};
use crate::state::AppState;
use actix_web::{HttpResponse, get, post, web};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::jobs::{
    CreateJobRequest, ImportJobRequest, ImportJobResponse, validate_job_text,
};
use hakobu_core::authz::{Action, TeamRole};
use hakobu_core::config::Config;
use hakobu_core::connection::validate_settings;
use hakobu_core::ids::{ConnectionId, JobId};
use hakobu_core::job::JobSettings;
use hakobu_core::job::import::{ImportedJob, WantedConnection, settings_from_config};
use hakobu_core::validation::FieldErrors;
use hakobu_engine::template::{TemplateError, render_config};
use serde_json::{Map, Value, json};

/// Finds an equal connection of the team (same settings and secrets) or creates one.
async fn connection_for(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    auth: &Auth,
    request: &ImportJobRequest,
    role: &str,
    wanted: WantedConnection,
    created: &mut Vec<ConnectionId>,
) -> Result<ConnectionId, ApiError> {
    let field = format!("config.{}", if role == "source" { "in" } else { "out" });
    // A local directory is the directory part of the config's `path_prefix`: problems
    // with it are named there, where the person importing can fix them.
    let in_config = |setting: &str| {
        // Settings the config writes under the same name.
        const SAME_IN_CONFIG: &[&str] = &["host", "port", "endpoint", "ssh_host", "bucket"];
        let same = setting
            .strip_prefix("settings.")
            .filter(|name| SAME_IN_CONFIG.contains(name));
        if setting.ends_with(".directory") {
            format!("{field}.path_prefix")
        } else if let Some(name) = same {
            // A bastion is `ssh.host` in a config.
            format!("{field}.{}", name.replacen("ssh_", "ssh.", 1))
        } else if setting.starts_with(&field) {
            setting.to_owned()
        } else {
            // The connection's `kind`: the section as a whole.
            field.clone()
        }
    };
    let on_file: Vec<&str> = wanted.secrets.keys().map(String::as_str).collect();
    let errors = validate_settings(wanted.kind, &wanted.settings, &on_file, &field);
    errors
        .into_result()
        .map_err(|e| relocated(ApiError::Validation(e), in_config))?;
    // The same operator rules as a connection created in the form: an import must not
    // reach files outside the organization's folder (the service's own `.env.local`, say).
    check_operator_rules(state, auth.organization_id, wanted.kind, &wanted.settings)
        .map_err(|e| relocated(e, in_config))?;
    for existing in Connection::list(conn, auth.organization_id).await? {
        if same_connection(&existing, wanted.kind, request.team_id, &wanted.settings)
            && engine_bridge::decrypt_secrets(state, &existing)? == wanted.secrets
        {
            return Ok(existing.id);
        }
    }
    let secret_box = state.secrets.as_ref().ok_or_else(|| {
        ApiError::Unavailable(
            "The operator has not set HAKOBU_SECRET_KEY; connections cannot be saved.".into(),
        )
    })?;
    let id = ConnectionId::new();
    let mut sealed = Map::new();
    for (name, value) in &wanted.secrets {
        let slot = SecretSlot::connection(auth.organization_id, id, name);
        sealed.insert(
            name.clone(),
            Value::String(secret_box.encrypt(value.as_str().unwrap_or_default(), &slot)?),
        );
    }
    let existing_names: Vec<String> = Connection::list(conn, auth.organization_id)
        .await?
        .into_iter()
        .map(|c| c.name.to_lowercase())
        .collect();
    let base = format!("{} {role}", request.name.trim());
    let name = (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base} {n}")
            }
        })
        .find(|n| !existing_names.contains(&n.to_lowercase()))
        .unwrap_or(base);
    let c = Connection::insert(
        conn,
        NewConnection {
            id,
            organization_id: auth.organization_id,
            team_id: request.team_id,
            name: &name,
            kind: wanted.kind,
            settings: Value::Object(wanted.settings.clone()),
            secrets: Value::Object(sealed),
            created_by: Some(auth.user_id),
        },
    )
    .await?;
    audit::record(conn, &Actor::from(auth), "connection.create", "connection", c.id, json!({
        "name": c.name, "kind": c.kind, "team_id": c.team_id, "settings": wanted.settings, "secrets_set": c.secret_names(), "via": "import",
    }))
    .await?;
    created.push(c.id);
    Ok(c.id)
}

/// `error` with each field renamed by `place`; other errors as they are.
fn relocated(error: ApiError, place: impl Fn(&str) -> String) -> ApiError {
    let ApiError::Validation(errors) = error else {
        return error;
    };
    ApiError::Validation(FieldErrors(
        errors
            .0
            .into_iter()
            .map(|e| hakobu_core::validation::FieldError {
                field: place(&e.field),
                ..e
            })
            .collect(),
    ))
}

/// The job's save-time checks name job settings (`settings.destination.merge_keys`); an
/// import names the place in the pasted config instead (`config.out.merge_keys`), which is
/// what the person importing can fix.
fn in_config_terms(error: ApiError) -> ApiError {
    relocated(error, |field| match field.strip_prefix("settings.") {
        Some(rest) => {
            let rest = rest.replacen("table.name", "table", 1).replacen(
                "files.path_prefix",
                "path_prefix",
                1,
            );
            if let Some(out) = rest.strip_prefix("destination.") {
                format!("config.out.{out}")
            } else if let Some(input) = rest.strip_prefix("source.") {
                format!("config.in.{input}")
            } else {
                "config".to_owned()
            }
        }
        None => field.to_owned(),
    })
}

/// Creates a job (and its connections) from an Embulk `config.yml` or `.yml.liquid`.
#[utoipa::path(tag = "jobs", request_body = ImportJobRequest, responses(
    (status = 201, body = ImportJobResponse), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody, description = "the config is invalid or uses a feature jobs do not have")))]
#[post("/api/jobs/import")]
pub async fn import_job(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<ImportJobRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let mut errors = FieldErrors::default();
    validate_job_text(&mut errors, Some(&request.name), None, None);
    errors.into_result()?;
    crate::services::access::require_team_editor(
        &mut *state.pool.get().await?,
        &auth,
        request.team_id,
        "team_id",
    )
    .await?;
    let text = if request.config.contains("{{") || request.config.contains("{%") {
        // The pasted config is tenant input: rendered by the engine's bounded renderer, on
        // a blocking thread (a render may take up to its time limit), without partials.
        let (config, env) = (request.config.clone(), request.env.clone());
        let rendered = web::block(move || render_config(&config, env.into_iter()))
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("rendering an import: {e}")))?;
        rendered.map_err(|e| match e {
            TemplateError::Limit(limit) => ApiError::field("config", limit.message()),
            TemplateError::Invalid(detail) => ApiError::field(
                "config",
                format!("the Liquid template does not render: liquid: {detail}"),
            ),
        })?
    } else {
        request.config.clone()
    };
    let config = Config::from_yaml(&text).map_err(|e| {
        let field = if e.path.is_empty() {
            "config".to_owned()
        } else {
            format!("config.{}", e.path)
        };
        ApiError::field(&field, e.message)
    })?;
    let ImportedJob {
        source_connection: wanted_source,
        destination_connection: wanted_destination,
        mut source,
        mut destination,
        columns,
        masks,
        incremental_state,
    } = settings_from_config(&config)?;
    let mut conn = state.pool.get().await?;
    let (job, created) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let mut created = Vec::new();
            source.connection_id = connection_for(
                conn,
                &state,
                &auth,
                &request,
                "source",
                wanted_source,
                &mut created,
            )
            .await?;
            destination.connection_id = connection_for(
                conn,
                &state,
                &auth,
                &request,
                "destination",
                wanted_destination,
                &mut created,
            )
            .await?;
            let settings = JobSettings {
                kind: Default::default(),
                source,
                destination,
                columns,
                masks,
                resources: Default::default(),
                timeout_minutes: 360,
                retry: Default::default(),
                overlap: Default::default(),
                max_concurrent_runs: None,
                checks: Vec::new(),
                variables: Vec::new(),
            };
            let create = CreateJobRequest {
                name: request.name.clone(),
                description: String::new(),
                labels: Vec::new(),
                team_id: request.team_id,
                enabled: true,
                settings,
            };
            // The connections this import creates exist only inside this transaction, so
            // its checks against the databases run inside it too.
            let (s, d) = resolve_connections(conn, &auth, &create.settings).await?;
            check_against_databases(&state, &create.settings, &s, &d)
                .await
                .map_err(in_config_terms)?;
            let job = insert_job(
                conn,
                &state,
                &auth,
                &create,
                "job.import",
                json!({"created_connections": created}),
            )
            .await
            .map_err(in_config_terms)?;
            // Where Embulk stopped: the first managed run continues from there.
            let job = match &incremental_state {
                Some(state) => {
                    crate::models::job::Job::set_incremental_state(
                        conn,
                        job.organization_id,
                        job.id,
                        state,
                    )
                    .await?
                }
                None => job,
            };
            Ok((job, created))
        })
        .await?;
    Ok(HttpResponse::Created().json(ImportJobResponse {
        job: job_view(
            &job,
            &Vec::new(),
            TeamRole::Admin.min(
                auth.principal
                    .resource_role(job.team_id, &[])
                    .unwrap_or(TeamRole::Viewer),
            ),
        )?,
        created_connections: created,
    }))
}

/// A portable `.yml.liquid` of the job: its config with secrets as `{{ env.* }}`.
#[utoipa::path(tag = "jobs", params(("job_id" = JobId, Path)), responses(
    (status = 200, description = "YAML (Liquid)", content_type = "application/yaml"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/api/jobs/{job_id}/export")]
pub async fn export_job(
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
        "export this job",
    )
    .await?;
    let (yaml, env) = compile_with_references(&mut conn, &auth, &job, false).await?;
    let mut out = format!(
        "# Hakobu job {:?} (revision {}), exported {}.\n",
        job.name,
        job.revision,
        chrono::Utc::now().to_rfc3339()
    );
    if !env.is_empty() {
        out.push_str(&format!(
            "# Secrets are read from the environment: {}.\n",
            env.join(", ")
        ));
    }
    if env.iter().any(|name| name.ends_with("_SESSION_TOKEN")) {
        out.push_str(
            "# A role_arn's credentials are temporary: Hakobu assumes the role for each run and fills them in. To run this file yourself, set them from `aws sts assume-role`; to import it, set them to any value (the role is kept, not them).\n",
        );
    }
    out.push_str(
        "# Run it with `hakobu-runner run <file>`, or import it with POST /api/jobs/import.\n",
    );
    out.push_str(&yaml);
    let slug: String = job
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("application/yaml; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!(
                "attachment; filename=\"{}.yml.liquid\"",
                slug.trim_matches('-')
            ),
        ))
        .body(out))
}
