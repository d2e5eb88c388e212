//! A workflow's HTTP task, sent from a probe worker: the URL's address checked by the
//! egress policy (literals before the request, names as they resolve, no redirects
//! followed), the whole exchange within the task's time, and at most
//! [`HTTP_TASK_ANSWER_MAX_BYTES`] of the answer's body read, whatever the server sends.

use super::error::{CheckError, ErrorKind, classify_http};
use crate::egress::http::{Timeouts, http_client};
use crate::limits::{HTTP_CONNECT_TIMEOUT, HTTP_TASK_ANSWER_MAX_BYTES};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One request, as the app hands it over (secret header values in clear: the probe
/// worker's request is never logged).
#[derive(Clone, Serialize, Deserialize)]
pub struct HttpCall {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    pub url: String,
    /// Names and values, sent as given.
    pub headers: Vec<(String, String)>,
    /// Sent when not empty.
    pub body: String,
    /// The whole exchange, connecting included.
    pub timeout: Duration,
}

impl std::fmt::Debug for HttpCall {
    // Header values may be secrets: only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCall")
            .field("method", &self.method)
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_bytes", &self.body.len())
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpAnswer {
    pub status: u16,
    /// The body's first bytes (at most [`HTTP_TASK_ANSWER_MAX_BYTES`]), as text.
    pub body_start: String,
    /// The body went on beyond what was read.
    pub cut: bool,
}

fn failure(kind: ErrorKind, message: String) -> CheckError {
    CheckError {
        kind,
        ssh_host_key: None,
        message,
    }
}

/// Sends `call` under this process's egress policy.
pub async fn http_request(call: &HttpCall) -> Result<HttpAnswer, CheckError> {
    let method = reqwest::Method::from_bytes(call.method.as_bytes())
        .map_err(|_| failure(ErrorKind::Other, format!("unknown method {}", call.method)))?;
    // The engine's one egress-checked client: no redirects followed (a 3xx is the answer).
    let client = http_client(
        crate::egress::policy(),
        Timeouts::new(HTTP_CONNECT_TIMEOUT.min(call.timeout), call.timeout),
    );
    let sent = async {
        let request = client.request(method, &call.url).map_err(refusal)?;
        let mut request = request.timeout(call.timeout);
        for (name, value) in &call.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| failure(ErrorKind::Other, format!("bad header name {name:?}")))?;
            let value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                failure(
                    ErrorKind::Other,
                    format!("the value of header {name} cannot be sent"),
                )
            })?;
            request = request.header(name, value);
        }
        if !call.body.is_empty() {
            request = request.body(call.body.clone());
        }
        let mut response = request.send().await.map_err(request_error)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        let mut cut = false;
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            let room = HTTP_TASK_ANSWER_MAX_BYTES - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                cut = true;
                break;
            }
            body.extend_from_slice(&chunk);
            if body.len() == HTTP_TASK_ANSWER_MAX_BYTES {
                // Whether more follows is not worth another read.
                cut = true;
                break;
            }
        }
        // Dropping the response closes the connection: the rest is never read.
        drop(response);
        Ok(HttpAnswer {
            status,
            body_start: String::from_utf8_lossy(&body).into_owned(),
            cut,
        })
    };
    match tokio::time::timeout(call.timeout, sent).await {
        Ok(answer) => answer,
        Err(_) => Err(failure(
            ErrorKind::Timeout,
            format!("no complete answer within {} s", call.timeout.as_secs()),
        )),
    }
}

/// A failure told by its type, as every HTTP failure of a check ([`classify_http`]): the
/// egress policy's refusal, a timeout, a server that cannot be reached.
fn refusal(e: anyhow::Error) -> CheckError {
    failure(classify_http(&e), format!("{e:#}"))
}

/// A request's failure, without the URL (it may carry a token).
fn request_error(e: reqwest::Error) -> CheckError {
    refusal(anyhow::Error::new(e.without_url()))
}
