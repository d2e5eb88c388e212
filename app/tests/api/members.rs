use crate::helpers::{PASSWORD, invite_token, spawn_app, unique_email};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn an_invitation_creates_a_member_with_its_team_roles() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let analysts = app.create_team(&owner, "Analysts").await;
    let email = unique_email("ana");
    let (status, created) = app
        .post(
            "/api/invitations",
            &owner.token,
            json!({"email": email, "teams": [{"team_id": analysts, "role": "operator"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(
        created["invite_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:8080/invite/")
    );
    let token = invite_token(&created);

    let (status, pending) = app.get("/api/invitations", &owner.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert!(
        !pending.to_string().contains(&token),
        "the link is never listed again"
    );

    let (status, preview) = app
        .call(
            Method::GET,
            &format!("/api/invitations/lookup?token={token}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(preview["organization_name"], "Acme");
    assert_eq!(preview["email"], email);

    let accept = json!({"token": token, "name": "Ana", "password": PASSWORD});
    let (status, session) = app
        .call(
            Method::POST,
            "/api/invitations/accept",
            None,
            Some(accept.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{session}");
    assert_eq!(session["me"]["org_role"], "member");
    assert_eq!(
        session["me"]["teams"],
        json!([{"team_id": analysts, "name": "Analysts", "role": "operator"}])
    );

    // Single use.
    let (status, body) = app
        .call(Method::POST, "/api/invitations/accept", None, Some(accept))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("not valid any more")
    );

    let (_, members) = app.get("/api/members", &owner.token).await;
    assert_eq!(members.as_array().unwrap().len(), 2);
    let actions = app.audit_actions(&owner).await;
    assert!(
        actions.ends_with(&[
            "invitation.create".to_owned(),
            "invitation.accept".to_owned()
        ]),
        "{actions:?}"
    );
}

#[tokio::test]
async fn withdrawn_and_replaced_invitations_stop_working() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let email = unique_email("bo");
    let (_, first) = app
        .post("/api/invitations", &owner.token, json!({"email": email}))
        .await;
    let (_, second) = app
        .post("/api/invitations", &owner.token, json!({"email": email}))
        .await;
    let accept = |token: String| json!({"token": token, "name": "Bo", "password": PASSWORD});
    let (status, _) = app
        .call(
            Method::POST,
            "/api/invitations/accept",
            None,
            Some(accept(invite_token(&first))),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a newer invitation replaces the older"
    );

    let id = second["invitation"]["id"].as_str().unwrap();
    let (status, _) = app
        .delete(&format!("/api/invitations/{id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/invitations/accept",
            None,
            Some(accept(invite_token(&second))),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .delete(&format!("/api/invitations/{id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "already withdrawn");
}

#[tokio::test]
async fn inviting_an_existing_account_or_a_foreign_team_is_refused() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let other = app.signup("Beta").await;
    let (status, body) = app
        .post(
            "/api/invitations",
            &owner.token,
            json!({"email": other.email}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["field"], "email");
    let (status, body) = app
        .post("/api/invitations", &owner.token, json!({"email": unique_email("x"), "teams": [{"team_id": other.default_team, "role": "viewer"}]}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "teams[0].team_id");
}

#[tokio::test]
async fn roles_change_and_the_last_owner_stays() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let member = app.add_member(&owner, "member", json!([])).await;
    let (status, body) = app
        .put(
            &format!("/api/members/{}/role", member.user_id),
            &owner.token,
            json!({"org_role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["org_role"], "admin");
    // The new admin may not make themselves owner, nor demote the owner.
    let (status, _) = app
        .put(
            &format!("/api/members/{}/role", member.user_id),
            &member.token,
            json!({"org_role": "owner"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .put(
            &format!("/api/members/{}/role", owner.user_id),
            &member.token,
            json!({"org_role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .delete(&format!("/api/members/{}", owner.user_id), &member.token)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The only owner cannot step down.
    let (status, body) = app
        .put(
            &format!("/api/members/{}/role", owner.user_id),
            &owner.token,
            json!({"org_role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().unwrap().contains("only owner"));

    let actions = app.audit_actions(&owner).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "member.role_change")
            .count(),
        1,
        "{actions:?}"
    );
}

#[tokio::test]
async fn removing_a_member_ends_their_access() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let member = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": owner.default_team, "role": "editor"}]),
        )
        .await;
    assert_eq!(app.get("/api/me", &member.token).await.0, StatusCode::OK);
    let (status, _) = app
        .delete(&format!("/api/members/{}", member.user_id), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/me", &member.token).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (_, members) = app
        .get(
            &format!("/api/teams/{}/members", owner.default_team),
            &owner.token,
        )
        .await;
    assert_eq!(members.as_array().unwrap().len(), 1);
    assert_eq!(
        app.audit_actions(&owner).await.last().unwrap(),
        "member.remove"
    );
}
