//! The model of an Embulk-style transfer config (`in:` / `filters:` / `out:` / `exec:`).
//!
//! The app compiles a job's form settings into [`Config`], shows users the YAML from
//! [`Config::to_yaml`], and the runner parses hand-written Embulk YAML with
//! [`Config::from_yaml`]. Both directions go through the same types, so
//! `parse(serialize(x)) == x` holds (see the tests).
//!
//! Plugin sections (`in`, `out`, `filters[]`, parsers, formatters) are tagged by `type:`.
//! They are parsed in two steps (read `type`, then the matching struct) instead of with
//! serde's internally tagged enums, because those buffer their content and lose the path
//! of the failing field: the whole point of the errors here is to say
//! `out.mode: unknown mode "upsert"; expected one of ...`.

mod bigquery;
mod compat;
mod diff;
mod driver_options;
mod endpoint;
mod enums;
mod error;
mod file;
mod filter;
mod jdbc;
mod plugin;
mod snowflake;
mod statements;
mod warehouse;

pub use bigquery::{BigqueryColumnOption, BigqueryOutput, Clustering, TimePartitioning};
pub use compat::ConfigNotice;
pub use diff::{ConfigDiff, InputDiff, merge_diff};
pub use driver_options::{DriverOptions, ZeroDates};
pub use endpoint::{DbEndpoint, DbKind, SshHostKey, SshTunnel, Tls, check_fingerprint};
pub use enums::{
    BigqueryMode, Codec, ColumnType, MaskType, Mode, Newline, QuotePolicy, QuotesInQuotedFields,
    TlsMode, ValueType,
};
pub use error::ConfigError;
pub use file::{
    CodecConfig, CsvFormatter, CsvParser, FileInput, FileOutput, FormatterColumnOption,
    FormatterConfig, JsonParser, JsonlFormatter, JsonlParser, ParquetFormatter, ParquetParser,
    ParserConfig, S3Input, S3Output, SchemaColumn, StdoutOutput,
};
pub use filter::{
    CastColumn, CastFilter, ColumnFilter, ColumnFilterColumn, FilterConfig, MaskColumn, MaskFilter,
    NameOnly, RemoveColumnsFilter, RenameFilter,
};
pub use jdbc::{InputColumnOption, JdbcInput, JdbcOutput, OutputColumnOption};
pub use plugin::{InputConfig, OutputConfig};
pub use snowflake::{SNOWFLAKE_MODES, SnowflakeOutput};
pub use statements::{
    BigqueryStatements, JdbcStatements, RunnerConfig, SnowflakeStatements, StatementsConfig,
    StatementsSection, WAREHOUSE_WRITE_MODES, WarehouseWrite,
};
pub use warehouse::Warehouse;

use serde::{Deserialize, Serialize};
use std::fmt;

/// A password or key: serialized as-is (the runner needs it), never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret value, for the code that must hand it to a driver.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_owned())
    }
}

/// One Embulk-style transfer: where rows come from, how they change, where they go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The source (`type: postgresql | mysql | file | s3`).
    #[serde(rename = "in")]
    pub input: InputConfig,
    /// Row transformations applied in order between source and destination.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FilterConfig>,
    /// The destination (`type: postgresql | mysql | file | s3 | snowflake`).
    pub out: OutputConfig,
    /// Execution settings (parallelism).
    #[serde(default, skip_serializing_if = "ExecConfig::is_default")]
    pub exec: ExecConfig,
}

/// Embulk's `exec:` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecConfig {
    /// How many input tasks (files, or key ranges of a table) are read at the same time.
    /// Default: the number of CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_threads: Option<u32>,
    /// Embulk's minimum number of output tasks. Accepted for compatibility; Hakobu writes
    /// each destination through one committed load, so it only bounds parallel readers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_output_tasks: Option<u32>,
}

impl ExecConfig {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl Config {
    /// Parses Embulk YAML (already rendered if it was `.yml.liquid`).
    pub fn from_yaml(yaml: &str) -> Result<Config, ConfigError> {
        Self::from_value(yaml_to_value(yaml)?)
    }

    /// Parses the config with an Embulk config diff (`-c diff.yml`) merged over it.
    pub fn from_yaml_with_diff(yaml: &str, diff: Option<&str>) -> Result<Config, ConfigError> {
        Self::from_yaml_with_notices(yaml, diff).map(|(config, _)| config)
    }

    /// [`Config::from_yaml_with_diff`], also saying which options were accepted and
    /// ignored or mapped (see `compat` and `driver_options`): what a runner logs.
    pub fn from_yaml_with_notices(
        yaml: &str,
        diff: Option<&str>,
    ) -> Result<(Config, Vec<ConfigNotice>), ConfigError> {
        let mut value = yaml_to_value(yaml)?;
        if let Some(diff) = diff {
            let diff = yaml_to_value(diff).map_err(|e| e.prefixed("diff"))?;
            merge_diff(&mut value, &diff);
        }
        Self::from_value_with_notices(value)
    }

    /// Parses an already-decoded document (JSON or YAML value).
    pub fn from_value(value: serde_json::Value) -> Result<Config, ConfigError> {
        Self::from_value_with_notices(value).map(|(config, _)| config)
    }

    /// [`Config::from_value`] with the notices of [`Config::from_yaml_with_notices`].
    pub fn from_value_with_notices(
        mut value: serde_json::Value,
    ) -> Result<(Config, Vec<ConfigNotice>), ConfigError> {
        let mut notices = compat::take_ignored(&mut value);
        compat::name_offset_zones(&mut value, "", &mut notices);
        let config: Config =
            serde_path_to_error::deserialize(value).map_err(ConfigError::from_path_error)?;
        config.validate()?;
        notices.extend(config.driver_notices());
        Ok((config, notices))
    }

    /// The YAML users see; [`Config::from_yaml`] reads it back to an equal value.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).expect("a Config always serializes")
    }

    /// Cross-field rules that serde's per-field checks cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.input.validate()?;
        self.out.validate()?;
        for (i, f) in self.filters.iter().enumerate() {
            f.validate()
                .map_err(|e| e.prefixed(&format!("filters[{i}]")))?;
        }
        Ok(())
    }
}

fn yaml_to_value(yaml: &str) -> Result<serde_json::Value, ConfigError> {
    let value: serde_json::Value = serde_norway::from_str(yaml)
        .map_err(|e| ConfigError::new("", format!("not valid YAML: {e}")))?;
    if value.is_null() {
        return Err(ConfigError::new(
            "",
            "the config is empty; expected a mapping with in: and out:",
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests;
