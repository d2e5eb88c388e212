//! Authorization at every use, not only when a job is saved: a query variable's connection
//! needs operator rights at save; a revoked share stops the next run at its start; moving a
//! connection needs admin on the team that owns it; a run token stops writing logs and
//! fetching data checks once its run has ended.

use crate::helpers::{JWT_SECRET, SpawnOptions, TestApp, TestUser, spawn_app, spawn_app_with};
use hakobu::auth::run_token::RunTokens;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// An organization with its owner, a second team and a connection of the first team.
struct Teams {
    owner: TestUser,
    other_team: String,
    pg: String,
}

async fn teams(app: &TestApp) -> Teams {
    let owner = app.signup("Acme").await;
    let other_team = app.create_team(&owner, "Analytics").await;
    let pg = app.pg_connection(&owner).await;
    Teams {
        owner,
        other_team,
        pg,
    }
}

async fn share(app: &TestApp, t: &Teams, shares: Value) {
    let (status, body) = app
        .put(
            &format!("/api/connections/{}/shares", t.pg),
            &t.owner.token,
            json!({ "shares": shares }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_query_variable_needs_operator_rights_on_its_connection_at_save() {
    let app = spawn_app().await;
    let t = teams(&app).await;
    // An editor of the other team only, with a connection of their own there.
    let analyst = app
        .add_member(
            &t.owner,
            "member",
            json!([{"team_id": t.other_team, "role": "editor"}]),
        )
        .await;
    let own = app
        .create_connection(
            &analyst,
            &t.other_team,
            "Own",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let job = |variable_connection: &str| {
        json!({"name": "Vars", "team_id": t.other_team, "settings": {
            "source": {"connection_id": own, "table": {"name": "src"}},
            "destination": {"connection_id": own, "table": {"name": "dst"}, "mode": "insert"},
            "variables": [{"name": "cutoff", "value": {"kind": "query", "connection_id": variable_connection, "sql": "SELECT 1"}}]}})
    };
    let field = "settings.variables[0].value.connection_id";
    // Not shared: the connection is not one the analyst can see.
    let (status, body) = app.post("/api/jobs", &analyst.token, job(&t.pg)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains(field), "{body}");
    // Shared to view only: seeing is not using.
    share(
        &app,
        &t,
        json!([{"team_id": t.other_team, "role": "viewer"}]),
    )
    .await;
    let (status, body) = app.post("/api/jobs", &analyst.token, job(&t.pg)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("operator or higher"), "{body}");
    // Shared at operator: the job saves.
    share(
        &app,
        &t,
        json!([{"team_id": t.other_team, "role": "operator"}]),
    )
    .await;
    let (status, body) = app.post("/api/jobs", &analyst.token, job(&t.pg)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_revoked_share_stops_the_run_at_its_start() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let t = teams(&app).await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY); INSERT INTO src VALUES (1);")
        .await;
    share(
        &app,
        &t,
        json!([{"team_id": t.other_team, "role": "operator"}]),
    )
    .await;
    // The other team's job reads and writes through the shared connection.
    let (status, job) = app
        .post(
            "/api/jobs",
            &t.owner.token,
            json!({"name": "Copy", "team_id": t.other_team, "settings": {
                "source": {"connection_id": t.pg, "table": {"name": "src"}},
                "destination": {"connection_id": t.pg, "table": {"name": "dst"}, "mode": "insert"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let job = job["id"].as_str().unwrap();
    share(&app, &t, json!([])).await;
    let (status, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &t.owner.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let done = app
        .wait_for_run_end(&t.owner.token, run["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "failed", "{done}");
    let summary = done["error_summary"].as_str().unwrap();
    assert!(
        summary.contains("\"Analytics\" may no longer use connection \"PG\"")
            && summary.contains("ask its owner to share it again"),
        "{summary}"
    );
}

#[tokio::test]
async fn moving_a_connection_needs_admin_on_its_team() {
    let app = spawn_app().await;
    let t = teams(&app).await;
    let editor = app
        .add_member(
            &t.owner,
            "member",
            json!([{"team_id": t.owner.default_team, "role": "editor"},
                   {"team_id": t.other_team, "role": "editor"}]),
        )
        .await;
    let path = format!("/api/connections/{}", t.pg);
    let (status, body) = app
        .patch(&path, &editor.token, json!({"team_id": t.other_team}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("admin of the team"),
        "{body}"
    );
    // Editors still change what they edit; only the move is the admins'.
    let (status, body) = app
        .patch(&path, &editor.token, json!({"name": "Warehouse"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .patch(&path, &t.owner.token, json!({"team_id": t.other_team}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["team_id"], t.other_team.as_str());
}

#[tokio::test]
async fn a_run_token_stops_writing_logs_and_fetching_checks_once_the_run_has_ended() {
    let app = spawn_app().await;
    let t = teams(&app).await;
    let (status, job) = app
        .post(
            "/api/jobs",
            &t.owner.token,
            json!({"name": "Copy", "team_id": t.owner.default_team, "settings": {
                "source": {"connection_id": t.pg, "table": {"name": "src"}},
                "destination": {"connection_id": t.pg, "table": {"name": "dst"}, "mode": "insert"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let (status, run) = app
        .post(
            &format!("/api/jobs/{}/runs", job["id"].as_str().unwrap()),
            &t.owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let id = run["id"].as_str().unwrap();
    let token = RunTokens::new(JWT_SECRET)
        .issue(
            id.parse().unwrap(),
            chrono::Utc::now() + chrono::Duration::minutes(5),
        )
        .unwrap();
    let logs = format!("/api/runner/runs/{id}/logs");
    let line = json!({"lines": [{"level": "info", "message": "still here"}]});
    // While the run is active its token writes logs.
    let (status, body) = app.post(&logs, &token, line.clone()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = app
        .post(&format!("/api/runs/{id}/cancel"), &t.owner.token, json!({}))
        .await;
    assert!(status.is_success(), "{body}");
    let (_, ended) = app.get(&format!("/api/runs/{id}"), &t.owner.token).await;
    assert_eq!(ended["status"], "cancelled", "{ended}");
    let (status, body) = app.post(&logs, &token, line).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("has ended"),
        "{body}"
    );
    let (status, body) = app
        .get(&format!("/api/runner/runs/{id}/checks"), &token)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("has ended"),
        "{body}"
    );
}
