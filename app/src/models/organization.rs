//! Organizations: the tenants.

use crate::schema::organizations;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::ids::OrganizationId;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Runs at once for this organization; `None` means the service's ceiling.
    pub max_concurrent_runs: Option<i64>,
    /// The operator's overrides of the service's quotas (`settings::Quotas`), by name.
    pub quotas: serde_json::Value,
}

impl Organization {
    pub async fn insert(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<Organization> {
        diesel::insert_into(organizations::table)
            .values((
                organizations::id.eq(OrganizationId::new()),
                organizations::name.eq(name),
            ))
            .returning(Organization::as_returning())
            .get_result(conn)
            .await
    }

    /// Replaces the operator's quota overrides.
    pub async fn set_quotas(
        conn: &mut AsyncPgConnection,
        id: OrganizationId,
        quotas: &serde_json::Value,
    ) -> QueryResult<Organization> {
        diesel::update(organizations::table.find(id))
            .set(organizations::quotas.eq(quotas))
            .returning(Organization::as_returning())
            .get_result(conn)
            .await
    }

    /// The organization, its row held until the transaction ends, so counting its rows
    /// against a quota and inserting one is not raced by another request.
    pub async fn lock(
        conn: &mut AsyncPgConnection,
        id: OrganizationId,
    ) -> QueryResult<Organization> {
        organizations::table
            .find(id)
            .select(Organization::as_select())
            .for_update()
            .first(conn)
            .await
    }

    pub async fn find(
        conn: &mut AsyncPgConnection,
        id: OrganizationId,
    ) -> QueryResult<Organization> {
        organizations::table
            .find(id)
            .select(Organization::as_select())
            .first(conn)
            .await
    }

    pub async fn rename(
        conn: &mut AsyncPgConnection,
        id: OrganizationId,
        name: &str,
    ) -> QueryResult<Organization> {
        diesel::update(organizations::table.find(id))
            .set(organizations::name.eq(name))
            .returning(Organization::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn set_max_concurrent_runs(
        conn: &mut AsyncPgConnection,
        id: OrganizationId,
        limit: Option<i64>,
    ) -> QueryResult<Organization> {
        diesel::update(organizations::table.find(id))
            .set(organizations::max_concurrent_runs.eq(limit))
            .returning(Organization::as_returning())
            .get_result(conn)
            .await
    }
}
