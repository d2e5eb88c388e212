//! Secrets at rest: each ciphertext opens only in the row, field and organization it was
//! sealed for, and `hakobu rotate-secrets` moves every secret to the newest key,
//! resumably (`docs/security.md`).

use crate::helpers::{SpawnOptions, server_url, spawn_app, spawn_app_with};
use crate::notifications::destination;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD_A: &str = "org-a-password-3141";

fn with_password(app: &crate::helpers::TestApp, password: &str) -> Value {
    let mut settings = app.pg_settings();
    settings["password"] = json!(password);
    settings
}

#[tokio::test]
async fn a_secret_copied_into_another_organizations_connection_does_not_open() {
    let app = spawn_app().await;
    let a = app.signup("Org A").await;
    let b = app.signup("Org B").await;
    let conn_a = app
        .create_connection(
            &a,
            &a.default_team,
            "A",
            "postgresql",
            with_password(&app, PASSWORD_A),
        )
        .await;
    let conn_b = app
        .create_connection(
            &b,
            &b.default_team,
            "B",
            "postgresql",
            with_password(&app, "org-b-pw"),
        )
        .await;
    let stored = app
        .query_strings(&format!(
            "SELECT secrets->>'password' FROM connections WHERE id = '{conn_a}'"
        ))
        .await;
    let sealed_a = stored[0][0].clone().unwrap();
    assert!(sealed_a.starts_with("v2:k1:"), "{sealed_a}");
    assert!(!sealed_a.contains(PASSWORD_A));

    // Someone with write access to the database (or a bug) moves A's ciphertext to B's
    // connection, and to another field of A's own.
    app.sql(&format!(
        "UPDATE connections SET secrets = (SELECT secrets FROM connections WHERE id = '{conn_a}') WHERE id = '{conn_b}'"
    ))
    .await;
    let (status, body) = app
        .post(
            &format!("/api/connections/{conn_b}/test"),
            &b.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "settings.password", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("enter it again"),
        "{body}"
    );
    assert!(!body.to_string().contains(PASSWORD_A));

    // A's own connection still opens its secret.
    let (status, body) = app
        .post(
            &format!("/api/connections/{conn_a}/test"),
            &a.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], true, "{body}");
}

/// `hakobu rotate-secrets` with `KEY`, the way an operator runs it; answers its output.
fn rotate(db_name: &str, key: &str) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hakobu"))
        .arg("rotate-secrets")
        .env_clear()
        .env("HAKOBU_DATABASE_URL", format!("{}/{db_name}", server_url()))
        .env("HAKOBU_SECRET_KEY", key)
        .output()
        .expect("run hakobu rotate-secrets");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn rotate_secrets_moves_every_secret_to_the_new_key_and_a_second_pass_does_nothing() {
    let app = spawn_app().await;
    let owner = app.signup("Rotating").await;
    let conn = app
        .create_connection(
            &owner,
            &owner.default_team,
            "PG",
            "postgresql",
            with_password(&app, PASSWORD_A),
        )
        .await;
    destination(
        &app,
        &owner,
        "Ops hook",
        json!({"kind": "webhook", "url": "https://ops.example/hook", "headers": [
            {"name": "Authorization", "value": "Bearer header-secret-456", "secret": true}]}),
    )
    .await;
    let new_key = hakobu::secrets::SecretBox::generate_spec("k2");

    // Without the old key nothing can be resealed, and the command says so.
    let (ok, out) = rotate(&app.db_name, &new_key);
    assert!(!ok, "{out}");
    assert!(out.contains("keep their keys"), "{out}");

    let both = format!("{new_key},{}", app.secret_key);
    let (ok, out) = rotate(&app.db_name, &both);
    assert!(ok, "{out}");
    assert!(out.contains("sealed 2 secrets"), "{out}");
    let (ok, out) = rotate(&app.db_name, &both);
    assert!(ok && out.contains("sealed 0 secrets"), "{out}");
    let stored = app
        .query_strings(
            "SELECT secrets->>'password' FROM connections UNION ALL \
             SELECT secrets->'headers'->>'Authorization' FROM notification_destinations",
        )
        .await;
    for row in &stored {
        assert!(
            row[0].as_deref().unwrap().starts_with("v2:k2:"),
            "{stored:?}"
        );
    }

    // The app restarted with only the new key reads the connection's password.
    let restarted = spawn_app_with(SpawnOptions {
        database: Some(app.db_name.clone()),
        secret_key: Some(new_key),
        ..SpawnOptions::default()
    })
    .await;
    let (status, body) = restarted
        .post(
            &format!("/api/connections/{conn}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], true, "{body}");
}
