//! Data checks: a query that returns one value, compared with an expected value (as exact
//! decimals when both are numbers).

use super::connection::{Connection, DbKind};
use super::error::{CheckError, ErrorKind};
use serde::Serialize;

/// How a data check compares the query's value with the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum CompareOp {
    /// `=`
    #[serde(rename = "=")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

/// The outcome of a data check.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DataCheckResult {
    /// Whether the check holds.
    pub passed: bool,
    /// The value the query returned (`None` for NULL).
    pub actual: Option<String>,
}

/// Compares `actual` with `expected`: as numbers when both are numbers, else as text.
pub fn evaluate(actual: Option<&str>, op: CompareOp, expected: &str, null_passes: bool) -> bool {
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
        CompareOp::Eq => ord == Equal,
        CompareOp::Ne => ord != Equal,
        CompareOp::Lt => ord == Less,
        CompareOp::Le => ord != Greater,
        CompareOp::Gt => ord == Greater,
        CompareOp::Ge => ord != Less,
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

/// Runs a query that returns one value and compares it with `expected`. A query that
/// returns no row counts as NULL.
pub async fn data_check(
    conn: &Connection,
    sql: &str,
    op: CompareOp,
    expected: &str,
    null_passes: bool,
) -> Result<DataCheckResult, CheckError> {
    let rows = conn
        .guarded(async {
            let rows = conn
                .query_text(
                    &format!(
                        "SELECT CAST(v AS {}) FROM ({sql}) AS hakobu_check(v)",
                        text_type(conn.kind)
                    ),
                    &[],
                )
                .await;
            match (conn.kind, rows) {
                // MySQL has no column-alias list on derived tables: ask for the value as-is.
                (DbKind::Mysql, Err(_)) => conn.query_text(sql, &[]).await,
                (_, r) => r,
            }
        })
        .await?;
    if rows.len() > 1 || rows.first().is_some_and(|r| r.len() != 1) {
        return Err(CheckError {
            kind: ErrorKind::Other,
            message: "a data check query must return exactly one value (one row, one column)"
                .into(),
        });
    }
    let actual = rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten());
    Ok(DataCheckResult {
        passed: evaluate(actual.as_deref(), op, expected, null_passes),
        actual,
    })
}

fn text_type(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Postgresql => "text",
        DbKind::Mysql => "CHAR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_and_nulls() {
        let cases = [
            (CompareOp::Eq, [false, true, false]),
            (CompareOp::Ne, [true, false, true]),
            (CompareOp::Lt, [true, false, false]),
            (CompareOp::Le, [true, true, false]),
            (CompareOp::Gt, [false, false, true]),
            (CompareOp::Ge, [false, true, true]),
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
        assert!(evaluate(Some(a), CompareOp::Lt, b, false));
        assert!(!evaluate(Some(a), CompareOp::Eq, b, false));
        assert!(evaluate(Some("1.50"), CompareOp::Eq, "1.5", false));
        assert!(evaluate(Some("007"), CompareOp::Eq, "7", false));
        assert!(evaluate(Some("-0"), CompareOp::Eq, "0.00", false));
        assert!(evaluate(Some("-10.5"), CompareOp::Lt, "-2", false));
        assert!(evaluate(Some("-1"), CompareOp::Lt, "0.1", false));
        assert!(evaluate(Some(".5"), CompareOp::Eq, "0.5", false));
        assert!(
            evaluate(Some("1e3"), CompareOp::Eq, "1000", false),
            "exponents as doubles"
        );
        assert!(evaluate(Some("9"), CompareOp::Lt, "10", false));
        assert!(evaluate(Some("abc"), CompareOp::Lt, "abd", false));
    }
}
