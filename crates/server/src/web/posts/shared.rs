//! What the post pages share: the notices after a form worked, a post's label and state in
//! words, why the scheduler held a post, and the names of the account's members.
use std::collections::HashMap;
use steward_domain::ids::AccountId;

use steward_app::members::view::list_members;
use steward_store::PostRow;

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Viewer;

/// Fixed notices after a post form worked (a key in the URL, never text from it).
pub(super) fn notice(key: Option<&str>) -> Option<String> {
    let text = match key? {
        "created" => "The draft is saved. Submit it for review when it is ready.",
        "saved" => "Saved. An edit makes the post a draft again: submit it for review when it is ready.",
        "submitted" => "Submitted for review.",
        "approved" => "Approved.",
        "changes" => "Changes requested: the post is a draft again, and the author sees your comment.",
        "scheduled" => "Scheduled.",
        "publishing" => "Publishing now.",
        "cancelled" => "The post is cancelled.",
        "commented" => "Comment added.",
        _ => return None,
    };
    Some(text.into())
}

/// How much of a text stands for its post in lists (the calendar reads one character more).
const LABEL_CHARS: usize = steward_store::CALENDAR_TEXT_CHARS - 1;

/// A post in a list: its title, or the start of its text.
pub(super) fn label(post: &PostRow) -> String {
    label_of(post.title.as_deref(), &post.text)
}

pub(super) fn label_of(title: Option<&str>, text: &str) -> String {
    if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) {
        return t.to_string();
    }
    let text = text.trim();
    if text.is_empty() {
        return "(media only)".into();
    }
    let mut short: String = text.chars().take(LABEL_CHARS).collect();
    if text.chars().nth(LABEL_CHARS).is_some() {
        short.push('…');
    }
    short
}

pub(super) fn state_label(state: &str) -> &'static str {
    match state {
        "draft" => "Draft",
        "in_review" => "In review",
        "approved" => "Approved",
        "scheduled" => "Scheduled",
        "publishing" => "Publishing",
        "published" => "Published",
        "failed" => "Failed",
        "cancelled" => "Cancelled",
        _ => "Unknown",
    }
}

/// Why the scheduler held a post, for its owner and members.
pub(super) fn hold_sentence(reason: &str) -> &'static str {
    match reason {
        "approvals_no_longer_valid" => {
            "It was held when it was due: some of its approvals no longer count (an approver lost the right to approve). It is back in review."
        }
        "outside_window" => {
            "It was held when it was due: the time fell outside the posting hours of the member who scheduled it. Schedule it again."
        }
        "daily_quota_exceeded" => {
            "It was held when it was due: the member who scheduled it had reached their daily quota. Schedule it again."
        }
        "pace_exceeded" => {
            "It was held when it was due: the account's pace limits did not allow it. Schedule it again."
        }
        "locked_down" => "It was held when it was due: the account is locked down.",
        "needs_reconnect" => {
            "It was held when it was due: the platform no longer accepts the account's connection. The owner must reconnect it, then schedule it again."
        }
        _ => "It was held when it was due. Schedule it again.",
    }
}

/// The account's members by user id, through the members list (same authorization).
pub(super) async fn member_names(
    state: &AppState,
    viewer: &Viewer,
    account_id: &AccountId,
) -> Result<HashMap<String, String>, ApiError> {
    let list = list_members(state, &viewer.ctx(), &viewer.principal, account_id).await?;
    Ok(list.into_iter().map(|m| (m.user_id, m.display_name)).collect())
}

pub(super) fn name_of(names: &HashMap<String, String>, user_id: &str) -> String {
    names.get(user_id).cloned().unwrap_or_else(|| "a former member".into())
}
