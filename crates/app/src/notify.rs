//! Telling people about what the scheduler did on their behalf: a post held at the moment of
//! publishing (why, in plain words) or failed for good. The audit event in the same
//! transaction is the durable record. [`raise_alerts`] turns each notice into alerts in that
//! same transaction — one for the account (its owner and admins) and, when the author is
//! someone else, a personal one for the author — so delivery (in the app, by email, by
//! webhook) follows the recipients' preferences like every other alert. The log hooks write
//! a line without any content of the post.
use steward_store::{Finding, Micros, Tx};

use crate::alerts::{AlertKind, raise};

/// What happened to a post, for its author and the account's owner.
#[derive(Debug, Clone)]
pub struct PostNotice {
    pub account_id: String,
    pub post_id: String,
    pub author_id: String,
    pub owner_id: String,
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

/// Raises the alerts for `notices` (`true`: held, `false`: failed) inside the caller's transaction.
pub async fn raise_alerts(tx: &mut Tx, notices: &[(bool, PostNotice)], now: Micros) -> steward_store::Result<()> {
    for (held, n) in notices {
        let (kind, summary) = if *held {
            (AlertKind::PostHeld, "A scheduled post was held instead of published")
        } else {
            (AlertKind::PostFailed, "A post could not be published")
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
