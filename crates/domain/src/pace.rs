//! Pace rules for one publishing instant (Invariant 5): the scheduling member's posting windows
//! and daily quota, and the account's `min_gap_minutes` and `max_posts_per_day`, checked
//! against the account's other posts that hold a publishing slot (scheduled, publishing or
//! published). Pure, so that the API checks it when a post is scheduled and the scheduler
//! checks it again, with the rules as they are then, when the post is due.
//!
//! Decisions where DESIGN.md is silent:
//! - "Day" is the calendar day in the account's time zone that contains the candidate
//!   instant: 23 or 25 hours long on daylight-saving days ([`local_day_bounds`]).
//! - The daily quota counts the posts the member scheduled (their `scheduled_by`), not the
//!   ones they wrote: the quota limits what a member puts out, and putting out is scheduling.
//! - Two posts exactly `min_gap_minutes` apart are fine; closer is refused, before or after.
//! - The first rule broken is reported, in this order: window, daily quota, gap, daily maximum.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::post::HoldReason;
use crate::windows::{Window, is_within_windows, local_day_bounds, next_window_start};

/// The account's pace settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountPace {
    /// Minimum time between two of the account's posts; 0: no minimum.
    pub min_gap_minutes: u32,
    /// At most this many posts per local day; `None`: no limit.
    pub max_posts_per_day: Option<u32>,
}

/// The scheduling member's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemberPace<'a> {
    /// No windows: no restriction.
    pub windows: &'a [Window],
    /// At most this many posts scheduled by this member per local day; `None`: no limit.
    pub daily_quota: Option<u32>,
}

/// Another post of the account holding a publishing slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// When it went out, or when it is due.
    pub at: Timestamp,
    /// Whether the member now scheduling also scheduled this one (it counts against their quota).
    pub by_member: bool,
}

/// The rule a candidate instant breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum PaceViolation {
    #[error("this time is outside your posting windows")]
    OutsideWindow {
        /// The next instant inside a window, if there is one within two weeks.
        next_window_start: Option<Timestamp>,
    },
    #[error("you have already scheduled your daily quota of {quota} posts for that day")]
    DailyQuotaExceeded { quota: u32 },
    #[error("another post of this account goes out at {conflicting}, less than {min_gap_minutes} minutes away")]
    MinGap { min_gap_minutes: u32, conflicting: Timestamp },
    #[error("this account already has its maximum of {max} posts for that day")]
    MaxPostsPerDay { max: u32 },
}

impl PaceViolation {
    /// What the scheduler records when a due post breaks this rule.
    #[must_use]
    pub const fn hold_reason(&self) -> HoldReason {
        match self {
            PaceViolation::OutsideWindow { .. } => HoldReason::OutsideWindow,
            PaceViolation::DailyQuotaExceeded { .. } => HoldReason::DailyQuotaExceeded,
            PaceViolation::MinGap { .. } | PaceViolation::MaxPostsPerDay { .. } => HoldReason::PaceExceeded,
        }
    }

    /// Whether this is a posting-window refusal (API: 403 `outside-window`) rather than a
    /// pace conflict with other posts (API: 409 `conflict`).
    #[must_use]
    pub const fn is_outside_window(&self) -> bool {
        matches!(self, PaceViolation::OutsideWindow { .. })
    }
}

fn gap(account: &AccountPace) -> SignedDuration {
    SignedDuration::from_mins(i64::from(account.min_gap_minutes))
}

/// The range `[from, to)` of instants whose slots can matter for `candidate`: its local day,
/// widened by the minimum gap on both sides. Load the other posts in this range.
#[must_use]
pub fn relevant_range(account: &AccountPace, time_zone: &TimeZone, candidate: Timestamp) -> (Timestamp, Timestamp) {
    let (day_start, day_end) = local_day_bounds(time_zone, candidate);
    let gap = gap(account);
    let before = candidate.checked_sub(gap).unwrap_or(Timestamp::MIN);
    let after =
        candidate.checked_add(gap).and_then(|t| t.checked_add(SignedDuration::from_nanos(1))).unwrap_or(Timestamp::MAX);
    (before.min(day_start), after.max(day_end))
}

/// Checks whether a post may go out at `candidate`, given the account's other slots.
/// `others` may include slots outside [`relevant_range`]; they are ignored where irrelevant.
pub fn check(
    account: &AccountPace,
    member: &MemberPace<'_>,
    time_zone: &TimeZone,
    candidate: Timestamp,
    others: &[Slot],
) -> Result<(), PaceViolation> {
    if !is_within_windows(member.windows, time_zone, candidate) {
        return Err(PaceViolation::OutsideWindow {
            next_window_start: next_window_start(member.windows, time_zone, candidate),
        });
    }
    let (day_start, day_end) = local_day_bounds(time_zone, candidate);
    let same_day: Vec<&Slot> = others.iter().filter(|slot| day_start <= slot.at && slot.at < day_end).collect();
    if let Some(quota) = member.daily_quota {
        let mine = same_day.iter().filter(|slot| slot.by_member).count();
        if mine >= quota as usize {
            return Err(PaceViolation::DailyQuotaExceeded { quota });
        }
    }
    let gap = gap(account);
    if !gap.is_zero()
        && let Some(conflicting) = others
            .iter()
            .filter(|slot| candidate.duration_since(slot.at).abs() < gap)
            .min_by_key(|slot| candidate.duration_since(slot.at).abs())
    {
        return Err(PaceViolation::MinGap { min_gap_minutes: account.min_gap_minutes, conflicting: conflicting.at });
    }
    if let Some(max) = account.max_posts_per_day
        && same_day.len() >= max as usize
    {
        return Err(PaceViolation::MaxPostsPerDay { max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windows::{WindowInput, parse_time_zone, parse_windows};

    fn tz(name: &str) -> TimeZone {
        parse_time_zone(name).expect("time zone")
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn windows(days: &[&str], start: &str, end: &str) -> Vec<Window> {
        parse_windows(&[WindowInput {
            days: days.iter().map(|d| (*d).to_string()).collect(),
            start: start.into(),
            end: end.into(),
        }])
        .expect("windows")
    }

    fn slot(at: &str, by_member: bool) -> Slot {
        Slot { at: ts(at), by_member }
    }

    const FREE: MemberPace<'static> = MemberPace { windows: &[], daily_quota: None };

    #[test]
    fn no_rules_allow_anything() {
        let others = [slot("2026-11-23T09:00:00Z", true), slot("2026-11-23T09:00:00Z", false)];
        assert_eq!(check(&AccountPace::default(), &FREE, &tz("UTC"), ts("2026-11-23T09:00:00Z"), &others), Ok(()));
    }

    #[test]
    fn windows_are_checked_in_the_accounts_zone() {
        let week = windows(&["mon", "tue", "wed", "thu", "fri"], "09:00", "17:00");
        let member = MemberPace { windows: &week, daily_quota: None };
        let paris = tz("Europe/Paris");
        // Monday 2026-11-23 (UTC+1): 08:00Z is 09:00 local, inside; 16:00Z is 17:00, outside.
        assert_eq!(check(&AccountPace::default(), &member, &paris, ts("2026-11-23T08:00:00Z"), &[]), Ok(()));
        let late = check(&AccountPace::default(), &member, &paris, ts("2026-11-23T16:00:00Z"), &[]);
        assert_eq!(
            late,
            Err(PaceViolation::OutsideWindow { next_window_start: Some(ts("2026-11-24T08:00:00Z")) }),
            "names the next opening: Tuesday 09:00 local"
        );
        let saturday = check(&AccountPace::default(), &member, &paris, ts("2026-11-28T10:00:00Z"), &[]);
        assert!(matches!(saturday, Err(v) if v.is_outside_window() && v.hold_reason() == HoldReason::OutsideWindow));
    }

    #[test]
    fn a_spring_forward_gap_is_inside_no_window() {
        // Europe/Paris jumps from 02:00 to 03:00 on Sunday 2027-03-28: 02:00–03:00 never happens.
        let night = windows(&["sun"], "02:00", "03:00");
        let member = MemberPace { windows: &night, daily_quota: None };
        let paris = tz("Europe/Paris");
        for instant in ["2027-03-28T00:59:59Z", "2027-03-28T01:00:00Z", "2027-03-28T01:30:00Z"] {
            assert!(
                check(&AccountPace::default(), &member, &paris, ts(instant), &[]).is_err(),
                "{instant} is outside the swallowed window"
            );
        }
        // The following Sunday has the window again.
        assert_eq!(check(&AccountPace::default(), &member, &paris, ts("2027-04-04T00:30:00Z"), &[]), Ok(()));
    }

    #[test]
    fn a_fall_back_overlap_is_inside_twice() {
        // Europe/Paris repeats 02:00–03:00 on Sunday 2026-10-25 (first at UTC+2, then at UTC+1).
        let night = windows(&["sun"], "02:00", "03:00");
        let member = MemberPace { windows: &night, daily_quota: None };
        let paris = tz("Europe/Paris");
        assert_eq!(check(&AccountPace::default(), &member, &paris, ts("2026-10-25T00:30:00Z"), &[]), Ok(()));
        assert_eq!(check(&AccountPace::default(), &member, &paris, ts("2026-10-25T01:30:00Z"), &[]), Ok(()));
        assert!(check(&AccountPace::default(), &member, &paris, ts("2026-10-25T02:00:00Z"), &[]).is_err());
    }

    #[test]
    fn the_daily_quota_counts_the_members_own_slots_of_that_local_day() {
        let member = MemberPace { windows: &[], daily_quota: Some(2) };
        let paris = tz("Europe/Paris");
        let candidate = ts("2026-11-23T12:00:00Z");
        let others = [
            slot("2026-11-23T08:00:00Z", true),
            // Someone else's: not counted.
            slot("2026-11-23T09:00:00Z", false),
            // 23:30Z on the 22nd is 00:30 on the 23rd in Paris: the same local day.
            slot("2026-11-22T23:30:00Z", true),
        ];
        assert_eq!(
            check(&AccountPace::default(), &member, &paris, candidate, &others),
            Err(PaceViolation::DailyQuotaExceeded { quota: 2 })
        );
        // 22:30Z on the 22nd is 23:30 on the 22nd in Paris: another day.
        let others = [slot("2026-11-23T08:00:00Z", true), slot("2026-11-22T22:30:00Z", true)];
        assert_eq!(check(&AccountPace::default(), &member, &paris, candidate, &others), Ok(()));
        let none = MemberPace { windows: &[], daily_quota: Some(0) };
        assert!(
            matches!(check(&AccountPace::default(), &none, &paris, candidate, &[]), Err(v) if v.hold_reason() == HoldReason::DailyQuotaExceeded)
        );
    }

    #[test]
    fn a_25_hour_day_is_one_day_for_quotas() {
        // 2026-10-25 in Paris runs from 2026-10-24T22:00Z to 2026-10-25T23:00Z (25 hours).
        let member = MemberPace { windows: &[], daily_quota: Some(1) };
        let account = AccountPace { min_gap_minutes: 0, max_posts_per_day: Some(1) };
        let paris = tz("Europe/Paris");
        let early = [slot("2026-10-24T22:10:00Z", true)];
        assert_eq!(
            check(&account, &member, &paris, ts("2026-10-25T22:50:00Z"), &early),
            Err(PaceViolation::DailyQuotaExceeded { quota: 1 })
        );
        let other = [slot("2026-10-24T22:10:00Z", false)];
        assert_eq!(
            check(&account, &FREE, &paris, ts("2026-10-25T22:50:00Z"), &other),
            Err(PaceViolation::MaxPostsPerDay { max: 1 })
        );
        // An hour later it is the 26th in Paris.
        assert_eq!(check(&account, &member, &paris, ts("2026-10-25T23:00:00Z"), &early), Ok(()));
    }

    #[test]
    fn a_23_hour_day_is_one_day_for_quotas() {
        // 2027-03-28 in Paris runs from 2027-03-27T23:00Z to 2027-03-28T22:00Z (23 hours).
        let account = AccountPace { min_gap_minutes: 0, max_posts_per_day: Some(1) };
        let paris = tz("Europe/Paris");
        let first = [slot("2027-03-27T23:00:00Z", false)];
        assert!(check(&account, &FREE, &paris, ts("2027-03-28T21:59:00Z"), &first).is_err());
        assert_eq!(check(&account, &FREE, &paris, ts("2027-03-28T22:00:00Z"), &first), Ok(()));
        assert_eq!(check(&account, &FREE, &paris, ts("2027-03-27T22:59:00Z"), &first), Ok(()));
    }

    #[test]
    fn the_minimum_gap_applies_before_and_after() {
        let account = AccountPace { min_gap_minutes: 60, max_posts_per_day: None };
        let utc = tz("UTC");
        let others = [slot("2026-11-23T10:00:00Z", false)];
        for (candidate, ok) in [
            ("2026-11-23T08:59:59Z", true),
            ("2026-11-23T09:00:00Z", true),
            ("2026-11-23T09:00:01Z", false),
            ("2026-11-23T10:00:00Z", false),
            ("2026-11-23T10:59:59Z", false),
            ("2026-11-23T11:00:00Z", true),
        ] {
            let result = check(&account, &FREE, &utc, ts(candidate), &others);
            assert_eq!(result.is_ok(), ok, "{candidate}: {result:?}");
            if let Err(violation) = result {
                assert_eq!(
                    violation,
                    PaceViolation::MinGap { min_gap_minutes: 60, conflicting: ts("2026-11-23T10:00:00Z") }
                );
                assert_eq!(violation.hold_reason(), HoldReason::PaceExceeded);
                assert!(!violation.is_outside_window());
            }
        }
    }

    #[test]
    fn the_minimum_gap_crosses_midnight() {
        let account = AccountPace { min_gap_minutes: 30, max_posts_per_day: None };
        let others = [slot("2026-11-23T23:50:00Z", false)];
        assert!(check(&account, &FREE, &tz("UTC"), ts("2026-11-24T00:10:00Z"), &others).is_err());
        let (from, to) = relevant_range(&account, &tz("UTC"), ts("2026-11-24T00:10:00Z"));
        assert!(from <= ts("2026-11-23T23:50:00Z") && to > ts("2026-11-24T00:40:00Z"));
    }

    #[test]
    fn the_daily_maximum_counts_every_slot_of_the_local_day() {
        let account = AccountPace { min_gap_minutes: 0, max_posts_per_day: Some(2) };
        let new_york = tz("America/New_York");
        let candidate = ts("2026-11-23T15:00:00Z");
        // 03:00Z on the 23rd is 22:00 on the 22nd in New York: another day.
        let others = [slot("2026-11-23T03:00:00Z", false), slot("2026-11-23T14:00:00Z", true)];
        assert_eq!(check(&account, &FREE, &new_york, candidate, &others), Ok(()));
        let others = [slot("2026-11-23T06:00:00Z", false), slot("2026-11-23T14:00:00Z", true)];
        assert_eq!(
            check(&account, &FREE, &new_york, candidate, &others),
            Err(PaceViolation::MaxPostsPerDay { max: 2 })
        );
    }

    #[test]
    fn the_first_broken_rule_is_reported() {
        let week = windows(&["mon"], "09:00", "10:00");
        let member = MemberPace { windows: &week, daily_quota: Some(1) };
        let account = AccountPace { min_gap_minutes: 120, max_posts_per_day: Some(1) };
        let utc = tz("UTC");
        let others = [slot("2026-11-23T09:10:00Z", true)];
        let outside = check(&account, &member, &utc, ts("2026-11-23T11:00:00Z"), &others);
        assert!(matches!(outside, Err(PaceViolation::OutsideWindow { .. })));
        let quota = check(&account, &member, &utc, ts("2026-11-23T09:30:00Z"), &others);
        assert_eq!(quota, Err(PaceViolation::DailyQuotaExceeded { quota: 1 }));
        let free_member = MemberPace { windows: &week, daily_quota: None };
        let gap = check(&account, &free_member, &utc, ts("2026-11-23T09:30:00Z"), &others);
        assert!(matches!(gap, Err(PaceViolation::MinGap { .. })));
        let far = [slot("2026-11-23T20:00:00Z", false)];
        let max = check(&account, &free_member, &utc, ts("2026-11-23T09:30:00Z"), &far);
        assert_eq!(max, Err(PaceViolation::MaxPostsPerDay { max: 1 }));
    }

    #[test]
    fn the_relevant_range_covers_the_local_day_and_the_gap() {
        let paris = tz("Europe/Paris");
        let candidate = ts("2026-11-23T12:00:00Z");
        let (from, to) = relevant_range(&AccountPace::default(), &paris, candidate);
        assert_eq!((from, to), (ts("2026-11-22T23:00:00Z"), ts("2026-11-23T23:00:00Z")));
        let wide = AccountPace { min_gap_minutes: 1440, max_posts_per_day: None };
        let (from, to) = relevant_range(&wide, &paris, candidate);
        assert_eq!(from, ts("2026-11-22T12:00:00Z"));
        assert!(to > ts("2026-11-24T12:00:00Z"));
    }

    #[test]
    fn violations_serialize_with_their_rule() {
        let value = serde_json::to_value(PaceViolation::MaxPostsPerDay { max: 3 }).expect("json");
        assert_eq!(value, serde_json::json!({"rule": "max_posts_per_day", "max": 3}));
    }
}
