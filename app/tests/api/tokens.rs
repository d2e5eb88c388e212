use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn api_tokens_are_shown_once_work_as_bearer_and_revoke() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let (status, created) = app
        .post(
            "/api/tokens",
            &owner.token,
            json!({"name": "nightly export", "expires_in_days": 30}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("hkb_"));
    let id = created["api_token"]["id"].as_str().unwrap().to_owned();
    assert!(created["api_token"]["last_used_at"].is_null());

    let (status, me) = app.get("/api/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], owner.email);

    let (_, list) = app.get("/api/tokens", &owner.token).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        !list.to_string().contains(&token),
        "the token is never shown again"
    );
    assert_eq!(list[0]["prefix"].as_str().unwrap(), &token[..10]);
    assert!(!list[0]["last_used_at"].is_null(), "use is recorded");

    let (status, _) = app.delete(&format!("/api/tokens/{id}"), &owner.token).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get("/api/me", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body["message"].as_str().unwrap().contains("revoked"));
    let actions = app.audit_actions(&owner).await;
    assert!(actions.ends_with(&["api_token.create".to_owned(), "api_token.revoke".to_owned()]));
    let (_, entries) = app.get("/api/audit?action=api_token", &owner.token).await;
    assert!(
        !entries.to_string().contains(&token),
        "no token in the audit log"
    );
}

#[tokio::test]
async fn token_lifetimes_are_validated() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    for days in [0, 5000] {
        let (status, body) = app
            .post(
                "/api/tokens",
                &owner.token,
                json!({"name": "x", "expires_in_days": days}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["field"], "expires_in_days");
    }
}

/// A read-only token reads everything its user may read and changes nothing: every
/// POST, PUT, PATCH and DELETE is refused with 403 before the handler runs.
#[tokio::test]
async fn read_only_tokens_read_but_never_change() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let (status, created) = app
        .post(
            "/api/tokens",
            &owner.token,
            json!({"name": "dashboard", "scope": "read_only", "expires_in_days": 7}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["api_token"]["scope"], "read_only");
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["api_token"]["id"].as_str().unwrap().to_owned();

    let (status, body) = app.get("/api/connections", &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let team = &owner.default_team;
    for (method, path, body) in [
        (
            "POST",
            "/api/connections".to_owned(),
            json!({"name": "x", "kind": "postgresql", "team_id": team, "settings": app.pg_settings()}),
        ),
        (
            "POST",
            "/api/tokens".to_owned(),
            json!({"name": "escalate"}),
        ),
        (
            "PATCH",
            format!("/api/teams/{team}"),
            json!({"name": "renamed"}),
        ),
        (
            "PUT",
            "/api/organization/concurrency".to_owned(),
            json!({"max_concurrent_runs": 1}),
        ),
        ("DELETE", format!("/api/tokens/{id}"), json!({})),
    ] {
        let (status, answer) = app
            .call(method.parse().unwrap(), &path, Some(&token), Some(body))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
        assert_eq!(answer["code"], "read_only_token", "{answer}");
        assert!(
            answer["message"].as_str().unwrap().contains("read-only"),
            "{answer}"
        );
    }
    let (_, list) = app.get("/api/tokens", &owner.token).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing was created");
    assert!(list[0]["revoked_at"].is_null(), "nor revoked");

    // Left out, the scope is full, as before scopes existed; unknown scopes are refused.
    let (_, created) = app
        .post("/api/tokens", &owner.token, json!({"name": "script"}))
        .await;
    assert_eq!(created["api_token"]["scope"], "full");
    let (status, body) = app
        .post(
            "/api/tokens",
            &owner.token,
            json!({"name": "x", "scope": "admin"}),
        )
        .await;
    // An unknown value is a malformed body (as for any enum), named by its field.
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "scope", "{body}");
    assert!(body.to_string().contains("read_only"), "{body}");
}
