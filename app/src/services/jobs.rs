//! The job service: loading a job the caller may see, its views, inserting jobs with their
//! first revision, and compiling a job into the runner's config with secrets as
//! references. Routes, the importer, the dispatcher and variables call it.

use crate::audit::{self, Actor};
use crate::error::{ApiError, is_unique_violation};
use crate::extract::Auth;
use crate::models::connection::Connection;
use crate::models::job::{Job, JobChangeset, NewJob, Shares};
use crate::services::access::load_authorized;
use crate::state::AppState;
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use hakobu_core::api::jobs::{CreateJobRequest, JobView, UpdateJobRequest, json_diff};
use hakobu_core::api::org::TeamGrant;
use hakobu_core::authz::{Action, Target, TeamRole};
use hakobu_core::connection::{ConnectionKind, S3Auth, TEMPORARY_CREDENTIAL_FIELDS, field_applies};
use hakobu_core::ids::{JobId, TeamId};
use hakobu_core::job::{CompileConnection, ConnectionInfo, JobSettings, compile_runner};
use hakobu_core::validation::FieldErrors;
use serde_json::{Map, Value, json};

/// The jobs whose runs the caller may see.
pub async fn visible_jobs(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
) -> Result<Vec<JobId>, ApiError> {
    let jobs = Job::search(conn, auth.organization_id, None, None).await?;
    let shares = Job::all_shares(conn, auth.organization_id).await?;
    let none = Vec::new();
    Ok(jobs
        .iter()
        .filter(|j| {
            auth.principal
                .resource_role(j.team_id, shares.get(&j.id).unwrap_or(&none))
                .is_some()
        })
        .map(|j| j.id)
        .collect())
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
    let settings = parse_settings(job)?;
    Ok(JobView {
        id: job.id,
        name: job.name.clone(),
        description: job.description.clone(),
        labels: job.labels.clone(),
        enabled: job.enabled,
        team_id: job.team_id,
        revision: job.revision,
        kind: settings.kind,
        your_role: role,
        shares: shares
            .iter()
            .map(|(team_id, role)| TeamGrant {
                team_id: *team_id,
                role: *role,
            })
            .collect(),
        settings: if details { Some(settings) } else { None },
        incremental_state: if details {
            job.incremental_state.clone()
        } else {
            None
        },
        created_at: job.created_at,
        updated_at: job.updated_at,
    })
}

pub fn role_on(auth: &Auth, job: &Job, shares: &Shares) -> TeamRole {
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
    super::job_checks::check_connections(conn, auth, settings, &mut errors).await?;
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

pub fn name_conflict(e: diesel::result::Error) -> ApiError {
    if is_unique_violation(&e) {
        ApiError::conflict("name", DUPLICATE_NAME)
    } else {
        e.into()
    }
}

/// The save-time checks that ask the tenant's databases (a merge key's table, column
/// changes). Callers run them before taking the pool connection of their transaction: no
/// request holds a pool connection while it waits on a tenant's database.
pub async fn check_against_databases(
    state: &AppState,
    auth: &Auth,
    settings: &JobSettings,
) -> Result<(), ApiError> {
    let (source, destination) = {
        let mut conn = state.pool.get().await?;
        resolve_connections(&mut conn, auth, settings).await?
    };
    super::job_checks::check_against_databases(state, settings, &source, &destination).await
}

/// Creates a job with its first revision, within the organization's job quota. The
/// checks against the databases are the caller's ([`check_against_databases`]).
pub async fn insert_job(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    auth: &Auth,
    request: &CreateJobRequest,
    action: &str,
    extra_audit: Value,
) -> Result<Job, ApiError> {
    let (source, destination) = resolve_connections(conn, auth, &request.settings).await?;
    super::local_files::check_job(state, &request.settings, &source, &destination)?;
    super::quotas::ensure_room(
        conn,
        &state.settings.quotas,
        auth.organization_id,
        super::quotas::Counted::Jobs,
        1,
    )
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

/// Changes a job (editors): a new revision when its name, description, labels or settings
/// change, and an audit entry saying what changed. The checks against the databases are
/// the caller's ([`check_against_databases`]). Used by `PATCH /api/jobs/{id}` and by
/// `POST /api/apply`.
pub async fn update_job(
    conn: &mut AsyncPgConnection,
    state: &AppState,
    auth: &Auth,
    id: JobId,
    body: &UpdateJobRequest,
) -> Result<(Job, Shares), ApiError> {
    let (before, shares) =
        load_job(conn, auth, id, Action::EditResource, "change this job").await?;
    let settings = match &body.settings {
        Some(s) => s.clone(),
        None => parse_settings(&before)?,
    };
    let (source, destination) = if body.settings.is_some() {
        let (s, d) = resolve_connections(conn, auth, &settings).await?;
        crate::services::local_files::check_job(state, &settings, &s, &d)?;
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
        crate::services::quotas::prune_revisions(
            conn,
            &state.settings.quotas,
            auth.organization_id,
            after.id,
            after.revision,
        )
        .await?;
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
            &Actor::from(auth),
            action,
            "job",
            id,
            json!({"name": after.name, "revision": after.revision, "changes": changes}),
        )
        .await?;
    }
    Ok((after, shares))
}

pub fn revision_doc(job: &Job) -> Value {
    json!({"name": job.name, "description": job.description, "labels": job.labels, "settings": job.settings})
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
        let empty = Map::new();
        let plain = c.settings.as_object().unwrap_or(&empty);
        // A role's temporary credentials are secrets too, made when a run starts.
        let temporary: &[&str] =
            if c.kind == ConnectionKind::S3 && S3Auth::of(plain) == S3Auth::AssumeRole {
                &TEMPORARY_CREDENTIAL_FIELDS
            } else {
                &[]
            };
        let stored = c
            .secret_names()
            .into_iter()
            .filter(|name| field_applies(c.kind, plain, name));
        for name in stored.chain(temporary.iter().copied()) {
            if map.contains_key(name) {
                continue;
            }
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
    let config = compile_runner(
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
