//! A double of TikTok's Login Kit OAuth v2, user info and Content Posting API (direct post).
//!
//! Built from developers.tiktok.com/doc/: `oauth-user-access-token-management` and
//! `docs/en/oauth-refresh-a-user-access-token` (`POST /v2/oauth/token/`, `expires_in`,
//! `refresh_expires_in`; older pages 24 h / 365 d, pages dated Nov 2026 2 h / 180 d with the
//! refresh token rotated on every use and the previous one dead), `oauth-error-handling`
//! (`{"error","error_description","log_id"}`, `invalid_grant` on refresh answered with HTTP 200 as
//! third parties observe), `login-kit-web` / `login-kit-desktop` (`/v2/auth/authorize/`,
//! comma-separated scopes, PKCE S256), `tiktok-api-v2-error-handling` (the envelope
//! `{"data","error":{"code","message","log_id"}}`, `access_token_invalid` 401,
//! `scope_not_authorized` 401, `rate_limit_exceeded` 429, `internal_error` 500),
//! `tiktok-api-v2-rate-limit` (per-token sliding minute), `tiktok-api-v2-get-user-info`
//! (`/v2/user/info/`), `content-posting-api-get-started`, `content-posting-api-reference-direct-post`
//! (`creator_info/query/` 20/min, `video/init/` 6/min, `privacy_level` within the creator's
//! options, unaudited apps limited to `SELF_ONLY`, `url_ownership_unverified`),
//! `content-posting-api-media-transfer-guide` (`PUT upload_url` with `Content-Range`, 206 / 201 /
//! 400 / 403 expired after 1 h / 404 / 416 with the server's progress in `Content-Range`, chunk
//! rules) and `content-posting-api-reference-get-video-status` (`status/fetch/` 30/min, status
//! enum, `fail_reason`, `publicaly_available_post_id` as int64), and the Display API:
//! `tiktok-api-v2-video-query` (`POST /v2/video/query/?fields=…` with
//! `{"filters":{"video_ids":[…]}}`, at most 20 ids), `tiktok-api-v2-video-list`
//! (`POST /v2/video/list/?fields=…` with `{"max_count","cursor"}` → `videos`, `cursor`,
//! `has_more`), `tiktok-api-v2-video-object` (`view_count`, `like_count`, `comment_count`,
//! `share_count`), both under scope `video.list`; `follower_count` in user info needs
//! `user.info.stats`.
//!
//! Both the auth and the API paths are served on one origin; the upload URL is `{base}/upload/`.
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use crate::core::{DoubleCore, Platform, json_error};
use crate::{bearer, random_token, urlencode, verifier_matches};

const CODE_TTL_SECS: i64 = 10 * 60;
/// The smallest and largest chunks, read the same way as the connector (stricter readings).
const MIN_CHUNK: u64 = 5 * 1024 * 1024;
const MAX_CHUNK: u64 = 64_000_000;
const MAX_LAST_CHUNK: u64 = 128_000_000;

/// The TikTok user who approves the authorization.
#[derive(Debug, Clone)]
pub struct Creator {
    pub open_id: String,
    pub union_id: String,
    pub display_name: String,
    pub username: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub client_key: String,
    pub client_secret: String,
    /// `expires_in` of access tokens (older docs 86,400; Nov 2026 docs 7,200).
    pub access_ttl: i64,
    /// `refresh_expires_in` (older docs 31,536,000; Nov 2026 docs 15,552,000).
    pub refresh_ttl: i64,
    /// Nov 2026 behaviour: every refresh issues a new refresh token and kills the old one.
    /// When false, the same refresh token is returned again (older pages).
    pub rotate_refresh: bool,
    /// HTTP status of `invalid_grant` on the refresh grant (observed: 200).
    pub refresh_error_status: u16,
    /// How long a refresh takes to answer (a slow platform: lets tests overlap two refreshes).
    pub refresh_delay: std::time::Duration,
    /// The creator's `privacy_level_options`.
    pub privacy_level_options: Vec<String>,
    /// An unaudited app may only post `SELF_ONLY`.
    pub unaudited: bool,
    pub max_video_post_duration_sec: u64,
    /// `PULL_FROM_URL` sources must start with this verified prefix.
    pub verified_url_prefix: String,
    /// Status polls answered `PROCESSING_*` once the media is in, before the outcome.
    pub processing_polls: u32,
    /// Further polls before a public post's id appears (moderation delay).
    pub moderation_polls: u32,
    /// Per token, per sliding minute.
    pub init_per_minute: usize,
    pub creator_info_per_minute: usize,
    pub status_per_minute: usize,
    /// Validity of an upload URL (1 h).
    pub upload_url_ttl: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            client_key: "steward-tiktok-key".into(),
            client_secret: "steward-tiktok-secret".into(),
            access_ttl: 7_200,
            refresh_ttl: 15_552_000,
            rotate_refresh: true,
            refresh_error_status: 200,
            refresh_delay: std::time::Duration::ZERO,
            privacy_level_options: vec![
                "PUBLIC_TO_EVERYONE".into(),
                "MUTUAL_FOLLOW_FRIENDS".into(),
                "FOLLOWER_OF_CREATOR".into(),
                "SELF_ONLY".into(),
            ],
            unaudited: false,
            max_video_post_duration_sec: 600,
            verified_url_prefix: "https://media.example.com/".into(),
            processing_polls: 2,
            moderation_polls: 0,
            init_per_minute: 6,
            creator_info_per_minute: 20,
            status_per_minute: 30,
            upload_url_ttl: 3_600,
        }
    }
}

struct Code {
    redirect_uri: String,
    challenge: Option<String>,
    scope: String,
    issued: i64,
    used: bool,
}

struct Grant {
    scope: String,
    refresh_expires: i64,
    revoked: bool,
}

struct Upload {
    upload_id: String,
    upload_token: String,
    size: u64,
    chunk_size: u64,
    chunks: u64,
    received: u64,
    expires: i64,
}

struct Publish {
    token: String,
    privacy: String,
    pull: bool,
    upload: Option<Upload>,
    polls: u32,
    fail_reason: Option<String>,
    post_id: u64,
    /// Reached `PUBLISH_COMPLETE`: a video of the creator from then on.
    complete: bool,
}

/// The public counts of one video (the Display API's video object).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VideoCounts {
    pub views: u64,
    pub likes: u64,
    pub comments: u64,
    pub shares: u64,
}

#[derive(Default)]
struct Inner {
    codes: HashMap<String, Code>,
    /// access token → (grant, expiry)
    access_tokens: HashMap<String, (usize, i64)>,
    refresh_tokens: HashMap<String, usize>,
    grants: Vec<Grant>,
    creator: Option<Creator>,
    cancel_next: bool,
    publishes: HashMap<String, Publish>,
    next_id: u64,
    fail_next_publish: Option<String>,
    posting_blocked: Option<String>,
    /// Chunks to accept normally before one is stored but answered 500.
    store_then_fail_chunk: Option<usize>,
    /// (chunk index, times): that chunk is answered 500 without being stored, this many times.
    fail_chunk: Option<(u64, u32)>,
    /// Every chunk PUT that was stored, by its index (in the order received).
    stored_chunks: Vec<u64>,
    video_counts: HashMap<String, VideoCounts>,
    follower_count: u64,
    windows: HashMap<(String, String), VecDeque<i64>>,
}

/// A running TikTok double.
#[derive(Clone)]
pub struct TikTokDouble {
    config: Arc<Config>,
    inner: Arc<Mutex<Inner>>,
    core: DoubleCore,
}

crate::core::accessors!(TikTokDouble, Inner, Config);

impl Platform for TikTokDouble {
    const BODY_LIMIT: usize = (MAX_LAST_CHUNK + 1) as usize;
    const SERVER_ERROR_PAGE: &'static str = "<html><body>502 Bad Gateway</body></html>";

    /// TikTok's 429 envelope, without headers.
    fn rate_limited(&self) -> Response {
        envelope(429, json!({}), "rate_limit_exceeded", "API rate limit was exceeded.")
    }

    /// Media bodies are recorded by size only.
    fn recorded_body(path: &str, bytes: &[u8]) -> String {
        if path.starts_with("/upload/") {
            format!("<{} bytes>", bytes.len())
        } else {
            String::from_utf8_lossy(bytes).into_owned()
        }
    }
}

fn log_id() -> String {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("2026112208{:024X}", t % (1u128 << 96))
}

/// The envelope every API answer uses.
fn envelope(status: u16, data: Value, code: &str, message: &str) -> Response {
    json_error(status, json!({"data": data, "error": {"code": code, "message": message, "log_id": log_id()}}))
}

fn ok(data: Value) -> Response {
    envelope(200, data, "ok", "")
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    json_error(status, json!({"error": error, "error_description": description, "log_id": log_id()}))
}

impl TikTokDouble {
    pub async fn start(config: Config) -> std::io::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            creator: Some(Creator {
                open_id: "afd97af1-b87b-48b9-ac98-410aghda5344".into(),
                union_id: "c9c60f44-a68e-4f5d-84dd-ce22faeb0ba1".into(),
                display_name: "Olivia Owner".into(),
                username: "olivia.owner".into(),
            }),
            next_id: 7_321_234_567_890_123_456,
            ..Inner::default()
        }));
        let (core, listener) = DoubleCore::bind(vec![config.client_secret.clone()]).await?;
        let double = Self { config: Arc::new(config), inner, core };
        let router = Router::new()
            .route("/v2/auth/authorize/", get(authorize))
            .route("/v2/oauth/token/", post(token))
            .route("/v2/oauth/revoke/", post(revoke))
            .route("/v2/user/info/", get(user_info))
            .route("/v2/post/publish/creator_info/query/", post(creator_info))
            .route("/v2/post/publish/video/init/", post(video_init))
            .route("/v2/post/publish/status/fetch/", post(status_fetch))
            .route("/v2/video/query/", post(video_query))
            .route("/v2/video/list/", post(video_list))
            .route("/upload/", put(upload).layer(axum::extract::DefaultBodyLimit::max(Self::BODY_LIMIT)));
        crate::core::serve(listener, router, &double);
        Ok(double)
    }

    /// The creator who approves the next authorizations.
    pub fn set_creator(&self, creator: Creator) {
        self.lock().creator = Some(creator);
    }

    /// The next authorization is cancelled by the user.
    pub fn cancel_next_authorization(&self) {
        self.lock().cancel_next = true;
    }

    /// Chunk `index` (from 0) of the next uploads is answered 500 without being stored, `times`
    /// times in a row (TikTok's 5xx: "retry the same chunk").
    pub fn fail_chunk(&self, index: u64, times: u32) {
        self.lock().fail_chunk = Some((index, times));
    }

    /// The index of every chunk stored so far, in the order they arrived.
    #[must_use]
    pub fn stored_chunks(&self) -> Vec<u64> {
        self.lock().stored_chunks.clone()
    }

    /// Sets the counts the Display API reports for a video (its public post id).
    pub fn set_video_counts(&self, video_id: &str, counts: VideoCounts) {
        self.lock().video_counts.insert(video_id.to_string(), counts);
    }

    /// Sets the creator's follower count.
    pub fn set_follower_count(&self, n: u64) {
        self.lock().follower_count = n;
    }

    /// The next post initialised ends `FAILED` with this `fail_reason`.
    pub fn fail_next_publish(&self, fail_reason: &str) {
        self.lock().fail_next_publish = Some(fail_reason.to_string());
    }

    /// `creator_info` answers this posting-cap code with HTTP 200 (and init with 403), e.g.
    /// `spam_risk_too_many_posts`; `None` lifts it.
    pub fn block_posting(&self, code: Option<&str>) {
        self.lock().posting_blocked = code.map(str::to_string);
    }

    /// After `skip` chunks accepted normally, the next one is stored but answered 500
    /// ("committed but lost").
    pub fn store_then_fail_chunk(&self, skip: usize) {
        self.lock().store_then_fail_chunk = Some(skip);
    }

    /// Sets how many bytes the server holds for `publish_id`'s upload (lost or extra progress).
    pub fn set_upload_progress(&self, publish_id: &str, received: u64) {
        if let Some(u) = self.lock().publishes.get_mut(publish_id).and_then(|p| p.upload.as_mut()) {
            u.received = received;
        }
    }

    /// Revokes every token (the user removed the app).
    pub fn revoke_all(&self) {
        for g in &mut self.lock().grants {
            g.revoked = true;
        }
    }
}

async fn authorize(State(d): State<TikTokDouble>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("response_type") != "code"
        || get("client_key") != d.config.client_key
        || !get("redirect_uri").starts_with("http")
        || get("redirect_uri").len() >= 512
    {
        return (StatusCode::BAD_REQUEST, "<html><body>Something went wrong: client_key or redirect_uri</body></html>")
            .into_response();
    }
    let (state, redirect) = (get("state"), get("redirect_uri"));
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let mut inner = d.lock();
    if std::mem::take(&mut inner.cancel_next) {
        return Redirect::to(&format!(
            "{redirect}{sep}error=access_denied&error_description=User+cancelled+the+authorization&state={}",
            urlencode(&state)
        ))
        .into_response();
    }
    if inner.creator.is_none() {
        return (StatusCode::UNAUTHORIZED, "no user signed in").into_response();
    }
    let challenge = q.get("code_challenge").cloned();
    if challenge.is_some() && get("code_challenge_method") != "S256" {
        return Redirect::to(&format!(
            "{redirect}{sep}error=invalid_request&error_description=code_challenge_method&state={}",
            urlencode(&state)
        ))
        .into_response();
    }
    let code = random_token("");
    let scope = get("scope");
    let now = d.now();
    inner.codes.insert(
        code.clone(),
        Code { redirect_uri: redirect.clone(), challenge, scope: scope.clone(), issued: now, used: false },
    );
    Redirect::to(&format!(
        "{redirect}{sep}code={}&scopes={}&state={}",
        urlencode(&code),
        urlencode(&scope),
        urlencode(&state)
    ))
    .into_response()
}

async fn token(State(d): State<TikTokDouble>, axum::Form(form): axum::Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| form.get(k).cloned();
    if get("grant_type").as_deref() == Some("refresh_token") && !d.config.refresh_delay.is_zero() {
        tokio::time::sleep(d.config.refresh_delay).await;
    }
    for required in ["client_key", "client_secret", "grant_type"] {
        if get(required).is_none() {
            return oauth_error(400, "invalid_request", "The request parameters are malformed.");
        }
    }
    if get("client_key").as_deref() != Some(&d.config.client_key)
        || get("client_secret").as_deref() != Some(&d.config.client_secret)
    {
        return oauth_error(401, "invalid_client", "Client key or secret is incorrect.");
    }
    let mut inner = d.lock();
    let now = d.now();
    match get("grant_type").as_deref() {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri)) = (get("code"), get("redirect_uri")) else {
                return oauth_error(400, "invalid_request", "The request parameters are malformed.");
            };
            let Some(c) = inner.codes.get_mut(&code) else {
                return oauth_error(400, "invalid_grant", "Authorization code is expired.");
            };
            let verifier_ok = verifier_matches(c.challenge.as_deref(), get("code_verifier").as_deref());
            if c.used || now - c.issued > CODE_TTL_SECS || c.redirect_uri != redirect_uri || !verifier_ok {
                return oauth_error(400, "invalid_grant", "Authorization code is expired.");
            }
            c.used = true;
            let scope = c.scope.clone();
            inner.grants.push(Grant { scope, refresh_expires: now + d.config.refresh_ttl, revoked: false });
            let idx = inner.grants.len() - 1;
            let refresh = random_token("rft.");
            d.issue(&refresh);
            inner.refresh_tokens.insert(refresh.clone(), idx);
            issue(&d, &mut inner, idx, refresh, now)
        }
        Some("refresh_token") => {
            let presented = get("refresh_token").unwrap_or_default();
            let idx = inner.refresh_tokens.get(&presented).copied();
            let valid = idx.is_some_and(|i| !inner.grants[i].revoked && inner.grants[i].refresh_expires > now);
            let (true, Some(idx)) = (valid, idx) else {
                return oauth_error(
                    d.config.refresh_error_status,
                    "invalid_grant",
                    "Refresh token is invalid or expired.",
                );
            };
            let refresh = if d.config.rotate_refresh {
                // The previous refresh token stops working at once.
                inner.refresh_tokens.remove(&presented);
                let fresh = random_token("rft.");
                d.issue(&fresh);
                inner.refresh_tokens.insert(fresh.clone(), idx);
                inner.grants[idx].refresh_expires = now + d.config.refresh_ttl;
                fresh
            } else {
                presented
            };
            issue(&d, &mut inner, idx, refresh, now)
        }
        _ => oauth_error(400, "unsupported_grant_type", "The grant type is not supported."),
    }
}

fn issue(d: &TikTokDouble, inner: &mut Inner, idx: usize, refresh: String, now: i64) -> Response {
    let access = random_token("act.");
    d.issue(&access);
    inner.access_tokens.insert(access.clone(), (idx, now + d.config.access_ttl));
    let open_id = inner.creator.as_ref().map(|c| c.open_id.clone()).unwrap_or_default();
    let g = &inner.grants[idx];
    axum::Json(json!({
        "access_token": access,
        "expires_in": d.config.access_ttl,
        "open_id": open_id,
        "refresh_expires_in": g.refresh_expires - now,
        "refresh_token": refresh,
        "scope": g.scope,
        "token_type": "Bearer",
    }))
    .into_response()
}

async fn revoke(State(d): State<TikTokDouble>, axum::Form(form): axum::Form<HashMap<String, String>>) -> Response {
    if form.get("client_key") != Some(&d.config.client_key)
        || form.get("client_secret") != Some(&d.config.client_secret)
    {
        return oauth_error(401, "invalid_client", "Client key or secret is incorrect.");
    }
    let mut inner = d.lock();
    let token = form.get("token").cloned().unwrap_or_default();
    let idx = inner.access_tokens.get(&token).map(|(i, _)| *i).or_else(|| inner.refresh_tokens.get(&token).copied());
    if let Some(i) = idx {
        inner.grants[i].revoked = true;
    }
    StatusCode::OK.into_response()
}

/// The grant behind the bearer token, or the 401 envelope.
fn authenticate(inner: &Inner, headers: &HeaderMap, now: i64) -> Result<(String, usize), Box<Response>> {
    let token = bearer(headers).unwrap_or("");
    match inner.access_tokens.get(token) {
        Some((idx, expires)) if *expires > now && !inner.grants[*idx].revoked => Ok((token.to_string(), *idx)),
        _ => Err(Box::new(envelope(
            401,
            json!({}),
            "access_token_invalid",
            "The access token is invalid or not found in the request.",
        ))),
    }
}

fn require_scope(inner: &Inner, idx: usize, scope: &str) -> Result<(), Box<Response>> {
    if inner.grants[idx].scope.split(',').any(|s| s.trim() == scope) {
        Ok(())
    } else {
        Err(Box::new(envelope(
            401,
            json!({}),
            "scope_not_authorized",
            &format!("The user did not authorize the scope required for completing this request ({scope})."),
        )))
    }
}

/// Counts a call in the token's sliding minute for `endpoint`; Err when over `limit`.
fn rate_limit(inner: &mut Inner, now: i64, endpoint: &str, token: &str, limit: usize) -> Result<(), Box<Response>> {
    let window = inner.windows.entry((endpoint.to_string(), token.to_string())).or_default();
    while window.front().is_some_and(|t| now - *t >= 60_000) {
        window.pop_front();
    }
    if window.len() >= limit {
        return Err(Box::new(envelope(429, json!({}), "rate_limit_exceeded", "API rate limit was exceeded.")));
    }
    window.push_back(now);
    Ok(())
}

async fn user_info(
    State(d): State<TikTokDouble>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let inner = d.lock();
    let idx = match authenticate(&inner, &headers, d.now()) {
        Ok((_, idx)) => idx,
        Err(r) => return *r,
    };
    if let Err(r) = require_scope(&inner, idx, "user.info.basic") {
        return *r;
    }
    let Some(c) = inner.creator.as_ref() else {
        return envelope(500, json!({}), "internal_error", "no user");
    };
    let fields = q.get("fields").cloned().unwrap_or_default();
    if fields.is_empty() {
        return envelope(400, json!({}), "invalid_params", "fields is required");
    }
    let mut user = serde_json::Map::new();
    for f in fields.split(',') {
        let v = match f {
            "open_id" => json!(c.open_id),
            "union_id" => json!(c.union_id),
            "avatar_url" => json!("https://p16-sign.tiktokcdn-us.com/avatar.jpeg"),
            "display_name" => json!(c.display_name),
            "username" | "bio_description" | "profile_deep_link" | "is_verified" => {
                if let Err(r) = require_scope(&inner, idx, "user.info.profile") {
                    return *r;
                }
                json!(c.username)
            }
            "follower_count" | "following_count" | "likes_count" | "video_count" => {
                if let Err(r) = require_scope(&inner, idx, "user.info.stats") {
                    return *r;
                }
                match f {
                    "follower_count" => json!(inner.follower_count),
                    "video_count" => json!(inner.publishes.values().filter(|p| p.complete).count()),
                    _ => json!(0),
                }
            }
            _ => return envelope(400, json!({}), "invalid_params", &format!("unknown field {f}")),
        };
        user.insert(f.to_string(), v);
    }
    ok(json!({"user": user}))
}

fn privacy_options(d: &TikTokDouble) -> Vec<String> {
    if d.config.unaudited { vec!["SELF_ONLY".into()] } else { d.config.privacy_level_options.clone() }
}

async fn creator_info(State(d): State<TikTokDouble>, headers: HeaderMap) -> Response {
    let mut inner = d.lock();
    let (token, idx) = match authenticate(&inner, &headers, d.now()) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    if let Err(r) = require_scope(&inner, idx, "video.publish") {
        return *r;
    }
    if let Err(r) = rate_limit(&mut inner, d.now_ms(), "creator_info", &token, d.config.creator_info_per_minute) {
        return *r;
    }
    if let Some(code) = inner.posting_blocked.clone() {
        // Posting caps answer with HTTP 200.
        return envelope(200, json!({}), &code, "The user cannot post more content right now.");
    }
    let Some(c) = inner.creator.as_ref() else {
        return envelope(500, json!({}), "internal_error", "no user");
    };
    ok(json!({
        "creator_avatar_url": "https://p16-sign.tiktokcdn-us.com/avatar.jpeg",
        "creator_username": c.username,
        "creator_nickname": c.display_name,
        "privacy_level_options": privacy_options(&d),
        "comment_disabled": false,
        "duet_disabled": false,
        "stitch_disabled": true,
        "max_video_post_duration_sec": d.config.max_video_post_duration_sec,
    }))
}

fn invalid_param(message: &str) -> Response {
    envelope(400, json!({}), "invalid_param", message)
}

async fn video_init(State(d): State<TikTokDouble>, headers: HeaderMap, body: String) -> Response {
    let mut inner = d.lock();
    let (token, idx) = match authenticate(&inner, &headers, d.now()) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    if let Err(r) = require_scope(&inner, idx, "video.publish") {
        return *r;
    }
    if let Err(r) = rate_limit(&mut inner, d.now_ms(), "init", &token, d.config.init_per_minute) {
        return *r;
    }
    if !headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
    {
        return invalid_param("Content-Type must be application/json");
    }
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return invalid_param("The request body is not JSON.");
    };
    if let Some(code) = inner.posting_blocked.clone() {
        return envelope(403, json!({}), &code, "The user cannot post more content right now.");
    }
    let post_info = &v["post_info"];
    let Some(privacy) = post_info["privacy_level"].as_str() else {
        return invalid_param("post_info.privacy_level is required");
    };
    if post_info["title"].as_str().is_some_and(|t| t.encode_utf16().count() > 2200) {
        return invalid_param("post_info.title is too long");
    }
    if d.config.unaudited && privacy != "SELF_ONLY" {
        return envelope(
            403,
            json!({}),
            "unaudited_client_can_only_post_to_private_accounts",
            "Unaudited clients can only post to a private account.",
        );
    }
    if !privacy_options(&d).iter().any(|o| o == privacy) {
        return envelope(
            403,
            json!({}),
            "privacy_level_option_mismatch",
            "privacy_level is not one of the creator's privacy_level_options.",
        );
    }
    let source = &v["source_info"];
    let now = d.now();
    inner.next_id += 1;
    let n = inner.next_id;
    let fail_reason = inner.fail_next_publish.take();
    let mut publish = Publish {
        token,
        privacy: privacy.to_string(),
        pull: false,
        upload: None,
        polls: 0,
        fail_reason,
        post_id: n,
        complete: false,
    };
    match source["source"].as_str() {
        Some("PULL_FROM_URL") => {
            let Some(video_url) = source["video_url"].as_str() else {
                return invalid_param("source_info.video_url is required");
            };
            if !video_url.starts_with("https://") || !video_url.starts_with(&d.config.verified_url_prefix) {
                return envelope(
                    403,
                    json!({}),
                    "url_ownership_unverified",
                    "The domain or URL prefix of video_url is not verified for this app.",
                );
            }
            publish.pull = true;
            let publish_id = format!("v_pub_url~v2-1.{n}");
            inner.publishes.insert(publish_id.clone(), publish);
            ok(json!({"publish_id": publish_id}))
        }
        Some("FILE_UPLOAD") => {
            let (Some(size), Some(chunk), Some(count)) =
                (source["video_size"].as_u64(), source["chunk_size"].as_u64(), source["total_chunk_count"].as_u64())
            else {
                return invalid_param("video_size, chunk_size and total_chunk_count are required");
            };
            if let Err(why) = check_chunks(size, chunk, count) {
                return invalid_param(&why);
            }
            let upload_id = n.to_string();
            let upload_token = random_token("Xz");
            let upload_url = format!("{}/upload/?upload_id={upload_id}&upload_token={upload_token}", d.base);
            publish.upload = Some(Upload {
                upload_id,
                upload_token,
                size,
                chunk_size: chunk,
                chunks: count,
                received: 0,
                expires: now + d.config.upload_url_ttl,
            });
            let publish_id = format!("v_pub_file~v2-1.{n}");
            inner.publishes.insert(publish_id.clone(), publish);
            ok(json!({"publish_id": publish_id, "upload_url": upload_url}))
        }
        _ => invalid_param("source_info.source must be FILE_UPLOAD or PULL_FROM_URL"),
    }
}

/// The media transfer guide's chunk rules.
fn check_chunks(size: u64, chunk: u64, count: u64) -> Result<(), String> {
    if size == 0 || chunk == 0 {
        return Err("video_size and chunk_size must be positive".into());
    }
    if size < MIN_CHUNK {
        return if chunk == size && count == 1 {
            Ok(())
        } else {
            Err("files under 5 MB are uploaded in one chunk of video_size".into())
        };
    }
    if !(MIN_CHUNK..=MAX_CHUNK).contains(&chunk) || chunk > size {
        return Err("chunk_size must be between 5 MB and 64 MB".into());
    }
    if count != size / chunk {
        return Err("total_chunk_count must be floor(video_size / chunk_size)".into());
    }
    if !(1..=1000).contains(&count) || size - chunk * (count - 1) > MAX_LAST_CHUNK {
        return Err("the chunks do not fit the limits".into());
    }
    Ok(())
}

fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    Some((first.trim().parse().ok()?, last.trim().parse().ok()?, total.trim().parse().ok()?))
}

fn progress_header(received: u64, total: u64) -> String {
    if received == 0 { format!("bytes */{total}") } else { format!("bytes 0-{}/{total}", received - 1) }
}

async fn upload(
    State(d): State<TikTokDouble>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = d.lock();
    let now = d.now();
    let upload_id = q.get("upload_id").cloned().unwrap_or_default();
    let upload_token = q.get("upload_token").cloned().unwrap_or_default();
    let found = inner.publishes.values_mut().filter_map(|p| p.upload.as_mut()).find(|u| u.upload_id == upload_id);
    let Some(u) = found.filter(|u| u.upload_token == upload_token) else {
        return (StatusCode::NOT_FOUND, "upload task not found").into_response();
    };
    if now >= u.expires {
        return (StatusCode::FORBIDDEN, "upload_url expired").into_response();
    }
    let progress = |received: u64, total: u64| [(header::CONTENT_RANGE, progress_header(received, total))];
    if u.received == u.size {
        return (StatusCode::RANGE_NOT_SATISFIABLE, progress(u.received, u.size)).into_response();
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !["video/mp4", "video/quicktime", "video/webm"].contains(&content_type) {
        return (StatusCode::BAD_REQUEST, "Content-Type must be video/mp4, video/quicktime or video/webm")
            .into_response();
    }
    let Some((first, last, total)) =
        headers.get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()).and_then(parse_content_range)
    else {
        return (StatusCode::BAD_REQUEST, "Content-Range is missing or malformed").into_response();
    };
    let declared_len = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    if total != u.size
        || last < first
        || declared_len != Some(last - first + 1)
        || body.len() as u64 != last - first + 1
    {
        return (StatusCode::BAD_REQUEST, "Content-Range, Content-Length and the body disagree").into_response();
    }
    if first != u.received {
        return (StatusCode::RANGE_NOT_SATISFIABLE, progress(u.received, u.size)).into_response();
    }
    let index = first / u.chunk_size;
    let expected = if index + 1 == u.chunks { u.size - first } else { u.chunk_size };
    if first % u.chunk_size != 0 || index >= u.chunks || last - first + 1 != expected {
        return (StatusCode::BAD_REQUEST, "the chunk does not match chunk_size").into_response();
    }
    if let Some((chunk, times)) = inner.fail_chunk
        && chunk == index
        && times > 0
    {
        inner.fail_chunk = (times > 1).then_some((chunk, times - 1));
        return (StatusCode::INTERNAL_SERVER_ERROR, "<html><body>upstream reset</body></html>").into_response();
    }
    let found = inner.publishes.values_mut().filter_map(|p| p.upload.as_mut()).find(|u| u.upload_id == upload_id);
    let Some(u) = found else {
        return (StatusCode::NOT_FOUND, "upload task not found").into_response();
    };
    u.received = last + 1;
    let (received, size) = (u.received, u.size);
    inner.stored_chunks.push(index);
    let fail_this = inner.store_then_fail_chunk == Some(0);
    inner.store_then_fail_chunk = inner.store_then_fail_chunk.and_then(|n| n.checked_sub(1));
    if fail_this {
        return (StatusCode::INTERNAL_SERVER_ERROR, "<html><body>upstream reset</body></html>").into_response();
    }
    let status = if received == size { StatusCode::CREATED } else { StatusCode::PARTIAL_CONTENT };
    (status, progress(received, size)).into_response()
}

async fn status_fetch(State(d): State<TikTokDouble>, headers: HeaderMap, body: String) -> Response {
    let mut inner = d.lock();
    let (token, idx) = match authenticate(&inner, &headers, d.now()) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    if let Err(r) = require_scope(&inner, idx, "video.publish") {
        return *r;
    }
    if let Err(r) = rate_limit(&mut inner, d.now_ms(), "status", &token, d.config.status_per_minute) {
        return *r;
    }
    let publish_id = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["publish_id"].as_str().map(str::to_string))
        .unwrap_or_default();
    let tokens_grant = |t: &str| inner.access_tokens.get(t).map(|(g, _)| *g);
    let owner_grant = inner.publishes.get(&publish_id).and_then(|p| tokens_grant(&p.token));
    let Some(p) = inner.publishes.get_mut(&publish_id) else {
        return envelope(400, json!({}), "invalid_publish_id", "The publish_id does not exist.");
    };
    if owner_grant != Some(idx) {
        return envelope(
            400,
            json!({}),
            "token_not_authorized_for_specified_publish_id",
            "The token is not authorized for this publish_id.",
        );
    }
    let media_in = p.pull || p.upload.as_ref().is_some_and(|u| u.received == u.size);
    let uploaded = p.upload.as_ref().map(|u| u.received);
    let processing = if p.pull { "PROCESSING_DOWNLOAD" } else { "PROCESSING_UPLOAD" };
    let mut data = json!({"publicaly_available_post_id": []});
    if let Some(b) = uploaded {
        data["uploaded_bytes"] = json!(b);
    }
    if !media_in {
        data["status"] = json!(processing);
        return ok(data);
    }
    p.polls += 1;
    if p.polls <= d.config.processing_polls {
        data["status"] = json!(processing);
        if p.pull {
            data["downloaded_bytes"] = json!(1_048_576 * u64::from(p.polls));
        }
        return ok(data);
    }
    if let Some(reason) = &p.fail_reason {
        data["status"] = json!("FAILED");
        data["fail_reason"] = json!(reason);
        return ok(data);
    }
    data["status"] = json!("PUBLISH_COMPLETE");
    p.complete = true;
    let moderated = p.polls > d.config.processing_polls + d.config.moderation_polls;
    if moderated && p.privacy == "PUBLIC_TO_EVERYONE" {
        data["publicaly_available_post_id"] = json!([p.post_id]);
    }
    ok(data)
}

/// The video object's fields the double knows (`tiktok-api-v2-video-object`).
const VIDEO_FIELDS: &[&str] = &[
    "id",
    "create_time",
    "cover_image_url",
    "share_url",
    "video_description",
    "duration",
    "title",
    "view_count",
    "like_count",
    "comment_count",
    "share_count",
];

/// The creator's videos as the Display API shows them, newest first, with `fields` only.
fn videos_json(inner: &Inner, token_grant: usize, fields: &[&str]) -> Vec<(u64, Value)> {
    let mut mine: Vec<&Publish> = inner
        .publishes
        .values()
        .filter(|p| p.complete && inner.access_tokens.get(&p.token).is_some_and(|(g, _)| *g == token_grant))
        .collect();
    mine.sort_by_key(|p| std::cmp::Reverse(p.post_id));
    mine.into_iter()
        .map(|p| {
            let id = p.post_id.to_string();
            let c = inner.video_counts.get(&id).copied().unwrap_or_default();
            let mut v = serde_json::Map::new();
            for f in fields {
                let value = match *f {
                    "id" => json!(id),
                    "create_time" => json!(1_700_000_000 + p.post_id),
                    "view_count" => json!(c.views),
                    "like_count" => json!(c.likes),
                    "comment_count" => json!(c.comments),
                    "share_count" => json!(c.shares),
                    "share_url" => json!(format!("https://www.tiktok.com/@creator/video/{id}")),
                    "duration" => json!(15),
                    _ => json!(""),
                };
                v.insert((*f).to_string(), value);
            }
            (p.post_id, Value::Object(v))
        })
        .collect()
}

/// Checks the Display API's common parts: the token, `video.list`, the sliding-minute limit
/// (600 per endpoint) and the `fields` query; answers the grant and the fields asked for.
fn display_guard(
    d: &TikTokDouble,
    inner: &mut Inner,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
    endpoint: &str,
) -> Result<(usize, Vec<&'static str>), Box<Response>> {
    let (token, idx) = authenticate(inner, headers, d.now())?;
    require_scope(inner, idx, "video.list")?;
    rate_limit(inner, d.now_ms(), endpoint, &token, 600)?;
    let asked = q.get("fields").map(String::as_str).unwrap_or("");
    if asked.is_empty() {
        return Err(Box::new(envelope(400, json!({}), "invalid_params", "fields is required")));
    }
    let mut fields = Vec::new();
    for f in asked.split(',') {
        match VIDEO_FIELDS.iter().find(|k| **k == f) {
            Some(k) => fields.push(*k),
            None => {
                return Err(Box::new(envelope(400, json!({}), "invalid_params", &format!("unknown field {f}"))));
            }
        }
    }
    Ok((idx, fields))
}

async fn video_query(
    State(d): State<TikTokDouble>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let mut inner = d.lock();
    let (idx, fields) = match display_guard(&d, &mut inner, &headers, &q, "video_query") {
        Ok(g) => g,
        Err(r) => return *r,
    };
    let ids: Option<Vec<String>> = serde_json::from_str::<Value>(&body).ok().and_then(|v| {
        v.pointer("/filters/video_ids")?.as_array()?.iter().map(|i| i.as_str().map(str::to_string)).collect()
    });
    let Some(ids) = ids else {
        return envelope(400, json!({}), "invalid_params", "filters.video_ids must be a list of strings");
    };
    if ids.is_empty() || ids.len() > 20 {
        return envelope(400, json!({}), "invalid_params", "filters.video_ids takes 1 to 20 ids");
    }
    let mut with_id = fields.clone();
    if !with_id.contains(&"id") {
        with_id.push("id");
    }
    let videos: Vec<Value> = videos_json(&inner, idx, &with_id)
        .into_iter()
        .filter(|(n, _)| ids.contains(&n.to_string()))
        .map(|(_, v)| v)
        .collect();
    ok(json!({"videos": videos}))
}

async fn video_list(
    State(d): State<TikTokDouble>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let mut inner = d.lock();
    let (idx, fields) = match display_guard(&d, &mut inner, &headers, &q, "video_list") {
        Ok(g) => g,
        Err(r) => return *r,
    };
    let v = serde_json::from_str::<Value>(&body).unwrap_or(Value::Null);
    let max = v["max_count"].as_u64().unwrap_or(10);
    if !(1..=20).contains(&max) {
        return envelope(400, json!({}), "invalid_params", "max_count must be between 1 and 20");
    }
    // The cursor is a create_time: the next page holds the videos created before it.
    let cursor = v["cursor"].as_i64();
    let all: Vec<(u64, Value)> = videos_json(&inner, idx, &fields)
        .into_iter()
        .filter(|(n, _)| cursor.is_none_or(|c| 1_700_000_000 + i64::try_from(*n).unwrap_or(i64::MAX) < c))
        .collect();
    let page: Vec<&(u64, Value)> = all.iter().take(usize::try_from(max).unwrap_or(20)).collect();
    let has_more = all.len() > page.len();
    let next = page.last().map_or(0, |(n, _)| 1_700_000_000 + i64::try_from(*n).unwrap_or(0));
    let videos: Vec<Value> = page.into_iter().map(|(_, v)| v.clone()).collect();
    ok(json!({"videos": videos, "cursor": next, "has_more": has_more}))
}
