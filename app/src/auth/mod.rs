//! Credentials: Argon2id passwords, session JWTs, API tokens, run tokens and login rate
//! limits. The extractor that reads them from a request is [`crate::extract::Auth`].

pub mod jwt;
pub mod password;
pub mod rate_limit;
pub mod run_token;
pub mod secret_token;

/// Name of the HttpOnly cookie that carries the session JWT for browsers.
pub const SESSION_COOKIE: &str = "hakobu_session";
