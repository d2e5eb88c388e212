//! Notification rules: per job, per workflow, or organization-wide defaults for jobs
//! (`job_id` and `workflow_id` NULL).

use crate::schema::notification_rules as rules;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::api::notifications::{NotificationEventKind, RuleView};
use hakobu_core::ids::{DestinationId, JobId, NotificationRuleId, OrganizationId, WorkflowId};
use serde_json::Value;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = rules)]
pub struct NotificationRule {
    pub id: NotificationRuleId,
    pub organization_id: OrganizationId,
    pub job_id: Option<JobId>,
    /// A workflow's rule (its runs' success or failure); never with `job_id`.
    pub workflow_id: Option<WorkflowId>,
    pub destination_id: DestinationId,
    pub event: NotificationEventKind,
    pub threshold: Option<i64>,
    pub subject: Option<String>,
    pub template: Option<String>,
    pub mentions: Value,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable)]
#[diesel(table_name = rules)]
pub struct NewNotificationRule<'a> {
    pub id: NotificationRuleId,
    pub organization_id: OrganizationId,
    pub job_id: Option<JobId>,
    pub workflow_id: Option<WorkflowId>,
    pub destination_id: DestinationId,
    pub event: NotificationEventKind,
    pub threshold: Option<i64>,
    pub subject: Option<&'a str>,
    pub template: Option<&'a str>,
    pub mentions: Value,
    pub enabled: bool,
}

#[derive(AsChangeset)]
#[diesel(table_name = rules, treat_none_as_null = true)]
pub struct NotificationRuleChangeset<'a> {
    pub destination_id: DestinationId,
    pub event: NotificationEventKind,
    pub threshold: Option<i64>,
    pub subject: Option<&'a str>,
    pub template: Option<&'a str>,
    pub mentions: Value,
    pub enabled: bool,
    pub updated_at: DateTime<Utc>,
}

crate::tenant_rows!(
    NotificationRule,
    rules,
    NotificationRuleId,
    NotificationRuleChangeset<'_>
);

impl NotificationRule {
    pub fn view(&self) -> RuleView {
        RuleView {
            id: self.id,
            job_id: self.job_id,
            workflow_id: self.workflow_id,
            destination_id: self.destination_id,
            event: self.event,
            threshold: self.threshold,
            subject: self.subject.clone(),
            template: self.template.clone(),
            mentions: self.mentions(),
            enabled: self.enabled,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    pub fn mentions(&self) -> Vec<String> {
        serde_json::from_value(self.mentions.clone()).unwrap_or_default()
    }

    pub async fn insert(
        conn: &mut AsyncPgConnection,
        new: NewNotificationRule<'_>,
    ) -> QueryResult<NotificationRule> {
        diesel::insert_into(rules::table)
            .values(new)
            .returning(NotificationRule::as_returning())
            .get_result(conn)
            .await
    }

    /// The job's rules, or the organization's defaults when `job` is `None`.
    pub async fn list(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        job: Option<JobId>,
    ) -> QueryResult<Vec<NotificationRule>> {
        let mut q = rules::table
            .filter(rules::organization_id.eq(org))
            .into_boxed();
        q = match job {
            Some(j) => q.filter(rules::job_id.eq(j)),
            None => q
                .filter(rules::job_id.is_null())
                .filter(rules::workflow_id.is_null()),
        };
        q.order(rules::created_at)
            .select(NotificationRule::as_select())
            .load(conn)
            .await
    }

    /// The workflow's rules, enabled or not.
    pub async fn for_workflow(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        workflow: WorkflowId,
    ) -> QueryResult<Vec<NotificationRule>> {
        rules::table
            .filter(rules::organization_id.eq(org))
            .filter(rules::workflow_id.eq(workflow))
            .order(rules::created_at)
            .select(NotificationRule::as_select())
            .load(conn)
            .await
    }

    /// Every rule that may concern `job`: its own and the organization's defaults,
    /// enabled or not (see [`NotificationRule::pick`]).
    pub async fn for_job(
        conn: &mut AsyncPgConnection,
        org: OrganizationId,
        job: JobId,
    ) -> QueryResult<Vec<NotificationRule>> {
        rules::table
            .filter(rules::organization_id.eq(org))
            .filter(
                rules::job_id
                    .eq(job)
                    .or(rules::job_id.is_null().and(rules::workflow_id.is_null())),
            )
            .order(rules::created_at)
            .select(NotificationRule::as_select())
            .load(conn)
            .await
    }

    /// The enabled rules for `event` that apply to `job`: the job's own, or the
    /// organization's defaults when the job has none for this event. A disabled rule of
    /// the job still counts as "the job decided for this event".
    pub fn pick(
        rules: &[NotificationRule],
        job: JobId,
        event: NotificationEventKind,
    ) -> Vec<&NotificationRule> {
        let own = rules
            .iter()
            .any(|r| r.event == event && r.job_id == Some(job));
        rules
            .iter()
            .filter(|r| r.event == event && r.enabled)
            .filter(|r| {
                if own {
                    r.job_id == Some(job)
                } else {
                    r.job_id.is_none() && r.workflow_id.is_none()
                }
            })
            .collect()
    }
}
