//! The runnable part of the Embulk corpus, run for real: each config below reads files,
//! PostgreSQL or MariaDB and writes PostgreSQL, MariaDB or files. Its hosts become
//! 127.0.0.1, its database a fresh test database, its user `postgres` or `root` (no
//! password), its paths land in a temporary directory; the test writes the input files
//! and tables (and the target table where the mode needs one with a key), runs the config
//! with the engine, and checks the rows that arrived.
//!
//! Ran, PostgreSQL: `16_csv_to_postgresql_insert`, `21_postgresql_merge_keys`,
//! `23_postgresql_insert_timestamps`, `24_postgresql_merge_rule` (both rule forms),
//! `25_csv_tab_to_postgresql_insert`, `26_gzip_csv_to_postgresql_replace` (gzip),
//! `31_csv_tokyo_dates_to_csv_file`, `05_csv_to_postgresql_replace`,
//! `22_postgresql_truncate_insert_before_load`,
//! `37_postgresql_query_add_columns_truncate_insert`, `38_postgresql_query_to_csv_backslash`,
//! `39_postgresql_incremental_add_columns`. MariaDB: `01_csv_to_mysql_merge`,
//! `13_gzip_csv_to_mysql_column_types` (Liquid), `17_mysql_to_csv_column_formats`,
//! `19_mysql_column_options_offset_zones`, `20_mysql_raw_incremental_query`.

use crate::common::{TempDir, mysql_db, postgres_db};
use hakobu_core::config::Config;
use hakobu_engine::{FileAccess, run_config};
use mysql_async::prelude::Queryable;
use std::io::Write;
use std::path::Path;

fn corpus(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/embulk-corpus");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// The config with its places made local: hosts, database, user, password, paths.
fn localize(text: &str, db: &str, user: &str, dir: &TempDir) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("password:"))
        .map(|l| {
            let indent = &l[..l.len() - l.trim_start().len()];
            let key = l.trim_start().split(':').next().unwrap_or("");
            let value = l.trim_start().split_once(':').map_or("", |(_, v)| v.trim());
            match key {
                "host" => format!("{indent}host: 127.0.0.1"),
                "database" => format!("{indent}database: {db}"),
                "user" => format!("{indent}user: {user}"),
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
    run_as(name, db, "postgres", dir).await
}

/// Runs a corpus config as `user`, its Liquid rendered first (`env.*` unset: empty, as
/// Embulk renders it).
async fn run_as(name: &str, db: &str, user: &str, dir: &TempDir) -> u64 {
    let mut text = corpus(name);
    if name.ends_with(".liquid") {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/embulk-corpus");
        text = hakobu_engine::template::render(&text, &fixtures, std::iter::empty())
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
    }
    let yaml = localize(&text, db, user, dir);
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

    // merge_rule as the plugin's own test writes it (`S` and the target by name), then
    // as newer plugin versions write it (`EXCLUDED`).
    for (rule_form, config) in [("S.", None), ("EXCLUDED.", Some("EXCLUDED."))] {
        let dir = TempDir::new();
        client
            .batch_execute("DROP TABLE IF EXISTS test_merge; CREATE TABLE test_merge (id bigint PRIMARY KEY, value1 text, value2 text); INSERT INTO test_merge VALUES (1, 'A', 'x'), (3, 'C', 'kept')")
            .await
            .unwrap();
        write(&dir, "data/test_1.csv", "1,B,y\n2,D,z\n");
        let mut yaml = localize(
            &corpus("24_postgresql_merge_rule.yml"),
            &db,
            "postgres",
            &dir,
        );
        if let Some(form) = config {
            yaml = yaml.replace("S.", form);
        }
        let config = Config::from_yaml(&yaml).unwrap();
        let written = run_config(&config, &FileAccess::Unconfined, |_| {})
            .await
            .unwrap_or_else(|e| panic!("{rule_form}: {e:#}\n{yaml}"))
            .rows_written;
        assert_eq!(written, 2, "{rule_form}");
        assert_eq!(
            strings(
                &client,
                "SELECT id || value1 || value2 FROM test_merge ORDER BY id"
            )
            .await,
            ["1Bxy", "2Dz", "3Ckept"],
            "{rule_form}"
        );
    }

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

    // replace into a table that does not exist yet, header line skipped.
    let dir = TempDir::new();
    write(
        &dir,
        "MOCK_DATA.csv",
        "id,first_name,last_name,email,gender,city,company\n1,Ann,Lee,ann@example.com,Female,Osaka,\"Acme, Inc.\"\n2,Bo,Kim,bo@example.com,Male,Lima,Initech\n",
    );
    assert_eq!(run("05_csv_to_postgresql_replace.yml", &db, &dir).await, 2);
    assert_eq!(
        strings(
            &client,
            "SELECT concat_ws('|', id, first_name, city, company) FROM people ORDER BY id"
        )
        .await,
        ["1|Ann|Osaka|Acme, Inc.", "2|Bo|Lima|Initech"]
    );

    // truncate_insert: the old rows go, before_load's row and the file's rows stay.
    let dir = TempDir::new();
    client
        .batch_execute("CREATE TABLE test1 (id text, value1 text, value2 text); INSERT INTO test1 VALUES ('old', 'o', 'o')")
        .await
        .unwrap();
    write(&dir, "data/test_1.csv", "1,a,x\n2,b,y\n");
    assert_eq!(
        run("22_postgresql_truncate_insert_before_load.yml", &db, &dir).await,
        2
    );
    assert_eq!(
        strings(
            &client,
            "SELECT concat_ws('|', id, value1, value2) FROM test1 ORDER BY id"
        )
        .await,
        ["1|a|x", "2|b|y", "C001|0|x"]
    );

    // A query through the column filter's add_columns (a copy of `value`) in
    // truncate_insert, then incrementally in insert, then to a CSV file with a backslash
    // escape and \N for NULL, in Asia/Tokyo.
    client
        .batch_execute("CREATE TABLE sample_date_summary (opstime timestamp, value bigint); INSERT INTO sample_date_summary VALUES ('2024-01-01 00:00:00', 10), ('2024-01-02 00:00:00', NULL)")
        .await
        .unwrap();
    let dir = TempDir::new();
    assert_eq!(
        run(
            "37_postgresql_query_add_columns_truncate_insert.yml",
            &db,
            &dir
        )
        .await,
        2
    );
    assert_eq!(
        strings(&client, "SELECT concat_ws('|', to_char(opstime AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), value, origin_value) FROM output_sample ORDER BY opstime").await,
        ["2024-01-01 00:00|10|10", "2024-01-02 00:00"]
    );
    assert_eq!(
        run("39_postgresql_incremental_add_columns.yml", &db, &dir).await,
        2
    );
    assert_eq!(
        strings(&client, "SELECT count(*)::text FROM output_sample").await,
        ["4"]
    );
    assert_eq!(
        run("38_postgresql_query_to_csv_backslash.yml", &db, &dir).await,
        2
    );
    assert_eq!(
        std::fs::read_to_string(dir.path("./sample.csv")).unwrap(),
        "opstime,value\r\n2024-01-01 09:00:00.000000 +0900,10\r\n2024-01-02 09:00:00.000000 +0900,\\N\r\n"
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

async fn mysql_strings(conn: &mut mysql_async::Conn, sql: &str) -> Vec<String> {
    conn.query::<Option<String>, _>(sql)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.unwrap_or_else(|| "NULL".into()))
        .collect()
}

#[tokio::test]
async fn runnable_mysql_corpus_configs_load_their_rows() {
    let (db, mut conn) = mysql_db().await;
    let db = db.name.clone();
    conn.query_drop("SET time_zone = '+00:00'").await.unwrap();

    // merge into a keyed table: row 1 replaced, row 2 added, row 5 kept.
    let dir = TempDir::new();
    conn.query_drop("CREATE TABLE example (id BIGINT PRIMARY KEY, account BIGINT, time DATETIME, purchase DATETIME, comment TEXT); INSERT INTO example VALUES (1, 0, NULL, NULL, 'old'), (5, 5, NULL, NULL, 'kept')")
        .await
        .unwrap();
    write(&dir, "private/tmp/hoge/csv/sample_01.csv", SAMPLE);
    let text = corpus("01_csv_to_mysql_merge.yml").replace("/private/tmp/", "private/tmp/");
    let yaml = localize(&text, &db, "root", &dir);
    let config = Config::from_yaml(&yaml).unwrap();
    let written = run_config(&config, &FileAccess::Unconfined, |_| {})
        .await
        .unwrap_or_else(|e| panic!("01: {e:#}\n{yaml}"))
        .rows_written;
    assert_eq!(written, 2);
    assert_eq!(
        mysql_strings(&mut conn, "SELECT CONCAT_WS(':', id, account, COALESCE(DATE_FORMAT(time, '%Y-%m-%d %H:%i:%s'), '-'), COALESCE(comment, 'NULL')) FROM example ORDER BY id").await,
        ["1:32864:2015-01-27 19:23:49:embulk", "2:14824:2015-01-27 19:01:23:NULL", "5:5:-:kept"]
    );

    // A Liquid config (its password from an unset variable) into a table it creates with
    // the column types it names.
    let dir = TempDir::new();
    write(&dir, "hoge/csv/sample_01.csv.gz", SAMPLE);
    assert_eq!(
        run_as(
            "13_gzip_csv_to_mysql_column_types.yml.liquid",
            &db,
            "root",
            &dir
        )
        .await,
        2
    );
    assert_eq!(
        mysql_strings(&mut conn, "SELECT CONCAT_WS(':', id, DATA_TYPE, DATE_FORMAT(purchase, '%Y-%m-%d'), COALESCE(comment, 'NULL')) FROM rollback_test JOIN information_schema.columns c ON c.table_schema = DATABASE() AND c.table_name = 'rollback_test' AND c.column_name = 'purchase' ORDER BY id").await,
        ["1:timestamp:2015-01-27:embulk", "2:timestamp:2015-01-27:NULL"]
    );

    // Date and time columns read as timestamps, written with the formatter's formats.
    let dir = TempDir::new();
    conn.query_drop("CREATE TABLE test1 (id INT PRIMARY KEY, c11 DATE, c12 DATETIME, c13 TIMESTAMP NULL, c14 TIME, c15 DATETIME(6)); INSERT INTO test1 VALUES (1, '2015-06-04', '2015-06-04 23:45:06', '2015-06-04 23:45:06', '23:45:06', '2015-06-04 23:45:06.123456')")
        .await
        .unwrap();
    assert_eq!(
        run_as("17_mysql_to_csv_column_formats.yml", &db, "root", &dir).await,
        1
    );
    assert_eq!(
        std::fs::read_to_string(dir.path("mysql-input000.00.csv")).unwrap(),
        "id,c11,c12,c13,c14,c15\r\n1,2015/06/04,2015/06/04 23:45:06,2015/06/04 23:45:06,23-45-06,2015/06/04 23:45:06.123456\r\n"
    );

    // The same DATETIME written as text in two zones given as offsets: read as UTC and
    // formatted in the zone, the rows of the plugin's own expected output
    // (column_options_expected.csv at embulk-input-jdbc fc7a979), with our header line.
    let dir = TempDir::new();
    conn.query_drop("CREATE TABLE test3 (id INT PRIMARY KEY, datetime1 DATETIME, datetime2 DATETIME); INSERT INTO test3 VALUES (3, '2018-12-31 23:59:59', '2018-12-31 23:59:59'), (1, NULL, NULL), (2, '2019-01-02 12:34:56', '2019-01-02 12:34:56')")
        .await
        .unwrap();
    assert_eq!(
        run_as(
            "19_mysql_column_options_offset_zones.yml",
            &db,
            "root",
            &dir
        )
        .await,
        3
    );
    assert_eq!(
        std::fs::read_to_string(dir.path("out/result_000.00.csv")).unwrap(),
        "id,datetime1,datetime2\r\n1,,\r\n2,2019/01/02 12:34:56,2019-01-02 21:34:56\r\n3,2018/12/31 23:59:59,2019-01-01 08:59:59\r\n"
    );

    // A raw query with the incremental placeholder, from `last_record`.
    let dir = TempDir::new();
    conn.query_drop("CREATE TABLE query_load (num INT, note VARCHAR(10)); INSERT INTO query_load VALUES (NULL, 'null'), (0, 'zero'), (2, 'two'), (1, 'one')")
        .await
        .unwrap();
    assert_eq!(
        run_as("20_mysql_raw_incremental_query.yml", &db, "root", &dir).await,
        2
    );
    assert_eq!(
        std::fs::read_to_string(dir.path("out/result_000.00.csv")).unwrap(),
        "num,note\r\n1,one\r\n2,two\r\n"
    );
}
