//! A data mart job, new (`/jobs/new-data-mart`) or changed (`/jobs/:id/data-mart`): a
//! database connection, the SQL, and what to do with it (run the statements, or write the
//! query's result into a table with a load mode), with a read-only preview of the query.
//! Schedules and notifications are set on the job's page, as for transfers; a change here
//! keeps the job's other settings (variables, checks, retries, resources) as they were.

use crate::api;
use crate::components::{
    FieldError as FieldMessage, FormProblem, LoadError, Loading, Submit, TextField,
};
use crate::forms::{Form, split_list};
use crate::i18n::{Key, tr};
use crate::session::editable_teams;
use hakobu_core::api::connections::{ConnectionView, PreviewRequest, PreviewResponse};
use hakobu_core::api::jobs::{CreateJobRequest, JobView, UpdateJobRequest};
use hakobu_core::api::org::TeamView;
use hakobu_core::authz::TeamRole;
use hakobu_core::connection::ConnectionKind;
use hakobu_core::ids::{ConnectionId, JobId, TeamId};
use hakobu_core::job::JobSettings;
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::FieldErrors;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde_json::json;

#[component]
pub fn DataMartPage() -> impl IntoView {
    crate::components::page_title(Key::NewDataMart);
    let params = use_params_map();
    let job_id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<JobId>().ok()));
    let loaded = LocalResource::new(move || {
        let id = job_id();
        async move {
            let job = match id {
                Some(id) => Some(api::job(id).await?),
                None => None,
            };
            Ok::<_, api::ApiError>((api::teams().await?, api::connections().await?, job))
        }
    });
    move || match loaded.get() {
        None => view! { <div class="page"><Loading/></div> }.into_any(),
        Some(Err(e)) => {
            view! { <div class="page"><LoadError error=e retry=move || loaded.refetch()/></div> }
                .into_any()
        }
        Some(Ok((_, _, Some(job))))
            if job.settings.is_none() || job.your_role < TeamRole::Editor =>
        {
            view! {
                <div class="page">
                    <h1>{job.name.clone()}</h1>
                    <p class="not-allowed">{tr(Key::OnlyEditorsChangeJobs)}</p>
                </div>
            }
            .into_any()
        }
        Some(Ok((teams, connections, job))) => {
            view! { <DataMartForm teams connections job/> }.into_any()
        }
    }
}

/// The form's fields of a saved data mart: (connection, sql, mode, table, keys,
/// condition, delete_by), as [`settings_of`] takes them.
fn fields_of(
    settings: &JobSettings,
) -> (ConnectionId, String, String, String, String, String, String) {
    let (source, destination) = (&settings.source, &settings.destination);
    let mode = match &source.statements {
        Some(_) => "statements".to_owned(),
        None => serde_json::to_value(destination.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "insert".to_owned()),
    };
    (
        source.connection_id,
        source
            .statements
            .clone()
            .or_else(|| source.query.clone())
            .unwrap_or_default(),
        mode,
        destination
            .table
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        destination.merge_keys.join(", "),
        destination.delete_where.clone().unwrap_or_default(),
        if destination.delete_where.is_some() {
            "condition"
        } else {
            "keys"
        }
        .to_owned(),
    )
}

/// The settings the form describes, as the API takes them. `mode` is `statements` or a
/// load mode; `delete_by` is `keys` or `condition` for `delete_insert`.
fn settings_of(
    connection: ConnectionId,
    sql: &str,
    mode: &str,
    table: &str,
    keys: &str,
    condition: &str,
    delete_by: &str,
) -> serde_json::Value {
    if mode == "statements" {
        return json!({
            "kind": "data_mart",
            "source": {"connection_id": connection, "statements": sql},
            "destination": {"connection_id": connection},
        });
    }
    let mut destination =
        json!({"connection_id": connection, "table": {"name": table.trim()}, "mode": mode});
    if mode == "merge" || (mode == "delete_insert" && delete_by == "keys") {
        let keys = split_list(keys);
        if !keys.is_empty() {
            destination["merge_keys"] = json!(keys);
        }
    }
    if mode == "delete_insert" && delete_by == "condition" {
        destination["delete_where"] = json!(condition.trim());
    }
    json!({
        "kind": "data_mart",
        "source": {"connection_id": connection, "query": sql},
        "destination": destination,
    })
}

#[component]
fn DataMartForm(
    teams: Vec<TeamView>,
    connections: Vec<ConnectionView>,
    job: Option<JobView>,
) -> impl IntoView {
    let navigate = use_navigate();
    let form = Form::new(
        "data-mart",
        &[
            "name",
            "team_id",
            "settings.source.connection_id",
            "settings.source.query",
            "settings.source.statements",
            "settings.destination.table.name",
            "settings.destination.merge_keys",
            "settings.destination.delete_where",
        ],
    );
    let editable = editable_teams(&teams);
    // Data marts run on databases and, inside the warehouse, on data warehouses.
    let databases: Vec<ConnectionView> = connections
        .into_iter()
        .filter(|c| c.kind.is_database() || c.kind.is_warehouse())
        .collect();
    let kinds: Vec<(ConnectionId, ConnectionKind)> =
        databases.iter().map(|c| (c.id, c.kind)).collect();
    // A saved data mart's settings: the form starts from them, and a change keeps what
    // the form does not show.
    let saved = job.as_ref().and_then(|j| j.settings.clone());
    let saved_fields = saved.as_ref().map(fields_of);
    let editing = job.as_ref().map(|j| j.id);
    let pick = |i: usize, default: &str| {
        saved_fields
            .as_ref()
            .map(|f| [&f.1, &f.2, &f.3, &f.4, &f.5, &f.6][i].clone())
            .unwrap_or_else(|| default.to_owned())
    };
    let name = RwSignal::new(job.as_ref().map(|j| j.name.clone()).unwrap_or_default());
    let team = RwSignal::new(
        job.as_ref()
            .map(|j| j.team_id)
            .or_else(|| editable.first().map(|t| t.id)),
    );
    let connection = RwSignal::new(
        saved_fields
            .as_ref()
            .map(|f| f.0)
            .or_else(|| databases.first().map(|c| c.id)),
    );
    let sql = RwSignal::new(pick(0, ""));
    let mode = RwSignal::new(pick(1, "statements"));
    let table = RwSignal::new(pick(2, ""));
    let keys = RwSignal::new(pick(3, ""));
    let condition = RwSignal::new(pick(4, ""));
    let delete_by = RwSignal::new(pick(5, "keys"));
    let preview = RwSignal::new(None::<Result<PreviewResponse, String>>);
    let run_preview = move |_| {
        let Some(id) = connection.get_untracked() else {
            return;
        };
        let request = PreviewRequest {
            table: None,
            query: Some(sql.get_untracked()),
            limit: Some(20),
        };
        spawn_local(async move {
            let answer = api::preview(id, &request).await.map_err(|e| e.to_string());
            preview.set(Some(answer));
        });
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let mut errors = FieldErrors::default();
        if name.get_untracked().trim().is_empty() {
            errors.push_message("name", MessageCode::Required);
        }
        let (Some(team_id), Some(connection_id)) =
            (team.get_untracked(), connection.get_untracked())
        else {
            errors.push_message("settings.source.connection_id", MessageCode::Required);
            form.invalid(errors);
            return;
        };
        if !errors.is_empty() {
            form.invalid(errors);
            return;
        }
        let value = settings_of(
            connection_id,
            &sql.get_untracked(),
            &mode.get_untracked(),
            &table.get_untracked(),
            &keys.get_untracked(),
            &condition.get_untracked(),
            &delete_by.get_untracked(),
        );
        let Ok(mut settings) = serde_json::from_value::<JobSettings>(value) else {
            return;
        };
        if let Some(saved) = &saved {
            let mut kept = saved.clone();
            kept.kind = settings.kind;
            kept.source = settings.source;
            kept.destination = settings.destination;
            settings = kept;
        }
        let name = name.get_untracked().trim().to_owned();
        form.start();
        let navigate = navigate.clone();
        spawn_local(async move {
            let answer = match editing {
                Some(id) => {
                    let change = UpdateJobRequest {
                        name: Some(name),
                        description: None,
                        labels: None,
                        enabled: None,
                        settings: Some(settings),
                    };
                    api::update_job(id, &change).await
                }
                None => {
                    let request = CreateJobRequest {
                        name,
                        description: String::new(),
                        labels: Vec::new(),
                        team_id,
                        enabled: true,
                        settings,
                    };
                    api::create_job(&request).await
                }
            };
            match answer {
                Ok(job) => {
                    form.done();
                    navigate(&format!("/jobs/{}", job.id), Default::default());
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let team_id = form.input_id("team_id");
    let connection_id = form.input_id("settings.source.connection_id");
    let sql_id = form.input_id("settings.source.query");
    let mode_id = form.input_id("mode");
    let writes = move || mode.get() != "statements";
    let chosen_kind = move || {
        let id = connection.get();
        kinds
            .iter()
            .find(|(c, _)| Some(*c) == id)
            .map(|(_, kind)| *kind)
    };
    let hint = move || {
        let kind = chosen_kind();
        let warehouse = kind.is_some_and(|k| k.is_warehouse());
        match (writes(), kind) {
            (true, _) if warehouse => Key::DataMartWarehouseQueryHint,
            (true, _) => Key::DataMartQueryHint,
            (false, Some(ConnectionKind::Bigquery)) => Key::DataMartBigqueryStatementsHint,
            (false, _) => Key::DataMartStatementsHint,
        }
    };
    view! {
        <div class="page">
            <header class="page-header">
                <p class="breadcrumb"><A href="/jobs">{tr(Key::NavJobs)}</A></p>
                <h1>{tr(if editing.is_some() { Key::EditDataMart } else { Key::NewDataMart })}</h1>
                <p class="lead">{tr(Key::DataMartLead)}</p>
            </header>
            <form class="panel" on:submit=submit novalidate=true data-testid="data-mart-form">
                <TextField form field="name" label=Key::JobName value=name autocomplete="off" required=true/>
                <div class="field">
                    <label for=team_id.clone()>{tr(Key::OwnerTeam)}</label>
                    <select id=team_id disabled=editing.is_some() on:change=move |ev| team.set(event_target_value(&ev).parse::<TeamId>().ok())>
                        {editable.into_iter().map(|t| {
                            let id = t.id;
                            view! { <option value=id.to_string() selected=move || team.get() == Some(id)>{t.name}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for=connection_id.clone()>{tr(Key::DataMartConnection)}</label>
                    <select id=connection_id on:change=move |ev| connection.set(event_target_value(&ev).parse::<ConnectionId>().ok())>
                        {databases.into_iter().map(|c| {
                            let id = c.id;
                            view! { <option value=id.to_string() selected=move || connection.get() == Some(id)>{c.name}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for=mode_id.clone()>{tr(Key::DataMartMode)}</label>
                    <select id=mode_id on:change=move |ev| mode.set(event_target_value(&ev))>
                        <option value="statements" selected=move || mode.get() == "statements">{tr(Key::DataMartRunStatements)}</option>
                        <option value="insert" selected=move || mode.get() == "insert">{tr(Key::ModeInsert)}</option>
                        <option value="replace" selected=move || mode.get() == "replace">{tr(Key::ModeReplace)}</option>
                        <option value="delete_insert" selected=move || mode.get() == "delete_insert">{tr(Key::ModeDeleteInsert)}</option>
                        <option value="merge" selected=move || mode.get() == "merge">{tr(Key::ModeMerge)}</option>
                    </select>
                    <p class="hint" data-testid="data-mart-hint">{move || tr(hint())}</p>
                </div>
                <div class="field wide" class:invalid=move || form.error("settings.source.query").is_some() || form.error("settings.source.statements").is_some()>
                    <label for=sql_id.clone()>{tr(Key::DataMartSql)}<span class="required" aria-hidden="true">" *"</span></label>
                    <textarea id=sql_id.clone() class="code" rows="12" spellcheck="false" data-testid="data-mart-sql"
                        prop:value=move || sql.get() on:input=move |ev| sql.set(event_target_value(&ev))></textarea>
                    <FieldMessage form field="settings.source.query" label=Key::DataMartSql error_id=format!("{sql_id}-error")/>
                    <FieldMessage form field="settings.source.statements" label=Key::DataMartSql error_id=format!("{sql_id}-statements-error")/>
                </div>
                <Show when=writes>
                    <TextField form field="settings.destination.table.name" label=Key::DataMartTargetTable value=table autocomplete="off" required=true/>
                    <Show when=move || mode.get() == "delete_insert">
                        <div class="field">
                            <label>{tr(Key::DataMartDeleteBy)}</label>
                            <select on:change=move |ev| delete_by.set(event_target_value(&ev))>
                                <option value="keys" selected=move || delete_by.get() == "keys">{tr(Key::DataMartDeleteByKeys)}</option>
                                <option value="condition" selected=move || delete_by.get() == "condition">{tr(Key::DataMartDeleteByCondition)}</option>
                            </select>
                        </div>
                    </Show>
                    <Show when=move || mode.get() == "merge" || (mode.get() == "delete_insert" && delete_by.get() == "keys")>
                        <TextField form field="settings.destination.merge_keys" label=Key::DataMartKeys value=keys autocomplete="off"/>
                    </Show>
                    <Show when=move || mode.get() == "delete_insert" && delete_by.get() == "condition">
                        <TextField form field="settings.destination.delete_where" label=Key::DataMartCondition value=condition autocomplete="off"/>
                    </Show>
                    <div class="button-row">
                        <button type="button" class="button" on:click=run_preview data-testid="data-mart-preview">{tr(Key::DataMartPreview)}</button>
                    </div>
                    {move || preview.get().map(|answer| match answer {
                        Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
                        Ok(p) => view! {
                            <table class="preview" data-testid="data-mart-preview-table">
                                <thead><tr>{p.columns.iter().map(|c| view! { <th>{c.name.clone()}<br/><small>{c.type_.clone()}</small></th> }).collect_view()}</tr></thead>
                                <tbody>{p.rows.iter().map(|r| view! { <tr>{r.iter().map(|v| view! { <td>{match v { serde_json::Value::String(s) => s.clone(), other => other.to_string() }}</td> }).collect_view()}</tr> }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                    })}
                </Show>
                <FormProblem form/>
                <Submit form label=if editing.is_some() { Key::SaveJob } else { Key::CreateDataMart }/>
            </form>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_builds_settings_the_validator_accepts() {
        let c = ConnectionId::new();
        let info = Some(hakobu_core::job::ConnectionInfo {
            kind: hakobu_core::connection::ConnectionKind::Postgresql,
        });
        for (mode, delete_by) in [
            ("statements", "keys"),
            ("insert", "keys"),
            ("replace", "keys"),
            ("delete_insert", "keys"),
            ("delete_insert", "condition"),
            ("merge", "keys"),
        ] {
            let value = settings_of(
                c,
                "SELECT 1 AS day",
                mode,
                "daily",
                "day",
                "day = 1",
                delete_by,
            );
            let settings: JobSettings = serde_json::from_value(value).unwrap();
            let errors = settings.validate(info, info);
            assert!(errors.is_empty(), "{mode} {delete_by}: {errors:?}");
        }
    }

    /// A saved data mart opens in the form as it was saved, for each mode.
    #[test]
    fn a_saved_data_mart_fills_the_form_it_was_made_with() {
        let c = ConnectionId::new();
        for (mode, delete_by) in [
            ("statements", "keys"),
            ("replace", "keys"),
            ("delete_insert", "keys"),
            ("delete_insert", "condition"),
            ("merge", "keys"),
        ] {
            let value = settings_of(
                c,
                "SELECT 1 AS day",
                mode,
                "daily",
                "day, region",
                "day = 1",
                delete_by,
            );
            let settings: JobSettings = serde_json::from_value(value.clone()).unwrap();
            let (connection, sql, m, table, keys, condition, by) = fields_of(&settings);
            let again = settings_of(connection, &sql, &m, &table, &keys, &condition, &by);
            assert_eq!(again, value, "{mode} {delete_by}");
        }
    }
}
