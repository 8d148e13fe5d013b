//! Notifications in the app, each person's notification preferences, and the daily digest's
//! once-a-day claim. A notification is readable only while its person is still a live member
//! of its account (the owner, or an active membership that has not expired).
use steward_domain::ids::{AccountId, NotificationId, PostId, UserId};
use steward_domain::status::NotificationKind;

use crate::accounts::MEMBERSHIP_COLUMNS;
use crate::{MembershipRow, Micros, Result, Store, Tx, on_pool, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: NotificationId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub account_id: AccountId,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub post_id: Option<PostId>,
    #[sqlx(try_from = "crate::decode::Text")]
    pub kind: NotificationKind,
    pub text: String,
    pub created_at: Micros,
    pub read_at: Option<Micros>,
}

/// A notification due to be mailed, with its person's address.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationMailRow {
    #[sqlx(flatten)]
    pub notification: NotificationRow,
    pub email: String,
    /// Whether its person is still a live member of its account.
    pub visible: bool,
}

pub struct NewNotification<'a> {
    pub id: &'a NotificationId,
    pub user_id: &'a UserId,
    pub account_id: &'a AccountId,
    pub post_id: Option<&'a PostId>,
    pub kind: NotificationKind,
    pub text: &'a str,
    pub now: Micros,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationPreferencesRow {
    pub email: bool,
    pub daily_digest: bool,
}

/// One owned account's figures for the daily digest.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DigestAccountRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub account_id: AccountId,
    pub platform: String,
    pub handle: String,
    pub in_review: i64,
    pub scheduled: i64,
    pub held: i64,
    pub published: i64,
    pub failed: i64,
}

/// A person who asked for the daily digest.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DigestSubscriberRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    pub email: String,
}

const COLUMNS: &str = "n.id, n.user_id, n.account_id, n.post_id, n.kind, n.text, n.created_at, n.read_at";
/// The notification row `t`'s person is still a live member of its account at the instant
/// bound as `now` (a placeholder such as `$3`).
fn visible(t: &str, now: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM memberships m WHERE m.account_id = {t}.account_id AND m.user_id = {t}.user_id \
         AND (m.role = 'owner' OR (m.status = 'active' AND (m.expires_at IS NULL OR m.expires_at > {now}))))"
    )
}

impl Tx {
    /// Every membership of the account (the reviewers of a post are chosen among them).
    pub async fn memberships_of(&mut self, account_id: &AccountId) -> Result<Vec<MembershipRow>> {
        let q = sqlx::AssertSqlSafe(format!(
            "SELECT {MEMBERSHIP_COLUMNS} FROM memberships m WHERE m.account_id = $1 ORDER BY m.created_at, m.user_id"
        ));
        Ok(on_tx!(self, |c| sqlx::query_as::<_, MembershipRow>(q).bind(account_id.as_str()).fetch_all(c).await)?)
    }

    /// Adds a notification; it is to be mailed when the server has mail and its person has not
    /// turned mail off (the default is on).
    pub async fn insert_notification(&mut self, n: NewNotification<'_>) -> Result<()> {
        let q = "INSERT INTO notifications (id, user_id, account_id, post_id, kind, text, created_at, read_at, mail_state) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, NULL, CASE WHEN $8 AND COALESCE((SELECT p.email FROM \
                 notification_preferences p WHERE p.user_id = $2), TRUE) THEN 'pending' ELSE 'none' END";
        let mail = self.email_deliveries;
        on_tx!(self, |c| sqlx::query(q)
            .bind(n.id.as_str())
            .bind(n.user_id.as_str())
            .bind(n.account_id.as_str())
            .bind(n.post_id.map(|p| p.as_str()))
            .bind(n.kind.as_str())
            .bind(n.text)
            .bind(n.now)
            .bind(mail)
            .execute(c)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Marks the person's own notification read (once; reading again keeps the first time).
    /// `false` when there is no such notification they may see.
    pub async fn mark_notification_read(&mut self, id: &NotificationId, user_id: &UserId, now: Micros) -> Result<bool> {
        let q = sqlx::AssertSqlSafe(format!(
            "UPDATE notifications SET read_at = COALESCE(read_at, $3) WHERE id = $1 AND user_id = $2 AND {}",
            visible("notifications", "$3")
        ));
        let done = on_tx!(self, |c| sqlx::query(q)
            .bind(id.as_str())
            .bind(user_id.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    pub async fn put_notification_preferences(
        &mut self,
        user_id: &UserId,
        email: bool,
        daily_digest: bool,
        now: Micros,
    ) -> Result<()> {
        let q = "INSERT INTO notification_preferences (user_id, email, daily_digest, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id) DO UPDATE SET email = $2, daily_digest = $3, updated_at = $4";
        on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(email)
            .bind(daily_digest)
            .bind(now)
            .execute(c)
            .await
            .map(|_| ()))?;
        Ok(())
    }
}

impl Store {
    /// The person's notifications they may still see, newest first, after the cursor `before`.
    pub async fn notifications_for_user(
        &self,
        user_id: &UserId,
        now: Micros,
        unread_only: bool,
        before: Option<(Micros, NotificationId)>,
        limit: i64,
    ) -> Result<Vec<NotificationRow>> {
        let (b_at, b_id) = before.map_or((None, None), |(a, i)| (Some(a), Some(i)));
        let q = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM notifications n WHERE n.user_id = $2 AND {} AND ($4 = FALSE OR n.read_at IS NULL) \
             AND ($5 IS NULL OR n.created_at < $5 OR (n.created_at = $5 AND n.id < $6)) \
             ORDER BY n.created_at DESC, n.id DESC LIMIT CAST($1 AS BIGINT)",
            visible("n", "$3")
        ));
        Ok(on_pool!(self, |c| sqlx::query_as::<_, NotificationRow>(q)
            .bind(limit)
            .bind(user_id.as_str())
            .bind(now)
            .bind(unread_only)
            .bind(b_at)
            .bind(b_id.as_deref())
            .fetch_all(c)
            .await)?)
    }

    /// How many unread notifications the person may see, counted up to `cap`.
    pub async fn unread_notification_count(&self, user_id: &UserId, now: Micros, cap: i64) -> Result<i64> {
        let q = sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM (SELECT 1 FROM notifications n WHERE n.user_id = $1 AND n.read_at IS NULL AND {} \
             LIMIT CAST($3 AS BIGINT)) x",
            visible("n", "$2")
        ));
        let (n,): (i64,) =
            on_pool!(self, |c| sqlx::query_as(q).bind(user_id.as_str()).bind(now).bind(cap).fetch_one(c).await)?;
        Ok(n)
    }

    pub async fn notification_preferences(&self, user_id: &UserId) -> Result<Option<NotificationPreferencesRow>> {
        let q = "SELECT email, daily_digest FROM notification_preferences WHERE user_id = $1";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, NotificationPreferencesRow>(q)
            .bind(user_id.as_str())
            .fetch_optional(c)
            .await)?)
    }

    /// Notifications waiting to be mailed, oldest first, each with whether its person may
    /// still see it (only those are mailed). A read: an idle round writes nothing.
    pub async fn notifications_to_mail(&self, now: Micros, limit: i64) -> Result<Vec<NotificationMailRow>> {
        let q = sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, u.email, {} AS visible FROM notifications n JOIN users u ON u.id = n.user_id \
             WHERE n.mail_state = 'pending' ORDER BY n.created_at, n.id LIMIT CAST($2 AS BIGINT)",
            visible("n", "$1")
        ));
        Ok(on_pool!(self, |c| sqlx::query_as::<_, NotificationMailRow>(q).bind(now).bind(limit).fetch_all(c).await)?)
    }

    /// Drops a waiting mail whose person may no longer see the notification.
    pub async fn drop_notification_mail(&self, id: &NotificationId) -> Result<()> {
        let q = "UPDATE notifications SET mail_state = 'none' WHERE id = $1 AND mail_state = 'pending'";
        on_pool!(self, |c| sqlx::query(q).bind(id.as_str()).execute(c).await.map(|_| ()))?;
        Ok(())
    }

    /// Claims one notification's mail (compare-and-set): `true` for exactly one caller.
    pub async fn claim_notification_mail(&self, id: &NotificationId) -> Result<bool> {
        let q = "UPDATE notifications SET mail_state = 'sent' WHERE id = $1 AND mail_state = 'pending'";
        let done = on_pool!(self, |c| sqlx::query(q).bind(id.as_str()).execute(c).await.map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// The people who asked for the daily digest and whose digest of `day` nobody claimed yet
    /// (a read, so idle rounds write nothing).
    pub async fn digest_subscribers(&self, day: &str) -> Result<Vec<DigestSubscriberRow>> {
        let q = "SELECT p.user_id, u.email FROM notification_preferences p JOIN users u ON u.id = p.user_id \
                 WHERE p.daily_digest = TRUE AND NOT EXISTS (SELECT 1 FROM notification_digests d \
                 WHERE d.user_id = p.user_id AND d.day = $1) ORDER BY p.user_id";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, DigestSubscriberRow>(q).bind(day).fetch_all(c).await)?)
    }

    /// Claims the person's digest of `day` (UTC, `YYYY-MM-DD`): `true` for exactly one server.
    pub async fn claim_digest(&self, user_id: &UserId, day: &str, now: Micros) -> Result<bool> {
        let q = "INSERT INTO notification_digests (user_id, day, claimed_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, day) DO NOTHING";
        let done = on_pool!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(day)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// The figures of each account `owner_id` owns: posts waiting now, and what went out or
    /// failed since `since`.
    pub async fn digest_accounts(&self, owner_id: &UserId, since: Micros) -> Result<Vec<DigestAccountRow>> {
        let q = "SELECT a.id AS account_id, a.platform, a.handle, \
                 (SELECT COUNT(*) FROM posts p WHERE p.account_id = a.id AND p.state = 'in_review') AS in_review, \
                 (SELECT COUNT(*) FROM posts p WHERE p.account_id = a.id AND p.state = 'scheduled') AS scheduled, \
                 (SELECT COUNT(*) FROM posts p WHERE p.account_id = a.id AND p.hold_reason IS NOT NULL \
                    AND p.state NOT IN ('published', 'cancelled', 'failed')) AS held, \
                 (SELECT COUNT(*) FROM posts p WHERE p.account_id = a.id AND p.state = 'published' \
                    AND p.published_at >= $2) AS published, \
                 (SELECT COUNT(*) FROM posts p WHERE p.account_id = a.id AND p.state = 'failed' \
                    AND p.updated_at >= $2) AS failed \
                 FROM social_accounts a WHERE a.owner_id = $1 ORDER BY a.created_at, a.id";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, DigestAccountRow>(q)
            .bind(owner_id.as_str())
            .bind(since)
            .fetch_all(c)
            .await)?)
    }
}
