//! Storage checks: that a bucket answers to its credentials, that a directory can be read.
//! The app's connection test for the storage kinds, run in the probe worker like the
//! database checks.

use super::error::{CheckError, ErrorKind};
use crate::connectors::s3::{S3Credentials, S3Location, store_with_retry};
use hakobu_core::config::Secret;
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// A bucket and how to sign in to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketAccess {
    /// Bucket name.
    pub bucket: String,
    /// Endpoint URL of an S3-compatible service (`None`: AWS).
    pub endpoint: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// How to sign in.
    pub credentials: BucketCredentials,
}

/// The credentials of a bucket test, owned so they cross to the probe worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketCredentials {
    /// A key pair, with its session token when it is an assumed role's.
    Keys {
        access_key_id: Secret,
        secret_access_key: Secret,
        session_token: Option<Secret>,
    },
    /// The process's own environment (only where the operator allows the ambient role).
    Ambient,
}

/// Lists the top of the bucket: proves the endpoint, the credentials and the bucket.
pub async fn test_bucket(access: &BucketAccess, timeout: Duration) -> Result<(), CheckError> {
    let store = open_store(access)?;
    match tokio::time::timeout(timeout, store.list_with_delimiter(None)).await {
        Ok(Ok(_)) => Ok(()),
        Err(_) => Err(failed(
            ErrorKind::Timeout,
            format!("no answer within {timeout:?}"),
        )),
        Ok(Err(e)) => Err(store_error(e)),
    }
}

fn failed(kind: ErrorKind, message: String) -> CheckError {
    CheckError {
        kind,
        message,
        ssh_host_key: None,
    }
}

/// A client for the bucket, its endpoint checked against the egress policy.
pub(super) fn open_store(access: &BucketAccess) -> Result<Arc<dyn ObjectStore>, CheckError> {
    let location = S3Location {
        bucket: &access.bucket,
        virtual_hosted: false,
        endpoint: access.endpoint.as_deref(),
        region: access.region.as_deref(),
        credentials: match &access.credentials {
            BucketCredentials::Keys {
                access_key_id,
                secret_access_key,
                session_token,
            } => S3Credentials::Keys {
                access_key_id,
                secret_access_key,
                session_token: session_token.as_ref(),
            },
            BucketCredentials::Ambient => S3Credentials::Ambient,
        },
    };
    let retry = object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: std::time::Duration::from_millis(100),
            max_backoff: std::time::Duration::from_millis(500),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: std::time::Duration::from_secs(3),
    };
    store_with_retry(&location, retry).map_err(|e| {
        let kind = if e
            .chain()
            .any(|c| c.downcast_ref::<crate::egress::EgressError>().is_some())
        {
            ErrorKind::NotAllowed
        } else {
            ErrorKind::Other
        };
        failed(kind, format!("{e:#}"))
    })
}

/// A bucket's error in the kinds the app explains.
pub(super) fn store_error(e: object_store::Error) -> CheckError {
    let mut text = format!("{e}");
    // A refusal by the egress policy sits deep in the client's error chain (name
    // resolution under the HTTP request): every cause is part of the words.
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let said = c.to_string();
        if !text.contains(&said) {
            text = format!("{text}: {said}");
        }
        cause = c.source();
    }
    let kind = if text.contains("NoSuchBucket") || matches!(e, object_store::Error::NotFound { .. })
    {
        ErrorKind::BucketMissing
    } else if [
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        // Not a bare "403": the text also carries retry times such as "1.403s".
        "Forbidden",
    ]
    .iter()
    .any(|m| text.contains(m))
    {
        ErrorKind::WrongPassword
    } else if text.contains("service's private network")
        || text.contains("service's own database")
        || text.contains("is not a host name")
    {
        ErrorKind::NotAllowed
    } else if text.contains("error sending request") || text.contains("connect") {
        ErrorKind::HostUnreachable
    } else {
        ErrorKind::Other
    };
    failed(kind, text)
}

/// Opens the directory for listing.
pub async fn test_directory(directory: &str) -> Result<(), CheckError> {
    tokio::fs::read_dir(directory)
        .await
        .map(|_| ())
        .map_err(|e| CheckError {
            kind: ErrorKind::DirectoryMissing,
            ssh_host_key: None,
            message: e.to_string(),
        })
}
