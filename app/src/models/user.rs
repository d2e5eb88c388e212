//! Users: people with a login, each a member of one organization.

use crate::schema::users;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::org::MemberView;
use hakobu_core::authz::OrgRole;
use hakobu_core::ids::{OrganizationId, UserId};

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: UserId,
    pub organization_id: OrganizationId,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub org_role: OrgRole,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// The password hash stays out of logs.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("email", &self.email)
            .field("org_role", &self.org_role)
            .finish_non_exhaustive()
    }
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub id: UserId,
    pub organization_id: OrganizationId,
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub org_role: OrgRole,
}

impl User {
    pub fn view(&self) -> MemberView {
        MemberView {
            user_id: self.id,
            name: self.name.clone(),
            email: self.email.clone(),
            org_role: self.org_role,
            created_at: self.created_at,
        }
    }

    pub async fn insert(conn: &mut AsyncPgConnection, new: NewUser<'_>) -> QueryResult<User> {
        diesel::insert_into(users::table)
            .values(new)
            .returning(User::as_returning())
            .get_result(conn)
            .await
    }

    /// Looks up a login name across organizations: emails are unique service-wide.
    pub async fn find_by_email(
        conn: &mut AsyncPgConnection,
        email: &str,
    ) -> QueryResult<Option<User>> {
        users::table
            .filter(users::email.eq(email))
            .select(User::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn find(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: UserId,
    ) -> QueryResult<Option<User>> {
        users::table
            .filter(users::organization_id.eq(org))
            .filter(users::id.eq(id))
            .select(User::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn list(conn: &mut AsyncPgConnection, org: OrganizationId) -> QueryResult<Vec<User>> {
        users::table
            .filter(users::organization_id.eq(org))
            .order((users::name, users::email))
            .select(User::as_select())
            .load(conn)
            .await
    }

    pub async fn count_owners(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
    ) -> QueryResult<i64> {
        users::table
            .filter(users::organization_id.eq(org))
            .filter(users::org_role.eq(OrgRole::Owner))
            .count()
            .get_result(conn)
            .await
    }

    pub async fn set_role(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: UserId,
        role: OrgRole,
    ) -> QueryResult<usize> {
        diesel::update(users::table)
            .filter(users::organization_id.eq(org))
            .filter(users::id.eq(id))
            .set((
                users::org_role.eq(role),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
    }

    pub async fn set_password_hash(
        conn: &mut AsyncPgConnection,
        id: UserId,
        hash: &str,
    ) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((
                users::password_hash.eq(hash),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await
    }

    pub async fn delete(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: UserId,
    ) -> QueryResult<usize> {
        diesel::delete(users::table)
            .filter(users::organization_id.eq(org))
            .filter(users::id.eq(id))
            .execute(conn)
            .await
    }
}
