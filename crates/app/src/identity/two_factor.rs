//! Two-factor sign-in for a person: enrolling an authenticator app (begin, then confirm with a
//! code for the recovery codes) and turning it off with a code.
use serde::{Deserialize, Serialize};
use steward_domain::audit::Action;
use steward_store::UserRow;
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::error::{AppError, AppResult};
use crate::identity::sessions::require_session;
use crate::identity::step_up;
use crate::services::Services;
use crate::twofactor::{self, new_recovery_codes, recovery_code_hash, secret_aad};
use crate::usecase::{Audit, audited};

#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://` URI, for a QR code.
    pub otpauth_uri: String,
}

#[derive(Deserialize, ToSchema)]
pub struct CodeRequest {
    /// A 6-digit code from the authenticator app (or, to turn 2FA off, a recovery code).
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Shown once. Each works once, in place of a code, if the authenticator is lost.
    pub recovery_codes: Vec<String>,
}

/// The acting person's user row, fresh (2FA state is not carried by the session).
async fn load_user(s: &Services, who: &Principal) -> AppResult<UserRow> {
    s.store.user_by_id(&who.user_id).await?.ok_or(AppError::Unauthenticated { presented: true })
}

fn on_user(action: Action, user: &UserRow) -> Audit {
    Audit::personal(action).target(format!("user:{}", user.id))
}

/// Starts enrolling an authenticator app: a new secret, pending until confirmed.
pub async fn begin_totp(s: &Services, ctx: &Ctx, who: &Principal) -> AppResult<TotpEnrolment> {
    ctx.slot.set_action(Action::TotpBegin, None);
    require_session(who)?;
    let user = load_user(s, who).await?;
    if user.totp_enabled {
        return Err(AppError::Conflict(
            "two-factor authentication is already on; turn it off first to enrol a new device".into(),
        ));
    }
    let secret = twofactor::new_secret();
    let totp = twofactor::build_totp(&secret, &user.email)?;
    let uri = totp.to_url().map_err(|e| AppError::internal(anyhow::anyhow!("otpauth uri: {e}")))?;
    let sealed = s.sealer.seal(&secret_aad(&user.id), &secret);
    audited(s, ctx, &who.actor(), async |tx| {
        tx.set_totp_pending(&user.id, Some(&sealed), s.clock.now_us()).await?;
        Ok(((), on_user(Action::TotpBegin, &user)))
    })
    .await?;
    Ok(TotpEnrolment { secret: twofactor::secret_base32(&secret), otpauth_uri: uri })
}

/// The enrolment waiting for its first code, if any: the same secret again (a mistyped code
/// keeps it, so the app already scanned still matches).
pub async fn pending_enrolment(s: &Services, who: &Principal) -> AppResult<Option<TotpEnrolment>> {
    require_session(who)?;
    let user = load_user(s, who).await?;
    let (false, Some(sealed)) = (user.totp_enabled, user.totp_pending_sealed.as_deref()) else { return Ok(None) };
    let secret = s.sealer.open(&secret_aad(&user.id), sealed).map_err(AppError::internal)?;
    let totp = twofactor::build_totp(&secret, &user.email)?;
    let uri = totp.to_url().map_err(|e| AppError::internal(anyhow::anyhow!("otpauth uri: {e}")))?;
    Ok(Some(TotpEnrolment { secret: twofactor::secret_base32(&secret), otpauth_uri: uri }))
}

/// Confirms the enrolment with a current code: 2FA is on, and the recovery codes are shown once.
pub async fn confirm_totp(s: &Services, ctx: &Ctx, who: &Principal, input: CodeRequest) -> AppResult<RecoveryCodes> {
    ctx.slot.set_action(Action::TotpEnable, None);
    require_session(who)?;
    let user = load_user(s, who).await?;
    if user.totp_enabled {
        return Err(AppError::Conflict("two-factor authentication is already on".into()));
    }
    let Some(sealed) = user.totp_pending_sealed.as_deref() else {
        return Err(AppError::Conflict("start enrolment first with POST /api/v1/me/totp".into()));
    };
    let secret = s.sealer.open(&secret_aad(&user.id), sealed).map_err(AppError::internal)?;
    let now_secs = u64::try_from(s.clock.now().as_second()).unwrap_or(0);
    let Some(step) = twofactor::matching_step(&secret, &user.email, &input.code, now_secs)? else {
        return Err(AppError::validation(
            "code",
            "is not the current code of the authenticator app; check the device's clock",
        ));
    };
    let codes = new_recovery_codes();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery_code_hash(c)).collect();
    audited(s, ctx, &who.actor(), async |tx| {
        // The confirming code's step is recorded as used, so it cannot also sign someone in.
        tx.enable_totp(&user.id, sealed, step, &hashes, s.clock.now_us()).await?;
        Ok(((), on_user(Action::TotpEnable, &user)))
    })
    .await?;
    Ok(RecoveryCodes { recovery_codes: codes })
}

/// Turns two-factor sign-in off, with a current code or a recovery code.
pub async fn disable_totp(s: &Services, ctx: &Ctx, who: &Principal, input: CodeRequest) -> AppResult<()> {
    ctx.slot.set_action(Action::TotpDisable, None);
    require_session(who)?;
    let user = load_user(s, who).await?;
    if !user.totp_enabled {
        return Err(AppError::Conflict("two-factor authentication is not on".into()));
    }
    if input.code.trim().is_empty() {
        return Err(AppError::validation("code", "is required: a code from your app or a recovery code"));
    }
    step_up::confirm(s, ctx, &user, None, Some(&input.code)).await?;
    audited(s, ctx, &who.actor(), async |tx| {
        tx.disable_totp(&user.id, s.clock.now_us()).await?;
        Ok(((), on_user(Action::TotpDisable, &user)))
    })
    .await
}
