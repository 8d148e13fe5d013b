//! LinkedIn: 3-legged OAuth 2.0 and the member's identity.
//!
//! Protocol (learn.microsoft.com/en-us/linkedin/): `shared/authentication/authorization-code-flow`
//! (authorize, `POST /oauth/v2/accessToken`, errors `{"error","error_description"}`),
//! `shared/authentication/programmatic-refresh-tokens` (refresh: the refresh token's lifetime
//! counts down from the first grant), `consumer/integrations/self-serve/sign-in-with-linkedin-v2`
//! (`GET /v2/userinfo`), `shared/api-guide/concepts/error-handling` (REST errors
//! `{"status","serviceErrorCode","code","message"}`), `shared/api-guide/concepts/rate-limits`
//! (429 without headers). `/oauth/v2/*` goes to the auth origin, `/v2/*` and `/rest/*` to the
//! API origin.
//!
//! Publishing and community management (`marketing/community-management/`):
//! `shares/posts-api` (`POST /rest/posts` → 201 with an empty body and the URN in `x-restli-id`;
//! the author finder), `shares/little-text-format` (reserved characters in `commentary` must be
//! backslash-escaped, or LinkedIn silently truncates the post), `shares/images-api`
//! (`initializeUpload`, `PUT` to the upload URL, image status), `shares/comments-api`
//! (`/rest/socialActions/{urn}/comments`, one level of replies),
//! `organizations/share-statistics`, `organizations/organization-access-control-by-role`
//! (`organizationAcls?q=roleAssignee`: the pages a member administers),
//! `organizations/organization-lookup-api` (`/rest/organizations/{id}`: the page's
//! `localizedName` and `vanityName`; `/rest/networkSizes/{urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER`:
//! its follower count, `firstDegreeSize`) and `shared/api-guide/concepts/protocol-version`
//! (`LinkedIn-Version`, `X-Restli-Protocol-Version: 2.0.0`; a retired version answers 426).
//! LinkedIn has no idempotency key: a retried create after a lost answer is refused with 422
//! "Content is a duplicate of urn:li:share:…", which [`create_post`] turns into
//! [`ConnectorError::AlreadyPublished`] carrying the live post's URN.
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::http::{retry_after, transport_error, url};
use crate::oauth::{self, Answer, ErrorBody, TokenEndpoint};
use crate::{ConnectorError, Identity, OauthApp, TokenSet};

pub const DEFAULT_AUTH_BASE: &str = "https://www.linkedin.com";
pub const DEFAULT_API_BASE: &str = "https://api.linkedin.com";
/// The `LinkedIn-Version` (YYYYMM) used when `STEWARD_LINKEDIN_VERSION` is not set. LinkedIn
/// retires each version about a year after release (then answers 426).
pub const DEFAULT_VERSION: &str = "202601";
/// Member profiles: sign-in identity and posting as the member.
pub const MEMBER_SCOPES: &str = "openid profile w_member_social";
/// Company Pages: identity, posting, comments and statistics as the organization.
pub const ORGANIZATION_SCOPES: &str =
    "openid profile w_organization_social r_organization_social rw_organization_admin";

/// Reading a member's own posts, comments and reactions (the Social Metadata API's counts):
/// LinkedIn grants it to select developers only, so it is asked for only when the operator says
/// the app has it (asking for a scope the app lacks fails the whole consent).
pub const MEMBER_READ_SCOPE: &str = "r_member_social";

/// The scopes to ask for; `member_read` adds [`MEMBER_READ_SCOPE`] to a member profile's.
#[must_use]
pub fn scopes_for(account_kind: &str, member_read: bool) -> String {
    match (account_kind, member_read) {
        ("organization", _) => ORGANIZATION_SCOPES.to_string(),
        (_, true) => format!("{MEMBER_SCOPES} {MEMBER_READ_SCOPE}"),
        (_, false) => MEMBER_SCOPES.to_string(),
    }
}

/// The page the owner is sent to, to let Steward act for them.
pub fn authorize_url(
    app: &OauthApp,
    redirect_uri: &str,
    state: &str,
    code_challenge: &str,
    scopes: &str,
) -> Result<String, ConnectorError> {
    let params = [
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("state", state),
        // Space-delimited; the URL encoder turns spaces into `%20`-equivalent `+`.
        ("scope", scopes),
        ("code_challenge", code_challenge),
        ("code_challenge_method", "S256"),
    ];
    oauth::authorize_url(
        &url(&app.auth_base, "/oauth/v2/authorization"),
        &params,
        "STEWARD_LINKEDIN_AUTH_BASE is not a URL origin",
    )
}

const TOKEN_ENDPOINT: TokenEndpoint =
    TokenEndpoint { path: "/oauth/v2/accessToken", who: "LinkedIn", expiring: true, error: token_error };

/// Classifies an answer of `POST /oauth/v2/accessToken` (errors `{"error","error_description"}`).
fn token_error(a: &Answer<'_>) -> Option<ConnectorError> {
    let status = a.status;
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Some(ConnectorError::RateLimited { retry_after: retry_after(a.headers) });
    }
    if status.is_server_error() {
        return Some(ConnectorError::Transient(format!("LinkedIn answered {status}")));
    }
    if status.is_success() {
        return None;
    }
    let message = ErrorBody::parse(a.body?)
        .map(|e| format!("{}: {}", e.error, e.error_description.unwrap_or_default()))
        .unwrap_or_else(|| format!("LinkedIn answered {status}"));
    Some(if status == StatusCode::UNAUTHORIZED && message.starts_with("invalid_client") {
        ConnectorError::Misconfigured(format!("LinkedIn refused the app's client id or secret ({message})"))
    } else {
        ConnectorError::Rejected(message)
    })
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
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", code_verifier),
    ];
    oauth::token_call(client, &app.auth_base, &TOKEN_ENDPOINT, &form, now_secs).await
}

/// Uses the refresh token (only apps approved for programmatic refresh get one). The new
/// refresh token's lifetime keeps counting down from the first grant, as LinkedIn returns it.
pub async fn refresh(
    client: &reqwest::Client,
    app: &OauthApp,
    tokens: &TokenSet,
    now_secs: i64,
) -> Result<TokenSet, ConnectorError> {
    let refresh_token = oauth::refresh_token(tokens, &TOKEN_ENDPOINT)?;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.as_str()),
    ];
    oauth::token_call(client, &app.auth_base, &TOKEN_ENDPOINT, &form, now_secs).await
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct RestError {
    #[serde(rename = "serviceErrorCode")]
    service_error_code: Option<i64>,
    code: Option<String>,
    message: Option<String>,
}

/// Maps a non-success LinkedIn REST answer to a connector error.
pub(crate) async fn rest_error(resp: reqwest::Response) -> ConnectorError {
    let status = resp.status();
    let retry = retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    let parsed: Option<RestError> = serde_json::from_str(&body).ok();
    let message = parsed
        .as_ref()
        .map(|e| {
            let code = e.code.clone().or_else(|| e.service_error_code.map(|c| c.to_string())).unwrap_or_default();
            format!("{code} {}", e.message.clone().unwrap_or_default()).trim().to_string()
        })
        .unwrap_or_else(|| format!("LinkedIn answered {status}"));
    match status.as_u16() {
        401 => ConnectorError::Unauthorized(message),
        // The old v1 API sent its throttle message with 403; match on the message too.
        403 if message.contains("throttle limit") => ConnectorError::RateLimited { retry_after: retry },
        // LinkedIn retires each API version after about a year: the operator must move on.
        426 => ConnectorError::Misconfigured(format!(
            "LinkedIn no longer serves the configured API version (STEWARD_LINKEDIN_VERSION): {message}"
        )),
        429 => ConnectorError::RateLimited { retry_after: retry },
        500..=599 => ConnectorError::Transient(message),
        _ => ConnectorError::Rejected(message),
    }
}

/// The connected member, from OpenID Connect's userinfo endpoint.
pub async fn userinfo(
    client: &reqwest::Client,
    app: &OauthApp,
    access_token: &str,
) -> Result<Identity, ConnectorError> {
    let resp = client
        .get(url(&app.api_base, "/v2/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    if !resp.status().is_success() {
        return Err(rest_error(resp).await);
    }
    let info: UserInfo = resp
        .json()
        .await
        .map_err(|_| ConnectorError::Protocol("LinkedIn's userinfo answer is not the documented JSON".into()))?;
    let name = info
        .name
        .or_else(|| match (info.given_name, info.family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (g, f) => g.or(f),
        })
        .unwrap_or_else(|| "LinkedIn member".into());
    Ok(Identity { handle: info.email.unwrap_or_else(|| name.clone()), display_name: name, id: info.sub })
}

// ---------------------------------------------------------------------------------------------
// Publishing, comments and statistics on the versioned REST API (`/rest/*`).
// ---------------------------------------------------------------------------------------------

/// The reserved characters of LinkedIn's "little text" format.
const LITTLE_TEXT_RESERVED: &[char] = &['\\', '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '*', '_', '~'];

/// Escapes plain text for a `commentary` or comment field: every reserved little-text
/// character gets a backslash. Unescaped, LinkedIn reads them as markup and silently cuts the
/// published text at the first one it cannot parse.
#[must_use]
pub fn escape_little_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        if LITTLE_TEXT_RESERVED.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The author URN of a member, from the `sub` of [`userinfo`].
#[must_use]
pub fn member_urn(sub: &str) -> String {
    format!("urn:li:person:{sub}")
}

/// The author URN of a Company Page, from its numeric id.
#[must_use]
pub fn organization_urn(id: &str) -> String {
    format!("urn:li:organization:{id}")
}

/// The public page of a post.
#[must_use]
pub fn post_url(urn: &str) -> String {
    format!("https://www.linkedin.com/feed/update/{urn}/")
}

/// Percent-encodes a URN for a path segment or a Rest.li query value (`urn%3Ali%3Ashare%3A1`;
/// the parentheses and comma of a comment URN too).
#[must_use]
pub fn encode_urn(urn: &str) -> String {
    urn.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A LinkedIn post that is live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The post's URN (`urn:li:share:…` or `urn:li:ugcPost:…`).
    pub external_id: String,
    pub external_url: String,
}

impl Published {
    #[must_use]
    pub fn from_urn(urn: &str) -> Self {
        Self { external_id: urn.to_string(), external_url: post_url(urn) }
    }
}

fn check_version(version: &str) -> Result<(), ConnectorError> {
    if version.len() == 6 && version.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(ConnectorError::Misconfigured(
            "STEWARD_LINKEDIN_VERSION must be a LinkedIn API version in the form YYYYMM".into(),
        ))
    }
}

/// A `/rest` request with the headers every versioned call carries.
fn rest(
    client: &reqwest::Client,
    method: reqwest::Method,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    path_and_query: &str,
) -> Result<reqwest::RequestBuilder, ConnectorError> {
    check_version(version)?;
    Ok(client
        .request(method, url(&app.api_base, path_and_query))
        .bearer_auth(access_token)
        .header("LinkedIn-Version", version)
        .header("X-Restli-Protocol-Version", "2.0.0")
        .header(reqwest::header::CONTENT_TYPE, "application/json"))
}

async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, ConnectorError> {
    let resp = req.send().await.map_err(|e| transport_error(&e))?;
    if resp.status().is_success() { Ok(resp) } else { Err(rest_error(resp).await) }
}

async fn read_json<T: serde::de::DeserializeOwned>(resp: reqwest::Response, what: &str) -> Result<T, ConnectorError> {
    let body = resp.text().await.map_err(|e| transport_error(&e))?;
    serde_json::from_str(&body)
        .map_err(|_| ConnectorError::Protocol(format!("LinkedIn's {what} answer is not the documented JSON")))
}

/// The live URN named by a duplicate-422 ("Content is a duplicate of urn:li:share:…").
fn duplicate_of(message: &str) -> Option<String> {
    let rest = &message[message.find("duplicate of ")? + "duplicate of ".len()..];
    let urn: String = rest.chars().take_while(|c| !c.is_whitespace() && *c != '"' && *c != ',').collect();
    let urn = urn.trim_end_matches('.');
    urn.starts_with("urn:li:").then(|| urn.to_string())
}

/// Publishes a public feed post (`POST /rest/posts`) as `author_urn` (the member's
/// `urn:li:person:…` or an `urn:li:organization:…` the member administers), with an optional
/// uploaded, `AVAILABLE` image and its alt text (`altText`). `text` is plain text: it is escaped here.
///
/// A 422 naming an existing post ("Content is a duplicate of …") means an earlier attempt went
/// through: it comes back as [`ConnectorError::AlreadyPublished`] with that URN.
pub async fn create_post(
    client: &reqwest::Client,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    author_urn: &str,
    text: &str,
    image: Option<(String, Option<&str>)>,
) -> Result<Published, ConnectorError> {
    let mut body = json!({
        "author": author_urn,
        "commentary": escape_little_text(text),
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": false,
    });
    if let Some((image, alt)) = image {
        body["content"] = json!({"media": {"id": image}});
        if let Some(alt) = alt {
            body["content"]["media"]["altText"] = json!(alt);
        }
    }
    let resp = rest(client, reqwest::Method::POST, app, version, access_token, "/rest/posts")?
        .json(&body)
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNPROCESSABLE_ENTITY {
        let body = resp.text().await.unwrap_or_default();
        let message = serde_json::from_str::<RestError>(&body).ok().and_then(|e| e.message).unwrap_or_default();
        if let Some(external_id) = duplicate_of(&message) {
            return Err(ConnectorError::AlreadyPublished { external_id });
        }
        return Err(ConnectorError::Rejected(if message.is_empty() {
            "LinkedIn answered 422".into()
        } else {
            message.trim().to_string()
        }));
    }
    if !status.is_success() {
        return Err(rest_error(resp).await);
    }
    let urn = resp
        .headers()
        .get("x-restli-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| v.starts_with("urn:li:"))
        .ok_or_else(|| ConnectorError::Protocol("LinkedIn created the post but sent no x-restli-id".into()))?;
    Ok(Published::from_urn(urn))
}

/// Where to send an image's bytes, and the image's URN for the post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUpload {
    pub upload_url: String,
    pub image_urn: String,
    /// Unix milliseconds.
    pub upload_url_expires_at: Option<i64>,
}

#[derive(Deserialize)]
struct InitializeUploadValue {
    #[serde(rename = "uploadUrl")]
    upload_url: String,
    image: String,
    #[serde(rename = "uploadUrlExpiresAt")]
    upload_url_expires_at: Option<i64>,
}

#[derive(Deserialize)]
struct Valued<T> {
    value: T,
}

/// Registers an image upload for `owner_urn` (`POST /rest/images?action=initializeUpload`).
pub async fn initialize_image_upload(
    client: &reqwest::Client,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    owner_urn: &str,
) -> Result<ImageUpload, ConnectorError> {
    let resp = send(
        rest(client, reqwest::Method::POST, app, version, access_token, "/rest/images?action=initializeUpload")?
            .json(&json!({"initializeUploadRequest": {"owner": owner_urn}})),
    )
    .await?;
    let v: Valued<InitializeUploadValue> = read_json(resp, "image upload").await?;
    Ok(ImageUpload {
        upload_url: v.value.upload_url,
        image_urn: v.value.image,
        upload_url_expires_at: v.value.upload_url_expires_at,
    })
}

/// Whether the bearer token may go to `upload_url`: LinkedIn's own https hosts, or the
/// configured origins (a double in tests and the demo).
fn upload_url_allowed(app: &OauthApp, upload_url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(upload_url) else { return false };
    let same_origin = |base: &str| reqwest::Url::parse(base).is_ok_and(|b| b.origin() == u.origin());
    let linkedin_host = u.scheme() == "https"
        && u.host_str()
            .is_some_and(|h| h == "linkedin.com" || h.ends_with(".linkedin.com") || h.ends_with(".licdn.com"));
    linkedin_host || same_origin(&app.api_base) || same_origin(&app.auth_base)
}

/// Sends the image's bytes to the upload URL from [`initialize_image_upload`] (`PUT`, bearer).
pub async fn upload_image(
    client: &reqwest::Client,
    app: &OauthApp,
    access_token: &str,
    upload_url: &str,
    bytes: Vec<u8>,
) -> Result<(), ConnectorError> {
    if !upload_url_allowed(app, upload_url) {
        return Err(ConnectorError::Protocol("LinkedIn's upload URL is not on a LinkedIn host".into()));
    }
    send(
        client
            .put(upload_url)
            .bearer_auth(access_token)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes),
    )
    .await?;
    Ok(())
}

/// Where an uploaded image is in LinkedIn's processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageStatus {
    WaitingUpload,
    Processing,
    Available,
    ProcessingFailed,
}

#[derive(Deserialize)]
struct ImageBody {
    status: String,
}

/// The image's status (`GET /rest/images/{urn}`); post it only once `Available`.
pub async fn image_status(
    client: &reqwest::Client,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    image_urn: &str,
) -> Result<ImageStatus, ConnectorError> {
    let path = format!("/rest/images/{}", encode_urn(image_urn));
    let resp = send(rest(client, reqwest::Method::GET, app, version, access_token, &path)?).await?;
    let body: ImageBody = read_json(resp, "image").await?;
    match body.status.as_str() {
        "WAITING_UPLOAD" => Ok(ImageStatus::WaitingUpload),
        "PROCESSING" => Ok(ImageStatus::Processing),
        "AVAILABLE" => Ok(ImageStatus::Available),
        "PROCESSING_FAILED" => Ok(ImageStatus::ProcessingFailed),
        other => Err(ConnectorError::Protocol(format!("unknown LinkedIn image status {other}"))),
    }
}

/// A comment on a post, or a reply to a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub id: String,
    /// `urn:li:comment:(urn:li:activity:…,{id})`: the `parent_comment` of replies to it.
    pub comment_urn: String,
    pub actor: String,
    /// The post (or activity) commented on.
    pub object: Option<String>,
    pub text: String,
    /// Unix milliseconds.
    pub created_at: Option<i64>,
    /// Set on replies.
    pub parent_comment: Option<String>,
}

#[derive(Deserialize)]
struct CommentBody {
    id: String,
    #[serde(rename = "commentUrn")]
    comment_urn: String,
    actor: String,
    object: Option<String>,
    message: Option<MessageBody>,
    created: Option<AuditStamp>,
    #[serde(rename = "parentComment")]
    parent_comment: Option<String>,
}

#[derive(Deserialize)]
struct MessageBody {
    text: String,
}

#[derive(Deserialize)]
struct AuditStamp {
    time: Option<i64>,
}

impl From<CommentBody> for Comment {
    fn from(c: CommentBody) -> Self {
        Comment {
            id: c.id,
            comment_urn: c.comment_urn,
            actor: c.actor,
            object: c.object,
            text: c.message.map(|m| m.text).unwrap_or_default(),
            created_at: c.created.and_then(|c| c.time),
            parent_comment: c.parent_comment,
        }
    }
}

#[derive(Deserialize)]
struct Paging {
    total: Option<u64>,
}

#[derive(Deserialize)]
struct Elements<T> {
    elements: Vec<T>,
    paging: Option<Paging>,
}

/// One page of comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentPage {
    pub comments: Vec<Comment>,
    /// How many there are in all, when LinkedIn says.
    pub total: Option<u64>,
}

/// Comments on `target_urn` (`GET /rest/socialActions/{urn}/comments`): a post's top-level
/// comments, or, with a comment URN, the replies to that comment.
pub async fn list_comments(
    client: &reqwest::Client,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    target_urn: &str,
    start: u32,
    count: u32,
) -> Result<CommentPage, ConnectorError> {
    let path = format!("/rest/socialActions/{}/comments?start={start}&count={count}", encode_urn(target_urn));
    let resp = send(rest(client, reqwest::Method::GET, app, version, access_token, &path)?).await?;
    let page: Elements<CommentBody> = read_json(resp, "comments").await?;
    Ok(CommentPage {
        total: page.paging.and_then(|p| p.total),
        comments: page.elements.into_iter().map(Comment::from).collect(),
    })
}

/// Replies as `actor_urn` to the comment `parent_comment_urn` on `post_urn` (threads are one
/// level deep). `text` is plain text: it is escaped here.
#[allow(clippy::too_many_arguments, reason = "the common client/app/version/token quartet plus the reply")]
pub async fn reply_to_comment(
    client: &reqwest::Client,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    actor_urn: &str,
    post_urn: &str,
    parent_comment_urn: &str,
    text: &str,
) -> Result<Comment, ConnectorError> {
    let path = format!("/rest/socialActions/{}/comments", encode_urn(post_urn));
    let body = json!({
        "actor": actor_urn,
        "object": post_urn,
        "message": {"text": escape_little_text(text)},
        "parentComment": parent_comment_urn,
    });
    let resp = send(rest(client, reqwest::Method::POST, app, version, access_token, &path)?.json(&body)).await?;
    let created: CommentBody = read_json(resp, "comment").await?;
    Ok(created.into())
}

/// The comment's own id inside its URN (`urn:li:comment:(urn:li:activity:…,{id})`).
#[must_use]
pub fn comment_id_of(comment_urn: &str) -> Option<&str> {
    let inner = comment_urn.strip_prefix("urn:li:comment:(")?.strip_suffix(')')?;
    let id = inner.rsplit_once(',')?.1;
    (!id.is_empty()).then_some(id)
}

/// Deletes a comment on `post_urn` as `actor_urn`
/// (`DELETE /rest/socialActions/{post}/comments/{commentId}?actor={actor}` → 204): a Page's
/// admin deletes any comment on the Page's posts; a member only their own comments.
pub async fn delete_comment(
    client: &reqwest::Client,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    actor_urn: &str,
    post_urn: &str,
    comment_urn: &str,
) -> Result<(), ConnectorError> {
    let Some(id) = comment_id_of(comment_urn) else {
        return Err(ConnectorError::Rejected(format!("{comment_urn} is not a LinkedIn comment URN")));
    };
    let path = format!("/rest/socialActions/{}/comments/{id}?actor={}", encode_urn(post_urn), encode_urn(actor_urn));
    let req = rest(client, reqwest::Method::DELETE, app, version, access_token, &path)?;
    let resp = req.send().await.map_err(|e| transport_error(&e))?;
    // Already deleted (or never there): a missing comment, not a refused request.
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return Err(ConnectorError::NotFound(format!("LinkedIn has no comment {comment_urn}")));
    }
    if !resp.status().is_success() {
        return Err(rest_error(resp).await);
    }
    Ok(())
}

/// Lifetime counts for one post of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShareStatistics {
    pub share: String,
    pub impressions: u64,
    pub unique_impressions: u64,
    pub clicks: u64,
    pub likes: u64,
    pub comments: u64,
    pub shares: u64,
}

#[derive(Deserialize)]
struct StatisticsElement {
    share: Option<String>,
    #[serde(rename = "ugcPost")]
    ugc_post: Option<String>,
    #[serde(rename = "totalShareStatistics")]
    total: TotalStatistics,
}

#[derive(Deserialize)]
struct TotalStatistics {
    #[serde(rename = "impressionCount", default)]
    impressions: u64,
    #[serde(rename = "uniqueImpressionsCount", default)]
    unique_impressions: u64,
    #[serde(rename = "clickCount", default)]
    clicks: u64,
    #[serde(rename = "likeCount", default)]
    likes: u64,
    #[serde(rename = "commentCount", default)]
    comments: u64,
    #[serde(rename = "shareCount", default)]
    shares: u64,
}

/// Lifetime statistics of an organization's posts
/// (`GET /rest/organizationalEntityShareStatistics?q=organizationalEntity`). Needs the member
/// to be the page's `ADMINISTRATOR`; organic activity only.
pub async fn share_statistics(
    client: &reqwest::Client,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    organization_urn: &str,
    share_urns: &[&str],
) -> Result<Vec<ShareStatistics>, ConnectorError> {
    let mut path = format!(
        "/rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity={}",
        encode_urn(organization_urn)
    );
    if !share_urns.is_empty() {
        let list: Vec<String> = share_urns.iter().map(|u| encode_urn(u)).collect();
        path.push_str(&format!("&shares=List({})", list.join(",")));
    }
    let resp = send(rest(client, reqwest::Method::GET, app, version, access_token, &path)?).await?;
    let page: Elements<StatisticsElement> = read_json(resp, "share statistics").await?;
    Ok(page
        .elements
        .into_iter()
        .map(|e| ShareStatistics {
            share: e.share.or(e.ugc_post).unwrap_or_default(),
            impressions: e.total.impressions,
            unique_impressions: e.total.unique_impressions,
            clicks: e.total.clicks,
            likes: e.total.likes,
            comments: e.total.comments,
            shares: e.total.shares,
        })
        .collect())
}

/// A page role the member holds (`organizationAcls`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationRole {
    /// `urn:li:organization:{id}`.
    pub organization: String,
    /// `ADMINISTRATOR`, `CONTENT_ADMINISTRATOR`, `ANALYST`, …
    pub role: String,
    /// `APPROVED`, `REQUESTED`, `REJECTED`, `REVOKED`.
    pub state: String,
}

#[derive(Deserialize)]
struct AclElement {
    organization: Option<String>,
    #[serde(rename = "organizationTarget")]
    organization_target: Option<String>,
    role: String,
    state: String,
}

/// How many ACL entries a page of `organizationAcls` asks for, and how many pages at most.
const ACL_PAGE: u32 = 100;
const ACL_PAGES: u32 = 10;

/// The pages on which the connected member holds `role` in `state`
/// (`GET /rest/organizationAcls?q=roleAssignee&role=…&state=…`, paged with `start`/`count`).
pub async fn organization_acls(
    client: &reqwest::Client,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    role: &str,
    state: &str,
) -> Result<Vec<OrganizationRole>, ConnectorError> {
    let mut all = Vec::new();
    for page in 0..ACL_PAGES {
        let start = page * ACL_PAGE;
        let path =
            format!("/rest/organizationAcls?q=roleAssignee&role={role}&state={state}&start={start}&count={ACL_PAGE}");
        let resp = send(rest(client, reqwest::Method::GET, app, version, access_token, &path)?).await?;
        let body: Elements<AclElement> = read_json(resp, "organization ACLs").await?;
        let got = body.elements.len();
        all.extend(body.elements.into_iter().filter_map(|e| {
            Some(OrganizationRole {
                organization: e.organization.or(e.organization_target)?,
                role: e.role,
                state: e.state,
            })
        }));
        if got < ACL_PAGE as usize {
            break;
        }
    }
    Ok(all)
}

/// A Company Page's names (`GET /rest/organizations/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub urn: String,
    pub name: String,
    /// The page's URL name (`linkedin.com/company/{vanity_name}`), when it has one.
    pub vanity_name: Option<String>,
}

impl Organization {
    /// The page as a Steward account's identity: its URN, its URL name (or URN) as the handle.
    #[must_use]
    pub fn identity(&self) -> Identity {
        Identity {
            id: self.urn.clone(),
            handle: self.vanity_name.clone().unwrap_or_else(|| self.urn.clone()),
            display_name: self.name.clone(),
        }
    }
}

#[derive(Deserialize)]
struct OrganizationBody {
    #[serde(rename = "localizedName")]
    localized_name: Option<String>,
    #[serde(rename = "vanityName")]
    vanity_name: Option<String>,
}

/// The numeric id of `urn:li:organization:{id}`.
#[must_use]
pub fn organization_id(urn: &str) -> Option<&str> {
    urn.strip_prefix("urn:li:organization:").filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

/// The page's name and URL name, as an administrator reads them.
pub async fn organization(
    client: &reqwest::Client,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    organization_urn: &str,
) -> Result<Organization, ConnectorError> {
    let id = organization_id(organization_urn)
        .ok_or_else(|| ConnectorError::Protocol(format!("{organization_urn} is not an organization URN")))?;
    let path = format!("/rest/organizations/{id}");
    let resp = send(rest(client, reqwest::Method::GET, app, version, access_token, &path)?).await?;
    let body: OrganizationBody = read_json(resp, "organization").await?;
    Ok(Organization {
        urn: organization_urn.to_string(),
        name: body.localized_name.filter(|n| !n.is_empty()).unwrap_or_else(|| organization_urn.to_string()),
        vanity_name: body.vanity_name.filter(|n| !n.is_empty()),
    })
}

#[derive(Deserialize)]
struct NetworkSize {
    #[serde(rename = "firstDegreeSize")]
    first_degree_size: u64,
}

/// How many members follow the page
/// (`GET /rest/networkSizes/{urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER` → `firstDegreeSize`).
pub async fn follower_count(
    client: &reqwest::Client,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    organization_urn: &str,
) -> Result<u64, ConnectorError> {
    let path = format!("/rest/networkSizes/{}?edgeType=COMPANY_FOLLOWED_BY_MEMBER", encode_urn(organization_urn));
    let resp = send(rest(client, reqwest::Method::GET, app, version, access_token, &path)?).await?;
    let body: NetworkSize = read_json(resp, "network size").await?;
    Ok(body.first_degree_size)
}

/// A post's social summary (`GET /rest/socialMetadata/{urn}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SocialMetadata {
    pub entity: String,
    /// All reactions (LIKE, PRAISE, EMPATHY, …): LinkedIn's reactions replace likes.
    pub reactions: u64,
    /// Comments, replies included.
    pub comments: u64,
    pub top_level_comments: u64,
    /// `OPEN` or `CLOSED`.
    pub comments_state: Option<String>,
}

#[derive(Deserialize)]
struct SocialMetadataBody {
    entity: Option<String>,
    #[serde(rename = "reactionSummaries", default)]
    reaction_summaries: std::collections::HashMap<String, ReactionSummary>,
    #[serde(rename = "commentSummary")]
    comment_summary: Option<CommentSummary>,
    #[serde(rename = "commentsState")]
    comments_state: Option<String>,
}

#[derive(Deserialize)]
struct ReactionSummary {
    #[serde(default)]
    count: u64,
}

#[derive(Deserialize)]
struct CommentSummary {
    #[serde(default)]
    count: u64,
    #[serde(rename = "topLevelCount", default)]
    top_level_count: u64,
}

/// The reaction and comment counts of one post (share, ugcPost or activity URN). LinkedIn has
/// no impressions or reshare counts here: for a member's posts it offers none to apps (share
/// statistics are for organization pages). Needs `r_member_social` for a member's posts, or
/// `r_organization_social` and a page role for a page's.
pub async fn social_metadata(
    client: &reqwest::Client,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    post_urn: &str,
) -> Result<SocialMetadata, ConnectorError> {
    let path = format!("/rest/socialMetadata/{}", encode_urn(post_urn));
    let resp = send(rest(client, reqwest::Method::GET, app, version, access_token, &path)?).await?;
    let body: SocialMetadataBody = read_json(resp, "social metadata").await?;
    let comments = body.comment_summary.as_ref();
    Ok(SocialMetadata {
        entity: body.entity.unwrap_or_else(|| post_urn.to_string()),
        reactions: body.reaction_summaries.values().map(|r| r.count).sum(),
        comments: comments.map_or(0, |c| c.count),
        top_level_comments: comments.map_or(0, |c| c.top_level_count),
        comments_state: body.comments_state,
    })
}

/// A post as the author finder returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostSummary {
    pub id: String,
    pub author: String,
    /// Little text, as stored (escaped).
    pub commentary: String,
    pub lifecycle_state: String,
    /// Unix milliseconds.
    pub created_at: Option<i64>,
    pub last_modified_at: Option<i64>,
}

#[derive(Deserialize)]
struct PostBody {
    id: String,
    author: String,
    #[serde(default)]
    commentary: String,
    #[serde(rename = "lifecycleState", default)]
    lifecycle_state: String,
    #[serde(rename = "createdAt")]
    created_at: Option<i64>,
    #[serde(rename = "lastModifiedAt")]
    last_modified_at: Option<i64>,
}

/// The author's most recently modified posts (`GET /rest/posts?q=author`, a Rest.li FINDER),
/// for reconciling an attempt whose outcome is unknown. `count` is capped at 100.
pub async fn posts_by_author(
    client: &reqwest::Client,
    app: &OauthApp,
    version: &str,
    access_token: &str,
    author_urn: &str,
    count: u32,
) -> Result<Vec<PostSummary>, ConnectorError> {
    let path =
        format!("/rest/posts?q=author&author={}&count={}&sortBy=LAST_MODIFIED", encode_urn(author_urn), count.min(100));
    let resp = send(
        rest(client, reqwest::Method::GET, app, version, access_token, &path)?.header("X-RestLi-Method", "FINDER"),
    )
    .await?;
    let page: Elements<PostBody> = read_json(resp, "posts").await?;
    Ok(page
        .elements
        .into_iter()
        .map(|p| PostSummary {
            id: p.id,
            author: p.author,
            commentary: p.commentary,
            lifecycle_state: p.lifecycle_state,
            created_at: p.created_at,
            last_modified_at: p.last_modified_at,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reserved_character_is_escaped() {
        assert_eq!(
            escape_little_text(r"a\b|c{d}e@f[g]h(i)j<k>l#m*n_o~p"),
            r"a\\b\|c\{d\}e\@f\[g\]h\(i\)j\<k\>l\#m\*n\_o\~p"
        );
        assert_eq!(escape_little_text("\\"), "\\\\", "the backslash itself");
        assert_eq!(escape_little_text("plain text, with: punctuation!?"), "plain text, with: punctuation!?");
        assert_eq!(escape_little_text(""), "");
    }

    #[test]
    fn multibyte_text_survives_escaping() {
        assert_eq!(escape_little_text("Grüße 🎉 (Köln) #straße"), "Grüße 🎉 \\(Köln\\) \\#straße");
        assert_eq!(escape_little_text("日本語_テスト"), "日本語\\_テスト");
        assert_eq!(escape_little_text("👩‍👩‍👧 ~"), "👩‍👩‍👧 \\~");
    }

    #[test]
    fn urns_are_encoded_for_paths() {
        assert_eq!(encode_urn("urn:li:share:123"), "urn%3Ali%3Ashare%3A123");
        assert_eq!(
            encode_urn("urn:li:comment:(urn:li:activity:1,2)"),
            "urn%3Ali%3Acomment%3A%28urn%3Ali%3Aactivity%3A1%2C2%29"
        );
        assert_eq!(member_urn("782bbtaQ"), "urn:li:person:782bbtaQ");
        assert_eq!(organization_urn("2414183"), "urn:li:organization:2414183");
        assert_eq!(post_url("urn:li:share:1"), "https://www.linkedin.com/feed/update/urn:li:share:1/");
    }

    #[test]
    fn duplicate_messages_name_the_live_post() {
        assert_eq!(
            duplicate_of("Content is a duplicate of urn:li:share:7243000000000000000").as_deref(),
            Some("urn:li:share:7243000000000000000")
        );
        assert_eq!(duplicate_of("Content is a duplicate of urn:li:ugcPost:99.").as_deref(), Some("urn:li:ugcPost:99"));
        assert_eq!(duplicate_of("ERROR :: /commentary :: field is required"), None);
    }

    #[test]
    fn versions_must_look_like_yyyymm() {
        assert!(check_version("202601").is_ok());
        for bad in ["", "2026-01", "v202601", "20261"] {
            let err = check_version(bad).expect_err("a malformed version");
            assert!(matches!(&err, ConnectorError::Misconfigured(m) if m.contains("STEWARD_LINKEDIN_VERSION")));
        }
    }
}
