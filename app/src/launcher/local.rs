//! The local launcher: `hakobu-runner managed` as a child process in a fresh temporary
//! directory, with an address-space limit and the run's timeout, cleaned up afterwards.

use super::{LaunchSpec, Launcher};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

pub struct LocalLauncher {
    runner_bin: PathBuf,
    /// Process ids of running children by task id, to stop them.
    children: Arc<Mutex<HashMap<String, u32>>>,
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
            let dir = std::env::temp_dir().join(format!("hakobu-run-{}", spec.run_id));
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
            self.children.lock().unwrap().insert(task_id.clone(), pid);
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

    fn stop(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<()>> {
        let pid = self.children.lock().unwrap().get(task_id).copied();
        Box::pin(async move {
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
}
