//! Stage uploads as a real Snowflake account asks for them: client-side encryption and S3
//! or GCS stage locations (`engine/src/connectors/snowflake/stage.rs`, `encryption.rs`).
//!
//! fakesnow cannot show these: its `PUT` answers an unencrypted presigned URL on its own
//! server, never S3 credentials or encryption material. So the answers here are shaped as a
//! real account's (see [`s3_answer`]), the storage is moto (`HAKOBU_TEST_S3_ENDPOINT`), and
//! what Hakobu encrypts is decrypted by Snowflake's own Python connector
//! (`engine/tests/snowflake_encryption.py`, run with fakesnow's venv, which has
//! snowflake-connector-python and boto3), and the other way round.

use crate::s3::{bucket, endpoint};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hakobu_core::egress::EgressPolicy;
use hakobu_engine::connectors::snowflake::encryption::{self, EncryptionMaterial};
use hakobu_engine::connectors::snowflake::stage::{self, S3Endpoint};
use hakobu_engine::egress::http::{HttpClient, Timeouts};
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

fn http(policy: EgressPolicy) -> HttpClient {
    HttpClient::new(
        policy,
        Timeouts::new(Duration::from_secs(5), Duration::from_secs(60)),
    )
}

/// A stage master key, as `queryStageMasterKey` carries it.
fn master_key() -> String {
    B64.encode(rand::random::<[u8; 32]>())
}

const QUERY_ID: &str = "01b8c2e7-0004-3f2a-0000-4d2a0001b0fe";
const SMK_ID: u64 = 2734913;
const AWS_SECRET: &str = "stage-secret-KEY/never+shown";
const AWS_TOKEN: &str = "stage-session-TOKEN-never-shown";

/// `data` of a real account's answer to `PUT` on an internal stage on AWS. The fields are
/// those Snowflake's connectors read: snowflake-connector-net
/// `Snowflake.Data/Core/RestResponse.cs` (`PutGetStageInfo`: locationType, location, path,
/// region, storageAccount, isClientSideEncrypted, creds, presignedUrl, endPoint;
/// `PutGetEncryptionMaterial`: queryStageMasterKey, queryId, smkId as a number), and
/// snowflake-connector-python `s3_storage_client.py` (creds AWS_KEY_ID, AWS_SECRET_KEY,
/// AWS_TOKEN; useS3RegionalUrl) and `file_transfer_agent.py` (command, src_locations,
/// encryptionMaterial as one object for an upload). The values are made up.
fn s3_answer(bucket: &str, prefix: &str, key: &str) -> Value {
    json!({
        "command": "UPLOAD",
        "src_locations": ["/hakobu/part_00001.parquet"],
        "autoCompress": false,
        "overwrite": true,
        "sourceCompression": "auto_detect",
        "parallel": 4,
        "threshold": 209715200,
        "stageInfo": {
            "locationType": "S3",
            "location": format!("{bucket}/{prefix}"),
            "path": prefix,
            "region": "us-west-2",
            "storageAccount": null,
            "isClientSideEncrypted": true,
            "creds": {
                "AWS_KEY_ID": "ASIAHAKOBUSTAGE01",
                "AWS_SECRET_KEY": AWS_SECRET,
                "AWS_TOKEN": AWS_TOKEN,
                "AWS_ID": "ASIAHAKOBUSTAGE01",
                "AWS_KEY": AWS_SECRET,
            },
            "presignedUrl": null,
            "endPoint": null,
            "useS3RegionalUrl": false,
        },
        "encryptionMaterial": {
            "queryStageMasterKey": key,
            "queryId": QUERY_ID,
            "smkId": SMK_ID,
        },
    })
}

/// The same answer for a GCS stage reached by a presigned URL (the connector's
/// `gcs_storage_client.py`: `presignedUrl`, `creds` without `GCS_ACCESS_TOKEN`).
fn gcs_answer(location: &str, url: &str, key: &str) -> Value {
    let mut answer = s3_answer("unused", "unused/", key);
    answer["stageInfo"] = json!({
        "locationType": "GCS",
        "location": location,
        "path": "",
        "region": "US-CENTRAL1",
        "storageAccount": null,
        "isClientSideEncrypted": true,
        "creds": {},
        "presignedUrl": url,
        "endPoint": null,
    });
    answer
}

/// Snowflake's own connector, through `engine/tests/snowflake_encryption.py`.
fn connector(key: &str, args: &[&str]) -> String {
    let tools = std::env::var("HAKOBU_TOOLS_DIR")
        .unwrap_or_else(|_| format!("{}/.cache/hakobu/tools", std::env::var("HOME").unwrap()));
    let python = format!("{tools}/fakesnow-venv/bin/python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snowflake_encryption.py");
    let out = Command::new(&python)
        .arg(script)
        .args(args)
        .env("SF_MASTER_KEY", key)
        .env("SF_QUERY_ID", QUERY_ID)
        .env("SF_SMK_ID", SMK_ID.to_string())
        .output()
        .unwrap_or_else(|e| panic!("{python} (scripts/fakesnow.sh makes its venv): {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn material(key: &str) -> EncryptionMaterial {
    EncryptionMaterial::from_answer(&json!({
        "queryStageMasterKey": key, "queryId": QUERY_ID, "smkId": SMK_ID,
    }))
    .unwrap()
    .unwrap()
}

fn sha256_b64(bytes: &[u8]) -> String {
    B64.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes))
}

fn random_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|_| rand::random::<u8>()).collect()
}

/// No secret of the answer in an error.
fn assert_no_secret(err: &str, key: &str) {
    for secret in [key, AWS_SECRET, AWS_TOKEN] {
        assert!(!err.contains(secret), "a secret in: {err}");
    }
}

/// The HTTP status moto gives an unsigned `HEAD` of the object: 404 when it was never
/// uploaded (403 when it exists).
fn object_status(endpoint: &str, bucket: &str, key: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-I"])
        .arg(format!("{endpoint}/{bucket}/{key}"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// Files Hakobu encrypts and uploads to an S3 stage location from a `PUT` answer are
/// decrypted by Snowflake's own connector from the object's metadata: the bytes match, and
/// the metadata is the connector's (`x-amz-key`, `x-amz-iv`, `x-amz-matdesc`, `sfc-digest`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_s3_upload_decrypts_with_snowflakes_connector() {
    let endpoint = endpoint();
    let bucket = bucket(&endpoint);
    let key = master_key();
    let data = s3_answer(&bucket, "stages/4f1e0c6a/", &key);
    let dir = crate::common::TempDir::new();
    // A full last block (a whole block of padding), a partial one, and an empty file.
    for (name, size) in [
        ("a.parquet", 4096),
        ("b.parquet", 100_003),
        ("c.parquet", 0),
    ] {
        let plain = random_bytes(size);
        stage::upload(
            &http(EgressPolicy::everything()),
            &data,
            name,
            plain.clone(),
            S3Endpoint(Some(&endpoint)),
        )
        .await
        .unwrap();
        let out = dir.path(name);
        let object = format!("stages/4f1e0c6a/{name}");
        let printed = connector(&key, &["decrypt-s3", &endpoint, &bucket, &object, &out]);
        assert_eq!(std::fs::read(&out).unwrap(), plain, "{name}");
        let printed: Value = serde_json::from_str(&printed).unwrap();
        let meta = &printed["metadata"];
        let matdesc: Value = serde_json::from_str(meta["x-amz-matdesc"].as_str().unwrap()).unwrap();
        assert_eq!(
            matdesc,
            json!({"queryId": QUERY_ID, "smkId": SMK_ID.to_string(), "keySize": "256"})
        );
        assert_eq!(meta["sfc-digest"], sha256_b64(&plain).as_str());
        assert_eq!(
            B64.decode(meta["x-amz-key"].as_str().unwrap())
                .unwrap()
                .len(),
            48
        );
        assert_eq!(printed["content_type"], "application/octet-stream");
        // What is stored is not the file.
        let raw = dir.path(&format!("{name}.stored"));
        connector(&key, &["get-s3", &endpoint, &bucket, &object, &raw]);
        let stored = std::fs::read(&raw).unwrap();
        assert_eq!(stored.len(), (size / 16 + 1) * 16);
        assert_ne!(stored.get(..16), plain.get(..16));
    }
}

/// The other way round: a file Snowflake's connector encrypted decrypts with Hakobu's
/// layout, and both write the same material description.
#[test]
fn a_file_snowflakes_connector_encrypted_decrypts_in_rust() {
    let key = master_key();
    let dir = crate::common::TempDir::new();
    for size in [0usize, 16, 70_001] {
        let plain = random_bytes(size);
        let (src, out) = (dir.path("plain"), dir.path("encrypted"));
        std::fs::write(&src, &plain).unwrap();
        let meta: Value = serde_json::from_str(&connector(&key, &["encrypt", &src, &out])).unwrap();
        let body = std::fs::read(&out).unwrap();
        let m = material(&key);
        let decrypted = encryption::decrypt(
            &m,
            meta["key"].as_str().unwrap(),
            meta["iv"].as_str().unwrap(),
            body,
        )
        .unwrap();
        assert_eq!(decrypted, plain, "{size}");
        assert_eq!(meta["matdesc"], encryption::matdesc(&m, 32).as_str());
    }
}

/// A GCS stage's presigned URL gets the encrypted file with the connector's headers
/// (`x-goog-meta-encryptiondata`, `x-goog-meta-matdesc`, `x-goog-meta-sfc-digest`); the
/// connector decrypts the stored bytes from them. moto stands in for the storage behind
/// the URL and a tap records the request's headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_encrypted_gcs_upload_carries_the_connectors_headers() {
    let endpoint = endpoint();
    let bucket = bucket(&endpoint);
    let tap = hakobu_testkit::TcpTap::start(endpoint.trim_start_matches("http://")).await;
    let key = master_key();
    let url = format!("http://{}/{bucket}/gcs/part.parquet", tap.address);
    let data = gcs_answer(&format!("{bucket}/gcs/"), &url, &key);
    let plain = random_bytes(50_000);
    stage::upload(
        &http(EgressPolicy::everything()),
        &data,
        "part.parquet",
        plain.clone(),
        S3Endpoint::default(),
    )
    .await
    .unwrap();
    let sent = tap.sent();
    let header = |name: &str| -> String {
        sent.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} header"))
            .trim_end()
            .to_owned()
    };
    let data: Value = serde_json::from_str(&header("x-goog-meta-encryptiondata")).unwrap();
    assert_eq!(data["EncryptionMode"], "FullBlob");
    assert_eq!(data["WrappedContentKey"]["KeyId"], "symmKey1");
    assert_eq!(
        data["EncryptionAgent"]["EncryptionAlgorithm"],
        "AES_CBC_256"
    );
    let matdesc = header("x-goog-meta-matdesc");
    assert_eq!(header("x-goog-meta-sfc-digest"), sha256_b64(&plain));
    let dir = crate::common::TempDir::new();
    let (stored, out) = (dir.path("stored"), dir.path("plain"));
    connector(
        &key,
        &["get-s3", &endpoint, &bucket, "gcs/part.parquet", &stored],
    );
    connector(
        &key,
        &[
            "decrypt",
            &stored,
            &out,
            data["WrappedContentKey"]["EncryptedKey"].as_str().unwrap(),
            data["ContentEncryptionIV"].as_str().unwrap(),
            &matdesc,
        ],
    );
    assert_eq!(std::fs::read(&out).unwrap(), plain);
}

/// A `PUT` answer comes from the server the tenant configured: an S3 or GCS location in
/// the service's own network is refused by the egress policy before any byte is sent, an
/// endpoint that is not a host name is refused as such, and no error shows a secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_locations_in_the_service_network_are_refused() {
    let endpoint = endpoint();
    let bucket = bucket(&endpoint);
    let key = master_key();
    let strict = || http(EgressPolicy::public(vec![], vec![]));
    let data = s3_answer(&bucket, "attack/", &key);
    let port = endpoint.rsplit(':').next().unwrap();

    // moto answers on these addresses; the policy must refuse them (the override stands
    // for wherever the URL would go).
    for target in [endpoint.clone(), format!("http://localhost:{port}")] {
        let err = stage::upload(
            &strict(),
            &data,
            "x.parquet",
            vec![1; 10],
            S3Endpoint(Some(&target)),
        )
        .await
        .map(|_| ())
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.contains("inside the service's private network"),
            "{target}: {err}"
        );
        assert_no_secret(&err, &key);
    }
    assert_eq!(object_status(&endpoint, &bucket, "attack/x.parquet"), "404");

    // The answer's own endpoint cannot name an address, a port or a user.
    for end_point in ["169.254.169.254", "127.0.0.1:5055", "x@127.0.0.1", "[::1]"] {
        let mut hostile = data.clone();
        hostile["stageInfo"]["endPoint"] = end_point.into();
        let err = stage::upload(
            &strict(),
            &hostile,
            "x.parquet",
            vec![1],
            S3Endpoint::default(),
        )
        .await
        .map(|_| ())
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(err.contains("stageInfo.endPoint"), "{end_point}: {err}");
        assert_no_secret(&err, &key);
    }

    // A presigned URL into the service's network.
    for url in [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/".to_owned(),
        format!("{endpoint}/{bucket}/attack/y.parquet"),
    ] {
        let hostile = gcs_answer(&format!("{bucket}/attack/"), &url, &key);
        let err = stage::upload(
            &strict(),
            &hostile,
            "y.parquet",
            vec![1],
            S3Endpoint::default(),
        )
        .await
        .map(|_| ())
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.contains("inside the service's private network"),
            "{url}: {err}"
        );
        assert_no_secret(&err, &key);
    }
    assert_eq!(object_status(&endpoint, &bucket, "attack/y.parquet"), "404");

    // Azure stages are refused by name.
    let mut azure = data.clone();
    azure["stageInfo"]["locationType"] = "AZURE".into();
    let err = stage::upload(
        &strict(),
        &azure,
        "z.parquet",
        vec![1],
        S3Endpoint::default(),
    )
    .await
    .map(|_| ())
    .unwrap_err()
    .to_string();
    assert!(err.contains("Azure is not implemented"), "{err}");
}
