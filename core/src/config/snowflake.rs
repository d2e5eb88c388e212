//! `out: {type: snowflake}`: a Snowflake table, with embulk-output-snowflake's option names
//! where they exist (`host`, `user`, `password`, `warehouse`, `database`, `schema`, `role`,
//! `table`, `mode`, `merge_keys`, `private_key`). Rows are loaded in bulk through a stage
//! and `COPY INTO` (see `engine/src/connectors/snowflake/`).

use super::{ConfigError, Mode, Secret};
use serde::{Deserialize, Serialize};

/// The load modes a Snowflake destination offers (Embulk's names).
pub const SNOWFLAKE_MODES: &[Mode] = &[
    Mode::Insert,
    Mode::InsertDirect,
    Mode::TruncateInsert,
    Mode::Replace,
    Mode::Merge,
];

/// A Snowflake destination table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnowflakeOutput {
    /// The account identifier, e.g. `myorg-myaccount` or `xy12345.us-east-2.aws`. Default:
    /// the first part of `host`. One of `account` and `host` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The account's host name, e.g. `myorg-myaccount.snowflakecomputing.com`. Default:
    /// `<account>.snowflakecomputing.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// A full URL to reach Snowflake at instead of `https://<host>`, e.g. a private link
    /// address or a local emulator (`http://127.0.0.1:8085`). Reached through the same
    /// egress policy as every connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The user to sign in as.
    pub user: String,
    /// The user's password. One of `password` and `private_key` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Key-pair sign-in: the PEM text of the user's unencrypted RSA private key
    /// (`-----BEGIN PRIVATE KEY-----`, or `-----BEGIN RSA PRIVATE KEY-----`) whose public
    /// key is set on the user (`ALTER USER ... SET RSA_PUBLIC_KEY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<Secret>,
    /// The virtual warehouse that runs the load. Default: the user's default warehouse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    /// The role to load as. Default: the user's default role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The database of `table`.
    pub database: String,
    /// The schema of `table`. Default: `PUBLIC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// The table to load. Names made of letters, digits, `_` and `$` are written unquoted
    /// (Snowflake reads them in upper case, as SQL typed by a person does); any other name
    /// is quoted and used exactly as written. Column names follow the same rule.
    pub table: String,
    /// `insert`, `insert_direct`, `truncate_insert`, `replace` or `merge`. Default: `insert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// The columns that identify a row for `merge`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_keys: Vec<String>,
}

impl SnowflakeOutput {
    /// The load mode.
    pub fn mode(&self) -> Mode {
        self.mode.unwrap_or(Mode::Insert)
    }

    /// The account identifier: `account`, else the first label of `host`.
    pub fn account_name(&self) -> String {
        match (&self.account, &self.host) {
            (Some(a), _) if !a.trim().is_empty() => a.trim().to_owned(),
            (_, Some(h)) => h.trim().split('.').next().unwrap_or_default().to_owned(),
            _ => String::new(),
        }
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> String {
        if let Some(e) = self.endpoint.as_deref().filter(|e| !e.trim().is_empty()) {
            return e.trim().trim_end_matches('/').to_owned();
        }
        let host = match &self.host {
            Some(h) if !h.trim().is_empty() => h.trim().to_owned(),
            _ => format!("{}.snowflakecomputing.com", self.account_name()),
        };
        format!("https://{host}")
    }

    /// The schema of `table`.
    pub fn schema_name(&self) -> &str {
        self.schema
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or("PUBLIC")
    }

    /// The password and key: what a runner masks.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.password.iter().chain(self.private_key.iter())
    }

    /// Checks the fields; paths are relative to the `out:` section.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let blank = |o: &Option<String>| o.as_deref().is_none_or(|s| s.trim().is_empty());
        if blank(&self.account) && blank(&self.host) && blank(&self.endpoint) {
            return Err(ConfigError::new(
                "account",
                "is required (or host): the account identifier, e.g. myorg-myaccount",
            ));
        }
        if let Some(h) = self.host.as_deref()
            && (h.contains(['/', '\\', ':']) || h.contains(char::is_whitespace))
        {
            return Err(ConfigError::new(
                "host",
                "must be a host name without a scheme or port, e.g. myorg-myaccount.snowflakecomputing.com",
            ));
        }
        if let Some(e) = self.endpoint.as_deref().filter(|e| !e.trim().is_empty())
            && !(e.starts_with("https://") || e.starts_with("http://"))
        {
            return Err(ConfigError::new(
                "endpoint",
                "must be a URL starting with https:// (or http://), e.g. https://myorg-myaccount.privatelink.snowflakecomputing.com",
            ));
        }
        if self.user.trim().is_empty() {
            return Err(ConfigError::new("user", "must not be empty"));
        }
        let given = |s: &Option<Secret>| s.as_ref().is_some_and(|s| !s.expose().is_empty());
        if !given(&self.password) && !given(&self.private_key) {
            return Err(ConfigError::new(
                "password",
                "is required (or private_key for key-pair sign-in)",
            ));
        }
        if self.database.trim().is_empty() {
            return Err(ConfigError::new("database", "must not be empty"));
        }
        if self.table.trim().is_empty() {
            return Err(ConfigError::new("table", "must not be empty"));
        }
        let mode = self.mode();
        if !SNOWFLAKE_MODES.contains(&mode) {
            return Err(ConfigError::new(
                "mode",
                format!(
                    "{mode} is not offered for Snowflake; expected one of {}",
                    SNOWFLAKE_MODES
                        .iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if mode == Mode::Merge && self.merge_keys.is_empty() {
            return Err(ConfigError::new(
                "merge_keys",
                "is required for mode merge: the columns that identify a row",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out() -> SnowflakeOutput {
        serde_json::from_value(serde_json::json!({
            "account": "myorg-acct", "user": "loader", "password": "pw",
            "database": "analytics", "table": "orders"
        }))
        .unwrap()
    }

    #[test]
    fn the_host_comes_from_the_account_and_an_endpoint_overrides_it() {
        let mut c = out();
        assert_eq!(c.base_url(), "https://myorg-acct.snowflakecomputing.com");
        c.account = None;
        c.host = Some("other-acct.snowflakecomputing.com".into());
        assert_eq!(c.account_name(), "other-acct");
        c.endpoint = Some("http://127.0.0.1:8085/".into());
        assert_eq!(c.base_url(), "http://127.0.0.1:8085");
    }

    #[test]
    fn fields_are_checked_with_their_names() {
        let mut c = out();
        c.mode = Some(Mode::Merge);
        assert_eq!(c.validate().unwrap_err().path, "merge_keys");
        c.mode = Some(Mode::DeleteInsert);
        assert_eq!(c.validate().unwrap_err().path, "mode");
        c.mode = None;
        c.password = None;
        assert_eq!(c.validate().unwrap_err().path, "password");
        c.private_key = Some("-----BEGIN PRIVATE KEY-----".into());
        c.host = Some("https://x".into());
        assert_eq!(c.validate().unwrap_err().path, "host");
    }
}
