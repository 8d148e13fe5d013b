//! The web app: server-rendered HTML pages served by the same process as the API.
//!
//! Pages never decide anything themselves. A page handler extracts the same [`Principal`] as
//! the API (same session check, same CSRF check), then calls the same `steward_app` use case as
//! the API: the same authorization, validation, transaction and audit event as a JSON request.
//! Errors come back as `AppError` and are shown as plain sentences next to the field they
//! concern ([`form::Form`]), or as a whole error page ([`PageError`]).
//!
//! CSRF: HTML forms cannot send the `X-CSRF-Token` header, so [`forms_carry_csrf`] lifts the
//! form's `csrf_token` field into that header before the request reaches the extractors, and the
//! API's one CSRF check applies unchanged. Forms shown before sign-in (sign in, sign up) use a
//! pre-session token bound to a random cookie ([`presession`]).
pub mod account;
pub mod activity;
pub mod alerts;
pub mod analytics;
pub mod chart;
pub mod comments;
pub mod confirm;
pub mod connect;
pub mod error;
pub mod form;
pub mod html;
pub mod leaving;
pub mod lockdown;
pub mod member_devices;
pub mod members;
pub mod notifications;
pub mod posts;
pub mod reset;
pub mod security;
pub mod signin;
pub mod time;
pub mod words;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use steward_app::AppError;
use steward_domain::capability::Capability;

use crate::auth::{AuthVia, CSRF_HEADER, Principal, csrf_token};
use crate::error::ApiError;
use crate::request::{AuditSlot, Ctx, RequestMeta, cookie};
use crate::state::AppState;
use steward_app::crypto::{constant_time_eq, hmac_sha256, random_array};

pub use error::{OrPage, PageError};
pub use form::{Form, FormData};

/// The stylesheet and the small script, embedded in the binary (no CDN, no fonts).
const STYLESHEET: &str = include_str!("assets/steward.css");
const SCRIPT: &str = include_str!("assets/steward.js");
/// Content-Security-Policy of every page: only our own stylesheet and script, and forms that
/// post only to Steward.
pub const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; media-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const PRESESSION_COOKIE: &str = "steward_pre";
/// Behind TLS, `__Host-` prefixed like the session cookie (Secure, Path=/, no Domain).
const HOST_PRESESSION_COOKIE: &str = "__Host-steward_pre";

fn presession_cookie_name(state: &AppState) -> &'static str {
    if state.settings.secure_cookies() { HOST_PRESESSION_COOKIE } else { PRESESSION_COOKIE }
}
const TZ_COOKIE: &str = "steward_tz";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(account::home))
        .route("/signin", get(signin::signin_page).post(signin::signin_submit))
        .route("/signup", get(signin::signup_page).post(signin::signup_submit))
        .route("/signout", post(signin::signout))
        .route("/forgot", get(reset::forgot_page).post(reset::forgot_submit))
        .route("/reset/{token}", get(reset::reset_page).post(reset::reset_submit))
        .route("/invite/{token}", get(signin::invitation_page).post(signin::invitation_submit))
        .route("/accounts/{id}", get(account::overview))
        .route("/accounts/{id}/rules/accept", post(account::accept_rules))
        .route("/accounts/{id}/check", post(account::check))
        .route("/accounts/{id}/leave", post(account::leave))
        .route("/accounts/{id}/settings", get(account::settings_page).post(account::settings_submit))
        .route("/accounts/{id}/delete", post(account::delete_submit))
        .route("/accounts/{id}/members", get(members::members_page))
        .route("/accounts/{id}/invitations", post(members::invite))
        .route("/accounts/{id}/invitations/{inv}/withdraw", post(members::withdraw))
        .route("/accounts/{id}/invitations/{inv}/resend", post(members::resend))
        .route("/accounts/{id}/members/{user_id}", get(members::member_page).post(members::member_submit))
        .route("/accounts/{id}/members/{user_id}/remove", post(members::remove))
        .route("/accounts/{id}/members/{user_id}/sessions/{sid}/end", post(member_devices::end_session))
        .route("/accounts/{id}/calendar", get(posts::calendar_page))
        .route("/calendar", get(posts::planner_page))
        .route("/calendar/move", get(posts::move_page).post(posts::move_submit))
        .route("/compose", get(posts::compose_page).post(posts::compose_submit))
        .route("/accounts/{id}/review", get(posts::review_page))
        .route("/accounts/{id}/posts/new", get(posts::new_post_page))
        .route("/accounts/{id}/posts", get(posts::posts_page).post(posts::create_submit))
        .route("/posts/{pid}", get(posts::post_page).post(posts::edit_submit))
        .route("/posts/{pid}/submit", post(posts::submit))
        .route("/posts/{pid}/approve", post(posts::approve))
        .route("/posts/{pid}/request-changes", post(posts::request_changes))
        .route("/posts/{pid}/schedule", post(posts::schedule))
        .route("/posts/{pid}/publish-now", post(posts::publish_now))
        .route("/posts/{pid}/cancel", post(posts::cancel))
        .route("/posts/{pid}/comments", post(posts::comment))
        .route("/security", get(security::security_page))
        .route("/security/password", post(security::change_password))
        .route("/security/delete", get(leaving::delete_page).post(leaving::delete_submit))
        .route("/security/totp", post(security::totp_begin))
        .route("/security/totp/confirm", post(security::totp_confirm))
        .route("/security/totp/disable", post(security::totp_disable))
        .route("/security/sessions/revoke-all", post(security::revoke_all))
        .route("/security/sessions/{id}/revoke", post(security::revoke_session))
        .route("/security/tokens", post(security::create_token))
        .route("/security/tokens/{id}/revoke", post(security::revoke_token))
        .route("/connect", get(connect::connect_page))
        .route("/connect/credentials", post(connect::connect_credentials))
        .route("/connect/oauth", post(connect::connect_oauth))
        .route("/connect/linkedin/pages/{choice}", get(connect::pages_page).post(connect::pages_submit))
        // Activity, alerts and lockdown.
        .route("/activity", get(activity::my_log))
        .route("/accounts/{id}/activity", get(activity::account_log))
        .route("/notifications", get(notifications::notifications_page).post(notifications::preferences_submit))
        .route("/notifications/{id}/read", post(notifications::mark_read))
        .route("/alerts", get(alerts::alerts_page))
        .route("/alerts/ack-all", post(alerts::acknowledge_all))
        .route("/alerts/{id}/ack", post(alerts::acknowledge))
        .route("/alerts/preferences", get(alerts::preferences).post(alerts::preferences_submit))
        .route("/alerts/preferences/rotate", post(alerts::rotate_secret))
        .route("/accounts/{id}/settings/alerts", get(alerts::thresholds_page).post(alerts::thresholds_submit))
        .route("/accounts/{id}/lockdown", get(lockdown::lockdown_page).post(lockdown::lockdown_submit))
        .route("/accounts/{id}/lockdown/lift", post(lockdown::lift_submit))
        // Engagement: the comments inbox and analytics.
        .route("/accounts/{id}/comments", get(comments::comments_page))
        .route("/accounts/{id}/comments/reply", post(comments::reply_submit))
        .route("/accounts/{id}/comments/moderate", post(comments::moderate_submit))
        .route("/accounts/{id}/analytics", get(analytics::analytics_page))
        .route("/accounts/{id}/analytics.csv", get(analytics::analytics_csv))
        .route("/assets/steward.css", get(|| async { asset("text/css; charset=utf-8", STYLESHEET) }))
        .route("/assets/steward.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .layer(axum::middleware::from_fn(forms_carry_csrf))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// Reads an HTML form's body once, keeps its fields for the handler ([`FormData`]) and copies
/// its `csrf_token` field into the `X-CSRF-Token` header, where the API's CSRF check looks.
async fn forms_carry_csrf(req: Request, next: Next) -> Response {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, crate::request::BODY_LIMIT).await else {
        return ApiError(AppError::PayloadTooLarge).into_response();
    };
    let data = FormData::parse(&bytes);
    if let Some(token) = data.get("csrf_token")
        && let Ok(v) = HeaderValue::from_str(token)
    {
        parts.headers.insert(CSRF_HEADER, v);
    }
    parts.extensions.insert(data);
    next.run(Request::from_parts(parts, Body::empty())).await
}

/// The viewer's own time zone, as the page script reported it (none: not known yet).
fn viewer_time_zone(headers: &HeaderMap) -> Option<jiff::tz::TimeZone> {
    let raw = cookie(headers, TZ_COOKIE)?;
    let name = raw.replace("%2F", "/");
    steward_domain::windows::parse_time_zone(&name).ok()
}

/// A signed-in person looking at a page: the API's own [`Principal`] (the cookie session only;
/// CSRF already checked for unsafe methods), and the request context to pass on.
pub struct Viewer {
    pub principal: Principal,
    pub csrf: String,
    pub meta: RequestMeta,
    pub slot: AuditSlot,
    pub tz: Option<jiff::tz::TimeZone>,
    /// Unread notifications, for the header (counted up to a hundred).
    pub unread: i64,
}

impl Viewer {
    /// A request context for calling an API handler (several may be called for one page).
    #[must_use]
    pub fn ctx(&self) -> Ctx {
        Ctx { meta: self.meta.clone(), slot: self.slot.clone() }
    }

    #[must_use]
    pub fn layout(&self, title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            viewer: Some(self.principal.display_name.clone()),
            csrf: self.csrf.clone(),
            account: None,
            notice: None,
            unread: self.unread,
        }
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let next = parts.uri.path().to_string();
        let principal = match Principal::from_request_parts(parts, state).await {
            Ok(p) if p.via == AuthVia::Cookie => p,
            Ok(_) | Err(ApiError(AppError::Unauthenticated { .. })) => {
                return Err(to_signin(&next, parts.method.is_safe()));
            }
            Err(e) => return Err(PageError::new(None, e).into_response()),
        };
        let csrf = principal.session_id.as_deref().map(|sid| csrf_token(state, sid)).unwrap_or_default();
        let meta = parts.extensions.get::<RequestMeta>().cloned().unwrap_or(RequestMeta {
            ip: "unknown".into(),
            user_agent: None,
            device: None,
        });
        let slot = parts.extensions.get::<AuditSlot>().cloned().unwrap_or_default();
        // The header's count is a courtesy: a failure to count shows none rather than no page.
        let unread = steward_app::notifications::inbox::unread_count(state, &principal).await.unwrap_or(0);
        Ok(Viewer { principal, csrf, meta, slot, tz: viewer_time_zone(&parts.headers), unread })
    }
}

/// Someone not (necessarily) signed in, on the sign-in, sign-up and invitation pages.
pub struct Visitor {
    pub meta: RequestMeta,
    pub slot: AuditSlot,
    pub headers: HeaderMap,
}

impl Visitor {
    #[must_use]
    pub fn ctx(&self) -> Ctx {
        Ctx { meta: self.meta.clone(), slot: self.slot.clone() }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let meta = parts.extensions.get::<RequestMeta>().cloned().unwrap_or(RequestMeta {
            ip: "unknown".into(),
            user_agent: None,
            device: None,
        });
        let slot = parts.extensions.get::<AuditSlot>().cloned().unwrap_or_default();
        Ok(Visitor { meta, slot, headers: parts.headers.clone() })
    }
}

/// The pre-session CSRF token: forms shown before sign-in carry an HMAC of a random cookie, so
/// another site cannot sign a browser in to the attacker's account (login CSRF).
pub struct Presession {
    pub token: String,
    /// `Set-Cookie` for a browser that had no pre-session cookie yet.
    pub set_cookie: Option<String>,
    /// The cookie's value, to bind a pending two-factor sign-in to this browser.
    pub binding: String,
}

#[must_use]
pub fn presession(state: &AppState, headers: &HeaderMap) -> Presession {
    let name = presession_cookie_name(state);
    let (value, set_cookie) = match cookie(headers, name).filter(|v| v.len() >= 32) {
        Some(v) => (v.to_string(), None),
        None => {
            let v = URL_SAFE_NO_PAD.encode(random_array::<32>());
            let secure = if state.settings.secure_cookies() { "; Secure" } else { "" };
            let set = format!("{name}={v}; Path=/; HttpOnly; SameSite=Strict{secure}");
            (v, Some(set))
        }
    };
    let token = URL_SAFE_NO_PAD.encode(hmac_sha256(&state.csrf_key, format!("presession:{value}").as_bytes()));
    Presession { token, set_cookie, binding: value }
}

/// Whether a form posted before sign-in carries the right pre-session token.
#[must_use]
pub fn presession_ok(state: &AppState, headers: &HeaderMap, data: &FormData) -> bool {
    let Some(value) = cookie(headers, presession_cookie_name(state)) else { return false };
    let expected = URL_SAFE_NO_PAD.encode(hmac_sha256(&state.csrf_key, format!("presession:{value}").as_bytes()));
    constant_time_eq(data.get("csrf_token").unwrap_or("").as_bytes(), expected.as_bytes())
}

/// What every page's frame shows: the title, who is signed in, the account's tabs, a notice.
pub struct Layout {
    pub title: String,
    pub viewer: Option<String>,
    pub csrf: String,
    pub account: Option<AccountNav>,
    pub notice: Option<String>,
    /// The viewer's unread notifications (0 for nobody).
    pub unread: i64,
}

impl Layout {
    #[must_use]
    pub fn anonymous(title: impl Into<String>) -> Self {
        Layout { title: title.into(), viewer: None, csrf: String::new(), account: None, notice: None, unread: 0 }
    }
}

/// The tabs of an account's pages; a tab is present only when the viewer may use it.
pub struct AccountNav {
    pub id: String,
    pub name: String,
    pub tabs: Vec<Tab>,
}

pub struct Tab {
    pub href: String,
    pub label: &'static str,
    pub current: bool,
}

/// An HTML response with the page headers (no caching of personal pages, our CSP).
pub fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
        ],
        body,
    )
        .into_response()
}

/// Renders an askama template into a response; a template that fails to render is an internal
/// error (it cannot happen with compiled templates, but it is never a panic).
pub fn render<T: askama::Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(body) => html(status, body),
        Err(e) => ApiError::internal(anyhow::anyhow!("template: {e}")).into_response(),
    }
}

/// Renders a page that shows an API error, marked as a denial for the audit log when it is one.
pub fn render_failed<T: askama::Template>(template: &T, error: &ApiError) -> Response {
    let mut resp = render(error.status(), template);
    if let Some(d) = error.denial() {
        resp.extensions_mut().insert(d);
    }
    if let ApiError(AppError::Internal(e)) = error {
        tracing::error!(error = %format!("{e:#}"), "page request failed");
    }
    resp
}

/// 303 See Other: the answer to a form that worked (reloading does not post it again).
/// A target that cannot be a header value (a control or non-ASCII character) goes home instead,
/// so a 3xx never leaves without its `Location`.
pub fn see_other(to: &str) -> Response {
    let location = header::HeaderValue::from_str(to)
        .ok()
        .filter(|v| !v.is_empty() && v.as_bytes().iter().all(u8::is_ascii_graphic))
        .unwrap_or_else(|| header::HeaderValue::from_static("/"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

fn to_signin(next: &str, safe: bool) -> Response {
    if !safe {
        return see_other("/signin");
    }
    let q: String = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    see_other(&format!("/signin?{q}"))
}

/// A local path to go to after signing in; anything else (another site) goes home.
///
/// Browsers drop tabs and newlines inside URLs and read `\\` as `/`, so `/\t/evil.example` or
/// `/\\evil.example` would leave the site: the path must start with exactly one `/` and hold only
/// visible ASCII without a backslash, and so must its percent-decoded form (`/%09/…`, `/%5C…`).
#[must_use]
pub fn local_next(next: Option<&str>) -> String {
    fn stays_here(path: &[u8]) -> bool {
        path.first() == Some(&b'/')
            && path.get(1) != Some(&b'/')
            && !path.iter().any(|b| *b == b'\\' || b.is_ascii_control())
    }
    match next {
        Some(n)
            if n.bytes().all(|b| b.is_ascii_graphic())
                && stays_here(n.as_bytes())
                && stays_here(&percent_encoding::percent_decode_str(n).collect::<Vec<u8>>()) =>
        {
            n.to_string()
        }
        _ => "/".into(),
    }
}

/// An API error as a sentence for a person (field errors are shown by their fields instead).
#[must_use]
pub fn sentence(error: &ApiError) -> String {
    let text = match error {
        ApiError(AppError::NotFound) | ApiError(AppError::NotFoundDenied(_)) => {
            "This is not here, or you may not see it (you may no longer be a member of this account).".to_string()
        }
        ApiError(AppError::RulesNotAccepted) => {
            "Read and accept this account's house rules first (on the account's overview page).".to_string()
        }
        ApiError(AppError::TotpRequired) => {
            "Enter the code from your authenticator app, or a recovery code.".to_string()
        }
        ApiError(AppError::Unauthenticated { .. }) => "Your sign-in has ended; sign in again.".to_string(),
        ApiError(AppError::Forbidden(d)) if d.contains("CSRF") => {
            "This form has expired (you may have signed in again elsewhere); reload the page and try again.".to_string()
        }
        // "you do not have `audit.view` on this account": the right in words, not its id.
        ApiError(AppError::Forbidden(d))
            if let Some(c) = d.split('`').nth(1).and_then(|id| id.parse::<Capability>().ok()) =>
        {
            format!("You may not {} on this account", html::describe_capability(c))
        }
        other => other.describe(),
    };
    capitalize_sentence(&text)
}

/// "must be …" becomes "Must be ….": messages meant for fields read as sentences on their own.
#[must_use]
pub fn capitalize_sentence(text: &str) -> String {
    let mut chars = text.trim().chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        let kept = ["/", "/accounts/1", "/accounts/1/posts?view=week&day=2026-12-04", "/security#totp", "/a%20b"];
        for next in kept {
            assert_eq!(local_next(Some(next)), next, "{next:?} is a local path");
        }
        let refused = [
            "",
            "accounts/1",
            "//evil.example/",
            "///evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "\\/evil.example",
            "/\t/evil.example/",
            "/\n/evil.example/",
            "/\r//evil.example/",
            "/\u{7f}/evil.example/",
            "/ /evil.example/",
            "/%09/evil.example/",
            "/%0a/evil.example/",
            "/%0D/evil.example/",
            "/%2F/evil.example/",
            "/%2f%2fevil.example/",
            "/%5Cevil.example",
            "/%5cevil.example",
            "/%7F/evil.example",
            "/caf\u{e9}",
            "/%00",
        ];
        for next in refused {
            assert_eq!(local_next(Some(next)), "/", "{next:?} must go home");
        }
        assert_eq!(local_next(None), "/");
    }

    #[test]
    fn every_see_other_carries_a_location() {
        for (to, expected) in [("/accounts/1", "/accounts/1"), ("/\t/evil", "/"), ("/caf\u{e9}", "/"), ("", "/")] {
            let resp = see_other(to);
            assert_eq!(resp.status(), StatusCode::SEE_OTHER);
            assert_eq!(resp.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()), Some(expected), "{to:?}");
        }
    }

    #[test]
    fn errors_read_as_sentences() {
        assert_eq!(capitalize_sentence("must be 1 to 100 characters"), "Must be 1 to 100 characters.");
        assert_eq!(sentence(&ApiError(AppError::Conflict("already a member.".into()))), "Already a member.");
    }
}
