//! The comments inbox of an account (the web app's `/accounts/{id}/comments`): the comments on
//! its recently published posts, each top-level comment with its replies one level deep, the
//! reply drafts waiting for (or past) the owner's approval under the comment they answer, and
//! the moderation the platform offers. Only members who may answer and moderate comments
//! (`comments.reply`) open it; the actions themselves stay [`super::reply`] and
//! [`crate::moderation::moderate`], which decide again.
use std::collections::HashMap;

use steward_domain::capability::Capability;
use steward_domain::ids::{AccountId, PostId};
use steward_domain::moderation::{ModerationAction, offered};
use steward_domain::platform::Platform;
use steward_domain::post::PostState;
use steward_store::PostRow;

use super::{CommentView, platform_error, published_rows, view};
use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::error::{AppError, AppResult};
use crate::platforms;
use crate::services::Services;

/// Reply drafts read to find those answering the comments shown.
const MAX_DRAFTS: i64 = 200;

/// The account's post a comment is on.
#[derive(Debug, Clone)]
pub struct PostRef {
    pub id: PostId,
    pub title: Option<String>,
    pub text: String,
}

/// A reply written through Steward that waits for (or went through) the owner's approval.
#[derive(Debug, Clone)]
pub struct ReplyDraft {
    pub post_id: PostId,
    pub text: String,
    pub state: PostState,
    /// RFC 3339.
    pub created_at: String,
}

/// A top-level comment, its replies (deeper replies are shown under the comment they started
/// from, oldest first) and the reply drafts answering any of them.
#[derive(Debug)]
pub struct Thread {
    pub comment: CommentView,
    pub post: Option<PostRef>,
    pub replies: Vec<CommentView>,
    /// Drafts by comment id (the top-level comment's or a reply's).
    pub drafts: HashMap<String, Vec<ReplyDraft>>,
}

#[derive(Debug)]
pub struct Inbox {
    pub platform: Platform,
    /// Why there are no comments to show at all (TikTok gives apps none; a credential the
    /// platform refuses), in one sentence; `None` when the platform answered.
    pub unavailable: Option<String>,
    /// Newest conversation first.
    pub threads: Vec<Thread>,
    /// The moderation actions the platform offers on this account.
    pub actions: Vec<ModerationAction>,
    /// Why the platform offers none, when it offers none.
    pub no_actions: Option<&'static str>,
    /// A reply by the viewer goes out only once the account's owner approves it (a person's
    /// own profile, and the viewer is not that person).
    pub reply_needs_owner: bool,
}

/// The comments inbox, for members holding `comments.reply`.
pub async fn inbox(s: &Services, ctx: &Ctx, who: &Principal, account_id: &AccountId) -> AppResult<Inbox> {
    let access = authorize(s, ctx, who, account_id, Need::Capability(Capability::CommentsReply)).await?;
    let account = &access.account;
    let platform = account.platform;
    let actions: Vec<ModerationAction> =
        ModerationAction::ALL.into_iter().filter(|a| offered(platform, &account.account_kind, *a).is_ok()).collect();
    let no_actions = if actions.is_empty() {
        offered(platform, &account.account_kind, ModerationAction::ALL[0]).err()
    } else {
        None
    };
    let personal =
        steward_domain::platform::kind_of(platform.as_str(), &account.account_kind).is_none_or(|k| k.personal);
    let mut inbox = Inbox {
        platform,
        unavailable: None,
        threads: Vec::new(),
        actions,
        no_actions,
        reply_needs_owner: personal && !access.is_owner(),
    };
    let rows = published_rows(s, account_id).await?;
    let pairs: Vec<(PostId, String)> =
        rows.iter().filter_map(|p| p.external_id.clone().map(|e| (p.id.clone(), e))).collect();
    let externals: Vec<String> = pairs.iter().map(|(_, e)| e.clone()).collect();
    let comments = match platforms::comments(s, account, &externals).await.map_err(|e| platform_error(s, account, e)) {
        Ok(c) => c,
        // What the platform does not offer, or a credential it refuses: said on the page.
        Err(AppError::Conflict(why)) => {
            inbox.unavailable = Some(why);
            return Ok(inbox);
        }
        Err(e) => return Err(e),
    };
    let comments: Vec<CommentView> = comments.into_iter().map(|c| view(c, &pairs)).collect();
    let drafts = s.store.reply_drafts(account_id, MAX_DRAFTS).await?;
    inbox.threads = threads(comments, &rows, &drafts);
    Ok(inbox)
}

/// Groups comments into threads, newest thread first (by its latest activity).
fn threads(comments: Vec<CommentView>, posts: &[PostRow], drafts: &[PostRow]) -> Vec<Thread> {
    let parent: HashMap<String, Option<String>> =
        comments.iter().map(|c| (c.id.clone(), c.parent_id.clone())).collect();
    // The top-level comment a comment belongs to (a parent that is not listed ends the walk).
    let root = |id: &str| -> String {
        let mut at = id.to_string();
        for _ in 0..64 {
            match parent.get(&at) {
                Some(Some(p)) if parent.contains_key(p) => at = p.clone(),
                _ => break,
            }
        }
        at
    };
    let mut tops: Vec<CommentView> = Vec::new();
    let mut replies: HashMap<String, Vec<CommentView>> = HashMap::new();
    for c in comments {
        let r = root(&c.id);
        if r == c.id {
            tops.push(c);
        } else {
            replies.entry(r).or_default().push(c);
        }
    }
    let latest = |t: &CommentView, rs: Option<&Vec<CommentView>>| -> String {
        rs.into_iter().flatten().map(|r| r.created_at.clone()).chain([t.created_at.clone()]).max().unwrap_or_default()
    };
    tops.sort_by_cached_key(|t| std::cmp::Reverse(latest(t, replies.get(&t.id))));
    tops.into_iter()
        .map(|comment| {
            let mut rs = replies.remove(&comment.id).unwrap_or_default();
            rs.sort_by(|a, b| a.created_at.cmp(&b.created_at));
            let mut by_comment: HashMap<String, Vec<ReplyDraft>> = HashMap::new();
            for id in std::iter::once(&comment.id).chain(rs.iter().map(|r| &r.id)) {
                let mine: Vec<ReplyDraft> = drafts
                    .iter()
                    .filter(|d| d.reply_to.as_deref() == Some(id.as_str()))
                    .rev()
                    .map(|d| ReplyDraft {
                        post_id: d.id.clone(),
                        text: d.text.clone(),
                        state: d.state,
                        created_at: rfc3339(d.created_at),
                    })
                    .collect();
                if !mine.is_empty() {
                    by_comment.insert(id.clone(), mine);
                }
            }
            let post = comment
                .post_id
                .as_deref()
                .and_then(|pid| posts.iter().find(|p| p.id.as_str() == pid))
                .map(|p| PostRef { id: p.id.clone(), title: p.title.clone(), text: p.text.clone() });
            Thread { comment, post, replies: rs, drafts: by_comment }
        })
        .collect()
}

fn rfc3339(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map(|t| t.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, parent: Option<&str>, at: &str) -> CommentView {
        CommentView {
            id: id.into(),
            post_id: None,
            post_external_id: "p".into(),
            author: "someone".into(),
            text: id.into(),
            created_at: at.into(),
            hidden: false,
            parent_id: parent.map(str::to_string),
        }
    }

    #[test]
    fn replies_hang_under_their_top_level_comment_one_level_deep() {
        let list = vec![
            c("a", None, "2027-01-01T10:00:00Z"),
            c("b", None, "2027-01-01T11:00:00Z"),
            c("a1", Some("a"), "2027-01-01T12:00:00Z"),
            c("a1x", Some("a1"), "2027-01-01T13:00:00Z"),
            c("orphan", Some("gone"), "2027-01-01T09:00:00Z"),
        ];
        let threads = threads(list, &[], &[]);
        let ids: Vec<&str> = threads.iter().map(|t| t.comment.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "orphan"], "the thread with the latest reply first");
        let replies: Vec<&str> = threads[0].replies.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(replies, ["a1", "a1x"], "a reply to a reply joins its thread");
    }
}
