//! SQL text shared by the database connectors: the SELECT of a table input and its
//! key-range split. Quoting and Embulk's incremental conditions are [`Dialect`]'s, in
//! `hakobu_core::sql`: identifiers are always quoted, never pasted raw. What the two
//! database readers share beyond SQL text is in [`input`].

pub mod input;
pub mod objects;

pub use hakobu_core::sql::Dialect;

/// Builds the SELECT of a `table` input.
pub fn table_query(
    qualified_table: &str,
    select: Option<&str>,
    where_: Option<&str>,
    incremental: Option<String>,
    order_by: Option<String>,
) -> String {
    let mut sql = format!("SELECT {} FROM {}", select.unwrap_or("*"), qualified_table);
    let conds: Vec<String> = where_
        .map(|w| format!("({w})"))
        .into_iter()
        .chain(incremental.map(|c| format!("({c})")))
        .collect();
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    if let Some(o) = order_by {
        sql.push_str(" ORDER BY ");
        sql.push_str(&o);
    }
    sql
}

/// Whether `select` yields one row per table row whatever rows are around it, so a table
/// can be read in key ranges: no `DISTINCT`, and no function call (an aggregate such as
/// `count(*)`, or a window such as `row_number() OVER ()`, would be computed per range).
/// Conservative: a harmless `coalesce(a, b)` also makes the read a single query.
pub fn select_is_row_wise(select: Option<&str>) -> bool {
    select.is_none_or(|s| {
        let lower = s.to_ascii_lowercase();
        !lower.contains('(')
            && !lower
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|word| word == "distinct")
    })
}

/// Below this many keys per range, one query is faster than several sessions.
pub const MIN_KEYS_PER_RANGE: i128 = 4096;

/// Splits the keys `min..=max` of the integer column `key` (already quoted) into at most
/// `parallel` ranges of at least [`MIN_KEYS_PER_RANGE`] keys, as WHERE conditions; `None`
/// when fewer than two ranges would be worth it.
///
/// The first range is open below and the last open above, so the conditions cover every
/// integer exactly once, even one outside `min..=max` (bounds read outside the snapshot).
pub fn key_range_conditions(
    key: &str,
    min: i128,
    max: i128,
    parallel: usize,
) -> Option<Vec<String>> {
    let span = max - min + 1;
    let parts = (parallel as i128).min(span / MIN_KEYS_PER_RANGE);
    if parts < 2 {
        return None;
    }
    let bounds: Vec<i128> = (1..parts).map(|i| min + span * i / parts).collect();
    let mut conds = Vec::with_capacity(parts as usize);
    for i in 0..parts as usize {
        conds.push(match (i.checked_sub(1).map(|j| bounds[j]), bounds.get(i)) {
            (None, Some(hi)) => format!("{key} < {hi}"),
            (Some(lo), Some(hi)) => format!("{key} >= {lo} AND {key} < {hi}"),
            (Some(lo), None) => format!("{key} >= {lo}"),
            (None, None) => unreachable!("parts >= 2"),
        });
    }
    Some(conds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_that_depend_on_other_rows_are_not_split() {
        for ok in [
            None,
            Some("*"),
            Some("id, note AS distinct_note, a + b, x::text"),
        ] {
            assert!(select_is_row_wise(ok), "{ok:?}");
        }
        for not in [
            "DISTINCT customer_id",
            "count(*)",
            "id, row_number() OVER ()",
        ] {
            assert!(!select_is_row_wise(Some(not)), "{not}");
        }
    }

    #[test]
    fn key_ranges_cover_every_key_once() {
        assert_eq!(
            key_range_conditions("k", 1, 8191, 4),
            None,
            "fewer than 2 x 4096 keys"
        );
        assert_eq!(
            key_range_conditions("k", 0, 8191, 4).unwrap(),
            ["k < 4096", "k >= 4096"]
        );
        let conds = key_range_conditions("k", i64::MIN.into(), i64::MAX.into(), 3).unwrap();
        assert_eq!(
            conds,
            [
                "k < -3074457345618258603",
                "k >= -3074457345618258603 AND k < 3074457345618258602",
                "k >= 3074457345618258602"
            ]
        );
        // Unsigned BIGINT keys beyond i64 split without overflow.
        let conds = key_range_conditions("k", 0, u64::MAX.into(), 2).unwrap();
        assert_eq!(
            conds,
            ["k < 9223372036854775808", "k >= 9223372036854775808"]
        );
    }
}
