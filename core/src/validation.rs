//! Field-level validation errors, shared by the server and the browser forms.
//!
//! A message names what is expected in words an analyst understands; `field` is the path
//! of the offending input (`email`, `members[2].role`) so a form can show it beside the
//! right box.

use crate::messages::{MessageCode, MessageParams, Text};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// Path of the field, e.g. `email` or `schedules[0].cron`.
    pub field: String,
    /// What is wrong and what is expected.
    pub message: String,
    /// Which message of [`crate::messages`] `message` is, so a client can translate
    /// it; absent for messages outside the catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The values of the message's `{name}` parts, for the translation.
    #[serde(default, skip_serializing_if = "MessageParams::is_empty")]
    pub params: MessageParams,
}

impl FieldError {
    /// A problem said in English only (a message outside the catalogue).
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::said(field, Text::from(message.into()))
    }

    /// A problem said by `text`, with its code when it has one.
    pub fn said(field: impl Into<String>, text: impl Into<Text>) -> Self {
        let text = text.into();
        Self {
            field: field.into(),
            code: text.code(),
            params: text.params(),
            message: text.english,
        }
    }

    /// The message as received, to translate.
    pub fn text(&self) -> Text {
        Text::received(&self.message, self.code.as_deref(), &self.params)
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in one input, in field order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// Adds a problem said in English only (a message outside the catalogue).
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Adds a problem said by a message of the catalogue (or by a [`Text`] that may be one).
    pub fn push_message(&mut self, field: impl Into<String>, message: impl Into<Text>) {
        self.0.push(FieldError::said(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn first(&self) -> Option<&FieldError> {
        self.0.first()
    }

    /// `Ok(())` when nothing was found, so validators end with `errors.into_result()`.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            e.fmt(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

/// Something the user must fill in, with a maximum length in characters.
pub fn check_text(errors: &mut FieldErrors, field: &str, value: &str, max_chars: usize) {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.push_message(field, MessageCode::Required);
    } else if trimmed.chars().count() > max_chars {
        errors.push_message(field, MessageCode::TooLong.with("n", max_chars));
    } else if trimmed.chars().any(char::is_control) {
        errors.push_message(field, MessageCode::ControlCharacters);
    }
}

/// Longest email address SMTP can carry (RFC 5321).
pub const EMAIL_MAX_CHARS: usize = 254;

/// A plausible email address: one `@`, a dotted domain, no spaces.
///
/// Deliverability is proved by sending mail, not by parsing; this only catches typos.
pub fn check_email(errors: &mut FieldErrors, field: &str, value: &str) {
    let value = value.trim();
    let plausible = value.chars().count() <= EMAIL_MAX_CHARS
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && local.len() <= 64
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains("..")
            }
            None => false,
        };
    if value.is_empty() {
        errors.push_message(field, MessageCode::Required);
    } else if !plausible {
        errors.push_message(field, MessageCode::NotAnEmail);
    }
}

pub const PASSWORD_MIN_CHARS: usize = 10;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// Length is what makes a password strong; composition rules only annoy.
pub fn check_password(errors: &mut FieldErrors, field: &str, value: &str) {
    let n = value.chars().count();
    if n < PASSWORD_MIN_CHARS {
        errors.push_message(
            field,
            MessageCode::PasswordTooShort.with("n", PASSWORD_MIN_CHARS),
        );
    } else if n > PASSWORD_MAX_CHARS {
        errors.push_message(
            field,
            MessageCode::PasswordTooLong.with("n", PASSWORD_MAX_CHARS),
        );
    }
}

/// Normal form of an email for lookups: trimmed and lower-cased.
pub fn normalize_email(value: &str) -> String {
    value.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email_ok(v: &str) -> bool {
        let mut e = FieldErrors::default();
        check_email(&mut e, "email", v);
        e.is_empty()
    }

    #[test]
    fn emails() {
        assert!(email_ok("ana@example.com"));
        assert!(email_ok(" Ana.B+x@sub.example.co.jp "));
        for bad in [
            "",
            "ana",
            "ana@",
            "@example.com",
            "ana@example",
            "ana@@example.com",
            "a na@example.com",
            "ana@example..com",
            "ana@.example.com",
        ] {
            assert!(!email_ok(bad), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn text_limits() {
        let mut e = FieldErrors::default();
        check_text(&mut e, "name", "   ", 10);
        check_text(&mut e, "name2", "ñññññññññññ", 10);
        check_text(&mut e, "name3", "ok\nno", 10);
        check_text(&mut e, "name4", "データ転送", 10);
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "name2", "name3"]);
        assert_eq!(e.0[0].message, "is required");
        assert_eq!(e.0[0].code.as_deref(), Some("required"));
        assert_eq!(e.0[1].message, "must be at most 10 characters");
        assert_eq!(e.0[1].params["n"], "10");
    }

    #[test]
    fn passwords() {
        let mut e = FieldErrors::default();
        check_password(&mut e, "password", "short");
        check_password(&mut e, "p2", "long enough passphrase");
        assert_eq!(e.0.len(), 1);
        assert!(e.0[0].message.contains("at least 10"));
    }
}
