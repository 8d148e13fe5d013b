//! Asking a signed-in person to prove who they are again before a sensitive change: their
//! password, and their second factor when two-factor sign-in is on.
use steward_store::UserRow;
use zeroize::Zeroizing;

use crate::actor::Ctx;
use crate::error::{AppError, AppResult};
use crate::services::Services;
use crate::twofactor::verify_second_factor;

/// Checks every secret given: a password must be the user's, and with 2FA on a code (TOTP or
/// recovery code, consumed) is required. At least one secret must be given. Wrong: 403.
pub async fn confirm(
    s: &Services,
    _ctx: &Ctx,
    user: &UserRow,
    password: Option<&str>,
    totp: Option<&str>,
) -> AppResult<()> {
    let password = password.filter(|p| !p.is_empty());
    let totp = totp.map(str::trim).filter(|c| !c.is_empty());
    if password.is_none() && totp.is_none() {
        return Err(AppError::validation("password", "is required to confirm this change"));
    }
    if let Some(p) = password
        && !s.passwords.verify(Zeroizing::new(p.to_string()), Some(user.password_hash.clone())).await?
    {
        return Err(AppError::Forbidden("the password is wrong".into()));
    }
    if user.totp_enabled {
        let Some(code) = totp else { return Err(AppError::TotpRequired) };
        let mut tx = s.store.begin().await?;
        if verify_second_factor(s, &mut tx, user, code).await?.is_none() {
            return Err(AppError::Forbidden("the two-factor code is wrong, expired or was already used".into()));
        }
        tx.commit().await?;
    } else if password.is_none() {
        // Without 2FA there is no code to check: only the password proves anything.
        return Err(AppError::validation("password", "is required to confirm this change"));
    }
    Ok(())
}
