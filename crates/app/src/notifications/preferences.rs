//! Each person's notification preferences: mail for each notification (on unless turned off)
//! and the daily digest of the accounts they own (off unless turned on).
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_domain::audit::Action;
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::error::AppResult;
use crate::services::Services;
use crate::usecase::{Audit, audited};

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NotificationPreferences {
    /// Mail each notification too (when the server has mail). Default `true`.
    pub email: bool,
    /// Once a day, mail a digest of the accounts the person owns. Default `false`.
    pub daily_digest: bool,
}

impl Default for NotificationPreferences {
    fn default() -> Self {
        NotificationPreferences { email: true, daily_digest: false }
    }
}

/// The person's preferences (the defaults until they change them).
pub async fn get_preferences(s: &Services, who: &Principal) -> AppResult<NotificationPreferences> {
    who.require_whole_person()?;
    Ok(s.store.notification_preferences(&who.user_id).await?.map_or_else(NotificationPreferences::default, |p| {
        NotificationPreferences { email: p.email, daily_digest: p.daily_digest }
    }))
}

/// Saves the person's preferences.
pub async fn put_preferences(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    input: NotificationPreferences,
) -> AppResult<NotificationPreferences> {
    who.require_whole_person()?;
    ctx.slot.set_action(Action::NotificationPreferencesUpdate, None);
    audited(s, ctx, &who.actor(), async |tx| {
        tx.put_notification_preferences(&who.user_id, input.email, input.daily_digest, s.clock.now_us()).await?;
        let audit = Audit::personal(Action::NotificationPreferencesUpdate)
            .detail(json!({ "email": input.email, "daily_digest": input.daily_digest }));
        Ok((input, audit))
    })
    .await
}
