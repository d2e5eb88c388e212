//! The local launcher: `hakobu-runner managed` as a child process in a fresh temporary
//! directory, with an address-space limit and the run's timeout, cleaned up afterwards.

use super::{ActiveTask, LaunchSpec, Launcher, TaskState};
use futures::future::BoxFuture;
use hakobu_core::ids::RunId;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

pub struct LocalLauncher {
    runner_bin: PathBuf,
    /// Process id and run of running children by task id, to stop and list them.
    children: Arc<Mutex<HashMap<String, (u32, RunId)>>>,
}

impl LocalLauncher {
    pub fn new(runner_bin: PathBuf) -> Self {
        LocalLauncher {
            runner_bin,
            children: Arc::default(),
        }
    }
}

impl Launcher for LocalLauncher {
    fn name(&self) -> &'static str {
        "local"
    }

    fn runner_image(&self) -> String {
        self.runner_bin.display().to_string()
    }

    fn launch(&self, spec: LaunchSpec) -> BoxFuture<'_, anyhow::Result<String>> {
        Box::pin(async move {
            let dir = run_dir(spec.run_id);
            tokio::fs::create_dir_all(&dir).await?;
            // `ulimit -v` caps the address space (KiB); the shell then becomes the runner.
            let limit_kib = u64::from(spec.memory_mb) * 1024 * 2;
            let mut child = tokio::process::Command::new("sh")
                .arg("-c")
                .arg(format!("ulimit -v {limit_kib} && exec \"$0\" managed"))
                .arg(&self.runner_bin)
                .current_dir(&dir)
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HAKOBU_APP_URL", &spec.app_url)
                .env("HAKOBU_RUN_ID", spec.run_id.to_string())
                .env("HAKOBU_RUN_TOKEN", &spec.run_token)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(false)
                .spawn()
                .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", self.runner_bin.display()))?;
            let pid = child.id().unwrap_or_default();
            let task_id = format!("local-{pid}-{}", spec.run_id);
            self.children
                .lock()
                .unwrap()
                .insert(task_id.clone(), (pid, spec.run_id));
            let children = self.children.clone();
            let id = task_id.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(spec.timeout, child.wait()).await {
                    Ok(_) => {}
                    Err(_) => {
                        tracing::warn!(run_id = %spec.run_id, "runner passed its timeout; killing it");
                        let _ = child.kill().await;
                    }
                }
                children.lock().unwrap().remove(&id);
                let _ = tokio::fs::remove_dir_all(&dir).await;
            });
            Ok(task_id)
        })
    }

    /// Stops a child of this process, or a runner a previous app process started (found
    /// as in [`Launcher::state`]).
    fn stop(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<()>> {
        let child = self
            .children
            .lock()
            .unwrap()
            .get(task_id)
            .map(|(pid, _)| *pid);
        let parsed = parse_task_id(task_id);
        Box::pin(async move {
            let pid = match (child, parsed) {
                (Some(pid), _) => Some(pid),
                (None, Some((pid, run))) if works_in(pid, run).await => Some(pid),
                _ => None,
            };
            if let Some(pid) = pid {
                // SIGTERM first: the runner rolls back and reports `cancelled`.
                let _ = tokio::process::Command::new("kill")
                    .arg(pid.to_string())
                    .status()
                    .await;
            }
            Ok(())
        })
    }

    /// A child of this process is running until it is reaped. After an app restart the
    /// map is empty: a runner started by the previous process still runs if its process
    /// id still works in the run's directory (Linux `/proc`).
    fn state(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<TaskState>> {
        let known = self.children.lock().unwrap().contains_key(task_id);
        let parsed = parse_task_id(task_id);
        Box::pin(async move {
            if known {
                return Ok(TaskState::Running);
            }
            Ok(match parsed {
                Some((pid, run)) if works_in(pid, run).await => TaskState::Running,
                _ => TaskState::Missing,
            })
        })
    }

    fn list_active(&self) -> BoxFuture<'_, anyhow::Result<Vec<ActiveTask>>> {
        let active = self
            .children
            .lock()
            .unwrap()
            .iter()
            .map(|(task_id, (_, run))| ActiveTask {
                task_id: task_id.clone(),
                run_id: Some(*run),
            })
            .collect();
        Box::pin(async move { Ok(active) })
    }
}

/// The fresh directory a run's runner works in.
fn run_dir(run: RunId) -> PathBuf {
    std::env::temp_dir().join(format!("hakobu-run-{run}"))
}

/// Whether process `pid` is alive and works in `run`'s directory: a runner of that run
/// rather than a process that reused its id.
async fn works_in(pid: u32, run: RunId) -> bool {
    tokio::fs::read_link(format!("/proc/{pid}/cwd"))
        .await
        .is_ok_and(|dir| dir == run_dir(run))
}

/// `local-<pid>-<run id>` -> (pid, run id).
fn parse_task_id(task_id: &str) -> Option<(u32, RunId)> {
    let (pid, run) = task_id.strip_prefix("local-")?.split_once('-')?;
    Some((pid.parse().ok()?, run.parse().ok()?))
}
