//! Bluesky connects with an app password, not an OAuth page: Steward signs in to the account's
//! PDS first, so a wrong password is refused before anything is stored.
use zeroize::Zeroizing;

use crate::credentials;
use crate::error::{AppError, AppResult};
use crate::services::Services;

/// A Bluesky account Steward could sign in to: who the PDS says it is, and the credential to
/// seal (the app password and the session).
pub struct SignedIn {
    pub handle: String,
    pub display_name: String,
    pub credential: Zeroizing<Vec<u8>>,
}

/// Signs in with `{identifier, app_password, service?}`.
pub async fn sign_in_with_app_password(s: &Services, given: &serde_json::Value) -> AppResult<SignedIn> {
    let (cred, identity) = credentials::bluesky_sign_in(s, given).await?;
    let credential = Zeroizing::new(serde_json::to_vec(&cred).map_err(AppError::internal)?);
    Ok(SignedIn { handle: identity.handle, display_name: identity.display_name, credential })
}
