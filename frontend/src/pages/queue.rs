//! The queue: how many runs of the organization may go at once, what runs now and what
//! waits, in the order it will start. Counts cover the whole organization; the lists show
//! only the runs of jobs the reader can see. Organization admins change the limit (up to
//! the service's ceiling); everyone else reads it, with the reason they cannot change it.
//!
//! The page re-reads the queue every 5 seconds while it is mounted and the browser tab is
//! shown, so a waiting run is seen to start without pressing Refresh.

use crate::api;
use crate::components::{
    FieldError, FormProblem, LoadError, Loading, MaybeTime, NotAllowed, Submit, Time,
};
use crate::format;
use crate::forms::Form;
use crate::i18n::{Key, Lang, fill, tr, use_lang};
use crate::session::use_session;
use crate::widgets::runs::RunStatusBadge;
use hakobu_core::api::runs::{ConcurrencyRequest, QueueView, RunView};
use hakobu_core::authz::{Action, Target};
use hakobu_core::ids::JobId;
use hakobu_core::validation::FieldErrors;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use std::collections::HashMap;

#[component]
pub fn QueuePage() -> impl IntoView {
    crate::components::page_title(Key::NavQueue);
    let lang = use_lang();
    let queue = LocalResource::new(api::queue);
    let jobs = LocalResource::new(api::jobs);
    let names = Memo::new(move |_| {
        jobs.get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .map(|j| (j.id, j.name))
            .collect::<HashMap<JobId, String>>()
    });
    // The limit form is rebuilt only when the limits change, not on every refresh, so an
    // admin typing a new limit keeps what they typed.
    let limits = Memo::new(move |_| queue.get().and_then(Result::ok).map(|q| Limits::of(&q)));
    auto_refresh(queue, jobs);

    let body = move || match queue.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || queue.refetch()/> }.into_any(),
        Some(Ok(q)) => {
            let hidden_active = q.active_count > q.active.len() as i64;
            let hidden_queued = q.queued_count > q.queued.len() as i64;
            let (active_count, limit, queued_count) = (q.active_count, q.limit, q.queued_count);
            let running = move || {
                let lang = lang.get();
                fill(
                    lang,
                    Key::RunningOfLimit,
                    &[
                        ("n", &format::number(lang, active_count)),
                        ("limit", &format::number(lang, limit)),
                    ],
                )
            };
            let waiting = move || format::number(lang.get(), queued_count);
            view! {
                <section class="cards">
                    <div class="card">
                        <h2>{tr(Key::RunningNow)}</h2>
                        <p class="big" data-testid="queue-active">{running}</p>
                    </div>
                    <div class="card">
                        <h2>{tr(Key::QueuedNow)}</h2>
                        <p class="big" data-testid="queue-waiting">{waiting}</p>
                    </div>
                </section>
                {move || limits.get().map(|limits| view! { <LimitSection limits on_saved=move || queue.refetch()/> })}
                <section class="panel">
                    <h2>{tr(Key::RunningNow)}</h2>
                    {hidden_active.then(|| view! { <p class="hint">{tr(Key::SomeRunsHidden)}</p> })}
                    <QueueTable runs=q.active names waiting=false/>
                </section>
                <section class="panel">
                    <h2>{tr(Key::WaitingInOrder)}</h2>
                    {hidden_queued.then(|| view! { <p class="hint">{tr(Key::SomeRunsHidden)}</p> })}
                    <QueueTable runs=q.queued names waiting=true/>
                </section>
            }
            .into_any()
        }
    };

    view! {
        <div class="page">
            <header class="page-header with-actions">
                <div>
                    <h1>{tr(Key::NavQueue)}</h1>
                    <p class="lead">{tr(Key::QueueLead)}</p>
                    <p class="hint">{tr(Key::QueueAutoRefreshes)}</p>
                </div>
                <button type="button" on:click=move |_| { queue.refetch(); jobs.refetch(); }>{tr(Key::QueueRefresh)}</button>
            </header>
            {body}
        </div>
    }
}

/// How often the page re-reads the queue by itself.
const REFRESH_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Re-reads the queue (and the job names) every [`REFRESH_EVERY`] while the tab is shown;
/// the interval stops when the page is left.
fn auto_refresh<Q: 'static, J: 'static>(queue: LocalResource<Q>, jobs: LocalResource<J>) {
    let tick = move || {
        if !tab_hidden() {
            queue.refetch();
            jobs.refetch();
        }
    };
    if let Ok(handle) = set_interval_with_handle(tick, REFRESH_EVERY) {
        on_cleanup(move || handle.clear());
    }
}

/// Whether the browser tab is in the background (nothing to refresh for).
fn tab_hidden() -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        document().hidden()
    }
    #[cfg(not(target_arch = "wasm32"))]
    false
}

/// The limits of the queue, all the limit form needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Limits {
    organization_limit: Option<i64>,
    service_limit: i64,
}

impl Limits {
    fn of(q: &QueueView) -> Self {
        Limits {
            organization_limit: q.organization_limit,
            service_limit: q.service_limit,
        }
    }
}

/// The limit in words: the organization's own, or the service's ceiling.
fn limit_text(lang: Lang, q: &Limits) -> String {
    match q.organization_limit {
        Some(n) => fill(
            lang,
            Key::OrgLimitIs,
            &[
                ("n", &format::number(lang, n)),
                ("max", &format::number(lang, q.service_limit)),
            ],
        ),
        None => fill(
            lang,
            Key::ServiceLimitApplies,
            &[("max", &format::number(lang, q.service_limit))],
        ),
    }
}

/// Reads the limit box: empty means "the service's ceiling". Anything not in range gets
/// the page's own sentence, in the reader's language, naming the range.
fn parse_limit(
    lang: Lang,
    value: &str,
    service_limit: i64,
) -> Result<ConcurrencyRequest, FieldErrors> {
    let value = value.trim();
    let request = ConcurrencyRequest {
        max_concurrent_runs: if value.is_empty() {
            None
        } else {
            Some(value.parse::<i64>().unwrap_or(0))
        },
    };
    match request.validate(service_limit) {
        Ok(()) => Ok(request),
        Err(_) => {
            let mut errors = FieldErrors::default();
            errors.push(
                "max_concurrent_runs",
                fill(
                    lang,
                    Key::LimitRange,
                    &[("max", &format::number(lang, service_limit))],
                ),
            );
            Err(errors)
        }
    }
}

#[component]
fn LimitSection(limits: Limits, #[prop(into)] on_saved: Callback<()>) -> impl IntoView {
    let lang = use_lang();
    let session = use_session();
    // The server asks the same of `PUT /api/organization/concurrency`.
    let can_change = session.can_memo(Action::ManageMembers, Target::Organization);
    let form = Form::new("concurrency", &["max_concurrent_runs"]);
    let value = RwSignal::new(
        limits
            .organization_limit
            .map(|n| n.to_string())
            .unwrap_or_default(),
    );
    let saved = RwSignal::new(false);
    let service_limit = limits.service_limit;
    let current = move || limit_text(lang.get(), &limits);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let request = match parse_limit(lang.get_untracked(), &value.get_untracked(), service_limit)
        {
            Ok(r) => r,
            Err(errors) => {
                form.invalid(errors);
                return;
            }
        };
        form.start();
        spawn_local(async move {
            match api::set_concurrency(&request).await {
                Ok(()) => {
                    form.done();
                    saved.set(true);
                    on_saved.run(());
                }
                Err(e) => form.fail(e),
            }
        });
    };
    let input_id = form.input_id("max_concurrent_runs");
    let hint_id = format!("{input_id}-hint");
    view! {
        <section class="panel">
            <h2>{tr(Key::ConcurrencyLimit)}</h2>
            <p data-testid="concurrency-limit">{current}</p>
            {move || {
                if !can_change.get() {
                    return view! { <NotAllowed reason=Key::OnlyAdminsConcurrency/> }.into_any();
                }
                let input_id = input_id.clone();
                let hint_id = hint_id.clone();
                view! {
                    <form on:submit=submit novalidate=true class="inline-form">
                        <div class="field" class:invalid=move || form.error("max_concurrent_runs").is_some()>
                            <label for=input_id.clone()>{tr(Key::RunsAtOnce)}</label>
                            <input
                                id=input_id.clone()
                                type="number"
                                min="1"
                                max=service_limit.to_string()
                                autocomplete="off"
                                aria-describedby=hint_id.clone()
                                aria-invalid=move || form.error("max_concurrent_runs").is_some().to_string()
                                prop:value=move || value.get()
                                on:input=move |ev| value.set(event_target_value(&ev))
                            />
                            <p class="hint" id=hint_id>
                                {move || fill(lang.get(), Key::RunsAtOnceHint, &[("max", &format::number(lang.get(), service_limit))])}
                            </p>
                            <FieldError form field="max_concurrent_runs" label=Key::RunsAtOnce error_id=format!("{input_id}-error")/>
                        </div>
                        <FormProblem form/>
                        <Submit form label=Key::SaveAdminChanges/>
                        {move || saved.get().then(|| view! { <p class="saved" role="status">{tr(Key::LimitSaved)}</p> })}
                    </form>
                }
                .into_any()
            }}
        </section>
    }
}

#[component]
fn QueueTable(
    runs: Vec<RunView>,
    names: Memo<HashMap<JobId, String>>,
    waiting: bool,
) -> impl IntoView {
    let lang = use_lang();
    if runs.is_empty() {
        let key = if waiting {
            Key::NothingWaiting
        } else {
            Key::NothingRunning
        };
        return view! { <p class="muted">{tr(key)}</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
            <table data-testid=if waiting { "queue-waiting-table" } else { "queue-active-table" }>
                <thead>
                    <tr>
                        {waiting.then(|| view! { <th scope="col">{tr(Key::QueuePosition)}</th> })}
                        <th scope="col">{tr(Key::Job)}</th>
                        <th scope="col">{tr(Key::Status)}</th>
                        <th scope="col">{tr(Key::Queued)}</th>
                        <th scope="col">{tr(Key::Started)}</th>
                        <th scope="col">{tr(Key::RowsWritten)}</th>
                    </tr>
                </thead>
                <tbody>
                    {runs
                        .into_iter()
                        .map(|r| {
                            let job = r.job_id;
                            let name = move || names.with(|n| n.get(&job).cloned().unwrap_or_else(|| job.to_string()));
                            // Positions count the runs ahead; people count from 1.
                            let position = r.queue_position.map(|p| p + 1);
                            let rows = r.rows_written;
                            let held = r.held_by_its_job;
                            view! {
                                <tr data-testid="queue-row">
                                    {waiting.then(|| view! { <td>{move || position.map(|p| format::number(lang.get(), p)).unwrap_or_default()}</td> })}
                                    <td><A href=format!("/runs/{}", r.id)>{name}</A></td>
                                    <td>
                                        <RunStatusBadge status=r.status/>
                                        {held.then(|| view! { <span class="hint block" data-testid="held-by-its-job">{tr(Key::HeldByItsJob)}</span> })}
                                    </td>
                                    <td><Time at=r.queued_at/></td>
                                    <td><MaybeTime at=r.started_at none=Key::NotYet/></td>
                                    <td class="num">{move || format::number(lang.get(), rows)}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_box_reads_empty_as_the_ceiling_and_refuses_out_of_range() {
        assert_eq!(
            parse_limit(Lang::En, " ", 8).unwrap().max_concurrent_runs,
            None
        );
        assert_eq!(
            parse_limit(Lang::En, "3", 8).unwrap().max_concurrent_runs,
            Some(3)
        );
        for bad in ["0", "9", "1.5", "many"] {
            let e = parse_limit(Lang::Ja, bad, 8).unwrap_err();
            assert_eq!(e.0[0].field, "max_concurrent_runs");
            assert!(e.0[0].message.contains('8'), "{}", e.0[0].message);
        }
    }
}
