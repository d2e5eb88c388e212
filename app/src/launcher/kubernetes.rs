//! The Kubernetes launcher (`HAKOBU_LAUNCHER=kubernetes`): one batch/v1 Job per run,
//! submitted through the kube crate.
//!
//! The manifest is the contract: one Job per run, never retried by Kubernetes (Hakobu's
//! retry policy decides), bounded by the run's timeout, cleaned up an hour after it ends,
//! labelled with the run id. The run's launch token travels in a per-run Secret that the
//! pod reads through `secretKeyRef`, so the Job object (readable by anyone who may list
//! Jobs) holds no credential; the Job owns the Secret, so Kubernetes deletes both together.
//! Stopping deletes the Job with propagation `Background`; a run's state comes from the
//! Job's conditions and, for a failed Job, its pod's termination.
//!
//! The pod meets the "restricted" Pod Security Standard, with a read-only root
//! filesystem and a bounded `emptyDir` at `/tmp` for S3 staging. A launch may be repeated
//! (a lost launch requeued): an existing Secret without its Job is reused, and a Job that
//! exists keeps its Secret. Secrets left without their Job are the launcher's leftovers,
//! which the reconciler removes once their run has finished. A pod that never starts
//! tells why (`start_problem`).

use super::{ActiveTask, LaunchSpec, Launcher, TaskState, TemporaryLaunchError};
use anyhow::Context;
use futures::future::BoxFuture;
use hakobu_core::ids::RunId;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod, Secret};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

pub use crate::settings::KubernetesSettings;

/// Label carrying the run id, to find a run's Job (and a Job's run).
pub const RUN_ID_LABEL: &str = "hakobu.io/run-id";
/// Label marking every object Hakobu creates.
pub const MANAGED_BY_SELECTOR: &str = "app.kubernetes.io/managed-by=hakobu";
/// Key of the launch token in the run's Secret.
pub const TOKEN_KEY: &str = "run-token";
/// Finished Jobs (and their pods and Secret) are deleted after this long.
pub const TTL_AFTER_FINISHED_SECONDS: i32 = 3600;

/// The runner image's user and group (`USER 10001:10001` in `runner-image/Dockerfile`).
pub const RUNNER_UID: i64 = 10001;
/// Ephemeral storage beyond `/tmp`: the container's log file.
const LOG_STORAGE_MB: u32 = 128;

/// The Job's name, which is also its task id and its Secret's name.
pub fn job_name(run: RunId) -> String {
    format!("hakobu-run-{run}")
}

/// Kubernetes quantities for the job's resources: 0.5 vCPU -> `500m`, 1024 MiB -> `1024Mi`.
pub fn quantities(cpu: f64, memory_mb: u32) -> (String, String) {
    (
        format!("{}m", (cpu * 1000.0).round() as i64),
        format!("{memory_mb}Mi"),
    )
}

fn labels(run: RunId) -> Value {
    json!({
        "app.kubernetes.io/name": "hakobu-runner",
        "app.kubernetes.io/managed-by": "hakobu",
        RUN_ID_LABEL: run.to_string(),
    })
}

/// The batch/v1 Job for one run. Holds no credential: the token comes from the Secret.
pub fn job_manifest(spec: &LaunchSpec, settings: &KubernetesSettings, namespace: &str) -> Value {
    let run = spec.run_id.to_string();
    let labels = labels(spec.run_id);
    let (cpu, memory) = quantities(spec.cpu, spec.memory_mb);
    let tmp = format!("{}Mi", settings.tmp_size_mb);
    // The container's own logs count against ephemeral storage too.
    let ephemeral = format!("{}Mi", settings.tmp_size_mb + LOG_STORAGE_MB);
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(spec.run_id),
            "namespace": namespace,
            "labels": labels,
        },
        "spec": {
            // Hakobu's retry policy decides about another attempt, with a fresh run.
            "backoffLimit": 0,
            "activeDeadlineSeconds": spec.timeout.as_secs(),
            "ttlSecondsAfterFinished": TTL_AFTER_FINISHED_SECONDS,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": settings.service_account,
                    "automountServiceAccountToken": false,
                    // What the "restricted" Pod Security Standard requires of every pod;
                    // a namespace enforcing it refuses the pod otherwise.
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": RUNNER_UID,
                        "runAsGroup": RUNNER_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    // The root filesystem is read-only; the runner stages S3 objects in
                    // the temp dir (`/tmp`, the image's default), bounded here.
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": tmp}}],
                    "containers": [{
                        "name": "runner",
                        "image": settings.image,
                        "args": ["managed"],
                        "env": [
                            {"name": "HAKOBU_APP_URL", "value": spec.app_url},
                            {"name": "HAKOBU_RUN_ID", "value": run},
                            {"name": "HAKOBU_RUN_TOKEN", "valueFrom": {"secretKeyRef": {
                                "name": job_name(spec.run_id),
                                "key": TOKEN_KEY,
                            }}},
                        ],
                        "resources": {
                            "requests": {"cpu": cpu, "memory": memory, "ephemeral-storage": ephemeral},
                            "limits": {"cpu": cpu, "memory": memory, "ephemeral-storage": ephemeral},
                        },
                        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                        "securityContext": {
                            "runAsNonRoot": true,
                            "allowPrivilegeEscalation": false,
                            "readOnlyRootFilesystem": true,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }],
                },
            },
        },
    })
}

/// The run's Secret with its launch token.
pub fn secret_manifest(spec: &LaunchSpec, namespace: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": job_name(spec.run_id),
            "namespace": namespace,
            "labels": labels(spec.run_id),
        },
        "type": "Opaque",
        "stringData": {TOKEN_KEY: spec.run_token},
    })
}

pub struct KubernetesLauncher {
    client: kube::Client,
    settings: KubernetesSettings,
    namespace: String,
}

/// An API error in words, with what was being done; never the request body (the Secret).
/// Throttling (429), the API server's own errors (5xx) and an unreachable API server are
/// temporary: a launch they refuse is queued again with a backoff
/// ([`TemporaryLaunchError`]); anything else is the cluster's answer for good.
fn api_error(doing: &'static str) -> impl FnOnce(kube::Error) -> anyhow::Error {
    move |e| match e {
        kube::Error::Api(status) if status.code == 429 || status.code >= 500 => {
            anyhow::Error::new(TemporaryLaunchError {
                message: format!(
                    "Kubernetes could not take {doing} for now: {} ({}, HTTP {})",
                    bounded(&status.message),
                    status.reason,
                    status.code
                ),
            })
        }
        kube::Error::HyperError(_) | kube::Error::Service(_) => {
            anyhow::Error::new(TemporaryLaunchError {
                message: format!("the Kubernetes API could not be reached while {doing}: {e}"),
            })
        }
        kube::Error::Api(status) => anyhow::anyhow!(
            "Kubernetes refused {doing}: {} ({}, HTTP {})",
            status.message,
            status.reason,
            status.code
        ),
        other => anyhow::anyhow!("Kubernetes API error while {doing}: {other}"),
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.is_not_found())
}

fn is_already_exists(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.is_already_exists())
}

/// A message from the cluster, bounded for a run's failure message.
fn bounded(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

impl KubernetesLauncher {
    /// A client from the kubeconfig file in the settings, or the usual lookup
    /// (`KUBECONFIG`, `~/.kube/config`, the pod's service account).
    pub async fn new(settings: KubernetesSettings) -> anyhow::Result<KubernetesLauncher> {
        let config = match &settings.kubeconfig {
            Some(path) => {
                let file = kube::config::Kubeconfig::read_from(path)
                    .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
                kube::Config::from_custom_kubeconfig(file, &Default::default())
                    .await
                    .with_context(|| format!("using the kubeconfig {}", path.display()))?
            }
            None => kube::Config::infer().await.context(
                "no Kubernetes configuration: set KUBECONFIG (or HAKOBU_K8S_KUBECONFIG), or run the app in a pod with a service account",
            )?,
        };
        let client = kube::Client::try_from(config).context("building the Kubernetes client")?;
        Ok(Self::with_client(settings, client))
    }

    pub fn with_client(settings: KubernetesSettings, client: kube::Client) -> KubernetesLauncher {
        let namespace = settings
            .namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_owned());
        KubernetesLauncher {
            client,
            settings,
            namespace,
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Exit code and termination reason of the run's runner container, if it ended.
    async fn termination(&self, run: &str) -> anyhow::Result<Option<(i32, Option<String>)>> {
        let pods = self
            .pods()
            .list(&ListParams::default().labels(&format!("{RUN_ID_LABEL}={run}")))
            .await
            .map_err(api_error("listing the run's pods"))?;
        Ok(pods
            .items
            .iter()
            .filter_map(|p| p.status.as_ref()?.container_statuses.as_ref())
            .flatten()
            .filter(|c| c.name == "runner")
            .find_map(|c| {
                let ended = c.state.as_ref()?.terminated.as_ref()?;
                Some((ended.exit_code, ended.reason.clone()))
            }))
    }
}

impl KubernetesLauncher {
    fn events(&self) -> Api<Event> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Names of the objects of one kind carrying Hakobu's label, read as metadata only (a
    /// Secret's data never leaves the API server), page by page.
    async fn managed_names<K>(&self, api: Api<K>) -> anyhow::Result<Vec<String>>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let mut names = Vec::new();
        let mut params = ListParams::default().labels(MANAGED_BY_SELECTOR).limit(500);
        loop {
            let page = api
                .list_metadata(&params)
                .await
                .map_err(api_error("listing Hakobu's objects"))?;
            names.extend(page.items.into_iter().filter_map(|o| o.metadata.name));
            match page.metadata.continue_.as_deref() {
                Some(token) if !token.is_empty() => params = params.continue_token(token),
                _ => return Ok(names),
            }
        }
    }

    /// Why the run's pod is not running: its runner container waiting (an image that
    /// cannot be pulled, a configuration it cannot be created with), the pod not scheduled,
    /// or no pod at all because the Job controller could not create it (its `FailedCreate`
    /// event, e.g. a pod the namespace's Pod Security admission refused).
    async fn pod_problem(&self, name: &str, run: &str) -> anyhow::Result<Option<String>> {
        let pods = self
            .pods()
            .list(&ListParams::default().labels(&format!("{RUN_ID_LABEL}={run}")))
            .await
            .map_err(api_error("listing the run's pods"))?;
        for pod in &pods.items {
            let Some(status) = &pod.status else { continue };
            let waiting = status
                .container_statuses
                .iter()
                .flatten()
                .filter(|c| c.name == "runner")
                .find_map(|c| c.state.as_ref()?.waiting.as_ref())
                .filter(|w| {
                    w.reason
                        .as_deref()
                        .is_some_and(|r| r != "ContainerCreating")
                });
            if let Some(waiting) = waiting {
                let reason = waiting.reason.as_deref().unwrap_or_default();
                return Ok(Some(match waiting.message.as_deref() {
                    Some(message) if !message.is_empty() => {
                        format!("its container is waiting: {reason}: {}", bounded(message))
                    }
                    _ => format!("its container is waiting: {reason}"),
                }));
            }
            let unscheduled = status
                .conditions
                .iter()
                .flatten()
                .find(|c| c.type_ == "PodScheduled" && c.status == "False");
            if let Some(c) = unscheduled {
                return Ok(Some(format!(
                    "its pod is not scheduled: {}: {}",
                    c.reason.as_deref().unwrap_or("Unschedulable"),
                    bounded(c.message.as_deref().unwrap_or_default())
                )));
            }
        }
        if !pods.items.is_empty() {
            return Ok(None);
        }
        let events = self
            .events()
            .list(&ListParams::default().fields(&format!(
                "involvedObject.kind=Job,involvedObject.name={name}"
            )))
            .await
            .map_err(api_error("listing the events of the run's Job"))?;
        Ok(events
            .items
            .iter()
            .filter(|e| e.reason.as_deref() == Some("FailedCreate"))
            .max_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0))
            .map(|e| {
                format!(
                    "its pod could not be created: {}",
                    bounded(e.message.as_deref().unwrap_or("FailedCreate"))
                )
            }))
    }
}

/// What a Job's status says, before looking at its pod.
fn job_state(job: &Job) -> TaskState {
    if job.metadata.deletion_timestamp.is_some() {
        return TaskState::Stopping;
    }
    let Some(status) = &job.status else {
        return TaskState::Starting;
    };
    let condition = |kind: &str| {
        status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == kind && c.status == "True")
    };
    if condition("Complete").is_some() {
        return TaskState::Stopped {
            exit_code: Some(0),
            reason: None,
        };
    }
    if let Some(failed) = condition("Failed") {
        let reason = [failed.reason.as_deref(), failed.message.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(": ");
        return TaskState::Stopped {
            exit_code: None,
            reason: (!reason.is_empty()).then_some(reason),
        };
    }
    if condition("FailureTarget").is_some() || condition("SuccessCriteriaMet").is_some() {
        return TaskState::Stopping;
    }
    if status.ready.unwrap_or(0) > 0 {
        TaskState::Running
    } else {
        TaskState::Starting
    }
}

impl Launcher for KubernetesLauncher {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn runner_image(&self) -> String {
        self.settings.image.clone()
    }

    /// Creates the Secret, then the Job, then makes the Job the Secret's owner.
    fn launch(&self, spec: LaunchSpec) -> BoxFuture<'_, anyhow::Result<String>> {
        Box::pin(async move {
            let name = job_name(spec.run_id);
            let secret: Secret = serde_json::from_value(secret_manifest(&spec, &self.namespace))
                .context("building the run's Secret")?;
            let job: Job =
                serde_json::from_value(job_manifest(&spec, &self.settings, &self.namespace))
                    .context("building the run's Job")?;
            match self.secrets().create(&PostParams::default(), &secret).await {
                Ok(_) => {}
                Err(e) if is_already_exists(&e) => {
                    // An earlier launch of this run left it: one the app lost (it stopped
                    // before recording the launch) and the reconciler queued again. If that
                    // launch's Job exists, its pod reads this Secret: both stay as they are.
                    if self
                        .jobs()
                        .get_opt(&name)
                        .await
                        .map_err(api_error("reading the run's Job"))?
                        .is_some()
                    {
                        anyhow::bail!(
                            "the run's Job {name} already exists (an earlier launch of this run); it was left as it is"
                        );
                    }
                    // Without a Job the Secret is this launch's to reuse, with this launch's
                    // token, and owned by nothing until the new Job owns it.
                    let reuse = json!({
                        "metadata": {"labels": labels(spec.run_id), "ownerReferences": null},
                        "stringData": {TOKEN_KEY: spec.run_token},
                    });
                    self.secrets()
                        .patch(&name, &PatchParams::default(), &Patch::Merge(&reuse))
                        .await
                        .map_err(api_error(
                            "reusing the run's Secret left by an earlier launch",
                        ))?;
                }
                Err(e) => return Err(api_error("creating the run's Secret")(e)),
            }
            let created = match self.jobs().create(&PostParams::default(), &job).await {
                Ok(created) => created,
                // Created by another launch of this run in between: its pod needs the Secret.
                Err(e) if is_already_exists(&e) => {
                    return Err(api_error("creating the run's Job")(e));
                }
                Err(e) => {
                    let _ = self.secrets().delete(&name, &DeleteParams::default()).await;
                    return Err(api_error("creating the run's Job")(e));
                }
            };
            // Owned by the Job, the Secret goes when the Job goes (stop or TTL).
            if let Some(uid) = created.metadata.uid {
                let owner = json!({"metadata": {"ownerReferences": [{
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": name,
                    "uid": uid,
                }]}});
                if let Err(e) = self
                    .secrets()
                    .patch(&name, &PatchParams::default(), &Patch::Merge(&owner))
                    .await
                {
                    tracing::warn!(
                        error = %api_error("making the Job own its Secret")(e),
                        run_id = %spec.run_id,
                        "the run's Secret stays until the run is stopped or swept"
                    );
                }
            }
            Ok(name)
        })
    }

    fn stop(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<()>> {
        let name = task_id.to_owned();
        Box::pin(async move {
            match self.jobs().delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(api_error("deleting the run's Job")(e)),
            }
            // Normally garbage-collected with its Job; deleted here in case the owner
            // reference could not be set.
            match self.secrets().delete(&name, &DeleteParams::default()).await {
                Ok(_) => Ok(()),
                Err(e) if is_not_found(&e) => Ok(()),
                Err(e) => Err(api_error("deleting the run's Secret")(e)),
            }
        })
    }

    fn state(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<TaskState>> {
        let name = task_id.to_owned();
        Box::pin(async move {
            let Some(job) = self
                .jobs()
                .get_opt(&name)
                .await
                .map_err(api_error("reading the run's Job"))?
            else {
                return Ok(TaskState::Missing);
            };
            let reason = match job_state(&job) {
                TaskState::Stopped {
                    exit_code: None,
                    reason,
                } => reason,
                other => return Ok(other),
            };
            // A failed Job: the pod tells the exit code and why (OOMKilled, Error, ...).
            let run = job
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(RUN_ID_LABEL))
                .cloned()
                .unwrap_or_default();
            let (exit_code, pod_reason) = match self.termination(&run).await? {
                Some((code, why)) => (Some(code), why),
                None => (None, None),
            };
            let reason = match (reason, pod_reason) {
                (Some(job), Some(pod)) => Some(format!("{job} (container: {pod})")),
                (job, pod) => job.or(pod),
            };
            Ok(TaskState::Stopped { exit_code, reason })
        })
    }

    fn start_problem(&self, task_id: &str) -> BoxFuture<'_, anyhow::Result<Option<String>>> {
        let name = task_id.to_owned();
        Box::pin(async move {
            let Some(job) = self
                .jobs()
                .get_opt(&name)
                .await
                .map_err(api_error("reading the run's Job"))?
            else {
                return Ok(None);
            };
            let run = job
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(RUN_ID_LABEL))
                .cloned()
                .unwrap_or_default();
            self.pod_problem(&name, &run).await
        })
    }

    /// The runs' Secrets whose Job is gone: the Job was refused and the Secret's deletion
    /// failed too, the app stopped between the two, or a Job deleted before it owned its
    /// Secret.
    fn list_leftovers(&self) -> BoxFuture<'_, anyhow::Result<Vec<ActiveTask>>> {
        Box::pin(async move {
            let secrets = self.managed_names(self.secrets()).await?;
            if secrets.is_empty() {
                return Ok(Vec::new());
            }
            let jobs: std::collections::HashSet<String> =
                self.managed_names(self.jobs()).await?.into_iter().collect();
            Ok(secrets
                .into_iter()
                .filter(|s| !jobs.contains(s))
                .map(|name| ActiveTask {
                    run_id: name
                        .strip_prefix("hakobu-run-")
                        .and_then(|r| r.parse().ok()),
                    task_id: name,
                })
                .collect())
        })
    }

    /// Jobs labelled as Hakobu's in the namespace that have not finished.
    fn list_active(&self) -> BoxFuture<'_, anyhow::Result<Vec<ActiveTask>>> {
        Box::pin(async move {
            let mut active = Vec::new();
            let mut params = ListParams::default().labels(MANAGED_BY_SELECTOR).limit(500);
            loop {
                let page = self
                    .jobs()
                    .list(&params)
                    .await
                    .map_err(api_error("listing Hakobu's Jobs"))?;
                for job in &page.items {
                    let (Some(name), false) = (&job.metadata.name, job_state(job).has_ended())
                    else {
                        continue;
                    };
                    active.push(ActiveTask {
                        task_id: name.clone(),
                        run_id: job
                            .metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(RUN_ID_LABEL))
                            .and_then(|r| r.parse().ok()),
                    });
                }
                match page.metadata.continue_.as_deref() {
                    Some(token) if !token.is_empty() => {
                        params = params.continue_token(token);
                    }
                    _ => break,
                }
            }
            Ok(active)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::DEFAULT_K8S_TMP_SIZE_MB;
    use std::time::Duration;

    #[test]
    fn the_job_manifest_field_by_field() {
        let run = RunId::new();
        let spec = LaunchSpec {
            run_id: run,
            app_url: "https://hakobu.svc".to_owned(),
            run_token: "token-value".to_owned(),
            cpu: 0.5,
            memory_mb: 1024,
            timeout: Duration::from_secs(5400),
        };
        let settings = KubernetesSettings {
            namespace: None,
            image: "registry.example.com/hakobu-runner:0.1.0".to_owned(),
            service_account: "hakobu-runner".to_owned(),
            kubeconfig: None,
            tmp_size_mb: 4096,
        };
        let m = job_manifest(&spec, &settings, "transfers");
        assert_eq!(m["apiVersion"], "batch/v1");
        assert_eq!(m["kind"], "Job");
        assert_eq!(m["metadata"]["name"], format!("hakobu-run-{run}"));
        assert_eq!(m["metadata"]["namespace"], "transfers");
        assert_eq!(m["metadata"]["labels"][RUN_ID_LABEL], run.to_string());
        assert_eq!(m["spec"]["backoffLimit"], 0);
        assert_eq!(m["spec"]["activeDeadlineSeconds"], 5400);
        assert_eq!(m["spec"]["ttlSecondsAfterFinished"], 3600);
        let pod = &m["spec"]["template"]["spec"];
        assert_eq!(
            m["spec"]["template"]["metadata"]["labels"][RUN_ID_LABEL],
            run.to_string()
        );
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["automountServiceAccountToken"], false);
        let c = &pod["containers"][0];
        assert_eq!(c["image"], "registry.example.com/hakobu-runner:0.1.0");
        assert_eq!(c["args"], json!(["managed"]));
        let env: Vec<&str> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(env, ["HAKOBU_APP_URL", "HAKOBU_RUN_ID", "HAKOBU_RUN_TOKEN"]);
        assert_eq!(
            c["env"][2]["valueFrom"]["secretKeyRef"],
            json!({"name": format!("hakobu-run-{run}"), "key": "run-token"})
        );
        assert!(
            !m.to_string().contains("token-value"),
            "no credential in the Job"
        );
        assert_eq!(
            c["resources"]["requests"],
            json!({"cpu": "500m", "memory": "1024Mi", "ephemeral-storage": "4224Mi"})
        );
        assert_eq!(c["resources"]["limits"], c["resources"]["requests"]);
        assert_eq!(c["securityContext"]["runAsNonRoot"], true);
        assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
        // The writable temp dir, bounded.
        assert_eq!(
            pod["volumes"],
            json!([{"name": "tmp", "emptyDir": {"sizeLimit": "4096Mi"}}])
        );
        assert_eq!(
            c["volumeMounts"],
            json!([{"name": "tmp", "mountPath": "/tmp"}])
        );
        assert_eq!(
            pod["securityContext"]["seccompProfile"],
            json!({"type": "RuntimeDefault"})
        );
        assert_eq!(pod["securityContext"]["runAsUser"], RUNNER_UID);
        // Names stay within Kubernetes' 63-character limit.
        assert!(m["metadata"]["name"].as_str().unwrap().len() <= 63);
        // The typed Job accepts every field (a misspelt one would not round-trip).
        let typed: Job = serde_json::from_value(m.clone()).unwrap();
        assert_eq!(serde_json::to_value(&typed).unwrap(), m);

        let secret = secret_manifest(&spec, "transfers");
        assert_eq!(secret["stringData"][TOKEN_KEY], "token-value");
        assert_eq!(secret["metadata"]["labels"], m["metadata"]["labels"]);
    }

    #[test]
    fn settings_name_what_is_missing() {
        let error = KubernetesSettings::from_lookup(|_| None).unwrap_err();
        assert!(error.to_string().contains("HAKOBU_K8S_IMAGE"), "{error}");
        let settings = KubernetesSettings::from_lookup(|name| match name {
            "HAKOBU_K8S_IMAGE" => Some("runner:1".to_owned()),
            "HAKOBU_K8S_NAMESPACE" => Some("transfers".to_owned()),
            _ => None,
        })
        .unwrap();
        assert_eq!(settings.namespace.as_deref(), Some("transfers"));
        assert_eq!(settings.service_account, "hakobu-runner");
        assert_eq!(settings.kubeconfig, None);
        assert_eq!(settings.tmp_size_mb, DEFAULT_K8S_TMP_SIZE_MB);
        let with_tmp = |tmp: &'static str| {
            KubernetesSettings::from_lookup(move |name| match name {
                "HAKOBU_K8S_IMAGE" => Some("runner:1".to_owned()),
                "HAKOBU_K8S_TMP_SIZE_MB" => Some(tmp.to_owned()),
                _ => None,
            })
        };
        assert_eq!(with_tmp("10240").unwrap().tmp_size_mb, 10240);
        for bad in ["1G", "0", "-5", "2000000"] {
            let error = with_tmp(bad).unwrap_err().to_string();
            assert!(
                error.contains("HAKOBU_K8S_TMP_SIZE_MB") && error.contains("MiB"),
                "{bad}: {error}"
            );
        }
    }
}
