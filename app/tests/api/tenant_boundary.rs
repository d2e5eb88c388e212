//! The tenant boundary, attacked the way a stranger who just signed up would: connections
//! and webhooks aimed at the service's own machine, its database, the cloud metadata
//! service and private networks. Each case asserts the refusal and that nothing reached
//! the target; the egress policy is `HAKOBU_EGRESS_ALLOW` empty (a SaaS install), unlike
//! the rest of the suite, which opens loopback because its databases live there.

use crate::helpers::{SpawnOptions, TestApp, spawn_app_with};
use crate::notifications::{Hook, destination};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::net::SocketAddr;

async fn strict_app(dispatcher: bool) -> TestApp {
    spawn_app_with(SpawnOptions {
        egress_allow: "",
        dispatcher,
        ..Default::default()
    })
    .await
}

/// Tests an unsaved connection. An address literal the policy refuses is refused on its
/// field (422) before anything connects; a host name is refused when it is resolved, as
/// the test's `not_allowed` answer. Both come back in the second shape.
async fn test_connection(app: &TestApp, token: &str, kind: &str, settings: Value) -> Value {
    let (status, body) = app
        .post(
            "/api/connections/test",
            token,
            json!({"kind": kind, "settings": settings}),
        )
        .await;
    match status {
        StatusCode::OK => body,
        StatusCode::UNPROCESSABLE_ENTITY => {
            let field = body["field"].as_str().unwrap_or_default();
            assert!(
                ["settings.host", "settings.endpoint"].contains(&field),
                "{body}"
            );
            let message = body["message"].as_str().unwrap_or_default();
            json!({"ok": false, "error": {"kind": "not_allowed", "message": format!("may not be reached: {message}")}})
        }
        other => panic!("{other}: {body}"),
    }
}

fn assert_refused(body: &Value, what: &str) {
    assert_eq!(body["ok"], false, "{what}: {body}");
    assert_eq!(body["error"]["kind"], "not_allowed", "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("may not be reached"), "{what}: {message}");
}

#[tokio::test]
async fn connections_to_the_service_machine_metadata_and_private_networks_are_refused() {
    let app = strict_app(false).await;
    let stranger = app.signup("Stranger").await;
    let pg = |host: &str, port: u16| json!({"host": host, "port": port, "database": "hakobu", "user": "postgres", "tls_mode": "disable"});
    for (host, port, why) in [
        ("127.0.0.1", 5432, "the service's own PostgreSQL"),
        ("localhost", 5432, "a name that resolves to loopback"),
        ("2130706433", 5432, "loopback written as a number"),
        ("::1", 5432, "IPv6 loopback"),
        ("169.254.169.254", 80, "the cloud metadata service"),
        ("10.0.0.7", 5432, "a private network"),
        ("192.168.1.20", 5432, "a private network"),
        ("100.64.0.1", 5432, "shared address space"),
    ] {
        let body = test_connection(&app, &stranger.token, "postgresql", pg(host, port)).await;
        assert_refused(&body, why);
        let body = test_connection(
            &app,
            &stranger.token,
            "mysql",
            json!({"host": host, "port": 3306, "database": "mysql", "user": "root", "tls_mode": "disable"}),
        )
        .await;
        assert_refused(&body, why);
    }
    let message = test_connection(&app, &stranger.token, "postgresql", pg("127.0.0.1", 6543)).await
        ["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.contains("private network") && message.contains("administrator can allow it"),
        "{message}"
    );

    // Saving an address the policy refuses is refused on its field, before anything
    // connects; so is an S3 endpoint written as one.
    for (kind, settings, field) in [
        ("postgresql", pg("127.0.0.1", 6543), "settings.host"),
        (
            "mysql",
            json!({"host": "169.254.169.254", "port": 3306, "database": "d", "user": "u", "tls_mode": "disable"}),
            "settings.host",
        ),
        (
            "s3",
            json!({"bucket": "any", "endpoint": "http://[fd00:ec2::254]/", "region": "us-east-1", "auth": "access_key", "access_key_id": "AKIAX", "secret_access_key": "x"}),
            "settings.endpoint",
        ),
    ] {
        let (status, body) = app
            .post(
                "/api/connections",
                &stranger.token,
                json!({"name": "Inside", "kind": kind, "team_id": stranger.default_team, "settings": settings}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{kind}: {body}");
        assert_eq!(body["field"], field, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("private network"),
            "{body}"
        );
    }
    // A name is only known at use: saved, then refused when browsed or previewed.
    let id = app
        .create_connection(
            &stranger,
            &stranger.default_team,
            "Inside",
            "postgresql",
            pg("localhost", 5432),
        )
        .await;
    let (status, body) = app
        .get(&format!("/api/connections/{id}/schemas"), &stranger.token)
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("may not be reached"),
        "{body}"
    );
    let (status, body) = app
        .post(
            &format!("/api/connections/{id}/preview"),
            &stranger.token,
            json!({"query": "SELECT password_hash FROM users"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(!body.to_string().contains("argon2"), "{body}");

    // S3 endpoints: an address literal and the metadata service.
    for endpoint in ["http://127.0.0.1:5055", "http://169.254.169.254"] {
        let body = test_connection(
            &app,
            &stranger.token,
            "s3",
            json!({"bucket": "any", "endpoint": endpoint, "region": "us-east-1", "auth": "access_key", "access_key_id": "AKIAX", "secret_access_key": "x"}),
        )
        .await;
        assert_refused(&body, endpoint);
    }
}

/// An SSH bastion is held to the policy like a database host: a tenant may not use the
/// service's own machine or network as their bastion (the database behind a bastion is
/// resolved by the bastion, so the policy's one chance is the bastion's address). Refused
/// on the field when it is an address, at the test when it is a name; nothing connects.
#[tokio::test]
async fn a_bastion_on_the_service_network_is_refused() {
    let sshd = hakobu_testkit::Sshd::start();
    let app = strict_app(false).await;
    let stranger = app.signup("Stranger").await;
    // A private database host is fine behind a bastion: the bastion is what is checked.
    let behind = |bastion: &str| {
        json!({"host": "10.0.0.7", "port": 5432, "database": "d", "user": "postgres",
            "tls_mode": "disable", "ssh_host": bastion, "ssh_port": sshd.port,
            "ssh_user": sshd.user, "ssh_private_key": sshd.ed25519_key})
    };
    for bastion in ["127.0.0.1", "169.254.169.254", "10.0.0.8"] {
        let test = json!({"kind": "postgresql", "settings": behind(bastion)});
        let save = json!({"name": "Jump", "kind": "postgresql", "team_id": stranger.default_team, "settings": behind(bastion)});
        for (path, request) in [("/api/connections/test", test), ("/api/connections", save)] {
            let (status, body) = app.post(path, &stranger.token, request).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{bastion}: {body}"
            );
            assert_eq!(body["field"], "settings.ssh_host", "{body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .contains("private network"),
                "{body}"
            );
        }
    }
    // A name that resolves to loopback is refused when resolved, in the probe worker.
    let (status, body) = app
        .post(
            "/api/connections/test",
            &stranger.token,
            json!({"kind": "postgresql", "settings": behind("localhost")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_refused(&body, "a bastion named localhost");
    for line in sshd.ed25519_key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!body.to_string().contains(line), "the answer shows the key");
    }
}

#[tokio::test]
async fn the_service_database_stays_closed_when_loopback_is_opened() {
    // An operator who opens loopback (a demo, a single machine) still keeps the service's
    // own database port closed unless they list it themselves.
    let app = spawn_app_with(SpawnOptions {
        egress_allow: "127.0.0.0/8",
        ..Default::default()
    })
    .await;
    let stranger = app.signup("Stranger").await;
    let body = test_connection(
        &app,
        &stranger.token,
        "postgresql",
        json!({"host": "127.0.0.1", "port": 5432, "database": "hakobu", "user": "postgres", "tls_mode": "disable"}),
    )
    .await;
    assert_refused(&body, "the service's database");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("service's own database"),
        "{body}"
    );
    // MariaDB on the same machine is another service: opened with loopback.
    let body = test_connection(
        &app,
        &stranger.token,
        "mysql",
        json!({"host": "127.0.0.1", "port": 3306, "database": "mysql", "user": "root", "tls_mode": "disable"}),
    )
    .await;
    assert_eq!(body["ok"], true, "{body}");
}

#[tokio::test]
async fn a_webhook_to_loopback_is_refused_and_nothing_is_sent() {
    let app = strict_app(false).await;
    let stranger = app.signup("Stranger").await;
    let hook = Hook::start(&[]);
    // Written as an address: refused when saved, on its field.
    for settings in [
        json!({"kind": "webhook", "url": hook.url, "headers": []}),
        json!({"kind": "slack", "webhook_url": hook.url.replace("127.0.0.1", "[::ffff:127.0.0.1]")}),
    ] {
        let (status, body) = app
            .post(
                "/api/notification-destinations",
                &stranger.token,
                json!({"name": "inside", "settings": settings}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("private network"),
            "{body}"
        );
    }
    // Written as a name: saved, and refused when a message is sent.
    for url in [
        hook.url.replace("127.0.0.1", "localhost"),
        hook.url.replace("127.0.0.1", "localhost."),
    ] {
        let id = destination(
            &app,
            &stranger,
            &format!("inside {}", uuid::Uuid::new_v4().simple()),
            json!({"kind": "webhook", "url": url, "headers": []}),
        )
        .await;
        let (status, body) = app
            .post(
                &format!("/api/notification-destinations/{id}/test"),
                &stranger.token,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["delivered"], false, "{url}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains("refused"),
            "{url}: {body}"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(hook.received().is_empty(), "the webhook reached loopback");
}

/// A raw listener playing a hostile webhook: answers every connection with `head`, then
/// (when `endless`) bytes until the client hangs up; counts the connections it accepted.
async fn raw_hook(
    head: String,
    endless: bool,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let head = head.clone();
            tokio::spawn(async move {
                let mut request = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut request).await;
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let block = vec![b'x'; 64 * 1024];
                while endless && socket.write_all(&block).await.is_ok() {}
            });
        }
    });
    (port, accepted)
}

/// A webhook that refuses with an answer without end costs the quoted start of it, and
/// one that redirects to the service's own machine is not followed there.
#[tokio::test]
async fn a_webhook_answering_without_end_or_redirecting_inside_is_bounded_and_not_followed() {
    let (inside, reached_inside) = raw_hook(
        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_owned(),
        false,
    )
    .await;
    let (endless, _) = raw_hook(
        "HTTP/1.1 500 Internal Server Error\r\n\r\n".to_owned(),
        true,
    )
    .await;
    let (redirect, reached_redirect) = raw_hook(
        format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: http://localhost:{inside}/x\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"),
        false,
    )
    .await;
    // The two hooks' ports are opened, the rest of this machine is not.
    let allow: &'static str =
        Box::leak(format!("127.0.0.1:{endless}, 127.0.0.1:{redirect}").into_boxed_str());
    let app = spawn_app_with(SpawnOptions {
        egress_allow: allow,
        ..Default::default()
    })
    .await;
    let stranger = app.signup("Stranger").await;
    let test = |port: u16| {
        let (app, token) = (&app, &stranger);
        async move {
            let id = destination(
                app,
                token,
                &format!("hook {port}"),
                json!({"kind": "webhook", "url": format!("http://127.0.0.1:{port}/hook"), "headers": []}),
            )
            .await;
            let (status, body) = app
                .post(
                    &format!("/api/notification-destinations/{id}/test"),
                    &token.token,
                    json!({}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["delivered"], false, "{body}");
            body["message"].as_str().unwrap().to_owned()
        }
    };
    let message = test(endless).await;
    assert!(message.contains("500"), "{message}");
    assert!(message.contains("xxx"), "{message}");
    assert!(message.len() < 1000, "{} bytes quoted", message.len());

    let message = test(redirect).await;
    assert!(message.contains("307"), "{message}");
    assert_eq!(
        reached_redirect.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(
        reached_inside.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
}

#[tokio::test]
async fn a_run_cannot_reach_the_service_network_either() {
    let app = strict_app(true).await;
    a_run_naming_this_machine_fails_in_its_runner(&app).await;
}

/// A stranger's job whose connection names this machine (the service's own database
/// server) runs and fails in its runner, which applies the policy of its assignment, and
/// writes nothing. Answers the ended run. `app` dispatches and opens nothing.
pub async fn a_run_naming_this_machine_fails_in_its_runner(app: &TestApp) -> Value {
    let stranger = app.signup("Stranger").await;
    app.sql(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text); INSERT INTO src VALUES (1, 'a');",
    )
    .await;
    // Saved by name (an address literal would be refused at save): refused in the runner.
    let inside = app
        .create_connection(
            &stranger,
            &stranger.default_team,
            "Inside",
            "postgresql",
            json!({"host": "localhost", "port": 5432, "database": app.db_name, "user": "postgres", "tls_mode": "disable"}),
        )
        .await;
    let settings = json!({
        "source": {"connection_id": inside, "table": {"name": "src"}},
        "destination": {"connection_id": inside, "table": {"name": "dst"}, "mode": "insert"},
    });
    let (status, body) = app
        .post(
            "/api/jobs",
            &stranger.token,
            json!({"name": "Exfiltrate", "team_id": stranger.default_team, "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let job = body["id"].as_str().unwrap().to_owned();
    let (status, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &stranger.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let done = app
        .wait_for_run_end(&stranger.token, run["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["error_summary"]
            .as_str()
            .unwrap_or_default()
            .contains("which connections you configure may not reach"),
        "{done}"
    );
    let rows = app
        .query_strings("SELECT count(*) FROM information_schema.tables WHERE table_name = 'dst'")
        .await;
    assert_eq!(rows[0][0].as_deref(), Some("0"), "the runner wrote a table");
    done
}

/// The process that holds the service's secrets never opens a socket to an address a
/// tenant chose: a listener standing in for a tenant's database sees the connection come
/// from another process, whose environment holds none of the app's settings.
#[tokio::test]
async fn probes_connect_from_a_worker_without_the_services_secrets() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = spawn_app_with(SpawnOptions {
        egress_allow: "127.0.0.0/8",
        ..Default::default()
    })
    .await;
    let stranger = app.signup("Stranger").await;
    let testing = test_connection(
        &app,
        &stranger.token,
        "postgresql",
        json!({"host": "127.0.0.1", "port": port, "database": "d", "user": "u", "tls_mode": "disable"}),
    );
    // Read while the worker waits for the "database" to answer: it exits once we hang up.
    let inspect = async {
        let (stream, peer) = listener.accept().await.unwrap();
        let owner = socket_owner(peer).expect("the connecting socket is found in /proc");
        let command = std::fs::read(format!("/proc/{owner}/cmdline")).unwrap_or_default();
        let environment = std::fs::read(format!("/proc/{owner}/environ")).unwrap_or_default();
        drop(stream);
        (owner, command, environment)
    };
    let (answer, (owner, command, environment)) = tokio::join!(testing, inspect);
    assert_eq!(answer["ok"], false, "{answer}");
    assert_ne!(
        owner,
        std::process::id(),
        "the app's own process connected to the tenant's address"
    );
    let command = String::from_utf8_lossy(&command).replace('\0', " ");
    assert!(command.contains("hakobu-runner probe"), "{command}");
    let environment = String::from_utf8_lossy(&environment);
    for secret in ["HAKOBU_", "DATABASE_URL", crate::helpers::JWT_SECRET] {
        assert!(
            !environment.contains(secret),
            "the worker's environment holds {secret}"
        );
    }
}

/// The process whose socket is the local end `peer` of a loopback TCP connection.
fn socket_owner(peer: SocketAddr) -> Option<u32> {
    let SocketAddr::V4(peer) = peer else {
        return None;
    };
    // /proc/net/tcp writes the local address as hex of the address in host byte order.
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(peer.ip().octets()),
        peer.port()
    );
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&local.as_str())).then(|| fields.get(9).map(|s| s.to_string()))?
    })?;
    let wanted = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == wanted) {
                return Some(pid);
            }
        }
    }
    None
}

/// A data mart's statements connect through the same policy: a stranger's statements aimed
/// at this machine (by name, which saving allows) fail in the runner and change nothing.
#[tokio::test]
async fn a_data_marts_statements_cannot_reach_the_service_network() {
    let app = strict_app(true).await;
    let stranger = app.signup("Stranger").await;
    let inside = app
        .create_connection(
            &stranger,
            &stranger.default_team,
            "Inside",
            "postgresql",
            json!({"host": "localhost", "port": 5432, "database": app.db_name, "user": "postgres", "tls_mode": "disable"}),
        )
        .await;
    let settings = json!({
        "kind": "data_mart",
        "source": {"connection_id": inside, "statements": "CREATE TABLE pwned (x int)"},
        "destination": {"connection_id": inside},
    });
    let (status, body) = app
        .post(
            "/api/jobs",
            &stranger.token,
            json!({"name": "Plant a table", "team_id": stranger.default_team, "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let job = body["id"].as_str().unwrap().to_owned();
    let (status, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &stranger.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    let done = app
        .wait_for_run_end(&stranger.token, run["id"].as_str().unwrap())
        .await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["error_summary"]
            .as_str()
            .unwrap_or_default()
            .contains("which connections you configure may not reach"),
        "{done}"
    );
    let rows = app
        .query_strings("SELECT count(*) FROM information_schema.tables WHERE table_name = 'pwned'")
        .await;
    assert_eq!(rows[0][0].as_deref(), Some("0"), "the statements ran");
}

/// A listener on loopback, and `stranger`'s Snowflake and BigQuery connections whose
/// endpoint names it by host name (address literals are refused when saved); with
/// `token_there`, the BigQuery key's token URI names it too.
async fn warehouses_on_loopback(
    app: &TestApp,
    stranger: &crate::helpers::TestUser,
    token_there: bool,
) -> (tokio::net::TcpListener, String, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let token_uri = if token_there {
        format!("{endpoint}/token")
    } else {
        "https://oauth2.googleapis.com/token".to_owned()
    };
    let sf = app
        .create_connection(
            stranger,
            &stranger.default_team,
            "SF",
            "snowflake",
            json!({"account": "test", "endpoint": endpoint, "user": "u", "password": "pw", "database": "d"}),
        )
        .await;
    let bq = app
        .create_connection(
            stranger,
            &stranger.default_team,
            "BQ",
            "bigquery",
            json!({"project": "p1", "dataset": "d", "endpoint": endpoint,
                "json_keyfile": crate::warehouses::service_account_key(&token_uri, &crate::warehouses::rsa_private_key())}),
        )
        .await;
    (listener, sf, bq)
}

/// A data mart on a warehouse signs in through the same policy from the runner: a
/// stranger's BigQuery and Snowflake data marts aimed at this machine (by a host name,
/// which saving allows) fail in the runner before anything reaches the listener.
#[tokio::test]
async fn a_data_mart_on_a_warehouse_cannot_reach_the_service_network() {
    let app = strict_app(true).await;
    let stranger = app.signup("Stranger").await;
    let (listener, sf, bq) = warehouses_on_loopback(&app, &stranger, true).await;
    for (id, settings) in [
        (
            &sf,
            json!({"source": {"connection_id": sf, "statements": "DROP TABLE t"},
                "destination": {"connection_id": sf}}),
        ),
        (
            &bq,
            json!({"source": {"connection_id": bq, "query": "SELECT 1 AS x"},
                "destination": {"connection_id": bq, "table": {"name": "t"}, "mode": "replace"}}),
        ),
    ] {
        let mut settings = settings;
        settings["kind"] = json!("data_mart");
        let (status, body) = app
            .post(
                "/api/jobs",
                &stranger.token,
                json!({"name": format!("Mart on {id}"), "team_id": stranger.default_team, "settings": settings}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let job = body["id"].as_str().unwrap().to_owned();
        let (status, run) = app
            .post(&format!("/api/jobs/{job}/runs"), &stranger.token, json!({}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{run}");
        let done = app
            .wait_for_run_end(&stranger.token, run["id"].as_str().unwrap())
            .await;
        assert_eq!(done["status"], "failed", "{done}");
        let summary = done["error_summary"].as_str().unwrap_or_default();
        assert!(summary.contains("may not"), "{done}");
        assert!(!summary.contains("\"pw\""), "{done}");
    }
    let accepted =
        tokio::time::timeout(std::time::Duration::from_millis(300), listener.accept()).await;
    assert!(accepted.is_err(), "the listener on loopback was reached");
}

/// A data warehouse's endpoint and a BigQuery key's `token_uri` are addresses a tenant
/// chooses, held to the policy like a database host: an address literal on the service's
/// network is refused on its field when saved; a name (the token URI inside the key, a
/// host name) is refused when the probe worker resolves it, and nothing is sent.
#[tokio::test]
async fn a_warehouse_endpoint_or_token_uri_on_the_service_network_is_refused() {
    let app = strict_app(false).await;
    let stranger = app.signup("Stranger").await;
    for endpoint in [
        "http://127.0.0.1:5066",
        "http://169.254.169.254",
        "http://localhost:9050",
    ] {
        let body = test_connection(
            &app,
            &stranger.token,
            "snowflake",
            json!({"account": "test", "endpoint": endpoint, "user": "u", "password": "pw", "database": "d"}),
        )
        .await;
        assert_refused(&body, endpoint);
        assert!(!body.to_string().contains("\"pw\""), "{body}");
        let body = test_connection(
            &app,
            &stranger.token,
            "bigquery",
            json!({"project": "p1", "dataset": "d", "endpoint": endpoint,
                "json_keyfile": crate::warehouses::service_account_key("https://oauth2.googleapis.com/token", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}),
        )
        .await;
        assert_refused(&body, endpoint);
    }
    let (status, body) = app
        .post(
            "/api/connections",
            &stranger.token,
            json!({"name": "Inside", "kind": "snowflake", "team_id": stranger.default_team,
                "settings": {"account": "test", "endpoint": "http://127.0.0.1:5066", "user": "u", "password": "pw", "database": "d"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "settings.endpoint", "{body}");

    // The key's token_uri aimed at this machine (the API endpoint a public address, which
    // is not contacted before the token): refused before the signed request is sent.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let key = crate::warehouses::service_account_key(
        &format!("http://localhost:{port}/token"),
        &crate::warehouses::rsa_private_key(),
    );
    let body = test_connection(
        &app,
        &stranger.token,
        "bigquery",
        json!({"project": "p1", "dataset": "d", "endpoint": "https://8.8.8.8", "json_keyfile": key}),
    )
    .await;
    assert_eq!(body["ok"], false, "{body}");
    let accepted =
        tokio::time::timeout(std::time::Duration::from_millis(300), listener.accept()).await;
    assert!(
        accepted.is_err(),
        "the token endpoint on loopback was reached"
    );
    assert_eq!(body["error"]["kind"], "not_allowed", "{body}");
}

/// A saved warehouse connection whose endpoint names this machine (a host name: address
/// literals are refused when saved) is refused when browsed, previewed or checked: the
/// probe worker resolves the name through the tenant's policy, and nothing reaches the
/// listener behind it.
#[tokio::test]
async fn browsing_previewing_or_checking_a_warehouse_on_the_service_network_is_refused() {
    let app = strict_app(false).await;
    let stranger = app.signup("Stranger").await;
    let (listener, sf, bq) = warehouses_on_loopback(&app, &stranger, false).await;
    for id in [&sf, &bq] {
        for path in ["schemas", "tables", "columns?table=t"] {
            let (status, body) = app
                .get(&format!("/api/connections/{id}/{path}"), &stranger.token)
                .await;
            assert_eq!(status, StatusCode::BAD_GATEWAY, "{path}: {body}");
            let message = body["message"].as_str().unwrap_or_default();
            assert!(message.contains("may not be reached"), "{path}: {body}");
        }
        let (status, body) = app
            .post(
                &format!("/api/connections/{id}/preview"),
                &stranger.token,
                json!({"table": {"name": "t"}}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
        assert!(body.to_string().contains("may not be reached"), "{body}");
        let (status, body) = app
            .post(
                "/api/data-checks/preview",
                &stranger.token,
                json!({"connection_id": id, "sql": "SELECT 1", "operator": "=", "expected": "1"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["passed"], false, "{body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains("may not be reached"), "{body}");
        assert!(!body.to_string().contains("\"pw\""), "{body}");
    }
    let accepted =
        tokio::time::timeout(std::time::Duration::from_millis(300), listener.accept()).await;
    assert!(accepted.is_err(), "the listener on loopback was reached");
}
