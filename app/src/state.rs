//! The state every request handler shares: the pool, settings, keys, the launcher, the
//! notification sender and the assumer of tenants' cloud roles. It sits above the services it holds and below the extractors and
//! routes that read it.

use crate::auth::jwt::JwtKeys;
use crate::auth::run_token::RunTokens;
use crate::cloud_role::CloudRoles;
use crate::db::DbPool;
use crate::launcher::Launcher;
use crate::secrets::SecretBox;
use crate::settings::Settings;
use std::sync::Arc;

/// Shared by every request handler.
pub struct AppState {
    pub pool: DbPool,
    pub settings: Settings,
    pub jwt: JwtKeys,
    /// Encrypts connection secrets; `None` when `HAKOBU_SECRET_KEY` is not set.
    pub secrets: Option<SecretBox>,
    pub launcher: Arc<dyn Launcher>,
    pub run_tokens: RunTokens,
    /// Sends notifications and mail (`mailer` is `None` without `HAKOBU_SMTP_HOST`).
    pub sender: crate::notify::deliver::Sender,
    /// Runs connection tests, discovery and previews in worker processes.
    pub probes: crate::probe::ProbeWorkers,
    /// Assumes tenants' AWS roles; the only way tenant data meets AWS credentials that
    /// are not the tenant's own keys.
    pub cloud_roles: CloudRoles,
    /// In-memory request limits of this replica (account actions, probes).
    pub limiter: crate::limiter::Limiter,
    pub streams: crate::limiter::OpenStreams,
}
