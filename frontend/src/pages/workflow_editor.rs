//! A workflow, new (`/workflows/new`) or changed (`/workflows/:id/edit`): name,
//! description, team, parallelism, what a schedule's fire time does while a run is going
//! (`overlap`: allow or skip), its variables (the job wizard's editor, texts and times
//! only), and its tasks: each a kind (run a job, wait, wait until a time of day, run
//! another workflow, notify, data check, HTTP request; one match arm per kind, so a new
//! kind adds its own fields), the tasks it runs after (checkboxes of the other tasks:
//! each is an arrow of the graph), when it runs (`run_if`), retries, retry delay and
//! timeout. The graph is drawn again as the form changes, and the
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
use hakobu_core::api::connections::ConnectionView;
use hakobu_core::api::jobs::JobView;
use hakobu_core::api::notifications::DestinationView;
use hakobu_core::api::org::TeamView;
use hakobu_core::api::workflows::{SaveWorkflowRequest, WorkflowView};
use hakobu_core::authz::TeamRole;
use hakobu_core::authz::{Action, Target};
use hakobu_core::http::HttpHeader;
use hakobu_core::ids::{ConnectionId, DestinationId, JobId, TeamId, WorkflowId};
use hakobu_core::job::OverlapPolicy;
use hakobu_core::job::checks::CheckOperator;
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::FieldErrors;
use hakobu_core::workflow::{HttpMethod, RunIf, TaskAction, TaskSpec, WorkflowSpec};
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
            let lists = Lists {
                jobs: api::jobs().await?,
                destinations,
                connections: api::connections().await?,
                workflows: api::workflows().await?,
            };
            Ok::<_, api::ApiError>((api::teams().await?, lists, workflow))
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
        Some(Ok((teams, _, workflow))) if !may_edit(&teams, workflow.as_ref()) => {
            view! { <div class="page"><NotAllowed reason=Key::OnlyEditorsChangeWorkflows/></div> }
                .into_any()
        }
        Some(Ok((teams, lists, workflow))) => {
            view! { <WorkflowForm teams lists workflow/> }.into_any()
        }
    }
}

/// What the tasks' selects offer.
#[derive(Debug, Clone)]
struct Lists {
    jobs: Vec<JobView>,
    destinations: Vec<DestinationView>,
    connections: Vec<ConnectionView>,
    workflows: Vec<WorkflowView>,
}

/// The names a task's selects offer, by kind of thing.
#[derive(Debug, Clone, Copy)]
struct Choices {
    runnable: StoredValue<Vec<(JobId, String)>>,
    destinations: StoredValue<Vec<(DestinationId, String)>>,
    connections: StoredValue<Vec<(ConnectionId, String)>>,
    workflows: StoredValue<Vec<(WorkflowId, String)>>,
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

/// What kind of task a row is: one variant per kind of [`TaskAction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Job,
    Wait,
    WaitUntil,
    Workflow,
    Notify,
    Check,
    Http,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Job,
        Kind::Wait,
        Kind::WaitUntil,
        Kind::Workflow,
        Kind::Notify,
        Kind::Check,
        Kind::Http,
    ];

    fn of(action: &TaskAction) -> Kind {
        match action {
            TaskAction::Job { .. } => Kind::Job,
            TaskAction::Wait { .. } => Kind::Wait,
            TaskAction::WaitUntil { .. } => Kind::WaitUntil,
            TaskAction::Workflow { .. } => Kind::Workflow,
            TaskAction::Notify { .. } => Kind::Notify,
            TaskAction::Check { .. } => Kind::Check,
            TaskAction::Http { .. } => Kind::Http,
        }
    }

    fn key(self) -> Key {
        match self {
            Kind::Job => Key::TaskKindJob,
            Kind::Wait => Key::TaskKindWait,
            Kind::WaitUntil => Key::TaskKindWaitUntil,
            Kind::Workflow => Key::TaskKindWorkflow,
            Kind::Notify => Key::TaskKindNotify,
            Kind::Check => Key::TaskKindCheck,
            Kind::Http => Key::TaskKindHttp,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Kind::Job => "job",
            Kind::Wait => "wait",
            Kind::WaitUntil => "wait_until",
            Kind::Workflow => "workflow",
            Kind::Notify => "notify",
            Kind::Check => "check",
            Kind::Http => "http",
        }
    }
}

/// The comparisons of a check task, in the order the select offers them.
const OPERATORS: [CheckOperator; 6] = [
    CheckOperator::Eq,
    CheckOperator::Ne,
    CheckOperator::Lt,
    CheckOperator::Le,
    CheckOperator::Gt,
    CheckOperator::Ge,
];

/// The methods of an HTTP task, in the order the select offers them.
const METHODS: [HttpMethod; 5] = [
    HttpMethod::Get,
    HttpMethod::Post,
    HttpMethod::Put,
    HttpMethod::Patch,
    HttpMethod::Delete,
];

/// One header of an HTTP task as the form holds it. A saved secret header comes back
/// without its value (`stored`): left empty, it is sent without one, which keeps the
/// stored value.
#[derive(Debug, Clone, Copy)]
struct HeaderRow {
    key: u64,
    name: RwSignal<String>,
    value: RwSignal<String>,
    secret: RwSignal<bool>,
    stored: bool,
}

impl HeaderRow {
    fn new() -> Self {
        HeaderRow {
            key: NEXT_ROW.fetch_add(1, Ordering::Relaxed),
            name: RwSignal::new(String::new()),
            value: RwSignal::new(String::new()),
            secret: RwSignal::new(false),
            stored: false,
        }
    }

    fn from_saved(h: &HttpHeader) -> Self {
        let row = HeaderRow::new();
        row.name.set(h.name.clone());
        row.value.set(h.value.clone().unwrap_or_default());
        row.secret.set(h.secret);
        HeaderRow {
            stored: h.secret,
            ..row
        }
    }

    /// The header to send: an empty secret value goes without one (the stored one
    /// stays; a new secret header without a value gets the server's error).
    fn header(&self) -> HttpHeader {
        let value = self.value.get();
        let secret = self.secret.get();
        HttpHeader {
            name: self.name.get().trim().to_owned(),
            value: (!(secret && value.is_empty())).then_some(value),
            secret,
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
    /// `wait_until`: `HH:MM` and the time zone.
    time: RwSignal<String>,
    time_zone: RwSignal<String>,
    workflow: RwSignal<Option<WorkflowId>>,
    /// `check`: the connection, query, comparison and expected value.
    connection: RwSignal<Option<ConnectionId>>,
    sql: RwSignal<String>,
    operator: RwSignal<CheckOperator>,
    expected: RwSignal<String>,
    null_passes: RwSignal<bool>,
    /// `http`: the request and the status that counts as success.
    method: RwSignal<HttpMethod>,
    url: RwSignal<String>,
    headers: RwSignal<Vec<HeaderRow>>,
    body: RwSignal<String>,
    expect_status: RwSignal<String>,
    after: RwSignal<Vec<u64>>,
    run_if: RwSignal<RunIf>,
    retries: RwSignal<String>,
    timeout: RwSignal<String>,
    retry_delay: RwSignal<String>,
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
            time: RwSignal::new("09:00".to_owned()),
            time_zone: RwSignal::new("UTC".to_owned()),
            workflow: RwSignal::new(None),
            connection: RwSignal::new(None),
            sql: RwSignal::new(String::new()),
            operator: RwSignal::new(CheckOperator::Eq),
            expected: RwSignal::new(String::new()),
            null_passes: RwSignal::new(false),
            method: RwSignal::new(HttpMethod::Post),
            url: RwSignal::new(String::new()),
            headers: RwSignal::new(Vec::new()),
            body: RwSignal::new(String::new()),
            expect_status: RwSignal::new(String::new()),
            after: RwSignal::new(Vec::new()),
            run_if: RwSignal::new(RunIf::Success),
            retries: RwSignal::new(String::new()),
            timeout: RwSignal::new(String::new()),
            retry_delay: RwSignal::new(String::new()),
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
                    TaskAction::WaitUntil { time, time_zone } => {
                        row.time.set(time.clone());
                        row.time_zone.set(time_zone.clone());
                    }
                    TaskAction::Workflow { workflow_id } => row.workflow.set(Some(*workflow_id)),
                    TaskAction::Check {
                        connection_id,
                        sql,
                        operator,
                        expected,
                        null_passes,
                    } => {
                        row.connection.set(Some(*connection_id));
                        row.sql.set(sql.clone());
                        row.operator.set(*operator);
                        row.expected.set(expected.clone());
                        row.null_passes.set(*null_passes);
                    }
                    TaskAction::Http {
                        method,
                        url,
                        headers,
                        body,
                        expect_status,
                    } => {
                        row.method.set(*method);
                        row.url.set(url.clone());
                        row.headers
                            .set(headers.iter().map(HeaderRow::from_saved).collect());
                        row.body.set(body.clone());
                        row.expect_status
                            .set(expect_status.map(|s| s.to_string()).unwrap_or_default());
                    }
                }
                row.retry_delay.set(
                    t.retry_delay_seconds
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                );
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
                Kind::WaitUntil => TaskAction::WaitUntil {
                    time: r.time.get().trim().to_owned(),
                    time_zone: r.time_zone.get().trim().to_owned(),
                },
                Kind::Workflow => TaskAction::Workflow {
                    workflow_id: r.workflow.get().unwrap_or_else(|| {
                        errors.push_message(
                            format!("spec.tasks[{i}].action.workflow_id"),
                            MessageCode::Required,
                        );
                        WorkflowId::default()
                    }),
                },
                Kind::Check => TaskAction::Check {
                    connection_id: r.connection.get().unwrap_or_else(|| {
                        errors.push_message(
                            format!("spec.tasks[{i}].action.connection_id"),
                            MessageCode::Required,
                        );
                        ConnectionId::default()
                    }),
                    sql: r.sql.get(),
                    operator: r.operator.get(),
                    expected: r.expected.get().trim().to_owned(),
                    null_passes: r.null_passes.get(),
                },
                Kind::Http => {
                    let field = format!("spec.tasks[{i}].action.expect_status");
                    let expect_status = number(&r.expect_status.get(), field.clone(), errors)
                        .and_then(|n| match u16::try_from(n) {
                            Ok(n) => Some(n),
                            Err(_) => {
                                errors.push(field, "must be a status from 100 to 599");
                                None
                            }
                        });
                    TaskAction::Http {
                        method: r.method.get(),
                        url: r.url.get().trim().to_owned(),
                        headers: r
                            .headers
                            .with(|h| h.iter().map(HeaderRow::header).collect()),
                        body: r.body.get(),
                        expect_status,
                    }
                }
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
                retry_delay_seconds: number(
                    &r.retry_delay.get(),
                    format!("spec.tasks[{i}].retry_delay_seconds"),
                    errors,
                ),
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
    lists: Lists,
    workflow: Option<WorkflowView>,
) -> impl IntoView {
    let Lists {
        jobs,
        destinations,
        connections,
        workflows,
    } = lists;
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
    // The server checks that the workflow's team may use the connection, when saved and
    // again at each run; the select offers the ones a check task can run on: databases
    // and data warehouses, as for a job's data checks.
    let connections: Vec<(ConnectionId, String)> = connections
        .into_iter()
        .filter(|c| c.kind.runs_data_checks())
        .map(|c| (c.id, c.name))
        .collect();
    // Another workflow: the one edited cannot run itself.
    let workflows: Vec<(WorkflowId, String)> = workflows
        .into_iter()
        .filter(|w| Some(w.id) != editing)
        .map(|w| (w.id, w.name))
        .collect();
    let choices = Choices {
        runnable,
        destinations,
        connections: StoredValue::new(connections),
        workflows: StoredValue::new(workflows),
    };

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
            .map(|(i, &row)| task_fields(form, rows, row, i, choices))
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
    choices: Choices,
) -> impl IntoView {
    let Choices {
        runnable,
        destinations,
        connections,
        workflows,
    } = choices;
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
        Kind::WaitUntil => view! {
            <div class="field" class:invalid=move || form.error(&p("action.time")).is_some()>
                <label>{tr(Key::TaskWaitUntilTime)}
                    <input type="time" id=form.input_id(&p("action.time")) data-testid="task-time" prop:value=move || row.time.get() on:input=move |ev| row.time.set(event_target_value(&ev))/>
                </label>
                <RowError form path=p("action.time") label=Key::TaskWaitUntilTime/>
            </div>
            <div class="field" class:invalid=move || form.error(&p("action.time_zone")).is_some()>
                <label>{tr(Key::TaskTimeZone)}
                    <input type="text" id=form.input_id(&p("action.time_zone")) autocomplete="off" data-testid="task-time-zone" prop:value=move || row.time_zone.get() on:input=move |ev| row.time_zone.set(event_target_value(&ev))/>
                </label>
                <p class="hint">{tr(Key::TaskTimeZoneHint)}</p>
                <RowError form path=p("action.time_zone") label=Key::TaskTimeZone/>
            </div>
        }
        .into_any(),
        Kind::Workflow => view! {
            <div class="field" class:invalid=move || form.error(&p("action.workflow_id")).is_some()>
                <label>{tr(Key::TaskWorkflow)}
                    <select id=form.input_id(&p("action.workflow_id")) data-testid="task-workflow" on:change=move |ev| row.workflow.set(event_target_value(&ev).parse::<WorkflowId>().ok())>
                        <option value="" selected=move || row.workflow.get().is_none()>{tr(Key::PickAWorkflow)}</option>
                        {workflows.get_value().into_iter().map(|(id, name)| view! {
                            <option value=id.to_string() selected=move || row.workflow.get() == Some(id)>{name}</option>
                        }).collect_view()}
                    </select>
                </label>
                <p class="hint">{tr(Key::TaskWorkflowHint)}</p>
                <RowError form path=p("action.workflow_id") label=Key::TaskWorkflow/>
            </div>
        }
        .into_any(),
        Kind::Check => view! {
            <div class="field" class:invalid=move || form.error(&p("action.connection_id")).is_some()>
                <label>{tr(Key::CheckConnection)}
                    <select id=form.input_id(&p("action.connection_id")) data-testid="task-connection" on:change=move |ev| row.connection.set(event_target_value(&ev).parse::<ConnectionId>().ok())>
                        <option value="" selected=move || row.connection.get().is_none()>{tr(Key::PickAConnection)}</option>
                        {connections.get_value().into_iter().map(|(id, name)| view! {
                            <option value=id.to_string() selected=move || row.connection.get() == Some(id)>{name}</option>
                        }).collect_view()}
                    </select>
                </label>
                <RowError form path=p("action.connection_id") label=Key::CheckConnection/>
            </div>
            <div class="field" class:invalid=move || form.error(&p("action.sql")).is_some()>
                <label>{tr(Key::CheckSql)}
                    <textarea id=form.input_id(&p("action.sql")) rows="3" class="code" data-testid="task-sql" prop:value=move || row.sql.get() on:input=move |ev| row.sql.set(event_target_value(&ev))></textarea>
                </label>
                <RowError form path=p("action.sql") label=Key::CheckSql/>
            </div>
            <div class="field" class:invalid=move || form.error(&p("action.operator")).is_some()>
                <label>{tr(Key::CheckOperatorLabel)}
                    <select id=form.input_id(&p("action.operator")) data-testid="task-operator" on:change=move |ev| {
                        let v = event_target_value(&ev);
                        if let Some(op) = OPERATORS.into_iter().find(|o| o.as_str() == v) {
                            row.operator.set(op);
                        }
                    }>
                        {OPERATORS.into_iter().map(|op| view! {
                            <option value=op.as_str() selected=move || row.operator.get() == op>{op.as_str()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <RowError form path=p("action.operator") label=Key::CheckOperatorLabel/>
            </div>
            <div class="field" class:invalid=move || form.error(&p("action.expected")).is_some()>
                <label>{tr(Key::CheckExpected)}
                    <input type="text" id=form.input_id(&p("action.expected")) autocomplete="off" data-testid="task-expected" prop:value=move || row.expected.get() on:input=move |ev| row.expected.set(event_target_value(&ev))/>
                </label>
                <RowError form path=p("action.expected") label=Key::CheckExpected/>
            </div>
            <div class="field checkbox-field">
                <label class="checkbox-inline">
                    <input type="checkbox" id=form.input_id(&p("action.null_passes")) data-testid="task-null-passes" prop:checked=move || row.null_passes.get() on:change=move |ev| row.null_passes.set(event_target_checked(&ev))/>
                    " " {tr(Key::CheckNullPasses)}
                </label>
            </div>
        }
        .into_any(),
        Kind::Http => view! {
            <div class="field" class:invalid=move || form.error(&p("action.method")).is_some()>
                <label>{tr(Key::TaskHttpMethod)}
                    <select id=form.input_id(&p("action.method")) data-testid="task-method" on:change=move |ev| {
                        let v = event_target_value(&ev);
                        if let Some(m) = METHODS.into_iter().find(|m| m.as_str() == v) {
                            row.method.set(m);
                        }
                    }>
                        {METHODS.into_iter().map(|m| view! {
                            <option value=m.as_str() selected=move || row.method.get() == m>{m.as_str()}</option>
                        }).collect_view()}
                    </select>
                </label>
                <RowError form path=p("action.method") label=Key::TaskHttpMethod/>
            </div>
            <div class="field" class:invalid=move || form.error(&p("action.url")).is_some()>
                <label>{tr(Key::TaskHttpUrl)}
                    <input type="url" id=form.input_id(&p("action.url")) autocomplete="off" placeholder="https://" data-testid="task-url" prop:value=move || row.url.get() on:input=move |ev| row.url.set(event_target_value(&ev))/>
                </label>
                <p class="hint">{tr(Key::TaskHttpUrlHint)}</p>
                <RowError form path=p("action.url") label=Key::TaskHttpUrl/>
            </div>
            <fieldset class="field" class:invalid=move || form.error(&p("action.headers")).is_some()>
                <legend>{tr(Key::WebhookHeaders)}</legend>
                <p class="hint">{tr(Key::WebhookHeadersHint)}</p>
                {move || row.headers.get().into_iter().enumerate().map(|(j, h)| header_fields(form, row, h, format!("spec.tasks[{i}].action.headers[{j}]"))).collect_view()}
                <RowError form path=p("action.headers") label=Key::WebhookHeaders/>
                <button type="button" data-testid="task-add-header" on:click=move |_| row.headers.update(|h| h.push(HeaderRow::new()))>{tr(Key::AddHeader)}</button>
            </fieldset>
            <div class="field" class:invalid=move || form.error(&p("action.body")).is_some()>
                <label>{tr(Key::TaskHttpBody)}
                    <textarea id=form.input_id(&p("action.body")) rows="3" class="code" data-testid="task-body" prop:value=move || row.body.get() on:input=move |ev| row.body.set(event_target_value(&ev))></textarea>
                </label>
                <RowError form path=p("action.body") label=Key::TaskHttpBody/>
            </div>
            <div class="field" class:invalid=move || form.error(&p("action.expect_status")).is_some()>
                <label>{tr(Key::TaskHttpExpectStatus)}
                    <input type="number" id=form.input_id(&p("action.expect_status")) min="100" max="599" data-testid="task-expect-status" prop:value=move || row.expect_status.get() on:input=move |ev| row.expect_status.set(event_target_value(&ev))/>
                </label>
                <p class="hint">{tr(Key::TaskHttpExpectStatusHint)}</p>
                <RowError form path=p("action.expect_status") label=Key::TaskHttpExpectStatus/>
            </div>
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
                <div class="field" class:invalid=move || form.error(&p("retry_delay_seconds")).is_some()>
                    <label>{tr(Key::TaskRetryDelay)}
                        <input type="number" id=form.input_id(&p("retry_delay_seconds")) min="1" max="86400" data-testid="task-retry-delay" prop:value=move || row.retry_delay.get() on:input=move |ev| row.retry_delay.set(event_target_value(&ev))/>
                    </label>
                    <p class="hint">{tr(Key::TaskRetryDelayHint)}</p>
                    <RowError form path=p("retry_delay_seconds") label=Key::TaskRetryDelay/>
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

/// One header of an HTTP task: name, value (a password input when secret), the secret
/// checkbox and a remove button. `path` is the header's place in the request
/// (`spec.tasks[0].action.headers[1]`), where the server's errors land.
fn header_fields(form: Form, row: TaskRow, h: HeaderRow, path: String) -> impl IntoView {
    let lang = use_lang();
    let name_path = format!("{path}.name");
    let value_path = format!("{path}.value");
    let secret_id = form.input_id(&format!("{path}.secret"));
    let name_id = form.input_id(&name_path);
    let value_id = form.input_id(&value_path);
    let name_invalid = {
        let f = name_path.clone();
        move || form.error(&f).is_some()
    };
    let value_invalid = {
        let f = value_path.clone();
        move || form.error(&f).is_some()
    };
    view! {
        <div class="header-row" data-testid="task-header">
            <div class="field" class:invalid=name_invalid>
                <label>{tr(Key::HeaderName)}
                    <input type="text" id=name_id autocomplete="off" placeholder="Authorization" data-testid="task-header-name"
                        prop:value=move || h.name.get() on:input=move |ev| h.name.set(event_target_value(&ev))/>
                </label>
                <RowError form path=name_path label=Key::HeaderName/>
            </div>
            <div class="field" class:invalid=value_invalid>
                <label>{tr(Key::HeaderValue)}
                    <input id=value_id autocomplete="off" data-testid="task-header-value"
                        type=move || if h.secret.get() { "password" } else { "text" }
                        placeholder=move || (h.stored && h.secret.get()).then(|| Key::StoredKeep.text(lang.get()))
                        prop:value=move || h.value.get() on:input=move |ev| h.value.set(event_target_value(&ev))/>
                </label>
                <RowError form path=value_path label=Key::HeaderValue/>
            </div>
            <div class="field checkbox-field">
                <input id=secret_id.clone() type="checkbox" data-testid="task-header-secret"
                    prop:checked=move || h.secret.get() on:change=move |ev| h.secret.set(event_target_checked(&ev))/>
                <label for=secret_id>{tr(Key::HeaderSecret)}</label>
            </div>
            <button type="button" class="link-button" data-testid="task-header-remove"
                on:click=move |_| row.headers.update(|list| list.retain(|x| x.key != h.key))>
                {tr(Key::Remove)}
            </button>
        </div>
    }
}
