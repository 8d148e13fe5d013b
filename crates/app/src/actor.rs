//! Who is acting and from where: the party every use case takes. A person acts through a
//! session or a personal access token (`Principal`); the system acts on a person's behalf
//! (the scheduler). `Ctx` carries where a request came from and the notes a refusal leaves
//! for its audit event.
use std::sync::{Arc, Mutex};
use steward_domain::capability::CapabilitySet;
use steward_domain::ids::{AccountId, SessionId, TokenId, UserId};

use steward_domain::audit::Action;
use steward_store::NewAuditEvent;

use crate::services::Services;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthVia {
    /// The browser's session cookie: unsafe methods need the CSRF token.
    Cookie,
    /// A session token sent as `Authorization: Bearer`.
    BearerSession,
    /// A personal access token.
    ApiToken,
}

/// A person whose credential checked out.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub totp_enabled: bool,
    pub user_created_at: i64,
    pub session_id: Option<SessionId>,
    pub token_id: Option<TokenId>,
    pub via: AuthVia,
    /// For personal access tokens: the accounts and capabilities the token is narrowed to.
    pub token_accounts: Option<Vec<AccountId>>,
    pub token_capabilities: Option<CapabilitySet>,
}

impl Principal {
    /// Whether this is an access token narrowed to some accounts or capabilities.
    #[must_use]
    pub fn is_narrowed(&self) -> bool {
        self.token_accounts.is_some() || self.token_capabilities.is_some()
    }

    /// What only the person, signed in, may do: a personal access token is refused with
    /// `refusal` (it could act for every session and token the person has, or outlive them).
    pub fn require_signed_in(&self, refusal: &str) -> crate::error::AppResult<()> {
        if self.via == AuthVia::ApiToken {
            return Err(crate::error::AppError::Forbidden(refusal.into()));
        }
        Ok(())
    }

    /// Personal endpoints (the person's alerts, their activity across accounts, their settings,
    /// leaving an account) belong to the whole person: a token narrowed to some accounts or
    /// capabilities never reaches them. Everything else is scoped by `authz::authorize`.
    pub fn require_whole_person(&self) -> crate::error::AppResult<()> {
        if self.is_narrowed() {
            return Err(crate::error::AppError::Forbidden(
                "this access token is narrowed to some accounts or capabilities; personal endpoints need a \
                 session or an access token that is not narrowed"
                    .into(),
            ));
        }
        Ok(())
    }

    #[must_use]
    pub fn actor(&self) -> AuditActor {
        AuditActor {
            user_id: Some(self.user_id.clone()),
            email: Some(self.email.clone()),
            session_id: self.session_id.clone(),
        }
    }
}

/// Where a request came from.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub ip: String,
    pub user_agent: Option<String>,
    /// The device cookie the client presented, unchecked (sign-in checks it).
    pub device: Option<DeviceCookie>,
}

/// A device cookie's value as presented. Its `Debug` hides it: it vouches for a client.
#[derive(Clone)]
pub struct DeviceCookie(pub String);

impl std::fmt::Debug for DeviceCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceCookie(…)")
    }
}

/// Who is acting, as far as it is established (filled in by authentication, or by sign-in for
/// the account being signed into): the actor columns of an audit event.
#[derive(Debug, Clone, Default)]
pub struct AuditActor {
    pub user_id: Option<UserId>,
    pub email: Option<String>,
    pub session_id: Option<SessionId>,
}

/// What a refused request knew when it was refused.
#[derive(Debug, Default)]
pub struct SlotNotes {
    pub actor: AuditActor,
    pub action: Option<Action>,
    pub target: Option<String>,
    pub account_id: Option<AccountId>,
    /// The denial is already counted in a per-address burst (`auth.denied_burst`), not to be
    /// recorded on its own.
    pub counted_in_burst: bool,
}

/// Shared between a use case and the edge that runs it, so a denial is recorded with whatever
/// the use case knew when it refused.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Arc<Mutex<SlotNotes>>);

impl AuditSlot {
    pub fn set_actor(&self, actor: AuditActor) {
        if let Ok(mut s) = self.0.lock() {
            s.actor = actor;
        }
    }
    /// Names the action this request attempts, for its audit event if it is denied.
    pub fn set_action(&self, action: Action, target: Option<String>) {
        if let Ok(mut s) = self.0.lock() {
            s.action = Some(action);
            s.target = target;
        }
    }
    /// The social account this request concerns, so its owner sees denials in its activity.
    pub fn set_account(&self, account_id: &AccountId) {
        if let Ok(mut s) = self.0.lock() {
            s.account_id = Some(account_id.clone());
        }
    }
    /// Empties the slot, handing over what it held.
    pub fn set_counted_in_burst(&self) {
        if let Ok(mut s) = self.0.lock() {
            s.counted_in_burst = true;
        }
    }

    pub fn take(&self) -> SlotNotes {
        self.0.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default()
    }
}

/// The request around a use case: where it came from, and its audit slot.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub meta: RequestMeta,
    pub slot: AuditSlot,
}

impl Ctx {
    /// An "allowed" audit event about a social account.
    pub fn account_event(
        &self,
        state: &Services,
        actor: &AuditActor,
        account_id: &AccountId,
        action: Action,
        target: Option<String>,
        detail: serde_json::Value,
    ) -> NewAuditEvent {
        NewAuditEvent { account_id: Some(account_id.clone()), ..self.event(state, actor, action, target, detail) }
    }

    /// An "allowed" audit event by `actor`, stamped now.
    pub fn event(
        &self,
        state: &Services,
        actor: &AuditActor,
        action: Action,
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
            action: action.as_str().to_string(),
            target,
            account_id: None,
            outcome: "allowed".into(),
            detail: detail.to_string(),
        }
    }
}

/// An access token's stored narrowing, read so that anything unreadable narrows to nothing:
/// a list that does not parse reaches no account and no capability, and a capability name this
/// build does not know is dropped. Never read as "not narrowed".
#[must_use]
pub fn token_narrowing(
    accounts: Option<&str>,
    capabilities: Option<&str>,
) -> (Option<Vec<AccountId>>, Option<CapabilitySet>) {
    let accounts = accounts.map(|a| serde_json::from_str::<Vec<AccountId>>(a).unwrap_or_default());
    let capabilities = capabilities.map(|c| {
        serde_json::from_str::<Vec<String>>(c)
            .unwrap_or_default()
            .iter()
            .filter_map(|n| n.parse::<steward_domain::capability::Capability>().ok())
            .collect()
    });
    (accounts, capabilities)
}

#[cfg(test)]
mod tests {
    use steward_domain::capability::Capability;

    use super::*;

    #[test]
    fn a_token_narrowing_that_cannot_be_read_narrows_to_nothing() {
        assert_eq!(token_narrowing(None, None), (None, None), "not narrowed");
        let (accounts, caps) = token_narrowing(Some(r#"["acc-1"]"#), Some(r#"["drafts.create","no.such"]"#));
        assert_eq!(accounts, Some(vec![AccountId::from("acc-1")]));
        assert_eq!(caps, Some(CapabilitySet::from(Capability::DraftsCreate)), "an unknown name is dropped");
        let (accounts, caps) = token_narrowing(Some("{broken"), Some("42"));
        assert_eq!(accounts, Some(Vec::new()), "unreadable accounts reach none");
        assert_eq!(caps, Some(CapabilitySet::EMPTY), "unreadable capabilities allow none");
    }
}
