//! Every schedule of the organization's jobs the reader can see, soonest first: when each
//! fires next (in the reader's time zone, with the zone's name), its recurrence in the
//! schedule's own zone, and why a schedule turned itself off. Several can be turned on or
//! off at once; only the schedules of jobs the reader edits can be chosen (the server's
//! `EditResource` on the job, which `your_role` on the job reports).

use crate::api::{self, ApiError};
use crate::components::{ActionErrorNotice, Empty, LoadError, Loading, MaybeTime, Time};
use crate::format;
use crate::i18n::{Key, fill, tr, use_lang};
use crate::widgets::schedule_form::recurrence_text;
use hakobu_core::api::jobs::JobView;
use hakobu_core::api::schedules::{BulkEnableRequest, ScheduleView};
use hakobu_core::authz::{Action, Decision, OrgRole, Principal, Target, TeamRole, authorize};
use hakobu_core::ids::{JobId, ScheduleId, TeamId};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use std::collections::{BTreeSet, HashMap};

/// Whether the reader may turn a job's schedules on and off. `role` is the reader's role
/// on the job as the server computed it (`your_role`, shares included); the answer is the
/// policy's own for `EditResource` at that role.
fn can_edit(role: Option<TeamRole>) -> bool {
    let Some(role) = role else {
        return false;
    };
    let team = TeamId::new();
    let who = Principal {
        org_role: OrgRole::Member,
        team_roles: [(team, role)].into_iter().collect(),
    };
    authorize(
        &who,
        Action::EditResource,
        Target::Resource {
            owner: team,
            shares: &[],
        },
    ) == Decision::Allow
}

#[component]
pub fn SchedulesPage() -> impl IntoView {
    crate::components::page_title(Key::NavSchedules);
    let lang = use_lang();
    let schedules = LocalResource::new(api::all_schedules);
    let jobs = LocalResource::new(api::jobs);
    let selected = RwSignal::new(BTreeSet::<ScheduleId>::new());
    let action_error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let changed = RwSignal::new(None::<(usize, bool)>);

    let roles = Memo::new(move |_| {
        jobs.get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            .map(|j: JobView| (j.id, j.your_role))
            .collect::<HashMap<JobId, TeamRole>>()
    });
    let editable = Memo::new(move |_| {
        let roles = roles.get();
        schedules
            .get()
            .and_then(Result::ok)
            .unwrap_or_default()
            .into_iter()
            // A workflow's schedule is changed on the workflow's page (the roles here are jobs').
            .filter(|s| can_edit(s.job_id.and_then(|j| roles.get(&j).copied())))
            .map(|s| s.id)
            .collect::<BTreeSet<_>>()
    });

    let apply = move |enabled: bool| {
        let ids: Vec<ScheduleId> = selected.get_untracked().into_iter().collect();
        let request = BulkEnableRequest { ids, enabled };
        if request.validate().is_err() {
            return;
        }
        busy.set(true);
        changed.set(None);
        spawn_local(async move {
            match api::bulk_enable_schedules(&request).await {
                Ok(views) => {
                    changed.set(Some((views.len(), enabled)));
                    selected.set(BTreeSet::new());
                    schedules.refetch();
                }
                Err(e) => action_error.set(Some(e)),
            }
            busy.set(false);
        });
    };

    let toolbar = move || {
        let count = selected.with(BTreeSet::len);
        let none_editable = editable.with(BTreeSet::is_empty);
        view! {
            <div class="toolbar" role="group" aria-label=move || Key::BulkActions.text(lang.get())>
                <span data-testid="selected-count">
                    {move || fill(lang.get(), Key::SelectedCount, &[("n", &format::number(lang.get(), count as i64))])}
                </span>
                <button type="button" disabled=move || count == 0 || busy.get() on:click=move |_| apply(true)>
                    {tr(Key::EnableSelected)}
                </button>
                <button type="button" disabled=move || count == 0 || busy.get() on:click=move |_| apply(false)>
                    {tr(Key::DisableSelected)}
                </button>
                {none_editable.then(|| view! { <p class="not-allowed">{tr(Key::OnlyEditorsSchedules)}</p> })}
            </div>
        }
    };

    let table = move || match schedules.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || schedules.refetch()/> }.into_any(),
        Some(Ok(list)) if list.is_empty() => {
            view! { <Empty title=Key::NoSchedulesTitle body=Key::NoSchedulesBody/> }.into_any()
        }
        Some(Ok(list)) => {
            let all_chosen = move || {
                let editable = editable.get();
                !editable.is_empty() && selected.with(|s| editable.is_subset(s))
            };
            view! {
                {toolbar}
                <div class="table-wrap">
                    <table data-testid="schedules-table">
                        <thead>
                            <tr>
                                <th scope="col">
                                    <input
                                        type="checkbox"
                                        aria-label=move || Key::SelectAllSchedules.text(lang.get())
                                        disabled=move || editable.with(BTreeSet::is_empty)
                                        prop:checked=all_chosen
                                        on:change=move |ev| {
                                            if event_target_checked(&ev) {
                                                selected.set(editable.get_untracked());
                                            } else {
                                                selected.set(BTreeSet::new());
                                            }
                                        }
                                    />
                                </th>
                                <th scope="col">{tr(Key::Job)}</th>
                                <th scope="col">{tr(Key::ScheduleWhen)}</th>
                                <th scope="col">{tr(Key::ScheduleNextFire)}</th>
                                <th scope="col">{tr(Key::ScheduleLastFired)}</th>
                                <th scope="col">{tr(Key::Status)}</th>
                            </tr>
                        </thead>
                        <tbody>
                            {list
                                .into_iter()
                                .map(|s| view! { <ScheduleRow schedule=s roles selected/> })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
            }
            .into_any()
        }
    };

    let done =
        move || {
            changed.get().map(|(n, enabled)| {
            let key = if enabled { Key::SchedulesEnabled } else { Key::SchedulesDisabled };
            view! {
                <p class="saved" role="status" data-testid="bulk-result">
                    {move || fill(lang.get(), key, &[("n", &format::number(lang.get(), n as i64))])}
                </p>
            }
        })
        };

    view! {
        <div class="page">
            <header class="page-header">
                <h1>{tr(Key::NavSchedules)}</h1>
                <p class="lead">{tr(Key::SchedulesLead)}</p>
            </header>
            <ActionErrorNotice action_error/>
            {done}
            <section class="panel">{table}</section>
        </div>
    }
}

#[component]
fn ScheduleRow(
    schedule: ScheduleView,
    roles: Memo<HashMap<JobId, TeamRole>>,
    selected: RwSignal<BTreeSet<ScheduleId>>,
) -> impl IntoView {
    let lang = use_lang();
    let id = schedule.id;
    let job_id = schedule.job_id;
    let allowed = move || roles.with(|r| can_edit(job_id.and_then(|j| r.get(&j).copied())));
    let href = match (schedule.job_id, schedule.workflow_id) {
        (Some(job), _) => format!("/jobs/{job}"),
        (None, Some(workflow)) => format!("/workflows/{workflow}"),
        (None, None) => String::new(),
    };
    let check_id = format!("schedule-{id}");
    let job_name = StoredValue::new(schedule.target_name.clone());
    let when = {
        let settings = schedule.settings.clone();
        move || {
            format!(
                "{} ({})",
                recurrence_text(lang.get(), &settings.recurrence),
                settings.timezone
            )
        }
    };
    let status = {
        let reason = schedule.disabled_reason.clone();
        let failures = schedule.consecutive_failures;
        let enabled = schedule.enabled;
        move || {
            let lang = lang.get();
            match (enabled, &reason) {
                (true, _) => view! {
                    <span class="status status-active">{Key::ScheduleOn.text(lang)}</span>
                    {(failures > 0).then(|| view! {
                        <p class="hint">{fill(lang, Key::FailuresInARow, &[("n", &format::number(lang, failures as i64))])}</p>
                    })}
                }
                .into_any(),
                (false, None) => {
                    view! { <span class="status status-off">{Key::ScheduleOff.text(lang)}</span> }
                        .into_any()
                }
                // The reason is the server's own sentence (it quotes the last error).
                (false, Some(reason)) => view! {
                    <span class="status status-failed">{Key::ScheduleTurnedOff.text(lang)}</span>
                    <p class="hint" data-testid="disabled-reason">{reason.clone()}</p>
                }
                .into_any(),
            }
        }
    };
    let next = match schedule.next_fire_at {
        Some(at) => view! { <Time at/> }.into_any(),
        None => view! { <span class="muted">{tr(Key::NotWhileOff)}</span> }.into_any(),
    };
    view! {
        <tr data-testid="schedule-row" data-job=job_name.get_value()>
            <td>
                <input
                    type="checkbox"
                    id=check_id
                    aria-label=move || fill(lang.get(), Key::SelectSchedule, &[("job", &job_name.get_value())])
                    disabled=move || !allowed()
                    title=move || (!allowed()).then(|| Key::OnlyEditorsSchedules.text(lang.get()))
                    prop:checked=move || selected.with(|s| s.contains(&id))
                    on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        selected.update(|s| {
                            if on {
                                s.insert(id);
                            } else {
                                s.remove(&id);
                            }
                        });
                    }
                />
            </td>
            <td><A href=href>{job_name.get_value()}</A></td>
            <td>{when}</td>
            <td>{next}</td>
            <td><MaybeTime at=schedule.last_fired_at none=Key::NotYet/></td>
            <td>{status}</td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::can_edit;
    use hakobu_core::authz::TeamRole;

    #[test]
    fn only_editors_and_admins_change_schedules() {
        assert!(!can_edit(None));
        assert!(!can_edit(Some(TeamRole::Viewer)));
        assert!(!can_edit(Some(TeamRole::Operator)));
        assert!(can_edit(Some(TeamRole::Editor)));
        assert!(can_edit(Some(TeamRole::Admin)));
    }
}
