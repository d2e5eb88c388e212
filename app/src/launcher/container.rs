//! The container launcher (`HAKOBU_LAUNCHER=container`): each run a fresh container of the
//! runner image, through the Docker Engine API on a unix socket (Docker, or podman's
//! compatible `podman system service`), with the bollard crate.
//!
//! The container is the contract: named after its run (`hakobu-run-<run id>`, which is
//! also the task id), labelled with the run id, limited to the job's CPU and memory (no
//! swap), given only the three `HAKOBU_*` variables, joined to the operator's network,
//! without capabilities or privilege escalation. A watcher per launch kills it at the run's
//! timeout and removes it once it has ended, keeping how it ended (exit code, out of
//! memory) for [`Launcher::state`]; containers a previous app process left behind are
//! removed by [`Launcher::list_active`], which the watchdog calls every minute.

use super::{ActiveTask, LaunchSpec, Launcher, TaskState};
use crate::settings::ContainerSettings;
use anyhow::Context;
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum,
    ContainerSummaryStateEnum, HostConfig, ResourcesUlimits,
};
use bollard::query_parameters::{
    CreateContainerOptions, KillContainerOptions, ListContainersOptions, RemoveContainerOptions,
};
use futures::future::BoxFuture;
use hakobu_core::ids::RunId;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Label carrying the run id, to find a run's container (and a container's run).
pub const RUN_ID_LABEL: &str = "io.hakobu.run-id";
/// Label marking every container Hakobu creates, with [`MANAGED_BY_VALUE`].
pub const MANAGED_BY_LABEL: &str = "io.hakobu.managed-by";
pub const MANAGED_BY_VALUE: &str = "hakobu";
/// Open files and processes of the runner. Explicit because a runtime's default can exceed
/// the host's hard limit (podman asks for 1048576 files; runc then fails on setrlimit).
const OPEN_FILES_LIMIT: i64 = 1024;
const PROCESSES_LIMIT: i64 = 1024;
/// Threads count as processes: tokio's blocking pool stays well below this.
const PIDS_LIMIT: i64 = 512;
/// Between SIGTERM (the runner rolls back and reports `cancelled`) and SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(30);
/// How often a watcher asks whether its container has ended.
const WATCH_INTERVAL: Duration = Duration::from_secs(2);
/// An ended container no watcher of this process removes (its app stopped, or another
/// replica's watcher is on it) is swept this long after it ended, once every watchdog had
/// the time to read how it ended.
const SWEEP_ENDED_AFTER: Duration = Duration::from_secs(300);
/// How long the end of a removed container is remembered for [`Launcher::state`].
const REMEMBER_ENDED: Duration = Duration::from_secs(3600);
/// Seconds a request to the API may take (creating a container copies nothing: the image
/// is local).
const API_TIMEOUT_SECONDS: u64 = 60;

/// The container's name, which is also the run's task id.
pub fn container_name(run: RunId) -> String {
    format!("hakobu-run-{run}")
}

/// What the API is asked to create for one run.
pub fn container_body(spec: &LaunchSpec, settings: &ContainerSettings) -> ContainerCreateBody {
    let memory_bytes = i64::from(spec.memory_mb) * 1024 * 1024;
    let ulimit = |name: &str, limit: i64| ResourcesUlimits {
        name: Some(name.to_owned()),
        soft: Some(limit),
        hard: Some(limit),
    };
    ContainerCreateBody {
        image: Some(settings.image.clone()),
        cmd: Some(vec!["managed".to_owned()]),
        env: Some(vec![
            format!("HAKOBU_APP_URL={}", spec.app_url),
            format!("HAKOBU_RUN_ID={}", spec.run_id),
            format!("HAKOBU_RUN_TOKEN={}", spec.run_token),
        ]),
        labels: Some(HashMap::from([
            (MANAGED_BY_LABEL.to_owned(), MANAGED_BY_VALUE.to_owned()),
            (RUN_ID_LABEL.to_owned(), spec.run_id.to_string()),
        ])),
        host_config: Some(HostConfig {
            nano_cpus: Some((spec.cpu * 1e9).round() as i64),
            memory: Some(memory_bytes),
            // The same as `memory`: no swap beyond the job's memory.
            memory_swap: Some(memory_bytes),
            pids_limit: Some(PIDS_LIMIT),
            ulimits: Some(vec![
                ulimit("nofile", OPEN_FILES_LIMIT),
                ulimit("nproc", PROCESSES_LIMIT),
            ]),
            network_mode: Some(settings.network.clone()),
            cap_drop: Some(vec!["ALL".to_owned()]),
            security_opt: Some(vec!["no-new-privileges".to_owned()]),
            // Removed by its watcher once its end is read, not by the engine: an
            // auto-removed container takes its exit code and OOM flag with it.
            auto_remove: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub struct ContainerLauncher {
    docker: Docker,
    settings: ContainerSettings,
    /// How removed containers ended, by task id, with when, for [`Launcher::state`].
    ended: Arc<Mutex<HashMap<String, (TaskState, Instant)>>>,
    /// Containers a watcher of this process will remove: the sweeper leaves them alone.
    watched: Arc<Mutex<HashSet<String>>>,
}

/// An API error in words, with what was being done.
fn api_error(doing: &'static str) -> impl FnOnce(DockerError) -> anyhow::Error {
    move |e| match e {
        DockerError::DockerResponseServerError {
            status_code,
            message,
        } => {
            anyhow::anyhow!("the container engine refused {doing}: {message} (HTTP {status_code})")
        }
        other => anyhow::anyhow!("container engine API error while {doing}: {other}"),
    }
}

fn status_of(e: &DockerError) -> Option<u16> {
    match e {
        DockerError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// What an inspected container says.
fn inspected_state(container: &ContainerInspectResponse) -> TaskState {
    let Some(state) = &container.state else {
        return TaskState::Starting;
    };
    match state.status {
        Some(ContainerStateStatusEnum::CREATED) | None | Some(ContainerStateStatusEnum::EMPTY) => {
            TaskState::Starting
        }
        Some(
            ContainerStateStatusEnum::RUNNING
            | ContainerStateStatusEnum::PAUSED
            | ContainerStateStatusEnum::RESTARTING,
        ) => TaskState::Running,
        Some(ContainerStateStatusEnum::REMOVING) => TaskState::Stopping,
        Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD) => {
            let reason = if state.oom_killed == Some(true) {
                Some("the runner ran out of memory (OOMKilled)".to_owned())
            } else {
                state.error.clone().filter(|e| !e.is_empty())
            };
            TaskState::Stopped {
                exit_code: state.exit_code.and_then(|c| i32::try_from(c).ok()),
                reason,
            }
        }
    }
}

impl ContainerLauncher {
    /// Connects to the socket and agrees on the API version (podman 4 serves 1.41).
    pub async fn new(settings: ContainerSettings) -> anyhow::Result<ContainerLauncher> {
        let socket = settings.socket.display().to_string();
        let docker =
            Docker::connect_with_unix(&socket, API_TIMEOUT_SECONDS, bollard::API_DEFAULT_VERSION)
                .with_context(|| format!("connecting to the container engine at {socket}"))?
                .negotiate_version()
                .await
                .with_context(|| {
                    format!(
                        "asking the container engine at {socket} for its version (is it running?)"
                    )
                })?;
        Ok(ContainerLauncher {
            docker,
            settings,
            ended: Arc::default(),
            watched: Arc::default(),
        })
    }

    pub fn settings(&self) -> &ContainerSettings {
        &self.settings
    }

    async fn remove(docker: &Docker, name: &str) -> anyhow::Result<()> {
        let options = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        match docker.remove_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            // Gone already, or being removed by another caller.
            Err(e) if matches!(status_of(&e), Some(404 | 409)) => Ok(()),
            Err(e) => Err(api_error("removing a runner container")(e)),
        }
    }

    async fn kill(docker: &Docker, name: &str, signal: &str) -> anyhow::Result<()> {
        let options = KillContainerOptions {
            signal: signal.to_owned(),
        };
        match docker.kill_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            // Gone, or not running (Docker answers 409; podman 409 or 500 with "not running").
            Err(e) if matches!(status_of(&e), Some(404 | 409)) => Ok(()),
            Err(DockerError::DockerResponseServerError { message, .. })
                if message.contains("not running") || message.contains("no such") =>
            {
                Ok(())
            }
            Err(e) => Err(api_error("signalling a runner container")(e)),
        }
    }

    async fn inspect(docker: &Docker, name: &str) -> anyhow::Result<Option<TaskState>> {
        match docker.inspect_container(name, None).await {
            Ok(container) => Ok(Some(inspected_state(&container))),
            Err(e) if status_of(&e) == Some(404) => Ok(None),
            Err(e) => Err(api_error("reading a runner container")(e)),
        }
    }

    /// Whether an ended container ended over [`SWEEP_ENDED_AFTER`] ago (or says no time).
    async fn ended_long_ago(&self, name: &str) -> anyhow::Result<bool> {
        let container = match self.docker.inspect_container(name, None).await {
            Ok(container) => container,
            Err(e) if status_of(&e) == Some(404) => return Ok(false),
            Err(e) => return Err(api_error("reading a runner container")(e)),
        };
        let finished = container
            .state
            .and_then(|s| s.finished_at)
            .and_then(|at| chrono::DateTime::parse_from_rfc3339(&at).ok());
        Ok(match finished {
            Some(at) => {
                chrono::Utc::now().signed_duration_since(at)
                    > chrono::Duration::from_std(SWEEP_ENDED_AFTER)?
            }
            None => true,
        })
    }

    /// Waits for the container to end (killing it at the run's timeout), keeps how it
    /// ended, and removes it.
    fn watch(&self, name: String, run: RunId, timeout: Duration) {
        let docker = self.docker.clone();
        let ended = self.ended.clone();
        let watched = self.watched.clone();
        watched.lock().unwrap().insert(name.clone());
        tokio::spawn(async move {
            let deadline = Instant::now() + timeout;
            let state = loop {
                match Self::inspect(&docker, &name).await {
                    Ok(Some(state)) if state.has_ended() => break Some(state),
                    Ok(None) => break None,
                    Ok(Some(_)) => {}
                    Err(e) => {
                        tracing::warn!(error = format!("{e:#}"), run_id = %run, "cannot read the runner container")
                    }
                }
                if Instant::now() >= deadline {
                    tracing::warn!(run_id = %run, "runner passed its timeout; killing its container");
                    if let Err(e) = Self::kill(&docker, &name, "SIGKILL").await {
                        tracing::warn!(error = format!("{e:#}"), run_id = %run, "killing the runner container failed");
                    }
                }
                tokio::time::sleep(WATCH_INTERVAL).await;
            };
            if let Some(state) = state {
                let mut ended = ended.lock().unwrap();
                ended.retain(|_, (_, at)| at.elapsed() < REMEMBER_ENDED);
                ended.insert(name.clone(), (state, Instant::now()));
            }
            if let Err(e) = Self::remove(&docker, &name).await {
                tracing::warn!(error = format!("{e:#}"), run_id = %run, "removing the runner container failed; the sweeper will");
            }
            watched.lock().unwrap().remove(&name);
        });
    }
}

impl Launcher for ContainerLauncher {
    fn name(&self) -> &'static str {
        "container"
    }

    fn runner_image(&self) -> String {
        self.settings.image.clone()
    }

    fn launch(&self, spec: LaunchSpec) -> BoxFuture<'_, anyhow::Result<String>> {
        Box::pin(async move {
            let name = container_name(spec.run_id);
            let body = container_body(&spec, &self.settings);
            let options = CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            };
            match self
                .docker
                .create_container(Some(options.clone()), body.clone())
                .await
            {
                Ok(_) => {}
                // A container of this run from a launch the app lost: the reconciler found
                // it not active (created and never started, or ended), so it is replaced.
                Err(e) if status_of(&e) == Some(409) => {
                    if let Some(state) = Self::inspect(&self.docker, &name).await?
                        && matches!(state, TaskState::Running | TaskState::Stopping)
                    {
                        anyhow::bail!("a container of run {} is already running", spec.run_id);
                    }
                    Self::remove(&self.docker, &name).await?;
                    self.docker
                        .create_container(Some(options), body)
                        .await
                        .map_err(api_error("creating the run's container"))?;
                }
                Err(e) => return Err(api_error("creating the run's container")(e)),
            }
            if let Err(e) = self.docker.start_container(&name, None).await {
                let _ = Self::remove(&self.docker, &name).await;
                return Err(api_error("starting the run's container")(e));
            }
            self.watch(name.clone(), spec.run_id, spec.timeout);
            Ok(name)
        })
    }

    /// SIGTERM now (the runner rolls back and reports `cancelled`), SIGKILL after a grace
    /// period if it still runs; its watcher (or the sweeper) removes it.
    fn stop(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<()>> {
        let name = task_id.to_owned();
        Box::pin(async move {
            Self::kill(&self.docker, &name, "SIGTERM").await?;
            let docker = self.docker.clone();
            tokio::spawn(async move {
                tokio::time::sleep(STOP_GRACE).await;
                if let Ok(Some(TaskState::Running)) = Self::inspect(&docker, &name).await
                    && let Err(e) = Self::kill(&docker, &name, "SIGKILL").await
                {
                    tracing::warn!(error = format!("{e:#}"), container = %name, "killing a runner container failed");
                }
            });
            Ok(())
        })
    }

    fn state(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<TaskState>> {
        let name = task_id.to_owned();
        Box::pin(async move {
            match Self::inspect(&self.docker, &name).await? {
                Some(state) => Ok(state),
                None => Ok(self
                    .ended
                    .lock()
                    .unwrap()
                    .get(&name)
                    .map(|(state, _)| state.clone())
                    .unwrap_or(TaskState::Missing)),
            }
        })
    }

    /// Hakobu's containers that have not ended; ended ones (left by an app process that
    /// stopped before its watcher removed them) are removed on the way, after the
    /// watchdog has read their state.
    fn list_active(&self) -> BoxFuture<'_, anyhow::Result<Vec<ActiveTask>>> {
        Box::pin(async move {
            let managed = format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}");
            // Running ones first, on their own: podman reports states Docker's API does not
            // have ("stopped", while a container winds down), which the typed listing
            // cannot read; a running container never reports one, so this listing holds.
            let options = ListContainersOptions {
                all: false,
                filters: Some(HashMap::from([("label".to_owned(), vec![managed.clone()])])),
                ..Default::default()
            };
            let running = self
                .docker
                .list_containers(Some(options))
                .await
                .map_err(api_error("listing Hakobu's containers"))?;
            let mut active = Vec::new();
            for container in running {
                let Some(name) = listed_name(&container) else {
                    continue;
                };
                let run_id = container
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(RUN_ID_LABEL))
                    .and_then(|r| r.parse().ok());
                match container.state {
                    Some(
                        ContainerSummaryStateEnum::EXITED
                        | ContainerSummaryStateEnum::DEAD
                        // Created and never started: a launch under way, or one its app
                        // lost (the run goes back to the queue and its next launch
                        // replaces it).
                        | ContainerSummaryStateEnum::CREATED
                        | ContainerSummaryStateEnum::REMOVING,
                    ) => {}
                    _ => active.push(ActiveTask {
                        task_id: name,
                        run_id,
                    }),
                }
            }
            // Then the ended ones, removed unless a watcher will (it died with its app).
            // Best effort: a listing the engine answers in words the API lacks is left
            // for the next pass.
            let options = ListContainersOptions {
                all: true,
                filters: Some(HashMap::from([
                    ("label".to_owned(), vec![managed]),
                    (
                        "status".to_owned(),
                        vec!["exited".to_owned(), "dead".to_owned()],
                    ),
                ])),
                ..Default::default()
            };
            match self.docker.list_containers(Some(options)).await {
                Ok(ended) => {
                    for container in ended {
                        let Some(name) = listed_name(&container) else {
                            continue;
                        };
                        let watched = self.watched.lock().unwrap().contains(&name);
                        if !watched && self.ended_long_ago(&name).await? {
                            Self::remove(&self.docker, &name).await?;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listing ended containers failed; removing them waits for the next pass");
                }
            }
            Ok(active)
        })
    }
}

/// A listed container's name, without Docker's leading `/`.
fn listed_name(container: &bollard::models::ContainerSummary) -> Option<String> {
    container
        .names
        .iter()
        .flatten()
        .next()
        .map(|n| n.trim_start_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_container_field_by_field() {
        let run = RunId::new();
        let spec = LaunchSpec {
            run_id: run,
            app_url: "https://hakobu.svc".to_owned(),
            run_token: "token-value".to_owned(),
            cpu: 0.5,
            memory_mb: 1024,
            timeout: Duration::from_secs(5400),
        };
        let settings = ContainerSettings {
            socket: PathBuf::from("/var/run/docker.sock"),
            image: "localhost/hakobu-runner:0.1.0".to_owned(),
            network: "transfers".to_owned(),
        };
        let body = container_body(&spec, &settings);
        assert_eq!(body.image.as_deref(), Some("localhost/hakobu-runner:0.1.0"));
        assert_eq!(body.cmd, Some(vec!["managed".to_owned()]));
        // Only the three variables every launcher passes.
        assert_eq!(
            body.env.unwrap(),
            [
                "HAKOBU_APP_URL=https://hakobu.svc".to_owned(),
                format!("HAKOBU_RUN_ID={run}"),
                "HAKOBU_RUN_TOKEN=token-value".to_owned(),
            ]
        );
        let labels = body.labels.unwrap();
        assert_eq!(labels[RUN_ID_LABEL], run.to_string());
        assert_eq!(labels[MANAGED_BY_LABEL], "hakobu");
        let host = body.host_config.unwrap();
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.memory, Some(1024 * 1024 * 1024));
        assert_eq!(host.memory_swap, host.memory, "no swap");
        assert_eq!(host.network_mode.as_deref(), Some("transfers"));
        assert_eq!(host.cap_drop, Some(vec!["ALL".to_owned()]));
        assert_eq!(
            host.security_opt,
            Some(vec!["no-new-privileges".to_owned()])
        );
        assert_eq!(host.auto_remove, Some(false));
        assert_eq!(host.privileged, None);
        assert_eq!(host.binds, None, "nothing of the host is mounted");
        let ulimits = host.ulimits.unwrap();
        assert!(
            ulimits
                .iter()
                .any(|u| u.name.as_deref() == Some("nofile") && u.hard == Some(1024))
        );
        assert_eq!(container_name(run), format!("hakobu-run-{run}"));
    }

    #[test]
    fn settings_name_what_is_wrong() {
        fn lookup(pairs: Vec<(&'static str, &'static str)>) -> impl Fn(&str) -> Option<String> {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        }
        let error = ContainerSettings::from_lookup(lookup(vec![])).unwrap_err();
        assert!(
            error.to_string().contains("HAKOBU_CONTAINER_IMAGE"),
            "{error}"
        );
        let settings =
            ContainerSettings::from_lookup(lookup(vec![("HAKOBU_CONTAINER_IMAGE", "runner:1")]))
                .unwrap();
        assert_eq!(settings.socket, PathBuf::from("/var/run/docker.sock"));
        assert_eq!(settings.network, "bridge");
        let settings = ContainerSettings::from_lookup(lookup(vec![
            ("HAKOBU_CONTAINER_IMAGE", "runner:1"),
            ("HAKOBU_CONTAINER_SOCKET", "unix:///run/podman/podman.sock"),
            ("HAKOBU_CONTAINER_NETWORK", "host"),
        ]))
        .unwrap();
        assert_eq!(settings.socket, PathBuf::from("/run/podman/podman.sock"));
        assert_eq!(settings.network, "host");
        for (name, value) in [
            ("HAKOBU_CONTAINER_SOCKET", "docker.sock"),
            ("HAKOBU_CONTAINER_NETWORK", "container:app"),
            ("HAKOBU_CONTAINER_IMAGE", "runner 1"),
        ] {
            let mut pairs = vec![("HAKOBU_CONTAINER_IMAGE", "runner:1")];
            pairs.retain(|(k, _)| *k != name);
            pairs.push((name, value));
            let error = ContainerSettings::from_lookup(lookup(pairs)).unwrap_err();
            assert!(error.to_string().contains(name), "{name}: {error}");
        }
    }
}
