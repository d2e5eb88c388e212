//! The body of every error response.

use crate::messages::{MessageParams, Text};
use serde::{Deserialize, Serialize};

/// `{"error": kind, "message": ..., "field": ...}`: `error` is stable for programs,
/// `message` is written for people, `field` points a form at the input to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Machine-readable kind: `bad_request`, `validation`, `unauthorized`, `forbidden`,
    /// `not_found`, `conflict`, `rate_limited`, `internal`.
    pub error: String,
    /// What went wrong and what to do, in plain words.
    pub message: String,
    /// Which message of [`crate::messages`] `message` is, so a client can translate it;
    /// absent for messages outside the catalogue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The values of the message's `{name}` parts, for the translation.
    #[serde(default, skip_serializing_if = "MessageParams::is_empty")]
    pub params: MessageParams,
    /// The input field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every field at fault, for forms that show all problems at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<crate::validation::FieldError>,
}

impl ErrorBody {
    /// The body of an error of `kind` that says `text`.
    pub fn new(kind: &str, text: Text) -> ErrorBody {
        ErrorBody {
            error: kind.to_owned(),
            code: text.code(),
            params: text.params(),
            message: text.english,
            field: None,
            fields: Vec::new(),
        }
    }

    /// The message as a client received it, to translate.
    pub fn text(&self) -> Text {
        Text::received(&self.message, self.code.as_deref(), &self.params)
    }
}
