//! BigQuery and Snowflake connections (destinations only): saved with their key or
//! password write-only, tested through the probe worker against the local emulators
//! (`scripts/bqemulator.sh`, `scripts/fakesnow.sh`; `HAKOBU_TEST_BIGQUERY_ENDPOINT`,
//! `HAKOBU_TEST_SNOWFLAKE_ENDPOINT`), and refused as a job's source; browsed (datasets or
//! schemas, tables, columns), previewed and checked (a data check's preview, and a run's
//! checks in the runner) on the emulators; another organization's connection is 404.
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

/// A token endpoint on loopback answering every request with a token, as long as the
/// test runs (each discovery call, preview and check signs in anew).
async fn token_endpoint_for_every_call() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = socket.read(&mut buf).await;
                let answer =
                    r#"{"access_token":"exchanged-token","expires_in":3600,"token_type":"Bearer"}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    url
}

/// Runs a query job on the emulator (the test's own setup, not the app's).
async fn bigquery_setup(sql: &str) {
    let c: hakobu_core::config::BigqueryOutput = serde_json::from_value(json!({
        "project": "p1", "dataset": "d", "table": "t", "endpoint": bigquery_endpoint(),
        "auth_method": "access_token", "access_token": "test-token"}))
    .unwrap();
    let client = hakobu_engine::connectors::bigquery::Client::connect(&c)
        .await
        .expect("bqemulator runs (scripts/bqemulator.sh)");
    client.query(sql).await.unwrap();
}

/// A fresh dataset on the emulator with `orders` (3 rows).
async fn bigquery_dataset() -> String {
    let dataset = format!("hakobu_w_{:016x}", rand::random::<u64>());
    let created = reqwest::Client::new()
        .post(format!(
            "{}/bigquery/v2/projects/p1/datasets",
            bigquery_endpoint()
        ))
        .json(&json!({"datasetReference": {"projectId": "p1", "datasetId": dataset}}))
        .send()
        .await
        .expect("bqemulator runs (scripts/bqemulator.sh)");
    assert!(created.status().is_success(), "{}", created.status());
    bigquery_setup(&format!(
        "CREATE TABLE `p1.{dataset}.orders` (id INT64, name STRING)"
    ))
    .await;
    bigquery_setup(&format!(
        "INSERT INTO `p1.{dataset}.orders` (id, name) VALUES (1, 'one'), (2, 'two'), (3, NULL)"
    ))
    .await;
    dataset
}

/// A fresh database on fakesnow with `SALES.ORDERS` (3 rows).
async fn snowflake_database() -> String {
    use hakobu_engine::connectors::snowflake::{Login, Session};
    let base = snowflake_endpoint();
    let db = format!("HKW{:016X}", rand::random::<u64>());
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
    for sql in [
        format!("CREATE DATABASE {db}"),
        format!("CREATE SCHEMA {db}.PUBLIC"),
        format!("CREATE SCHEMA {db}.SALES"),
        format!("CREATE TABLE {db}.SALES.ORDERS (ID NUMBER(10,0), NAME VARCHAR)"),
        format!("INSERT INTO {db}.SALES.ORDERS VALUES (1, 'one'), (2, 'two'), (3, NULL)"),
    ] {
        session.execute(&sql).await.unwrap();
    }
    session.close().await;
    db
}

/// A BigQuery connection (`BQ`, to a fresh dataset with `orders`) and a Snowflake one
/// (`SF`, to a fresh database with `SALES.ORDERS`) of `owner`'s team, on the emulators.
struct Warehouses {
    dataset: String,
    bq: String,
    db: String,
    sf: String,
}

async fn warehouse_connections(
    app: &crate::helpers::TestApp,
    owner: &crate::helpers::TestUser,
) -> Warehouses {
    let dataset = bigquery_dataset().await;
    let key = service_account_key(&token_endpoint_for_every_call().await, &rsa_private_key());
    let bq = app
        .create_connection(
            owner,
            &owner.default_team,
            "BQ",
            "bigquery",
            json!({"project": "p1", "dataset": dataset, "endpoint": bigquery_endpoint(), "json_keyfile": key}),
        )
        .await;
    let db = snowflake_database().await;
    let sf = app
        .create_connection(
            owner,
            &owner.default_team,
            "SF",
            "snowflake",
            json!({"account": "test", "endpoint": snowflake_endpoint(), "user": "tester",
                "password": "pw", "database": db}),
        )
        .await;
    Warehouses {
        dataset,
        bq,
        db,
        sf,
    }
}

/// Browses, previews and checks a saved warehouse connection as its owner, and as a
/// stranger of another organization (404 everywhere). `schema` and `table` name what to
/// browse; `count_sql` counts its 3 rows.
async fn browse_preview_and_check(
    app: &crate::helpers::TestApp,
    owner: &crate::helpers::TestUser,
    id: &str,
    schema: &str,
    table: &str,
    count_sql: &str,
    secret: &str,
) {
    let (status, schemas) = app
        .get(&format!("/api/connections/{id}/schemas"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{schemas}");
    assert!(
        schemas.as_array().unwrap().contains(&json!(schema)),
        "{schemas}"
    );
    // Without a schema: the connection's own.
    let (status, tables) = app
        .get(&format!("/api/connections/{id}/tables"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{tables}");
    assert_eq!(tables, json!([table]), "{tables}");
    let (status, columns) = app
        .get(
            &format!("/api/connections/{id}/columns?schema={schema}&table={table}"),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{columns}");
    let names: Vec<String> = columns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert_eq!(names, vec!["id", "name"], "{columns}");
    let (status, missing) = app
        .get(
            &format!("/api/connections/{id}/columns?schema={schema}&table=nope"),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");

    let (status, preview) = app
        .post(
            &format!("/api/connections/{id}/preview"),
            &owner.token,
            json!({"table": {"schema": schema, "name": table}, "limit": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["rows"].as_array().unwrap().len(), 2, "{preview}");
    assert_eq!(preview["truncated"], false, "{preview}");
    let (status, refused) = app
        .post(
            &format!("/api/connections/{id}/preview"),
            &owner.token,
            json!({"query": "DROP TABLE orders"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["field"], "query", "{refused}");

    let (status, checked) = app
        .post(
            "/api/data-checks/preview",
            &owner.token,
            json!({"connection_id": id, "sql": count_sql, "operator": "=", "expected": "3"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{checked}");
    assert_eq!(
        checked,
        json!({"passed": true, "actual": "3", "error": null})
    );
    for body in [&schemas, &tables, &columns, &preview, &checked] {
        assert_secret_hidden(body, secret);
    }

    // Another organization's connection does not exist for a stranger.
    let stranger = app.signup("Stranger").await;
    for path in ["schemas", "tables", &format!("columns?table={table}")] {
        let (status, body) = app
            .get(&format!("/api/connections/{id}/{path}"), &stranger.token)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, body) = app
        .post(
            &format!("/api/connections/{id}/preview"),
            &stranger.token,
            json!({"table": {"name": table}}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app
        .post(
            "/api/data-checks/preview",
            &stranger.token,
            json!({"connection_id": id, "sql": count_sql, "operator": "=", "expected": "3"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn a_bigquery_connection_is_browsed_previewed_and_checked_on_the_emulator() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let dataset = bigquery_dataset().await;
    let key = service_account_key(&token_endpoint_for_every_call().await, &rsa_private_key());
    let id = app
        .create_connection(
            &owner,
            &owner.default_team,
            "BQ",
            "bigquery",
            json!({"project": "p1", "dataset": dataset, "endpoint": bigquery_endpoint(), "json_keyfile": key}),
        )
        .await;
    let count = format!("SELECT count(*) FROM `p1.{dataset}.orders`");
    browse_preview_and_check(&app, &owner, &id, &dataset, "orders", &count, "PRIVATE KEY").await;
}

#[tokio::test]
async fn a_snowflake_connection_is_browsed_previewed_and_checked_on_the_emulator() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let db = snowflake_database().await;
    let password = "snowflake-secret-pw-0815";
    let id = app
        .create_connection(
            &owner,
            &owner.default_team,
            "SF",
            "snowflake",
            json!({"account": "test", "endpoint": snowflake_endpoint(), "user": "tester",
                "password": password, "database": db, "schema": "SALES"}),
        )
        .await;
    let count = format!("SELECT COUNT(*) FROM {db}.SALES.ORDERS");
    browse_preview_and_check(&app, &owner, &id, "SALES", "ORDERS", &count, password).await;
}

/// A job's data checks on BigQuery and on Snowflake run in the runner after a real load
/// (PostgreSQL -> PostgreSQL), each on its warehouse: one passes, one fails as a warning.
#[tokio::test]
async fn a_runs_data_checks_run_on_bigquery_and_snowflake() {
    let app = crate::helpers::spawn_app_with(crate::helpers::SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY); INSERT INTO src VALUES (1), (2);")
        .await;
    let pg = app.pg_connection(&owner).await;
    let Warehouses {
        dataset,
        bq,
        db,
        sf,
    } = warehouse_connections(&app, &owner).await;
    let (status, job) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Checked", "team_id": owner.default_team, "settings": {
                "source": {"connection_id": pg, "table": {"name": "src"}},
                "destination": {"connection_id": pg, "table": {"name": "dst"}, "mode": "insert"},
                "checks": [
                    {"name": "bq orders", "connection_id": bq, "operator": "=", "expected": "3",
                        "sql": format!("SELECT count(*) FROM `p1.{dataset}.orders`")},
                    {"name": "sf unnamed", "connection_id": sf, "operator": "=", "expected": "0",
                        "on_failure": "warn",
                        "sql": format!("SELECT COUNT(*) FROM {db}.SALES.ORDERS WHERE NAME IS NULL")}]}}),
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
    assert_check_outcomes(
        &app,
        &owner.token,
        run["id"].as_str().unwrap(),
        &[
            ("bq orders", "passed", Some("3")),
            ("sf unnamed", "warned", Some("1")),
        ],
    )
    .await;
}

/// A workflow's check tasks run on data warehouses as a job's checks do: the query runs in
/// BigQuery or Snowflake (through a probe worker), one holds and one fails naming the value.
#[tokio::test]
async fn workflow_check_tasks_run_on_bigquery_and_snowflake() {
    let app = crate::helpers::spawn_app_with(crate::helpers::SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let Warehouses {
        dataset,
        bq,
        db,
        sf,
    } = warehouse_connections(&app, &owner).await;
    let (status, workflow) = app
        .post(
            "/api/workflows",
            &owner.token,
            json!({"name": "Warehouse checks", "team_id": owner.default_team, "spec": {"tasks": [
                {"name": "bq count", "action": {"type": "check", "connection_id": bq,
                    "sql": format!("SELECT count(*) FROM `p1.{dataset}.orders`"),
                    "operator": "=", "expected": "3"}},
                {"name": "sf unnamed", "action": {"type": "check", "connection_id": sf,
                    "sql": format!("SELECT COUNT(*) FROM {db}.SALES.ORDERS WHERE NAME IS NULL"),
                    "operator": "=", "expected": "0"}}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{workflow}");
    let (status, run) = app
        .post(
            &format!("/api/workflows/{}/runs", workflow["id"].as_str().unwrap()),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let run = run["id"].as_str().unwrap().to_owned();
    let ended = hakobu_testkit::wait_until(
        "the workflow run ends",
        std::time::Duration::from_secs(120),
        std::time::Duration::from_millis(300),
        || async {
            let (_, view) = app
                .get(&format!("/api/workflow-runs/{run}"), &owner.token)
                .await;
            (view["status"] != "running" && view["status"].is_string()).then_some(view)
        },
    )
    .await;
    let task = |name: &str| {
        ended["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(task("bq count")["state"], "succeeded", "{ended}");
    let unnamed = task("sf unnamed");
    assert_eq!(unnamed["state"], "failed", "{ended}");
    // One order has no name: the value and the expectation are said.
    let message = unnamed["message"].as_str().unwrap_or_default();
    assert!(message.contains('1') && message.contains('0'), "{message}");
}

/// Creates a data mart job of `owner` with `settings` (its `kind` added), runs it, and
/// answers the finished run.
async fn run_data_mart(
    app: &crate::helpers::TestApp,
    owner: &crate::helpers::TestUser,
    name: &str,
    settings: Value,
) -> Value {
    let mut settings = settings;
    settings["kind"] = json!("data_mart");
    let (status, job) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": name, "team_id": owner.default_team, "settings": settings}),
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
    app.wait_for_run_end(&owner.token, run["id"].as_str().unwrap())
        .await
}

/// A data mart on BigQuery runs inside BigQuery through a real runner: a merge by key
/// into a new table, then into the existing one; delete-then-insert by a condition; a
/// failing query that leaves the target as it was; statements as one script; and a
/// merge without keys refused at save, naming the field.
#[tokio::test]
async fn data_marts_run_inside_bigquery() {
    let app = crate::helpers::spawn_app_with(crate::helpers::SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let Warehouses { dataset, bq, .. } = warehouse_connections(&app, &owner).await;
    let c: hakobu_core::config::BigqueryOutput = serde_json::from_value(json!({
        "project": "p1", "dataset": dataset, "table": "t", "endpoint": bigquery_endpoint(),
        "auth_method": "access_token", "access_token": "test-token"}))
    .unwrap();
    let client = hakobu_engine::connectors::bigquery::Client::connect(&c)
        .await
        .unwrap();
    let daily = format!("SELECT id, name FROM `p1.{dataset}.daily` ORDER BY id");
    let write = |query: &str, mode: &str, extra: Value| {
        let mut destination =
            json!({"connection_id": bq, "table": {"name": "daily"}, "mode": mode});
        if let (Value::Object(d), Value::Object(e)) = (&mut destination, extra) {
            d.extend(e);
        }
        json!({"source": {"connection_id": bq, "query": query}, "destination": destination})
    };
    let text = |rows: Vec<Vec<Option<String>>>| {
        rows.into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|v| v.unwrap_or_else(|| "NULL".into()))
                    .collect::<Vec<_>>()
                    .join("=")
            })
            .collect::<Vec<_>>()
            .join(",")
    };

    let (status, refused) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "No keys", "team_id": owner.default_team, "settings": {
                "kind": "data_mart",
                "source": {"connection_id": bq, "query": "SELECT 1 AS id"},
                "destination": {"connection_id": bq, "table": {"name": "daily"}, "mode": "merge"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused.to_string().contains("destination.merge_keys"),
        "{refused}"
    );

    // Unqualified names are the connection's dataset's; the target does not exist yet.
    let merge = write(
        "SELECT id, UPPER(name) AS name FROM orders WHERE id <= 2",
        "merge",
        json!({"merge_keys": ["id"]}),
    );
    let run = run_data_mart(&app, &owner, "Merge", merge).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["rows_written"], 2, "{run}");
    assert_eq!(text(client.rows(&daily).await.unwrap()), "1=ONE,2=TWO");

    let merge_again = write(
        "SELECT id, COALESCE(name, 'none') AS name FROM orders WHERE id >= 2",
        "merge",
        json!({"merge_keys": ["id"]}),
    );
    let run = run_data_mart(&app, &owner, "Merge again", merge_again).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        text(client.rows(&daily).await.unwrap()),
        "1=ONE,2=two,3=none"
    );

    let partition = write(
        "SELECT 1 AS id, 'uno' AS name",
        "delete_insert",
        json!({"delete_where": "id <= 2"}),
    );
    let run = run_data_mart(&app, &owner, "Partition", partition).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(text(client.rows(&daily).await.unwrap()), "1=uno,3=none");

    let broken = write("SELECT no_such_column FROM orders", "replace", json!({}));
    let run = run_data_mart(&app, &owner, "Broken", broken).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert!(
        run["error_summary"]
            .as_str()
            .is_some_and(|e| e.contains("no_such_column")),
        "BigQuery's own message reaches the run: {run}"
    );
    assert_eq!(text(client.rows(&daily).await.unwrap()), "1=uno,3=none");
    let leftovers = client
        .rows(&format!(
            "SELECT table_name FROM `p1.{dataset}.INFORMATION_SCHEMA.TABLES` WHERE table_name LIKE 'hakobu_mart_%'"
        ))
        .await;
    if let Ok(leftovers) = leftovers {
        assert!(
            leftovers.is_empty(),
            "staging tables are dropped: {leftovers:?}"
        );
    }

    // A variable's value stays one literal, whatever it holds.
    let note = "it's \"four\"; DROP TABLE orders; --";
    let statements = json!({
        "source": {"connection_id": bq, "statements":
            "DELETE FROM orders WHERE id = 3;\nINSERT INTO orders (id, name) VALUES (4, $note$);"},
        "destination": {"connection_id": bq},
        "variables": [{"name": "note", "value": {"kind": "string", "value": note}}],
    });
    let run = run_data_mart(&app, &owner, "Statements", statements).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(
        text(
            client
                .rows(&format!(
                    "SELECT id, name FROM `p1.{dataset}.orders` ORDER BY id"
                ))
                .await
                .unwrap()
        ),
        format!("1=one,2=two,4={note}")
    );
}

/// A data mart on Snowflake runs inside Snowflake through a real runner: replace into a
/// table of another schema, insert into it, delete-then-insert by key, and statements in
/// one transaction that a failing statement rolls back.
#[tokio::test]
async fn data_marts_run_inside_snowflake() {
    use hakobu_engine::connectors::snowflake::{Login, Session};
    let app = crate::helpers::spawn_app_with(crate::helpers::SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let Warehouses { db, sf, .. } = warehouse_connections(&app, &owner).await;
    let base = snowflake_endpoint();
    let session = Session::connect(&Login {
        account: "test",
        base_url: &base,
        user: "tester",
        password: Some("pw"),
        private_key: None,
        warehouse: None,
        role: None,
        database: Some(&db),
        schema: None,
    })
    .await
    .unwrap();
    let rows = |sql: String| {
        let session = &session;
        async move {
            session
                .execute(&sql)
                .await
                .unwrap()
                .rows
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .map(|v| v.unwrap_or_else(|| "NULL".into()))
                        .collect::<Vec<_>>()
                        .join("=")
                })
                .collect::<Vec<_>>()
                .join(",")
        }
    };
    let daily = format!("SELECT ID, NAME FROM {db}.SALES.DAILY ORDER BY ID");
    let write = |query: &str, mode: &str, extra: Value| {
        let mut destination = json!({"connection_id": sf,
            "table": {"schema": "SALES", "name": "DAILY"}, "mode": mode});
        if let (Value::Object(d), Value::Object(e)) = (&mut destination, extra) {
            d.extend(e);
        }
        json!({"source": {"connection_id": sf, "query": query}, "destination": destination})
    };

    let replace = write(
        "SELECT ID, UPPER(NAME) AS NAME FROM ORDERS WHERE ID <= 2",
        "replace",
        json!({}),
    );
    let run = run_data_mart(&app, &owner, "Replace", replace).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["rows_written"], 2, "{run}");
    assert_eq!(rows(daily.clone()).await, "1=ONE,2=TWO");

    let append = write(
        "SELECT ID, NAME FROM ORDERS WHERE ID = 3",
        "insert",
        json!({}),
    );
    let run = run_data_mart(&app, &owner, "Append", append).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(rows(daily.clone()).await, "1=ONE,2=TWO,3=NULL");

    let by_key = write(
        "SELECT ID, 'again' AS NAME FROM ORDERS WHERE ID >= 2",
        "delete_insert",
        json!({"merge_keys": ["ID"]}),
    );
    let run = run_data_mart(&app, &owner, "By key", by_key).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(rows(daily.clone()).await, "1=ONE,2=again,3=again");

    // The second statement fails: the first one's change is rolled back with it.
    let failing = json!({
        "source": {"connection_id": sf, "statements":
            format!("DELETE FROM {db}.SALES.DAILY WHERE ID = 1;\nINSERT INTO {db}.SALES.NO_SUCH_TABLE VALUES (1);\n-- the end")},
        "destination": {"connection_id": sf},
    });
    let run = run_data_mart(&app, &owner, "Failing", failing).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(rows(daily.clone()).await, "1=ONE,2=again,3=again");

    // A variable's value stays one literal, whatever it holds.
    let note = "it's \"two\"; DROP TABLE ORDERS; --";
    let statements = json!({
        "source": {"connection_id": sf, "statements":
            format!("DELETE FROM {db}.SALES.DAILY WHERE ID = 1;\nUPDATE {db}.SALES.DAILY SET NAME = $note$ WHERE ID = 2;\n-- the end")},
        "destination": {"connection_id": sf},
        "variables": [{"name": "note", "value": {"kind": "string", "value": note}}],
    });
    let run = run_data_mart(&app, &owner, "Statements", statements).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["rows_written"], 2, "{run}");
    assert_eq!(rows(daily.clone()).await, format!("2={note},3=again"));
    assert_eq!(
        rows(format!("SELECT COUNT(*) FROM {db}.SALES.ORDERS")).await,
        "3"
    );
    session.close().await;
}

/// A value crafted to close a literal and add a statement, with every character the
/// dialects quote differently (quotes, backslashes, a line break, `;`, comments, Unicode).
const ATTACK: &str = "x\\');\tDROP TABLE orders; -- \" ` '' \\\\\n2nd line # /* ユ ✓";

/// A job's variables on the warehouses: query variables run on BigQuery and on Snowflake
/// when the run starts (each feeding a check on the other warehouse), and the checks'
/// SQL takes literals and names quoted for its own warehouse, so a check passes or fails
/// by the value, and a value crafted to escape its literal reaches the warehouse as text.
#[tokio::test]
async fn variables_feed_checks_and_run_as_queries_on_bigquery_and_snowflake() {
    let app = crate::helpers::spawn_app_with(crate::helpers::SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY); INSERT INTO src VALUES (1);")
        .await;
    let pg = app.pg_connection(&owner).await;
    let Warehouses {
        dataset,
        bq,
        db,
        sf,
    } = warehouse_connections(&app, &owner).await;
    let bq_orders = format!("`p1.{dataset}.orders`");
    let sf_orders = format!("{db}.SALES.ORDERS");
    let check = |name: &str, connection: &str, sql: String, expected: &str| {
        json!({"name": name, "connection_id": connection, "sql": sql,
            "operator": "=", "expected": expected, "on_failure": "warn"})
    };
    let (status, job) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Warehouse variables", "team_id": owner.default_team, "settings": {
                "source": {"connection_id": pg, "table": {"name": "src"}},
                "destination": {"connection_id": pg, "table": {"name": "dst"}, "mode": "insert"},
                "variables": [
                    {"name": "id", "value": {"kind": "string", "value": "2"}},
                    {"name": "attack", "value": {"kind": "string", "value": ATTACK}},
                    {"name": "nobody", "value": {"kind": "string", "value": "nobody"}},
                    {"name": "bq_table", "in_sql": "identifier",
                        "value": {"kind": "string", "value": "orders"}},
                    {"name": "sf_table", "in_sql": "identifier",
                        "value": {"kind": "string", "value": "ORDERS"}},
                    // Run on BigQuery, itself with a variable: 'two'.
                    {"name": "from_bq", "value": {"kind": "query", "connection_id": bq,
                        "sql": format!("SELECT name FROM {bq_orders} WHERE CAST(id AS STRING) = $id$")}},
                    // Run on Snowflake: 'one'.
                    {"name": "from_sf", "value": {"kind": "query", "connection_id": sf,
                        "sql": format!("SELECT NAME FROM {sf_orders} WHERE ID = 1")}}],
                "checks": [
                    check("bq by sf value", &bq,
                        format!("SELECT count(*) FROM {bq_orders} WHERE name = $from_sf$"), "1"),
                    check("sf by bq value", &sf,
                        format!("SELECT COUNT(*) FROM {sf_orders} WHERE NAME = $from_bq$"), "1"),
                    check("bq nobody", &bq,
                        format!("SELECT count(*) FROM {bq_orders} WHERE name = $nobody$"), "1"),
                    check("sf nobody", &sf,
                        format!("SELECT COUNT(*) FROM {sf_orders} WHERE NAME = $nobody$"), "1"),
                    check("bq attack", &bq, "SELECT $attack$".to_owned(), ATTACK),
                    check("sf attack", &sf, "SELECT $attack$".to_owned(), ATTACK),
                    check("bq name", &bq,
                        format!("SELECT count(*) FROM `p1`.`{dataset}`.$bq_table$"), "3"),
                    check("sf name", &sf,
                        format!("SELECT COUNT(*) FROM {db}.SALES.$sf_table$"), "3")]}}),
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
    let run_id = run["id"].as_str().unwrap();
    let done = app.wait_for_run_end(&owner.token, run_id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(
        done["resolved_inputs"]["variables"]["from_bq"], "two",
        "{done}"
    );
    assert_eq!(
        done["resolved_inputs"]["variables"]["from_sf"], "one",
        "{done}"
    );
    assert_check_outcomes(
        &app,
        &owner.token,
        run_id,
        &[
            ("bq by sf value", "passed", Some("1")),
            ("sf by bq value", "passed", Some("1")),
            ("bq nobody", "warned", Some("0")),
            ("sf nobody", "warned", Some("0")),
            // The warehouse saw exactly the text: nothing of it became SQL.
            ("bq attack", "passed", Some(ATTACK)),
            ("sf attack", "passed", Some(ATTACK)),
            ("bq name", "passed", Some("3")),
            ("sf name", "passed", Some("3")),
        ],
    )
    .await;
}

/// A query variable on a warehouse is held to the databases' rules: a value longer than
/// the limit fails the run at its start naming the variable and the limit (BigQuery), and
/// so does a query returning no value (Snowflake).
#[tokio::test]
async fn a_warehouse_query_variable_out_of_bounds_fails_the_run() {
    let app = crate::helpers::spawn_app_with(crate::helpers::SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY); INSERT INTO src VALUES (1);")
        .await;
    let pg = app.pg_connection(&owner).await;
    let Warehouses { bq, db, sf, .. } = warehouse_connections(&app, &owner).await;
    for (connection, sql, said) in [
        (
            &bq,
            "SELECT REPEAT('x', 5000)".to_owned(),
            "longer than 4096 characters",
        ),
        (
            &sf,
            format!("SELECT NAME FROM {db}.SALES.ORDERS WHERE ID = 99"),
            "returned no value",
        ),
    ] {
        let (status, job) = app
            .post(
                "/api/jobs",
                &owner.token,
                json!({"name": format!("Bounded {said}"), "team_id": owner.default_team, "settings": {
                    "source": {"connection_id": pg, "query": "SELECT id FROM src WHERE id::text <> $v$"},
                    "destination": {"connection_id": pg, "table": {"name": "dst"}, "mode": "insert"},
                    "variables": [{"name": "v", "value": {"kind": "query", "connection_id": connection, "sql": sql}}]}}),
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
        assert_eq!(done["status"], "failed", "{done}");
        let summary = done["error_summary"].as_str().unwrap_or_default();
        assert!(
            summary.contains("$v$") && summary.contains(said),
            "{summary}"
        );
    }
}

/// Asserts a run's checks, in order, as `(name, outcome, actual value)`.
async fn assert_check_outcomes(
    app: &crate::helpers::TestApp,
    token: &str,
    run_id: &str,
    expected: &[(&str, &str, Option<&str>)],
) {
    let (status, checks) = app.get(&format!("/api/runs/{run_id}/checks"), token).await;
    assert_eq!(status, StatusCode::OK, "{checks}");
    let outcomes: Vec<(&str, &str, Option<&str>)> = checks
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["outcome"].as_str().unwrap(),
                c["actual"].as_str(),
            )
        })
        .collect();
    assert_eq!(outcomes, expected, "{checks}");
}

/// An Embulk config loading into Snowflake imports as a job on a new Snowflake connection
/// (its password sealed, never answered); exporting it and importing that again reuses
/// the connection and gives the same settings. An endpoint on the service's network, and a
/// BigQuery key given as a file path, are refused on their config fields.
#[tokio::test]
async fn an_embulk_config_into_a_warehouse_imports_and_round_trips() {
    let app = crate::helpers::spawn_app().await;
    let owner = app.signup("Acme").await;
    let source = format!(
        "in:\n  type: postgresql\n  host: 127.0.0.1\n  user: postgres\n  database: {}\n  table: orders\n",
        app.db_name
    );
    let config = format!(
        "{source}out:\n  type: snowflake\n  host: xy12345.snowflakecomputing.com\n  user: loader\n  password: s3cret-pw\n  warehouse: LOAD_WH\n  database: ANALYTICS\n  schema: RAW\n  table: ORDERS\n  mode: merge\n  merge_keys: [ID]\n"
    );
    let (status, imported) = app
        .post(
            "/api/jobs/import",
            &owner.token,
            json!({"team_id": owner.default_team, "name": "To Snowflake", "config": config}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    assert!(!imported.to_string().contains("s3cret-pw"), "{imported}");
    let job = &imported["job"];
    assert_eq!(job["settings"]["destination"]["mode"], "merge");
    let id = job["id"].as_str().unwrap();
    let exported = app
        .client
        .get(format!("{}/api/jobs/{id}/export", app.address))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        exported.contains("type: snowflake") && !exported.contains("s3cret-pw"),
        "{exported}"
    );
    let (status, again) = app
        .post(
            "/api/jobs/import",
            &owner.token,
            json!({"team_id": owner.default_team, "name": "Again", "config": exported,
                "env": {"DESTINATION_PASSWORD": "s3cret-pw"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["job"]["settings"], job["settings"]);

    for (out, field) in [
        (
            "out:\n  type: snowflake\n  endpoint: http://169.254.169.254\n  account: a\n  user: u\n  password: p\n  database: D\n  table: T\n",
            "config.out.endpoint",
        ),
        (
            "out:\n  type: bigquery\n  auth_method: json_key\n  json_keyfile: /etc/key.json\n  project: p\n  dataset: d\n  table: t\n",
            "config.out.json_keyfile",
        ),
    ] {
        let (status, body) = app
            .post(
                "/api/jobs/import",
                &owner.token,
                json!({"team_id": owner.default_team, "name": "Refused", "config": format!("{source}{out}")}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body.to_string().contains(field), "{field}: {body}");
    }
}
