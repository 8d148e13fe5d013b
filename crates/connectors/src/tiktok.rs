//! TikTok: Login Kit OAuth v2, the user's identity, and the Content Posting API (direct post of
//! a video pulled from a URL or uploaded in chunks, then its asynchronous status).
//!
//! Protocol (developers.tiktok.com/doc/…): `oauth-user-access-token-management`,
//! `docs/en/oauth-refresh-a-user-access-token`, `oauth-error-handling`, `login-kit-{web,desktop}`
//! (authorize, `POST /v2/oauth/token/`, errors `{"error","error_description","log_id"}` — some
//! with HTTP 200), `tiktok-api-v2-{error-handling,rate-limit,get-user-info}` (the envelope
//! `{"data":…,"error":{"code","message","log_id"}}`, success iff `error.code == "ok"`),
//! `content-posting-api-{get-started,reference-direct-post,media-transfer-guide,reference-get-video-status}`,
//! and the Display API: `tiktok-api-v2-video-query`, `tiktok-api-v2-video-list`,
//! `tiktok-api-v2-video-object` (counts per video, scope `video.list`) and
//! `tiktok-api-v2-get-user-info` (`follower_count`, scope `user.info.stats`).
//! `/v2/auth/authorize/` goes to the auth origin (`www.tiktok.com`); everything else, the token
//! endpoint included, to the API origin (`open.tiktokapis.com`). The upload URL TikTok hands
//! out (`open-upload.tiktokapis.com`) is used exactly as given and never receives the bearer
//! token.
//!
//! PKCE: web apps send no challenge; desktop apps are reported (third-party observation) to
//! expect the SHA-256 challenge hex-encoded. Steward sends the standard RFC 7636 S256
//! challenge (base64url) — the documented method name is `S256`, and the verifier is bound to
//! the code either way — and the token call repeats the verifier.
//!
//! No idempotency: every init is a new post. Callers persist the `publish_id` before uploading
//! and reconcile through [`publish_status`]; never re-init blindly after an ambiguous timeout.
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::http::{retry_after, transport_error, url};
use crate::oauth::{self, Answer, TokenEndpoint};
use crate::{ConnectorError, Identity, OauthApp, TokenSet};

pub const DEFAULT_AUTH_BASE: &str = "https://www.tiktok.com";
pub const DEFAULT_API_BASE: &str = "https://open.tiktokapis.com";
/// Identity, direct posting and uploads, and the Display API's counts (`user.info.stats`: the
/// follower count; `video.list`: each video's views, likes, comments and shares); TikTok wants
/// them comma-separated.
pub const SCOPES: &str = "user.info.basic,user.info.stats,video.list,video.publish,video.upload";
/// The scopes the Display API's counts need; a grant made before Steward asked for them lacks them.
pub const STATS_SCOPES: [&str; 2] = ["user.info.stats", "video.list"];

const JSON_UTF8: &str = "application/json; charset=UTF-8";

/// The page the owner is sent to, to let Steward act for them. `code_challenge` is
/// `pkce::challenge_s256(verifier)` (see the module documentation for the choice of encoding).
pub fn authorize_url(
    app: &OauthApp,
    redirect_uri: &str,
    state: &str,
    code_challenge: &str,
    scopes: &str,
) -> Result<String, ConnectorError> {
    let params = [
        ("client_key", app.client_id.as_str()),
        ("scope", scopes),
        ("response_type", "code"),
        ("redirect_uri", redirect_uri),
        ("state", state),
        ("code_challenge", code_challenge),
        ("code_challenge_method", "S256"),
    ];
    oauth::authorize_url(
        &url(&app.auth_base, "/v2/auth/authorize/"),
        &params,
        "STEWARD_TIKTOK_AUTH_BASE is not a URL origin",
    )
}

/// Classifies an OAuth error body (`{"error","error_description","log_id"}`).
fn oauth_error(status: StatusCode, v: &Value, retry: Option<std::time::Duration>) -> Option<ConnectorError> {
    let error = v.get("error")?.as_str()?;
    if error.is_empty() {
        return None;
    }
    let description = v.get("error_description").and_then(Value::as_str).unwrap_or("");
    let log_id = v.get("log_id").and_then(Value::as_str).unwrap_or("");
    let message = format!("{error}: {description} (log_id {log_id})");
    Some(match error {
        _ if status == StatusCode::TOO_MANY_REQUESTS => ConnectorError::RateLimited { retry_after: retry },
        _ if status.is_server_error() => ConnectorError::Transient(message),
        "invalid_client"
        | "unauthorized_client"
        | "invalid_scope"
        | "unsupported_grant_type"
        | "unsupported_response_type" => {
            ConnectorError::Misconfigured(format!("TikTok refused the app's registration ({message})"))
        }
        "server_error" | "temporarily_unavailable" => ConnectorError::Transient(message),
        // invalid_grant (spent, rotated or expired code/refresh token), access_denied,
        // invalid_request: the owner must connect again.
        _ => ConnectorError::Rejected(message),
    })
}

const TOKEN_ENDPOINT: TokenEndpoint =
    TokenEndpoint { path: "/v2/oauth/token/", who: "TikTok", expiring: true, error: token_error };

/// Classifies an answer of `POST /v2/oauth/token/`. Errors may come with HTTP 200: the body
/// decides, not the status.
fn token_error(a: &Answer<'_>) -> Option<ConnectorError> {
    let retry = retry_after(a.headers);
    if let Ok(v) = serde_json::from_str::<Value>(a.body?)
        && let Some(err) = oauth_error(a.status, &v, retry).or_else(|| envelope_error(a.status, &v, retry))
    {
        return Some(err);
    }
    (!a.status.is_success()).then(|| status_error(a.status, retry))
}

/// Exchanges the authorization code from the callback for tokens.
pub async fn exchange_code(
    client: &reqwest::Client,
    app: &OauthApp,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
    now_secs: i64,
) -> Result<TokenSet, ConnectorError> {
    let form = [
        ("client_key", app.client_id.as_str()),
        ("client_secret", app.client_secret.as_str()),
        ("code", code),
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect_uri),
        ("code_verifier", code_verifier),
    ];
    oauth::token_call(client, &app.api_base, &TOKEN_ENDPOINT, &form, now_secs).await
}

/// Trades the refresh token for a new token set.
///
/// **TikTok rotates refresh tokens on every use and the previous one stops working at once.**
/// The returned [`TokenSet`] carries the new refresh token: the caller must persist it
/// (atomically replacing the old one) *before* using the new access token, or a crash in
/// between loses the account's only working refresh token. Both lifetimes come from this
/// answer (`expires_in`, `refresh_expires_in`). A spent or expired refresh token comes back,
/// often with HTTP 200, as `invalid_grant` → [`ConnectorError::Rejected`]: reconnect.
pub async fn refresh(
    client: &reqwest::Client,
    app: &OauthApp,
    tokens: &TokenSet,
    now_secs: i64,
) -> Result<TokenSet, ConnectorError> {
    let refresh_token = oauth::refresh_token(tokens, &TOKEN_ENDPOINT)?;
    let form = [
        ("client_key", app.client_id.as_str()),
        ("client_secret", app.client_secret.as_str()),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    oauth::token_call(client, &app.api_base, &TOKEN_ENDPOINT, &form, now_secs).await
}

/// Classification from the HTTP status alone (no usable envelope).
fn status_error(status: StatusCode, retry: Option<std::time::Duration>) -> ConnectorError {
    let message = format!("TikTok answered {status}");
    match status.as_u16() {
        401 => ConnectorError::Unauthorized(message),
        429 => ConnectorError::RateLimited { retry_after: retry },
        500..=599 => ConnectorError::Transient(message),
        200..=299 => ConnectorError::Protocol(format!("{message} without the documented envelope")),
        _ => ConnectorError::Rejected(message),
    }
}

/// The error of an envelope whose `error.code` is not `"ok"` (whatever the HTTP status).
fn envelope_error(status: StatusCode, v: &Value, retry: Option<std::time::Duration>) -> Option<ConnectorError> {
    let err = v.get("error")?;
    let code = err.get("code")?.as_str()?;
    if code == "ok" {
        return None;
    }
    let message = err.get("message").and_then(Value::as_str).unwrap_or("");
    let log_id = err.get("log_id").and_then(Value::as_str).unwrap_or("");
    let text = format!("{code}: {message} (log_id {log_id})");
    Some(match code {
        "access_token_invalid" => ConnectorError::Unauthorized(text),
        "rate_limit_exceeded" => ConnectorError::RateLimited { retry_after: retry },
        "internal_error" => ConnectorError::Transient(text),
        // The operator must verify the domain or URL prefix in the developer portal.
        "url_ownership_unverified" => ConnectorError::Misconfigured(text),
        _ if status.is_server_error() => ConnectorError::Transient(text),
        _ if status == StatusCode::TOO_MANY_REQUESTS => ConnectorError::RateLimited { retry_after: retry },
        // scope_not_authorized / scope_permission_missed (reconnect granting the scope),
        // spam_risk_*, reached_active_user_cap, privacy_level_option_mismatch,
        // unaudited_client_can_only_post_to_private_accounts, invalid_param(s),
        // invalid_publish_id, … and anything unknown: refused for good.
        _ => ConnectorError::Rejected(text),
    })
}

/// Sends an API request and opens the envelope: `data` on `error.code == "ok"`, the classified
/// error otherwise — HTTP-200 errors included.
async fn api_call<T: DeserializeOwned>(req: reqwest::RequestBuilder, what: &str) -> Result<T, ConnectorError> {
    let resp = req.send().await.map_err(|e| transport_error(&e))?;
    let status = resp.status();
    let retry = retry_after(resp.headers());
    let body = resp.text().await.map_err(|e| transport_error(&e))?;
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return Err(status_error(status, retry));
    };
    if let Some(err) = envelope_error(status, &v, retry) {
        return Err(err);
    }
    let ok = v.get("error").and_then(|e| e.get("code")).and_then(Value::as_str) == Some("ok");
    if !ok || !status.is_success() {
        return Err(status_error(status, retry));
    }
    serde_json::from_value(v.get("data").cloned().unwrap_or(Value::Null))
        .map_err(|_| ConnectorError::Protocol(format!("TikTok's {what} answer is not the documented JSON")))
}

fn post_json(client: &reqwest::Client, app: &OauthApp, path: &str, access_token: &str) -> reqwest::RequestBuilder {
    client.post(url(&app.api_base, path)).bearer_auth(access_token).header(CONTENT_TYPE, JSON_UTF8)
}

fn json_body(v: &Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

#[derive(Deserialize)]
struct UserData {
    user: UserFields,
}

#[derive(Deserialize)]
struct UserFields {
    open_id: String,
    display_name: Option<String>,
}

/// The connected user (`GET /v2/user/info/`, scope `user.info.basic`). The id is the app-scoped
/// `open_id`; `user.info.basic` carries no username, so the handle is the display name.
pub async fn user_info(
    client: &reqwest::Client,
    app: &OauthApp,
    access_token: &str,
) -> Result<Identity, ConnectorError> {
    let req = client
        .get(url(&app.api_base, "/v2/user/info/"))
        .query(&[("fields", "open_id,union_id,avatar_url,display_name")])
        .bearer_auth(access_token);
    let data: UserData = api_call(req, "user info").await?;
    let name = data.user.display_name.filter(|n| !n.is_empty()).unwrap_or_else(|| "TikTok user".into());
    Ok(Identity { id: data.user.open_id, handle: name.clone(), display_name: name })
}

#[derive(Deserialize)]
struct StatsData {
    user: StatsFields,
}

#[derive(Deserialize)]
struct StatsFields {
    follower_count: Option<u64>,
}

/// The creator's follower count (`GET /v2/user/info/?fields=follower_count`, scope
/// `user.info.stats`); `None` when TikTok leaves it out.
pub async fn follower_count(
    client: &reqwest::Client,
    app: &OauthApp,
    access_token: &str,
) -> Result<Option<u64>, ConnectorError> {
    let req = client
        .get(url(&app.api_base, "/v2/user/info/"))
        .query(&[("fields", "follower_count")])
        .bearer_auth(access_token);
    let data: StatsData = api_call(req, "user info").await?;
    Ok(data.user.follower_count)
}

/// The Display API's fields Steward reads of a video.
const VIDEO_FIELDS: &str = "id,create_time,view_count,like_count,comment_count,share_count";
/// At most this many ids per `/v2/video/query/` call, and videos per `/v2/video/list/` page.
pub const VIDEOS_PER_CALL: usize = 20;

/// One of the creator's videos with its public counts (`tiktok-api-v2-video-object`; a count
/// TikTok leaves out is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Video {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    pub create_time: Option<i64>,
    pub view_count: Option<u64>,
    pub like_count: Option<u64>,
    pub comment_count: Option<u64>,
    pub share_count: Option<u64>,
}

/// Video ids are int64: taken as given, whether TikTok sends them as a string or a number.
fn id_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("not a video id: {other}"))),
    }
}

#[derive(Deserialize)]
struct VideosData {
    #[serde(default)]
    videos: Vec<Video>,
    cursor: Option<i64>,
    #[serde(default)]
    has_more: bool,
}

/// The counts of these videos of the creator (`POST /v2/video/query/?fields=…` with
/// `{"filters":{"video_ids":[…]}}`, scope `video.list`, at most [`VIDEOS_PER_CALL`] ids a call;
/// more are asked in several calls). Ids TikTok does not return (deleted, not the creator's,
/// not public yet) are simply missing from the answer.
pub async fn query_videos(
    client: &reqwest::Client,
    app: &OauthApp,
    access_token: &str,
    video_ids: &[&str],
) -> Result<Vec<Video>, ConnectorError> {
    let mut all = Vec::with_capacity(video_ids.len());
    for ids in video_ids.chunks(VIDEOS_PER_CALL) {
        let body = json!({"filters": {"video_ids": ids}});
        let req = post_json(client, app, &format!("/v2/video/query/?fields={VIDEO_FIELDS}"), access_token)
            .body(json_body(&body));
        let data: VideosData = api_call(req, "video query").await?;
        all.extend(data.videos);
    }
    Ok(all)
}

/// One page of the creator's videos, newest first (`POST /v2/video/list/?fields=…` with
/// `{"max_count":…,"cursor":…}`, scope `video.list`): the videos, and the cursor of the next
/// page when TikTok has more.
pub async fn list_videos(
    client: &reqwest::Client,
    app: &OauthApp,
    access_token: &str,
    cursor: Option<i64>,
) -> Result<(Vec<Video>, Option<i64>), ConnectorError> {
    let mut body = json!({"max_count": VIDEOS_PER_CALL});
    if let Some(c) = cursor {
        body["cursor"] = json!(c);
    }
    let req =
        post_json(client, app, &format!("/v2/video/list/?fields={VIDEO_FIELDS}"), access_token).body(json_body(&body));
    let data: VideosData = api_call(req, "video list").await?;
    Ok((data.videos, if data.has_more { data.cursor } else { None }))
}

/// What the creator may post right now; must be queried before every direct post.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CreatorInfo {
    #[serde(default)]
    pub creator_avatar_url: String,
    #[serde(default)]
    pub creator_username: String,
    #[serde(default)]
    pub creator_nickname: String,
    /// Values of [`PrivacyLevel`] as TikTok spells them; a post must use one of them.
    pub privacy_level_options: Vec<String>,
    #[serde(default)]
    pub comment_disabled: bool,
    #[serde(default)]
    pub duet_disabled: bool,
    #[serde(default)]
    pub stitch_disabled: bool,
    pub max_video_post_duration_sec: u64,
}

/// `POST /v2/post/publish/creator_info/query/` (scope `video.publish`, 20/min/token). Posting
/// caps (`spam_risk_too_many_posts`, `reached_active_user_cap`, …) come back here with HTTP 200
/// and become [`ConnectorError::Rejected`].
pub async fn creator_info(
    client: &reqwest::Client,
    app: &OauthApp,
    access_token: &str,
) -> Result<CreatorInfo, ConnectorError> {
    api_call(post_json(client, app, "/v2/post/publish/creator_info/query/", access_token), "creator info").await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PrivacyLevel {
    PublicToEveryone,
    MutualFollowFriends,
    FollowerOfCreator,
    SelfOnly,
}

impl PrivacyLevel {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PrivacyLevel::PublicToEveryone => "PUBLIC_TO_EVERYONE",
            PrivacyLevel::MutualFollowFriends => "MUTUAL_FOLLOW_FRIENDS",
            PrivacyLevel::FollowerOfCreator => "FOLLOWER_OF_CREATOR",
            PrivacyLevel::SelfOnly => "SELF_ONLY",
        }
    }
}

/// `post_info` of a direct post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostInfo {
    /// At most 2,200 UTF-16 code units.
    pub title: String,
    pub privacy_level: PrivacyLevel,
    pub disable_duet: bool,
    pub disable_comment: bool,
    pub disable_stitch: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_cover_timestamp_ms: Option<u64>,
    pub brand_content_toggle: bool,
    pub brand_organic_toggle: bool,
    pub is_aigc: bool,
}

impl PostInfo {
    #[must_use]
    pub fn new(title: impl Into<String>, privacy_level: PrivacyLevel) -> Self {
        Self {
            title: title.into(),
            privacy_level,
            disable_duet: false,
            disable_comment: false,
            disable_stitch: false,
            video_cover_timestamp_ms: None,
            brand_content_toggle: false,
            brand_organic_toggle: false,
            is_aigc: false,
        }
    }

    fn check(&self) -> Result<(), ConnectorError> {
        if self.title.encode_utf16().count() > 2200 {
            return Err(ConnectorError::Rejected("the title is longer than TikTok's 2,200 UTF-16 units".into()));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct InitData {
    publish_id: String,
    upload_url: Option<String>,
}

const INIT_PATH: &str = "/v2/post/publish/video/init/";

/// Direct post of a video TikTok downloads itself (`PULL_FROM_URL`; the URL must be https on a
/// domain or prefix verified for the app). Returns the `publish_id` (persist it first).
pub async fn init_video_pull(
    client: &reqwest::Client,
    app: &OauthApp,
    access_token: &str,
    video_url: &str,
    post_info: &PostInfo,
) -> Result<String, ConnectorError> {
    post_info.check()?;
    let body = json!({"post_info": post_info, "source_info": {"source": "PULL_FROM_URL", "video_url": video_url}});
    let data: InitData =
        api_call(post_json(client, app, INIT_PATH, access_token).body(json_body(&body)), "video init").await?;
    Ok(data.publish_id)
}

/// The smallest chunk TikTok accepts. The pages say "5 MB"; reading it as MiB is the stricter
/// of the two readings.
pub const MIN_CHUNK: u64 = 5 * 1024 * 1024;
/// The largest regular chunk ("64 MB", read as the stricter 64,000,000 bytes).
pub const MAX_CHUNK: u64 = 64_000_000;
/// The largest final chunk, which absorbs the remainder ("128 MB", stricter reading).
pub const MAX_LAST_CHUNK: u64 = 128_000_000;
pub const MAX_CHUNKS: u64 = 1000;

/// How a file is cut for `FILE_UPLOAD`, exactly as the media transfer guide states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPlan {
    pub video_size: u64,
    pub chunk_size: u64,
    pub total_chunk_count: u64,
}

impl ChunkPlan {
    /// Files under [`MIN_CHUNK`] go in one piece (`chunk_size = video_size`); otherwise the
    /// preferred chunk size is clamped to [`MIN_CHUNK`]..=[`MAX_CHUNK`] (and to the file size),
    /// `total_chunk_count = floor(video_size / chunk_size)`, and the last chunk absorbs the
    /// remainder. 50,000,123 B at 10,000,000 → 5 chunks, the last 10,000,123 B.
    pub fn new(video_size: u64, preferred_chunk_size: u64) -> Result<Self, ConnectorError> {
        if video_size == 0 {
            return Err(ConnectorError::Rejected("an empty file cannot be uploaded".into()));
        }
        let chunk_size = if video_size < MIN_CHUNK {
            video_size
        } else {
            preferred_chunk_size.clamp(MIN_CHUNK, MAX_CHUNK).min(video_size)
        };
        let total_chunk_count = video_size / chunk_size;
        let plan = Self { video_size, chunk_size, total_chunk_count };
        if total_chunk_count > MAX_CHUNKS || plan.last_chunk_size() > MAX_LAST_CHUNK {
            return Err(ConnectorError::Rejected(format!(
                "a {video_size}-byte file cannot be cut within TikTok's chunk rules"
            )));
        }
        Ok(plan)
    }

    #[must_use]
    pub fn last_chunk_size(&self) -> u64 {
        self.video_size - self.chunk_size * (self.total_chunk_count - 1)
    }

    /// Inclusive byte ranges `(first, last)` of every chunk, in order.
    #[must_use]
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        (0..self.total_chunk_count)
            .map(|i| {
                let first = i * self.chunk_size;
                let last =
                    if i + 1 == self.total_chunk_count { self.video_size - 1 } else { first + self.chunk_size - 1 };
                (first, last)
            })
            .collect()
    }
}

/// A direct post waiting for its file. The upload URL embeds an upload token and is valid for
/// one hour; it is never printed.
#[derive(Clone)]
pub struct UploadSession {
    pub publish_id: String,
    pub upload_url: String,
    pub plan: ChunkPlan,
}

impl std::fmt::Debug for UploadSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadSession")
            .field("publish_id", &self.publish_id)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

/// Direct post of a video Steward uploads (`FILE_UPLOAD`), cut per [`ChunkPlan::new`].
/// Returns the `publish_id` (persist it first) and the upload URL for [`upload_chunks`].
pub async fn init_video_upload(
    client: &reqwest::Client,
    app: &OauthApp,
    access_token: &str,
    video_size: u64,
    preferred_chunk_size: u64,
    post_info: &PostInfo,
) -> Result<UploadSession, ConnectorError> {
    post_info.check()?;
    let plan = ChunkPlan::new(video_size, preferred_chunk_size)?;
    let body = json!({
        "post_info": post_info,
        "source_info": {
            "source": "FILE_UPLOAD",
            "video_size": plan.video_size,
            "chunk_size": plan.chunk_size,
            "total_chunk_count": plan.total_chunk_count,
        }
    });
    let data: InitData =
        api_call(post_json(client, app, INIT_PATH, access_token).body(json_body(&body)), "video init").await?;
    let upload_url = data
        .upload_url
        .ok_or_else(|| ConnectorError::Protocol("TikTok's FILE_UPLOAD init answer has no upload_url".into()))?;
    Ok(UploadSession { publish_id: data.publish_id, upload_url, plan })
}

/// Attempts per chunk when TikTok answers 5xx or does not answer.
pub const CHUNK_ATTEMPTS: u32 = 3;
/// Resynchronisations (416) tolerated during one upload.
const MAX_RESYNCS: u32 = 3;

/// The byte count the upload server says it holds, from `Content-Range: bytes 0-{n}/{total}`
/// (or `bytes */{total}` for nothing), read as whichever of `n` and `n + 1` falls on one of
/// `boundaries` (the pages do not say whether `n` is the last index or the count).
fn server_progress(headers: &reqwest::header::HeaderMap, boundaries: &[u64]) -> Option<u64> {
    let v = headers.get(CONTENT_RANGE)?.to_str().ok()?.trim();
    let range = v.strip_prefix("bytes ")?.split('/').next()?.trim();
    if range == "*" {
        return Some(0);
    }
    let n: u64 = range.split('-').nth(1)?.trim().parse().ok()?;
    [n + 1, n].into_iter().find(|c| boundaries.contains(c))
}

/// Uploads `bytes` to the session's URL: sequential `PUT`s with
/// `Content-Range: bytes {first}-{last}/{total}`, expecting 206 until the final 201. A chunk
/// answered 5xx (or not answered) is sent again, up to [`CHUNK_ATTEMPTS`] times; a 416 (the
/// server's progress disagrees, e.g. a chunk was stored but its answer lost) resumes from the
/// server's progress when it falls on a chunk boundary, and fails clearly otherwise. Calling
/// this again after a [`ConnectorError::Transient`] resumes where the server stands. 403
/// (URL expired after 1 h) and 404 (no such upload) are [`ConnectorError::Rejected`]: init a
/// new post. The bearer token is not sent to the upload URL.
pub async fn upload_chunks(
    client: &reqwest::Client,
    session: &UploadSession,
    content_type: &str,
    bytes: &[u8],
) -> Result<(), ConnectorError> {
    upload_chunks_from(client, session, content_type, bytes, 0).await
}

/// [`upload_chunks`] resuming at `from_byte`, the byte count TikTok says it holds (the status'
/// `uploaded_bytes`): the chunks before it are not sent again. A count that is not a chunk
/// boundary starts from the first chunk (TikTok's 416 then tells where it stands).
pub async fn upload_chunks_from(
    client: &reqwest::Client,
    session: &UploadSession,
    content_type: &str,
    bytes: &[u8],
    from_byte: u64,
) -> Result<(), ConnectorError> {
    let plan = session.plan;
    if bytes.len() as u64 != plan.video_size {
        return Err(ConnectorError::Rejected(format!(
            "the file has {} bytes but the post was initialised for {}",
            bytes.len(),
            plan.video_size
        )));
    }
    let ranges = plan.ranges();
    let mut boundaries: Vec<u64> = ranges.iter().map(|(first, _)| *first).collect();
    boundaries.push(plan.video_size);
    let total = plan.video_size;
    let mut i = ranges.iter().position(|(first, _)| *first == from_byte).unwrap_or(0);
    let mut resyncs = 0;
    while i < ranges.len() {
        let (first, last) = ranges[i];
        let mut attempt = 0;
        let resp = loop {
            attempt += 1;
            let chunk = bytes[first as usize..=last as usize].to_vec();
            let sent = client
                .put(&session.upload_url)
                .header(CONTENT_TYPE, content_type)
                .header(CONTENT_RANGE, format!("bytes {first}-{last}/{total}"))
                .body(chunk)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_server_error() && attempt < CHUNK_ATTEMPTS => {}
                Ok(r) => break r,
                Err(e) if e.is_builder() => {
                    return Err(ConnectorError::Protocol("TikTok's upload_url is not a usable URL".into()));
                }
                Err(_) if attempt < CHUNK_ATTEMPTS => {}
                Err(e) => return Err(transport_error(&e)),
            }
        };
        let status = resp.status();
        match status.as_u16() {
            206 if i + 1 < ranges.len() => i += 1,
            206 => {
                return Err(ConnectorError::Protocol("TikTok still expects bytes after the final chunk".into()));
            }
            201 if i + 1 == ranges.len() => return Ok(()),
            201 => {
                return Err(ConnectorError::Protocol(format!(
                    "TikTok declared the upload complete after chunk {} of {}",
                    i + 1,
                    ranges.len()
                )));
            }
            416 => {
                resyncs += 1;
                let progress = server_progress(resp.headers(), &boundaries);
                match progress {
                    Some(p) if resyncs <= MAX_RESYNCS && p == total => return Ok(()),
                    Some(p) if resyncs <= MAX_RESYNCS => {
                        i = boundaries.iter().position(|b| *b == p).unwrap_or(0);
                    }
                    _ => {
                        return Err(ConnectorError::Protocol(format!(
                            "TikTok's upload progress ({}) does not match this upload's chunks; init a new post",
                            resp.headers().get(CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("none")
                        )));
                    }
                }
            }
            403 => {
                return Err(ConnectorError::Rejected(
                    "the upload URL has expired (valid one hour); init a new post".into(),
                ));
            }
            404 => return Err(ConnectorError::Rejected("TikTok has no upload task for this upload URL".into())),
            429 => return Err(ConnectorError::RateLimited { retry_after: retry_after(resp.headers()) }),
            500..=599 => {
                return Err(ConnectorError::Transient(format!(
                    "TikTok answered {status} {CHUNK_ATTEMPTS} times for bytes {first}-{last}"
                )));
            }
            400 => {
                let body = resp.text().await.unwrap_or_default();
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                return Err(envelope_error(status, &v, None).unwrap_or_else(|| {
                    ConnectorError::Rejected(format!("TikTok refused the chunk headers for bytes {first}-{last}"))
                }));
            }
            _ => return Err(ConnectorError::Protocol(format!("TikTok answered {status} to a chunk"))),
        }
    }
    Err(ConnectorError::Protocol("the upload ended without TikTok's 201".into()))
}

/// Where a post stands (`status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishState {
    ProcessingUpload,
    ProcessingDownload,
    SendToUserInbox,
    PublishComplete,
    Failed,
    /// A status this connector does not know yet, as TikTok spelled it.
    Other(String),
}

/// Whether a post that `FAILED` may be attempted again (with a new init).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// TikTok's own failure (`internal`).
    Retryable,
    /// `video_pull_failed` / `photo_pull_failed`: retry once the source URL is reachable.
    IfSourceReachable,
    /// The content, the account or the owner's choice stops it; unknown reasons too (there is
    /// no idempotency, so a blind retry could post twice).
    Never,
}

/// The retry class of a `fail_reason`.
#[must_use]
pub fn classify_fail_reason(reason: &str) -> Retry {
    match reason {
        "internal" => Retry::Retryable,
        "video_pull_failed" | "photo_pull_failed" => Retry::IfSourceReachable,
        // file_format_check_failed, duration_check_failed, frame_rate_check_failed,
        // picture_size_check_failed, publish_cancelled, auth_removed, spam_risk_*, …
        _ => Retry::Never,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostStatus {
    pub state: PublishState,
    /// With [`PublishState::Failed`]: TikTok's reason and whether to try again.
    pub fail_reason: Option<(String, Retry)>,
    /// `publicaly_available_post_id` (TikTok's spelling): ids appear after moderation.
    pub post_ids: Vec<i64>,
    pub uploaded_bytes: Option<u64>,
    pub downloaded_bytes: Option<u64>,
}

#[derive(Deserialize)]
struct StatusData {
    status: String,
    fail_reason: Option<String>,
    #[serde(default)]
    publicaly_available_post_id: Vec<Value>,
    uploaded_bytes: Option<u64>,
    downloaded_bytes: Option<u64>,
}

/// An int64 id given as a JSON integer or a string, parsed without going through a float.
fn post_id(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `POST /v2/post/publish/status/fetch/` (30/min/token).
pub async fn publish_status(
    client: &reqwest::Client,
    app: &OauthApp,
    access_token: &str,
    publish_id: &str,
) -> Result<PostStatus, ConnectorError> {
    let body = json!({"publish_id": publish_id});
    let req = post_json(client, app, "/v2/post/publish/status/fetch/", access_token).body(json_body(&body));
    let data: StatusData = api_call(req, "post status").await?;
    let post_ids = data
        .publicaly_available_post_id
        .iter()
        .map(|v| post_id(v).ok_or_else(|| ConnectorError::Protocol(format!("TikTok's post id {v} is not an int64"))))
        .collect::<Result<Vec<_>, _>>()?;
    let state = match data.status.as_str() {
        "PROCESSING_UPLOAD" => PublishState::ProcessingUpload,
        "PROCESSING_DOWNLOAD" => PublishState::ProcessingDownload,
        "SEND_TO_USER_INBOX" => PublishState::SendToUserInbox,
        "PUBLISH_COMPLETE" => PublishState::PublishComplete,
        "FAILED" => PublishState::Failed,
        other => PublishState::Other(other.to_string()),
    };
    let fail_reason = match (&state, data.fail_reason) {
        (PublishState::Failed, Some(r)) if !r.is_empty() => {
            let retry = classify_fail_reason(&r);
            Some((r, retry))
        }
        (PublishState::Failed, _) => Some((String::new(), Retry::Never)),
        _ => None,
    };
    Ok(PostStatus {
        state,
        fail_reason,
        post_ids,
        uploaded_bytes: data.uploaded_bytes,
        downloaded_bytes: data.downloaded_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_cuts_into_five_chunks() {
        let plan = ChunkPlan::new(50_000_123, 10_000_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((plan.chunk_size, plan.total_chunk_count), (10_000_000, 5));
        assert_eq!(plan.last_chunk_size(), 10_000_123);
        let ranges = plan.ranges();
        assert_eq!(ranges.first(), Some(&(0, 9_999_999)));
        assert_eq!(ranges.last(), Some(&(40_000_000, 50_000_122)));
        assert!(ranges.windows(2).all(|w| w[0].1 + 1 == w[1].0), "contiguous");
    }

    #[test]
    fn small_files_go_in_one_piece_and_chunk_sizes_are_clamped() {
        let small = ChunkPlan::new(4_000_000, 10_000_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((small.chunk_size, small.total_chunk_count), (4_000_000, 1));
        assert_eq!(small.ranges(), vec![(0, 3_999_999)]);
        let tiny_pref = ChunkPlan::new(20_000_000, 1_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(tiny_pref.chunk_size, MIN_CHUNK);
        assert_eq!(tiny_pref.total_chunk_count, 20_000_000 / MIN_CHUNK);
        let huge_pref = ChunkPlan::new(1_000_000_000, 500_000_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(huge_pref.chunk_size, MAX_CHUNK);
        assert_eq!(huge_pref.total_chunk_count, 15);
        assert!(huge_pref.last_chunk_size() <= MAX_LAST_CHUNK);
        // Between 5 MB and the preferred size: one piece.
        let mid = ChunkPlan::new(6_000_000, 10_000_000).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((mid.chunk_size, mid.total_chunk_count), (6_000_000, 1));
        assert!(ChunkPlan::new(0, 1).is_err());
    }

    #[test]
    fn fail_reasons_are_classified() {
        assert_eq!(classify_fail_reason("internal"), Retry::Retryable);
        assert_eq!(classify_fail_reason("video_pull_failed"), Retry::IfSourceReachable);
        for never in ["spam_risk_too_many_posts", "file_format_check_failed", "publish_cancelled", "auth_removed", "?"]
        {
            assert_eq!(classify_fail_reason(never), Retry::Never, "{never}");
        }
    }

    #[test]
    fn post_ids_keep_every_digit() {
        let v: Value = serde_json::from_str(r#"[7321234567890123457, "7321234567890123459", 1.5]"#)
            .unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<Option<i64>> = v.as_array().map(|a| a.iter().map(post_id).collect()).unwrap_or_default();
        assert_eq!(ids, vec![Some(7_321_234_567_890_123_457), Some(7_321_234_567_890_123_459), None]);
    }

    #[test]
    fn http_200_envelope_errors_are_errors() {
        let v = json!({"data": {}, "error": {"code": "spam_risk_too_many_posts", "message": "m", "log_id": "L"}});
        let err = envelope_error(StatusCode::OK, &v, None);
        assert!(matches!(&err, Some(ConnectorError::Rejected(m)) if m.starts_with("spam_risk_too_many_posts")));
        let ok = json!({"data": {}, "error": {"code": "ok", "message": "", "log_id": "L"}});
        assert!(envelope_error(StatusCode::OK, &ok, None).is_none());
        let oauth = json!({"error": "invalid_grant", "error_description": "gone", "log_id": "L"});
        assert!(matches!(oauth_error(StatusCode::OK, &oauth, None), Some(ConnectorError::Rejected(_))));
        assert!(oauth_error(StatusCode::OK, &v, None).is_none(), "an envelope is not an OAuth error");
    }
}
