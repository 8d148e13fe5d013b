//! Authentication: who is calling. Session tokens (cookie or bearer) and personal access
//! tokens are random 256-bit strings stored only as SHA-256 hashes, checked against the
//! database on every request, so a revocation takes effect on the very next request on every
//! replica. Authorization (what the caller may do) lives in one function per resource kind.
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;
use crate::request::{AuditActor, AuditSlot, Ctx, RequestMeta, cookie, device_cookie_name};
use crate::state::AppState;
use steward_app::AppError;
use steward_app::actor::token_narrowing;
pub use steward_app::actor::{AuthVia, Principal};
use steward_app::crypto::{constant_time_eq, hmac_sha256, sha256};
use steward_app::identity::denials;
use steward_app::identity::sessions::require_session;

/// The session cookie over plain http (a local or test server).
pub const SESSION_COOKIE: &str = "steward_session";
/// The session cookie behind TLS: the `__Host-` prefix makes the browser refuse it unless it is
/// `Secure`, `Path=/` and without `Domain`, so a sibling subdomain cannot plant or shadow it.
pub const HOST_SESSION_COOKIE: &str = "__Host-steward_session";
/// How long a device cookie is kept: a year.
const DEVICE_COOKIE_MAX_AGE: u64 = 365 * 24 * 3600;
pub const CSRF_HEADER: &str = "x-csrf-token";
pub use steward_app::identity::sessions::SESSION_TOKEN_PREFIX;
pub use steward_app::identity::tokens::API_TOKEN_PREFIX;
/// How often a session's `last_seen_at` is written (reads happen on every request).
const TOUCH_EVERY_US: i64 = 60 * 1_000_000;

/// The CSRF token of a session: an HMAC of its id, so nothing extra is stored.
#[must_use]
pub fn csrf_token(state: &AppState, session_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(&state.csrf_key, session_id.as_bytes()))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The session cookie's name for this server: `__Host-` prefixed when it is reached over https.
#[must_use]
pub fn session_cookie_name(settings: &steward_app::config::Settings) -> &'static str {
    if settings.secure_cookies() { HOST_SESSION_COOKIE } else { SESSION_COOKIE }
}

/// The session token from the cookie of this server's name only (behind TLS an unprefixed
/// `steward_session`, which any subdomain could have set, is ignored).
pub fn session_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie(headers, name)
}

/// The `Set-Cookie` value for a device cookie (its value comes from the sign-in use case).
/// Strict: only sign-ins on this site read it.
#[must_use]
pub fn device_set_cookie(state: &AppState, value: &str) -> String {
    let secure = if state.settings.secure_cookies() { "; Secure" } else { "" };
    let name = device_cookie_name(&state.settings);
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={DEVICE_COOKIE_MAX_AGE}{secure}")
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let slot = parts.extensions.get::<AuditSlot>().cloned().unwrap_or_default();
        // `authenticate` has already named the actor in the slot, before any refusal.
        let principal = authenticate(parts, state, &slot).await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

async fn authenticate(parts: &Parts, state: &AppState, slot: &AuditSlot) -> Result<Principal, ApiError> {
    let (token, via) =
        match (bearer(&parts.headers), session_cookie(&parts.headers, session_cookie_name(&state.settings))) {
            (Some(t), _) if t.starts_with(API_TOKEN_PREFIX) => (t, AuthVia::ApiToken),
            (Some(t), _) => (t, AuthVia::BearerSession),
            (None, Some(c)) => (c, AuthVia::Cookie),
            (None, None) => return Err(ApiError(AppError::Unauthenticated { presented: false })),
        };
    // An unknown, expired or revoked credential is counted per address (one audit event a
    // minute per address, 429 past the limit), not recorded on its own.
    // Boxed: the rare refusal's audit write would otherwise make every request's future as
    // large as its own, copied whenever the future moves.
    let refused = || {
        Box::pin(async {
            let meta = parts.extensions.get::<RequestMeta>().cloned().unwrap_or(RequestMeta {
                ip: "unknown".into(),
                user_agent: None,
                device: None,
            });
            let ctx = Ctx { meta, slot: slot.clone() };
            ApiError(denials::refused_credential(state, &ctx).await)
        })
    };
    let now = state.clock.now_us();
    let hash = sha256(token.as_bytes());

    if via == AuthVia::ApiToken {
        let Some(t) = state.store.api_token_by_hash(&hash).await? else { return Err(refused().await) };
        slot.set_actor(AuditActor { user_id: Some(t.user_id.clone()), email: Some(t.email.clone()), session_id: None });
        if t.revoked_at.is_some() || t.expires_at.is_some_and(|e| e <= now) {
            return Err(refused().await);
        }
        let scopes: Vec<String> = serde_json::from_str(&t.scopes).unwrap_or_default();
        let needed = if is_unsafe(&parts.method) { "write" } else { "read" };
        // `write` implies `read`: a token that may change something may also look at it.
        if !(scopes.iter().any(|s| s == needed) || scopes.iter().any(|s| s == "write")) {
            return Err(ApiError(AppError::Forbidden(format!("this access token lacks the `{needed}` scope"))));
        }
        if t.last_used_at.is_none_or(|u| now - u > TOUCH_EVERY_US) {
            state.store.touch_api_token(&t.id, now).await?;
        }
        let (token_accounts, token_capabilities) = token_narrowing(t.accounts.as_deref(), t.capabilities.as_deref());
        return Ok(Principal {
            user_id: t.user_id,
            email: t.email,
            display_name: t.display_name,
            totp_enabled: t.totp_enabled,
            user_created_at: t.user_created_at,
            session_id: None,
            token_id: Some(t.id),
            via,
            token_accounts,
            token_capabilities,
        });
    }

    if !token.starts_with(SESSION_TOKEN_PREFIX) {
        return Err(refused().await);
    }
    let Some(s) = state.store.session_by_token_hash(&hash).await? else { return Err(refused().await) };
    slot.set_actor(AuditActor {
        user_id: Some(s.user_id.clone()),
        email: Some(s.email.clone()),
        session_id: Some(s.id.clone()),
    });
    let idle_us = i64::try_from(state.settings.session_idle.as_micros()).unwrap_or(i64::MAX);
    if s.revoked_at.is_some() || s.expires_at <= now || s.last_seen_at.saturating_add(idle_us) <= now {
        return Err(refused().await);
    }
    if via == AuthVia::Cookie && is_unsafe(&parts.method) {
        let expected = csrf_token(state, &s.id);
        let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !constant_time_eq(sent.as_bytes(), expected.as_bytes()) {
            return Err(ApiError(AppError::Forbidden(
                "missing or wrong CSRF token: send the `X-CSRF-Token` header you got at sign-in".into(),
            )));
        }
    }
    if now - s.last_seen_at > TOUCH_EVERY_US {
        state.store.touch_session(&s.id, now).await?;
    }
    Ok(Principal {
        user_id: s.user_id,
        email: s.email,
        display_name: s.display_name,
        totp_enabled: s.totp_enabled,
        user_created_at: s.user_created_at,
        session_id: Some(s.id),
        token_id: None,
        via,
        token_accounts: None,
        token_capabilities: None,
    })
}

/// A caller signed in with a session (cookie or bearer), not a personal access token. Account
/// security (2FA, sessions, tokens) needs this, so a leaked token cannot mint more tokens,
/// end the owner's sessions or switch off 2FA.
#[derive(Debug, Clone)]
pub struct SessionPrincipal(pub Principal);

impl FromRequestParts<AppState> for SessionPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let p = Principal::from_request_parts(parts, state).await?;
        require_session(&p)?;
        Ok(SessionPrincipal(p))
    }
}

/// The `Set-Cookie` value for a new session.
#[must_use]
pub fn session_set_cookie(state: &AppState, token: &str) -> String {
    let max_age = state.settings.session_absolute.as_secs();
    let secure = if state.settings.secure_cookies() { "; Secure" } else { "" };
    // Lax, not Strict: the OAuth callback is a top-level cross-site redirect that must carry it.
    let name = session_cookie_name(&state.settings);
    format!("{name}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
}

#[must_use]
pub fn clear_session_cookie(state: &AppState) -> String {
    let secure = if state.settings.secure_cookies() { "; Secure" } else { "" };
    let name = session_cookie_name(&state.settings);
    format!("{name}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}
