//! Connections: the list, and one form to create or change a connection, generated from
//! `core`'s field schema (labels, help texts, input types, defaults, secrets), with
//! "Test connection" before and after saving, sharing with teams, and deletion.
//!
//! Secrets are write-only: the server answers `{"set": true}` for a stored one, the input
//! stays empty, and leaving it empty keeps the stored value.

use crate::api::{self, ApiError};
use crate::components::{
    ActionErrorNotice, ConfirmButton, Empty, FieldError as FieldMessage, FormProblem, LoadError,
    Loading, ResourceTable, Submit, Time,
};
use crate::forms::Form;
use crate::i18n::{Key, connection_kind_name, fill, team_role_name, tr, translate, use_lang};
use crate::session::{can_create_resources, editable_teams, use_session};
use crate::widgets::sharing::{Shared, SharesForm};
use hakobu_core::api::connections::{
    ConnectionTestResult, ConnectionView, CreateConnectionRequest, FieldChoice,
    TestConnectionRequest, UpdateConnectionRequest,
};
use hakobu_core::api::org::TeamView;
use hakobu_core::authz::TeamRole;
use hakobu_core::connection::{
    ConnectionKind, FieldInput, FieldSpec, field_applies, validate_settings,
};
use hakobu_core::ids::{ConnectionId, TeamId};
use hakobu_core::validation::{FieldErrors, check_text};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The label and help of a schema field, in the UI's languages. The English side is
/// `core`'s own text (a unit test keeps them equal).
pub fn field_texts(kind: ConnectionKind, name: &str) -> (Key, Key) {
    // The warehouses' fields that share a name with another kind's but not its words.
    match (kind, name) {
        (ConnectionKind::Bigquery, "project") => {
            return (Key::FieldBqProject, Key::FieldBqProjectHelp);
        }
        (ConnectionKind::Bigquery, "dataset") => {
            return (Key::FieldBqDataset, Key::FieldBqDatasetHelp);
        }
        (ConnectionKind::Bigquery, "location") => {
            return (Key::FieldBqLocation, Key::FieldBqLocationHelp);
        }
        (ConnectionKind::Bigquery, "json_keyfile") => {
            return (Key::FieldBqKey, Key::FieldBqKeyHelp);
        }
        (ConnectionKind::Bigquery, "endpoint") => {
            return (Key::FieldBqEndpoint, Key::FieldBqEndpointHelp);
        }
        (ConnectionKind::Snowflake, "account") => {
            return (Key::FieldSfAccount, Key::FieldSfAccountHelp);
        }
        (ConnectionKind::Snowflake, "user") => return (Key::FieldUser, Key::FieldSfUserHelp),
        (ConnectionKind::Snowflake, "password") => {
            return (Key::Password, Key::FieldSfPasswordHelp);
        }
        (ConnectionKind::Snowflake, "private_key") => {
            return (Key::FieldSfPrivateKey, Key::FieldSfPrivateKeyHelp);
        }
        (ConnectionKind::Snowflake, "warehouse") => {
            return (Key::FieldSfWarehouse, Key::FieldSfWarehouseHelp);
        }
        (ConnectionKind::Snowflake, "role") => return (Key::FieldSfRole, Key::FieldSfRoleHelp),
        (ConnectionKind::Snowflake, "database") => {
            return (Key::FieldDatabase, Key::FieldSfDatabaseHelp);
        }
        (ConnectionKind::Snowflake, "endpoint") => {
            return (Key::FieldEndpoint, Key::FieldSfEndpointHelp);
        }
        _ => {}
    }
    match name {
        "host" => (Key::FieldHost, Key::FieldHostHelp),
        "port" => (Key::FieldPort, Key::FieldPortHelp),
        "database" => (Key::FieldDatabase, Key::FieldDatabaseHelp),
        "user" => (Key::FieldUser, Key::FieldUserHelp),
        "password" => (Key::Password, Key::FieldPasswordHelp),
        "schema" => (Key::FieldSchema, Key::FieldSchemaHelp),
        "tls_mode" => (Key::FieldTls, Key::FieldTlsHelp),
        "ca_certificate" => (Key::FieldCa, Key::FieldCaHelp),
        "bucket" => (Key::FieldBucket, Key::FieldBucketHelp),
        "region" => (Key::FieldRegion, Key::FieldRegionHelp),
        "endpoint" => (Key::FieldEndpoint, Key::FieldEndpointHelp),
        "auth" => (Key::FieldAuth, Key::FieldAuthHelp),
        "access_key_id" => (Key::FieldAccessKeyId, Key::FieldAccessKeyIdHelp),
        "secret_access_key" => (Key::FieldSecretAccessKey, Key::FieldSecretAccessKeyHelp),
        "path_style" => (Key::FieldPathStyle, Key::FieldPathStyleHelp),
        "role_arn" => (Key::FieldRoleArn, Key::FieldRoleArnHelp),
        "ssh_host" => (Key::FieldSshHost, Key::FieldSshHostHelp),
        "ssh_port" => (Key::FieldSshPort, Key::FieldSshPortHelp),
        "ssh_user" => (Key::FieldSshUser, Key::FieldSshUserHelp),
        "ssh_private_key" => (Key::FieldSshKey, Key::FieldSshKeyHelp),
        "ssh_private_key_passphrase" => (Key::FieldSshPassphrase, Key::FieldSshPassphraseHelp),
        "ssh_host_key_fingerprint" => (Key::FieldSshFingerprint, Key::FieldSshFingerprintHelp),
        _ => (Key::FieldDirectory, Key::FieldDirectoryHelp),
    }
}

/// A word for a choice of a schema field (`disable` -> "disable: not encrypted").
fn choice_text(option: &str) -> Option<Key> {
    Some(match option {
        "disable" => Key::TlsDisable,
        "prefer" => Key::TlsPrefer,
        "require" => Key::TlsRequire,
        "verify-ca" => Key::TlsVerifyCa,
        "verify-full" => Key::TlsVerifyFull,
        "access_key" => Key::AuthAccessKey,
        "assume_role" => Key::AuthAssumeRole,
        "instance_role" => Key::AuthInstanceRole,
        _ => return None,
    })
}

// --- the list ---------------------------------------------------------------------------

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    crate::components::page_title(Key::NavConnections);
    let lang = use_lang();
    let connections = LocalResource::new(api::connections);
    let teams = LocalResource::new(api::teams);
    let can_create = can_create_resources();
    let team_name = move |id: TeamId| {
        teams
            .get()
            .and_then(|r| r.ok())
            .and_then(|ts| ts.into_iter().find(|t| t.id == id).map(|t| t.name))
            .unwrap_or_default()
    };

    let row = move |c: ConnectionView| {
        let team = c.team_id;
        view! {
            <tr data-testid="connection-row">
                <td><A href=format!("/connections/{}", c.id)>{c.name.clone()}</A></td>
                <td>{tr(connection_kind_name(c.kind))}</td>
                <td>{move || team_name(team)}</td>
                <td><span class="badge">{move || team_role_name(lang.get(), c.your_role)}</span></td>
                <td><Time at=c.updated_at/></td>
            </tr>
        }
    };
    let list = view! {
        <ResourceTable
            resource=connections
            empty_title=Key::NoConnectionsTitle
            empty_body=Key::NoConnectionsBody
            columns=&[Key::Name, Key::ConnectionKindLabel, Key::OwnerTeam, Key::YourRole, Key::Updated]
            row
        />
    };

    view! {
        <div class="page">
            <header class="page-header with-actions">
                <div>
                    <h1>{tr(Key::NavConnections)}</h1>
                    <p class="lead">{tr(Key::ConnectionsLead)}</p>
                </div>
                <Show when=move || can_create.get()>
                    <A href="/connections/new" attr:class="button primary">{tr(Key::NewConnection)}</A>
                </Show>
            </header>
            <section class="panel">{list}</section>
        </div>
    }
}

// --- create and edit --------------------------------------------------------------------

/// `/connections/new` and `/connections/:id`.
#[component]
pub fn ConnectionPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<ConnectionId>().ok()));
    let is_new = move || params.with(|p| p.get("id").is_none_or(|s| s == "new"));
    crate::components::page_title(Key::NavConnections);
    let loaded = LocalResource::new(move || {
        let id = id();
        async move {
            match id {
                Some(id) => api::connection(id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let teams = LocalResource::new(api::teams);
    let kinds = LocalResource::new(api::connection_kinds);

    move || {
        let teams = match teams.get() {
            None => return view! { <div class="page"><Loading/></div> }.into_any(),
            Some(Err(e)) => {
                return view! { <div class="page"><LoadError error=e retry=move || teams.refetch()/></div> }
                    .into_any();
            }
            Some(Ok(t)) => t,
        };
        // The form waits for the kinds too: drawn before they arrive, it would be drawn
        // again when they do, and whatever was typed meanwhile would be lost.
        let (available, unavailable): (Vec<ConnectionKind>, Vec<(ConnectionKind, FieldChoice)>) =
            match kinds.get() {
                None => return view! { <div class="page"><Loading/></div> }.into_any(),
                Some(Ok(k)) => (
                    k.iter().filter(|k| k.available).map(|k| k.kind).collect(),
                    k.iter()
                        .flat_map(|k| k.unavailable_choices.iter().map(|c| (k.kind, c.clone())))
                        .collect(),
                ),
                // Unknown: offer what every install has, and not the service's own role.
                _ => (
                    vec![
                        ConnectionKind::Postgresql,
                        ConnectionKind::Mysql,
                        ConnectionKind::S3,
                    ],
                    vec![(
                        ConnectionKind::S3,
                        FieldChoice {
                            field: "auth".to_owned(),
                            choice: "instance_role".to_owned(),
                        },
                    )],
                ),
            };
        if is_new() {
            return view! { <ConnectionEditor existing=None teams available unavailable/> }
                .into_any();
        }
        match loaded.get() {
            None => view! { <div class="page"><Loading/></div> }.into_any(),
            Some(Err(e)) if e.status() == Some(404) => view! {
                <div class="page">
                    <Empty title=Key::ConnectionMissingTitle body=Key::ConnectionMissingBody/>
                    <p><A href="/connections">{tr(Key::BackToConnections)}</A></p>
                </div>
            }
            .into_any(),
            Some(Err(e)) => {
                view! { <div class="page"><LoadError error=e retry=move || loaded.refetch()/></div> }
                    .into_any()
            }
            Some(Ok(None)) => view! { <ConnectionEditor existing=None teams available unavailable/> }.into_any(),
            Some(Ok(Some(c))) if c.settings.is_none() => view! { <ConnectionSummary connection=c/> }.into_any(),
            Some(Ok(Some(c))) => {
                view! { <ConnectionEditor existing=Some(c) teams available unavailable/> }.into_any()
            }
        }
    }
}

/// What an operator or viewer sees: name and kind; details are for editors.
#[component]
fn ConnectionSummary(connection: ConnectionView) -> impl IntoView {
    let lang = use_lang();
    view! {
        <div class="page">
            <header class="page-header">
                <p class="breadcrumb"><A href="/connections">{tr(Key::NavConnections)}</A></p>
                <h1>{connection.name.clone()}</h1>
            </header>
            <section class="panel">
                <dl class="facts">
                    <dt>{tr(Key::ConnectionKindLabel)}</dt>
                    <dd>{tr(connection_kind_name(connection.kind))}</dd>
                    <dt>{tr(Key::YourRole)}</dt>
                    <dd>{move || team_role_name(lang.get(), connection.your_role)}</dd>
                </dl>
                <p class="not-allowed">{tr(Key::OnlyEditorsSeeSettings)}</p>
            </section>
        </div>
    }
}

/// The values typed into the settings inputs, by field name, for every kind (switching the
/// kind of a new connection keeps what was typed in fields of the same name).
#[derive(Clone, Copy)]
struct SettingValues(StoredValue<HashMap<&'static str, RwSignal<String>>>);

impl SettingValues {
    fn new(existing: Option<&Map<String, Value>>) -> Self {
        let mut map = HashMap::new();
        for kind in ConnectionKind::ALL {
            for spec in kind.fields() {
                if map.contains_key(spec.name) {
                    continue;
                }
                let saved = existing
                    .and_then(|s| s.get(spec.name))
                    .and_then(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        Value::Bool(b) => Some(b.to_string()),
                        // A secret's `{"set": true}` never fills the input.
                        _ => None,
                    });
                let initial = saved.unwrap_or_else(|| match spec.input {
                    FieldInput::Choice { .. } | FieldInput::Toggle => {
                        spec.default.unwrap_or_default().to_owned()
                    }
                    _ => String::new(),
                });
                map.insert(spec.name, RwSignal::new(initial));
            }
        }
        SettingValues(StoredValue::new(map))
    }

    fn signal(&self, name: &str) -> RwSignal<String> {
        self.0.with_value(|m| m[name])
    }

    /// The choices that decide which other fields apply (S3's `auth`), as settings.
    fn basis(&self) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("auth".to_owned(), Value::String(self.signal("auth").get()));
        out
    }

    /// The settings object for `kind`: empty inputs and fields that do not apply (a key
    /// pair when a role is assumed) are left out (the server applies the default, or keeps
    /// a stored secret), numbers and toggles get their JSON types.
    fn settings(&self, kind: ConnectionKind) -> Map<String, Value> {
        let mut out = Map::new();
        let basis = untrack(|| self.basis());
        for spec in kind.fields() {
            if !field_applies(kind, &basis, spec.name) {
                continue;
            }
            let raw = self.signal(spec.name).get_untracked();
            let text = if matches!(spec.input, FieldInput::Multiline) || spec.secret {
                raw.clone()
            } else {
                raw.trim().to_owned()
            };
            if text.trim().is_empty() {
                continue;
            }
            let value = match spec.input {
                FieldInput::Integer { .. } => text
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(text)),
                FieldInput::Toggle => Value::Bool(text == "true"),
                _ => Value::String(text),
            };
            out.insert(spec.name.to_owned(), value);
        }
        out
    }
}

/// The secrets a saved connection has on file.
fn secrets_on_file(c: &ConnectionView) -> Vec<&'static str> {
    let Some(settings) = &c.settings else {
        return Vec::new();
    };
    c.kind
        .fields()
        .iter()
        .filter(|f| f.secret)
        .filter(|f| {
            settings
                .get(f.name)
                .and_then(|v| v.get("set"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .map(|f| f.name)
        .collect()
}

#[component]
fn ConnectionEditor(
    existing: Option<ConnectionView>,
    teams: Vec<TeamView>,
    available: Vec<ConnectionKind>,
    /// Choices the operator turned off, by kind.
    unavailable: Vec<(ConnectionKind, FieldChoice)>,
) -> impl IntoView {
    let unavailable = StoredValue::new(unavailable);
    let organization = use_session()
        .me
        .with_untracked(|me| me.as_ref().map(|me| me.organization_id.to_string()))
        .unwrap_or_default();
    let lang = use_lang();
    let navigate = use_navigate();
    let form = Form::new("connection", &["name", "kind", "team_id", "settings"]);
    let editable = editable_teams(&teams);
    let existing = StoredValue::new(existing);
    let saved_id = existing.with_value(|e| e.as_ref().map(|c| c.id));
    let on_file = existing.with_value(|e| e.as_ref().map(secrets_on_file).unwrap_or_default());
    let on_file = StoredValue::new(on_file);
    let name = RwSignal::new(
        existing.with_value(|e| e.as_ref().map(|c| c.name.clone()).unwrap_or_default()),
    );
    let kind = RwSignal::new(
        existing
            .with_value(|e| e.as_ref().map(|c| c.kind))
            .unwrap_or(ConnectionKind::Postgresql),
    );
    let team = RwSignal::new(
        existing
            .with_value(|e| e.as_ref().map(|c| c.team_id))
            .or_else(|| editable.first().map(|t| t.id)),
    );
    let values = SettingValues::new(
        existing
            .with_value(|e| e.as_ref().and_then(|c| c.settings.clone()))
            .as_ref(),
    );
    let test_result = RwSignal::new(None::<Result<ConnectionTestResult, ApiError>>);
    let testing = RwSignal::new(false);
    // A new connection's page opens with `?created` to confirm the save.
    let created = use_query_map().with_untracked(|q| q.get("created").is_some());
    let saved_notice = RwSignal::new(created);
    // What the last save did that was not asked for (a saved password cleared because the
    // host it was bound to changed): shown until the next save.
    let save_notes = RwSignal::new(Vec::<hakobu_core::validation::FieldError>::new());
    let action_error = RwSignal::new(None::<ApiError>);
    let can_edit =
        existing.with_value(|e| e.as_ref().is_none_or(|c| c.your_role >= TeamRole::Editor));
    let can_share =
        existing.with_value(|e| e.as_ref().is_some_and(|c| c.your_role >= TeamRole::Admin));

    // What the form checks before sending: the same validators the server runs.
    let local_errors = move || -> FieldErrors {
        let mut errors = FieldErrors::default();
        check_text(
            &mut errors,
            "name",
            name.get_untracked().trim(),
            hakobu_core::api::NAME_MAX_CHARS,
        );
        let kind = kind.get_untracked();
        let settings = values.settings(kind);
        errors.0.extend(
            on_file
                .with_value(|f| validate_settings(kind, &settings, f, "settings"))
                .0,
        );
        errors
    };

    let test = move |_| {
        let mut errors = local_errors();
        // A test needs no name.
        errors.0.retain(|e| e.field != "name");
        if !errors.is_empty() {
            form.invalid(errors);
            return;
        }
        form.done();
        testing.set(true);
        test_result.set(None);
        let request = TestConnectionRequest {
            kind: kind.get_untracked(),
            settings: values.settings(kind.get_untracked()),
            connection_id: saved_id,
        };
        spawn_local(async move {
            let result = api::test_connection(&request).await;
            if let Err(e) = &result
                && e.body()
                    .is_some_and(|b| !b.fields.is_empty() || b.field.is_some())
            {
                form.fail(e.clone());
            }
            // The bastion's key from a first successful test goes into the form, so
            // saving pins it.
            if let Ok(r) = &result
                && r.ok
                && let Some(key) = &r.ssh_host_key
            {
                let pin = values.signal("ssh_host_key_fingerprint");
                if pin.get_untracked().trim().is_empty() {
                    pin.set(key.fingerprint.clone());
                }
            }
            test_result.set(Some(result));
            testing.set(false);
        });
    };
    // Accepting a changed bastion key: at once for a saved connection (the server records
    // who accepted it), in the form for a new one.
    let accept_host_key = Callback::new(move |fingerprint: String| {
        values
            .signal("ssh_host_key_fingerprint")
            .set(fingerprint.clone());
        test_result.set(None);
        if let Some(id) = saved_id {
            spawn_local(async move {
                if let Err(e) = api::accept_ssh_host_key(id, fingerprint).await {
                    action_error.set(Some(e));
                }
            });
        }
    });

    let submit = {
        let navigate = navigate.clone();
        move |ev: SubmitEvent| {
            ev.prevent_default();
            saved_notice.set(false);
            save_notes.set(Vec::new());
            let errors = local_errors();
            let Some(team_id) = team.get_untracked() else {
                form.invalid(FieldErrors(vec![
                    hakobu_core::validation::FieldError::said(
                        "team_id",
                        hakobu_core::messages::MessageCode::Required,
                    ),
                ]));
                return;
            };
            if !errors.is_empty() {
                form.invalid(errors);
                return;
            }
            form.start();
            let kind = kind.get_untracked();
            let settings = values.settings(kind);
            let name = name.get_untracked().trim().to_owned();
            let navigate = navigate.clone();
            spawn_local(async move {
                let result = match saved_id {
                    None => {
                        let request = CreateConnectionRequest {
                            name,
                            kind,
                            team_id,
                            settings,
                        };
                        if let Err(errors) = request.validate() {
                            form.invalid(errors);
                            return;
                        }
                        api::create_connection(&request).await
                    }
                    Some(id) => {
                        let request = UpdateConnectionRequest {
                            name: Some(name),
                            team_id: Some(team_id),
                            settings: Some(settings),
                        };
                        api::update_connection(id, &request).await
                    }
                };
                match result {
                    Ok(saved) => {
                        form.done();
                        saved_notice.set(true);
                        save_notes.set(saved.notes.clone());
                        if saved_id.is_none() {
                            navigate(
                                &format!("/connections/{}?created=1", saved.id),
                                Default::default(),
                            );
                        }
                    }
                    Err(e) => form.fail(e),
                }
            });
        }
    };

    let delete = {
        let navigate = navigate.clone();
        move |()| {
            let Some(id) = saved_id else { return };
            let navigate = navigate.clone();
            spawn_local(async move {
                match api::delete_connection(id).await {
                    Ok(()) => navigate("/connections", Default::default()),
                    Err(e) => action_error.set(Some(e)),
                }
            });
        }
    };

    let kind_select_id = form.input_id("kind");
    let team_select_id = form.input_id("team_id");
    let name_id = form.input_id("name");
    let title = move || {
        existing.with_value(|e| match e {
            Some(c) => c.name.clone(),
            None => Key::NewConnection.text(lang.get()).to_owned(),
        })
    };
    let editable = StoredValue::new(editable);

    view! {
        <div class="page">
            <header class="page-header">
                <p class="breadcrumb"><A href="/connections">{tr(Key::NavConnections)}</A></p>
                <h1>{title}</h1>
                <p class="lead">{tr(Key::ConnectionFormLead)}</p>
            </header>
            <form class="panel" on:submit=submit novalidate=true>
                <fieldset class="plain" disabled=!can_edit>
                <div class="field" class:invalid=move || form.error("kind").is_some()>
                    <label for=kind_select_id.clone()>{tr(Key::ConnectionKindLabel)}</label>
                    <select
                        id=kind_select_id
                        disabled=saved_id.is_some()
                        on:change=move |ev| {
                            if let Ok(k) = event_target_value(&ev).parse() {
                                kind.set(k);
                                test_result.set(None);
                            }
                        }
                        prop:value=move || kind.get().as_str()
                    >
                        {ConnectionKind::ALL
                            .into_iter()
                            .filter(|k| available.contains(k) || Some(*k) == existing.with_value(|e| e.as_ref().map(|c| c.kind)))
                            .map(|k| view! { <option value=k.as_str() selected=move || kind.get() == k>{tr(connection_kind_name(k))}</option> })
                            .collect_view()}
                    </select>
                </div>
                <div class="field" class:invalid=move || form.error("name").is_some()>
                    <label for=name_id.clone()>{tr(Key::ConnectionName)}<span class="required" aria-hidden="true">" *"</span></label>
                    <input
                        id=name_id.clone()
                        type="text"
                        autocomplete="off"
                        required=true
                        aria-invalid=move || form.error("name").is_some().to_string()
                        aria-describedby=format!("{name_id}-hint {name_id}-error")
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                    <p class="hint" id=format!("{name_id}-hint")>{tr(Key::ConnectionNameHint)}</p>
                    <FieldMessage form field="name" label=Key::ConnectionName error_id=format!("{name_id}-error")/>
                </div>
                <div class="field" class:invalid=move || form.error("team_id").is_some()>
                    <label for=team_select_id.clone()>{tr(Key::OwnerTeam)}</label>
                    <select
                        id=team_select_id.clone()
                        aria-describedby=format!("{team_select_id}-hint")
                        on:change=move |ev| team.set(event_target_value(&ev).parse().ok())
                        prop:value=move || team.get().map(|t| t.to_string()).unwrap_or_default()
                    >
                        {editable.get_value()
                            .into_iter()
                            .map(|t| {
                                let id = t.id;
                                view! { <option value=t.id.to_string() selected=move || team.get() == Some(id)>{t.name}</option> }
                            })
                            .collect_view()}
                    </select>
                    <p class="hint" id=format!("{team_select_id}-hint")>{tr(Key::OwnerTeamHint)}</p>
                    <FieldMessage form field="team_id" label=Key::OwnerTeam error_id=format!("{team_select_id}-error")/>
                </div>
                {move || {
                    let kind = kind.get();
                    // Drawn again when the authentication changes: its fields come and go.
                    let basis = values.basis();
                    let organization = organization.clone();
                    kind.fields()
                        .iter()
                        .filter(|spec| field_applies(kind, &basis, spec.name))
                        .map(|spec| {
                            let on_file = on_file.with_value(|f| f.contains(&spec.name));
                            let turned_off: Vec<String> = unavailable.with_value(|u| {
                                u.iter()
                                    .filter(|(k, c)| *k == kind && c.field == spec.name)
                                    .map(|(_, c)| c.choice.clone())
                                    .collect()
                            });
                            let input = view! { <SettingInput form kind spec=*spec value=values.signal(spec.name) on_file turned_off/> };
                            let external_id = (spec.name == "role_arn").then(|| view! { <ExternalId organization=organization.clone()/> });
                            view! { {input} {external_id} }
                        })
                        .collect_view()
                }}
                </fieldset>
                <TestResult result=test_result testing on_accept_host_key=accept_host_key/>
                <FormProblem form/>
                <div class="button-row">
                    <button type="button" on:click=test disabled=move || testing.get() data-testid="test-connection">
                        {move || if testing.get() { tr(Key::Testing)() } else { tr(Key::TestConnection)() }}
                    </button>
                    {can_edit.then(|| view! { <Submit form label=Key::SaveConnection/> })}
                    <Show when=move || saved_notice.get()>
                        <span class="success" role="status">{tr(Key::Saved)}</span>
                    </Show>
                </div>
                {move || {
                    let notes = save_notes.get();
                    (!notes.is_empty()).then(|| view! {
                        <ul class="notice warning" role="status" data-testid="save-notes">
                            {notes.into_iter().map(|note| {
                                let label = note
                                    .field
                                    .strip_prefix("settings.")
                                    .and_then(|f| kind.get_untracked().field(f))
                                    .map(|f| f.label);
                                view! { <li>{crate::i18n::translate(lang.get(), label, &note.text())}</li> }
                            }).collect_view()}
                        </ul>
                    })
                }}
            </form>
            {move || (can_share).then(|| existing.get_value().map(|c| view! { <SharesPanel connection=c teams=teams.clone()/> }))}
            {(saved_id.is_some() && can_edit).then(|| view! {
                <section class="panel danger-zone">
                    <h2>{tr(Key::DeleteConnection)}</h2>
                    <p class="hint">{tr(Key::DeleteConnectionHint)}</p>
                    <ActionErrorNotice action_error/>
                    <ConfirmButton
                        label=Key::DeleteConnection
                        question=Signal::derive(move || fill(lang.get(), Key::ConfirmDeleteConnection, &[("name", &name.get())]))
                        confirm=Key::Delete
                        on_confirm=delete
                    />
                </section>
            })}
        </div>
    }
}

/// The external id an `assume_role` connection sends: the organization's id, which the
/// tenant puts into the role's trust policy (`sts:ExternalId`).
#[component]
fn ExternalId(organization: String) -> impl IntoView {
    view! {
        <div class="field" data-testid="external-id">
            <p>{tr(Key::ExternalIdLabel)} " " <code>{organization}</code></p>
            <p class="hint">{tr(Key::ExternalIdHint)}</p>
        </div>
    }
}

/// One input of the schema, by its type. `turned_off` choices are offered only when
/// already chosen (a saved connection from before the operator turned them off).
#[component]
fn SettingInput(
    form: Form,
    kind: ConnectionKind,
    spec: FieldSpec,
    value: RwSignal<String>,
    on_file: bool,
    turned_off: Vec<String>,
) -> impl IntoView {
    let lang = use_lang();
    let path = format!("settings.{}", spec.name);
    let id = form.input_id(&path);
    let (label, help) = field_texts(kind, spec.name);
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let error = Memo::new({
        let path = path.clone();
        move |_| form.error(&path)
    });
    let invalid = move || error.get().is_some();
    let described_by = format!("{hint_id} {error_id}");
    let placeholder = if spec.secret && on_file {
        Some(Key::SecretKept.text(lang.get_untracked()).to_owned())
    } else {
        spec.default
            .filter(|_| !matches!(spec.input, FieldInput::Choice { .. } | FieldInput::Toggle))
            .map(|d| fill(lang.get_untracked(), Key::DefaultValue, &[("value", d)]))
    };
    let input = match spec.input {
        FieldInput::Multiline => view! {
            <textarea
                id=id.clone()
                rows="4"
                aria-invalid=move || invalid().to_string()
                aria-describedby=described_by.clone()
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            ></textarea>
        }
        .into_any(),
        FieldInput::Choice { options } => view! {
            <select
                id=id.clone()
                aria-describedby=described_by.clone()
                on:change=move |ev| value.set(event_target_value(&ev))
                prop:value=move || value.get()
            >
                {options
                    .iter()
                    .filter(|o| {
                        !turned_off.iter().any(|t| t == *o)
                            || value.get_untracked() == **o
                    })
                    .map(|o| {
                        let o: &'static str = o;
                        let text = move || match choice_text(o) {
                            Some(k) => k.text(lang.get()).to_owned(),
                            None => o.to_owned(),
                        };
                        view! { <option value=o selected=move || value.get() == o>{text}</option> }
                    })
                    .collect_view()}
            </select>
        }
        .into_any(),
        FieldInput::Toggle => view! {
            <input
                id=id.clone()
                type="checkbox"
                aria-describedby=described_by.clone()
                prop:checked=move || value.get() == "true"
                on:change=move |ev| value.set(event_target_checked(&ev).to_string())
            />
        }
        .into_any(),
        FieldInput::Integer { min, max } => view! {
            <input
                id=id.clone()
                type="text"
                inputmode="numeric"
                autocomplete="off"
                placeholder=placeholder.clone()
                data-min=min
                data-max=max
                aria-invalid=move || invalid().to_string()
                aria-describedby=described_by.clone()
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        }
        .into_any(),
        FieldInput::Text => view! {
            <input
                id=id.clone()
                type=if spec.secret { "password" } else { "text" }
                autocomplete=if spec.secret { "new-password" } else { "off" }
                placeholder=placeholder.clone()
                aria-invalid=move || invalid().to_string()
                aria-describedby=described_by.clone()
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
        }
        .into_any(),
    };
    let toggle = matches!(spec.input, FieldInput::Toggle);
    view! {
        <div class="field" class:invalid=invalid class:toggle=toggle>
            <label for=id>
                {tr(label)}
                {spec.required.then(|| view! { <span class="required" aria-hidden="true">" *"</span> })}
                {spec.secret.then(|| view! { " " <span class="badge">{tr(Key::WriteOnly)}</span> })}
            </label>
            {input}
            <p class="hint" id=hint_id>
                {tr(help)}
                {(spec.secret && on_file).then(|| view! { " " <strong>{tr(Key::SecretKeptHint)}</strong> })}
            </p>
            {move || error.get().map(|e| view! {
                <p class="field-error" id=error_id.clone()>{translate(lang.get(), Some(label.text(lang.get())), &e.text())}</p>
            })}
        </div>
    }
}

/// The outcome of "Test connection", in plain words with the hint.
#[component]
pub fn TestResult(
    result: RwSignal<Option<Result<ConnectionTestResult, ApiError>>>,
    testing: RwSignal<bool>,
    /// Called with the new fingerprint when an editor accepts a changed bastion host key.
    #[prop(optional)]
    on_accept_host_key: Option<Callback<String>>,
) -> impl IntoView {
    let lang = use_lang();
    view! {
        <div class="test-result" role="status" aria-live="polite" data-testid="test-result">
            {move || {
                if testing.get() {
                    return view! { <p class="loading">{tr(Key::Testing)}</p> }.into_any();
                }
                let lang = lang.get();
                match result.get() {
                    None => ().into_any(),
                    Some(Ok(r)) if r.ok => {
                        let ms = r.latency_ms.to_string();
                        let text = match &r.server_version {
                            Some(v) => fill(lang, Key::TestOkVersion, &[("ms", &ms), ("version", v)]),
                            None => fill(lang, Key::TestOk, &[("ms", &ms)]),
                        };
                        let host_key = r.ssh_host_key.as_ref().map(|k| {
                            view! {
                                <p class="test-ssh-host-key" data-testid="ssh-host-key">
                                    {fill(lang, Key::SshHostKeySeen, &[("name", &k.to_string())])}
                                </p>
                            }
                        });
                        view! { <p class="test-ok">{text}</p> {host_key} }.into_any()
                    }
                    Some(Ok(r)) => {
                        let error = r.error.unwrap_or(hakobu_core::api::connections::ConnectionTestError {
                            kind: "other".to_owned(),
                            message: String::new(),
                            hint: String::new(),
                        });
                        let (message, hint) = test_error_text(lang, &error);
                        // A changed bastion key: the key it now presents, and the editor's
                        // way to accept it once its administrator confirmed it.
                        let changed_key = (error.kind == "ssh_host_key_changed")
                            .then_some(r.ssh_host_key)
                            .flatten()
                            .map(|k| {
                                let fingerprint = k.fingerprint.clone();
                                let accept = on_accept_host_key.map(|on_accept| {
                                    view! {
                                        <button type="button" data-testid="accept-host-key"
                                            on:click=move |_| on_accept.run(fingerprint.clone())>
                                            {Key::AcceptHostKey.text(lang)}
                                        </button>
                                    }
                                });
                                view! {
                                    <p class="test-ssh-host-key">
                                        {fill(lang, Key::SshHostKeySeen, &[("name", &k.to_string())])}
                                    </p>
                                    {accept}
                                }
                            });
                        view! {
                            <div class="test-failed">
                                <p class="test-message"><strong>{Key::TestFailed.text(lang)}</strong> " " {message}</p>
                                <p class="test-hint">{hint}</p>
                                {changed_key}
                            </div>
                        }
                        .into_any()
                    }
                    Some(Err(e)) => {
                        let text = match &e {
                            ApiError::Server { body, .. } => translate(lang, None, &body.text()),
                            ApiError::Network(_) => Key::NetworkError.text(lang).to_owned(),
                        };
                        view! { <p class="test-failed">{text}</p> }.into_any()
                    }
                }
            }}
        </div>
    }
}

/// The server's plain message and hint; in Japanese, the same by the kind of failure (the
/// server's sentence, which names the host, is kept when there is no translation).
fn test_error_text(
    lang: crate::i18n::Lang,
    error: &hakobu_core::api::connections::ConnectionTestError,
) -> (String, String) {
    if lang == crate::i18n::Lang::En {
        return (error.message.clone(), error.hint.clone());
    }
    let keys = match error.kind.as_str() {
        "unreachable" => Some((Key::TestUnreachable, Key::TestUnreachableHint)),
        "timeout" => Some((Key::TestTimeout, Key::TestUnreachableHint)),
        "authentication" => Some((Key::TestAuthentication, Key::TestAuthenticationHint)),
        "database_missing" => Some((Key::TestDatabaseMissing, Key::TestDatabaseMissingHint)),
        "permission_denied" => Some((Key::TestPermission, Key::TestPermissionHint)),
        "tls_required" => Some((Key::TestTlsRequired, Key::TestTlsRequiredHint)),
        "role_refused" => {
            // AWS's own reason (English) stays: it names what the trust policy lacks.
            return (
                format!("{} {}", Key::TestRoleRefused.text(lang), error.message),
                Key::TestRoleRefusedHint.text(lang).to_owned(),
            );
        }
        "role_unavailable" => Some((Key::TestRoleUnavailable, Key::TestRoleUnavailableHint)),
        "ambient_role_off" => Some((Key::TestAmbientRoleOff, Key::TestAmbientRoleOffHint)),
        "ssh_host_key_changed" => {
            Some((Key::TestSshHostKeyChanged, Key::TestSshHostKeyChangedHint))
        }
        "ssh_sign_in" => Some((Key::TestSshSignIn, Key::TestSshSignInHint)),
        _ => None,
    };
    match keys {
        Some((m, h)) => (m.text(lang).to_owned(), h.text(lang).to_owned()),
        None => (
            error.message.clone(),
            Key::TestOtherHint.text(lang).to_owned(),
        ),
    }
}

/// Which other teams may use the connection, and at which role (team admins).
#[component]
fn SharesPanel(connection: ConnectionView, teams: Vec<TeamView>) -> impl IntoView {
    view! {
        <SharesForm
            shared=Shared::Connection(connection.id)
            owner=connection.team_id
            shares=connection.shares
            teams
            hint=Key::SharingHint
        />
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    /// The English labels and help texts are `core`'s, word for word, so the server's
    /// schema stays the one source of the English text.
    #[test]
    fn field_texts_match_core() {
        for kind in ConnectionKind::ALL {
            for spec in kind.fields() {
                let (label, help) = field_texts(kind, spec.name);
                assert_eq!(label.text(Lang::En), spec.label, "{kind}.{}", spec.name);
                assert_eq!(help.text(Lang::En), spec.help, "{kind}.{}", spec.name);
            }
        }
    }

    #[test]
    fn every_choice_has_words() {
        for kind in ConnectionKind::ALL {
            for spec in kind.fields() {
                if let FieldInput::Choice { options } = spec.input {
                    for o in options {
                        assert!(choice_text(o).is_some(), "{o}");
                    }
                }
            }
        }
    }
}
