//! The `hakobu-runner` binary: exit codes, the JSON summary, the diff file, Liquid
//! configs, and a kill -9 in the middle of a load in every transactional mode (PostgreSQL
//! and MySQL destinations).

use hakobu_testkit::{TestDb, mariadb, psql};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

const RUNNER: &str = env!("CARGO_BIN_EXE_hakobu-runner");

/// A database and a directory for one test, both removed at the end.
struct Fixture {
    db: String,
    dir: PathBuf,
    _database: TestDb,
}

impl Fixture {
    fn new() -> Self {
        let database = TestDb::postgres();
        let db = database.name.clone();
        let dir = std::env::temp_dir().join(&db);
        std::fs::create_dir_all(&dir).unwrap();
        Fixture {
            db,
            dir,
            _database: database,
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn config(&self, input: &str, out: &str) -> String {
        format!(
            "in:\n  type: postgresql\n  host: 127.0.0.1\n  user: postgres\n  database: {db}\n{input}out:\n  type: postgresql\n  host: 127.0.0.1\n  user: postgres\n  database: {db}\n{out}",
            db = self.db
        )
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn run_writes_the_summary_and_the_diff_and_fails_in_one_line() {
    let f = Fixture::new();
    psql(
        &f.db,
        "CREATE TABLE src (id int PRIMARY KEY, v text); INSERT INTO src SELECT g, 'v' || g FROM generate_series(1, 100) g",
    );
    f.write(
        "_conn.yml.liquid",
        "host: 127.0.0.1\n  user: {{ env.HAKOBU_T_USER }}\n",
    );
    let liquid = f
        .config("  table: src\n  incremental: true\n", "  table: dst\n")
        .replace(
            "host: 127.0.0.1\n  user: postgres\n",
            "{% include 'conn' %}",
        );
    let config = f.write("job.yml.liquid", &liquid);
    let diff = f.dir.join("diff.yml");
    let out = Command::new(RUNNER)
        .env("HAKOBU_T_USER", "postgres")
        .arg("run")
        .arg(&config)
        .arg("-c")
        .arg(&diff)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rows_written"], 100);
    assert_eq!(
        summary["next_diff"]["in"]["last_record"],
        serde_json::json!([100])
    );
    assert!(
        std::fs::read_to_string(&diff)
            .unwrap()
            .contains("last_record")
    );

    psql(&f.db, "INSERT INTO src VALUES (101, 'new')");
    let out = Command::new(RUNNER)
        .env("HAKOBU_T_USER", "postgres")
        .arg("run")
        .arg(&config)
        .arg("-c")
        .arg(&diff)
        .output()
        .unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rows_written"], 1);

    // An unset env variable renders empty, as in Embulk, with a warning naming it; here
    // that leaves `user` empty, so the run fails with one error line naming the field.
    let out = Command::new(RUNNER)
        .env_remove("HAKOBU_T_USER")
        .arg("run")
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<&str> = err.trim_end().lines().collect();
    assert!(
        lines.len() == 2
            && lines[0]
                .contains("liquid: env.HAKOBU_T_USER is not set; it renders as an empty string")
            && lines[1].starts_with("error: ")
            && lines[1].contains("in.user"),
        "{err}"
    );
    let bad = f.write(
        "bad.yml",
        &f.config("  table: src\n", "  table: dst\n  mode: upsert\n"),
    );
    let out = Command::new(RUNNER).arg("run").arg(&bad).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("out.mode: unknown mode \"upsert\"; expected one of insert"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(1));

    let out = Command::new(RUNNER)
        .arg("preview")
        .arg(f.write("p.yml", &f.config("  table: src\n", "  table: dst\n")))
        .args(["--rows", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
}

#[test]
fn kill_9_mid_load_leaves_the_target_and_the_diff_unchanged() {
    for mode in ["insert", "truncate_insert", "replace", "merge"] {
        let f = Fixture::new();
        psql(
            &f.db,
            "CREATE TABLE src (id int PRIMARY KEY, v text);
             INSERT INTO src SELECT g, 'v' || g || repeat('x', 100) FROM generate_series(1, 40000) g;
             CREATE TABLE dst (id int PRIMARY KEY, v text); INSERT INTO dst VALUES (-1, 'before');
             CREATE FUNCTION stall(id int) RETURNS int LANGUAGE plpgsql AS $$
               BEGIN IF id = 30000 THEN PERFORM pg_sleep(30); END IF; RETURN id; END $$;",
        );
        // Rows stream in table order; the source stalls at row 30000, after the
        // destination has received and written several batches.
        let config = f.write(
            "job.yml",
            &f.config(
                "  query: SELECT stall(id) AS id, v FROM src\n",
                &format!("  table: dst\n  mode: {mode}\n"),
            ),
        );
        let diff = f.write("diff.yml", "in: {}\nout: {}\n");
        let mut child = Command::new(RUNNER)
            .arg("run")
            .arg(&config)
            .arg("-c")
            .arg(&diff)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stalled_and_writing = format!(
            "SELECT count(*) FILTER (WHERE wait_event = 'PgSleep') > 0 AND count(*) FILTER (WHERE backend_xid IS NOT NULL) > 0
             FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'hakobu'",
            f.db
        );
        let mut seen = false;
        for _ in 0..300 {
            if psql("postgres", &stalled_and_writing) == "t" {
                seen = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            seen,
            "{mode}: the runner never reached the middle of the load"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        // The server notices the dead client and rolls back its transaction.
        let writers = format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'hakobu' AND backend_xid IS NOT NULL",
            f.db
        );
        for _ in 0..100 {
            if psql("postgres", &writers) == "0" {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(
            psql(&f.db, "SELECT string_agg(id || ':' || v, ',') FROM dst"),
            "-1:before",
            "{mode}"
        );
        assert_eq!(
            psql(
                &f.db,
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            ),
            "2",
            "{mode}: nothing left behind"
        );
        assert_eq!(
            std::fs::read_to_string(&diff).unwrap(),
            "in: {}\nout: {}\n",
            "{mode}"
        );
    }
}

/// The MySQL side of a run killed mid-load: the MariaDB database (dropped at the end) next
/// to the fixture's PostgreSQL one.
struct KilledMysqlLoad {
    f: Fixture,
    _mariadb: TestDb,
}

impl KilledMysqlLoad {
    /// A PostgreSQL -> MySQL config loading `query` into `dst` in `mode`.
    fn config(&self, mode: &str, query: &str) -> String {
        format!(
            "in:\n  type: postgresql\n  host: 127.0.0.1\n  user: postgres\n  database: {db}\n  query: {query}\nout:\n  type: mysql\n  host: 127.0.0.1\n  user: root\n  database: {db}\n  table: dst\n  mode: {mode}\n",
            db = self.f.db
        )
    }
}

/// Runs a PostgreSQL -> MySQL load in `mode` with a diff file, kills the runner (-9) once
/// the MySQL session has received rows and the source is stalled, and asserts that `dst`
/// holds exactly its rows from before and the diff file is as it was.
fn kill_9_mid_mysql_load(mode: &str) -> KilledMysqlLoad {
    let f = Fixture::new();
    let _mariadb = TestDb::mariadb_named(&f.db);
    // About 9 MiB before the stall at row 30000: the writer sends at least two of its
    // 4 MiB LOAD DATA chunks (into the stage, or replace's new table) before it waits.
    psql(
        &f.db,
        "CREATE TABLE src (id int PRIMARY KEY, v text);
         INSERT INTO src SELECT g, 'v' || g || repeat('x', 300) FROM generate_series(1, 40000) g;
         CREATE FUNCTION stall(id int) RETURNS int LANGUAGE plpgsql AS $$
           BEGIN IF id = 30000 THEN PERFORM pg_sleep(30); END IF; RETURN id; END $$;",
    );
    // Row 1 is also in the load: merge would overwrite it, truncate_insert delete -1.
    mariadb(
        Some(&f.db),
        "CREATE TABLE dst (id INT PRIMARY KEY, v TEXT); INSERT INTO dst VALUES (-1, 'before'), (1, 'before')",
    );
    let load = KilledMysqlLoad { f, _mariadb };
    let f = &load.f;
    let config = f.write(
        "stall.yml",
        &load.config(mode, "SELECT stall(id) AS id, v FROM src"),
    );
    let diff = f.write("diff.yml", "in: {}\nout: {}\n");
    let mut child = Command::new(RUNNER)
        .arg("run")
        .arg(&config)
        .arg("-c")
        .arg(&diff)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stalled = format!(
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = '{}' AND wait_event = 'PgSleep'",
        f.db
    );
    // The runner's MySQL session is the only one in this database (these checks run with
    // no database selected). A session that has received a 4 MiB LOAD DATA packet (or INSERT) keeps a
    // network buffer that large: its memory shows that rows reached the server.
    let received_rows = format!(
        "SELECT COUNT(*) FROM information_schema.processlist WHERE db = '{}' AND max_memory_used > 4194304",
        f.db
    );
    let mut seen = false;
    for _ in 0..300 {
        if psql("postgres", &stalled) == "t" && mariadb(None, &received_rows) == "1" {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !seen {
        let _ = child.kill();
    }
    assert!(
        seen,
        "{mode}: the runner never reached the middle of the load"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    // The killed session (its temporary stage, open transaction and named lock) ends
    // when the server notices the closed socket.
    let sessions = format!(
        "SELECT COUNT(*) FROM information_schema.processlist WHERE db = '{}'",
        f.db
    );
    let mut gone = false;
    for _ in 0..100 {
        if mariadb(None, &sessions) == "0" {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(gone, "{mode}: the killed session stayed on the server");
    assert_eq!(
        mariadb(
            Some(&f.db),
            "SELECT GROUP_CONCAT(CONCAT(id, ':', v) ORDER BY id) FROM dst"
        ),
        "-1:before,1:before",
        "{mode}: the target changed"
    );
    assert_eq!(
        std::fs::read_to_string(&diff).unwrap(),
        "in: {}\nout: {}\n",
        "{mode}: the diff moved"
    );
    load
}

#[test]
fn kill_9_mid_mysql_load_leaves_the_target_and_the_diff_unchanged() {
    for mode in ["insert", "truncate_insert", "merge"] {
        let load = kill_9_mid_mysql_load(mode);
        assert_eq!(
            mariadb(
                Some(&load.f.db),
                &format!(
                    "SELECT GROUP_CONCAT(table_name) FROM information_schema.tables WHERE table_schema = '{}'",
                    load.f.db
                )
            ),
            "dst",
            "{mode}: nothing left behind"
        );
    }
}

#[test]
fn a_killed_mysql_replace_leaves_a_table_that_the_next_run_drops() {
    let load = kill_9_mid_mysql_load("replace");
    let f = &load.f;
    let leftovers = format!(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{}' AND table_name LIKE 'dst\\_hakobu\\_%'",
        f.db
    );
    assert_eq!(
        mariadb(Some(&f.db), &leftovers),
        "1",
        "DDL is not transactional: the replacement table stays until the next run"
    );

    let out = Command::new(RUNNER)
        .arg("run")
        .arg(f.write("full.yml", &load.config("replace", "SELECT id, v FROM src")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mariadb(Some(&f.db), "SELECT COUNT(*) FROM dst"), "40000");
    assert_eq!(
        mariadb(Some(&f.db), &leftovers),
        "0",
        "the next run dropped the leftover"
    );
    // And said so: the engine's message reaches the terminal.
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("info: dropping dst_hakobu_")
            && said.contains("left behind by an interrupted replace"),
        "{said}"
    );
}
