//! Check and HTTP tasks: work a workflow does against a tenant's database or server,
//! outside the engine's step.
//!
//! [`advance`](super::advance) runs in a transaction holding the run's row and never waits
//! on a tenant's server: it only marks such a task running and due
//! (`TaskRun::mark_due`). The [`SideTaskWorker`] of every replica that dispatches runs
//! claims due tasks (`TaskRun::claim_due`: one `UPDATE` over rows taken with
//! `FOR UPDATE SKIP LOCKED`, each claim a lease), executes each in a probe worker (never in
//! this process, which holds the service's secrets) under the tenant's egress policy,
//! then records the end in a transaction that locks the run first (the engine's lock
//! order) and wakes the run. A replica that stops mid-execution leaves a claim that
//! expires, and another replica executes the task again: an HTTP request is sent at least
//! once, with an `Idempotency-Key` that is the same for every execution of one start.
//!
//! Rights are checked at every execution, not only at save: the check's connection must
//! still be the organization's and usable by the workflow's team.

use crate::models::workflow::{Claim, TaskRun, Workflow, WorkflowRun};
use crate::secrets::SecretSlot;
use crate::services::access::{TeamRefusal, team_connection};
use crate::services::{engine_bridge, warehouses};
use crate::state::AppState;
use chrono::{Duration as ChronoDuration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use hakobu_core::ids::{OrganizationId, WorkflowId};
use hakobu_core::workflow::{TaskAction, TaskSpec, TaskState, WorkflowSpec, http_status_passes};
use hakobu_engine::check::{DataCheckResult, HttpAnswer, HttpCall};
use hakobu_engine::probe::ProbeTask;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How long one execution may take when its task gives no `timeout_minutes`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A claim's lease beyond the task's own time: the probe worker's start and exit, the
/// recording of the end.
const LEASE_MARGIN: Duration = Duration::from_secs(60);

/// Executions running at once in one replica.
const CONCURRENT: usize = 8;

/// The pause before execution `failures + 1` of a task after `failures` failed ones: the
/// task's `retry_delay_seconds` (60 s when absent), doubled at each further failure, as
/// every retry of a workflow (`hakobu_core::retry`).
pub fn retry_delay(task: &TaskSpec, failures: i32) -> ChronoDuration {
    let base = task
        .retry_delay_seconds
        .unwrap_or(hakobu_core::retry::DEFAULT_RETRY_DELAY_SECONDS);
    ChronoDuration::seconds(i64::from(hakobu_core::retry::backoff_delay(
        base,
        failures.max(1) as u32,
    )))
}

/// Where a secret header's sealed value is kept in `workflows.secrets`: the task's name
/// and the header's (lowercase; header names hold no `/`, so the key is unambiguous).
pub fn secret_key(task: &str, header: &str) -> String {
    format!("{task}/{}", header.to_ascii_lowercase())
}

/// The slot a secret header's value is sealed to: its workflow and key (the key is the
/// leaf's path in `workflows.secrets`, as `services::secret_rotation` walks it).
pub fn secret_slot(org: OrganizationId, workflow: WorkflowId, key: &str) -> SecretSlot {
    SecretSlot::new("workflows", org, workflow.0, key)
}

/// Claims and executes due check and HTTP tasks until the app stops.
pub struct SideTaskWorker {
    pub state: Arc<AppState>,
    /// The pause between rounds when nothing was due.
    pub tick: Duration,
}

impl SideTaskWorker {
    pub async fn run(self: Arc<Self>) {
        let slots = Arc::new(Semaphore::new(CONCURRENT));
        loop {
            match self.claim_once(&slots).await {
                Ok(0) => tokio::time::sleep(self.tick).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "workflow side tasks");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    /// Claims as many due tasks as there are free slots and starts executing each.
    async fn claim_once(&self, slots: &Arc<Semaphore>) -> anyhow::Result<usize> {
        let free = slots.available_permits();
        if free == 0 {
            return Ok(0);
        }
        let claims = {
            let mut conn = self.state.pool.get().await?;
            let lease = DEFAULT_TIMEOUT + LEASE_MARGIN;
            TaskRun::claim_due(&mut conn, lease.as_secs_f64(), free as i64).await?
        };
        let n = claims.len();
        for claim in claims {
            let permit = Arc::clone(slots).acquire_owned().await?;
            let state = Arc::clone(&self.state);
            tokio::spawn(async move {
                let _permit = permit;
                if let Err(e) = execute(&state, &claim).await {
                    // Left claimed: the lease expires and the task is executed again.
                    tracing::error!(
                        error = format!("{e:#}"),
                        workflow_run_id = %claim.workflow_run_id,
                        task = %claim.task_name,
                        "executing a workflow task"
                    );
                }
            });
        }
        Ok(n)
    }
}

/// Executes one claimed task and records its end (or its next try).
pub async fn execute(state: &AppState, claim: &Claim) -> anyhow::Result<()> {
    let mut conn = state.pool.get().await?;
    let Some(run) =
        WorkflowRun::find(&mut conn, claim.organization_id, claim.workflow_run_id).await?
    else {
        return Ok(());
    };
    let spec: WorkflowSpec = serde_json::from_value(run.spec.clone())?;
    let Some(task) = spec.task(&claim.task_name).cloned() else {
        let message = "This task is not in the run's workflow.".to_owned();
        return record(&mut conn, claim, None, Err(message)).await;
    };
    let timeout = task
        .timeout_minutes
        .map_or(DEFAULT_TIMEOUT, |m| Duration::from_secs(u64::from(m) * 60));
    let until = Utc::now() + ChronoDuration::from_std(timeout + LEASE_MARGIN)?;
    if TaskRun::extend_claim(&mut conn, claim, until).await? == 0 {
        // Cancelled or started again meanwhile: nothing to do.
        return Ok(());
    }
    let prepared = prepare(state, &mut conn, &run, &task, claim, timeout).await?;
    // No database connection is held while the tenant's server takes its time.
    drop(conn);
    let outcome = match prepared {
        Err(refused) => Err(refused),
        Ok(Prepared::Check(probe)) => {
            let answer = state.probes.run::<DataCheckResult>(probe, timeout).await;
            check_outcome(&task.action, answer.map_err(|e| e.into_check_error()))
        }
        Ok(Prepared::Http(probe, expect_status)) => {
            let answer = state.probes.run::<HttpAnswer>(probe, timeout).await;
            http_outcome(expect_status, answer.map_err(|e| e.into_check_error()))
        }
    };
    let mut conn = state.pool.get().await?;
    record(&mut conn, claim, Some(&task), outcome).await
}

/// The probe a task runs, once its rights and secrets are in order.
enum Prepared {
    Check(ProbeTask),
    Http(ProbeTask, Option<u16>),
}

/// What the probe gets; `Err` with the task's failure message when it cannot run (the
/// connection is gone or no longer the team's, a secret is missing).
async fn prepare(
    state: &AppState,
    conn: &mut AsyncPgConnection,
    run: &WorkflowRun,
    task: &TaskSpec,
    claim: &Claim,
    timeout: Duration,
) -> anyhow::Result<Result<Prepared, String>> {
    let org = run.organization_id;
    let Some(workflow) = Workflow::find(conn, org, run.workflow_id).await? else {
        return Ok(Err("The workflow of this run no longer exists.".to_owned()));
    };
    match &task.action {
        TaskAction::Check {
            connection_id,
            sql,
            operator,
            expected,
            null_passes,
        } => {
            let c = match team_connection(conn, org, workflow.team_id, *connection_id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                Ok(c) => c,
                Err(TeamRefusal::Gone) => {
                    return Ok(Err(
                        "The connection of this check no longer exists; edit the workflow to choose another."
                            .to_owned(),
                    ));
                }
                Err(TeamRefusal::NotAllowed(name)) => {
                    return Ok(Err(format!(
                        "The workflow's team may no longer use connection {name:?}; ask its owner to share it again, at operator or higher."
                    )));
                }
            };
            // A data warehouse runs the check's query itself, as a job's data check.
            match warehouses::saved(state, &c) {
                Ok(Some(warehouse)) => {
                    return Ok(Ok(Prepared::Check(ProbeTask::WarehouseDataCheck {
                        warehouse,
                        sql: sql.clone(),
                        operator: *operator,
                        expected: expected.clone(),
                        null_passes: *null_passes,
                        timeout,
                    })));
                }
                Ok(None) => {}
                Err(e) => {
                    return Ok(Err(format!("Connection {:?} cannot be used: {e}", c.name)));
                }
            }
            let target = match engine_bridge::database(state, &c) {
                Ok(Some(target)) => target,
                Ok(None) => {
                    return Ok(Err(format!(
                        "Connection {:?} is neither a database nor a data warehouse: a check runs SQL.",
                        c.name
                    )));
                }
                Err(e) => {
                    return Ok(Err(format!("Connection {:?} cannot be used: {e}", c.name)));
                }
            };
            let mut connection = target;
            connection.timeout = timeout;
            Ok(Ok(Prepared::Check(ProbeTask::DataCheck {
                connection,
                sql: sql.clone(),
                operator: *operator,
                expected: expected.clone(),
                null_passes: *null_passes,
            })))
        }
        TaskAction::Http {
            method,
            url,
            headers,
            body,
            expect_status,
        } => {
            let sealed = Workflow::secrets(conn, org, workflow.id)
                .await?
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
            let mut sent = Vec::with_capacity(headers.len() + 1);
            for h in headers {
                let value = if h.secret {
                    match open_secret(state, &sealed, org, workflow.id, &task.name, &h.name) {
                        Some(value) => value,
                        None => {
                            return Ok(Err(format!(
                                "The secret value of header {} is not saved (or cannot be read); edit the workflow and enter it again.",
                                h.name
                            )));
                        }
                    }
                } else {
                    h.value.clone().unwrap_or_default()
                };
                sent.push((h.name.clone(), value));
            }
            // The same for every execution of this start (a retry, a replica's crash):
            // a receiver that keeps keys handles the request once.
            let key = format!(
                "workflow:{}:{}:{}:{}",
                run.id, run.attempt, task.name, claim.starts
            );
            sent.push(("Idempotency-Key".to_owned(), key));
            let call = HttpCall {
                method: method.as_str().to_owned(),
                url: url.clone(),
                headers: sent,
                body: body.clone(),
                timeout,
            };
            Ok(Ok(Prepared::Http(
                ProbeTask::HttpRequest { call },
                *expect_status,
            )))
        }
        other => Ok(Err(format!(
            "A {} task is not executed by the side-task worker.",
            other.kind()
        ))),
    }
}

/// A secret header's value in clear, for the probe only (never logged or answered).
fn open_secret(
    state: &AppState,
    sealed: &Map<String, Value>,
    org: OrganizationId,
    workflow: WorkflowId,
    task: &str,
    header: &str,
) -> Option<String> {
    let key = secret_key(task, header);
    let stored = sealed.get(&key)?.as_str()?;
    let secret_box = state.secrets.as_ref()?;
    secret_box
        .decrypt(stored, &secret_slot(org, workflow, &key))
        .inspect_err(|e| {
            tracing::warn!(%workflow, %task, header, error = %e, "a workflow's secret header does not open");
        })
        .ok()
}

/// A check's end: passed, or failed naming the value and the expectation.
fn check_outcome(
    action: &TaskAction,
    answer: Result<DataCheckResult, hakobu_engine::check::CheckError>,
) -> Result<String, String> {
    let TaskAction::Check {
        operator,
        expected,
        null_passes,
        ..
    } = action
    else {
        return Err("not a check".to_owned());
    };
    match answer {
        Ok(result) => {
            let value = match &result.actual {
                Some(v) => format!("{:?}", clip(v, 200)),
                None => "NULL (or no row)".to_owned(),
            };
            if result.passed {
                Ok(format!("The check passed: the query returned {value}."))
            } else if result.actual.is_none() && !null_passes {
                Err(format!(
                    "The check failed: the query returned {value}, and a NULL does not pass (expected a value {operator} {expected:?})."
                ))
            } else {
                Err(format!(
                    "The check failed: the query returned {value}, expected a value {operator} {expected:?}."
                ))
            }
        }
        Err(e) => Err(format!("The check could not run: {e}")),
    }
}

/// An HTTP request's end: the expected status, or a failure with the status and the
/// answer's first bytes, or why no answer came.
fn http_outcome(
    expect_status: Option<u16>,
    answer: Result<HttpAnswer, hakobu_engine::check::CheckError>,
) -> Result<String, String> {
    match answer {
        Ok(a) if http_status_passes(expect_status, a.status) => {
            Ok(format!("The server answered {}.", a.status))
        }
        Ok(a) => {
            let expected = match expect_status {
                Some(s) => format!("{s}"),
                None => "a 2xx status".to_owned(),
            };
            let body = a.body_start.trim();
            let more = if a.cut { "…" } else { "" };
            Err(if body.is_empty() {
                format!("The server answered {} (expected {expected}).", a.status)
            } else {
                format!(
                    "The server answered {} (expected {expected}): {body}{more}",
                    a.status
                )
            })
        }
        Err(e) => Err(format!("The request failed: {e}")),
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

/// Records an execution's end in a transaction that locks the run first: the task ends
/// (and the run is woken), or a failure with retries left is executed again. Nothing is
/// recorded when the task no longer runs the claimed start (cancelled, resumed).
async fn record(
    conn: &mut AsyncPgConnection,
    claim: &Claim,
    task: Option<&TaskSpec>,
    outcome: Result<String, String>,
) -> anyhow::Result<()> {
    // A task gone from the spec has no retries.
    let retries = task.and_then(|t| t.retries).unwrap_or(0);
    conn.transaction::<_, anyhow::Error, _>(async |conn| {
        let Some(_run) =
            WorkflowRun::lock(conn, claim.organization_id, claim.workflow_run_id).await?
        else {
            return Ok(());
        };
        if !TaskRun::still_claimed(conn, claim).await? {
            return Ok(());
        }
        let now = Utc::now();
        match outcome {
            Ok(message) => {
                TaskRun::end_execution(conn, claim, TaskState::Succeeded, &message, now).await?;
            }
            Err(message) if (claim.execution_failures as u32) < retries => {
                let tried = claim.execution_failures + 1;
                let message = format!(
                    "Attempt {tried} of {} failed, trying again: {message}",
                    retries + 1
                );
                let at = now + task.map_or(ChronoDuration::zero(), |t| retry_delay(t, tried));
                TaskRun::execute_again(conn, claim, at, &message).await?;
                return Ok(());
            }
            Err(message) => {
                TaskRun::end_execution(conn, claim, TaskState::Failed, &message, now).await?;
            }
        }
        WorkflowRun::wake_now(conn, claim.workflow_run_id).await?;
        Ok(())
    })
    .await
}

/// The spec as it is stored (every secret header's value taken out) and the sealed values
/// of its secret headers (`workflows.secrets`). A secret header sent without a value keeps
/// the one saved before for the same task and header (`previous`); with none saved it is
/// refused at its field (`prefix` + `tasks[i].action.headers[j].value`). Values of headers
/// no longer in the spec are dropped.
pub fn seal_secret_headers(
    state: &AppState,
    org: OrganizationId,
    workflow: WorkflowId,
    spec: &WorkflowSpec,
    previous: &Map<String, Value>,
    prefix: &str,
) -> Result<(WorkflowSpec, Value), crate::error::ApiError> {
    let mut stored = spec.clone();
    let mut sealed = Map::new();
    let mut errors = hakobu_core::validation::FieldErrors::default();
    for (i, task) in stored.tasks.iter_mut().enumerate() {
        let TaskAction::Http { headers, .. } = &mut task.action else {
            continue;
        };
        for (j, header) in headers.iter_mut().enumerate() {
            if !header.secret {
                continue;
            }
            let key = secret_key(&task.name, &header.name);
            match header.value.take() {
                Some(plain) => {
                    let secret_box = state.secrets.as_ref().ok_or_else(|| {
                        crate::error::ApiError::Unavailable(
                            "The operator has not set HAKOBU_SECRET_KEY, so secret values cannot be saved."
                                .into(),
                        )
                    })?;
                    let ciphertext = secret_box
                        .encrypt(&plain, &secret_slot(org, workflow, &key))
                        .map_err(crate::error::ApiError::from)?;
                    sealed.insert(key, Value::String(ciphertext));
                }
                None => match previous.get(&key) {
                    Some(kept) => {
                        sealed.insert(key, kept.clone());
                    }
                    None => errors.push_message(
                        format!("{prefix}tasks[{i}].action.headers[{j}].value"),
                        hakobu_core::messages::MessageCode::Required,
                    ),
                },
            }
        }
    }
    errors.into_result()?;
    Ok((stored, Value::Object(sealed)))
}
