//! Database rows and the queries on them. Per table: the row struct, `NewX` for inserts,
//! `XChangeset` for updates where needed, and functions that take the organization id
//! explicitly and return diesel's `QueryResult`.
//!
//! The lookups every tenant-owned table shares (`find`, `update`, `delete` by id within one
//! organization) come from [`tenant_rows!`], so none of them can forget the organization.

pub mod api_token;
pub mod audit;
pub mod connection;
pub mod destination;
pub mod invitation;
pub mod job;
pub mod login_attempt;
pub mod notification_outbox;
pub mod notification_rule;
pub mod organization;
pub mod password_reset;
pub mod run;
pub mod run_check;
pub mod run_insights;
pub mod schedule;
pub mod session;
pub mod team;
pub mod user;
pub mod workflow;

/// `find`, `delete` and (given a changeset type) `update` of one row by id, always within
/// one organization: another organization's row is `None` (or 0 rows), never a leak.
/// `update` answers `None` for a row deleted meanwhile, which handlers turn into 404.
#[macro_export]
macro_rules! tenant_rows {
    ($row:ty, $table:ident, $id:ty $(, $changeset:ty)?) => {
        impl $row {
            pub async fn find(
                conn: &mut diesel_async::AsyncPgConnection,
                org: hakobu_core::ids::OrganizationId,
                id: $id,
            ) -> diesel::QueryResult<Option<Self>> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                $table::table
                    .filter($table::organization_id.eq(org))
                    .filter($table::id.eq(id))
                    .select(Self::as_select())
                    .first(conn)
                    .await
                    .optional()
            }

            pub async fn delete(
                conn: &mut diesel_async::AsyncPgConnection,
                org: hakobu_core::ids::OrganizationId,
                id: $id,
            ) -> diesel::QueryResult<usize> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                diesel::delete($table::table)
                    .filter($table::organization_id.eq(org))
                    .filter($table::id.eq(id))
                    .execute(conn)
                    .await
            }

            $(
            pub async fn update(
                conn: &mut diesel_async::AsyncPgConnection,
                org: hakobu_core::ids::OrganizationId,
                id: $id,
                changes: $changeset,
            ) -> diesel::QueryResult<Option<Self>> {
                use diesel::prelude::*;
                use diesel_async::RunQueryDsl;
                diesel::update($table::table)
                    .filter($table::organization_id.eq(org))
                    .filter($table::id.eq(id))
                    .set(changes)
                    .returning(Self::as_returning())
                    .get_result(conn)
                    .await
                    .optional()
            }
            )?
        }
    };
}
