//! Files on the Hakobu server confined to an organization's folder: `FilesRoot` on a real
//! filesystem (relative paths, `..`, absolute paths, symbolic links in and out, another
//! organization's folder), and the file reader and writer of a tenant's run refusing what
//! leads outside. Needs nothing but the filesystem: every run here is file to file.

use crate::common::*;
use hakobu_core::files::PathRefusal;
use hakobu_core::ids::OrganizationId;
use hakobu_engine::{FileAccess, FilesRoot, PathRefused};
use std::os::unix::fs::symlink;
use std::path::Path;

fn refusal(result: Result<std::path::PathBuf, PathRefused>) -> PathRefusal {
    match result {
        Err(PathRefused::Rule(r)) => r,
        other => panic!("expected a refusal by rule, got {other:?}"),
    }
}

/// An operator's root with two organizations' folders, and a secret of the service beside
/// them (what `.env.local` was in the issue).
struct Fixture {
    dir: TempDir,
    org: OrganizationId,
    other: OrganizationId,
}

impl Fixture {
    fn new() -> Self {
        let dir = TempDir::new();
        std::fs::write(dir.0.join("service.env"), "HAKOBU_SECRET_KEY=k1:secret\n").unwrap();
        Fixture {
            dir,
            org: OrganizationId::new(),
            other: OrganizationId::new(),
        }
    }
    fn root(&self) -> std::path::PathBuf {
        self.dir.0.join("files")
    }
    fn files(&self, org: OrganizationId) -> FilesRoot {
        FilesRoot::for_organization(&self.root(), org).unwrap()
    }
}

#[test]
fn files_root_resolves_relative_paths_inside_and_refuses_every_way_out() {
    let f = Fixture::new();
    assert!(!f.root().join(f.org.to_string()).exists());
    let files = f.files(f.org);
    let folder = files.folder().to_path_buf();
    assert!(folder.is_dir(), "the folder is created on first use");
    assert_eq!(
        folder,
        f.root().join(f.org.to_string()).canonicalize().unwrap()
    );

    // Relative paths, existing or not yet, are inside.
    std::fs::create_dir_all(folder.join("exports")).unwrap();
    assert_eq!(
        files.resolve("exports/day_").unwrap(),
        folder.join("exports/day_")
    );
    assert_eq!(
        files.resolve("./new/deeper/out_").unwrap(),
        folder.join("new/deeper/out_")
    );
    assert_eq!(files.resolve(".").unwrap(), folder);

    // Absolute paths and `..`, however written.
    let secret = f.dir.0.join("service.env");
    assert_eq!(
        refusal(files.resolve(secret.to_str().unwrap())),
        PathRefusal::Absolute
    );
    for escape in ["..", "../../service.env", "exports/../../x", "exports/.."] {
        assert_eq!(
            refusal(files.resolve(escape)),
            PathRefusal::LeavesFolder,
            "{escape}"
        );
    }

    // A link inside the folder to a file or directory outside it.
    symlink(&secret, folder.join("innocent.csv")).unwrap();
    symlink(&f.dir.0, folder.join("up")).unwrap();
    for escape in ["innocent.csv", "up", "up/service.env", "up/new_file"] {
        assert_eq!(
            refusal(files.resolve(escape)),
            PathRefusal::LeavesFolder,
            "{escape}"
        );
    }
    // A link to nowhere would create its target wherever it points.
    symlink(f.dir.0.join("created-by-a-tenant"), folder.join("dangling")).unwrap();
    assert_eq!(
        refusal(files.resolve("dangling")),
        PathRefusal::LeavesFolder
    );

    // A link that stays inside is followed.
    symlink(folder.join("exports"), folder.join("current")).unwrap();
    assert_eq!(
        files.resolve("current/day_").unwrap(),
        folder.join("exports/day_")
    );

    // Another organization's folder: by `..` (refused before the disk is asked), and by a
    // link planted in this one.
    let other = f.files(f.other);
    std::fs::write(other.folder().join("theirs.csv"), "1\n").unwrap();
    assert_eq!(
        refusal(files.resolve(&format!("../{}/theirs.csv", f.other))),
        PathRefusal::LeavesFolder
    );
    symlink(other.folder(), folder.join("neighbour")).unwrap();
    assert_eq!(
        refusal(files.resolve("neighbour/theirs.csv")),
        PathRefusal::LeavesFolder
    );

    // What a descriptor really is, checked after opening.
    let inside = std::fs::File::open(folder.join("exports")).unwrap();
    assert!(files.verify_opened(&inside).is_ok());
    let outside = std::fs::File::open(&secret).unwrap();
    assert!(files.verify_opened(&outside).unwrap_err().leaves_folder());
    assert_eq!(
        files.shown(&folder.join("exports/day_1.csv")),
        "exports/day_1.csv"
    );
}

fn csv_in(prefix: &str) -> String {
    format!(
        "in:\n  type: file\n  path_prefix: '{prefix}'\n  parser:\n    type: csv\n    columns:\n      - {{name: line, type: string}}\n"
    )
}

fn csv_out(prefix: &str) -> String {
    format!(
        "out:\n  type: file\n  path_prefix: '{prefix}'\n  file_ext: csv\n  formatter: {{type: csv, header_line: false}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_run_reads_and_writes_relative_to_its_folder() {
    let f = Fixture::new();
    let files = f.files(f.org);
    let folder = files.folder().to_path_buf();
    std::fs::create_dir_all(folder.join("in")).unwrap();
    std::fs::write(folder.join("in/a.csv"), "one\ntwo\n").unwrap();
    let access = FileAccess::Within(files);
    let yaml = format!("{}{}", csv_in("in/"), csv_out("out/day_"));
    let summary = run_with_files(&yaml, &access).await.unwrap();
    assert_eq!(summary.rows_written, 2);
    assert_eq!(
        std::fs::read_to_string(folder.join("out/day_000.00.csv")).unwrap(),
        "one\r\ntwo\r\n"
    );
    // The next run's state names the file as the tenant does, not where the folder is.
    assert_eq!(
        summary.next_diff.input.last_path.as_deref(),
        Some("in/a.csv")
    );
    // A prefix without a directory reads the folder itself.
    std::fs::write(folder.join("top_1.csv"), "three\n").unwrap();
    let yaml = format!("{}{}", csv_in("top_"), csv_out("out/top_"));
    assert_eq!(
        run_with_files(&yaml, &access).await.unwrap().rows_written,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reader_refuses_paths_and_links_that_lead_outside_the_folder() {
    let f = Fixture::new();
    let files = f.files(f.org);
    let folder = files.folder().to_path_buf();
    let secret = f.dir.0.join("service.env");
    std::fs::create_dir_all(folder.join("in")).unwrap();
    std::fs::write(folder.join("in/a.csv"), "mine\n").unwrap();
    // The prefix matches a link to the service's secrets among the tenant's own files.
    symlink(&secret, folder.join("in/b.csv")).unwrap();
    let access = FileAccess::Within(files);

    let out = folder.join("out/stolen_000.00.csv");
    let err = format!(
        "{:#}",
        run_with_files(
            &format!("{}{}", csv_in("in/"), csv_out("out/stolen_")),
            &access
        )
        .await
        .unwrap_err()
    );
    assert!(
        err.contains("in/b.csv: this path leaves your organization's files folder"),
        "{err}"
    );
    assert!(
        !err.contains(&f.dir.0.display().to_string()),
        "no server path: {err}"
    );
    assert!(!out.exists(), "nothing was written");

    // A directory of the prefix that is a link out, an absolute prefix, `..`, and the
    // other organization's folder.
    symlink(&f.dir.0, folder.join("up")).unwrap();
    let other = f.files(f.other);
    std::fs::write(other.folder().join("theirs.csv"), "theirs\n").unwrap();
    for (prefix, expected) in [
        (
            "up/service".to_owned(),
            "this path leaves your organization's files folder",
        ),
        (secret.display().to_string(), "not one starting with /"),
        (
            "../../service".to_owned(),
            "this path leaves your organization's files folder",
        ),
        (
            format!("../{}/theirs", f.other),
            "this path leaves your organization's files folder",
        ),
    ] {
        let err = format!(
            "{:#}",
            run_with_files(
                &format!("{}{}", csv_in(&prefix), csv_out("out/stolen_")),
                &access
            )
            .await
            .unwrap_err()
        );
        assert!(err.contains(expected), "{prefix}: {err}");
        assert!(!out.exists(), "{prefix}: nothing was written");
    }

    // Without a folder, a tenant's run opens no file at all.
    let err = format!(
        "{:#}",
        run_with_files(
            &format!("{}{}", csv_in("in/"), csv_out("out/stolen_")),
            &FileAccess::Off
        )
        .await
        .unwrap_err()
    );
    assert!(err.contains("not available to this run"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_refuses_to_leave_the_folder_and_never_writes_through_a_planted_link() {
    let f = Fixture::new();
    let files = f.files(f.org);
    let folder = files.folder().to_path_buf();
    std::fs::write(folder.join("a.csv"), "row\n").unwrap();
    let access = FileAccess::Within(files);
    let victim = f.dir.0.join("victim.txt");
    std::fs::write(&victim, "untouched").unwrap();

    symlink(&f.dir.0, folder.join("up")).unwrap();
    for prefix in ["../escape_", "up/escape_"] {
        let err = format!(
            "{:#}",
            run_with_files(&format!("{}{}", csv_in("a"), csv_out(prefix)), &access)
                .await
                .unwrap_err()
        );
        assert!(
            err.contains("this path leaves your organization's files folder"),
            "{prefix}: {err}"
        );
    }
    assert!(!Path::new(&f.dir.path("escape_000.00.csv")).exists());

    // The final name as a link out is refused; a link at the temporary name is replaced,
    // never written through.
    symlink(&victim, folder.join("linked_000.00.csv")).unwrap();
    let err = format!(
        "{:#}",
        run_with_files(&format!("{}{}", csv_in("a"), csv_out("linked_")), &access)
            .await
            .unwrap_err()
    );
    assert!(
        err.contains("leaves your organization's files folder"),
        "{err}"
    );
    symlink(&victim, folder.join("planted_000.00.csv.hakobu-tmp")).unwrap();
    let summary = run_with_files(&format!("{}{}", csv_in("a"), csv_out("planted_")), &access)
        .await
        .unwrap();
    assert_eq!(summary.rows_written, 1);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    assert_eq!(
        std::fs::read_to_string(folder.join("planted_000.00.csv")).unwrap(),
        "row\r\n"
    );
}
