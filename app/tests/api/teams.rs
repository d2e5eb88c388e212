use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn team_lifecycle_is_audited() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let member = app.add_member(&owner, "member", json!([])).await;
    let team = app.create_team(&owner, "Data").await;

    let (status, body) = app
        .post("/api/teams", &owner.token, json!({"name": "  data "}))
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "names are unique regardless of case: {body}"
    );
    assert_eq!(body["field"], "name");

    let (status, _) = app
        .put(
            &format!("/api/teams/{team}/members/{}", member.user_id),
            &owner.token,
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .put(
            &format!("/api/teams/{team}/members/{}", member.user_id),
            &owner.token,
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, members) = app
        .get(&format!("/api/teams/{team}/members"), &owner.token)
        .await;
    assert_eq!(members[0]["role"], "editor");
    let (_, one) = app.get(&format!("/api/teams/{team}"), &owner.token).await;
    assert_eq!(one["member_count"], 1);

    let (status, _) = app
        .patch(
            &format!("/api/teams/{team}"),
            &owner.token,
            json!({"name": "Data Eng"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .delete(
            &format!("/api/teams/{team}/members/{}", member.user_id),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app
        .delete(
            &format!("/api/teams/{team}/members/{}", member.user_id),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .delete(&format!("/api/teams/{team}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/teams/{team}"), &owner.token).await.0,
        StatusCode::NOT_FOUND
    );

    let actions = app.audit_actions(&owner).await;
    let tail: Vec<&str> = actions
        .iter()
        .rev()
        .take(6)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            "team.create",
            "team.member_add",
            "team.member_role_change",
            "team.rename",
            "team.member_remove",
            "team.delete"
        ]
    );

    let (_, page) = app
        .get(
            &format!("/api/audit?action=team.rename&target_id={team}"),
            &owner.token,
        )
        .await;
    assert_eq!(page["total"], 1);
    let details = &page["items"][0]["details"];
    assert_eq!(details["before"]["name"], "Data");
    assert_eq!(details["after"]["name"], "Data Eng");
    assert_eq!(page["items"][0]["actor_email"], owner.email);
    assert_eq!(page["items"][0]["ip"], "127.0.0.1");
}
