//! Managed mode: the runner as the app launches it. It gets only the app URL, its run id
//! and a launch token (environment), fetches its config with secrets (and the run token
//! that replaces the launch token), reports progress as heartbeats (each answers a fresh
//! token; stopping when the app says the run was cancelled, or on SIGTERM), sends log
//! lines, and posts the result. The next incremental state is reported only after the
//! destination committed, and then first of all (`committed`), before the data checks.
//! The commit and the result are offered until the app takes them (an app restart or a
//! database outage must not turn a committed load into a failed one, retried and loaded
//! twice). SIGTERM is the platform's (a Spot reclaim, an eviction, a drain): reported as
//! `interrupted`, which the app records as a failure its retry policy may repeat, or as
//! a cancel when it had asked for one; after the commit, the report still carries it.

use anyhow::{Context, Result, bail};
use hakobu_core::api::runs::{
    HeartbeatAnswer, RunnerAssignment, RunnerCommit, RunnerLogBatch, RunnerLogLine, RunnerOutcome,
    RunnerProgress, RunnerResult,
};
use hakobu_core::config::RunnerConfig;
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

    fn keep_secrets(&self, config: &RunnerConfig) {
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

/// How long the runner keeps offering its commit and its result to the app (an app
/// restart, a database failover, a run of 503s): well within the app's grace for expired
/// run tokens (`REPORT_GRACE`, 45 minutes), far beyond any restart.
const REPORT_PATIENCE: Duration = Duration::from_secs(30 * 60);
/// The first wait between two tries of a report; it doubles up to [`REPORT_BACKOFF_MAX`].
const REPORT_BACKOFF_FIRST: Duration = Duration::from_millis(500);
const REPORT_BACKOFF_MAX: Duration = Duration::from_secs(10);

/// The growing wait between tries of a request the app must answer (the assignment, the
/// commit gate, the reports): [`REPORT_BACKOFF_FIRST`] doubling to [`REPORT_BACKOFF_MAX`],
/// until a deadline.
struct Backoff {
    wait: Duration,
    deadline: tokio::time::Instant,
    tries: u32,
}

impl Backoff {
    fn until(deadline: tokio::time::Instant) -> Self {
        Backoff {
            wait: REPORT_BACKOFF_FIRST,
            deadline,
            tries: 0,
        }
    }

    /// After a try that did not get through (`failed` says what, `why` the answer): waits
    /// before the next one, or answers how many tries were made when the deadline would
    /// pass first. The wait goes to the container's own log: the app's may be what is
    /// unreachable.
    async fn pause(&mut self, failed: &str, why: &str) -> Result<(), u32> {
        self.tries += 1;
        if tokio::time::Instant::now() + self.wait > self.deadline {
            return Err(self.tries);
        }
        eprintln!("{failed} ({why}); trying again in {:?}", self.wait);
        tokio::time::sleep(self.wait).await;
        self.wait = (self.wait * 2).min(REPORT_BACKOFF_MAX);
        Ok(())
    }
}

/// How long the runner asks the app for the go-ahead of its commit before it rolls back:
/// beyond an app restart, short enough not to hold a destination transaction for long.
const COMMIT_GATE_PATIENCE: Duration = Duration::from_secs(10 * 60);

/// The app did not confirm, just before the destination's commit, that the run is still
/// active: the load was rolled back.
#[derive(Debug)]
struct CommitRefused {
    /// The app answered that the run was cancelled or has ended; otherwise it could not
    /// be asked (a failure, which its retry policy may repeat).
    cancelled: bool,
    why: String,
}

impl std::fmt::Display for CommitRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "The commit was not made: {}", self.why)
    }
}

impl std::error::Error for CommitRefused {}

/// The runner stopped on the platform's SIGTERM (a Fargate Spot reclaim, a Kubernetes
/// eviction, a node drain, or the app's own stop of a cancelled run) and reported it: the
/// process exits with 143, as a shell reports death by SIGTERM.
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted by SIGTERM; the app was told")
    }
}

impl std::error::Error for Interrupted {}

/// Why the runner stopped before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// A heartbeat answered that the run was cancelled.
    CancelledByApp,
    /// SIGTERM from the platform (or from the app's launcher, stopping a cancelled run:
    /// the app tells the two apart, it knows whether it asked).
    Signal,
}

/// The progress counters the engine updates and the heartbeats read.
#[derive(Clone)]
struct Counters {
    rows_read: Arc<AtomicU64>,
    rows_written: Arc<AtomicU64>,
    bytes_read: Arc<AtomicU64>,
    bytes_written: Arc<AtomicU64>,
    /// What the source expects to read; `u64::MAX` while unknown.
    rows_expected: Arc<AtomicU64>,
    bytes_expected: Arc<AtomicU64>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            rows_read: Arc::default(),
            rows_written: Arc::default(),
            bytes_read: Arc::default(),
            bytes_written: Arc::default(),
            rows_expected: Arc::new(AtomicU64::new(u64::MAX)),
            bytes_expected: Arc::new(AtomicU64::new(u64::MAX)),
        }
    }
}

impl Counters {
    fn record(&self, p: &hakobu_engine::Progress) {
        self.rows_read.store(p.rows_read, Ordering::Relaxed);
        self.rows_written.store(p.rows_written, Ordering::Relaxed);
        self.bytes_read.store(p.bytes_read, Ordering::Relaxed);
        self.bytes_written.store(p.bytes_written, Ordering::Relaxed);
        let unknown = u64::MAX;
        self.rows_expected
            .store(p.rows_expected.unwrap_or(unknown), Ordering::Relaxed);
        self.bytes_expected
            .store(p.bytes_expected.unwrap_or(unknown), Ordering::Relaxed);
    }

    fn progress(&self) -> RunnerProgress {
        let count = |a: &AtomicU64| a.load(Ordering::Relaxed) as i64;
        let known = |a: &AtomicU64| {
            let v = a.load(Ordering::Relaxed);
            (v != u64::MAX).then(|| i64::try_from(v).unwrap_or(i64::MAX))
        };
        RunnerProgress {
            rows_read: count(&self.rows_read),
            rows_written: count(&self.rows_written),
            bytes_read: count(&self.bytes_read),
            bytes_written: count(&self.bytes_written),
            rows_expected: known(&self.rows_expected),
            bytes_expected: known(&self.bytes_expected),
        }
    }
}

/// The heartbeats of this run: progress, the engine's lines, a fresh token each time.
struct Heartbeats {
    client: Arc<Client>,
    lines: crate::engine_log::Buffer,
    counters: Counters,
    every: Duration,
    /// A heartbeat has carried rows read: later ones keep the period.
    rows_shown: std::sync::atomic::AtomicBool,
}

/// How often a heartbeat period looks for the first rows read.
const FIRST_ROWS_CHECK: Duration = Duration::from_millis(250);

impl Heartbeats {
    /// Beats until an answer says the run was cancelled.
    async fn until_cancelled(&self) {
        while !self.beat().await {}
    }

    /// Beats until dropped, whatever the answers: while a commit or a result is being
    /// delivered, the run must not look silent, and a cancel can no longer undo anything.
    async fn forever(&self) -> std::convert::Infallible {
        loop {
            self.beat().await;
        }
    }

    /// The go-ahead for the destination's commit: one heartbeat now, answered "still
    /// active". A run the app has given up (its runner silent past the heartbeat timeout,
    /// then failed and perhaps retried) or cancelled must not commit: its retry would load
    /// the same rows again. An app that cannot be reached is asked again with a growing
    /// wait for [`COMMIT_GATE_PATIENCE`] (a restart), meanwhile the destination's
    /// transaction stays open; a token the app no longer takes (401, 403: heartbeats get
    /// no grace, so the run has been silent longer than the app waits) is a refusal.
    async fn confirm_still_ours(&self) -> Result<()> {
        let mut backoff = Backoff::until(tokio::time::Instant::now() + COMMIT_GATE_PATIENCE);
        loop {
            self.client.forward_engine_lines(&self.lines).await;
            let sent = self
                .client
                .http
                .post(self.client.url("heartbeat"))
                .bearer_auth(self.client.token())
                .json(&self.counters.progress())
                .send()
                .await;
            let why = match sent {
                Ok(answer) if answer.status().is_success() => {
                    match answer.json::<HeartbeatAnswer>().await {
                        Ok(HeartbeatAnswer { cancel: true, .. }) => {
                            return Err(CommitRefused {
                                cancelled: true,
                                why: "the app had ended or cancelled the run before its commit"
                                    .into(),
                            }
                            .into());
                        }
                        Ok(HeartbeatAnswer { run_token, .. }) => {
                            if let Some(token) = run_token {
                                self.client.switch_token(token);
                            }
                            return Ok(());
                        }
                        Err(e) => format!("the app's answer is not readable: {e}"),
                    }
                }
                Ok(answer)
                    if matches!(
                        answer.status(),
                        reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN
                    ) =>
                {
                    return Err(CommitRefused {
                        cancelled: false,
                        why: format!(
                            "the app no longer takes this run's token ({}): the run was silent for longer than the app waits",
                            answer.status()
                        ),
                    }
                    .into());
                }
                Ok(answer) => format!("the app answered {}", answer.status()),
                Err(e) => format!("cannot reach the app: {e}"),
            };
            if backoff
                .pause("the app did not confirm the commit", &why)
                .await
                .is_err()
            {
                return Err(CommitRefused {
                    cancelled: false,
                    why: format!(
                        "the app could not confirm the run before its commit for {} minutes ({why})",
                        COMMIT_GATE_PATIENCE.as_secs() / 60
                    ),
                }
                .into());
            }
        }
    }

    /// Waits a period, sends one heartbeat; answers whether the app said "cancelled". The
    /// first rows do not wait for the period: the run page shows them within a second.
    async fn beat(&self) -> bool {
        let due = tokio::time::Instant::now() + self.every;
        while tokio::time::Instant::now() < due {
            tokio::time::sleep(FIRST_ROWS_CHECK.min(self.every)).await;
            if !self.rows_shown.load(Ordering::Relaxed)
                && self.counters.rows_read.load(Ordering::Relaxed) > 0
            {
                break;
            }
        }
        if self.counters.rows_read.load(Ordering::Relaxed) > 0 {
            self.rows_shown.store(true, Ordering::Relaxed);
        }
        self.client.forward_engine_lines(&self.lines).await;
        let Ok(answer) = self
            .client
            .post("heartbeat", &self.counters.progress())
            .await
        else {
            return false;
        };
        let Ok(answer) = answer.json::<HeartbeatAnswer>().await else {
            return false;
        };
        if let Some(token) = answer.run_token {
            self.client.switch_token(token);
        }
        answer.cancel
    }
}

impl Client {
    /// Posts a report the app must get (the commit, the result) until it takes it: a
    /// connection that fails, a timeout, 408, 429, 5xx and 401 (an expired token: the
    /// heartbeats may renew it, and the app takes one expired within its grace) are tried
    /// again after a growing wait, until `deadline`. Any other answer is final.
    async fn post_durably<T: serde::Serialize>(
        &self,
        what: &str,
        body: &T,
        deadline: tokio::time::Instant,
    ) -> Result<()> {
        let mut backoff = Backoff::until(deadline);
        loop {
            let sent = self
                .http
                .post(self.url(what))
                .bearer_auth(self.token())
                .json(body)
                .send()
                .await;
            let why = match sent {
                Ok(answer) if answer.status().is_success() => return Ok(()),
                Ok(answer) if worth_retrying(answer.status()) => {
                    format!("the app answered {}", answer.status())
                }
                Ok(answer) => bail!("the app answered {} to the {what}", answer.status()),
                Err(e) => format!("cannot reach the app: {e}"),
            };
            let failed = format!("the {what} did not reach the app");
            if let Err(tries) = backoff.pause(&failed, &why).await {
                bail!("the app did not take the {what} in time ({tries} tries; last: {why})");
            }
        }
    }
}

/// How long the runner asks for its assignment while the app cannot answer (restarting,
/// briefly without its database or a free connection): the app's default start timeout,
/// after which it has failed the run anyway.
const ASSIGNMENT_PATIENCE: Duration = Duration::from_secs(10 * 60);

impl Client {
    /// The run's assignment, asked for again after a growing wait while the app cannot
    /// answer (a connection that fails, a timeout, 408, 429, 5xx), for
    /// [`ASSIGNMENT_PATIENCE`]; any other refusal is final. Asking again is safe: the
    /// launch token is spent only by the answer that starts the run.
    async fn fetch_assignment(&self) -> Result<RunnerAssignment> {
        let mut backoff = Backoff::until(tokio::time::Instant::now() + ASSIGNMENT_PATIENCE);
        loop {
            let sent = self
                .http
                .get(self.url("assignment"))
                .bearer_auth(self.token())
                .send()
                .await;
            let why = match sent {
                Ok(answer) if answer.status().is_success() => {
                    return answer
                        .json()
                        .await
                        .context("the assignment is not readable");
                }
                // A launch token the app does not take will not be taken later.
                Ok(answer)
                    if answer.status() != reqwest::StatusCode::UNAUTHORIZED
                        && worth_retrying(answer.status()) =>
                {
                    format!("the app answered {}", answer.status())
                }
                Ok(answer) => bail!("the app refused the assignment: {}", answer.status()),
                Err(e) => format!("cannot reach the app: {e}"),
            };
            if let Err(tries) = backoff.pause("the assignment did not come", &why).await {
                bail!("the app did not give the assignment in time ({tries} tries; last: {why})");
            }
        }
    }
}

/// Until when a report is offered from now on: [`REPORT_PATIENCE`].
fn report_deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + REPORT_PATIENCE
}

/// Answers worth another try: the app or something before it is restarting, overloaded
/// or briefly without its database, or the token needs the grace the app gives reports.
fn worth_retrying(status: reqwest::StatusCode) -> bool {
    use reqwest::StatusCode;
    status.is_server_error()
        || matches!(
            status,
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS | StatusCode::UNAUTHORIZED
        )
}

/// What a run stopped before its commit leaves in the target, in words.
fn left_uncommitted(config: &RunnerConfig, rows_written: i64) -> String {
    use hakobu_core::config::OutputConfig;
    let config = match config {
        RunnerConfig::Transfer(c) => c,
        RunnerConfig::Statements(s) => {
            use hakobu_core::config::StatementsSection;
            return match &s.sql {
                _ if s.writes_a_query() => {
                    "the target table was not changed (the query's result had only been staged).".to_owned()
                }
                StatementsSection::Bigquery(_) => {
                    "the statements had not been sent: BigQuery runs them only once the run may commit.".to_owned()
                }
                _ => "nothing was committed: the statements were rolled back (on MySQL and Snowflake, except what DDL statements had already committed).".to_owned(),
            };
        }
    };
    match &config.out {
        OutputConfig::Postgresql(out) | OutputConfig::Mysql(out)
            if !out.mode().is_transactional() =>
        {
            format!(
                "{rows_written} rows had already been written; mode {} writes without a transaction, so they stay in the target.",
                out.mode()
            )
        }
        OutputConfig::Postgresql(_) | OutputConfig::Mysql(_) => {
            "nothing was committed: the load was rolled back.".to_owned()
        }
        // Snowflake's insert_direct moves each 32 MiB part into the target once staged.
        OutputConfig::Snowflake(out) if !out.mode().is_transactional() => format!(
            "up to {rows_written} rows had already been written; mode {} writes without a transaction, so the parts moved stay in the target.",
            out.mode()
        ),
        _ => "nothing was committed in transactional modes.".to_owned(),
    }
}

/// Rows a stopped load leaves in the target: what was written in a mode without a
/// transaction, none in a transactional one.
fn rows_left(config: &RunnerConfig, rows_written: i64) -> i64 {
    use hakobu_core::config::OutputConfig;
    let RunnerConfig::Transfer(config) = config else {
        return 0;
    };
    match &config.out {
        OutputConfig::Postgresql(out) | OutputConfig::Mysql(out)
            if !out.mode().is_transactional() =>
        {
            rows_written
        }
        OutputConfig::Snowflake(out) if !out.mode().is_transactional() => rows_written,
        _ => 0,
    }
}

/// Runs the assignment of `HAKOBU_RUN_ID`; the exit code says whether it succeeded (143
/// when SIGTERM stopped it: [`Interrupted`]).
pub async fn run() -> Result<()> {
    // First of all: in a container the runner is PID 1, and the kernel drops a signal
    // PID 1 has no handler for, so a platform's SIGTERM before this line would be lost
    // (and the runner killed 30 s later without a word).
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
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
    let assignment = tokio::select! {
        assignment = client.fetch_assignment() => assignment?,
        _ = terminate.recv() => bail!("stopped by SIGTERM before the assignment arrived"),
    };
    if let Some(token) = assignment.run_token.clone() {
        client.switch_token(token);
    }
    // Every connection of this run, the data checks' included, goes through the policy
    // the app gave; the app's own address (above) is the operator's, not a tenant's.
    hakobu_engine::egress::install(assignment.egress.clone());
    client.log("info", "runner started").await;
    let engine_lines = crate::engine_log::Buffer::default();
    crate::engine_log::forward_to(engine_lines.sink());

    let config = match hakobu_engine::parse_runner_config(&assignment.config, None) {
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
    let counters = Counters::default();
    let engine_counters = counters.clone();
    let heartbeats = Heartbeats {
        client: client.clone(),
        lines: engine_lines.clone(),
        counters: counters.clone(),
        every: Duration::from_secs(assignment.heartbeat_seconds.max(1)),
        rows_shown: Default::default(),
    };
    let load = hakobu_engine::run_runner_config_gated(
        &config,
        &files,
        move |p| engine_counters.record(p),
        heartbeats.confirm_still_ours(),
    );

    // First the load, until its destination commits, the app cancels or a signal stops it.
    let loaded = tokio::select! {
        result = load => Ok(result),
        _ = heartbeats.until_cancelled() => Err(Stop::CancelledByApp),
        _ = terminate.recv() => Err(Stop::Signal),
    };
    client.forward_engine_lines(&engine_lines).await;
    let summary = match loaded {
        // Dropping the load closed its connections: transactional loads rolled back.
        Err(stop) => {
            let progress = counters.progress();
            let left = left_uncommitted(&config, progress.rows_written);
            let (outcome, error) = match stop {
                Stop::CancelledByApp => (
                    RunnerOutcome::Cancelled,
                    format!("Cancelled while running; {left}"),
                ),
                Stop::Signal => (RunnerOutcome::Interrupted, left),
            };
            client
                .log("warn", format!("stopped before the commit: {error}"))
                .await;
            let result = RunnerResult {
                outcome,
                rows_read: progress.rows_read,
                rows_written: rows_left(&config, progress.rows_written),
                rows_skipped: 0,
                bytes_read: progress.bytes_read,
                bytes_written: progress.bytes_written,
                error: Some(error),
                next_state: None,
            };
            return deliver_result(&client, &heartbeats, result, report_deadline()).await;
        }
        Ok(Err(e)) if e.is::<CommitRefused>() => {
            let cancelled = e
                .downcast_ref::<CommitRefused>()
                .is_some_and(|r| r.cancelled);
            let progress = counters.progress();
            let error = format!("{e}; {}", left_uncommitted(&config, progress.rows_written));
            client.log("warn", &error).await;
            let result = RunnerResult {
                outcome: if cancelled {
                    RunnerOutcome::Cancelled
                } else {
                    RunnerOutcome::Failed
                },
                rows_read: progress.rows_read,
                rows_written: rows_left(&config, progress.rows_written),
                rows_skipped: 0,
                bytes_read: progress.bytes_read,
                bytes_written: progress.bytes_written,
                error: Some(error),
                next_state: None,
            };
            return deliver_result(&client, &heartbeats, result, report_deadline()).await;
        }
        Ok(Err(e)) => return report_failure(&client, one_line(&e)).await,
        Ok(Ok(summary)) => summary,
    };

    // Then the commit, recorded before anything else can go wrong.
    let next_state = serde_json::to_value(&summary.next_diff)?;
    let commit = RunnerCommit {
        rows_read: summary.rows_read as i64,
        rows_written: summary.rows_written as i64,
        rows_skipped: summary.rows_skipped as i64,
        bytes_read: summary.bytes_read as i64,
        bytes_written: summary.bytes_written as i64,
        next_state: next_state.clone(),
    };
    // One patience for the commit and the result together: a runner whose app is gone
    // for good gives up after it, not after twice as long.
    let deadline = report_deadline();
    let recorded = tokio::select! {
        recorded = client.post_durably("committed", &commit, deadline) => recorded,
        _ = heartbeats.forever() => unreachable!("heartbeats go on until dropped"),
    };
    if let Err(e) = recorded {
        // The result below carries the commit too; it is the last word either way.
        eprintln!("the commit was not recorded: {e:#}");
    }
    client
        .log(
            "info",
            format!(
                "done: {} rows read, {} written, {} skipped in {:.1} s",
                summary.rows_read, summary.rows_written, summary.rows_skipped, summary.seconds
            ),
        )
        .await;
    for reason in &summary.skipped_reasons {
        client.log("warn", format!("skipped: {reason}")).await;
    }

    // Then the data checks, which a cancel or a signal cuts short; the commit stands.
    let checked = tokio::select! {
        checked = checks::run_after_load(&client) => Ok(checked),
        _ = heartbeats.until_cancelled() => Err(Stop::CancelledByApp),
        _ = terminate.recv() => Err(Stop::Signal),
    };
    let (outcome, error) = match checked {
        Ok(Ok(())) => (RunnerOutcome::Succeeded, None),
        Ok(Err(e)) => (
            RunnerOutcome::Failed,
            Some(format!("the data checks could not run: {}", one_line(&e))),
        ),
        Err(Stop::CancelledByApp) => (
            RunnerOutcome::Cancelled,
            Some("cancelled during the data checks".to_owned()),
        ),
        Err(Stop::Signal) => (
            RunnerOutcome::Interrupted,
            Some("interrupted during the data checks".to_owned()),
        ),
    };
    let result = RunnerResult {
        outcome,
        rows_read: commit.rows_read,
        rows_written: commit.rows_written,
        rows_skipped: commit.rows_skipped,
        bytes_read: commit.bytes_read,
        bytes_written: commit.bytes_written,
        error: error.map(|e| client.mask(&e)),
        next_state: Some(next_state),
    };
    deliver_result(&client, &heartbeats, result, deadline).await
}

/// The last step: the result, offered until the app takes it, heartbeats going on
/// meanwhile; then the runner's own verdict for its exit code.
async fn deliver_result(
    client: &Client,
    heartbeats: &Heartbeats,
    result: RunnerResult,
    deadline: tokio::time::Instant,
) -> Result<()> {
    client.forward_engine_lines(&heartbeats.lines).await;
    tokio::select! {
        delivered = client.post_durably("result", &result, deadline) => delivered?,
        _ = heartbeats.forever() => unreachable!("heartbeats go on until dropped"),
    }
    match result.outcome {
        RunnerOutcome::Succeeded => Ok(()),
        RunnerOutcome::Interrupted => Err(Interrupted.into()),
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
        bytes_written: 0,
        error: Some(error.clone()),
        next_state: None,
    };
    client
        .post_durably("result", &result, report_deadline())
        .await?;
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
        let config = hakobu_core::config::Config::from_yaml(
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
