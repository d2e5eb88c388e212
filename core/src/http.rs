//! HTTP requests a tenant configures (a webhook destination, a workflow's HTTP task): the
//! header type with its write-only secret values, and the checks of URLs and headers, so
//! both say the same thing about the same mistake.

use crate::messages::MessageCode;
use crate::validation::FieldErrors;
use serde::{Deserialize, Serialize};

/// Most headers one request sends.
pub const MAX_HEADERS: usize = 20;
/// Longest header value, in bytes.
pub const HEADER_VALUE_MAX_BYTES: usize = 4000;
/// Longest URL, in bytes.
pub const URL_MAX_BYTES: usize = 2000;

/// One header of a request a tenant configures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HttpHeader {
    pub name: String,
    /// Required for a new header; for a secret header, leaving it out keeps the stored one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Encrypt the value and never show it again (tokens, signatures).
    #[serde(default)]
    pub secret: bool,
}

/// `http://` or `https://` URL with a host.
pub fn check_url(e: &mut FieldErrors, field: &str, url: &str) {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        None => e.push_message(field, MessageCode::UrlScheme),
        Some(rest) if rest.split(['/', '?', '#']).next().unwrap_or("").is_empty() => {
            e.push_message(field, MessageCode::UrlHost)
        }
        Some(_) if url.len() > URL_MAX_BYTES || url.chars().any(|c| c.is_whitespace()) => {
            e.push_message(field, MessageCode::UrlTooLong.with("n", URL_MAX_BYTES))
        }
        Some(_) => {}
    }
}

/// Header names (letters, digits, `-`, `_`; none of `reserved`, none twice) and values
/// (bounded, no control characters) at `field[i].name` / `field[i].value`. A value is
/// required unless the header is secret and `value_optional_when_secret` (an update
/// keeps the stored one).
pub fn check_headers(
    e: &mut FieldErrors,
    field: &str,
    headers: &[HttpHeader],
    reserved: &[&str],
    value_optional_when_secret: bool,
) {
    if headers.len() > MAX_HEADERS {
        e.push_message(field, MessageCode::TooManyHeaders.with("n", MAX_HEADERS));
    }
    for (i, h) in headers.iter().enumerate() {
        let name_field = format!("{field}[{i}].name");
        let lower = h.name.to_ascii_lowercase();
        if h.name.is_empty()
            || h.name.len() > 100
            || !h
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            e.push_message(name_field, MessageCode::HeaderName);
        } else if reserved.contains(&lower.as_str()) {
            e.push_message(name_field, MessageCode::HeaderReserved);
        } else if headers[..i]
            .iter()
            .any(|o| o.name.eq_ignore_ascii_case(&h.name))
        {
            e.push_message(name_field, MessageCode::ListedTwice);
        }
        let value_field = format!("{field}[{i}].value");
        match &h.value {
            None if !(h.secret && value_optional_when_secret) => {
                e.push_message(value_field, MessageCode::Required)
            }
            Some(v) if v.len() > HEADER_VALUE_MAX_BYTES || v.chars().any(|c| c.is_control()) => e
                .push_message(
                    value_field,
                    MessageCode::HeaderValueTooLong.with("n", HEADER_VALUE_MAX_BYTES),
                ),
            _ => {}
        }
    }
}
