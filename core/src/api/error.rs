//! The body of every error response.

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
    /// The input field at fault, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every field at fault, for forms that show all problems at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<crate::validation::FieldError>,
}
