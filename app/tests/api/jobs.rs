use crate::helpers::{SpawnOptions, TestApp, TestUser, spawn_app, spawn_app_with};
use hakobu_core::config::Config;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn source_table(app: &TestApp) {
    app.sql(
        "CREATE TABLE src_orders (id bigint PRIMARY KEY, customer text, email text, amount numeric(12,2), paid boolean);
         INSERT INTO src_orders VALUES (1, 'Ana', 'ana@example.com', 10.50, true), (2, 'Bo \"quoted\"', 'bo@example.com', 20.00, false),
                                       (3, 'ちえ', 'chie@example.com', 30.25, true);",
    )
    .await;
}

async fn pg_job(app: &TestApp, owner: &TestUser, conn: &str, mode: &str) -> Value {
    let (status, job) = app
        .post("/api/jobs", &owner.token, json!({
            "name": format!("Orders {mode}"), "team_id": owner.default_team, "labels": ["nightly", "sales"],
            "settings": {
                "source": {"connection_id": conn, "table": {"name": "src_orders"}, "filter": "paid"},
                "destination": {"connection_id": conn, "table": {"name": format!("dst_orders_{mode}")}, "mode": mode},
                "columns": [{"action": "rename", "column": "customer", "to": "customer_name"}],
                "masks": [{"column": "email", "method": "sha256"}],
            }
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    job
}

/// The YAML of `/config` parses with the runner's parser and, with its secret references
/// filled in, runs against the real database.
#[tokio::test]
async fn compiled_config_parses_and_runs() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    source_table(&app).await;
    let conn = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Warehouse",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    for mode in [
        "insert",
        "insert_direct",
        "truncate_insert",
        "replace",
        "merge",
        "merge_direct",
    ] {
        if mode.starts_with("merge") {
            app.sql(&format!("CREATE TABLE dst_orders_{mode} (id bigint PRIMARY KEY, customer_name text, email text, amount numeric(12,2), paid boolean)")).await;
        }
        let job = pg_job(&app, &owner, &conn, mode).await;
        let id = job["id"].as_str().unwrap();
        let response = app
            .client
            .get(format!("{}/api/jobs/{id}/config", app.address))
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let yaml = response.text().await.unwrap();
        let config = Config::from_yaml(&yaml).unwrap_or_else(|e| panic!("{mode}: {e}\n{yaml}"));
        assert!(yaml.contains(&format!("mode: {mode}")), "{yaml}");
        let summary = hakobu_engine::run_config(&config, &hakobu_engine::FileAccess::Off, |_| {})
            .await
            .unwrap_or_else(|e| panic!("{mode}: {e:#}"));
        assert_eq!(summary.rows_written, 2, "{mode}");
        let rows = app
            .query_strings(&format!(
                "SELECT id, customer_name, amount, length(email) FROM dst_orders_{mode} ORDER BY id"
            ))
            .await;
        assert_eq!(rows.len(), 2, "{mode}");
        assert_eq!(rows[1][1].as_deref(), Some("ちえ"));
        assert_eq!(
            rows[1][2].as_deref(),
            Some("30.25"),
            "exact numerics survive"
        );
        assert_eq!(
            rows[0][3].as_deref(),
            Some("64"),
            "emails are masked as SHA-256 hex"
        );
    }
}

#[tokio::test]
async fn secrets_in_shown_and_exported_yaml_are_references() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let maria = app
        .create_connection(&owner, &owner.default_team, "Shop", "mysql",
            json!({"host": "127.0.0.1", "database": "test", "user": "root", "password": "hunter2-secret", "tls_mode": "disable"}))
        .await;
    let pg = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Warehouse",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let (status, job) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Shop orders", "team_id": owner.default_team, "settings": {
            "source": {"connection_id": maria, "query": "SELECT 1 AS one"},
            "destination": {"connection_id": pg, "table": {"name": "one"}, "mode": "replace"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().unwrap();
    for path in ["config", "export"] {
        let text = app
            .client
            .get(format!("{}/api/jobs/{id}/{path}", app.address))
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains("{{ env.SOURCE_PASSWORD }}"), "{path}: {text}");
        assert!(!text.contains("hunter2"), "{path} leaks the secret");
    }
}

#[tokio::test]
async fn invalid_job_settings_name_the_field() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let other = app.signup("Beta").await;
    let conn = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Warehouse",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let foreign = app
        .create_connection(
            &other,
            &other.default_team,
            "Theirs",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let create = |settings: Value| {
        let app = &app;
        let token = owner.token.clone();
        let team = owner.default_team.clone();
        async move {
            app.post(
                "/api/jobs",
                &token,
                json!({"name": "J", "team_id": team, "settings": settings}),
            )
            .await
        }
    };
    let cases = [
        (
            json!({"source": {"connection_id": conn, "table": {"name": "ord\"ers"}}, "destination": {"connection_id": conn, "table": {"name": "t"}}}),
            "settings.source.table.name",
            "must not contain quotes, backticks or control characters",
        ),
        (
            json!({"source": {"connection_id": conn, "table": {"name": "a"}}, "destination": {"connection_id": conn, "table": {"name": "t"}, "merge_keys": ["id"]}}),
            "settings.destination.merge_keys",
            "only apply to the merge, merge_direct and delete_insert modes",
        ),
        (
            json!({"source": {"connection_id": foreign, "table": {"name": "a"}}, "destination": {"connection_id": conn, "table": {"name": "t"}}}),
            "settings.source.connection_id",
            "is not a connection you can see",
        ),
        (
            json!({"source": {"connection_id": conn, "query": "DELETE FROM a"}, "destination": {"connection_id": conn, "table": {"name": "t"}}}),
            "settings.source.query",
            "must be a single SELECT (or WITH ... SELECT) query",
        ),
        (
            json!({"source": {"connection_id": conn, "table": {"name": "a"}}, "destination": {"connection_id": conn, "table": {"name": "t"}}, "resources": {"cpu": 3, "memory_mb": 2048}}),
            "settings.resources.cpu",
            "must be one of 0.25, 0.5, 1, 2, 4, 8, 16",
        ),
    ];
    for (settings, field, message) in cases {
        let (status, body) = create(settings).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["field"], field, "{body}");
        assert_eq!(body["fields"][0]["message"], message, "{body}");
    }
    let (status, body) = create(json!({"source": {"connection_id": conn, "table": {"name": "a"}}, "destination": {"connection_id": conn, "table": {"name": "t"}, "mode": "upsert"}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "settings.destination.mode");
    assert!(
        body["message"].as_str().unwrap().contains(
            "expected one of insert, insert_direct, truncate_insert, replace, merge, merge_direct, delete_insert"
        ),
        "{body}"
    );
}

#[tokio::test]
async fn revisions_diff_duplicate_search_and_enable() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let conn = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Warehouse",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let job = pg_job(&app, &owner, &conn, "insert").await;
    let id = job["id"].as_str().unwrap();
    assert_eq!(job["revision"], 1);
    let mut settings = job["settings"].clone();
    settings["destination"]["mode"] = json!("truncate_insert");
    let (status, updated) = app
        .patch(
            &format!("/api/jobs/{id}"),
            &owner.token,
            json!({"settings": settings, "description": "paid orders"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["revision"], 2);
    let (_, same) = app
        .patch(
            &format!("/api/jobs/{id}"),
            &owner.token,
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(same["revision"], 2, "enabling is not a new revision");
    assert_eq!(same["enabled"], false);

    let (_, revisions) = app
        .get(&format!("/api/jobs/{id}/revisions"), &owner.token)
        .await;
    assert_eq!(revisions.as_array().unwrap().len(), 2);
    assert_eq!(
        revisions[1]["settings"]["destination"]["mode"], "insert",
        "the old settings are kept"
    );
    let (status, diff) = app
        .get(&format!("/api/jobs/{id}/diff?from=1&to=2"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    let paths: Vec<&str> = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["description", "settings.destination.mode"]);
    assert_eq!(diff["changes"][1]["before"], "insert");

    let (status, copy) = app
        .post(
            &format!("/api/jobs/{id}/duplicate"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{copy}");
    assert_eq!(copy["name"], "Orders insert (copy)");
    assert_eq!(copy["enabled"], false);
    assert_eq!(copy["settings"], updated["settings"]);

    let (_, found) = app.get("/api/jobs?q=COPY", &owner.token).await;
    assert_eq!(found.as_array().unwrap().len(), 1);
    let (_, labelled) = app.get("/api/jobs?label=sales", &owner.token).await;
    assert_eq!(labelled.as_array().unwrap().len(), 2);
    let (_, none) = app.get("/api/jobs?label=finance", &owner.token).await;
    assert_eq!(none, json!([]));
    let actions = app.audit_actions(&owner).await;
    for expected in ["job.create", "job.update", "job.disable", "job.duplicate"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} missing from {actions:?}"
        );
    }
}

#[tokio::test]
async fn import_export_import_gives_an_equal_job() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let config = format!(
        "in:\n  type: mysql\n  host: 127.0.0.1\n  user: root\n  password: \"{{{{ env.SHOP_PASSWORD }}}}\"\n  database: test\n  table: orders\n  incremental: true\n  incremental_columns: [id]\n\
         filters:\n  - {{type: rename, columns: {{customer: customer_name}}}}\n  - {{type: mask, columns: [{{name: email}}]}}\n\
         out:\n  type: postgresql\n  host: 127.0.0.1\n  port: 5432\n  user: postgres\n  database: {}\n  table: orders\n  mode: merge\n  merge_keys: [id]\n",
        app.db_name
    );
    let (status, imported) = app
        .post("/api/jobs/import", &owner.token, json!({"team_id": owner.default_team, "name": "Shop", "config": config, "env": {"SHOP_PASSWORD": "pw-in-env"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    assert_eq!(imported["created_connections"].as_array().unwrap().len(), 2);
    let first = &imported["job"];
    assert_eq!(first["settings"]["destination"]["mode"], "merge");
    assert_eq!(
        first["settings"]["columns"][0],
        json!({"action": "rename", "column": "customer", "to": "customer_name"})
    );

    let id = first["id"].as_str().unwrap();
    let exported = app
        .client
        .get(format!("{}/api/jobs/{id}/export", app.address))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(exported.contains("{{ env.SOURCE_PASSWORD }}"), "{exported}");
    let (status, again) = app
        .post("/api/jobs/import", &owner.token, json!({"team_id": owner.default_team, "name": "Shop again", "config": exported, "env": {"SOURCE_PASSWORD": "pw-in-env"}}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(
        again["created_connections"],
        json!([]),
        "equal connections are reused"
    );
    assert_eq!(again["job"]["settings"], first["settings"]);

    // A wrong secret is a different connection, not a silent reuse.
    let (_, third) = app
        .post("/api/jobs/import", &owner.token, json!({"team_id": owner.default_team, "name": "Shop third", "config": exported, "env": {"SOURCE_PASSWORD": "other"}}))
        .await;
    assert_eq!(third["created_connections"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn import_errors_name_the_config_field() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let import = |config: &'static str| {
        let app = &app;
        let token = owner.token.clone();
        let team = owner.default_team.clone();
        async move {
            app.post(
                "/api/jobs/import",
                &token,
                json!({"team_id": team, "name": "X", "config": config}),
            )
            .await
        }
    };
    let (status, body) = import("in: {type: postgresql, host: h, user: u, database: d, table: t}\nout: {type: postgresql, host: h, user: u, database: d, table: t, mode: upsert}\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "config.out.mode", "{body}");
    let (status, body) = import("in: {type: postgresql, host: h, user: u, database: d, table: t, select: \"a, b\"}\nout: {type: postgresql, host: h, user: u, database: d, table: t}\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "config.in.select", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("not supported by Hakobu jobs yet")
    );
    // An unset `env.*` renders empty, as in Embulk; any other undefined variable is an error.
    let (status, body) = import("in: {type: postgresql, password: \"{{ undefined_name }}\", host: h, user: u, database: d, table: t}\nout: {type: postgresql, host: h, user: u, database: d, table: t}\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "config", "{body}");
    // The save-time checks against the database speak of the config too: merging into a
    // table that does not exist yet needs merge_keys.
    app.sql("CREATE TABLE orders (id bigint PRIMARY KEY)").await;
    let db = format!(
        "type: postgresql, host: 127.0.0.1, user: postgres, database: {}, ssl: false",
        app.db_name
    );
    let config =
        format!("in: {{{db}, table: orders}}\nout: {{{db}, table: not_yet, mode: merge}}\n");
    let (status, body) = app
        .post(
            "/api/jobs/import",
            &owner.token,
            json!({"team_id": owner.default_team, "name": "Merge", "config": config}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "config.out.merge_keys", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("not_yet does not exist"),
        "{body}"
    );
}

#[tokio::test]
async fn job_permissions_and_isolation() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let other = app.signup("Beta").await;
    let conn = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Warehouse",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let job = pg_job(&app, &owner, &conn, "insert").await;
    let id = job["id"].as_str().unwrap();
    let operator = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": owner.default_team, "role": "operator"}]),
        )
        .await;
    let (status, seen) = app.get(&format!("/api/jobs/{id}"), &operator.token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(seen["settings"].is_null(), "operators do not see settings");
    for path in ["config", "export", "revisions"] {
        assert_eq!(
            app.get(&format!("/api/jobs/{id}/{path}"), &operator.token)
                .await
                .0,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(
        app.patch(
            &format!("/api/jobs/{id}"),
            &operator.token,
            json!({"name": "x"})
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );

    let requests = [
        ("GET", format!("/api/jobs/{id}"), None),
        (
            "PATCH",
            format!("/api/jobs/{id}"),
            Some(json!({"name": "mine"})),
        ),
        ("DELETE", format!("/api/jobs/{id}"), None),
        ("POST", format!("/api/jobs/{id}/duplicate"), Some(json!({}))),
        (
            "PUT",
            format!("/api/jobs/{id}/shares"),
            Some(json!({"shares": []})),
        ),
        ("GET", format!("/api/jobs/{id}/revisions"), None),
        ("GET", format!("/api/jobs/{id}/revisions/1"), None),
        ("GET", format!("/api/jobs/{id}/diff?from=1&to=1"), None),
        ("GET", format!("/api/jobs/{id}/config"), None),
        ("GET", format!("/api/jobs/{id}/export"), None),
    ];
    for (method, path, body) in requests {
        let (status, answer) = app
            .call(method.parse().unwrap(), &path, Some(&other.token), body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    let (_, list) = app.get("/api/jobs", &other.token).await;
    assert_eq!(list, json!([]));
    assert_eq!(
        app.delete(&format!("/api/connections/{conn}"), &owner.token)
            .await
            .0,
        StatusCode::CONFLICT,
        "in use"
    );
}

/// Checks against the real databases at save time: a merge needs a key; column changes
/// name existing columns and casts the engine can do.
#[tokio::test]
async fn settings_are_checked_against_the_databases() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, doc jsonb, note text);
         CREATE TABLE no_key (id bigint, note text);",
    )
    .await;
    let conn = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Warehouse",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let create = |destination: Value, columns: Value| {
        let app = &app;
        let token = owner.token.clone();
        let team = owner.default_team.clone();
        let conn = conn.clone();
        async move {
            let mut destination = destination;
            destination["connection_id"] = json!(conn);
            app.post("/api/jobs", &token, json!({"name": format!("J {}", uuid::Uuid::new_v4().simple()), "team_id": team, "settings": {
                "source": {"connection_id": conn, "table": {"name": "src"}},
                "destination": destination,
                "columns": columns,
            }}))
            .await
        }
    };
    let (status, body) = create(
        json!({"table": {"name": "no_key"}, "mode": "merge"}),
        json!([]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "settings.destination.merge_keys");
    assert!(
        body["message"].as_str().unwrap().contains("no primary key"),
        "{body}"
    );
    let (status, body) = create(
        json!({"table": {"name": "not_there_yet"}, "mode": "merge_direct"}),
        json!([]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("does not exist yet"),
        "{body}"
    );
    let (status, body) = create(
        json!({"table": {"name": "no_key"}, "mode": "merge", "merge_keys": ["id"]}),
        json!([]),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "explicit keys are enough: {body}"
    );

    let (status, body) = create(
        json!({"table": {"name": "out"}}),
        json!([{"action": "cast", "column": "doc", "to": "long"}]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "settings.columns[0].to");
    assert_eq!(
        body["fields"][0]["message"],
        "a json column cannot become long; cast it to string first, or choose another type"
    );
    let (status, body) = create(
        json!({"table": {"name": "out"}}),
        json!([{"action": "rename", "column": "note", "to": "memo"}, {"action": "drop", "column": "note"}]),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "settings.columns[1].column");
    assert!(
        body["message"].as_str().unwrap().contains("doc, id, memo"),
        "{body}"
    );
    let (status, body) = create(
        json!({"table": {"name": "out"}}),
        json!([{"action": "cast", "column": "id", "to": "string"}]),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// Each team role against each job endpoint (the connection endpoints have their own
/// matrix in connections.rs).
#[tokio::test]
async fn job_permission_matrix_by_team_role() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let conn = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Warehouse",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let job = pg_job(&app, &owner, &conn, "insert").await;
    let id = job["id"].as_str().unwrap();
    let roles = ["viewer", "operator", "editor", "admin"];
    for (rank, role) in roles.iter().enumerate() {
        let member = app
            .add_member(
                &owner,
                "member",
                json!([{"team_id": owner.default_team, "role": role}]),
            )
            .await;
        let t = &member.token;
        let allowed = |min: usize| if rank >= min { "allowed" } else { "refused" };
        let outcome = |status: StatusCode| {
            if status.is_success() {
                "allowed"
            } else if status == StatusCode::FORBIDDEN {
                "refused"
            } else {
                "other"
            }
        };
        let checks = [
            ("GET job", 0, app.get(&format!("/api/jobs/{id}"), t).await.0),
            (
                "GET revisions",
                2,
                app.get(&format!("/api/jobs/{id}/revisions"), t).await.0,
            ),
            (
                "GET config",
                2,
                app.get(&format!("/api/jobs/{id}/config"), t).await.0,
            ),
            (
                "GET export",
                2,
                app.get(&format!("/api/jobs/{id}/export"), t).await.0,
            ),
            (
                "POST run",
                1,
                app.post(&format!("/api/jobs/{id}/runs"), t, json!({}))
                    .await
                    .0,
            ),
            (
                "PATCH job",
                2,
                app.patch(
                    &format!("/api/jobs/{id}"),
                    t,
                    json!({"description": format!("by {role}")}),
                )
                .await
                .0,
            ),
            (
                "POST duplicate",
                2,
                app.post(
                    &format!("/api/jobs/{id}/duplicate"),
                    t,
                    json!({"name": format!("copy by {role}")}),
                )
                .await
                .0,
            ),
            (
                "PUT shares",
                3,
                app.put(&format!("/api/jobs/{id}/shares"), t, json!({"shares": []}))
                    .await
                    .0,
            ),
        ];
        for (what, min, status) in checks {
            // A second run of a `skip` job while one is queued is a conflict, not a refusal.
            let got = if what == "POST run" && status == StatusCode::CONFLICT {
                "allowed"
            } else {
                outcome(status)
            };
            assert_eq!(got, allowed(min), "{role}: {what} answered {status}");
        }
    }
}

/// Sharing a job with another team: the job lists its shares, and that team's members see
/// it with the shared role; an empty list takes it back.
#[tokio::test]
async fn a_shared_job_shows_its_shares_and_reaches_the_team() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let conn = app.pg_connection(&owner).await;
    let job = pg_job(&app, &owner, &conn, "insert").await;
    let id = job["id"].as_str().unwrap();
    assert_eq!(job["shares"], json!([]));
    let team = app.create_team(&owner, "Finance").await;
    let member = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": team, "role": "editor"}]),
        )
        .await;
    let (status, _) = app.get(&format!("/api/jobs/{id}"), &member.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not shared yet");

    let (status, shared) = app
        .put(
            &format!("/api/jobs/{id}/shares"),
            &owner.token,
            json!({"shares": [{"team_id": team, "role": "operator"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{shared}");
    assert_eq!(
        shared["shares"],
        json!([{"team_id": team, "role": "operator"}])
    );
    let (_, seen) = app.get(&format!("/api/jobs/{id}"), &member.token).await;
    assert_eq!(seen["your_role"], "operator");
    assert_eq!(
        seen["shares"],
        json!([{"team_id": team, "role": "operator"}])
    );
    let (_, list) = app.get("/api/jobs", &owner.token).await;
    assert_eq!(
        list[0]["shares"],
        json!([{"team_id": team, "role": "operator"}])
    );

    let (status, _) = app
        .put(
            &format!("/api/jobs/{id}/shares"),
            &owner.token,
            json!({"shares": []}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get(&format!("/api/jobs/{id}"), &member.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// The config a run executed is shown with secrets as references, to those who may see
/// its connections' details, and only once it was dispatched.
#[tokio::test]
async fn a_runs_config_is_its_snapshot_with_secrets_as_references() {
    let app = spawn_app_with(SpawnOptions {
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src VALUES (1, 'a');",
    )
    .await;
    let mut settings = app.pg_settings();
    settings["password"] = json!("run-config-secret-77");
    let conn = app
        .create_connection(&owner, &owner.default_team, "PG pw", "postgresql", settings)
        .await;
    let (status, job) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Configured", "team_id": owner.default_team, "settings": {
            "source": {"connection_id": conn, "table": {"name": "src"}},
            "destination": {"connection_id": conn, "table": {"name": "dst"}, "mode": "replace"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let (_, run) = app
        .post(
            &format!("/api/jobs/{}/runs", job["id"].as_str().unwrap()),
            &owner.token,
            json!({}),
        )
        .await;
    let run_id = run["id"].as_str().unwrap();
    let done = app.wait_for_run_end(&owner.token, run_id).await;
    assert_eq!(done["status"], "succeeded", "{done}");

    let url = format!("{}/api/runs/{run_id}/config", app.address);
    let response = app
        .client
        .get(&url)
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let yaml = response.text().await.unwrap();
    assert!(
        yaml.contains("in:") && yaml.contains("table: src"),
        "{yaml}"
    );
    assert!(yaml.contains("{{ env."), "{yaml}");
    assert!(!yaml.contains("run-config-secret-77"), "{yaml}");

    // A viewer of the team sees the run, not its config; another organization, nothing.
    let viewer = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": owner.default_team, "role": "viewer"}]),
        )
        .await;
    let (status, _) = app.get(&format!("/api/runs/{run_id}"), &viewer.token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .get(&format!("/api/runs/{run_id}/config"), &viewer.token)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let stranger = app.signup("Other").await;
    let (status, _) = app
        .get(&format!("/api/runs/{run_id}/config"), &stranger.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
