//! Mastodon, on any instance: dynamic app registration, OAuth 2.0 with PKCE, identity,
//! statuses with `Idempotency-Key`, media uploads with asynchronous processing,
//! notifications and reply threads.
//!
//! Protocol (mastodon/documentation, `content/en/`): `methods/apps.md` (`POST /api/v1/apps`),
//! `methods/oauth.md` (`GET /oauth/authorize`, `POST /oauth/token`, `POST /oauth/revoke`;
//! tokens carry no `expires_in` and there is no refresh token), `api/oauth-tokens.md`,
//! `methods/accounts.md` (`verify_credentials`), `methods/statuses.md` (create with
//! `Idempotency-Key`, `context`), `methods/media.md` (`POST /api/v2/media` → 200 or 202,
//! `GET /api/v1/media/:id` → 206 while processing), `methods/notifications.md`,
//! `api/rate-limits.md` (`X-RateLimit-Reset` is ISO 8601; 429 has no `Retry-After`),
//! `entities/Error.md` (`{"error","error_description"?}`); server code
//! `app/services/post_status_service.rb` (the idempotency key is kept per account for one hour
//! and a replay returns the original status).
//!
//! Every function takes the instance origin (`https://mastodon.example`). The origin comes
//! from a user, so [`register_app`] checks it with [`crate::net::check_outbound_url`] and
//! returns the normalized origin in [`RegisteredApp::instance`]; later calls use that.
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use zeroize::Zeroizing;

use crate::http::{transport_error, url};
use crate::oauth::{self, Answer, ErrorBody, TokenEndpoint};
use crate::{ConnectorError, Identity, TokenSet};

/// What Steward asks for: who the account is, posting, uploading media, reading replies
/// (`read:statuses` is needed for `GET /api/v1/statuses/:id/context` with a token).
pub const SCOPES: &str =
    "read:accounts read:statuses write:statuses write:media read:notifications write:mutes write:blocks";

/// An OAuth application registered on one instance (register once per instance, then cache).
#[derive(Clone)]
pub struct RegisteredApp {
    /// The normalized instance origin the app belongs to.
    pub instance: String,
    pub client_id: String,
    pub client_secret: Zeroizing<String>,
    pub redirect_uri: String,
    pub scopes: String,
}

impl std::fmt::Debug for RegisteredApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredApp")
            .field("instance", &self.instance)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

fn message_of(body: &str, status: reqwest::StatusCode) -> String {
    ErrorBody::parse(body)
        .map(|e| match e.error_description {
            Some(d) if !d.is_empty() => format!("{}: {d}", e.error),
            _ => e.error,
        })
        .unwrap_or_else(|| format!("the instance answered {status}"))
}

/// How long until `X-RateLimit-Reset` (ISO 8601), or the `Retry-After` seconds if an
/// intermediary sent one.
#[must_use]
pub fn rate_limit_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let reset = headers
        .get("x-ratelimit-reset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<jiff::Timestamp>().ok());
    match reset {
        Some(at) => {
            let ms = at.as_millisecond() - jiff::Timestamp::now().as_millisecond();
            Some(Duration::from_millis(ms.max(0).unsigned_abs()))
        }
        None => crate::http::retry_after(headers),
    }
}

/// Maps a non-success answer to a connector error.
async fn api_error(resp: reqwest::Response) -> ConnectorError {
    let status = resp.status();
    let retry = rate_limit_retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    error_of(status, retry, &body)
}

fn error_of(status: reqwest::StatusCode, retry: Option<Duration>, body: &str) -> ConnectorError {
    let message = message_of(body, status);
    match status.as_u16() {
        401 => ConnectorError::Unauthorized(message),
        429 => ConnectorError::RateLimited { retry_after: retry },
        500..=599 => ConnectorError::Transient(message),
        _ => ConnectorError::Rejected(message),
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(resp: reqwest::Response, what: &str) -> Result<T, ConnectorError> {
    let body = resp.text().await.map_err(|e| transport_error(&e))?;
    serde_json::from_str(&body)
        .map_err(|_| ConnectorError::Protocol(format!("the instance's {what} answer is not the documented JSON")))
}

async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, ConnectorError> {
    let resp = req.send().await.map_err(|e| transport_error(&e))?;
    if resp.status().is_success() { Ok(resp) } else { Err(api_error(resp).await) }
}

#[derive(Deserialize)]
struct AppResponse {
    client_id: String,
    client_secret: String,
}

/// Registers Steward as an OAuth application on the instance (`POST /api/v1/apps`). Checks the
/// user-supplied `instance` first (https, public address unless `allow_private`).
pub async fn register_app(
    client: &reqwest::Client,
    instance: &str,
    client_name: &str,
    redirect_uri: &str,
    scopes: &str,
    website: Option<&str>,
    allow_private: bool,
) -> Result<RegisteredApp, ConnectorError> {
    let origin = crate::net::check_outbound_url(instance, allow_private).await?;
    let instance = origin.as_str().trim_end_matches('/').to_string();
    let mut body = json!({"client_name": client_name, "redirect_uris": [redirect_uri], "scopes": scopes});
    if let Some(w) = website {
        body["website"] = json!(w);
    }
    let resp = send(client.post(url(&instance, "/api/v1/apps")).json(&body)).await?;
    let app: AppResponse = read_json(resp, "app registration").await?;
    Ok(RegisteredApp {
        instance,
        client_id: app.client_id,
        client_secret: Zeroizing::new(app.client_secret),
        redirect_uri: redirect_uri.to_string(),
        scopes: scopes.to_string(),
    })
}

/// The instance's consent page (`GET /oauth/authorize`) with `state` and a PKCE S256 challenge.
/// `scopes` must be a subset of the registered ones.
pub fn authorize_url(
    app: &RegisteredApp,
    scopes: &str,
    state: &str,
    code_challenge: &str,
) -> Result<String, ConnectorError> {
    let params = [
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", app.redirect_uri.as_str()),
        ("scope", scopes),
        ("state", state),
        ("code_challenge", code_challenge),
        ("code_challenge_method", "S256"),
    ];
    oauth::authorize_url(&url(&app.instance, "/oauth/authorize"), &params, "the instance origin is not a URL")
}

/// Mastodon's tokens live until revoked, so its answer has no `expires_in`; honoured if an
/// instance sends one.
const TOKEN_ENDPOINT: TokenEndpoint =
    TokenEndpoint { path: "/oauth/token", who: "the instance", expiring: false, error: token_error };

/// Classifies an answer of `POST /oauth/token`.
fn token_error(a: &Answer<'_>) -> Option<ConnectorError> {
    if a.status.is_success() {
        return None;
    }
    let body = a.body.unwrap_or_default();
    if a.status == reqwest::StatusCode::UNAUTHORIZED {
        // 401 here is `invalid_client`: the cached app registration is no longer valid.
        return Some(ConnectorError::Misconfigured(format!(
            "the instance refused Steward's app registration; register again ({})",
            message_of(body, a.status)
        )));
    }
    Some(error_of(a.status, rate_limit_retry_after(a.headers), body))
}

/// Exchanges the callback's code (`POST /oauth/token`). Mastodon tokens do not expire and come
/// without a refresh token, so `expires_at` is `None` unless the instance says otherwise.
pub async fn exchange_code(
    client: &reqwest::Client,
    app: &RegisteredApp,
    code: &str,
    code_verifier: &str,
    now_secs: i64,
) -> Result<TokenSet, ConnectorError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.as_str()),
        ("redirect_uri", app.redirect_uri.as_str()),
        ("code_verifier", code_verifier),
    ];
    oauth::token_call(client, &app.instance, &TOKEN_ENDPOINT, &form, now_secs).await
}

/// Revokes the token (`POST /oauth/revoke`) when the owner disconnects the account.
pub async fn revoke(client: &reqwest::Client, app: &RegisteredApp, access_token: &str) -> Result<(), ConnectorError> {
    let form =
        [("client_id", app.client_id.as_str()), ("client_secret", app.client_secret.as_str()), ("token", access_token)];
    send(client.post(url(&app.instance, "/oauth/revoke")).form(&form)).await.map(|_| ())
}

#[derive(Deserialize)]
struct Account {
    id: String,
    username: String,
    acct: String,
    display_name: String,
    /// The profile page, on the instance's web domain.
    url: Option<String>,
}

fn instance_host(instance: &str) -> &str {
    instance.split("://").nth(1).unwrap_or(instance).trim_end_matches('/')
}

/// The connected account (`GET /api/v1/accounts/verify_credentials`); the handle is
/// `@user@host`, the host taken from the profile URL (the instance origin if none). An
/// instance whose account domain differs from its web domain shows its web domain here.
pub async fn verify_credentials(
    client: &reqwest::Client,
    instance: &str,
    access_token: &str,
) -> Result<Identity, ConnectorError> {
    let resp = send(client.get(url(instance, "/api/v1/accounts/verify_credentials")).bearer_auth(access_token)).await?;
    let a: Account = read_json(resp, "account").await?;
    let host = a
        .url
        .as_deref()
        .and_then(|u| reqwest::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| instance_host(instance).to_string());
    let acct = if a.acct.contains('@') { a.acct } else { format!("{}@{host}", a.acct) };
    let display_name = if a.display_name.is_empty() { a.username } else { a.display_name };
    Ok(Identity { id: a.id, handle: format!("@{acct}"), display_name })
}

/// Who can see a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Visibility {
    #[default]
    Public,
    Unlisted,
    Private,
    Direct,
}

impl Visibility {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
            Visibility::Direct => "direct",
        }
    }
}

/// A status to publish.
#[derive(Debug, Clone)]
pub struct StatusDraft<'a> {
    pub text: &'a str,
    pub media_ids: &'a [String],
    pub in_reply_to_id: Option<&'a str>,
    /// The content warning the status is folded behind (`spoiler_text`), when it has one.
    pub spoiler_text: Option<&'a str>,
    pub visibility: Visibility,
    /// Chosen once per intended post and sent on every attempt: the instance keeps it for an
    /// hour per account and answers a repeat with the original status.
    pub idempotency_key: &'a str,
}

/// A status as the instance returned it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PostedStatus {
    pub id: String,
    /// The web page; `None` for some remote or direct statuses.
    pub url: Option<String>,
    pub uri: String,
}

/// Publishes a status (`POST /api/v1/statuses` with `Idempotency-Key`). Retrying after a
/// transient failure with the same draft cannot publish twice within the instance's hour.
pub async fn post_status(
    client: &reqwest::Client,
    instance: &str,
    access_token: &str,
    draft: &StatusDraft<'_>,
) -> Result<PostedStatus, ConnectorError> {
    if draft.idempotency_key.trim().is_empty() {
        return Err(ConnectorError::Rejected("a status needs an idempotency key".into()));
    }
    let mut body = json!({"status": draft.text, "visibility": draft.visibility.as_str()});
    if !draft.media_ids.is_empty() {
        body["media_ids"] = json!(draft.media_ids);
    }
    if let Some(r) = draft.in_reply_to_id {
        body["in_reply_to_id"] = json!(r);
    }
    if let Some(warning) = draft.spoiler_text.filter(|w| !w.is_empty()) {
        body["spoiler_text"] = json!(warning);
    }
    let resp = send(
        client
            .post(url(instance, "/api/v1/statuses"))
            .bearer_auth(access_token)
            .header("Idempotency-Key", draft.idempotency_key)
            .json(&body),
    )
    .await?;
    read_json(resp, "status").await
}

/// An uploaded media attachment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Media {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `None` while the instance is still processing the file.
    pub url: Option<String>,
    pub description: Option<String>,
    /// Whether the file can be attached to a status now (not part of Mastodon's JSON).
    #[serde(skip)]
    pub ready: bool,
}

/// Uploads a file (`POST /api/v2/media`, multipart). Images usually come back processed (200);
/// video and audio come back accepted (202, `ready == false`): wait with [`wait_for_media`]
/// before attaching.
pub async fn upload_media(
    client: &reqwest::Client,
    instance: &str,
    access_token: &str,
    bytes: &[u8],
    mime: &str,
    description: Option<&str>,
) -> Result<Media, ConnectorError> {
    if mime.contains(['"', '\r', '\n']) {
        return Err(ConnectorError::Rejected("invalid media type".into()));
    }
    let boundary = format!("steward-{}", crate::pkce::new_verifier().as_str());
    let mut body = Vec::with_capacity(bytes.len() + 512);
    let ext = mime.rsplit('/').next().unwrap_or("bin");
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.{ext}\"\r\nContent-Type: {mime}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n");
    if let Some(d) = description {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\n{d}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let resp = send(
        client
            .post(url(instance, "/api/v2/media"))
            .bearer_auth(access_token)
            .header(reqwest::header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(body),
    )
    .await?;
    let ready = resp.status() == reqwest::StatusCode::OK;
    let mut media: Media = read_json(resp, "media").await?;
    media.ready = ready && media.url.is_some();
    Ok(media)
}

/// One look at an upload (`GET /api/v1/media/:id`): 200 processed, 206 still processing.
pub async fn media_status(
    client: &reqwest::Client,
    instance: &str,
    access_token: &str,
    id: &str,
) -> Result<Media, ConnectorError> {
    let resp = send(client.get(url(instance, &format!("/api/v1/media/{id}"))).bearer_auth(access_token)).await?;
    let ready = resp.status() == reqwest::StatusCode::OK;
    let mut media: Media = read_json(resp, "media").await?;
    media.ready = ready;
    Ok(media)
}

/// Polls an upload every `interval` until it is processed; `Transient` if it is not within
/// `max_wait` (the caller may come back later: the upload is kept until it is garbage-collected).
pub async fn wait_for_media(
    client: &reqwest::Client,
    instance: &str,
    access_token: &str,
    media: Media,
    interval: Duration,
    max_wait: Duration,
) -> Result<Media, ConnectorError> {
    if media.ready {
        return Ok(media);
    }
    let deadline = tokio::time::Instant::now() + max_wait;
    loop {
        let m = media_status(client, instance, access_token, &media.id).await?;
        if m.ready {
            return Ok(m);
        }
        if tokio::time::Instant::now() + interval > deadline {
            return Err(ConnectorError::Transient(format!("media {} is still processing", media.id)));
        }
        tokio::time::sleep(interval).await;
    }
}

#[derive(Deserialize)]
struct RawStatus {
    id: String,
    url: Option<String>,
    content: String,
    created_at: String,
    in_reply_to_id: Option<String>,
    account: Account,
}

/// A status someone wrote (a reply, a mention), as Steward shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSummary {
    pub id: String,
    pub url: Option<String>,
    /// HTML, as the instance renders it.
    pub content: String,
    pub created_at: String,
    pub in_reply_to_id: Option<String>,
    /// `user` for local accounts, `user@other.instance` for remote ones.
    pub author_acct: String,
}

impl From<RawStatus> for StatusSummary {
    fn from(s: RawStatus) -> Self {
        Self {
            id: s.id,
            url: s.url,
            content: s.content,
            created_at: s.created_at,
            in_reply_to_id: s.in_reply_to_id,
            author_acct: s.account.acct,
        }
    }
}

#[derive(Deserialize)]
struct RawNotification {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created_at: String,
    account: Account,
    status: Option<RawStatus>,
}

/// A notification (`mention`, `favourite`, `reblog`, `follow`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: String,
    pub kind: String,
    pub created_at: String,
    pub from_acct: String,
    pub status: Option<StatusSummary>,
}

/// Notifications newer than `since_id`, newest first (`GET /api/v1/notifications`).
pub async fn notifications(
    client: &reqwest::Client,
    instance: &str,
    access_token: &str,
    since_id: Option<&str>,
    limit: u32,
) -> Result<Vec<Notification>, ConnectorError> {
    let mut query = vec![("limit", limit.clamp(1, 80).to_string())];
    if let Some(s) = since_id {
        query.push(("since_id", s.to_string()));
    }
    let resp = send(client.get(url(instance, "/api/v1/notifications")).bearer_auth(access_token).query(&query)).await?;
    let raw: Vec<RawNotification> = read_json(resp, "notifications").await?;
    Ok(raw
        .into_iter()
        .map(|n| Notification {
            id: n.id,
            kind: n.kind,
            created_at: n.created_at,
            from_acct: n.account.acct,
            status: n.status.map(StatusSummary::from),
        })
        .collect())
}

/// The thread around a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub ancestors: Vec<StatusSummary>,
    pub descendants: Vec<StatusSummary>,
}

#[derive(Deserialize)]
struct RawContext {
    ancestors: Vec<RawStatus>,
    descendants: Vec<RawStatus>,
}

/// The replies to (and parents of) a status (`GET /api/v1/statuses/:id/context`).
pub async fn status_context(
    client: &reqwest::Client,
    instance: &str,
    access_token: &str,
    status_id: &str,
) -> Result<Context, ConnectorError> {
    let resp =
        send(client.get(url(instance, &format!("/api/v1/statuses/{status_id}/context"))).bearer_auth(access_token))
            .await?;
    let raw: RawContext = read_json(resp, "context").await?;
    Ok(Context {
        ancestors: raw.ancestors.into_iter().map(StatusSummary::from).collect(),
        descendants: raw.descendants.into_iter().map(StatusSummary::from).collect(),
    })
}

/// A status's public counters (`GET /api/v1/statuses/:id`): replies, boosts, favourites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct StatusCounts {
    pub replies_count: i64,
    pub reblogs_count: i64,
    pub favourites_count: i64,
}

pub async fn status_counts(
    client: &reqwest::Client,
    instance: &str,
    access_token: &str,
    status_id: &str,
) -> Result<StatusCounts, ConnectorError> {
    let resp =
        send(client.get(url(instance, &format!("/api/v1/statuses/{status_id}"))).bearer_auth(access_token)).await?;
    read_json(resp, "status").await
}

/// The author of a status: their account id on the instance and their `acct`.
pub async fn status_author(
    client: &reqwest::Client,
    instance: &str,
    access_token: &str,
    status_id: &str,
) -> Result<(String, String), ConnectorError> {
    let resp =
        send(client.get(url(instance, &format!("/api/v1/statuses/{status_id}"))).bearer_auth(access_token)).await?;
    let raw: RawStatus = read_json(resp, "status").await?;
    Ok((raw.account.id, raw.account.acct))
}

/// How the account now stands towards another (`Relationship`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Relationship {
    pub muting: bool,
    pub blocking: bool,
}

/// Mutes (`POST /api/v1/accounts/:id/mute`, scope `write:mutes`) or blocks
/// (`/block`, `write:blocks`) the account `account_id` for the token's account.
pub async fn mute_or_block(
    client: &reqwest::Client,
    instance: &str,
    access_token: &str,
    account_id: &str,
    block: bool,
) -> Result<Relationship, ConnectorError> {
    let what = if block { "block" } else { "mute" };
    let resp =
        send(client.post(url(instance, &format!("/api/v1/accounts/{account_id}/{what}"))).bearer_auth(access_token))
            .await?;
    read_json(resp, "relationship").await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reset_header_is_read_as_iso_8601() {
        let mut h = reqwest::header::HeaderMap::new();
        let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(90);
        h.insert("x-ratelimit-reset", at.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string().parse().unwrap());
        let d = rate_limit_retry_after(&h).unwrap();
        assert!((88..=90).contains(&d.as_secs()), "{d:?}");
        let mut past = reqwest::header::HeaderMap::new();
        past.insert("x-ratelimit-reset", "2001-01-01T00:00:00.000000Z".parse().unwrap());
        assert_eq!(rate_limit_retry_after(&past), Some(Duration::ZERO));
        assert_eq!(rate_limit_retry_after(&reqwest::header::HeaderMap::new()), None);
    }

    #[test]
    fn errors_read_both_shapes() {
        let s = reqwest::StatusCode::UNPROCESSABLE_ENTITY;
        assert_eq!(
            message_of(r#"{"error":"Validation failed: Text can't be blank"}"#, s),
            "Validation failed: Text can't be blank"
        );
        assert_eq!(message_of(r#"{"error":"invalid_grant","error_description":"nope"}"#, s), "invalid_grant: nope");
        assert_eq!(message_of("<html>", s), "the instance answered 422 Unprocessable Entity");
    }

    #[test]
    fn apps_do_not_print_their_secret() {
        let app = RegisteredApp {
            instance: "https://m.example".into(),
            client_id: "id".into(),
            client_secret: Zeroizing::new("very-secret".into()),
            redirect_uri: "https://s.example/cb".into(),
            scopes: SCOPES.into(),
        };
        assert!(!format!("{app:?}").contains("very-secret"));
    }
}
