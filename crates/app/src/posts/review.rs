//! Review: submitting a draft, approving a version, requesting changes, and the review thread
//! of comments on a post.
use serde::Deserialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::PostId;
use steward_domain::post::{PostAction, PostState};
use steward_domain::status::NotificationKind;
use steward_store::NewPostComment;
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::error::{AppError, AppResult};
use crate::notifications;
use crate::posts::rules::approval_rules;
use crate::posts::view::{CommentView, PostView, comment_view, current};
use crate::posts::workflow::{decide, load, simple_transition, store_step, target};
use crate::services::Services;
use crate::usecase::{Audit, audited};

pub const MAX_COMMENT_CHARS: usize = 5_000;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ApproveRequest {
    /// The version being approved: must be the post's current version.
    #[schema(minimum = 0, maximum = 4_294_967_295_i64)]
    pub version: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RequestChangesRequest {
    /// What should change; goes into the review thread.
    pub comment: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CommentRequest {
    pub body: String,
}

fn validate_comment(field: &str, body: &str) -> AppResult<String> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > MAX_COMMENT_CHARS {
        return Err(AppError::validation(field, format!("must be 1 to {MAX_COMMENT_CHARS} characters")));
    }
    Ok(body.to_string())
}

/// Submits a draft for review.
pub async fn submit_post(s: &Services, ctx: &Ctx, who: &Principal, post_id: &PostId) -> AppResult<PostView> {
    let access =
        simple_transition(s, ctx, who, post_id, Capability::DraftsCreate, PostAction::Submit, Action::PostSubmit)
            .await?;
    current(s, &access.account, post_id).await
}

/// Approves `input.version`, which must be the post's current version.
pub async fn approve_post(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    post_id: &PostId,
    input: ApproveRequest,
) -> AppResult<PostView> {
    ctx.slot.set_action(Action::PostApprove, Some(target(post_id)));
    let (_, access) = load(s, ctx, who, post_id, Capability::PostsApprove).await?;
    let Ok(version) = u32::try_from(input.version) else {
        return Err(AppError::validation("version", "must be a version number of this post"));
    };
    let now = s.clock.now_us();
    let sends_reply = audited(s, ctx, &who.actor(), async |tx| {
        let d = decide(tx, &access, post_id, &PostAction::Approve { version }, now).await?;
        store_step(tx, &d, &who.user_id, now).await?;
        let mut to_state = d.step.state;
        // An approved reply draft has nothing left to wait for: it goes out now, as the
        // approver's, if they may publish (otherwise it stays approved for someone who may).
        if d.post.reply_to.is_some()
            && to_state == PostState::Approved
            && let Ok(send) = decide(tx, &access, post_id, &PostAction::PublishNow { now: s.clock.now() }, now).await
        {
            store_step(tx, &send, &who.user_id, now).await?;
            to_state = send.step.state;
        }
        if d.from == PostState::InReview && matches!(to_state, PostState::Approved | PostState::Scheduled) {
            let now_words = if to_state == PostState::Scheduled { " It goes out now." } else { "" };
            let text = format!(
                "{} approved your post for {}: “{}”.{now_words}",
                who.display_name,
                notifications::account_words(&access.account),
                notifications::excerpt(&d.post.text)
            );
            notifications::tell_author(
                tx,
                &access.account,
                post_id,
                &d.post.author_id,
                Some(&who.user_id),
                NotificationKind::Approved,
                &text,
                now,
            )
            .await?;
        }
        let rules = approval_rules(&access.account);
        let audit = Audit::on_account(&d.post.account_id, Action::PostApprove).target(target(post_id)).detail(json!({
            "post_id": post_id,
            "version": d.post.version,
            "approvals": d.counting.len() + 1,
            "approvals_required": rules.policy.approvals_required,
            "owner_approval_required": rules.owner_approval_required(),
            "by_owner": access.is_owner(),
            "from_state": d.from.as_str(),
            "to_state": to_state.as_str(),
            "reply_to": d.post.reply_to,
        }));
        Ok((to_state == PostState::Scheduled, audit))
    })
    .await?;
    notifications::mail_after_commit(s).await;
    if sends_reply {
        s.scheduler.wake();
    }
    current(s, &access.account, post_id).await
}

/// Sends the post back to draft with a comment for its author in the review thread.
pub async fn request_changes(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    post_id: &PostId,
    input: RequestChangesRequest,
) -> AppResult<PostView> {
    ctx.slot.set_action(Action::PostRequestChanges, Some(target(post_id)));
    let (_, access) = load(s, ctx, who, post_id, Capability::PostsApprove).await?;
    let comment = validate_comment("comment", &input.comment)?;
    let now = s.clock.now_us();
    audited(s, ctx, &who.actor(), async |tx| {
        let d = decide(tx, &access, post_id, &PostAction::RequestChanges, now).await?;
        store_step(tx, &d, &who.user_id, now).await?;
        let comment_id = uuid::Uuid::now_v7().to_string();
        tx.insert_post_comment(NewPostComment {
            id: &comment_id,
            post_id,
            author_id: &who.user_id,
            kind: "changes_requested",
            body: &comment,
            version: d.post.version,
            now,
        })
        .await?;
        let text = format!(
            "{} asked for changes to your post for {}: {}",
            who.display_name,
            notifications::account_words(&access.account),
            notifications::excerpt(&comment)
        );
        notifications::tell_author(
            tx,
            &access.account,
            post_id,
            &d.post.author_id,
            Some(&who.user_id),
            NotificationKind::ChangesRequested,
            &text,
            now,
        )
        .await?;
        let audit =
            Audit::on_account(&d.post.account_id, Action::PostRequestChanges).target(target(post_id)).detail(json!({
                "post_id": post_id,
                "version": d.post.version,
                "comment_id": comment_id,
                "approvals_cleared": d.counting.len(),
                "from_state": d.from.as_str(),
                "to_state": d.step.state.as_str(),
            }));
        Ok(((), audit))
    })
    .await?;
    notifications::mail_after_commit(s).await;
    current(s, &access.account, post_id).await
}

/// The post's review thread, oldest first.
pub async fn list_comments(s: &Services, ctx: &Ctx, who: &Principal, post_id: &PostId) -> AppResult<Vec<CommentView>> {
    load(s, ctx, who, post_id, Capability::AccountView).await?;
    Ok(s.store.post_comments(post_id).await?.into_iter().map(comment_view).collect())
}

/// Adds a comment about the post's current version to its review thread.
pub async fn add_comment(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    post_id: &PostId,
    input: CommentRequest,
) -> AppResult<CommentView> {
    ctx.slot.set_action(Action::PostComment, Some(target(post_id)));
    let (post, _) = load(s, ctx, who, post_id, Capability::ReviewComment).await?;
    let text = validate_comment("body", &input.body)?;
    let now = s.clock.now_us();
    let comment_id = audited(s, ctx, &who.actor(), async |tx| {
        let comment_id = uuid::Uuid::now_v7().to_string();
        tx.insert_post_comment(NewPostComment {
            id: &comment_id,
            post_id,
            author_id: &who.user_id,
            kind: "comment",
            body: &text,
            version: post.version,
            now,
        })
        .await?;
        let audit = Audit::on_account(&post.account_id, Action::PostComment).target(target(post_id)).detail(json!({
            "post_id": post_id,
            "comment_id": comment_id,
            "version": post.version,
            "chars": text.chars().count(),
        }));
        Ok((comment_id, audit))
    })
    .await?;
    let comment = s.store.post_comments(post_id).await?.into_iter().find(|c| c.id == comment_id);
    comment.map(comment_view).ok_or(AppError::NotFound)
}
