//! A read cache for the two lookups every authenticated request makes (the session, and the
//! caller's membership of an account), used only on SQLite.
//!
//! Why it is safe: an SQLite database file is served by one Steward process (the server takes
//! an exclusive lock next to the file), and every change it makes goes through
//! [`crate::Tx::commit`], which bumps a generation counter *before returning*. Other processes
//! may still write the file (`steward admin …`, an operator's `sqlite3`): before serving an
//! entry, the cache asks SQLite's `PRAGMA data_version` on a connection of its own, which changes
//! whenever any other connection has committed, and bumps the generation when it has. An entry is used only while the generation it was read under is still current,
//! so after any committed write (a revocation, a removal, a downgrade, anything) every entry is
//! stale and the next request reads the database again. A cached answer is therefore never older
//! than the last committed write — what a fresh read would give — and Invariant 8 holds: once a
//! revocation returns, no later request is served from before it. PostgreSQL deployments can run
//! several replicas, whose writes this process would not see, so there the cache is off.
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use steward_domain::ids::{AccountId, UserId};

use crate::{AccountRow, AuthSessionRow, MembershipRow};

/// Entries kept before the cache is emptied (a crude but bounded policy).
const MAX_ENTRIES: usize = 10_000;

type AccessKey = (String, String);
type Access = (AccountRow, MembershipRow);

#[derive(Default)]
pub(crate) struct ReadCache {
    enabled: bool,
    generation: AtomicU64,
    /// A connection of the cache's own to the SQLite file, and the `data_version` it last saw.
    watcher: Option<Mutex<(rusqlite::Connection, i64)>>,
    sessions: Mutex<HashMap<Vec<u8>, (u64, AuthSessionRow)>>,
    access: Mutex<HashMap<AccessKey, (u64, Access)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ReadCache {
    /// A cache for the SQLite file at `sqlite_file` (`None`: no cache, e.g. on PostgreSQL). If
    /// the file cannot be watched for other writers, there is no cache either: fail closed.
    pub(crate) fn new(sqlite_file: Option<&std::path::Path>) -> Self {
        let watcher = sqlite_file.and_then(|path| {
            let conn = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .ok()?;
            let version = data_version(&conn)?;
            Some(Mutex::new((conn, version)))
        });
        Self { enabled: watcher.is_some(), watcher, ..Self::default() }
    }

    /// A cache that trusts this process's commits alone (unit tests).
    #[cfg(test)]
    fn unwatched() -> Self {
        Self { enabled: true, ..Self::default() }
    }

    /// Makes every entry stale if another connection committed since the last look. A watcher
    /// that can no longer answer disables nothing silently: it invalidates every time.
    fn notice_other_writers(&self) {
        let Some(watcher) = &self.watcher else { return };
        let mut w = lock(watcher);
        match data_version(&w.0) {
            Some(v) if v == w.1 => {}
            Some(v) => {
                w.1 = v;
                self.invalidate();
            }
            None => self.invalidate(),
        }
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
        if !self.enabled {
            return None;
        }
        self.notice_other_writers();
        let current = self.generation();
        lock(&self.sessions).get(token_hash).filter(|(g, _)| *g == current).map(|(_, row)| row.clone())
    }

    pub(crate) fn put_session(&self, token_hash: &[u8], generation: u64, row: &AuthSessionRow) {
        if !self.enabled {
            return;
        }
        let mut map = lock(&self.sessions);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(token_hash.to_vec(), (generation, row.clone()));
    }

    /// Mirrors a `last_seen_at` update (not a permission change, so it bumps no generation).
    pub(crate) fn touched_session(&self, session_id: &str, now: i64) {
        if !self.enabled {
            return;
        }
        for (_, row) in lock(&self.sessions).values_mut() {
            if row.id == session_id && row.last_seen_at < now {
                row.last_seen_at = now;
            }
        }
    }

    pub(crate) fn access(&self, account_id: &AccountId, user_id: &UserId) -> Option<(AccountRow, MembershipRow)> {
        if !self.enabled {
            return None;
        }
        self.notice_other_writers();
        let current = self.generation();
        let key = (account_id.to_string(), user_id.to_string());
        lock(&self.access).get(&key).filter(|(g, _)| *g == current).map(|(_, v)| v.clone())
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
        map.insert((account_id.to_string(), user_id.to_string()), (generation, value.clone()));
    }
}

/// SQLite's count of commits by other connections, as seen from `conn`.
fn data_version(conn: &rusqlite::Connection) -> Option<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0)).ok()
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
        c.touched_session("s", 50);
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
        assert!(c.session(b"h").is_none(), "another process committed: the entry may be stale");
    }

    #[test]
    fn disabled_caches_keep_nothing() {
        let c = ReadCache::new(None);
        c.put_session(b"h", c.generation(), &session("s", 1));
        assert!(c.session(b"h").is_none());
    }
}
