//! The signed-in person as they see themselves: who they are, and how many recovery codes
//! remain when two-factor sign-in is on.
use crate::actor::Principal;
use crate::clock::rfc3339;
use crate::error::AppResult;
use crate::identity::view::UserView;
use crate::services::Services;

/// The person behind a request.
#[derive(Debug)]
pub struct Me {
    pub user: UserView,
    /// How many unused recovery codes remain (2FA on only).
    pub recovery_codes_left: Option<i64>,
}

/// Who is signed in. Everything but the recovery-code count came with authentication: one
/// query per request, and none without 2FA.
pub async fn me(s: &Services, who: &Principal) -> AppResult<Me> {
    let recovery_codes_left =
        if who.totp_enabled { Some(s.store.unused_recovery_code_count(&who.user_id).await?) } else { None };
    let user = UserView {
        id: who.user_id.clone(),
        email: who.email.clone(),
        display_name: who.display_name.clone(),
        totp_enabled: who.totp_enabled,
        created_at: rfc3339(who.user_created_at),
    };
    Ok(Me { user, recovery_codes_left })
}
