//! Access checks shared by the routes: loading a connection the caller may use at a role,
//! team editor rights, the shares of connections and jobs, and whether a job's team may
//! still use its connections when a run starts.

use crate::error::ApiError;
use crate::extract::Auth;
use crate::models::connection::{Connection, Shares};
use crate::models::team::Team;
use crate::state::AppState;
use diesel_async::AsyncPgConnection;
use hakobu_core::api::org::TeamGrant;
use hakobu_core::authz::{Action, Decision, OrgRole, Principal, Target, TeamRole, authorize};
use hakobu_core::connection::{ConnectionKind, S3Auth, setting_str};
use hakobu_core::ids::{ConnectionId, OrganizationId, TeamId};
use hakobu_core::job::JobSettings;
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::FieldErrors;
use hakobu_core::variables::VariableValue;
use serde_json::Map;
use serde_json::{Value, json};
use std::path::PathBuf;

/// A connection and its shares, if the caller may do `action` on it (404 otherwise).
pub async fn load_authorized(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    id: ConnectionId,
    action: Action,
    what: &str,
) -> Result<(Connection, Shares), ApiError> {
    let connection = Connection::find(conn, auth.organization_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("connection"))?;
    let shares = Connection::shares(conn, auth.organization_id, id).await?;
    auth.require(
        action,
        Target::Resource {
            owner: connection.team_id,
            shares: &shares,
        },
        what,
    )
    .map_err(|e| match e {
        ApiError::NotFound(_) => ApiError::not_found("connection"),
        other => other,
    })?;
    Ok((connection, shares))
}

/// The caller must be an editor of the team that will own a connection or job, and the
/// team must be one of the caller's organization (organization admins are admins of every
/// team, but only of their own organization's).
pub async fn require_team_editor(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    team: TeamId,
    field: &str,
) -> Result<(), ApiError> {
    if Team::find(conn, auth.organization_id, team)
        .await?
        .is_none()
    {
        return Err(ApiError::field(field, "is not a team you belong to"));
    }
    match authorize(
        &auth.principal,
        Action::EditResource,
        Target::Resource {
            owner: team,
            shares: &[],
        },
    ) {
        Decision::Allow => Ok(()),
        Decision::Forbidden => Err(ApiError::forbidden_role(
            "add connections or jobs to this team",
        )),
        Decision::Hidden => Err(ApiError::field(field, "is not a team you belong to")),
    }
}

pub fn grants(shares: &Shares) -> Value {
    json!(
        shares
            .iter()
            .map(|(t, r)| json!({"team_id": t, "role": r}))
            .collect::<Vec<_>>()
    )
}

/// Teams of the organization, each once, not the owner.
pub async fn check_shares(
    conn: &mut AsyncPgConnection,
    auth: &Auth,
    owner: TeamId,
    grants: &[TeamGrant],
) -> Result<Shares, ApiError> {
    let mut errors = FieldErrors::default();
    for (i, g) in grants.iter().enumerate() {
        if g.team_id == owner {
            errors.push(
                format!("shares[{i}].team_id"),
                "is the owning team; it has access already",
            );
        } else if grants[..i].iter().any(|o| o.team_id == g.team_id) {
            errors.push_message(format!("shares[{i}].team_id"), MessageCode::SameTeamTwice);
        } else if Team::find(conn, auth.organization_id, g.team_id)
            .await?
            .is_none()
        {
            errors.push_message(format!("shares[{i}].team_id"), MessageCode::NotATeam);
        }
    }
    errors.into_result()?;
    Ok(grants.iter().map(|g| (g.team_id, g.role)).collect())
}

/// Operator rules that go beyond the field schema: files on the Hakobu server exist only
/// when the operator set `HAKOBU_LOCAL_FILES_ROOT`, and a connection's directory must lead
/// inside the organization's own folder there (`services::local_files`); an S3 connection
/// acts with the service's own cloud role only when the operator set
/// `HAKOBU_ALLOW_AMBIENT_CLOUD_ROLE`. Every way a
/// connection is saved or tested (create, update, test, import) goes through here.
/// A host or endpoint written as an address that the egress policy refuses is refused here
/// too, on its field, so the form says so before anything connects (names are checked
/// where they are resolved, at every use).
/// Answers where a `local_files` directory is on the disk (for a connection test).
pub fn check_operator_rules(
    state: &AppState,
    organization: OrganizationId,
    kind: ConnectionKind,
    settings: &Map<String, Value>,
) -> Result<Option<PathBuf>, ApiError> {
    check_address_literals(state, kind, settings)?;
    if kind == ConnectionKind::S3
        && S3Auth::of(settings) == S3Auth::Ambient
        && !state.cloud_roles.allow_ambient()
    {
        return Err(ApiError::field(
            "settings.auth",
            MessageCode::AmbientRoleOff,
        ));
    }
    if kind != ConnectionKind::LocalFiles {
        return Ok(None);
    }
    crate::services::local_files::resolve_directory(state, organization, settings).map(Some)
}

fn check_address_literals(
    state: &AppState,
    kind: ConnectionKind,
    settings: &Map<String, Value>,
) -> Result<(), ApiError> {
    let policy = state.probes.egress();
    let refused = |field: &str, e: hakobu_engine::egress::EgressError| {
        ApiError::field(&format!("settings.{field}"), e.to_string())
    };
    if let Some(db) = kind.db_kind() {
        let port_of = |name: &str, default: u16| {
            settings
                .get(name)
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(default)
        };
        // Through a bastion the policy is about the bastion: the database host is looked
        // up and reached by the bastion, in the tenant's own (often private) network.
        match setting_str(kind, settings, "ssh_host") {
            Some(bastion) => {
                hakobu_engine::egress::check_literal_host(policy, &bastion, port_of("ssh_port", 22))
                    .map_err(|e| refused("ssh_host", e))?
            }
            None => {
                let host = setting_str(kind, settings, "host").unwrap_or_default();
                hakobu_engine::egress::check_literal_host(
                    policy,
                    &host,
                    port_of("port", db.default_port()),
                )
                .map_err(|e| refused("host", e))?;
            }
        }
    }
    // Every kind with an endpoint override: S3-compatible storage, a warehouse's private
    // endpoint. (A BigQuery key's token_uri is inside the secret and is refused by the
    // engine when it is reached, under the same policy.)
    if matches!(
        kind,
        ConnectionKind::S3 | ConnectionKind::Bigquery | ConnectionKind::Snowflake
    ) && let Some(endpoint) = setting_str(kind, settings, "endpoint")
        && let Ok(url) = reqwest::Url::parse(&endpoint)
        && let Some(host) = url.host_str()
    {
        let port = url.port_or_known_default().unwrap_or(443);
        hakobu_engine::egress::check_literal_host(policy, host, port)
            .map_err(|e| refused("endpoint", e))?;
    }
    Ok(())
}

/// Every connection a job's settings name, with what it is for: the source, the
/// destination, each data check's and each query variable's.
pub fn job_connections(settings: &JobSettings) -> Vec<(String, ConnectionId)> {
    let mut out = vec![
        ("source".to_owned(), settings.source.connection_id),
        ("destination".to_owned(), settings.destination.connection_id),
    ];
    for check in &settings.checks {
        out.push((format!("data check {:?}", check.name), check.connection_id));
    }
    for v in &settings.variables {
        if let VariableValue::Query { connection_id, .. } = &v.value {
            out.push((format!("variable {:?}", v.name), *connection_id));
        }
    }
    out
}

/// Whether `team` (the team that owns a job) may still use every connection the job's
/// settings name, checked when a run starts: a share can be revoked or a connection moved
/// after the job was saved, and a re-run of an old revision is held to today's rights.
/// The team is asked of the one policy as if it were one of its own admins, so a share
/// grants it at most the shared role, exactly as it would a member. Answers why not, in
/// words for the run's error summary.
pub async fn team_use_refusal(
    conn: &mut AsyncPgConnection,
    organization: OrganizationId,
    team: TeamId,
    settings: &JobSettings,
) -> Result<Option<String>, ApiError> {
    let team_name = Team::find(conn, organization, team)
        .await?
        .map(|t| t.name)
        .unwrap_or_else(|| "that owns this job".to_owned());
    for (what, id) in job_connections(settings) {
        if let Err(why) = team_connection(conn, organization, team, id).await? {
            return Ok(Some(match why {
                TeamRefusal::Gone => format!(
                    "The {what} connection no longer exists; edit the job to choose another."
                ),
                TeamRefusal::NotAllowed(name) => format!(
                    "The team {team_name:?} may no longer use connection {name:?} (the job's {what} connection); ask its owner to share it again, at operator or higher."
                ),
            }));
        }
    }
    Ok(None)
}

/// Why a team may not use a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TeamRefusal {
    /// The connection is not (or no longer) one of the organization's.
    Gone,
    /// It exists, but the team has no operator rights on it (any more): its name.
    NotAllowed(String),
}

/// The connection, if `team` may use it (operator or more, as its own or through a
/// share), asked of the one policy as if the team were one of its own admins: when a
/// saved thing (a job's run, a workflow's check task) runs, with today's rights.
pub async fn team_connection(
    conn: &mut AsyncPgConnection,
    organization: OrganizationId,
    team: TeamId,
    id: ConnectionId,
) -> Result<Result<Connection, TeamRefusal>, ApiError> {
    let as_team = Principal {
        org_role: OrgRole::Member,
        team_roles: [(team, TeamRole::Admin)].into_iter().collect(),
    };
    let Some(c) = Connection::find(conn, organization, id).await? else {
        return Ok(Err(TeamRefusal::Gone));
    };
    let shares = Connection::shares(conn, organization, id).await?;
    let decision = authorize(
        &as_team,
        Action::UseResource,
        Target::Resource {
            owner: c.team_id,
            shares: &shares,
        },
    );
    if decision != Decision::Allow {
        return Ok(Err(TeamRefusal::NotAllowed(c.name)));
    }
    Ok(Ok(c))
}
