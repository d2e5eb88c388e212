//! The Kubernetes Job a run becomes (`HAKOBU_LAUNCHER=kubernetes`).
//!
//! This version builds and checks the manifest; submitting it through the kube crate is
//! the next step (the launcher answers a clear error until then). The manifest is the
//! contract: one Job per run, never retried by Kubernetes (Hakobu's retry policy decides),
//! bounded by the run's timeout, cleaned up after an hour, labelled with the run id.

use super::LaunchSpec;
use serde_json::{Value, json};

/// Where and how runner Jobs start.
#[derive(Debug, Clone)]
pub struct KubernetesSettings {
    pub namespace: String,
    /// The runner image, e.g. `registry.example.com/hakobu-runner:0.1.0`.
    pub image: String,
    /// A service account with no API permissions: the runner needs none.
    pub service_account: String,
}

/// Label carrying the run id, to find a run's Job (and a Job's run).
pub const RUN_ID_LABEL: &str = "hakobu.io/run-id";

/// Kubernetes quantities for the job's resources: 0.5 vCPU -> `500m`, 1024 MiB -> `1024Mi`.
pub fn quantities(cpu: f64, memory_mb: u32) -> (String, String) {
    (
        format!("{}m", (cpu * 1000.0).round() as i64),
        format!("{memory_mb}Mi"),
    )
}

/// The batch/v1 Job for one run.
pub fn job_manifest(spec: &LaunchSpec, settings: &KubernetesSettings) -> Value {
    let run = spec.run_id.to_string();
    let labels = json!({
        "app.kubernetes.io/name": "hakobu-runner",
        "app.kubernetes.io/managed-by": "hakobu",
        RUN_ID_LABEL: run,
    });
    let (cpu, memory) = quantities(spec.cpu, spec.memory_mb);
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": format!("hakobu-run-{run}"),
            "namespace": settings.namespace,
            "labels": labels,
        },
        "spec": {
            // Hakobu's retry policy decides about another attempt, with a fresh run.
            "backoffLimit": 0,
            "activeDeadlineSeconds": spec.timeout.as_secs(),
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "serviceAccountName": settings.service_account,
                    "automountServiceAccountToken": false,
                    "containers": [{
                        "name": "runner",
                        "image": settings.image,
                        "args": ["managed"],
                        "env": [
                            {"name": "HAKOBU_APP_URL", "value": spec.app_url},
                            {"name": "HAKOBU_RUN_ID", "value": run},
                            {"name": "HAKOBU_RUN_TOKEN", "value": spec.run_token},
                        ],
                        "resources": {
                            "requests": {"cpu": cpu, "memory": memory},
                            "limits": {"cpu": cpu, "memory": memory},
                        },
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

#[cfg(test)]
mod tests {
    use super::*;
    use hakobu_core::ids::RunId;
    use std::time::Duration;

    #[test]
    fn the_job_manifest_field_by_field() {
        let run = RunId::new();
        let spec = LaunchSpec {
            run_id: run,
            app_url: "https://hakobu.svc".to_owned(),
            run_token: "token".to_owned(),
            cpu: 0.5,
            memory_mb: 1024,
            timeout: Duration::from_secs(5400),
        };
        let settings = KubernetesSettings {
            namespace: "transfers".to_owned(),
            image: "registry.example.com/hakobu-runner:0.1.0".to_owned(),
            service_account: "hakobu-runner".to_owned(),
        };
        let m = job_manifest(&spec, &settings);
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
        assert_eq!(
            env,
            ["HAKOBU_APP_URL", "HAKOBU_RUN_ID", "HAKOBU_RUN_TOKEN"],
            "no credential in the Job"
        );
        assert_eq!(
            c["resources"]["requests"],
            json!({"cpu": "500m", "memory": "1024Mi"})
        );
        assert_eq!(c["resources"]["limits"], c["resources"]["requests"]);
        assert_eq!(c["securityContext"]["runAsNonRoot"], true);
        // Names stay within Kubernetes' 63-character limit.
        assert!(m["metadata"]["name"].as_str().unwrap().len() <= 63);
    }
}
