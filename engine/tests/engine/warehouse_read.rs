//! Data warehouses read for the app: BigQuery's datasets, tables, columns, previews and a
//! data check's value on the local `bqemulator` (`HAKOBU_TEST_BIGQUERY_ENDPOINT`, default
//! `http://127.0.0.1:9050`), Snowflake's on fakesnow (`HAKOBU_TEST_SNOWFLAKE_ENDPOINT`,
//! default `http://127.0.0.1:5066`), and an answer longer than the budget refused unread.
//!
//! Both emulators answer the APIs the engine uses like the real services: BigQuery's REST
//! listings (`datasets.list`, `tables.list`, `tables.get`, `tabledata.list` with
//! `maxResults`) and `jobs.query`; Snowflake's `INFORMATION_SCHEMA` views. What they lack
//! here: fakesnow answers a scalar subquery of two rows with an HTTP 500 "Unhandled
//! exception" instead of Snowflake's "Single-row subquery returns more than one row" (the
//! check still fails, with the emulator's words); bqemulator checks no access token.

use hakobu_core::config::{BigqueryOutput, SnowflakeOutput, Warehouse};
use hakobu_core::job::checks::CheckOperator;
use hakobu_engine::check::{
    WarehouseRead, warehouse_columns, warehouse_data_check, warehouse_preview, warehouse_schemas,
    warehouse_tables, warehouse_value,
};
use hakobu_engine::connectors::bigquery::Client;
use hakobu_engine::connectors::snowflake::{Login, Session};
use serde_json::json;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn bq_endpoint() -> String {
    std::env::var("HAKOBU_TEST_BIGQUERY_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:9050".to_owned())
}

fn sf_endpoint() -> String {
    std::env::var("HAKOBU_TEST_SNOWFLAKE_ENDPOINT")
        .unwrap_or_else(|_| "http://127.0.0.1:5066".to_owned())
}

fn bigquery(endpoint: &str, dataset: &str) -> BigqueryOutput {
    serde_json::from_value(json!({
        "project": "p1", "dataset": dataset, "table": "t", "endpoint": endpoint,
        "auth_method": "access_token", "access_token": "test-token",
    }))
    .unwrap()
}

/// A fresh dataset with `orders` (three rows) and `customers` (none).
async fn bq_dataset() -> (BigqueryOutput, String) {
    let dataset = format!("hakobu_r_{:016x}", rand::random::<u64>());
    let c = bigquery(&bq_endpoint(), &dataset);
    let client = Client::connect(&c).await.expect("bqemulator runs");
    let http = reqwest::Client::new();
    let created = http
        .post(format!(
            "{}/bigquery/v2/projects/p1/datasets",
            bq_endpoint()
        ))
        .json(&json!({"datasetReference": {"projectId": "p1", "datasetId": dataset}}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());
    client
        .query(&format!(
            "CREATE TABLE `p1.{dataset}.orders` (id INT64, name STRING, amount NUMERIC)"
        ))
        .await
        .unwrap();
    client
        .query(&format!("CREATE TABLE `p1.{dataset}.customers` (id INT64)"))
        .await
        .unwrap();
    client
        .query(&format!(
            "INSERT INTO `p1.{dataset}.orders` (id, name, amount) VALUES (1, 'one', 1.5), (2, NULL, 2), (3, 'three', -4)"
        ))
        .await
        .unwrap();
    (c, dataset)
}

#[tokio::test]
async fn bigquery_datasets_tables_columns_and_previews_come_from_the_rest_api() {
    let (c, dataset) = bq_dataset().await;
    let w = Warehouse::Bigquery(Box::new(c));

    let datasets = warehouse_schemas(&w, T).await.unwrap();
    assert!(datasets.items.contains(&dataset), "{datasets:?}");

    // An empty schema is the connection's own dataset.
    let tables = warehouse_tables(&w, "", T).await.unwrap();
    assert_eq!(tables.items, vec!["customers", "orders"]);
    assert!(!tables.truncated);

    let columns = warehouse_columns(&w, &dataset, "orders", T).await.unwrap();
    let described: Vec<(&str, &str, bool)> = columns
        .items
        .iter()
        .map(|c| (c.name.as_str(), c.data_type.as_str(), c.nullable))
        .collect();
    assert_eq!(
        described,
        vec![
            ("id", "INT64", true),
            ("name", "STRING", true),
            ("amount", "NUMERIC", true)
        ]
    );
    let missing = warehouse_columns(&w, &dataset, "nope", T).await.unwrap();
    assert!(missing.items.is_empty());

    let table = WarehouseRead::Table {
        schema: dataset.clone(),
        table: "orders".into(),
    };
    let preview = warehouse_preview(&w, &table, 2, T).await.unwrap();
    assert_eq!(preview.columns[0], ("id".to_owned(), "INT64".to_owned()));
    assert_eq!(preview.rows.len(), 2, "{preview:?}");
    assert!(!preview.truncated);

    let query = WarehouseRead::Query {
        query: format!("SELECT id, name FROM `p1.{dataset}.orders` WHERE id >= 2 ORDER BY id;"),
    };
    let preview = warehouse_preview(&w, &query, 10, T).await.unwrap();
    assert_eq!(
        preview.rows,
        vec![
            vec![json!("2"), json!(null)],
            vec![json!("3"), json!("three")]
        ]
    );
    // Anything but one SELECT is refused before it is sent.
    let statement = WarehouseRead::Query {
        query: format!("DELETE FROM `p1.{dataset}.orders` WHERE true"),
    };
    assert!(warehouse_preview(&w, &statement, 10, T).await.is_err());
}

#[tokio::test]
async fn a_bigquery_data_check_compares_one_value_and_refuses_more() {
    let (c, dataset) = bq_dataset().await;
    let w = Warehouse::Bigquery(Box::new(c));
    let count = format!("SELECT count(*) FROM `p1.{dataset}.orders`");
    let passed = warehouse_data_check(&w, &count, CheckOperator::Eq, "3", false, T)
        .await
        .unwrap();
    assert!(passed.passed, "{passed:?}");
    assert_eq!(passed.actual.as_deref(), Some("3"));
    let failed = warehouse_data_check(&w, &count, CheckOperator::Lt, "3", false, T)
        .await
        .unwrap();
    assert!(!failed.passed);

    // No row is NULL; two rows or two columns are refused by the warehouse itself.
    let none = format!("SELECT id FROM `p1.{dataset}.orders` WHERE id > 100");
    assert_eq!(warehouse_value(&w, &none, 10, T).await.unwrap(), None);
    let two_rows = format!("SELECT id FROM `p1.{dataset}.orders`");
    let e = warehouse_value(&w, &two_rows, 10, T).await.unwrap_err();
    // BigQuery: "Scalar subquery produced more than one element"; the emulator: "More
    // than one row returned by a subquery".
    assert!(e.message.to_lowercase().contains("more than one"), "{e:?}");
    let two_columns = format!("SELECT id, name FROM `p1.{dataset}.orders` LIMIT 1");
    assert!(warehouse_value(&w, &two_columns, 10, T).await.is_err());

    // A value longer than the limit is refused, naming it; only limit + 1 was sent.
    let e = warehouse_value(&w, "SELECT 'abcdefgh'", 4, T)
        .await
        .unwrap_err();
    assert!(e.message.contains("longer than 4 characters"), "{e:?}");
    let e = warehouse_value(&w, "UPDATE x SET y = 1", 4, T)
        .await
        .unwrap_err();
    assert!(e.message.contains("the query"), "{e:?}");
}

/// A fresh Snowflake database with schema `SALES`: `ORDERS` (three rows) and `EMPTY`.
async fn sf_database() -> (SnowflakeOutput, String) {
    let db = format!("HKR{:016X}", rand::random::<u64>());
    let base = sf_endpoint();
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
    for sql in [
        format!("CREATE DATABASE {db}"),
        format!("CREATE SCHEMA {db}.PUBLIC"),
        format!("CREATE SCHEMA {db}.SALES"),
        format!("CREATE TABLE {db}.SALES.ORDERS (ID NUMBER(10,0) NOT NULL, NAME VARCHAR)"),
        format!("CREATE TABLE {db}.SALES.EMPTY (X VARCHAR)"),
        format!("INSERT INTO {db}.SALES.ORDERS VALUES (1, 'one'), (2, NULL), (3, 'three')"),
    ] {
        session.execute(&sql).await.unwrap();
    }
    session.close().await;
    let c: SnowflakeOutput = serde_json::from_value(json!({
        "account": "test", "endpoint": base, "user": "tester", "password": "pw",
        "database": db, "schema": "sales", "table": "t",
    }))
    .unwrap();
    (c, db)
}

#[tokio::test]
async fn snowflake_schemas_tables_columns_and_previews_come_from_information_schema() {
    let (c, db) = sf_database().await;
    let w = Warehouse::Snowflake(Box::new(c));

    let schemas = warehouse_schemas(&w, T).await.unwrap();
    assert_eq!(schemas.items, vec!["PUBLIC", "SALES"], "{schemas:?}");

    // The connection's schema is `sales`: stored (and compared) as SALES.
    let tables = warehouse_tables(&w, "", T).await.unwrap();
    assert_eq!(tables.items, vec!["EMPTY", "ORDERS"]);
    // A name with a quote stays a literal: nothing matches, nothing breaks.
    let none = warehouse_tables(&w, "x' OR '1'='1", T).await.unwrap();
    assert!(none.items.is_empty(), "{none:?}");

    let columns = warehouse_columns(&w, "SALES", "ORDERS", T).await.unwrap();
    let names: Vec<(&str, bool)> = columns
        .items
        .iter()
        .map(|c| (c.name.as_str(), c.nullable))
        .collect();
    assert_eq!(names, vec![("ID", false), ("NAME", true)]);

    let table = WarehouseRead::Table {
        schema: "SALES".into(),
        table: "ORDERS".into(),
    };
    let preview = warehouse_preview(&w, &table, 2, T).await.unwrap();
    assert_eq!(preview.rows.len(), 2, "{preview:?}");
    assert_eq!(preview.columns[0].0, "ID");

    let query = WarehouseRead::Query {
        query: format!("SELECT NAME FROM {db}.SALES.ORDERS WHERE ID = 3"),
    };
    let preview = warehouse_preview(&w, &query, 10, T).await.unwrap();
    assert_eq!(preview.rows, vec![vec![json!("three")]]);
}

#[tokio::test]
async fn a_snowflake_data_check_compares_one_value_and_refuses_more() {
    let (c, db) = sf_database().await;
    let w = Warehouse::Snowflake(Box::new(c));
    let count = format!("SELECT COUNT(*) FROM {db}.SALES.ORDERS");
    let passed = warehouse_data_check(&w, &count, CheckOperator::Eq, "3", false, T)
        .await
        .unwrap();
    assert!(passed.passed, "{passed:?}");
    let nulls = format!("SELECT COUNT(*) FROM {db}.SALES.ORDERS WHERE NAME IS NULL");
    let failed = warehouse_data_check(&w, &nulls, CheckOperator::Eq, "0", false, T)
        .await
        .unwrap();
    assert!(!failed.passed);
    assert_eq!(failed.actual.as_deref(), Some("1"));

    let none = format!("SELECT NAME FROM {db}.SALES.ORDERS WHERE ID > 100");
    assert_eq!(warehouse_value(&w, &none, 10, T).await.unwrap(), None);
    let two_rows = format!("SELECT ID FROM {db}.SALES.ORDERS");
    assert!(warehouse_value(&w, &two_rows, 10, T).await.is_err());
    let e = warehouse_value(&w, "SELECT 'abcdefgh'", 4, T)
        .await
        .unwrap_err();
    assert!(e.message.contains("longer than 4 characters"), "{e:?}");
}

/// A server answering every request with 200 and a body longer than the warehouse
/// budget, without a length; answers how many bytes it managed to send.
async fn endless_server() -> (String, tokio::task::JoinHandle<usize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 16 * 1024];
        let _ = socket.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
        let mut sent = 0;
        if socket.write_all(head.as_bytes()).await.is_err() {
            return sent;
        }
        let chunk = vec![b' '; 1 << 20];
        // Four times the budget: the reader must stop long before.
        for _ in 0..64 {
            if socket.write_all(&chunk).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    (url, handle)
}

#[tokio::test]
async fn an_answer_longer_than_the_budget_is_refused_unread() {
    let (url, server) = endless_server().await;
    let w = Warehouse::Bigquery(Box::new(bigquery(&url, "d")));
    let e = warehouse_schemas(&w, T).await.unwrap_err();
    assert!(e.message.contains("larger than 32 MiB"), "{e:?}");
    let sent = server.await.unwrap();
    assert!(sent < 64 << 20, "the whole answer was read: {sent}");
}
