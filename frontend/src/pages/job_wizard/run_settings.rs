//! Step 4, run settings: timeout, retries and overlap, the variables ([`crate::widgets::variables`]),
//! data checks ([`crate::widgets::checks`]), notification rules (the editor the job page uses too) and, for a new job,
//! schedules ([`super::schedules`]).

use super::inputs::PathInput;
use super::schedules::SchedulesEditor;
use super::state::Wizard;
use crate::forms::Form;
use crate::i18n::{Key, tr, use_lang};
use crate::widgets::checks::ChecksEditor;
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
        // A new check looks at the destination, where a check usually looks.
        <ChecksEditor list=w.checks form conns default_connection=w.destination hint=Key::ChecksHint/>
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
