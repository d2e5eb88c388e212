//! S3 and S3-compatible object stores (MinIO, moto, R2, ...) through `object_store`.
//!
//! Objects are staged in a local temporary file: the input downloads an object as a
//! stream and parses it with the file connector's parsers, the output formats into a
//! temporary file and uploads it (multipart) at commit. Memory stays flat for any object
//! size, and a failed run never leaves a partial object behind.

pub mod reader;
pub mod writer;

use anyhow::{Context, Result, bail};
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
    /// Where the credentials come from.
    pub credentials: S3Credentials<'a>,
    /// `endpoint` names the bucket itself (`https://<bucket>.s3.<region>.amazonaws.com`, how
    /// Snowflake's stages are addressed); otherwise the bucket is the endpoint's first path
    /// segment, as self-hosted services expect.
    pub virtual_hosted: bool,
}

/// The credentials of a bucket client.
pub enum S3Credentials<'a> {
    /// Keys given in the config: a long-term pair, or temporary credentials with their
    /// session token (an assumed role's, which the app assumed for this run).
    Keys {
        access_key_id: &'a Secret,
        secret_access_key: &'a Secret,
        session_token: Option<&'a Secret>,
    },
    /// The process's own environment (AWS_* variables, web identity, the task or instance
    /// role). Only when a config asks for it by name (`auth_method: env | instance |
    /// default`): never as a fallback for missing keys, so a tenant's connection cannot
    /// reach what the service's own role reaches by leaving its keys out.
    Ambient,
}

impl<'a> S3Credentials<'a> {
    /// The credentials an `s3` section asks for; an error names the field to fix.
    pub fn from_config(
        auth_method: Option<&str>,
        access_key_id: Option<&'a Secret>,
        secret_access_key: Option<&'a Secret>,
        session_token: Option<&'a Secret>,
        role_arn: Option<&str>,
    ) -> Result<S3Credentials<'a>> {
        match auth_method.unwrap_or("basic") {
            "env" | "instance" | "default" => return Ok(S3Credentials::Ambient),
            "basic" | "session" => {}
            other => bail!(
                "auth_method: {other:?} is not supported; expected basic (an access key pair), session (temporary credentials with session_token), or env, instance or default (the runner's own environment or role)"
            ),
        }
        match (access_key_id, secret_access_key) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(S3Credentials::Keys {
                access_key_id,
                secret_access_key,
                session_token,
            }),
            _ if role_arn.is_some() => bail!(
                "role_arn: the runner does not assume roles itself; the Hakobu app assumes the role for each run it starts and fills in access_key_id, secret_access_key and session_token (give those three to run this config by hand)"
            ),
            _ => bail!(
                "access_key_id and secret_access_key are required (auth_method: basic); to use the runner's own role instead, set auth_method: instance"
            ),
        }
    }
}

/// A client for the bucket, retrying as object_store does by default (a run rides out
/// throttling and passing errors).
pub fn store(l: &S3Location<'_>) -> Result<Arc<dyn ObjectStore>> {
    store_with_retry(l, object_store::RetryConfig::default())
}

/// [`store`] with its own retries: the app's probes answer a person who waits, within a
/// few seconds, so they retry little (a refused address would otherwise be retried with
/// backoff past the probe's own time budget, and read as "no answer").
pub fn store_with_retry(
    l: &S3Location<'_>,
    retry: object_store::RetryConfig,
) -> Result<Arc<dyn ObjectStore>> {
    store_under(l, retry, crate::egress::policy())
}

/// [`store_with_retry`] under `policy` instead of this process's: every address the
/// client reaches is checked by it (a Snowflake session's stage uploads use the session's).
pub fn store_under(
    l: &S3Location<'_>,
    retry: object_store::RetryConfig,
    policy: hakobu_core::egress::EgressPolicy,
) -> Result<Arc<dyn ObjectStore>> {
    // Keys given: nothing is read from the environment, so a session token or endpoint of
    // the service's own identity never mixes into a tenant's credentials.
    let mut b = match &l.credentials {
        S3Credentials::Ambient => AmazonS3Builder::from_env(),
        S3Credentials::Keys {
            access_key_id,
            secret_access_key,
            session_token,
        } => {
            let b = AmazonS3Builder::new()
                .with_access_key_id(access_key_id.expose())
                .with_secret_access_key(secret_access_key.expose());
            match session_token {
                Some(token) => b.with_token(token.expose()),
                None => b,
            }
        }
    }
    .with_bucket_name(l.bucket)
    .with_region(l.region.unwrap_or("us-east-1"));
    // The client is the egress module's (every name it looks up for this bucket goes
    // through the egress policy, redirects re-checked, no proxy from the environment); an
    // endpoint written as an address is checked here, as no lookup will see it.
    let port = endpoint_port(l.endpoint);
    let policy = Arc::new(policy);
    if let Some(host) = l.endpoint.and_then(endpoint_host) {
        crate::egress::check_literal_host(&policy, &host, port)
            .with_context(|| format!("bucket {}", l.bucket))?;
    }
    b = b
        .with_retry(retry)
        .with_http_connector(crate::egress::http::ObjectStoreConnector::new(policy, port));
    if let Some(e) = l.endpoint {
        // Self-hosted S3-compatible services are usually path-style and may be plain HTTP.
        b = b
            .with_endpoint(e)
            .with_allow_http(e.starts_with("http://"))
            .with_virtual_hosted_style_request(l.virtual_hosted);
    }
    Ok(Arc::new(
        b.build().with_context(|| format!("bucket {}", l.bucket))?,
    ))
}

/// The host of an endpoint URL such as `https://minio.example:9000/`.
fn endpoint_host(endpoint: &str) -> Option<String> {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let host = if authority.starts_with('[') {
        authority.split_inclusive(']').next()?
    } else {
        authority.split(':').next()?
    };
    Some(host.to_owned()).filter(|h| !h.is_empty())
}

/// The port an endpoint URL connects to (AWS itself: 443).
fn endpoint_port(endpoint: Option<&str>) -> u16 {
    let Some(endpoint) = endpoint else {
        return 443;
    };
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let after_host = authority.rsplit_once(']').map_or(authority, |(_, p)| p);
    after_host
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(if endpoint.starts_with("http://") {
            80
        } else {
            443
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_hosts_and_ports() {
        assert_eq!(
            endpoint_host("http://127.0.0.1:5055").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            endpoint_host("https://[::1]:9000/x").as_deref(),
            Some("[::1]")
        );
        assert_eq!(
            endpoint_host("https://u:p@minio.example/").as_deref(),
            Some("minio.example")
        );
        assert_eq!(endpoint_port(Some("http://127.0.0.1:5055")), 5055);
        assert_eq!(endpoint_port(Some("http://minio")), 80);
        assert_eq!(endpoint_port(Some("https://[::1]:9000/x")), 9000);
        assert_eq!(endpoint_port(Some("https://[::1]/x")), 443);
        assert_eq!(endpoint_port(None), 443);
    }
}
