//! Platform engagement (API.md "Platform engagement"): comments on the account's published
//! posts, replies as the account, and post statistics, through the platform adapters.
//!
//! A reply on a person's own profile (a LinkedIn member profile) by anyone but its owner is not
//! sent: it becomes a reply draft (a post row with `reply_to`, `in_review`) that goes through the
//! posts' review flow; once the owner approves it, the scheduler sends it as a reply.
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_connectors::ConnectorError;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::{AccountId, PostId};
use steward_domain::post::PostState;
use steward_store::{AccountRow, NewPost, PostListQuery, PostRow, PostStateWrite, ScheduleWrite};
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::error::{AppError, AppResult};
use crate::notifications;
use crate::platforms::{self, PlatformComment};
use crate::posts::view::{PostView, current};
use crate::services::Services;
use crate::usecase::{Audit, audited};

pub mod inbox;
pub mod report;

/// How many recent published posts the engagement views look at.
const RECENT_POSTS: i64 = 100;
/// The longest reply Steward sends.
pub const MAX_REPLY_CHARS: usize = 3000;

/// A comment people left on the account's published post, on the platform.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PlatformComment)]
pub struct CommentView {
    pub id: String,
    /// Steward's post the comment is on (`null` when the platform's post is not one of Steward's).
    #[schema(value_type = Option<String>)]
    pub post_id: Option<PostId>,
    pub post_external_id: String,
    pub author: String,
    pub text: String,
    pub created_at: String,
    pub hidden: bool,
    pub parent_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReplyRequest {
    /// 1 to 3000 characters.
    #[schema(min_length = 1, max_length = 3000, pattern = "[^\\s]")]
    pub text: String,
}

/// A post's counts; each is `null` when the platform does not tell it (see docs/platforms.md).
#[derive(Debug, Serialize, ToSchema)]
pub struct PostStatsView {
    #[schema(value_type = String)]
    pub post_id: PostId,
    pub impressions: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyticsView {
    /// `null` when the platform does not tell.
    pub followers: Option<i64>,
    pub posts: Vec<PostStatsView>,
}

/// What a reply request did.
#[derive(Debug)]
pub enum ReplyOutcome {
    /// Sent to the platform at once.
    Sent(CommentView),
    /// Kept as a reply draft, in review: on a person's own profile a reply by anyone else goes
    /// out only once the owner has approved it.
    AwaitingOwner(Box<PostView>),
}

/// `(Steward post id, platform id)` of the account's recently published posts (sent reply
/// drafts are replies on the platform, not posts).
async fn published(s: &Services, account_id: &AccountId) -> AppResult<Vec<(PostId, String)>> {
    Ok(published_rows(s, account_id).await?.into_iter().filter_map(|p| p.external_id.map(|e| (p.id, e))).collect())
}

/// The account's recently published posts (not sent reply drafts) that have a platform id,
/// newest first: what the engagement views cover.
pub(crate) async fn published_rows(s: &Services, account_id: &AccountId) -> AppResult<Vec<PostRow>> {
    let q = PostListQuery { state: Some("published"), limit: RECENT_POSTS, ..PostListQuery::default() };
    Ok(s.store
        .list_posts(account_id, &q)
        .await?
        .into_iter()
        .filter(|p| p.reply_to.is_none() && p.external_id.is_some())
        .collect())
}

fn external_ids(posts: &[(PostId, String)]) -> Vec<String> {
    posts.iter().map(|(_, e)| e.clone()).collect()
}

/// A platform failure, as the application says it.
pub(crate) fn platform_error(s: &Services, account: &AccountRow, e: ConnectorError) -> AppError {
    match e {
        ConnectorError::RateLimited { retry_after } => {
            platforms::rate_limited(account.platform.as_str(), retry_after, s.clock.now_us())
        }
        ConnectorError::Rejected(m) => AppError::validation("comment_id", m),
        // A comment that is not there is a missing resource, not a bad request.
        ConnectorError::NotFound(_) => AppError::NotFound,
        ConnectorError::Misconfigured(m) => AppError::Conflict(m),
        ConnectorError::Unauthorized(_) => AppError::Conflict(format!(
            "{} no longer accepts this account's credential; its owner must reconnect it",
            account.platform
        )),
        other => AppError::PlatformUnavailable(format!("{}: {other}", account.platform)),
    }
}

pub(crate) fn view(c: PlatformComment, posts: &[(PostId, String)]) -> CommentView {
    CommentView {
        post_id: posts.iter().find(|(_, e)| *e == c.post_external_id).map(|(id, _)| id.clone()),
        id: c.id,
        post_external_id: c.post_external_id,
        author: c.author,
        text: c.text,
        created_at: c.created_at,
        hidden: c.hidden,
        parent_id: c.parent_id,
    }
}

/// The comments on the account's recently published posts.
pub async fn list_comments(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
) -> AppResult<Vec<CommentView>> {
    let access = authorize(s, ctx, who, account_id, Need::Capability(Capability::AccountView)).await?;
    let posts = published(s, account_id).await?;
    let items = platforms::comments(s, &access.account, &external_ids(&posts))
        .await
        .map_err(|e| platform_error(s, &access.account, e))?;
    Ok(items.into_iter().map(|c| view(c, &posts)).collect())
}

/// Replies to a comment as the account: at once, or, on a person's own profile when the
/// caller is not that person, as a reply draft that waits for their approval.
pub async fn reply(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    comment_id: &str,
    input: ReplyRequest,
) -> AppResult<ReplyOutcome> {
    ctx.slot.set_action(Action::CommentReply, Some(format!("account:{account_id}")));
    let access = authorize(s, ctx, who, account_id, Need::Capability(Capability::CommentsReply)).await?;
    let text = input.text.trim();
    if text.is_empty() || text.chars().count() > MAX_REPLY_CHARS {
        return Err(AppError::validation("text", format!("must be 1 to {MAX_REPLY_CHARS} characters")));
    }
    if comment_id.trim().is_empty() {
        return Err(AppError::validation("comment_id", "must name a comment"));
    }
    let personal = steward_domain::platform::kind_of(access.account.platform.as_str(), &access.account.account_kind)
        .is_none_or(|k| k.personal);
    if personal && !access.is_owner() {
        // Nothing goes out in a person's name without them.
        return Ok(ReplyOutcome::AwaitingOwner(Box::new(
            reply_draft(s, ctx, who, &access.account, comment_id, text).await?,
        )));
    }
    if access.account.status == steward_domain::status::AccountStatus::LockedDown {
        // A reply is published in the account's name: during a lockdown nothing is, as the
        // scheduler holds approved posts and reply drafts (DESIGN.md "Lockdown").
        return Err(AppError::locked_down(
            "the account is locked down: nothing is published for it, replies included, until its owner lifts the lockdown",
        ));
    }
    let posted = platforms::reply(s, &access.account, comment_id, text)
        .await
        .map_err(|e| platform_error(s, &access.account, e))?;
    // The reply is live on the platform; its audit event records who said what, where.
    audited(s, ctx, &who.actor(), async |_| {
        let audit = Audit::on_account(account_id, Action::CommentReply)
            .target(format!("comment:{comment_id}"))
            .detail(json!({ "platform": access.account.platform.as_str(), "reply_id": posted.id, "text": text }));
        Ok(((), audit))
    })
    .await?;
    let posts = published(s, account_id).await?;
    Ok(ReplyOutcome::Sent(view(posted, &posts)))
}

/// Saves the reply as a draft in review (audited as its submission); the owner approves it
/// like a post, and the scheduler then sends it as a reply to `comment_id`.
async fn reply_draft(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account: &AccountRow,
    comment_id: &str,
    text: &str,
) -> AppResult<PostView> {
    let now = s.clock.now_us();
    let post_id = PostId::new(uuid::Uuid::now_v7().to_string());
    let (draft, in_review) = (PostState::Draft.as_str(), PostState::InReview.as_str());
    audited(s, ctx, &who.actor(), async |tx| {
        tx.insert_post(NewPost {
            id: &post_id,
            account_id: &account.id,
            author_id: &who.user_id,
            title: None,
            text,
            media: "[]",
            idempotency: None,
            now,
        })
        .await?;
        tx.set_post_reply_to(&post_id, comment_id).await?;
        let write = PostStateWrite {
            state: in_review,
            schedule: ScheduleWrite::Keep,
            hold_reason: None,
            clear_approvals: false,
        };
        if !tx.apply_post_transition(&post_id, draft, 1, &write, now).await? {
            return Err(AppError::internal(anyhow::anyhow!("the new reply draft {post_id} could not enter review")));
        }
        notifications::tell_reviewers(tx, account, &post_id, &who.user_id, &who.display_name, text, now).await?;
        let audit =
            Audit::on_account(&account.id, Action::PostSubmit).target(format!("post:{post_id}")).detail(json!({
                "post_id": post_id.as_str(),
                "version": 1,
                "reply_to": comment_id,
                "from_state": draft,
                "to_state": in_review,
            }));
        Ok(((), audit))
    })
    .await?;
    notifications::mail_after_commit(s).await;
    current(s, account, &post_id).await
}

/// The account's follower count and the statistics of its recently published posts.
pub async fn analytics(s: &Services, ctx: &Ctx, who: &Principal, account_id: &AccountId) -> AppResult<AnalyticsView> {
    let access = authorize(s, ctx, who, account_id, Need::Capability(Capability::AnalyticsView)).await?;
    let posts = published(s, account_id).await?;
    let stats = platforms::analytics(s, &access.account, &external_ids(&posts))
        .await
        .map_err(|e| platform_error(s, &access.account, e))?;
    Ok(AnalyticsView {
        followers: stats.followers,
        posts: stats
            .posts
            .into_iter()
            .filter_map(|p| {
                let post_id = posts.iter().find(|(_, e)| *e == p.external_id)?.0.clone();
                Some(PostStatsView {
                    post_id,
                    impressions: p.impressions,
                    likes: p.likes,
                    comments: p.comments,
                    shares: p.shares,
                })
            })
            .collect(),
    })
}
