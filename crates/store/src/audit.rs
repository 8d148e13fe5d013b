//! The append-only, hash-chained audit log.
use steward_domain::audit_chain::{EventFields, event_hash};
use steward_domain::ids::{AccountId, SessionId, UserId};

use crate::alerts::{self, MaybeAccountFacts};
use crate::{Backend, Micros, Result, Store, Tx, on_pool, on_tx};

/// What the chain hashes of an event (a stored row, or one about to be appended as `seq`):
/// both structs name these fields alike.
macro_rules! event_fields {
    ($seq:expr, $ev:expr) => {
        EventFields {
            seq: $seq,
            id: &$ev.id,
            at_us: $ev.at,
            actor_id: $ev.actor_id.as_deref(),
            actor_email: $ev.actor_email.as_deref(),
            session_id: $ev.session_id.as_deref(),
            ip: $ev.ip.as_deref(),
            user_agent: $ev.user_agent.as_deref(),
            action: &$ev.action,
            target: $ev.target.as_deref(),
            account_id: $ev.account_id.as_deref(),
            outcome: &$ev.outcome,
            detail: &$ev.detail,
        }
    };
}

/// The chain's head and the facts of the account whose id the caller appends (a parameter).
macro_rules! head_and_facts_sql {
    () => {
        "SELECT h.seq, h.hash, a.owner_id, a.handle, a.time_zone, a.alert_thresholds FROM audit_head h \
         LEFT JOIN social_accounts a ON a.id = "
    };
}
pub(crate) use head_and_facts_sql;

/// Binds an event's own columns, `id` to `detail` in the order `audit_pending` and
/// `audit_events` list them.
macro_rules! bind_event {
    ($query:expr, $ev:expr) => {
        $query
            .bind(&$ev.id)
            .bind($ev.at)
            .bind($ev.actor_id.as_deref())
            .bind(&$ev.actor_email)
            .bind($ev.session_id.as_deref())
            .bind(&$ev.ip)
            .bind(&$ev.user_agent)
            .bind(&$ev.action)
            .bind(&$ev.target)
            .bind($ev.account_id.as_deref())
            .bind(&$ev.outcome)
            .bind(&$ev.detail)
    };
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEventRow {
    pub seq: i64,
    pub id: String,
    pub at: Micros,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub session_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub account_id: Option<String>,
    pub outcome: String,
    pub detail: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl AuditEventRow {
    /// An event not yet in the chain (no number, no hashes), for the detectors.
    pub(crate) fn unchained(ev: NewAuditEvent) -> Self {
        AuditEventRow {
            seq: 0,
            id: ev.id,
            at: ev.at,
            actor_id: ev.actor_id.map(String::from),
            actor_email: ev.actor_email,
            session_id: ev.session_id.map(String::from),
            ip: ev.ip,
            user_agent: ev.user_agent,
            action: ev.action,
            target: ev.target,
            account_id: ev.account_id.map(String::from),
            outcome: ev.outcome,
            detail: ev.detail,
            prev_hash: Vec::new(),
            hash: Vec::new(),
        }
    }

    #[must_use]
    pub fn fields(&self) -> EventFields<'_> {
        event_fields!(self.seq, self)
    }
}

/// An event to append; the store assigns its place in the chain.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct NewAuditEvent {
    pub id: String,
    pub at: Micros,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub actor_id: Option<UserId>,
    pub actor_email: Option<String>,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub session_id: Option<SessionId>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target: Option<String>,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub account_id: Option<AccountId>,
    pub outcome: String,
    /// A JSON object with what a person needs to understand the event.
    pub detail: String,
}

impl NewAuditEvent {
    /// What the chain hashes of this event as event `seq`.
    #[must_use]
    pub fn fields(&self, seq: i64) -> EventFields<'_> {
        event_fields!(seq, self)
    }
}

const EVENT_COLUMNS: &str = "seq, id, at, actor_id, actor_email, session_id, ip, user_agent, action, target, account_id, outcome, detail, prev_hash, hash";

impl Tx {
    /// Records `ev` with this transaction's change: if the transaction does not commit, neither
    /// does the event, and if the event cannot be written the caller's change must not commit
    /// either (the error propagates).
    ///
    /// SQLite appends it to the chain at once (its write transaction already holds the one
    /// write lock). PostgreSQL writes it to `audit_pending` without touching the chain's head, so
    /// concurrent writers never wait for each other here and their commits share WAL flushes;
    /// after [`Tx::commit`] a sealing round puts it in the chain (`audit_seal.rs`: in the
    /// background in a server, which every reader of the chain waits for; else before `commit`
    /// returns).
    pub async fn append_audit(&mut self, ev: NewAuditEvent) -> Result<()> {
        match self.backend {
            Backend::Sqlite => {
                self.append_audit_now(ev).await?;
            }
            Backend::Postgres => {
                // The insert also answers whether this transaction changed rights so far, as
                // the commit needs to know (one round trip fewer when it is the last statement).
                // …and the account facts the detectors need (another round trip fewer).
                let q = "INSERT INTO audit_pending (id, at, actor_id, actor_email, session_id, ip, user_agent, action, \
                         target, account_id, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                         RETURNING current_setting('steward.rights_changed', true) AS rights_changed, \
                         (SELECT owner_id FROM social_accounts WHERE id = $10) AS owner_id, \
                         (SELECT handle FROM social_accounts WHERE id = $10) AS handle, \
                         (SELECT time_zone FROM social_accounts WHERE id = $10) AS time_zone, \
                         (SELECT alert_thresholds FROM social_accounts WHERE id = $10) AS alert_thresholds";
                let written: PendingWritten = on_tx!(self, |c| bind_event!(sqlx::query_as(q), ev).fetch_one(c).await)?;
                let changed = written.rights_changed.as_deref() == Some("1");
                self.pending_audit = true;
                // Detection here, in parallel with other writers; raising (grouping into an
                // alert) waits for the sealing round, which takes the findings in chain order.
                let id = ev.id.clone();
                let findings =
                    self.findings_after(&AuditEventRow::unchained(ev), written.account.facts(), None).await?;
                if !findings.is_empty() {
                    let json = serde_json::to_string(&findings)
                        .map_err(|e| crate::StoreError::Database(sqlx::Error::Encode(Box::new(e))))?;
                    let q = "UPDATE audit_pending SET findings = $2 WHERE id = $1";
                    on_tx!(self, |c| sqlx::query(q).bind(&id).bind(&json).execute(c).await.map(|r| r.rows_affected()))?;
                }
                // Neither the detectors' reads nor the findings' update touch a cached table.
                self.rights_flag = Some(changed);
            }
        }
        Ok(())
    }

    /// SQLite: appends `ev` to the chain now (this transaction holds the one write lock until
    /// it ends; PostgreSQL writers go through `audit_pending` instead).
    async fn append_audit_now(&mut self, ev: NewAuditEvent) -> Result<AuditEventRow> {
        // The head and, in the same statement, the account facts the detectors need: read with
        // the statement before when it knew this event would follow.
        let head = match self.head_ahead.take() {
            Some((account, head)) if ev.account_id.as_deref() == Some(account.as_str()) => head,
            _ => {
                let q = concat!(head_and_facts_sql!(), "$1 WHERE h.singleton = 1");
                on_tx!(self, |c| sqlx::query_as(q).bind(ev.account_id.as_deref()).fetch_one(c).await)?
            }
        };
        let facts = head.account.facts();
        let prev_hash = head.hash;
        let (mut seq, mut hash) = (head.seq, prev_hash.clone());
        let (mut sql, _) = chain_rows(&mut seq, &mut hash, std::slice::from_ref(&ev));
        // The insert moves the head too (trigger `audit_events_head`, migration 0032). When the
        // event counts towards a burst, the count comes back in the same round trip: a second
        // statement in the string, its parameters numbered after the insert's.
        let rule = facts
            .as_ref()
            .filter(|_| ev.account_id.is_some())
            .and_then(|f| alerts::burst_rule(&ev.action, &ev.outcome, &f.thresholds()));
        if let Some(rule) = &rule {
            sql.push_str("; ");
            sql.push_str(&alerts::burst_count_sql(&rule.matches, EVENT_PARAMS + 1));
        }
        let burst_count: Option<i64> = on_tx!(self, |c| {
            let mut q = bind_event!(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(seq), ev)
                .bind(prev_hash.as_slice())
                .bind(hash.as_slice());
            if let Some(rule) = &rule {
                q = q
                    .bind(ev.account_id.as_deref())
                    .bind(ev.at - rule.threshold.window_us())
                    .bind(rule.matches.pattern())
                    .bind(rule.threshold.count);
            }
            q.fetch_optional(c).await
        })?;
        if rule.is_some() && burst_count.is_none() {
            // A COUNT always answers a row: this is the database misbehaving, not a conflict.
            return Err(crate::StoreError::Database(sqlx::Error::Protocol("the burst count answered no row".into())));
        }
        let row = AuditEventRow { seq, prev_hash, hash, ..AuditEventRow::unchained(ev) };
        // Alerts are decided with the event, in its transaction (see alerts.rs).
        self.detect_after(&row, facts, burst_count).await?;
        Ok(row)
    }

    /// The chain's head, locked for the rest of the transaction: PostgreSQL locks the row (so
    /// appends and sealing rounds take turns across replicas); SQLite's IMMEDIATE transaction
    /// already holds the write lock.
    pub(crate) async fn lock_audit_head(&mut self) -> Result<(i64, Vec<u8>)> {
        let head_sql = match self.backend {
            Backend::Postgres => "SELECT seq, hash FROM audit_head WHERE singleton = 1 FOR UPDATE",
            Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE singleton = 1",
        };
        Ok(on_tx!(self, |c| sqlx::query_as(head_sql).fetch_one(c).await)?)
    }

    /// Writes `events`, in order, as the chain's next events after `head` (the number and hash
    /// of the event they follow), at most `rows_per_insert` of them to a statement; answers the
    /// head they leave. Every way into `audit_events` (one event, a sealing round, a benchmark's
    /// bulk load) numbers, hashes and binds its columns here, so none can chain differently.
    pub(crate) async fn insert_chained<E: std::borrow::Borrow<NewAuditEvent>>(
        &mut self,
        head: (i64, Vec<u8>),
        events: &[E],
        rows_per_insert: usize,
    ) -> Result<(i64, Vec<u8>)> {
        let (mut seq, mut prev) = head;
        for chunk in events.chunks(rows_per_insert.max(1)) {
            let (sql, rows) = chain_rows(&mut seq, &mut prev, chunk);
            on_tx!(self, |c| {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for (seq, ev, prev_hash, hash) in &rows {
                    q = bind_event!(q.bind(*seq), ev).bind(prev_hash.as_slice()).bind(hash.as_slice());
                }
                q.execute(c).await.map(|r| r.rows_affected())
            })?;
        }
        Ok((seq, prev))
    }
}

/// The parameters of one event's row in `audit_events`.
const EVENT_PARAMS: usize = 15;

/// A chained row to bind: its number, its event, the previous event's hash and its own.
type ChainedRow<'e> = (i64, &'e NewAuditEvent, Vec<u8>, Vec<u8>);

/// One statement inserting `events` as the chain's next after `seq` and `prev` (moved to the
/// last of them): its SQL, parameters from `$1`, and each row's bindings.
fn chain_rows<'e, E: std::borrow::Borrow<NewAuditEvent>>(
    seq: &mut i64,
    prev: &mut Vec<u8>,
    events: &'e [E],
) -> (String, Vec<ChainedRow<'e>>) {
    let mut sql = format!("INSERT INTO audit_events ({EVENT_COLUMNS}) VALUES ");
    let mut rows = Vec::with_capacity(events.len());
    for (i, ev) in events.iter().enumerate() {
        let ev = ev.borrow();
        *seq += 1;
        let hash = event_hash(prev, &ev.fields(*seq)).to_vec();
        if i > 0 {
            sql.push(',');
        }
        let b = i * EVENT_PARAMS;
        sql.push('(');
        sql.push_str(&(1..=EVENT_PARAMS).map(|k| format!("${}", b + k)).collect::<Vec<_>>().join(","));
        sql.push(')');
        rows.push((*seq, ev, std::mem::replace(prev, hash.clone()), hash));
    }
    (sql, rows)
}

/// What the pending insert answers: the transaction's rights flag and the event's account.
#[derive(sqlx::FromRow)]
struct PendingWritten {
    rights_changed: Option<String>,
    #[sqlx(flatten)]
    account: MaybeAccountFacts,
}

/// The chain's head with the event's account beside it.
#[derive(sqlx::FromRow)]
pub(crate) struct HeadAndFacts {
    seq: i64,
    hash: Vec<u8>,
    #[sqlx(flatten)]
    account: MaybeAccountFacts,
}

impl Store {
    /// Appends an event in a transaction of its own (for denials, which change nothing else),
    /// the way every write does: so on PostgreSQL it takes its place in the chain after the
    /// events committed before it that still wait to be sealed, not ahead of them.
    pub async fn append_audit(&self, ev: NewAuditEvent) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.append_audit(ev).await?;
        tx.commit().await
    }

    /// The recorded head of the chain: its last sequence number and hash, once what was
    /// committed before the call is chained (an anchor covers every change already answered).
    pub async fn audit_head(&self) -> Result<(i64, Vec<u8>)> {
        self.settle_audit().await;
        let q = "SELECT seq, hash FROM audit_head WHERE singleton = 1";
        Ok(on_pool!(self, |c| sqlx::query_as(q).fetch_one(c).await)?)
    }

    /// Events in chain order with `seq > after`, at most `limit` of them (for verification).
    pub async fn audit_events_after(&self, after: i64, limit: i64) -> Result<Vec<AuditEventRow>> {
        self.settle_audit().await;
        let q = sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT CAST($2 AS BIGINT)"
        ));
        Ok(on_pool!(self, |c| sqlx::query_as::<_, AuditEventRow>(q).bind(after).bind(limit).fetch_all(c).await)?)
    }

    /// The events whose actor is `user_id`, newest first, with `seq < before` when paging.
    pub async fn audit_events_for_actor(
        &self,
        user_id: &UserId,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEventRow>> {
        self.settle_audit().await;
        let q = sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE actor_id = $1 AND ($2 IS NULL OR seq < $2) ORDER BY seq DESC LIMIT CAST($3 AS BIGINT)"
        ));
        Ok(on_pool!(self, |c| sqlx::query_as::<_, AuditEventRow>(q)
            .bind(user_id.as_str())
            .bind(before)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    pub async fn audit_event_count(&self) -> Result<i64> {
        self.settle_audit().await;
        Ok(on_pool!(self, |c| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events").fetch_one(c).await)?)
    }
}

/// The filters of the activity views (API.md): each one present narrows the set.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    pub account_id: Option<String>,
    pub actor_id: Option<String>,
    /// An exact action, or a prefix ending in `.` (such as `members.`).
    pub action: Option<String>,
    /// `allowed` or `denied`.
    pub outcome: Option<String>,
    /// Inclusive.
    pub since: Option<Micros>,
    /// Exclusive.
    pub until: Option<Micros>,
}

enum Param {
    Text(String),
    Int(i64),
}

impl ActivityFilter {
    /// The WHERE clause with only the filters present (so each query uses the index that fits:
    /// account + actor + time, account + time, or actor + time), and its parameters.
    fn clause(&self, before: Option<(Micros, i64)>) -> (String, Vec<Param>) {
        let mut conds = Vec::new();
        let mut params = Vec::new();
        fn push(conds: &mut Vec<String>, params: &mut Vec<Param>, cond: &str, p: Param) {
            params.push(p);
            conds.push(cond.replace('?', &format!("${}", params.len())));
        }
        if let Some(a) = &self.account_id {
            push(&mut conds, &mut params, "account_id = ?", Param::Text(a.clone()));
        }
        if let Some(a) = &self.actor_id {
            push(&mut conds, &mut params, "actor_id = ?", Param::Text(a.clone()));
        }
        if let Some(a) = &self.action {
            if a.ends_with('.') {
                // substr, not LIKE: an action may hold `_`, which LIKE would read as a wildcard.
                let n = a.chars().count() as i64;
                params.push(Param::Int(n));
                let n_idx = params.len();
                params.push(Param::Text(a.clone()));
                conds.push(format!("substr(action, 1, CAST(${n_idx} AS INTEGER)) = ${}", params.len()));
            } else {
                push(&mut conds, &mut params, "action = ?", Param::Text(a.clone()));
            }
        }
        if let Some(o) = &self.outcome {
            push(&mut conds, &mut params, "outcome = ?", Param::Text(o.clone()));
        }
        if let Some(s) = self.since {
            push(&mut conds, &mut params, "at >= ?", Param::Int(s));
        }
        if let Some(u) = self.until {
            push(&mut conds, &mut params, "at < ?", Param::Int(u));
        }
        if let Some((at, seq)) = before {
            params.push(Param::Int(at));
            let a = params.len();
            params.push(Param::Int(seq));
            // `at <= a` repeats what the OR implies, as a bound the index range can use: without
            // it each next page rescans every newer row (an export of N events reads ~N²/2000).
            conds.push(format!("at <= ${a} AND (at < ${a} OR (at = ${a} AND seq < ${}))", params.len()));
        }
        let clause = if conds.is_empty() { String::new() } else { format!(" WHERE {}", conds.join(" AND ")) };
        (clause, params)
    }
}

impl Store {
    /// Events matching `filter`, newest first (by time, then chain order), after the cursor
    /// `before` = the previous page's last `(at, seq)`.
    pub async fn activity(
        &self,
        filter: &ActivityFilter,
        before: Option<(Micros, i64)>,
        limit: i64,
    ) -> Result<Vec<AuditEventRow>> {
        self.settle_audit().await;
        let (clause, params) = filter.clause(before);
        let q = sqlx::AssertSqlSafe(format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events{clause} ORDER BY at DESC, seq DESC LIMIT {}",
            limit.max(0)
        ));
        Ok(on_pool!(self, |c| {
            let mut query = sqlx::query_as::<_, AuditEventRow>(q);
            for p in params {
                query = match p {
                    Param::Text(s) => query.bind(s),
                    Param::Int(i) => query.bind(i),
                };
            }
            query.fetch_all(c).await
        })?)
    }
}

/// A retention checkpoint: the last pruned event's place in the chain, signed by the server.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckpointRow {
    pub seq: i64,
    pub hash: Vec<u8>,
    pub at: Micros,
    pub signature: Vec<u8>,
    pub created_at: Micros,
}

impl Store {
    /// The newest retention checkpoint, if events were ever pruned.
    pub async fn latest_audit_checkpoint(&self) -> Result<Option<CheckpointRow>> {
        let q = "SELECT seq, hash, at, signature, created_at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, CheckpointRow>(q).fetch_optional(c).await)?)
    }

    /// The last event (highest seq) recorded before `before`: where pruning would cut.
    pub async fn last_audit_event_before(&self, before: Micros) -> Result<Option<(i64, Vec<u8>, Micros)>> {
        let q = "SELECT seq, hash, at FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events WHERE at < $1)";
        Ok(on_pool!(self, |c| sqlx::query_as(q).bind(before).fetch_optional(c).await)?)
    }
}

impl Tx {
    /// Records a retention checkpoint: the chain verifies from it, whatever lies behind it.
    pub async fn insert_audit_checkpoint(&mut self, cp: &CheckpointRow) -> Result<()> {
        let q = "INSERT INTO audit_checkpoints (seq, hash, at, signature, created_at) VALUES ($1, $2, $3, $4, $5)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(cp.seq)
            .bind(cp.hash.as_slice())
            .bind(cp.at)
            .bind(cp.signature.as_slice())
            .bind(cp.created_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Deletes the oldest events up to and including `seq`, at most `limit` of them (oldest
    /// first, so what is left is always a run ending at `seq`); how many went.
    pub async fn delete_audit_events_through(&mut self, seq: i64, limit: i64) -> Result<u64> {
        let q = "DELETE FROM audit_events WHERE seq IN \
                 (SELECT seq FROM audit_events WHERE seq <= $1 ORDER BY seq LIMIT CAST($2 AS BIGINT))";
        Ok(on_tx!(self, |c| sqlx::query(q).bind(seq).bind(limit).execute(c).await.map(|r| r.rows_affected()))?)
    }
}
