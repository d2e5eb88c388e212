//! PostgreSQL source and destination against the local server: types, modes,
//! incremental loads, time zones and failures.

use crate::common::*;

const ALL_TYPES: &str = r#"
CREATE TABLE src (
  id bigint PRIMARY KEY,
  small smallint, num integer, amount numeric(38,10), ratio double precision, r real,
  note text, code varchar(10), flag boolean,
  at timestamptz, local_at timestamp, day date,
  doc json, docb jsonb, raw bytea, uid uuid, ip inet
);
INSERT INTO src VALUES
  (1, 1, 10, 1234567890123456789012345678.0123456789, 1.5, 2.25,
   E'unicode 日本語 🍣, "quotes", comma, tab\t, newline\n and back\\slash', 'abc', true,
   '2024-03-10 12:34:56.123456+00', '2024-03-10 12:34:56.654321', '2024-03-10',
   '{"a": [1, 2, {"b": null}]}', '{"k": "v", "n": 1.5}', '\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '10.0.0.1'),
  (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (3, -32768, -2147483648, -0.0000000001, -1e300, 0, '', ' ', false,
   '1970-01-01 00:00:00+00', '1999-12-31 23:59:59.999999', '1900-01-01',
   '[]', '"s"', '', '00000000-0000-0000-0000-000000000000', '::1');
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_every_type_exactly_into_an_existing_table() {
    let (db, client) = postgres_db().await;
    client.batch_execute(ALL_TYPES).await.unwrap();
    client
        .batch_execute("CREATE TABLE dst (LIKE src INCLUDING ALL)")
        .await
        .unwrap();
    let summary = run(&format!(
        "{}\n{}",
        pg_in(&db.name, "table: src"),
        pg_out(&db.name, "table: dst")
    ))
    .await
    .unwrap();
    assert_eq!((summary.rows_read, summary.rows_written), (3, 3));
    assert_eq!(
        pg_checksum(&client, "src", "id").await,
        pg_checksum(&client, "dst", "id").await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_a_missing_table_with_mapped_types_and_keeps_numerics_exact() {
    let (db, client) = postgres_db().await;
    client.batch_execute(ALL_TYPES).await.unwrap();
    run(&format!(
        "{}\n{}",
        pg_in(&db.name, "table: src"),
        pg_out(&db.name, "table: created")
    ))
    .await
    .unwrap();
    let row = client
        .query_one("SELECT amount::text, note, doc::text, ip, pg_typeof(amount)::text, pg_typeof(at)::text FROM created WHERE id = 1", &[])
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        "1234567890123456789012345678.0123456789"
    );
    assert_eq!(
        row.get::<_, String>(1),
        "unicode 日本語 🍣, \"quotes\", comma, tab\t, newline\n and back\\slash"
    );
    assert_eq!(row.get::<_, String>(2), r#"{"a": [1, 2, {"b": null}]}"#);
    assert_eq!(
        row.get::<_, String>(3),
        "10.0.0.1/32",
        "types without a binary codec travel as text"
    );
    assert_eq!(row.get::<_, String>(4), "numeric");
    assert_eq!(row.get::<_, String>(5), "timestamp with time zone");
    assert_eq!(
        pg_count(&client, "created WHERE note IS NULL AND amount IS NULL").await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_with_45_columns() {
    let (db, client) = postgres_db().await;
    let cols: Vec<String> = (0..45)
        .map(|i| {
            format!(
                "c{i} {}",
                ["bigint", "text", "numeric(12,2)", "timestamptz", "boolean"][i % 5]
            )
        })
        .collect();
    client
        .batch_execute(&format!("CREATE TABLE wide ({})", cols.join(", ")))
        .await
        .unwrap();
    let vals: Vec<String> = (0..45)
        .map(|i| {
            [
                "g",
                "'t' || g",
                "g * 1.25",
                "'2024-01-01'::timestamptz + g * interval '1 hour'",
                "g % 2 = 0",
            ][i % 5]
                .to_owned()
        })
        .collect();
    client
        .batch_execute(&format!(
            "INSERT INTO wide SELECT {} FROM generate_series(1, 20000) g",
            vals.join(", ")
        ))
        .await
        .unwrap();
    client
        .batch_execute("CREATE TABLE wide2 (LIKE wide)")
        .await
        .unwrap();
    let s = run(&format!(
        "{}\n{}",
        pg_in(&db.name, "table: wide"),
        pg_out(&db.name, "table: wide2")
    ))
    .await
    .unwrap();
    assert_eq!(s.rows_written, 20000);
    assert_eq!(
        pg_checksum(&client, "wide", "c0").await,
        pg_checksum(&client, "wide2", "c0").await
    );
}

async fn mode_fixture(client: &tokio_postgres::Client) {
    client
        .batch_execute(
            "CREATE TABLE src (id int PRIMARY KEY, v text);
             INSERT INTO src VALUES (2, 'new two'), (3, 'new three');
             CREATE TABLE dst (id int PRIMARY KEY, v text, extra text DEFAULT 'kept');
             INSERT INTO dst (id, v) VALUES (1, 'old one'), (2, 'old two');",
        )
        .await
        .unwrap();
}

async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect()
}

async fn run_mode(mode: &str) -> Vec<String> {
    let (db, client) = postgres_db().await;
    mode_fixture(&client).await;
    let yaml = format!(
        "{}\n{}",
        pg_in(&db.name, "table: src"),
        pg_out(&db.name, &format!("table: dst\nmode: {mode}"))
    );
    run(&yaml).await.unwrap();
    rows(
        &client,
        "SELECT concat_ws(':', id, v, extra) FROM dst ORDER BY id",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_merge_and_merge_direct_upsert_on_the_primary_key() {
    let expected = ["1:old one:kept", "2:new two:kept", "3:new three:kept"];
    assert_eq!(run_mode("merge").await, expected);
    assert_eq!(run_mode("merge_direct").await, expected);
}

/// merge updates the matching rows and inserts the others in two statements when a
/// unique index covers the merge keys; it still fails on a key that comes twice, as
/// `ON CONFLICT DO UPDATE` did, and keeps ON CONFLICT where no such index exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_refuses_a_key_that_comes_twice_and_needs_a_unique_index() {
    let (db, client) = postgres_db().await;
    mode_fixture(&client).await;
    let before = "SELECT concat_ws(':', id, v, extra) FROM dst ORDER BY id";
    let unchanged = ["1:old one:kept", "2:old two:kept"];
    let merge = |extra: &str| {
        format!(
            "{}\n{}",
            pg_in(&db.name, "table: src"),
            pg_out(&db.name, &format!("table: dst\nmode: merge{extra}"))
        )
    };
    // An existing key twice: the update would take either row.
    client
        .batch_execute(
            "ALTER TABLE src DROP CONSTRAINT src_pkey; INSERT INTO src VALUES (2, 'again')",
        )
        .await
        .unwrap();
    let err = format!("{:#}", run(&merge("")).await.unwrap_err());
    assert!(
        err.contains("a value of merge_keys (id) comes more than once"),
        "{err}"
    );
    assert_eq!(rows(&client, before).await, unchanged);
    // A new key twice: the second insert meets the first.
    client
        .batch_execute("DELETE FROM src WHERE v = 'again'; INSERT INTO src VALUES (3, 'again')")
        .await
        .unwrap();
    let err = format!("{:#}", run(&merge("")).await.unwrap_err());
    assert!(err.contains("dst_pkey"), "{err}");
    assert_eq!(rows(&client, before).await, unchanged);
    // Keys without a unique index: PostgreSQL's own ON CONFLICT refusal, as before.
    let err = format!("{:#}", run(&merge("\nmerge_keys: [v]")).await.unwrap_err());
    assert!(err.contains("ON CONFLICT"), "{err}");
    assert_eq!(rows(&client, before).await, unchanged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_truncate_insert_and_replace() {
    assert_eq!(
        run_mode("truncate_insert").await,
        ["2:new two:kept", "3:new three:kept"]
    );
    // replace rebuilds the table from the input's columns
    let (db, client) = postgres_db().await;
    mode_fixture(&client).await;
    run(&format!(
        "{}\n{}",
        pg_in(&db.name, "table: src"),
        pg_out(&db.name, "table: dst\nmode: replace")
    ))
    .await
    .unwrap();
    assert_eq!(
        rows(&client, "SELECT concat_ws(':', id, v) FROM dst ORDER BY id").await,
        ["2:new two", "3:new three"]
    );
    let cols: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'dst'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(cols, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_insert_and_insert_direct_append() {
    let (db, client) = postgres_db().await;
    mode_fixture(&client).await;
    client
        .batch_execute("DELETE FROM src WHERE id = 2")
        .await
        .unwrap();
    for mode in ["insert", "insert_direct"] {
        client
            .batch_execute("DELETE FROM dst WHERE id = 3")
            .await
            .unwrap();
        let yaml = format!(
            "{}\n{}",
            pg_in(&db.name, "table: src"),
            pg_out(&db.name, &format!("table: dst\nmode: {mode}"))
        );
        run(&yaml).await.unwrap();
        assert_eq!(
            rows(
                &client,
                "SELECT concat_ws(':', id, v, extra) FROM dst ORDER BY id"
            )
            .await,
            ["1:old one:kept", "2:old two:kept", "3:new three:kept"],
            "{mode}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_in_a_transactional_mode_leaves_the_target_unchanged() {
    for mode in ["insert", "truncate_insert", "replace", "merge"] {
        let (db, client) = postgres_db().await;
        mode_fixture(&client).await;
        // 5000 good rows, then one that does not fit the target's integer column.
        client.batch_execute("DELETE FROM src WHERE id = 2; ALTER TABLE src ALTER id TYPE bigint; INSERT INTO src SELECT g, 'x' FROM generate_series(10, 5000) g; INSERT INTO src VALUES (99999999999, 'too big')").await.unwrap();
        let before = pg_checksum(&client, "dst", "id").await;
        // replace builds a new table from the input's types, so give it a constraint to break.
        let check = if mode == "replace" {
            "\ncreate_table_constraint: CHECK (id < 99999999999)"
        } else {
            ""
        };
        let yaml = format!(
            "{}\n{}",
            pg_in(&db.name, "table: src\norder_by: id"),
            pg_out(&db.name, &format!("table: dst\nmode: {mode}{check}"))
        );
        let err = format!("{:#}", run(&yaml).await.unwrap_err());
        let expected = if mode == "replace" {
            "violates check constraint"
        } else {
            "does not fit integer"
        };
        assert!(err.contains(expected), "{mode}: {err}");
        assert_eq!(pg_checksum(&client, "dst", "id").await, before, "{mode}");

        // A failing after_load rolls back too.
        let yaml = format!(
            "{}\n{}",
            pg_in(&db.name, "table: src\nwhere: id < 100"),
            pg_out(
                &db.name,
                &format!("table: dst\nmode: {mode}\nafter_load: SELECT 1/0")
            )
        );
        let err = run(&yaml).await.unwrap_err();
        assert!(format!("{err:#}").contains("after_load"), "{mode}: {err:#}");
        assert_eq!(pg_checksum(&client, "dst", "id").await, before, "{mode}");
        let tables: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(tables, 2, "{mode}: no staging table left behind");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_does_not_create_the_missing_target() {
    let (db, client) = postgres_db().await;
    mode_fixture(&client).await;
    let yaml = format!(
        "{}\n{}",
        pg_in(&db.name, "table: src"),
        pg_out(&db.name, "table: fresh\nafter_load: SELECT 1/0")
    );
    assert!(run(&yaml).await.is_err());
    let exists: bool = client
        .query_one("SELECT to_regclass('fresh') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(!exists);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_over_several_runs() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE ev (id int PRIMARY KEY, at timestamp NOT NULL, v text);
             INSERT INTO ev VALUES (1, '2024-01-01 00:00:00', 'a'), (2, '2024-01-01 00:00:00', 'b'), (3, '2024-01-02 00:00:00', 'c');",
        )
        .await
        .unwrap();
    let yaml = format!(
        "{}\n{}",
        pg_in(
            &db.name,
            "table: ev\nincremental: true\nincremental_columns: [at, id]"
        ),
        pg_out(&db.name, "table: ev_copy\nmode: insert")
    );
    let first = run_with_diff(&yaml, None).await.unwrap();
    assert_eq!(first.rows_written, 3);
    let diff = first.next_diff.to_yaml();
    assert_eq!(
        first.next_diff.input.last_record,
        Some(vec!["2024-01-02T00:00:00.000000".into(), 3.into()])
    );

    // Same timestamp as the cursor but a larger id, plus a later one: both are new.
    client.batch_execute("INSERT INTO ev VALUES (4, '2024-01-02 00:00:00', 'd'), (5, '2024-01-03 00:00:00', 'e'), (0, '2023-12-31 00:00:00', 'old')").await.unwrap();
    let second = run_with_diff(&yaml, Some(&diff)).await.unwrap();
    assert_eq!(second.rows_written, 2);
    let diff = second.next_diff.to_yaml();

    let third = run_with_diff(&yaml, Some(&diff)).await.unwrap();
    assert_eq!(third.rows_written, 0);
    assert_eq!(
        third.next_diff, second.next_diff,
        "nothing new keeps the state"
    );
    assert_eq!(
        rows(
            &client,
            "SELECT string_agg(v, ',' ORDER BY id) FROM ev_copy"
        )
        .await,
        ["a,b,c,d,e"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_defaults_to_the_primary_key_and_supports_raw_queries() {
    let (db, client) = postgres_db().await;
    client.batch_execute("CREATE TABLE t (id bigint PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 10) g").await.unwrap();
    let yaml = format!(
        "{}\n{}",
        pg_in(&db.name, "table: t\nincremental: true\nlast_record: [7]"),
        pg_out(&db.name, "table: t2")
    );
    let s = run(&yaml).await.unwrap();
    assert_eq!(
        (s.rows_written, s.next_diff.input.last_record.clone()),
        (3, Some(vec![10.into()]))
    );
    let yaml = format!(
        "{}\n{}",
        pg_in(
            &db.name,
            "query: SELECT id, v FROM t WHERE id > :id ORDER BY id\nincremental: true\nuse_raw_query_with_incremental: true\nincremental_columns: [id]\nlast_record: [8]"
        ),
        pg_out(&db.name, "table: t3")
    );
    let s = run(&yaml).await.unwrap();
    assert_eq!(s.rows_written, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_timezone_applies_to_timestamps_without_zone() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute("CREATE TABLE src (id int, at timestamptz, wall timestamp); INSERT INTO src VALUES (1, '2024-01-01 00:00:00+00', '2024-01-01 09:00:00');
                        CREATE TABLE dst (id int, at timestamp, wall timestamptz);")
        .await
        .unwrap();
    let yaml = format!(
        "{}\n{}",
        pg_in(&db.name, "table: src\ndefault_timezone: Asia/Tokyo"),
        pg_out(&db.name, "table: dst\ndefault_timezone: Asia/Tokyo")
    );
    run(&yaml).await.unwrap();
    let row = client
        .query_one(
            "SELECT at::text, (wall AT TIME ZONE 'UTC')::text FROM dst",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, String>(0),
        "2024-01-01 09:00:00",
        "instant written as Tokyo wall time"
    );
    assert_eq!(
        row.get::<_, String>(1),
        "2024-01-01 00:00:00",
        "Tokyo wall time read as an instant"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_and_quoted_identifiers() {
    let (db, client) = postgres_db().await;
    client.batch_execute(r#"CREATE TABLE "Odd ""Name""" ("select" int, "Mixed Case" text); INSERT INTO "Odd ""Name""" VALUES (1, 'x'); CREATE TABLE log (msg text);"#).await.unwrap();
    let yaml = format!(
        "{}\n{}",
        pg_in(
            &db.name,
            "table: 'Odd \"Name\"'\nbefore_setup: INSERT INTO log VALUES ('before_setup')\nbefore_select: INSERT INTO log VALUES ('before_select')\nafter_select: INSERT INTO log VALUES ('after_select')"
        ),
        pg_out(
            &db.name,
            "table: 'out \"2\"'\nmode: merge\nmerge_keys: [select]\nbefore_load: INSERT INTO log VALUES ('before_load')\nafter_load: INSERT INTO log VALUES ('after_load')"
        )
    );
    run(&yaml).await.unwrap();
    assert_eq!(
        rows(&client, r#"SELECT "Mixed Case" FROM "out ""2""""#).await,
        ["x"]
    );
    assert_eq!(
        rows(&client, "SELECT string_agg(msg, ',') FROM log").await,
        ["before_setup,before_select,after_select,before_load,after_load"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_spanning_several_copy_statements_is_complete_and_atomic() {
    let (db, client) = postgres_db().await;
    // ~80 MB of COPY data: more than one 64 MiB COPY segment.
    client
        .batch_execute("CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT g, repeat('x', 120) || g FROM generate_series(1, 600000) g; CREATE TABLE big2 (LIKE big INCLUDING ALL);")
        .await
        .unwrap();
    let s = run(&format!(
        "{}\n{}",
        pg_in(&db.name, "table: big"),
        pg_out(&db.name, "table: big2")
    ))
    .await
    .unwrap();
    assert_eq!(s.rows_written, 600000);
    assert_eq!(
        pg_checksum(&client, "big", "id").await,
        pg_checksum(&client, "big2", "id").await
    );
    // A duplicate near the end fails the run; the rows of earlier segments are rolled back.
    client
        .batch_execute("TRUNCATE big2; INSERT INTO big2 VALUES (599999, 'already there')")
        .await
        .unwrap();
    let err = format!(
        "{:#}",
        run(&format!(
            "{}\n{}",
            pg_in(&db.name, "table: big\norder_by: id"),
            pg_out(&db.name, "table: big2")
        ))
        .await
        .unwrap_err()
    );
    assert!(err.contains("duplicate key"), "{err}");
    assert_eq!(pg_count(&client, "big2").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_threads_reads_key_ranges_in_parallel_with_the_same_rows() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE sessions (pid int, at timestamptz DEFAULT now());
             CREATE TABLE src (id int PRIMARY KEY, note text, amount numeric(12,2), at timestamptz);
             INSERT INTO src SELECT g * 3 - 40000, 'n ' || g || E' 日本語 \"q\"\\n', g / 7.0, '2024-01-01'::timestamptz + g * interval '1 minute'
               FROM generate_series(1, 30000) g WHERE g % 11 <> 0;
             INSERT INTO src VALUES (2147483647, 'max', NULL, NULL), (-2147483648, 'min', NULL, NULL);",
        )
        .await
        .unwrap();
    let read = |threads: u32, table: &str| {
        format!(
            "{}{}exec:\n  max_threads: {threads}\n",
            pg_in(
                &db.name,
                "table: src\nwhere: id <> 5\nbefore_select: INSERT INTO sessions (pid) VALUES (pg_backend_pid())\n"
            ),
            pg_out(&db.name, &format!("table: {table}\n"))
        )
    };
    let one = run(&read(1, "dst_one")).await.unwrap();
    let sessions_one = pg_count(&client, "sessions").await;
    let four = run(&read(4, "dst_four")).await.unwrap();
    let expected = pg_count(&client, "src WHERE id <> 5").await;
    assert_eq!(one.rows_written as i64, expected);
    assert_eq!(four.rows_written as i64, expected);
    assert_eq!(pg_count(&client, "dst_four").await, expected);
    assert_eq!(
        pg_checksum(&client, "dst_four", "id").await,
        pg_checksum(&client, "dst_one", "id").await
    );
    assert_eq!(
        pg_checksum(&client, "dst_one", "id").await,
        pg_checksum(&client, "(SELECT * FROM src WHERE id <> 5)", "id").await
    );
    // The describing session plus one session per key range ran before_select.
    assert_eq!(sessions_one, 1);
    assert_eq!(pg_count(&client, "sessions").await - sessions_one, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_column_options_convert_types_and_format_timestamps() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE src (id int PRIMARY KEY, at timestamptz, wall timestamp, n int, amount numeric(12,2), other timestamp);
             INSERT INTO src VALUES (1, '2024-01-01 00:00:00+00', '2024-01-01 09:00:00', 7, 1.50, '2024-01-01 09:00:00');",
        )
        .await
        .unwrap();
    let s = run(&format!(
        "{}{}",
        pg_in(
            &db.name,
            r#"
            table: src
            default_timezone: Asia/Tokyo
            column_options:
              at: {type: string, timestamp_format: '%Y/%m/%d %H:%M', timezone: Asia/Tokyo}
              wall: {type: string, timestamp_format: '%Y-%m-%dT%H:%M:%S.%3N%z'}
              n: {type: string}
              amount: {type: double, value_type: double}
              other: {timezone: UTC}
            "#
        ),
        pg_out(&db.name, "table: dst")
    ))
    .await
    .unwrap();
    assert_eq!(s.rows_written, 1);
    assert_eq!(
        rows(
            &client,
            "SELECT concat_ws('|', at, wall, n, amount, other AT TIME ZONE 'UTC') FROM dst"
        )
        .await,
        // A wall time formatted as text is read as UTC and written in the zone, as in
        // Embulk (embulk-input-mysql's column_options_expected.csv).
        ["2024/01/01 09:00|2024-01-01T18:00:00.000+0900|7|1.5|2024-01-01 09:00:00"]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT string_agg(data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'dst'"
        )
        .await,
        ["bigint,text,text,text,double precision,timestamp with time zone"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_column_options_type_format_and_create_table_option() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE src (id int PRIMARY KEY, at timestamptz, code text);
             INSERT INTO src VALUES (1, '2024-01-01 00:00:00+00', 'a');
             CREATE TABLE existing (id bigint, at text, code text);",
        )
        .await
        .unwrap();
    let out = |table: &str| {
        format!(
            r#"
            table: {table}
            default_timezone: Asia/Tokyo
            create_table_constraint: PRIMARY KEY (id)
            create_table_option: WITH (fillfactor = 70)
            column_options:
              at: {{timestamp_format: '%Y/%m/%d %H:%M %z'}}
              code: {{type: varchar(3), timezone: UTC}}
            "#
        )
    };
    for table in ["created", "existing"] {
        run(&format!(
            "{}{}",
            pg_in(&db.name, "table: src"),
            pg_out(&db.name, &out(table))
        ))
        .await
        .unwrap();
        assert_eq!(
            rows(&client, &format!("SELECT at || '|' || code FROM {table}")).await,
            ["2024/01/01 09:00 +0900|a"],
            "{table}"
        );
    }
    assert_eq!(
        rows(
            &client,
            "SELECT string_agg(column_name || ' ' || data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'created'"
        )
        .await,
        ["id bigint,at text,code character varying"]
    );
    assert_eq!(
        rows(
            &client,
            "SELECT array_to_string(reloptions, ',') || '|' || (SELECT count(*) FROM pg_index WHERE indrelid = c.oid AND indisprimary) FROM pg_class c WHERE relname = 'created'"
        )
        .await,
        ["fillfactor=70|1"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_sending_fails_the_run_after_socket_timeout() {
    let (db, _client) = postgres_db().await;
    let started = std::time::Instant::now();
    let err = run(&format!(
        "{}{}",
        pg_in(
            &db.name,
            "query: SELECT 1 AS a FROM pg_sleep(5)\nsocket_timeout: 1"
        ),
        pg_out(&db.name, "table: never")
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

/// Columns and first rows of a config's source, as the preview shows them.
async fn preview(yaml: &str) -> (Vec<(String, String)>, Vec<Vec<serde_json::Value>>) {
    let config = hakobu_core::config::Config::from_yaml(yaml).unwrap();
    let p = hakobu_engine::preview_config(&config, &hakobu_engine::FileAccess::Off, 10)
        .await
        .unwrap();
    (p.columns, p.rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn value_type_reads_a_column_as_that_kind() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            r#"CREATE TABLE src (id int PRIMARY KEY, u uuid, n numeric(10,2), s text, flag text,
                 doc text, at timestamptz, tm time, r float8, w text, i int);
               INSERT INTO src VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 12.50, '42', 'true',
                 '{"a": [1]}', '2024-01-02 03:04:05+00', '10:11:12', 2.5, '2024-05-06 07:08:09+09', 7);"#,
        )
        .await
        .unwrap();
    let yaml = format!(
        "{}{}",
        pg_in(
            &db.name,
            r#"
            table: src
            column_options:
              u: {value_type: string}
              n: {value_type: long}
              s: {value_type: double}
              flag: {value_type: boolean}
              doc: {value_type: json}
              at: {value_type: date}
              tm: {value_type: time}
              r: {value_type: decimal}
              w: {value_type: timestamp}
              i: {value_type: string, type: long}
            "#
        ),
        pg_out(&db.name, "table: dst")
    );
    let (columns, first) = preview(&yaml).await;
    let types: Vec<&str> = columns.iter().map(|(_, t)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "long",
            "string",
            "long",
            "double",
            "boolean",
            "json",
            "date",
            "string",
            "decimal",
            "timestamp",
            "long"
        ]
    );
    assert_eq!(
        serde_json::Value::Array(first[0].clone()),
        serde_json::json!([
            1,
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            13,
            42.0,
            true,
            {"a": [1]},
            "2024-01-02",
            "10:11:12",
            "2.5",
            "2024-05-05T22:08:09.000000Z",
            7
        ])
    );
    // The same through a load, where the destination table is created from these types.
    run(&yaml).await.unwrap();
    assert_eq!(
        rows(
            &client,
            "SELECT string_agg(data_type, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'dst'"
        )
        .await,
        ["bigint,text,bigint,double precision,boolean,jsonb,date,text,numeric,timestamp with time zone,bigint"]
    );
    // A text that is not a number fails the read with the column named, as the cast would.
    client
        .batch_execute("INSERT INTO src (id, s) VALUES (2, 'x')")
        .await
        .unwrap();
    let config = hakobu_core::config::Config::from_yaml(&yaml).unwrap();
    let e = format!(
        "{:#}",
        hakobu_engine::preview_config(&config, &hakobu_engine::FileAccess::Off, 10)
            .await
            .unwrap_err()
    );
    assert!(e.contains("double precision") && e.contains("\"x\""), "{e}");
}

/// Progress knows how many rows a whole table holds from its statistics, and claims
/// nothing for a read it cannot size: a query, a `where`, an incremental run past a
/// `last_record`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_expects_a_whole_tables_rows_from_its_statistics() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE src (id bigint PRIMARY KEY, name text);
             INSERT INTO src SELECT g, 'n' || g FROM generate_series(1, 1200) g;
             ANALYZE src;",
        )
        .await
        .unwrap();
    let out = pg_out(&db.name, "table: dst\nmode: replace");
    let whole = format!("{}\n{out}", pg_in(&db.name, "table: src"));
    assert_eq!(expected_by_progress(&whole).await, (Some(1200), None));
    for rest in [
        "query: SELECT * FROM src",
        "table: src\nwhere: id > 5",
        "table: src\nincremental: true\nlast_record: [5]",
    ] {
        let yaml = format!("{}\n{out}", pg_in(&db.name, rest));
        assert_eq!(expected_by_progress(&yaml).await, (None, None), "{rest}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_written_are_the_copy_stream_sent() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute("CREATE TABLE src AS SELECT g::bigint AS id FROM generate_series(1, 3) g")
        .await
        .unwrap();
    let s = run(&format!(
        "{}\n{}",
        pg_in(&db.name, "table: src"),
        pg_out(&db.name, "table: dst\nmode: insert_direct")
    ))
    .await
    .unwrap();
    // Binary COPY: a 19-byte header, per row a field count (2) and per field its length
    // (4) and value (8 for a bigint), then a 2-byte trailer.
    assert_eq!(s.bytes_written, 19 + 3 * (2 + 4 + 8) + 2);
}

/// `before_load` runs before the rows are loaded, in every transactional mode (after the
/// truncate in truncate_insert, as Embulk runs it): a re-run's "delete this day first"
/// never deletes the rows the run itself loads, and the run's truncate and load roll back
/// together when the run fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_load_runs_before_the_rows_in_every_transactional_mode() {
    for (mode, expected) in [
        (
            "insert",
            vec!["1:old one:kept", "2:new two:kept", "3:new three:kept"],
        ),
        (
            "truncate_insert",
            vec!["2:new two:kept", "3:new three:kept"],
        ),
        (
            "merge",
            vec!["1:old one:kept", "2:new two:kept", "3:new three:kept"],
        ),
    ] {
        let (db, client) = postgres_db().await;
        mode_fixture(&client).await;
        let yaml = format!(
            "{}\n{}",
            pg_in(&db.name, "table: src"),
            pg_out(
                &db.name,
                &format!("table: dst\nmode: {mode}\nbefore_load: DELETE FROM dst WHERE id >= 2")
            )
        );
        run(&yaml).await.unwrap();
        assert_eq!(
            rows(
                &client,
                "SELECT concat_ws(':', id, v, extra) FROM dst ORDER BY id"
            )
            .await,
            expected,
            "{mode}"
        );
    }
}
