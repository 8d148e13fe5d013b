//! Telling people about what the scheduler did on their behalf: a post held at the moment of
//! publishing (why, in plain words) or failed for good. The audit event in the same
//! transaction is the durable record; these hooks are where delivery (in the app, by email,
//! by webhook) plugs in. For now they write a log line without any content of the post.

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
