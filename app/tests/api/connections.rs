use crate::helpers::spawn_app;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn secrets_are_write_only_and_kept_on_update() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let secret = "Tr0ub4dor&3-never-shown";
    let settings = json!({"host": "127.0.0.1", "port": 3306, "database": "test", "user": "root", "password": secret, "tls_mode": "disable"});
    let (status, created) = app
        .post("/api/connections", &owner.token, json!({"name": "Shop MariaDB", "kind": "mysql", "team_id": owner.default_team, "settings": settings}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["settings"]["password"], json!({"set": true}));
    assert_eq!(created["settings"]["host"], "127.0.0.1");
    let id = created["id"].as_str().unwrap();

    // Rename without touching the password: kept.
    let (status, updated) = app
        .patch(
            &format!("/api/connections/{id}"),
            &owner.token,
            json!({"name": "Shop DB", "settings": {"port": 3306}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["settings"]["password"], json!({"set": true}));

    let mut everything = String::new();
    for path in [
        format!("/api/connections/{id}"),
        "/api/connections".to_owned(),
        "/api/audit?per_page=500".to_owned(),
    ] {
        let (_, body) = app.get(&path, &owner.token).await;
        everything.push_str(&body.to_string());
    }
    everything.push_str(&created.to_string());
    assert!(
        !everything.contains(secret),
        "the password leaked: {everything}"
    );
    let stored = app
        .query_strings("SELECT secrets::text FROM connections")
        .await;
    assert!(
        !stored[0][0].as_deref().unwrap().contains(secret),
        "stored in clear"
    );

    // `null` removes a secret.
    let (_, cleared) = app
        .patch(
            &format!("/api/connections/{id}"),
            &owner.token,
            json!({"settings": {"password": null}}),
        )
        .await;
    assert_eq!(cleared["settings"]["password"], json!({"set": false}));
    let actions = app.audit_actions(&owner).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.starts_with("connection."))
            .count(),
        3
    );
}

#[tokio::test]
async fn connection_tests_report_each_failure_in_plain_words() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let test = |settings: serde_json::Value, kind: &'static str| {
        let app = &app;
        let token = owner.token.clone();
        async move {
            let (status, body) = app
                .post(
                    "/api/connections/test",
                    &token,
                    json!({"kind": kind, "settings": settings}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body
        }
    };
    let ok = test(app.pg_settings(), "postgresql").await;
    assert_eq!(ok["ok"], true, "{ok}");
    assert!(
        ok["server_version"].as_str().unwrap().starts_with("15"),
        "{ok}"
    );

    let mut unreachable = app.pg_settings();
    unreachable["port"] = json!(1);
    let body = test(unreachable, "postgresql").await;
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"]["kind"], "unreachable", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("127.0.0.1:1"),
        "{body}"
    );
    assert!(
        body["error"]["hint"].as_str().unwrap().contains("port"),
        "{body}"
    );

    let mut missing = app.pg_settings();
    missing["database"] = json!("no_such_database_here");
    let body = test(missing, "postgresql").await;
    assert_eq!(body["error"]["kind"], "database_missing", "{body}");

    let wrong_password = json!({"host": "127.0.0.1", "port": 3306, "database": "test", "user": "root", "password": "definitely-wrong", "tls_mode": "disable"});
    let body = test(wrong_password, "mysql").await;
    assert_eq!(body["error"]["kind"], "authentication", "{body}");
    assert!(!body.to_string().contains("definitely-wrong"));

    // Invalid settings never reach the engine.
    let (status, body) = app
        .post(
            "/api/connections/test",
            &owner.token,
            json!({"kind": "postgresql", "settings": {"host": "db", "port": 70000}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "settings.port");
}

#[tokio::test]
async fn invalid_connections_name_the_field() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let team = &owner.default_team;
    let (status, body) = app
        .post(
            "/api/connections",
            &owner.token,
            json!({"name": "x", "kind": "oracle", "team_id": team, "settings": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "kind");
    assert!(
        body["message"].as_str().unwrap().contains("postgresql"),
        "{body}"
    );

    let cases = [
        (
            json!({"host": "db", "database": "d"}),
            "settings.user",
            "is required",
        ),
        (
            json!({"host": "db", "database": "d", "user": "u", "port": 0}),
            "settings.port",
            "must be a whole number from 1 to 65535",
        ),
        (
            json!({"host": "https://db", "database": "d", "user": "u"}),
            "settings.host",
            "must be only a host name or IP address, without a scheme or path, e.g. db.example.com",
        ),
        (
            json!({"host": "db", "database": "d", "user": "u", "tls_mode": "sometimes"}),
            "settings.tls_mode",
            "must be one of disable, prefer, require, verify-ca, verify-full",
        ),
    ];
    for (settings, field, message) in cases {
        let (status, body) = app
            .post(
                "/api/connections",
                &owner.token,
                json!({"name": "x", "kind": "postgresql", "team_id": team, "settings": settings}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["field"], field, "{body}");
        assert_eq!(body["fields"][0]["message"], message);
    }
    // A message of the catalogue carries its code and parts; one outside it carries neither.
    let (_, body) = app
        .post(
            "/api/connections",
            &owner.token,
            json!({"name": "x".repeat(101), "kind": "postgresql", "team_id": team, "settings": {"host": "db", "database": "d", "user": "u"}}),
        )
        .await;
    assert_eq!(body["fields"][0]["code"], "too_long", "{body}");
    assert_eq!(body["fields"][0]["params"], json!({"n": "100"}), "{body}");
    assert!(body.get("code").is_none(), "{body}");
    let (_, body) = app
        .post(
            "/api/connections",
            &owner.token,
            json!({"name": "x", "kind": "postgresql", "team_id": team, "settings": {"host": "db", "database": "d", "user": "u", "port": 0}}),
        )
        .await;
    assert!(body["fields"][0].get("code").is_none(), "{body}");
    let (status, body) = app
        .post("/api/connections", &owner.token, json!({"name": "files", "kind": "local_files", "team_id": team, "settings": {"directory": "/etc"}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["field"], "settings.directory",
        "outside the allowed root: {body}"
    );
    app.create_connection(&owner, team, "Dup", "postgresql", app.pg_settings())
        .await;
    let (status, body) = app
        .post("/api/connections", &owner.token, json!({"name": "dup", "kind": "postgresql", "team_id": team, "settings": app.pg_settings()}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["field"], "name");
}

/// What each team role sees and may do with a connection owned by its team.
#[tokio::test]
async fn permission_matrix_by_team_role() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let team = owner.default_team.clone();
    let id = app
        .create_connection(&owner, &team, "Warehouse", "postgresql", app.pg_settings())
        .await;
    let mut members = Vec::new();
    for role in ["viewer", "operator", "editor", "admin"] {
        members.push((
            role,
            app.add_member(&owner, "member", json!([{"team_id": team, "role": role}]))
                .await,
        ));
    }
    for (role, member) in &members {
        let rank = ["viewer", "operator", "editor", "admin"]
            .iter()
            .position(|r| r == role)
            .unwrap();
        let (status, body) = app
            .get(&format!("/api/connections/{id}"), &member.token)
            .await;
        assert_eq!(status, StatusCode::OK, "{role}");
        assert!(
            body["name"].as_str().unwrap().starts_with("Warehouse"),
            "{body}"
        );
        assert_eq!(body["your_role"], *role);
        assert_eq!(
            body["settings"].is_object(),
            rank >= 2,
            "{role} sees settings? {body}"
        );
        assert!(
            !body.to_string().contains("127.0.0.1") || rank >= 2,
            "{role} must not see the host"
        );

        let expect = |allowed: bool| {
            if allowed {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            }
        };
        let (status, _) = app
            .post(
                &format!("/api/connections/{id}/test"),
                &member.token,
                json!({}),
            )
            .await;
        assert_eq!(status, expect(rank >= 2), "{role} test");
        let (status, _) = app
            .get(&format!("/api/connections/{id}/tables"), &member.token)
            .await;
        assert_eq!(status, expect(rank >= 2), "{role} tables");
        let (status, _) = app
            .patch(
                &format!("/api/connections/{id}"),
                &member.token,
                json!({"name": format!("Warehouse {role}")}),
            )
            .await;
        assert_eq!(status, expect(rank >= 2), "{role} edit");
        let (status, _) = app
            .put(
                &format!("/api/connections/{id}/shares"),
                &member.token,
                json!({"shares": []}),
            )
            .await;
        assert_eq!(status, expect(rank >= 3), "{role} share");
    }
    // A member of no team with access does not know the connection exists.
    let outsider = app.add_member(&owner, "member", json!([])).await;
    assert_eq!(
        app.get(&format!("/api/connections/{id}"), &outsider.token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = app.get("/api/connections", &outsider.token).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn sharing_grants_use_without_details() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let analysts = app.create_team(&owner, "Analysts").await;
    let id = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Warehouse",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let analyst = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": analysts, "role": "admin"}]),
        )
        .await;
    assert_eq!(
        app.get(&format!("/api/connections/{id}"), &analyst.token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = app
        .put(
            &format!("/api/connections/{id}/shares"),
            &owner.token,
            json!({"shares": [{"team_id": analysts, "role": "operator"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .get(&format!("/api/connections/{id}"), &analyst.token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["your_role"], "operator",
        "a team admin gets at most the shared role"
    );
    assert!(body["settings"].is_null());
    let (status, body) = app
        .put(
            &format!("/api/connections/{id}/shares"),
            &owner.token,
            json!({"shares": [{"team_id": owner.default_team, "role": "viewer"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "shares[0].team_id");
}

#[tokio::test]
async fn discovery_and_read_only_preview() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE src_orders (id bigint PRIMARY KEY, note text, amount numeric(12,2));
             CREATE SEQUENCE preview_guard;
             INSERT INTO src_orders SELECT g, 'note ' || g, g * 1.5 FROM generate_series(1, 30) g;",
    )
    .await;
    let id = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Warehouse",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let (status, schemas) = app
        .get(&format!("/api/connections/{id}/schemas"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{schemas}");
    assert!(schemas.as_array().unwrap().contains(&json!("public")));
    let (_, tables) = app
        .get(&format!("/api/connections/{id}/tables"), &owner.token)
        .await;
    assert!(
        tables.as_array().unwrap().contains(&json!("src_orders")),
        "{tables}"
    );
    let (status, columns) = app
        .get(
            &format!("/api/connections/{id}/columns?table=src_orders"),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{columns}");
    assert_eq!(
        columns[2],
        json!({"name": "amount", "data_type": "numeric(12,2)", "nullable": true})
    );

    let (status, preview) = app
        .post(
            &format!("/api/connections/{id}/preview"),
            &owner.token,
            json!({"table": {"name": "src_orders"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(
        preview["rows"].as_array().unwrap().len(),
        20,
        "20 rows by default"
    );
    let (status, preview) = app
        .post(&format!("/api/connections/{id}/preview"), &owner.token, json!({"query": "SELECT id, note FROM src_orders WHERE id <= 3 ORDER BY id", "limit": 5}))
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["columns"][1]["name"], "note");
    assert_eq!(preview["rows"].as_array().unwrap().len(), 3);

    for statement in ["DELETE FROM src_orders", "SELECT 1; DROP TABLE src_orders"] {
        let (status, body) = app
            .post(
                &format!("/api/connections/{id}/preview"),
                &owner.token,
                json!({"query": statement}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{statement}: {body}"
        );
        assert_eq!(body["field"], "query");
    }
    // Even a SELECT with a side effect runs in a read-only session and changes nothing.
    let (status, body) = app
        .post(
            &format!("/api/connections/{id}/preview"),
            &owner.token,
            json!({"query": "SELECT nextval('preview_guard') AS n"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("read-only"),
        "{body}"
    );
    assert_eq!(
        app.query_strings("SELECT last_value, is_called FROM preview_guard")
            .await[0][1]
            .as_deref(),
        Some("f")
    );
    assert_eq!(
        app.query_strings("SELECT count(*) FROM src_orders").await[0][0].as_deref(),
        Some("30")
    );
}

#[tokio::test]
async fn a_connection_in_use_cannot_be_deleted_and_other_orgs_get_404() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let other = app.signup("Beta").await;
    let id = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Warehouse",
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let paths = [
        ("GET", format!("/api/connections/{id}")),
        ("PATCH", format!("/api/connections/{id}")),
        ("DELETE", format!("/api/connections/{id}")),
        ("PUT", format!("/api/connections/{id}/shares")),
        ("POST", format!("/api/connections/{id}/test")),
        ("GET", format!("/api/connections/{id}/schemas")),
        ("GET", format!("/api/connections/{id}/tables")),
        ("GET", format!("/api/connections/{id}/columns?table=x")),
        ("POST", format!("/api/connections/{id}/preview")),
    ];
    for (method, path) in &paths {
        let body = match *method {
            "PATCH" => Some(json!({"name": "mine"})),
            "PUT" => Some(json!({"shares": []})),
            "POST" => Some(json!({"table": {"name": "x"}})),
            _ => None,
        };
        let (status, answer) = app
            .call(method.parse().unwrap(), path, Some(&other.token), body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    let (status, body) = app
        .post(
            "/api/connections/test",
            &other.token,
            json!({"kind": "postgresql", "settings": app.pg_settings(), "connection_id": id}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app
        .post("/api/connections", &other.token, json!({"name": "x", "kind": "postgresql", "team_id": owner.default_team, "settings": app.pg_settings()}))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another org's team: {body}"
    );
    assert_eq!(body["field"], "team_id");
}

/// Secrets appear in no response, no log line (captured at debug level) and no audit entry.
#[tokio::test]
async fn secrets_never_reach_logs() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let secret = format!("pw-{}-logs", uuid::Uuid::new_v4().simple());
    let settings = json!({"host": "127.0.0.1", "database": "test", "user": "root", "password": secret, "tls_mode": "disable"});
    let id = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Shop",
            "mysql",
            settings.clone(),
        )
        .await;
    let mut answers = String::new();
    answers.push_str(
        &app.post(
            "/api/connections/test",
            &owner.token,
            json!({"kind": "mysql", "settings": settings}),
        )
        .await
        .1
        .to_string(),
    );
    answers.push_str(
        &app.post(
            &format!("/api/connections/{id}/test"),
            &owner.token,
            json!({}),
        )
        .await
        .1
        .to_string(),
    );
    answers.push_str(
        &app.patch(
            &format!("/api/connections/{id}"),
            &owner.token,
            json!({"settings": {"password": format!("{secret}-2")}}),
        )
        .await
        .1
        .to_string(),
    );
    answers.push_str(
        &app.get("/api/audit?per_page=500", &owner.token)
            .await
            .1
            .to_string(),
    );
    let logs = crate::helpers::captured_logs();
    assert!(
        logs.contains("connection test failed"),
        "the capture works: it saw the failed test"
    );
    assert!(
        logs.contains(&format!("/api/connections/{id}/test")),
        "requests are logged"
    );
    assert!(!logs.contains(&secret), "a secret reached the logs");
    assert!(
        !answers.contains(&secret),
        "a secret reached a response: {answers}"
    );
}

/// A tenant's table of 1 MB values: the preview answers about a megabyte, not thirty,
/// cuts each long value with `…`, and says so with a message a client can translate.
#[tokio::test]
async fn a_preview_of_megabyte_values_is_cut_short_and_says_so() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    app.sql(
        "CREATE TABLE wide (id int, v text);
         INSERT INTO wide SELECT g, repeat('x', 1000000) FROM generate_series(1, 30) g;",
    )
    .await;
    let id = app.pg_connection(&owner).await;
    let answer = app
        .client
        .post(format!("{}/api/connections/{id}/preview", app.address))
        .bearer_auth(&owner.token)
        .json(&json!({"table": {"name": "wide"}, "limit": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let text = answer.text().await.unwrap();
    assert!(text.len() < 2 * 1024 * 1024, "{} bytes", text.len());
    let preview: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = preview["rows"].as_array().unwrap();
    assert!(!rows.is_empty() && rows.len() < 30, "{} rows", rows.len());
    assert!(rows[0][1].as_str().unwrap().ends_with('…'));
    assert_eq!(preview["truncated"], true);
    assert_eq!(preview["code"], "preview_truncated");
    assert_eq!(
        preview["message"],
        "This preview is cut short to stay within 1 MiB: values longer than 64 KiB end with …, and later rows are not shown."
    );
}

/// A saved password goes only to the host, port and user it was saved with: a test aimed
/// elsewhere must bring its own (422 on the changed field), an update that moves the
/// connection without it clears it and says why, and each test that fills in saved
/// secrets is audited without the secret.
#[tokio::test]
async fn a_saved_password_is_only_sent_where_it_was_saved() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let secret = format!("pw-{}-bound", uuid::Uuid::new_v4().simple());
    let mut settings = app.pg_settings();
    settings["password"] = json!(secret);
    let id = app
        .create_connection(&owner, &owner.default_team, "PG", "postgresql", settings)
        .await;

    // The saved form, unchanged: the saved password is filled in, and that is audited.
    let (status, body) = app
        .post(
            "/api/connections/test",
            &owner.token,
            json!({"kind": "postgresql", "settings": app.pg_settings(), "connection_id": id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ok"], true, "{body}");
    assert!(
        app.audit_actions(&owner)
            .await
            .contains(&"connection.test_with_saved_secrets".to_owned())
    );

    // Aimed at another host, port or user without the password: refused on that field.
    for (field, value) in [
        ("host", json!("localhost")),
        ("port", json!(5433)),
        ("user", json!("someone_else")),
    ] {
        let mut moved = app.pg_settings();
        moved[field] = value;
        let (status, body) = app
            .post(
                "/api/connections/test",
                &owner.token,
                json!({"kind": "postgresql", "settings": moved, "connection_id": id}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_eq!(body["field"], format!("settings.{field}"), "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("enter the password again"),
            "{body}"
        );
    }
    // With the password given, the test may go anywhere the egress policy allows.
    let mut moved = app.pg_settings();
    moved["port"] = json!(1);
    moved["password"] = json!("typed-again");
    let (status, body) = app
        .post(
            "/api/connections/test",
            &owner.token,
            json!({"kind": "postgresql", "settings": moved, "connection_id": id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Moving the saved connection keeps the password only if it is given again.
    let (status, updated) = app
        .patch(
            &format!("/api/connections/{id}"),
            &owner.token,
            json!({"settings": {"port": 5433, "password": "typed-again"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["settings"]["password"], json!({"set": true}));
    assert!(updated.get("notes").is_none(), "{updated}");
    let (status, updated) = app
        .patch(
            &format!("/api/connections/{id}"),
            &owner.token,
            json!({"settings": {"host": "localhost"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["settings"]["password"], json!({"set": false}));
    assert_eq!(
        updated["notes"][0]["field"], "settings.password",
        "{updated}"
    );
    assert_eq!(updated["notes"][0]["code"], "secret_cleared", "{updated}");
    assert!(
        updated["notes"][0]["message"]
            .as_str()
            .unwrap()
            .contains("because host changed"),
        "{updated}"
    );
    // The database alone may change: same server, same user.
    app.patch(
        &format!("/api/connections/{id}"),
        &owner.token,
        json!({"settings": {"password": "again"}}),
    )
    .await;
    let (_, updated) = app
        .patch(
            &format!("/api/connections/{id}"),
            &owner.token,
            json!({"settings": {"database": "third"}}),
        )
        .await;
    assert_eq!(
        updated["settings"]["password"],
        json!({"set": true}),
        "{updated}"
    );

    let (_, audit) = app.get("/api/audit?per_page=500", &owner.token).await;
    assert!(!audit.to_string().contains(&secret), "{audit}");
}

/// An S3 key's secret goes only to the endpoint and with the key id it was saved with; it
/// is required, so moving the endpoint without it asks for it and says why.
#[tokio::test]
async fn a_saved_s3_secret_key_is_bound_to_its_endpoint() {
    let app = spawn_app().await;
    let owner = app.signup("Acme").await;
    let id = app
        .create_connection(
            &owner,
            &owner.default_team,
            "Bucket",
            "s3",
            json!({"bucket": "data", "access_key_id": "AKIAKEEP", "secret_access_key": "keep-me"}),
        )
        .await;
    let (status, body) = app
        .patch(
            &format!("/api/connections/{id}"),
            &owner.token,
            json!({"settings": {"endpoint": "https://s3.elsewhere.example"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "settings.secret_access_key", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("endpoint changed"),
        "{body}"
    );
    // Nothing was saved: the secret is still on file for the old endpoint.
    let (_, view) = app
        .get(&format!("/api/connections/{id}"), &owner.token)
        .await;
    assert_eq!(view["settings"]["secret_access_key"], json!({"set": true}));
}
