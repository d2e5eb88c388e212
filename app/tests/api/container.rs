//! The container launcher against a real engine: `scripts/image.sh runner` builds the
//! runner image (installing podman when missing), and podman's Docker-compatible service
//! listens on a socket of this test process's own. Runners join the host's network, so they
//! reach the test app and PostgreSQL on 127.0.0.1. The tests skip, saying why, only when
//! podman cannot run at all on this machine.

use crate::helpers::{SpawnOptions, TestApp, spawn_app_with};
use crate::runs::{job, wait_final};
use hakobu::launcher::Launcher;
use hakobu::launcher::container::ContainerLauncher;
use hakobu::settings::ContainerSettings;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/hakobu-runner:latest";

/// The podman command every test and the script use (vfs storage: no overlay in this
/// sandbox; runc: crun fails on cgroups in hybrid mode).
fn podman() -> Command {
    let mut command = Command::new("podman");
    command.args(["--storage-driver", "vfs", "--runtime", "runc"]);
    command
}

/// The socket of the podman service this process started, or why there is none.
fn engine() -> Result<&'static Path, &'static str> {
    static ENGINE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ENGINE
        .get_or_init(start_engine)
        .as_deref()
        .map_err(String::as_str)
}

fn start_engine() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // Builds the image from this checkout (a no-op when nothing changed), installing
    // podman, runc and the musl toolchain when missing.
    let log = std::env::temp_dir().join(format!("hakobu-image-{}.log", std::process::id()));
    let mut child = Command::new(root.join("scripts/image.sh"))
        .arg("runner")
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("scripts/image.sh starts");
    // A cold build of the musl runner takes minutes; a stuck one must not hang the suite.
    let deadline = Instant::now() + Duration::from_secs(45 * 60);
    let built = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "scripts/image.sh runner did not finish in 45 minutes; see {}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let podman_runs = podman()
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !podman_runs {
        return Err(format!(
            "podman cannot run on this machine (scripts/image.sh: {})",
            output.lines().last().unwrap_or("")
        ));
    }
    assert!(built.success(), "scripts/image.sh runner failed:\n{output}");
    let dir = std::env::temp_dir().join(format!("hakobu-podman-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("podman.sock");
    let _ = std::fs::remove_file(&socket);
    // The service ends itself after two idle minutes, so it does not outlive the tests; a
    // thread reaps it then.
    let mut service = podman()
        .args(["system", "service", "--time", "120"])
        .arg(format!("unix://{}", socket.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start podman system service");
    std::thread::spawn(move || service.wait());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "podman system service did not create {}",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(socket)
}

/// A launcher on the test engine, or `None` (with the reason printed) when podman cannot run.
async fn launcher() -> Option<Arc<ContainerLauncher>> {
    let socket = match tokio::task::spawn_blocking(engine).await.unwrap() {
        Ok(socket) => socket,
        Err(reason) => {
            eprintln!("skipped: {reason}");
            return None;
        }
    };
    let settings = ContainerSettings {
        socket: socket.to_owned(),
        image: IMAGE.to_owned(),
        network: "host".to_owned(),
    };
    Some(Arc::new(
        ContainerLauncher::new(settings)
            .await
            .expect("the container launcher connects"),
    ))
}

fn container_exists(name: &str) -> bool {
    podman()
        .args(["container", "exists", name])
        .status()
        .unwrap()
        .success()
}

/// Waits until the container `name` no longer exists.
async fn wait_gone(name: &str, limit: Duration) {
    hakobu_testkit::wait_until(
        &format!("container {name} removed"),
        limit,
        Duration::from_millis(250),
        || async { (!container_exists(name)).then_some(()) },
    )
    .await
}

async fn app_with(launcher: Arc<ContainerLauncher>) -> TestApp {
    spawn_app_with(SpawnOptions {
        dispatcher: true,
        launcher: Some(launcher as Arc<dyn Launcher>),
        ..Default::default()
    })
    .await
}

/// A source that takes about 15 s to read: 3000 rows, 5 ms each.
const SLOW_SOURCE: &str = "CREATE TABLE src (id bigint PRIMARY KEY, name text);
     INSERT INTO src SELECT g, 'row ' || g FROM generate_series(1, 3000) g;
     CREATE VIEW src_slow AS SELECT id, name FROM src WHERE pg_sleep(0.005)::text = '';
     CREATE TABLE dst (id bigint PRIMARY KEY, name text);
     INSERT INTO dst VALUES (0, 'was here before');";

/// Polls the run until its runner reports (running, with a heartbeat) and its task is
/// recorded: on a busy machine the runner's first heartbeat can arrive before the
/// dispatcher has recorded the launcher's answer.
async fn wait_running(app: &TestApp, token: &str, run: &str) -> serde_json::Value {
    for _ in 0..600 {
        let (_, now) = app.get(&format!("/api/runs/{run}"), token).await;
        if now["status"] == "running" && !now["heartbeat_at"].is_null() && !now["task_id"].is_null()
        {
            return now;
        }
        assert!(
            !matches!(now["status"].as_str(), Some("failed" | "succeeded")),
            "{now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("run {run} did not start running in 30 s");
}

/// PostgreSQL -> PostgreSQL in a fresh container: rows, counts, the incremental state and
/// the log arrive as with a local runner; the container is removed afterwards.
#[tokio::test]
async fn a_transfer_runs_in_a_fresh_container_that_is_removed_after() {
    let Some(launcher) = launcher().await else {
        return;
    };
    let app = app_with(launcher.clone()).await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'ç');").await;
    let job = job(&app, &owner, json!({})).await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_written"], 3);
    assert_eq!(done["launcher"], "container");
    assert_eq!(done["runner_image"], IMAGE);
    let name = format!("hakobu-run-{id}");
    assert_eq!(done["task_id"], name.as_str());
    assert_eq!(
        app.query_strings("SELECT id, name FROM dst ORDER BY id")
            .await
            .into_iter()
            .map(|r| r[1].clone().unwrap())
            .collect::<Vec<_>>(),
        ["a", "b", "ç"]
    );
    let (_, logs) = app.get(&format!("/api/runs/{id}/logs"), &owner.token).await;
    assert!(logs.to_string().contains("3 written"), "{logs}");
    let (_, job_view) = app.get(&format!("/api/jobs/{job}"), &owner.token).await;
    assert_eq!(job_view["incremental_state"], json!({"last_record": [3]}));

    // Removed once it ended, its end still known to the launcher.
    wait_gone(&name, Duration::from_secs(30)).await;
    assert_eq!(
        launcher.state(&name).await.unwrap(),
        hakobu::launcher::TaskState::Stopped {
            exit_code: Some(0),
            reason: None
        }
    );
}

/// Cancelling a run mid-load: its runner rolls back, the destination is as it was, and
/// the container goes.
#[tokio::test]
async fn cancelling_a_run_mid_load_rolls_back_and_removes_its_container() {
    let Some(launcher) = launcher().await else {
        return;
    };
    let app = app_with(launcher).await;
    let owner = app.signup("Acme").await;
    app.sql(SLOW_SOURCE).await;
    let job = job(&app, &owner, json!({"source": {"connection_id": null, "table": {"name": "src_slow"}, "incremental": true, "incremental_columns": ["id"]}})).await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let running = wait_running(&app, &owner.token, &id).await;
    let name = running["task_id"].as_str().unwrap().to_owned();
    assert!(container_exists(&name), "{running}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (status, _) = app
        .post(&format!("/api/runs/{id}/cancel"), &owner.token, json!({}))
        .await;
    assert!(status.is_success(), "{status}");
    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert_eq!(
        app.query_strings("SELECT count(*) FROM dst").await[0][0].as_deref(),
        Some("1"),
        "only the row that was there before"
    );
    wait_gone(&name, Duration::from_secs(60)).await;
}

/// A container whose run already ended (here: marked failed behind its back) is found by
/// the reconciler through its labels and stopped; its run stays as it was.
#[tokio::test]
async fn the_reconciler_stops_a_container_whose_run_has_ended() {
    let Some(launcher) = launcher().await else {
        return;
    };
    let app = app_with(launcher.clone()).await;
    let owner = app.signup("Acme").await;
    app.sql(SLOW_SOURCE).await;
    let job = job(&app, &owner, json!({"source": {"connection_id": null, "table": {"name": "src_slow"}, "incremental": true, "incremental_columns": ["id"]}})).await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let running = wait_running(&app, &owner.token, &id).await;
    let name = running["task_id"].as_str().unwrap().to_owned();
    let listed = launcher.list_active().await.unwrap();
    assert!(
        listed
            .iter()
            .any(|t| t.task_id == name && t.run_id.map(|r| r.to_string()) == Some(id.clone())),
        "the running container is listed with its run: {listed:?}"
    );

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
    // Ended a minute ago (past the reconciler's grace for a runner on its way out). The
    // runner's next heartbeat would tell it to stop by itself; the reconciler comes first.
    app.sql(&format!(
        "UPDATE runs SET status = 'failed', finished_at = now() - interval '1 minute', error_summary = 'ended elsewhere' WHERE id = '{id}'"
    ))
    .await;
    let reconciled = watchdog.reconcile_once().await.unwrap();
    assert_eq!(reconciled.stopped, 1, "{reconciled:?}");
    wait_gone(&name, Duration::from_secs(60)).await;
    let (_, after) = app.get(&format!("/api/runs/{id}"), &owner.token).await;
    assert_eq!(after["status"], "failed");
    assert_eq!(after["error_summary"], "ended elsewhere");
    assert_eq!(
        app.query_strings("SELECT count(*) FROM dst").await[0][0].as_deref(),
        Some("1")
    );
    assert!(
        !launcher
            .list_active()
            .await
            .unwrap()
            .iter()
            .any(|t| t.task_id == name)
    );
}

/// Launch to `running` (the runner's first heartbeat), container against local process,
/// printed as a table (`cargo test ... -- --nocapture`). Both must get there.
#[tokio::test]
async fn launch_to_running_container_against_local() {
    let Some(container) = launcher().await else {
        return;
    };
    let mut rows = Vec::new();
    for (label, launcher) in [
        ("local", None),
        ("container", Some(container as Arc<dyn Launcher>)),
    ] {
        let app = spawn_app_with(SpawnOptions {
            dispatcher: true,
            launcher,
            ..Default::default()
        })
        .await;
        let owner = app.signup("Acme").await;
        app.sql(SLOW_SOURCE).await;
        let job = job(&app, &owner, json!({"overlap": "allow", "source": {"connection_id": null, "table": {"name": "src_slow"}, "incremental": true, "incremental_columns": ["id"]}})).await;
        let mut times = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let (_, run) = app
                .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
                .await;
            let id = run["id"].as_str().unwrap().to_owned();
            wait_running(&app, &owner.token, &id).await;
            times.push(started.elapsed());
            app.post(&format!("/api/runs/{id}/cancel"), &owner.token, json!({}))
                .await;
            wait_final(&app, &owner.token, &id).await;
        }
        times.sort();
        rows.push((label, times));
    }
    eprintln!("| launcher | launch -> running, min | median | max |");
    eprintln!("|---|---|---|---|");
    for (label, times) in &rows {
        eprintln!(
            "| {label} | {:.2} s | {:.2} s | {:.2} s |",
            times[0].as_secs_f64(),
            times[1].as_secs_f64(),
            times[2].as_secs_f64()
        );
    }
}

/// The runner image `make image` builds: under 25 MB, no shell, an unprivileged numeric
/// user, the CA bundle, and a runner that starts.
#[tokio::test]
async fn the_runner_image_is_small_shell_less_unprivileged_and_carries_the_ca_bundle() {
    if let Err(reason) = tokio::task::spawn_blocking(engine).await.unwrap() {
        eprintln!("skipped: {reason}");
        return;
    }
    let inspect = |format: &str| {
        let out = podman()
            .args(["image", "inspect", "--format", format, IMAGE])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let size: u64 = inspect("{{.Size}}").parse().unwrap();
    // 23.4 MB before SSH tunnels, 26.5 MB with russh and its key crates (before their
    // opt-level "s"); the bound catches the next dependency that doubles it.
    assert!(size < 28_000_000, "the runner image is {size} bytes");
    assert_eq!(inspect("{{.Config.User}}"), "10001:10001");
    assert_eq!(
        inspect("{{json .Config.Entrypoint}}"),
        r#"["/usr/local/bin/hakobu-runner"]"#
    );

    let name = format!("hakobu-image-check-{}", std::process::id());
    let created = podman()
        .args(["create", "--name", &name, IMAGE])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let exported = podman().args(["export", &name]).output().unwrap();
    let _ = podman().args(["rm", "-f", &name]).output();
    assert!(exported.status.success());
    let listing = Command::new("tar")
        .arg("-t")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut tar| {
            use std::io::Write;
            tar.stdin.take().unwrap().write_all(&exported.stdout)?;
            tar.wait_with_output()
        })
        .unwrap();
    let files = String::from_utf8(listing.stdout).unwrap();
    let has = |path: &str| files.lines().any(|l| l.trim_end_matches('/') == path);
    assert!(has("usr/local/bin/hakobu-runner"), "{files}");
    assert!(has("etc/ssl/certs/ca-certificates.crt"), "{files}");
    assert!(has("etc/passwd") && has("tmp"), "{files}");
    assert!(!has("bin/sh") && !has("bin"), "no shell: {files}");

    let ran = podman()
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
            "--memory",
            "256m",
            IMAGE,
            "--version",
        ])
        .output()
        .unwrap();
    assert!(ran.status.success(), "{ran:?}");
    assert!(
        String::from_utf8_lossy(&ran.stdout).starts_with("hakobu-runner "),
        "{ran:?}"
    );
}

/// Killing a runner's container mid-load: the run fails, the destination is as it was,
/// the incremental state does not move, and the container is removed.
#[tokio::test]
async fn a_killed_container_fails_its_run_and_changes_nothing() {
    let Some(launcher) = launcher().await else {
        return;
    };
    let app = app_with(launcher).await;
    let owner = app.signup("Acme").await;
    app.sql(SLOW_SOURCE).await;
    let job = job(&app, &owner, json!({"source": {"connection_id": null, "table": {"name": "src_slow"}, "incremental": true, "incremental_columns": ["id"]}})).await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let running = wait_running(&app, &owner.token, &id).await;
    let name = running["task_id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let killed = podman()
        .args(["kill", "--signal", "KILL", &name])
        .output()
        .unwrap();
    assert!(killed.status.success(), "{killed:?}");

    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        !done["error_summary"].as_str().unwrap_or("").is_empty(),
        "{done}"
    );
    assert_eq!(
        app.query_strings("SELECT count(*) FROM dst").await[0][0].as_deref(),
        Some("1")
    );
    let (_, job_view) = app.get(&format!("/api/jobs/{job}"), &owner.token).await;
    assert!(job_view["incremental_state"].is_null(), "{job_view}");
    wait_gone(&name, Duration::from_secs(30)).await;
}

/// PostgreSQL -> CSV files on S3 (moto) -> PostgreSQL, both runs in containers.
#[tokio::test]
async fn postgres_to_s3_and_back_in_containers() {
    let Some(endpoint) = crate::helpers::moto_endpoint() else {
        panic!("HAKOBU_TEST_S3_ENDPOINT must name a moto server (make test starts one)");
    };
    let Some(launcher) = launcher().await else {
        return;
    };
    let app = app_with(launcher).await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'ç');")
        .await;
    let bucket = format!(
        "hakobu-ctr-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{created:?}");
    let s3 = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Bucket",
            "s3",
            json!({"bucket": bucket, "endpoint": endpoint, "region": "us-east-1", "access_key_id": "test", "secret_access_key": "test-secret"}),
        )
        .await;
    let pg = app.pg_connection(&owner).await;
    let columns = json!([{"name": "id", "type": "long"}, {"name": "name", "type": "string"}]);
    for (source, destination) in [
        (
            json!({"connection_id": pg, "table": {"name": "src"}}),
            json!({"connection_id": s3, "files": {"path_prefix": "exports/rows_", "format": "csv"}}),
        ),
        (
            json!({"connection_id": s3, "files": {"path_prefix": "exports/rows_", "format": "csv", "columns": columns}}),
            json!({"connection_id": pg, "table": {"name": "back"}}),
        ),
    ] {
        let (status, job) = app
            .post("/api/jobs", &owner.token, json!({"name": format!("J {}", uuid::Uuid::new_v4().simple()), "team_id": owner.default_team, "settings": {"source": source, "destination": destination}}))
            .await;
        assert!(status.is_success(), "{job}");
        let (_, run) = app
            .post(
                &format!("/api/jobs/{}/runs", job["id"].as_str().unwrap()),
                &owner.token,
                json!({}),
            )
            .await;
        let done = wait_final(&app, &owner.token, run["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["launcher"], "container");
        assert_eq!(done["rows_written"], 3, "{done}");
    }
    assert_eq!(
        app.query_strings("SELECT name FROM back ORDER BY id")
            .await
            .into_iter()
            .map(|r| r[0].clone().unwrap())
            .collect::<Vec<_>>(),
        ["a", "b", "ç"]
    );
}

/// The tenant boundary holds inside a container too: a job whose connection names this
/// machine (here the service's own database server) fails in its runner, which applies
/// the policy of its assignment, although the test's containers share the host network.
#[tokio::test]
async fn a_run_in_a_container_cannot_reach_the_service_network() {
    let Some(launcher) = launcher().await else {
        return;
    };
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        launcher: Some(launcher as Arc<dyn Launcher>),
        egress_allow: "",
        ..Default::default()
    })
    .await;
    let done = crate::tenant_boundary::a_run_naming_this_machine_fails_in_its_runner(&app).await;
    assert_eq!(done["launcher"], "container", "{done}");
}
