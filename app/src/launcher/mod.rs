//! Launchers start a fresh runner for each run: a local process (default), a container
//! through the Docker Engine API, an ECS Fargate task, or a Kubernetes Job. The runner gets only the app URL, its run id and a launch
//! token that fetches its assignment once (see `auth::run_token`). Launchers also answer
//! what became of a task and which of their tasks are still active, for the watchdog's
//! reconciliation.

pub mod container;
pub mod ecs;
pub mod kubernetes;
mod local;

pub use local::LocalLauncher;

use futures::future::BoxFuture;
use hakobu_core::ids::RunId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a launcher needs to start one runner.
#[derive(Clone)]
pub struct LaunchSpec {
    pub run_id: RunId,
    /// Where the runner reaches the app.
    pub app_url: String,
    pub run_token: String,
    pub cpu: f64,
    pub memory_mb: u32,
    pub timeout: Duration,
}

// The token is a credential.
impl std::fmt::Debug for LaunchSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LaunchSpec")
            .field("run_id", &self.run_id)
            .field("app_url", &self.app_url)
            .field("cpu", &self.cpu)
            .field("memory_mb", &self.memory_mb)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

pub trait Launcher: Send + Sync {
    /// `local`, `container`, `ecs` or `kubernetes`; recorded on the run.
    fn name(&self) -> &'static str;
    /// What the runner runs from, recorded on each run: the image (task definition) or
    /// the binary's path.
    fn runner_image(&self) -> String {
        self.name().to_owned()
    }
    /// Starts a runner; answers the task id to stop it by.
    fn launch(&self, spec: LaunchSpec) -> BoxFuture<'_, anyhow::Result<String>>;
    /// Stops a runner (cancel, timeout); a task that already ended is not an error.
    fn stop(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<()>>;
    /// What became of a task, for reconciling runs with their runners (after an app
    /// restart, a crash, a task that never started).
    fn state(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<TaskState>>;
    /// [`Launcher::state`] of many tasks, keyed by task id, for the watchdog's round over
    /// every run in flight. Launchers whose API describes many tasks per call (ECS: 100)
    /// answer with one call per batch instead of one per run.
    fn states<'a>(
        &'a self,
        task_ids: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<HashMap<String, TaskState>>> {
        Box::pin(async move {
            let mut states = HashMap::with_capacity(task_ids.len());
            for task in task_ids {
                states.insert(task.clone(), self.state(task).await?);
            }
            Ok(states)
        })
    }
    /// Runners of this launcher that have not ended, found by their Hakobu marks (ECS tag
    /// and `startedBy`, Job label, container label, the processes this app started), so the sweeper can
    /// stop those whose run has finished.
    fn list_active(&self) -> BoxFuture<'_, anyhow::Result<Vec<ActiveTask>>>;
    /// Why a task that has not started is held up, in words (an image that cannot be
    /// pulled, a pod the cluster refused to create), for the message of a run that did not
    /// start in time; `None` when the launcher cannot tell.
    fn start_problem(&self, _task_id: &str) -> BoxFuture<'_, anyhow::Result<Option<String>>> {
        Box::pin(async { Ok(None) })
    }
    /// What a launcher keeps for a run beside its runner and that outlived the runner
    /// (Kubernetes: a run's Secret whose Job is gone), named like tasks. The sweeper
    /// removes those of finished runs with [`Launcher::stop`].
    fn list_leftovers(&self) -> BoxFuture<'_, anyhow::Result<Vec<ActiveTask>>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    /// Whether [`Launcher::task_times`] can tell anything: the watchdog asks only then.
    fn reports_task_times(&self) -> bool {
        false
    }
    /// When stopped tasks started and stopped by the platform's own clock (ECS: the image
    /// pull to the stop, what Fargate bills), keyed by task id; tasks not stopped yet or
    /// unknown are left out.
    fn task_times<'a>(
        &'a self,
        _task_ids: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<HashMap<String, TaskTimes>>> {
        Box::pin(async { Ok(HashMap::new()) })
    }
}

/// When a task ran, by its platform's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskTimes {
    pub started: chrono::DateTime<chrono::Utc>,
    pub stopped: chrono::DateTime<chrono::Utc>,
}

/// A launch that failed for a reason expected to pass by itself: the cloud API throttled
/// the call, answered a server error or could not be reached, or had no capacity for the
/// task at that moment (Fargate Spot). A launcher answers it inside its `anyhow::Error`
/// (`anyhow::Error::new(TemporaryLaunchError { .. })`); the dispatcher then queues the run
/// again with a backoff instead of failing it (`runs::dispatch`). Any other launch error
/// fails the run at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporaryLaunchError {
    /// What the platform answered, in words (no request content).
    pub message: String,
}

impl std::fmt::Display for TemporaryLaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TemporaryLaunchError {}

impl TemporaryLaunchError {
    /// Whether a launch error (or anything in its chain of causes) is temporary.
    pub fn is_in(error: &anyhow::Error) -> bool {
        error
            .chain()
            .any(|cause| cause.is::<TemporaryLaunchError>())
    }
}

/// A launcher's view of one runner, mapped from ECS task status, Job and pod status, or a
/// process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    Starting,
    Running,
    /// On its way to stopped.
    Stopping,
    Stopped {
        exit_code: Option<i32>,
        reason: Option<String>,
    },
    /// The launcher does not know the task (never started, or cleaned up after it ended).
    Missing,
}

impl TaskState {
    pub fn has_ended(&self) -> bool {
        matches!(self, TaskState::Stopped { .. } | TaskState::Missing)
    }
}

/// A runner found by [`Launcher::list_active`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveTask {
    pub task_id: String,
    /// The run its Hakobu mark names; `None` when the mark is not a run id.
    pub run_id: Option<RunId>,
}

/// Launches nothing and remembers what it was asked: for the dispatcher benchmark and
/// tests of the queue.
#[derive(Default)]
pub struct RecordingLauncher {
    pub launched: Mutex<Vec<RunId>>,
    pub stopped: Mutex<Vec<String>>,
    /// What `state` answers per task id; `Running` for any other.
    pub states: Mutex<HashMap<String, TaskState>>,
    /// What `list_active` answers.
    pub active: Mutex<Vec<ActiveTask>>,
    /// What `task_times` answers per task id.
    pub times: Mutex<HashMap<String, TaskTimes>>,
}

impl Launcher for RecordingLauncher {
    fn name(&self) -> &'static str {
        "recording"
    }

    fn launch(&self, spec: LaunchSpec) -> BoxFuture<'_, anyhow::Result<String>> {
        self.launched.lock().unwrap().push(spec.run_id);
        Box::pin(async move { Ok(format!("recorded-{}", spec.run_id)) })
    }

    fn stop(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<()>> {
        self.stopped.lock().unwrap().push(task_id.to_owned());
        Box::pin(async { Ok(()) })
    }

    fn state(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<TaskState>> {
        let state = self.states.lock().unwrap().get(task_id).cloned();
        Box::pin(async move { Ok(state.unwrap_or(TaskState::Running)) })
    }

    fn list_active(&self) -> BoxFuture<'_, anyhow::Result<Vec<ActiveTask>>> {
        let active = self.active.lock().unwrap().clone();
        Box::pin(async move { Ok(active) })
    }

    fn reports_task_times(&self) -> bool {
        true
    }

    fn task_times<'a>(
        &'a self,
        task_ids: &'a [String],
    ) -> BoxFuture<'a, anyhow::Result<HashMap<String, TaskTimes>>> {
        let times = self.times.lock().unwrap();
        let known = task_ids
            .iter()
            .filter_map(|t| times.get(t).map(|times| (t.clone(), *times)))
            .collect();
        Box::pin(async move { Ok(known) })
    }
}

/// The launcher named by `HAKOBU_LAUNCHER`.
pub async fn from_name(
    name: &str,
    runner_bin: std::path::PathBuf,
) -> anyhow::Result<Arc<dyn Launcher>> {
    match name {
        "local" => Ok(Arc::new(LocalLauncher::new(runner_bin))),
        "container" => Ok(Arc::new(
            container::ContainerLauncher::new(crate::settings::ContainerSettings::from_env()?)
                .await?,
        )),
        "ecs" => Ok(Arc::new(
            ecs::EcsLauncher::new(ecs::EcsSettings::from_env()?).await,
        )),
        "kubernetes" => Ok(Arc::new(
            kubernetes::KubernetesLauncher::new(kubernetes::KubernetesSettings::from_env()?)
                .await?,
        )),
        other => anyhow::bail!(
            "HAKOBU_LAUNCHER is {other:?}; expected local, container, ecs or kubernetes"
        ),
    }
}
