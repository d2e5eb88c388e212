//! BigQuery and Snowflake connections (destinations only): saved with their key or
//! password write-only, tested through the probe worker against the local emulators
//! (`scripts/bqemulator.sh`, `scripts/fakesnow.sh`; `HAKOBU_TEST_BIGQUERY_ENDPOINT`,
//! `HAKOBU_TEST_SNOWFLAKE_ENDPOINT`), and refused as a job's source.
//!
//! What the emulators lack: neither checks credentials (fakesnow accepts any password,
//! bqemulator any token), so a wrong password cannot be shown failing here; the BigQuery
//! token exchange is served by a small endpoint in this test, which issues a token for
//! any signed request (the signature itself is checked by the engine's own test).

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn bigquery_endpoint() -> String {
    std::env::var("HAKOBU_TEST_BIGQUERY_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:9050".to_owned())
}

fn snowflake_endpoint() -> String {
    std::env::var("HAKOBU_TEST_SNOWFLAKE_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:5066".to_owned())
}

/// A PKCS#8 RSA private key made by openssl.
pub fn rsa_private_key() -> String {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl genpkey failed");
    String::from_utf8(out.stdout).unwrap()
}

/// A token endpoint on loopback answering every request with a token; answers how many
/// requests it served.
async fn token_endpoint() -> (String, tokio::task::JoinHandle<u32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        // One exchange is all a test makes; none within the time counts 0.
        let Ok(Ok((mut socket, _))) =
            tokio::time::timeout(std::time::Duration::from_secs(20), listener.accept()).await
        else {
            return 0;
        };
        let mut buf = vec![0u8; 16 * 1024];
        let _ = socket.read(&mut buf).await;
        let answer =
            r#"{"access_token":"exchanged-token","expires_in":3600,"token_type":"Bearer"}"#;
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
            answer.len()
        );
        let _ = socket.write_all(response.as_bytes()).await;
        1
    });
    (url, handle)
}

pub fn service_account_key(token_uri: &str, private_key: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "p1",
        "private_key_id": "k1",
        "private_key": private_key,
        "client_email": "loader@p1.iam.gserviceaccount.com",
        "token_uri": token_uri,
    })
    .to_string()
}

fn assert_secret_hidden(body: &Value, secret: &str) {
    assert!(!body.to_string().contains(secret), "{body}");
}

#[tokio::test]
async fn a_snowflake_connection_is_tested_on_the_emulator_and_keeps_its_password_hidden() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let password = "snowflake-secret-pw-4711";
    let settings = json!({"account": "test", "endpoint": snowflake_endpoint(), "user": "tester",
        "password": password, "database": "ANALYTICS", "warehouse": "LOAD_WH"});
    let (status, created) = app
        .post(
            "/api/connections",
            &owner.token,
            json!({"name": "Warehouse", "kind": "snowflake", "team_id": owner.default_team, "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_secret_hidden(&created, password);
    let id = created["id"].as_str().unwrap();
    let (_, view) = app
        .get(&format!("/api/connections/{id}"), &owner.token)
        .await;
    assert_eq!(view["settings"]["password"], json!({"set": true}), "{view}");
    assert_eq!(view["settings"]["schema"], Value::Null, "{view}");
    assert_secret_hidden(&view, password);

    let (status, tested) = app
        .post(
            &format!("/api/connections/{id}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(tested["ok"], true, "{tested}");
    assert_secret_hidden(&tested, password);

    // Neither a password nor a key: the password is asked for by name.
    let (status, body) = app
        .post(
            "/api/connections",
            &owner.token,
            json!({"name": "No key", "kind": "snowflake", "team_id": owner.default_team,
                "settings": {"account": "test", "user": "u", "database": "d"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "settings.password", "{body}");

    // Nothing answering at the endpoint: the test says it could not reach it.
    let (status, body) = app
        .post(
            "/api/connections/test",
            &owner.token,
            json!({"kind": "snowflake", "settings": {"account": "test", "endpoint": "http://127.0.0.1:9",
                "user": "u", "password": password, "database": "d"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["error"]["kind"], "unreachable", "{body}");
    assert_secret_hidden(&body, password);
}

#[tokio::test]
async fn a_bigquery_connection_signs_in_with_its_key_and_runs_a_query_on_the_emulator() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let private_key = rsa_private_key();
    let (token_uri, served) = token_endpoint().await;
    let key = service_account_key(&token_uri, &private_key);
    let settings = json!({"project": "p1", "dataset": "raw", "endpoint": bigquery_endpoint(),
        "json_keyfile": key});
    let (status, created) = app
        .post(
            "/api/connections",
            &owner.token,
            json!({"name": "BQ", "kind": "bigquery", "team_id": owner.default_team, "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_secret_hidden(&created, "PRIVATE KEY");
    let id = created["id"].as_str().unwrap();
    let (_, view) = app
        .get(&format!("/api/connections/{id}"), &owner.token)
        .await;
    assert_eq!(
        view["settings"]["json_keyfile"],
        json!({"set": true}),
        "{view}"
    );
    assert_secret_hidden(&view, "PRIVATE KEY");

    let (status, tested) = app
        .post(
            &format!("/api/connections/{id}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(tested["ok"], true, "{tested}");
    assert_secret_hidden(&tested, "PRIVATE KEY");
    assert_eq!(
        served.await.unwrap(),
        1,
        "the key was exchanged for a token"
    );

    // A key that is not a service account's is refused on its field.
    let (status, body) = app
        .post(
            "/api/connections",
            &owner.token,
            json!({"name": "Bad key", "kind": "bigquery", "team_id": owner.default_team,
                "settings": {"project": "p1", "dataset": "raw", "json_keyfile": "{\"type\": \"authorized_user\"}"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "settings.json_keyfile", "{body}");

    // A warehouse is a destination only: as a job's source it is refused on the field.
    let pg = app
        .create_connection(
            &owner,
            &owner.default_team,
            "PG",
            "postgresql",
            json!({"host": "127.0.0.1", "database": "postgres", "user": "postgres", "tls_mode": "disable"}),
        )
        .await;
    let (status, body) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Backwards", "team_id": owner.default_team, "settings": {
                "source": {"connection_id": id, "table": {"name": "orders"}},
                "destination": {"connection_id": pg, "table": {"name": "orders"}}}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("settings.source.connection_id"),
        "{body}"
    );
    // As a destination, a mode BigQuery does not offer is refused on the mode.
    let (status, body) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Forwards", "team_id": owner.default_team, "settings": {
                "source": {"connection_id": pg, "table": {"name": "orders"}},
                "destination": {"connection_id": id, "table": {"name": "orders"}, "mode": "delete_insert", "merge_keys": ["id"]}}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.to_string().contains("settings.destination.mode"),
        "{body}"
    );

    // A valid destination compiles into the runner's `out: bigquery` section: the job's
    // mode in BigQuery's words, its schema as the dataset, the key by reference only.
    let (status, job) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "To BigQuery", "team_id": owner.default_team, "settings": {
                "source": {"connection_id": pg, "table": {"name": "orders"}},
                "destination": {"connection_id": id, "table": {"schema": "marts", "name": "orders"}, "mode": "truncate_insert"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let yaml = app
        .client
        .get(format!(
            "{}/api/jobs/{}/config",
            app.address,
            job["id"].as_str().unwrap()
        ))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let config =
        hakobu_core::config::Config::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert!(
        matches!(config.out, hakobu_core::config::OutputConfig::Bigquery(_)),
        "{yaml}"
    );
    for expected in [
        "type: bigquery",
        "mode: delete_in_advance",
        "dataset: marts",
        "table: orders",
    ] {
        assert!(yaml.contains(expected), "{expected}: {yaml}");
    }
    assert!(!yaml.contains("PRIVATE KEY"), "{yaml}");
}

/// PostgreSQL -> Snowflake through a real runner: job, run, rows in the emulator.
#[tokio::test]
async fn a_job_loads_postgresql_rows_into_snowflake_with_the_runner() {
    use hakobu_engine::connectors::snowflake::{Login, Session};
    let app = crate::helpers::spawn_app_with(crate::helpers::SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'c');").await;
    let base = snowflake_endpoint();
    let n: u64 = rand::random();
    let db = format!("HK{n:016X}");
    let session = Session::connect(&Login {
        account: "test",
        base_url: &base,
        user: "tester",
        password: Some("pw"),
        private_key: None,
        warehouse: None,
        role: None,
        database: None,
        schema: None,
    })
    .await
    .expect("fakesnow runs (scripts/fakesnow.sh)");
    session
        .execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    session
        .execute(&format!("CREATE SCHEMA {db}.PUBLIC"))
        .await
        .unwrap();

    let pg = app
        .create_connection(
            &owner,
            &owner.default_team,
            "PG",
            "postgresql",
            json!({"host": "127.0.0.1", "database": app.db_name, "user": "postgres", "tls_mode": "disable"}),
        )
        .await;
    let sf = app
        .create_connection(
            &owner,
            &owner.default_team,
            "SF",
            "snowflake",
            json!({"account": "test", "endpoint": base, "user": "tester", "password": "pw", "database": db}),
        )
        .await;
    let (status, job) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "To Snowflake", "team_id": owner.default_team, "settings": {
                "source": {"connection_id": pg, "table": {"name": "src"}},
                "destination": {"connection_id": sf, "table": {"name": "orders"}, "mode": "insert"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let (status, run) = app
        .post(
            &format!("/api/jobs/{}/runs", job["id"].as_str().unwrap()),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let done = app
        .wait_for_run_end(&owner.token, run["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_written"], 3, "{done}");
    let rows = session
        .execute(&format!("SELECT COUNT(*) FROM {db}.PUBLIC.ORDERS"))
        .await
        .unwrap()
        .rows;
    assert_eq!(rows, vec![vec![Some("3".to_owned())]]);
    session.close().await;
}
