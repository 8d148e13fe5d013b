//! A double of LinkedIn's OAuth 2.0 and identity endpoints.
//!
//! Built from learn.microsoft.com/en-us/linkedin/: `shared/authentication/authorization-code-flow`
//! (authorize redirect with `code`/`state` or `error=user_cancelled_authorize`; codes live 30
//! minutes and work once; the token call must repeat the exact `redirect_uri`; errors
//! `{"error","error_description"}`), `shared/authentication/programmatic-refresh-tokens`
//! (refresh only for apps approved for it; the refresh token's lifetime counts down from the
//! first grant), `consumer/integrations/self-serve/sign-in-with-linkedin-v2` (`/v2/userinfo`),
//! `shared/api-guide/concepts/error-handling` (401 `serviceErrorCode` 65600 invalid, 65601
//! revoked) and `shared/api-guide/concepts/rate-limits` (429 with no rate-limit headers).
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{Fault, RecordedRequest, json_error, random_token};

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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            client_id: "steward-test-client".into(),
            client_secret: "steward-test-secret".into(),
            refresh_enabled: true,
            access_ttl: 5_184_000,
            refresh_ttl: 31_536_000,
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

#[derive(Default)]
struct Inner {
    codes: HashMap<String, Code>,
    access_tokens: HashMap<String, usize>,
    refresh_tokens: HashMap<String, usize>,
    grants: Vec<Grant>,
    consent: Option<Member>,
    cancel_next: bool,
    faults: Vec<(String, Fault)>,
    requests: Vec<RecordedRequest>,
    clock_offset: i64,
}

/// A running LinkedIn double.
#[derive(Clone)]
pub struct LinkedInDouble {
    /// Origin serving both the auth and the API paths.
    pub base: String,
    config: Arc<Config>,
    inner: Arc<Mutex<Inner>>,
}

fn now_secs(offset: i64) -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0) + offset
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
        let config = Arc::new(config);
        let mut double = Self { base: String::new(), config, inner };
        let router = Router::new()
            .route("/oauth/v2/authorization", get(authorize))
            .route("/oauth/v2/accessToken", post(access_token))
            .route("/v2/userinfo", get(userinfo))
            .layer(axum::middleware::from_fn_with_state(double.clone(), record))
            .with_state(double.clone());
        let (base, _) = crate::serve(router).await?;
        double.base = base;
        Ok(double)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The member who approves the next authorizations.
    pub fn set_member(&self, member: Member) {
        self.lock().consent = Some(member);
    }

    /// The next authorization is cancelled by the member.
    pub fn cancel_next_authorization(&self) {
        self.lock().cancel_next = true;
    }

    /// Serves `fault` once, on the next request whose path starts with `path_prefix`.
    pub fn inject(&self, path_prefix: &str, fault: Fault) {
        self.lock().faults.push((path_prefix.to_string(), fault));
    }

    /// Revokes every token (the member removed the app in their LinkedIn settings).
    pub fn revoke_all(&self) {
        for g in &mut self.lock().grants {
            g.revoked = true;
        }
    }

    /// Moves the double's clock forward.
    pub fn advance(&self, by: Duration) {
        self.lock().clock_offset += by.as_secs() as i64;
    }

    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    fn take_fault(&self, path: &str) -> Option<Fault> {
        let mut inner = self.lock();
        let i = inner.faults.iter().position(|(p, _)| path.starts_with(p.as_str()))?;
        Some(inner.faults.remove(i).1)
    }
}

async fn record(State(d): State<LinkedInDouble>, req: Request, next: axum::middleware::Next) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let path = parts.uri.path().to_string();
    d.lock().requests.push(RecordedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect(),
        body: String::from_utf8_lossy(&bytes).to_string(),
    });
    match d.take_fault(&path) {
        Some(Fault::ServerError) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body>Service Unavailable</body></html>",
            )
                .into_response();
        }
        Some(Fault::RateLimited) => {
            // LinkedIn sends no rate-limit headers and no Retry-After.
            return json_error(
                429,
                json!({"status": 429, "message": "Resource level throttle limit for calls to this resource is reached."}),
            );
        }
        Some(Fault::Delay(by)) => tokio::time::sleep(by).await,
        None => {}
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
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

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    json_error(status, json!({"error": error, "error_description": description}))
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
    let now = now_secs(inner.clock_offset);
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
            let verifier_ok = match (&c.challenge, get("code_verifier")) {
                (None, _) => true,
                (Some(ch), Some(v)) => {
                    use base64::Engine;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == *ch
                }
                (Some(_), None) => false,
            };
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
    inner.access_tokens.insert(access.clone(), idx);
    let g = &inner.grants[idx];
    let mut body = json!({"access_token": access, "expires_in": g.access_expires - now, "scope": g.scope});
    if d.config.refresh_enabled {
        let refresh = random_token("AQW");
        body["refresh_token"] = json!(refresh);
        body["refresh_token_expires_in"] = json!(g.refresh_expires - now);
        inner.refresh_tokens.insert(refresh, idx);
    }
    axum::Json(body).into_response()
}

async fn userinfo(State(d): State<LinkedInDouble>, headers: axum::http::HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if token.is_empty() {
        return json_error(
            401,
            json!({"status": 401, "serviceErrorCode": 65604, "code": "EMPTY_ACCESS_TOKEN", "message": "Empty oauth2_access_token"}),
        );
    }
    let inner = d.lock();
    let now = now_secs(inner.clock_offset);
    let Some(g) = inner.access_tokens.get(token).map(|i| &inner.grants[*i]) else {
        return json_error(
            401,
            json!({"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid access token"}),
        );
    };
    if g.revoked {
        return json_error(
            401,
            json!({"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "The token used in the request has been revoked by the user"}),
        );
    }
    if g.access_expires <= now {
        return json_error(
            401,
            json!({"status": 401, "serviceErrorCode": 65602, "code": "EXPIRED_ACCESS_TOKEN", "message": "The token used in the request has expired"}),
        );
    }
    let (given, family) = g.member.name.split_once(' ').unwrap_or((&g.member.name, ""));
    axum::Json(json!({
        "sub": g.member.sub, "name": g.member.name, "given_name": given, "family_name": family,
        "picture": "https://media.licdn.com/dms/image/placeholder", "locale": {"country": "US", "language": "en"},
        "email": g.member.email, "email_verified": true
    }))
    .into_response()
}
