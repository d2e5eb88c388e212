//! The database pool and migrations.
//!
//! diesel-async over a deadpool pool: request handlers await queries on actix's worker
//! threads without a blocking thread pool in between, and no libpq is needed. Migrations
//! are embedded in the binary and run through diesel's sync harness on a blocking thread.

use anyhow::Context;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use hakobu_core::sql::Dialect;
use std::time::Duration;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;
pub type PoolError = diesel_async::pooled_connection::deadpool::PoolError;

pub fn build_pool(database_url: &str, size: usize) -> anyhow::Result<DbPool> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(database_url);
    Pool::builder(manager)
        .max_size(size)
        // A request waits this long for a connection before answering 503.
        .wait_timeout(Some(Duration::from_secs(10)))
        .create_timeout(Some(Duration::from_secs(10)))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .context("building the database pool")
}

/// Applies every pending migration; returns the versions applied.
pub async fn run_migrations(database_url: &str) -> anyhow::Result<Vec<String>> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        use diesel::Connection;
        let mut conn =
            AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url).with_context(|| {
                format!(
                    "connecting to {}",
                    crate::settings::redact_url_password(&url)
                )
            })?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("applying migrations: {e}"))?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    })
    .await
    .context("migration task panicked")?
}

/// How many migrations this binary knows that the database has not applied.
///
/// Reads diesel's bookkeeping table over a pooled connection, so a readiness probe does
/// not open a connection of its own.
pub async fn pending_migrations(conn: &mut AsyncPgConnection) -> anyhow::Result<usize> {
    use diesel::migration::MigrationSource;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    #[derive(QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let applied: Vec<Applied> = diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
        .load(conn)
        .await
        .context("reading applied migrations")?;
    let known = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("reading embedded migrations: {e}"))?;
    Ok(known
        .iter()
        .filter(|m| {
            let version = m.name().version().to_string();
            !applied.iter().any(|a| a.version == version)
        })
        .count())
}

/// Creates the database named in `database_url` when it does not exist yet.
///
/// Connects to the server's `postgres` database to do so; used by `hakobu migrate
/// --create-database` (what `make run` calls) and by the test harness.
pub async fn create_database_if_missing(database_url: &str) -> anyhow::Result<bool> {
    use diesel::prelude::*;
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let (server_url, name) = split_database_name(database_url)?;
    let mut conn = AsyncPgConnection::establish(&format!("{server_url}/postgres"))
        .await
        .with_context(|| {
            format!(
                "connecting to PostgreSQL at {}",
                crate::settings::redact_url_password(&server_url)
            )
        })?;
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(&name)
            .get_result(&mut conn)
            .await?;
    if found.exists {
        return Ok(false);
    }
    diesel::sql_query(format!(
        "CREATE DATABASE {}",
        Dialect::Postgres.ident(&name)
    ))
    .execute(&mut conn)
    .await
    .with_context(|| format!("creating database {name}"))?;
    Ok(true)
}

/// `postgres://u@h:5432/db?x=y` -> (`postgres://u@h:5432`, `db`).
pub fn split_database_name(database_url: &str) -> anyhow::Result<(String, String)> {
    let without_query = database_url.split('?').next().unwrap_or(database_url);
    let scheme_end = without_query.find("://").map_or(0, |i| i + 3);
    let slash = without_query[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .context("the database URL names no database, e.g. postgres://user@host:5432/hakobu")?;
    let name = &without_query[slash + 1..];
    anyhow::ensure!(!name.is_empty(), "the database URL names no database");
    Ok((without_query[..slash].to_owned(), name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_database_urls() {
        let (server, name) =
            split_database_name("postgres://postgres@127.0.0.1:5432/hakobu?sslmode=disable")
                .unwrap();
        assert_eq!(server, "postgres://postgres@127.0.0.1:5432");
        assert_eq!(name, "hakobu");
        assert!(split_database_name("postgres://postgres@127.0.0.1:5432").is_err());
    }
}
