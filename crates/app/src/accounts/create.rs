//! Connecting an account with credentials (the sandbox, Bluesky's app password): validated,
//! the credential sealed under a fresh data key, the account and its owner stored.
use serde::Deserialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::ids::AccountId;
use steward_domain::platform::{self, ConnectMethod};
use steward_domain::windows::parse_time_zone;
use steward_store::NewAccount;
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::accounts::view::{AccountView, fresh_view};
use crate::actor::{Ctx, Principal};
use crate::connect::bluesky;
use crate::error::{AppError, AppResult, FieldError};
use crate::services::Services;
use crate::usecase::{Audit, audited};

#[derive(Deserialize, ToSchema)]
pub struct CreateAccountRequest {
    /// A platform connected with credentials rather than a sign-in page: `bluesky` or `sandbox`.
    #[schema(pattern = "^(bluesky|sandbox)$")]
    pub platform: String,
    /// The platform's kind of account (`GET /api/v1/platforms`); default its first.
    pub account_kind: Option<String>,
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = "^[!-~]")]
    pub handle: String,
    pub display_name: Option<String>,
    /// IANA time zone for schedules and windows; default UTC.
    pub time_zone: Option<String>,
    /// Platform credentials, sealed at rest and never returned (sandbox: any JSON object).
    #[schema(value_type = Object)]
    pub credentials: serde_json::Value,
}

/// Connects a new account owned by `who`, with the credential given.
pub async fn create_account(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    input: CreateAccountRequest,
) -> AppResult<AccountView> {
    ctx.slot.set_action(Action::AccountCreate, None);
    // A new account belongs to the whole person: a token narrowed to some accounts, or to some
    // capabilities (an analytics key, a drafting agent), does not create one.
    who.require_whole_person()?;
    let mut errors = Vec::new();
    let platform = platform::platform(&input.platform);
    let kind = platform.and_then(|p| platform::account_kind(p, input.account_kind.as_deref()));
    match (platform, kind) {
        (None, _) => {
            errors.push(FieldError::new("platform", "is not a platform Steward knows (see GET /api/v1/platforms)"))
        }
        (Some(_), None) => errors.push(FieldError::new("account_kind", "is not a kind of account of this platform")),
        (Some(p), Some(_)) if p.connect == ConnectMethod::Oauth => errors
            .push(FieldError::new("platform", "connects through its sign-in page: use POST /api/v1/accounts/connect")),
        (Some(p), Some(_)) if p.id != "sandbox" && p.id != "bluesky" => {
            errors.push(FieldError::new("platform", "cannot be connected on this server yet"))
        }
        _ => {}
    }
    let handle = input.handle.trim();
    if handle.is_empty() || handle.chars().count() > 100 {
        errors.push(FieldError::new("handle", "must be 1 to 100 characters"));
    }
    let display_name = input.display_name.as_deref().map(str::trim).filter(|d| !d.is_empty()).unwrap_or(handle);
    if display_name.chars().count() > 100 {
        errors.push(FieldError::new("display_name", "must be at most 100 characters"));
    }
    let raw_zone = input.time_zone.clone().unwrap_or_else(|| "UTC".into());
    // Stored in the database's own spelling ("europe/paris" becomes "Europe/Paris").
    let time_zone = match parse_time_zone(&raw_zone) {
        Ok(tz) => tz.iana_name().unwrap_or(&raw_zone).to_string(),
        Err(e) => {
            errors.push(FieldError::new("time_zone", e.to_string()));
            raw_zone
        }
    };
    if !input.credentials.is_object() {
        errors.push(FieldError::new("credentials", "must be a JSON object"));
    }
    let (Some(platform), Some(kind)) = (platform, kind) else { return Err(AppError::Validation(errors)) };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let id = AccountId::new(uuid::Uuid::now_v7().to_string());
    // Bluesky: the app password must work before anything is stored; the handle and name then
    // come from the PDS, not from the request.
    let (handle, display_name, plaintext) = if platform.id == "bluesky" {
        let signed_in = bluesky::sign_in_with_app_password(s, &input.credentials).await?;
        (signed_in.handle, signed_in.display_name, signed_in.credential)
    } else {
        (
            handle.to_string(),
            display_name.to_string(),
            Zeroizing::new(serde_json::to_vec(&input.credentials).map_err(AppError::internal)?),
        )
    };
    // A fresh data key for this account: the credential is sealed under it, and it is stored
    // wrapped by the master key.
    let sealed = s.vault().seal_new_credential(&id, &plaintext);
    drop(plaintext);
    let now = s.clock.now_us();
    audited(s, ctx, &who.actor(), async |tx| {
        tx.insert_account(NewAccount {
            id: &id,
            platform: platform.id,
            account_kind: kind.id,
            handle: &handle,
            display_name: &display_name,
            owner_id: &who.user_id,
            time_zone: &time_zone,
            max_members: kind.default_max_members,
            owner_approval_required: kind.owner_approval_required,
            credential_sealed: None,
            now,
        })
        .await?;
        tx.set_account_credential(&id, &sealed.wrapped_data_key, &sealed.credential, now).await?;
        let audit = Audit::on_account(&id, Action::AccountCreate)
            .target(format!("account:{id}"))
            .detail(json!({ "platform": platform.id, "account_kind": kind.id, "handle": handle }));
        Ok(((), audit))
    })
    .await?;
    fresh_view(s, who, &id).await
}
