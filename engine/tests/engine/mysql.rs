//! MySQL / MariaDB source and destination against the local MariaDB: types, modes,
//! incremental loads, time zones and failures.

use crate::common::*;
use mysql_async::prelude::Queryable;

async fn rows(conn: &mut mysql_async::Conn, sql: &str) -> Vec<String> {
    conn.query(sql).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_to_postgres_keeps_types_exact() {
    let (my, mut conn) = mysql_db().await;
    let (pg, client) = postgres_db().await;
    conn.query_drop(
        r#"CREATE TABLE src (id BIGINT PRIMARY KEY, flag TINYINT(1), n INT, amount DECIMAL(38,10), r DOUBLE,
             note TEXT, at DATETIME(6), ts TIMESTAMP(6) NULL, day DATE, doc JSON, raw VARBINARY(10), big BIGINT UNSIGNED);
           INSERT INTO src VALUES
             (1, 1, -5, 1234567890123456789012345678.0123456789, 1.5, 'unicode 日本語 🍣, "q" \'s\' \\ tab\t nl\n', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.5', '2024-01-02', '{"a": [1, null]}', X'00FF', 18446744073709551615),
             (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"#,
    )
    .await
    .unwrap();
    client
        .batch_execute(
            "CREATE TABLE dst (id bigint PRIMARY KEY, flag boolean, n int, amount numeric(38,10), r float8, note text, at timestamp, ts timestamptz, day date, doc jsonb, raw bytea, big numeric(20,0))",
        )
        .await
        .unwrap();
    let s = run(&format!(
        "{}\n{}",
        my_in(&my.name, "table: src\ndefault_timezone: Asia/Tokyo"),
        pg_out(&pg.name, "table: dst\ndefault_timezone: Asia/Tokyo")
    ))
    .await
    .unwrap();
    assert_eq!(s.rows_written, 2);
    let r = client
        .query_one("SELECT flag, n, amount::text, note, at::text, ts::text, day::text, doc::text, raw, big::text FROM dst WHERE id = 1", &[])
        .await
        .unwrap();
    assert!(r.get::<_, bool>(0));
    assert_eq!(r.get::<_, i32>(1), -5);
    assert_eq!(
        r.get::<_, String>(2),
        "1234567890123456789012345678.0123456789"
    );
    assert_eq!(
        r.get::<_, String>(3),
        "unicode 日本語 🍣, \"q\" 's' \\ tab\t nl\n"
    );
    assert_eq!(
        r.get::<_, String>(4),
        "2024-01-02 03:04:05.123456",
        "DATETIME is wall time in default_timezone on both ends"
    );
    assert_eq!(
        r.get::<_, String>(5),
        "2024-01-02 03:04:05.5+00",
        "TIMESTAMP is an instant"
    );
    assert_eq!(r.get::<_, String>(6), "2024-01-02");
    assert_eq!(r.get::<_, String>(7), r#"{"a": [1, null]}"#);
    assert_eq!(r.get::<_, Vec<u8>>(8), vec![0u8, 255]);
    assert_eq!(r.get::<_, String>(9), "18446744073709551615");
    assert_eq!(
        pg_count(
            &client,
            "dst WHERE id = 2 AND flag IS NULL AND note IS NULL AND at IS NULL"
        )
        .await,
        1
    );
}

async fn mode_fixture(conn: &mut mysql_async::Conn) {
    conn.query_drop(
        "CREATE TABLE src (id INT PRIMARY KEY, v TEXT);
         INSERT INTO src VALUES (2, 'new two'), (3, 'new three');
         CREATE TABLE dst (id INT PRIMARY KEY, v TEXT, extra VARCHAR(10) DEFAULT 'kept');
         INSERT INTO dst (id, v) VALUES (1, 'old one'), (2, 'old two');",
    )
    .await
    .unwrap();
}

async fn run_mode(
    mode: &str,
    extra: &str,
    setup: &str,
) -> (anyhow::Result<hakobu_engine::Summary>, Vec<String>) {
    let (db, mut conn) = mysql_db().await;
    mode_fixture(&mut conn).await;
    if !setup.is_empty() {
        conn.query_drop(setup).await.unwrap();
    }
    let yaml = format!(
        "{}\n{}",
        my_in(&db.name, "table: src\norder_by: id"),
        my_out(&db.name, &format!("table: dst\nmode: {mode}\n{extra}"))
    );
    let result = run(&yaml).await;
    let cols: Vec<String> = conn.query("SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'dst' ORDER BY ordinal_position").await.unwrap();
    let rows = rows(
        &mut conn,
        &format!(
            "SELECT CONCAT_WS(':', {}) FROM dst ORDER BY id",
            cols.join(", ")
        ),
    )
    .await;
    (result, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mode_on_mariadb() {
    let cases: [(&str, &[&str]); 5] = [
        (
            "merge",
            &["1:old one:kept", "2:new two:kept", "3:new three:kept"],
        ),
        (
            "merge_direct",
            &["1:old one:kept", "2:new two:kept", "3:new three:kept"],
        ),
        ("truncate_insert", &["2:new two:kept", "3:new three:kept"]),
        ("replace", &["2:new two", "3:new three"]),
        ("insert", &["1:old one:kept", "2:old two:kept"]),
    ];
    for (mode, expected) in cases {
        let (result, rows) = run_mode(mode, "", "").await;
        if mode == "insert" {
            // id 2 already exists: the whole insert fails and nothing is added.
            assert!(
                format!("{:#}", result.unwrap_err()).contains("Duplicate entry"),
                "{mode}"
            );
        } else {
            result.unwrap();
        }
        assert_eq!(rows, expected, "{mode}");
    }
    let (db, mut conn) = mysql_db().await;
    mode_fixture(&mut conn).await;
    conn.query_drop("DELETE FROM src WHERE id = 2")
        .await
        .unwrap();
    run(&format!(
        "{}\n{}",
        my_in(&db.name, "table: src"),
        my_out(&db.name, "table: dst\nmode: insert_direct")
    ))
    .await
    .unwrap();
    assert_eq!(
        rows(
            &mut conn,
            "SELECT CONCAT_WS(':', id, v) FROM dst ORDER BY id"
        )
        .await,
        ["1:old one", "2:old two", "3:new three"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_in_a_transactional_mode_leaves_the_target_unchanged() {
    for mode in ["insert", "truncate_insert", "merge", "replace"] {
        let (result, rows) = run_mode(
            mode,
            "after_load: SELECT * FROM no_such_table",
            "DELETE FROM src WHERE id = 2",
        )
        .await;
        let err = format!("{:#}", result.unwrap_err());
        assert!(err.contains("after_load"), "{mode}: {err}");
        assert_eq!(rows, ["1:old one:kept", "2:old two:kept"], "{mode}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_mysql_creates_the_table_and_incremental_runs() {
    let (pg, client) = postgres_db().await;
    let (my, mut conn) = mysql_db().await;
    client
        .batch_execute(
            "CREATE TABLE ev (id bigint PRIMARY KEY, at timestamptz NOT NULL, amount numeric(38,10), note text, doc jsonb);
             INSERT INTO ev VALUES (1, '2024-01-01 00:00:00+00', 0.0000000001, E'a''b\\\\c\nd', '{\"k\": 1}'), (2, '2024-01-01 00:00:00+00', 99999999999999999999999999.9999999999, NULL, NULL);",
        )
        .await
        .unwrap();
    let yaml = format!(
        "{}\n{}",
        pg_in(
            &pg.name,
            "table: ev\nincremental: true\nincremental_columns: [at, id]"
        ),
        my_out(
            &my.name,
            "table: ev\nmode: merge\nmerge_keys: [id]\ndefault_timezone: Asia/Tokyo"
        )
    );
    let first = run_with_diff(&yaml, None).await.unwrap();
    assert_eq!(first.rows_written, 2);
    let got = rows(&mut conn, "SELECT CONCAT_WS('|', id, DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s'), amount, note, doc) FROM ev ORDER BY id").await;
    assert_eq!(
        got[0],
        "1|2024-01-01 09:00:00|0.000000000100000000000000000000|a'b\\c\nd|{\"k\": 1}"
    );
    assert_eq!(
        got[1],
        "2|2024-01-01 09:00:00|99999999999999999999999999.999999999900000000000000000000"
    );

    client
        .batch_execute("INSERT INTO ev VALUES (3, '2024-01-01 00:00:00+00', 3, 'c', NULL)")
        .await
        .unwrap();
    let second = run_with_diff(&yaml, Some(&first.next_diff.to_yaml()))
        .await
        .unwrap();
    assert_eq!(second.rows_written, 1);
    let third = run_with_diff(&yaml, Some(&second.next_diff.to_yaml()))
        .await
        .unwrap();
    assert_eq!(
        (third.rows_written, third.next_diff.clone()),
        (0, second.next_diff.clone())
    );
    assert_eq!(
        rows(&mut conn, "SELECT CAST(COUNT(*) AS CHAR) FROM ev").await,
        ["3"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_incremental_on_the_primary_key() {
    let (my, mut conn) = mysql_db().await;
    conn.query_drop("CREATE TABLE t (id INT PRIMARY KEY, at DATETIME NOT NULL); INSERT INTO t VALUES (1, '2024-01-01 00:00:00'), (2, '2024-01-02 00:00:00')").await.unwrap();
    let yaml = format!(
        "{}\n{}",
        my_in(&my.name, "table: t\nincremental: true"),
        my_out(&my.name, "table: t2")
    );
    let first = run_with_diff(&yaml, None).await.unwrap();
    assert_eq!(first.next_diff.input.last_record, Some(vec![2.into()]));
    conn.query_drop("INSERT INTO t VALUES (3, '2024-01-03 00:00:00')")
        .await
        .unwrap();
    let second = run_with_diff(&yaml, Some(&first.next_diff.to_yaml()))
        .await
        .unwrap();
    assert_eq!(second.rows_written, 1);
    assert_eq!(second.next_diff.input.last_record, Some(vec![3.into()]));
    // Nothing new: nothing loaded, the cursor stays.
    let third = run_with_diff(&yaml, Some(&second.next_diff.to_yaml()))
        .await
        .unwrap();
    assert_eq!(
        (third.rows_written, third.next_diff.clone()),
        (0, second.next_diff.clone())
    );
    assert_eq!(
        rows(&mut conn, "SELECT CAST(COUNT(*) AS CHAR) FROM t2").await,
        ["3"]
    );
    let yaml = format!(
        "{}\n{}",
        my_in(
            &my.name,
            "table: t\nincremental: true\nincremental_columns: [at]"
        ),
        my_out(&my.name, "table: t3")
    );
    let s = run(&yaml).await.unwrap();
    assert_eq!(
        s.next_diff.input.last_record,
        Some(vec!["2024-01-03 00:00:00.000000".into()])
    );
    // use_raw_query_with_incremental: `:at` is replaced by the last value, quoted.
    let yaml = format!(
        "{}\n{}",
        my_in(
            &my.name,
            "query: SELECT id, at FROM t WHERE at > :at ORDER BY at\nuse_raw_query_with_incremental: true\nincremental: true\nincremental_columns: [at]\nlast_record: ['2024-01-01 00:00:00.000000']"
        ),
        my_out(&my.name, "table: t4")
    );
    let raw = run(&yaml).await.unwrap();
    assert_eq!(raw.rows_written, 2);
    assert_eq!(
        raw.next_diff.input.last_record,
        Some(vec!["2024-01-03 00:00:00.000000".into()])
    );
}

/// `(rows, distinct ids, order-independent checksum of every value)` of a table or query.
async fn content(conn: &mut mysql_async::Conn, from: &str) -> (String, String, String) {
    conn.query_first(format!(
        "SELECT CAST(COUNT(*) AS CHAR), CAST(COUNT(DISTINCT id) AS CHAR),
                CAST(SUM(CRC32(CONCAT_WS('|', id, note, amount))) AS CHAR) FROM {from}"
    ))
    .await
    .unwrap()
    .unwrap()
}

async fn count_sessions(conn: &mut mysql_async::Conn) -> i64 {
    conn.query_first("SELECT COUNT(*) FROM sessions")
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_threads_reads_key_ranges_of_a_mysql_table_exactly_once() {
    let (db, mut conn) = mysql_db().await;
    // Keys with gaps (every third number, some missing) and both ends of BIGINT.
    conn.query_drop(
        r#"CREATE TABLE sessions (id BIGINT);
           CREATE TABLE src (id BIGINT PRIMARY KEY, note TEXT, amount DECIMAL(12,2)) ENGINE=InnoDB;
           INSERT INTO src SELECT CAST(seq AS SIGNED) * 3 - 40000, CONCAT('n ', seq, ' 日本語 "q"\n'), seq / 7
             FROM seq_1_to_30000 WHERE seq % 11 <> 0;
           INSERT INTO src VALUES (-9223372036854775808, 'min', NULL), (9223372036854775807, 'max', NULL);"#,
    )
    .await
    .unwrap();
    let expected = content(&mut conn, "src WHERE id <> 2").await;
    assert_eq!(expected.0, "27274");
    for threads in 1..=4 {
        let table = format!("dst_{threads}");
        // No primary key on the copy, so a row read twice would show.
        conn.query_drop(format!(
            "CREATE TABLE {table} (id BIGINT, note TEXT, amount DECIMAL(12,2))"
        ))
        .await
        .unwrap();
        let before = count_sessions(&mut conn).await;
        let s = run(&format!(
            "{}{}exec:\n  max_threads: {threads}\n",
            my_in(
                &db.name,
                "table: src\nwhere: id <> 2\nbefore_select: INSERT INTO sessions VALUES (CONNECTION_ID())\n"
            ),
            my_out(&db.name, &format!("table: {table}\n"))
        ))
        .await
        .unwrap();
        assert_eq!(s.rows_read, 27274, "max_threads {threads}");
        assert_eq!(s.rows_written, 27274, "max_threads {threads}");
        assert_eq!(
            content(&mut conn, &table).await,
            expected,
            "max_threads {threads}"
        );
        // The describing session, plus one session per key range when there are ranges.
        let sessions = count_sessions(&mut conn).await - before;
        let expected_sessions = if threads == 1 { 1 } else { 1 + threads };
        assert_eq!(sessions, expected_sessions, "max_threads {threads}");
    }
}

/// The tasks `in:` of `yaml` is split into with `max_threads: parallel`.
async fn tasks_of(yaml: &str, parallel: usize) -> Vec<hakobu_engine::shared::source::Task> {
    let config = hakobu_core::config::Config::from_yaml(&format!(
        "{yaml}\nout:\n  type: file\n  path_prefix: /tmp/unused\n  file_ext: csv\n  formatter:\n    type: csv\n"
    ))
    .unwrap();
    hakobu_engine::pipeline::open_source(&config.input, parallel, &hakobu_engine::FileAccess::Off)
        .await
        .unwrap()
        .tasks
}

/// Runs the tasks of a source at once and returns the ids read, sorted.
async fn ids_read(tasks: Vec<hakobu_engine::shared::source::Task>) -> Vec<i64> {
    use arrow_array::{Array, Int64Array};
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let stats = std::sync::Arc::new(hakobu_engine::Stats::default());
    let running = tokio::spawn(futures::future::try_join_all(
        tasks
            .into_iter()
            .map(|task| task(tx.clone(), stats.clone())),
    ));
    drop(tx);
    let mut ids = Vec::new();
    while let Some(batch) = rx.recv().await {
        let col = batch
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap();
        assert_eq!(col.null_count(), 0);
        ids.extend(col.values().iter().copied());
    }
    running.await.unwrap().unwrap();
    ids.sort_unstable();
    ids
}

/// Asserts that `got` holds each of `expected` exactly once, naming the differences.
fn assert_ids(got: &[i64], expected: impl Iterator<Item = i64>, what: &str) {
    let expected: std::collections::BTreeSet<i64> = expected.collect();
    let got_set: std::collections::BTreeSet<i64> = got.iter().copied().collect();
    let extra: Vec<_> = got_set.difference(&expected).take(10).collect();
    let missing: Vec<_> = expected.difference(&got_set).take(10).collect();
    assert!(
        extra.is_empty() && missing.is_empty() && got.len() == expected.len(),
        "{what}: {} ids read for {} expected; not expected: {extra:?}; missing: {missing:?}",
        got.len(),
        expected.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_key_ranges_read_one_snapshot_and_other_keys_read_in_one_query() {
    let (db, mut conn) = mysql_db().await;
    conn.query_drop(
        "CREATE TABLE src (id INT PRIMARY KEY, note TEXT, amount DECIMAL(12,2));
         INSERT INTO src SELECT seq * 5, 'x', 1 FROM seq_1_to_20000;
         CREATE TABLE codes (code VARCHAR(20) PRIMARY KEY, id BIGINT);
         INSERT INTO codes SELECT CONCAT('c', seq), seq FROM seq_1_to_20000;
         CREATE TABLE pairs (id BIGINT, b INT, PRIMARY KEY (id, b));
         INSERT INTO pairs SELECT seq, 1 FROM seq_1_to_20000;
         CREATE TABLE no_key (id BIGINT);
         INSERT INTO no_key SELECT seq FROM seq_1_to_20000;
         CREATE TABLE few (id BIGINT PRIMARY KEY);
         INSERT INTO few SELECT seq FROM seq_1_to_8000;
         CREATE TABLE aria (id BIGINT PRIMARY KEY) ENGINE=Aria;
         INSERT INTO aria SELECT seq FROM seq_1_to_20000;",
    )
    .await
    .unwrap();

    // A user without the LOCK TABLES privilege cannot hold the snapshots together.
    let user = format!("{}_r", &db.name[..24]);
    for host in ["localhost", "127.0.0.1"] {
        conn.query_drop(format!(
            "CREATE USER '{user}'@'{host}'; GRANT SELECT ON {}.* TO '{user}'@'{host}'",
            db.name
        ))
        .await
        .unwrap();
    }
    let input =
        my_in(&db.name, "table: src\nselect: id").replace("user: root", &format!("user: {user}"));
    let tasks = tasks_of(&input, 4).await;
    for host in ["localhost", "127.0.0.1"] {
        conn.query_drop(format!("DROP USER '{user}'@'{host}'"))
            .await
            .unwrap();
    }
    assert_eq!(tasks.len(), 1, "without LOCK TABLES");
    assert_ids(
        &ids_read(tasks).await,
        (1..=20000).map(|i| i * 5),
        "without LOCK TABLES",
    );

    // The ranges are planned and their snapshots taken when the source opens: rows
    // written afterwards (inside and outside min..max) are not read, rows deleted are.
    let tasks = tasks_of(&my_in(&db.name, "table: src\nselect: id"), 3).await;
    assert_eq!(tasks.len(), 3);
    conn.query_drop(
        "INSERT INTO src VALUES (-1, 'new', 1), (50001, 'new', 1), (200000, 'new', 1);
         DELETE FROM src WHERE id IN (5, 50000, 100000);
         UPDATE src SET id = 3 WHERE id = 99995;",
    )
    .await
    .unwrap();
    assert_ids(
        &ids_read(tasks).await,
        (1..=20000).map(|i| i * 5),
        "three key ranges",
    );

    // One query: a key that is not one integer column, no key, too few keys for two
    // ranges of 4096, a storage engine without snapshots, or a query.
    for (table, rows) in [
        ("codes", 20000),
        ("pairs", 20000),
        ("no_key", 20000),
        ("few", 8000),
        ("aria", 20000),
    ] {
        let input = my_in(&db.name, &format!("table: {table}\nselect: id"));
        let tasks = tasks_of(&input, 4).await;
        assert_eq!(tasks.len(), 1, "{table}");
        assert_ids(&ids_read(tasks).await, 1..=rows, table);
    }
    for rest in [
        "query: SELECT id FROM src",
        "table: src\nselect: id\norder_by: id",
        "table: src\nselect: id\nincremental: true",
        "table: src\nselect: DISTINCT note",
        "table: src\nselect: count(*) AS id",
    ] {
        assert_eq!(tasks_of(&my_in(&db.name, rest), 4).await.len(), 1, "{rest}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_input_column_options_convert_types_and_format_timestamps() {
    let (db, mut conn) = mysql_db().await;
    conn.query_drop(
        "SET time_zone = '+00:00';
         CREATE TABLE src (id INT PRIMARY KEY, at DATETIME, ts TIMESTAMP NULL, n INT);
         INSERT INTO src VALUES (1, '2024-01-01 09:00:00', '2024-01-01 00:00:00', 7);",
    )
    .await
    .unwrap();
    run(&format!(
        "{}{}",
        my_in(
            &db.name,
            r#"
            table: src
            default_timezone: Asia/Tokyo
            column_options:
              at: {type: string, timestamp_format: '%Y/%m/%d %H:%M %z'}
              ts: {type: string, timestamp_format: '%H:%M', timezone: UTC}
              n: {type: string}
            "#
        ),
        my_out(&db.name, "table: dst")
    ))
    .await
    .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT CONCAT_WS('|', at, ts, n) FROM dst").await,
        // The DATETIME read as UTC and formatted in the zone, as in Embulk.
        ["2024/01/01 18:00 +0900|00:00|7"]
    );
    assert_eq!(
        rows(
            &mut conn,
            "SELECT GROUP_CONCAT(data_type ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'dst'"
        )
        .await,
        ["bigint,longtext,longtext,longtext"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_output_column_options_type_format_and_create_table_option() {
    let (pg, client) = postgres_db().await;
    let (my, mut conn) = mysql_db().await;
    client
        .batch_execute(
            "CREATE TABLE src (id int PRIMARY KEY, at timestamptz, code text);
             INSERT INTO src VALUES (1, '2024-01-01 00:00:00+00', 'a');",
        )
        .await
        .unwrap();
    run(&format!(
        "{}{}",
        pg_in(&pg.name, "table: src"),
        my_out(
            &my.name,
            r#"
            table: created
            create_table_constraint: PRIMARY KEY (id)
            create_table_option: COMMENT = 'made by hakobu'
            column_options:
              at: {timestamp_format: '%Y/%m/%d %H:%M %z', timezone: Asia/Tokyo}
              code: {type: VARCHAR(3)}
            "#
        )
    ))
    .await
    .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT CONCAT_WS('|', at, code) FROM created").await,
        ["2024/01/01 09:00 +0900|a"]
    );
    assert_eq!(
        rows(
            &mut conn,
            "SELECT CONCAT_WS('|', GROUP_CONCAT(CONCAT(column_name, ' ', column_type, ' ', column_key) ORDER BY ordinal_position), \
             (SELECT table_comment FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'created')) \
             FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'created'"
        )
        .await,
        ["id bigint(20) PRI,at longtext ,code varchar(3) |made by hakobu"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_hooks_run_in_order_around_the_read_and_the_load() {
    let (db, mut conn) = mysql_db().await;
    conn.query_drop(
        "CREATE TABLE src (id INT PRIMARY KEY, v TEXT); INSERT INTO src VALUES (1, 'x');
         CREATE TABLE log (n INT AUTO_INCREMENT PRIMARY KEY, msg TEXT);",
    )
    .await
    .unwrap();
    run(&format!(
        "{}{}",
        my_in(
            &db.name,
            "
            table: src
            before_setup: INSERT INTO log (msg) VALUES ('before_setup')
            before_select: INSERT INTO log (msg) VALUES ('before_select')
            after_select: INSERT INTO log (msg) VALUES ('after_select')"
        ),
        my_out(
            &db.name,
            "
            table: dst
            mode: truncate_insert
            before_load: INSERT INTO log (msg) VALUES ('before_load')
            after_load: INSERT INTO log (msg) VALUES ('after_load')"
        )
    ))
    .await
    .unwrap();
    assert_eq!(
        rows(&mut conn, "SELECT GROUP_CONCAT(msg ORDER BY n) FROM log").await,
        ["before_setup,before_select,after_select,before_load,after_load"]
    );
    assert_eq!(rows(&mut conn, "SELECT v FROM dst").await, ["x"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mariadb_server_that_stops_sending_fails_the_run_after_socket_timeout() {
    let (db, _conn) = mysql_db().await;
    let started = std::time::Instant::now();
    let err = run(&format!(
        "{}{}",
        my_in(&db.name, "query: SELECT SLEEP(5) AS a\nsocket_timeout: 1"),
        my_out(&db.name, "table: never")
    ))
    .await
    .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("the server sent nothing for 1 s (socket_timeout)"),
        "{err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_value_type_reads_a_column_as_that_kind() {
    let (db, mut conn) = mysql_db().await;
    conn.query_drop(
        r#"SET time_zone = '+00:00';
           CREATE TABLE src (id INT PRIMARY KEY, at DATETIME(6), ts TIMESTAMP NULL, n DECIMAL(10,2),
             s VARCHAR(10), flag VARCHAR(5), doc TEXT, raw VARBINARY(10), tm TIME, i INT, w VARCHAR(30), r DOUBLE);
           INSERT INTO src VALUES
             (1, '2024-01-02 03:04:05.5', '2024-01-02 03:04:05', 12.50, '42', '1', '{"a": [1]}', 'abc', '10:11:12', 7, '2024-05-06 07:08:09', 2.5),
             (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"#,
    )
    .await
    .unwrap();
    let yaml = |rest: &str| {
        format!(
            "{}{}",
            my_in(
                &db.name,
                &format!(
                    r#"
                    table: src
                    default_timezone: Asia/Tokyo
                    {rest}
                    column_options:
                      at: {{value_type: string}}
                      ts: {{value_type: date}}
                      n: {{value_type: long}}
                      s: {{value_type: double}}
                      flag: {{value_type: boolean}}
                      doc: {{value_type: json}}
                      raw: {{value_type: string}}
                      tm: {{value_type: time}}
                      i: {{value_type: decimal}}
                      w: {{value_type: timestamp}}
                      r: {{value_type: string, type: double}}
                    "#
                )
            ),
            my_out(&db.name, "table: dst")
        )
    };
    let config = hakobu_core::config::Config::from_yaml(&yaml("order_by: id DESC")).unwrap();
    let p = hakobu_engine::preview_config(&config, &hakobu_engine::FileAccess::Off, 10)
        .await
        .unwrap();
    let types: Vec<&str> = p.columns.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "long",
            "string",
            "date",
            "long",
            "double",
            "boolean",
            "json",
            "string",
            "string",
            "decimal",
            "timestamp",
            "double"
        ]
    );
    // order_by is kept although the read is wrapped for the casts.
    assert_eq!(p.rows[0][0], serde_json::json!(2));
    assert!(
        p.rows[0][1..].iter().all(|v| v.is_null()),
        "{:?}",
        p.rows[0]
    );
    assert_eq!(
        serde_json::Value::Array(p.rows[1].clone()),
        serde_json::json!([
            1,
            "2024-01-02 03:04:05.500000",
            "2024-01-02",
            13,
            42.0,
            true,
            {"a": [1]},
            "abc",
            "10:11:12",
            "7",
            "2024-05-05T22:08:09.000000Z",
            2.5
        ])
    );
    // A load creates the target from those types; with enough rows for two key ranges,
    // each range's query carries the casts too (`n` would not read as a long otherwise).
    conn.query_drop("INSERT INTO src (id, n) SELECT seq, 1.5 FROM seq_3_to_10000")
        .await
        .unwrap();
    let s = run(&format!("{}exec:\n  max_threads: 2\n", yaml("")))
        .await
        .unwrap();
    assert_eq!(s.rows_written, 10000);
    assert_eq!(
        rows(
            &mut conn,
            "SELECT GROUP_CONCAT(data_type ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'dst'"
        )
        .await,
        ["bigint,longtext,date,bigint,double,tinyint,longtext,longtext,longtext,decimal,datetime,double"]
    );
    assert_eq!(
        rows(
            &mut conn,
            "SELECT CONCAT_WS('|', at, ts, n, s, raw, tm) FROM dst WHERE id = 1"
        )
        .await,
        ["2024-01-02 03:04:05.500000|2024-01-02|13|42|abc|10:11:12"]
    );
    assert_eq!(rows(&mut conn, "SELECT SUM(n) FROM dst").await, ["20009"]);
}

/// Rows of `dst` with every value as text (binary as hex), for comparing loads exactly.
async fn edge_rows(conn: &mut mysql_async::Conn) -> Vec<String> {
    conn.query_drop("SET time_zone = '+00:00'").await.unwrap();
    rows(
        conn,
        "SELECT CONCAT_WS('|', id, IFNULL(HEX(s), 'NULL'), IFNULL(CAST(d AS DECIMAL(38,10)), 'NULL'),
                IFNULL(at, 'NULL'), IFNULL(ts, 'NULL'), IFNULL(day, 'NULL'), IFNULL(doc, 'NULL'),
                IFNULL(HEX(raw), 'NULL'), IFNULL(f, 'NULL'), IFNULL(b, 'NULL')) FROM dst ORDER BY id",
    )
    .await
}

/// Hex of a string, as MySQL's HEX() writes it.
fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02X}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_data_and_inserts_write_edge_values_exactly_in_every_mode() {
    let (pg, client) = postgres_db().await;
    client
        .batch_execute(
            r#"CREATE TABLE src (id bigint PRIMARY KEY, s text, d numeric(38,10), at timestamptz, ts timestamptz,
                 day date, doc jsonb, raw bytea, f float8, b boolean);
               INSERT INTO src VALUES
                 (1, E'tab\there\nnl \\ back \\N 日本語 🍣 ''q'' "dq" \r cr', 12345678901234567890123456.0123456789,
                  '2024-01-02 03:04:05.123456+00', '2024-01-02 03:04:05.5+00', '2024-02-29',
                  '{"a": [1, null, "x\ty"]}', E'\\x00ff5c0a0900', 1.5e300, true),
                 (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                 (3, '', -0.0000000001, '1970-01-01 00:00:00+00', '1970-01-02 00:00:00+00', '0001-01-01',
                  '""', '', -0.5, false),
                 (4, E'\\N', 0, '9999-12-31 14:59:59.999999+00', NULL, '9999-12-31', '{}', E'\\x5c4e', 0, NULL);"#,
        )
        .await
        .unwrap();
    let s1 = "tab\there\nnl \\ back \\N 日本語 🍣 'q' \"dq\" \r cr";
    let source = [
        format!(
            "1|{}|12345678901234567890123456.0123456789|2024-01-02 12:04:05.123456|2024-01-02 03:04:05.500000|2024-02-29|{{\"a\": [1, null, \"x\\ty\"]}}|00FF5C0A0900|1.5e300|1",
            hex_of(s1)
        ),
        "2|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL".to_owned(),
        "3||-0.0000000001|1970-01-01 09:00:00.000000|1970-01-02 00:00:00.000000|0001-01-01|\"\"||-0.5|0".to_owned(),
        format!(
            "4|{}|0.0000000000|9999-12-31 23:59:59.999999|NULL|9999-12-31|{{}}|5C4E|0|NULL",
            hex_of("\\N")
        ),
    ];
    let kept = "99|6B657074|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL".to_owned();
    let modes = [
        "insert",
        "insert_direct",
        "truncate_insert",
        "replace",
        "merge",
        "merge_direct",
    ];
    for load_data in [true, false] {
        for mode in modes {
            let (my, mut conn) = mysql_db().await;
            conn.query_drop(
                "CREATE TABLE dst (id BIGINT PRIMARY KEY, s TEXT, d DECIMAL(38,10), at DATETIME(6), ts TIMESTAMP(6) NULL,
                   day DATE, doc JSON, raw LONGBLOB, f DOUBLE, b BOOLEAN);
                 INSERT INTO dst (id, s) VALUES (99, 'kept');
                 CREATE TABLE loads (n BIGINT);",
            )
            .await
            .unwrap();
            let option = if load_data {
                ""
            } else {
                "options: {allowLoadLocalInfile: 'false'}"
            };
            // after_load runs in the writer's session: its LOAD DATA statement count.
            let s = run(&format!(
                "{}\n{}",
                pg_in(&pg.name, "table: src"),
                my_out(
                    &my.name,
                    &format!(
                        "table: dst\nmode: {mode}\ndefault_timezone: Asia/Tokyo\n\
                         column_options: {{ts: {{timezone: UTC}}}}\n{option}\n\
                         after_load: INSERT INTO loads SELECT variable_value FROM information_schema.session_status WHERE variable_name = 'COM_LOAD'"
                    )
                )
            ))
            .await
            .unwrap_or_else(|e| panic!("{mode} load_data {load_data}: {e:#}"));
            assert_eq!(s.rows_written, 4, "{mode}");
            let mut expected = source.to_vec();
            if !matches!(mode, "truncate_insert" | "replace") {
                expected.push(kept.clone());
            }
            assert_eq!(
                edge_rows(&mut conn).await,
                expected,
                "{mode} load_data {load_data}"
            );
            let loads: Vec<i64> = conn.query("SELECT n FROM loads").await.unwrap();
            // The empty probe and one chunk; merge_direct always upserts with INSERTs.
            let expected_loads = if load_data && mode != "merge_direct" {
                2
            } else {
                0
            };
            assert_eq!(loads, [expected_loads], "{mode} load_data {load_data}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_load_data_would_only_warn_about_fails_the_load_like_an_insert() {
    for load_data in [true, false] {
        let option = if load_data {
            ""
        } else {
            "options: {allowLoadLocalInfile: 'false'}"
        };
        // A duplicate key: LOAD DATA LOCAL skips it with a warning; the run must fail
        // and, in insert_direct, the chunk must be rolled back as a failed INSERT is.
        let (result, got) = run_mode("insert_direct", option, "").await;
        let err = format!("{:#}", result.unwrap_err());
        assert!(err.contains("Duplicate entry '2'"), "{load_data}: {err}");
        assert_eq!(got, ["1:old one:kept", "2:old two:kept"], "{load_data}");

        // A value the column cannot hold: an error in strict mode, a warning with LOCAL.
        let (result, got) = run_mode(
            "insert",
            option,
            "DELETE FROM dst WHERE id = 2; ALTER TABLE dst MODIFY v VARCHAR(7)",
        )
        .await;
        let err = format!("{:#}", result.unwrap_err());
        assert!(
            err.contains("for column `v`") || err.contains("for column 'v'"),
            "{load_data}: {err}"
        );
        assert_eq!(got, ["1:old one:kept"], "{load_data}");
    }
    let (result, _) = run_mode("insert", "options: {allowLoadLocalInfile: maybe}", "").await;
    assert!(
        format!("{:#}", result.unwrap_err())
            .contains("out.options.allowLoadLocalInfile: expected true or false, got \"maybe\""),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_data_sends_several_chunks_and_insert_direct_keeps_those_before_a_bad_one() {
    let (pg, client) = postgres_db().await;
    let (my, mut conn) = mysql_db().await;
    // About 15 MiB of text: four 4 MiB LOAD DATA chunks, one in flight while the next
    // is encoded.
    client
        .batch_execute(
            "CREATE TABLE src (id int PRIMARY KEY, v text);
             INSERT INTO src SELECT g, g || E'\\t' || repeat('x', 300) FROM generate_series(1, 50000) g;",
        )
        .await
        .unwrap();
    let s = run(&format!(
        "{}\n{}",
        pg_in(&pg.name, "table: src"),
        my_out(&my.name, "table: all_rows")
    ))
    .await
    .unwrap();
    assert_eq!(s.rows_written, 50000);
    assert_eq!(
        rows(
            &mut conn,
            "SELECT CONCAT_WS(':', COUNT(*), SUM(id), SUM(v = CONCAT(id, '\\t', REPEAT('x', 300)))) FROM all_rows"
        )
        .await,
        ["50000:1250025000:50000"]
    );

    // A duplicate key in the second chunk: the first chunk stays (insert_direct commits
    // each chunk), the second is rolled back, nothing after it is sent.
    conn.query_drop(
        "CREATE TABLE dst (id INT PRIMARY KEY, v TEXT); INSERT INTO dst VALUES (20000, 'before')",
    )
    .await
    .unwrap();
    let err = run(&format!(
        "{}\n{}",
        pg_in(&pg.name, "table: src\norder_by: id"),
        my_out(&my.name, "table: dst\nmode: insert_direct")
    ))
    .await
    .unwrap_err();
    let err = format!("{err:#}");
    assert!(err.contains("Duplicate entry '20000'"), "{err}");
    let first: i64 = err
        .split("LOAD DATA of rows ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no row range in {err}"));
    assert!(1 < first && first <= 20000, "{err}");
    // Rows 1 .. first - 1 and the row that was there.
    assert_eq!(
        rows(
            &mut conn,
            "SELECT CONCAT_WS(':', COUNT(*), MAX(IF(id = 20000, 0, id)), SUM(id = 20000 AND v = 'before')) FROM dst"
        )
        .await,
        [format!("{first}:{}:1", first - 1)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jdbc_options_as_embulk_configs_write_them_are_applied() {
    let (my, mut conn) = mysql_db().await;
    let (pg, client) = postgres_db().await;
    conn.query_drop(
        "SET SESSION sql_mode = '';
         CREATE TABLE src (id INT PRIMARY KEY, at DATETIME, day DATE);
         INSERT INTO src VALUES (1, '2024-01-02 09:00:00', '2024-01-02'), (2, '0000-00-00 00:00:00', '0000-00-00');",
    )
    .await
    .unwrap();
    client
        .batch_execute("CREATE TABLE dst (id int PRIMARY KEY, at timestamptz, day date)")
        .await
        .unwrap();
    // The scalars as people write them: booleans, numbers, text.
    let options = "options:\n  useSSL: false\n  useUnicode: true\n  characterEncoding: utf8\n  serverTimezone: Asia/Tokyo\n  zeroDateTimeBehavior: round\n  connectTimeout: 10000\n  cachePrepStmts: true";
    let s = run(&format!(
        "{}\n{}",
        my_in(&my.name, &format!("table: src\n{options}")),
        pg_out(&pg.name, "table: dst\nmode: insert")
    ))
    .await
    .unwrap();
    assert_eq!(s.rows_written, 2);
    let got: Vec<String> = client
        .query("SELECT concat_ws(' | ', id, (at AT TIME ZONE 'UTC')::text, day::text) FROM dst ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        got,
        [
            "1 | 2024-01-02 00:00:00 | 2024-01-02",
            "2 | 0001-01-01 00:00:00 | 0001-01-01"
        ],
        "DATETIME read in serverTimezone; zero dates rounded"
    );

    // exception: the run fails on the zero date, naming the option.
    let err = run(&format!(
        "{}\n{}",
        my_in(
            &my.name,
            "table: src\noptions: {zeroDateTimeBehavior: exception}"
        ),
        pg_out(&pg.name, "table: dst\nmode: insert")
    ))
    .await
    .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("is a zero date (options.zeroDateTimeBehavior: exception)"),
        "{err}"
    );

    // Connector/J's socketTimeout is in milliseconds.
    let started = std::time::Instant::now();
    let err = run(&format!(
        "{}{}",
        my_in(
            &my.name,
            "query: SELECT SLEEP(5) AS a\noptions: {socketTimeout: 1000}"
        ),
        my_out(&my.name, "table: never")
    ))
    .await
    .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("the server sent nothing for 1 s (socket_timeout)"),
        "{err}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}

/// A whole MySQL table's rows are expected from `information_schema.tables.table_rows`
/// (InnoDB's estimate: only its presence is asserted, not its value); a `where` reads an
/// unknown share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_expects_a_whole_tables_rows_from_its_statistics() {
    let (db, mut conn) = mysql_db().await;
    conn.query_drop(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text);
         INSERT INTO src SELECT seq, CONCAT('n', seq) FROM seq_1_to_300;
         ANALYZE TABLE src;",
    )
    .await
    .unwrap();
    let out = my_out(&db.name, "table: dst\nmode: replace");
    let whole = format!("{}\n{out}", my_in(&db.name, "table: src"));
    let (rows, bytes) = expected_by_progress(&whole).await;
    assert!(rows.is_some_and(|n| n > 0), "{rows:?}");
    assert_eq!(bytes, None);
    let part = format!("{}\n{out}", my_in(&db.name, "table: src\nwhere: id > 5"));
    assert_eq!(expected_by_progress(&part).await, (None, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_written_are_the_load_data_text_or_the_inserts_sent() {
    let (db, mut conn) = mysql_db().await;
    conn.query_drop(
        "CREATE TABLE src (id bigint PRIMARY KEY); INSERT INTO src VALUES (1), (2), (30)",
    )
    .await
    .unwrap();
    let load = run(&format!(
        "{}\n{}",
        my_in(&db.name, "table: src\norder_by: id"),
        my_out(&db.name, "table: by_load\nmode: insert_direct")
    ))
    .await
    .unwrap();
    // LOAD DATA's text: one line per row.
    assert_eq!(load.bytes_written, "1\n2\n30\n".len() as u64);
    let inserts = run(&format!(
        "{}\n{}",
        my_in(&db.name, "table: src\norder_by: id"),
        my_out(
            &db.name,
            "table: by_insert\nmode: insert_direct\noptions: {allowLoadLocalInfile: false}"
        )
    ))
    .await
    .unwrap();
    assert_eq!(
        inserts.bytes_written,
        "INSERT INTO `by_insert` (`id`) VALUES (1),(2),(30)".len() as u64
    );
}

/// insert and truncate_insert load an existing target directly inside one transaction:
/// `before_load` runs before the rows (after the delete, in truncate_insert), and a value
/// the target refuses rolls back the rows and the delete alike, through LOAD DATA and
/// through INSERTs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_loads_run_before_load_first_and_roll_back_whole() {
    for (mode, expected) in [
        (
            "insert",
            ["1:old one:kept", "2:new two:kept", "3:new three:kept"].as_slice(),
        ),
        (
            "truncate_insert",
            ["2:new two:kept", "3:new three:kept"].as_slice(),
        ),
    ] {
        let (result, rows) = run_mode(mode, "before_load: DELETE FROM dst WHERE id >= 2", "").await;
        result.unwrap();
        assert_eq!(rows, expected, "{mode}");
        for options in ["", "options: {allowLoadLocalInfile: false}"] {
            let (result, rows) = run_mode(
                mode,
                options,
                "DELETE FROM src WHERE id = 2; ALTER TABLE dst MODIFY v VARCHAR(10); \
                 INSERT INTO src VALUES (4, 'a value far too long for ten')",
            )
            .await;
            let err = format!("{:#}", result.unwrap_err());
            assert!(
                err.contains("row") || err.contains("Data too long"),
                "{mode} {options}: {err}"
            );
            assert_eq!(
                rows,
                ["1:old one:kept", "2:old two:kept"],
                "{mode} {options}"
            );
        }
    }
}
