//! Workflows: the list (`/workflows`: name, team, how the last run went) and one
//! workflow's page (`/workflows/:id`): its graph, its tasks with their `after` and
//! `run_if`, its variables, its schedules and notification rules (the job page's panels),
//! its runs with their states and durations, "Run now" (with an optional "as of"), and
//! edit and delete for those the policy allows.

use crate::api;
use crate::components::{
    ActionErrorNotice, ConfirmButton, Empty, FieldError, FormProblem, LoadError, Loading, Submit,
    Time,
};
use crate::format;
use crate::forms::Form;
use crate::i18n::{Key, fill, tr, use_lang};
use crate::session::{can_create_resources, use_session};
use crate::widgets::notification_rules::{RulesOwner, RulesPanel};
use crate::widgets::runs::duration_text;
use crate::widgets::schedule_form::{ScheduleTarget, SchedulesPanel};
use crate::widgets::workflow_graph::{
    WorkflowGraph, WorkflowStatusBadge, run_if_key, task_kind_key,
};
use hakobu_core::api::jobs::JobView;
use hakobu_core::api::workflows::{StartWorkflowRunRequest, WorkflowRunView, WorkflowView};
use hakobu_core::authz::{Action, Target};
use hakobu_core::ids::{JobId, WorkflowId};
use hakobu_core::job::OverlapPolicy;
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::FieldErrors;
use hakobu_core::variables::VariableValue;
use hakobu_core::workflow::TaskAction;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

/// Seconds a workflow run took, or has taken so far.
pub fn run_seconds(run: &WorkflowRunView) -> f64 {
    let end = run.ended_at.unwrap_or_else(chrono::Utc::now);
    ((end - run.created_at).num_milliseconds() as f64 / 1000.0).max(0.0)
}

// --- the list ---------------------------------------------------------------------------

#[component]
pub fn WorkflowsPage() -> impl IntoView {
    crate::components::page_title(Key::NavWorkflows);
    let loaded = LocalResource::new(|| async {
        Ok::<_, api::ApiError>((api::workflows().await?, api::teams().await?))
    });
    let can_create = can_create_resources();
    let list = move || {
        match loaded.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || loaded.refetch()/> }.into_any(),
        Some(Ok((workflows, _))) if workflows.is_empty() => {
            view! { <Empty title=Key::NoWorkflowsTitle body=Key::NoWorkflowsBody/> }.into_any()
        }
        Some(Ok((workflows, teams))) => view! {
            <div class="table-wrap">
                <table data-testid="workflows-table">
                    <thead>
                        <tr>
                            <th scope="col">{tr(Key::Name)}</th>
                            <th scope="col">{tr(Key::OwnerTeam)}</th>
                            <th scope="col">{tr(Key::WorkflowTasks)}</th>
                            <th scope="col">{tr(Key::WorkflowLastRun)}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {workflows.into_iter().map(|w| {
                            let team = teams.iter().find(|t| t.id == w.team_id).map(|t| t.name.clone()).unwrap_or_default();
                            let count = w.spec.tasks.len();
                            view! {
                                <tr data-testid="workflow-row">
                                    <td><A href=format!("/workflows/{}", w.id)>{w.name.clone()}</A></td>
                                    <td>{team}</td>
                                    <td>{count}</td>
                                    <td><LastRun workflow=w.id/></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any(),
    }
    };
    view! {
        <div class="page">
            <header class="page-header">
                <h1>{tr(Key::NavWorkflows)}</h1>
                <p class="lead">{tr(Key::WorkflowsLead)}</p>
                <Show when=move || can_create.get()>
                    <A href="/workflows/new" attr:class="button primary">{tr(Key::NewWorkflow)}</A>
                </Show>
            </header>
            <section class="panel">{list}</section>
        </div>
    }
}

/// How the workflow's latest run went, linked to it.
#[component]
fn LastRun(workflow: WorkflowId) -> impl IntoView {
    let runs = LocalResource::new(move || api::workflow_runs(workflow, 1));
    move || {
        match runs.get() {
        Some(Ok(runs)) => match runs.into_iter().next() {
            Some(r) => view! {
                <A href=format!("/workflow-runs/{}", r.id)><WorkflowStatusBadge status=r.status/></A>
                " " <Time at=r.created_at/>
            }
            .into_any(),
            None => view! { <span class="muted">{tr(Key::NeverRun)}</span> }.into_any(),
        },
        _ => view! { <span class="muted">"…"</span> }.into_any(),
    }
    }
}

// --- one workflow -----------------------------------------------------------------------

#[component]
pub fn WorkflowPage() -> impl IntoView {
    crate::components::page_title(Key::Workflow);
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<WorkflowId>().ok()));
    let loaded = LocalResource::new(move || {
        let id = id();
        async move {
            let Some(id) = id else {
                return Err(api::ApiError::Network("not a workflow id".to_owned()));
            };
            Ok::<_, api::ApiError>((api::workflow(id).await?, api::jobs().await?))
        }
    });
    move || match loaded.get() {
        None => view! { <div class="page"><Loading/></div> }.into_any(),
        Some(Err(e)) => {
            view! { <div class="page"><LoadError error=e retry=move || loaded.refetch()/></div> }
                .into_any()
        }
        Some(Ok((workflow, jobs))) => view! { <WorkflowView workflow jobs/> }.into_any(),
    }
}

/// A job's name for a task, or its id when the caller cannot see the job.
pub fn job_name(jobs: &[JobView], id: JobId) -> String {
    jobs.iter()
        .find(|j| j.id == id)
        .map(|j| j.name.clone())
        .unwrap_or_else(|| id.to_string())
}

#[component]
fn WorkflowView(workflow: WorkflowView, jobs: Vec<JobView>) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let lang = use_lang();
    let id = workflow.id;
    let team = workflow.team_id;
    let target = Target::Resource {
        owner: team,
        shares: &[],
    };
    let can_edit = session.can_memo(Action::EditResource, target);
    let can_run = session.can_memo(Action::UseResource, target);
    let action_error = RwSignal::new(None::<api::ApiError>);
    let runs = LocalResource::new(move || api::workflow_runs(id, 100));
    let tasks = Signal::stored(workflow.spec.tasks.clone());
    let name = workflow.name.clone();
    let parallelism = workflow.spec.parallelism;
    let delete = {
        let navigate = navigate.clone();
        move |()| {
            let navigate = navigate.clone();
            spawn_local(async move {
                match api::delete_workflow(id).await {
                    Ok(()) => navigate("/workflows", Default::default()),
                    Err(e) => action_error.set(Some(e)),
                }
            });
        }
    };
    let question = {
        let name = name.clone();
        Signal::derive(move || fill(lang.get(), Key::DeleteWorkflowQuestion, &[("name", &name)]))
    };
    let task_rows = workflow
        .spec
        .tasks
        .iter()
        .map(|t| {
            let what = match &t.action {
                TaskAction::Job { job_id } => {
                    let name = job_name(&jobs, *job_id);
                    view! { <A href=format!("/jobs/{job_id}")>{name}</A> }.into_any()
                }
                TaskAction::Wait { seconds } => {
                    let seconds = *seconds as f64;
                    view! { <span>{move || duration_text(lang.get(), seconds)}</span> }.into_any()
                }
                TaskAction::Notify { message, .. } => {
                    view! { <span>{message.clone()}</span> }.into_any()
                }
                TaskAction::WaitUntil { time, time_zone } => {
                    view! { <span>{format!("{time} {time_zone}")}</span> }.into_any()
                }
                TaskAction::Workflow { workflow_id } => {
                    let id = workflow_id.to_string();
                    view! { <A href=format!("/workflows/{id}")>{id.clone()}</A> }.into_any()
                }
                TaskAction::Check {
                    sql,
                    operator,
                    expected,
                    ..
                } => view! { <code>{format!("{sql} {operator} {expected}")}</code> }.into_any(),
                TaskAction::Http { method, url, .. } => {
                    view! { <code>{format!("{} {url}", method.as_str())}</code> }.into_any()
                }
            };
            let after = if t.after.is_empty() {
                "—".to_owned()
            } else {
                t.after.join(", ")
            };
            let retries = t
                .retries
                .map(|r| r.to_string())
                .unwrap_or_else(|| "—".into());
            let timeout = t
                .timeout_minutes
                .map(|m| m.to_string())
                .unwrap_or_else(|| "—".into());
            view! {
                <tr data-testid="workflow-task-row" data-task=t.name.clone()>
                    <td>{t.name.clone()}</td>
                    <td>{tr(task_kind_key(&t.action))}</td>
                    <td>{what}</td>
                    <td>{after}</td>
                    <td>{tr(run_if_key(t.run_if))}</td>
                    <td>{retries}</td>
                    <td>{timeout}</td>
                </tr>
            }
        })
        .collect_view();
    let run_list = move || match runs.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || runs.refetch()/> }.into_any(),
        Some(Ok(list)) if list.is_empty() => {
            view! { <p class="muted">{tr(Key::NoWorkflowRuns)}</p> }.into_any()
        }
        Some(Ok(list)) => view! { <WorkflowRunsTable runs=list/> }.into_any(),
    };
    let show_run = RwSignal::new(false);
    let overlap = workflow.spec.overlap;
    let overlap_note = Signal::derive(move || {
        let key = if overlap == OverlapPolicy::Skip {
            Key::WorkflowOverlapSkipNote
        } else {
            Key::WorkflowOverlapAllowNote
        };
        key.text(lang.get()).to_owned()
    });
    let rules = LocalResource::new(move || api::workflow_rules(id));
    let variable_rows = workflow
        .spec
        .variables
        .iter()
        .map(|v| {
            let value = match &v.value {
                VariableValue::String { value } => value.clone(),
                VariableValue::Timestamp { format, timezone, .. } => {
                    format!("{format} ({timezone})")
                }
                VariableValue::Query { sql, .. } => sql.clone(),
            };
            view! { <li data-testid="workflow-variable"><code>{format!("${}$", v.name)}</code> " = " {value}</li> }
        })
        .collect_view();
    let has_variables = !workflow.spec.variables.is_empty();
    view! {
        <div class="page">
            <header class="page-header">
                <p class="breadcrumb"><A href="/workflows">{tr(Key::NavWorkflows)}</A></p>
                <h1 data-testid="workflow-name">{name.clone()}</h1>
                {(!workflow.description.is_empty()).then(|| view! { <p class="lead">{workflow.description.clone()}</p> })}
                <p class="hint">{move || fill(lang.get(), Key::WorkflowParallelismIs, &[("n", &parallelism.to_string())])}</p>
                <div class="button-row">
                    <Show when=move || can_run.get()>
                        <button type="button" class="primary" data-testid="workflow-run-now"
                            on:click=move |_| show_run.update(|s| *s = !*s)>{tr(Key::RunNow)}</button>
                    </Show>
                    <Show when=move || can_edit.get()>
                        <A href=format!("/workflows/{id}/edit") attr:class="button" attr:data-testid="workflow-edit">{tr(Key::EditWorkflow)}</A>
                        <ConfirmButton label=Key::Delete question confirm=Key::Delete on_confirm=delete.clone()/>
                    </Show>
                </div>
            </header>
            <ActionErrorNotice action_error/>
            <Show when=move || show_run.get() && can_run.get()>
                <RunWorkflowPanel workflow=id on_close=move |()| show_run.set(false)/>
            </Show>
            <section class="panel">
                <h2>{tr(Key::WorkflowGraph)}</h2>
                <WorkflowGraph tasks/>
            </section>
            <section class="panel">
                <h2>{tr(Key::WorkflowTasks)}</h2>
                <div class="table-wrap">
                    <table data-testid="workflow-tasks">
                        <thead>
                            <tr>
                                <th scope="col">{tr(Key::TaskName)}</th>
                                <th scope="col">{tr(Key::TaskKind)}</th>
                                <th scope="col">{tr(Key::TaskWhat)}</th>
                                <th scope="col">{tr(Key::TaskAfter)}</th>
                                <th scope="col">{tr(Key::TaskRunIf)}</th>
                                <th scope="col">{tr(Key::TaskRetries)}</th>
                                <th scope="col">{tr(Key::TaskTimeout)}</th>
                            </tr>
                        </thead>
                        <tbody>{task_rows}</tbody>
                    </table>
                </div>
            </section>
            {has_variables.then(|| view! {
                <section class="panel">
                    <h2>{tr(Key::Variables)}</h2>
                    <ul class="plain-list">{variable_rows}</ul>
                </section>
            })}
            <SchedulesPanel target=ScheduleTarget::Workflow(id) can_edit=can_edit.get_untracked() note=overlap_note/>
            <RulesPanel owner=RulesOwner::Workflow(id) can_edit=can_edit.get_untracked() rules/>
            <section class="panel">
                <h2>{tr(Key::WorkflowRuns)}</h2>
                {run_list}
            </section>
        </div>
    }
}

/// "Run now" with an optional "as of", passed to every job run of the workflow.
#[component]
fn RunWorkflowPanel(workflow: WorkflowId, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let navigate = use_navigate();
    let form = Form::new("workflow-run", &["as_of"]);
    let as_of = RwSignal::new(String::new());
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let typed = as_of.get_untracked();
        let at = if typed.trim().is_empty() {
            None
        } else {
            match format::local_input_to_rfc3339(&typed)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            {
                Some(t) => Some(t.with_timezone(&chrono::Utc)),
                None => {
                    let mut errors = FieldErrors::default();
                    errors.push_message("as_of", MessageCode::DateTime);
                    form.invalid(errors);
                    return;
                }
            }
        };
        form.start();
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::start_workflow_run(workflow, &StartWorkflowRunRequest { as_of: at }).await {
                Ok(run) => {
                    form.done();
                    navigate(&format!("/workflow-runs/{}", run.id), Default::default());
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let as_of_id = form.input_id("as_of");
    view! {
        <section class="panel dialog" aria-labelledby="workflow-run-title" data-testid="workflow-run-options">
            <h2 id="workflow-run-title">{tr(Key::RunNow)}</h2>
            <form on:submit=submit novalidate=true>
                <div class="field" class:invalid=move || form.error("as_of").is_some()>
                    <label for=as_of_id.clone()>{tr(Key::AsOf)}</label>
                    <input id=as_of_id type="datetime-local" aria-describedby="workflow-run-as_of-hint workflow-run-as_of-error"
                        aria-invalid=move || form.error("as_of").is_some().to_string()
                        prop:value=move || as_of.get() on:input=move |ev| as_of.set(event_target_value(&ev))/>
                    <p class="hint" id="workflow-run-as_of-hint">{tr(Key::WorkflowAsOfHint)}</p>
                    <FieldError form field="as_of" label=Key::AsOf error_id="workflow-run-as_of-error".to_owned()/>
                </div>
                <FormProblem form/>
                <div class="button-row">
                    <Submit form label=Key::StartRun/>
                    <button type="button" on:click=move |_| on_close.run(())>{tr(Key::Close)}</button>
                </div>
            </form>
        </section>
    }
}

/// A workflow's runs, newest first: state, when, how long, and why it failed.
#[component]
fn WorkflowRunsTable(runs: Vec<WorkflowRunView>) -> impl IntoView {
    let lang = use_lang();
    view! {
        <div class="table-wrap">
            <table data-testid="workflow-runs">
                <thead>
                    <tr>
                        <th scope="col">{tr(Key::Run)}</th>
                        <th scope="col">{tr(Key::Status)}</th>
                        <th scope="col">{tr(Key::Started)}</th>
                        <th scope="col">{tr(Key::Duration)}</th>
                        <th scope="col">{tr(Key::WorkflowAttempt)}</th>
                        <th scope="col">{tr(Key::RunError)}</th>
                    </tr>
                </thead>
                <tbody>
                    {runs.into_iter().map(|r| {
                        let seconds = run_seconds(&r);
                        let short = r.id.to_string().chars().take(8).collect::<String>();
                        view! {
                            <tr data-testid="workflow-run-row" data-status=r.status.as_str()>
                                <td><A href=format!("/workflow-runs/{}", r.id)><code>{short}</code></A></td>
                                <td><WorkflowStatusBadge status=r.status/></td>
                                <td><Time at=r.created_at/></td>
                                <td>{move || duration_text(lang.get(), seconds)}</td>
                                <td>{r.attempt}</td>
                                <td>{r.error.clone().unwrap_or_default()}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}
