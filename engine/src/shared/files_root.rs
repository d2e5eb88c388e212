//! Where a run may read and write files on the Hakobu server: the one rule for local paths,
//! used by the app (connections, jobs, imports, run start) and by the file connectors
//! (before opening anything).
//!
//! Each organization has a folder, `<HAKOBU_LOCAL_FILES_ROOT>/<organization id>/`, created
//! on first use. A tenant's path is relative to it (`hakobu_core::files` refuses `/...` and
//! `..` without touching the disk); [`FilesRoot::resolve`] then follows the path on the disk,
//! symbolic links included, and refuses it unless its canonical form is inside the folder.
//! A path that does not exist yet (an output) is judged by its nearest existing ancestor,
//! which is where the missing parts would be created.
//!
//! Checking a path and then opening it leaves a moment in which a directory could be
//! swapped for a link; so on Linux an opened file is checked again through
//! `/proc/self/fd` ([`FilesRoot::verify_opened`]), which names what was really opened.

use hakobu_core::files::{self, PathRefusal};
use hakobu_core::ids::OrganizationId;
use std::fs::File;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a tenant's path is not used.
#[derive(Debug, thiserror::Error)]
pub enum PathRefused {
    /// Absolute, `..`, or leading outside the folder once links are followed.
    #[error("{0}")]
    Rule(PathRefusal),
    /// The disk could not say where the path leads (a directory that may not be listed,
    /// say): a path that cannot be checked is not allowed.
    #[error("cannot be checked on the server: {0}")]
    Unreadable(io::Error),
}

impl PathRefused {
    /// Whether the path leaves the organization's folder (as opposed to being unreadable).
    pub fn leaves_folder(&self) -> bool {
        matches!(self, PathRefused::Rule(PathRefusal::LeavesFolder))
    }
}

impl From<PathRefusal> for PathRefused {
    fn from(refusal: PathRefusal) -> Self {
        PathRefused::Rule(refusal)
    }
}

/// An organization's files folder, canonical (symbolic links of the operator's root
/// resolved once, so every comparison is between canonical paths).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesRoot {
    folder: PathBuf,
}

impl FilesRoot {
    /// The folder of `organization` under the operator's `root`, created if missing.
    pub fn for_organization(root: &Path, organization: OrganizationId) -> io::Result<FilesRoot> {
        FilesRoot::open(&root.join(organization.to_string()))
    }

    /// The folder itself, as the app names it to a runner; created if missing (a runner
    /// on another machine may be the first to use a shared volume).
    pub fn open(folder: &Path) -> io::Result<FilesRoot> {
        std::fs::create_dir_all(folder)?;
        Ok(FilesRoot {
            folder: std::fs::canonicalize(folder)?,
        })
    }

    /// The canonical folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Where `tenant_path` (relative to the folder) leads on the disk, if that is inside
    /// the folder. Existing parts are canonicalised (links followed); parts that do not
    /// exist yet are appended to the canonical nearest existing ancestor, which is where
    /// they would be created.
    pub fn resolve(&self, tenant_path: &str) -> Result<PathBuf, PathRefused> {
        files::check_relative(tenant_path)?;
        let parts: Vec<&std::ffi::OsStr> = Path::new(tenant_path)
            .components()
            .filter_map(|c| match c {
                Component::Normal(part) => Some(part),
                // `.`; `/` and `..` were refused above.
                _ => None,
            })
            .collect();
        let mut existing = self.folder.clone();
        let mut found = 0;
        for part in &parts {
            let next = existing.join(part);
            // Not following the last part: a link that points nowhere exists too, and is
            // judged below rather than treated as a name still free.
            match std::fs::symlink_metadata(&next) {
                Ok(_) => {
                    existing = next;
                    found += 1;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                Err(e) => return Err(PathRefused::Unreadable(e)),
            }
        }
        let mut resolved = self.check(&existing)?;
        for part in &parts[found..] {
            resolved.push(part);
        }
        Ok(resolved)
    }

    /// The canonical form of an existing `physical` path, if it is inside the folder.
    pub fn check(&self, physical: &Path) -> Result<PathBuf, PathRefused> {
        match std::fs::canonicalize(physical) {
            Ok(canonical) if canonical.starts_with(&self.folder) => Ok(canonical),
            Ok(_) => Err(PathRefusal::LeavesFolder.into()),
            // A link to nowhere: writing through it would create its target, wherever
            // that is, so it is treated as leading outside.
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    && std::fs::symlink_metadata(physical)
                        .is_ok_and(|m| m.file_type().is_symlink()) =>
            {
                Err(PathRefusal::LeavesFolder.into())
            }
            Err(e) => Err(PathRefused::Unreadable(e)),
        }
    }

    /// `physical` as the tenant knows it: relative to the folder, so messages and the
    /// next run's `last_path` never show where the folder is on the server.
    pub fn shown(&self, physical: &Path) -> String {
        physical
            .strip_prefix(&self.folder)
            .unwrap_or(physical)
            .to_string_lossy()
            .into_owned()
    }

    /// Checks what `file` really is, after it was opened: on Linux `/proc/self/fd` names
    /// the file behind the descriptor, whatever happened to the path since it was checked.
    /// Elsewhere (or without `/proc`) the check before opening is what holds.
    pub fn verify_opened(&self, file: &File) -> Result<(), PathRefused> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let fd = format!("/proc/self/fd/{}", file.as_raw_fd());
            if let Ok(actual) = std::fs::read_link(fd)
                && !actual.starts_with(&self.folder)
            {
                return Err(PathRefusal::LeavesFolder.into());
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = file;
        Ok(())
    }
}

/// Which files a run may open.
#[derive(Debug, Clone)]
pub enum FileAccess {
    /// `hakobu-runner run config.yml`: the operator runs their own config on their own
    /// machine, and paths mean what they say (relative ones from the working directory).
    Unconfined,
    /// A tenant's run: every path is relative to this folder and must stay inside it.
    Within(FilesRoot),
    /// A tenant's run given no folder (the job uses no files on the server, or the
    /// operator turned them off): no file is opened at all.
    Off,
}

impl FileAccess {
    /// The folder, for a run confined to one; `Err` when files are off.
    pub fn root(&self) -> anyhow::Result<Option<&FilesRoot>> {
        match self {
            FileAccess::Unconfined => Ok(None),
            FileAccess::Within(root) => Ok(Some(root)),
            FileAccess::Off => anyhow::bail!(
                "files on the Hakobu server are not available to this run (the operator has not set HAKOBU_LOCAL_FILES_ROOT)"
            ),
        }
    }
}
