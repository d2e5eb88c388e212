//! The ECS launcher against a local moto server (started by `make test`), with the task
//! definition `hakobu ecs task-definition` writes, and the checks moto does not make and
//! real ECS does: the documented IAM policy covers every call (tags included), the
//! definition matches the runner image, temporary refusals (throttling, no capacity)
//! through a relay in front of moto.

use crate::helpers::{JWT_SECRET, SpawnOptions, TestApp, spawn_app, spawn_app_with};
use hakobu::auth::run_token::RunTokens;
use hakobu::launcher::ecs::{
    EcsLauncher, EcsSettings, RUNNER_COMMAND, RUNNER_USER, STOP_TIMEOUT_SECONDS,
    TaskDefinitionOptions, TaskState, capacity_is_short, cpu_units, task_definition, task_family,
    task_state,
};
use hakobu::launcher::{LaunchSpec, Launcher};
use hakobu::runs::dispatch::{Dispatcher, LAUNCH_RETRY};
use hakobu::runs::watchdog::{Reconciled, Watchdog};
use hakobu::settings::RunLimits;
use hakobu_core::ids::RunId;
use serde_json::{Value, json};
use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn moto() -> String {
    std::env::var("HAKOBU_TEST_S3_ENDPOINT").expect(
        "HAKOBU_TEST_S3_ENDPOINT must name a moto server (make test starts one with scripts/moto.sh)",
    )
}

fn client(endpoint: &str) -> aws_sdk_ecs::Client {
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version_latest()
        // One request per call, so the relay's answers map to launches one to one.
        .retry_config(aws_sdk_ecs::config::retry::RetryConfig::disabled())
        .endpoint_url(endpoint)
        .region(aws_sdk_ecs::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "test", "test", None, None, "static",
        ))
        .build();
    aws_sdk_ecs::Client::from_conf(config)
}

/// The default VPC's first subnet and security group: moto validates them, and their ids
/// change at every server start.
async fn default_network(endpoint: &str) -> (String, String) {
    let http = reqwest::Client::new();
    let mut found = Vec::new();
    for (action, tag) in [
        ("DescribeSubnets", "subnetId"),
        ("DescribeSecurityGroups", "groupId"),
    ] {
        let body = http
            .post(endpoint)
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0",
            )
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("Action={action}&Version=2016-11-15"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let open = format!("<{tag}>");
        let start = body
            .find(&open)
            .unwrap_or_else(|| panic!("{action}: {body}"))
            + open.len();
        let end = body[start..].find('<').unwrap() + start;
        found.push(body[start..end].to_owned());
    }
    (found[0].clone(), found[1].clone())
}

fn spec(run: RunId) -> LaunchSpec {
    LaunchSpec {
        run_id: run,
        app_url: "https://hakobu.example.com".to_owned(),
        run_token: "run-token-for-this-run".to_owned(),
        cpu: 0.5,
        memory_mb: 1024,
        timeout: Duration::from_secs(600),
    }
}

fn repo_file(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The options the example in docs/deploy-ecs.md passes to `hakobu ecs task-definition`.
fn documented_options() -> TaskDefinitionOptions {
    TaskDefinitionOptions::new(
        "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/hakobu-runner:0.1.0",
        "arn:aws:iam::123456789012:role/hakobu-runner-execution",
        "ap-northeast-1",
    )
}

/// The JSON block that follows `heading` in docs/deploy-ecs.md.
fn doc_json(heading: &str) -> Value {
    let doc = repo_file("docs/deploy-ecs.md");
    let section = &doc[doc
        .find(heading)
        .unwrap_or_else(|| panic!("docs/deploy-ecs.md lost its section {heading:?}"))..];
    let start = section.find("```json\n").expect("a JSON block") + "```json\n".len();
    let end = section[start..].find("```").unwrap() + start;
    serde_json::from_str(&section[start..end])
        .unwrap_or_else(|e| panic!("the JSON under {heading:?} does not parse: {e}"))
}

/// Registers `definition` on moto as `aws ecs register-task-definition --cli-input-json`
/// would send it (ECS's JSON protocol), plus the one field moto cannot do without: a
/// container-level memory reservation (moto answers 500 when a container has neither
/// `memory` nor `memoryReservation`; Fargate takes the task's memory, which each run
/// overrides, so the definition leaves both out).
async fn register(endpoint: &str, definition: &Value) {
    let mut body = definition.clone();
    body["containerDefinitions"][0]["memoryReservation"] = json!(256);
    let answer = reqwest::Client::new()
        .post(endpoint)
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "X-Amz-Target",
            "AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition",
        )
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0",
        )
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert!(
        status.is_success(),
        "RegisterTaskDefinition: {status} {text}"
    );
}

/// A fresh cluster and the runner task definition `hakobu ecs task-definition` writes,
/// registered on moto, and a launcher for them.
async fn moto_launcher() -> (EcsLauncher, aws_sdk_ecs::Client, String) {
    let (settings, ecs) = moto_settings().await;
    let cluster = settings.cluster.clone();
    (
        EcsLauncher::with_client(settings, ecs.clone()),
        ecs,
        cluster,
    )
}

async fn moto_settings() -> (EcsSettings, aws_sdk_ecs::Client) {
    let endpoint = moto();
    let ecs = client(&endpoint);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let cluster = format!("hakobu-{suffix}");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let mut options = TaskDefinitionOptions::new(
        "hakobu-runner:test",
        "arn:aws:iam::123456789012:role/hakobu-runner-execution",
        "us-east-1",
    );
    options.family = format!("hakobu-runner-{suffix}");
    options.cpu = 0.25;
    options.memory_mb = 512;
    register(&endpoint, &task_definition(&options).unwrap()).await;
    let (subnet, group) = default_network(&endpoint).await;
    let settings = EcsSettings {
        cluster: cluster.clone(),
        task_definition: options.family,
        container: options.container,
        subnets: vec![subnet],
        security_groups: vec![group],
        assign_public_ip: false,
        spot: false,
        endpoint: Some(endpoint.clone()),
    };
    (settings, ecs)
}

#[tokio::test]
async fn run_task_describe_and_stop_through_moto() {
    let (launcher, ecs, cluster) = moto_launcher().await;
    let run = RunId::new();
    let arn = launcher.launch(spec(run)).await.unwrap();
    assert!(arn.starts_with("arn:aws:ecs:"), "{arn}");
    let described = ecs
        .describe_tasks()
        .cluster(&cluster)
        .tasks(&arn)
        .send()
        .await
        .unwrap();
    let task = &described.tasks()[0];
    let mut seen = vec![TaskState::from_ecs(task.last_status().unwrap(), None, None)];
    assert_eq!(task.started_by(), Some(run.to_string().as_str()));
    let overrides = task.overrides().unwrap();
    let container = &overrides.container_overrides()[0];
    assert_eq!(container.name(), Some("runner"));
    assert_eq!(container.command(), ["managed"]);
    let names: Vec<&str> = container
        .environment()
        .iter()
        .filter_map(|e| e.name())
        .collect();
    assert_eq!(
        names,
        ["HAKOBU_APP_URL", "HAKOBU_RUN_ID", "HAKOBU_RUN_TOKEN"],
        "no credential travels in the task"
    );
    assert_eq!(overrides.cpu(), Some("512"));
    assert_eq!(overrides.memory(), Some("1024"));

    // moto moves a task one state per DescribeTasks: it starts, runs, then stops.
    for _ in 0..10 {
        let state = task_state(&ecs, &cluster, "runner", &arn).await.unwrap();
        let stopped = matches!(state, TaskState::Stopped { .. });
        seen.push(state);
        if stopped {
            break;
        }
    }
    // States only move forward, and the task ends stopped.
    let rank = |s: &TaskState| match s {
        TaskState::Starting => 0,
        TaskState::Running => 1,
        TaskState::Stopping => 2,
        TaskState::Stopped { .. } | TaskState::Missing => 3,
    };
    assert!(
        seen.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
        "{seen:?}"
    );
    assert!(
        matches!(
            seen.last(),
            Some(TaskState::Stopped {
                exit_code: Some(0),
                ..
            })
        ),
        "{seen:?}"
    );

    let second = launcher.launch(spec(RunId::new())).await.unwrap();
    launcher.stop(&second).await.unwrap();
    let stopped = ecs
        .describe_tasks()
        .cluster(&cluster)
        .tasks(&second)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.tasks()[0].last_status(), Some("STOPPED"));
    assert!(
        stopped.tasks()[0]
            .stopped_reason()
            .unwrap_or_default()
            .contains("Hakobu")
    );

    let missing = format!("arn:aws:ecs:us-east-1:123456789012:task/{cluster}/0000");
    assert_eq!(
        task_state(&ecs, &cluster, "runner", &missing)
            .await
            .unwrap(),
        TaskState::Missing
    );

    // The watchdog's round asks for many tasks at once: every id gets its state, an
    // unknown one `Missing`, including beyond one DescribeTasks batch of 100.
    let mut ids = vec![second.clone(), missing.clone()];
    ids.extend(
        (0..120).map(|i| format!("arn:aws:ecs:us-east-1:123456789012:task/{cluster}/{i:04}x")),
    );
    let states = launcher.states(&ids).await.unwrap();
    assert_eq!(states.len(), ids.len());
    assert!(
        matches!(states[&second], TaskState::Stopped { .. }),
        "{:?}",
        states[&second]
    );
    assert_eq!(states[&missing], TaskState::Missing);
    assert_eq!(states[&ids[121]], TaskState::Missing);
}

#[test]
fn every_ecs_task_status_maps_to_a_run_state() {
    for status in ["PROVISIONING", "PENDING", "ACTIVATING"] {
        assert_eq!(
            TaskState::from_ecs(status, None, None),
            TaskState::Starting,
            "{status}"
        );
    }
    assert_eq!(
        TaskState::from_ecs("RUNNING", None, None),
        TaskState::Running
    );
    for status in ["DEACTIVATING", "STOPPING", "DEPROVISIONING"] {
        assert_eq!(
            TaskState::from_ecs(status, None, None),
            TaskState::Stopping,
            "{status}"
        );
    }
    assert_eq!(
        TaskState::from_ecs("STOPPED", Some(137), Some("OutOfMemoryError")),
        TaskState::Stopped {
            exit_code: Some(137),
            reason: Some("OutOfMemoryError".to_owned())
        }
    );
}

#[tokio::test]
async fn fargate_spot_and_public_ip_are_requested_as_configured() {
    let endpoint = moto();
    let launcher = EcsLauncher::with_client(
        EcsSettings {
            cluster: "c".to_owned(),
            task_definition: "hakobu-runner:3".to_owned(),
            container: "runner".to_owned(),
            subnets: vec!["subnet-1".to_owned(), "subnet-2".to_owned()],
            security_groups: vec!["sg-1".to_owned()],
            assign_public_ip: true,
            spot: true,
            endpoint: Some(endpoint.clone()),
        },
        client(&endpoint),
    );
    let request = launcher.run_task_request(&spec(RunId::new()));
    let input = request.as_input();
    assert_eq!(
        input.get_launch_type(),
        &None,
        "Spot goes through a capacity provider, not a launch type"
    );
    let strategy = input.get_capacity_provider_strategy().as_ref().unwrap();
    assert_eq!(strategy[0].capacity_provider(), "FARGATE_SPOT");
    let vpc = input
        .get_network_configuration()
        .as_ref()
        .unwrap()
        .awsvpc_configuration()
        .unwrap();
    assert_eq!(vpc.subnets(), ["subnet-1", "subnet-2"]);
    assert_eq!(
        vpc.assign_public_ip(),
        Some(&aws_sdk_ecs::types::AssignPublicIp::Enabled)
    );
    assert_eq!(
        input.get_tags().as_ref().unwrap()[0].key(),
        Some("hakobu:run-id")
    );
    assert_eq!(cpu_units(0.25), "256");
    assert_eq!(cpu_units(16.0), "16384");
}

/// Inserts a run of `job` launched by ECS as `task`, started five minutes ago; `finished`
/// makes it a run that succeeded a minute later.
async fn ecs_run(app: &TestApp, org: &str, job: &str, run: RunId, task: &str, finished: bool) {
    let (status, finished_at) = if finished {
        ("succeeded", "now() - interval '4 minutes'")
    } else {
        ("running", "NULL")
    };
    app.sql(&format!(
        "INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger, timeout_seconds, launcher, task_id, started_at, heartbeat_at, finished_at)
         VALUES ('{run}', '{org}', '{job}', 1, '{status}', '{run}', 'manual', 3600, 'ecs', '{task}', now() - interval '5 minutes', now(), {finished_at})"
    ))
    .await;
}

/// Desired status and stop reason of a task.
async fn describe(ecs: &aws_sdk_ecs::Client, cluster: &str, arn: &str) -> (String, String) {
    let out = ecs
        .describe_tasks()
        .cluster(cluster)
        .tasks(arn)
        .send()
        .await
        .unwrap();
    let task = &out.tasks()[0];
    (
        task.desired_status().unwrap_or_default().to_owned(),
        task.stopped_reason().unwrap_or_default().to_owned(),
    )
}

/// The sweeper finds Hakobu's tasks with ListTasks and tags: the task of a run that has
/// finished gets StopTask; the task of a running run and a task naming a run this app
/// does not know are left alone.
#[tokio::test]
async fn the_sweeper_stops_tasks_of_finished_runs_only() {
    let (launcher, ecs, cluster) = moto_launcher().await;
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let job = crate::runs::job(&app, &owner, json!({"overlap": "allow"})).await;
    let (finished_run, running_run) = (RunId::new(), RunId::new());
    let finished_task = launcher.launch(spec(finished_run)).await.unwrap();
    let running_task = launcher.launch(spec(running_run)).await.unwrap();
    let foreign_task = launcher.launch(spec(RunId::new())).await.unwrap();
    // A task of another family in the same cluster, marked exactly as Hakobu marks the
    // finished run's task (another service, or another install's runner): the listing
    // filters by the runner's family, so it is never stopped.
    let other_family = format!("other-{}", uuid::Uuid::new_v4().simple());
    let mut other = TaskDefinitionOptions::new(
        "other:1",
        "arn:aws:iam::123456789012:role/other-execution",
        "us-east-1",
    );
    other.family = other_family.clone();
    register(&moto(), &task_definition(&other).unwrap()).await;
    let other_task = launcher
        .run_task_request(&spec(finished_run))
        .task_definition(&other_family)
        .send()
        .await
        .unwrap()
        .tasks()[0]
        .task_arn()
        .unwrap()
        .to_owned();
    ecs_run(
        &app,
        &owner.org_id,
        &job,
        finished_run,
        &finished_task,
        true,
    )
    .await;
    ecs_run(&app, &owner.org_id, &job, running_run, &running_task, false).await;

    let watchdog = Watchdog {
        pool: hakobu::db::build_pool(
            &format!("{}/{}", crate::helpers::server_url(), app.db_name),
            2,
        )
        .unwrap(),
        launcher: Arc::new(launcher),
        heartbeat_timeout: Duration::from_secs(60),
        start_timeout: Duration::from_secs(600),
        log_retention: Duration::from_secs(86_400),
    };
    assert_eq!(
        watchdog.reconcile_once().await.unwrap(),
        Reconciled {
            stopped: 1,
            ..Default::default()
        }
    );
    let (desired, reason) = describe(&ecs, &cluster, &finished_task).await;
    assert_eq!(desired, "STOPPED");
    assert!(reason.contains("Hakobu"), "{reason}");
    for untouched in [&running_task, &foreign_task, &other_task] {
        let (desired, reason) = describe(&ecs, &cluster, untouched).await;
        assert_eq!(
            (desired.as_str(), reason.as_str()),
            ("RUNNING", ""),
            "{untouched}"
        );
    }
    let (_, run) = app
        .get(&format!("/api/runs/{running_run}"), &owner.token)
        .await;
    assert_eq!(run["status"], "running", "{run}");
    assert_eq!(
        watchdog.reconcile_once().await.unwrap().stopped,
        0,
        "a stopped task is no longer listed"
    );
}

/// A run whose task stopped while no app was watching (the app was down, the task died
/// without reporting) is failed at the next start, with ECS's reason.
#[tokio::test]
async fn an_app_restart_fails_a_run_whose_task_has_stopped() {
    let (launcher, ecs, cluster) = moto_launcher().await;
    let first = spawn_app().await;
    let owner = first.signup("Acme").await;
    let job = crate::runs::job(&first, &owner, json!({})).await;
    let run = RunId::new();
    let task = launcher.launch(spec(run)).await.unwrap();
    ecs_run(&first, &owner.org_id, &job, run, &task, false).await;
    ecs.stop_task()
        .cluster(&cluster)
        .task(&task)
        .reason("Essential container in task exited")
        .send()
        .await
        .unwrap();

    let restarted = spawn_app_with(SpawnOptions {
        database: Some(first.db_name.clone()),
        dispatcher: true,
        launcher: Some(Arc::new(launcher)),
        ..Default::default()
    })
    .await;
    let mut seen = serde_json::Value::Null;
    for _ in 0..50 {
        let (_, now) = restarted
            .get(&format!("/api/runs/{run}"), &owner.token)
            .await;
        seen = now;
        if seen["status"] != "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen["status"], "failed", "{seen}");
    let error = seen["error_summary"].as_str().unwrap();
    assert!(
        error.contains("stopped during the transfer without reporting a result")
            && error.contains("Essential container in task exited"),
        "{error}"
    );
}

#[test]
fn the_task_definition_matches_the_runner_image() {
    let definition = task_definition(&documented_options()).unwrap();
    assert_eq!(definition["requiresCompatibilities"], json!(["FARGATE"]));
    assert_eq!(definition["networkMode"], "awsvpc");
    assert!(
        definition.get("stopTimeout").is_none(),
        "stopTimeout is a container setting; ECS refuses it on the task"
    );
    let container = &definition["containerDefinitions"][0];
    let dockerfile = repo_file("runner-image/Dockerfile");
    let final_stage = &dockerfile[dockerfile.rfind("FROM scratch").unwrap()..];
    let instruction = |name: &str| {
        final_stage
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("the runner image's final stage lost its {name}"))
            .trim()
            .to_owned()
    };
    assert_eq!(instruction("USER"), RUNNER_USER);
    assert_eq!(
        container["user"], RUNNER_USER,
        "the image's user, stated again"
    );
    assert_eq!(
        instruction("ENTRYPOINT"),
        r#"["/usr/local/bin/hakobu-runner"]"#
    );
    assert!(
        container.get("entryPoint").is_none(),
        "the image's entrypoint, the runner binary, is kept"
    );
    assert_eq!(container["command"], json!([RUNNER_COMMAND]));
    // The same command the launcher puts in each run's overrides.
    let launcher = EcsLauncher::with_client(
        EcsSettings {
            cluster: "c".to_owned(),
            task_definition: "hakobu-runner".to_owned(),
            container: "runner".to_owned(),
            subnets: vec!["subnet-1".to_owned()],
            security_groups: vec![],
            assign_public_ip: false,
            spot: false,
            endpoint: None,
        },
        client("http://127.0.0.1:1"),
    );
    let request = launcher.run_task_request(&spec(RunId::new()));
    let input = request.as_input();
    let overrides = &input
        .get_overrides()
        .as_ref()
        .unwrap()
        .container_overrides()[0];
    assert_eq!(overrides.name(), container["name"].as_str());
    assert_eq!(overrides.command(), [RUNNER_COMMAND]);
    assert_eq!(
        container["environment"],
        json!([]),
        "the three HAKOBU_* values come per run"
    );
    assert!(container.get("secrets").is_none());
    assert_eq!(container["stopTimeout"], json!(STOP_TIMEOUT_SECONDS));
    assert_eq!(STOP_TIMEOUT_SECONDS, 120, "Fargate Spot's two minutes");
    assert_eq!(container["readonlyRootFilesystem"], json!(false));
    assert_eq!(
        container["linuxParameters"]["capabilities"]["drop"],
        json!(["ALL"])
    );
    let logs = &container["logConfiguration"];
    assert_eq!(logs["logDriver"], "awslogs");
    assert_eq!(logs["options"]["awslogs-region"], "ap-northeast-1");
    assert!(logs["options"].get("awslogs-create-group").is_none());
    assert!(
        definition.get("taskRoleArn").is_none(),
        "no AWS identity for the runner unless asked"
    );
    assert!(definition.get("ephemeralStorage").is_none());

    // The doc shows exactly what the command prints.
    assert_eq!(
        doc_json("## Task definition"),
        definition,
        "docs/deploy-ecs.md's task definition is not what `hakobu ecs task-definition` prints"
    );
}

#[test]
fn task_definition_options_are_checked_and_named() {
    let refused = |change: fn(&mut TaskDefinitionOptions)| {
        let mut options = documented_options();
        change(&mut options);
        task_definition(&options).unwrap_err().to_string()
    };
    assert_eq!(
        refused(|o| o.memory_mb = 1024),
        "--memory-mb must be a memory size Fargate offers with 1 vCPU: 2048 to 8192 MiB in steps of 1024 MiB"
    );
    assert!(refused(|o| o.cpu = 3.0).starts_with("--cpu must be one of"));
    assert!(refused(|o| o.stop_timeout_seconds = 300).starts_with("--stop-timeout"));
    assert!(
        refused(|o| o.execution_role_arn = "hakobu".to_owned()).starts_with("--execution-role-arn")
    );
    assert!(refused(|o| o.task_role_arn = Some("x".to_owned())).starts_with("--task-role-arn"));
    assert!(refused(|o| o.family = "a b".to_owned()).starts_with("--family"));
    assert!(refused(|o| o.image = " ".to_owned()).starts_with("--image"));
    assert!(refused(|o| o.ephemeral_storage_gib = Some(20)).starts_with("--ephemeral-storage-gib"));
    assert!(
        refused(|o| o.ephemeral_storage_gib = Some(201)).starts_with("--ephemeral-storage-gib")
    );

    let mut options = documented_options();
    options.ephemeral_storage_gib = Some(100);
    options.create_log_group = true;
    options.task_role_arn = Some("arn:aws:iam::123456789012:role/hakobu-runner-task".to_owned());
    let definition = task_definition(&options).unwrap();
    assert_eq!(
        definition["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-create-group"],
        "true"
    );
    assert_eq!(
        definition["taskRoleArn"],
        "arn:aws:iam::123456789012:role/hakobu-runner-task"
    );
    assert_eq!(definition["ephemeralStorage"], json!({"sizeInGiB": 100}));
    assert_eq!(task_family("hakobu-runner"), "hakobu-runner");
    assert_eq!(task_family("hakobu-runner:7"), "hakobu-runner");
    assert_eq!(
        task_family("arn:aws:ecs:ap-northeast-1:123456789012:task-definition/hakobu-runner:7"),
        "hakobu-runner"
    );
}

/// `hakobu ecs task-definition` prints what `task_definition` writes (run
/// `cargo build -p hakobu --bin hakobu` before).
#[test]
fn the_cli_prints_the_task_definition() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hakobu"))
        .args([
            "ecs",
            "task-definition",
            "--image",
            "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/hakobu-runner:0.1.0",
            "--execution-role-arn",
            "arn:aws:iam::123456789012:role/hakobu-runner-execution",
            "--region",
            "ap-northeast-1",
        ])
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed, task_definition(&documented_options()).unwrap());

    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_hakobu"))
        .args([
            "ecs",
            "task-definition",
            "--image",
            "i",
            "--execution-role-arn",
            "arn:aws:iam::1:role/r",
            "--region",
            "r",
            "--cpu",
            "16",
            "--memory-mb",
            "16384",
        ])
        .env_clear()
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--memory-mb must be a memory size Fargate offers with 16 vCPU: 32768 to 122880 MiB in steps of 8192 MiB"), "{stderr}");
}

/// moto takes what it is given back: the definition registered is the one written.
#[tokio::test]
async fn moto_holds_the_written_task_definition() {
    let (settings, ecs) = moto_settings().await;
    let described = ecs
        .describe_task_definition()
        .task_definition(&settings.task_definition)
        .send()
        .await
        .unwrap();
    let definition = described.task_definition().unwrap();
    let container = &definition.container_definitions()[0];
    assert_eq!(container.name(), Some("runner"));
    assert_eq!(container.user(), Some(RUNNER_USER));
    assert_eq!(container.command(), [RUNNER_COMMAND]);
    assert_eq!(container.stop_timeout(), Some(120));
    assert!(container.environment().is_empty());
    assert_eq!(
        container.log_configuration().unwrap().log_driver().as_str(),
        "awslogs"
    );
    assert_eq!(
        definition.network_mode(),
        Some(&aws_sdk_ecs::types::NetworkMode::Awsvpc)
    );
}

/// The ECS calls the launcher makes, read from its source: each `client.<call>()`.
fn ecs_calls_in_the_launcher() -> BTreeSet<String> {
    let source = repo_file("app/src/launcher/ecs.rs");
    let mut calls = BTreeSet::new();
    let mut rest = source.as_str();
    while let Some(at) = rest.find("client") {
        rest = &rest[at + "client".len()..];
        let after = rest.trim_start();
        let Some(call) = after.strip_prefix('.') else {
            continue;
        };
        let name: String = call
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if call.trim_start()[name.len()..].starts_with("()") && !name.is_empty() {
            let pascal: String = name
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            calls.insert(format!("ecs:{pascal}"));
        }
    }
    calls
}

/// Real ECS refuses what moto lets through: the documented app policy (read from
/// docs/deploy-ecs.md) must allow every call the launcher makes, `ecs:TagResource` for
/// the tags RunTask sets, and the passing of both roles of the documented task definition.
#[test]
fn the_documented_policy_allows_every_call_the_launcher_makes() {
    let calls = ecs_calls_in_the_launcher();
    for expected in [
        "ecs:RunTask",
        "ecs:DescribeTasks",
        "ecs:StopTask",
        "ecs:ListTasks",
    ] {
        assert!(
            calls.contains(expected),
            "{expected} not found in {calls:?}"
        );
    }
    let policy = doc_json("## IAM policy of the app");
    let statements = policy["Statement"].as_array().unwrap();
    let actions = |s: &Value| -> Vec<String> {
        match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let allowing = |action: &str| -> Vec<&Value> {
        statements
            .iter()
            .filter(|s| s["Effect"] == "Allow" && actions(s).iter().any(|a| a == action))
            .collect()
    };
    for call in &calls {
        assert!(
            !allowing(call).is_empty(),
            "the documented policy does not allow {call}"
        );
    }
    // RunTask with tags: ECS also authorizes ecs:TagResource, for the RunTask create action.
    let tags = launcher_request_tags();
    assert!(tags.iter().any(|(k, _)| k == "hakobu:run-id"), "{tags:?}");
    let tagging = allowing("ecs:TagResource");
    assert!(
        tagging
            .iter()
            .any(|s| s["Condition"]["StringEquals"]["ecs:CreateAction"] == "RunTask"),
        "ecs:TagResource must be allowed with the condition ecs:CreateAction = RunTask: {tagging:?}"
    );
    // RunTask passes the definition's roles to ECS.
    let definition = doc_json("## Task definition");
    let pass = allowing("iam:PassRole");
    let passed: Vec<&str> = pass
        .iter()
        .flat_map(|s| match &s["Resource"] {
            Value::Array(r) => r.iter().filter_map(Value::as_str).collect::<Vec<_>>(),
            Value::String(r) => vec![r.as_str()],
            _ => Vec::new(),
        })
        .collect();
    for role in ["executionRoleArn", "taskRoleArn"] {
        if let Some(arn) = definition[role].as_str() {
            assert!(passed.contains(&arn), "iam:PassRole lacks {role} {arn}");
        }
    }
    assert!(
        passed.contains(&"arn:aws:iam::123456789012:role/hakobu-runner-task"),
        "the task role the doc offers is passable too"
    );
}

/// The tags of the launcher's RunTask request.
fn launcher_request_tags() -> Vec<(String, String)> {
    let launcher = EcsLauncher::with_client(
        EcsSettings {
            cluster: "c".to_owned(),
            task_definition: "hakobu-runner".to_owned(),
            container: "runner".to_owned(),
            subnets: vec!["subnet-1".to_owned()],
            security_groups: vec![],
            assign_public_ip: false,
            spot: false,
            endpoint: None,
        },
        client("http://127.0.0.1:1"),
    );
    let request = launcher.run_task_request(&spec(RunId::new()));
    request
        .as_input()
        .get_tags()
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_owned(),
                t.value().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Fargate bills from the image pull to the stop; a task not stopped yet has no times.
/// (moto's DescribeTasks records none of these times, so the tasks are built as real ECS
/// returns them.)
#[test]
fn a_stopped_tasks_times_run_from_its_image_pull_to_its_stop() {
    use aws_sdk_ecs::primitives::DateTime;
    use aws_sdk_ecs::types::Task;
    let at = |secs| DateTime::from_secs(secs);
    let stopped = Task::builder()
        .last_status("STOPPED")
        .created_at(at(1_000))
        .pull_started_at(at(1_010))
        .started_at(at(1_040))
        .execution_stopped_at(at(1_100))
        .stopped_at(at(1_105))
        .build();
    let times = hakobu::launcher::ecs::task_times(&stopped).unwrap();
    assert_eq!(
        (times.started.timestamp(), times.stopped.timestamp()),
        (1_010, 1_105)
    );
    // Without a pull (an image cached on the host), from its start.
    let cached = Task::builder()
        .started_at(at(2_000))
        .stopped_at(at(2_030))
        .build();
    let times = hakobu::launcher::ecs::task_times(&cached).unwrap();
    assert_eq!(times.stopped - times.started, chrono::Duration::seconds(30));
    let running = Task::builder()
        .last_status("RUNNING")
        .pull_started_at(at(3_000))
        .build();
    assert_eq!(hakobu::launcher::ecs::task_times(&running), None);
}

#[test]
fn a_stopped_task_says_why_from_the_runner_container_and_the_stop_code() {
    use aws_sdk_ecs::types::{Container, Task, TaskStopCode};
    let task = Task::builder()
        .last_status("STOPPED")
        .stop_code(TaskStopCode::EssentialContainerExited)
        .stopped_reason("Essential container in task exited")
        // A sidecar listed first: the runner's own container is the one read.
        .containers(Container::builder().name("log-router").exit_code(0).build())
        .containers(
            Container::builder()
                .name("runner")
                .exit_code(137)
                .reason("OutOfMemoryError: Container killed due to memory usage")
                .build(),
        )
        .build();
    assert_eq!(
        TaskState::from_ecs_task(&task, "runner"),
        TaskState::Stopped {
            exit_code: Some(137),
            reason: Some(
                "OutOfMemoryError: Container killed due to memory usage (EssentialContainerExited: Essential container in task exited)".to_owned()
            ),
        }
    );
    let spot = Task::builder()
        .last_status("STOPPED")
        .stop_code(TaskStopCode::SpotInterruption)
        .stopped_reason("Your Spot Task was interrupted.")
        .containers(Container::builder().name("runner").exit_code(143).build())
        .build();
    assert_eq!(
        TaskState::from_ecs_task(&spot, "runner"),
        TaskState::Stopped {
            exit_code: Some(143),
            reason: Some("SpotInterruption: Your Spot Task was interrupted.".to_owned()),
        }
    );
    let never_started = Task::builder()
        .last_status("STOPPED")
        .stop_code(TaskStopCode::TaskFailedToStart)
        .stopped_reason("CannotPullContainerError: pull image manifest has been retried 5 time(s)")
        .containers(Container::builder().name("runner").build())
        .build();
    assert_eq!(
        TaskState::from_ecs_task(&never_started, "runner"),
        TaskState::Stopped {
            exit_code: None,
            reason: Some("TaskFailedToStart: CannotPullContainerError: pull image manifest has been retried 5 time(s)".to_owned()),
        }
    );
}

#[test]
fn capacity_shortages_are_temporary_and_other_failures_are_not() {
    assert!(capacity_is_short(
        "Capacity is unavailable at this time. Please try again later or in a different availability zone"
    ));
    assert!(capacity_is_short("RESOURCE:ENI"));
    assert!(capacity_is_short("RESOURCE:MEMORY"));
    assert!(!capacity_is_short("MISSING"));
    assert!(!capacity_is_short("ATTRIBUTE"));
    // The bound: ten launches over about half an hour.
    assert_eq!(LAUNCH_RETRY.delay(1), Some(Duration::from_secs(15)));
    assert_eq!(LAUNCH_RETRY.delay(2), Some(Duration::from_secs(30)));
    assert_eq!(LAUNCH_RETRY.delay(6), Some(Duration::from_secs(300)));
    assert_eq!(LAUNCH_RETRY.delay(LAUNCH_RETRY.max_attempts), None);
    let total = LAUNCH_RETRY.total();
    assert!(
        (Duration::from_secs(20 * 60)..=Duration::from_secs(35 * 60)).contains(&total),
        "{total:?}"
    );
}

/// What the relay answers to the next RunTask calls before passing them on to moto.
#[derive(Clone, Debug)]
enum Refusal {
    /// HTTP 400 `ThrottlingException`, "Rate exceeded" (ECS's API rate limit).
    Throttled,
    /// HTTP 200 with no task and a failure: "Capacity is unavailable at this time".
    NoCapacity,
    /// HTTP 400 `ClientException` (a mistake of the request: not temporary).
    ClientError,
    /// HTTP 500 `ServerException`.
    ServerError,
}

#[derive(Default)]
struct RelayState {
    upstream: String,
    refusals: Mutex<VecDeque<Refusal>>,
    /// Every RunTask body seen, refused or passed on.
    run_tasks: Mutex<Vec<Value>>,
}

async fn relay(
    request: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
    state: actix_web::web::Data<RelayState>,
) -> actix_web::HttpResponse {
    let target = request
        .headers()
        .get("X-Amz-Target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if target.ends_with(".RunTask") {
        state
            .run_tasks
            .lock()
            .unwrap()
            .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
        let refusal = state.refusals.lock().unwrap().pop_front();
        let error = |kind: &str, message: &str| {
            actix_web::HttpResponse::BadRequest()
                .insert_header(("x-amzn-ErrorType", kind))
                .content_type("application/x-amz-json-1.1")
                .body(json!({"__type": kind, "message": message}).to_string())
        };
        match refusal {
            Some(Refusal::Throttled) => return error("ThrottlingException", "Rate exceeded"),
            Some(Refusal::ClientError) => {
                return error("ClientException", "TaskDefinition is inactive");
            }
            Some(Refusal::ServerError) => {
                return actix_web::HttpResponse::InternalServerError()
                    .insert_header(("x-amzn-ErrorType", "ServerException"))
                    .content_type("application/x-amz-json-1.1")
                    .body(
                        json!({"__type": "ServerException", "message": "Service unavailable"})
                            .to_string(),
                    );
            }
            Some(Refusal::NoCapacity) => {
                return actix_web::HttpResponse::Ok()
                    .content_type("application/x-amz-json-1.1")
                    .body(
                        json!({"tasks": [], "failures": [{
                            "reason": "Capacity is unavailable at this time. Please try again later or in a different availability zone",
                        }]})
                        .to_string(),
                    );
            }
            None => {}
        }
    }
    let mut forward = reqwest::Client::new()
        .post(&state.upstream)
        .body(body.to_vec());
    for name in [
        "Content-Type",
        "X-Amz-Target",
        "Authorization",
        "X-Amz-Date",
    ] {
        if let Some(value) = request.headers().get(name) {
            forward = forward.header(name, value.as_bytes());
        }
    }
    let answer = forward.send().await.unwrap();
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await.unwrap();
    actix_web::HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("application/x-amz-json-1.1")
        .body(bytes)
}

/// An actix listener on port 0 in front of moto that refuses the next RunTask calls as
/// told; answers its state and its URL.
async fn refusing_relay(refusals: Vec<Refusal>) -> (actix_web::web::Data<RelayState>, String) {
    let state = actix_web::web::Data::new(RelayState {
        upstream: moto(),
        refusals: Mutex::new(refusals.into()),
        run_tasks: Mutex::default(),
    });
    let shared = state.clone();
    let http = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(shared.clone())
            .default_service(actix_web::web::to(relay))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://127.0.0.1:{}", http.addrs()[0].port());
    tokio::spawn(http.run());
    (state, url)
}

/// A queued run of a fresh job, a dispatcher launching through `launcher`.
async fn queued_run(
    app: &TestApp,
    launcher: EcsLauncher,
) -> (Dispatcher, String, crate::helpers::TestUser) {
    let owner = app.signup("Acme").await;
    let job = crate::runs::job(app, &owner, json!({})).await;
    let (status, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{run}");
    let dispatcher = Dispatcher {
        pool: hakobu::db::build_pool(
            &format!("{}/{}", crate::helpers::server_url(), app.db_name),
            2,
        )
        .unwrap(),
        launcher: Arc::new(launcher),
        run_tokens: RunTokens::new(JWT_SECRET),
        app_url: "https://hakobu.example.com".to_owned(),
        limits: RunLimits::default(),
        batch: 10,
    };
    (dispatcher, run["id"].as_str().unwrap().to_owned(), owner)
}

async fn run_row(app: &TestApp, run: &str) -> Vec<Option<String>> {
    app.query_strings(&format!(
        "SELECT r.status, r.task_id, (r.not_before > now() + interval '10 seconds')::text, \
                COALESCE(l.refusals, 0)::text, r.error_summary \
         FROM runs r LEFT JOIN run_launch_refusals l ON l.run_id = r.id WHERE r.id = '{run}'"
    ))
    .await
    .remove(0)
}

/// ECS throttles RunTask and Fargate Spot runs out of capacity now and then: the run
/// goes back to the queue with a delay, not failed, and starts once ECS takes it.
#[tokio::test]
async fn a_throttled_or_capacity_short_launch_queues_the_run_again_until_ecs_takes_it() {
    let (settings, ecs) = moto_settings().await;
    let cluster = settings.cluster.clone();
    let (relay, url) = refusing_relay(vec![Refusal::Throttled, Refusal::NoCapacity]).await;
    let launcher = EcsLauncher::with_client(settings, client(&url));
    let app = spawn_app().await;
    let (dispatcher, run, _owner) = queued_run(&app, launcher).await;

    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 1);
    let row = run_row(&app, &run).await;
    assert_eq!(
        (
            row[0].as_deref(),
            row[1].as_deref(),
            row[2].as_deref(),
            row[3].as_deref()
        ),
        (Some("queued"), None, Some("true"), Some("1")),
        "throttled: queued again, due later: {row:?}"
    );
    let logged = app
        .query_strings(&format!(
            "SELECT level, message FROM run_logs WHERE run_id = '{run}'"
        ))
        .await;
    assert_eq!(logged[0][0].as_deref(), Some("warn"), "{logged:?}");
    let line = logged[0][1].clone().unwrap();
    assert!(
        line.contains("trying again in 15 s (launch 1 of 10)") && line.contains("Rate exceeded"),
        "{line}"
    );
    assert!(
        !line.contains("run-token"),
        "no request content in the log: {line}"
    );
    assert_eq!(
        dispatcher.dispatch_once().await.unwrap(),
        0,
        "not launched again before its delay"
    );
    app.sql(&format!(
        "UPDATE runs SET not_before = now() WHERE id = '{run}'"
    ))
    .await;
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 1);
    let row = run_row(&app, &run).await;
    assert_eq!(
        (row[0].as_deref(), row[3].as_deref()),
        (Some("queued"), Some("2")),
        "no capacity: queued again: {row:?}"
    );
    app.sql(&format!(
        "UPDATE runs SET not_before = now() WHERE id = '{run}'"
    ))
    .await;
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 1);
    let row = run_row(&app, &run).await;
    assert_eq!(row[0].as_deref(), Some("starting"), "{row:?}");
    let task = row[1].clone().expect("the task of the launch ECS took");
    assert!(task.starts_with("arn:aws:ecs:"), "{task}");
    let described = ecs
        .describe_tasks()
        .cluster(&cluster)
        .tasks(&task)
        .include(aws_sdk_ecs::types::TaskField::Tags)
        .send()
        .await
        .unwrap();
    assert_eq!(described.tasks()[0].started_by(), Some(run.as_str()));

    let calls = relay.run_tasks.lock().unwrap().clone();
    assert_eq!(calls.len(), 3, "one RunTask per launch");
    for call in &calls {
        // What the real API authorizes with ecs:TagResource (see the policy test).
        assert_eq!(
            call["tags"],
            json!([{"key": "hakobu:run-id", "value": run}]),
            "{call}"
        );
        assert_eq!(call["startedBy"], run.as_str());
        // Real Fargate refuses a cpu/memory pair it does not offer; moto takes any.
        let cpu: f64 = call["overrides"]["cpu"].as_str().unwrap().parse().unwrap();
        let memory: u32 = call["overrides"]["memory"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            hakobu_core::job::Resources::memory_choices(cpu / 1024.0).contains(&memory),
            "{call}"
        );
    }
}

/// The bound: after the last allowed launch is refused the run fails and says why;
/// an error that is not temporary fails the run at once.
#[tokio::test]
async fn launches_refused_past_the_bound_or_for_good_fail_the_run() {
    let (settings, _ecs) = moto_settings().await;
    let (_relay, url) = refusing_relay(vec![Refusal::Throttled, Refusal::ClientError]).await;
    let app = spawn_app().await;
    let (dispatcher, run, owner) = queued_run(
        &app,
        EcsLauncher::with_client(settings.clone(), client(&url)),
    )
    .await;
    app.sql(&format!(
        "INSERT INTO run_launch_refusals (run_id, organization_id, refusals, last_error) \
         VALUES ('{run}', '{}', {}, 'Rate exceeded')",
        owner.org_id,
        LAUNCH_RETRY.max_attempts - 1
    ))
    .await;
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 1);
    let (_, seen) = app.get(&format!("/api/runs/{run}"), &owner.token).await;
    assert_eq!(seen["status"], "failed", "{seen}");
    let error = seen["error_summary"].as_str().unwrap();
    assert!(
        error.starts_with(
            "The runner could not be started: the platform refused 10 launches in a row over about"
        ) && error.contains("Rate exceeded"),
        "{error}"
    );

    // A second run: ECS refuses the request itself; no retry.
    let job_run = app
        .query_strings(&format!("SELECT job_id::text FROM runs WHERE id = '{run}'"))
        .await[0][0]
        .clone()
        .unwrap();
    let (status, second) = app
        .post(
            &format!("/api/jobs/{job_run}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{second}");
    let second = second["id"].as_str().unwrap().to_owned();
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 1);
    let row = run_row(&app, &second).await;
    assert_eq!(row[0].as_deref(), Some("failed"), "{row:?}");
    assert_eq!(row[3].as_deref(), Some("0"));
    let error = row[4].clone().unwrap();
    assert!(
        error.starts_with("The runner could not be started: ECS RunTask failed")
            && error.contains("TaskDefinition is inactive"),
        "{error}"
    );
}

/// A job whose cpu and memory Fargate does not offer together is refused when saved, so
/// no run of it meets RunTask's refusal; the pairs Fargate offers at its largest sizes
/// are taken.
#[tokio::test]
async fn a_job_is_saved_only_with_a_cpu_and_memory_pair_fargate_offers() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    crate::runs::job(
        &app,
        &owner,
        json!({"resources": {"cpu": 16, "memory_mb": 122_880}}),
    )
    .await;
    crate::runs::job(
        &app,
        &owner,
        json!({"resources": {"cpu": 8, "memory_mb": 16384}}),
    )
    .await;
    let conn = app
        .create_connection(
            &owner,
            &owner.default_team,
            "PG",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    for (cpu, memory_mb, message) in [
        (
            8.0,
            18432,
            "must be a memory size offered with 8 vCPU: 16384 to 61440 MiB in steps of 4096 MiB",
        ),
        (
            16.0,
            36864,
            "must be a memory size offered with 16 vCPU: 32768 to 122880 MiB in steps of 8192 MiB",
        ),
        (
            0.25,
            4096,
            "must be a memory size offered with 0.25 vCPU: 512 to 2048 MiB in steps of 512 MiB",
        ),
    ] {
        let (status, body) = app
            .post(
                "/api/jobs",
                &owner.token,
                json!({"name": format!("Job {memory_mb}"), "team_id": owner.default_team, "settings": {
                    "source": {"connection_id": conn, "table": {"name": "a"}},
                    "destination": {"connection_id": conn, "table": {"name": "t"}},
                    "resources": {"cpu": cpu, "memory_mb": memory_mb},
                }}),
            )
            .await;
        assert_eq!(status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["field"], "settings.resources.memory_mb", "{body}");
        assert_eq!(body["fields"][0]["code"], "fargate_memory", "{body}");
        assert_eq!(body["fields"][0]["message"], message, "{body}");
    }
}

/// Which launch errors are temporary, at the launcher: a server error and an unreachable
/// API are; a refused request is not.
#[tokio::test]
async fn server_errors_and_an_unreachable_api_are_temporary_launch_errors() {
    use hakobu::launcher::TemporaryLaunchError;
    let (settings, _ecs) = moto_settings().await;
    let (_relay, url) = refusing_relay(vec![Refusal::ServerError, Refusal::ClientError]).await;
    let launcher = EcsLauncher::with_client(settings.clone(), client(&url));
    let server = launcher.launch(spec(RunId::new())).await.unwrap_err();
    assert!(TemporaryLaunchError::is_in(&server), "{server:#}");
    let refused = launcher.launch(spec(RunId::new())).await.unwrap_err();
    assert!(!TemporaryLaunchError::is_in(&refused), "{refused:#}");
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = EcsLauncher::with_client(settings, client(&nowhere))
        .launch(spec(RunId::new()))
        .await
        .unwrap_err();
    assert!(TemporaryLaunchError::is_in(&unreachable), "{unreachable:#}");
    assert!(
        !format!("{server:#}{refused:#}{unreachable:#}").contains("run-token-for-this-run"),
        "no request content in launch errors"
    );
}
