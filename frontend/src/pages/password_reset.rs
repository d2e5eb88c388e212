//! A forgotten password: asking for a link (`/forgot-password`), and choosing a new
//! password from the emailed link (`/reset-password/:token`, the path the server's email
//! uses: `app/src/routes/password_reset.rs`).
//!
//! The request page always says the same thing whether or not the address has an
//! account, as the server does, so the page tells nobody who is a user.

use crate::api::{self, ApiError};
use crate::components::{FormProblem, LanguageSwitch, Submit, TextField};
use crate::forms::{Form, Problem};
use crate::i18n::{Key, tr};
use hakobu_core::api::notifications::{PasswordResetConfirm, PasswordResetRequest};
use hakobu_core::validation::{FieldError, FieldErrors, check_email, normalize_email};
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

/// The frame the public pages share: language switch, brand, a card.
#[component]
fn AuthCard(title: Key, children: Children) -> impl IntoView {
    view! {
        <div class="auth-page">
            <div class="auth-lang"><LanguageSwitch/></div>
            <div class="auth-card">
                <p class="auth-brand"><span class="brand-mark" aria-hidden="true">"運"</span>" Hakobu"</p>
                <h1>{tr(title)}</h1>
                {children()}
            </div>
        </div>
    }
}

/// `/forgot-password`: asks for a reset link by email.
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    crate::components::page_title(Key::ForgotTitle);
    let form = Form::new("forgot", &["email"]);
    let email = RwSignal::new(String::new());
    let sent = RwSignal::new(false);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let address = email.get_untracked().trim().to_owned();
        let mut errors = FieldErrors::default();
        check_email(&mut errors, "email", &address);
        if !errors.is_empty() {
            form.invalid(errors);
            return;
        }
        form.start();
        let request = PasswordResetRequest {
            email: normalize_email(&address),
        };
        spawn_local(async move {
            match api::request_password_reset(&request).await {
                Ok(()) => {
                    form.done();
                    sent.set(true);
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <AuthCard title=Key::ForgotTitle>
            {move || if sent.get() {
                view! {
                    <p class="test-ok" role="status" data-testid="reset-sent">{tr(Key::ResetLinkSent)}</p>
                }
                .into_any()
            } else {
                view! {
                    <p class="hint">{tr(Key::ForgotLead)}</p>
                    <form on:submit=submit novalidate=true>
                        <TextField form field="email" label=Key::Email value=email kind="email" autocomplete="username" required=true/>
                        <FormProblem form/>
                        <Submit form label=Key::SendResetLink/>
                    </form>
                }
                .into_any()
            }}
            <p class="auth-alt"><A href="/signin">{tr(Key::BackToSignIn)}</A></p>
        </AuthCard>
    }
}

/// `/reset-password/:token`: sets a new password with the emailed token.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    crate::components::page_title(Key::NewPasswordTitle);
    let params = use_params_map();
    let form = Form::new("reset", &["password"]);
    let password = RwSignal::new(String::new());
    let done = RwSignal::new(false);
    // The link no longer works: offer a new one instead of the form.
    let link_invalid = RwSignal::new(false);
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let request = PasswordResetConfirm {
            token: params.with_untracked(|p| p.get("token").unwrap_or_default()),
            password: password.get_untracked(),
        };
        let errors = request.validate();
        if !errors.is_empty() {
            let (token, others): (Vec<_>, Vec<_>) =
                errors.0.into_iter().partition(|e| e.field == "token");
            if let Some(t) = token.first() {
                form.problem.set(Some(Problem::Server(t.text())));
            }
            form.invalid(FieldErrors(others));
            return;
        }
        form.start();
        spawn_local(async move {
            match api::confirm_password_reset(&request).await {
                Ok(()) => {
                    form.done();
                    done.set(true);
                }
                // A used or expired link is about the link, not a field the user can fix.
                Err(ApiError::Server { body, .. }) if body.field.as_deref() == Some("token") => {
                    // The field's own sentence: `message` joins every field's as "token: ...".
                    let message = body
                        .fields
                        .first()
                        .map(FieldError::text)
                        .unwrap_or_else(|| body.text());
                    form.done();
                    form.problem.set(Some(Problem::Server(message)));
                    link_invalid.set(true);
                }
                Err(e) => form.fail(e),
            }
        });
    };
    view! {
        <AuthCard title=Key::NewPasswordTitle>
            {move || if done.get() {
                view! {
                    <p class="test-ok" role="status" data-testid="reset-done">{tr(Key::PasswordResetDone)}</p>
                    <p><A href="/signin" attr:class="button primary">{tr(Key::SignIn)}</A></p>
                }
                .into_any()
            } else if link_invalid.get() {
                view! {
                    <FormProblem form/>
                    <p><A href="/forgot-password" attr:class="button primary">{tr(Key::AskNewLink)}</A></p>
                }
                .into_any()
            } else {
                view! {
                    <p class="hint">{tr(Key::NewPasswordLead)}</p>
                    <form on:submit=submit novalidate=true>
                        <TextField form field="password" label=Key::NewPassword value=password kind="password" autocomplete="new-password" required=true/>
                        <FormProblem form/>
                        <Submit form label=Key::SetNewPassword/>
                    </form>
                }
                .into_any()
            }}
            <p class="auth-alt"><A href="/signin">{tr(Key::BackToSignIn)}</A></p>
        </AuthCard>
    }
}
