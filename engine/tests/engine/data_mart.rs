//! Data marts against the local PostgreSQL and MariaDB: a query's result written into a
//! table of the same database in each mode (append, replace, delete_insert by key or by
//! a condition, merge), and statements run in one transaction (`sql:` documents).

use crate::common::*;
use hakobu_core::config::RunnerConfig;
use hakobu_engine::{FileAccess, Summary, run_runner_config_gated};
use mysql_async::prelude::Queryable;

/// Runs either document as a managed runner does, with a commit gate that lets it commit.
async fn run_document(yaml: &str) -> anyhow::Result<Summary> {
    let config = RunnerConfig::from_yaml(yaml).map_err(|e| anyhow::anyhow!("{e}\n{yaml}"))?;
    run_runner_config_gated(&config, &FileAccess::Off, |_| {}, async { Ok(()) }).await
}

fn pg_sql(db: &str, statements: &str) -> String {
    format!(
        "sql:\n  type: postgresql\n  host: 127.0.0.1\n  user: postgres\n  database: {db}\n  statements: {}\n",
        serde_json::to_string(statements).unwrap()
    )
}

fn my_sql(db: &str, statements: &str) -> String {
    format!(
        "sql:\n  type: mysql\n  host: 127.0.0.1\n  user: root\n  database: {db}\n  statements: {}\n",
        serde_json::to_string(statements).unwrap()
    )
}

const FIXTURE: &str = "CREATE TABLE orders (id int, day date, amount int);
INSERT INTO orders VALUES (1, '2026-12-01', 10), (2, '2026-12-01', 20), (3, '2026-12-02', 5);
CREATE TABLE daily (day date PRIMARY KEY, total int, note text);
INSERT INTO daily VALUES ('2026-11-30', 1, 'untouched'), ('2026-12-01', 999, 'stale');";

const QUERY: &str = "SELECT day, CAST(SUM(amount) AS int) AS total FROM orders GROUP BY day";

/// The rows of `daily` after a run; `replace` leaves only the query's columns.
fn daily_rows(mode: &str) -> &'static str {
    if mode.contains("replace") {
        "SELECT concat_ws(':', day, total) FROM daily ORDER BY day"
    } else {
        "SELECT concat_ws(':', day, total, note) FROM daily ORDER BY day"
    }
}

async fn pg_daily(mode: &str) -> Vec<String> {
    let (db, client) = postgres_db().await;
    client.batch_execute(FIXTURE).await.unwrap();
    let yaml = format!(
        "{}\n{}",
        pg_in(&db.name, &format!("query: \"{QUERY}\"")),
        pg_out(&db.name, &format!("table: daily\n{mode}"))
    );
    run_document(&yaml).await.unwrap();
    client
        .query(daily_rows(mode), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_write_modes_of_a_query_result() {
    // append: a key already present fails the whole load, nothing changes
    let (db, client) = postgres_db().await;
    client.batch_execute(FIXTURE).await.unwrap();
    let yaml = format!(
        "{}\n{}",
        pg_in(&db.name, &format!("query: \"{QUERY}\"")),
        pg_out(&db.name, "table: daily\nmode: insert")
    );
    assert!(run_document(&yaml).await.is_err());
    assert_eq!(pg_count(&client, "daily").await, 2);

    assert_eq!(
        pg_daily("mode: replace").await,
        ["2026-12-01:30", "2026-12-02:5"],
        "replace: the query's rows only, in a new table"
    );
    assert_eq!(
        pg_daily("mode: delete_insert\nmerge_keys: [day]").await,
        ["2026-11-30:1:untouched", "2026-12-01:30", "2026-12-02:5"],
        "delete_insert by key: matching rows replaced whole (note gone), others kept"
    );
    assert_eq!(
        pg_daily("mode: delete_insert\ndelete_where: \"day >= '2026-12-01' OR day IS NULL\"").await,
        ["2026-11-30:1:untouched", "2026-12-01:30", "2026-12-02:5"],
        "delete_insert by a condition: the partition emptied, then filled"
    );
    assert_eq!(
        pg_daily("mode: merge").await,
        [
            "2026-11-30:1:untouched",
            "2026-12-01:30:stale",
            "2026-12-02:5"
        ],
        "merge on the primary key: columns not written are kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_delete_where_cannot_carry_a_second_statement() {
    let (db, client) = postgres_db().await;
    client.batch_execute(FIXTURE).await.unwrap();
    let yaml = format!(
        "{}\n{}",
        pg_in(&db.name, &format!("query: \"{QUERY}\"")),
        pg_out(
            &db.name,
            "table: daily\nmode: delete_insert\ndelete_where: \"true); DROP TABLE orders; --\""
        )
    );
    let e = run_document(&yaml).await.unwrap_err();
    assert!(format!("{e:#}").contains("deleting"), "{e:#}");
    assert_eq!(pg_count(&client, "orders").await, 3, "orders still there");
    assert_eq!(pg_count(&client, "daily").await, 2, "daily unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statements_commit_together_or_not_at_all() {
    let (db, client) = postgres_db().await;
    client.batch_execute(FIXTURE).await.unwrap();
    let summary = run_document(&pg_sql(
        &db.name,
        "CREATE TABLE mart AS SELECT * FROM orders WHERE day = '2026-12-01';
         UPDATE orders SET amount = amount + 1;
         DELETE FROM daily WHERE note = 'stale';",
    ))
    .await
    .unwrap();
    assert_eq!(
        summary.rows_written,
        2 + 3 + 1,
        "rows each statement changed"
    );
    assert_eq!(pg_count(&client, "mart").await, 2);
    assert_eq!(
        pg_count(&client, "orders WHERE amount IN (11, 21, 6)").await,
        3
    );

    // The third statement fails: the table created and the rows changed before it are
    // rolled back with it.
    let e = run_document(&pg_sql(
        &db.name,
        "CREATE TABLE mart2 (x int); UPDATE orders SET amount = 0; SELECT 1 / 0;",
    ))
    .await
    .unwrap_err();
    assert!(format!("{e:#}").contains("division by zero"), "{e:#}");
    assert_eq!(pg_count(&client, "orders WHERE amount = 0").await, 0);
    let mart2 = client
        .query_one("SELECT to_regclass('mart2') IS NULL", &[])
        .await
        .unwrap();
    assert!(mart2.get::<_, bool>(0), "mart2 was not left behind");

    // A refused commit gate (the app has given the run up) rolls back too.
    let config =
        RunnerConfig::from_yaml(&pg_sql(&db.name, "UPDATE orders SET amount = 0")).unwrap();
    let gated = run_runner_config_gated(&config, &FileAccess::Off, |_| {}, async {
        Err(anyhow::anyhow!("not ours any more"))
    })
    .await;
    assert!(gated.is_err());
    assert_eq!(pg_count(&client, "orders WHERE amount = 0").await, 0);
}

async fn my_rows(conn: &mut mysql_async::Conn, sql: &str) -> Vec<String> {
    conn.query(sql).await.unwrap()
}

async fn my_daily(mode: &str) -> Vec<String> {
    let (db, mut conn) = mysql_db().await;
    conn.query_drop(FIXTURE).await.unwrap();
    let yaml = format!(
        "{}\n{}",
        my_in(&db.name, &format!("query: \"{QUERY}\"")),
        my_out(&db.name, &format!("table: daily\n{mode}"))
    );
    run_document(&yaml).await.unwrap();
    my_rows(&mut conn, daily_rows(mode)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_write_modes_of_a_query_result() {
    assert_eq!(
        my_daily("mode: replace").await,
        ["2026-12-01:30", "2026-12-02:5"]
    );
    let kept = ["2026-11-30:1:untouched", "2026-12-01:30", "2026-12-02:5"];
    assert_eq!(
        my_daily("mode: delete_insert\nmerge_keys: [day]").await,
        kept
    );
    assert_eq!(
        my_daily("mode: delete_insert\ndelete_where: \"day >= '2026-12-01'\"").await,
        kept
    );
    assert_eq!(
        my_daily("mode: merge").await,
        [
            "2026-11-30:1:untouched",
            "2026-12-01:30:stale",
            "2026-12-02:5"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_statements_roll_back_dml_and_refuse_a_smuggled_delete_statement() {
    let (db, mut conn) = mysql_db().await;
    conn.query_drop(FIXTURE).await.unwrap();
    let summary = run_document(&my_sql(
        &db.name,
        "UPDATE orders SET amount = amount + 1; DELETE FROM daily WHERE note = 'stale';",
    ))
    .await
    .unwrap();
    assert_eq!(summary.rows_written, 3 + 1);
    assert_eq!(
        my_rows(&mut conn, "SELECT CAST(SUM(amount) AS CHAR) FROM orders").await,
        ["38"]
    );

    // DML only: the failing second statement rolls the first back.
    let e = run_document(&my_sql(
        &db.name,
        "UPDATE orders SET amount = 0; INSERT INTO no_such_table VALUES (1);",
    ))
    .await
    .unwrap_err();
    assert!(format!("{e:#}").contains("no_such_table"), "{e:#}");
    assert_eq!(
        my_rows(&mut conn, "SELECT CAST(SUM(amount) AS CHAR) FROM orders").await,
        ["38"]
    );

    // delete_where goes to the server as one prepared statement.
    let yaml = format!(
        "{}\n{}",
        my_in(&db.name, &format!("query: \"{QUERY}\"")),
        my_out(
            &db.name,
            "table: daily\nmode: delete_insert\ndelete_where: \"1=1); DROP TABLE orders; -- \""
        )
    );
    assert!(run_document(&yaml).await.is_err());
    assert_eq!(
        my_rows(&mut conn, "SELECT CAST(COUNT(*) AS CHAR) FROM orders").await,
        ["3"]
    );
}
