//! TikTok, through `steward_connectors::tiktok`: a direct video post, sent in chunks
//! (`FILE_UPLOAD`) when the video was uploaded to Steward, or pulled by TikTok from an external
//! URL (`PULL_FROM_URL`), then status polling; the Display API's counts for analytics.
//!
//! Resuming an upload: a chunk TikTok answers with 5xx is sent again at once (the connector);
//! if the attempt still fails, the next attempt finds the `publish_id` and the sealed upload
//! URL in the journal, asks TikTok how far the upload got, and sends only the missing chunks.
//!
//! Exactly once: TikTok offers no idempotency key. The `publish_id` from init is saved in the
//! journal at once, before anything else happens; a later attempt of the same version that
//! finds it fetches its status instead of initialising a second post, and starts over only when
//! TikTok says that post failed. What stays uncovered: an init whose answer is lost (TikTok
//! created the post, Steward never learned its `publish_id`); docs/publishing.md says so.
use steward_connectors::tiktok::{self, PostInfo, PrivacyLevel, PublishState, Retry};
use steward_connectors::{ConnectorError, OauthApp};
use steward_domain::ids::PostId;
use steward_store::AccountRow;

use super::{
    AccountStats, MediaKind, Outgoing, PlatformComment, PostStats, PublishJournal, PublishOutcome, Published, count,
    store_failure,
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

/// The sealed upload URL's AAD: bound to the post and the `publish_id` it belongs to.
fn upload_url_aad(post_id: &PostId, publish_id: &str) -> String {
    format!("publish_jobs:{post_id}:{publish_id}:upload_url")
}

/// The journal's note for a `FILE_UPLOAD` post: its `publish_id`, then the upload URL sealed
/// under the master key (the URL carries TikTok's upload token, so it is never stored in clear).
/// A resumed attempt opens it to send the chunks TikTok is still missing.
fn upload_ref(state: &Services, post_id: &PostId, publish_id: &str, upload_url: &str) -> String {
    use base64::Engine;
    let sealed = state.vault().seal(&upload_url_aad(post_id, publish_id), upload_url.as_bytes());
    format!("{publish_id} upload:{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed))
}

/// The `publish_id` of a journal note, and the upload URL when it is a `FILE_UPLOAD` note that
/// can still be opened.
fn parse_ref(state: &Services, post_id: &PostId, platform_ref: &str) -> (String, Option<String>) {
    use base64::Engine;
    let (publish_id, rest) = platform_ref.split_once(' ').unwrap_or((platform_ref, ""));
    let url = rest
        .strip_prefix("upload:")
        .and_then(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b).ok())
        .and_then(|sealed| state.vault().open(&upload_url_aad(post_id, publish_id), &sealed).ok())
        .and_then(|plain| String::from_utf8(plain.to_vec()).ok());
    (publish_id.to_string(), url)
}

/// The chunk size asked for: TikTok's smallest (5 MB), so a failed chunk costs the least to
/// send again, unless the file would then need more than TikTok's 1,000 chunks.
fn preferred_chunk_size(video_size: u64) -> u64 {
    tiktok::MIN_CHUNK.max(video_size.div_ceil(tiktok::MAX_CHUNKS))
}

/// A video type TikTok's upload takes (`video/mp4`, `video/quicktime`, `video/webm`).
fn upload_content_type(mime: &str) -> Result<&'static str, ConnectorError> {
    match mime.split(';').next().unwrap_or("").trim() {
        "video/mp4" => Ok("video/mp4"),
        "video/quicktime" => Ok("video/quicktime"),
        "video/webm" => Ok("video/webm"),
        other => Err(ConnectorError::Rejected(format!("TikTok takes MP4, MOV or WebM videos, not {other}"))),
    }
}

/// The privacy level to post with: public when the creator may, else private (an unaudited
/// app may only post `SELF_ONLY`).
async fn privacy(state: &Services, app: &OauthApp, token: &str) -> Result<PrivacyLevel, ConnectorError> {
    let info = tiktok::creator_info(&state.http, app, token).await?;
    let options = &info.privacy_level_options;
    [PrivacyLevel::PublicToEveryone, PrivacyLevel::SelfOnly, PrivacyLevel::FollowerOfCreator]
        .into_iter()
        .find(|p| options.iter().any(|o| o == p.as_str()))
        .ok_or_else(|| ConnectorError::Rejected("TikTok allows this creator no privacy level to post with".into()))
}

/// The bytes and type of a video uploaded to Steward for this account; `None` for an external
/// URL (which TikTok pulls itself).
async fn stored_video(
    state: &Services,
    account: &AccountRow,
    url: &str,
) -> Result<Option<(Vec<u8>, String)>, ConnectorError> {
    match crate::posts::media::stored_media(state, &account.id, url).await {
        Ok(Some(_)) => super::mastodon::media_bytes(state, &account.id, url).await.map(Some),
        Ok(None) => Ok(None),
        Err(crate::AppError::Validation(_)) => {
            Err(ConnectorError::Rejected(format!("{url}: a file of another account")))
        }
        Err(e) => Err(ConnectorError::Transient(format!("the uploaded media could not be looked up: {e}"))),
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
    // A video uploaded to Steward goes up in chunks (`FILE_UPLOAD`); any other URL is pulled by
    // TikTok (`PULL_FROM_URL`, which needs a domain verified for the app).
    let own = stored_video(state, account, &video.url).await?;
    if let Some(prior) = journal.prior_ref() {
        // An earlier attempt initialised this post: ask about it instead of posting again.
        let (publish_id, upload_url) = parse_ref(state, out.post_id, prior);
        let s = with_token(state, &account.id, "tiktok", |cred| {
            let publish_id = publish_id.clone();
            async move { tiktok::publish_status(&state.http, app, &cred.tokens.access_token, &publish_id).await }
        })
        .await?;
        match (&s.state, &s.fail_reason, &own, upload_url) {
            // Failed for a reason worth another try: that post is dead, a new init is safe.
            (PublishState::Failed, Some((_, Retry::Retryable | Retry::IfSourceReachable)), _, _) => {}
            // The file did not all arrive: send what TikTok is missing, not the whole file.
            (PublishState::ProcessingUpload, _, Some((bytes, mime)), Some(url))
                if s.uploaded_bytes.is_none_or(|b| b < bytes.len() as u64) =>
            {
                let size = bytes.len() as u64;
                let session = tiktok::UploadSession {
                    publish_id: publish_id.clone(),
                    upload_url: url,
                    plan: tiktok::ChunkPlan::new(size, preferred_chunk_size(size))?,
                };
                let held = s.uploaded_bytes.unwrap_or(0);
                match tiktok::upload_chunks_from(&state.http, &session, upload_content_type(mime)?, bytes, held).await {
                    Ok(()) => return Ok(PublishOutcome::Processing { platform_ref: publish_id }),
                    // The upload URL expired (one hour) or TikTok forgot the upload: that post
                    // never got its file and cannot go out, so a new init is safe.
                    Err(ConnectorError::Rejected(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            _ => return outcome(&publish_id, &s),
        }
    }
    let title = match out.title {
        Some(t) if !t.trim().is_empty() => format!("{t}\n\n{}", out.text),
        _ => out.text.to_string(),
    };
    let Some((bytes, mime)) = own else {
        let publish_id = with_token(state, &account.id, "tiktok", |cred| {
            let title = title.clone();
            async move {
                let token = cred.tokens.access_token.as_str();
                let privacy = privacy(state, app, token).await?;
                tiktok::init_video_pull(&state.http, app, token, &video.url, &PostInfo::new(title, privacy)).await
            }
        })
        .await?;
        // Saved at once: a retry from here on polls this post instead of creating another.
        journal.save_ref(&publish_id).await.map_err(|e| store_failure(&e))?;
        return Ok(PublishOutcome::Processing { platform_ref: publish_id });
    };
    let content_type = upload_content_type(&mime)?;
    let size = bytes.len() as u64;
    let session = with_token(state, &account.id, "tiktok", |cred| {
        let title = title.clone();
        async move {
            let token = cred.tokens.access_token.as_str();
            let privacy = privacy(state, app, token).await?;
            let info = PostInfo::new(title, privacy);
            tiktok::init_video_upload(&state.http, app, token, size, preferred_chunk_size(size), &info).await
        }
    })
    .await?;
    // Saved at once, with the upload URL sealed: a retry resumes this upload (or polls this
    // post) instead of creating another.
    let note = upload_ref(state, out.post_id, &session.publish_id, &session.upload_url);
    journal.save_ref(&note).await.map_err(|e| store_failure(&e))?;
    tiktok::upload_chunks(&state.http, &session, content_type, &bytes).await?;
    Ok(PublishOutcome::Processing { platform_ref: session.publish_id })
}

pub async fn status(
    state: &Services,
    account: &AccountRow,
    platform_ref: &str,
) -> Result<PublishOutcome, ConnectorError> {
    let app = app(state)?;
    // A journal note may carry the sealed upload URL after the publish_id.
    let publish_id = platform_ref.split(' ').next().unwrap_or(platform_ref);
    let s = with_token(state, &account.id, "tiktok", |cred| async move {
        tiktok::publish_status(&state.http, app, &cred.tokens.access_token, publish_id).await
    })
    .await?;
    outcome(publish_id, &s)
}

/// The one sentence said wherever TikTok comments are asked for.
pub const NO_COMMENTS: &str = "TikTok gives apps no access to comments, so Steward cannot show or answer them: \
     read and reply to them in the TikTok app.";

pub async fn comments(
    _state: &Services,
    _account: &AccountRow,
    _published_external_ids: &[String],
) -> Result<Vec<PlatformComment>, ConnectorError> {
    Err(ConnectorError::Misconfigured(NO_COMMENTS.into()))
}

pub async fn reply(
    _state: &Services,
    _account: &AccountRow,
    _comment_id: &str,
    _text: &str,
) -> Result<PlatformComment, ConnectorError> {
    Err(ConnectorError::Misconfigured(NO_COMMENTS.into()))
}

/// The Display API's counts: each published video's views, likes, comments and shares
/// (`/v2/video/query/`, 20 ids a call) and the follower count (`/v2/user/info/`). A post TikTok
/// has not made public yet (its id is still the `publish_id`) or no longer shows has no row.
/// An account connected before Steward asked for `video.list` and `user.info.stats` must be
/// reconnected first: that is said instead of a call TikTok would refuse.
pub async fn analytics(
    state: &Services,
    account: &AccountRow,
    published_external_ids: &[String],
) -> Result<AccountStats, ConnectorError> {
    let app = app(state)?;
    with_token(state, &account.id, "tiktok", |cred| async move {
        let granted = cred.tokens.scope.as_deref().unwrap_or("");
        let has = |scope: &str| granted.split([',', ' ']).any(|g| g == scope);
        if !tiktok::STATS_SCOPES.iter().all(|s| has(s)) {
            return Err(super::not_offered(
                "TikTok",
                "reading this account's counts",
                "it was connected before Steward asked TikTok for video.list and user.info.stats; \
                 its owner reconnects it once to grant them",
            ));
        }
        let token = cred.tokens.access_token.as_str();
        // Public video ids are int64; a publish_id (`v_pub_…`) is a post not public yet.
        let ids: Vec<&str> = published_external_ids
            .iter()
            .map(String::as_str)
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        let videos =
            if ids.is_empty() { Vec::new() } else { tiktok::query_videos(&state.http, app, token, &ids).await? };
        let followers = tiktok::follower_count(&state.http, app, token).await?;
        Ok(AccountStats {
            followers: followers.map(count),
            posts: videos
                .into_iter()
                .map(|v| PostStats {
                    external_id: v.id,
                    impressions: v.view_count.map(count),
                    likes: v.like_count.map(count),
                    comments: v.comment_count.map(count),
                    shares: v.share_count.map(count),
                })
                .collect(),
        })
    })
    .await
}
