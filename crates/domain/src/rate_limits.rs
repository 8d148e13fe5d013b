//! The platforms' published per-account limits on publishing, and when the next publish call
//! of an account may go out. Pure: the scheduler asks [`next_slot`] with the start times of the
//! account's recent publish calls before it calls the platform, so Steward stays under a limit
//! instead of running into it; [`retry_at_without_hint`] says what a 429 without a retry hint
//! means on each platform.
//!
//! Sources, the platforms' own documentation (what Steward does with them, for operators:
//! docs/publishing.md, "Failures, retries and holds"):
//! - TikTok: developers.tiktok.com/doc/tiktok-api-v2-rate-limit (Content Posting API):
//!   `post/publish/*/init/` 6 requests per minute per user access token (sliding minute).
//! - Mastodon: docs.joinmastodon.org/api/rate-limits (mastodon/documentation
//!   `content/en/api/rate-limits.md`) and mastodon/mastodon `app/lib/rate_limiter.rb`: creating
//!   statuses, 300 per 3 hours per account (the instance may configure other numbers; its
//!   `X-RateLimit-*` hints still win).
//! - Bluesky: docs.bsky.app/docs/advanced-guides/rate-limits: repo writes 5,000 points per hour
//!   and 35,000 per day per account, a create costs 3 points (1,666 creates per hour, 11,666 per
//!   day).
//! - LinkedIn: learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits: daily
//!   per-member quotas reset at 00:00 UTC, numbers unpublished, and a 429 carries no hint.
//!
//! Windows are treated as sliding even where the platform counts in fixed windows: staying
//! under a sliding limit keeps every fixed window of the same length under it too.
//!
//! A call is counted here when its claim commits, but the platform counts it when it arrives:
//! after the commit, a preliminary request (TikTok's creator-info query) and the network. That
//! lag differs from call to call, so a call sent exactly one window after an earlier one's count
//! can reach the platform inside the window the earlier one started there. [`ARRIVAL_MARGIN`]
//! seconds on top of every window absorb it.

use crate::platform::Platform;

/// At most `max` publish calls in any `seconds`-long span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub seconds: i64,
    pub max: u32,
    /// For the sentence shown to people: "6 posts per minute".
    pub label: &'static str,
}

/// What a rate-limit answer without a retry hint means on a platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HintlessReset {
    /// Nothing documented: back off exponentially, as for a server error.
    Backoff,
    /// The quota is daily and resets at 00:00 UTC (LinkedIn): retrying sooner only fails again.
    NextUtcMidnight,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishLimits {
    pub windows: &'static [Window],
    pub hintless: HintlessReset,
}

/// Seconds added to every window so the lag between counting a call and its arrival at the
/// platform never puts one call too many in the platform's window (see the module comment).
pub const ARRIVAL_MARGIN: i64 = 2;

const NONE: PublishLimits = PublishLimits { windows: &[], hintless: HintlessReset::Backoff };

/// The documented limits of a platform by its stored id; none for an unknown id.
#[must_use]
pub fn limits(platform: &str) -> PublishLimits {
    Platform::parse(platform).map_or(NONE, limits_of)
}

/// The documented limits of `platform`; none for the sandbox.
#[must_use]
pub fn limits_of(platform: Platform) -> PublishLimits {
    match platform {
        Platform::TikTok => PublishLimits {
            windows: &[Window { seconds: 60, max: 6, label: "6 posts per minute" }],
            hintless: HintlessReset::Backoff,
        },
        Platform::Mastodon => PublishLimits {
            windows: &[Window { seconds: 3 * 3600, max: 300, label: "300 posts per 3 hours" }],
            hintless: HintlessReset::Backoff,
        },
        Platform::Bluesky => PublishLimits {
            windows: &[
                Window { seconds: 3600, max: 1666, label: "1,666 posts per hour" },
                Window { seconds: 86_400, max: 11_666, label: "11,666 posts per day" },
            ],
            hintless: HintlessReset::Backoff,
        },
        Platform::LinkedIn => PublishLimits { windows: &[], hintless: HintlessReset::NextUtcMidnight },
        Platform::Sandbox => NONE,
    }
}

impl PublishLimits {
    /// How many recent calls [`next_slot`] needs to see: the largest window's maximum.
    #[must_use]
    pub fn lookback(&self) -> (i64, u32) {
        let seconds = self.windows.iter().map(|w| w.seconds).max().unwrap_or(0);
        let max = self.windows.iter().map(|w| w.max).max().unwrap_or(0);
        (seconds, max)
    }
}

/// The earliest instant (Unix seconds) at or after `now` when one more publish call keeps
/// every window under its maximum, with [`ARRIVAL_MARGIN`] to spare, and the window that delayed it (`None`: `now` itself is
/// fine). `recent` holds the start times of the account's earlier publish calls, any order;
/// calls older than the largest window may be left out.
#[must_use]
pub fn next_slot(limits: &PublishLimits, recent: &[i64], now: i64) -> (i64, Option<Window>) {
    let mut newest_first: Vec<i64> = recent.iter().copied().filter(|&t| t <= now).collect();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    let mut slot = (now, None);
    for w in limits.windows {
        let max = usize::try_from(w.max).unwrap_or(usize::MAX);
        if max == 0 {
            continue;
        }
        // The max-th newest call must have left the window before one more may go.
        if let Some(&oldest_counted) = newest_first.get(max - 1) {
            let free_at = oldest_counted + w.seconds + ARRIVAL_MARGIN;
            if free_at > slot.0 {
                slot = (free_at, Some(*w));
            }
        }
    }
    slot
}

/// When to retry after a rate-limit answer that carried no hint: `None` means "back off as
/// usual"; otherwise the Unix second the platform's quota resets.
#[must_use]
pub fn retry_at_without_hint(limits: &PublishLimits, now: i64) -> Option<i64> {
    match limits.hintless {
        HintlessReset::Backoff => None,
        HintlessReset::NextUtcMidnight => Some((now.div_euclid(86_400) + 1) * 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_800_000_000; // 2027-01-15T08:00:00Z

    #[test]
    fn under_every_window_the_call_goes_now() {
        let l = limits("tiktok");
        assert_eq!(next_slot(&l, &[], T), (T, None));
        assert_eq!(next_slot(&l, &[T - 10, T - 20, T - 30, T - 40, T - 50], T), (T, None));
    }

    #[test]
    fn a_full_window_waits_for_its_oldest_call_to_leave() {
        let l = limits("tiktok");
        let recent = [T - 50, T - 40, T - 30, T - 20, T - 10, T - 5];
        let (at, w) = next_slot(&l, &recent, T);
        assert_eq!(at, T - 50 + 60 + ARRIVAL_MARGIN);
        assert_eq!(w.map(|w| w.max), Some(6));
        // Order does not matter, and calls older than the window do not count.
        let shuffled = [T - 5, T - 61 - ARRIVAL_MARGIN, T - 30, T - 50, T - 10, T - 20, T - 40, T - 3600];
        assert_eq!(next_slot(&l, &shuffled, T).0, T + 10 + ARRIVAL_MARGIN);
        // A call a window and the margin ago has left it; one a second later has not.
        let edge = [T - 60 - ARRIVAL_MARGIN, T - 40, T - 30, T - 20, T - 10, T - 5];
        assert_eq!(next_slot(&l, &edge, T), (T, None));
        let inside = [T - 59 - ARRIVAL_MARGIN, T - 40, T - 30, T - 20, T - 10, T - 5];
        assert_eq!(next_slot(&l, &inside, T).0, T + 1);
    }

    #[test]
    fn the_latest_of_several_windows_wins() {
        let l = limits("bluesky");
        // 11,666 calls spread over the last day, none in the last hour: the day is full.
        let day: Vec<i64> = (0..11_666).map(|i| T - 86_000 + i * 7).collect();
        let (at, w) = next_slot(&l, &day, T);
        assert!(day.iter().all(|&t| t <= T));
        assert_eq!(at, day[0] + 86_400 + ARRIVAL_MARGIN);
        assert_eq!(w.map(|w| w.seconds), Some(86_400));
        // 1,666 calls in the last hour: the hour is full first.
        let hour: Vec<i64> = (0..1_666).map(|i| T - 3_000 + i).collect();
        let (at, w) = next_slot(&l, &hour, T);
        assert_eq!((at, w.map(|w| w.seconds)), (T - 3_000 + 3_600 + ARRIVAL_MARGIN, Some(3_600)));
    }

    #[test]
    fn calls_in_the_future_of_now_are_not_counted() {
        let l = limits("tiktok");
        let recent = [T + 1, T + 2, T + 3, T + 4, T + 5, T + 6];
        assert_eq!(next_slot(&l, &recent, T), (T, None));
    }

    #[test]
    fn platforms_without_documented_numbers_never_wait_here() {
        for p in ["linkedin", "sandbox", "nope"] {
            let many: Vec<i64> = (0..10_000).map(|i| T - i).collect();
            assert_eq!(next_slot(&limits(p), &many, T), (T, None), "{p}");
        }
        assert_eq!(limits("linkedin").lookback(), (0, 0));
        assert_eq!(limits("bluesky").lookback(), (86_400, 11_666));
    }

    #[test]
    fn a_hintless_linkedin_429_waits_for_utc_midnight() {
        let l = limits("linkedin");
        let midnight = (T / 86_400 + 1) * 86_400;
        assert_eq!(retry_at_without_hint(&l, T), Some(midnight));
        // One second before midnight: that midnight; at midnight exactly: the next one.
        assert_eq!(retry_at_without_hint(&l, midnight - 1), Some(midnight));
        assert_eq!(retry_at_without_hint(&l, midnight), Some(midnight + 86_400));
        for p in ["tiktok", "mastodon", "bluesky", "sandbox"] {
            assert_eq!(retry_at_without_hint(&limits(p), T), None, "{p}");
        }
    }

    #[test]
    fn every_platform_is_known() {
        for p in crate::platform::PLATFORMS {
            // Every id resolves (no typo leaves a platform silently unlimited but LinkedIn and
            // the sandbox, which publish no numbers).
            let l = limits(p.id);
            assert_eq!(l.windows.is_empty(), matches!(p.id, "linkedin" | "sandbox"), "{}", p.id);
        }
    }
}
