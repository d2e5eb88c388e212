//! Sign-in attempts, counted for rate limiting.

use crate::schema::login_attempts;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

pub async fn record(
    conn: &mut AsyncPgConnection,
    email: &str,
    ip: &str,
    succeeded: bool,
) -> QueryResult<usize> {
    diesel::insert_into(login_attempts::table)
        .values((
            login_attempts::email.eq(email),
            login_attempts::ip.eq(ip),
            login_attempts::succeeded.eq(succeeded),
        ))
        .execute(conn)
        .await
}

/// Failed attempts for the account since `since` and since its last successful sign-in.
pub async fn failures_for_email(
    conn: &mut AsyncPgConnection,
    email: &str,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    let last_success: Option<DateTime<Utc>> = login_attempts::table
        .filter(login_attempts::email.eq(email))
        .filter(login_attempts::succeeded.eq(true))
        .filter(login_attempts::created_at.gt(since))
        .select(diesel::dsl::max(login_attempts::created_at))
        .first(conn)
        .await?;
    login_attempts::table
        .filter(login_attempts::email.eq(email))
        .filter(login_attempts::succeeded.eq(false))
        .filter(login_attempts::created_at.gt(last_success.unwrap_or(since)))
        .count()
        .get_result(conn)
        .await
}

pub async fn failures_for_ip(
    conn: &mut AsyncPgConnection,
    ip: &str,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    login_attempts::table
        .filter(login_attempts::ip.eq(ip))
        .filter(login_attempts::succeeded.eq(false))
        .filter(login_attempts::created_at.gt(since))
        .count()
        .get_result(conn)
        .await
}

/// Forgets attempts older than `before`; run by the housekeeping task.
pub async fn prune(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(login_attempts::table.filter(login_attempts::created_at.lt(before)))
        .execute(conn)
        .await
}
