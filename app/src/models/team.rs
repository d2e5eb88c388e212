//! Teams and their members.

use crate::schema::{team_members, teams, users};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::org::{TeamMemberView, TeamView};
use hakobu_core::authz::TeamRole;
use hakobu_core::ids::{OrganizationId, TeamId, UserId};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = teams)]
pub struct Team {
    pub id: TeamId,
    pub organization_id: OrganizationId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = team_members)]
pub struct TeamMember {
    pub team_id: TeamId,
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub role: TeamRole,
    pub created_at: DateTime<Utc>,
}

crate::tenant_rows!(Team, teams, TeamId);

impl Team {
    pub async fn insert(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        name: &str,
    ) -> QueryResult<Team> {
        diesel::insert_into(teams::table)
            .values((
                teams::id.eq(TeamId::new()),
                teams::organization_id.eq(org),
                teams::name.eq(name.trim()),
            ))
            .returning(Team::as_returning())
            .get_result(conn)
            .await
    }

    /// Teams of the organization with their member counts; `only` restricts to those ids.
    pub async fn list_with_counts(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        only: Option<Vec<TeamId>>,
    ) -> QueryResult<Vec<TeamView>> {
        let mut query = teams::table
            .left_join(team_members::table)
            .filter(teams::organization_id.eq(org))
            .group_by(teams::id)
            .select((
                teams::id,
                teams::name,
                teams::created_at,
                diesel::dsl::count(team_members::user_id.nullable()),
            ))
            .order(teams::name)
            .into_boxed();
        if let Some(ids) = only {
            query = query.filter(teams::id.eq_any(ids));
        }
        let rows: Vec<(TeamId, String, DateTime<Utc>, i64)> = query.load(conn).await?;
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at, member_count)| TeamView {
                id,
                name,
                created_at,
                member_count,
            })
            .collect())
    }

    pub async fn rename(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: TeamId,
        name: &str,
    ) -> QueryResult<usize> {
        diesel::update(teams::table)
            .filter(teams::organization_id.eq(org))
            .filter(teams::id.eq(id))
            .set(teams::name.eq(name.trim()))
            .execute(conn)
            .await
    }
}

impl TeamMember {
    /// The user's role in each team: what the authorization policy needs.
    pub async fn roles_of(
        conn: &mut AsyncPgConnection,
        user: UserId,
    ) -> QueryResult<BTreeMap<TeamId, TeamRole>> {
        let rows: Vec<(TeamId, TeamRole)> = team_members::table
            .filter(team_members::user_id.eq(user))
            .select((team_members::team_id, team_members::role))
            .load(conn)
            .await?;
        Ok(rows.into_iter().collect())
    }

    /// The user's teams with names, for `/api/me`.
    pub async fn teams_of(
        conn: &mut AsyncPgConnection,
        user: UserId,
    ) -> QueryResult<Vec<(TeamId, String, TeamRole)>> {
        team_members::table
            .inner_join(teams::table)
            .filter(team_members::user_id.eq(user))
            .select((teams::id, teams::name, team_members::role))
            .order(teams::name)
            .load(conn)
            .await
    }

    pub async fn list(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        team: TeamId,
    ) -> QueryResult<Vec<TeamMemberView>> {
        let rows: Vec<(UserId, String, String, TeamRole)> = team_members::table
            .inner_join(users::table)
            .filter(team_members::organization_id.eq(org))
            .filter(team_members::team_id.eq(team))
            .select((users::id, users::name, users::email, team_members::role))
            .order((users::name, users::email))
            .load(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(user_id, name, email, role)| TeamMemberView {
                user_id,
                name,
                email,
                role,
            })
            .collect())
    }

    pub async fn find_role(
        conn: &mut AsyncPgConnection,
        team: TeamId,
        user: UserId,
    ) -> QueryResult<Option<TeamRole>> {
        team_members::table
            .filter(team_members::team_id.eq(team))
            .filter(team_members::user_id.eq(user))
            .select(team_members::role)
            .first(conn)
            .await
            .optional()
    }

    /// Adds the member or changes their role.
    pub async fn upsert(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        team: TeamId,
        user: UserId,
        role: TeamRole,
    ) -> QueryResult<usize> {
        diesel::insert_into(team_members::table)
            .values((
                team_members::team_id.eq(team),
                team_members::user_id.eq(user),
                team_members::organization_id.eq(org),
                team_members::role.eq(role),
            ))
            .on_conflict((team_members::team_id, team_members::user_id))
            .do_update()
            .set(team_members::role.eq(role))
            .execute(conn)
            .await
    }

    pub async fn remove(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        team: TeamId,
        user: UserId,
    ) -> QueryResult<usize> {
        diesel::delete(team_members::table)
            .filter(team_members::organization_id.eq(org))
            .filter(team_members::team_id.eq(team))
            .filter(team_members::user_id.eq(user))
            .execute(conn)
            .await
    }
}
