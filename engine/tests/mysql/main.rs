//! MySQL / MariaDB source and destination against the local MariaDB: types, modes,
//! incremental loads, time zones and failures.

#[path = "../common/mod.rs"]
mod common;

use common::*;
use mysql_async::prelude::Queryable;

async fn rows(conn: &mut mysql_async::Conn, sql: &str) -> Vec<String> {
    conn.query(sql).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_to_postgres_keeps_types_exact() {
    let (my, mut conn) = TestDb::mysql().await;
    let (pg, client) = TestDb::postgres().await;
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
    let (db, mut conn) = TestDb::mysql().await;
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
    let (db, mut conn) = TestDb::mysql().await;
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
    let (pg, client) = TestDb::postgres().await;
    let (my, mut conn) = TestDb::mysql().await;
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
    let (my, mut conn) = TestDb::mysql().await;
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
}
