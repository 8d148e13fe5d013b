//! What waits for a person across their accounts, shown first on their home: posts they may
//! approve, their drafts sent back with a request for changes, and posts the scheduler held.
use steward_domain::capability::Capability;
use steward_domain::ids::{AccountId, PostId};
use steward_domain::post::HoldReason;

use crate::accounts::view::list_accounts;
use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::error::AppResult;
use crate::services::Services;

/// How many lines of each kind one account contributes (the posts page lists them all).
pub const NEEDS_YOU_PER_ACCOUNT: i64 = 20;

/// A draft of the person's sent back to them.
#[derive(Debug, Clone)]
pub struct SentBack {
    pub post_id: PostId,
    pub title: Option<String>,
    /// The start of the text (61 characters at most).
    pub text: String,
    /// What the reviewer asked for, and who asked.
    pub request: String,
    pub requested_by: String,
}

/// A post the scheduler held when it was due.
#[derive(Debug, Clone)]
pub struct Held {
    pub post_id: PostId,
    pub title: Option<String>,
    pub text: String,
    pub reason: Option<HoldReason>,
}

/// One account's share of what waits for the person.
#[derive(Debug, Clone)]
pub struct AccountNeeds {
    pub account_id: AccountId,
    pub account_name: String,
    /// Posts in review the person could approve now (0 when they do not approve here).
    pub to_review: i64,
    pub sent_back: Vec<SentBack>,
    pub held: Vec<Held>,
}

impl AccountNeeds {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.to_review == 0 && self.sent_back.is_empty() && self.held.is_empty()
    }
}

/// Every account of the person where something waits for them, in the order of their accounts.
/// Each account is authorized through `authz` (an account whose new rules are not accepted yet,
/// or where the person's access is suspended, contributes nothing: the home says so per account).
/// Held posts are shown to those who may schedule them again (`posts.publish`) and to their
/// author or scheduler.
pub async fn needs_you(s: &Services, ctx: &Ctx, who: &Principal) -> AppResult<Vec<AccountNeeds>> {
    let mut out = Vec::new();
    for view in list_accounts(s, who).await? {
        if view.my_status != "active" {
            continue;
        }
        let account_id = view.id.clone();
        let Ok(access) = authorize(s, ctx, who, &account_id, Need::Capability(Capability::AccountView)).await else {
            continue;
        };
        let me = &who.user_id;
        let to_review = if access.has(Capability::PostsApprove) {
            s.store.count_awaiting_approval(&account_id, me).await?
        } else {
            0
        };
        let mut sent_back: Vec<SentBack> = Vec::new();
        for row in s.store.changes_requested_of(&account_id, me, NEEDS_YOU_PER_ACCOUNT).await? {
            // Two reviewers may both have asked: the post is one line, with the latest request.
            if sent_back.iter().any(|b| b.post_id == row.id) {
                continue;
            }
            sent_back.push(SentBack {
                post_id: row.id,
                title: row.title,
                text: row.text,
                request: row.request,
                requested_by: row.requested_by,
            });
        }
        let reschedules = access.has(Capability::PostsPublish);
        let held = s
            .store
            .held_posts(&account_id, NEEDS_YOU_PER_ACCOUNT)
            .await?
            .into_iter()
            .filter(|p| reschedules || p.author_id == *me || p.scheduled_by.as_ref() == Some(me))
            .map(|p| Held { post_id: p.id, title: p.title, text: p.text, reason: p.hold_reason })
            .collect();
        let needs = AccountNeeds { account_id, account_name: view.display_name, to_review, sent_back, held };
        if !needs.is_empty() {
            out.push(needs);
        }
    }
    Ok(out)
}
