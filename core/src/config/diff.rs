//! Embulk config diffs: the incremental state a run leaves for the next one
//! (`in.last_record`, `in.last_path`), merged over the config with `-c diff.yml`.

use serde::{Deserialize, Serialize};

/// What `embulk run -c diff.yml` writes after a successful commit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigDiff {
    /// State of the input.
    #[serde(rename = "in", default)]
    pub input: InputDiff,
    /// State of the output (always empty; kept for Embulk's file shape).
    #[serde(default)]
    pub out: serde_json::Map<String, serde_json::Value>,
}

/// The input part of a diff.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputDiff {
    /// Cursor values of the last row loaded (database inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_record: Option<Vec<serde_json::Value>>,
    /// The last file or object read (file inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_path: Option<String>,
}

impl ConfigDiff {
    /// The YAML written to the diff file.
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).expect("a ConfigDiff always serializes")
    }

    /// Whether the diff carries no state.
    pub fn is_empty(&self) -> bool {
        self.input.last_record.is_none() && self.input.last_path.is_none()
    }
}

/// Deep-merges `diff` over `config`: mappings merge key by key, anything else replaces.
pub fn merge_diff(config: &mut serde_json::Value, diff: &serde_json::Value) {
    match (config, diff) {
        (serde_json::Value::Object(c), serde_json::Value::Object(d)) => {
            for (k, v) in d {
                match c.get_mut(k) {
                    Some(existing) => merge_diff(existing, v),
                    None => {
                        c.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (c, d) if !d.is_null() => *c = d.clone(),
        _ => {}
    }
}
