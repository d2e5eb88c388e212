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

    /// The statements in `sql`, counted as this dialect's server would split them: `;`
    /// outside strings, quoted names and comments, with the dialect's own rules for each
    /// (PostgreSQL: `E'...'` backslash escapes, `$tag$...$tag$` and nested `/* */`;
    /// MySQL: backslash escapes in `'...'` and `"..."`, `#` comments). A trailing `;` does
    /// not start a statement.
    pub fn statement_count(self, sql: &str) -> usize {
        let b = sql.as_bytes();
        1 + self
            .separators(sql)
            .into_iter()
            .filter(|&i| {
                !b[i + 1..]
                    .iter()
                    .all(|c| c.is_ascii_whitespace() || *c == b';')
            })
            .count()
    }

    /// The statements of `sql` as [`Dialect::statement_count`] finds them, each without
    /// its `;` and trimmed; empty statements (`;;`, a trailing `;`) are left out. For a
    /// server that takes one statement per request.
    pub fn split_statements(self, sql: &str) -> Vec<&str> {
        let mut start = 0;
        let mut statements = Vec::new();
        for end in self
            .separators(sql)
            .into_iter()
            .chain(std::iter::once(sql.len()))
        {
            let statement = sql[start..end].trim();
            if !statement.is_empty() {
                statements.push(statement);
            }
            start = end + 1;
        }
        statements
    }

    /// Where the `;` that end statements are: outside strings, quoted names and comments.
    fn separators(self, sql: &str) -> Vec<usize> {
        let b = sql.as_bytes();
        let (mut separators, mut i) = (Vec::new(), 0);
        while i < b.len() {
            i = match b[i] {
                b'\'' => {
                    let backslashes = self == Dialect::Mysql
                        || (i > 0
                            && b[i - 1].eq_ignore_ascii_case(&b'e')
                            && !b.get(i.wrapping_sub(2)).is_some_and(is_word_byte));
                    skip_quoted(b, i, b'\'', backslashes)
                }
                b'"' => skip_quoted(b, i, b'"', self == Dialect::Mysql),
                b'`' if self == Dialect::Mysql => skip_quoted(b, i, b'`', false),
                b'$' if self == Dialect::Postgres => skip_dollar_quoted(b, i),
                b'#' if self == Dialect::Mysql => skip_line(b, i),
                // MySQL needs a space after `--` for a comment; `1--1` is arithmetic.
                b'-' if b.get(i + 1) == Some(&b'-')
                    && (self == Dialect::Postgres
                        || b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace())) =>
                {
                    skip_line(b, i)
                }
                b'/' if b.get(i + 1) == Some(&b'*') => {
                    skip_block_comment(b, i, self == Dialect::Postgres)
                }
                b';' => {
                    separators.push(i);
                    i + 1
                }
                _ => i + 1,
            };
        }
        separators
    }
}

fn is_word_byte(c: &u8) -> bool {
    c.is_ascii_alphanumeric() || *c == b'_' || *c >= 0x80
}

/// The index after the quoted run opening at `start`: the quote doubled stands for itself,
/// and with `backslashes` a backslash escapes the next byte. Unterminated: the end.
fn skip_quoted(b: &[u8], start: usize, quote: u8, backslashes: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if backslashes => i += 2,
            c if c == quote && b.get(i + 1) == Some(&quote) => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// PostgreSQL's `$tag$ ... $tag$` (the tag may be empty); a `$` that opens no such quote
/// (a parameter `$1`, a `$` inside a name) is one byte.
fn skip_dollar_quoted(b: &[u8], start: usize) -> usize {
    if start > 0 && is_word_byte(&b[start - 1]) {
        return start + 1;
    }
    let tag_end = b[start + 1..]
        .iter()
        .position(|c| !is_word_byte(c))
        .map(|n| start + 1 + n);
    let Some(tag_end) = tag_end.filter(|&e| b[e] == b'$') else {
        return start + 1;
    };
    if b[start + 1..tag_end]
        .first()
        .is_some_and(u8::is_ascii_digit)
    {
        return start + 1; // `$1`: a parameter
    }
    let tag = &b[start..=tag_end];
    b[tag_end + 1..]
        .windows(tag.len())
        .position(|w| w == tag)
        .map_or(b.len(), |n| tag_end + 1 + n + tag.len())
}

fn skip_line(b: &[u8], start: usize) -> usize {
    b[start..]
        .iter()
        .position(|c| *c == b'\n')
        .map_or(b.len(), |n| start + n + 1)
}

/// `/* ... */`; PostgreSQL nests them, MySQL ends at the first `*/`.
fn skip_block_comment(b: &[u8], start: usize, nested: bool) -> usize {
    let (mut depth, mut i) = (1, start + 2);
    while i < b.len() {
        if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else if nested && b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    b.len()
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

    #[test]
    fn statements_are_split_by_each_dialects_quoting() {
        use Dialect::{Mysql, Postgres};
        for d in [Postgres, Mysql] {
            assert_eq!(d.statement_count("select 1"), 1);
            assert_eq!(d.statement_count("select 1;  ;\n"), 1);
            assert_eq!(d.statement_count("select ';' as semi"), 1);
            assert_eq!(d.statement_count("select 1; drop table t"), 2);
            assert_eq!(
                d.split_statements("select ';' ; /* ; */ drop table t;\n ;"),
                vec!["select ';'", "/* ; */ drop table t"]
            );
            assert_eq!(d.statement_count("select 1 /* ; */ -- ;\n"), 1);
            assert_eq!(d.statement_count("select \"a;b\" from t"), 1);
        }
        // MySQL reads `\'` inside a string as a quote: the `;` after it is outside.
        let smuggled = r"select '\'' ; drop table t -- '";
        assert_eq!(Mysql.statement_count(smuggled), 2);
        assert_eq!(Postgres.statement_count(smuggled), 1);
        assert_eq!(Mysql.statement_count("select 1 # ; drop\n"), 1);
        assert_eq!(Postgres.statement_count("select 1 # 2; drop table t"), 2);
        assert_eq!(Mysql.statement_count("select `a;b` from t"), 1);
        assert_eq!(Mysql.statement_count("select 1--1; drop table t"), 2);
        // PostgreSQL: E-strings escape, dollar quotes and nested comments hide `;`.
        assert_eq!(Postgres.statement_count(r"select E'\'; drop' as x"), 1);
        assert_eq!(
            Postgres.statement_count(r"select e'\'' ; drop table t -- '"),
            2
        );
        assert_eq!(Postgres.statement_count("select $$;$$, $q$ ; $q$"), 1);
        assert_eq!(Postgres.statement_count("select $1; drop table t"), 2);
        assert_eq!(Postgres.statement_count("select /* /* */ ; */ 1"), 1);
        assert_eq!(Mysql.statement_count("select /* /* */ ; */ 1"), 2);
    }
}
