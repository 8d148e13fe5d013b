//! The one authorization point for everything on a social account. Every account-scoped
//! handler calls [`authorize`] and nothing else decides; it reads the membership fresh from
//! the database on each request, so a removal, expiry, suspension or downgrade applies to the
//! very next request on every replica.
use std::str::FromStr;

use steward_domain::capability::{Capability, CapabilitySet, MemberRights, Role};
use steward_domain::windows::{Window, is_within_windows, parse_time_zone};
use steward_store::{AccountRow, MembershipRow};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::request::Ctx;
use crate::state::AppState;

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
    pub windows: Vec<Window>,
}

impl AccountAccess {
    #[must_use]
    pub fn has(&self, c: Capability) -> bool {
        self.capabilities.contains(c)
    }

    #[must_use]
    pub fn is_owner(&self) -> bool {
        self.rights.is_owner()
    }

    /// Whether `at` is inside the member's posting windows (no windows: always). The posting
    /// issue refuses scheduling and publishing outside them.
    #[must_use]
    pub fn within_windows(&self, at: jiff::Timestamp) -> bool {
        match parse_time_zone(&self.account.time_zone) {
            Ok(tz) => is_within_windows(&self.windows, &tz, at),
            // A stored zone that no longer parses fails closed.
            Err(_) => false,
        }
    }
}

/// What an access token is narrowed to (nothing: a session, or an unnarrowed token).
#[derive(Debug, Clone, Copy, Default)]
pub struct Narrowing<'a> {
    pub accounts: Option<&'a [String]>,
    pub capabilities: Option<&'a [String]>,
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
) -> ApiResult<(MemberRights, CapabilitySet)> {
    if let Some(accounts) = narrowing.accounts
        && !accounts.contains(&account.id)
    {
        return Err(ApiError::Forbidden("this access token is not valid for this account".into()));
    }
    let Some(rights) = membership_rights(membership) else {
        return Err(ApiError::Forbidden("your membership of this account is not valid".into()));
    };
    if !rights.is_owner() {
        if membership.expires_at.is_some_and(|e| e <= now) {
            return Err(ApiError::Forbidden("your access to this account has expired".into()));
        }
        if membership.status != "active" {
            return Err(ApiError::Forbidden("your access to this account is suspended".into()));
        }
    }
    let mut capabilities = rights.capabilities;
    if let Some(names) = narrowing.capabilities {
        let allowed: CapabilitySet = names.iter().filter_map(|n| Capability::from_str(n).ok()).collect();
        capabilities = capabilities.intersection(allowed);
    }
    let rules_pending = !rights.is_owner() && account.rules_version > membership.accepted_rules_version;
    match need {
        Need::Leave => {}
        Need::ReadAccountAndRules => {
            if !capabilities.contains(Capability::AccountView) {
                return Err(ApiError::Forbidden("this access token may not read this account".into()));
            }
        }
        Need::Capability(c) => {
            if rules_pending {
                return Err(ApiError::RulesNotAccepted);
            }
            if !capabilities.contains(c) {
                return Err(ApiError::Forbidden(format!("you do not have `{c}` on this account")));
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

/// The rights a stored membership carries (an unknown role grants nothing).
#[must_use]
pub fn membership_rights(m: &MembershipRow) -> Option<MemberRights> {
    let role = Role::from_str(&m.role).ok()?;
    Some(MemberRights::new(role, capability_set(&m.grants), capability_set(&m.revokes)))
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
    state: &AppState,
    ctx: &Ctx,
    principal: &Principal,
    account_id: &str,
    need: Need,
) -> ApiResult<AccountAccess> {
    ctx.slot.set_account(account_id);
    let Some((account, membership)) = state.store.account_access(account_id, &principal.user_id).await? else {
        return Err(ApiError::NotFoundDenied("not a member of this account".into()));
    };
    let (rights, capabilities) = decide(
        &Narrowing {
            accounts: principal.token_accounts.as_deref(),
            capabilities: principal.token_capabilities.as_deref(),
        },
        &account,
        &membership,
        need,
        state.clock.now_us(),
    )?;
    let windows: Vec<Window> = serde_json::from_str(&membership.windows).unwrap_or_default();
    Ok(AccountAccess { account, membership, rights, capabilities, windows })
}
