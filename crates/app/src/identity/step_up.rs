//! Asking a signed-in person for their password (and second factor) again before a grave
//! step: ownership transfer, account deletion, turning 2FA off, password change, token
//! creation. Every check is reserved against sign-in's per-account limit before it is made.
use steward_store::UserRow;
use zeroize::Zeroizing;

use crate::actor::Ctx;
use crate::error::{AppError, AppResult};
use crate::identity::sign_in::{AttemptKind, reserve_attempt};
use crate::services::Services;
use crate::twofactor::verify_second_factor;

/// Verifies `password` (when given) and, when the person has 2FA on, `totp` (a current code or
/// a recovery code). At least one secret is always checked. Failures count per person with
/// sign-in's per-account limit (kept apart from sign-in's own count, so strangers guessing at
/// the sign-in form cannot block the person's own step-ups); at the limit: 429 `rate-limited`.
pub async fn confirm(
    s: &Services,
    ctx: &Ctx,
    user: &UserRow,
    password: Option<&str>,
    totp: Option<&str>,
) -> AppResult<()> {
    let code = totp.filter(|c| !c.trim().is_empty());
    if user.totp_enabled && code.is_none() {
        return Err(AppError::TotpRequired);
    }
    if password.is_none() && !user.totp_enabled {
        return Err(AppError::validation("password", "is required: enter your password again"));
    }
    let attempt = reserve_attempt(s, ctx, AttemptKind::StepUp, &user.email, None).await?;
    if let Some(password) = password
        && !s.passwords.verify(Zeroizing::new(password.to_string()), Some(user.password_hash.clone())).await?
    {
        s.store.settle_attempt(&attempt, false).await?;
        return Err(AppError::Forbidden("the password is wrong; this step needs your password again".into()));
    }
    if user.totp_enabled
        && let Some(code) = code
    {
        let mut tx = s.store.begin().await?;
        if verify_second_factor(s, &mut tx, user, code).await?.is_none() {
            drop(tx);
            s.store.settle_attempt(&attempt, false).await?;
            return Err(AppError::Forbidden("the two-factor code is wrong, expired or was already used".into()));
        }
        // The code is used up whatever the step does next.
        tx.commit().await?;
    }
    s.store.settle_attempt(&attempt, true).await?;
    Ok(())
}
