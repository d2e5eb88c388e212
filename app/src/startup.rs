//! Building and running the HTTP application.

use crate::auth::jwt::JwtKeys;
use crate::auth::run_token::RunTokens;
use crate::cloud_role::CloudRoles;
use crate::db::{self};
use crate::extract;
use crate::launcher::{self, Launcher};
use crate::routes;
use crate::runs::dispatch::Dispatcher;
use crate::runs::watchdog::Watchdog;
use crate::secrets::SecretBox;
use crate::services::secret_rotation::{self, Scope};
use crate::settings::Settings;
use crate::state::AppState;
use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use hakobu_core::egress::{EgressPolicy, ServiceEndpoint};
use std::net::TcpListener;
use std::sync::Arc;
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;

/// A built server, bound to its port but not yet running.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Migrates the database, binds the listener (port 0 picks a free port) and builds the
    /// server. Tests call this with their own database and port 0.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let launcher = launcher::from_name(&settings.launcher, settings.runner_bin.clone()).await?;
        Self::build_with_launcher(settings, launcher).await
    }

    /// As [`Application::build`], with a given launcher (tests, benchmarks).
    pub async fn build_with_launcher(
        settings: Settings,
        launcher: Arc<dyn Launcher>,
    ) -> anyhow::Result<Application> {
        let cloud_roles = CloudRoles::new(settings.cloud_roles.clone());
        Self::build_with_services(settings, launcher, cloud_roles).await
    }

    /// As [`Application::build`], with a given launcher and assumer of cloud roles (tests:
    /// an STS client for moto).
    pub async fn build_with_services(
        settings: Settings,
        launcher: Arc<dyn Launcher>,
        cloud_roles: CloudRoles,
    ) -> anyhow::Result<Application> {
        settings.check()?;
        let applied = db::run_migrations(&settings.database_url).await?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "applied database migrations");
        }
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let pool = db::build_pool(&settings.database_url, settings.db_pool_size)?;
        let secrets = settings
            .secret_key
            .as_deref()
            .map(SecretBox::from_spec)
            .transpose()?;
        match &secrets {
            None => tracing::warn!("HAKOBU_SECRET_KEY is not set: connections cannot be saved"),
            // Secrets saved before they were bound to their place are bound now, once:
            // until then they are refused.
            Some(secrets) => {
                let report =
                    secret_rotation::reseal_all(&pool, secrets, Scope::BindUnbound).await?;
                if report.secrets_resealed > 0 {
                    tracing::info!(
                        secrets = report.secrets_resealed,
                        "bound stored secrets to their place"
                    );
                }
                for failure in &report.failures {
                    tracing::warn!(%failure, "a stored secret could not be bound; run `hakobu rotate-secrets` once its key is configured");
                }
            }
        }
        // A launch token must last until the runner has started (at most the start
        // timeout); after that, heartbeats renew the runner's token.
        let run_tokens = RunTokens::new(&settings.jwt_secret).with_lifetimes(
            settings.start_timeout + settings.run_token_ttl,
            settings.run_token_ttl,
        );
        let mailer = settings
            .smtp
            .as_ref()
            .map(crate::mail::Mailer::new)
            .transpose()?;
        let egress = egress_policy(&settings).await;
        tracing::info!(
            "connections tenants configure may reach {}",
            egress.describe()
        );
        let sender = crate::notify::deliver::Sender::new(
            secrets.clone(),
            mailer,
            &settings.public_url,
            egress.clone(),
        )?;
        if settings.notifier {
            let notifier = Arc::new(crate::notify::deliver::Notifier {
                pool: pool.clone(),
                sender: sender.clone(),
                retry_base: settings.notify_retry_base,
                max_attempts: settings.notify_max_attempts,
                lease: std::time::Duration::from_secs(120),
                batch: 20,
            });
            tokio::spawn(notifier.run());
        }
        if settings.scheduler {
            let scheduler = Arc::new(crate::scheduler::Scheduler {
                pool: pool.clone(),
                tick: std::time::Duration::from_secs(5),
                quotas: settings.quotas,
            });
            tokio::spawn(scheduler.run());
        }
        let dispatches = settings.dispatcher;
        if settings.dispatcher {
            let app_url = settings
                .runner_app_url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
            let dispatcher = Arc::new(Dispatcher {
                pool: pool.clone(),
                launcher: launcher.clone(),
                run_tokens: run_tokens.clone(),
                app_url,
                limits: settings.run_limits,
                batch: 10,
            });
            tokio::spawn(dispatcher.run());
            let watchdog = Arc::new(Watchdog {
                pool: pool.clone(),
                launcher: launcher.clone(),
                heartbeat_timeout: settings.heartbeat_timeout,
                start_timeout: settings.start_timeout,
                log_retention: settings.log_retention,
            });
            tokio::spawn(watchdog.run());
            // Workflows start job runs, so they step where runs are dispatched.
            let workflows = Arc::new(crate::workflows::WorkflowEngine {
                pool: pool.clone(),
                tick: std::time::Duration::from_millis(500),
            });
            tokio::spawn(workflows.run());
        }
        let state = web::Data::new(AppState {
            pool,
            secrets,
            jwt: JwtKeys::new(&settings.jwt_secret),
            launcher,
            run_tokens,
            sender,
            probes: crate::probe::ProbeWorkers::new(settings.runner_bin.clone(), egress),
            settings,
            cloud_roles,
            limiter: crate::limiter::Limiter::default(),
            streams: crate::limiter::OpenStreams::default(),
        });
        if dispatches {
            // Check and HTTP tasks of workflows, executed through probe workers.
            let side_tasks = Arc::new(crate::workflows::side_tasks::SideTaskWorker {
                state: state.clone().into_inner(),
                tick: std::time::Duration::from_millis(500),
            });
            tokio::spawn(side_tasks.run());
        }
        let server = run(listener, state)?;
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The rule for tenants' connections: public addresses, what the operator opened, and
/// never the service's own database (every address its host name resolves to now).
async fn egress_policy(settings: &Settings) -> EgressPolicy {
    let mut service_endpoints = Vec::new();
    if let Ok(url) = reqwest::Url::parse(&settings.database_url)
        && let Some(host) = url.host_str()
    {
        let port = url.port().unwrap_or(5432);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(addresses) = tokio::net::lookup_host((host, port)).await {
            service_endpoints.extend(addresses.map(|a| ServiceEndpoint {
                address: a.ip(),
                port,
            }));
        }
    }
    EgressPolicy::public(settings.egress_allow.clone(), service_endpoints)
}

/// The OpenAPI document of every endpoint, collected from the registered handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(routes::base_openapi())
        .configure(routes::configure)
        .split_for_parts();
    api
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> anyhow::Result<Server> {
    let api = web::Data::new(openapi());
    let metrics = crate::metrics::middleware()?;
    let static_dir = state.settings.static_dir.clone();
    let public_url = state.settings.public_url.clone();
    let server = HttpServer::new(move || {
        App::new()
            // The wasm UI is ~1 MB raw and ~420 KB gzipped.
            .wrap(actix_web::middleware::Compress::default())
            .wrap(metrics.clone())
            // Outside the metrics middleware, which answers `/metrics` itself.
            .wrap(actix_web::middleware::from_fn(
                crate::web_security::metrics_gate,
            ))
            .wrap(crate::web_security::headers(&public_url))
            .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
            .app_data(state.clone())
            .app_data(api.clone())
            .app_data(web::QueryConfig::default().error_handler(extract::query_error))
            .app_data(web::PathConfig::default().error_handler(extract::path_error))
            .into_utoipa_app()
            .configure(routes::configure)
            .into_app()
            .configure(|cfg| routes::configure_static(cfg, &static_dir))
    })
    .listen(listener)?
    .run();
    Ok(server)
}
