//! Config as code: `GET /api/export` and `POST /api/apply` (docs/config-as-code.md).

use crate::helpers::{TestApp, TestUser, spawn_app};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const PG_PASSWORD: &str = "pg-Secret-value-4711";
const SLACK_URL: &str = "https://hooks.slack.com/services/T000/B000/slackSecret0815";
const HEADER_TOKEN: &str = "Bearer header-Secret-value-42";

/// Every secret value this file uses: none may appear in an export or a plan.
const SECRET_VALUES: [&str; 3] = [PG_PASSWORD, "slackSecret0815", "header-Secret-value-42"];

fn assert_no_secret(text: &str) {
    for secret in SECRET_VALUES {
        assert!(!text.contains(secret), "a secret value leaked: {text}");
    }
}

/// An organization with a team with a member, a connection shared with that team, a
/// Slack and a webhook destination, and a job with a check, a schedule, a rule and a
/// share. Answers the owner and the member.
async fn populate(app: &TestApp, name: &str) -> (TestUser, TestUser) {
    let owner = app.signup(name).await;
    let team = app.create_team(&owner, "Analytics").await;
    let member = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": team, "role": "editor"}]),
        )
        .await;
    app.sql("CREATE TABLE IF NOT EXISTS src (id int); CREATE TABLE IF NOT EXISTS dst (id int)")
        .await;
    let mut settings = app.pg_settings();
    settings["password"] = json!(PG_PASSWORD);
    let pg = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Warehouse",
            "postgresql",
            settings,
        )
        .await;
    let (status, body) = app
        .put(
            &format!("/api/connections/{pg}/shares"),
            &owner.token,
            json!({"shares": [{"team_id": team, "role": "operator"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, slack) = app
        .post(
            "/api/notification-destinations",
            &owner.token,
            json!({"name": "Ops channel", "settings": {"kind": "slack", "webhook_url": SLACK_URL}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{slack}");
    let (status, body) = app
        .post(
            "/api/notification-destinations",
            &owner.token,
            json!({"name": "Hook", "settings": {"kind": "webhook", "url": "https://example.com/hook", "headers": [
                {"name": "Authorization", "value": HEADER_TOKEN, "secret": true},
                {"name": "X-Team", "value": "data", "secret": false}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, job) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Nightly orders", "description": "orders to dst", "labels": ["nightly"],
                   "team_id": owner.default_team, "settings": {
                "source": {"connection_id": pg, "table": {"name": "src"}},
                "destination": {"connection_id": pg, "table": {"name": "dst"}, "mode": "insert"},
                "retry": {"count": 3, "backoff_seconds": 60},
                "overlap": "queue",
                "checks": [{"name": "rows arrived", "connection_id": pg, "sql": "SELECT count(*) FROM dst", "operator": ">=", "expected": "0"}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let job = job["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/jobs/{job}/schedules"),
            &owner.token,
            json!({"settings": {"recurrence": {"kind": "cron", "expression": "0 2 * * *"}, "timezone": "Asia/Tokyo"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/jobs/{job}/notification-rules"),
            &owner.token,
            json!({"destination_id": slack["id"], "event": "failure"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .put(
            &format!("/api/jobs/{job}/shares"),
            &owner.token,
            json!({"shares": [{"team_id": team, "role": "viewer"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (owner, member)
}

async fn export(app: &TestApp, user: &TestUser) -> BTreeMap<String, String> {
    let (status, body) = app.get("/api/export", &user.token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_value(body["files"].clone()).unwrap()
}

fn secrets() -> Value {
    json!({
        "CONNECTION_WAREHOUSE_PASSWORD": PG_PASSWORD,
        "DESTINATION_OPS_CHANNEL_WEBHOOK_URL": SLACK_URL,
        "DESTINATION_HOOK_HEADER_AUTHORIZATION": HEADER_TOKEN,
    })
}

async fn apply(
    app: &TestApp,
    user: &TestUser,
    files: &BTreeMap<String, String>,
    extra: Value,
) -> (StatusCode, Value) {
    let mut body = json!({"files": files});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.post("/api/apply", &user.token, body).await
}

fn actions(plan: &Value) -> Vec<(String, String, String)> {
    plan["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["name"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn fields(body: &Value) -> Vec<String> {
    body["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn export_then_apply_on_an_empty_organization_then_export_gives_the_same_files() {
    let app = spawn_app().await;
    let (owner_a, member_a) = populate(&app, "Exporter").await;
    let files = export(&app, &owner_a).await;
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        [
            "connections/warehouse.yml",
            "destinations/hook.yml",
            "destinations/ops-channel.yml",
            "jobs/nightly-orders.yml",
            "teams/analytics.yml",
            "teams/default.yml"
        ]
    );
    for text in files.values() {
        assert_no_secret(text);
    }
    let job = &files["jobs/nightly-orders.yml"];
    for expected in [
        "connection: Warehouse",
        "destination: Ops channel",
        "expression: 0 2 * * *",
        "count: 3",
        "overlap: queue",
        "team: Analytics",
        "rows arrived",
    ] {
        assert!(job.contains(expected), "{expected} missing from {job}");
    }
    assert!(
        files["connections/warehouse.yml"]
            .contains("password: ${secret:CONNECTION_WAREHOUSE_PASSWORD}"),
        "{}",
        files["connections/warehouse.yml"]
    );
    assert!(
        files["teams/analytics.yml"].contains(&member_a.email),
        "{}",
        files["teams/analytics.yml"]
    );

    // Another organization, empty but for its owner's default team. Its people are its
    // own: the files name them instead of the first organization's.
    let owner_b = app.signup("Importer").await;
    let member_b = app.add_member(&owner_b, "member", json!([])).await;
    let files_b: BTreeMap<String, String> = files
        .iter()
        .map(|(path, text)| {
            (
                path.clone(),
                text.replace(&owner_a.email, &owner_b.email)
                    .replace(&member_a.email, &member_b.email),
            )
        })
        .collect();
    let empty = export(&app, &owner_b).await;

    // A dry run answers the plan and changes nothing.
    let (status, plan) = apply(
        &app,
        &owner_b,
        &files_b,
        json!({"secrets": secrets(), "dry_run": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["applied"], false);
    assert_no_secret(&plan.to_string());
    assert_eq!(
        actions(&plan),
        [
            ("team", "Analytics", "create"),
            ("team", "Default", "unchanged"),
            ("destination", "Hook", "create"),
            ("destination", "Ops channel", "create"),
            ("connection", "Warehouse", "create"),
            ("job", "Nightly orders", "create"),
        ]
        .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    );
    assert_eq!(export(&app, &owner_b).await, empty);

    let (status, plan) = apply(&app, &owner_b, &files_b, json!({"secrets": secrets()})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["applied"], true);
    assert_no_secret(&plan.to_string());
    let again = export(&app, &owner_b).await;
    for (path, text) in &files_b {
        assert_eq!(again.get(path), Some(text), "{path} differs");
    }
    assert_eq!(again, files_b);

    // The secrets arrived: the connection's password is the one given, encrypted.
    let stored = app
        .query_strings(&format!(
            "SELECT secrets::text FROM connections WHERE organization_id = \
             (SELECT organization_id FROM users WHERE email = '{}')",
            owner_b.email
        ))
        .await;
    assert_eq!(stored.len(), 1);
    assert!(stored[0][0].as_deref().unwrap().contains("password"));
    assert_no_secret(stored[0][0].as_deref().unwrap());

    // Applying the same files again changes nothing, secrets given or not.
    for extra in [json!({"secrets": secrets()}), json!({})] {
        let (status, plan) = apply(&app, &owner_b, &files_b, extra).await;
        assert_eq!(status, StatusCode::OK, "{plan}");
        assert_eq!(plan["applied"], false, "{plan}");
        assert!(
            actions(&plan).iter().all(|(_, _, a)| a == "unchanged"),
            "{plan}"
        );
    }
    let audit = app.audit_actions(&owner_b).await;
    assert_eq!(
        audit.iter().filter(|a| *a == "config.apply").count(),
        1,
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_change_shows_as_a_diff_a_dry_run_changes_nothing_and_prune_deletes() {
    let app = spawn_app().await;
    let (owner, _) = populate(&app, "Changer").await;
    let files = export(&app, &owner).await;
    let mut changed = files.clone();
    let job = changed.get_mut("jobs/nightly-orders.yml").unwrap();
    *job = job.replace(
        "description: orders to dst",
        "description: all orders to dst",
    );
    // A new password for the connection: the plan says the secret changes, never how.
    let new_password = json!({"CONNECTION_WAREHOUSE_PASSWORD": "another-Secret-1234"});

    let (status, plan) = apply(
        &app,
        &owner,
        &changed,
        json!({"dry_run": true, "secrets": new_password}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert!(!plan.to_string().contains("another-Secret-1234"), "{plan}");
    let entries = plan["entries"].as_array().unwrap();
    let job_entry = entries.iter().find(|e| e["kind"] == "job").unwrap();
    assert_eq!(job_entry["action"], "change", "{plan}");
    assert_eq!(
        job_entry["changes"],
        json!([{"path": "description", "before": "orders to dst", "after": "all orders to dst"}])
    );
    let connection = entries.iter().find(|e| e["kind"] == "connection").unwrap();
    assert_eq!(connection["action"], "change", "{plan}");
    assert_eq!(connection["changes"][0]["path"], "settings.password");
    assert_eq!(
        export(&app, &owner).await,
        files,
        "a dry run changed something"
    );

    let (status, plan) = apply(&app, &owner, &changed, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["applied"], true);
    let (_, jobs) = app.get("/api/jobs", &owner.token).await;
    assert_eq!(jobs[0]["description"], "all orders to dst");
    assert_eq!(jobs[0]["revision"], 2, "the change is a new revision");
    assert_eq!(export(&app, &owner).await, changed);

    // Without prune, an object missing from the files stays; with prune, it goes.
    let mut fewer = changed.clone();
    fewer.remove("destinations/hook.yml");
    let (status, plan) = apply(&app, &owner, &fewer, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert!(
        actions(&plan).iter().all(|(_, _, a)| a == "unchanged"),
        "{plan}"
    );
    let (status, plan) = apply(&app, &owner, &fewer, json!({"prune": true})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert!(
        actions(&plan).contains(&("destination".into(), "Hook".into(), "delete".into())),
        "{plan}"
    );
    assert_eq!(export(&app, &owner).await, fewer);
}

#[tokio::test]
async fn only_organization_admins_export_and_apply() {
    let app = spawn_app().await;
    let (owner, member) = populate(&app, "Guarded").await;
    let (status, body) = app.get("/api/export", &member.token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let files = export(&app, &owner).await;
    let (status, body) = apply(&app, &member, &files, json!({"dry_run": true})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}

#[tokio::test]
async fn another_organizations_names_cannot_be_referenced() {
    let app = spawn_app().await;
    let (other, _) = populate(&app, "Other").await;
    let other_files = export(&app, &other).await;
    let owner = app.signup("Mine").await;
    // The other organization's job, without its connection, team and destination.
    let mut files = BTreeMap::new();
    files.insert(
        "jobs/nightly-orders.yml".to_owned(),
        other_files["jobs/nightly-orders.yml"].clone(),
    );
    let (status, body) = apply(&app, &owner, &files, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let found = fields(&body);
    for expected in [
        "jobs/nightly-orders.yml: settings.source.connection",
        "jobs/nightly-orders.yml: settings.destination.connection",
        "jobs/nightly-orders.yml: settings.checks[0].connection",
        "jobs/nightly-orders.yml: notification_rules[0].destination",
        "jobs/nightly-orders.yml: shares[0].team",
    ] {
        assert!(
            found.contains(&expected.to_owned()),
            "{expected} not in {body}"
        );
    }
    // Nothing was made, and the other organization's objects are untouched.
    assert_eq!(export(&app, &owner).await.len(), 1);
    assert_eq!(export(&app, &other).await, other_files);
}

#[tokio::test]
async fn a_secret_without_a_value_or_written_in_a_file_is_a_field_error() {
    let app = spawn_app().await;
    let (other, _) = populate(&app, "Source").await;
    let other_files = export(&app, &other).await;
    let owner = app.signup("Target").await;
    let mut files = BTreeMap::new();
    // Its share names a team this organization lacks; left out for this test.
    let text = other_files["connections/warehouse.yml"]
        .split("shares:")
        .next()
        .unwrap()
        .to_owned()
        + "shares: []\nteam: Default\n";
    files.insert("connections/warehouse.yml".to_owned(), text.clone());
    let (status, body) = apply(&app, &owner, &files, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        fields(&body),
        ["connections/warehouse.yml: settings.password"],
        "{body}"
    );
    assert!(
        body.to_string().contains("CONNECTION_WAREHOUSE_PASSWORD"),
        "{body}"
    );

    // A value written into the file is refused, and not echoed back.
    files.insert(
        "connections/warehouse.yml".to_owned(),
        text.replace("${secret:CONNECTION_WAREHOUSE_PASSWORD}", PG_PASSWORD),
    );
    let (status, body) = apply(&app, &owner, &files, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        fields(&body),
        ["connections/warehouse.yml: settings.password"],
        "{body}"
    );
    assert_no_secret(&body.to_string());

    // With the value, it is created.
    files.insert("connections/warehouse.yml".to_owned(), text);
    let (status, body) = apply(&app, &owner, &files, json!({"secrets": secrets()})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["applied"], true);
}

/// The `hakobu export` / `hakobu apply` client against a running server: files on disk,
/// secrets from `HAKOBU_SECRET_*` variables.
#[tokio::test]
async fn the_command_line_exports_to_a_folder_and_applies_it() {
    let app = spawn_app().await;
    let (owner, _) = populate(&app, "Cli").await;
    let dir = std::env::temp_dir().join(format!("hakobu-cac-{}", uuid::Uuid::new_v4()));
    // A file of an object the server no longer has is removed by the export.
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    std::fs::write(dir.join("jobs/gone.yml"), "name: Gone\n").unwrap();
    let written = hakobu::cli::export_to_dir(&app.address, &owner.token, &dir)
        .await
        .unwrap();
    assert_eq!(written, 6);
    assert!(!dir.join("jobs/gone.yml").exists());
    let on_disk = hakobu::cli::read_config_dir(&dir).unwrap();
    assert_eq!(on_disk, export(&app, &owner).await);

    // Secrets come from HAKOBU_SECRET_<NAME>; only the names the files reference.
    let env = |name: &str| match name {
        "HAKOBU_SECRET_CONNECTION_WAREHOUSE_PASSWORD" => Some("changed-Secret-77".to_owned()),
        "HAKOBU_SECRET_UNRELATED" => Some("never sent".to_owned()),
        _ => None,
    };
    let secrets = hakobu::cli::secrets_for(&on_disk, env);
    assert_eq!(
        secrets.keys().collect::<Vec<_>>(),
        ["CONNECTION_WAREHOUSE_PASSWORD"]
    );
    let plan = hakobu::cli::apply_dir(&app.address, &owner.token, &dir, true, false, env)
        .await
        .unwrap();
    assert!(!plan.applied);
    let text = plan.to_text();
    assert_eq!(
        text,
        "~ change connection \"Warehouse\" (connections/warehouse.yml)\n    \
         settings.password: \"(secret)\" -> \"(new secret)\"\n5 unchanged\n"
    );

    // A non-admin's token: the error names the refusal.
    let member = app.add_member(&owner, "member", json!([])).await;
    let refused = hakobu::cli::apply_dir(&app.address, &member.token, &dir, true, false, env)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("403"), "{refused}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A workflow of `owner` running the job "Nightly orders", then notifying "Ops channel",
/// then waiting a minute, with a schedule and a rule; answers its id.
async fn add_workflow(app: &TestApp, owner: &TestUser) -> String {
    let (_, jobs) = app.get("/api/jobs", &owner.token).await;
    let job = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "Nightly orders")
        .expect("the job")["id"]
        .clone();
    let (_, destinations) = app
        .get("/api/notification-destinations", &owner.token)
        .await;
    let slack = destinations
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["name"] == "Ops channel")
        .expect("the destination")["id"]
        .clone();
    let (status, workflow) = app
        .post(
            "/api/workflows",
            &owner.token,
            json!({"name": "Morning load", "description": "orders, then tell", "team_id": owner.default_team,
                   "spec": {"parallelism": 2, "overlap": "skip",
                            "variables": [{"name": "region", "value": {"kind": "string", "value": "apac"}}],
                            "tasks": [
                {"name": "load", "action": {"type": "job", "job_id": job}, "retries": 2},
                {"name": "tell", "action": {"type": "notify", "destination_id": slack, "message": "loaded"},
                 "after": ["load"], "run_if": "always"},
                {"name": "pause", "action": {"type": "wait", "seconds": 60}, "after": ["tell"]}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{workflow}");
    let id = workflow["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .post(
            &format!("/api/workflows/{id}/schedules"),
            &owner.token,
            json!({"settings": {"recurrence": {"kind": "daily", "time": "06:00"}, "timezone": "Asia/Tokyo"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/workflows/{id}/notification-rules"),
            &owner.token,
            json!({"destination_id": slack, "event": "success"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    id
}

const WORKFLOW_FILE: &str = "workflows/morning-load.yml";

#[tokio::test]
async fn workflow_export_names_its_jobs_and_applies_to_another_organization_as_it_was() {
    let app = spawn_app().await;
    let (owner_a, member_a) = populate(&app, "Flows").await;
    let workflow_a = add_workflow(&app, &owner_a).await;
    let files = export(&app, &owner_a).await;
    let text = &files[WORKFLOW_FILE];
    for expected in [
        "name: Morning load",
        "team: Default",
        "job: Nightly orders",
        "destination: Ops channel",
        "overlap: skip",
        "parallelism: 2",
        "region",
        "time: 06:00",
        "event: success",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
    // Objects by name only: no id of this organization is in the file.
    assert!(
        !text.contains("job_id") && !text.contains("destination_id"),
        "{text}"
    );
    let (_, jobs) = app.get("/api/jobs", &owner_a.token).await;
    assert!(!text.contains(jobs[0]["id"].as_str().unwrap()), "{text}");

    // Another organization: the job the workflow runs is created by the same apply.
    let owner_b = app.signup("Flows copy").await;
    let member_b = app.add_member(&owner_b, "member", json!([])).await;
    let files_b: BTreeMap<String, String> = files
        .iter()
        .map(|(path, text)| {
            (
                path.clone(),
                text.replace(&owner_a.email, &owner_b.email)
                    .replace(&member_a.email, &member_b.email),
            )
        })
        .collect();
    let (status, plan) = apply(&app, &owner_b, &files_b, json!({"secrets": secrets()})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert!(
        actions(&plan).contains(&(
            "workflow".to_owned(),
            "Morning load".to_owned(),
            "create".to_owned()
        )),
        "{plan}"
    );
    assert_eq!(export(&app, &owner_b).await, files_b);
    // The same workflow, running organization B's own job.
    let (_, listed) = app.get("/api/workflows", &owner_b.token).await;
    let (_, jobs_b) = app.get("/api/jobs", &owner_b.token).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let (_, original) = app
        .get(&format!("/api/workflows/{workflow_a}"), &owner_a.token)
        .await;
    let mut copy = listed[0]["spec"].clone();
    assert_eq!(copy["tasks"][0]["action"]["job_id"], jobs_b[0]["id"]);
    let mut expected = original["spec"].clone();
    for spec in [&mut copy, &mut expected] {
        spec["tasks"][0]["action"]["job_id"] = json!("job");
        spec["tasks"][1]["action"]["destination_id"] = json!("destination");
    }
    assert_eq!(copy, expected);
    let id_b = listed[0]["id"].as_str().unwrap();
    let (_, schedules) = app
        .get(&format!("/api/workflows/{id_b}/schedules"), &owner_b.token)
        .await;
    assert_eq!(schedules.as_array().unwrap().len(), 1, "{schedules}");
    let (_, rules) = app
        .get(
            &format!("/api/workflows/{id_b}/notification-rules"),
            &owner_b.token,
        )
        .await;
    assert_eq!(rules.as_array().unwrap().len(), 1, "{rules}");
    // Again: nothing to do.
    let (status, plan) = apply(&app, &owner_b, &files_b, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["applied"], false, "{plan}");
}

#[tokio::test]
async fn workflow_plan_shows_a_changed_task_and_an_unknown_job_names_its_field() {
    let app = spawn_app().await;
    let (owner, _) = populate(&app, "Flow changes").await;
    let id = add_workflow(&app, &owner).await;
    let files = export(&app, &owner).await;
    let mut changed = files.clone();
    let text = changed.get_mut(WORKFLOW_FILE).unwrap();
    assert!(text.contains("seconds: 60"), "{text}");
    *text = text.replace("seconds: 60", "seconds: 90");
    let (status, plan) = apply(&app, &owner, &changed, json!({"dry_run": true})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let entry = plan["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "workflow")
        .expect("the workflow in the plan")
        .clone();
    assert_eq!(entry["action"], "change", "{plan}");
    assert_eq!(
        entry["changes"],
        json!([{"path": "spec.tasks[pause].action.seconds", "before": 60, "after": 90}]),
        "{plan}"
    );
    let (_, stored) = app.get(&format!("/api/workflows/{id}"), &owner.token).await;
    assert_eq!(stored["spec"]["tasks"][2]["action"]["seconds"], 60);
    let (status, plan) = apply(&app, &owner, &changed, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    let (_, stored) = app.get(&format!("/api/workflows/{id}"), &owner.token).await;
    assert_eq!(stored["spec"]["tasks"][2]["action"]["seconds"], 90);
    assert!(
        app.audit_actions(&owner)
            .await
            .contains(&"workflow.update".to_owned())
    );

    // A job no one has.
    let mut unknown = files.clone();
    let text = unknown.get_mut(WORKFLOW_FILE).unwrap();
    *text = text.replace("job: Nightly orders", "job: Weekly orders");
    let (status, body) = apply(&app, &owner, &unknown, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        fields(&body),
        ["workflows/morning-load.yml: spec.tasks[0].action.job"],
        "{body}"
    );
    assert!(body.to_string().contains("Weekly orders"), "{body}");
    // An id instead of a name is refused too.
    let mut with_id = files.clone();
    let (_, jobs) = app.get("/api/jobs", &owner.token).await;
    let text = with_id.get_mut(WORKFLOW_FILE).unwrap();
    *text = text.replace(
        "job: Nightly orders",
        &format!("job_id: {}", jobs[0]["id"].as_str().unwrap()),
    );
    let (status, body) = apply(&app, &owner, &with_id, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        fields(&body),
        ["workflows/morning-load.yml: spec.tasks[0].action.job"],
        "{body}"
    );
    let (_, stored) = app.get(&format!("/api/workflows/{id}"), &owner.token).await;
    assert_eq!(stored["spec"]["tasks"][2]["action"]["seconds"], 90);

    // Pruning the job the workflow runs is refused while the workflow stays.
    // (The job file names another job, so jobs are present and the old one is pruned.)
    let mut without_job = changed.clone();
    without_job.remove(WORKFLOW_FILE);
    let job = without_job.get_mut("jobs/nightly-orders.yml").unwrap();
    assert!(job.contains("name: Nightly orders\n"), "{job}");
    *job = job.replace("name: Nightly orders\n", "name: Nightly orders v2\n");
    let (status, body) = apply(&app, &owner, &without_job, json!({"prune": true})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(fields(&body), ["jobs/nightly-orders.yml"], "{body}");
    assert!(body.to_string().contains("Morning load"), "{body}");
}

#[tokio::test]
async fn workflow_cannot_name_another_organizations_job_or_destination() {
    let app = spawn_app().await;
    let (other, _) = populate(&app, "Flow owner").await;
    add_workflow(&app, &other).await;
    let other_files = export(&app, &other).await;
    let owner = app.signup("Flow thief").await;
    let mut files = BTreeMap::new();
    files.insert(WORKFLOW_FILE.to_owned(), other_files[WORKFLOW_FILE].clone());
    let (status, body) = apply(&app, &owner, &files, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let found = fields(&body);
    for expected in [
        "workflows/morning-load.yml: spec.tasks[0].action.job",
        "workflows/morning-load.yml: spec.tasks[1].action.destination",
        "workflows/morning-load.yml: notification_rules[0].destination",
    ] {
        assert!(
            found.contains(&expected.to_owned()),
            "{expected} not in {body}"
        );
    }
    let (_, listed) = app.get("/api/workflows", &owner.token).await;
    assert_eq!(listed, json!([]));
    // The other organization's objects are untouched.
    assert_eq!(export(&app, &other).await, other_files);
}
