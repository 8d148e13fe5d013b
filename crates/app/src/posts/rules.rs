//! The rules a post is held to when it is scheduled and again when it is due: who must approve
//! it, which approvals still count, and the account's pace.
use steward_domain::capability::Capability;
use steward_domain::ids::{PostId, UserId};
use steward_domain::pace::{self, AccountPace, MemberPace, Slot};
use steward_domain::platform;
use steward_domain::post::{Approval, ApprovalPolicy, ApprovalRules};
use steward_domain::status::MembershipStatus;
use steward_domain::windows::{Window, parse_time_zone};
use steward_store::{AccountRow, ApprovalRow, Tx};

use crate::authz::membership_rights;
use crate::error::{AppError, AppResult};

/// The approval rules of an account: its settings, plus the owner approval its platform
/// imposes (LinkedIn member profiles), which no setting turns off.
#[must_use]
pub fn approval_rules(account: &AccountRow) -> ApprovalRules {
    let forced =
        platform::kind_of(account.platform.as_str(), &account.account_kind).is_some_and(|k| k.owner_approval_required);
    ApprovalRules {
        policy: ApprovalPolicy {
            approvals_required: u8::try_from(account.approvals_required.clamp(1, 255)).unwrap_or(u8::MAX),
            owner_approval_required: account.owner_approval_required,
            admins_may_approve_own: account.admins_may_approve_own,
        },
        owner_approval_always_required: forced,
    }
}

/// Whether a stored approval counts now: its approver is still an active, unexpired member
/// holding `posts.approve` (Invariant 10).
#[must_use]
pub fn approval_counts(account: &AccountRow, a: &ApprovalRow, now: i64) -> bool {
    let (Some(role), Some(grants), Some(revokes), Some(status)) =
        (&a.approver_role, &a.approver_grants, &a.approver_revokes, &a.approver_status)
    else {
        return false;
    };
    let membership = steward_store::MembershipRow {
        account_id: account.id.clone(),
        user_id: a.approver_id.clone(),
        role: *role,
        grants: grants.clone(),
        revokes: revokes.clone(),
        expires_at: a.approver_expires_at,
        windows: "[]".into(),
        daily_quota: None,
        status: *status,
        accepted_rules_version: 0,
        created_at: 0,
        updated_at: 0,
    };
    let Some(rights) = membership_rights(&membership) else {
        return false;
    };
    let owner = rights.is_owner();
    let live = owner || (*status == MembershipStatus::Active && a.approver_expires_at.is_none_or(|e| e > now));
    live && rights.has(Capability::PostsApprove)
}

/// The approvals that count now, as the domain takes them. An approval counts as the owner's
/// only if its approver was the owner when approving and still is.
#[must_use]
pub fn counting_approvals(account: &AccountRow, approvals: &[ApprovalRow], now: i64) -> Vec<Approval> {
    approvals
        .iter()
        .filter(|a| approval_counts(account, a, now))
        .map(|a| Approval {
            user_id: a.approver_id.to_string(),
            version: u32::try_from(a.version).unwrap_or(u32::MAX),
            by_owner: a.by_owner && a.approver_id == account.owner_id,
        })
        .collect()
}

/// The account's pace settings as the domain takes them.
#[must_use]
pub fn account_pace(account: &AccountRow) -> AccountPace {
    AccountPace {
        min_gap_minutes: u32::try_from(account.min_gap_minutes.max(0)).unwrap_or(u32::MAX),
        max_posts_per_day: account.max_posts_per_day.map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX)),
    }
}

/// Checks the pace rules for a post going out at `at_us`, scheduled by the member whose
/// windows and quota are given, against the account's other slots, inside `tx` (call after
/// `lock_account`). The scheduler calls this again when the post is due.
pub async fn check_pace(
    tx: &mut Tx,
    account: &AccountRow,
    post_id: &PostId,
    scheduler_id: &UserId,
    windows: &[Window],
    daily_quota: Option<i64>,
    at_us: i64,
) -> AppResult<Result<(), pace::PaceViolation>> {
    let Ok(time_zone) = parse_time_zone(&account.time_zone) else {
        // A stored zone that no longer parses fails closed.
        return Ok(Err(pace::PaceViolation::OutsideWindow { next_window_start: None }));
    };
    let at = jiff::Timestamp::from_microsecond(at_us).map_err(AppError::internal)?;
    let rules = account_pace(account);
    let (from, to) = pace::relevant_range(&rules, &time_zone, at);
    let slots: Vec<Slot> = tx
        .pace_slots(&account.id, post_id, from.as_microsecond(), to.as_microsecond())
        .await?
        .into_iter()
        .filter_map(|s| {
            Some(Slot {
                at: jiff::Timestamp::from_microsecond(s.at).ok()?,
                by_member: s.scheduled_by.as_ref() == Some(scheduler_id),
            })
        })
        .collect();
    let member = MemberPace { windows, daily_quota: daily_quota.map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX)) };
    Ok(pace::check(&rules, &member, &time_zone, at, &slots))
}
