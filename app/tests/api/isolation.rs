//! Another organization's user gets 404 for every endpoint that names a resource, and
//! never sees the other tenant's rows in a list.

use crate::helpers::{TestApp, TestUser, spawn_app};
use reqwest::StatusCode;
use serde_json::json;

/// Alice's organization with a team, a member, a pending invitation and an API token, and
/// Bob, the owner of another organization.
struct Acme {
    alice: TestUser,
    bob: TestUser,
    team: String,
    member: TestUser,
    invitation: String,
    token: String,
}

impl Acme {
    async fn seed(app: &TestApp) -> Acme {
        let alice = app.signup("Acme").await;
        let bob = app.signup("Beta").await;
        assert_ne!(alice.org_id, bob.org_id);
        let team = app.create_team(&alice, "Secret team").await;
        let member = app
            .add_member(
                &alice,
                "member",
                json!([{"team_id": team, "role": "editor"}]),
            )
            .await;
        let (_, invitation) = app
            .post(
                "/api/invitations",
                &alice.token,
                json!({"email": "pending@example.com"}),
            )
            .await;
        let (_, token) = app
            .post("/api/tokens", &alice.token, json!({"name": "alice's"}))
            .await;
        Acme {
            invitation: invitation["invitation"]["id"].as_str().unwrap().to_owned(),
            token: token["api_token"]["id"].as_str().unwrap().to_owned(),
            alice,
            bob,
            team,
            member,
        }
    }
}

#[tokio::test]
async fn another_organization_gets_404_everywhere() {
    let app = spawn_app().await;
    let Acme {
        alice,
        bob,
        team: a_team,
        member: a_member,
        invitation: a_invitation,
        token: a_token,
    } = Acme::seed(&app).await;
    let before = app.audit_actions(&alice).await;

    let m = &a_member.user_id;
    let attempts = [
        (
            "GET team",
            app.get(&format!("/api/teams/{a_team}"), &bob.token).await,
        ),
        (
            "PATCH team",
            app.patch(
                &format!("/api/teams/{a_team}"),
                &bob.token,
                json!({"name": "mine"}),
            )
            .await,
        ),
        (
            "DELETE team",
            app.delete(&format!("/api/teams/{a_team}"), &bob.token)
                .await,
        ),
        (
            "GET team members",
            app.get(&format!("/api/teams/{a_team}/members"), &bob.token)
                .await,
        ),
        (
            "PUT team member",
            app.put(
                &format!("/api/teams/{a_team}/members/{}", bob.user_id),
                &bob.token,
                json!({"role": "admin"}),
            )
            .await,
        ),
        (
            "DELETE team member",
            app.delete(&format!("/api/teams/{a_team}/members/{m}"), &bob.token)
                .await,
        ),
        // Bob administers his own team, but Alice's member is not his to add.
        (
            "PUT foreign user into own team",
            app.put(
                &format!("/api/teams/{}/members/{m}", bob.default_team),
                &bob.token,
                json!({"role": "viewer"}),
            )
            .await,
        ),
        (
            "PUT member role",
            app.put(
                &format!("/api/members/{m}/role"),
                &bob.token,
                json!({"org_role": "admin"}),
            )
            .await,
        ),
        (
            "DELETE member",
            app.delete(&format!("/api/members/{m}"), &bob.token).await,
        ),
        (
            "DELETE invitation",
            app.delete(&format!("/api/invitations/{a_invitation}"), &bob.token)
                .await,
        ),
        (
            "DELETE token",
            app.delete(&format!("/api/tokens/{a_token}"), &bob.token)
                .await,
        ),
    ];
    for (what, (status, body)) in attempts {
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
        assert_eq!(body["error"], "not_found", "{what}");
    }

    // Lists show only Bob's own organization.
    let (_, teams) = app.get("/api/teams", &bob.token).await;
    assert!(!teams.to_string().contains("Secret team"));
    let (_, members) = app.get("/api/members", &bob.token).await;
    assert_eq!(members.as_array().unwrap().len(), 1);
    let (_, invitations) = app.get("/api/invitations", &bob.token).await;
    assert_eq!(invitations, json!([]));
    let (_, tokens) = app.get("/api/tokens", &bob.token).await;
    assert_eq!(tokens, json!([]));
    let (_, audit) = app.get("/api/audit?per_page=500", &bob.token).await;
    assert!(!audit.to_string().contains(&alice.email));
    let (_, audit_filtered) = app
        .get(&format!("/api/audit?target_id={a_team}"), &bob.token)
        .await;
    assert_eq!(audit_filtered["total"], 0);
    let (_, org) = app.get("/api/organization", &bob.token).await;
    assert_eq!(org["name"], "Beta");

    // Nothing Bob tried changed Alice's organization.
    assert_eq!(app.audit_actions(&alice).await, before);
    assert_eq!(
        app.get(&format!("/api/teams/{a_team}"), &alice.token)
            .await
            .1["name"],
        "Secret team"
    );
}

/// Notification destinations, rules, a run's checks and deliveries, and the check preview
/// of another organization answer 404, and its lists never show them.
#[tokio::test]
async fn another_organization_gets_404_for_notifications_and_checks() {
    use crate::notifications::{destination, job, queue_run, rule};
    let app = spawn_app().await;
    let alice = app.signup("Acme").await;
    let bob = app.signup("Beta").await;
    let dest = destination(
        &app,
        &alice,
        "Alice's Slack",
        json!({"kind": "slack", "webhook_url": "https://hooks.slack.example/services/T/B/alice"}),
    )
    .await;
    let a_job = job(&app, &alice, "Alice's job").await;
    let a_rule = rule(
        &app,
        &alice,
        Some(&a_job),
        json!({"destination_id": dest, "event": "success"}),
    )
    .await;
    let a_default = rule(
        &app,
        &alice,
        None,
        json!({"destination_id": dest, "event": "failure"}),
    )
    .await;
    let a_run = queue_run(&app, &alice, &a_job).await;
    let (_, a_conn) = app.get("/api/connections", &alice.token).await;
    let a_conn = a_conn[0]["id"].as_str().unwrap().to_owned();
    let b_dest = destination(
        &app,
        &bob,
        "Bob's Slack",
        json!({"kind": "slack", "webhook_url": "https://hooks.slack.example/services/T/B/bob"}),
    )
    .await;
    let rule_body = json!({"destination_id": dest, "event": "success"});
    let attempts = [
        ("GET destination", app.get(&format!("/api/notification-destinations/{dest}"), &bob.token).await),
        ("PUT destination", app.put(&format!("/api/notification-destinations/{dest}"), &bob.token,
            json!({"name": "mine", "settings": {"kind": "slack"}})).await),
        ("DELETE destination", app.delete(&format!("/api/notification-destinations/{dest}"), &bob.token).await),
        ("test destination", app.post(&format!("/api/notification-destinations/{dest}/test"), &bob.token, json!({})).await),
        ("resend confirmation", app.post(&format!("/api/notification-destinations/{dest}/confirmation"), &bob.token, json!({})).await),
        ("GET job rules", app.get(&format!("/api/jobs/{a_job}/notification-rules"), &bob.token).await),
        ("POST job rule", app.post(&format!("/api/jobs/{a_job}/notification-rules"), &bob.token,
            json!({"destination_id": b_dest, "event": "success"})).await),
        ("PUT rule", app.put(&format!("/api/notification-rules/{a_rule}"), &bob.token, rule_body.clone()).await),
        ("DELETE rule", app.delete(&format!("/api/notification-rules/{a_rule}"), &bob.token).await),
        ("PUT default rule", app.put(&format!("/api/notification-rules/{a_default}"), &bob.token, rule_body.clone()).await),
        ("DELETE default rule", app.delete(&format!("/api/notification-rules/{a_default}"), &bob.token).await),
        ("GET run checks", app.get(&format!("/api/runs/{a_run}/checks"), &bob.token).await),
        ("GET run notifications", app.get(&format!("/api/runs/{a_run}/notifications"), &bob.token).await),
        ("check preview", app.post("/api/data-checks/preview", &bob.token,
            json!({"connection_id": a_conn, "sql": "SELECT 1", "operator": "=", "expected": "1"})).await),
    ];
    for (what, (status, body)) in attempts {
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
    }
    // Bob's own rule may not point at Alice's destination.
    let (status, body) = app
        .post(
            "/api/notification-rules",
            &bob.token,
            json!({"destination_id": dest, "event": "success"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "destination_id");
    let (_, list) = app.get("/api/notification-destinations", &bob.token).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Bob's Slack");
    let (_, defaults) = app.get("/api/notification-rules", &bob.token).await;
    assert!(defaults.as_array().unwrap().is_empty());
    // Alice's rows are untouched.
    let (_, rules) = app
        .get(
            &format!("/api/jobs/{a_job}/notification-rules"),
            &alice.token,
        )
        .await;
    assert_eq!(rules.as_array().unwrap().len(), 1);
}

/// Every endpoint the OpenAPI document lists with a resource in its path, called by another
/// organization's owner with the ids of real resources of the first organization, answers
/// 404. The list comes from the document, so an endpoint added later is covered without
/// anyone remembering to add it here; only the bodies some endpoints need to get past body
/// parsing are written out.
#[tokio::test]
async fn every_endpoint_naming_a_resource_answers_404_to_another_organization() {
    use crate::notifications::{destination, job, queue_run, rule};
    use reqwest::Method;
    let app = spawn_app().await;
    let Acme {
        alice,
        bob,
        team,
        member,
        invitation,
        token,
    } = Acme::seed(&app).await;
    let dest = destination(
        &app,
        &alice,
        "Alice's hook",
        json!({"kind": "webhook", "url": "https://ops.example/hook"}),
    )
    .await;
    let a_job = job(&app, &alice, "Alice's job").await;
    let a_rule = rule(
        &app,
        &alice,
        Some(&a_job),
        json!({"destination_id": dest, "event": "success"}),
    )
    .await;
    let a_run = queue_run(&app, &alice, &a_job).await;
    let (status, schedule) = app
        .post(
            &format!("/api/jobs/{a_job}/schedules"),
            &alice.token,
            json!({"settings": {"recurrence": {"kind": "daily", "time": "02:30"}, "timezone": "Asia/Tokyo"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{schedule}");
    let (_, job_view) = app.get(&format!("/api/jobs/{a_job}"), &alice.token).await;
    let connection = job_view["settings"]["source"]["connection_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A workflow and one of its runs (its tasks only wait: nothing else is needed).
    let flow_spec = |team: &str| json!({"name": "Nightly", "team_id": team, "spec": {"tasks": [{"name": "a", "action": {"type": "wait", "seconds": 1}}]}});
    let (status, flow) = app
        .post(
            "/api/workflows",
            &alice.token,
            flow_spec(&alice.default_team),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{flow}");
    let flow = flow["id"].as_str().unwrap().to_owned();
    let (status, flow_run) = app
        .post(
            &format!("/api/workflows/{flow}/runs"),
            &alice.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{flow_run}");
    let flow_run = flow_run["id"].as_str().unwrap().to_owned();
    let ids: Vec<(&str, String)> = vec![
        ("{workflow_id}", flow.clone()),
        ("{team_id}", team.clone()),
        ("{user_id}", member.user_id.clone()),
        ("{invitation_id}", invitation),
        ("{token_id}", token),
        ("{connection_id}", connection),
        ("{job_id}", a_job.clone()),
        ("{revision}", "1".to_owned()),
        ("{run_id}", a_run.clone()),
        ("{schedule_id}", schedule["id"].as_str().unwrap().to_owned()),
        ("{destination_id}", dest.clone()),
        ("{rule_id}", a_rule.clone()),
    ];
    // Bodies valid enough to reach the resource lookup; Bob's own ids where one is named.
    let body = |method: &str, path: &str| -> Option<serde_json::Value> {
        if method == "GET" || method == "DELETE" {
            return None;
        }
        Some(match (method, path) {
            ("PUT", "/api/members/{user_id}/role") => json!({"org_role": "admin"}),
            ("PATCH", "/api/teams/{team_id}") => json!({"name": "mine"}),
            ("PUT", "/api/teams/{team_id}/members/{user_id}") => json!({"role": "admin"}),
            ("PUT", "/api/connections/{connection_id}/shares")
            | ("PUT", "/api/jobs/{job_id}/shares") => json!({"shares": []}),
            ("PATCH", "/api/connections/{connection_id}") | ("PATCH", "/api/jobs/{job_id}") => {
                json!({"name": "mine"})
            }
            ("POST", "/api/connections/{connection_id}/preview") => {
                json!({"table": {"name": "src"}, "limit": 5})
            }
            ("POST", "/api/jobs/{job_id}/duplicate") => json!({"name": "mine"}),
            ("POST", "/api/connections/{connection_id}/ssh-host-key") => {
                json!({"fingerprint": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"})
            }
            ("POST", "/api/jobs/{job_id}/backfill") => {
                json!({"from": "2026-01-01T00:00:00", "to": "2026-01-02T00:00:00", "step": "day", "timezone": "UTC"})
            }
            ("POST", "/api/jobs/{job_id}/schedules")
            | ("POST", "/api/workflows/{workflow_id}/schedules")
            | ("PUT", "/api/schedules/{schedule_id}") => {
                json!({"settings": {"recurrence": {"kind": "daily", "time": "03:00"}, "timezone": "UTC"}})
            }
            ("PUT", "/api/notification-destinations/{destination_id}") => {
                json!({"name": "mine", "settings": {"kind": "webhook", "url": "https://b.example/hook"}})
            }
            ("PUT", "/api/workflows/{workflow_id}") => flow_spec(&bob.default_team),
            ("POST", "/api/jobs/{job_id}/notification-rules")
            | ("POST", "/api/workflows/{workflow_id}/notification-rules")
            | ("PUT", "/api/notification-rules/{rule_id}") => {
                json!({"destination_id": dest, "event": "success"})
            }
            _ => json!({}),
        })
    };
    let query = |path: &str| match path {
        "/api/connections/{connection_id}/columns" => "?schema=public&table=src",
        "/api/jobs/{job_id}/diff" => "?from=1&to=1",
        _ => "",
    };
    let before = app.audit_actions(&alice).await;

    let (_, document) = app.get("/api/openapi.json", &bob.token).await;
    let mut checked = 0;
    let mut leaks = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        // The runner's endpoints take run tokens, not users: `runs::run_tokens_are_bound_to_their_run`.
        if !path.contains('{') || path.starts_with("/api/runner/") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let mut concrete = format!("{path}{}", query(path));
            // A workflow run's id, not a job run's, where the path names one.
            if path.starts_with("/api/workflow-runs/") {
                concrete = concrete.replace("{run_id}", &flow_run);
            }
            for (param, id) in &ids {
                concrete = concrete.replace(param, id);
            }
            assert!(!concrete.contains('{'), "no id for {method} {path}");
            let (status, answer) = app
                .call(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    &concrete,
                    Some(&bob.token),
                    body(&method, path),
                )
                .await;
            checked += 1;
            if status != StatusCode::NOT_FOUND {
                leaks.push(format!("{method} {path}: {status} {answer}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "answered other than 404:\n{}",
        leaks.join("\n")
    );
    assert!(checked >= 50, "only {checked} endpoints checked");
    assert_eq!(
        app.audit_actions(&alice).await,
        before,
        "nothing of Alice's changed"
    );
}
