//! SQL dialects and their quoting rules: the one place a name or a string becomes SQL
//! text, for variables expanded into a job's SQL, the engine's generated statements (column
//! lists, Embulk's incremental conditions) and the app's few statements that cannot bind a
//! name.
//!
//! Literals read back as exactly the value whatever the session's settings
//! (`standard_conforming_strings`, `NO_BACKSLASH_ESCAPES`), so no setting of a tenant's
//! server can turn a value into SQL.

use crate::config::DbKind;
use crate::connection::ConnectionKind;

/// A SQL dialect's quoting rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `"name"`, `'text'` (`E'...'` when the text holds a backslash).
    Postgres,
    /// `` `name` ``, `'text'` (a hex literal when the text holds a backslash or a quote).
    Mysql,
}

/// Longest name MySQL and PostgreSQL accept, in characters (PostgreSQL truncates at 63
/// bytes; longer names are refused rather than silently cut by a stricter server).
const MAX_NAME_CHARS: usize = 128;

impl Dialect {
    /// The dialect a connection kind speaks; `None` for kinds that are not SQL databases.
    pub fn of(kind: ConnectionKind) -> Option<Dialect> {
        kind.db_kind().map(Dialect::of_server)
    }

    /// The dialect a database server speaks.
    pub fn of_server(kind: DbKind) -> Dialect {
        match kind {
            DbKind::Postgresql => Dialect::Postgres,
            DbKind::Mysql => Dialect::Mysql,
        }
    }

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

    /// As [`Dialect::ident`], for a name that comes from a person (a variable's value):
    /// empty names, NUL characters and names over 128 characters are refused.
    pub fn checked_ident(self, name: &str) -> Result<String, String> {
        if name.is_empty() || name.contains('\0') || name.chars().count() > MAX_NAME_CHARS {
            return Err(format!("{name:?} cannot be used as a name in SQL"));
        }
        Ok(self.ident(name))
    }

    /// A string literal that reads back as exactly `value`.
    pub fn literal(self, value: &str) -> Result<String, String> {
        if value.contains('\0') {
            return Err("a value containing a NUL character cannot be used in SQL".to_owned());
        }
        Ok(match self {
            Dialect::Postgres if value.contains('\\') => {
                format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
            }
            Dialect::Postgres => format!("'{}'", value.replace('\'', "''")),
            Dialect::Mysql if value.contains(['\\', '\'', '"']) => {
                // A hex literal has no escapes to disagree about.
                let hex: String = value.bytes().map(|b| format!("{b:02X}")).collect();
                format!("_utf8mb4 X'{hex}'")
            }
            Dialect::Mysql => format!("'{value}'"),
        })
    }

    /// A `last_record` value as a literal the server coerces to the column's type.
    pub fn json_literal(self, v: &serde_json::Value) -> Result<String, String> {
        match v {
            serde_json::Value::Number(n) => Ok(n.to_string()),
            serde_json::Value::String(s) => self.literal(s),
            serde_json::Value::Bool(b) => Ok(b.to_string()),
            other => Err(format!(
                "last_record value {other} is not a number, string or boolean"
            )),
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
    ) -> Result<String, String> {
        if columns.len() != values.len() {
            return Err(format!(
                "last_record has {} values but there are {} incremental columns",
                values.len(),
                columns.len()
            ));
        }
        let lits = values
            .iter()
            .map(|v| self.json_literal(v))
            .collect::<Result<Vec<_>, _>>()?;
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
    ) -> Result<String, String> {
        let mut out = query.to_owned();
        // Longest names first so `:id` does not eat the start of `:id_2`.
        let mut pairs: Vec<(&String, &serde_json::Value)> = columns.iter().zip(values).collect();
        pairs.sort_by_key(|(c, _)| std::cmp::Reverse(c.len()));
        for (c, v) in pairs {
            let placeholder = format!(":{c}");
            if !out.contains(&placeholder) {
                return Err(format!(
                    "query has no placeholder {placeholder} for incremental column {c:?}"
                ));
            }
            out = out.replace(&placeholder, &self.json_literal(v)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Dialect;
    use serde_json::json;

    #[test]
    fn incremental_conditions_are_embulks_tuple_greater_than() {
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
        assert!(Dialect::Mysql.column_list(&["a".into(), "b`".into()]) == "`a`, `b```");
    }

    #[test]
    fn identifiers_double_their_own_quote() {
        assert_eq!(Dialect::Postgres.ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(Dialect::Mysql.ident("a`b"), "`a``b`");
        assert_eq!(Dialect::Postgres.qualified(Some("s"), "t"), "\"s\".\"t\"");
        assert!(Dialect::Mysql.checked_ident("").is_err());
        assert!(Dialect::Mysql.checked_ident(&"x".repeat(129)).is_err());
    }

    #[test]
    fn literals_do_not_depend_on_backslash_settings() {
        assert_eq!(Dialect::Postgres.literal("it's").unwrap(), "'it''s'");
        assert_eq!(Dialect::Postgres.literal("a\\b").unwrap(), "E'a\\\\b'");
        assert_eq!(Dialect::Mysql.literal("plain").unwrap(), "'plain'");
        assert_eq!(
            Dialect::Mysql.literal("a'\\").unwrap(),
            "_utf8mb4 X'61275C'"
        );
        assert!(Dialect::Postgres.literal("nul\0").is_err());
    }
}
