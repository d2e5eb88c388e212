//! Notifications end to end: destinations (secrets never returned), email confirmation
//! through a real local SMTP server (aiosmtpd), rules firing exactly when their condition
//! holds, delivery through the outbox to a local HTTP listener playing Slack or a webhook
//! (retries after 500s, giving up after a 404), the duration rule during a long run, and
//! exactly one delivery across an app restart.

use crate::helpers::{SpawnOptions, TestApp, TestUser, server_url, spawn_app_with};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hakobu::mail::{SmtpSecurity, SmtpSettings};
use hakobu_core::ids::RunId;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

// --- a real SMTP server --------------------------------------------------------------

/// An aiosmtpd server on a free port, storing what it receives in a Maildir of its own.
pub struct SmtpSink {
    pub port: u16,
    dir: PathBuf,
    child: std::process::Child,
}

/// One received message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
    pub message_id: Option<String>,
}

/// The Python interpreter with aiosmtpd (`scripts/smtp.sh`).
pub fn smtp_python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/smtp.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .output()
            .expect("bash runs scripts/smtp.sh");
        assert!(
            out.status.success(),
            "scripts/smtp.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    })
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir =
            std::env::temp_dir().join(format!("hakobu-smtp-{}", uuid::Uuid::new_v4().simple()));
        let child = std::process::Command::new(smtp_python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        // Owned by the sink from here: its Drop stops the server, also when this panics.
        let sink = SmtpSink { port, dir, child };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return sink;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("aiosmtpd did not listen on {port}");
    }

    pub fn settings(&self) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".to_owned(),
            port: self.port,
            security: SmtpSecurity::None,
            username: None,
            password: None,
            from: "Hakobu <hakobu@example.com>".to_owned(),
        }
    }

    pub fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.join("new"))
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|raw| parse_mail(&raw))
            .collect()
    }

    /// Waits until at least `n` messages arrived (20 s at most).
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        for _ in 0..200 {
            let mails = self.mails();
            if mails.len() >= n {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} mails, got {:?}", self.mails());
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn parse_mail(raw: &str) -> Mail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let mut headers: HashMap<String, String> = HashMap::new();
    let mut last = String::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = headers.get_mut(&last) {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            last = k.trim().to_ascii_lowercase();
            headers.insert(last.clone(), v.trim().to_owned());
        }
    }
    let body = match headers
        .get("content-transfer-encoding")
        .map(|s| s.to_ascii_lowercase())
    {
        Some(e) if e == "quoted-printable" => decode_qp(body),
        _ => body.to_owned(),
    };
    Mail {
        to: headers.get("to").cloned().unwrap_or_default(),
        subject: headers.get("subject").cloned().unwrap_or_default(),
        body,
        message_id: headers.get("message-id").cloned(),
    }
}

fn decode_qp(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first `http(s)://...` link in a text.
pub fn link_in(text: &str) -> String {
    let start = text.find("http").expect("a link in the mail");
    text[start..].split_whitespace().next().unwrap().to_owned()
}

// --- a local HTTP listener playing Slack or a webhook --------------------------------

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: Value,
    pub answered: u16,
}

#[derive(Default)]
struct HookState {
    /// Statuses to answer, in order; 200 once they run out.
    script: Mutex<VecDeque<u16>>,
    received: Mutex<Vec<Received>>,
}

pub struct Hook {
    pub url: String,
    state: Arc<HookState>,
}

async fn record(req: HttpRequest, body: web::Bytes, state: web::Data<HookState>) -> HttpResponse {
    let status = state.script.lock().unwrap().pop_front().unwrap_or(200);
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    state.received.lock().unwrap().push(Received {
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        answered: status,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .body(if status == 200 { "ok" } else { "no_service" })
}

impl Hook {
    pub fn start(script: &[u16]) -> Hook {
        let state = web::Data::new(HookState::default());
        state.script.lock().unwrap().extend(script.iter().copied());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let data = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(record))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Hook {
            url: format!("http://127.0.0.1:{port}/services/T000/B000/XXXX"),
            state: state.into_inner(),
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived (20 s at most).
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("expected {n} requests, got {:?}", self.received());
    }
}

// --- helpers ----------------------------------------------------------------------

pub async fn spawn(notifier: bool, smtp: Option<&SmtpSink>) -> TestApp {
    spawn_app_with(SpawnOptions {
        notifier,
        smtp: smtp.map(SmtpSink::settings),
        ..Default::default()
    })
    .await
}

pub async fn destination(app: &TestApp, owner: &TestUser, name: &str, settings: Value) -> String {
    let (status, body) = app
        .post(
            "/api/notification-destinations",
            &owner.token,
            json!({"name": name, "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

pub async fn webhook(app: &TestApp, owner: &TestUser, hook: &Hook) -> String {
    destination(
        app,
        owner,
        &format!("hook {}", uuid::Uuid::new_v4().simple()),
        json!({"kind": "webhook", "url": hook.url, "headers": [{"name": "Authorization", "value": "Bearer hook-secret-123", "secret": true}]}),
    )
    .await
}

/// A table-to-table job on the test's own database; answers its id.
pub async fn job(app: &TestApp, owner: &TestUser, name: &str) -> String {
    job_with(app, owner, name, json!({})).await
}

/// As [`job`], with more settings (`retry`, `checks`, ...).
pub async fn job_with(app: &TestApp, owner: &TestUser, name: &str, extra: Value) -> String {
    app.sql("CREATE TABLE IF NOT EXISTS src (id bigint PRIMARY KEY, name text)")
        .await;
    let conn = app
        .create_connection(
            owner,
            &owner.default_team,
            &format!("PG {name}"),
            "postgresql",
            app.pg_settings(),
        )
        .await;
    let mut settings = json!({
        "source": {"connection_id": conn, "table": {"name": "src"}},
        "destination": {"connection_id": conn, "table": {"name": "dst"}, "mode": "insert"},
        "overlap": "allow"});
    if let (Some(s), Value::Object(extra)) = (settings.as_object_mut(), extra) {
        s.extend(extra);
    }
    let (status, body) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": name, "team_id": owner.default_team, "settings": settings}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

pub async fn rule(app: &TestApp, owner: &TestUser, job: Option<&str>, body: Value) -> String {
    let path = match job {
        Some(j) => format!("/api/jobs/{j}/notification-rules"),
        None => "/api/notification-rules".to_owned(),
    };
    let (status, created) = app.post(&path, &owner.token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["id"].as_str().unwrap().to_owned()
}

/// Queues a run (no dispatcher in these tests); answers its id.
pub async fn queue_run(app: &TestApp, owner: &TestUser, job: &str) -> String {
    let (status, run) = app
        .post(&format!("/api/jobs/{job}/runs"), &owner.token, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{run}");
    run["id"].as_str().unwrap().to_owned()
}

pub fn pool(app: &TestApp) -> hakobu::db::DbPool {
    hakobu::db::build_pool(&format!("{}/{}", server_url(), app.db_name), 2).unwrap()
}

/// Ends a run the way the runner's result report does.
pub async fn finish(app: &TestApp, run: &str, outcome: &str, rows: i64, error: Option<&str>) {
    let result = serde_json::from_value(json!({
        "outcome": outcome, "rows_read": rows, "rows_written": rows, "rows_skipped": 0,
        "bytes_read": 0, "error": error
    }))
    .unwrap();
    let pool = pool(app);
    let mut conn = pool.get().await.unwrap();
    hakobu::runs::finish(&mut conn, run.parse::<RunId>().unwrap(), result)
        .await
        .unwrap()
        .expect("the run was not final yet");
}

async fn outbox_status(app: &TestApp, run: &str) -> Vec<(String, String, i32)> {
    app.query_strings(&format!(
        "SELECT event, status, attempts FROM notification_outbox WHERE run_id = '{run}' ORDER BY event"
    ))
    .await
    .into_iter()
    .map(|r| {
        (
            r[0].clone().unwrap(),
            r[1].clone().unwrap(),
            r[2].clone().unwrap().parse().unwrap(),
        )
    })
    .collect()
}

async fn wait_outbox_settled(app: &TestApp) {
    for _ in 0..200 {
        let pending = app
            .query_strings("SELECT count(*) FROM notification_outbox WHERE status = 'pending'")
            .await;
        if pending[0][0].as_deref() == Some("0") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the outbox still has pending rows after 20 s");
}

// --- tests ------------------------------------------------------------------------

#[tokio::test]
async fn destinations_keep_secrets_write_only_and_validate_fields() {
    let app = spawn(false, None).await;
    let owner = app.signup("Acme").await;
    let member = app.add_member(&owner, "member", json!([])).await;
    let slack_url = "https://hooks.slack.example/services/T1/B1/very-secret-token";
    let slack = destination(
        &app,
        &owner,
        "Data alerts",
        json!({"kind": "slack", "webhook_url": slack_url}),
    )
    .await;
    let (_, view) = app
        .get(
            &format!("/api/notification-destinations/{slack}"),
            &member.token,
        )
        .await;
    assert_eq!(
        view["settings"]["webhook_url"],
        json!({"set": true}),
        "{view}"
    );
    assert_eq!(view["confirmed"], true);
    let hook = destination(
        &app,
        &owner,
        "Ops hook",
        json!({"kind": "webhook", "url": "https://ops.example/hook", "headers": [
            {"name": "Authorization", "value": "Bearer header-secret-456", "secret": true},
            {"name": "X-Team", "value": "data"}]}),
    )
    .await;
    let (_, list) = app
        .get("/api/notification-destinations", &member.token)
        .await;
    let text = list.to_string();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        !text.contains("very-secret-token") && !text.contains("header-secret-456"),
        "{text}"
    );
    assert!(
        text.contains("X-Team") && text.contains("\"data\""),
        "{text}"
    );
    let stored = app
        .query_strings("SELECT secrets::text FROM notification_destinations")
        .await;
    assert!(
        stored
            .iter()
            .all(|r| !r[0].as_deref().unwrap().contains("secret")),
        "secrets are encrypted at rest: {stored:?}"
    );

    // An update that leaves the secret out keeps it.
    let (status, updated) = app
        .put(
            &format!("/api/notification-destinations/{hook}"),
            &owner.token,
            json!({"name": "Ops hook 2", "settings": {"kind": "webhook", "url": "https://ops.example/hook2", "headers": [
                {"name": "Authorization", "secret": true}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        updated["settings"]["headers"][0]["value"],
        json!({"set": true})
    );

    // Bad input names the field.
    let (status, body) = app
        .post(
            "/api/notification-destinations",
            &owner.token,
            json!({"name": "", "settings": {"kind": "webhook", "url": "ftp://x", "headers": [{"name": "Content-Type", "value": "x"}]}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "settings.url", "settings.headers[0].name"]);
    let (status, body) = app
        .post(
            "/api/notification-destinations",
            &owner.token,
            json!({"name": "Data alerts", "settings": {"kind": "slack", "webhook_url": "https://x.example/h"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // Without a mail server, email destinations are refused rather than left unconfirmable.
    let (status, body) = app
        .post(
            "/api/notification-destinations",
            &owner.token,
            json!({"name": "Mail", "settings": {"kind": "email", "address": "a@example.com"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("HAKOBU_SMTP_HOST")
    );
    // Members see destinations but may not change them.
    let (status, _) = app
        .post(
            "/api/notification-destinations",
            &member.token,
            json!({"name": "x", "settings": {"kind": "slack", "webhook_url": "https://x.example/h"}}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .delete(
            &format!("/api/notification-destinations/{slack}"),
            &member.token,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .delete(
            &format!("/api/notification-destinations/{slack}"),
            &owner.token,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let actions = app.audit_actions(&owner).await;
    for a in [
        "destination.create",
        "destination.update",
        "destination.delete",
    ] {
        assert!(actions.contains(&a.to_owned()), "{actions:?}");
    }
    let logs = crate::helpers::captured_logs();
    assert!(!logs.contains("very-secret-token") && !logs.contains("header-secret-456"));
}

#[tokio::test]
async fn email_addresses_are_confirmed_by_a_link_before_any_message() {
    let smtp = SmtpSink::start().await;
    let app = spawn(false, Some(&smtp)).await;
    let owner = app.signup("Acme").await;
    let id = destination(
        &app,
        &owner,
        "Analyst mail",
        json!({"kind": "email", "address": "Analyst@Example.com"}),
    )
    .await;
    let (_, view) = app
        .get(
            &format!("/api/notification-destinations/{id}"),
            &owner.token,
        )
        .await;
    assert_eq!(view["confirmed"], false);
    assert_eq!(view["settings"]["address"], "analyst@example.com");
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0].to, "analyst@example.com");
    assert_eq!(
        mails[0].subject,
        "Confirm Hakobu notifications to this address"
    );
    assert!(mails[0].body.contains("Analyst mail"), "{}", mails[0].body);

    // Nothing goes to an unconfirmed address.
    let (status, body) = app
        .post(
            &format!("/api/notification-destinations/{id}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let link = link_in(&mails[0].body);
    let path = link
        .strip_prefix("http://127.0.0.1:8080")
        .expect("public URL");
    // Opening the link (as a mail scanner would) only shows a button.
    let page = app
        .client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("<form method=\"post\""), "{page}");
    let (_, view) = app
        .get(
            &format!("/api/notification-destinations/{id}"),
            &owner.token,
        )
        .await;
    assert_eq!(
        view["confirmed"], false,
        "not confirmed by opening the link"
    );
    let token = path.rsplit("token=").next().unwrap().to_owned();
    let press = || {
        app.client
            .post(format!(
                "{}/api/notification-destinations/confirm",
                app.address
            ))
            .header("content-type", "application/x-www-form-urlencoded")
            // As the link carries it: already URL-encoded.
            .body(format!("token={token}"))
            .send()
    };
    let confirmed = press().await.unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert!(confirmed.text().await.unwrap().contains("will now receive"));
    // The link works once.
    assert_eq!(press().await.unwrap().status(), StatusCode::NOT_FOUND);
    let again = app
        .client
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let (_, view) = app
        .get(
            &format!("/api/notification-destinations/{id}"),
            &owner.token,
        )
        .await;
    assert_eq!(view["confirmed"], true);

    let (status, body) = app
        .post(
            &format!("/api/notification-destinations/{id}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["delivered"], true, "{body}");
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails[1].subject, "[Hakobu] Test message: Sample job failed");
    assert!(
        mails[1].body.contains("Sample job failed after 1 min 35 s"),
        "{}",
        mails[1].body
    );
    assert!(
        mails[1]
            .body
            .contains("Open in Hakobu: http://127.0.0.1:8080"),
        "{}",
        mails[1].body
    );
}

#[tokio::test]
async fn test_send_reaches_slack_and_webhooks_with_sample_values() {
    let app = spawn(false, None).await;
    let owner = app.signup("Acme").await;
    let slack_hook = Hook::start(&[]);
    let slack = destination(
        &app,
        &owner,
        "Slack",
        json!({"kind": "slack", "webhook_url": slack_hook.url}),
    )
    .await;
    let (status, body) = app
        .post(
            &format!("/api/notification-destinations/{slack}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["delivered"], true, "{body}");
    let got = slack_hook.wait_for(1).await;
    let blocks = &got[0].body["blocks"];
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("Sample job failed"),
        "{blocks}"
    );
    assert_eq!(blocks[1]["elements"][0]["type"], "button");

    let failing = Hook::start(&[404]);
    let hook = webhook(&app, &owner, &failing).await;
    let (_, body) = app
        .post(
            &format!("/api/notification-destinations/{hook}/test"),
            &owner.token,
            json!({}),
        )
        .await;
    assert_eq!(body["delivered"], false, "{body}");
    assert!(body["message"].as_str().unwrap().contains("404"), "{body}");
    let got = failing.wait_for(1).await;
    assert_eq!(got[0].headers["authorization"], "Bearer hook-secret-123");
    assert_eq!(got[0].body["job_name"], "Sample job");
}

/// Each rule fires exactly when its condition holds, once per run, and never otherwise.
#[tokio::test]
async fn each_condition_fires_exactly_when_it_should() {
    let app = spawn(true, None).await;
    let owner = app.signup("Acme").await;
    let hook = Hook::start(&[]);
    let dest = webhook(&app, &owner, &hook).await;
    let job = job(&app, &owner, "Orders").await;
    for body in [
        json!({"destination_id": dest, "event": "success"}),
        json!({"destination_id": dest, "event": "failure"}),
        json!({"destination_id": dest, "event": "rows_below", "threshold": 5}),
        json!({"destination_id": dest, "event": "rows_above", "threshold": 10}),
        json!({"destination_id": dest, "event": "check_failed"}),
        json!({"destination_id": dest, "event": "check_warned"}),
        json!({"destination_id": dest, "event": "duration_over", "threshold": 3600}),
        json!({"destination_id": dest, "event": "success", "enabled": false}),
    ] {
        rule(&app, &owner, Some(&job), body).await;
    }
    let mut expected: HashMap<String, Vec<&str>> = HashMap::new();
    let cases: [(&str, i64, Vec<&str>); 5] = [
        ("succeeded", 7, vec!["success"]),
        ("succeeded", 3, vec!["rows_below", "success"]),
        ("succeeded", 20, vec!["rows_above", "success"]),
        ("failed", 0, vec!["failure"]),
        ("cancelled", 0, vec!["failure"]),
    ];
    for (outcome, rows, events) in cases {
        let run = queue_run(&app, &owner, &job).await;
        finish(
            &app,
            &run,
            outcome,
            rows,
            (outcome != "succeeded").then_some("boom"),
        )
        .await;
        expected.insert(run, events);
    }
    // Checks: one failing `fail` check turns success into failure; a warning does not.
    for (outcome, events) in [
        ("failed", vec!["check_failed", "failure"]),
        ("warned", vec!["check_warned", "success"]),
    ] {
        let run = queue_run(&app, &owner, &job).await;
        app.sql(&format!(
            "INSERT INTO run_checks (run_id, position, name, outcome, actual, expected, operator) \
             VALUES ('{run}', 0, 'no negatives', '{outcome}', '2', '0', '=')"
        ))
        .await;
        finish(&app, &run, "succeeded", 7, None).await;
        let (_, view) = app.get(&format!("/api/runs/{run}"), &owner.token).await;
        let status = if outcome == "failed" {
            "failed"
        } else {
            "succeeded"
        };
        assert_eq!(view["status"], status, "{view}");
        expected.insert(run, events);
    }
    // A timeout (the watchdog's path) is a failure too.
    let run = queue_run(&app, &owner, &job).await;
    let pool = pool(&app);
    let mut conn = pool.get().await.unwrap();
    assert!(
        hakobu::runs::finish_as(
            &mut conn,
            run.parse().unwrap(),
            hakobu_core::api::runs::RunStatus::TimedOut,
            "too slow"
        )
        .await
        .unwrap()
    );
    expected.insert(run, vec!["failure"]);

    let total: usize = expected.values().map(Vec::len).sum();
    hook.wait_for(total).await;
    wait_outbox_settled(&app).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = hook.received();
    assert_eq!(got.len(), total, "nothing more than expected: {got:?}");
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for r in &got {
        seen.entry(r.body["run_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(r.body["event"].as_str().unwrap().to_owned());
    }
    for (run, events) in &expected {
        let mut got = seen.remove(run).unwrap_or_default();
        got.sort();
        assert_eq!(got, *events, "run {run}");
    }
    assert!(seen.is_empty(), "{seen:?}");
    // The message and the header carry what a receiver needs.
    let first = &got[0];
    assert_eq!(first.headers["authorization"], "Bearer hook-secret-123");
    assert_eq!(
        first.headers["idempotency-key"],
        first.body["id"].as_str().unwrap()
    );
    assert!(
        first.body["run_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:8080/runs/")
    );
    assert_eq!(first.body["job_name"], "Orders");
    // Delivered notifications are listed on the run.
    let run = expected.keys().next().unwrap();
    let (_, deliveries) = app
        .get(&format!("/api/runs/{run}/notifications"), &owner.token)
        .await;
    assert!(
        deliveries
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "delivered"),
        "{deliveries}"
    );
}

/// A failed attempt followed by a retry notifies once, for the last attempt.
#[tokio::test]
async fn failure_waits_for_the_last_attempt_and_defaults_apply_without_own_rules() {
    let app = spawn(true, None).await;
    let owner = app.signup("Acme").await;
    let own_hook = Hook::start(&[]);
    let default_hook = Hook::start(&[]);
    let own = webhook(&app, &owner, &own_hook).await;
    let default = webhook(&app, &owner, &default_hook).await;
    let with_rules = job_with(
        &app,
        &owner,
        "With rules",
        json!({"retry": {"count": 1, "backoff_seconds": 3600}}),
    )
    .await;
    let without = job(&app, &owner, "Without rules").await;
    rule(
        &app,
        &owner,
        Some(&with_rules),
        json!({"destination_id": own, "event": "failure"}),
    )
    .await;
    rule(
        &app,
        &owner,
        None,
        json!({"destination_id": default, "event": "failure"}),
    )
    .await;
    rule(
        &app,
        &owner,
        None,
        json!({"destination_id": default, "event": "success"}),
    )
    .await;

    // The job makes 2 attempts: the first failure is not the last word.
    let run = queue_run(&app, &owner, &with_rules).await;
    finish(&app, &run, "failed", 0, Some("first try")).await;
    let retry = app
        .query_strings(&format!(
            "SELECT id FROM runs WHERE root_run_id = '{run}' AND attempt = 2"
        ))
        .await;
    assert_eq!(retry.len(), 1, "a retry was queued");
    let retry = retry[0][0].clone().unwrap();
    finish(&app, &retry, "failed", 0, Some("second try")).await;
    let got = own_hook.wait_for(1).await;
    assert_eq!(
        got[0].body["run_id"],
        retry.as_str(),
        "only the last attempt notifies"
    );
    let other = queue_run(&app, &owner, &without).await;
    finish(&app, &other, "succeeded", 1, None).await;
    let run_with_rules_success = queue_run(&app, &owner, &with_rules).await;
    finish(&app, &run_with_rules_success, "succeeded", 1, None).await;
    wait_outbox_settled(&app).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(own_hook.received().len(), 1, "{:?}", own_hook.received());
    let defaults: Vec<(String, String)> = default_hook
        .received()
        .iter()
        .map(|r| {
            (
                r.body["job_name"].as_str().unwrap().to_owned(),
                r.body["event"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // The job with its own failure rule still gets the default for success.
    let mut defaults = defaults;
    defaults.sort();
    assert_eq!(
        defaults,
        [
            ("With rules".to_owned(), "success".to_owned()),
            ("Without rules".to_owned(), "success".to_owned())
        ]
    );
}

#[tokio::test]
async fn slack_delivery_retries_after_errors_and_gives_up_on_404() {
    let app = spawn(true, None).await;
    let owner = app.signup("Acme").await;
    let flaky = Hook::start(&[500, 500, 200]);
    let gone = Hook::start(&[404]);
    let slack = destination(
        &app,
        &owner,
        "Slack",
        json!({"kind": "slack", "webhook_url": flaky.url}),
    )
    .await;
    let dead = destination(
        &app,
        &owner,
        "Old Slack",
        json!({"kind": "slack", "webhook_url": gone.url}),
    )
    .await;
    let job = job(&app, &owner, "Nightly orders").await;
    rule(
        &app,
        &owner,
        Some(&job),
        json!({"destination_id": slack, "event": "success", "mentions": ["U024BE7LH", "here"],
               "template": "{{ job_name }}: {{ rows }} rows, {{ status }}"}),
    )
    .await;
    rule(
        &app,
        &owner,
        Some(&job),
        json!({"destination_id": dead, "event": "success"}),
    )
    .await;
    let run = queue_run(&app, &owner, &job).await;
    finish(&app, &run, "succeeded", 42, None).await;

    let got = flaky.wait_for(3).await;
    assert_eq!(
        got.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    let keys: std::collections::HashSet<&str> = got
        .iter()
        .map(|r| r.headers["idempotency-key"].as_str())
        .collect();
    assert_eq!(keys.len(), 1, "every retry carries the same event id");
    let text = got[2].body["blocks"][0]["text"]["text"].as_str().unwrap();
    assert_eq!(
        text,
        "<@U024BE7LH> <!here> Nightly orders: 42 rows, succeeded"
    );
    assert_eq!(
        got[2].body["blocks"][1]["elements"][0]["url"],
        format!("http://127.0.0.1:8080/runs/{run}")
    );
    wait_outbox_settled(&app).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(gone.received().len(), 1, "a 404 is not retried");
    assert_eq!(flaky.received().len(), 3, "no send after the success");
    let rows = app
        .query_strings(&format!(
            "SELECT d.name, o.status, o.attempts, o.last_error, \
             (SELECT count(*) FROM notification_attempts a WHERE a.outbox_id = o.id), \
             (SELECT string_agg(a.http_status::text, ',' ORDER BY a.attempt) FROM notification_attempts a WHERE a.outbox_id = o.id) \
             FROM notification_outbox o JOIN notification_destinations d ON d.id = o.destination_id \
             WHERE o.run_id = '{run}' ORDER BY d.name"
        ))
        .await;
    assert_eq!(rows[0][0].as_deref(), Some("Old Slack"));
    assert_eq!(rows[0][1].as_deref(), Some("failed"));
    assert_eq!(rows[0][2].as_deref(), Some("1"));
    assert!(rows[0][3].as_deref().unwrap().contains("404"), "{rows:?}");
    assert_eq!(rows[1][1].as_deref(), Some("delivered"));
    assert_eq!(rows[1][4].as_deref(), Some("3"));
    assert_eq!(rows[1][5].as_deref(), Some("500,500,200"));
    // A failed delivery never touches the run.
    let (_, view) = app.get(&format!("/api/runs/{run}"), &owner.token).await;
    assert_eq!(view["status"], "succeeded");
    let statuses = outbox_status(&app, &run).await;
    assert_eq!(statuses.len(), 2);
}

/// Rows written before a restart are delivered once by the next app, and a further
/// replica (or restart) does not send them again.
#[tokio::test]
async fn an_app_restart_between_outbox_write_and_delivery_sends_exactly_once() {
    let hook = Hook::start(&[]);
    let first = spawn(false, None).await;
    let owner = first.signup("Acme").await;
    // No secret header: each test app has its own HAKOBU_SECRET_KEY (real replicas share one).
    let dest = destination(
        &first,
        &owner,
        "Plain hook",
        json!({"kind": "webhook", "url": hook.url}),
    )
    .await;
    let job = job(&first, &owner, "Orders").await;
    rule(
        &first,
        &owner,
        Some(&job),
        json!({"destination_id": dest, "event": "success"}),
    )
    .await;
    let mut runs = Vec::new();
    for _ in 0..8 {
        let run = queue_run(&first, &owner, &job).await;
        finish(&first, &run, "succeeded", 1, None).await;
        runs.push(run);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(hook.received().is_empty(), "the first app does not deliver");
    assert_eq!(
        first
            .query_strings("SELECT count(*) FROM notification_outbox WHERE status = 'pending'")
            .await[0][0]
            .as_deref(),
        Some("8")
    );
    // "Restart": two new app processes on the same database deliver side by side.
    let second = spawn_app_with(SpawnOptions {
        notifier: true,
        database: Some(first.db_name.clone()),
        ..Default::default()
    })
    .await;
    let third = spawn_app_with(SpawnOptions {
        notifier: true,
        database: Some(first.db_name.clone()),
        ..Default::default()
    })
    .await;
    hook.wait_for(8).await;
    wait_outbox_settled(&first).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = hook.received();
    assert_eq!(got.len(), 8, "exactly once each: {got:?}");
    let mut delivered: Vec<&str> = got
        .iter()
        .map(|r| r.body["run_id"].as_str().unwrap())
        .collect();
    delivered.sort();
    let mut expected: Vec<&str> = runs.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(delivered, expected);
    drop(third);
    drop(second);
}

/// The duration rule fires while the run is still going, once.
#[tokio::test]
async fn the_duration_rule_fires_during_a_long_run() {
    let app = spawn_app_with(SpawnOptions {
        notifier: true,
        dispatcher: true,
        ..Default::default()
    })
    .await;
    let owner = app.signup("Acme").await;
    let hook = Hook::start(&[]);
    let dest = webhook(&app, &owner, &hook).await;
    let conn = app.pg_connection(&owner).await;
    let (status, body) = app
        .post(
            "/api/jobs",
            &owner.token,
            json!({"name": "Slow", "team_id": owner.default_team, "settings": {
                "source": {"connection_id": conn, "query": "SELECT 1::bigint AS id FROM pg_sleep(8)"},
                "destination": {"connection_id": conn, "table": {"name": "slow_dst"}, "mode": "insert"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let job = body["id"].as_str().unwrap().to_owned();
    rule(
        &app,
        &owner,
        Some(&job),
        json!({"destination_id": dest, "event": "duration_over", "threshold": 2}),
    )
    .await;
    let run = queue_run(&app, &owner, &job).await;
    let got = hook.wait_for(1).await;
    let (_, during) = app.get(&format!("/api/runs/{run}"), &owner.token).await;
    assert!(
        ["starting", "running"].contains(&during["status"].as_str().unwrap()),
        "the message came while the run was going: {during}"
    );
    assert_eq!(got[0].body["event"], "duration_over");
    assert!(
        got[0].body["message"]
            .as_str()
            .unwrap()
            .contains("longer than 2 s"),
        "{}",
        got[0].body
    );
    for _ in 0..120 {
        let (_, view) = app.get(&format!("/api/runs/{run}"), &owner.token).await;
        if view["finished_at"].is_string() {
            assert_eq!(view["status"], "succeeded", "{view}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    wait_outbox_settled(&app).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.received().len(), 1, "one event per rule and run");
}

#[tokio::test]
async fn failure_mail_and_schedule_disabled_event_reach_their_destinations() {
    let smtp = SmtpSink::start().await;
    let app = spawn(true, Some(&smtp)).await;
    let owner = app.signup("Acme").await;
    let mail = destination(
        &app,
        &owner,
        "Analyst",
        json!({"kind": "email", "address": "analyst@example.com"}),
    )
    .await;
    let link = link_in(&smtp.wait_for(1).await[0].body);
    let token = link.rsplit("token=").next().unwrap();
    let confirmed = app
        .client
        .post(format!(
            "{}/api/notification-destinations/confirm",
            app.address
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    let hook = Hook::start(&[]);
    let dest = webhook(&app, &owner, &hook).await;
    let job = job(&app, &owner, "Invoices").await;
    rule(
        &app,
        &owner,
        Some(&job),
        json!({"destination_id": mail, "event": "failure", "subject": "Load {{ job_name }} {{ status }}"}),
    )
    .await;
    rule(
        &app,
        &owner,
        Some(&job),
        json!({"destination_id": dest, "event": "schedule_disabled"}),
    )
    .await;
    let run = queue_run(&app, &owner, &job).await;
    finish(
        &app,
        &run,
        "failed",
        0,
        Some("relation \"src\" does not exist"),
    )
    .await;
    let mails = smtp.wait_for(2).await;
    assert_eq!(mails[1].to, "analyst@example.com");
    assert_eq!(mails[1].subject, "Load Invoices failed");
    assert!(
        mails[1].body.contains("relation \"src\" does not exist"),
        "{}",
        mails[1].body
    );
    assert!(
        mails[1]
            .body
            .contains(&format!("http://127.0.0.1:8080/runs/{run}")),
        "{}",
        mails[1].body
    );
    assert!(
        mails[1]
            .message_id
            .as_deref()
            .unwrap_or_default()
            .contains("@hakobu")
    );

    // The scheduler's call, inside its own transaction.
    let pool = pool(&app);
    let mut conn = pool.get().await.unwrap();
    let org: hakobu_core::ids::OrganizationId = owner.org_id.parse().unwrap();
    let job_id: hakobu_core::ids::JobId = job.parse().unwrap();
    use diesel_async::AsyncConnection;
    conn.transaction::<_, diesel::result::Error, _>(async |conn| {
        hakobu::notify::enqueue_event(
            conn,
            hakobu::notify::NotificationEvent::ScheduleDisabled {
                organization_id: org,
                job_id: Some(job_id),
                schedule_id: uuid::Uuid::new_v4(),
                schedule: "daily at 02:30 (Europe/Berlin)".to_owned(),
                consecutive_failures: 5,
            },
        )
        .await
    })
    .await
    .unwrap();
    let got = hook.wait_for(1).await;
    assert_eq!(got[0].body["event"], "schedule_disabled");
    assert!(
        got[0].body["message"]
            .as_str()
            .unwrap()
            .contains("daily at 02:30 (Europe/Berlin) was disabled after 5 failed runs"),
        "{}",
        got[0].body
    );
}

#[tokio::test]
async fn rules_validate_thresholds_templates_and_permissions() {
    let app = spawn(false, None).await;
    let owner = app.signup("Acme").await;
    let hook = Hook::start(&[]);
    let dest = webhook(&app, &owner, &hook).await;
    let job = job(&app, &owner, "Orders").await;
    let viewer = app
        .add_member(
            &owner,
            "member",
            json!([{"team_id": owner.default_team, "role": "viewer"}]),
        )
        .await;
    let path = format!("/api/jobs/{job}/notification-rules");
    let (status, body) = app
        .post(
            &path,
            &owner.token,
            json!({"destination_id": dest, "event": "rows_below", "template": "{{ job_nme }}", "mentions": ["@bob"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["threshold", "mentions[0]", "template"], "{body}");
    let (status, body) = app
        .post(
            &path,
            &owner.token,
            json!({"destination_id": uuid::Uuid::new_v4(), "event": "success"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "destination_id");
    let id = rule(
        &app,
        &owner,
        Some(&job),
        json!({"destination_id": dest, "event": "success", "template": "{{ job_name }} {{ variables.date }}"}),
    )
    .await;
    // Viewers see the job's rules but may not change them.
    let (status, list) = app.get(&path, &viewer.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, _) = app
        .post(
            &path,
            &viewer.token,
            json!({"destination_id": dest, "event": "failure"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .put(
            &format!("/api/notification-rules/{id}"),
            &viewer.token,
            json!({"destination_id": dest, "event": "failure"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            "/api/notification-rules",
            &viewer.token,
            json!({"destination_id": dest, "event": "failure"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, updated) = app
        .put(
            &format!("/api/notification-rules/{id}"),
            &owner.token,
            json!({"destination_id": dest, "event": "rows_above", "threshold": 100, "enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["threshold"], 100);
    assert_eq!(updated["enabled"], false);
    let (status, _) = app
        .delete(&format!("/api/notification-rules/{id}"), &owner.token)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let actions = app.audit_actions(&owner).await;
    for a in [
        "notification_rule.create",
        "notification_rule.update",
        "notification_rule.delete",
    ] {
        assert!(actions.contains(&a.to_owned()), "{actions:?}");
    }
}

/// A message sees the run's resolved variable values, as `{{ variables.x }}` or as the
/// settings' `$x$`; a value is text, never template code.
#[tokio::test]
async fn messages_carry_the_runs_variable_values() {
    let app = spawn(true, None).await;
    let owner = app.signup("Acme").await;
    let hook = Hook::start(&[]);
    let dest = webhook(&app, &owner, &hook).await;
    let job = job(&app, &owner, "Orders").await;
    rule(
        &app,
        &owner,
        Some(&job),
        json!({"destination_id": dest, "event": "success",
               "template": "$job_name$ loaded $date$ ({{ variables.date }}), $$1 per $note$"}),
    )
    .await;
    let run = queue_run(&app, &owner, &job).await;
    app.sql(&format!(
        "UPDATE runs SET resolved_inputs = jsonb_build_object('as_of', '2026-11-22T00:00:00Z', \
         'variables', jsonb_build_object('date', '2026-11-21', 'note', '{{{{ error }}}}')) \
         WHERE id = '{run}'"
    ))
    .await;
    finish(&app, &run, "succeeded", 7, None).await;
    hook.wait_for(1).await;
    let got = hook.received();
    assert_eq!(
        got[0].body["message"],
        "Orders loaded 2026-11-21 (2026-11-21), $1 per {{ error }}"
    );
    assert_eq!(
        got[0].body["variables"],
        json!({"date": "2026-11-21", "note": "{{ error }}"}),
        "only the values, not the request's inputs"
    );
}

/// A rule's template is tenant Liquid: a runaway loop is refused when the rule is saved,
/// naming the limit; one that only runs away with a run's real values (a loop over `rows`
/// passes with the sample 1234) falls back to the event's default message with the reason
/// when sent, and the notifier goes on delivering.
#[tokio::test]
async fn runaway_rule_templates_are_refused_at_save_or_fall_back_when_sent() {
    let app = spawn(true, None).await;
    let owner = app.signup("Acme").await;
    let hook = Hook::start(&[]);
    let dest = webhook(&app, &owner, &hook).await;
    let job = job(&app, &owner, "Invoices").await;
    let (status, body) = app
        .post(
            &format!("/api/jobs/{job}/notification-rules"),
            &owner.token,
            json!({"destination_id": dest, "event": "success", "template": "{% for i in (1..10000000000) %}x{% endfor %}"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "template", "{body}");
    assert_eq!(body["fields"][0]["code"], "template_loops", "{body}");
    assert!(
        body["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("templates are limited to 100000 loop iterations"),
        "{body}"
    );

    rule(
        &app,
        &owner,
        Some(&job),
        json!({"destination_id": dest, "event": "success", "template": "{% for i in (1..rows) %}.{% endfor %}"}),
    )
    .await;
    let run = queue_run(&app, &owner, &job).await;
    finish(&app, &run, "succeeded", 10_000_000_000, None).await;
    let got = hook.wait_for(1).await;
    let message = got[0].body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Invoices succeeded: 10000000000 rows"),
        "{message}"
    );
    assert!(
        message.contains(
            "(The rule's template could not be used: this template loops more than 100000 times"
        ),
        "{message}"
    );
    let run = queue_run(&app, &owner, &job).await;
    finish(&app, &run, "succeeded", 3, None).await;
    let got = hook.wait_for(2).await;
    assert_eq!(got[1].body["message"], "...", "{:?}", got[1].body);
}
