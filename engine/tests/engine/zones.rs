//! Time zones other than UTC at every place Embulk applies them: input `column_options`,
//! the CSV parser (`default_timezone`, a column's `timezone`, a format without a zone),
//! the column filter's defaults, the CSV formatter, and output `column_options`. New
//! York is tested across its DST change (2024-03-10 02:00 EST -> 03:00 EDT).

use crate::common::*;
use mysql_async::prelude::Queryable;

/// `column` of `table` as UTC wall time text, ordered by id.
async fn utc(client: &tokio_postgres::Client, table: &str, column: &str) -> Vec<String> {
    client
        .query(
            &format!(
                "SELECT to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM {table} ORDER BY id"
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_parser_reads_wall_times_in_their_zone() {
    let (db, client) = postgres_db().await;
    let dir = TempDir::new();
    std::fs::write(
        dir.path("in.csv"),
        "id,tokyo,ny,with_offset\n\
         1,2024/03/10 01:30,2024/03/10 01:30,2024-03-10 01:30:00 +05:30\n\
         2,2024/03/10 03:30,2024/03/10 03:30,2024-03-10 03:30:00 -04:00\n",
    )
    .unwrap();
    let yaml = format!(
        "in:\n  type: file\n  path_prefix: {}\n  parser:\n    type: csv\n    skip_header_lines: 1\n    stop_on_invalid_record: true\n    default_timezone: Asia/Tokyo\n    columns:\n      - {{name: id, type: long}}\n      - {{name: tokyo, type: timestamp, format: '%Y/%m/%d %H:%M'}}\n      - {{name: ny, type: timestamp, format: '%Y/%m/%d %H:%M', timezone: America/New_York}}\n      - {{name: with_offset, type: timestamp, format: '%Y-%m-%d %H:%M:%S %z'}}\n{}",
        dir.path("in.csv"),
        pg_out(&db.name, "table: dst")
    );
    run(&yaml).await.unwrap();
    assert_eq!(
        utc(&client, "dst", "tokyo").await,
        ["2024-03-09 16:30", "2024-03-09 18:30"]
    );
    assert_eq!(
        utc(&client, "dst", "ny").await,
        ["2024-03-10 06:30", "2024-03-10 07:30"],
        "EST before the change, EDT after"
    );
    assert_eq!(
        utc(&client, "dst", "with_offset").await,
        ["2024-03-09 20:00", "2024-03-10 07:30"],
        "an offset in the value (with minutes) wins over the zone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csv_formatter_writes_in_its_zones() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE src (id int, at timestamptz, ny timestamptz);
             INSERT INTO src VALUES (1, '2024-03-10 06:30:00+00', '2024-03-10 06:30:00+00'),
                                    (2, '2024-03-10 07:30:00+00', '2024-03-10 07:30:00+00');",
        )
        .await
        .unwrap();
    let dir = TempDir::new();
    let yaml = format!(
        "{}\nout:\n  type: file\n  path_prefix: {}\n  file_ext: csv\n  formatter:\n    type: csv\n    default_timezone: Asia/Tokyo\n    column_options:\n      ny: {{format: '%Y-%m-%d %H:%M:%S %z', timezone: America/New_York}}\n",
        pg_in(&db.name, "table: src\norder_by: id"),
        dir.path("out_")
    );
    run(&yaml).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path("out_000.00.csv")).unwrap(),
        "id,at,ny\r\n\
         1,2024-03-10 15:30:00.000000 +0900,2024-03-10 01:30:00 -0500\r\n\
         2,2024-03-10 16:30:00.000000 +0900,2024-03-10 03:30:00 -0400\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_column_options_read_wall_times_in_their_zone() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE src (id int, tokyo timestamp, ny timestamp);
             INSERT INTO src VALUES (1, '2024-03-10 01:30', '2024-03-10 01:30'), (2, '2024-03-10 03:30', '2024-03-10 03:30');",
        )
        .await
        .unwrap();
    run(&format!(
        "{}\n{}",
        pg_in(
            &db.name,
            "table: src\ndefault_timezone: Asia/Tokyo\ncolumn_options:\n  ny: {timezone: America/New_York}"
        ),
        pg_out(&db.name, "table: dst")
    ))
    .await
    .unwrap();
    assert_eq!(
        utc(&client, "dst", "tokyo").await,
        ["2024-03-09 16:30", "2024-03-09 18:30"]
    );
    assert_eq!(
        utc(&client, "dst", "ny").await,
        ["2024-03-10 06:30", "2024-03-10 07:30"]
    );

    // MySQL DATETIME: the same wall times, the same instants.
    let (my, mut conn) = mysql_db().await;
    conn.query_drop(
        "CREATE TABLE src (id INT, tokyo DATETIME, ny DATETIME);
         INSERT INTO src VALUES (1, '2024-03-10 01:30', '2024-03-10 01:30'), (2, '2024-03-10 03:30', '2024-03-10 03:30');",
    )
    .await
    .unwrap();
    run(&format!(
        "{}\n{}",
        my_in(
            &my.name,
            "table: src\ndefault_timezone: Asia/Tokyo\ncolumn_options:\n  ny: {timezone: America/New_York}"
        ),
        pg_out(&db.name, "table: from_my")
    ))
    .await
    .unwrap();
    assert_eq!(
        utc(&client, "from_my", "tokyo").await,
        ["2024-03-09 16:30", "2024-03-09 18:30"]
    );
    assert_eq!(
        utc(&client, "from_my", "ny").await,
        ["2024-03-10 06:30", "2024-03-10 07:30"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_column_filter_reads_defaults_with_their_format_and_zone() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE src (id int, at timestamptz);
             INSERT INTO src VALUES (1, NULL), (2, '2024-01-01 00:00:00+00');",
        )
        .await
        .unwrap();
    run(&format!(
        "{}\nfilters:\n  - type: column\n    default_timezone: Asia/Tokyo\n    columns:\n      - {{name: id}}\n      - {{name: at, default: '2024/03/10 03:30', format: '%Y/%m/%d %H:%M', timezone: America/New_York}}\n    add_columns:\n      - {{name: added, type: timestamp, default: '2024/03/10 09:00', format: '%Y/%m/%d %H:%M'}}\n{}",
        pg_in(&db.name, "table: src"),
        pg_out(&db.name, "table: dst")
    ))
    .await
    .unwrap();
    assert_eq!(
        utc(&client, "dst", "at").await,
        ["2024-03-10 07:30", "2024-01-01 00:00"],
        "a NULL takes the default, read in New York (EDT)"
    );
    assert_eq!(
        utc(&client, "dst", "added").await,
        ["2024-03-10 00:00", "2024-03-10 00:00"],
        "the filter's default_timezone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_column_options_write_wall_times_in_their_zone() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE src (id int, tokyo timestamptz, ny timestamptz);
             INSERT INTO src VALUES (1, '2024-03-10 06:30:00+00', '2024-03-10 06:30:00+00'),
                                    (2, '2024-03-10 07:30:00+00', '2024-03-10 07:30:00+00');
             CREATE TABLE dst (id int, tokyo timestamp, ny timestamp);",
        )
        .await
        .unwrap();
    let out_options =
        "default_timezone: Asia/Tokyo\ncolumn_options:\n  ny: {timezone: America/New_York}";
    run(&format!(
        "{}\n{}",
        pg_in(&db.name, "table: src"),
        pg_out(&db.name, &format!("table: dst\n{out_options}"))
    ))
    .await
    .unwrap();
    let walls = |rows: Vec<tokio_postgres::Row>| -> Vec<(String, String)> {
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    };
    let expected = [
        ("2024-03-10 15:30".to_owned(), "2024-03-10 01:30".to_owned()),
        ("2024-03-10 16:30".to_owned(), "2024-03-10 03:30".to_owned()),
    ];
    assert_eq!(
        walls(
            client
                .query(
                    "SELECT to_char(tokyo, 'YYYY-MM-DD HH24:MI'), to_char(ny, 'YYYY-MM-DD HH24:MI') FROM dst ORDER BY id",
                    &[]
                )
                .await
                .unwrap()
        ),
        expected
    );

    let (my, mut conn) = mysql_db().await;
    conn.query_drop("CREATE TABLE dst (id INT, tokyo DATETIME, ny DATETIME)")
        .await
        .unwrap();
    run(&format!(
        "{}\n{}",
        pg_in(&db.name, "table: src"),
        my_out(&my.name, &format!("table: dst\n{out_options}"))
    ))
    .await
    .unwrap();
    let got: Vec<(String, String)> = conn
        .query(
            "SELECT DATE_FORMAT(tokyo, '%Y-%m-%d %H:%i'), DATE_FORMAT(ny, '%Y-%m-%d %H:%i') FROM dst ORDER BY id",
        )
        .await
        .unwrap();
    assert_eq!(got, expected);
}
