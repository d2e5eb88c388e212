//! Notification destinations: Slack webhooks, confirmed email addresses, generic webhooks.

use crate::schema::notification_destinations as destinations;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::notifications::DestinationKind;
use hakobu_core::ids::{DestinationId, OrganizationId, UserId};
use serde_json::Value;

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = destinations)]
pub struct Destination {
    pub id: DestinationId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub kind: DestinationKind,
    /// Non-secret settings: the email address, the webhook URL and plain headers.
    pub settings: Value,
    /// Encrypted values (`crate::secrets`): the Slack URL, secret header values.
    pub secrets: Value,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirm_token_hash: Option<Vec<u8>>,
    pub confirm_expires_at: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// Even encrypted secrets stay out of logs.
impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destination")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[derive(Insertable)]
#[diesel(table_name = destinations)]
pub struct NewDestination<'a> {
    pub id: DestinationId,
    pub organization_id: OrganizationId,
    pub name: &'a str,
    pub kind: DestinationKind,
    pub settings: Value,
    pub secrets: Value,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirm_token_hash: Option<&'a [u8]>,
    pub confirm_expires_at: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
}

#[derive(AsChangeset)]
#[diesel(table_name = destinations, treat_none_as_null = true)]
pub struct DestinationChangeset<'a> {
    pub name: &'a str,
    pub settings: Value,
    pub secrets: Value,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub confirm_token_hash: Option<&'a [u8]>,
    pub confirm_expires_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

crate::tenant_rows!(
    Destination,
    destinations,
    DestinationId,
    DestinationChangeset<'_>
);

impl Destination {
    /// Whether messages may go here: email addresses only once confirmed.
    pub fn confirmed(&self) -> bool {
        self.kind != DestinationKind::Email || self.confirmed_at.is_some()
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: NewDestination<'_>,
    ) -> QueryResult<Destination> {
        diesel::insert_into(destinations::table)
            .values(new)
            .returning(Destination::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn list(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
    ) -> QueryResult<Vec<Destination>> {
        destinations::table
            .filter(destinations::organization_id.eq(org))
            .order(destinations::name)
            .select(Destination::as_select())
            .load(conn)
            .await
    }

    /// Confirms the address whose link carries this token (once, before it expires).
    /// The destination an open confirmation link is for, without using the link up.
    pub async fn find_by_confirm_token(
        conn: &mut AsyncPgConnection,
        token_hash: &[u8],
    ) -> QueryResult<Option<Destination>> {
        destinations::table
            .filter(destinations::confirm_token_hash.eq(token_hash))
            .filter(destinations::confirm_expires_at.gt(diesel::dsl::now))
            .select(Destination::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn confirm(
        conn: &mut AsyncPgConnection,
        token_hash: &[u8],
    ) -> QueryResult<Option<Destination>> {
        diesel::update(destinations::table)
            .filter(destinations::confirm_token_hash.eq(token_hash))
            .filter(destinations::confirm_expires_at.gt(diesel::dsl::now))
            .set((
                destinations::confirmed_at.eq(diesel::dsl::now),
                destinations::confirm_token_hash.eq(None::<Vec<u8>>),
                destinations::confirm_expires_at.eq(None::<DateTime<Utc>>),
            ))
            .returning(Destination::as_returning())
            .get_result(conn)
            .await
            .optional()
    }
}
