//! What a run's end (a job's or a workflow's) means for its schedule: a success resets the failure count, repeated
//! failures turn the schedule off (with an audit entry and a notification).

use crate::audit::{self, Actor};
use crate::models::run::Run;
use crate::models::schedule::ScheduleRow;
use crate::schema::{runs as runs_table, schedules};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::runs::RunStatus;
use hakobu_core::ids::{RunId, ScheduleId};
use hakobu_core::schedule::{Recurrence, ScheduleSettings};
use serde_json::json;

/// After a scheduled run ends: a success resets the schedule's failure count; a failure
/// that will not be retried adds one, and at the schedule's limit turns it off, with an
/// audit entry and a notification event. Runs in the caller's transaction.
pub async fn record_outcome(conn: &mut AsyncPgConnection, run_id: RunId) -> anyhow::Result<()> {
    let run: Run = runs_table::table
        .find(run_id)
        .select(Run::as_select())
        .first(conn)
        .await?;
    let Some(schedule_id) = run.schedule_id else {
        return Ok(());
    };
    let retrying =
        run.status == RunStatus::Failed && !run.cancel_requested && run.attempt < run.max_attempts;
    let failed = matches!(run.status, RunStatus::Failed | RunStatus::TimedOut) && !retrying;
    record_schedule_outcome(
        conn,
        schedule_id,
        run.status == RunStatus::Succeeded,
        failed,
        run.error_summary.as_deref(),
        json!({"last_run_id": run.id}),
    )
    .await
}

/// What a scheduled run's end (a job's or a workflow's) means for its schedule: a success
/// resets the failure count; a failure adds one, and at the schedule's limit turns it off
/// with an audit entry (`last` names the run) and a notification event.
pub async fn record_schedule_outcome(
    conn: &mut AsyncPgConnection,
    schedule_id: ScheduleId,
    succeeded: bool,
    failed: bool,
    error_summary: Option<&str>,
    last: serde_json::Value,
) -> anyhow::Result<()> {
    if succeeded {
        diesel::update(schedules::table.find(schedule_id))
            .set(schedules::consecutive_failures.eq(0))
            .execute(conn)
            .await?;
        return Ok(());
    }
    if !failed {
        return Ok(());
    }
    let Some(row) = schedules::table
        .find(schedule_id)
        .for_update()
        .select(ScheduleRow::as_select())
        .first(conn)
        .await
        .optional()?
    else {
        return Ok(());
    };
    let failures = row.consecutive_failures + 1;
    let limit = serde_json::from_value::<ScheduleSettings>(row.settings.clone())
        .map(|s| s.max_consecutive_failures)
        .unwrap_or(hakobu_core::schedule::DEFAULT_MAX_CONSECUTIVE_FAILURES);
    let turn_off = row.enabled && limit > 0 && failures >= limit as i32;
    if !turn_off {
        diesel::update(schedules::table.find(schedule_id))
            .set(schedules::consecutive_failures.eq(failures))
            .execute(conn)
            .await?;
        return Ok(());
    }
    let reason = format!(
        "Turned off after {failures} failed runs in a row. The last error: {}",
        error_summary.unwrap_or("(none recorded)")
    );
    diesel::update(schedules::table.find(schedule_id))
        .set((
            schedules::consecutive_failures.eq(failures),
            schedules::enabled.eq(false),
            schedules::next_fire_at.eq(None::<DateTime<Utc>>),
            schedules::disabled_reason.eq(&reason),
            schedules::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    let actor = Actor {
        organization_id: row.organization_id,
        user_id: None,
        email: None,
        ip: None,
    };
    audit::record(
        conn,
        &actor,
        "schedule.auto_disable",
        "schedule",
        schedule_id,
        {
            let mut details = json!({"job_id": row.job_id, "workflow_id": row.workflow_id, "consecutive_failures": failures});
            if let (Some(d), serde_json::Value::Object(last)) = (details.as_object_mut(), last) {
                d.extend(last);
            }
            details
        },
    )
    .await?;
    let settings = serde_json::from_value::<ScheduleSettings>(row.settings).ok();
    crate::notify::enqueue_event(
        conn,
        crate::notify::NotificationEvent::ScheduleDisabled {
            organization_id: row.organization_id,
            job_id: row.job_id,
            schedule_id: schedule_id.0,
            schedule: settings.as_ref().map_or_else(String::new, describe),
            consecutive_failures: failures as u32,
        },
    )
    .await?;
    tracing::warn!(schedule_id = %schedule_id, failures, "schedule turned off after repeated failures");
    Ok(())
}

/// A schedule in a few words, for messages: `daily at 02:30 (Europe/Berlin)`.
pub fn describe(s: &ScheduleSettings) -> String {
    let when = match &s.recurrence {
        Recurrence::Hourly { minute } => format!("hourly at minute {minute}"),
        Recurrence::Daily { time } => format!("daily at {time}"),
        Recurrence::Weekly { weekdays, time } => {
            let days: Vec<String> = weekdays
                .iter()
                .map(|d| format!("{d:?}").to_lowercase())
                .collect();
            format!("weekly on {} at {time}", days.join(", "))
        }
        Recurrence::Monthly { day, time, .. } => format!("monthly on day {day} at {time}"),
        Recurrence::Cron { expression } => format!("cron \"{expression}\""),
    };
    format!("{when} ({})", s.timezone)
}
