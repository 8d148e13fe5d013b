//! An audit event as a person reads it: the event as recorded, plus a sentence saying who did
//! what to what, allowed or refused, and why.
use serde::Serialize;
use serde_json::Value;
use steward_store::AuditEventRow;
use utoipa::ToSchema;

use crate::clock::rfc3339;

pub use steward_domain::audit::words_for as action_words;

/// One entry of an activity log. `detail` says in words what happened; `data` holds the same
/// facts as recorded, for programs.
#[derive(Serialize, ToSchema)]
pub struct ActivityEvent {
    pub id: String,
    pub at: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub session_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target: Option<String>,
    /// `allowed` or `denied`.
    pub outcome: String,
    /// What happened, in words.
    pub detail: String,
    /// The recorded facts behind `detail`.
    #[schema(value_type = Object)]
    pub data: Value,
}

impl From<AuditEventRow> for ActivityEvent {
    fn from(e: AuditEventRow) -> Self {
        let data: Value = serde_json::from_str(&e.detail).unwrap_or(Value::Null);
        Self {
            detail: describe(&e, &data),
            data,
            id: e.id,
            at: rfc3339(e.at),
            actor_id: e.actor_id,
            actor_email: e.actor_email,
            session_id: e.session_id,
            ip: e.ip,
            user_agent: e.user_agent,
            action: e.action,
            target: e.target,
            outcome: e.outcome,
        }
    }
}

/// A recorded value as words: nested facts as "name: value" lists, stored names
/// (`in_review`) with spaces, never JSON.
fn in_words(v: &Value) -> String {
    match v {
        Value::String(t) if !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
            t.replace('_', " ")
        }
        Value::String(t) => t.clone(),
        Value::Array(items) => items.iter().map(in_words).collect::<Vec<_>>().join(", "),
        Value::Object(obj) => obj
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{} {}", k.replace('_', " "), in_words(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        other => other.to_string(),
    }
}

/// The event as a sentence a person can read: who did what to what, allowed or refused, and
/// why (for denials) or the main facts (for changes).
#[must_use]
pub fn describe(e: &AuditEventRow, data: &Value) -> String {
    let who = e.actor_email.as_deref().or(e.actor_id.as_deref()).unwrap_or("Steward");
    let what = action_words(&e.action);
    let target = e.target.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
    let mut s = if e.outcome == "denied" {
        let why = data["reason"].as_str().unwrap_or("not allowed");
        format!("{who} was refused: {what}{target} — {why}")
    } else {
        format!("{who} {what}{target}")
    };
    if e.outcome != "denied"
        && let Some(obj) = data.as_object()
    {
        let facts: Vec<String> = obj
            .iter()
            .filter(|(_, v)| !v.is_null() && *v != &Value::Bool(false))
            .map(|(k, v)| format!("{}: {}", k.replace('_', " "), in_words(v)))
            .collect();
        if !facts.is_empty() {
            s.push_str(" — ");
            s.push_str(&facts.join("; "));
        }
    }
    s
}
