//! Logging: tracing to stderr, as text or one JSON object per line.
//!
//! Each request runs in a span carrying its request id (from `tracing-actix-web`); the
//! auth extractor records the user and organization on it, so every line a request logs
//! can be traced back to who made it.

use crate::settings::LogFormat;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the global subscriber. `filter` (tests) or else `RUST_LOG` overrides the
/// default `info` level.
pub fn init<W>(format: LogFormat, filter: Option<&str>, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = match filter {
        Some(f) => EnvFilter::new(f),
        None => EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn,h2=warn")),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    // A second init (tests spawning several apps) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The root span of each request: tracing-actix-web's fields (request id, method, route,
/// status) plus the caller, filled in by the auth extractor.
///
/// Built here rather than with `root_span!` so the target is logged without the secrets
/// links carry (invitation and reset tokens in the path, confirmation tokens in the query):
/// anyone who reads the logs could otherwise take over the account the link is for.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let method = request.method().as_str().to_owned();
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let user_agent = request
            .headers()
            .get("User-Agent")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let target = redact_target(
            request
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or(""),
        );
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.flavor = ?request.version(),
            http.user_agent = %user_agent,
            http.target = %target,
            http.status_code = tracing::field::Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            request_id = %request_id,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            user_id = tracing::field::Empty,
            organization_id = tracing::field::Empty
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Path prefixes whose next segment is a secret (the UI's invitation and reset links).
const TOKEN_PATHS: &[&str] = &["/invite/", "/reset-password/"];

/// Query parameters whose values are secrets: any name containing one of these.
const SECRET_PARAMS: &[&str] = &["token", "secret", "password", "key", "code", "signature"];

/// The request target as it may be logged: the secret path segment of a link and the
/// values of secret-looking query parameters become `[redacted]`.
pub fn redact_target(target: &str) -> String {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut out = String::with_capacity(target.len());
    match TOKEN_PATHS.iter().find(|p| path.starts_with(**p)) {
        Some(prefix) => {
            out.push_str(prefix);
            out.push_str("[redacted]");
        }
        None => out.push_str(path),
    }
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            let name = pair.split('=').next().unwrap_or("");
            let lower = name.to_ascii_lowercase();
            if pair.contains('=') && SECRET_PARAMS.iter().any(|s| lower.contains(s)) {
                out.push_str(name);
                out.push_str("=[redacted]");
            } else {
                out.push_str(pair);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_target;

    #[test]
    fn secrets_in_targets_are_redacted() {
        assert_eq!(redact_target("/api/jobs?team=1"), "/api/jobs?team=1");
        assert_eq!(redact_target("/invite/abc"), "/invite/[redacted]");
        assert_eq!(
            redact_target("/reset-password/abc?x=1"),
            "/reset-password/[redacted]?x=1"
        );
        assert_eq!(
            redact_target("/api/x/confirm?token=abc&schema=public&api_key=k"),
            "/api/x/confirm?token=[redacted]&schema=public&api_key=[redacted]"
        );
    }
}
