//! BigQuery over its REST API (`out: {type: bigquery}`): the client, its authentication
//! and the egress policy at every connection; the load modes are in [`writer`].
//!
//! Both addresses a client reaches are the tenant's to set: the API endpoint (`endpoint:`)
//! and the service account key's `token_uri`. Each is reached through
//! [`crate::egress::http::HttpClient`] (every address checked by the egress policy when it
//! is resolved, redirects not followed) and checked once more up front, so a refused
//! endpoint is said before anything else fails. Every answer is read within a budget
//! ([`crate::limits::WAREHOUSE_ANSWER_MAX_BYTES`], [`crate::limits::TOKEN_ANSWER_MAX_BYTES`]).

pub mod discover;
pub mod statements;
pub mod writer;

use crate::egress::http::{HttpClient, ServerRefusal, Timeouts, read_bounded};
use crate::limits::{
    HTTP_CONNECT_TIMEOUT, TOKEN_ANSWER_MAX_BYTES, WAREHOUSE_ANSWER_MAX_BYTES,
    WAREHOUSE_REQUEST_TIMEOUT,
};
use anyhow::{Context, Result, anyhow, bail};
use hakobu_core::config::BigqueryOutput;
use hakobu_core::egress::EgressPolicy;
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// Google's API host, when the config names none.
pub const DEFAULT_ENDPOINT: &str = "https://bigquery.googleapis.com";

/// The OAuth scope the access token is asked for.
const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";

/// The parts of a URL the egress policy needs.
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

/// Splits `https://host:port/path` into its origin; `what` names the setting in errors.
fn origin(url: &str, what: &str) -> Result<Origin> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow!("{what} {url:?} is not an http:// or https:// URL"))?;
    if scheme != "http" && scheme != "https" {
        bail!("{what} {url:?} is not an http:// or https:// URL");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Credentials in a URL would be sent to the host and shown in errors: refused.
    if authority.contains('@') {
        bail!("{what} must not carry a user name or password");
    }
    let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
        let (h, after) = stripped
            .split_once(']')
            .ok_or_else(|| anyhow!("{what} {url:?} has an unclosed IPv6 address"))?;
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    let port = match port {
        Some(p) => p
            .parse()
            .with_context(|| format!("{what} {url:?} has an invalid port"))?,
        None if scheme == "https" => 443,
        None => 80,
    };
    if host.is_empty() {
        bail!("{what} {url:?} has no host");
    }
    Ok(Origin {
        scheme: scheme.to_owned(),
        host,
        port,
    })
}

/// An HTTP client for `url` under `policy`, whose host is checked now (resolved, every
/// address) so that a refused endpoint is said first; `what` names the setting.
async fn checked_client(policy: &EgressPolicy, url: &str, what: &str) -> Result<HttpClient> {
    let o = origin(url, what)?;
    let http = HttpClient::new(
        policy.clone(),
        Timeouts::new(HTTP_CONNECT_TIMEOUT, WAREHOUSE_REQUEST_TIMEOUT),
    );
    http.check_reachable(url)
        .await
        .with_context(|| format!("{what} {}://{}:{}", o.scheme, o.host, o.port))?;
    Ok(http)
}

/// BigQuery's refusal of a call as an error: its status and words.
fn refusal(status: reqwest::StatusCode, what: String, answer: &Value) -> anyhow::Error {
    ServerRefusal {
        status: Some(status.as_u16()),
        credentials: false,
        message: format!(
            "BigQuery answered {status} to {what}: {}",
            error_message(answer)
        ),
    }
    .into()
}

/// An answer as JSON (`null` when it is not JSON), read within `limit`.
async fn json_of(response: reqwest::Response, limit: usize) -> Result<Value> {
    let body = read_bounded(response, limit).await?;
    Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// The fields of a service account's JSON key that the token exchange uses.
#[derive(Deserialize)]
struct ServiceAccountKey {
    client_email: String,
    private_key: String,
    #[serde(default = "default_token_uri")]
    token_uri: String,
}

fn default_token_uri() -> String {
    "https://oauth2.googleapis.com/token".to_owned()
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// An access token for `c`: the configured one, or a service account's JWT (RS256, signed
/// with the key's private key) exchanged at the key's `token_uri`, reached under `policy`.
pub async fn access_token(c: &BigqueryOutput, policy: &EgressPolicy) -> Result<String> {
    if c.uses_access_token() {
        return Ok(c
            .access_token
            .as_ref()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default());
    }
    let raw = c
        .json_keyfile
        .as_ref()
        .ok_or_else(|| anyhow!("json_keyfile is required: the service account's JSON key"))?;
    // The key's own text never reaches an error: serde's message could quote it.
    let key: ServiceAccountKey = serde_json::from_str(raw.expose()).map_err(|_| {
        anyhow!(
            "json_keyfile is not a service account JSON key (client_email, private_key, token_uri)"
        )
    })?;
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        iss: &key.client_email,
        scope: SCOPE,
        aud: &key.token_uri,
        iat: now,
        exp: now + 3600,
    };
    let signing = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
        .map_err(|_| anyhow!("json_keyfile's private_key is not an RSA private key in PEM"))?;
    let assertion = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &signing,
    )
    .map_err(|e| anyhow!("cannot sign the token request: {e}"))?;
    let http = checked_client(policy, &key.token_uri, "the key's token_uri").await?;
    // The assertion is base64url and dots: nothing to escape in the form body.
    let body = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
    );
    const FAILED: &str = "the token exchange at the key's token_uri failed";
    let response = http
        .post(&key.token_uri)
        .context(FAILED)?
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| anyhow::Error::new(e.without_url()).context(FAILED))?;
    let status = response.status();
    let answer = json_of(response, TOKEN_ANSWER_MAX_BYTES)
        .await
        .context(FAILED)?;
    match answer.get("access_token").and_then(Value::as_str) {
        Some(token) if status.is_success() => Ok(token.to_owned()),
        _ => Err(ServerRefusal {
            status: Some(status.as_u16()),
            // OAuth's word for a key the endpoint does not accept.
            credentials: answer.get("error").and_then(Value::as_str) == Some("invalid_grant"),
            message: format!(
                "the token exchange at the key's token_uri answered {status}: {}",
                answer
                    .get("error_description")
                    .or_else(|| answer.get("error"))
                    .and_then(Value::as_str)
                    .unwrap_or("no access token")
            ),
        }
        .into()),
    }
}

/// A BigQuery API client for one project.
pub struct Client {
    http: HttpClient,
    base: String,
    token: String,
    /// The project the jobs run in.
    pub project: String,
    location: Option<String>,
}

/// One column of a table's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BqField {
    /// Column name.
    pub name: String,
    /// BigQuery type (`INT64`, `TIMESTAMP`, ...), legacy names made standard.
    pub type_: String,
}

/// How many times a failed poll of a running job is tried again (waiting 4, 8, 16, 32 s).
const JOB_POLL_RETRIES: u32 = 4;

impl Client {
    /// Authenticates and connects to the API endpoint of `c`, under this process's egress
    /// policy.
    pub async fn connect(c: &BigqueryOutput) -> Result<Self> {
        Self::connect_under(c, &crate::egress::policy()).await
    }

    /// Authenticates and connects to the API endpoint of `c`; every address it reaches is
    /// checked by `policy`.
    pub async fn connect_under(c: &BigqueryOutput, policy: &EgressPolicy) -> Result<Self> {
        let base = c
            .endpoint
            .as_deref()
            .unwrap_or(DEFAULT_ENDPOINT)
            .trim_end_matches('/')
            .to_owned();
        let http = checked_client(policy, &base, "endpoint").await?;
        let token = access_token(c, policy).await?;
        Ok(Client {
            http,
            base,
            token,
            project: c.project.clone(),
            location: c.location.clone(),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(reqwest::StatusCode, Value)> {
        let url = format!("{}{path}", self.base);
        let failed = || format!("BigQuery request {path} failed");
        let mut request = self
            .http
            .request(method, &url)
            .with_context(failed)?
            .bearer_auth(&self.token);
        if let Some(b) = body {
            request = request.json(b);
        }
        let response = request
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e.without_url()).context(failed()))?;
        let status = response.status();
        let value = json_of(response, WAREHOUSE_ANSWER_MAX_BYTES)
            .await
            .with_context(failed)?;
        Ok((status, value))
    }

    /// Calls the API and fails with BigQuery's own message on an error status.
    async fn ok(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let (status, value) = self.call(method, path, body).await?;
        if !status.is_success() {
            return Err(refusal(status, path.to_owned(), &value));
        }
        Ok(value)
    }

    fn table_path(&self, dataset: &str, table: &str) -> String {
        format!(
            "/bigquery/v2/projects/{}/datasets/{dataset}/tables/{table}",
            self.project
        )
    }

    /// The schema of a table, `None` when it does not exist.
    pub async fn table_schema(&self, dataset: &str, table: &str) -> Result<Option<Vec<BqField>>> {
        let path = self.table_path(dataset, table);
        let (status, value) = self.call(reqwest::Method::GET, &path, None).await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(refusal(status, path, &value));
        }
        let fields = value["schema"]["fields"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .map(|f| BqField {
                        name: f["name"].as_str().unwrap_or_default().to_owned(),
                        type_: standard_type(f["type"].as_str().unwrap_or("STRING")).to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Some(fields))
    }

    /// The rows a table holds, as its metadata counts them (no query, nothing billed).
    pub async fn table_row_count(&self, dataset: &str, table: &str) -> Result<u64> {
        let path = self.table_path(dataset, table);
        let value = self.ok(reqwest::Method::GET, &path, None).await?;
        Ok(value["numRows"]
            .as_str()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0))
    }

    /// Runs SQL (one statement or a script) as a query job whose unqualified table names
    /// are in `dataset`; answers the finished job.
    pub async fn query_in(&self, dataset: &str, sql: &str) -> Result<Value> {
        self.run_job(json!({"query": {
            "query": sql,
            "useLegacySql": false,
            "defaultDataset": {"projectId": self.project, "datasetId": dataset},
        }}))
        .await
    }

    /// `project.dataset.table` as SQL (the names were checked by the config: letters,
    /// digits, `_` and `-`, which need no escaping inside backquotes).
    pub fn table_sql(&self, dataset: &str, table: &str) -> String {
        format!("`{}.{dataset}.{table}`", self.project)
    }

    /// Creates a table; `extra` adds partitioning, clustering or expiry.
    pub async fn create_table(
        &self,
        dataset: &str,
        table: &str,
        fields: &[BqField],
        extra: Value,
    ) -> Result<()> {
        let mut body = json!({
            "tableReference": {"projectId": self.project, "datasetId": dataset, "tableId": table},
            "schema": {"fields": fields.iter().map(|f| json!({"name": f.name, "type": f.type_, "mode": "NULLABLE"})).collect::<Vec<_>>()},
        });
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        let path = format!(
            "/bigquery/v2/projects/{}/datasets/{dataset}/tables",
            self.project
        );
        self.ok(reqwest::Method::POST, &path, Some(&body)).await?;
        Ok(())
    }

    /// Deletes a table; a missing one is fine.
    pub async fn delete_table(&self, dataset: &str, table: &str) -> Result<()> {
        let path = self.table_path(dataset, table);
        let (status, value) = self.call(reqwest::Method::DELETE, &path, None).await?;
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(refusal(status, path, &value))
        }
    }

    /// Runs a job (`configuration` as the API takes it) and waits until it is done.
    pub async fn run_job(&self, configuration: Value) -> Result<Value> {
        let mut body = json!({"configuration": configuration});
        if let Some(l) = &self.location {
            body["jobReference"] = json!({"projectId": self.project, "location": l});
        }
        let path = format!("/bigquery/v2/projects/{}/jobs", self.project);
        let job = self.ok(reqwest::Method::POST, &path, Some(&body)).await?;
        self.wait(job).await
    }

    /// Runs one standard-SQL statement as a query job.
    pub async fn query(&self, sql: &str) -> Result<Value> {
        self.run_job(json!({"query": {"query": sql, "useLegacySql": false}}))
            .await
    }

    /// The rows of a query, each value as BigQuery's text (`None` for NULL); small
    /// results only (previews, checks, tests): one page.
    pub async fn rows(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let mut body = json!({"query": sql, "useLegacySql": false, "timeoutMs": 60000});
        if let Some(l) = &self.location {
            body["location"] = json!(l);
        }
        let path = format!("/bigquery/v2/projects/{}/queries", self.project);
        let answer = self.ok(reqwest::Method::POST, &path, Some(&body)).await?;
        if let Some(e) = answer["errors"].as_array().and_then(|e| e.first()) {
            bail!(
                "BigQuery query failed: {}",
                e["message"].as_str().unwrap_or("unknown error")
            );
        }
        if answer["jobComplete"].as_bool() != Some(true) {
            bail!("BigQuery query did not finish within a minute");
        }
        Ok(answer["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| {
                        r["f"]
                            .as_array()
                            .map(|cells| {
                                cells
                                    .iter()
                                    .map(|c| match &c["v"] {
                                        Value::Null => None,
                                        Value::String(s) => Some(s.clone()),
                                        other => Some(other.to_string()),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Polls a job until it is `DONE`; its error, if any, becomes ours.
    pub async fn wait(&self, mut job: Value) -> Result<Value> {
        let mut delay = Duration::from_millis(100);
        loop {
            if job["status"]["state"].as_str() == Some("DONE") {
                if let Some(e) = job["status"].get("errorResult") {
                    bail!(
                        "BigQuery job failed: {}",
                        job_error(e, &job["status"]["errors"])
                    );
                }
                return Ok(job);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
            let id = job["jobReference"]["jobId"]
                .as_str()
                .ok_or_else(|| anyhow!("BigQuery returned a job without an id"))?
                .to_owned();
            let mut path = format!("/bigquery/v2/projects/{}/jobs/{id}", self.project);
            if let Some(l) = job["jobReference"]["location"].as_str() {
                path.push_str(&format!("?location={l}"));
            }
            job = self.job_status(&path, &id).await?;
        }
    }

    /// A running job's state. A failed poll is tried again a few times: the job runs on
    /// in BigQuery whatever happens to the poll, and giving up on it early would report a
    /// change as not made.
    async fn job_status(&self, path: &str, id: &str) -> Result<Value> {
        let mut attempt = 0;
        loop {
            match self.ok(reqwest::Method::GET, path, None).await {
                Ok(job) => return Ok(job),
                Err(e) if attempt < JOB_POLL_RETRIES => {
                    attempt += 1;
                    tracing::warn!("asking BigQuery about job {id} failed, trying again: {e:#}");
                    tokio::time::sleep(Duration::from_secs(2 << attempt)).await;
                }
                Err(e) => {
                    return Err(e.context(format!(
                        "lost track of BigQuery job {id}: it may still finish (see its state in the BigQuery console)"
                    )));
                }
            }
        }
    }

    /// Starts a resumable upload of a load job's data; the session URL it answers must be
    /// on the API endpoint's own origin (anything else would be an unchecked address).
    pub async fn start_upload(&self, load: Value) -> Result<String> {
        let mut body = json!({"configuration": {"load": load}});
        if let Some(l) = &self.location {
            body["jobReference"] = json!({"projectId": self.project, "location": l});
        }
        let url = format!(
            "{}/upload/bigquery/v2/projects/{}/jobs?uploadType=resumable",
            self.base, self.project
        );
        const FAILED: &str = "starting the BigQuery upload failed";
        let response = self
            .http
            .post(&url)
            .context(FAILED)?
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e.without_url()).context(FAILED))?;
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if !status.is_success() {
            let value = json_of(response, WAREHOUSE_ANSWER_MAX_BYTES)
                .await
                .context(FAILED)?;
            return Err(refusal(status, "the upload".to_owned(), &value));
        }
        let location =
            location.ok_or_else(|| anyhow!("BigQuery's upload answer has no session URL"))?;
        let (ours, theirs) = (
            origin(&self.base, "endpoint")?,
            origin(&location, "upload session")?,
        );
        if (ours.scheme, ours.host, ours.port) != (theirs.scheme, theirs.host, theirs.port) {
            bail!("BigQuery's upload session is on another host than the endpoint; refused");
        }
        Ok(location)
    }

    /// Sends one chunk of an upload at `offset`; `total` is set on the last one, whose
    /// answer is the load job.
    pub async fn upload_chunk(
        &self,
        session: &str,
        chunk: Vec<u8>,
        offset: u64,
        total: Option<u64>,
    ) -> Result<Option<Value>> {
        let len = chunk.len() as u64;
        let range = match (len, total) {
            (0, Some(t)) => format!("bytes */{t}"),
            (_, Some(t)) => format!("bytes {offset}-{}/{t}", offset + len - 1),
            (_, None) => format!("bytes {offset}-{}/*", offset + len - 1),
        };
        const FAILED: &str = "uploading to BigQuery failed";
        let response = self
            .http
            .put(session)
            .context(FAILED)?
            .bearer_auth(&self.token)
            .header("content-range", range)
            .header("content-type", "application/octet-stream")
            .body(chunk)
            .send()
            .await
            .map_err(|e| anyhow::Error::new(e.without_url()).context(FAILED))?;
        let status = response.status();
        if status.as_u16() == 308 {
            return Ok(None);
        }
        let value = json_of(response, WAREHOUSE_ANSWER_MAX_BYTES)
            .await
            .context(FAILED)?;
        if !status.is_success() {
            return Err(refusal(status, "an upload chunk".to_owned(), &value));
        }
        Ok(total.map(|_| value))
    }
}

/// BigQuery's legacy type names (`INTEGER`, `FLOAT`, `BOOLEAN`) in standard SQL's words.
fn standard_type(t: &str) -> &str {
    match t {
        "INTEGER" => "INT64",
        "FLOAT" => "FLOAT64",
        "BOOLEAN" => "BOOL",
        other => other,
    }
}

fn error_message(v: &Value) -> String {
    v["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| "no error message".to_owned())
}

fn job_error(result: &Value, errors: &Value) -> String {
    let mut message = result["message"]
        .as_str()
        .unwrap_or("unknown error")
        .to_owned();
    // A load job's first error says which row and column was refused.
    if let Some(first) = errors.as_array().and_then(|e| e.first())
        && let Some(m) = first["message"].as_str()
        && m != message
    {
        message.push_str(&format!(" ({m})"));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_endpoint_or_token_uri_on_the_services_own_network_is_refused() {
        let strict = EgressPolicy::public(vec![], vec![]);
        for url in [
            "http://127.0.0.1:9050",
            "http://localhost:5432/token",
            "https://[::1]/",
            "http://169.254.169.254/computeMetadata/v1/",
        ] {
            let refused = checked_client(&strict, url, "endpoint").await;
            assert!(refused.is_err(), "{url} was let through");
        }
        let everything = EgressPolicy::everything();
        assert!(
            checked_client(&everything, "http://127.0.0.1:9050", "endpoint")
                .await
                .is_ok()
        );
    }

    #[test]
    fn origins_keep_their_port_and_refuse_credentials() {
        let o = origin("https://bigquery.googleapis.com/x", "e").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("bigquery.googleapis.com", 443));
        let o = origin("http://[::1]:9050", "e").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("::1", 9050));
        assert!(origin("https://u:p@evil.example/", "e").is_err());
        assert!(origin("file:///etc/passwd", "e").is_err());
    }
}
