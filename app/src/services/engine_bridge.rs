//! Between saved connections and the engine: decrypting secrets, building the engine's
//! connection, and turning engine errors into answers an analyst can act on.

use crate::cloud_role::SessionFor;
use crate::error::ApiError;
use crate::models::connection::Connection;
use crate::state::AppState;
use hakobu_core::api::connections::{
    ConnectionTestError, ConnectionTestResult, PreviewColumn, PreviewResponse,
};
use hakobu_core::connection::{ConnectionKind, S3Auth, database_endpoint, setting_str};
use hakobu_core::ids::OrganizationId;
use hakobu_core::job::{TableRef, check_select};
use hakobu_engine::check::{self, CheckError, ErrorKind};
use serde_json::{Map, Value};
use std::time::{Duration, Instant};

/// How long a connection test, a discovery call or a preview may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The connection's secrets in clear, for the engine (never for a response or a log).
pub fn decrypt_secrets(state: &AppState, c: &Connection) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    let Some(sealed) = c.secrets.as_object().filter(|m| !m.is_empty()) else {
        return Ok(out);
    };
    let secret_box = state.secrets.as_ref().ok_or_else(|| {
        ApiError::Unavailable(
            "The operator has not set HAKOBU_SECRET_KEY, so saved passwords cannot be read.".into(),
        )
    })?;
    for (name, value) in sealed {
        let plain = secret_box.decrypt(value.as_str().unwrap_or_default())?;
        out.insert(name.clone(), Value::String(plain));
    }
    Ok(out)
}

fn engine_connection(
    kind: ConnectionKind,
    plain: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Option<check::Connection> {
    Some(check::Connection {
        endpoint: database_endpoint(kind, plain, secrets)?,
        timeout: TIMEOUT,
    })
}

/// The engine's view of a saved database connection; `None` for storage kinds.
pub fn database(state: &AppState, c: &Connection) -> Result<Option<check::Connection>, ApiError> {
    let secrets = decrypt_secrets(state, c)?;
    Ok(engine_connection(
        c.kind,
        c.settings.as_object().unwrap_or(&Map::new()),
        &secrets,
    ))
}

/// The schema to browse when none is given.
pub fn schema_or_default(c: &Connection, schema: Option<&str>) -> String {
    if let Some(s) = schema.filter(|s| !s.is_empty()) {
        return s.to_owned();
    }
    let settings = c.settings.as_object().cloned().unwrap_or_default();
    let name = if c.kind == ConnectionKind::Mysql {
        "database"
    } else {
        "schema"
    };
    setting_str(c.kind, &settings, name)
        .map(|s| s.into_owned())
        .unwrap_or_default()
}

/// A database error while browsing: the message says what the database said.
pub fn upstream(e: CheckError) -> ApiError {
    let (_, message, hint) = explain(&e, "the database");
    ApiError::Upstream(format!("{message} {hint}"))
}

fn explain(e: &CheckError, at: &str) -> (&'static str, String, String) {
    match e.kind {
        ErrorKind::HostUnreachable => (
            "unreachable",
            format!("Could not reach {at}."),
            "Check the host and the port, and that the server accepts connections from Hakobu's address (firewall, security group).".to_owned(),
        ),
        ErrorKind::Timeout => (
            "timeout",
            format!("{at} did not answer within {} s.", TIMEOUT.as_secs()),
            "Check the host, the port and that the server accepts connections from Hakobu's address.".to_owned(),
        ),
        ErrorKind::WrongPassword => (
            "authentication",
            format!("{at} refused the user name or password."),
            "Check the user and password; ask the database administrator whether this user may sign in from Hakobu's address.".to_owned(),
        ),
        ErrorKind::DatabaseMissing => (
            "database_missing",
            format!("The database does not exist on {at}."),
            "Check the spelling of the database name; names can be case-sensitive.".to_owned(),
        ),
        ErrorKind::PermissionDenied => (
            "permission_denied",
            format!("The user is not allowed to do this on {at}."),
            "Ask the database administrator to grant this user access (CONNECT and SELECT for a source).".to_owned(),
        ),
        ErrorKind::TlsRequired => (
            "tls_required",
            format!("{at} accepts only encrypted connections."),
            "Set TLS to require or verify-full.".to_owned(),
        ),
        ErrorKind::TlsNotOffered => (
            "tls_not_offered",
            format!("{at} does not offer TLS: {}", e.message),
            "Enable SSL on the server, or set TLS to prefer or disable.".to_owned(),
        ),
        ErrorKind::CertificateNotTrusted => (
            "certificate_not_trusted",
            format!("The certificate of {at} is not trusted: {}", e.message),
            "Paste the CA certificate that signed it, or set TLS to require (encrypts without checking the certificate).".to_owned(),
        ),
        ErrorKind::HostNameMismatch => (
            "host_name_mismatch",
            format!("The certificate of {at} is for another host name: {}", e.message),
            "Connect with a host name the certificate lists, or set TLS to verify-ca.".to_owned(),
        ),
        ErrorKind::Other => (
            "other",
            format!("{at} answered with an error: {}", e.message),
            "Check the settings; if they look right, show this message to the database administrator.".to_owned(),
        ),
    }
}

/// Runs a connection test for `organization` and says in plain words what happened.
pub async fn test(
    state: &AppState,
    organization: OrganizationId,
    kind: ConnectionKind,
    plain: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> ConnectionTestResult {
    let started = Instant::now();
    if let Some(target) = engine_connection(kind, plain, secrets) {
        let at = format!(
            "The server at {}:{}",
            target.endpoint.host,
            target.endpoint.port()
        );
        return match check::check(&target).await {
            Ok(ok) => ConnectionTestResult {
                ok: true,
                latency_ms: ok.latency_ms,
                server_version: Some(ok.server_version),
                error: None,
            },
            Err(e) => {
                let (kind, message, hint) = explain(&e, &at);
                tracing::info!(kind, "connection test failed");
                failed(started, kind, message, hint)
            }
        };
    }
    match kind {
        ConnectionKind::LocalFiles => {
            let dir = setting_str(kind, plain, "directory")
                .map(|s| s.into_owned())
                .unwrap_or_default();
            match tokio::fs::read_dir(&dir).await {
                Ok(_) => ConnectionTestResult {
                    ok: true,
                    latency_ms: started.elapsed().as_millis() as u64,
                    server_version: None,
                    error: None,
                },
                Err(e) => failed(
                    started,
                    "directory_missing",
                    format!("The directory {dir} cannot be read: {e}."),
                    "Check the path, and that the Hakobu server's user may read it.".to_owned(),
                ),
            }
        }
        ConnectionKind::S3 => {
            // A role is assumed for the shortest session STS grants: the test lists once.
            let temporary = match state
                .cloud_roles
                .engine_credentials(kind, plain, organization, SessionFor::Check, TIMEOUT)
                .await
            {
                Ok(temporary) => temporary,
                Err(refused) => {
                    tracing::info!(kind = refused.kind, "connection test refused credentials");
                    return failed(started, refused.kind, refused.message, refused.hint);
                }
            };
            test_bucket(plain, secrets, &temporary, started).await
        }
        ConnectionKind::Postgresql | ConnectionKind::Mysql => unreachable!("handled above"),
    }
}

/// Lists the top of the bucket: proves the endpoint, the credentials and the bucket.
/// `temporary` holds an assumed role's credentials (empty for other authentications).
async fn test_bucket(
    plain: &Map<String, Value>,
    secrets: &Map<String, Value>,
    temporary: &Map<String, Value>,
    started: Instant,
) -> ConnectionTestResult {
    use hakobu_core::config::Secret;
    use hakobu_engine::connectors::s3::{S3Credentials, S3Location};
    use object_store::ObjectStore;
    let get = |name: &str| setting_str(ConnectionKind::S3, plain, name).map(|s| s.into_owned());
    let secret = |from: &Map<String, Value>, name: &str| {
        from.get(name)
            .and_then(Value::as_str)
            .map(|s| Secret(s.to_owned()))
    };
    let bucket = get("bucket").unwrap_or_default();
    let auth = S3Auth::of(plain);
    let (key_id, secret_key, session_token) = match auth {
        S3Auth::AccessKey => (
            get("access_key_id").map(Secret),
            secret(secrets, "secret_access_key"),
            None,
        ),
        S3Auth::AssumeRole => (
            secret(temporary, "access_key_id"),
            secret(temporary, "secret_access_key"),
            secret(temporary, "session_token"),
        ),
        S3Auth::Ambient => (None, None, None),
    };
    let credentials = match (auth, &key_id, &secret_key) {
        (S3Auth::Ambient, _, _) => S3Credentials::Ambient,
        (_, Some(access_key_id), Some(secret_access_key)) => S3Credentials::Keys {
            access_key_id,
            secret_access_key,
            session_token: session_token.as_ref(),
        },
        // Validation requires the pair; never test with the service's own identity instead.
        _ => {
            return failed(
                started,
                "authentication",
                "The connection has no access key pair.".to_owned(),
                "Give the access key ID and the secret access key.".to_owned(),
            );
        }
    };
    let endpoint = get("endpoint");
    let region = get("region");
    let location = S3Location {
        bucket: &bucket,
        endpoint: endpoint.as_deref(),
        region: region.as_deref(),
        credentials,
    };
    let store = match hakobu_engine::connectors::s3::store(&location) {
        Ok(store) => store,
        Err(e) => {
            return failed(
                started,
                "other",
                format!("The storage settings are not usable: {e:#}"),
                "Check the endpoint URL and the region.".to_owned(),
            );
        }
    };
    let at = endpoint.clone().unwrap_or_else(|| "AWS S3".to_owned());
    match tokio::time::timeout(TIMEOUT, store.list_with_delimiter(None)).await {
        Ok(Ok(_)) => ConnectionTestResult {
            ok: true,
            latency_ms: started.elapsed().as_millis() as u64,
            server_version: None,
            error: None,
        },
        Err(_) => failed(
            started,
            "timeout",
            format!("{at} did not answer within {} s.", TIMEOUT.as_secs()),
            "Check the endpoint URL, and that Hakobu's network may reach it.".to_owned(),
        ),
        Ok(Err(e)) => {
            let text = format!("{e}");
            let (kind, message, hint) = if text.contains("NoSuchBucket")
                || matches!(e, object_store::Error::NotFound { .. })
            {
                (
                    "bucket_missing",
                    format!("There is no bucket {bucket} at {at}."),
                    "Check the bucket name and the region.",
                )
            } else if [
                "AccessDenied",
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                // Not a bare "403": the text also carries retry times such as "1.403s".
                "Forbidden",
            ]
            .iter()
            .any(|m| text.contains(m))
            {
                (
                    "authentication",
                    format!("{at} refused the credentials for bucket {bucket}."),
                    match auth {
                        S3Auth::AssumeRole => {
                            "Check that the role's permissions policy allows s3:ListBucket on this bucket."
                        }
                        _ => {
                            "Check the access key pair, and that its policy allows s3:ListBucket on this bucket."
                        }
                    },
                )
            } else if text.contains("error sending request") || text.contains("connect") {
                (
                    "unreachable",
                    format!("Could not reach {at}."),
                    "Check the endpoint URL, and that Hakobu's network may reach it.",
                )
            } else {
                (
                    "other",
                    format!("{at} answered with an error: {text}"),
                    "Check the settings; if they look right, show this message to the storage administrator.",
                )
            };
            failed(started, kind, message, hint.to_owned())
        }
    }
}

fn failed(started: Instant, kind: &str, message: String, hint: String) -> ConnectionTestResult {
    ConnectionTestResult {
        ok: false,
        latency_ms: started.elapsed().as_millis() as u64,
        server_version: None,
        error: Some(ConnectionTestError {
            kind: kind.to_owned(),
            message,
            hint,
        }),
    }
}

/// The first rows of a table or of a query, read through the engine's reader. Queries
/// run in a read-only session, so a statement that slipped past [`check_select`] still
/// cannot change data.
pub async fn preview(
    c: &Connection,
    target: &check::Connection,
    table: Option<&TableRef>,
    query: Option<&str>,
    limit: usize,
) -> Result<PreviewResponse, ApiError> {
    let result = match (table, query) {
        (Some(t), None) => {
            let schema = schema_or_default(c, t.schema.as_deref());
            check::preview_table(target, &schema, &t.name, limit)
                .await
                .map_err(upstream)?
        }
        (None, Some(q)) => {
            check_select(q).map_err(|m| ApiError::field("query", m))?;
            check::preview_query(target, q, limit)
                .await
                .map_err(upstream)?
        }
        _ => return Err(ApiError::field("table", "give either a table or a query")),
    };
    Ok(PreviewResponse {
        columns: result
            .columns
            .into_iter()
            .map(|(name, type_)| PreviewColumn { name, type_ })
            .collect(),
        rows: result.rows,
    })
}
