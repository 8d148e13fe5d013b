//! Invitations: inviting someone by email with the terms of their membership (a seat is
//! taken until it is accepted, withdrawn or expires), withdrawing one, and redeeming one (a
//! signed-in person accepting, or someone registering with it).
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::capability::{Capability, Role};
use steward_domain::identity::normalize_email;
use steward_domain::ids::{AccountId, InvitationId, UserId};
use steward_domain::status::AccountStatus;
use steward_domain::windows::WindowInput;
use steward_store::{InvitationRow, MembershipTerms, NewInvitation, Tx};
use utoipa::ToSchema;

use crate::actor::{AuditActor, Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::clock::rfc3339;
use crate::crypto::{new_token, sha256};
use crate::error::{AppError, AppResult, FieldError};
use crate::input::future_instant;
use crate::mail::{self, html_escape};
use crate::members::terms::{Requested, build_terms, parse_role, require_manage};
use crate::members::view::{MemberView, fresh_member};
use crate::services::Services;
use crate::usecase::{Audit, audited, record};

pub const INVITATION_TOKEN_PREFIX: &str = "sti_";
const DEFAULT_INVITATION_DAYS: i64 = 7;
const MAX_INVITATION_DAYS: i64 = 30;

#[derive(Deserialize, ToSchema)]
pub struct InvitationRequest {
    pub email: String,
    pub role: String,
    /// When the membership ends (RFC 3339); none: until removed.
    pub expires_at: Option<String>,
    /// Weekly posting windows in the account's time zone.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub windows: Vec<WindowInput>,
    pub daily_quota: Option<i64>,
    /// Capabilities added to the role.
    #[serde(default)]
    pub grant: Vec<String>,
    /// Capabilities removed from the role.
    #[serde(default)]
    pub revoke: Vec<String>,
    /// When the invitation link stops working (default 7 days, at most 30).
    pub invitation_expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedInvitation {
    #[schema(value_type = String)]
    pub id: InvitationId,
    /// The page where the invitee signs in or registers and accepts. Shown only here.
    pub invite_url: String,
    pub token: String,
    /// When the invitation expires.
    pub expires_at: String,
    pub email: String,
    pub role: String,
    /// `sent` or `failed` when mail is on (the invitee is mailed the link); null when it is off.
    pub mail_status: Option<String>,
    /// Why the email could not be delivered.
    pub mail_error: Option<String>,
}

/// The outcome of sending an invitation again.
#[derive(Serialize, ToSchema)]
pub struct ResentInvitation {
    #[schema(value_type = String)]
    pub id: InvitationId,
    /// The new link (the previous one stops working). Shown only here and in the email.
    pub invite_url: String,
    pub mail_status: Option<String>,
    pub mail_error: Option<String>,
}

/// Mails the invitee their link when mail is on, and records how it went on the invitation.
async fn mail_invitation(
    s: &Services,
    invitation_id: &InvitationId,
    to: &str,
    inviter: &str,
    account: &str,
    role: &str,
    link: &str,
) -> AppResult<(Option<String>, Option<String>)> {
    if !s.settings.mail_enabled() {
        return Ok((None, None));
    }
    let text = format!(
        "{inviter} invites you to help with {account} on Steward, as {role}.\n\nAccept the invitation here \
         (sign in or create your Steward account with this address):\n{link}\n\nIf you did not expect this, \
         ignore this email.\n"
    );
    let html = format!(
        "<!doctype html><html><body><h1>You are invited to {account}</h1><p>{inviter} invites you to help with \
         {account} on Steward, as {role}.</p><p><a href=\"{link}\">Accept the invitation</a> (sign in or create \
         your Steward account with this address).</p><p>If you did not expect this, ignore this email.</p></body></html>",
        inviter = html_escape(inviter),
        account = html_escape(account),
        role = html_escape(role),
        link = html_escape(link),
    );
    let subject = format!("[Steward] {inviter} invites you to {account}");
    let (status, error) = match mail::send(s, to, &subject, text, html).await {
        Ok(()) => ("sent", None),
        Err(e) => {
            tracing::info!(invitation = %invitation_id, error = %e, "the invitation email was not delivered");
            ("failed", Some(e.to_string()))
        }
    };
    s.store.set_invitation_mail(invitation_id, status, error.as_deref(), s.clock.now_us()).await?;
    Ok((Some(status.to_string()), error))
}

/// Refuses when the account has no free seat (members plus pending invitations).
pub async fn require_free_seat(tx: &mut Tx, account_id: &AccountId, max_members: i64, now: i64) -> AppResult<()> {
    let seats = tx.seats_in_use(account_id, now).await?;
    if seats >= max_members {
        return Err(AppError::MemberLimit(format!(
            "this account allows {max_members} people (owner included) and all seats are taken or invited; \
             remove someone, withdraw an invitation or raise max_members"
        )));
    }
    Ok(())
}

/// Invites `input.email` to the account; the token is shown only in the answer.
pub async fn create_invitation(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    input: InvitationRequest,
) -> AppResult<CreatedInvitation> {
    let id = account_id;
    ctx.slot.set_action(Action::MemberInvite, None);
    let actor = authorize(s, ctx, who, id, Need::Capability(Capability::MembersManage)).await?;
    let now = s.clock.now();
    let mut errors = Vec::new();
    let email = normalize_email(&input.email).map_err(|e| errors.push(FieldError::new("email", e.to_string()))).ok();
    let role = parse_role(&input.role, &mut errors);
    if let Some(r) = role {
        require_manage(&actor.acting(), r)?;
    }
    let expires_at = input
        .expires_at
        .as_deref()
        .and_then(|raw| future_instant("expires_at", raw, now).map_err(|e| errors.push(e)).ok());
    let invitation_expires_at = match input.invitation_expires_at.as_deref() {
        None => Some(now.as_microsecond() + DEFAULT_INVITATION_DAYS * 86_400_000_000),
        Some(raw) => match future_instant("invitation_expires_at", raw, now) {
            Ok(t) if t <= now.as_microsecond() + MAX_INVITATION_DAYS * 86_400_000_000 => Some(t),
            Ok(_) => {
                errors.push(FieldError::new("invitation_expires_at", "must be within 30 days"));
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    let requested = Requested {
        role: role.unwrap_or(Role::Viewer),
        grant: &input.grant,
        revoke: &input.revoke,
        windows: &input.windows,
        daily_quota: input.daily_quota,
        expires_at,
        holding: steward_domain::capability::CapabilitySet::EMPTY,
    };
    let terms = build_terms(&actor, &requested, &mut errors);
    let (Some(email), Some(role), Some(invitation_expires_at), true) =
        (email, role, invitation_expires_at, errors.is_empty())
    else {
        return Err(AppError::Validation(errors));
    };
    ctx.slot.set_action(Action::MemberInvite, Some(format!("email:{email}")));
    let now_us = now.as_microsecond();
    let token = zeroize::Zeroizing::new(new_token(INVITATION_TOKEN_PREFIX));
    let inv_id = InvitationId::new(uuid::Uuid::now_v7().to_string());
    let account_name = audited(s, ctx, &who.actor(), async |tx| {
        let account = tx.lock_account(id).await?.ok_or(AppError::NotFound)?;
        if account.status == AccountStatus::LockedDown {
            return Err(AppError::locked_down("the account is locked down: its owner must lift the lockdown first"));
        }
        if tx.is_member_email(id, &email).await? {
            return Err(AppError::Conflict(format!("{email} is already a member of this account")));
        }
        if tx.pending_invitation_for_email(id, &email, now_us).await? {
            return Err(AppError::Conflict(format!("{email} already has a pending invitation; withdraw it first")));
        }
        require_free_seat(tx, id, account.max_members, now_us).await?;
        let account_name = format!("{} ({})", account.display_name, account.handle);
        tx.insert_invitation(NewInvitation {
            id: &inv_id,
            account_id: id,
            email: &email,
            token_hash: &sha256(token.as_bytes()),
            terms: &terms,
            invited_by: &who.user_id,
            now: now_us,
            expires_at: invitation_expires_at,
        })
        .await?;
        let audit = Audit::on_account(id, Action::MemberInvite).target(format!("email:{email}")).detail(json!({
            "invitation_id": inv_id, "role": role.as_str(), "grant": input.grant, "revoke": input.revoke,
            "expires_at": expires_at.map(rfc3339), "daily_quota": input.daily_quota, "windows": input.windows.len(),
        }));
        Ok((account_name, audit))
    })
    .await?;
    let invite_url = format!("{}/invite/{}", s.settings.public_url, token.as_str());
    let (mail_status, mail_error) =
        mail_invitation(s, &inv_id, &email, &who.display_name, &account_name, role.as_str(), &invite_url).await?;
    Ok(CreatedInvitation {
        invite_url,
        token: token.to_string(),
        id: inv_id,
        expires_at: rfc3339(invitation_expires_at),
        email,
        role: role.as_str().into(),
        mail_status,
        mail_error,
    })
}

/// Sends a pending invitation again with a new link (the old one stops working): for an email
/// that did not arrive or was lost.
pub async fn resend_invitation(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    invitation_id: &InvitationId,
) -> AppResult<ResentInvitation> {
    let (id, inv) = (account_id, invitation_id);
    ctx.slot.set_action(Action::InvitationResend, Some(format!("invitation:{inv}")));
    let actor = authorize(s, ctx, who, id, Need::Capability(Capability::MembersManage)).await?;
    let now = s.clock.now_us();
    let pending = s.store.pending_invitations(id, now).await?;
    let invitation = pending.into_iter().find(|i| i.id == *inv).ok_or(AppError::NotFound)?;
    require_manage(&actor.acting(), invitation.role)?;
    // The resender vouches for it from now on: they must be able to make that membership.
    if !offered(&invitation).difference(actor.capabilities).is_empty() {
        return Err(AppError::Forbidden(
            "this invitation hands out capabilities you do not hold; ask the account's owner to send it".into(),
        ));
    }
    let token = zeroize::Zeroizing::new(new_token(INVITATION_TOKEN_PREFIX));
    let account_name = audited(s, ctx, &who.actor(), async |tx| {
        let account = tx.lock_account(id).await?.ok_or(AppError::NotFound)?;
        if account.status == AccountStatus::LockedDown {
            return Err(AppError::locked_down("the account is locked down: its owner must lift the lockdown first"));
        }
        if !tx.replace_invitation_token(id, inv, &sha256(token.as_bytes()), &who.user_id, now).await? {
            return Err(AppError::NotFound);
        }
        let audit = Audit::on_account(id, Action::InvitationResend)
            .target(format!("email:{}", invitation.email))
            .detail(json!({ "invitation_id": inv, "role": invitation.role }));
        Ok((format!("{} ({})", account.display_name, account.handle), audit))
    })
    .await?;
    let invite_url = format!("{}/invite/{}", s.settings.public_url, token.as_str());
    let (mail_status, mail_error) = mail_invitation(
        s,
        inv,
        &invitation.email,
        &who.display_name,
        &account_name,
        invitation.role.as_str(),
        &invite_url,
    )
    .await?;
    Ok(ResentInvitation { id: inv.clone(), invite_url, mail_status, mail_error })
}

/// Withdraws a pending invitation (its seat is free again).
pub async fn withdraw_invitation(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    invitation_id: &InvitationId,
) -> AppResult<()> {
    let (id, inv) = (account_id, invitation_id);
    ctx.slot.set_action(Action::InvitationWithdraw, Some(format!("invitation:{inv}")));
    let actor = authorize(s, ctx, who, id, Need::Capability(Capability::MembersManage)).await?;
    let now = s.clock.now_us();
    let pending = s.store.pending_invitations(id, now).await?;
    let invitation = pending.into_iter().find(|i| i.id == *inv).ok_or(AppError::NotFound)?;
    require_manage(&actor.acting(), invitation.role)?;
    audited(s, ctx, &who.actor(), async |tx| {
        if !tx.withdraw_invitation(id, inv, now).await? {
            return Err(AppError::NotFound);
        }
        let audit = Audit::on_account(id, Action::InvitationWithdraw)
            .target(format!("email:{}", invitation.email))
            .detail(json!({ "invitation_id": inv, "role": invitation.role }));
        Ok(((), audit))
    })
    .await
}

/// Turns a pending invitation into a membership for `user_id` inside `tx`, with its audit
/// event. Shared by accepting while signed in and by registering with an invitation.
pub async fn redeem_invitation(
    s: &Services,
    ctx: &Ctx,
    tx: &mut Tx,
    token: &str,
    actor: &AuditActor,
    user_id: &UserId,
    email: &str,
) -> AppResult<InvitationRow> {
    let now = s.clock.now_us();
    let Some(found) = s.store.invitation_by_token_hash(&sha256(token.as_bytes())).await? else {
        return Err(AppError::NotFound);
    };
    ctx.slot.set_account(&found.account_id);
    // Re-read after locking the account, so a concurrent accept or withdrawal is seen.
    let account = tx.lock_account(&found.account_id).await?.ok_or(AppError::NotFound)?;
    if account.status == AccountStatus::LockedDown {
        return Err(AppError::locked_down("the account is locked down; ask its owner"));
    }
    let inv = tx.invitation(&found.id).await?.ok_or(AppError::NotFound)?;
    if !inv.is_pending(now) {
        return Err(AppError::Conflict("this invitation was already used, withdrawn or has expired".into()));
    }
    if inv.email != email {
        return Err(AppError::Forbidden("this invitation was sent to another email address".into()));
    }
    if tx.is_member_email(&inv.account_id, email).await? {
        return Err(AppError::Conflict("you are already a member of this account".into()));
    }
    // An invitation speaks for the person who sent it: it opens the account only while they
    // still may hand out what it grants (removed, suspended, expired or downgraded since, it
    // opens nothing).
    let inviter = tx.membership(&inv.account_id, &inv.invited_by).await?;
    if !inviter.is_some_and(|m| may_still_grant(&m, &inv, now)) {
        return Err(AppError::Conflict(
            "the person who sent this invitation may no longer add this member; ask the account's owner for a new one"
                .into(),
        ));
    }
    tx.mark_invitation_accepted(&inv.id, now).await?;
    let terms = MembershipTerms {
        role: inv.role.as_str().into(),
        grants: inv.grants.clone(),
        revokes: inv.revokes.clone(),
        expires_at: inv.membership_expires_at,
        windows: inv.windows.clone(),
        daily_quota: inv.daily_quota,
    };
    tx.insert_membership(&inv.account_id, user_id, &terms, 0, now).await?;
    let audit = Audit::on_account(&inv.account_id, Action::MemberJoin)
        .target(format!("user:{user_id}"))
        .detail(json!({ "invitation_id": inv.id, "role": inv.role, "invited_by": inv.invited_by }));
    record(s, ctx, actor, tx, audit).await?;
    Ok(inv)
}

/// Whether `inviter` (as the membership is now) may still make the membership `inv` offers.
fn may_still_grant(inviter: &steward_store::MembershipRow, inv: &InvitationRow, now: i64) -> bool {
    let Some(rights) = crate::authz::membership_rights(inviter) else { return false };
    if rights.is_owner() {
        return true;
    }
    let live = inviter.status == steward_domain::status::MembershipStatus::Active
        && inviter.expires_at.is_none_or(|e| e > now);
    live && steward_domain::capability::can_manage_role(&rights, inv.role)
        && offered(inv).difference(rights.capabilities).is_empty()
}

/// The capabilities the membership an invitation offers would hold.
fn offered(inv: &InvitationRow) -> steward_domain::capability::CapabilitySet {
    steward_domain::capability::effective_capabilities(
        inv.role,
        crate::authz::capability_set(&inv.grants),
        crate::authz::capability_set(&inv.revokes),
    )
}

/// Withdraws the account's pending invitations (all of them, or those `sender` sent) and
/// hands back their `members.invitation.withdraw` events, each giving `reason`, for the caller
/// to record in the same transaction.
pub(crate) async fn withdraw_pending(
    tx: &mut Tx,
    account_id: &AccountId,
    sender: Option<&UserId>,
    now: i64,
    reason: &str,
) -> steward_store::Result<Vec<Audit>> {
    let withdrawn = tx.withdraw_pending_invitations(account_id, sender, now).await?;
    Ok(withdrawn
        .into_iter()
        .map(|invitation_id| {
            Audit::on_account(account_id, Action::InvitationWithdraw)
                .target(format!("invitation:{invitation_id}"))
                .detail(json!({ "reason": reason }))
        })
        .collect())
}

/// A signed-in person accepts an invitation sent to their email address.
pub async fn accept_invitation(s: &Services, ctx: &Ctx, who: &Principal, token: &str) -> AppResult<MemberView> {
    ctx.slot.set_action(Action::MemberJoin, None);
    who.require_signed_in("accept invitations while signed in, not with an access token")?;
    let mut tx = s.store.begin().await?;
    let inv = redeem_invitation(s, ctx, &mut tx, token, &who.actor(), &who.user_id, &who.email).await?;
    tx.commit().await?;
    fresh_member(s, &inv.account_id, &who.user_id).await
}
