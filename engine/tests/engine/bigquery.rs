//! BigQuery through the local `bqemulator`: PostgreSQL -> BigQuery in every mode, exact
//! rows, a failed run leaving the target as it was, the type mapping of created tables,
//! the service-account token exchange against a local token endpoint, and the tenant
//! boundary against hostile local listeners (a refused name, a redirect inside, an answer
//! without end).
//!
//! Needs `HAKOBU_TEST_BIGQUERY_ENDPOINT` (see scripts/bqemulator.sh); fails, never skips,
//! without it. What the emulator does not do like BigQuery is said where it matters:
//! it decodes no base64 in NDJSON `BYTES` (it stores the text's bytes), it has no
//! `BIGNUMERIC` (DuckDB decimals stop at 38 digits), its copy job with `WRITE_TRUNCATE`
//! keeps the target's schema, and it checks no access token.

use crate::common::*;
use hakobu_core::config::BigqueryOutput;
use hakobu_engine::connectors::bigquery::Client;

fn endpoint() -> String {
    std::env::var("HAKOBU_TEST_BIGQUERY_ENDPOINT").expect(
        "HAKOBU_TEST_BIGQUERY_ENDPOINT is not set: BigQuery tests need the local emulator; run \
         `export HAKOBU_TEST_BIGQUERY_ENDPOINT=$(scripts/bqemulator.sh)` first",
    )
}

/// A fresh dataset on the emulator.
async fn dataset(endpoint: &str) -> String {
    let name = format!("hakobu_t_{:016x}", rand::random::<u64>());
    let body = format!(r#"{{"datasetReference":{{"projectId":"p1","datasetId":"{name}"}}}}"#);
    let ok = std::process::Command::new("curl")
        .args([
            "-sf",
            "-o",
            "/dev/null",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
            "-d",
            &body,
            &format!("{endpoint}/bigquery/v2/projects/p1/datasets"),
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok, "cannot create dataset {name} at {endpoint}");
    name
}

fn bq_out(endpoint: &str, dataset: &str, rest: &str) -> String {
    format!(
        "out:\n  type: bigquery\n  project: p1\n  dataset: {dataset}\n  endpoint: {endpoint}\n  auth_method: access_token\n  access_token: test-token\n{rest}"
    )
}

async fn client(endpoint: &str, dataset: &str) -> Client {
    let c: BigqueryOutput = serde_json::from_value(serde_json::json!({
        "project": "p1", "dataset": dataset, "table": "t", "endpoint": endpoint,
        "auth_method": "access_token", "access_token": "test-token",
    }))
    .unwrap();
    Client::connect(&c).await.unwrap()
}

/// Rows as text, ordered by the first column. Decimal text loses trailing zeros: the
/// emulator's `CAST(NUMERIC AS STRING)` pads to the column's scale (`1.500000000`) where
/// BigQuery writes `1.5`.
async fn rows(c: &Client, dataset: &str, table: &str, select: &str) -> Vec<Vec<Option<String>>> {
    c.rows(&format!(
        "SELECT {select} FROM `p1.{dataset}.{table}` ORDER BY 1"
    ))
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        r.into_iter()
            .map(|v| {
                v.map(|s| {
                    let numeric = s.contains('.')
                        && s.chars()
                            .all(|c| c.is_ascii_digit() || c == '.' || c == '-');
                    if numeric {
                        s.trim_end_matches('0').trim_end_matches('.').to_owned()
                    } else {
                        s
                    }
                })
            })
            .collect()
    })
    .collect()
}

fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_owned)).collect()
}

async fn source(rows_sql: &str) -> (TestDb, tokio_postgres::Client) {
    let (db, client) = postgres_db().await;
    client
        .batch_execute(&format!(
            "CREATE TABLE src (id bigint PRIMARY KEY, name text, amount numeric(20,4));
             INSERT INTO src VALUES {rows_sql};"
        ))
        .await
        .unwrap();
    (db, client)
}

fn job(db: &str, endpoint: &str, dataset: &str, table: &str, mode: &str, extra: &str) -> String {
    format!(
        "{}\n{}  table: {table}\n  mode: {mode}\n{extra}",
        pg_in(db, "  table: src\n"),
        bq_out(endpoint, dataset, "")
    )
}

const SELECT: &str = "id, name, CAST(amount AS STRING)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn append_modes_add_exact_rows() {
    let endpoint = endpoint();
    let ds = dataset(&endpoint).await;
    let bq = client(&endpoint, &ds).await;
    let (db, _pg) = source("(1, 'a', 1.5), (2, NULL, NULL)").await;
    for mode in ["append", "append_direct"] {
        let table = format!("t_{mode}");
        for _ in 0..2 {
            let s = run(&job(&db.name, &endpoint, &ds, &table, mode, ""))
                .await
                .unwrap();
            assert_eq!(s.rows_written, 2, "{mode}");
        }
        assert_eq!(
            rows(&bq, &ds, &table, SELECT).await,
            vec![
                row(&[Some("1"), Some("a"), Some("1.5")]),
                row(&[Some("1"), Some("a"), Some("1.5")]),
                row(&[Some("2"), None, None]),
                row(&[Some("2"), None, None]),
            ],
            "{mode}"
        );
        // Nothing of the run is left behind: only the target is in the dataset.
        let tables = bq
            .rows(&format!("SELECT table_name FROM `p1.{ds}.INFORMATION_SCHEMA.TABLES` WHERE table_name LIKE '%hakobu_tmp%'"))
            .await
            .unwrap();
        assert!(tables.is_empty(), "{mode} left {tables:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_delete_in_advance_and_merge_leave_exact_rows() {
    let endpoint = endpoint();
    let ds = dataset(&endpoint).await;
    let bq = client(&endpoint, &ds).await;
    let (db, pg) = source("(1, 'a', 1.5), (2, 'b', 2)").await;
    for mode in ["replace", "delete_in_advance", "merge"] {
        let table = format!("t_{mode}");
        let keys = if mode == "merge" {
            "  merge_keys: [id]\n"
        } else {
            ""
        };
        run(&job(&db.name, &endpoint, &ds, &table, mode, keys))
            .await
            .unwrap();
        pg.batch_execute("UPDATE src SET name = 'b2' WHERE id = 2; DELETE FROM src WHERE id = 1; INSERT INTO src VALUES (3, 'c', 3.25)")
            .await
            .unwrap();
        run(&job(&db.name, &endpoint, &ds, &table, mode, keys))
            .await
            .unwrap();
        let expected = if mode == "merge" {
            // merge keeps the row the source no longer has.
            vec![
                row(&[Some("1"), Some("a"), Some("1.5")]),
                row(&[Some("2"), Some("b2"), Some("2")]),
                row(&[Some("3"), Some("c"), Some("3.25")]),
            ]
        } else {
            vec![
                row(&[Some("2"), Some("b2"), Some("2")]),
                row(&[Some("3"), Some("c"), Some("3.25")]),
            ]
        };
        assert_eq!(rows(&bq, &ds, &table, SELECT).await, expected, "{mode}");
        pg.batch_execute("DELETE FROM src; INSERT INTO src VALUES (1, 'a', 1.5), (2, 'b', 2)")
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_transactional_run_leaves_the_target_unchanged() {
    let endpoint = endpoint();
    let ds = dataset(&endpoint).await;
    let bq = client(&endpoint, &ds).await;
    // The target's `name` is INT64: the source's text cannot load into it, so the load
    // job of the second run fails.
    bq.query(&format!(
        "CREATE TABLE `p1.{ds}.t` (id INT64, name INT64, amount NUMERIC)"
    ))
    .await
    .unwrap();
    bq.query(&format!("INSERT INTO `p1.{ds}.t` VALUES (9, 9, 9)"))
        .await
        .unwrap();
    let (db, _pg) = source("(1, 'not a number', 1.5)").await;
    for (mode, extra) in [
        ("append", ""),
        ("replace", ""),
        ("merge", "  merge_keys: [id]\n"),
    ] {
        let failed = run(&job(&db.name, &endpoint, &ds, "t", mode, extra)).await;
        assert!(failed.is_err(), "{mode} loaded text into an INT64 column");
        assert_eq!(
            rows(&bq, &ds, "t", "id, name, CAST(amount AS STRING)").await,
            vec![row(&[Some("9"), Some("9"), Some("9")])],
            "{mode} changed the target"
        );
    }
    let tables = bq
        .rows(&format!(
            "SELECT table_name FROM `p1.{ds}.INFORMATION_SCHEMA.TABLES` ORDER BY 1"
        ))
        .await
        .unwrap();
    assert_eq!(
        tables,
        vec![row(&[Some("t")])],
        "temporary tables were left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_tables_map_every_type() {
    let endpoint = endpoint();
    let ds = dataset(&endpoint).await;
    let bq = client(&endpoint, &ds).await;
    let (db, pg) = postgres_db().await;
    pg.batch_execute(
        "CREATE TABLE src (id bigint, ok boolean, f double precision, s text, n numeric(30,9),
           ts timestamptz, d date, j jsonb, b bytea, dt timestamptz);
         INSERT INTO src VALUES
           (1, true, 0.5, '日本語', 12345678901234567890.123456789, '2024-01-02 03:04:05.123456+00',
            '2024-01-02', '{\"a\": [1, 2]}', '\\x000102', '2024-01-02 03:04:05.5+09'),
           (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);",
    )
    .await
    .unwrap();
    let yaml = format!(
        "{}\n{}  table: typed\n  mode: replace\n  column_options: [{{name: dt, type: DATETIME}}]\n  time_partitioning: {{type: DAY, field: d}}\n  clustering: {{fields: [id]}}\n",
        pg_in(&db.name, "  table: src\n"),
        bq_out(&endpoint, &ds, "")
    );
    run(&yaml).await.unwrap();
    let schema = bq.table_schema(&ds, "typed").await.unwrap().unwrap();
    let types: Vec<(&str, &str)> = schema
        .iter()
        .map(|f| (f.name.as_str(), f.type_.as_str()))
        .collect();
    assert_eq!(
        types,
        vec![
            ("id", "INT64"),
            ("ok", "BOOL"),
            ("f", "FLOAT64"),
            ("s", "STRING"),
            ("n", "NUMERIC"),
            ("ts", "TIMESTAMP"),
            ("d", "DATE"),
            ("j", "JSON"),
            ("b", "BYTES"),
            ("dt", "DATETIME"),
        ]
    );
    assert_eq!(
        rows(
            &bq,
            &ds,
            "typed",
            "id, ok, f, s, CAST(n AS STRING), FORMAT_TIMESTAMP('%Y-%m-%d %H:%M:%E6S', ts), CAST(d AS STRING), TO_JSON_STRING(j), FORMAT_DATETIME('%Y-%m-%d %H:%M:%E6S', dt)"
        )
        .await,
        vec![
            row(&[
                Some("1"),
                Some("true"),
                Some("0.5"),
                Some("日本語"),
                Some("12345678901234567890.123456789"),
                Some("2024-01-02 03:04:05.123456"),
                Some("2024-01-02"),
                Some("{\"a\":[1,2]}"),
                // The UTC wall-clock time of 03:04:05.5+09.
                Some("2024-01-01 18:04:05.500000"),
            ]),
            row(&[Some("2"), None, None, None, None, None, None, None, None]),
        ]
    );
    // BYTES: Hakobu sends base64 (`AAEC` for 00 01 02), as BigQuery's NDJSON expects. The
    // emulator stores that text's own bytes instead of decoding them, so it answers the
    // base64 of "AAEC"; BigQuery would answer "AAEC".
    let b = rows(&bq, &ds, "typed", "id, b").await;
    assert_eq!(b[0][1].as_deref(), Some("QUFFQw=="));
}

/// A one-request HTTP token endpoint: checks the JWT's RS256 signature with the public
/// key and its claims, then answers an access token.
async fn token_endpoint(public_pem: Vec<u8>) -> (String, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let aud = url.clone();
    let handle = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len || n == 0 {
                    break;
                }
            }
        }
        let text = String::from_utf8_lossy(&request).into_owned();
        let body = text.split_once("\r\n\r\n").unwrap().1;
        assert!(
            body.starts_with(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion="
            ),
            "{body}"
        );
        let assertion = body.rsplit_once("assertion=").unwrap().1;
        let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public_pem).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[aud.as_str()]);
        validation.set_issuer(&["loader@p1.iam.gserviceaccount.com"]);
        let (status, answer) =
            match jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation) {
                Ok(t) => {
                    assert_eq!(
                        t.claims["scope"],
                        "https://www.googleapis.com/auth/bigquery"
                    );
                    (
                    "200 OK",
                    r#"{"access_token":"exchanged-token","expires_in":3600,"token_type":"Bearer"}"#
                        .to_owned(),
                )
                }
                Err(e) => (
                    "400 Bad Request",
                    format!(r#"{{"error":"invalid_grant","error_description":"{e}"}}"#),
                ),
            };
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
            answer.len()
        );
        socket.write_all(response.as_bytes()).await.unwrap();
        status.to_owned()
    });
    (url, handle)
}

/// An RSA key pair made by openssl: (PKCS#8 private PEM, public PEM).
fn rsa_key_pair() -> (String, Vec<u8>) {
    let dir = TempDir::new();
    let private = dir.path("key.pem");
    let public = dir.path("pub.pem");
    let ok = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &private,
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl genpkey failed");
    let ok = std::process::Command::new("openssl")
        .args(["pkey", "-in", &private, "-pubout", "-out", &public])
        .status()
        .unwrap()
        .success();
    assert!(ok, "openssl pkey failed");
    (
        std::fs::read_to_string(&private).unwrap(),
        std::fs::read(&public).unwrap(),
    )
}

fn service_account(token_uri: &str, private_pem: &str) -> BigqueryOutput {
    let key = serde_json::json!({
        "type": "service_account",
        "project_id": "p1",
        "private_key_id": "k1",
        "private_key": private_pem,
        "client_email": "loader@p1.iam.gserviceaccount.com",
        "token_uri": token_uri,
    });
    serde_json::from_value(serde_json::json!({
        "project": "p1", "dataset": "d", "table": "t", "json_keyfile": key.to_string(),
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_account_key_is_exchanged_for_a_token_with_a_signed_jwt() {
    let (private_pem, public_pem) = rsa_key_pair();
    let (url, server) = token_endpoint(public_pem.clone()).await;
    let c = service_account(&url, &private_pem);
    let token =
        hakobu_engine::connectors::bigquery::access_token(&c, &hakobu_engine::egress::policy())
            .await
            .unwrap();
    assert_eq!(token, "exchanged-token");
    assert_eq!(server.await.unwrap(), "200 OK");

    // A key whose signature the endpoint cannot verify (another key pair) is refused,
    // and the error carries neither key.
    let (other_private, _) = rsa_key_pair();
    let (url, server) = token_endpoint(public_pem).await;
    let c = service_account(&url, &other_private);
    let refused =
        hakobu_engine::connectors::bigquery::access_token(&c, &hakobu_engine::egress::policy())
            .await
            .unwrap_err();
    let message = format!("{refused:#}");
    assert!(message.contains("400"), "{message}");
    assert!(!message.contains("PRIVATE KEY"), "{message}");
    assert_eq!(server.await.unwrap(), "400 Bad Request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_larger_than_one_upload_chunk_arrives_whole() {
    let endpoint = endpoint();
    let ds = dataset(&endpoint).await;
    let bq = client(&endpoint, &ds).await;
    let (db, pg) = postgres_db().await;
    // About 20 MB of NDJSON: three 8 MiB chunks of one resumable upload, one load job.
    pg.batch_execute(
        "CREATE TABLE src (id bigint PRIMARY KEY, name text, amount numeric(20,4));
         INSERT INTO src SELECT g, repeat('x', 120) || g, g / 4.0 FROM generate_series(1, 120000) g;",
    )
    .await
    .unwrap();
    let s = run(&job(&db.name, &endpoint, &ds, "big", "append", ""))
        .await
        .unwrap();
    assert_eq!(s.rows_written, 120000);
    assert!(s.bytes_written > 16 * 1024 * 1024, "{}", s.bytes_written);
    assert_eq!(
        bq.rows(&format!(
            "SELECT COUNT(*), SUM(id), COUNT(DISTINCT name) FROM `p1.{ds}.big`"
        ))
        .await
        .unwrap()[0],
        [
            Some("120000".to_owned()),
            Some("7200060000".to_owned()),
            Some("120000".to_owned())
        ]
    );
}

/// A BigQuery connection section aimed at `endpoint`, signed in with a token.
fn with_endpoint(endpoint: &str) -> BigqueryOutput {
    serde_json::from_value(serde_json::json!({
        "project": "p1", "dataset": "d", "table": "t", "endpoint": endpoint,
        "auth_method": "access_token", "access_token": "test-token",
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_named_onto_a_refused_address_is_refused_before_connecting() {
    let inside = RawServer::start("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", false).await;
    // Only another port is opened: `localhost` resolves to the service's own machine.
    let policy = policy_opening(inside.port.wrapping_add(1));
    let refused = match Client::connect_under(
        &with_endpoint(&format!("http://localhost:{}", inside.port)),
        &policy,
    )
    .await
    {
        Ok(_) => panic!("connected to localhost"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        refused.contains("inside the service's private network"),
        "{refused}"
    );
    assert_eq!(inside.accepted(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_from_the_endpoint_to_a_refused_address_is_not_followed() {
    let inside = RawServer::start("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}", false).await;
    let endpoint = RawServer::start(
        &format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://localhost:{}/bigquery/v2/projects/p1/jobs\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
            inside.port
        ),
        false,
    )
    .await;
    let client = Client::connect_under(
        &with_endpoint(&format!("http://127.0.0.1:{}", endpoint.port)),
        &policy_opening(endpoint.port),
    )
    .await
    .unwrap();
    let e = format!("{:#}", client.query("SELECT 1").await.unwrap_err());
    assert!(e.contains("307"), "{e}");
    assert_eq!(endpoint.accepted(), 1);
    assert_eq!(inside.accepted(), 0, "the redirect was followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_fails_at_the_budget_without_being_read_whole() {
    use hakobu_engine::limits::{TOKEN_ANSWER_MAX_BYTES, WAREHOUSE_ANSWER_MAX_BYTES, human_bytes};
    let endpoint = RawServer::start(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n",
        true,
    )
    .await;
    let client = Client::connect_under(
        &with_endpoint(&format!("http://127.0.0.1:{}", endpoint.port)),
        &policy_opening(endpoint.port),
    )
    .await
    .unwrap();
    let e = format!("{:#}", client.query("SELECT 1").await.unwrap_err());
    assert!(
        e.contains(&format!(
            "the answer is larger than {}, the most Hakobu reads of it",
            human_bytes(WAREHOUSE_ANSWER_MAX_BYTES)
        )),
        "{e}"
    );
    // What was sent is the budget and what the sockets buffer on the way, not more: the
    // client stopped reading and hung up.
    drop(client);
    let mut last = endpoint.sent();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = endpoint.sent();
        if now == last {
            break;
        }
        last = now;
    }
    assert!(
        last < WAREHOUSE_ANSWER_MAX_BYTES + 16 * 1024 * 1024,
        "{last} bytes were sent"
    );

    // The token endpoint of a service account key has its own, smaller budget.
    let (private_pem, _) = rsa_key_pair();
    let token = RawServer::start(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n",
        true,
    )
    .await;
    let key = service_account(
        &format!("http://127.0.0.1:{}/token", token.port),
        &private_pem,
    );
    let e = hakobu_engine::connectors::bigquery::access_token(&key, &policy_opening(token.port))
        .await
        .unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains(&format!(
            "the answer is larger than {}",
            human_bytes(TOKEN_ANSWER_MAX_BYTES)
        )),
        "{e}"
    );
}
