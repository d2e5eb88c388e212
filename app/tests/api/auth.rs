use crate::helpers::{JWT_SECRET, PASSWORD, SpawnOptions, spawn_app, spawn_app_with, unique_email};
use chrono::{Duration, Utc};
use hakobu::auth::jwt::JwtKeys;
use hakobu::settings::LoginLimits;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn signup_creates_an_owner_with_a_default_team() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let (status, me) = app.get("/api/me", &owner.token).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["org_role"], "owner");
    assert_eq!(me["organization_name"], "Acme");
    assert_eq!(me["teams"][0]["name"], "Default");
    assert_eq!(me["teams"][0]["role"], "admin");
    assert_eq!(me["email"], owner.email);
}

/// The web form names the first team in the reader's language; the name is checked like
/// any team name.
#[tokio::test]
async fn the_first_team_takes_the_name_the_sign_up_gives() {
    let app = spawn_app().await;
    let signup = |team: Value| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/api/auth/signup",
                None,
                Some(json!({
                    "organization_name": "株式会社サンプル", "name": "山田花子",
                    "email": unique_email("owner"), "password": PASSWORD, "first_team_name": team,
                })),
            )
            .await
        }
    };
    let (status, body) = signup(json!("  ")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "first_team_name");
    let (status, body) = signup(json!(" デフォルト ")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = body["token"].as_str().unwrap();
    let (_, me) = app.get("/api/me", token).await;
    assert_eq!(me["teams"][0]["name"], "デフォルト");
}

#[tokio::test]
async fn duplicate_email_is_a_clear_409() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/auth/signup",
            None,
            Some(json!({
                "organization_name": "Other", "name": "X",
                // Same address in another case and with spaces: still the same login.
                "email": format!("  {}  ", owner.email.to_uppercase()), "password": PASSWORD,
            })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"], "conflict");
    assert_eq!(body["field"], "email");
    assert!(body["message"].as_str().unwrap().contains("already exists"));
    // Nothing of the failed sign-up is left behind: the first owner's log has its own
    // three entries only.
    assert_eq!(
        app.audit_actions(&owner).await,
        ["organization.create", "member.create", "team.create"]
    );
}

#[tokio::test]
async fn login_with_right_and_wrong_passwords() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let login = |email: String, password: &'static str| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await
        }
    };
    let (status, body) = login(owner.email.clone(), "wrong password!!").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "The email or password is wrong.");
    // The stable code clients translate; a sentence without parts sends no params.
    assert_eq!(body["code"], "wrong_password", "{body}");
    assert!(body.get("params").is_none(), "{body}");
    // An unknown account gets the very same answer.
    let (status, body2) = login(unique_email("nobody"), "wrong password!!").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, body2);

    let (status, body) = login(owner.email.to_uppercase(), PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap();
    let (status, me) = app.get("/api/me", token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], owner.email);
}

#[tokio::test]
async fn the_session_cookie_authenticates_browsers_and_logout_clears_it() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let response = browser
        .post(format!("{}/api/auth/login", app.address))
        .json(&json!({"email": owner.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.starts_with("hakobu_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    // The app is reached over http in tests, so the cookie must not demand https.
    assert!(!cookie.contains("Secure"), "{cookie}");

    let me = browser
        .get(format!("{}/api/me", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let logout = browser
        .post(format!("{}/api/auth/logout", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let me = browser
        .get(format!("{}/api/me", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_forged_and_revoked_tokens_are_refused() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let claims_of = |token: &str| JwtKeys::new(JWT_SECRET).verify(token).unwrap();
    let claims = claims_of(&owner.token);

    let now = Utc::now();
    let expired = JwtKeys::new(JWT_SECRET)
        .issue(
            claims.sub,
            claims.org,
            claims.sid,
            now - Duration::hours(2),
            now - Duration::hours(1),
        )
        .unwrap();
    let forged = JwtKeys::new("someone else's secret, 32 chars long!")
        .issue(
            claims.sub,
            claims.org,
            claims.sid,
            now,
            now + Duration::hours(1),
        )
        .unwrap();
    for (what, token) in [
        ("expired", expired.as_str()),
        ("forged", forged.as_str()),
        ("garbage", "abc.def.ghi"),
    ] {
        let (status, body) = app.get("/api/me", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(body["error"], "unauthorized");
    }
    let (status, _) = app.call(Method::GET, "/api/me", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, _) = app.post("/api/auth/logout", &owner.token, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get("/api/me", &owner.token).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked session must not work"
    );
}

#[tokio::test]
async fn login_is_rate_limited_per_account() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    for _ in 0..5 {
        let (status, _) = app
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": owner.email, "password": "not the password"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password waits.
    let response = app
        .client
        .post(format!("{}/api/auth/login", app.address))
        .json(&json!({"email": owner.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "900");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited");
    // Another account from the same address is not locked out by this one.
    let other = app.signup("Beta").await;
    let (status, _) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": other.email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn login_is_rate_limited_per_address() {
    let app = spawn_app_with(SpawnOptions {
        login_limits: LoginLimits {
            max_failures_per_account: 100,
            max_failures_per_ip: 3,
            window: std::time::Duration::from_secs(900),
        },
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    for i in 0..3 {
        let (status, _) = app
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": format!("guess{i}@example.com"), "password": "whatever123"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": owner.email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("network address")
    );
}

#[tokio::test]
async fn a_forged_forwarded_for_does_not_escape_the_address_limit() {
    let app = spawn_app_with(SpawnOptions {
        login_limits: LoginLimits {
            max_failures_per_account: 100,
            max_failures_per_ip: 3,
            window: std::time::Duration::from_secs(900),
        },
        trust_proxy_headers: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    // The proxy appends the address it saw (198.51.100.7); the client forges a new
    // left-most hop on every attempt.
    let login = |forged: String, email: String, password: &'static str| {
        app.client
            .post(format!("{}/api/auth/login", app.address))
            .header("X-Forwarded-For", format!("{forged}, 198.51.100.7"))
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    for i in 0..3 {
        let response = login(
            format!("10.9.9.{i}"),
            format!("guess{i}@example.com"),
            "whatever123",
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = login("10.9.9.99".into(), owner.email.clone(), PASSWORD)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another address, as the proxy saw it, is not limited.
    let response = app
        .client
        .post(format!("{}/api/auth/login", app.address))
        .header("X-Forwarded-For", "10.9.9.1, 198.51.100.8")
        .json(&json!({"email": owner.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn password_change_revokes_other_sessions() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let (_, second) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": owner.email, "password": PASSWORD})),
        )
        .await;
    let second = second["token"].as_str().unwrap().to_owned();
    let (_, created) = app
        .post("/api/tokens", &owner.token, json!({"name": "script"}))
        .await;
    let api_token = created["token"].as_str().unwrap().to_owned();

    let (status, body) = app
        .post(
            "/api/me/password",
            &owner.token,
            json!({"current_password": "not it at all", "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "current_password");

    let (status, body) = app
        .post(
            "/api/me/password",
            &owner.token,
            json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        app.get("/api/me", &owner.token).await.0,
        StatusCode::OK,
        "the session that changed it stays"
    );
    assert_eq!(
        app.get("/api/me", &second).await.0,
        StatusCode::UNAUTHORIZED,
        "other sessions end"
    );
    assert_eq!(
        app.get("/api/me", &api_token).await.0,
        StatusCode::UNAUTHORIZED,
        "API tokens end"
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": owner.email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old password no longer works"
    );
    let (status, _) = app
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": owner.email, "password": "a brand new passphrase"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.audit_actions(&owner).await.last().unwrap(),
        "member.password_change"
    );
}
