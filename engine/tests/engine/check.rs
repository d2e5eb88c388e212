//! Connection checks, discovery, previews and data checks against the local servers,
//! including each plain-language failure that can be provoked locally.

use crate::common::*;
use hakobu_core::config::DbEndpoint;
use hakobu_core::job::checks::{CheckOperator, evaluate};
use hakobu_engine::check::{self, Connection, DbKind, ErrorKind};
use hakobu_engine::limits::{
    DISCOVERY_MAX_ENTRIES, PREVIEW_MAX_BYTES, PREVIEW_MAX_VALUE_BYTES, VARIABLE_MAX_VALUE_CHARS,
};
use mysql_async::prelude::Queryable;
use std::time::Duration;

fn conn(kind: DbKind, db: &str) -> Connection {
    Connection {
        endpoint: DbEndpoint {
            kind,
            host: "127.0.0.1".into(),
            port: None,
            user: if kind == DbKind::Postgresql {
                "postgres"
            } else {
                "root"
            }
            .into(),
            password: None,
            database: db.into(),
            tls: hakobu_core::config::Tls::disabled(),
            ssh: None,
        },
        timeout: Duration::from_secs(5),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_browse_and_preview_postgres() {
    let (db, client) = postgres_db().await;
    client.batch_execute("CREATE SCHEMA sales; CREATE TABLE sales.orders (id bigint PRIMARY KEY, note text NOT NULL, amount numeric(12,2)); INSERT INTO sales.orders SELECT g, 'n' || g, g * 1.5 FROM generate_series(1, 50) g").await.unwrap();
    let c = conn(DbKind::Postgresql, &db.name);
    let ok = check::check(&c).await.unwrap();
    assert!(ok.server_version.starts_with("15"), "{ok:?}");
    assert!(
        check::list_schemas(&c)
            .await
            .unwrap()
            .items
            .contains(&"sales".to_owned())
    );
    assert_eq!(
        check::list_tables(&c, "sales").await.unwrap(),
        check::Listing {
            items: vec!["orders".to_owned()],
            truncated: false
        }
    );
    let cols = check::list_columns(&c, "sales", "orders")
        .await
        .unwrap()
        .items;
    assert_eq!(cols[2].data_type, "numeric(12,2)");
    assert!(!cols[1].nullable && cols[2].nullable);
    let preview = check::preview_table(&c, "sales", "orders", 3)
        .await
        .unwrap();
    assert_eq!(preview.rows.len(), 3);
    assert!(!preview.truncated);
    assert_eq!(preview.rows[0][2], serde_json::json!("1.50"));
    assert!(format!("{c:?}").contains("password: None"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_browse_and_preview_mariadb() {
    let (db, mut my) = mysql_db().await;
    my.query_drop("CREATE TABLE orders (id BIGINT PRIMARY KEY, note TEXT); INSERT INTO orders VALUES (1, 'a'), (2, 'b')").await.unwrap();
    let c = conn(DbKind::Mysql, &db.name);
    assert!(
        check::check(&c)
            .await
            .unwrap()
            .server_version
            .contains("MariaDB")
    );
    assert_eq!(
        check::list_schemas(&c).await.unwrap().items,
        vec![db.name.clone()]
    );
    assert_eq!(
        check::list_tables(&c, &db.name).await.unwrap().items,
        ["orders"]
    );
    assert_eq!(
        check::list_columns(&c, &db.name, "orders")
            .await
            .unwrap()
            .items[0]
            .data_type,
        "bigint(20)"
    );
    assert_eq!(
        check::preview_table(&c, &db.name, "orders", 10)
            .await
            .unwrap()
            .rows
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_named_in_plain_language() {
    let kind = |r: Result<check::CheckOk, check::CheckError>| r.unwrap_err().kind;
    for k in [DbKind::Postgresql, DbKind::Mysql] {
        let mut c = conn(k, "hakobu_t_no_such_database");
        assert_eq!(
            kind(check::check(&c).await),
            ErrorKind::DatabaseMissing,
            "{k:?}"
        );
        c.endpoint.port = Some(1);
        assert_eq!(
            kind(check::check(&c).await),
            ErrorKind::HostUnreachable,
            "{k:?}"
        );
        // A listener that accepts but never speaks: the check must give up, not hang.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        c.endpoint.port = Some(silent.local_addr().unwrap().port());
        c.timeout = Duration::from_millis(500);
        assert_eq!(kind(check::check(&c).await), ErrorKind::Timeout, "{k:?}");
    }
    // MariaDB checks passwords (the local PostgreSQL trusts every local login).
    let mut c = conn(DbKind::Mysql, "mysql");
    c.endpoint.password = Some("wrong".into());
    let e = check::check(&c).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::WrongPassword);
    assert!(
        !e.message.contains("wrong"),
        "no secret in messages: {}",
        e.message
    );

    let (db, client) = postgres_db().await;
    client.batch_execute("CREATE TABLE secret (x int); DROP ROLE IF EXISTS hakobu_t_reader; CREATE ROLE hakobu_t_reader LOGIN").await.unwrap();
    let mut c = conn(DbKind::Postgresql, &db.name);
    c.endpoint.user = "hakobu_t_reader".into();
    let e = check::data_check(
        &c,
        "SELECT count(*) FROM secret",
        CheckOperator::Eq,
        "0",
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");
    client
        .batch_execute("DROP OWNED BY hakobu_t_reader")
        .await
        .unwrap();
    drop(db);
    let admin = pg_connect("postgres").await;
    admin
        .batch_execute("DROP ROLE IF EXISTS hakobu_t_reader")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_checks_compare_values_and_nulls() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute("CREATE TABLE t (v numeric); INSERT INTO t VALUES (10), (20)")
        .await
        .unwrap();
    let c = conn(DbKind::Postgresql, &db.name);
    let r = check::data_check(&c, "SELECT sum(v) FROM t", CheckOperator::Ge, "30", false)
        .await
        .unwrap();
    assert_eq!((r.passed, r.actual.as_deref()), (true, Some("30")));
    assert!(
        !check::data_check(&c, "SELECT count(*) FROM t", CheckOperator::Gt, "2", false)
            .await
            .unwrap()
            .passed
    );
    assert!(
        check::data_check(
            &c,
            "SELECT max(v) FROM t WHERE false",
            CheckOperator::Eq,
            "1",
            true
        )
        .await
        .unwrap()
        .passed
    );
    assert!(
        !check::data_check(
            &c,
            "SELECT max(v) FROM t WHERE false",
            CheckOperator::Eq,
            "1",
            false
        )
        .await
        .unwrap()
        .passed
    );
    assert!(
        check::data_check(&c, "SELECT v FROM t", CheckOperator::Eq, "1", false)
            .await
            .is_err(),
        "two rows"
    );
    let (mdb, mut my) = mysql_db().await;
    my.query_drop("CREATE TABLE t (v INT); INSERT INTO t VALUES (5)")
        .await
        .unwrap();
    let c = conn(DbKind::Mysql, &mdb.name);
    assert!(
        check::data_check(&c, "SELECT COUNT(*) FROM t", CheckOperator::Eq, "1", false)
            .await
            .unwrap()
            .passed
    );
    assert!(evaluate(Some("abc"), CheckOperator::Lt, "abd", false));
    assert!(
        evaluate(Some("9"), CheckOperator::Lt, "10", false),
        "numbers compare as numbers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mariadb_user_without_select_is_denied_in_plain_language() {
    let (db, mut my) = mysql_db().await;
    let user = format!("{}_c", &db.name[..24]);
    my.query_drop(format!(
        "CREATE TABLE secret (x INT); CREATE TABLE open_t (x INT);
         CREATE USER '{user}'@'localhost'; CREATE USER '{user}'@'127.0.0.1';
         GRANT SELECT ON {0}.open_t TO '{user}'@'localhost';
         GRANT SELECT ON {0}.open_t TO '{user}'@'127.0.0.1';",
        db.name
    ))
    .await
    .unwrap();
    let mut c = conn(DbKind::Mysql, &db.name);
    c.endpoint.user = user.clone();
    let denied = check::data_check(
        &c,
        "SELECT COUNT(*) FROM secret",
        CheckOperator::Eq,
        "0",
        false,
    )
    .await;
    let allowed = check::data_check(
        &c,
        "SELECT COUNT(*) FROM open_t",
        CheckOperator::Eq,
        "0",
        false,
    )
    .await;
    my.query_drop(format!(
        "DROP USER '{user}'@'localhost', '{user}'@'127.0.0.1'"
    ))
    .await
    .unwrap();
    let e = denied.unwrap_err();
    assert_eq!(e.kind, ErrorKind::PermissionDenied, "{e}");
    assert!(allowed.unwrap().passed);
}

// --- bounded answers: what a tenant's database sends is read within a budget ---

/// Asserts a preview of rows of 1 MB values stayed within its budget and says so.
fn assert_cut_to_budget(preview: &hakobu_engine::Preview, asked: usize) {
    let size = serde_json::to_string(&preview.rows).unwrap().len();
    assert!(
        preview.truncated,
        "{} rows, {size} bytes",
        preview.rows.len()
    );
    assert!(!preview.rows.is_empty() && preview.rows.len() < asked);
    // The budget counts values' text; the JSON around them adds a little.
    assert!(size <= PREVIEW_MAX_BYTES + 4096, "{size} bytes");
    let value = preview.rows[0][1].as_str().unwrap();
    assert!(value.ends_with('…') && value.len() <= PREVIEW_MAX_VALUE_BYTES + 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_of_megabyte_values_stops_at_its_budget_postgres() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE wide (id int, v text);
             INSERT INTO wide SELECT g, repeat('x', 1000000) FROM generate_series(1, 40) g",
        )
        .await
        .unwrap();
    let c = conn(DbKind::Postgresql, &db.name);
    let preview = check::preview_table(&c, "public", "wide", 40)
        .await
        .unwrap();
    assert_cut_to_budget(&preview, 40);
    // Reading stops while rows still come: rows after the 30th fail on the server, and a
    // reader that read everything before answering would meet that error.
    let preview = check::preview_query(
        &c,
        "SELECT g AS id, CASE WHEN g <= 30 THEN repeat('y', 1000000) ELSE (1 / (g - g))::text END AS v FROM generate_series(1, 40) g",
        40,
    )
    .await
    .unwrap();
    assert_cut_to_budget(&preview, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_of_megabyte_values_stops_at_its_budget_mariadb() {
    let (db, mut my) = mysql_db().await;
    my.query_drop(
        "CREATE TABLE wide (id INT, v LONGTEXT);
         INSERT INTO wide SELECT seq, REPEAT('x', 1000000) FROM seq_1_to_40",
    )
    .await
    .unwrap();
    let c = conn(DbKind::Mysql, &db.name);
    let preview = check::preview_table(&c, &db.name, "wide", 40)
        .await
        .unwrap();
    assert_cut_to_budget(&preview, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_stops_at_its_count() {
    let (db, client) = postgres_db().await;
    client.batch_execute("CREATE SCHEMA many").await.unwrap();
    // A thousand tables a transaction: each holds a lock until it commits.
    for first in (1..=DISCOVERY_MAX_ENTRIES + 5).step_by(1000) {
        client
            .batch_execute(&format!(
                "DO $$ BEGIN FOR i IN {first}..{} LOOP EXECUTE format('CREATE TABLE many.t%s ()', i); END LOOP; END $$;",
                (first + 999).min(DISCOVERY_MAX_ENTRIES + 5)
            ))
            .await
            .unwrap();
    }
    let c = conn(DbKind::Postgresql, &db.name);
    let tables = check::list_tables(&c, "many").await.unwrap();
    assert_eq!(tables.items.len(), DISCOVERY_MAX_ENTRIES);
    assert!(tables.truncated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_longer_than_its_limit_is_refused_without_being_read() {
    let (db, _client) = postgres_db().await;
    let (mdb, _my) = mysql_db().await;
    for (c, many_rows) in [
        (
            conn(DbKind::Postgresql, &db.name),
            "SELECT generate_series(1, 1000000000) AS g",
        ),
        (
            conn(DbKind::Mysql, &mdb.name),
            "SELECT seq FROM seq_1_to_1000000000",
        ),
    ] {
        let kind = c.kind();
        let e = check::query_value(&c, "SELECT repeat('7', 10000)", VARIABLE_MAX_VALUE_CHARS)
            .await
            .unwrap_err();
        assert_eq!(
            e.message,
            "the query returned a value longer than 4096 characters; values are limited to 4096 characters",
            "{kind:?}"
        );
        assert_eq!(
            check::query_value(&c, "SELECT repeat('7', 4096)", VARIABLE_MAX_VALUE_CHARS)
                .await
                .unwrap()
                .map(|v| v.len()),
            Some(4096),
            "{kind:?}"
        );
        // A billion rows: the database is asked for two, so the answer is the plain
        // "one value" refusal rather than the connection's time limit.
        let e = check::data_check(&c, many_rows, CheckOperator::Eq, "1", false)
            .await
            .unwrap_err();
        assert!(e.message.contains("exactly one value"), "{kind:?}: {e}");
    }
}

/// A data check or query variable cannot change the tenant's data, whatever its text: it
/// runs as one prepared statement in a read-only transaction, after the one-SELECT rule
/// read with the server's own quoting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_checks_cannot_write_or_smuggle_a_second_statement() {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE t (v int); INSERT INTO t VALUES (1);
             CREATE FUNCTION sneaky() RETURNS int LANGUAGE plpgsql AS
             $$ BEGIN INSERT INTO t VALUES (99); RETURN 1; END $$;",
        )
        .await
        .unwrap();
    let c = conn(DbKind::Postgresql, &db.name);
    for sql in [
        "SELECT sneaky()",
        "WITH gone AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM gone",
        "SELECT 1; DELETE FROM t",
        "SELECT E'\\''; DELETE FROM t; SELECT 1",
    ] {
        let refused = check::data_check(&c, sql, CheckOperator::Eq, "1", false)
            .await
            .expect_err(sql);
        assert!(
            ["read-only", "single statement", "data-modifying"]
                .iter()
                .any(|m| refused.message.contains(m)),
            "{sql}: {}",
            refused.message
        );
    }
    assert_eq!(pg_count(&client, "t").await, 1, "nothing was written");

    let (mdb, mut my) = mysql_db().await;
    my.query_drop(
        "CREATE TABLE t (v INT) ENGINE=InnoDB; INSERT INTO t VALUES (1);
         CREATE FUNCTION sneaky() RETURNS INT MODIFIES SQL DATA
         BEGIN INSERT INTO t VALUES (99); RETURN 1; END",
    )
    .await
    .unwrap();
    let c = conn(DbKind::Mysql, &mdb.name);
    for sql in [
        "SELECT sneaky()",
        // MySQL reads `\'` as a quote inside the string: the `;` after it ends the first
        // statement, although a reader without backslash escapes sees one string.
        r"SELECT '\'' ; DELETE FROM t -- '",
        "SELECT 1 # ; comment\n; DELETE FROM t",
    ] {
        let refused = check::data_check(&c, sql, CheckOperator::Eq, "1", false)
            .await
            .expect_err(sql);
        assert!(
            refused.message.contains("READ ONLY") || refused.message.contains("single statement"),
            "{sql}: {}",
            refused.message
        );
    }
    let rows: Vec<i64> = my.query("SELECT COUNT(*) FROM t").await.unwrap();
    assert_eq!(rows, vec![1], "nothing was written");
    // A query variable runs the same way.
    assert!(
        check::query_value(&c, "SELECT sneaky()", 100)
            .await
            .is_err()
    );
}
