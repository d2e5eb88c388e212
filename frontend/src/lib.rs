//! Hakobu's web UI: a leptos app rendered in the browser (client-side only, no SSR),
//! compiled to wasm and served by the app as static files (`scripts/build-frontend.sh`).
//!
//! Layout, after the leptos examples:
//! - [`app`]: the root component, contexts and routes;
//! - [`api`]: typed calls to the REST API, with `core`'s request and response types;
//! - [`session`]: the signed-in user and the authorization policy shared with the server;
//! - [`i18n`]: every UI string in English and Japanese;
//! - [`forms`], [`components`], [`format`]: form state, building blocks, dates and numbers;
//! - [`widgets`]: parts more than one page shows (the runs table, the rule editor, …);
//! - [`pages`]: one module per page.
//!
//! The crate also compiles for the host, so `cargo clippy`/`cargo test` cover it; code that
//! needs a browser is behind `cfg(target_arch = "wasm32")`.

pub mod api;
pub mod app;
pub mod components;
pub mod format;
pub mod forms;
pub mod i18n;
pub mod pages;
pub mod session;
pub mod widgets;

/// Entry point, called by the wasm-bindgen glue once the module is loaded.
#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen(start)]
pub fn start() {
    // A panic shows its message in the browser console instead of "unreachable".
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
}
