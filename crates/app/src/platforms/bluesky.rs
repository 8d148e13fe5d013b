//! Bluesky, through `steward_connectors::bluesky`: posts with images via `createRecord`; the
//! replies below them (`getPostThread`), replies as the account, and counts (`getPosts`,
//! `getProfile`).
//!
//! Exactly once: atproto has no idempotency key, so the record key plays that role. Steward
//! chooses a TID (and the post's `createdAt`) before the first attempt and saves them in the
//! journal BEFORE calling `createRecord`; every later attempt of the same version reuses them
//! and first asks the PDS (`getRecord`) whether the record exists. A lost answer therefore ends
//! in finding the post, never in a second one.
use steward_connectors::ConnectorError;
use steward_connectors::bluesky::{self, PostDraft};
use steward_domain::moderation::ModerationAction;
use steward_store::AccountRow;

use super::{
    AccountStats, MediaKind, Moderated, Outgoing, PlatformComment, PostStats, PublishJournal, PublishOutcome,
    Published, count, store_failure,
};
use crate::credentials::with_bluesky_session;
use crate::services::Services;

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
    state: &Services,
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
                let (bytes, mime) = super::mastodon::media_bytes(state, &account.id, &m.url).await?;
                let blob = bluesky::upload_blob(&state.http, &cred.service, &cred.session, bytes, &mime).await?;
                images.push((blob, m.alt.clone().unwrap_or_default()));
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
    _state: &Services,
    account: &AccountRow,
    platform_ref: &str,
) -> Result<PublishOutcome, ConnectorError> {
    Ok(PublishOutcome::Published(published(&account.handle, platform_ref)))
}

/// How deep below a post the comment list looks (replies to replies to …).
const THREAD_DEPTH: u16 = 10;

/// A comment's id as Steward shows it: `{did}!{rkey}` — an at-uri has slashes, which do not
/// fit in a URL path segment, and `!` occurs in neither a DID nor a record key.
fn comment_id(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("at://")?;
    let (did, path) = rest.split_once('/')?;
    let rkey = path.strip_prefix(&format!("{}/", bluesky::POST_COLLECTION))?;
    Some(format!("{did}!{rkey}"))
}

fn comment_uri(id: &str) -> Option<String> {
    let (did, rkey) = id.split_once('!')?;
    (did.starts_with("did:") && !rkey.is_empty() && !rkey.contains('/'))
        .then(|| format!("at://{did}/{}/{rkey}", bluesky::POST_COLLECTION))
}

fn comment_of(reply: &bluesky::PostView, root: &str) -> Option<PlatformComment> {
    let parent = reply.reply_refs().map(|(_, parent)| parent.uri).filter(|p| p != root);
    Some(PlatformComment {
        id: comment_id(&reply.uri)?,
        post_external_id: root.to_string(),
        author: format!("@{}", reply.author.handle),
        text: reply.text().to_string(),
        created_at: reply.created_at().to_string(),
        hidden: false,
        parent_id: parent.and_then(|p| comment_id(&p)),
    })
}

/// The replies below each published post (`getPostThread`); a post deleted on Bluesky has none.
pub async fn comments(
    state: &Services,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<Vec<PlatformComment>, ConnectorError> {
    with_bluesky_session(state, &account.id, |cred| async move {
        let mut all = Vec::new();
        for uri in published_external_ids {
            let thread = bluesky::get_post_thread(&state.http, &cred.service, &cred.session, uri, THREAD_DEPTH).await?;
            let Some(thread) = thread else { continue };
            // Hidden replies stay in the thread (Bluesky's apps fold them away): say which.
            let hidden = bluesky::hidden_replies(&state.http, &cred.service, &cred.session, uri).await?;
            all.extend(thread.replies.iter().filter_map(|r| {
                let mut c = comment_of(r, uri)?;
                c.hidden = hidden.contains(&r.uri);
                Some(c)
            }));
        }
        Ok(all)
    })
    .await
}

/// Replies as the account. The reply gets a fresh record key: a client that repeats its request
/// posts a second reply, as on every platform without idempotency keys.
pub async fn reply(
    state: &Services,
    account: &AccountRow,
    comment_id: &str,
    text: &str,
) -> Result<PlatformComment, ConnectorError> {
    let Some(parent) = comment_uri(comment_id) else {
        return Err(ConnectorError::Rejected("not a Bluesky comment id from Steward's comment list".into()));
    };
    bluesky::check_post_text(text)?;
    let rkey = bluesky::new_tid();
    let created_at = state.clock.now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    with_bluesky_session(state, &account.id, |cred| {
        let (parent, rkey, created_at) = (&parent, &rkey, &created_at);
        async move {
            let (created, root) =
                bluesky::reply_to_post(&state.http, &cred.service, &cred.session, parent, text, rkey, created_at)
                    .await?;
            Ok(PlatformComment {
                id: comment_id_or_uri(&created.uri),
                post_external_id: root.uri.clone(),
                author: format!("@{}", cred.session.handle),
                text: text.to_string(),
                created_at: created_at.clone(),
                hidden: false,
                parent_id: (*parent != root.uri).then(|| comment_id.to_string()),
            })
        }
    })
    .await
}

/// Hides a reply under the account's own thread (the root post's threadgate); Bluesky offers
/// apps no other moderation of replies.
pub async fn moderate(
    state: &Services,
    account: &AccountRow,
    comment_id: &str,
    action: ModerationAction,
) -> Result<Moderated, ConnectorError> {
    if action != ModerationAction::Hide {
        return Err(super::not_offered("Bluesky", action.words(), "a thread's author can only hide replies"));
    }
    let Some(reply) = comment_uri(comment_id) else {
        return Err(ConnectorError::Rejected("not a Bluesky comment id from Steward's comment list".into()));
    };
    let created_at = state.clock.now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    with_bluesky_session(state, &account.id, |cred| {
        let (reply, created_at) = (&reply, &created_at);
        async move {
            bluesky::hide_reply(&state.http, &cred.service, &cred.session, reply, created_at).await?;
            Ok(Moderated { author: None })
        }
    })
    .await
}

fn comment_id_or_uri(uri: &str) -> String {
    comment_id(uri).unwrap_or_else(|| uri.to_string())
}

/// Likes, replies, reposts + quotes per post (`getPosts`, 25 at a time) and the follower count
/// (`getProfile`). Bluesky counts no impressions: `null`.
pub async fn analytics(
    state: &Services,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<AccountStats, ConnectorError> {
    with_bluesky_session(state, &account.id, |cred| async move {
        let views = bluesky::get_posts(&state.http, &cred.service, &cred.session, published_external_ids).await?;
        let profile = bluesky::get_profile_view(&state.http, &cred.service, &cred.session).await?;
        let posts = views
            .into_iter()
            .map(|v| PostStats {
                impressions: None,
                likes: v.like_count.map(count),
                comments: v.reply_count.map(count),
                shares: match (v.repost_count, v.quote_count) {
                    (None, None) => None,
                    (r, q) => Some(count(r.unwrap_or(0).saturating_add(q.unwrap_or(0)))),
                },
                external_id: v.uri,
            })
            .collect();
        Ok(AccountStats { followers: profile.followers_count.map(count), posts })
    })
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{comment_id, comment_uri};

    #[test]
    fn comment_ids_fit_in_a_path_segment_and_map_back() {
        let uri = "at://did:plc:abc123/app.bsky.feed.post/3kabcdefghij2";
        let id = comment_id(uri).unwrap();
        assert_eq!(id, "did:plc:abc123!3kabcdefghij2");
        assert!(!id.contains('/'));
        assert_eq!(comment_uri(&id).as_deref(), Some(uri));
        assert_eq!(comment_id("at://did:plc:x/app.bsky.feed.like/3k"), None);
        for bad in ["nope", "did:plc:x!", "x!3k", "did:plc:x!a/b"] {
            assert_eq!(comment_uri(bad), None, "{bad}");
        }
    }
}
