//! Abuse limits: account actions per client address, probes per user and organization,
//! live streams per user, and the security headers every response carries.

use crate::helpers::{PASSWORD, SpawnOptions, spawn_app_with, unique_email};
use hakobu::settings::AbuseLimits;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn limits(
    account_actions_per_address: u32,
    probes_per_user: u32,
    probes_per_organization: u32,
) -> SpawnOptions {
    SpawnOptions {
        abuse_limits: AbuseLimits {
            account_actions_per_address,
            probes_per_user,
            probes_per_organization,
            streams_per_user: 1000,
        },
        ..Default::default()
    }
}

/// Sends `body` to `path` without credentials; answers status, `Retry-After`, body.
async fn anonymous(
    app: &crate::helpers::TestApp,
    path: &str,
    body: Value,
) -> (StatusCode, Option<String>, Value) {
    let response = app
        .client
        .post(format!("{}{path}", app.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn account_actions_are_limited_per_address_each_on_its_own() {
    let app = spawn_app_with(limits(2, 1000, 1000)).await;
    let signup = || json!({"organization_name": "Acme", "name": "Owner", "email": unique_email("s"), "password": PASSWORD});
    for _ in 0..2 {
        let (status, _, body) = anonymous(&app, "/api/auth/signup", signup()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, retry_after, body) = anonymous(&app, "/api/auth/signup", signup()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "rate_limited");
    let wait: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("network address"),
        "{body}"
    );

    // Each action has its own count: sign-ups used up do not block a reset request.
    let reset = json!({"email": unique_email("r")});
    for _ in 0..2 {
        let (status, _, _) = anonymous(&app, "/api/auth/password-reset", reset.clone()).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let (status, _, _) = anonymous(&app, "/api/auth/password-reset", reset).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // Guessing reset tokens and invitation tokens is limited the same way.
    let confirm = json!({"token": "guessed-token", "password": "a long new password"});
    for _ in 0..2 {
        let (status, _, body) =
            anonymous(&app, "/api/auth/password-reset/confirm", confirm.clone()).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    }
    let (status, _, _) = anonymous(&app, "/api/auth/password-reset/confirm", confirm).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    let accept =
        json!({"token": "guessed-token", "name": "Someone", "password": "a long new password"});
    for _ in 0..2 {
        let (status, _, body) = anonymous(&app, "/api/invitations/accept", accept.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    let (status, _, _) = anonymous(&app, "/api/invitations/accept", accept).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn probes_are_limited_per_user_and_per_organization() {
    let app = spawn_app_with(limits(1000, 2, 3)).await;
    let owner = app.signup("Acme").await;
    let analyst = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": owner.default_team, "role": "editor"}]),
        )
        .await;
    let id = app.pg_connection(&owner).await;
    let schemas = format!("/api/connections/{id}/schemas");
    for _ in 0..2 {
        let (status, body) = app.get(&schemas, &owner.token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // The owner's third probe this minute: a test counts like a listing.
    let (status, body) = app
        .post(
            &format!("/api/connections/{id}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("2 ") && message.contains("per person"),
        "{message}"
    );

    // Another member has their own count, but the organization's third probe is its last.
    let (status, body) = app.get(&schemas, &analyst.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/connections/{id}/preview"),
            &analyst.token,
            json!({"query": "SELECT 1 AS one"}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("organization") && message.contains("3 "),
        "{message}"
    );

    // Another organization is not affected, and a data check's preview counts as a probe.
    let other = app.signup("Beta").await;
    let theirs = app.pg_connection(&other).await;
    let (status, body) = app
        .get(&format!("/api/connections/{theirs}/schemas"), &other.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let check =
        json!({"connection_id": theirs, "sql": "SELECT 1", "operator": "=", "expected": "1"});
    let (status, body) = app
        .post("/api/data-checks/preview", &other.token, check.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["passed"], true, "{body}");
    let (status, body) = app
        .post("/api/data-checks/preview", &other.token, check)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app_with(SpawnOptions::default()).await;
    for path in ["/", "/healthz", "/api/me", "/api/no-such-endpoint"] {
        let response = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        for part in [
            "script-src 'self' 'wasm-unsafe-eval'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert!(headers.get("strict-transport-security").is_none(), "{path}");
    }

    let https = spawn_app_with(SpawnOptions {
        public_url: "https://hakobu.example.com",
        ..Default::default()
    })
    .await;
    let response = https
        .client
        .get(format!("{}/healthz", https.address))
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age=")
    );
}

#[tokio::test]
async fn metrics_need_the_token() {
    let app = spawn_app_with(SpawnOptions::default()).await;
    let get = |token: Option<&str>| {
        let mut request = app.client.get(format!("{}/metrics", app.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(get(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(Some("a guess")).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // A signed-in user's session is not the metrics token either.
    let owner = app.signup("Acme").await;
    assert_eq!(
        get(Some(&owner.token)).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    let response = get(Some(crate::helpers::METRICS_TOKEN)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("hakobu_http_requests_total")
    );
}

#[tokio::test]
async fn tokens_in_links_never_reach_the_logs() {
    let app = spawn_app_with(SpawnOptions::default()).await;
    let owner = app.signup("Acme").await;
    let invite = format!("invitepathtoken{}", std::process::id());
    let reset = format!("resetpathtoken{}", std::process::id());
    let lookup = format!("lookupquerytoken{}", std::process::id());
    for path in [
        format!("/invite/{invite}"),
        format!("/reset-password/{reset}"),
        format!("/api/invitations/lookup?token={lookup}"),
    ] {
        // Signed in, so the extractor logs on the request's span when it is in debug.
        app.client
            .get(format!("{}{path}", app.address))
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap();
    }
    // A failed sign-in logs a line inside its request span: its target is logged.
    app.client
        .post(format!("{}/api/auth/login?token={lookup}", app.address))
        .json(&json!({"email": "nobody@example.com", "password": "whatever123"}))
        .send()
        .await
        .unwrap();
    let logs = crate::helpers::captured_logs();
    assert!(
        logs.contains("/api/auth/login?token="),
        "the request line is logged"
    );
    for secret in [&invite, &reset, &lookup] {
        assert!(!logs.contains(secret.as_str()), "{secret} is logged");
    }
}

#[tokio::test]
async fn live_streams_are_capped_per_user_and_end_when_their_run_disappears() {
    let app = spawn_app_with(SpawnOptions {
        abuse_limits: AbuseLimits {
            streams_per_user: 2,
            ..AbuseLimits::default()
        },
        ..Default::default()
    })
    .await;
    let owner = app.signup("Watchers").await;
    let job = crate::runs::job(&app, &owner, json!({"overlap": "queue"})).await;
    let (status, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let events = format!(
        "{}/api/runs/{}/events",
        app.address,
        run["id"].as_str().unwrap()
    );
    let open = || app.client.get(&events).bearer_auth(&owner.token).send();

    let first = open().await.unwrap();
    let mut second = open().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    let third = open().await.unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = third.json().await.unwrap();
    assert_eq!(body["code"], "too_many_streams", "{body}");

    // A closed stream frees its place (the server notices at its next write).
    drop(first);
    let mut reopened = None;
    for _ in 0..50 {
        let attempt = open().await.unwrap();
        if attempt.status() == StatusCode::OK {
            reopened = Some(attempt);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(reopened.is_some(), "a place was never freed");

    // The run disappears with its job: the stream says so and ends.
    let (status, body) = app.delete(&format!("/api/jobs/{job}"), &owner.token).await;
    assert!(status.is_success(), "{body}");
    let mut seen = String::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while let Ok(Some(chunk)) = second.chunk().await {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await;
    assert!(read.is_ok(), "the stream did not end: {seen}");
    assert!(
        seen.contains("event: end\ndata: {\"reason\":\"gone\"}"),
        "{seen}"
    );
}
