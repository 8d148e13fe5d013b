//! Steward's persistence layer: one [`Store`] over SQLite or PostgreSQL.
//!
//! Both databases run the same portable SQL (`$1` placeholders work on both), so each query
//! is written once; the [`on_pool!`] and [`on_tx!`] macros expand it for each backend's native
//! sqlx driver, keeping native types without sqlx's `Any` driver. Where the databases truly
//! differ (row locks, how a write transaction starts) the code says so at that spot.
//! Writes go through [`Tx`], so a change and the audit event that records it commit together.
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

mod accounts;
mod alerts;
mod audit;
mod audit_scan;
mod audit_seal;
mod cache;
/// SQLite: how long a commit that changed rights waits before it returns, so that the server's
/// read cache (in another process) has looked at the file again (`cache.rs`).
pub const SQLITE_REVOCATION_WAIT: std::time::Duration = cache::WRITER_WAIT;
mod decode;
mod group;
mod identity;
mod media;
mod notifications;
mod oauth;
mod posts;
mod publishing;
mod replicas;
pub mod testing;
mod throttle;
mod vault;

pub use accounts::{
    AccountRow, AccountSettings, InvitationRow, LockdownPostRow, MemberRow, MembershipRow, MembershipTerms, NewAccount,
    NewInvitation,
};
pub use alerts::{AlertAckRow, AlertPreferencesRow, AlertRow, DeliveryRow, DeliveryStatusRow, Finding, Raised};
pub use audit::{ActivityFilter, AuditEventRow, CheckpointRow, NewAuditEvent};
pub use audit_scan::{AuditBatch, ChainEvent};
pub use identity::{
    ApiTokenRow, AuthSessionRow, AuthTokenRow, NewApiToken, NewSession, NewUser, ResetLimits, ResetReservation,
    SessionRow, UserRow, tombstone_email,
};
pub use notifications::{
    DigestAccountRow, DigestSubscriberRow, NewNotification, NotificationMailRow, NotificationPreferencesRow,
    NotificationRow,
};
pub use oauth::{MastodonAppRow, NewOauthState, OauthStateRow, PageChoiceRow};
pub use posts::{
    ApprovalRow, CALENDAR_TEXT_CHARS, CalendarPostRow, ChangesRequestedRow, HeldPostRow, MediaUploadRow,
    NewMediaUpload, NewPost, NewPostComment, PaceSlotRow, PostCommentRow, PostContent, PostExtras, PostListQuery,
    PostRow, PostStateWrite, PostVersionRow, PublishResultWrite, ScheduleWrite,
};
pub use publishing::{
    JobStart, JobUpdate, NewSandboxComment, NewSandboxPost, PublishAttemptRow, PublishJobRow, PublishedSlotRow,
    SandboxCommentRow, SandboxPostRow,
};
pub use throttle::{AttemptLimits, AttemptScope, DeniedBurstRow, Reservation};
pub use vault::{SealedAccountRow, SealedTotpRow};

/// Unix time in microseconds: how every instant is stored.
pub type Micros = i64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("reading the SQLite file directly failed: {0}")]
    DirectRead(#[source] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database cannot be reached or opened; the sentence names where and what to check.
    #[error("{0}")]
    Unreachable(String),
    /// Too many writers at once: SQLite's write lock stayed taken past its busy timeout, or no
    /// pooled connection came free in time. Nothing was changed; the caller may retry.
    #[error("the database is busy: {0}")]
    Busy(#[source] sqlx::Error),
    /// SQLite: the commit this transaction's group shared failed, so its changes are not
    /// durable (group.rs).
    #[error("the commit failed: {0}")]
    GroupCommit(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(ref db) if db.is_unique_violation() => {
                StoreError::Conflict(db.constraint().unwrap_or("unique").to_string())
            }
            sqlx::Error::Database(ref db)
                if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some_and(is_busy) =>
            {
                StoreError::Busy(e)
            }
            sqlx::Error::PoolTimedOut => StoreError::Busy(e),
            other => StoreError::Database(other),
        }
    }
}

/// SQLite's `SQLITE_BUSY` and `SQLITE_LOCKED` (5, 6), extended codes included (their low byte).
fn is_busy(e: &sqlx::sqlite::SqliteError) -> bool {
    use sqlx::error::DatabaseError;
    e.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| matches!(c & 0xff, 5 | 6))
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database behind Steward. Cheap to clone (a pool handle).
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    pub(crate) cache: std::sync::Arc<cache::ReadCache>,
    /// Whether raising an alert queues email deliveries (false when the server has no mail).
    pub(crate) email_deliveries: bool,
    /// PostgreSQL, once [`Store::start_replica_sync`] ran: this replica, and its tasks.
    replica: std::sync::Arc<std::sync::Mutex<Option<ReplicaRunning>>>,
    /// SQLite has one writer at a time: this process's write transactions queue here, in
    /// order, instead of at `BEGIN IMMEDIATE`, where a waiting connection sleeps in SQLite's
    /// busy handler (1, 2, 5, 10… ms) long after the lock came free.
    /// SQLite: the write turn and the commit group it shares (group.rs).
    pub(crate) groups: std::sync::Arc<group::Groups>,
    /// PostgreSQL: the rounds that move pending audit events into the chain (`audit_seal.rs`).
    pub(crate) sealer: std::sync::Arc<audit_seal::Sealer>,
}

struct ReplicaRunning {
    me: std::sync::Arc<replicas::Replica>,
    tasks: Vec<tokio::task::AbortHandle>,
}

/// How long a write transaction waits for its turn (group.rs) before it goes to SQLite's
/// own lock anyway (the same bound as `busy_timeout`), so a nested transaction errs, never hangs.
const WRITE_GATE_WAIT: Duration = Duration::from_secs(10);
/// SQLite connections in the pool at most.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
/// A pooled SQLite connection unused this long is closed (down to one).
const SQLITE_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stop waits for the pool's connections to close.
const CLOSE_WAIT: Duration = Duration::from_secs(3);
/// A PostgreSQL connection idle at least this long is pinged before it is used again.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A write transaction. Dropping it without [`Tx::commit`] rolls everything back.
pub struct Tx {
    pub(crate) inner: TxInner,
    pub(crate) cache: std::sync::Arc<cache::ReadCache>,
    pub(crate) backend: Backend,
    pub(crate) email_deliveries: bool,
    /// PostgreSQL: the pool (to announce a change of rights after the commit) and this replica.
    announce: Option<(PgPool, Option<String>)>,
    /// PostgreSQL: the store, to seal this transaction's audit events after its commit.
    sealing: Option<Store>,
    /// Whether this transaction wrote an event to `audit_pending` (PostgreSQL).
    pub(crate) pending_audit: bool,
    /// PostgreSQL: `steward.rights_changed` as returned by this transaction's last statement
    /// (the audit event's insert asks for it), so the commit need not ask again.
    pub(crate) rights_flag: Option<bool>,
    /// SQLite: the chain's head and an account's facts, read with this transaction's last
    /// statement for the audit event that follows it (`Tx::insert_post_with`); any other
    /// statement forgets them, since it may move the head or change the account.
    pub(crate) head_ahead: Option<(steward_domain::ids::AccountId, audit::HeadAndFacts)>,
}

pub(crate) enum TxInner {
    /// SQLite, inside the open commit group (group.rs).
    SqliteGroup(group::Turn),
    /// SQLite, a transaction of its own: only when the turn did not come in time (a
    /// transaction begun inside another), which then waits for SQLite's lock and errs.
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$body` with `$c` bound to the backend's pool; the body is compiled once per backend.
macro_rules! on_pool {
    ($store:expr, |$c:ident| $body:expr) => {
        match &$store.pool {
            $crate::Pool::Sqlite($c) => $body,
            $crate::Pool::Postgres($c) => $body,
        }
    };
}
/// Runs `$body` with `$c` bound to the transaction's connection.
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {{
        // A statement may fire the triggers that flag a change of rights: a flag read before
        // it is no longer the transaction's.
        $tx.rights_flag = None;
        $tx.head_ahead = None;
        // One arm per backend, not per kind of transaction: the body (a query's whole future)
        // is compiled once for each arm.
        match $tx.inner.connection() {
            $crate::TxConnection::Sqlite($c) => $body,
            $crate::TxConnection::Postgres($c) => $body,
        }
    }};
}

/// A write transaction's connection, whichever kind of transaction holds it.
pub(crate) enum TxConnection<'a> {
    Sqlite(&'a mut sqlx::SqliteConnection),
    Postgres(&'a mut sqlx::PgConnection),
}

impl TxInner {
    pub(crate) fn connection(&mut self) -> TxConnection<'_> {
        match self {
            TxInner::SqliteGroup(t) => TxConnection::Sqlite(t.conn()),
            TxInner::Sqlite(t) => TxConnection::Sqlite(t),
            TxInner::Postgres(t) => TxConnection::Postgres(t),
        }
    }
}
pub(crate) use {on_pool, on_tx};

/// The file of an SQLite database URL (`None` for PostgreSQL or an unreadable URL).
#[must_use]
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    if !url.starts_with("sqlite:") {
        return None;
    }
    SqliteConnectOptions::from_str(url).ok().map(|o| o.get_filename().to_path_buf())
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<Self> {
        let store = Self::connect(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    ///
    /// PostgreSQL is tried once first, for at most 2 s: the pool retries until its timeout and
    /// then says only "pool timed out", where an operator needs "connection refused at host:port".
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // A "published" mark must survive a power loss, or a post goes out twice.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                // Every write transaction is a savepoint inside a group (`group.rs`), and SQLite
                // keeps each savepoint's undo pages in a sub-journal: a temporary file once it
                // has grown past 64 KiB (one draft's pages do), written with a syscall per page
                // until the group commits (a fifth of the writer's time under load). In memory
                // it is a copy, dropped at each release; so bulk deletes go in batches
                // (`audit_verify::PRUNE_BATCH`).
                .pragma("temp_store", "memory")
                .busy_timeout(Duration::from_secs(10));
            let file = opts.get_filename().display().to_string();
            // No ping before each use: a connection to a local file does not drop, and the ping
            // was one more round trip to SQLite's worker thread on every query.
            // Each connection holds its own schema, page cache, prepared statements and worker
            // thread. Four are enough on SQLite (one writer at a time; the read cache answers
            // most lookups). A connection unused for 30 s is closed, down to one; while the
            // background workers run, sqlx hands its idle connections out in turn, so that
            // seldom happens (BENCHMARKS.md, "Less code and fewer holes").
            let pool = SqlitePoolOptions::new()
                .max_connections(SQLITE_MAX_CONNECTIONS)
                .min_connections(1)
                .idle_timeout(SQLITE_IDLE_TIMEOUT)
                .test_before_acquire(false);
            Pool::Sqlite(pool.connect_with(opts).await.map_err(|e| {
                StoreError::Unreachable(format!(
                    "cannot open the SQLite database {file}: {}; create its directory (writable by this user) or set STEWARD_DATA_DIR or STEWARD_DATABASE_URL",
                    sqlite_words(&e)
                ))
            })?)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            probe_postgres(url).await?;
            // A connection back from use within the last second is known to work: only one idle
            // longer is pinged before it is handed out. Pinging every one (sqlx's default) cost
            // a network round trip per query and per transaction under load.
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= PING_AFTER_IDLE {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                });
            Pool::Postgres(pool.connect(url).await?)
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        // On SQLite, one server per file, and the cache watches the file (see cache.rs). On
        // PostgreSQL the cache serves nothing until `start_replica_sync` keeps it in step.
        let cache = match &pool {
            Pool::Sqlite(p) => cache::ReadCache::new(Some(p.connect_options().get_filename())),
            Pool::Postgres(_) => cache::ReadCache::gated(),
        };
        Ok(Self {
            pool,
            cache: std::sync::Arc::new(cache),
            email_deliveries: true,
            replica: Default::default(),
            groups: Default::default(),
            sealer: Default::default(),
        })
    }

    /// Whether alerts raised through this store queue email deliveries (on by default; off on
    /// a server without mail, where they could only be given up).
    #[must_use]
    pub fn with_email_deliveries(mut self, on: bool) -> Self {
        self.email_deliveries = on;
        self
    }

    pub async fn migrate(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(p) => sqlx::migrate!("migrations/sqlite").run(p).await?,
            // sqlx takes an advisory lock, so replicas starting together migrate once.
            Pool::Postgres(p) => sqlx::migrate!("migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Checks that the database answers (`/readyz`).
    pub async fn ping(&self) -> Result<()> {
        on_pool!(self, |c| sqlx::query("SELECT 1").execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx> {
        // IMMEDIATE takes SQLite's write lock up front: a deferred transaction that reads and
        // then writes can fail with SQLITE_BUSY when another writer committed in between,
        // which busy_timeout cannot cure.
        let inner = match &self.pool {
            Pool::Sqlite(p) => match self.groups.begin(p, WRITE_GATE_WAIT).await? {
                Some(turn) => TxInner::SqliteGroup(turn),
                None => TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            },
            Pool::Postgres(p) => TxInner::Postgres(p.begin().await?),
        };
        let announce = match &self.pool {
            Pool::Sqlite(_) => None,
            Pool::Postgres(p) => Some((p.clone(), self.replica_id())),
        };
        Ok(Tx {
            inner,
            cache: self.cache.clone(),
            backend: self.backend(),
            email_deliveries: self.email_deliveries,
            announce,
            sealing: match &self.pool {
                Pool::Sqlite(_) => None,
                Pool::Postgres(_) => Some(self.clone()),
            },
            pending_audit: false,
            rights_flag: None,
            head_ahead: None,
        })
    }

    fn replica_id(&self) -> Option<String> {
        let running = self.replica.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        running.as_ref().map(|r| r.me.id.clone())
    }

    /// Makes this process a replica whose read cache other replicas keep in step (PostgreSQL:
    /// a listener and a heartbeat, see `cache.rs`); a no-op on SQLite or when already running.
    /// Until the listener has caught up, every lookup reads the database.
    pub fn start_replica_sync(&self) {
        let Pool::Postgres(p) = &self.pool else { return };
        let mut running = self.replica.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if running.is_none() {
            let (me, mut tasks) = replicas::start(p, &self.cache);
            // Writers hand their events to this sealer; it also seals what a crashed writer left.
            let store = self.clone();
            tasks.push(tokio::spawn(async move { store.seal_in_background().await }).abort_handle());
            *running = Some(ReplicaRunning { me, tasks });
        }
    }

    /// Whether this replica's cache may serve now (its listener has caught up and heard itself).
    #[must_use]
    pub fn replica_cache_live(&self) -> bool {
        self.cache.gate.as_ref().is_some_and(cache::Gate::may_serve)
    }

    /// Announces a change of rights made outside Steward (an operator's SQL) and waits until
    /// every live replica has emptied its cache (PostgreSQL), or until the server's cache has
    /// looked at the file again (SQLite, whose cache sees other writers by itself).
    pub async fn announce_rights_change(&self) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(_) => {
                // This cache looks now; any other process's looks again within the wait.
                self.cache.after_commit();
                tokio::time::sleep(cache::WRITER_WAIT).await;
                Ok(())
            }
            Pool::Postgres(p) => {
                self.cache.invalidate();
                replicas::announce(p, &self.cache, self.replica_id().as_deref()).await
            }
        }
    }

    pub async fn close(&self) {
        let running = self.replica.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let (Some(r), Pool::Postgres(p)) = (running, &self.pool) {
            for t in r.tasks {
                t.abort();
            }
            replicas::leave(p, &r.me.id).await;
            // What writers handed to the stopped sealer is chained now rather than at the next
            // start (it is durable either way, so a stop does not wait long for the head).
            match tokio::time::timeout(Duration::from_secs(10), self.seal_pending_audit()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "sealing pending audit events at shutdown failed; the next start seals them");
                }
                Err(_) => {
                    tracing::warn!("sealing pending audit events at shutdown took over 10 s; the next start seals them")
                }
            }
        }
        self.groups.close().await;
        // Bounded too: a connection whose statement waits on a lock held elsewhere (an
        // operator's open transaction on this replica's row, which the heartbeat and the leave
        // above gave up on) is not back until that lock is released, and closing the pool
        // waits for every connection. The process exits without it; the database ends the
        // session once the statement ends.
        if tokio::time::timeout(CLOSE_WAIT, async { on_pool!(self, |c| c.close().await) }).await.is_err() {
            tracing::warn!(
                "closing the database connections took over {CLOSE_WAIT:?}; stopping without waiting for them"
            );
        }
    }
}

/// Whether the triggers on the cached tables fired in this transaction (PostgreSQL).
pub(crate) const RIGHTS_CHANGED_SQL: &str = "SELECT current_setting('steward.rights_changed', true)";

impl Tx {
    pub async fn commit(mut self) -> Result<()> {
        let sealing = if self.pending_audit { self.sealing.take() } else { None };
        self.commit_only().await?;
        // The change and its event are committed. The background sealer chains the event, or,
        // where none runs, the use case returns once it is in the chain. Should sealing fail,
        // the event stays pending (durable) for the next round.
        if let Some(store) = sealing.filter(|s| !s.sealer.hand_over()) {
            // Every event committed so far is sealed by a round that starts from here on.
            let ticket = store.sealer.ticket();
            if let Err(e) = store.seal_audit_after(ticket).await {
                tracing::warn!(error = %e, "sealing audit events into the chain failed; they wait for the next round");
            }
        }
        Ok(())
    }

    /// Commits, tells the read caches, and nothing else (a sealing round's own commit).
    pub(crate) async fn commit_only(self) -> Result<()> {
        let rights_changed = match self.inner {
            TxInner::SqliteGroup(turn) => {
                turn.commit().await?;
                false
            }
            TxInner::Sqlite(t) => {
                t.commit().await?;
                false
            }
            TxInner::Postgres(mut t) => {
                // Set by the triggers on the cached tables (migration 0017).
                let changed = match self.rights_flag {
                    Some(changed) => changed,
                    None => {
                        let flag: Option<String> = sqlx::query_scalar(RIGHTS_CHANGED_SQL).fetch_one(&mut *t).await?;
                        flag.as_deref() == Some("1")
                    }
                };
                t.commit().await?;
                changed
            }
        };
        // Before returning: the caller's next request must not see what this write replaced.
        // On PostgreSQL the triggers say whether a cached row changed at all (a new draft
        // leaves every cached session and membership as it was, and keeps them cached); a
        // watched SQLite cache checks the triggers' epoch before its next answer (cache.rs).
        if rights_changed || (self.backend == Backend::Sqlite && !self.cache.watches_commits()) {
            self.cache.invalidate();
        }
        // A watched SQLite cache looks now; a commit that moved the epoch returns only once
        // any other process's cache has looked again too (cache.rs).
        if self.backend == Backend::Sqlite
            && let Some(wait) = self.cache.after_commit()
        {
            tokio::time::sleep(wait).await;
        }
        // …on any replica: a change of rights returns once every live replica has forgotten.
        if rights_changed && let Some((pool, me)) = &self.announce {
            replicas::announce(pool, &self.cache, me.as_deref()).await?;
        }
        Ok(())
    }

    #[must_use]
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Store {
    /// Writes a consistent copy of a SQLite database to `path` (`VACUUM INTO`), while it serves.
    pub async fn sqlite_backup(&self, path: &str) -> Result<()> {
        match &self.pool {
            Pool::Sqlite(p) => {
                sqlx::query("VACUUM INTO $1").bind(path).execute(p).await?;
                Ok(())
            }
            Pool::Postgres(_) => Err(StoreError::UnsupportedUrl),
        }
    }
}

/// One connection attempt to PostgreSQL, so a server that is down or unreachable is named at once.
async fn probe_postgres(url: &str) -> Result<()> {
    use sqlx::Connection;
    let opts = sqlx::postgres::PgConnectOptions::from_str(url)?;
    let target = format!("{}:{}", opts.get_host(), opts.get_port());
    let fix = "check that PostgreSQL is running there and STEWARD_DATABASE_URL";
    match tokio::time::timeout(Duration::from_secs(2), sqlx::PgConnection::connect_with(&opts)).await {
        Err(_) => Err(StoreError::Unreachable(format!(
            "cannot connect to PostgreSQL: no answer within 2 s at {target}; {fix}"
        ))),
        Ok(Err(sqlx::Error::Io(e))) => {
            let what = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
                _ => e.to_string(),
            };
            Err(StoreError::Unreachable(format!("cannot connect to PostgreSQL: {what} at {target}; {fix}")))
        }
        Ok(Err(sqlx::Error::Database(e))) => Err(StoreError::Unreachable(format!(
            "PostgreSQL at {target} refused the connection: {}; check the user, password and database in STEWARD_DATABASE_URL",
            e.message()
        ))),
        Ok(Err(e)) => Err(e.into()),
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
    }
}

/// SQLite's error in words, without sqlx's wrapping.
fn sqlite_words(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Idle memory: at most four SQLite connections, and a burst's extra ones do not stay open
    /// for sqlx's default ten minutes.
    #[test]
    fn idle_sqlite_connections_are_closed_down_to_one() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        rt.block_on(async {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let store = Store::open(&format!("sqlite://{}", dir.path().join("idle.db").display()))
                .await
                .expect("an SQLite store");
            let Pool::Sqlite(pool) = &store.pool else { panic!("an SQLite store") };
            assert_eq!(pool.options().get_idle_timeout(), Some(SQLITE_IDLE_TIMEOUT));
            assert_eq!(SQLITE_IDLE_TIMEOUT, Duration::from_secs(30));
            assert_eq!(pool.options().get_min_connections(), 1);
            assert_eq!(pool.options().get_max_connections(), 4);
            let temp_store: i64 = sqlx::query_scalar("PRAGMA temp_store").fetch_one(pool).await.expect("temp_store");
            assert_eq!(temp_store, 2, "savepoints' sub-journals are kept in memory");
            store.close().await;
        });
    }

    /// SQLite reads the value of a bare parameter in `LIMIT` while planning, so rebinding it (every
    /// execution) expires the prepared statement and each run parses and plans it again: a
    /// fifth of the writer's time under load went there. `LIMIT CAST($n AS BIGINT)` is an
    /// expression SQLite does not look into, and means the same on PostgreSQL.
    #[test]
    fn no_statement_limits_by_a_bare_parameter() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let bare = ["LIMIT $", "LIMIT ?", "OFFSET $", "OFFSET ?"];
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).expect("the store's sources") {
            let path = entry.expect("a directory entry").path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            for (n, line) in text.lines().enumerate() {
                if bare.iter().any(|b| line.contains(b)) && !line.contains("let bare =") {
                    found.push(format!("{file}:{}: {}", n + 1, line.trim()));
                }
            }
        }
        assert!(found.is_empty(), "bind LIMIT/OFFSET through CAST(… AS BIGINT):\n{}", found.join("\n"));
    }
}
