//! Invitations: single-use, expiring links that create a member's account.

use crate::schema::invitations;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::org::{InvitationView, TeamGrant};
use hakobu_core::authz::OrgRole;
use hakobu_core::ids::{InvitationId, OrganizationId, UserId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: InvitationId,
    pub organization_id: OrganizationId,
    pub email: String,
    pub org_role: OrgRole,
    pub teams: serde_json::Value,
    pub invited_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Insertable)]
#[diesel(table_name = invitations)]
pub struct NewInvitation<'a> {
    pub id: InvitationId,
    pub organization_id: OrganizationId,
    pub email: &'a str,
    pub org_role: OrgRole,
    pub teams: serde_json::Value,
    pub token_hash: &'a [u8],
    pub invited_by: Option<UserId>,
    pub expires_at: DateTime<Utc>,
}

impl Invitation {
    pub fn team_grants(&self) -> Vec<TeamGrant> {
        // Written by this code from validated grants; an unreadable value means no grants.
        serde_json::from_value(self.teams.clone()).unwrap_or_default()
    }

    pub fn view(&self) -> InvitationView {
        InvitationView {
            id: self.id,
            email: self.email.clone(),
            org_role: self.org_role,
            teams: self.team_grants(),
            invited_by: self.invited_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
            accepted_at: self.accepted_at,
        }
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: NewInvitation<'_>,
    ) -> QueryResult<Invitation> {
        diesel::insert_into(invitations::table)
            .values(new)
            .returning(Invitation::as_returning())
            .get_result(conn)
            .await
    }

    /// Pending (not accepted, not revoked, not expired) invitations of the organization.
    pub async fn list_pending(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
    ) -> QueryResult<Vec<Invitation>> {
        invitations::table
            .filter(invitations::organization_id.eq(org))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .filter(invitations::expires_at.gt(diesel::dsl::now))
            .order(invitations::created_at.desc())
            .select(Invitation::as_select())
            .load(conn)
            .await
    }

    /// Revokes pending invitations for the email (a new one replaces them).
    pub async fn revoke_pending_for_email(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        email: &str,
    ) -> QueryResult<usize> {
        diesel::update(invitations::table)
            .filter(invitations::organization_id.eq(org))
            .filter(invitations::email.eq(email))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .set(invitations::revoked_at.eq(diesel::dsl::now))
            .execute(conn)
            .await
    }

    pub async fn revoke(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: InvitationId,
    ) -> QueryResult<Option<Invitation>> {
        diesel::update(invitations::table)
            .filter(invitations::organization_id.eq(org))
            .filter(invitations::id.eq(id))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .set(invitations::revoked_at.eq(diesel::dsl::now))
            .returning(Invitation::as_returning())
            .get_result(conn)
            .await
            .optional()
    }

    /// The pending invitation behind a link, locked for acceptance in this transaction.
    pub async fn find_pending_by_token(
        conn: &mut AsyncPgConnection,
        digest: &[u8],
        lock: bool,
    ) -> QueryResult<Option<Invitation>> {
        let query = invitations::table
            .filter(invitations::token_hash.eq(digest))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .filter(invitations::expires_at.gt(diesel::dsl::now))
            .select(Invitation::as_select());
        if lock {
            query.for_update().first(conn).await.optional()
        } else {
            query.first(conn).await.optional()
        }
    }

    pub async fn mark_accepted(
        conn: &mut AsyncPgConnection,
        id: InvitationId,
    ) -> QueryResult<usize> {
        diesel::update(invitations::table.find(id))
            .set(invitations::accepted_at.eq(diesel::dsl::now))
            .execute(conn)
            .await
    }
}
