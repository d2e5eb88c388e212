//! Import an Embulk config: paste `config.yml` (or a Liquid template with its `env`
//! values), name the job, pick the team; the server creates the job and any connection it
//! needs, and the user lands on the new job's page.

use crate::api::{self, ApiError};
use crate::components::{
    FieldError as FieldMessage, FormProblem, LoadError, Loading, Submit, TextField,
};
use crate::forms::Form;
use crate::i18n::{Key, tr};
use crate::session::editable_teams;
use hakobu_core::api::jobs::ImportJobRequest;
use hakobu_core::api::org::TeamView;
use hakobu_core::ids::TeamId;
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::{FieldError, FieldErrors};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;
use std::collections::BTreeMap;

#[component]
pub fn JobImportPage() -> impl IntoView {
    crate::components::page_title(Key::ImportEmbulk);
    let teams = LocalResource::new(api::teams);
    move || match teams.get() {
        None => view! { <div class="page"><Loading/></div> }.into_any(),
        Some(Err(e)) => {
            view! { <div class="page"><LoadError error=e retry=move || teams.refetch()/></div> }
                .into_any()
        }
        Some(Ok(t)) => view! { <ImportForm teams=t/> }.into_any(),
    }
}

/// `NAME=value` lines as the `env` map; lines without `=` are reported.
fn parse_env(text: &str) -> Result<BTreeMap<String, String>, FieldErrors> {
    let mut env = BTreeMap::new();
    let mut errors = FieldErrors::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                env.insert(k.trim().to_owned(), v.to_owned());
            }
            _ => errors.push("env", format!("line {} must look like NAME=value", i + 1)),
        }
    }
    errors.into_result().map(|()| env)
}

/// The server names a problem inside the pasted config by its path (`config.out.mode`);
/// the form shows it beside the config box, so the message keeps the path within the
/// config (`out.mode: unknown mode "upsert"; ...`) to say which line to fix.
fn located_in_config(error: ApiError) -> ApiError {
    match error {
        ApiError::Server { status, mut body } => {
            if body.fields.is_empty()
                && let Some(field) = &body.field
            {
                body.fields
                    .push(FieldError::said(field.clone(), body.text()));
            }
            for e in &mut body.fields {
                if let Some(path) = e.field.strip_prefix("config.") {
                    e.message = format!("{path}: {}", e.message);
                    // The sentence now names the path, which a translation of the code
                    // would drop: it is shown as written.
                    e.code = None;
                    e.params.clear();
                }
            }
            ApiError::Server { status, body }
        }
        other => other,
    }
}

#[component]
fn ImportForm(teams: Vec<TeamView>) -> impl IntoView {
    let navigate = use_navigate();
    let form = Form::new("import", &["name", "team_id", "config", "env"]);
    let editable = editable_teams(&teams);
    let name = RwSignal::new(String::new());
    let config = RwSignal::new(String::new());
    let env = RwSignal::new(String::new());
    let team = RwSignal::new(editable.first().map(|t| t.id));
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let mut errors = FieldErrors::default();
        hakobu_core::validation::check_text(
            &mut errors,
            "name",
            name.get_untracked().trim(),
            hakobu_core::api::NAME_MAX_CHARS,
        );
        if config.get_untracked().trim().is_empty() {
            errors.push_message("config", MessageCode::Required);
        }
        let env_map = match parse_env(&env.get_untracked()) {
            Ok(m) => m,
            Err(e) => {
                errors.0.extend(e.0);
                BTreeMap::new()
            }
        };
        let Some(team_id) = team.get_untracked() else {
            errors.push_message("team_id", MessageCode::Required);
            form.invalid(errors);
            return;
        };
        if !errors.is_empty() {
            form.invalid(errors);
            return;
        }
        let request = ImportJobRequest {
            team_id,
            name: name.get_untracked().trim().to_owned(),
            config: config.get_untracked(),
            env: env_map,
        };
        form.start();
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::import_job(&request).await {
                Ok(created) => {
                    form.done();
                    navigate(&format!("/jobs/{}", created.job.id), Default::default());
                }
                Err(e) => form.fail(located_in_config(e)),
            }
        });
    };
    let team_id = form.input_id("team_id");
    let config_id = form.input_id("config");
    let env_id = form.input_id("env");
    view! {
        <div class="page">
            <header class="page-header">
                <p class="breadcrumb"><A href="/jobs">{tr(Key::NavJobs)}</A></p>
                <h1>{tr(Key::ImportEmbulk)}</h1>
                <p class="lead">{tr(Key::ImportLead)}</p>
            </header>
            <form class="panel" on:submit=submit novalidate=true>
                <TextField form field="name" label=Key::JobName value=name autocomplete="off" required=true/>
                <div class="field">
                    <label for=team_id.clone()>{tr(Key::OwnerTeam)}</label>
                    <select id=team_id on:change=move |ev| team.set(event_target_value(&ev).parse::<TeamId>().ok()) prop:value=move || team.get().map(|t| t.to_string()).unwrap_or_default()>
                        {editable.into_iter().map(|t| view! { <option value=t.id.to_string()>{t.name}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field wide" class:invalid=move || form.error("config").is_some()>
                    <label for=config_id.clone()>{tr(Key::EmbulkConfig)}<span class="required" aria-hidden="true">" *"</span></label>
                    <textarea id=config_id.clone() class="code" rows="14" spellcheck="false"
                        aria-describedby=format!("{config_id}-hint {config_id}-error")
                        aria-invalid=move || form.error("config").is_some().to_string()
                        prop:value=move || config.get() on:input=move |ev| config.set(event_target_value(&ev))></textarea>
                    <p class="hint" id=format!("{config_id}-hint")>{tr(Key::EmbulkConfigHint)}</p>
                    <FieldMessage form field="config" label=Key::EmbulkConfig error_id=format!("{config_id}-error")/>
                </div>
                <div class="field wide" class:invalid=move || form.error("env").is_some()>
                    <label for=env_id.clone()>{tr(Key::EnvValues)}</label>
                    <textarea id=env_id.clone() class="code" rows="4" spellcheck="false"
                        aria-describedby=format!("{env_id}-hint {env_id}-error")
                        prop:value=move || env.get() on:input=move |ev| env.set(event_target_value(&ev))></textarea>
                    <p class="hint" id=format!("{env_id}-hint")>{tr(Key::EnvValuesHint)}</p>
                    <FieldMessage form field="env" label=Key::EnvValues error_id=format!("{env_id}-error")/>
                </div>
                <FormProblem form/>
                <Submit form label=Key::ImportButton/>
            </form>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hakobu_core::api::error::ErrorBody;

    fn server(field: &str, fields: Vec<FieldError>) -> ApiError {
        ApiError::Server {
            status: 422,
            body: Box::new(ErrorBody {
                field: Some(field.to_owned()),
                fields,
                ..ErrorBody::new("validation", "(the server's summary)".into())
            }),
        }
    }

    fn messages(error: ApiError) -> Vec<(String, String)> {
        let ApiError::Server { body, .. } = error else {
            panic!("still a server error");
        };
        body.fields
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn problems_inside_the_config_keep_their_path() {
        let error = server(
            "config.out.mode",
            vec![
                FieldError::new("config.out.mode", "unknown mode \"upsert\""),
                FieldError::new("name", "is required"),
            ],
        );
        assert_eq!(
            messages(located_in_config(error)),
            [
                (
                    "config.out.mode".to_owned(),
                    "out.mode: unknown mode \"upsert\"".to_owned()
                ),
                ("name".to_owned(), "is required".to_owned()),
            ]
        );
        // A problem with the config as a whole stays as it is.
        let whole = server("config", Vec::new());
        assert_eq!(
            messages(located_in_config(whole)),
            [("config".to_owned(), "(the server's summary)".to_owned())]
        );
    }
}
