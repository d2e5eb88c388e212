//! SSH tunnels through the API: a connection through a real local sshd (testkit `Sshd`)
//! pins the bastion's host key at its first test and shows it; browsing and runs go
//! through the tunnel; a changed host key is refused until an editor accepts it; the
//! private key never comes back in a response, the audit log or the app's logs. The
//! bastion on a refused address is in `tenant_boundary.rs`.

use crate::helpers::{SpawnOptions, TestApp, captured_logs, spawn_app_with};
use hakobu_testkit::Sshd;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A PostgreSQL connection to the test database as the bastion sees it (`localhost`,
/// resolved by the bastion), through `sshd`.
fn through(app: &TestApp, sshd: &Sshd, pinned: Option<&str>) -> Value {
    let mut settings = json!({
        "host": "localhost", "port": 5432, "database": app.db_name, "user": "postgres",
        "tls_mode": "disable", "ssh_host": "127.0.0.1", "ssh_port": sshd.port,
        "ssh_user": sshd.user, "ssh_private_key": sshd.ed25519_key,
    });
    if let Some(f) = pinned {
        settings["ssh_host_key_fingerprint"] = json!(f);
    }
    settings
}

/// Fails when `text` holds any line of the private key `key` (its base64 body; the
/// BEGIN/END markers also appear in the field's help and errors).
fn assert_no_key(what: &str, text: &str, key: &str) {
    for line in key
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 16)
    {
        assert!(!text.contains(line), "{what} shows the private key");
    }
}

#[tokio::test]
async fn the_first_test_pins_the_host_key_and_runs_go_through_the_tunnel() {
    let sshd = Sshd::start();
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql("CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src SELECT g, 'n' || g FROM generate_series(1, 300) g;").await;
    let id = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Behind the bastion",
            "postgresql",
            through(&app, &sshd, None),
        )
        .await;
    let (status, shown) = app
        .get(&format!("/api/connections/{id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown["settings"]["ssh_private_key"], json!({"set": true}));
    assert_no_key("the connection", &shown.to_string(), &sshd.ed25519_key);

    // Nothing is browsed through a bastion whose key is not pinned yet.
    let (status, body) = app
        .get(&format!("/api/connections/{id}/schemas"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "settings.ssh_host_key_fingerprint", "{body}");

    // The first test pins the key it saw and shows it.
    let (status, tested) = app
        .post(
            &format!("/api/connections/{id}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tested["ok"], true, "{tested}");
    assert_eq!(
        tested["ssh_host_key"],
        json!({"algorithm": "ssh-ed25519", "fingerprint": sshd.host_key_fingerprint})
    );
    let (_, shown) = app
        .get(&format!("/api/connections/{id}"), &owner.token)
        .await;
    assert_eq!(
        shown["settings"]["ssh_host_key_fingerprint"],
        sshd.host_key_fingerprint
    );
    let (status, schemas) = app
        .get(&format!("/api/connections/{id}/schemas"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{schemas}");
    assert!(schemas.to_string().contains("public"), "{schemas}");

    // A run: source and destination through the bastion, in a runner process.
    let settings = json!({
        "source": {"connection_id": id, "table": {"name": "src"}},
        "destination": {"connection_id": id, "table": {"name": "dst"}, "mode": "insert"},
    });
    let (status, job) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Tunnelled", "team_id": owner.default_team, "settings": settings}),
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
    let run = run["id"].as_str().unwrap();
    let done = app.wait_for_run_end(&owner.token, run).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_written"], 300, "{done}");
    assert_eq!(
        app.query_strings("SELECT count(*) FROM dst").await[0][0].as_deref(),
        Some("300")
    );
    let (_, logs) = app
        .get(&format!("/api/runs/{run}/logs"), &owner.token)
        .await;
    assert_no_key("the run's log", &logs.to_string(), &sshd.ed25519_key);
    let (_, yaml) = app
        .get(
            &format!("/api/jobs/{}/config", job["id"].as_str().unwrap()),
            &owner.token,
        )
        .await;
    assert_no_key("the job's config", &yaml.to_string(), &sshd.ed25519_key);
    let (_, audit) = app.get("/api/audit?per_page=500", &owner.token).await;
    assert!(
        audit.to_string().contains("connection.ssh_host_key_pinned"),
        "{audit}"
    );
    assert_no_key("the audit log", &audit.to_string(), &sshd.ed25519_key);
    assert_no_key("the app's logs", &captured_logs(), &sshd.ed25519_key);
}

#[tokio::test]
async fn a_changed_host_key_is_refused_until_an_editor_accepts_it() {
    let sshd = Sshd::start();
    let before = Sshd::start();
    let app = spawn_app_with(SpawnOptions::default()).await;
    let owner = app.signup("Acme").await;
    // Pinned to the key the bastion had before (another server's key here).
    let id = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Bastion",
            "postgresql",
            through(&app, &sshd, Some(&before.host_key_fingerprint)),
        )
        .await;
    let (_, tested) = app
        .post(
            &format!("/api/connections/{id}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(tested["ok"], false, "{tested}");
    assert_eq!(tested["error"]["kind"], "ssh_host_key_changed", "{tested}");
    let message = tested["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&before.host_key_fingerprint)
            && message.contains(&sshd.host_key_fingerprint),
        "{message}"
    );
    assert_eq!(
        tested["ssh_host_key"]["fingerprint"],
        sshd.host_key_fingerprint
    );
    // The pin stays, and browsing is refused the same way.
    let (status, body) = app
        .get(&format!("/api/connections/{id}/schemas"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    let (_, shown) = app
        .get(&format!("/api/connections/{id}"), &owner.token)
        .await;
    assert_eq!(
        shown["settings"]["ssh_host_key_fingerprint"],
        before.host_key_fingerprint
    );

    // A viewer may not accept it; a malformed fingerprint is refused on its field.
    let viewer = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": owner.default_team, "role": "viewer"}]),
        )
        .await;
    let accept = format!("/api/connections/{id}/ssh-host-key");
    let (status, _) = app
        .post(
            &accept,
            &viewer.token,
            json!({"fingerprint": sshd.host_key_fingerprint}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .post(&accept, &owner.token, json!({"fingerprint": "MD5:aa:bb"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "fingerprint", "{body}");

    // The editor accepts the key the refused test showed: tests pass again.
    let (status, shown) = app
        .post(
            &accept,
            &owner.token,
            json!({"fingerprint": sshd.host_key_fingerprint}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    assert_eq!(
        shown["settings"]["ssh_host_key_fingerprint"],
        sshd.host_key_fingerprint
    );
    let (_, tested) = app
        .post(
            &format!("/api/connections/{id}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(tested["ok"], true, "{tested}");
    assert!(
        app.audit_actions(&owner)
            .await
            .contains(&"connection.ssh_host_key_accepted".to_owned())
    );
}

#[tokio::test]
async fn a_key_the_bastion_refuses_is_named_as_such() {
    let sshd = Sshd::start();
    let app = spawn_app_with(SpawnOptions::default()).await;
    let owner = app.signup("Acme").await;
    let mut settings = through(&app, &sshd, None);
    settings["ssh_private_key"] = json!(sshd.stranger_key);
    let (status, tested) = app
        .post(
            "/api/connections/test",
            &owner.token,
            json!({"kind": "postgresql", "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{tested}");
    assert_eq!(tested["error"]["kind"], "ssh_sign_in", "{tested}");
    assert_no_key("the test's answer", &tested.to_string(), &sshd.stranger_key);
    // A public key pasted where the private one belongs is refused on its field.
    settings["ssh_private_key"] = json!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG hakobu");
    let (status, body) = app
        .post(
            "/api/connections",
            &owner.token,
            json!({"name": "x", "kind": "postgresql", "team_id": owner.default_team, "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "settings.ssh_private_key", "{body}");
}
