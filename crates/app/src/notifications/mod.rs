//! Notifications that move the work: a post entering review tells the members who may approve
//! it; its author is told when it is approved, sent back with changes, scheduled, published,
//! held or failed. Each is written in the transaction of the change it tells of (so none is
//! lost or written twice), and mailed after the commit to people who keep mail on
//! ([`mail_pending`]: each mail claimed once, whichever server sends it). A person reads only
//! the notifications of accounts they are still a live member of.
pub mod digest;
pub mod inbox;
pub mod preferences;

use steward_domain::capability::Capability;
use steward_domain::ids::{NotificationId, PostId, UserId};
use steward_domain::status::{MembershipStatus, NotificationKind};
use steward_store::{AccountRow, Micros, NewNotification, NotificationMailRow, Tx};

use crate::authz::membership_rights;
use crate::mail::{self, html_escape};
use crate::services::Services;

/// How many characters of a post a notification quotes.
const EXCERPT_CHARS: usize = 80;
/// Mails sent per round of [`mail_pending`].
const MAIL_BATCH: i64 = 100;

/// The opening of a post's text, on one line.
#[must_use]
pub fn excerpt(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= EXCERPT_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(EXCERPT_CHARS).collect();
    cut.push('…');
    cut
}

/// The account as a sentence names it (`@handle on Mastodon`).
#[must_use]
pub fn account_words(account: &AccountRow) -> String {
    let platform =
        steward_domain::platform::platform(account.platform.as_str()).map_or(account.platform.as_str(), |p| p.name);
    format!("{} on {platform}", account.handle)
}

async fn add(
    tx: &mut Tx,
    user_id: &UserId,
    account: &AccountRow,
    post_id: &PostId,
    kind: NotificationKind,
    text: &str,
    now: Micros,
) -> steward_store::Result<()> {
    let id = NotificationId::new(uuid::Uuid::now_v7().to_string());
    tx.insert_notification(NewNotification {
        id: &id,
        user_id,
        account_id: &account.id,
        post_id: Some(post_id),
        kind,
        text,
        now,
    })
    .await
}

/// A post entered review: every live member who may approve it is told, except whoever
/// submitted it and its author (nobody approves their own post by being told to).
pub(crate) async fn tell_reviewers(
    tx: &mut Tx,
    account: &AccountRow,
    post_id: &PostId,
    author_id: &UserId,
    submitter: &str,
    post_text: &str,
    now: Micros,
) -> steward_store::Result<()> {
    let text =
        format!("{submitter} asks for your review of a post for {}: “{}”", account_words(account), excerpt(post_text));
    for m in tx.memberships_of(&account.id).await? {
        let Some(rights) = membership_rights(&m) else { continue };
        let live = rights.is_owner() || (m.status == MembershipStatus::Active && m.expires_at.is_none_or(|e| e > now));
        if !live || !rights.has(Capability::PostsApprove) || &m.user_id == author_id {
            continue;
        }
        add(tx, &m.user_id, account, post_id, NotificationKind::ReviewRequested, &text, now).await?;
    }
    Ok(())
}

/// Tells a post's author what became of it, unless they did it themselves (`actor_id`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn tell_author(
    tx: &mut Tx,
    account: &AccountRow,
    post_id: &PostId,
    author_id: &UserId,
    actor_id: Option<&UserId>,
    kind: NotificationKind,
    text: &str,
    now: Micros,
) -> steward_store::Result<()> {
    if actor_id == Some(author_id) {
        return Ok(());
    }
    add(tx, author_id, account, post_id, kind, text, now).await
}

/// The email of one notification: its sentence and a link to the post.
fn email(s: &Services, n: &NotificationMailRow) -> (String, String, String) {
    let base = s.settings.public_url.trim_end_matches('/');
    let link = match &n.notification.post_id {
        Some(p) => format!("{base}/posts/{p}"),
        None => format!("{base}/notifications"),
    };
    let text = &n.notification.text;
    let subject = format!("[Steward] {}", excerpt(text));
    let body = format!(
        "{text}\n\nOpen it in Steward: {link}\n\nYou get these emails because notification mail is on; turn it off on \
         {base}/notifications.\n"
    );
    let html = format!(
        "<!doctype html><html><body><p>{}</p><p><a href=\"{}\">Open it in Steward</a></p>\
         <p>You get these emails because notification mail is on; turn it off on your notifications page.</p></body></html>",
        html_escape(text),
        html_escape(&link)
    );
    (subject, body, html)
}

/// Mails the notifications waiting to be mailed, each claimed first so that no server sends one
/// twice. Called after a change commits, and by the worker (which also catches mail a stopped
/// server left behind).
pub async fn mail_pending(s: &Services) -> steward_store::Result<usize> {
    if s.settings.mail_from.is_none() || s.settings.smtp_url.is_none() {
        return Ok(0);
    }
    let mut sent = 0;
    for n in s.store.notifications_to_mail(s.clock.now_us(), MAIL_BATCH).await? {
        if !n.visible {
            // Removed from the account meanwhile: nothing about it reaches them any more.
            s.store.drop_notification_mail(&n.notification.id).await?;
            continue;
        }
        if !s.store.claim_notification_mail(&n.notification.id).await? {
            continue;
        }
        let (subject, text, html) = email(s, &n);
        mail::send_later(s, n.email.clone(), subject, text, html, "notification");
        sent += 1;
    }
    Ok(sent)
}

/// [`mail_pending`] after a use case's commit: a failure is logged (the worker tries again).
pub(crate) async fn mail_after_commit(s: &Services) {
    if let Err(e) = mail_pending(s).await {
        tracing::warn!(error = %e, "notification mail could not be queued; the worker tries again");
    }
}
