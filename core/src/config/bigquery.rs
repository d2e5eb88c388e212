//! `out: {type: bigquery}`: embulk-output-bigquery's option names, Hakobu's subset.

use super::error::ConfigError;
use super::{BigqueryMode, Secret};
use serde::{Deserialize, Serialize};

/// Rows loaded into a BigQuery table through load jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BigqueryOutput {
    /// The Google Cloud project that runs the jobs and holds the dataset.
    pub project: String,
    /// The dataset of the table.
    pub dataset: String,
    /// The target table.
    pub table: String,
    /// `append` (default), `append_direct`, `replace`, `delete_in_advance` or `merge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<BigqueryMode>,
    /// The key columns of `merge`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merge_keys: Vec<String>,
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
    /// The file format uploaded to load jobs: `NEWLINE_DELIMITED_JSON` (the only one so far).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_format: Option<String>,
    /// Create the table from the source's columns when it does not exist. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_create_table: Option<bool>,
    /// Partitioning of a created table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_partitioning: Option<TimePartitioning>,
    /// Clustering of a created table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clustering: Option<Clustering>,
    /// BigQuery types for created tables' columns (`BIGNUMERIC`, `DATETIME`, `STRING`...),
    /// where the default mapping is not wanted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub column_options: Vec<BigqueryColumnOption>,
    /// The API's base URL. Default: `https://bigquery.googleapis.com` (tests point it at an
    /// emulator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// One `column_options` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BigqueryColumnOption {
    /// The source column.
    pub name: String,
    /// Its BigQuery type in a created table.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// The BigQuery column types a created table may be given.
const BIGQUERY_TYPES: &[&str] = &[
    "STRING",
    "BYTES",
    "INT64",
    "FLOAT64",
    "NUMERIC",
    "BIGNUMERIC",
    "BOOL",
    "TIMESTAMP",
    "DATETIME",
    "DATE",
    "TIME",
    "JSON",
];

/// `time_partitioning:` of a created table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimePartitioning {
    /// `HOUR`, `DAY`, `MONTH` or `YEAR`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The DATE/TIMESTAMP/DATETIME column; none partitions by load time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// How long a partition is kept, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_ms: Option<u64>,
}

/// `clustering:` of a created table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clustering {
    /// Up to four columns.
    pub fields: Vec<String>,
}

/// BigQuery's rule for project ids, dataset and table names: what the API paths and the
/// generated SQL may carry without quoting surprises.
fn check_name(path: &str, value: &str, allow_dash: bool) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= 1024
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || (allow_dash && c == '-'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            path,
            if allow_dash {
                "expected letters, digits, underscores and dashes"
            } else {
                "expected letters, digits and underscores"
            },
        ))
    }
}

impl BigqueryOutput {
    /// The mode, `append` when none is given.
    pub fn mode(&self) -> BigqueryMode {
        self.mode.unwrap_or(BigqueryMode::Append)
    }

    /// Whether a missing table is created.
    pub fn auto_create_table(&self) -> bool {
        self.auto_create_table.unwrap_or(true)
    }

    /// Whether the key is a service account's (else an access token).
    pub fn uses_access_token(&self) -> bool {
        self.auth_method.as_deref() == Some("access_token")
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        check_name("project", &self.project, true)?;
        check_name("dataset", &self.dataset, false)?;
        check_name("table", &self.table, true)?;
        match self.auth_method.as_deref() {
            None | Some("service_account" | "json_key") => {
                if self
                    .json_keyfile
                    .as_ref()
                    .is_none_or(|k| k.expose().is_empty())
                {
                    return Err(ConfigError::new(
                        "json_keyfile",
                        "is required: the service account's JSON key",
                    ));
                }
            }
            Some("access_token") => {
                if self
                    .access_token
                    .as_ref()
                    .is_none_or(|k| k.expose().is_empty())
                {
                    return Err(ConfigError::new(
                        "access_token",
                        "is required with auth_method: access_token",
                    ));
                }
            }
            Some(other) => {
                return Err(ConfigError::new(
                    "auth_method",
                    format!(
                        "unknown auth_method {other:?}; expected service_account or access_token"
                    ),
                ));
            }
        }
        match self.source_format.as_deref() {
            None | Some("NEWLINE_DELIMITED_JSON") => {}
            Some(other) => {
                return Err(ConfigError::new(
                    "source_format",
                    format!("unsupported source_format {other:?}; expected NEWLINE_DELIMITED_JSON"),
                ));
            }
        }
        if self.mode() == BigqueryMode::Merge && self.merge_keys.is_empty() {
            return Err(ConfigError::new(
                "merge_keys",
                "merge needs the key columns that identify a row",
            ));
        }
        for (i, k) in self.merge_keys.iter().enumerate() {
            check_name(&format!("merge_keys[{i}]"), k, false)?;
        }
        for (i, o) in self.column_options.iter().enumerate() {
            check_name(&format!("column_options[{i}].name"), &o.name, false)?;
            if let Some(t) = &o.type_
                && !BIGQUERY_TYPES.contains(&t.as_str())
            {
                return Err(ConfigError::new(
                    format!("column_options[{i}].type"),
                    format!(
                        "unknown BigQuery type {t:?}; expected one of {}",
                        BIGQUERY_TYPES.join(", ")
                    ),
                ));
            }
        }
        if let Some(p) = &self.time_partitioning {
            if !matches!(p.kind.as_str(), "HOUR" | "DAY" | "MONTH" | "YEAR") {
                return Err(ConfigError::new(
                    "time_partitioning.type",
                    "expected HOUR, DAY, MONTH or YEAR",
                ));
            }
            if let Some(f) = &p.field {
                check_name("time_partitioning.field", f, false)?;
            }
        }
        if let Some(c) = &self.clustering {
            if c.fields.is_empty() || c.fields.len() > 4 {
                return Err(ConfigError::new(
                    "clustering.fields",
                    "expected one to four columns",
                ));
            }
            for (i, f) in c.fields.iter().enumerate() {
                check_name(&format!("clustering.fields[{i}]"), f, false)?;
            }
        }
        if let Some(e) = &self.endpoint
            && !(e.starts_with("https://") || e.starts_with("http://"))
        {
            return Err(ConfigError::new(
                "endpoint",
                "expected an http:// or https:// URL",
            ));
        }
        Ok(())
    }

    /// The section's keys.
    pub(crate) fn secrets(&self) -> Vec<&Secret> {
        [&self.json_keyfile, &self.access_token]
            .into_iter()
            .flatten()
            .collect()
    }
}
