//! API tests: one binary, real PostgreSQL, a database and app per test.

mod abuse;
mod audit;
mod auth;
mod authz_at_use;
mod bad_input;
mod checks;
mod cloud_roles;
mod connections;
mod container;
mod ecs;
mod health;
mod helpers;
mod isolation;
mod jobs;
mod kubernetes;
mod local_files;
mod matrix;
mod members;
mod notifications;
mod password_reset;
mod roles;
mod runs;
mod schedules;
mod teams;
mod tenant_boundary;
mod tokens;
