//! Runs: the list with a status filter, and one run's page: status, a live progress bar
//! with rows and rows per second, the log as it is written (Server-Sent Events from
//! `GET /api/runs/{id}/events`), resolved variables, the error in plain words, and cancel
//! and re-run for those who may run the job.

use crate::api::{self, ApiError, RunQuery};
use crate::components::{
    ActionErrorNotice, ConfirmButton, Empty, LoadError, Loading, MaybeTime, Time,
};
use crate::format;
use crate::i18n::{Key, fill, notification_event_key, tr, use_lang};
use crate::widgets::runs::{RunStatusBadge, RunsTable, duration_text, status_key};
use hakobu_core::api::notifications::DeliveryStatus;
use hakobu_core::api::runs::{RunLogLine, RunStatus, RunView};
use hakobu_core::authz::TeamRole;
use hakobu_core::ids::DestinationId;
use hakobu_core::ids::RunId;
use hakobu_core::job::checks::{CheckOutcome, CheckResultView};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde_json::Value;

/// Lines of log kept on the page; older ones are dropped from the view (the API has them).
const LOG_LINES_SHOWN: usize = 1000;

/// Seconds since the start, to the end or to now for a run still going (the live rate).
fn elapsed_seconds(run: &RunView) -> Option<f64> {
    let start = run.started_at?;
    let end = run.finished_at.unwrap_or_else(chrono::Utc::now);
    Some(((end - start).num_milliseconds() as f64 / 1000.0).max(0.0))
}

// --- the list ---------------------------------------------------------------------------

#[component]
pub fn RunsPage() -> impl IntoView {
    crate::components::page_title(Key::NavRuns);
    let lang = use_lang();
    let status = RwSignal::new(None::<RunStatus>);
    // Where each page shown so far started (the first at the top): "Older" follows the
    // answer's `next`, "Newer" goes back one, so pages stay steady while runs arrive.
    let starts = RwSignal::new(vec![None::<RunId>]);
    let page = move || starts.with(Vec::len) as i64;
    let per_page = 50;
    let runs = LocalResource::new(move || {
        let query = RunQuery {
            status: status.get(),
            page: 1,
            per_page,
            before: starts.with(|s| s.last().copied().flatten()),
            ..RunQuery::default()
        };
        async move { api::runs(&query).await }
    });
    let jobs = LocalResource::new(api::jobs);
    let names = move || {
        jobs.get()
            .and_then(|r| r.ok())
            .unwrap_or_default()
            .into_iter()
            .map(|j| (j.id, j.name))
            .collect::<Vec<_>>()
    };
    let list = move || match runs.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || runs.refetch()/> }.into_any(),
        Some(Ok(p)) if p.items.is_empty() => {
            view! { <Empty title=Key::NoRunsTitle body=Key::NoRunsBody/> }.into_any()
        }
        Some(Ok(p)) => {
            let pages = ((p.total + per_page - 1) / per_page).max(1);
            let next = p.next.as_deref().and_then(|n| n.parse::<RunId>().ok());
            let (total, capped) = (p.total, p.total_capped);
            let place = move || {
                let lang = lang.get();
                let total_text = format::number(lang, total);
                if capped {
                    fill(
                        lang,
                        Key::PageOfMany,
                        &[("page", &page().to_string()), ("total", &total_text)],
                    )
                } else {
                    fill(
                        lang,
                        Key::PageOf,
                        &[
                            ("page", &page().to_string()),
                            ("pages", &pages.to_string()),
                            ("total", &total_text),
                        ],
                    )
                }
            };
            view! {
                <RunsTable runs=p.items job_names=names()/>
                <div class="pager">
                    <button type="button" disabled=move || { page() <= 1 } on:click=move |_| starts.update(|s| { s.pop(); })>{tr(Key::Previous)}</button>
                    <span data-testid="runs-page">{place}</span>
                    <button type="button" disabled=next.is_none() on:click=move |_| starts.update(|s| s.push(next))>{tr(Key::Next)}</button>
                </div>
            }
            .into_any()
        }
    };
    view! {
        <div class="page">
            <header class="page-header">
                <h1>{tr(Key::NavRuns)}</h1>
                <p class="lead">{tr(Key::RunsLead)}</p>
            </header>
            <section class="panel">
                <div class="field">
                    <label for="runs-status">{tr(Key::Status)}</label>
                    <select
                        id="runs-status"
                        on:change=move |ev| {
                            status.set(event_target_value(&ev).parse().ok());
                            starts.set(vec![None]);
                        }
                    >
                        <option value="">{tr(Key::AllStatuses)}</option>
                        {RunStatus::ALL.iter().map(|s| view! { <option value=s.as_str()>{tr(status_key(*s))}</option> }).collect_view()}
                    </select>
                </div>
                {list}
            </section>
        </div>
    }
}

// --- one run ----------------------------------------------------------------------------

#[component]
pub fn RunPage() -> impl IntoView {
    crate::components::page_title(Key::RunTitle);
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").and_then(|s| s.parse::<RunId>().ok()));
    let loaded = LocalResource::new(move || {
        let id = id();
        async move {
            match id {
                Some(id) => api::run(id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    move || {
        match loaded.get() {
        None => view! { <div class="page"><Loading/></div> }.into_any(),
        Some(Ok(None)) => view! { <div class="page"><Empty title=Key::RunMissingTitle body=Key::RunMissingBody/></div> }.into_any(),
        Some(Err(e)) if e.status() == Some(404) => view! {
            <div class="page">
                <Empty title=Key::RunMissingTitle body=Key::RunMissingBody/>
                <p><A href="/runs">{tr(Key::BackToRuns)}</A></p>
            </div>
        }
        .into_any(),
        Some(Err(e)) => view! { <div class="page"><LoadError error=e retry=move || loaded.refetch()/></div> }.into_any(),
        Some(Ok(Some(run))) => view! { <RunDetails initial=run/> }.into_any(),
    }
    }
}

#[component]
fn RunDetails(initial: RunView) -> impl IntoView {
    let lang = use_lang();
    let navigate = use_navigate();
    let id = initial.id;
    let job_id = initial.job_id;
    let run = RwSignal::new(initial.clone());
    let logs = RwSignal::new(Vec::<RunLogLine>::new());
    let streaming = RwSignal::new(false);
    let action_error = RwSignal::new(None::<ApiError>);
    let job = LocalResource::new(move || api::job(job_id));

    if initial.status.is_final() {
        // Nothing will change: read the log once.
        spawn_local(async move {
            match api::run_logs(id, 0).await {
                Ok(lines) => logs.set(lines),
                Err(e) => action_error.set(Some(e)),
            }
        });
    } else {
        live::follow(id, run, logs, streaming);
    }

    let can_run = move || {
        job.get()
            .and_then(|r| r.ok())
            .is_some_and(|j| j.your_role >= TeamRole::Operator)
    };
    let cancel = move |()| {
        spawn_local(async move {
            match api::cancel_run(id).await {
                Ok(r) => run.set(r),
                Err(e) => action_error.set(Some(e)),
            }
        });
    };
    let rerun = move |_| {
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::rerun(id).await {
                Ok(r) => navigate(&format!("/runs/{}", r.id), Default::default()),
                Err(e) => action_error.set(Some(e)),
            }
        });
    };

    let job_name = move || {
        job.get()
            .and_then(|r| r.ok())
            .map(|j| j.name)
            .unwrap_or_default()
    };
    let status = move || run.with(|r| r.status);
    // The clock of a run in flight: the duration and the time left move every second,
    // between the heartbeats that bring new counts.
    let clock = RwSignal::new(0_u32);
    if !initial.status.is_final()
        && let Ok(handle) = set_interval_with_handle(
            move || clock.update(|t| *t = t.wrapping_add(1)),
            std::time::Duration::from_secs(1),
        )
    {
        on_cleanup(move || handle.clear());
    }
    let done = move || {
        run.with(|r| {
            hakobu_core::progress::done(
                r.rows_read.max(0) as u64,
                r.bytes_read.max(0) as u64,
                r.rows_expected.map(|n| n.max(0) as u64),
                r.bytes_expected.map(|n| n.max(0) as u64),
            )
        })
    };
    let rows_per_second = move || {
        run.with(|r| {
            let secs = elapsed_seconds(r)?;
            (secs >= 0.5).then(|| r.rows_read as f64 / secs)
        })
    };
    let numbers = move || {
        let lang = lang.get();
        run.with(|r| {
            let mut parts = vec![
                fill(
                    lang,
                    Key::RowsReadN,
                    &[("n", &format::number(lang, r.rows_read))],
                ),
                fill(
                    lang,
                    Key::RowsWrittenN,
                    &[("n", &format::number(lang, r.rows_written))],
                ),
            ];
            if r.rows_skipped > 0 {
                parts.push(fill(
                    lang,
                    Key::RowsSkippedN,
                    &[("n", &format::number(lang, r.rows_skipped))],
                ));
            }
            if r.bytes_read > 0 || r.bytes_written > 0 {
                parts.push(fill(
                    lang,
                    Key::BytesReadWritten,
                    &[
                        ("r", &format::bytes(lang, r.bytes_read)),
                        ("w", &format::bytes(lang, r.bytes_written)),
                    ],
                ));
            }
            if let Some(rate) = rows_per_second() {
                parts.push(fill(
                    lang,
                    Key::RowsPerSecond,
                    &[("n", &format::number(lang, rate.round() as i64))],
                ));
            }
            parts.join(" · ")
        })
    };
    let progress_bar = move || {
        let s = status();
        if s.is_final() {
            view! { <progress class=format!("bar-{}", s.as_str()) max="1" value="1" aria-labelledby="run-progress-label"></progress> }.into_any()
        } else if s == RunStatus::Running {
            match done() {
                // The source said how much it expects to read: the share done, and the
                // time left at the pace so far.
                Some(d) => {
                    clock.track();
                    let lang = lang.get();
                    let percent = format!("{:.0}", d.fraction * 100.0);
                    let mut said = fill(
                        lang,
                        if d.estimated {
                            Key::PercentDoneAbout
                        } else {
                            Key::PercentDone
                        },
                        &[("n", &percent)],
                    );
                    if let Some(left) = run
                        .with(elapsed_seconds)
                        .and_then(|e| hakobu_core::progress::seconds_left(e, d.fraction))
                    {
                        said.push_str(" · ");
                        said.push_str(&fill(
                            lang,
                            Key::TimeLeft,
                            &[("t", &duration_text(lang, left))],
                        ));
                    }
                    view! {
                        <progress max="1" value=d.fraction.to_string() aria-labelledby="run-progress-label"></progress>
                        <p class="run-done" data-testid="run-done">{said}</p>
                    }
                    .into_any()
                }
                // Not known ahead (a query, an incremental read): an indeterminate bar,
                // with the counts.
                None => {
                    view! { <progress aria-labelledby="run-progress-label"></progress> }.into_any()
                }
            }
        } else {
            view! { <progress max="1" value="0" aria-labelledby="run-progress-label"></progress> }
                .into_any()
        }
    };
    let inputs = move || run.with(|r| RunInputs::of(&r.resolved_inputs));
    // Checks and notifications are written as the run ends: read them again then.
    let checks = LocalResource::new(move || {
        status().is_final();
        api::run_checks(id)
    });
    let notifications = LocalResource::new(move || {
        status().is_final();
        api::run_notifications(id)
    });
    let destinations = LocalResource::new(api::destinations);
    let destination_name = move |d: DestinationId| {
        destinations
            .get()
            .and_then(|r| r.ok())
            .and_then(|list| list.into_iter().find(|x| x.id == d).map(|x| x.name))
            .unwrap_or_else(|| d.to_string().chars().take(8).collect())
    };

    view! {
        <div class="page">
            <header class="page-header with-actions">
                <div>
                    <p class="breadcrumb">
                        <A href="/runs">{tr(Key::NavRuns)}</A> " › "
                        <A href=format!("/jobs/{job_id}")>{job_name}</A>
                    </p>
                    <h1>{tr(Key::RunTitle)} " " <code>{id.to_string().chars().take(8).collect::<String>()}</code></h1>
                    <p class="lead" data-testid="run-status">
                        {move || view! { <RunStatusBadge status=status()/> }}
                        {move || streaming.get().then(|| view! { " " <span class="live">{tr(Key::Live)}</span> })}
                    </p>
                </div>
                <div class="button-row">
                    {move || {
                        let allowed = can_run();
                        let s = status();
                        if !allowed {
                            return view! { <span class="not-allowed small">{tr(Key::OnlyOperatorsRun)}</span> }.into_any();
                        }
                        if s.is_final() {
                            let rerun = rerun.clone();
                            view! { <button type="button" on:click=rerun>{tr(Key::Rerun)}</button> }.into_any()
                        } else {
                            view! {
                                <ConfirmButton
                                    label=Key::CancelRun
                                    question=Signal::derive(move || Key::ConfirmCancelRun.text(lang.get()).to_owned())
                                    confirm=Key::CancelRun
                                    on_confirm=cancel
                                    disabled=Signal::derive(move || run.with(|r| r.cancel_requested))
                                />
                            }
                            .into_any()
                        }
                    }}
                </div>
            </header>
            <ActionErrorNotice action_error/>
            <section class="panel">
                <h2 id="run-progress-label">{tr(Key::Progress)}</h2>
                {progress_bar}
                <p class="run-numbers" data-testid="run-numbers" aria-live="polite">{numbers}</p>
                <dl class="facts">
                    <dt>{tr(Key::Queued)}</dt>
                    <dd><Time at=initial.queued_at/></dd>
                    <dt>{tr(Key::Started)}</dt>
                    <dd>{move || view! { <MaybeTime at=run.with(|r| r.started_at) none=Key::NotYet/> }}</dd>
                    <dt>{tr(Key::Finished)}</dt>
                    <dd>{move || view! { <MaybeTime at=run.with(|r| r.finished_at) none=Key::NotYet/> }}</dd>
                    <dt>{tr(Key::Duration)}</dt>
                    <dd data-testid="run-duration">{move || { clock.track(); run.with(elapsed_seconds).map(|s| duration_text(lang.get(), s)).unwrap_or_else(|| "—".to_owned()) }}</dd>
                    <dt>{tr(Key::Attempt)}</dt>
                    <dd>{move || run.with(|r| format!("{} / {}", r.attempt, r.max_attempts))}</dd>
                    <dt>{tr(Key::Trigger)}</dt>
                    <dd>{move || run.with(|r| trigger_key(&r.trigger)).map(|k| k.text(lang.get()).to_owned()).unwrap_or_else(|| run.with(|r| r.trigger.clone()))}</dd>
                    <dt>{tr(Key::JobRevisionLabel)}</dt>
                    <dd>{initial.job_revision.to_string()}</dd>
                    {move || run.with(|r| Some((r.task_vcpu?, r.task_memory_mb?, r.usage.clone()?))).map(|(vcpu, memory, usage)| view! {
                        <dt>{tr(Key::RunUsage)}</dt>
                        <dd data-testid="run-usage">{fill(lang.get(), Key::RunUsageText, &[
                            ("vcpu", &vcpu.to_string()),
                            ("memory", &memory.to_string()),
                            ("vcpu_seconds", &format!("{:.1}", usage.vcpu_seconds)),
                            ("price", &format!("{:.4} {}", usage.price, usage.currency)),
                        ])}</dd>
                    })}
                    {move || run.with(|r| r.queue_position).map(|p| view! {
                        <dt>{tr(Key::QueuePosition)}</dt>
                        <dd>{fill(lang.get(), Key::RunsAhead, &[("n", &p.to_string())])}</dd>
                    })}
                </dl>
            </section>
            {move || run.with(|r| r.error_summary.clone().map(|e| (e, r.status))).map(|(e, s)| view! {
                <section class="panel error-summary" role="alert">
                    <h2>{tr(Key::WhatWentWrong)}</h2>
                    <p class="plain-error" data-testid="run-error-plain">{tr(plain_error(&e, s))}</p>
                    <details open=true>
                        <summary>{tr(Key::ErrorDetail)}</summary>
                        <p data-testid="run-error">{e}</p>
                    </details>
                    <p class="hint">{tr(Key::ErrorNextSteps)}</p>
                </section>
            })}
            {move || {
                let inputs = inputs();
                (!inputs.is_empty()).then(|| view! {
                    <section class="panel">
                        <h2>{tr(Key::ResolvedVariables)}</h2>
                        <dl class="facts" data-testid="run-variables">
                            {inputs.as_of.map(|at| view! { <dt>{tr(Key::RunAsOf)}</dt><dd><Time at/></dd> })}
                            {inputs.values.into_iter().map(|(k, v, given)| view! {
                                <dt><code>{format!("${k}$")}</code></dt>
                                <dd>
                                    <code data-testid="variable-value">{v}</code>
                                    {given.then(|| view! { " " <span class="badge">{tr(Key::ValueGiven)}</span> })}
                                </dd>
                            }).collect_view()}
                        </dl>
                        {inputs.pending.then(|| view! { <p class="hint">{tr(Key::VariablesFixedAtStart)}</p> })}
                    </section>
                })
            }}
            <section class="panel">
                <h2>{tr(Key::CheckResults)}</h2>
                {move || match checks.get() {
                    None => view! { <Loading/> }.into_any(),
                    Some(Err(e)) => view! { <LoadError error=e retry=move || checks.refetch()/> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => {
                        let key = if status().is_final() { Key::NoCheckResults } else { Key::ChecksAfterLoad };
                        view! { <p class="muted">{tr(key)}</p> }.into_any()
                    }
                    Some(Ok(list)) => view! { <CheckTable checks=list/> }.into_any(),
                }}
            </section>
            <section class="panel">
                <h2>{tr(Key::RunNotifications)}</h2>
                {move || match notifications.get() {
                    None => view! { <Loading/> }.into_any(),
                    Some(Err(e)) => view! { <LoadError error=e retry=move || notifications.refetch()/> }.into_any(),
                    Some(Ok(list)) if list.is_empty() => view! { <p class="muted">{tr(Key::NoRunNotifications)}</p> }.into_any(),
                    Some(Ok(list)) => view! {
                        <div class="table-wrap">
                            <table data-testid="run-notifications">
                                <thead><tr>
                                    <th scope="col">{tr(Key::EventColumn)}</th>
                                    <th scope="col">{tr(Key::DestinationColumn)}</th>
                                    <th scope="col">{tr(Key::DeliveryColumn)}</th>
                                    <th scope="col">{tr(Key::Finished)}</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|d| {
                                        let attempts = d.attempts;
                                        view! {
                                            <tr>
                                                <td>{tr(notification_event_key(d.event))}</td>
                                                <td>{move || destination_name(d.destination_id)}</td>
                                                <td>
                                                    <span class=format!("delivery delivery-{}", d.status.as_str()) data-status=d.status.as_str()>{tr(delivery_key(d.status))}</span>
                                                    {(attempts > 1).then(|| view! { " · " {move || fill(lang.get(), Key::AttemptsN, &[("n", &attempts.to_string())])} })}
                                                    {d.last_error.clone().map(|e| view! { <br/><span class="muted small">{e}</span> })}
                                                </td>
                                                <td><MaybeTime at=d.finished_at none=Key::NotYet/></td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    }
                    .into_any(),
                }}
            </section>
            <RunConfigPanel id/>
            <section class="panel">
                <h2>{tr(Key::Log)}</h2>
                {move || logs.with(Vec::is_empty).then(|| view! { <p class="muted">{tr(Key::NoLogYet)}</p> })}
                <ol class="log" data-testid="run-log" aria-live="polite" tabindex="0">
                    {move || logs.get().into_iter().map(|l| view! {
                        <li class=format!("log-{}", l.level.to_lowercase())>
                            <time datetime=l.at.to_rfc3339()>{crate::format::clock_time(lang.get(), &l.at)}</time>
                            " " <span class="log-level">{l.level.clone()}</span>
                            " " <span class="log-message">{l.message.clone()}</span>
                        </li>
                    }).collect_view()}
                </ol>
            </section>
        </div>
    }
}

/// What a run was given and computed: `resolved_inputs` holds `as_of` and `overrides`
/// from the request, and `variables` once the run has started.
#[derive(Debug, Clone, Default, PartialEq)]
struct RunInputs {
    as_of: Option<chrono::DateTime<chrono::Utc>>,
    /// Name, value, and whether the value was given for this run.
    values: Vec<(String, String, bool)>,
    /// Not resolved yet: only what was given is known.
    pending: bool,
}

impl RunInputs {
    fn of(inputs: &Value) -> Self {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let overrides = inputs.get("overrides").and_then(Value::as_object);
        let given = |name: &str| overrides.is_some_and(|o| o.contains_key(name));
        let as_of = inputs
            .get("as_of")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        match inputs.get("variables").and_then(Value::as_object) {
            Some(resolved) => RunInputs {
                as_of,
                values: resolved
                    .iter()
                    .map(|(k, v)| (k.clone(), text(v), given(k)))
                    .collect(),
                pending: false,
            },
            None => RunInputs {
                as_of,
                values: overrides
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), text(v), true))
                    .collect(),
                pending: as_of.is_some() || overrides.is_some(),
            },
        }
    }

    fn is_empty(&self) -> bool {
        self.as_of.is_none() && self.values.is_empty()
    }
}

/// A run's error in plain words, from the kind of failure its summary names. The summary
/// itself stays on the page as the detail.
fn plain_error(summary: &str, status: RunStatus) -> Key {
    let s = summary.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| s.contains(w));
    if status == RunStatus::TimedOut || has(&["timed out", "timeout", "time limit"]) {
        Key::PlainErrTimeout
    } else if status == RunStatus::Cancelled || has(&["cancelled", "canceled"]) {
        Key::PlainErrCancelled
    } else if has(&["check"]) {
        Key::PlainErrCheck
    } else if has(&["variable", "$"]) {
        Key::PlainErrVariable
    } else if has(&[
        "password authentication",
        "access denied for user",
        "authentication failed",
        "invalid credentials",
        "signature",
    ]) {
        Key::PlainErrAuth
    } else if has(&[
        "permission denied",
        "insufficient privilege",
        "command denied",
        "access denied",
    ]) {
        Key::PlainErrPermission
    } else if has(&[
        "does not exist",
        "doesn't exist",
        "unknown column",
        "unknown table",
        "no such",
        "not found",
    ]) {
        Key::PlainErrMissing
    } else if has(&[
        "connection refused",
        "could not connect",
        "could not reach",
        "connect to",
        "name resolution",
        "failed to lookup",
        "unreachable",
        "no route to host",
    ]) {
        Key::PlainErrConnect
    } else if has(&[
        "invalid input",
        "out of range",
        "too long",
        "violates",
        "duplicate key",
        "cannot be cast",
        "invalid value",
        "incorrect",
    ]) {
        Key::PlainErrData
    } else {
        Key::PlainErrOther
    }
}

fn check_outcome_key(outcome: CheckOutcome) -> Key {
    match outcome {
        CheckOutcome::Passed => Key::CheckOutcomePassed,
        CheckOutcome::Failed => Key::CheckOutcomeFailed,
        CheckOutcome::Warned => Key::CheckOutcomeWarned,
    }
}

fn delivery_key(status: DeliveryStatus) -> Key {
    match status {
        DeliveryStatus::Pending => Key::DeliveryPending,
        DeliveryStatus::Delivered => Key::DeliveryDelivered,
        DeliveryStatus::Failed => Key::DeliveryFailed,
        DeliveryStatus::Skipped => Key::DeliverySkipped,
    }
}

/// The data check results of a run, in the job's order.
#[component]
fn CheckTable(checks: Vec<CheckResultView>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table data-testid="run-checks">
                <thead><tr>
                    <th scope="col">{tr(Key::CheckColumn)}</th>
                    <th scope="col">{tr(Key::CheckResultColumn)}</th>
                    <th scope="col">{tr(Key::CheckValueColumn)}</th>
                    <th scope="col">{tr(Key::CheckExpectedColumn)}</th>
                </tr></thead>
                <tbody>
                    {checks.into_iter().map(|c| view! {
                        <tr data-testid="check-result">
                            <td>{c.name.clone()}</td>
                            <td>
                                <span class=format!("check-outcome check-{}", c.outcome.as_str()) data-outcome=c.outcome.as_str()>{tr(check_outcome_key(c.outcome))}</span>
                                {c.message.clone().map(|m| view! { <br/><span class="muted small">{m}</span> })}
                            </td>
                            <td><code>{c.actual.clone().unwrap_or_else(|| "NULL".to_owned())}</code></td>
                            <td><code>{format!("{} {}", c.operator, c.expected)}</code></td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

fn trigger_key(trigger: &str) -> Option<Key> {
    Some(match trigger {
        "backfill" => Key::TriggerBackfill,
        "manual" => Key::TriggerManual,
        "rerun" => Key::TriggerRerun,
        "retry" => Key::TriggerRetry,
        "schedule" => Key::TriggerSchedule,
        "api" => Key::TriggerApi,
        "workflow" => Key::TriggerWorkflow,
        _ => return None,
    })
}

/// Appends log lines, keeping the newest [`LOG_LINES_SHOWN`].
fn push_logs(logs: RwSignal<Vec<RunLogLine>>, lines: impl IntoIterator<Item = RunLogLine>) {
    logs.update(|l| {
        l.extend(lines);
        if l.len() > LOG_LINES_SHOWN {
            let cut = l.len() - LOG_LINES_SHOWN;
            l.drain(..cut);
        }
    });
}

#[cfg(target_arch = "wasm32")]
mod live {
    //! The browser's `EventSource` on the run's event stream. Open streams are kept in a
    //! registry by number, so the page's cleanup (which must be `Send`) can close its own.

    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;
    use web_sys::{EventSource, MessageEvent};

    type Handlers = Vec<Closure<dyn FnMut(MessageEvent)>>;

    thread_local! {
        static OPEN: RefCell<HashMap<u64, (EventSource, Handlers)>> = RefCell::new(HashMap::new());
        static NEXT: RefCell<u64> = const { RefCell::new(0) };
    }

    fn close(key: u64) {
        OPEN.with(|open| {
            if let Some((source, handlers)) = open.borrow_mut().remove(&key) {
                source.close();
                // `end` calls this from inside one of the handlers: drop them once it has
                // returned, never while it runs.
                spawn_local(async move { drop(handlers) });
            }
        });
    }

    pub fn follow(
        id: RunId,
        run: RwSignal<RunView>,
        logs: RwSignal<Vec<RunLogLine>>,
        live: RwSignal<bool>,
    ) {
        let Ok(source) = EventSource::new(&api::run_events_url(id)) else {
            return;
        };
        let key = NEXT.with(|n| {
            let mut n = n.borrow_mut();
            *n += 1;
            *n
        });
        live.set(true);
        let data = |e: &MessageEvent| e.data().as_string().unwrap_or_default();
        let on_progress = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Ok(view) = serde_json::from_str::<RunView>(&data(&e)) {
                run.set(view);
            }
        });
        let on_log = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Ok(line) = serde_json::from_str::<RunLogLine>(&data(&e)) {
                push_logs(logs, [line]);
            }
        });
        // The stream ends with `end`; closing stops the browser from reconnecting.
        let on_end = Closure::<dyn FnMut(MessageEvent)>::new(move |_e: MessageEvent| {
            live.set(false);
            close(key);
        });
        let _ = source
            .add_event_listener_with_callback("progress", on_progress.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("log", on_log.as_ref().unchecked_ref());
        let _ = source.add_event_listener_with_callback("end", on_end.as_ref().unchecked_ref());
        OPEN.with(|open| {
            open.borrow_mut()
                .insert(key, (source, vec![on_progress, on_log, on_end]));
        });
        on_cleanup(move || close(key));
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod live {
    use super::*;

    /// Off the browser there is no event stream; the page shows what it loaded.
    pub fn follow(
        _id: RunId,
        _run: RwSignal<RunView>,
        logs: RwSignal<Vec<RunLogLine>>,
        _live: RwSignal<bool>,
    ) {
        push_logs(logs, []);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_inputs_show_resolved_and_given_values() {
        let resolved = RunInputs::of(&serde_json::json!({
            "as_of": "2026-11-01T00:00:00Z",
            "overrides": {"day": "2026-10-31"},
            "variables": {"day": "2026-10-31", "run_id": "r1"},
        }));
        assert_eq!(
            resolved.values,
            vec![
                ("day".to_owned(), "2026-10-31".to_owned(), true),
                ("run_id".to_owned(), "r1".to_owned(), false),
            ]
        );
        assert!(resolved.as_of.is_some() && !resolved.pending);
        let queued = RunInputs::of(&serde_json::json!({"overrides": {"day": "x"}}));
        assert!(queued.pending);
        assert_eq!(queued.values.len(), 1);
        assert!(RunInputs::of(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn errors_read_in_plain_words() {
        let failed = RunStatus::Failed;
        assert_eq!(
            plain_error("relation \"orders_x\" does not exist", failed),
            Key::PlainErrMissing
        );
        assert_eq!(
            plain_error(
                "error connecting to db: Connection refused (os error 111)",
                failed
            ),
            Key::PlainErrConnect
        );
        assert_eq!(
            plain_error("password authentication failed for user \"bob\"", failed),
            Key::PlainErrAuth
        );
        assert_eq!(
            plain_error("data check \"no negatives\" failed: 3 > 0", failed),
            Key::PlainErrCheck
        );
        assert_eq!(
            plain_error("anything", RunStatus::TimedOut),
            Key::PlainErrTimeout
        );
        assert_eq!(plain_error("something odd", failed), Key::PlainErrOther);
    }
}

/// The config the run executes, fetched when asked for: it names hosts and users, so only
/// those who may see the connections' details get it (the server says so otherwise).
#[component]
fn RunConfigPanel(id: RunId) -> impl IntoView {
    let config = RwSignal::new(None::<Result<String, api::ApiError>>);
    let show = move |_| {
        spawn_local(async move {
            config.set(Some(api::run_config(id).await));
        });
    };
    view! {
        <section class="panel">
            <h2>{tr(Key::RunConfig)}</h2>
            <p class="hint">{tr(Key::RunConfigHint)}</p>
            {move || match config.get() {
                None => view! {
                    <button type="button" on:click=show data-testid="show-run-config">{tr(Key::ShowRunConfig)}</button>
                }.into_any(),
                Some(Ok(yaml)) => view! { <pre class="config" data-testid="run-config">{yaml}</pre> }.into_any(),
                Some(Err(e)) => view! { <LoadError error=e retry=move || config.set(None)/> }.into_any(),
            }}
        </section>
    }
}
