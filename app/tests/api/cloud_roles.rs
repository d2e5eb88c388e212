//! Tenants' cloud roles against moto's STS and S3: the service's own role is off for a
//! new organization; a role of the tenant's is assumed with the organization's id as the
//! external id, for connection tests and for runs, and only its temporary credentials
//! reach the bucket; they appear in no log, response or stored row.
//!
//! moto records every AssumeRole call with its role ARN, session name, external id and the
//! credentials it answered (`/moto-api/data.json`, `sts.AssumedRole`), but does not check
//! S3 signatures; so the S3 requests are sent through a [`TcpTap`], which shows the key
//! they were signed with and the session token they carried.

use crate::helpers::{SpawnOptions, TestApp, TestUser, captured_logs, spawn_app_with};
use hakobu_testkit::TcpTap;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ROLE: &str = "arn:aws:iam::210987654321:role/hakobu-reader";

fn moto() -> String {
    crate::helpers::moto_endpoint()
        .expect("HAKOBU_TEST_S3_ENDPOINT must name a moto server (make test starts one)")
}

async fn create_bucket(endpoint: &str) -> String {
    let bucket = format!(
        "hakobu-role-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let status = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0")
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "creating bucket {bucket}: {status}");
    bucket
}

/// moto's record of every AssumeRole call made with `external_id`.
async fn assumed_roles(endpoint: &str, external_id: &str) -> Vec<Value> {
    let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["sts"]["AssumedRole"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["external_id"] == external_id)
        .collect()
}

/// A tap in front of moto's S3, and settings of a bucket reached through it with `ROLE`.
async fn role_bucket(endpoint: &str) -> (TcpTap, Value) {
    let bucket = create_bucket(endpoint).await;
    let tap = TcpTap::start(endpoint.trim_start_matches("http://")).await;
    let settings = json!({"bucket": bucket, "endpoint": format!("http://{}", tap.address), "region": "us-east-1", "auth": "assume_role", "role_arn": ROLE});
    (tap, settings)
}

/// The one session moto made for `user`'s organization under `session_name`.
async fn session_of(endpoint: &str, user: &TestUser, session_name: &str) -> Value {
    let sessions: Vec<Value> = assumed_roles(endpoint, &user.org_id)
        .await
        .into_iter()
        .filter(|r| r["session_name"] == session_name)
        .collect();
    assert_eq!(sessions.len(), 1, "{session_name}: {sessions:?}");
    let session = sessions[0].clone();
    assert_eq!(session["role_arn"], ROLE);
    assert!(
        session["access_key_id"]
            .as_str()
            .unwrap()
            .starts_with("ASIA"),
        "temporary credentials: {session}"
    );
    session
}

/// Every request through `tap` was signed with one of the sessions' keys, and each
/// session's key and token were used.
fn signed_by(tap: &TcpTap, sessions: &[Value]) {
    let sent = tap.sent();
    let mut signed_by_sessions = 0;
    for session in sessions {
        let key = session["access_key_id"].as_str().unwrap();
        let token = session["session_token"].as_str().unwrap();
        let signed = sent.matches(&format!("Credential={key}/")).count();
        assert!(signed > 0, "signed with the assumed role's key {key}");
        assert!(
            sent.contains(&format!("x-amz-security-token: {token}")),
            "carried the assumed role's session token"
        );
        signed_by_sessions += signed;
    }
    assert_eq!(
        sent.matches("Credential=").count(),
        signed_by_sessions,
        "every request used an assumed role's key"
    );
}

async fn spawn(allow_ambient: bool, dispatcher: bool) -> TestApp {
    spawn_app_with(SpawnOptions {
        dispatcher,
        cloud_roles: hakobu::settings::CloudRoleSettings {
            allow_ambient,
            ..Default::default()
        },
        ..Default::default()
    })
    .await
}

/// An app that asks for roles through `sts` (a tap in front of moto, or nowhere).
async fn spawn_with_sts(dispatcher: bool, sts: String) -> TestApp {
    spawn_app_with(SpawnOptions {
        dispatcher,
        sts_endpoint: Some(sts),
        ..Default::default()
    })
    .await
}

/// moto's STS behind a tap: the AssumeRole requests themselves (form parameters
/// `ExternalId`, `RoleSessionName`, `DurationSeconds`) as the app sent them.
async fn sts_tap(endpoint: &str) -> TcpTap {
    TcpTap::start(endpoint.trim_start_matches("http://")).await
}

/// An Embulk S3 input asking for the machine's own role (`auth_method: instance`).
fn keyless_embulk_s3(endpoint: &str) -> String {
    format!(
        "in:\n  type: s3\n  bucket: exports\n  endpoint: {endpoint}\n  path_prefix: orders/\n  auth_method: instance\n  parser:\n    type: csv\n    columns: [{{name: id, type: long}}]\nout: {{type: postgresql, host: 127.0.0.1, user: postgres, database: d, table: t}}\n"
    )
}

/// Switch off (the default): a fresh organization can neither save, test nor import a
/// connection acting with the service's own role; the form is told the choice is off.
/// Switch on (single-tenant installs): the same requests are accepted.
#[tokio::test]
async fn the_services_own_role_is_refused_unless_the_operator_allows_it() {
    let endpoint = moto();
    let app = spawn(false, false).await;
    let owner = app.signup("Tenant").await;
    let ambient = json!({"bucket": "someone-elses-bucket", "auth": "instance_role"});
    let (status, body) = app
        .post("/api/connections", &owner.token, json!({"name": "Ambient", "kind": "s3", "team_id": owner.default_team, "settings": ambient}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "settings.auth", "{body}");
    assert_eq!(body["fields"][0]["code"], "ambient_role_off", "{body}");
    assert!(
        body["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("role_arn"),
        "says the way out: {body}"
    );
    let (status, body) = app
        .post(
            "/api/connections/test",
            &owner.token,
            json!({"kind": "s3", "settings": ambient}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["code"], "ambient_role_off", "{body}");
    let (_, kinds) = app.get("/api/connection-kinds", &owner.token).await;
    let s3 = kinds
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "s3")
        .unwrap();
    assert_eq!(
        s3["unavailable_choices"],
        json!([{"field": "auth", "choice": "instance_role"}])
    );

    // An Embulk S3 input asking for the machine's own role: refused at config.in,
    // naming role_arn, and nothing is created.
    let (status, body) = app
        .post("/api/jobs/import", &owner.token, json!({"team_id": owner.default_team, "name": "Keyless", "config": keyless_embulk_s3(&endpoint)}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "config.in", "{body}");
    assert_eq!(body["fields"][0]["code"], "ambient_role_off", "{body}");
    let (_, connections) = app.get("/api/connections", &owner.token).await;
    assert_eq!(connections, json!([]));
    let (_, jobs) = app.get("/api/jobs", &owner.token).await;
    assert_eq!(jobs, json!([]));

    let single_tenant = spawn(true, false).await;
    let owner = single_tenant.signup("Only tenant").await;
    single_tenant
        .create_connection(&owner, &owner.default_team, "Ambient", "s3", ambient)
        .await;
    let (_, kinds) = single_tenant
        .get("/api/connection-kinds", &owner.token)
        .await;
    assert!(
        kinds
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["unavailable_choices"] == json!([])),
        "{kinds}"
    );
    let (status, body) = single_tenant
        .post("/api/jobs/import", &owner.token, json!({"team_id": owner.default_team, "name": "Keyless", "config": keyless_embulk_s3(&endpoint)}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Without keys and without asking for a role, nothing is turned into a role silently,
    // even where the service's own role is allowed: the credentials are asked for.
    let no_credentials = keyless_embulk_s3(&endpoint).replace("  auth_method: instance\n", "");
    let (status, body) = single_tenant
        .post(
            "/api/jobs/import",
            &owner.token,
            json!({"team_id": owner.default_team, "name": "No keys", "config": no_credentials}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["fields"][0]["field"], "config.in.access_key_id",
        "{body}"
    );
}

/// A connection saved with the service's own role before the operator turned it off (here
/// written into the database directly) fails its test and its runs with the reason, and
/// never falls back to the service's identity.
#[tokio::test]
async fn a_saved_connection_with_the_services_own_role_fails_with_the_reason() {
    let app = spawn(false, true).await;
    let owner = app.signup("Tenant").await;
    let s3 = app
        .create_connection(&owner, &owner.default_team, "Old bucket", "s3", json!({"bucket": "old-bucket", "access_key_id": "AKIAOLD", "secret_access_key": "old-secret"}))
        .await;
    app.sql(&format!(
        "UPDATE connections SET settings = '{{\"bucket\": \"old-bucket\", \"auth\": \"instance_role\"}}', secrets = '{{}}' WHERE id = '{s3}'"
    ))
    .await;
    let (status, tested) = app
        .post(
            &format!("/api/connections/{s3}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(tested["ok"], false, "{tested}");
    assert_eq!(tested["error"]["kind"], "ambient_role_off", "{tested}");
    assert!(
        tested["error"]["hint"]
            .as_str()
            .unwrap()
            .contains(&owner.org_id),
        "the hint gives the external id: {tested}"
    );

    let pg = app.pg_connection(&owner).await;
    let (status, job) = app
        .post("/api/jobs", &owner.token, json!({"name": "From the old bucket", "team_id": owner.default_team, "settings": {
            "source": {"connection_id": s3, "files": {"path_prefix": "x/", "format": "csv", "columns": [{"name": "id", "type": "long"}]}},
            "destination": {"connection_id": pg, "table": {"name": "dst"}}}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let (_, run) = app
        .post(
            &format!("/api/jobs/{}/runs", job["id"].as_str().unwrap()),
            &owner.token,
            json!({}),
        )
        .await;
    let done = app
        .wait_for_run_end(&owner.token, run["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "failed", "{done}");
    let error = done["error_summary"].as_str().unwrap();
    assert!(
        error.contains("instance_role") && error.contains("turned off"),
        "{done}"
    );
}

/// A connection test assumes the tenant's role with the organization's id as the external
/// id, and lists the bucket with the role's temporary credentials; another organization
/// naming the same role sends its own id (which the role's trust policy would refuse).
#[tokio::test]
async fn a_connection_test_assumes_the_role_with_the_organization_as_external_id() {
    let endpoint = moto();
    let sts = sts_tap(&endpoint).await;
    let app = spawn_with_sts(false, format!("http://{}", sts.address)).await;
    let owner = app.signup("Tenant").await;
    let (tap, settings) = role_bucket(&endpoint).await;

    let mut wrong = settings.clone();
    wrong["role_arn"] = json!("arn:aws:iam::2109876543:role/hakobu-reader");
    let (status, body) = app
        .post("/api/connections", &owner.token, json!({"name": "Bad role", "kind": "s3", "team_id": owner.default_team, "settings": wrong}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["field"], "settings.role_arn", "{body}");
    assert_eq!(body["fields"][0]["code"], "role_arn", "{body}");

    let s3 = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Role bucket",
            "s3",
            settings.clone(),
        )
        .await;
    let (_, tested) = app
        .post(
            &format!("/api/connections/{s3}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(tested["ok"], true, "{tested}");
    let session = session_of(&endpoint, &owner, &format!("hakobu-org-{}", owner.org_id)).await;
    signed_by(&tap, std::slice::from_ref(&session));
    let asked = sts.sent();
    assert!(asked.contains("Action=AssumeRole"), "{asked}");
    assert!(
        asked.contains(&format!("ExternalId={}", owner.org_id)),
        "{asked}"
    );
    assert!(
        asked.contains("DurationSeconds=900"),
        "a test asks for STS's shortest session: {asked}"
    );

    let (_, view) = app
        .get(&format!("/api/connections/{s3}"), &owner.token)
        .await;
    let shown = view.to_string() + &tested.to_string();
    for secret in ["secret_access_key", "session_token"] {
        let value = session[secret].as_str().unwrap();
        assert!(!shown.contains(value), "{secret} is not in responses");
        assert!(!captured_logs().contains(value), "{secret} is not logged");
    }

    let other = app.signup("Another tenant").await;
    let (_, tested) = app
        .post(
            "/api/connections/test",
            &other.token,
            json!({"kind": "s3", "settings": settings}),
        )
        .await;
    assert_eq!(tested["ok"], true, "{tested}");
    let theirs = assumed_roles(&endpoint, &other.org_id).await;
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    assert_eq!(
        theirs[0]["session_name"],
        format!("hakobu-org-{}", other.org_id)
    );
    assert_eq!(
        assumed_roles(&endpoint, &owner.org_id).await.len(),
        1,
        "the first organization's id was sent for it alone"
    );
}

/// Runs write to and read from a bucket through the tenant's role: the app assumes it for
/// each run (session `hakobu-run-<run>`, external id the organization) and puts only the
/// temporary credentials into the assignment; they are in no run log, response, stored
/// config or app log line.
#[tokio::test]
async fn runs_reach_the_bucket_through_the_assumed_role_and_never_show_its_credentials() {
    let endpoint = moto();
    let sts = sts_tap(&endpoint).await;
    let app = spawn_with_sts(true, format!("http://{}", sts.address)).await;
    let owner = app.signup("Tenant").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'c');")
        .await;
    let (tap, settings) = role_bucket(&endpoint).await;
    let s3 = app
        .create_connection(&owner, &owner.default_team, "Role bucket", "s3", settings)
        .await;
    let pg = app.pg_connection(&owner).await;
    let columns = json!([{"name": "id", "type": "long"}, {"name": "name", "type": "string"}]);
    let mut sessions = Vec::new();
    let mut shown = String::new();
    for (source, destination) in [
        (
            json!({"connection_id": pg, "table": {"name": "src"}}),
            json!({"connection_id": s3, "files": {"path_prefix": "exports/rows_", "format": "csv"}}),
        ),
        (
            json!({"connection_id": s3, "files": {"path_prefix": "exports/rows_", "format": "csv", "columns": columns}}),
            json!({"connection_id": pg, "table": {"name": "back"}}),
        ),
    ] {
        let (status, job) = app
            .post("/api/jobs", &owner.token, json!({"name": format!("J {}", uuid::Uuid::new_v4().simple()), "team_id": owner.default_team, "settings": {"source": source, "destination": destination}}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{job}");
        let job = job["id"].as_str().unwrap().to_owned();
        let (_, run) = app
            .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
            .await;
        let run = run["id"].as_str().unwrap().to_owned();
        let done = app.wait_for_run_end(&owner.token, &run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["rows_written"], 3, "{done}");
        sessions.push(session_of(&endpoint, &owner, &format!("hakobu-run-{run}")).await);
        for path in [
            format!("/api/runs/{run}"),
            format!("/api/runs/{run}/logs"),
            format!("/api/jobs/{job}/config"),
        ] {
            let (status, body) = app.get(&path, &owner.token).await;
            assert_eq!(status, StatusCode::OK, "{path}: {body}");
            shown.push_str(&body.to_string());
        }
        let export = app
            .client
            .get(format!("{}/api/jobs/{job}/export", app.address))
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(export.contains(ROLE), "the export names the role");
        assert!(export.contains("SESSION_TOKEN }}"), "{export}");
        shown.push_str(&export);
        let (_, logs) = app
            .get(&format!("/api/runs/{run}/logs"), &owner.token)
            .await;
        assert!(logs.to_string().contains("runner started"), "{logs}");
        // The job may run for 6 hours (the default timeout); the session lasts one.
        assert!(
            logs.to_string()
                .contains("role credentials last 60 minutes, and this job may run for 360"),
            "{logs}"
        );
    }
    let asked = sts.sent();
    assert_eq!(asked.matches("Action=AssumeRole").count(), 2, "{asked}");
    assert_eq!(
        asked.matches("DurationSeconds=3600").count(),
        2,
        "each run asks for its timeout within the ceiling: {asked}"
    );
    assert_eq!(
        app.query_strings("SELECT count(*) FROM back").await[0][0].as_deref(),
        Some("3")
    );
    let stored = app
        .query_strings("SELECT coalesce(string_agg(config_snapshot, ''), '') FROM runs")
        .await[0][0]
        .clone()
        .unwrap_or_default();
    shown.push_str(&stored);
    signed_by(&tap, &sessions);
    for session in &sessions {
        for secret in ["secret_access_key", "session_token"] {
            let value = session[secret].as_str().unwrap();
            assert!(
                !shown.contains(value),
                "{secret} in a response or stored row"
            );
            assert!(
                !captured_logs().contains(value),
                "{secret} logged by the app"
            );
        }
    }
}

/// When STS cannot be reached, a connection test and a run fail with the reason, and
/// nothing is tried with the service's own identity instead.
#[tokio::test]
async fn without_sts_tests_and_runs_fail_with_the_reason() {
    let endpoint = moto();
    let app = spawn_with_sts(true, "http://127.0.0.1:1".to_owned()).await;
    let owner = app.signup("Tenant").await;
    app.sql("CREATE TABLE src (id bigint); INSERT INTO src VALUES (1);")
        .await;
    let (tap, settings) = role_bucket(&endpoint).await;
    let s3 = app
        .create_connection(&owner, &owner.default_team, "Role bucket", "s3", settings)
        .await;
    let (_, tested) = app
        .post(
            &format!("/api/connections/{s3}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(tested["ok"], false, "{tested}");
    assert_eq!(tested["error"]["kind"], "role_unavailable", "{tested}");
    assert!(
        tested["error"]["message"].as_str().unwrap().contains(ROLE),
        "{tested}"
    );
    let pg = app.pg_connection(&owner).await;
    let (_, job) = app
        .post("/api/jobs", &owner.token, json!({"name": "To the bucket", "team_id": owner.default_team, "settings": {
            "source": {"connection_id": pg, "table": {"name": "src"}},
            "destination": {"connection_id": s3, "files": {"path_prefix": "x_", "format": "csv"}}}}))
        .await;
    let (_, run) = app
        .post(
            &format!("/api/jobs/{}/runs", job["id"].as_str().unwrap()),
            &owner.token,
            json!({}),
        )
        .await;
    let done = app
        .wait_for_run_end(&owner.token, run["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["error_summary"]
            .as_str()
            .unwrap()
            .contains("could not ask AWS to assume the role"),
        "{done}"
    );
    assert_eq!(tap.sent(), "", "nothing reached the bucket");
}
