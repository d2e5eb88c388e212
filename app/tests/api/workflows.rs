//! Workflows through the API and the engine: validation with field paths, a diamond run
//! by real runners (data mart jobs on the test database) with its middle branches in
//! parallel, a failure then a resume that runs only what failed and what follows, an
//! on-failure task that fires only on failure, two steps racing that start each task
//! once, and jobs of another organization or team refused at save and at run start.

use crate::helpers::{SpawnOptions, TestApp, TestUser, server_url, spawn_app, spawn_app_with};
use hakobu::workflows::advance;
use hakobu_core::ids::WorkflowRunId;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// A data mart job that runs `statements` on the test database; answers its id.
async fn statements_job(
    app: &TestApp,
    owner: &TestUser,
    c: &str,
    name: &str,
    statements: &str,
) -> String {
    let (status, body) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": name, "team_id": owner.default_team, "settings": {
                "kind": "data_mart",
                "source": {"connection_id": c, "statements": statements},
                "destination": {"connection_id": c},
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn job_task(name: &str, job: &str, after: &[&str]) -> Value {
    json!({"name": name, "action": {"type": "job", "job_id": job}, "after": after, "retries": 0})
}

async fn create_workflow(app: &TestApp, owner: &TestUser, tasks: Value) -> (StatusCode, Value) {
    app.post(
        "/api/workflows",
        &owner.token,
        json!({"name": format!("Flow {}", uuid::Uuid::new_v4().simple()), "team_id": owner.default_team, "spec": {"parallelism": 4, "tasks": tasks}}),
    )
    .await
}

fn fields(body: &Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The run's view once it has ended, polled for at most two minutes.
async fn wait_workflow_end(app: &TestApp, token: &str, run: &str) -> Value {
    hakobu_testkit::wait_until(
        &format!("workflow run {run} ends"),
        Duration::from_secs(120),
        Duration::from_millis(300),
        || async {
            let (_, view) = app.get(&format!("/api/workflow-runs/{run}"), token).await;
            (view["status"] != "running" && view["status"].is_string()).then_some(view)
        },
    )
    .await
}

fn states(view: &Value) -> BTreeMap<String, String> {
    view["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// How many rows each task wrote to `log` (one per execution).
async fn executions(app: &TestApp) -> BTreeMap<String, String> {
    app.query_strings(
        "SELECT task, count(*)::text FROM log WHERE task NOT LIKE '%-start' GROUP BY task",
    )
    .await
    .into_iter()
    .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
    .collect()
}

#[tokio::test]
async fn workflows_are_validated_field_by_field() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let c = app.pg_connection(&owner).await;
    let job = statements_job(&app, &owner, &c, "A", "SELECT 1").await;
    let wait = |name: &str, after: &[&str]| json!({"name": name, "action": {"type": "wait", "seconds": 1}, "after": after});
    let too_many: Vec<Value> = (0..101).map(|i| wait(&format!("t{i}"), &[])).collect();
    let cases = [
        (json!([]), "spec.tasks", "at least one task"),
        (json!(too_many), "spec.tasks", "at most 100 tasks"),
        (
            json!([wait("a", &[]), wait("a", &[])]),
            "spec.tasks[1].name",
            "already named",
        ),
        (
            json!([wait("a", &["a"])]),
            "spec.tasks[0].after[0]",
            "after itself",
        ),
        (
            json!([wait("a", &["nope"])]),
            "spec.tasks[0].after[0]",
            "No task is named",
        ),
        (
            json!([wait("a", &["c"]), wait("b", &["a"]), wait("c", &["b"])]),
            "spec.tasks[0].after[0]",
            "a -> c -> b -> a",
        ),
        (
            json!([{"name": "x", "action": {"type": "job", "job_id": uuid::Uuid::new_v4()}}]),
            "spec.tasks[0].action.job_id",
            "No job you can see",
        ),
        (
            json!([job_task("load", &job, &[]), {"name": "cleanup", "action": {"type": "wait", "seconds": 0}, "after": ["load"], "run_if": "failure"}]),
            "spec.tasks[1].action.seconds",
            "between 1",
        ),
    ];
    for (tasks, field, words) in cases {
        let (status, body) = create_workflow(&app, &owner, tasks.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{tasks}: {body}");
        assert!(fields(&body).iter().any(|f| f == field), "{field}: {body}");
        assert!(body.to_string().contains(words), "{words}: {body}");
    }
    // A body that is not a workflow at all is refused with its path.
    let (status, body) = app
        .post(
            "/api/workflows",
            &owner.token,
            json!({"name": "W", "team_id": owner.default_team, "spec": {"tasks": [{"name": "a", "action": {"type": "shell", "command": "rm -rf /"}}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // A valid one is saved, read back, and replaced.
    let (status, created) =
        create_workflow(&app, &owner, json!([job_task("load", &job, &[])])).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, read) = app.get(&format!("/api/workflows/{id}"), &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["spec"]["tasks"][0]["action"]["job_id"], job.as_str());
    let (status, body) = app
        .put(
            &format!("/api/workflows/{id}"),
            &owner.token,
            json!({"name": "Renamed", "team_id": owner.default_team, "spec": {"tasks": [wait("a", &["a"])]}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .put(
            &format!("/api/workflows/{id}"),
            &owner.token,
            json!({"name": "Renamed", "team_id": owner.default_team, "spec": {"tasks": [wait("a", &[])]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "Renamed");
}

#[tokio::test]
async fn jobs_of_another_organization_or_beyond_the_callers_role_are_refused() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let c = app.pg_connection(&owner).await;
    let job = statements_job(&app, &owner, &c, "Acme job", "SELECT 1").await;
    let (status, created) =
        create_workflow(&app, &owner, json!([job_task("load", &job, &[])])).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let workflow = created["id"].as_str().unwrap().to_owned();

    // Another organization can neither use the job nor see, run or change the workflow.
    let rival = app.signup("Rival").await;
    let (status, body) = create_workflow(&app, &rival, json!([job_task("steal", &job, &[])])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["spec.tasks[0].action.job_id"], "{body}");
    for (status, body) in [
        app.get(&format!("/api/workflows/{workflow}"), &rival.token)
            .await,
        app.post(
            &format!("/api/workflows/{workflow}/runs"),
            &rival.token,
            json!({}),
        )
        .await,
        app.delete(&format!("/api/workflows/{workflow}"), &rival.token)
            .await,
    ] {
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    let (_, list) = app.get("/api/workflows", &rival.token).await;
    assert_eq!(list, json!([]));

    // An editor of another team, with the job shared to view only: seeing is not running.
    let other_team = app.create_team(&owner, "Analysts").await;
    let analyst = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": other_team, "role": "editor"}]),
        )
        .await;
    let share = |role: &'static str| {
        let app = &app;
        let owner = &owner;
        let job = job.clone();
        let other_team = other_team.clone();
        async move {
            let (status, body) = app
                .put(
                    &format!("/api/jobs/{job}/shares"),
                    &owner.token,
                    json!({"shares": [{"team_id": other_team, "role": role}]}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    share("viewer").await;
    let analysts_flow = |tasks: Value| json!({"name": "Analysts' flow", "team_id": other_team, "spec": {"tasks": tasks}});
    let (status, body) = app
        .post(
            "/api/workflows",
            &analyst.token,
            analysts_flow(json!([job_task("load", &job, &[])])),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("does not allow running it"),
        "{body}"
    );
    // Shared to operate: saved. Then the share drops to view: the run start refuses.
    share("operator").await;
    let (status, body) = app
        .post(
            "/api/workflows",
            &analyst.token,
            analysts_flow(json!([job_task("load", &job, &[])])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let analysts_workflow = body["id"].as_str().unwrap().to_owned();
    share("viewer").await;
    let (status, body) = app
        .post(
            &format!("/api/workflows/{analysts_workflow}/runs"),
            &analyst.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.to_string().contains("spec.tasks[0].action.job_id"),
        "{body}"
    );
    let (_, runs) = app
        .get(
            &format!("/api/workflows/{analysts_workflow}/runs"),
            &analyst.token,
        )
        .await;
    assert_eq!(runs, json!([]));
}

/// Two replicas step the same workflow run at once: every task starts once. The runs are
/// never dispatched here; the test ends them itself, as a runner's report would.
#[tokio::test]
async fn concurrent_steps_start_each_task_once() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let c = app.pg_connection(&owner).await;
    let mut jobs = BTreeMap::new();
    for name in ["a", "b", "c", "d"] {
        jobs.insert(
            name,
            statements_job(&app, &owner, &c, name, "SELECT 1").await,
        );
    }
    let (status, created) = create_workflow(
        &app,
        &owner,
        json!([
            job_task("a", &jobs["a"], &[]),
            job_task("b", &jobs["b"], &["a"]),
            job_task("c", &jobs["c"], &["a"]),
            job_task("d", &jobs["d"], &["b", "c"]),
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let workflow = created["id"].as_str().unwrap();
    let (status, run) = app
        .post(
            &format!("/api/workflows/{workflow}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run_id: WorkflowRunId = run["id"].as_str().unwrap().parse().unwrap();
    let pool = hakobu::db::build_pool(&format!("{}/{}", server_url(), app.db_name), 10).unwrap();

    let race = || async {
        let steps = futures::future::join_all((0..8).map(|_| {
            let pool = pool.clone();
            async move {
                let mut conn = pool.get().await.unwrap();
                advance(&mut conn, run_id).await.unwrap()
            }
        }))
        .await;
        let mut started: Vec<String> = steps.into_iter().flat_map(|s| s.started).collect();
        started.sort();
        started
    };
    let runs_per_job = || async {
        app.query_strings("SELECT job_id::text, count(*)::text FROM runs GROUP BY job_id")
            .await
            .into_iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(race().await, ["a"]);
    assert_eq!(
        runs_per_job().await,
        BTreeMap::from([(jobs["a"].clone(), "1".to_owned())])
    );
    // The same again: nothing new is due.
    assert_eq!(race().await, Vec::<String>::new());

    // A's run ends (as its runner would report): B and C start, each once.
    let (_, view) = app
        .get(&format!("/api/workflow-runs/{run_id}"), &owner.token)
        .await;
    let a_run: hakobu_core::ids::RunId = view["tasks"][0]["run_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let succeeded = hakobu_core::api::runs::RunnerResult {
        outcome: hakobu_core::api::runs::RunnerOutcome::Succeeded,
        rows_read: 0,
        rows_written: 0,
        rows_skipped: 0,
        bytes_read: 0,
        bytes_written: 0,
        error: None,
        next_state: None,
    };
    {
        let mut conn = pool.get().await.unwrap();
        hakobu::runs::finish(&mut conn, a_run, succeeded.clone())
            .await
            .unwrap();
    }
    // The run's end woke the workflow run.
    let wake = app
        .query_strings(&format!(
            "SELECT (wake_at <= now())::text FROM workflow_runs WHERE id = '{run_id}'"
        ))
        .await;
    assert_eq!(wake, [[Some("true".to_owned())]]);
    assert_eq!(race().await, ["b", "c"]);
    let counts = runs_per_job().await;
    assert_eq!(counts.len(), 3, "{counts:?}");
    assert!(counts.values().all(|n| n == "1"), "{counts:?}");
    assert!(!counts.contains_key(&jobs["d"]), "{counts:?}");
}

/// A -> B, C -> D with real runners: B and C run at the same time, D after both; an
/// on-failure alert after C stays skipped. Then C fails in a second run: the alert fires
/// and D is skipped; fixed and resumed, only C and D run again.
#[tokio::test]
async fn a_diamond_runs_in_order_and_resumes_from_the_failed_task() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE log (task text, at timestamptz DEFAULT clock_timestamp()); CREATE TABLE gate (ok int); INSERT INTO gate VALUES (1);")
        .await;
    let c = app.pg_connection(&owner).await;
    let log = |task: &str| format!("INSERT INTO log (task) VALUES ('{task}')");
    // B and C note their start, sleep, and note their end; the rows commit at the end but
    // keep the times they were written.
    let slow = |task: &str, source: &str| {
        format!(
            "{}; INSERT INTO log (task) SELECT '{task}' FROM {source}, pg_sleep(2)",
            log(&format!("{task}-start"))
        )
    };
    let a = statements_job(&app, &owner, &c, "A", &log("a")).await;
    let b = statements_job(&app, &owner, &c, "B", &slow("b", "(SELECT 1) AS one")).await;
    // C reads `gate`: without the table it fails.
    let cj = statements_job(&app, &owner, &c, "C", &slow("c", "gate")).await;
    let d = statements_job(&app, &owner, &c, "D", &log("d")).await;
    let alert = statements_job(&app, &owner, &c, "Alert", &log("alert")).await;
    let (status, created) = create_workflow(
        &app,
        &owner,
        json!([
            job_task("a", &a, &[]),
            job_task("b", &b, &["a"]),
            job_task("c", &cj, &["a"]),
            job_task("d", &d, &["b", "c"]),
            {"name": "alert", "action": {"type": "job", "job_id": alert}, "after": ["c"], "run_if": "failure"},
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let workflow = created["id"].as_str().unwrap().to_owned();

    // All is well: every task but the alert succeeds, in the diamond's order.
    let (status, run) = app
        .post(
            &format!("/api/workflows/{workflow}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let ended = wait_workflow_end(&app, &owner.token, run["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(
        states(&ended),
        BTreeMap::from([
            ("a".into(), "succeeded".into()),
            ("b".into(), "succeeded".into()),
            ("c".into(), "succeeded".into()),
            ("d".into(), "succeeded".into()),
            ("alert".into(), "skipped".into()),
        ]),
        "{ended}"
    );
    let at = |task: &'static str| {
        let app = &app;
        async move {
            app.query_strings(&format!(
                "SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS.US') FROM log WHERE task = '{task}'"
            ))
            .await[0][0]
                .clone()
                .unwrap()
        }
    };
    let (a_end, b_start, b_end, c_start, c_end, d_end) = (
        at("a").await,
        at("b-start").await,
        at("b").await,
        at("c-start").await,
        at("c").await,
        at("d").await,
    );
    assert!(a_end < b_start && a_end < c_start, "A before B and C");
    assert!(
        b_start < c_end && c_start < b_end,
        "B ({b_start}..{b_end}) and C ({c_start}..{c_end}) overlap"
    );
    assert!(d_end > b_end && d_end > c_end, "D after B and C");
    assert_eq!(
        executions(&app).await,
        BTreeMap::from([
            ("a".into(), "1".into()),
            ("b".into(), "1".into()),
            ("c".into(), "1".into()),
            ("d".into(), "1".into()),
        ])
    );

    // C fails: the alert fires, D is skipped, the run fails naming C.
    app.sql("DELETE FROM log; DROP TABLE gate;").await;
    let (status, run) = app
        .post(
            &format!("/api/workflows/{workflow}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run = run["id"].as_str().unwrap().to_owned();
    let failed = wait_workflow_end(&app, &owner.token, &run).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains(": c."),
        "{failed}"
    );
    let task = |view: &Value, name: &str| {
        view["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(task(&failed, "c")["state"], "failed", "{failed}");
    assert!(
        task(&failed, "c")["message"]
            .as_str()
            .unwrap()
            .contains("gate"),
        "{failed}"
    );
    assert_eq!(task(&failed, "d")["state"], "skipped", "{failed}");
    assert_eq!(task(&failed, "d")["skipped_for_failure"], true, "{failed}");
    assert_eq!(task(&failed, "alert")["state"], "succeeded", "{failed}");
    let a_run = task(&failed, "a")["run_id"].clone();
    let b_run = task(&failed, "b")["run_id"].clone();
    assert_eq!(
        executions(&app).await,
        BTreeMap::from([
            ("a".into(), "1".into()),
            ("b".into(), "1".into()),
            ("alert".into(), "1".into()),
        ])
    );
    // Resuming a run that is not over, or one that succeeded, is refused.
    let (status, body) = app
        .post(
            &format!(
                "/api/workflow-runs/{}/resume",
                ended["id"].as_str().unwrap()
            ),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Fixed, then resumed: only C and D run again (the alert decides again and is
    // skipped); A and B keep their runs.
    app.sql("CREATE TABLE gate (ok int); INSERT INTO gate VALUES (1);")
        .await;
    let (status, resumed) = app
        .post(
            &format!("/api/workflow-runs/{run}/resume"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["attempt"], 2, "{resumed}");
    let done = wait_workflow_end(&app, &owner.token, &run).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(task(&done, "alert")["state"], "skipped", "{done}");
    assert_eq!(task(&done, "a")["run_id"], a_run, "{done}");
    assert_eq!(task(&done, "b")["run_id"], b_run, "{done}");
    assert_eq!(task(&done, "c")["starts"], 2, "{done}");
    assert_eq!(task(&done, "a")["starts"], 1, "{done}");
    assert_eq!(
        executions(&app).await,
        BTreeMap::from([
            ("a".into(), "1".into()),
            ("b".into(), "1".into()),
            ("c".into(), "1".into()),
            ("d".into(), "1".into()),
            ("alert".into(), "1".into()),
        ])
    );
}

/// Cancelling a workflow run cancels its running job run and starts nothing after it.
#[tokio::test]
async fn cancelling_a_workflow_cancels_its_job_runs() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let c = app.pg_connection(&owner).await;
    let slow = statements_job(&app, &owner, &c, "Slow", "SELECT pg_sleep(60)").await;
    let after = statements_job(&app, &owner, &c, "After", "SELECT 1").await;
    let (status, created) = create_workflow(
        &app,
        &owner,
        json!([
            job_task("slow", &slow, &[]),
            job_task("after", &after, &["slow"])
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let workflow = created["id"].as_str().unwrap();
    let (_, run) = app
        .post(
            &format!("/api/workflows/{workflow}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    let run = run["id"].as_str().unwrap().to_owned();
    let job_run = hakobu_testkit::wait_until(
        "the slow task starts",
        Duration::from_secs(30),
        Duration::from_millis(200),
        || async {
            let (_, view) = app
                .get(&format!("/api/workflow-runs/{run}"), &owner.token)
                .await;
            view["tasks"][0]["run_id"].as_str().map(str::to_owned)
        },
    )
    .await;
    let (status, cancelled) = app
        .post(
            &format!("/api/workflow-runs/{run}/cancel"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(states(&cancelled)["after"], "cancelled", "{cancelled}");
    let ended = app.wait_for_run_end(&owner.token, &job_run).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    let (status, body) = app
        .post(
            &format!("/api/workflow-runs/{run}/cancel"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, view) = app
        .get(&format!("/api/workflow-runs/{run}"), &owner.token)
        .await;
    assert_eq!(view["tasks"][1]["run_id"], Value::Null, "{view}");
}

/// The runs list answers the latest `limit` runs, newest first (the workflows page asks
/// for the last one of each workflow); a limit out of range is a 422 at `limit`; another
/// organization's workflow is 404 whatever the limit.
#[tokio::test]
async fn the_runs_list_answers_the_latest_runs_up_to_the_limit() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let (status, created) = create_workflow(
        &app,
        &owner,
        json!([{"name": "pause", "action": {"type": "wait", "seconds": 3600}}]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let workflow = created["id"].as_str().unwrap();
    let mut started = Vec::new();
    for _ in 0..2 {
        let (status, run) = app
            .post(
                &format!("/api/workflows/{workflow}/runs"),
                &owner.token,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{run}");
        started.push(run["id"].as_str().unwrap().to_owned());
    }
    let ids = |body: &Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, all) = app
        .get(&format!("/api/workflows/{workflow}/runs"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(ids(&all), [started[1].clone(), started[0].clone()]);
    let (status, last) = app
        .get(
            &format!("/api/workflows/{workflow}/runs?limit=1"),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{last}");
    assert_eq!(ids(&last), [started[1].clone()]);
    for bad in ["0", "101", "-1"] {
        let (status, body) = app
            .get(
                &format!("/api/workflows/{workflow}/runs?limit={bad}"),
                &owner.token,
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(fields(&body), ["limit"], "{bad}");
    }
    let rival = app.signup("Rival").await;
    let (status, body) = app
        .get(
            &format!("/api/workflows/{workflow}/runs?limit=1"),
            &rival.token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn a_scheduled_workflow_starts_at_its_time_with_its_variables() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE days (day text, tag text)").await;
    let c = app.pg_connection(&owner).await;
    // The job's own values are "none": the workflow's must replace them.
    let (status, body) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Days", "team_id": owner.default_team, "settings": {
                "kind": "data_mart",
                "source": {"connection_id": c, "statements": "INSERT INTO days VALUES ($day$, $tag$)"},
                "destination": {"connection_id": c},
                "variables": [
                    {"name": "day", "value": {"kind": "string", "value": "none"}},
                    {"name": "tag", "value": {"kind": "string", "value": "none"}}
                ],
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let job = body["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            "/api/workflows",
            &owner.token,
            json!({"name": "Nightly", "team_id": owner.default_team, "spec": {
                "overlap": "skip",
                "variables": [
                    {"name": "day", "value": {"kind": "timestamp", "format": "%Y-%m-%d", "timezone": "Asia/Tokyo",
                        "offset": {"quantity": 1, "unit": "day", "direction": "ago"}}},
                    {"name": "tag", "value": {"kind": "string", "value": "for $day$"}}
                ],
                "tasks": [job_task("load", &job, &[])]
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let workflow = body["id"].as_str().unwrap().to_owned();
    // A query variable is a job's, not a workflow's: refused at its field.
    let (status, body) = app
        .put(
            &format!("/api/workflows/{workflow}"),
            &owner.token,
            json!({"name": "Nightly", "team_id": owner.default_team, "spec": {
                "variables": [{"name": "q", "value": {"kind": "query", "connection_id": c, "sql": "SELECT 1"}}],
                "tasks": [job_task("load", &job, &[])]
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        fields(&body).contains(&"spec.variables[0].value.kind".to_owned()),
        "{body}"
    );

    let (status, schedule) = app
        .post(
            &format!("/api/workflows/{workflow}/schedules"),
            &owner.token,
            json!({"settings": {"recurrence": {"kind": "daily", "time": "02:00"}, "timezone": "Asia/Tokyo"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");
    assert_eq!(schedule["workflow_id"], workflow.as_str());
    assert_eq!(schedule["job_id"], Value::Null);
    assert_eq!(schedule["target_name"], "Nightly");
    let schedule_id = schedule["id"].as_str().unwrap().to_owned();
    let (_, listed) = app
        .get(
            &format!("/api/workflows/{workflow}/schedules"),
            &owner.token,
        )
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let (_, all) = app.get("/api/schedules", &owner.token).await;
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == schedule_id.as_str()),
        "{all}"
    );
    // 02:00 in Tokyo on 22 November is 17:00 UTC on the 21st.
    app.sql(&format!(
        "UPDATE schedules SET next_fire_at = '2026-11-21T17:00:00Z' WHERE id = '{schedule_id}'"
    ))
    .await;
    let scheduler = crate::schedules::scheduler(&app);
    let now: chrono::DateTime<chrono::Utc> = "2026-11-21T17:00:20Z".parse().unwrap();
    assert_eq!(scheduler.fire_due_once(now).await.unwrap(), 1);
    let runs = app
        .query_strings(&format!(
            "SELECT id::text, trigger, to_char(scheduled_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI') FROM workflow_runs WHERE workflow_id = '{workflow}'"
        ))
        .await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0][1].as_deref(), Some("schedule"));
    assert_eq!(runs[0][2].as_deref(), Some("2026-11-21T17:00"));
    // The same fire time again (a second scheduler round that saw it due): no second run.
    app.sql(&format!(
        "UPDATE schedules SET next_fire_at = '2026-11-21T17:00:00Z' WHERE id = '{schedule_id}'"
    ))
    .await;
    assert_eq!(scheduler.fire_due_once(now).await.unwrap(), 0);

    let run = runs[0][0].clone().unwrap();
    let view = wait_workflow_end(&app, &owner.token, &run).await;
    assert_eq!(view["status"], "succeeded", "{view}");
    assert_eq!(view["trigger"], "schedule");
    // The day before the fire time, in Tokyo; the job run's "as of" is the fire time.
    assert_eq!(
        app.query_strings("SELECT day, tag FROM days").await,
        [[
            Some("2026-11-21".to_owned()),
            Some("for 2026-11-21".to_owned())
        ]]
    );
    let job_runs = app
        .query_strings(&format!(
            "SELECT to_char(scheduled_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI'), trigger FROM runs WHERE job_id = '{job}'"
        ))
        .await;
    assert_eq!(
        job_runs,
        [[
            Some("2026-11-21T17:00".to_owned()),
            Some("workflow".to_owned())
        ]]
    );
    let (_, schedule) = app
        .get(
            &format!("/api/workflows/{workflow}/schedules"),
            &owner.token,
        )
        .await;
    assert_eq!(schedule[0]["consecutive_failures"], 0, "{schedule}");

    // Another organization sees neither the workflow's schedules nor may add one.
    let stranger = app.signup("Globex").await;
    let (status, _) = app
        .get(
            &format!("/api/workflows/{workflow}/schedules"),
            &stranger.token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &format!("/api/workflows/{workflow}/schedules"),
            &stranger.token,
            json!({"settings": {"recurrence": {"kind": "daily", "time": "02:00"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .delete(&format!("/api/schedules/{schedule_id}"), &stranger.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// A workflow variable that a job writes into SQL unquoted (`raw`) is an editor's to give,
/// as a manual run's explicit value is: an operator through a share cannot smuggle SQL in.
#[tokio::test]
async fn a_workflow_variable_for_a_raw_job_variable_needs_the_jobs_editor() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let c = app.pg_connection(&owner).await;
    let (status, body) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Raw", "team_id": owner.default_team, "settings": {
                "kind": "data_mart",
                "source": {"connection_id": c, "statements": "SELECT $cond$"},
                "destination": {"connection_id": c},
                "variables": [{"name": "cond", "value": {"kind": "string", "value": "1"}, "in_sql": "raw"}],
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let job = body["id"].as_str().unwrap().to_owned();
    let other_team = app.create_team(&owner, "Analysts").await;
    let analyst = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": other_team, "role": "editor"}]),
        )
        .await;
    let (status, body) = app
        .put(
            &format!("/api/jobs/{job}/shares"),
            &owner.token,
            json!({"shares": [{"team_id": other_team, "role": "operator"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let flow = |variables: Value| {
        json!({"name": format!("Flow {}", uuid::Uuid::new_v4().simple()), "team_id": other_team, "spec": {
            "variables": variables,
            "tasks": [job_task("run", &job, &[])]
        }})
    };
    let raw = json!([{"name": "cond", "value": {"kind": "string", "value": "1; DROP TABLE x"}}]);
    let (status, body) = app
        .post("/api/workflows", &analyst.token, flow(raw.clone()))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["spec.variables[0].name"], "{body}");
    // A variable the job does not write raw is fine; the owner (editor of the job) may too.
    let (status, body) = app
        .post(
            "/api/workflows",
            &analyst.token,
            flow(json!([{"name": "other", "value": {"kind": "string", "value": "x"}}])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut owners = flow(raw);
    owners["team_id"] = json!(owner.default_team);
    let (status, body) = app.post("/api/workflows", &owner.token, owners).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The app is killed (its runtime dropped: server, dispatcher and workflow engine at once)
/// while the first of two tasks has its job run running; a new app on the same database
/// takes the runner's reports (through a relay the runner was given) and the workflow
/// finishes: the second task starts exactly once and the run succeeds.
#[tokio::test]
async fn the_app_killed_mid_workflow_and_restarted_finishes_it() {
    let relay = crate::helpers::Relay::start().await;
    // Heartbeats may be missed while no app listens: a generous timeout, so the gap is not
    // taken for a dead runner on a loaded machine.
    let options = |database: Option<String>, secret_key: Option<String>| SpawnOptions {
        dispatcher: true,
        runner_app_url: Some(relay.url.clone()),
        heartbeat: (Duration::from_secs(1), Duration::from_secs(60)),
        database,
        secret_key,
        ..Default::default()
    };
    // The first app lives in a runtime of its own, so dropping that runtime stops all of it
    // mid-step, as a killed process would; the runner it started lives on.
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let first = doomed
        .spawn(spawn_app_with(options(None, None)))
        .await
        .unwrap();
    relay.forward_to(&first.address);
    let owner = first.signup("Acme").await;
    first
        .sql("CREATE TABLE log (task text, at timestamptz DEFAULT clock_timestamp());")
        .await;
    let c = first.pg_connection(&owner).await;
    let slow = statements_job(
        &first,
        &owner,
        &c,
        "Slow",
        "SELECT pg_sleep(4); INSERT INTO log (task) VALUES ('slow')",
    )
    .await;
    let then = statements_job(
        &first,
        &owner,
        &c,
        "Then",
        "INSERT INTO log (task) VALUES ('then')",
    )
    .await;
    let (status, created) = create_workflow(
        &first,
        &owner,
        json!([
            job_task("slow", &slow, &[]),
            job_task("then", &then, &["slow"])
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let workflow = created["id"].as_str().unwrap();
    let (status, run) = first
        .post(
            &format!("/api/workflows/{workflow}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run = run["id"].as_str().unwrap().to_owned();
    let slow_run = hakobu_testkit::wait_until(
        "the slow task's runner is running",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || async {
            let (_, view) = first
                .get(&format!("/api/workflow-runs/{run}"), &owner.token)
                .await;
            let job_run = view["tasks"][0]["run_id"].as_str()?.to_owned();
            let (_, r) = first
                .get(&format!("/api/runs/{job_run}"), &owner.token)
                .await;
            (r["status"] == "running").then_some(job_run)
        },
    )
    .await;
    let (_, before) = first
        .get(&format!("/api/workflow-runs/{run}"), &owner.token)
        .await;
    assert_eq!(before["status"], "running", "{before}");
    assert_eq!(states(&before)["then"], "pending", "{before}");

    doomed.shutdown_background();
    // Nobody listens for a moment; the runner's reports meanwhile fail and are offered again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        first
            .client
            .get(format!("{}/healthz", first.address))
            .send()
            .await
            .is_err(),
        "the first app is gone"
    );
    let restarted = spawn_app_with(options(
        Some(first.db_name.clone()),
        Some(first.secret_key.clone()),
    ))
    .await;
    relay.forward_to(&restarted.address);

    let ended = wait_workflow_end(&restarted, &owner.token, &run).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(
        states(&ended),
        BTreeMap::from([
            ("slow".into(), "succeeded".into()),
            ("then".into(), "succeeded".into()),
        ]),
        "{ended}"
    );
    assert_eq!(ended["tasks"][0]["run_id"], slow_run.as_str(), "{ended}");
    // A few more engine rounds start nothing new.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for job in [&slow, &then] {
        let (_, runs) = restarted
            .get(&format!("/api/runs?job={job}"), &owner.token)
            .await;
        assert_eq!(runs["total"], 1, "one job run of {job}: {runs}");
    }
    assert_eq!(
        executions(&restarted).await,
        BTreeMap::from([("slow".into(), "1".into()), ("then".into(), "1".into())])
    );
    // `first` keeps the database until here.
    drop(restarted);
    drop(first);
}

/// The outbox rows a workflow run's end wrote: (event, rule, error of the context).
async fn workflow_notifications(app: &TestApp, run: &str) -> Vec<(String, String, String)> {
    app.query_strings(&format!(
        "SELECT event, rule_id::text, context->>'error' FROM notification_outbox \
         WHERE context->>'workflow_run_id' = '{run}' ORDER BY event"
    ))
    .await
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap(),
            r[1].clone().unwrap_or_default(),
            r[2].clone().unwrap_or_default(),
        )
    })
    .collect()
}

async fn workflow_rule(app: &TestApp, owner: &TestUser, workflow: &str, body: Value) -> String {
    let (status, created) = app
        .post(
            &format!("/api/workflows/{workflow}/notification-rules"),
            &owner.token,
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["workflow_id"], workflow, "{created}");
    assert_eq!(created["job_id"], Value::Null, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// A failed workflow run writes exactly one notification for the workflow's failure rule,
/// in the step that ends the run, naming the failed task (and not the one that succeeded);
/// its success rule stays silent. A workflow with a failure-only rule that succeeds writes
/// nothing.
#[tokio::test]
async fn workflow_rules_notify_the_failed_task_once_and_nothing_on_success() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let c = app.pg_connection(&owner).await;
    let dest = crate::notifications::destination(
        &app,
        &owner,
        "Ops hook",
        json!({"kind": "webhook", "url": "https://ops.example/hook"}),
    )
    .await;
    let fine = statements_job(&app, &owner, &c, "Fine", "SELECT 1").await;
    let broken = statements_job(
        &app,
        &owner,
        &c,
        "Broken",
        "INSERT INTO no_such_table VALUES (1)",
    )
    .await;

    let (_, failing) = create_workflow(
        &app,
        &owner,
        json!([
            job_task("load", &fine, &[]),
            job_task("mart", &broken, &["load"])
        ]),
    )
    .await;
    let failing = failing["id"].as_str().unwrap().to_owned();
    let on_failure = workflow_rule(
        &app,
        &owner,
        &failing,
        json!({"destination_id": dest, "event": "failure"}),
    )
    .await;
    workflow_rule(
        &app,
        &owner,
        &failing,
        json!({"destination_id": dest, "event": "success"}),
    )
    .await;
    let (_, succeeding) =
        create_workflow(&app, &owner, json!([job_task("load", &fine, &[])])).await;
    let succeeding = succeeding["id"].as_str().unwrap().to_owned();
    workflow_rule(
        &app,
        &owner,
        &succeeding,
        json!({"destination_id": dest, "event": "failure"}),
    )
    .await;
    // Workflow rules are not the organization's defaults for jobs.
    let (_, defaults) = app.get("/api/notification-rules", &owner.token).await;
    assert_eq!(defaults, json!([]));
    let (_, listed) = app
        .get(
            &format!("/api/workflows/{failing}/notification-rules"),
            &owner.token,
        )
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");

    let start = |workflow: String| {
        let (app, owner) = (&app, &owner);
        async move {
            let (status, run) = app
                .post(
                    &format!("/api/workflows/{workflow}/runs"),
                    &owner.token,
                    json!({}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{run}");
            run["id"].as_str().unwrap().to_owned()
        }
    };
    let failed_run = start(failing.clone()).await;
    let ok_run = start(succeeding.clone()).await;
    let failed = wait_workflow_end(&app, &owner.token, &failed_run).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let ok = wait_workflow_end(&app, &owner.token, &ok_run).await;
    assert_eq!(ok["status"], "succeeded", "{ok}");
    // More engine rounds write nothing more.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let sent = workflow_notifications(&app, &failed_run).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (event, rule, error) = &sent[0];
    assert_eq!(event, "failure");
    assert_eq!(rule, &on_failure);
    assert!(error.contains("mart"), "{error}");
    assert!(!error.contains("load"), "{error}");
    assert_eq!(workflow_notifications(&app, &ok_run).await, vec![]);
}

/// A workflow's rules: editors of its team manage them (a viewer gets 403), events other
/// than success and failure are a 422 at `event`, and another organization gets 404 for
/// the workflow's rules and for changing one of them.
#[tokio::test]
async fn workflow_rules_are_for_its_editors_and_another_organization_gets_404() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let other = app.signup("Beta").await;
    let dest = crate::notifications::destination(
        &app,
        &owner,
        "Ops hook",
        json!({"kind": "webhook", "url": "https://ops.example/hook"}),
    )
    .await;
    let b_dest = crate::notifications::destination(
        &app,
        &other,
        "Beta hook",
        json!({"kind": "webhook", "url": "https://beta.example/hook"}),
    )
    .await;
    let (status, workflow) = create_workflow(
        &app,
        &owner,
        json!([{"name": "pause", "action": {"type": "wait", "seconds": 1}}]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{workflow}");
    let workflow = workflow["id"].as_str().unwrap().to_owned();
    let rules = format!("/api/workflows/{workflow}/notification-rules");

    let (status, body) = app
        .post(
            &rules,
            &owner.token,
            json!({"destination_id": dest, "event": "rows_below", "threshold": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), vec!["event".to_owned()], "{body}");
    let rule = workflow_rule(
        &app,
        &owner,
        &workflow,
        json!({"destination_id": dest, "event": "failure"}),
    )
    .await;
    // A workflow rule stays a success or failure rule when changed.
    let (status, body) = app
        .put(
            &format!("/api/notification-rules/{rule}"),
            &owner.token,
            json!({"destination_id": dest, "event": "check_failed"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let viewer = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": owner.default_team, "role": "viewer"}]),
        )
        .await;
    let (status, listed) = app.get(&rules, &viewer.token).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let (status, body) = app
        .post(
            &rules,
            &viewer.token,
            json!({"destination_id": dest, "event": "success"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .delete(&format!("/api/notification-rules/{rule}"), &viewer.token)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    let attempts = [
        ("GET rules", app.get(&rules, &other.token).await),
        (
            "POST rule",
            app.post(
                &rules,
                &other.token,
                json!({"destination_id": b_dest, "event": "success"}),
            )
            .await,
        ),
        (
            "PUT rule",
            app.put(
                &format!("/api/notification-rules/{rule}"),
                &other.token,
                json!({"destination_id": b_dest, "event": "success"}),
            )
            .await,
        ),
        (
            "DELETE rule",
            app.delete(&format!("/api/notification-rules/{rule}"), &other.token)
                .await,
        ),
    ];
    for (what, (status, body)) in attempts {
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
    }
    let (_, still) = app.get(&rules, &owner.token).await;
    assert_eq!(still.as_array().unwrap().len(), 1, "{still}");
    assert_eq!(still[0]["event"], "failure", "{still}");
}

// Waiting until a time of day, workflows that run workflows, and retries with backoff.

fn workflow_task(name: &str, workflow: &str, after: &[&str]) -> Value {
    json!({"name": name, "action": {"type": "workflow", "workflow_id": workflow}, "after": after})
}

async fn named_workflow(app: &TestApp, owner: &TestUser, name: &str, tasks: Value) -> String {
    let (status, body) = app
        .post(
            "/api/workflows",
            &owner.token,
            json!({"name": name, "team_id": owner.default_team, "spec": {"tasks": tasks}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn runner_result(ok: bool) -> hakobu_core::api::runs::RunnerResult {
    hakobu_core::api::runs::RunnerResult {
        outcome: if ok {
            hakobu_core::api::runs::RunnerOutcome::Succeeded
        } else {
            hakobu_core::api::runs::RunnerOutcome::Failed
        },
        rows_read: 0,
        rows_written: 0,
        rows_skipped: 0,
        bytes_read: 0,
        bytes_written: 0,
        error: (!ok).then(|| "the mart's SQL failed".to_owned()),
        next_state: None,
    }
}

/// One engine step of a workflow run, as the worker would take it.
async fn step(pool: &hakobu::db::DbPool, run: &str) -> hakobu::workflows::Step {
    let mut conn = pool.get().await.unwrap();
    advance(&mut conn, run.parse().unwrap()).await.unwrap()
}

/// Ends the last attempt of a workflow task's job run (as its runner would report).
async fn end_job_task(app: &TestApp, pool: &hakobu::db::DbPool, run: &str, ok: bool) {
    let last = app
        .query_strings(&format!(
            "SELECT r.id::text FROM runs r JOIN workflow_task_runs t ON t.run_id = r.root_run_id \
             WHERE t.workflow_run_id = '{run}' ORDER BY r.attempt DESC LIMIT 1"
        ))
        .await;
    let id: hakobu_core::ids::RunId = last[0][0].clone().unwrap().parse().unwrap();
    let mut conn = pool.get().await.unwrap();
    hakobu::runs::finish(&mut conn, id, runner_result(ok))
        .await
        .unwrap();
}

async fn run_status(app: &TestApp, owner: &TestUser, run: &str) -> Value {
    let (status, view) = app
        .get(&format!("/api/workflow-runs/{run}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    view
}

fn pool_of(app: &TestApp) -> hakobu::db::DbPool {
    hakobu::db::build_pool(&format!("{}/{}", server_url(), app.db_name), 4).unwrap()
}

#[tokio::test]
async fn wait_until_and_retry_delays_are_validated_and_the_wait_ends_at_the_time() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let until = |time: &str, zone: &str| json!([{"name": "w", "action": {"type": "wait_until", "time": time, "time_zone": zone}}]);
    let (status, body) = create_workflow(&app, &owner, until("9:30", "Asia/Tokio")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        fields(&body),
        [
            "spec.tasks[0].action.time",
            "spec.tasks[0].action.time_zone"
        ],
        "{body}"
    );
    let (status, body) = create_workflow(
        &app,
        &owner,
        json!([{"name": "w", "action": {"type": "wait", "seconds": 5}, "retry_delay_seconds": 0}]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        fields(&body),
        ["spec.tasks[0].retry_delay_seconds"],
        "{body}"
    );

    // A valid one waits until the next such moment, computed at the task's start.
    let (status, created) = create_workflow(&app, &owner, until("09:30", "Asia/Tokyo")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let workflow = created["id"].as_str().unwrap();
    let (_, run) = app
        .post(
            &format!("/api/workflows/{workflow}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    let run = run["id"].as_str().unwrap().to_owned();
    let pool = pool_of(&app);
    assert_eq!(step(&pool, &run).await.started, ["w"]);
    let rows = app
        .query_strings(&format!(
            "SELECT started_at::text, wait_until::text, \
             (to_char(wait_until AT TIME ZONE 'Asia/Tokyo', 'HH24:MI'))::text, \
             (wait_until >= started_at AND wait_until < started_at + interval '1 day')::text \
             FROM workflow_task_runs WHERE workflow_run_id = '{run}'"
        ))
        .await;
    assert_eq!(rows[0][2].as_deref(), Some("09:30"), "{rows:?}");
    assert_eq!(rows[0][3].as_deref(), Some("true"), "{rows:?}");
    // And the run's next look is no later than that moment.
    let wake = app
        .query_strings(&format!(
            "SELECT (wake_at <= (SELECT wait_until FROM workflow_task_runs WHERE workflow_run_id = '{run}'))::text FROM workflow_runs WHERE id = '{run}'"
        ))
        .await;
    assert_eq!(wake, [[Some("true".to_owned())]]);
}

/// A workflow that includes itself, directly or through another, is refused at save with
/// the loop named; another organization's workflow is "no workflow you can see", as an
/// id that exists nowhere.
#[tokio::test]
async fn workflows_that_include_themselves_or_others_workflows_are_refused() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let wait = json!({"name": "pause", "action": {"type": "wait", "seconds": 1}});
    let a = named_workflow(&app, &owner, "Flow A", json!([wait])).await;
    let save_a = |tasks: Value| {
        let app = &app;
        let owner = &owner;
        let a = a.clone();
        async move {
            app.put(
                &format!("/api/workflows/{a}"),
                &owner.token,
                json!({"name": "Flow A", "team_id": owner.default_team, "spec": {"tasks": tasks}}),
            )
            .await
        }
    };
    let (status, body) = save_a(json!([wait, workflow_task("self", &a, &["pause"])])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        fields(&body),
        ["spec.tasks[1].action.workflow_id"],
        "{body}"
    );
    assert!(body.to_string().contains("Flow A -> Flow A"), "{body}");

    let b = named_workflow(&app, &owner, "Flow B", json!([workflow_task("a", &a, &[])])).await;
    let (status, body) = save_a(json!([workflow_task("b", &b, &[])])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        fields(&body),
        ["spec.tasks[0].action.workflow_id"],
        "{body}"
    );
    assert!(
        body.to_string().contains("Flow A -> Flow B -> Flow A"),
        "{body}"
    );
    let (_, saved) = app.get(&format!("/api/workflows/{a}"), &owner.token).await;
    assert_eq!(
        saved["spec"]["tasks"][0]["name"], "pause",
        "unchanged: {saved}"
    );

    // Another organization's workflow: the same answer as an id that exists nowhere.
    let rival = app.signup("Rival").await;
    let theirs = named_workflow(&app, &rival, "Theirs", json!([wait])).await;
    let mut messages = Vec::new();
    for id in [theirs, uuid::Uuid::new_v4().to_string()] {
        let (status, body) =
            create_workflow(&app, &owner, json!([workflow_task("x", &id, &[])])).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(
            fields(&body),
            ["spec.tasks[0].action.workflow_id"],
            "{body}"
        );
        messages.push(body["fields"][0]["message"].clone());
    }
    assert_eq!(messages[0], messages[1]);
    assert!(
        messages[0].to_string().contains("No workflow you can see"),
        "{messages:?}"
    );

    // A loop made later through a workflow saved since (B now runs A, and A is changed
    // in the database behind the API's back) is refused at the start.
    app.sql(&format!(
        "UPDATE workflows SET spec = '{}' WHERE id = '{a}'",
        json!({"tasks": [workflow_task("b", &b, &[])]})
    ))
    .await;
    let (status, body) = app
        .post(&format!("/api/workflows/{b}/runs"), &owner.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body.to_string().contains("Flow B -> Flow A -> Flow B"),
        "{body}"
    );
}

/// A parent runs a child whose job succeeds: the child runs with the parent's starter,
/// its end wakes the parent, and the parent's task succeeds with it.
#[tokio::test]
async fn a_parent_runs_a_child_workflow_that_succeeds() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let c = app.pg_connection(&owner).await;
    let job = statements_job(&app, &owner, &c, "Mart", "SELECT 1").await;
    let child = named_workflow(&app, &owner, "Child", json!([job_task("mart", &job, &[])])).await;
    let parent = named_workflow(
        &app,
        &owner,
        "Parent",
        json!([workflow_task("child", &child, &[]), {"name": "pause", "action": {"type": "wait", "seconds": 1}, "after": ["child"]}]),
    )
    .await;
    let (status, run) = app
        .post(
            &format!("/api/workflows/{parent}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run = run["id"].as_str().unwrap().to_owned();
    let pool = pool_of(&app);
    assert_eq!(step(&pool, &run).await.started, ["child"]);
    // A second step starts no second child.
    assert_eq!(step(&pool, &run).await.started, Vec::<String>::new());
    let view = run_status(&app, &owner, &run).await;
    let child_run = view["tasks"][0]["workflow_run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let child_view = run_status(&app, &owner, &child_run).await;
    assert_eq!(child_view["workflow_id"], child.as_str());
    assert_eq!(child_view["trigger"], "workflow");
    assert_eq!(child_view["triggered_by"], owner.user_id.as_str());
    assert_eq!(
        app.query_strings(&format!(
            "SELECT count(*)::text FROM workflow_runs WHERE workflow_id = '{child}'"
        ))
        .await,
        [[Some("1".to_owned())]]
    );

    assert_eq!(step(&pool, &child_run).await.started, ["mart"]);
    end_job_task(&app, &pool, &child_run, true).await;
    let ended = step(&pool, &child_run).await;
    assert_eq!(
        ended.status,
        Some(hakobu_core::workflow::WorkflowRunStatus::Succeeded)
    );
    // The child's end woke the parent.
    let wake = app
        .query_strings(&format!(
            "SELECT (wake_at <= now())::text FROM workflow_runs WHERE id = '{run}'"
        ))
        .await;
    assert_eq!(wake, [[Some("true".to_owned())]]);
    assert_eq!(step(&pool, &run).await.started, ["pause"]);
    assert_eq!(
        states(&run_status(&app, &owner, &run).await)["child"],
        "succeeded"
    );
}

/// The child fails: the parent's task retries after its backoff (resuming the child run,
/// not starting another), fails again, and the parent fails; the parent's resume resumes
/// the same child from its failed task, and both succeed.
#[tokio::test]
async fn a_failed_child_is_retried_after_its_backoff_and_resumed_with_its_parent() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let c = app.pg_connection(&owner).await;
    let job = statements_job(&app, &owner, &c, "Mart", "SELECT 1").await;
    let child = named_workflow(&app, &owner, "Child", json!([job_task("mart", &job, &[])])).await;
    let parent = named_workflow(
        &app,
        &owner,
        "Parent",
        json!([{"name": "child", "action": {"type": "workflow", "workflow_id": child}, "retries": 1, "retry_delay_seconds": 30}]),
    )
    .await;
    let (_, run) = app
        .post(
            &format!("/api/workflows/{parent}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    let run = run["id"].as_str().unwrap().to_owned();
    let pool = pool_of(&app);
    step(&pool, &run).await;
    let child_run = run_status(&app, &owner, &run).await["tasks"][0]["workflow_run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let fail_child = || async {
        assert_eq!(step(&pool, &child_run).await.started, ["mart"]);
        end_job_task(&app, &pool, &child_run, false).await;
        let ended = step(&pool, &child_run).await;
        assert_eq!(
            ended.status,
            Some(hakobu_core::workflow::WorkflowRunStatus::Failed)
        );
    };
    fail_child().await;

    // The parent's step sees the failure: the task waits 30 s for its retry.
    let stepped = step(&pool, &run).await;
    assert_eq!(
        stepped.status,
        Some(hakobu_core::workflow::WorkflowRunStatus::Running)
    );
    let task = app
        .query_strings(&format!(
            "SELECT state, failed_attempts::text, round(extract(epoch FROM wait_until - now()))::text, \
             (wake_at <= wait_until)::text, message \
             FROM workflow_task_runs t JOIN workflow_runs r ON r.id = t.workflow_run_id WHERE r.id = '{run}'"
        ))
        .await;
    assert_eq!(task[0][0].as_deref(), Some("pending"), "{task:?}");
    assert_eq!(task[0][1].as_deref(), Some("1"), "{task:?}");
    let left: i64 = task[0][2].clone().unwrap().parse().unwrap();
    assert!(
        (20..=30).contains(&left),
        "the retry waits its 30 s: {task:?}"
    );
    assert_eq!(task[0][3].as_deref(), Some("true"), "{task:?}");
    assert!(
        task[0][4].clone().unwrap().contains("Attempt 1 failed"),
        "{task:?}"
    );
    // Before the backoff has passed nothing starts, however often the run is stepped.
    assert_eq!(step(&pool, &run).await.started, Vec::<String>::new());
    assert_eq!(
        run_status(&app, &owner, &child_run).await["status"],
        "failed"
    );

    // The backoff passes (moved into the past rather than waited for).
    app.sql(&format!(
        "UPDATE workflow_task_runs SET wait_until = now() - interval '1 second' WHERE workflow_run_id = '{run}'"
    ))
    .await;
    assert_eq!(step(&pool, &run).await.started, ["child"]);
    let view = run_status(&app, &owner, &run).await;
    assert_eq!(
        view["tasks"][0]["workflow_run_id"],
        child_run.as_str(),
        "the same child run"
    );
    assert_eq!(view["tasks"][0]["starts"], 2);
    let again = run_status(&app, &owner, &child_run).await;
    assert_eq!(
        (again["status"].as_str(), again["attempt"].as_i64()),
        (Some("running"), Some(2))
    );
    fail_child().await;
    let ended = step(&pool, &run).await;
    assert_eq!(
        ended.status,
        Some(hakobu_core::workflow::WorkflowRunStatus::Failed)
    );
    let view = run_status(&app, &owner, &run).await;
    assert_eq!(states(&view)["child"], "failed");
    assert!(
        view["tasks"][0]["message"]
            .as_str()
            .unwrap()
            .contains("The workflow run failed"),
        "{view}"
    );

    // Resume the parent: the same child resumes from its failed task and succeeds.
    let (status, body) = app
        .post(
            &format!("/api/workflow-runs/{run}/resume"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(step(&pool, &run).await.started, ["child"]);
    assert_eq!(step(&pool, &child_run).await.started, ["mart"]);
    end_job_task(&app, &pool, &child_run, true).await;
    step(&pool, &child_run).await;
    let ended = step(&pool, &run).await;
    assert_eq!(
        ended.status,
        Some(hakobu_core::workflow::WorkflowRunStatus::Succeeded)
    );
    assert_eq!(run_status(&app, &owner, &child_run).await["attempt"], 3);
    assert_eq!(
        app.query_strings(&format!(
            "SELECT count(*)::text FROM workflow_runs WHERE workflow_id = '{child}'"
        ))
        .await,
        [[Some("1".to_owned())]],
        "one child run, resumed twice"
    );
}

#[tokio::test]
async fn cancelling_a_parent_cancels_its_child_run() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let c = app.pg_connection(&owner).await;
    let job = statements_job(&app, &owner, &c, "Mart", "SELECT 1").await;
    let child = named_workflow(&app, &owner, "Child", json!([job_task("mart", &job, &[])])).await;
    let parent = named_workflow(
        &app,
        &owner,
        "Parent",
        json!([workflow_task("child", &child, &[])]),
    )
    .await;
    let (_, run) = app
        .post(
            &format!("/api/workflows/{parent}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    let run = run["id"].as_str().unwrap().to_owned();
    let pool = pool_of(&app);
    step(&pool, &run).await;
    let child_run = run_status(&app, &owner, &run).await["tasks"][0]["workflow_run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    step(&pool, &child_run).await;
    let job_run = run_status(&app, &owner, &child_run).await["tasks"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = app
        .post(
            &format!("/api/workflow-runs/{run}/cancel"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "cancelled");
    let child_view = run_status(&app, &owner, &child_run).await;
    assert_eq!(child_view["status"], "cancelled", "{child_view}");
    assert_eq!(states(&child_view)["mart"], "cancelled");
    let (_, job_view) = app.get(&format!("/api/runs/{job_run}"), &owner.token).await;
    assert_eq!(job_view["status"], "cancelled", "{job_view}");
}

/// The child runs with the rights of the person who started the parent, checked when it
/// starts: once they may no longer run the child workflow, the task fails and says why.
#[tokio::test]
async fn a_child_the_starter_may_no_longer_run_fails_its_task() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let other_team = app.create_team(&owner, "Analysts").await;
    let analyst = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": other_team, "role": "editor"}, {"team_id": owner.default_team, "role": "operator"}]),
        )
        .await;
    let wait = json!({"name": "pause", "action": {"type": "wait", "seconds": 1}});
    let child = named_workflow(&app, &owner, "Owners' flow", json!([wait])).await;
    let (status, body) = app
        .post(
            "/api/workflows",
            &analyst.token,
            json!({"name": "Analysts' flow", "team_id": other_team, "spec": {"tasks": [workflow_task("child", &child, &[])]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let parent = body["id"].as_str().unwrap().to_owned();
    let (status, run) = app
        .post(
            &format!("/api/workflows/{parent}/runs"),
            &analyst.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run = run["id"].as_str().unwrap().to_owned();
    // Between the start and the engine's step, the analyst becomes a viewer there.
    app.sql(&format!(
        "UPDATE team_members SET role = 'viewer' WHERE user_id = '{}' AND team_id = '{}'",
        analyst.user_id, owner.default_team
    ))
    .await;
    let pool = pool_of(&app);
    let stepped = step(&pool, &run).await;
    assert_eq!(
        stepped.status,
        Some(hakobu_core::workflow::WorkflowRunStatus::Failed)
    );
    let view = run_status(&app, &owner, &run).await;
    assert_eq!(view["tasks"][0]["state"], "failed");
    let message = view["tasks"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("\"Owners' flow\" cannot run for the person who started this run"),
        "{message}"
    );
    assert_eq!(
        app.query_strings(&format!(
            "SELECT count(*)::text FROM workflow_runs WHERE workflow_id = '{child}'"
        ))
        .await,
        [[Some("0".to_owned())]]
    );
}

/// A job task's `retry_delay_seconds` is its job run's backoff: the second attempt is
/// queued that long after the first one's end.
#[tokio::test]
async fn a_job_tasks_retry_delay_is_its_job_runs_backoff() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let c = app.pg_connection(&owner).await;
    let job = statements_job(&app, &owner, &c, "Mart", "SELECT 1").await;
    let flow = named_workflow(
        &app,
        &owner,
        "Flow",
        json!([{"name": "mart", "action": {"type": "job", "job_id": job}, "retries": 2, "retry_delay_seconds": 7}]),
    )
    .await;
    let (_, run) = app
        .post(
            &format!("/api/workflows/{flow}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    let run = run["id"].as_str().unwrap().to_owned();
    let pool = pool_of(&app);
    step(&pool, &run).await;
    end_job_task(&app, &pool, &run, false).await;
    end_job_task(&app, &pool, &run, false).await;
    let attempts = app
        .query_strings(
            "SELECT r.attempt::text, r.max_attempts::text, r.retry_backoff_seconds::text, \
             round(extract(epoch FROM r.not_before - p.finished_at))::text \
             FROM runs r JOIN runs p ON p.root_run_id = r.root_run_id AND p.attempt = r.attempt - 1 \
             ORDER BY r.attempt",
        )
        .await;
    assert_eq!(
        attempts,
        [
            ["2", "3", "7", "7"].map(|s| Some(s.to_owned())),
            ["3", "3", "7", "14"].map(|s| Some(s.to_owned())),
        ],
        "7 s, then doubled"
    );
}

// --- check and HTTP tasks -------------------------------------------------------------

fn check_task(name: &str, connection: &str, sql: &str, operator: &str, expected: &str) -> Value {
    json!({"name": name, "action": {"type": "check", "connection_id": connection, "sql": sql,
        "operator": operator, "expected": expected}})
}

fn task<'a>(view: &'a Value, name: &str) -> &'a Value {
    view["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("task {name} in {view}"))
}

async fn run_to_end(app: &TestApp, user: &TestUser, workflow: &str) -> Value {
    let (status, run) = app
        .post(
            &format!("/api/workflows/{workflow}/runs"),
            &user.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    wait_workflow_end(app, &user.token, run["id"].as_str().unwrap()).await
}

#[tokio::test]
async fn check_tasks_pass_or_fail_naming_the_value_and_the_expectation() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE wf_orders (amount int); INSERT INTO wf_orders VALUES (10), (-3);")
        .await;
    let c = app.pg_connection(&owner).await;
    let (status, created) = create_workflow(
        &app,
        &owner,
        json!([
            check_task("loaded", &c, "SELECT count(*) FROM wf_orders", ">", "0"),
            check_task("no negatives", &c, "SELECT count(*) FROM wf_orders WHERE amount < 0", "=", "0"),
            check_task("missing", &c, "SELECT count(*) FROM wf_no_such_table", "=", "0"),
            {"name": "after loaded", "action": {"type": "wait", "seconds": 1}, "after": ["loaded"]},
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let ended = run_to_end(&app, &owner, created["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "failed", "{ended}");
    assert_eq!(
        states(&ended),
        BTreeMap::from([
            ("loaded".into(), "succeeded".into()),
            ("no negatives".into(), "failed".into()),
            ("missing".into(), "failed".into()),
            ("after loaded".into(), "succeeded".into()),
        ]),
        "{ended}"
    );
    let said = |name: &str| {
        task(&ended, name)["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(said("loaded").contains("\"2\""), "{}", said("loaded"));
    let failed = said("no negatives");
    assert!(
        failed.contains("\"1\"") && failed.contains("= \"0\""),
        "the value and the expectation: {failed}"
    );
    assert!(
        said("missing").contains("wf_no_such_table"),
        "{}",
        said("missing")
    );
}

#[tokio::test]
async fn check_tasks_on_connections_beyond_reach_are_refused_at_save_and_at_run() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let c = app.pg_connection(&owner).await;
    // Another organization's connection is unknown to the rival.
    let rival = app.signup("Rival").await;
    let (status, body) = create_workflow(
        &app,
        &rival,
        json!([check_task("steal", &c, "SELECT 1", "=", "1")]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        fields(&body),
        ["spec.tasks[0].action.connection_id"],
        "{body}"
    );
    assert!(body.to_string().contains("No connection"), "{body}");

    // An editor of another team, the connection shared to it at operator: saved.
    let other_team = app.create_team(&owner, "Analysts").await;
    let analyst = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": other_team, "role": "editor"}]),
        )
        .await;
    let share = |shares: Value| {
        let (app, owner, c) = (&app, &owner, c.clone());
        async move {
            let (status, body) = app
                .put(
                    &format!("/api/connections/{c}/shares"),
                    &owner.token,
                    json!({ "shares": shares }),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    share(json!([{"team_id": other_team, "role": "viewer"}])).await;
    let flow = json!({"name": "Analysts' checks", "team_id": other_team,
        "spec": {"tasks": [check_task("count", &c, "SELECT 1", "=", "1")]}});
    let (status, body) = app
        .post("/api/workflows", &analyst.token, flow.clone())
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "viewer is not enough: {body}"
    );
    assert_eq!(
        fields(&body),
        ["spec.tasks[0].action.connection_id"],
        "{body}"
    );
    share(json!([{"team_id": other_team, "role": "operator"}])).await;
    let (status, body) = app.post("/api/workflows", &analyst.token, flow).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let workflow = body["id"].as_str().unwrap().to_owned();
    let ended = run_to_end(&app, &analyst, &workflow).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");

    // The share is revoked after the save: the organization's owner may still start the
    // run, but the check runs with the workflow team's rights, which are gone.
    share(json!([])).await;
    let ended = run_to_end(&app, &owner, &workflow).await;
    assert_eq!(ended["status"], "failed", "{ended}");
    let message = task(&ended, "count")["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("may no longer use connection"),
        "{message}"
    );
}

/// A local HTTP server that records each request and answers by path: `/ok` 200,
/// `/fail` 503 with a short body, `/endless` 500 with a body that never ends.
struct Listener {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

impl Listener {
    async fn start() -> Listener {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let Ok(n) = stream.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let mut lines = head.split("\r\n");
                    let mut request_line = lines.next().unwrap_or_default().split(' ');
                    let method = request_line.next().unwrap_or_default().to_owned();
                    let path = request_line.next().unwrap_or_default().to_owned();
                    let headers: BTreeMap<String, String> = lines
                        .filter_map(|l| l.split_once(": "))
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
                        .collect();
                    let length: usize = headers
                        .get("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = buf[head_end..].to_vec();
                    while body.len() < length {
                        let Ok(n) = stream.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            break;
                        }
                        body.extend_from_slice(&chunk[..n]);
                    }
                    log.lock().unwrap().push(Seen {
                        method,
                        path: path.clone(),
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let answer = |status: &str, body: &str| {
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    match path.as_str() {
                        "/ok" => {
                            let _ = stream.write_all(answer("200 OK", "fine").as_bytes()).await;
                        }
                        "/endless" => {
                            let _ = stream
                                .write_all(b"HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: chunked\r\n\r\n")
                                .await;
                            let piece = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
                            // Until the reader hangs up: a reader without a bound never would.
                            while stream.write_all(piece.as_bytes()).await.is_ok() {}
                        }
                        _ => {
                            let _ = stream
                                .write_all(
                                    answer("503 Service Unavailable", "down for maintenance")
                                        .as_bytes(),
                                )
                                .await;
                        }
                    }
                });
            }
        });
        Listener { url, seen }
    }

    fn seen(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

#[tokio::test]
async fn http_tasks_send_with_an_idempotency_key_and_fail_on_a_bad_status_or_address() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let server = Listener::start().await;
    let url = &server.url;
    let (status, created) = create_workflow(
        &app,
        &owner,
        json!([
            {"name": "ok", "action": {"type": "http", "method": "POST", "url": format!("{url}/ok"),
                "body": "{\"a\": 1}",
                "headers": [{"name": "Content-Type", "value": "application/json"},
                            {"name": "Authorization", "value": "Bearer s3cret-token", "secret": true}]}},
            {"name": "fail", "retries": 1, "retry_delay_seconds": 1, "action": {"type": "http", "method": "GET", "url": format!("{url}/fail")}},
            {"name": "endless", "action": {"type": "http", "method": "GET", "url": format!("{url}/endless")}},
            {"name": "metadata", "action": {"type": "http", "method": "GET",
                "url": "http://169.254.169.254/latest/meta-data/"}},
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let workflow = created["id"].as_str().unwrap().to_owned();
    // The secret value is never answered nor kept in the spec; the header is listed.
    assert!(!created.to_string().contains("s3cret-token"), "{created}");
    let (_, shown) = app
        .get(&format!("/api/workflows/{workflow}"), &owner.token)
        .await;
    assert!(!shown.to_string().contains("s3cret-token"), "{shown}");
    assert_eq!(
        shown["spec"]["tasks"][0]["action"]["headers"][1],
        json!({"name": "Authorization", "secret": true}),
        "{shown}"
    );
    let stored = app
        .query_strings("SELECT spec::text || secrets::text FROM workflows")
        .await;
    assert!(
        !format!("{stored:?}").contains("s3cret-token"),
        "sealed at rest"
    );

    let ended = run_to_end(&app, &owner, &workflow).await;
    assert!(!ended.to_string().contains("s3cret-token"), "{ended}");
    assert_eq!(
        states(&ended),
        BTreeMap::from([
            ("ok".into(), "succeeded".into()),
            ("fail".into(), "failed".into()),
            ("endless".into(), "failed".into()),
            ("metadata".into(), "failed".into()),
        ]),
        "{ended}"
    );
    let run_id = ended["id"].as_str().unwrap();
    let got = server.seen("/ok");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].body, "{\"a\": 1}");
    assert_eq!(got[0].headers["authorization"], "Bearer s3cret-token");
    assert_eq!(
        got[0].headers["idempotency-key"],
        format!("workflow:{run_id}:1:ok:1")
    );
    // One retry: two requests, the same key; the status and the body's start said.
    let fails = server.seen("/fail");
    assert_eq!(fails.len(), 2, "{fails:?}");
    assert_eq!(
        fails[0].headers["idempotency-key"],
        fails[1].headers["idempotency-key"]
    );
    let said = |name: &str| {
        task(&ended, name)["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        said("fail").contains("503") && said("fail").contains("down for maintenance"),
        "{}",
        said("fail")
    );
    // An endless body: the status is said with the body's first bytes, read no further.
    let endless = said("endless");
    assert!(endless.contains("500"), "{endless}");
    assert!(endless.len() < 1000, "bounded: {} bytes", endless.len());
    assert!(server.seen("/endless").len() == 1);
    // The cloud metadata address is the egress policy's to refuse.
    let metadata = said("metadata");
    assert!(metadata.contains("may not be reached"), "{metadata}");

    // Saving the workflow as it was shown keeps the secret value.
    let (status, body) = app
        .put(
            &format!("/api/workflows/{workflow}"),
            &owner.token,
            json!({"name": shown["name"], "description": shown["description"],
                "team_id": shown["team_id"], "spec": shown["spec"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let kept = app
        .query_strings("SELECT secrets::text FROM workflows")
        .await;
    assert!(format!("{kept:?}").contains("ok/authorization"), "{kept:?}");
    // A new secret header with no value is refused at its field.
    let mut spec = shown["spec"].clone();
    spec["tasks"][1]["action"]["headers"] = json!([{"name": "X-Token", "secret": true}]);
    let (status, body) = app
        .put(
            &format!("/api/workflows/{workflow}"),
            &owner.token,
            json!({"name": shown["name"], "team_id": shown["team_id"], "spec": spec}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        fields(&body),
        ["spec.tasks[1].action.headers[0].value"],
        "{body}"
    );
}

#[tokio::test]
async fn http_tasks_to_loopback_are_refused_when_the_policy_closes_it() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        // Only the test databases' port: the listener below is the service's own network.
        egress_allow: "127.0.0.1:5432",
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let server = Listener::start().await;
    let (status, created) = create_workflow(
        &app,
        &owner,
        json!([{"name": "inside", "action": {"type": "http", "method": "GET",
            "url": format!("{}/ok", server.url)}}]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let ended = run_to_end(&app, &owner, created["id"].as_str().unwrap()).await;
    let message = task(&ended, "inside")["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(task(&ended, "inside")["state"], "failed", "{ended}");
    assert!(message.contains("may not be reached"), "{message}");
    assert!(
        server.seen("/ok").is_empty(),
        "no request reached the listener"
    );
}

/// Eight replicas claim a due HTTP task at once: one claim. Once that claim's lease has
/// run out (its replica stopped), the task is claimed again, once.
#[tokio::test]
async fn a_due_task_is_claimed_once_and_again_after_its_lease_ends() {
    use hakobu::models::workflow::TaskRun;
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let (status, created) = create_workflow(
        &app,
        &owner,
        json!([{"name": "call", "action": {"type": "http", "method": "GET", "url": "https://example.com/"}}]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let workflow = created["id"].as_str().unwrap();
    let (status, run) = app
        .post(
            &format!("/api/workflows/{workflow}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run_id: WorkflowRunId = run["id"].as_str().unwrap().parse().unwrap();
    let pool = hakobu::db::build_pool(&format!("{}/{}", server_url(), app.db_name), 10).unwrap();
    let step = advance(&mut pool.get().await.unwrap(), run_id)
        .await
        .unwrap();
    assert_eq!(step.started, ["call"]);
    let race = || async {
        futures::future::join_all((0..8).map(|_| {
            let pool = pool.clone();
            async move {
                let mut conn = pool.get().await.unwrap();
                TaskRun::claim_due(&mut conn, 120.0, 10).await.unwrap()
            }
        }))
        .await
        .into_iter()
        .flatten()
        .map(|c| (c.task_name, c.starts))
        .collect::<Vec<_>>()
    };
    assert_eq!(race().await, [("call".to_owned(), 1)]);
    assert_eq!(race().await, [], "claimed: nobody else takes it");
    app.sql("UPDATE workflow_task_runs SET claimed_until = now() - interval '1 second'")
        .await;
    assert_eq!(
        race().await,
        [("call".to_owned(), 1)],
        "an expired claim is taken again"
    );
}
