//! Scheduling: a post goes out at a chosen time or now, within the scheduling member's posting
//! windows and the account's pace rules; or it is cancelled. Each wakes the publishing worker.
//!
//! Decisions where the spec is silent:
//! - Scheduling is refused outside the scheduling member's windows both at the moment of
//!   asking and at the scheduled instant (DESIGN.md: "scheduling and publishing are refused"
//!   outside them; "nothing is scheduled or published outside them").
//! - The daily quota counts posts the member scheduled (see `steward_domain::pace`).
use serde::Deserialize;
use serde_json::json;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::PostId;
use steward_domain::pace;
use steward_domain::post::PostAction;
use steward_domain::status::NotificationKind;
use steward_domain::windows::{Window, parse_time_zone};
use utoipa::ToSchema;

use crate::actor::{Ctx, Principal};
use crate::authz::AccountAccess;
use crate::error::{AppError, AppResult};
use crate::notifications;
use crate::posts::rules::check_pace;
use crate::posts::view::{PostView, current};
use crate::posts::workflow::{decide, load, simple_transition, store_step, target};
use crate::services::Services;
use crate::usecase::{Audit, audited};

/// How far ahead a post may be scheduled.
pub const MAX_SCHEDULE_AHEAD_DAYS: i64 = 366;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ScheduleRequest {
    /// RFC 3339 instant, in the future.
    #[schema(format = DateTime)]
    pub at: String,
}

/// Schedules the post for `input.at`.
pub async fn schedule_post(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    post_id: &PostId,
    input: ScheduleRequest,
) -> AppResult<PostView> {
    let Ok(at) = input.at.parse::<jiff::Timestamp>() else {
        return Err(AppError::validation("at", "must be an RFC 3339 time such as 2027-01-31T17:00:00Z"));
    };
    if at <= s.clock.now() {
        return Err(AppError::validation("at", "must be in the future"));
    }
    schedule_at(s, ctx, who, post_id, Some(at), Action::PostSchedule).await
}

/// Publishes the post at once (the publishing worker takes it).
pub async fn publish_now(s: &Services, ctx: &Ctx, who: &Principal, post_id: &PostId) -> AppResult<PostView> {
    schedule_at(s, ctx, who, post_id, None, Action::PostPublishNow).await
}

/// Cancels the post. The author, or a member with `posts.publish`: the domain decides.
pub async fn cancel_post(s: &Services, ctx: &Ctx, who: &Principal, post_id: &PostId) -> AppResult<PostView> {
    let access =
        simple_transition(s, ctx, who, post_id, Capability::AccountView, PostAction::Cancel, Action::PostCancel)
            .await?;
    // The worker may have been waiting for this post: it looks again.
    s.scheduler.wake();
    current(s, &access.account, post_id).await
}

/// Schedules (or, without `at`, publishes at once) after the window and pace checks.
async fn schedule_at(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    post_id: &PostId,
    at: Option<jiff::Timestamp>,
    audit_action: Action,
) -> AppResult<PostView> {
    ctx.slot.set_action(audit_action, Some(target(post_id)));
    let (_, access) = load(s, ctx, who, post_id, Capability::PostsPublish).await?;
    let now_ts = s.clock.now();
    let now = now_ts.as_microsecond();
    let at = at.unwrap_or(now_ts);
    if at < now_ts {
        return Err(AppError::validation("at", "must be in the future"));
    }
    if at.duration_since(now_ts) > jiff::SignedDuration::from_hours(24 * MAX_SCHEDULE_AHEAD_DAYS) {
        return Err(AppError::validation("at", format!("must be within {MAX_SCHEDULE_AHEAD_DAYS} days")));
    }
    // Asking outside one's windows is refused too (DESIGN.md: scheduling outside them is).
    if !access.within_windows(now_ts) {
        return Err(AppError::OutsideWindow(
            "you may schedule and publish only inside your posting windows (in the account's time zone)".into(),
        ));
    }
    let action = if audit_action == Action::PostPublishNow {
        PostAction::PublishNow { now: at }
    } else {
        PostAction::Schedule { at }
    };
    let access = audited(s, ctx, &who.actor(), async |tx| {
        // The account lock serializes schedules of one account, so two cannot take one free slot.
        let account = tx.lock_account(&access.account.id).await?.ok_or(AppError::NotFound)?;
        let access = AccountAccess { account, ..access };
        let d = decide(tx, &access, post_id, &action, now).await?;
        let windows: Vec<Window> = access.windows()?;
        let pace = check_pace(
            tx,
            &access.account,
            &d.post.id,
            &who.user_id,
            &windows,
            access.membership.daily_quota,
            at.as_microsecond(),
        )
        .await?;
        if let Err(violation) = pace {
            let mut message = violation.to_string();
            if let pace::PaceViolation::OutsideWindow { next_window_start: Some(next) } = violation {
                message.push_str(&format!("; your next window opens at {next}"));
            }
            return Err(if violation.is_outside_window() {
                AppError::OutsideWindow(message)
            } else {
                AppError::Conflict(message)
            });
        }
        store_step(tx, &d, &who.user_id, now).await?;
        // A person reads it (page and mail): the time in the account's zone, in words.
        let when = if audit_action == Action::PostPublishNow {
            "to go out now".to_string()
        } else {
            let zone = parse_time_zone(&access.account.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
            let name = zone.iana_name().unwrap_or("UTC").to_string();
            format!("for {} ({name} time)", at.to_zoned(zone).strftime("%a %-d %b %Y, %H:%M"))
        };
        let text = format!(
            "{} scheduled your post for {} {when}: “{}”",
            who.display_name,
            notifications::account_words(&access.account),
            notifications::excerpt(&d.post.text)
        );
        notifications::tell_author(
            tx,
            &access.account,
            post_id,
            &d.post.author_id,
            Some(&who.user_id),
            NotificationKind::Scheduled,
            &text,
            now,
        )
        .await?;
        let audit = Audit::on_account(&d.post.account_id, audit_action).target(target(post_id)).detail(json!({
            "post_id": post_id,
            "version": d.post.version,
            "at": at.to_string(),
            "from_state": d.from.as_str(),
            "to_state": d.step.state.as_str(),
        }));
        Ok((access, audit))
    })
    .await?;
    notifications::mail_after_commit(s).await;
    // Something may now be due sooner than the worker thought: it looks again.
    s.scheduler.wake();
    current(s, &access.account, post_id).await
}
