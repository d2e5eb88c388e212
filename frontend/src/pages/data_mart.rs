//! A data mart job, new (`/jobs/new-data-mart`) or changed (`/jobs/:id/data-mart`): a
//! database connection, the SQL, and what to do with it (run the statements, or write the
//! query's result into a table with a load mode), with a read-only preview of the query.
//! The job's `$name$` variables and data checks are edited here with the transfer wizard's
//! editors ([`crate::widgets::variables`], [`crate::widgets::checks`]). Schedules and
//! notifications are set on the job's page, as for transfers; a change here keeps the
//! job's other settings (retries, timeout, overlap, resources) as they were.

use crate::api;
use crate::components::{
    FieldError as FieldMessage, FormProblem, LoadError, Loading, Submit, TextField,
};
use crate::forms::{Form, split_list};
use crate::i18n::{Key, tr};
use crate::session::editable_teams;
use crate::widgets::checks::{CheckList, ChecksEditor};
use crate::widgets::variables::{VariableList, VariablesEditor};
use hakobu_core::api::connections::{ConnectionView, PreviewRequest, PreviewResponse};
use hakobu_core::api::jobs::{CreateJobRequest, JobView, UpdateJobRequest};
use hakobu_core::api::org::TeamView;
use hakobu_core::authz::TeamRole;
use hakobu_core::connection::ConnectionKind;
use hakobu_core::ids::{ConnectionId, JobId, TeamId};
use hakobu_core::job::JobSettings;
use hakobu_core::job::checks::DataCheck;
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::FieldErrors;
use hakobu_core::variables::Variable;
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

/// What the form shows of a data mart, as typed. `mode` is `statements` or a load mode;
/// `delete_by` is `keys` or `condition` for `delete_insert`.
#[derive(Debug, Clone, PartialEq)]
struct Fields {
    connection: ConnectionId,
    sql: String,
    mode: String,
    table: String,
    keys: String,
    condition: String,
    delete_by: String,
    variables: Vec<Variable>,
    checks: Vec<DataCheck>,
}

/// The form's fields of a saved data mart, as [`settings_of`] takes them.
fn fields_of(settings: &JobSettings) -> Fields {
    let (source, destination) = (&settings.source, &settings.destination);
    let mode = match &source.statements {
        Some(_) => "statements".to_owned(),
        None => serde_json::to_value(destination.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "insert".to_owned()),
    };
    Fields {
        connection: source.connection_id,
        sql: source
            .statements
            .clone()
            .or_else(|| source.query.clone())
            .unwrap_or_default(),
        mode,
        table: destination
            .table
            .as_ref()
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        keys: destination.merge_keys.join(", "),
        condition: destination.delete_where.clone().unwrap_or_default(),
        delete_by: if destination.delete_where.is_some() {
            "condition"
        } else {
            "keys"
        }
        .to_owned(),
        variables: settings.variables.clone(),
        checks: settings.checks.clone(),
    }
}

/// The settings the form describes, as the API takes them.
fn settings_of(f: &Fields) -> serde_json::Value {
    let connection = f.connection;
    let (variables, checks) = (json!(f.variables), json!(f.checks));
    if f.mode == "statements" {
        return json!({
            "kind": "data_mart",
            "source": {"connection_id": connection, "statements": f.sql},
            "destination": {"connection_id": connection},
            "variables": variables,
            "checks": checks,
        });
    }
    let mode = f.mode.as_str();
    let mut destination =
        json!({"connection_id": connection, "table": {"name": f.table.trim()}, "mode": mode});
    if mode == "merge" || (mode == "delete_insert" && f.delete_by == "keys") {
        let keys = split_list(&f.keys);
        if !keys.is_empty() {
            destination["merge_keys"] = json!(keys);
        }
    }
    if mode == "delete_insert" && f.delete_by == "condition" {
        destination["delete_where"] = json!(f.condition.trim());
    }
    json!({
        "kind": "data_mart",
        "source": {"connection_id": connection, "query": f.sql},
        "destination": destination,
        "variables": variables,
        "checks": checks,
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
            "settings.variables",
            "settings.checks",
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
    let pick = |get: fn(&Fields) -> &String, default: &str| {
        RwSignal::new(
            saved_fields
                .as_ref()
                .map(|f| get(f).clone())
                .unwrap_or_else(|| default.to_owned()),
        )
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
            .map(|f| f.connection)
            .or_else(|| databases.first().map(|c| c.id)),
    );
    let sql = pick(|f| &f.sql, "");
    let mode = pick(|f| &f.mode, "statements");
    let table = pick(|f| &f.table, "");
    let keys = pick(|f| &f.keys, "");
    let condition = pick(|f| &f.condition, "");
    let delete_by = pick(|f| &f.delete_by, "keys");
    // Query variables and checks may run on any database or warehouse connection, not
    // only the data mart's.
    let conns = StoredValue::new(databases.clone());
    let variables = VariableList::new("settings.variables", true);
    let checks = CheckList::new("settings.checks");
    if let Some(f) = &saved_fields {
        variables.load(&f.variables);
        checks.load(&f.checks);
    }
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
        let typed_variables = variables.definitions(&mut errors);
        let typed_checks = checks.definitions(&mut errors);
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
        let value = settings_of(&Fields {
            connection: connection_id,
            sql: sql.get_untracked(),
            mode: mode.get_untracked(),
            table: table.get_untracked(),
            keys: keys.get_untracked(),
            condition: condition.get_untracked(),
            delete_by: delete_by.get_untracked(),
            variables: typed_variables,
            checks: typed_checks,
        });
        let Ok(mut settings) = serde_json::from_value::<JobSettings>(value) else {
            return;
        };
        if let Some(saved) = &saved {
            let mut kept = saved.clone();
            kept.kind = settings.kind;
            kept.source = settings.source;
            kept.destination = settings.destination;
            kept.variables = settings.variables;
            kept.checks = settings.checks;
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
                // Variables first: the SQL and the checks use them.
                <VariablesEditor list=variables form conns hint=Key::DataMartVariablesHint/>
                <ChecksEditor list=checks form conns default_connection=connection hint=Key::DataMartChecksHint/>
                <FormProblem form/>
                <Submit form label=if editing.is_some() { Key::SaveJob } else { Key::CreateDataMart }/>
            </form>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hakobu_core::job::ConnectionInfo;
    use hakobu_core::job::checks::{CheckOperator, OnCheckFailure};

    /// The form's fields for `mode`, with a `$day$` variable ("1 day ago, %Y-%m-%d,
    /// Asia/Tokyo") used in the SQL, the condition and a check, and a query variable.
    fn typed(c: ConnectionId, mode: &str, delete_by: &str) -> Fields {
        let variables = serde_json::from_value(json!([
            {"name": "day", "value": {"kind": "timestamp", "base": "scheduled_time",
                "offset": {"quantity": 1, "unit": "day", "direction": "ago"},
                "format": "%Y-%m-%d", "timezone": "Asia/Tokyo"}},
            {"name": "last_day", "value": {"kind": "query", "connection_id": c,
                "sql": "SELECT max(day) FROM orders", "timeout_seconds": 30}},
        ]))
        .unwrap();
        Fields {
            connection: c,
            sql: if mode == "statements" {
                "DELETE FROM daily WHERE day = $day$; INSERT INTO daily SELECT day, sum(amount) FROM orders WHERE day = $day$ GROUP BY day".into()
            } else {
                "SELECT day, sum(amount) AS total FROM orders WHERE day = $day$ GROUP BY day".into()
            },
            mode: mode.into(),
            table: "daily".into(),
            keys: "day, region".into(),
            condition: "day = $day$".into(),
            delete_by: delete_by.into(),
            variables,
            checks: vec![DataCheck {
                name: "the day was written".into(),
                connection_id: c,
                sql: "SELECT count(*) FROM daily WHERE day = $day$".into(),
                operator: CheckOperator::Ge,
                expected: "1".into(),
                null_passes: false,
                on_failure: OnCheckFailure::Fail,
            }],
        }
    }

    const MODES: [(&str, &str); 6] = [
        ("statements", "keys"),
        ("insert", "keys"),
        ("replace", "keys"),
        ("delete_insert", "keys"),
        ("delete_insert", "condition"),
        ("merge", "keys"),
    ];

    /// What the form sends, variables and checks included, passes the validator the
    /// server runs, on a database and on a warehouse.
    #[test]
    fn the_form_builds_settings_the_validator_accepts() {
        let c = ConnectionId::new();
        for kind in [ConnectionKind::Postgresql, ConnectionKind::Snowflake] {
            let info = Some(ConnectionInfo { kind });
            for (mode, delete_by) in MODES {
                let value = settings_of(&typed(c, mode, delete_by));
                let settings: JobSettings = serde_json::from_value(value).unwrap();
                assert_eq!(settings.variables.len(), 2);
                assert_eq!(settings.checks.len(), 1);
                let errors = settings.validate(info, info);
                assert!(errors.is_empty(), "{kind:?} {mode} {delete_by}: {errors:?}");
            }
        }
    }

    /// A variable the validator refuses is named at the path the form shows it under.
    #[test]
    fn a_bad_variable_is_named_at_its_row() {
        let c = ConnectionId::new();
        let mut fields = typed(c, "statements", "keys");
        fields.variables[0].name = "1 day".into();
        let settings: JobSettings = serde_json::from_value(settings_of(&fields)).unwrap();
        let info = Some(ConnectionInfo {
            kind: ConnectionKind::Postgresql,
        });
        let errors = settings.validate(info, info);
        assert!(
            errors.0.iter().any(|e| e.field == "variables[0].name"),
            "{errors:?}"
        );
    }

    /// A saved data mart opens in the form as it was saved, for each mode, variables and
    /// checks included.
    #[test]
    fn a_saved_data_mart_fills_the_form_it_was_made_with() {
        let c = ConnectionId::new();
        for (mode, delete_by) in MODES {
            let fields = typed(c, mode, delete_by);
            let value = settings_of(&fields);
            let settings: JobSettings = serde_json::from_value(value.clone()).unwrap();
            let again = fields_of(&settings);
            assert_eq!(settings_of(&again), value, "{mode} {delete_by}");
            assert_eq!(again.variables, fields.variables);
            assert_eq!(again.checks, fields.checks);
        }
    }

    /// The editors the form holds give back a saved data mart's variables and checks.
    #[test]
    fn the_editors_give_back_saved_variables_and_checks() {
        let fields = typed(ConnectionId::new(), "insert", "keys");
        let (variables, checks) = (
            VariableList::new("settings.variables", true),
            CheckList::new("settings.checks"),
        );
        variables.load(&fields.variables);
        checks.load(&fields.checks);
        let mut errors = FieldErrors::default();
        assert_eq!(variables.definitions(&mut errors), fields.variables);
        assert_eq!(checks.definitions(&mut errors), fields.checks);
        assert!(errors.is_empty(), "{errors:?}");
    }
}
