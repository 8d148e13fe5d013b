//! Drafts: creating a post (idempotently), editing it against the version it was based on,
//! listing an account's posts and reading one. An edit makes the post a draft again.
//!
//! Decisions where the spec is silent:
//! - An edit must name the version it was made from (`BasedOn`); "any version" is refused the
//!   same way, since it would defeat the check.
//! - An edit that changes nothing is not an edit: the post stays as it is.
//! - An idempotency key on create is scoped to (account, author); a replay with the same
//!   content answers the post it made, different content is refused.
use serde::Deserialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::{AccountId, PostId, UserId};
use steward_domain::platform;
use steward_domain::post::{PostAction, PostSnapshot, PostState, transition};
use steward_store::{AccountRow, NewPost, PostContent, PostExtras, PostListQuery, PostRow, StoreError};
use utoipa::{IntoParams, ToSchema};

use crate::actor::{Ctx, Principal};
use crate::authz::{AccountAccess, Need, authorize};
use crate::crypto::sha256;
use crate::error::{AppError, AppResult, FieldError};
use crate::input::nullable;
use crate::paging::page_limit;
use crate::posts::rules::{approval_rules, counting_approvals};
use crate::posts::view::{MediaItem, PostView, current, etag, parse_media, post_view};
use crate::posts::workflow::{load, performer, post_error, state_of, target, version_of};
use crate::services::Services;
use crate::usecase::{Audit, record};

pub const MAX_TEXT_CHARS: usize = 10_000;
pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_MEDIA_ITEMS: usize = 20;
pub const MAX_MEDIA_URL_LEN: usize = 2048;
/// An image's alt text: at most this many characters (Mastodon's default limit is 1500).
pub const MAX_ALT_CHARS: usize = 1000;
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// Mastodon counts a status's content warning and its text together against this limit (its
/// server's status length rule; 500 is the default of an instance).
pub const MASTODON_STATUS_CHARS: usize = 500;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ContentRequest {
    pub text: String,
    pub title: Option<String>,
    #[serde(default)]
    pub media: Vec<MediaItem>,
    /// Mastodon only: the content warning the status is folded behind (Mastodon's
    /// `spoiler_text`). Mastodon counts it with the text: both together at most 500 characters.
    #[schema(max_length = 500)]
    pub content_warning: Option<String>,
    /// When the post is meant to go out (RFC 3339): a plan shown on the calendar, never a
    /// schedule (nothing is published by it).
    #[schema(format = DateTime)]
    pub planned_for: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EditRequest {
    pub text: Option<String>,
    /// `null` removes the title.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    pub media: Option<Vec<MediaItem>>,
    /// Mastodon only; `null` or blank removes it. A change is a content edit (a new version).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub content_warning: Option<Option<String>>,
    /// RFC 3339; `null` clears it. Changing only the plan is not a content edit: the version,
    /// state and approvals stay.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub planned_for: Option<Option<String>>,
}

/// A content warning as stored: trimmed, and none when blank (so a cleared field removes it).
pub(crate) fn tidy_warning(warning: Option<&str>) -> Option<String> {
    warning.map(|w| w.replace("\r\n", "\n").trim().to_string()).filter(|w| !w.is_empty())
}

/// A content warning is Mastodon's alone, and Mastodon counts it with the text.
fn validate_warning(account: &AccountRow, warning: Option<&str>, text: &str, errors: &mut Vec<FieldError>) {
    let Some(warning) = warning else { return };
    if account.platform != platform::Platform::Mastodon {
        let name = platform::platform(account.platform.as_str()).map_or("this platform", |p| p.name);
        errors.push(FieldError::new("content_warning", format!("is for Mastodon accounts only, not {name}")));
    } else if warning.chars().any(|c| c.is_control()) {
        errors.push(FieldError::new("content_warning", "must be one line, without control characters"));
    } else if platform::text_chars(warning) + platform::text_chars(text) > MASTODON_STATUS_CHARS {
        errors.push(FieldError::new(
            "content_warning",
            format!(
                "and the text together must be at most {MASTODON_STATUS_CHARS} characters on Mastodon (this is {})",
                platform::text_chars(warning) + platform::text_chars(text)
            ),
        ));
    }
}

/// A planned time: any RFC 3339 instant (a plan in the past stays as written: it never acts).
pub(crate) fn planned_instant(raw: &str) -> AppResult<i64> {
    raw.parse::<jiff::Timestamp>()
        .map(jiff::Timestamp::as_microsecond)
        .map_err(|_| AppError::validation("planned_for", "must be an RFC 3339 time such as 2027-01-31T17:00:00Z"))
}

/// The version of the post an edit was made from, as the version tags ([`etag`]) the editor
/// last saw: the edit is refused unless one of them is the post's tag as stored now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasedOn {
    /// No version named.
    Unstated,
    /// "Whatever version it is now".
    AnyVersion,
    Tags(Vec<String>),
}

impl BasedOn {
    /// Whether it names `current`; naming none at all is refused (a conditional edit is required).
    fn names(&self, current: &str) -> AppResult<bool> {
        match self {
            BasedOn::Unstated => Err(AppError::PreconditionRequired(
                "Send the post's ETag (from GET /api/v1/posts/{id}) in If-Match, so that an edit never overwrites \
                 changes you have not seen."
                    .into(),
            )),
            BasedOn::AnyVersion => Err(AppError::PreconditionRequired(
                "If-Match: * is not accepted here; send the post's ETag (from GET /api/v1/posts/{id}).".into(),
            )),
            BasedOn::Tags(tags) => Ok(tags.iter().any(|tag| tag == current)),
        }
    }
}

/// The longest text a post on `account` may have: its platform's limit (within Steward's own).
#[must_use]
pub fn text_limit(account: &AccountRow) -> usize {
    platform::platform(account.platform.as_str()).map_or(MAX_TEXT_CHARS, |p| p.max_text_chars.min(MAX_TEXT_CHARS))
}

/// Refused at once rather than when it is due: the platform would refuse it then.
fn validate_text(text: &str, account: &AccountRow, errors: &mut Vec<FieldError>) {
    let limit = text_limit(account);
    if platform::text_chars(text) > limit {
        let name = platform::platform(account.platform.as_str()).map_or("this platform", |p| p.name);
        errors.push(FieldError::new("text", format!("must be at most {limit} characters on {name}")));
    }
}

fn validate_title(title: Option<&str>, errors: &mut Vec<FieldError>) {
    if title.is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS) {
        errors.push(FieldError::new("title", format!("must be at most {MAX_TITLE_CHARS} characters")));
    }
}

/// Media by URL: `http(s)://host/...`, no spaces or control characters, kind image or video.
/// The host is a name or an IPv4 address: brackets (an IPv6 literal, or half of one) are
/// refused rather than stored and echoed as something no URL parser reads.
fn validate_media(media: &[MediaItem], errors: &mut Vec<FieldError>) {
    if media.len() > MAX_MEDIA_ITEMS {
        errors.push(FieldError::new("media", format!("at most {MAX_MEDIA_ITEMS} items")));
        return;
    }
    for (i, item) in media.iter().enumerate() {
        if !matches!(item.kind.as_str(), "image" | "video") {
            errors.push(FieldError::new(format!("media[{i}].kind"), "must be `image` or `video`"));
        }
        if let Some(alt) = item.alt.as_deref().filter(|a| !a.trim().is_empty()) {
            if item.kind != "image" {
                errors.push(FieldError::new(format!("media[{i}].alt"), "is for images only"));
            } else if alt.chars().count() > MAX_ALT_CHARS || alt.chars().any(|c| c.is_control() && c != '\n') {
                errors.push(FieldError::new(
                    format!("media[{i}].alt"),
                    format!("must be at most {MAX_ALT_CHARS} characters, without control characters"),
                ));
            }
        }
        let url = item.url.as_str();
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
        let host_ok = rest.is_some_and(|r| {
            let host = r.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty() && !host.contains(['@', '[', ']'])
        });
        if url.chars().count() > MAX_MEDIA_URL_LEN
            || !host_ok
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            errors.push(FieldError::new(
                format!("media[{i}].url"),
                format!("must be an http:// or https:// URL with a host, at most {MAX_MEDIA_URL_LEN} characters"),
            ));
        }
    }
}

/// Alt text as stored: trimmed, and none when blank (so a cleared field removes it).
fn tidy_media(media: Vec<MediaItem>) -> Vec<MediaItem> {
    media
        .into_iter()
        .map(|m| {
            let alt = m.alt.as_deref().map(|a| a.replace("\r\n", "\n").trim().to_string()).filter(|a| !a.is_empty());
            MediaItem { alt, ..m }
        })
        .collect()
}

fn validate_not_empty(text: &str, media: &[MediaItem], errors: &mut Vec<FieldError>) {
    if text.trim().is_empty() && media.is_empty() {
        errors.push(FieldError::new("text", "must not be empty when the post has no media"));
    }
}

/// Every media item must be an external URL or a file uploaded to the post's own account.
pub(crate) async fn check_media_belongs(s: &Services, account_id: &AccountId, media: &[MediaItem]) -> AppResult<()> {
    let mut errors = Vec::new();
    for (i, item) in media.iter().enumerate() {
        match crate::posts::media::stored_media(s, account_id, &item.url).await {
            Ok(_) => {}
            Err(AppError::Validation(_)) => errors.push(FieldError::new(
                format!("media[{i}].url"),
                "is not a file uploaded to this account (upload it here, or give an external URL)",
            )),
            Err(e) => return Err(e),
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// All of a post's content rules at once, so every invalid field is named together.
pub(crate) fn validate_content(
    account: &AccountRow,
    text: &str,
    title: Option<&str>,
    media: &[MediaItem],
    warning: Option<&str>,
) -> AppResult<()> {
    let mut errors = Vec::new();
    validate_text(text, account, &mut errors);
    validate_warning(account, warning, text, &mut errors);
    validate_title(title, &mut errors);
    validate_media(media, &mut errors);
    validate_not_empty(text, media, &mut errors);
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// The rules an edit's given fields must keep on their own (not emptiness, which depends on
/// what the post keeps).
fn validate_given(account: &AccountRow, input: &EditRequest) -> AppResult<()> {
    let mut errors = Vec::new();
    if let Some(text) = &input.text {
        validate_text(text, account, &mut errors);
    }
    if let Some(Some(title)) = &input.title {
        validate_title(Some(title), &mut errors);
    }
    if let Some(media) = &input.media {
        validate_media(media, &mut errors);
    }
    if let Some(warning) = input.content_warning.as_ref().and_then(|w| tidy_warning(w.as_deref()))
        && account.platform != platform::Platform::Mastodon
    {
        validate_warning(account, Some(&warning), "", &mut errors);
    }
    if let Some(Some(raw)) = &input.planned_for
        && let Err(AppError::Validation(e)) = planned_instant(raw)
    {
        errors.extend(e);
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// An idempotency key: 1 to 255 visible ASCII characters.
pub(crate) fn idempotency_key(key: &str) -> AppResult<String> {
    let visible = key.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN || !visible {
        return Err(AppError::validation(
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"),
        ));
    }
    Ok(key.to_string())
}

/// Creates a draft on the account. With an idempotency key, a replay of the same content
/// answers the draft the first request made.
pub async fn create_post(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    idempotency: Option<&str>,
    mut input: ContentRequest,
) -> AppResult<PostView> {
    input.media = tidy_media(input.media);
    input.content_warning = tidy_warning(input.content_warning.as_deref());
    ctx.slot.set_action(Action::PostCreate, Some(format!("account:{account_id}")));
    let access = authorize(s, ctx, who, account_id, Need::Capability(Capability::DraftsCreate)).await?;
    let key = idempotency.map(idempotency_key).transpose()?;
    validate_content(
        &access.account,
        &input.text,
        input.title.as_deref(),
        &input.media,
        input.content_warning.as_deref(),
    )?;
    let planned_for = input.planned_for.as_deref().map(planned_instant).transpose()?;
    check_media_belongs(s, account_id, &input.media).await?;
    let request_hash = sha256(
        json!({"text": input.text, "title": input.title, "media": input.media,
               "content_warning": input.content_warning, "planned_for": planned_for})
        .to_string()
        .as_bytes(),
    );
    let now = s.clock.now_us();

    let mut tx = s.store.begin().await?;
    if let Some(key) = &key
        && let Some((existing, hash)) = tx.post_by_idempotency_key(account_id, &who.user_id, key).await?
    {
        drop(tx);
        return replay(s, &access, existing, &hash, &request_hash);
    }
    let draft = Draft {
        account_id,
        title: input.title.as_deref(),
        text: &input.text,
        media: &input.media,
        content_warning: input.content_warning.as_deref(),
        planned_for,
        idempotency: key.as_deref().map(|k| (k, request_hash.as_slice())),
        copies: None,
        now,
    };
    let Some(post) = insert_draft_once(s, ctx, who, &mut tx, draft).await? else {
        // Another request with the same key won the race (PostgreSQL): answer as its replay.
        drop(tx);
        let mut tx = s.store.begin().await?;
        let found = tx.post_by_idempotency_key(account_id, &who.user_id, key.as_deref().unwrap_or_default()).await?;
        drop(tx);
        let (existing, hash) = found.ok_or(AppError::Conflict("retry this request".into()))?;
        return replay(s, &access, existing, &hash, &request_hash);
    };
    tx.commit().await?;
    Ok(post_view(post, &access.account, &[], now))
}

/// A new draft as a create writes it.
pub(crate) struct Draft<'a> {
    pub account_id: &'a AccountId,
    pub title: Option<&'a str>,
    pub text: &'a str,
    pub media: &'a [MediaItem],
    /// Mastodon's content warning, already checked.
    pub content_warning: Option<&'a str>,
    /// When the author means it to go out (a plan, not a schedule).
    pub planned_for: Option<i64>,
    /// The key and the hash of the request it came with.
    pub idempotency: Option<(&'a str, &'a [u8])>,
    /// How many drafts its request makes, when it makes several (a fact of the audit event).
    pub copies: Option<usize>,
    pub now: i64,
}

/// Writes `draft` by `who` in `tx` with its `posts.create` event and answers the row as
/// written (reading it back would cost two more queries per draft). `None`: another request
/// with the same idempotency key has just written its own (PostgreSQL's unique index refused
/// this one), and the caller answers that one's replay.
pub(crate) async fn insert_draft_once(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    tx: &mut steward_store::Tx,
    draft: Draft<'_>,
) -> AppResult<Option<PostRow>> {
    let post_id = PostId::new(uuid::Uuid::now_v7().to_string());
    let media = serde_json::to_string(draft.media).map_err(AppError::internal)?;
    let inserted = tx
        .insert_post_with(
            NewPost {
                id: &post_id,
                account_id: draft.account_id,
                author_id: &who.user_id,
                title: draft.title,
                text: draft.text,
                media: &media,
                idempotency: draft.idempotency,
                now: draft.now,
            },
            PostExtras { content_warning: draft.content_warning, planned_for: draft.planned_for },
        )
        .await;
    match inserted {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) if draft.idempotency.is_some() => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let mut detail = json!({
        "post_id": post_id,
        "version": 1,
        "text_chars": draft.text.chars().count(),
        "media": draft.media.len(),
        "content_warning": draft.content_warning.is_some(),
        "planned_for": draft.planned_for.map(crate::clock::rfc3339),
    });
    if let Some(copies) = draft.copies {
        detail["copies"] = json!(copies);
    }
    let audit = Audit::on_account(draft.account_id, Action::PostCreate).target(target(&post_id)).detail(detail);
    record(s, ctx, &who.actor(), tx, audit).await?;
    Ok(Some(PostRow {
        id: post_id,
        account_id: draft.account_id.clone(),
        author_id: who.user_id.clone(),
        state: PostState::Draft,
        version: 1,
        title: draft.title.map(str::to_string),
        text: draft.text.to_string(),
        media,
        scheduled_at: None,
        scheduled_by: None,
        published_at: None,
        external_id: None,
        external_url: None,
        last_error: None,
        hold_reason: None,
        reply_to: None,
        created_at: draft.now,
        updated_at: draft.now,
        content_warning: draft.content_warning.map(str::to_string),
        planned_for: draft.planned_for,
    }))
}

fn replay(
    s: &Services,
    access: &AccountAccess,
    post: PostRow,
    hash: &[u8],
    request_hash: &[u8],
) -> AppResult<PostView> {
    if hash != request_hash {
        return Err(AppError::validation(
            "Idempotency-Key",
            "was already used for a different request; use a new key for new content",
        ));
    }
    Ok(post_view(post, &access.account, &[], s.clock.now_us()))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ListPostsQuery {
    /// Only posts in this state.
    #[param(pattern = "^(draft|in_review|approved|scheduled|publishing|published|failed|cancelled)$")]
    pub state: Option<String>,
    /// Only posts by this author (user id).
    pub author: Option<String>,
    /// 1 to 500; default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(pattern = r"^-?[0-9]{1,18}\.[\s\S]*$")]
    pub cursor: Option<String>,
}

/// A page of an account's posts, newest first.
#[derive(Debug)]
pub struct PostList {
    pub items: Vec<PostView>,
    /// Where the next page starts, when there is one.
    pub next_cursor: Option<String>,
}

pub async fn list_posts(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    q: ListPostsQuery,
) -> AppResult<PostList> {
    let access = authorize(s, ctx, who, account_id, Need::Capability(Capability::AccountView)).await?;
    let limit = page_limit(q.limit)?;
    let filter = match q.state.as_deref() {
        Some(state) => Some(PostFilter::State(
            PostState::ALL.iter().copied().find(|known| known.as_str() == state).ok_or_else(|| {
                AppError::validation(
                    "state",
                    "must be one of draft, in_review, approved, scheduled, publishing, published, failed, cancelled",
                )
            })?,
        )),
        None => None,
    };
    page_of(s, &access, filter, q.author.as_deref(), q.cursor.as_deref(), limit).await
}

/// What a list of posts can be narrowed to: a stored state, or one of the two situations a
/// person thinks of as states (a draft sent back for changes, a post held when it was due).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostFilter {
    State(PostState),
    ChangesRequested,
    Held,
}

/// Which posts of an account to list, and from where.
#[derive(Debug, Clone, Copy, Default)]
pub struct Browse<'a> {
    pub filter: Option<PostFilter>,
    pub author: Option<&'a str>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<&'a str>,
    pub limit: Option<i64>,
}

/// The account's posts for the posts page, newest first, narrowed by filter and author (the
/// same authorization as [`list_posts`]).
pub async fn browse_posts(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    q: Browse<'_>,
) -> AppResult<PostList> {
    let access = authorize(s, ctx, who, account_id, Need::Capability(Capability::AccountView)).await?;
    let limit = page_limit(q.limit)?;
    page_of(s, &access, q.filter, q.author, q.cursor, limit).await
}

async fn page_of(
    s: &Services,
    access: &AccountAccess,
    filter: Option<PostFilter>,
    author: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
) -> AppResult<PostList> {
    let cursor = match cursor {
        None => None,
        Some(c) => {
            Some(decode_cursor(c).ok_or_else(|| AppError::validation("cursor", "is not a cursor from this list"))?)
        }
    };
    // The author filter arrives as text: typed once here.
    let author = author.map(UserId::from);
    let rows = s
        .store
        .list_posts(
            &access.account.id,
            &PostListQuery {
                state: match filter {
                    Some(PostFilter::State(state)) => Some(state.as_str()),
                    _ => None,
                },
                author_id: author.as_ref(),
                before: cursor.as_ref().map(|(at, pid)| (*at, pid.as_str())),
                limit: limit + 1,
                changes_requested: filter == Some(PostFilter::ChangesRequested),
                held: filter == Some(PostFilter::Held),
            },
        )
        .await?;
    let page = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > page;
    let rows: Vec<PostRow> = rows.into_iter().take(page).collect();
    let next_cursor = if more { rows.last().map(|p| encode_cursor(p.created_at, &p.id)) } else { None };
    let now = s.clock.now_us();
    let mut items = Vec::with_capacity(rows.len());
    for post in rows {
        // Only these states carry approvals that still matter.
        let approvals = if post.state == PostState::InReview
            || post.state == PostState::Approved
            || post.state == PostState::Scheduled
        {
            s.store.post_approvals(&post.id).await?
        } else {
            Vec::new()
        };
        items.push(post_view(post, &access.account, &approvals, now));
    }
    Ok(PostList { items, next_cursor })
}

/// `<created_at>.<post id>`: where the next page starts, as the activity and alert lists write
/// theirs (a grammar the API document states, so a client can tell a cursor from garbage).
fn encode_cursor(created_at: i64, id: &str) -> String {
    format!("{created_at}.{id}")
}

fn decode_cursor(cursor: &str) -> Option<(i64, String)> {
    let (at, id) = cursor.split_once('.')?;
    Some((at.parse().ok()?, id.to_string()))
}

pub async fn get_post(s: &Services, ctx: &Ctx, who: &Principal, post_id: &PostId) -> AppResult<PostView> {
    let (post, access) = load(s, ctx, who, post_id, Capability::AccountView).await?;
    let approvals = s.store.post_approvals(post_id).await?;
    Ok(post_view(post, &access.account, &approvals, s.clock.now_us()))
}

/// Edits the post's content, if `based_on` names it as stored now. The author with
/// `drafts.create`, or a member with `drafts.edit_any`: the domain decides which applies.
pub async fn edit_post(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    post_id: &PostId,
    based_on: &BasedOn,
    input: EditRequest,
) -> AppResult<PostView> {
    ctx.slot.set_action(Action::PostEdit, Some(target(post_id)));
    let (_, access) = load(s, ctx, who, post_id, Capability::AccountView).await?;
    // A field that is invalid whatever the post holds now is refused as such (422), before
    // the version is compared: a fresh `If-Match` would not make it acceptable.
    validate_given(&access.account, &input)?;
    let now = s.clock.now_us();
    let mut tx = s.store.begin().await?;
    let post = tx.lock_post(post_id).await?.ok_or(AppError::NotFound)?;
    if !based_on.names(&etag(&post))? {
        return Err(AppError::PreconditionFailed);
    }
    let approvals = tx.post_approvals(post_id).await?;
    let counting = counting_approvals(&access.account, &approvals, now);
    let snapshot = PostSnapshot { state: state_of(&post)?, version: version_of(&post), approvals: &counting };
    // The domain's edit (draft, approvals and schedule cleared) is what `update_post_content` stores.
    let _edit = transition(&snapshot, &approval_rules(&access.account), &performer(&access, &post), &PostAction::Edit)
        .map_err(post_error)?;

    let old_media = parse_media(&post.media);
    let text = input.text.unwrap_or_else(|| post.text.clone());
    let title = match input.title {
        None => post.title.clone(),
        Some(t) => t,
    };
    let media = input.media.map_or_else(|| old_media.clone(), tidy_media);
    let warning = match &input.content_warning {
        None => post.content_warning.clone(),
        Some(w) => tidy_warning(w.as_deref()),
    };
    let planned_for = match &input.planned_for {
        None => post.planned_for,
        Some(raw) => raw.as_deref().map(planned_instant).transpose()?,
    };
    validate_content(&access.account, &text, title.as_deref(), &media, warning.as_deref())?;
    check_media_belongs(s, &access.account.id, &media).await?;
    let mut changed = Vec::new();
    if text != post.text {
        changed.push("text");
    }
    if title != post.title {
        changed.push("title");
    }
    if media != old_media {
        changed.push("media");
    }
    if warning != post.content_warning {
        changed.push("content_warning");
    }
    let replanned = planned_for != post.planned_for;
    if changed.is_empty() && !replanned {
        // Nothing to store: not an edit, so nothing goes back to draft.
        drop(tx);
        return Ok(post_view(post, &access.account, &approvals, now));
    }
    let (version, to_state, cleared) = if changed.is_empty() {
        (post.version, post.state.as_str(), 0)
    } else {
        let media_json = serde_json::to_string(&media).map_err(AppError::internal)?;
        let content = PostContent {
            title: title.as_deref(),
            text: &text,
            media: &media_json,
            content_warning: warning.as_deref(),
        };
        let Some(version) =
            tx.update_post_content(post_id, post.version, post.state.as_str(), &content, &who.user_id, now).await?
        else {
            return Err(AppError::PreconditionFailed);
        };
        (version, PostState::Draft.as_str(), approvals.len())
    };
    if replanned {
        changed.push("planned_for");
        if !tx.set_post_planned_for(post_id, version, to_state, planned_for, now).await? {
            return Err(AppError::PreconditionFailed);
        }
    }
    let audit = Audit::on_account(&post.account_id, Action::PostEdit).target(target(post_id)).detail(json!({
        "post_id": post_id,
        "from_version": post.version,
        "to_version": version,
        "changed": changed,
        "from_state": post.state,
        "to_state": to_state,
        "approvals_cleared": cleared,
        "planned_for": planned_for.map(crate::clock::rfc3339),
    }));
    record(s, ctx, &who.actor(), &mut tx, audit).await?;
    tx.commit().await?;
    current(s, &access.account, post_id).await
}
