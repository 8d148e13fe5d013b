//! LinkedIn, through `steward_connectors::linkedin`: text and image posts via the Posts API as
//! the member (or an organization page), comments and replies, organization share statistics
//! and, for member profiles, the Social Metadata API's counts.
//!
//! Exactly once: LinkedIn has no idempotency key. Before the first `POST /rest/posts` the
//! adapter notes the attempt in the journal; a later attempt of the same version first looks up
//! the author's 20 latest posts for the same commentary and takes a match as the live post
//! (LinkedIn lets an app read a member's posts only with `r_member_social`; without it the
//! look-up is refused and skipped). If it
//! still posts and LinkedIn answers its duplicate-content 422 naming the live post, that post
//! is the success (`AlreadyPublished`).
use std::time::Duration;
use steward_domain::ids::AccountId;

use steward_connectors::linkedin::{self, ImageStatus};
use steward_connectors::{ConnectorError, OauthApp};
use steward_domain::moderation::ModerationAction;
use steward_store::AccountRow;

use super::{
    AccountStats, MediaKind, Moderated, Outgoing, PlatformComment, PostStats, PublishJournal, PublishOutcome,
    Published, count, store_failure,
};
use crate::credentials::{OauthCredential, with_token};
use crate::services::Services;

/// How many of the author's latest posts a retry looks through for the one it may have made.
const LOOK_UP_POSTS: u32 = 20;

/// Whether LinkedIn refused a call for missing permissions (403 `ACCESS_DENIED`; the `code` is
/// not always sent, the message is).
fn access_denied(message: &str) -> bool {
    message.contains("ACCESS_DENIED") || message.contains("Not enough permissions")
}

/// What the journal holds for a LinkedIn attempt: only that one was made.
const ATTEMPTED: &str = "linkedin:attempted";

fn app(state: &Services) -> Result<&OauthApp, ConnectorError> {
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
            "this LinkedIn Company Page account names no page: its owner connects it again and chooses the page".into(),
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
    state: &Services,
    app: &OauthApp,
    token: &str,
    owner: &str,
    account_id: &AccountId,
    url: &str,
) -> Result<String, ConnectorError> {
    let version = &state.settings.linkedin_version;
    let (bytes, _mime) = super::mastodon::media_bytes(state, account_id, url).await?;
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
    state: &Services,
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
                match linkedin::posts_by_author(&state.http, app, version, token, &author, LOOK_UP_POSTS).await {
                    Ok(recent) => {
                        if let Some(p) = recent.iter().find(|p| p.commentary == escaped || p.commentary == text) {
                            return Ok(live(&p.id));
                        }
                    }
                    // Reading a member's posts needs r_member_social: without it the
                    // duplicate-422 below is the only guard.
                    Err(ConnectorError::Rejected(m)) if access_denied(&m) => {}
                    Err(e) => return Err(e),
                }
            }
            let image = match out.media.first() {
                Some(m) => {
                    Some((upload_image(state, app, token, &author, &account.id, &m.url).await?, m.alt.as_deref()))
                }
                None => None,
            };
            let p = linkedin::create_post(&state.http, app, version, token, &author, &text, image).await?;
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
    _state: &Services,
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
    state: &Services,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<Vec<PlatformComment>, ConnectorError> {
    let app = app(state)?;
    let version = state.settings.linkedin_version.as_str();
    with_token(state, &account.id, "linkedin", |cred| async move {
        let token = cred.tokens.access_token.as_str();
        let shown = |post: &String, c: linkedin::Comment, parent: Option<&str>| PlatformComment {
            id: comment_id(post, &c.comment_urn),
            post_external_id: post.clone(),
            author: c.actor,
            text: c.text,
            created_at: rfc3339_ms(c.created_at),
            hidden: false,
            parent_id: c.parent_comment.as_deref().or(parent).map(|p| comment_id(post, p)),
        };
        let mut all = Vec::new();
        for post in published_external_ids {
            // A post's comments are its top-level ones; each one's replies (threads are one
            // level deep) are the comments on the comment's URN.
            let page = linkedin::list_comments(&state.http, app, version, token, post, 0, 100).await?;
            for c in page.comments {
                let urn = c.comment_urn.clone();
                all.push(shown(post, c, None));
                let replies = linkedin::list_comments(&state.http, app, version, token, &urn, 0, 100).await?;
                all.extend(replies.comments.into_iter().map(|r| shown(post, r, Some(&urn))));
            }
        }
        Ok(all)
    })
    .await
}

/// Deletes a comment on a Page's post, as the Page (the only moderation LinkedIn offers apps).
pub async fn moderate(
    state: &Services,
    account: &AccountRow,
    comment: &str,
    action: ModerationAction,
) -> Result<Moderated, ConnectorError> {
    if action != ModerationAction::Delete || account.account_kind != "organization" {
        return Err(super::not_offered("LinkedIn", action.words(), "apps may delete comments on a Page's posts only"));
    }
    let app = app(state)?;
    let version = state.settings.linkedin_version.as_str();
    let Some((post, comment_urn)) = comment.split_once('!') else {
        return Err(ConnectorError::Rejected("not a LinkedIn comment id from Steward's comment list".into()));
    };
    with_token(state, &account.id, "linkedin", |cred| async move {
        let actor = author(account, &cred)?;
        linkedin::delete_comment(&state.http, app, version, &cred.tokens.access_token, &actor, post, comment_urn)
            .await?;
        Ok(Moderated { author: None })
    })
    .await
}

pub async fn reply(
    state: &Services,
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

/// Organization pages: share statistics (impressions, reactions, comments, reshares) and the
/// page's follower count (`networkSizes`). Member profiles: LinkedIn gives apps no impressions
/// or reshare counts for a member's posts, only the Social Metadata API's reaction and comment
/// counts, and only with the restricted `r_member_social` (`STEWARD_LINKEDIN_MEMBER_READ`);
/// impressions, shares and followers are `null` there.
pub async fn analytics(
    state: &Services,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<AccountStats, ConnectorError> {
    let app = app(state)?;
    let version = state.settings.linkedin_version.as_str();
    if account.account_kind != "organization" {
        return member_analytics(state, app, account, published_external_ids).await;
    }
    with_token(state, &account.id, "linkedin", |cred| async move {
        let org = author(account, &cred)?;
        let ids: Vec<&str> = published_external_ids.iter().map(String::as_str).collect();
        let token = cred.tokens.access_token.as_str();
        let stats = linkedin::share_statistics(&state.http, app, version, token, &org, &ids).await?;
        let followers = linkedin::follower_count(&state.http, app, version, token, &org).await?;
        Ok(AccountStats {
            followers: Some(count(followers)),
            posts: stats
                .into_iter()
                .map(|s| PostStats {
                    external_id: s.share,
                    impressions: Some(count(s.impressions)),
                    likes: Some(count(s.likes)),
                    comments: Some(count(s.comments)),
                    shares: Some(count(s.shares)),
                })
                .collect(),
        })
    })
    .await
}

fn member_read_missing() -> ConnectorError {
    super::not_offered(
        "LinkedIn",
        "reading a member profile's post counts",
        "LinkedIn gives them only to apps approved for r_member_social; once the app is, set \
         STEWARD_LINKEDIN_MEMBER_READ=true and reconnect the account",
    )
}

async fn member_analytics(
    state: &Services,
    app: &OauthApp,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<AccountStats, ConnectorError> {
    let version = state.settings.linkedin_version.as_str();
    with_token(state, &account.id, "linkedin", |cred| async move {
        // Scopes the grant names but lacks: no call that LinkedIn would refuse anyway.
        let granted = cred.tokens.scope.as_deref();
        if granted.is_some_and(|s| !s.split([' ', ',']).any(|s| s == linkedin::MEMBER_READ_SCOPE)) {
            return Err(member_read_missing());
        }
        let mut posts = Vec::with_capacity(published_external_ids.len());
        for urn in published_external_ids {
            let m = match linkedin::social_metadata(&state.http, app, version, &cred.tokens.access_token, urn).await {
                Ok(m) => m,
                Err(ConnectorError::Rejected(msg)) if access_denied(&msg) => {
                    return Err(member_read_missing());
                }
                Err(e) => return Err(e),
            };
            posts.push(PostStats {
                external_id: urn.clone(),
                impressions: None,
                likes: Some(count(m.reactions)),
                comments: Some(count(m.comments)),
                shares: None,
            });
        }
        Ok(AccountStats { followers: None, posts })
    })
    .await
}
