//! The audit log: one row per change that matters, written in the change's transaction.

use crate::schema::audit_log;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::audit::AuditEntryView;
use hakobu_core::ids::{AuditEntryId, OrganizationId, UserId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: AuditEntryId,
    pub organization_id: OrganizationId,
    pub actor_user_id: Option<UserId>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    pub details: serde_json::Value,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = audit_log)]
pub struct NewAuditEntry<'a> {
    pub id: AuditEntryId,
    pub organization_id: OrganizationId,
    pub actor_user_id: Option<UserId>,
    pub actor_email: Option<&'a str>,
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<String>,
    pub details: serde_json::Value,
    pub ip: Option<&'a str>,
}

/// Filters of the audit log endpoint; all optional and combined with AND.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor_user_id: Option<UserId>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl AuditEntry {
    pub fn view(self) -> AuditEntryView {
        AuditEntryView {
            id: self.id,
            created_at: self.created_at,
            actor_user_id: self.actor_user_id,
            actor_email: self.actor_email,
            action: self.action,
            target_type: self.target_type,
            target_id: self.target_id,
            details: self.details,
            ip: self.ip,
        }
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: NewAuditEntry<'_>,
    ) -> QueryResult<usize> {
        diesel::insert_into(audit_log::table)
            .values(new)
            .execute(conn)
            .await
    }

    fn filtered<'a>(
        org: OrganizationId,
        f: &'a AuditFilter,
    ) -> audit_log::BoxedQuery<'a, diesel::pg::Pg> {
        let mut q = audit_log::table
            .filter(audit_log::organization_id.eq(org))
            .into_boxed();
        if let Some(action) = &f.action {
            // `team` matches `team.create`, `team.rename`, ...; `team.create` matches itself.
            if action.contains('.') {
                q = q.filter(audit_log::action.eq(action));
            } else {
                q = q.filter(audit_log::action.like(format!("{}.%", escape_like(action))));
            }
        }
        if let Some(actor) = f.actor_user_id {
            q = q.filter(audit_log::actor_user_id.eq(actor));
        }
        if let Some(t) = &f.target_type {
            q = q.filter(audit_log::target_type.eq(t));
        }
        if let Some(id) = &f.target_id {
            q = q.filter(audit_log::target_id.eq(id));
        }
        if let Some(from) = f.from {
            q = q.filter(audit_log::created_at.ge(from));
        }
        if let Some(to) = f.to {
            q = q.filter(audit_log::created_at.lt(to));
        }
        q
    }

    pub async fn page(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        filter: &AuditFilter,
        offset: i64,
        limit: i64,
    ) -> QueryResult<(Vec<AuditEntry>, i64)> {
        let total = Self::filtered(org, filter).count().get_result(conn).await?;
        let items = Self::filtered(org, filter)
            .order(audit_log::seq.desc())
            .offset(offset)
            .limit(limit)
            .select(AuditEntry::as_select())
            .load(conn)
            .await?;
        Ok((items, total))
    }
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
