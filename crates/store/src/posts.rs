//! Posts, their versions, approvals, review comments and uploaded media (migration 0005).
//!
//! The workflow itself is decided by `steward_domain::post::transition`; this module only
//! stores what it decided. Every write that depends on what was read is a compare-and-set
//! (`WHERE state = expected` / `WHERE version = expected`), so a concurrent change makes the
//! write touch no row instead of overwriting it; the caller answers 409 or 412.
use steward_domain::capability::Role;
use steward_domain::ids::{AccountId, MediaId, PostId, UserId};
use steward_domain::post::{HoldReason, PostState};
use steward_domain::status::MembershipStatus;

use crate::{Backend, Micros, Result, Store, Tx, on_pool, on_tx};

/// A post as stored: its current content and where it is in the workflow.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PostRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: PostId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub account_id: AccountId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub author_id: UserId,
    /// `draft`, `in_review`, `approved`, `scheduled`, `publishing`, `published`, `failed`,
    /// `cancelled` (`steward_domain::post::PostState::as_str`).
    #[sqlx(try_from = "crate::decode::Text")]
    pub state: PostState,
    /// The current content version, raised by every content edit (never by a state change).
    pub version: i64,
    pub title: Option<String>,
    pub text: String,
    /// JSON list of `{"url","kind"}`.
    pub media: String,
    pub scheduled_at: Option<Micros>,
    /// The member who scheduled it (their windows and quota apply when it is due).
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub scheduled_by: Option<UserId>,
    pub published_at: Option<Micros>,
    pub external_id: Option<String>,
    pub external_url: Option<String>,
    pub last_error: Option<String>,
    /// Why the scheduler last held it (`HoldReason` in snake_case), if it did.
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub hold_reason: Option<HoldReason>,
    /// A reply draft: the platform's id of the comment it answers (sent as a reply to it, never
    /// as a new post); `None` for a post.
    pub reply_to: Option<String>,
    pub created_at: Micros,
    pub updated_at: Micros,
    /// Mastodon's content warning (`spoiler_text`): the status is shown folded behind it.
    pub content_warning: Option<String>,
    /// When a post not yet scheduled is meant to go out: a plan, never a schedule.
    pub planned_for: Option<Micros>,
}

/// One approval of one exact version, with the approver's membership of the post's account
/// as it is now (all `None` when they are no longer a member), so that a caller can count
/// only approvals by people who still hold `posts.approve` (Invariant 10).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApprovalRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub post_id: PostId,
    pub version: i64,
    #[sqlx(try_from = "crate::decode::Text")]
    pub approver_id: UserId,
    /// The approver was the account's owner when approving.
    pub by_owner: bool,
    pub approved_at: Micros,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub approver_role: Option<Role>,
    pub approver_grants: Option<String>,
    pub approver_revokes: Option<String>,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub approver_status: Option<MembershipStatus>,
    pub approver_expires_at: Option<Micros>,
}

/// A stored content version.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PostVersionRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub post_id: PostId,
    pub version: i64,
    pub title: Option<String>,
    pub text: String,
    pub media: String,
    #[sqlx(try_from = "crate::decode::Text")]
    pub edited_by: UserId,
    pub created_at: Micros,
    pub content_warning: Option<String>,
}

/// A review comment, with its author's display name.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PostCommentRow {
    pub id: String,
    #[sqlx(try_from = "crate::decode::Text")]
    pub post_id: PostId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub author_id: UserId,
    pub author_display_name: String,
    /// `comment`, or `changes_requested` for the comment sent with a request for changes.
    pub kind: String,
    pub body: String,
    /// The post version the comment was written about.
    pub version: i64,
    pub created_at: Micros,
}

/// A post as the calendar shows it: only the columns it needs (with a thousand posts on a
/// page, reading every column of every post was most of the page's time).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CalendarPostRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: PostId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub state: PostState,
    pub title: Option<String>,
    /// The first [`CALENDAR_TEXT_CHARS`] characters of the text.
    pub text: String,
    pub scheduled_at: Option<Micros>,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub hold_reason: Option<HoldReason>,
    pub updated_at: Micros,
    /// Where a post not yet scheduled is planned (only the planned part of the planner reads it).
    pub planned_for: Option<Micros>,
}

/// An uploaded media file (its bytes live on disk named by `id` on SQLite, in `media_chunks` on PostgreSQL).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MediaUploadRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: MediaId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub account_id: AccountId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub uploaded_by: UserId,
    pub kind: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: Vec<u8>,
    pub created_at: Micros,
}

/// Another post of the account that occupies a publishing slot (scheduled, publishing or
/// published), for the pace rules: when it goes (or went) out, and who scheduled it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PaceSlotRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub post_id: PostId,
    pub at: Micros,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub scheduled_by: Option<UserId>,
}

pub struct NewPost<'a> {
    pub id: &'a PostId,
    pub account_id: &'a AccountId,
    pub author_id: &'a UserId,
    pub title: Option<&'a str>,
    pub text: &'a str,
    pub media: &'a str,
    /// The create request's `Idempotency-Key` and a hash of its body.
    pub idempotency: Option<(&'a str, &'a [u8])>,
    pub now: Micros,
}

/// What a new post may carry besides its content: Mastodon's content warning (kept with
/// version 1) and a planned time.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostExtras<'a> {
    pub content_warning: Option<&'a str>,
    pub planned_for: Option<Micros>,
}

/// New content for a post.
pub struct PostContent<'a> {
    pub title: Option<&'a str>,
    pub text: &'a str,
    pub media: &'a str,
    pub content_warning: Option<&'a str>,
}

/// What happens to `scheduled_at` / `scheduled_by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleWrite<'a> {
    Keep,
    Set { at: Micros, by: &'a UserId },
    Clear,
}

/// A workflow transition to store (what `steward_domain::post::transition` decided).
#[derive(Debug, Clone, Copy)]
pub struct PostStateWrite<'a> {
    pub state: &'a str,
    pub schedule: ScheduleWrite<'a>,
    /// Written as given: `None` clears an earlier hold reason.
    pub hold_reason: Option<&'a str>,
    /// Delete every approval of the post.
    pub clear_approvals: bool,
}

/// The result of a publish attempt to store (the scheduler's writes).
#[derive(Debug, Clone, Copy)]
pub struct PublishResultWrite<'a> {
    pub state: &'a str,
    pub published_at: Option<Micros>,
    pub external_id: Option<&'a str>,
    pub external_url: Option<&'a str>,
    pub last_error: Option<&'a str>,
}

pub struct NewPostComment<'a> {
    pub id: &'a str,
    pub post_id: &'a PostId,
    pub author_id: &'a UserId,
    pub kind: &'a str,
    pub body: &'a str,
    pub version: i64,
    pub now: Micros,
}

pub struct NewMediaUpload<'a> {
    pub id: &'a MediaId,
    pub account_id: &'a AccountId,
    pub uploaded_by: &'a UserId,
    pub kind: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a [u8],
    pub now: Micros,
}

/// A draft sent back to its author, with the request (a "needs you" line).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChangesRequestedRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: PostId,
    pub title: Option<String>,
    /// The text's first 61 characters.
    pub text: String,
    /// What the reviewer asked for.
    pub request: String,
    pub requested_by: String,
}

/// A post the scheduler held when it was due (a "needs you" line).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldPostRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: PostId,
    pub title: Option<String>,
    /// The text's first 61 characters.
    pub text: String,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub hold_reason: Option<HoldReason>,
    #[sqlx(try_from = "crate::decode::Text")]
    pub author_id: UserId,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub scheduled_by: Option<UserId>,
}

/// Filters and position of a post list, newest first.
#[derive(Debug, Clone, Default)]
pub struct PostListQuery<'a> {
    pub state: Option<&'a str>,
    pub author_id: Option<&'a UserId>,
    /// Only posts strictly older than this `(created_at, id)` (the previous page's last).
    pub before: Option<(Micros, &'a str)>,
    pub limit: i64,
    /// Only drafts whose current version got a request for changes.
    pub changes_requested: bool,
    /// Only posts the scheduler held when they were due (and nobody scheduled again since).
    pub held: bool,
}

const POST_COLUMNS: &str = "p.id, p.account_id, p.author_id, p.state, p.version, p.title, p.text, p.media, \
     p.scheduled_at, p.scheduled_by, p.published_at, p.external_id, p.external_url, p.last_error, p.hold_reason, \
     p.reply_to, p.created_at, p.updated_at, p.content_warning, p.planned_for";
/// How much of a post's text [`Store::calendar_posts`] reads (one character more than a
/// calendar line shows, so it knows whether there was more).
pub const CALENDAR_TEXT_CHARS: usize = 61;
/// A new draft's row (`$1`…`$11`: id, account, author, title, text, media, idempotency key,
/// request hash, now, content warning, planned time), as `insert_post_with` writes it.
macro_rules! new_post_sql {
    () => {
        "INSERT INTO posts (id, account_id, author_id, state, version, title, text, media, idempotency_key, \
         request_hash, created_at, updated_at, content_warning, planned_for) \
         VALUES ($1, $2, $3, 'draft', 1, $4, $5, $6, $7, $8, $9, $9, $10, $11)"
    };
}
const CALENDAR_COLUMNS: &str =
    "p.id, p.state, p.title, substr(p.text, 1, 61) AS text, p.scheduled_at, p.hold_reason, p.updated_at, p.planned_for";
/// Posts not yet scheduled, by planned time (`posts_account_planned`), without held ones
/// (the calendar shows those where they were held) and reply drafts.
const PLANNED_WHERE: &str = " FROM posts p WHERE p.account_id = $1 AND p.planned_for >= $2 AND p.planned_for < $3 \
     AND p.state IN ('draft', 'in_review', 'approved') AND p.scheduled_at IS NULL AND p.hold_reason IS NULL \
     AND p.reply_to IS NULL";
/// Approvals with their approver's membership now (`a` approvals, `p` their posts); the
/// caller adds the WHERE clause.
macro_rules! approvals_select {
    () => {
        "SELECT a.post_id, a.version, a.approver_id, a.by_owner, a.approved_at, \
         m.role AS approver_role, m.grants AS approver_grants, m.revokes AS approver_revokes, \
         m.status AS approver_status, m.expires_at AS approver_expires_at \
         FROM post_approvals a JOIN posts p ON p.id = a.post_id \
         LEFT JOIN memberships m ON m.account_id = p.account_id AND m.user_id = a.approver_id "
    };
}
const APPROVAL_QUERY: &str = concat!(approvals_select!(), "WHERE a.post_id = $1 ORDER BY a.approved_at, a.approver_id");
const COMMENT_COLUMNS: &str = "c.id, c.post_id, c.author_id, u.display_name AS author_display_name, c.kind, c.body, \
     c.version, c.created_at";
const MEDIA_COLUMNS: &str = "id, account_id, uploaded_by, kind, content_type, size_bytes, sha256, created_at";
/// The instant a post occupies: when it went out, or when it is due.
const PACE_QUERY: &str = "SELECT id AS post_id, COALESCE(published_at, scheduled_at) AS at, scheduled_by FROM posts \
     WHERE account_id = $1 AND id <> $2 AND state IN ('scheduled', 'publishing', 'published') AND reply_to IS NULL \
     AND COALESCE(published_at, scheduled_at) >= $3 AND COALESCE(published_at, scheduled_at) < $4 \
     ORDER BY at, id";

fn sql(parts: &[&str]) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(parts.concat())
}

impl Store {
    pub async fn post(&self, post_id: &PostId) -> Result<Option<PostRow>> {
        let q = sql(&["SELECT ", POST_COLUMNS, " FROM posts p WHERE p.id = $1"]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, PostRow>(q).bind(post_id.as_str()).fetch_optional(c).await)?)
    }

    /// The approvals on record for the post (of any version), with each approver's membership now.
    pub async fn post_approvals(&self, post_id: &PostId) -> Result<Vec<ApprovalRow>> {
        Ok(on_pool!(self, |c| sqlx::query_as::<_, ApprovalRow>(APPROVAL_QUERY)
            .bind(post_id.as_str())
            .fetch_all(c)
            .await)?)
    }

    /// The approvals of the account's posts in review created within `[oldest, newest]` (a
    /// page of the review queue), in one query instead of one per post.
    pub async fn approvals_in_review_between(
        &self,
        account_id: &AccountId,
        oldest: Micros,
        newest: Micros,
    ) -> Result<Vec<ApprovalRow>> {
        const Q: &str = concat!(
            approvals_select!(),
            "WHERE p.account_id = $1 AND p.state = 'in_review' AND p.created_at >= $2 AND p.created_at <= $3 \
             ORDER BY a.post_id, a.approved_at, a.approver_id"
        );
        Ok(on_pool!(self, |c| sqlx::query_as::<_, ApprovalRow>(Q)
            .bind(account_id.as_str())
            .bind(oldest)
            .bind(newest)
            .fetch_all(c)
            .await)?)
    }

    /// A post and its approvals, read together (for answers and for the scheduler).
    pub async fn post_with_approvals(&self, post_id: &PostId) -> Result<Option<(PostRow, Vec<ApprovalRow>)>> {
        let Some(post) = self.post(post_id).await? else {
            return Ok(None);
        };
        let approvals = self.post_approvals(post_id).await?;
        Ok(Some((post, approvals)))
    }

    /// A page of the account's posts, newest first.
    pub async fn list_posts(&self, account_id: &AccountId, query: &PostListQuery<'_>) -> Result<Vec<PostRow>> {
        let q = sql(&[
            "SELECT ",
            POST_COLUMNS,
            " FROM posts p WHERE p.account_id = $1 AND ($2 IS NULL OR p.state = $2) AND ($3 IS NULL OR p.author_id = $3) \
             AND ($4 IS NULL OR p.created_at < $4 OR (p.created_at = $4 AND p.id < $5)) \
             AND ($7 = 0 OR (p.state = 'draft' AND EXISTS (SELECT 1 FROM post_comments c \
               WHERE c.post_id = p.id AND c.kind = 'changes_requested' AND c.version = p.version))) \
             AND ($8 = 0 OR (p.hold_reason IS NOT NULL AND p.scheduled_at IS NULL \
               AND p.state IN ('approved', 'in_review'))) \
             ORDER BY p.created_at DESC, p.id DESC LIMIT CAST($6 AS BIGINT)",
        ]);
        let (before_at, before_id) = match query.before {
            Some((at, id)) => (Some(at), Some(id)),
            None => (None, None),
        };
        Ok(on_pool!(self, |c| sqlx::query_as::<_, PostRow>(q)
            .bind(account_id.as_str())
            .bind(query.state)
            .bind(query.author_id.map(UserId::as_str))
            .bind(before_at)
            .bind(before_id)
            .bind(query.limit)
            .bind(i64::from(query.changes_requested))
            .bind(i64::from(query.held))
            .fetch_all(c)
            .await)?)
    }

    /// The account's reply drafts (posts answering a platform comment), newest first: what
    /// the comments inbox shows under each comment with its state.
    pub async fn reply_drafts(&self, account_id: &AccountId, limit: i64) -> Result<Vec<PostRow>> {
        let q = sql(&[
            "SELECT ",
            POST_COLUMNS,
            " FROM posts p WHERE p.account_id = $1 AND p.reply_to IS NOT NULL \
             ORDER BY p.created_at DESC, p.id DESC LIMIT CAST($2 AS BIGINT)",
        ]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, PostRow>(q)
            .bind(account_id.as_str())
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// The account's posts on its calendar within `[from, to)`: scheduled, publishing,
    /// published or failed ones at `scheduled_at` (the scheduler keeps it once they go out,
    /// and moves it to the retry time of a retry), and held ones (scheduled, then held when due:
    /// the hold cleared `scheduled_at`) at the moment they were held. Both parts are range scans
    /// of `posts_account_schedule`, so the cost follows the posts shown, not the account's size.
    pub async fn calendar_posts(
        &self,
        account_id: &AccountId,
        from: Micros,
        to: Micros,
    ) -> Result<Vec<CalendarPostRow>> {
        let q = sql(&[
            "SELECT ",
            CALENDAR_COLUMNS,
            " FROM posts p WHERE p.account_id = $1 AND p.state IN ('scheduled', 'publishing', 'published', 'failed') \
             AND p.scheduled_at >= $2 AND p.scheduled_at < $3 \
             UNION ALL SELECT ",
            CALENDAR_COLUMNS,
            " FROM posts p WHERE p.account_id = $1 AND p.state IN ('approved', 'in_review') AND p.scheduled_at IS NULL \
             AND p.hold_reason IS NOT NULL AND p.updated_at >= $2 AND p.updated_at < $3",
        ]);
        self.calendar_rows(q, account_id, from, to).await
    }

    /// Calendar rows of `q`, which takes the account (`$1`) and a range (`$2`, `$3`).
    async fn calendar_rows(
        &self,
        q: sqlx::AssertSqlSafe<String>,
        account_id: &AccountId,
        from: Micros,
        to: Micros,
    ) -> Result<Vec<CalendarPostRow>> {
        Ok(on_pool!(self, |c| sqlx::query_as::<_, CalendarPostRow>(q)
            .bind(account_id.as_str())
            .bind(from)
            .bind(to)
            .fetch_all(c)
            .await)?)
    }

    /// The account's posts not yet scheduled (drafts, in review, approved; not held) whose
    /// planned time is within `[from, to)`: where the planning calendar shows them.
    pub async fn planned_posts(&self, account: &AccountId, from: Micros, to: Micros) -> Result<Vec<CalendarPostRow>> {
        let q = sql(&["SELECT ", CALENDAR_COLUMNS, PLANNED_WHERE]);
        self.calendar_rows(q, account, from, to).await
    }

    /// The account's drafts whose current version got a request for changes (the review
    /// queue's "needs changes"), most recently updated first.
    pub async fn posts_needing_changes(&self, account_id: &AccountId, limit: i64) -> Result<Vec<PostRow>> {
        let q = sql(&[
            "SELECT ",
            POST_COLUMNS,
            " FROM posts p WHERE p.account_id = $1 AND p.state = 'draft' AND EXISTS (SELECT 1 FROM post_comments c \
             WHERE c.post_id = p.id AND c.kind = 'changes_requested' AND c.version = p.version) \
             ORDER BY p.updated_at DESC, p.id DESC LIMIT CAST($2 AS BIGINT)",
        ]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, PostRow>(q)
            .bind(account_id.as_str())
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// The drafts `author_id` wrote on the account whose current version got a request for
    /// changes, with the request's comment, most recently updated first (their home's "needs you").
    pub async fn changes_requested_of(
        &self,
        account_id: &AccountId,
        author_id: &UserId,
        limit: i64,
    ) -> Result<Vec<ChangesRequestedRow>> {
        let q = "SELECT p.id, p.title, substr(p.text, 1, 61) AS text, c.body AS request, u.display_name AS requested_by \
                 FROM posts p JOIN post_comments c ON c.post_id = p.id AND c.kind = 'changes_requested' \
                 AND c.version = p.version JOIN users u ON u.id = c.author_id \
                 WHERE p.account_id = $1 AND p.author_id = $2 AND p.state = 'draft' \
                 ORDER BY p.updated_at DESC, p.id DESC, c.created_at DESC LIMIT CAST($3 AS BIGINT)";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, ChangesRequestedRow>(q)
            .bind(account_id.as_str())
            .bind(author_id.as_str())
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// The account's posts the scheduler held when they were due and nobody scheduled again,
    /// most recently held first.
    pub async fn held_posts(&self, account_id: &AccountId, limit: i64) -> Result<Vec<HeldPostRow>> {
        let q = "SELECT p.id, p.title, substr(p.text, 1, 61) AS text, p.hold_reason, p.author_id, p.scheduled_by \
                 FROM posts p WHERE p.account_id = $1 AND p.state IN ('approved', 'in_review') \
                 AND p.scheduled_at IS NULL AND p.hold_reason IS NOT NULL \
                 ORDER BY p.updated_at DESC, p.id DESC LIMIT CAST($2 AS BIGINT)";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, HeldPostRow>(q)
            .bind(account_id.as_str())
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// How many of the account's posts in review `user_id` could approve now: not their own
    /// and not yet approved by them at the current version (the home page's count; the post
    /// page applies the full rules before it offers the button).
    pub async fn count_awaiting_approval(&self, account_id: &AccountId, user_id: &UserId) -> Result<i64> {
        let q = "SELECT COUNT(*) FROM posts p WHERE p.account_id = $1 AND p.state = 'in_review' AND p.author_id <> $2 \
                 AND NOT EXISTS (SELECT 1 FROM post_approvals a WHERE a.post_id = p.id AND a.version = p.version \
                 AND a.approver_id = $2)";
        Ok(on_pool!(self, |c| sqlx::query_scalar::<_, i64>(q)
            .bind(account_id.as_str())
            .bind(user_id.as_str())
            .fetch_one(c)
            .await)?)
    }

    /// Every content version of the post, oldest first.
    pub async fn post_versions(&self, post_id: &PostId) -> Result<Vec<PostVersionRow>> {
        let q = "SELECT post_id, version, title, text, media, edited_by, created_at, content_warning FROM post_versions \
                 WHERE post_id = $1 ORDER BY version";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, PostVersionRow>(q).bind(post_id.as_str()).fetch_all(c).await)?)
    }

    /// The review thread, oldest first.
    pub async fn post_comments(&self, post_id: &PostId) -> Result<Vec<PostCommentRow>> {
        let q = sql(&[
            "SELECT ",
            COMMENT_COLUMNS,
            " FROM post_comments c JOIN users u ON u.id = c.author_id WHERE c.post_id = $1 ORDER BY c.created_at, c.id",
        ]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, PostCommentRow>(q).bind(post_id.as_str()).fetch_all(c).await)?)
    }

    pub async fn media_upload(&self, media_id: &MediaId) -> Result<Option<MediaUploadRow>> {
        let q = sql(&["SELECT ", MEDIA_COLUMNS, " FROM media_uploads WHERE id = $1"]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, MediaUploadRow>(q).bind(media_id.as_str()).fetch_optional(c).await)?)
    }
}

impl Tx {
    /// Re-reads the post inside the transaction, locking its row until commit on PostgreSQL
    /// (SQLite's IMMEDIATE transaction already excludes other writers).
    pub async fn lock_post(&mut self, post_id: &PostId) -> Result<Option<PostRow>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        };
        let q = sql(&["SELECT ", POST_COLUMNS, " FROM posts p WHERE p.id = $1", lock]);
        Ok(on_tx!(self, |c| sqlx::query_as::<_, PostRow>(q).bind(post_id.as_str()).fetch_optional(c).await)?)
    }

    /// The post's approvals, read inside the transaction (after [`Tx::lock_post`]).
    pub async fn post_approvals(&mut self, post_id: &PostId) -> Result<Vec<ApprovalRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ApprovalRow>(APPROVAL_QUERY)
            .bind(post_id.as_str())
            .fetch_all(c)
            .await)?)
    }

    /// A locked post with its approvals: what the scheduler decides from when a post is due.
    pub async fn lock_post_with_approvals(&mut self, post_id: &PostId) -> Result<Option<(PostRow, Vec<ApprovalRow>)>> {
        let Some(post) = self.lock_post(post_id).await? else {
            return Ok(None);
        };
        let approvals = self.post_approvals(post_id).await?;
        Ok(Some((post, approvals)))
    }

    /// The post an earlier create with this `Idempotency-Key` made, with that request's body hash.
    pub async fn post_by_idempotency_key(
        &mut self,
        account_id: &AccountId,
        author_id: &UserId,
        key: &str,
    ) -> Result<Option<(PostRow, Vec<u8>)>> {
        let q = "SELECT id, request_hash FROM posts WHERE account_id = $1 AND author_id = $2 AND idempotency_key = $3";
        let found = on_tx!(self, |c| sqlx::query_as::<_, (String, Option<Vec<u8>>)>(q)
            .bind(account_id.as_str())
            .bind(author_id.as_str())
            .bind(key)
            .fetch_optional(c)
            .await)?;
        let Some((id, hash)) = found else {
            return Ok(None);
        };
        let post = self.lock_post(&PostId::from(id)).await?;
        Ok(post.map(|post| (post, hash.unwrap_or_default())))
    }

    /// Creates a draft at version 1, and stores version 1.
    pub async fn insert_post(&mut self, p: NewPost<'_>) -> Result<()> {
        self.insert_post_with(p, PostExtras::default()).await
    }

    /// [`Tx::insert_post`], with a content warning or a planned time.
    pub async fn insert_post_with(&mut self, p: NewPost<'_>, extras: PostExtras<'_>) -> Result<()> {
        // The post and its first version in one round trip (a write holds SQLite's one write
        // lock meanwhile): two statements in one string on SQLite, which binds `$n` by number
        // in each, and a third that reads the chain's head for the event that records the new
        // post; a data-modifying CTE on PostgreSQL.
        let (key, hash) = match p.idempotency {
            Some((key, hash)) => (Some(key), Some(hash)),
            None => (None, None),
        };
        macro_rules! bind_post {
            ($query:expr) => {
                $query
                    .bind(p.id.as_str())
                    .bind(p.account_id.as_str())
                    .bind(p.author_id.as_str())
                    .bind(p.title)
                    .bind(p.text)
                    .bind(p.media)
                    .bind(key)
                    .bind(hash)
                    .bind(p.now)
                    .bind(extras.content_warning)
                    .bind(extras.planned_for)
            };
        }
        match self.backend {
            crate::Backend::Sqlite => {
                let q = concat!(
                    new_post_sql!(),
                    "; INSERT INTO post_versions (post_id, version, title, text, media, edited_by, created_at, \
                     content_warning) VALUES ($1, 1, $4, $5, $6, $3, $9, $10); ",
                    crate::audit::head_and_facts_sql!(),
                    "$2 WHERE h.singleton = 1"
                );
                let head = on_tx!(self, |c| bind_post!(sqlx::query_as(q)).fetch_one(c).await)?;
                self.head_ahead = Some((p.account_id.clone(), head));
            }
            crate::Backend::Postgres => {
                let q = concat!(
                    "WITH p AS (",
                    new_post_sql!(),
                    " RETURNING id) INSERT INTO post_versions (post_id, version, title, text, media, edited_by, \
                     created_at, content_warning) SELECT p.id, 1, $4, $5, $6, $3, $9, $10 FROM p"
                );
                on_tx!(self, |c| bind_post!(sqlx::query(q)).execute(c).await.map(|r| r.rows_affected()))?;
            }
        }
        Ok(())
    }

    /// Makes a freshly inserted post a reply draft answering the platform's comment `reply_to`.
    pub async fn set_post_reply_to(&mut self, post_id: &PostId, reply_to: &str) -> Result<()> {
        let q = "UPDATE posts SET reply_to = $2 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(q)
            .bind(post_id.as_str())
            .bind(reply_to)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    async fn insert_post_version(
        &mut self,
        post_id: &PostId,
        version: i64,
        content: &PostContent<'_>,
        edited_by: &UserId,
        now: Micros,
    ) -> Result<()> {
        let q = "INSERT INTO post_versions (post_id, version, title, text, media, edited_by, created_at, \
                 content_warning) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(post_id.as_str())
            .bind(version)
            .bind(content.title)
            .bind(content.text)
            .bind(content.media)
            .bind(edited_by.as_str())
            .bind(now)
            .bind(content.content_warning)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// A content edit, only if the post is still at `expected_version` and in `expected_state`:
    /// stores the content as version `expected_version + 1`, keeps it among the versions, puts
    /// the post back in `draft`, clears its schedule and hold reason and deletes its approvals
    /// (Invariant 7). Returns the new version, or `None` when the post changed meanwhile.
    pub async fn update_post_content(
        &mut self,
        post_id: &PostId,
        expected_version: i64,
        expected_state: &str,
        content: &PostContent<'_>,
        edited_by: &UserId,
        now: Micros,
    ) -> Result<Option<i64>> {
        let q = "UPDATE posts SET title = $4, text = $5, media = $6, content_warning = $8, version = version + 1, \
                 state = 'draft', scheduled_at = NULL, scheduled_by = NULL, hold_reason = NULL, updated_at = $7 \
                 WHERE id = $1 AND version = $2 AND state = $3";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(post_id.as_str())
            .bind(expected_version)
            .bind(expected_state)
            .bind(content.title)
            .bind(content.text)
            .bind(content.media)
            .bind(now)
            .bind(content.content_warning)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if n != 1 {
            return Ok(None);
        }
        let version = expected_version + 1;
        self.insert_post_version(post_id, version, content, edited_by, now).await?;
        self.clear_post_approvals(post_id).await?;
        Ok(Some(version))
    }

    /// Sets (or clears) the post's planned time, only if it is still at `expected_version` in
    /// `expected_state`: a plan is not content, so the version, state and approvals stay.
    /// Returns whether it did.
    pub async fn set_post_planned_for(
        &mut self,
        post_id: &PostId,
        expected_version: i64,
        expected_state: &str,
        planned_for: Option<Micros>,
        now: Micros,
    ) -> Result<bool> {
        let q = "UPDATE posts SET planned_for = $4, updated_at = $5 WHERE id = $1 AND version = $2 AND state = $3";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(post_id.as_str())
            .bind(expected_version)
            .bind(expected_state)
            .bind(planned_for)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Stores a workflow transition, only if the post is still in `expected_state` at
    /// `expected_version`. Returns whether it did.
    pub async fn apply_post_transition(
        &mut self,
        post_id: &PostId,
        expected_state: &str,
        expected_version: i64,
        write: &PostStateWrite<'_>,
        now: Micros,
    ) -> Result<bool> {
        let n = match write.schedule {
            ScheduleWrite::Set { at, by } => {
                let q = "UPDATE posts SET state = $4, hold_reason = $5, scheduled_at = $6, scheduled_by = $7, \
                         updated_at = $8 WHERE id = $1 AND state = $2 AND version = $3";
                on_tx!(self, |c| sqlx::query(q)
                    .bind(post_id.as_str())
                    .bind(expected_state)
                    .bind(expected_version)
                    .bind(write.state)
                    .bind(write.hold_reason)
                    .bind(at)
                    .bind(by.as_str())
                    .bind(now)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))?
            }
            ScheduleWrite::Keep | ScheduleWrite::Clear => {
                let q = if write.schedule == ScheduleWrite::Clear {
                    "UPDATE posts SET state = $4, hold_reason = $5, scheduled_at = NULL, scheduled_by = NULL, \
                     updated_at = $6 WHERE id = $1 AND state = $2 AND version = $3"
                } else {
                    "UPDATE posts SET state = $4, hold_reason = $5, updated_at = $6 \
                     WHERE id = $1 AND state = $2 AND version = $3"
                };
                on_tx!(self, |c| sqlx::query(q)
                    .bind(post_id.as_str())
                    .bind(expected_state)
                    .bind(expected_version)
                    .bind(write.state)
                    .bind(write.hold_reason)
                    .bind(now)
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))?
            }
        };
        if n != 1 {
            return Ok(false);
        }
        if write.clear_approvals {
            self.clear_post_approvals(post_id).await?;
        }
        Ok(true)
    }

    /// Stores the outcome of a publish attempt (scheduler), only if the post is still in
    /// `expected_state`. `published_at`, `external_id`, `external_url` and `last_error` are
    /// written as given. Returns whether it did.
    pub async fn record_publish_result(
        &mut self,
        post_id: &PostId,
        expected_state: &str,
        write: &PublishResultWrite<'_>,
        now: Micros,
    ) -> Result<bool> {
        let q = "UPDATE posts SET state = $3, published_at = $4, external_id = $5, external_url = $6, last_error = $7, \
                 updated_at = $8 WHERE id = $1 AND state = $2";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(post_id.as_str())
            .bind(expected_state)
            .bind(write.state)
            .bind(write.published_at)
            .bind(write.external_id)
            .bind(write.external_url)
            .bind(write.last_error)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Records an approval of `version`. A second approval of the same version by the same
    /// person is a `Conflict`.
    pub async fn insert_post_approval(
        &mut self,
        post_id: &PostId,
        version: i64,
        approver_id: &UserId,
        by_owner: bool,
        now: Micros,
    ) -> Result<()> {
        let q = "INSERT INTO post_approvals (post_id, version, approver_id, by_owner, approved_at) \
                 VALUES ($1, $2, $3, $4, $5)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(post_id.as_str())
            .bind(version)
            .bind(approver_id.as_str())
            .bind(by_owner)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Deletes every approval of the post. Returns how many there were.
    pub async fn clear_post_approvals(&mut self, post_id: &PostId) -> Result<u64> {
        let q = "DELETE FROM post_approvals WHERE post_id = $1";
        Ok(on_tx!(self, |c| sqlx::query(q).bind(post_id.as_str()).execute(c).await.map(|r| r.rows_affected()))?)
    }

    pub async fn insert_post_comment(&mut self, comment: NewPostComment<'_>) -> Result<()> {
        let q = "INSERT INTO post_comments (id, post_id, author_id, kind, body, version, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(comment.id)
            .bind(comment.post_id.as_str())
            .bind(comment.author_id.as_str())
            .bind(comment.kind)
            .bind(comment.body)
            .bind(comment.version)
            .bind(comment.now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The account's other posts that occupy a publishing slot within `[from, to)`: scheduled,
    /// publishing or published, at the instant they went out (or are due). Call after
    /// [`Tx::lock_account`], so that two schedules of one account cannot both pass the pace
    /// rules on the same free slot.
    pub async fn pace_slots(
        &mut self,
        account_id: &AccountId,
        except_post_id: &PostId,
        from: Micros,
        to: Micros,
    ) -> Result<Vec<PaceSlotRow>> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, PaceSlotRow>(PACE_QUERY)
            .bind(account_id.as_str())
            .bind(except_post_id.as_str())
            .bind(from)
            .bind(to)
            .fetch_all(c)
            .await)?)
    }

    pub async fn insert_media_upload(&mut self, m: NewMediaUpload<'_>) -> Result<()> {
        let q = "INSERT INTO media_uploads (id, account_id, uploaded_by, kind, content_type, size_bytes, sha256, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(m.id.as_str())
            .bind(m.account_id.as_str())
            .bind(m.uploaded_by.as_str())
            .bind(m.kind)
            .bind(m.content_type)
            .bind(m.size_bytes)
            .bind(m.sha256)
            .bind(m.now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

impl Store {
    /// A page of the posts `user_id` wrote on the accounts they still belong to at `now`
    /// (owner, or an active membership whose time is not up), oldest first: after `after`
    /// (`(created_at, id)` of the previous page's last). A post on an account they were removed
    /// from, suspended on or expired from is the account's now: its text as others edited it,
    /// its schedule, its state are not theirs to read any more.
    pub async fn posts_by_author(
        &self,
        user_id: &UserId,
        now: Micros,
        after: Option<(Micros, &str)>,
        limit: i64,
    ) -> Result<Vec<PostRow>> {
        let (at, id) = after.unwrap_or((Micros::MIN, ""));
        let q = sql(&[
            "SELECT ",
            POST_COLUMNS,
            " FROM posts p WHERE p.author_id = $1 AND (p.created_at > $2 OR (p.created_at = $2 AND p.id > $3)) \
             AND EXISTS (SELECT 1 FROM memberships m WHERE m.account_id = p.account_id AND m.user_id = $1 \
             AND (m.role = 'owner' OR (m.status = 'active' AND (m.expires_at IS NULL OR m.expires_at > $5)))) \
             ORDER BY p.created_at, p.id LIMIT CAST($4 AS BIGINT)",
        ]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, PostRow>(q)
            .bind(user_id.as_str())
            .bind(at)
            .bind(id)
            .bind(limit)
            .bind(now)
            .fetch_all(c)
            .await)?)
    }

    /// A page of the review comments `user_id` wrote, oldest first, after `after` as above.
    pub async fn comments_by_author(
        &self,
        user_id: &UserId,
        after: Option<(Micros, &str)>,
        limit: i64,
    ) -> Result<Vec<PostCommentRow>> {
        let (at, id) = after.unwrap_or((Micros::MIN, ""));
        let q = sql(&[
            "SELECT ",
            COMMENT_COLUMNS,
            " FROM post_comments c JOIN users u ON u.id = c.author_id WHERE c.author_id = $1 \
             AND (c.created_at > $2 OR (c.created_at = $2 AND c.id > $3)) ORDER BY c.created_at, c.id LIMIT CAST($4 AS BIGINT)",
        ]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, PostCommentRow>(q)
            .bind(user_id.as_str())
            .bind(at)
            .bind(id)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }
}
