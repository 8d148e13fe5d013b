//! A double of a Bluesky PDS: app-password sessions, records in `app.bsky.feed.post`, blobs,
//! a profile through the AppView proxy.
//!
//! Built from bluesky-social/bsky-docs `docs/advanced-guides/rate-limits.md` (createSession 30
//! per 5 min; writes 5000 points per hour, create = 3) and `docs/advanced-guides/posts.md`;
//! the lexicons `com.atproto.server.{createSession,refreshSession}`,
//! `com.atproto.repo.{createRecord,getRecord,uploadBlob}`, `app.bsky.feed.post` (text ≤300
//! graphemes and ≤3000 bytes, `createdAt` required, `reply{root,parent}` strongRefs),
//! `app.bsky.actor.getProfile` (`followersCount`), `app.bsky.feed.getPosts` (at most 25 `uris`;
//! missing posts are left out) and `app.bsky.feed.getPostThread` (`depth`, `parentHeight`;
//! 400 `NotFound`; `app.bsky.feed.defs#threadViewPost` with `replies`, `#postView` with
//! `replyCount`, `repostCount`, `likeCount`, `quoteCount`);
//! bluesky-social/atproto-website `specs/xrpc` (errors `{"error","message"}`, `RateLimit-Limit`,
//! `RateLimit-Remaining`, `RateLimit-Reset` in epoch seconds, `RateLimit-Policy`) and
//! `specs/record-key`; and bluesky-social/atproto `packages/pds/src/auth-verifier.ts`
//! (missing token 401 `AuthMissing`; expired access token **400 `ExpiredToken`** on the PDS,
//! 401 on AppView paths; unknown token `InvalidToken`) and
//! `packages/pds/src/account-manager/helpers/auth.ts` (access 120 min, refresh 90 days,
//! rotation with the old refresh token usable for 2 h, returning the same successor).
//! Creating a record under a taken rkey is answered 400 `InvalidRequest` "Record already
//! exists" — the real wording is unconfirmed.
// Helpers return the HTTP answer to send as their error, as handlers do.
#![allow(clippy::result_large_err)]
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::core::{DoubleCore, Platform, json_error};
use crate::{bearer, random_token};

const GRACE: i64 = 2 * 3600;

#[derive(Debug, Clone)]
pub struct Config {
    pub did: String,
    pub handle: String,
    pub display_name: String,
    /// The account's app password (`xxxx-xxxx-xxxx-xxxx`).
    pub app_password: String,
    /// Access token lifetime in seconds (reference PDS: 120 min).
    pub access_ttl: i64,
    /// Refresh token lifetime in seconds (reference PDS: 90 days).
    pub refresh_ttl: i64,
    /// createSession per account per 5 minutes (30).
    pub session_limit: u32,
    /// Write points per hour (5000; a create costs 3).
    pub write_points: u32,
    /// Blobs not referenced within this many seconds are deleted.
    pub blob_gc_after: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            did: "did:plc:u5cwb2mwiv2bfq53cjufe6yn".into(),
            handle: "alice.bsky.test".into(),
            display_name: "Alice".into(),
            app_password: "abcd-efgh-ijkl-mnop".into(),
            access_ttl: 7200,
            refresh_ttl: 90 * 86_400,
            session_limit: 30,
            write_points: 5000,
            blob_gc_after: 600,
        }
    }
}

struct Refresh {
    expires: i64,
    /// Set at rotation: (successor, rotated at).
    next: Option<(String, i64)>,
}

/// A record stored on the double.
#[derive(Debug, Clone)]
pub struct StoredRecord {
    /// The DID of the repository (the account, or another user who replied).
    pub repo: String,
    pub collection: String,
    pub rkey: String,
    pub cid: String,
    pub value: Value,
}

impl StoredRecord {
    #[must_use]
    pub fn uri(&self) -> String {
        format!("at://{}/{}/{}", self.repo, self.collection, self.rkey)
    }
}

/// What other users did to a post, which the AppView counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interactions {
    pub likes: u64,
    pub reposts: u64,
    pub quotes: u64,
}

struct StoredBlob {
    mime: String,
    size: usize,
    uploaded: i64,
    referenced: bool,
}

#[derive(Default)]
struct Inner {
    access: HashMap<String, i64>,
    refresh: HashMap<String, Refresh>,
    records: Vec<StoredRecord>,
    blobs: HashMap<String, StoredBlob>,
    /// family → (window start, used).
    windows: HashMap<&'static str, (i64, u32)>,
    rev: u64,
    /// Other users' handles, by DID.
    handles: HashMap<String, String>,
    interactions: HashMap<String, Interactions>,
    followers: u64,
}

/// A running PDS double.
#[derive(Clone)]
pub struct BlueskyDouble {
    config: Arc<Config>,
    inner: Arc<Mutex<Inner>>,
    core: DoubleCore,
}

crate::core::accessors!(BlueskyDouble, Inner, Config);

impl Platform for BlueskyDouble {
    const BODY_LIMIT: usize = 64 << 20;
    const SERVER_ERROR_PAGE: &'static str = "<html><body>Internal Server Error</body></html>";

    fn rate_limited(&self) -> Response {
        rate_limited(self.config.write_points, 0, self.now() + 3600, 3600)
    }

    fn lost_answer() -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/plain")], "upstream connection reset")
            .into_response()
    }
}

/// A CID-looking string for content (`bafyrei…` for records, `bafkrei…` for raw blobs).
fn cid(prefix: &str, bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let digest = Sha256::digest(bytes);
    let mut out = String::from(prefix);
    let (mut acc, mut bits) = (0u32, 0);
    for b in digest.iter() {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    out
}

impl BlueskyDouble {
    pub async fn start(config: Config) -> std::io::Result<Self> {
        let (core, listener) = DoubleCore::bind(vec![config.app_password.clone()]).await?;
        let inner = Arc::new(Mutex::new(Inner::default()));
        let double = Self { config: Arc::new(config), inner, core };
        let router = Router::new()
            .route("/xrpc/com.atproto.server.createSession", post(create_session))
            .route("/xrpc/com.atproto.server.refreshSession", post(refresh_session))
            .route("/xrpc/com.atproto.repo.createRecord", post(create_record))
            .route("/xrpc/com.atproto.repo.getRecord", get(get_record))
            .route("/xrpc/com.atproto.repo.putRecord", post(put_record))
            .route("/xrpc/com.atproto.repo.uploadBlob", post(upload_blob))
            .route("/xrpc/app.bsky.actor.getProfile", get(get_profile))
            .route("/xrpc/app.bsky.feed.getPosts", get(get_posts))
            .route("/xrpc/app.bsky.feed.getPostThread", get(get_post_thread));
        crate::core::serve(listener, router, &double);
        Ok(double)
    }

    /// The next matching request gets a non-JSON 502 from a "proxy" in front of the PDS.
    pub fn inject_bad_gateway(&self, path_prefix: &str) {
        self.answer_next(path_prefix, || {
            let page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
            (StatusCode::BAD_GATEWAY, [(header::CONTENT_TYPE, "text/html")], page).into_response()
        });
    }

    #[must_use]
    pub fn records(&self) -> Vec<StoredRecord> {
        self.lock().records.clone()
    }

    /// Another user (`did`, `handle`) replies to the post `parent_uri` with `text`, as their own
    /// client would: `reply.root` is the parent's root, or the parent itself. Returns the
    /// reply's URI, or `None` when the parent is unknown.
    pub fn reply_from(&self, did: &str, handle: &str, parent_uri: &str, text: &str) -> Option<String> {
        let now = self.now();
        let mut inner = self.lock();
        let parent = inner.records.iter().find(|r| r.uri() == parent_uri)?.clone();
        let parent_ref = json!({"uri": parent_uri, "cid": parent.cid});
        let root = parent.value.pointer("/reply/root").cloned().unwrap_or_else(|| parent_ref.clone());
        let created = crate::mastodon::iso8601(now);
        let value = json!({"$type": "app.bsky.feed.post", "text": text, "createdAt": created,
            "reply": {"root": root, "parent": parent_ref}});
        inner.rev += 1;
        let rkey = format!("3l{:011}", inner.rev);
        let record = StoredRecord {
            repo: did.to_string(),
            collection: "app.bsky.feed.post".into(),
            rkey,
            cid: cid("bafyrei", value.to_string().as_bytes()),
            value,
        };
        let uri = record.uri();
        inner.records.push(record);
        inner.handles.insert(did.to_string(), handle.to_string());
        Some(uri)
    }

    /// Sets the likes, reposts and quotes other users gave the post `uri`.
    pub fn set_interactions(&self, uri: &str, counts: Interactions) {
        self.lock().interactions.insert(uri.to_string(), counts);
    }

    pub fn set_followers(&self, followers: u64) {
        self.lock().followers = followers;
    }

    /// How many blobs the PDS still keeps (after garbage collection).
    #[must_use]
    pub fn blob_count(&self) -> usize {
        let mut inner = self.lock();
        gc(&self.config, &mut inner, self.now());
        inner.blobs.len()
    }
}

fn gc(config: &Config, inner: &mut Inner, now: i64) {
    inner.blobs.retain(|_, b| b.referenced || now - b.uploaded < config.blob_gc_after);
}

fn xrpc_error(status: u16, error: &str, message: &str) -> Response {
    json_error(status, json!({"error": error, "message": message}))
}

fn set_rate_headers(h: &mut HeaderMap, limit: u32, remaining: u32, reset: i64, window: i64) {
    for (k, v) in [
        ("ratelimit-limit", limit.to_string()),
        ("ratelimit-remaining", remaining.to_string()),
        ("ratelimit-reset", reset.to_string()),
        ("ratelimit-policy", format!("{limit};w={window}")),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
}

fn rate_limited(limit: u32, remaining: u32, reset: i64, window: i64) -> Response {
    let mut r = xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded");
    set_rate_headers(r.headers_mut(), limit, remaining, reset, window);
    r
}

/// Spends `cost` points in the family's fixed window: `Ok((remaining, reset))` or the 429.
fn spend(
    inner: &mut Inner,
    now: i64,
    family: &'static str,
    limit: u32,
    window: i64,
    cost: u32,
) -> Result<(u32, i64), Response> {
    let e = inner.windows.entry(family).or_insert((now, 0));
    if now - e.0 >= window {
        *e = (now, 0);
    }
    let reset = e.0 + window;
    if e.1 + cost > limit {
        return Err(rate_limited(limit, limit.saturating_sub(e.1), reset, window));
    }
    e.1 += cost;
    Ok((limit - e.1, reset))
}

fn jwt(config: &Config, scope: &str, iat: i64, exp: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"at+jwt","alg":"HS256"}"#);
    let payload = URL_SAFE_NO_PAD.encode(
        json!({"scope": scope, "sub": config.did, "aud": "did:web:pds.test", "iat": iat, "exp": exp}).to_string(),
    );
    format!("{header}.{payload}.{}", random_token(""))
}

fn session_json(d: &BlueskyDouble, inner: &mut Inner, refresh: Option<String>) -> Value {
    let now = d.now();
    let access = jwt(&d.config, "com.atproto.appPass", now, now + d.config.access_ttl);
    d.issue(&access);
    inner.access.insert(access.clone(), now + d.config.access_ttl);
    let refresh = refresh.unwrap_or_else(|| {
        let r = jwt(&d.config, "com.atproto.refresh", now, now + d.config.refresh_ttl);
        d.issue(&r);
        inner.refresh.insert(r.clone(), Refresh { expires: now + d.config.refresh_ttl, next: None });
        r
    });
    json!({"accessJwt": access, "refreshJwt": refresh, "handle": d.config.handle, "did": d.config.did, "active": true})
}

async fn create_session(State(d): State<BlueskyDouble>, body: axum::body::Bytes) -> Response {
    let Ok(p) = serde_json::from_slice::<Value>(&body) else {
        return xrpc_error(400, "InvalidRequest", "Input must be an object");
    };
    let (Some(identifier), Some(password)) =
        (p.get("identifier").and_then(Value::as_str), p.get("password").and_then(Value::as_str))
    else {
        return xrpc_error(400, "InvalidRequest", "Input must have the property \"identifier\"");
    };
    let mut inner = d.lock();
    let (remaining, reset) = match spend(&mut inner, d.now(), "createSession", d.config.session_limit, 300, 1) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let known = identifier == d.config.handle || identifier == d.config.did;
    if !known || password != d.config.app_password {
        return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password");
    }
    let mut r = axum::Json(session_json(&d, &mut inner, None)).into_response();
    set_rate_headers(r.headers_mut(), d.config.session_limit, remaining, reset, 300);
    r
}

async fn refresh_session(State(d): State<BlueskyDouble>, headers: HeaderMap) -> Response {
    let Some(token) = bearer(&headers) else {
        return xrpc_error(401, "AuthMissing", "Authentication Required");
    };
    let mut inner = d.lock();
    let now = d.now();
    let Some(r) = inner.refresh.get(token) else {
        return xrpc_error(400, "InvalidToken", "Token could not be verified");
    };
    if r.expires <= now {
        return xrpc_error(400, "ExpiredToken", "Token has expired");
    }
    let successor = match &r.next {
        Some((_, rotated)) if now - rotated >= GRACE => {
            return xrpc_error(400, "ExpiredToken", "Token has been revoked");
        }
        Some((next, _)) => Some(next.clone()),
        None => None,
    };
    let body = session_json(&d, &mut inner, successor.clone());
    if successor.is_none()
        && let Some(new) = body.get("refreshJwt").and_then(Value::as_str).map(str::to_string)
        && let Some(old) = inner.refresh.get_mut(token)
    {
        old.next = Some((new, now));
    }
    axum::Json(body).into_response()
}

/// Checks the access token: `appview` paths answer 401 where the PDS answers 400.
fn check_access(inner: &Inner, headers: &HeaderMap, appview: bool, now: i64) -> Result<(), Response> {
    let Some(token) = bearer(headers) else {
        return Err(xrpc_error(401, "AuthMissing", "Authentication Required"));
    };
    match inner.access.get(token) {
        None => Err(xrpc_error(401, "InvalidToken", "Token could not be verified")),
        Some(exp) if *exp <= now => {
            Err(xrpc_error(if appview { 401 } else { 400 }, "ExpiredToken", "Token has expired"))
        }
        Some(_) => Ok(()),
    }
}

/// An approximate grapheme count (same rules as the connector's; see its docs).
fn graphemes(text: &str) -> usize {
    let (mut n, mut zwj, mut flag) = (0, false, false);
    for c in text.chars() {
        let cp = c as u32;
        if cp == 0x200D {
            zwj = true;
            continue;
        }
        let extends = matches!(cp, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE00..=0xFE0F | 0xFE20..=0xFE2F | 0x1F3FB..=0x1F3FF | 0xE0020..=0xE007F | 0xE0100..=0xE01EF);
        let half = (0x1F1E6..=0x1F1FF).contains(&cp);
        if extends || zwj || (half && flag) {
            zwj = false;
            flag = false;
            continue;
        }
        flag = half;
        n += 1;
    }
    n
}

fn valid_rkey(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 512
        && k != "."
        && k != ".."
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:~-".contains(&b))
}

fn validate_post(inner: &Inner, record: &Value) -> Result<Vec<String>, Response> {
    let invalid = |m: &str| Err(xrpc_error(400, "InvalidRequest", m));
    if record.get("$type").and_then(Value::as_str) != Some("app.bsky.feed.post") {
        return invalid("Invalid $type: must be app.bsky.feed.post");
    }
    let Some(text) = record.get("text").and_then(Value::as_str) else {
        return invalid("Record must have the property \"text\"");
    };
    if text.len() > 3000 || graphemes(text) > 300 {
        return invalid("Record/text must not be longer than 300 graphemes");
    }
    let created = record.get("createdAt").and_then(Value::as_str).unwrap_or("");
    let b = created.as_bytes();
    let shaped = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && (created.ends_with('Z') || created[19..].contains(['+', '-']));
    if !shaped {
        return invalid("Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)");
    }
    if let Some(reply) = record.get("reply") {
        for end in ["root", "parent"] {
            let strong = reply.get(end);
            let uri = strong.and_then(|r| r.get("uri")).and_then(Value::as_str).unwrap_or("");
            let has_cid = strong.and_then(|r| r.get("cid")).and_then(Value::as_str).is_some_and(|c| !c.is_empty());
            if !uri.starts_with("at://") || !has_cid {
                return invalid(&format!("Record/reply/{end} must be a strongRef with \"uri\" and \"cid\""));
            }
        }
    }
    let mut blobs = vec![];
    if let Some(embed) = record.get("embed") {
        let images = embed.get("images").and_then(Value::as_array).cloned().unwrap_or_default();
        if embed.get("$type").and_then(Value::as_str) != Some("app.bsky.embed.images")
            || images.is_empty()
            || images.len() > 4
        {
            return invalid("Record/embed must be app.bsky.embed.images with 1 to 4 images");
        }
        for img in images {
            let Some(link) = img.pointer("/image/ref/$link").and_then(Value::as_str) else {
                return invalid("Record/embed/images/image must be a blob");
            };
            let Some(b) = inner.blobs.get(link) else {
                return Err(xrpc_error(400, "BlobNotFound", &format!("Could not find blob: {link}")));
            };
            if !b.mime.starts_with("image/") || b.size > 1_000_000 {
                return Err(xrpc_error(
                    400,
                    "BlobTooLarge",
                    "This file is too large. It is 1.0MB. Maximum size is 976.56KB",
                ));
            }
            blobs.push(link.to_string());
        }
    }
    Ok(blobs)
}

async fn create_record(State(d): State<BlueskyDouble>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let mut inner = d.lock();
    if let Err(r) = check_access(&inner, &headers, false, d.now()) {
        return r;
    }
    gc(&d.config, &mut inner, d.now());
    let Ok(p) = serde_json::from_slice::<Value>(&body) else {
        return xrpc_error(400, "InvalidRequest", "Input must be an object");
    };
    let repo = p.get("repo").and_then(Value::as_str).unwrap_or("");
    if repo != d.config.did && repo != d.config.handle {
        return xrpc_error(400, "InvalidRequest", "Invalid repo");
    }
    let collection = p.get("collection").and_then(Value::as_str).unwrap_or("").to_string();
    let record = p.get("record").cloned().unwrap_or(Value::Null);
    let blobs = if collection == "app.bsky.feed.post" {
        match validate_post(&inner, &record) {
            Ok(b) => b,
            Err(r) => return r,
        }
    } else {
        return xrpc_error(400, "InvalidRequest", "Lexicon not supported by this double");
    };
    let rkey = match p.get("rkey").and_then(Value::as_str) {
        Some(k) if valid_rkey(k) => k.to_string(),
        Some(_) => return xrpc_error(400, "InvalidRequest", "Invalid record key"),
        None => {
            random_token("3k").chars().filter(char::is_ascii_alphanumeric).take(13).collect::<String>().to_lowercase()
        }
    };
    if inner.records.iter().any(|r| r.repo == d.config.did && r.collection == collection && r.rkey == rkey) {
        return xrpc_error(400, "InvalidRequest", "Record already exists");
    }
    let (remaining, reset) = match spend(&mut inner, d.now(), "writes", d.config.write_points, 3600, 3) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let record_cid = cid("bafyrei", record.to_string().as_bytes());
    for b in blobs {
        if let Some(b) = inner.blobs.get_mut(&b) {
            b.referenced = true;
        }
    }
    inner.records.push(StoredRecord {
        repo: d.config.did.clone(),
        collection: collection.clone(),
        rkey: rkey.clone(),
        cid: record_cid.clone(),
        value: record,
    });
    inner.rev += 1;
    let mut r = axum::Json(json!({
        "uri": format!("at://{}/{collection}/{rkey}", d.config.did), "cid": record_cid,
        "commit": {"cid": cid("bafyreic", format!("commit{}", inner.rev).as_bytes()), "rev": format!("3l{:011}", inner.rev)},
        "validationStatus": "valid",
    }))
    .into_response();
    set_rate_headers(r.headers_mut(), d.config.write_points, remaining, reset, 3600);
    r
}

/// `com.atproto.repo.putRecord`, for the one collection Steward writes this way: a post's
/// threadgate (`app.bsky.feed.threadgate`, under the post's own record key, naming it in `post`,
/// `hiddenReplies` at most 300 at-uris). `swapRecord` must match the current record's CID.
async fn put_record(State(d): State<BlueskyDouble>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let mut inner = d.lock();
    if let Err(r) = check_access(&inner, &headers, false, d.now()) {
        return r;
    }
    let Ok(p) = serde_json::from_slice::<Value>(&body) else {
        return xrpc_error(400, "InvalidRequest", "Input must be an object");
    };
    let repo = p.get("repo").and_then(Value::as_str).unwrap_or("");
    if repo != d.config.did && repo != d.config.handle {
        return xrpc_error(400, "InvalidRequest", "Invalid repo");
    }
    let collection = p.get("collection").and_then(Value::as_str).unwrap_or("");
    if collection != "app.bsky.feed.threadgate" {
        return xrpc_error(400, "InvalidRequest", "Lexicon not supported by this double");
    }
    let rkey = p.get("rkey").and_then(Value::as_str).unwrap_or("").to_string();
    let record = p.get("record").cloned().unwrap_or(Value::Null);
    let post_uri = format!("at://{}/app.bsky.feed.post/{rkey}", d.config.did);
    let invalid = |m: &str| xrpc_error(400, "InvalidRecord", m);
    if record.get("$type").and_then(Value::as_str) != Some(collection) {
        return invalid("Record/$type must be app.bsky.feed.threadgate");
    }
    if record.get("post").and_then(Value::as_str) != Some(post_uri.as_str()) {
        return invalid("Record/post must be the post with the same record key");
    }
    if record.get("createdAt").and_then(Value::as_str).is_none() {
        return invalid("Record must have the property \"createdAt\"");
    }
    match record.get("hiddenReplies") {
        None => {}
        Some(Value::Array(h))
            if h.len() <= 300 && h.iter().all(|u| u.as_str().is_some_and(|u| u.starts_with("at://"))) => {}
        Some(_) => return invalid("Record/hiddenReplies must be an array of at most 300 at-uris"),
    }
    if !inner.records.iter().any(|r| r.repo == d.config.did && r.collection == "app.bsky.feed.post" && r.rkey == rkey) {
        return invalid("Record/post does not exist");
    }
    let at = inner.records.iter().position(|r| r.repo == d.config.did && r.collection == collection && r.rkey == rkey);
    if let Some(swap) = p.get("swapRecord").and_then(Value::as_str)
        && at.map(|i| inner.records[i].cid.as_str()) != Some(swap)
    {
        return xrpc_error(400, "InvalidSwap", "Record was at a different CID");
    }
    let (remaining, reset) =
        match spend(&mut inner, d.now(), "writes", d.config.write_points, 3600, if at.is_some() { 2 } else { 3 }) {
            Ok(r) => r,
            Err(r) => return r,
        };
    let record_cid = cid("bafyrei", record.to_string().as_bytes());
    let stored = StoredRecord {
        repo: d.config.did.clone(),
        collection: collection.to_string(),
        rkey: rkey.clone(),
        cid: record_cid.clone(),
        value: record,
    };
    match at {
        Some(i) => inner.records[i] = stored,
        None => inner.records.push(stored),
    }
    inner.rev += 1;
    let mut r = axum::Json(json!({
        "uri": format!("at://{}/{collection}/{rkey}", d.config.did), "cid": record_cid,
        "commit": {"cid": cid("bafyreic", format!("commit{}", inner.rev).as_bytes()), "rev": format!("3l{:011}", inner.rev)},
        "validationStatus": "valid",
    }))
    .into_response();
    set_rate_headers(r.headers_mut(), d.config.write_points, remaining, reset, 3600);
    r
}

async fn get_record(State(d): State<BlueskyDouble>, Query(q): Query<HashMap<String, String>>) -> Response {
    let inner = d.lock();
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let uri = format!("at://{}/{}/{}", d.config.did, get("collection"), get("rkey"));
    if get("repo") != d.config.did && get("repo") != d.config.handle {
        return xrpc_error(400, "InvalidRequest", &format!("Could not find repo: {}", get("repo")));
    }
    match inner
        .records
        .iter()
        .find(|r| r.repo == d.config.did && r.collection == get("collection") && r.rkey == get("rkey"))
    {
        Some(r) => axum::Json(json!({"uri": uri, "cid": r.cid, "value": r.value})).into_response(),
        None => xrpc_error(400, "RecordNotFound", &format!("Could not locate record: {uri}")),
    }
}

async fn upload_blob(State(d): State<BlueskyDouble>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let mut inner = d.lock();
    if let Err(r) = check_access(&inner, &headers, false, d.now()) {
        return r;
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    if body.len() > 50 * 1024 * 1024 {
        return xrpc_error(413, "PayloadTooLarge", "request entity too large");
    }
    let link = cid("bafkrei", &body);
    let uploaded = d.now();
    let referenced = inner.blobs.get(&link).is_some_and(|b| b.referenced);
    inner.blobs.insert(link.clone(), StoredBlob { mime: mime.clone(), size: body.len(), uploaded, referenced });
    axum::Json(json!({"blob": {"$type": "blob", "ref": {"$link": link}, "mimeType": mime, "size": body.len()}}))
        .into_response()
}

async fn get_profile(
    State(d): State<BlueskyDouble>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let inner = d.lock();
    if let Err(r) = check_access(&inner, &headers, true, d.now()) {
        return r;
    }
    let actor = q.get("actor").map(String::as_str).unwrap_or("");
    if actor != d.config.did && actor != d.config.handle {
        return xrpc_error(400, "InvalidRequest", "Profile not found");
    }
    let posts = inner.records.iter().filter(|r| r.repo == d.config.did && r.collection == "app.bsky.feed.post").count();
    axum::Json(json!({"did": d.config.did, "handle": d.config.handle, "displayName": d.config.display_name,
        "followersCount": inner.followers, "followsCount": 0, "postsCount": posts}))
    .into_response()
}

fn post_view(d: &BlueskyDouble, inner: &Inner, r: &StoredRecord) -> Value {
    let uri = r.uri();
    let handle = if r.repo == d.config.did {
        d.config.handle.clone()
    } else {
        inner.handles.get(&r.repo).cloned().unwrap_or_else(|| "handle.invalid".into())
    };
    let counts = inner.interactions.get(&uri).copied().unwrap_or_default();
    let replies = inner
        .records
        .iter()
        .filter(|c| c.value.pointer("/reply/parent/uri").and_then(Value::as_str) == Some(uri.as_str()))
        .count();
    let indexed = r.value.get("createdAt").cloned().unwrap_or(Value::Null);
    let mut author = json!({"did": r.repo, "handle": handle});
    if r.repo == d.config.did {
        author["displayName"] = json!(d.config.display_name);
    }
    json!({
        "uri": uri, "cid": r.cid, "author": author, "record": r.value,
        "replyCount": replies, "repostCount": counts.reposts, "likeCount": counts.likes, "quoteCount": counts.quotes,
        "indexedAt": indexed, "labels": [],
    })
}

/// The `uris` parameters of a query, repeated as XRPC sends arrays (`uris=a&uris=b`).
fn repeated(raw: Option<&str>, name: &str) -> Vec<String> {
    raw.unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == name || *k == format!("{name}[]"))
        .map(|(_, v)| crate::percent_decode(v))
        .collect()
}

async fn get_posts(
    State(d): State<BlueskyDouble>,
    headers: HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let inner = d.lock();
    if let Err(r) = check_access(&inner, &headers, true, d.now()) {
        return r;
    }
    let uris = repeated(raw.as_deref(), "uris");
    if uris.is_empty() {
        return xrpc_error(400, "InvalidRequest", "Params must have the property \"uris\"");
    }
    if uris.len() > 25 {
        return xrpc_error(400, "InvalidRequest", "uris must not have more than 25 elements");
    }
    let posts: Vec<Value> = uris
        .iter()
        .filter_map(|u| inner.records.iter().find(|r| r.uri() == *u))
        .map(|r| post_view(&d, &inner, r))
        .collect();
    axum::Json(json!({"posts": posts})).into_response()
}

fn thread_view(d: &BlueskyDouble, inner: &Inner, r: &StoredRecord, depth: u32) -> Value {
    let uri = r.uri();
    let mut node = json!({"$type": "app.bsky.feed.defs#threadViewPost", "post": post_view(d, inner, r)});
    if depth > 0 {
        let replies: Vec<Value> = inner
            .records
            .iter()
            .filter(|c| c.value.pointer("/reply/parent/uri").and_then(Value::as_str) == Some(uri.as_str()))
            .map(|c| thread_view(d, inner, c, depth - 1))
            .collect();
        node["replies"] = json!(replies);
    }
    node
}

async fn get_post_thread(
    State(d): State<BlueskyDouble>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let inner = d.lock();
    if let Err(r) = check_access(&inner, &headers, true, d.now()) {
        return r;
    }
    let Some(uri) = q.get("uri") else {
        return xrpc_error(400, "InvalidRequest", "Params must have the property \"uri\"");
    };
    let depth = match q.get("depth").map(|v| v.parse::<u32>()) {
        None => 6,
        Some(Ok(n)) if n <= 1000 => n,
        Some(_) => return xrpc_error(400, "InvalidRequest", "depth must be an integer from 0 to 1000"),
    };
    match inner.records.iter().find(|r| r.uri() == *uri) {
        Some(r) => axum::Json(json!({"thread": thread_view(&d, &inner, r, depth)})).into_response(),
        None => xrpc_error(400, "NotFound", &format!("Post not found: {uri}")),
    }
}
