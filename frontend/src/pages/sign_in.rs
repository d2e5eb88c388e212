//! Sign in with email and password.

use crate::api;
use crate::components::{FormProblem, LanguageSwitch, Submit, TextField};
use crate::forms::Form;
use crate::i18n::{Key, tr};
use crate::session::use_session;
use hakobu_core::api::auth::LoginRequest;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

/// Pages for people who are not signed in.
pub fn is_public(path: &str) -> bool {
    [
        "/signin",
        "/signup",
        "/invite/",
        "/forgot-password",
        "/reset-password/",
    ]
    .iter()
    .any(|p| path == p.trim_end_matches('/') || path.starts_with(p))
}

/// Where to go after signing in: the `next` parameter when it is a page of this app (never
/// another site, nor a sign-in page again), else the dashboard.
pub fn next_path(next: Option<String>) -> String {
    match next {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.starts_with("/\\")
                && !is_public(&p) =>
        {
            p
        }
        _ => "/".to_owned(),
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    crate::components::page_title(Key::SignIn);
    let session = use_session();
    let navigate = use_navigate();
    let query = use_query_map();
    let form = Form::new("signin", &["email", "password"]);
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());

    // Already signed in (e.g. opened /signin from a bookmark): go straight on.
    {
        let navigate = navigate.clone();
        Effect::new(move |_| {
            if session.me.with(Option::is_some) {
                navigate(
                    &next_path(query.get_untracked().get("next")),
                    Default::default(),
                );
            }
        });
    }

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let request = LoginRequest {
            email: email.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
        };
        if let Err(errors) = request.validate() {
            form.invalid(errors);
            return;
        }
        form.start();
        spawn_local(async move {
            match api::login(&request).await {
                Ok(response) => {
                    form.done();
                    // The effect above navigates once the session knows the user.
                    session.signed_in(response.me);
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
                <h1>{tr(Key::SignInTitle)}</h1>
                <form on:submit=submit novalidate=true>
                    <TextField form field="email" label=Key::Email value=email kind="email" autocomplete="username" required=true/>
                    <TextField form field="password" label=Key::Password value=password kind="password" autocomplete="current-password" required=true/>
                    <FormProblem form/>
                    <Submit form label=Key::SignIn busy_label=Key::SigningIn/>
                </form>
                <p class="auth-alt"><A href="/forgot-password">{tr(Key::ForgotPassword)}</A></p>
                <p class="auth-alt">
                    {tr(Key::NoAccountYet)} " " <A href="/signup">{tr(Key::CreateOrganization)}</A>
                </p>
                <p class="hint">{tr(Key::InvitedHint)}</p>
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::next_path;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(next_path(Some("/teams".into())), "/teams");
        assert_eq!(next_path(Some("//evil.example".into())), "/");
        assert_eq!(next_path(Some("https://evil.example".into())), "/");
        assert_eq!(next_path(None), "/");
        assert_eq!(next_path(Some("/signin".into())), "/");
        assert_eq!(next_path(Some("/invite/abc".into())), "/");
        assert_eq!(next_path(Some("/reset-password/abc".into())), "/");
    }
}
