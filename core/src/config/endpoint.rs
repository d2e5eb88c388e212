//! Where a database is and how to sign in: [`DbEndpoint`], the one shape of a database
//! endpoint. The config's `in:`/`out:` sections, a saved connection, an import, a data
//! check and the engine's connectors all speak it; its `Debug` never shows the password.
//! [`SshTunnel`] is the bastion a database may be reached through.

use super::enums::TlsMode;
use super::{ConfigError, Secret};
use serde::{Deserialize, Serialize};

/// Database servers Hakobu connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbKind {
    /// PostgreSQL
    Postgresql,
    /// MySQL or MariaDB
    Mysql,
}

impl DbKind {
    /// The server's port when none is given.
    pub fn default_port(self) -> u16 {
        match self {
            DbKind::Postgresql => 5432,
            DbKind::Mysql => 3306,
        }
    }
}

/// A database endpoint: server, address, login and encryption.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbEndpoint {
    /// Which server.
    pub kind: DbKind,
    /// Host name or address.
    pub host: String,
    /// Port; the server's default ([`DbKind::default_port`]) when `None`.
    pub port: Option<u16>,
    /// Login user.
    pub user: String,
    /// Login password.
    pub password: Option<String>,
    /// Database name.
    pub database: String,
    /// Encryption.
    pub tls: Tls,
    /// The SSH bastion the database is reached through, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshTunnel>,
}

impl DbEndpoint {
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(self.kind.default_port())
    }
}

// The password never reaches a log line or an error.
impl std::fmt::Debug for DbEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbEndpoint")
            .field("kind", &self.kind)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("tls", &self.tls)
            .field("ssh", &self.ssh)
            .finish()
    }
}

/// An SSH bastion (jump host) a database is reached through: the engine signs in to it
/// with a private key and asks it to open a TCP connection to the database's `host` and
/// `port`, which the bastion resolves and reaches on its own network. The egress policy
/// checks the bastion's address, not the database's. `Debug` never shows the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshTunnel {
    /// The bastion's host name or IP address.
    pub host: String,
    /// The bastion's SSH port. Default: 22.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// The user to sign in to the bastion as.
    pub user: String,
    /// The private key to sign in with: ed25519 or RSA, as the text of an OpenSSH
    /// (`-----BEGIN OPENSSH PRIVATE KEY-----`) or PEM key file.
    pub private_key: Secret,
    /// The passphrase of an encrypted private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_passphrase: Option<Secret>,
    /// The bastion's host key fingerprint as `ssh-keygen -l` prints it, e.g.
    /// `SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s`. A bastion that presents
    /// another key is refused. Default: none, and the key first seen is trusted and
    /// printed, to be copied here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_key_fingerprint: Option<String>,
}

impl SshTunnel {
    /// The key and its passphrase: what a runner masks in the lines it sends.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        std::iter::once(&self.private_key).chain(self.private_key_passphrase.iter())
    }

    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(22)
    }

    /// Checks the fields; paths are relative to the `ssh:` section.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let host = self.host.trim();
        if host.is_empty() || host.contains(['/', '\\']) || host.contains(char::is_whitespace) {
            return Err(ConfigError::new(
                "host",
                "must be the bastion's host name or IP address, e.g. bastion.example.com",
            ));
        }
        if self.port == Some(0) {
            return Err(ConfigError::new("port", "must be from 1 to 65535"));
        }
        if self.user.trim().is_empty() {
            return Err(ConfigError::new("user", "must not be empty"));
        }
        // The key's text is checked when it is parsed, at connect: a compiled job carries
        // an `{{ env.* }}` reference in its place until the runner gets the value.
        if self.private_key.expose().trim().is_empty() {
            return Err(ConfigError::new(
                "private_key",
                "is required: the text of a private key file, from -----BEGIN OPENSSH PRIVATE KEY----- (or -----BEGIN RSA PRIVATE KEY-----) to its END line",
            ));
        }
        if let Some(f) = &self.host_key_fingerprint {
            check_fingerprint(f).map_err(|m| ConfigError::new("host_key_fingerprint", m))?;
        }
        Ok(())
    }
}

/// An SSH server's host key as `ssh-keygen -l` shows it: what a connection test saw, and
/// what a changed key is reported as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SshHostKey {
    /// The key's algorithm, e.g. `ssh-ed25519` or `ssh-rsa`.
    pub algorithm: String,
    /// `SHA256:` and the unpadded base64 of the key's SHA-256 digest.
    pub fingerprint: String,
}

impl std::fmt::Display for SshHostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.fingerprint, self.algorithm)
    }
}

/// Checks the shape of a `SHA256:` host key fingerprint as `ssh-keygen -l` prints it
/// (43 characters of unpadded base64 after the prefix).
pub fn check_fingerprint(f: &str) -> Result<(), String> {
    let ok = f.strip_prefix("SHA256:").is_some_and(|b64| {
        b64.len() == 43
            && b64
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "must be a SHA256 fingerprint as ssh-keygen -l prints it, e.g. SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s; got {f:?}"
        ))
    }
}

/// How to encrypt a database connection, resolved from `ssl`, `ssl_mode`,
/// `ssl_ca_certificate` and the JDBC `options`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tls {
    /// The mode.
    pub mode: TlsMode,
    /// PEM text (or a PEM file's path) of the authority to trust instead of the public ones.
    pub ca_certificate: Option<String>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("mode", &self.mode)
            .field(
                "ca_certificate",
                &self.ca_certificate.as_ref().map(|_| ".."),
            )
            .finish()
    }
}

impl Default for Tls {
    fn default() -> Self {
        Tls::disabled()
    }
}

impl Tls {
    /// No encryption.
    pub fn disabled() -> Self {
        Tls {
            mode: TlsMode::Disable,
            ca_certificate: None,
        }
    }

    /// From a connection form: `tls_mode` and an optional CA certificate (ignored by the
    /// modes that do not verify). An unknown mode is an error naming the choices.
    pub fn from_form(mode: &str, ca_certificate: Option<String>) -> Result<Self, String> {
        let mode: TlsMode = mode.parse()?;
        Ok(Tls {
            mode,
            ca_certificate: ca_certificate.filter(|c| mode.verifies() && !c.trim().is_empty()),
        })
    }
}
