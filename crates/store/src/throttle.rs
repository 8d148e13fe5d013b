//! Sign-in and step-up attempts, reserved against their limits atomically (so concurrent
//! guesses cannot all be checked), and the per-address count of requests refused for an
//! unknown or expired credential.
use crate::{Backend, Micros, Result, Store, Tx, on_pool, on_tx};

/// What an attempt is counted against.
pub struct AttemptScope<'a> {
    /// `sign_in` or `step_up`.
    pub kind: &'a str,
    /// The account the attempt is for.
    pub email: &'a str,
    /// The client's address block (an IPv6 /64 is one).
    pub ip: &'a str,
    /// The device id of a valid device cookie for this account: its attempts are counted per
    /// device instead of with everyone else's.
    pub device: Option<&'a str>,
}

/// The limits an attempt must fit in: failures, and attempts still being checked, since `since`.
pub struct AttemptLimits {
    /// Per account for a client without a device cookie, per device for one with it.
    pub per_account: i64,
    /// Per address block (`None`: no limit per address).
    pub per_ip: Option<i64>,
    pub since: Micros,
}

#[derive(Debug)]
pub enum Reservation {
    /// The secret may be checked; settle the attempt with [`Store::settle_attempt`] afterwards.
    Granted { id: String },
    /// A limit is reached; `oldest` is when the oldest failure it counted happened.
    Refused { oldest: Micros },
}

/// A closed minute of refused credentials from one address block.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeniedBurstRow {
    pub ip: String,
    pub minute: i64,
    pub count: i64,
}

const UNSETTLED_OR_FAILED: &str = "outcome <> 'succeeded'";

/// What an advisory lock of [`Tx::lock_keys`] is about: its first key, so equal second keys
/// (an email, an account id) of different kinds never share a lock.
#[derive(Clone, Copy)]
pub(crate) enum LockClass {
    /// A password reset request's email address, and its client address.
    ResetEmail = 0x5352,
    ResetIp = 0x5353,
    /// A sign-in or step-up attempt's scope (kind and email), and its client address.
    AttemptScope = 0x5354,
    AttemptIp = 0x5355,
    /// An account's platform token refresh.
    CredentialRefresh = 0x5356,
    /// A person's password reset links.
    ResetLinks = 0x5357,
}

impl Tx {
    /// PostgreSQL: takes an advisory lock on each `(class, key)` until the transaction ends, so
    /// replicas checking the same limit take turns; SQLite's write transaction already holds
    /// its one writer's lock. Callers name the keys in one fixed order (the account or address
    /// before the client), so two transactions never wait on each other in a circle.
    pub(crate) async fn lock_keys(&mut self, keys: &[(LockClass, &str)]) -> Result<()> {
        if self.backend == Backend::Postgres {
            let q = "SELECT pg_advisory_xact_lock($1, hashtext($2))";
            for &(class, key) in keys {
                let class = class as i32;
                on_tx!(self, |c| sqlx::query(q).bind(class).bind(key).execute(c).await.map(|r| r.rows_affected()))?;
            }
        }
        Ok(())
    }
}

impl Store {
    /// Counts the recent failures (pending attempts included) for the scope and, when both
    /// limits leave room, records a `pending` attempt, all in one transaction: on PostgreSQL
    /// under advisory locks on the account and the address (so replicas take turns), on
    /// SQLite under its single writer (`BEGIN IMMEDIATE`).
    pub async fn reserve_attempt(
        &self,
        scope: &AttemptScope<'_>,
        limits: &AttemptLimits,
        now: Micros,
    ) -> Result<Reservation> {
        let mut tx = self.begin().await?;
        let account_key = format!("{}:{}", scope.kind, scope.email);
        tx.lock_keys(&[(LockClass::AttemptScope, account_key.as_str()), (LockClass::AttemptIp, scope.ip)]).await?;
        let q = match scope.device {
            None => format!(
                "SELECT COUNT(*), MIN(at) FROM auth_attempts WHERE kind = $1 AND email = $2 AND at >= $3 \
                 AND {UNSETTLED_OR_FAILED} AND device IS NULL AND $4 IS NULL"
            ),
            Some(_) => format!(
                "SELECT COUNT(*), MIN(at) FROM auth_attempts WHERE kind = $1 AND email = $2 AND at >= $3 \
                 AND {UNSETTLED_OR_FAILED} AND device = $4"
            ),
        };
        let (n, oldest): (i64, Option<i64>) = on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(q))
            .bind(scope.kind)
            .bind(scope.email)
            .bind(limits.since)
            .bind(scope.device)
            .fetch_one(c)
            .await)?;
        if n >= limits.per_account {
            return Ok(Reservation::Refused { oldest: oldest.unwrap_or(now) });
        }
        if let Some(per_ip) = limits.per_ip {
            let q = format!(
                "SELECT COUNT(*), MIN(at) FROM auth_attempts WHERE kind = $1 AND ip = $2 AND at >= $3 \
                 AND {UNSETTLED_OR_FAILED}"
            );
            let (n, oldest): (i64, Option<i64>) = on_tx!(tx, |c| sqlx::query_as(sqlx::AssertSqlSafe(q))
                .bind(scope.kind)
                .bind(scope.ip)
                .bind(limits.since)
                .fetch_one(c)
                .await)?;
            if n >= per_ip {
                return Ok(Reservation::Refused { oldest: oldest.unwrap_or(now) });
            }
        }
        let id = uuid::Uuid::now_v7().to_string();
        let q = "INSERT INTO auth_attempts (id, kind, email, ip, device, at, outcome) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending')";
        on_tx!(tx, |c| sqlx::query(q)
            .bind(&id)
            .bind(scope.kind)
            .bind(scope.email)
            .bind(scope.ip)
            .bind(scope.device)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(Reservation::Granted { id })
    }

    /// Settles a reserved attempt. A failed one keeps counting until the window passes; an
    /// attempt never settled (the process stopped mid-check) counts as failed.
    pub async fn settle_attempt(&self, id: &str, succeeded: bool) -> Result<()> {
        let q = "UPDATE auth_attempts SET outcome = $2 WHERE id = $1";
        let outcome = if succeeded { "succeeded" } else { "failed" };
        on_pool!(self, |c| sqlx::query(q).bind(id).bind(outcome).execute(c).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// How many attempts of `kind` for `email` ended or are pending as failures since `since`.
    pub async fn failed_attempts(&self, kind: &str, email: &str, since: Micros) -> Result<i64> {
        let q = format!(
            "SELECT COUNT(*) FROM auth_attempts WHERE kind = $1 AND email = $2 AND at >= $3 AND {UNSETTLED_OR_FAILED}"
        );
        Ok(on_pool!(self, |c| sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(q))
            .bind(kind)
            .bind(email)
            .bind(since)
            .fetch_one(c)
            .await)?)
    }

    /// Forgets attempts older than `before` (housekeeping).
    pub async fn prune_auth_attempts(&self, before: Micros) -> Result<u64> {
        let q = "DELETE FROM auth_attempts WHERE at < $1";
        Ok(on_pool!(self, |c| sqlx::query(q).bind(before).execute(c).await.map(|r| r.rows_affected()))?)
    }

    /// Counts one request refused for an unknown or expired credential from `ip` in `minute`
    /// (minutes since the epoch) and answers the count so far. One statement: atomic on both.
    pub async fn count_denied_credential(&self, ip: &str, minute: i64) -> Result<i64> {
        let q = "INSERT INTO denied_bursts (ip, minute, count) VALUES ($1, $2, 1) \
                 ON CONFLICT (ip, minute) DO UPDATE SET count = denied_bursts.count + 1 RETURNING count";
        Ok(on_pool!(self, |c| sqlx::query_scalar::<_, i64>(q).bind(ip).bind(minute).fetch_one(c).await)?)
    }

    /// Whether any minute before `minute` still waits to be recorded.
    pub async fn has_closed_denied_bursts(&self, minute: i64) -> Result<bool> {
        let q = "SELECT COUNT(*) FROM (SELECT 1 FROM denied_bursts WHERE minute < $1 LIMIT 1) AS closed";
        Ok(on_pool!(self, |c| sqlx::query_scalar::<_, i64>(q).bind(minute).fetch_one(c).await)? > 0)
    }
}

impl Tx {
    /// Takes (deletes and answers) the counts of minutes before `minute`, so each is recorded once.
    pub async fn take_closed_denied_bursts(&mut self, minute: i64) -> Result<Vec<DeniedBurstRow>> {
        let q = "DELETE FROM denied_bursts WHERE minute < $1 RETURNING ip, minute, count";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, DeniedBurstRow>(q).bind(minute).fetch_all(c).await)?)
    }
}
