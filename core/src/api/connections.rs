//! Connections: create, change, share, test, browse, preview.

use crate::api::org::TeamGrant;
use crate::authz::TeamRole;
use crate::connection::{ConnectionKind, validate_settings};
use crate::ids::{ConnectionId, TeamId};
use crate::job::TableRef;
use crate::messages::{MessageParams, Text};
use crate::validation::{FieldError, FieldErrors, check_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::NAME_MAX_CHARS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateConnectionRequest {
    pub name: String,
    pub kind: ConnectionKind,
    /// The team that owns it; its editors and admins manage it.
    pub team_id: TeamId,
    /// Field values by name (see `GET /api/connection-kinds`). Secrets are write-only.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: Map<String, Value>,
}

impl CreateConnectionRequest {
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        check_text(&mut e, "name", &self.name, NAME_MAX_CHARS);
        e.0.extend(validate_settings(self.kind, &self.settings, &[], "settings").0);
        e.into_result()
    }
}

/// Changes a connection. Settings left out keep their values; a secret set to `null` is
/// removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateConnectionRequest {
    #[serde(default)]
    pub name: Option<String>,
    /// Moves the connection to another team (the caller must be an editor there too).
    #[serde(default)]
    pub team_id: Option<TeamId>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub settings: Option<Map<String, Value>>,
}

/// Tests settings before they are saved. With `connection_id`, secrets left out are taken
/// from that saved connection (so a form can test without retyping the password).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TestConnectionRequest {
    pub kind: ConnectionKind,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: Map<String, Value>,
    #[serde(default)]
    pub connection_id: Option<ConnectionId>,
}

/// The outcome of a connection test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionTestResult {
    pub ok: bool,
    pub latency_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ConnectionTestError>,
    /// Through an SSH bastion: the host key it presented (on success, the key now pinned
    /// or to pin; with the error `ssh_host_key_changed`, the new key an editor may accept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_host_key: Option<crate::config::SshHostKey>,
}

/// Accepts the host key an SSH bastion now presents (after an editor confirmed it with
/// the bastion's administrator).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AcceptSshHostKeyRequest {
    /// The new key's fingerprint as the failed test showed it (`SHA256:...`).
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionTestError {
    /// `unreachable`, `timeout`, `authentication`, `database_missing`, `permission_denied`,
    /// `tls_required`, `tls`, `bucket_missing`, `ssh_host_key_changed`, `ssh_sign_in`,
    /// `other`.
    pub kind: String,
    pub message: String,
    pub hint: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionView {
    pub id: ConnectionId,
    pub name: String,
    pub kind: ConnectionKind,
    pub team_id: TeamId,
    /// The caller's role on this connection.
    pub your_role: TeamRole,
    pub shares: Vec<TeamGrant>,
    /// Non-secret settings, and `{"set": true|false}` for each secret. Only for editors
    /// and admins; operators and viewers see name and kind only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub settings: Option<Map<String, Value>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// What an update did that the caller did not ask for, by field: a saved password
    /// cleared because the host it was bound to changed. Empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<FieldError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SharesRequest {
    /// Every team the resource is shared with, and at which role; replaces the list.
    pub shares: Vec<TeamGrant>,
}

/// A kind and its form fields.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionKindView {
    pub kind: ConnectionKind,
    pub label: &'static str,
    pub fields: &'static [crate::connection::FieldSpec],
    /// Whether the operator allows this kind here.
    pub available: bool,
    /// Choices of the kind's fields that the operator turned off here (S3's
    /// `auth: instance_role` unless `HAKOBU_ALLOW_AMBIENT_CLOUD_ROLE`).
    pub unavailable_choices: Vec<FieldChoice>,
}

/// One choice of a field: `auth` = `instance_role`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldChoice {
    pub field: String,
    pub choice: String,
}

/// The part of [`ConnectionKindView`] a client built with this crate reads: the kind's
/// fields are compiled into it, so only whether the operator allows the kind is asked.
/// `ConnectionKindView` borrows its texts from the binary and cannot be parsed back, hence
/// this subset; a test below keeps the two in step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionKindAvailability {
    pub kind: ConnectionKind,
    pub available: bool,
    #[serde(default)]
    pub unavailable_choices: Vec<FieldChoice>,
}

/// A column of a table, as discovery reports it (`GET /api/connections/{id}/columns`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ColumnView {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
}

/// Rows to preview: a table or a read-only query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    #[serde(default)]
    pub table: Option<TableRef>,
    #[serde(default)]
    pub query: Option<String>,
    /// How many rows, 1 to 100. Default 20.
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewResponse {
    pub columns: Vec<PreviewColumn>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<Object>>))]
    pub rows: Vec<Vec<Value>>,
    /// Whether the preview was cut short to stay within its size budget: long values end
    /// with `…` and later rows were not read. `message` says so in words.
    #[serde(default)]
    pub truncated: bool,
    /// Why the preview is cut short, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Which message of [`crate::messages`] `message` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The values of the message's `{name}` parts, for the translation.
    #[serde(default, skip_serializing_if = "MessageParams::is_empty")]
    pub params: MessageParams,
}

impl PreviewResponse {
    /// Why the preview is cut short, as received, to translate; `None` when it is whole.
    pub fn notice(&self) -> Option<Text> {
        self.message
            .as_deref()
            .map(|m| Text::received(m, self.code.as_deref(), &self.params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_view_reads_as_its_availability() {
        for kind in ConnectionKind::ALL {
            let view = ConnectionKindView {
                kind,
                label: kind.label(),
                fields: kind.fields(),
                available: false,
                unavailable_choices: vec![FieldChoice {
                    field: "auth".to_owned(),
                    choice: "instance_role".to_owned(),
                }],
            };
            let json = serde_json::to_string(&view).unwrap();
            let read: ConnectionKindAvailability = serde_json::from_str(&json).unwrap();
            assert_eq!(
                read,
                ConnectionKindAvailability {
                    kind,
                    available: false,
                    unavailable_choices: view.unavailable_choices.clone(),
                }
            );
        }
    }
}

/// The files of a file source to list (`GET /files`, as query parameters) or to guess from
/// (`POST /guess`): a path prefix, as a job's source has it (for files on the server,
/// relative to the connection's directory; for a bucket, a key prefix), and its pattern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct FilesRequest {
    #[serde(default)]
    pub path_prefix: String,
    /// Regular expression the path must match, e.g. `\.csv$`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_match_pattern: Option<String>,
    /// Guess: the file to read (one the listing answered); default the first non-empty one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Guess: rows to preview, 1 to 100. Default 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// The longest path prefix or file name a listing takes.
pub const FILE_PATH_MAX_CHARS: usize = 1024;

impl FilesRequest {
    /// Field errors in the request's own field names.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        for (field, value) in [
            ("path_prefix", Some(&self.path_prefix)),
            ("path_match_pattern", self.path_match_pattern.as_ref()),
            ("file", self.file.as_ref()),
        ] {
            if let Some(v) = value
                && v.chars().count() > FILE_PATH_MAX_CHARS
            {
                e.push_message(
                    field,
                    crate::messages::MessageCode::TooLong.with("n", FILE_PATH_MAX_CHARS),
                );
            }
        }
        if let Some(limit) = self.limit
            && !(1..=100).contains(&limit)
        {
            e.push_message(
                "limit",
                crate::messages::MessageCode::FromTo
                    .with("from", 1)
                    .with("to", 100),
            );
        }
        e.into_result()
    }
}

/// A file a listing found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileView {
    /// Its path as a job's prefix has it (relative to the connection's directory), or its key.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// When it last changed (RFC 3339), when the storage says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
}

/// What a guess found: the file it read, the source's file settings (format, compression,
/// CSV options and columns) ready for the job form, and the first rows read with them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuessResponse {
    pub file: FileView,
    pub source: crate::job::FileSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<PreviewResponse>,
    /// Why there is no preview, when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_note: Option<String>,
}
