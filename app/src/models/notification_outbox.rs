//! The notification outbox: one row per notification, written in the transaction of the
//! state change that caused it, and each delivery attempt.

use crate::schema::{notification_attempts as attempts, notification_outbox as outbox};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::notifications::{DeliveryStatus, DeliveryView, NotificationEventKind};
use hakobu_core::ids::{
    DestinationId, JobId, NotificationEventId, NotificationRuleId, OrganizationId, RunId,
};
use serde_json::Value;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxEntry {
    pub id: NotificationEventId,
    pub organization_id: OrganizationId,
    pub rule_id: Option<NotificationRuleId>,
    pub destination_id: DestinationId,
    pub job_id: Option<JobId>,
    pub run_id: Option<RunId>,
    pub event: NotificationEventKind,
    pub dedupe_key: String,
    pub context: Value,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = outbox)]
pub struct NewOutboxEntry<'a> {
    pub id: NotificationEventId,
    pub organization_id: OrganizationId,
    pub rule_id: Option<NotificationRuleId>,
    pub destination_id: DestinationId,
    pub job_id: Option<JobId>,
    pub run_id: Option<RunId>,
    pub event: NotificationEventKind,
    pub dedupe_key: &'a str,
    pub context: Value,
    pub status: DeliveryStatus,
    pub last_error: Option<&'a str>,
}

impl OutboxEntry {
    pub fn view(&self) -> DeliveryView {
        DeliveryView {
            id: self.id,
            event: self.event,
            destination_id: self.destination_id,
            run_id: self.run_id,
            status: self.status,
            attempts: self.attempts,
            last_error: self.last_error.clone(),
            created_at: self.created_at,
            finished_at: self.finished_at,
        }
    }

    /// Writes the entry unless one with the same dedupe key exists; answers whether it did.
    pub async fn insert_once(
        conn: &mut AsyncPgConnection,
        new: NewOutboxEntry<'_>,
    ) -> QueryResult<bool> {
        let n = diesel::insert_into(outbox::table)
            .values(new)
            .on_conflict(outbox::dedupe_key)
            .do_nothing()
            .execute(conn)
            .await?;
        Ok(n == 1)
    }

    /// Takes up to `limit` due entries for `lease`: no other worker touches them until the
    /// lease ends, and one whose worker died is taken over after it. Counts the attempt.
    pub async fn claim(
        conn: &mut AsyncPgConnection,
        limit: i64,
        lease: std::time::Duration,
    ) -> QueryResult<Vec<OutboxEntry>> {
        let lease_until = Utc::now()
            + chrono::Duration::from_std(lease).unwrap_or_else(|_| chrono::Duration::minutes(1));
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            let ids: Vec<NotificationEventId> = outbox::table
                .filter(outbox::status.eq(DeliveryStatus::Pending))
                .filter(outbox::next_attempt_at.le(diesel::dsl::now))
                .filter(
                    outbox::lease_until
                        .is_null()
                        .or(outbox::lease_until.lt(diesel::dsl::now)),
                )
                .order(outbox::next_attempt_at)
                .limit(limit)
                .for_update()
                .skip_locked()
                .select(outbox::id)
                .load(conn)
                .await?;
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            diesel::update(outbox::table.filter(outbox::id.eq_any(ids)))
                .set((
                    outbox::lease_until.eq(lease_until),
                    outbox::attempts.eq(outbox::attempts + 1),
                ))
                .returning(OutboxEntry::as_returning())
                .get_results(conn)
                .await
        })
        .await
    }

    /// Records an attempt and the entry's new state, in one transaction.
    pub async fn record_attempt(
        conn: &mut AsyncPgConnection,
        entry: &OutboxEntry,
        attempt: Attempt<'_>,
        next: AfterAttempt,
    ) -> QueryResult<()> {
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            diesel::insert_into(attempts::table)
                .values((
                    attempts::outbox_id.eq(entry.id),
                    attempts::attempt.eq(entry.attempts),
                    attempts::succeeded.eq(attempt.succeeded),
                    attempts::http_status.eq(attempt.http_status),
                    attempts::error.eq(attempt.error),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            let target = outbox::table.find(entry.id);
            match next {
                AfterAttempt::Done(status) => {
                    diesel::update(target)
                        .set((
                            outbox::status.eq(status),
                            outbox::lease_until.eq(None::<DateTime<Utc>>),
                            outbox::last_error.eq(attempt.error),
                            outbox::finished_at.eq(diesel::dsl::now),
                        ))
                        .execute(conn)
                        .await?;
                }
                AfterAttempt::RetryAt(at) => {
                    diesel::update(target)
                        .set((
                            outbox::next_attempt_at.eq(at),
                            outbox::lease_until.eq(None::<DateTime<Utc>>),
                            outbox::last_error.eq(attempt.error),
                        ))
                        .execute(conn)
                        .await?;
                }
            }
            Ok(())
        })
        .await
    }

    pub async fn list_for_run(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        run: RunId,
    ) -> QueryResult<Vec<OutboxEntry>> {
        outbox::table
            .filter(outbox::organization_id.eq(org))
            .filter(outbox::run_id.eq(run))
            .order(outbox::created_at)
            .select(OutboxEntry::as_select())
            .load(conn)
            .await
    }
}

/// One delivery attempt as recorded.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub succeeded: bool,
    pub http_status: Option<i32>,
    pub error: Option<&'a str>,
}

/// What becomes of an entry after an attempt.
#[derive(Debug, Clone, Copy)]
pub enum AfterAttempt {
    Done(DeliveryStatus),
    RetryAt(DateTime<Utc>),
}
