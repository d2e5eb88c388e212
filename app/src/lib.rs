//! Hakobu's control plane: the REST API, authentication, tenancy and roles, the audit log.
//!
//! `main.rs` only parses the command line; everything else is here so the integration
//! tests can build the same application on a random port against their own database.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod cloud_role;
pub mod db;
pub mod error;
pub mod extract;
pub mod launcher;
pub mod limiter;
pub mod mail;
pub mod metrics;
pub mod models;
pub mod notify;
pub mod probe;
pub mod routes;
pub mod runs;
pub mod scheduler;
pub mod schema;
pub mod secrets;
pub mod services;
pub mod settings;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web_security;
pub mod workflows;
