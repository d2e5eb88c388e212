//! Accepting an invitation (`/invite/{token}`): shows which organization invited which
//! email, asks for a name and a password, creates the account and signs in.

use crate::api;
use crate::components::{FormProblem, LanguageSwitch, LoadError, Loading, Submit, TextField, Time};
use crate::forms::Form;
use crate::i18n::{Key, tr};
use crate::session::use_session;
use hakobu_core::api::auth::{AcceptInvitationRequest, InvitationPreview};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_params_map};

#[component]
pub fn AcceptInvitePage() -> impl IntoView {
    crate::components::page_title(Key::AcceptTitle);
    let params = use_params_map();
    let token = move || params.with(|p| p.get("token").unwrap_or_default());
    let preview = LocalResource::new(move || {
        let token = token();
        async move { api::lookup_invitation(&token).await }
    });

    let body = move || match preview.get() {
        None => view! { <Loading/> }.into_any(),
        Some(Err(e)) if e.status() == Some(404) => view! {
            <div class="empty">
                <p class="empty-title">{tr(Key::InvitationInvalidTitle)}</p>
                <p>{tr(Key::InvitationInvalid)}</p>
                <p><A href="/signin">{tr(Key::SignIn)}</A></p>
            </div>
        }
        .into_any(),
        Some(Err(e)) => view! { <LoadError error=e retry=move || preview.refetch()/> }.into_any(),
        Some(Ok(p)) => view! { <AcceptForm token=token() preview=p/> }.into_any(),
    };

    view! {
        <div class="auth-page">
            <div class="auth-lang"><LanguageSwitch/></div>
            <div class="auth-card">
                <p class="auth-brand"><span class="brand-mark" aria-hidden="true">"運"</span>" Hakobu"</p>
                <h1>{tr(Key::AcceptTitle)}</h1>
                {body}
            </div>
        </div>
    }
}

#[component]
fn AcceptForm(token: String, preview: InvitationPreview) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let form = Form::new("accept", &["name", "password", "token"]);
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let token = StoredValue::new(token);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let request = AcceptInvitationRequest {
            token: token.get_value(),
            name: name.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
        };
        if let Err(errors) = request.validate() {
            form.invalid(errors);
            return;
        }
        form.start();
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::accept_invitation(&request).await {
                Ok(response) => {
                    form.done();
                    session.signed_in(response.me);
                    navigate("/", Default::default());
                }
                Err(e) => form.fail(e),
            }
        });
    };

    let organization = preview.organization_name.clone();
    let expires = preview.expires_at;
    view! {
        <dl class="facts">
            <dt>{tr(Key::Organization)}</dt>
            <dd data-testid="invite-org">{organization}</dd>
            <dt>{tr(Key::Email)}</dt>
            <dd data-testid="invite-email">{preview.email.clone()}</dd>
            <dt>{tr(Key::LinkExpires)}</dt>
            <dd><Time at=expires/></dd>
        </dl>
        <form on:submit=submit novalidate=true>
            <TextField form field="name" label=Key::YourName value=name autocomplete="name" required=true/>
            <TextField form field="password" label=Key::ChoosePassword value=password kind="password" autocomplete="new-password" required=true hint=Key::PasswordHint/>
            <FormProblem form/>
            <Submit form label=Key::JoinOrganization busy_label=Key::Creating/>
        </form>
    }
}
