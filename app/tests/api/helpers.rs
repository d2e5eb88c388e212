//! The test harness: each test gets its own database and its own app on a random port.

use hakobu::settings::{LogFormat, LoginLimits, RunLimits, Settings};
use hakobu::startup::Application;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const JWT_SECRET: &str = "Api-tests-only: 7f3Kq9Lw2Zx8Vb5Nm1Rt4Yp6";
pub const PASSWORD: &str = "correct horse battery staple";

pub use hakobu_testkit::pg_server_url as server_url;

/// The migrated database every test's database is cloned from; built once per change of
/// the migrations, so a test does not migrate its own.
async fn migrated_template() -> &'static str {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
            hakobu_testkit::pg_template("hakobu", &migrations, |url| async move {
                hakobu::db::run_migrations(&url)
                    .await
                    .expect("migrate the template database");
            })
            .await
        })
        .await
}

pub struct TestApp {
    pub address: String,
    pub db_name: String,
    pub client: reqwest::Client,
    /// `HAKOBU_LOCAL_FILES_ROOT` of this app (each organization's folder is
    /// `<root>/<organization id>`); `None` when files on the server are off.
    pub files_root: Option<std::path::PathBuf>,
    /// The app's `HAKOBU_SECRET_KEY`.
    pub secret_key: String,
    /// The app's own database, dropped with the app; `None` when the app was started on
    /// another test's database.
    _database: Option<hakobu_testkit::TestDb>,
    _files_root: Option<RemovedOnDrop>,
}

/// A directory removed with the app that used it.
struct RemovedOnDrop(std::path::PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A signed-up user with a bearer token.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub token: String,
    pub email: String,
    pub user_id: String,
    pub org_id: String,
    /// The team every organization starts with (the owner is its admin).
    pub default_team: String,
}

pub struct SpawnOptions {
    pub login_limits: LoginLimits,
    /// Claim and launch queued runs (with the local launcher).
    pub dispatcher: bool,
    /// Deliver notifications (the notifier worker).
    pub notifier: bool,
    /// Send email through this SMTP server.
    pub smtp: Option<hakobu::mail::SmtpSettings>,
    /// Start on this existing database (a second replica, or a restart) instead of a new one.
    pub database: Option<String>,
    /// Launch runs with this launcher instead of the local one.
    pub launcher: Option<std::sync::Arc<dyn hakobu::launcher::Launcher>>,
    /// Lifetime of run tokens (heartbeats renew them).
    pub run_token_ttl: Duration,
    /// `HAKOBU_EGRESS_ALLOW`. The tests' databases, moto and listeners are on this
    /// machine, so by default loopback is open, the service's own database port included
    /// (the test databases share its server); the attack tests close it.
    pub egress_allow: &'static str,
    /// Give organizations files folders (`HAKOBU_LOCAL_FILES_ROOT`, a fresh directory of
    /// the app's own).
    pub local_files: bool,
    /// The operator's rules for tenants' cloud credentials (the service's own role is off).
    pub cloud_roles: hakobu::settings::CloudRoleSettings,
    /// Assume tenants' roles through this STS endpoint instead of moto's (a tap in front of
    /// moto, or an address where nothing listens).
    pub sts_endpoint: Option<String>,
    /// `HAKOBU_TRUST_PROXY_HEADERS`: the client address comes from `X-Forwarded-For`.
    pub trust_proxy_headers: bool,
    /// Generous by default: every test's requests come from one address.
    pub abuse_limits: hakobu::settings::AbuseLimits,
    /// `HAKOBU_PUBLIC_URL`.
    pub public_url: &'static str,
    /// `HAKOBU_METRICS_TOKEN`; [`METRICS_TOKEN`] by default.
    pub metrics_token: Option<&'static str>,
    /// `HAKOBU_SECRET_KEY`; a fresh key by default.
    pub secret_key: Option<String>,
    /// `HAKOBU_QUOTA_*`.
    pub quotas: hakobu::settings::Quotas,
    /// The address runners are given for the app (a [`Relay`] in front of it), instead
    /// of the app's own.
    pub runner_app_url: Option<String>,
    /// Turn due schedules into runs (the scheduler worker, every 5 s).
    pub scheduler: bool,
    /// `HAKOBU_NOTIFY_RETRY_SECONDS` and `HAKOBU_NOTIFY_MAX_ATTEMPTS`.
    pub notify_retry: (Duration, i32),
    /// The app's database on another server (a private PostgreSQL the test restarts),
    /// instead of one of its own on the shared server; `db_name` is its name there.
    pub database_url: Option<String>,
    /// `HAKOBU_MAX_RUNS` and `HAKOBU_MAX_RUNS_PER_ORG`.
    pub run_limits: RunLimits,
    /// `HAKOBU_HEARTBEAT_SECONDS` and `HAKOBU_HEARTBEAT_TIMEOUT_SECONDS`: short, so a
    /// killed runner is noticed soon.
    pub heartbeat: (Duration, Duration),
    /// `HAKOBU_START_TIMEOUT_SECONDS`.
    pub start_timeout: Duration,
    /// `HAKOBU_DB_POOL_SIZE`.
    pub db_pool_size: usize,
}

/// The `HAKOBU_METRICS_TOKEN` of every test app.
pub const METRICS_TOKEN: &str = "test-metrics-token";

/// What [`SpawnOptions::default`] opens: this machine, as the tests' services live here.
pub const TEST_EGRESS_ALLOW: &str = "127.0.0.0/8, ::1, 127.0.0.1:5432";

/// The `hakobu-runner` binary of this workspace; `make test` builds it before the tests.
/// `HAKOBU_TEST_RUNNER_BIN` names another one (a private copy, when several checkouts
/// share one target directory and overwrite each other's binaries).
pub fn runner_bin() -> std::path::PathBuf {
    if let Some(path) = std::env::var_os("HAKOBU_TEST_RUNNER_BIN") {
        return path.into();
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/hakobu-runner")
}

impl Default for SpawnOptions {
    fn default() -> Self {
        SpawnOptions {
            login_limits: LoginLimits {
                max_failures_per_account: 5,
                max_failures_per_ip: 1000,
                window: Duration::from_secs(900),
            },
            dispatcher: false,
            notifier: false,
            smtp: None,
            database: None,
            launcher: None,
            run_token_ttl: Duration::from_secs(300),
            egress_allow: TEST_EGRESS_ALLOW,
            local_files: true,
            cloud_roles: hakobu::settings::CloudRoleSettings::default(),
            sts_endpoint: None,
            trust_proxy_headers: false,
            abuse_limits: hakobu::settings::AbuseLimits {
                account_actions_per_address: 1000,
                probes_per_user: 1000,
                probes_per_organization: 1000,
                streams_per_user: 1000,
            },
            public_url: "http://127.0.0.1:8080",
            metrics_token: Some(METRICS_TOKEN),
            secret_key: None,
            quotas: hakobu::settings::Quotas::default(),
            runner_app_url: None,
            scheduler: false,
            notify_retry: (Duration::from_secs(1), 4),
            database_url: None,
            run_limits: RunLimits::default(),
            heartbeat: (Duration::from_secs(1), Duration::from_secs(4)),
            start_timeout: Duration::from_secs(60),
            db_pool_size: 4,
        }
    }
}

/// The moto server of `HAKOBU_TEST_S3_ENDPOINT` (S3, STS, ECS), when set.
pub fn moto_endpoint() -> Option<String> {
    std::env::var("HAKOBU_TEST_S3_ENDPOINT")
        .ok()
        .filter(|s| !s.is_empty())
}

/// Tenants' roles are assumed through moto's STS (or `endpoint`), as the service with
/// static credentials (moto does not check them); without moto, through the usual AWS
/// sources.
fn cloud_roles(
    settings: hakobu::settings::CloudRoleSettings,
    endpoint: Option<String>,
) -> hakobu::cloud_role::CloudRoles {
    let Some(endpoint) = endpoint.or_else(moto_endpoint) else {
        return hakobu::cloud_role::CloudRoles::new(settings);
    };
    let config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_sdk_sts::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "AKIAHAKOBUSERVICE000",
            "service-secret",
            None,
            None,
            "hakobu-tests",
        ))
        .build();
    hakobu::cloud_role::CloudRoles::with_client(settings, aws_sdk_sts::Client::from_conf(config))
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(SpawnOptions::default()).await
}

/// Every log line of every app in this test binary, as JSON, at debug level: tests
/// search it for secrets.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub async fn spawn_app_with(options: SpawnOptions) -> TestApp {
    hakobu::telemetry::init(
        LogFormat::Json,
        Some("debug,h2=info,hyper=info,rustls=info"),
        || LogWriter,
    );
    let (db_name, database) = match (options.database.clone(), &options.database_url) {
        (Some(name), _) => (name, None),
        (None, Some(url)) => (url.rsplit('/').next().unwrap_or_default().to_owned(), None),
        (None, None) => {
            let db = hakobu_testkit::TestDb::postgres_from(migrated_template().await);
            (db.name.clone(), Some(db))
        }
    };

    let files_root = options.local_files.then(|| {
        std::env::temp_dir().join(format!("hakobu-files-{}", uuid::Uuid::new_v4().simple()))
    });
    let secret_key = options
        .secret_key
        .clone()
        .unwrap_or_else(|| hakobu::secrets::SecretBox::generate_spec("k1"));
    let settings = Settings {
        database_url: options
            .database_url
            .clone()
            .unwrap_or_else(|| format!("{}/{db_name}", server_url())),
        bind: "127.0.0.1:0".to_owned(),
        public_url: options.public_url.to_owned(),
        jwt_secret: JWT_SECRET.to_owned(),
        log_format: LogFormat::Text,
        static_dir: "/nonexistent".into(),
        db_pool_size: options.db_pool_size,
        session_lifetime: Duration::from_secs(3600),
        login_limits: options.login_limits,
        abuse_limits: options.abuse_limits,
        trust_proxy_headers: options.trust_proxy_headers,
        metrics_token: options.metrics_token.map(str::to_owned),
        secret_key: Some(secret_key.clone()),
        local_files_root: files_root.clone(),
        egress_allow: hakobu_core::egress::EgressPolicy::parse_allow_list(options.egress_allow)
            .expect("egress allow list"),
        launcher: "local".to_owned(),
        runner_bin: runner_bin(),
        runner_app_url: options.runner_app_url.clone(),
        dispatcher: options.dispatcher,
        // Tests drive the scheduler themselves, with the time they choose, unless they
        // ask for the app's own.
        scheduler: options.scheduler,
        run_limits: options.run_limits,
        heartbeat_interval: options.heartbeat.0,
        heartbeat_timeout: options.heartbeat.1,
        start_timeout: options.start_timeout,
        log_retention: Duration::from_secs(30 * 86_400),
        run_token_ttl: options.run_token_ttl,
        smtp: options.smtp,
        notifier: options.notifier,
        notify_retry_base: options.notify_retry.0,
        notify_max_attempts: options.notify_retry.1,
        cloud_roles: options.cloud_roles.clone(),
        quotas: options.quotas,
        unit_prices: hakobu_core::usage::UnitPrices::fargate("us-east-1"),
    };
    let launcher = match options.launcher {
        Some(launcher) => launcher,
        None => hakobu::launcher::from_name("local", runner_bin())
            .await
            .expect("the local launcher"),
    };
    let app = Application::build_with_services(
        settings,
        launcher,
        cloud_roles(options.cloud_roles, options.sts_endpoint),
    )
    .await
    .expect("build app");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        db_name,
        secret_key,
        _database: database,
        _files_root: files_root.clone().map(RemovedOnDrop),
        files_root,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique email for this test process.
pub fn unique_email(prefix: &str) -> String {
    format!(
        "{prefix}{}-{}@example.com",
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::process::id()
    )
}

impl TestApp {
    /// The run's view once it has ended (any final status), polled for at most a minute.
    pub async fn wait_for_run_end(&self, token: &str, run: &str) -> Value {
        hakobu_testkit::wait_until(
            &format!("run {run} ends"),
            Duration::from_secs(60),
            Duration::from_millis(250),
            || async {
                let (_, view) = self.get(&format!("/api/runs/{run}"), token).await;
                let ended = ["succeeded", "failed", "cancelled", "timed_out"]
                    .contains(&view["status"].as_str().unwrap_or_default());
                ended.then_some(view)
            },
        )
        .await
    }

    /// Sends a request; `token` as Bearer when given; answers status and JSON body
    /// (`Value::Null` for an empty or non-JSON body).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request failed");
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Signs up a new organization; the user is its owner.
    pub async fn signup(&self, organization: &str) -> TestUser {
        let email = unique_email("owner");
        let (status, body) = self
            .call(
                Method::POST,
                "/api/auth/signup",
                None,
                Some(json!({"organization_name": organization, "name": "Owner", "email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        user_from_session(&body, &email)
    }

    /// Invites `email` into the organization of `admin` and accepts; returns the new member.
    pub async fn add_member(&self, admin: &TestUser, org_role: &str, teams: Value) -> TestUser {
        let email = unique_email("member");
        let (status, body) = self
            .post(
                "/api/invitations",
                &admin.token,
                json!({"email": email, "org_role": org_role, "teams": teams}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let token = invite_token(&body);
        let (status, body) = self
            .call(
                Method::POST,
                "/api/invitations/accept",
                None,
                Some(json!({"token": token, "name": "Member", "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        user_from_session(&body, &email)
    }

    pub async fn create_team(&self, admin: &TestUser, name: &str) -> String {
        let (status, body) = self
            .post("/api/teams", &admin.token, json!({"name": name}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Audit actions of the organization, oldest first.
    pub async fn audit_actions(&self, admin: &TestUser) -> Vec<String> {
        let (status, body) = self.get("/api/audit?per_page=500", &admin.token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut actions: Vec<String> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect();
        actions.reverse();
        actions
    }
}

pub fn invite_token(invitation_created: &Value) -> String {
    let url = invitation_created["invite_url"]
        .as_str()
        .expect("invite_url");
    url.rsplit('/').next().unwrap().to_owned()
}

pub fn user_from_session(body: &Value, email: &str) -> TestUser {
    let me = &body["me"];
    TestUser {
        token: body["token"].as_str().expect("token").to_owned(),
        email: email.to_owned(),
        user_id: me["user_id"].as_str().unwrap().to_owned(),
        org_id: me["organization_id"].as_str().unwrap().to_owned(),
        default_team: me["teams"][0]["team_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

impl TestApp {
    /// SQL against the test's own database (used as a source and destination too).
    pub async fn sql(&self, statements: &str) {
        let url = format!("{}/{}", server_url(), self.db_name);
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client.batch_execute(statements).await.unwrap();
    }

    pub async fn query_strings(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let url = format!("{}/{}", server_url(), self.db_name);
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let rows = client.simple_query(sql).await.unwrap();
        rows.into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                }
                _ => None,
            })
            .collect()
    }

    /// The files folder of `user`'s organization (`<root>/<organization id>`), created as
    /// the app would on first use.
    pub fn files_folder(&self, user: &TestUser) -> std::path::PathBuf {
        let root = self
            .files_root
            .as_ref()
            .expect("this app has files on the server turned off");
        let organization = user.org_id.parse().expect("an organization id");
        hakobu_engine::FilesRoot::for_organization(root, organization)
            .expect("create the organization's files folder")
            .folder()
            .to_path_buf()
    }

    /// Settings of a PostgreSQL connection to this test's own database.
    pub fn pg_settings(&self) -> Value {
        json!({"host": "127.0.0.1", "port": 5432, "database": self.db_name, "user": "postgres", "tls_mode": "disable"})
    }

    /// A PostgreSQL connection named "PG" to this test's database, owned by the user's
    /// default team; answers its id.
    pub async fn pg_connection(&self, user: &TestUser) -> String {
        self.create_connection(
            user,
            &user.default_team,
            "PG",
            "postgresql",
            self.pg_settings(),
        )
        .await
    }

    /// Creates a connection owned by `team`; answers its id.
    pub async fn create_connection(
        &self,
        user: &TestUser,
        team: &str,
        name: &str,
        kind: &str,
        settings: Value,
    ) -> String {
        let (status, body) = self
            .post(
                "/api/connections",
                &user.token,
                json!({"name": name, "kind": kind, "team_id": team, "settings": settings}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }
}

/// An HTTP relay between runners and the app that answers 503 to the requests whose path
/// ends with one of the refused suffixes (the app unavailable for them: restarting, its
/// database failing over) and passes the others on. One request per connection, so each
/// is seen.
pub struct Relay {
    pub url: String,
    target: Arc<std::sync::Mutex<String>>,
    refused_paths: Arc<std::sync::Mutex<Vec<String>>>,
    /// Requests answered 503, by path suffix.
    refusals: Arc<std::sync::Mutex<Vec<String>>>,
    /// Requests passed on: path and body.
    forwarded: Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl Relay {
    pub async fn start() -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let relay = Relay {
            url,
            target: Arc::default(),
            refused_paths: Arc::default(),
            refusals: Arc::default(),
            forwarded: Arc::default(),
        };
        let (target, refused_paths, refusals, forwarded) = (
            relay.target.clone(),
            relay.refused_paths.clone(),
            relay.refusals.clone(),
            relay.forwarded.clone(),
        );
        let client = reqwest::Client::new();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (target, refused_paths, refusals, forwarded, client) = (
                    target.clone(),
                    refused_paths.clone(),
                    refusals.clone(),
                    forwarded.clone(),
                    client.clone(),
                );
                tokio::spawn(async move {
                    let seen = Seen {
                        refusals: &refusals,
                        forwarded: &forwarded,
                    };
                    let _ = relay_one(stream, &target, &refused_paths, seen, &client).await;
                });
            }
        });
        relay
    }

    /// Where requests that are not refused go.
    pub fn forward_to(&self, app: &str) {
        *self.target.lock().unwrap() = app.to_owned();
    }

    /// Answer 503 to paths ending with any of `suffixes` (none: pass everything).
    pub fn refuse(&self, suffixes: &[&str]) {
        *self.refused_paths.lock().unwrap() = suffixes.iter().map(|s| s.to_string()).collect();
    }

    /// How many requests for a path ending with `suffix` were answered 503.
    pub fn refused(&self, suffix: &str) -> usize {
        self.refusals
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.ends_with(suffix))
            .count()
    }

    /// The bodies of the requests for a path ending with `suffix` that were passed on.
    pub fn forwarded(&self, suffix: &str) -> Vec<String> {
        self.forwarded
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.ends_with(suffix))
            .map(|(_, body)| body.clone())
            .collect()
    }
}

/// What the relay keeps of the requests it saw.
struct Seen<'a> {
    refusals: &'a std::sync::Mutex<Vec<String>>,
    forwarded: &'a std::sync::Mutex<Vec<(String, String)>>,
}

async fn relay_one(
    mut stream: tokio::net::TcpStream,
    target: &std::sync::Mutex<String>,
    refused_paths: &std::sync::Mutex<Vec<String>>,
    seen: Seen<'_>,
    client: &reqwest::Client,
) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[head_end..].to_vec();
    let refused = refused_paths
        .lock()
        .unwrap()
        .iter()
        .any(|suffix| path.ends_with(suffix.as_str()));
    let (status, content_type, answer) = if refused {
        seen.refusals.lock().unwrap().push(path.clone());
        (503, "text/plain".to_owned(), b"unavailable".to_vec())
    } else {
        seen.forwarded
            .lock()
            .unwrap()
            .push((path.clone(), String::from_utf8_lossy(&body).into_owned()));
        let url = format!("{}{path}", target.lock().unwrap());
        let mut request = client.request(method.parse().unwrap(), url).body(body);
        for (name, value) in &headers {
            if matches!(name.as_str(), "authorization" | "content-type") {
                request = request.header(name.as_str(), value.as_str());
            }
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("text/plain")
                    .to_owned();
                (
                    status,
                    content_type,
                    response.bytes().await.unwrap_or_default().to_vec(),
                )
            }
            Err(_) => (502, "text/plain".to_owned(), b"bad gateway".to_vec()),
        }
    };
    let head = format!(
        "HTTP/1.1 {status} Relayed\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        answer.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&answer).await?;
    stream.shutdown().await
}
