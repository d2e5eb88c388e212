//! The dashboard. Transfers do not exist yet, so it says so plainly and shows what does:
//! the organization, the user's role and teams, and how many members and teams there are.

use crate::api;
use crate::format;
use crate::i18n::{Key, fill, role_name, team_role_name, tr, use_lang};
use crate::session::use_session;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn DashboardPage() -> impl IntoView {
    crate::components::page_title(Key::NavDashboard);
    let session = use_session();
    let lang = use_lang();
    let members = LocalResource::new(api::members);
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
            <section class="panel">
                <h2>{tr(Key::TransfersTitle)}</h2>
                <div class="empty">
                    <p class="empty-title">{tr(Key::TransfersEmptyTitle)}</p>
                    <p>{tr(Key::TransfersEmptyBody)}</p>
                </div>
            </section>
        </div>
    }
}
