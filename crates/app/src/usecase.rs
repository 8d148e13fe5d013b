//! The shape every changing use case shares: one transaction, the change, its audit event in
//! the same transaction, commit. If the event cannot be written nothing is changed (fail
//! closed); a use case cannot forget the event, because the change has to hand it back.
use serde_json::Value;
use steward_domain::audit::Action;
use steward_domain::ids::AccountId;
use steward_store::{NewAuditEvent, Tx};

use crate::actor::{AuditActor, Ctx};
use crate::error::AppResult;
use crate::services::Services;

/// The audit event a change hands back: what was done, to what, on which account.
#[derive(Debug, Clone)]
pub struct Audit {
    pub action: Action,
    pub account_id: Option<AccountId>,
    pub target: Option<String>,
    pub detail: Value,
}

impl Audit {
    /// An event on a social account (its owner sees it in the account's activity).
    pub fn on_account(account_id: &AccountId, action: Action) -> Self {
        Audit { action, account_id: Some(account_id.clone()), target: None, detail: Value::Object(Default::default()) }
    }

    /// An event about the person themselves (their sessions, tokens, preferences).
    #[must_use]
    pub fn personal(action: Action) -> Self {
        Audit { action, account_id: None, target: None, detail: Value::Object(Default::default()) }
    }

    #[must_use]
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    #[must_use]
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// An event Steward records on no person's request: `by` names the part of Steward that acted
/// ("steward (scheduler)"), in the actor's email column, as the activity log shows it.
#[must_use]
pub fn system_event(by: &str, audit: Audit, at: steward_store::Micros) -> NewAuditEvent {
    NewAuditEvent {
        id: uuid::Uuid::now_v7().to_string(),
        at,
        actor_email: Some(by.to_string()),
        action: audit.action.as_str().into(),
        target: audit.target,
        account_id: audit.account_id,
        outcome: "allowed".into(),
        detail: audit.detail.to_string(),
        ..Default::default()
    }
}

/// Appends `audit` by `actor` to `tx`: for use cases that record more than one event, or
/// whose transaction is shaped by the store (locks taken before the change).
pub async fn record(s: &Services, ctx: &Ctx, actor: &AuditActor, tx: &mut Tx, audit: Audit) -> AppResult<()> {
    let event = match &audit.account_id {
        Some(account_id) => ctx.account_event(s, actor, account_id, audit.action, audit.target, audit.detail),
        None => ctx.event(s, actor, audit.action, audit.target, audit.detail),
    };
    tx.append_audit(event).await?;
    Ok(())
}

/// Runs `change` in one transaction and commits it with the audit event it hands back.
pub async fn audited<T>(
    s: &Services,
    ctx: &Ctx,
    actor: &AuditActor,
    change: impl AsyncFnOnce(&mut Tx) -> AppResult<(T, Audit)>,
) -> AppResult<T> {
    let mut tx = s.store.begin().await?;
    let (out, audit) = change(&mut tx).await?;
    record(s, ctx, actor, &mut tx, audit).await?;
    tx.commit().await?;
    Ok(out)
}
