use crate::helpers::spawn_app;
use reqwest::{Method, StatusCode};
use std::collections::BTreeSet;

#[tokio::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    let (status, body) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");

    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(crate::helpers::METRICS_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("hakobu_http_requests_total"), "{metrics}");
    assert!(metrics.contains("endpoint=\"/readyz\""), "{metrics}");
}

#[tokio::test]
async fn readiness_fails_when_a_migration_is_missing() {
    let app = spawn_app().await;
    let url = format!("{}/{}", crate::helpers::server_url(), app.db_name);
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute("DELETE FROM __diesel_schema_migrations")
        .await
        .unwrap();
    let (status, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("migrations are not applied"),
        "{body}"
    );
}

/// Every route the app answers is in the OpenAPI document, and nothing else is.
#[tokio::test]
async fn openapi_lists_every_endpoint() {
    let app = spawn_app().await;
    let (status, doc) = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    let expected: BTreeSet<String> = [
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /api/openapi.json",
        "POST /api/auth/signup",
        "POST /api/auth/login",
        "POST /api/auth/logout",
        "GET /api/me",
        "POST /api/me/password",
        "GET /api/invitations/lookup",
        "POST /api/invitations/accept",
        "GET /api/organization",
        "PATCH /api/organization",
        "GET /api/members",
        "PUT /api/members/{user_id}/role",
        "DELETE /api/members/{user_id}",
        "POST /api/invitations",
        "GET /api/invitations",
        "DELETE /api/invitations/{invitation_id}",
        "GET /api/teams",
        "POST /api/teams",
        "GET /api/teams/{team_id}",
        "PATCH /api/teams/{team_id}",
        "DELETE /api/teams/{team_id}",
        "GET /api/teams/{team_id}/members",
        "PUT /api/teams/{team_id}/members/{user_id}",
        "DELETE /api/teams/{team_id}/members/{user_id}",
        "GET /api/tokens",
        "POST /api/tokens",
        "DELETE /api/tokens/{token_id}",
        "GET /api/audit",
        "GET /api/audit.csv",
        "GET /api/connection-kinds",
        "POST /api/connections/test",
        "GET /api/connections",
        "POST /api/connections",
        "GET /api/connections/{connection_id}",
        "PATCH /api/connections/{connection_id}",
        "DELETE /api/connections/{connection_id}",
        "PUT /api/connections/{connection_id}/shares",
        "POST /api/connections/{connection_id}/test",
        "GET /api/connections/{connection_id}/schemas",
        "GET /api/connections/{connection_id}/tables",
        "GET /api/connections/{connection_id}/columns",
        "POST /api/connections/{connection_id}/preview",
        "GET /api/jobs",
        "POST /api/jobs",
        "POST /api/jobs/import",
        "GET /api/jobs/{job_id}",
        "PATCH /api/jobs/{job_id}",
        "DELETE /api/jobs/{job_id}",
        "POST /api/jobs/{job_id}/duplicate",
        "PUT /api/jobs/{job_id}/shares",
        "GET /api/jobs/{job_id}/revisions",
        "GET /api/jobs/{job_id}/revisions/{revision}",
        "GET /api/jobs/{job_id}/diff",
        "GET /api/jobs/{job_id}/config",
        "GET /api/jobs/{job_id}/export",
        "POST /api/jobs/{job_id}/runs",
        "POST /api/jobs/{job_id}/backfill",
        "GET /api/jobs/{job_id}/schedules",
        "POST /api/jobs/{job_id}/schedules",
        "GET /api/schedules",
        "POST /api/schedules/bulk",
        "PUT /api/schedules/{schedule_id}",
        "DELETE /api/schedules/{schedule_id}",
        "GET /api/runs",
        "GET /api/runs/{run_id}",
        "GET /api/runs/{run_id}/logs",
        "GET /api/runs/{run_id}/events",
        "GET /api/runs/{run_id}/config",
        "POST /api/runs/{run_id}/cancel",
        "POST /api/runs/{run_id}/rerun",
        "GET /api/runner/runs/{run_id}/assignment",
        "POST /api/runner/runs/{run_id}/heartbeat",
        "POST /api/runner/runs/{run_id}/logs",
        "POST /api/runner/runs/{run_id}/committed",
        "POST /api/runner/runs/{run_id}/result",
        "GET /api/runner/runs/{run_id}/checks",
        "POST /api/runner/runs/{run_id}/checks",
        "GET /api/runs/{run_id}/checks",
        "GET /api/runs/{run_id}/notifications",
        "POST /api/data-checks/preview",
        "GET /api/notification-destinations",
        "POST /api/notification-destinations",
        "GET /api/notification-destinations/confirm",
        "POST /api/notification-destinations/confirm",
        "GET /api/notification-destinations/{destination_id}",
        "PUT /api/notification-destinations/{destination_id}",
        "DELETE /api/notification-destinations/{destination_id}",
        "POST /api/notification-destinations/{destination_id}/test",
        "POST /api/notification-destinations/{destination_id}/confirmation",
        "GET /api/jobs/{job_id}/notification-rules",
        "POST /api/jobs/{job_id}/notification-rules",
        "GET /api/notification-rules",
        "POST /api/notification-rules",
        "PUT /api/notification-rules/{rule_id}",
        "DELETE /api/notification-rules/{rule_id}",
        "POST /api/auth/password-reset",
        "POST /api/auth/password-reset/confirm",
        "GET /api/queue",
        "PUT /api/organization/concurrency",
        "POST /api/connections/{connection_id}/ssh-host-key",
        "GET /api/insights",
        "GET /api/usage.csv",
        "GET /api/export",
        "POST /api/apply",
        "GET /api/connections/{connection_id}/files",
        "POST /api/connections/{connection_id}/guess",
        "GET /api/workflows",
        "POST /api/workflows",
        "GET /api/workflows/{workflow_id}",
        "PUT /api/workflows/{workflow_id}",
        "DELETE /api/workflows/{workflow_id}",
        "GET /api/workflows/{workflow_id}/runs",
        "POST /api/workflows/{workflow_id}/runs",
        "GET /api/workflows/{workflow_id}/schedules",
        "POST /api/workflows/{workflow_id}/schedules",
        "GET /api/workflows/{workflow_id}/notification-rules",
        "POST /api/workflows/{workflow_id}/notification-rules",
        "GET /api/workflow-runs/{run_id}",
        "POST /api/workflow-runs/{run_id}/cancel",
        "POST /api/workflow-runs/{run_id}/resume",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    assert_eq!(documented, expected);

    // And each documented endpoint really exists: none answers the router's 404.
    for entry in &documented {
        let (method, path) = entry.split_once(' ').unwrap();
        let concrete = path
            .replace("{user_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{team_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{invitation_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{token_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{connection_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{job_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{revision}", "1")
            .replace("{destination_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{rule_id}", &uuid::Uuid::new_v4().to_string())
            .replace("{run_id}", &uuid::Uuid::new_v4().to_string());
        let (status, body) = app
            .call(method.parse().unwrap(), &concrete, None, None)
            .await;
        let unrouted = status == StatusCode::NOT_FOUND
            && body["message"]
                .as_str()
                .is_some_and(|m| m.contains("No such"));
        assert!(
            !unrouted && status != StatusCode::METHOD_NOT_ALLOWED,
            "{entry} is not routed: {status} {body}"
        );
    }
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s() {
    let app = spawn_app().await;
    let (status, body) = app.call(Method::GET, "/api/nothing-here", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    let (status, _) = app.call(Method::GET, "/", None, None).await;
    assert_eq!(status, StatusCode::OK);
}
