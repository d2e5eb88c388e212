//! Hakobu's pure domain, shared by the app, the engine, the runner and the wasm frontend.
//!
//! Nothing here does I/O or depends on tokio, so the browser validates a form with exactly
//! the rules the server applies.

pub mod api;
pub mod authz;
pub mod config;
pub mod connection;
pub mod ids;
pub mod job;
pub mod validation;
