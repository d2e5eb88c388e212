//! Any path the app does not know.

use crate::i18n::{Key, tr};
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn NotFoundPage() -> impl IntoView {
    crate::components::page_title(Key::NotFoundTitle);
    view! {
        <div class="auth-page">
            <div class="auth-card">
                <h1>{tr(Key::NotFoundTitle)}</h1>
                <p>{tr(Key::NotFoundBody)}</p>
                <p><A href="/">{tr(Key::BackToDashboard)}</A></p>
            </div>
        </div>
    }
}
