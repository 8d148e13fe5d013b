//! Mastodon, through `steward_connectors::mastodon`: statuses with `Idempotency-Key`, media
//! uploads, replies and their threads, status counters.
//!
//! Exactly once: every attempt at one post version sends the same `Idempotency-Key`, and the
//! instance answers a repeat with the status it created the first time. The instance keeps a
//! key for one hour per account (`PostStatusService`), so after that a resend could publish a
//! second copy: when the first attempt whose outcome Steward never learned is older than
//! [`KEY_WINDOW`], the adapter refuses to send again and says so (the owner checks the account).
use std::time::Duration;
use steward_domain::ids::AccountId;

use serde::{Deserialize, Serialize};
use steward_connectors::mastodon::{self, StatusDraft, Visibility};
use steward_connectors::{ConnectorError, Identity, TokenSet};
use steward_domain::moderation::ModerationAction;
use steward_store::AccountRow;

use super::{
    AccountStats, MediaKind, Moderated, Outgoing, PlatformComment, PostStats, PublishJournal, PublishOutcome, Published,
};
use crate::credentials::credential_failure;
use crate::services::Services;

/// How long after an unanswered attempt a resend is still de-duplicated by the instance: its
/// hour, minus a margin for clock differences between us and the instance.
pub const KEY_WINDOW: Duration = Duration::from_secs(55 * 60);

/// What Steward keeps (sealed) for a Mastodon account: the instance it lives on, its access
/// token (Mastodon tokens do not expire and have no refresh token), and who it is.
#[derive(Clone, Serialize, Deserialize)]
pub struct MastodonCredential {
    /// The normalized instance origin (`https://mastodon.example`), checked when connected.
    pub instance: String,
    pub tokens: TokenSet,
    pub identity: Identity,
}

async fn credential(state: &Services, account: &AccountRow) -> Result<MastodonCredential, ConnectorError> {
    crate::credentials::ensure_live(state, &account.id).await.map_err(credential_failure)?;
    crate::credentials::open_json(state, &account.id).await.map_err(credential_failure)
}

/// The bytes of a post's media: an upload Steward keeps (`posts::media_storage`) or a URL
/// fetched like any user-supplied target (private addresses only when allowed).
pub(crate) async fn media_bytes(
    state: &Services,
    account_id: &AccountId,
    url: &str,
) -> Result<(Vec<u8>, String), ConnectorError> {
    let stored = crate::posts::media::stored_media(state, account_id, url).await.map_err(|e| match e {
        crate::AppError::Validation(_) => ConnectorError::Rejected(format!("{url}: a file of another account")),
        e => ConnectorError::Transient(format!("the uploaded media could not be looked up: {e}")),
    })?;
    if let Some(row) = stored {
        let bytes = crate::posts::media::media_bytes(state, &row)
            .await
            .map_err(|e| ConnectorError::Rejected(format!("the uploaded media {} cannot be read: {e}", row.id)))?;
        return Ok((bytes, row.content_type));
    }
    let allow_private = state.settings.allow_private_networks;
    let public = state.settings.public_url.trim_end_matches('/');
    let ours = url.strip_prefix(public).filter(|rest| rest.starts_with('/'));
    if ours.is_none() {
        steward_connectors::net::check_outbound_url(url, allow_private).await?;
    }
    let resp = state.http.get(url).send().await.map_err(|e| steward_connectors::http::transport_error(&e))?;
    if !resp.status().is_success() {
        let status = resp.status();
        return Err(if status.is_server_error() {
            ConnectorError::Transient(format!("the media at {url} answered {status}"))
        } else {
            ConnectorError::Rejected(format!("the media at {url} answered {status}"))
        });
    }
    let mime = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    let bytes = resp.bytes().await.map_err(|e| steward_connectors::http::transport_error(&e))?;
    Ok((bytes.to_vec(), mime))
}

pub async fn publish(
    state: &Services,
    account: &AccountRow,
    out: &Outgoing<'_>,
    journal: &PublishJournal,
) -> Result<PublishOutcome, ConnectorError> {
    if let Some(since) = journal.uncertain_since() {
        let age = state.clock.now_us().saturating_sub(since);
        if age > i64::try_from(KEY_WINDOW.as_micros()).unwrap_or(i64::MAX) {
            return Err(ConnectorError::Rejected(
                "an earlier attempt may have reached Mastodon, and the instance forgets its idempotency key after an \
                 hour, so Steward will not send it again; check the account and publish by hand if it is missing"
                    .into(),
            ));
        }
    }
    let cred = credential(state, account).await?;
    let token = cred.tokens.access_token.as_str();
    let mut media_ids = Vec::with_capacity(out.media.len());
    for m in out.media {
        let (bytes, mime) = media_bytes(state, &account.id, &m.url).await?;
        let uploaded =
            mastodon::upload_media(&state.http, &cred.instance, token, &bytes, &mime, m.alt.as_deref()).await?;
        let wait = if m.kind == MediaKind::Video { Duration::from_secs(120) } else { Duration::from_secs(30) };
        let ready =
            mastodon::wait_for_media(&state.http, &cred.instance, token, uploaded, Duration::from_secs(1), wait)
                .await?;
        media_ids.push(ready.id);
    }
    // A title has no field of its own on Mastodon: it leads the text.
    let text = match out.title {
        Some(t) if !t.trim().is_empty() => format!("{t}\n\n{}", out.text),
        _ => out.text.to_string(),
    };
    let draft = StatusDraft {
        text: &text,
        media_ids: &media_ids,
        in_reply_to_id: None,
        spoiler_text: out.content_warning,
        visibility: Visibility::Public,
        idempotency_key: out.idempotency_key,
    };
    let status = mastodon::post_status(&state.http, &cred.instance, token, &draft).await?;
    Ok(PublishOutcome::Published(Published { external_id: status.id, external_url: status.url }))
}

/// Mastodon publishes synchronously: a ref is already the status id.
pub async fn status(
    _state: &Services,
    _account: &AccountRow,
    platform_ref: &str,
) -> Result<PublishOutcome, ConnectorError> {
    Ok(PublishOutcome::Published(Published { external_id: platform_ref.to_string(), external_url: None }))
}

/// The instance's HTML content as plain text: tags dropped (paragraphs and breaks become line
/// breaks), the entities Mastodon emits decoded.
fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[start + 1..start + end];
        if tag.starts_with("br") || (tag.starts_with("/p") && !rest[start + end + 1..].is_empty()) {
            out.push('\n');
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

fn comment_of(s: mastodon::StatusSummary, root: &str) -> PlatformComment {
    let parent = s.in_reply_to_id.filter(|p| p != root);
    PlatformComment {
        id: s.id,
        post_external_id: root.to_string(),
        author: format!("@{}", s.author_acct),
        text: plain_text(&s.content),
        created_at: s.created_at,
        hidden: false,
        parent_id: parent,
    }
}

pub async fn comments(
    state: &Services,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<Vec<PlatformComment>, ConnectorError> {
    let cred = credential(state, account).await?;
    let mut all = Vec::new();
    for id in published_external_ids {
        let ctx = mastodon::status_context(&state.http, &cred.instance, &cred.tokens.access_token, id).await?;
        all.extend(ctx.descendants.into_iter().map(|s| comment_of(s, id)));
    }
    Ok(all)
}

/// Mutes or blocks the comment's author for the account (Mastodon offers nothing to do with the
/// reply itself). Tokens granted before Steward asked for `write:mutes write:blocks` are
/// refused by the instance: the owner reconnects the account.
pub async fn moderate(
    state: &Services,
    account: &AccountRow,
    comment_id: &str,
    action: ModerationAction,
) -> Result<Moderated, ConnectorError> {
    let block = match action {
        ModerationAction::MuteAuthor => false,
        ModerationAction::BlockAuthor => true,
        other => return Err(super::not_offered("Mastodon", other.words(), "its API only mutes or blocks accounts")),
    };
    let cred = credential(state, account).await?;
    let token = cred.tokens.access_token.as_str();
    let (author_id, acct) = mastodon::status_author(&state.http, &cred.instance, token, comment_id).await?;
    if author_id == cred.identity.id {
        return Err(ConnectorError::Rejected("that comment is the account's own".into()));
    }
    let r = mastodon::mute_or_block(&state.http, &cred.instance, token, &author_id, block).await?;
    if (block && !r.blocking) || (!block && !r.muting) {
        return Err(ConnectorError::Protocol(format!("the instance did not {} the author", action.words())));
    }
    Ok(Moderated { author: Some(acct) })
}

pub async fn reply(
    state: &Services,
    account: &AccountRow,
    comment_id: &str,
    text: &str,
) -> Result<PlatformComment, ConnectorError> {
    let cred = credential(state, account).await?;
    let token = cred.tokens.access_token.as_str();
    // One key per reply request: a retry of this call by the client is a new reply, but the
    // connector's own retry of one request is not.
    let key = uuid::Uuid::now_v7().to_string();
    let draft = StatusDraft {
        text,
        media_ids: &[],
        in_reply_to_id: Some(comment_id),
        spoiler_text: None,
        visibility: Visibility::Public,
        idempotency_key: &key,
    };
    let posted = mastodon::post_status(&state.http, &cred.instance, token, &draft).await?;
    let ctx = mastodon::status_context(&state.http, &cred.instance, token, &posted.id).await?;
    let root = ctx.ancestors.first().map_or_else(|| comment_id.to_string(), |s| s.id.clone());
    Ok(PlatformComment {
        id: posted.id,
        post_external_id: root.clone(),
        author: cred.identity.handle.clone(),
        text: text.to_string(),
        created_at: crate::clock::rfc3339(state.clock.now_us()),
        hidden: false,
        parent_id: (comment_id != root).then(|| comment_id.to_string()),
    })
}

/// Mastodon counts no impressions (`null`). Shares are boosts, likes are favourites.
pub async fn analytics(
    state: &Services,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<AccountStats, ConnectorError> {
    let cred = credential(state, account).await?;
    let mut posts = Vec::with_capacity(published_external_ids.len());
    for id in published_external_ids {
        let c = mastodon::status_counts(&state.http, &cred.instance, &cred.tokens.access_token, id).await?;
        posts.push(PostStats {
            external_id: id.clone(),
            impressions: None,
            likes: Some(c.favourites_count),
            comments: Some(c.replies_count),
            shares: Some(c.reblogs_count),
        });
    }
    Ok(AccountStats { followers: None, posts })
}

#[cfg(test)]
mod tests {
    use super::plain_text;

    #[test]
    fn html_content_becomes_plain_text() {
        assert_eq!(plain_text("<p>Hello &amp; welcome</p>"), "Hello & welcome");
        assert_eq!(plain_text("<p>one</p><p>two<br>three</p>"), "one\ntwo\nthree");
        assert_eq!(plain_text("<p>a &lt;b&gt; &quot;c&quot;</p>"), "a <b> \"c\"");
    }
}
