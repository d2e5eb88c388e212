//! Login sessions, one per sign-in; a revoked or expired session invalidates its JWT.

use crate::schema::{sessions, users};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::ids::{OrganizationId, SessionId, UserId};

use super::user::User;

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub id: SessionId,
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub expires_at: DateTime<Utc>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewSession<'_>) -> QueryResult<usize> {
    diesel::insert_into(sessions::table)
        .values(new)
        .execute(conn)
        .await
}

/// The user behind a live session: not revoked, not expired, same organization.
pub async fn live_user(
    conn: &mut AsyncPgConnection,
    id: SessionId,
    user: UserId,
    org: OrganizationId,
) -> QueryResult<Option<User>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(id))
        .filter(sessions::user_id.eq(user))
        .filter(sessions::organization_id.eq(org))
        .filter(users::organization_id.eq(org))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(diesel::dsl::now))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn revoke(conn: &mut AsyncPgConnection, id: SessionId) -> QueryResult<usize> {
    diesel::update(sessions::table.find(id))
        .filter(sessions::revoked_at.is_null())
        .set(sessions::revoked_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
}

/// Revokes every session of the user except `keep` (after a password change).
pub async fn revoke_all_but(
    conn: &mut AsyncPgConnection,
    user: UserId,
    keep: Option<SessionId>,
) -> QueryResult<usize> {
    // The nil id matches no session, so `None` revokes them all.
    let keep = keep.unwrap_or(SessionId(uuid::Uuid::nil()));
    diesel::update(sessions::table)
        .filter(sessions::user_id.eq(user))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::id.ne(keep))
        .set(sessions::revoked_at.eq(diesel::dsl::now))
        .execute(conn)
        .await
}
