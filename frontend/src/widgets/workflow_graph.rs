//! A workflow's tasks drawn as a graph: an SVG of boxes and arrows placed by
//! `hakobu_core::workflow::layout` (columns by longest path, rows ordered to avoid
//! crossings). The workflow page and the editor draw the spec; the run page adds each
//! task's state as a colour, a word inside the box (colour is never the only sign), and a
//! legend.

use crate::i18n::{Key, Lang, tr, use_lang};
use hakobu_core::api::workflows::TaskRunView;
use hakobu_core::workflow::layout::{NODE_HEIGHT, NODE_WIDTH, layout};
use hakobu_core::workflow::{RunIf, TaskAction, TaskSpec, TaskState, WorkflowRunStatus};
use leptos::prelude::*;

/// Characters of a task's name shown in its box (the full name is in its tooltip).
const NAME_CHARS_SHOWN: usize = 22;

/// A task's state in words; a skip because of a failure upstream is said apart.
pub fn task_state_key(state: TaskState, skipped_for_failure: bool) -> Key {
    match state {
        TaskState::Pending => Key::TaskPending,
        TaskState::Running => Key::StatusRunning,
        TaskState::Succeeded => Key::StatusSucceeded,
        TaskState::Failed => Key::StatusFailed,
        TaskState::Skipped if skipped_for_failure => Key::TaskSkippedForFailure,
        TaskState::Skipped => Key::TaskSkipped,
        TaskState::Cancelled => Key::StatusCancelled,
    }
}

/// A workflow run's status in words.
pub fn workflow_status_key(status: WorkflowRunStatus) -> Key {
    match status {
        WorkflowRunStatus::Running => Key::StatusRunning,
        WorkflowRunStatus::Succeeded => Key::StatusSucceeded,
        WorkflowRunStatus::Failed => Key::StatusFailed,
        WorkflowRunStatus::Cancelled => Key::StatusCancelled,
    }
}

/// A workflow run's status as a badge, the machine word in `data-status`.
#[component]
pub fn WorkflowStatusBadge(status: WorkflowRunStatus) -> impl IntoView {
    view! {
        <span class=format!("run-status run-status-{}", status.as_str()) data-status=status.as_str()>
            {tr(workflow_status_key(status))}
        </span>
    }
}

/// What kind of task it is, in words. One arm per kind: a new kind adds its own.
pub fn task_kind_key(action: &TaskAction) -> Key {
    match action {
        TaskAction::Job { .. } => Key::TaskKindJob,
        TaskAction::Wait { .. } => Key::TaskKindWait,
        TaskAction::Notify { .. } => Key::TaskKindNotify,
        TaskAction::WaitUntil { .. } => Key::TaskKindWaitUntil,
        TaskAction::Workflow { .. } => Key::TaskKindWorkflow,
        TaskAction::Check { .. } => Key::TaskKindCheck,
        TaskAction::Http { .. } => Key::TaskKindHttp,
    }
}

/// `run_if` in words.
pub fn run_if_key(run_if: RunIf) -> Key {
    match run_if {
        RunIf::Success => Key::RunIfSuccess,
        RunIf::Failure => Key::RunIfFailure,
        RunIf::Always => Key::RunIfAlways,
    }
}

fn short(name: &str) -> String {
    if name.chars().count() > NAME_CHARS_SHOWN {
        let mut s: String = name.chars().take(NAME_CHARS_SHOWN - 1).collect();
        s.push('…');
        s
    } else {
        name.to_owned()
    }
}

/// The graph of `tasks`; with `states`, each box shows its task's state (by name).
#[component]
pub fn WorkflowGraph(
    #[prop(into)] tasks: Signal<Vec<TaskSpec>>,
    #[prop(optional, into)] states: Option<Signal<Vec<TaskRunView>>>,
) -> impl IntoView {
    let lang = use_lang();
    let with_states = states.is_some();
    let drawing = move || {
        let lang: Lang = lang.get();
        let tasks = tasks.get();
        let states = states.map(|s| s.get()).unwrap_or_default();
        let placed = layout(&tasks);
        let (width, height) = (placed.width.max(1.0), placed.height.max(1.0));
        let edges = placed
            .edges
            .iter()
            .map(|e| {
                let (class, marker) = match e.run_if {
                    RunIf::Success => ("wf-edge", "url(#wf-arrow)"),
                    RunIf::Failure => ("wf-edge wf-edge-failure", "url(#wf-arrow-failure)"),
                    RunIf::Always => ("wf-edge wf-edge-always", "url(#wf-arrow)"),
                };
                view! {
                    <path class=class d=e.path() marker-end=marker data-testid="wf-edge"
                        data-from=tasks[e.from].name.clone() data-to=tasks[e.to].name.clone()></path>
                }
            })
            .collect_view();
        let nodes = placed
            .nodes
            .iter()
            .map(|b| {
                let task = &tasks[b.task];
                let run = states.iter().find(|s| s.name == task.name);
                let state = run.map(|r| r.state);
                let second = match run {
                    Some(r) => task_state_key(r.state, r.skipped_for_failure).text(lang),
                    None => task_kind_key(&task.action).text(lang),
                };
                let class = match state {
                    Some(s) => format!("wf-node wf-state-{}", s.as_str()),
                    None => "wf-node".to_owned(),
                };
                let tooltip = format!("{}: {second}", task.name);
                view! {
                    <g class=class data-testid="wf-node" data-task=task.name.clone()
                        data-state=state.map(|s| s.as_str())>
                        <title>{tooltip}</title>
                        <rect x=b.x y=b.y width=NODE_WIDTH height=NODE_HEIGHT rx="6" ry="6"></rect>
                        <text class="wf-node-name" x=b.x + 10.0 y=b.y + 21.0>{short(&task.name)}</text>
                        <text class="wf-node-state" x=b.x + 10.0 y=b.y + 40.0>{second}</text>
                    </g>
                }
            })
            .collect_view();
        let label = Key::WorkflowGraphLabel.text(lang);
        view! {
            <svg class="wf-graph" role="img" aria-label=label width=width height=height
                viewBox=format!("0 0 {width} {height}") data-testid="wf-graph">
                <defs>
                    <marker id="wf-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M 0 0 L 10 5 L 0 10 z" class="wf-arrow-head"></path>
                    </marker>
                    <marker id="wf-arrow-failure" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                        <path d="M 0 0 L 10 5 L 0 10 z" class="wf-arrow-head-failure"></path>
                    </marker>
                </defs>
                {edges}
                {nodes}
            </svg>
        }
    };
    view! {
        <div class="wf-graph-wrap">
            {drawing}
        </div>
        <ul class="wf-legend" aria-label=move || tr(Key::WorkflowLegend)()>
            <li><span class="wf-legend-line"></span>{tr(Key::RunIfSuccess)}</li>
            <li><span class="wf-legend-line wf-legend-failure"></span>{tr(Key::RunIfFailure)}</li>
            <li><span class="wf-legend-line wf-legend-always"></span>{tr(Key::RunIfAlways)}</li>
            {with_states.then(|| {
                [
                    (TaskState::Pending, false),
                    (TaskState::Running, false),
                    (TaskState::Succeeded, false),
                    (TaskState::Failed, false),
                    (TaskState::Skipped, false),
                    (TaskState::Cancelled, false),
                ]
                .into_iter()
                .map(|(s, f)| view! {
                    <li><span class=format!("wf-swatch wf-state-{}", s.as_str())></span>{tr(task_state_key(s, f))}</li>
                })
                .collect_view()
            })}
        </ul>
    }
}
