//! Personal API tokens, stored as SHA-256 digests.

use crate::schema::{api_tokens, users};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::tokens::{ApiTokenView, TokenScope};
use hakobu_core::ids::{ApiTokenId, OrganizationId, UserId};

use super::user::User;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub scope: TokenScope,
}

#[derive(Insertable)]
#[diesel(table_name = api_tokens)]
pub struct NewApiToken<'a> {
    pub id: ApiTokenId,
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub name: &'a str,
    pub prefix: &'a str,
    pub token_hash: &'a [u8],
    pub expires_at: Option<DateTime<Utc>>,
    pub scope: TokenScope,
}

/// `last_used_at` is refreshed at most this often, so a busy script does not turn every
/// read into a write.
const LAST_USED_GRANULARITY_SECS: i64 = 60;

impl ApiToken {
    pub fn view(&self) -> ApiTokenView {
        ApiTokenView {
            id: self.id,
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            scope: self.scope,
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
            revoked_at: self.revoked_at,
        }
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: NewApiToken<'_>,
    ) -> QueryResult<ApiToken> {
        diesel::insert_into(api_tokens::table)
            .values(new)
            .returning(ApiToken::as_returning())
            .get_result(conn)
            .await
    }

    /// The token and its user, if the digest matches a token that is neither revoked nor
    /// expired.
    pub async fn authenticate(
        conn: &mut AsyncPgConnection,
        digest: &[u8],
    ) -> QueryResult<Option<(ApiToken, User)>> {
        let found: Option<(ApiToken, User)> = api_tokens::table
            .inner_join(users::table)
            .filter(api_tokens::token_hash.eq(digest))
            .filter(api_tokens::revoked_at.is_null())
            .filter(
                api_tokens::expires_at
                    .is_null()
                    .or(api_tokens::expires_at.gt(diesel::dsl::now)),
            )
            .select((ApiToken::as_select(), User::as_select()))
            .first(conn)
            .await
            .optional()?;
        if let Some((token, _)) = &found {
            let stale = token
                .last_used_at
                .is_none_or(|t| (Utc::now() - t).num_seconds() >= LAST_USED_GRANULARITY_SECS);
            if stale {
                diesel::update(api_tokens::table.find(token.id))
                    .set(api_tokens::last_used_at.eq(diesel::dsl::now))
                    .execute(conn)
                    .await?;
            }
        }
        Ok(found)
    }

    pub async fn list_for_user(
        conn: &mut AsyncPgConnection,
        user: UserId,
    ) -> QueryResult<Vec<ApiToken>> {
        api_tokens::table
            .filter(api_tokens::user_id.eq(user))
            .order(api_tokens::created_at.desc())
            .select(ApiToken::as_select())
            .load(conn)
            .await
    }

    /// Revokes every live token of the user (a password reset or change: whoever got the
    /// old password may have made tokens with it); answers how many.
    pub async fn revoke_all(conn: &mut AsyncPgConnection, user: UserId) -> QueryResult<usize> {
        diesel::update(api_tokens::table)
            .filter(api_tokens::user_id.eq(user))
            .filter(api_tokens::revoked_at.is_null())
            .set(api_tokens::revoked_at.eq(diesel::dsl::now))
            .execute(conn)
            .await
    }

    /// Revokes one of the user's own tokens; `None` when the user has no such live token.
    pub async fn revoke(
        conn: &mut AsyncPgConnection,
        user: UserId,
        id: ApiTokenId,
    ) -> QueryResult<Option<ApiToken>> {
        diesel::update(api_tokens::table)
            .filter(api_tokens::user_id.eq(user))
            .filter(api_tokens::id.eq(id))
            .filter(api_tokens::revoked_at.is_null())
            .set(api_tokens::revoked_at.eq(diesel::dsl::now))
            .returning(ApiToken::as_returning())
            .get_result(conn)
            .await
            .optional()
    }
}
