//! How an account reads to one of its members (`AccountView`), the list of a person's
//! accounts, and the platforms Steward can connect.
use serde::Serialize;
use steward_domain::alerts::AlertThresholds;
use steward_domain::capability::Role;
use steward_domain::ids::{AccountId, UserId};
use steward_domain::platform::PLATFORMS;
use steward_store::{AccountRow, MembershipRow};
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize, membership_rights};
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::services::Services;

#[derive(Serialize, ToSchema)]
pub struct AccountKindView {
    pub id: &'static str,
    pub name: &'static str,
    pub default_max_members: i64,
    pub owner_approval_required: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PlatformView {
    pub id: &'static str,
    pub name: &'static str,
    /// `oauth` or `credentials`.
    pub connect: &'static str,
    pub account_kinds: Vec<AccountKindView>,
}

/// The platforms Steward can connect, with their kinds of account.
#[must_use]
pub fn list_platforms() -> Vec<PlatformView> {
    PLATFORMS
        .iter()
        .map(|p| PlatformView {
            id: p.id,
            name: p.name,
            connect: p.connect.as_str(),
            account_kinds: p
                .kinds
                .iter()
                .map(|k| AccountKindView {
                    id: k.id,
                    name: k.name,
                    default_max_members: k.default_max_members,
                    owner_approval_required: k.owner_approval_required,
                })
                .collect(),
        })
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct SettingsView {
    pub max_members: i64,
    pub min_gap_minutes: i64,
    /// `null`: no daily limit.
    pub max_posts_per_day: Option<i64>,
    /// Devices each collaborator may use at once; `null`: no limit.
    pub max_devices_per_member: Option<i64>,
    pub approvals_required: i64,
    pub owner_approval_required: bool,
    pub admins_may_approve_own: bool,
    /// When findings become alerts: `{failed_sign_ins, denied_actions, post_burst,
    /// member_change_burst}`, each `{count, minutes}`.
    #[schema(value_type = Object)]
    pub alert_thresholds: AlertThresholds,
}

#[derive(Serialize, ToSchema)]
pub struct RulesView {
    /// 0 when the account has no house rules.
    pub version: i64,
    pub text: String,
    /// The version the caller accepted (0: none).
    pub accepted_version: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    #[schema(value_type = String)]
    pub id: AccountId,
    pub platform: String,
    pub account_kind: String,
    pub handle: String,
    pub display_name: String,
    #[schema(value_type = String)]
    pub owner_id: UserId,
    pub time_zone: String,
    pub settings: SettingsView,
    pub my_role: String,
    pub my_capabilities: Vec<&'static str>,
    pub rules: RulesView,
    /// `active`, `needs_reconnect`, `locked_down` or `disconnected`.
    pub status: String,
    /// The caller's membership status on it: `active`, `suspended` or `expired`.
    pub my_status: String,
    pub created_at: String,
}

/// The account as `m`'s holder sees it.
#[must_use]
pub fn account_view(s: &Services, a: AccountRow, m: &MembershipRow) -> AccountView {
    let caps = membership_rights(m).map(|r| r.capabilities.sorted_names()).unwrap_or_default();
    let expired = m.role != Role::Owner && m.expires_at.is_some_and(|e| e <= s.clock.now_us());
    AccountView {
        settings: SettingsView {
            max_members: a.max_members,
            min_gap_minutes: a.min_gap_minutes,
            max_posts_per_day: a.max_posts_per_day,
            max_devices_per_member: a.max_devices_per_member,
            approvals_required: a.approvals_required,
            owner_approval_required: a.owner_approval_required,
            admins_may_approve_own: a.admins_may_approve_own,
            alert_thresholds: AlertThresholds::from_stored(&a.alert_thresholds),
        },
        rules: RulesView { version: a.rules_version, text: a.rules_text, accepted_version: m.accepted_rules_version },
        my_role: m.role.as_str().into(),
        my_capabilities: if expired { Vec::new() } else { caps },
        my_status: if expired { "expired".into() } else { m.status.as_str().into() },
        created_at: rfc3339(a.created_at),
        id: a.id,
        platform: a.platform.as_str().into(),
        account_kind: a.account_kind,
        handle: a.handle,
        display_name: a.display_name,
        owner_id: a.owner_id,
        time_zone: a.time_zone,
        status: a.status.as_str().into(),
    }
}

/// The account as `who` sees it right after a change (read fresh, after the commit).
pub(crate) async fn fresh_view(s: &Services, who: &Principal, account_id: &AccountId) -> AppResult<AccountView> {
    let (account, membership) = s.store.account_access(account_id, &who.user_id).await?.ok_or(AppError::NotFound)?;
    Ok(account_view(s, account, &membership))
}

/// The accounts `who` is a member of (only those a narrowed access token reaches).
pub async fn list_accounts(s: &Services, who: &Principal) -> AppResult<Vec<AccountView>> {
    Ok(s.store
        .accounts_of_user(&who.user_id)
        .await?
        .into_iter()
        .filter(|(a, _)| who.token_accounts.as_ref().is_none_or(|ids| ids.contains(&a.id)))
        .map(|(a, m)| account_view(s, a, &m))
        .collect())
}

/// One account, readable before its house rules are accepted.
pub async fn get_account(s: &Services, ctx: &Ctx, who: &Principal, account_id: &AccountId) -> AppResult<AccountView> {
    let access = authorize(s, ctx, who, account_id, Need::ReadAccountAndRules).await?;
    Ok(account_view(s, access.account, &access.membership))
}
