//! One text for several accounts: `compose_many` creates one draft per chosen account, each
//! with its own copy of the text (adjusted per platform), in one transaction.
//!
//! Decisions where the spec is silent:
//! - Every copy is a post of its own: its own review, approvals, schedule and rules. Nothing
//!   links them afterwards, so an approval on one can never count for another.
//! - All or nothing: every account is authorized and every copy validated before anything is
//!   written; then all drafts and their audit events are written in one transaction. One copy
//!   that is refused (its text too long for its platform, an account the caller may not write
//!   on) creates none, and the error names the copy (`copies[1].text`).
//! - An idempotency key is kept on each draft, scoped like a single create's (account,
//!   author), with the hash of the whole batch: a replay of the same batch answers the drafts
//!   the first request made; the key used for different content (or a single post) is refused.
use serde::Deserialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::AccountId;
use steward_store::{PostRow, Tx};
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::authz::{AccountAccess, Need, authorize};
use crate::crypto::sha256;
use crate::error::{AppError, AppResult, FieldError};
use crate::posts::drafts::{
    Draft, check_media_belongs, idempotency_key, insert_draft_once, planned_instant, tidy_warning, validate_content,
};
use crate::posts::view::{MediaItem, PostView, post_view};
use crate::services::Services;

/// The most accounts one request may write on.
pub const MAX_COPIES: usize = 20;

/// The common post, and the accounts to create it on.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ComposeRequest {
    /// The common text: each copy's unless the copy gives its own.
    pub text: String,
    pub title: Option<String>,
    /// The common media (each item must be an external URL or an upload to every chosen account).
    #[serde(default)]
    pub media: Vec<MediaItem>,
    /// When the drafts are meant to go out (RFC 3339): a plan each draft keeps, never a schedule.
    #[schema(format = DateTime)]
    pub planned_for: Option<String>,
    /// One entry per account, 1 to 20, each account once.
    #[schema(min_items = 1, max_items = 20)]
    pub copies: Vec<CopyRequest>,
}

/// One account's copy; absent fields take the common ones.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CopyRequest {
    pub account_id: String,
    /// This platform's text (e.g. shorter for Bluesky).
    pub text: Option<String>,
    pub title: Option<String>,
    pub media: Option<Vec<MediaItem>>,
    /// Mastodon copies only: the status's content warning (`spoiler_text`).
    #[schema(max_length = 500)]
    pub content_warning: Option<String>,
}

/// A copy as it will be written.
struct Prepared {
    access: AccountAccess,
    text: String,
    title: Option<String>,
    media: Vec<MediaItem>,
    content_warning: Option<String>,
}

/// Prefixes a copy's field errors with the copy (`copies[1].text`).
fn in_copy(i: usize, e: AppError) -> AppError {
    match e {
        AppError::Validation(errors) => AppError::Validation(
            errors.into_iter().map(|f| FieldError::new(format!("copies[{i}].{}", f.field), f.message)).collect(),
        ),
        other => other,
    }
}

/// Creates one draft per copy, all or none (see the module's decisions).
pub async fn compose_many(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    idempotency: Option<&str>,
    input: ComposeRequest,
) -> AppResult<Vec<PostView>> {
    ctx.slot.set_action(Action::PostCreate, None);
    if input.copies.is_empty() || input.copies.len() > MAX_COPIES {
        return Err(AppError::validation("copies", format!("must name 1 to {MAX_COPIES} accounts")));
    }
    let key = idempotency.map(idempotency_key).transpose()?;
    let planned_for = input.planned_for.as_deref().map(planned_instant).transpose()?;
    let mut copies = Vec::with_capacity(input.copies.len());
    let mut errors = Vec::new();
    for (i, c) in input.copies.iter().enumerate() {
        if input.copies[..i].iter().any(|earlier| earlier.account_id == c.account_id) {
            errors.push(FieldError::new(format!("copies[{i}].account_id"), "names an account already chosen"));
            continue;
        }
        let account_id = AccountId::new(c.account_id.clone());
        ctx.slot.set_action(Action::PostCreate, Some(format!("account:{account_id}")));
        let access = authorize(s, ctx, who, &account_id, Need::Capability(Capability::DraftsCreate)).await?;
        let text = c.text.clone().unwrap_or_else(|| input.text.clone());
        let title = c.title.clone().or_else(|| input.title.clone()).filter(|t| !t.trim().is_empty());
        let media = c.media.clone().unwrap_or_else(|| input.media.clone());
        let content_warning = tidy_warning(c.content_warning.as_deref());
        if let Err(AppError::Validation(e)) =
            validate_content(&access.account, &text, title.as_deref(), &media, content_warning.as_deref())
        {
            errors.extend(e.into_iter().map(|f| FieldError::new(format!("copies[{i}].{}", f.field), f.message)));
        }
        match check_media_belongs(s, &account_id, &media).await.map_err(|e| in_copy(i, e)) {
            Ok(()) => {}
            Err(AppError::Validation(e)) => errors.extend(e),
            Err(e) => return Err(e),
        }
        copies.push(Prepared { access, text, title, media, content_warning });
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let request_hash = sha256(
        json!({
            "batch": input.copies.iter().map(|c| c.account_id.as_str()).collect::<Vec<_>>(),
            "copies": copies.iter().map(|c| json!({"text": c.text, "title": c.title, "media": c.media,
                "content_warning": c.content_warning})).collect::<Vec<_>>(),
            "planned_for": planned_for,
        })
        .to_string()
        .as_bytes(),
    );
    let now = s.clock.now_us();

    let mut tx = s.store.begin().await?;
    if let Some(key) = &key {
        let found = made_with_key(&mut tx, &copies, who, key).await?;
        if !found.is_empty() {
            drop(tx);
            return replay(s, &copies, found, &request_hash);
        }
    }
    let mut posts = Vec::with_capacity(copies.len());
    for c in &copies {
        let draft = Draft {
            account_id: &c.access.account.id,
            title: c.title.as_deref(),
            text: &c.text,
            media: &c.media,
            content_warning: c.content_warning.as_deref(),
            planned_for,
            idempotency: key.as_deref().map(|k| (k, request_hash.as_slice())),
            copies: Some(copies.len()),
            now,
        };
        let Some(post) = insert_draft_once(s, ctx, who, &mut tx, draft).await? else {
            // Another request with the same key won the race (PostgreSQL): answer as its replay.
            drop(tx);
            let mut tx = s.store.begin().await?;
            let found = made_with_key(&mut tx, &copies, who, key.as_deref().unwrap_or_default()).await?;
            drop(tx);
            return replay(s, &copies, found, &request_hash);
        };
        posts.push(post);
    }
    tx.commit().await?;
    Ok(copies.iter().zip(posts).map(|(c, p)| post_view(p, &c.access.account, &[], now)).collect())
}

/// The drafts `who` made with `key` on the copies' accounts, with their requests' hashes.
async fn made_with_key(
    tx: &mut Tx,
    copies: &[Prepared],
    who: &Principal,
    key: &str,
) -> AppResult<Vec<(PostRow, Vec<u8>)>> {
    let mut found = Vec::new();
    for c in copies {
        if let Some(existing) = tx.post_by_idempotency_key(&c.access.account.id, &who.user_id, key).await? {
            found.push(existing);
        }
    }
    Ok(found)
}

/// The drafts an earlier request with the same key made, if it was this same batch.
fn replay(
    s: &Services,
    copies: &[Prepared],
    found: Vec<(PostRow, Vec<u8>)>,
    request_hash: &[u8],
) -> AppResult<Vec<PostView>> {
    if found.len() != copies.len() || found.iter().any(|(_, hash)| hash != request_hash) {
        return Err(AppError::validation(
            "Idempotency-Key",
            "was already used for a different request; use a new key for new content",
        ));
    }
    let now = s.clock.now_us();
    Ok(copies
        .iter()
        .zip(found)
        .map(|(c, (post, _))| {
            // Approvals and schedule may have moved on since: the replay answers what was made.
            post_view(post, &c.access.account, &[], now)
        })
        .collect())
}
