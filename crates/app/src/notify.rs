//! Telling people about what the scheduler did on their behalf: a post published, held at the
//! moment of publishing (why, in plain words) or failed for good. The audit event in the same
//! transaction is the durable record. [`tell_authors`] writes each author's notification in
//! that transaction; [`raise_alerts`] turns each hold or failure into alerts in it too — one for the account (its owner and admins) and, when the author is
//! someone else, a personal one for the author — so delivery (in the app, by email, by
//! webhook) follows the recipients' preferences like every other alert. The log hooks write
//! a line without any content of the post.
use steward_domain::ids::{AccountId, PostId, UserId};
use steward_domain::status::NotificationKind;
use steward_store::{AccountRow, Finding, Micros, Tx};

use crate::alerts::{AlertKind, raise};
use crate::notifications;

/// What became of a due post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Published,
    Held,
    Failed,
}

/// What happened to a post, for its author and the account's owner.
#[derive(Debug, Clone)]
pub struct PostNotice {
    pub account_id: AccountId,
    pub post_id: PostId,
    pub author_id: UserId,
    pub owner_id: UserId,
    /// A stable code: a hold reason (`outside_window`, `locked_down`, …) or `publish_failed`.
    pub reason: String,
    /// The same sentence the post's `last_error` shows.
    pub message: String,
}

/// A due post was not published: the rules at the moment of publishing did not allow it.
pub fn post_held(notice: &PostNotice) {
    tracing::info!(
        account_id = %notice.account_id,
        post_id = %notice.post_id,
        author_id = %notice.author_id,
        owner_id = %notice.owner_id,
        reason = %notice.reason,
        "post held: its author and the owner are to be told why"
    );
}

/// A post failed for good (the platform refused it, or every retry was used up).
pub fn post_failed(notice: &PostNotice) {
    tracing::warn!(
        account_id = %notice.account_id,
        post_id = %notice.post_id,
        author_id = %notice.author_id,
        owner_id = %notice.owner_id,
        reason = %notice.reason,
        "post failed: its author and the owner are to be told"
    );
}

/// Writes each post's author a notification of its outcome, inside the caller's transaction.
pub async fn tell_authors(
    tx: &mut Tx,
    notices: &[(Outcome, PostNotice, AccountRow)],
    now: Micros,
) -> steward_store::Result<()> {
    for (outcome, n, account) in notices {
        let on = notifications::account_words(account);
        let (kind, text) = match outcome {
            Outcome::Published => (NotificationKind::Published, format!("Your post for {on} is published.")),
            Outcome::Held => (NotificationKind::Held, format!("Your post for {on} was held: {}", n.message)),
            Outcome::Failed => {
                (NotificationKind::Failed, format!("Your post for {on} could not be published: {}", n.message))
            }
        };
        notifications::tell_author(tx, account, &n.post_id, &n.author_id, None, kind, &text, now).await?;
    }
    Ok(())
}

/// Raises the alerts for the holds and failures among `notices` inside the caller's transaction.
pub async fn raise_alerts(
    tx: &mut Tx,
    notices: &[(Outcome, PostNotice, AccountRow)],
    now: Micros,
) -> steward_store::Result<()> {
    for (outcome, n, _) in notices {
        let (kind, summary) = match outcome {
            Outcome::Published => continue,
            Outcome::Held => (AlertKind::PostHeld, "A scheduled post was held instead of published"),
            Outcome::Failed => (AlertKind::PostFailed, "A post could not be published"),
        };
        let detail = format!("Post {}: {}", n.post_id, n.message);
        raise(
            tx,
            Finding {
                kind,
                account_id: Some(n.account_id.clone()),
                user_id: None,
                summary: summary.to_string(),
                detail: detail.clone(),
                at: now,
            },
        )
        .await?;
        if n.author_id != n.owner_id {
            raise(
                tx,
                Finding {
                    kind,
                    account_id: None,
                    user_id: Some(n.author_id.clone()),
                    summary: format!("{summary} (your post)"),
                    detail,
                    at: now,
                },
            )
            .await?;
        }
    }
    Ok(())
}
