//! What the post pages share: the notices after a form worked, a post's label and state in
//! words, why the scheduler held a post, and the names of the account's members.
use std::collections::HashMap;
use steward_domain::ids::AccountId;

use steward_app::members::view::list_members;
use steward_store::PostRow;

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Viewer;
pub(super) use crate::web::words::{hold_sentence, label_of, state_label};

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

/// A post in a list: its title, or the start of its text.
pub(super) fn label(post: &PostRow) -> String {
    label_of(post.title.as_deref(), &post.text)
}

/// The account's members by user id, through the members list (same authorization).
pub(super) async fn member_names(
    state: &AppState,
    viewer: &Viewer,
    account_id: &AccountId,
) -> Result<HashMap<String, String>, ApiError> {
    let list = list_members(state, &viewer.ctx(), &viewer.principal, account_id).await?;
    Ok(list.into_iter().map(|m| (m.user_id.into_string(), m.display_name)).collect())
}

pub(super) fn name_of(names: &HashMap<String, String>, user_id: &str) -> String {
    names.get(user_id).cloned().unwrap_or_else(|| "a former member".into())
}
