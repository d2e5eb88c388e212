//! SQL dialects and their quoting rules: the one place a name or a string becomes SQL
//! text, for variables expanded into a job's SQL, the engine's generated statements and the
//! app's few statements that cannot bind a name.
//!
//! Literals read back as exactly the value whatever the session's settings
//! (`standard_conforming_strings`, `NO_BACKSLASH_ESCAPES`), so no setting of a tenant's
//! server can turn a value into SQL.

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
        match kind {
            ConnectionKind::Postgresql => Some(Dialect::Postgres),
            ConnectionKind::Mysql => Some(Dialect::Mysql),
            _ => None,
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
}

#[cfg(test)]
mod tests {
    use super::Dialect;

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
