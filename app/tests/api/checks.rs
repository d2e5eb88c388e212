//! Data checks through real runs with the local launcher against PostgreSQL and MariaDB:
//! pass, fail, warn and NULL handling, results on the run, a failing `fail` check failing
//! the run after a committed load, the form's "run this check now", and save-time rules.

use crate::helpers::{SpawnOptions, TestApp, TestUser, spawn_app_with};
use hakobu_testkit::{TestDb, mariadb};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Fixture {
    app: TestApp,
    owner: TestUser,
    pg: String,
    maria: String,
    /// Dropped with the fixture.
    _maria_database: TestDb,
}

async fn fixture() -> Fixture {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'c');")
        .await;
    let maria_database = TestDb::mariadb();
    let maria_db = maria_database.name.clone();
    mariadb(
        Some(&maria_db),
        "CREATE TABLE expected_counts (n int); INSERT INTO expected_counts VALUES (3);",
    );
    let pg = app.pg_connection(&owner).await;
    let maria = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Maria",
            "mysql",
            json!({"host": "127.0.0.1", "port": 3306, "database": maria_db, "user": "root", "tls_mode": "disable"}),
        )
        .await;
    Fixture {
        app,
        owner,
        pg,
        maria,
        _maria_database: maria_database,
    }
}

async fn create_job(
    f: &Fixture,
    name: &str,
    destination: &str,
    checks: Value,
) -> (StatusCode, Value) {
    f.app
        .post(
            "/api/jobs",
            &f.owner.token,
            json!({"name": name, "team_id": f.owner.default_team, "settings": {
                "source": {"connection_id": f.pg, "table": {"name": "src"}},
                "destination": {"connection_id": f.pg, "table": {"name": destination}, "mode": "insert"},
                "checks": checks}}),
        )
        .await
}

async fn run_to_end(f: &Fixture, job: &str) -> Value {
    let (status, run) = f
        .app
        .post(&format!("/api/jobs/{job}/runs"), &f.owner.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    f.app
        .wait_for_run_end(&f.owner.token, run["id"].as_str().unwrap())
        .await
}

async fn results(f: &Fixture, run: &Value) -> Vec<(String, String, Option<String>)> {
    let (status, body) = f
        .app
        .get(
            &format!("/api/runs/{}/checks", run["id"].as_str().unwrap()),
            &f.owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["outcome"].as_str().unwrap().to_owned(),
                c["actual"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn checks_pass_and_warn_after_a_real_run_on_postgres_and_mariadb() {
    let f = fixture().await;
    let (status, job) = create_job(
        &f,
        "Checked",
        "dst",
        json!([
            {"name": "all rows arrived", "connection_id": f.pg, "sql": "SELECT count(*) FROM dst", "operator": "=", "expected": "3"},
            {"name": "as many as the reference", "connection_id": f.maria, "sql": "SELECT n FROM expected_counts", "operator": ">=", "expected": "3"},
            {"name": "NULL may pass", "connection_id": f.maria, "sql": "SELECT NULL", "operator": "=", "expected": "1", "null_passes": true},
            {"name": "no ids above 2", "connection_id": f.pg, "sql": "SELECT count(*) FROM dst WHERE id > 2", "operator": "=", "expected": "0", "on_failure": "warn"}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let run = run_to_end(&f, job["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        results(&f, &run).await,
        [
            (
                "all rows arrived".to_owned(),
                "passed".to_owned(),
                Some("3".to_owned())
            ),
            (
                "as many as the reference".to_owned(),
                "passed".to_owned(),
                Some("3".to_owned())
            ),
            ("NULL may pass".to_owned(), "passed".to_owned(), None),
            (
                "no ids above 2".to_owned(),
                "warned".to_owned(),
                Some("1".to_owned())
            ),
        ]
    );
    let (_, logs) = f
        .app
        .get(
            &format!("/api/runs/{}/logs", run["id"].as_str().unwrap()),
            &f.owner.token,
        )
        .await;
    assert!(
        logs.to_string()
            .contains("data check \\\"no ids above 2\\\" warned"),
        "{logs}"
    );
}

#[tokio::test]
async fn a_failing_check_fails_the_run_after_a_committed_load() {
    let f = fixture().await;
    let (status, job) = create_job(
        &f,
        "Strict",
        "dst_strict",
        json!([
            {"name": "NULL fails", "connection_id": f.pg, "sql": "SELECT max(id) FROM dst_strict WHERE id > 100", "operator": "=", "expected": "0"},
            {"name": "broken query", "connection_id": f.maria, "sql": "SELECT nope FROM missing_table", "operator": "=", "expected": "0", "on_failure": "warn"},
            {"name": "too few", "connection_id": f.pg, "sql": "SELECT count(*) FROM dst_strict", "operator": ">", "expected": "10"}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let run = run_to_end(&f, job["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error_summary"].as_str().unwrap();
    assert!(
        error.contains("NULL fails (got NULL, expected = 0)")
            && error.contains("too few (got 3, expected > 10)")
            && error.contains("stay committed"),
        "{error}"
    );
    assert!(
        !error.contains("broken query"),
        "a warning does not fail the run: {error}"
    );
    assert_eq!(
        f.app.query_strings("SELECT count(*) FROM dst_strict").await[0][0].as_deref(),
        Some("3"),
        "the load stays committed"
    );
    let got = results(&f, &run).await;
    assert_eq!(got[0].1, "failed");
    assert_eq!(got[1].1, "warned");
    assert_eq!(got[2].1, "failed");
    let (_, body) = f
        .app
        .get(
            &format!("/api/runs/{}/checks", run["id"].as_str().unwrap()),
            &f.owner.token,
        )
        .await;
    assert!(
        body[1]["message"]
            .as_str()
            .unwrap()
            .contains("the query failed"),
        "{body}"
    );
    assert!(
        body[0]["message"].as_str().unwrap().contains("NULL"),
        "{body}"
    );
    // No retry: loading again would not change what the check judged.
    let attempts = f
        .app
        .query_strings(&format!(
            "SELECT count(*) FROM runs WHERE root_run_id = '{}'",
            run["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(attempts[0][0].as_deref(), Some("1"));
}

#[tokio::test]
async fn a_check_runs_now_for_the_form_and_bad_checks_are_refused_at_save() {
    let f = fixture().await;
    let preview = |body: Value| {
        let app = &f.app;
        let token = f.owner.token.clone();
        async move { app.post("/api/data-checks/preview", &token, body).await }
    };
    let (status, body) = preview(json!({"connection_id": f.pg, "sql": "SELECT count(*) FROM src", "operator": ">=", "expected": "3"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"passed": true, "actual": "3", "error": null}));
    let (_, body) = preview(json!({"connection_id": f.maria, "sql": "SELECT n FROM expected_counts", "operator": "<", "expected": "3"})).await;
    assert_eq!(body["passed"], false, "{body}");
    assert_eq!(body["actual"], "3");
    let (_, body) = preview(
        json!({"connection_id": f.maria, "sql": "SELECT NULL", "operator": "=", "expected": "1"}),
    )
    .await;
    assert_eq!(body["passed"], false, "NULL fails unless allowed: {body}");
    let (_, body) = preview(json!({"connection_id": f.pg, "sql": "SELECT nope FROM missing", "operator": "=", "expected": "1"})).await;
    assert_eq!(body["passed"], false);
    assert!(
        body["error"].as_str().unwrap().contains("missing"),
        "{body}"
    );
    let (status, body) = preview(
        json!({"connection_id": f.pg, "sql": "DELETE FROM src", "operator": "=", "expected": "1"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "sql");
    let (status, body) = preview(
        json!({"connection_id": f.pg, "sql": "SELECT 1", "operator": "==", "expected": "1"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "operator");
    assert_eq!(
        f.app.query_strings("SELECT count(*) FROM src").await[0][0].as_deref(),
        Some("3")
    );
    // An operator of the team may use connections in runs but not run queries on them.
    let operator = f
        .app
        .add_member(
            &f.owner,
            "member",
            json!([{"team_id": f.owner.default_team, "role": "operator"}]),
        )
        .await;
    let (status, _) = f
        .app
        .post(
            "/api/data-checks/preview",
            &operator.token,
            json!({"connection_id": f.pg, "sql": "SELECT 1", "operator": "=", "expected": "1"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let files = f
        .app
        .create_connection(
            &f.owner,
            &f.owner.default_team,
            "Files",
            "local_files",
            json!({"directory": "."}),
        )
        .await;
    let (status, body) = create_job(
        &f,
        "Bad checks",
        "dst_bad",
        json!([
            {"name": "", "connection_id": f.pg, "sql": "UPDATE src SET name = 'x'", "operator": "=", "expected": "0"},
            {"name": "files", "connection_id": files, "sql": "SELECT 1", "operator": "=", "expected": "1"},
            {"name": "unknown", "connection_id": uuid::Uuid::new_v4(), "sql": "SELECT 1", "operator": "=", "expected": "1"}
        ]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    for field in [
        "settings.checks[0].name",
        "settings.checks[0].sql",
        "settings.checks[1].connection_id",
        "settings.checks[2].connection_id",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
}
