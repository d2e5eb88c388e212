//! Connections: CRUD scoped to the organization, owned by a team, shared with others;
//! secrets encrypted and write-only; test, discovery and preview through the engine.

use crate::audit::{self, Actor};
use crate::error::{ApiError, is_unique_violation};
use crate::extract::ApiJson;
use crate::extract::Auth;
use crate::models::connection::{Connection, ConnectionChangeset, NewConnection, Shares};
use crate::secrets::SecretSlot;
use crate::services::access::{
    check_operator_rules, check_shares, grants, load_authorized, require_team_editor,
};
use crate::state::AppState;
use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::Utc;
use diesel_async::AsyncConnection;
use hakobu_core::api::connections::{
    AcceptSshHostKeyRequest, ColumnView, ConnectionKindView, ConnectionTestResult, ConnectionView,
    CreateConnectionRequest, FieldChoice, FileView, FilesRequest, GuessResponse, PreviewRequest,
    PreviewResponse, SharesRequest, TestConnectionRequest, UpdateConnectionRequest,
};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::api::org::TeamGrant;
use hakobu_core::authz::{Action, TeamRole};
use hakobu_core::connection::{
    ConnectionKind, S3Auth, changed_binding_fields, field_applies, setting_str, validate_settings,
};
use hakobu_core::ids::{ConnectionId, TeamId};
use hakobu_core::job::{FileColumn, FileFormat, FileSource};
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::{FieldError, FieldErrors, check_text};
use hakobu_engine::check::{GuessedFormat, Listing};
use hakobu_engine::limits::DISCOVERY_MAX_ENTRIES;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::services::engine_bridge;
use crate::services::warehouses::{self, Browse};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_kinds)
        .service(test_unsaved)
        .service(list_connections)
        .service(create_connection)
        .service(get_connection)
        .service(update_connection)
        .service(delete_connection)
        .service(put_shares)
        .service(test_saved)
        .service(accept_ssh_host_key)
        .service(list_schemas)
        .service(list_tables)
        .service(list_columns)
        .service(preview)
        .service(list_files)
        .service(guess_files);
}

pub(crate) const NO_SECRET_KEY: &str = "Connections cannot be saved: the operator has not set HAKOBU_SECRET_KEY, \
     the key that encrypts passwords. Ask your administrator.";

/// The connection kinds and their form fields.
#[utoipa::path(tag = "connections", responses((status = 200, body = Vec<ConnectionKindView>)))]
#[get("/api/connection-kinds")]
async fn list_kinds(state: web::Data<AppState>, _auth: Auth) -> web::Json<Vec<ConnectionKindView>> {
    web::Json(
        ConnectionKind::ALL
            .into_iter()
            .map(|kind| ConnectionKindView {
                kind,
                label: kind.label(),
                fields: kind.fields(),
                available: kind != ConnectionKind::LocalFiles
                    || state.settings.local_files_root.is_some(),
                unavailable_choices: if kind == ConnectionKind::S3
                    && !state.cloud_roles.allow_ambient()
                {
                    vec![FieldChoice {
                        field: "auth".to_owned(),
                        choice: S3Auth::Ambient.as_str().to_owned(),
                    }]
                } else {
                    Vec::new()
                },
            })
            .collect(),
    )
}

fn view(c: &Connection, shares: &Shares, role: TeamRole) -> ConnectionView {
    let settings = (role >= TeamRole::Editor).then(|| {
        let mut shown = c.settings.as_object().cloned().unwrap_or_default();
        let stored = c.secret_names();
        for spec in c.kind.fields().iter().filter(|f| f.secret) {
            shown.insert(
                spec.name.to_owned(),
                json!({"set": stored.contains(&spec.name)}),
            );
        }
        shown
    });
    ConnectionView {
        id: c.id,
        name: c.name.clone(),
        kind: c.kind,
        team_id: c.team_id,
        your_role: role,
        shares: shares
            .iter()
            .map(|(team_id, role)| TeamGrant {
                team_id: *team_id,
                role: *role,
            })
            .collect(),
        settings,
        created_at: c.created_at,
        updated_at: c.updated_at,
        notes: Vec::new(),
    }
}

/// Splits form settings into plain settings and secrets (`None` = remove the secret).
/// Secret fields of a form: name and new value (`None` removes it).
pub(crate) type SecretChanges = Vec<(String, Option<String>)>;

pub(crate) fn split_secrets(
    kind: ConnectionKind,
    settings: &Map<String, Value>,
) -> (Map<String, Value>, SecretChanges) {
    let mut plain = Map::new();
    let mut secrets = Vec::new();
    for (name, value) in settings {
        match kind.field(name) {
            Some(spec) if spec.secret => {
                let text = value.as_str().map(str::to_owned).filter(|s| !s.is_empty());
                secrets.push((name.clone(), text));
            }
            _ => {
                let blank = value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty());
                if !blank {
                    let value = match value {
                        Value::String(s) => Value::String(s.trim().to_owned()),
                        other => other.clone(),
                    };
                    plain.insert(name.clone(), value);
                }
            }
        }
    }
    (plain, secrets)
}

/// Leaves out what means nothing with the connection's other settings (a key pair once
/// the connection assumes a role): a secret no longer used is not kept on file.
pub(crate) fn drop_inapplicable(
    kind: ConnectionKind,
    plain: &mut Map<String, Value>,
    sealed: &mut Map<String, Value>,
) {
    let basis = plain.clone();
    plain.retain(|name, _| field_applies(kind, &basis, name));
    sealed.retain(|name, _| field_applies(kind, &basis, name));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// Only connections owned by this team.
    team: Option<TeamId>,
    kind: Option<ConnectionKind>,
    /// Part of the name.
    q: Option<String>,
}

/// Connections the caller can see.
#[utoipa::path(tag = "connections", params(ListQuery), responses((status = 200, body = Vec<ConnectionView>)))]
#[get("/api/connections")]
async fn list_connections(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<ListQuery>,
) -> Result<web::Json<Vec<ConnectionView>>, ApiError> {
    let mut conn = state.pool.get().await?;
    let all = Connection::list(&mut conn, auth.organization_id).await?;
    let shares = Connection::all_shares(&mut conn, auth.organization_id).await?;
    let needle = query.q.as_deref().map(str::to_lowercase);
    let no_shares = Vec::new();
    let views = all
        .iter()
        .filter(|c| query.team.is_none_or(|t| c.team_id == t))
        .filter(|c| query.kind.is_none_or(|k| c.kind == k))
        .filter(|c| {
            needle
                .as_ref()
                .is_none_or(|n| c.name.to_lowercase().contains(n))
        })
        .filter_map(|c| {
            let s = shares.get(&c.id).unwrap_or(&no_shares);
            auth.principal
                .resource_role(c.team_id, s)
                .map(|role| view(c, s, role))
        })
        .collect();
    Ok(web::Json(views))
}

/// Creates a connection (editors of the owning team). Secrets are encrypted and never
/// returned.
#[utoipa::path(tag = "connections", request_body = CreateConnectionRequest, responses(
    (status = 201, body = ConnectionView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/connections")]
async fn create_connection(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<CreateConnectionRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let mut conn = state.pool.get().await?;
    require_team_editor(&mut conn, &auth, body.team_id, "team_id").await?;
    body.validate()?;
    check_operator_rules(&state, auth.organization_id, body.kind, &body.settings)?;
    let secret_box = state
        .secrets
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable(NO_SECRET_KEY.into()))?;
    let (mut plain, secrets) = split_secrets(body.kind, &body.settings);
    let id = ConnectionId::new();
    let mut sealed = Map::new();
    for (name, value) in &secrets {
        if let Some(value) = value {
            let slot = SecretSlot::connection(auth.organization_id, id, name);
            sealed.insert(
                name.clone(),
                Value::String(secret_box.encrypt(value, &slot)?),
            );
        }
    }
    drop_inapplicable(body.kind, &mut plain, &mut sealed);
    let created = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let created = Connection::insert(
                conn,
                NewConnection {
                    id,
                    organization_id: auth.organization_id,
                    team_id: body.team_id,
                    name: body.name.trim(),
                    kind: body.kind,
                    settings: Value::Object(plain.clone()),
                    secrets: Value::Object(sealed),
                    created_by: Some(auth.user_id),
                },
            )
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::conflict("name", "A connection with this name already exists.")
                } else {
                    e.into()
                }
            })?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "connection.create",
                "connection",
                created.id,
                json!({
                    "name": created.name, "kind": created.kind, "team_id": created.team_id,
                    "settings": plain, "secrets_set": created.secret_names(),
                }),
            )
            .await?;
            Ok(created)
        })
        .await?;
    Ok(HttpResponse::Created().json(view(&created, &Vec::new(), role_on(&auth, &created, &[]))))
}

fn role_on(auth: &Auth, c: &Connection, shares: &[(TeamId, TeamRole)]) -> TeamRole {
    auth.principal
        .resource_role(c.team_id, shares)
        .unwrap_or(TeamRole::Viewer)
}

#[utoipa::path(tag = "connections", params(("connection_id" = ConnectionId, Path)), responses(
    (status = 200, body = ConnectionView), (status = 404, body = ErrorBody)))]
#[get("/api/connections/{connection_id}")]
async fn get_connection(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ConnectionId>,
) -> Result<web::Json<ConnectionView>, ApiError> {
    let mut conn = state.pool.get().await?;
    let (c, shares) = load_authorized(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResource,
        "see this connection",
    )
    .await?;
    Ok(web::Json(view(&c, &shares, role_on(&auth, &c, &shares))))
}

/// Changes a connection (editors). Secrets left out are kept; `null` removes one.
#[utoipa::path(tag = "connections", params(("connection_id" = ConnectionId, Path)), request_body = UpdateConnectionRequest, responses(
    (status = 200, body = ConnectionView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/api/connections/{connection_id}")]
async fn update_connection(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ConnectionId>,
    body: ApiJson<UpdateConnectionRequest>,
) -> Result<web::Json<ConnectionView>, ApiError> {
    let body = body.0;
    let id = path.into_inner();
    let secret_box = state
        .secrets
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable(NO_SECRET_KEY.into()))?;
    let mut conn = state.pool.get().await?;
    let (updated, shares, notes) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (before, shares) = load_authorized(conn, &auth, id, Action::EditResource, "change this connection").await?;
            if let Some(team) = body.team_id.filter(|t| *t != before.team_id) {
                // Moving takes the connection away from its team (and from the jobs that
                // use it there): that is its team's admins' decision, not an editor's, nor
                // that of a team it was only shared with.
                if auth.principal.team_role(before.team_id) < Some(TeamRole::Admin) {
                    return Err(ApiError::forbidden_role(
                        "move this connection to another team (admin of the team that owns it is needed)",
                    ));
                }
                require_team_editor(conn, &auth, team, "team_id").await?;
            }
            let mut errors = FieldErrors::default();
            if let Some(name) = &body.name {
                check_text(&mut errors, "name", name, hakobu_core::api::NAME_MAX_CHARS);
            }
            let mut plain = before.settings.as_object().cloned().unwrap_or_default();
            let mut sealed = before.secrets.as_object().cloned().unwrap_or_default();
            let mut secrets_changed = Vec::new();
            let mut cleared: Vec<String> = Vec::new();
            let mut notes: Vec<FieldError> = Vec::new();
            if let Some(settings) = &body.settings {
                let (new_plain, new_secrets) = split_secrets(before.kind, settings);
                for name in settings.keys().filter(|k| !before.kind.field(k).is_some_and(|f| f.secret)) {
                    plain.remove(name);
                }
                plain.extend(new_plain);
                for (name, value) in new_secrets {
                    match value {
                        Some(v) => {
                            let slot = SecretSlot::connection(before.organization_id, before.id, &name);
                            sealed.insert(name.clone(), Value::String(secret_box.encrypt(&v, &slot)?));
                        }
                        None => {
                            sealed.remove(&name);
                        }
                    }
                    secrets_changed.push(name);
                }
                drop_inapplicable(before.kind, &mut plain, &mut sealed);
                // A saved secret goes only where, and as whom, it was saved: moved
                // without the secret given again, the connection forgets it.
                let before_plain = before.settings.as_object().cloned().unwrap_or_default();
                let changed = changed_binding_fields(before.kind, &before_plain, &plain);
                if let Some(first) = changed.first() {
                    let given: Vec<&str> = settings
                        .iter()
                        .filter(|(k, v)| before.kind.field(k).is_some_and(|f| f.secret) && v.as_str().is_some_and(|s| !s.is_empty()))
                        .map(|(k, _)| k.as_str())
                        .collect();
                    let kept: Vec<String> = sealed.keys().filter(|k| !given.contains(&k.as_str())).cloned().collect();
                    for name in kept {
                        sealed.remove(&name);
                        cleared.push(name);
                    }
                    for name in &cleared {
                        notes.push(FieldError::said(
                            format!("settings.{name}"),
                            MessageCode::SecretCleared.with("changed", first),
                        ));
                    }
                }
                let on_file: Vec<&str> = sealed.keys().map(String::as_str).collect();
                let mut merged = plain.clone();
                for name in &on_file {
                    merged.remove(*name);
                }
                let mut found = validate_settings(before.kind, &merged, &on_file, "settings").0;
                // A secret the form needs and the update just cleared: say why it is missing.
                if let Some(first) = changed.first() {
                    for e in found.iter_mut() {
                        if cleared.iter().any(|c| e.field == format!("settings.{c}")) {
                            *e = FieldError::said(e.field.clone(), MessageCode::SecretReenter.with("changed", first));
                        }
                    }
                }
                errors.0.extend(found);
                check_operator_rules(&state, auth.organization_id, before.kind, &plain)?;
            }
            errors.into_result()?;
            let name = body.name.as_deref().map(str::trim).unwrap_or(&before.name);
            let updated = Connection::update(
                conn,
                auth.organization_id,
                id,
                ConnectionChangeset {
                    name,
                    team_id: body.team_id.unwrap_or(before.team_id),
                    settings: Value::Object(plain),
                    secrets: Value::Object(sealed),
                    updated_at: Utc::now(),
                },
            )
            .await
            .map_err(|e| if is_unique_violation(&e) { ApiError::conflict("name", "A connection with this name already exists.") } else { e.into() })?
            .ok_or_else(|| ApiError::not_found("connection"))?;
            audit::record(conn, &Actor::from(&auth), "connection.update", "connection", id, json!({
                "before": {"name": before.name, "team_id": before.team_id, "settings": before.settings},
                "after": {"name": updated.name, "team_id": updated.team_id, "settings": updated.settings},
                "secrets_changed": secrets_changed,
                "secrets_cleared_by_binding_change": cleared,
            }))
            .await?;
            Ok((updated, shares, notes))
        })
        .await?;
    let mut shown = view(&updated, &shares, role_on(&auth, &updated, &shares));
    shown.notes = notes;
    Ok(web::Json(shown))
}

/// Deletes a connection no job uses (editors).
#[utoipa::path(tag = "connections", params(("connection_id" = ConnectionId, Path)), responses(
    (status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "jobs use it")))]
#[delete("/api/connections/{connection_id}")]
async fn delete_connection(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ConnectionId>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let (c, _) = load_authorized(
            conn,
            &auth,
            id,
            Action::EditResource,
            "delete this connection",
        )
        .await?;
        let users = Connection::used_by(conn, auth.organization_id, id).await?;
        if !users.is_empty() {
            let names: Vec<&str> = users.iter().map(|(_, n)| n.as_str()).collect();
            return Err(ApiError::Conflict {
                message: format!(
                    "Jobs still use this connection: {}. Change or delete them first.",
                    names.join(", ")
                )
                .into(),
                field: None,
            });
        }
        Connection::delete(conn, auth.organization_id, id).await?;
        audit::record(
            conn,
            &Actor::from(&auth),
            "connection.delete",
            "connection",
            id,
            json!({"name": c.name, "kind": c.kind}),
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replaces the teams a connection is shared with (admins of the connection).
#[utoipa::path(tag = "connections", params(("connection_id" = ConnectionId, Path)), request_body = SharesRequest, responses(
    (status = 200, body = ConnectionView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/api/connections/{connection_id}/shares")]
async fn put_shares(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ConnectionId>,
    body: ApiJson<SharesRequest>,
) -> Result<web::Json<ConnectionView>, ApiError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let (c, shares) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (c, before) = load_authorized(
                conn,
                &auth,
                id,
                Action::ShareResource,
                "share this connection",
            )
            .await?;
            let shares = check_shares(conn, &auth, c.team_id, &body.0.shares).await?;
            Connection::set_shares(conn, auth.organization_id, id, &shares).await?;
            audit::record(
                conn,
                &Actor::from(&auth),
                "connection.share",
                "connection",
                id,
                json!({
                    "name": c.name, "before": grants(&before), "after": grants(&shares),
                }),
            )
            .await?;
            Ok((c, shares))
        })
        .await?;
    Ok(web::Json(view(&c, &shares, role_on(&auth, &c, &shares))))
}

/// Tests settings before saving (editors of any team). With `connection_id`, secrets left
/// out come from that connection.
#[utoipa::path(tag = "connections", request_body = TestConnectionRequest, responses(
    (status = 200, body = ConnectionTestResult, description = "the test ran; `ok` says whether it connected"), (status = 422, body = ErrorBody)))]
#[post("/api/connections/test")]
async fn test_unsaved(
    state: web::Data<AppState>,
    auth: Auth,
    body: ApiJson<TestConnectionRequest>,
) -> Result<web::Json<ConnectionTestResult>, ApiError> {
    let body = body.0;
    // Testing makes Hakobu connect to an address of the caller's choosing: editors only.
    if !auth.principal.is_org_admin()
        && !auth
            .principal
            .team_roles
            .values()
            .any(|r| *r >= TeamRole::Editor)
    {
        return Err(ApiError::forbidden_role("test connections"));
    }
    count_probe(&state, &auth)?;
    let (plain, secrets) = split_secrets(body.kind, &body.settings);
    let mut resolved: Map<String, Value> = secrets
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, Value::String(v))))
        .collect();
    if let Some(id) = body.connection_id {
        let mut conn = state.pool.get().await?;
        let (saved, _) = load_authorized(
            &mut conn,
            &auth,
            id,
            Action::EditResource,
            "test this connection",
        )
        .await?;
        if saved.kind != body.kind {
            return Err(ApiError::field(
                "kind",
                "differs from the saved connection's kind",
            ));
        }
        let filled: Vec<String> = saved
            .secret_names()
            .into_iter()
            .filter(|name| !resolved.contains_key(*name))
            .map(str::to_owned)
            .collect();
        if let Some(secret) = filled.first() {
            // A saved secret goes only where, and as whom, it was saved: a test aimed
            // elsewhere must bring its own.
            let saved_plain = saved.settings.as_object().cloned().unwrap_or_default();
            let changed = changed_binding_fields(saved.kind, &saved_plain, &plain);
            if !changed.is_empty() {
                let mut errors = FieldErrors::default();
                for name in changed {
                    errors.push_message(
                        format!("settings.{name}"),
                        MessageCode::SecretForChangedSetting.with("secret", secret),
                    );
                }
                return Err(errors.into());
            }
            for (name, value) in engine_bridge::decrypt_secrets(&state, &saved)? {
                resolved.entry(name).or_insert(value);
            }
            audit::record(
                &mut conn,
                &Actor::from(&auth),
                "connection.test_with_saved_secrets",
                "connection",
                id,
                json!({"name": saved.name, "secrets_used": filled, "settings": plain}),
            )
            .await?;
        }
    }
    let on_file: Vec<&str> = resolved.keys().map(String::as_str).collect();
    validate_settings(body.kind, &plain, &on_file, "settings").into_result()?;
    let local_directory = check_operator_rules(&state, auth.organization_id, body.kind, &plain)?;
    Ok(web::Json(
        engine_bridge::test(
            &state,
            auth.organization_id,
            body.kind,
            &plain,
            &resolved,
            local_directory.as_deref(),
        )
        .await,
    ))
}

/// Tests a saved connection (editors: the answer names host and user).
#[utoipa::path(tag = "connections", params(("connection_id" = ConnectionId, Path)), responses(
    (status = 200, body = ConnectionTestResult), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/api/connections/{connection_id}/test")]
async fn test_saved(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ConnectionId>,
) -> Result<web::Json<ConnectionTestResult>, ApiError> {
    let mut conn = state.pool.get().await?;
    let (c, _) = load_authorized(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::ViewResourceDetails,
        "test this connection",
    )
    .await?;
    drop(conn);
    count_probe(&state, &auth)?;
    let secrets = engine_bridge::decrypt_secrets(&state, &c)?;
    let plain = c.settings.as_object().cloned().unwrap_or_default();
    // A saved directory is held to today's rules too (it may predate them); a saved
    // credential the operator has since turned off is the test's own answer.
    let local_directory = match c.kind {
        ConnectionKind::LocalFiles => Some(crate::services::local_files::resolve_directory(
            &state,
            auth.organization_id,
            &plain,
        )?),
        _ => None,
    };
    let result = engine_bridge::test(
        &state,
        c.organization_id,
        c.kind,
        &plain,
        &secrets,
        local_directory.as_deref(),
    )
    .await;
    // The first successful test through a bastion pins the host key it presented; every
    // later connection insists on it. A pin never changes here: only an editor's accept.
    if let (true, Some(key)) = (result.ok, &result.ssh_host_key)
        && plain.contains_key("ssh_host")
        && !plain.contains_key(SSH_PIN)
    {
        let mut conn = state.pool.get().await?;
        pin_ssh_host_key(&mut conn, &auth, &c, key, "connection.ssh_host_key_pinned").await?;
    }
    Ok(web::Json(result))
}

/// The setting that holds a bastion's pinned host key fingerprint.
const SSH_PIN: &str = "ssh_host_key_fingerprint";

/// Stores `key` as the connection's pinned bastion host key and records who did it.
async fn pin_ssh_host_key(
    conn: &mut diesel_async::AsyncPgConnection,
    auth: &Auth,
    c: &Connection,
    key: &hakobu_core::config::SshHostKey,
    action: &str,
) -> Result<Connection, ApiError> {
    let mut settings = c.settings.as_object().cloned().unwrap_or_default();
    let before = settings.insert(SSH_PIN.to_owned(), json!(key.fingerprint));
    let updated = Connection::update(
        conn,
        auth.organization_id,
        c.id,
        ConnectionChangeset {
            name: &c.name,
            team_id: c.team_id,
            settings: Value::Object(settings),
            secrets: c.secrets.clone(),
            updated_at: Utc::now(),
        },
    )
    .await?
    .ok_or_else(|| ApiError::not_found("connection"))?;
    audit::record(
        conn,
        &Actor::from(auth),
        action,
        "connection",
        c.id,
        json!({
            "name": c.name,
            "ssh_host": c.settings.get("ssh_host"),
            "before": before,
            "after": key.fingerprint,
            "algorithm": key.algorithm,
        }),
    )
    .await?;
    Ok(updated)
}

/// Accepts a new host key for the connection's SSH bastion (editors), after a test was
/// refused because the bastion presented another key than the pinned one. The body names
/// the new fingerprint the refused test showed, so what is accepted is what the editor
/// saw and checked, not whatever the bastion presents at this moment.
#[utoipa::path(tag = "connections", params(("connection_id" = ConnectionId, Path)), request_body = AcceptSshHostKeyRequest, responses(
    (status = 200, body = ConnectionView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/connections/{connection_id}/ssh-host-key")]
async fn accept_ssh_host_key(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ConnectionId>,
    body: ApiJson<AcceptSshHostKeyRequest>,
) -> Result<web::Json<ConnectionView>, ApiError> {
    let fingerprint = body.0.fingerprint.trim().to_owned();
    hakobu_core::config::check_fingerprint(&fingerprint)
        .map_err(|m| ApiError::field("fingerprint", m))?;
    let mut conn = state.pool.get().await?;
    let (c, shares) = load_authorized(
        &mut conn,
        &auth,
        path.into_inner(),
        Action::EditResource,
        "accept a new SSH host key for this connection",
    )
    .await?;
    if setting_str(
        c.kind,
        c.settings.as_object().unwrap_or(&Map::new()),
        "ssh_host",
    )
    .is_none()
    {
        return Err(ApiError::field(
            "fingerprint",
            "this connection does not go through an SSH bastion",
        ));
    }
    let key = hakobu_core::config::SshHostKey {
        algorithm: String::new(),
        fingerprint,
    };
    let updated = pin_ssh_host_key(
        &mut conn,
        &auth,
        &c,
        &key,
        "connection.ssh_host_key_accepted",
    )
    .await?;
    Ok(web::Json(view(
        &updated,
        &shares,
        role_on(&auth, &updated, &shares),
    )))
}

/// Counts one connection test, preview or discovery request against the caller's and
/// the organization's per-minute limits: each starts a probe worker and opens a
/// connection to a system outside Hakobu.
fn count_probe(state: &AppState, auth: &Auth) -> Result<(), ApiError> {
    state.limiter.probe(
        &state.settings.abuse_limits,
        auth.user_id,
        auth.organization_id,
    )
}

/// A connection the caller may browse, as a database or a data warehouse (editors and
/// more; another organization's is 404); storage kinds are refused.
async fn browse_connection(
    state: &AppState,
    auth: &Auth,
    id: ConnectionId,
) -> Result<(Connection, Browse), ApiError> {
    let mut conn = state.pool.get().await?;
    let (c, _) = load_authorized(
        &mut conn,
        auth,
        id,
        Action::ViewResourceDetails,
        "browse this connection",
    )
    .await?;
    drop(conn);
    count_probe(state, auth)?;
    let target = warehouses::browse(state, &c)?.ok_or_else(|| ApiError::BadRequest {
        message: "Only database and data warehouse connections have schemas and tables.".into(),
        field: None,
    })?;
    Ok((c, target))
}

/// A warehouse's failure while browsing, in its words.
fn warehouse_upstream(e: hakobu_engine::check::CheckError) -> ApiError {
    engine_bridge::upstream_at(e, "the warehouse")
}

#[utoipa::path(tag = "connections", params(("connection_id" = ConnectionId, Path)), responses(
    (status = 200, body = Vec<String>), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody, description = "the database answered with an error")))]
#[get("/api/connections/{connection_id}/schemas")]
async fn list_schemas(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ConnectionId>,
) -> Result<HttpResponse, ApiError> {
    match browse_connection(&state, &auth, path.into_inner()).await?.1 {
        Browse::Database(target) => engine_bridge::list_schemas(&state, &target)
            .await
            .map(listing_response)
            .map_err(engine_bridge::upstream),
        Browse::Warehouse(w) => warehouses::list_schemas(&state, &w)
            .await
            .map(listing_response)
            .map_err(warehouse_upstream),
    }
}

/// Header of a listing cut at [`DISCOVERY_MAX_ENTRIES`]: the JSON array has no room to say so.
pub const LISTING_TRUNCATED_HEADER: &str = "Hakobu-Listing-Truncated";

/// A listing as its JSON array; one cut at its bound also carries
/// [`LISTING_TRUNCATED_HEADER`] saying how far it goes.
fn listing_response<T: serde::Serialize>(listing: Listing<T>) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    if listing.truncated {
        response.insert_header((
            LISTING_TRUNCATED_HEADER,
            format!("only the first {DISCOVERY_MAX_ENTRIES} entries are listed"),
        ));
    }
    response.json(listing.items)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct SchemaQuery {
    /// The schema; default: the connection's default schema (MySQL: its database; BigQuery: its dataset).
    schema: Option<String>,
}

#[utoipa::path(tag = "connections", params(("connection_id" = ConnectionId, Path), SchemaQuery), responses(
    (status = 200, body = Vec<String>), (status = 404, body = ErrorBody)))]
#[get("/api/connections/{connection_id}/tables")]
async fn list_tables(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ConnectionId>,
    query: web::Query<SchemaQuery>,
) -> Result<HttpResponse, ApiError> {
    let (c, target) = browse_connection(&state, &auth, path.into_inner()).await?;
    let schema = engine_bridge::schema_or_default(&c, query.schema.as_deref());
    match target {
        Browse::Database(target) => engine_bridge::list_tables(&state, &target, &schema)
            .await
            .map(listing_response)
            .map_err(engine_bridge::upstream),
        Browse::Warehouse(w) => warehouses::list_tables(&state, &w, &schema)
            .await
            .map(listing_response)
            .map_err(warehouse_upstream),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct TableQuery {
    schema: Option<String>,
    table: String,
}

#[utoipa::path(tag = "connections", params(("connection_id" = ConnectionId, Path), TableQuery), responses(
    (status = 200, body = Vec<ColumnView>), (status = 404, body = ErrorBody)))]
#[get("/api/connections/{connection_id}/columns")]
async fn list_columns(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ConnectionId>,
    query: web::Query<TableQuery>,
) -> Result<HttpResponse, ApiError> {
    let (c, target) = browse_connection(&state, &auth, path.into_inner()).await?;
    let schema = engine_bridge::schema_or_default(&c, query.schema.as_deref());
    let columns = match target {
        Browse::Database(target) => {
            engine_bridge::list_columns(&state, &target, &schema, &query.table)
                .await
                .map_err(engine_bridge::upstream)?
        }
        Browse::Warehouse(w) => warehouses::list_columns(&state, &w, &schema, &query.table)
            .await
            .map_err(warehouse_upstream)?,
    };
    if columns.items.is_empty() {
        return Err(ApiError::NotFound(
            format!(
                "No table {schema}.{} (or no columns you may read).",
                query.table
            )
            .into(),
        ));
    }
    Ok(listing_response(Listing {
        items: columns
            .items
            .into_iter()
            .map(|c| ColumnView {
                name: c.name,
                data_type: c.data_type,
                nullable: c.nullable,
            })
            .collect(),
        truncated: columns.truncated,
    }))
}

/// The first rows of a table or of a read-only query (editors of the connection).
#[utoipa::path(tag = "connections", params(("connection_id" = ConnectionId, Path)), request_body = PreviewRequest, responses(
    (status = 200, body = PreviewResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/api/connections/{connection_id}/preview")]
async fn preview(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ConnectionId>,
    body: ApiJson<PreviewRequest>,
) -> Result<web::Json<PreviewResponse>, ApiError> {
    let body = body.0;
    let limit = body.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            MessageCode::FromTo.with("from", 1).with("to", 100),
        ));
    }
    let (c, target) = browse_connection(&state, &auth, path.into_inner()).await?;
    match target {
        Browse::Database(target) => engine_bridge::preview(
            &state,
            &c,
            &target,
            body.table.as_ref(),
            body.query.as_deref(),
            limit as usize,
        )
        .await
        .map(web::Json),
        Browse::Warehouse(w) => {
            let schema = engine_bridge::schema_or_default(
                &c,
                body.table.as_ref().and_then(|t| t.schema.as_deref()),
            );
            warehouses::preview(
                &state,
                &w,
                schema,
                body.table.as_ref(),
                body.query.as_deref(),
                limit as usize,
            )
            .await
            .map(web::Json)
        }
    }
}

/// A file connection the caller may browse, as for a database's discovery: operators and
/// more of a team that owns it or that it is shared with; another organization's is 404.
async fn file_connection(
    state: &AppState,
    auth: &Auth,
    id: ConnectionId,
    request: &FilesRequest,
) -> Result<(Connection, hakobu_engine::check::FileStore, String), ApiError> {
    request.validate().map_err(ApiError::Validation)?;
    let mut conn = state.pool.get().await?;
    let (c, _) = load_authorized(
        &mut conn,
        auth,
        id,
        Action::ViewResourceDetails,
        "browse this connection",
    )
    .await?;
    drop(conn);
    if c.kind.is_database() {
        return Err(ApiError::BadRequest {
            message: "Only file connections (S3, files on the server) have files to list; browse a database's tables instead.".into(),
            field: None,
        });
    }
    if let Some(pattern) = request.path_match_pattern.as_deref()
        && let Err(e) = regex::Regex::new(pattern)
    {
        return Err(ApiError::field(
            "path_match_pattern",
            format!("is not a valid regular expression: {e}"),
        ));
    }
    count_probe(state, auth)?;
    let (store, prefix) = engine_bridge::file_store(state, &c, &request.path_prefix).await?;
    Ok((c, store, prefix))
}

/// The name of a file as the connection's jobs give it.
fn job_name(c: &Connection, name: &str) -> String {
    match c.kind {
        ConnectionKind::LocalFiles => crate::services::local_files::name_in_directory(
            c.settings.as_object().unwrap_or(&Map::new()),
            name,
        ),
        _ => name.to_owned(),
    }
}

fn file_view(c: &Connection, f: hakobu_engine::check::FileEntry) -> FileView {
    FileView {
        name: job_name(c, &f.name),
        size: f.size,
        modified: f.modified,
    }
}

/// The files a file source's path prefix and pattern match, in path order (at most
/// [`hakobu_engine::limits::FILE_LISTING_MAX_ENTRIES`]; a listing cut there, or at its
/// time budget, says so in [`LISTING_TRUNCATED_HEADER`]).
#[utoipa::path(tag = "connections", params(("connection_id" = ConnectionId, Path), FilesRequest), responses(
    (status = 200, body = Vec<FileView>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 502, body = ErrorBody, description = "the storage answered with an error")))]
#[get("/api/connections/{connection_id}/files")]
async fn list_files(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ConnectionId>,
    query: web::Query<FilesRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = query.into_inner();
    let (c, store, prefix) = file_connection(&state, &auth, path.into_inner(), &request).await?;
    let listing =
        engine_bridge::list_files(&state, store, prefix, request.path_match_pattern.clone())
            .await
            .map_err(|e| engine_bridge::files_upstream(&c, e))?;
    let mut response = HttpResponse::Ok();
    if listing.truncated {
        response.insert_header((
            LISTING_TRUNCATED_HEADER,
            format!(
                "only the first {} files found are listed",
                listing.items.len()
            ),
        ));
    }
    Ok(response.json(
        listing
            .items
            .into_iter()
            .map(|f| file_view(&c, f))
            .collect::<Vec<_>>(),
    ))
}

/// Guesses the format and columns of the first file the prefix and pattern match (or of
/// `file`) from its first bytes, and previews its first rows with them. Nothing is stored:
/// the answer's `source` fills the job form's file settings.
#[utoipa::path(tag = "connections", params(("connection_id" = ConnectionId, Path)), request_body = FilesRequest, responses(
    (status = 200, body = GuessResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    (status = 502, body = ErrorBody, description = "the storage answered with an error")))]
#[post("/api/connections/{connection_id}/guess")]
async fn guess_files(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<ConnectionId>,
    body: ApiJson<FilesRequest>,
) -> Result<web::Json<GuessResponse>, ApiError> {
    let request = body.0;
    if let Some(file) = request.file.as_deref() {
        hakobu_core::files::check_relative(file)
            .ok()
            .filter(|_| !file.is_empty())
            .ok_or_else(|| ApiError::field("file", "must be a file the listing found"))?;
    }
    let (c, store, prefix) = file_connection(&state, &auth, path.into_inner(), &request).await?;
    let file = request.file.as_deref().map(|f| match c.kind {
        ConnectionKind::LocalFiles => crate::services::local_files::name_in_folder(
            c.settings.as_object().unwrap_or(&Map::new()),
            f,
        ),
        _ => f.to_owned(),
    });
    let guess = engine_bridge::guess_files(
        &state,
        store,
        prefix,
        request.path_match_pattern.clone(),
        file,
        request.limit.unwrap_or(20) as usize,
    )
    .await
    .map_err(|e| engine_bridge::files_upstream(&c, e))?;
    let g = guess.guess;
    let format = match g.format {
        GuessedFormat::Csv => FileFormat::Csv,
        GuessedFormat::Jsonl => FileFormat::Jsonl,
        GuessedFormat::Parquet => FileFormat::Parquet,
    };
    let source = FileSource {
        path_prefix: request.path_prefix.clone(),
        path_match_pattern: request.path_match_pattern.clone(),
        format,
        gzip: guess.gzip,
        header_line: g.header_line,
        delimiter: g.delimiter,
        quote: Some(g.quote).filter(|q| q != "\""),
        skip_header_lines: g.skip_header_lines,
        columns: g
            .columns
            .into_iter()
            .map(|col| FileColumn {
                name: col.name,
                type_: col.type_,
                format: col.format,
            })
            .collect(),
    };
    Ok(web::Json(GuessResponse {
        file: file_view(&c, guess.file),
        source,
        preview: guess.preview.map(engine_bridge::preview_response),
        preview_note: guess.preview_note,
    }))
}
