//! Bluesky, through `steward_connectors::bluesky`: posts with images via `createRecord`.
//!
//! Exactly once: atproto has no idempotency key, so the record key plays that role. Steward
//! chooses a TID (and the post's `createdAt`) before the first attempt and saves them in the
//! journal BEFORE calling `createRecord`; every later attempt of the same version reuses them
//! and first asks the PDS (`getRecord`) whether the record exists. A lost answer therefore ends
//! in finding the post, never in a second one.
use steward_connectors::ConnectorError;
use steward_connectors::bluesky::{self, PostDraft};
use steward_store::AccountRow;

use super::{
    AccountStats, MediaKind, Outgoing, PlatformComment, PublishJournal, PublishOutcome, Published, store_failure,
};
use crate::credentials::with_bluesky_session;
use crate::state::AppState;

/// The journal's ref: `"{rkey} {createdAt}"`.
fn parse_ref(r: &str) -> Option<(&str, &str)> {
    r.split_once(' ').filter(|(k, c)| !k.is_empty() && !c.is_empty())
}

fn published(handle: &str, uri: &str) -> Published {
    let rkey = uri.rsplit('/').next().unwrap_or_default();
    let handle = handle.trim_start_matches('@');
    Published {
        external_id: uri.to_string(),
        external_url: Some(format!("https://bsky.app/profile/{handle}/post/{rkey}")),
    }
}

pub async fn publish(
    state: &AppState,
    account: &AccountRow,
    out: &Outgoing<'_>,
    journal: &PublishJournal,
) -> Result<PublishOutcome, ConnectorError> {
    let text = match out.title {
        Some(t) if !t.trim().is_empty() => format!("{t}\n\n{}", out.text),
        _ => out.text.to_string(),
    };
    bluesky::check_post_text(&text)?;
    if out.media.iter().any(|m| m.kind == MediaKind::Video) {
        return Err(ConnectorError::Rejected("video posts on Bluesky are not available in Steward yet".into()));
    }
    if out.media.len() > 4 {
        return Err(ConnectorError::Rejected("a Bluesky post has at most 4 images".into()));
    }
    // The record key and timestamp: chosen once, saved before the first createRecord.
    let (rkey, created_at, retry) = match journal.prior_ref().and_then(parse_ref) {
        Some((k, c)) => (k.to_string(), c.to_string(), true),
        None => {
            let rkey = bluesky::new_tid();
            let created_at = state.clock.now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            journal.save_ref(&format!("{rkey} {created_at}")).await.map_err(|e| store_failure(&e))?;
            (rkey, created_at, false)
        }
    };
    let handle = account.handle.clone();
    with_bluesky_session(state, &account.id, |cred| {
        let (text, rkey, created_at, handle) = (&text, &rkey, &created_at, &handle);
        async move {
            if retry {
                // An earlier attempt may have committed: look before writing again.
                if let Some(existing) =
                    bluesky::get_record(&state.http, &cred.service, &cred.session.did, bluesky::POST_COLLECTION, rkey)
                        .await?
                {
                    if existing.value.get("text").and_then(|t| t.as_str()) == Some(text.as_str()) {
                        return Ok(PublishOutcome::Published(published(handle, &existing.uri)));
                    }
                    return Err(ConnectorError::Rejected(format!(
                        "the record key {rkey} chosen for this post holds a different post"
                    )));
                }
            }
            let mut images = Vec::with_capacity(out.media.len());
            for m in out.media {
                let (bytes, mime) = super::mastodon::media_bytes(state, &m.url).await?;
                let blob = bluesky::upload_blob(&state.http, &cred.service, &cred.session, bytes, &mime).await?;
                images.push((blob, String::new()));
            }
            let draft = PostDraft { text, created_at, rkey, images: &images, reply: None, langs: &[] };
            let r = bluesky::create_post(&state.http, &cred.service, &cred.session, &draft).await?;
            Ok(PublishOutcome::Published(published(handle, &r.uri)))
        }
    })
    .await
}

/// Bluesky publishes synchronously: a ref names a record already created.
pub async fn status(
    _state: &AppState,
    account: &AccountRow,
    platform_ref: &str,
) -> Result<PublishOutcome, ConnectorError> {
    Ok(PublishOutcome::Published(published(&account.handle, platform_ref)))
}

pub async fn comments(
    _state: &AppState,
    _account: &AccountRow,
    _published_external_ids: &[String],
) -> Result<Vec<PlatformComment>, ConnectorError> {
    Err(ConnectorError::Misconfigured("reading Bluesky replies is not available on this server yet".into()))
}

pub async fn reply(
    _state: &AppState,
    _account: &AccountRow,
    _comment_id: &str,
    _text: &str,
) -> Result<PlatformComment, ConnectorError> {
    Err(ConnectorError::Misconfigured("replying on Bluesky is not available on this server yet".into()))
}

pub async fn analytics(
    _state: &AppState,
    _account: &AccountRow,
    _published_external_ids: &[String],
) -> Result<AccountStats, ConnectorError> {
    Err(ConnectorError::Misconfigured("Bluesky analytics are not available on this server yet".into()))
}
