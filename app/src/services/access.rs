//! Access checks shared by the routes: loading a connection the caller may use at a role,
//! team editor rights, and the shares of connections and jobs.

use crate::error::ApiError;
use crate::extract::Auth;
use crate::models::connection::{Connection, Shares};
use crate::models::team::Team;
use crate::state::AppState;
use diesel_async::AsyncPgConnection;
use hakobu_core::api::org::TeamGrant;
use hakobu_core::authz::{Action, Decision, Target, authorize};
use hakobu_core::connection::{ConnectionKind, S3Auth};
use hakobu_core::ids::{ConnectionId, TeamId};
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::FieldErrors;
use serde_json::Map;
use serde_json::{Value, json};

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
/// when the operator set `HAKOBU_LOCAL_FILES_ROOT`, and only inside it; an S3 connection
/// acts with the service's own cloud role only when the operator set
/// `HAKOBU_ALLOW_AMBIENT_CLOUD_ROLE`. Every way a connection is saved (create, update,
/// import) or tested unsaved goes through here.
pub fn check_operator_rules(
    state: &AppState,
    kind: ConnectionKind,
    settings: &Map<String, Value>,
) -> Result<(), ApiError> {
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
        return Ok(());
    }
    let Some(root) = &state.settings.local_files_root else {
        return Err(ApiError::field(
            "kind",
            "files on the Hakobu server are turned off by the operator (HAKOBU_LOCAL_FILES_ROOT)",
        ));
    };
    let dir = settings
        .get("directory")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let path = std::path::Path::new(dir);
    let escapes = path
        .components()
        .any(|c| matches!(c, std::path::Component::ParentDir));
    if escapes || !path.starts_with(root) {
        return Err(ApiError::field(
            "settings.directory",
            format!(
                "must be inside {} (the area the operator allows)",
                root.display()
            ),
        ));
    }
    Ok(())
}
