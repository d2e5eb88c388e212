//! The engine's integration tests, as one test binary: linking a binary costs minutes, so
//! the suites are modules of this one rather than a binary each. Each suite's module says
//! what it covers and what it needs (the local PostgreSQL and MariaDB, a moto server for
//! S3, the TLS servers its scripts start).

mod common;

mod bigquery;
mod check;
mod corpus;
mod corpus_runs;
mod data_mart;
mod file;
mod files_root;
mod guess;
mod mysql;
mod objects;
mod postgres;
mod s3;
mod snowflake;
mod snowflake_stage;
mod ssh;
mod stdout;
mod tls;
mod warehouse_read;
mod zones;
