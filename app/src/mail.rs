//! Outgoing email over SMTP (lettre): notifications, email address confirmations,
//! invitations and password resets.
//!
//! The transport is built once from `HAKOBU_SMTP_*`. Without `HAKOBU_SMTP_HOST` there is no
//! mailer: invitations then only return their link, password resets send nothing, and email
//! destinations cannot be confirmed.

use anyhow::{Context, bail};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::time::Duration;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587); refuses servers without it.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a server on the same host or network (local tests).
    None,
}

impl std::str::FromStr for SmtpSecurity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "starttls" => Ok(SmtpSecurity::Starttls),
            "tls" => Ok(SmtpSecurity::Tls),
            "none" => Ok(SmtpSecurity::None),
            other => Err(format!("{other:?} is not starttls, tls or none")),
        }
    }
}

/// `HAKOBU_SMTP_*`.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, e.g. `Hakobu <hakobu@example.com>`.
    pub from: String,
}

// The password never reaches a log line.
impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .finish()
    }
}

impl SmtpSettings {
    /// Reads `HAKOBU_SMTP_*`; `None` when `HAKOBU_SMTP_HOST` is not set.
    pub fn from_env() -> anyhow::Result<Option<SmtpSettings>> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let Some(host) = var("HAKOBU_SMTP_HOST") else {
            return Ok(None);
        };
        let security: SmtpSecurity = var("HAKOBU_SMTP_SECURITY")
            .unwrap_or_else(|| "starttls".to_owned())
            .parse()
            .map_err(|e| anyhow::anyhow!("HAKOBU_SMTP_SECURITY: {e}"))?;
        let port = match var("HAKOBU_SMTP_PORT") {
            Some(p) => p
                .trim()
                .parse()
                .with_context(|| format!("HAKOBU_SMTP_PORT is {p:?}; expected a port number"))?,
            None => match security {
                SmtpSecurity::Starttls => 587,
                SmtpSecurity::Tls => 465,
                SmtpSecurity::None => 25,
            },
        };
        let settings = SmtpSettings {
            host,
            port,
            security,
            username: var("HAKOBU_SMTP_USERNAME"),
            password: var("HAKOBU_SMTP_PASSWORD"),
            from: var("HAKOBU_SMTP_FROM").context(
                "HAKOBU_SMTP_FROM is not set: the sender address, e.g. `Hakobu <hakobu@example.com>`",
            )?,
        };
        settings.check()?;
        Ok(Some(settings))
    }

    pub fn check(&self) -> anyhow::Result<()> {
        if self.from.parse::<Mailbox>().is_err() {
            bail!(
                "HAKOBU_SMTP_FROM is {:?}; expected an address like `Hakobu <hakobu@example.com>`",
                self.from
            );
        }
        if self.username.is_some() != self.password.is_some() {
            bail!("HAKOBU_SMTP_USERNAME and HAKOBU_SMTP_PASSWORD go together: set both or neither");
        }
        Ok(())
    }
}

/// A plain-text message to one address.
#[derive(Debug, Clone)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Sent as `Message-ID`, so a repeated delivery of one event is recognisably the same mail.
    pub message_id: Option<String>,
}

/// Sends mail through the configured SMTP server.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailer(from {})", self.from)
    }
}

impl Mailer {
    pub fn new(settings: &SmtpSettings) -> anyhow::Result<Mailer> {
        settings.check()?;
        let mut builder = match settings.security {
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)?,
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
        }
        .port(settings.port)
        .timeout(Some(Duration::from_secs(20)));
        if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from: settings.from.parse()?,
        })
    }

    pub async fn send(&self, email: &Email) -> anyhow::Result<()> {
        let to: Mailbox = email
            .to
            .parse()
            .with_context(|| format!("{:?} is not an email address", email.to))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .header(ContentType::TEXT_PLAIN);
        if let Some(id) = &email.message_id {
            builder = builder.message_id(Some(id.clone()));
        }
        let message = builder.body(email.body.clone())?;
        self.transport
            .send(message)
            .await
            .context("the SMTP server refused the message")?;
        Ok(())
    }
}
