//! Connections and their shares.

use crate::schema::{connection_shares, connections, jobs};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::authz::TeamRole;
use hakobu_core::connection::ConnectionKind;
use hakobu_core::ids::{ConnectionId, JobId, OrganizationId, TeamId, UserId};
use serde_json::Value;
use std::collections::HashMap;

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = connections)]
pub struct Connection {
    pub id: ConnectionId,
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    pub name: String,
    pub kind: ConnectionKind,
    pub settings: Value,
    /// Encrypted values; see `crate::secrets`.
    pub secrets: Value,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// Even encrypted secrets stay out of logs.
impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[derive(Insertable)]
#[diesel(table_name = connections)]
pub struct NewConnection<'a> {
    pub id: ConnectionId,
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    pub name: &'a str,
    pub kind: ConnectionKind,
    pub settings: Value,
    pub secrets: Value,
    pub created_by: Option<UserId>,
}

#[derive(AsChangeset)]
#[diesel(table_name = connections)]
pub struct ConnectionChangeset<'a> {
    pub name: &'a str,
    pub team_id: TeamId,
    pub settings: Value,
    pub secrets: Value,
    pub updated_at: DateTime<Utc>,
}

pub type Shares = Vec<(TeamId, TeamRole)>;

crate::tenant_rows!(
    Connection,
    connections,
    ConnectionId,
    ConnectionChangeset<'_>
);

impl Connection {
    pub fn secret_names(&self) -> Vec<&str> {
        self.secrets
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: NewConnection<'_>,
    ) -> QueryResult<Connection> {
        diesel::insert_into(connections::table)
            .values(new)
            .returning(Connection::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn list(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
    ) -> QueryResult<Vec<Connection>> {
        connections::table
            .filter(connections::organization_id.eq(org))
            .order(connections::name)
            .select(Connection::as_select())
            .load(conn)
            .await
    }

    /// Jobs reading from or writing to the connection.
    pub async fn used_by(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: ConnectionId,
    ) -> QueryResult<Vec<(JobId, String)>> {
        jobs::table
            .filter(jobs::organization_id.eq(org))
            .filter(
                jobs::source_connection_id
                    .eq(id)
                    .or(jobs::destination_connection_id.eq(id)),
            )
            .select((jobs::id, jobs::name))
            .order(jobs::name)
            .load(conn)
            .await
    }

    pub async fn shares(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: ConnectionId,
    ) -> QueryResult<Shares> {
        connection_shares::table
            .filter(connection_shares::organization_id.eq(org))
            .filter(connection_shares::connection_id.eq(id))
            .select((connection_shares::team_id, connection_shares::role))
            .load(conn)
            .await
    }

    /// Shares of every connection of the organization, for filtering lists.
    pub async fn all_shares(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
    ) -> QueryResult<HashMap<ConnectionId, Shares>> {
        let rows: Vec<(ConnectionId, TeamId, TeamRole)> = connection_shares::table
            .filter(connection_shares::organization_id.eq(org))
            .select((
                connection_shares::connection_id,
                connection_shares::team_id,
                connection_shares::role,
            ))
            .load(conn)
            .await?;
        let mut map: HashMap<ConnectionId, Shares> = HashMap::new();
        for (c, t, r) in rows {
            map.entry(c).or_default().push((t, r));
        }
        Ok(map)
    }

    pub async fn set_shares(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: ConnectionId,
        shares: &Shares,
    ) -> QueryResult<()> {
        diesel::delete(connection_shares::table)
            .filter(connection_shares::organization_id.eq(org))
            .filter(connection_shares::connection_id.eq(id))
            .execute(conn)
            .await?;
        let rows: Vec<_> = shares
            .iter()
            .map(|(team, role)| {
                (
                    connection_shares::connection_id.eq(id),
                    connection_shares::team_id.eq(*team),
                    connection_shares::organization_id.eq(org),
                    connection_shares::role.eq(*role),
                )
            })
            .collect();
        if !rows.is_empty() {
            diesel::insert_into(connection_shares::table)
                .values(rows)
                .execute(conn)
                .await?;
        }
        Ok(())
    }
}
