//! "Test connection": opens the account's stored credential and asks the platform whom it
//! belongs to; the answer is recorded.
use serde::Serialize;
use serde_json::json;
use steward_connectors::ConnectorError;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::AccountId;
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::clock::rfc3339;
use crate::credentials::{self, CredentialError};
use crate::error::{AppError, AppResult};
use crate::platforms::rate_limited;
use crate::services::Services;
use crate::usecase::{Audit, audited};

#[derive(Serialize, ToSchema)]
pub struct CheckIdentityView {
    pub handle: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckView {
    /// `active` when the stored credential works; `needs_reconnect` when the platform refused it
    /// for good (the owner must connect the account again).
    pub status: &'static str,
    pub checked_at: String,
    pub identity: Option<CheckIdentityView>,
}

/// Checks the account's connection. The sandbox platform has no remote end: a credential that
/// opens is a working one.
pub async fn check_account(s: &Services, ctx: &Ctx, who: &Principal, account_id: &AccountId) -> AppResult<CheckView> {
    let id = account_id;
    ctx.slot.set_action(Action::AccountCheck, Some(format!("account:{id}")));
    let access = authorize(s, ctx, who, id, Need::Capability(Capability::SettingsManage)).await?;
    let platform = access.account.platform.as_str();
    let (status, identity, checked_at) = match platform {
        "linkedin" | "tiktok" | "mastodon" | "bluesky" => {
            let now = s.clock.now_us();
            let checked = if platform == "bluesky" {
                credentials::bluesky_check(s, id).await
            } else {
                credentials::check_identity(s, id, platform).await
            };
            match checked {
                Ok(identity) => ("active", Some(CheckIdentityView { handle: identity.handle }), now),
                Err(CredentialError::NeedsReconnect) => ("needs_reconnect", None, now),
                Err(
                    e @ (CredentialError::AccountNotFound
                    | CredentialError::NotStored
                    | CredentialError::Unreadable(_)
                    | CredentialError::Store(_)),
                ) => return Err(e.into()),
                Err(CredentialError::Platform(ConnectorError::RateLimited { retry_after })) => {
                    return Err(rate_limited(platform, retry_after, now));
                }
                Err(CredentialError::Platform(e)) => {
                    return Err(AppError::PlatformUnavailable(format!("{platform} could not be checked: {e}")));
                }
            }
        }
        "sandbox" => {
            open_sandbox_credential(s, id).await?;
            ("active", Some(CheckIdentityView { handle: access.account.handle.clone() }), s.clock.now_us())
        }
        _ => {
            return Err(AppError::Conflict(
                "checking this platform's connection is not available on this server yet".into(),
            ));
        }
    };
    audited(s, ctx, &who.actor(), async |_tx| {
        let audit = Audit::on_account(id, Action::AccountCheck)
            .target(format!("account:{id}"))
            .detail(json!({ "status": status }));
        Ok(((), audit))
    })
    .await?;
    Ok(CheckView { status, checked_at: rfc3339(checked_at), identity })
}

/// The sandbox's "identity call": the stored credential must open, and be the JSON object it was.
async fn open_sandbox_credential(s: &Services, id: &AccountId) -> AppResult<()> {
    let row = s.store.sealed_credential(id).await?.ok_or(AppError::NotFound)?;
    let Some(sealed) = row.credential_sealed.as_deref() else {
        return Err(AppError::Conflict("this account has no stored credential; connect it again".into()));
    };
    let credential = s
        .vault()
        .open_stored_credential(id, row.wrapped_data_key.as_deref(), sealed)
        .map_err(|e| AppError::internal(anyhow::anyhow!("account {id}: {e}")))?;
    let valid = serde_json::from_slice::<serde_json::Value>(&credential).is_ok_and(|v| v.is_object());
    drop(credential);
    if !valid {
        return Err(AppError::internal(anyhow::anyhow!("account {id}: the opened credential is not a JSON object")));
    }
    Ok(())
}
