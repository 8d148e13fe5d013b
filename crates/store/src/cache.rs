//! A read cache for the two lookups every authenticated request makes (the session, and the
//! caller's membership of an account).
//!
//! Every entry is tagged with the cache's generation, taken *before* the database read it
//! holds; [`ReadCache::invalidate`] bumps the generation, so every entry read before it is stale
//! at once and a read that raced a write is never served. What bumps it differs per database.
//!
//! **SQLite**: the cache looks at SQLite's `PRAGMA data_version` on a connection of its own,
//! which changes whenever any other connection has committed — this server's own pool as much
//! as `steward admin …` or an operator's `sqlite3`. When it has changed, the cache reads
//! `rights_epoch`, which triggers on the cached tables count up (migration 0017: sessions ended
//! or moved, users, accounts, memberships), and bumps the generation if that moved. A write
//! that leaves the cached rows alone (a new draft, a `last_seen_at` touch) keeps every entry.
//! Before the migrations have run, or if the epoch cannot be read, any commit invalidates: fail
//! closed. A look costs two file-lock calls and a read transaction, so a look vouches for
//! the cache for [`CHECK_EVERY`] (a busy server looks a few hundred times a second, not once
//! per request); Invariant 8 still holds, because every writer waits for it:
//! - this process's own commits look at once, before `Tx::commit` returns (so its caller's next
//!   request, on any connection, sees the change);
//! - a commit whose look found the epoch moved then waits [`WRITER_WAIT`] (longer than
//!   [`CHECK_EVERY`]) before it returns: by then any other process's cache (the server's, when
//!   `steward admin …` revoked) has looked again before it serves anything. Every look that
//!   vouches for an answer started after the revocation committed.
//!
//! An operator's own `sqlite3` edit is seen within [`CHECK_EVERY`] (nothing can wait for it).
//!
//! **PostgreSQL** (several replicas write): [`Gate`] decides whether entries may be served at
//! all, and `store::replicas` keeps it and the generation in step with the other replicas:
//! - a commit that touched the cached tables (statement triggers flag it, migration 0017) bumps
//!   `rights_epoch` after committing, NOTIFYs the new value, and returns only once every live
//!   replica has written an `acked` at least that large — which each writes *after* bumping its
//!   own generation — or the bound [`ACK_WAIT`] has passed (below: why that is safe too);
//! - a replica serves from its cache only while its listener is connected and caught up
//!   (`live`: after `LISTEN` it invalidates everything, then reads the epoch, acks it, and only
//!   then goes live) and while it has recently heard back its own ping: each second it NOTIFYs
//!   a ping with its heartbeat, and when the ping comes back through its listener the cache may
//!   serve until the instant the ping was *sent* plus [`SERVE_WINDOW`].
//!
//! Orders of events an attacker might hope for, and why none serves old rights after a
//! revocation returned (T = the instant the revoking commit finished):
//! 1. *A read that started before T is cached after the replica invalidated*: it carries the
//!    generation from before the invalidation, so it is never served.
//! 2. *The replica never gets the NOTIFY* (its listener was cut, `pg_terminate_backend`, a
//!    half-open connection): notifications reach a listener in commit order, so it hears none of
//!    its own pings sent after T either; every ping it did hear was sent before T, so it stops
//!    serving before T + [`SERVE_WINDOW`] ≤ the revoker's wait. When the listener reconnects,
//!    the replica stays dark until it has invalidated everything after the new `LISTEN`.
//! 3. *The replica's heartbeat is stale and the revoker does not wait for it*: a replica is
//!    waited for while its heartbeat is younger than `STALE_AFTER` (≥ [`SERVE_WINDOW`]); its
//!    heartbeat is written by the same statement as its ping, so an older heartbeat means its
//!    last ping heard was sent longer ago than the serve window: it is already dark.
//! 4. *A replica starts while the revocation commits*: it is dark until after its `LISTEN`,
//!    and invalidates on going live, so everything it serves was read after its `LISTEN`; a
//!    commit before that is in its reads, a commit after reaches it as a NOTIFY.
//! 5. *The revoker crashes between commit and acknowledgement*: the caller got no answer; the
//!    trigger's own NOTIFY (sent at commit) still empties every cache.
//! 6. *A change made outside Steward* (`psql`): the triggers NOTIFY at commit too, so caches
//!    empty as soon as each replica hears it (nothing can wait for `psql`'s acknowledgement;
//!    `Store::announce_rights_change` bumps and waits for a caller that needs to).
//! 7. *Writes that touch a cached row without narrowing rights* (`last_seen_at`): the triggers
//!    skip those columns; a replica's cached `last_seen_at` may lag another replica's touch, so
//!    entries live at most [`MAX_AGE`] on PostgreSQL (idle expiry is minutes).
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use steward_domain::ids::{AccountId, SessionId, UserId};

use crate::{AccountRow, AuthSessionRow, MembershipRow};

/// Entries kept before the cache is emptied (a crude but bounded policy).
const MAX_ENTRIES: usize = 10_000;

/// How long after sending a ping that came back a PostgreSQL replica may serve from its cache.
pub(crate) const SERVE_WINDOW: Duration = Duration::from_secs(3);
/// How long a revoker waits for the replicas' acknowledgements: past [`SERVE_WINDOW`] after its
/// commit, a replica that has not acknowledged cannot be serving from its cache any more.
pub(crate) const ACK_WAIT: Duration = Duration::from_millis(3_500);
/// The oldest entry a PostgreSQL replica serves (another replica may have touched the session).
pub(crate) const MAX_AGE: Duration = Duration::from_secs(10);

const _: () = assert!(ACK_WAIT.as_millis() >= SERVE_WINDOW.as_millis(), "the wait must outlast the serve window");

/// SQLite: how long one look at `data_version` vouches for the cache (see the module comment).
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(2);
/// SQLite: how long a commit that moved `rights_epoch` waits before it returns, so that every
/// other process's cache has looked again (more than [`CHECK_EVERY`]).
pub(crate) const WRITER_WAIT: Duration = Duration::from_millis(3);

const _: () = assert!(WRITER_WAIT.as_micros() > CHECK_EVERY.as_micros(), "a writer must outwait the look's vouching");

type AccessKey = (String, String);
type Access = (AccountRow, MembershipRow);

#[derive(Default)]
pub(crate) struct ReadCache {
    enabled: bool,
    generation: AtomicU64,
    /// A connection of the cache's own to the SQLite file, with what it last saw.
    watcher: Option<Mutex<Watcher>>,
    /// SQLite: when the last look that succeeded started (micros on `clock`; 0: none yet).
    looked_at: AtomicU64,
    /// SQLite: when the last look that found the epoch moved started (0: none yet).
    moved_at: AtomicU64,
    clock: Monotonic,
    /// PostgreSQL: whether this replica may serve from its cache at all.
    pub(crate) gate: Option<Gate>,
    /// Woken when a replica writes an acknowledgement (revokers waiting re-check).
    pub(crate) acks: tokio::sync::Notify,
    sessions: Mutex<HashMap<Vec<u8>, (u64, Instant, AuthSessionRow)>>,
    access: Mutex<HashMap<AccessKey, (u64, Instant, Access)>>,
}

/// SQLite: the cache's own read-only connection, the `data_version` it last saw and the
/// `rights_epoch` it last read (`None`: unreadable, e.g. before the migrations ran).
struct Watcher {
    conn: rusqlite::Connection,
    data_version: i64,
    epoch: Option<i64>,
}

/// Micros since this was made, on a monotonic clock.
struct Monotonic(Instant);

impl Default for Monotonic {
    fn default() -> Self {
        Self(Instant::now())
    }
}

impl Monotonic {
    fn now_us(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_micros()).unwrap_or(u64::MAX).max(1)
    }
}

/// A PostgreSQL replica's permission to serve from its cache (see the module comment).
pub(crate) struct Gate {
    origin: Instant,
    /// The listener is connected and has caught up since it last connected.
    live: AtomicBool,
    /// Micros since `origin` until which cached entries may be served.
    serve_until: AtomicU64,
}

impl Gate {
    fn new() -> Self {
        Self { origin: Instant::now(), live: AtomicBool::new(false), serve_until: AtomicU64::new(0) }
    }

    /// Micros since this gate was made (a monotonic clock).
    pub(crate) fn now_us(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    pub(crate) fn may_serve(&self) -> bool {
        self.live.load(Ordering::Acquire) && self.now_us() < self.serve_until.load(Ordering::Acquire)
    }

    /// The listener is gone: serve nothing from the cache until it has caught up again.
    pub(crate) fn go_dark(&self) {
        self.live.store(false, Ordering::Release);
    }

    /// The listener has listened since `listening_from` and the cache was emptied after that.
    pub(crate) fn go_live(&self, listening_from: u64) {
        self.heard(listening_from);
        self.live.store(true, Ordering::Release);
    }

    /// A ping sent at `sent_at` came back through the listener.
    pub(crate) fn heard(&self, sent_at: u64) {
        let until = sent_at.saturating_add(u64::try_from(SERVE_WINDOW.as_micros()).unwrap_or(u64::MAX));
        self.serve_until.fetch_max(until, Ordering::AcqRel);
    }

    #[cfg(test)]
    fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ReadCache {
    /// A cache for the SQLite file at `sqlite_file` (`None`: no cache, e.g. on PostgreSQL). If
    /// the file cannot be watched for other writers, there is no cache either: fail closed.
    pub(crate) fn new(sqlite_file: Option<&std::path::Path>) -> Self {
        // An in-memory database has no file another connection could watch.
        let watchable = |path: &&std::path::Path| !path.as_os_str().is_empty() && path.as_os_str() != ":memory:";
        let watcher = sqlite_file.filter(watchable).and_then(|path| {
            let conn = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .ok()?;
            let data_version = data_version(&conn)?;
            let epoch = rights_epoch(&conn);
            Some(Mutex::new(Watcher { conn, data_version, epoch }))
        });
        Self { enabled: watcher.is_some(), watcher, ..Self::default() }
    }

    /// A replica's cache on PostgreSQL: it serves nothing until `store::replicas` opens its gate.
    pub(crate) fn gated() -> Self {
        Self { enabled: true, gate: Some(Gate::new()), ..Self::default() }
    }

    /// Whether an entry may be served now (SQLite: after checking for other writers).
    fn may_serve(&self) -> bool {
        if !self.enabled {
            return false;
        }
        match &self.gate {
            Some(gate) => gate.may_serve(),
            None => {
                self.look(false);
                true
            }
        }
    }

    /// Whether an entry stored at `at` is young enough to serve.
    fn fresh(&self, at: Instant) -> bool {
        self.gate.is_none() || at.elapsed() < MAX_AGE
    }

    /// A cache that trusts this process's commits alone (unit tests).
    #[cfg(test)]
    fn unwatched() -> Self {
        Self { enabled: true, ..Self::default() }
    }

    /// Makes every entry stale if a commit since the last look changed a cached table; unless
    /// `now`, only when the last look is older than [`CHECK_EVERY`]. Answers whether the epoch
    /// moved (or could not be read). A watcher that can no longer answer disables nothing
    /// silently: it invalidates at every look, and vouches for nothing.
    fn look(&self, now: bool) -> bool {
        let Some(watcher) = &self.watcher else { return false };
        let vouching = u64::try_from(CHECK_EVERY.as_micros()).unwrap_or(0);
        if !now && self.clock.now_us().saturating_sub(self.looked_at.load(Ordering::Acquire)) < vouching {
            return false;
        }
        let mut w = lock(watcher);
        // Taken under the lock, so looks are in order and `looked_at` only moves forward.
        let started = self.clock.now_us();
        let moved = match data_version(&w.conn) {
            Some(v) if v == w.data_version => false,
            Some(v) => {
                // The version is read first: a commit after it shows in the epoch read now, or
                // changes the version again for the next look.
                w.data_version = v;
                let epoch = rights_epoch(&w.conn);
                let moved = epoch.is_none() || epoch != w.epoch;
                if moved {
                    self.invalidate();
                    self.moved_at.store(started, Ordering::Release);
                }
                w.epoch = epoch;
                moved
            }
            None => {
                self.invalidate();
                self.moved_at.store(started, Ordering::Release);
                return true;
            }
        };
        // After invalidating: a request that sees this look's time sees its invalidation too.
        self.looked_at.store(started, Ordering::Release);
        moved
    }

    /// After this process committed on SQLite: looks now, and answers how long the committer
    /// must still wait before returning (see the module comment): until [`WRITER_WAIT`] after
    /// the latest look that found the epoch moved. That look started after this commit if the
    /// commit moved the epoch, whether it was this look or another request's meanwhile.
    pub(crate) fn after_commit(&self) -> Option<Duration> {
        self.watcher.as_ref()?;
        self.look(true);
        let moved_at = self.moved_at.load(Ordering::Acquire);
        if moved_at == 0 {
            return None;
        }
        let until = moved_at.saturating_add(u64::try_from(WRITER_WAIT.as_micros()).unwrap_or(u64::MAX));
        let now = self.clock.now_us();
        (until > now).then(|| Duration::from_micros(until - now))
    }

    /// Whether this cache learns of every commit by itself (a watched SQLite file), so a commit
    /// need not invalidate it.
    pub(crate) fn watches_commits(&self) -> bool {
        self.watcher.is_some()
    }

    /// The generation to tag a read with: taken *before* the read, so a write that commits
    /// during the read makes the entry stale at once.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Called after every committed write transaction.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn session(&self, token_hash: &[u8]) -> Option<AuthSessionRow> {
        if !self.may_serve() {
            return None;
        }
        let current = self.generation();
        lock(&self.sessions)
            .get(token_hash)
            .filter(|(g, at, _)| *g == current && self.fresh(*at))
            .map(|(_, _, row)| row.clone())
    }

    pub(crate) fn put_session(&self, token_hash: &[u8], generation: u64, row: &AuthSessionRow) {
        if !self.enabled {
            return;
        }
        let mut map = lock(&self.sessions);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(token_hash.to_vec(), (generation, Instant::now(), row.clone()));
    }

    /// Mirrors a `last_seen_at` update (not a permission change, so it bumps no generation).
    pub(crate) fn touched_session(&self, session_id: &SessionId, now: i64) {
        if !self.enabled {
            return;
        }
        for (_, _, row) in lock(&self.sessions).values_mut() {
            if row.id == *session_id && row.last_seen_at < now {
                row.last_seen_at = now;
            }
        }
    }

    pub(crate) fn access(&self, account_id: &AccountId, user_id: &UserId) -> Option<(AccountRow, MembershipRow)> {
        if !self.may_serve() {
            return None;
        }
        let current = self.generation();
        let key = (account_id.to_string(), user_id.to_string());
        lock(&self.access).get(&key).filter(|(g, at, _)| *g == current && self.fresh(*at)).map(|(_, _, v)| v.clone())
    }

    pub(crate) fn put_access(
        &self,
        account_id: &AccountId,
        user_id: &UserId,
        generation: u64,
        value: &(AccountRow, MembershipRow),
    ) {
        if !self.enabled {
            return;
        }
        let mut map = lock(&self.access);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert((account_id.to_string(), user_id.to_string()), (generation, Instant::now(), value.clone()));
    }
}

/// SQLite's count of commits by other connections, as seen from `conn`. Asked before every
/// cached answer, so the statement is prepared once and kept (parsing it again each time cost
/// more than running it).
fn data_version(conn: &rusqlite::Connection) -> Option<i64> {
    conn.prepare_cached("PRAGMA data_version").and_then(|mut st| st.query_row([], |r| r.get(0))).ok()
}

/// The count of changes to the cached tables (`rights_epoch`, kept by triggers).
fn rights_epoch(conn: &rusqlite::Connection) -> Option<i64> {
    conn.prepare_cached("SELECT generation FROM rights_epoch WHERE singleton = 1")
        .and_then(|mut st| st.query_row([], |r| r.get(0)))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(id: &str, last_seen: i64) -> AuthSessionRow {
        AuthSessionRow {
            id: id.into(),
            user_id: "u".into(),
            last_seen_at: last_seen,
            expires_at: i64::MAX,
            revoked_at: None,
            email: "a@example.com".into(),
            display_name: "A".into(),
            totp_enabled: false,
            user_created_at: 0,
        }
    }

    #[test]
    fn any_committed_write_makes_every_entry_stale() {
        let c = ReadCache::unwatched();
        let g = c.generation();
        c.put_session(b"h", g, &session("s", 1));
        assert!(c.session(b"h").is_some());
        c.invalidate();
        assert!(c.session(b"h").is_none(), "a revocation commits, so the entry must not be served");
    }

    #[test]
    fn a_read_that_raced_a_write_is_never_served() {
        let c = ReadCache::unwatched();
        let before_read = c.generation();
        c.invalidate(); // a write commits while the read is in flight
        c.put_session(b"h", before_read, &session("s", 1));
        assert!(c.session(b"h").is_none());
    }

    #[test]
    fn touches_update_last_seen_without_invalidating() {
        let c = ReadCache::unwatched();
        c.put_session(b"h", c.generation(), &session("s", 1));
        c.touched_session(&SessionId::from("s"), 50);
        assert_eq!(c.session(b"h").map(|s| s.last_seen_at), Some(50));
    }

    #[test]
    fn a_commit_by_another_connection_makes_every_entry_stale() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.db");
        let other = rusqlite::Connection::open(&path).expect("open");
        other.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (x INTEGER)").expect("schema");
        let c = ReadCache::new(Some(&path));
        c.put_session(b"h", c.generation(), &session("s", 1));
        assert!(c.session(b"h").is_some(), "nothing else wrote");
        other.execute("INSERT INTO t VALUES (1)", []).expect("write");
        std::thread::sleep(CHECK_EVERY);
        assert!(c.session(b"h").is_none(), "no epoch to tell what changed: the entry may be stale");
    }

    /// A SQLite file with a `rights_epoch`, another connection to write to it, and a cache
    /// watching it.
    fn watched_file_with_epoch() -> (tempfile::TempDir, rusqlite::Connection, ReadCache) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("c.db");
        let other = rusqlite::Connection::open(&path).expect("open");
        other
            .execute_batch(
                "PRAGMA journal_mode=WAL; CREATE TABLE t (x INTEGER); \
                 CREATE TABLE rights_epoch (singleton INTEGER PRIMARY KEY, generation BIGINT NOT NULL); \
                 INSERT INTO rights_epoch VALUES (1, 0);",
            )
            .expect("schema");
        let c = ReadCache::new(Some(&path));
        (dir, other, c)
    }

    #[test]
    fn only_commits_that_move_the_epoch_make_entries_stale() {
        let (_dir, other, c) = watched_file_with_epoch();
        c.put_session(b"h", c.generation(), &session("s", 1));
        let later = || std::thread::sleep(CHECK_EVERY);
        other.execute("INSERT INTO t VALUES (1)", []).expect("write");
        later();
        assert!(c.session(b"h").is_some(), "a commit that left the cached tables alone");
        other.execute("UPDATE rights_epoch SET generation = generation + 1", []).expect("revoke");
        later();
        assert!(c.session(b"h").is_none(), "a commit that changed a cached table");
        c.put_session(b"h", c.generation(), &session("s", 1));
        other.execute_batch("DROP TABLE rights_epoch").expect("drop");
        later();
        assert!(c.session(b"h").is_none(), "an unreadable epoch fails closed");
        c.put_session(b"h", c.generation(), &session("s", 1));
        other.execute("INSERT INTO t VALUES (2)", []).expect("write");
        later();
        assert!(c.session(b"h").is_none(), "and keeps failing closed");
    }

    /// A look vouches for [`CHECK_EVERY`]; a commit by this process looks at once, and one
    /// that moved the epoch is told to wait longer than that, so other processes look again.
    #[test]
    fn a_look_vouches_for_a_while_and_writers_outwait_it() {
        let (_dir, other, c) = watched_file_with_epoch();
        c.put_session(b"h", c.generation(), &session("s", 1));
        assert!(c.session(b"h").is_some(), "looked just now");
        // A revocation by another process, whose cache is not this one.
        other.execute("UPDATE rights_epoch SET generation = generation + 1", []).expect("revoke");
        let revoked = Instant::now();
        let served_stale = c.session(b"h").is_some();
        assert!(
            !served_stale || revoked.elapsed() < CHECK_EVERY,
            "an entry is served on an earlier look only within CHECK_EVERY"
        );
        std::thread::sleep(WRITER_WAIT);
        assert!(c.session(b"h").is_none(), "once the revoker has waited, the look has happened");

        // This process's own commit: looked at once, and the writer is told to wait.
        c.put_session(b"h", c.generation(), &session("s", 1));
        other.execute("UPDATE rights_epoch SET generation = generation + 1", []).expect("revoke");
        let wait = c.after_commit();
        assert!(wait.is_some_and(|w| w > CHECK_EVERY && w <= WRITER_WAIT), "{wait:?}");
        assert!(c.session(b"h").is_none(), "stale as soon as the commit returns");
        // A request's look that saw the move first does not spare the committer its wait.
        other.execute("UPDATE rights_epoch SET generation = generation + 1", []).expect("revoke");
        std::thread::sleep(CHECK_EVERY);
        assert!(c.session(b"h").is_none());
        let wait = c.after_commit();
        assert!(wait.is_some_and(|w| w > Duration::ZERO), "{wait:?}");
        std::thread::sleep(WRITER_WAIT);
        c.put_session(b"h", c.generation(), &session("s", 1));
        other.execute("INSERT INTO t VALUES (1)", []).expect("write");
        assert_eq!(c.after_commit(), None, "a commit that moved no epoch waits for nothing");
        assert!(c.session(b"h").is_some());
    }

    #[test]
    fn a_replica_serves_only_while_live_and_lately_heard() {
        let c = ReadCache::gated();
        let gate = c.gate.as_ref().expect("gate");
        c.put_session(b"h", c.generation(), &session("s", 1));
        assert!(c.session(b"h").is_none(), "dark until the listener has caught up");
        gate.go_live(gate.now_us());
        assert!(gate.is_live());
        assert!(c.session(b"h").is_some());
        gate.go_dark();
        assert!(c.session(b"h").is_none(), "a lost listener stops serving at once");
    }

    #[test]
    fn a_replica_that_heard_nothing_lately_stops_serving() {
        let mut c = ReadCache::gated();
        let ten_seconds_ago = Instant::now().checked_sub(Duration::from_secs(10)).expect("uptime");
        c.gate = Some(Gate { origin: ten_seconds_ago, live: AtomicBool::new(false), serve_until: AtomicU64::new(0) });
        let gate = c.gate.as_ref().expect("gate");
        c.put_session(b"h", c.generation(), &session("s", 1));
        gate.go_live(0); // listening since ten seconds ago, no ping heard since
        assert!(c.session(b"h").is_none(), "past the serve window");
        gate.heard(gate.now_us());
        assert!(c.session(b"h").is_some(), "a ping heard back opens the window again");
    }

    #[test]
    fn disabled_caches_keep_nothing() {
        let c = ReadCache::new(None);
        c.put_session(b"h", c.generation(), &session("s", 1));
        assert!(c.session(b"h").is_none());
    }
}
