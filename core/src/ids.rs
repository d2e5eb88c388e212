//! Typed identifiers, so an organization id can never be passed where a team id belongs.
//!
//! Ids are UUIDs rather than sequences: they leak neither counts nor neighbours across
//! tenants. With the `diesel` feature they map to PostgreSQL `uuid` columns directly.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident;)*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "diesel", derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow))]
        #[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Uuid))]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        #[cfg(feature = "diesel")]
        impl diesel::serialize::ToSql<diesel::sql_types::Uuid, diesel::pg::Pg> for $name {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                <Uuid as diesel::serialize::ToSql<diesel::sql_types::Uuid, diesel::pg::Pg>>::to_sql(
                    &self.0, out,
                )
            }
        }

        #[cfg(feature = "diesel")]
        impl diesel::deserialize::FromSql<diesel::sql_types::Uuid, diesel::pg::Pg> for $name {
            fn from_sql(bytes: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
                <Uuid as diesel::deserialize::FromSql<diesel::sql_types::Uuid, diesel::pg::Pg>>::from_sql(bytes)
                    .map(Self)
            }
        }
    )*};
}

id_type! {
    /// A tenant: every tenant-owned row carries one.
    OrganizationId;
    /// A person with a login.
    UserId;
    /// A group of members inside an organization; owns connections and jobs.
    TeamId;
    /// A pending invitation to join an organization.
    InvitationId;
    /// A personal API token.
    ApiTokenId;
    /// A login session (the `jti` of its JWT).
    SessionId;
    /// One row of the audit log.
    AuditEntryId;
    /// A saved connection to a database or storage.
    ConnectionId;
    /// A transfer job.
    JobId;
    /// One attempt of a job.
    RunId;
    /// When a job runs: one recurrence in one time zone.
    ScheduleId;
    /// The runs one backfill request created.
    BackfillId;
    /// Where notifications go: a Slack webhook, an email address, a generic webhook.
    DestinationId;
    /// When to notify a destination (per job, or an organization-wide default).
    NotificationRuleId;
    /// One notification in the outbox; webhooks receive it as their idempotency key.
    NotificationEventId;
    /// A graph of tasks (jobs, waits, notifications) run in order.
    WorkflowId;
    /// One run of a workflow; its tasks' states are rows of their own.
    WorkflowRunId;
}
