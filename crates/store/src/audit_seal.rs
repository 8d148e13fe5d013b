//! Sealing (PostgreSQL): moving the events that write transactions left in `audit_pending`
//! into the hash chain, many at a time.
//!
//! Why: when every writer locked the chain's head from its append until its commit, writers
//! took turns through each other's alert detectors and WAL flush, and a database that commits
//! thousands of independent rows a second committed a few dozen changes a second
//! (BENCHMARKS.md, "Writes"). Now a writer inserts its event with its change (so both commit
//! or neither does), runs the detectors on it there (their counts include the events still
//! pending), keeps what they found with the event, and commits without the head. Where this
//! process runs a sealer in the background (`steward serve`, [`Store::start_replica_sync`]),
//! the writer only wakes it and returns: its event is durable in `audit_pending` and every
//! reader of the chain or the alerts seals what is pending before it reads
//! ([`Store::settle_audit`]), so nobody can see the change without its event. Elsewhere (the
//! CLI, tests) the writer waits here until a round that started after its commit has sealed
//! everything pending. One round at a time, across replicas, holds the head: it numbers and
//! hashes the waiting events in order, writes them with a few multi-row inserts, raises their
//! findings in that order (so grouping into an alert never races), deletes them from
//! `audit_pending` and moves the head, in one transaction: a few statements and one WAL flush
//! for a whole batch. The chain stays gap-free (numbers are given under the head's lock) and
//! verifiable; the activity views and alert lists see an event once sealed, which is before
//! they answer.
//!
//! Why the writer does not wait for the round (BENCHMARKS.md, "Sealing in the background"):
//! rounds take turns and each ends with a WAL flush of its own, so a writer that waited spent
//! one and a half rounds after its own commit: a draft took 1.3–1.4 times as long at one to
//! four connections.
//!
//! What the detectors may miss: two events committed at the same instant do not see each
//! other, so a threshold crossed by exactly those two is noticed by the next event that
//! counts (before, every writer waited for the one before it).
//!
//! Within one process the rounds queue on a mutex, and a writer whose event a round that
//! began after its commit already sealed returns without touching the database.
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::{Finding, NewAuditEvent, Result, Store, StoreError};

/// At most this many events per round (a round that finds fewer has sealed everything).
const SEAL_BATCH: i64 = 500;

/// How often a replica seals what a crashed writer left pending, if no write did it first.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(crate) struct Sealer {
    /// Rounds started in this process so far.
    started: AtomicU64,
    /// The number of the last round that found the pending table empty after its batch (so
    /// every event committed before that round started is sealed), held while a round runs.
    drained: tokio::sync::Mutex<u64>,
    /// Wakes the background sealer (a writer committed an event to `audit_pending`).
    kick: tokio::sync::Notify,
    /// Whether a background sealer runs in this process (then writers do not wait for rounds).
    pub(crate) in_background: std::sync::atomic::AtomicBool,
}

impl Sealer {
    /// Taken by a writer right after its commit.
    pub(crate) fn ticket(&self) -> u64 {
        self.started.load(Ordering::SeqCst)
    }

    /// A writer's event is committed and pending: the background sealer takes it from here.
    /// Answers false when no sealer runs in the background (the writer must seal it itself).
    pub(crate) fn hand_over(&self) -> bool {
        if self.in_background.load(Ordering::Acquire) {
            self.kick.notify_one();
            true
        } else {
            false
        }
    }
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    #[sqlx(flatten)]
    event: NewAuditEvent,
    findings: Option<String>,
}

impl Store {
    /// Returns once every event committed before `ticket` was taken is in the chain: at once if
    /// a round that started later has already drained the pending events, else after running
    /// rounds until one does.
    pub(crate) async fn seal_audit_after(&self, ticket: u64) -> Result<()> {
        let mut drained = self.sealer.drained.lock().await;
        if *drained > ticket {
            return Ok(());
        }
        loop {
            let round = self.sealer.started.fetch_add(1, Ordering::SeqCst) + 1;
            if self.seal_round().await? {
                *drained = round;
                return Ok(());
            }
        }
    }

    /// Seals whatever is pending (a crashed writer's events; a no-op on SQLite, which chains at
    /// once). Run by each replica every [`SWEEP_EVERY`].
    pub async fn seal_pending_audit(&self) -> Result<()> {
        if self.backend() == crate::Backend::Sqlite {
            return Ok(());
        }
        let ticket = self.sealer.ticket();
        let q = "SELECT EXISTS (SELECT 1 FROM audit_pending)";
        if !crate::on_pool!(self, |c| sqlx::query_scalar::<_, bool>(q).fetch_one(c).await)? {
            return Ok(());
        }
        self.seal_audit_after(ticket).await
    }

    /// The background sealer: seals whatever writers hand over as they commit, and every
    /// [`SWEEP_EVERY`] what a crashed writer (of any replica) left pending. Runs until aborted.
    /// While a round runs, the writers that commit meanwhile wake it once more, so under load
    /// rounds follow each other and each seals everything committed during the one before.
    pub(crate) async fn seal_in_background(&self) {
        self.sealer.in_background.store(true, Ordering::Release);
        // Marks this loop gone however it ends (aborted with its task), so writers seal again.
        struct Gone<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Gone<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _gone = Gone(&self.sealer.in_background);
        // The first pass, and each after a quiet SWEEP_EVERY, first asks whether anything is
        // pending; a writer's wake-up says so already.
        let mut woken = false;
        loop {
            let sealed =
                if woken { self.seal_audit_after(self.sealer.ticket()).await } else { self.seal_pending_audit().await };
            if let Err(e) = sealed {
                tracing::warn!(error = %e, "sealing pending audit events failed; the next round retries");
            }
            woken = tokio::select! {
                () = self.sealer.kick.notified() => true,
                () = tokio::time::sleep(SWEEP_EVERY) => false,
            };
        }
    }

    /// Before reading the chain or the alerts: a change another task or replica has committed
    /// may still have its event pending (its writer returned once the change committed, and a
    /// reader that saw the change itself, e.g. a post's new state, must find its event too). Sealing
    /// failed is not a failed read: the reader sees what is sealed, and the next round retries.
    pub(crate) async fn settle_audit(&self) {
        if let Err(e) = self.seal_pending_audit().await {
            tracing::warn!(error = %e, "sealing pending audit events before a read failed");
        }
    }

    /// How many events wait to be sealed.
    pub async fn audit_pending_count(&self) -> Result<i64> {
        Ok(crate::on_pool!(self, |c| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_pending")
            .fetch_one(c)
            .await)?)
    }

    /// One round: the head locked, up to [`SEAL_BATCH`] pending events chained in order and
    /// their findings raised in that order, the events removed from the pending table (the inserts
    /// move the head), one commit; a few statements however many events. Answers whether it sealed
    /// everything that was pending when it looked.
    async fn seal_round(&self) -> Result<bool> {
        let mut tx = self.begin().await?;
        let head = tx.lock_audit_head().await?;
        let q = "SELECT id, at, actor_id, actor_email, session_id, ip, user_agent, action, target, account_id, outcome, \
                 detail, findings FROM audit_pending ORDER BY at, id LIMIT CAST($1 AS BIGINT)";
        let pending: Vec<PendingRow> =
            crate::on_tx!(tx, |c| sqlx::query_as::<_, PendingRow>(q).bind(SEAL_BATCH).fetch_all(c).await)?;
        if pending.is_empty() {
            // Dropped: rolled back, nothing written, no WAL flush.
            return Ok(true);
        }
        let drained = (pending.len() as i64) < SEAL_BATCH;
        let mut findings: Vec<Finding> = Vec::new();
        for p in &pending {
            if let Some(f) = &p.findings {
                // Written by this store just before; unreadable would be a bug, not data.
                let found: Vec<Finding> = serde_json::from_str(f).map_err(|e| {
                    StoreError::Database(sqlx::Error::Decode(
                        format!("unreadable findings of event {}: {e}", p.event.id).into(),
                    ))
                })?;
                findings.extend(found);
            }
        }
        let events: Vec<&NewAuditEvent> = pending.iter().map(|p| &p.event).collect();
        tx.insert_chained(head, &events, 100).await?;
        let ids: Vec<String> = pending.into_iter().map(|p| p.event.id).collect();
        // Raised in chain order, under the head: grouping into an alert takes turns.
        tx.raise_alerts_in_order(findings).await?;
        match tx.inner.connection() {
            crate::TxConnection::Postgres(c) => {
                sqlx::query("DELETE FROM audit_pending WHERE id = ANY($1)").bind(&ids).execute(c).await?;
            }
            crate::TxConnection::Sqlite(c) => {
                for id in &ids {
                    sqlx::query("DELETE FROM audit_pending WHERE id = $1").bind(id).execute(&mut *c).await?;
                }
            }
        }
        // The inserts moved the head (trigger `audit_events_head`, migration 0032).
        tx.commit_only().await?;
        Ok(drained)
    }
}
