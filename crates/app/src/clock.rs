//! The server's notion of "now". Every instant Steward stores or compares comes from here, so
//! tests can move time forward (session expiry, throttling windows) without sleeping.
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

#[derive(Clone, Default)]
pub struct Clock {
    offset_us: Arc<AtomicI64>,
    /// Poked when the clock is moved, so the scheduler sleeping until a due time re-reads "now".
    moved: Arc<tokio::sync::Notify>,
}

impl Clock {
    #[must_use]
    pub fn now(&self) -> jiff::Timestamp {
        let now = jiff::Timestamp::now();
        let offset = self.offset_us.load(Ordering::Relaxed);
        if offset == 0 {
            return now;
        }
        jiff::Timestamp::from_microsecond(now.as_microsecond() + offset).unwrap_or(now)
    }

    /// Now, in Unix microseconds (the storage encoding).
    #[must_use]
    pub fn now_us(&self) -> i64 {
        self.now().as_microsecond()
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        let us = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.offset_us.fetch_add(us, Ordering::Relaxed);
        // notify_one keeps a permit when nobody is waiting yet, so a move is never missed.
        self.moved.notify_one();
    }

    /// Resolves when the clock has been moved (tests); never in production.
    pub async fn moved(&self) {
        self.moved.notified().await;
    }
}

/// Formats stored microseconds as RFC 3339 UTC for the wire.
#[must_use]
pub fn rfc3339(us: i64) -> String {
    jiff::Timestamp::from_microsecond(us).map(|t| t.to_string()).unwrap_or_default()
}
