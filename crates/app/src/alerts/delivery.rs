//! Delivering alerts by email and signed webhook. Raising an alert queues one outbox row per
//! recipient and channel in the same transaction; the delivery worker (`steward_server::worker::deliveries`), started by `App::serve` on
//! every replica, sends due rows — email over SMTP (lettre), webhooks signed with HMAC-SHA256 —
//! and retries failures with exponential backoff (10 s, 20 s, 40 s … up to an hour, 12
//! attempts). Replicas never send one attempt twice: each claims a row by compare-and-set on
//! its schedule.
use std::time::Duration;

use lettre::Message;
use steward_store::DeliveryRow;

use crate::alerts::view::AlertView;
use crate::crypto::hmac_sha256;
use crate::mail::{self, MAIL_OFF, MailError, html_escape};
use crate::services::Services;
use crate::vault::webhook_secret_aad;

/// `Steward-Signature` for a body sent at `timestamp` (Unix seconds): API.md's
/// `v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
#[must_use]
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signed = Vec::with_capacity(body.len() + 24);
    signed.extend_from_slice(timestamp.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    format!("v1={}", hex::encode(hmac_sha256(secret.as_bytes(), &signed)))
}

const MAX_ATTEMPTS: i64 = 12;
/// How long an attempt may take before another worker may try again.
const LEASE: Duration = Duration::from_secs(60);
/// How often the delivery worker looks for due deliveries.
pub const POLL: Duration = Duration::from_millis(500);

/// The wait before retry number `attempt` (1 = the first retry): 10 s doubling, at most an hour.
#[must_use]
pub fn backoff(attempt: i64) -> Duration {
    let exp = u32::try_from(attempt.clamp(1, 20) - 1).unwrap_or(0);
    Duration::from_secs(10u64.saturating_mul(1u64 << exp).min(3600))
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// One round: every delivery due now, each claimed before it is sent.
pub async fn deliver_due(state: &Services) -> anyhow::Result<usize> {
    let now = state.clock.now_us();
    let due = state.store.due_deliveries(now, 50).await?;
    let mut sent = 0;
    for d in due {
        // The lease runs from the claim, not from the round's start: a slow round's late claims
        // must not be born expired, free for another replica to send again.
        if !state.store.claim_delivery(&d, state.clock.now_us() + micros(LEASE)).await? {
            continue;
        }
        // Queued while mail was on, and the server has none now: nothing to send it with, and
        // nothing worth a warning per alert.
        if d.channel == "email" && !state.settings.mail_enabled() {
            tracing::debug!(delivery = %d.id, "email delivery dropped: mail is off on this server");
            state.store.delivery_failed(&d.id, MAIL_OFF, None, state.clock.now_us()).await?;
            continue;
        }
        let attempt = d.attempts + 1;
        let outcome = match state.store.alert_by_id(&d.alert_id).await? {
            None => Err(Failure::Permanent("the alert no longer exists".into())),
            // Recipients are chosen when the alert is raised; a retry hours later must not reach
            // an admin removed, suspended (a lockdown) or expired since, who can no longer list it.
            Some(_) if !state.store.alert_visible_to(&d.alert_id, &d.user_id, state.clock.now_us()).await? => {
                Err(Failure::Permanent("its recipient may no longer see this account's alerts".into()))
            }
            Some(alert) => deliver(state, &d, AlertView::from(alert)).await,
        };
        let now = state.clock.now_us();
        match outcome {
            Ok(()) => {
                state.store.delivery_succeeded(&d.id, now).await?;
                state.metrics.alert_deliveries.inc();
                sent += 1;
            }
            Err(Failure::Permanent(why)) => {
                tracing::warn!(delivery = %d.id, channel = %d.channel, error = %why, "alert delivery given up");
                state.store.delivery_failed(&d.id, &why, None, now).await?;
            }
            Err(Failure::Retry(why)) => {
                let retry_at = (attempt < MAX_ATTEMPTS).then(|| now + micros(backoff(attempt)));
                tracing::info!(delivery = %d.id, channel = %d.channel, attempt, error = %why, "alert delivery failed");
                state.store.delivery_failed(&d.id, &why, retry_at, now).await?;
            }
        }
    }
    Ok(sent)
}

#[derive(Debug)]
enum Failure {
    Retry(String),
    Permanent(String),
}

async fn deliver(state: &Services, d: &DeliveryRow, alert: AlertView) -> Result<(), Failure> {
    match d.channel.as_str() {
        "email" => send_email(state, &d.email, &alert).await,
        "webhook" => send_webhook(state, d, &alert).await,
        other => Err(Failure::Permanent(format!("unknown channel {other:?}"))),
    }
}

/// The email: a text part and an HTML part saying the same.
pub fn email_message(from: &str, to: &str, public_url: &str, alert: &AlertView) -> anyhow::Result<Message> {
    let link = format!("{}/alerts", public_url.trim_end_matches('/'));
    let repeated = if alert.count > 1 { format!(" (seen {} times)", alert.count) } else { String::new() };
    let text = format!(
        "{summary}{repeated}\n\n{detail}\n\nSeverity: {severity}\nKind: {kind}\nFirst seen: {created}\n\nReview and acknowledge it in Steward: {link}\n",
        summary = alert.summary,
        detail = alert.detail,
        severity = alert.severity,
        kind = alert.kind,
        created = alert.created_at,
    );
    let html = format!(
        "<!doctype html><html><body><h1>{summary}{repeated}</h1><p>{detail}</p>\
         <p>Severity: <strong>{severity}</strong><br>Kind: {kind}<br>First seen: {created}</p>\
         <p><a href=\"{link}\">Review and acknowledge it in Steward</a></p></body></html>",
        summary = html_escape(&alert.summary),
        detail = html_escape(&alert.detail),
        severity = html_escape(&alert.severity),
        kind = html_escape(&alert.kind),
        created = html_escape(&alert.created_at),
        link = html_escape(&link),
    );
    mail::message(from, to, &format!("[Steward] {}", alert.summary), text, html)
}

async fn send_email(state: &Services, to: &str, alert: &AlertView) -> Result<(), Failure> {
    let Some(from) = &state.settings.mail_from else {
        return Err(Failure::Permanent(MAIL_OFF.into()));
    };
    let message = email_message(from, to, &state.settings.public_url, alert)
        .map_err(|e| Failure::Permanent(format!("cannot build the email: {e}")))?;
    mail::send_message(state, message).await.map_err(|e| match e {
        MailError::Permanent(m) => Failure::Permanent(m),
        MailError::Retry(m) => Failure::Retry(m),
    })
}

async fn send_webhook(state: &Services, d: &DeliveryRow, alert: &AlertView) -> Result<(), Failure> {
    let (Some(url), Some(sealed)) = (&d.webhook_url, &d.webhook_secret_sealed) else {
        return Err(Failure::Permanent("the recipient no longer has a webhook".into()));
    };
    // Checked at every delivery, not only when saved: DNS may have changed since.
    let url = steward_connectors::net::check_outbound_endpoint(url, state.settings.allow_private_networks)
        .await
        .map_err(|e| Failure::Permanent(e.to_string()))?;
    let secret = state
        .vault()
        .open(&webhook_secret_aad(&d.user_id), sealed)
        .map_err(|e| Failure::Permanent(format!("the webhook secret cannot be opened: {e}")))?;
    let secret = String::from_utf8_lossy(&secret).into_owned();
    let body = serde_json::to_vec(alert).map_err(|e| Failure::Permanent(e.to_string()))?;
    let timestamp = state.clock.now().as_second();
    let sig = signature(&secret, timestamp, &body);
    let resp = state
        .http
        .post(url)
        .timeout(Duration::from_secs(10))
        .header("content-type", "application/json")
        .header("Steward-Timestamp", timestamp.to_string())
        .header("Steward-Signature", sig)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            Failure::Retry(if e.is_timeout() { "the webhook did not answer in time".into() } else { format!("{e}") })
        })?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(Failure::Retry(format!("the webhook answered {}", resp.status())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_over_timestamp_dot_body() {
        // RFC 4231-style check against an independent computation.
        let sig = signature("secret", 1_700_000_000, b"{\"a\":1}");
        let expected = hex::encode(hmac_sha256(b"secret", b"1700000000.{\"a\":1}"));
        assert_eq!(sig, format!("v1={expected}"));
    }

    #[test]
    fn backoff_starts_within_thirty_seconds_and_doubles_to_an_hour() {
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(2), Duration::from_secs(20));
        assert_eq!(backoff(3), Duration::from_secs(40));
        assert_eq!(backoff(12), Duration::from_secs(3600));
    }
}
