//! The signed-in user's account: who they are, their teams, and a password change.

use crate::api;
use crate::components::{FormProblem, Submit, TextField};
use crate::forms::Form;
use crate::i18n::{Key, role_name, team_role_name, tr, use_lang};
use crate::session::use_session;
use hakobu_core::api::auth::ChangePasswordRequest;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;

#[component]
pub fn AccountPage() -> impl IntoView {
    crate::components::page_title(Key::NavAccount);
    let session = use_session();
    let lang = use_lang();
    let me = move || session.me.get();
    let teams = move || {
        let lang = lang.get();
        let teams = me().map(|m| m.teams).unwrap_or_default();
        if teams.is_empty() {
            Key::NoTeamsYet.text(lang).to_owned()
        } else {
            teams
                .iter()
                .map(|t| format!("{} ({})", t.name, team_role_name(lang, t.role)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    view! {
        <div class="page">
            <header class="page-header"><h1>{tr(Key::NavAccount)}</h1></header>
            <section class="panel">
                <h2>{tr(Key::Profile)}</h2>
                <dl class="facts">
                    <dt>{tr(Key::Name)}</dt>
                    <dd>{move || me().map(|m| m.name)}</dd>
                    <dt>{tr(Key::Email)}</dt>
                    <dd>{move || me().map(|m| m.email)}</dd>
                    <dt>{tr(Key::Organization)}</dt>
                    <dd>{move || me().map(|m| m.organization_name)}</dd>
                    <dt>{tr(Key::OrgRole)}</dt>
                    <dd>{move || me().map(|m| role_name(lang.get(), m.org_role))}</dd>
                    <dt>{tr(Key::NavTeams)}</dt>
                    <dd>{teams}</dd>
                </dl>
            </section>
            <section class="panel">
                <h2>{tr(Key::ChangePassword)}</h2>
                <p class="hint">{tr(Key::ChangePasswordLead)}</p>
                <PasswordForm/>
            </section>
        </div>
    }
}

#[component]
fn PasswordForm() -> impl IntoView {
    let form = Form::new("password", &["current_password", "new_password"]);
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let saved = RwSignal::new(false);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        let request = ChangePasswordRequest {
            current_password: current.get_untracked(),
            new_password: new.get_untracked(),
        };
        if let Err(errors) = request.validate() {
            form.invalid(errors);
            return;
        }
        form.start();
        spawn_local(async move {
            match api::change_password(&request).await {
                Ok(()) => {
                    form.done();
                    current.set(String::new());
                    new.set(String::new());
                    saved.set(true);
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <form on:submit=submit novalidate=true class="stacked">
            <TextField form field="current_password" label=Key::CurrentPassword value=current kind="password" autocomplete="current-password" required=true/>
            <TextField form field="new_password" label=Key::NewPassword value=new kind="password" autocomplete="new-password" required=true hint=Key::PasswordHint/>
            <FormProblem form/>
            <Show when=move || saved.get()>
                <p class="success" role="status">{tr(Key::PasswordChanged)}</p>
            </Show>
            <Submit form label=Key::ChangePassword/>
        </form>
    }
}
