//! Per-organization quotas: how many jobs, schedules and waiting runs one organization may
//! hold, and how many revisions of each job are kept, so one tenant cannot fill the
//! service's database or queue for everyone (`docs/security.md`).
//!
//! The defaults are the operator's (`HAKOBU_QUOTA_*`); `hakobu set-quotas` overrides them
//! for one organization. A check locks the organization's row for the rest of the caller's
//! transaction, so two requests cannot both take the last place.

use crate::error::ApiError;
use crate::models::organization::Organization;
use crate::schema::{job_revisions, jobs, runs, schedules};
use crate::settings::Quotas;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::runs::RunStatus;
use hakobu_core::ids::{JobId, OrganizationId};
use hakobu_core::messages::MessageCode;

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    Jobs,
    Schedules,
    QueuedRuns,
}

/// The organization's quotas: the service's defaults with the operator's overrides.
pub async fn of(
    conn: &mut AsyncPgConnection,
    defaults: &Quotas,
    organization: OrganizationId,
) -> QueryResult<Quotas> {
    let org = Organization::find(conn, organization).await?;
    Ok(defaults.for_organization(&org.quotas))
}

/// `Some(limit)` when `adding` more of `what` would pass the organization's quota. Locks
/// the organization's row until the caller's transaction ends.
pub async fn over(
    conn: &mut AsyncPgConnection,
    defaults: &Quotas,
    organization: OrganizationId,
    what: Counted,
    adding: i64,
) -> QueryResult<Option<i64>> {
    let quotas = defaults.for_organization(&Organization::lock(conn, organization).await?.quotas);
    let (limit, held): (i64, i64) = match what {
        Counted::Jobs => (
            quotas.jobs,
            jobs::table
                .filter(jobs::organization_id.eq(organization))
                .count()
                .get_result(conn)
                .await?,
        ),
        Counted::Schedules => (
            quotas.schedules,
            schedules::table
                .filter(schedules::organization_id.eq(organization))
                .count()
                .get_result(conn)
                .await?,
        ),
        Counted::QueuedRuns => (
            quotas.queued_runs,
            runs::table
                .filter(runs::organization_id.eq(organization))
                .filter(runs::status.eq(RunStatus::Queued))
                .count()
                .get_result(conn)
                .await?,
        ),
    };
    Ok((held + adding > limit).then_some(limit))
}

/// [`over`] as the answer to a request: 409 with the quota's message.
pub async fn ensure_room(
    conn: &mut AsyncPgConnection,
    defaults: &Quotas,
    organization: OrganizationId,
    what: Counted,
    adding: i64,
) -> Result<(), ApiError> {
    let Some(limit) = over(conn, defaults, organization, what, adding).await? else {
        return Ok(());
    };
    let code = match what {
        Counted::Jobs => MessageCode::QuotaJobs,
        Counted::Schedules => MessageCode::QuotaSchedules,
        Counted::QueuedRuns => MessageCode::QuotaQueuedRuns,
    };
    Err(ApiError::Conflict {
        message: code.with("limit", limit).into(),
        field: None,
    })
}

/// Deletes the job's revisions older than the newest `revisions_kept`, except those a run
/// still waiting or running executes. Answers how many were deleted.
pub async fn prune_revisions(
    conn: &mut AsyncPgConnection,
    defaults: &Quotas,
    organization: OrganizationId,
    job: JobId,
    newest: i32,
) -> QueryResult<usize> {
    let keep = of(conn, defaults, organization).await?.revisions_kept;
    let oldest_kept = i64::from(newest) - keep + 1;
    if oldest_kept <= 1 {
        return Ok(0);
    }
    let in_use = runs::table
        .filter(runs::job_id.eq(job))
        .filter(runs::status.eq_any([RunStatus::Queued, RunStatus::Starting, RunStatus::Running]))
        .select(runs::job_revision);
    diesel::delete(
        job_revisions::table
            .filter(job_revisions::organization_id.eq(organization))
            .filter(job_revisions::job_id.eq(job))
            .filter(job_revisions::revision.lt(oldest_kept as i32))
            .filter(job_revisions::revision.ne_all(in_use)),
    )
    .execute(conn)
    .await
}
