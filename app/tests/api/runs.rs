use crate::helpers::{
    JWT_SECRET, Relay, SpawnOptions, TestApp, TestUser, spawn_app, spawn_app_with,
};
use hakobu::auth::run_token::RunTokens;
use hakobu::launcher::RecordingLauncher;
use hakobu::runs::dispatch::Dispatcher;
use hakobu::settings::RunLimits;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

pub async fn job(app: &TestApp, owner: &TestUser, extra: Value) -> String {
    let conn = app
        .create_connection(
            owner,
            &owner.default_team,
            &format!("PG {}", uuid::Uuid::new_v4().simple()),
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let mut settings = json!({
        "source": {"connection_id": conn, "table": {"name": "src"}, "incremental": true, "incremental_columns": ["id"]},
        "destination": {"connection_id": conn, "table": {"name": "dst"}, "mode": "insert"},
    });
    if let (Some(s), Value::Object(extra)) = (settings.as_object_mut(), extra) {
        s.extend(extra);
    }
    // `null` in a test's override stands for the connection made here.
    settings["source"]["connection_id"] = json!(conn);
    let (status, body) = app
        .post("/api/jobs", &owner.token, json!({"name": format!("Job {}", uuid::Uuid::new_v4().simple()), "team_id": owner.default_team, "settings": settings}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

pub async fn wait_final(app: &TestApp, token: &str, run: &str) -> Value {
    app.wait_for_run_end(token, run).await
}

/// Job -> run -> a fresh local runner process -> rows in the destination -> result, logs,
/// counts and the incremental state recorded; the next run loads only what is new.
#[tokio::test]
async fn local_launcher_end_to_end_with_incremental_state() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'ç');").await;
    let job = job(&app, &owner, json!({})).await;

    let (status, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    assert_eq!(run["status"], "queued");
    let done = wait_final(&app, &owner.token, run["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_written"], 3);
    // The runner's count of what it sent reaches the run (exact sizes: engine tests).
    assert!(done["bytes_written"].as_i64().unwrap() > 0, "{done}");
    assert_eq!(done["launcher"], "local");
    assert!(done["task_id"].as_str().unwrap().starts_with("local-"));
    // The claim records the job's task size (the default 1 vCPU, 2048 MiB); what the
    // runner used is that size times the time from the claim to the end.
    assert_eq!(
        (done["task_vcpu"].as_f64(), done["task_memory_mb"].as_i64()),
        (Some(1.0), Some(2048)),
        "{done}"
    );
    let seconds = (chrono::DateTime::parse_from_rfc3339(done["finished_at"].as_str().unwrap())
        .unwrap()
        - chrono::DateTime::parse_from_rfc3339(done["started_at"].as_str().unwrap()).unwrap())
    .num_milliseconds() as f64
        / 1000.0;
    let usage = &done["usage"];
    assert!(
        (usage["vcpu_seconds"].as_f64().unwrap() - seconds).abs() < 0.01,
        "{done}"
    );
    assert!(
        (usage["gb_seconds"].as_f64().unwrap() - 2.0 * seconds).abs() < 0.01,
        "{done}"
    );
    assert!(
        usage["price"].as_f64().unwrap() > 0.0 && usage["currency"] == "USD",
        "{done}"
    );
    assert!(
        done["runner_image"]
            .as_str()
            .unwrap()
            .ends_with("hakobu-runner"),
        "{done}"
    );
    assert_eq!(
        app.query_strings("SELECT count(*) FROM dst").await[0][0].as_deref(),
        Some("3")
    );
    let (_, logs) = app
        .get(
            &format!("/api/runs/{}/logs", done["id"].as_str().unwrap()),
            &owner.token,
        )
        .await;
    let text = logs.to_string();
    assert!(
        text.contains("runner started") && text.contains("3 written"),
        "{text}"
    );
    // The engine's own messages reach the run's log, in order, before the runner's last.
    let position = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle}: {text}"))
    };
    assert!(
        position("connected; reading in 1 part(s)") < position("all 3 rows written; committing")
    );
    assert!(position("all 3 rows written; committing") < position("3 written"));
    let (_, job_view) = app.get(&format!("/api/jobs/{job}"), &owner.token).await;
    assert_eq!(job_view["incremental_state"], json!({"last_record": [3]}));
    // The live stream of a finished run replays its logs and ends.
    let events = app
        .client
        .get(format!(
            "{}/api/runs/{}/events",
            app.address,
            done["id"].as_str().unwrap()
        ))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let events = events.text().await.unwrap();
    assert!(
        events.contains("event: log") && events.contains("runner started"),
        "{events}"
    );
    assert!(
        events.contains("event: progress") && events.contains("\"status\":\"succeeded\""),
        "{events}"
    );
    assert!(
        events.trim_end().ends_with("event: end\ndata: {}"),
        "{events}"
    );

    app.sql("INSERT INTO src VALUES (4, 'd');").await;
    let (_, second) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let done = wait_final(&app, &owner.token, second["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_written"], 1, "only the new row");
    assert_eq!(
        app.query_strings("SELECT count(*) FROM dst").await[0][0].as_deref(),
        Some("4")
    );
}

/// An imported incremental Embulk config keeps its `last_record` as the job's state: the
/// first managed run continues where Embulk stopped and loads only the newer rows.
#[tokio::test]
async fn an_imported_last_record_is_where_the_first_run_starts() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd');").await;
    let db = format!(
        "type: postgresql, host: 127.0.0.1, user: postgres, database: {}, ssl: false",
        app.db_name
    );
    let config = format!(
        "in: {{{db}, table: src, incremental: true, incremental_columns: [id], last_record: [2]}}\nout: {{{db}, table: dst, mode: insert}}\n"
    );
    let (status, imported) = app
        .post(
            "/api/jobs/import",
            &owner.token,
            json!({"team_id": owner.default_team, "name": "Embulk orders", "config": config}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    let job = imported["job"]["id"].as_str().unwrap().to_owned();
    let (_, job_view) = app.get(&format!("/api/jobs/{job}"), &owner.token).await;
    assert_eq!(job_view["incremental_state"], json!({"last_record": [2]}));

    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let done = wait_final(&app, &owner.token, run["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["rows_written"], 2,
        "only the rows after last_record: {done}"
    );
    assert_eq!(
        app.query_strings("SELECT string_agg(id::text, ',' ORDER BY id) FROM dst")
            .await[0][0]
            .as_deref(),
        Some("3,4")
    );
    let (_, job_view) = app.get(&format!("/api/jobs/{job}"), &owner.token).await;
    assert_eq!(job_view["incremental_state"], json!({"last_record": [4]}));
}

/// A failing run reports a plain error, keeps the incremental state, and queues its retry
/// after the backoff.
#[tokio::test]
async fn failures_are_recorded_and_retried_with_backoff() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let job = job(
        &app,
        &owner,
        json!({"retry": {"count": 1, "backoff_seconds": 3600}}),
    )
    .await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let done = wait_final(&app, &owner.token, run["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    // The run page and the notification show this message: it says what is missing.
    assert!(
        done["error_summary"]
            .as_str()
            .unwrap()
            .contains("table public.src does not exist (source)"),
        "names the missing table: {done}"
    );
    let (_, runs) = app.get(&format!("/api/runs?job={job}"), &owner.token).await;
    assert_eq!(runs["total"], 2, "{runs}");
    let retry = &runs["items"][0];
    assert_eq!(retry["status"], "queued");
    assert_eq!(retry["attempt"], 2);
    assert_eq!(retry["trigger"], "retry");
    assert_eq!(retry["root_run_id"], run["id"]);
    let (_, job_view) = app.get(&format!("/api/jobs/{job}"), &owner.token).await;
    assert!(job_view["incremental_state"].is_null());
}

/// The run list pages by key: following `next` visits every run once, newest first, even
/// while new runs arrive; the count stops at 1,000 and says so; a `before` that is not the
/// organization's run, or given with `page`, is refused on its field.
#[tokio::test]
async fn run_lists_page_by_key_and_stop_counting_at_a_thousand() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let job = job(&app, &owner, json!({"overlap": "allow"})).await;
    // Five runs queued in the same microsecond: the key's second part (the id) orders them.
    app.sql(&format!(
        "INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger, timeout_seconds, queued_at, finished_at)
         SELECT id, '{}', '{job}', 1, 'succeeded', id, 'manual', 3600,
                timestamptz '2026-01-01' + (g / 5) * interval '1 minute', now()
         FROM (SELECT gen_random_uuid() AS id, g FROM generate_series(1, 23) g) r",
        owner.org_id
    ))
    .await;
    let mut seen = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(id) => format!("/api/runs?per_page=5&before={id}"),
            None => "/api/runs?per_page=5".to_owned(),
        };
        let (status, page) = app.get(&path, &owner.token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        // The run started after the first page counts; it is newer than every page after.
        let expected = if before.is_none() { 23 } else { 24 };
        assert_eq!(page["total"], expected, "{page}");
        assert_eq!(page["total_capped"], false);
        seen.extend(page["items"].as_array().unwrap().iter().map(|r| {
            (
                r["queued_at"].as_str().unwrap().to_owned(),
                r["id"].as_str().unwrap().to_owned(),
            )
        }));
        if before.is_none() {
            // A run arriving while the analyst reads changes no later page.
            app.post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
                .await;
        }
        match page["next"].as_str() {
            Some(next) => before = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 23, "every run once: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest first, ties by id");
    let unique: HashSet<_> = seen.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(unique.len(), 23);

    let (status, body) = app
        .get(
            &format!("/api/runs?before={}", uuid::Uuid::new_v4()),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "before");
    let other = app.signup("Other").await;
    let (status, body) = app
        .get(&format!("/api/runs?before={}", seen[0].1), &other.token)
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another organization's run: {body}"
    );
    let (status, body) = app
        .get(
            &format!("/api/runs?page=2&before={}", seen[0].1),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "page");

    app.sql(&format!(
        "INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger, timeout_seconds, finished_at)
         SELECT id, '{}', '{job}', 1, 'succeeded', id, 'manual', 3600, now()
         FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, 1000)) g",
        owner.org_id
    ))
    .await;
    let (_, page) = app.get("/api/runs?per_page=1", &owner.token).await;
    assert_eq!(page["total"], 1_000, "{page}");
    assert_eq!(page["total_capped"], true);
}

/// Two dispatchers racing over 500 queued runs launch each exactly once.
#[tokio::test]
async fn two_dispatchers_launch_each_run_exactly_once() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let job = job(&app, &owner, json!({"overlap": "allow"})).await;
    app.sql(&format!(
        "INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger, timeout_seconds)
         SELECT id, '{}', '{job}', 1, 'queued', id, 'manual', 3600 FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, 500)) g",
        owner.org_id
    ))
    .await;
    let url = format!("{}/{}", crate::helpers::server_url(), app.db_name);
    let launchers: Vec<Arc<RecordingLauncher>> = (0..2)
        .map(|_| Arc::new(RecordingLauncher::default()))
        .collect();
    let mut tasks = Vec::new();
    for launcher in &launchers {
        let dispatcher = Dispatcher {
            pool: hakobu::db::build_pool(&url, 4).unwrap(),
            launcher: launcher.clone(),
            run_tokens: RunTokens::new(JWT_SECRET),
            app_url: "http://127.0.0.1:1".to_owned(),
            limits: RunLimits {
                global: 10_000,
                per_organization: 10_000,
            },
            batch: 7,
        };
        tasks.push(tokio::spawn(async move {
            while dispatcher.dispatch_once().await.unwrap() > 0 {}
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let all: Vec<_> = launchers
        .iter()
        .flat_map(|l| l.launched.lock().unwrap().clone())
        .collect();
    let unique: HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 500, "every run launched");
    assert_eq!(unique.len(), 500, "none twice");
    assert!(
        launchers
            .iter()
            .all(|l| !l.launched.lock().unwrap().is_empty()),
        "both dispatchers took part"
    );
    assert_eq!(
        app.query_strings(
            "SELECT count(*) FROM runs WHERE status = 'starting' AND task_id IS NOT NULL"
        )
        .await[0][0]
            .as_deref(),
        Some("500")
    );
}

#[tokio::test]
async fn limits_and_overlap_policy_hold_runs_back() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let queued_job = job(&app, &owner, json!({"overlap": "queue"})).await;
    for _ in 0..3 {
        let (status, _) = app
            .post(
                &format!("/api/jobs/{queued_job}/runs"),
                &owner.token,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let url = format!("{}/{}", crate::helpers::server_url(), app.db_name);
    let launcher = Arc::new(RecordingLauncher::default());
    let dispatcher = Dispatcher {
        pool: hakobu::db::build_pool(&url, 2).unwrap(),
        launcher: launcher.clone(),
        run_tokens: RunTokens::new(JWT_SECRET),
        app_url: "http://127.0.0.1:1".to_owned(),
        limits: RunLimits::default(),
        batch: 50,
    };
    assert_eq!(
        dispatcher.dispatch_once().await.unwrap(),
        1,
        "queue policy: one at a time"
    );
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 0);
    let (_, runs) = app
        .get(
            &format!("/api/runs?job={queued_job}&status=queued"),
            &owner.token,
        )
        .await;
    assert_eq!(runs["total"], 2);
    let positions: HashSet<i64> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["queue_position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, HashSet::from([0, 1]), "visible queue positions");

    let skip_job = job(&app, &owner, json!({})).await;
    let (status, _) = app
        .post(
            &format!("/api/jobs/{skip_job}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 1);
    let (status, body) = app
        .post(
            &format!("/api/jobs/{skip_job}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "skip policy while running: {body}"
    );
}

/// A job whose runs may overlap, with `max_concurrent_runs: 2`, runs two at once; the rest
/// wait in the queue and start as places free up.
#[tokio::test]
async fn a_job_runs_at_most_its_own_limit_at_once() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let job = job(
        &app,
        &owner,
        json!({"overlap": "allow", "max_concurrent_runs": 2}),
    )
    .await;
    for _ in 0..5 {
        let (status, body) = app
            .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let url = format!("{}/{}", crate::helpers::server_url(), app.db_name);
    let launcher = Arc::new(RecordingLauncher::default());
    let dispatcher = Dispatcher {
        pool: hakobu::db::build_pool(&url, 2).unwrap(),
        launcher: launcher.clone(),
        run_tokens: RunTokens::new(JWT_SECRET),
        app_url: "http://127.0.0.1:1".to_owned(),
        limits: RunLimits::default(),
        batch: 50,
    };
    assert_eq!(
        dispatcher.dispatch_once().await.unwrap(),
        2,
        "the job's limit"
    );
    assert_eq!(
        dispatcher.dispatch_once().await.unwrap(),
        0,
        "the rest wait"
    );
    let (_, queued) = app
        .get(&format!("/api/runs?job={job}&status=queued"), &owner.token)
        .await;
    assert_eq!(queued["total"], 3, "{queued}");
    // The queue says why they wait: their job, not the organization's room.
    let (_, queue) = app.get("/api/queue", &owner.token).await;
    let waiting = queue["queued"].as_array().unwrap();
    assert_eq!(waiting.len(), 3, "{queue}");
    assert!(
        waiting.iter().all(|r| r["held_by_its_job"] == true),
        "{queue}"
    );
    // One ends: one more starts, and no more.
    app.sql(&format!(
        "UPDATE runs SET status = 'succeeded', finished_at = now() WHERE id = (
           SELECT id FROM runs WHERE job_id = '{job}' AND status = 'starting' LIMIT 1)"
    ))
    .await;
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 1);
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 0);
    assert_eq!(launcher.launched.lock().unwrap().len(), 3);
    // Two end: the two left have room in their job, and are not said to be held.
    app.sql(&format!(
        "UPDATE runs SET status = 'succeeded', finished_at = now() WHERE job_id = '{job}' AND status = 'starting'"
    ))
    .await;
    let (_, queue) = app.get("/api/queue", &owner.token).await;
    assert_eq!(queue["queued"].as_array().unwrap().len(), 2, "{queue}");
    assert!(
        queue["queued"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("held_by_its_job").is_none()),
        "{queue}"
    );
}

#[tokio::test]
async fn run_tokens_are_bound_to_their_run() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let job = job(&app, &owner, json!({"overlap": "allow"})).await;
    let (_, a) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let (_, b) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let token_a = RunTokens::new(JWT_SECRET)
        .issue(
            a.parse().unwrap(),
            chrono::Utc::now() + chrono::Duration::minutes(5),
        )
        .unwrap();
    let (status, body) = app
        .get(&format!("/api/runner/runs/{b}/assignment"), &token_a)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = app.post(&format!("/api/runner/runs/{b}/result"), &token_a, json!({"outcome": "succeeded", "rows_read": 0, "rows_written": 0, "rows_skipped": 0, "bytes_read": 0})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .get(&format!("/api/runner/runs/{a}/assignment"), &owner.token)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a session token is no run token"
    );
    // Its own run, not yet dispatched: nothing to execute yet.
    let (status, _) = app
        .get(&format!("/api/runner/runs/{a}/assignment"), &token_a)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn cancel_rerun_permissions_and_isolation() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let other = app.signup("Beta").await;
    let viewer = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": owner.default_team, "role": "viewer"}]),
        )
        .await;
    let job = job(&app, &owner, json!({"overlap": "allow"})).await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap();

    assert_eq!(
        app.post(&format!("/api/jobs/{job}/runs"), &viewer.token, json!({}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(&format!("/api/runs/{id}/cancel"), &viewer.token, json!({}))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&format!("/api/runs/{id}"), &viewer.token).await.0,
        StatusCode::OK
    );
    for (method, path) in [
        ("POST", format!("/api/jobs/{job}/runs")),
        ("GET", format!("/api/runs/{id}")),
        ("GET", format!("/api/runs/{id}/logs")),
        ("POST", format!("/api/runs/{id}/cancel")),
        ("POST", format!("/api/runs/{id}/rerun")),
    ] {
        let body = (method == "POST").then(|| json!({}));
        let (status, answer) = app
            .call(method.parse().unwrap(), &path, Some(&other.token), body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    let (_, theirs) = app.get("/api/runs", &other.token).await;
    assert_eq!(theirs["total"], 0);

    let (status, cancelled) = app
        .post(&format!("/api/runs/{id}/cancel"), &owner.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        app.post(&format!("/api/runs/{id}/cancel"), &owner.token, json!({}))
            .await
            .0,
        StatusCode::CONFLICT
    );
    let (status, again) = app
        .post(&format!("/api/runs/{id}/rerun"), &owner.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["trigger"], "rerun");
    let actions = app.audit_actions(&owner).await;
    for expected in ["run.start", "run.cancel", "run.rerun"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected}: {actions:?}"
        );
    }
}

/// Kill the runner mid-load: the watchdog fails the run within its window, the destination
/// is exactly as it was, and the incremental state does not move.
#[tokio::test]
async fn a_killed_runner_fails_the_run_and_changes_nothing() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text);
         INSERT INTO src SELECT g, 'row ' || g FROM generate_series(1, 3000) g;
         CREATE VIEW src_slow AS SELECT id, name FROM src WHERE pg_sleep(0.005)::text = '';
         CREATE TABLE dst (id bigint PRIMARY KEY, name text);
         INSERT INTO dst VALUES (0, 'was here before');",
    )
    .await;
    let job = job(&app, &owner, json!({"source": {"connection_id": null, "table": {"name": "src_slow"}, "incremental": true, "incremental_columns": ["id"]}})).await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let mut pid = None;
    for _ in 0..200 {
        let (_, now) = app.get(&format!("/api/runs/{id}"), &owner.token).await;
        // Running and reporting: the load is under way (rows arrive in large batches).
        if now["status"] == "running" && !now["heartbeat_at"].is_null() {
            pid = now["task_id"]
                .as_str()
                .and_then(|t| t.split('-').nth(1))
                .map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pid = pid.expect("the run started");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &pid])
            .status()
            .unwrap()
            .success()
    );
    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["error_summary"]
            .as_str()
            .unwrap()
            .contains("stopped reporting"),
        "{done}"
    );
    assert_eq!(
        app.query_strings("SELECT id, name FROM dst").await,
        vec![vec![
            Some("0".to_owned()),
            Some("was here before".to_owned())
        ]]
    );
    let (_, job_view) = app.get(&format!("/api/jobs/{job}"), &owner.token).await;
    assert!(job_view["incremental_state"].is_null(), "{job_view}");
}

#[tokio::test]
async fn the_watchdog_stops_runs_past_their_timeout() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let job = job(&app, &owner, json!({})).await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap();
    app.sql(&format!(
        "UPDATE runs SET status = 'running', task_id = 'task-1', timeout_seconds = 60,
                started_at = now() - interval '2 minutes', heartbeat_at = now() WHERE id = '{id}'"
    ))
    .await;
    let launcher = Arc::new(RecordingLauncher::default());
    let watchdog = hakobu::runs::watchdog::Watchdog {
        pool: hakobu::db::build_pool(
            &format!("{}/{}", crate::helpers::server_url(), app.db_name),
            2,
        )
        .unwrap(),
        launcher: launcher.clone(),
        heartbeat_timeout: Duration::from_secs(60),
        start_timeout: Duration::from_secs(600),
        log_retention: Duration::from_secs(7 * 86_400),
    };
    assert_eq!(watchdog.sweep_once().await.unwrap(), 1);
    assert_eq!(watchdog.sweep_once().await.unwrap(), 0, "once");
    assert_eq!(*launcher.stopped.lock().unwrap(), ["task-1"]);
    let (_, done) = app.get(&format!("/api/runs/{id}"), &owner.token).await;
    assert_eq!(done["status"], "timed_out");
    assert!(
        done["error_summary"]
            .as_str()
            .unwrap()
            .contains("timeout of 1 minutes"),
        "{done}"
    );
}

/// Seconds until a JWT's `exp`.
fn expires_in(token: &str) -> i64 {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["exp"].as_i64().unwrap() - chrono::Utc::now().timestamp()
}

/// The launch token fetches the assignment once; the assignment and every heartbeat
/// answer a short-lived run token; an expired token gets 401, another run's 403.
#[tokio::test]
async fn launch_tokens_are_spent_and_heartbeats_renew_run_tokens() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let job = job(&app, &owner, json!({"overlap": "allow"})).await;
    let (_, a) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let (_, b) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let dispatcher = Dispatcher {
        pool: hakobu::db::build_pool(
            &format!("{}/{}", crate::helpers::server_url(), app.db_name),
            2,
        )
        .unwrap(),
        launcher: Arc::new(RecordingLauncher::default()),
        run_tokens: RunTokens::new(JWT_SECRET),
        app_url: "http://127.0.0.1:1".to_owned(),
        limits: RunLimits::default(),
        batch: 10,
    };
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 2);
    let tokens = RunTokens::new(JWT_SECRET);
    let launch_a = tokens.issue_launch(a.parse().unwrap()).unwrap();
    let progress = json!({"rows_read": 5, "rows_written": 5, "bytes_read": 50});

    let (status, body) = app
        .post(
            &format!("/api/runner/runs/{a}/heartbeat"),
            &launch_a,
            progress.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("only fetches the assignment"),
        "{body}"
    );
    let (status, _) = app
        .get(&format!("/api/runner/runs/{b}/assignment"), &launch_a)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "another run's launch token");

    let (status, assignment) = app
        .get(&format!("/api/runner/runs/{a}/assignment"), &launch_a)
        .await;
    assert_eq!(status, StatusCode::OK, "{assignment}");
    let first = assignment["run_token"].as_str().unwrap().to_owned();
    assert!(
        (290..=300).contains(&expires_in(&first)),
        "short-lived: {}",
        expires_in(&first)
    );
    let (status, body) = app
        .get(&format!("/api/runner/runs/{a}/assignment"), &launch_a)
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a launch token is spent: {body}"
    );

    let (status, answer) = app
        .post(
            &format!("/api/runner/runs/{a}/heartbeat"),
            &first,
            progress.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["cancel"], false);
    let renewed = answer["run_token"].as_str().unwrap().to_owned();
    assert!((290..=300).contains(&expires_in(&renewed)));
    let (status, _) = app
        .post(
            &format!("/api/runner/runs/{a}/logs"),
            &renewed,
            json!({"lines": [{"level": "info", "message": "with the renewed token"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let expired = tokens
        .issue(
            a.parse().unwrap(),
            chrono::Utc::now() - chrono::Duration::minutes(1),
        )
        .unwrap();
    let (status, body) = app
        .post(
            &format!("/api/runner/runs/{a}/heartbeat"),
            &expired,
            progress.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let (status, _) = app
        .post(
            &format!("/api/runner/runs/{b}/heartbeat"),
            &renewed,
            progress,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a token for another run");
}

/// A real runner whose token lives 5 s finishes a run that takes longer: it switches to
/// the token each heartbeat answers (its result would get 401 otherwise).
#[tokio::test]
async fn a_runner_outlives_its_first_token_through_heartbeats() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        run_token_ttl: Duration::from_secs(5),
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text);
         INSERT INTO src SELECT g, 'row ' || g FROM generate_series(1, 1600) g;
         CREATE VIEW src_slow AS SELECT id, name FROM src WHERE pg_sleep(0.005)::text = '';",
    )
    .await;
    let job = job(&app, &owner, json!({"source": {"connection_id": null, "table": {"name": "src_slow"}, "incremental": true, "incremental_columns": ["id"]}})).await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let done = wait_final(&app, &owner.token, run["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_written"], 1600);
    let started =
        chrono::DateTime::parse_from_rfc3339(done["started_at"].as_str().unwrap()).unwrap();
    let finished =
        chrono::DateTime::parse_from_rfc3339(done["finished_at"].as_str().unwrap()).unwrap();
    assert!(
        (finished - started).num_seconds() > 5,
        "the run outlasted the first token: {done}"
    );
}

/// Reconciling: a run whose runner has gone without a result ends (failed with the
/// launcher's reason, or cancelled when it was being cancelled); a run whose runner still
/// runs is left alone; runners of finished runs are stopped, never a runner of a run
/// this database does not know.
#[tokio::test]
async fn reconcile_ends_runs_whose_runner_is_gone_and_stops_runners_of_finished_runs() {
    use hakobu::launcher::{ActiveTask, LocalLauncher, TaskState};
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let job = job(&app, &owner, json!({"overlap": "allow"})).await;
    // `rest`: started_at, finished_at, cancel_requested.
    let insert = |run: uuid::Uuid, launcher: &str, task: &str, status: &str, rest: &str| {
        format!(
            "INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger, timeout_seconds, launcher, task_id, heartbeat_at, started_at, finished_at, cancel_requested)
             VALUES ('{run}', '{org}', '{job}', 1, '{status}', '{run}', 'manual', 3600, '{launcher}', '{task}', now(), {rest});",
            org = owner.org_id
        )
    };
    let five_minutes_ago = "now() - interval '5 minutes'";
    let [oom, alive, cancelling, young, done] = [(); 5].map(|_| uuid::Uuid::new_v4());
    app.sql(
        &[
            insert(
                oom,
                "recording",
                "task-oom",
                "running",
                &format!("{five_minutes_ago}, NULL, false"),
            ),
            insert(
                alive,
                "recording",
                "task-alive",
                "running",
                &format!("{five_minutes_ago}, NULL, false"),
            ),
            insert(
                cancelling,
                "recording",
                "task-cancelling",
                "running",
                &format!("{five_minutes_ago}, NULL, true"),
            ),
            insert(
                young,
                "recording",
                "task-young",
                "starting",
                "now(), NULL, false",
            ),
            insert(
                done,
                "recording",
                "task-done",
                "succeeded",
                &format!("{five_minutes_ago}, now() - interval '2 minutes', false"),
            ),
        ]
        .concat(),
    )
    .await;
    let launcher = Arc::new(RecordingLauncher::default());
    launcher.states.lock().unwrap().extend([
        (
            "task-oom".to_owned(),
            TaskState::Stopped {
                exit_code: Some(137),
                reason: Some("OutOfMemoryError: Container killed due to memory usage".to_owned()),
            },
        ),
        ("task-cancelling".to_owned(), TaskState::Missing),
        ("task-young".to_owned(), TaskState::Missing),
    ]);
    let stranger = hakobu_core::ids::RunId::new();
    launcher.active.lock().unwrap().extend([
        ActiveTask {
            task_id: "task-alive".to_owned(),
            run_id: Some(alive.to_string().parse().unwrap()),
        },
        ActiveTask {
            task_id: "task-done".to_owned(),
            run_id: Some(done.to_string().parse().unwrap()),
        },
        ActiveTask {
            task_id: "task-stranger".to_owned(),
            run_id: Some(stranger),
        },
        ActiveTask {
            task_id: "task-unmarked".to_owned(),
            run_id: None,
        },
    ]);
    let pool = hakobu::db::build_pool(
        &format!("{}/{}", crate::helpers::server_url(), app.db_name),
        2,
    )
    .unwrap();
    let watchdog = hakobu::runs::watchdog::Watchdog {
        pool: pool.clone(),
        launcher: launcher.clone(),
        heartbeat_timeout: Duration::from_secs(60),
        start_timeout: Duration::from_secs(600),
        log_retention: Duration::from_secs(86_400),
    };
    let reconciled = watchdog.reconcile_once().await.unwrap();
    assert_eq!(
        reconciled,
        hakobu::runs::watchdog::Reconciled {
            ended: 2,
            stopped: 1,
            requeued: 0,
            adopted: 0,
        }
    );
    assert_eq!(*launcher.stopped.lock().unwrap(), ["task-done"]);
    let status = |run: uuid::Uuid| {
        let app = &app;
        let token = owner.token.clone();
        async move { app.get(&format!("/api/runs/{run}"), &token).await.1 }
    };
    let failed = status(oom).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["error_summary"],
        "The runner stopped during the transfer without reporting a result (exit code 137: OutOfMemoryError: Container killed due to memory usage). Nothing was committed in transactional modes."
    );
    assert_eq!(status(cancelling).await["status"], "cancelled");
    assert_eq!(status(alive).await["status"], "running");
    assert_eq!(
        status(young).await["status"],
        "starting",
        "a task just launched may not be visible yet"
    );

    // The local launcher after an app restart: no process works in the run's directory.
    let orphan = uuid::Uuid::new_v4();
    app.sql(&insert(
        orphan,
        "local",
        &format!("local-999999999-{orphan}"),
        "running",
        &format!("{five_minutes_ago}, NULL, false"),
    ))
    .await;
    let local = hakobu::runs::watchdog::Watchdog {
        pool,
        launcher: Arc::new(LocalLauncher::new(crate::helpers::runner_bin())),
        heartbeat_timeout: Duration::from_secs(60),
        start_timeout: Duration::from_secs(600),
        log_retention: Duration::from_secs(86_400),
    };
    assert_eq!(local.reconcile_once().await.unwrap().ended, 1);
    let gone = status(orphan).await;
    assert_eq!(gone["status"], "failed");
    assert!(
        gone["error_summary"]
            .as_str()
            .unwrap()
            .contains("task no longer exists"),
        "{gone}"
    );
}

/// A launcher whose launches wait for a permit, standing in for an app that stops (or a
/// launch call that hangs) between the claim and the launcher's answer.
struct GatedLauncher {
    inner: RecordingLauncher,
    gate: tokio::sync::Semaphore,
}

impl hakobu::launcher::Launcher for GatedLauncher {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn launch(
        &self,
        spec: hakobu::launcher::LaunchSpec,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<String>> {
        Box::pin(async move {
            self.gate.acquire().await?.forget();
            Ok(format!("late-{}", spec.run_id))
        })
    }

    fn stop(&self, task_id: &str) -> futures::future::BoxFuture<'_, anyhow::Result<()>> {
        self.inner.stop(task_id)
    }

    fn state(
        &self,
        task_id: &str,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<hakobu::launcher::TaskState>> {
        self.inner.state(task_id)
    }

    fn list_active(
        &self,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<Vec<hakobu::launcher::ActiveTask>>> {
        self.inner.list_active()
    }
}

/// The app stops between claiming runs and recording their tasks: a run whose runner the
/// launcher lists gets that task recorded; a run with no runner goes back to the queue and
/// is launched once by the next claim; the stalled launch, answering late, finds its run
/// launched by that claim and stops its own runner instead of recording it.
#[tokio::test]
async fn claimed_runs_whose_launch_was_lost_are_adopted_or_queued_again() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let job = job(&app, &owner, json!({"overlap": "allow"})).await;
    let url = format!("{}/{}", crate::helpers::server_url(), app.db_name);
    let dispatcher = |launcher: Arc<dyn hakobu::launcher::Launcher>| Dispatcher {
        pool: hakobu::db::build_pool(&url, 2).unwrap(),
        launcher,
        run_tokens: RunTokens::new(JWT_SECRET),
        app_url: "http://127.0.0.1:1".to_owned(),
        limits: RunLimits::default(),
        batch: 10,
    };
    let [lost, launched_unrecorded] = [(); 2].map(|_| uuid::Uuid::new_v4());
    app.sql(&format!(
        "INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger, timeout_seconds)
         VALUES ('{lost}', '{org}', '{job}', 1, 'queued', '{lost}', 'manual', 3600),
                ('{launched_unrecorded}', '{org}', '{job}', 1, 'queued', '{launched_unrecorded}', 'manual', 3600)",
        org = owner.org_id
    ))
    .await;

    // The first app claims both runs; its launches never answer while it is up.
    let stalled = Arc::new(GatedLauncher {
        inner: RecordingLauncher::default(),
        gate: tokio::sync::Semaphore::new(0),
    });
    let first = Arc::new(dispatcher(stalled.clone()));
    let stalled_round = tokio::spawn({
        let first = first.clone();
        async move { first.dispatch_once().await }
    });
    let state = |run: uuid::Uuid| {
        let app = &app;
        async move {
            app.query_strings(&format!(
                "SELECT status, task_id FROM runs WHERE id = '{run}'"
            ))
            .await
            .remove(0)
        }
    };
    for _ in 0..100 {
        if state(lost).await[0].as_deref() == Some("starting") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state(lost).await, [Some("starting".to_owned()), None]);
    // Minutes later (the claims are made older rather than waited for).
    app.sql("UPDATE runs SET started_at = started_at - interval '5 minutes'")
        .await;

    // The reconciler of the restarted app: one runner is listed, the other never existed.
    let restarted = Arc::new(RecordingLauncher::default());
    restarted
        .active
        .lock()
        .unwrap()
        .push(hakobu::launcher::ActiveTask {
            task_id: "task-unrecorded".to_owned(),
            run_id: Some(launched_unrecorded.to_string().parse().unwrap()),
        });
    let watchdog = hakobu::runs::watchdog::Watchdog {
        pool: hakobu::db::build_pool(&url, 2).unwrap(),
        launcher: restarted.clone(),
        heartbeat_timeout: Duration::from_secs(60),
        start_timeout: Duration::from_secs(600),
        log_retention: Duration::from_secs(86_400),
    };
    assert_eq!(
        watchdog.reconcile_once().await.unwrap(),
        hakobu::runs::watchdog::Reconciled {
            requeued: 1,
            adopted: 1,
            ..Default::default()
        }
    );
    assert_eq!(state(lost).await, [Some("queued".to_owned()), None]);
    assert_eq!(
        state(launched_unrecorded).await,
        [
            Some("starting".to_owned()),
            Some("task-unrecorded".to_owned())
        ]
    );
    assert_eq!(
        watchdog.reconcile_once().await.unwrap(),
        hakobu::runs::watchdog::Reconciled::default(),
        "a second pass changes nothing"
    );

    // The next claim launches the lost run, once.
    let second = dispatcher(restarted.clone());
    assert_eq!(second.dispatch_once().await.unwrap(), 1);
    assert_eq!(second.dispatch_once().await.unwrap(), 0);
    let lost_id: hakobu_core::ids::RunId = lost.to_string().parse().unwrap();
    assert_eq!(*restarted.launched.lock().unwrap(), [lost_id]);
    assert_eq!(
        state(lost).await,
        [
            Some("starting".to_owned()),
            Some(format!("recorded-{lost}"))
        ]
    );

    // The stalled launches answer at last: neither records its task, both stop it.
    stalled.gate.add_permits(2);
    assert_eq!(stalled_round.await.unwrap().unwrap(), 2);
    let mut stopped = stalled.inner.stopped.lock().unwrap().clone();
    stopped.sort();
    let mut expected = vec![
        format!("late-{lost}"),
        format!("late-{launched_unrecorded}"),
    ];
    expected.sort();
    assert_eq!(stopped, expected);
    assert_eq!(
        state(lost).await[1].as_deref(),
        Some(format!("recorded-{lost}").as_str())
    );
    assert_eq!(
        state(launched_unrecorded).await[1].as_deref(),
        Some("task-unrecorded")
    );
}

/// An organization admin lowers the organization's limit below the service's ceiling: the
/// dispatcher starts only that many, the queue page shows them in flight and the rest in
/// order, counts include jobs the caller cannot see, and only admins may change the limit.
#[tokio::test]
async fn the_organization_limit_holds_runs_in_a_visible_queue() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let (status, body) = app
        .put(
            "/api/organization/concurrency",
            &owner.token,
            json!({"max_concurrent_runs": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("max_concurrent_runs"), "{body}");
    let (status, body) = app
        .put(
            "/api/organization/concurrency",
            &owner.token,
            json!({"max_concurrent_runs": 21}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "above the ceiling of 20: {body}"
    );
    let (status, body) = app
        .put(
            "/api/organization/concurrency",
            &owner.token,
            json!({"max_concurrent_runs": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["max_concurrent_runs"], 2);
    assert!(
        app.audit_actions(&owner)
            .await
            .contains(&"organization.concurrency".to_owned())
    );

    // Four jobs of the owner's team, and one of a team a plain member is not in.
    let mut jobs = Vec::new();
    for _ in 0..4 {
        jobs.push(job(&app, &owner, json!({})).await);
    }
    for j in &jobs {
        let (status, _) = app
            .post(&format!("/api/jobs/{j}/runs"), &owner.token, json!({}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let url = format!("{}/{}", crate::helpers::server_url(), app.db_name);
    let dispatcher = Dispatcher {
        pool: hakobu::db::build_pool(&url, 2).unwrap(),
        launcher: Arc::new(RecordingLauncher::default()),
        run_tokens: RunTokens::new(JWT_SECRET),
        app_url: "http://127.0.0.1:1".to_owned(),
        limits: RunLimits::default(),
        batch: 50,
    };
    assert_eq!(
        dispatcher.dispatch_once().await.unwrap(),
        2,
        "the organization's limit"
    );
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 0);

    let (status, queue) = app.get("/api/queue", &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["limit"], 2);
    assert_eq!(queue["organization_limit"], 2);
    assert_eq!(queue["service_limit"], 20);
    assert_eq!(queue["active_count"], 2);
    assert_eq!(queue["queued_count"], 2);
    assert_eq!(queue["active"].as_array().unwrap().len(), 2);
    let positions: Vec<i64> = queue["queued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["queue_position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, vec![0, 1], "in the order they will start");

    // A member of another team counts the runs but sees none of them.
    let team = app.create_team(&owner, "Elsewhere").await;
    let member = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": team, "role": "editor"}]),
        )
        .await;
    let (status, queue) = app.get("/api/queue", &member.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queue["active_count"], 2);
    assert!(queue["active"].as_array().unwrap().is_empty(), "{queue}");
    assert!(queue["queued"].as_array().unwrap().is_empty(), "{queue}");
    let (status, _) = app
        .put(
            "/api/organization/concurrency",
            &member.token,
            json!({"max_concurrent_runs": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Another organization's queue is its own.
    let stranger = app.signup("Other").await;
    let (_, queue) = app.get("/api/queue", &stranger.token).await;
    assert_eq!(queue["active_count"], 0);
    assert_eq!(queue["queued_count"], 0);

    // Back to the ceiling: the rest start.
    let (status, body) = app
        .put(
            "/api/organization/concurrency",
            &owner.token,
            json!({"max_concurrent_runs": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 2);
}

/// Inserts `count` runs of `job` in `status`, queued (and due) in that order from
/// `minutes_ago` minutes ago, a millisecond apart; in `backfill` with `parallelism` if given.
async fn insert_runs(
    app: &TestApp,
    user: &TestUser,
    job: &str,
    count: u32,
    status: &str,
    minutes_ago: u32,
    backfill: Option<(&str, u32)>,
) {
    let (backfill_id, inputs) = match backfill {
        Some((id, parallelism)) => (
            format!("'{id}'"),
            format!("'{{\"backfill_parallelism\": {parallelism}}}'"),
        ),
        None => ("NULL".to_owned(), "'{}'".to_owned()),
    };
    let started = if status == "queued" { "NULL" } else { "now()" };
    app.sql(&format!(
        "INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger,
                           timeout_seconds, queued_at, not_before, started_at, heartbeat_at,
                           backfill_id, resolved_inputs)
         SELECT id, '{org}', '{job}', 1, '{status}', id, 'manual', 3600, at, at, {started}, {started},
                {backfill_id}, {inputs}
         FROM (SELECT gen_random_uuid() AS id,
                      now() - interval '{minutes_ago} minutes' + g * interval '1 millisecond' AS at
               FROM generate_series(1, {count}) g) r",
        org = user.org_id
    ))
    .await;
}

async fn active_per_org(app: &TestApp, user: &TestUser) -> i64 {
    app.query_strings(&format!(
        "SELECT count(*) FROM runs WHERE organization_id = '{}' AND status IN ('starting', 'running')",
        user.org_id
    ))
    .await[0][0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

/// Organization A holds 500 queued runs it cannot start (an exclusive job with a run in
/// flight, a backfill at its parallelism) ahead of everyone: organization B's run, queued
/// last, starts in the first dispatch tick, as does A's one startable run behind its
/// backlog; organizations take turns (D's 30 startable runs do not fill the tick), no
/// organization exceeds its limit, and queue positions count only what a run waits behind.
#[tokio::test]
async fn a_blocked_backlog_of_one_organization_does_not_hold_back_another() {
    let app = spawn_app().await;
    let a = app.signup("A").await;
    let b = app.signup("B").await;
    let c = app.signup("C").await;
    let d = app.signup("D").await;
    app.sql(&format!(
        "UPDATE organizations SET max_concurrent_runs = 5 WHERE id = '{}';
         UPDATE organizations SET max_concurrent_runs = 1 WHERE id = '{}'",
        a.org_id, c.org_id
    ))
    .await;
    let a_exclusive = job(&app, &a, json!({"overlap": "queue"})).await;
    let a_backfilled = job(&app, &a, json!({"overlap": "allow"})).await;
    let a_free = job(&app, &a, json!({"overlap": "allow"})).await;
    let backfill = uuid::Uuid::new_v4().to_string();
    insert_runs(&app, &a, &a_exclusive, 1, "running", 120, None).await;
    insert_runs(
        &app,
        &a,
        &a_backfilled,
        1,
        "running",
        120,
        Some((&backfill, 1)),
    )
    .await;
    insert_runs(&app, &a, &a_exclusive, 250, "queued", 60, None).await;
    insert_runs(
        &app,
        &a,
        &a_backfilled,
        250,
        "queued",
        55,
        Some((&backfill, 1)),
    )
    .await;
    let d_job = job(&app, &d, json!({"overlap": "allow"})).await;
    insert_runs(&app, &d, &d_job, 30, "queued", 40, None).await;
    let c_job = job(&app, &c, json!({"overlap": "allow"})).await;
    insert_runs(&app, &c, &c_job, 1, "running", 120, None).await;
    insert_runs(&app, &c, &c_job, 5, "queued", 35, None).await;
    insert_runs(&app, &a, &a_free, 1, "queued", 30, None).await;
    let b_job = job(&app, &b, json!({"overlap": "allow"})).await;
    insert_runs(&app, &b, &b_job, 1, "queued", 20, None).await;

    let url = format!("{}/{}", crate::helpers::server_url(), app.db_name);
    let launcher = Arc::new(RecordingLauncher::default());
    let dispatcher = Dispatcher {
        pool: hakobu::db::build_pool(&url, 2).unwrap(),
        launcher: launcher.clone(),
        run_tokens: RunTokens::new(JWT_SECRET),
        app_url: "http://127.0.0.1:1".to_owned(),
        limits: RunLimits {
            global: 1000,
            per_organization: 20,
        },
        batch: 10,
    };
    assert_eq!(dispatcher.dispatch_once().await.unwrap(), 10, "a full tick");
    let started_jobs = |job: String| {
        let app = &app;
        async move {
            app.query_strings(&format!(
                "SELECT count(*) FROM runs WHERE job_id = '{job}' AND status = 'starting'"
            ))
            .await[0][0]
                .clone()
                .unwrap()
        }
    };
    assert_eq!(
        started_jobs(b_job.clone()).await,
        "1",
        "B's run started at once"
    );
    assert_eq!(
        started_jobs(a_free.clone()).await,
        "1",
        "A's startable run behind its backlog started"
    );
    assert_eq!(
        started_jobs(d_job.clone()).await,
        "8",
        "D got the rest of the tick"
    );
    assert_eq!(started_jobs(a_exclusive.clone()).await, "0");
    assert_eq!(started_jobs(a_backfilled.clone()).await, "0");
    assert_eq!(started_jobs(c_job.clone()).await, "0", "C is at its limit");

    while dispatcher.dispatch_once().await.unwrap() > 0 {}
    assert_eq!(
        active_per_org(&app, &a).await,
        3,
        "A: two in flight, one started"
    );
    assert_eq!(
        active_per_org(&app, &c).await,
        1,
        "C never above its limit of 1"
    );
    assert_eq!(
        active_per_org(&app, &d).await,
        20,
        "D up to the service's limit"
    );

    // D's 10 left wait behind each other only, not behind A's 500 or C's 5.
    let (_, runs) = app.get("/api/runs?status=queued", &d.token).await;
    let mut positions: Vec<i64> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["queue_position"].as_i64().unwrap())
        .collect();
    positions.sort();
    assert_eq!(positions, (0..10).collect::<Vec<_>>(), "{runs}");
    // C's 5 wait for its own limit: behind each other.
    let (_, runs) = app.get("/api/runs?status=queued", &c.token).await;
    let mut positions: Vec<i64> = runs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["queue_position"].as_i64().unwrap())
        .collect();
    positions.sort();
    assert_eq!(positions, (0..5).collect::<Vec<_>>(), "{runs}");
    // The newest run of A's exclusive job waits behind the 249 of that job, not behind
    // the backfill's runs (held back by their backfill, they do not go first).
    let newest = app
        .query_strings(&format!(
            "SELECT id FROM runs WHERE job_id = '{a_exclusive}' AND status = 'queued' ORDER BY queued_at DESC LIMIT 1"
        ))
        .await[0][0]
        .clone()
        .unwrap();
    let (_, run) = app.get(&format!("/api/runs/{newest}"), &a.token).await;
    assert_eq!(run["queue_position"], 249, "{run}");
}

/// The runner's pid from a `local-<pid>-<run>` task, once the run is running and reporting.
async fn running_runner_pid(app: &TestApp, token: &str, run: &str) -> String {
    for _ in 0..300 {
        let (_, now) = app.get(&format!("/api/runs/{run}"), token).await;
        if now["status"] == "running" && !now["heartbeat_at"].is_null() {
            return now["task_id"]
                .as_str()
                .and_then(|t| t.split('-').nth(1))
                .expect("a local task")
                .to_owned();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the run did not start: {run}");
}

fn signal(pid: &str, signal: &str) {
    assert!(
        std::process::Command::new("kill")
            .args([signal, pid])
            .status()
            .unwrap()
            .success()
    );
}

/// The app answers 503 to the runner's commit and result for a while (restarting, its
/// database failing over) while the runner finishes: the runner keeps offering both, and
/// the run ends succeeded, its incremental state moved on, no retry queued and no row
/// loaded twice.
#[tokio::test]
async fn a_committed_load_is_recorded_when_the_result_gets_through_late() {
    let relay = Relay::start().await;
    relay.refuse(&["/committed", "/result"]);
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        runner_app_url: Some(relay.url.clone()),
        ..Default::default()
    })
    .await;
    relay.forward_to(&app.address);
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text);
         INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'c');",
    )
    .await;
    // Before the fix, the lost result failed the run and this retry loaded the rows again.
    let job = job(
        &app,
        &owner,
        json!({"retry": {"count": 1, "backoff_seconds": 1}}),
    )
    .await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let refused_twice = |suffix: &'static str| {
        let relay = &relay;
        hakobu_testkit::wait_until(
            suffix,
            Duration::from_secs(60),
            Duration::from_millis(100),
            move || {
                let refused = relay.refused(suffix);
                async move { (refused >= 2).then_some(()) }
            },
        )
    };
    // The commit first: the runner goes no further until the app has it.
    refused_twice("/committed").await;
    assert_eq!(
        relay.refused("/result"),
        0,
        "the result waits for the commit"
    );
    relay.refuse(&["/result"]);
    refused_twice("/result").await;
    // Meanwhile the heartbeats got through: the run is still running, its commit known.
    let (_, during) = app.get(&format!("/api/runs/{id}"), &owner.token).await;
    assert_eq!(during["status"], "running", "{during}");
    assert_eq!(during["rows_written"], 3, "{during}");
    relay.refuse(&[]);
    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_written"], 3, "{done}");
    let (_, job_view) = app.get(&format!("/api/jobs/{job}"), &owner.token).await;
    assert_eq!(
        job_view["incremental_state"],
        json!({"last_record": [3]}),
        "{job_view}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, runs) = app.get(&format!("/api/runs?job={job}"), &owner.token).await;
    assert_eq!(runs["total"], 1, "no retry: {runs}");
    assert_eq!(
        app.query_strings("SELECT count(*), count(DISTINCT id) FROM dst")
            .await,
        [[Some("3".to_owned()), Some("3".to_owned())]],
        "every row once"
    );
}

/// A launcher whose stop never reaches the runner: the platform's API down, or the runner
/// cut off from it. Everything else is the inner launcher's.
struct StopsNothing(Arc<dyn hakobu::launcher::Launcher>);

impl hakobu::launcher::Launcher for StopsNothing {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn launch(
        &self,
        spec: hakobu::launcher::LaunchSpec,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<String>> {
        self.0.launch(spec)
    }

    fn stop(&self, _: &str) -> futures::future::BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn state(
        &self,
        task_id: &str,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<hakobu::launcher::TaskState>> {
        self.0.state(task_id)
    }

    fn list_active(
        &self,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<Vec<hakobu::launcher::ActiveTask>>> {
        self.0.list_active()
    }
}

/// The runner cannot reach the app for longer than the heartbeat timeout (a network
/// partition) while its load finishes: the watchdog gives the run up and its retry loads
/// the rows. The first runner asks the app before its commit, is told the run is over when
/// the app is reachable again, and rolls back: every row once. Before the commit gate it
/// committed at once, its late reports were refused, and the retry loaded the rows again.
#[tokio::test]
async fn a_runner_the_app_has_given_up_commits_nothing() {
    let relay = Relay::start().await;
    relay.refuse(&["/heartbeat", "/committed", "/result"]);
    // The app's stop of the given-up runner does not reach it either (the partition, or
    // a platform API that is down): only the commit gate stands between it and a commit.
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        runner_app_url: Some(relay.url.clone()),
        launcher: Some(Arc::new(StopsNothing(
            hakobu::launcher::from_name("local", crate::helpers::runner_bin())
                .await
                .unwrap(),
        ))),
        ..Default::default()
    })
    .await;
    relay.forward_to(&app.address);
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text);
         INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'c');",
    )
    .await;
    let job = job(
        &app,
        &owner,
        json!({"retry": {"count": 1, "backoff_seconds": 1}}),
    )
    .await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let first = run["id"].as_str().unwrap().to_owned();
    // The watchdog fails the silent run (heartbeat timeout 4 s) and queues its retry.
    let given_up = hakobu_testkit::wait_until(
        "the watchdog gives the first run up",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async {
            let (_, view) = app.get(&format!("/api/runs/{first}"), &owner.token).await;
            (view["status"] == "failed").then_some(view)
        },
    )
    .await;
    assert!(
        relay.refused("/heartbeat") >= 2,
        "the first runner waited at its commit gate, asking"
    );
    assert_eq!(
        relay.refused("/committed"),
        0,
        "nothing was committed while the app could not be asked: {given_up}"
    );
    relay.refuse(&[]);
    let retried = hakobu_testkit::wait_until(
        "the retry succeeds",
        Duration::from_secs(90),
        Duration::from_millis(200),
        || async {
            let (_, runs) = app.get(&format!("/api/runs?job={job}"), &owner.token).await;
            runs["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["id"] != first.as_str() && r["status"] == "succeeded")
                .cloned()
        },
    )
    .await;
    assert_eq!(retried["rows_written"], 3, "{retried}");
    // The first runner, told the run is over, rolled back and said so in its result.
    let result = hakobu_testkit::wait_until(
        "the first runner's result",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async { relay.forwarded(&format!("/{first}/result")).pop() },
    )
    .await;
    // Told by its commit gate or by the heartbeat beside it, whichever asked first.
    assert!(
        result.contains(r#""outcome":"cancelled""#)
            && result.contains("nothing was committed: the load was rolled back"),
        "{result}"
    );
    assert!(relay.forwarded(&format!("/{first}/committed")).is_empty());
    assert_eq!(
        app.query_strings("SELECT count(*), count(DISTINCT id) FROM dst")
            .await,
        [[Some("3".to_owned()), Some("3".to_owned())]],
        "every row once"
    );
    let (_, first_view) = app.get(&format!("/api/runs/{first}"), &owner.token).await;
    assert_eq!(first_view["status"], "failed", "{first_view}");
}

/// The app answers 503 to a runner's first requests for its assignment (restarting, no
/// free database connection): the runner asks again until it gets it, and the run
/// succeeds once. Before, the runner exited at the first refusal and the run was failed as
/// "ended before it began the transfer".
#[tokio::test]
async fn a_runner_asks_again_for_its_assignment_while_the_app_cannot_answer() {
    let relay = Relay::start().await;
    relay.refuse(&["/assignment"]);
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        runner_app_url: Some(relay.url.clone()),
        ..Default::default()
    })
    .await;
    relay.forward_to(&app.address);
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text);
         INSERT INTO src VALUES (1, 'a'), (2, 'b');",
    )
    .await;
    let job = job(&app, &owner, json!({})).await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    hakobu_testkit::wait_until(
        "the assignment refused twice",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || {
            let refused = relay.refused("/assignment");
            async move { (refused >= 2).then_some(()) }
        },
    )
    .await;
    let (_, during) = app.get(&format!("/api/runs/{id}"), &owner.token).await;
    assert_eq!(during["status"], "starting", "{during}");
    relay.refuse(&[]);
    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_written"], 2, "{done}");
    let (_, runs) = app.get(&format!("/api/runs?job={job}"), &owner.token).await;
    assert_eq!(runs["total"], 1, "{runs}");
}

/// The runner dies for good (kill -9) after the destination committed, before its result
/// got through: the commit it reported first stands. The run is recorded with its rows
/// (not "failed, nothing was committed"), the state moves on, and nothing is retried.
#[tokio::test]
async fn a_runner_lost_after_its_commit_leaves_the_commit_recorded() {
    let relay = Relay::start().await;
    relay.refuse(&["/result"]);
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        runner_app_url: Some(relay.url.clone()),
        ..Default::default()
    })
    .await;
    relay.forward_to(&app.address);
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text);
         INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'c');",
    )
    .await;
    let job = job(
        &app,
        &owner,
        json!({"retry": {"count": 1, "backoff_seconds": 1}}),
    )
    .await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    hakobu_testkit::wait_until(
        "the result refused",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || {
            let refused = relay.refused("/result");
            async move { (refused >= 1).then_some(()) }
        },
    )
    .await;
    let pid = running_runner_pid(&app, &owner.token, &id).await;
    signal(&pid, "-9");
    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_written"], 3, "{done}");
    let summary = done["error_summary"].as_str().unwrap();
    assert!(
        summary.starts_with("The load committed (3 rows written; the incremental state moved on)")
            && summary.contains("the runner's result never arrived"),
        "{done}"
    );
    let (_, job_view) = app.get(&format!("/api/jobs/{job}"), &owner.token).await;
    assert_eq!(job_view["incremental_state"], json!({"last_record": [3]}));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (_, runs) = app.get(&format!("/api/runs?job={job}"), &owner.token).await;
    assert_eq!(runs["total"], 1, "no retry: {runs}");
}

/// SIGTERM the app did not ask for (a Spot reclaim, an eviction) mid-load: the run fails
/// as interrupted by the platform and its retry is queued; the load rolled back. A cancel
/// the app asked for (its launcher sends the same SIGTERM) stays a cancel, with no retry.
#[tokio::test]
async fn a_platform_sigterm_is_a_retried_failure_and_an_asked_cancel_is_not() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text);
         INSERT INTO src SELECT g, 'row ' || g FROM generate_series(1, 3000) g;
         CREATE VIEW src_slow AS SELECT id, name FROM src WHERE pg_sleep(0.005)::text = '';
         CREATE TABLE dst (id bigint PRIMARY KEY, name text);",
    )
    .await;
    let job = job(
        &app,
        &owner,
        json!({"overlap": "allow", "retry": {"count": 1, "backoff_seconds": 3600},
               "source": {"connection_id": null, "table": {"name": "src_slow"}}}),
    )
    .await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let pid = running_runner_pid(&app, &owner.token, &id).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    signal(&pid, "-TERM");
    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["error_summary"]
            .as_str()
            .unwrap()
            .starts_with("Interrupted by the platform"),
        "{done}"
    );
    assert!(
        done["error_summary"]
            .as_str()
            .unwrap()
            .contains("rolled back"),
        "{done}"
    );
    let (_, runs) = app.get(&format!("/api/runs?job={job}"), &owner.token).await;
    assert_eq!(runs["total"], 2, "{runs}");
    assert_eq!(runs["items"][0]["trigger"], "retry");
    assert_eq!(
        app.query_strings("SELECT count(*) FROM dst").await,
        [[Some("0".to_owned())]],
        "rolled back"
    );

    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    running_runner_pid(&app, &owner.token, &id).await;
    let (status, _) = app
        .post(&format!("/api/runs/{id}/cancel"), &owner.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "cancelled", "{done}");
    let (_, runs) = app.get(&format!("/api/runs?job={job}"), &owner.token).await;
    assert_eq!(runs["total"], 3, "no retry after a cancel: {runs}");
}

/// After an outage longer than a run token's life, the runner's commit and result are
/// still taken with its expired token (within the grace), its heartbeat is not; a runner
/// that failed after the commit is recorded with what it committed, not failed and
/// retried; and a restarted watchdog counts silence from its own start, not from before.
#[tokio::test]
async fn reports_after_an_outage_are_taken_and_a_restart_fails_no_silent_run() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let job = job(
        &app,
        &owner,
        json!({"retry": {"count": 2, "backoff_seconds": 1}}),
    )
    .await;
    let run = uuid::Uuid::new_v4();
    app.sql(&format!(
        "INSERT INTO runs (id, organization_id, job_id, job_revision, status, root_run_id, trigger,
                           timeout_seconds, started_at, heartbeat_at, max_attempts)
         VALUES ('{run}', '{}', '{job}', 1, 'running', '{run}', 'manual', 3600,
                 now() - interval '20 minutes', now() - interval '15 minutes', 3)",
        owner.org_id
    ))
    .await;
    let expired = RunTokens::new(JWT_SECRET)
        .issue(
            run.to_string().parse().unwrap(),
            chrono::Utc::now() - chrono::Duration::minutes(10),
        )
        .unwrap();
    let (status, _) = app
        .post(
            &format!("/api/runner/runs/{run}/heartbeat"),
            &expired,
            json!({"rows_read": 3, "rows_written": 3, "bytes_read": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "heartbeats get no grace");

    // A watchdog that just started (or got its database back) hears no silence yet.
    let watchdog = hakobu::runs::watchdog::Watchdog {
        pool: hakobu::db::build_pool(
            &format!("{}/{}", crate::helpers::server_url(), app.db_name),
            2,
        )
        .unwrap(),
        launcher: Arc::new(RecordingLauncher::default()),
        heartbeat_timeout: Duration::from_secs(60),
        start_timeout: Duration::from_secs(600),
        log_retention: Duration::from_secs(86_400),
    };
    assert_eq!(
        watchdog
            .sweep_listening_since(Some(chrono::Utc::now()))
            .await
            .unwrap(),
        0
    );

    let (status, body) = app
        .post(
            &format!("/api/runner/runs/{run}/committed"),
            &expired,
            json!({"rows_read": 3, "rows_written": 3, "rows_skipped": 0, "bytes_read": 10,
                   "next_state": {"in": {"last_record": [3]}}}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/runner/runs/{run}/result"),
            &expired,
            json!({"outcome": "failed", "rows_read": 0, "rows_written": 0, "rows_skipped": 0,
                   "bytes_read": 0, "error": "the data checks could not run: the app answered 503"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, done) = app.get(&format!("/api/runs/{run}"), &owner.token).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_written"], 3);
    assert_eq!(
        done["error_summary"],
        "The load committed (3 rows written; the incremental state moved on); after that: the data checks could not run: the app answered 503"
    );
    let (_, job_view) = app.get(&format!("/api/jobs/{job}"), &owner.token).await;
    assert_eq!(job_view["incremental_state"], json!({"last_record": [3]}));
    let (_, runs) = app.get(&format!("/api/runs?job={job}"), &owner.token).await;
    assert_eq!(runs["total"], 1, "no retry: {runs}");

    // A token expired longer ago than the grace is refused, and the commit of an ended
    // run is a conflict.
    let long_expired = RunTokens::new(JWT_SECRET)
        .issue(
            run.to_string().parse().unwrap(),
            chrono::Utc::now() - chrono::Duration::hours(2),
        )
        .unwrap();
    let commit = json!({"rows_read": 3, "rows_written": 3, "rows_skipped": 0, "bytes_read": 10,
                        "next_state": {}});
    let (status, _) = app
        .post(
            &format!("/api/runner/runs/{run}/committed"),
            &long_expired,
            commit.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .post(
            &format!("/api/runner/runs/{run}/committed"),
            &expired,
            commit,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

/// Stop reports say what the target holds: a platform SIGTERM in `insert_direct` reports
/// the rows already written (they stay, and the count matches the table), and a cancel
/// during the data checks, after the commit, keeps the commit: cancelled, with its rows,
/// and the incremental state moved on.
#[tokio::test]
async fn stop_reports_tell_what_the_target_holds() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text);
         INSERT INTO src SELECT g, 'row ' || g FROM generate_series(1, 3000) g;
         CREATE VIEW src_slow AS SELECT id, name FROM src WHERE pg_sleep(0.005)::text = '';
         CREATE TABLE dst (id bigint PRIMARY KEY, name text);
         CREATE TABLE dst_checked (id bigint PRIMARY KEY, name text);",
    )
    .await;
    let conn = app.pg_connection(&owner).await;
    let (status, body) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Direct", "team_id": owner.default_team, "settings": {
                "source": {"connection_id": conn, "table": {"name": "src_slow"}},
                "destination": {"connection_id": conn, "table": {"name": "dst"}, "mode": "insert_direct"},
                "overlap": "allow"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let direct = body["id"].as_str().unwrap().to_owned();
    let (_, run) = app
        .post(&format!("/api/jobs/{direct}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    let pid = running_runner_pid(&app, &owner.token, &id).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    signal(&pid, "-TERM");
    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    let summary = done["error_summary"].as_str().unwrap();
    assert!(
        summary.contains("mode insert_direct writes without a transaction"),
        "{done}"
    );
    let in_table = app.query_strings("SELECT count(*) FROM dst").await[0][0]
        .clone()
        .unwrap();
    assert_eq!(done["rows_written"].to_string(), in_table, "{done}");
    assert!(
        summary.starts_with(&format!(
            "Interrupted by the platform (a Spot reclaim, an eviction or a node drain stopped the runner); {in_table} rows had already been written"
        )),
        "{done}"
    );

    // A check that takes its time, so the cancel comes after the commit.
    let (status, body) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Checked slowly", "team_id": owner.default_team, "settings": {
                "source": {"connection_id": conn, "table": {"name": "src"}, "incremental": true, "incremental_columns": ["id"]},
                "destination": {"connection_id": conn, "table": {"name": "dst_checked"}, "mode": "insert"},
                "checks": [{"name": "slow", "connection_id": conn, "sql": "SELECT 1 FROM pg_sleep(30)", "operator": "=", "expected": "1"}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let checked = body["id"].as_str().unwrap().to_owned();
    let (_, run) = app
        .post(
            &format!("/api/jobs/{checked}/runs"),
            &owner.token,
            json!({}),
        )
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    hakobu_testkit::wait_until(
        "the commit reported",
        Duration::from_secs(60),
        Duration::from_millis(200),
        || {
            let app = &app;
            let id = id.clone();
            async move {
                app.query_strings(&format!(
                    "SELECT 1 FROM runs WHERE id = '{id}' AND status = 'running' AND next_state IS NOT NULL"
                ))
                .await
                .first()
                .map(|_| ())
            }
        },
    )
    .await;
    let (status, _) = app
        .post(&format!("/api/runs/{id}/cancel"), &owner.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "cancelled", "{done}");
    assert_eq!(done["rows_written"], 3000, "{done}");
    assert_eq!(
        done["error_summary"],
        "The load committed (3000 rows written; the incremental state moved on); the run was cancelled after that.",
        "{done}"
    );
    let (_, job_view) = app.get(&format!("/api/jobs/{checked}"), &owner.token).await;
    assert_eq!(
        job_view["incremental_state"],
        json!({"last_record": [3000]})
    );
}

/// Starts each runner as a child of the test and keeps its exit code: what a container
/// platform sees when the runner ends.
#[derive(Default)]
struct ExitCodeLauncher {
    /// Run id -> the runner's pid.
    pids: std::sync::Mutex<std::collections::HashMap<String, u32>>,
    /// Run id -> its exit code, once it exited.
    exits: Arc<std::sync::Mutex<std::collections::HashMap<String, Option<i32>>>>,
}

impl hakobu::launcher::Launcher for ExitCodeLauncher {
    fn name(&self) -> &'static str {
        "exit-code"
    }

    fn launch(
        &self,
        spec: hakobu::launcher::LaunchSpec,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<String>> {
        let dir = std::env::temp_dir().join(format!("hakobu-exit-{}", spec.run_id));
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = tokio::process::Command::new(crate::helpers::runner_bin())
            .arg("managed")
            .current_dir(&dir)
            .env_clear()
            .env("HAKOBU_APP_URL", &spec.app_url)
            .env("HAKOBU_RUN_ID", spec.run_id.to_string())
            .env("HAKOBU_RUN_TOKEN", &spec.run_token)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let run = spec.run_id.to_string();
        self.pids
            .lock()
            .unwrap()
            .insert(run.clone(), child.id().unwrap());
        let exits = self.exits.clone();
        let task = format!("exit-{run}");
        tokio::spawn(async move {
            let status = child.wait().await.unwrap();
            exits.lock().unwrap().insert(run, status.code());
            let _ = std::fs::remove_dir_all(dir);
        });
        Box::pin(async move { Ok(task) })
    }

    fn stop(&self, _: &str) -> futures::future::BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn state(
        &self,
        _: &str,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<hakobu::launcher::TaskState>> {
        Box::pin(async { Ok(hakobu::launcher::TaskState::Running) })
    }

    fn list_active(
        &self,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<Vec<hakobu::launcher::ActiveTask>>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

/// The interrupted runner exits with 143 (128 + SIGTERM) after reporting.
#[tokio::test]
async fn an_interrupted_runner_exits_with_143() {
    let launcher = Arc::new(ExitCodeLauncher::default());
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        launcher: Some(launcher.clone()),
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text);
         INSERT INTO src SELECT g, 'row ' || g FROM generate_series(1, 3000) g;
         CREATE VIEW src_slow AS SELECT id, name FROM src WHERE pg_sleep(0.005)::text = '';",
    )
    .await;
    let job = job(
        &app,
        &owner,
        json!({"source": {"connection_id": null, "table": {"name": "src_slow"}}}),
    )
    .await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    hakobu_testkit::wait_until(
        "the runner running",
        Duration::from_secs(60),
        Duration::from_millis(100),
        || {
            let app = &app;
            let token = owner.token.clone();
            let id = id.clone();
            async move {
                let (_, now) = app.get(&format!("/api/runs/{id}"), &token).await;
                (now["status"] == "running" && !now["heartbeat_at"].is_null()).then_some(())
            }
        },
    )
    .await;
    let pid = launcher.pids.lock().unwrap()[&id].to_string();
    signal(&pid, "-TERM");
    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "failed", "{done}");
    let code = hakobu_testkit::wait_until(
        "the runner's exit",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || {
            let code = launcher.exits.lock().unwrap().get(&id).copied();
            async move { code }
        },
    )
    .await;
    assert_eq!(code, Some(143));
}

/// Fault: the app's PostgreSQL connections drop again and again (a failover, a proxy
/// restart) while a run loads, commits and reports. The runner's reports get through once
/// the app's pool reconnects: the run succeeds once, every row once, the state moves on,
/// nothing is retried.
#[tokio::test]
async fn the_apps_database_connections_dropping_during_a_run_loses_nothing() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text);
         INSERT INTO src SELECT g, 'row ' || g FROM generate_series(1, 600) g;
         CREATE VIEW src_slow AS SELECT id, name FROM src WHERE pg_sleep(0.005)::text = '';",
    )
    .await;
    let job = job(
        &app,
        &owner,
        json!({"retry": {"count": 1, "backoff_seconds": 1},
               "source": {"connection_id": null, "table": {"name": "src_slow"},
                          "incremental": true, "incremental_columns": ["id"]}}),
    )
    .await;
    let (_, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    let id = run["id"].as_str().unwrap().to_owned();
    running_runner_pid(&app, &owner.token, &id).await;
    // The app's own connections only (the engine's are named `hakobu`), for 10 s.
    let mut dropped = 0;
    for _ in 0..30 {
        dropped += app
            .query_strings(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = '{}' AND application_name = '' AND pid <> pg_backend_pid()",
                app.db_name
            ))
            .await
            .len();
        tokio::time::sleep(Duration::from_millis(330)).await;
    }
    assert!(dropped > 0, "connections were dropped");
    let done = wait_final(&app, &owner.token, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let (_, job_view) = app.get(&format!("/api/jobs/{job}"), &owner.token).await;
    assert_eq!(job_view["incremental_state"], json!({"last_record": [600]}));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, runs) = app.get(&format!("/api/runs?job={job}"), &owner.token).await;
    assert_eq!(runs["total"], 1, "no retry: {runs}");
    assert_eq!(
        app.query_strings("SELECT count(*), count(DISTINCT id) FROM dst")
            .await,
        [[Some("600".to_owned()), Some("600".to_owned())]],
        "every row once"
    );
}
