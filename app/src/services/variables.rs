//! A run's custom variables: resolved once, when its runner fetches its assignment, and
//! stored on the run (a retry or re-run reuses them); then expanded into the job's settings
//! before those are compiled into the config the runner executes.
//!
//! Resolving at the runner's start rather than at dispatch means `start_time` variables
//! are the real start (a Fargate task starts a minute or two after dispatch) and query
//! variables see the data as it is when the transfer begins.
//!
//! Secrets go into the compiled config structurally, at the keys the compiler wrote their
//! references to, never by rendering the whole text as a template: a value, a query or a
//! table name that happens to contain `{{ env.SOURCE_PASSWORD }}` stays that text.

use crate::error::ApiError;
use crate::models::connection::Connection;
use crate::models::job::Job;
use crate::models::run::Run;
use crate::services::jobs::{secret_env_name, yaml_with_references};
use crate::services::{engine_bridge, warehouses};
use crate::state::AppState;
use chrono::Utc;
use diesel_async::AsyncPgConnection;
use hakobu_core::connection::ConnectionKind;
use hakobu_core::job::{ConnectionInfo, JobSettings};
use hakobu_core::variables::{self, Dialect, RunContext, Target, Values, VariableValue};
use hakobu_engine::limits::VARIABLE_MAX_VALUE_CHARS;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// The run's settings with variables filled in, and their compiled config (secrets as
/// references).
pub struct Prepared {
    pub settings: JobSettings,
    pub snapshot: String,
}

/// Why a run cannot start, in words for its error summary.
pub struct Refusal(pub String);

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal(e.to_string())
    }
}

/// Why a run's variables were not filled in.
pub enum Unprepared {
    /// The run cannot start as it is: it fails with this reason.
    Refused(Refusal),
    /// The app's database could not be used just now (no free connection, a failover):
    /// nothing is decided, and the runner asks for its assignment again. Failing the run
    /// here would lose it to a moment of load.
    Unavailable(ApiError),
}

impl From<Refusal> for Unprepared {
    fn from(refusal: Refusal) -> Self {
        Unprepared::Refused(refusal)
    }
}

impl From<crate::db::PoolError> for Unprepared {
    fn from(e: crate::db::PoolError) -> Self {
        Unprepared::Unavailable(e.into())
    }
}

impl From<diesel::result::Error> for Unprepared {
    fn from(e: diesel::result::Error) -> Self {
        Unprepared::Unavailable(e.into())
    }
}

/// Resolves (or reuses) the run's variable values, expands them into `settings` and
/// compiles the config. Jobs without any `$` skip all of it and keep the dispatcher's
/// snapshot.
pub async fn prepare_run(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    run: &Run,
    settings: JobSettings,
    dispatched_snapshot: String,
) -> Result<Prepared, Unprepared> {
    let settings_json =
        serde_json::to_value(&settings).map_err(|e| Refusal(format!("settings: {e}")))?;
    if settings.variables.is_empty() && !settings_json.to_string().contains('$') {
        return Ok(Prepared {
            settings,
            snapshot: dispatched_snapshot,
        });
    }
    let job = Job::find(conn, run.organization_id, run.job_id)
        .await?
        .ok_or_else(|| Refusal("The job no longer exists.".to_owned()))?;
    let values = resolve(state, run, &job, &settings).await?;

    let source = Connection::find(conn, run.organization_id, settings.source.connection_id)
        .await?
        .ok_or_else(|| Refusal("The source connection no longer exists.".to_owned()))?;
    let destination = Connection::find(
        conn,
        run.organization_id,
        settings.destination.connection_id,
    )
    .await?
    .ok_or_else(|| Refusal("The destination connection no longer exists.".to_owned()))?;
    let mut check_dialects = Vec::new();
    for check in &settings.checks {
        let kind = Connection::find(conn, run.organization_id, check.connection_id)
            .await?
            .map(|c| c.kind);
        check_dialects.push(kind.and_then(Dialect::of));
    }
    let source_dialect = Dialect::of(source.kind);
    let destination_dialect = Dialect::of(destination.kind);
    let sql_dialect = |path: &str| -> Option<Dialect> {
        if path.starts_with("source.") {
            return source_dialect;
        }
        if path.starts_with("destination.") {
            return destination_dialect;
        }
        let index: usize = path
            .strip_prefix("checks[")?
            .split(']')
            .next()?
            .parse()
            .ok()?;
        check_dialects.get(index).copied().flatten()
    };
    let expanded_json = variables::expand_settings(&settings_json, &values, &sql_dialect)
        .map_err(|e| Refusal(format!("A variable could not be filled in: {e}")))?;
    let expanded: JobSettings = serde_json::from_value(expanded_json)
        .map_err(|e| Refusal(format!("A variable could not be filled in: {e}")))?;
    let errors = expanded.validate(
        Some(ConnectionInfo { kind: source.kind }),
        Some(ConnectionInfo {
            kind: destination.kind,
        }),
    );
    if !errors.is_empty() {
        return Err(Refusal(format!(
            "With this run's variable values the job is not valid: {errors}"
        ))
        .into());
    }
    let (snapshot, _) = yaml_with_references(
        &expanded,
        &source,
        &destination,
        job.incremental_state.as_ref(),
    )
    .map_err(|e| Refusal(format!("The job could not be compiled: {e}")))?;
    Run::store_snapshot(conn, run.id, &snapshot).await?;
    Ok(Prepared {
        settings: expanded,
        snapshot,
    })
}

/// The values stored on the run, or computes and stores them. A pool connection is taken
/// only for each short read and the final write, never while a query variable's database
/// answers (`runs::assign::resolve_variables` runs this before the assignment takes one).
pub async fn resolve(
    state: &AppState,
    run: &Run,
    job: &Job,
    settings: &JobSettings,
) -> Result<Values, Unprepared> {
    let inputs = run.resolved_inputs.as_object().cloned().unwrap_or_default();
    if let Some(stored) = inputs
        .get("variables")
        .and_then(|v| serde_json::from_value::<BTreeMap<String, String>>(v.clone()).ok())
    {
        return Ok(Values::from_map(&stored, &settings.variables));
    }
    let overrides: BTreeMap<String, String> = inputs
        .get("overrides")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let run_id = run.id.to_string();
    let context = RunContext {
        run_id: &run_id,
        job_name: &job.name,
        scheduled_time: run.scheduled_time.unwrap_or(run.queued_at),
        start_time: Utc::now(),
    };
    let mut values = variables::resolve_local(&settings.variables, &context, &overrides)
        .map_err(|e| Refusal(format!("Variable {e}")))?;
    for v in &settings.variables {
        let VariableValue::Query {
            connection_id,
            sql,
            timeout_seconds,
        } = &v.value
        else {
            continue;
        };
        if overrides.contains_key(&v.name) {
            continue;
        }
        let value = query_value(
            state,
            run,
            &v.name,
            *connection_id,
            sql,
            *timeout_seconds,
            &values,
        )
        .await?;
        values.insert(&v.name, value, v.in_sql);
    }
    let mut stored = inputs;
    stored.insert(
        "variables".to_owned(),
        serde_json::to_value(values.to_map()).unwrap_or_default(),
    );
    let mut conn = state.pool.get().await?;
    Run::store_inputs(&mut conn, run.id, &Value::Object(stored)).await?;
    Ok(values)
}

/// The one value a query variable's SQL returns.
#[allow(clippy::too_many_arguments)]
async fn query_value(
    state: &AppState,
    run: &Run,
    name: &str,
    connection_id: hakobu_core::ids::ConnectionId,
    sql: &str,
    timeout_seconds: u32,
    values: &Values,
) -> Result<String, Unprepared> {
    let refuse = |why: String| Refusal(format!("Variable ${name}$: {why}"));
    let connection = {
        let mut conn = state.pool.get().await?;
        Connection::find(&mut conn, run.organization_id, connection_id).await?
    }
    .ok_or_else(|| refuse("its connection no longer exists".to_owned()))?;
    let Some(dialect) = Dialect::of(connection.kind) else {
        return Err(
            refuse("its connection is neither a database nor a data warehouse".to_owned()).into(),
        );
    };
    let sql = variables::expand(sql, Target::Sql(dialect), values).map_err(refuse)?;
    let timeout = Duration::from_secs(u64::from(timeout_seconds));
    // The server is asked for no more than the variable's limit (and one character), so a
    // tenant's query of a huge value is refused without the value being read. Both run
    // in a probe worker, under the egress policy.
    let answer = match warehouses::saved(state, &connection).map_err(Refusal::from)? {
        Some(warehouse) => {
            warehouses::query_value(state, &warehouse, &sql, VARIABLE_MAX_VALUE_CHARS, timeout)
                .await
        }
        None => {
            let mut database = engine_bridge::database(state, &connection)
                .map_err(Refusal::from)?
                .ok_or_else(|| {
                    refuse("its connection is neither a database nor a data warehouse".to_owned())
                })?;
            database.timeout = timeout;
            engine_bridge::query_value(state, &database, &sql, VARIABLE_MAX_VALUE_CHARS).await
        }
    }
    .map_err(|e| match e.kind {
        hakobu_engine::check::ErrorKind::Timeout => {
            refuse(format!("the query took longer than {timeout_seconds} s"))
        }
        _ => refuse(e.message),
    })?;
    Ok(answer.ok_or_else(|| refuse("the query returned no value (no row, or NULL)".to_owned()))?)
}

/// The config with each connection's secrets in place of their references. Only the
/// top-level keys the compiler writes secrets to (`in.password`, `out.secret_access_key`,
/// a statements document's `sql.password`, and each `ssh.private_key`) are replaced, and
/// only when they hold exactly the reference.
pub fn fill_secrets(
    snapshot: &str,
    secrets: &[(&str, Map<String, Value>)],
) -> Result<String, ApiError> {
    if secrets.iter().all(|(_, s)| s.is_empty()) {
        return Ok(snapshot.to_owned());
    }
    let mut config: Value = serde_norway::from_str(snapshot).map_err(anyhow::Error::from)?;
    for (role, values) in secrets {
        // A data mart's statements document has one section, `sql:`, for its one
        // connection (the source's secrets).
        let section = match (*role, config.get("sql").is_some()) {
            (_, true) => "sql",
            ("source", false) => "in",
            _ => "out",
        };
        let Some(object) = config.get_mut(section).and_then(Value::as_object_mut) else {
            continue;
        };
        for (name, value) in values {
            let reference = format!("{{{{ env.{} }}}}", secret_env_name(role, name));
            // A bastion's secrets are in the `ssh:` section (`ssh_private_key` is at
            // `ssh.private_key`), the others at the section's top.
            let slot = match name.strip_prefix("ssh_") {
                Some(key) => object
                    .get_mut("ssh")
                    .and_then(Value::as_object_mut)
                    .and_then(|ssh| ssh.get_mut(key)),
                None => object.get_mut(name),
            };
            if let Some(slot) = slot
                && slot.as_str() == Some(reference.as_str())
            {
                *slot = value.clone();
            }
        }
    }
    Ok(serde_norway::to_string(&config).map_err(anyhow::Error::from)?)
}

/// A data check's SQL with the run's stored variable values, quoted for `kind`'s dialect
/// (a database's or a data warehouse's).
/// Checks run after the assignment, so the values are on the run by then; a check SQL with
/// placeholders and no stored values is an error rather than SQL with `$` left in.
pub fn check_sql(
    run: &Run,
    settings: &JobSettings,
    sql: &str,
    kind: ConnectionKind,
) -> Result<String, ApiError> {
    if !sql.contains('$') {
        return Ok(sql.to_owned());
    }
    let stored: BTreeMap<String, String> = run
        .resolved_inputs
        .get("variables")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let values = Values::from_map(&stored, &settings.variables);
    let dialect = Dialect::of(kind).ok_or_else(|| {
        ApiError::field(
            "sql",
            "runs on a database or data warehouse connection only",
        )
    })?;
    variables::expand(sql, Target::Sql(dialect), &values).map_err(|m| ApiError::field("sql", m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_go_only_where_their_reference_was_compiled() {
        let snapshot = "in:\n  type: postgresql\n  password: '{{ env.SOURCE_PASSWORD }}'\n  query: SELECT '{{ env.SOURCE_PASSWORD }}'\nout:\n  type: mysql\n  password: '{{ env.DESTINATION_PASSWORD }}'\n  table: '{{ env.SOURCE_PASSWORD }}'\n";
        let secret = |v: &str| {
            let mut m = Map::new();
            m.insert("password".to_owned(), Value::String(v.to_owned()));
            m
        };
        let filled = fill_secrets(
            snapshot,
            &[
                ("source", secret("s3cr3t")),
                ("destination", secret("hunter2")),
            ],
        )
        .unwrap();
        let config: Value = serde_norway::from_str(&filled).unwrap();
        assert_eq!(config["in"]["password"], "s3cr3t");
        assert_eq!(config["out"]["password"], "hunter2");
        assert_eq!(config["in"]["query"], "SELECT '{{ env.SOURCE_PASSWORD }}'");
        assert_eq!(config["out"]["table"], "{{ env.SOURCE_PASSWORD }}");
        assert_eq!(filled.matches("s3cr3t").count(), 1);
    }

    #[test]
    fn a_bastion_key_goes_into_the_ssh_section_with_its_line_breaks() {
        let snapshot = "in:\n  type: postgresql\n  ssh:\n    host: b\n    private_key: '{{ env.SOURCE_SSH_PRIVATE_KEY }}'\n  ssh_private_key: '{{ env.SOURCE_SSH_PRIVATE_KEY }}'\nout:\n  type: file\n";
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        let mut m = Map::new();
        m.insert("ssh_private_key".to_owned(), Value::String(key.to_owned()));
        let filled = fill_secrets(snapshot, &[("source", m)]).unwrap();
        let config: Value = serde_norway::from_str(&filled).unwrap();
        assert_eq!(config["in"]["ssh"]["private_key"], key);
        // Only where the reference was compiled: not a look-alike key at the top.
        assert_eq!(
            config["in"]["ssh_private_key"],
            "{{ env.SOURCE_SSH_PRIVATE_KEY }}"
        );
    }

    /// A data mart's statements document carries its one connection's secrets in `sql:`.
    #[test]
    fn a_statements_document_gets_its_connections_secrets() {
        let snapshot = "sql:\n  type: postgresql\n  password: '{{ env.SOURCE_PASSWORD }}'\n  ssh:\n    host: b\n    private_key: '{{ env.SOURCE_SSH_PRIVATE_KEY }}'\n  statements: SELECT 1\n";
        let mut m = Map::new();
        m.insert("password".to_owned(), Value::String("s3cr3t".to_owned()));
        m.insert(
            "ssh_private_key".to_owned(),
            Value::String("KEY".to_owned()),
        );
        let filled = fill_secrets(snapshot, &[("source", m.clone()), ("destination", m)]).unwrap();
        let config: Value = serde_norway::from_str(&filled).unwrap();
        assert_eq!(config["sql"]["password"], "s3cr3t");
        assert_eq!(config["sql"]["ssh"]["private_key"], "KEY");
        assert!(
            config.get("in").is_none() && config.get("out").is_none(),
            "{filled}"
        );
    }
}
