//! `sql:`: a data mart's "run the statements" document, and [`RunnerConfig`], what a
//! runner runs (a transfer or statements).
//!
//! A data mart that writes a query's result is an ordinary transfer ([`super::Config`])
//! whose source and destination are the same database; one that runs statements (DDL,
//! DML) has no rows to carry, so it is its own small document:
//!
//! ```yaml
//! sql:
//!   type: postgresql
//!   host: db.example.com
//!   user: analyst
//!   database: mart
//!   statements: |
//!     DELETE FROM daily WHERE day = '2026-12-01';
//!     INSERT INTO daily SELECT ...;
//! ```
//!
//! PostgreSQL runs them in one transaction; MySQL too, except that its DDL (`CREATE`,
//! `DROP`, `ALTER`, `TRUNCATE`, ...) commits implicitly, so statements after DDL cannot
//! roll back what came before (`docs/data-marts.md`).

use super::driver_options::driver_options;
use super::endpoint::{DbEndpoint, DbKind, SshTunnel};
use super::jdbc::resolve_tls;
use super::{Config, ConfigError, ConfigNotice, Secret, TlsMode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A data mart's statements and the database they run on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementsConfig {
    /// The database (`type: postgresql | mysql`) and the SQL.
    pub sql: StatementsSection,
}

/// The database of a [`StatementsConfig`], tagged by `type:`.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementsSection {
    /// `type: postgresql`
    Postgresql(JdbcStatements),
    /// `type: mysql` (MySQL and MariaDB)
    Mysql(JdbcStatements),
}

/// Where the statements run, and what they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JdbcStatements {
    /// Server host name or IP address.
    pub host: String,
    /// Server port. Default: 5432 for PostgreSQL, 3306 for MySQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Login user.
    pub user: String,
    /// Login password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Database name.
    pub database: String,
    /// The session's `search_path` (PostgreSQL): where unqualified names are found.
    /// Default: the server's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Embulk's switch: `true` encrypts without checking the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<bool>,
    /// Encryption: `disable`, `prefer`, `require`, `verify-ca` or `verify-full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<TlsMode>,
    /// The authority that signed the server's certificate (PEM text or a file's path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_ca_certificate: Option<String>,
    /// JDBC driver properties (TLS switches are mapped; the rest are logged as ignored).
    #[serde(
        default,
        deserialize_with = "super::driver_options::scalar_options",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub options: BTreeMap<String, String>,
    /// An SSH bastion the database is reached through (as in `in:` / `out:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshTunnel>,
    /// The SQL statements, separated by `;`, run in order in one session.
    pub statements: String,
}

impl StatementsSection {
    /// Which server, and its section.
    pub fn parts(&self) -> (DbKind, &JdbcStatements) {
        match self {
            StatementsSection::Postgresql(s) => (DbKind::Postgresql, s),
            StatementsSection::Mysql(s) => (DbKind::Mysql, s),
        }
    }
}

impl JdbcStatements {
    /// The database these statements run on.
    pub fn endpoint(&self, kind: DbKind) -> Result<DbEndpoint, ConfigError> {
        Ok(DbEndpoint {
            kind,
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            password: self.password.as_ref().map(|p| p.expose().to_owned()),
            database: self.database.clone(),
            tls: resolve_tls(
                self.ssl,
                self.ssl_mode,
                &self.ssl_ca_certificate,
                &self.options,
            )?,
            ssh: self.ssh.clone(),
        })
    }
}

impl StatementsConfig {
    /// Cross-field rules serde cannot express; the notices of the driver options.
    fn validate(&self) -> Result<Vec<ConfigNotice>, ConfigError> {
        let (kind, s) = self.sql.parts();
        s.endpoint(kind).map_err(|e| e.prefixed("sql"))?;
        if let Some(ssh) = &s.ssh {
            ssh.validate()
                .map_err(|e| ConfigError::new(format!("sql.ssh.{}", e.path), e.message))?;
        }
        if s.statements.trim().is_empty() {
            return Err(ConfigError::new("sql.statements", "must not be empty"));
        }
        Ok(driver_options(kind, false, &s.options, "sql")?.notices)
    }
}

/// What a runner runs: a transfer (`in:` / `out:`) or a data mart's statements (`sql:`).
// One value per run: the size of the smaller variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum RunnerConfig {
    /// Rows from a source to a destination (a data mart writing a query's result too).
    Transfer(Config),
    /// SQL statements run on one database.
    Statements(StatementsConfig),
}

impl RunnerConfig {
    /// Parses either document: one with a top-level `sql:` is statements, any other a
    /// transfer (with `diff` merged over it, see [`Config::from_yaml_with_notices`]).
    pub fn from_yaml_with_notices(
        yaml: &str,
        diff: Option<&str>,
    ) -> Result<(RunnerConfig, Vec<ConfigNotice>), ConfigError> {
        let value: serde_json::Value = serde_norway::from_str(yaml)
            .map_err(|e| ConfigError::new("", format!("not valid YAML: {e}")))?;
        if value.get("sql").is_none() {
            let (config, notices) = Config::from_yaml_with_notices(yaml, diff)?;
            return Ok((RunnerConfig::Transfer(config), notices));
        }
        let config: StatementsConfig =
            serde_path_to_error::deserialize(value).map_err(ConfigError::from_path_error)?;
        let notices = config.validate()?;
        Ok((RunnerConfig::Statements(config), notices))
    }

    /// Parses either document (see [`RunnerConfig::from_yaml_with_notices`]).
    pub fn from_yaml(yaml: &str) -> Result<RunnerConfig, ConfigError> {
        Self::from_yaml_with_notices(yaml, None).map(|(c, _)| c)
    }

    /// The YAML users see; [`RunnerConfig::from_yaml`] reads it back to an equal value.
    pub fn to_yaml(&self) -> String {
        match self {
            RunnerConfig::Transfer(c) => c.to_yaml(),
            RunnerConfig::Statements(s) => {
                serde_norway::to_string(s).expect("a StatementsConfig always serializes")
            }
        }
    }

    /// Every password and key, in clear: what a runner masks in the lines it sends.
    pub fn secret_values(&self) -> Vec<&str> {
        match self {
            RunnerConfig::Transfer(c) => c.secret_values(),
            RunnerConfig::Statements(s) => {
                let (_, section) = s.sql.parts();
                section
                    .password
                    .iter()
                    .chain(section.ssh.iter().flat_map(|s| s.secrets()))
                    .map(Secret::expose)
                    .filter(|v| !v.is_empty())
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PG: &str = "sql:\n  type: postgresql\n  host: db\n  user: u\n  password: pw\n  database: d\n  statements: |\n    CREATE TABLE t (x int);\n    INSERT INTO t VALUES (1);\n";

    #[test]
    fn a_sql_document_is_statements_and_round_trips() {
        let config = RunnerConfig::from_yaml(PG).unwrap();
        let RunnerConfig::Statements(s) = &config else {
            panic!("not statements: {config:?}");
        };
        assert_eq!(s.sql.parts().0, DbKind::Postgresql);
        assert_eq!(RunnerConfig::from_yaml(&config.to_yaml()).unwrap(), config);
        assert_eq!(config.secret_values(), vec!["pw"]);
    }

    #[test]
    fn empty_statements_and_unknown_keys_name_the_field() {
        let empty = PG.replace(
            "statements: |\n    CREATE TABLE t (x int);\n    INSERT INTO t VALUES (1);\n",
            "statements: ' '\n",
        );
        let e = RunnerConfig::from_yaml(&empty).unwrap_err();
        assert_eq!(e.path, "sql.statements");
        let typo = PG.replace("database: d", "database: d\n  statement: x");
        let e = RunnerConfig::from_yaml(&typo).unwrap_err();
        assert!(e.to_string().contains("statement"), "{e}");
    }

    #[test]
    fn a_transfer_document_stays_a_transfer() {
        let yaml = "in:\n  type: postgresql\n  host: h\n  user: u\n  database: d\n  query: SELECT 1\nout:\n  type: postgresql\n  host: h\n  user: u\n  database: d\n  table: t\n  mode: delete_insert\n  delete_where: \"day = '2026-12-01'\"\n";
        let config = RunnerConfig::from_yaml(yaml).unwrap();
        assert!(matches!(config, RunnerConfig::Transfer(_)));
        assert_eq!(RunnerConfig::from_yaml(&config.to_yaml()).unwrap(), config);
    }
}
