//! `in:` / `out:` of `type: postgresql` and `type: mysql` (embulk-input-jdbc / -output-jdbc).

use super::driver_options::{DriverOptions, driver_options};
use super::endpoint::{DbEndpoint, DbKind, SshTunnel, Tls};
use super::{ColumnType, ConfigError, Mode, Secret, TlsMode, ValueType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A database source: a table (with `select` / `where` / `order_by`) or a `query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JdbcInput {
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
    /// Schema of `table` (PostgreSQL). Default: `public`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Embulk's switch: `true` encrypts without checking the certificate (`ssl_mode:
    /// require`). Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<bool>,
    /// Encryption: `disable`, `prefer`, `require`, `verify-ca` or `verify-full`. Default:
    /// from `ssl`, else the JDBC option `sslmode` / `sslMode`, else `disable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<TlsMode>,
    /// The authority that signed the server's certificate, as PEM text or the path of a
    /// PEM file (`verify-ca`, `verify-full`). Default: the public web authorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_ca_certificate: Option<String>,
    /// An SSH bastion to reach the database through (its `host` is then resolved and
    /// reached by the bastion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshTunnel>,
    /// Table to read. Exactly one of `table` and `query` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// The select list for `table`, as SQL. Default: `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<String>,
    /// A SQL condition for `table`.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub where_: Option<String>,
    /// A SQL ORDER BY expression for `table` (not allowed with `incremental`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    /// A complete SQL query to read instead of `table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Embulk's rows per round trip (JDBC `setFetchSize`; MySQL's `-1` and `1` too).
    /// Accepted for compatibility and not used: Hakobu's readers never fetch in rounds.
    /// PostgreSQL is read by one `COPY ... TO STDOUT` and MySQL by one unbuffered
    /// text-protocol query, both streamed as the server sends them and cut into batches of
    /// 8192 rows, so memory does not grow with the result whatever this says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch_rows: Option<i32>,
    /// Seconds to wait for a connection. Default: 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<u64>,
    /// Seconds a read may wait for the server's next data (including its first rows)
    /// before the run fails. Default: 1800.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_timeout: Option<u64>,
    /// Per-column overrides of how values are read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub column_options: BTreeMap<String, InputColumnOption>,
    /// Read only rows after `last_record`, ordered by `incremental_columns`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<bool>,
    /// Cursor columns of an incremental load. Default: the primary key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incremental_columns: Vec<String>,
    /// The cursor values of the last row loaded, one per incremental column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_record: Option<Vec<serde_json::Value>>,
    /// With `query` and `incremental`: the query already contains the WHERE with
    /// `:column` placeholders for `last_record` values, and the ORDER BY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_raw_query_with_incremental: Option<bool>,
    /// SQL run once before anything else, in its own transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_setup: Option<String>,
    /// SQL run in the reading session before the select.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_select: Option<String>,
    /// SQL run in the reading session after all rows were read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_select: Option<String>,
    /// Zone of timestamp columns without a zone. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_timezone: Option<String>,
    /// JDBC driver properties, any scalar (read as text): the ones that change what a
    /// run does are mapped (TLS, time-outs, `serverTimezone`, `zeroDateTimeBehavior`;
    /// see `driver_options`), every other one is logged as ignored.
    #[serde(
        default,
        deserialize_with = "super::driver_options::scalar_options",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub options: BTreeMap<String, String>,
}

/// How one source column is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputColumnOption {
    /// How the column is read (Embulk's `coalesce`, `long`, `float`, `double`, `decimal`,
    /// `boolean`, `string`, `json`, `date`, `time`, `timestamp`): converted in the select
    /// list (PostgreSQL `::text`, MySQL `CAST(.. AS CHAR)`, ...) and read as that kind.
    /// It is also the pipeline type unless `type` is given, which then converts the value
    /// read. Default: `coalesce`, the column's own type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<ValueType>,
    /// The column type in the pipeline.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ColumnType>,
    /// With `type: string`: the strftime format a timestamp is written in (in `timezone`,
    /// else `default_timezone`), e.g. `%Y/%m/%d %H:%M:%S`. Default: the server's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_format: Option<String>,
    /// Zone for `timestamp_format` and for timestamps without a zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// A database destination with one of Embulk's load modes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JdbcOutput {
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
    /// Schema of `table` (PostgreSQL). Default: `public`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Embulk's switch: `true` encrypts without checking the certificate (`ssl_mode:
    /// require`). Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<bool>,
    /// Encryption: `disable`, `prefer`, `require`, `verify-ca` or `verify-full`. Default:
    /// from `ssl`, else the JDBC option `sslmode` / `sslMode`, else `disable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<TlsMode>,
    /// The authority that signed the server's certificate, as PEM text or the path of a
    /// PEM file (`verify-ca`, `verify-full`). Default: the public web authorities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_ca_certificate: Option<String>,
    /// An SSH bastion to reach the database through (its `host` is then resolved and
    /// reached by the bastion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh: Option<SshTunnel>,
    /// Target table; created with mapped types when missing.
    pub table: String,
    /// Load mode. Default: `insert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Key columns of `merge` / `merge_direct` (default: the target's primary key), and of
    /// `delete_insert` by key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_keys: Vec<String>,
    /// How `merge` combines a row with the target's row of the same key, as SQL
    /// assignments (embulk-output-jdbc's option), e.g. `["cnt = test.cnt + S.cnt"]` in
    /// PostgreSQL (`S` is the incoming row, the target is named by its table; `EXCLUDED`
    /// also works, as in newer plugin versions) or `["cnt = cnt + VALUES(cnt)"]` in MySQL.
    /// Default: every column takes the incoming value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_rule: Vec<String>,
    /// `delete_insert` by a condition: a SQL condition on the target (e.g.
    /// `day = '2026-12-01'`); the rows it matches are deleted before the staged rows are
    /// inserted, in the same transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_where: Option<String>,
    /// Per-column overrides (SQL type when creating the table, timezone).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub column_options: BTreeMap<String, OutputColumnOption>,
    /// SQL appended inside `CREATE TABLE (...)`, e.g. `PRIMARY KEY (id)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_table_constraint: Option<String>,
    /// SQL appended after `CREATE TABLE (...)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_table_option: Option<String>,
    /// SQL run before loading (in the commit transaction for transactional modes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_load: Option<String>,
    /// SQL run after loading (in the commit transaction for transactional modes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_load: Option<String>,
    /// Zone used to write timestamps into columns without a zone. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_timezone: Option<String>,
    /// Rows per write batch. Default: 16384.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    /// JDBC driver properties, any scalar (read as text): the ones that change what a
    /// run does are mapped (TLS, time-outs, `serverTimezone`, `zeroDateTimeBehavior`;
    /// see `driver_options`), every other one is logged as ignored.
    #[serde(
        default,
        deserialize_with = "super::driver_options::scalar_options",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub options: BTreeMap<String, String>,
}

/// How one destination column is created and written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputColumnOption {
    /// SQL type used when the table is created, e.g. `varchar(20)`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// How the value is bound (Embulk compatibility; accepted, types are inferred).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_type: Option<String>,
    /// strftime format (Embulk's) of a timestamp column written as text, in `timezone`,
    /// else `default_timezone`; the column is then created as text unless `type` says
    /// otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_format: Option<String>,
    /// Zone for this column instead of `default_timezone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

pub(crate) fn resolve_tls(
    ssl: Option<bool>,
    ssl_mode: Option<TlsMode>,
    ca: &Option<String>,
    options: &BTreeMap<String, String>,
) -> Result<Tls, ConfigError> {
    // The JDBC options are what Embulk users wrote before `ssl_mode` existed: pgjdbc's
    // `sslmode` / `sslrootcert` (a path) and Connector/J's `sslMode`.
    let from_options = match options.get("sslmode").or_else(|| options.get("sslMode")) {
        Some(word) => Some(word.parse::<TlsMode>().map_err(|e| {
            let key = if options.contains_key("sslmode") {
                "sslmode"
            } else {
                "sslMode"
            };
            ConfigError::new(format!("options.{key}"), e)
        })?),
        None => tls_from_driver_switches(options)?,
    };
    let mode = match (ssl, ssl_mode.or(from_options)) {
        (Some(false), Some(m)) if m != TlsMode::Disable => {
            return Err(ConfigError::new(
                "ssl",
                format!(
                    "ssl: false contradicts ssl_mode {m}; remove ssl, or set ssl_mode: disable"
                ),
            ));
        }
        (Some(true), Some(TlsMode::Disable)) => {
            return Err(ConfigError::new(
                "ssl",
                "ssl: true contradicts ssl_mode disable; remove one of them",
            ));
        }
        (_, Some(m)) => m,
        (Some(true), None) => TlsMode::Require,
        (Some(false) | None, None) => TlsMode::Disable,
    };
    let ca = ca
        .clone()
        .or_else(|| options.get("sslrootcert").cloned())
        .filter(|c| !c.trim().is_empty());
    if ca.is_some() && !mode.verifies() {
        return Err(ConfigError::new(
            "ssl_ca_certificate",
            format!(
                "is only used to check the server's certificate; set ssl_mode: verify-ca or verify-full (it is {mode})"
            ),
        ));
    }
    Ok(Tls {
        mode,
        ca_certificate: ca,
    })
}

/// The encryption older driver switches ask for, when no `sslmode` is given:
/// Connector/J's `useSSL` / `requireSSL` / `verifyServerCertificate` (its own documented
/// mapping to `sslMode`) and pgjdbc's `ssl` (checks the certificate and host unless
/// `sslfactory` is the `NonValidatingFactory`).
fn tls_from_driver_switches(
    options: &BTreeMap<String, String>,
) -> Result<Option<TlsMode>, ConfigError> {
    let switch = |key: &str| -> Result<Option<bool>, ConfigError> {
        match options.get(key).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) if v == "true" || v == "yes" || v == "1" => Ok(Some(true)),
            Some(v) if v == "false" || v == "no" || v == "0" => Ok(Some(false)),
            Some(v) => Err(ConfigError::new(
                format!("options.{key}"),
                format!("expected true or false, got {v:?}"),
            )),
        }
    };
    if let Some(use_ssl) = switch("useSSL")? {
        let require = switch("requireSSL")?.unwrap_or(false);
        let verify = switch("verifyServerCertificate")?.unwrap_or(false);
        return Ok(Some(match (use_ssl, require, verify) {
            (false, _, _) => TlsMode::Disable,
            (true, _, true) => TlsMode::VerifyCa,
            (true, true, false) => TlsMode::Require,
            (true, false, false) => TlsMode::Prefer,
        }));
    }
    if let Some(ssl) = switch("ssl")? {
        let non_validating = options
            .get("sslfactory")
            .is_some_and(|f| f.ends_with("NonValidatingFactory"));
        return Ok(Some(match (ssl, non_validating) {
            (false, _) => TlsMode::Disable,
            (true, true) => TlsMode::Require,
            (true, false) => TlsMode::VerifyFull,
        }));
    }
    Ok(None)
}

pub(crate) fn check_timezone(path: &str, tz: &Option<String>) -> Result<(), ConfigError> {
    match tz.as_deref().map(str::parse::<crate::zone::Zone>) {
        Some(Err(e)) => Err(ConfigError::new(path, e)),
        _ => Ok(()),
    }
}

/// The connection part both sections share (`host` .. `ssl_ca_certificate`, `options`).
macro_rules! connection_section {
    ($($section:ty),*) => {$(
        impl $section {
            /// How to encrypt the connection.
            pub fn tls(&self) -> Result<Tls, ConfigError> {
                resolve_tls(
                    self.ssl,
                    self.ssl_mode,
                    &self.ssl_ca_certificate,
                    &self.options,
                )
            }

            /// Checks the `ssh:` section.
            fn validate_ssh(&self) -> Result<(), ConfigError> {
                match &self.ssh {
                    Some(ssh) => ssh
                        .validate()
                        .map_err(|e| ConfigError::new(format!("ssh.{}", e.path), e.message)),
                    None => Ok(()),
                }
            }

            /// The database this section names, for a `kind` server.
            pub fn endpoint(&self, kind: DbKind) -> Result<DbEndpoint, ConfigError> {
                Ok(DbEndpoint {
                    kind,
                    host: self.host.clone(),
                    port: self.port,
                    user: self.user.clone(),
                    password: self.password.as_ref().map(|p| p.expose().to_owned()),
                    database: self.database.clone(),
                    tls: self.tls()?,
                    ssh: self.ssh.clone(),
                })
            }
        }
    )*};
}

connection_section!(JdbcInput, JdbcOutput);

impl JdbcInput {
    /// What the JDBC `options:` ask of a `kind` source (see `driver_options`).
    pub fn driver_options(&self, kind: DbKind) -> Result<DriverOptions, ConfigError> {
        driver_options(kind, true, &self.options, "in")
    }

    /// Seconds to wait for a connection: `connect_timeout`, else the driver property.
    pub fn connect_timeout_secs(&self, kind: DbKind) -> Option<u64> {
        self.connect_timeout.or_else(|| {
            self.driver_options(kind)
                .ok()
                .and_then(|o| o.connect_timeout)
        })
    }

    /// Seconds a read may wait: `socket_timeout`, else the driver property, else 1800.
    pub fn socket_timeout_secs(&self, kind: DbKind) -> u64 {
        self.socket_timeout
            .or_else(|| {
                self.driver_options(kind)
                    .ok()
                    .and_then(|o| o.socket_timeout)
            })
            .unwrap_or(1800)
    }

    /// The zone of zone-less timestamps: `default_timezone`, else Connector/J's
    /// `serverTimezone`, else UTC.
    pub fn zoneless_timezone(&self, kind: DbKind) -> String {
        self.default_timezone
            .clone()
            .or_else(|| {
                self.driver_options(kind)
                    .ok()
                    .and_then(|o| o.server_timezone)
            })
            .unwrap_or_else(|| "UTC".to_owned())
    }

    pub(crate) fn validate(&self, kind: DbKind) -> Result<(), ConfigError> {
        self.tls()?;
        self.validate_ssh()?;
        driver_options(kind, true, &self.options, "")?;
        match (&self.table, &self.query) {
            (None, None) => {
                return Err(ConfigError::new(
                    "table",
                    "either table or query is required",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "query",
                    "give either table or query, not both",
                ));
            }
            _ => {}
        }
        if self.query.is_some() {
            for (field, v) in [
                ("select", &self.select),
                ("where", &self.where_),
                ("order_by", &self.order_by),
            ] {
                if v.is_some() {
                    return Err(ConfigError::new(
                        field,
                        "only allowed with table, not with query",
                    ));
                }
            }
        }
        let incremental = self.incremental.unwrap_or(false);
        if incremental && self.order_by.is_some() {
            return Err(ConfigError::new(
                "order_by",
                "not allowed with incremental: rows are ordered by incremental_columns",
            ));
        }
        if incremental
            && self.query.is_some()
            && !self.use_raw_query_with_incremental.unwrap_or(false)
        {
            return Err(ConfigError::new(
                "query",
                "incremental with query needs use_raw_query_with_incremental: true and :column placeholders",
            ));
        }
        if let (Some(last), false) = (&self.last_record, self.incremental_columns.is_empty())
            && last.len() != self.incremental_columns.len()
        {
            return Err(ConfigError::new(
                "last_record",
                format!(
                    "has {} values but incremental_columns has {}",
                    last.len(),
                    self.incremental_columns.len()
                ),
            ));
        }
        if let Some(n) = self.fetch_rows
            && n < -1
        {
            return Err(ConfigError::new(
                "fetch_rows",
                format!("must be -1 or more (it is {n})"),
            ));
        }
        check_timezone("default_timezone", &self.default_timezone)?;
        for (name, o) in &self.column_options {
            check_timezone(&format!("column_options.{name}.timezone"), &o.timezone)?;
        }
        Ok(())
    }
}

impl JdbcOutput {
    /// The load mode, `insert` when not given.
    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Insert)
    }

    /// What the JDBC `options:` ask of a `kind` destination (see `driver_options`).
    pub fn driver_options(&self, kind: DbKind) -> Result<DriverOptions, ConfigError> {
        driver_options(kind, false, &self.options, "out")
    }

    pub(crate) fn validate(&self, kind: DbKind) -> Result<(), ConfigError> {
        self.tls()?;
        self.validate_ssh()?;
        driver_options(kind, false, &self.options, "")?;
        if self.table.trim().is_empty() {
            return Err(ConfigError::new("table", "must not be empty"));
        }
        let mode = self.mode();
        if !self.merge_keys.is_empty()
            && !matches!(mode, Mode::Merge | Mode::MergeDirect | Mode::DeleteInsert)
        {
            return Err(ConfigError::new(
                "merge_keys",
                "only used by mode merge, merge_direct or delete_insert",
            ));
        }
        if !self.merge_rule.is_empty() {
            if !matches!(mode, Mode::Merge | Mode::MergeDirect) {
                return Err(ConfigError::new(
                    "merge_rule",
                    "only used by mode merge or merge_direct",
                ));
            }
            if let Some(i) = self.merge_rule.iter().position(|r| r.trim().is_empty()) {
                return Err(ConfigError::new(
                    format!("merge_rule[{i}]"),
                    "must be an assignment such as `cnt = S.cnt`, not empty",
                ));
            }
        }
        let condition = self.delete_where.as_deref().map(str::trim);
        match (mode, condition) {
            (Mode::DeleteInsert, None | Some("")) if self.merge_keys.is_empty() => {
                return Err(ConfigError::new(
                    "merge_keys",
                    "delete_insert needs the key columns (merge_keys) or a condition (delete_where) saying which target rows to delete",
                ));
            }
            (Mode::DeleteInsert, Some(c)) if !c.is_empty() && !self.merge_keys.is_empty() => {
                return Err(ConfigError::new(
                    "delete_where",
                    "give either merge_keys or delete_where, not both",
                ));
            }
            (Mode::DeleteInsert, _) | (_, None) => {}
            (_, Some(_)) => {
                return Err(ConfigError::new(
                    "delete_where",
                    "only used by mode delete_insert",
                ));
            }
        }
        check_timezone("default_timezone", &self.default_timezone)?;
        for (name, o) in &self.column_options {
            check_timezone(&format!("column_options.{name}.timezone"), &o.timezone)?;
        }
        Ok(())
    }
}
