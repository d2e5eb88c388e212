//! Runs: the list with a status filter, and one run's page: status, a live progress bar
//! with rows and rows per second, the log as it is written (Server-Sent Events from
//! `GET /api/runs/{id}/events`), resolved variables, the error in plain words, and cancel
//! and re-run for those who may run the job.

use crate::api::{self, ApiError, RunQuery};
use crate::components::{ConfirmButton, Empty, LoadError, Loading, MaybeTime, Time};
use crate::format;
use crate::i18n::{Key, Lang, fill, tr, use_lang};
use crate::pages::jobs::RunsTable;
use crate::pages::members::ActionErrorNotice;
use hakobu_core::api::runs::{RunLogLine, RunStatus, RunView};
use hakobu_core::authz::TeamRole;
use hakobu_core::ids::RunId;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};
use serde_json::Value;

/// Lines of log kept on the page; older ones are dropped from the view (the API has them).
const LOG_LINES_SHOWN: usize = 1000;

pub fn status_key(status: RunStatus) -> Key {
    match status {
        RunStatus::Queued => Key::StatusQueued,
        RunStatus::Starting => Key::StatusStarting,
        RunStatus::Running => Key::StatusRunning,
        RunStatus::Succeeded => Key::StatusSucceeded,
        RunStatus::Failed => Key::StatusFailed,
        RunStatus::Cancelled => Key::StatusCancelled,
        RunStatus::TimedOut => Key::StatusTimedOut,
    }
}

/// The status in words, with the machine word for tests and filters in `data-status`.
#[component]
pub fn RunStatusBadge(status: RunStatus) -> impl IntoView {
    view! {
        <span class=format!("run-status run-status-{}", status.as_str()) data-status=status.as_str()>
            {tr(status_key(status))}
        </span>
    }
}

/// Seconds between start and end (or now, for a run still going).
pub fn run_duration_seconds(run: &RunView) -> Option<f64> {
    let start = run.started_at?;
    let end = run.finished_at?;
    Some(((end - start).num_milliseconds() as f64 / 1000.0).max(0.0))
}

fn elapsed_seconds(run: &RunView) -> Option<f64> {
    let start = run.started_at?;
    let end = run.finished_at.unwrap_or_else(chrono::Utc::now);
    Some(((end - start).num_milliseconds() as f64 / 1000.0).max(0.0))
}

/// `75.0` -> "1 min 15 s" / "1 分 15 秒".
pub fn duration_text(lang: Lang, seconds: f64) -> String {
    let total = seconds.round() as i64;
    if seconds < 10.0 {
        return fill(
            lang,
            Key::DurationSeconds,
            &[("s", &format!("{seconds:.1}"))],
        );
    }
    if total < 60 {
        return fill(lang, Key::DurationSeconds, &[("s", &total.to_string())]);
    }
    if total < 3600 {
        return fill(
            lang,
            Key::DurationMinutes,
            &[
                ("m", &(total / 60).to_string()),
                ("s", &(total % 60).to_string()),
            ],
        );
    }
    fill(
        lang,
        Key::DurationHours,
        &[
            ("h", &(total / 3600).to_string()),
            ("m", &(total % 3600 / 60).to_string()),
        ],
    )
}

// --- the list ---------------------------------------------------------------------------

#[component]
pub fn RunsPage() -> impl IntoView {
    crate::components::page_title(Key::NavRuns);
    let lang = use_lang();
    let status = RwSignal::new(None::<RunStatus>);
    let page = RwSignal::new(1_i64);
    let per_page = 50;
    let runs = LocalResource::new(move || {
        let query = RunQuery {
            status: status.get(),
            page: page.get(),
            per_page,
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
            view! {
                <RunsTable runs=p.items job_names=names()/>
                <div class="pager">
                    <button type="button" disabled=move || { page.get() <= 1 } on:click=move |_| page.update(|p| *p -= 1)>{tr(Key::Previous)}</button>
                    <span>{move || fill(lang.get(), Key::PageOf, &[("page", &page.get().to_string()), ("pages", &pages.to_string()), ("total", &p.total.to_string())])}</span>
                    <button type="button" disabled=move || { page.get() >= pages } on:click=move |_| page.update(|p| *p += 1)>{tr(Key::Next)}</button>
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
                            page.set(1);
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
            // The total is not known ahead of a run: an indeterminate bar, with the counts.
            view! { <progress aria-labelledby="run-progress-label"></progress> }.into_any()
        } else {
            view! { <progress max="1" value="0" aria-labelledby="run-progress-label"></progress> }
                .into_any()
        }
    };
    let variables = move || {
        run.with(|r| match &r.resolved_inputs {
            Value::Object(m) if !m.is_empty() => Some(
                m.iter()
                    .map(|(k, v)| {
                        let v = match v {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        (k.clone(), v)
                    })
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
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
                    <dd>{move || run.with(elapsed_seconds).map(|s| duration_text(lang.get(), s)).unwrap_or_else(|| "—".to_owned())}</dd>
                    <dt>{tr(Key::Attempt)}</dt>
                    <dd>{move || run.with(|r| format!("{} / {}", r.attempt, r.max_attempts))}</dd>
                    <dt>{tr(Key::Trigger)}</dt>
                    <dd>{move || run.with(|r| trigger_key(&r.trigger)).map(|k| k.text(lang.get()).to_owned()).unwrap_or_else(|| run.with(|r| r.trigger.clone()))}</dd>
                    <dt>{tr(Key::JobRevisionLabel)}</dt>
                    <dd>{initial.job_revision.to_string()}</dd>
                    {move || run.with(|r| r.queue_position).map(|p| view! {
                        <dt>{tr(Key::QueuePosition)}</dt>
                        <dd>{fill(lang.get(), Key::RunsAhead, &[("n", &p.to_string())])}</dd>
                    })}
                </dl>
            </section>
            {move || run.with(|r| r.error_summary.clone()).map(|e| view! {
                <section class="panel error-summary" role="alert">
                    <h2>{tr(Key::WhatWentWrong)}</h2>
                    <p data-testid="run-error">{e}</p>
                    <p class="hint">{tr(Key::ErrorNextSteps)}</p>
                </section>
            })}
            {move || variables().map(|vars| view! {
                <section class="panel">
                    <h2>{tr(Key::ResolvedVariables)}</h2>
                    <dl class="facts">
                        {vars.into_iter().map(|(k, v)| view! { <dt><code>{format!("${k}$")}</code></dt><dd>{v}</dd> }).collect_view()}
                    </dl>
                </section>
            })}
            <section class="panel">
                <h2>{tr(Key::Log)}</h2>
                {move || logs.with(Vec::is_empty).then(|| view! { <p class="muted">{tr(Key::NoLogYet)}</p> })}
                <ol class="log" data-testid="run-log" aria-live="polite" tabindex="0">
                    {move || logs.get().into_iter().map(|l| view! {
                        <li class=format!("log-{}", l.level.to_lowercase())>
                            <time datetime=l.at.to_rfc3339()>{l.at.format("%H:%M:%S").to_string()}</time>
                            " " <span class="log-level">{l.level.clone()}</span>
                            " " <span class="log-message">{l.message.clone()}</span>
                        </li>
                    }).collect_view()}
                </ol>
            </section>
        </div>
    }
}

fn trigger_key(trigger: &str) -> Option<Key> {
    Some(match trigger {
        "manual" => Key::TriggerManual,
        "rerun" => Key::TriggerRerun,
        "retry" => Key::TriggerRetry,
        "schedule" => Key::TriggerSchedule,
        "api" => Key::TriggerApi,
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
    fn durations_read_naturally() {
        assert_eq!(duration_text(Lang::En, 2.345), "2.3 s");
        assert_eq!(duration_text(Lang::En, 42.0), "42 s");
        assert_eq!(duration_text(Lang::En, 75.0), "1 min 15 s");
        assert_eq!(duration_text(Lang::En, 3725.0), "1 h 2 min");
        assert_eq!(duration_text(Lang::Ja, 75.0), "1 分 15 秒");
    }
}
