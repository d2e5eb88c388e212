//! A runner's assignment: the job's team's right to each connection checked again, the
//! run's variables resolved, its config compiled with the
//! secrets put in at their keys (an `assume_role` connection's temporary credentials,
//! assumed here for this run), and the run marked `running`. A launch token is spent by
//! the fetch that starts the run.

use crate::cloud_role::SessionFor;
use crate::error::ApiError;
use crate::models::connection::Connection;
use crate::models::run::Run;
use crate::services::{access, engine_bridge, local_files, variables};
use crate::state::AppState;
use diesel_async::AsyncPgConnection;
use hakobu_core::api::runs::RunStatus;
use hakobu_core::ids::RunId;
use hakobu_core::job::JobSettings;
use std::time::Duration;

/// What a runner is given to execute.
pub struct Assignment {
    /// The config, secrets in place.
    pub config: String,
    /// The organization's files folder, when the job reads or writes files on the server:
    /// its local paths are relative to it and may not leave it.
    pub files_root: Option<std::path::PathBuf>,
}

/// Resolves the run's query variables before its assignment takes a pool connection, so
/// no pool connection waits on a tenant's database (`docs/security.md`). The job's team's
/// rights are checked first, as at the start; whatever this does not settle (a refusal of
/// rights, a run that ended) is left to [`start`], which answers it. A variable that fails
/// fails the run here.
pub async fn resolve_variables(state: &AppState, id: RunId) -> Result<(), ApiError> {
    let (run, job, settings) = {
        let mut conn = state.pool.get().await?;
        let Some(run) = Run::find_any(&mut conn, id).await? else {
            return Ok(());
        };
        if run.status.is_final() || run.cancel_requested {
            return Ok(());
        }
        let Some(revision) = crate::models::job::Job::revision(
            &mut conn,
            run.organization_id,
            run.job_id,
            run.job_revision,
        )
        .await?
        else {
            return Ok(());
        };
        let Ok(settings) = serde_json::from_value::<JobSettings>(revision.settings) else {
            return Ok(());
        };
        let has_query = settings
            .variables
            .iter()
            .any(|v| matches!(v.value, hakobu_core::variables::VariableValue::Query { .. }));
        let stored = run.resolved_inputs.get("variables").is_some();
        if !has_query || stored {
            return Ok(());
        }
        let Some(job) =
            crate::models::job::Job::find(&mut conn, run.organization_id, run.job_id).await?
        else {
            return Ok(());
        };
        if access::team_use_refusal(&mut conn, run.organization_id, job.team_id, &settings)
            .await?
            .is_some()
        {
            return Ok(());
        }
        (run, job, settings)
    };
    match variables::resolve(state, &run, &job, &settings).await {
        Ok(_) => Ok(()),
        Err(variables::Unprepared::Unavailable(e)) => Err(e),
        Err(variables::Unprepared::Refused(variables::Refusal(message))) => {
            let mut conn = state.pool.get().await?;
            crate::runs::finish(&mut conn, id, crate::runs::failure(&message)).await?;
            Err(ApiError::Conflict {
                message: message.into(),
                field: None,
            })
        }
    }
}

/// Starts run `id` for the runner that holds a token for it (`launch`: the token is the
/// launch token, which may start the run only once) and answers what to execute.
pub async fn start(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    id: RunId,
    launch: bool,
) -> Result<Assignment, ApiError> {
    let run = Run::find_any(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("run"))?;
    if run.status.is_final() || run.cancel_requested {
        return Err(ApiError::Conflict {
            message: format!("The run has ended ({}).", run.status).into(),
            field: None,
        });
    }
    let snapshot = run
        .config_snapshot
        .clone()
        .ok_or_else(|| ApiError::Conflict {
            message: "The run has not been dispatched.".into(),
            field: None,
        })?;
    let revision =
        crate::models::job::Job::revision(conn, run.organization_id, run.job_id, run.job_revision)
            .await?
            .ok_or_else(|| ApiError::not_found("job revision"))?;
    let settings: JobSettings =
        serde_json::from_value(revision.settings).map_err(anyhow::Error::from)?;
    // Rights are checked at every use, not only when the job was saved: before a query
    // variable runs or a secret is decrypted, the job's team must still be allowed to use
    // every connection this revision names (a re-run of an old revision included).
    let owner = crate::models::job::Job::find(conn, run.organization_id, run.job_id)
        .await?
        .ok_or_else(|| ApiError::not_found("job"))?;
    if let Some(message) =
        access::team_use_refusal(conn, run.organization_id, owner.team_id, &settings).await?
    {
        crate::runs::finish(conn, id, crate::runs::failure(&message)).await?;
        return Err(ApiError::Conflict {
            message: message.into(),
            field: None,
        });
    }
    let prepared = match variables::prepare_run(state, conn, &run, settings, snapshot).await {
        Ok(p) => p,
        Err(variables::Unprepared::Unavailable(e)) => return Err(e),
        Err(variables::Unprepared::Refused(variables::Refusal(message))) => {
            crate::runs::finish(conn, id, crate::runs::failure(&message)).await?;
            return Err(ApiError::Conflict {
                message: message.into(),
                field: None,
            });
        }
    };
    let settings = prepared.settings;
    // An assumed role's session lasts for the job's timeout, within what STS allows.
    let timeout = Duration::from_secs(u64::from(settings.timeout_minutes) * 60);
    let mut secrets = Vec::new();
    let mut connections = Vec::new();
    for (role, connection_id) in [
        ("source", settings.source.connection_id),
        ("destination", settings.destination.connection_id),
    ] {
        let c = Connection::find(conn, run.organization_id, connection_id)
            .await?
            .ok_or_else(|| ApiError::not_found("connection"))?;
        let mut values = engine_bridge::decrypt_secrets(state, &c)?;
        let plain = c.settings.as_object().cloned().unwrap_or_default();
        let temporary = match state
            .cloud_roles
            .engine_credentials(
                c.kind,
                &plain,
                run.organization_id,
                SessionFor::Run(id),
                timeout,
            )
            .await
        {
            Ok(temporary) => temporary,
            Err(refused) => {
                let message = format!(
                    "The {role} connection {:?} has no credentials: {} {}",
                    c.name, refused.message, refused.hint
                );
                crate::runs::finish(conn, id, crate::runs::failure(&message)).await?;
                return Err(ApiError::Conflict {
                    message: message.into(),
                    field: None,
                });
            }
        };
        let session = state.cloud_roles.session_for(timeout);
        if !temporary.is_empty() && session < timeout {
            let warning = format!(
                "The {role} connection's role credentials last {} minutes, and this job may run for {}: S3 work after that fails with expired credentials (STS limits an assumed role's session; see docs/security.md, cloud roles).",
                session.as_secs() / 60,
                settings.timeout_minutes
            );
            Run::append_logs(conn, id, &[("warn".to_owned(), warning)]).await?;
        }
        values.extend(temporary);
        secrets.push((role, values));
        connections.push(c);
    }
    // The paths as this run has them, variables filled in: a value that leads out of the
    // organization's folder fails the run here, before the runner gets anything; the
    // runner checks again before it opens a file.
    let files_root =
        match local_files::folder_for_run(state, &settings, &connections[0], &connections[1]) {
            Ok(folder) => folder,
            Err(reason) => {
                crate::runs::finish(conn, id, crate::runs::failure(&reason)).await?;
                return Err(ApiError::Conflict {
                    message: reason.into(),
                    field: None,
                });
            }
        };
    let config = variables::fill_secrets(&prepared.snapshot, &secrets)?;
    // A launch token is spent by the fetch that starts the run: a copy read from the
    // launcher (task overrides, process environment) cannot fetch the secrets again.
    let startable: &[RunStatus] = if launch {
        &[RunStatus::Starting]
    } else {
        &[RunStatus::Starting, RunStatus::Running]
    };
    if !Run::mark_running(conn, id, startable).await? {
        return Err(ApiError::Conflict {
            message: "This launch token was already used: the run's runner has started.".into(),
            field: None,
        });
    }
    Ok(Assignment { config, files_root })
}
