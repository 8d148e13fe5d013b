//! The one authorization point for everything on a social account. Every account-scoped
//! handler calls [`authorize`] and nothing else decides; it reads the membership fresh from
//! the database on each request, so a removal, expiry, suspension or downgrade applies to the
//! very next request on every replica.
use std::str::FromStr;
use steward_domain::ids::AccountId;
use steward_domain::status::MembershipStatus;

use steward_domain::capability::{Capability, CapabilitySet, MemberRights, Role};
use steward_domain::windows::{Window, is_within_windows, parse_time_zone, stored_windows};
use steward_store::{AccountRow, MembershipRow};

use crate::actor::Ctx;
use crate::actor::Principal;
use crate::error::{AppError, AppResult};
use crate::services::Services;

/// What a request needs on the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Reading the account itself and its house rules, or accepting them: allowed before the
    /// member has accepted the current rules (Invariant 6).
    ReadAccountAndRules,
    /// Leaving the account: any member may, whatever the rules say.
    Leave,
    /// A capability, once the current rules are accepted.
    Capability(Capability),
}

/// An authorized caller on an account: the account and the caller's membership as read for
/// this request, and what the caller may do.
#[derive(Debug, Clone)]
pub struct AccountAccess {
    pub account: AccountRow,
    pub membership: MembershipRow,
    pub rights: MemberRights,
    /// The member's capabilities, narrowed by the access token if one is used.
    pub capabilities: CapabilitySet,
}

impl AccountAccess {
    #[must_use]
    pub fn has(&self, c: Capability) -> bool {
        self.capabilities.contains(c)
    }

    /// The caller's rights as this request may use them: their role, with the capabilities the
    /// access token's narrowing leaves. Whom one may manage is decided on these, so a token
    /// narrowed to `members.manage` never manages admins.
    #[must_use]
    pub fn acting(&self) -> MemberRights {
        MemberRights { role: self.rights.role, capabilities: self.capabilities }
    }

    #[must_use]
    pub fn is_owner(&self) -> bool {
        self.rights.is_owner()
    }

    /// Whether `at` is inside the member's posting windows (no windows: always). Scheduling
    /// and publishing are refused outside them.
    #[must_use]
    pub fn within_windows(&self, at: jiff::Timestamp) -> bool {
        // Read here, not in `authorize`: only scheduling and publishing ask. A stored zone or
        // windows that no longer parse fail closed.
        match (parse_time_zone(&self.account.time_zone), self.windows()) {
            (Ok(tz), Ok(windows)) => is_within_windows(&windows, &tz, at),
            _ => false,
        }
    }

    /// The member's posting windows. Unreadable stored windows refuse like being outside them
    /// (they never mean "no restriction").
    pub fn windows(&self) -> AppResult<Vec<Window>> {
        stored_windows(&self.membership.windows).map_err(|e| {
            AppError::OutsideWindow(format!("{e}; the owner or an admin must set your posting windows again"))
        })
    }
}

/// What an access token is narrowed to (nothing: a session, or an unnarrowed token).
#[derive(Debug, Clone, Copy, Default)]
pub struct Narrowing<'a> {
    pub accounts: Option<&'a [AccountId]>,
    pub capabilities: Option<CapabilitySet>,
}

/// The decision itself, without I/O: given the account and the caller's membership as just
/// read, may the caller do what `need` says at `now`? Returns the member's rights and the
/// capabilities left after the token's narrowing.
pub fn decide(
    narrowing: &Narrowing<'_>,
    account: &AccountRow,
    membership: &MembershipRow,
    need: Need,
    now: i64,
) -> AppResult<(MemberRights, CapabilitySet)> {
    if let Some(accounts) = narrowing.accounts
        && !accounts.contains(&account.id)
    {
        return Err(AppError::Forbidden("this access token is not valid for this account".into()));
    }
    let Some(rights) = membership_rights(membership) else {
        return Err(AppError::Forbidden("your membership of this account is not valid".into()));
    };
    if !rights.is_owner() {
        if membership.expires_at.is_some_and(|e| e <= now) {
            return Err(AppError::Forbidden("your access to this account has expired".into()));
        }
        if membership.status != MembershipStatus::Active {
            return Err(AppError::Forbidden("your access to this account is suspended".into()));
        }
    }
    let mut capabilities = rights.capabilities;
    if let Some(allowed) = narrowing.capabilities {
        capabilities = capabilities.intersection(allowed);
    }
    let rules_pending = !rights.is_owner() && account.rules_version > membership.accepted_rules_version;
    match need {
        Need::Leave => {}
        Need::ReadAccountAndRules => {
            if !capabilities.contains(Capability::AccountView) {
                return Err(AppError::Forbidden("this access token may not read this account".into()));
            }
        }
        Need::Capability(c) => {
            if rules_pending {
                return Err(AppError::RulesNotAccepted);
            }
            if !capabilities.contains(c) {
                return Err(AppError::Forbidden(format!("you do not have `{c}` on this account")));
            }
        }
    }
    Ok((rights, capabilities))
}

/// Parses a stored JSON list of capability names (unknown names fail closed: ignored).
#[must_use]
pub fn capability_set(json: &str) -> CapabilitySet {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .iter()
        .filter_map(|n| Capability::from_str(n).ok())
        .collect()
}

/// A stored list of capability names read for deciding: a value that is not a JSON list of
/// names is `None`, so a garbled `revokes` can never mean "nothing revoked" (fail closed).
#[must_use]
pub fn stored_capability_set(json: &str) -> Option<CapabilitySet> {
    let names = serde_json::from_str::<Vec<String>>(json).ok()?;
    Some(names.iter().filter_map(|n| Capability::from_str(n).ok()).collect())
}

/// The rights a stored membership carries, or `None` (refused) when its grants or revokes cannot
/// be read (a row with an unknown role never reaches here: the store refuses it).
#[must_use]
pub fn membership_rights(m: &MembershipRow) -> Option<MemberRights> {
    Some(MemberRights::new(m.role, stored_capability_set(&m.grants)?, stored_capability_set(&m.revokes)?))
}

/// Decides whether `principal` may do what `need` says on `account_id`.
///
/// - not a member (or a token narrowed to other accounts cannot see it): 404, so nobody learns
///   that an account they are not part of exists;
/// - suspended or expired membership: 403;
/// - current house rules not accepted: 403 `rules-not-accepted` (except reading them);
/// - missing capability (after the token's narrowing): 403.
///
/// Every refusal is recorded by the request middleware with the account it concerns.
pub async fn authorize(
    state: &Services,
    ctx: &Ctx,
    principal: &Principal,
    account_id: &AccountId,
    need: Need,
) -> AppResult<AccountAccess> {
    ctx.slot.set_account(account_id);
    let Some((account, membership)) = state.store.account_access(account_id, &principal.user_id).await? else {
        return Err(AppError::NotFoundDenied("not a member of this account".into()));
    };
    let (rights, capabilities) = decide(
        &Narrowing { accounts: principal.token_accounts.as_deref(), capabilities: principal.token_capabilities },
        &account,
        &membership,
        need,
        state.clock.now_us(),
    )?;
    if let Some(max) = account.max_devices_per_member
        && membership.role != Role::Owner
        && need != Need::Leave
    {
        within_device_limit(state, principal, account_id, max).await?;
    }
    Ok(AccountAccess { account, membership, rights, capabilities })
}

/// A collaborator reaches an account with a device limit only from one of their `max` oldest
/// devices: live sessions (not ended, expired or idle too long) and access tokens (not revoked or
/// expired) that reach this account. A sign-in beyond the limit is refused, so a borrowed
/// password never takes a seat away from the device already in use; ending a session (the owner
/// on the member's page, or the member) frees its place at once. Leaving is never refused.
async fn within_device_limit(
    state: &Services,
    principal: &Principal,
    account_id: &AccountId,
    max: i64,
) -> AppResult<()> {
    let now = state.clock.now_us();
    let idle = i64::try_from(state.settings.session_idle.as_micros()).unwrap_or(i64::MAX);
    let mut devices: Vec<(i64, String)> = state
        .store
        .live_sessions(&principal.user_id, now)
        .await?
        .into_iter()
        .filter(|x| x.last_seen_at.saturating_add(idle) > now)
        .map(|x| (x.created_at, x.id.into_string()))
        .collect();
    for t in state.store.api_tokens_for_user(&principal.user_id).await? {
        let live = t.expires_at.is_none_or(|e| e > now);
        let reaches = match t.accounts.as_deref() {
            None => true,
            Some(list) => serde_json::from_str::<Vec<String>>(list)
                .map_or(true, |ids| ids.iter().any(|i| i == account_id.as_str())),
        };
        if live && reaches {
            devices.push((t.created_at, t.id.into_string()));
        }
    }
    devices.sort();
    let mine = principal.session_id.as_deref().or(principal.token_id.as_deref());
    let allowed = devices.iter().take(usize::try_from(max).unwrap_or(0)).any(|(_, id)| Some(id.as_str()) == mine);
    if allowed { Ok(()) } else { Err(AppError::device_limit(max)) }
}

#[cfg(test)]
mod tests {
    use steward_domain::capability::Role;

    use super::*;

    fn account(rules_version: i64) -> AccountRow {
        AccountRow {
            id: "acc".into(),
            platform: steward_domain::platform::Platform::Sandbox,
            account_kind: "creator".into(),
            handle: "@a".into(),
            display_name: "A".into(),
            owner_id: "owner".into(),
            time_zone: "Europe/Paris".into(),
            status: steward_domain::status::AccountStatus::Active,
            max_members: 5,
            min_gap_minutes: 0,
            max_posts_per_day: None,
            max_devices_per_member: None,
            approvals_required: 1,
            owner_approval_required: false,
            admins_may_approve_own: false,
            rules_text: String::new(),
            rules_version,
            alert_thresholds: "{}".into(),
            credential_generation: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn membership(role: Role, windows: &str) -> MembershipRow {
        MembershipRow {
            account_id: "acc".into(),
            user_id: "u".into(),
            role,
            grants: "[]".into(),
            revokes: "[]".into(),
            expires_at: None,
            windows: windows.into(),
            daily_quota: None,
            status: MembershipStatus::Active,
            accepted_rules_version: 0,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn access(m: MembershipRow) -> AccountAccess {
        let (rights, capabilities) = decide(&Narrowing::default(), &account(0), &m, Need::Leave, 0).expect("member");
        AccountAccess { account: account(0), membership: m, rights, capabilities }
    }

    #[test]
    fn windows_are_read_in_the_accounts_time_zone() {
        let a = access(membership(Role::Editor, r#"[{"days":["mon"],"start":"09:00","end":"17:00"}]"#));
        // Monday 2026-11-23, 08:30 UTC is 09:30 in Paris (UTC+1): inside; 16:30 UTC is 17:30: outside.
        assert!(a.within_windows("2026-11-23T08:30:00Z".parse().expect("ts")));
        assert!(!a.within_windows("2026-11-23T16:30:00Z".parse().expect("ts")));
        assert!(!a.within_windows("2026-11-24T08:30:00Z".parse().expect("ts")), "Tuesday is not in the window");
        let free = access(membership(Role::Editor, "[]"));
        assert!(free.within_windows("2026-11-24T03:00:00Z".parse().expect("ts")), "no windows: no restriction");
        let unreadable = access(membership(Role::Editor, "not json"));
        assert!(!unreadable.within_windows("2026-11-24T03:00:00Z".parse().expect("ts")), "unreadable: fail closed");
        assert!(matches!(unreadable.windows(), Err(AppError::OutsideWindow(_))));
    }

    #[test]
    fn decisions_follow_membership_state() {
        let need = Need::Capability(Capability::DraftsCreate);
        let mut m = membership(Role::Editor, "[]");
        assert!(decide(&Narrowing::default(), &account(0), &m, need, 10).is_ok());
        assert!(matches!(decide(&Narrowing::default(), &account(1), &m, need, 10), Err(AppError::RulesNotAccepted)));
        assert!(decide(&Narrowing::default(), &account(1), &m, Need::ReadAccountAndRules, 10).is_ok());
        m.expires_at = Some(10);
        assert!(matches!(decide(&Narrowing::default(), &account(0), &m, need, 10), Err(AppError::Forbidden(_))));
        m.expires_at = None;
        m.status = MembershipStatus::Suspended;
        assert!(matches!(
            decide(&Narrowing::default(), &account(0), &m, Need::ReadAccountAndRules, 10),
            Err(AppError::Forbidden(_))
        ));
        m.status = MembershipStatus::Active;
        let owner = membership(Role::Owner, "[]");
        let mut expired_owner = owner.clone();
        expired_owner.expires_at = Some(1);
        assert!(
            decide(&Narrowing::default(), &account(3), &expired_owner, need, 10).is_ok(),
            "the owner is never locked out"
        );
        let narrowed = Narrowing { accounts: None, capabilities: Some(Capability::AccountView.into()) };
        assert!(matches!(decide(&narrowed, &account(0), &owner, need, 10), Err(AppError::Forbidden(_))));
        let others = vec![AccountId::from("other")];
        let elsewhere = Narrowing { accounts: Some(&others), capabilities: None };
        assert!(matches!(
            decide(&elsewhere, &account(0), &owner, Need::ReadAccountAndRules, 10),
            Err(AppError::Forbidden(_))
        ));
    }
}
