//! Files on the Hakobu server confined to the organization's own folder
//! (`<HAKOBU_LOCAL_FILES_ROOT>/<organization id>/`): every way a tenant names a path
//! (connection create, update and test; job save; Embulk import; a variable filled in at
//! run start; a link planted for the runner to follow) is refused when it leads outside,
//! by an absolute path, `..`, a symbolic link or another organization's id. Each test
//! signs up fresh organizations on an app with a files root of its own, and puts a
//! stand-in for the service's secrets (`service.env`) beside the organizations' folders.

use crate::helpers::{SpawnOptions, TestApp, TestUser, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::os::unix::fs::symlink;
use std::path::PathBuf;

const LEAVES: &str = "this path leaves your organization's files folder";

/// The stand-in for the service's own secrets, in the root beside the organizations'
/// folders (where the issue's `.env.local` was reachable from).
fn plant_service_secret(app: &TestApp) -> PathBuf {
    let root = app.files_root.clone().unwrap();
    std::fs::create_dir_all(&root).unwrap();
    let secret = root.join("service.env");
    std::fs::write(&secret, "HAKOBU_SECRET_KEY=k1:c2VjcmV0\n").unwrap();
    secret
}

fn csv_import(prefix: &str, db: &str) -> String {
    format!(
        "in: {{type: file, path_prefix: \"{prefix}\", parser: {{type: csv, columns: [{{name: line, type: string}}]}}}}\nout: {{type: postgresql, host: 127.0.0.1, user: postgres, database: {db}, table: stolen}}\n"
    )
}

async fn assert_nothing_created(app: &TestApp, user: &TestUser) {
    let (_, connections) = app.get("/api/connections", &user.token).await;
    assert_eq!(
        connections.as_array().map(Vec::len),
        Some(0),
        "{connections}"
    );
    let (_, jobs) = app.get("/api/jobs", &user.token).await;
    assert_eq!(jobs.as_array().map(Vec::len), Some(0), "{jobs}");
}

/// The one field error of a 422, as (field, code, message).
fn field_error(status: StatusCode, body: &Value) -> (String, String, String) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = &body["fields"][0];
    (
        error["field"].as_str().unwrap_or_default().to_owned(),
        error["code"].as_str().unwrap_or_default().to_owned(),
        error["message"].as_str().unwrap_or_default().to_owned(),
    )
}

/// The issue: an Embulk import whose `path_prefix` names the service's own files. An
/// absolute path, a `..` escape, a link planted in the organization's folder (to a file
/// or to a directory outside) are each refused at `config.in.path_prefix`, and nothing is
/// created.
#[tokio::test]
async fn an_import_cannot_read_the_services_own_files() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let secret = plant_service_secret(&app);
    let folder = app.files_folder(&owner);
    symlink(&secret, folder.join("innocent.csv")).unwrap();
    symlink(app.files_root.as_ref().unwrap(), folder.join("up")).unwrap();
    let own_files = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let attempts = [
        (own_files.to_owned(), "path_absolute"),
        (secret.display().to_string(), "path_absolute"),
        ("../service.env".to_owned(), "path_leaves_folder"),
        ("exports/../../service.env".to_owned(), "path_leaves_folder"),
        ("innocent.csv".to_owned(), "path_leaves_folder"),
        ("up/service.env".to_owned(), "path_leaves_folder"),
    ];
    for (prefix, code) in attempts {
        let (status, body) = app
            .post(
                "/api/jobs/import",
                &owner.token,
                json!({"team_id": owner.default_team, "name": "Steal", "config": csv_import(&prefix, &app.db_name)}),
            )
            .await;
        let (field, got, message) = field_error(status, &body);
        assert_eq!(field, "config.in.path_prefix", "{prefix}: {body}");
        assert_eq!(got, code, "{prefix}: {body}");
        if code == "path_leaves_folder" {
            assert_eq!(message, LEAVES, "{prefix}");
        }
        let root = app.files_root.as_ref().unwrap().display().to_string();
        assert!(!body.to_string().contains(&root), "no server path: {body}");
    }
    // Writing is held to the same rule: an output over the service's files.
    let config = format!(
        "in: {{type: postgresql, host: 127.0.0.1, user: postgres, database: {}, table: t}}\nout: {{type: file, path_prefix: \"../service\", file_ext: env, formatter: {{type: jsonl}}}}\n",
        app.db_name
    );
    let (status, body) = app
        .post(
            "/api/jobs/import",
            &owner.token,
            json!({"team_id": owner.default_team, "name": "Overwrite", "config": config}),
        )
        .await;
    let (field, code, _) = field_error(status, &body);
    assert_eq!(
        (field.as_str(), code.as_str()),
        ("config.out.path_prefix", "path_leaves_folder"),
        "{body}"
    );
    assert_nothing_created(&app, &owner).await;
}

/// A connection's directory is relative to the organization's folder: an absolute path,
/// `..`, and a link out are refused with the field named, on create, on update (which
/// leaves the connection as it was) and on a test; a directory inside is accepted and
/// tested where it really is.
#[tokio::test]
async fn connections_cannot_point_outside_the_folder() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let team = owner.default_team.clone();
    plant_service_secret(&app);
    let folder = app.files_folder(&owner);
    symlink(app.files_root.as_ref().unwrap(), folder.join("up")).unwrap();
    let outside = [
        ("/etc", "path_absolute"),
        ("../", "path_leaves_folder"),
        ("exports/../..", "path_leaves_folder"),
        ("up", "path_leaves_folder"),
        ("up/deeper", "path_leaves_folder"),
    ];
    for (directory, code) in outside {
        let (status, body) = app
            .post("/api/connections", &owner.token, json!({"name": "Files", "kind": "local_files", "team_id": team, "settings": {"directory": directory}}))
            .await;
        let (field, got, _) = field_error(status, &body);
        assert_eq!(
            (field.as_str(), got.as_str()),
            ("settings.directory", code),
            "{directory}: {body}"
        );
        let (status, body) = app
            .post(
                "/api/connections/test",
                &owner.token,
                json!({"kind": "local_files", "settings": {"directory": directory}}),
            )
            .await;
        let (field, got, _) = field_error(status, &body);
        assert_eq!(
            (field.as_str(), got.as_str()),
            ("settings.directory", code),
            "test {directory}: {body}"
        );
    }
    assert_nothing_created(&app, &owner).await;

    let id = app
        .create_connection(
            &owner,
            &team,
            "Files",
            "local_files",
            json!({"directory": "exports"}),
        )
        .await;
    for (directory, code) in outside {
        let (status, body) = app
            .patch(
                &format!("/api/connections/{id}"),
                &owner.token,
                json!({"settings": {"directory": directory}}),
            )
            .await;
        let (field, got, _) = field_error(status, &body);
        assert_eq!(
            (field.as_str(), got.as_str()),
            ("settings.directory", code),
            "update {directory}: {body}"
        );
    }
    let (_, saved) = app
        .get(&format!("/api/connections/{id}"), &owner.token)
        .await;
    assert_eq!(saved["settings"]["directory"], "exports", "{saved}");

    // The test looks in the organization's folder, and says the name as written.
    let (_, missing) = app
        .post(
            &format!("/api/connections/{id}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(missing["ok"], false, "{missing}");
    assert!(
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exports"),
        "{missing}"
    );
    assert!(
        !missing.to_string().contains(&folder.display().to_string()),
        "{missing}"
    );
    std::fs::create_dir_all(folder.join("exports")).unwrap();
    let (_, ok) = app
        .post(
            &format!("/api/connections/{id}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(ok["ok"], true, "{ok}");
}

/// Organization A cannot reach organization B's folder: not by `../<B's id>` in a
/// connection, a job or an import, and not through a link in its own folder.
#[tokio::test]
async fn one_organization_cannot_reach_anothers_folder() {
    let app = spawn_app().await;
    let alice = app.signup("Acme").await;
    let bob = app.signup("Beta").await;
    std::fs::write(app.files_folder(&bob).join("secret.csv"), "bob's\n").unwrap();
    let theirs = format!("../{}", bob.org_id);

    let (status, body) = app
        .post("/api/connections", &alice.token, json!({"name": "Theirs", "kind": "local_files", "team_id": alice.default_team, "settings": {"directory": theirs}}))
        .await;
    assert_eq!(field_error(status, &body).0, "settings.directory");
    let (status, body) = app
        .post(
            "/api/jobs/import",
            &alice.token,
            json!({"team_id": alice.default_team, "name": "Theirs", "config": csv_import(&format!("{theirs}/secret.csv"), &app.db_name)}),
        )
        .await;
    assert_eq!(
        field_error(status, &body),
        (
            "config.in.path_prefix".to_owned(),
            "path_leaves_folder".to_owned(),
            LEAVES.to_owned()
        )
    );
    assert_nothing_created(&app, &alice).await;

    symlink(
        app.files_folder(&bob),
        app.files_folder(&alice).join("neighbour"),
    )
    .unwrap();
    let (status, body) = app
        .post("/api/connections", &alice.token, json!({"name": "Theirs", "kind": "local_files", "team_id": alice.default_team, "settings": {"directory": "neighbour"}}))
        .await;
    assert_eq!(field_error(status, &body).0, "settings.directory");

    // A job on Alice's own folder whose prefix goes next door.
    let files = app
        .create_connection(
            &alice,
            &alice.default_team,
            "Files",
            "local_files",
            json!({"directory": "."}),
        )
        .await;
    let pg = app.pg_connection(&alice).await;
    let columns = json!([{"name": "line", "type": "string"}]);
    for prefix in [format!("{theirs}/secret"), "neighbour/secret".to_owned()] {
        let (status, body) = app
            .post("/api/jobs", &alice.token, json!({"name": "Theirs", "team_id": alice.default_team, "settings": {
                "source": {"connection_id": files, "files": {"path_prefix": prefix, "columns": columns}},
                "destination": {"connection_id": pg, "table": {"name": "stolen"}}}}))
            .await;
        let (field, code, _) = field_error(status, &body);
        assert_eq!(
            field, "settings.source.files.path_prefix",
            "{prefix}: {body}"
        );
        assert_eq!(code, "path_leaves_folder", "{prefix}: {body}");
    }
    let (_, jobs) = app.get("/api/jobs", &alice.token).await;
    assert_eq!(jobs.as_array().map(Vec::len), Some(0), "{jobs}");
}

/// A job reading `<folder>/$folder$/day_` into PostgreSQL: the prefix is checked when the
/// job is saved, but a variable can only be judged once filled in.
async fn files_job(app: &TestApp, owner: &TestUser) -> String {
    let files = app
        .create_connection(
            owner,
            &owner.default_team,
            "Files",
            "local_files",
            json!({"directory": "."}),
        )
        .await;
    let pg = app.pg_connection(owner).await;
    let (status, body) = app
        .post("/api/jobs", &owner.token, json!({"name": "Daily files", "team_id": owner.default_team, "settings": {
            "source": {"connection_id": files, "files": {"path_prefix": "$folder$/day_", "header_line": false, "columns": [{"name": "line", "type": "string"}]}},
            "destination": {"connection_id": pg, "table": {"name": "loaded"}},
            "variables": [{"name": "folder", "value": {"kind": "string", "value": "in"}}]}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn run(app: &TestApp, owner: &TestUser, job: &str, body: Value) -> Value {
    let (status, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    app.wait_for_run_end(&owner.token, run["id"].as_str().unwrap())
        .await
}

async fn loaded(app: &TestApp) -> Vec<String> {
    app.query_strings("SELECT line FROM loaded ORDER BY line")
        .await
        .into_iter()
        .map(|row| row[0].clone().unwrap_or_default())
        .collect()
}

/// A run reads the organization's folder (the runner is given it with its assignment); a
/// variable whose value leads outside fails the run at its start with the reason, and
/// nothing is read.
#[tokio::test]
async fn a_variable_that_leads_outside_the_folder_fails_the_run_and_reads_nothing() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    plant_service_secret(&app);
    // What the escape would read: `<folder>/../day_...` is beside the folders.
    let root = app.files_root.clone().unwrap();
    std::fs::write(root.join("day_stolen.csv"), "stolen\n").unwrap();
    let folder = app.files_folder(&owner);
    std::fs::create_dir_all(folder.join("in")).unwrap();
    std::fs::write(folder.join("in/day_1.csv"), "mine\n").unwrap();
    // A link out, which only the check on the disk at run start can see.
    symlink(&root, folder.join("up")).unwrap();
    let job = files_job(&app, &owner).await;

    let done = run(&app, &owner, &job, json!({})).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(loaded(&app).await, ["mine"]);

    for value in ["..", "../..", "in/../..", "up"] {
        let done = run(&app, &owner, &job, json!({"variables": {"folder": value}})).await;
        assert_eq!(done["status"], "failed", "{value}: {done}");
        let reason = done["error_summary"].as_str().unwrap();
        assert!(
            reason.contains("source.files.path_prefix"),
            "{value}: {reason}"
        );
        assert!(reason.contains(LEAVES), "{value}: {reason}");
        assert!(
            !reason.contains(&root.display().to_string()),
            "{value}: {reason}"
        );
        assert_eq!(done["rows_read"], 0, "{value}: {done}");
    }
    assert_eq!(
        loaded(&app).await,
        ["mine"],
        "nothing was read from outside"
    );
}

/// A link planted in the folder after the job was saved, among the files its prefix
/// matches: the runner refuses it before reading anything, and the run fails saying which.
#[tokio::test]
async fn a_link_planted_for_the_runner_fails_the_run() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let secret = plant_service_secret(&app);
    let folder = app.files_folder(&owner);
    std::fs::create_dir_all(folder.join("in")).unwrap();
    std::fs::write(folder.join("in/day_1.csv"), "mine\n").unwrap();
    let job = files_job(&app, &owner).await;
    symlink(&secret, folder.join("in/day_2.csv")).unwrap();

    let done = run(&app, &owner, &job, json!({})).await;
    assert_eq!(done["status"], "failed", "{done}");
    let reason = done["error_summary"].as_str().unwrap();
    assert!(
        reason.contains(&format!("in/day_2.csv: {LEAVES}")),
        "{reason}"
    );
    assert!(
        !reason.contains(&app.files_root.as_ref().unwrap().display().to_string()),
        "{reason}"
    );
    let table = app
        .query_strings("SELECT to_regclass('loaded')::text")
        .await;
    assert_eq!(table[0][0], None, "the destination was never written");
}

/// With `HAKOBU_LOCAL_FILES_ROOT` unset, the kind is not offered and cannot be created,
/// tested or imported; the refusal names the kind.
#[tokio::test]
async fn local_files_need_the_operators_root() {
    let app = spawn_app_with(SpawnOptions {
        local_files: false,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let (_, kinds) = app.get("/api/connection-kinds", &owner.token).await;
    let local = kinds
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "local_files")
        .unwrap();
    assert_eq!(local["available"], false, "{kinds}");
    assert!(
        kinds
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["kind"] != "local_files")
            .all(|k| k["available"] == true),
        "{kinds}"
    );

    let (status, body) = app
        .post("/api/connections", &owner.token, json!({"name": "Files", "kind": "local_files", "team_id": owner.default_team, "settings": {"directory": "exports"}}))
        .await;
    let (field, code, message) = field_error(status, &body);
    assert_eq!(
        (field.as_str(), code.as_str()),
        ("kind", "local_files_off"),
        "{body}"
    );
    assert!(
        message.starts_with("local_files connections are turned off"),
        "{message}"
    );
    let (status, body) = app
        .post(
            "/api/connections/test",
            &owner.token,
            json!({"kind": "local_files", "settings": {"directory": "exports"}}),
        )
        .await;
    assert_eq!(field_error(status, &body).1, "local_files_off");
    let (status, body) = app
        .post(
            "/api/jobs/import",
            &owner.token,
            json!({"team_id": owner.default_team, "name": "Files", "config": csv_import("exports/day_", &app.db_name)}),
        )
        .await;
    let (field, code, _) = field_error(status, &body);
    assert_eq!(
        (field.as_str(), code.as_str()),
        ("config.in", "local_files_off"),
        "{body}"
    );
    assert_nothing_created(&app, &owner).await;
}
