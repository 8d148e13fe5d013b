//! Lockdown, the owner's (or an admin's) emergency brake (DESIGN.md "Lockdown"), and lifting it.
//!
//! In one transaction: every other membership suspended (their sessions and tokens are refused
//! on this account from the next request, on every replica, because `authorize` reads the
//! membership fresh), API tokens narrowed to the account revoked, scheduled or approved posts
//! the owner did not approve cancelled, the credential destroyed if asked, the audit event
//! written — and with it the `lockdown` alert (store::alerts).
//!
//! The way out: DESIGN.md undoes a lockdown member by member (`status: "active"`), which gives
//! people their access back but not the account's publishing, held while the account is
//! `locked_down` (Invariant 10). Lifting is the owner's explicit decision that the danger is
//! over: the account is `active` again and due posts go out; suspended members stay suspended
//! until reinstated one by one, and cancelled posts stay cancelled. It is a separate step, not a
//! side effect of reinstating someone, so that letting one trusted person back in never
//! restarts publishing by itself.
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_domain::audit::{Action, LockdownDetail};
use steward_domain::capability::Capability;
use steward_domain::ids::AccountId;
use steward_domain::status::AccountStatus;
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::error::{AppError, AppResult};
use crate::services::Services;
use crate::usecase::{Audit, audited, record};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockdownRequest {
    /// Also destroy the stored platform credential (the owner must connect the account again).
    #[serde(default)]
    pub disconnect_credential: bool,
}

#[derive(Serialize, ToSchema)]
pub struct LockdownView {
    /// How many memberships were suspended.
    pub suspended_members: u64,
    /// How many API tokens narrowed to this account were revoked.
    pub revoked_tokens: u64,
    /// How many scheduled or approved posts not approved by the owner were cancelled.
    pub cancelled_posts: u64,
    pub credential_disconnected: bool,
}

/// Locks the account down.
pub async fn lockdown(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    input: LockdownRequest,
) -> AppResult<LockdownView> {
    let id = account_id;
    ctx.slot.set_action(Action::Lockdown, Some(format!("account:{id}")));
    let access = authorize(s, ctx, who, id, Need::Capability(Capability::Lockdown)).await?;
    if input.disconnect_credential && !access.is_owner() {
        // Invariant 1: only the owner touches the credential, even in an emergency.
        return Err(AppError::Forbidden(
            "only the owner can disconnect the platform credential; lock down without it".into(),
        ));
    }
    let now = s.clock.now_us();
    let actor = who.actor();
    audited(s, ctx, &actor, async |tx| {
        let account = tx.lock_account(id).await?.ok_or(AppError::NotFound)?;
        let suspended = tx.suspend_other_members(id, &who.user_id, now).await?;
        // A lockdown is total: an invitation made before it cannot reopen the account after it.
        for withdrawn in crate::members::invitations::withdraw_pending(tx, id, None, now, "lockdown").await? {
            record(s, ctx, &actor, tx, withdrawn).await?;
        }
        let revoked_tokens = tx.revoke_tokens_narrowed_to(id, now).await?;
        let cancelled = tx.cancel_posts_not_approved_by(id, &account.owner_id, now).await?;
        for post_id in &cancelled {
            let cancel = Audit::on_account(id, Action::PostCancel)
                .target(format!("post:{post_id}"))
                .detail(json!({ "reason": "lockdown: not approved by the owner" }));
            record(s, ctx, &actor, tx, cancel).await?;
        }
        let credential_disconnected = input.disconnect_credential && tx.destroy_credential(id, now).await?;
        // Locked down either way: every rule of a lockdown keys on this status (a disconnecting
        // one used to leave `disconnected`, which the membership, invitation and reconnection
        // rules did not treat as a lockdown).
        tx.set_account_status(id, "locked_down", now).await?;
        let view = LockdownView {
            suspended_members: suspended.len() as u64,
            revoked_tokens,
            cancelled_posts: cancelled.len() as u64,
            credential_disconnected,
        };
        let detail = serde_json::to_value(LockdownDetail {
            suspended_members: view.suspended_members,
            suspended_user_ids: suspended,
            revoked_tokens: view.revoked_tokens,
            cancelled_posts: view.cancelled_posts,
            credential_disconnected,
        })
        .map_err(AppError::internal)?;
        Ok((view, Audit::on_account(id, Action::Lockdown).target(format!("account:{id}")).detail(detail)))
    })
    .await
}

#[derive(Serialize, ToSchema)]
pub struct LiftView {
    /// The account's status afterwards: `active`; `disconnected` after a lockdown that destroyed
    /// the credential (connect it again); or what it was when it was not locked down.
    pub status: String,
    /// Whether this call ended a lockdown (false: there was none; nothing changed).
    pub lifted: bool,
}

/// Lifts a lockdown. Owner only: `credential.manage`, the owner's own right over the account's
/// platform connection, since lifting lets Steward publish with that credential again.
pub async fn lift(s: &Services, ctx: &Ctx, who: &Principal, account_id: &AccountId) -> AppResult<LiftView> {
    let id = account_id;
    ctx.slot.set_action(Action::LockdownLift, Some(format!("account:{id}")));
    authorize(s, ctx, who, id, Need::Capability(Capability::CredentialManage)).await?;
    let now = s.clock.now_us();
    let mut tx = s.store.begin().await?;
    let account = tx.lock_account(id).await?.ok_or(AppError::NotFound)?;
    if account.status != AccountStatus::LockedDown {
        // Nothing to lift: nothing changes and nothing is recorded.
        return Ok(LiftView { status: account.status.as_str().into(), lifted: false });
    }
    let status = tx.end_lockdown(id, now).await?;
    let still_suspended = tx.suspended_member_count(id).await?;
    let audit = Audit::on_account(id, Action::LockdownLift)
        .target(format!("account:{id}"))
        .detail(json!({ "still_suspended_members": still_suspended, "status": status }));
    record(s, ctx, &who.actor(), &mut tx, audit).await?;
    tx.commit().await?;
    Ok(LiftView { status, lifted: true })
}
