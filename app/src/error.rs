//! Error policy.
//!
//! - Models return diesel's `QueryResult`; they never decide HTTP statuses.
//! - Route handlers return `Result<_, ApiError>`: the one type that becomes a response,
//!   always `{"error", "message", "field"}` JSON (see [`hakobu_core::api::error::ErrorBody`]).
//! - Messages are [`Text`]: a message of `core`'s catalogue (`MessageCode::...`) also sends
//!   its `code` and `params`, which clients translate; plain English strings convert too.
//! - Everything outside requests (startup, CLI, background workers) uses `anyhow`.
//! - An unexpected error becomes a 500 whose body says nothing of internals; the cause is
//!   logged with the request id so an operator can find it.
//! - A resource of another organization, or one the caller may not know of, is
//!   [`ApiError::NotFound`]: the API never reveals that it exists.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use hakobu_core::api::error::ErrorBody;
use hakobu_core::messages::{MessageCode, Text};
use hakobu_core::validation::{FieldError, FieldErrors};
use std::fmt;

#[derive(Debug)]
pub enum ApiError {
    /// The request could not be read: malformed JSON, unknown fields, wrong types.
    BadRequest {
        message: Text,
        field: Option<String>,
    },
    /// The request was read but some fields are not acceptable.
    Validation(FieldErrors),
    /// No valid credentials.
    Unauthorized(Text),
    /// Valid credentials, but this action is not allowed for the caller's role.
    Forbidden(Text),
    /// Nothing here, or nothing the caller may know of.
    NotFound(Text),
    /// The request clashes with existing state, e.g. a duplicate email.
    Conflict {
        message: Text,
        field: Option<String>,
    },
    TooManyRequests {
        message: Text,
        retry_after_secs: u64,
    },
    /// The database is unreachable or overloaded; the client may retry.
    Unavailable(Text),
    /// A system Hakobu talked to for the caller (a source database) answered with an error.
    Upstream(String),
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(MessageCode::NamedNotFound.with("what", what).into())
    }

    pub fn forbidden_role(action: &str) -> Self {
        ApiError::Forbidden(MessageCode::Forbidden.with("action", action).into())
    }

    pub fn field(field: &str, message: impl Into<Text>) -> Self {
        ApiError::Validation(FieldErrors(vec![FieldError::said(field, message)]))
    }

    pub fn conflict(field: &str, message: impl Into<Text>) -> Self {
        ApiError::Conflict {
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Validation(_) => "validation",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { .. } => "conflict",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Upstream(_) => "upstream",
            ApiError::Internal(_) => "internal",
        }
    }

    fn body(&self) -> ErrorBody {
        let (text, field, fields): (Text, _, _) = match self {
            ApiError::BadRequest { message, field } | ApiError::Conflict { message, field } => {
                (message.clone(), field.clone(), Vec::new())
            }
            // The summary joins every field's message, so it is no message of the
            // catalogue; each of `fields` carries its own code.
            ApiError::Validation(errors) => {
                let first = errors.first();
                (
                    errors.to_string().into(),
                    first.map(|e| e.field.clone()),
                    errors.0.clone(),
                )
            }
            ApiError::Unauthorized(m)
            | ApiError::Forbidden(m)
            | ApiError::NotFound(m)
            | ApiError::Unavailable(m) => (m.clone(), None, Vec::new()),
            ApiError::Upstream(m) => (m.clone().into(), None, Vec::new()),
            ApiError::TooManyRequests { message, .. } => (message.clone(), None, Vec::new()),
            ApiError::Internal(_) => (MessageCode::Internal.into(), None, Vec::new()),
        };
        ErrorBody {
            field,
            fields,
            ..ErrorBody::new(self.kind(), text)
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Internal(e) => write!(f, "internal error: {e:#}"),
            other => write!(f, "{}: {}", other.kind(), other.body().message),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        let mut response = HttpResponse::build(self.status_code());
        if let ApiError::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            response.insert_header(("Retry-After", retry_after_secs.to_string()));
        }
        response.json(self.body())
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        ApiError::Validation(errors)
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        match e {
            diesel::result::Error::NotFound => ApiError::NotFound(MessageCode::NotFound.into()),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<crate::db::PoolError> for ApiError {
    fn from(e: crate::db::PoolError) -> Self {
        tracing::error!(error = %e, "no database connection");
        ApiError::Unavailable(MessageCode::DatabaseUnavailable.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::Internal(e)
    }
}

/// Whether a diesel error is a unique-constraint violation (a duplicate).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
