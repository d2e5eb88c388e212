//! Data checks after the load: the runner fetches the run's checks (with their
//! connections' settings and passwords, like the assignment's secrets), runs each with
//! `hakobu_engine::check::data_check` (a warehouse's with `warehouse_data_check`), and posts the outcomes before its result. A check
//! whose query fails counts as not passed, with the database's message.

use super::Client;
use anyhow::{Context, Result, bail};
use hakobu_core::job::checks::{AssignedCheck, CheckOutcome, CheckReport, CheckReports};
use hakobu_engine::check::{
    CheckError, Connection, DataCheckResult, data_check, warehouse_data_check,
};
use std::time::Duration;

/// How long one check query may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs the run's checks and reports them; an error when they could not be fetched or
/// reported (the run then fails: nothing may pass unchecked).
pub(super) async fn run_after_load(client: &Client) -> Result<()> {
    let response = client
        .http
        .get(client.url("checks"))
        .bearer_auth(client.token())
        .send()
        .await
        .context("cannot reach the app for the data checks")?;
    if !response.status().is_success() {
        bail!("the app answered {} to the data checks", response.status());
    }
    let checks: Vec<AssignedCheck> = response
        .json()
        .await
        .context("the data checks are not readable")?;
    if checks.is_empty() {
        return Ok(());
    }
    let mut reports = Vec::with_capacity(checks.len());
    for check in &checks {
        let report = run_one(check).await;
        let level = match report.outcome {
            CheckOutcome::Passed => "info",
            CheckOutcome::Warned => "warn",
            CheckOutcome::Failed => "error",
        };
        client
            .log(
                level,
                format!(
                    "data check {:?} {}: got {}, expected {} {}{}",
                    check.name,
                    report.outcome,
                    report.actual.as_deref().unwrap_or("NULL"),
                    check.operator,
                    check.expected,
                    report
                        .message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                ),
            )
            .await;
        reports.push(report);
    }
    client
        .post("checks", &CheckReports { checks: reports })
        .await?;
    Ok(())
}

async fn run_one(check: &AssignedCheck) -> CheckReport {
    let op = check.operator;
    if check.endpoint.is_none()
        && let Some(warehouse) = &check.warehouse
    {
        let result = warehouse_data_check(
            warehouse,
            &check.sql,
            op,
            &check.expected,
            check.null_passes,
            CHECK_TIMEOUT,
        )
        .await;
        return report(check, result);
    }
    let Some(endpoint) = check.endpoint.clone() else {
        return CheckReport {
            position: check.position,
            outcome: CheckOutcome::of(false, check.on_failure),
            actual: None,
            message: Some(
                "the check's connection no longer exists or is neither a database nor a data warehouse".to_owned(),
            ),
        };
    };
    let connection = Connection {
        endpoint,
        timeout: CHECK_TIMEOUT,
    };
    let result = data_check(
        &connection,
        &check.sql,
        op,
        &check.expected,
        check.null_passes,
    )
    .await;
    report(check, result)
}

/// The report of a check's outcome: passed, or not with why.
fn report(check: &AssignedCheck, result: Result<DataCheckResult, CheckError>) -> CheckReport {
    match result {
        Ok(result) => CheckReport {
            position: check.position,
            outcome: CheckOutcome::of(result.passed, check.on_failure),
            message: (!result.passed).then(|| {
                if result.actual.is_none() {
                    "the query returned NULL, and NULL counts as a failure".to_owned()
                } else {
                    "the comparison does not hold".to_owned()
                }
            }),
            actual: result.actual,
        },
        Err(e) => CheckReport {
            position: check.position,
            outcome: CheckOutcome::of(false, check.on_failure),
            actual: None,
            message: Some(format!("the query failed: {e}")),
        },
    }
}
