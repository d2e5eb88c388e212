//! Hakobu's web UI (leptos, client-side rendered). The pages arrive with the analysts' UI
//! issue; until then the app serves a plain status page.
