//! Posts (`/api/v1/accounts/{id}/posts`, `/api/v1/posts/{id}*`, `/api/v1/accounts/{id}/media*`):
//! drafts, versions, review, approval, scheduling and cancelling (DESIGN.md "Post workflow",
//! Invariants 5 and 7). Publishing itself is the scheduler's.
//!
//! Every handler follows one pattern: authorize on the post's account with the capability the
//! endpoint needs, lock the post in a transaction, ask `steward_domain::post::transition`
//! (which applies the author-only and self-approval rules), store what it decided with a
//! compare-and-set, append the audit event, commit.
//!
//! Decisions where the spec is silent:
//! - `ETag` is `"<version>.<updated_at>"`: any change to the post (an approval, a state
//!   change) makes an earlier `If-Match` stale, so nobody edits content they have not seen in
//!   its current state. `If-Match` is required on PATCH (428 `precondition-required` without
//!   it; `*` is refused the same way, since it would defeat the check).
//! - A PATCH that changes nothing is not an edit: the post stays as it is.
//! - Scheduling is refused outside the scheduling member's windows both at the moment of
//!   asking and at the scheduled instant (DESIGN.md: "scheduling and publishing are refused"
//!   outside them; "nothing is scheduled or published outside them").
//! - The daily quota counts posts the member scheduled (see `steward_domain::pace`).
//! - `Idempotency-Key` on create is scoped to (account, author); a replay with the same body
//!   answers 201 with the post it made, a different body 422.
use steward_app::AppError;
use steward_domain::audit::Action;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_domain::capability::Capability;
use steward_domain::pace::{self};
use steward_domain::platform;
use steward_domain::post::{
    Approval, ApprovalChange, Performer, PostAction, PostActionKind, PostActor, PostError, PostErrorKind, PostSnapshot,
    PostState, ScheduleChange, Transition, transition,
};
use steward_domain::windows::Window;
use steward_store::{
    AccountRow, ApprovalRow, MediaUploadRow, NewMediaUpload, NewPost, NewPostComment, PostCommentRow, PostContent,
    PostListQuery, PostRow, PostStateWrite, ScheduleWrite, StoreError, Tx,
};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, Json, Path, Problem, Query};
use crate::request::Ctx;
use crate::routes::{Page, nullable, page_limit};
use crate::state::AppState;
use steward_app::authz::{AccountAccess, Need, authorize};
use steward_app::clock::rfc3339;
use steward_app::crypto::sha256;
use steward_app::posts::media::media_dir;
use steward_app::posts::rules::{approval_counts, approval_rules, check_pace, counting_approvals};

pub const MAX_TEXT_CHARS: usize = 10_000;
pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_MEDIA_ITEMS: usize = 20;
pub const MAX_MEDIA_URL_LEN: usize = 2048;
pub const MAX_COMMENT_CHARS: usize = 5_000;
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// How far ahead a post may be scheduled.
pub const MAX_SCHEDULE_AHEAD_DAYS: i64 = 366;
/// Uploads: images up to 8 MiB (PNG, JPEG, GIF, WebP), videos up to 256 MiB (MP4, QuickTime).
pub const MAX_IMAGE_BYTES: u64 = 8 * 1024 * 1024;
pub const MAX_VIDEO_BYTES: u64 = 256 * 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_post, list_posts))
        .routes(routes!(get_post, edit_post))
        .routes(routes!(submit_post))
        .routes(routes!(approve_post))
        .routes(routes!(request_changes))
        .routes(routes!(schedule_post))
        .routes(routes!(publish_now))
        .routes(routes!(cancel_post))
        .routes(routes!(list_comments, add_comment))
        .routes(routes!(upload_media))
        .routes(routes!(get_media))
}

// ---------------------------------------------------------------------------------------------
// Views

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MediaItem {
    pub url: String,
    /// `image` or `video`.
    pub kind: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApprovalView {
    pub user_id: String,
    pub version: i64,
    pub approved_at: String,
    /// Whether it counts now: the approver still holds `posts.approve` on the account.
    pub counts: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PostView {
    pub id: String,
    pub account_id: String,
    pub author_id: String,
    /// `draft`, `in_review`, `approved`, `scheduled`, `publishing`, `published`, `failed`, `cancelled`.
    pub state: String,
    pub title: Option<String>,
    pub text: String,
    pub media: Vec<MediaItem>,
    /// Raised by every content edit, not by state changes.
    pub version: i64,
    pub approvals: Vec<ApprovalView>,
    pub scheduled_at: Option<String>,
    pub scheduled_by: Option<String>,
    pub published_at: Option<String>,
    pub external_id: Option<String>,
    pub external_url: Option<String>,
    pub last_error: Option<String>,
    /// Why the scheduler held the post when it was due, until it is scheduled again.
    pub hold_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct CommentView {
    pub id: String,
    pub post_id: String,
    pub author_id: String,
    pub author_display_name: String,
    /// `comment`, or `changes_requested` for the comment of a request for changes.
    pub kind: String,
    pub body: String,
    /// The post version the comment is about.
    pub version: i64,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct MediaView {
    pub id: String,
    /// Where Steward serves the file, to members of the account; use it in a post's `media`.
    pub url: String,
    pub kind: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub created_at: String,
}

fn parse_media(json: &str) -> Vec<MediaItem> {
    serde_json::from_str(json).unwrap_or_default()
}

/// The `ETag` of a post as stored now.
#[must_use]
pub fn etag(post: &PostRow) -> String {
    format!("\"{}.{}\"", post.version, post.updated_at)
}

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
        media: parse_media(&post.media),
        approvals,
        scheduled_at: post.scheduled_at.map(rfc3339),
        published_at: post.published_at.map(rfc3339),
        created_at: rfc3339(post.created_at),
        updated_at: rfc3339(post.updated_at),
        id: post.id,
        account_id: post.account_id,
        author_id: post.author_id,
        state: post.state,
        title: post.title,
        text: post.text,
        version: post.version,
        scheduled_by: post.scheduled_by,
        external_id: post.external_id,
        external_url: post.external_url,
        last_error: post.last_error,
        hold_reason: post.hold_reason,
    }
}

/// The post as JSON with its `ETag` header.
fn post_response(
    status: StatusCode,
    post: PostRow,
    account: &AccountRow,
    approvals: &[ApprovalRow],
    now: i64,
) -> Response {
    let tag = etag(&post);
    let mut response = (status, Json(post_view(post, account, approvals, now))).into_response();
    if let Ok(value) = HeaderValue::from_str(&tag) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

fn comment_view(c: PostCommentRow) -> CommentView {
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

fn media_url(state: &AppState, account_id: &str, media_id: &str) -> String {
    format!("{}/api/v1/accounts/{account_id}/media/{media_id}", state.settings.public_url.trim_end_matches('/'))
}

fn media_view(state: &AppState, m: MediaUploadRow) -> MediaView {
    MediaView {
        url: media_url(state, &m.account_id, &m.id),
        sha256: hex::encode(&m.sha256),
        created_at: rfc3339(m.created_at),
        id: m.id,
        kind: m.kind,
        content_type: m.content_type,
        size_bytes: m.size_bytes,
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn post_error(e: PostError) -> ApiError {
    match e.kind() {
        PostErrorKind::Forbidden => ApiError(AppError::Forbidden(e.to_string())),
        PostErrorKind::Conflict => ApiError(AppError::Conflict(e.to_string())),
    }
}

/// The acting member as the domain sees them, with their capabilities narrowed by the token.
fn actor(access: &AccountAccess, post: &PostRow) -> Performer {
    let mut rights = access.rights;
    rights.capabilities = access.capabilities;
    Performer::Member(PostActor {
        user_id: access.membership.user_id.clone(),
        is_author: post.author_id == access.membership.user_id,
        rights,
    })
}

fn state_of(post: &PostRow) -> ApiResult<PostState> {
    PostState::ALL
        .into_iter()
        .find(|s| s.as_str() == post.state)
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("post {} has an unknown state {}", post.id, post.state)))
}

fn version_of(post: &PostRow) -> u32 {
    u32::try_from(post.version).unwrap_or(u32::MAX)
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
    let performer = actor(access, post);
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

/// Loads the post and authorizes the caller on its account. A post that does not exist and a
/// post on an account the caller is not a member of both answer 404.
async fn load(
    state: &AppState,
    ctx: &Ctx,
    principal: &Principal,
    post_id: &str,
    need: Capability,
) -> ApiResult<(PostRow, AccountAccess)> {
    let Some(post) = state.store.post(post_id).await? else {
        return Err(ApiError(AppError::NotFound));
    };
    let access = authorize(state, ctx, principal, &post.account_id, Need::Capability(need)).await?;
    Ok((post, access))
}

/// Inside a transaction: the post locked, its approvals, and the domain's decision on `action`.
struct Decided {
    post: PostRow,
    step: Transition,
    from: PostState,
    counting: Vec<Approval>,
}

async fn decide(
    tx: &mut Tx,
    access: &AccountAccess,
    post_id: &str,
    action: &PostAction,
    now: i64,
) -> ApiResult<Decided> {
    let post = tx.lock_post(post_id).await?.ok_or(ApiError(AppError::NotFound))?;
    let approvals = tx.post_approvals(post_id).await?;
    let counting = counting_approvals(&access.account, &approvals, now);
    let from = state_of(&post)?;
    let snapshot = PostSnapshot { state: from, version: version_of(&post), approvals: &counting };
    let step =
        transition(&snapshot, &approval_rules(&access.account), &actor(access, &post), action).map_err(post_error)?;
    Ok(Decided { post, step, from, counting })
}

/// Stores a decided transition (not an edit) with a compare-and-set on state and version.
async fn store_step(tx: &mut Tx, d: &Decided, scheduled_by: &str, now: i64) -> ApiResult<()> {
    let schedule = match d.step.schedule {
        ScheduleChange::Keep => ScheduleWrite::Keep,
        ScheduleChange::Clear => ScheduleWrite::Clear,
        ScheduleChange::Set(at) => ScheduleWrite::Set { at: at.as_microsecond(), by: scheduled_by },
    };
    if let ApprovalChange::Add(approval) = &d.step.approvals {
        tx.insert_post_approval(&d.post.id, i64::from(approval.version), &approval.user_id, approval.by_owner, now)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => {
                    ApiError(AppError::Conflict("you have already approved this version".into()))
                }
                other => other.into(),
            })?;
    }
    let write = PostStateWrite {
        state: d.step.state.as_str(),
        schedule,
        hold_reason: None,
        clear_approvals: d.step.approvals == ApprovalChange::Clear,
    };
    if !tx.apply_post_transition(&d.post.id, d.from.as_str(), d.post.version, &write, now).await? {
        return Err(ApiError(AppError::Conflict("the post changed meanwhile; reload it and try again".into())));
    }
    Ok(())
}

/// Commits and answers with the post as stored now.
async fn answer(
    state: &AppState,
    tx: Tx,
    access: &AccountAccess,
    post_id: &str,
    status: StatusCode,
) -> ApiResult<Response> {
    tx.commit().await?;
    // A schedule, publish-now or cancel may change when the scheduler has work: look now.
    state.scheduler.wake();
    let (post, approvals) = state.store.post_with_approvals(post_id).await?.ok_or(ApiError(AppError::NotFound))?;
    Ok(post_response(status, post, &access.account, &approvals, state.clock.now_us()))
}

#[derive(Deserialize, ToSchema)]
pub struct ContentRequest {
    pub text: String,
    pub title: Option<String>,
    #[serde(default)]
    pub media: Vec<MediaItem>,
}

/// The longest text a post on `account` may have: its platform's limit (within Steward's own).
#[must_use]
pub fn text_limit(account: &AccountRow) -> usize {
    platform::platform(&account.platform).map_or(MAX_TEXT_CHARS, |p| p.max_text_chars.min(MAX_TEXT_CHARS))
}

/// Refused at once rather than when it is due: the platform would refuse it then.
fn validate_text(text: &str, account: &AccountRow, errors: &mut Vec<FieldError>) {
    let limit = text_limit(account);
    if platform::text_chars(text) > limit {
        let name = platform::platform(&account.platform).map_or("this platform", |p| p.name);
        errors.push(FieldError::new("text", format!("must be at most {limit} characters on {name}")));
    }
}

fn validate_title(title: Option<&str>, errors: &mut Vec<FieldError>) {
    if title.is_some_and(|t| t.chars().count() > MAX_TITLE_CHARS) {
        errors.push(FieldError::new("title", format!("must be at most {MAX_TITLE_CHARS} characters")));
    }
}

/// Media by URL: `http(s)://host/...`, no spaces or control characters, kind image or video.
fn validate_media(media: &[MediaItem], errors: &mut Vec<FieldError>) {
    if media.len() > MAX_MEDIA_ITEMS {
        errors.push(FieldError::new("media", format!("at most {MAX_MEDIA_ITEMS} items")));
        return;
    }
    for (i, item) in media.iter().enumerate() {
        if !matches!(item.kind.as_str(), "image" | "video") {
            errors.push(FieldError::new(format!("media[{i}].kind"), "must be `image` or `video`"));
        }
        let url = item.url.as_str();
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
        let host_ok = rest.is_some_and(|r| {
            let host = r.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty() && !host.contains('@')
        });
        if url.len() > MAX_MEDIA_URL_LEN || !host_ok || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            errors.push(FieldError::new(
                format!("media[{i}].url"),
                format!("must be an http:// or https:// URL with a host, at most {MAX_MEDIA_URL_LEN} characters"),
            ));
        }
    }
}

fn validate_not_empty(text: &str, media: &[MediaItem], errors: &mut Vec<FieldError>) {
    if text.trim().is_empty() && media.is_empty() {
        errors.push(FieldError::new("text", "must not be empty when the post has no media"));
    }
}

// ---------------------------------------------------------------------------------------------
// Create, list, read, edit

#[utoipa::path(post, path = "/accounts/{id}/posts", tag = "posts", params(("id" = String, Path),
    ("Idempotency-Key" = Option<String>, Header, description = "Replays of the same create answer the same post")),
    request_body = ContentRequest,
    responses((status = 201, body = PostView, headers(("ETag" = String))), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn create_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<ContentRequest>,
) -> ApiResult<Response> {
    ctx.slot.set_action(Action::PostCreate, Some(format!("account:{id}")));
    let access = authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::DraftsCreate)).await?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY_LEN => Some(k.to_string()),
            _ => {
                return Err(ApiError::validation(
                    "Idempotency-Key",
                    format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} visible ASCII characters"),
                ));
            }
        },
    };
    let mut errors = Vec::new();
    validate_text(&body.text, &access.account, &mut errors);
    validate_title(body.title.as_deref(), &mut errors);
    validate_media(&body.media, &mut errors);
    validate_not_empty(&body.text, &body.media, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError(AppError::Validation(errors)));
    }
    let media = serde_json::to_string(&body.media).map_err(ApiError::internal)?;
    let request_hash =
        sha256(json!({"text": body.text, "title": body.title, "media": body.media}).to_string().as_bytes());
    let now = state.clock.now_us();
    let post_id = uuid::Uuid::now_v7().to_string();

    let mut tx = state.store.begin().await?;
    if let Some(key) = &key
        && let Some((existing, hash)) = tx.post_by_idempotency_key(&id, &principal.user_id, key).await?
    {
        drop(tx);
        return replay(&state, &access, existing, &hash, &request_hash);
    }
    let inserted = tx
        .insert_post(NewPost {
            id: &post_id,
            account_id: &id,
            author_id: &principal.user_id,
            title: body.title.as_deref(),
            text: &body.text,
            media: &media,
            idempotency: key.as_deref().map(|k| (k, request_hash.as_slice())),
            now,
        })
        .await;
    match inserted {
        Ok(()) => {}
        // Another request with the same key won the race (PostgreSQL): answer as its replay.
        Err(StoreError::Conflict(_)) if key.is_some() => {
            drop(tx);
            let mut tx = state.store.begin().await?;
            let found = tx.post_by_idempotency_key(&id, &principal.user_id, key.as_deref().unwrap_or_default()).await?;
            drop(tx);
            let (existing, hash) = found.ok_or(ApiError(AppError::Conflict("retry this request".into())))?;
            return replay(&state, &access, existing, &hash, &request_hash);
        }
        Err(e) => return Err(e.into()),
    }
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        Action::PostCreate,
        Some(format!("post:{post_id}")),
        json!({ "post_id": post_id, "version": 1, "text_chars": body.text.chars().count(), "media": body.media.len() }),
    ))
    .await?;
    answer(&state, tx, &access, &post_id, StatusCode::CREATED).await
}

fn replay(
    state: &AppState,
    access: &AccountAccess,
    post: PostRow,
    hash: &[u8],
    request_hash: &[u8],
) -> ApiResult<Response> {
    if hash != request_hash {
        return Err(ApiError::validation(
            "Idempotency-Key",
            "was already used for a different request; use a new key for new content",
        ));
    }
    Ok(post_response(StatusCode::CREATED, post, &access.account, &[], state.clock.now_us()))
}

#[derive(Deserialize, IntoParams)]
pub struct ListPostsQuery {
    /// Only posts in this state.
    pub state: Option<String>,
    /// Only posts by this author (user id).
    pub author: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/accounts/{id}/posts", tag = "posts", params(("id" = String, Path), ListPostsQuery),
    responses((status = 200, body = Page<PostView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn list_posts(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    Query(q): Query<ListPostsQuery>,
) -> ApiResult<Json<Page<PostView>>> {
    let access = authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::AccountView)).await?;
    let limit = page_limit(q.limit)?;
    if let Some(s) = &q.state
        && !PostState::ALL.iter().any(|known| known.as_str() == s)
    {
        return Err(ApiError::validation(
            "state",
            "must be one of draft, in_review, approved, scheduled, publishing, published, failed, cancelled",
        ));
    }
    let cursor = match &q.cursor {
        None => None,
        Some(c) => {
            Some(decode_cursor(c).ok_or_else(|| ApiError::validation("cursor", "is not a cursor from this list"))?)
        }
    };
    let rows = state
        .store
        .list_posts(
            &id,
            &PostListQuery {
                state: q.state.as_deref(),
                author_id: q.author.as_deref(),
                before: cursor.as_ref().map(|(at, pid)| (*at, pid.as_str())),
                limit: limit + 1,
            },
        )
        .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    let rows: Vec<PostRow> = rows.into_iter().take(usize::try_from(limit).unwrap_or(usize::MAX)).collect();
    let next_cursor = if more { rows.last().map(|p| encode_cursor(p.created_at, &p.id)) } else { None };
    let now = state.clock.now_us();
    let mut items = Vec::with_capacity(rows.len());
    for post in rows {
        let approvals = if post.state == PostState::InReview.as_str()
            || post.state == PostState::Approved.as_str()
            || post.state == PostState::Scheduled.as_str()
        {
            state.store.post_approvals(&post.id).await?
        } else {
            Vec::new()
        };
        items.push(post_view(post, &access.account, &approvals, now));
    }
    Ok(Json(Page { items, next_cursor }))
}

fn encode_cursor(created_at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{created_at}.{id}"))
}

fn decode_cursor(cursor: &str) -> Option<(i64, String)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (at, id) = raw.split_once('.')?;
    Some((at.parse().ok()?, id.to_string()))
}

#[utoipa::path(get, path = "/posts/{id}", tag = "posts", params(("id" = String, Path)),
    responses((status = 200, body = PostView, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub(crate) async fn get_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (post, access) = load(&state, &ctx, &principal, &id, Capability::AccountView).await?;
    let approvals = state.store.post_approvals(&id).await?;
    Ok(post_response(StatusCode::OK, post, &access.account, &approvals, state.clock.now_us()))
}

#[derive(Deserialize, ToSchema)]
pub struct EditRequest {
    pub text: Option<String>,
    /// `null` removes the title.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    pub media: Option<Vec<MediaItem>>,
}

/// Whether `If-Match` names the post's current ETag (strong comparison).
fn if_match(headers: &HeaderMap, current: &str) -> ApiResult<bool> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Err(ApiError(AppError::PreconditionRequired(
            "Send the post's ETag (from GET /api/v1/posts/{id}) in If-Match, so that an edit never overwrites \
             changes you have not seen."
                .into(),
        )));
    };
    let value = value.to_str().unwrap_or_default();
    if value.trim() == "*" {
        return Err(ApiError(AppError::PreconditionRequired(
            "If-Match: * is not accepted here; send the post's ETag (from GET /api/v1/posts/{id}).".into(),
        )));
    }
    Ok(value.split(',').map(str::trim).any(|tag| tag == current))
}

#[utoipa::path(patch, path = "/posts/{id}", tag = "posts", params(("id" = String, Path),
    ("If-Match" = String, Header, description = "The post's ETag")), request_body = EditRequest,
    responses((status = 200, body = PostView, headers(("ETag" = String))), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem), (status = 428, body = Problem)))]
pub(crate) async fn edit_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<EditRequest>,
) -> ApiResult<Response> {
    ctx.slot.set_action(Action::PostEdit, Some(format!("post:{id}")));
    // Author with drafts.create, or drafts.edit_any: the domain decides which applies.
    let (_, access) = load(&state, &ctx, &principal, &id, Capability::AccountView).await?;
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    let post = tx.lock_post(&id).await?.ok_or(ApiError(AppError::NotFound))?;
    if !if_match(&headers, &etag(&post))? {
        return Err(ApiError(AppError::PreconditionFailed));
    }
    let approvals = tx.post_approvals(&id).await?;
    let counting = counting_approvals(&access.account, &approvals, now);
    let from = state_of(&post)?;
    let snapshot = PostSnapshot { state: from, version: version_of(&post), approvals: &counting };
    // The domain's edit (draft, approvals and schedule cleared) is what `update_post_content` stores.
    let _edit: Transition =
        transition(&snapshot, &approval_rules(&access.account), &actor(&access, &post), &PostAction::Edit)
            .map_err(post_error)?;

    let old_media = parse_media(&post.media);
    let text = body.text.clone().unwrap_or_else(|| post.text.clone());
    let title = match &body.title {
        None => post.title.clone(),
        Some(t) => t.clone(),
    };
    let media = body.media.clone().unwrap_or_else(|| old_media.clone());
    let mut errors = Vec::new();
    validate_text(&text, &access.account, &mut errors);
    validate_title(title.as_deref(), &mut errors);
    validate_media(&media, &mut errors);
    validate_not_empty(&text, &media, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError(AppError::Validation(errors)));
    }
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
    if changed.is_empty() {
        // Nothing to store: not an edit, so nothing goes back to draft.
        drop(tx);
        return Ok(post_response(StatusCode::OK, post, &access.account, &approvals, now));
    }
    let media_json = serde_json::to_string(&media).map_err(ApiError::internal)?;
    let content = PostContent { title: title.as_deref(), text: &text, media: &media_json };
    let Some(version) =
        tx.update_post_content(&id, post.version, &post.state, &content, &principal.user_id, now).await?
    else {
        return Err(ApiError(AppError::PreconditionFailed));
    };
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &post.account_id,
        Action::PostEdit,
        Some(format!("post:{id}")),
        json!({
            "post_id": id,
            "from_version": post.version,
            "to_version": version,
            "changed": changed,
            "from_state": post.state,
            "to_state": "draft",
            "approvals_cleared": approvals.len(),
        }),
    ))
    .await?;
    answer(&state, tx, &access, &id, StatusCode::OK).await
}

// ---------------------------------------------------------------------------------------------
// Workflow

/// Records a plain transition (submit, cancel) and answers with the post.
async fn simple_transition(
    state: &AppState,
    ctx: &Ctx,
    principal: &Principal,
    id: &str,
    need: Capability,
    action: PostAction,
    audit_action: Action,
) -> ApiResult<Response> {
    ctx.slot.set_action(audit_action, Some(format!("post:{id}")));
    let (_, access) = load(state, ctx, principal, id, need).await?;
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    let d = decide(&mut tx, &access, id, &action, now).await?;
    store_step(&mut tx, &d, &principal.user_id, now).await?;
    tx.append_audit(ctx.account_event(
        state,
        &principal.actor(),
        &d.post.account_id,
        audit_action,
        Some(format!("post:{id}")),
        json!({ "post_id": id, "version": d.post.version, "from_state": d.from.as_str(), "to_state": d.step.state.as_str() }),
    ))
    .await?;
    answer(state, tx, &access, id, StatusCode::OK).await
}

#[utoipa::path(post, path = "/posts/{id}/submit", tag = "posts", params(("id" = String, Path)),
    responses((status = 200, body = PostView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn submit_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    simple_transition(&state, &ctx, &principal, &id, Capability::DraftsCreate, PostAction::Submit, Action::PostSubmit)
        .await
}

#[utoipa::path(post, path = "/posts/{id}/cancel", tag = "posts", params(("id" = String, Path)),
    responses((status = 200, body = PostView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn cancel_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    // The author, or posts.publish: the domain decides.
    simple_transition(&state, &ctx, &principal, &id, Capability::AccountView, PostAction::Cancel, Action::PostCancel)
        .await
}

#[derive(Deserialize, ToSchema)]
pub struct ApproveRequest {
    /// The version being approved: must be the post's current version.
    pub version: i64,
}

#[utoipa::path(post, path = "/posts/{id}/approve", tag = "posts", params(("id" = String, Path)), request_body = ApproveRequest,
    responses((status = 200, body = PostView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn approve_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<ApproveRequest>,
) -> ApiResult<Response> {
    ctx.slot.set_action(Action::PostApprove, Some(format!("post:{id}")));
    let (_, access) = load(&state, &ctx, &principal, &id, Capability::PostsApprove).await?;
    let Ok(version) = u32::try_from(body.version) else {
        return Err(ApiError::validation("version", "must be a version number of this post"));
    };
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    let d = decide(&mut tx, &access, &id, &PostAction::Approve { version }, now).await?;
    store_step(&mut tx, &d, &principal.user_id, now).await?;
    let rules = approval_rules(&access.account);
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &d.post.account_id,
        Action::PostApprove,
        Some(format!("post:{id}")),
        json!({
            "post_id": id,
            "version": d.post.version,
            "approvals": d.counting.len() + 1,
            "approvals_required": rules.policy.approvals_required,
            "owner_approval_required": rules.owner_approval_required(),
            "by_owner": access.is_owner(),
            "from_state": d.from.as_str(),
            "to_state": d.step.state.as_str(),
        }),
    ))
    .await?;
    answer(&state, tx, &access, &id, StatusCode::OK).await
}

#[derive(Deserialize, ToSchema)]
pub struct RequestChangesRequest {
    /// What should change; goes into the review thread.
    pub comment: String,
}

fn validate_comment(field: &str, body: &str) -> ApiResult<String> {
    let body = body.trim();
    if body.is_empty() || body.chars().count() > MAX_COMMENT_CHARS {
        return Err(ApiError::validation(field, format!("must be 1 to {MAX_COMMENT_CHARS} characters")));
    }
    Ok(body.to_string())
}

#[utoipa::path(post, path = "/posts/{id}/request-changes", tag = "posts", params(("id" = String, Path)), request_body = RequestChangesRequest,
    responses((status = 200, body = PostView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn request_changes(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<RequestChangesRequest>,
) -> ApiResult<Response> {
    ctx.slot.set_action(Action::PostRequestChanges, Some(format!("post:{id}")));
    let (_, access) = load(&state, &ctx, &principal, &id, Capability::PostsApprove).await?;
    let comment = validate_comment("comment", &body.comment)?;
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    let d = decide(&mut tx, &access, &id, &PostAction::RequestChanges, now).await?;
    store_step(&mut tx, &d, &principal.user_id, now).await?;
    let comment_id = uuid::Uuid::now_v7().to_string();
    tx.insert_post_comment(NewPostComment {
        id: &comment_id,
        post_id: &id,
        author_id: &principal.user_id,
        kind: "changes_requested",
        body: &comment,
        version: d.post.version,
        now,
    })
    .await?;
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &d.post.account_id,
        Action::PostRequestChanges,
        Some(format!("post:{id}")),
        json!({
            "post_id": id,
            "version": d.post.version,
            "comment_id": comment_id,
            "approvals_cleared": d.counting.len(),
            "from_state": d.from.as_str(),
            "to_state": d.step.state.as_str(),
        }),
    ))
    .await?;
    answer(&state, tx, &access, &id, StatusCode::OK).await
}

#[derive(Deserialize, ToSchema)]
pub struct ScheduleRequest {
    /// RFC 3339 instant, in the future.
    pub at: String,
}

/// Schedules (or, with `at` = now, publishes at once) after the window and pace checks.
async fn schedule_at(
    state: &AppState,
    ctx: &Ctx,
    principal: &Principal,
    id: &str,
    at: Option<jiff::Timestamp>,
    audit_action: Action,
) -> ApiResult<Response> {
    ctx.slot.set_action(audit_action, Some(format!("post:{id}")));
    let (_, access) = load(state, ctx, principal, id, Capability::PostsPublish).await?;
    let now_ts = state.clock.now();
    let now = now_ts.as_microsecond();
    let at = at.unwrap_or(now_ts);
    if at < now_ts {
        return Err(ApiError::validation("at", "must be in the future"));
    }
    if at.duration_since(now_ts) > jiff::SignedDuration::from_hours(24 * MAX_SCHEDULE_AHEAD_DAYS) {
        return Err(ApiError::validation("at", format!("must be within {MAX_SCHEDULE_AHEAD_DAYS} days")));
    }
    // Asking outside one's windows is refused too (DESIGN.md: scheduling outside them is).
    if !access.within_windows(now_ts) {
        return Err(ApiError(AppError::OutsideWindow(
            "you may schedule and publish only inside your posting windows (in the account's time zone)".into(),
        )));
    }
    let action = if audit_action == Action::PostPublishNow {
        PostAction::PublishNow { now: at }
    } else {
        PostAction::Schedule { at }
    };
    let mut tx = state.store.begin().await?;
    // The account lock serializes schedules of one account, so two cannot take one free slot.
    let account = tx.lock_account(&access.account.id).await?.ok_or(ApiError(AppError::NotFound))?;
    let access = AccountAccess { account, ..access };
    let d = decide(&mut tx, &access, id, &action, now).await?;
    let windows: Vec<Window> = access.windows()?;
    let pace = check_pace(
        &mut tx,
        &access.account,
        id,
        &principal.user_id,
        &windows,
        access.membership.daily_quota,
        at.as_microsecond(),
    )
    .await?;
    if let Err(violation) = pace {
        let mut message = violation.to_string();
        if let pace::PaceViolation::OutsideWindow { next_window_start: Some(next) } = violation {
            message.push_str(&format!("; your next window opens at {next}"));
        }
        return Err(if violation.is_outside_window() {
            ApiError(AppError::OutsideWindow(message))
        } else {
            ApiError(AppError::Conflict(message))
        });
    }
    store_step(&mut tx, &d, &principal.user_id, now).await?;
    tx.append_audit(ctx.account_event(
        state,
        &principal.actor(),
        &d.post.account_id,
        audit_action,
        Some(format!("post:{id}")),
        json!({
            "post_id": id,
            "version": d.post.version,
            "at": at.to_string(),
            "from_state": d.from.as_str(),
            "to_state": d.step.state.as_str(),
        }),
    ))
    .await?;
    let status = if audit_action == Action::PostPublishNow { StatusCode::ACCEPTED } else { StatusCode::OK };
    answer(state, tx, &access, id, status).await
}

#[utoipa::path(post, path = "/posts/{id}/schedule", tag = "posts", params(("id" = String, Path)), request_body = ScheduleRequest,
    responses((status = 200, body = PostView), (status = 403, body = Problem, description = "forbidden, or outside-window"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "wrong state, or the account's pace rules"),
        (status = 422, body = Problem)))]
pub(crate) async fn schedule_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<ScheduleRequest>,
) -> ApiResult<Response> {
    let Ok(at) = body.at.parse::<jiff::Timestamp>() else {
        return Err(ApiError::validation("at", "must be an RFC 3339 time such as 2027-01-31T17:00:00Z"));
    };
    if at <= state.clock.now() {
        return Err(ApiError::validation("at", "must be in the future"));
    }
    schedule_at(&state, &ctx, &principal, &id, Some(at), Action::PostSchedule).await
}

#[utoipa::path(post, path = "/posts/{id}/publish-now", tag = "posts", params(("id" = String, Path)),
    responses((status = 202, body = PostView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn publish_now(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    schedule_at(&state, &ctx, &principal, &id, None, Action::PostPublishNow).await
}

// ---------------------------------------------------------------------------------------------
// Review thread

#[utoipa::path(get, path = "/posts/{id}/comments", tag = "posts", params(("id" = String, Path)),
    responses((status = 200, body = Page<CommentView>), (status = 404, body = Problem)))]
pub(crate) async fn list_comments(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<CommentView>>> {
    load(&state, &ctx, &principal, &id, Capability::AccountView).await?;
    let items = state.store.post_comments(&id).await?.into_iter().map(comment_view).collect();
    Ok(Json(Page { items, next_cursor: None }))
}

#[derive(Deserialize, ToSchema)]
pub struct CommentRequest {
    pub body: String,
}

#[utoipa::path(post, path = "/posts/{id}/comments", tag = "posts", params(("id" = String, Path)), request_body = CommentRequest,
    responses((status = 201, body = CommentView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn add_comment(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<CommentRequest>,
) -> ApiResult<Response> {
    ctx.slot.set_action(Action::PostComment, Some(format!("post:{id}")));
    let (post, _) = load(&state, &ctx, &principal, &id, Capability::ReviewComment).await?;
    let text = validate_comment("body", &body.body)?;
    let now = state.clock.now_us();
    let comment_id = uuid::Uuid::now_v7().to_string();
    let mut tx = state.store.begin().await?;
    tx.insert_post_comment(NewPostComment {
        id: &comment_id,
        post_id: &id,
        author_id: &principal.user_id,
        kind: "comment",
        body: &text,
        version: post.version,
        now,
    })
    .await?;
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &post.account_id,
        Action::PostComment,
        Some(format!("post:{id}")),
        json!({ "post_id": id, "comment_id": comment_id, "version": post.version, "chars": text.chars().count() }),
    ))
    .await?;
    tx.commit().await?;
    let comment = state
        .store
        .post_comments(&id)
        .await?
        .into_iter()
        .find(|c| c.id == comment_id)
        .ok_or(ApiError(AppError::NotFound))?;
    Ok((StatusCode::CREATED, Json(comment_view(comment))).into_response())
}

// ---------------------------------------------------------------------------------------------
// Media uploads

/// Whether a file's first bytes are those of its declared type.
type SignatureCheck = fn(&[u8]) -> bool;

/// What an upload's `Content-Type` allows: its kind, size limit, and a check of its first bytes
/// (so a file is what it claims to be, and a browser cannot be made to sniff it as something else).
fn upload_kind(content_type: &str) -> Option<(&'static str, u64, SignatureCheck)> {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    Some(match essence.as_str() {
        "image/png" => ("image", MAX_IMAGE_BYTES, |b| b.starts_with(b"\x89PNG\r\n\x1a\n")),
        "image/jpeg" => ("image", MAX_IMAGE_BYTES, |b| b.starts_with(&[0xFF, 0xD8, 0xFF])),
        "image/gif" => ("image", MAX_IMAGE_BYTES, |b| b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a")),
        "image/webp" => ("image", MAX_IMAGE_BYTES, |b| b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP"),
        "video/mp4" | "video/quicktime" => ("video", MAX_VIDEO_BYTES, |b| {
            b.len() >= 12 && matches!(&b[4..8], b"ftyp" | b"moov" | b"mdat" | b"wide" | b"free")
        }),
        _ => return None,
    })
}

fn canonical_content_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

#[utoipa::path(post, path = "/accounts/{id}/media", tag = "posts", params(("id" = String, Path)),
    request_body(content = Vec<u8>, description = "The file itself: image/png, image/jpeg, image/gif or image/webp up to 8 MiB; video/mp4 or video/quicktime up to 256 MiB",
        content_type = "application/octet-stream"),
    responses((status = 201, body = MediaView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn upload_media(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    ctx.slot.set_action(Action::MediaUpload, Some(format!("account:{id}")));
    authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::DraftsCreate)).await?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some((kind, limit, looks_right)) = upload_kind(content_type) else {
        return Err(ApiError::validation(
            "Content-Type",
            "must be image/png, image/jpeg, image/gif, image/webp, video/mp4 or video/quicktime",
        ));
    };
    let content_type = canonical_content_type(content_type);
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit)
    {
        return Err(ApiError(AppError::PayloadTooLarge));
    }
    let dir = media_dir(&state);
    tokio::fs::create_dir_all(&dir).await.map_err(ApiError::internal)?;
    let media_id = uuid::Uuid::now_v7().to_string();
    let partial = dir.join(format!("{media_id}.partial"));
    let written = receive(body, &partial, limit).await;
    let (size, digest, head) = match written {
        Ok(found) => found,
        Err(e) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(e);
        }
    };
    if size == 0 || !looks_right(&head) {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(ApiError::validation("body", format!("is not a {content_type} file")));
    }
    let path = dir.join(&media_id);
    tokio::fs::rename(&partial, &path).await.map_err(ApiError::internal)?;
    let stored = async {
        let mut tx = state.store.begin().await?;
        tx.insert_media_upload(NewMediaUpload {
            id: &media_id,
            account_id: &id,
            uploaded_by: &principal.user_id,
            kind,
            content_type: &content_type,
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            sha256: &digest,
            now: state.clock.now_us(),
        })
        .await?;
        tx.append_audit(ctx.account_event(
            &state,
            &principal.actor(),
            &id,
            Action::MediaUpload,
            Some(format!("media:{media_id}")),
            json!({ "media_id": media_id, "kind": kind, "content_type": content_type, "size_bytes": size }),
        ))
        .await?;
        tx.commit().await?;
        Ok::<_, ApiError>(())
    }
    .await;
    if let Err(e) = stored {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(e);
    }
    let row = state.store.media_upload(&media_id).await?.ok_or(ApiError(AppError::NotFound))?;
    Ok((StatusCode::CREATED, Json(media_view(&state, row))).into_response())
}

/// Streams the body to `path`, refusing it once it passes `limit` bytes. Returns the size,
/// the SHA-256 and the first bytes.
async fn receive(mut body: Body, path: &std::path::Path, limit: u64) -> ApiResult<(u64, Vec<u8>, Vec<u8>)> {
    use sha2::Digest;
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::File::create(path).await.map_err(ApiError::internal)?;
    let mut hasher = sha2::Sha256::new();
    let mut size: u64 = 0;
    let mut head = Vec::with_capacity(16);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ApiError::validation("body", "the upload was interrupted"))?;
        let Ok(data) = frame.into_data() else { continue };
        size += data.len() as u64;
        if size > limit {
            return Err(ApiError(AppError::PayloadTooLarge));
        }
        if head.len() < 16 {
            let take = (16 - head.len()).min(data.len());
            head.extend_from_slice(&data[..take]);
        }
        hasher.update(&data);
        file.write_all(&data).await.map_err(ApiError::internal)?;
    }
    file.sync_all().await.map_err(ApiError::internal)?;
    Ok((size, hasher.finalize().to_vec(), head))
}

#[utoipa::path(get, path = "/accounts/{id}/media/{media_id}", tag = "posts", params(("id" = String, Path), ("media_id" = String, Path)),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 404, body = Problem)))]
async fn get_media(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, media_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::AccountView)).await?;
    let row = state
        .store
        .media_upload(&media_id)
        .await?
        .filter(|m| m.account_id == id)
        .ok_or(ApiError(AppError::NotFound))?;
    let bytes = tokio::fs::read(media_dir(&state).join(&row.id)).await.map_err(ApiError::internal)?;
    let mut response = Response::new(Body::from(bytes));
    if let Ok(v) = HeaderValue::from_str(&row.content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    Ok(response)
}
