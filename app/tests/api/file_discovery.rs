//! A file source's discovery: `GET /api/connections/{id}/files` lists what a path prefix
//! and pattern match, `POST /api/connections/{id}/guess` guesses the first file's format
//! and columns and previews it, on files on the server and on S3 (moto). The attacks: a
//! prefix with `..` or an absolute one is refused, another organization's connection is
//! 404, and a bucket on the service's own network is refused by the egress policy.
//!
//! Needs the runner binary (probes) and `HAKOBU_TEST_S3_ENDPOINT` for the S3 case.

use crate::helpers::{SpawnOptions, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::json;

fn moto() -> String {
    std::env::var("HAKOBU_TEST_S3_ENDPOINT")
        .expect("HAKOBU_TEST_S3_ENDPOINT must name a moto server (make test starts one)")
}

/// moto does not check signatures: a plain PUT with any signature creates the bucket or
/// the object.
async fn put(url: String, body: Vec<u8>) {
    let status = reqwest::Client::new()
        .put(&url)
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "PUT {url}: {status}");
}

#[tokio::test]
async fn local_files_are_listed_and_guessed_inside_the_folder_only() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let folder = app.files_folder(&owner);
    std::fs::create_dir_all(folder.join("in/exports")).unwrap();
    std::fs::write(
        folder.join("in/exports/day_1.csv"),
        "id;city;at\n1;\"Tokyo; Japan\";2024-01-02 03:04:05\n2;Osaka;2024-01-03 00:00:00\n",
    )
    .unwrap();
    std::fs::write(folder.join("in/exports/notes.txt"), "x").unwrap();
    let id = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Files",
            "local_files",
            json!({"directory": "in"}),
        )
        .await;

    let (status, body) = app
        .get(
            &format!(
                "/api/connections/{id}/files?path_prefix=exports/&path_match_pattern=%5C.csv%24"
            ),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let files = body.as_array().unwrap();
    assert_eq!(files.len(), 1, "{body}");
    // Named as the job's prefix names it: relative to the connection's directory.
    assert_eq!(files[0]["name"], "exports/day_1.csv");
    assert!(files[0]["size"].as_u64().unwrap() > 0);

    let (status, body) = app
        .post(
            &format!("/api/connections/{id}/guess"),
            &owner.token,
            json!({"path_prefix": "exports/day_"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["file"]["name"], "exports/day_1.csv");
    let source = &body["source"];
    assert_eq!(source["format"], "csv");
    assert_eq!(source["delimiter"], ";");
    assert_eq!(source["header_line"], true);
    assert_eq!(
        source["columns"],
        json!([
            {"name": "id", "type": "long"},
            {"name": "city", "type": "string"},
            {"name": "at", "type": "timestamp", "format": "%Y-%m-%d %H:%M:%S"},
        ])
    );
    let rows = body["preview"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{body}");
    assert_eq!(rows[0][1], "Tokyo; Japan");

    // The guessed settings make a job that saves as they are.
    let (status, job) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Guessed", "team_id": owner.default_team, "settings": {
                "source": {"connection_id": id, "files": source},
                "destination": {"connection_id": app.create_connection(&owner, &owner.default_team, "PG", "postgresql", app.pg_settings()).await, "table": {"name": "cities"}},
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");

    // Leaving the folder: `..`, an absolute path, in the prefix or the file.
    for (request, field) in [
        (json!({"path_prefix": "../"}), "path_prefix"),
        (json!({"path_prefix": "exports/../../../"}), "path_prefix"),
        (json!({"path_prefix": "/etc/"}), "path_prefix"),
        (json!({"path_prefix": "", "file": "/etc/passwd"}), "file"),
        (json!({"path_prefix": "", "file": "../x.csv"}), "file"),
    ] {
        let (status, body) = app
            .post(
                &format!("/api/connections/{id}/guess"),
                &owner.token,
                request.clone(),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{request}: {body}"
        );
        assert_eq!(body["fields"][0]["field"], field, "{body}");
    }
    let (status, body) = app
        .get(
            &format!("/api/connections/{id}/files?path_prefix=../"),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Another organization's connection does not exist for a stranger.
    let stranger = app.signup("Stranger").await;
    let (status, _) = app
        .get(&format!("/api/connections/{id}/files"), &stranger.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &format!("/api/connections/{id}/guess"),
            &stranger.token,
            json!({"path_prefix": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn s3_objects_are_listed_and_guessed_through_moto() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let endpoint = moto();
    let bucket = format!(
        "hakobu-guess-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    put(format!("{endpoint}/{bucket}"), vec![]).await;
    let jsonl = b"{\"id\": 1, \"name\": \"a\", \"ok\": true}\n{\"id\": 2, \"name\": \"b\", \"ok\": false}\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, jsonl).unwrap();
    put(
        format!("{endpoint}/{bucket}/logs/2024/a.jsonl.gz"),
        gz.finish().unwrap(),
    )
    .await;
    put(
        format!("{endpoint}/{bucket}/other/b.csv"),
        b"x\n1\n".to_vec(),
    )
    .await;
    let id = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Bucket",
            "s3",
            json!({"bucket": bucket, "endpoint": endpoint, "region": "us-east-1", "access_key_id": "test", "secret_access_key": "test-secret"}),
        )
        .await;
    let (status, body) = app
        .get(
            &format!("/api/connections/{id}/files?path_prefix=logs/"),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body[0]["name"], "logs/2024/a.jsonl.gz");
    let (status, body) = app
        .post(
            &format!("/api/connections/{id}/guess"),
            &owner.token,
            json!({"path_prefix": "logs/"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["source"]["format"], "jsonl");
    assert_eq!(body["source"]["gzip"], true);
    assert_eq!(
        body["source"]["columns"],
        json!([
            {"name": "id", "type": "long"},
            {"name": "name", "type": "string"},
            {"name": "ok", "type": "boolean"},
        ])
    );
    assert_eq!(
        body["preview"]["rows"].as_array().unwrap().len(),
        2,
        "{body}"
    );
}

/// A bucket on the service's own network: the name is saved (it is only resolved at use)
/// and refused by the probe's egress policy when its files are listed or guessed.
#[tokio::test]
async fn a_bucket_on_the_service_network_is_refused_by_egress_policy() {
    let app = spawn_app_with(SpawnOptions {
        egress_allow: "",
        ..Default::default()
    })
    .await;
    let stranger = app.signup("Stranger").await;
    let id = app
        .create_connection(
            &stranger,
            &stranger.default_team,
            "Inside",
            "s3",
            json!({"bucket": "any", "endpoint": "http://localhost:5055", "region": "us-east-1", "access_key_id": "AKIAX", "secret_access_key": "x"}),
        )
        .await;
    let (status, body) = app
        .get(
            &format!("/api/connections/{id}/files?path_prefix="),
            &stranger.token,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("may not be reached"),
        "{body}"
    );
    let (status, body) = app
        .post(
            &format!("/api/connections/{id}/guess"),
            &stranger.token,
            json!({"path_prefix": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("may not be reached"),
        "{body}"
    );
}
