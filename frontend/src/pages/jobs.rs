//! Jobs: the list, and one job's page (settings summary, revisions, run history with a
//! chart of duration and rows per run, Run now, enable/disable, the compiled config).

use crate::api::{self, ApiError, RunQuery};
use crate::components::{
    ActionErrorNotice, Empty, FieldError, FormProblem, LoadError, Loading, ResourceTable, Submit,
    TextField, Time,
};
use crate::format;
use crate::forms::Form;
use crate::i18n::{
    Key, fill, fill_count, load_mode_texts, notification_event_key, team_role_name, tr, translate,
    use_lang,
};
use crate::session::{can_create_resources, use_session};
use crate::widgets::notification_rules::{RulesOwner, RulesPanel};
use crate::widgets::runs::{RunsTable, duration_text, run_duration_seconds};
use crate::widgets::schedule_form::{ScheduleTarget, SchedulesPanel};
use hakobu_core::api::jobs::{JobView, UpdateJobRequest};
use hakobu_core::api::runs::{BackfillRequest, BackfillStep, RunView, StartRunRequest};
use hakobu_core::authz::{Action, Decision, Principal, Target, TeamRole, authorize};
use hakobu_core::ids::{JobId, TeamId};
use hakobu_core::messages::MessageCode;
use hakobu_core::validation::FieldErrors;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use std::collections::BTreeMap;

#[component]
pub fn JobsPage() -> impl IntoView {
    crate::components::page_title(Key::NavJobs);
    let lang = use_lang();
    let jobs = LocalResource::new(api::jobs);
    let can_create = can_create_resources();
    let list = view! {
        <ResourceTable
            resource=jobs
            empty_title=Key::NoJobsTitle
            empty_body=Key::NoJobsBody
            columns=&[Key::Name, Key::JobKind, Key::Status, Key::Revision, Key::YourRole, Key::Updated]
            row=move |j: JobView| view! {
                <tr data-testid="job-row">
                    <td><A href=format!("/jobs/{}", j.id)>{j.name.clone()}</A></td>
                    <td data-testid="job-kind">{tr(match j.kind {
                        hakobu_core::job::JobKind::Transfer => Key::JobKindTransfer,
                        hakobu_core::job::JobKind::DataMart => Key::JobKindDataMart,
                    })}</td>
                    <td>{tr(if j.enabled { Key::Enabled } else { Key::Disabled })}</td>
                    <td>{j.revision.to_string()}</td>
                    <td><span class="badge">{move || team_role_name(lang.get(), j.your_role)}</span></td>
                    <td><Time at=j.updated_at/></td>
                </tr>
            }
        />
    };
    view! {
        <div class="page">
            <header class="page-header with-actions">
                <div>
                    <h1>{tr(Key::NavJobs)}</h1>
                    <p class="lead">{tr(Key::JobsLead)}</p>
                </div>
                <Show when=move || can_create.get()>
                    <div class="button-row">
                        <A href="/jobs/import" attr:class="button">{tr(Key::ImportEmbulk)}</A>
                        <A href="/jobs/new-data-mart" attr:class="button">{tr(Key::NewDataMart)}</A>
                        <A href="/jobs/new" attr:class="button primary">{tr(Key::NewJob)}</A>
                    </div>
                </Show>
            </header>
            <section class="panel">{list}</section>
        </div>
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    crate::components::page_title(Key::NavJobs);
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<JobId>().ok()));
    let job = LocalResource::new(move || {
        let id = id();
        async move {
            match id {
                Some(id) => api::job(id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    move || {
        match job.get() {
        None => view! { <div class="page"><Loading/></div> }.into_any(),
        Some(Ok(None)) => view! { <div class="page"><Empty title=Key::JobMissingTitle body=Key::JobMissingBody/></div> }.into_any(),
        Some(Err(e)) if e.status() == Some(404) => view! {
            <div class="page">
                <Empty title=Key::JobMissingTitle body=Key::JobMissingBody/>
                <p><A href="/jobs">{tr(Key::BackToJobs)}</A></p>
            </div>
        }
        .into_any(),
        Some(Err(e)) => view! { <div class="page"><LoadError error=e retry=move || job.refetch()/></div> }.into_any(),
        Some(Ok(Some(j))) => view! { <JobDetails job=j on_change=move || job.refetch()/> }.into_any(),
    }
    }
}

/// Where a job is changed: the wizard for a transfer, the data mart form for a data mart.
pub fn edit_path(id: JobId, kind: hakobu_core::job::JobKind) -> String {
    match kind {
        hakobu_core::job::JobKind::DataMart => format!("/jobs/{id}/data-mart"),
        hakobu_core::job::JobKind::Transfer => format!("/jobs/{id}/edit"),
    }
}

#[component]
fn JobDetails(job: JobView, #[prop(into)] on_change: Callback<()>) -> impl IntoView {
    let lang = use_lang();
    let navigate = use_navigate();
    let id = job.id;
    let action_error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let runs = LocalResource::new(move || async move {
        api::runs(&RunQuery {
            job: Some(id),
            page: 1,
            per_page: 30,
            ..RunQuery::default()
        })
        .await
    });
    // What the server allows this reader on this job, decided by the policy the server
    // asks (`/revisions` wants `ViewResourceDetails`, rule changes `EditResource`).
    let who = use_session()
        .me
        .with_untracked(|me| me.as_ref().map(crate::session::principal));
    let can_see_revisions = job_allows(who.as_ref(), &job, Action::ViewResourceDetails);
    let can_edit_rules = job_allows(who.as_ref(), &job, Action::EditResource);
    // Not asked at all when the answer would be 403.
    let revisions = LocalResource::new(move || async move {
        if can_see_revisions {
            api::job_revisions(id).await.map(Some)
        } else {
            Ok(None)
        }
    });
    let rules = LocalResource::new(move || api::job_rules(id));
    let can_run = job.your_role >= TeamRole::Operator;
    // The dialog open under the header: run with options, or backfill.
    let dialog = RwSignal::new(None::<JobDialog>);
    let variable_names: Option<Vec<String>> = job
        .settings
        .as_ref()
        .map(|s| s.variables.iter().map(|v| v.name.clone()).collect());
    let can_edit = job.your_role >= TeamRole::Editor;
    let job_kind = job.kind;
    let enabled = job.enabled;

    let run_now = {
        let navigate = navigate.clone();
        move |_| {
            busy.set(true);
            action_error.set(None);
            let navigate = navigate.clone();
            spawn_local(async move {
                match api::start_run(id).await {
                    Ok(run) => navigate(&format!("/runs/{}", run.id), Default::default()),
                    Err(e) => action_error.set(Some(e)),
                }
                busy.set(false);
            });
        }
    };
    let toggle = move |_| {
        busy.set(true);
        action_error.set(None);
        spawn_local(async move {
            let request = UpdateJobRequest {
                name: None,
                description: None,
                labels: None,
                enabled: Some(!enabled),
                settings: None,
            };
            match api::update_job(id, &request).await {
                Ok(_) => on_change.run(()),
                Err(e) => action_error.set(Some(e)),
            }
            busy.set(false);
        });
    };

    let settings_summary = job.settings.clone().map(|s| {
        let source = if let Some(t) = &s.source.table {
            t.schema.as_ref().map_or(t.name.clone(), |sc| format!("{sc}.{}", t.name))
        } else if let Some(q) = &s.source.query {
            q.lines().next().unwrap_or_default().to_owned()
        } else {
            s.source.files.as_ref().map(|f| f.path_prefix.clone()).unwrap_or_default()
        };
        let destination = if let Some(t) = &s.destination.table {
            t.schema.as_ref().map_or(t.name.clone(), |sc| format!("{sc}.{}", t.name))
        } else {
            s.destination.files.as_ref().map(|f| f.path_prefix.clone()).unwrap_or_default()
        };
        let (mode, mode_hint) = load_mode_texts(s.destination.mode);
        view! {
            <dl class="facts" data-testid="job-settings">
                <dt>{tr(Key::StepSource)}</dt>
                <dd><code>{source}</code></dd>
                <dt>{tr(Key::StepDestination)}</dt>
                <dd><code>{destination}</code></dd>
                <dt>{tr(Key::LoadMode)}</dt>
                <dd>{tr(mode)} " — " <span class="muted">{tr(mode_hint)}</span></dd>
                <dt>{tr(Key::ColumnMapping)}</dt>
                <dd>{move || fill(lang.get(), Key::ChangesAndMasks, &[("changes", &s.columns.len().to_string()), ("masks", &s.masks.len().to_string())])}</dd>
                <dt>{tr(Key::TimeoutMinutes)}</dt>
                <dd>{s.timeout_minutes.to_string()}</dd>
                <dt>{tr(Key::Retries)}</dt>
                <dd>{s.retry.count.to_string()}</dd>
                {(!s.variables.is_empty()).then(|| view! {
                    <dt>{tr(Key::Variables)}</dt>
                    <dd data-testid="job-variables">
                        {s.variables.iter().map(|v| view! { <code>{format!("${}$", v.name)}</code> " " }).collect_view()}
                    </dd>
                })}
                {(!s.checks.is_empty()).then(|| view! {
                    <dt>{tr(Key::DataChecks)}</dt>
                    <dd>{s.checks.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(", ")}</dd>
                })}
                {move || rules.get().and_then(Result::ok).filter(|r| !r.is_empty()).map(|list| view! {
                    <dt>{tr(Key::Notifications)}</dt>
                    <dd data-testid="job-rules">
                        {list.iter().map(|r| tr(notification_event_key(r.event))()).collect::<Vec<_>>().join(", ")}
                    </dd>
                })}
            </dl>
        }
    });

    let history = move || match runs.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || runs.refetch()/> }.into_any(),
        Some(Ok(page)) if page.items.is_empty() => {
            view! { <Empty title=Key::NoRunsTitle body=Key::NoRunsForJob/> }.into_any()
        }
        Some(Ok(page)) => view! {
            <RunChart runs=page.items.clone()/>
            <RunsTable runs=page.items/>
        }
        .into_any(),
    };

    let revision_list = move || {
        match revisions.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || revisions.refetch()/> }.into_any(),
        Some(Ok(None)) => view! {
            <p class="not-allowed" data-testid="revisions-not-allowed">{tr(Key::OnlyEditorsSeeRevisions)}</p>
        }
        .into_any(),
        Some(Ok(Some(list))) => view! {
            <ul class="plain-list" data-testid="revisions">
                {list
                    .into_iter()
                    .rev()
                    .map(|r| view! {
                        <li>
                            <span class="badge">{move || fill(lang.get(), Key::RevisionN, &[("n", &r.revision.to_string())])}</span>
                            " " {r.name.clone()} " · " <Time at=r.created_at/>
                        </li>
                    })
                    .collect_view()}
            </ul>
        }
        .into_any(),
    }
    };

    view! {
        <div class="page">
            <header class="page-header with-actions">
                <div>
                    <p class="breadcrumb"><A href="/jobs">{tr(Key::NavJobs)}</A></p>
                    <h1>{job.name.clone()}</h1>
                    <p class="lead">
                        <span class=if enabled { "status status-active" } else { "status status-expired" }>
                            {tr(if enabled { Key::Enabled } else { Key::Disabled })}
                        </span>
                        " · " {move || fill(lang.get(), Key::RevisionN, &[("n", &job.revision.to_string())])}
                        " · " {tr(Key::YourRole)} " " <span class="badge">{move || team_role_name(lang.get(), job.your_role)}</span>
                    </p>
                    {(!job.description.is_empty()).then(|| view! { <p>{job.description.clone()}</p> })}
                </div>
                <div class="button-row">
                    {if can_run {
                        view! {
                            <button type="button" class="primary" disabled=move || { busy.get() || !enabled } on:click=run_now
                                title=move || (!enabled).then(|| Key::EnableToRun.text(lang.get()))>
                                {tr(Key::RunNow)}
                            </button>
                        }
                        .into_any()
                    } else {
                        view! { <span class="not-allowed small">{tr(Key::OnlyOperatorsRun)}</span> }.into_any()
                    }}
                    {can_run.then(|| view! {
                        <button type="button" disabled=move || !enabled aria-expanded=move || (dialog.get() == Some(JobDialog::RunOptions)).to_string()
                            on:click=move |_| dialog.update(|d| *d = if *d == Some(JobDialog::RunOptions) { None } else { Some(JobDialog::RunOptions) })>
                            {tr(Key::RunWithOptions)}
                        </button>
                        <button type="button" disabled=move || !enabled aria-expanded=move || (dialog.get() == Some(JobDialog::Backfill)).to_string()
                            on:click=move |_| dialog.update(|d| *d = if *d == Some(JobDialog::Backfill) { None } else { Some(JobDialog::Backfill) })>
                            {tr(Key::Backfill)}
                        </button>
                    })}
                    {can_edit.then(|| view! {
                        <A href=edit_path(id, job_kind) attr:class="button">{tr(Key::EditJob)}</A>
                        <button type="button" disabled=move || busy.get() on:click=toggle>
                            {tr(if enabled { Key::Disable } else { Key::Enable })}
                        </button>
                        <a class="button" href=api::job_config_url(id) download=format!("job-{id}.yml")>{tr(Key::DownloadConfig)}</a>
                    })}
                </div>
            </header>
            <ActionErrorNotice action_error/>
            {move || match dialog.get() {
                Some(JobDialog::RunOptions) => view! {
                    <RunOptionsPanel job=id variables=variable_names.clone() on_close=move || dialog.set(None)/>
                }
                .into_any(),
                Some(JobDialog::Backfill) => view! {
                    <BackfillPanel job=id variables=variable_names.clone() on_close=move || dialog.set(None) on_queued=move || runs.refetch()/>
                }
                .into_any(),
                None => ().into_any(),
            }}
            <section class="panel">
                <h2>{tr(Key::Settings)}</h2>
                {match settings_summary {
                    Some(v) => v.into_any(),
                    None => view! { <p class="not-allowed">{tr(Key::OnlyEditorsSeeJobSettings)}</p> }.into_any(),
                }}
            </section>
            <SchedulesPanel target=ScheduleTarget::Job(id) can_edit/>
            <RulesPanel owner=RulesOwner::Job(id) can_edit=can_edit_rules rules/>
            <crate::widgets::sharing::JobSharingPanel job=id owner=job.team_id shares=job.shares.clone()/>
            <section class="panel">
                <h2>{tr(Key::RunHistory)}</h2>
                {history}
            </section>
            <section class="panel">
                <h2>{tr(Key::Revisions)}</h2>
                {revision_list}
            </section>
        </div>
    }
}

/// Whether the reader may do `action` on `job`: the policy's answer for the job's owning
/// team and its shares, the target the server builds for the same request (`load_job`).
/// Signed out: no.
pub(crate) fn job_allows(who: Option<&Principal>, job: &JobView, action: Action) -> bool {
    let Some(who) = who else {
        return false;
    };
    let shares: Vec<(TeamId, TeamRole)> = job.shares.iter().map(|g| (g.team_id, g.role)).collect();
    authorize(
        who,
        action,
        Target::Resource {
            owner: job.team_id,
            shares: &shares,
        },
    ) == Decision::Allow
}

/// The dialogs of the job page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobDialog {
    RunOptions,
    Backfill,
}

/// `name=value` lines as a map; a line without `=` is an error naming the line.
fn parse_overrides(text: &str) -> Result<BTreeMap<String, String>, FieldErrors> {
    let mut values = BTreeMap::new();
    let mut errors = FieldErrors::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                values.insert(name.trim().to_owned(), value.to_owned());
            }
            _ => errors.push_message("variables", MessageCode::NameValueLine.with("n", i + 1)),
        }
    }
    errors.into_result().map(|()| values)
}

/// An `<input type="datetime-local">` value (`2026-11-01T00:00`) as a date-time.
fn parse_local(value: &str) -> Option<chrono::NaiveDateTime> {
    let v = value.trim();
    chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%d %H:%M"))
        .ok()
}

/// A variable's name and what is typed for it.
type NamedInput = (String, RwSignal<String>);

/// Values typed for the job's variables (run with options, backfill): one input per
/// variable when the reader sees the job's settings, otherwise `name=value` lines.
#[derive(Clone, Copy)]
struct VariableValues {
    /// One input per variable name; `None` when the names are not known to the reader.
    inputs: StoredValue<Option<Vec<NamedInput>>>,
    lines: RwSignal<String>,
}

impl VariableValues {
    fn new(variables: Option<Vec<String>>) -> Self {
        VariableValues {
            inputs: StoredValue::new(variables.map(|names| {
                names
                    .into_iter()
                    .map(|n| (n, RwSignal::new(String::new())))
                    .collect()
            })),
            lines: RwSignal::new(String::new()),
        }
    }

    /// The values given, by name (an empty input gives none: the variable is computed as
    /// usual); a bad line is an error at `variables`.
    fn values(&self, errors: &mut FieldErrors) -> BTreeMap<String, String> {
        match self.inputs.get_value() {
            Some(inputs) => inputs
                .into_iter()
                .filter_map(|(name, value)| {
                    let v = value.get_untracked();
                    (!v.is_empty()).then_some((name, v))
                })
                .collect(),
            None => parse_overrides(&self.lines.get_untracked()).unwrap_or_else(|e| {
                errors.0.extend(e.0);
                BTreeMap::new()
            }),
        }
    }
}

/// The inputs of [`VariableValues`], with the server's errors (`variables.NAME`) beside them.
#[component]
fn VariableValueFields(form: Form, values: VariableValues) -> impl IntoView {
    let lang = use_lang();
    match values.inputs.get_value() {
        Some(list) => list
            .into_iter()
            .map(|(name, value)| {
                let path = format!("variables.{name}");
                let id = form.input_id(&path);
                let error_id = format!("{id}-error");
                let error = {
                    let path = path.clone();
                    move || form.error(&path)
                };
                let invalid = {
                    let path = path.clone();
                    move || form.error(&path).is_some()
                };
                let aria_invalid = {
                    let invalid = invalid.clone();
                    move || invalid().to_string()
                };
                let label = format!("${name}$");
                view! {
                    <div class="field" class:invalid=invalid>
                        <label for=id.clone()><code>{label}</code></label>
                        <input id=id type="text" autocomplete="off" placeholder=tr(Key::VariableOverrideHint)
                            aria-invalid=aria_invalid aria-describedby=error_id.clone()
                            prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
                        {move || error().map(|e| view! { <p class="field-error" id=error_id.clone()>{move || translate(lang.get(), None, &e.text())}</p> })}
                    </div>
                }
            })
            .collect_view()
            .into_any(),
        None => {
            let id = form.input_id("variables");
            let hint_id = format!("{id}-hint");
            let error_id = format!("{id}-error");
            let lines = values.lines;
            view! {
                <div class="field">
                    <label for=id.clone()>{tr(Key::OverridesText)}</label>
                    <textarea id=id rows="3" class="code" aria-describedby=format!("{hint_id} {error_id}")
                        prop:value=move || lines.get() on:input=move |ev| lines.set(event_target_value(&ev))></textarea>
                    <p class="hint" id=hint_id>{tr(Key::OverridesTextHint)}</p>
                    <FieldError form field="variables" label=Key::OverridesText error_id/>
                </div>
            }
            .into_any()
        }
    }
}

/// "Run with options": once, as of another time, and/or with values for variables.
#[component]
fn RunOptionsPanel(
    job: JobId,
    /// The job's variables, when the caller may see its settings; otherwise values are
    /// typed as `name=value` lines.
    variables: Option<Vec<String>>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    let navigate = use_navigate();
    let form = Form::new("run", &["as_of", "variables"]);
    let as_of = RwSignal::new(String::new());
    let vars = VariableValues::new(variables);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let mut errors = FieldErrors::default();
        let typed = as_of.get_untracked();
        let at = if typed.trim().is_empty() {
            None
        } else {
            match format::local_input_to_rfc3339(&typed)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            {
                Some(t) => Some(t.with_timezone(&chrono::Utc)),
                None => {
                    errors.push_message("as_of", MessageCode::DateTime);
                    None
                }
            }
        };
        let values = vars.values(&mut errors);
        if !errors.is_empty() {
            form.invalid(errors);
            return;
        }
        form.start();
        let request = StartRunRequest {
            as_of: at,
            variables: values,
        };
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::start_run_with(job, &request).await {
                Ok(run) => {
                    form.done();
                    navigate(&format!("/runs/{}", run.id), Default::default());
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let as_of_id = form.input_id("as_of");
    view! {
        <section class="panel dialog" aria-labelledby="run-options-title" data-testid="run-options">
            <h2 id="run-options-title">{tr(Key::RunOptionsTitle)}</h2>
            <p class="hint">{tr(Key::RunOptionsLead)}</p>
            <form on:submit=submit novalidate=true>
                <div class="field" class:invalid=move || form.error("as_of").is_some()>
                    <label for=as_of_id.clone()>{tr(Key::AsOf)}</label>
                    <input id=as_of_id type="datetime-local" aria-describedby="run-as_of-hint run-as_of-error"
                        aria-invalid=move || form.error("as_of").is_some().to_string()
                        prop:value=move || as_of.get() on:input=move |ev| as_of.set(event_target_value(&ev))/>
                    <p class="hint" id="run-as_of-hint">{tr(Key::AsOfHint)}</p>
                    <FieldError form field="as_of" label=Key::AsOf error_id="run-as_of-error".to_owned()/>
                </div>
                <VariableValueFields form values=vars/>
                <FormProblem form/>
                <div class="button-row">
                    <Submit form label=Key::StartRun/>
                    <button type="button" on:click=move |_| on_close.run(())>{tr(Key::Close)}</button>
                </div>
            </form>
        </section>
    }
}

/// "Backfill": one run per day or hour of a range, with the number of runs shown as the
/// range is typed (computed by `core`, as the server will).
#[component]
fn BackfillPanel(
    job: JobId,
    /// The job's variables, as for [`RunOptionsPanel`].
    variables: Option<Vec<String>>,
    #[prop(into)] on_close: Callback<()>,
    #[prop(into)] on_queued: Callback<()>,
) -> impl IntoView {
    let lang = use_lang();
    let form = Form::new(
        "backfill",
        &["from", "to", "step", "timezone", "parallelism", "variables"],
    );
    let vars = VariableValues::new(variables);
    let has_variables = vars
        .inputs
        .with_value(|i| i.as_ref().is_none_or(|l| !l.is_empty()));
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let step = RwSignal::new(BackfillStep::Day);
    let timezone = RwSignal::new(format::time_zone(lang.get_untracked()).0);
    let parallelism = RwSignal::new("1".to_owned());
    let queued = RwSignal::new(None::<usize>);
    let request = move || -> Result<BackfillRequest, FieldErrors> {
        let mut errors = FieldErrors::default();
        let when = |field: &str, v: RwSignal<String>, errors: &mut FieldErrors| {
            let parsed = parse_local(&v.get());
            if parsed.is_none() {
                errors.push_message(field, MessageCode::DateTime);
            }
            parsed
        };
        let (f, t) = (when("from", from, &mut errors), when("to", to, &mut errors));
        let parallel = parallelism.get().trim().parse::<u32>();
        if parallel.is_err() {
            errors.push_message("parallelism", MessageCode::WholeNumber);
        }
        errors.clone().into_result()?;
        let request = BackfillRequest {
            from: f.expect("checked"),
            to: t.expect("checked"),
            step: step.get(),
            timezone: timezone.get().trim().to_owned(),
            parallelism: parallel.unwrap_or(1),
            variables: BTreeMap::new(),
        };
        request.periods()?;
        Ok(request)
    };
    let count = move || {
        request()
            .ok()
            .and_then(|r| r.periods().ok())
            .map(|p| p.len())
    };
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let mut errors = FieldErrors::default();
        // The same values for every run of the range, checked as a manual run's are.
        let values = vars.values(&mut errors);
        let mut request = match request() {
            Ok(r) if errors.is_empty() => r,
            Ok(_) => {
                form.invalid(errors);
                return;
            }
            Err(mut e) => {
                e.0.extend(errors.0);
                form.invalid(e);
                return;
            }
        };
        request.variables = values;
        form.start();
        queued.set(None);
        spawn_local(async move {
            match api::backfill(job, &request).await {
                Ok(view) => {
                    form.done();
                    queued.set(Some(view.runs.len()));
                    on_queued.run(());
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let step_id = form.input_id("step");
    let date_input = move |field: &'static str, label: Key, value: RwSignal<String>| {
        let id = form.input_id(field);
        let error_id = format!("{id}-error");
        view! {
            <div class="field" class:invalid=move || form.error(field).is_some()>
                <label for=id.clone()>{tr(label)}</label>
                <input id=id type="datetime-local" aria-describedby=error_id.clone()
                    aria-invalid=move || form.error(field).is_some().to_string()
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))/>
                <FieldError form field label error_id/>
            </div>
        }
    };
    view! {
        <section class="panel dialog" aria-labelledby="backfill-title" data-testid="backfill">
            <h2 id="backfill-title">{tr(Key::TriggerBackfill)}</h2>
            <p class="hint">{tr(Key::BackfillLead)}</p>
            <form on:submit=submit novalidate=true>
                <div class="row-inputs">
                    {date_input("from", Key::BackfillFrom, from)}
                    {date_input("to", Key::BackfillTo, to)}
                </div>
                <div class="field">
                    <label for=step_id.clone()>{tr(Key::BackfillStep)}</label>
                    <select id=step_id on:change=move |ev| step.set(if event_target_value(&ev) == "hour" { BackfillStep::Hour } else { BackfillStep::Day })>
                        <option value="day" selected=move || step.get() == BackfillStep::Day>{tr(Key::StepDayOption)}</option>
                        <option value="hour" selected=move || step.get() == BackfillStep::Hour>{tr(Key::StepHourOption)}</option>
                    </select>
                </div>
                <TextField form field="timezone" label=Key::VarTimezone value=timezone hint=Key::VarTimezoneHint/>
                <TextField form field="parallelism" label=Key::BackfillParallelism value=parallelism hint=Key::BackfillParallelismHint/>
                {has_variables.then(|| view! {
                    <fieldset class="check" data-testid="backfill-variables">
                        <legend>{tr(Key::Variables)}</legend>
                        <p class="hint">{tr(Key::BackfillValuesHint)}</p>
                        <VariableValueFields form values=vars/>
                    </fieldset>
                })}
                <p class="hint" aria-live="polite" data-testid="backfill-count">
                    {move || count().map(|n| fill_count(lang.get(), Key::BackfillCountOne, Key::BackfillCount, n))}
                </p>
                {move || queued.get().map(|n| view! {
                    <p class="test-ok" role="status" data-testid="backfill-queued">
                        {fill_count(lang.get(), Key::BackfillQueuedOne, Key::BackfillQueued, n)} " "
                        <A href="/runs">{tr(Key::SeeRuns)}</A>
                    </p>
                })}
                <FormProblem form/>
                <div class="button-row">
                    <Submit form label=Key::QueueBackfill/>
                    <button type="button" on:click=move |_| on_close.run(())>{tr(Key::Close)}</button>
                </div>
            </form>
        </section>
    }
}

/// Duration and rows of each run, oldest on the left: bars for the duration, a line for the
/// rows written. Drawn as SVG, with a text alternative listing the same figures.
#[component]
fn RunChart(runs: Vec<RunView>) -> impl IntoView {
    let lang = use_lang();
    let mut points: Vec<(f64, f64, RunView)> = runs
        .into_iter()
        .filter_map(|r| run_duration_seconds(&r).map(|s| (s, r.rows_written as f64, r)))
        .collect();
    points.reverse();
    if points.is_empty() {
        return ().into_any();
    }
    const W: f64 = 600.0;
    const H: f64 = 160.0;
    const PAD: f64 = 28.0;
    let max_d = points.iter().map(|p| p.0).fold(1.0, f64::max);
    let max_r = points.iter().map(|p| p.1).fold(1.0, f64::max);
    let n = points.len() as f64;
    let step = (W - 2.0 * PAD) / n;
    let bar = (step * 0.6).max(2.0);
    let x = move |i: usize| PAD + step * i as f64 + step / 2.0;
    let y_d = move |d: f64| H - PAD - (H - 2.0 * PAD) * d / max_d;
    let y_r = move |r: f64| H - PAD - (H - 2.0 * PAD) * r / max_r;
    let line: String = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(i), y_r(p.1)))
        .collect::<Vec<_>>()
        .join(" ");
    let bars = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let class = if p.2.status == hakobu_core::api::runs::RunStatus::Succeeded { "bar" } else { "bar bar-failed" };
            view! {
                <rect class=class x=format!("{:.1}", x(i) - bar / 2.0) y=format!("{:.1}", y_d(p.0)) width=format!("{bar:.1}") height=format!("{:.1}", H - PAD - y_d(p.0))/>
            }
        })
        .collect_view();
    let dots = points
        .iter()
        .enumerate()
        .map(|(i, p)| view! { <circle class="dot" cx=format!("{:.1}", x(i)) cy=format!("{:.1}", y_r(p.1)) r="3"/> })
        .collect_view();
    let summary = {
        let points: Vec<(f64, i64)> = points.iter().map(|p| (p.0, p.2.rows_written)).collect();
        move || {
            let lang = lang.get();
            points
                .iter()
                .map(|(d, r)| format!("{} / {}", duration_text(lang, *d), format::number(lang, *r)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let max_d_text = move || duration_text(lang.get(), max_d);
    let max_r_text = move || format::number(lang.get(), max_r as i64);
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-labelledby="run-chart-caption" preserveAspectRatio="none">
                <line class="axis" x1=PAD.to_string() y1=(H - PAD).to_string() x2=(W - PAD).to_string() y2=(H - PAD).to_string()/>
                {bars}
                <polyline class="rows-line" points=line/>
                {dots}
                <text class="axis-label" x="2" y="12">{max_d_text}</text>
                <text class="axis-label rows" x=(W - 2.0).to_string() y="12" text-anchor="end">{max_r_text}</text>
            </svg>
            <figcaption id="run-chart-caption">
                <span class="legend-bar"></span> {tr(Key::ChartDuration)} " "
                <span class="legend-line"></span> {tr(Key::ChartRows)}
                <span class="visually-hidden">": " {summary}</span>
            </figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_lines_name_the_bad_line() {
        let values = parse_overrides("day=2026-11-01\n\n note = a=b ").unwrap();
        assert_eq!(values["day"], "2026-11-01");
        assert_eq!(values["note"], " a=b ");
        let errors = parse_overrides("day=1\nnothing").unwrap_err();
        assert_eq!(errors.0[0].field, "variables");
        assert_eq!(errors.0[0].message, "line 2 must read name=value");
    }

    /// The job page asks the policy with the job's owner and shares, as the server does: an
    /// operator of the owning team gets no revisions (the server answers 403) and cannot
    /// change rules; an editor can; a share caps an editor of the receiving team.
    #[test]
    fn the_job_page_shows_what_the_server_allows() {
        use hakobu_core::api::org::TeamGrant;
        use hakobu_core::authz::OrgRole;
        let (owner, analysts) = (TeamId::new(), TeamId::new());
        let job = JobView {
            id: JobId::new(),
            name: "orders".into(),
            description: String::new(),
            labels: Vec::new(),
            enabled: true,
            team_id: owner,
            revision: 1,
            kind: Default::default(),
            your_role: TeamRole::Operator,
            shares: vec![TeamGrant {
                team_id: analysts,
                role: TeamRole::Operator,
            }],
            settings: None,
            incremental_state: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let member = |team: TeamId, role: TeamRole| Principal {
            org_role: OrgRole::Member,
            team_roles: [(team, role)].into_iter().collect(),
        };
        let sees = |who: &Principal| {
            (
                job_allows(Some(who), &job, Action::ViewResourceDetails),
                job_allows(Some(who), &job, Action::EditResource),
            )
        };
        assert_eq!(sees(&member(owner, TeamRole::Operator)), (false, false));
        assert_eq!(sees(&member(owner, TeamRole::Viewer)), (false, false));
        assert_eq!(sees(&member(owner, TeamRole::Editor)), (true, true));
        assert_eq!(
            sees(&member(analysts, TeamRole::Editor)),
            (false, false),
            "shared as operator"
        );
        let admin = Principal {
            org_role: OrgRole::Admin,
            team_roles: Default::default(),
        };
        assert_eq!(sees(&admin), (true, true));
        assert!(!job_allows(None, &job, Action::ViewResource), "signed out");
    }

    #[test]
    fn local_date_times_parse() {
        assert!(parse_local("2026-11-01T00:00").is_some());
        assert!(parse_local("2026-11-01 09:30").is_some());
        assert!(parse_local("2026-11-01").is_none());
    }
}
