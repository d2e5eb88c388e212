//! The one HTTP client for requests to tenant-directed servers (a warehouse's API, a
//! service account key's token endpoint, a webhook, an object store, a workflow's HTTP
//! task), and the one way their answers are read.
//!
//! Every request goes through the egress policy the client was made with:
//! - a URL whose host is an address literal is checked before the request
//!   ([`check_url`]; no lookup will see it),
//! - every name is resolved by [`CheckedResolver`], which checks every address it resolves
//!   to before a socket opens,
//! - a redirect is either not followed (the 3xx is the answer, the default) or followed
//!   only to the same port, its literal address checked like the first URL's and its name
//!   resolved by the same checked resolver; anything else fails the request,
//! - no proxy is taken from the environment (a proxy would connect for us, unchecked),
//! - connecting, idling and the whole request each have a time limit.
//!
//! A resolver is told a name, never the port, and the policy may open one port of an
//! address only; so [`HttpClient`] keeps one `reqwest::Client` per port, each with the
//! resolver of its port.
//!
//! Answers are read with [`read_bounded`] (the whole answer, failing at a budget) or
//! [`read_quote`] (the start of an answer, to quote in an error); the budgets are in
//! [`crate::limits`].

use super::{CheckedResolver, EgressError, check_literal_host};
use bytes::{Bytes, BytesMut};
use hakobu_core::egress::EgressPolicy;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a request may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting (the TCP connect and the TLS handshake).
    pub connect: Duration,
    /// The whole request, the answer's body included.
    pub total: Duration,
}

impl Timeouts {
    /// `connect` for connecting, `total` for the whole request.
    pub const fn new(connect: Duration, total: Duration) -> Self {
        Timeouts { connect, total }
    }
}

/// An answer larger than the budget it was read with. Reading stopped at the budget.
#[derive(Debug, thiserror::Error)]
#[error("the answer is larger than {limit_text}, the most Hakobu reads of it")]
pub struct AnswerTooLarge {
    /// The budget, in bytes.
    pub limit: usize,
    /// The budget in words (`32 MiB`).
    pub limit_text: String,
}

/// A tenant-directed server answered and refused the request: its status and, in
/// `message`, the words the caller made of it (the error's text). `credentials` says the
/// server refused the sign-in itself (a token endpoint's `invalid_grant`, Snowflake's
/// wrong password), which a status may not show.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ServerRefusal {
    /// The HTTP status, when the refusal was one.
    pub status: Option<u16>,
    /// The server refused the credentials.
    pub credentials: bool,
    /// What to show.
    pub message: String,
}

/// A redirect the client refused to follow.
#[derive(Debug, thiserror::Error)]
pub enum RedirectRefused {
    /// To another port or scheme: a resolver knows one port only.
    #[error("a redirect to another port or scheme than the request's is not followed")]
    OtherPort,
    /// More redirects than allowed.
    #[error("more than {0} redirects")]
    TooMany(usize),
    /// The egress policy refused its address.
    #[error("the redirect is refused: {0}")]
    Refused(#[source] EgressError),
}

/// An HTTP client whose every connection is checked by one egress policy.
///
/// Cheap to clone (the clients per port are shared).
#[derive(Debug, Clone)]
pub struct HttpClient {
    policy: Arc<EgressPolicy>,
    timeouts: Timeouts,
    redirects: usize,
    https_only: bool,
    /// One client per port: its resolver checks names for that port.
    clients: Arc<Mutex<HashMap<u16, reqwest::Client>>>,
}

/// A client for tenant-directed requests under `policy` (pass the process's own,
/// [`super::policy`], or one a request carries); redirects are not followed.
pub fn http_client(policy: EgressPolicy, timeouts: Timeouts) -> HttpClient {
    HttpClient::new(policy, timeouts)
}

impl HttpClient {
    /// See [`http_client`].
    pub fn new(policy: EgressPolicy, timeouts: Timeouts) -> Self {
        HttpClient {
            policy: Arc::new(policy),
            timeouts,
            redirects: 0,
            https_only: false,
            clients: Arc::default(),
        }
    }

    /// Follows up to `max` redirects, each re-checked (see the module's docs).
    pub fn follow_redirects(mut self, max: usize) -> Self {
        self.redirects = max;
        self.clients = Arc::default();
        self
    }

    /// Refuses plain `http://` URLs.
    pub fn https_only(mut self, yes: bool) -> Self {
        self.https_only = yes;
        self.clients = Arc::default();
        self
    }

    /// The policy every request is checked by.
    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// A request to `url`, its address literal checked and its port's client chosen.
    /// Fails for a URL that is not `http(s)://host...` or whose address is refused
    /// ([`EgressError`] in the error's chain).
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> anyhow::Result<reqwest::RequestBuilder> {
        let (url, port) = check_url(&self.policy, url)?;
        Ok(self.client_for(port)?.request(method, url))
    }

    /// A `GET` of `url`; see [`HttpClient::request`].
    pub fn get(&self, url: &str) -> anyhow::Result<reqwest::RequestBuilder> {
        self.request(reqwest::Method::GET, url)
    }

    /// A `POST` to `url`; see [`HttpClient::request`].
    pub fn post(&self, url: &str) -> anyhow::Result<reqwest::RequestBuilder> {
        self.request(reqwest::Method::POST, url)
    }

    /// A `PUT` to `url`; see [`HttpClient::request`].
    pub fn put(&self, url: &str) -> anyhow::Result<reqwest::RequestBuilder> {
        self.request(reqwest::Method::PUT, url)
    }

    /// Resolves `url`'s host now and checks every address, to refuse a forbidden
    /// endpoint before anything else happens (a sign-in that would fail first for
    /// another reason). The request's own connection is checked again all the same.
    pub async fn check_reachable(&self, url: &str) -> anyhow::Result<()> {
        let (url, port) = check_url(&self.policy, url)?;
        if let Some(host) = url.host_str() {
            super::resolve_with(&self.policy, host, port).await?;
        }
        Ok(())
    }

    fn client_for(&self, port: u16) -> anyhow::Result<reqwest::Client> {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = clients.get(&port) {
            return Ok(c.clone());
        }
        let client = builder(
            &self.policy,
            port,
            self.timeouts,
            self.redirects,
            self.https_only,
        )
        .build()
        .map_err(|e| anyhow::anyhow!("cannot prepare the HTTP client: {e}"))?;
        clients.insert(port, client.clone());
        Ok(client)
    }
}

/// The builder every tenant-directed `reqwest::Client` starts from: checked names for
/// `port`, redirects per `redirects` (0: none), no proxy, the time limits.
fn builder(
    policy: &Arc<EgressPolicy>,
    port: u16,
    timeouts: Timeouts,
    redirects: usize,
    https_only: bool,
) -> reqwest::ClientBuilder {
    let redirect = if redirects == 0 {
        reqwest::redirect::Policy::none()
    } else {
        let policy = Arc::clone(policy);
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > redirects {
                return attempt.error(RedirectRefused::TooMany(redirects));
            }
            let url = attempt.url();
            let same_port = url.port_or_known_default() == Some(port)
                && matches!(url.scheme(), "http" | "https")
                && attempt.previous().last().map(reqwest::Url::scheme) == Some(url.scheme());
            if !same_port {
                return attempt.error(RedirectRefused::OtherPort);
            }
            let host = url.host_str().unwrap_or_default().to_owned();
            match check_literal_host(&policy, &host, port) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(RedirectRefused::Refused(e)),
            }
        })
    };
    reqwest::Client::builder()
        .dns_resolver(CheckedResolver::new(Arc::clone(policy), port))
        .redirect(redirect)
        .no_proxy()
        .https_only(https_only)
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.total)
}

/// Checks that `url` is an `http(s)://` URL with a host, and its host when it is an
/// address literal (names are checked when they are resolved); answers the parsed URL and
/// its port.
pub fn check_url(policy: &EgressPolicy, url: &str) -> anyhow::Result<(reqwest::Url, u16)> {
    // The URL itself stays out of errors: it may carry a token (a Slack hook, a signed
    // upload URL).
    let parsed =
        reqwest::Url::parse(url).map_err(|_| anyhow::anyhow!("this is not a valid URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        anyhow::bail!("the URL must start with http:// or https://");
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow::anyhow!("the URL has no host"))?
        .to_owned();
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| anyhow::anyhow!("the URL has no port"))?;
    check_literal_host(policy, &host, port)?;
    Ok((parsed, port))
}

/// Reads a whole answer, at most `limit` bytes of it: a larger one fails with
/// [`AnswerTooLarge`] once `limit` bytes came, without reading on (a server that answers
/// without end costs `limit` bytes and the request's time limit, never more).
pub async fn read_bounded(mut response: reqwest::Response, limit: usize) -> anyhow::Result<Bytes> {
    let too_large = || AnswerTooLarge {
        limit,
        limit_text: crate::limits::human_bytes(limit),
    };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large().into());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(too_large().into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The first `limit` bytes of an answer (all of it when shorter), to quote in an error;
/// a body that fails midway answers what came. Reading stops at `limit`.
pub async fn read_quote(mut response: reqwest::Response, limit: usize) -> Bytes {
    let mut body = BytesMut::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk[..chunk.len().min(limit - body.len())])
            }
            _ => break,
        }
    }
    body.freeze()
}

/// Makes `object_store`'s HTTP client with this module's builder, so an object store's
/// requests are checked like every other (its own client would follow redirects to
/// unchecked addresses and take proxies from the environment).
#[derive(Debug)]
pub struct ObjectStoreConnector {
    policy: Arc<EgressPolicy>,
    port: u16,
}

impl ObjectStoreConnector {
    /// A connector for an object store endpoint on `port`, under `policy`.
    pub fn new(policy: Arc<EgressPolicy>, port: u16) -> Self {
        ObjectStoreConnector { policy, port }
    }
}

/// `object_store`'s own time limits (its defaults), kept.
const OBJECT_STORE_TIMEOUTS: Timeouts =
    Timeouts::new(Duration::from_secs(5), Duration::from_secs(30));

/// Redirects an object store may follow (re-checked), as `reqwest`'s default.
const OBJECT_STORE_REDIRECTS: usize = 10;

impl object_store::client::HttpConnector for ObjectStoreConnector {
    fn connect(
        &self,
        options: &object_store::ClientOptions,
    ) -> object_store::Result<object_store::client::HttpClient> {
        let allow_http = options
            .get_config_value(&object_store::ClientConfigKey::AllowHttp)
            .is_some_and(|v| v == "true");
        let client = builder(
            &self.policy,
            self.port,
            OBJECT_STORE_TIMEOUTS,
            OBJECT_STORE_REDIRECTS,
            !allow_http,
        )
        .http1_only()
        .build()
        .map_err(|e| object_store::Error::Generic {
            store: "S3",
            source: Box::new(e),
        })?;
        Ok(object_store::client::HttpClient::new(client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const QUICK: Timeouts = Timeouts::new(Duration::from_secs(5), Duration::from_secs(20));

    /// A policy that opens exactly one loopback port.
    fn only(port: u16) -> EgressPolicy {
        EgressPolicy::public(
            EgressPolicy::parse_allow_list(&format!("127.0.0.1:{port}")).unwrap(),
            vec![],
        )
    }

    /// A listener on `ip` (port `port`, 0 for any) answering every connection with `head`
    /// and then `x` forever (when `endless`); counts the connections it accepted.
    async fn server_at(
        ip: &str,
        port: u16,
        head: String,
        endless: bool,
    ) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = TcpListener::bind((ip, port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let head = head.clone();
                tokio::spawn(async move {
                    let mut request = [0u8; 4096];
                    let _ = socket.read(&mut request).await;
                    if socket.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let block = vec![b'x'; 64 * 1024];
                    while endless && socket.write_all(&block).await.is_ok() {}
                });
            }
        });
        (port, accepted)
    }

    async fn server(head: String, endless: bool) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        server_at("127.0.0.1", 0, head, endless).await
    }

    fn refused_by_policy(e: &anyhow::Error) -> bool {
        e.chain().any(|c| {
            matches!(
                c.downcast_ref::<EgressError>(),
                Some(EgressError::Refused(_))
            )
        })
    }

    #[tokio::test]
    async fn a_name_resolving_to_a_forbidden_address_is_refused_before_connecting() {
        let (port, accepted) = server(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".into(),
            false,
        )
        .await;
        // The listener's port is not opened: loopback stays closed.
        let client = http_client(only(port.wrapping_add(1)), QUICK);
        for url in [
            format!("http://localhost:{port}/"),
            format!("http://127.0.0.1:{port}/"),
        ] {
            let e = match client.get(&url) {
                Err(e) => e,
                Ok(request) => anyhow::Error::from(request.send().await.unwrap_err()),
            };
            assert!(refused_by_policy(&e), "{url}: {e:#}");
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_redirect_to_a_forbidden_address_is_refused() {
        const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        let (other_port, reached_other) = server(OK.into(), false).await;
        // The opened endpoint is 127.0.0.1:port; the same port of 127.0.0.2 stays closed.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let (_, reached_same_port) = server_at("127.0.0.2", port, OK.into(), false).await;
        for target in [
            format!("http://127.0.0.2:{port}/inside"),
            format!("http://127.0.0.1:{other_port}/inside"),
            format!("http://localhost:{other_port}/inside"),
            "http://169.254.169.254/latest/meta-data/".to_owned(),
        ] {
            // Only the first target needs the redirecting server on `port`.
            let bind = if target.starts_with("http://127.0.0.2") {
                port
            } else {
                0
            };
            let (port, _) = server_at(
                "127.0.0.1",
                bind,
                format!("HTTP/1.1 302 Found\r\nlocation: {target}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"),
                false,
            )
            .await;
            let url = format!("http://127.0.0.1:{port}/");
            // Not followed at all by default: the 3xx is the answer.
            let answer = http_client(only(port), QUICK)
                .get(&url)
                .unwrap()
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 302);
            // Followed on request: refused.
            let e = http_client(only(port), QUICK)
                .follow_redirects(5)
                .get(&url)
                .unwrap()
                .send()
                .await
                .unwrap_err();
            assert!(e.is_redirect(), "{target}: {e}");
            let e = anyhow::Error::from(e);
            let why = e
                .chain()
                .find_map(|c| c.downcast_ref::<RedirectRefused>())
                .unwrap_or_else(|| panic!("{target}: {e:#}"));
            if target.starts_with("http://127.0.0.2") {
                assert!(
                    matches!(why, RedirectRefused::Refused(_)),
                    "{target}: {why}"
                );
            }
        }
        assert_eq!(reached_other.load(std::sync::atomic::Ordering::SeqCst), 0);
        assert_eq!(
            reached_same_port.load(std::sync::atomic::Ordering::SeqCst),
            0
        );
    }

    #[tokio::test]
    async fn redirects_on_the_same_port_are_followed_up_to_the_limit() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let (_, accepted) = server_at(
            "127.0.0.1",
            port,
            format!("HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{port}/again\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"),
            false,
        )
        .await;
        let e = http_client(only(port), QUICK)
            .follow_redirects(3)
            .get(&format!("http://127.0.0.1:{port}/"))
            .unwrap()
            .send()
            .await
            .unwrap_err();
        let e = anyhow::Error::from(e);
        assert!(
            e.chain().any(|c| matches!(
                c.downcast_ref::<RedirectRefused>(),
                Some(RedirectRefused::TooMany(3))
            )),
            "{e:#}"
        );
        // The first request and three redirects.
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn an_endless_answer_fails_at_the_budget_without_being_read_whole() {
        let (port, _) = server("HTTP/1.1 200 OK\r\n\r\n".into(), true).await;
        let answer = http_client(only(port), QUICK)
            .get(&format!("http://127.0.0.1:{port}/"))
            .unwrap()
            .send()
            .await
            .unwrap();
        let e = read_bounded(answer, 256 * 1024).await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "the answer is larger than 256 KiB, the most Hakobu reads of it"
        );
        // A declared length over the budget fails before its body is read.
        let (port, _) = server(
            "HTTP/1.1 200 OK\r\ncontent-length: 999999999\r\n\r\n".into(),
            true,
        )
        .await;
        let answer = http_client(only(port), QUICK)
            .get(&format!("http://127.0.0.1:{port}/"))
            .unwrap()
            .send()
            .await
            .unwrap();
        assert!(
            read_bounded(answer, 1024)
                .await
                .unwrap_err()
                .is::<AnswerTooLarge>()
        );
        // The start of an endless answer can be quoted.
        let (port, _) = server("HTTP/1.1 500 Oops\r\n\r\n".into(), true).await;
        let answer = http_client(only(port), QUICK)
            .get(&format!("http://127.0.0.1:{port}/"))
            .unwrap()
            .send()
            .await
            .unwrap();
        assert_eq!(read_quote(answer, 100).await.len(), 100);
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        let p = EgressPolicy::everything();
        for url in [
            "file:///etc/passwd",
            "ftp://example.com/",
            "not a url",
            "http://",
        ] {
            assert!(check_url(&p, url).is_err(), "{url}");
        }
        assert_eq!(check_url(&p, "https://example.com/x").unwrap().1, 443);
    }
}
