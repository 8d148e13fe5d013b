//! Changing a member's terms (role, capabilities, end date, windows, quota, suspension),
//! removing a member, and leaving an account.
use steward_domain::ids::{AccountId, UserId};
use steward_domain::status::{AccountStatus, MembershipStatus};

use serde::Deserialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::capability::{Capability, CapabilitySet, Role, can_change_role};
use steward_domain::windows::{WindowInput, stored_windows};
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize, capability_set};
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult, FieldError};
use crate::input::{future_instant, nullable};
use crate::members::terms::{Requested, build_terms, parse_role, require_manage};
use crate::members::view::{MemberView, fresh_member};
use crate::services::Services;
use crate::usecase::{Audit, audited, record};

#[derive(Deserialize, ToSchema)]
pub struct MemberUpdate {
    pub role: Option<String>,
    /// `null` removes the end date.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
    /// Replaces the windows (`[]`: no restriction).
    #[schema(value_type = Option<Vec<Object>>)]
    pub windows: Option<Vec<WindowInput>>,
    /// `null` removes the quota.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub daily_quota: Option<Option<i64>>,
    /// Replaces the capabilities added to the role.
    pub grant: Option<Vec<String>>,
    /// Replaces the capabilities removed from the role.
    pub revoke: Option<Vec<String>>,
    /// `active` reinstates a suspended member; `suspended` suspends one.
    pub status: Option<String>,
}

fn names(json: &str) -> Vec<String> {
    capability_set(json).sorted_names().iter().map(|s| (*s).to_string()).collect()
}

/// Changes the terms given; the others stay as they are.
pub async fn update_member(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    user_id: &UserId,
    input: MemberUpdate,
) -> AppResult<MemberView> {
    let id = account_id;
    ctx.slot.set_action(Action::MemberUpdate, Some(format!("user:{user_id}")));
    let actor = authorize(s, ctx, who, id, Need::Capability(Capability::MembersManage)).await?;
    if who.user_id == *user_id {
        return Err(AppError::own_membership());
    }
    let now = s.clock.now();
    audited(s, ctx, &who.actor(), async |tx| {
        let account = tx.lock_account(id).await?.ok_or(AppError::NotFound)?;
        if account.status == AccountStatus::LockedDown && !actor.is_owner() {
            return Err(AppError::locked_down("while the account is locked down only its owner changes memberships"));
        }
        let current = tx.membership(id, user_id).await?.ok_or(AppError::NotFound)?;
        let from = current.role;
        if from == Role::Owner {
            return Err(AppError::Forbidden(
                "nobody can change the owner's membership; the owner can transfer ownership".into(),
            ));
        }
        require_manage(&actor.acting(), from)?;
        let mut errors = Vec::new();
        let to = match input.role.as_deref() {
            Some(raw) => parse_role(raw, &mut errors).unwrap_or(from),
            None => from,
        };
        if to != from && !can_change_role(&actor.acting(), from, to) {
            return Err(AppError::Forbidden("only the owner makes or unmakes admins".into()));
        }
        let expires_at = match &input.expires_at {
            None => current.expires_at,
            Some(None) => None,
            Some(Some(raw)) => future_instant("expires_at", raw, now).map_err(|e| errors.push(e)).ok(),
        };
        let grant: Vec<String> = input.grant.clone().unwrap_or_else(|| names(&current.grants));
        let revoke: Vec<String> = input.revoke.clone().unwrap_or_else(|| names(&current.revokes));
        let windows: Vec<WindowInput> = match &input.windows {
            Some(w) => w.clone(),
            // Kept as they are, if they can be read: unreadable windows are never silently
            // replaced by "no restriction".
            None => match stored_windows(&current.windows) {
                Ok(stored) => stored.iter().map(WindowInput::from).collect(),
                Err(e) => {
                    errors.push(FieldError::new("windows", format!("{e}; send them again ([] for no restriction)")));
                    Vec::new()
                }
            },
        };
        let daily_quota = input.daily_quota.unwrap_or(current.daily_quota);
        let status = match input.status.as_deref().map(str::parse::<MembershipStatus>) {
            None => current.status,
            Some(Ok(status)) => status,
            Some(Err(_)) => {
                errors.push(FieldError::new("status", "must be `active` or `suspended`"));
                current.status
            }
        };
        let requested = Requested {
            role: to,
            grant: &grant,
            revoke: &revoke,
            windows: &windows,
            daily_quota,
            expires_at,
            holding: crate::authz::membership_rights(&current).map_or(CapabilitySet::EMPTY, |r| r.capabilities),
        };
        let terms = build_terms(&actor, &requested, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        // A membership past its end holds no seat; giving it time again takes one back.
        let now_us = now.as_microsecond();
        if current.expires_at.is_some_and(|e| e <= now_us) && expires_at.is_none_or(|e| e > now_us) {
            crate::members::invitations::require_free_seat(tx, id, account.max_members, now_us).await?;
        }
        tx.update_membership(id, user_id, &terms, status.as_str(), now_us).await?;
        let action = if to != from { Action::MemberRoleChange } else { Action::MemberUpdate };
        let audit = Audit::on_account(id, action).target(format!("user:{user_id}")).detail(json!({
            "role": {"from": from.as_str(), "to": to.as_str()}, "status": {"from": current.status, "to": status},
            "grant": grant, "revoke": revoke, "expires_at": expires_at.map(rfc3339), "daily_quota": daily_quota,
            "windows": windows.len(),
        }));
        Ok(((), audit))
    })
    .await?;
    fresh_member(s, id, user_id).await
}

/// Removes `user_id` from the account; removing oneself is leaving, which any member may do
/// (except the owner, who transfers ownership or deletes the account). `cancel_posts` is
/// recorded with the event.
pub async fn remove_member(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    user_id: &UserId,
    cancel_posts: bool,
) -> AppResult<()> {
    let id = account_id;
    ctx.slot.set_action(Action::MemberRemove, Some(format!("user:{user_id}")));
    let leaving = who.user_id == *user_id;
    if leaving {
        // Leaving is the person's own decision, not a narrowed token's.
        who.require_whole_person()?;
    }
    let need = if leaving { Need::Leave } else { Need::Capability(Capability::MembersManage) };
    let actor = authorize(s, ctx, who, id, need).await?;
    audited(s, ctx, &who.actor(), async |tx| {
        let account = tx.lock_account(id).await?.ok_or(AppError::NotFound)?;
        // As for every other change of membership: leaving is still anyone's own decision.
        if account.status == AccountStatus::LockedDown && !leaving && !actor.is_owner() {
            return Err(AppError::locked_down("while the account is locked down only its owner changes memberships"));
        }
        let target = tx.membership(id, user_id).await?.ok_or(AppError::NotFound)?;
        let role = target.role;
        if role == Role::Owner {
            return Err(if leaving {
                AppError::Conflict("the owner cannot leave; transfer ownership or delete the account".into())
            } else {
                AppError::Forbidden("nobody can remove the owner".into())
            });
        }
        if !leaving {
            require_manage(&actor.acting(), role)?;
        }
        tx.delete_membership(id, user_id).await?;
        // Their pending invitations go with them: they could not be accepted any more (see
        // `redeem_invitation`), and would hold seats until they expire.
        let (now, actor) = (s.clock.now_us(), who.actor());
        let reason = "its sender left or was removed";
        for withdrawn in crate::members::invitations::withdraw_pending(tx, id, Some(user_id), now, reason).await? {
            record(s, ctx, &actor, tx, withdrawn).await?;
        }
        let mut cancelled = Vec::new();
        if cancel_posts {
            for post_id in tx.cancel_unpublished_posts_of(id, user_id, now).await? {
                let cancel = Audit::on_account(id, Action::PostCancel)
                    .target(format!("post:{post_id}"))
                    .detail(json!({ "reason": "its author or scheduler was removed from the account" }));
                record(s, ctx, &actor, tx, cancel).await?;
                cancelled.push(post_id);
            }
        }
        let action = if leaving { Action::MemberLeave } else { Action::MemberRemove };
        let audit = Audit::on_account(id, action)
            .target(format!("user:{user_id}"))
            .detail(json!({ "role": role.as_str(), "cancel_posts": cancel_posts, "cancelled_posts": cancelled.len() }));
        Ok(((), audit))
    })
    .await
}

/// The signed-in member leaves the account.
pub async fn leave(s: &Services, ctx: &Ctx, who: &Principal, account_id: &AccountId) -> AppResult<()> {
    remove_member(s, ctx, who, account_id, &who.user_id, false).await
}
