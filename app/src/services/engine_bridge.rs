//! Between saved connections and the engine: decrypting secrets, building the engine's
//! connection, running tests, discovery and previews in a probe worker (`crate::probe`:
//! never in this process, which holds the service's secrets), and turning engine errors
//! into answers an analyst can act on.

use crate::cloud_role::{Refused, SessionFor};
use crate::error::ApiError;
use crate::models::connection::Connection;
use crate::secrets::SecretSlot;
use crate::state::AppState;
use hakobu_core::api::connections::{
    ConnectionTestError, ConnectionTestResult, PreviewColumn, PreviewResponse,
};
use hakobu_core::config::Secret;
use hakobu_core::connection::{ConnectionKind, S3Auth, database_endpoint, setting_str};
use hakobu_core::ids::OrganizationId;
use hakobu_core::job::checks::CheckOperator;
use hakobu_core::job::{TableRef, check_select};
use hakobu_core::messages::{MessageCode, Text};
use hakobu_engine::Preview;
use hakobu_engine::check::{self, BucketAccess, BucketCredentials, CheckError, ErrorKind, Listing};
use hakobu_engine::limits::{PREVIEW_MAX_BYTES, PREVIEW_MAX_VALUE_BYTES, human_bytes};
use hakobu_engine::probe::ProbeTask;
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
        let slot = SecretSlot::connection(c.organization_id, c.id, name);
        let plain = secret_box
            .decrypt(value.as_str().unwrap_or_default(), &slot)
            .map_err(|e| {
                // Altered or copied from another connection: nothing to use, say which.
                tracing::warn!(connection = %c.id, field = %name, error = %e, "a saved secret does not open");
                ApiError::field(
                    &format!("settings.{name}"),
                    "the saved value cannot be read (it was altered, or copied from elsewhere): enter it again",
                )
            })?;
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

/// The engine's view of a saved database connection; `None` for storage kinds. A
/// connection through an SSH bastion is used only once its host key is pinned (by its
/// first successful test).
pub fn database(state: &AppState, c: &Connection) -> Result<Option<check::Connection>, ApiError> {
    let secrets = decrypt_secrets(state, c)?;
    let target = engine_connection(
        c.kind,
        c.settings.as_object().unwrap_or(&Map::new()),
        &secrets,
    );
    if let Some(ssh) = target.as_ref().and_then(|t| t.endpoint.ssh.as_ref())
        && ssh.host_key_fingerprint.is_none()
    {
        return Err(ApiError::field(
            "settings.ssh_host_key_fingerprint",
            UNPINNED,
        ));
    }
    Ok(target)
}

/// Why a tunnel without a pinned host key is not used.
pub const UNPINNED: &str = "the SSH bastion's host key is not pinned yet: test the connection once, which pins the key the bastion presents";

/// The schema to browse when none is given.
pub fn schema_or_default(c: &Connection, schema: Option<&str>) -> String {
    if let Some(s) = schema.filter(|s| !s.is_empty()) {
        return s.to_owned();
    }
    let settings = c.settings.as_object().cloned().unwrap_or_default();
    let name = match c.kind {
        ConnectionKind::Mysql => "database",
        ConnectionKind::Bigquery => "dataset",
        _ => "schema",
    };
    setting_str(c.kind, &settings, name)
        .map(|s| s.into_owned())
        .unwrap_or_default()
}

/// A database error while browsing: the message says what the database said.
pub fn upstream(e: CheckError) -> ApiError {
    upstream_at(e, "the database")
}

/// An error while browsing `at` (a database, a warehouse), in its words.
pub fn upstream_at(e: CheckError, at: &str) -> ApiError {
    let (_, message, hint) = explain(&e, at);
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
            format!("The database does not exist on {at}: {}", e.message),
            "Check the spelling of the database name; names can be case-sensitive.".to_owned(),
        ),
        ErrorKind::PermissionDenied => (
            "permission_denied",
            format!("The user is not allowed to do this on {at}: {}", e.message),
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
        ErrorKind::NotAllowed => (
            "not_allowed",
            format!("{at} may not be reached from Hakobu: {}", e.message),
            "Use the server's public address. If it is in your own network, ask the Hakobu administrator whether it can be allowed.".to_owned(),
        ),
        ErrorKind::BucketMissing | ErrorKind::DirectoryMissing => (
            "missing",
            format!("{at} does not exist: {}", e.message),
            "Check the name.".to_owned(),
        ),
        ErrorKind::SshHostKeyChanged => (
            "ssh_host_key_changed",
            format!("The SSH bastion's host key changed: {}", e.message),
            "Ask the bastion's administrator whether its host key was replaced (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on the bastion). Only if the new fingerprint matches, accept the new host key.".to_owned(),
        ),
        ErrorKind::SshSignInRejected => (
            "ssh_sign_in",
            format!("Signing in to the SSH bastion failed: {}", e.message),
            "Check the SSH user, the private key (and its passphrase), and that the key's public half is in the user's authorized_keys on the bastion.".to_owned(),
        ),
        ErrorKind::Other => (
            "other",
            format!("{at} answered with an error: {}", e.message),
            "Check the settings; if they look right, show this message to the database administrator.".to_owned(),
        ),
    }
}

/// Runs a connection test for `organization` in a probe worker and says in plain words
/// what happened. `local_directory` is where a `local_files` directory is on the disk,
/// already resolved inside the organization's folder (`services::local_files`).
pub async fn test(
    state: &AppState,
    organization: OrganizationId,
    kind: ConnectionKind,
    plain: &Map<String, Value>,
    secrets: &Map<String, Value>,
    local_directory: Option<&std::path::Path>,
) -> ConnectionTestResult {
    let started = Instant::now();
    if let Some(target) = engine_connection(kind, plain, secrets) {
        let at = format!(
            "The server at {}:{}",
            target.endpoint.host,
            target.endpoint.port()
        );
        let answer: Result<check::CheckOk, _> = state
            .probes
            .run(ProbeTask::TestDatabase { connection: target }, TIMEOUT)
            .await;
        return match answer {
            Ok(ok) => ConnectionTestResult {
                ok: true,
                latency_ms: ok.latency_ms,
                server_version: Some(ok.server_version),
                error: None,
                ssh_host_key: ok.ssh_host_key,
            },
            Err(e) => {
                let e = e.into_check_error();
                let (kind, message, hint) = explain(&e, &at);
                tracing::info!(kind, "connection test failed");
                ConnectionTestResult {
                    ssh_host_key: e.ssh_host_key.clone(),
                    ..failed(started, kind, message, hint)
                }
            }
        };
    }
    let get = |name: &str| setting_str(kind, plain, name).map(|s| s.into_owned());
    let (task, at) = match kind {
        ConnectionKind::LocalFiles => {
            // Named as the person wrote it: where their folder is on the server is not
            // theirs to know.
            let dir = get("directory").unwrap_or_default();
            let Some(physical) = local_directory else {
                return failed(
                    started,
                    "directory_missing",
                    format!("The directory {dir} is not inside your organization's files folder."),
                    "Check the path.".to_owned(),
                );
            };
            let at = format!("The directory {dir}");
            let directory = physical.to_string_lossy().into_owned();
            (ProbeTask::TestDirectory { directory }, at)
        }
        ConnectionKind::S3 => {
            let bucket = match bucket_access(state, organization, plain, secrets).await {
                Ok(bucket) => bucket,
                Err(refused) => {
                    tracing::info!(kind = refused.kind, "connection test refused credentials");
                    return failed(started, refused.kind, refused.message, refused.hint);
                }
            };
            let at = bucket
                .endpoint
                .clone()
                .unwrap_or_else(|| "AWS S3".to_owned());
            (
                ProbeTask::TestBucket {
                    bucket,
                    timeout: TIMEOUT,
                },
                at,
            )
        }
        ConnectionKind::Bigquery | ConnectionKind::Snowflake => {
            let Some(warehouse) = warehouse(kind, plain, secrets) else {
                return failed(
                    started,
                    "other",
                    "The settings are incomplete.".to_owned(),
                    "Fill in the required fields and test again.".to_owned(),
                );
            };
            let at = match &warehouse {
                check::Warehouse::Bigquery(c) => format!(
                    "BigQuery{}",
                    c.endpoint
                        .as_deref()
                        .map(|e| format!(" at {e}"))
                        .unwrap_or_default()
                ),
                check::Warehouse::Snowflake(c) => format!("Snowflake at {}", c.base_url()),
            };
            (
                ProbeTask::TestWarehouse {
                    warehouse,
                    timeout: TIMEOUT,
                },
                at,
            )
        }
        ConnectionKind::Postgresql | ConnectionKind::Mysql => unreachable!("handled above"),
    };
    let bucket = match &task {
        ProbeTask::TestBucket { bucket, .. } => Some(bucket.bucket.clone()),
        _ => None,
    };
    match state.probes.run::<()>(task, TIMEOUT).await {
        Ok(()) => ConnectionTestResult {
            ok: true,
            latency_ms: started.elapsed().as_millis() as u64,
            server_version: None,
            error: None,
            ssh_host_key: None,
        },
        Err(e) => {
            let e = e.into_check_error();
            let (kind, message, hint) = match (&bucket, e.kind) {
                (Some(bucket), ErrorKind::BucketMissing) => (
                    "bucket_missing",
                    format!("There is no bucket {bucket} at {at}."),
                    "Check the bucket name and the region.".to_owned(),
                ),
                (Some(bucket), ErrorKind::WrongPassword) => (
                    "authentication",
                    format!("{at} refused the credentials for bucket {bucket}."),
                    match S3Auth::of(plain) {
                        S3Auth::AssumeRole => "Check that the role's permissions policy allows s3:ListBucket on this bucket.",
                        _ => "Check the access key pair, and that its policy allows s3:ListBucket on this bucket.",
                    }
                    .to_owned(),
                ),
                (None, ErrorKind::DirectoryMissing) => (
                    "directory_missing",
                    format!("{at} cannot be read: {}.", e.message),
                    "Check the path, and that the Hakobu server's user may read it.".to_owned(),
                ),
                (Some(_), ErrorKind::HostUnreachable) => (
                    "unreachable",
                    format!("Could not reach {at}."),
                    "Check the endpoint URL, and that Hakobu's network may reach it.".to_owned(),
                ),
                _ => explain(&e, &at),
            };
            tracing::info!(kind, "connection test failed");
            failed(started, kind, message, hint)
        }
    }
}

/// The engine's view of a data warehouse connection: its output section with the key
/// or password in clear (for the probe worker only). `None` for other kinds, or when the
/// saved settings do not make a section (they were validated, so only a missing secret).
pub fn warehouse(
    kind: ConnectionKind,
    plain: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Option<check::Warehouse> {
    let section = hakobu_core::job::warehouse_section(&hakobu_core::job::CompileConnection {
        kind,
        settings: plain,
        secrets,
    })?;
    match kind {
        ConnectionKind::Bigquery => serde_json::from_value(section)
            .ok()
            .map(|c| check::Warehouse::Bigquery(Box::new(c))),
        ConnectionKind::Snowflake => serde_json::from_value(section)
            .ok()
            .map(|c| check::Warehouse::Snowflake(Box::new(c))),
        _ => None,
    }
}

/// The engine's view of an S3 connection's bucket with credentials to use: the key pair,
/// the tenant's role assumed for the shortest session STS grants (a probe lists or reads
/// once), or the ambient identity where the operator allows it.
pub async fn bucket_access(
    state: &AppState,
    organization: OrganizationId,
    plain: &Map<String, Value>,
    secrets: &Map<String, Value>,
) -> Result<BucketAccess, Refused> {
    let kind = ConnectionKind::S3;
    let get = |name: &str| setting_str(kind, plain, name).map(|s| s.into_owned());
    let temporary = state
        .cloud_roles
        .engine_credentials(kind, plain, organization, SessionFor::Check, TIMEOUT)
        .await?;
    let secret = |from: &Map<String, Value>, name: &str| {
        from.get(name)
            .and_then(Value::as_str)
            .map(|s| Secret(s.to_owned()))
    };
    let (key_id, secret_key, session_token) = match S3Auth::of(plain) {
        S3Auth::AccessKey => (
            get("access_key_id").map(Secret),
            secret(secrets, "secret_access_key"),
            None,
        ),
        S3Auth::AssumeRole => (
            secret(&temporary, "access_key_id"),
            secret(&temporary, "secret_access_key"),
            secret(&temporary, "session_token"),
        ),
        S3Auth::Ambient => (None, None, None),
    };
    let credentials = match (S3Auth::of(plain), key_id, secret_key) {
        (S3Auth::Ambient, _, _) => BucketCredentials::Ambient,
        (_, Some(access_key_id), Some(secret_access_key)) => BucketCredentials::Keys {
            access_key_id,
            secret_access_key,
            session_token,
        },
        // Validation requires the pair; never use the service's own identity instead.
        _ => {
            return Err(Refused {
                kind: "authentication",
                message: "The connection has no access key pair.".to_owned(),
                hint: "Enter the access key id and the secret access key.".to_owned(),
            });
        }
    };
    Ok(BucketAccess {
        bucket: get("bucket").unwrap_or_default(),
        endpoint: get("endpoint"),
        region: get("region"),
        credentials,
    })
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
        ssh_host_key: None,
    }
}

/// The first rows of a table or of a query, read through the engine's reader. Queries
/// run in a read-only session, so a statement that slipped past [`check_select`] still
/// cannot change data.
pub async fn preview(
    state: &AppState,
    c: &Connection,
    target: &check::Connection,
    table: Option<&TableRef>,
    query: Option<&str>,
    limit: usize,
) -> Result<PreviewResponse, ApiError> {
    let result = match (table, query) {
        (Some(t), None) => {
            let schema = schema_or_default(c, t.schema.as_deref());
            let task = ProbeTask::PreviewTable {
                connection: target.clone(),
                schema,
                table: t.name.clone(),
                limit,
            };
            probe::<Preview>(state, task).await.map_err(upstream)?
        }
        (None, Some(q)) => {
            check_select(q).map_err(|m| ApiError::field("query", m))?;
            let task = ProbeTask::PreviewQuery {
                connection: target.clone(),
                query: q.to_owned(),
                limit,
            };
            probe::<Preview>(state, task).await.map_err(upstream)?
        }
        _ => return Err(ApiError::field("table", "give either a table or a query")),
    };
    Ok(preview_response(result))
}

/// Runs one probe in a worker; any failure as a check error the callers explain.
pub(crate) async fn probe<T: serde::de::DeserializeOwned>(
    state: &AppState,
    task: ProbeTask,
) -> Result<T, CheckError> {
    state
        .probes
        .run(task, TIMEOUT)
        .await
        .map_err(|e| e.into_check_error())
}

/// Schemas the connection's user may use.
pub async fn list_schemas(
    state: &AppState,
    target: &check::Connection,
) -> Result<Listing<String>, CheckError> {
    let connection = target.clone();
    probe(state, ProbeTask::ListSchemas { connection }).await
}

/// Tables of a schema.
pub async fn list_tables(
    state: &AppState,
    target: &check::Connection,
    schema: &str,
) -> Result<Listing<String>, CheckError> {
    let task = ProbeTask::ListTables {
        connection: target.clone(),
        schema: schema.to_owned(),
    };
    probe(state, task).await
}

/// Columns of a table; empty when it does not exist.
pub async fn list_columns(
    state: &AppState,
    target: &check::Connection,
    schema: &str,
    table: &str,
) -> Result<Listing<check::ColumnInfo>, CheckError> {
    let task = ProbeTask::ListColumns {
        connection: target.clone(),
        schema: schema.to_owned(),
        table: table.to_owned(),
    };
    probe(state, task).await
}

/// Primary key columns of a table.
pub async fn primary_key(
    state: &AppState,
    target: &check::Connection,
    schema: &str,
    table: &str,
) -> Result<Vec<String>, CheckError> {
    let task = ProbeTask::PrimaryKey {
        connection: target.clone(),
        schema: schema.to_owned(),
        table: table.to_owned(),
    };
    probe(state, task).await
}

/// One value of a query compared with an expected one.
pub async fn data_check(
    state: &AppState,
    target: &check::Connection,
    sql: &str,
    operator: CheckOperator,
    expected: &str,
    null_passes: bool,
) -> Result<check::DataCheckResult, CheckError> {
    let task = ProbeTask::DataCheck {
        connection: target.clone(),
        sql: sql.to_owned(),
        operator,
        expected: expected.to_owned(),
        null_passes,
    };
    probe(state, task).await
}

/// The first value of a query's first row, as text, asking the database for at most
/// `limit` characters of it (`None`: no row, or NULL); longer is refused.
pub async fn query_value(
    state: &AppState,
    target: &check::Connection,
    sql: &str,
    limit: usize,
) -> Result<Option<String>, CheckError> {
    let task = ProbeTask::QueryValue {
        connection: target.clone(),
        sql: sql.to_owned(),
        limit,
    };
    state
        .probes
        .run(task, target.timeout)
        .await
        .map_err(|e| e.into_check_error())
}

/// Where a file source's files are, for a probe: the organization's folder for files on
/// the server (the prefix is then relative to it: the connection's directory joined with
/// the request's prefix, refused here when it leaves the folder, on `path_prefix`), or the
/// bucket with credentials to read it. Answers the store and the prefix the engine takes.
pub async fn file_store(
    state: &AppState,
    c: &Connection,
    prefix: &str,
) -> Result<(check::FileStore, String), ApiError> {
    let plain = c.settings.as_object().cloned().unwrap_or_default();
    match c.kind {
        ConnectionKind::LocalFiles => {
            let (folder, path) = crate::services::local_files::resolve_prefix(
                state,
                c.organization_id,
                &plain,
                prefix,
            )?;
            Ok((check::FileStore::Folder { folder }, path))
        }
        ConnectionKind::S3 => {
            let secrets = decrypt_secrets(state, c)?;
            let bucket = bucket_access(state, c.organization_id, &plain, &secrets)
                .await
                .map_err(|refused| {
                    ApiError::Upstream(format!("{} {}", refused.message, refused.hint))
                })?;
            Ok((check::FileStore::Bucket { bucket }, prefix.to_owned()))
        }
        ConnectionKind::Postgresql
        | ConnectionKind::Mysql
        | ConnectionKind::Bigquery
        | ConnectionKind::Snowflake => Err(ApiError::BadRequest {
            message: "Only file connections (S3, files on the server) have files to list.".into(),
            field: None,
        }),
    }
}

/// A failure reading a file source, said of the storage.
pub fn files_upstream(c: &Connection, e: CheckError) -> ApiError {
    let at = match c.kind {
        ConnectionKind::S3 => "the bucket",
        _ => "the directory",
    };
    match e.kind {
        // What the files themselves say (no file matched, not a table, a bad pattern)
        // is the analyst's to fix in the request.
        ErrorKind::Other => ApiError::field("path_prefix", e.message),
        _ => {
            let (_, message, hint) = explain(&e, at);
            ApiError::Upstream(format!("{message} {hint}"))
        }
    }
}

/// Files of a file source.
pub async fn list_files(
    state: &AppState,
    store: check::FileStore,
    path_prefix: String,
    path_match_pattern: Option<String>,
) -> Result<Listing<check::FileEntry>, CheckError> {
    let task = ProbeTask::ListFiles {
        store,
        path_prefix,
        path_match_pattern,
        max: hakobu_engine::limits::FILE_LISTING_MAX_ENTRIES,
    };
    probe(state, task).await
}

/// The guess of a file source's first file (or of `file`), with a preview of `limit` rows.
pub async fn guess_files(
    state: &AppState,
    store: check::FileStore,
    path_prefix: String,
    path_match_pattern: Option<String>,
    file: Option<String>,
    limit: usize,
) -> Result<check::FileGuess, CheckError> {
    let task = ProbeTask::GuessFiles {
        store,
        path_prefix,
        path_match_pattern,
        file,
        limit,
        timeout: TIMEOUT,
    };
    probe(state, task).await
}

/// A preview of the engine's as the API answers it, with the truncation notice.
pub fn preview_response(result: Preview) -> PreviewResponse {
    let notice: Option<Text> = result.truncated.then(|| {
        MessageCode::PreviewTruncated
            .with("size", human_bytes(PREVIEW_MAX_BYTES))
            .with("value_size", human_bytes(PREVIEW_MAX_VALUE_BYTES))
            .into()
    });
    PreviewResponse {
        columns: result
            .columns
            .into_iter()
            .map(|(name, type_)| PreviewColumn { name, type_ })
            .collect(),
        rows: result.rows,
        truncated: result.truncated,
        code: notice.as_ref().and_then(Text::code),
        params: notice.as_ref().map(Text::params).unwrap_or_default(),
        message: notice.map(|t| t.english),
    }
}
