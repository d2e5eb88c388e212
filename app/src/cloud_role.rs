//! Tenants' cloud roles: how an S3 connection gets AWS credentials without the service
//! lending its own.
//!
//! A tenant names a role of its own AWS account (`assume_role`, `role_arn`); the app holds
//! the service's identity and assumes that role through STS `AssumeRole` with the
//! organization's id as `ExternalId`, so a role whose trust policy requires that id can be
//! used by that organization alone (another tenant naming the same ARN gets its own id
//! sent, and AWS refuses). The engine gets only the resulting temporary credentials: for a
//! connection test in the app, and in the assignment of a run (the runner's task needs no
//! AWS permission of its own). They are put in like other secrets: never logged, never
//! stored, masked by the runner in what it sends.
//!
//! The service's own identity (`instance_role`) reaches every bucket the service may
//! reach, other tenants' included: it is refused unless the operator allows it
//! (`HAKOBU_ALLOW_AMBIENT_CLOUD_ROLE`, single-tenant installs), and is never a fallback.

use crate::settings::{CloudRoleSettings, STS_MIN_SESSION};
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata};
use hakobu_core::connection::{ConnectionKind, S3Auth, setting_str};
use hakobu_core::ids::{OrganizationId, RunId};
use serde_json::{Map, Value};
use std::time::Duration;

/// How long an STS call may take before the test or run start gives up.
const STS_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection has no credentials, in words for the tenant: `kind` is stable (the UI
/// translates by it), `message` says what happened and `hint` what to do.
#[derive(Debug, Clone)]
pub struct Refused {
    pub kind: &'static str,
    pub message: String,
    pub hint: String,
}

/// Who a role session acts for; its name is in the tenant's CloudTrail beside the
/// external id (the organization).
#[derive(Debug, Clone, Copy)]
pub enum SessionFor {
    /// A connection test in the app.
    Check,
    /// A run: the session lasts for it.
    Run(RunId),
}

/// The temporary credentials of an assumed role. No `Debug`: they never reach a log line.
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
}

impl TemporaryCredentials {
    /// As connection secrets, under the config's field names
    /// ([`hakobu_core::connection::TEMPORARY_CREDENTIAL_FIELDS`]).
    pub fn into_secrets(self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("access_key_id".into(), Value::String(self.access_key_id));
        out.insert(
            "secret_access_key".into(),
            Value::String(self.secret_access_key),
        );
        out.insert("session_token".into(), Value::String(self.session_token));
        out
    }
}

/// Assumes tenants' roles with the service's identity.
pub struct CloudRoles {
    settings: CloudRoleSettings,
    /// Made at the first use: an install whose tenants use no role never loads AWS config.
    client: tokio::sync::OnceCell<aws_sdk_sts::Client>,
}

impl CloudRoles {
    /// Credentials and region of the service come from the usual AWS sources (the app's
    /// task role, environment); `sts_endpoint` replaces AWS's endpoint.
    pub fn new(settings: CloudRoleSettings) -> CloudRoles {
        CloudRoles {
            settings,
            client: tokio::sync::OnceCell::new(),
        }
    }

    /// With a given STS client (tests: moto with static credentials).
    pub fn with_client(settings: CloudRoleSettings, client: aws_sdk_sts::Client) -> CloudRoles {
        CloudRoles {
            settings,
            client: tokio::sync::OnceCell::from(client),
        }
    }

    pub fn allow_ambient(&self) -> bool {
        self.settings.allow_ambient
    }

    /// The session to ask for something that takes `wanted`: at least STS's 15 minutes,
    /// at most the operator's ceiling.
    pub fn session_for(&self, wanted: Duration) -> Duration {
        wanted.clamp(STS_MIN_SESSION, self.settings.max_session)
    }

    async fn client(&self) -> &aws_sdk_sts::Client {
        self.client
            .get_or_init(|| async {
                let region = aws_config::meta::region::RegionProviderChain::default_provider()
                    .or_else("us-east-1");
                let mut loader =
                    aws_config::defaults(aws_config::BehaviorVersion::latest()).region(region);
                if let Some(endpoint) = &self.settings.sts_endpoint {
                    loader = loader.endpoint_url(endpoint);
                }
                aws_sdk_sts::Client::new(&loader.load().await)
            })
            .await
    }

    /// What the engine needs beyond a connection's stored secrets: the temporary
    /// credentials of an `assume_role` S3 connection (empty for any other connection).
    /// The service's own role is refused here unless the operator allows it, so a saved
    /// connection from before the switch was turned off fails with the reason.
    pub async fn engine_credentials(
        &self,
        kind: ConnectionKind,
        settings: &Map<String, Value>,
        organization: OrganizationId,
        session: SessionFor,
        duration: Duration,
    ) -> Result<Map<String, Value>, Refused> {
        if kind != ConnectionKind::S3 {
            return Ok(Map::new());
        }
        match S3Auth::of(settings) {
            S3Auth::AccessKey => Ok(Map::new()),
            S3Auth::Ambient if self.allow_ambient() => Ok(Map::new()),
            S3Auth::Ambient => Err(ambient_refused(organization)),
            S3Auth::AssumeRole => {
                let role_arn = setting_str(kind, settings, "role_arn").unwrap_or_default();
                self.assume(&role_arn, organization, session, duration)
                    .await
                    .map(TemporaryCredentials::into_secrets)
            }
        }
    }

    /// Assumes `role_arn` for `organization` (its id is the external id).
    pub async fn assume(
        &self,
        role_arn: &str,
        organization: OrganizationId,
        session: SessionFor,
        duration: Duration,
    ) -> Result<TemporaryCredentials, Refused> {
        let client = self.client().await;
        let call = client
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name(organization, session))
            .external_id(organization.to_string())
            .duration_seconds(i32::try_from(self.session_for(duration).as_secs()).unwrap_or(3600))
            .send();
        let unavailable = |detail: String| {
            // The cause may describe the service's own setup: it goes to the log, and the
            // tenant reads that the service could not ask.
            tracing::warn!(%detail, "STS AssumeRole of a tenant role failed");
            Refused {
                kind: "role_unavailable",
                message: format!("Hakobu could not ask AWS to assume the role {role_arn}."),
                hint: "Try again in a moment; if it keeps failing, tell the service's operator (the service's own access to AWS STS).".to_owned(),
            }
        };
        let output = match tokio::time::timeout(STS_TIMEOUT, call).await {
            Err(_) => {
                return Err(unavailable(format!(
                    "no answer within {} s",
                    STS_TIMEOUT.as_secs()
                )));
            }
            Ok(Err(e)) => {
                return Err(match e.as_service_error() {
                    // AWS's own answer about the tenant's role: the tenant needs it to fix
                    // the trust policy (it names the principal to trust).
                    Some(service) => Refused {
                        kind: "role_refused",
                        message: format!(
                            "AWS refused to let Hakobu assume the role {role_arn}: {}",
                            service
                                .message()
                                .or(service.code())
                                .unwrap_or("no reason given")
                        ),
                        hint: format!(
                            "Check that the role exists and that its trust policy allows Hakobu's service role to call sts:AssumeRole with the condition sts:ExternalId = {organization}."
                        ),
                    },
                    None => unavailable(DisplayErrorContext(&e).to_string()),
                });
            }
            Ok(Ok(output)) => output,
        };
        let Some(credentials) = output.credentials() else {
            return Err(unavailable("STS answered without credentials".to_owned()));
        };
        Ok(TemporaryCredentials {
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: credentials.secret_access_key().to_owned(),
            session_token: credentials.session_token().to_owned(),
        })
    }
}

/// `hakobu-org-<organization>` for tests, `hakobu-run-<run>` for runs: at most 64 of the
/// characters STS allows, saying who the session acted for.
pub fn session_name(organization: OrganizationId, session: SessionFor) -> String {
    match session {
        SessionFor::Check => format!("hakobu-org-{organization}"),
        SessionFor::Run(run) => format!("hakobu-run-{run}"),
    }
}

/// The refusal of an S3 connection that would act with the service's own identity.
pub fn ambient_refused(organization: OrganizationId) -> Refused {
    Refused {
        kind: "ambient_role_off",
        message: "This connection uses Hakobu's own cloud role (instance_role), which is turned off on this service: it reaches other organizations' data too.".to_owned(),
        hint: format!(
            "Edit the connection: choose assume_role and give the ARN of a role in your AWS account whose trust policy requires the external id {organization}, or give an access key pair."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_fit_sts_and_say_who() {
        let organization = OrganizationId(uuid::Uuid::new_v4());
        let run = RunId(uuid::Uuid::new_v4());
        for (name, id) in [
            (
                session_name(organization, SessionFor::Check),
                organization.to_string(),
            ),
            (
                session_name(organization, SessionFor::Run(run)),
                run.to_string(),
            ),
        ] {
            assert!((2..=64).contains(&name.len()), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)),
                "{name}"
            );
            assert!(name.ends_with(&id), "{name}");
        }
    }

    #[test]
    fn sessions_stay_within_sts_and_the_operators_ceiling() {
        let roles = CloudRoles::new(CloudRoleSettings::default());
        assert_eq!(roles.session_for(Duration::from_secs(60)), STS_MIN_SESSION);
        assert_eq!(
            roles.session_for(Duration::from_secs(6 * 3600)),
            Duration::from_secs(3600)
        );
        assert_eq!(
            roles.session_for(Duration::from_secs(1800)),
            Duration::from_secs(1800)
        );
    }
}
