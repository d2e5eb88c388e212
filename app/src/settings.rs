//! Configuration from environment variables, with local defaults.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `HAKOBU_DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/hakobu` | the app database |
//! | `HAKOBU_BIND` | `127.0.0.1:8080` | address the HTTP server listens on |
//! | `HAKOBU_PUBLIC_URL` | `http://127.0.0.1:8080` | how users reach the app (links in invitations; `https` turns on `Secure` cookies) |
//! | `HAKOBU_JWT_SECRET` | required | signs session tokens; 32+ characters |
//! | `HAKOBU_SECRET_KEY` | required to save connections | master key(s) for secrets at rest, `id:base64` comma-separated |
//! | `HAKOBU_LOCAL_FILES_ROOT` | unset (off) | directory holding each organization's files folder (`<root>/<organization id>/`) for `local_files` connections |
//! | `HAKOBU_EGRESS_ALLOW` | empty | networks (`10.0.0.0/8`), addresses, `address:port` pairs and host names (`db.internal`, `*.corp.example`) that tenants' connections may reach although they are private (`docs/security.md`); `make run` opens 127.0.0.1 |
//! | `HAKOBU_LAUNCHER` | `local` | how runs start: `local` (child process), `container` (a container through the Docker Engine API, `docs/deploy-containers.md`), `ecs` (Fargate task, `docs/deploy-ecs.md`), `kubernetes` (Job, `docs/deploy-kubernetes.md`) |
//! | `HAKOBU_RUNNER_BIN` | `hakobu-runner` beside the `hakobu` binary | the runner the local launcher starts |
//! | `HAKOBU_CONTAINER_SOCKET` | `/var/run/docker.sock` | the Docker Engine API's unix socket (Docker, or `podman system service`) for `HAKOBU_LAUNCHER=container` |
//! | `HAKOBU_CONTAINER_IMAGE` | required with `container` | the runner image, e.g. `localhost/hakobu-runner:0.1.0` (`make image`) |
//! | `HAKOBU_CONTAINER_NETWORK` | `bridge` | the network runner containers join: `bridge`, `host`, or a network the operator created |
//! | `HAKOBU_K8S_IMAGE`, `HAKOBU_K8S_NAMESPACE`, `HAKOBU_K8S_SERVICE_ACCOUNT`, `HAKOBU_K8S_KUBECONFIG` | | for `HAKOBU_LAUNCHER=kubernetes`, `docs/deploy-kubernetes.md` |
//! | `HAKOBU_K8S_TMP_SIZE_MB` | `2048` | the runner pod's writable `/tmp` (S3 staging), as its `emptyDir` size limit and `ephemeral-storage` request |
//! | `HAKOBU_RUNNER_APP_URL` | `http://` + `HAKOBU_BIND` | how runners reach the app |
//! | `HAKOBU_DISPATCHER` | `true` | whether this replica claims and launches queued runs |
//! | `HAKOBU_MAX_RUNS` | `100` | runs starting or running at once, service-wide |
//! | `HAKOBU_MAX_RUNS_PER_ORG` | `20` | runs starting or running at once per organization: the ceiling; an organization admin may set a lower limit on the queue page |
//! | `HAKOBU_HEARTBEAT_SECONDS` | `5` | how often runners report progress |
//! | `HAKOBU_HEARTBEAT_TIMEOUT_SECONDS` | `60` | a running run silent this long is failed and its runner stopped |
//! | `HAKOBU_START_TIMEOUT_SECONDS` | `600` | a run still `starting` after this long is failed |
//! | `HAKOBU_RUN_TOKEN_TTL_SECONDS` | `300` | lifetime of a runner's token; every heartbeat answers a fresh one |
//! | `HAKOBU_LOG_RETENTION_DAYS` | `30` | log lines of runs that ended longer ago are deleted |
//! | `HAKOBU_LOG_FORMAT` | `text` | `json` for one JSON object per line |
//! | `HAKOBU_STATIC_DIR` | `frontend/dist` | the built web UI |
//! | `HAKOBU_DB_POOL_SIZE` | `16` | database connections per app process |
//! | `HAKOBU_SESSION_HOURS` | `12` | lifetime of a login |
//! | `HAKOBU_LOGIN_MAX_FAILURES` | `5` | failed sign-ins per account per window before 429 |
//! | `HAKOBU_LOGIN_MAX_FAILURES_PER_IP` | `30` | failed sign-ins per client address per window |
//! | `HAKOBU_LOGIN_WINDOW_MINUTES` | `15` | the rate-limit window |
//! | `HAKOBU_ACCOUNT_ACTIONS_PER_ADDRESS` | `20` | sign-ups, password-reset requests, reset confirmations and invitation acceptances per client address per hour, each counted apart (per replica) |
//! | `HAKOBU_PROBES_PER_USER` | `30` | connection tests, previews and discovery requests per user per minute (per replica) |
//! | `HAKOBU_PROBES_PER_ORGANIZATION` | `120` | the same per organization per minute (per replica) |
//! | `HAKOBU_QUOTA_JOBS` | `1000` | jobs per organization (the operator may set another number for one organization: `hakobu set-quotas`) |
//! | `HAKOBU_QUOTA_SCHEDULES` | `1000` | schedules per organization |
//! | `HAKOBU_QUOTA_QUEUED_RUNS` | `500` | runs waiting in an organization's queue at once; more are refused (a schedule's turn is recorded as skipped) |
//! | `HAKOBU_QUOTA_REVISIONS_KEPT` | `100` | revisions kept per job; older ones are deleted unless a run still waiting or running uses them |
//! | `HAKOBU_STREAMS_PER_USER` | `10` | live run streams (the run page's progress and logs) one user may hold open at once (per replica); each ends with its run, or after 30 minutes (the browser reconnects) |
//! | `HAKOBU_METRICS_TOKEN` | unset (`/metrics` answers 404) | bearer token Prometheus sends to read `/metrics` |
//! | `HAKOBU_TRUST_PROXY_HEADERS` | `false` | take the client address from `X-Forwarded-For` (only behind a proxy you run) |
//! | `HAKOBU_SMTP_HOST` | unset (no email) | SMTP server for notifications, confirmations, invitations, password resets |
//! | `HAKOBU_SMTP_PORT` | 587 / 465 / 25 by security | SMTP port |
//! | `HAKOBU_SMTP_SECURITY` | `starttls` | `starttls`, `tls` (implicit TLS) or `none` (local servers only) |
//! | `HAKOBU_SMTP_USERNAME`, `HAKOBU_SMTP_PASSWORD` | unset | SMTP login (both or neither) |
//! | `HAKOBU_SMTP_FROM` | required with a host | sender, e.g. `Hakobu <hakobu@example.com>` |
//! | `HAKOBU_NOTIFIER` | `true` | whether this replica delivers notifications and watches run durations |
//! | `HAKOBU_NOTIFY_RETRY_SECONDS` | `30` | first retry delay of a failed delivery; doubles per attempt |
//! | `HAKOBU_NOTIFY_MAX_ATTEMPTS` | `8` | delivery attempts before a notification is given up |
//! | `HAKOBU_ALLOW_AMBIENT_CLOUD_ROLE` | `false` | whether S3 connections may use the service's own AWS identity (`instance_role`); single-tenant installs only |
//! | `HAKOBU_PRICE_REGION` | `AWS_REGION`, else `us-east-1` | whose Fargate public prices estimate what runs cost (insights, the run page) |
//! | `HAKOBU_PRICE_PER_VCPU_HOUR`, `HAKOBU_PRICE_PER_GB_HOUR` | the region's Fargate prices | the operator's own unit prices (both or neither), in `HAKOBU_PRICE_CURRENCY` (default `USD`) |
//! | `HAKOBU_STS_ENDPOINT` | unset (AWS) | STS endpoint URL for assuming tenants' roles (a VPC endpoint, or moto in tests) |
//! | `HAKOBU_CLOUD_ROLE_SESSION_SECONDS` | `3600` | the longest session of an assumed tenant role, 900 to 43200 |
//!
//! `docs/configuration.md` repeats this table for operators.

use anyhow::{Context, bail};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind: String,
    pub public_url: String,
    pub jwt_secret: String,
    pub log_format: LogFormat,
    pub static_dir: PathBuf,
    pub db_pool_size: usize,
    pub session_lifetime: Duration,
    pub login_limits: LoginLimits,
    pub abuse_limits: AbuseLimits,
    pub trust_proxy_headers: bool,
    /// The bearer token `/metrics` requires; `None`: metrics are not served.
    pub metrics_token: Option<String>,
    pub secret_key: Option<String>,
    pub local_files_root: Option<PathBuf>,
    /// What tenants' connections may reach beyond public addresses.
    pub egress_allow: Vec<hakobu_core::egress::AllowEntry>,
    pub launcher: String,
    pub runner_bin: PathBuf,
    /// `None`: derived from the bound address.
    pub runner_app_url: Option<String>,
    pub dispatcher: bool,
    /// Whether this replica turns due schedules into runs.
    pub scheduler: bool,
    pub run_limits: RunLimits,
    pub heartbeat_interval: Duration,
    pub heartbeat_timeout: Duration,
    pub start_timeout: Duration,
    pub log_retention: Duration,
    /// How long a run token is valid; heartbeats renew it.
    pub run_token_ttl: Duration,
    /// Outgoing mail; `None` when `HAKOBU_SMTP_HOST` is not set.
    pub smtp: Option<crate::mail::SmtpSettings>,
    /// Whether this replica delivers notifications.
    pub notifier: bool,
    /// Delay before the first retry of a failed delivery; doubles per attempt.
    pub notify_retry_base: Duration,
    pub notify_max_attempts: i32,
    /// How S3 connections may get AWS credentials (`docs/security.md`, cloud roles).
    pub cloud_roles: CloudRoleSettings,
    pub quotas: Quotas,
    /// What a vCPU-hour and a GB-hour cost, for the estimates of what runs cost.
    pub unit_prices: hakobu_core::usage::UnitPrices,
}

/// How much one organization may keep: the service's defaults, which the operator may
/// override per organization (`organizations.quotas`, set with `hakobu set-quotas`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quotas {
    pub jobs: i64,
    pub schedules: i64,
    pub queued_runs: i64,
    pub revisions_kept: i64,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            jobs: 1000,
            schedules: 1000,
            queued_runs: 500,
            revisions_kept: 100,
        }
    }
}

impl Quotas {
    /// The quotas of an organization: each override given replaces the default.
    pub fn for_organization(&self, overrides: &serde_json::Value) -> Quotas {
        let pick = |name: &str, default: i64| {
            overrides
                .get(name)
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(default)
        };
        Quotas {
            jobs: pick("jobs", self.jobs),
            schedules: pick("schedules", self.schedules),
            queued_runs: pick("queued_runs", self.queued_runs),
            revisions_kept: pick("revisions_kept", self.revisions_kept),
        }
    }
}

/// The operator's rules for tenants' AWS credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudRoleSettings {
    /// Whether S3 connections may use the service's own identity (`instance_role`), which
    /// reaches every bucket the service may reach: single-tenant installs only.
    pub allow_ambient: bool,
    /// STS endpoint URL instead of AWS's (a VPC endpoint; moto in tests).
    pub sts_endpoint: Option<String>,
    /// The longest session of an assumed role. STS allows at most an hour when the app's
    /// own credentials are themselves a role's (role chaining, as on ECS or EKS), and at
    /// most the role's `MaxSessionDuration` (12 h) otherwise.
    pub max_session: Duration,
}

impl Default for CloudRoleSettings {
    fn default() -> Self {
        CloudRoleSettings {
            allow_ambient: false,
            sts_endpoint: None,
            max_session: Duration::from_secs(3600),
        }
    }
}

/// Where and how the container launcher (`HAKOBU_LAUNCHER=container`) starts runners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSettings {
    /// The Docker Engine API's unix socket.
    pub socket: PathBuf,
    /// The runner image.
    pub image: String,
    /// The network runner containers join (Docker's `NetworkMode`).
    pub network: String,
}

impl ContainerSettings {
    pub fn from_env() -> anyhow::Result<ContainerSettings> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From variables looked up by name (the environment, or a map in tests).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<ContainerSettings> {
        let value = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let socket =
            value("HAKOBU_CONTAINER_SOCKET").unwrap_or_else(|| "/var/run/docker.sock".to_owned());
        // Docker's own spelling (`DOCKER_HOST=unix:///...`) is accepted too.
        let socket = PathBuf::from(socket.strip_prefix("unix://").unwrap_or(&socket));
        if !socket.is_absolute() {
            bail!(
                "HAKOBU_CONTAINER_SOCKET must be the absolute path of the Docker API's unix socket, such as /var/run/docker.sock"
            );
        }
        let image = value("HAKOBU_CONTAINER_IMAGE").context(
            "HAKOBU_CONTAINER_IMAGE must name the runner image for HAKOBU_LAUNCHER=container (make image builds localhost/hakobu-runner)",
        )?;
        if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
            bail!("HAKOBU_CONTAINER_IMAGE must be an image reference without spaces");
        }
        let network = value("HAKOBU_CONTAINER_NETWORK").unwrap_or_else(|| "bridge".to_owned());
        // Docker network names (and `container:<name>`, which is refused: a runner must not
        // share another container's network namespace).
        if !network
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            bail!(
                "HAKOBU_CONTAINER_NETWORK must be a network name (letters, digits, '-', '_', '.'), such as bridge or host"
            );
        }
        Ok(ContainerSettings {
            socket,
            image,
            network,
        })
    }
}

/// The runner pod's `/tmp` when `HAKOBU_K8S_TMP_SIZE_MB` is unset: 2 GiB.
pub const DEFAULT_K8S_TMP_SIZE_MB: u32 = 2048;

/// Where and how runner Jobs start.
#[derive(Debug, Clone)]
pub struct KubernetesSettings {
    /// `None`: the client configuration's namespace (the app pod's own, in a cluster).
    pub namespace: Option<String>,
    /// The runner image, e.g. `registry.example.com/hakobu-runner:0.1.0`.
    pub image: String,
    /// A service account with no API permissions: the runner needs none.
    pub service_account: String,
    /// A kubeconfig file to use; `None`: `KUBECONFIG`, `~/.kube/config`, then the pod's
    /// service account (in-cluster).
    pub kubeconfig: Option<PathBuf>,
    /// The size of the pod's writable `/tmp` (an `emptyDir`), in MiB: where the runner
    /// stages S3 objects, since the root filesystem is read-only.
    pub tmp_size_mb: u32,
}

impl KubernetesSettings {
    pub fn from_env() -> anyhow::Result<KubernetesSettings> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From variables looked up by name (the environment, or a map in tests).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<KubernetesSettings> {
        let value = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Ok(KubernetesSettings {
            namespace: value("HAKOBU_K8S_NAMESPACE"),
            image: value("HAKOBU_K8S_IMAGE").context(
                "HAKOBU_K8S_IMAGE must name the runner image for HAKOBU_LAUNCHER=kubernetes",
            )?,
            service_account: value("HAKOBU_K8S_SERVICE_ACCOUNT")
                .unwrap_or_else(|| "hakobu-runner".to_owned()),
            kubeconfig: value("HAKOBU_K8S_KUBECONFIG").map(PathBuf::from),
            tmp_size_mb: match value("HAKOBU_K8S_TMP_SIZE_MB") {
                None => DEFAULT_K8S_TMP_SIZE_MB,
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|mb| (16..=1_048_576).contains(mb))
                    .with_context(|| {
                        format!(
                            "HAKOBU_K8S_TMP_SIZE_MB must be a whole number of MiB from 16 to 1048576 (the runner pod's /tmp); it is {v:?}"
                        )
                    })?,
            },
        })
    }
}

/// STS's bounds of `DurationSeconds`.
pub const STS_MIN_SESSION: Duration = Duration::from_secs(900);
pub const STS_MAX_SESSION: Duration = Duration::from_secs(43_200);

// Hand-written so the JWT secret and database password never reach a log line.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url_password(&self.database_url))
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("jwt_secret", &"<redacted>")
            .field("log_format", &self.log_format)
            .field("static_dir", &self.static_dir)
            .field("db_pool_size", &self.db_pool_size)
            .field("session_lifetime", &self.session_lifetime)
            .field("login_limits", &self.login_limits)
            .field("abuse_limits", &self.abuse_limits)
            .field("trust_proxy_headers", &self.trust_proxy_headers)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("local_files_root", &self.local_files_root)
            .field("egress_allow", &self.egress_allow)
            .field("launcher", &self.launcher)
            .field("runner_bin", &self.runner_bin)
            .field("runner_app_url", &self.runner_app_url)
            .field("dispatcher", &self.dispatcher)
            .field("scheduler", &self.scheduler)
            .field("run_limits", &self.run_limits)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("heartbeat_timeout", &self.heartbeat_timeout)
            .field("start_timeout", &self.start_timeout)
            .field("log_retention", &self.log_retention)
            .field("run_token_ttl", &self.run_token_ttl)
            .field("smtp", &self.smtp)
            .field("notifier", &self.notifier)
            .field("notify_retry_base", &self.notify_retry_base)
            .field("notify_max_attempts", &self.notify_max_attempts)
            .field("cloud_roles", &self.cloud_roles)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Concurrency limits of the dispatcher.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits {
    /// Runs starting or running at once in the whole service.
    pub global: i64,
    /// Runs starting or running at once per organization.
    pub per_organization: i64,
}

impl RunLimits {
    /// An organization's limit: its own setting, never above the service's ceiling.
    pub fn for_organization(&self, own: Option<i64>) -> i64 {
        own.map_or(self.per_organization, |n| n.min(self.per_organization))
    }
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            global: 100,
            per_organization: 20,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct LoginLimits {
    pub max_failures_per_account: i64,
    pub max_failures_per_ip: i64,
    pub window: Duration,
}

/// Limits kept in each replica's memory (see `limiter`).
#[derive(Debug, Clone, Copy)]
pub struct AbuseLimits {
    /// Per client address per hour, for each of sign-up, reset request, reset
    /// confirmation and invitation acceptance.
    pub account_actions_per_address: u32,
    /// Connection tests, previews and discovery per user per minute.
    pub probes_per_user: u32,
    /// The same per organization per minute.
    pub probes_per_organization: u32,
    /// Live run streams one user may hold open at once.
    pub streams_per_user: u32,
}

impl Default for AbuseLimits {
    fn default() -> Self {
        AbuseLimits {
            account_actions_per_address: 20,
            probes_per_user: 30,
            probes_per_organization: 120,
            streams_per_user: 10,
        }
    }
}

pub const MIN_JWT_SECRET_CHARS: usize = 32;

impl Settings {
    /// Reads the environment; every problem names the variable and what it expects.
    pub fn from_env() -> anyhow::Result<Self> {
        let jwt_secret = std::env::var("HAKOBU_JWT_SECRET").context(
            "HAKOBU_JWT_SECRET is not set: set it to a random string of at least 32 characters \
             (`make run` generates one into .env.local)",
        )?;
        let settings = Settings {
            database_url: var_or(
                "HAKOBU_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/hakobu",
            ),
            bind: var_or("HAKOBU_BIND", "127.0.0.1:8080"),
            public_url: var_or("HAKOBU_PUBLIC_URL", "http://127.0.0.1:8080")
                .trim_end_matches('/')
                .to_owned(),
            jwt_secret,
            log_format: match var_or("HAKOBU_LOG_FORMAT", "text").as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => bail!("HAKOBU_LOG_FORMAT is {other:?}; expected text or json"),
            },
            static_dir: var_or("HAKOBU_STATIC_DIR", "frontend/dist").into(),
            db_pool_size: parse_var("HAKOBU_DB_POOL_SIZE", 16)?,
            session_lifetime: Duration::from_secs(
                3600 * parse_var::<u64>("HAKOBU_SESSION_HOURS", 12)?,
            ),
            login_limits: LoginLimits {
                max_failures_per_account: parse_var("HAKOBU_LOGIN_MAX_FAILURES", 5)?,
                max_failures_per_ip: parse_var("HAKOBU_LOGIN_MAX_FAILURES_PER_IP", 30)?,
                window: Duration::from_secs(
                    60 * parse_var::<u64>("HAKOBU_LOGIN_WINDOW_MINUTES", 15)?,
                ),
            },
            abuse_limits: {
                let d = AbuseLimits::default();
                AbuseLimits {
                    account_actions_per_address: parse_var(
                        "HAKOBU_ACCOUNT_ACTIONS_PER_ADDRESS",
                        d.account_actions_per_address,
                    )?,
                    probes_per_user: parse_var("HAKOBU_PROBES_PER_USER", d.probes_per_user)?,
                    probes_per_organization: parse_var(
                        "HAKOBU_PROBES_PER_ORGANIZATION",
                        d.probes_per_organization,
                    )?,
                    streams_per_user: parse_var("HAKOBU_STREAMS_PER_USER", d.streams_per_user)?,
                }
            },
            trust_proxy_headers: parse_var("HAKOBU_TRUST_PROXY_HEADERS", false)?,
            metrics_token: std::env::var("HAKOBU_METRICS_TOKEN")
                .ok()
                .filter(|s| !s.trim().is_empty()),
            secret_key: std::env::var("HAKOBU_SECRET_KEY")
                .ok()
                .filter(|s| !s.trim().is_empty()),
            local_files_root: std::env::var("HAKOBU_LOCAL_FILES_ROOT")
                .ok()
                .filter(|s| !s.trim().is_empty())
                .map(PathBuf::from),
            egress_allow: hakobu_core::egress::EgressPolicy::parse_allow_list(&var_or(
                "HAKOBU_EGRESS_ALLOW",
                "",
            ))
            .map_err(|e| anyhow::anyhow!("HAKOBU_EGRESS_ALLOW: {e}"))?,
            launcher: var_or("HAKOBU_LAUNCHER", "local"),
            runner_bin: std::env::var("HAKOBU_RUNNER_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|_| default_runner_bin()),
            runner_app_url: std::env::var("HAKOBU_RUNNER_APP_URL")
                .ok()
                .filter(|s| !s.is_empty()),
            dispatcher: parse_var("HAKOBU_DISPATCHER", true)?,
            scheduler: parse_var("HAKOBU_SCHEDULER", true)?,
            run_limits: RunLimits {
                global: parse_var("HAKOBU_MAX_RUNS", 100)?,
                per_organization: parse_var("HAKOBU_MAX_RUNS_PER_ORG", 20)?,
            },
            heartbeat_interval: Duration::from_secs(parse_var("HAKOBU_HEARTBEAT_SECONDS", 5)?),
            heartbeat_timeout: Duration::from_secs(parse_var(
                "HAKOBU_HEARTBEAT_TIMEOUT_SECONDS",
                60,
            )?),
            start_timeout: Duration::from_secs(parse_var("HAKOBU_START_TIMEOUT_SECONDS", 600)?),
            log_retention: Duration::from_secs(
                86_400 * parse_var::<u64>("HAKOBU_LOG_RETENTION_DAYS", 30)?,
            ),
            run_token_ttl: Duration::from_secs(parse_var("HAKOBU_RUN_TOKEN_TTL_SECONDS", 300)?),
            smtp: crate::mail::SmtpSettings::from_env()?,
            notifier: parse_var("HAKOBU_NOTIFIER", true)?,
            notify_retry_base: Duration::from_secs(parse_var("HAKOBU_NOTIFY_RETRY_SECONDS", 30)?),
            notify_max_attempts: parse_var("HAKOBU_NOTIFY_MAX_ATTEMPTS", 8)?,
            cloud_roles: CloudRoleSettings {
                allow_ambient: parse_var("HAKOBU_ALLOW_AMBIENT_CLOUD_ROLE", false)?,
                sts_endpoint: std::env::var("HAKOBU_STS_ENDPOINT")
                    .ok()
                    .filter(|s| !s.trim().is_empty()),
                max_session: Duration::from_secs(parse_var(
                    "HAKOBU_CLOUD_ROLE_SESSION_SECONDS",
                    3600,
                )?),
            },
            quotas: Settings::quotas_from_env()?,
            unit_prices: unit_prices_from_env()?,
        };
        settings.check()?;
        Ok(settings)
    }

    /// `HAKOBU_QUOTA_*`, for the server and for `hakobu set-quotas`.
    pub fn quotas_from_env() -> anyhow::Result<Quotas> {
        let d = Quotas::default();
        Ok(Quotas {
            jobs: parse_var("HAKOBU_QUOTA_JOBS", d.jobs)?,
            schedules: parse_var("HAKOBU_QUOTA_SCHEDULES", d.schedules)?,
            queued_runs: parse_var("HAKOBU_QUOTA_QUEUED_RUNS", d.queued_runs)?,
            revisions_kept: parse_var("HAKOBU_QUOTA_REVISIONS_KEPT", d.revisions_kept)?,
        })
    }

    /// Rules that hold however the settings were made (environment or tests).
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(problem) = weak_jwt_secret(&self.jwt_secret) {
            bail!(problem);
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            bail!("HAKOBU_PUBLIC_URL must start with http:// or https://");
        }
        if let Some(root) = &self.local_files_root
            && !root.is_absolute()
        {
            bail!("HAKOBU_LOCAL_FILES_ROOT must be an absolute path");
        }
        if self.heartbeat_timeout <= self.heartbeat_interval * 2 {
            bail!(
                "HAKOBU_HEARTBEAT_TIMEOUT_SECONDS must be more than twice HAKOBU_HEARTBEAT_SECONDS"
            );
        }
        // A runner whose heartbeats fail is failed by the watchdog first; its token must
        // outlive the gaps between heartbeats that the watchdog tolerates.
        if self.run_token_ttl <= self.heartbeat_timeout {
            bail!(
                "HAKOBU_RUN_TOKEN_TTL_SECONDS must be more than HAKOBU_HEARTBEAT_TIMEOUT_SECONDS"
            );
        }
        let q = self.quotas;
        if q.jobs < 0 || q.schedules < 0 || q.queued_runs < 0 || q.revisions_kept < 1 {
            bail!(
                "HAKOBU_QUOTA_JOBS, _SCHEDULES and _QUEUED_RUNS must be 0 or more, HAKOBU_QUOTA_REVISIONS_KEPT at least 1"
            );
        }
        if self.notify_max_attempts < 1 {
            bail!("HAKOBU_NOTIFY_MAX_ATTEMPTS must be at least 1");
        }
        if let Some(smtp) = &self.smtp {
            smtp.check()?;
        }
        if self.db_pool_size == 0 {
            bail!("HAKOBU_DB_POOL_SIZE must be at least 1");
        }
        if !(STS_MIN_SESSION..=STS_MAX_SESSION).contains(&self.cloud_roles.max_session) {
            bail!(
                "HAKOBU_CLOUD_ROLE_SESSION_SECONDS must be from {} to {} (STS's bounds)",
                STS_MIN_SESSION.as_secs(),
                STS_MAX_SESSION.as_secs()
            );
        }
        if let Some(endpoint) = &self.cloud_roles.sts_endpoint
            && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        {
            bail!("HAKOBU_STS_ENDPOINT must be a URL starting with https:// (or http://)");
        }
        Ok(())
    }

    /// Cookies are marked `Secure` when users reach the app over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// `hakobu-runner` in the directory of the running `hakobu` binary.
pub fn default_runner_bin() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("hakobu-runner")))
        .unwrap_or_else(|| PathBuf::from("hakobu-runner"))
}

fn var_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// `HAKOBU_PRICE_*`: the operator's prices, or the public ones of the region.
fn unit_prices_from_env() -> anyhow::Result<hakobu_core::usage::UnitPrices> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let price = |name: &str| -> anyhow::Result<Option<f64>> {
        match var(name) {
            None => Ok(None),
            Some(raw) => match raw.trim().parse::<f64>() {
                Ok(p) if p.is_finite() && p >= 0.0 => Ok(Some(p)),
                _ => bail!("{name} is {raw:?}: expected a price of 0 or more, such as 0.04048"),
            },
        }
    };
    let region = var("HAKOBU_PRICE_REGION")
        .or_else(|| var("AWS_REGION"))
        .unwrap_or_else(|| "us-east-1".into());
    match (
        price("HAKOBU_PRICE_PER_VCPU_HOUR")?,
        price("HAKOBU_PRICE_PER_GB_HOUR")?,
    ) {
        (None, None) => Ok(hakobu_core::usage::UnitPrices::fargate(region.trim())),
        (Some(per_vcpu_hour), Some(per_gb_hour)) => Ok(hakobu_core::usage::UnitPrices::operator(
            per_vcpu_hour,
            per_gb_hour,
            var("HAKOBU_PRICE_CURRENCY").unwrap_or_else(|| "USD".into()),
        )),
        _ => bail!("set both HAKOBU_PRICE_PER_VCPU_HOUR and HAKOBU_PRICE_PER_GB_HOUR, or neither"),
    }
}

fn parse_var<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(raw) => raw
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name} is {raw:?}: {e}")),
        Err(_) => Ok(default),
    }
}

/// Why a JWT secret cannot sign sessions: too short, or a placeholder. A value copied from
/// an example signs sessions anyone who read the example can forge; a random one of 32+
/// characters has far more than a dozen distinct characters.
pub fn weak_jwt_secret(secret: &str) -> Option<String> {
    if secret.chars().count() < MIN_JWT_SECRET_CHARS {
        return Some(format!(
            "HAKOBU_JWT_SECRET must be at least {MIN_JWT_SECRET_CHARS} characters long"
        ));
    }
    let lower = secret.to_ascii_lowercase();
    let distinct = secret
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len();
    (lower.contains("change-me") || lower.contains("changeme") || distinct < 12).then(|| {
        "HAKOBU_JWT_SECRET looks like a placeholder, not a random value; generate one with `head -c 48 /dev/urandom | base64`".to_owned()
    })
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`.
pub fn redact_url_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_jwt_secrets_are_refused() {
        for weak in [
            "short",
            "change-me-change-me-change-me-change-me",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "abcabcabcabcabcabcabcabcabcabcabcabc",
        ] {
            assert!(weak_jwt_secret(weak).is_some(), "{weak} was accepted");
        }
        assert_eq!(weak_jwt_secret("vQ8mZt2LxR7cWn4JpK9sHd3FgB6yTe1u"), None);
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url_password("postgres://app:s3cr3t@db:5432/hakobu"),
            "postgres://app:***@db:5432/hakobu"
        );
        assert_eq!(
            redact_url_password("postgres://postgres@127.0.0.1/hakobu"),
            "postgres://postgres@127.0.0.1/hakobu"
        );
    }
}
