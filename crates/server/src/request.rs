//! Per-request context and the middleware around every request: who is calling from where,
//! metrics, one log line (route pattern only: paths can carry tokens), and the audit event
//! for every denied request.
use std::net::{IpAddr, SocketAddr};

use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;
use steward_app::actor::SlotNotes;
pub use steward_app::actor::{AuditActor, AuditSlot, Ctx, DeviceCookie, RequestMeta};
use steward_store::NewAuditEvent;
use tracing::Instrument;

use crate::error::{ApiError, Denial};
use crate::state::AppState;
use steward_app::metrics::{RequestLabels, RouteLabels};

/// The device cookie (`steward_app::identity::device`): this client signed in here before.
pub const DEVICE_COOKIE: &str = "steward_device";
/// The device cookie behind TLS (Secure, Path=/, no Domain); the unprefixed name is then not read.
pub const HOST_DEVICE_COOKIE: &str = "__Host-steward_device";

/// The device cookie's name for this server: `__Host-` prefixed when it is reached over https,
/// like the session cookie, so a sibling subdomain can neither plant one (to move its guesses
/// to a device's own count) nor shadow the person's.
#[must_use]
pub fn device_cookie_name(settings: &steward_app::config::Settings) -> &'static str {
    if settings.secure_cookies() { HOST_DEVICE_COOKIE } else { DEVICE_COOKIE }
}

/// The value of the cookie `wanted`, if the request carries it.
pub fn cookie<'h>(headers: &'h HeaderMap, wanted: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value)
}

/// Request bodies above this are refused with 413 (media uploads get their own limit).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The request context (where it came from, its audit slot), set by [`middleware`].
impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        let meta = parts.extensions.get::<RequestMeta>().cloned().unwrap_or(RequestMeta {
            ip: "unknown".into(),
            user_agent: None,
            device: None,
        });
        let slot = parts.extensions.get::<AuditSlot>().cloned().unwrap_or_default();
        Ok(Ctx { meta, slot })
    }
}

/// The client's address: the peer's, unless the peer is a trusted proxy; then the nearest
/// address in `X-Forwarded-For` that is not itself a trusted proxy (proxies append, so
/// everything left of that was written by the client and proves nothing).
fn client_ip(req: &Request, trusted_proxies: &[IpAddr]) -> String {
    let Some(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip()) else {
        return "unknown".into();
    };
    let peer = peer.to_canonical();
    if !trusted_proxies.contains(&peer) {
        return peer.to_string();
    }
    let entries: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for entry in entries.into_iter().rev() {
        let Ok(addr) = entry.trim().parse::<IpAddr>() else { break };
        client = addr.to_canonical();
        if !trusted_proxies.contains(&client) {
            break;
        }
    }
    client.to_string()
}

/// The route pattern a request matched, as a `&'static str` for the metric labels and the log
/// line: patterns are the router's own (never a raw path), so the set is small and each is
/// kept once for the life of the process; after the first request of a route, a lookup.
fn route_name(req: &Request) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{LazyLock, PoisonError, RwLock};
    static ROUTES: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(Default::default);
    let Some(path) = req.extensions().get::<MatchedPath>().map(MatchedPath::as_str) else {
        return "unmatched";
    };
    if let Some(known) = ROUTES.read().unwrap_or_else(PoisonError::into_inner).get(path) {
        return known;
    }
    let mut routes = ROUTES.write().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = routes.get(path) {
        return known;
    }
    let name: &'static str = Box::leak(path.to_owned().into_boxed_str());
    routes.insert(name);
    name
}

/// The method's name without allocating; methods outside HTTP's own are counted as `OTHER`.
fn method_name(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

/// A request's id: 32 hex digits, a random half drawn once per process (so replicas and
/// restarts do not repeat each other's ids) and a counter. Unique and cheap: no clock, no
/// random draw and no lock per request.
#[derive(Clone, Copy)]
struct RequestId([u8; 32]);

impl RequestId {
    fn next() -> Self {
        use std::sync::LazyLock;
        use std::sync::atomic::{AtomicU64, Ordering};
        static PROCESS: LazyLock<u64> = LazyLock::new(|| {
            let mut b = [0u8; 8];
            // Without randomness the ids are still unique within the process.
            let _ = getrandom::fill(&mut b);
            u64::from_le_bytes(b)
        });
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (i, v) in [*PROCESS, n].into_iter().enumerate() {
            for k in 0..16 {
                out[i * 16 + k] = HEX[((v >> (60 - 4 * k)) & 0xf) as usize];
            }
        }
        RequestId(out)
    }

    fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written.
        std::str::from_utf8(&self.0).unwrap_or("0")
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut response = observed(&state, req, next).await;
    secure_headers(&state, response.headers_mut());
    response
}

/// The headers every response carries, errors and redirects included. Behind TLS the browser
/// is told to keep to https for a year; over plain http that header would be ignored, so none
/// is sent.
fn secure_headers(state: &AppState, headers: &mut HeaderMap) {
    use axum::http::HeaderValue;
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    if state.settings.secure_cookies() {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
}

/// Answers 413 from a declared `Content-Length` before reading any of the body; bodies without
/// one are still cut off at the limit while being read (`DefaultBodyLimit`).
fn declared_too_large(req: &Request) -> bool {
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    declared.is_some_and(|n| n > BODY_LIMIT) && !is_media_upload(req)
}

/// `POST /api/v1/accounts/{id}/media` streams its body and applies its own, larger limits
/// (`steward_app::posts::media::upload_media`); it reads the raw body, which `DefaultBodyLimit`
/// does not cap.
fn is_media_upload(req: &Request) -> bool {
    req.method() == axum::http::Method::POST
        && req
            .uri()
            .path()
            .strip_prefix("/api/v1/accounts/")
            .and_then(|rest| rest.strip_suffix("/media"))
            .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// Runs the request with its context, then counts it, logs one line and records a denial.
async fn observed(state: &AppState, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_name(req.method());
    let route = route_name(&req);
    let meta = RequestMeta {
        ip: client_ip(&req, &state.settings.trusted_proxies),
        device: cookie(req.headers(), device_cookie_name(&state.settings)).map(|v| DeviceCookie(v.to_string())),
        user_agent: req
            .headers()
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    };
    let slot = AuditSlot::default();
    req.extensions_mut().insert(meta.clone());
    req.extensions_mut().insert(slot.clone());

    // Every log line written while serving the request carries its id (also sent back as
    // `X-Request-Id`, so a person reporting a problem can quote it).
    let request_id = RequestId::next();
    let span = tracing::info_span!("request", id = %request_id, method, route);
    let mut response = if declared_too_large(&req) {
        axum::response::IntoResponse::into_response(ApiError(steward_app::AppError::PayloadTooLarge))
    } else {
        next.run(req).instrument(span.clone()).await
    };
    if let Ok(v) = axum::http::HeaderValue::from_bytes(&request_id.0) {
        response.headers_mut().insert("x-request-id", v);
    }

    let status = response.status().as_u16();
    if let Some(denial) = response.extensions().get::<Denial>() {
        let notes = slot.take();
        // A refused credential is counted in its address's burst, recorded once a minute.
        if !notes.counted_in_burst {
            // Boxed: the rare denial's audit write would otherwise make every request's future
            // as large as its own, copied at each await.
            Box::pin(record_denial(state, &meta, notes, method, route, status, &denial.reason))
                .instrument(span.clone())
                .await;
        }
    }
    let elapsed = started.elapsed();
    // Labels of `&'static str`: looking a series up allocates nothing.
    state.metrics.requests.get_or_create(&RequestLabels { method, route, status }).inc();
    state.metrics.durations.get_or_create(&RouteLabels { method, route }).observe(elapsed.as_secs_f64());
    span.in_scope(|| tracing::info!(status, ms = elapsed.as_secs_f64() * 1000.0, "request"));
    response
}

async fn record_denial(
    state: &AppState,
    meta: &RequestMeta,
    slot: SlotNotes,
    method: &str,
    route: &str,
    status: u16,
    reason: &str,
) {
    let action = slot.action.map_or_else(|| format!("{method} {route}"), |a| a.as_str().to_string());
    let event = NewAuditEvent {
        id: uuid::Uuid::now_v7().to_string(),
        at: state.clock.now_us(),
        actor_id: slot.actor.user_id,
        actor_email: slot.actor.email,
        session_id: slot.actor.session_id,
        ip: Some(meta.ip.clone()),
        user_agent: meta.user_agent.clone(),
        action,
        target: slot.target,
        account_id: slot.account_id,
        outcome: "denied".into(),
        detail: json!({ "reason": reason, "status": status }).to_string(),
    };
    match state.store.append_audit(event).await {
        Ok(_) => {
            state.metrics.audit_events.inc();
        }
        Err(e) => {
            // The request was refused either way; a lost denial record is an operator alarm.
            state.metrics.audit_failures.inc();
            tracing::error!(error = %e, "could not record a denied request in the audit log");
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(peer: &str, forwarded: &[&str]) -> Request {
        let mut req = Request::new(axum::body::Body::empty());
        let addr: SocketAddr = SocketAddr::new(peer.parse().expect("test value"), 4000);
        req.extensions_mut().insert(ConnectInfo(addr));
        for f in forwarded {
            req.headers_mut().append("x-forwarded-for", f.parse().expect("test value"));
        }
        req
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let proxies: Vec<IpAddr> =
            vec!["10.0.0.1".parse().expect("test value"), "10.0.0.2".parse().expect("test value")];
        // Not a proxy: the header is the client's own claim.
        assert_eq!(client_ip(&from("192.0.2.9", &["198.51.100.1"]), &proxies), "192.0.2.9");
        // Through a proxy: the nearest address that is not a proxy, whatever the client prepended.
        assert_eq!(client_ip(&from("10.0.0.1", &["6.6.6.6, 2001:db8::5"]), &proxies), "2001:db8::5");
        assert_eq!(client_ip(&from("10.0.0.1", &["6.6.6.6", "203.0.113.4, 10.0.0.2"]), &proxies), "203.0.113.4");
        // Nothing usable: the proxy itself.
        assert_eq!(client_ip(&from("10.0.0.1", &["not-an-address"]), &proxies), "10.0.0.1");
        assert_eq!(client_ip(&from("10.0.0.1", &[]), &proxies), "10.0.0.1");
        // IPv4-mapped peers are the IPv4 address.
        assert_eq!(client_ip(&from("::ffff:192.0.2.9", &[]), &proxies), "192.0.2.9");
    }
}
