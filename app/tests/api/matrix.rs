//! Every connection kind as a source and a destination, and every load mode on both
//! databases: the YAML `/config` shows parses with the runner's parser and, with its
//! secret references filled in, runs against the real systems.

use crate::helpers::{TestApp, TestUser, spawn_app};
use hakobu_core::config::Config;
use hakobu_testkit::{TestDb, mariadb};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn moto() -> String {
    std::env::var("HAKOBU_TEST_S3_ENDPOINT")
        .expect("HAKOBU_TEST_S3_ENDPOINT must name a moto server (make test starts one)")
}

async fn create_bucket(endpoint: &str, bucket: &str) {
    let status = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "creating bucket {bucket}: {status}");
}

fn s3_settings(endpoint: &str, bucket: &str) -> Value {
    json!({"bucket": bucket, "endpoint": endpoint, "region": "us-east-1", "access_key_id": "test", "secret_access_key": "test-secret"})
}

async fn create_job(app: &TestApp, owner: &TestUser, source: Value, destination: Value) -> String {
    let (status, body) = app
        .post("/api/jobs", &owner.token, json!({"name": format!("J {}", uuid::Uuid::new_v4().simple()), "team_id": owner.default_team, "settings": {"source": source, "destination": destination}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

/// Fetches `/config`, fills in the secrets as a run would, parses and runs it, confined
/// to the organization's files folder as a runner is.
async fn run_job(app: &TestApp, owner: &TestUser, job: &str, env: &[(&str, &str)]) -> u64 {
    let yaml = app
        .client
        .get(format!("{}/api/jobs/{job}/config", app.address))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!(
        "hakobu-matrix-render-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let rendered = hakobu_engine::template::render(
        &yaml,
        &dir,
        env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
    )
    .unwrap();
    let config = Config::from_yaml(&rendered).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let files = hakobu_engine::FileAccess::Within(
        hakobu_engine::FilesRoot::open(&app.files_folder(owner)).unwrap(),
    );
    let summary = hakobu_engine::run_config(&config, &files, |_| {})
        .await
        .unwrap_or_else(|e| panic!("{e:#}\n{yaml}"));
    summary.rows_written
}

#[tokio::test]
async fn s3_connection_tests_through_moto() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let endpoint = moto();
    let bucket = format!(
        "hakobu-test-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    create_bucket(&endpoint, &bucket).await;
    let (status, ok) = app
        .post(
            "/api/connections/test",
            &owner.token,
            json!({"kind": "s3", "settings": s3_settings(&endpoint, &bucket)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ok["ok"], true, "{ok}");
    let (_, missing) = app
        .post(
            "/api/connections/test",
            &owner.token,
            json!({"kind": "s3", "settings": s3_settings(&endpoint, "no-such-bucket-here")}),
        )
        .await;
    assert_eq!(missing["ok"], false);
    assert_eq!(missing["error"]["kind"], "bucket_missing", "{missing}");
    let (_, unreachable) = app
        .post(
            "/api/connections/test",
            &owner.token,
            json!({"kind": "s3", "settings": s3_settings("http://127.0.0.1:1", &bucket)}),
        )
        .await;
    assert_eq!(unreachable["ok"], false);
    assert!(
        ["unreachable", "timeout"].contains(&unreachable["error"]["kind"].as_str().unwrap()),
        "{unreachable}"
    );
}

#[tokio::test]
async fn every_kind_and_mode_compiles_and_runs() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let team = owner.default_team.clone();
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text, amount numeric(12,2));
             INSERT INTO src VALUES (1, 'Ana', 10.50), (2, 'Bo, \"B\"', 20.00), (3, 'ちえ', 30.25);").await;
    let my_database = TestDb::mariadb();
    let my_db = my_database.name.clone();
    let endpoint = moto();
    let bucket = format!(
        "hakobu-matrix-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    create_bucket(&endpoint, &bucket).await;

    let pg = app
        .create_connection(&owner, &team, "PG", "postgresql", app.pg_settings())
        .await;
    let my = app
        .create_connection(&owner, &team, "Maria", "mysql", json!({"host": "127.0.0.1", "port": 3306, "database": my_db, "user": "root", "tls_mode": "disable"}))
        .await;
    let s3 = app
        .create_connection(
            &owner,
            &team,
            "Bucket",
            "s3",
            s3_settings(&endpoint, &bucket),
        )
        .await;
    let files = app
        .create_connection(
            &owner,
            &team,
            "Files",
            "local_files",
            json!({"directory": "matrix"}),
        )
        .await;
    let s3_env = [
        ("DESTINATION_SECRET_ACCESS_KEY", "test-secret"),
        ("SOURCE_SECRET_ACCESS_KEY", "test-secret"),
    ];

    // PostgreSQL -> MariaDB in every mode.
    for mode in [
        "insert",
        "insert_direct",
        "truncate_insert",
        "replace",
        "merge",
        "merge_direct",
    ] {
        if mode.starts_with("merge") {
            mariadb(
                Some(&my_db),
                &format!(
                    "CREATE TABLE dst_{mode} (id bigint PRIMARY KEY, name text, amount decimal(12,2))"
                ),
            );
        }
        let job = create_job(
            &app,
            &owner,
            json!({"connection_id": pg, "table": {"name": "src"}}),
            json!({"connection_id": my, "table": {"name": format!("dst_{mode}")}, "mode": mode}),
        )
        .await;
        assert_eq!(run_job(&app, &owner, &job, &[]).await, 3, "{mode}");
        assert_eq!(
            mariadb(
                Some(&my_db),
                &format!("SELECT COUNT(*), CAST(SUM(amount) AS DECIMAL(12,2)) FROM dst_{mode}")
            ),
            "3\t60.75",
            "{mode}"
        );
        assert_eq!(
            mariadb(
                Some(&my_db),
                &format!("SELECT name FROM dst_{mode} WHERE id = 3")
            ),
            "ちえ",
            "{mode}"
        );
    }

    // MariaDB -> PostgreSQL.
    let job = create_job(
        &app,
        &owner,
        json!({"connection_id": my, "table": {"name": "dst_insert"}}),
        json!({"connection_id": pg, "table": {"name": "from_maria"}}),
    )
    .await;
    assert_eq!(run_job(&app, &owner, &job, &[]).await, 3);
    assert_eq!(
        app.query_strings("SELECT sum(amount)::numeric(12,2)::text FROM from_maria")
            .await[0][0]
            .as_deref(),
        Some("60.75")
    );

    // PostgreSQL -> files in each format -> back into PostgreSQL.
    let columns = json!([{"name": "id", "type": "long"}, {"name": "name", "type": "string"}, {"name": "amount", "type": "decimal"}]);
    for format in ["csv", "jsonl", "parquet"] {
        let out = create_job(&app, &owner, json!({"connection_id": pg, "table": {"name": "src"}}),
            json!({"connection_id": files, "files": {"path_prefix": format!("orders_{format}_"), "format": format, "gzip": format != "parquet"}})).await;
        assert_eq!(run_job(&app, &owner, &out, &[]).await, 3, "{format}");
        let back = create_job(&app, &owner,
            json!({"connection_id": files, "files": {"path_prefix": format!("orders_{format}_"), "format": format, "gzip": format != "parquet", "columns": columns}}),
            json!({"connection_id": pg, "table": {"name": format!("from_{format}")}, "mode": "replace"})).await;
        assert_eq!(run_job(&app, &owner, &back, &[]).await, 3, "{format}");
        let name = app
            .query_strings(&format!("SELECT name FROM from_{format} WHERE id = 2"))
            .await;
        assert_eq!(name[0][0].as_deref(), Some("Bo, \"B\""), "{format}");
    }

    // PostgreSQL -> S3 -> PostgreSQL, with the secret filled in at run time.
    let out = create_job(
        &app,
        &owner,
        json!({"connection_id": pg, "table": {"name": "src"}}),
        json!({"connection_id": s3, "files": {"path_prefix": "exports/orders_", "format": "csv"}}),
    )
    .await;
    assert_eq!(run_job(&app, &owner, &out, &s3_env).await, 3);
    let back = create_job(&app, &owner, json!({"connection_id": s3, "files": {"path_prefix": "exports/orders_", "format": "csv", "columns": columns}}),
        json!({"connection_id": pg, "table": {"name": "from_s3"}, "mode": "truncate_insert"})).await;
    assert_eq!(run_job(&app, &owner, &back, &s3_env).await, 3);
    assert_eq!(
        app.query_strings("SELECT count(*) FROM from_s3").await[0][0].as_deref(),
        Some("3")
    );

    assert!(
        app.files_folder(&owner)
            .join("matrix/orders_csv_000.00.csv.gz")
            .is_file(),
        "files are written in the organization's folder"
    );
}
