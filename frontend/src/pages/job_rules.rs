//! The job page's notification rules: the list for everyone who sees the job, and for
//! editors (the policy's `EditResource`, which the server asks for every change) the rule
//! editor the wizard's step 4 uses too ([`crate::widgets::notification_rules`]), saved with
//! its own button.

use crate::api::{self, ApiError};
use crate::components::{LoadError, Loading, NotAllowed};
use crate::forms::{Form, Problem};
use crate::i18n::{Key, notification_event_key, tr, use_lang};
use crate::widgets::notification_rules::{RuleSet, RulesEditor, save_rules, threshold_text};
use hakobu_core::api::notifications::RuleView;
use hakobu_core::ids::JobId;
use hakobu_core::validation::{FieldError, FieldErrors};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

/// The job page's notification rules: the list for everyone who sees the job, and for its
/// editors the same editor as the wizard's, saved with its own button.
#[component]
pub fn JobRulesPanel(
    job: JobId,
    /// The policy's `EditResource` on the job, which the server asks of every change.
    can_edit: bool,
    rules: LocalResource<Result<Vec<RuleView>, ApiError>>,
) -> impl IntoView {
    let lang = use_lang();
    let destinations = LocalResource::new(api::destinations);
    let editing = RwSignal::new(false);
    let list = move || match rules.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || rules.refetch()/> }.into_any(),
        Some(Ok(list)) if list.is_empty() => {
            view! { <p class="muted" data-testid="job-rule-list">{tr(Key::NoJobRules)}</p> }
                .into_any()
        }
        Some(Ok(list)) => {
            let names = destinations.get().and_then(Result::ok).unwrap_or_default();
            view! {
                <ul class="plain-list" data-testid="job-rule-list">
                    {list
                        .into_iter()
                        .map(|r| {
                            let to = names
                                .iter()
                                .find(|d| d.id == r.destination_id)
                                .map(|d| d.name.clone())
                                .unwrap_or_default();
                            let (event, threshold) = (r.event, r.threshold);
                            view! {
                                <li data-testid="job-rule">
                                    <strong>{tr(notification_event_key(event))}</strong>
                                    {move || threshold.map(|_| format!(" ({})", threshold_text(lang.get(), event, threshold)))}
                                    " → " {to}
                                    {(!r.enabled).then(|| view! { " · " <span class="muted">{tr(Key::RuleOff)}</span> })}
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
            .into_any()
        }
    };
    let editor = move || {
        if !editing.get() {
            return ().into_any();
        }
        match rules.get() {
            Some(Ok(saved)) => view! {
                <JobRulesForm
                    job
                    saved
                    on_close=move || editing.set(false)
                    on_saved=move || {
                        editing.set(false);
                        rules.refetch();
                    }
                />
            }
            .into_any(),
            _ => ().into_any(),
        }
    };
    view! {
        <section class="panel" data-testid="job-rules-panel">
            <h2>{tr(Key::Notifications)}</h2>
            <p class="hint">{tr(Key::JobRulesLead)}</p>
            {list}
            {if can_edit {
                view! {
                    <Show when=move || !editing.get()>
                        <button type="button" on:click=move |_| editing.set(true)>{tr(Key::EditRules)}</button>
                    </Show>
                    {editor}
                }
                .into_any()
            } else {
                view! { <NotAllowed reason=Key::OnlyEditorsChangeRules/> }.into_any()
            }}
        </section>
    }
}

/// The editor open on the job page, over the rules as saved when it opened.
#[component]
fn JobRulesForm(
    job: JobId,
    saved: Vec<RuleView>,
    #[prop(into)] on_close: Callback<()>,
    #[prop(into)] on_saved: Callback<()>,
) -> impl IntoView {
    let set = RuleSet::new(&saved);
    let form = Form::new("jobrules", &["rules"]);
    let show = move |errors: FieldErrors| {
        // A failure of no one row (a delete the server refused) has no input to sit by.
        let whole = errors
            .0
            .iter()
            .find(|e| e.field == "rules")
            .map(FieldError::text);
        form.invalid(errors);
        if let Some(message) = whole {
            form.problem.set(Some(Problem::Server(message)));
        }
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (rows, errors) = set.requests();
        if !errors.is_empty() {
            show(errors);
            return;
        }
        form.start();
        spawn_local(async move {
            match save_rules(job, set, rows).await {
                Ok(()) => {
                    form.done();
                    on_saved.run(());
                }
                Err(errors) => show(errors),
            }
        });
    };
    view! {
        <form on:submit=submit novalidate=true data-testid="job-rules-form">
            <p class="hint">{tr(Key::JobRulesFormHint)}</p>
            <RulesEditor rules=set form/>
            <crate::components::FormProblem form/>
            <div class="button-row">
                <crate::components::Submit form label=Key::SaveRules/>
                <button type="button" on:click=move |_| on_close.run(())>{tr(Key::Cancel)}</button>
            </div>
        </form>
    }
}
