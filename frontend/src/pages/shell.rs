//! The frame around every signed-in page: the top bar (organization, language, account,
//! sign out), the navigation, and the page itself inside an `ErrorBoundary`.

use crate::api;
use crate::components::{LanguageSwitch, Loading, error_fallback};
use crate::format;
use crate::i18n::{Key, role_name, tr, use_lang};
use crate::session::use_session;
use hakobu_core::authz::{Action, Target};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{A, Outlet};
use leptos_router::hooks::{use_location, use_navigate};

#[component]
pub fn Shell() -> impl IntoView {
    let session = use_session();
    let location = use_location();
    let navigate = use_navigate();

    // Signed out (never signed in, session expired, signed out in another tab): go to the
    // sign-in page and come back here afterwards.
    Effect::new(move |_| {
        if session.checked.get() && session.me.with(Option::is_none) {
            let path = location.pathname.get_untracked();
            // The shell is about to unmount (we are already on a public page).
            if crate::pages::sign_in::is_public(&path) {
                return;
            }
            let here = path + &location.search.get_untracked();
            let next = if here == "/" {
                String::new()
            } else {
                format!("?next={}", api::encode_query_value(&here))
            };
            navigate(&format!("/signin{next}"), Default::default());
        }
    });

    // Roles change while people work (an admin promotes someone); re-reading them on each
    // navigation keeps what the UI offers in step with what the server allows.
    Effect::new(move |previous: Option<String>| {
        let path = location.pathname.get();
        if previous.is_some_and(|p| p != path) {
            session.refresh();
        }
        path
    });

    view! {
        <Show when=move || session.me.with(Option::is_some) fallback=|| view! { <div class="boot"><Loading/></div> }>
            <div class="shell">
                <a class="skip-link" href="#main">{tr(Key::SkipToContent)}</a>
                <TopBar/>
                <Nav/>
                <main id="main" tabindex="-1">
                    <ErrorBoundary fallback=error_fallback>
                        <Outlet/>
                    </ErrorBoundary>
                </main>
                <Footer/>
            </div>
        </Show>
    }
}

#[component]
fn TopBar() -> impl IntoView {
    let session = use_session();
    let lang = use_lang();
    let org = move || {
        session
            .me
            .with(|m| m.as_ref().map(|m| m.organization_name.clone()))
    };
    let name = move || session.me.with(|m| m.as_ref().map(|m| m.name.clone()));
    let role = move || {
        session
            .me
            .with(|m| m.as_ref().map(|m| role_name(lang.get(), m.org_role)))
    };
    let sign_out = move |_| {
        spawn_local(async move {
            // Even if the server cannot be reached, forget the user here; the shell then
            // goes to the sign-in page.
            let _ = api::logout().await;
            session.me.set(None);
        });
    };
    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">
                <span class="brand-mark" aria-hidden="true">"運"</span>
                <span class="brand-name">"Hakobu"</span>
            </A>
            <span class="org-name" data-testid="org-name">{org}</span>
            <div class="topbar-right">
                <LanguageSwitch/>
                <A href="/account" attr:class="who">
                    <span class="who-name">{name}</span>
                    <span class="badge">{role}</span>
                </A>
                <button type="button" class="link-button" on:click=sign_out>
                    {tr(Key::SignOut)}
                </button>
            </div>
        </header>
    }
}

#[component]
fn Nav() -> impl IntoView {
    let session = use_session();
    let can_audit = move || session.can(Action::ViewAuditLog, Target::Organization);
    view! {
        <nav class="sidebar" aria-label=move || tr(Key::MainNavigation)()>
            <ul>
                <li><A href="/" exact=true>{tr(Key::NavDashboard)}</A></li>
                <li class="nav-group">{tr(Key::NavTransfers)}</li>
                <li><A href="/connections">{tr(Key::NavConnections)}</A></li>
                <li><A href="/jobs">{tr(Key::NavJobs)}</A></li>
                <li><A href="/runs">{tr(Key::NavRuns)}</A></li>
                <li><A href="/workflows">{tr(Key::NavWorkflows)}</A></li>
                <li><A href="/schedules">{tr(Key::NavSchedules)}</A></li>
                <li><A href="/queue">{tr(Key::NavQueue)}</A></li>
                <li><A href="/insights">{tr(Key::NavInsights)}</A></li>
                <li class="nav-group">{tr(Key::NavOrganization)}</li>
                <li><A href="/members">{tr(Key::NavMembers)}</A></li>
                <li><A href="/teams">{tr(Key::NavTeams)}</A></li>
                <li><A href="/notifications">{tr(Key::NavNotifications)}</A></li>
                // Only organization admins may read the audit log; others do not see the link.
                <Show when=can_audit>
                    <li><A href="/audit">{tr(Key::NavAudit)}</A></li>
                </Show>
                <li class="nav-group">{tr(Key::NavYou)}</li>
                <li><A href="/tokens">{tr(Key::NavTokens)}</A></li>
                <li><A href="/account">{tr(Key::NavAccount)}</A></li>
            </ul>
        </nav>
    }
}

#[component]
fn Footer() -> impl IntoView {
    let lang = use_lang();
    let zone = move || {
        let (id, name) = format::time_zone(lang.get());
        Key::TimesShownIn
            .text(lang.get())
            .replace("{zone}", &name)
            .replace("{id}", &id)
    };
    view! { <footer class="footer"><p>{zone}</p></footer> }
}
