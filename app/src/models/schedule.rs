//! Schedules of jobs and workflows: one recurrence in one time zone each, and where the
//! scheduler is. A schedule runs exactly one of a job or a workflow (`schedules_target_check`).

use crate::schema::schedules;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::ids::{JobId, OrganizationId, ScheduleId, UserId, WorkflowId};
use serde_json::Value;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = schedules)]
pub struct ScheduleRow {
    pub id: ScheduleId,
    pub organization_id: OrganizationId,
    pub job_id: Option<JobId>,
    pub settings: Value,
    pub enabled: bool,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub last_fired_at: Option<DateTime<Utc>>,
    pub consecutive_failures: i32,
    pub disabled_reason: Option<String>,
    pub created_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub workflow_id: Option<WorkflowId>,
}

#[derive(Insertable)]
#[diesel(table_name = schedules)]
pub struct NewSchedule {
    pub id: ScheduleId,
    pub organization_id: OrganizationId,
    pub job_id: Option<JobId>,
    pub workflow_id: Option<WorkflowId>,
    pub settings: Value,
    pub enabled: bool,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
}

#[derive(AsChangeset)]
#[diesel(table_name = schedules, treat_none_as_null = true)]
pub struct ScheduleChangeset {
    pub settings: Value,
    pub enabled: bool,
    pub next_fire_at: Option<DateTime<Utc>>,
    pub consecutive_failures: i32,
    pub disabled_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
}

crate::tenant_rows!(ScheduleRow, schedules, ScheduleId, ScheduleChangeset);

impl ScheduleRow {
    pub async fn insert(conn: &mut AsyncPgConnection, new: NewSchedule) -> QueryResult<Self> {
        diesel::insert_into(schedules::table)
            .values(new)
            .returning(ScheduleRow::as_returning())
            .get_result(conn)
            .await
    }

    pub async fn for_job(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        job: JobId,
    ) -> QueryResult<Vec<Self>> {
        schedules::table
            .filter(schedules::organization_id.eq(org))
            .filter(schedules::job_id.eq(job))
            .order(schedules::created_at)
            .select(ScheduleRow::as_select())
            .load(conn)
            .await
    }

    pub async fn for_workflow(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        workflow: WorkflowId,
    ) -> QueryResult<Vec<Self>> {
        schedules::table
            .filter(schedules::organization_id.eq(org))
            .filter(schedules::workflow_id.eq(workflow))
            .order(schedules::created_at)
            .select(ScheduleRow::as_select())
            .load(conn)
            .await
    }

    pub async fn for_organization(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
    ) -> QueryResult<Vec<Self>> {
        schedules::table
            .filter(schedules::organization_id.eq(org))
            .order((
                schedules::next_fire_at.asc().nulls_last(),
                schedules::created_at,
            ))
            .select(ScheduleRow::as_select())
            .load(conn)
            .await
    }

    /// Enabled schedules due at `now`, locked for this transaction; rows another scheduler
    /// holds are skipped.
    pub async fn claim_due(
        conn: &mut AsyncPgConnection,
        now: DateTime<Utc>,
        limit: i64,
    ) -> QueryResult<Vec<Self>> {
        schedules::table
            .filter(schedules::enabled.eq(true))
            .filter(schedules::next_fire_at.le(now))
            .order(schedules::next_fire_at)
            .limit(limit)
            .for_update()
            .skip_locked()
            .select(ScheduleRow::as_select())
            .load(conn)
            .await
    }
}
