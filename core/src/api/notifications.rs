//! Notification destinations (Slack, email, webhook), the rules that say when to use them,
//! and the deliveries the notifier made.

use crate::http::{check_headers, check_url};
use crate::ids::{
    DestinationId, JobId, NotificationEventId, NotificationRuleId, RunId, WorkflowId,
};
use crate::messages::{MessageCode, MessageParams, Text};
use crate::validation::{FieldErrors, check_email, check_text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::str::FromStr;

/// Longest destination name.
pub const DESTINATION_NAME_MAX_CHARS: usize = 100;
/// Longest message template.
pub const TEMPLATE_MAX_CHARS: usize = 4000;
/// Longest email subject template.
pub const SUBJECT_MAX_CHARS: usize = 200;
/// Most headers a webhook sends.
pub const MAX_HEADERS: usize = crate::http::MAX_HEADERS;
/// Longest run of a rule's duration threshold: a week, as a job's longest timeout.
pub const MAX_DURATION_SECONDS: i64 = 7 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    Slack,
    Email,
    Webhook,
}

impl DestinationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DestinationKind::Slack => "slack",
            DestinationKind::Email => "email",
            DestinationKind::Webhook => "webhook",
        }
    }
}

impl fmt::Display for DestinationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DestinationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "slack" => Ok(DestinationKind::Slack),
            "email" => Ok(DestinationKind::Email),
            "webhook" => Ok(DestinationKind::Webhook),
            other => Err(format!(
                "unknown destination kind {other:?}; expected slack, email or webhook"
            )),
        }
    }
}

crate::text_sql_enum!(DestinationKind);

/// What a rule reacts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum NotificationEventKind {
    /// A run succeeded.
    Success,
    /// A run failed, timed out or was cancelled (and no retry follows).
    Failure,
    /// A run succeeded with fewer rows written than `threshold`.
    RowsBelow,
    /// A run succeeded with more rows written than `threshold`.
    RowsAbove,
    /// A run has been going for longer than `threshold` seconds (fires while it runs).
    DurationOver,
    /// A data check failed.
    CheckFailed,
    /// A data check warned.
    CheckWarned,
    /// A schedule was disabled after repeated failures.
    ScheduleDisabled,
}

impl NotificationEventKind {
    pub const ALL: [NotificationEventKind; 8] = [
        NotificationEventKind::Success,
        NotificationEventKind::Failure,
        NotificationEventKind::RowsBelow,
        NotificationEventKind::RowsAbove,
        NotificationEventKind::DurationOver,
        NotificationEventKind::CheckFailed,
        NotificationEventKind::CheckWarned,
        NotificationEventKind::ScheduleDisabled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationEventKind::Success => "success",
            NotificationEventKind::Failure => "failure",
            NotificationEventKind::RowsBelow => "rows_below",
            NotificationEventKind::RowsAbove => "rows_above",
            NotificationEventKind::DurationOver => "duration_over",
            NotificationEventKind::CheckFailed => "check_failed",
            NotificationEventKind::CheckWarned => "check_warned",
            NotificationEventKind::ScheduleDisabled => "schedule_disabled",
        }
    }

    /// Whether the rule needs a `threshold` (rows or seconds).
    pub fn needs_threshold(self) -> bool {
        matches!(
            self,
            NotificationEventKind::RowsBelow
                | NotificationEventKind::RowsAbove
                | NotificationEventKind::DurationOver
        )
    }
}

impl fmt::Display for NotificationEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NotificationEventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        NotificationEventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown notification event {s:?}"))
    }
}

crate::text_sql_enum!(NotificationEventKind);

/// A destination's settings, by kind. Secret values (`webhook_url` of Slack, headers
/// marked `secret`) are write-only: leaving one out of an update keeps the stored value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DestinationSettings {
    /// A Slack incoming webhook (`https://hooks.slack.com/services/...`).
    Slack {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        webhook_url: Option<String>,
    },
    /// One email address; it receives nothing until its owner follows the confirmation link.
    Email { address: String },
    /// Any HTTPS endpoint that takes a JSON POST.
    Webhook {
        url: String,
        #[serde(default)]
        headers: Vec<WebhookHeader>,
    },
}

impl DestinationSettings {
    pub fn kind(&self) -> DestinationKind {
        match self {
            DestinationSettings::Slack { .. } => DestinationKind::Slack,
            DestinationSettings::Email { .. } => DestinationKind::Email,
            DestinationSettings::Webhook { .. } => DestinationKind::Webhook,
        }
    }
}

/// A webhook's header: the one header type of requests tenants configure.
pub use crate::http::HttpHeader as WebhookHeader;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DestinationRequest {
    pub name: String,
    pub settings: DestinationSettings,
}

/// Header names a webhook may not set: they belong to the HTTP exchange itself.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "idempotency-key",
    "x-hakobu-event-id",
];

impl DestinationRequest {
    /// Field checks; `creating` requires the secret values a new destination needs.
    pub fn validate(&self, creating: bool) -> FieldErrors {
        let mut e = FieldErrors::default();
        check_text(&mut e, "name", &self.name, DESTINATION_NAME_MAX_CHARS);
        match &self.settings {
            DestinationSettings::Slack { webhook_url } => match webhook_url {
                None if creating => {
                    e.push_message("settings.webhook_url", MessageCode::SlackUrlRequired)
                }
                None => {}
                Some(url) => check_url(&mut e, "settings.webhook_url", url),
            },
            DestinationSettings::Email { address } => {
                check_email(&mut e, "settings.address", address)
            }
            DestinationSettings::Webhook { url, headers } => {
                check_url(&mut e, "settings.url", url);
                check_headers(
                    &mut e,
                    "settings.headers",
                    headers,
                    RESERVED_HEADERS,
                    !creating,
                );
            }
        }
        e
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DestinationView {
    pub id: DestinationId,
    pub name: String,
    pub kind: DestinationKind,
    /// Non-secret settings; secret values read `{"set": true}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub settings: Value,
    /// Email: the address confirmed it wants the messages. Other kinds: always true.
    pub confirmed: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The answer to a test send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TestSendResult {
    pub delivered: bool,
    /// What happened, in words (the endpoint's answer when it refused).
    pub message: String,
    /// Which message of [`crate::messages`] `message` is, when it is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The values of the message's `{name}` parts, for the translation.
    #[serde(default, skip_serializing_if = "MessageParams::is_empty")]
    pub params: MessageParams,
}

impl TestSendResult {
    /// The result of a test send that says `text`.
    pub fn new(delivered: bool, text: impl Into<Text>) -> Self {
        let text = text.into();
        TestSendResult {
            delivered,
            code: text.code(),
            params: text.params(),
            message: text.english,
        }
    }

    /// The message as received, to translate.
    pub fn text(&self) -> Text {
        Text::received(&self.message, self.code.as_deref(), &self.params)
    }
}

/// A rule: when `event` happens to the job (or to any job, for an organization default),
/// send a message to `destination_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleRequest {
    pub destination_id: DestinationId,
    pub event: NotificationEventKind,
    /// Rows for `rows_below` and `rows_above`; seconds for `duration_over`.
    #[serde(default)]
    pub threshold: Option<i64>,
    /// Email subject (a template); a default names the job and its status.
    #[serde(default)]
    pub subject: Option<String>,
    /// The message (a Liquid template); a default suits each event.
    #[serde(default)]
    pub template: Option<String>,
    /// Slack: who to mention, as member ids (`U024BE7LH`), `here` or `channel`.
    #[serde(default)]
    pub mentions: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl RuleRequest {
    pub fn validate(&self) -> FieldErrors {
        let mut e = FieldErrors::default();
        match (self.event.needs_threshold(), self.threshold) {
            (true, None) => e.push_message(
                "threshold",
                if self.event == NotificationEventKind::DurationOver {
                    MessageCode::ThresholdSecondsRequired
                } else {
                    MessageCode::ThresholdRowsRequired
                },
            ),
            (true, Some(n))
                if self.event == NotificationEventKind::DurationOver
                    && !(1..=MAX_DURATION_SECONDS).contains(&n) =>
            {
                e.push_message(
                    "threshold",
                    MessageCode::ThresholdSecondsRange.with("max", MAX_DURATION_SECONDS),
                );
            }
            (true, Some(n)) if n < 0 => {
                e.push_message("threshold", MessageCode::RowsAtLeast.with("n", 0))
            }
            (false, Some(_)) => e.push_message(
                "threshold",
                MessageCode::ThresholdNotApplicable.with("event", self.event),
            ),
            _ => {}
        }
        if let Some(t) = &self.template
            && t.chars().count() > TEMPLATE_MAX_CHARS
        {
            e.push_message(
                "template",
                MessageCode::TooLong.with("n", TEMPLATE_MAX_CHARS),
            );
        }
        if let Some(s) = &self.subject
            && (s.chars().count() > SUBJECT_MAX_CHARS || s.contains(['\r', '\n']))
        {
            e.push_message("subject", MessageCode::OneLine.with("n", SUBJECT_MAX_CHARS));
        }
        if self.mentions.len() > 20 {
            e.push("mentions", "at most 20 mentions");
        }
        for (i, m) in self.mentions.iter().enumerate() {
            if !is_slack_mention(m) {
                e.push_message(format!("mentions[{i}]"), MessageCode::SlackMention);
            }
        }
        e
    }
}

/// A Slack member (`U`/`W`) or user-group (`S`) id, or `here` / `channel`.
pub fn is_slack_mention(m: &str) -> bool {
    matches!(m, "here" | "channel")
        || (m.len() >= 3
            && m.len() <= 20
            && m.starts_with(['U', 'W', 'S'])
            && m.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleView {
    pub id: NotificationRuleId,
    /// `None` (and no `workflow_id`): an organization-wide default for jobs.
    pub job_id: Option<JobId>,
    /// A workflow's rule: its runs' `success` or `failure`.
    #[serde(default)]
    pub workflow_id: Option<WorkflowId>,
    pub destination_id: DestinationId,
    pub event: NotificationEventKind,
    pub threshold: Option<i64>,
    pub subject: Option<String>,
    pub template: Option<String>,
    pub mentions: Vec<String>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a notification is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its first or next attempt.
    Pending,
    Delivered,
    /// Given up: the endpoint refused it, or every retry failed.
    Failed,
    /// Not sent: the email address is not confirmed.
    Skipped,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Skipped => "skipped",
        }
    }
}

impl FromStr for DeliveryStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
            DeliveryStatus::Skipped,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
        .ok_or_else(|| format!("unknown delivery status {s:?}"))
    }
}

crate::text_sql_enum!(DeliveryStatus);

/// One notification and how its delivery went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    pub id: NotificationEventId,
    pub event: NotificationEventKind,
    pub destination_id: DestinationId,
    pub run_id: Option<RunId>,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The link in a password reset email: a new password for the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub email: String,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordResetConfirm {
    pub token: String,
    pub password: String,
}

impl fmt::Debug for PasswordResetConfirm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordResetConfirm { .. }")
    }
}

impl PasswordResetConfirm {
    pub fn validate(&self) -> FieldErrors {
        let mut e = FieldErrors::default();
        if self.token.is_empty() {
            e.push_message("token", MessageCode::ResetTokenRequired);
        }
        crate::validation::check_password(&mut e, "password", &self.password);
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn destination_settings_are_tagged_by_kind() {
        let r: DestinationRequest = serde_json::from_value(json!({
            "name": "alerts", "settings": {"kind": "webhook", "url": "https://x.example/h",
            "headers": [{"name": "Authorization", "value": "Bearer t", "secret": true}]}
        }))
        .unwrap();
        assert_eq!(r.settings.kind(), DestinationKind::Webhook);
        assert!(r.validate(true).is_empty());
        let unknown = serde_json::from_value::<DestinationRequest>(json!({
            "name": "a", "settings": {"kind": "slack", "url": "https://x"}
        }));
        assert!(unknown.is_err(), "unknown fields are refused");
    }

    #[test]
    fn destination_validation_names_fields() {
        let r = DestinationRequest {
            name: String::new(),
            settings: DestinationSettings::Webhook {
                url: "ftp://x".into(),
                headers: vec![WebhookHeader {
                    name: "Content-Type".into(),
                    value: None,
                    secret: false,
                }],
            },
        };
        let e = r.validate(true);
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "settings.url",
                "settings.headers[0].name",
                "settings.headers[0].value"
            ]
        );
        let slack = DestinationRequest {
            name: "s".into(),
            settings: DestinationSettings::Slack { webhook_url: None },
        };
        assert_eq!(slack.validate(true).0[0].field, "settings.webhook_url");
        assert!(
            slack.validate(false).is_empty(),
            "an update keeps the secret"
        );
    }

    #[test]
    fn rule_thresholds_fit_their_event() {
        let rule = |event, threshold| RuleRequest {
            destination_id: DestinationId::new(),
            event,
            threshold,
            subject: None,
            template: None,
            mentions: vec!["U024BE7LH".into(), "here".into()],
            enabled: true,
        };
        assert!(
            rule(NotificationEventKind::Success, None)
                .validate()
                .is_empty()
        );
        assert!(
            rule(NotificationEventKind::RowsBelow, Some(0))
                .validate()
                .is_empty()
        );
        for (event, threshold) in [
            (NotificationEventKind::Success, Some(1)),
            (NotificationEventKind::RowsBelow, None),
            (NotificationEventKind::RowsAbove, Some(-1)),
            (NotificationEventKind::DurationOver, Some(0)),
            (
                NotificationEventKind::DurationOver,
                Some(MAX_DURATION_SECONDS + 1),
            ),
        ] {
            let e = rule(event, threshold).validate();
            assert_eq!(e.0.len(), 1, "{event} {threshold:?}");
            assert_eq!(e.0[0].field, "threshold");
        }
        let mut bad = rule(NotificationEventKind::Success, None);
        bad.mentions = vec!["@bob".into()];
        assert_eq!(bad.validate().0[0].field, "mentions[0]");
    }
}
