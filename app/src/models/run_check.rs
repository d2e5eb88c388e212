//! Data check results of a run, as the runner reported them.

use crate::schema::run_checks;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hakobu_core::ids::RunId;
use hakobu_core::job::checks::{CheckOutcome, CheckResultView};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = run_checks)]
pub struct RunCheck {
    pub run_id: RunId,
    pub position: i32,
    pub name: String,
    pub outcome: CheckOutcome,
    pub actual: Option<String>,
    pub expected: String,
    pub operator: String,
    pub message: Option<String>,
    pub checked_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = run_checks)]
pub struct NewRunCheck<'a> {
    pub run_id: RunId,
    pub position: i32,
    pub name: &'a str,
    pub outcome: CheckOutcome,
    pub actual: Option<&'a str>,
    pub expected: &'a str,
    pub operator: &'a str,
    pub message: Option<&'a str>,
}

impl RunCheck {
    pub fn view(&self) -> CheckResultView {
        CheckResultView {
            position: self.position,
            name: self.name.clone(),
            outcome: self.outcome,
            operator: self.operator.clone(),
            expected: self.expected.clone(),
            actual: self.actual.clone(),
            message: self.message.clone(),
        }
    }

    /// Stores the results; a repeated report of the same check keeps the first.
    pub async fn insert_all(
        conn: &mut AsyncPgConnection,
        rows: Vec<NewRunCheck<'_>>,
    ) -> QueryResult<usize> {
        diesel::insert_into(run_checks::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await
    }

    /// When a check with `fail` did not pass: the run's error summary saying which.
    pub async fn failure_summary(
        conn: &mut AsyncPgConnection,
        run: RunId,
    ) -> QueryResult<Option<String>> {
        let failed: Vec<RunCheck> = Self::for_run(conn, run)
            .await?
            .into_iter()
            .filter(|c| c.outcome == CheckOutcome::Failed)
            .collect();
        if failed.is_empty() {
            return Ok(None);
        }
        let list: Vec<String> = failed
            .iter()
            .map(|c| {
                format!(
                    "{} (got {}, expected {} {})",
                    c.name,
                    c.actual.as_deref().unwrap_or("NULL"),
                    c.operator,
                    c.expected
                )
            })
            .collect();
        Ok(Some(format!(
            "Data check failed after the load: {}. The loaded rows stay committed.",
            list.join("; ")
        )))
    }

    /// The run's results in check order. The caller has checked the run's organization.
    pub async fn for_run(conn: &mut AsyncPgConnection, run: RunId) -> QueryResult<Vec<RunCheck>> {
        run_checks::table
            .filter(run_checks::run_id.eq(run))
            .order(run_checks::position)
            .select(RunCheck::as_select())
            .load(conn)
            .await
    }
}
