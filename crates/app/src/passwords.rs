//! Password hashing with Argon2id, off the async runtime (a hash takes tens of milliseconds
//! and 19 MiB by design), within a memory budget: at most `concurrency` hashes run at once, a
//! bounded number wait their turn, and the rest are refused (`AppError::Busy`, 503) rather
//! than letting a burst of sign-ins take the server's memory.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::config::PasswordHashCost;
use crate::error::{AppError, AppResult};

#[derive(Clone)]
pub struct Passwords {
    cost: PasswordHashCost,
    /// A hash of a random password at the same cost, verified against when the email is
    /// unknown, so an unknown email takes as long to refuse as a wrong password.
    dummy_hash: String,
    budget: Arc<Budget>,
}

/// How many hashes may run and wait at once, and what is running now.
struct Budget {
    running: Arc<Semaphore>,
    /// Requests waiting for a turn, at most `queue`.
    waiting: AtomicUsize,
    queue: usize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl Budget {
    fn new(concurrency: usize, queue: usize) -> Self {
        Self {
            running: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: AtomicUsize::new(0),
            queue,
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }
}

/// Counts a waiting request out again however its wait ends (turn granted or request dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Passwords {
    /// A hasher with the default budget (one hash per core, 64 waiting).
    pub fn new(cost: PasswordHashCost) -> anyhow::Result<Self> {
        let random = Zeroizing::new(crate::crypto::new_token(""));
        let dummy_hash = hash_with(cost, random.as_bytes())?;
        Ok(Self {
            cost,
            dummy_hash,
            budget: Arc::new(Budget::new(crate::config::default_password_hash_concurrency(), 64)),
        })
    }

    /// The same hasher with `concurrency` hashes at once and `queue` waiting.
    #[must_use]
    pub fn with_budget(mut self, concurrency: usize, queue: usize) -> Self {
        self.budget = Arc::new(Budget::new(concurrency, queue));
        self
    }

    /// The most hashes that ever ran at once in this process (for tests and metrics).
    #[must_use]
    pub fn peak_in_flight(&self) -> usize {
        self.budget.peak.load(Ordering::SeqCst)
    }

    /// Runs `work` on a blocking thread once a turn is free; waits in the queue while it has
    /// room, refuses with `Busy` when it has none.
    async fn within_budget<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let b = &self.budget;
        let permit = match b.running.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if b.waiting.fetch_add(1, Ordering::SeqCst) >= b.queue {
                    b.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(AppError::Busy {
                        detail: "too many sign-ins and sign-ups are being checked at once",
                        retry_after_secs: 1,
                    });
                }
                let _waiting = Waiting(&b.waiting);
                b.running.clone().acquire_owned().await.map_err(AppError::internal)?
            }
        };
        let budget = self.budget.clone();
        tokio::task::spawn_blocking(move || {
            let now = budget.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            budget.peak.fetch_max(now, Ordering::SeqCst);
            let out = work();
            budget.in_flight.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            out
        })
        .await
        .map_err(AppError::internal)
    }

    pub async fn hash(&self, password: Zeroizing<String>) -> AppResult<String> {
        let cost = self.cost;
        self.within_budget(move || hash_with(cost, password.as_bytes())).await?.map_err(AppError::Internal)
    }

    /// Checks `password` against `stored` (or against the dummy hash when there is no user).
    /// Always false without a user; `Busy` when the hashing budget is used up.
    pub async fn verify(&self, password: Zeroizing<String>, stored: Option<String>) -> AppResult<bool> {
        let has_user = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.clone());
        let ok = self
            .within_budget(move || {
                // The stored string carries its own parameters; verification uses those.
                Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok()
            })
            .await?;
        Ok(ok && has_user)
    }
}

fn hash_with(cost: PasswordHashCost, password: &[u8]) -> anyhow::Result<String> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(password)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    Ok(hash.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_carry_their_parameters() {
        let p = Passwords::new(PasswordHashCost::TEST).expect("init");
        let h = p.hash(Zeroizing::new("correct horse battery".into())).await.expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
        assert!(p.verify(Zeroizing::new("correct horse battery".into()), Some(h.clone())).await.expect("verify"));
        assert!(!p.verify(Zeroizing::new("wrong horse battery".into()), Some(h)).await.expect("verify"));
        assert!(!p.verify(Zeroizing::new("anything at all".into()), None).await.expect("verify"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn at_most_the_budget_runs_at_once_and_a_full_queue_is_refused() {
        // A slow cost, so the requests overlap; one at a time, two waiting.
        let slow = PasswordHashCost { memory_kib: 1024, iterations: 400, parallelism: 1 };
        let p = Passwords::new(slow).expect("init").with_budget(1, 2);
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let p = p.clone();
                tokio::spawn(async move { p.hash(Zeroizing::new(format!("password number {i}"))).await })
            })
            .collect();
        let mut done = 0;
        let mut busy = 0;
        for t in tasks {
            match t.await.expect("join") {
                Ok(_) => done += 1,
                Err(AppError::Busy { retry_after_secs, .. }) => {
                    assert!(retry_after_secs >= 1);
                    busy += 1;
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(p.peak_in_flight(), 1, "never more than the budget at once");
        assert!(done >= 3, "the running one and the two waiting finish ({done})");
        assert!(busy >= 1, "the rest are refused ({busy})");
        assert_eq!(done + busy, 8);
        // With room in the queue, everyone waits their turn.
        let p = Passwords::new(slow).expect("init").with_budget(2, 16);
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let p = p.clone();
                tokio::spawn(async move { p.hash(Zeroizing::new(format!("password number {i}"))).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("join").expect("queued, not refused");
        }
        assert!(p.peak_in_flight() <= 2);
    }

    #[test]
    fn production_cost_is_owasp() {
        let h = hash_with(PasswordHashCost::OWASP, b"some password").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
    }
}
