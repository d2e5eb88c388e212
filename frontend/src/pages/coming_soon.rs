//! Connections, jobs and runs: not built yet. The page says so instead of pretending.

use crate::i18n::{Key, tr};
use leptos::prelude::*;

#[component]
pub fn ComingSoonPage(area: Key) -> impl IntoView {
    crate::components::page_title(area);
    let body = match area {
        Key::NavConnections => Key::ConnectionsSoon,
        Key::NavJobs => Key::JobsSoon,
        _ => Key::RunsSoon,
    };
    view! {
        <div class="page">
            <header class="page-header"><h1>{tr(area)}</h1></header>
            <div class="empty">
                <p class="empty-title">{tr(Key::ComingSoonTitle)}</p>
                <p>{tr(body)}</p>
            </div>
        </div>
    }
}
