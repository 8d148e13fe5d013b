//! How members and pending invitations read (`MemberView`, `InvitationView`), and their lists.
use serde::Serialize;
use steward_domain::capability::Capability;
use steward_domain::capability::Role;
use steward_domain::ids::{AccountId, InvitationId, UserId};
use steward_domain::windows::stored_windows;
use steward_store::{InvitationRow, MemberRow};
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize, capability_set, membership_rights};
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::services::Services;

/// One member of an account.
#[derive(Serialize, ToSchema)]
pub struct MemberView {
    #[schema(value_type = String)]
    pub user_id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: String,
    /// Effective capabilities: the role's, plus `grant`, minus `revoke`.
    pub capabilities: Vec<&'static str>,
    pub grant: Vec<&'static str>,
    pub revoke: Vec<&'static str>,
    pub expires_at: Option<String>,
    /// Weekly posting windows (`[]`: no restriction). `null` when the stored windows cannot be
    /// read: the member may not schedule or publish until they are set again.
    #[schema(value_type = Option<Vec<Object>>)]
    pub windows: serde_json::Value,
    pub daily_quota: Option<i64>,
    /// `active`, `suspended` or `expired`.
    pub status: String,
    pub accepted_rules_version: i64,
    pub joined_at: String,
}

#[must_use]
pub fn member_view(s: &Services, r: MemberRow) -> MemberView {
    let m = r.membership;
    let expired = m.role != Role::Owner && m.expires_at.is_some_and(|e| e <= s.clock.now_us());
    MemberView {
        capabilities: if expired {
            Vec::new()
        } else {
            membership_rights(&m).map(|x| x.capabilities.sorted_names()).unwrap_or_default()
        },
        grant: capability_set(&m.grants).sorted_names(),
        revoke: capability_set(&m.revokes).sorted_names(),
        expires_at: m.expires_at.map(rfc3339),
        // Unreadable windows never show as "no restriction".
        windows: stored_windows(&m.windows)
            .ok()
            .and_then(|w| serde_json::to_value(w).ok())
            .unwrap_or(serde_json::Value::Null),
        daily_quota: m.daily_quota,
        status: if expired { "expired".into() } else { m.status.as_str().into() },
        accepted_rules_version: m.accepted_rules_version,
        joined_at: rfc3339(m.created_at),
        user_id: m.user_id,
        email: r.email,
        display_name: r.display_name,
        role: m.role.as_str().into(),
    }
}

/// The account's members.
pub async fn list_members(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
) -> AppResult<Vec<MemberView>> {
    authorize(s, ctx, who, account_id, Need::Capability(Capability::AccountView)).await?;
    Ok(s.store.members(account_id).await?.into_iter().map(|r| member_view(s, r)).collect())
}

/// One member as stored now (after a change).
pub(crate) async fn fresh_member(s: &Services, account_id: &AccountId, user_id: &UserId) -> AppResult<MemberView> {
    let member = s
        .store
        .members(account_id)
        .await?
        .into_iter()
        .find(|m| m.membership.user_id == *user_id)
        .ok_or(AppError::NotFound)?;
    Ok(member_view(s, member))
}

#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    #[schema(value_type = String)]
    pub id: InvitationId,
    pub email: String,
    pub role: String,
    #[schema(value_type = String)]
    pub invited_by: UserId,
    pub created_at: String,
    pub expires_at: String,
    pub membership_expires_at: Option<String>,
    /// `sent` or `failed` once the invitation email was tried; null when mail is off.
    pub mail_status: Option<String>,
    /// Why the email could not be delivered.
    pub mail_error: Option<String>,
}

fn invitation_view(i: InvitationRow) -> InvitationView {
    InvitationView {
        id: i.id,
        email: i.email,
        role: i.role.as_str().into(),
        invited_by: i.invited_by,
        created_at: rfc3339(i.created_at),
        expires_at: rfc3339(i.expires_at),
        membership_expires_at: i.membership_expires_at.map(rfc3339),
        mail_status: i.mail_status,
        mail_error: i.mail_error,
    }
}

/// The account's pending invitations.
pub async fn list_invitations(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
) -> AppResult<Vec<InvitationView>> {
    authorize(s, ctx, who, account_id, Need::Capability(Capability::MembersManage)).await?;
    Ok(s.store.pending_invitations(account_id, s.clock.now_us()).await?.into_iter().map(invitation_view).collect())
}
