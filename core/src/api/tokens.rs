//! Personal API tokens.

use crate::ids::ApiTokenId;
use crate::messages::MessageCode;
use crate::validation::{FieldErrors, check_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiTokenRequest {
    /// What the token is for, e.g. "nightly export script".
    pub name: String,
    /// Days until the token stops working; none means it works until revoked.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
    /// What the token may do; `full` when left out, as before scopes existed.
    #[serde(default)]
    pub scope: TokenScope,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Only reading: GET (and HEAD) requests. Anything else is refused with 403, even a
    /// POST that changes nothing (a connection test, a preview), so that a leaked
    /// reporting token can neither change data nor make Hakobu connect anywhere new.
    ReadOnly,
    /// Everything the token's user may do.
    #[default]
    Full,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::ReadOnly => "read_only",
            TokenScope::Full => "full",
        }
    }
}

impl std::str::FromStr for TokenScope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "read_only" => Ok(TokenScope::ReadOnly),
            "full" => Ok(TokenScope::Full),
            other => Err(format!(
                "unknown token scope {other:?}; expected read_only or full"
            )),
        }
    }
}

crate::text_sql_enum!(TokenScope);

/// Longest lifetime a token can be given.
pub const TOKEN_MAX_DAYS: u32 = 3650;

impl CreateApiTokenRequest {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        check_text(&mut e, "name", &self.name, 100);
        if let Some(days) = self.expires_in_days
            && (days == 0 || days > TOKEN_MAX_DAYS)
        {
            e.push_message(
                "expires_in_days",
                MessageCode::TokenDays.with("n", TOKEN_MAX_DAYS),
            );
        }
        e.into_result()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiTokenView {
    pub id: ApiTokenId,
    pub name: String,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    pub scope: TokenScope,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The only time the token itself is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiTokenCreated {
    pub token: String,
    pub api_token: ApiTokenView,
}
