use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn audit_log_filters_pages_and_exports_csv() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    for name in ["A", "B", "C"] {
        app.create_team(&owner, name).await;
    }
    // Failed changes leave no trace.
    let (status, _) = app
        .post("/api/teams", &owner.token, json!({"name": "a"}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .post("/api/teams", &owner.token, json!({"name": ""}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, page) = app
        .get("/api/audit?action=team&per_page=2&page=1", &owner.token)
        .await;
    assert_eq!(page["total"], 4, "Default + A, B, C: {page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["details"]["name"], "C", "newest first");
    let (_, page2) = app
        .get("/api/audit?action=team&per_page=2&page=2", &owner.token)
        .await;
    assert_eq!(page2["items"][1]["details"]["name"], "Default");

    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (_, none) = app
        .get(
            &format!("/api/audit?from={}", urlencode(&future)),
            &owner.token,
        )
        .await;
    assert_eq!(none["total"], 0);
    let (_, by_actor) = app
        .get(&format!("/api/audit?actor={}", owner.user_id), &owner.token)
        .await;
    assert_eq!(by_actor["total"], 6);

    let response = app
        .client
        .get(format!("{}/api/audit.csv?action=team.create", app.address))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "time",
            "actor_email",
            "actor_user_id",
            "action",
            "target_type",
            "target_id",
            "details",
            "ip"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 4);
    assert!(
        rows.iter()
            .all(|r| &r[3] == "team.create" && r[1] == owner.email)
    );
    assert!(
        csv.contains("\"{\"\"name\"\":\"\"C\"\"}\""),
        "details are quoted JSON: {csv}"
    );
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn no_secret_reaches_the_audit_log() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let (_, created) = app
        .post(
            "/api/invitations",
            &owner.token,
            json!({"email": "new@example.com"}),
        )
        .await;
    let invite = crate::helpers::invite_token(&created);
    let (_, tokens) = app
        .post("/api/tokens", &owner.token, json!({"name": "ci"}))
        .await;
    let (_, log) = app.get("/api/audit?per_page=500", &owner.token).await;
    let text = log.to_string();
    for secret in [
        invite.as_str(),
        tokens["token"].as_str().unwrap(),
        crate::helpers::PASSWORD,
        "argon2",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into {text}");
    }
}
