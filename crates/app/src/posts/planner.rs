//! The planning calendar across a person's accounts: the posts with a time in a range (scheduled,
//! publishing, published, failed, held where they were held, and posts not yet scheduled at
//! their planned time) and the posts with no time yet (drafts, in review, approved), each
//! account authorized on its own.
//!
//! Decisions where the spec is silent:
//! - Only accounts where the person may read posts (`account.view`, house rules accepted) are
//!   read; the others are left out without an error, as they are from a list of accounts. A
//!   narrowed access token reaches only its accounts, as everywhere.
//! - Posts with no time are the most recently changed first, at most [`UNTIMED_PER_STATE`] of
//!   each state per account: the posts page of the account lists all of them.
use steward_domain::capability::Capability;
use steward_domain::ids::AccountId;
use steward_domain::post::PostState;
use steward_store::{AccountRow, CalendarPostRow, PostListQuery, PostRow};

use crate::actor::{Ctx, Principal};
use crate::authz::{AccountAccess, Need, authorize};
use crate::error::{AppError, AppResult};
use crate::services::Services;

/// How many posts of one state with no time the calendar reads per account.
pub const UNTIMED_PER_STATE: i64 = 10;

/// An account on the calendar, with what the person may do there.
#[derive(Debug, Clone)]
pub struct PlannerAccount {
    pub account: AccountRow,
    /// Shown now (the filter chose it, or there is no filter).
    pub shown: bool,
    pub may_draft: bool,
    pub may_schedule: bool,
}

/// A post with a time, on its account.
#[derive(Debug, Clone)]
pub struct TimedPost {
    pub account_id: AccountId,
    pub post: CalendarPostRow,
}

impl TimedPost {
    /// Where it sits: when it is due or went out, where it was held, or where it is planned.
    #[must_use]
    pub fn at(&self) -> Option<i64> {
        let p = &self.post;
        p.scheduled_at.or_else(|| if p.hold_reason.is_some() { Some(p.updated_at) } else { p.planned_for })
    }

    /// Not scheduled yet, shown at its planned time.
    #[must_use]
    pub fn planned(&self) -> bool {
        self.post.scheduled_at.is_none() && self.post.hold_reason.is_none() && self.post.planned_for.is_some()
    }
}

#[derive(Debug, Clone)]
pub struct Planner {
    /// Every account the person may read posts on, shown or not (for the filter).
    pub accounts: Vec<PlannerAccount>,
    pub timed: Vec<TimedPost>,
    /// Drafts, posts in review and approved posts not scheduled, newest change first.
    pub untimed: Vec<PostRow>,
}

/// One account's calendar between `from` and `to` (microseconds): the same timed posts as
/// [`planner`] shows for it, planned drafts included, so the two calendars never disagree.
pub async fn account_calendar(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    id: &AccountId,
    from: i64,
    to: i64,
) -> AppResult<(AccountAccess, Vec<TimedPost>)> {
    if to <= from {
        return Err(AppError::validation("date", "must give a range that ends after it starts"));
    }
    let access = authorize(s, ctx, who, id, Need::Capability(Capability::AccountView)).await?;
    let mut rows = s.store.calendar_posts(id, from, to).await?;
    rows.extend(s.store.planned_posts(id, from, to).await?);
    let timed = rows.into_iter().map(|post| TimedPost { account_id: id.clone(), post }).collect();
    Ok((access, timed))
}

/// The calendar between `from` and `to` (microseconds), over the person's accounts, or only
/// those in `only` when it names any.
pub async fn planner(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    only: &[AccountId],
    from: i64,
    to: i64,
) -> AppResult<Planner> {
    if to <= from {
        return Err(AppError::validation("date", "must give a range that ends after it starts"));
    }
    let mut accounts = Vec::new();
    let mut timed = Vec::new();
    let mut untimed = Vec::new();
    for (account, _) in s.store.accounts_of_user(&who.user_id).await? {
        if who.token_accounts.as_ref().is_some_and(|ids| !ids.contains(&account.id)) {
            continue;
        }
        let access = match authorize(s, ctx, who, &account.id, Need::Capability(Capability::AccountView)).await {
            Ok(a) => a,
            // Not readable now (suspended, expired, rules not accepted, removed meanwhile).
            Err(
                AppError::Forbidden(_)
                | AppError::ForbiddenAs { .. }
                | AppError::NotFound
                | AppError::NotFoundDenied(_)
                | AppError::RulesNotAccepted,
            ) => continue,
            Err(e) => return Err(e),
        };
        let shown = only.is_empty() || only.contains(&account.id);
        if shown {
            let id = &access.account.id;
            let mut rows = s.store.calendar_posts(id, from, to).await?;
            rows.extend(s.store.planned_posts(id, from, to).await?);
            timed.extend(rows.into_iter().map(|post| TimedPost { account_id: id.clone(), post }));
            for state in [PostState::Draft, PostState::InReview, PostState::Approved] {
                let rows = s
                    .store
                    .list_posts(
                        id,
                        &PostListQuery {
                            state: Some(state.as_str()),
                            author_id: None,
                            before: None,
                            limit: UNTIMED_PER_STATE,
                            changes_requested: false,
                            held: false,
                        },
                    )
                    .await?;
                // A held post sits in the calendar where it was held.
                untimed.extend(rows.into_iter().filter(|p| p.scheduled_at.is_none() && p.hold_reason.is_none()));
            }
        }
        accounts.push(PlannerAccount {
            shown,
            may_draft: access.has(Capability::DraftsCreate),
            may_schedule: access.has(Capability::PostsPublish),
            account: access.account,
        });
    }
    untimed.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then_with(|| b.id.cmp(&a.id)));
    Ok(Planner { accounts, timed, untimed })
}
