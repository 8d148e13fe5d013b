//! LinkedIn, through `steward_connectors::linkedin`: text and image posts via the Posts API as
//! the member (or an organization page), comments and replies, organization share statistics.
//!
//! Exactly once: LinkedIn has no idempotency key. Before the first `POST /rest/posts` the
//! adapter notes the attempt in the journal; a later attempt of the same version first looks up
//! the author's recent posts for the same commentary and takes a match as the live post. If it
//! still posts and LinkedIn answers its duplicate-content 422 naming the live post, that post
//! is the success (`AlreadyPublished`).
use std::time::Duration;

use steward_connectors::linkedin::{self, ImageStatus};
use steward_connectors::{ConnectorError, OauthApp};
use steward_store::AccountRow;

use super::{
    AccountStats, MediaKind, Outgoing, PlatformComment, PostStats, PublishJournal, PublishOutcome, Published,
    store_failure,
};
use crate::credentials::{OauthCredential, with_token};
use crate::state::AppState;

/// What the journal holds for a LinkedIn attempt: only that one was made.
const ATTEMPTED: &str = "linkedin:attempted";

fn app(state: &AppState) -> Result<&OauthApp, ConnectorError> {
    state.settings.linkedin.as_ref().ok_or_else(|| {
        ConnectorError::Misconfigured("LinkedIn is not configured on this server (STEWARD_LINKEDIN_CLIENT_ID)".into())
    })
}

/// The URN posts are written as: the member, or the organization page the account is.
fn author(account: &AccountRow, cred: &OauthCredential) -> Result<String, ConnectorError> {
    if account.account_kind == "organization" {
        if cred.identity.id.starts_with("urn:li:organization:") {
            return Ok(cred.identity.id.clone());
        }
        return Err(ConnectorError::Misconfigured(
            "this LinkedIn organization account names no organization page; choosing the page is not available yet"
                .into(),
        ));
    }
    Ok(linkedin::member_urn(&cred.identity.id))
}

fn live(urn: &str) -> PublishOutcome {
    let p = linkedin::Published::from_urn(urn);
    PublishOutcome::Published(Published { external_id: p.external_id, external_url: Some(p.external_url) })
}

/// Uploads an image for `owner` and waits until LinkedIn has processed it.
async fn upload_image(
    state: &AppState,
    app: &OauthApp,
    token: &str,
    owner: &str,
    url: &str,
) -> Result<String, ConnectorError> {
    let version = &state.settings.linkedin_version;
    let (bytes, _mime) = super::mastodon::media_bytes(state, url).await?;
    let upload = linkedin::initialize_image_upload(&state.http, app, version, token, owner).await?;
    linkedin::upload_image(&state.http, app, token, &upload.upload_url, bytes).await?;
    for _ in 0..30 {
        match linkedin::image_status(&state.http, app, version, token, &upload.image_urn).await? {
            ImageStatus::Available => return Ok(upload.image_urn),
            ImageStatus::ProcessingFailed => {
                return Err(ConnectorError::Rejected("LinkedIn could not process the image".into()));
            }
            ImageStatus::WaitingUpload | ImageStatus::Processing => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
    Err(ConnectorError::Transient("LinkedIn is still processing the image".into()))
}

pub async fn publish(
    state: &AppState,
    account: &AccountRow,
    out: &Outgoing<'_>,
    journal: &PublishJournal,
) -> Result<PublishOutcome, ConnectorError> {
    let app = app(state)?;
    let version = state.settings.linkedin_version.as_str();
    if out.media.iter().any(|m| m.kind == MediaKind::Video) {
        return Err(ConnectorError::Rejected("video posts on LinkedIn are not available in Steward yet".into()));
    }
    if out.media.len() > 1 {
        return Err(ConnectorError::Rejected("a LinkedIn post from Steward carries at most one image".into()));
    }
    let text = match out.title {
        Some(t) if !t.trim().is_empty() => format!("{t}\n\n{}", out.text),
        _ => out.text.to_string(),
    };
    let retry = journal.prior_ref().is_some();
    if !retry {
        journal.save_ref(ATTEMPTED).await.map_err(|e| store_failure(&e))?;
    }
    let result = with_token(state, &account.id, "linkedin", |cred| {
        let text = text.clone();
        async move {
            let token = cred.tokens.access_token.as_str();
            let author = author(account, &cred)?;
            if retry {
                // The earlier attempt may have gone through with its answer lost: look first.
                let escaped = linkedin::escape_little_text(&text);
                let recent = linkedin::posts_by_author(&state.http, app, version, token, &author, 20).await?;
                if let Some(p) = recent.iter().find(|p| p.commentary == escaped || p.commentary == text) {
                    return Ok(live(&p.id));
                }
            }
            let image = match out.media.first() {
                Some(m) => Some(upload_image(state, app, token, &author, &m.url).await?),
                None => None,
            };
            let p = linkedin::create_post(&state.http, app, version, token, &author, &text, image.as_deref()).await?;
            Ok(live(&p.external_id))
        }
    })
    .await;
    match result {
        // The duplicate-422 names the post that is already live: that is this post.
        Err(ConnectorError::AlreadyPublished { external_id }) => Ok(live(&external_id)),
        other => other,
    }
}

/// LinkedIn publishes synchronously: a ref names a post already live.
pub async fn status(
    _state: &AppState,
    _account: &AccountRow,
    platform_ref: &str,
) -> Result<PublishOutcome, ConnectorError> {
    Ok(live(platform_ref))
}

/// A comment's id as Steward shows it: the post and the comment URN, because a reply on
/// LinkedIn names both.
fn comment_id(post: &str, comment_urn: &str) -> String {
    format!("{post}!{comment_urn}")
}

fn rfc3339_ms(ms: Option<i64>) -> String {
    crate::clock::rfc3339(ms.unwrap_or(0).saturating_mul(1000))
}

pub async fn comments(
    state: &AppState,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<Vec<PlatformComment>, ConnectorError> {
    let app = app(state)?;
    let version = state.settings.linkedin_version.as_str();
    with_token(state, &account.id, "linkedin", |cred| async move {
        let mut all = Vec::new();
        for post in published_external_ids {
            let page =
                linkedin::list_comments(&state.http, app, version, &cred.tokens.access_token, post, 0, 100).await?;
            all.extend(page.comments.into_iter().map(|c| PlatformComment {
                id: comment_id(post, &c.comment_urn),
                post_external_id: post.clone(),
                author: c.actor,
                text: c.text,
                created_at: rfc3339_ms(c.created_at),
                hidden: false,
                parent_id: c.parent_comment.map(|p| comment_id(post, &p)),
            }));
        }
        Ok(all)
    })
    .await
}

pub async fn reply(
    state: &AppState,
    account: &AccountRow,
    comment: &str,
    text: &str,
) -> Result<PlatformComment, ConnectorError> {
    let app = app(state)?;
    let version = state.settings.linkedin_version.as_str();
    let Some((post, parent)) = comment.split_once('!') else {
        return Err(ConnectorError::Rejected("not a LinkedIn comment id from Steward's comment list".into()));
    };
    with_token(state, &account.id, "linkedin", |cred| async move {
        let actor = author(account, &cred)?;
        let c = linkedin::reply_to_comment(
            &state.http,
            app,
            version,
            &cred.tokens.access_token,
            &actor,
            post,
            parent,
            text,
        )
        .await?;
        Ok(PlatformComment {
            id: comment_id(post, &c.comment_urn),
            post_external_id: post.to_string(),
            author: c.actor,
            text: text.to_string(),
            created_at: rfc3339_ms(c.created_at),
            hidden: false,
            parent_id: Some(comment_id(post, parent)),
        })
    })
    .await
}

/// Share statistics exist for organization pages only; a member profile's posts show zeros.
pub async fn analytics(
    state: &AppState,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<AccountStats, ConnectorError> {
    let app = app(state)?;
    let version = state.settings.linkedin_version.as_str();
    if account.account_kind != "organization" {
        return Err(ConnectorError::Misconfigured(
            "LinkedIn gives post statistics to apps for organization pages only".into(),
        ));
    }
    with_token(state, &account.id, "linkedin", |cred| async move {
        let org = author(account, &cred)?;
        let ids: Vec<&str> = published_external_ids.iter().map(String::as_str).collect();
        let stats =
            linkedin::share_statistics(&state.http, app, version, &cred.tokens.access_token, &org, &ids).await?;
        let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        Ok(AccountStats {
            followers: None,
            posts: stats
                .into_iter()
                .map(|s| PostStats {
                    external_id: s.share,
                    impressions: to_i64(s.impressions),
                    likes: to_i64(s.likes),
                    comments: to_i64(s.comments),
                    shares: to_i64(s.shares),
                })
                .collect(),
        })
    })
    .await
}
