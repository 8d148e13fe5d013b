//! Keeping each PostgreSQL replica's read cache in step with the others: the listener that
//! empties it on every change of rights and acknowledges, the heartbeat and ping that keep it
//! allowed to serve, and the revoker's wait for every live replica's acknowledgement. Why this
//! order of steps is safe is written in `cache.rs`.
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};

use crate::Result;
use crate::cache::{ACK_WAIT, ReadCache, SERVE_WINDOW};

/// The channel every replica listens on. Payloads: `w` (a transaction changed rights; sent by
/// the triggers at commit), `g:N` (rights epoch N, to acknowledge), `a` (someone acknowledged),
/// `p:ID:SEQ` (replica ID's ping number SEQ).
const CHANNEL: &str = "steward_rights";
/// How often a replica writes its heartbeat and pings itself.
const PING_EVERY: Duration = Duration::from_secs(1);
/// A replica whose heartbeat is older is not waited for (it has stopped serving from its
/// cache: its last ping heard was sent before its last heartbeat).
const STALE_AFTER_US: i64 = 5_000_000;
/// How long a graceful stop waits to remove this replica's row.
const LEAVE_WAIT: Duration = Duration::from_secs(5);
const _: () = assert!(STALE_AFTER_US as u128 >= SERVE_WINDOW.as_micros(), "stale replicas must be dark");
/// The database's clock in microseconds, so replicas' clocks never need to agree.
const DB_NOW_US: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)";

/// What a running replica knows about itself.
pub(crate) struct Replica {
    pub(crate) id: String,
    /// Pings sent and not yet heard back: (number, when sent, on the gate's clock).
    pings: Mutex<VecDeque<(u64, u64)>>,
}

/// Starts the listener and the heartbeat of this process's replica; they stop when the cache
/// is dropped or their tasks are aborted.
pub(crate) fn start(pool: &PgPool, cache: &Arc<ReadCache>) -> (Arc<Replica>, Vec<tokio::task::AbortHandle>) {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let replica = Arc::new(Replica { id: id.clone(), pings: Mutex::new(VecDeque::new()) });
    let options: PgConnectOptions =
        pool.connect_options().as_ref().clone().application_name(&format!("steward-listener {id}"));
    let listen = tokio::spawn(listen_loop(Arc::downgrade(cache), replica.clone(), pool.clone(), options));
    let beat = tokio::spawn(heartbeat_loop(Arc::downgrade(cache), replica.clone(), pool.clone()));
    (replica, vec![listen.abort_handle(), beat.abort_handle()])
}

/// The first wait before reconnecting a lost listener; doubled on each failed attempt.
const RECONNECT_FIRST: Duration = Duration::from_millis(50);

async fn listen_loop(cache: Weak<ReadCache>, me: Arc<Replica>, pool: PgPool, options: PgConnectOptions) {
    let mut backoff = RECONNECT_FIRST;
    loop {
        let Some(c) = cache.upgrade() else { return };
        if let Some(gate) = &c.gate {
            gate.go_dark();
        }
        drop(c);
        match listen_once(&cache, &me, &pool, &options, &mut backoff).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "the replica's listener lost its connection; serving without the read cache until it is back");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// One connection's life: listen, catch up, go live, then follow notifications until the
/// connection is lost (an error) or the cache is gone (`Ok`). Once live, the next loss waits
/// only the first `backoff` again: the replica is dark (slower) until it reconnects, and
/// earlier losses say nothing about this one.
async fn listen_once(
    cache: &Weak<ReadCache>,
    me: &Replica,
    pool: &PgPool,
    options: &PgConnectOptions,
    backoff: &mut Duration,
) -> Result<()> {
    let Some(gate_clock) = cache.upgrade().and_then(|c| c.gate.as_ref().map(|g| g.now_us())) else { return Ok(()) };
    // One connection of its own (named, so an operator sees it in pg_stat_activity).
    let listener_pool = PgPoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
    let mut listener = PgListener::connect_with(&listener_pool).await?;
    listener.listen(CHANNEL).await?;
    {
        let Some(c) = cache.upgrade() else { return Ok(()) };
        // Everything committed from now on reaches this listener; what came before, we forget.
        c.invalidate();
        let q = format!(
            "INSERT INTO replicas (id, started_at, heartbeat_at, acked) \
             VALUES ($1, {DB_NOW_US}, {DB_NOW_US}, (SELECT generation FROM rights_epoch WHERE singleton = 1)) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at, acked = EXCLUDED.acked"
        );
        sqlx::query(sqlx::AssertSqlSafe(q)).bind(&me.id).execute(pool).await?;
        if let Some(gate) = &c.gate {
            gate.go_live(gate_clock);
        }
        *backoff = RECONNECT_FIRST;
        wake_waiters(pool).await?;
    }
    loop {
        let Some(n) = listener.try_recv().await? else {
            return Err(crate::StoreError::Unreachable("the notification connection was closed".into()));
        };
        let Some(c) = cache.upgrade() else { return Ok(()) };
        let payload = n.payload();
        if payload == "w" {
            c.invalidate();
        } else if let Some(generation) = payload.strip_prefix("g:").and_then(|g| g.parse::<i64>().ok()) {
            // Forget first, then say so: an acknowledgement is a promise about every later request.
            c.invalidate();
            acknowledge(pool, &me.id, generation).await?;
        } else if payload == "a" {
            c.acks.notify_waiters();
        } else if let Some((who, seq)) = payload.strip_prefix("p:").and_then(|p| p.rsplit_once(':')) {
            if who == me.id
                && let Ok(seq) = seq.parse::<u64>()
            {
                let sent = {
                    let mut pings = me.pings.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    while pings.front().is_some_and(|(s, _)| *s < seq) {
                        pings.pop_front();
                    }
                    pings.front().filter(|(s, _)| *s == seq).map(|(_, at)| *at)
                };
                if let (Some(sent), Some(gate)) = (sent, &c.gate) {
                    gate.heard(sent);
                }
            }
        } else {
            // Unknown payload: be safe.
            c.invalidate();
        }
    }
}

async fn acknowledge(pool: &PgPool, id: &str, generation: i64) -> Result<()> {
    let q = format!(
        "WITH u AS (UPDATE replicas SET acked = GREATEST(acked, $2), heartbeat_at = {DB_NOW_US} WHERE id = $1 RETURNING 1) \
         SELECT pg_notify('{CHANNEL}', 'a') FROM u"
    );
    sqlx::query(sqlx::AssertSqlSafe(q)).bind(id).bind(generation).execute(pool).await?;
    Ok(())
}

async fn wake_waiters(pool: &PgPool) -> Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!("SELECT pg_notify('{CHANNEL}', 'a')"))).execute(pool).await?;
    Ok(())
}

async fn heartbeat_loop(cache: Weak<ReadCache>, me: Arc<Replica>, pool: PgPool) {
    let mut seq: u64 = 0;
    let mut tick = tokio::time::interval(PING_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(sent) = cache.upgrade().and_then(|c| c.gate.as_ref().map(|g| g.now_us())) else { return };
        seq += 1;
        {
            let mut pings = me.pings.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            pings.push_back((seq, sent));
            while pings.len() > 64 {
                pings.pop_front();
            }
        }
        // The heartbeat and the ping in one statement: a fresh heartbeat means a ping went out.
        let q = format!(
            "WITH u AS (UPDATE replicas SET heartbeat_at = {DB_NOW_US} WHERE id = $1 RETURNING 1) \
             SELECT pg_notify('{CHANNEL}', $2) FROM u"
        );
        let ping = format!("p:{}:{seq}", me.id);
        if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(q)).bind(&me.id).bind(&ping).execute(&pool).await {
            tracing::warn!(error = %e, "the replica's heartbeat failed");
        }
        if seq.is_multiple_of(600) {
            // Rows of replicas gone for an hour (killed ones leave theirs behind).
            let q = format!("DELETE FROM replicas WHERE heartbeat_at < {DB_NOW_US} - 3600000000");
            let _ = sqlx::query(sqlx::AssertSqlSafe(q)).execute(&pool).await;
        }
    }
}

/// After a commit that changed rights: bumps the epoch, announces it, and waits until every
/// live replica but `me` (whose cache the commit already emptied) has acknowledged it, or
/// [`ACK_WAIT`] has passed, after which a replica that has not cannot serve from its cache.
pub(crate) async fn announce(pool: &PgPool, cache: &ReadCache, me: Option<&str>) -> Result<()> {
    let q = format!(
        "WITH g AS (UPDATE rights_epoch SET generation = generation + 1 WHERE singleton = 1 RETURNING generation) \
         SELECT generation, pg_notify('{CHANNEL}', 'g:' || generation)::TEXT FROM g"
    );
    let (generation, _): (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(q)).fetch_one(pool).await?;
    let deadline = tokio::time::Instant::now() + ACK_WAIT;
    let behind_q = format!(
        "SELECT id FROM replicas WHERE acked < $1 AND heartbeat_at > {DB_NOW_US} - {STALE_AFTER_US} \
         AND ($2::TEXT IS NULL OR id <> $2)"
    );
    loop {
        // Registered before the check, so an acknowledgement written in between still wakes us.
        let woken = cache.acks.notified();
        let behind: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(behind_q.clone())).bind(generation).bind(me).fetch_all(pool).await?;
        if behind.is_empty() {
            return Ok(());
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            tracing::warn!(replicas = ?behind, generation, "replicas did not acknowledge a change of rights in time; they have stopped serving from their caches");
            return Ok(());
        }
        // Without a listener of our own (an admin command), poll.
        let _ = tokio::time::timeout((deadline - now).min(Duration::from_millis(20)), woken).await;
    }
}

/// Removes this replica's row at a graceful stop, so revokers stop waiting for it at once.
/// Bounded: a stop must not wait on a lock someone else holds on the row (an operator's open
/// transaction); a row left behind only makes revokers wait until its heartbeat is stale.
pub(crate) async fn leave(pool: &PgPool, id: &str) {
    let delete = sqlx::query("DELETE FROM replicas WHERE id = $1").bind(id).execute(pool);
    if tokio::time::timeout(LEAVE_WAIT, delete).await.is_err() {
        tracing::warn!("removing this replica's row took over {LEAVE_WAIT:?}; stopping without it");
    }
}
