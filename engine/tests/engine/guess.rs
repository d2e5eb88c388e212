//! Guessing a file source's format and columns (`check::guess_text`, `check::parquet_columns`)
//! and the wizard's discovery on a folder (`check::list_source_files`,
//! `check::guess_source_file`): CSV variants, JSONL, Parquet, gzip, and the bounds that
//! hold for a huge or garbage file. Needs nothing but the disk.

use crate::common::TempDir;
use hakobu_core::config::ColumnType;
use hakobu_engine::check::{
    FileStore, GuessedFormat, TextGuess, guess_source_file, guess_text, list_source_files,
};
use std::io::Write;
use std::time::{Duration, Instant};

fn types(g: &TextGuess) -> Vec<(&str, ColumnType)> {
    g.columns
        .iter()
        .map(|c| (c.name.as_str(), c.type_))
        .collect()
}

#[test]
fn csv_with_a_header_and_typed_columns() {
    let g = guess_text(
        b"id,name,price,active,created_at\n1,apple,1.5,true,2024-01-02 03:04:05\n2,pear,2,false,2024-01-03 00:00:00\n",
    )
    .unwrap();
    assert_eq!(g.format, GuessedFormat::Csv);
    assert_eq!(g.delimiter, ",");
    assert!(g.header_line);
    assert_eq!(g.skip_header_lines, 0);
    assert_eq!(
        types(&g),
        [
            ("id", ColumnType::Long),
            ("name", ColumnType::String),
            ("price", ColumnType::Double),
            ("active", ColumnType::Boolean),
            ("created_at", ColumnType::Timestamp),
        ]
    );
    assert_eq!(g.columns[4].format.as_deref(), Some("%Y-%m-%d %H:%M:%S"));
}

#[test]
fn semicolon_tab_and_pipe_delimiters() {
    for d in [";", "\t", "|"] {
        let text = format!("a{d}b{d}c\n1{d}x,y{d}2024-01-02\n2{d}z{d}2024-02-03\n");
        let g = guess_text(text.as_bytes()).unwrap();
        assert_eq!(g.delimiter, d, "{text:?}");
        assert!(g.header_line);
        assert_eq!(
            types(&g),
            [
                ("a", ColumnType::Long),
                ("b", ColumnType::String),
                ("c", ColumnType::Timestamp)
            ]
        );
    }
}

#[test]
fn quoted_fields_holding_the_delimiter() {
    let g = guess_text(
        b"id,note,amount\n1,\"hello, world\",3\n2,\"a \"\"quoted\"\" word, too\",4\n3,plain,5\n",
    )
    .unwrap();
    assert_eq!(g.delimiter, ",");
    assert_eq!(g.quote, "\"");
    assert_eq!(g.columns.len(), 3);
    assert_eq!(g.columns[2].type_, ColumnType::Long);
}

#[test]
fn no_header_line_names_columns_c0_c1() {
    let g = guess_text(b"1,apple,1.5\n2,pear,2.25\n3,fig,0.5\n").unwrap();
    assert!(!g.header_line);
    assert_eq!(
        types(&g),
        [
            ("c0", ColumnType::Long),
            ("c1", ColumnType::String),
            ("c2", ColumnType::Double)
        ]
    );
}

#[test]
fn lines_before_the_table_are_skipped() {
    let g = guess_text(b"Sales export\n\nid;amount\n1;10\n2;20\n").unwrap();
    assert_eq!(g.delimiter, ";");
    assert_eq!(g.skip_header_lines, 1);
    assert!(g.header_line);
    assert_eq!(
        types(&g),
        [("id", ColumnType::Long), ("amount", ColumnType::Long)]
    );
}

#[test]
fn json_lines_keys_in_first_seen_order() {
    let g = guess_text(
        b"{\"id\": 1, \"name\": \"a\", \"at\": \"2024-01-02T03:04:05\"}\n{\"id\": 2, \"score\": 1.5, \"tags\": [1], \"ok\": true}\n",
    )
    .unwrap();
    assert_eq!(g.format, GuessedFormat::Jsonl);
    assert_eq!(
        types(&g),
        [
            ("id", ColumnType::Long),
            ("name", ColumnType::String),
            ("at", ColumnType::Timestamp),
            ("score", ColumnType::Double),
            ("tags", ColumnType::Json),
            ("ok", ColumnType::Boolean),
        ]
    );
}

#[test]
fn binary_garbage_is_not_guessed() {
    let garbage: Vec<u8> = (0..65536u32).map(|i| (i * 7919 % 251) as u8).collect();
    assert!(guess_text(&garbage).is_err());
}

fn folder_with(files: &[(&str, &[u8])]) -> TempDir {
    let dir = TempDir::new();
    for (name, bytes) in files {
        let path = dir.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    dir
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn lists_and_guesses_a_gzip_csv_in_a_folder_with_a_preview() {
    let csv = b"id,city\n1,Tokyo\n2,Osaka\n";
    let dir = folder_with(&[
        ("exports/day_1.csv.gz", &gzip(csv)),
        ("exports/day_2.csv.gz", &gzip(csv)),
        ("exports/other.txt", b"x"),
        ("elsewhere/day_3.csv.gz", &gzip(csv)),
    ]);
    let store = FileStore::Folder {
        folder: dir.0.clone(),
    };
    let listing = list_source_files(&store, "exports/day_", Some(r"\.gz$"), 100)
        .await
        .unwrap();
    let names: Vec<&str> = listing.items.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["exports/day_1.csv.gz", "exports/day_2.csv.gz"]);
    assert!(!listing.truncated);
    assert!(listing.items[0].size > 0 && listing.items[0].modified.is_some());

    let one = list_source_files(&store, "exports/", None, 1)
        .await
        .unwrap();
    assert_eq!(one.items.len(), 1);
    assert!(one.truncated, "a listing cut at its bound says so");

    let guess = guess_source_file(
        &store,
        "exports/day_",
        None,
        None,
        10,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert!(guess.gzip);
    assert_eq!(guess.file.name, "exports/day_1.csv.gz");
    assert_eq!(
        types(&guess.guess),
        [("id", ColumnType::Long), ("city", ColumnType::String)]
    );
    let preview = guess.preview.expect("a preview of the sample");
    assert_eq!(preview.rows.len(), 2);
    assert_eq!(preview.rows[0][1], serde_json::json!("Tokyo"));
}

#[tokio::test]
async fn paths_leaving_the_folder_are_refused() {
    let dir = folder_with(&[("a.csv", b"x\n1\n")]);
    let store = FileStore::Folder {
        folder: dir.0.clone(),
    };
    for prefix in ["../", "/etc/pass", "a/../../"] {
        assert!(
            list_source_files(&store, prefix, None, 10).await.is_err(),
            "{prefix} is refused"
        );
        assert!(
            guess_source_file(&store, prefix, None, None, 10, Duration::from_secs(5))
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn a_parquet_schema_comes_from_its_footer() {
    use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
    use std::sync::Arc;
    let batch = RecordBatch::try_from_iter([
        ("id", Arc::new(Int64Array::from(vec![1, 2])) as _),
        ("name", Arc::new(StringArray::from(vec!["a", "b"])) as _),
        ("score", Arc::new(Float64Array::from(vec![0.5, 1.5])) as _),
    ])
    .unwrap();
    let dir = TempDir::new();
    let file = std::fs::File::create(dir.0.join("data.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    let store = FileStore::Folder {
        folder: dir.0.clone(),
    };
    let guess = guess_source_file(&store, "data", None, None, 10, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(guess.guess.format, GuessedFormat::Parquet);
    assert_eq!(
        types(&guess.guess),
        [
            ("id", ColumnType::Long),
            ("name", ColumnType::String),
            ("score", ColumnType::Double)
        ]
    );
    assert_eq!(guess.preview.expect("rows").rows.len(), 2);
}

#[tokio::test]
async fn a_huge_file_is_read_only_as_far_as_the_budget() {
    // 64 MiB of one endless line: the guess reads its first MiB and answers quickly.
    let dir = TempDir::new();
    let mut f = std::fs::File::create(dir.0.join("huge.csv")).unwrap();
    let chunk = vec![b'a'; 1024 * 1024];
    for _ in 0..64 {
        f.write_all(&chunk).unwrap();
    }
    drop(f);
    let store = FileStore::Folder {
        folder: dir.0.clone(),
    };
    let started = Instant::now();
    let _ = guess_source_file(&store, "huge", None, None, 10, Duration::from_secs(10)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // A gzip bomb (64 MiB of zeros in about 64 KiB) is decompressed only up to the budget.
    let mut e = flate2::write::GzEncoder::new(
        std::fs::File::create(dir.0.join("bomb.csv.gz")).unwrap(),
        flate2::Compression::best(),
    );
    let zeros = vec![b'0'; 1024 * 1024];
    for _ in 0..64 {
        e.write_all(&zeros).unwrap();
    }
    e.finish().unwrap();
    let started = Instant::now();
    let _ = guess_source_file(&store, "bomb", None, None, 10, Duration::from_secs(10)).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
