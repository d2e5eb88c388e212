//! SQL text shared by the database connectors: identifier and literal quoting, and
//! Embulk's incremental conditions. Identifiers are always quoted here, never pasted raw.
//! What the two database readers share beyond SQL text is in [`input`].

pub mod input;

use anyhow::{Result, bail};

/// A SQL dialect's quoting rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `"name"`, standard strings.
    Postgres,
    /// `` `name` ``, backslash-escaping strings.
    Mysql,
}

impl Dialect {
    /// Quotes an identifier so any name (spaces, quotes, reserved words) is taken literally.
    pub fn ident(self, name: &str) -> String {
        match self {
            Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
            Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
        }
    }

    /// `schema.table`, each part quoted.
    pub fn qualified(self, schema: Option<&str>, table: &str) -> String {
        match schema {
            Some(s) => format!("{}.{}", self.ident(s), self.ident(table)),
            None => self.ident(table),
        }
    }

    /// A string literal. Statements that cannot take bind parameters (PostgreSQL's
    /// `COPY (SELECT ...)`) need literals; this is the one place they are made.
    pub fn literal(self, value: &str) -> Result<String> {
        if value.contains('\0') {
            bail!("a value contains a NUL character, which SQL text cannot carry");
        }
        Ok(match self {
            // standard_conforming_strings is on since PostgreSQL 9.1: only quotes need doubling.
            Dialect::Postgres => format!("'{}'", value.replace('\'', "''")),
            Dialect::Mysql => format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''")),
        })
    }

    /// A `last_record` value as a literal the server coerces to the column's type.
    pub fn json_literal(self, v: &serde_json::Value) -> Result<String> {
        match v {
            serde_json::Value::Number(n) => Ok(n.to_string()),
            serde_json::Value::String(s) => self.literal(s),
            serde_json::Value::Bool(b) => Ok(b.to_string()),
            other => bail!("last_record value {other} is not a number, string or boolean"),
        }
    }

    /// Embulk's tuple-greater-than: `a > v1 OR (a = v1 AND b > v2)`.
    ///
    /// Spelled out instead of a row comparison `(a, b) > (v1, v2)` because MySQL does
    /// not use indexes for row comparisons and Embulk users expect the same SQL.
    pub fn after_last_record(
        self,
        columns: &[String],
        values: &[serde_json::Value],
    ) -> Result<String> {
        if columns.len() != values.len() {
            bail!(
                "last_record has {} values but there are {} incremental columns",
                values.len(),
                columns.len()
            );
        }
        let lits = values
            .iter()
            .map(|v| self.json_literal(v))
            .collect::<Result<Vec<_>>>()?;
        let mut ors = Vec::new();
        for i in 0..columns.len() {
            let mut ands: Vec<String> = (0..i)
                .map(|j| format!("{} = {}", self.ident(&columns[j]), lits[j]))
                .collect();
            ands.push(format!("{} > {}", self.ident(&columns[i]), lits[i]));
            ors.push(if ands.len() == 1 {
                ands.remove(0)
            } else {
                format!("({})", ands.join(" AND "))
            });
        }
        Ok(ors.join(" OR "))
    }

    /// `a, b, c`, each quoted: a column list (INSERT, PRIMARY KEY, ON CONFLICT) or the
    /// `ORDER BY` over the cursor columns.
    pub fn column_list(self, columns: &[String]) -> String {
        columns
            .iter()
            .map(|c| self.ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Replaces `:column` placeholders of `use_raw_query_with_incremental` with literals.
    pub fn fill_placeholders(
        self,
        query: &str,
        columns: &[String],
        values: &[serde_json::Value],
    ) -> Result<String> {
        let mut out = query.to_owned();
        // Longest names first so `:id` does not eat the start of `:id_2`.
        let mut pairs: Vec<(&String, &serde_json::Value)> = columns.iter().zip(values).collect();
        pairs.sort_by_key(|(c, _)| std::cmp::Reverse(c.len()));
        for (c, v) in pairs {
            let placeholder = format!(":{c}");
            if !out.contains(&placeholder) {
                bail!("query has no placeholder {placeholder} for incremental column {c:?}");
            }
            out = out.replace(&placeholder, &self.json_literal(v)?);
        }
        Ok(out)
    }
}

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
    use serde_json::json;

    #[test]
    fn quoting() {
        assert_eq!(Dialect::Postgres.ident(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(Dialect::Mysql.ident("a`b"), "`a``b`");
        assert_eq!(Dialect::Postgres.literal("it's").unwrap(), "'it''s'");
        assert_eq!(Dialect::Mysql.literal(r"a\'").unwrap(), r"'a\\'''");
        assert!(Dialect::Postgres.literal("a\0").is_err());
    }

    #[test]
    fn tuple_greater_than() {
        let cols = vec!["updated_at".to_owned(), "id".to_owned()];
        let sql = Dialect::Postgres
            .after_last_record(&cols, &[json!("2024-01-01"), json!(7)])
            .unwrap();
        assert_eq!(
            sql,
            r#""updated_at" > '2024-01-01' OR ("updated_at" = '2024-01-01' AND "id" > 7)"#
        );
        let q = Dialect::Mysql
            .fill_placeholders(
                "SELECT * FROM t WHERE id > :id AND id_2 > :id_2",
                &["id".into(), "id_2".into()],
                &[json!(1), json!(2)],
            )
            .unwrap();
        assert_eq!(q, "SELECT * FROM t WHERE id > 1 AND id_2 > 2");
    }

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
