//! The dashboard: what runs now, what waits in the queue, what failed in the last 24
//! hours and the latest runs; then the organization, the user's role and teams.

use crate::api::{self, RunQuery};
use crate::components::{Empty, LoadError, Loading};
use crate::format;
use crate::i18n::{Key, fill, role_name, team_role_name, tr, use_lang};
use crate::session::use_session;
use crate::widgets::runs::RunsTable;
use hakobu_core::api::runs::RunStatus;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn DashboardPage() -> impl IntoView {
    crate::components::page_title(Key::NavDashboard);
    let session = use_session();
    let lang = use_lang();
    let members = LocalResource::new(api::members);
    // Totals come from `total` of one-row pages; the list from the newest runs.
    let count_runs = |status: RunStatus, since_hours: Option<i64>| async move {
        let query = RunQuery {
            status: Some(status),
            from: since_hours.map(|h| chrono::Utc::now() - chrono::Duration::hours(h)),
            page: 1,
            per_page: 1,
            ..RunQuery::default()
        };
        api::runs(&query).await.map(|p| p.total)
    };
    let running = LocalResource::new(move || async move {
        Ok::<_, api::ApiError>(
            count_runs(RunStatus::Running, None).await?
                + count_runs(RunStatus::Starting, None).await?,
        )
    });
    let queued = LocalResource::new(move || count_runs(RunStatus::Queued, None));
    let failed = LocalResource::new(move || async move {
        Ok::<_, api::ApiError>(
            count_runs(RunStatus::Failed, Some(24)).await?
                + count_runs(RunStatus::TimedOut, Some(24)).await?,
        )
    });
    let recent = LocalResource::new(|| async {
        api::runs(&RunQuery {
            page: 1,
            per_page: 10,
            ..RunQuery::default()
        })
        .await
    });
    let jobs = LocalResource::new(api::jobs);
    let figure = move |r: Option<Result<i64, api::ApiError>>| match r {
        Some(Ok(n)) => format::number(lang.get(), n),
        Some(Err(_)) => "—".to_owned(),
        None => "…".to_owned(),
    };
    let recent_runs = move || match recent.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || recent.refetch()/> }.into_any(),
        Some(Ok(p)) if p.items.is_empty() => {
            view! { <Empty title=Key::NoRunsTitle body=Key::NoRunsDashboard/> }.into_any()
        }
        Some(Ok(p)) => {
            let names = jobs
                .get()
                .and_then(|r| r.ok())
                .unwrap_or_default()
                .into_iter()
                .map(|j| (j.id, j.name))
                .collect();
            view! { <RunsTable runs=p.items job_names=names/> }.into_any()
        }
    };
    let teams = LocalResource::new(api::teams);

    let me = move || session.me.get();
    let greeting = move || me().map(|m| fill(lang.get(), Key::Welcome, &[("name", &m.name)]));
    let org = move || me().map(|m| m.organization_name);
    let role = move || me().map(|m| role_name(lang.get(), m.org_role));
    let count = move |n: Option<usize>| {
        n.map(|n| format::number(lang.get(), n as i64))
            .unwrap_or_else(|| "…".to_owned())
    };
    let member_count = move || count(members.get().and_then(|r| r.ok()).map(|v| v.len()));
    let team_count = move || count(teams.get().and_then(|r| r.ok()).map(|v| v.len()));

    let my_teams = move || {
        let lang = lang.get();
        let teams = me().map(|m| m.teams).unwrap_or_default();
        if teams.is_empty() {
            view! { <p class="muted">{Key::NoTeamsYet.text(lang)}</p> }.into_any()
        } else {
            view! {
                <ul class="plain-list">
                    {teams
                        .into_iter()
                        .map(|t| {
                            view! {
                                <li>
                                    <A href=format!("/teams/{}", t.team_id)>{t.name}</A>
                                    " "
                                    <span class="badge">{team_role_name(lang, t.role)}</span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            }
            .into_any()
        }
    };

    view! {
        <div class="page">
            <header class="page-header">
                <h1>{tr(Key::NavDashboard)}</h1>
                <p class="lead">{greeting}</p>
            </header>
            <section class="cards" aria-label=move || Key::TransfersTitle.text(lang.get())>
                <div class="card">
                    <h2>{tr(Key::RunningNow)}</h2>
                    <p class="big" data-testid="running-count">{move || figure(running.get())}</p>
                    <p><A href="/runs">{tr(Key::SeeRuns)}</A></p>
                </div>
                <div class="card">
                    <h2>{tr(Key::QueuedNow)}</h2>
                    <p class="big" data-testid="queued-count">{move || figure(queued.get())}</p>
                    <p><A href="/queue">{tr(Key::SeeQueue)}</A></p>
                </div>
                <div class="card" class:card-alert=move || matches!(failed.get(), Some(Ok(n)) if n > 0)>
                    <h2>{tr(Key::FailedLastDay)}</h2>
                    <p class="big" data-testid="failed-count">{move || figure(failed.get())}</p>
                </div>
            </section>
            <section class="panel">
                <h2>{tr(Key::RecentRuns)}</h2>
                {recent_runs}
            </section>
            <section class="cards">
                <div class="card">
                    <h2>{tr(Key::Organization)}</h2>
                    <p class="big" data-testid="dashboard-org">{org}</p>
                    <p>{tr(Key::YourRole)} ": " <span class="badge">{role}</span></p>
                </div>
                <div class="card">
                    <h2>{tr(Key::NavMembers)}</h2>
                    <p class="big">{member_count}</p>
                    <p><A href="/members">{tr(Key::SeeMembers)}</A></p>
                </div>
                <div class="card">
                    <h2>{tr(Key::NavTeams)}</h2>
                    <p class="big">{team_count}</p>
                    <p><A href="/teams">{tr(Key::SeeTeams)}</A></p>
                </div>
            </section>
            <section class="panel">
                <h2>{tr(Key::YourTeams)}</h2>
                {my_teams}
            </section>
        </div>
    }
}
