//! A person's alerts: the list (newest first, or only the unread), acknowledging one or all,
//! and how many are unread.
use serde::Deserialize;
use steward_domain::audit::Action;
use steward_domain::ids::AlertId;
use utoipa::IntoParams;

use crate::actor::{Ctx, Principal};
use crate::alerts::view::{AlertAck, AlertView};
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::paging::{Page, page_limit};
use crate::services::Services;
use crate::usecase::{Audit, audited};

#[derive(Deserialize, IntoParams)]
pub struct AlertsQuery {
    /// `true`: only alerts not yet acknowledged.
    pub unacknowledged: Option<bool>,
    /// 1 to 500; default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(pattern = r"^-?[0-9]{1,18}\..+$")]
    pub cursor: Option<String>,
}

/// How many unread alerts are counted at most ("100" reads as "100 or more").
const UNREAD_COUNTED: i64 = 100;
/// Rounds of [`acknowledge_all`]: alerts raised while it runs wait for the next time.
const ACK_ALL_ROUNDS: usize = 10;

/// The alerts the person may see (their own, and those of accounts they own or administer),
/// newest first, a page at a time.
pub async fn list_alerts(s: &Services, who: &Principal, q: &AlertsQuery) -> AppResult<Page<AlertView>> {
    who.require_whole_person()?;
    let limit = page_limit(q.limit)?;
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, AlertId::from(id))))
                .ok_or_else(|| AppError::validation("cursor", "is not a cursor this server issued"))?,
        ),
    };
    let now = s.clock.now_us();
    let mut rows =
        s.store.alerts_for_user(&who.user_id, now, q.unacknowledged.unwrap_or(false), before, limit + 1).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        rows.last().map(|a| format!("{}.{}", a.created_at, a.id))
    } else {
        None
    };
    let ids: Vec<AlertId> = rows.iter().map(|a| a.id.clone()).collect();
    let acks = s.store.alert_acknowledgements(&who.user_id, &ids).await?;
    let items = rows
        .into_iter()
        .map(|row| {
            let mut view = AlertView::from(row);
            view.acknowledged_by = acks
                .iter()
                .filter(|k| k.alert_id == view.id)
                .map(|k| AlertAck {
                    user_id: k.user_id.clone(),
                    email: k.email.clone(),
                    acknowledged_at: rfc3339(k.acknowledged_at),
                })
                .collect();
            view
        })
        .collect();
    Ok(Page { items, next_cursor })
}

fn unread(limit: i64) -> AlertsQuery {
    AlertsQuery { unacknowledged: Some(true), limit: Some(limit), cursor: None }
}

/// The person's unread alerts, newest first (at most a hundred).
pub async fn unread_alerts(s: &Services, who: &Principal) -> AppResult<Vec<AlertView>> {
    Ok(list_alerts(s, who, &unread(UNREAD_COUNTED)).await?.items)
}

/// How many unread alerts the person has, counted up to a hundred (the web app's header).
pub async fn unread_count(s: &Services, who: &Principal) -> AppResult<usize> {
    Ok(unread_alerts(s, who).await?.len())
}

/// Marks one alert as read. An alert the person may not see does not exist for them.
pub async fn acknowledge(s: &Services, ctx: &Ctx, who: &Principal, alert_id: &AlertId) -> AppResult<()> {
    who.require_whole_person()?;
    ctx.slot.set_action(Action::AlertAck, Some(format!("alert:{alert_id}")));
    audited(s, ctx, &who.actor(), async |tx| {
        if !tx.acknowledge_alert(alert_id, &who.user_id, s.clock.now_us()).await? {
            return Err(AppError::NotFound);
        }
        Ok(((), Audit::personal(Action::AlertAck).target(format!("alert:{alert_id}"))))
    })
    .await
}

/// Marks every unread alert as read, each acknowledged (and recorded) on its own.
pub async fn acknowledge_all(s: &Services, ctx: &Ctx, who: &Principal) -> AppResult<()> {
    who.require_whole_person()?;
    for _ in 0..ACK_ALL_ROUNDS {
        let alerts = unread_alerts(s, who).await?;
        if alerts.is_empty() {
            break;
        }
        for a in alerts {
            match acknowledge(s, ctx, who, &a.id).await {
                // Acknowledged in the meantime (another tab): nothing to do.
                Ok(()) | Err(AppError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
