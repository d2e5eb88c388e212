//! A workflow, new (`/workflows/new`) or changed (`/workflows/:id/edit`): name,
//! description, team, parallelism, what a schedule's fire time does while a run is going
//! (`overlap`: allow or skip), its variables (the job wizard's editor, texts and times
//! only), and its tasks: each a kind (run a job, wait, notify;
//! one match arm per kind, so a new kind adds its own fields), the tasks it runs after
//! (checkboxes of the other tasks: each is an arrow of the graph), when it runs
//! (`run_if`), retries and timeout. The graph is drawn again as the form changes, and the
//! server's field errors (`spec.tasks[2].after[0]`) land beside the task's field.

use crate::api;
use crate::components::{
    FieldError as FieldMessage, FormProblem, LoadError, Loading, NotAllowed, RowError, Submit,
    TextField,
};
use crate::forms::Form;
use crate::i18n::{Key, fill, tr, use_lang};
use crate::session::{editable_teams, use_session};
use crate::widgets::variables::{VariableList, VariablesEditor};
use crate::widgets::workflow_graph::{WorkflowGraph, run_if_key};
use hakobu_core::api::jobs::JobView;
use hakobu_core::api::notifications::DestinationView;
use hakobu_core::api::org::TeamView;
use hakobu_core::api::workflows::{SaveWorkflowRequest, WorkflowView};
use hakobu_core::authz::TeamRole;
use hakobu_core::authz::{Action, Target};
use hakobu_core::ids::{DestinationId, JobId, TeamId, WorkflowId};
use hakobu_core::job::OverlapPolicy;
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::FieldErrors;
use hakobu_core::workflow::{RunIf, TaskAction, TaskSpec, WorkflowSpec};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use std::sync::atomic::{AtomicU64, Ordering};

#[component]
pub fn WorkflowEditorPage() -> impl IntoView {
    crate::components::page_title(Key::NewWorkflow);
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<WorkflowId>().ok()));
    let loaded = LocalResource::new(move || {
        let id = id();
        async move {
            let workflow = match id {
                Some(id) => Some(api::workflow(id).await?),
                None => None,
            };
            // Destinations are listed for organization admins only; others pick none.
            let destinations = api::destinations().await.unwrap_or_default();
            Ok::<_, api::ApiError>((
                api::teams().await?,
                api::jobs().await?,
                destinations,
                workflow,
            ))
        }
    });
    move || match loaded.get() {
        None => view! { <div class="page"><Loading/></div> }.into_any(),
        Some(Err(e)) => {
            view! { <div class="page"><LoadError error=e retry=move || loaded.refetch()/></div> }
                .into_any()
        }
        // The same policy the server applies: editors of the workflow's team change it,
        // editors of some team create one.
        Some(Ok((teams, jobs, destinations, workflow))) if !may_edit(&teams, workflow.as_ref()) => {
            let _ = (jobs, destinations);
            view! { <div class="page"><NotAllowed reason=Key::OnlyEditorsChangeWorkflows/></div> }
                .into_any()
        }
        Some(Ok((teams, jobs, destinations, workflow))) => {
            view! { <WorkflowForm teams jobs destinations workflow/> }.into_any()
        }
    }
}

/// Whether the signed-in user may save this workflow (or a new one, in some team).
fn may_edit(teams: &[TeamView], workflow: Option<&WorkflowView>) -> bool {
    match workflow {
        Some(w) => use_session().can(
            Action::EditResource,
            Target::Resource {
                owner: w.team_id,
                shares: &[],
            },
        ),
        None => !editable_teams(teams).is_empty(),
    }
}

/// What kind of task a row is. One variant per kind of [`TaskAction`] the editor edits;
/// `Kept` is a kind it does not edit yet, kept as saved (`TaskRow::kept`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Job,
    Wait,
    Notify,
    Kept,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Job, Kind::Wait, Kind::Notify];

    fn of(action: &TaskAction) -> Kind {
        match action {
            TaskAction::Job { .. } => Kind::Job,
            TaskAction::Wait { .. } => Kind::Wait,
            TaskAction::Notify { .. } => Kind::Notify,
            TaskAction::WaitUntil { .. }
            | TaskAction::Workflow { .. }
            | TaskAction::Check { .. }
            | TaskAction::Http { .. } => Kind::Kept,
        }
    }

    fn key(self) -> Key {
        match self {
            Kind::Job => Key::TaskKindJob,
            Kind::Wait => Key::TaskKindWait,
            Kind::Notify => Key::TaskKindNotify,
            Kind::Kept => Key::TaskKeptAsSaved,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Kind::Job => "job",
            Kind::Wait => "wait",
            Kind::Notify => "notify",
            Kind::Kept => "kept",
        }
    }
}

static NEXT_ROW: AtomicU64 = AtomicU64::new(1);

/// One task as the form holds it. `after` names other rows by their `key`, so renaming a
/// task keeps the arrows to it.
#[derive(Debug, Clone, Copy)]
struct TaskRow {
    key: u64,
    name: RwSignal<String>,
    kind: RwSignal<Kind>,
    job: RwSignal<Option<JobId>>,
    seconds: RwSignal<String>,
    destination: RwSignal<Option<DestinationId>>,
    message: RwSignal<String>,
    after: RwSignal<Vec<u64>>,
    run_if: RwSignal<RunIf>,
    retries: RwSignal<String>,
    timeout: RwSignal<String>,
    /// A task of a kind the editor does not edit, as saved.
    kept: RwSignal<Option<TaskAction>>,
    /// `retry_delay_seconds` as saved (not edited here yet).
    retry_delay: RwSignal<Option<u32>>,
}

impl TaskRow {
    fn new(name: String) -> Self {
        TaskRow {
            key: NEXT_ROW.fetch_add(1, Ordering::Relaxed),
            name: RwSignal::new(name),
            kind: RwSignal::new(Kind::Job),
            job: RwSignal::new(None),
            seconds: RwSignal::new("60".to_owned()),
            destination: RwSignal::new(None),
            message: RwSignal::new(String::new()),
            after: RwSignal::new(Vec::new()),
            run_if: RwSignal::new(RunIf::Success),
            retries: RwSignal::new(String::new()),
            timeout: RwSignal::new(String::new()),
            kept: RwSignal::new(None),
            retry_delay: RwSignal::new(None),
        }
    }

    /// Rows for a saved spec (the `after` keys resolved once every row exists).
    fn from_spec(spec: &WorkflowSpec) -> Vec<TaskRow> {
        let rows: Vec<TaskRow> = spec
            .tasks
            .iter()
            .map(|t| {
                let row = TaskRow::new(t.name.clone());
                row.kind.set(Kind::of(&t.action));
                match &t.action {
                    TaskAction::Job { job_id } => row.job.set(Some(*job_id)),
                    TaskAction::Wait { seconds } => row.seconds.set(seconds.to_string()),
                    TaskAction::Notify {
                        destination_id,
                        message,
                    } => {
                        row.destination.set(Some(*destination_id));
                        row.message.set(message.clone());
                    }
                    TaskAction::WaitUntil { .. }
                    | TaskAction::Workflow { .. }
                    | TaskAction::Check { .. }
                    | TaskAction::Http { .. } => {
                        row.kept.set(Some(t.action.clone()));
                    }
                }
                row.retry_delay.set(t.retry_delay_seconds);
                row.run_if.set(t.run_if);
                row.retries
                    .set(t.retries.map(|r| r.to_string()).unwrap_or_default());
                row.timeout
                    .set(t.timeout_minutes.map(|m| m.to_string()).unwrap_or_default());
                row
            })
            .collect();
        for (row, task) in rows.iter().zip(&spec.tasks) {
            let keys = task
                .after
                .iter()
                .filter_map(|name| {
                    spec.tasks
                        .iter()
                        .position(|t| &t.name == name)
                        .map(|i| rows[i].key)
                })
                .collect();
            row.after.set(keys);
        }
        rows
    }
}

/// A number typed in a row: empty is `None`; anything else must be a whole number,
/// otherwise an error at `field`.
fn number(text: &str, field: String, errors: &mut FieldErrors) -> Option<u32> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<u32>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(field, "must be a whole number");
            None
        }
    }
}

/// The spec the rows describe. Missing or unreadable values are reported in `errors`
/// at the field paths the server uses; the preview ignores them.
fn spec_of(rows: &[TaskRow], parallelism: &str, errors: &mut FieldErrors) -> WorkflowSpec {
    let names: Vec<(u64, String)> = rows
        .iter()
        .map(|r| (r.key, r.name.get().trim().to_owned()))
        .collect();
    let tasks = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let action = match r.kind.get() {
                Kind::Job => {
                    let job_id = r.job.get().unwrap_or_else(|| {
                        errors.push_message(
                            format!("spec.tasks[{i}].action.job_id"),
                            MessageCode::Required,
                        );
                        JobId::default()
                    });
                    TaskAction::Job { job_id }
                }
                Kind::Wait => TaskAction::Wait {
                    seconds: number(
                        &r.seconds.get(),
                        format!("spec.tasks[{i}].action.seconds"),
                        errors,
                    )
                    .unwrap_or(0),
                },
                Kind::Notify => TaskAction::Notify {
                    destination_id: r.destination.get().unwrap_or_else(|| {
                        errors.push_message(
                            format!("spec.tasks[{i}].action.destination_id"),
                            MessageCode::Required,
                        );
                        DestinationId::default()
                    }),
                    message: r.message.get(),
                },
                Kind::Kept => r.kept.get().unwrap_or(TaskAction::Wait { seconds: 0 }),
            };
            let after = r
                .after
                .get()
                .iter()
                .filter_map(|k| names.iter().find(|(key, _)| key == k))
                .map(|(_, n)| n.clone())
                .collect();
            TaskSpec {
                name: names[i].1.clone(),
                action,
                after,
                run_if: r.run_if.get(),
                retries: number(&r.retries.get(), format!("spec.tasks[{i}].retries"), errors),
                timeout_minutes: number(
                    &r.timeout.get(),
                    format!("spec.tasks[{i}].timeout_minutes"),
                    errors,
                ),
                retry_delay_seconds: r.retry_delay.get(),
            }
        })
        .collect();
    WorkflowSpec {
        parallelism: number(parallelism, "spec.parallelism".to_owned(), errors).unwrap_or(0),
        tasks,
        overlap: hakobu_core::job::OverlapPolicy::Allow,
        variables: Vec::new(),
    }
}

#[component]
fn WorkflowForm(
    teams: Vec<TeamView>,
    jobs: Vec<JobView>,
    destinations: Vec<DestinationView>,
    workflow: Option<WorkflowView>,
) -> impl IntoView {
    let navigate = use_navigate();
    let lang = use_lang();
    let form = Form::new("workflow", &["name", "description", "team_id", "spec"]);
    let editable = editable_teams(&teams);
    let editing = workflow.as_ref().map(|w| w.id);
    let overlap = RwSignal::new(
        workflow
            .as_ref()
            .map(|w| w.spec.overlap)
            .unwrap_or(OverlapPolicy::Allow),
    );
    let variables = VariableList::new("spec.variables", false);
    if let Some(w) = &workflow {
        variables.load(&w.spec.variables);
    }
    let name = RwSignal::new(
        workflow
            .as_ref()
            .map(|w| w.name.clone())
            .unwrap_or_default(),
    );
    let description = RwSignal::new(
        workflow
            .as_ref()
            .map(|w| w.description.clone())
            .unwrap_or_default(),
    );
    let team = RwSignal::new(
        workflow
            .as_ref()
            .map(|w| w.team_id)
            .or_else(|| editable.first().map(|t| t.id)),
    );
    let parallelism = RwSignal::new(
        workflow
            .as_ref()
            .map(|w| w.spec.parallelism)
            .unwrap_or(4)
            .to_string(),
    );
    let rows = RwSignal::new(match &workflow {
        Some(w) => TaskRow::from_spec(&w.spec),
        None => vec![TaskRow::new("load".to_owned())],
    });
    // Jobs the user may run (operator or more, shares included): a workflow may run
    // only those, and the server says so too.
    let runnable: Vec<(JobId, String)> = jobs
        .iter()
        .filter(|j| j.your_role >= TeamRole::Operator)
        .map(|j| (j.id, j.name.clone()))
        .collect();
    let runnable = StoredValue::new(runnable);
    let destinations: Vec<(DestinationId, String)> =
        destinations.into_iter().map(|d| (d.id, d.name)).collect();
    let destinations = StoredValue::new(destinations);

    let preview = Signal::derive(move || {
        let mut ignored = FieldErrors::default();
        rows.with(|r| spec_of(r, "4", &mut ignored)).tasks
    });

    let add = move |_| {
        let n = rows.with_untracked(Vec::len) + 1;
        let row = TaskRow::new(format!("task {n}"));
        // A new task runs after the last one by default: the common chain.
        if let Some(last) = rows.with_untracked(|r| r.last().map(|l| l.key)) {
            row.after.set(vec![last]);
        }
        rows.update(|r| r.push(row));
    };

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let mut errors = FieldErrors::default();
        let Some(team_id) = team.get_untracked() else {
            errors.push_message("team_id", MessageCode::Required);
            form.invalid(errors);
            return;
        };
        let mut spec =
            rows.with_untracked(|r| spec_of(r, &parallelism.get_untracked(), &mut errors));
        spec.overlap = overlap.get_untracked();
        spec.variables = variables.definitions(&mut errors);
        let request = SaveWorkflowRequest {
            name: name.get_untracked().trim().to_owned(),
            description: description.get_untracked(),
            team_id,
            spec,
        };
        if let Err(more) = request.validate() {
            errors.0.extend(more.0);
        }
        if !errors.is_empty() {
            form.invalid(errors);
            return;
        }
        form.start();
        let navigate = navigate.clone();
        spawn_local(async move {
            let answer = match editing {
                Some(id) => api::update_workflow(id, &request).await,
                None => api::create_workflow(&request).await,
            };
            match answer {
                Ok(w) => {
                    form.done();
                    navigate(&format!("/workflows/{}", w.id), Default::default());
                }
                Err(e) => form.fail(e),
            }
        });
    };

    let team_id = form.input_id("team_id");
    let parallelism_id = form.input_id("spec.parallelism");
    let task_list = move || {
        let all = rows.get();
        all.iter()
            .enumerate()
            .map(|(i, &row)| task_fields(form, rows, row, i, runnable, destinations))
            .collect_view()
    };
    view! {
        <div class="page">
            <header class="page-header">
                <p class="breadcrumb"><A href="/workflows">{tr(Key::NavWorkflows)}</A></p>
                <h1>{tr(if editing.is_some() { Key::EditWorkflow } else { Key::NewWorkflow })}</h1>
                <p class="lead">{tr(Key::WorkflowEditorLead)}</p>
            </header>
            <form class="panel" on:submit=submit novalidate=true data-testid="workflow-form">
                <TextField form field="name" label=Key::WorkflowName value=name autocomplete="off" required=true/>
                <TextField form field="description" label=Key::Description value=description autocomplete="off"/>
                <div class="field">
                    <label for=team_id.clone()>{tr(Key::OwnerTeam)}</label>
                    <select id=team_id disabled=editing.is_some() on:change=move |ev| team.set(event_target_value(&ev).parse::<TeamId>().ok())>
                        {editable.into_iter().map(|t| {
                            let id = t.id;
                            view! { <option value=id.to_string() selected=move || team.get() == Some(id)>{t.name}</option> }
                        }).collect_view()}
                    </select>
                    <FieldMessage form field="team_id" label=Key::OwnerTeam error_id="workflow-team-error".to_owned()/>
                </div>
                <div class="field" class:invalid=move || form.error("spec.parallelism").is_some()>
                    <label for=parallelism_id.clone()>{tr(Key::WorkflowParallelism)}</label>
                    <input id=parallelism_id type="number" min="1" max="50" data-testid="workflow-parallelism"
                        prop:value=move || parallelism.get() on:input=move |ev| parallelism.set(event_target_value(&ev))/>
                    <p class="hint">{tr(Key::WorkflowParallelismHint)}</p>
                    <RowError form path="spec.parallelism".to_owned() label=Key::WorkflowParallelism/>
                </div>
                <fieldset class="choices" data-testid="workflow-overlap">
                    <legend>{tr(Key::Overlap)}</legend>
                    {[(OverlapPolicy::Allow, Key::OverlapAllow), (OverlapPolicy::Skip, Key::OverlapSkip)].into_iter().map(|(policy, label)| {
                        let id = format!("workflow-overlap-{policy:?}").to_lowercase();
                        view! {
                            <div class="choice">
                                <input type="radio" name="workflow-overlap" id=id.clone() value=format!("{policy:?}").to_lowercase()
                                    prop:checked=move || overlap.get() == policy on:change=move |_| overlap.set(policy)/>
                                <label for=id>{tr(label)}</label>
                            </div>
                        }
                    }).collect_view()}
                    <p class="hint">{tr(Key::WorkflowOverlapHint)}</p>
                    <RowError form path="spec.overlap".to_owned() label=Key::Overlap/>
                </fieldset>
                <div data-testid="workflow-variables">
                    <VariablesEditor list=variables form/>
                </div>
                <h2>{tr(Key::WorkflowTasks)}</h2>
                {move || form.error("spec.tasks").filter(|e| e.field == "spec.tasks").map(|e| {
                    let text = crate::i18n::translate(lang.get(), None, &e.text());
                    view! { <p class="field-error" role="alert">{text}</p> }
                })}
                <ol class="wf-task-list">{task_list}</ol>
                <div class="button-row">
                    <button type="button" data-testid="workflow-add-task" on:click=add>{tr(Key::AddTask)}</button>
                </div>
                <h2>{tr(Key::WorkflowGraph)}</h2>
                <p class="hint">{tr(Key::WorkflowPreviewHint)}</p>
                <WorkflowGraph tasks=preview/>
                <FormProblem form/>
                <Submit form label=if editing.is_some() { Key::SaveWorkflow } else { Key::CreateWorkflow }/>
            </form>
        </div>
    }
}

/// The fields of task `i`.
fn task_fields(
    form: Form,
    rows: RwSignal<Vec<TaskRow>>,
    row: TaskRow,
    i: usize,
    runnable: StoredValue<Vec<(JobId, String)>>,
    destinations: StoredValue<Vec<(DestinationId, String)>>,
) -> impl IntoView {
    let lang = use_lang();
    let p = move |field: &str| format!("spec.tasks[{i}].{field}");
    let kind_id = form.input_id(&p("kind"));
    let job_id = form.input_id(&p("action.job_id"));
    let run_if_id = form.input_id(&p("run_if"));
    let remove = move |_| {
        rows.update(|r| r.retain(|x| x.key != row.key));
        // Arrows to the removed task go with it.
        rows.with_untracked(|r| {
            for other in r {
                other.after.update(|a| a.retain(|k| *k != row.key));
            }
        });
    };
    let kind_fields = move || {
        match row.kind.get() {
        Kind::Job => {
            let job_id = job_id.clone();
            view! {
                <div class="field" class:invalid=move || form.error(&p("action.job_id")).is_some()>
                    <label for=job_id.clone()>{tr(Key::Job)}</label>
                    <select id=job_id data-testid="task-job" on:change=move |ev| row.job.set(event_target_value(&ev).parse::<JobId>().ok())>
                        <option value="" selected=move || row.job.get().is_none()>{tr(Key::PickAJob)}</option>
                        {runnable.get_value().into_iter().map(|(id, name)| view! {
                            <option value=id.to_string() selected=move || row.job.get() == Some(id)>{name}</option>
                        }).collect_view()}
                    </select>
                    <p class="hint">{tr(Key::TaskJobHint)}</p>
                    <RowError form path=p("action.job_id") label=Key::Job/>
                </div>
            }
            .into_any()
        }
        Kind::Wait => view! {
            <div class="field" class:invalid=move || form.error(&p("action.seconds")).is_some()>
                <label>{tr(Key::TaskWaitSeconds)}
                    <input type="number" id=form.input_id(&p("action.seconds")) min="1" data-testid="task-seconds" prop:value=move || row.seconds.get() on:input=move |ev| row.seconds.set(event_target_value(&ev))/>
                </label>
                <RowError form path=p("action.seconds") label=Key::TaskWaitSeconds/>
            </div>
        }
        .into_any(),
        Kind::Kept => view! {
            <p class="hint">
                <strong>{move || row.kept.get().map(|a| tr(crate::widgets::workflow_graph::task_kind_key(&a))())}</strong>
                " "
                {tr(Key::TaskKeptAsSaved)}
            </p>
        }
        .into_any(),
        Kind::Notify => view! {
            <div class="field" class:invalid=move || form.error(&p("action.destination_id")).is_some()>
                <label>{tr(Key::TaskDestination)}
                    <select id=form.input_id(&p("action.destination_id")) data-testid="task-destination" on:change=move |ev| row.destination.set(event_target_value(&ev).parse::<DestinationId>().ok())>
                        <option value="" selected=move || row.destination.get().is_none()>{tr(Key::PickADestination)}</option>
                        {destinations.get_value().into_iter().map(|(id, name)| view! {
                            <option value=id.to_string() selected=move || row.destination.get() == Some(id)>{name}</option>
                        }).collect_view()}
                    </select>
                </label>
                <RowError form path=p("action.destination_id") label=Key::TaskDestination/>
            </div>
            <div class="field">
                <label>{tr(Key::TaskMessage)}
                    <textarea id=form.input_id(&p("action.message")) rows="2" prop:value=move || row.message.get() on:input=move |ev| row.message.set(event_target_value(&ev))></textarea>
                </label>
                <RowError form path=p("action.message") label=Key::TaskMessage/>
            </div>
        }
        .into_any(),
    }
    };
    // Every other task, as a checkbox: checked means this task runs after it.
    let after_boxes = move || {
        rows.get()
            .into_iter()
            .filter(|other| other.key != row.key)
            .map(|other| {
                let checked = move || row.after.with(|a| a.contains(&other.key));
                view! {
                    <label class="checkbox-inline">
                        <input type="checkbox" data-testid="task-after" data-after=move || other.name.get()
                            prop:checked=checked
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                row.after.update(|a| {
                                    a.retain(|k| *k != other.key);
                                    if on {
                                        a.push(other.key);
                                    }
                                });
                            }/>
                        " " {move || other.name.get()}
                    </label>
                }
            })
            .collect_view()
    };
    let legend = move || fill(lang.get(), Key::TaskNumber, &[("n", &(i + 1).to_string())]);
    view! {
        <li class="wf-task" data-testid="workflow-task" data-index=i>
            <fieldset>
                <legend>{legend}</legend>
                <div class="field" class:invalid=move || form.error(&p("name")).is_some()>
                    <label>{tr(Key::TaskName)}
                        <input type="text" id=form.input_id(&p("name")) autocomplete="off" data-testid="task-name" prop:value=move || row.name.get()
                            on:input=move |ev| row.name.set(event_target_value(&ev))/>
                    </label>
                    <RowError form path=p("name") label=Key::TaskName/>
                </div>
                <div class="field">
                    <label for=kind_id.clone()>{tr(Key::TaskKind)}</label>
                    <select id=kind_id data-testid="task-kind" on:change=move |ev| {
                        let code = event_target_value(&ev);
                        if let Some(k) = Kind::ALL.into_iter().find(|k| k.code() == code) {
                            row.kind.set(k);
                        }
                    }>
                        {Kind::ALL.into_iter().map(|k| view! {
                            <option value=k.code() selected=move || row.kind.get() == k>{tr(k.key())}</option>
                        }).collect_view()}
                    </select>
                </div>
                {kind_fields}
                <fieldset class="field" class:invalid=move || form.error(&p("after")).is_some()>
                    <legend>{tr(Key::TaskAfter)}</legend>
                    <div class="checkbox-row">{after_boxes}</div>
                    <p class="hint">{tr(Key::TaskAfterHint)}</p>
                    <RowError form path=p("after") label=Key::TaskAfter/>
                </fieldset>
                <div class="field" class:invalid=move || form.error(&p("run_if")).is_some()>
                    <label for=run_if_id.clone()>{tr(Key::TaskRunIf)}</label>
                    <select id=run_if_id data-testid="task-run-if" on:change=move |ev| {
                        let v = event_target_value(&ev);
                        row.run_if.set(match v.as_str() { "failure" => RunIf::Failure, "always" => RunIf::Always, _ => RunIf::Success });
                    }>
                        {[(RunIf::Success, "success"), (RunIf::Failure, "failure"), (RunIf::Always, "always")].into_iter().map(|(r, code)| view! {
                            <option value=code selected=move || row.run_if.get() == r>{tr(run_if_key(r))}</option>
                        }).collect_view()}
                    </select>
                    <RowError form path=p("run_if") label=Key::TaskRunIf/>
                </div>
                <div class="field" class:invalid=move || form.error(&p("retries")).is_some()>
                    <label>{tr(Key::TaskRetries)}
                        <input type="number" id=form.input_id(&p("retries")) min="0" max="10" prop:value=move || row.retries.get() on:input=move |ev| row.retries.set(event_target_value(&ev))/>
                    </label>
                    <p class="hint">{tr(Key::TaskRetriesHint)}</p>
                    <RowError form path=p("retries") label=Key::TaskRetries/>
                </div>
                <div class="field" class:invalid=move || form.error(&p("timeout_minutes")).is_some()>
                    <label>{tr(Key::TaskTimeout)}
                        <input type="number" id=form.input_id(&p("timeout_minutes")) min="1" prop:value=move || row.timeout.get() on:input=move |ev| row.timeout.set(event_target_value(&ev))/>
                    </label>
                    <p class="hint">{tr(Key::TaskTimeoutHint)}</p>
                    <RowError form path=p("timeout_minutes") label=Key::TaskTimeout/>
                </div>
                <button type="button" class="danger" data-testid="task-remove" on:click=remove>{tr(Key::RemoveTask)}</button>
            </fieldset>
        </li>
    }
}
