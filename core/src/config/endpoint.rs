//! Where a database is and how to sign in: [`DbEndpoint`], the one shape of a database
//! endpoint. The config's `in:`/`out:` sections, a saved connection, an import, a data
//! check and the engine's connectors all speak it; its `Debug` never shows the password.

use super::enums::TlsMode;
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
            .finish()
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
