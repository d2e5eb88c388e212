//! A missing or closed source or destination object is named in the run's error: a
//! renamed table, a missing schema or column, a user without the right to read or write,
//! on the local PostgreSQL and MariaDB.

use crate::common::*;
use mysql_async::prelude::Queryable;

async fn error_of(yaml: &str) -> String {
    format!("{:#}", run(yaml).await.unwrap_err())
}

fn assert_says(err: &str, expected: &str) {
    assert!(err.contains(expected), "expected {expected:?} in: {err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_missing_objects_are_named() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE src (id bigint PRIMARY KEY, note text); INSERT INTO src VALUES (1, 'a');",
        )
        .await
        .unwrap();
    let out = pg_out(&db.name, "table: dst");
    // The case: an incremental read of a renamed table (the primary key lookup
    // used to answer "has no primary key").
    let err = error_of(&format!(
        "{}\n{out}",
        pg_in(&db.name, "table: orders\nincremental: true")
    ))
    .await;
    assert_says(&err, "table public.orders does not exist (source)");
    assert!(!err.contains("primary key"), "{err}");

    let err = error_of(&format!(
        "{}\n{out}",
        pg_in(&db.name, "schema: nope\ntable: src")
    ))
    .await;
    assert_says(&err, "schema nope does not exist (source)");

    let err = error_of(&format!(
        "{}\n{out}",
        pg_in(&db.name, "table: src\nselect: id, missing_col")
    ))
    .await;
    assert_says(&err, "column missing_col does not exist in");
    assert_says(&err, "(source)");

    let err = error_of(&format!(
        "{}\n{out}",
        pg_in(&db.name, "query: SELECT * FROM gone")
    ))
    .await;
    assert_says(&err, "table gone does not exist (source)");

    // Destination: a schema that is not there.
    let err = error_of(&format!(
        "{}\n{}",
        pg_in(&db.name, "table: src"),
        pg_out(&db.name, "schema: nowhere\ntable: dst")
    ))
    .await;
    assert_says(&err, "schema nowhere does not exist (destination)");

    // merge into a table that does not exist: says so, not "no primary key".
    let err = error_of(&format!(
        "{}\n{}",
        pg_in(&db.name, "table: src"),
        pg_out(&db.name, "table: dst\nmode: merge")
    ))
    .await;
    assert_says(&err, "table public.dst does not exist (destination)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_permission_denied_names_the_table() {
    let (db, client) = postgres_db().await;
    let role = format!("{}_o", db.name);
    client
        .batch_execute(&format!(
            "CREATE TABLE src (id bigint PRIMARY KEY); INSERT INTO src VALUES (1);
             CREATE TABLE dst (id bigint);
             DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN;
             GRANT SELECT ON dst TO {role};"
        ))
        .await
        .unwrap();
    let as_role = |yaml: String| yaml.replace("user: postgres", &format!("user: {role}"));
    let read = error_of(&format!(
        "{}\n{}",
        as_role(pg_in(&db.name, "table: src")),
        pg_out(&db.name, "table: dst")
    ))
    .await;
    let write = error_of(&format!(
        "{}\n{}",
        pg_in(&db.name, "table: src"),
        as_role(pg_out(&db.name, "table: dst"))
    ))
    .await;
    client
        .batch_execute(&format!("DROP OWNED BY {role}"))
        .await
        .unwrap();
    drop(db);
    pg_connect("postgres")
        .await
        .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
        .await
        .unwrap();
    assert_says(&read, "permission denied on table src (source)");
    assert_says(&write, "permission denied on table dst (destination)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_missing_objects_are_named() {
    let (db, mut conn) = mysql_db().await;
    conn.query_drop(
        "CREATE TABLE src (id BIGINT PRIMARY KEY, note TEXT); INSERT INTO src VALUES (1, 'a');",
    )
    .await
    .unwrap();
    let out = my_out(&db.name, "table: dst");
    let err = error_of(&format!(
        "{}\n{out}",
        my_in(&db.name, "table: orders\nincremental: true")
    ))
    .await;
    assert_says(
        &err,
        &format!("table {}.orders does not exist (source)", db.name),
    );
    assert!(!err.contains("primary key"), "{err}");

    let err = error_of(&format!(
        "{}\n{out}",
        my_in(&db.name, "table: src\nselect: id, missing_col")
    ))
    .await;
    assert_says(&err, "column missing_col does not exist in src (source)");

    let err = error_of(&format!(
        "{}\n{out}",
        my_in(&db.name, "query: SELECT * FROM gone")
    ))
    .await;
    assert_says(
        &err,
        &format!("table {}.gone does not exist (source)", db.name),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_permission_denied_names_the_table() {
    let (db, mut conn) = mysql_db().await;
    let user = format!("{}_o", &db.name[..24]);
    conn.query_drop("CREATE TABLE src (id BIGINT PRIMARY KEY); INSERT INTO src VALUES (1); CREATE TABLE dst (id BIGINT);")
        .await
        .unwrap();
    for host in ["localhost", "127.0.0.1"] {
        conn.query_drop(format!(
            "CREATE USER '{user}'@'{host}';
             GRANT SELECT ON {0}.dst TO '{user}'@'{host}';
             GRANT CREATE TEMPORARY TABLES ON {0}.* TO '{user}'@'{host}';",
            db.name
        ))
        .await
        .unwrap();
    }
    let as_user = |yaml: String| yaml.replace("user: root", &format!("user: {user}"));
    let read = error_of(&format!(
        "{}\n{}",
        as_user(my_in(&db.name, "table: src")),
        my_out(&db.name, "table: dst")
    ))
    .await;
    let write = error_of(&format!(
        "{}\n{}",
        my_in(&db.name, "table: src"),
        as_user(my_out(&db.name, "table: dst"))
    ))
    .await;
    for host in ["localhost", "127.0.0.1"] {
        conn.query_drop(format!("DROP USER '{user}'@'{host}'"))
            .await
            .unwrap();
    }
    assert_says(
        &read,
        &format!("permission denied on table {}.src (source)", db.name),
    );
    assert_says(
        &write,
        &format!("permission denied on table {}.dst (destination)", db.name),
    );
}
