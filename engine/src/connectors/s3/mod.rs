//! S3 and S3-compatible object stores (MinIO, moto, R2, ...) through `object_store`.
//!
//! Objects are staged in a local temporary file: the input downloads an object as a
//! stream and parses it with the file connector's parsers, the output formats into a
//! temporary file and uploads it (multipart) at commit. Memory stays flat for any object
//! size, and a failed run never leaves a partial object behind.

pub mod reader;
pub mod writer;

use anyhow::{Context, Result};
use hakobu_core::config::Secret;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use std::sync::Arc;

/// Where and how to reach a bucket.
pub struct S3Location<'a> {
    /// Bucket name.
    pub bucket: &'a str,
    /// Endpoint URL of an S3-compatible service (`None`: AWS).
    pub endpoint: Option<&'a str>,
    /// Region.
    pub region: Option<&'a str>,
    /// Static access key id.
    pub access_key_id: Option<&'a Secret>,
    /// Static secret key.
    pub secret_access_key: Option<&'a Secret>,
}

/// A client for the bucket. Without static keys, credentials come from the environment
/// (AWS_* variables, web identity, or the instance/task role).
pub fn store(l: &S3Location<'_>) -> Result<Arc<dyn ObjectStore>> {
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(l.bucket)
        .with_region(l.region.unwrap_or("us-east-1"));
    if let Some(e) = l.endpoint {
        // Self-hosted S3-compatible services are usually path-style and may be plain HTTP.
        b = b
            .with_endpoint(e)
            .with_allow_http(e.starts_with("http://"))
            .with_virtual_hosted_style_request(false);
    }
    if let (Some(k), Some(s)) = (l.access_key_id, l.secret_access_key) {
        b = b
            .with_access_key_id(k.expose())
            .with_secret_access_key(s.expose());
    }
    Ok(Arc::new(
        b.build().with_context(|| format!("bucket {}", l.bucket))?,
    ))
}

/// A unique local temporary path for staging one object.
pub(crate) fn temp_path(tag: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "hakobu-{}-{}-{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}
