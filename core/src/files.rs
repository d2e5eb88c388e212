//! Paths of files on the Hakobu server, as tenants write them.
//!
//! A tenant's path is relative to their organization's files folder
//! (`<HAKOBU_LOCAL_FILES_ROOT>/<organization id>/`): `exports/day_` means
//! `<root>/<organization>/exports/day_`, and `.` is the folder itself. A path starting with
//! `/` or with a `..` part is refused here, before anything touches the disk.
//!
//! This is the half of the rule that needs no filesystem, so the browser checks a form with
//! it and the server's validators use the same words. The other half, canonical paths and
//! symbolic links, is `hakobu_engine::shared::files_root::FilesRoot`, which calls this
//! first: a path is only ever resolved there.

use crate::messages::MessageCode;
use std::fmt;

/// Why a tenant's path is refused without looking at the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRefusal {
    /// It starts with `/`: it would name a place on the server rather than in the folder.
    Absolute,
    /// It has a `..` part (or, once resolved, reaches outside through a symbolic link).
    LeavesFolder,
}

impl PathRefusal {
    /// The catalogue's message, for field errors and run failures alike.
    pub fn message(self) -> MessageCode {
        match self {
            PathRefusal::Absolute => MessageCode::PathAbsolute,
            PathRefusal::LeavesFolder => MessageCode::PathLeavesFolder,
        }
    }
}

impl fmt::Display for PathRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message().english_template())
    }
}

impl std::error::Error for PathRefusal {}

/// Checks a tenant's path lexically: relative, and without `..`. An empty path or `.` is
/// the folder itself.
///
/// `..` is refused even where it would come back inside (`a/../b`): a rule without
/// exceptions is one a person can predict, and nobody needs to write such a path.
pub fn check_relative(path: &str) -> Result<(), PathRefusal> {
    if path.starts_with('/') {
        return Err(PathRefusal::Absolute);
    }
    if path.split('/').any(|part| part == "..") {
        return Err(PathRefusal::LeavesFolder);
    }
    Ok(())
}

/// The path a job reads or writes: its connection's directory, then the job's prefix.
/// The directory `.` (the folder itself) adds nothing, so `.` + `day_` is `day_`, which
/// [`split`] turns back into `.` and `day_`.
pub fn join(directory: &str, prefix: &str) -> String {
    let directory = directory.trim_end_matches('/');
    if directory.is_empty() || directory == "." {
        prefix.to_owned()
    } else {
        format!("{directory}/{}", prefix.trim_start_matches('/'))
    }
}

/// The inverse of [`join`] for a path read from an Embulk config: the directory part
/// (`.` when there is none) and the file name prefix.
pub fn split(path: &str) -> (String, String) {
    match path.rsplit_once('/') {
        Some((directory, prefix)) if !directory.is_empty() => {
            (directory.to_owned(), prefix.to_owned())
        }
        // `/x` keeps its `/`, so the check that follows refuses it as absolute rather
        // than quietly reading `x` from the folder.
        Some((_, prefix)) => ("/".to_owned(), prefix.to_owned()),
        None => (".".to_owned(), path.to_owned()),
    }
}

/// `path` without `.` parts and repeated slashes, keeping a first and a final `/` (which
/// in a prefix means "everything in this directory"): the form in which relative paths
/// are matched and shown.
pub fn normalize(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    let mut out = parts.join("/");
    if path.starts_with('/') {
        out.insert(0, '/');
    }
    if path.ends_with('/') && !out.is_empty() && !out.ends_with('/') {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_pass_and_the_rest_is_refused_by_name() {
        for ok in [
            "exports/day_",
            ".",
            "",
            "a/b/",
            "./exports",
            "dots..in..names",
        ] {
            assert_eq!(check_relative(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_relative("/etc/passwd"), Err(PathRefusal::Absolute));
        for escape in ["..", "../other", "exports/../../x", "a/..", "a/../b"] {
            assert_eq!(
                check_relative(escape),
                Err(PathRefusal::LeavesFolder),
                "{escape}"
            );
        }
        assert_eq!(
            PathRefusal::LeavesFolder.to_string(),
            "this path leaves your organization's files folder"
        );
    }

    #[test]
    fn join_and_split_are_inverse() {
        assert_eq!(join("exports", "day_"), "exports/day_");
        assert_eq!(join("exports/", "/day_"), "exports/day_");
        assert_eq!(join(".", "day_"), "day_");
        for path in ["exports/day_", "day_", "a/b/c_"] {
            let (directory, prefix) = split(path);
            assert_eq!(join(&directory, &prefix), path);
        }
        assert_eq!(split("/etc/host"), ("/etc".to_owned(), "host".to_owned()));
        assert_eq!(split("/host"), ("/".to_owned(), "host".to_owned()));
    }

    #[test]
    fn normalize_drops_dots_and_keeps_a_final_slash() {
        assert_eq!(normalize("./exports//day_"), "exports/day_");
        assert_eq!(normalize("exports/./"), "exports/");
        assert_eq!(normalize("."), "");
        assert_eq!(normalize("./"), "");
        assert_eq!(
            normalize("/etc//passwd"),
            "/etc/passwd",
            "absolute stays absolute"
        );
    }
}
