//! Step 5, review: the job's name, description and owning team, a summary of the settings,
//! the schedules in words, and the YAML a run would execute, compiled in the browser by
//! `core`'s compiler (the server's own).

use super::inputs::PathInput;
use super::state::Wizard;
use crate::components::FieldError as FieldMessage;
use crate::forms::Form;
use crate::i18n::{Key, fill, load_mode_texts, tr, use_lang};
use crate::widgets::schedule_form::{schedule_text, upcoming};
use hakobu_core::api::connections::ConnectionView;
use hakobu_core::api::org::TeamView;
use hakobu_core::ids::ConnectionId;
use hakobu_core::job::{CompileConnection, JobSettings, compile};
use leptos::prelude::*;
use serde_json::{Map, Value};

/// The name of connection `id` among `conns`; empty when it is not there.
fn conn_name(conns: StoredValue<Vec<ConnectionView>>, id: Option<ConnectionId>) -> String {
    id.and_then(|id| conns.with_value(|c| c.iter().find(|c| c.id == id).map(|c| c.name.clone())))
        .unwrap_or_default()
}

/// The YAML a run would execute, compiled here with `core`'s compiler (the server's own),
/// secrets shown as the `{{ env.* }}` references the server uses.
fn compiled_yaml(settings: &JobSettings, conns: &[ConnectionView]) -> Result<String, String> {
    let find = |id| conns.iter().find(|c| c.id == id);
    let (Some(source), Some(destination)) = (
        find(settings.source.connection_id),
        find(settings.destination.connection_id),
    ) else {
        return Err(String::new());
    };
    let split =
        |c: &ConnectionView, role: &str| -> Option<(Map<String, Value>, Map<String, Value>)> {
            let all = c.settings.as_ref()?;
            let mut plain = Map::new();
            let mut references = Map::new();
            for (name, value) in all {
                let secret = c.kind.field(name).is_some_and(|f| f.secret);
                if !secret {
                    plain.insert(name.clone(), value.clone());
                } else if value.get("set").and_then(Value::as_bool) == Some(true) {
                    references.insert(
                        name.clone(),
                        Value::String(format!(
                            "{{{{ env.{}_{} }}}}",
                            role.to_uppercase(),
                            name.to_uppercase()
                        )),
                    );
                }
            }
            Some((plain, references))
        };
    let (Some((sp, ss)), Some((dp, ds))) =
        (split(source, "source"), split(destination, "destination"))
    else {
        return Err(String::new());
    };
    compile(
        settings,
        &CompileConnection {
            kind: source.kind,
            settings: &sp,
            secrets: &ss,
        },
        &CompileConnection {
            kind: destination.kind,
            settings: &dp,
            secrets: &ds,
        },
        None,
    )
    .map(|c| c.to_yaml())
    .map_err(|e| e.to_string())
}

/// Step 5: the job's name, description and team, then the summary and the compiled YAML.
#[component]
pub(super) fn ReviewStep(
    w: Wizard,
    form: Form,
    conns: StoredValue<Vec<ConnectionView>>,
    teams: StoredValue<Vec<TeamView>>,
) -> impl IntoView {
    let lang = use_lang();
    let (settings, _) = conns.with_value(|c| w.settings(c));
    let yaml = settings
        .as_ref()
        .map(|s| conns.with_value(|c| compiled_yaml(s, c)))
        .unwrap_or(Err(String::new()));
    let summary = settings.clone().map(|s| {
        let source_what = if let Some(t) = &s.source.table {
            match &t.schema {
                Some(schema) => format!("{schema}.{}", t.name),
                None => t.name.clone(),
            }
        } else if let Some(q) = &s.source.query {
            q.lines().next().unwrap_or_default().to_owned()
        } else {
            s.source.files.as_ref().map(|f| f.path_prefix.clone()).unwrap_or_default()
        };
        let dest_what = if let Some(t) = &s.destination.table {
            match &t.schema {
                Some(schema) => format!("{schema}.{}", t.name),
                None => t.name.clone(),
            }
        } else {
            s.destination.files.as_ref().map(|f| f.path_prefix.clone()).unwrap_or_default()
        };
        let mode = s.destination.mode;
        let changes = s.columns.len();
        let masks = s.masks.len();
        let source_name = conn_name(conns, Some(s.source.connection_id));
        let dest_name = conn_name(conns, Some(s.destination.connection_id));
        let database_dest = s.destination.table.is_some();
        view! {
            <dl class="facts" data-testid="job-summary">
                <dt>{tr(Key::StepSource)}</dt>
                <dd>{source_name} " · " <code>{source_what}</code></dd>
                <dt>{tr(Key::StepDestination)}</dt>
                <dd>{dest_name} " · " <code>{dest_what}</code></dd>
                {database_dest.then(|| view! {
                    <dt>{tr(Key::LoadMode)}</dt>
                    <dd>{tr(load_mode_texts(mode).0)} " — " <span class="muted">{tr(load_mode_texts(mode).1)}</span></dd>
                })}
                <dt>{tr(Key::ColumnMapping)}</dt>
                <dd>{move || fill(lang.get(), Key::ChangesAndMasks, &[("changes", &changes.to_string()), ("masks", &masks.to_string())])}</dd>
                <dt>{tr(Key::TimeoutMinutes)}</dt>
                <dd>{s.timeout_minutes.to_string()}</dd>
                <dt>{tr(Key::Retries)}</dt>
                <dd>{s.retry.count.to_string()}</dd>
            </dl>
        }
    });
    let team_id = form.input_id("team_id");
    view! {
        <p class="hint">{tr(Key::ReviewLead)}</p>
        <PathInput form path="name" label=Key::JobName value=w.name hint=Key::JobNameHint required=true/>
        <PathInput form path="description" label=Key::Description value=w.description hint=Key::DescriptionHint/>
        <div class="field" class:invalid=move || form.error("team_id").is_some()>
            <label for=team_id.clone()>{tr(Key::OwnerTeam)}</label>
            <select id=team_id on:change=move |ev| w.team.set(event_target_value(&ev).parse().ok()) prop:value=move || w.team.get().map(|t| t.to_string()).unwrap_or_default()>
                {teams.get_value().into_iter().map(|t| {
                    let id = t.id;
                    view! { <option value=t.id.to_string() selected=move || w.team.get() == Some(id)>{t.name}</option> }
                }).collect_view()}
            </select>
            <FieldMessage form field="team_id" label=Key::OwnerTeam error_id="job-team_id-error".to_owned()/>
        </div>
        <h3>{tr(Key::Summary)}</h3>
        {summary}
        {w.adds_schedules.then(|| view! { <ReviewSchedules w/> })}
        <h3>{tr(Key::CompiledConfig)}</h3>
        {match yaml {
            Ok(yaml) => view! {
                <p class="hint">{tr(Key::CompiledConfigHint)}</p>
                <pre class="yaml" data-testid="compiled-yaml" tabindex="0">{yaml}</pre>
            }
            .into_any(),
            Err(e) if e.is_empty() => view! { <p class="muted">{tr(Key::CompiledAfterSave)}</p> }.into_any(),
            Err(e) => view! { <p class="form-problem">{e}</p> }.into_any(),
        }}
    }
}

/// Step 5's list of the new job's schedules in words, with the first fire time of each.
#[component]
fn ReviewSchedules(w: Wizard) -> impl IntoView {
    let lang = use_lang();
    let drafts = w.schedules.get_untracked();
    view! {
        <h3>{tr(Key::Schedules)}</h3>
        {if drafts.is_empty() {
            view! { <p class="muted" data-testid="review-schedules">{tr(Key::NoSchedules)}</p> }.into_any()
        } else {
            view! {
                <ul class="plain-list" data-testid="review-schedules">
                    {drafts.into_iter().map(|d| {
                        let settings = d.settings_untracked();
                        let next = upcoming(&settings, "", chrono::Utc::now())
                            .ok()
                            .and_then(|t| t.first().copied());
                        view! {
                            <li data-testid="review-schedule">
                                <strong>{move || schedule_text(lang.get(), &settings)}</strong>
                                {next.map(|at| view! { " · " {tr(Key::NextFire)} " " <crate::components::Time at/> })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }
            .into_any()
        }}
    }
}
