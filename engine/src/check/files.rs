//! A file source's discovery for the wizard: the files a path prefix and pattern match (in
//! a bucket, or in the organization's folder on the server), and a guess of the first one's
//! format and columns with a preview of its first rows.
//!
//! Both read a tenant's storage, which may hold millions of files and files of any size or
//! content: a listing stops at [`FILE_LISTING_MAX_ENTRIES`] files or
//! [`FILE_LISTING_MAX_TIME`], a guess reads at most [`GUESS_MAX_BYTES`] of the file (its
//! head; for Parquet its footer, at most [`GUESS_PARQUET_FOOTER_MAX_BYTES`]), and the
//! preview parses only that sample. Local paths go through the same confinement as a run's
//! ([`FileAccess::Within`]); buckets through the egress policy.

use super::discovery::Listing;
use super::error::{CheckError, ErrorKind};
use super::guess::{self, GuessedFormat, TextGuess, looks_gzip, looks_parquet, sample_text};
use super::storage::{BucketAccess, open_store, store_error};
use crate::connectors::file::reader::{ListingBound, list_files_bounded, open_listed};
use crate::limits::{
    FILE_LISTING_MAX_ENTRIES, FILE_LISTING_MAX_TIME, GUESS_MAX_BYTES,
    GUESS_PARQUET_FOOTER_MAX_BYTES,
};
use crate::pipeline::{Preview, preview_config};
use crate::shared::files_root::{FileAccess, FilesRoot};
use futures::StreamExt;
use hakobu_core::config::{Config, FileInput, InputConfig};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where a file source's files are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStore {
    /// Files on the server: the organization's folder, as the app resolved it. Paths are
    /// relative to it and confined to it.
    Folder { folder: PathBuf },
    /// A bucket.
    Bucket { bucket: BucketAccess },
}

/// One file a listing found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Its path relative to the organization's folder, or its key.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// When it last changed (RFC 3339), when the storage says.
    pub modified: Option<String>,
}

/// What a guess found: the file it read, its format settings and columns, and its first
/// rows read with them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileGuess {
    pub file: FileEntry,
    /// The file is gzip-compressed.
    pub gzip: bool,
    pub guess: TextGuess,
    /// The first rows read with the guessed settings, through the file reader a run uses.
    pub preview: Option<Preview>,
    /// Why there are no rows to show, when there are none.
    pub preview_note: Option<String>,
}

fn failed(kind: ErrorKind, message: impl Into<String>) -> CheckError {
    CheckError {
        kind,
        ssh_host_key: None,
        message: message.into(),
    }
}

fn pattern(pattern: Option<&str>) -> Result<Option<regex::Regex>, CheckError> {
    pattern
        .filter(|p| !p.is_empty())
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| {
            failed(
                ErrorKind::Other,
                format!("path_match_pattern: not a valid regular expression: {e}"),
            )
        })
}

fn folder_access(folder: &std::path::Path) -> Result<FileAccess, CheckError> {
    FilesRoot::open(folder)
        .map(FileAccess::Within)
        .map_err(|e| failed(ErrorKind::DirectoryMissing, e.to_string()))
}

/// Files whose path (or key) starts with `prefix` and matches `pattern`, in path order,
/// at most `max` of them and for no longer than [`FILE_LISTING_MAX_TIME`].
pub async fn list_source_files(
    store: &FileStore,
    prefix: &str,
    path_pattern: Option<&str>,
    max: usize,
) -> Result<Listing<FileEntry>, CheckError> {
    let max = max.min(FILE_LISTING_MAX_ENTRIES);
    let pattern = pattern(path_pattern)?;
    let deadline = Instant::now() + FILE_LISTING_MAX_TIME;
    match store {
        FileStore::Folder { folder } => {
            let access = folder_access(folder)?;
            let (prefix, bound) = (
                prefix.to_owned(),
                ListingBound {
                    max_entries: max,
                    deadline: Some(deadline),
                },
            );
            let (files, truncated) = tokio::task::spawn_blocking(move || {
                list_files_bounded(&access, &prefix, pattern.as_ref(), None, &bound)
            })
            .await
            .map_err(|e| failed(ErrorKind::Other, e.to_string()))?
            .map_err(|e| failed(ErrorKind::DirectoryMissing, format!("{e:#}")))?;
            let items = files
                .into_iter()
                .map(|f| {
                    let meta = std::fs::metadata(&f.path).ok();
                    FileEntry {
                        name: f.shown,
                        size: meta.as_ref().map_or(0, |m| m.len()),
                        modified: meta
                            .and_then(|m| m.modified().ok())
                            .map(|t| chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339()),
                    }
                })
                .collect();
            Ok(Listing { items, truncated })
        }
        FileStore::Bucket { bucket } => {
            let store = open_store(bucket)?;
            // `list` takes a directory; the rest of the prefix filters names.
            let dir = prefix.rsplit_once('/').map(|(d, _)| ObjectPath::from(d));
            let mut stream = store.list(dir.as_ref());
            let mut items = Vec::new();
            let mut truncated = false;
            let mut answered = false;
            loop {
                let next = match tokio::time::timeout_at(deadline.into(), stream.next()).await {
                    // A bucket that never answered is not an empty one.
                    Err(_) if !answered => {
                        return Err(CheckError {
                            kind: ErrorKind::Timeout,
                            message: format!(
                                "the bucket gave no answer within {FILE_LISTING_MAX_TIME:?}"
                            ),
                            ssh_host_key: None,
                        });
                    }
                    Err(_) => {
                        truncated = true;
                        break;
                    }
                    Ok(None) => break,
                    Ok(Some(next)) => next.map_err(store_error)?,
                };
                answered = true;
                let key = next.location.to_string();
                if !key.starts_with(prefix) || pattern.as_ref().is_some_and(|p| !p.is_match(&key)) {
                    continue;
                }
                if items.len() == max {
                    truncated = true;
                    break;
                }
                items.push(FileEntry {
                    name: key,
                    size: next.size,
                    modified: Some(next.last_modified.to_rfc3339()),
                });
            }
            items.sort_by(|a: &FileEntry, b| a.name.cmp(&b.name));
            Ok(Listing { items, truncated })
        }
    }
}

/// Guesses the format and columns of the first file `prefix` and `pattern` match (or of
/// `file`, which must be one of them), from its first bytes, and previews `limit` rows of
/// that sample with the guess.
pub async fn guess_source_file(
    store: &FileStore,
    prefix: &str,
    path_pattern: Option<&str>,
    file: Option<&str>,
    limit: usize,
    timeout: Duration,
) -> Result<FileGuess, CheckError> {
    match tokio::time::timeout(
        timeout,
        guess_inner(store, prefix, path_pattern, file, limit),
    )
    .await
    {
        Ok(answer) => answer,
        Err(_) => Err(failed(
            ErrorKind::Timeout,
            format!("no answer within {timeout:?}"),
        )),
    }
}

async fn guess_inner(
    store: &FileStore,
    prefix: &str,
    path_pattern: Option<&str>,
    file: Option<&str>,
    limit: usize,
) -> Result<FileGuess, CheckError> {
    // The file itself, when named: listed with its own name as the prefix, so it goes
    // through the same matching and confinement as the listing.
    let chosen = match file {
        Some(name) if !name.starts_with(prefix) => {
            return Err(failed(
                ErrorKind::Other,
                format!("{name} does not start with the path prefix {prefix}"),
            ));
        }
        Some(name) => list_source_files(store, name, path_pattern, FILE_LISTING_MAX_ENTRIES)
            .await?
            .items
            .into_iter()
            .find(|f| f.name == name),
        None => list_source_files(store, prefix, path_pattern, FILE_LISTING_MAX_ENTRIES)
            .await?
            .items
            .into_iter()
            .find(|f| f.size > 0),
    };
    let Some(entry) = chosen else {
        return Err(failed(
            ErrorKind::Other,
            "no file matches the path prefix and pattern (or every one is empty)",
        ));
    };
    let head = read_range(store, &entry, Head::First).await?;
    let whole = head.len() as u64 >= entry.size;
    if looks_parquet(&entry.name, &head) {
        let tail = read_range(store, &entry, Head::Last).await?;
        let columns = guess::parquet_columns(&tail).map_err(|m| failed(ErrorKind::Other, m))?;
        let guess = TextGuess {
            format: GuessedFormat::Parquet,
            delimiter: ",".to_owned(),
            quote: "\"".to_owned(),
            skip_header_lines: 0,
            header_line: false,
            columns,
        };
        let (preview, preview_note) = match store {
            // Read through the run's own reader, confined to the folder.
            FileStore::Folder { folder } => {
                let input = file_input(&entry.name, &guess, false);
                let access = folder_access(folder)?;
                split(preview_file(input, &access, limit).await)
            }
            // A whole small object is at hand already.
            FileStore::Bucket { .. } if whole => split(preview_sample(&head, &guess, limit).await),
            FileStore::Bucket { .. } => (
                None,
                Some(format!(
                    "The rows of a Parquet object larger than {} are not previewed; the columns come from its footer.",
                    crate::limits::human_bytes(GUESS_MAX_BYTES)
                )),
            ),
        };
        return Ok(FileGuess {
            file: entry,
            gzip: false,
            guess,
            preview,
            preview_note,
        });
    }
    let gzip = looks_gzip(&entry.name, &head);
    let sample = sample_text(&head, whole, gzip);
    let guess = guess::guess_text(&sample).map_err(|m| failed(ErrorKind::Other, m))?;
    let (preview, preview_note) = split(preview_sample(&sample, &guess, limit).await);
    Ok(FileGuess {
        file: entry,
        gzip,
        guess,
        preview,
        preview_note,
    })
}

fn split(r: Result<Preview, String>) -> (Option<Preview>, Option<String>) {
    match r {
        Ok(p) => (Some(p), None),
        Err(note) => (None, Some(note)),
    }
}

/// Which bytes of a file to read.
enum Head {
    /// The first [`GUESS_MAX_BYTES`].
    First,
    /// The last [`GUESS_PARQUET_FOOTER_MAX_BYTES`] and eight (a Parquet footer).
    Last,
}

async fn read_range(
    store: &FileStore,
    entry: &FileEntry,
    which: Head,
) -> Result<Vec<u8>, CheckError> {
    let (start, len) = match which {
        Head::First => (0, entry.size.min(GUESS_MAX_BYTES as u64)),
        Head::Last => {
            let len = entry.size.min(GUESS_PARQUET_FOOTER_MAX_BYTES as u64 + 8);
            (entry.size - len, len)
        }
    };
    if len == 0 {
        return Ok(Vec::new());
    }
    match store {
        FileStore::Folder { folder } => {
            let access = folder_access(folder)?;
            let name = entry.name.clone();
            tokio::task::spawn_blocking(move || {
                // Listed again by its own name: opened only through the confined listing.
                let listed = list_files_bounded(
                    &access,
                    &name,
                    None,
                    None,
                    &ListingBound {
                        max_entries: FILE_LISTING_MAX_ENTRIES,
                        deadline: Some(Instant::now() + FILE_LISTING_MAX_TIME),
                    },
                )?
                .0
                .into_iter()
                .find(|f| f.shown == name)
                .ok_or_else(|| anyhow::anyhow!("{name} is gone"))?;
                let mut file = open_listed(&access, &listed)?;
                file.seek(SeekFrom::Start(start))?;
                let mut out = Vec::with_capacity(len as usize);
                file.take(len).read_to_end(&mut out)?;
                anyhow::Ok(out)
            })
            .await
            .map_err(|e| failed(ErrorKind::Other, e.to_string()))?
            .map_err(|e| failed(ErrorKind::DirectoryMissing, format!("{e:#}")))
        }
        FileStore::Bucket { bucket } => {
            let store = open_store(bucket)?;
            store
                .get_range(&ObjectPath::from(entry.name.as_str()), start..start + len)
                .await
                .map(|b| b.to_vec())
                .map_err(store_error)
        }
    }
}

/// The file input a guess stands for: `path` read with the guessed settings.
fn file_input(path: &str, guess: &TextGuess, gzip: bool) -> FileInput {
    let columns: Vec<serde_json::Value> = guess
        .columns
        .iter()
        .map(|c| {
            let mut v = json!({"name": c.name, "type": c.type_});
            if let Some(f) = &c.format {
                v["format"] = json!(f);
            }
            v
        })
        .collect();
    let parser = match guess.format {
        GuessedFormat::Csv => json!({
            "type": "csv",
            "delimiter": guess.delimiter,
            "quote": guess.quote,
            "skip_header_lines": guess.skip_header_lines + u32::from(guess.header_line),
            "allow_optional_columns": true,
            "columns": columns,
        }),
        GuessedFormat::Jsonl => json!({"type": "jsonl", "columns": columns}),
        GuessedFormat::Parquet => json!({"type": "parquet", "columns": columns}),
    };
    let mut input = json!({"path_prefix": path, "parser": parser});
    if gzip {
        input["decoders"] = json!([{"type": "gzip"}]);
    }
    serde_json::from_value(input).expect("a guess makes a valid file input")
}

/// Previews `limit` rows of the sample (already decompressed) through the file reader a
/// run uses, staged in a temporary file of the engine's own.
async fn preview_sample(sample: &[u8], guess: &TextGuess, limit: usize) -> Result<Preview, String> {
    let dir = crate::connectors::s3::temp_path("guess");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join("sample");
    let result = async {
        std::fs::write(&path, sample).map_err(|e| e.to_string())?;
        let input = file_input(&path.to_string_lossy(), guess, false);
        preview_file(input, &FileAccess::Unconfined, limit).await
    }
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn preview_file(
    input: FileInput,
    access: &FileAccess,
    limit: usize,
) -> Result<Preview, String> {
    let config = Config {
        input: InputConfig::File(input),
        filters: vec![],
        out: hakobu_core::config::OutputConfig::File(hakobu_core::config::FileOutput {
            path_prefix: String::new(),
            file_ext: String::new(),
            sequence_format: None,
            encoders: vec![],
            formatter: hakobu_core::config::FormatterConfig::Jsonl(
                hakobu_core::config::JsonlFormatter {
                    encoding: None,
                    newline: None,
                    date_format: None,
                    timezone: None,
                },
            ),
        }),
        exec: Default::default(),
    };
    preview_config(&config, access, limit)
        .await
        .map_err(|e| format!("{e:#}"))
}
