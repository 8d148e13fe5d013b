//! TikTok, through `steward_connectors::tiktok`: a direct video post that TikTok pulls from the
//! media URL (`PULL_FROM_URL`), then status polling.
//!
//! Exactly once: TikTok offers no idempotency key. The `publish_id` from init is saved in the
//! journal at once, before anything else happens; a later attempt of the same version that
//! finds it fetches its status instead of initialising a second post, and starts over only when
//! TikTok says that post failed. What stays uncovered: an init whose answer is lost (TikTok
//! created the post, Steward never learned its `publish_id`); docs/publishing.md says so.
use steward_connectors::ConnectorError;
use steward_connectors::tiktok::{self, PostInfo, PrivacyLevel, PublishState, Retry};
use steward_store::AccountRow;

use super::{
    AccountStats, MediaKind, Outgoing, PlatformComment, PublishJournal, PublishOutcome, Published, store_failure,
};
use crate::credentials::with_token;
use crate::services::Services;

fn app(state: &Services) -> Result<&steward_connectors::OauthApp, ConnectorError> {
    state.settings.tiktok.as_ref().ok_or_else(|| {
        ConnectorError::Misconfigured("TikTok is not configured on this server (STEWARD_TIKTOK_CLIENT_ID)".into())
    })
}

/// What a publish_id's status means for the post.
fn outcome(publish_id: &str, s: &tiktok::PostStatus) -> Result<PublishOutcome, ConnectorError> {
    match &s.state {
        PublishState::PublishComplete => Ok(PublishOutcome::Published(Published {
            // The public post id once moderation made it public, else the publish_id.
            external_id: s.post_ids.first().map_or_else(|| publish_id.to_string(), ToString::to_string),
            external_url: None,
        })),
        PublishState::Failed => {
            let (reason, retry) = s.fail_reason.clone().unwrap_or_else(|| ("unknown".into(), Retry::Never));
            match retry {
                Retry::Never => Err(ConnectorError::Rejected(format!("TikTok did not publish the video: {reason}"))),
                _ => {
                    Err(ConnectorError::Transient(format!("TikTok did not publish the video ({reason}); trying again")))
                }
            }
        }
        _ => Ok(PublishOutcome::Processing { platform_ref: publish_id.to_string() }),
    }
}

pub async fn publish(
    state: &Services,
    account: &AccountRow,
    out: &Outgoing<'_>,
    journal: &PublishJournal,
) -> Result<PublishOutcome, ConnectorError> {
    let app = app(state)?;
    let [video] = out.media else {
        return Err(ConnectorError::Rejected("a TikTok post is exactly one video".into()));
    };
    if video.kind != MediaKind::Video {
        return Err(ConnectorError::Rejected("a TikTok post is a video, not an image".into()));
    }
    if let Some(publish_id) = journal.prior_ref() {
        // An earlier attempt initialised this post: ask about it instead of posting again.
        let s = with_token(state, &account.id, "tiktok", |cred| async move {
            tiktok::publish_status(&state.http, app, &cred.tokens.access_token, publish_id).await
        })
        .await?;
        match (&s.state, &s.fail_reason) {
            // Failed for a reason worth another try: that post is dead, a new init is safe.
            (PublishState::Failed, Some((_, Retry::Retryable | Retry::IfSourceReachable))) => {}
            _ => return outcome(publish_id, &s),
        }
    }
    let title = match out.title {
        Some(t) if !t.trim().is_empty() => format!("{t}\n\n{}", out.text),
        _ => out.text.to_string(),
    };
    let publish_id = with_token(state, &account.id, "tiktok", |cred| {
        let title = title.clone();
        async move {
            let token = cred.tokens.access_token.as_str();
            // The creator's allowed privacy levels: public when allowed (an unaudited app may
            // only post privately).
            let info = tiktok::creator_info(&state.http, app, token).await?;
            let options = &info.privacy_level_options;
            let privacy = [PrivacyLevel::PublicToEveryone, PrivacyLevel::SelfOnly, PrivacyLevel::FollowerOfCreator]
                .into_iter()
                .find(|p| options.iter().any(|o| o == p.as_str()))
                .ok_or_else(|| {
                    ConnectorError::Rejected("TikTok allows this creator no privacy level to post with".into())
                })?;
            tiktok::init_video_pull(&state.http, app, token, &video.url, &PostInfo::new(title, privacy)).await
        }
    })
    .await?;
    // Saved at once: a retry from here on polls this post instead of creating another.
    journal.save_ref(&publish_id).await.map_err(|e| store_failure(&e))?;
    Ok(PublishOutcome::Processing { platform_ref: publish_id })
}

pub async fn status(
    state: &Services,
    account: &AccountRow,
    platform_ref: &str,
) -> Result<PublishOutcome, ConnectorError> {
    let app = app(state)?;
    let s = with_token(state, &account.id, "tiktok", |cred| async move {
        tiktok::publish_status(&state.http, app, &cred.tokens.access_token, platform_ref).await
    })
    .await?;
    outcome(platform_ref, &s)
}

pub async fn comments(
    _state: &Services,
    _account: &AccountRow,
    _published_external_ids: &[String],
) -> Result<Vec<PlatformComment>, ConnectorError> {
    Err(super::not_offered("TikTok", "reading comments", "TikTok's APIs for apps offer no access to comments"))
}

pub async fn reply(
    _state: &Services,
    _account: &AccountRow,
    _comment_id: &str,
    _text: &str,
) -> Result<PlatformComment, ConnectorError> {
    Err(super::not_offered("TikTok", "replying to comments", "TikTok's APIs for apps offer no access to comments"))
}

/// The Display API's video query would give view, like, comment and share counts, but
/// platforms-reference.md documents only its rate limit, not its request or answer, and it needs
/// scopes (`video.list`) Steward does not ask for.
pub async fn analytics(
    _state: &Services,
    _account: &AccountRow,
    _published_external_ids: &[String],
) -> Result<AccountStats, ConnectorError> {
    Err(super::unavailable("TikTok", "analytics"))
}
