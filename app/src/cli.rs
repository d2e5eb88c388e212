//! The `hakobu` command line: `serve`, `migrate`, `create-admin`, `rotate-secrets`,
//! `set-quotas`, `ecs task-definition`.

use crate::db;
use crate::settings::{LogFormat, Settings};
use crate::startup::Application;
use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "hakobu", version, about = "Hakobu: managed data transfers")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve the API and web UI (see docs/configuration.md).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate {
        /// Create the database first when it does not exist.
        #[arg(long)]
        create_database: bool,
    },
    /// Create an organization with an owner account (does nothing if the email exists).
    CreateAdmin {
        #[arg(long, default_value = "Demo")]
        organization: String,
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Admin")]
        name: String,
        /// The password; prefer the environment variable so it stays out of shell history.
        #[arg(long, env = "HAKOBU_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Seal every stored secret again under the first key of HAKOBU_SECRET_KEY, bound to
    /// its place; safe to interrupt and run again. Drop an old key only after this
    /// reports no failures.
    RotateSecrets,
    /// Override the service's quotas (HAKOBU_QUOTA_*) for one organization; prints the
    /// quotas it then has. Options left out keep their current value.
    SetQuotas {
        /// The organization's id (shown in its settings page and the audit log).
        #[arg(long)]
        organization: uuid::Uuid,
        #[arg(long)]
        jobs: Option<i64>,
        #[arg(long)]
        schedules: Option<i64>,
        #[arg(long)]
        queued_runs: Option<i64>,
        #[arg(long)]
        revisions_kept: Option<i64>,
        /// Drop every override: the organization gets the service's defaults again.
        #[arg(long)]
        reset: bool,
    },
    /// Helpers for running transfers on AWS ECS (docs/deploy-ecs.md).
    Ecs {
        #[command(subcommand)]
        command: EcsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum EcsCommand {
    /// Print the runner's task definition (JSON for `aws ecs register-task-definition
    /// --cli-input-json`), matching the runner image: its command, user and an environment
    /// left to each run.
    TaskDefinition(TaskDefinitionArgs),
}

#[derive(Debug, clap::Args)]
pub struct TaskDefinitionArgs {
    /// The runner image, e.g. 123456789012.dkr.ecr.REGION.amazonaws.com/hakobu-runner:0.1.0.
    #[arg(long)]
    pub image: String,
    /// The role ECS uses to pull the image and write the logs.
    #[arg(long)]
    pub execution_role_arn: String,
    /// A role for the runner's own code; leave it out (the runner needs none).
    #[arg(long)]
    pub task_role_arn: Option<String>,
    #[arg(long, env = "AWS_REGION")]
    pub region: String,
    #[arg(long, default_value = "hakobu-runner")]
    pub family: String,
    /// The container's name (the app's HAKOBU_ECS_CONTAINER).
    #[arg(long, default_value = "runner")]
    pub container: String,
    #[arg(long, default_value = "/hakobu/runner")]
    pub log_group: String,
    #[arg(long, default_value = "run")]
    pub log_stream_prefix: String,
    /// Let ECS create the log group (the execution role then needs logs:CreateLogGroup).
    #[arg(long)]
    pub create_log_group: bool,
    /// vCPUs when a run does not say (every run overrides it with its job's resources).
    #[arg(long, default_value_t = 1.0)]
    pub cpu: f64,
    #[arg(long, default_value_t = 2048)]
    pub memory_mb: u32,
    /// Seconds between SIGTERM and SIGKILL (120, Fargate's maximum, covers Spot's notice).
    #[arg(long, default_value_t = crate::launcher::ecs::STOP_TIMEOUT_SECONDS)]
    pub stop_timeout: u32,
    /// The task's ephemeral storage (21-200 GiB; Fargate gives 20 without it): S3 objects
    /// are staged whole in /tmp.
    #[arg(long)]
    pub ephemeral_storage_gib: Option<u32>,
}

impl TaskDefinitionArgs {
    pub fn options(&self) -> crate::launcher::ecs::TaskDefinitionOptions {
        crate::launcher::ecs::TaskDefinitionOptions {
            family: self.family.clone(),
            image: self.image.clone(),
            container: self.container.clone(),
            execution_role_arn: self.execution_role_arn.clone(),
            task_role_arn: self.task_role_arn.clone(),
            region: self.region.clone(),
            log_group: self.log_group.clone(),
            log_stream_prefix: self.log_stream_prefix.clone(),
            create_log_group: self.create_log_group,
            cpu: self.cpu,
            memory_mb: self.memory_mb,
            stop_timeout_seconds: self.stop_timeout,
            ephemeral_storage_gib: self.ephemeral_storage_gib,
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Ecs {
            command: EcsCommand::TaskDefinition(args),
        } => {
            let definition = crate::launcher::ecs::task_definition(&args.options())?;
            println!("{}", serde_json::to_string_pretty(&definition)?);
            Ok(())
        }
        Command::Serve => {
            let settings = Settings::from_env()?;
            crate::telemetry::init(settings.log_format, None, std::io::stderr);
            tracing::info!(settings = ?settings, "starting Hakobu");
            // This process holds the service's secrets: it connects to no tenant address.
            // Probes run in workers and runs in runners, each with the tenant policy; a
            // code path that forgot that is refused here instead of reaching inside.
            hakobu_engine::egress::install(hakobu_core::egress::EgressPolicy::nothing());
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "listening");
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::Migrate { create_database } => {
            crate::telemetry::init(LogFormat::Text, None, std::io::stderr);
            let url = database_url();
            if create_database && db::create_database_if_missing(&url).await? {
                println!("created database {}", db::split_database_name(&url)?.1);
            }
            let applied = db::run_migrations(&url).await?;
            println!("applied {} migration(s)", applied.len());
            Ok(())
        }
        Command::CreateAdmin {
            organization,
            email,
            name,
            password,
        } => {
            crate::telemetry::init(LogFormat::Text, None, std::io::stderr);
            create_admin(&database_url(), &organization, &email, &name, &password).await
        }
        Command::SetQuotas {
            organization,
            jobs,
            schedules,
            queued_runs,
            revisions_kept,
            reset,
        } => {
            crate::telemetry::init(LogFormat::Text, None, std::io::stderr);
            set_quotas(
                organization,
                [
                    ("jobs", jobs),
                    ("schedules", schedules),
                    ("queued_runs", queued_runs),
                    ("revisions_kept", revisions_kept),
                ],
                reset,
            )
            .await
        }
        Command::RotateSecrets => {
            crate::telemetry::init(LogFormat::Text, None, std::io::stderr);
            let spec = std::env::var("HAKOBU_SECRET_KEY").context(
                "HAKOBU_SECRET_KEY must hold the keys: the new one first, then the old ones",
            )?;
            let secrets = crate::secrets::SecretBox::from_spec(&spec)?;
            let pool = db::build_pool(&database_url(), 2)?;
            let report = crate::services::secret_rotation::reseal_all(
                &pool,
                &secrets,
                crate::services::secret_rotation::Scope::Rotate,
            )
            .await?;
            println!(
                "examined {} rows; sealed {} secrets again under the newest key",
                report.rows_examined, report.secrets_resealed
            );
            for failure in &report.failures {
                println!("not resealed: {failure}");
            }
            if !report.failures.is_empty() {
                anyhow::bail!(
                    "{} rows could not be resealed: keep their keys in HAKOBU_SECRET_KEY",
                    report.failures.len()
                );
            }
            Ok(())
        }
    }
}

fn database_url() -> String {
    std::env::var("HAKOBU_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/hakobu".to_owned())
}

async fn create_admin(
    url: &str,
    organization: &str,
    email: &str,
    name: &str,
    password: &str,
) -> anyhow::Result<()> {
    use crate::models::user::User;
    use diesel_async::{AsyncConnection, AsyncPgConnection};
    use hakobu_core::api::auth::SignupRequest;
    use hakobu_core::validation::normalize_email;

    let request = SignupRequest {
        organization_name: organization.to_owned(),
        name: name.to_owned(),
        email: email.to_owned(),
        password: password.to_owned(),
        first_team_name: None,
    };
    request.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    db::run_migrations(url).await?;
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connecting to the database")?;
    let email = normalize_email(email);
    if User::find_by_email(&mut conn, &email).await?.is_some() {
        println!("{email} already has an account; nothing to do");
        return Ok(());
    }
    let hash = crate::auth::password::hash(password.to_owned()).await?;
    crate::services::organizations::create_organization(
        &mut conn,
        organization.trim(),
        name.trim(),
        &email,
        &hash,
        crate::services::organizations::DEFAULT_TEAM_NAME,
        None,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("created organization {organization:?} with owner {email}");
    Ok(())
}

async fn set_quotas(
    organization: uuid::Uuid,
    changes: [(&str, Option<i64>); 4],
    reset: bool,
) -> anyhow::Result<()> {
    use crate::models::organization::Organization;
    use hakobu_core::ids::OrganizationId;
    let pool = db::build_pool(&database_url(), 1)?;
    let mut conn = pool.get().await?;
    let id = OrganizationId(organization);
    let org = Organization::find(&mut conn, id)
        .await
        .with_context(|| format!("no organization {organization}"))?;
    let mut overrides = if reset {
        serde_json::Map::new()
    } else {
        org.quotas.as_object().cloned().unwrap_or_default()
    };
    for (name, value) in changes {
        if let Some(n) = value {
            let least = if name == "revisions_kept" { 1 } else { 0 };
            if n < least {
                anyhow::bail!("--{} must be {least} or more", name.replace('_', "-"));
            }
            overrides.insert(name.to_owned(), n.into());
        }
    }
    let org =
        Organization::set_quotas(&mut conn, id, &serde_json::Value::Object(overrides)).await?;
    let defaults = Settings::quotas_from_env()?;
    let q = defaults.for_organization(&org.quotas);
    println!(
        "{}: jobs {}, schedules {}, queued runs {}, revisions kept {}",
        org.name, q.jobs, q.schedules, q.queued_runs, q.revisions_kept
    );
    Ok(())
}
