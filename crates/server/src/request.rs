//! Per-request context and the middleware around every request: who is calling from where,
//! metrics, one log line (route pattern only: paths can carry tokens), and the audit event
//! for every denied request.
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;
use steward_store::NewAuditEvent;

use crate::error::{ApiError, Denial};
use crate::metrics::{RequestLabels, RouteLabels};
use crate::state::AppState;

/// Where a request came from.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub ip: String,
    pub user_agent: Option<String>,
}

/// Who is acting, as far as the request has established it (filled in by authentication,
/// or by the sign-in handler for the account being signed into).
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub session_id: Option<String>,
}

#[derive(Debug, Default)]
struct Slot {
    actor: Actor,
    action: Option<&'static str>,
    target: Option<String>,
    account_id: Option<String>,
}

/// Shared between the handler and the middleware, so a denial is recorded with whatever the
/// handler knew when it refused.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Arc<Mutex<Slot>>);

impl AuditSlot {
    pub fn set_actor(&self, actor: Actor) {
        if let Ok(mut s) = self.0.lock() {
            s.actor = actor;
        }
    }
    /// Names the action this request attempts, for its audit event if it is denied.
    pub fn set_action(&self, action: &'static str, target: Option<String>) {
        if let Ok(mut s) = self.0.lock() {
            s.action = Some(action);
            s.target = target;
        }
    }
    /// The social account this request concerns, so its owner sees denials in its activity.
    pub fn set_account(&self, account_id: &str) {
        if let Ok(mut s) = self.0.lock() {
            s.account_id = Some(account_id.to_string());
        }
    }
    fn take(&self) -> Slot {
        self.0.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
    }
}

/// Extracts [`RequestMeta`] and the [`AuditSlot`] in handlers.
pub struct Ctx {
    pub meta: RequestMeta,
    pub slot: AuditSlot,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let meta = parts
            .extensions
            .get::<RequestMeta>()
            .cloned()
            .unwrap_or(RequestMeta { ip: "unknown".into(), user_agent: None });
        let slot = parts.extensions.get::<AuditSlot>().cloned().unwrap_or_default();
        Ok(Ctx { meta, slot })
    }
}

impl Ctx {
    /// An "allowed" audit event about a social account.
    pub fn account_event(
        &self,
        state: &AppState,
        actor: &Actor,
        account_id: &str,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) -> NewAuditEvent {
        NewAuditEvent { account_id: Some(account_id.to_string()), ..self.event(state, actor, action, target, detail) }
    }

    /// An "allowed" audit event by `actor`, stamped now.
    pub fn event(
        &self,
        state: &AppState,
        actor: &Actor,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) -> NewAuditEvent {
        NewAuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            at: state.clock.now_us(),
            actor_id: actor.user_id.clone(),
            actor_email: actor.email.clone(),
            session_id: actor.session_id.clone(),
            ip: Some(self.meta.ip.clone()),
            user_agent: self.meta.user_agent.clone(),
            action: action.to_string(),
            target,
            account_id: None,
            outcome: "allowed".into(),
            detail: detail.to_string(),
        }
    }
}

fn client_ip(req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub async fn middleware(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let meta = RequestMeta {
        ip: client_ip(&req),
        user_agent: req
            .headers()
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
    };
    let slot = AuditSlot::default();
    req.extensions_mut().insert(meta.clone());
    req.extensions_mut().insert(slot.clone());

    let response = next.run(req).await;

    let status = response.status().as_u16();
    if let Some(denial) = response.extensions().get::<Denial>() {
        record_denial(&state, &meta, slot.take(), method.as_str(), &route, status, &denial.reason).await;
    }
    let elapsed = started.elapsed();
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels { method: method.to_string(), route: route.clone(), status })
        .inc();
    state
        .metrics
        .durations
        .get_or_create(&RouteLabels { method: method.to_string(), route: route.clone() })
        .observe(elapsed.as_secs_f64());
    tracing::info!(method = %method, route = %route, status, ms = elapsed.as_secs_f64() * 1000.0, "request");
    response
}

async fn record_denial(
    state: &AppState,
    meta: &RequestMeta,
    slot: Slot,
    method: &str,
    route: &str,
    status: u16,
    reason: &str,
) {
    let action = slot.action.map(str::to_string).unwrap_or_else(|| format!("{method} {route}"));
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
