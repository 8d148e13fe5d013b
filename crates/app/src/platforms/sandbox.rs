//! The built-in sandbox platform (demo and tests): no network; it keeps what it is sent in
//! Steward's own database (`sandbox_posts`, `sandbox_comments`). Publishing is idempotent per
//! (account, idempotency key): a repeat answers the post made the first time, which is how the
//! scheduler's reconciliation after a crash finds out that the post is already live.
use steward_connectors::ConnectorError;
use steward_domain::ids::AccountId;
use steward_domain::moderation::ModerationAction;
use steward_store::{AccountRow, NewSandboxComment, NewSandboxPost, SandboxCommentRow, SandboxPostRow};

use super::{
    AccountStats, Moderated, Outgoing, PlatformComment, PostStats, PublishJournal, PublishOutcome, Published,
    store_failure,
};
use crate::clock::rfc3339;
use crate::services::Services;

/// The sandbox's ids carry a prefix, so nobody mistakes them for another platform's.
const POST_PREFIX: &str = "sbx_";
const COMMENT_PREFIX: &str = "sbc_";

/// What every other adapter asks before a platform call (`credentials::ensure_live` and opening
/// the stored credential): the sandbox acts only for an account whose credential is stored and
/// not refused, so a disconnected account behaves in the demo as it would on a real platform.
async fn connected(state: &Services, account: &AccountRow) -> Result<(), ConnectorError> {
    crate::credentials::ensure_live(state, &account.id).await.map_err(crate::credentials::credential_failure)?;
    crate::credentials::open_json::<serde_json::Value>(state, &account.id)
        .await
        .map_err(crate::credentials::credential_failure)?;
    Ok(())
}

fn published(row: &SandboxPostRow) -> PublishOutcome {
    PublishOutcome::Published(Published { external_id: row.id.clone(), external_url: None })
}

pub async fn publish(
    state: &Services,
    account: &AccountRow,
    out: &Outgoing<'_>,
    _journal: &PublishJournal,
) -> Result<PublishOutcome, ConnectorError> {
    connected(state, account).await?;
    if out.text.trim().is_empty() && out.media.is_empty() {
        return Err(ConnectorError::Rejected("a sandbox post needs text or media".into()));
    }
    let media = serde_json::to_string(out.media).map_err(|e| ConnectorError::Protocol(e.to_string()))?;
    let id = format!("{POST_PREFIX}{}", uuid::Uuid::now_v7().simple());
    let row = state
        .store
        .sandbox_publish(&NewSandboxPost {
            id: &id,
            account_id: &account.id,
            idempotency_key: out.idempotency_key,
            title: out.title,
            text: out.text,
            media: &media,
            now: state.clock.now_us(),
        })
        .await
        .map_err(|e| store_failure(&e))?;
    Ok(published(&row))
}

/// The sandbox never leaves a post processing: a ref is the post's id.
pub async fn status(
    state: &Services,
    account: &AccountRow,
    platform_ref: &str,
) -> Result<PublishOutcome, ConnectorError> {
    connected(state, account).await?;
    match state.store.sandbox_post(&account.id, platform_ref).await.map_err(|e| store_failure(&e))? {
        Some(row) => Ok(published(&row)),
        None => Err(ConnectorError::Rejected(format!("the sandbox has no post {platform_ref}"))),
    }
}

fn comment(row: SandboxCommentRow) -> PlatformComment {
    PlatformComment {
        id: row.id,
        post_external_id: row.post_id,
        author: row.author,
        text: row.text,
        created_at: rfc3339(row.created_at),
        hidden: row.hidden,
        parent_id: row.parent_id,
    }
}

pub async fn comments(
    state: &Services,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<Vec<PlatformComment>, ConnectorError> {
    connected(state, account).await?;
    let rows = state.store.sandbox_comments(&account.id).await.map_err(|e| store_failure(&e))?;
    Ok(rows.into_iter().filter(|c| published_external_ids.contains(&c.post_id)).map(comment).collect())
}

pub async fn reply(
    state: &Services,
    account: &AccountRow,
    comment_id: &str,
    text: &str,
) -> Result<PlatformComment, ConnectorError> {
    connected(state, account).await?;
    if text.trim().is_empty() {
        return Err(ConnectorError::Rejected("a reply needs text".into()));
    }
    let parent = state
        .store
        .sandbox_comment(&account.id, comment_id)
        .await
        .map_err(|e| store_failure(&e))?
        .ok_or_else(|| ConnectorError::NotFound(format!("the sandbox has no comment {comment_id}")))?;
    let id = format!("{COMMENT_PREFIX}{}", uuid::Uuid::now_v7().simple());
    let row = state
        .store
        .add_sandbox_comment(&NewSandboxComment {
            id: &id,
            account_id: &account.id,
            post_id: &parent.post_id,
            parent_id: Some(&parent.id),
            author: &account.handle,
            text,
            now: state.clock.now_us(),
        })
        .await
        .map_err(|e| store_failure(&e))?
        .ok_or_else(|| ConnectorError::Rejected(format!("the sandbox has no post {}", parent.post_id)))?;
    Ok(comment(row))
}

/// The sandbox hides comments (as Bluesky hides replies); it offers nothing else.
pub async fn moderate(
    state: &Services,
    account: &AccountRow,
    comment_id: &str,
    action: ModerationAction,
) -> Result<Moderated, ConnectorError> {
    connected(state, account).await?;
    if action != ModerationAction::Hide {
        return Err(super::not_offered("the sandbox", action.words(), "it only hides comments"));
    }
    if !state.store.hide_sandbox_comment(&account.id, comment_id).await.map_err(|e| store_failure(&e))? {
        return Err(ConnectorError::NotFound(format!("the sandbox has no comment {comment_id}")));
    }
    Ok(Moderated { author: None })
}

/// A follower comments on a sandbox post (demo seeding and tests; the sandbox has no real
/// audience). `None` if the post is not the account's.
pub async fn add_follower_comment(
    state: &Services,
    account_id: &AccountId,
    post_external_id: &str,
    author: &str,
    text: &str,
) -> Result<Option<PlatformComment>, steward_store::StoreError> {
    let id = format!("{COMMENT_PREFIX}{}", uuid::Uuid::now_v7().simple());
    let row = state
        .store
        .add_sandbox_comment(&NewSandboxComment {
            id: &id,
            account_id,
            post_id: post_external_id,
            parent_id: None,
            author,
            text,
            now: state.clock.now_us(),
        })
        .await?;
    Ok(row.map(comment))
}

pub async fn analytics(
    state: &Services,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<AccountStats, ConnectorError> {
    connected(state, account).await?;
    let posts = state.store.sandbox_posts(&account.id).await.map_err(|e| store_failure(&e))?;
    let comments = state.store.sandbox_comments(&account.id).await.map_err(|e| store_failure(&e))?;
    let stats = posts
        .into_iter()
        .filter(|p| published_external_ids.contains(&p.id))
        .map(|p| PostStats {
            comments: Some(i64::try_from(comments.iter().filter(|c| c.post_id == p.id).count()).unwrap_or(i64::MAX)),
            external_id: p.id,
            impressions: Some(p.impressions),
            likes: Some(p.likes),
            shares: Some(p.shares),
        })
        .collect();
    // The sandbox has no audience to count.
    Ok(AccountStats { followers: None, posts: stats })
}
