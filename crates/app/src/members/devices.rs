//! A collaborator's devices as the owner sees them: their live sessions (device in words, the
//! address it was opened from, last seen) and ending one of them.
use serde::Serialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::capability::{Capability, Role};
use steward_domain::device::describe;
use steward_domain::ids::{AccountId, SessionId, UserId};
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::authz::{AccountAccess, Need, authorize};
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::members::terms::require_manage;
use crate::services::Services;
use crate::usecase::{Audit, audited};

/// One live session of a member.
#[derive(Serialize, ToSchema)]
pub struct MemberSessionView {
    #[schema(value_type = String)]
    pub id: SessionId,
    /// The device in words, e.g. "Firefox on Windows".
    pub device: String,
    /// The address the session was opened from.
    pub place: Option<String>,
    pub created_at: String,
    pub last_seen_at: String,
}

/// The caller may manage `user_id` on the account: `members.manage` (and `admins.manage` for an
/// admin); the owner's devices are the owner's own business (`/me/sessions`).
async fn authorize_on_member(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    user_id: &UserId,
) -> AppResult<AccountAccess> {
    let access = authorize(s, ctx, who, account_id, Need::Capability(Capability::MembersManage)).await?;
    let target = s.store.membership(account_id, user_id).await?.ok_or(AppError::NotFound)?;
    if target.role == Role::Owner {
        return Err(AppError::Forbidden("the owner's sessions are listed under /me/sessions, by the owner".into()));
    }
    require_manage(&access.acting(), target.role)?;
    Ok(access)
}

/// The member's live sessions (not ended, not expired, not idle too long), newest first.
pub async fn list_member_sessions(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    user_id: &UserId,
) -> AppResult<Vec<MemberSessionView>> {
    authorize_on_member(s, ctx, who, account_id, user_id).await?;
    let now = s.clock.now_us();
    let idle = i64::try_from(s.settings.session_idle.as_micros()).unwrap_or(i64::MAX);
    Ok(s.store
        .live_sessions(user_id, now)
        .await?
        .into_iter()
        .filter(|x| x.last_seen_at.saturating_add(idle) > now)
        .map(|x| MemberSessionView {
            device: describe(x.user_agent.as_deref()),
            id: x.id,
            place: x.ip,
            created_at: rfc3339(x.created_at),
            last_seen_at: rfc3339(x.last_seen_at),
        })
        .collect())
}

/// Ends one of the member's sessions (everywhere: a session is a device, not an account's).
pub async fn end_member_session(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    user_id: &UserId,
    session_id: &SessionId,
) -> AppResult<()> {
    ctx.slot.set_action(Action::MemberSessionRevoke, Some(format!("session:{session_id}")));
    authorize_on_member(s, ctx, who, account_id, user_id).await?;
    audited(s, ctx, &who.actor(), async |tx| {
        if !tx.revoke_session(user_id, session_id, s.clock.now_us()).await? {
            return Err(AppError::NotFound);
        }
        let audit = Audit::on_account(account_id, Action::MemberSessionRevoke)
            .target(format!("session:{session_id}"))
            .detail(json!({ "user_id": user_id.as_str() }));
        Ok(((), audit))
    })
    .await
}
