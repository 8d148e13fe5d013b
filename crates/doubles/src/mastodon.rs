//! A double of one Mastodon instance: apps, OAuth, accounts, statuses, media, notifications.
//!
//! Built from mastodon/documentation `content/en/`: `methods/apps.md` (registration, 422 on a
//! relative redirect URI), `methods/oauth.md` (authorize redirect with `code`/`state` or
//! `error=access_denied`; `POST /oauth/token` checks client, code, `redirect_uri` and the PKCE
//! verifier; tokens have no `expires_in` and no refresh token; `POST /oauth/revoke`),
//! `api/oauth-scopes.md` (`write` covers `write:statuses`; 403 outside the granted scopes),
//! `methods/accounts.md` (`verify_credentials`), `methods/statuses.md` (create, context),
//! `methods/media.md` (`POST /api/v2/media` → 200 processed or 202 with `url: null`;
//! `GET /api/v1/media/:id` → 206 while processing), `methods/notifications.md`,
//! `api/rate-limits.md` (`X-RateLimit-Limit/Remaining/Reset`, Reset ISO 8601 with
//! microseconds, fixed windows aligned to epoch multiples, 429 `{"error":"Too many requests"}`
//! without `Retry-After`) and `entities/Error.md`; and from mastodon/mastodon
//! `app/services/post_status_service.rb` (Idempotency-Key per account, kept 3600 s after a
//! successful create, replay returns the original status without comparing bodies, failures
//! store nothing), `config/initializers/rack_attack.rb` and `app/lib/rate_limiter.rb` (status
//! creation has its own 300 per 3 h family with its own headers).
// Helpers return the HTTP answer to send as their error, as handlers do.
#![allow(clippy::result_large_err)]
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::core::{DoubleCore, Platform, html, json_error, oauth_error};
use crate::{bearer, random_token, urlencode, verifier_matches};

const CODE_TTL: i64 = 600;
const IDEMPOTENCY_TTL: i64 = 3600;

#[derive(Debug, Clone)]
pub struct Config {
    /// The instance's host, used in `acct`, `uri` and `url`.
    pub domain: String,
    /// The account that signs in at the consent screen.
    pub username: String,
    pub display_name: String,
    /// Authenticated API calls per token per window (Mastodon: 300 per 5 minutes).
    pub api_limit: u32,
    pub api_window: i64,
    /// Status creation per account per window (Mastodon: 300 per 3 hours).
    pub statuses_limit: u32,
    pub statuses_window: i64,
    /// `configuration.statuses.max_characters` / `max_media_attachments`.
    pub max_characters: usize,
    pub max_media_attachments: usize,
    /// How many `GET /api/v1/media/:id` answer 206 before a video/audio upload is ready.
    pub processing_polls: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            domain: "mastodon.example".into(),
            username: "olivia".into(),
            display_name: "Olivia Owner".into(),
            api_limit: 300,
            api_window: 300,
            statuses_limit: 300,
            statuses_window: 3 * 3600,
            max_characters: 500,
            max_media_attachments: 4,
            processing_polls: 2,
        }
    }
}

struct App {
    client_secret: String,
    redirect_uris: Vec<String>,
    scopes: Vec<String>,
}

struct Code {
    client_id: String,
    redirect_uri: String,
    challenge: Option<String>,
    scopes: Vec<String>,
    issued: i64,
    used: bool,
}

struct Token {
    client_id: String,
    account: usize,
    scopes: Vec<String>,
    revoked: bool,
}

/// A status stored on the double.
#[derive(Debug, Clone)]
pub struct StoredStatus {
    pub id: String,
    pub account: usize,
    pub text: String,
    /// The content warning (`spoiler_text`), empty when there is none.
    pub spoiler_text: String,
    pub visibility: String,
    pub in_reply_to_id: Option<String>,
    pub media_ids: Vec<String>,
    pub created_at: i64,
}

struct MediaRec {
    account: usize,
    kind: &'static str,
    description: Option<String>,
    polls_left: u32,
    /// The file as it arrived, so a test can compare it with what it uploaded to Steward.
    bytes: Vec<u8>,
}

struct NotificationRec {
    id: u64,
    kind: String,
    from: usize,
    status_id: Option<String>,
    for_account: usize,
    created_at: i64,
}

#[derive(Default)]
struct Inner {
    apps: HashMap<String, App>,
    codes: HashMap<String, Code>,
    tokens: HashMap<String, Token>,
    /// (username, display name); index 0 is the owner.
    accounts: Vec<(String, String)>,
    statuses: Vec<StoredStatus>,
    idempotency: HashMap<(usize, String), (String, i64)>,
    media: HashMap<String, MediaRec>,
    notifications: Vec<NotificationRec>,
    /// (key, family) → (window start, count).
    windows: HashMap<(String, &'static str), (i64, u32)>,
    next_id: u64,
    cancel_next: bool,
    /// (account, account it muted or blocked), by index.
    mutes: Vec<(usize, usize)>,
    blocks: Vec<(usize, usize)>,
}

/// A running Mastodon double.
#[derive(Clone)]
pub struct MastodonDouble {
    config: Arc<Config>,
    inner: Arc<Mutex<Inner>>,
    core: DoubleCore,
}

crate::core::accessors!(MastodonDouble, Inner, Config);

impl Platform for MastodonDouble {
    const BODY_LIMIT: usize = 64 << 20;
    const SERVER_ERROR_PAGE: &'static str = "<html><body>We're sorry, but something went wrong.</body></html>";

    fn rate_limited(&self) -> Response {
        let now = self.now();
        let reset = (now / self.config.api_window + 1) * self.config.api_window;
        too_many(self.config.api_limit, reset)
    }

    fn lost_answer() -> Response {
        html(500, "<html><body>502 Bad Gateway</body></html>")
    }
}

/// `2026-01-01T00:05:00.000000Z`, as Mastodon's `X-RateLimit-Reset`.
#[must_use]
pub fn iso8601(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000000Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

impl MastodonDouble {
    pub async fn start(config: Config) -> std::io::Result<Self> {
        let inner = Inner {
            accounts: vec![(config.username.clone(), config.display_name.clone())],
            next_id: 109_000_000_000_000_000,
            ..Inner::default()
        };
        let inner = Arc::new(Mutex::new(inner));
        let (core, listener) = DoubleCore::bind(vec![]).await?;
        let double = Self { config: Arc::new(config), inner, core };
        let router = Router::new()
            .route("/api/v1/apps", post(register_app))
            .route("/oauth/authorize", get(authorize))
            .route("/oauth/token", post(token))
            .route("/oauth/revoke", post(revoke))
            .route("/api/v1/accounts/verify_credentials", get(verify_credentials))
            .route("/api/v1/statuses", post(create_status))
            .route("/api/v1/statuses/{id}", get(show_status))
            .route("/api/v1/statuses/{id}/context", get(context))
            .route("/api/v2/media", post(upload_media))
            .route("/api/v1/media/{id}", get(show_media))
            .route("/api/v1/notifications", get(notifications))
            .route("/api/v1/accounts/{id}/mute", post(mute))
            .route("/api/v1/accounts/{id}/block", post(block));
        crate::core::serve(listener, router, &double);
        Ok(double)
    }

    /// The next authorization is denied by the user.
    pub fn cancel_next_authorization(&self) {
        self.lock().cancel_next = true;
    }

    /// The next matching request gets 503 with Mastodon's "temporary problem" error, as the
    /// instance answers when storage or the idempotency lock is in trouble.
    pub fn inject_unavailable(&self, path_prefix: &str) {
        self.answer_next(path_prefix, || {
            json_error(503, json!({"error": "There was a temporary problem serving your request, please try again"}))
        });
    }

    /// Revokes every token (the user removed the app under Settings → Authorized apps).
    pub fn revoke_all(&self) {
        for t in self.lock().tokens.values_mut() {
            t.revoked = true;
        }
    }

    /// The usernames `username` has muted and blocked, in order.
    #[must_use]
    pub fn muted_and_blocked_by(&self, username: &str) -> (Vec<String>, Vec<String>) {
        let inner = self.lock();
        let Some(me) = inner.accounts.iter().position(|(u, _)| u == username) else { return (vec![], vec![]) };
        let names = |list: &[(usize, usize)]| -> Vec<String> {
            list.iter().filter(|(by, _)| *by == me).map(|(_, who)| inner.accounts[*who].0.clone()).collect()
        };
        (names(&inner.mutes), names(&inner.blocks))
    }

    /// Every status on the instance, oldest first.
    #[must_use]
    pub fn statuses(&self) -> Vec<StoredStatus> {
        self.lock().statuses.clone()
    }

    /// The bytes of an uploaded media attachment, as the instance received them.
    #[must_use]
    pub fn media_bytes(&self, media_id: &str) -> Option<Vec<u8>> {
        self.lock().media.get(media_id).map(|m| m.bytes.clone())
    }

    /// The description (alt text) an uploaded media attachment was given, if any.
    #[must_use]
    pub fn media_description(&self, media_id: &str) -> Option<String> {
        self.lock().media.get(media_id).and_then(|m| m.description.clone())
    }

    /// Someone (`username`, a local account created on first use) replies to `status_id`; the
    /// status's author gets a `mention` notification. Returns the reply's id.
    pub fn reply_from(&self, username: &str, status_id: &str, text: &str) -> Option<String> {
        let now = self.now();
        let mut inner = self.lock();
        let parent_author = inner.statuses.iter().find(|s| s.id == status_id)?.account;
        let from = match inner.accounts.iter().position(|(u, _)| u == username) {
            Some(i) => i,
            None => {
                inner.accounts.push((username.to_string(), username.to_string()));
                inner.accounts.len() - 1
            }
        };
        let id = next_id(&mut inner);
        inner.statuses.push(StoredStatus {
            id: id.clone(),
            account: from,
            text: text.to_string(),
            spoiler_text: String::new(),
            visibility: "public".into(),
            in_reply_to_id: Some(status_id.to_string()),
            media_ids: vec![],
            created_at: now,
        });
        let nid = inner.next_id;
        inner.next_id += 1;
        inner.notifications.push(NotificationRec {
            id: nid,
            kind: "mention".into(),
            from,
            status_id: Some(id.clone()),
            for_account: parent_author,
            created_at: now,
        });
        Some(id)
    }
}

fn next_id(inner: &mut Inner) -> String {
    inner.next_id += 1;
    inner.next_id.to_string()
}

fn too_many(limit: u32, reset: i64) -> Response {
    let mut r = json_error(429, json!({"error": "Too many requests"}));
    set_rate_headers(r.headers_mut(), limit, 0, reset);
    r
}

fn set_rate_headers(h: &mut HeaderMap, limit: u32, remaining: u32, reset: i64) {
    let pairs = [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", iso8601(reset)),
    ];
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
}

/// Counts a call in an epoch-aligned fixed window: `Err(reset)` when over the limit,
/// else `(remaining, reset)`.
fn count(
    inner: &mut Inner,
    now: i64,
    key: &str,
    family: &'static str,
    limit: u32,
    window: i64,
) -> Result<(u32, i64), i64> {
    let start = now - now.rem_euclid(window);
    let entry = inner.windows.entry((key.to_string(), family)).or_insert((start, 0));
    if entry.0 != start {
        *entry = (start, 0);
    }
    let reset = start + window;
    if entry.1 >= limit {
        return Err(reset);
    }
    entry.1 += 1;
    Ok((limit - entry.1, reset))
}

/// Parses a JSON or form body into a JSON object (`media_ids[]` and `redirect_uris[]` become arrays).
fn params(headers: &HeaderMap, body: &[u8]) -> Value {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct.starts_with("application/json") {
        return serde_json::from_slice(body).unwrap_or(Value::Null);
    }
    let mut map = serde_json::Map::new();
    for pair in String::from_utf8_lossy(body).split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (form_decode(k), form_decode(v));
        if let Some(k) = k.strip_suffix("[]") {
            let e = map.entry(k.to_string()).or_insert_with(|| json!([]));
            if let Some(a) = e.as_array_mut() {
                a.push(json!(v));
            }
        } else {
            map.insert(k, json!(v));
        }
    }
    Value::Object(map)
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn is_absolute_uri(u: &str) -> bool {
    u == "urn:ietf:wg:oauth:2.0:oob"
        || u.split_once("://").is_some_and(|(s, rest)| {
            !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) && !rest.is_empty()
        })
}

/// Whether `granted` covers `wanted` (`write` covers `write:statuses`).
fn covers(granted: &[String], wanted: &str) -> bool {
    granted.iter().any(|g| g == wanted || wanted.split_once(':').is_some_and(|(top, _)| g == top))
}

async fn register_app(State(d): State<MastodonDouble>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let p = params(&headers, &body);
    let Some(name) = str_of(&p, "client_name").filter(|n| !n.is_empty()) else {
        return json_error(422, json!({"error": "Validation failed: Application name can't be blank"}));
    };
    let uris: Vec<String> = match p.get("redirect_uris") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        _ => vec![],
    };
    if uris.is_empty() || !uris.iter().all(|u| is_absolute_uri(u)) {
        return json_error(422, json!({"error": "Validation failed: Redirect URI must be an absolute URI."}));
    }
    let scopes: Vec<String> = str_of(&p, "scopes").unwrap_or("read").split_whitespace().map(str::to_string).collect();
    let client_id = random_token("");
    let client_secret = random_token("");
    let mut inner = d.lock();
    d.issue(&client_secret);
    let id = next_id(&mut inner);
    inner.apps.insert(
        client_id.clone(),
        App { client_secret: client_secret.clone(), redirect_uris: uris.clone(), scopes: scopes.clone() },
    );
    axum::Json(json!({
        "id": id, "name": name, "website": p.get("website").cloned().unwrap_or(Value::Null),
        "scopes": scopes, "redirect_uri": uris.join("\n"), "redirect_uris": uris,
        "client_id": client_id, "client_secret": client_secret, "client_secret_expires_at": 0,
    }))
    .into_response()
}

fn found(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
}

async fn authorize(State(d): State<MastodonDouble>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let mut inner = d.lock();
    let redirect = get("redirect_uri");
    // Unknown client or redirect URI: an error page, never a redirect.
    let Some(app) = inner.apps.get(&get("client_id")) else {
        return (
            StatusCode::UNAUTHORIZED,
            "<html><body>Client authentication failed due to unknown client</body></html>",
        )
            .into_response();
    };
    if !app.redirect_uris.contains(&redirect) {
        return (StatusCode::BAD_REQUEST, "<html><body>The redirect uri included is not valid.</body></html>")
            .into_response();
    }
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let state = urlencode(&get("state"));
    let scopes: Vec<String> = get("scope").split_whitespace().map(str::to_string).collect();
    let scopes = if scopes.is_empty() { vec!["read".to_string()] } else { scopes };
    if get("response_type") != "code" {
        return found(&format!("{redirect}{sep}error=unsupported_response_type&state={state}"));
    }
    if !scopes.iter().all(|s| app.scopes.contains(s) || covers(&app.scopes, s)) {
        return found(&format!(
            "{redirect}{sep}error=invalid_scope&error_description={}&state={state}",
            urlencode("The requested scope is invalid, unknown, or malformed.")
        ));
    }
    if q.contains_key("code_challenge") && get("code_challenge_method") != "S256" {
        return found(&format!("{redirect}{sep}error=invalid_request&state={state}"));
    }
    if std::mem::take(&mut inner.cancel_next) {
        return found(&format!(
            "{redirect}{sep}error=access_denied&error_description={}&state={state}",
            urlencode("The resource owner or authorization server denied the request.")
        ));
    }
    let code = random_token("");
    let issued = d.now();
    inner.codes.insert(
        code.clone(),
        Code {
            client_id: get("client_id"),
            redirect_uri: redirect.clone(),
            challenge: q.get("code_challenge").cloned(),
            scopes,
            issued,
            used: false,
        },
    );
    found(&format!("{redirect}{sep}code={code}&state={state}"))
}

async fn token(State(d): State<MastodonDouble>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let p = params(&headers, &body);
    let get = |k: &str| str_of(&p, k).map(str::to_string);
    let mut inner = d.lock();
    let now = d.now();
    let client_id = get("client_id").unwrap_or_default();
    let authentic = inner.apps.get(&client_id).is_some_and(|a| Some(&a.client_secret) == get("client_secret").as_ref());
    if !authentic {
        return oauth_error(
            401,
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
        );
    }
    if get("grant_type").as_deref() != Some("authorization_code") {
        return oauth_error(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    let invalid_grant = || {
        oauth_error(
            400,
            "invalid_grant",
            "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.",
        )
    };
    let Some(c) = get("code").and_then(|c| inner.codes.get_mut(&c)) else {
        return invalid_grant();
    };
    let verifier_ok = verifier_matches(c.challenge.as_deref(), get("code_verifier").as_deref());
    if c.used
        || now - c.issued > CODE_TTL
        || c.client_id != client_id
        || Some(&c.redirect_uri) != get("redirect_uri").as_ref()
        || !verifier_ok
    {
        return invalid_grant();
    }
    c.used = true;
    let scopes = c.scopes.clone();
    let access = random_token("");
    d.issue(&access);
    inner.tokens.insert(access.clone(), Token { client_id, account: 0, scopes: scopes.clone(), revoked: false });
    axum::Json(json!({"access_token": access, "token_type": "Bearer", "scope": scopes.join(" "), "created_at": now}))
        .into_response()
}

async fn revoke(State(d): State<MastodonDouble>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let p = params(&headers, &body);
    let mut inner = d.lock();
    let client_id = str_of(&p, "client_id").unwrap_or_default().to_string();
    if inner.apps.get(&client_id).is_none_or(|a| Some(a.client_secret.as_str()) != str_of(&p, "client_secret")) {
        return oauth_error(401, "invalid_client", "Client authentication failed");
    }
    if let Some(t) = str_of(&p, "token").and_then(|t| inner.tokens.get_mut(t)) {
        if t.client_id != client_id {
            return oauth_error(403, "unauthorized_client", "You are not authorized to revoke this token");
        }
        t.revoked = true;
    }
    axum::Json(json!({})).into_response()
}

/// Authenticates the bearer, checks the scope and counts the call: `Ok((account, token))` or the answer.
fn authed(
    d: &MastodonDouble,
    inner: &mut Inner,
    headers: &HeaderMap,
    scope: &str,
) -> Result<(usize, String), Response> {
    let token = bearer(headers).unwrap_or("").to_string();
    let Some(t) = inner.tokens.get(&token) else {
        return Err(json_error(401, json!({"error": "The access token is invalid"})));
    };
    if t.revoked {
        return Err(json_error(401, json!({"error": "The access token was revoked"})));
    }
    if !covers(&t.scopes, scope) {
        return Err(json_error(403, json!({"error": "This action is outside the authorized scopes"})));
    }
    let account = t.account;
    if let Err(reset) = count(inner, d.now(), &token, "api", d.config.api_limit, d.config.api_window) {
        return Err(too_many(d.config.api_limit, reset));
    }
    Ok((account, token))
}

fn with_api_headers(d: &MastodonDouble, inner: &Inner, token: &str, mut r: Response) -> Response {
    if let Some((start, n)) = inner.windows.get(&(token.to_string(), "api")) {
        set_rate_headers(
            r.headers_mut(),
            d.config.api_limit,
            d.config.api_limit.saturating_sub(*n),
            start + d.config.api_window,
        );
    }
    r
}

fn account_json(d: &MastodonDouble, inner: &Inner, i: usize) -> Value {
    let (username, display) = &inner.accounts[i];
    json!({
        "id": (100 + i).to_string(), "username": username, "acct": username, "display_name": display,
        "locked": false, "bot": false, "url": format!("https://{}/@{username}", d.config.domain),
        "avatar": format!("https://{}/avatars/original/missing.png", d.config.domain),
    })
}

fn media_json(d: &MastodonDouble, id: &str, m: &MediaRec) -> Value {
    let ready = m.polls_left == 0;
    let url = ready.then(|| format!("https://{}/system/media_attachments/{id}/original", d.config.domain));
    json!({
        "id": id, "type": m.kind, "url": url, "preview_url": format!("https://{}/system/media_attachments/{id}/small", d.config.domain),
        "remote_url": null, "text_url": null, "meta": {}, "description": m.description, "blurhash": null,
    })
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn status_json(d: &MastodonDouble, inner: &Inner, s: &StoredStatus) -> Value {
    let username = &inner.accounts[s.account].0;
    let media: Vec<Value> =
        s.media_ids.iter().filter_map(|id| inner.media.get(id).map(|m| media_json(d, id, m))).collect();
    json!({
        "id": s.id, "created_at": iso8601(s.created_at).replace(".000000Z", ".000Z"),
        "in_reply_to_id": s.in_reply_to_id, "sensitive": !s.spoiler_text.is_empty(), "spoiler_text": s.spoiler_text,
        "visibility": s.visibility,
        "language": "en", "uri": format!("https://{}/users/{username}/statuses/{}", d.config.domain, s.id),
        "url": format!("https://{}/@{username}/{}", d.config.domain, s.id),
        "replies_count": inner.statuses.iter().filter(|r| r.in_reply_to_id.as_deref() == Some(&s.id)).count(),
        "reblogs_count": 0, "favourites_count": 0,
        "content": format!("<p>{}</p>", escape_html(&s.text)), "media_attachments": media,
        "account": account_json(d, inner, s.account), "application": {"name": "Steward", "website": null},
    })
}

async fn verify_credentials(State(d): State<MastodonDouble>, headers: HeaderMap) -> Response {
    let mut inner = d.lock();
    let (account, token) = match authed(&d, &mut inner, &headers, "read:accounts") {
        Ok(a) => a,
        Err(r) => return r,
    };
    let body = account_json(&d, &inner, account);
    with_api_headers(&d, &inner, &token, axum::Json(body).into_response())
}

async fn create_status(State(d): State<MastodonDouble>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let p = params(&headers, &body);
    let mut inner = d.lock();
    let (account, token) = match authed(&d, &mut inner, &headers, "write:statuses") {
        Ok(a) => a,
        Err(r) => return r,
    };
    let now = d.now();
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    if let Some(k) = &key
        && let Some((id, at)) = inner.idempotency.get(&(account, k.clone())).cloned()
        && now - at < IDEMPOTENCY_TTL
        && let Some(s) = inner.statuses.iter().find(|s| s.id == id)
    {
        let body = status_json(&d, &inner, s);
        return with_api_headers(&d, &inner, &token, axum::Json(body).into_response());
    }
    let text = str_of(&p, "status").unwrap_or("").to_string();
    let media_ids: Vec<String> = match p.get("media_ids") {
        Some(Value::Array(a)) => {
            a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect()
        }
        _ => vec![],
    };
    if text.trim().is_empty() && media_ids.is_empty() {
        return json_error(422, json!({"error": "Validation failed: Text can't be blank"}));
    }
    let spoiler_text = str_of(&p, "spoiler_text").unwrap_or("").to_string();
    // Mastodon counts the content warning with the text against the limit.
    if text.chars().count() + spoiler_text.chars().count() > d.config.max_characters {
        return json_error(
            422,
            json!({"error": format!("Validation failed: Text character limit of {} exceeded", d.config.max_characters)}),
        );
    }
    if media_ids.len() > d.config.max_media_attachments {
        return json_error(422, json!({"error": "Validation failed: Media attachments Too many attachments"}));
    }
    for id in &media_ids {
        match inner.media.get(id) {
            Some(m) if m.account == account && m.polls_left == 0 => {}
            Some(m) if m.account == account => {
                return json_error(
                    422,
                    json!({"error": "Cannot attach files that have not finished processing. Try again in a moment!"}),
                );
            }
            _ => return json_error(404, json!({"error": "Record not found"})),
        }
    }
    let visibility = str_of(&p, "visibility").unwrap_or("public").to_string();
    if !["public", "unlisted", "private", "direct"].contains(&visibility.as_str()) {
        return json_error(422, json!({"error": "Validation failed: Visibility is not included in the list"}));
    }
    let in_reply_to_id = str_of(&p, "in_reply_to_id").map(str::to_string);
    if let Some(r) = &in_reply_to_id
        && !inner.statuses.iter().any(|s| &s.id == r)
    {
        return json_error(404, json!({"error": "Record not found"}));
    }
    // Only creations count against the statuses family.
    let (remaining, reset) = match count(
        &mut inner,
        d.now(),
        &(account.to_string()),
        "statuses",
        d.config.statuses_limit,
        d.config.statuses_window,
    ) {
        Ok(r) => r,
        Err(reset) => return too_many(d.config.statuses_limit, reset),
    };
    let id = next_id(&mut inner);
    let s = StoredStatus {
        id: id.clone(),
        account,
        text,
        spoiler_text,
        visibility,
        in_reply_to_id,
        media_ids,
        created_at: now,
    };
    inner.statuses.push(s.clone());
    if let Some(k) = key {
        inner.idempotency.insert((account, k), (id, now));
    }
    let mut r = axum::Json(status_json(&d, &inner, &s)).into_response();
    // Status creation reports its own family, the one closest to exhaustion here.
    set_rate_headers(r.headers_mut(), d.config.statuses_limit, remaining, reset);
    r
}

async fn show_status(State(d): State<MastodonDouble>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut inner = d.lock();
    let token = match authed(&d, &mut inner, &headers, "read:statuses") {
        Ok((_, t)) => t,
        Err(r) => return r,
    };
    let Some(s) = inner.statuses.iter().find(|s| s.id == id) else {
        return json_error(404, json!({"error": "Record not found"}));
    };
    let body = status_json(&d, &inner, s);
    with_api_headers(&d, &inner, &token, axum::Json(body).into_response())
}

async fn context(State(d): State<MastodonDouble>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut inner = d.lock();
    let token = match authed(&d, &mut inner, &headers, "read:statuses") {
        Ok((_, t)) => t,
        Err(r) => return r,
    };
    let Some(s) = inner.statuses.iter().find(|s| s.id == id).cloned() else {
        return json_error(404, json!({"error": "Record not found"}));
    };
    let mut ancestors = vec![];
    let mut parent = s.in_reply_to_id.clone();
    while let Some(p) = parent {
        let Some(ps) = inner.statuses.iter().find(|x| x.id == p) else { break };
        ancestors.insert(0, status_json(&d, &inner, ps));
        parent = ps.in_reply_to_id.clone();
    }
    let mut descendants = vec![];
    let mut frontier = vec![s.id.clone()];
    while let Some(cur) = frontier.pop() {
        for c in inner.statuses.iter().filter(|x| x.in_reply_to_id.as_deref() == Some(&cur)) {
            descendants.push(status_json(&d, &inner, c));
            frontier.push(c.id.clone());
        }
    }
    let body = json!({"ancestors": ancestors, "descendants": descendants});
    with_api_headers(&d, &inner, &token, axum::Json(body).into_response())
}

/// The parts of a `multipart/form-data` body: (name, content type, bytes).
/// (name, content type, bytes).
type Part = (String, Option<String>, Vec<u8>);

fn multipart(headers: &HeaderMap, body: &[u8]) -> Option<Vec<Part>> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let boundary = ct.split(';').find_map(|p| p.trim().strip_prefix("boundary="))?.trim_matches('"');
    let delim = format!("--{boundary}");
    let mut parts = vec![];
    let mut rest = body;
    loop {
        let start = find(rest, delim.as_bytes())? + delim.len();
        rest = &rest[start..];
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&rest[..head_end]).to_string();
        let content = &rest[head_end + 4..];
        let end = find(content, format!("\r\n{delim}").as_bytes())?;
        let name = head
            .split(';')
            .find_map(|p| p.trim().strip_prefix("name="))
            .map(|n| n.split(['"']).nth(1).unwrap_or(n).to_string())?;
        let ctype = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type:").or_else(|| l.strip_prefix("content-type:")))
            .map(|v| v.trim().to_string());
        parts.push((name, ctype, content[..end].to_vec()));
        rest = &content[end + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

async fn upload_media(State(d): State<MastodonDouble>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let mut inner = d.lock();
    let (account, token) = match authed(&d, &mut inner, &headers, "write:media") {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(parts) = multipart(&headers, &body) else {
        return json_error(422, json!({"error": "Validation failed: File can't be blank"}));
    };
    let Some((_, ctype, bytes)) = parts.iter().find(|(n, _, _)| n == "file") else {
        return json_error(422, json!({"error": "Validation failed: File can't be blank"}));
    };
    let ctype = ctype.clone().unwrap_or_default();
    let kind = match ctype.as_str() {
        "image/png" | "image/jpeg" | "image/webp" | "image/heic" | "image/avif" => "image",
        "image/gif" => "gifv",
        "video/mp4" | "video/webm" | "video/quicktime" => "video",
        "audio/mpeg" | "audio/ogg" | "audio/wav" | "audio/mp4" => "audio",
        _ => {
            return json_error(
                422,
                json!({"error": "Validation failed: File content type is invalid, File is invalid"}),
            );
        }
    };
    if bytes.is_empty() {
        return json_error(422, json!({"error": "Validation failed: File file size must be greater than 0 Bytes"}));
    }
    let description =
        parts.iter().find(|(n, _, _)| n == "description").map(|(_, _, b)| String::from_utf8_lossy(b).to_string());
    let polls_left = if kind == "image" { 0 } else { d.config.processing_polls };
    let id = next_id(&mut inner);
    let m = MediaRec { account, kind, description, polls_left, bytes: bytes.clone() };
    let body = media_json(&d, &id, &m);
    inner.media.insert(id, m);
    let status = if polls_left == 0 { StatusCode::OK } else { StatusCode::ACCEPTED };
    with_api_headers(&d, &inner, &token, (status, axum::Json(body)).into_response())
}

async fn show_media(State(d): State<MastodonDouble>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut inner = d.lock();
    let (account, token) = match authed(&d, &mut inner, &headers, "write:media") {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Some(m) = inner.media.get_mut(&id).filter(|m| m.account == account) else {
        return json_error(404, json!({"error": "Record not found"}));
    };
    let processing = m.polls_left > 0;
    m.polls_left = m.polls_left.saturating_sub(1);
    let Some(m) = inner.media.get(&id) else {
        return json_error(404, json!({"error": "Record not found"}));
    };
    let mut body = media_json(&d, &id, m);
    if processing {
        body["url"] = Value::Null;
    }
    let status = if processing { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    with_api_headers(&d, &inner, &token, (status, axum::Json(body)).into_response())
}

async fn notifications(
    State(d): State<MastodonDouble>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = d.lock();
    let (account, token) = match authed(&d, &mut inner, &headers, "read:notifications") {
        Ok(a) => a,
        Err(r) => return r,
    };
    let since: u64 = q.get("since_id").and_then(|s| s.parse().ok()).unwrap_or(0);
    let limit: usize = q.get("limit").and_then(|s| s.parse().ok()).unwrap_or(40).clamp(1, 80);
    let mut list: Vec<&NotificationRec> =
        inner.notifications.iter().filter(|n| n.for_account == account && n.id > since).collect();
    list.sort_by_key(|n| std::cmp::Reverse(n.id));
    list.truncate(limit);
    let body: Vec<Value> = list
        .iter()
        .map(|n| {
            let status = n.status_id.as_ref().and_then(|id| inner.statuses.iter().find(|s| &s.id == id)).map(|s| status_json(&d, &inner, s));
            json!({"id": n.id.to_string(), "type": n.kind, "created_at": iso8601(n.created_at), "account": account_json(&d, &inner, n.from), "status": status})
        })
        .collect();
    let mut r = axum::Json(body).into_response();
    if let (Some(first), Some(last)) = (list.first(), list.last())
        && let Ok(v) = HeaderValue::from_str(&format!(
            "<{0}/api/v1/notifications?max_id={1}>; rel=\"next\", <{0}/api/v1/notifications?min_id={2}>; rel=\"prev\"",
            d.base, last.id, first.id
        ))
    {
        r.headers_mut().insert(header::LINK, v);
    }
    with_api_headers(&d, &inner, &token, r)
}

/// `Relationship` as Mastodon answers `POST /api/v1/accounts/:id/{mute,block}`.
fn relationship_json(inner: &Inner, me: usize, other: usize) -> Value {
    json!({
        "id": (100 + other).to_string(), "following": false, "showing_reblogs": false, "notifying": false,
        "followed_by": false, "blocking": inner.blocks.contains(&(me, other)), "blocked_by": inner.blocks.contains(&(other, me)),
        "muting": inner.mutes.contains(&(me, other)), "muting_notifications": inner.mutes.contains(&(me, other)),
        "requested": false, "domain_blocking": false, "endorsed": false, "note": "",
    })
}

async fn mute(State(d): State<MastodonDouble>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    mute_or_block(&d, &headers, &id, false)
}

async fn block(State(d): State<MastodonDouble>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    mute_or_block(&d, &headers, &id, true)
}

/// Mutes (scope `write:mutes`) or blocks (`write:blocks`) an account; repeating is harmless.
fn mute_or_block(d: &MastodonDouble, headers: &HeaderMap, id: &str, block: bool) -> Response {
    let mut inner = d.lock();
    let scope = if block { "write:blocks" } else { "write:mutes" };
    let (me, token) = match authed(d, &mut inner, headers, scope) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let other = id.parse::<usize>().ok().and_then(|n| n.checked_sub(100)).filter(|i| *i < inner.accounts.len());
    let Some(other) = other else {
        return json_error(404, json!({"error": "Record not found"}));
    };
    if other == me {
        return json_error(422, json!({"error": "Validation failed: You cannot do this to yourself"}));
    }
    let list = if block { &mut inner.blocks } else { &mut inner.mutes };
    if !list.contains(&(me, other)) {
        list.push((me, other));
    }
    let body = relationship_json(&inner, me, other);
    with_api_headers(d, &inner, &token, axum::Json(body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_matches_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(iso8601(1_767_225_900), "2026-01-01T00:05:00.000000Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn form_bodies_decode() {
        assert_eq!(form_decode("a+b%21"), "a b!");
        assert_eq!(form_decode("100%"), "100%");
    }
}
