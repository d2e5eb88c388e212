//! The corpus configs that print to `out: {type: stdout}` (`engine/tests/fixtures/
//! embulk-corpus`), run as their authors ran them: `hakobu-runner run <config>` in a folder
//! holding their input files, with what it prints compared line by line with what Embulk's
//! stdout output prints for the same records (values joined by `,`, NULL as nothing,
//! timestamps as `%Y-%m-%d %H:%M:%S.%6N %z`).
//!
//! The inputs are the files the configs' own repository holds where it holds them (the
//! `embulk example` sample, `core_467_timestamp_format/csv/sample_01.csv`,
//! `twitter_timestamp_null/csv/sample_01.csv`, `core_918_json_example/json_sample.txt`,
//! `core_xxx_json_emoji/sample_family.json`, `input-jdbc_116_mysql_driver/table.sql`),
//! and small tables of the shape the config reads where it does not (`time_test`,
//! `geo_table`, `tinyint_sample`). The configs change only where they name a host, a
//! database, a user or a password (as in `engine/tests/engine/corpus_runs.rs`).
//!
//! Not run: `08_csv_backslash_escape_to_stdout.yml`: its data (in the issue's README) has
//! spaces around a timestamp with `trim_if_not_quoted: false`, and the source does not
//! record what Embulk printed for it, so there is nothing to compare with.

use hakobu_testkit::{TestDb, mariadb};
use std::path::{Path, PathBuf};
use std::process::Command;

const RUNNER: &str = env!("CARGO_BIN_EXE_hakobu-runner");

/// The sample `embulk example` writes: a header, a quoted quote, a NULL.
const EMBULK_EXAMPLE: &str = "id,account,time,purchase,comment\n1,32864,2015-01-27 19:23:49,20150127,embulk\n2,14824,2015-01-27 19:01:23,20150127,embulk jruby\n3,27559,2015-01-28 02:20:02,20150128,\"Embulk \"\"csv\"\" parser plugin\"\n4,11270,2015-01-29 11:54:36,20150129,NULL\n";

/// What Embulk's stdout output prints for [`EMBULK_EXAMPLE`] in the config's column order.
const EMBULK_EXAMPLE_PRINTED: [&str; 4] = [
    "1,32864,2015-01-27 19:23:49.000000 +0000,2015-01-27 00:00:00.000000 +0000,embulk",
    "2,14824,2015-01-27 19:01:23.000000 +0000,2015-01-27 00:00:00.000000 +0000,embulk jruby",
    "3,27559,2015-01-28 02:20:02.000000 +0000,2015-01-28 00:00:00.000000 +0000,Embulk \"csv\" parser plugin",
    "4,11270,2015-01-29 11:54:36.000000 +0000,2015-01-29 00:00:00.000000 +0000,",
];

/// A folder the runner runs in, removed at the end.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Folder {
        let path = std::env::temp_dir().join(format!(
            "hakobu-corpus-stdout-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Folder(path)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }

    /// Writes `text` gzipped as `name` (which ends in `.gz`), with the system's gzip.
    fn write_gzip(&self, name: &str, text: &str) {
        let plain = name.strip_suffix(".gz").expect("a .gz name");
        self.write(plain, text);
        let status = Command::new("gzip")
            .arg("-f")
            .arg(self.0.join(plain))
            .status()
            .expect("gzip must be installed");
        assert!(status.success());
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn corpus(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/tests/fixtures/embulk-corpus");
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// The config with its places made local: host, database and user; no password (the local
/// servers trust their users).
fn localize(text: &str, db: &str, user: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("password:"))
        .map(|l| {
            let indent = &l[..l.len() - l.trim_start().len()];
            match l.trim_start().split(':').next().unwrap_or("") {
                "host" => format!("{indent}host: 127.0.0.1"),
                "database" => format!("{indent}database: {db}"),
                "user" => format!("{indent}user: {user}"),
                _ => l.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs corpus config `name` in `folder` and answers the lines it printed; panics with the
/// runner's error when it fails.
fn printed(name: &str, folder: &Folder, db: &str) -> Vec<String> {
    folder.write(name, &localize(&corpus(name), db, "root"));
    let out = Command::new(RUNNER)
        .current_dir(&folder.0)
        // Liquid's `env.mysql_password` renders empty, the local root's password.
        .env_remove("mysql_password")
        .arg("run")
        .arg(name)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn corpus_csv_configs_print_what_embulk_prints() {
    let folder = Folder::new("csv");

    // core_467: `%L` reads the milliseconds.
    folder.write(
        "csv/sample_01.csv",
        "id,account,time,purchase,comment\n1,32864,2015-01-27 19:23:49.123,20150127,embulk\n2,14824,2015-01-27 19:01:23.123,20150127,embulk jruby\n3,27559,2015-01-28 02:20:02.123,20150128,\"Embulk \"\"csv\"\" parser plugin\"\n4,11270,2015-01-29 11:54:36.123,20150129,NULL\n\n",
    );
    assert_eq!(
        printed("07_csv_millis_to_stdout.yml", &folder, "unused"),
        [
            "1,32864,2015-01-27 19:23:49.123000 +0000,2015-01-27 00:00:00.000000 +0000,embulk",
            "2,14824,2015-01-27 19:01:23.123000 +0000,2015-01-27 00:00:00.000000 +0000,embulk jruby",
            "3,27559,2015-01-28 02:20:02.123000 +0000,2015-01-28 00:00:00.000000 +0000,Embulk \"csv\" parser plugin",
            "4,11270,2015-01-29 11:54:36.123000 +0000,2015-01-29 00:00:00.000000 +0000,",
        ]
    );

    // twitter_timestamp_null: `NULL` in a timestamp column is a NULL, printed as nothing.
    folder.write(
        "csv/sample_01.csv",
        "id,account,time,purchase,comment\n1,32864,2015-01-27 19:23:49,20150127,embulk\n2,14824,2015-01-27 19:01:23,20150127,embulk jruby\n3,27559,2015-01-28 02:20:02,20150128,\"Embulk \"\"csv\"\" parser plugin\"\n4,11270,2015-01-29 11:54:36,NULL,NULL\n\n",
    );
    assert_eq!(
        printed("28_csv_null_string_to_stdout.yml", &folder, "unused"),
        [
            &EMBULK_EXAMPLE_PRINTED[..3],
            &["4,11270,2015-01-29 11:54:36.000000 +0000,,"],
        ]
        .concat()
    );

    // Gzipped, then reordered by the column filter.
    folder.write_gzip("hoge/csv/sample_01.csv.gz", EMBULK_EXAMPLE);
    assert_eq!(
        printed("29_gzip_csv_to_stdout.yml", &folder, "unused"),
        EMBULK_EXAMPLE_PRINTED
    );
    assert_eq!(
        printed("27_column_filter_reorder_to_stdout.yml", &folder, "unused"),
        [
            "embulk,2015-01-27 00:00:00.000000 +0000,2015-01-27 19:23:49.000000 +0000,32864,1",
            "embulk jruby,2015-01-27 00:00:00.000000 +0000,2015-01-27 19:01:23.000000 +0000,14824,2",
            "Embulk \"csv\" parser plugin,2015-01-28 00:00:00.000000 +0000,2015-01-28 02:20:02.000000 +0000,27559,3",
            ",2015-01-29 00:00:00.000000 +0000,2015-01-29 11:54:36.000000 +0000,11270,4",
        ]
    );

    // core_674: the folder named by Liquid's `"now" | date`, today in UTC.
    let today = utc_today();
    folder.write_gzip(
        &format!("sample/csv/{today}/sample_01.csv.gz"),
        EMBULK_EXAMPLE,
    );
    assert_eq!(
        printed("11_liquid_date_path_gzip_csv.yml.liquid", &folder, "unused"),
        EMBULK_EXAMPLE_PRINTED
    );
}

/// Today's date in UTC as `%Y-%m-%d`, from `date -u` (the runner renders Liquid's `now`
/// in UTC).
fn utc_today() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn corpus_json_configs_print_what_embulk_prints() {
    let folder = Folder::new("json");
    // core_918: without `columns` each value is one `record` json column.
    folder.write(
        "json_sample.txt",
        "{ \"col1\": 123, \"col2\": \"xyz\" }\n{ \"col1\": 456, \"col2\": \"abc\" }\n",
    );
    assert_eq!(
        printed("36_json_parser_to_stdout.yml", &folder, "unused"),
        [
            r#"{"col1":123,"col2":"xyz"}"#,
            r#"{"col1":456,"col2":"abc"}"#
        ]
    );
    // core_xxx_json_emoji: eleven families, the emoji intact.
    folder.write(
        "sample_family.json",
        &"{ \"name\":\"family\", \"emoji\":\"👪\"}\n".repeat(11),
    );
    assert_eq!(
        printed("15_jsonl_emoji.yml", &folder, "unused"),
        vec!["family,👪"; 11]
    );
}

#[test]
fn corpus_mysql_configs_print_what_embulk_prints() {
    let db = TestDb::mariadb();
    let folder = Folder::new("mysql");
    // input-jdbc_116: its own table.sql; utf8mb4 emoji read intact.
    mariadb(
        Some(&db.name),
        "SET NAMES utf8mb4;
         create table utf8mb4_test (id integer not null, name varchar(255) not null, emoji varchar(255) not null) charset utf8mb4;
         insert into utf8mb4_test values(1,\"寿司\",\"🍣\");
         insert into utf8mb4_test values(2,\"ビール\",\"🍻\");",
    );
    assert_eq!(
        printed("09_mysql_table_env_password.yml.liquid", &folder, &db.name),
        ["1,寿司,🍣", "2,ビール,🍻"]
    );

    // input-jdbc#106: DATETIME and TIMESTAMP read in UTC (the session's zone is UTC).
    mariadb(
        Some(&db.name),
        "SET time_zone = '+00:00';
         create table time_test (id int, dt datetime, ts timestamp null);
         insert into time_test values (1, '2017-06-30 12:34:56', '2017-06-30 12:34:56'), (2, NULL, NULL);",
    );
    assert_eq!(
        printed("10_mysql_time_table.yml.liquid", &folder, &db.name),
        [
            "1,2017-06-30 12:34:56.000000 +0000,2017-06-30 12:34:56.000000 +0000",
            "2,,",
        ]
    );

    // core_612: a geometry as GeoJSON text, read as json by `column_options`.
    mariadb(
        Some(&db.name),
        "create table geo_table (id int primary key, geometry geometry not null);
         insert into geo_table values (1, ST_GeomFromText('POINT(139.7 35.6)'));",
    );
    let geo = printed("14_mysql_query_geojson.yml.liquid", &folder, &db.name);
    assert_eq!(geo.len(), 1, "{geo:?}");
    let (id, geom) = geo[0].split_once(',').unwrap();
    assert_eq!(id, "1");
    let geom: serde_json::Value = serde_json::from_str(geom).unwrap();
    assert_eq!(
        geom,
        serde_json::json!({"type": "Point", "coordinates": [139.7, 35.6]})
    );

    // twitter_tinyint_sample: TINYINT(1) as boolean, as its README shows.
    mariadb(
        Some(&db.name),
        "create table tinyint_sample (id int primary key, tiny_flag tinyint(1));
         insert into tinyint_sample values (1, 1), (2, 0);",
    );
    assert_eq!(
        printed(
            "35_mysql_tinyint_as_boolean_to_stdout.yml",
            &folder,
            &db.name
        ),
        ["1,true", "2,false"]
    );
}
