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
//!
//! On a data warehouse (`type: bigquery | snowflake`) the data stays where it is: a data
//! mart that writes a query's result is not a transfer but a `write:` in this document,
//! which the warehouse runs as SQL on its own tables:
//!
//! ```yaml
//! sql:
//!   type: bigquery
//!   project: my-project
//!   dataset: mart
//!   json_keyfile: "{...}"
//!   write:
//!     query: SELECT day, count(*) AS orders FROM shop.orders GROUP BY day
//!     table: daily_orders
//!     mode: merge
//!     merge_keys: [day]
//! ```

use super::driver_options::driver_options;
use super::endpoint::{DbEndpoint, DbKind, SshTunnel};
use super::jdbc::resolve_tls;
use super::{
    BigqueryOutput, Config, ConfigError, ConfigNotice, Mode, Secret, SnowflakeOutput, TlsMode,
};
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
    /// `type: bigquery`
    Bigquery(BigqueryStatements),
    /// `type: snowflake`
    Snowflake(SnowflakeStatements),
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
    /// Which database server, and its section; `None` for a data warehouse.
    pub fn database(&self) -> Option<(DbKind, &JdbcStatements)> {
        match self {
            StatementsSection::Postgresql(s) => Some((DbKind::Postgresql, s)),
            StatementsSection::Mysql(s) => Some((DbKind::Mysql, s)),
            StatementsSection::Bigquery(_) | StatementsSection::Snowflake(_) => None,
        }
    }
}

/// The modes a data mart's query result is written into a warehouse table with (the
/// data mart modes of databases: `docs/data-marts.md`).
pub const WAREHOUSE_WRITE_MODES: &[Mode] =
    &[Mode::Insert, Mode::Replace, Mode::DeleteInsert, Mode::Merge];

/// What a data mart does on a data warehouse: its statements, or a query's result
/// written into a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarehouseWrite {
    /// The SELECT (or WITH) query whose result is written.
    pub query: String,
    /// The target table, in the section's dataset (BigQuery) or schema (Snowflake).
    pub table: String,
    /// `insert` (append), `replace`, `delete_insert` or `merge`. Default: `insert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// The columns that identify a row: required by `merge`, and by `delete_insert`
    /// without `delete_where` (the target's rows whose keys the result holds are deleted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_keys: Vec<String>,
    /// `delete_insert` by condition: the target's rows this SQL condition holds for are
    /// deleted before the result is inserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_where: Option<String>,
}

impl WarehouseWrite {
    /// The mode, `insert` when none is given.
    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Insert)
    }

    /// Checks the fields; paths are relative to `sql.write`.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.query.trim().is_empty() {
            return Err(ConfigError::new("query", "must not be empty"));
        }
        if self.table.trim().is_empty() {
            return Err(ConfigError::new("table", "must not be empty"));
        }
        let mode = self.mode();
        if !WAREHOUSE_WRITE_MODES.contains(&mode) {
            return Err(ConfigError::new(
                "mode",
                format!(
                    "{mode} is not a data mart mode; expected one of {}",
                    WAREHOUSE_WRITE_MODES
                        .iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let condition = self
            .delete_where
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty());
        match mode {
            Mode::Merge if self.merge_keys.is_empty() => Err(ConfigError::new(
                "merge_keys",
                "is required for mode merge: the columns that identify a row (a warehouse enforces no primary key to merge on)",
            )),
            Mode::DeleteInsert if self.merge_keys.is_empty() != condition => Err(ConfigError::new(
                "merge_keys",
                "delete_insert needs either merge_keys (rows with the result's keys are deleted) or delete_where (rows matching the condition are deleted), not both",
            )),
            Mode::DeleteInsert | Mode::Merge => Ok(()),
            _ if condition || !self.merge_keys.is_empty() => Err(ConfigError::new(
                "merge_keys",
                format!(
                    "keys and a delete condition only apply to delete_insert and merge, not {mode}"
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// Checks that a warehouse section has exactly one of `statements` and `write`.
fn check_one_task(
    statements: &Option<String>,
    write: &Option<WarehouseWrite>,
) -> Result<(), ConfigError> {
    match (statements, write) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            "sql.write",
            "give either statements or a write, not both",
        )),
        (None, None) => Err(ConfigError::new(
            "sql.statements",
            "is required (or write: a query's result written into a table)",
        )),
        (Some(s), None) if s.trim().is_empty() => {
            Err(ConfigError::new("sql.statements", "must not be empty"))
        }
        (Some(_), None) => Ok(()),
        (None, Some(w)) => w.validate().map_err(|e| e.prefixed("sql.write")),
    }
}

/// BigQuery: where the SQL runs (a project, its default dataset) and how to sign in,
/// with `out: {type: bigquery}`'s names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BigqueryStatements {
    /// The Google Cloud project that runs the jobs.
    pub project: String,
    /// The dataset unqualified table names are in, and `write.table`'s.
    pub dataset: String,
    /// `service_account` (default; alias `json_key`) or `access_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    /// The service account's JSON key, its content (not a path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_keyfile: Option<Secret>,
    /// An OAuth access token, for `auth_method: access_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<Secret>,
    /// Where the jobs run (`US`, `EU`, `asia-northeast1`...). Default: the dataset's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The API's base URL. Default: `https://bigquery.googleapis.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The statements, run as one BigQuery script (`BEGIN TRANSACTION` ... `COMMIT
    /// TRANSACTION` inside it makes DML all-or-nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statements: Option<String>,
    /// A query's result written into a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<WarehouseWrite>,
}

/// The table a connection-only section names where the output type needs one.
const NO_TABLE: &str = "hakobu_statements";

impl BigqueryStatements {
    /// The section as the BigQuery client's settings (an output section whose table is
    /// `write.table`).
    pub fn output(&self) -> BigqueryOutput {
        BigqueryOutput {
            project: self.project.clone(),
            dataset: self.dataset.clone(),
            table: self
                .write
                .as_ref()
                .map_or(NO_TABLE.to_owned(), |w| w.table.clone()),
            mode: None,
            merge_keys: Vec::new(),
            auth_method: self.auth_method.clone(),
            json_keyfile: self.json_keyfile.clone(),
            access_token: self.access_token.clone(),
            location: self.location.clone(),
            source_format: None,
            auto_create_table: None,
            time_partitioning: None,
            clustering: None,
            column_options: Vec::new(),
            endpoint: self.endpoint.clone(),
        }
    }
}

/// Snowflake: where the SQL runs and how to sign in, with `out: {type: snowflake}`'s
/// names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnowflakeStatements {
    /// The account identifier, e.g. `myorg-myaccount`. One of `account` and `host` is
    /// required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The account's host name. Default: `<account>.snowflakecomputing.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// A full URL to reach Snowflake at instead of `https://<host>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The user to sign in as.
    pub user: String,
    /// The user's password. One of `password` and `private_key` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Key-pair sign-in: the PEM text of the user's unencrypted RSA private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<Secret>,
    /// The virtual warehouse that runs the SQL. Default: the user's default warehouse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    /// The role to run as. Default: the user's default role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The session's database.
    pub database: String,
    /// The session's schema, and `write.table`'s. Default: `PUBLIC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The statements, run in order in one session and one transaction (Snowflake's DDL
    /// commits by itself, as MySQL's does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statements: Option<String>,
    /// A query's result written into a table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<WarehouseWrite>,
}

impl SnowflakeStatements {
    /// The section as the Snowflake session's settings (an output section whose table is
    /// `write.table`).
    pub fn output(&self) -> SnowflakeOutput {
        SnowflakeOutput {
            account: self.account.clone(),
            host: self.host.clone(),
            endpoint: self.endpoint.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
            private_key: self.private_key.clone(),
            warehouse: self.warehouse.clone(),
            role: self.role.clone(),
            database: self.database.clone(),
            schema: self.schema.clone(),
            table: self
                .write
                .as_ref()
                .map_or(NO_TABLE.to_owned(), |w| w.table.clone()),
            mode: None,
            merge_keys: Vec::new(),
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
    /// Whether this writes a query's result into a table (a warehouse's `write:`) rather
    /// than running statements.
    pub fn writes_a_query(&self) -> bool {
        match &self.sql {
            StatementsSection::Bigquery(b) => b.write.is_some(),
            StatementsSection::Snowflake(f) => f.write.is_some(),
            StatementsSection::Postgresql(_) | StatementsSection::Mysql(_) => false,
        }
    }

    /// Cross-field rules serde cannot express; the notices of the driver options.
    fn validate(&self) -> Result<Vec<ConfigNotice>, ConfigError> {
        let (kind, s) = match &self.sql {
            StatementsSection::Bigquery(b) => {
                b.output().validate().map_err(|e| e.prefixed("sql"))?;
                check_one_task(&b.statements, &b.write)?;
                return Ok(Vec::new());
            }
            StatementsSection::Snowflake(f) => {
                f.output().validate().map_err(|e| e.prefixed("sql"))?;
                check_one_task(&f.statements, &f.write)?;
                return Ok(Vec::new());
            }
            StatementsSection::Postgresql(s) => (DbKind::Postgresql, s),
            StatementsSection::Mysql(s) => (DbKind::Mysql, s),
        };
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
                let secrets: Vec<&Secret> = match &s.sql {
                    StatementsSection::Postgresql(section) | StatementsSection::Mysql(section) => {
                        section
                            .password
                            .iter()
                            .chain(section.ssh.iter().flat_map(|s| s.secrets()))
                            .collect()
                    }
                    StatementsSection::Bigquery(b) => {
                        b.json_keyfile.iter().chain(b.access_token.iter()).collect()
                    }
                    StatementsSection::Snowflake(f) => {
                        f.password.iter().chain(f.private_key.iter()).collect()
                    }
                };
                secrets
                    .into_iter()
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
        assert_eq!(s.sql.database().unwrap().0, DbKind::Postgresql);
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

    const SNOWFLAKE: &str =
        "sql:\n  type: snowflake\n  account: acct\n  user: u\n  password: pw\n  database: DB\n";

    #[test]
    fn a_warehouse_document_has_statements_or_a_write_and_names_what_is_wrong() {
        let write = format!(
            "{SNOWFLAKE}  write:\n    query: SELECT 1 AS ID\n    table: T\n    mode: delete_insert\n    merge_keys: [ID]\n"
        );
        let config = RunnerConfig::from_yaml(&write).unwrap();
        let RunnerConfig::Statements(s) = &config else {
            panic!("{config:?}")
        };
        assert!(s.writes_a_query());
        assert_eq!(s.sql.type_name(), "snowflake");
        assert_eq!(RunnerConfig::from_yaml(&config.to_yaml()).unwrap(), config);
        assert_eq!(config.secret_values(), vec!["pw"]);
        let cases = [
            (SNOWFLAKE.to_owned(), "sql.statements"),
            (
                format!("{SNOWFLAKE}  statements: DELETE FROM T\n  write:\n    query: SELECT 1\n    table: T\n"),
                "sql.write",
            ),
            (
                format!("{SNOWFLAKE}  write:\n    query: SELECT 1\n    table: T\n    mode: merge\n"),
                "sql.write.merge_keys",
            ),
            (
                format!("{SNOWFLAKE}  write:\n    query: SELECT 1\n    table: T\n    mode: delete_insert\n"),
                "sql.write.merge_keys",
            ),
            (
                format!("{SNOWFLAKE}  write:\n    query: SELECT 1\n    table: T\n    mode: truncate_insert\n"),
                "sql.write.mode",
            ),
            (
                "sql:\n  type: snowflake\n  account: acct\n  user: u\n  database: DB\n  statements: SELECT 1\n".to_owned(),
                "sql.password",
            ),
        ];
        for (yaml, path) in cases {
            let e = RunnerConfig::from_yaml(&yaml).unwrap_err();
            assert_eq!(e.path, path, "{yaml}: {e}");
        }
        let typo = format!(
            "{SNOWFLAKE}  write:\n    query: SELECT 1\n    table: T\n    merge_key: [ID]\n"
        );
        let e = RunnerConfig::from_yaml(&typo).unwrap_err();
        assert!(e.to_string().contains("merge_key"), "{e}");
    }

    #[test]
    fn a_transfer_document_stays_a_transfer() {
        let yaml = "in:\n  type: postgresql\n  host: h\n  user: u\n  database: d\n  query: SELECT 1\nout:\n  type: postgresql\n  host: h\n  user: u\n  database: d\n  table: t\n  mode: delete_insert\n  delete_where: \"day = '2026-12-01'\"\n";
        let config = RunnerConfig::from_yaml(yaml).unwrap();
        assert!(matches!(config, RunnerConfig::Transfer(_)));
        assert_eq!(RunnerConfig::from_yaml(&config.to_yaml()).unwrap(), config);
    }
}
