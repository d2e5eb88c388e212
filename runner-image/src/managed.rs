//! Managed mode: the runner as the app launches it. It gets only the app URL, its run id
//! and a launch token (environment), fetches its config with secrets (and the run token
//! that replaces the launch token), reports progress as heartbeats (each answers a fresh
//! token; stopping when the app says the run was cancelled, or on SIGTERM), sends log
//! lines, and posts the result. The next incremental state is reported only after the
//! destination committed.

use anyhow::{Context, Result, bail};
use hakobu_core::api::runs::{
    HeartbeatAnswer, RunnerAssignment, RunnerLogBatch, RunnerLogLine, RunnerOutcome,
    RunnerProgress, RunnerResult,
};
use hakobu_core::config::Config;
use hakobu_engine::{FileAccess, FilesRoot};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

mod checks;

struct Client {
    http: reqwest::Client,
    base: String,
    /// The launch token at first, then the run token the app answers (assignment,
    /// every heartbeat): it expires within minutes unless renewed.
    token: RwLock<String>,
    /// The passwords and keys of the assignment, masked in every line and error the runner
    /// sends. The app masks the secrets it stores too, but an assumed role's temporary
    /// credentials are stored nowhere: only the runner knows them.
    secrets: RwLock<Vec<String>>,
}

impl Client {
    fn url(&self, what: &str) -> String {
        format!("{}/{what}", self.base)
    }

    fn token(&self) -> String {
        self.token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn switch_token(&self, fresh: String) {
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = fresh;
    }

    fn keep_secrets(&self, config: &Config) {
        *self.secrets.write().unwrap_or_else(|e| e.into_inner()) = config
            .secret_values()
            .into_iter()
            .map(str::to_owned)
            .collect();
    }

    fn mask(&self, text: &str) -> String {
        mask(
            text,
            &self.secrets.read().unwrap_or_else(|e| e.into_inner()),
        )
    }

    async fn post<T: serde::Serialize>(&self, what: &str, body: &T) -> Result<reqwest::Response> {
        let response = self
            .http
            .post(self.url(what))
            .bearer_auth(self.token())
            .json(body)
            .send()
            .await
            .with_context(|| format!("cannot reach the app for {what}"))?;
        if !response.status().is_success() {
            bail!("the app answered {} to {what}", response.status());
        }
        Ok(response)
    }

    async fn log(&self, level: &str, message: impl Into<String>) {
        self.post_lines(vec![RunnerLogLine {
            level: level.to_owned(),
            message: message.into(),
        }])
        .await;
    }

    async fn post_lines(&self, lines: Vec<RunnerLogLine>) {
        if lines.is_empty() {
            return;
        }
        let lines = lines
            .into_iter()
            .map(|l| RunnerLogLine {
                message: self.mask(&l.message),
                ..l
            })
            .collect();
        // Logs are best effort: a lost line must not fail the transfer.
        let _ = self.post("logs", &RunnerLogBatch { lines }).await;
    }

    /// Sends what the engine said since the last call.
    async fn forward_engine_lines(&self, engine: &crate::engine_log::Buffer) {
        let lines = engine
            .take()
            .into_iter()
            .map(|l| RunnerLogLine {
                level: l.level.to_owned(),
                message: l.message,
            })
            .collect();
        self.post_lines(lines).await;
    }
}

/// Runs the assignment of `HAKOBU_RUN_ID`; the exit code says whether it succeeded.
pub async fn run() -> Result<()> {
    let var = |name: &str| {
        std::env::var(name).with_context(|| {
            format!("{name} is not set; managed mode is started by the Hakobu app")
        })
    };
    let app = var("HAKOBU_APP_URL")?;
    let run_id = var("HAKOBU_RUN_ID")?;
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()?,
        base: format!("{}/api/runner/runs/{run_id}", app.trim_end_matches('/')),
        token: RwLock::new(var("HAKOBU_RUN_TOKEN")?),
        secrets: RwLock::new(Vec::new()),
    });
    let response = client
        .http
        .get(client.url("assignment"))
        .bearer_auth(client.token())
        .send()
        .await
        .context("cannot reach the app for the assignment")?;
    if !response.status().is_success() {
        bail!("the app refused the assignment: {}", response.status());
    }
    let assignment: RunnerAssignment = response
        .json()
        .await
        .context("the assignment is not readable")?;
    if let Some(token) = assignment.run_token.clone() {
        client.switch_token(token);
    }
    // Every connection of this run, the data checks' included, goes through the policy
    // the app gave; the app's own address (above) is the operator's, not a tenant's.
    hakobu_engine::egress::install(assignment.egress.clone());
    client.log("info", "runner started").await;
    let engine_lines = crate::engine_log::Buffer::default();
    crate::engine_log::forward_to(engine_lines.sink());

    let config = match hakobu_engine::parse_config(&assignment.config, None) {
        Ok(c) => c,
        Err(e) => return report_failure(&client, format!("the config is not valid: {e}")).await,
    };
    client.keep_secrets(&config);
    // A tenant's config: its local paths are relative to the organization's folder the
    // app names, and stay in it; with no folder named, no file is opened at all.
    let files = match assignment.files_root.as_deref() {
        None => FileAccess::Off,
        Some(folder) => match FilesRoot::open(std::path::Path::new(folder)) {
            Ok(root) => FileAccess::Within(root),
            Err(e) => {
                return report_failure(
                    &client,
                    format!("the organization's files folder cannot be used: {e}"),
                )
                .await;
            }
        },
    };
    let rows_read = Arc::new(AtomicU64::new(0));
    let rows_written = Arc::new(AtomicU64::new(0));
    let bytes_read = Arc::new(AtomicU64::new(0));
    let (r, w, b) = (rows_read.clone(), rows_written.clone(), bytes_read.clone());
    let load = hakobu_engine::run_config(&config, &files, move |p| {
        r.store(p.rows_read, Ordering::Relaxed);
        w.store(p.rows_written, Ordering::Relaxed);
        b.store(p.bytes_read, Ordering::Relaxed);
    });
    // Data checks run after the commit, while heartbeats still go out.
    let checks_client = client.clone();
    let transfer = async move {
        let summary = load.await?;
        checks::run_after_load(&checks_client)
            .await
            .context("the data checks could not run (the load is committed)")?;
        Ok::<_, anyhow::Error>(summary)
    };

    let heartbeat_client = client.clone();
    let heartbeat_lines = engine_lines.clone();
    let every = Duration::from_secs(assignment.heartbeat_seconds.max(1));
    let (hr, hw, hb) = (rows_read.clone(), rows_written.clone(), bytes_read.clone());
    let cancelled_by_app = async move {
        loop {
            tokio::time::sleep(every).await;
            heartbeat_client
                .forward_engine_lines(&heartbeat_lines)
                .await;
            let progress = RunnerProgress {
                rows_read: hr.load(Ordering::Relaxed) as i64,
                rows_written: hw.load(Ordering::Relaxed) as i64,
                bytes_read: hb.load(Ordering::Relaxed) as i64,
            };
            if let Ok(answer) = heartbeat_client.post("heartbeat", &progress).await
                && let Ok(answer) = answer.json::<HeartbeatAnswer>().await
            {
                if let Some(token) = answer.run_token {
                    heartbeat_client.switch_token(token);
                }
                if answer.cancel {
                    return;
                }
            }
        }
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;

    let outcome = tokio::select! {
        result = transfer => Some(result),
        _ = cancelled_by_app => None,
        _ = terminate.recv() => None,
    };
    client.forward_engine_lines(&engine_lines).await;
    let count = |a: &AtomicU64| a.load(Ordering::Relaxed) as i64;
    let result = match outcome {
        // Dropping the transfer closes its connections: transactional loads roll back.
        None => {
            client
                .log("warn", "cancelled: the load was rolled back")
                .await;
            RunnerResult {
                outcome: RunnerOutcome::Cancelled,
                rows_read: count(&rows_read),
                rows_written: 0,
                rows_skipped: 0,
                bytes_read: count(&bytes_read),
                error: Some(
                    "Cancelled while running; nothing was committed in transactional modes."
                        .to_owned(),
                ),
                next_state: None,
            }
        }
        Some(Ok(summary)) => {
            client
                .log(
                    "info",
                    format!(
                        "done: {} rows read, {} written, {} skipped in {:.1} s",
                        summary.rows_read,
                        summary.rows_written,
                        summary.rows_skipped,
                        summary.seconds
                    ),
                )
                .await;
            for reason in &summary.skipped_reasons {
                client.log("warn", format!("skipped: {reason}")).await;
            }
            RunnerResult {
                outcome: RunnerOutcome::Succeeded,
                rows_read: summary.rows_read as i64,
                rows_written: summary.rows_written as i64,
                rows_skipped: summary.rows_skipped as i64,
                bytes_read: summary.bytes_read as i64,
                error: None,
                next_state: Some(serde_json::to_value(&summary.next_diff)?),
            }
        }
        Some(Err(e)) => return report_failure(&client, one_line(&e)).await,
    };
    client.post("result", &result).await?;
    match result.outcome {
        RunnerOutcome::Succeeded => Ok(()),
        _ => bail!("{}", result.error.unwrap_or_default()),
    }
}

fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

async fn report_failure(client: &Client, error: String) -> Result<()> {
    let error = client.mask(&error);
    client.log("error", &error).await;
    let result = RunnerResult {
        outcome: RunnerOutcome::Failed,
        rows_read: 0,
        rows_written: 0,
        rows_skipped: 0,
        bytes_read: 0,
        error: Some(error.clone()),
        next_state: None,
    };
    client.post("result", &result).await?;
    bail!("{error}")
}

/// `text` with every secret of 4 characters or more (as the app masks) replaced by `***`.
fn mask(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .filter(|s| s.len() >= 4)
        .fold(text.to_owned(), |text, secret| {
            text.replace(secret.as_str(), "***")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_assignments_temporary_credentials_are_masked() {
        let config = Config::from_yaml(
            "in: {type: postgresql, host: h, user: u, password: db-password, database: d, table: t}\nout: {type: s3, bucket: b, path_prefix: p, file_ext: csv, formatter: {type: csv}, role_arn: 'arn:aws:iam::123456789012:role/r', auth_method: session, access_key_id: ASIATEMPORARY, secret_access_key: temporary-secret, session_token: temporary-token}\n",
        )
        .unwrap();
        let secrets: Vec<String> = config
            .secret_values()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let line =
            "signed with ASIATEMPORARY / temporary-secret / temporary-token; db-password; bucket b";
        assert_eq!(
            mask(line, &secrets),
            "signed with *** / *** / ***; ***; bucket b"
        );
    }
}
