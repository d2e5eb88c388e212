//! `type:`-tagged sections, parsed in two steps so errors keep the full field path.

use super::compat::ConfigNotice;
use super::endpoint::DbKind;
use super::error::ConfigError;
use super::{
    BigqueryOutput, BigqueryStatements, CastFilter, ColumnFilter, CsvFormatter, CsvParser,
    FileInput, FileOutput, FilterConfig, FormatterConfig, JdbcInput, JdbcOutput, JdbcStatements,
    JsonParser, JsonlFormatter, JsonlParser, MaskFilter, ParquetFormatter, ParquetParser,
    ParserConfig, RemoveColumnsFilter, RenameFilter, S3Input, S3Output, Secret, SnowflakeOutput,
    SnowflakeStatements, StatementsSection, StdoutOutput,
};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The source of a transfer.
#[derive(Debug, Clone, PartialEq)]
pub enum InputConfig {
    /// `type: postgresql`
    Postgresql(JdbcInput),
    /// `type: mysql` (MySQL and MariaDB)
    Mysql(JdbcInput),
    /// `type: file` (local files)
    File(FileInput),
    /// `type: s3` (any S3-compatible object store)
    S3(S3Input),
}

/// The destination of a transfer.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputConfig {
    /// `type: postgresql`
    Postgresql(JdbcOutput),
    /// `type: mysql` (MySQL and MariaDB)
    Mysql(JdbcOutput),
    /// `type: file` (local files)
    File(FileOutput),
    /// `type: s3`
    S3(S3Output),
    /// `type: stdout` (the runner's terminal; not a job's destination)
    Stdout(StdoutOutput),
    /// `type: bigquery`
    Bigquery(BigqueryOutput),
    /// `type: snowflake`
    Snowflake(SnowflakeOutput),
}

#[derive(Serialize)]
struct Tagged<'a, T> {
    #[serde(rename = "type")]
    tag: &'static str,
    #[serde(flatten)]
    body: &'a T,
}

/// Reads `type`, then the body as `T`; errors carry the nested path (see `error::NESTED`).
fn split_tag<'de, D: Deserializer<'de>>(
    d: D,
    choices: &[&str],
) -> Result<(String, serde_json::Value), D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let serde_json::Value::Object(mut map) = value else {
        return Err(D::Error::custom(format!(
            "expected a mapping with type: one of {}",
            choices.join(", ")
        )));
    };
    match map.remove("type") {
        Some(serde_json::Value::String(tag)) => Ok((tag, serde_json::Value::Object(map))),
        _ => Err(D::Error::custom(
            ConfigError::new(
                "type",
                format!("is required; expected one of {}", choices.join(", ")),
            )
            .to_nested_message(),
        )),
    }
}

fn body<T: DeserializeOwned, E: serde::de::Error>(v: serde_json::Value) -> Result<T, E> {
    serde_path_to_error::deserialize(v)
        .map_err(|e| E::custom(ConfigError::from_path_error(e).to_nested_message()))
}

fn unknown_tag<E: serde::de::Error>(what: &str, tag: &str, choices: &[&str]) -> E {
    E::custom(
        ConfigError::new(
            "type",
            format!(
                "unknown {what} type {tag:?}; expected one of {}",
                choices.join(", ")
            ),
        )
        .to_nested_message(),
    )
}

macro_rules! tagged {
    ($name:ident, $what:literal, { $($variant:ident($ty:ty) => $word:literal),+ $(,)? }) => {
        impl $name {
            /// The `type:` word of this section.
            pub fn type_name(&self) -> &'static str {
                match self { $($name::$variant(_) => $word),+ }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $($name::$variant(body) => Tagged { tag: $word, body }.serialize(s)),+
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                const CHOICES: &[&str] = &[$($word),+];
                let (tag, rest) = split_tag(d, CHOICES)?;
                match tag.as_str() {
                    $($word => Ok($name::$variant(body::<$ty, D::Error>(rest)?)),)+
                    other => Err(unknown_tag($what, other, CHOICES)),
                }
            }
        }
    };
}

tagged!(InputConfig, "input", {
    Postgresql(JdbcInput) => "postgresql",
    Mysql(JdbcInput) => "mysql",
    File(FileInput) => "file",
    S3(S3Input) => "s3",
});

tagged!(OutputConfig, "output", {
    Postgresql(JdbcOutput) => "postgresql",
    Mysql(JdbcOutput) => "mysql",
    File(FileOutput) => "file",
    S3(S3Output) => "s3",
    Stdout(StdoutOutput) => "stdout",
    Bigquery(BigqueryOutput) => "bigquery",
    Snowflake(SnowflakeOutput) => "snowflake",
});

tagged!(StatementsSection, "database", {
    Postgresql(JdbcStatements) => "postgresql",
    Mysql(JdbcStatements) => "mysql",
    Bigquery(BigqueryStatements) => "bigquery",
    Snowflake(SnowflakeStatements) => "snowflake",
});

tagged!(FilterConfig, "filter", {
    Rename(RenameFilter) => "rename",
    RemoveColumns(RemoveColumnsFilter) => "remove_columns",
    Column(ColumnFilter) => "column",
    Cast(CastFilter) => "cast",
    Mask(MaskFilter) => "mask",
});

tagged!(ParserConfig, "parser", {
    Csv(CsvParser) => "csv",
    Jsonl(JsonlParser) => "jsonl",
    Json(JsonParser) => "json",
    Parquet(ParquetParser) => "parquet",
});

tagged!(FormatterConfig, "formatter", {
    Csv(CsvFormatter) => "csv",
    Jsonl(JsonlFormatter) => "jsonl",
    Parquet(ParquetFormatter) => "parquet",
});

impl InputConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match self {
            InputConfig::Postgresql(c) => c.validate(DbKind::Postgresql),
            InputConfig::Mysql(c) => c.validate(DbKind::Mysql),
            InputConfig::File(c) => super::file::check_codecs("decoders", &c.decoders, false)
                .and_then(|()| c.parser.validate()),
            InputConfig::S3(c) => super::file::check_codecs("decoders", &c.decoders, false)
                .and_then(|()| c.parser.validate()),
        }
        .map_err(|e| e.prefixed("in"))
    }
}

impl InputConfig {
    /// The section's passwords and keys.
    fn secrets(&self) -> Vec<&Secret> {
        match self {
            InputConfig::Postgresql(c) | InputConfig::Mysql(c) => c
                .password
                .iter()
                .chain(c.ssh.iter().flat_map(|s| s.secrets()))
                .collect(),
            InputConfig::File(_) => Vec::new(),
            InputConfig::S3(c) => [&c.access_key_id, &c.secret_access_key, &c.session_token]
                .into_iter()
                .flatten()
                .collect(),
        }
    }
}

impl OutputConfig {
    /// The section's passwords and keys.
    fn secrets(&self) -> Vec<&Secret> {
        match self {
            OutputConfig::Postgresql(c) | OutputConfig::Mysql(c) => c
                .password
                .iter()
                .chain(c.ssh.iter().flat_map(|s| s.secrets()))
                .collect(),
            OutputConfig::File(_) | OutputConfig::Stdout(_) => Vec::new(),
            OutputConfig::Snowflake(c) => c.secrets().collect(),
            OutputConfig::S3(c) => [&c.access_key_id, &c.secret_access_key, &c.session_token]
                .into_iter()
                .flatten()
                .collect(),
            OutputConfig::Bigquery(c) => c.secrets(),
        }
    }
}

impl super::Config {
    /// Every password and key of the config, in clear: what a runner masks in the lines it
    /// sends, including credentials that were made for this run alone and are stored
    /// nowhere else (an assumed role's).
    pub fn secret_values(&self) -> Vec<&str> {
        let mut values: Vec<&str> = self
            .input
            .secrets()
            .into_iter()
            .chain(self.out.secrets())
            .map(Secret::expose)
            .filter(|v| !v.is_empty())
            .collect();
        values.sort_unstable();
        values.dedup();
        values
    }
}

impl InputConfig {
    /// What the config's JDBC `options:` are taken to mean, one notice each.
    fn driver_notices(&self) -> Vec<ConfigNotice> {
        match self {
            InputConfig::Postgresql(c) => c.driver_options(DbKind::Postgresql),
            InputConfig::Mysql(c) => c.driver_options(DbKind::Mysql),
            _ => return Vec::new(),
        }
        .map(|o| o.notices)
        .unwrap_or_default()
    }
}

impl OutputConfig {
    /// What the config's JDBC `options:` are taken to mean, one notice each.
    fn driver_notices(&self) -> Vec<ConfigNotice> {
        match self {
            OutputConfig::Postgresql(c) => c.driver_options(DbKind::Postgresql),
            OutputConfig::Mysql(c) => c.driver_options(DbKind::Mysql),
            _ => return Vec::new(),
        }
        .map(|o| o.notices)
        .unwrap_or_default()
    }
}

impl super::Config {
    /// The notices of the JDBC `options:` of both sections.
    pub(crate) fn driver_notices(&self) -> Vec<ConfigNotice> {
        let mut notices = self.input.driver_notices();
        notices.extend(self.out.driver_notices());
        notices
    }
}

impl OutputConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match self {
            OutputConfig::Postgresql(c) => c.validate(DbKind::Postgresql),
            OutputConfig::Mysql(c) => c.validate(DbKind::Mysql),
            OutputConfig::File(c) => super::file::check_codecs("encoders", &c.encoders, true)
                .and_then(|()| c.formatter.validate()),
            OutputConfig::S3(c) => super::file::check_codecs("encoders", &c.encoders, true)
                .and_then(|()| c.formatter.validate()),
            OutputConfig::Stdout(c) => c.validate(),
            OutputConfig::Bigquery(c) => c.validate(),
            OutputConfig::Snowflake(c) => c.validate(),
        }
        .map_err(|e| e.prefixed("out"))
    }
}
