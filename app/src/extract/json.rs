//! JSON request bodies whose errors name the offending field.
//!
//! actix's own `Json` answers a bad body in plain text; [`ApiJson`] answers
//! `{"error": "bad_request", "message": ..., "field": "teams[0].role"}` with the path of
//! the offending field, found by `serde_path_to_error`.

use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::web::{Bytes, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use futures::StreamExt;
use hakobu_core::messages::MessageCode;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

/// Largest JSON body the API reads.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// A JSON request body, deserialized with field paths in its errors.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::BadRequest {
                    message: "Send the request body as JSON with the header \
                              Content-Type: application/json."
                        .into(),
                    field: None,
                });
            }
            let mut body = BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| ApiError::BadRequest {
                    message: format!("The request body could not be read: {e}").into(),
                    field: None,
                })?;
                if body.len() + chunk.len() > MAX_JSON_BYTES {
                    return Err(ApiError::BadRequest {
                        message: format!(
                            "The request body is larger than {} KiB.",
                            MAX_JSON_BYTES / 1024
                        )
                        .into(),
                        field: None,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            parse_json(&body.freeze()).map(ApiJson)
        })
    }
}

/// Deserializes JSON, naming the path of the field at fault.
pub fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = (path != ".").then_some(path);
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("The request body is not valid JSON: {inner}")
        } else {
            match &field {
                Some(field) => format!("{field}: {}", strip_position(&inner.to_string())),
                None => strip_position(&inner.to_string()),
            }
        };
        ApiError::BadRequest {
            message: message.into(),
            field,
        }
    })
}

/// serde_json appends " at line 1 column 42", which means nothing to a form user.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Error handler for `web::Query`: a bad filter is a 400 in the API's format.
pub fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    ApiError::BadRequest {
        message: format!("The query string is not valid: {err}").into(),
        field: None,
    }
    .into()
}

/// Error handler for `web::Path`: an id that cannot exist is simply not found.
pub fn path_error(_: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::NotFound(MessageCode::NotFound.into()).into()
}
