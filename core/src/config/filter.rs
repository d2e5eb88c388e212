//! `filters:` entries: rename, remove_columns, column, cast, mask.

use super::jdbc::check_timezone;
use super::{ColumnType, ConfigError, MaskType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One filter (`type: rename | remove_columns | column | cast | mask`).
#[derive(Debug, Clone, PartialEq)]
pub enum FilterConfig {
    /// Renames columns.
    Rename(RenameFilter),
    /// Drops (or keeps only) some columns.
    RemoveColumns(RemoveColumnsFilter),
    /// Embulk's column filter: pick, add and drop columns.
    Column(ColumnFilter),
    /// Changes column types.
    Cast(CastFilter),
    /// Hashes or masks values.
    Mask(MaskFilter),
}

/// `type: rename`: `columns: {old: new}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameFilter {
    /// Old name -> new name.
    pub columns: BTreeMap<String, String>,
}

/// `type: remove_columns`: `remove: [..]` or `keep: [..]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveColumnsFilter {
    /// Columns to drop.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// Columns to keep (all others are dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep: Vec<String>,
    /// Ignore listed names that do not exist instead of failing. Default: false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_unmatched_columns: Option<bool>,
}

/// `type: column` (embulk-filter-column).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnFilter {
    /// The output columns, in order (when given, other columns are dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<ColumnFilterColumn>,
    /// Columns appended after the others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_columns: Vec<ColumnFilterColumn>,
    /// Columns removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop_columns: Vec<NameOnly>,
    /// Zone for `default:` timestamps. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_timezone: Option<String>,
}

/// A column of the column filter: an existing one (`name`, or `src` renamed to `name`),
/// or a new one with `type` and `default`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnFilterColumn {
    /// Output column name.
    pub name: String,
    /// Source column to copy. Default: `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    /// Type of a new column (required with `default`, or for a NULL column).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ColumnType>,
    /// Value of a new column, or the value replacing NULLs of an existing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// strftime format of a timestamp `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Zone of a timestamp `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// `{name: x}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameOnly {
    /// Column name.
    pub name: String,
}

/// `type: cast`: converts columns to other types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CastFilter {
    /// The columns to convert.
    pub columns: Vec<CastColumn>,
    /// Rows whose value cannot be converted fail the run instead of becoming NULL
    /// and being counted as skipped values. Default: true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_on_invalid_record: Option<bool>,
}

/// One cast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CastColumn {
    /// Column name.
    pub name: String,
    /// New type.
    #[serde(rename = "type")]
    pub type_: ColumnType,
    /// strftime format for timestamp <-> string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// Zone for timestamp <-> string. Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// `type: mask`: hides personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskFilter {
    /// The columns to mask.
    pub columns: Vec<MaskColumn>,
}

/// One masked column (values become strings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskColumn {
    /// Column name.
    pub name: String,
    /// How to mask. Default: `sha256`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<MaskType>,
    /// Characters kept at the start (`partial`). Default: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_head: Option<u32>,
    /// Characters kept at the end (`partial`). Default: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_tail: Option<u32>,
    /// The mask character. Default: `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_char: Option<String>,
}

impl FilterConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match self {
            FilterConfig::RemoveColumns(f) if f.remove.is_empty() == f.keep.is_empty() => Err(
                ConfigError::new("remove", "give exactly one of remove and keep"),
            ),
            FilterConfig::Column(f) => {
                check_timezone("default_timezone", &f.default_timezone)?;
                for (i, c) in f.add_columns.iter().enumerate() {
                    if c.type_.is_none() && c.src.is_none() {
                        return Err(ConfigError::new(
                            format!("add_columns[{i}].type"),
                            "a new column needs a type (or src to copy an existing column)",
                        ));
                    }
                }
                Ok(())
            }
            FilterConfig::Cast(f) => {
                for (i, c) in f.columns.iter().enumerate() {
                    check_timezone(&format!("columns[{i}].timezone"), &c.timezone)?;
                }
                Ok(())
            }
            FilterConfig::Mask(f) => {
                for (i, c) in f.columns.iter().enumerate() {
                    if let Some(m) = &c.mask_char
                        && m.chars().count() != 1
                    {
                        return Err(ConfigError::new(
                            format!("columns[{i}].mask_char"),
                            format!("{m:?} is not one character"),
                        ));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}
