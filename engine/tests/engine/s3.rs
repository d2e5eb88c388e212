//! S3 through a local moto server: PostgreSQL -> S3 (csv.gz) -> PostgreSQL, several
//! objects with max_threads, and incremental reads by last_path.
//!
//! Needs `HAKOBU_TEST_S3_ENDPOINT` (see scripts/moto.sh); fails, never skips, without it.

use crate::common::*;
use std::process::Command;

pub fn endpoint() -> String {
    std::env::var("HAKOBU_TEST_S3_ENDPOINT").expect(
        "HAKOBU_TEST_S3_ENDPOINT is not set: S3 tests need the local moto server; run \
         `export HAKOBU_TEST_S3_ENDPOINT=$(scripts/moto.sh)` first",
    )
}

/// A fresh bucket (moto does not check signatures, so a plain PUT creates it).
pub fn bucket(endpoint: &str) -> String {
    let name = format!("hakobu-t-{:016x}", rand::random::<u64>());
    let ok = Command::new("curl")
        .args(["-sf", "-X", "PUT", &format!("{endpoint}/{name}")])
        .status()
        .unwrap()
        .success();
    assert!(ok, "cannot create bucket {name} at {endpoint}");
    name
}

fn s3_out(endpoint: &str, bucket: &str, prefix: &str, seq: &str) -> String {
    format!(
        "out:\n  type: s3\n  bucket: {bucket}\n  endpoint: {endpoint}\n  access_key_id: test\n  secret_access_key: test\n  path_prefix: {prefix}\n  sequence_format: '{seq}'\n  file_ext: csv.gz\n  encoders: [{{type: gzip}}]\n  formatter: {{type: csv}}\n"
    )
}

fn s3_in(endpoint: &str, bucket: &str, prefix: &str) -> String {
    format!(
        "in:\n  type: s3\n  bucket: {bucket}\n  endpoint: {endpoint}\n  access_key_id: test\n  secret_access_key: test\n  path_prefix: {prefix}\n  decoders: [{{type: gzip}}]\n  parser:\n    type: csv\n    skip_header_lines: 1\n    escape: '\"'\n    stop_on_invalid_record: true\n    columns:\n      - {{name: id, type: long}}\n      - {{name: note, type: string}}\n      - {{name: amount, type: decimal}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_s3_and_back_incrementally() {
    let endpoint = endpoint();
    let bucket = bucket(&endpoint);
    let (db, client) = postgres_db().await;
    client
        .batch_execute(
            "CREATE TABLE src (id bigint PRIMARY KEY, note text, amount numeric(38,10));
             INSERT INTO src SELECT g, E'日本語, \"q\"\\n' || g, g * 1.0000000001 FROM generate_series(1, 30000) g;
             CREATE TABLE back (LIKE src);",
        )
        .await
        .unwrap();
    for (i, seq) in ["a%03d.%02d.", "b%03d.%02d.", "c%03d.%02d."]
        .iter()
        .enumerate()
    {
        let lo = i * 10000;
        let yaml = format!(
            "{}\n{}",
            pg_in(
                &db.name,
                &format!("table: src\nwhere: id > {lo} AND id <= {}", lo + 10000)
            ),
            s3_out(&endpoint, &bucket, "orders/part_", seq)
        );
        assert_eq!(run(&yaml).await.unwrap().rows_written, 10000);
    }

    let yaml = format!(
        "{}{}\nexec: {{max_threads: 3}}\n",
        s3_in(&endpoint, &bucket, "orders/part_"),
        pg_out(&db.name, "table: back")
    );
    let first = run_with_diff(&yaml, None).await.unwrap();
    assert_eq!(first.rows_written, 30000);
    assert_eq!(
        first.next_diff.input.last_path.as_deref(),
        Some("orders/part_c000.00.csv.gz")
    );
    assert_eq!(
        pg_checksum(&client, "src", "id").await,
        pg_checksum(&client, "back", "id").await
    );

    let nothing = run_with_diff(&yaml, Some(&first.next_diff.to_yaml()))
        .await
        .unwrap();
    assert_eq!(nothing.rows_written, 0);

    client
        .batch_execute("INSERT INTO src VALUES (30001, 'late', 1)")
        .await
        .unwrap();
    let yaml_out = format!(
        "{}\n{}",
        pg_in(&db.name, "table: src\nwhere: id > 30000"),
        s3_out(&endpoint, &bucket, "orders/part_", "d%03d.%02d.")
    );
    run(&yaml_out).await.unwrap();
    let more = run_with_diff(&yaml, Some(&first.next_diff.to_yaml()))
        .await
        .unwrap();
    assert_eq!(more.rows_written, 1);
    assert_eq!(pg_count(&client, "back").await, 30001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_is_a_clear_error() {
    let endpoint = endpoint();
    let yaml = format!(
        "{}{}",
        s3_in(&endpoint, "hakobu-no-such-bucket", "x/"),
        "out:\n  type: file\n  path_prefix: /tmp/never_\n  file_ext: csv\n  formatter: {type: csv}\n"
    );
    let err = format!("{:#}", run(&yaml).await.unwrap_err());
    assert!(
        err.contains("cannot list s3://hakobu-no-such-bucket/x/"),
        "{err}"
    );
}

/// Temporary credentials (an assumed role's, as the app fills them in) reach the bucket
/// with their session token; a config without keys is refused rather than falling back
/// to the runner's own identity, and one naming only a role says the runner assumes none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_credentials_carry_their_token_and_missing_keys_never_fall_back() {
    let endpoint = endpoint();
    let bucket = bucket(&endpoint);
    let tap = hakobu_testkit::TcpTap::start(endpoint.trim_start_matches("http://")).await;
    let tapped = format!("http://{}", tap.address);
    let (db, client) = postgres_db().await;
    client
        .batch_execute("CREATE TABLE src (id bigint); INSERT INTO src VALUES (1), (2);")
        .await
        .unwrap();
    let section = |credentials: &str| {
        format!(
            "{}\nout:\n  type: s3\n  bucket: {bucket}\n  endpoint: {tapped}\n{credentials}  path_prefix: rows_\n  file_ext: csv\n  formatter: {{type: csv}}\n",
            pg_in(&db.name, "table: src")
        )
    };
    let session = "  auth_method: session\n  access_key_id: ASIATEMPORARYKEY01\n  secret_access_key: temporary-secret\n  session_token: temporary-session-token-01\n";
    assert_eq!(run(&section(session)).await.unwrap().rows_written, 2);
    let sent = tap.sent();
    assert!(
        sent.contains("x-amz-security-token: temporary-session-token-01"),
        "the upload carries the session token"
    );
    assert!(sent.contains("Credential=ASIATEMPORARYKEY01/"));
    assert!(
        !sent.contains("temporary-secret"),
        "a secret key is never sent"
    );

    let keyless = format!("{:#}", run(&section("")).await.unwrap_err());
    assert!(
        keyless.contains("access_key_id and secret_access_key are required"),
        "{keyless}"
    );
    let role_only = format!(
        "{:#}",
        run(&section(
            "  role_arn: arn:aws:iam::123456789012:role/hakobu-writer\n"
        ))
        .await
        .unwrap_err()
    );
    assert!(
        role_only.contains("role_arn: the runner does not assume roles"),
        "{role_only}"
    );
}
