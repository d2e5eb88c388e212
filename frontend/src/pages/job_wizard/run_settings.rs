//! Step 4, run settings: timeout, retries and overlap, the variables ([`crate::widgets::variables`]),
//! data checks, notification rules (the editor the job page uses too) and, for a new job,
//! schedules ([`super::schedules`]).

use super::inputs::{PathInput, check_connections, database_options};
use super::schedules::SchedulesEditor;
use super::state::{CheckRow, Wizard};
use crate::components::checkbox;
use crate::forms::Form;
use crate::i18n::{Key, fill, tr, translate, use_lang};
use crate::widgets::notification_rules::RulesEditor;
use crate::widgets::variables::VariablesEditor;
use hakobu_core::api::connections::ConnectionView;
use hakobu_core::job::OverlapPolicy;
use leptos::prelude::*;

/// Step 4: timeout, retries and overlap, then the variables, data checks, notification rules
/// and schedules.
#[component]
pub(super) fn RunSettingsStep(
    w: Wizard,
    form: Form,
    conns: StoredValue<Vec<ConnectionView>>,
) -> impl IntoView {
    let lang = use_lang();
    let databases = check_connections(conns);
    let add_check = move |_| {
        // The destination is where a check usually looks.
        let (key, destination) = (w.key(), w.destination.get_untracked());
        let row = w.owned(|| CheckRow::new(key, destination));
        w.checks.update(|c| c.push(row));
    };
    let check_rows = move || {
        w.checks
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, row)| {
                let path = |f: &str| format!("settings.checks[{i}].{f}");
                let id = |f: &str| form.input_id(&path(f));
                let error = move |f: &'static str| {
                    let p = format!("settings.checks[{i}].{f}");
                    move || form.error(&p)
                };
                let message = move |f: &'static str, label: Key| {
                    let e = error(f);
                    move || e().map(|e| view! { <p class="field-error">{translate(lang.get(), Some(label.text(lang.get())), &e.text())}</p> })
                };
                let (name_id, conn_id, sql_id, op_id, expected_id) =
                    (id("name"), id("connection_id"), id("sql"), id("operator"), id("expected"));
                view! {
                    <fieldset class="check" data-testid="check-row">
                        <legend>{move || fill(lang.get(), Key::CheckN, &[("n", &(i + 1).to_string())])}</legend>
                        <div class="field">
                            <label for=name_id.clone()>{tr(Key::CheckName)}</label>
                            <input id=name_id type="text" placeholder=move || Key::CheckNameHint.text(lang.get()) prop:value=move || row.name.get() on:input=move |ev| row.name.set(event_target_value(&ev))/>
                            {message("name", Key::CheckName)}
                        </div>
                        <div class="field">
                            <label for=conn_id.clone()>{tr(Key::CheckConnection)}</label>
                            <select id=conn_id on:change=move |ev| row.connection.set(event_target_value(&ev).parse().ok()) prop:value=move || row.connection.get().map(|c| c.to_string()).unwrap_or_default()>
                                {database_options(databases, row.connection)}
                            </select>
                            {message("connection_id", Key::CheckConnection)}
                        </div>
                        <div class="field wide">
                            <label for=sql_id.clone()>{tr(Key::CheckSql)}</label>
                            <textarea id=sql_id class="code" rows="3" spellcheck="false" placeholder="SELECT count(*) FROM orders WHERE amount < 0" prop:value=move || row.sql.get() on:input=move |ev| row.sql.set(event_target_value(&ev))></textarea>
                            {message("sql", Key::CheckSql)}
                        </div>
                        <div class="row-inputs">
                            <div class="field">
                                <label for=op_id.clone()>{tr(Key::CheckOperatorLabel)}</label>
                                <select id=op_id on:change=move |ev| row.operator.set(event_target_value(&ev)) prop:value=move || row.operator.get()>
                                    {["=", "!=", "<", "<=", ">", ">="].into_iter().map(|o| view! { <option value=o selected=move || row.operator.get() == o>{o}</option> }).collect_view()}
                                </select>
                            </div>
                            <div class="field">
                                <label for=expected_id.clone()>{tr(Key::CheckExpected)}</label>
                                <input id=expected_id type="text" prop:value=move || row.expected.get() on:input=move |ev| row.expected.set(event_target_value(&ev))/>
                                {message("expected", Key::CheckExpected)}
                            </div>
                        </div>
                        {checkbox(Key::CheckNullPasses, row.null_passes)}
                        {checkbox(Key::CheckWarnOnly, row.warn_only)}
                        <button type="button" class="link-button" on:click=move |_| w.checks.update(|c| c.retain(|x| x.key != row.key))>{tr(Key::RemoveCheck)}</button>
                    </fieldset>
                }
            })
            .collect_view()
    };
    let overlap_radio = move |policy: OverlapPolicy, label: Key| {
        let id = format!("overlap-{policy:?}").to_lowercase();
        view! {
            <div class="choice">
                <input type="radio" name="overlap" id=id.clone() prop:checked=move || w.overlap.get() == policy on:change=move |_| w.overlap.set(policy)/>
                <label for=id>{tr(label)}</label>
            </div>
        }
    };
    view! {
        <p class="hint">{tr(Key::RunSettingsLead)}</p>
        <PathInput form path="settings.timeout_minutes" label=Key::TimeoutMinutes value=w.timeout hint=Key::TimeoutMinutesHint/>
        <PathInput form path="settings.retry.count" label=Key::Retries value=w.retries hint=Key::RetriesHint/>
        <PathInput form path="settings.retry.backoff_seconds" label=Key::Backoff value=w.backoff hint=Key::BackoffHint/>
        <TaskSizeFields w form/>
        <fieldset class="choices">
            <legend>{tr(Key::Overlap)}</legend>
            {overlap_radio(OverlapPolicy::Skip, Key::OverlapSkip)}
            {overlap_radio(OverlapPolicy::Queue, Key::OverlapQueue)}
            {overlap_radio(OverlapPolicy::Allow, Key::OverlapAllow)}
            <Show when=move || w.overlap.get() == OverlapPolicy::Allow>
                <PathInput form path="settings.max_concurrent_runs" label=Key::MaxConcurrentRuns value=w.max_concurrent_runs hint=Key::MaxConcurrentRunsHint/>
            </Show>
        </fieldset>
        // Variables first: checks (and the notification templates) may use them.
        <VariablesEditor list=w.variables form conns/>
        <h3>{tr(Key::DataChecks)}</h3>
        <p class="hint">{tr(Key::ChecksHint)}</p>
        {check_rows}
        <button type="button" on:click=add_check>{tr(Key::AddCheck)}</button>
        <h3>{tr(Key::Notifications)}</h3>
        <p class="hint">{tr(Key::RulesHint)}</p>
        <RulesEditor rules=w.rules form/>
        <SchedulesEditor w form/>
    }
}

/// The runner's CPU and memory: only the pairs Fargate offers, memory listed for the chosen
/// CPU (a CPU change keeps the memory when it still fits, else takes the smallest).
#[component]
fn TaskSizeFields(w: Wizard, form: Form) -> impl IntoView {
    use hakobu_core::job::{CPU_SIZES, Resources};
    let lang = use_lang();
    let cpu_id = form.input_id("settings.resources.cpu");
    let memory_id = form.input_id("settings.resources.memory_mb");
    let set_cpu = move |value: String| {
        let Ok(cpu) = value.parse::<f64>() else {
            return;
        };
        w.resources.update(|r| {
            let choices = Resources::memory_choices(cpu);
            r.cpu = cpu;
            if !choices.contains(&r.memory_mb) {
                r.memory_mb = choices.first().copied().unwrap_or(r.memory_mb);
            }
        });
    };
    let set_memory = move |ev: leptos::ev::Event| {
        if let Ok(m) = event_target_value(&ev).parse::<u32>() {
            w.resources.update(|r| r.memory_mb = m);
        }
    };
    view! {
        <fieldset class="task-size" data-testid="task-size">
            <legend>{tr(Key::TaskSize)}</legend>
            <p class="hint">{tr(Key::TaskSizeHint)}</p>
            <div class="field">
                <label for=cpu_id.clone()>{tr(Key::Cpu)}</label>
                <select id=cpu_id on:change=move |ev| set_cpu(event_target_value(&ev))
                    prop:value=move || w.resources.get().cpu.to_string()>
                    {CPU_SIZES.iter().map(|cpu| view! { <option value=cpu.to_string()>{cpu.to_string()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for=memory_id.clone()>{tr(Key::MemoryMib)}</label>
                <select id=memory_id
                    on:change=set_memory
                    prop:value=move || w.resources.get().memory_mb.to_string()>
                    {move || Resources::memory_choices(w.resources.get().cpu).into_iter().map(|m| view! {
                        <option value=m.to_string()>{m.to_string()}</option>
                    }).collect_view()}
                </select>
            </div>
            {move || form.error("settings.resources.memory_mb").or_else(|| form.error("settings.resources.cpu")).map(|e| view! {
                <p class="field-error">{crate::i18n::translate(lang.get(), None, &e.text())}</p>
            })}
        </fieldset>
    }
}
