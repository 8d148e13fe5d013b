//! Bluesky (AT Protocol) on the account's PDS: app-password sessions, posts with a
//! Steward-chosen record key, blobs, and record look-ups for reconciliation.
//!
//! Protocol: bluesky-social/bsky-docs `docs/advanced-guides/{posts,rate-limits}.md`; lexicons
//! `com.atproto.server.{createSession,refreshSession}`, `com.atproto.repo.{createRecord,
//! getRecord,uploadBlob}`, `app.bsky.feed.post`, `app.bsky.actor.getProfile`,
//! `app.bsky.feed.{getPosts,getPostThread}` and `app.bsky.feed.defs` (post and thread views);
//! bluesky-social/atproto-website `specs/xrpc` (errors `{"error","message"?}`, `RateLimit-*`
//! headers) and `specs/record-key`/`specs/tid`; reference PDS code
//! `packages/pds/src/auth-verifier.ts` (an expired access token is **400 `ExpiredToken`** on
//! the PDS; AppView paths answer 401) and `account-manager` (refresh tokens rotate; the old
//! one keeps working for 2 h).
//!
//! **App passwords only.** Steward never takes an account's main password: a main-password
//! session can change the account's email, password and handle or delete it. The PDS accepts
//! both, so the check is ours: [`create_session`] refuses anything not shaped like an app
//! password (`xxxx-xxxx-xxxx-xxxx`, lowercase letters and digits) without sending it.
//! Identifiers (handle, DID or email) are passed through.
//!
//! The caller keeps the [`BlueskySession`] sealed, refreshes it when a call fails with
//! `Unauthorized` (both the PDS's 400 `ExpiredToken` and AppView's 401 map to it), and logs in
//! again with the app password only when the refresh is refused too (createSession is limited
//! to 30 per 5 minutes and 300 per day per account).
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::http::{transport_error, url};
use crate::{ConnectorError, Identity};

pub const DEFAULT_PDS: &str = "https://bsky.social";
pub const POST_COLLECTION: &str = "app.bsky.feed.post";
/// `app.bsky.feed.post` text limits.
pub const MAX_POST_GRAPHEMES: usize = 300;
pub const MAX_POST_BYTES: usize = 3000;

/// A logged-in session. Debug never shows the tokens.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct BlueskySession {
    pub access_jwt: String,
    pub refresh_jwt: String,
    pub did: String,
    pub handle: String,
}

impl std::fmt::Debug for BlueskySession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlueskySession")
            .field("did", &self.did)
            .field("handle", &self.handle)
            .field("access_expires_at", &self.access_expires_at())
            .finish_non_exhaustive()
    }
}

impl BlueskySession {
    /// The access token's `exp` (Unix seconds) when the PDS issued a JWT, so the caller can
    /// refresh ahead of time. The spec calls tokens opaque: `None` means "refresh on
    /// `Unauthorized`".
    #[must_use]
    pub fn access_expires_at(&self) -> Option<i64> {
        jwt_exp(&self.access_jwt)
    }

    /// The refresh token's `exp`, likewise.
    #[must_use]
    pub fn refresh_expires_at(&self) -> Option<i64> {
        jwt_exp(&self.refresh_jwt)
    }
}

fn jwt_exp(token: &str) -> Option<i64> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Value>(&bytes).ok()?.get("exp")?.as_i64()
}

/// Whether `password` has the shape of a Bluesky app password (`xxxx-xxxx-xxxx-xxxx`).
#[must_use]
pub fn is_app_password_shaped(password: &str) -> bool {
    let groups: Vec<&str> = password.split('-').collect();
    groups.len() == 4
        && groups.iter().all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
}

#[derive(Deserialize)]
struct XrpcErrorBody {
    error: Option<String>,
    message: Option<String>,
}

/// How long until `RateLimit-Reset` (epoch seconds), else `Retry-After`.
#[must_use]
pub fn rate_limit_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let reset = headers.get("ratelimit-reset").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<i64>().ok());
    match reset {
        Some(at) => Some(Duration::from_secs((at - jiff::Timestamp::now().as_second()).max(0).unsigned_abs())),
        None => crate::http::retry_after(headers),
    }
}

async fn xrpc_error(resp: reqwest::Response) -> ConnectorError {
    let status = resp.status();
    let retry = rate_limit_retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    // Proxies in front of a PDS answer HTML: keep only what the status says then.
    let parsed: Option<XrpcErrorBody> = serde_json::from_str(&body).ok();
    let code = parsed.as_ref().and_then(|e| e.error.clone()).unwrap_or_default();
    let message = match &parsed {
        Some(e) => format!("{code}: {}", e.message.clone().unwrap_or_default()).trim_end_matches(": ").to_string(),
        None => format!("the PDS answered {status}"),
    };
    match (status.as_u16(), code.as_str()) {
        (401, _) | (400, "ExpiredToken" | "InvalidToken") => ConnectorError::Unauthorized(message),
        (429, _) => ConnectorError::RateLimited { retry_after: retry },
        (501, _) => ConnectorError::Misconfigured(format!("the PDS does not implement this method ({message})")),
        (500..=599, _) => ConnectorError::Transient(message),
        _ => ConnectorError::Rejected(message),
    }
}

async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, ConnectorError> {
    let resp = req.send().await.map_err(|e| transport_error(&e))?;
    if resp.status().is_success() { Ok(resp) } else { Err(xrpc_error(resp).await) }
}

async fn read_json<T: serde::de::DeserializeOwned>(resp: reqwest::Response, what: &str) -> Result<T, ConnectorError> {
    let body = resp.text().await.map_err(|e| transport_error(&e))?;
    serde_json::from_str(&body)
        .map_err(|_| ConnectorError::Protocol(format!("the PDS's {what} answer is not the documented JSON")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionResponse {
    access_jwt: String,
    refresh_jwt: String,
    did: String,
    handle: String,
}

impl From<SessionResponse> for BlueskySession {
    fn from(s: SessionResponse) -> Self {
        Self { access_jwt: s.access_jwt, refresh_jwt: s.refresh_jwt, did: s.did, handle: s.handle }
    }
}

/// Logs in with an app password (`com.atproto.server.createSession`). Checks the user-supplied
/// `pds` origin first (https, public address unless `allow_private`) and refuses a password
/// that is not app-password shaped before sending anything.
pub async fn create_session(
    client: &reqwest::Client,
    pds: &str,
    identifier: &str,
    app_password: &str,
    allow_private: bool,
) -> Result<BlueskySession, ConnectorError> {
    if identifier.trim().is_empty() {
        return Err(ConnectorError::Rejected("a handle, DID or email is needed".into()));
    }
    if !is_app_password_shaped(app_password) {
        return Err(ConnectorError::Rejected(
            "this is not an app password (xxxx-xxxx-xxxx-xxxx); create one in Bluesky's settings under \
             Privacy and security → App passwords — Steward never takes the account's main password"
                .into(),
        ));
    }
    let origin = crate::net::check_outbound_url(pds, allow_private).await?;
    let body = json!({"identifier": identifier.trim(), "password": app_password});
    let resp = send(client.post(url(origin.as_str(), "/xrpc/com.atproto.server.createSession")).json(&body)).await?;
    Ok(read_json::<SessionResponse>(resp, "session").await?.into())
}

/// Trades the refresh token for a new pair (`com.atproto.server.refreshSession`). Store the
/// result at once: the old refresh token stops working two hours later. `Unauthorized` means
/// the refresh token is expired or revoked: log in again with the app password.
pub async fn refresh_session(
    client: &reqwest::Client,
    pds: &str,
    refresh_jwt: &str,
) -> Result<BlueskySession, ConnectorError> {
    let resp = send(client.post(url(pds, "/xrpc/com.atproto.server.refreshSession")).bearer_auth(refresh_jwt)).await?;
    Ok(read_json::<SessionResponse>(resp, "session").await?.into())
}

/// A profile as the AppView shows it (`app.bsky.actor.defs#profileViewDetailed`); the counts
/// are optional in the lexicon.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub did: String,
    pub handle: String,
    pub display_name: Option<String>,
    pub followers_count: Option<u64>,
    pub follows_count: Option<u64>,
    pub posts_count: Option<u64>,
}

/// The session's own profile through the PDS's AppView proxy (`app.bsky.actor.getProfile`).
pub async fn get_profile_view(
    client: &reqwest::Client,
    pds: &str,
    session: &BlueskySession,
) -> Result<ProfileView, ConnectorError> {
    let resp = send(
        client
            .get(url(pds, "/xrpc/app.bsky.actor.getProfile"))
            .bearer_auth(&session.access_jwt)
            .query(&[("actor", session.did.as_str())]),
    )
    .await?;
    read_json(resp, "profile").await
}

/// Who the session's account is (`app.bsky.actor.getProfile`).
pub async fn get_profile(
    client: &reqwest::Client,
    pds: &str,
    session: &BlueskySession,
) -> Result<Identity, ConnectorError> {
    let p = get_profile_view(client, pds, session).await?;
    let display_name = p.display_name.filter(|n| !n.is_empty()).unwrap_or_else(|| p.handle.clone());
    Ok(Identity { id: p.did, handle: format!("@{}", p.handle), display_name })
}

const TID_ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A TID (`specs/tid`): 53 bits of microseconds since the epoch and 10 bits of clock id,
/// in sortable base32, 13 characters.
#[must_use]
pub fn tid(micros: u64, clock_id: u16) -> String {
    let v = ((micros & ((1 << 53) - 1)) << 10) | u64::from(clock_id & 0x3ff);
    (0..13).rev().map(|i| TID_ALPHABET[((v >> (i * 5)) & 31) as usize] as char).collect()
}

/// A fresh TID for a record key: choose it once per intended post and reuse it on retries.
#[must_use]
pub fn new_tid() -> String {
    let micros = jiff::Timestamp::now().as_microsecond().max(0).unsigned_abs();
    let mut b = [0u8; 2];
    // Without randomness two servers could collide on a key; the OS generator failing is fatal.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut b).expect("the operating system's random number generator failed");
    tid(micros, u16::from_le_bytes(b))
}

/// An approximate count of user-perceived characters (extended grapheme clusters): the
/// domain's rule (`steward_domain::preview::grapheme_len`), which the editor's preview counts too.
#[must_use]
pub fn grapheme_len(text: &str) -> usize {
    steward_domain::preview::grapheme_len(text)
}

/// Checks a post's text against `app.bsky.feed.post`'s limits (≤300 graphemes, ≤3000 bytes).
pub fn check_post_text(text: &str) -> Result<(), ConnectorError> {
    if text.len() > MAX_POST_BYTES {
        return Err(ConnectorError::Rejected(format!("a post is at most {MAX_POST_BYTES} bytes")));
    }
    let n = grapheme_len(text);
    if n > MAX_POST_GRAPHEMES {
        return Err(ConnectorError::Rejected(format!(
            "a post is at most {MAX_POST_GRAPHEMES} characters; this one has {n}"
        )));
    }
    Ok(())
}

/// A blob as the PDS returned it; embed `raw` as is.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// `{"$type":"blob","ref":{"$link":…},"mimeType":…,"size":…}`.
    pub raw: Value,
    pub cid: String,
    pub mime_type: String,
    pub size: u64,
}

/// Uploads a blob (`com.atproto.repo.uploadBlob`, raw body). Reference it from a record within
/// minutes or the PDS deletes it. Images must be ≤1,000,000 bytes when referenced.
pub async fn upload_blob(
    client: &reqwest::Client,
    pds: &str,
    session: &BlueskySession,
    bytes: Vec<u8>,
    mime: &str,
) -> Result<Blob, ConnectorError> {
    let resp = send(
        client
            .post(url(pds, "/xrpc/com.atproto.repo.uploadBlob"))
            .bearer_auth(&session.access_jwt)
            .header(reqwest::header::CONTENT_TYPE, mime)
            .body(bytes),
    )
    .await?;
    let v: Value = read_json(resp, "blob").await?;
    let raw = v.get("blob").cloned().unwrap_or(Value::Null);
    let cid = raw.pointer("/ref/$link").and_then(Value::as_str);
    let mime_type = raw.get("mimeType").and_then(Value::as_str);
    let size = raw.get("size").and_then(Value::as_u64);
    match (cid, mime_type, size) {
        (Some(c), Some(m), Some(s)) => {
            Ok(Blob { cid: c.to_string(), mime_type: m.to_string(), size: s, raw: raw.clone() })
        }
        _ => Err(ConnectorError::Protocol("the PDS's blob answer is not the documented JSON".into())),
    }
}

/// A strong reference to a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordRef {
    pub uri: String,
    pub cid: String,
}

/// A post to create.
#[derive(Debug, Clone)]
pub struct PostDraft<'a> {
    pub text: &'a str,
    /// RFC 3339 with `Z`, fixed when the post was first attempted.
    pub created_at: &'a str,
    /// A TID from [`new_tid`], chosen once and sent on every attempt.
    pub rkey: &'a str,
    /// Images with their alt text (at most 4).
    pub images: &'a [(Blob, String)],
    /// `(root, parent)` when replying.
    pub reply: Option<(RecordRef, RecordRef)>,
    pub langs: &'a [String],
}

fn post_record(draft: &PostDraft<'_>) -> Value {
    let mut record = json!({"$type": POST_COLLECTION, "text": draft.text, "createdAt": draft.created_at});
    if !draft.images.is_empty() {
        let images: Vec<Value> = draft.images.iter().map(|(b, alt)| json!({"alt": alt, "image": b.raw})).collect();
        record["embed"] = json!({"$type": "app.bsky.embed.images", "images": images});
    }
    if let Some((root, parent)) = &draft.reply {
        record["reply"] = json!({"root": root, "parent": parent});
    }
    if !draft.langs.is_empty() {
        record["langs"] = json!(draft.langs);
    }
    record
}

/// Creates a post (`com.atproto.repo.createRecord` in `app.bsky.feed.post`) under the draft's
/// record key. There is no idempotency key in atproto; the record key plays that role: when
/// an attempt fails and the key turns out to be taken by a post with the same text (an
/// earlier attempt committed but its answer was lost), that post is returned instead of an
/// error.
pub async fn create_post(
    client: &reqwest::Client,
    pds: &str,
    session: &BlueskySession,
    draft: &PostDraft<'_>,
) -> Result<RecordRef, ConnectorError> {
    check_post_text(draft.text)?;
    if draft.images.len() > 4 {
        return Err(ConnectorError::Rejected("a post has at most 4 images".into()));
    }
    if draft.rkey.is_empty() || draft.rkey.len() > 512 {
        return Err(ConnectorError::Rejected("a record key is 1 to 512 characters".into()));
    }
    let body = json!({
        "repo": session.did, "collection": POST_COLLECTION, "rkey": draft.rkey, "record": post_record(draft),
    });
    let resp = client
        .post(url(pds, "/xrpc/com.atproto.repo.createRecord"))
        .bearer_auth(&session.access_jwt)
        .json(&body)
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    if resp.status().is_success() {
        return read_json(resp, "createRecord").await;
    }
    let err = xrpc_error(resp).await;
    if let ConnectorError::Rejected(_) = &err {
        // Which error a taken key gives is not documented; look instead of guessing.
        if let Some(existing) = get_record(client, pds, &session.did, POST_COLLECTION, draft.rkey).await? {
            if existing.value.get("text").and_then(Value::as_str) == Some(draft.text) {
                return Ok(RecordRef { uri: existing.uri, cid: existing.cid });
            }
            return Err(ConnectorError::Rejected(format!(
                "the record key {} is already used by a different post",
                draft.rkey
            )));
        }
    }
    Err(err)
}

/// `app.bsky.feed.getPosts` takes at most this many URIs per call.
pub const MAX_GET_POSTS: usize = 25;

/// A post's author as post views show it (`app.bsky.actor.defs#profileViewBasic`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Author {
    pub did: String,
    pub handle: String,
    pub display_name: Option<String>,
}

/// A post as the AppView shows it (`app.bsky.feed.defs#postView`). The counts are optional in
/// the lexicon: `None` is "not reported", not zero.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostView {
    pub uri: String,
    pub cid: String,
    pub author: Author,
    /// The `app.bsky.feed.post` record itself.
    pub record: Value,
    pub reply_count: Option<u64>,
    pub repost_count: Option<u64>,
    pub like_count: Option<u64>,
    pub quote_count: Option<u64>,
    pub indexed_at: Option<String>,
}

impl PostView {
    #[must_use]
    pub fn text(&self) -> &str {
        self.record.get("text").and_then(Value::as_str).unwrap_or_default()
    }

    /// The record's `createdAt` (RFC 3339), else when the AppView indexed it.
    #[must_use]
    pub fn created_at(&self) -> &str {
        self.record.get("createdAt").and_then(Value::as_str).or(self.indexed_at.as_deref()).unwrap_or_default()
    }

    #[must_use]
    pub fn strong_ref(&self) -> RecordRef {
        RecordRef { uri: self.uri.clone(), cid: self.cid.clone() }
    }

    /// `(root, parent)` when the post is a reply.
    #[must_use]
    pub fn reply_refs(&self) -> Option<(RecordRef, RecordRef)> {
        let reply = self.record.get("reply")?;
        let root = serde_json::from_value(reply.get("root")?.clone()).ok()?;
        let parent = serde_json::from_value(reply.get("parent")?.clone()).ok()?;
        Some((root, parent))
    }
}

/// Post views for these URIs (`app.bsky.feed.getPosts`), asked for in batches of
/// [`MAX_GET_POSTS`]. Posts that no longer exist are simply missing from the answer.
pub async fn get_posts(
    client: &reqwest::Client,
    pds: &str,
    session: &BlueskySession,
    uris: &[String],
) -> Result<Vec<PostView>, ConnectorError> {
    #[derive(Deserialize)]
    struct Posts {
        posts: Vec<PostView>,
    }
    let mut all = Vec::with_capacity(uris.len());
    for batch in uris.chunks(MAX_GET_POSTS) {
        let query: Vec<(&str, &str)> = batch.iter().map(|u| ("uris", u.as_str())).collect();
        let resp =
            send(client.get(url(pds, "/xrpc/app.bsky.feed.getPosts")).bearer_auth(&session.access_jwt).query(&query))
                .await?;
        all.extend(read_json::<Posts>(resp, "getPosts").await?.posts);
    }
    Ok(all)
}

/// A post and the replies below it, as `app.bsky.feed.getPostThread` returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    pub post: PostView,
    /// Every reply down to the requested depth, parents before their children; replies the
    /// AppView shows as not found or blocked are left out.
    pub replies: Vec<PostView>,
}

const THREAD_VIEW_POST: &str = "app.bsky.feed.defs#threadViewPost";

fn collect_replies(node: &Value, out: &mut Vec<PostView>) -> Result<(), ConnectorError> {
    for reply in node.get("replies").and_then(Value::as_array).into_iter().flatten() {
        if reply.get("$type").and_then(Value::as_str) != Some(THREAD_VIEW_POST) {
            continue;
        }
        let post = reply.get("post").cloned().unwrap_or(Value::Null);
        out.push(serde_json::from_value(post).map_err(|_| thread_protocol())?);
        collect_replies(reply, out)?;
    }
    Ok(())
}

fn thread_protocol() -> ConnectorError {
    ConnectorError::Protocol("the PDS's getPostThread answer is not the documented JSON".into())
}

/// The thread below `uri` down to `depth` levels of replies (`app.bsky.feed.getPostThread`,
/// `parentHeight=0`): `None` when the post no longer exists or is blocked.
pub async fn get_post_thread(
    client: &reqwest::Client,
    pds: &str,
    session: &BlueskySession,
    uri: &str,
    depth: u16,
) -> Result<Option<Thread>, ConnectorError> {
    let depth = depth.min(1000).to_string();
    let resp = client
        .get(url(pds, "/xrpc/app.bsky.feed.getPostThread"))
        .bearer_auth(&session.access_jwt)
        .query(&[("uri", uri), ("depth", depth.as_str()), ("parentHeight", "0")])
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    if !resp.status().is_success() {
        return match xrpc_error(resp).await {
            ConnectorError::Rejected(m) if m.starts_with("NotFound") => Ok(None),
            e => Err(e),
        };
    }
    let v: Value = read_json(resp, "getPostThread").await?;
    let thread = v.get("thread").ok_or_else(thread_protocol)?;
    if thread.get("$type").and_then(Value::as_str) != Some(THREAD_VIEW_POST) {
        return Ok(None);
    }
    let post =
        serde_json::from_value(thread.get("post").cloned().unwrap_or(Value::Null)).map_err(|_| thread_protocol())?;
    let mut replies = Vec::new();
    collect_replies(thread, &mut replies)?;
    Ok(Some(Thread { post, replies }))
}

/// Replies to the post `parent_uri` as the session's account: the parent is looked up for its
/// `cid` and its thread root (a reply's `reply.root`, else the parent itself), then created
/// like any post under `rkey`. Returns the new post and the root it hangs under.
pub async fn reply_to_post(
    client: &reqwest::Client,
    pds: &str,
    session: &BlueskySession,
    parent_uri: &str,
    text: &str,
    rkey: &str,
    created_at: &str,
) -> Result<(RecordRef, RecordRef), ConnectorError> {
    let parent = get_posts(client, pds, session, &[parent_uri.to_string()])
        .await?
        .into_iter()
        .find(|p| p.uri == parent_uri)
        .ok_or_else(|| ConnectorError::Rejected(format!("the post {parent_uri} does not exist (any more)")))?;
    let root = parent.reply_refs().map_or_else(|| parent.strong_ref(), |(root, _)| root);
    let draft =
        PostDraft { text, created_at, rkey, images: &[], reply: Some((root.clone(), parent.strong_ref())), langs: &[] };
    let created = create_post(client, pds, session, &draft).await?;
    Ok((created, root))
}

/// A record as stored in a repository.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Record {
    pub uri: String,
    pub cid: String,
    pub value: Value,
}

/// Reads a record (`com.atproto.repo.getRecord`; public, no token): `None` when it does not
/// exist. Use it to learn whether a post whose creation timed out exists.
pub async fn get_record(
    client: &reqwest::Client,
    pds: &str,
    repo: &str,
    collection: &str,
    rkey: &str,
) -> Result<Option<Record>, ConnectorError> {
    let resp = client
        .get(url(pds, "/xrpc/com.atproto.repo.getRecord"))
        .query(&[("repo", repo), ("collection", collection), ("rkey", rkey)])
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    if resp.status().is_success() {
        return read_json(resp, "getRecord").await.map(Some);
    }
    match xrpc_error(resp).await {
        ConnectorError::Rejected(m) if m.starts_with("RecordNotFound") => Ok(None),
        e => Err(e),
    }
}

/// The collection of a post's threadgate (one per post, under the post's record key).
pub const THREADGATE_COLLECTION: &str = "app.bsky.feed.threadgate";
/// How many replies a threadgate may hide (the lexicon's `maxLength`).
pub const MAX_HIDDEN_REPLIES: usize = 300;

/// The record key of an `at://{did}/{collection}/{rkey}` URI whose repository is `did`.
fn rkey_in(uri: &str, did: &str, collection: &str) -> Option<String> {
    let rest = uri.strip_prefix("at://")?.strip_prefix(did)?.strip_prefix('/')?;
    let rkey = rest.strip_prefix(collection)?.strip_prefix('/')?;
    (!rkey.is_empty() && !rkey.contains('/')).then(|| rkey.to_string())
}

/// The replies hidden under the account's post `post_uri` (its threadgate's `hiddenReplies`).
pub async fn hidden_replies(
    client: &reqwest::Client,
    pds: &str,
    session: &BlueskySession,
    post_uri: &str,
) -> Result<Vec<String>, ConnectorError> {
    let Some(rkey) = rkey_in(post_uri, &session.did, POST_COLLECTION) else {
        return Ok(Vec::new());
    };
    let gate = get_record(client, pds, &session.did, THREADGATE_COLLECTION, &rkey).await?;
    Ok(gate
        .and_then(|g| g.value.get("hiddenReplies").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|u| u.as_str().map(str::to_string))
        .collect())
}

/// Hides the reply `reply_uri` under the thread it belongs to, whose root must be one of the
/// account's posts: the root's threadgate (`app.bsky.feed.threadgate`, same record key) gets
/// the reply in `hiddenReplies`, written with `com.atproto.repo.putRecord` and compared-and-
/// swapped against the gate read (who may reply, `allow`, stays as it was: absent = anyone).
pub async fn hide_reply(
    client: &reqwest::Client,
    pds: &str,
    session: &BlueskySession,
    reply_uri: &str,
    created_at: &str,
) -> Result<(), ConnectorError> {
    let reply = get_posts(client, pds, session, &[reply_uri.to_string()])
        .await?
        .into_iter()
        .find(|p| p.uri == reply_uri)
        .ok_or_else(|| ConnectorError::Rejected(format!("the reply {reply_uri} does not exist (any more)")))?;
    let Some((root, _)) = reply.reply_refs() else {
        return Err(ConnectorError::Rejected("that post is not a reply".into()));
    };
    let Some(rkey) = rkey_in(&root.uri, &session.did, POST_COLLECTION) else {
        return Err(ConnectorError::Rejected("only replies in the account's own threads can be hidden".into()));
    };
    let existing = get_record(client, pds, &session.did, THREADGATE_COLLECTION, &rkey).await?;
    let mut record = existing.as_ref().map_or_else(
        || json!({"$type": THREADGATE_COLLECTION, "post": root.uri, "createdAt": created_at}),
        |g| g.value.clone(),
    );
    let mut hidden: Vec<Value> = record.get("hiddenReplies").and_then(Value::as_array).cloned().unwrap_or_default();
    if hidden.iter().any(|h| h.as_str() == Some(reply_uri)) {
        return Ok(());
    }
    if hidden.len() >= MAX_HIDDEN_REPLIES {
        return Err(ConnectorError::Rejected(format!(
            "Bluesky hides at most {MAX_HIDDEN_REPLIES} replies under one post"
        )));
    }
    hidden.push(json!(reply_uri));
    record["hiddenReplies"] = Value::Array(hidden);
    let mut body = json!({"repo": session.did, "collection": THREADGATE_COLLECTION, "rkey": rkey, "record": record});
    if let Some(g) = &existing {
        body["swapRecord"] = json!(g.cid);
    }
    let resp = client
        .post(url(pds, "/xrpc/com.atproto.repo.putRecord"))
        .bearer_auth(&session.access_jwt)
        .json(&body)
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    if resp.status().is_success() {
        return Ok(());
    }
    Err(xrpc_error(resp).await)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tids_are_13_sortable_characters() {
        let t = tid(1_688_137_381_887_007, 0);
        assert_eq!(t.len(), 13);
        assert!(tid(1, 0) < tid(2, 0) && tid(2, 0) < tid(2, 1));
        let (a, b) = (new_tid(), new_tid());
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| TID_ALPHABET.contains(&c)));
        assert!(matches!(a.as_bytes()[0], b'2'..=b'7' | b'a'..=b'j'), "top bit is zero: {a}");
    }

    #[test]
    fn graphemes_are_counted_like_people_count() {
        assert_eq!(grapheme_len("hello"), 5);
        assert_eq!(grapheme_len("e\u{301}"), 1, "combining accent");
        assert_eq!(grapheme_len("👍🏽"), 1, "skin tone");
        assert_eq!(grapheme_len("👨‍👩‍👧‍👦"), 1, "ZWJ family");
        assert_eq!(grapheme_len("🇫🇷🇩🇪"), 2, "two flags");
        assert_eq!(grapheme_len("日本語"), 3);
        assert!(check_post_text(&"a".repeat(300)).is_ok());
        assert!(check_post_text(&"a".repeat(301)).is_err());
        assert!(check_post_text(&"👨‍👩‍👧‍👦".repeat(150)).is_err(), "150 graphemes but > 3000 bytes");
        assert!(check_post_text(&"👍".repeat(300)).is_ok());
    }

    #[test]
    fn only_app_passwords_pass() {
        assert!(is_app_password_shaped("abcd-efgh-ij2k-lmn0"));
        for bad in
            ["hunter2", "ABCD-EFGH-IJKL-MNOP", "abcd-efgh-ijkl", "abcd-efgh-ijkl-mnop-qrst", "abcd efgh ijkl mnop"]
        {
            assert!(!is_app_password_shaped(bad), "{bad}");
        }
    }

    #[test]
    fn sessions_do_not_print_tokens() {
        use base64::Engine;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"exp":1700000000}"#);
        let s = BlueskySession {
            access_jwt: format!("eyJhbGciOiJIUzI1NiJ9.{payload}.secret-sig"),
            refresh_jwt: "refresh-secret".into(),
            did: "did:plc:abc".into(),
            handle: "alice.test".into(),
        };
        assert_eq!(s.access_expires_at(), Some(1_700_000_000));
        assert_eq!(s.refresh_expires_at(), None);
        let shown = format!("{s:?}");
        assert!(!shown.contains("secret") && !shown.contains(&payload), "{shown}");
    }
}
