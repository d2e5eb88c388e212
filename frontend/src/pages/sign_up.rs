//! Sign up: creates an organization and its owner, then signs the owner in.

use crate::api;
use crate::components::{FormProblem, LanguageSwitch, Submit, TextField};
use crate::forms::Form;
use crate::i18n::{Key, tr};
use crate::session::use_session;
use hakobu_core::api::auth::SignupRequest;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

#[component]
pub fn SignUpPage() -> impl IntoView {
    crate::components::page_title(Key::SignUpTitle);
    let session = use_session();
    let navigate = use_navigate();
    let form = Form::new(
        "signup",
        &["organization_name", "name", "email", "password"],
    );
    let organization_name = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());

    let first_team_name = tr(Key::FirstTeamName);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let request = SignupRequest {
            organization_name: organization_name.get_untracked().trim().to_owned(),
            name: name.get_untracked().trim().to_owned(),
            email: email.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
            // The organization's first team, named in the language the owner reads.
            first_team_name: Some(first_team_name().to_owned()),
        };
        if let Err(errors) = request.validate() {
            form.invalid(errors);
            return;
        }
        form.start();
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::signup(&request).await {
                Ok(response) => {
                    form.done();
                    session.signed_in(response.me);
                    navigate("/", Default::default());
                }
                Err(e) => form.fail(e),
            }
        });
    };

    view! {
        <div class="auth-page">
            <div class="auth-lang"><LanguageSwitch/></div>
            <div class="auth-card">
                <p class="auth-brand"><span class="brand-mark" aria-hidden="true">"運"</span>" Hakobu"</p>
                <h1>{tr(Key::SignUpTitle)}</h1>
                <p class="lead">{tr(Key::SignUpLead)}</p>
                <form on:submit=submit novalidate=true>
                    <TextField form field="organization_name" label=Key::OrganizationName value=organization_name autocomplete="organization" required=true hint=Key::OrganizationNameHint/>
                    <TextField form field="name" label=Key::YourName value=name autocomplete="name" required=true/>
                    <TextField form field="email" label=Key::Email value=email kind="email" autocomplete="email" required=true/>
                    <TextField form field="password" label=Key::Password value=password kind="password" autocomplete="new-password" required=true hint=Key::PasswordHint/>
                    <FormProblem form/>
                    <Submit form label=Key::CreateOrganization busy_label=Key::Creating/>
                </form>
                <p class="auth-alt">{tr(Key::HaveAccount)} " " <A href="/signin">{tr(Key::SignIn)}</A></p>
            </div>
        </div>
    }
}
