//! What a post looks like to the edges: the post with its approvals and version tag, its
//! review comments, its uploads, and the workflow actions a member could take on it now.
use serde::{Deserialize, Serialize};
use steward_domain::ids::{AccountId, MediaId, PostId, UserId};
use steward_domain::post::{PostAction, PostActionKind, PostSnapshot, transition};
use steward_store::{AccountRow, ApprovalRow, MediaUploadRow, PostCommentRow, PostRow};
use utoipa::ToSchema;

use crate::authz::AccountAccess;
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::posts::rules::{approval_counts, approval_rules, counting_approvals};
use crate::posts::workflow::{performer, state_of, version_of};
use crate::services::Services;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MediaItem {
    pub url: String,
    /// `image` or `video`.
    pub kind: String,
    /// An image's alt text (what it shows, for people who cannot see it), at most 1000
    /// characters; sent to the platforms that take it (Mastodon, Bluesky, LinkedIn). Absent
    /// when the image has none; videos have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovalView {
    #[schema(value_type = String)]
    pub user_id: UserId,
    pub version: i64,
    pub approved_at: String,
    /// Whether it counts now: the approver still holds `posts.approve` on the account.
    pub counts: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostView {
    #[schema(value_type = String)]
    pub id: PostId,
    #[schema(value_type = String)]
    pub account_id: AccountId,
    #[schema(value_type = String)]
    pub author_id: UserId,
    /// `draft`, `in_review`, `approved`, `scheduled`, `publishing`, `published`, `failed`, `cancelled`.
    pub state: String,
    pub title: Option<String>,
    pub text: String,
    pub media: Vec<MediaItem>,
    /// Mastodon only: the content warning the status is folded behind (`spoiler_text`).
    pub content_warning: Option<String>,
    /// When the post is planned to go out (RFC 3339): a plan, not a schedule.
    pub planned_for: Option<String>,
    /// Raised by every content edit, not by state changes.
    pub version: i64,
    pub approvals: Vec<ApprovalView>,
    pub scheduled_at: Option<String>,
    #[schema(value_type = Option<String>)]
    pub scheduled_by: Option<UserId>,
    pub published_at: Option<String>,
    pub external_id: Option<String>,
    pub external_url: Option<String>,
    pub last_error: Option<String>,
    /// Why the scheduler held the post when it was due, until it is scheduled again.
    pub hold_reason: Option<String>,
    /// A reply draft (a collaborator's reply on a person's own profile, waiting for the owner):
    /// the platform's id of the comment it answers. Once approved it is sent as a reply to that
    /// comment, never as a post. `null` for a post.
    pub reply_to: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The post's version tag as stored now ([`etag`]): not part of the body; the API sends it
    /// as the `ETag` header, the editor as the version its form was filled from.
    #[serde(skip)]
    pub etag: String,
}

/// A comment in a post's review thread (not a comment on the platform).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ReviewComment)]
pub struct CommentView {
    pub id: String,
    #[schema(value_type = String)]
    pub post_id: PostId,
    #[schema(value_type = String)]
    pub author_id: UserId,
    pub author_display_name: String,
    /// `comment`, or `changes_requested` for the comment of a request for changes.
    pub kind: String,
    pub body: String,
    /// The post version the comment is about.
    pub version: i64,
    pub created_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MediaView {
    #[schema(value_type = String)]
    pub id: MediaId,
    /// Where Steward serves the file, to members of the account; use it in a post's `media`.
    pub url: String,
    pub kind: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub created_at: String,
}

/// A post's stored media list (a list that does not parse reads as none).
#[must_use]
pub fn parse_media(json: &str) -> Vec<MediaItem> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The version tag of a post as stored now, `"<version>.<updated_at>"`: any change to the post
/// (an approval, a state change) makes an earlier tag stale, so nobody edits content they have
/// not seen in its current state.
#[must_use]
pub fn etag(post: &PostRow) -> String {
    format!("\"{}.{}\"", post.version, post.updated_at)
}

#[must_use]
pub fn post_view(post: PostRow, account: &AccountRow, approvals: &[ApprovalRow], now: i64) -> PostView {
    let approvals = approvals
        .iter()
        .map(|a| ApprovalView {
            user_id: a.approver_id.clone(),
            version: a.version,
            approved_at: rfc3339(a.approved_at),
            counts: approval_counts(account, a, now),
        })
        .collect();
    PostView {
        etag: etag(&post),
        media: parse_media(&post.media),
        approvals,
        scheduled_at: post.scheduled_at.map(rfc3339),
        published_at: post.published_at.map(rfc3339),
        created_at: rfc3339(post.created_at),
        updated_at: rfc3339(post.updated_at),
        id: post.id,
        account_id: post.account_id,
        author_id: post.author_id,
        state: post.state.as_str().into(),
        title: post.title,
        text: post.text,
        version: post.version,
        scheduled_by: post.scheduled_by,
        external_id: post.external_id,
        external_url: post.external_url,
        last_error: post.last_error,
        hold_reason: post.hold_reason.map(|r| r.as_str().into()),
        reply_to: post.reply_to,
        content_warning: post.content_warning,
        planned_for: post.planned_for.map(rfc3339),
    }
}

/// The post as stored now (after a change was committed), with its approvals.
pub async fn current(s: &Services, account: &AccountRow, post_id: &PostId) -> AppResult<PostView> {
    let (post, approvals) = s.store.post_with_approvals(post_id).await?.ok_or(AppError::NotFound)?;
    Ok(post_view(post, account, &approvals, s.clock.now_us()))
}

#[must_use]
pub fn comment_view(c: PostCommentRow) -> CommentView {
    CommentView {
        created_at: rfc3339(c.created_at),
        id: c.id,
        post_id: c.post_id,
        author_id: c.author_id,
        author_display_name: c.author_display_name,
        kind: c.kind,
        body: c.body,
        version: c.version,
    }
}

/// Where Steward serves an upload (the URL `posts::media::stored_media` recognizes).
#[must_use]
pub fn media_url(s: &Services, account_id: &AccountId, media_id: &MediaId) -> String {
    format!("{}/api/v1/accounts/{account_id}/media/{media_id}", s.settings.public_url.trim_end_matches('/'))
}

#[must_use]
pub fn media_view(s: &Services, m: MediaUploadRow) -> MediaView {
    MediaView {
        url: media_url(s, &m.account_id, &m.id),
        sha256: hex::encode(&m.sha256),
        created_at: rfc3339(m.created_at),
        id: m.id,
        kind: m.kind,
        content_type: m.content_type,
        size_bytes: m.size_bytes,
    }
}

/// The workflow actions the member could take on the post now, as the domain would decide
/// them (the web app offers only these buttons; each one is decided again when pressed).
/// Schedule and publish-now are asked about the present moment: the windows and pace rules
/// of a chosen time are checked when it is chosen.
#[must_use]
pub fn available_actions(
    access: &AccountAccess,
    post: &PostRow,
    approvals: &[ApprovalRow],
    now: i64,
) -> Vec<PostActionKind> {
    let Ok(from) = state_of(post) else { return Vec::new() };
    let counting = counting_approvals(&access.account, approvals, now);
    let snapshot = PostSnapshot { state: from, version: version_of(post), approvals: &counting };
    let rules = approval_rules(&access.account);
    let performer = performer(access, post);
    let at = jiff::Timestamp::from_microsecond(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    [
        PostAction::Edit,
        PostAction::Submit,
        PostAction::Approve { version: version_of(post) },
        PostAction::RequestChanges,
        PostAction::Schedule { at },
        PostAction::PublishNow { now: at },
        PostAction::Cancel,
    ]
    .iter()
    .filter(|action| transition(&snapshot, &rules, &performer, action).is_ok())
    .map(PostAction::kind)
    .collect()
}
