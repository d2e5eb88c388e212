//! Snowflake through its REST protocol (the one Snowflake's own connectors speak): a
//! session from `/session/v1/login-request` (password, or key pair by an RS256 JWT, see
//! [`auth`]), statements through `/queries/v1/query-request`, files uploaded to a stage by
//! the location a `PUT` statement answers with ([`stage`]: S3 with the answer's temporary
//! credentials, GCS by a presigned URL or an access token), encrypted client-side with the
//! answer's master key as Snowflake's own connectors do ([`encryption`]). Results come
//! back as JSON rows or as an Arrow IPC stream; both are read into text cells ([`Rows`]).
//!
//! Every request goes through the egress policy with [`crate::egress::http::HttpClient`]
//! (host names checked when resolved, address literals before the request, the upload
//! URLs the server hands out included; redirects not followed), and every answer is read
//! within [`crate::limits::WAREHOUSE_ANSWER_MAX_BYTES`].
//!
//! What is not implemented (and refused with a message, never sent wrongly): uploads to
//! Azure stage locations; result sets larger than the first chunk. `docs/data-plane.md`
//! says what the local emulator (fakesnow) lacks: its `PUT` answers an unencrypted
//! presigned URL, so the S3 and encrypted paths are tested against moto with answers
//! shaped like a real account's (`engine/tests/engine/snowflake_stage.rs`).

pub mod auth;
pub mod discover;
pub mod encryption;
pub mod stage;
pub mod statements;
pub mod writer;

use crate::egress::http::{HttpClient, ServerRefusal, Timeouts, read_bounded};
use crate::limits::{HTTP_CONNECT_TIMEOUT, WAREHOUSE_ANSWER_MAX_BYTES, WAREHOUSE_REQUEST_TIMEOUT};
use anyhow::{Context, Result, anyhow, bail};
use arrow_array::{Array, ArrayRef, RecordBatch, cast::AsArray, types as at};
use arrow_schema::DataType;
use base64::Engine;
use hakobu_core::config::SnowflakeOutput;
use hakobu_core::egress::EgressPolicy;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where and how to sign in: the fields of a Snowflake connection.
#[derive(Clone, Copy)]
pub struct Login<'a> {
    /// The account identifier (locator or `org-account`, maybe with a region).
    pub account: &'a str,
    /// `https://<account>.snowflakecomputing.com` or the configured endpoint.
    pub base_url: &'a str,
    pub user: &'a str,
    pub password: Option<&'a str>,
    /// PEM text of the RSA private key (key-pair sign-in).
    pub private_key: Option<&'a str>,
    pub warehouse: Option<&'a str>,
    pub role: Option<&'a str>,
    pub database: Option<&'a str>,
    pub schema: Option<&'a str>,
}

impl<'a> Login<'a> {
    /// The sign-in of an `out: {type: snowflake}` section; `account` and `base_url` are
    /// computed by the caller (`SnowflakeOutput::account_name`, `base_url`).
    pub fn of(c: &'a SnowflakeOutput, account: &'a str, base_url: &'a str) -> Self {
        Login {
            account,
            base_url,
            user: &c.user,
            password: c.password.as_ref().map(|p| p.expose()),
            private_key: c.private_key.as_ref().map(|p| p.expose()),
            warehouse: c.warehouse.as_deref(),
            role: c.role.as_deref(),
            database: Some(c.database.as_str()),
            schema: Some(c.schema_name()),
        }
    }
}

/// A statement's result: column names and each row's cells as text (`None`: NULL).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    /// Snowflake's type of each column (`fixed`, `text`, `timestamp_tz`, ...).
    pub types: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// A signed-in Snowflake session.
pub struct Session {
    http: HttpClient,
    base: String,
    token: String,
    sequence: AtomicU64,
}

/// Snowflake's codes for a refused sign-in: a wrong user name or password, a key pair's
/// token that does not verify.
const SIGN_IN_REFUSED: [&str; 2] = ["390100", "390144"];

/// The answer of a request as JSON, read within the warehouse budget. A failure keeps
/// reqwest's error in the chain (its kind classifies a connection test) and leaves the
/// URL out (an upload URL carries a signature).
async fn json_answer(
    response: Result<reqwest::Response, reqwest::Error>,
    failed: &str,
    garbled: &str,
) -> Result<serde_json::Value> {
    let response =
        response.map_err(|e| anyhow::Error::new(e.without_url()).context(failed.to_owned()))?;
    let body = read_bounded(response, WAREHOUSE_ANSWER_MAX_BYTES)
        .await
        .with_context(|| failed.to_owned())?;
    serde_json::from_slice(&body).map_err(|e| anyhow!("{garbled}: {e}"))
}

/// The `success: false` answer of Snowflake as an error with its code and message.
fn answer_error(v: &serde_json::Value) -> anyhow::Error {
    let code = v["code"].as_str().unwrap_or_default();
    let message = v["message"].as_str().unwrap_or("no message");
    ServerRefusal {
        status: None,
        credentials: SIGN_IN_REFUSED.contains(&code),
        message: format!("Snowflake error {code}: {message}"),
    }
    .into()
}

/// The words of a failed request.
const FAILED: &str = "Snowflake request failed";
/// The words of an answer that is not Snowflake's JSON.
const GARBLED: &str = "Snowflake answered with something else than its protocol";

impl Session {
    /// Signs in, under this process's egress policy.
    pub async fn connect(l: &Login<'_>) -> Result<Session> {
        Self::connect_under(l, crate::egress::policy()).await
    }

    /// Signs in under `policy`: every address this session reaches is checked by it.
    pub async fn connect_under(l: &Login<'_>, policy: EgressPolicy) -> Result<Session> {
        let base = l.base_url.trim_end_matches('/').to_owned();
        let http = HttpClient::new(
            policy,
            Timeouts::new(HTTP_CONNECT_TIMEOUT, WAREHOUSE_REQUEST_TIMEOUT),
        );
        crate::egress::http::check_url(http.policy(), &base).context("Snowflake endpoint")?;
        let account = l.account.split('.').next().unwrap_or_default();
        let mut data = serde_json::json!({
            "CLIENT_APP_ID": "Hakobu",
            "CLIENT_APP_VERSION": env!("CARGO_PKG_VERSION"),
            "ACCOUNT_NAME": account.to_uppercase(),
            "LOGIN_NAME": l.user,
            "SESSION_PARAMETERS": { "AUTOCOMMIT": true },
        });
        match (l.private_key.filter(|k| !k.is_empty()), l.password) {
            (Some(pem), _) => {
                let key = auth::SigningKey::from_pem(pem)?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                data["AUTHENTICATOR"] = "SNOWFLAKE_JWT".into();
                data["TOKEN"] = key.jwt(l.account, l.user, now)?.into();
            }
            (None, Some(password)) => data["PASSWORD"] = password.into(),
            (None, None) => bail!("password or private_key is required to sign in to Snowflake"),
        }
        let mut query: Vec<(&str, &str)> = Vec::new();
        let request_id = uuid::Uuid::new_v4().to_string();
        query.push(("request_id", &request_id));
        for (name, value) in [
            ("databaseName", l.database),
            ("schemaName", l.schema),
            ("warehouse", l.warehouse),
            ("roleName", l.role),
        ] {
            if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                query.push((name, v));
            }
        }
        let login =
            reqwest::Url::parse_with_params(&format!("{base}/session/v1/login-request"), &query)
                .context("Snowflake endpoint")?;
        let sent = http
            .post(login.as_str())
            .context("Snowflake endpoint")?
            .header("Accept", "application/json")
            .json(&serde_json::json!({ "data": data }))
            .send()
            .await;
        let answer = json_answer(
            sent,
            &format!("cannot reach Snowflake at {base}"),
            &format!(
                "Snowflake at {base} answered the sign-in with something else than its protocol"
            ),
        )
        .await?;
        if answer["success"] != true {
            return Err(answer_error(&answer)).context("signing in to Snowflake failed");
        }
        let token = answer["data"]["token"]
            .as_str()
            .ok_or_else(|| anyhow!("Snowflake's sign-in answer has no session token"))?
            .to_owned();
        Ok(Session {
            http,
            base,
            token,
            sequence: AtomicU64::new(1),
        })
    }

    fn authorization(&self) -> String {
        format!("Snowflake Token=\"{}\"", self.token)
    }

    /// Runs one statement and waits for its answer.
    ///
    /// A failed request and an answer that is not Snowflake's JSON say so in these words.
    async fn request(&self, sql: &str) -> Result<serde_json::Value> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let submitted = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let sent = self
            .http
            .post(&format!(
                "{}/queries/v1/query-request?requestId={request_id}",
                self.base
            ))?
            .header("Accept", "application/snowflake")
            .header("Authorization", self.authorization())
            .json(&serde_json::json!({
                "sqlText": sql,
                // One statement per request whatever the account's default: a query
                // Hakobu checked as one SELECT can never run as a script.
                "parameters": {"MULTI_STATEMENT_COUNT": 1},
                "asyncExec": false,
                "sequenceId": self.sequence.fetch_add(1, Ordering::Relaxed),
                "querySubmissionTime": submitted,
            }))
            .send()
            .await;
        let mut answer = json_answer(sent, FAILED, GARBLED).await?;
        // A statement still running after Snowflake's wait answers "in progress" with the
        // URL its result will be at.
        while matches!(answer["code"].as_str(), Some("333333" | "333334")) {
            let Some(path) = answer["data"]["getResultUrl"].as_str() else {
                break;
            };
            tokio::time::sleep(Duration::from_millis(500)).await;
            let sent = self
                .http
                .get(&format!("{}{path}", self.base))?
                .header("Accept", "application/snowflake")
                .header("Authorization", self.authorization())
                .send()
                .await;
            answer = json_answer(sent, FAILED, GARBLED).await?;
        }
        if answer["success"] != true {
            return Err(answer_error(&answer));
        }
        Ok(answer)
    }

    /// Runs one statement and reads its rows.
    pub async fn execute(&self, sql: &str) -> Result<Rows> {
        let answer = self.request(sql).await?;
        read_rows(&answer["data"])
    }

    /// Uploads `body` as the file `name` of `stage` (`@NAME` form): a `PUT` statement says
    /// where the file goes and with which key it is encrypted, and the file is sent there
    /// ([`stage::upload`]).
    pub async fn upload(&self, stage: &str, name: &str, body: Vec<u8>) -> Result<()> {
        let answer = self
            .request(&format!(
                "PUT 'file:///hakobu/{name}' {stage} AUTO_COMPRESS=FALSE OVERWRITE=TRUE"
            ))
            .await?;
        stage::upload(
            &self.http,
            &answer["data"],
            name,
            body,
            stage::S3Endpoint::default(),
        )
        .await
    }

    /// Ends the session (best effort: Snowflake ends idle sessions on its own).
    pub async fn close(self) {
        if let Ok(request) = self
            .http
            .post(&format!("{}/session?delete=true", self.base))
        {
            let _ = request
                .header("Accept", "application/snowflake")
                .header("Authorization", self.authorization())
                .send()
                .await;
        }
    }
}

/// Reads the rows of a query answer's `data`, JSON or Arrow.
fn read_rows(data: &serde_json::Value) -> Result<Rows> {
    let rowtype = data["rowtype"].as_array().cloned().unwrap_or_default();
    let columns = rowtype
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    let types: Vec<String> = rowtype
        .iter()
        .map(|c| c["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    let scales: Vec<i64> = rowtype
        .iter()
        .map(|c| c["scale"].as_i64().unwrap_or(0))
        .collect();
    if data["chunks"].as_array().is_some_and(|c| !c.is_empty()) {
        bail!(
            "the result is larger than Snowflake's first answer holds; Hakobu reads only that much (add a LIMIT)"
        );
    }
    let mut rows = Vec::new();
    if let Some(rowset) = data["rowset"].as_array() {
        for row in rowset {
            let cells = row.as_array().cloned().unwrap_or_default();
            rows.push(
                cells
                    .iter()
                    .map(|v| match v {
                        serde_json::Value::Null => None,
                        serde_json::Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    })
                    .collect(),
            );
        }
    } else if let Some(b64) = data["rowsetBase64"].as_str().filter(|s| !s.is_empty()) {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .context("Snowflake's Arrow result is not base64")?;
        let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None)
            .context("reading Snowflake's Arrow result")?;
        for batch in reader {
            let batch: RecordBatch = batch.context("reading Snowflake's Arrow result")?;
            for row in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .enumerate()
                        .map(|(i, col)| {
                            cell(
                                col,
                                row,
                                types.get(i).map_or("", String::as_str),
                                scales.get(i).copied().unwrap_or(0),
                            )
                        })
                        .collect(),
                );
            }
        }
    }
    Ok(Rows {
        columns,
        types,
        rows,
    })
}

/// An integer scaled by `scale` decimal places, as text.
fn scaled(v: i128, scale: i64) -> String {
    if scale <= 0 {
        return v.to_string();
    }
    let digits = format!("{:0>width$}", v.unsigned_abs(), width = scale as usize + 1);
    let (int, frac) = digits.split_at(digits.len() - scale as usize);
    format!("{}{int}.{frac}", if v < 0 { "-" } else { "" })
}

/// Seconds and nanoseconds since the epoch as an RFC 3339 UTC instant.
fn instant(seconds: i64, nanos: u32) -> String {
    chrono::DateTime::from_timestamp(seconds, nanos)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| format!("{seconds}.{nanos:09}"))
}

/// One cell of Snowflake's Arrow encoding as text: numbers are integers scaled by the
/// column's `scale`, timestamps integers of that scale or `{epoch, fraction}` structs,
/// dates days since the epoch.
fn cell(col: &ArrayRef, row: usize, sf_type: &str, scale: i64) -> Option<String> {
    if col.is_null(row) {
        return None;
    }
    let is_time = sf_type.starts_with("timestamp");
    let int = |v: i128| -> String {
        if is_time {
            let unit = 10i128.pow(scale.clamp(0, 9) as u32);
            let seconds = v.div_euclid(unit) as i64;
            let nanos = (v.rem_euclid(unit) * 10i128.pow(9 - scale.clamp(0, 9) as u32)) as u32;
            instant(seconds, nanos)
        } else {
            scaled(v, scale)
        }
    };
    Some(match col.data_type() {
        DataType::Boolean => col.as_boolean().value(row).to_string(),
        DataType::Int8 => int(col.as_primitive::<at::Int8Type>().value(row).into()),
        DataType::Int16 => int(col.as_primitive::<at::Int16Type>().value(row).into()),
        DataType::Int32 if sf_type == "date" => {
            let days = col.as_primitive::<at::Int32Type>().value(row);
            crate::types::days_to_date(days).map_or(days.to_string(), |d| d.to_string())
        }
        DataType::Int32 => int(col.as_primitive::<at::Int32Type>().value(row).into()),
        DataType::Int64 => int(col.as_primitive::<at::Int64Type>().value(row).into()),
        DataType::Decimal128(_, s) => scaled(
            col.as_primitive::<at::Decimal128Type>().value(row),
            i64::from(*s),
        ),
        DataType::Float32 => col.as_primitive::<at::Float32Type>().value(row).to_string(),
        DataType::Float64 => col.as_primitive::<at::Float64Type>().value(row).to_string(),
        DataType::Date32 => {
            let days = col.as_primitive::<at::Date32Type>().value(row);
            crate::types::days_to_date(days).map_or(days.to_string(), |d| d.to_string())
        }
        DataType::Utf8 => col.as_string::<i32>().value(row).to_owned(),
        DataType::LargeUtf8 => col.as_string::<i64>().value(row).to_owned(),
        DataType::Binary => hex::encode(col.as_binary::<i32>().value(row)),
        DataType::LargeBinary => hex::encode(col.as_binary::<i64>().value(row)),
        DataType::Struct(_) => {
            let s = col.as_struct();
            let field = |name: &str| s.column_by_name(name);
            match (field("epoch"), field("fraction")) {
                (Some(epoch), Some(fraction)) => instant(
                    epoch.as_primitive::<at::Int64Type>().value(row),
                    fraction.as_primitive::<at::Int32Type>().value(row) as u32,
                ),
                _ => format!("{:?}", s.slice(row, 1)),
            }
        }
        other => return Some(format!("<{other}>")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(base_url: &str) -> Login<'_> {
        Login {
            account: "acct",
            base_url,
            user: "u",
            password: Some("pw"),
            private_key: None,
            warehouse: None,
            role: None,
            database: None,
            schema: None,
        }
    }

    #[tokio::test]
    async fn an_endpoint_in_the_service_network_is_refused_before_any_request() {
        // A listener that would answer: the refusal must come from the policy, not from
        // a connection that failed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        for base in [
            format!("http://127.0.0.1:{port}"),
            format!("http://localhost:{port}"),
            format!("http://[::1]:{port}"),
        ] {
            let strict = EgressPolicy::public(vec![], vec![]);
            let err = match Session::connect_under(&login(&base), strict).await {
                Ok(_) => panic!("{base}: signed in"),
                Err(e) => format!("{e:#}"),
            };
            assert!(
                err.contains("inside the service's private network"),
                "{base}: {err}"
            );
        }
        listener.set_nonblocking(true).unwrap();
        assert!(listener.accept().is_err(), "no connection was opened");
    }

    #[test]
    fn scaled_numbers() {
        assert_eq!(scaled(1250, 2), "12.50");
        assert_eq!(scaled(-5, 3), "-0.005");
        assert_eq!(scaled(42, 0), "42");
    }

    #[test]
    fn instants() {
        assert_eq!(instant(1_700_000_000, 0), "2023-11-14T22:13:20Z");
        assert_eq!(instant(0, 500_000_000), "1970-01-01T00:00:00.500Z");
    }
}
