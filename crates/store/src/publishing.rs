//! The scheduler's durable state (migration 0006): one publish job per post with a lease, one
//! attempt row per platform call, and the built-in sandbox platform's posts and comments.
//!
//! Claims lock rows: PostgreSQL with `FOR UPDATE SKIP LOCKED`, so replicas claiming at once
//! take different rows instead of waiting on each other; SQLite's `BEGIN IMMEDIATE` (every
//! [`Tx`]) already excludes every other writer. Every write a worker makes after a claim is a
//! compare-and-set on its lease (`lease_owner = me`), so a worker whose lease expired (and was
//! taken over) cannot overwrite what the new owner does.
use steward_domain::ids::{AccountId, AttemptId, PostId, UserId};

use crate::{Backend, Micros, Result, Store, Tx, on_pool, on_tx};

/// A post's publish job.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PublishJobRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub post_id: PostId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub account_id: AccountId,
    pub version: i64,
    pub idempotency_key: String,
    /// `running`, `waiting`, `polling`, `done`, `failed`, `requeued`.
    pub state: String,
    pub due_at: Micros,
    pub next_attempt_at: Option<Micros>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<Micros>,
    pub attempts: i64,
    /// Since when an attempt of this version may have reached the platform unanswered.
    pub uncertain_since: Option<Micros>,
    pub platform_ref: Option<String>,
    pub last_error: Option<String>,
    pub created_at: Micros,
    pub updated_at: Micros,
}

/// One platform call (or the reconciliation of one), recorded before it is made.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PublishAttemptRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: AttemptId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub post_id: PostId,
    pub version: i64,
    pub attempt: i64,
    pub idempotency_key: String,
    pub worker: String,
    pub reconcile: bool,
    pub started_at: Micros,
    pub finished_at: Option<Micros>,
    pub outcome: Option<String>,
    pub error: Option<String>,
}

/// A job as a worker is about to run it.
pub struct JobStart<'a> {
    pub post_id: &'a PostId,
    pub account_id: &'a AccountId,
    pub version: i64,
    pub idempotency_key: &'a str,
    pub due_at: Micros,
    pub worker: &'a str,
    pub lease_expires_at: Micros,
    pub now: Micros,
}

/// What a worker writes to its job after a call.
pub struct JobUpdate<'a> {
    pub state: &'a str,
    pub next_attempt_at: Option<Micros>,
    pub uncertain_since: Option<Micros>,
    /// `None` keeps the ref already saved.
    pub platform_ref: Option<&'a str>,
    pub last_error: Option<&'a str>,
    pub now: Micros,
}

const JOB_COLUMNS: &str = "post_id, account_id, version, idempotency_key, state, due_at, next_attempt_at, lease_owner, \
     lease_expires_at, attempts, uncertain_since, platform_ref, last_error, created_at, updated_at";
const ATTEMPT_COLUMNS: &str =
    "id, post_id, version, attempt, idempotency_key, worker, reconcile, started_at, finished_at, outcome, error";

fn sql(parts: &[&str]) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(parts.concat())
}

impl Tx {
    /// Ids of up to `limit` posts in state `scheduled` whose time has come, earliest first,
    /// locked for this transaction (rows another replica holds are skipped, not waited for).
    pub async fn lock_due_post_ids(&mut self, now: Micros, limit: i64) -> Result<Vec<PostId>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let q = sql(&[
            "SELECT id FROM posts WHERE state = 'scheduled' AND scheduled_at <= $1 ORDER BY scheduled_at, id LIMIT CAST($2 AS BIGINT)",
            lock,
        ]);
        let ids: Vec<String> = on_tx!(self, |c| sqlx::query_scalar(q).bind(now).bind(limit).fetch_all(c).await)?;
        Ok(ids.into_iter().map(PostId::from).collect())
    }

    /// Up to `limit` jobs a worker may take now: waiting or polling jobs whose next attempt is
    /// due, and running jobs whose worker's lease expired (it died or stalled mid-call),
    /// locked for this transaction.
    pub async fn lock_claimable_jobs(&mut self, now: Micros, limit: i64) -> Result<Vec<PublishJobRow>> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let q = sql(&[
            "SELECT ",
            JOB_COLUMNS,
            " FROM publish_jobs WHERE (state IN ('waiting', 'polling') AND next_attempt_at <= $1) \
             OR (state = 'running' AND lease_expires_at <= $1) ORDER BY next_attempt_at, post_id LIMIT CAST($2 AS BIGINT)",
            lock,
        ]);
        Ok(on_tx!(self, |c| sqlx::query_as::<_, PublishJobRow>(q).bind(now).bind(limit).fetch_all(c).await)?)
    }

    pub async fn publish_job(&mut self, post_id: &PostId) -> Result<Option<PublishJobRow>> {
        let q = sql(&["SELECT ", JOB_COLUMNS, " FROM publish_jobs WHERE post_id = $1"]);
        Ok(on_tx!(self, |c| sqlx::query_as::<_, PublishJobRow>(q).bind(post_id.as_str()).fetch_optional(c).await)?)
    }

    /// Starts (or restarts) the post's job for `version` as `running` under `worker`'s lease,
    /// counting one more attempt. A new version starts from zero attempts and no platform ref:
    /// its idempotency key is new too.
    pub async fn start_publish_job(&mut self, j: &JobStart<'_>) -> Result<PublishJobRow> {
        let q = sql(&[
            "INSERT INTO publish_jobs (",
            JOB_COLUMNS,
            ") VALUES ($1, $2, $3, $4, 'running', $5, NULL, $6, $7, 1, NULL, NULL, NULL, $8, $8) \
             ON CONFLICT (post_id) DO UPDATE SET \
               attempts = CASE WHEN publish_jobs.version = excluded.version THEN publish_jobs.attempts + 1 ELSE 1 END, \
               uncertain_since = CASE WHEN publish_jobs.version = excluded.version THEN publish_jobs.uncertain_since ELSE NULL END, \
               platform_ref = CASE WHEN publish_jobs.version = excluded.version THEN publish_jobs.platform_ref ELSE NULL END, \
               version = excluded.version, idempotency_key = excluded.idempotency_key, state = 'running', \
               due_at = excluded.due_at, next_attempt_at = NULL, lease_owner = excluded.lease_owner, \
               lease_expires_at = excluded.lease_expires_at, updated_at = excluded.updated_at \
             RETURNING ",
            JOB_COLUMNS,
        ]);
        Ok(on_tx!(self, |c| sqlx::query_as::<_, PublishJobRow>(q)
            .bind(j.post_id.as_str())
            .bind(j.account_id.as_str())
            .bind(j.version)
            .bind(j.idempotency_key)
            .bind(j.due_at)
            .bind(j.worker)
            .bind(j.lease_expires_at)
            .bind(j.now)
            .fetch_one(c)
            .await)?)
    }

    /// Takes a claimable job (see [`Tx::lock_claimable_jobs`]) under `worker`'s lease and
    /// counts one more attempt; `false` if it is no longer claimable.
    pub async fn take_publish_job(
        &mut self,
        post_id: &PostId,
        worker: &str,
        lease_expires_at: Micros,
        now: Micros,
    ) -> Result<bool> {
        let q = "UPDATE publish_jobs SET state = 'running', lease_owner = $2, lease_expires_at = $3, \
                 attempts = attempts + 1, next_attempt_at = NULL, updated_at = $4 \
                 WHERE post_id = $1 AND ((state IN ('waiting', 'polling') AND next_attempt_at <= $4) \
                 OR (state = 'running' AND lease_expires_at <= $4))";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(post_id.as_str())
            .bind(worker)
            .bind(lease_expires_at)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Records what happened to the job, if `worker` still holds its lease (whether it did).
    /// The lease is released: a `waiting`/`polling` job is claimable again at `next_attempt_at`.
    pub async fn update_publish_job(&mut self, post_id: &PostId, worker: &str, u: &JobUpdate<'_>) -> Result<bool> {
        let q = "UPDATE publish_jobs SET state = $3, next_attempt_at = $4, uncertain_since = $5, last_error = $6, \
                 platform_ref = COALESCE($8, platform_ref), lease_owner = NULL, lease_expires_at = NULL, updated_at = $7 \
                 WHERE post_id = $1 AND lease_owner = $2 AND state = 'running'";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(post_id.as_str())
            .bind(worker)
            .bind(u.state)
            .bind(u.next_attempt_at)
            .bind(u.uncertain_since)
            .bind(u.last_error)
            .bind(u.now)
            .bind(u.platform_ref)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn insert_publish_attempt(&mut self, a: &PublishAttemptRow) -> Result<()> {
        let q = sql(&[
            "INSERT INTO publish_attempts (",
            ATTEMPT_COLUMNS,
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        ]);
        on_tx!(self, |c| sqlx::query(q)
            .bind(a.id.as_str())
            .bind(a.post_id.as_str())
            .bind(a.version)
            .bind(a.attempt)
            .bind(&a.idempotency_key)
            .bind(&a.worker)
            .bind(a.reconcile)
            .bind(a.started_at)
            .bind(a.finished_at)
            .bind(&a.outcome)
            .bind(&a.error)
            .execute(c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Notes that an attempt of the job's version may have reached the platform unanswered
    /// (keeping the earliest such instant).
    pub async fn mark_publish_job_uncertain(&mut self, post_id: &PostId, since: Micros) -> Result<()> {
        let q = "UPDATE publish_jobs SET uncertain_since = COALESCE(uncertain_since, $2) WHERE post_id = $1";
        on_tx!(self, |c| sqlx::query(q).bind(post_id.as_str()).bind(since).execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Closes the post's attempts that never learned their outcome (their worker died or its
    /// lease ran out) as `unknown`; the earliest start among them, if any.
    pub async fn close_open_publish_attempts(&mut self, post_id: &PostId, now: Micros) -> Result<Option<Micros>> {
        let first = "SELECT MIN(started_at) FROM publish_attempts WHERE post_id = $1 AND outcome IS NULL";
        let earliest =
            on_tx!(self, |c| sqlx::query_scalar::<_, Option<i64>>(first).bind(post_id.as_str()).fetch_one(c).await)?;
        let q =
            "UPDATE publish_attempts SET outcome = 'unknown', finished_at = $2 WHERE post_id = $1 AND outcome IS NULL";
        on_tx!(self, |c| sqlx::query(q).bind(post_id.as_str()).bind(now).execute(c).await.map(|_| ()))?;
        Ok(earliest)
    }

    pub async fn finish_publish_attempt(
        &mut self,
        attempt_id: &AttemptId,
        outcome: &str,
        error: Option<&str>,
        now: Micros,
    ) -> Result<()> {
        let q = "UPDATE publish_attempts SET outcome = $2, error = $3, finished_at = $4 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(q)
            .bind(attempt_id.as_str())
            .bind(outcome)
            .bind(error)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}

/// A post of the account that went out (or is going out) at `at`, for the pace rules at the
/// moment of publishing.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PublishedSlotRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub post_id: PostId,
    pub at: Micros,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub scheduled_by: Option<UserId>,
}

impl Tx {
    /// The account's other posts published, or being published, within `[from, to)`: when
    /// they went out (a post still `publishing` counts from when it started). Call after
    /// [`Tx::lock_account`], so two due posts cannot both take the same free slot.
    pub async fn published_slots(
        &mut self,
        account_id: &AccountId,
        except_post_id: &PostId,
        from: Micros,
        to: Micros,
    ) -> Result<Vec<PublishedSlotRow>> {
        let q = "SELECT id AS post_id, COALESCE(published_at, updated_at) AS at, scheduled_by FROM posts \
                 WHERE account_id = $1 AND id <> $2 AND state IN ('publishing', 'published') AND reply_to IS NULL \
                 AND COALESCE(published_at, updated_at) >= $3 AND COALESCE(published_at, updated_at) < $4 \
                 ORDER BY at, id";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, PublishedSlotRow>(q)
            .bind(account_id.as_str())
            .bind(except_post_id.as_str())
            .bind(from)
            .bind(to)
            .fetch_all(c)
            .await)?)
    }
}

/// Platform rate limits per account (migration 0009). Call after [`Tx::lock_account`], so that
/// two workers cannot both take the last free call of a window.
impl Tx {
    /// Start times of the account's publish calls since `since`, newest first, at most `limit`.
    pub async fn recent_publish_calls(
        &mut self,
        account_id: &AccountId,
        since: Micros,
        limit: i64,
    ) -> Result<Vec<Micros>> {
        let q =
            "SELECT at FROM publish_calls WHERE account_id = $1 AND at > $2 ORDER BY at DESC LIMIT CAST($3 AS BIGINT)";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(q)
            .bind(account_id.as_str())
            .bind(since)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    /// Counts one publish call toward the account's limits, forgetting calls older than
    /// `forget_before` (outside every window).
    pub async fn record_publish_call(
        &mut self,
        account_id: &AccountId,
        post_id: &PostId,
        at: Micros,
        forget_before: Micros,
    ) -> Result<()> {
        let prune = "DELETE FROM publish_calls WHERE account_id = $1 AND at < $2";
        on_tx!(self, |c| sqlx::query(prune)
            .bind(account_id.as_str())
            .bind(forget_before)
            .execute(c)
            .await
            .map(|_| ()))?;
        let q = "INSERT INTO publish_calls (account_id, post_id, at) VALUES ($1, $2, $3)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(post_id.as_str())
            .bind(at)
            .execute(c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Until when the platform told us to leave the account alone, if that is still ahead of `now`.
    pub async fn account_blocked_until(&mut self, account_id: &AccountId, now: Micros) -> Result<Option<Micros>> {
        let q = "SELECT blocked_until FROM account_rate_limits WHERE account_id = $1 AND blocked_until > $2";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(q)
            .bind(account_id.as_str())
            .bind(now)
            .fetch_optional(c)
            .await)?)
    }

    /// Remembers a rate-limit answer: no publish call for the account before `until` (a later
    /// `until` already stored is kept).
    pub async fn block_account_until(&mut self, account_id: &AccountId, until: Micros, now: Micros) -> Result<()> {
        let q = "INSERT INTO account_rate_limits (account_id, blocked_until, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (account_id) DO UPDATE SET \
                   blocked_until = CASE WHEN account_rate_limits.blocked_until > excluded.blocked_until \
                     THEN account_rate_limits.blocked_until ELSE excluded.blocked_until END, \
                   updated_at = excluded.updated_at";
        on_tx!(self, |c| sqlx::query(q).bind(account_id.as_str()).bind(until).bind(now).execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Gives back the attempt the current claim counted: a rate-limit answer is the platform
    /// saying "later", not a failed try, so it must not use up `max_attempts`.
    pub async fn give_back_publish_attempt(&mut self, post_id: &PostId) -> Result<()> {
        let q = "UPDATE publish_jobs SET attempts = attempts - 1 WHERE post_id = $1 AND attempts > 0";
        on_tx!(self, |c| sqlx::query(q).bind(post_id.as_str()).execute(c).await.map(|_| ()))?;
        Ok(())
    }
}

impl Store {
    pub async fn publish_job(&self, post_id: &PostId) -> Result<Option<PublishJobRow>> {
        let q = sql(&["SELECT ", JOB_COLUMNS, " FROM publish_jobs WHERE post_id = $1"]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, PublishJobRow>(q).bind(post_id.as_str()).fetch_optional(c).await)?)
    }

    /// Every attempt at publishing the post, in order.
    pub async fn publish_attempts(&self, post_id: &PostId) -> Result<Vec<PublishAttemptRow>> {
        let q = sql(&[
            "SELECT ",
            ATTEMPT_COLUMNS,
            " FROM publish_attempts WHERE post_id = $1 ORDER BY attempt, started_at",
        ]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, PublishAttemptRow>(q).bind(post_id.as_str()).fetch_all(c).await)?)
    }

    /// The earliest instant at which a worker will have something to do: a scheduled post
    /// falling due, a retry or poll, or a lease running out. `None` when nothing is pending.
    pub async fn next_publish_wakeup(&self) -> Result<Option<Micros>> {
        let q = "SELECT MIN(t) FROM ( \
                 SELECT MIN(scheduled_at) AS t FROM posts WHERE state = 'scheduled' \
                 UNION ALL SELECT MIN(next_attempt_at) AS t FROM publish_jobs WHERE state IN ('waiting', 'polling') \
                 UNION ALL SELECT MIN(lease_expires_at) AS t FROM publish_jobs WHERE state = 'running') AS due";
        Ok(on_pool!(self, |c| sqlx::query_scalar::<_, Option<i64>>(q).fetch_one(c).await)?)
    }

    /// Ends now the leases of running jobs held by any worker other than `worker`, so the next
    /// round reclaims them the way it reclaims an expired lease (reconciling, never re-sending
    /// blindly); how many. Only for a store no other live worker can share (SQLite under the
    /// server's exclusive lock): a restarted server's in-flight jobs belong to its dead self.
    pub async fn expire_foreign_publish_leases(&self, worker: &str, now: Micros) -> Result<u64> {
        let q = "UPDATE publish_jobs SET lease_expires_at = $2 \
                 WHERE state = 'running' AND (lease_owner IS NULL OR lease_owner <> $1) AND lease_expires_at > $2";
        Ok(on_pool!(self, |c| sqlx::query(q).bind(worker).bind(now).execute(c).await.map(|r| r.rows_affected()))?)
    }

    /// Extends `worker`'s leases on these running jobs (a heartbeat while calls are slow);
    /// how many it still held.
    pub async fn renew_publish_leases(&self, post_ids: &[PostId], worker: &str, until: Micros) -> Result<u64> {
        let mut renewed = 0;
        let q = "UPDATE publish_jobs SET lease_expires_at = $3 WHERE post_id = $1 AND lease_owner = $2 AND state = 'running'";
        for id in post_ids {
            renewed += on_pool!(self, |c| sqlx::query(q)
                .bind(id.as_str())
                .bind(worker)
                .bind(until)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(renewed)
    }

    /// Saves (commits) a platform ref for the job's current version, if `worker` still holds it.
    pub async fn save_publish_ref(
        &self,
        post_id: &PostId,
        worker: &str,
        platform_ref: &str,
        now: Micros,
    ) -> Result<bool> {
        let q = "UPDATE publish_jobs SET platform_ref = $3, updated_at = $4 \
                 WHERE post_id = $1 AND lease_owner = $2 AND state = 'running'";
        let n = on_pool!(self, |c| sqlx::query(q)
            .bind(post_id.as_str())
            .bind(worker)
            .bind(platform_ref)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}

/// A post on the sandbox platform: `id` is the sandbox's own (what the platform answered, an
/// external id), not a [`PostId`].
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SandboxPostRow {
    pub id: String,
    #[sqlx(try_from = "crate::decode::Text")]
    pub account_id: AccountId,
    pub idempotency_key: String,
    pub title: Option<String>,
    pub text: String,
    pub media: String,
    pub impressions: i64,
    pub likes: i64,
    pub shares: i64,
    pub created_at: Micros,
}

/// A comment on a sandbox post (by a "follower", or the account's own reply). Its `id`,
/// `post_id` and `parent_id` are the sandbox's own (external ids, as a platform would answer).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SandboxCommentRow {
    pub id: String,
    #[sqlx(try_from = "crate::decode::Text")]
    pub account_id: AccountId,
    pub post_id: String,
    pub parent_id: Option<String>,
    pub author: String,
    pub text: String,
    pub hidden: bool,
    pub created_at: Micros,
}

pub struct NewSandboxPost<'a> {
    pub id: &'a str,
    pub account_id: &'a AccountId,
    pub idempotency_key: &'a str,
    pub title: Option<&'a str>,
    pub text: &'a str,
    pub media: &'a str,
    pub now: Micros,
}

/// A comment to add to a sandbox post.
#[derive(Debug, Clone, Copy)]
pub struct NewSandboxComment<'a> {
    pub id: &'a str,
    pub account_id: &'a AccountId,
    pub post_id: &'a str,
    /// Set for a reply to another comment.
    pub parent_id: Option<&'a str>,
    pub author: &'a str,
    pub text: &'a str,
    pub now: Micros,
}

const SANDBOX_POST_COLUMNS: &str =
    "id, account_id, idempotency_key, title, text, media, impressions, likes, shares, created_at";
const SANDBOX_COMMENT_COLUMNS: &str = "id, account_id, post_id, parent_id, author, text, hidden, created_at";

impl Store {
    /// "Publishes" on the sandbox: a repeat of an idempotency key on the account changes
    /// nothing and answers the post made the first time.
    pub async fn sandbox_publish(&self, p: &NewSandboxPost<'_>) -> Result<SandboxPostRow> {
        let insert = sql(&[
            "INSERT INTO sandbox_posts (",
            SANDBOX_POST_COLUMNS,
            ") VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 0, $7) ON CONFLICT (account_id, idempotency_key) DO NOTHING",
        ]);
        let select = sql(&[
            "SELECT ",
            SANDBOX_POST_COLUMNS,
            " FROM sandbox_posts WHERE account_id = $1 AND idempotency_key = $2",
        ]);
        on_pool!(self, |c| {
            sqlx::query(insert)
                .bind(p.id)
                .bind(p.account_id.as_str())
                .bind(p.idempotency_key)
                .bind(p.title)
                .bind(p.text)
                .bind(p.media)
                .bind(p.now)
                .execute(c)
                .await?;
            Ok(sqlx::query_as::<_, SandboxPostRow>(select)
                .bind(p.account_id.as_str())
                .bind(p.idempotency_key)
                .fetch_one(c)
                .await?)
        })
    }

    /// Every post the sandbox holds for the account, oldest first.
    pub async fn sandbox_posts(&self, account_id: &AccountId) -> Result<Vec<SandboxPostRow>> {
        let q = sql(&[
            "SELECT ",
            SANDBOX_POST_COLUMNS,
            " FROM sandbox_posts WHERE account_id = $1 ORDER BY created_at, id",
        ]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, SandboxPostRow>(q).bind(account_id.as_str()).fetch_all(c).await)?)
    }

    /// The sandbox's post by its own (external) id.
    pub async fn sandbox_post(&self, account_id: &AccountId, external_id: &str) -> Result<Option<SandboxPostRow>> {
        let q = sql(&["SELECT ", SANDBOX_POST_COLUMNS, " FROM sandbox_posts WHERE account_id = $1 AND id = $2"]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, SandboxPostRow>(q)
            .bind(account_id.as_str())
            .bind(external_id)
            .fetch_optional(c)
            .await)?)
    }

    /// Adds a comment to a sandbox post: a follower's (demo seeding, tests) or the account's
    /// own reply (`parent_id` set). `None` if the post is not the account's.
    pub async fn add_sandbox_comment(&self, new: &NewSandboxComment<'_>) -> Result<Option<SandboxCommentRow>> {
        let NewSandboxComment { id, account_id, post_id, parent_id, author, text, now } = *new;
        if self.sandbox_post(account_id, post_id).await?.is_none() {
            return Ok(None);
        }
        let row = SandboxCommentRow {
            id: id.to_string(),
            account_id: account_id.clone(),
            post_id: post_id.to_string(),
            parent_id: parent_id.map(str::to_string),
            author: author.to_string(),
            text: text.to_string(),
            hidden: false,
            created_at: now,
        };
        let q = sql(&[
            "INSERT INTO sandbox_comments (",
            SANDBOX_COMMENT_COLUMNS,
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        ]);
        on_pool!(self, |c| sqlx::query(q)
            .bind(&row.id)
            .bind(row.account_id.as_str())
            .bind(&row.post_id)
            .bind(&row.parent_id)
            .bind(&row.author)
            .bind(&row.text)
            .bind(row.hidden)
            .bind(row.created_at)
            .execute(c)
            .await
            .map(|_| ()))?;
        Ok(Some(row))
    }

    pub async fn sandbox_comment(&self, account_id: &AccountId, comment_id: &str) -> Result<Option<SandboxCommentRow>> {
        let q = sql(&["SELECT ", SANDBOX_COMMENT_COLUMNS, " FROM sandbox_comments WHERE account_id = $1 AND id = $2"]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, SandboxCommentRow>(q)
            .bind(account_id.as_str())
            .bind(comment_id)
            .fetch_optional(c)
            .await)?)
    }

    /// The comments on the account's sandbox posts, oldest first.
    pub async fn sandbox_comments(&self, account_id: &AccountId) -> Result<Vec<SandboxCommentRow>> {
        let q = sql(&[
            "SELECT ",
            SANDBOX_COMMENT_COLUMNS,
            " FROM sandbox_comments WHERE account_id = $1 ORDER BY created_at, id",
        ]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, SandboxCommentRow>(q).bind(account_id.as_str()).fetch_all(c).await)?)
    }

    /// Hides a sandbox comment (the sandbox's own state, as a platform keeps it): `false` when
    /// the account has no such comment.
    pub async fn hide_sandbox_comment(&self, account_id: &AccountId, id: &str) -> Result<bool> {
        let q = "UPDATE sandbox_comments SET hidden = TRUE WHERE account_id = $1 AND id = $2";
        let n = on_pool!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Sets a sandbox post's engagement counters (demo seeding, tests); the post by the
    /// sandbox's own (external) id.
    pub async fn set_sandbox_engagement(
        &self,
        account_id: &AccountId,
        external_id: &str,
        impressions: i64,
        likes: i64,
        shares: i64,
    ) -> Result<bool> {
        let q = "UPDATE sandbox_posts SET impressions = $3, likes = $4, shares = $5 WHERE account_id = $1 AND id = $2";
        let n = on_pool!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(external_id)
            .bind(impressions)
            .bind(likes)
            .bind(shares)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}
