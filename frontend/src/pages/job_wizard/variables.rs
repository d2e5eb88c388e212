//! Step 4's `$name$` variables, one per row: fixed text, the run's date and time, or a query,
//! with how the value is written into SQL and what a run due now would get.

use super::inputs::{database_connections, database_options};
use super::state::{VariableRow, Wizard, browser_zone};
use crate::components::{RowError, row_input, row_select};
use crate::forms::Form;
use crate::i18n::{Key, fill, tr, use_lang};
use hakobu_core::api::connections::ConnectionView;
use hakobu_core::validation::FieldErrors;
use hakobu_core::variables::{
    OffsetDirection, OffsetUnit, RunContext, SqlUse, TimeBase, Variable, resolve_local,
};
use leptos::prelude::*;

/// What a variable would be for a run due now (built-ins, text and timestamps; a query's
/// value is known only when a run starts).
fn example_value(variables: &[Variable], name: &str) -> Option<String> {
    let now = chrono::Utc::now();
    let run = RunContext {
        run_id: "00000000-0000-0000-0000-000000000000",
        job_name: "",
        scheduled_time: now,
        start_time: now,
    };
    resolve_local(variables, &run, &Default::default())
        .ok()?
        .get(name)
        .map(str::to_owned)
}

/// The variables, one row each with its example, and a button to add one (up to
/// `MAX_VARIABLES`).
#[component]
pub(super) fn VariablesEditor(
    w: Wizard,
    form: Form,
    conns: StoredValue<Vec<ConnectionView>>,
) -> impl IntoView {
    let lang = use_lang();
    let databases = database_connections(conns);
    let add = move |_| {
        let key = w.key();
        let row = w.owned(|| VariableRow::new(key, &browser_zone()));
        w.variables.update(|v| v.push(row));
        let i = w.variables.with_untracked(Vec::len) - 1;
        crate::forms::focus(&form.input_id(&format!("settings.variables[{i}].name")));
    };
    // Every variable as typed, read reactively so the examples follow the inputs.
    let all_variables = move || {
        let rows = w.variables.get();
        for r in &rows {
            r.name.track();
            r.kind.track();
            r.value.track();
            r.base.track();
            r.quantity.track();
            r.unit.track();
            r.direction.track();
            r.format.track();
            r.timezone.track();
        }
        w.variable_definitions(&mut FieldErrors::default())
    };
    let rows = move || {
        w.variables
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let p = move |f: &str| format!("settings.variables[{i}].{f}");
                let kind_id = form.input_id(&p("value.kind"));
                let sql_use_id = form.input_id(&p("in_sql"));
                let example = move || {
                    let name = row.name.get().trim().to_owned();
                    if row.kind.get() == "query" {
                        return view! { <p class="hint">{tr(Key::VarExampleQuery)}</p> }.into_any();
                    }
                    match example_value(&all_variables(), &name) {
                        Some(v) => view! {
                            <p class="hint example" data-testid="variable-example">
                                {tr(Key::VarExample)} " " <code>{v}</code>
                            </p>
                        }
                        .into_any(),
                        None => view! { <p class="hint">{tr(Key::VarExampleInvalid)}</p> }.into_any(),
                    }
                };
                let kind_inputs = move || match row.kind.get().as_str() {
                    "string" => row_input(form, p("value.value"), Key::VariableText, row.value, None).into_any(),
                    "query" => {
                        let conn_id = form.input_id(&p("value.connection_id"));
                        let sql_id = form.input_id(&p("value.sql"));
                        view! {
                            <div class="field">
                                <label for=conn_id.clone()>{tr(Key::VarQueryConnection)}</label>
                                <select id=conn_id on:change=move |ev| row.connection.set(event_target_value(&ev).parse().ok())>
                                    {database_options(databases, row.connection)}
                                </select>
                                <RowError form path=p("value.connection_id") label=Key::VarQueryConnection/>
                            </div>
                            <div class="field wide">
                                <label for=sql_id.clone()>{tr(Key::VarSql)}</label>
                                <textarea id=sql_id class="code" rows="3" spellcheck="false" placeholder="SELECT max(day) FROM loaded_days"
                                    prop:value=move || row.sql.get() on:input=move |ev| row.sql.set(event_target_value(&ev))></textarea>
                                <p class="hint">{tr(Key::VarSqlHint)}</p>
                                <RowError form path=p("value.sql") label=Key::VarSql/>
                            </div>
                            {row_input(form, p("value.timeout_seconds"), Key::VarTimeout, row.timeout, None)}
                        }
                        .into_any()
                    }
                    _ => view! {
                        {row_select(form, p("value.base"), Key::VarBase, row.base, vec![
                            (TimeBase::ScheduledTime, Key::VarBaseScheduled),
                            (TimeBase::StartTime, Key::VarBaseStart),
                        ])}
                        <div class="row-inputs">
                            {row_input(form, p("value.offset.quantity"), Key::VarOffsetQuantity, row.quantity, Some(Key::VarOffsetQuantityHint))}
                            {row_select(form, p("value.offset.unit"), Key::VarOffsetUnit, row.unit, vec![
                                (OffsetUnit::Minute, Key::UnitMinute),
                                (OffsetUnit::Hour, Key::UnitHour),
                                (OffsetUnit::Day, Key::UnitDay),
                                (OffsetUnit::Week, Key::UnitWeek),
                                (OffsetUnit::Month, Key::UnitMonth),
                            ])}
                            {row_select(form, p("value.offset.direction"), Key::VarOffsetDirection, row.direction, vec![
                                (OffsetDirection::Ago, Key::DirectionAgo),
                                (OffsetDirection::Later, Key::DirectionLater),
                            ])}
                        </div>
                        {row_input(form, p("value.format"), Key::VarFormat, row.format, Some(Key::VarFormatHint))}
                        {row_input(form, p("value.timezone"), Key::VarTimezone, row.timezone, Some(Key::VarTimezoneHint))}
                    }
                    .into_any(),
                };
                view! {
                    <fieldset class="check" data-testid="variable-row">
                        <legend>{move || fill(lang.get(), Key::VariableN, &[("n", &(i + 1).to_string())])}</legend>
                        {row_input(form, p("name"), Key::VariableName, row.name, Some(Key::VariableNameHint))}
                        <div class="field">
                            <label for=kind_id.clone()>{tr(Key::VariableKind)}</label>
                            <select id=kind_id on:change=move |ev| row.kind.set(event_target_value(&ev))>
                                {[("timestamp", Key::VarKindTimestamp), ("string", Key::VarKindString), ("query", Key::VarKindQuery)]
                                    .into_iter()
                                    .map(|(k, label)| view! { <option value=k selected=move || row.kind.get() == k>{tr(label)}</option> })
                                    .collect_view()}
                            </select>
                        </div>
                        {kind_inputs}
                        <div class="field">
                            <label for=sql_use_id.clone()>{tr(Key::VarInSql)}</label>
                            <select id=sql_use_id on:change=move |ev| row.in_sql.set(match event_target_value(&ev).as_str() {
                                "identifier" => SqlUse::Identifier,
                                "raw" => SqlUse::Raw,
                                _ => SqlUse::Literal,
                            })>
                                {[("literal", SqlUse::Literal, Key::InSqlLiteral), ("identifier", SqlUse::Identifier, Key::InSqlIdentifier), ("raw", SqlUse::Raw, Key::InSqlRaw)]
                                    .into_iter()
                                    .map(|(v, u, label)| view! { <option value=v selected=move || row.in_sql.get() == u>{tr(label)}</option> })
                                    .collect_view()}
                            </select>
                        </div>
                        <div aria-live="polite">{example}</div>
                        <button type="button" class="link-button" on:click=move |_| w.variables.update(|v| v.retain(|x| x.key != row.key))>{tr(Key::RemoveVariable)}</button>
                    </fieldset>
                }
            })
            .collect_view()
    };
    view! {
        <h3>{tr(Key::Variables)}</h3>
        <p class="hint">{tr(Key::VariablesHint)}</p>
        {rows}
        <button type="button" on:click=add disabled=move || { w.variables.with(Vec::len) >= hakobu_core::variables::MAX_VARIABLES }>
            {tr(Key::AddVariable)}
        </button>
    }
}
