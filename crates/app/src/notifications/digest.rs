//! The daily digest: once a UTC day, each person who asked for it is mailed the figures of the
//! accounts they own (posts waiting for review, scheduled, held; published and failed in the
//! last 24 hours). Every replica runs the round; the day's claim in the database
//! (`notification_digests`, one row per person and day) lets exactly one of them send it.
use crate::mail::{self, html_escape};
use crate::services::Services;

/// How often the worker looks for mail to send and digests due.
pub const NOTIFY_POLL: std::time::Duration = std::time::Duration::from_secs(2);

const DAY_US: i64 = 24 * 3600 * 1_000_000;

/// Sends today's digests not yet claimed by any server; answers how many this server sent.
pub async fn run_once(s: &Services) -> steward_store::Result<usize> {
    if s.settings.mail_from.is_none() || s.settings.smtp_url.is_none() {
        return Ok(0);
    }
    let now_ts = s.clock.now();
    let now = now_ts.as_microsecond();
    let day = now_ts.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    let mut sent = 0;
    for who in s.store.digest_subscribers(&day).await? {
        let accounts = s.store.digest_accounts(&who.user_id, now - DAY_US).await?;
        if accounts.is_empty() || !s.store.claim_digest(&who.user_id, &day, now).await? {
            continue;
        }
        let base = s.settings.public_url.trim_end_matches('/');
        let mut text = format!("Your Steward accounts on {day} (the last 24 hours):\n\n");
        let mut html = format!("<!doctype html><html><body><h1>Your Steward accounts on {day}</h1><ul>");
        for a in &accounts {
            let platform = steward_domain::platform::platform(&a.platform).map_or(a.platform.as_str(), |p| p.name);
            let line = format!(
                "{} on {platform}: {} in review, {} scheduled, {} held; {} published and {} failed in the last 24 hours",
                a.handle, a.in_review, a.scheduled, a.held, a.published, a.failed
            );
            text.push_str(&format!("- {line}\n  {base}/accounts/{}\n", a.account_id));
            html.push_str(&format!(
                "<li><a href=\"{}\">{}</a></li>",
                html_escape(&format!("{base}/accounts/{}", a.account_id)),
                html_escape(&line)
            ));
        }
        text.push_str(&format!("\nYou asked for this digest; turn it off on {base}/notifications.\n"));
        html.push_str("</ul><p>You asked for this digest; turn it off on your notifications page.</p></body></html>");
        mail::send_later(s, who.email, format!("[Steward] Your daily digest, {day}"), text, html, "digest");
        sent += 1;
    }
    Ok(sent)
}
