//! A person's notifications: the list (newest first, or only the unread), marking one read, and
//! how many are unread (the web app's header). Only notifications of accounts the person is
//! still a live member of are ever shown.
use serde::{Deserialize, Serialize};
use steward_domain::audit::Action;
use steward_domain::ids::{AccountId, NotificationId, PostId};
use steward_domain::status::NotificationKind;
use steward_store::NotificationRow;
use utoipa::{IntoParams, ToSchema};

use crate::actor::{Ctx, Principal};
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult};
use crate::paging::{Page, page_limit};
use crate::services::Services;
use crate::usecase::{Audit, audited};

#[derive(Deserialize, IntoParams)]
pub struct NotificationsQuery {
    /// `true`: only notifications not yet read.
    pub unread: Option<bool>,
    /// 1 to 500; default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(pattern = r"^-?[0-9]{1,18}\..+$")]
    pub cursor: Option<String>,
}

/// One notification.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Notification)]
pub struct NotificationView {
    #[schema(value_type = String)]
    pub id: NotificationId,
    /// `review_requested`, `approved`, `changes_requested`, `scheduled`, `published`, `held` or `failed`.
    #[schema(value_type = String)]
    pub kind: NotificationKind,
    #[schema(value_type = Option<String>)]
    pub post_id: Option<PostId>,
    #[schema(value_type = String)]
    pub account_id: AccountId,
    /// What happened, as a sentence.
    pub text: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the person marked it read; `null` while unread.
    #[schema(format = DateTime)]
    pub read_at: Option<String>,
}

impl From<NotificationRow> for NotificationView {
    fn from(n: NotificationRow) -> Self {
        NotificationView {
            id: n.id,
            kind: n.kind,
            post_id: n.post_id,
            account_id: n.account_id,
            text: n.text,
            created_at: rfc3339(n.created_at),
            read_at: n.read_at.map(rfc3339),
        }
    }
}

/// How many unread notifications are counted at most ("100" reads as "100 or more").
pub const UNREAD_COUNTED: i64 = 100;

/// The person's notifications, newest first, a page at a time.
pub async fn list_notifications(
    s: &Services,
    who: &Principal,
    q: &NotificationsQuery,
) -> AppResult<Page<NotificationView>> {
    who.require_whole_person()?;
    let limit = page_limit(q.limit)?;
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, NotificationId::from(id))))
                .ok_or_else(|| AppError::validation("cursor", "is not a cursor this server issued"))?,
        ),
    };
    let mut rows = s
        .store
        .notifications_for_user(&who.user_id, s.clock.now_us(), q.unread.unwrap_or(false), before, limit + 1)
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        rows.last().map(|n| format!("{}.{}", n.created_at, n.id))
    } else {
        None
    };
    Ok(Page { items: rows.into_iter().map(NotificationView::from).collect(), next_cursor })
}

/// How many unread notifications the person has, counted up to a hundred.
pub async fn unread_count(s: &Services, who: &Principal) -> AppResult<i64> {
    if who.require_whole_person().is_err() {
        return Ok(0);
    }
    Ok(s.store.unread_notification_count(&who.user_id, s.clock.now_us(), UNREAD_COUNTED).await?)
}

/// Marks one of the person's own notifications read. Anyone else's, or one about an account
/// they no longer belong to, does not exist for them.
pub async fn mark_read(s: &Services, ctx: &Ctx, who: &Principal, id: &NotificationId) -> AppResult<()> {
    who.require_whole_person()?;
    ctx.slot.set_action(Action::NotificationRead, Some(format!("notification:{id}")));
    audited(s, ctx, &who.actor(), async |tx| {
        if !tx.mark_notification_read(id, &who.user_id, s.clock.now_us()).await? {
            return Err(AppError::NotFound);
        }
        Ok(((), Audit::personal(Action::NotificationRead).target(format!("notification:{id}"))))
    })
    .await
}
