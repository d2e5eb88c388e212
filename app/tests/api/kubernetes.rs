//! The Kubernetes launcher against a local HTTP listener playing the API server: it
//! records every request and answers like the API server (201 with the stored object,
//! 404/409 as `Status` objects, lists filtered by label and field selector, metadata-only
//! lists, merge patches, a Secret's `stringData` stored as `data`). It also plays the Job
//! controller in a namespace labelled `pod-security.kubernetes.io/enforce: restricted`:
//! Pod Security admission enforces on pods, not on the Jobs that template them, so a Job is
//! accepted and its pod is created when the template meets the "restricted" profile, and
//! otherwise refused, which the Job controller records as a `FailedCreate` event with the
//! API server's message (`restricted_violations`, after the Pod Security Standards'
//! checks).

use hakobu::launcher::kubernetes::{
    KubernetesLauncher, KubernetesSettings, RUN_ID_LABEL, TOKEN_KEY,
};
use hakobu::launcher::{ActiveTask, LaunchSpec, Launcher, TaskState};
use hakobu_core::ids::RunId;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    query: String,
    content_type: String,
    accept: String,
    authorization: String,
    body: Value,
}

/// The fake API server's state: requests in order, objects by collection path and name.
#[derive(Default)]
struct FakeApiServer {
    requests: Mutex<Vec<Recorded>>,
    objects: Mutex<BTreeMap<(String, String), Value>>,
    /// Answer 403 to Job creation (an app service account without the RBAC role).
    refuse_jobs: Mutex<bool>,
    /// Answer 500 to Job creation (an API server failing for a while; 429, 503 and 504
    /// the Kubernetes client already tries again itself, with a backoff of minutes).
    throttle_jobs: Mutex<bool>,
}

fn status(code: u16, reason: &str, message: &str) -> actix_web::HttpResponse {
    actix_web::HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap()).json(
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

/// `a=b,c=d` against an object's labels.
fn matches_selector(object: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (key, value) = term.split_once('=').unwrap();
        object["metadata"]["labels"][key] == value
    })
}

/// `involvedObject.name=x,metadata.name=y` against an object's fields.
fn matches_fields(object: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (path, value) = term.split_once('=').unwrap();
        path.split('.').fold(object, |o, key| &o[key]) == value
    })
}

/// What Pod Security admission finds wrong with a pod under the "restricted" profile
/// (https://kubernetes.io/docs/concepts/security/pod-security-standards/), each in the
/// API server's words; empty when it admits the pod.
fn restricted_violations(pod: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let pod_sc = &pod["securityContext"];
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        if pod[host] == true {
            found.push(format!("host namespaces ({host}=true)"));
        }
    }
    let containers: Vec<&Value> = ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .filter_map(|k| pod[*k].as_array())
        .flatten()
        .collect();
    let named = |pick: &dyn Fn(&Value) -> bool| -> Vec<String> {
        containers
            .iter()
            .filter(|c| pick(c))
            .map(|c| format!("\"{}\"", c["name"].as_str().unwrap_or_default()))
            .collect()
    };
    let plural = |names: &[String]| {
        if names.len() == 1 {
            "container"
        } else {
            "containers"
        }
    };
    let privileged = named(&|c| c["securityContext"]["privileged"] == true);
    if !privileged.is_empty() {
        found.push(format!(
            "privileged ({} {} must not set securityContext.privileged=true)",
            plural(&privileged),
            privileged.join(", ")
        ));
    }
    let allowed = [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ];
    for volume in pod["volumes"].as_array().into_iter().flatten() {
        let object = volume.as_object().unwrap();
        if let Some(kind) = object
            .keys()
            .find(|k| *k != "name" && !allowed.contains(&k.as_str()))
        {
            found.push(format!(
                "restricted volume types (volume \"{}\" uses restricted volume type \"{kind}\")",
                volume["name"].as_str().unwrap_or_default()
            ));
        }
    }
    let escalating = named(&|c| c["securityContext"]["allowPrivilegeEscalation"] != false);
    if !escalating.is_empty() {
        found.push(format!(
            "allowPrivilegeEscalation != false ({} {} must set securityContext.allowPrivilegeEscalation=false)",
            plural(&escalating),
            escalating.join(", ")
        ));
    }
    let undropped = named(&|c| {
        !c["securityContext"]["capabilities"]["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "ALL"))
    });
    if !undropped.is_empty() {
        found.push(format!(
            "unrestricted capabilities ({} {} must set securityContext.capabilities.drop=[\"ALL\"])",
            plural(&undropped),
            undropped.join(", ")
        ));
    }
    let adding = named(&|c| {
        c["securityContext"]["capabilities"]["add"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x != "NET_BIND_SERVICE"))
    });
    if !adding.is_empty() {
        found.push(format!(
            "unrestricted capabilities ({} {} must not add capabilities other than NET_BIND_SERVICE)",
            plural(&adding),
            adding.join(", ")
        ));
    }
    // A container's own setting wins over the pod's.
    let effective = |c: &Value, field: &str| -> Value {
        match &c["securityContext"][field] {
            Value::Null => pod_sc[field].clone(),
            own => own.clone(),
        }
    };
    let maybe_root = named(&|c| effective(c, "runAsNonRoot") != true);
    if !maybe_root.is_empty() {
        found.push(format!(
            "runAsNonRoot != true (pod or {} {} must set securityContext.runAsNonRoot=true)",
            plural(&maybe_root),
            maybe_root.join(", ")
        ));
    }
    if pod_sc["runAsUser"] == 0
        || containers
            .iter()
            .any(|c| c["securityContext"]["runAsUser"] == 0)
    {
        found.push("runAsUser=0 (pod and containers must not set runAsUser=0)".to_owned());
    }
    let unconfined = named(&|c| {
        !matches!(
            effective(c, "seccompProfile")["type"].as_str(),
            Some("RuntimeDefault" | "Localhost")
        )
    });
    if !unconfined.is_empty() {
        found.push(format!(
            "seccompProfile (pod or {} {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
            plural(&unconfined),
            unconfined.join(", ")
        ));
    }
    found
}

/// The API server's answer to a pod that violates the namespace's profile.
fn pod_forbidden(pod_name: &str, violations: &[String]) -> String {
    format!(
        "pods \"{pod_name}\" is forbidden: violates PodSecurity \"restricted:latest\": {}",
        violations.join(", ")
    )
}

/// A Secret as the API server stores it: `stringData` written into `data`, base64.
fn store_string_data(secret: &mut Value) {
    use base64::Engine;
    if let Some(Value::Object(plain)) = secret.as_object_mut().unwrap().remove("stringData") {
        for (key, value) in plain {
            let encoded = base64::engine::general_purpose::STANDARD.encode(value.as_str().unwrap());
            secret["data"][key] = json!(encoded);
        }
    }
}

/// The token a Secret in the fake holds.
fn stored_token(secret: &Value) -> String {
    use base64::Engine;
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(secret["data"][TOKEN_KEY].as_str().unwrap())
            .unwrap(),
    )
    .unwrap()
}

const JOBS: &str = "apis/batch/v1/namespaces/transfers/jobs";
const SECRETS: &str = "api/v1/namespaces/transfers/secrets";
const PODS: &str = "api/v1/namespaces/transfers/pods";
const EVENTS: &str = "api/v1/namespaces/transfers/events";

/// What the Job controller does with a new Job: one pod from its template, or, when Pod
/// Security admission refuses that pod, a `FailedCreate` event on the Job.
fn run_job_controller(objects: &mut BTreeMap<(String, String), Value>, job: &Value) {
    let name = job["metadata"]["name"].as_str().unwrap();
    let pod_name = format!("{name}-x7k2p");
    let template = &job["spec"]["template"];
    let violations = restricted_violations(&template["spec"]);
    if violations.is_empty() {
        objects.insert(
            (PODS.to_owned(), pod_name.clone()),
            json!({"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": pod_name, "labels": template["metadata"]["labels"]},
                   "spec": template["spec"],
                   "status": {"phase": "Pending", "containerStatuses": [{
                       "name": "runner", "image": template["spec"]["containers"][0]["image"], "imageID": "",
                       "ready": false, "restartCount": 0,
                       "state": {"waiting": {"reason": "ContainerCreating"}}}]}}),
        );
    } else {
        let event = format!("{name}.187a0c1e2f3d4b5a");
        objects.insert(
            (EVENTS.to_owned(), event.clone()),
            json!({"apiVersion": "v1", "kind": "Event",
                   "metadata": {"name": event},
                   "involvedObject": {"kind": "Job", "name": name, "apiVersion": "batch/v1"},
                   "reason": "FailedCreate", "type": "Warning",
                   "lastTimestamp": "2026-11-22T03:00:01Z",
                   "message": format!("Error creating: {}", pod_forbidden(&pod_name, &violations))}),
        );
    }
}

fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

async fn api(
    req: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
    server: actix_web::web::Data<FakeApiServer>,
) -> actix_web::HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    server.requests.lock().unwrap().push(Recorded {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        content_type: header("content-type"),
        accept: header("accept"),
        authorization: header("authorization"),
        body: body.clone(),
    });
    // /api/v1/namespaces/{ns}/{plural}[/{name}] or /apis/{group}/{version}/namespaces/...
    let segments: Vec<&str> = req.path().trim_matches('/').split('/').collect();
    let at = segments.iter().position(|s| *s == "namespaces").unwrap();
    let collection = segments[..at + 3].join("/");
    let name = segments.get(at + 3).map(|s| s.to_string());
    let mut objects = server.objects.lock().unwrap();
    match (req.method().as_str(), name) {
        ("POST", None) => {
            if collection.ends_with("/jobs") && *server.throttle_jobs.lock().unwrap() {
                return status(
                    429,
                    "TooManyRequests",
                    "Too many requests, please try again later.",
                );
            }
            if collection.ends_with("/jobs") && *server.refuse_jobs.lock().unwrap() {
                return status(
                    403,
                    "Forbidden",
                    "jobs.batch is forbidden: User \"system:serviceaccount:hakobu:hakobu\" cannot create resource \"jobs\"",
                );
            }
            let name = body["metadata"]["name"].as_str().unwrap().to_owned();
            let key = (collection, name.clone());
            if objects.contains_key(&key) {
                return status(409, "AlreadyExists", &format!("\"{name}\" already exists"));
            }
            let mut object = body;
            object["metadata"]["uid"] = json!(uuid::Uuid::new_v4().to_string());
            object["metadata"]["resourceVersion"] = json!("1");
            object["metadata"]["creationTimestamp"] = json!("2026-11-22T03:00:00Z");
            if object["kind"] == "Secret" {
                store_string_data(&mut object);
            }
            objects.insert(key, object.clone());
            if object["kind"] == "Job" {
                run_job_controller(&mut objects, &object);
            }
            actix_web::HttpResponse::Created().json(object)
        }
        ("GET", None) => {
            let selector = url_param(req.query_string(), "labelSelector");
            let fields = url_param(req.query_string(), "fieldSelector");
            let metadata_only = header("accept").contains("as=PartialObjectMetadataList");
            let items: Vec<Value> = objects
                .iter()
                .filter(|((c, _), o)| {
                    *c == collection && matches_selector(o, &selector) && matches_fields(o, &fields)
                })
                .map(|(_, o)| {
                    if metadata_only {
                        json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": o["metadata"]})
                    } else {
                        o.clone()
                    }
                })
                .collect();
            let (kind, api_version) = if metadata_only {
                ("PartialObjectMetadataList", "meta.k8s.io/v1")
            } else {
                ("List", "v1")
            };
            actix_web::HttpResponse::Ok()
                .json(json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": "7"}, "items": items}))
        }
        (method, Some(name)) => {
            let key = (collection, name.clone());
            let Some(object) = objects.get_mut(&key) else {
                return status(404, "NotFound", &format!("\"{name}\" not found"));
            };
            match method {
                "GET" => actix_web::HttpResponse::Ok().json(object.clone()),
                "PATCH" => {
                    merge_patch(object, &body);
                    if object["kind"] == "Secret" {
                        store_string_data(object);
                    }
                    actix_web::HttpResponse::Ok().json(object.clone())
                }
                "DELETE" => {
                    let gone = objects.remove(&key).unwrap();
                    actix_web::HttpResponse::Ok().json(gone)
                }
                _ => status(405, "MethodNotAllowed", method),
            }
        }
        (method, None) => status(405, "MethodNotAllowed", method),
    }
}

fn url_param(query: &str, name: &str) -> String {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| {
            v.replace("%3D", "=")
                .replace("%2F", "/")
                .replace("%2C", ",")
                .replace('+', " ")
        })
        .unwrap_or_default()
}

/// Starts the fake API server; answers its state and a kubeconfig file pointing at it.
async fn fake_cluster() -> (actix_web::web::Data<FakeApiServer>, std::path::PathBuf) {
    let server = actix_web::web::Data::new(FakeApiServer::default());
    let state = server.clone();
    let http = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(state.clone())
            .default_service(actix_web::web::to(api))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = http.addrs()[0].port();
    tokio::spawn(http.run());
    let kubeconfig = std::env::temp_dir().join(format!(
        "hakobu-kubeconfig-{}.yaml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1
kind: Config
clusters:
  - name: fake
    cluster:
      server: http://127.0.0.1:{port}
users:
  - name: hakobu
    user:
      token: app-service-account-token
contexts:
  - name: fake
    context:
      cluster: fake
      user: hakobu
      namespace: transfers
current-context: fake
"
        ),
    )
    .unwrap();
    (server, kubeconfig)
}

fn settings(kubeconfig: &std::path::Path) -> KubernetesSettings {
    KubernetesSettings {
        namespace: None,
        image: "registry.example.com/hakobu-runner:0.1.0".to_owned(),
        service_account: "hakobu-runner".to_owned(),
        kubeconfig: Some(kubeconfig.to_owned()),
        tmp_size_mb: 2048,
    }
}

fn spec(run: RunId) -> LaunchSpec {
    LaunchSpec {
        run_id: run,
        app_url: "https://hakobu.example.com".to_owned(),
        run_token: "launch-token-for-this-run".to_owned(),
        cpu: 0.5,
        memory_mb: 1024,
        timeout: Duration::from_secs(600),
    }
}

/// Writes a Job's status, as the Job controller would.
fn set_job_status(server: &FakeApiServer, name: &str, status: Value) {
    server
        .objects
        .lock()
        .unwrap()
        .get_mut(&(
            "apis/batch/v1/namespaces/transfers/jobs".to_owned(),
            name.to_owned(),
        ))
        .expect("the Job exists")["status"] = status;
}

fn job_path(name: &str) -> String {
    format!("/apis/batch/v1/namespaces/transfers/jobs/{name}")
}

#[tokio::test]
async fn a_run_becomes_a_job_submitted_watched_and_deleted_through_the_api() {
    let (server, kubeconfig) = fake_cluster().await;
    let launcher = KubernetesLauncher::new(settings(&kubeconfig))
        .await
        .unwrap();
    assert_eq!(
        launcher.namespace(),
        "transfers",
        "the kubeconfig context's namespace"
    );
    let run = RunId::new();
    let name = format!("hakobu-run-{run}");
    assert_eq!(launcher.launch(spec(run)).await.unwrap(), name);

    let requests = server.requests.lock().unwrap().clone();
    let calls: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str()))
        .collect();
    let secret_path = format!("/api/v1/namespaces/transfers/secrets/{name}");
    assert_eq!(
        calls,
        [
            ("POST", "/api/v1/namespaces/transfers/secrets"),
            ("POST", "/apis/batch/v1/namespaces/transfers/jobs"),
            ("PATCH", secret_path.as_str()),
        ]
    );
    assert!(
        requests
            .iter()
            .all(|r| r.authorization == "Bearer app-service-account-token"),
        "the app's own credential from the kubeconfig"
    );

    let secret = &requests[0].body;
    assert_eq!(secret["metadata"]["name"], name.as_str());
    assert_eq!(secret["metadata"]["labels"][RUN_ID_LABEL], run.to_string());
    assert_eq!(secret["stringData"][TOKEN_KEY], "launch-token-for-this-run");

    let job = &requests[1].body;
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["metadata"]["name"], name.as_str());
    assert_eq!(job["metadata"]["namespace"], "transfers");
    assert_eq!(job["metadata"]["labels"][RUN_ID_LABEL], run.to_string());
    assert_eq!(
        job["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "hakobu"
    );
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 600);
    assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 3600);
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"][RUN_ID_LABEL],
        run.to_string()
    );
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    assert_eq!(pod["serviceAccountName"], "hakobu-runner");
    assert_eq!(pod["automountServiceAccountToken"], false);
    let container = &pod["containers"][0];
    assert_eq!(container["name"], "runner");
    assert_eq!(
        container["image"],
        "registry.example.com/hakobu-runner:0.1.0"
    );
    assert_eq!(container["args"], json!(["managed"]));
    assert_eq!(
        container["env"],
        json!([
            {"name": "HAKOBU_APP_URL", "value": "https://hakobu.example.com"},
            {"name": "HAKOBU_RUN_ID", "value": run.to_string()},
            {"name": "HAKOBU_RUN_TOKEN", "valueFrom": {"secretKeyRef": {"name": name, "key": "run-token"}}},
        ])
    );
    assert_eq!(
        container["resources"],
        json!({"requests": {"cpu": "500m", "memory": "1024Mi", "ephemeral-storage": "2176Mi"},
               "limits": {"cpu": "500m", "memory": "1024Mi", "ephemeral-storage": "2176Mi"}})
    );
    assert_eq!(
        container["securityContext"],
        json!({"runAsNonRoot": true, "allowPrivilegeEscalation": false,
               "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}})
    );
    assert_eq!(
        pod["securityContext"],
        json!({"runAsNonRoot": true, "runAsUser": 10001, "runAsGroup": 10001,
               "seccompProfile": {"type": "RuntimeDefault"}})
    );
    // The read-only root filesystem's one writable place: the temp dir, bounded.
    assert_eq!(
        pod["volumes"],
        json!([{"name": "tmp", "emptyDir": {"sizeLimit": "2048Mi"}}])
    );
    assert_eq!(
        container["volumeMounts"],
        json!([{"name": "tmp", "mountPath": "/tmp"}])
    );
    // The namespace enforces the "restricted" profile: the pod was admitted.
    assert!(
        server
            .objects
            .lock()
            .unwrap()
            .contains_key(&(PODS.to_owned(), format!("{name}-x7k2p"))),
        "the Job controller's pod was admitted"
    );
    assert!(
        !server
            .objects
            .lock()
            .unwrap()
            .keys()
            .any(|(c, _)| c == EVENTS),
        "no FailedCreate"
    );
    assert!(
        !job.to_string().contains("launch-token-for-this-run"),
        "no credential in the Job"
    );

    let owner = &requests[2];
    assert_eq!(owner.content_type, "application/merge-patch+json");
    let job_uid = server.objects.lock().unwrap()[&(
        "apis/batch/v1/namespaces/transfers/jobs".to_owned(),
        name.clone(),
    )]["metadata"]["uid"]
        .clone();
    assert_eq!(
        owner.body["metadata"]["ownerReferences"],
        json!([{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": job_uid}]),
        "the Job owns the Secret, so Kubernetes deletes them together"
    );

    // State from the Job's status.
    let set_status = |status: Value| {
        set_job_status(&server, &name, status);
    };
    assert_eq!(launcher.state(&name).await.unwrap(), TaskState::Starting);
    set_status(json!({"active": 1, "ready": 0}));
    assert_eq!(launcher.state(&name).await.unwrap(), TaskState::Starting);
    set_status(json!({"active": 1, "ready": 1}));
    assert_eq!(launcher.state(&name).await.unwrap(), TaskState::Running);
    assert_eq!(
        launcher.list_active().await.unwrap(),
        [ActiveTask {
            task_id: name.clone(),
            run_id: Some(run)
        }]
    );
    let listed = server.requests.lock().unwrap().last().unwrap().clone();
    assert_eq!(listed.path, "/apis/batch/v1/namespaces/transfers/jobs");
    assert_eq!(
        url_param(&listed.query, "labelSelector"),
        "app.kubernetes.io/managed-by=hakobu"
    );

    // Failed: the Job's condition and the pod's termination.
    set_status(json!({"failed": 1, "conditions": [
        {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"},
    ]}));
    server.objects.lock().unwrap().insert(
        (
            "api/v1/namespaces/transfers/pods".to_owned(),
            format!("{name}-x7k2p"),
        ),
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": format!("{name}-x7k2p"), "labels": {RUN_ID_LABEL: run.to_string()}},
               "status": {"phase": "Failed", "containerStatuses": [{
                   "name": "runner", "image": "registry.example.com/hakobu-runner:0.1.0", "imageID": "", "ready": false, "restartCount": 0,
                   "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}}),
    );
    assert_eq!(
        launcher.state(&name).await.unwrap(),
        TaskState::Stopped {
            exit_code: Some(137),
            reason: Some(
                "BackoffLimitExceeded: Job has reached the specified backoff limit (container: OOMKilled)"
                    .to_owned()
            ),
        }
    );
    assert_eq!(
        launcher.list_active().await.unwrap(),
        [],
        "a finished Job is not active"
    );

    // Stop: delete the Job (pods go in the background) and its Secret.
    let before = server.requests.lock().unwrap().len();
    launcher.stop(&name).await.unwrap();
    let deletes: Vec<Recorded> = server.requests.lock().unwrap()[before..].to_vec();
    assert_eq!(deletes[0].method, "DELETE");
    assert_eq!(deletes[0].path, job_path(&name));
    assert_eq!(deletes[0].body["propagationPolicy"], "Background");
    assert_eq!(deletes[1].method, "DELETE");
    assert_eq!(deletes[1].path, secret_path);
    assert_eq!(launcher.state(&name).await.unwrap(), TaskState::Missing);
    launcher
        .stop(&name)
        .await
        .expect("stopping a Job that is gone is no error");
}

#[tokio::test]
async fn a_refused_job_leaves_no_secret_and_a_run_is_submitted_once() {
    let (server, kubeconfig) = fake_cluster().await;
    let launcher = KubernetesLauncher::new(KubernetesSettings {
        namespace: Some("transfers".to_owned()),
        ..settings(&kubeconfig)
    })
    .await
    .unwrap();
    // The API server failing: temporary, the dispatcher queues the run again.
    *server.throttle_jobs.lock().unwrap() = true;
    let run = RunId::new();
    let throttled = launcher.launch(spec(run)).await.unwrap_err();
    assert!(
        hakobu::launcher::TemporaryLaunchError::is_in(&throttled),
        "{throttled:#}"
    );
    *server.throttle_jobs.lock().unwrap() = false;
    let job_posts = |server: &FakeApiServer| {
        server
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/jobs"))
            .count()
    };
    let throttled_posts = job_posts(&server);
    assert!(throttled_posts >= 1);
    // Forbidden: for good, the run fails.
    *server.refuse_jobs.lock().unwrap() = true;
    let refused = launcher.launch(spec(run)).await.unwrap_err();
    assert!(!hakobu::launcher::TemporaryLaunchError::is_in(&refused));
    let error = refused.to_string();
    assert!(
        error.contains("creating the run's Job") && error.contains("forbidden"),
        "{error}"
    );
    assert!(
        server.objects.lock().unwrap().is_empty(),
        "the Secret was deleted again"
    );
    assert!(
        !error.contains("launch-token-for-this-run"),
        "no token in errors"
    );

    *server.refuse_jobs.lock().unwrap() = false;
    launcher.launch(spec(run)).await.unwrap();
    // A second launch of the same run while its Job exists leaves both as they are.
    let again = LaunchSpec {
        run_token: "a-later-token".to_owned(),
        ..spec(run)
    };
    let error = launcher.launch(again).await.unwrap_err().to_string();
    assert!(error.contains("already exists"), "{error}");
    let jobs = job_posts(&server) - throttled_posts;
    assert_eq!(jobs, 2, "the second launch stopped at its Secret: {jobs}");
    let objects = server.objects.lock().unwrap();
    assert_eq!(objects.keys().filter(|(c, _)| c == JOBS).count(), 1);
    let name = format!("hakobu-run-{run}");
    assert_eq!(
        stored_token(&objects[&(SECRETS.to_owned(), name)]),
        "launch-token-for-this-run",
        "the existing pod's token stays"
    );
}

/// A launch the app lost (it stopped after creating the Secret) is queued again by the
/// reconciler; the next launch of that run finds the Secret and reuses it with its own
/// token, instead of failing with AlreadyExists.
#[tokio::test]
async fn a_requeued_launch_reuses_the_secret_a_lost_launch_left() {
    let (server, kubeconfig) = fake_cluster().await;
    let launcher = KubernetesLauncher::new(settings(&kubeconfig))
        .await
        .unwrap();
    let run = RunId::new();
    let name = format!("hakobu-run-{run}");
    // What the lost launch left: its Secret, owned by a Job that never was or is gone.
    let mut left = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": "transfers", "uid": "0d1e",
                     "labels": {RUN_ID_LABEL: run.to_string(), "app.kubernetes.io/managed-by": "hakobu"},
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": "gone"}]},
        "stringData": {TOKEN_KEY: "the-lost-launch-token"}});
    store_string_data(&mut left);
    server
        .objects
        .lock()
        .unwrap()
        .insert((SECRETS.to_owned(), name.clone()), left);

    assert_eq!(launcher.launch(spec(run)).await.unwrap(), name);
    let objects = server.objects.lock().unwrap().clone();
    let secret = &objects[&(SECRETS.to_owned(), name.clone())];
    assert_eq!(stored_token(secret), "launch-token-for-this-run");
    let job_uid = &objects[&(JOBS.to_owned(), name.clone())]["metadata"]["uid"];
    assert_eq!(
        secret["metadata"]["ownerReferences"],
        json!([{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": job_uid}]),
        "owned by the new Job only"
    );
    let calls: Vec<(String, String)> = server
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    let secret_path = format!("/{SECRETS}/{name}");
    assert_eq!(
        calls,
        [
            ("POST".to_owned(), format!("/{SECRETS}")),
            ("GET".to_owned(), job_path(&name)),
            ("PATCH".to_owned(), secret_path.clone()),
            ("POST".to_owned(), format!("/{JOBS}")),
            ("PATCH".to_owned(), secret_path),
        ]
    );
}

/// The Job exists although its Secret did not (an earlier launch's Job whose Secret was
/// deleted, or two launches racing): the 409 leaves the Secret the Job's pod reads.
#[tokio::test]
async fn a_job_that_already_exists_keeps_the_secret_its_pod_needs() {
    let (server, kubeconfig) = fake_cluster().await;
    let launcher = KubernetesLauncher::new(settings(&kubeconfig))
        .await
        .unwrap();
    let run = RunId::new();
    let name = format!("hakobu-run-{run}");
    launcher.launch(spec(run)).await.unwrap();
    server
        .objects
        .lock()
        .unwrap()
        .remove(&(SECRETS.to_owned(), name.clone()));

    let error = launcher.launch(spec(run)).await.unwrap_err().to_string();
    assert!(
        error.contains("creating the run's Job") && error.contains("AlreadyExists"),
        "{error}"
    );
    let objects = server.objects.lock().unwrap();
    assert_eq!(
        stored_token(&objects[&(SECRETS.to_owned(), name.clone())]),
        "launch-token-for-this-run",
        "the Secret stays for the Job's pod"
    );
    assert!(
        !server
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.method == "DELETE"),
        "nothing deleted"
    );
}

/// The launcher behind the app: a queued run becomes a Job, and the sweeper deletes the
/// Job of a run that has finished.
#[tokio::test]
async fn the_dispatcher_submits_jobs_and_the_sweeper_deletes_jobs_of_finished_runs() {
    let (server, kubeconfig) = fake_cluster().await;
    let launcher = Arc::new(
        KubernetesLauncher::new(settings(&kubeconfig))
            .await
            .unwrap(),
    );
    let app = crate::helpers::spawn_app_with(crate::helpers::SpawnOptions {
        dispatcher: true,
        launcher: Some(launcher.clone()),
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let job = crate::runs::job(&app, &owner, json!({})).await;
    let (status, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{run}");
    let id = run["id"].as_str().unwrap().to_owned();
    let name = format!("hakobu-run-{id}");
    let mut seen = Value::Null;
    for _ in 0..100 {
        let (_, now) = app.get(&format!("/api/runs/{id}"), &owner.token).await;
        if now["task_id"] == name.as_str() {
            seen = now;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen["launcher"], "kubernetes", "{seen}");
    assert_eq!(seen["status"], "starting", "{seen}");
    assert_eq!(
        seen["runner_image"],
        "registry.example.com/hakobu-runner:0.1.0"
    );
    let token = server
        .requests
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/secrets"))
        .map(|r| r.body["stringData"][TOKEN_KEY].as_str().unwrap().to_owned())
        .unwrap();
    assert!(
        !crate::helpers::captured_logs().contains(&token),
        "the launch token is in no log line"
    );

    // The run finished a while ago but its Job still runs: the sweeper deletes it.
    app.sql(&format!(
        "UPDATE runs SET status = 'succeeded', finished_at = now() - interval '5 minutes' WHERE id = '{id}'"
    ))
    .await;
    set_job_status(&server, &name, json!({"active": 1, "ready": 1}));
    let watchdog = hakobu::runs::watchdog::Watchdog {
        pool: hakobu::db::build_pool(
            &format!("{}/{}", crate::helpers::server_url(), app.db_name),
            2,
        )
        .unwrap(),
        launcher: launcher.clone(),
        heartbeat_timeout: Duration::from_secs(60),
        start_timeout: Duration::from_secs(600),
        log_retention: Duration::from_secs(86_400),
    };
    let done = watchdog.reconcile_once().await.unwrap();
    assert_eq!(done.stopped, 1, "{done:?}");
    let deleted = server
        .requests
        .lock()
        .unwrap()
        .iter()
        .any(|r| r.method == "DELETE" && r.path == job_path(&name));
    assert!(deleted);
    assert_eq!(launcher.state(&name).await.unwrap(), TaskState::Missing);
}

/// The fake's Pod Security check is the one the tests lean on: it admits the launcher's
/// pod, and refuses it, naming the field, as soon as any field the "restricted" profile
/// requires is dropped.
#[test]
fn the_restricted_profile_refuses_the_runner_pod_without_each_required_field() {
    let run = RunId::new();
    let settings = KubernetesSettings {
        namespace: None,
        image: "runner:1".to_owned(),
        service_account: "hakobu-runner".to_owned(),
        kubeconfig: None,
        tmp_size_mb: 2048,
    };
    let job = hakobu::launcher::kubernetes::job_manifest(&spec(run), &settings, "transfers");
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(restricted_violations(pod), Vec::<String>::new());

    let without = |path: &[&str]| {
        let mut pod = pod.clone();
        let (last, parents) = path.split_last().unwrap();
        let parent = parents.iter().fold(&mut pod, |o, k| {
            if let Ok(i) = k.parse::<usize>() {
                &mut o[i]
            } else {
                &mut o[*k]
            }
        });
        assert!(
            parent.as_object_mut().unwrap().remove(*last).is_some(),
            "{path:?} is in the manifest"
        );
        restricted_violations(&pod).join(", ")
    };
    let cases: [(&[&str], &str); 4] = [
        (
            &["securityContext", "seccompProfile"],
            "seccompProfile (pod or container \"runner\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
        ),
        (
            &[
                "containers",
                "0",
                "securityContext",
                "allowPrivilegeEscalation",
            ],
            "allowPrivilegeEscalation != false (container \"runner\" must set securityContext.allowPrivilegeEscalation=false)",
        ),
        (
            &["containers", "0", "securityContext", "capabilities"],
            "unrestricted capabilities (container \"runner\" must set securityContext.capabilities.drop=[\"ALL\"])",
        ),
        (
            &["containers", "0", "securityContext"],
            "allowPrivilegeEscalation != false (container \"runner\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"runner\" must set securityContext.capabilities.drop=[\"ALL\"])",
        ),
    ];
    for (path, expected) in cases {
        assert_eq!(without(path), expected, "without {path:?}");
    }
    // runAsNonRoot is required of the pod or of every container: dropping one of the two
    // is admitted, dropping both is not.
    assert_eq!(without(&["securityContext", "runAsNonRoot"]), "");
    let mut pod_without_non_root = pod.clone();
    pod_without_non_root["securityContext"]
        .as_object_mut()
        .unwrap()
        .remove("runAsNonRoot");
    pod_without_non_root["containers"][0]["securityContext"]
        .as_object_mut()
        .unwrap()
        .remove("runAsNonRoot");
    assert_eq!(
        restricted_violations(&pod_without_non_root),
        [
            "runAsNonRoot != true (pod or container \"runner\" must set securityContext.runAsNonRoot=true)"
        ]
    );
    let mut host_path = pod.clone();
    host_path["volumes"][0] = json!({"name": "tmp", "hostPath": {"path": "/tmp"}});
    assert_eq!(
        restricted_violations(&host_path),
        ["restricted volume types (volume \"tmp\" uses restricted volume type \"hostPath\")"]
    );
}

/// Puts the runner container of the run's pod in a state, as the kubelet would.
fn set_pod_status(server: &FakeApiServer, name: &str, status: Value) {
    server
        .objects
        .lock()
        .unwrap()
        .get_mut(&(PODS.to_owned(), format!("{name}-x7k2p")))
        .expect("the Job controller created the pod")["status"] = status;
}

fn waiting(reason: &str, message: &str) -> Value {
    json!({"phase": "Pending", "containerStatuses": [{
        "name": "runner", "image": "registry.example.com/hakobu-runner:0.1.0", "imageID": "",
        "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": reason, "message": message}}}]})
}

#[tokio::test]
async fn a_pod_that_does_not_start_tells_why() {
    let (server, kubeconfig) = fake_cluster().await;
    let launcher = KubernetesLauncher::new(settings(&kubeconfig))
        .await
        .unwrap();
    let run = RunId::new();
    let name = launcher.launch(spec(run)).await.unwrap();
    assert_eq!(
        launcher.start_problem(&name).await.unwrap(),
        None,
        "a container being created is no problem yet"
    );
    for (reason, message) in [
        (
            "ErrImagePull",
            "rpc error: code = NotFound desc = failed to pull and unpack image \"registry.example.com/hakobu-runner:0.1.0\": not found",
        ),
        (
            "ImagePullBackOff",
            "Back-off pulling image \"registry.example.com/hakobu-runner:0.1.0\"",
        ),
        (
            "CreateContainerConfigError",
            "couldn't find key run-token in Secret transfers/hakobu-run-x",
        ),
    ] {
        set_pod_status(&server, &name, waiting(reason, message));
        assert_eq!(
            launcher.start_problem(&name).await.unwrap(),
            Some(format!("its container is waiting: {reason}: {message}")),
        );
        assert_eq!(
            launcher.state(&name).await.unwrap(),
            TaskState::Starting,
            "Kubernetes keeps trying; the start timeout decides"
        );
    }
    set_pod_status(
        &server,
        &name,
        json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
               "reason": "Unschedulable", "message": "0/3 nodes are available: 3 Insufficient memory."}]}),
    );
    assert_eq!(
        launcher.start_problem(&name).await.unwrap(),
        Some("its pod is not scheduled: Unschedulable: 0/3 nodes are available: 3 Insufficient memory.".to_owned())
    );
    let long = "x".repeat(2000);
    set_pod_status(&server, &name, waiting("ErrImagePull", &long));
    let bounded = launcher.start_problem(&name).await.unwrap().unwrap();
    assert!(bounded.len() < 400, "{}", bounded.len());
    assert_eq!(
        launcher.start_problem("hakobu-run-gone").await.unwrap(),
        None
    );
}

/// The Job is admitted but Pod Security admission refuses its pod (here, one without a
/// seccomp profile): no pod exists, and the Job controller's FailedCreate event says why.
#[tokio::test]
async fn a_pod_the_cluster_refused_to_create_tells_why() {
    let (server, kubeconfig) = fake_cluster().await;
    let launcher = KubernetesLauncher::new(settings(&kubeconfig))
        .await
        .unwrap();
    let run = RunId::new();
    let name = launcher.launch(spec(run)).await.unwrap();
    {
        let mut objects = server.objects.lock().unwrap();
        objects.remove(&(PODS.to_owned(), format!("{name}-x7k2p")));
        let mut job = objects[&(JOBS.to_owned(), name.clone())].clone();
        job["spec"]["template"]["spec"]["securityContext"]
            .as_object_mut()
            .unwrap()
            .remove("seccompProfile");
        run_job_controller(&mut objects, &job);
        // Another Job's event is not this one's.
        objects.insert(
            (EVENTS.to_owned(), "other".to_owned()),
            json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "other"},
                   "involvedObject": {"kind": "Job", "name": "hakobu-run-other"},
                   "reason": "FailedCreate", "message": "Error creating: not this one"}),
        );
    }
    let why = launcher.start_problem(&name).await.unwrap().unwrap();
    assert_eq!(
        why,
        format!(
            "its pod could not be created: Error creating: pods \"{name}-x7k2p\" is forbidden: violates PodSecurity \"restricted:latest\": seccompProfile (pod or container \"runner\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
        )
    );
    let listed = server
        .requests
        .lock()
        .unwrap()
        .iter()
        .rfind(|r| r.path == format!("/{EVENTS}"))
        .cloned()
        .unwrap();
    assert_eq!(
        url_param(&listed.query, "fieldSelector"),
        format!("involvedObject.kind=Job,involvedObject.name={name}")
    );
}

fn watchdog(
    app: &crate::helpers::TestApp,
    launcher: Arc<KubernetesLauncher>,
    start_timeout: Duration,
) -> hakobu::runs::watchdog::Watchdog {
    hakobu::runs::watchdog::Watchdog {
        pool: hakobu::db::build_pool(
            &format!("{}/{}", crate::helpers::server_url(), app.db_name),
            2,
        )
        .unwrap(),
        launcher,
        heartbeat_timeout: Duration::from_secs(60),
        start_timeout,
        log_retention: Duration::from_secs(86_400),
    }
}

/// A run whose pod cannot pull its image fails at the start timeout with the pod's
/// waiting reason in its message.
#[tokio::test]
async fn a_run_whose_image_cannot_be_pulled_fails_with_the_reason() {
    let (server, kubeconfig) = fake_cluster().await;
    let launcher = Arc::new(
        KubernetesLauncher::new(settings(&kubeconfig))
            .await
            .unwrap(),
    );
    let app = crate::helpers::spawn_app_with(crate::helpers::SpawnOptions {
        dispatcher: true,
        launcher: Some(launcher.clone()),
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let job = crate::runs::job(&app, &owner, json!({})).await;
    let (status, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{run}");
    let id = run["id"].as_str().unwrap().to_owned();
    let name = format!("hakobu-run-{id}");
    for _ in 0..100 {
        let (_, now) = app.get(&format!("/api/runs/{id}"), &owner.token).await;
        if now["task_id"] == name.as_str() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    set_pod_status(
        &server,
        &name,
        waiting(
            "ImagePullBackOff",
            "Back-off pulling image \"registry.example.com/hakobu-runner:0.1.0\"",
        ),
    );
    let ended = watchdog(&app, launcher.clone(), Duration::ZERO)
        .sweep_once()
        .await
        .unwrap();
    assert_eq!(ended, 1);
    let (_, run) = app.get(&format!("/api/runs/{id}"), &owner.token).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error_summary"].as_str().unwrap().starts_with(
            "The runner did not start within 0 s: its container is waiting: ImagePullBackOff: Back-off pulling image \"registry.example.com/hakobu-runner:0.1.0\"."
        ),
        "{run}"
    );
    assert!(
        server
            .requests
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.method == "DELETE" && r.path == job_path(&name)),
        "its Job was stopped"
    );
}

/// A run's Secret whose Job is gone is deleted once the run has finished; the Secret of
/// a run still queued (its next launch reuses it) and one naming a run this database does
/// not know (another installation's) stay. Secrets are listed as metadata only.
#[tokio::test]
async fn the_sweeper_deletes_secrets_left_without_their_job() {
    let (server, kubeconfig) = fake_cluster().await;
    let launcher = Arc::new(
        KubernetesLauncher::new(settings(&kubeconfig))
            .await
            .unwrap(),
    );
    let app = crate::helpers::spawn_app_with(crate::helpers::SpawnOptions {
        launcher: Some(launcher.clone()),
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let job = crate::runs::job(&app, &owner, json!({})).await;
    let mut runs = Vec::new();
    for _ in 0..3 {
        let (status, run) = app
            .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{run}");
        runs.push(run["id"].as_str().unwrap().to_owned());
    }
    let (finished, queued, with_job) = (&runs[0], &runs[1], &runs[2]);
    app.sql(&format!(
        "UPDATE runs SET status = 'failed', finished_at = now() - interval '5 minutes' WHERE id IN ('{finished}', '{with_job}')"
    ))
    .await;
    let unknown = RunId::new().to_string();
    {
        let mut objects = server.objects.lock().unwrap();
        for run in [finished, queued, with_job, &unknown] {
            let name = format!("hakobu-run-{run}");
            let mut secret = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name, "labels": {RUN_ID_LABEL: run, "app.kubernetes.io/managed-by": "hakobu"}},
                "stringData": {TOKEN_KEY: "left"}});
            store_string_data(&mut secret);
            objects.insert((SECRETS.to_owned(), name), secret);
        }
        // A finished Job still there (its TTL has not passed): its Secret goes with it.
        let name = format!("hakobu-run-{with_job}");
        objects.insert(
            (JOBS.to_owned(), name.clone()),
            json!({"apiVersion": "batch/v1", "kind": "Job",
                   "metadata": {"name": name, "labels": {RUN_ID_LABEL: with_job, "app.kubernetes.io/managed-by": "hakobu"}},
                   "status": {"conditions": [{"type": "Complete", "status": "True"}]}}),
        );
    }

    watchdog(&app, launcher.clone(), Duration::from_secs(600))
        .reconcile_once()
        .await
        .unwrap();
    let secrets: Vec<String> = server
        .objects
        .lock()
        .unwrap()
        .keys()
        .filter(|(c, _)| c == SECRETS)
        .map(|(_, n)| n.clone())
        .collect();
    let mut expected: Vec<String> = [queued, with_job, &unknown]
        .iter()
        .map(|r| format!("hakobu-run-{r}"))
        .collect();
    expected.sort();
    assert_eq!(secrets, expected);
    let requests = server.requests.lock().unwrap().clone();
    let secret_lists: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path == format!("/{SECRETS}"))
        .collect();
    assert!(!secret_lists.is_empty());
    for list in secret_lists {
        assert!(
            list.accept.contains("as=PartialObjectMetadataList"),
            "metadata only: {}",
            list.accept
        );
        assert_eq!(
            url_param(&list.query, "labelSelector"),
            "app.kubernetes.io/managed-by=hakobu"
        );
    }
    assert_eq!(
        requests.iter().filter(|r| r.method == "DELETE").count(),
        2,
        "the finished run's Job (already gone) and Secret"
    );
}
