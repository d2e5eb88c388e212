//! A member without the role gets 403 for actions on things they can see.

use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_viewer_cannot_take_admin_actions() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let viewer = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": owner.default_team, "role": "viewer"}]),
        )
        .await;
    let team = &owner.default_team;
    let before = app.audit_actions(&owner).await;

    let attempts = [
        app.post(
            "/api/invitations",
            &viewer.token,
            json!({"email": "z@example.com"}),
        )
        .await,
        app.get("/api/invitations", &viewer.token).await,
        app.post("/api/teams", &viewer.token, json!({"name": "Mine"}))
            .await,
        app.patch(
            &format!("/api/teams/{team}"),
            &viewer.token,
            json!({"name": "Renamed"}),
        )
        .await,
        app.delete(&format!("/api/teams/{team}"), &viewer.token)
            .await,
        app.put(
            &format!("/api/teams/{team}/members/{}", viewer.user_id),
            &viewer.token,
            json!({"role": "admin"}),
        )
        .await,
        app.delete(
            &format!("/api/teams/{team}/members/{}", owner.user_id),
            &viewer.token,
        )
        .await,
        app.put(
            &format!("/api/members/{}/role", viewer.user_id),
            &viewer.token,
            json!({"org_role": "admin"}),
        )
        .await,
        app.delete(&format!("/api/members/{}", owner.user_id), &viewer.token)
            .await,
        app.get("/api/audit", &viewer.token).await,
        app.get("/api/audit.csv", &viewer.token).await,
        app.patch(
            "/api/organization",
            &viewer.token,
            json!({"name": "Mine now"}),
        )
        .await,
    ];
    for (i, (status, body)) in attempts.iter().enumerate() {
        assert_eq!(*status, StatusCode::FORBIDDEN, "attempt {i}: {body}");
        assert_eq!(body["error"], "forbidden");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("Your role does not allow you to"),
            "{body}"
        );
    }
    // What a viewer may do.
    assert_eq!(
        app.get(&format!("/api/teams/{team}"), &viewer.token)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/teams/{team}/members"), &viewer.token)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/members", &viewer.token).await.0,
        StatusCode::OK
    );
    // No failed attempt left an audit row.
    assert_eq!(app.audit_actions(&owner).await, before);
}

#[tokio::test]
async fn a_team_admin_manages_their_team_only() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let sales = app.create_team(&owner, "Sales").await;
    let lead = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": sales, "role": "admin"}]),
        )
        .await;
    let colleague = app.add_member(&owner, "member", json!([])).await;

    let (status, body) = app
        .patch(
            &format!("/api/teams/{sales}"),
            &lead.token,
            json!({"name": "Sales EMEA"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = app
        .put(
            &format!("/api/teams/{sales}/members/{}", colleague.user_id),
            &lead.token,
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .delete(&format!("/api/teams/{sales}"), &lead.token)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "deleting teams is for organization admins"
    );
    // The Default team is not theirs: not even visible.
    let (status, _) = app
        .get(&format!("/api/teams/{}", owner.default_team), &lead.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, teams) = app.get("/api/teams", &lead.token).await;
    let names: Vec<&str> = teams
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Sales EMEA"]);
}
