//! The Kubernetes launcher against a local HTTP listener playing the API server: it
//! records every request and answers like the API server (201 with the stored object,
//! 404/409 as `Status` objects, lists filtered by label selector, merge patches).

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
            objects.insert(key, object.clone());
            actix_web::HttpResponse::Created().json(object)
        }
        ("GET", None) => {
            let selector = url_param(req.query_string(), "labelSelector");
            let items: Vec<Value> = objects
                .iter()
                .filter(|((c, _), o)| *c == collection && matches_selector(o, &selector))
                .map(|(_, o)| o.clone())
                .collect();
            actix_web::HttpResponse::Ok()
                .json(json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "7"}, "items": items}))
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
        json!({"requests": {"cpu": "500m", "memory": "1024Mi"}, "limits": {"cpu": "500m", "memory": "1024Mi"}})
    );
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
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
    *server.refuse_jobs.lock().unwrap() = true;
    let run = RunId::new();
    let error = launcher.launch(spec(run)).await.unwrap_err().to_string();
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
    let error = launcher.launch(spec(run)).await.unwrap_err().to_string();
    assert!(error.contains("AlreadyExists"), "{error}");
    let jobs = server
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/jobs"))
        .count();
    assert_eq!(jobs, 2, "the second launch stopped at its Secret: {jobs}");
    assert_eq!(
        server
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|(c, _)| c.ends_with("/jobs"))
            .count(),
        1
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
