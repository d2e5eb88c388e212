use crate::helpers::{PASSWORD, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::json;

fn signup_body() -> serde_json::Value {
    json!({"organization_name": "Acme", "name": "Ana", "email": "ana@example.com", "password": PASSWORD})
}

#[tokio::test]
async fn malformed_json_is_a_400_in_plain_words() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/api/auth/signup", app.address))
        .header("content-type", "application/json")
        .body("{\"organization_name\": \"Acme\",")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "bad_request");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("The request body is not valid JSON"),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_without_json_content_type_is_refused() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(format!("{}/api/auth/signup", app.address))
        .body(signup_body().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Content-Type: application/json")
    );
}

#[tokio::test]
async fn unknown_fields_and_wrong_types_name_the_field() {
    let app = spawn_app().await;
    let mut body = signup_body();
    body["organisation"] = json!("typo");
    let (status, answer) = app
        .call(Method::POST, "/api/auth/signup", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["field"], "organisation", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("unknown field"),
        "{answer}"
    );

    let mut body = signup_body();
    body["email"] = json!(42);
    let (status, answer) = app
        .call(Method::POST, "/api/auth/signup", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["field"], "email", "{answer}");
    assert!(
        !answer["message"].as_str().unwrap().contains("line"),
        "no parser positions: {answer}"
    );

    let owner = app.signup("Acme").await;
    let (status, answer) = app
        .post("/api/invitations", &owner.token, json!({"email": "x@example.com", "teams": [{"team_id": owner.default_team, "role": "boss"}]}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["field"], "teams[0].role", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains("viewer"),
        "lists the expected values: {answer}"
    );
}

#[tokio::test]
async fn validation_errors_are_422_with_every_field() {
    let app = spawn_app().await;
    let (status, body) = app
        .call(
            Method::POST,
            "/api/auth/signup",
            None,
            Some(json!({"organization_name": "x".repeat(101), "name": "", "email": "not-an-email", "password": "short"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "validation");
    assert_eq!(body["field"], "organization_name");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["organization_name", "name", "email", "password"]);
    let messages: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages[0], "must be at most 100 characters");
    assert_eq!(
        messages[2],
        "must be an email address such as name@example.com"
    );
    assert_eq!(messages[3], "must be at least 10 characters long");
}

#[tokio::test]
async fn bad_query_strings_and_ids_are_not_500s() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let (status, body) = app.get("/api/audit?from=yesterday", &owner.token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "bad_request");
    let (status, body) = app.get("/api/audit?per_page=100000", &owner.token).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "per_page");
    let (status, body) = app.get("/api/teams/not-a-uuid", &owner.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let mut body = signup_body();
    body["name"] = json!("x".repeat(2 * 1024 * 1024));
    let (status, answer) = app
        .call(Method::POST, "/api/auth/signup", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        answer["message"].as_str().unwrap().contains("larger than"),
        "{answer}"
    );
}
