//! Files on the Hakobu server, per organization. They exist only when the operator set
//! `HAKOBU_LOCAL_FILES_ROOT`; each organization then has the folder
//! `<root>/<organization id>/`, created on first use, and every path a tenant gives for
//! files there is relative to it: a connection's directory (create, update, test, import),
//! a job's prefixes (save), and the path a run reads or writes once its variables are
//! filled in (run start, before the runner is given anything).
//!
//! The rule itself is the engine's [`FilesRoot`], the same one the runner applies again
//! before it opens a file; this module only finds the organization's folder and says a
//! refusal in the API's terms, naming the field.

use crate::error::ApiError;
use crate::models::connection::Connection;
use crate::state::AppState;
use hakobu_core::connection::{ConnectionKind, setting_str};
use hakobu_core::ids::OrganizationId;
use hakobu_core::job::{JobSettings, local_path};
use hakobu_core::messages::{MessageCode, Text};
use hakobu_core::validation::FieldErrors;
use hakobu_engine::{FilesRoot, PathRefused};
use serde_json::{Map, Value};
use std::path::PathBuf;

/// Why an organization has no files folder to use.
enum NoFolder {
    /// The operator did not set `HAKOBU_LOCAL_FILES_ROOT`: files on the server are off.
    TurnedOff,
    /// The folder cannot be created or read (the operator's disk, not the tenant's input).
    Unusable(std::io::Error),
}

impl NoFolder {
    /// As an API error: a turned-off kind is said on `field`, naming the kind.
    fn api_error(self, field: &str) -> ApiError {
        match self {
            NoFolder::TurnedOff => ApiError::field(
                field,
                MessageCode::LocalFilesOff.with("kind", ConnectionKind::LocalFiles),
            ),
            NoFolder::Unusable(e) => ApiError::Internal(e.into()),
        }
    }

    /// As the reason a run could not start.
    fn words(self) -> String {
        match self {
            NoFolder::TurnedOff => MessageCode::LocalFilesOff
                .with("kind", ConnectionKind::LocalFiles)
                .english(),
            NoFolder::Unusable(e) => {
                tracing::error!(error = %e, "an organization's files folder cannot be used");
                "The organization's files folder on the Hakobu server cannot be used; tell your administrator.".to_owned()
            }
        }
    }
}

/// The organization's files folder, created if missing.
fn organization_folder(
    state: &AppState,
    organization: OrganizationId,
) -> Result<FilesRoot, NoFolder> {
    let root = state
        .settings
        .local_files_root
        .as_ref()
        .ok_or(NoFolder::TurnedOff)?;
    FilesRoot::for_organization(root, organization).map_err(|e| {
        NoFolder::Unusable(std::io::Error::new(
            e.kind(),
            format!(
                "the files folder of organization {organization} under {}: {e}",
                root.display()
            ),
        ))
    })
}

/// A refusal in the catalogue's words (the physical path is never part of it).
fn refusal_text(refused: &PathRefused) -> Text {
    match refused {
        PathRefused::Rule(rule) => rule.message().into(),
        PathRefused::Unreadable(_) => refused.to_string().into(),
    }
}

/// Where a `local_files` connection's directory is on the disk: files on the server must
/// be on, and the directory inside the organization's folder. Fields are `kind` and
/// `settings.directory`.
pub fn resolve_directory(
    state: &AppState,
    organization: OrganizationId,
    settings: &Map<String, Value>,
) -> Result<PathBuf, ApiError> {
    let folder = organization_folder(state, organization).map_err(|e| e.api_error("kind"))?;
    let directory = setting_str(ConnectionKind::LocalFiles, settings, "directory")
        .map(|d| d.into_owned())
        .unwrap_or_default();
    folder
        .resolve(&directory)
        .map_err(|refused| ApiError::field("settings.directory", refusal_text(&refused)))
}

/// The local paths a job reads and writes: `(field of the prefix, field of the
/// connection, path relative to the organization's folder)` for each side on files on
/// the server.
fn job_paths<'a>(
    settings: &JobSettings,
    sides: [(&'a str, &'a Connection); 2],
) -> Vec<(&'a str, String)> {
    let prefixes = [
        settings
            .source
            .files
            .as_ref()
            .map(|f| f.path_prefix.as_str()),
        settings
            .destination
            .files
            .as_ref()
            .map(|f| f.path_prefix.as_str()),
    ];
    sides
        .into_iter()
        .zip(prefixes)
        .filter_map(|((side, connection), prefix)| {
            let plain = connection.settings.as_object().cloned().unwrap_or_default();
            local_path(connection.kind, &plain, prefix).map(|path| (side, path))
        })
        .collect()
}

/// Save-time check of a job's prefixes on files on the server: each, joined to its
/// connection's directory, must stay inside the organization's folder. Fields are the
/// job settings' (`settings.source.files.path_prefix`).
pub fn check_job(
    state: &AppState,
    settings: &JobSettings,
    source: &Connection,
    destination: &Connection,
) -> Result<(), ApiError> {
    let mut errors = FieldErrors::default();
    for (side, path) in job_paths(settings, [("source", source), ("destination", destination)]) {
        let folder = organization_folder(state, source.organization_id)
            .map_err(|e| e.api_error(&format!("settings.{side}.connection_id")))?;
        if let Err(refused) = folder.resolve(&path) {
            errors.push_message(
                format!("settings.{side}.files.path_prefix"),
                refusal_text(&refused),
            );
        }
    }
    errors.into_result().map_err(ApiError::Validation)
}

/// At a run's start, with its variables filled in: the folder the runner may use, when
/// the job reads or writes files on the server, or why the run cannot start (in words for
/// its error summary, naming the setting and the path as the job has it).
pub fn folder_for_run(
    state: &AppState,
    settings: &JobSettings,
    source: &Connection,
    destination: &Connection,
) -> Result<Option<PathBuf>, String> {
    let paths = job_paths(settings, [("source", source), ("destination", destination)]);
    if paths.is_empty() {
        return Ok(None);
    }
    let folder = organization_folder(state, source.organization_id).map_err(NoFolder::words)?;
    for (side, path) in paths {
        if let Err(refused) = folder.resolve(&path) {
            return Err(format!(
                "{side}.files.path_prefix: {} ({path})",
                refusal_text(&refused).english
            ));
        }
    }
    Ok(Some(folder.folder().to_path_buf()))
}

/// For discovery of a `local_files` connection's files: the organization's folder, and
/// the connection's directory joined with `prefix` (relative to the folder, normalized),
/// refused on `path_prefix` when absolute, with `..`, or leading outside the folder.
pub fn resolve_prefix(
    state: &AppState,
    organization: OrganizationId,
    settings: &Map<String, Value>,
    prefix: &str,
) -> Result<(PathBuf, String), ApiError> {
    hakobu_core::files::check_relative(prefix)
        .map_err(|refusal| ApiError::field("path_prefix", refusal.message()))?;
    let folder = organization_folder(state, organization).map_err(|e| e.api_error("kind"))?;
    let path = local_path(ConnectionKind::LocalFiles, settings, Some(prefix)).unwrap_or_default();
    folder
        .resolve(&path)
        .map_err(|refused| ApiError::field("path_prefix", refusal_text(&refused)))?;
    Ok((
        folder.folder().to_path_buf(),
        hakobu_core::files::normalize(&path),
    ))
}

/// A file's name relative to the organization's folder, as the connection's jobs name it:
/// relative to its directory.
pub fn name_in_directory(settings: &Map<String, Value>, name: &str) -> String {
    let directory = setting_str(ConnectionKind::LocalFiles, settings, "directory")
        .map(|d| {
            hakobu_core::files::normalize(&d)
                .trim_end_matches('/')
                .to_owned()
        })
        .unwrap_or_default();
    if directory.is_empty() {
        return name.to_owned();
    }
    name.strip_prefix(&format!("{directory}/"))
        .unwrap_or(name)
        .to_owned()
}

/// A name as the connection's jobs give it, relative to the organization's folder.
pub fn name_in_folder(settings: &Map<String, Value>, name: &str) -> String {
    local_path(ConnectionKind::LocalFiles, settings, Some(name))
        .map(|p| hakobu_core::files::normalize(&p))
        .unwrap_or_else(|| name.to_owned())
}
