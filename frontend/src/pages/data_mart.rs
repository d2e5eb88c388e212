//! A new data mart job: a database connection, the SQL, and what to do with it (run the
//! statements, or write the query's result into a table with a load mode), with a
//! read-only preview of the query. Schedules, variables, checks and notifications are set
//! on the job's page afterwards, as for transfers.

use crate::api;
use crate::components::{
    FieldError as FieldMessage, FormProblem, LoadError, Loading, Submit, TextField,
};
use crate::forms::{Form, split_list};
use crate::i18n::{Key, tr};
use crate::session::editable_teams;
use hakobu_core::api::connections::{ConnectionView, PreviewRequest, PreviewResponse};
use hakobu_core::api::jobs::CreateJobRequest;
use hakobu_core::api::org::TeamView;
use hakobu_core::ids::{ConnectionId, TeamId};
use hakobu_core::job::JobSettings;
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::FieldErrors;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use serde_json::json;

#[component]
pub fn DataMartPage() -> impl IntoView {
    crate::components::page_title(Key::NewDataMart);
    let loaded = LocalResource::new(|| async {
        Ok::<_, api::ApiError>((api::teams().await?, api::connections().await?))
    });
    move || match loaded.get() {
        None => view! { <div class="page"><Loading/></div> }.into_any(),
        Some(Err(e)) => {
            view! { <div class="page"><LoadError error=e retry=move || loaded.refetch()/></div> }
                .into_any()
        }
        Some(Ok((teams, connections))) => view! { <DataMartForm teams connections/> }.into_any(),
    }
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
fn DataMartForm(teams: Vec<TeamView>, connections: Vec<ConnectionView>) -> impl IntoView {
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
    let databases: Vec<ConnectionView> = connections
        .into_iter()
        .filter(|c| c.kind.is_database())
        .collect();
    let name = RwSignal::new(String::new());
    let team = RwSignal::new(editable.first().map(|t| t.id));
    let connection = RwSignal::new(databases.first().map(|c| c.id));
    let sql = RwSignal::new(String::new());
    let mode = RwSignal::new("statements".to_owned());
    let table = RwSignal::new(String::new());
    let keys = RwSignal::new(String::new());
    let condition = RwSignal::new(String::new());
    let delete_by = RwSignal::new("keys".to_owned());
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
        let Ok(settings) = serde_json::from_value::<JobSettings>(value) else {
            return;
        };
        let request = CreateJobRequest {
            name: name.get_untracked().trim().to_owned(),
            description: String::new(),
            labels: Vec::new(),
            team_id,
            enabled: true,
            settings,
        };
        form.start();
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::create_job(&request).await {
                Ok(created) => {
                    form.done();
                    navigate(&format!("/jobs/{}", created.id), Default::default());
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
    view! {
        <div class="page">
            <header class="page-header">
                <p class="breadcrumb"><A href="/jobs">{tr(Key::NavJobs)}</A></p>
                <h1>{tr(Key::NewDataMart)}</h1>
                <p class="lead">{tr(Key::DataMartLead)}</p>
            </header>
            <form class="panel" on:submit=submit novalidate=true data-testid="data-mart-form">
                <TextField form field="name" label=Key::JobName value=name autocomplete="off" required=true/>
                <div class="field">
                    <label for=team_id.clone()>{tr(Key::OwnerTeam)}</label>
                    <select id=team_id on:change=move |ev| team.set(event_target_value(&ev).parse::<TeamId>().ok())>
                        {editable.into_iter().map(|t| view! { <option value=t.id.to_string()>{t.name}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for=connection_id.clone()>{tr(Key::DataMartConnection)}</label>
                    <select id=connection_id on:change=move |ev| connection.set(event_target_value(&ev).parse::<ConnectionId>().ok())>
                        {databases.into_iter().map(|c| view! { <option value=c.id.to_string()>{c.name}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for=mode_id.clone()>{tr(Key::DataMartMode)}</label>
                    <select id=mode_id on:change=move |ev| mode.set(event_target_value(&ev))>
                        <option value="statements">{tr(Key::DataMartRunStatements)}</option>
                        <option value="insert">{tr(Key::ModeInsert)}</option>
                        <option value="replace">{tr(Key::ModeReplace)}</option>
                        <option value="delete_insert">{tr(Key::ModeDeleteInsert)}</option>
                        <option value="merge">{tr(Key::ModeMerge)}</option>
                    </select>
                    <p class="hint">{move || tr(if writes() { Key::DataMartQueryHint } else { Key::DataMartStatementsHint })}</p>
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
                                <option value="keys">{tr(Key::DataMartDeleteByKeys)}</option>
                                <option value="condition">{tr(Key::DataMartDeleteByCondition)}</option>
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
                <Submit form label=Key::CreateDataMart/>
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
}
