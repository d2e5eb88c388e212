//! One workflow run (`/workflow-runs/:id`): the graph with each task's state (colour, word
//! and legend), re-read every 2 seconds while the run is going and no more once it ended;
//! each task's job run linked; the run's error; and "Cancel" (running), "Resume from
//! failed" (failed or cancelled: only the failed part runs again) and "Re-run all" (a new
//! run of the workflow) for those who may run it.

use crate::api;
use crate::components::{ActionErrorNotice, LoadError, Loading, MaybeTime, Time};
use crate::i18n::{Key, tr, use_lang};
use crate::pages::workflows::{job_name, run_seconds};
use crate::session::use_session;
use crate::widgets::runs::duration_text;
use crate::widgets::workflow_graph::{WorkflowGraph, WorkflowStatusBadge, task_state_key};
use hakobu_core::api::jobs::JobView;
use hakobu_core::api::workflows::{StartWorkflowRunRequest, WorkflowRunView, WorkflowView};
use hakobu_core::authz::{Action, Target};
use hakobu_core::ids::WorkflowRunId;
use hakobu_core::workflow::{TaskAction, WorkflowRunStatus};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

/// How often a running workflow run is read again.
const POLL_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

#[component]
pub fn WorkflowRunPage() -> impl IntoView {
    crate::components::page_title(Key::WorkflowRun);
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<WorkflowRunId>().ok()));
    let loaded = LocalResource::new(move || {
        let id = id();
        async move {
            let Some(id) = id else {
                return Err(api::ApiError::Network("not a workflow run id".to_owned()));
            };
            let run = api::workflow_run(id).await?;
            let workflow = api::workflow(run.workflow_id).await?;
            Ok::<_, api::ApiError>((run, workflow, api::jobs().await?))
        }
    });
    move || match loaded.get() {
        None => view! { <div class="page"><Loading/></div> }.into_any(),
        Some(Err(e)) => {
            view! { <div class="page"><LoadError error=e retry=move || loaded.refetch()/></div> }
                .into_any()
        }
        Some(Ok((run, workflow, jobs))) => {
            view! { <RunView initial=run workflow jobs/> }.into_any()
        }
    }
}

#[component]
fn RunView(initial: WorkflowRunView, workflow: WorkflowView, jobs: Vec<JobView>) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let lang = use_lang();
    let id = initial.id;
    let workflow_id = workflow.id;
    let run = RwSignal::new(initial);
    let action_error = RwSignal::new(None::<api::ApiError>);
    let busy = RwSignal::new(false);
    let can_run = session.can_memo(
        Action::UseResource,
        Target::Resource {
            owner: workflow.team_id,
            shares: &[],
        },
    );
    let status = Memo::new(move |_| run.with(|r| r.status));

    // Poll while the run is going; the interval stops once it has ended (and when the
    // page is left). A resume makes it running again, which starts polling again.
    let handle = StoredValue::new(None::<IntervalHandle>);
    // `try_`: the page may be gone (its values disposed) when this runs at cleanup.
    let stop = move || {
        if let Some(Some(h)) = handle.try_update_value(Option::take) {
            h.clear();
        }
    };
    Effect::new(move |_| {
        if status.get() == WorkflowRunStatus::Running {
            if handle.with_value(Option::is_none)
                && let Ok(h) = set_interval_with_handle(
                    move || {
                        spawn_local(async move {
                            // The answer may come after the page was left.
                            if let Ok(r) = api::workflow_run(id).await
                                && run.try_with_untracked(|old| *old != r) == Some(true)
                            {
                                run.try_set(r);
                            }
                        });
                    },
                    POLL_EVERY,
                )
            {
                handle.set_value(Some(h));
            }
        } else {
            stop();
        }
    });
    on_cleanup(stop);

    let cancel = move |_| {
        busy.set(true);
        spawn_local(async move {
            match api::cancel_workflow_run(id).await {
                Ok(r) => run.set(r),
                Err(e) => action_error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let resume = move |_| {
        busy.set(true);
        spawn_local(async move {
            match api::resume_workflow_run(id).await {
                Ok(r) => run.set(r),
                Err(e) => action_error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let rerun = move |_| {
        let navigate = navigate.clone();
        busy.set(true);
        spawn_local(async move {
            match api::start_workflow_run(workflow_id, &StartWorkflowRunRequest::default()).await {
                Ok(r) => navigate(&format!("/workflow-runs/{}", r.id), Default::default()),
                Err(e) => action_error.set(Some(e)),
            }
            busy.set(false);
        });
    };

    let tasks = Signal::derive(move || run.with(|r| r.spec.tasks.clone()));
    let states = Signal::derive(move || run.with(|r| r.tasks.clone()));
    let jobs = StoredValue::new(jobs);
    let rows = move || {
        let lang = lang.get();
        run.with(|r| {
            r.tasks
                .iter()
                .map(|t| {
                    let spec = r.spec.task(&t.name);
                    let job = match spec.map(|s| &s.action) {
                        Some(TaskAction::Job { job_id }) => {
                            Some(jobs.with_value(|j| job_name(j, *job_id)))
                        }
                        _ => None,
                    };
                    let job_run = t.run_id.map(|run_id| {
                        let short = run_id.to_string().chars().take(8).collect::<String>();
                        view! { <A href=format!("/runs/{run_id}") attr:data-testid="task-job-run"><code>{short}</code></A> }
                    });
                    let seconds = t.started_at.map(|s| {
                        let end = t.ended_at.unwrap_or_else(chrono::Utc::now);
                        ((end - s).num_milliseconds() as f64 / 1000.0).max(0.0)
                    });
                    view! {
                        <tr data-testid="task-run-row" data-task=t.name.clone() data-state=t.state.as_str()>
                            <td>{t.name.clone()}</td>
                            <td><span class=format!("task-state wf-state-{}", t.state.as_str())>{task_state_key(t.state, t.skipped_for_failure).text(lang)}</span></td>
                            <td>{job}</td>
                            <td>{job_run}</td>
                            <td>{t.starts}</td>
                            <td>{seconds.map(|s| duration_text(lang, s)).unwrap_or_else(|| "—".to_owned())}</td>
                            <td>{t.message.clone().unwrap_or_default()}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };
    let name = workflow.name.clone();
    view! {
        <div class="page">
            <header class="page-header">
                <p class="breadcrumb">
                    <A href="/workflows">{tr(Key::NavWorkflows)}</A>
                    " / "
                    <A href=format!("/workflows/{workflow_id}")>{name}</A>
                </p>
                <h1>{tr(Key::WorkflowRun)} " " <code>{id.to_string().chars().take(8).collect::<String>()}</code></h1>
                <p data-testid="workflow-run-status">
                    {move || view! { <WorkflowStatusBadge status=status.get()/> }}
                    " "
                    {move || run.with(|r| if r.attempt > 1 { format!("· {} {}", Key::WorkflowAttempt.text(lang.get()), r.attempt) } else { String::new() })}
                </p>
                <dl class="facts">
                    <dt>{tr(Key::Started)}</dt><dd>{move || run.with(|r| view! { <Time at=r.created_at/> })}</dd>
                    <dt>{tr(Key::Finished)}</dt><dd>{move || run.with(|r| view! { <MaybeTime at=r.ended_at none=Key::NotYet/> })}</dd>
                    <dt>{tr(Key::Duration)}</dt><dd>{move || run.with(|r| duration_text(lang.get(), run_seconds(r)))}</dd>
                </dl>
                {move || can_run.get().then(|| {
                    let rerun = rerun.clone();
                    view! {
                    <div class="button-row">
                        <Show when=move || status.get() == WorkflowRunStatus::Running>
                            <button type="button" class="danger" data-testid="workflow-run-cancel" disabled=move || busy.get() on:click=cancel>{tr(Key::Cancel)}</button>
                        </Show>
                        <Show when=move || matches!(status.get(), WorkflowRunStatus::Failed | WorkflowRunStatus::Cancelled)>
                            <button type="button" class="primary" data-testid="workflow-run-resume" disabled=move || busy.get() on:click=resume>{tr(Key::ResumeFromFailed)}</button>
                        </Show>
                        <Show when=move || status.get() != WorkflowRunStatus::Running>
                            <button type="button" data-testid="workflow-run-rerun" disabled=move || busy.get() on:click=rerun.clone()>{tr(Key::RerunAll)}</button>
                        </Show>
                    </div>
                    }
                })}
            </header>
            <ActionErrorNotice action_error/>
            {move || run.with(|r| r.error.clone()).map(|e| view! {
                <div class="form-problem" role="alert" data-testid="workflow-run-error"><strong>{tr(Key::RunError)}</strong>" " {e}</div>
            })}
            <section class="panel">
                <h2>{tr(Key::WorkflowGraph)}</h2>
                <WorkflowGraph tasks states/>
            </section>
            <section class="panel">
                <h2>{tr(Key::WorkflowTasks)}</h2>
                <div class="table-wrap">
                    <table data-testid="task-runs">
                        <thead>
                            <tr>
                                <th scope="col">{tr(Key::TaskName)}</th>
                                <th scope="col">{tr(Key::Status)}</th>
                                <th scope="col">{tr(Key::Job)}</th>
                                <th scope="col">{tr(Key::TaskJobRun)}</th>
                                <th scope="col">{tr(Key::TaskStarts)}</th>
                                <th scope="col">{tr(Key::Duration)}</th>
                                <th scope="col">{tr(Key::TaskMessage)}</th>
                            </tr>
                        </thead>
                        <tbody aria-live="polite">{rows}</tbody>
                    </table>
                </div>
            </section>
        </div>
    }
}
