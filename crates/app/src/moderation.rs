//! Moderating comments on the account's posts with what each platform's API really offers
//! (`steward_domain::moderation::offered`): deleting a comment on a LinkedIn Page's post,
//! hiding a reply under a Bluesky post, muting or blocking a comment's author on Mastodon,
//! hiding in the sandbox. Needs `comments.reply` (the moderator's capability: "reply to and hide
//! platform comments"); each action done is audited; one the platform does not offer is a 409
//! saying why.
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::AccountId;
use steward_domain::moderation::{ModerationAction, offered};

use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::engagement::platform_error;
use crate::error::{AppError, AppResult};
use crate::platforms;
use crate::services::Services;
use crate::usecase::{Audit, audited};

fn audit_action(action: ModerationAction) -> Action {
    match action {
        ModerationAction::Delete => Action::CommentDelete,
        ModerationAction::Hide => Action::CommentHide,
        ModerationAction::MuteAuthor => Action::CommentAuthorMute,
        ModerationAction::BlockAuthor => Action::CommentAuthorBlock,
    }
}

/// Applies `action` to the comment `comment_id` (an id from the account's comment list).
pub async fn moderate(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    comment_id: &str,
    action: ModerationAction,
) -> AppResult<()> {
    let audited_as = audit_action(action);
    ctx.slot.set_action(audited_as, Some(format!("account:{account_id}")));
    let access = authorize(s, ctx, who, account_id, Need::Capability(Capability::CommentsReply)).await?;
    if comment_id.trim().is_empty() {
        return Err(AppError::validation("comment_id", "must name a comment"));
    }
    let account = &access.account;
    if let Err(why) = offered(account.platform, &account.account_kind, action) {
        return Err(AppError::Conflict(format!("{} is not possible here: {why}", action.words())));
    }
    let done = platforms::moderate(s, account, comment_id, action).await.map_err(|e| platform_error(s, account, e))?;
    // Done on the platform; its audit event records who did what to which comment.
    audited(s, ctx, &who.actor(), async |_| {
        let audit = Audit::on_account(account_id, audited_as)
            .target(format!("comment:{comment_id}"))
            .detail(json!({ "platform": account.platform.as_str(), "author": done.author }));
        Ok(((), audit))
    })
    .await
}
