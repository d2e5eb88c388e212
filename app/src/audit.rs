//! Writing the audit log.
//!
//! Call [`record`] inside the transaction that makes the change, so an entry exists
//! exactly when the change does. `details` summarizes before/after state and must never
//! contain a secret: callers pass views, never rows with password hashes or credentials.

use crate::extract::Auth;
use crate::models::audit::{AuditEntry, NewAuditEntry};
use diesel::QueryResult;
use diesel_async::AsyncPgConnection;
use hakobu_core::ids::{AuditEntryId, OrganizationId, UserId};

/// Who made a change, from where.
#[derive(Debug, Clone)]
pub struct Actor<'a> {
    pub organization_id: OrganizationId,
    pub user_id: Option<UserId>,
    pub email: Option<&'a str>,
    pub ip: Option<&'a str>,
}

impl<'a> From<&'a Auth> for Actor<'a> {
    fn from(auth: &'a Auth) -> Self {
        Actor {
            organization_id: auth.organization_id,
            user_id: Some(auth.user_id),
            email: Some(&auth.email),
            ip: Some(&auth.ip.0),
        }
    }
}

pub async fn record(
    conn: &mut AsyncPgConnection,
    actor: &Actor<'_>,
    action: &str,
    target_type: &str,
    target_id: impl ToString,
    details: serde_json::Value,
) -> QueryResult<()> {
    AuditEntry::insert(
        conn,
        NewAuditEntry {
            id: AuditEntryId::new(),
            organization_id: actor.organization_id,
            actor_user_id: actor.user_id,
            actor_email: actor.email,
            action,
            target_type,
            target_id: Some(target_id.to_string()),
            details,
            ip: actor.ip,
        },
    )
    .await?;
    Ok(())
}
