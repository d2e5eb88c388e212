//! Password reset links: single use, expiring, stored as the SHA-256 of the token.

use crate::schema::password_resets;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::ids::UserId;

#[derive(Debug, Insertable)]
#[diesel(table_name = password_resets)]
pub struct NewPasswordReset<'a> {
    pub token_hash: &'a [u8],
    pub user_id: UserId,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert(conn: &mut AsyncPgConnection, new: NewPasswordReset<'_>) -> QueryResult<usize> {
    diesel::insert_into(password_resets::table)
        .values(new)
        .execute(conn)
        .await
}

/// Links created for the user since `since`, used or not.
pub async fn created_since(
    conn: &mut AsyncPgConnection,
    user: UserId,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    password_resets::table
        .filter(password_resets::user_id.eq(user))
        .filter(password_resets::created_at.ge(since))
        .count()
        .get_result(conn)
        .await
}

/// Uses up the link: answers its user when the token is known, unused and unexpired.
/// Every other open link of that user stops working too.
pub async fn consume(
    conn: &mut AsyncPgConnection,
    token_hash: &[u8],
) -> QueryResult<Option<UserId>> {
    let user: Option<UserId> = diesel::update(password_resets::table.find(token_hash))
        .filter(password_resets::used_at.is_null())
        .filter(password_resets::expires_at.gt(diesel::dsl::now))
        .set(password_resets::used_at.eq(diesel::dsl::now))
        .returning(password_resets::user_id)
        .get_result(conn)
        .await
        .optional()?;
    if let Some(user) = user {
        diesel::update(password_resets::table)
            .filter(password_resets::user_id.eq(user))
            .filter(password_resets::used_at.is_null())
            .set(password_resets::used_at.eq(diesel::dsl::now))
            .execute(conn)
            .await?;
    }
    Ok(user)
}
