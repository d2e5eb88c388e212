//! What a request carries, read into types whose failures speak the API's error format:
//! JSON bodies with field paths ([`ApiJson`]), the signed-in caller ([`Auth`]) and the
//! client's address ([`ClientIp`]), a runner's run token.

mod auth;
mod json;
mod run_token;

pub use auth::{Auth, AuthVia, ClientIp, credential};
pub use json::{ApiJson, MAX_JSON_BYTES, parse_json, path_error, query_error};
pub use run_token::{authorize_runner, authorize_runner_report, verify_runner};
