//! This process's publishing worker as the rest of the application sees it: its identity in
//! job leases, and the bell that wakes it when something may be due sooner.
use tokio::sync::Notify;

/// This process's worker: its identity in leases, and its wake-up bell.
pub struct Scheduler {
    worker_id: String,
    bell: Notify,
}

impl Default for Scheduler {
    fn default() -> Self {
        Self { worker_id: format!("worker-{}", uuid::Uuid::now_v7().simple()), bell: Notify::new() }
    }
}

impl Scheduler {
    /// Something may be due sooner than the worker thought (a post was scheduled, published now,
    /// cancelled): look at the database again now. Cheap; call after committing.
    pub fn wake(&self) {
        // notify_one keeps a permit when the worker is busy, so the wake-up is not lost.
        self.bell.notify_one();
    }

    /// Resolves at the next wake-up (or at once if one came while the worker was busy).
    pub async fn rung(&self) {
        self.bell.notified().await;
    }

    #[must_use]
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }
}
