//! The runnable part of the Embulk corpus, run for real: each config below reads files
//! and writes PostgreSQL or files. Its hosts become 127.0.0.1, its database a fresh test
//! database, its user `postgres` (no password), its paths land in a temporary directory;
//! the test writes the input files (and the target table where the mode needs one with
//! a key), runs the config with the engine, and checks the rows that arrived.
//!
//! Ran: `16_csv_to_postgresql_insert`, `21_postgresql_merge_keys`,
//! `23_postgresql_insert_timestamps`, `25_csv_tab_to_postgresql_insert`,
//! `26_gzip_csv_to_postgresql_replace` (gzip), `31_csv_tokyo_dates_to_csv_file`.

use crate::common::{TempDir, postgres_db};
use hakobu_core::config::Config;
use hakobu_engine::{FileAccess, run_config};
use std::io::Write;
use std::path::Path;

fn corpus(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/embulk-corpus");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// The config with its places made local: hosts, database, user, password, paths.
fn localize(text: &str, db: &str, dir: &TempDir) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("password:"))
        .map(|l| {
            let indent = &l[..l.len() - l.trim_start().len()];
            let key = l.trim_start().split(':').next().unwrap_or("");
            let value = l.trim_start().split_once(':').map_or("", |(_, v)| v.trim());
            match key {
                "host" => format!("{indent}host: 127.0.0.1"),
                "database" => format!("{indent}database: {db}"),
                "user" => format!("{indent}user: postgres"),
                "path_prefix" => format!(
                    "{indent}path_prefix: '{}'",
                    dir.path(value.trim_matches(['"', '\'']))
                ),
                _ => l.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn write(dir: &TempDir, name: &str, text: &str) {
    let path = Path::new(&dir.path(name)).to_path_buf();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    if name.ends_with(".gz") {
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(&path).unwrap(),
            flate2::Compression::default(),
        );
        gz.write_all(text.as_bytes()).unwrap();
        gz.finish().unwrap();
    } else {
        std::fs::write(path, text).unwrap();
    }
}

async fn run(name: &str, db: &str, dir: &TempDir) -> u64 {
    let yaml = localize(&corpus(name), db, dir);
    let config = Config::from_yaml(&yaml).unwrap_or_else(|e| panic!("{name}: {e}\n{yaml}"));
    run_config(&config, &FileAccess::Unconfined, |_| {})
        .await
        .unwrap_or_else(|e| panic!("{name}: {e:#}\n{yaml}"))
        .rows_written
}

/// The sample Embulk's `embulk example` writes, with a header and a NULL.
const SAMPLE: &str = "id,account,time,purchase,comment\n1,32864,2015-01-27 19:23:49,20150127,embulk\n2,14824,2015-01-27 19:01:23,20150127,NULL\n";

async fn strings(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.get::<_, Option<String>>(0)
                .unwrap_or_else(|| "NULL".into())
        })
        .collect()
}

#[tokio::test]
async fn runnable_corpus_configs_load_their_rows() {
    let (db, client) = postgres_db().await;
    let db = db.name.clone();

    let dir = TempDir::new();
    write(&dir, "hoge/csv/sample_01.csv", SAMPLE);
    assert_eq!(run("16_csv_to_postgresql_insert.yml", &db, &dir).await, 2);
    assert_eq!(
        strings(
            &client,
            "SELECT id || ':' || coalesce(comment, 'NULL') FROM resume_test ORDER BY id"
        )
        .await,
        ["1:embulk", "2:NULL"]
    );

    let dir = TempDir::new();
    client
        .batch_execute("CREATE TABLE test_merge (id bigint, value1 text PRIMARY KEY, value2 text); INSERT INTO test_merge VALUES (9, 'A', 'old'), (8, 'C', 'kept')")
        .await
        .unwrap();
    write(&dir, "data/test_1.csv", "1,A,new\n2,B,b\n");
    assert_eq!(run("21_postgresql_merge_keys.yml", &db, &dir).await, 2);
    assert_eq!(
        strings(
            &client,
            "SELECT id || value1 || value2 FROM test_merge ORDER BY value1"
        )
        .await,
        ["1Anew", "2Bb", "8Ckept"]
    );

    let dir = TempDir::new();
    write(&dir, "data/test_1.csv", "1,a,x\n2,b,\n");
    assert_eq!(
        run("23_postgresql_insert_timestamps.yml", &db, &dir).await,
        2
    );
    assert_eq!(
        strings(
            &client,
            "SELECT id || value1 FROM test_timestamp ORDER BY id"
        )
        .await,
        ["1a", "2b"]
    );

    let dir = TempDir::new();
    write(&dir, "test.csv", "id,name,data\n1,a,x\n2,b,\"tab\there\"\n");
    assert_eq!(
        run("25_csv_tab_to_postgresql_insert.yml", &db, &dir).await,
        2
    );
    assert_eq!(
        strings(&client, "SELECT data FROM tab_test ORDER BY id").await,
        ["x", "tab\there"]
    );

    let dir = TempDir::new();
    client
        .batch_execute("CREATE TABLE replace_test (id bigint, old text); INSERT INTO replace_test VALUES (99, 'gone')")
        .await
        .unwrap();
    write(&dir, "hoge/csv/sample_01.csv.gz", SAMPLE);
    assert_eq!(
        run("26_gzip_csv_to_postgresql_replace.yml", &db, &dir).await,
        2
    );
    assert_eq!(
        strings(&client, "SELECT id || ':' || account || ':' || to_char(purchase AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM replace_test ORDER BY id").await,
        ["1:32864:2015-01-27", "2:14824:2015-01-27"]
    );

    // Parsed and formatted in Asia/Tokyo: a date before 1970 stays the same date.
    let dir = TempDir::new();
    write(&dir, "users.csv", "taro, taro@example.com ,1969-12-31\n");
    assert_eq!(
        run("31_csv_tokyo_dates_to_csv_file.yml", &db, &dir).await,
        1
    );
    assert_eq!(
        std::fs::read_to_string(dir.path("out/test.000.00.csv")).unwrap(),
        "name,mail,birthday\r\ntaro,taro@example.com,1969-12-31 00:00:00.000000 +0900\r\n"
    );
}
