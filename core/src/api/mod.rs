//! Request and response bodies of the REST API, shared by the server and the frontend.
//!
//! Requests reject unknown fields, so a typo in a client is an error rather than a setting
//! silently ignored, and each request has a `validate` that names every bad field.

pub mod audit;
pub mod auth;
pub mod config;
pub mod connections;
pub mod error;
pub mod insights;
pub mod jobs;
pub mod notifications;
pub mod org;
pub mod runs;
pub mod schedules;
pub mod tokens;
pub mod workflows;

/// A page of results and the total count behind it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many match; a lower bound when `total_capped` (counting stopped there).
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// More match than `total` says: a long history is not counted to its end.
    #[serde(default)]
    pub total_capped: bool,
    /// Where the next (older) page starts: pass it as `before`. Absent on the last page,
    /// and on lists that page by number only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Largest page a list endpoint returns.
pub const MAX_PER_PAGE: i64 = 500;
/// Longest name of an organization, team or person.
pub const NAME_MAX_CHARS: usize = 100;
