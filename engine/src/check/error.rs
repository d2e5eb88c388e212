//! Why a check failed, in plain language: the driver's error (TLS, server codes, I/O) is
//! mapped to an [`ErrorKind`] an analyst can act on.

use crate::tls::{TlsFailure, TlsProblem};
use serde::{Deserialize, Serialize};

/// Why a connection failed, in words for the person who filled the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Nothing answers at host:port (wrong host, port, firewall, server down).
    HostUnreachable,
    /// The server rejected the user name or password.
    WrongPassword,
    /// The database does not exist on the server.
    DatabaseMissing,
    /// The user may connect but not read/write what was asked.
    PermissionDenied,
    /// The server only accepts encrypted connections.
    TlsRequired,
    /// TLS was asked for but the server accepts only unencrypted connections.
    TlsNotOffered,
    /// The server's certificate is not signed by a trusted authority (or has expired).
    CertificateNotTrusted,
    /// The server's certificate is trusted but names another host.
    HostNameMismatch,
    /// The server did not answer in time.
    Timeout,
    /// The address is one connections a tenant configures may not reach (the service's
    /// private network, its own database): the egress policy.
    NotAllowed,
    /// The bucket does not exist at the endpoint.
    BucketMissing,
    /// The directory does not exist or cannot be read.
    DirectoryMissing,
    /// The SSH bastion presented another host key than the pinned one (the error's
    /// `ssh_host_key` is the one it presented).
    SshHostKeyChanged,
    /// The SSH bastion did not accept the private key, or the key cannot be read.
    SshSignInRejected,
    /// Anything else (the message has the details).
    Other,
}

/// A failed check: the kind and the driver's message (which never contains the password).
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", kind.describe())]
pub struct CheckError {
    /// The plain-language category.
    pub kind: ErrorKind,
    /// The underlying detail.
    pub message: String,
    /// With [`ErrorKind::SshHostKeyChanged`]: the host key the bastion presented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_host_key: Option<hakobu_core::config::SshHostKey>,
}

impl ErrorKind {
    /// A sentence for the UI.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::HostUnreachable => {
                "cannot reach the server: check the host and port, and that the server allows connections from Hakobu"
            }
            ErrorKind::WrongPassword => "the server rejected the user name or password",
            ErrorKind::DatabaseMissing => "the database does not exist on this server",
            ErrorKind::PermissionDenied => "the user does not have permission for this",
            ErrorKind::TlsRequired => "the server requires an encrypted (SSL/TLS) connection",
            ErrorKind::TlsNotOffered => "the server does not offer TLS",
            ErrorKind::CertificateNotTrusted => "the server's certificate is not trusted",
            ErrorKind::HostNameMismatch => "the server's certificate is for another host name",
            ErrorKind::Timeout => "the server did not answer in time",
            ErrorKind::NotAllowed => "this address may not be reached from Hakobu",
            ErrorKind::BucketMissing => "the bucket does not exist",
            ErrorKind::DirectoryMissing => "the directory cannot be read",
            ErrorKind::SshHostKeyChanged => "the SSH bastion's host key is not the pinned one",
            ErrorKind::SshSignInRejected => "the SSH bastion did not accept the private key",
            ErrorKind::Other => "the server returned an error",
        }
    }
}

fn classify_egress(e: &anyhow::Error) -> Option<ErrorKind> {
    use crate::egress::EgressError;
    match e.chain().find_map(|c| c.downcast_ref::<EgressError>())? {
        EgressError::Refused(_) | EgressError::NotAHost { .. } => Some(ErrorKind::NotAllowed),
        EgressError::Unresolved { .. } => Some(ErrorKind::HostUnreachable),
    }
}

/// A missing or closed object the connectors already named (`connectors::sql::objects`).
fn classify_object(e: &anyhow::Error) -> Option<ErrorKind> {
    use crate::connectors::sql::objects::{ObjectError, Problem};
    let object = e.chain().find_map(|c| c.downcast_ref::<ObjectError>())?;
    Some(match object.problem {
        Problem::PermissionDenied => ErrorKind::PermissionDenied,
        Problem::Missing => ErrorKind::Other,
    })
}

fn classify_ssh(e: &anyhow::Error) -> Option<ErrorKind> {
    use crate::ssh::{HostKeyChanged, SshFailure};
    if e.chain()
        .any(|c| c.downcast_ref::<HostKeyChanged>().is_some())
    {
        return Some(ErrorKind::SshHostKeyChanged);
    }
    match e.chain().find_map(|c| c.downcast_ref::<SshFailure>())? {
        SshFailure::AuthRejected { .. } | SshFailure::BadKey(_) => {
            Some(ErrorKind::SshSignInRejected)
        }
        SshFailure::ForwardRefused { .. } => Some(ErrorKind::HostUnreachable),
    }
}

/// The host key a refused bastion presented, for the person who may accept it.
pub(super) fn changed_host_key(e: &anyhow::Error) -> Option<hakobu_core::config::SshHostKey> {
    e.chain()
        .find_map(|c| c.downcast_ref::<crate::ssh::HostKeyChanged>())
        .map(|c| c.seen.clone())
}

fn classify_tls(e: &anyhow::Error) -> Option<ErrorKind> {
    let failure = e.chain().find_map(|c| c.downcast_ref::<TlsFailure>())?;
    Some(match failure.problem {
        TlsProblem::NotOffered => ErrorKind::TlsNotOffered,
        TlsProblem::NotTrusted | TlsProblem::Expired => ErrorKind::CertificateNotTrusted,
        TlsProblem::HostMismatch { .. } => ErrorKind::HostNameMismatch,
    })
}

pub(super) fn classify_pg(e: &anyhow::Error) -> ErrorKind {
    use tokio_postgres::error::SqlState;
    if let Some(kind) = classify_egress(e)
        .or_else(|| classify_ssh(e))
        .or_else(|| classify_tls(e))
        .or_else(|| classify_object(e))
    {
        return kind;
    }
    for cause in e.chain() {
        if let Some(pg) = cause.downcast_ref::<tokio_postgres::Error>()
            && let Some(code) = pg.code()
        {
            // The server's own words: `Display` of the error says only "db error".
            let msg = pg
                .as_db_error()
                .map_or_else(|| pg.to_string(), |db| db.message().to_owned());
            return match *code {
                SqlState::INVALID_PASSWORD => ErrorKind::WrongPassword,
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                    if msg.contains("SSL off") || msg.contains("no encryption") =>
                {
                    ErrorKind::TlsRequired
                }
                SqlState::INVALID_AUTHORIZATION_SPECIFICATION => ErrorKind::WrongPassword,
                SqlState::INVALID_CATALOG_NAME => ErrorKind::DatabaseMissing,
                SqlState::INSUFFICIENT_PRIVILEGE => ErrorKind::PermissionDenied,
                SqlState::QUERY_CANCELED => ErrorKind::Timeout,
                _ => ErrorKind::Other,
            };
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io_kind(io);
        }
    }
    let text = format!("{e:#}");
    if text.contains("error connecting to server") || text.contains("failed to lookup address") {
        ErrorKind::HostUnreachable
    } else if text.contains("timeout") || text.contains("timed out") {
        ErrorKind::Timeout
    } else {
        ErrorKind::Other
    }
}

fn io_kind(io: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match io.kind() {
        K::TimedOut => ErrorKind::Timeout,
        _ => ErrorKind::HostUnreachable,
    }
}

pub(super) fn classify_my(e: &anyhow::Error) -> ErrorKind {
    if let Some(kind) = classify_egress(e)
        .or_else(|| classify_ssh(e))
        .or_else(|| classify_tls(e))
        .or_else(|| classify_object(e))
    {
        return kind;
    }
    for cause in e.chain() {
        if let Some(my) = cause.downcast_ref::<mysql_async::Error>() {
            return match my {
                mysql_async::Error::Server(s) => match s.code {
                    1045 | 1698 => ErrorKind::WrongPassword,
                    1049 => ErrorKind::DatabaseMissing,
                    1044 | 1142 | 1143 | 1227 => ErrorKind::PermissionDenied,
                    3159 => ErrorKind::TlsRequired,
                    1317 | 3024 => ErrorKind::Timeout,
                    _ if s.message.contains("secure transport") => ErrorKind::TlsRequired,
                    _ => ErrorKind::Other,
                },
                mysql_async::Error::Io(_) => ErrorKind::HostUnreachable,
                _ => ErrorKind::Other,
            };
        }
    }
    if format!("{e:#}").contains("timed out") {
        ErrorKind::Timeout
    } else {
        ErrorKind::Other
    }
}

/// A failure of an HTTP API (a data warehouse): the egress policy's refusal, a server that
/// cannot be reached or does not answer, a refused sign-in, or what the API said. Told by
/// the errors' types (reqwest's kinds, the connectors' [`ServerRefusal`]), never their text.
///
/// [`ServerRefusal`]: crate::egress::http::ServerRefusal
pub(super) fn classify_http(e: &anyhow::Error) -> ErrorKind {
    use crate::egress::http::ServerRefusal;
    if let Some(kind) = classify_egress(e) {
        return kind;
    }
    if let Some(r) = e.chain().find_map(|c| c.downcast_ref::<reqwest::Error>()) {
        if r.is_timeout() {
            return ErrorKind::Timeout;
        }
        if r.is_connect() {
            return ErrorKind::HostUnreachable;
        }
    }
    // BigQuery's and the token endpoint's refusals carry their status, a token endpoint's
    // `invalid_grant` and Snowflake's refused sign-in say it was the credentials.
    if let Some(refusal) = e.chain().find_map(|c| c.downcast_ref::<ServerRefusal>())
        && (refusal.credentials || matches!(refusal.status, Some(401 | 403)))
    {
        return ErrorKind::WrongPassword;
    }
    ErrorKind::Other
}
