//! The ECS launcher against a local moto server (started by `make test`).

use crate::helpers::{SpawnOptions, TestApp, spawn_app, spawn_app_with};
use hakobu::launcher::ecs::{EcsLauncher, EcsSettings, TaskState, cpu_units, task_state};
use hakobu::launcher::{LaunchSpec, Launcher};
use hakobu::runs::watchdog::{Reconciled, Watchdog};
use hakobu_core::ids::RunId;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn moto() -> String {
    std::env::var("HAKOBU_TEST_S3_ENDPOINT").expect(
        "HAKOBU_TEST_S3_ENDPOINT must name a moto server (make test starts one with scripts/moto.sh)",
    )
}

fn client(endpoint: &str) -> aws_sdk_ecs::Client {
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version_latest()
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

/// A fresh cluster and runner task definition on moto, and a launcher for them.
async fn moto_launcher() -> (EcsLauncher, aws_sdk_ecs::Client, String) {
    let endpoint = moto();
    let ecs = client(&endpoint);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let cluster = format!("hakobu-{suffix}");
    ecs.create_cluster()
        .cluster_name(&cluster)
        .send()
        .await
        .unwrap();
    let family = format!("hakobu-runner-{suffix}");
    ecs.register_task_definition()
        .family(&family)
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .cpu("256")
        .memory("512")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("runner")
                .image("hakobu-runner:test")
                // moto answers 500 without a container-level memory (real Fargate does not need it).
                .memory(512)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (subnet, group) = default_network(&endpoint).await;
    let settings = EcsSettings {
        cluster: cluster.clone(),
        task_definition: family,
        container: "runner".to_owned(),
        subnets: vec![subnet],
        security_groups: vec![group],
        assign_public_ip: false,
        spot: false,
        endpoint: Some(endpoint.clone()),
    };
    (
        EcsLauncher::with_client(settings, ecs.clone()),
        ecs,
        cluster,
    )
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
        let state = task_state(&ecs, &cluster, &arn).await.unwrap();
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
        task_state(&ecs, &cluster, &missing).await.unwrap(),
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
    for untouched in [&running_task, &foreign_task] {
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
