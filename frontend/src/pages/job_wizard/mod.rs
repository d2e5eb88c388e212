//! The job wizard, for a new job (`/jobs/new`) and for changing one (`/jobs/:id/edit`):
//! 1 source -> 2 preview and columns -> 3 destination -> 4 run settings, variables, checks,
//! notifications and (for a new job) schedules -> 5 review and save.
//!
//! Each step checks its part with `core`'s `JobSettings::validate`, the function the server
//! runs, before moving on; errors the server finds on save (a table that does not exist, a
//! cast the column cannot take) send the user back to the step that has the field.
//!
//! The page ([`JobWizardPage`]) and the moves between steps are here; `state` holds what is
//! typed and its conversions to and from job settings; each step has its file (`source`,
//! `columns`, `destination`, `run_settings` with `variables` and `schedules`, `review`);
//! `inputs` are the inputs several steps use.

mod columns;
mod destination;
mod inputs;
mod review;
mod run_settings;
mod schedules;
mod source;
mod state;

use self::columns::ColumnsStep;
use self::destination::DestinationStep;
use self::review::ReviewStep;
use self::run_settings::RunSettingsStep;
use self::schedules::{ScheduleFailure, save_schedules};
use self::source::SourceStep;
use self::state::Wizard;
use crate::api;
use crate::components::{Empty, FormProblem, LoadError, Loading};
use crate::forms::Form;
use crate::i18n::{Key, fill, tr, translate, use_lang};
use crate::session::editable_teams;
use crate::widgets::notification_rules::{RulesOwner, save_rules};
use hakobu_core::api::connections::ConnectionView;
use hakobu_core::api::jobs::{CreateJobRequest, JobView, UpdateJobRequest, validate_job_text};
use hakobu_core::api::notifications::RuleView;
use hakobu_core::api::org::TeamView;
use hakobu_core::authz::TeamRole;
use hakobu_core::ids::JobId;
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::{FieldError, FieldErrors};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{A, Redirect};
use leptos_router::hooks::{use_navigate, use_params_map};

/// The steps' names in order: step `n` is `STEPS[n - 1]`.
const STEPS: [Key; 5] = [
    Key::StepSource,
    Key::StepColumns,
    Key::StepDestination,
    Key::StepRunSettings,
    Key::StepReview,
];

/// An error about a `$name$` defined later (in step 4): earlier steps let it pass, so a
/// name can be used before it is defined; step 4 shows it where it is used.
fn is_unknown_variable(message: &str) -> bool {
    message.starts_with("unknown variable $")
}

/// The step (1 to 5) that holds the input of an error's field.
fn step_of(path: &str) -> usize {
    let p = path.strip_prefix("settings.").unwrap_or(path);
    if p.starts_with("source") {
        1
    } else if p.starts_with("columns") || p.starts_with("masks") {
        2
    } else if p.starts_with("destination") {
        3
    } else if p.starts_with("timeout")
        || p.starts_with("retry")
        || p.starts_with("resources")
        || p.starts_with("overlap")
        || p.starts_with("checks")
        || p.starts_with("variables")
        || p.starts_with("rules")
        || p.starts_with("schedules")
    {
        4
    } else {
        5
    }
}

/// `/jobs/new` and `/jobs/:id/edit`.
#[component]
pub fn JobWizardPage() -> impl IntoView {
    crate::components::page_title(Key::JobWizardTitle);
    let params = use_params_map();
    let job_id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<JobId>().ok()));
    let job = LocalResource::new(move || {
        let id = job_id();
        async move {
            match id {
                Some(id) => api::job(id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let rules = LocalResource::new(move || {
        let id = job_id();
        async move {
            match id {
                Some(id) => api::job_rules(id).await,
                None => Ok(Vec::new()),
            }
        }
    });
    let connections = LocalResource::new(api::connections);
    let teams = LocalResource::new(api::teams);
    move || {
        let (Some(j), Some(r), Some(c), Some(t)) =
            (job.get(), rules.get(), connections.get(), teams.get())
        else {
            return view! { <div class="page"><Loading/></div> }.into_any();
        };
        let loaded = j.and_then(|j| r.and_then(|r| c.and_then(|c| t.map(|t| (j, r, c, t)))));
        match loaded {
            Err(e) => view! {
                <div class="page">
                    <LoadError error=e retry=move || { job.refetch(); rules.refetch(); connections.refetch(); teams.refetch(); }/>
                </div>
            }
            .into_any(),
            Ok((Some(j), _, _, _)) if j.settings.is_none() || j.your_role < TeamRole::Editor => view! {
                <div class="page">
                    <h1>{j.name.clone()}</h1>
                    <p class="not-allowed">{tr(Key::OnlyEditorsChangeJobs)}</p>
                </div>
            }
            .into_any(),
            // A data mart has its own form: the wizard would save it as a transfer.
            Ok((Some(j), _, _, _)) if j.kind == hakobu_core::job::JobKind::DataMart => {
                let href = crate::pages::jobs::edit_path(j.id, j.kind);
                view! { <Redirect path=href/> }.into_any()
            }
            Ok((job, rules, connections, teams)) => {
                view! { <JobWizard job rules connections teams/> }.into_any()
            }
        }
    }
}

/// The wizard over a loaded job (none for a new one), its rules, and the connections and
/// teams the reader may use.
#[component]
fn JobWizard(
    job: Option<JobView>,
    rules: Vec<RuleView>,
    connections: Vec<ConnectionView>,
    teams: Vec<TeamView>,
) -> impl IntoView {
    let lang = use_lang();
    let navigate = use_navigate();
    let editable = editable_teams(&teams);
    let w = Wizard::new(job.as_ref(), &rules, editable.first().map(|t| t.id));
    let job_id = job.as_ref().map(|j| j.id);
    // Set once the job exists: a rule refused after the job was created is fixed and saved
    // as a change of that job, not as a second new job.
    let saved_id = RwSignal::new(job_id);
    let form = Form::new(
        "job",
        &[
            "name",
            "description",
            "team_id",
            "settings",
            "rules",
            "schedules",
        ],
    );
    let usable: Vec<ConnectionView> = connections
        .into_iter()
        .filter(|c| c.your_role >= TeamRole::Operator)
        .collect();
    let conns = StoredValue::new(usable);
    let editable = StoredValue::new(editable);

    if conns.with_value(Vec::is_empty) {
        return view! {
            <div class="page">
                <header class="page-header"><h1>{tr(Key::NewJob)}</h1></header>
                <Empty title=Key::NoConnectionsForJobTitle body=Key::NoConnectionsForJobBody/>
                <p><A href="/connections/new" attr:class="button primary">{tr(Key::NewConnection)}</A></p>
            </div>
        }
        .into_any();
    }

    // Checks the current step; moves on only when its fields are fine.
    let check_step = move |step: usize| -> bool {
        let (_, mut errors) = conns.with_value(|c| w.settings(c));
        errors.0.extend(w.rules.requests().1.0);
        errors.0.extend(w.schedule_errors().0);
        if step == 5 {
            let mut text = FieldErrors::default();
            validate_job_text(
                &mut text,
                Some(w.name.get_untracked().trim()),
                Some(&w.description.get_untracked()),
                None,
            );
            if w.team.get_untracked().is_none() {
                text.push_message("team_id", MessageCode::Required);
            }
            errors.0.extend(text.0);
        }
        let at_step: Vec<FieldError> = errors
            .0
            .into_iter()
            .filter(|e| match step {
                5 => true,
                4 => step_of(&e.field) == 4 || is_unknown_variable(&e.message),
                _ => step_of(&e.field) == step && !is_unknown_variable(&e.message),
            })
            .collect();
        match at_step.first() {
            None => {
                form.show(Vec::new());
                true
            }
            Some(first) => {
                let s = step_of(&first.field);
                w.step.set(s);
                form.invalid(FieldErrors(at_step));
                false
            }
        }
    };
    let go = move |to: usize| {
        let from = w.step.get_untracked();
        if to > from && !check_step(from) {
            return;
        }
        w.step.set(to);
        w.reached.update(|r| *r = (*r).max(to));
        crate::forms::focus("wizard-step-heading");
    };

    // Set when the job was saved but one of its new schedules was not.
    let schedule_problem = RwSignal::new(None::<(JobId, String, ScheduleFailure)>);
    let save = {
        let navigate = navigate.clone();
        move |_| {
            schedule_problem.set(None);
            if !check_step(5) {
                return;
            }
            let (Some(settings), _) = conns.with_value(|c| w.settings(c)) else {
                return;
            };
            let (rule_rows, _) = w.rules.requests();
            let drafts = w.schedules.get_untracked();
            let job_id = saved_id.get_untracked();
            let Some(team_id) = w.team.get_untracked() else {
                return;
            };
            form.start();
            let name = w.name.get_untracked().trim().to_owned();
            let description = w.description.get_untracked().trim().to_owned();
            let navigate = navigate.clone();
            spawn_local(async move {
                let result = match job_id {
                    None => {
                        api::create_job(&CreateJobRequest {
                            name,
                            description,
                            labels: Vec::new(),
                            team_id,
                            enabled: true,
                            settings,
                        })
                        .await
                    }
                    Some(id) => {
                        api::update_job(
                            id,
                            &UpdateJobRequest {
                                name: Some(name),
                                description: Some(description),
                                labels: None,
                                enabled: None,
                                settings: Some(settings),
                            },
                        )
                        .await
                    }
                };
                match result {
                    Ok(job) => {
                        saved_id.set(Some(job.id));
                        if let Err(errors) =
                            save_rules(RulesOwner::Job(job.id), w.rules, rule_rows).await
                        {
                            w.step.set(4);
                            form.invalid(errors);
                            form.problem
                                .set(Some(crate::forms::Problem::Key(Key::RulesSaveProblem)));
                            return;
                        }
                        // A schedule refused after the job exists keeps the analyst here,
                        // on step 4 with the error beside the schedule's field, rather than
                        // on the job page: what they typed is still in the form to correct,
                        // the notice says the job is saved (with a link to it), and the
                        // next save changes that job and posts only the schedules not saved
                        // yet, so nothing is created twice. On the job page they would have
                        // to type the schedule again from a message.
                        match save_schedules(job.id, &drafts).await {
                            Ok(()) => {
                                form.done();
                                navigate(&format!("/jobs/{}", job.id), Default::default());
                            }
                            Err(failure) => {
                                w.step.set(4);
                                form.invalid(failure.errors.clone());
                                schedule_problem.set(Some((job.id, job.name.clone(), failure)));
                            }
                        }
                    }
                    Err(e) => {
                        // Send the user to the step where the first field at fault is.
                        let first = e.body().and_then(|b| {
                            b.fields
                                .first()
                                .map(|f| f.field.clone())
                                .or_else(|| b.field.clone())
                        });
                        if let Some(field) = first {
                            w.step.set(step_of(&field));
                        }
                        form.fail(e);
                    }
                }
            });
        }
    };

    let title = move || {
        if saved_id.get().is_some() {
            fill(lang.get(), Key::EditJobTitle, &[("name", &w.name.get())])
        } else {
            Key::NewJob.text(lang.get()).to_owned()
        }
    };

    view! {
        <div class="page wizard">
            <header class="page-header">
                <p class="breadcrumb"><A href="/jobs">{tr(Key::NavJobs)}</A></p>
                <h1>{title}</h1>
            </header>
            <nav aria-label=move || Key::WizardSteps.text(lang.get())>
                <ol class="steps">
                    {STEPS
                        .iter()
                        .enumerate()
                        .map(|(i, key)| {
                            let n = i + 1;
                            view! {
                                <li class=move || {
                                    if w.step.get() == n { "current" } else if w.step.get() > n { "done" } else { "" }
                                }>
                                    <button
                                        type="button"
                                        class="step-button"
                                        disabled=move || { n > w.reached.get() }
                                        aria-current=move || (w.step.get() == n).then_some("step")
                                        on:click=move |_| go(n)
                                    >
                                        <span class="step-number">{n}</span>
                                        " "
                                        {tr(*key)}
                                    </button>
                                </li>
                            }
                        })
                        .collect_view()}
                </ol>
            </nav>
            <section class="panel">
                <h2 id="wizard-step-heading" tabindex="-1">
                    {move || fill(lang.get(), Key::StepOf, &[("n", &w.step.get().to_string()), ("step", STEPS[w.step.get() - 1].text(lang.get()))])}
                </h2>
                {move || match w.step.get() {
                    1 => view! { <SourceStep w form conns/> }.into_any(),
                    2 => view! { <ColumnsStep w form conns/> }.into_any(),
                    3 => view! { <DestinationStep w form conns/> }.into_any(),
                    4 => view! { <RunSettingsStep w form conns/> }.into_any(),
                    _ => view! { <ReviewStep w form conns teams=editable/> }.into_any(),
                }}
                {move || schedule_problem.get().map(|(id, name, failure)| view! {
                    <div class="form-problem" role="alert" data-testid="schedule-save-problem">
                        <p>{move || fill(lang.get(), Key::ScheduleSaveFailed, &[
                            ("name", &name),
                            ("n", &(failure.index + 1).to_string()),
                            ("reason", translate(lang.get(), None, &failure.reason).trim_end_matches('.')),
                        ])}</p>
                        <p><A href=format!("/jobs/{id}")>{tr(Key::OpenSavedJob)}</A></p>
                    </div>
                })}
                <FormProblem form/>
                <div class="button-row wizard-buttons">
                    <Show when=move || { w.step.get() > 1 }>
                        <button type="button" on:click=move |_| go(w.step.get_untracked() - 1)>{tr(Key::Back)}</button>
                    </Show>
                    {move || if w.step.get() < 5 {
                        view! {
                            <button type="button" class="primary" on:click=move |_| go(w.step.get_untracked() + 1)>{tr(Key::Next)}</button>
                        }
                        .into_any()
                    } else {
                        let save = save.clone();
                        view! {
                            <button type="button" class="primary" disabled=move || form.busy.get() on:click=save>
                                {move || if form.busy.get() { tr(Key::Working)() } else { tr(Key::SaveJob)() }}
                            </button>
                        }
                        .into_any()
                    }}
                </div>
            </section>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_lead_to_their_step() {
        assert_eq!(step_of("settings.source.table.name"), 1);
        assert_eq!(step_of("source.query"), 1);
        assert_eq!(step_of("settings.columns[0].to"), 2);
        assert_eq!(step_of("settings.masks[1].column"), 2);
        assert_eq!(step_of("settings.destination.merge_keys"), 3);
        assert_eq!(step_of("settings.retry.count"), 4);
        assert_eq!(step_of("name"), 5);
        assert_eq!(step_of("team_id"), 5);
        assert_eq!(step_of("schedules[0].settings.recurrence.time"), 4);
    }
}
