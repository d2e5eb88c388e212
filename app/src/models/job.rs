//! Transfer jobs, their revisions and shares.

use crate::schema::{job_revisions, job_shares, jobs};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::authz::TeamRole;
use hakobu_core::ids::{ConnectionId, JobId, OrganizationId, TeamId, UserId};
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub id: JobId,
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    pub name: String,
    pub description: String,
    pub labels: Vec<String>,
    pub enabled: bool,
    pub settings: Value,
    pub source_connection_id: ConnectionId,
    pub destination_connection_id: ConnectionId,
    pub revision: i32,
    pub incremental_state: Option<Value>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = jobs)]
pub struct NewJob<'a> {
    pub id: JobId,
    pub organization_id: OrganizationId,
    pub team_id: TeamId,
    pub name: &'a str,
    pub description: &'a str,
    pub labels: &'a [String],
    pub enabled: bool,
    pub settings: Value,
    pub source_connection_id: ConnectionId,
    pub destination_connection_id: ConnectionId,
    pub created_by: Option<UserId>,
}

#[derive(AsChangeset)]
#[diesel(table_name = jobs)]
pub struct JobChangeset<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub labels: &'a [String],
    pub enabled: bool,
    pub settings: Value,
    pub source_connection_id: ConnectionId,
    pub destination_connection_id: ConnectionId,
    pub revision: i32,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = job_revisions)]
pub struct JobRevision {
    pub job_id: JobId,
    pub revision: i32,
    pub organization_id: OrganizationId,
    pub name: String,
    pub description: String,
    pub labels: Vec<String>,
    pub settings: Value,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
}

pub type Shares = Vec<(TeamId, TeamRole)>;

crate::tenant_rows!(Job, jobs, JobId, JobChangeset<'_>);

impl Job {
    /// Sets where the job's next incremental run starts (an import carrying Embulk's
    /// `last_record` / `last_path`); the runs' own results move it afterwards.
    pub async fn set_incremental_state(
        conn: &mut AsyncPgConnection,
        organization_id: OrganizationId,
        id: JobId,
        state: &Value,
    ) -> QueryResult<Job> {
        diesel::update(
            jobs::table
                .filter(jobs::organization_id.eq(organization_id))
                .filter(jobs::id.eq(id)),
        )
        .set(jobs::incremental_state.eq(Some(state)))
        .returning(Job::as_returning())
        .get_result(conn)
        .await
    }

    pub async fn insert(conn: &mut AsyncPgConnection, new: NewJob<'_>) -> QueryResult<Job> {
        diesel::insert_into(jobs::table)
            .values(new)
            .returning(Job::as_returning())
            .get_result(conn)
            .await
    }

    /// Jobs of the organization, optionally by name fragment and label.
    pub async fn search(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        name: Option<&str>,
        label: Option<&str>,
    ) -> QueryResult<Vec<Job>> {
        let mut q = jobs::table
            .filter(jobs::organization_id.eq(org))
            .into_boxed();
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            let pattern = format!(
                "%{}%",
                name.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            );
            q = q.filter(jobs::name.ilike(pattern));
        }
        if let Some(label) = label.filter(|l| !l.is_empty()) {
            q = q.filter(jobs::labels.contains(vec![label.to_owned()]));
        }
        q.order(jobs::name)
            .select(Job::as_select())
            .load(conn)
            .await
    }

    /// Records the job's current state as its revision `job.revision`.
    pub async fn record_revision(
        conn: &mut AsyncPgConnection,
        job: &Job,
        by: Option<UserId>,
    ) -> QueryResult<usize> {
        diesel::insert_into(job_revisions::table)
            .values((
                job_revisions::job_id.eq(job.id),
                job_revisions::revision.eq(job.revision),
                job_revisions::organization_id.eq(job.organization_id),
                job_revisions::name.eq(&job.name),
                job_revisions::description.eq(&job.description),
                job_revisions::labels.eq(&job.labels),
                job_revisions::settings.eq(&job.settings),
                job_revisions::created_by.eq(by),
            ))
            .execute(conn)
            .await
    }

    pub async fn revisions(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: JobId,
    ) -> QueryResult<Vec<JobRevision>> {
        job_revisions::table
            .filter(job_revisions::organization_id.eq(org))
            .filter(job_revisions::job_id.eq(id))
            .order(job_revisions::revision.desc())
            .select(JobRevision::as_select())
            .load(conn)
            .await
    }

    pub async fn revision(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: JobId,
        revision: i32,
    ) -> QueryResult<Option<JobRevision>> {
        job_revisions::table
            .filter(job_revisions::organization_id.eq(org))
            .filter(job_revisions::job_id.eq(id))
            .filter(job_revisions::revision.eq(revision))
            .select(JobRevision::as_select())
            .first(conn)
            .await
            .optional()
    }

    pub async fn shares(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: JobId,
    ) -> QueryResult<Shares> {
        job_shares::table
            .filter(job_shares::organization_id.eq(org))
            .filter(job_shares::job_id.eq(id))
            .select((job_shares::team_id, job_shares::role))
            .load(conn)
            .await
    }

    pub async fn all_shares(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
    ) -> QueryResult<HashMap<JobId, Shares>> {
        let rows: Vec<(JobId, TeamId, TeamRole)> = job_shares::table
            .filter(job_shares::organization_id.eq(org))
            .select((job_shares::job_id, job_shares::team_id, job_shares::role))
            .load(conn)
            .await?;
        let mut map: HashMap<JobId, Shares> = HashMap::new();
        for (j, t, r) in rows {
            map.entry(j).or_default().push((t, r));
        }
        Ok(map)
    }

    pub async fn set_shares(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        id: JobId,
        shares: &Shares,
    ) -> QueryResult<()> {
        diesel::delete(job_shares::table)
            .filter(job_shares::organization_id.eq(org))
            .filter(job_shares::job_id.eq(id))
            .execute(conn)
            .await?;
        let rows: Vec<_> = shares
            .iter()
            .map(|(team, role)| {
                (
                    job_shares::job_id.eq(id),
                    job_shares::team_id.eq(*team),
                    job_shares::organization_id.eq(org),
                    job_shares::role.eq(*role),
                )
            })
            .collect();
        if !rows.is_empty() {
            diesel::insert_into(job_shares::table)
                .values(rows)
                .execute(conn)
                .await?;
        }
        Ok(())
    }
}
