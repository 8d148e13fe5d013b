//! Group commit on SQLite: write transactions that queue behind each other share one commit.
//!
//! Why: SQLite has one writer, and with `synchronous=FULL` each commit waits for the disk to
//! flush the WAL; a draft's commit writes a dozen pages, and that flush was about half of the
//! time a write held the lock (BENCHMARKS.md, "Group commit on SQLite"). PostgreSQL groups
//! concurrent commits into one flush by itself; this does the same for SQLite.
//!
//! How: one write transaction at a time holds the turn (a FIFO mutex, as the write gate was).
//! The first opens a real transaction (`BEGIN IMMEDIATE`, the *group*) and every transaction,
//! first or not, runs inside its own `SAVEPOINT`. A transaction that commits releases its
//! savepoint; then, if another writer is waiting for the turn (and the group is young and small
//! enough), it hands the turn on with the group still open (and the next savepoint opened in
//! the same round trip) and waits for the group's commit; otherwise it commits the group and
//! tells every member. A transaction dropped without commit rolls back to its savepoint,
//! touching no other member.
//!
//! What a caller sees is unchanged: `Tx::commit` returns once its changes are durable (the
//! group's COMMIT returned), and fails if they are not (the COMMIT failed: every member of the
//! group fails, and none of them was acknowledged). A member's changes are visible to later
//! members of its group before they are durable, as the next transaction always saw the one
//! before it; nothing outside the group sees them before the COMMIT.
//!
//! Bounds: a group commits once it has [`MAX_MEMBERS`] members or is [`MAX_AGE`] old, so a
//! steady stream of writers cannot keep the first waiting. A member waiting for its group whose
//! successor vanished (a request cancelled while waiting for the turn) takes the turn back after
//! [`ORPHAN_WAIT`] and commits the group itself.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

use crate::{Result, StoreError};

const MAX_MEMBERS: usize = 64;
const MAX_AGE: Duration = Duration::from_millis(20);
const ORPHAN_WAIT: Duration = Duration::from_millis(50);

/// How a group ended, for its members: `None` while open.
type Outcome = Option<std::result::Result<(), Arc<str>>>;

/// The write turn and the open group behind it.
#[derive(Default)]
pub(crate) struct Groups {
    state: Arc<Mutex<State>>,
    /// Writers waiting for the turn in `begin` (not members waiting for their group).
    waiting: Arc<AtomicUsize>,
}

#[derive(Default)]
pub(crate) struct State {
    open: Option<Open>,
}

struct Open {
    tx: sqlx::Transaction<'static, Sqlite>,
    /// Members whose savepoint was released into the group.
    members: usize,
    /// Whether `steward_tx` is open for the next turn: a turn that hands on opens the next
    /// one's savepoint with its own release (one round trip fewer on the turn's path).
    savepoint_open: bool,
    started: Instant,
    done: watch::Sender<Outcome>,
}

/// One write transaction's turn: its savepoint inside the open group.
pub(crate) struct Turn {
    guard: Option<OwnedMutexGuard<State>>,
    state: Arc<Mutex<State>>,
    waiting: Arc<AtomicUsize>,
}

impl Groups {
    /// Waits (at most `wait`) for the turn and opens this transaction's savepoint; `None` when
    /// the wait ran out (e.g. a transaction begun inside another: the caller errs as before).
    pub(crate) async fn begin(&self, pool: &SqlitePool, wait: Duration) -> Result<Option<Turn>> {
        let guard = {
            // Counted while waiting, also when the wait is cancelled (a request given up): a
            // writer counted for ever would keep every group open, and SQLite's lock taken.
            let _counted = Waiting::count(&self.waiting);
            tokio::time::timeout(wait, self.state.clone().lock_owned()).await
        };
        let Ok(guard) = guard else { return Ok(None) };
        let mut turn = Turn { guard: Some(guard), state: self.state.clone(), waiting: self.waiting.clone() };
        let state = turn.state_mut();
        // An old or full group commits before a new member joins it.
        if state.open.as_ref().is_some_and(|g| g.members >= MAX_MEMBERS || g.started.elapsed() >= MAX_AGE) {
            finish(state).await;
        }
        if state.open.is_none() {
            let tx = pool.begin_with("BEGIN IMMEDIATE").await?;
            let (done, _) = watch::channel(None);
            state.open = Some(Open { tx, members: 0, savepoint_open: false, started: Instant::now(), done });
        }
        let open = state.open.as_mut().expect("opened above");
        if !open.savepoint_open {
            if let Err(e) = sqlx::query("SAVEPOINT steward_tx").execute(&mut *open.tx).await {
                turn.end().await;
                return Err(e.into());
            }
            open.savepoint_open = true;
        }
        Ok(Some(turn))
    }

    /// Commits (or rolls back) the open group once the turn is free: before the pool closes,
    /// which would otherwise wait for ever for the group's connection.
    pub(crate) async fn close(&self) {
        let mut state = self.state.lock().await;
        finish(&mut state).await;
    }
}

/// One writer waiting for the turn, for as long as this lives.
struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    fn count(waiting: &Arc<AtomicUsize>) -> Self {
        waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(waiting.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Turn {
    fn state_mut(&mut self) -> &mut State {
        self.guard.as_mut().expect("a turn holds the state until it ends")
    }

    /// The group's connection, inside this transaction's savepoint.
    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.state_mut().open.as_mut().expect("a turn has an open group").tx
    }

    /// Releases the savepoint into the group and returns once the group has committed.
    pub(crate) async fn commit(mut self) -> Result<()> {
        let others_waiting = self.waiting.load(Ordering::SeqCst) > 0;
        let state = self.state_mut();
        let open = state.open.as_mut().expect("a turn has an open group");
        let hand_on = others_waiting && open.members + 1 < MAX_MEMBERS && open.started.elapsed() < MAX_AGE;
        // Handing on, the next turn's savepoint opens with this release.
        let release = if hand_on { "RELEASE steward_tx; SAVEPOINT steward_tx" } else { "RELEASE steward_tx" };
        let released = sqlx::raw_sql(release).execute(&mut *open.tx).await;
        if let Err(e) = released {
            // The savepoint is gone only if SQLite rolled the whole transaction back.
            fail(state, &e.to_string());
            self.end().await;
            return Err(e.into());
        }
        open.savepoint_open = hand_on;
        open.members += 1;
        let mut done = open.done.subscribe();
        if !hand_on {
            finish(state).await;
        }
        self.end().await;
        loop {
            if let Some(outcome) = done.borrow_and_update().clone() {
                return outcome.map_err(|e| StoreError::GroupCommit(e.to_string()));
            }
            match tokio::time::timeout(ORPHAN_WAIT, done.changed()).await {
                Ok(Ok(())) => {}
                // The group ended without a word (its COMMIT task died): fail closed.
                Ok(Err(_)) => return Err(StoreError::GroupCommit("the group ended without committing".into())),
                // Nobody took the turn after this member: take it back and commit the group.
                Err(_) => {
                    let mut guard = self.state.clone().lock_owned().await;
                    if done.borrow().is_none() {
                        finish(&mut guard).await;
                    }
                }
            }
        }
    }

    /// Ends the turn: with nobody waiting, an open group commits (its members wait for that) or,
    /// with no member, rolls back so SQLite's write lock is free for other processes.
    async fn end(&mut self) {
        let Some(mut guard) = self.guard.take() else { return };
        if self.waiting.load(Ordering::SeqCst) == 0 {
            finish(&mut guard).await;
        }
    }
}

impl Drop for Turn {
    /// Dropped without commit: roll back to the savepoint (the group's other members keep their
    /// changes), then end the turn. Both need the connection, so they run in a task that holds
    /// the turn until done.
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else { return };
        let waiting = self.waiting.clone();
        let state = self.state.clone();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // Nothing can roll back to the savepoint now: the whole group fails and rolls back,
            // rather than the next member releasing this one's changes.
            let mut guard = guard;
            fail(&mut guard, "a write transaction was dropped outside the runtime");
            return;
        };
        runtime.spawn(async move {
            let mut turn = Turn { guard: Some(guard), state, waiting };
            let s = turn.state_mut();
            if let Some(open) = s.open.as_mut() {
                // ROLLBACK TO keeps the savepoint open: the next turn starts in it.
                match sqlx::query("ROLLBACK TO steward_tx").execute(&mut *open.tx).await {
                    Ok(_) => open.savepoint_open = true,
                    Err(e) => fail(s, &e.to_string()),
                }
            }
            turn.end().await;
        });
    }
}

/// Commits the open group (rolls it back when it has no member) and tells its members.
async fn finish(state: &mut State) {
    let Some(open) = state.open.take() else { return };
    if open.members == 0 {
        // Dropped: rolled back, nothing written.
        open.done.send_replace(Some(Ok(())));
        return;
    }
    // In a task of its own: the member committing for the group may be a request that is given
    // up meanwhile, and a COMMIT cut off half-way would leave every member not knowing.
    let committing = tokio::spawn(async move {
        let outcome = open.tx.commit().await.map_err(|e| Arc::<str>::from(e.to_string()));
        open.done.send_replace(Some(outcome));
    });
    let _ = committing.await;
}

/// The group cannot commit (SQLite rolled it back after an error): every member fails.
fn fail(state: &mut State, why: &str) {
    if let Some(open) = state.open.take() {
        open.done.send_replace(Some(Err(Arc::from(why))));
        // Dropping the transaction rolls back whatever is left.
    }
}
