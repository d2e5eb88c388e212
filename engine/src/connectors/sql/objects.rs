//! Failures of the objects a job names (a table, a schema, a database, a column, or the
//! right to use one), said as what is missing and on which side: "table public.orders
//! does not exist (source)". The database's own error code decides (PostgreSQL SQLSTATE
//! 42P01, 3F000, 3D000, 42703, 42501; MySQL 1146, 1049, 1054, 1142/1143/1044), so a renamed
//! table is reported as missing, never as a later symptom (no primary key, no columns).
//! These sentences reach the run log, the run page and the notification unchanged.

use std::fmt;

/// Which end of a transfer the object belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// What `in:` reads.
    Source,
    /// What `out:` writes.
    Destination,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Source => "source",
            Side::Destination => "destination",
        })
    }
}

/// What went wrong with the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// It does not exist (or the user cannot see it).
    Missing,
    /// It exists but the user may not use it that way.
    PermissionDenied,
}

/// A failure of a named object; its `Display` is the whole sentence (the database's
/// message is folded into it, so the error chain stays one clear line).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{sentence}")]
pub struct ObjectError {
    /// Missing or not permitted.
    pub problem: Problem,
    /// The sentence: object, name, side, and what to do.
    pub sentence: String,
}

impl ObjectError {
    /// "table `name` does not exist (side)".
    pub fn missing(kind: &str, name: &str, side: Side) -> Self {
        ObjectError {
            problem: Problem::Missing,
            sentence: format!("{kind} {name} does not exist ({side})"),
        }
    }

    fn denied(kind: &str, name: &str, side: Side, detail: &str) -> Self {
        let need = match side {
            Side::Source => "SELECT",
            Side::Destination => "INSERT (and CREATE to create tables)",
        };
        ObjectError {
            problem: Problem::PermissionDenied,
            sentence: format!(
                "permission denied on {kind} {name} ({side}): {detail}; the user needs {need} on it"
            ),
        }
    }
}

/// The first double-quoted name in a PostgreSQL message (`relation "public.t" does not
/// exist` -> `public.t`).
fn quoted_name(message: &str, quote: char) -> Option<&str> {
    let start = message.find(quote)? + 1;
    let len = message[start..].find(quote)?;
    Some(&message[start..start + len])
}

/// The object failure a PostgreSQL error reports, if it is one. `within` names what a
/// missing column was looked for in (a table, or "the query").
pub fn from_pg(e: &tokio_postgres::Error, side: Side, within: &str) -> Option<ObjectError> {
    use tokio_postgres::error::SqlState;
    let db = e.as_db_error()?;
    let message = db.message();
    let name = quoted_name(message, '"').unwrap_or(within);
    let code = db.code();
    Some(if *code == SqlState::UNDEFINED_TABLE {
        ObjectError::missing("table", name, side)
    } else if *code == SqlState::INVALID_SCHEMA_NAME {
        ObjectError::missing("schema", name, side)
    } else if *code == SqlState::INVALID_CATALOG_NAME {
        ObjectError::missing("database", name, side)
    } else if *code == SqlState::UNDEFINED_COLUMN {
        // `column "x" of relation "t" does not exist` names its table; else `within` does.
        let table = message
            .split_once(" of relation ")
            .and_then(|(_, rest)| quoted_name(rest, '"'))
            .unwrap_or(within);
        ObjectError {
            problem: Problem::Missing,
            sentence: format!("column {name} does not exist in {table} ({side})"),
        }
    } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
        // `permission denied for table orders` / `for schema s` / `for sequence q`
        let (kind, object) = message
            .strip_prefix("permission denied for ")
            .and_then(|rest| rest.split_once(' '))
            .unwrap_or(("table", within));
        ObjectError::denied(kind, object, side, message)
    } else {
        return None;
    })
}

/// The name MySQL quotes after `after` in `message` (the first quoted name when `after`
/// is empty): `'db.t'` (MySQL, older MariaDB) or `` `db`.`t` `` (newer MariaDB) -> `db.t`.
fn my_name(message: &str, after: &str) -> Option<String> {
    let rest = if after.is_empty() {
        message
    } else {
        message.rsplit_once(after)?.1
    };
    let start = rest.find(['\'', '`'])?;
    let rest = &rest[start..];
    let name: String = if rest.starts_with('\'') {
        quoted_name(rest, '\'')?.to_owned()
    } else {
        // `a`.`b`: backquoted parts joined by dots, up to the first character outside.
        let end = rest
            .char_indices()
            .scan(false, |inside, (i, ch)| {
                if ch == '`' {
                    *inside = !*inside;
                } else if !*inside && ch != '.' {
                    return None;
                }
                Some(i + ch.len_utf8())
            })
            .last()?;
        rest[..end].replace('`', "")
    };
    Some(name)
}

/// The object failure a MySQL error reports, if it is one.
pub fn from_my(e: &mysql_async::Error, side: Side, within: &str) -> Option<ObjectError> {
    let mysql_async::Error::Server(s) = e else {
        return None;
    };
    let message = s.message.as_str();
    let named = |after: &str| my_name(message, after).unwrap_or_else(|| within.to_owned());
    Some(match s.code {
        // Table 'db.t' doesn't exist
        1146 => ObjectError::missing("table", &named(""), side),
        // Unknown database 'x'
        1049 => ObjectError::missing("database", &named(""), side),
        // Unknown column 'x' in 'field list'
        1054 => ObjectError {
            problem: Problem::Missing,
            sentence: format!("column {} does not exist in {within} ({side})", named("")),
        },
        // SELECT command denied to user 'u'@'h' for table 'db.t'
        1142 => ObjectError::denied("table", &named(" for table "), side, message),
        // ... for column 'c' in table 't'
        1143 => ObjectError::denied(
            "column",
            &format!("{} of table {}", named(" for column "), named(" in table ")),
            side,
            message,
        ),
        // Access denied for user 'u'@'h' to database 'd'
        1044 => ObjectError::denied("database", &named(" to database "), side, message),
        _ => return None,
    })
}

/// A PostgreSQL error as an object failure when it is one, else with `context`.
pub fn pg_error(
    e: tokio_postgres::Error,
    side: Side,
    within: &str,
    context: impl FnOnce() -> String,
) -> anyhow::Error {
    match from_pg(&e, side, within) {
        Some(object) => object.into(),
        None => anyhow::Error::new(e).context(context()),
    }
}

/// A MySQL error as an object failure when it is one, else with `context`.
pub fn my_error(
    e: mysql_async::Error,
    side: Side,
    within: &str,
    context: impl FnOnce() -> String,
) -> anyhow::Error {
    match from_my(&e, side, within) {
        Some(object) => object.into(),
        None => anyhow::Error::new(e).context(context()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_taken_from_the_message() {
        assert_eq!(
            quoted_name(r#"relation "public.orders" does not exist"#, '"'),
            Some("public.orders")
        );
        assert_eq!(
            quoted_name("Table 'db.t' doesn't exist", '\''),
            Some("db.t")
        );
        assert_eq!(quoted_name("no quotes", '"'), None);
        assert_eq!(
            my_name(
                "SELECT command denied to user 'u'@'h' for table `db`.`src`",
                " for table "
            )
            .as_deref(),
            Some("db.src")
        );
        assert_eq!(
            my_name(
                "SELECT command denied to user 'u'@'h' for table 'src'",
                " for table "
            )
            .as_deref(),
            Some("src")
        );
        assert_eq!(
            my_name("Table 'db.t' doesn't exist", "").as_deref(),
            Some("db.t")
        );
        assert_eq!(
            ObjectError::missing("table", "public.orders", Side::Source).to_string(),
            "table public.orders does not exist (source)"
        );
    }
}
