//! Each person's alert delivery: by email or not, to which signed webhook, for which kinds;
//! and the webhook's secret, made when a webhook is first set and rotated on request.
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_domain::alerts::AlertKind;
use steward_domain::audit::Action;
use steward_domain::ids::UserId;
use steward_store::AlertPreferencesRow;
use utoipa::ToSchema;
use zeroize::Zeroizing;

use crate::actor::{Ctx, Principal};
use crate::error::{AppError, AppResult, FieldError};
use crate::identity::sessions::require_session;
use crate::services::Services;
use crate::usecase::{Audit, audited};
use crate::vault::webhook_secret_aad;

/// A person's alert preferences. `webhook_secret` signs webhook deliveries; the server makes it
/// when a webhook URL is first set.
#[derive(Serialize, ToSchema)]
pub struct PreferencesView {
    pub email: bool,
    pub webhook_url: Option<String>,
    /// Kinds delivered by email and webhook; absent: all (the app shows every alert).
    pub kinds: Option<Vec<String>>,
    pub webhook_secret: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesRequest {
    pub email: bool,
    /// An `https` URL (plain `http` and private addresses only with
    /// `STEWARD_ALLOW_PRIVATE_NETWORKS=true`); absent or null: no webhook.
    pub webhook_url: Option<String>,
    pub kinds: Option<Vec<String>>,
}

/// A new webhook secret: 256 random bits, hex, with a prefix that says what it is.
#[must_use]
pub fn new_webhook_secret() -> String {
    format!("whsec_{}", hex::encode(crate::crypto::random_array::<32>()))
}

fn sealed_new_secret(s: &Services, user_id: &UserId) -> Vec<u8> {
    let secret = Zeroizing::new(new_webhook_secret());
    s.vault().seal(&webhook_secret_aad(user_id), secret.as_bytes())
}

fn view(s: &Services, p: Option<AlertPreferencesRow>) -> AppResult<PreferencesView> {
    let Some(p) = p else {
        return Ok(PreferencesView { email: true, webhook_url: None, kinds: None, webhook_secret: None });
    };
    let webhook_secret = match &p.webhook_secret_sealed {
        Some(sealed) => {
            let open = s
                .vault()
                .open(&webhook_secret_aad(&p.user_id), sealed)
                .map_err(|e| AppError::internal(anyhow::anyhow!("webhook secret of {}: {e}", p.user_id)))?;
            Some(String::from_utf8_lossy(&open).into_owned())
        }
        None => None,
    };
    Ok(PreferencesView {
        email: p.email,
        webhook_url: p.webhook_url,
        kinds: p.kinds.and_then(|k| serde_json::from_str(&k).ok()),
        webhook_secret,
    })
}

/// The person's preferences (the defaults when never set: email, every kind, no webhook).
pub async fn get_preferences(s: &Services, who: &Principal) -> AppResult<PreferencesView> {
    who.require_whole_person()?;
    require_session(who)?;
    let row = s.store.alert_preferences(&who.user_id).await?;
    view(s, row)
}

/// Saves the person's preferences. A webhook URL must be reachable without leaving for a
/// private network (unless the server allows it); setting the first one makes its secret.
pub async fn put_preferences(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    input: PreferencesRequest,
) -> AppResult<PreferencesView> {
    who.require_whole_person()?;
    ctx.slot.set_action(Action::AlertPreferencesUpdate, None);
    require_session(who)?;
    let mut errors = Vec::new();
    if let Some(kinds) = &input.kinds {
        for k in kinds {
            if AlertKind::parse(k).is_none() {
                errors.push(FieldError::new("kinds", format!("{k:?} is not an alert kind")));
            }
        }
    }
    let webhook_url = match input.webhook_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(u) if u.len() > 2000 => {
            errors.push(FieldError::new("webhook_url", "must be at most 2000 characters"));
            None
        }
        Some(u) => match steward_connectors::net::check_outbound_endpoint(u, s.settings.allow_private_networks).await {
            Ok(url) => Some(url.to_string()),
            Err(e) => {
                errors.push(FieldError::new("webhook_url", e.to_string()));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let now = s.clock.now_us();
    let row = audited(s, ctx, &who.actor(), async |tx| {
        let before = s.store.alert_preferences(&who.user_id).await?;
        let previous_secret = before.as_ref().and_then(|b| b.webhook_secret_sealed.clone());
        let (webhook_secret_sealed, secret_created) = match (&webhook_url, previous_secret) {
            (None, _) => (None, false),
            (Some(_), Some(sealed)) => (Some(sealed), false),
            (Some(_), None) => (Some(sealed_new_secret(s, &who.user_id)), true),
        };
        let kinds = input.kinds.as_ref().map(|k| serde_json::to_string(k).unwrap_or_else(|_| "[]".into()));
        let row = AlertPreferencesRow {
            user_id: who.user_id.clone(),
            email: input.email,
            webhook_url: webhook_url.clone(),
            webhook_secret_sealed,
            kinds,
            updated_at: now,
        };
        tx.upsert_alert_preferences(&row).await?;
        let webhook_host = webhook_url
            .as_deref()
            .and_then(|u| reqwest::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_string));
        let audit = Audit::personal(Action::AlertPreferencesUpdate).detail(json!({
            "email": input.email, "webhook_host": webhook_host, "kinds": input.kinds,
            "webhook_secret_created": secret_created,
        }));
        Ok((row, audit))
    })
    .await?;
    view(s, Some(row))
}

/// Replaces the person's webhook secret (the old one stops verifying at once).
pub async fn rotate_secret(s: &Services, ctx: &Ctx, who: &Principal) -> AppResult<PreferencesView> {
    who.require_whole_person()?;
    ctx.slot.set_action(Action::WebhookSecretRotate, None);
    require_session(who)?;
    let Some(mut row) = s.store.alert_preferences(&who.user_id).await?.filter(|r| r.webhook_url.is_some()) else {
        return Err(AppError::Conflict("there is no webhook to sign for; set a webhook URL first".into()));
    };
    row.webhook_secret_sealed = Some(sealed_new_secret(s, &who.user_id));
    row.updated_at = s.clock.now_us();
    let row = audited(s, ctx, &who.actor(), async |tx| {
        tx.upsert_alert_preferences(&row).await?;
        Ok((row, Audit::personal(Action::WebhookSecretRotate)))
    })
    .await?;
    view(s, Some(row))
}
