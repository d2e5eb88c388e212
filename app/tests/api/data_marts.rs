//! Data mart jobs through the API: validation, the read-only preview, runs in a real
//! runner (a query's result written with delete_insert; statements in one transaction),
//! a scheduled one with a variable, and values crafted to escape their literal.

use crate::helpers::{SpawnOptions, TestApp, TestUser, spawn_app, spawn_app_with};
use crate::runs::wait_final;
use crate::schedules::scheduler;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

const FIXTURE: &str = "CREATE TABLE orders (id int, day date, amount int);
INSERT INTO orders VALUES (1, '2026-11-20', 10), (2, '2026-11-20', 20), (3, '2026-11-21', 5);
CREATE TABLE daily (day date PRIMARY KEY, total int);
INSERT INTO daily VALUES ('2026-11-19', 7), ('2026-11-20', 999);
CREATE TABLE audit_notes (note text);";

async fn create(app: &TestApp, owner: &TestUser, settings: Value) -> (StatusCode, Value) {
    app.post(
        "/api/jobs",
        &owner.token,
        json!({"name": format!("Mart {}", uuid::Uuid::new_v4().simple()), "team_id": owner.default_team, "settings": settings}),
    )
    .await
}

fn write_mode(connection: &str) -> Value {
    json!({
        "kind": "data_mart",
        "source": {"connection_id": connection, "query": "SELECT day, CAST(SUM(amount) AS int) AS total FROM orders WHERE day = $day$::date GROUP BY day"},
        "destination": {"connection_id": connection, "table": {"name": "daily"}, "mode": "delete_insert", "delete_where": "day = $day$::date"},
        "checks": [{"name": "the day is there", "connection_id": connection, "sql": "SELECT count(*) FROM daily WHERE day = $day$::date", "operator": "=", "expected": "1", "on_failure": "fail"}],
        "variables": [{"name": "day", "value": {"kind": "timestamp", "offset": {"quantity": 1, "unit": "day", "direction": "ago"}, "format": "%Y-%m-%d", "timezone": "UTC"}}],
    })
}

#[tokio::test]
async fn data_marts_are_validated_field_by_field() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let c = app.pg_connection(&owner).await;
    let cases = [
        (
            json!({"source": {"connection_id": c, "query": ""}, "destination": {"connection_id": c, "table": {"name": "d"}}}),
            "settings.source.query",
        ),
        (
            json!({"source": {"connection_id": c, "statements": "  "}, "destination": {"connection_id": c}}),
            "settings.source.statements",
        ),
        (
            json!({"source": {"connection_id": c, "query": "SELECT 1"}, "destination": {"connection_id": c}}),
            "settings.destination.table",
        ),
        (
            json!({"source": {"connection_id": c, "query": "SELECT 1"}, "destination": {"connection_id": c, "table": {"name": "d"}, "mode": "merge", "delete_where": "x = 1"}}),
            "settings.destination.delete_where",
        ),
        (
            json!({"source": {"connection_id": c, "query": "SELECT 1"}, "destination": {"connection_id": c, "table": {"name": "d"}, "mode": "delete_insert"}}),
            "settings.destination.merge_keys",
        ),
        // SQL that tries to escape its statement in a write mode.
        (
            json!({"source": {"connection_id": c, "query": "SELECT 1; DROP TABLE orders"}, "destination": {"connection_id": c, "table": {"name": "d"}}}),
            "settings.source.query",
        ),
        (
            json!({"source": {"connection_id": c, "query": "SELECT 1"}, "destination": {"connection_id": c, "table": {"name": "d"}, "mode": "delete_insert", "delete_where": "true; DROP TABLE orders"}}),
            "settings.destination.delete_where",
        ),
    ];
    for (mut settings, field) in cases {
        settings["kind"] = json!("data_mart");
        let (status, body) = create(&app, &owner, settings.clone()).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{settings}: {body}"
        );
        let fields: Vec<&str> = body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{settings}: {body}");
    }
}

#[tokio::test]
async fn the_preview_runs_the_query_read_only() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    app.sql(FIXTURE).await;
    let c = app.pg_connection(&owner).await;
    let (status, preview) = app
        .post(
            &format!("/api/connections/{c}/preview"),
            &owner.token,
            json!({"query": "SELECT day, SUM(amount) AS total FROM orders GROUP BY day ORDER BY day"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["columns"][1]["name"], "total", "{preview}");
    assert_eq!(preview["rows"].as_array().unwrap().len(), 2, "{preview}");
    for query in [
        "SELECT 1; DROP TABLE orders",
        "WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone",
    ] {
        let (status, body) = app
            .post(
                &format!("/api/connections/{c}/preview"),
                &owner.token,
                json!({"query": query}),
            )
            .await;
        assert_ne!(status, StatusCode::OK, "{query}: {body}");
    }
    assert_eq!(
        app.query_strings("SELECT count(*)::text FROM orders").await,
        [[Some("3".to_owned())]]
    );
}

#[tokio::test]
async fn data_marts_run_in_a_real_runner_and_values_stay_literals() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql(FIXTURE).await;
    let c = app.pg_connection(&owner).await;

    // Write the query's result: the day's partition replaced in one transaction.
    let (status, created) = create(&app, &owner, write_mode(&c)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let job = created["id"].as_str().unwrap().to_owned();
    let text = app
        .client
        .get(format!("{}/api/jobs/{job}/config", app.address))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("mode: delete_insert") && text.contains("delete_where: day = $day$::date"),
        "{text}"
    );
    let (status, run) = app
        .post(
            &format!("/api/jobs/{job}/runs"),
            &owner.token,
            json!({"as_of": "2026-11-21T12:00:00Z"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run = wait_final(&app, &owner.token, run["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["rows_written"], 1);
    assert_eq!(
        app.query_strings("SELECT string_agg(day || '=' || total, ',' ORDER BY day) FROM daily")
            .await,
        [[Some("2026-11-19=7,2026-11-20=30".to_owned())]]
    );

    // Run the statements, with a value crafted to end its literal.
    let statements = json!({
        "kind": "data_mart",
        "source": {"connection_id": c, "statements": "INSERT INTO audit_notes VALUES ($note$); UPDATE orders SET amount = amount + 1 WHERE day = $day$::date;"},
        "destination": {"connection_id": c},
        "variables": [
            {"name": "note", "value": {"kind": "string", "value": "ok"}},
            {"name": "day", "value": {"kind": "string", "value": "2026-11-20"}},
        ],
    });
    let (status, created) = create(&app, &owner, statements).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let job = created["id"].as_str().unwrap().to_owned();
    let attack = "x'); DROP TABLE orders; --";
    let (status, run) = app
        .post(
            &format!("/api/jobs/{job}/runs"),
            &owner.token,
            json!({"variables": {"note": attack}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run_id = run["id"].as_str().unwrap().to_owned();
    let run = wait_final(&app, &owner.token, &run_id).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["rows_written"], 3, "one note and two orders");
    assert_eq!(
        app.query_strings("SELECT note FROM audit_notes").await,
        [[Some(attack.to_owned())]],
        "the value was stored, not run"
    );
    assert_eq!(
        app.query_strings("SELECT count(*)::text FROM orders WHERE amount IN (11, 21)")
            .await,
        [[Some("2".to_owned())]]
    );
    let (_, logs) = app
        .get(&format!("/api/runs/{run_id}/logs"), &owner.token)
        .await;
    assert!(
        logs.to_string().contains("running the statements"),
        "{logs}"
    );

    // A failing statement: the run fails and the first statement is rolled back.
    let failing = json!({
        "kind": "data_mart",
        "source": {"connection_id": c, "statements": "UPDATE orders SET amount = 0; SELECT 1 / 0;"},
        "destination": {"connection_id": c},
    });
    let (_, created) = create(&app, &owner, failing).await;
    let (_, run) = app
        .post(
            &format!("/api/jobs/{}/runs", created["id"].as_str().unwrap()),
            &owner.token,
            json!({}),
        )
        .await;
    let run = wait_final(&app, &owner.token, run["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error_summary"]
            .as_str()
            .unwrap()
            .contains("division by zero"),
        "{run}"
    );
    assert_eq!(
        app.query_strings("SELECT count(*)::text FROM orders WHERE amount = 0")
            .await,
        [[Some("0".to_owned())]]
    );

    // The job list says which jobs are data marts.
    let (_, list) = app.get("/api/jobs", &owner.token).await;
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap_or_else(|| list.as_array().expect("a list"))
        .iter()
        .map(|j| j["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["data_mart"; 3], "{list}");
}

#[tokio::test]
async fn a_scheduled_data_mart_fills_its_variable_from_the_fire_time() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql(FIXTURE).await;
    let c = app.pg_connection(&owner).await;
    let (status, created) = create(&app, &owner, write_mode(&c)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let job = created["id"].as_str().unwrap().to_owned();
    let (status, schedule) = app
        .post(
            &format!("/api/jobs/{job}/schedules"),
            &owner.token,
            json!({"settings": {"recurrence": {"kind": "daily", "time": "03:00"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");
    app.sql(&format!(
        "UPDATE schedules SET next_fire_at = '2026-11-22T03:00:00Z' WHERE id = '{}'",
        schedule["id"].as_str().unwrap()
    ))
    .await;
    let now: DateTime<Utc> = "2026-11-22T03:00:30Z".parse().unwrap();
    assert_eq!(scheduler(&app).fire_due_once(now).await.unwrap(), 1);
    let run = app
        .query_strings(&format!("SELECT id::text FROM runs WHERE job_id = '{job}'"))
        .await;
    let run = wait_final(&app, &owner.token, run[0][0].as_deref().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["resolved_inputs"]["variables"]["day"], "2026-11-21");
    assert_eq!(
        app.query_strings("SELECT total::text FROM daily WHERE day = '2026-11-21'")
            .await,
        [[Some("5".to_owned())]]
    );
}
