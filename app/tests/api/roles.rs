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

/// Who may do what with notifications and data checks: organization admins manage
/// destinations and defaults; a job's editors manage its rules and preview checks;
/// viewers read.
#[tokio::test]
async fn notification_and_check_permissions_follow_the_roles() {
    use crate::notifications::{destination, job, queue_run};
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let team = owner.default_team.clone();
    let dest = destination(
        &app,
        &owner,
        "Slack",
        json!({"kind": "slack", "webhook_url": "https://hooks.slack.example/services/T/B/x"}),
    )
    .await;
    let a_job = job(&app, &owner, "Orders").await;
    let run = queue_run(&app, &owner, &a_job).await;
    let (_, conns) = app.get("/api/connections", &owner.token).await;
    let conn = conns[0]["id"].as_str().unwrap().to_owned();
    let org_admin = app.add_member(&owner, "admin", json!([])).await;
    let mut people = vec![("owner", owner.clone()), ("org admin", org_admin)];
    for role in ["admin", "editor", "operator", "viewer"] {
        let m = app
            .add_member(&owner, "member", json!([{"team_id": team, "role": role}]))
            .await;
        people.push((role, m));
    }
    use StatusCode as S;
    // (what, expected for owner, org admin, team admin, editor, operator, viewer)
    type Expect = [StatusCode; 6];
    let admins_only: Expect = [
        S::CREATED,
        S::CREATED,
        S::FORBIDDEN,
        S::FORBIDDEN,
        S::FORBIDDEN,
        S::FORBIDDEN,
    ];
    let editors: Expect = [
        S::CREATED,
        S::CREATED,
        S::CREATED,
        S::CREATED,
        S::FORBIDDEN,
        S::FORBIDDEN,
    ];
    let everyone: Expect = [S::OK; 6];
    let preview: Expect = [S::OK, S::OK, S::OK, S::OK, S::FORBIDDEN, S::FORBIDDEN];
    for (i, (who, user)) in people.iter().enumerate() {
        let t = &user.token;
        let checks = [
            (
                "create destination",
                admins_only[i],
                app.post("/api/notification-destinations", t,
                    json!({"name": format!("d{i}"), "settings": {"kind": "webhook", "url": "https://x.example/h"}})).await.0,
            ),
            (
                "create default rule",
                admins_only[i],
                app.post("/api/notification-rules", t, json!({"destination_id": dest, "event": "failure"})).await.0,
            ),
            (
                "create job rule",
                editors[i],
                app.post(&format!("/api/jobs/{a_job}/notification-rules"), t,
                    json!({"destination_id": dest, "event": "success"})).await.0,
            ),
            ("list destinations", everyone[i], app.get("/api/notification-destinations", t).await.0),
            ("list defaults", everyone[i], app.get("/api/notification-rules", t).await.0),
            ("list job rules", everyone[i], app.get(&format!("/api/jobs/{a_job}/notification-rules"), t).await.0),
            ("run checks", everyone[i], app.get(&format!("/api/runs/{run}/checks"), t).await.0),
            ("run notifications", everyone[i], app.get(&format!("/api/runs/{run}/notifications"), t).await.0),
            (
                "preview check",
                preview[i],
                app.post("/api/data-checks/preview", t,
                    json!({"connection_id": conn, "sql": "SELECT 1", "operator": "=", "expected": "1"})).await.0,
            ),
        ];
        for (what, expected, got) in checks {
            assert_eq!(got, expected, "{who}: {what}");
        }
    }
}
