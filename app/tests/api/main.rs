//! API tests: one binary, real PostgreSQL, a database and app per test.

mod audit;
mod auth;
mod bad_input;
mod connections;
mod ecs;
mod health;
mod helpers;
mod isolation;
mod jobs;
mod matrix;
mod members;
mod roles;
mod runs;
mod teams;
mod tokens;
