//! The notifier: claims due outbox rows, delivers them, and records every attempt.
//!
//! A row is claimed with `FOR UPDATE SKIP LOCKED` and a lease, so replicas never deliver
//! the same row at once, and a row whose worker died mid-delivery is taken over when the
//! lease ends. A delivery that fails for a reason that may pass (a 5xx, 429, a timeout, an
//! SMTP server that is down) is retried after `retry_base * 2^(attempt-1)`; one the
//! endpoint refuses for good (another 4xx, a permanent SMTP error) or that ran out of
//! attempts is marked `failed`. Runs never wait for any of this.
//!
//! Webhooks and Slack receive the row's id as `Idempotency-Key` (and `X-Hakobu-Event-Id`),
//! emails as their `Message-ID`: the only case in which a row is sent twice is a crash
//! between the endpoint's answer and the record of it, and then the receiver sees the
//! same id twice.

use super::EventContext;
use super::render;
use crate::db::DbPool;
use crate::mail::{Email, Mailer};
use crate::models::destination::Destination;
use crate::models::notification_outbox::{AfterAttempt, Attempt, OutboxEntry};
use crate::models::notification_rule::NotificationRule;
use crate::secrets::{SecretBox, SecretSlot};
use chrono::Utc;
use hakobu_core::api::notifications::{DeliveryStatus, DestinationKind};
use hakobu_core::egress::EgressPolicy;
use hakobu_core::ids::NotificationEventId;
use hakobu_engine::egress::http::{HttpClient, Timeouts, read_quote};
use hakobu_engine::limits::{WEBHOOK_ANSWER_QUOTE_BYTES, WEBHOOK_TIMEOUT};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// What is needed to send to a destination.
#[derive(Clone)]
pub struct Sender {
    pub secrets: Option<SecretBox>,
    pub mailer: Option<Mailer>,
    /// Where webhooks and Slack hooks may point (tenants choose the URLs): the app's
    /// probe policy, passed here, as the app process installs none for itself.
    pub egress: EgressPolicy,
    /// The client of every webhook and Slack hook, under `egress`: names checked when
    /// resolved, address literals before the request, no redirect followed, no proxy.
    http: HttpClient,
    /// Links in messages point here.
    pub public_url: String,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("mailer", &self.mailer)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// One message for one destination.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub id: NotificationEventId,
    pub context: &'a EventContext,
    pub subject: Option<&'a str>,
    pub template: Option<&'a str>,
    pub mentions: &'a [String],
}

/// Why a send did not go through.
#[derive(Debug, Clone)]
pub struct SendError {
    /// Retrying cannot help (the endpoint refused the message, the destination is broken).
    pub permanent: bool,
    pub http_status: Option<u16>,
    pub message: String,
}

impl SendError {
    fn permanent(message: impl Into<String>) -> Self {
        SendError {
            permanent: true,
            http_status: None,
            message: message.into(),
        }
    }
}

impl Sender {
    pub fn new(
        secrets: Option<SecretBox>,
        mailer: Option<Mailer>,
        public_url: &str,
        egress: EgressPolicy,
    ) -> anyhow::Result<Sender> {
        Ok(Sender {
            secrets,
            mailer,
            http: HttpClient::new(
                egress.clone(),
                Timeouts::new(WEBHOOK_TIMEOUT, WEBHOOK_TIMEOUT),
            ),
            egress,
            public_url: public_url.to_owned(),
        })
    }

    /// A request to one tenant-chosen URL, refused before anything is sent when the URL
    /// is not one or names a refused address.
    fn request(&self, url: &str) -> Result<reqwest::RequestBuilder, SendError> {
        if reqwest::Url::parse(url).is_err() {
            return Err(SendError::permanent(
                "the destination's URL is not a valid URL",
            ));
        }
        self.http
            .post(url)
            .map_err(|e| match refusal_in(e.as_ref()) {
                Some(refusal) => {
                    SendError::permanent(format!("the destination is refused: {refusal}"))
                }
                None => SendError::permanent(format!("the destination's URL cannot be used: {e}")),
            })
    }

    fn decrypt(
        &self,
        destination: &Destination,
        field: &str,
        sealed: &Value,
    ) -> Result<String, SendError> {
        let secrets = self.secrets.as_ref().ok_or_else(|| {
            SendError::permanent(
                "HAKOBU_SECRET_KEY is not set: the destination's secrets cannot be read",
            )
        })?;
        secrets
            .decrypt(
                sealed.as_str().unwrap_or_default(),
                &SecretSlot::destination(destination.organization_id, destination.id, field),
            )
            .map_err(|_| {
                SendError::permanent(
                    "the destination's secret could not be decrypted; save it again",
                )
            })
    }

    /// Sends one message; answers the HTTP status for webhooks.
    pub async fn send(
        &self,
        destination: &Destination,
        message: &Outgoing<'_>,
    ) -> Result<Option<u16>, SendError> {
        let text = render::message_async(message.template, message.context, &self.public_url).await;
        let url = render::run_url(message.context, &self.public_url);
        match destination.kind {
            DestinationKind::Slack => {
                let hook = self.decrypt(
                    destination,
                    "webhook_url",
                    &destination.secrets["webhook_url"],
                )?;
                let body = render::slack_payload(&text, message.mentions, &url);
                self.post(&hook, message.id, &[], &body).await
            }
            DestinationKind::Webhook => {
                let target = destination.settings["url"].as_str().unwrap_or_default();
                let mut headers = Vec::new();
                let sealed = destination.secrets["headers"].as_object();
                for h in destination.settings["headers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let name = h["name"].as_str().unwrap_or_default().to_owned();
                    let value = if h["secret"].as_bool().unwrap_or(false) {
                        match sealed.and_then(|s| s.get(&name)) {
                            Some(v) => self.decrypt(destination, &format!("headers.{name}"), v)?,
                            None => continue,
                        }
                    } else {
                        h["value"].as_str().unwrap_or_default().to_owned()
                    };
                    headers.push((name, value));
                }
                let body = render::webhook_payload(message.id, message.context, &text, &url);
                self.post(target, message.id, &headers, &body).await
            }
            DestinationKind::Email => {
                if !destination.confirmed() {
                    return Err(SendError::permanent(
                        "the email address has not been confirmed yet",
                    ));
                }
                let mailer = self.mailer.as_ref().ok_or_else(|| SendError {
                    // The operator may still configure SMTP; keep trying until attempts run out.
                    permanent: false,
                    http_status: None,
                    message: "email is not configured (HAKOBU_SMTP_HOST)".to_owned(),
                })?;
                let subject = render::render_async(
                    message.subject.unwrap_or(render::DEFAULT_SUBJECT),
                    message.context,
                    &self.public_url,
                )
                .await
                .unwrap_or_else(|_| {
                    format!(
                        "[Hakobu] {}: {}",
                        message.context.job_name, message.context.status
                    )
                });
                let email = Email {
                    to: destination.settings["address"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    subject,
                    body: format!("{text}\n\nOpen in Hakobu: {url}\n"),
                    message_id: Some(format!("<{}@hakobu>", message.id)),
                };
                match mailer.send(&email).await {
                    Ok(()) => Ok(None),
                    Err(e) => {
                        let permanent = e
                            .chain()
                            .filter_map(|c| c.downcast_ref::<lettre::transport::smtp::Error>())
                            .any(|s| s.is_permanent());
                        Err(SendError {
                            permanent,
                            http_status: None,
                            message: one_line(&format!("{e:#}")),
                        })
                    }
                }
            }
        }
    }

    async fn post(
        &self,
        url: &str,
        id: NotificationEventId,
        headers: &[(String, String)],
        body: &Value,
    ) -> Result<Option<u16>, SendError> {
        let mut request = self
            .request(url)?
            .header("Idempotency-Key", id.to_string())
            .header("X-Hakobu-Event-Id", id.to_string())
            .json(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.map_err(|e| SendError {
            permanent: e.is_builder(),
            http_status: None,
            // reqwest's message names the URL, which may hold a secret token: leave it out.
            message: if let Some(refusal) = refusal_in(&e) {
                format!("the destination is refused: {refusal}")
            } else if e.is_timeout() {
                format!("no answer within {} s", WEBHOOK_TIMEOUT.as_secs())
            } else if e.is_connect() {
                "could not connect to the endpoint".to_owned()
            } else {
                "the request could not be sent".to_owned()
            },
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(Some(status.as_u16()));
        }
        let answer: String =
            String::from_utf8_lossy(&read_quote(response, WEBHOOK_ANSWER_QUOTE_BYTES).await)
                .chars()
                .take(300)
                .collect();
        let retryable = status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT;
        Err(SendError {
            permanent: !retryable,
            http_status: Some(status.as_u16()),
            message: one_line(&format!("the endpoint answered {status}: {answer}")),
        })
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Delivers the outbox until the app stops, and watches running runs for `duration_over`.
pub struct Notifier {
    pub pool: DbPool,
    pub sender: Sender,
    pub retry_base: Duration,
    pub max_attempts: i32,
    /// How long a claimed row belongs to this worker.
    pub lease: Duration,
    /// Rows claimed per round.
    pub batch: i64,
}

impl Notifier {
    pub async fn run(self: Arc<Self>) {
        let mut last_sweep: Option<std::time::Instant> = None;
        loop {
            if last_sweep.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                last_sweep = Some(std::time::Instant::now());
                if let Err(e) = self.sweep_once().await {
                    tracing::error!(error = format!("{e:#}"), "duration sweep");
                }
            }
            match self.deliver_once().await {
                Ok(0) => tokio::time::sleep(Duration::from_millis(300)).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "notifier");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        }
    }

    /// Writes `duration_over` events for runs past a threshold.
    pub async fn sweep_once(&self) -> anyhow::Result<usize> {
        let mut conn = self.pool.get().await?;
        Ok(super::sweep_overdue_runs(&mut conn).await?)
    }

    /// One round: claims due rows and delivers them; answers how many it handled.
    pub async fn deliver_once(&self) -> anyhow::Result<usize> {
        let mut conn = self.pool.get().await?;
        let claimed = OutboxEntry::claim(&mut conn, self.batch, self.lease).await?;
        drop(conn);
        let count = claimed.len();
        let deliveries = claimed.into_iter().map(|entry| self.deliver(entry));
        for outcome in futures::future::join_all(deliveries).await {
            if let Err(e) = outcome {
                tracing::error!(error = format!("{e:#}"), "recording a delivery");
            }
        }
        Ok(count)
    }

    async fn deliver(&self, entry: OutboxEntry) -> anyhow::Result<()> {
        let mut conn = self.pool.get().await?;
        let destination =
            Destination::find(&mut conn, entry.organization_id, entry.destination_id).await?;
        let rule = match entry.rule_id {
            Some(id) => NotificationRule::find(&mut conn, entry.organization_id, id).await?,
            None => None,
        };
        drop(conn);
        let context: EventContext = serde_json::from_value(entry.context.clone())?;
        let outcome = match &destination {
            None => Err(SendError::permanent("the destination was deleted")),
            Some(destination) => {
                let mentions = rule.as_ref().map(|r| r.mentions()).unwrap_or_default();
                let outgoing = Outgoing {
                    id: entry.id,
                    context: &context,
                    subject: rule.as_ref().and_then(|r| r.subject.as_deref()),
                    template: rule
                        .as_ref()
                        .and_then(|r| r.template.as_deref())
                        .or(context.template.as_deref()),
                    mentions: &mentions,
                };
                self.sender.send(destination, &outgoing).await
            }
        };
        let (attempt, next) = match &outcome {
            Ok(status) => (
                Attempt {
                    succeeded: true,
                    http_status: status.map(i32::from),
                    error: None,
                },
                AfterAttempt::Done(DeliveryStatus::Delivered),
            ),
            Err(e) => {
                let next = if e.permanent || entry.attempts >= self.max_attempts {
                    AfterAttempt::Done(DeliveryStatus::Failed)
                } else {
                    let factor = 2u32.saturating_pow((entry.attempts - 1).clamp(0, 16) as u32);
                    let delay = (self.retry_base * factor).min(Duration::from_secs(3600));
                    AfterAttempt::RetryAt(Utc::now() + chrono::Duration::from_std(delay)?)
                };
                tracing::warn!(
                    event_id = %entry.id,
                    attempt = entry.attempts,
                    error = %e.message,
                    "notification delivery failed"
                );
                (
                    Attempt {
                        succeeded: false,
                        http_status: e.http_status.map(i32::from),
                        error: Some(e.message.as_str()),
                    },
                    next,
                )
            }
        };
        let mut conn = self.pool.get().await?;
        OutboxEntry::record_attempt(&mut conn, &entry, attempt, next).await?;
        Ok(())
    }
}

/// Non-secret settings for responses, with secret values as `{"set": true}`.
pub fn public_settings(destination: &Destination) -> Value {
    let mut settings = destination
        .settings
        .as_object()
        .cloned()
        .unwrap_or_default();
    match destination.kind {
        DestinationKind::Slack => {
            let set = destination.secrets.get("webhook_url").is_some();
            settings.insert("webhook_url".into(), serde_json::json!({"set": set}));
        }
        DestinationKind::Webhook => {
            if let Some(headers) = settings.get_mut("headers").and_then(Value::as_array_mut) {
                for h in headers {
                    if h["secret"].as_bool().unwrap_or(false)
                        && let Some(o) = h.as_object_mut()
                    {
                        let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
                        let set = destination.secrets["headers"].get(name).is_some();
                        o.insert("value".into(), serde_json::json!({"set": set}));
                    }
                }
            }
        }
        DestinationKind::Email => {}
    }
    settings.insert("kind".into(), Value::String(destination.kind.to_string()));
    Value::Object(settings)
}

/// The egress refusal behind a failed request, if that is why it failed.
fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(egress) = c.downcast_ref::<hakobu_engine::egress::EgressError>() {
            return Some(egress.to_string());
        }
        cause = c.source();
    }
    None
}
