//! A file sent where a `PUT` statement's answer says, as Snowflake's connectors send it.
//!
//! The answer's `data.stageInfo` names the stage's cloud storage (`locationType` `S3`,
//! `GCS` or `AZURE`, `location` = `bucket/path/`, `region`, `endPoint`, temporary
//! credentials in `creds`, or a `presignedUrl`), and `data.encryptionMaterial` the master
//! key the file must be encrypted with ([`super::encryption`]); a stage without client-side
//! encryption (the emulator's) has no material and gets the file as it is.
//!
//! The answer comes from the server the tenant configured, so nothing in it is trusted:
//! the bucket, region and endpoint must be plain names (no address, port, user or path can
//! be slipped into the upload URL), and every URL, presigned or built, goes through the
//! session's egress policy (S3 through `object_store` with the egress connector, GCS
//! through [`HttpClient`]). The credentials and the master key are [`Secret`]s and the
//! URLs stay out of errors (a presigned URL carries its signature).

use super::encryption::{self, EncryptionMaterial};
use crate::connectors::s3::{S3Credentials, S3Location, store_under};
use crate::egress::http::HttpClient;
use anyhow::{Context, Result, anyhow, bail};
use hakobu_core::config::Secret;
use object_store::{Attribute, Attributes, ObjectStore, PutOptions, PutPayload};
use serde_json::Value;

/// Where S3 uploads go instead of the bucket the answer names: only the engine's tests
/// pass one (moto cannot be addressed as `<bucket>.s3.<region>.amazonaws.com`); a run's
/// uploads ([`super::Session::upload`]) always go where the answer says. The override is
/// checked by the egress policy like any other address.
#[derive(Debug, Clone, Copy, Default)]
pub struct S3Endpoint<'a>(pub Option<&'a str>);

/// Uploads `body` as the file `name` where the `PUT` answer's `data` says, encrypted when
/// the answer carries encryption material.
pub async fn upload(
    http: &HttpClient,
    data: &Value,
    name: &str,
    body: Vec<u8>,
    s3_endpoint: S3Endpoint<'_>,
) -> Result<()> {
    let info = &data["stageInfo"];
    let kind = info["locationType"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if kind == "AZURE" {
        bail!(
            "this Snowflake account's stages are on Azure (stageInfo.locationType AZURE); Hakobu uploads to S3 and GCS stages only, Azure is not implemented yet"
        );
    }
    let material = EncryptionMaterial::from_answer(&data["encryptionMaterial"])?;
    let file = File::new(body, material.as_ref())?;
    match kind.as_str() {
        "S3" => upload_s3(http, info, name, file, s3_endpoint).await,
        "GCS" => upload_gcs(http, info, name, file).await,
        "" => bail!("Snowflake's PUT answer names no stage location (stageInfo.locationType)"),
        other => bail!(
            "Snowflake's PUT answer names a stage location of type {other:?}; Hakobu uploads to S3 and GCS stages"
        ),
    }
}

/// A file ready to send: its bytes (encrypted when asked) and the metadata that goes with
/// them.
struct File {
    body: Vec<u8>,
    /// `sfc-digest`: SHA-256 of the file before encryption.
    digest: String,
    encrypted: Option<encryption::Encrypted>,
}

impl File {
    fn new(body: Vec<u8>, material: Option<&EncryptionMaterial>) -> Result<File> {
        let digest = encryption::digest(&body);
        Ok(match material {
            None => File {
                body,
                digest,
                encrypted: None,
            },
            Some(m) => {
                let mut e = encryption::encrypt(m, body)?;
                File {
                    body: std::mem::take(&mut e.body),
                    digest,
                    encrypted: Some(e),
                }
            }
        })
    }
}

/// `location` (`bucket/path`) as the bucket and the key prefix (`path/`, or empty), as the
/// connectors split it.
fn split_location(info: &Value) -> Result<(String, String)> {
    let location = info["location"]
        .as_str()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| anyhow!("Snowflake's PUT answer has no stageInfo.location"))?;
    let (bucket, path) = location.split_once('/').unwrap_or((location, ""));
    let valid_bucket = !bucket.is_empty()
        && bucket.len() <= 255
        && bucket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && !bucket.starts_with(['.', '-'])
        && bucket.parse::<std::net::IpAddr>().is_err();
    if !valid_bucket {
        bail!(
            "Snowflake's PUT answer names a bucket that is not a bucket name (stageInfo.location)"
        );
    }
    let mut path = path.to_owned();
    if !path.is_empty() && !path.ends_with('/') {
        path.push('/');
    }
    Ok((bucket.to_owned(), path))
}

/// A host name from the answer (`endPoint`): letters, digits, dots and hyphens, and not an
/// address, so it cannot carry a user, a port or a path into the URL it is put in.
fn host_name(v: &Value, field: &str) -> Result<Option<String>> {
    let Some(host) = v
        .as_str()
        .map(str::trim)
        .filter(|h| !h.is_empty() && *h != "null")
    else {
        return Ok(None);
    };
    let host = host.strip_prefix("https://").unwrap_or(host);
    let host = host.strip_suffix('/').unwrap_or(host);
    let valid = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
        && host.contains(|c: char| c.is_ascii_alphabetic())
        && !host.starts_with(['.', '-'])
        && host.parse::<std::net::IpAddr>().is_err();
    if !valid {
        bail!(
            "Snowflake's PUT answer names an endpoint that is not a host name (stageInfo.{field})"
        );
    }
    Ok(Some(host.to_ascii_lowercase()))
}

/// The S3 endpoint of a stage's bucket, virtual-hosted as the connectors address it: the
/// answer's `endPoint` (FIPS, private link), the China partition's, or the region's.
fn s3_bucket_endpoint(info: &Value, bucket: &str, region: &str) -> Result<String> {
    if let Some(end_point) = host_name(&info["endPoint"], "endPoint")? {
        return Ok(format!("https://{bucket}.{end_point}"));
    }
    Ok(if region.starts_with("cn-") {
        format!("https://{bucket}.s3.{region}.amazonaws.com.cn")
    } else {
        format!("https://{bucket}.s3.{region}.amazonaws.com")
    })
}

/// A credential of `stageInfo.creds`, kept as a secret.
fn credential(info: &Value, key: &str) -> Option<Secret> {
    info["creds"][key]
        .as_str()
        .filter(|v| !v.is_empty())
        .map(|v| Secret(v.to_owned()))
}

async fn upload_s3(
    http: &HttpClient,
    info: &Value,
    name: &str,
    file: File,
    s3_endpoint: S3Endpoint<'_>,
) -> Result<()> {
    let (bucket, prefix) = split_location(info)?;
    let region = info["region"]
        .as_str()
        .filter(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        .ok_or_else(|| anyhow!("Snowflake's PUT answer has no S3 region (stageInfo.region)"))?;
    let key_id = credential(info, "AWS_KEY_ID");
    let secret = credential(info, "AWS_SECRET_KEY");
    let token = credential(info, "AWS_TOKEN");
    let (Some(key_id), Some(secret)) = (key_id, secret) else {
        bail!(
            "Snowflake's PUT answer has no temporary S3 credentials (stageInfo.creds.AWS_KEY_ID and AWS_SECRET_KEY)"
        );
    };
    let endpoint = match s3_endpoint.0 {
        Some(e) => e.to_owned(),
        None => s3_bucket_endpoint(info, &bucket, region)?,
    };
    let location = S3Location {
        bucket: &bucket,
        endpoint: Some(&endpoint),
        region: Some(region),
        credentials: S3Credentials::Keys {
            access_key_id: &key_id,
            secret_access_key: &secret,
            session_token: token.as_ref(),
        },
        virtual_hosted: s3_endpoint.0.is_none(),
    };
    // A few quick retries: the writer's run fails and is retried as a whole beyond that.
    let retry = object_store::RetryConfig {
        max_retries: 4,
        ..Default::default()
    };
    let failed = || format!("uploading {name} to the stage's S3 bucket failed");
    let store = store_under(&location, retry, http.policy().clone()).with_context(failed)?;
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::ContentType, "application/octet-stream".into());
    attributes.insert(Attribute::Metadata("sfc-digest".into()), file.digest.into());
    if let Some(e) = file.encrypted {
        attributes.insert(Attribute::Metadata("x-amz-key".into()), e.key.into());
        attributes.insert(Attribute::Metadata("x-amz-iv".into()), e.iv.into());
        attributes.insert(
            Attribute::Metadata("x-amz-matdesc".into()),
            e.matdesc.into(),
        );
    }
    let key = object_store::path::Path::from(format!("{prefix}{name}"));
    store
        .put_opts(
            &key,
            PutPayload::from(file.body),
            PutOptions {
                attributes,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| {
            // An S3 refusal's text may quote the signed request, session token included:
            // the stage's temporary credentials are cut out before it goes anywhere.
            let mut said = format!("{:#}", anyhow::Error::new(e));
            for secret in [Some(&key_id), Some(&secret), token.as_ref()]
                .into_iter()
                .flatten()
                .map(|s| s.expose())
                .filter(|s| !s.is_empty())
            {
                said = said.replace(secret, "***");
            }
            anyhow!("{}: {said}", failed())
        })?;
    Ok(())
}

/// Percent-encodes an object name for a URL path as Python's `urllib.parse.quote` does
/// (`/` kept), which the connector uses to build GCS URLs.
fn quote(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The URL of a GCS stage file reached with an access token (no presigned URL), as the
/// connector's `SnowflakeGCSRestClient.generate_file_url` builds it.
fn gcs_file_url(info: &Value, name: &str) -> Result<String> {
    let (bucket, prefix) = split_location(info)?;
    let object = quote(&format!("{prefix}{name}"));
    let region = info["region"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if let Some(host) = host_name(&info["endPoint"], "endPoint")? {
        return Ok(format!("https://{host}/{bucket}/{object}"));
    }
    if info["useVirtualUrl"] == true {
        return Ok(format!("https://{bucket}.storage.googleapis.com/{object}"));
    }
    if info["useRegionalUrl"] == true || region == "me-central2" {
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            bail!("Snowflake's PUT answer has no GCS region (stageInfo.region)");
        }
        return Ok(format!(
            "https://storage.{region}.rep.googleapis.com/{bucket}/{object}"
        ));
    }
    Ok(format!("https://storage.googleapis.com/{bucket}/{object}"))
}

async fn upload_gcs(http: &HttpClient, info: &Value, name: &str, file: File) -> Result<()> {
    let presigned = info["presignedUrl"].as_str().filter(|u| !u.is_empty());
    let token = credential(info, "GCS_ACCESS_TOKEN");
    let (url, token) = match (presigned, token) {
        (Some(url), _) => (url.to_owned(), None),
        (None, Some(token)) => (gcs_file_url(info, name)?, Some(token)),
        (None, None) => bail!(
            "Snowflake's PUT answer for a GCS stage has neither a presigned URL (stageInfo.presignedUrl) nor an access token (stageInfo.creds.GCS_ACCESS_TOKEN)"
        ),
    };
    let failed = || format!("uploading {name} to the stage failed");
    let mut request = http
        .put(&url)
        .context("Snowflake stage upload")?
        .header("Content-Encoding", "")
        .header("x-goog-meta-sfc-digest", &file.digest);
    if let Some(e) = &file.encrypted {
        request = request
            .header(
                "x-goog-meta-encryptiondata",
                encryption::gcs_encryption_data(e),
            )
            .header("x-goog-meta-matdesc", &e.matdesc);
    }
    if let Some(token) = &token {
        request = request.bearer_auth(token.expose());
    }
    let response = request
        .body(file.body)
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e.without_url()).context(failed()))?;
    if !response.status().is_success() {
        bail!("{}: HTTP {}", failed(), response.status());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn locations_split_as_the_connectors_split_them() {
        let info = json!({"location": "sfc-stage-bucket/tmp/abc"});
        assert_eq!(
            split_location(&info).unwrap(),
            ("sfc-stage-bucket".to_owned(), "tmp/abc/".to_owned())
        );
        let info = json!({"location": "sfc-stage-bucket"});
        assert_eq!(split_location(&info).unwrap().1, "");
        for bad in [
            "",
            "/x/",
            "169.254.169.254/x/",
            "user@host/x",
            "b:80/x",
            "-b/x",
        ] {
            assert!(
                split_location(&json!({ "location": bad })).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn s3_endpoints() {
        let info = json!({"region": "us-west-2", "endPoint": null});
        assert_eq!(
            s3_bucket_endpoint(&info, "b", "us-west-2").unwrap(),
            "https://b.s3.us-west-2.amazonaws.com"
        );
        assert_eq!(
            s3_bucket_endpoint(&json!({}), "b", "cn-north-1").unwrap(),
            "https://b.s3.cn-north-1.amazonaws.com.cn"
        );
        let fips = json!({"endPoint": "s3-fips.us-gov-west-1.amazonaws.com"});
        assert_eq!(
            s3_bucket_endpoint(&fips, "b", "us-gov-west-1").unwrap(),
            "https://b.s3-fips.us-gov-west-1.amazonaws.com"
        );
        // Whatever a hostile server answers, the URL's host stays a name under the bucket.
        for bad in [
            "169.254.169.254",
            "x@127.0.0.1",
            "127.0.0.1:5055",
            "s3.example/../x",
            "[::1]",
            "a b",
        ] {
            let err = s3_bucket_endpoint(&json!({ "endPoint": bad }), "b", "us-east-1")
                .unwrap_err()
                .to_string();
            assert!(err.contains("stageInfo.endPoint"), "{bad}: {err}");
        }
    }

    #[test]
    fn gcs_urls() {
        let info = json!({"location": "gcs-bucket/stages/x y/", "region": "US-CENTRAL1"});
        assert_eq!(
            gcs_file_url(&info, "part_1.parquet").unwrap(),
            "https://storage.googleapis.com/gcs-bucket/stages/x%20y/part_1.parquet"
        );
        let virt = json!({"location": "gcs-bucket/p/", "useVirtualUrl": true});
        assert_eq!(
            gcs_file_url(&virt, "f").unwrap(),
            "https://gcs-bucket.storage.googleapis.com/p/f"
        );
        let regional = json!({"location": "gcs-bucket/p/", "region": "me-central2"});
        assert_eq!(
            gcs_file_url(&regional, "f").unwrap(),
            "https://storage.me-central2.rep.googleapis.com/gcs-bucket/p/f"
        );
        let end_point =
            json!({"location": "gcs-bucket/p", "endPoint": "https://storage.example.com/"});
        assert_eq!(
            gcs_file_url(&end_point, "f").unwrap(),
            "https://storage.example.com/gcs-bucket/p/f"
        );
    }

    #[tokio::test]
    async fn azure_is_refused_by_name() {
        let http = HttpClient::new(
            hakobu_core::egress::EgressPolicy::public(vec![], vec![]),
            crate::egress::http::Timeouts::new(
                std::time::Duration::from_secs(1),
                std::time::Duration::from_secs(1),
            ),
        );
        let data = json!({"stageInfo": {"locationType": "AZURE", "location": "container/p/"}});
        let err = upload(&http, &data, "f", vec![1], S3Endpoint::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("Azure is not implemented"), "{err}");
    }
}
