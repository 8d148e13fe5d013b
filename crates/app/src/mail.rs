//! Sending one email over SMTP (lettre, text + HTML): the one way Steward sends mail, used by
//! alert delivery, password reset and change notices, and invitations.
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::services::Services;

pub const MAIL_OFF: &str = "mail is off on this server (STEWARD_SMTP_URL or STEWARD_MAIL_FROM is unset)";

/// Why an email did not go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailError {
    /// Worth trying again later (the server could not be reached, or said "later").
    Retry(String),
    /// Trying again will not help (mail is off, a bad address, a refusal).
    Permanent(String),
}

impl std::fmt::Display for MailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailError::Retry(m) | MailError::Permanent(m) => f.write_str(m),
        }
    }
}

/// A message with a text part and an HTML part saying the same.
pub fn message(from: &str, to: &str, subject: &str, text: String, html: String) -> anyhow::Result<Message> {
    let from: Mailbox = from.parse()?;
    let to: Mailbox = to.parse()?;
    Ok(Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .multipart(MultiPart::alternative_plain_html(text, html))?)
}

/// Escapes a value for the HTML part.
#[must_use]
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Sends `subject` to `to` with the server's `STEWARD_MAIL_FROM`, over `STEWARD_SMTP_URL`.
pub async fn send(s: &Services, to: &str, subject: &str, text: String, html: String) -> Result<(), MailError> {
    let Some(from) = &s.settings.mail_from else {
        return Err(MailError::Permanent(MAIL_OFF.into()));
    };
    let message = message(from, to, subject, text, html)
        .map_err(|e| MailError::Permanent(format!("cannot build the email: {e}")))?;
    send_message(s, message).await
}

/// Sends a built message over `STEWARD_SMTP_URL`.
pub async fn send_message(s: &Services, message: Message) -> Result<(), MailError> {
    let (Some(url), Some(_)) = (&s.settings.smtp_url, &s.settings.mail_from) else {
        return Err(MailError::Permanent(MAIL_OFF.into()));
    };
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
        .map_err(|e| MailError::Permanent(format!("STEWARD_SMTP_URL is not usable: {e}")))?
        .timeout(Some(Duration::from_secs(20)))
        .build();
    match transport.send(message).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_permanent() => Err(MailError::Permanent(format!("the mail server refused it: {e}"))),
        Err(e) => Err(MailError::Retry(format!("sending the email failed: {e}"))),
    }
}

/// Sends in the background, so the request does not wait for the mail server (and a reset
/// request for a known address answers as fast as one for an unknown address). Failures are
/// logged without the message.
pub fn send_later(s: &Services, to: String, subject: String, text: String, html: String, what: &'static str) {
    let s = s.clone();
    tokio::spawn(async move {
        if let Err(e) = send(&s, &to, &subject, text, html).await {
            tracing::warn!(kind = what, error = %e, "an email could not be sent");
        }
    });
}
