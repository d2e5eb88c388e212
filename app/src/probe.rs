//! Probes run outside the app: each connection test, discovery call, preview, data-check
//! preview and query variable is one `hakobu-runner probe` process
//! (`hakobu_engine::probe`), so the process that holds the service's secrets never opens
//! a socket to an address a tenant chose.
//!
//! The worker starts with an empty environment (no `HAKOBU_SECRET_KEY`, JWT secret or
//! database URL), in the temporary directory, with the egress policy in its request; it
//! limits its own memory and CPU, and the app bounds its time, the size of its answer and
//! how many run at once. A worker that crashes, hangs or answers without end fails its
//! probe and nothing else.

use hakobu_core::egress::EgressPolicy;
use hakobu_engine::check::{CheckError, ErrorKind};
use hakobu_engine::probe::{MAX_REPLY_BYTES, ProbeReply, ProbeRequest, ProbeTask};
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

/// Probes running at once in this app process; more wait for a free slot.
const CONCURRENT_PROBES: usize = 16;

/// Time a worker gets beyond its task's own limit to start, answer and exit.
const GRACE: Duration = Duration::from_secs(5);

/// Starts probe workers.
pub struct ProbeWorkers {
    program: PathBuf,
    egress: EgressPolicy,
    slots: Semaphore,
}

/// A probe that did not answer with a value.
#[derive(Debug, thiserror::Error)]
pub enum ProbeFailure {
    /// The task ran and failed (the database refused, the host is not allowed, ...).
    #[error("{0}")]
    Check(CheckError),
    /// The worker did not give an answer: it could not start, crashed, took too long or
    /// answered too much. Logged with its detail; the caller shows a generic sentence.
    #[error("the probe worker failed: {0}")]
    Worker(String),
    /// The worker gave no answer within its time; it was killed.
    #[error("the worker did not answer within {} s", .0.as_secs())]
    TimedOut(Duration),
}

impl ProbeFailure {
    /// As a check error, for callers that explain failures by kind.
    pub fn into_check_error(self) -> CheckError {
        match self {
            ProbeFailure::Check(e) => e,
            ProbeFailure::Worker(detail) => CheckError {
                kind: ErrorKind::Other,
                ssh_host_key: None,
                message: detail,
            },
            timed_out @ ProbeFailure::TimedOut(_) => CheckError {
                kind: ErrorKind::Timeout,
                ssh_host_key: None,
                message: timed_out.to_string(),
            },
        }
    }
}

impl ProbeWorkers {
    /// Workers from `program` (the `hakobu-runner` binary), connecting under `egress`.
    pub fn new(program: PathBuf, egress: EgressPolicy) -> Self {
        ProbeWorkers {
            program,
            egress,
            slots: Semaphore::new(CONCURRENT_PROBES),
        }
    }

    /// The policy the workers connect under (also what runners get).
    pub fn egress(&self) -> &EgressPolicy {
        &self.egress
    }

    /// Runs `task` in a fresh worker and decodes its value; `limit` is the task's own time
    /// limit (the worker gets a little more to start and exit).
    pub async fn run<T: DeserializeOwned>(
        &self,
        task: ProbeTask,
        limit: Duration,
    ) -> Result<T, ProbeFailure> {
        let name = task.name();
        let reply = self.exchange(task, limit).await.inspect_err(|e| {
            if !matches!(e, ProbeFailure::Check(_)) {
                tracing::warn!(probe = name, error = %e, "probe worker failed");
            }
        })?;
        match reply {
            ProbeReply::Done(value) => serde_json::from_value(value)
                .map_err(|e| ProbeFailure::Worker(format!("unexpected answer: {e}"))),
            ProbeReply::Failed(e) => Err(ProbeFailure::Check(e)),
        }
    }

    async fn exchange(&self, task: ProbeTask, limit: Duration) -> Result<ProbeReply, ProbeFailure> {
        let worker = |detail: String| ProbeFailure::Worker(detail);
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| worker("the app is shutting down".into()))?;
        let request = serde_json::to_vec(&ProbeRequest {
            egress: self.egress.clone(),
            task,
        })
        .map_err(|e| worker(format!("cannot encode the request: {e}")))?;
        let mut child = tokio::process::Command::new(&self.program)
            .arg("probe")
            .env_clear()
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                worker(format!(
                    "cannot start {} probe: {e}",
                    self.program.display()
                ))
            })?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let talk = async {
            stdin
                .write_all(&request)
                .await
                .map_err(|e| worker(format!("cannot send the request: {e}")))?;
            drop(stdin);
            let mut answer = Vec::new();
            let mut complaint = Vec::new();
            let mut stdout = stdout.take(MAX_REPLY_BYTES + 1);
            let mut stderr = stderr.take(4096);
            let (read, _) = tokio::join!(
                stdout.read_to_end(&mut answer),
                stderr.read_to_end(&mut complaint),
            );
            read.map_err(|e| worker(format!("cannot read the answer: {e}")))?;
            if answer.len() as u64 > MAX_REPLY_BYTES {
                return Err(worker(format!(
                    "the answer is over {MAX_REPLY_BYTES} bytes"
                )));
            }
            let status = child
                .wait()
                .await
                .map_err(|e| worker(format!("cannot wait for the worker: {e}")))?;
            if !status.success() {
                let said = String::from_utf8_lossy(&complaint);
                return Err(worker(format!(
                    "the worker stopped ({status}): {}",
                    said.trim()
                )));
            }
            serde_json::from_slice::<ProbeReply>(&answer)
                .map_err(|e| worker(format!("the answer is not readable: {e}")))
        };
        match tokio::time::timeout(limit + GRACE, talk).await {
            Ok(reply) => reply,
            // Dropping the child kills it (kill_on_drop).
            Err(_) => Err(ProbeFailure::TimedOut(limit + GRACE)),
        }
    }
}
