//! Authentication: passwords, session JWTs, API tokens, login rate limits, and the
//! [`Auth`] extractor every protected endpoint takes.

mod context;
pub mod jwt;
pub mod password;
pub mod rate_limit;
pub mod run_token;
pub mod secret_token;

pub use context::{Auth, AuthVia, ClientIp, credential as credential_of};

/// Name of the HttpOnly cookie that carries the session JWT for browsers.
pub const SESSION_COOKIE: &str = "hakobu_session";
