//! What only the owner does with the account itself: hand it to another member (with the
//! password, and the 2FA code when it is on, asked again), or delete it with its credential
//! (asked the same way).
use serde::Deserialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::capability::{Capability, Role};
use steward_domain::ids::{AccountId, UserId};
use steward_domain::status::MembershipStatus;
use utoipa::ToSchema;

use crate::accounts::view::{AccountView, fresh_view};
use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::error::{AppError, AppResult};
use crate::identity::step_up;
use crate::services::Services;
use crate::usecase::{Audit, audited};

#[derive(Deserialize, ToSchema)]
pub struct TransferRequest {
    pub to_user_id: String,
    /// The owner's password, asked again for this.
    pub password: String,
    /// The owner's current two-factor code, when 2FA is on.
    pub totp: Option<String>,
}

/// Makes an active member the owner; the previous owner becomes an admin. The API lets only a
/// signed-in session (not an access token) ask.
pub async fn transfer_ownership(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    input: TransferRequest,
) -> AppResult<AccountView> {
    let id = account_id;
    ctx.slot.set_action(Action::AccountTransfer, Some(format!("user:{}", input.to_user_id)));
    let access = authorize(s, ctx, who, id, Need::Capability(Capability::OwnershipTransfer)).await?;
    let personal = steward_domain::platform::kind_of(access.account.platform.as_str(), &access.account.account_kind)
        .is_none_or(|k| k.personal);
    if personal {
        // A member profile is its person's (LinkedIn's terms): handing it to a collaborator
        // would let them remove the owner and publish alone as that person.
        return Err(AppError::ConflictAs {
            code: "member-profile-not-transferable",
            title: "A personal profile cannot change hands",
            detail: "this account is a person's own profile; it stays theirs (connect a page to share ownership)"
                .into(),
        });
    }
    let owner = s.store.user_by_id(&who.user_id).await?.ok_or(AppError::Unauthenticated { presented: true })?;
    step_up::confirm(s, ctx, &owner, Some(&input.password), input.totp.as_deref()).await?;
    let to = input.to_user_id;
    let now = s.clock.now_us();
    audited(s, ctx, &who.actor(), async |tx| {
        let account = tx.lock_account(id).await?.ok_or(AppError::NotFound)?;
        // Decided again under the account's lock: the access read before it may predate
        // another transfer the caller made at the same time (two owners, neither removable).
        if account.owner_id != who.user_id {
            return Err(AppError::Forbidden("only the owner can hand the account over".into()));
        }
        match tx.membership(id, &UserId::new(to.to_string())).await? {
            Some(m) if m.role == Role::Owner => return Err(AppError::validation("to_user_id", "is already the owner")),
            Some(m) if m.status == MembershipStatus::Active && m.expires_at.is_none_or(|e| e > now) => {}
            _ => return Err(AppError::validation("to_user_id", "must be an active member of this account")),
        }
        tx.transfer_ownership(id, &who.user_id, &UserId::new(to.to_string()), now).await?;
        let audit = Audit::on_account(id, Action::AccountTransfer)
            .target(format!("user:{to}"))
            .detail(json!({ "from": who.user_id, "to": to, "previous_owner_becomes": Role::Admin.as_str() }));
        Ok(((), audit))
    })
    .await?;
    fresh_view(s, who, id).await
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteAccountRequest {
    /// The owner's password, asked again for this.
    pub password: String,
    /// The owner's current two-factor code (or a recovery code), when 2FA is on.
    pub totp: Option<String>,
}

/// Deletes the account, its memberships, posts and sealed credential, once the owner has
/// given their password (and code) again. The API lets only a signed-in session ask.
pub async fn delete_account(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    input: DeleteAccountRequest,
) -> AppResult<()> {
    let id = account_id;
    ctx.slot.set_action(Action::AccountDelete, Some(format!("account:{id}")));
    let access = authorize(s, ctx, who, id, Need::Capability(Capability::OwnershipTransfer)).await?;
    let owner = s.store.user_by_id(&who.user_id).await?.ok_or(AppError::Unauthenticated { presented: true })?;
    step_up::confirm(s, ctx, &owner, Some(&input.password), input.totp.as_deref()).await?;
    audited(s, ctx, &who.actor(), async |tx| {
        tx.delete_account(id).await?;
        let audit = Audit::on_account(id, Action::AccountDelete)
            .target(format!("account:{id}"))
            .detail(json!({ "platform": access.account.platform.as_str(), "handle": access.account.handle }));
        Ok(((), audit))
    })
    .await
}
