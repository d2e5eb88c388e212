//! SQL dialects and their quoting rules: the one place a name or a string becomes SQL
//! text, for variables expanded into a job's SQL, the engine's generated statements (column
//! lists, Embulk's incremental conditions) and the app's few statements that cannot bind a
//! name.
//!
//! Literals read back as exactly the value whatever the session's settings
//! (`standard_conforming_strings`, `NO_BACKSLASH_ESCAPES`), so no setting of a tenant's
//! server can turn a value into SQL.
//!
//! The warehouses' literals are also written so that PostgreSQL's and MySQL's readings
//! (which [`crate::job::check_select`] applies to every check's SQL, whatever its
//! connection) see the same one string: no quote inside them is ever preceded by a
//! backslash, so no reading ends a string early or late.

use crate::config::DbKind;
use crate::connection::ConnectionKind;

/// A SQL dialect's quoting rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `"name"`, `'text'` (`E'...'` when the text holds a backslash).
    Postgres,
    /// `` `name` ``, `'text'` (a hex literal when the text holds a backslash or a quote).
    Mysql,
    /// BigQuery's GoogleSQL: `` `name` ``, `'text'` (`"text"` when it holds a `'`) with
    /// backslash escapes for backslashes and line breaks.
    Bigquery,
    /// Snowflake: `"name"` (case-sensitive), `'text'` with `''` for a quote and `\\` for a
    /// backslash.
    Snowflake,
}

/// Longest name MySQL and PostgreSQL accept, in characters (PostgreSQL truncates at 63
/// bytes; longer names are refused rather than silently cut by a stricter server).
const MAX_NAME_CHARS: usize = 128;

/// Longest BigQuery name, in bytes (a table's limit; columns and datasets are shorter and
/// BigQuery says so itself).
const MAX_BIGQUERY_NAME_BYTES: usize = 1024;

/// Longest Snowflake identifier, in characters.
const MAX_SNOWFLAKE_NAME_CHARS: usize = 255;

impl Dialect {
    /// The dialect a connection kind speaks: a database's or a data warehouse's; `None` for
    /// kinds that run no SQL (files, buckets).
    pub fn of(kind: ConnectionKind) -> Option<Dialect> {
        match kind {
            ConnectionKind::Bigquery => Some(Dialect::Bigquery),
            ConnectionKind::Snowflake => Some(Dialect::Snowflake),
            _ => kind.db_kind().map(Dialect::of_server),
        }
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
            Dialect::Postgres | Dialect::Snowflake => {
                format!("\"{}\"", name.replace('"', "\"\""))
            }
            Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
            Dialect::Bigquery => format!("`{}`", bigquery_escaped(name)),
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
    /// empty names, NUL characters and names longer than the dialect's servers accept
    /// are refused. BigQuery's names are letters, digits, `_`, `-` and spaces (a dot
    /// inside backquotes would read as a path of several names); Snowflake's take any
    /// character but control characters.
    pub fn checked_ident(self, name: &str) -> Result<String, String> {
        let refused = |why: &str| Err(format!("{name:?} cannot be used as a name in SQL: {why}"));
        if name.is_empty() {
            return refused("it is empty");
        }
        if name.contains('\0') {
            return refused("it contains a NUL character");
        }
        match self {
            Dialect::Postgres | Dialect::Mysql if name.chars().count() > MAX_NAME_CHARS => {
                return refused(&format!("it is longer than {MAX_NAME_CHARS} characters"));
            }
            Dialect::Bigquery => {
                if name.len() > MAX_BIGQUERY_NAME_BYTES {
                    return refused(&format!(
                        "BigQuery names are at most {MAX_BIGQUERY_NAME_BYTES} bytes"
                    ));
                }
                if let Some(c) = name
                    .chars()
                    .find(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | ' ')))
                {
                    return refused(&format!(
                        "BigQuery names hold letters, digits, _, - and spaces, not {c:?}"
                    ));
                }
            }
            Dialect::Snowflake => {
                if name.chars().count() > MAX_SNOWFLAKE_NAME_CHARS {
                    return refused(&format!(
                        "Snowflake names are at most {MAX_SNOWFLAKE_NAME_CHARS} characters"
                    ));
                }
                if name.chars().any(char::is_control) {
                    return refused(
                        "Snowflake names hold no control characters (line breaks, tabs)",
                    );
                }
            }
            _ => {}
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
            Dialect::Bigquery => bigquery_literal(value),
            // `''` and `\\` only: the other readings (`''` doubled, a backslash literal or
            // escaping the next one) all see one string.
            Dialect::Snowflake => {
                format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
            }
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
    /// MySQL: backslash escapes in `'...'` and `"..."`, `#` comments; BigQuery: backslash
    /// escapes in every quote, triple-quoted strings, `#` comments; Snowflake: backslash
    /// escapes in `'...'`, `$$...$$`, `//` comments). A trailing `;` does not start a
    /// statement.
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
        self.lex(sql).0
    }

    /// The byte ranges of `sql` inside strings, quoted names and comments (quotes and
    /// comment markers included), as this dialect's server reads them.
    pub fn quoted_ranges(self, sql: &str) -> Vec<std::ops::Range<usize>> {
        self.lex(sql).1
    }

    /// The statement separators and the quoted or commented ranges of `sql`.
    fn lex(self, sql: &str) -> (Vec<usize>, Vec<std::ops::Range<usize>>) {
        use Dialect::{Bigquery, Mysql, Postgres, Snowflake};
        let b = sql.as_bytes();
        let (mut separators, mut quoted, mut i) = (Vec::new(), Vec::new(), 0);
        while i < b.len() {
            let start = i;
            i = match b[i] {
                q @ (b'\'' | b'"') if self == Bigquery && b[i..].starts_with(&[q, q, q]) => {
                    skip_triple_quoted(b, i, q)
                }
                b'\'' => {
                    let backslashes = match self {
                        Mysql | Bigquery | Snowflake => true,
                        Postgres => {
                            i > 0
                                && b[i - 1].eq_ignore_ascii_case(&b'e')
                                && !b.get(i.wrapping_sub(2)).is_some_and(is_word_byte)
                        }
                    };
                    skip_quoted(b, i, b'\'', backslashes)
                }
                b'"' => skip_quoted(b, i, b'"', matches!(self, Mysql | Bigquery)),
                b'`' if matches!(self, Mysql | Bigquery) => {
                    skip_quoted(b, i, b'`', self == Bigquery)
                }
                b'$' if self == Postgres => skip_dollar_quoted(b, i),
                // Snowflake's `$$...$$` has no tag and no escapes; a `$` inside a name
                // (`x$$`) opens nothing.
                b'$' if self == Snowflake
                    && b.get(i + 1) == Some(&b'$')
                    && !(i > 0 && is_word_byte(&b[i - 1])) =>
                {
                    b[i + 2..]
                        .windows(2)
                        .position(|w| w == b"$$")
                        .map_or(b.len(), |n| i + 2 + n + 2)
                }
                b'#' if matches!(self, Mysql | Bigquery) => skip_line(b, i),
                b'/' if self == Snowflake && b.get(i + 1) == Some(&b'/') => skip_line(b, i),
                // MySQL needs a space after `--` for a comment; `1--1` is arithmetic.
                b'-' if b.get(i + 1) == Some(&b'-')
                    && (self != Mysql || b.get(i + 2).is_none_or(|c| c.is_ascii_whitespace())) =>
                {
                    skip_line(b, i)
                }
                b'/' if b.get(i + 1) == Some(&b'*') => skip_block_comment(b, i, self == Postgres),
                b';' => {
                    separators.push(i);
                    i + 1
                }
                _ => i + 1,
            };
            // Every quoting or comment run is at least two bytes; a one-byte step is code
            // (or an unterminated quote at the very end, with nothing after it).
            if i > start + 1 {
                quoted.push(start..i);
            }
        }
        (separators, quoted)
    }
}

/// A GoogleSQL string that reads back as `value`: `'...'`, or `"..."` when the value holds
/// a `'`; a value holding both kinds of quote is a concatenation of such strings,
/// `('...' || "...")`. No quote inside is ever escaped, so PostgreSQL's and MySQL's
/// readings also see where each string ends; the only escapes are `\\`, `\n`, `\r` and
/// `\t` (a quoted string may not hold a line break as it is), which bqemulator decodes
/// too (it leaves `\x27` undecoded where BigQuery decodes it).
fn bigquery_literal(value: &str) -> String {
    let mut parts = Vec::new();
    let (mut start, mut single, mut double) = (0, false, false);
    for (i, c) in value.char_indices() {
        let (s, d) = (single || c == '\'', double || c == '"');
        if s && d {
            parts.push(bigquery_string(&value[start..i], single));
            (start, single, double) = (i, c == '\'', c == '"');
        } else {
            (single, double) = (s, d);
        }
    }
    parts.push(bigquery_string(&value[start..], single));
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        format!("({})", parts.join(" || "))
    }
}

/// One GoogleSQL string of `text`, which holds at most one kind of quote: in the other.
fn bigquery_string(text: &str, has_single_quote: bool) -> String {
    let quote = if has_single_quote { '"' } else { '\'' };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// The body of a GoogleSQL quoted name: a backslash escapes the backslash, the backquote
/// and line breaks (names from a person never hold these: `checked_ident`).
fn bigquery_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '`' => out.push_str("\\`"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
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

/// GoogleSQL's triple-quoted string (three `'` or three `"`): a backslash escapes the
/// next byte, and the first three quotes in a row end it. Unterminated: the end.
fn skip_triple_quoted(b: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 3;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
        } else if b[i..].starts_with(&[quote, quote, quote]) {
            return i + 3;
        } else {
            i += 1;
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
        // A `$` inside a Snowflake name opens no `$$` string.
        let named = "select x$$ from t; delete from t; select $$a;b$$";
        assert_eq!(Dialect::Snowflake.statement_count(named), 3);
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

    /// Reads a BigQuery literal back as GoogleSQL does (the forms `literal` writes: one
    /// quoted string, or a parenthesized `||` of them), to show the value survives exactly.
    fn read_bigquery(lit: &str) -> String {
        let inner = match lit.strip_prefix('(') {
            Some(rest) => rest.strip_suffix(')').unwrap(),
            None => lit,
        };
        let (mut out, mut chars) = (String::new(), inner.chars());
        loop {
            let quote = chars.next().unwrap();
            assert!(quote == '\'' || quote == '"', "{lit}");
            loop {
                match chars.next().unwrap() {
                    c if c == quote => break,
                    '\\' => match chars.next().unwrap() {
                        '\\' => out.push('\\'),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        other => panic!("unexpected escape \\{other} in {lit}"),
                    },
                    c => {
                        assert!(c != '\n' && c != '\r', "{lit}");
                        out.push(c);
                    }
                }
            }
            match chars.as_str() {
                "" => return out,
                rest => {
                    assert!(rest.starts_with(" || "), "{lit}");
                    chars = rest[4..].chars();
                }
            }
        }
    }

    /// Reads a Snowflake string literal back: `''` is a quote, `\\` a backslash.
    fn read_snowflake(lit: &str) -> String {
        let body = lit.strip_prefix('\'').unwrap().strip_suffix('\'').unwrap();
        let (mut out, mut chars) = (String::new(), body.chars().peekable());
        while let Some(c) = chars.next() {
            match c {
                '\\' => assert_eq!(chars.next(), Some('\\'), "{lit}"),
                '\'' => assert_eq!(chars.next(), Some('\''), "{lit}"),
                _ => {}
            }
            out.push(c);
        }
        out
    }

    const HOSTILE: [&str; 9] = [
        "plain",
        "it's",
        "back\\slash",
        "ends with \\",
        "\\'",
        "two\nlines\r\tand a tab",
        "ユニコード ✓ \u{1F600}",
        "'); DROP TABLE x; --",
        "\\'); DROP TABLE x; -- \" ` $$ ''' \"\"\" # /* */ // \u{7f}\u{85}",
    ];

    #[test]
    fn warehouse_literals_read_back_as_exactly_the_value() {
        for value in HOSTILE {
            let bq = Dialect::Bigquery.literal(value).unwrap();
            assert_eq!(read_bigquery(&bq), value, "{bq}");
            let sf = Dialect::Snowflake.literal(value).unwrap();
            assert_eq!(read_snowflake(&sf), value, "{sf}");
            // Every dialect's reading (and so `check_select`'s) sees one string: no `;`
            // of the value is outside it.
            for lit in [&bq, &sf] {
                let sql = format!("select {lit}; ");
                for d in [
                    Dialect::Postgres,
                    Dialect::Mysql,
                    Dialect::Bigquery,
                    Dialect::Snowflake,
                ] {
                    assert_eq!(d.statement_count(&sql), 1, "{d:?} {sql}");
                }
                assert!(crate::job::check_select(&sql).is_ok(), "{sql}");
            }
        }
        assert_eq!(Dialect::Bigquery.literal("it's").unwrap(), r#""it's""#);
        assert_eq!(Dialect::Bigquery.literal("a\\b\n").unwrap(), r"'a\\b\n'");
        assert_eq!(
            Dialect::Bigquery.literal(r#"say "it's""#).unwrap(),
            r#"('say "it' || "'s" || '"')"#
        );
        assert_eq!(Dialect::Bigquery.literal("").unwrap(), "''");
        assert_eq!(
            Dialect::Snowflake.literal("it's a\\b").unwrap(),
            r"'it''s a\\b'"
        );
        assert!(Dialect::Bigquery.literal("nul\0").is_err());
        assert!(Dialect::Snowflake.literal("nul\0").is_err());
    }

    #[test]
    fn warehouse_names_are_quoted_or_refused_by_their_rules() {
        use crate::connection::ConnectionKind;
        assert_eq!(
            Dialect::of(ConnectionKind::Bigquery),
            Some(Dialect::Bigquery)
        );
        assert_eq!(
            Dialect::of(ConnectionKind::Snowflake),
            Some(Dialect::Snowflake)
        );
        assert_eq!(
            Dialect::of(ConnectionKind::Postgresql),
            Some(Dialect::Postgres)
        );
        assert_eq!(Dialect::of(ConnectionKind::S3), None);

        assert_eq!(
            Dialect::Bigquery.checked_ident("sales 2026-11_ü").unwrap(),
            "`sales 2026-11_ü`"
        );
        for bad in ["", "a.b", "a`b", "a\\b", "a\nb", "a;b", "x\0"] {
            let err = Dialect::Bigquery.checked_ident(bad).unwrap_err();
            assert!(err.contains("cannot be used as a name"), "{err}");
        }
        assert!(Dialect::Bigquery.checked_ident(&"é".repeat(513)).is_err());
        // The unchecked form still cannot be closed early.
        assert_eq!(Dialect::Bigquery.ident("a`b\\"), r"`a\`b\\`");

        // Snowflake's quoted names are case-sensitive and take any printable character.
        assert_eq!(
            Dialect::Snowflake
                .checked_ident("Sales\"2026; DROP")
                .unwrap(),
            "\"Sales\"\"2026; DROP\""
        );
        assert!(Dialect::Snowflake.checked_ident("a\nb").is_err());
        assert!(Dialect::Snowflake.checked_ident(&"x".repeat(256)).is_err());
        assert!(Dialect::Snowflake.checked_ident(&"x".repeat(255)).is_ok());
    }

    #[test]
    fn warehouse_statements_are_split_by_their_own_quoting() {
        use Dialect::{Bigquery, Snowflake};
        for d in [Bigquery, Snowflake] {
            assert_eq!(d.statement_count("select 1;  ;\n"), 1);
            assert_eq!(d.statement_count("select ';' as semi"), 1);
            assert_eq!(d.statement_count("select 1; drop table t"), 2);
            assert_eq!(d.statement_count("select 1 /* ; */ -- ;\n"), 1);
            // A backslash escapes the quote in both: the `;` after it is outside.
            assert_eq!(d.statement_count(r"select '\'' ; drop table t -- '"), 2);
        }
        assert_eq!(Bigquery.statement_count("select `a;b`, \"c;d\" # ;\n"), 1);
        assert_eq!(
            Bigquery.statement_count("select '''it's; ok''', \"\"\"x;\"\"\""),
            1
        );
        assert_eq!(Bigquery.statement_count(r"select `a\`;` from t"), 1);
        assert_eq!(Snowflake.statement_count("select \"a\"\";b\" // ;\n"), 1);
        assert_eq!(Snowflake.statement_count("select $$it's; ok$$"), 1);
        assert_eq!(Snowflake.statement_count("select 1 # 2; drop table t"), 2);
    }
}
