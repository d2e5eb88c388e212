//! The Snowflake destination against fakesnow's server (`scripts/fakesnow.sh`, started by
//! `make test`; `HAKOBU_TEST_SNOWFLAKE_ENDPOINT`, default `http://127.0.0.1:5066`), from
//! the local PostgreSQL. Each test loads into its own database of the emulator.
//!
//! What the emulator lacks, so these tests cannot show: it accepts any password and any
//! key-pair token (sign-in is checked by the JWT's own unit test instead); its `PUT`
//! answers with an unencrypted presigned URL, where a real account asks for client-side
//! encryption and S3 locations (those are `snowflake_stage.rs`, against moto with answers
//! shaped like a real account's); `CREATE TEMPORARY STAGE` is visible to every session.

use crate::common::{pg_in, postgres_db, run};
use hakobu_engine::connectors::snowflake::{Login, Rows, Session};

fn endpoint() -> String {
    std::env::var("HAKOBU_TEST_SNOWFLAKE_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:5066".to_owned())
}

/// A fresh database on the emulator and a session in it.
async fn snowflake_db() -> (String, Session) {
    let n: u64 = rand::random();
    let db = format!("HK{n:016X}");
    let base = endpoint();
    let session = Session::connect(&Login {
        account: "test",
        base_url: &base,
        user: "tester",
        password: Some("pw"),
        private_key: None,
        warehouse: None,
        role: None,
        database: None,
        schema: None,
    })
    .await
    .expect("fakesnow runs (scripts/fakesnow.sh)");
    session
        .execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    session
        .execute(&format!("CREATE SCHEMA {db}.PUBLIC"))
        .await
        .unwrap();
    (db, session)
}

fn sf_out(db: &str, rest: &str) -> String {
    let mut out = format!(
        "out:\n  type: snowflake\n  account: test\n  endpoint: {}\n  user: tester\n  password: pw\n  database: {db}\n",
        endpoint()
    );
    for line in rest.lines().filter(|l| !l.trim().is_empty()) {
        out.push_str(&format!("  {}\n", line.trim()));
    }
    out
}

async fn rows(s: &Session, sql: &str) -> Vec<Vec<Option<String>>> {
    let Rows { rows, .. } = s.execute(sql).await.unwrap();
    rows
}

/// One result row, NULL as `None`.
type Row = Vec<Option<String>>;

fn row(cells: &[Option<&str>]) -> Row {
    cells.iter().map(|c| c.map(str::to_owned)).collect()
}

async fn source(client: &tokio_postgres::Client) {
    client
        .batch_execute(
            "CREATE TABLE src (id bigint PRIMARY KEY, name text, amount numeric(10,2), ts timestamptz, dt date, ok boolean, doc jsonb);
             INSERT INTO src VALUES
               (1, 'one', 12.50, '2024-01-02 03:04:05+00', '2024-01-02', true, '{\"a\": 1}'),
               (2, NULL, NULL, NULL, NULL, NULL, NULL),
               (3, 'three, with \"quotes\"', -0.01, '2024-06-30 23:59:59.5+00', '1999-12-31', false, '[1, 2]');",
        )
        .await
        .unwrap();
}

const SELECT: &str =
    "SELECT ID, NAME, AMOUNT, TO_VARCHAR(TS), DT, OK, TO_VARCHAR(DOC) FROM {t} ORDER BY ID";

fn select(db: &str, table: &str) -> String {
    SELECT.replace("{t}", &format!("{db}.PUBLIC.{table}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_creates_the_table_with_mapped_types_and_loads_exact_rows() {
    let (pg, client) = postgres_db().await;
    source(&client).await;
    let (db, s) = snowflake_db().await;
    let yaml = format!(
        "{}\n{}",
        pg_in(&pg.name, "table: src"),
        sf_out(&db, "table: dst\nmode: insert")
    );
    let summary = run(&yaml).await.unwrap();
    assert_eq!(summary.rows_written, 3);
    assert!(summary.bytes_written > 0);
    let got = rows(&s, &select(&db, "DST")).await;
    assert_eq!(
        got,
        vec![
            row(&[
                Some("1"),
                Some("one"),
                Some("12.500000000"),
                Some("2024-01-02 03:04:05+00"),
                Some("2024-01-02"),
                Some("true"),
                Some("{\"a\":1}"),
            ]),
            row(&[Some("2"), None, None, None, None, None, None]),
            row(&[
                Some("3"),
                Some("three, with \"quotes\""),
                Some("-0.010000000"),
                Some("2024-06-30 23:59:59.5+00"),
                Some("1999-12-31"),
                Some("false"),
                Some("[1,2]"),
            ]),
        ]
    );
    let types = rows(
        &s,
        &format!(
            "SELECT COLUMN_NAME, DATA_TYPE FROM {db}.INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'DST' ORDER BY ORDINAL_POSITION"
        ),
    )
    .await;
    let types: Vec<String> = types
        .into_iter()
        .map(|r| format!("{}:{}", r[0].clone().unwrap(), r[1].clone().unwrap()))
        .collect();
    assert_eq!(
        types,
        [
            "ID:NUMBER",
            "NAME:TEXT",
            "AMOUNT:NUMBER",
            "TS:TIMESTAMP_TZ",
            "DT:DATE",
            "OK:BOOLEAN",
            "DOC:VARIANT"
        ]
    );
    // A second insert appends; no staging table is left behind.
    run(&yaml).await.unwrap();
    assert_eq!(
        rows(&s, &format!("SELECT COUNT(*) FROM {db}.PUBLIC.DST")).await,
        vec![row(&[Some("6")])]
    );
    let tables = rows(
        &s,
        &format!(
            "SELECT TABLE_NAME FROM {db}.INFORMATION_SCHEMA.TABLES WHERE TABLE_SCHEMA = 'PUBLIC'"
        ),
    )
    .await;
    assert_eq!(tables, vec![row(&[Some("DST")])]);
}

/// A target with rows (1, 'old one') and (9, 'kept').
async fn target(s: &Session, db: &str) {
    s.execute(&format!(
        "CREATE TABLE {db}.PUBLIC.DST (ID NUMBER(19,0), NAME VARCHAR)"
    ))
    .await
    .unwrap();
    s.execute(&format!(
        "INSERT INTO {db}.PUBLIC.DST VALUES (1, 'old one'), (9, 'kept')"
    ))
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mode_leaves_the_rows_it_promises() {
    let (pg, client) = postgres_db().await;
    source(&client).await;
    let cases: [(&str, &str, Vec<Row>); 5] = [
        (
            "insert_direct",
            "",
            vec![
                row(&[Some("1"), Some("old one")]),
                row(&[Some("1"), Some("one")]),
                row(&[Some("2"), None]),
                row(&[Some("3"), Some("three, with \"quotes\"")]),
                row(&[Some("9"), Some("kept")]),
            ],
        ),
        (
            "truncate_insert",
            "",
            vec![
                row(&[Some("1"), Some("one")]),
                row(&[Some("2"), None]),
                row(&[Some("3"), Some("three, with \"quotes\"")]),
            ],
        ),
        (
            "merge",
            "merge_keys: [id]",
            vec![
                row(&[Some("1"), Some("one")]),
                row(&[Some("2"), None]),
                row(&[Some("3"), Some("three, with \"quotes\"")]),
                row(&[Some("9"), Some("kept")]),
            ],
        ),
        (
            "replace",
            "",
            vec![
                row(&[Some("1"), Some("one")]),
                row(&[Some("2"), None]),
                row(&[Some("3"), Some("three, with \"quotes\"")]),
            ],
        ),
        (
            "insert",
            "",
            vec![
                row(&[Some("1"), Some("old one")]),
                row(&[Some("1"), Some("one")]),
                row(&[Some("2"), None]),
                row(&[Some("3"), Some("three, with \"quotes\"")]),
                row(&[Some("9"), Some("kept")]),
            ],
        ),
    ];
    for (mode, extra, expected) in cases {
        let (db, s) = snowflake_db().await;
        target(&s, &db).await;
        let yaml = format!(
            "{}\n{}",
            pg_in(&pg.name, "query: SELECT id, name FROM src"),
            sf_out(&db, &format!("table: dst\nmode: {mode}\n{extra}"))
        );
        run(&yaml).await.unwrap_or_else(|e| panic!("{mode}: {e:#}"));
        let got = rows(
            &s,
            &format!("SELECT ID, NAME FROM {db}.PUBLIC.DST ORDER BY ID, NAME"),
        )
        .await;
        assert_eq!(got, expected, "{mode}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_leaves_the_target_unchanged() {
    let (pg, client) = postgres_db().await;
    // 3000 good rows, then one whose id is no number: the staging table takes it as text,
    // and the move into the target's NUMBER column fails inside the transaction (after
    // truncate_insert's DELETE ran in it).
    client
        .batch_execute(
            "CREATE TABLE src (id text, name text);
             INSERT INTO src SELECT g::text, 'x' FROM generate_series(10, 3000) g;
             INSERT INTO src VALUES ('not a number', 'bad');",
        )
        .await
        .unwrap();
    for mode in ["insert", "truncate_insert", "merge"] {
        let (db, s) = snowflake_db().await;
        target(&s, &db).await;
        let before = rows(
            &s,
            &format!("SELECT ID, NAME FROM {db}.PUBLIC.DST ORDER BY ID"),
        )
        .await;
        let extra = if mode == "merge" {
            "merge_keys: [id]"
        } else {
            ""
        };
        let yaml = format!(
            "{}\n{}",
            pg_in(&pg.name, "table: src"),
            sf_out(&db, &format!("table: dst\nmode: {mode}\n{extra}"))
        );
        let err = format!("{:#}", run(&yaml).await.unwrap_err());
        // The move into the target failed, not the staging.
        assert!(
            err.contains("loading \"") && err.contains("\"DST\""),
            "{mode}: {err}"
        );
        let after = rows(
            &s,
            &format!("SELECT ID, NAME FROM {db}.PUBLIC.DST ORDER BY ID"),
        )
        .await;
        assert_eq!(after, before, "{mode}");
    }
    // A source that fails part-way: nothing reaches the target in any transactional mode,
    // replace included.
    for mode in ["insert", "truncate_insert", "merge", "replace"] {
        let (db, s) = snowflake_db().await;
        target(&s, &db).await;
        let before = rows(
            &s,
            &format!("SELECT ID, NAME FROM {db}.PUBLIC.DST ORDER BY ID"),
        )
        .await;
        let extra = if mode == "merge" {
            "merge_keys: [id]"
        } else {
            ""
        };
        let yaml = format!(
            "{}\n{}",
            pg_in(
                &pg.name,
                "query: SELECT g AS id, (1 / (20000 - g))::text AS name FROM generate_series(1, 30000) g"
            ),
            sf_out(&db, &format!("table: dst\nmode: {mode}\n{extra}"))
        );
        let err = format!("{:#}", run(&yaml).await.unwrap_err());
        assert!(err.contains("division by zero"), "{mode}: {err}");
        let after = rows(
            &s,
            &format!("SELECT ID, NAME FROM {db}.PUBLIC.DST ORDER BY ID"),
        )
        .await;
        assert_eq!(after, before, "{mode}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_loads_go_through_parts_of_the_stage() {
    // More rows than one part holds would take minutes on the emulator; this checks that a
    // load of many batches arrives whole through COPY INTO.
    let (pg, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE src AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 50000) g",
        )
        .await
        .unwrap();
    let (db, s) = snowflake_db().await;
    let yaml = format!(
        "{}\n{}",
        pg_in(&pg.name, "table: src"),
        sf_out(&db, "table: dst\nmode: truncate_insert")
    );
    run(&yaml).await.unwrap();
    let max: String = client
        .query_one("SELECT max(name) FROM src", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        rows(
            &s,
            &format!("SELECT COUNT(*), SUM(ID), MAX(NAME) FROM {db}.PUBLIC.DST")
        )
        .await,
        vec![row(&[Some("50000"), Some("1250025000"), Some(&max)])]
    );
}
