//! The `hakobu` command line: `serve`, `migrate`, `create-admin`, `rotate-secrets`,
//! `set-quotas`, `ecs task-definition`, and the config-as-code client: `export` and
//! `apply` (docs/config-as-code.md), which talk to a running server over its API.

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
    /// Write the organization's configuration as YAML files into DIR (docs/config-as-code.md).
    /// Files of objects that no longer exist are removed from DIR's kind folders.
    Export {
        #[command(flatten)]
        server: ServerArgs,
        dir: std::path::PathBuf,
    },
    /// Show the plan for the YAML files in DIR and apply it. Secret references
    /// `${secret:NAME}` take their values from the environment variables HAKOBU_SECRET_NAME.
    Apply {
        #[command(flatten)]
        server: ServerArgs,
        dir: std::path::PathBuf,
        /// Show the plan only; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete what no file names, of the kinds DIR has files of.
        #[arg(long)]
        prune: bool,
    },
    /// Helpers for running transfers on AWS ECS (docs/deploy-ecs.md).
    Ecs {
        #[command(subcommand)]
        command: EcsCommand,
    },
}

/// Where the server is and who calls it.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The server's address, e.g. https://hakobu.example.com.
    #[arg(long, env = "HAKOBU_URL")]
    pub url: String,
    /// An API token of an organization admin (Settings > API tokens); prefer the
    /// environment variable so it stays out of shell history.
    #[arg(long, env = "HAKOBU_TOKEN", hide_env_values = true)]
    pub token: String,
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
        Command::Export { server, dir } => {
            let written = export_to_dir(&server.url, &server.token, &dir).await?;
            println!("wrote {written} file(s) to {}", dir.display());
            Ok(())
        }
        Command::Apply {
            server,
            dir,
            dry_run,
            prune,
        } => {
            let plan = apply_dir(&server.url, &server.token, &dir, dry_run, prune, |name| {
                std::env::var(name).ok()
            })
            .await?;
            print!("{}", plan.to_text());
            println!(
                "{}",
                if plan.applied {
                    "applied"
                } else if dry_run {
                    "dry run: nothing changed"
                } else {
                    "nothing to change"
                }
            );
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

/// The kind folders of config as code.
const CONFIG_DIRS: [&str; 5] = ["teams", "destinations", "connections", "jobs", "workflows"];

/// The server's error answer in lines: its message and each field's problem.
async fn api_error(response: reqwest::Response) -> anyhow::Error {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let mut text = format!(
        "the server answered {status}: {}",
        body["message"].as_str().unwrap_or("(no message)")
    );
    for f in body["fields"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\n  {}: {}",
            f["field"].as_str().unwrap_or_default(),
            f["message"].as_str().unwrap_or_default()
        ));
    }
    anyhow::anyhow!(text)
}

/// Fetches `GET /api/export` and writes the files under `dir`; files of the kind folders
/// that the export no longer has are removed (an object deleted on the server). Answers
/// how many files were written.
pub async fn export_to_dir(url: &str, token: &str, dir: &std::path::Path) -> anyhow::Result<usize> {
    let response = reqwest::Client::new()
        .get(format!("{}/api/export", url.trim_end_matches('/')))
        .bearer_auth(token)
        .send()
        .await
        .context("asking the server for the export")?;
    if !response.status().is_success() {
        return Err(api_error(response).await);
    }
    let export: hakobu_core::api::config::ExportResponse = response.json().await?;
    for (path, _) in read_config_dir(dir)? {
        if !export.files.contains_key(&path) {
            std::fs::remove_file(dir.join(&path)).with_context(|| format!("removing {path}"))?;
        }
    }
    for (path, text) in &export.files {
        // The server names files `<kind>/<name>.yml`; anything else is not written.
        let safe = path.split('/').count() == 2
            && CONFIG_DIRS.contains(&path.split('/').next().unwrap_or_default())
            && !path.contains("..")
            && !path.contains('\\');
        anyhow::ensure!(safe, "the server sent an unexpected file name: {path:?}");
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, text).with_context(|| format!("writing {}", target.display()))?;
    }
    Ok(export.files.len())
}

/// The `.yml` / `.yaml` files of the kind folders under `dir`: relative path -> text.
pub fn read_config_dir(
    dir: &std::path::Path,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let mut files = std::collections::BTreeMap::new();
    for kind in CONFIG_DIRS {
        let folder = dir.join(kind);
        if !folder.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if path.is_file() && (name.ends_with(".yml") || name.ends_with(".yaml")) {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                files.insert(format!("{kind}/{name}"), text);
            }
        }
    }
    Ok(files)
}

/// The values of the `${secret:NAME}` references in `files`, from `HAKOBU_SECRET_NAME`
/// through `lookup`; a reference without a variable is left out (the server keeps the
/// stored secret, or names the file and field that needs it).
pub fn secrets_for(
    files: &std::collections::BTreeMap<String, String>,
    lookup: impl Fn(&str) -> Option<String>,
) -> std::collections::BTreeMap<String, String> {
    let mut secrets = std::collections::BTreeMap::new();
    for text in files.values() {
        for part in text.split("${secret:").skip(1) {
            let Some(name) = part.split('}').next() else {
                continue;
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                continue;
            }
            if let Some(value) = lookup(&format!("HAKOBU_SECRET_{name}")) {
                secrets.insert(name.to_owned(), value);
            }
        }
    }
    secrets
}

/// Reads `dir`, fills in the secrets and posts `POST /api/apply`; answers the plan.
pub async fn apply_dir(
    url: &str,
    token: &str,
    dir: &std::path::Path,
    dry_run: bool,
    prune: bool,
    lookup: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<hakobu_core::api::config::ApplyResponse> {
    let files = read_config_dir(dir)?;
    anyhow::ensure!(
        !files.is_empty(),
        "{} has no .yml files in teams/, destinations/, connections/, jobs/ or workflows/",
        dir.display()
    );
    let secrets = secrets_for(&files, lookup);
    let request = hakobu_core::api::config::ApplyRequest {
        files,
        secrets,
        dry_run,
        prune,
    };
    let response = reqwest::Client::new()
        .post(format!("{}/api/apply", url.trim_end_matches('/')))
        .bearer_auth(token)
        .json(&request)
        .send()
        .await
        .context("sending the files to the server")?;
    if !response.status().is_success() {
        return Err(api_error(response).await);
    }
    Ok(response.json().await?)
}
