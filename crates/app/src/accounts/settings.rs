//! An account's settings: member limit, pace, approvals, time zone, house rules and alert
//! thresholds, validated together and changed in one audited step.
use serde::Deserialize;
use serde_json::json;
use steward_domain::alerts::AlertThresholds;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::AccountId;
use steward_domain::platform::{self, MAX_MEMBERS_CEILING};
use steward_domain::windows::parse_time_zone;
use steward_store::AccountSettings;
use utoipa::ToSchema;

use crate::accounts::view::{AccountView, fresh_view};
use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::error::{AppError, AppResult, FieldError};
use crate::input::nullable;
use crate::services::Services;
use crate::usecase::{Audit, audited};

#[derive(Deserialize, ToSchema)]
pub struct SettingsRequest {
    /// 1 to 100, and not below the seats in use.
    #[schema(minimum = 1, maximum = 100)]
    pub max_members: Option<i64>,
    /// 0 to 1440.
    #[schema(minimum = 0, maximum = 1440)]
    pub min_gap_minutes: Option<i64>,
    /// 1 to 100; `null` removes the daily limit.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 100)]
    pub max_posts_per_day: Option<Option<i64>>,
    /// 1 to 20: devices (live sessions and access tokens that reach the account) each
    /// collaborator may use at once; a sign-in beyond it has no access to the account. `null`
    /// removes the limit. The owner is never limited.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 20)]
    pub max_devices_per_member: Option<Option<i64>>,
    /// 1 to 10.
    #[schema(minimum = 1, maximum = 10)]
    pub approvals_required: Option<i64>,
    pub owner_approval_required: Option<bool>,
    pub admins_may_approve_own: Option<bool>,
    pub time_zone: Option<String>,
    /// New house rules (at most 20000 characters); a change raises the version and asks every
    /// member to accept again.
    #[schema(max_length = 20000)]
    pub rules_text: Option<String>,
    /// Alert thresholds; keys left out keep their defaults (DESIGN.md "Alerts").
    #[schema(value_type = Option<Object>)]
    pub alert_thresholds: Option<serde_json::Value>,
}

/// Changes the fields given; the others keep their values.
pub async fn update_settings(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    input: SettingsRequest,
) -> AppResult<AccountView> {
    let id = account_id;
    ctx.slot.set_action(Action::SettingsUpdate, Some(format!("account:{id}")));
    let access = authorize(s, ctx, who, id, Need::Capability(Capability::SettingsManage)).await?;
    let now = s.clock.now_us();
    audited(s, ctx, &who.actor(), async |tx| {
        let a = tx.lock_account(id).await?.ok_or(AppError::NotFound)?;
        let seats = tx.seats_in_use(id, now).await?;
        let mut errors = Vec::new();
        let forced_owner_approval =
            platform::kind_of(a.platform.as_str(), &a.account_kind).is_some_and(|k| k.owner_approval_required);
        let mut new = AccountSettings {
            max_members: input.max_members.unwrap_or(a.max_members),
            min_gap_minutes: input.min_gap_minutes.unwrap_or(a.min_gap_minutes),
            max_posts_per_day: input.max_posts_per_day.unwrap_or(a.max_posts_per_day),
            max_devices_per_member: input.max_devices_per_member.unwrap_or(a.max_devices_per_member),
            approvals_required: input.approvals_required.unwrap_or(a.approvals_required),
            owner_approval_required: input.owner_approval_required.unwrap_or(a.owner_approval_required),
            admins_may_approve_own: input.admins_may_approve_own.unwrap_or(a.admins_may_approve_own),
            time_zone: input.time_zone.clone().unwrap_or_else(|| a.time_zone.clone()),
            rules_text: input.rules_text.clone().unwrap_or_else(|| a.rules_text.clone()),
            rules_version: a.rules_version,
        };
        let loosened = loosened_limits(&a, &new);
        if !access.is_owner() && !loosened.is_empty() {
            // The limits the owner puts on the account's members bind its admins too: an admin
            // who could lower the approvals needed, or allow approving their own posts, could
            // approve and publish their own post. Admins may tighten them; the owner loosens.
            return Err(AppError::Forbidden(format!(
                "only the owner loosens the limits on the account's members ({}); you may tighten them",
                loosened.join(", ")
            )));
        }
        if !(1..=MAX_MEMBERS_CEILING).contains(&new.max_members) {
            errors.push(FieldError::new("max_members", format!("must be between 1 and {MAX_MEMBERS_CEILING}")));
        } else if new.max_members < seats {
            errors.push(FieldError::new(
                "max_members",
                format!("is below the {seats} seats in use (members and pending invitations); remove some first"),
            ));
        }
        if !(0..=1440).contains(&new.min_gap_minutes) {
            errors.push(FieldError::new("min_gap_minutes", "must be between 0 and 1440"));
        }
        if new.max_posts_per_day.is_some_and(|n| !(1..=100).contains(&n)) {
            errors.push(FieldError::new("max_posts_per_day", "must be between 1 and 100, or null for no limit"));
        }
        if new.max_devices_per_member.is_some_and(|n| !(1..=20).contains(&n)) {
            errors.push(FieldError::new("max_devices_per_member", "must be between 1 and 20, or null for no limit"));
        }
        if !(1..=10).contains(&new.approvals_required) {
            errors.push(FieldError::new("approvals_required", "must be between 1 and 10"));
        }
        if forced_owner_approval && !new.owner_approval_required {
            errors.push(FieldError::new(
                "owner_approval_required",
                "cannot be turned off: a LinkedIn member profile is personal, so its owner approves every post",
            ));
        }
        match parse_time_zone(&new.time_zone) {
            Ok(tz) => new.time_zone = tz.iana_name().unwrap_or(&new.time_zone).to_string(),
            Err(e) => errors.push(FieldError::new("time_zone", e.to_string())),
        }
        if new.rules_text.chars().count() > 20_000 {
            errors.push(FieldError::new("rules_text", "must be at most 20000 characters"));
        }
        let old_thresholds = AlertThresholds::from_stored(&a.alert_thresholds);
        let thresholds = match &input.alert_thresholds {
            None => old_thresholds,
            // Strictly: an array or a misspelt check is refused, never read as the defaults.
            Some(v) => match crate::strict_json::from_value::<AlertThresholds>("alert_thresholds", v.clone()) {
                Ok(t) => {
                    errors.extend(t.problems().into_iter().map(|(f, m)| FieldError::new(&f, m)));
                    t
                }
                Err(e) => {
                    errors.push(e);
                    old_thresholds
                }
            },
        };
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        new.rules_text = new.rules_text.trim().to_string();
        if new.rules_text != a.rules_text {
            new.rules_version = a.rules_version + 1;
        }
        let changed = json!({
            "max_members": [a.max_members, new.max_members],
            "min_gap_minutes": [a.min_gap_minutes, new.min_gap_minutes],
            "max_posts_per_day": [a.max_posts_per_day, new.max_posts_per_day],
            "max_devices_per_member": [a.max_devices_per_member, new.max_devices_per_member],
            "approvals_required": [a.approvals_required, new.approvals_required],
            "owner_approval_required": [a.owner_approval_required, new.owner_approval_required],
            "admins_may_approve_own": [a.admins_may_approve_own, new.admins_may_approve_own],
            "time_zone": [a.time_zone, new.time_zone],
            "rules_version": [a.rules_version, new.rules_version],
            "alert_thresholds": [old_thresholds, thresholds],
        });
        let changes: serde_json::Map<String, serde_json::Value> = changed
            .as_object()
            .map(|m| {
                m.iter()
                    .filter(|(_, v)| v[0] != v[1])
                    .map(|(k, v)| (k.clone(), json!({"from": v[0], "to": v[1]})))
                    .collect()
            })
            .unwrap_or_default();
        tx.update_account_settings(id, &new, now).await?;
        if thresholds != old_thresholds {
            let stored = serde_json::to_string(&thresholds).map_err(AppError::internal)?;
            tx.set_alert_thresholds(id, &stored).await?;
        }
        let audit = Audit::on_account(id, Action::SettingsUpdate)
            .target(format!("account:{id}"))
            .detail(json!({ "changes": changes }));
        Ok(((), audit))
    })
    .await?;
    fresh_view(s, who, id).await
}

/// The settings `new` loosens against the account as it is: those that bound its members (the
/// approval policy, the seats, each member's devices), which only the owner may loosen.
fn loosened_limits(current: &steward_store::AccountRow, new: &AccountSettings) -> Vec<&'static str> {
    let mut loosened = Vec::new();
    if new.approvals_required < current.approvals_required {
        loosened.push("approvals_required");
    }
    if current.owner_approval_required && !new.owner_approval_required {
        loosened.push("owner_approval_required");
    }
    if !current.admins_may_approve_own && new.admins_may_approve_own {
        loosened.push("admins_may_approve_own");
    }
    if new.max_members > current.max_members {
        loosened.push("max_members");
    }
    if let Some(limit) = current.max_devices_per_member
        && new.max_devices_per_member.is_none_or(|n| n > limit)
    {
        loosened.push("max_devices_per_member");
    }
    loosened
}
