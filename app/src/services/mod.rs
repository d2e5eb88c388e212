//! The service floor under the routes: what more than one route (or the run lifecycle)
//! needs, so a route only parses, authorizes, calls and answers.
//!
//! May import: models, the state, extractors' types, `audit`, `error`. Never `routes`,
//! `runs` or `scheduler`, which sit above it.

pub mod access;
pub mod engine_bridge;
pub mod job_checks;
pub mod jobs;
pub mod local_files;
pub mod organizations;
pub mod quotas;
pub mod secret_rotation;
pub mod variables;
pub mod warehouses;
