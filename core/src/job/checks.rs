//! Data checks: queries that run after the load and compare one value with an expected
//! one (`SELECT count(*) FROM orders WHERE amount < 0` `=` `0`). A failing check either
//! fails the run or only warns; the load itself stays committed either way.
//!
//! Also the runner's side of the protocol for checks: what the app hands the runner (the
//! check with its connection's settings, secrets included) and what the runner reports.

use crate::config::{DbEndpoint, Warehouse};
use crate::ids::ConnectionId;
use crate::messages::MessageCode;
use crate::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Most checks a job may have.
pub const MAX_CHECKS: usize = 50;
/// Longest check name.
pub const CHECK_NAME_MAX_CHARS: usize = 100;
/// Longest expected value.
pub const EXPECTED_MAX_CHARS: usize = 1000;

/// One check of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DataCheck {
    /// Shown in the run's results and in notifications, e.g. `no negative amounts`.
    pub name: String,
    /// The connection the query runs on: a database (PostgreSQL, MySQL) or a data
    /// warehouse (BigQuery, Snowflake).
    pub connection_id: ConnectionId,
    /// One SELECT (or WITH ... SELECT) returning one row with one column.
    pub sql: String,
    pub operator: CheckOperator,
    /// Compared as numbers when both sides are numbers, else as text.
    pub expected: String,
    /// Whether a NULL (or no row at all) counts as a pass.
    #[serde(default)]
    pub null_passes: bool,
    #[serde(default)]
    pub on_failure: OnCheckFailure,
}

/// How the check's value is compared with the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CheckOperator {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl CheckOperator {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOperator::Eq => "=",
            CheckOperator::Ne => "!=",
            CheckOperator::Lt => "<",
            CheckOperator::Le => "<=",
            CheckOperator::Gt => ">",
            CheckOperator::Ge => ">=",
        }
    }
}

impl fmt::Display for CheckOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares `actual` with `expected`: as numbers when both are numbers, else as text.
pub fn evaluate(
    actual: Option<&str>,
    op: CheckOperator,
    expected: &str,
    null_passes: bool,
) -> bool {
    let Some(actual) = actual else {
        return null_passes;
    };
    // Plain decimals compare exactly (a sum of numeric(38,2) does not fit a double); other
    // numbers (1e3, NaN) as doubles; anything else as text.
    let ord = match (actual.trim().parse::<f64>(), expected.trim().parse::<f64>()) {
        (Ok(a), Ok(e)) => compare_decimals(actual.trim(), expected.trim()).or(a.partial_cmp(&e)),
        _ => Some(actual.cmp(expected)),
    };
    let Some(ord) = ord else { return false };
    use std::cmp::Ordering::*;
    match op {
        CheckOperator::Eq => ord == Equal,
        CheckOperator::Ne => ord != Equal,
        CheckOperator::Lt => ord == Less,
        CheckOperator::Le => ord != Greater,
        CheckOperator::Gt => ord == Greater,
        CheckOperator::Ge => ord != Less,
    }
}

/// Compares two plain decimals (`-12.50`, `+3`, `.5`) exactly; `None` for other forms.
fn compare_decimals(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    /// Sign, integer digits without leading zeros, fraction digits without trailing zeros.
    fn parts(s: &str) -> Option<(bool, &str, &str)> {
        let (negative, digits) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let (int, frac) = (int.trim_start_matches('0'), frac.trim_end_matches('0'));
        // -0 is 0.
        Some((negative && !(int.is_empty() && frac.is_empty()), int, frac))
    }
    let ((a_neg, a_int, a_frac), (b_neg, b_int, b_frac)) = (parts(a)?, parts(b)?);
    let magnitude = a_int
        .len()
        .cmp(&b_int.len())
        .then_with(|| a_int.cmp(b_int))
        .then_with(|| a_frac.cmp(b_frac));
    Some(match (a_neg, b_neg) {
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
    })
}

/// What a failing check does to the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OnCheckFailure {
    /// The run ends as failed (the loaded rows stay committed).
    #[default]
    Fail,
    /// The run succeeds; the result says the check warned.
    Warn,
}

/// How one check of a run came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    Passed,
    /// Did not pass, and the check says `fail`.
    Failed,
    /// Did not pass, and the check says `warn`.
    Warned,
}

impl CheckOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::Passed => "passed",
            CheckOutcome::Failed => "failed",
            CheckOutcome::Warned => "warned",
        }
    }

    /// The outcome of a check that passed or not, given its failure policy.
    pub fn of(passed: bool, on_failure: OnCheckFailure) -> CheckOutcome {
        match (passed, on_failure) {
            (true, _) => CheckOutcome::Passed,
            (false, OnCheckFailure::Fail) => CheckOutcome::Failed,
            (false, OnCheckFailure::Warn) => CheckOutcome::Warned,
        }
    }
}

impl fmt::Display for CheckOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CheckOutcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "passed" => Ok(CheckOutcome::Passed),
            "failed" => Ok(CheckOutcome::Failed),
            "warned" => Ok(CheckOutcome::Warned),
            other => Err(format!(
                "unknown check outcome {other:?}; expected passed, failed or warned"
            )),
        }
    }
}

crate::text_sql_enum!(CheckOutcome);

/// Field checks of a job's data checks. Whether each named connection exists, may be used
/// by the caller and is a database is the server's part (it knows the connections).
pub fn validate_checks(e: &mut FieldErrors, checks: &[DataCheck]) {
    if checks.len() > MAX_CHECKS {
        e.push(
            "checks",
            format!("a job may have at most {MAX_CHECKS} checks"),
        );
    }
    for (i, check) in checks.iter().enumerate() {
        let f = |name: &str| format!("checks[{i}].{name}");
        let name = check.name.trim();
        if name.is_empty() {
            e.push_message(f("name"), MessageCode::CheckNameRequired);
        } else if name.chars().count() > CHECK_NAME_MAX_CHARS {
            e.push_message(
                f("name"),
                MessageCode::TooLong.with("n", CHECK_NAME_MAX_CHARS),
            );
        } else if checks[..i].iter().any(|o| o.name.trim() == name) {
            e.push_message(f("name"), MessageCode::CheckNameTaken);
        }
        if let Err(message) = super::check_select(&check.sql) {
            e.push_message(f("sql"), message);
        }
        if check.expected.chars().count() > EXPECTED_MAX_CHARS {
            e.push_message(
                f("expected"),
                MessageCode::TooLong.with("n", EXPECTED_MAX_CHARS),
            );
        }
    }
}

/// A check as the runner receives it: the connection's settings with its password.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignedCheck {
    pub position: i32,
    pub name: String,
    /// The database to run the check on, with its password; `None` when the check's
    /// connection no longer exists or is a warehouse.
    pub endpoint: Option<DbEndpoint>,
    /// The data warehouse to run the check on (BigQuery, Snowflake), with its key or
    /// password. With neither this nor `endpoint` the check does not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<Warehouse>,
    pub sql: String,
    pub operator: CheckOperator,
    pub expected: String,
    pub null_passes: bool,
    pub on_failure: OnCheckFailure,
}

// The password never reaches a log line.
impl fmt::Debug for AssignedCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssignedCheck")
            .field("position", &self.position)
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("warehouse", &self.warehouse.is_some())
            .finish_non_exhaustive()
    }
}

/// What a runner reports for one check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckReport {
    pub position: i32,
    pub outcome: CheckOutcome,
    /// The value the query returned; `None` for NULL or when the query failed.
    pub actual: Option<String>,
    /// Why the check did not pass.
    pub message: Option<String>,
}

/// The runner's check reports, posted after the load and before the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckReports {
    pub checks: Vec<CheckReport>,
}

/// A check's result as the runs API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckResultView {
    pub position: i32,
    pub name: String,
    pub outcome: CheckOutcome,
    pub operator: String,
    pub expected: String,
    pub actual: Option<String>,
    pub message: Option<String>,
}

/// "Run this check now", for the form's preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckPreviewRequest {
    pub connection_id: ConnectionId,
    pub sql: String,
    pub operator: CheckOperator,
    pub expected: String,
    #[serde(default)]
    pub null_passes: bool,
}

impl CheckPreviewRequest {
    pub fn validate(&self) -> FieldErrors {
        let mut e = FieldErrors::default();
        if let Err(message) = super::check_select(&self.sql) {
            e.push_message("sql", message);
        }
        if self.expected.chars().count() > EXPECTED_MAX_CHARS {
            e.push_message(
                "expected",
                MessageCode::TooLong.with("n", EXPECTED_MAX_CHARS),
            );
        }
        e
    }
}

/// The preview's answer: whether the check holds now and the value it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckPreviewResponse {
    pub passed: bool,
    pub actual: Option<String>,
    /// The database's error in plain words, when the query could not run.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, sql: &str) -> DataCheck {
        DataCheck {
            name: name.to_owned(),
            connection_id: ConnectionId::new(),
            sql: sql.to_owned(),
            operator: CheckOperator::Eq,
            expected: "0".to_owned(),
            null_passes: false,
            on_failure: OnCheckFailure::Fail,
        }
    }

    #[test]
    fn operators_and_policies_read_as_the_form_writes_them() {
        let c: DataCheck = serde_json::from_value(serde_json::json!({
            "name": "no negatives", "connection_id": ConnectionId::new(),
            "sql": "SELECT count(*) FROM t WHERE amount < 0", "operator": "<=",
            "expected": "0", "on_failure": "warn"
        }))
        .unwrap();
        assert_eq!(c.operator, CheckOperator::Le);
        assert_eq!(c.on_failure, OnCheckFailure::Warn);
        assert!(!c.null_passes);
        let bad = serde_json::from_value::<DataCheck>(serde_json::json!({
            "name": "x", "connection_id": ConnectionId::new(), "sql": "SELECT 1",
            "operator": "==", "expected": "1"
        }));
        assert!(bad.is_err());
    }

    #[test]
    fn validation_names_each_bad_field() {
        let good = check("rows", "SELECT count(*) FROM t");
        let mut e = FieldErrors::default();
        validate_checks(&mut e, std::slice::from_ref(&good));
        assert!(e.is_empty(), "{e:?}");

        let checks = vec![
            check("", "DELETE FROM t"),
            good.clone(),
            check("rows", "SELECT 1; SELECT 2"),
        ];
        let mut e = FieldErrors::default();
        validate_checks(&mut e, &checks);
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert!(fields.contains(&"checks[0].name"), "{fields:?}");
        assert!(fields.contains(&"checks[0].sql"), "{fields:?}");
        assert!(fields.contains(&"checks[2].name"), "{fields:?}");
        assert!(fields.contains(&"checks[2].sql"), "{fields:?}");
        assert!(
            !fields.iter().any(|f| f.starts_with("checks[1]")),
            "{fields:?}"
        );
    }

    #[test]
    fn outcome_follows_the_failure_policy() {
        assert_eq!(
            CheckOutcome::of(true, OnCheckFailure::Fail),
            CheckOutcome::Passed
        );
        assert_eq!(
            CheckOutcome::of(false, OnCheckFailure::Fail),
            CheckOutcome::Failed
        );
        assert_eq!(
            CheckOutcome::of(false, OnCheckFailure::Warn),
            CheckOutcome::Warned
        );
    }

    #[test]
    fn every_operator_and_nulls() {
        let cases = [
            (CheckOperator::Eq, [false, true, false]),
            (CheckOperator::Ne, [true, false, true]),
            (CheckOperator::Lt, [true, false, false]),
            (CheckOperator::Le, [true, true, false]),
            (CheckOperator::Gt, [false, false, true]),
            (CheckOperator::Ge, [false, true, true]),
        ];
        for (op, expected) in cases {
            let got = ["4", "5.0", "6"].map(|actual| evaluate(Some(actual), op, "5", false));
            assert_eq!(got, expected, "{op:?}");
            assert!(evaluate(None, op, "5", true), "{op:?}: NULL passes");
            assert!(!evaluate(None, op, "5", false), "{op:?}: NULL fails");
        }
    }

    #[test]
    fn decimals_compare_exactly() {
        // Equal as doubles, different as numbers.
        let (a, b) = ("12345678901234567890.01", "12345678901234567890.02");
        assert_eq!(a.parse::<f64>().unwrap(), b.parse::<f64>().unwrap());
        assert!(evaluate(Some(a), CheckOperator::Lt, b, false));
        assert!(!evaluate(Some(a), CheckOperator::Eq, b, false));
        assert!(evaluate(Some("1.50"), CheckOperator::Eq, "1.5", false));
        assert!(evaluate(Some("007"), CheckOperator::Eq, "7", false));
        assert!(evaluate(Some("-0"), CheckOperator::Eq, "0.00", false));
        assert!(evaluate(Some("-10.5"), CheckOperator::Lt, "-2", false));
        assert!(evaluate(Some("-1"), CheckOperator::Lt, "0.1", false));
        assert!(evaluate(Some(".5"), CheckOperator::Eq, "0.5", false));
        assert!(
            evaluate(Some("1e3"), CheckOperator::Eq, "1000", false),
            "exponents as doubles"
        );
        assert!(evaluate(Some("9"), CheckOperator::Lt, "10", false));
        assert!(evaluate(Some("abc"), CheckOperator::Lt, "abd", false));
    }
}
