//! A double of LinkedIn's OAuth 2.0, identity and community-management REST endpoints.
//!
//! Built from learn.microsoft.com/en-us/linkedin/: `shared/authentication/authorization-code-flow`
//! (authorize redirect with `code`/`state` or `error=user_cancelled_authorize`; codes live 30
//! minutes and work once; the token call must repeat the exact `redirect_uri`; errors
//! `{"error","error_description"}`), `shared/authentication/programmatic-refresh-tokens`
//! (refresh only for apps approved for it; the refresh token's lifetime counts down from the
//! first grant), `consumer/integrations/self-serve/sign-in-with-linkedin-v2` (`/v2/userinfo`),
//! `shared/api-guide/concepts/error-handling` (401 `serviceErrorCode` 65600 invalid, 65601
//! revoked; 403 `ACCESS_DENIED`; 422 field errors), `shared/api-guide/concepts/rate-limits`
//! (per-member daily quotas per endpoint that reset at 00:00 UTC; 429 with no rate-limit headers
//! and no `Retry-After`), `shared/api-guide/concepts/protocol-version` (`LinkedIn-Version`
//! YYYYMM, `X-Restli-Protocol-Version: 2.0.0`; a sunset version answers 426
//! `NONEXISTENT_VERSION` — the exact 426 text and the 400 for a missing version are third-party
//! observations, so the retired set is configurable), `shared/api-guide/concepts/pagination`
//! (`start`/`count`, `paging`), and under `marketing/community-management/`:
//! `shares/posts-api` (create → 201 with an empty body and `x-restli-id`; the author FINDER;
//! get), `shares/little-text-format` (reserved `\ | { } @ [ ] ( ) < > # * _ ~` must be escaped;
//! here an unescaped one that is not a mention `@[Name](urn:li:…)` or a `#hashtag` cuts the
//! stored text at that point while the create still answers 201, as LinkedIn does),
//! `shares/images-api` (`initializeUpload`, `PUT` to the upload URL with the bearer token,
//! `WAITING_UPLOAD → PROCESSING → AVAILABLE | PROCESSING_FAILED`, upload-URL expiry),
//! `shares/comments-api` (`/rest/socialActions/{urn}/comments`, replies one level deep via
//! `parentComment`), `shares/social-metadata-api` (`reactionSummaries`, `commentSummary`,
//! `commentsState`; a member's posts need the restricted `r_member_social`, a page's
//! `r_organization_social` and a page role), `organizations/share-statistics`
//! (`organizationalEntityShareStatistics`, page `ADMINISTRATOR` only) and
//! `organizations/organization-access-control-by-role` (who may act for a page; the
//! `roleAssignee` finder with `role`, `state`, `start`, `count`),
//! `organizations/organization-lookup-api` (`/rest/organizations/{id}` with `localizedName`
//! and `vanityName`; the follower count `firstDegreeSize` of
//! `/rest/networkSizes/{urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER`).
//! The duplicate guard (422 "Content is a duplicate of urn:li:share:…" for the same text by the
//! same author) comes from open-source publishers' LinkedIn tests, as LinkedIn documents no
//! idempotency key.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post, put};
use serde_json::{Value, json};

use crate::core::{DoubleCore, Platform, html, json_error, oauth_error};
use crate::{bearer, random_token, urlencode, verifier_matches};

const CODE_TTL: Duration = Duration::from_secs(30 * 60);

/// The member who approves the authorization at the consent screen.
#[derive(Debug, Clone)]
pub struct Member {
    pub sub: String,
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub client_id: String,
    pub client_secret: String,
    /// Whether the app is approved for programmatic refresh tokens.
    pub refresh_enabled: bool,
    /// `expires_in` of access tokens, in seconds (LinkedIn: 60 days).
    pub access_ttl: i64,
    /// `refresh_token_expires_in` at the first grant, in seconds (LinkedIn: 365 days).
    pub refresh_ttl: i64,
    /// `LinkedIn-Version`s that are sunset: they answer 426 `NONEXISTENT_VERSION`.
    pub retired_versions: Vec<String>,
    /// Calls per member, per endpoint and per UTC day before a 429 (LinkedIn does not publish
    /// its numbers; 150 is the usual quote for sharing).
    pub member_daily_limit: u32,
    /// How long an image upload URL stays valid, in seconds.
    pub upload_url_ttl: i64,
    /// How many status reads an uploaded image stays `PROCESSING` before it is `AVAILABLE`.
    pub image_processing_reads: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            client_id: "steward-test-client".into(),
            client_secret: "steward-test-secret".into(),
            refresh_enabled: true,
            access_ttl: 5_184_000,
            refresh_ttl: 31_536_000,
            retired_versions: vec!["202401".into(), "202402".into(), "202403".into()],
            member_daily_limit: 150,
            upload_url_ttl: 3600,
            image_processing_reads: 1,
        }
    }
}

struct Code {
    redirect_uri: String,
    challenge: Option<String>,
    scope: String,
    member: Member,
    issued: SystemTime,
    used: bool,
}

struct Grant {
    member: Member,
    scope: String,
    access_expires: i64,
    /// Fixed at the first grant: refreshing does not extend it.
    refresh_expires: i64,
    revoked: bool,
}

/// A post as the double stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPost {
    pub urn: String,
    pub author: String,
    /// The little text LinkedIn kept: what was sent, cut at the first unescaped reserved
    /// character.
    pub commentary: String,
    /// The `commentary` exactly as sent.
    pub sent_commentary: String,
    pub visibility: String,
    pub image: Option<String>,
    /// The image's `altText`, as sent.
    pub alt_text: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
    activity: u64,
}

impl StoredPost {
    /// The text readers see: the kept little text without its escapes.
    #[must_use]
    pub fn text(&self) -> String {
        unescape_little_text(&self.commentary)
    }
}

/// A comment as the double stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredComment {
    pub id: String,
    pub urn: String,
    pub actor: String,
    /// The post commented on.
    pub object: String,
    pub text: String,
    pub parent: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Counts LinkedIn reports for a post besides its comments (which the double counts itself).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShareCounts {
    pub impressions: u64,
    pub unique_impressions: u64,
    pub clicks: u64,
    pub likes: u64,
    pub shares: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ImageState {
    WaitingUpload,
    Processing { reads: u32, fails: bool },
    Available,
    Failed,
}

struct Image {
    owner: String,
    upload_token: String,
    upload_expires: i64,
    state: ImageState,
    bytes: usize,
}

#[derive(Default)]
struct Inner {
    /// (member sub, organization URN, role)
    org_roles: Vec<(String, String, String)>,
    /// organization URN → (localizedName, vanityName, followers)
    organizations: HashMap<String, (String, String, u64)>,
    posts: Vec<StoredPost>,
    images: HashMap<String, Image>,
    fail_next_image: bool,
    comments: Vec<StoredComment>,
    stats: HashMap<String, ShareCounts>,
    /// (member sub, endpoint, UTC day) → calls
    usage: HashMap<(String, String, i64), u32>,
    next_id: u64,
    codes: HashMap<String, Code>,
    access_tokens: HashMap<String, usize>,
    refresh_tokens: HashMap<String, usize>,
    grants: Vec<Grant>,
    consent: Option<Member>,
    cancel_next: bool,
}

/// A running LinkedIn double.
#[derive(Clone)]
pub struct LinkedInDouble {
    config: Arc<Config>,
    inner: Arc<Mutex<Inner>>,
    core: DoubleCore,
}

crate::core::accessors!(LinkedInDouble, Inner, Config);

impl Platform for LinkedInDouble {
    const BODY_LIMIT: usize = 1 << 20;
    const SERVER_ERROR_PAGE: &'static str = "<html><body>Service Unavailable</body></html>";

    fn rate_limited(&self) -> Response {
        throttled()
    }

    fn lost_answer() -> Response {
        html(500, "<html><body>Internal Server Error</body></html>")
    }
}

/// LinkedIn's 429: no rate-limit headers and no Retry-After.
fn throttled() -> Response {
    json_error(
        429,
        json!({"status": 429, "message": "Resource level throttle limit for calls to this resource is reached."}),
    )
}

impl LinkedInDouble {
    pub async fn start(config: Config) -> std::io::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            consent: Some(Member {
                sub: "782bbtaQ".into(),
                name: "Olivia Owner".into(),
                email: "olivia@example.com".into(),
            }),
            ..Inner::default()
        }));
        let (core, listener) = DoubleCore::bind(vec![config.client_secret.clone()]).await?;
        let double = Self { config: Arc::new(config), inner, core };
        let router = Router::new()
            .route("/oauth/v2/authorization", get(authorize))
            .route("/oauth/v2/accessToken", post(access_token))
            .route("/v2/userinfo", get(userinfo))
            .route("/rest/posts", post(create_post).get(find_posts))
            .route("/rest/posts/{urn}", get(get_post))
            .route("/rest/images", post(initialize_image))
            .route("/rest/images/{urn}", get(get_image))
            .route("/dms-uploads/{token}", put(upload_image))
            .route("/rest/socialActions/{urn}/comments", get(list_comments).post(create_comment))
            .route("/rest/socialActions/{urn}/comments/{id}", delete(delete_comment))
            .route("/rest/organizationalEntityShareStatistics", get(share_statistics))
            .route("/rest/socialMetadata/{urn}", get(social_metadata))
            .route("/rest/organizationAcls", get(organization_acls))
            .route("/rest/organizations/{id}", get(get_organization))
            .route("/rest/networkSizes/{urn}", get(network_size));
        crate::core::serve(listener, router, &double);
        Ok(double)
    }

    /// The member who approves the next authorizations.
    pub fn set_member(&self, member: Member) {
        self.lock().consent = Some(member);
    }

    /// The next authorization is cancelled by the member.
    pub fn cancel_next_authorization(&self) {
        self.lock().cancel_next = true;
    }

    /// Revokes every token (the member removed the app in their LinkedIn settings).
    pub fn revoke_all(&self) {
        for g in &mut self.lock().grants {
            g.revoked = true;
        }
    }

    /// Gives `member_sub` a role on a Company Page (`ADMINISTRATOR`, `CONTENT_ADMINISTRATOR`,
    /// `DIRECT_SPONSORED_CONTENT_POSTER`, `ANALYST`, …), approved.
    pub fn set_organization_role(&self, member_sub: &str, organization_urn: &str, role: &str) {
        self.lock().org_roles.push((member_sub.into(), organization_urn.into(), role.into()));
    }

    /// A Company Page's names and follower count (what `/rest/organizations/{id}` and
    /// `/rest/networkSizes/{urn}` answer).
    pub fn add_organization(&self, organization_urn: &str, name: &str, vanity_name: &str, followers: u64) {
        self.lock().organizations.insert(organization_urn.into(), (name.into(), vanity_name.into(), followers));
    }

    /// The next uploaded image ends `PROCESSING_FAILED`.
    pub fn fail_next_image_processing(&self) {
        self.lock().fail_next_image = true;
    }

    /// Sets the counts the statistics endpoint reports for a post.
    pub fn set_share_statistics(&self, post_urn: &str, counts: ShareCounts) {
        self.lock().stats.insert(post_urn.into(), counts);
    }

    /// Someone comments on a post (or, with `parent`, replies to a comment); returns the
    /// comment's URN, or `None` when the post or the parent does not exist.
    pub fn comment_from(&self, actor_urn: &str, post_urn: &str, parent: Option<&str>, text: &str) -> Option<String> {
        let now = self.now() * 1000;
        let mut inner = self.lock();
        add_comment(&mut inner, actor_urn, post_urn, parent, text, now).ok().map(|c| c.urn)
    }

    #[must_use]
    pub fn posts(&self) -> Vec<StoredPost> {
        self.lock().posts.clone()
    }

    #[must_use]
    pub fn comments(&self) -> Vec<StoredComment> {
        self.lock().comments.clone()
    }

    /// Bytes received for an image, once uploaded.
    #[must_use]
    pub fn image_bytes(&self, image_urn: &str) -> Option<usize> {
        self.lock().images.get(image_urn).filter(|i| i.state != ImageState::WaitingUpload).map(|i| i.bytes)
    }
}

async fn authorize(State(d): State<LinkedInDouble>, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    // Bad client or redirect: LinkedIn shows an error page instead of redirecting.
    if get("response_type") != "code"
        || get("client_id") != d.config.client_id
        || !get("redirect_uri").starts_with("http")
    {
        return (StatusCode::UNAUTHORIZED, "<html><body>Invalid redirect_uri or client_id</body></html>")
            .into_response();
    }
    let state = get("state");
    let redirect = get("redirect_uri");
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let mut inner = d.lock();
    if std::mem::take(&mut inner.cancel_next) {
        return Redirect::to(&format!(
            "{redirect}{sep}error=user_cancelled_authorize&error_description=The+user+cancelled+the+authorization&state={}",
            urlencode(&state)
        ))
        .into_response();
    }
    let Some(member) = inner.consent.clone() else {
        return (StatusCode::UNAUTHORIZED, "no member signed in").into_response();
    };
    let code = random_token("AQT");
    inner.codes.insert(
        code.clone(),
        Code {
            redirect_uri: redirect.clone(),
            challenge: q.get("code_challenge").cloned(),
            scope: get("scope"),
            member,
            issued: SystemTime::now(),
            used: false,
        },
    );
    Redirect::to(&format!("{redirect}{sep}code={code}&state={}", urlencode(&state))).into_response()
}

async fn access_token(
    State(d): State<LinkedInDouble>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).cloned();
    for required in ["grant_type", "client_id", "client_secret"] {
        if get(required).is_none() {
            return oauth_error(400, "invalid_request", &format!("A required parameter \"{required}\" is missing"));
        }
    }
    if get("client_id").as_deref() != Some(&d.config.client_id)
        || get("client_secret").as_deref() != Some(&d.config.client_secret)
    {
        return oauth_error(401, "invalid_client", "Client authentication failed");
    }
    let mut inner = d.lock();
    let now = d.now();
    match get("grant_type").as_deref() {
        Some("authorization_code") => {
            let (Some(code), Some(redirect_uri)) = (get("code"), get("redirect_uri")) else {
                return oauth_error(400, "invalid_request", "A required parameter \"code\" is missing");
            };
            let Some(c) = inner.codes.get_mut(&code) else {
                return oauth_error(
                    401,
                    "invalid_request",
                    "Unable to retrieve access token: authorization code not found",
                );
            };
            let expired = c.issued.elapsed().map(|e| e > CODE_TTL).unwrap_or(true);
            let verifier_ok = verifier_matches(c.challenge.as_deref(), get("code_verifier").as_deref());
            if c.used || expired || c.redirect_uri != redirect_uri || !verifier_ok {
                return oauth_error(
                    400,
                    "invalid_redirect_uri",
                    "Unable to retrieve access token: appid/redirect uri/code verifier does not match authorization code. Or authorization code expired. Or external member binding exists",
                );
            }
            c.used = true;
            let (member, scope) = (c.member.clone(), c.scope.clone());
            let grant = Grant {
                member,
                scope: scope.clone(),
                access_expires: now + d.config.access_ttl,
                refresh_expires: now + d.config.refresh_ttl,
                revoked: false,
            };
            inner.grants.push(grant);
            let idx = inner.grants.len() - 1;
            issue(&d, &mut inner, idx, now)
        }
        Some("refresh_token") => {
            let idx = get("refresh_token").and_then(|t| inner.refresh_tokens.get(&t).copied());
            let valid = idx.is_some_and(|i| !inner.grants[i].revoked && inner.grants[i].refresh_expires > now);
            let (true, Some(idx)) = (valid && d.config.refresh_enabled, idx) else {
                return oauth_error(
                    400,
                    "invalid_request",
                    "The provided authorization grant or refresh token is invalid, expired or revoked.",
                );
            };
            inner.grants[idx].access_expires = now + d.config.access_ttl;
            issue(&d, &mut inner, idx, now)
        }
        _ => oauth_error(400, "unsupported_grant_type", "The grant type is not supported"),
    }
}

fn issue(d: &LinkedInDouble, inner: &mut Inner, idx: usize, now: i64) -> Response {
    let access = random_token("AQV");
    d.issue(&access);
    inner.access_tokens.insert(access.clone(), idx);
    let g = &inner.grants[idx];
    let mut body = json!({"access_token": access, "expires_in": g.access_expires - now, "scope": g.scope});
    if d.config.refresh_enabled {
        let refresh = random_token("AQW");
        d.issue(&refresh);
        body["refresh_token"] = json!(refresh);
        body["refresh_token_expires_in"] = json!(g.refresh_expires - now);
        inner.refresh_tokens.insert(refresh, idx);
    }
    axum::Json(body).into_response()
}

/// The grant behind the request's bearer token, or LinkedIn's 401.
#[allow(clippy::result_large_err, reason = "the error is the HTTP answer itself, built once per refused request")]
fn authenticate(inner: &Inner, headers: &HeaderMap, now: i64) -> Result<usize, Response> {
    let token = bearer(headers).unwrap_or("");
    if token.is_empty() {
        return Err(json_error(
            401,
            json!({"status": 401, "serviceErrorCode": 65604, "code": "EMPTY_ACCESS_TOKEN", "message": "Empty oauth2_access_token"}),
        ));
    }
    let Some(&idx) = inner.access_tokens.get(token) else {
        return Err(json_error(
            401,
            json!({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"}),
        ));
    };
    let g = &inner.grants[idx];
    if g.revoked {
        return Err(json_error(
            401,
            json!({"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "The token used in the request has been revoked by the user"}),
        ));
    }
    if g.access_expires <= now {
        return Err(json_error(
            401,
            json!({"status": 401, "serviceErrorCode": 65602, "code": "EXPIRED_ACCESS_TOKEN", "message": "The token used in the request has expired"}),
        ));
    }
    Ok(idx)
}

async fn userinfo(State(d): State<LinkedInDouble>, headers: HeaderMap) -> Response {
    let inner = d.lock();
    let g = match authenticate(&inner, &headers, d.now()) {
        Ok(idx) => &inner.grants[idx],
        Err(r) => return r,
    };
    let (given, family) = g.member.name.split_once(' ').unwrap_or((&g.member.name, ""));
    axum::Json(json!({
        "sub": g.member.sub, "name": g.member.name, "given_name": given, "family_name": family,
        "picture": "https://media.licdn.com/dms/image/placeholder", "locale": {"country": "US", "language": "en"},
        "email": g.member.email, "email_verified": true
    }))
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// The versioned REST API (`/rest/*`).
// ---------------------------------------------------------------------------------------------

const RESERVED: &[char] = &['\\', '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '*', '_', '~'];
/// Page roles that may post, comment and upload for an organization.
const POSTING_ROLES: &[&str] = &["ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER", "CONTENT_ADMINISTRATOR"];

/// Where a mention `@[Name](urn:li:…)` starting at `i` ends, if it is one.
fn mention_end(chars: &[char], i: usize) -> Option<usize> {
    if chars.get(i + 1) != Some(&'[') {
        return None;
    }
    let close = i + 2 + chars[i + 2..].iter().position(|c| *c == ']')?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = close + 2 + chars[close + 2..].iter().position(|c| *c == ')')?;
    let target: String = chars[close + 2..end].iter().collect();
    target.starts_with("urn:li:").then_some(end + 1)
}

/// The part of a little text LinkedIn publishes: everything up to the first reserved
/// character that is neither escaped nor part of a mention or hashtag.
fn little_text_kept(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            match chars.get(i + 1) {
                Some(next) => {
                    out.push(c);
                    out.push(*next);
                    i += 2;
                    continue;
                }
                None => break,
            }
        }
        if c == '@'
            && let Some(end) = mention_end(&chars, i)
        {
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        if c == '#' && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric()) {
            out.push(c);
            i += 1;
            continue;
        }
        if RESERVED.contains(&c) {
            break;
        }
        out.push(c);
        i += 1;
    }
    out
}

fn unescape_little_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn bad_request(code: &str, message: &str) -> Response {
    json_error(400, json!({"status": 400, "code": code, "message": message}))
}

fn access_denied(what: &str) -> Response {
    json_error(
        403,
        json!({"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED", "message": format!("Not enough permissions to access: {what}")}),
    )
}

fn field_error(path: &str, problem: &str) -> Response {
    json_error(422, json!({"status": 422, "message": format!("ERROR :: {path} :: {problem}\n")}))
}

fn not_found() -> Response {
    json_error(404, json!({"status": 404, "code": "NOT_FOUND", "message": "Not Found"}))
}

struct Caller {
    sub: String,
    scope: String,
    version: String,
}

impl Caller {
    fn person(&self) -> String {
        format!("urn:li:person:{}", self.sub)
    }

    fn has_scope(&self, scope: &str) -> bool {
        self.scope.split([' ', ',']).any(|s| s == scope)
    }
}

/// What every `/rest` call goes through: the version and protocol headers, the token, and the
/// member's daily quota for the endpoint.
#[allow(clippy::result_large_err, reason = "the error is the HTTP answer itself, built once per refused request")]
fn rest_guard(d: &LinkedInDouble, inner: &mut Inner, headers: &HeaderMap, endpoint: &str) -> Result<Caller, Response> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let Some(version) = header("linkedin-version") else {
        return Err(bad_request(
            "VERSION_MISSING",
            "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
        ));
    };
    if version.len() != 6 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad_request("INVALID_VERSION", &format!("Version {version} is not in the form YYYYMM")));
    }
    if d.config.retired_versions.iter().any(|v| v == version) {
        return Err(json_error(
            426,
            json!({"status": 426, "code": "NONEXISTENT_VERSION", "message": format!("Requested version {version} is not active")}),
        ));
    }
    if header("x-restli-protocol-version") != Some("2.0.0") {
        return Err(bad_request("ILLEGAL_ARGUMENT", "This resource requires X-Restli-Protocol-Version 2.0.0"));
    }
    let now = d.now();
    let idx = authenticate(inner, headers, now)?;
    let (sub, scope) = (inner.grants[idx].member.sub.clone(), inner.grants[idx].scope.clone());
    let day = now.div_euclid(86_400);
    let used = inner.usage.entry((sub.clone(), endpoint.to_string(), day)).or_insert(0);
    *used += 1;
    if *used > d.config.member_daily_limit {
        return Err(throttled());
    }
    Ok(Caller { sub, scope, version: version.to_string() })
}

/// Whether the caller may act as `urn`: itself, or a page where it holds one of `roles`.
fn may_act_as(inner: &Inner, caller: &Caller, urn: &str, roles: &[&str]) -> bool {
    urn == caller.person()
        || inner.org_roles.iter().any(|(s, o, r)| *s == caller.sub && o == urn && roles.contains(&r.as_str()))
}

fn may_post_as(inner: &Inner, caller: &Caller, urn: &str) -> bool {
    if urn.starts_with("urn:li:organization:") {
        caller.has_scope("w_organization_social") && may_act_as(inner, caller, urn, POSTING_ROLES)
    } else {
        caller.has_scope("w_member_social") && urn == caller.person()
    }
}

fn next_id(inner: &mut Inner) -> u64 {
    inner.next_id += 1;
    inner.next_id
}

macro_rules! guard {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

async fn create_post(State(d): State<LinkedInDouble>, headers: HeaderMap, body: String) -> Response {
    let mut inner = d.lock();
    let caller = guard!(rest_guard(&d, &mut inner, &headers, "POST /rest/posts"));
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return bad_request("ILLEGAL_ARGUMENT", "Request body could not be converted to data map");
    };
    for field in ["author", "commentary", "visibility", "distribution", "lifecycleState"] {
        if v.get(field).is_none() {
            return field_error(&format!("/{field}"), "field is required but not found and has no default value");
        }
    }
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let (author, commentary, visibility, lifecycle) =
        (text("author"), text("commentary"), text("visibility"), text("lifecycleState"));
    if !may_post_as(&inner, &caller, &author) {
        return access_denied(&format!("partnerApiPostsExternal.CREATE.{}01", caller.version));
    }
    if !["PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"].contains(&visibility.as_str()) {
        return field_error("/visibility", &format!("{visibility} is not a valid enum symbol"));
    }
    if !["PUBLISHED", "DRAFT"].contains(&lifecycle.as_str()) {
        return field_error("/lifecycleState", &format!("{lifecycle} is not a valid value for create"));
    }
    let image = v.pointer("/content/media/id").and_then(Value::as_str).map(str::to_string);
    let alt_text = v.pointer("/content/media/altText").and_then(Value::as_str).map(str::to_string);
    if let Some(urn) = &image {
        match inner.images.get(urn) {
            Some(i) if i.state == ImageState::Available && i.owner == author => {}
            Some(i) if i.owner != author => {
                return field_error("/content/media/id", &format!("{urn} is not owned by the author"));
            }
            Some(_) => return field_error("/content/media/id", &format!("{urn} is not AVAILABLE")),
            None => return field_error("/content/media/id", &format!("{urn} does not exist")),
        }
    }
    if let Some(first) =
        inner.posts.iter().find(|p| p.author == author && p.sent_commentary == commentary && p.image == image)
    {
        return json_error(422, json!({"status": 422, "message": format!("Content is a duplicate of {}", first.urn)}));
    }
    let n = next_id(&mut inner);
    let kind = if image.is_some() { "ugcPost" } else { "share" };
    let urn = format!("urn:li:{kind}:{}", 7_300_000_000_000_000_000u64 + n);
    let created_at = d.now() * 1000;
    inner.posts.push(StoredPost {
        urn: urn.clone(),
        author,
        commentary: little_text_kept(&commentary),
        sent_commentary: commentary,
        visibility,
        image,
        alt_text,
        created_at,
        activity: 7_310_000_000_000_000_000u64 + n,
    });
    (StatusCode::CREATED, [("x-restli-id", urn)]).into_response()
}

fn post_json(p: &StoredPost) -> Value {
    let mut v = json!({
        "id": p.urn, "author": p.author, "commentary": p.commentary, "visibility": p.visibility,
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
        "lifecycleState": "PUBLISHED", "lifecycleStateInfo": {"isEditedByAuthor": false},
        "isReshareDisabledByAuthor": false,
        "createdAt": p.created_at, "publishedAt": p.created_at, "lastModifiedAt": p.created_at,
    });
    if let Some(image) = &p.image {
        v["content"] = json!({"media": {"id": image}});
        if let Some(alt) = &p.alt_text {
            v["content"]["media"]["altText"] = json!(alt);
        }
    }
    v
}

async fn find_posts(
    State(d): State<LinkedInDouble>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = d.lock();
    let caller = guard!(rest_guard(&d, &mut inner, &headers, "GET /rest/posts"));
    let finder = headers.get("x-restli-method").and_then(|v| v.to_str().ok()).unwrap_or("");
    if q.get("q").map(String::as_str) != Some("author") || !finder.eq_ignore_ascii_case("FINDER") {
        return bad_request("ILLEGAL_ARGUMENT", "The author finder needs q=author and X-RestLi-Method: FINDER");
    }
    let Some(author) = q.get("author") else {
        return bad_request("ILLEGAL_ARGUMENT", "Parameter 'author' is required");
    };
    let start: usize = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let count: usize = q.get("count").and_then(|s| s.parse().ok()).unwrap_or(10);
    if count > 100 {
        return bad_request("ILLEGAL_ARGUMENT", "count must not exceed 100");
    }
    // Reading posts needs r_member_social (a member's own) or r_organization_social (a page's).
    let read_scope =
        if author.starts_with("urn:li:organization:") { "r_organization_social" } else { "r_member_social" };
    if !may_act_as(&inner, &caller, author, POSTING_ROLES) || !caller.has_scope(read_scope) {
        return access_denied(&format!("partnerApiPostsExternal.FINDER-author.{}01", caller.version));
    }
    let mut mine: Vec<&StoredPost> = inner.posts.iter().filter(|p| p.author == *author).collect();
    mine.reverse(); // most recently modified first
    let total = mine.len();
    let elements: Vec<Value> = mine.into_iter().skip(start).take(count).map(post_json).collect();
    axum::Json(json!({"elements": elements, "paging": {"start": start, "count": count, "total": total, "links": []}}))
        .into_response()
}

async fn get_post(State(d): State<LinkedInDouble>, headers: HeaderMap, Path(urn): Path<String>) -> Response {
    let mut inner = d.lock();
    let caller = guard!(rest_guard(&d, &mut inner, &headers, "GET /rest/posts"));
    match inner.posts.iter().find(|p| p.urn == urn) {
        Some(p) if may_act_as(&inner, &caller, &p.author, POSTING_ROLES) || p.visibility == "PUBLIC" => {
            axum::Json(post_json(p)).into_response()
        }
        Some(_) => access_denied("partnerApiPostsExternal.GET"),
        None => not_found(),
    }
}

async fn initialize_image(
    State(d): State<LinkedInDouble>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: String,
) -> Response {
    let mut inner = d.lock();
    let caller = guard!(rest_guard(&d, &mut inner, &headers, "POST /rest/images"));
    if q.get("action").map(String::as_str) != Some("initializeUpload") {
        return bad_request("ILLEGAL_ARGUMENT", "Unknown action");
    }
    let owner = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v.pointer("/initializeUploadRequest/owner").and_then(Value::as_str).map(str::to_string));
    let Some(owner) = owner else {
        return field_error(
            "/initializeUploadRequest/owner",
            "field is required but not found and has no default value",
        );
    };
    if !may_post_as(&inner, &caller, &owner) {
        return access_denied("partnerApiImages.ACTION-initializeUpload");
    }
    let urn = format!("urn:li:image:C4E10AQ{}", next_id(&mut inner));
    let token = random_token("up");
    let expires = d.now() + d.config.upload_url_ttl;
    let upload_url = format!("{}/dms-uploads/{token}", d.base);
    inner.images.insert(
        urn.clone(),
        Image { owner, upload_token: token, upload_expires: expires, state: ImageState::WaitingUpload, bytes: 0 },
    );
    axum::Json(json!({"value": {"uploadUrlExpiresAt": expires * 1000, "uploadUrl": upload_url, "image": urn}}))
        .into_response()
}

async fn upload_image(
    State(d): State<LinkedInDouble>,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let now = d.now();
    let mut inner = d.lock();
    if let Err(r) = authenticate(&inner, &headers, now) {
        return r;
    }
    let fails = std::mem::take(&mut inner.fail_next_image);
    let Some(image) = inner.images.values_mut().find(|i| i.upload_token == token) else {
        return not_found();
    };
    if now > image.upload_expires {
        return json_error(403, json!({"status": 403, "message": "The upload URL has expired"}));
    }
    if body.is_empty() {
        return bad_request("ILLEGAL_ARGUMENT", "Empty upload");
    }
    image.bytes = body.len();
    image.state = ImageState::Processing { reads: 0, fails };
    StatusCode::CREATED.into_response()
}

async fn get_image(State(d): State<LinkedInDouble>, headers: HeaderMap, Path(urn): Path<String>) -> Response {
    let mut inner = d.lock();
    let caller = guard!(rest_guard(&d, &mut inner, &headers, "GET /rest/images"));
    let Some(owner) = inner.images.get(&urn).map(|i| i.owner.clone()) else {
        return not_found();
    };
    if !may_post_as(&inner, &caller, &owner) {
        return access_denied("partnerApiImages.GET");
    }
    let Some(image) = inner.images.get_mut(&urn) else {
        return not_found();
    };
    if let ImageState::Processing { reads, fails } = image.state {
        image.state = if reads >= d.config.image_processing_reads {
            if fails { ImageState::Failed } else { ImageState::Available }
        } else {
            ImageState::Processing { reads: reads + 1, fails }
        };
    }
    let status = match image.state {
        ImageState::WaitingUpload => "WAITING_UPLOAD",
        ImageState::Processing { .. } => "PROCESSING",
        ImageState::Available => "AVAILABLE",
        ImageState::Failed => "PROCESSING_FAILED",
    };
    let mut v = json!({"id": urn, "owner": image.owner, "status": status});
    if image.state == ImageState::Available {
        v["downloadUrl"] = json!(format!("{}/dms-downloads/{}", d.base, urlencode(&urn)));
    }
    axum::Json(v).into_response()
}

fn comment_json(c: &StoredComment) -> Value {
    let mut v = json!({
        "id": c.id, "commentUrn": c.urn, "actor": c.actor, "object": c.object,
        "message": {"text": c.text, "attributes": []},
        "created": {"actor": c.actor, "time": c.created_at},
        "lastModified": {"actor": c.actor, "time": c.created_at},
    });
    if let Some(parent) = &c.parent {
        v["parentComment"] = json!(parent);
    }
    v
}

#[allow(clippy::result_large_err, reason = "the error is the HTTP answer itself, built once per refused request")]
fn add_comment(
    inner: &mut Inner,
    actor: &str,
    post_urn: &str,
    parent: Option<&str>,
    text: &str,
    now_ms: i64,
) -> Result<StoredComment, Response> {
    let Some(activity) = inner.posts.iter().find(|p| p.urn == post_urn).map(|p| p.activity) else {
        return Err(not_found());
    };
    if let Some(parent) = parent {
        match inner.comments.iter().find(|c| c.urn == parent) {
            None => return Err(not_found()),
            Some(p) if p.object != post_urn => {
                return Err(bad_request("ILLEGAL_ARGUMENT", "The parent comment is on another post"));
            }
            // Threads are one level deep.
            Some(p) if p.parent.is_some() => {
                return Err(bad_request("ILLEGAL_ARGUMENT", "Cannot reply to a reply: comments nest one level deep"));
            }
            Some(_) => {}
        }
    }
    let id = (6_900_000_000_000_000_000u64 + next_id(inner)).to_string();
    let c = StoredComment {
        urn: format!("urn:li:comment:(urn:li:activity:{activity},{id})"),
        id,
        actor: actor.to_string(),
        object: post_urn.to_string(),
        text: text.to_string(),
        parent: parent.map(str::to_string),
        created_at: now_ms,
    };
    inner.comments.push(c.clone());
    Ok(c)
}

async fn list_comments(
    State(d): State<LinkedInDouble>,
    headers: HeaderMap,
    Path(target): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = d.lock();
    guard!(rest_guard(&d, &mut inner, &headers, "GET /rest/socialActions"));
    let start: usize = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let count: usize = q.get("count").and_then(|s| s.parse().ok()).unwrap_or(10);
    let on_post = inner.posts.iter().any(|p| p.urn == target);
    let on_comment = inner.comments.iter().any(|c| c.urn == target);
    if !on_post && !on_comment {
        return not_found();
    }
    let matching: Vec<&StoredComment> = inner
        .comments
        .iter()
        .filter(
            |c| if on_post { c.object == target && c.parent.is_none() } else { c.parent.as_deref() == Some(&target) },
        )
        .collect();
    let total = matching.len();
    let elements: Vec<Value> = matching.into_iter().skip(start).take(count).map(comment_json).collect();
    axum::Json(json!({"elements": elements, "paging": {"start": start, "count": count, "total": total, "links": []}}))
        .into_response()
}

async fn create_comment(
    State(d): State<LinkedInDouble>,
    headers: HeaderMap,
    Path(target): Path<String>,
    body: String,
) -> Response {
    let mut inner = d.lock();
    let caller = guard!(rest_guard(&d, &mut inner, &headers, "POST /rest/socialActions"));
    let Ok(v) = serde_json::from_str::<Value>(&body) else {
        return bad_request("ILLEGAL_ARGUMENT", "Request body could not be converted to data map");
    };
    let (Some(actor), Some(text)) = (v["actor"].as_str(), v.pointer("/message/text").and_then(Value::as_str)) else {
        return field_error("/message/text", "field is required but not found and has no default value");
    };
    if !may_act_as(&inner, &caller, actor, POSTING_ROLES) {
        return access_denied("partnerApiSocialActions.CREATE");
    }
    // The target is the post, or the comment being replied to.
    let (post, default_parent) = match inner.comments.iter().find(|c| c.urn == target) {
        Some(c) => (c.object.clone(), Some(target.clone())),
        None => (target.clone(), None),
    };
    if let Some(object) = v["object"].as_str()
        && object != post
    {
        return bad_request("ILLEGAL_ARGUMENT", "object does not match the URN in the path");
    }
    let parent = v["parentComment"].as_str().map(str::to_string).or(default_parent);
    let now = d.now() * 1000;
    let c = guard!(add_comment(&mut inner, actor, &post, parent.as_deref(), text, now));
    let activity = inner.posts.iter().find(|p| p.urn == post).map(|p| p.activity).unwrap_or_default();
    let mut answer = comment_json(&c);
    // LinkedIn may answer with the activity form of the object.
    answer["object"] = json!(format!("urn:li:activity:{activity}"));
    (StatusCode::CREATED, axum::Json(answer)).into_response()
}

/// `DELETE /rest/socialActions/{target}/comments/{commentId}?actor={urn}` → 204: the comment
/// (and its replies) go. The caller must act as `actor` (a Page's admin for the Page, with
/// `w_organization_social`), and `actor` must be the comment's author or the post's.
async fn delete_comment(
    State(d): State<LinkedInDouble>,
    headers: HeaderMap,
    Path((target, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = d.lock();
    let caller = guard!(rest_guard(&d, &mut inner, &headers, "DELETE /rest/socialActions"));
    let Some(actor) = q.get("actor").cloned() else {
        return bad_request("ILLEGAL_ARGUMENT", "Parameter 'actor' is required");
    };
    let scoped = if actor.starts_with("urn:li:organization:") {
        caller.has_scope("w_organization_social") && may_act_as(&inner, &caller, &actor, POSTING_ROLES)
    } else {
        caller.has_scope("w_member_social") && actor == caller.person()
    };
    if !scoped {
        return access_denied("partnerApiSocialActions.DELETE");
    }
    let Some(c) = inner.comments.iter().find(|c| c.id == id).cloned() else {
        return not_found();
    };
    if c.object != target && c.parent.as_deref() != Some(target.as_str()) {
        return not_found();
    }
    let post_author = inner.posts.iter().find(|p| p.urn == c.object).map(|p| p.author.clone());
    if c.actor != actor && post_author.as_deref() != Some(actor.as_str()) {
        return access_denied("partnerApiSocialActions.DELETE");
    }
    inner.comments.retain(|x| x.urn != c.urn && x.parent.as_deref() != Some(c.urn.as_str()));
    StatusCode::NO_CONTENT.into_response()
}

async fn share_statistics(
    State(d): State<LinkedInDouble>,
    headers: HeaderMap,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let mut inner = d.lock();
    let caller = guard!(rest_guard(&d, &mut inner, &headers, "GET /rest/organizationalEntityShareStatistics"));
    let params: HashMap<String, String> = raw
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let Some(org) = params.get("organizationalEntity").map(|v| crate::percent_decode(v)) else {
        return bad_request("ILLEGAL_ARGUMENT", "Parameter 'organizationalEntity' is required");
    };
    if params.get("q").map(String::as_str) != Some("organizationalEntity") {
        return bad_request("ILLEGAL_ARGUMENT", "Unsupported finder");
    }
    let admin = inner.org_roles.iter().any(|(s, o, r)| *s == caller.sub && *o == org && r == "ADMINISTRATOR");
    if !admin || !caller.has_scope("rw_organization_admin") {
        return access_denied("organizationalEntityShareStatistics.FINDER-organizationalEntity");
    }
    // Rest.li 2.0: `List(urn%3Ali%3Ashare%3A1,urn%3Ali%3Ashare%3A2)`, each element encoded.
    let wanted: Option<Vec<String>> = match params.get("shares") {
        None => None,
        Some(list) => {
            let Some(inside) = list.strip_prefix("List(").and_then(|l| l.strip_suffix(')')) else {
                return bad_request("ILLEGAL_ARGUMENT", "shares must be a Rest.li List(…)");
            };
            Some(inside.split(',').filter(|s| !s.is_empty()).map(crate::percent_decode).collect())
        }
    };
    let elements: Vec<Value> = inner
        .posts
        .iter()
        .filter(|p| p.author == org && wanted.as_ref().is_none_or(|w| w.contains(&p.urn)))
        .map(|p| {
            let counts = inner.stats.get(&p.urn).copied().unwrap_or_default();
            let comments = inner.comments.iter().filter(|c| c.object == p.urn).count() as u64;
            let engagement = if counts.impressions == 0 {
                0.0
            } else {
                (counts.clicks + counts.likes + comments + counts.shares) as f64 / counts.impressions as f64
            };
            let key = if p.urn.starts_with("urn:li:ugcPost:") { "ugcPost" } else { "share" };
            json!({
                "organizationalEntity": org,
                key: p.urn,
                "totalShareStatistics": {
                    "impressionCount": counts.impressions, "uniqueImpressionsCount": counts.unique_impressions,
                    "clickCount": counts.clicks, "likeCount": counts.likes, "commentCount": comments,
                    "shareCount": counts.shares, "engagement": engagement,
                }
            })
        })
        .collect();
    let total = elements.len();
    axum::Json(json!({"elements": elements, "paging": {"start": 0, "count": total, "links": []}})).into_response()
}

/// Page roles that may read a page's posts, comments and reactions (`r_organization_social`).
const READING_ROLES: &[&str] = &["ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER"];

async fn social_metadata(State(d): State<LinkedInDouble>, headers: HeaderMap, Path(urn): Path<String>) -> Response {
    let mut inner = d.lock();
    let caller = guard!(rest_guard(&d, &mut inner, &headers, "GET /rest/socialMetadata"));
    let Some(post) = inner.posts.iter().find(|p| p.urn == urn).cloned() else {
        return not_found();
    };
    let allowed = if post.author.starts_with("urn:li:organization:") {
        caller.has_scope("r_organization_social") && may_act_as(&inner, &caller, &post.author, READING_ROLES)
    } else {
        caller.has_scope("r_member_social") && post.author == caller.person()
    };
    if !allowed {
        return access_denied("socialMetadata.GET");
    }
    let likes = inner.stats.get(&urn).map_or(0, |c| c.likes);
    let on_post: Vec<&StoredComment> = inner.comments.iter().filter(|c| c.object == urn).collect();
    let top_level = on_post.iter().filter(|c| c.parent.is_none()).count();
    let mut reactions = serde_json::Map::new();
    if likes > 0 {
        reactions.insert("LIKE".into(), json!({"reactionType": "LIKE", "count": likes}));
    }
    axum::Json(json!({
        "reactionSummaries": reactions,
        "commentsState": "OPEN",
        "commentSummary": {"count": on_post.len(), "topLevelCount": top_level},
        "entity": urn,
    }))
    .into_response()
}

async fn organization_acls(
    State(d): State<LinkedInDouble>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = d.lock();
    let caller = guard!(rest_guard(&d, &mut inner, &headers, "GET /rest/organizationAcls"));
    if q.get("q").map(String::as_str) != Some("roleAssignee") {
        return bad_request("ILLEGAL_ARGUMENT", "Unsupported finder");
    }
    let role = q.get("role");
    // Every role the double knows is APPROVED: asking for another state lists nothing.
    if q.get("state").is_some_and(|s| s != "APPROVED") {
        return axum::Json(json!({"elements": [], "paging": {"start": 0, "count": 10, "links": []}})).into_response();
    }
    let start: usize = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let count: usize = q.get("count").and_then(|s| s.parse().ok()).unwrap_or(10);
    let person = caller.person();
    let elements: Vec<Value> = inner
        .org_roles
        .iter()
        .filter(|(s, _, r)| *s == caller.sub && role.is_none_or(|want| want == r))
        .skip(start)
        .take(count)
        .map(|(_, o, r)| json!({"roleAssignee": person, "role": r, "state": "APPROVED", "organization": o}))
        .collect();
    axum::Json(json!({"elements": elements, "paging": {"start": start, "count": count, "links": []}})).into_response()
}

/// `organizations/organization-lookup-api`: an administrator of the page reads it whole.
async fn get_organization(State(d): State<LinkedInDouble>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let mut inner = d.lock();
    let caller = guard!(rest_guard(&d, &mut inner, &headers, "GET /rest/organizations"));
    let urn = format!("urn:li:organization:{id}");
    let Some((name, vanity, _)) = inner.organizations.get(&urn).cloned() else {
        return not_found();
    };
    if !may_act_as(&inner, &caller, &urn, &["ADMINISTRATOR", "CONTENT_ADMINISTRATOR", "ANALYST", "CURATOR"]) {
        return access_denied("organizations.GET");
    }
    let number: u64 = id.parse().unwrap_or(0);
    axum::Json(json!({
        "id": number, "localizedName": name, "vanityName": vanity,
        "name": {"localized": {"en_US": name}, "preferredLocale": {"country": "US", "language": "en"}},
        "primaryOrganizationType": "NONE",
    }))
    .into_response()
}

/// `GET /rest/networkSizes/{urn}?edgeType=COMPANY_FOLLOWED_BY_MEMBER` → `firstDegreeSize`.
async fn network_size(
    State(d): State<LinkedInDouble>,
    headers: HeaderMap,
    Path(urn): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut inner = d.lock();
    guard!(rest_guard(&d, &mut inner, &headers, "GET /rest/networkSizes"));
    if q.get("edgeType").map(String::as_str) != Some("COMPANY_FOLLOWED_BY_MEMBER") {
        return bad_request("ILLEGAL_ARGUMENT", "edgeType must be COMPANY_FOLLOWED_BY_MEMBER for an organization");
    }
    match inner.organizations.get(&urn) {
        Some((_, _, followers)) => axum::Json(json!({"firstDegreeSize": followers})).into_response(),
        None => not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescaped_reserved_characters_cut_the_text() {
        assert_eq!(little_text_kept("Launch (beta) today"), "Launch ");
        assert_eq!(little_text_kept(r"Launch \(beta\) today"), r"Launch \(beta\) today");
        assert_eq!(little_text_kept(r"a \\ b"), r"a \\ b");
        assert_eq!(little_text_kept("trailing \\"), "trailing ");
        assert_eq!(
            little_text_kept("Hi @[Devtestco](urn:li:organization:2414183) #coding"),
            "Hi @[Devtestco](urn:li:organization:2414183) #coding"
        );
        assert_eq!(little_text_kept("mail me @ home"), "mail me ");
        assert_eq!(unescape_little_text(r"Launch \(beta\) \\ ok"), r"Launch (beta) \ ok");
    }
}
