//! Config errors that name the field (`out.mode`) and what is expected.

use std::fmt;

/// A config problem at `path` (dotted, with `[i]` for list items; empty for the root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the problem is, e.g. `in.parser.columns[2].type`.
    pub path: String,
    /// What is wrong and what is expected.
    pub message: String,
}

/// Marks a message that already carries a nested path, so outer layers can join paths
/// instead of repeating them (see `plugin::deserialize_tagged`).
pub(crate) const NESTED: char = '\u{1}';

impl ConfigError {
    /// A new error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same error seen from a parent section.
    pub fn prefixed(self, parent: &str) -> Self {
        ConfigError {
            path: join_path(parent, &self.path),
            message: self.message,
        }
    }

    pub(crate) fn from_path_error<E: fmt::Display>(e: serde_path_to_error::Error<E>) -> Self {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        let (path, message) = split_nested(&path, &e.into_inner().to_string());
        let message = super::compat::suggestion_for_unknown_field(&message).unwrap_or(message);
        ConfigError { path, message }
    }

    /// Encodes this error into a serde custom message that `from_path_error` decodes.
    pub(crate) fn to_nested_message(&self) -> String {
        format!("{NESTED}{}{NESTED}{}", self.path, self.message)
    }
}

/// Joins `outer` with the nested path carried by `message`, if any.
fn split_nested(outer: &str, message: &str) -> (String, String) {
    if let Some(rest) = message.strip_prefix(NESTED)
        && let Some((inner, msg)) = rest.split_once(NESTED)
    {
        return (join_path(outer, inner), msg.to_owned());
    }
    (outer.to_owned(), message.to_owned())
}

pub(crate) fn join_path(outer: &str, inner: &str) -> String {
    match (outer.is_empty(), inner.is_empty()) {
        (true, _) => inner.to_owned(),
        (_, true) => outer.to_owned(),
        _ if inner.starts_with('[') => format!("{outer}{inner}"),
        _ => format!("{outer}.{inner}"),
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}
