//! Social accounts, memberships and invitations.
use steward_domain::capability::Role;
use steward_domain::ids::{AccountId, InvitationId, PostId, UserId};
use steward_domain::platform::Platform;
use steward_domain::post::PostState;
use steward_domain::status::{AccountStatus, MembershipStatus};

use crate::{Backend, Micros, Result, Store, StoreError, Tx, on_pool, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccountRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: AccountId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub platform: Platform,
    pub account_kind: String,
    pub handle: String,
    pub display_name: String,
    #[sqlx(try_from = "crate::decode::Text")]
    pub owner_id: UserId,
    pub time_zone: String,
    #[sqlx(try_from = "crate::decode::Text")]
    pub status: AccountStatus,
    pub max_members: i64,
    pub min_gap_minutes: i64,
    pub max_posts_per_day: Option<i64>,
    /// Live sessions and access tokens each collaborator may use at once; `None`: no limit.
    pub max_devices_per_member: Option<i64>,
    pub approvals_required: i64,
    pub owner_approval_required: bool,
    pub admins_may_approve_own: bool,
    pub rules_text: String,
    pub rules_version: i64,
    /// The account's alert thresholds as stored (JSON; see `steward_domain::alerts`).
    pub alert_thresholds: String,
    /// Which connection of the account its credential belongs to (connect, reconnect and
    /// destroy move it; a token refresh does not): see [`Tx::renew_account_credential`].
    pub credential_generation: i64,
    pub created_at: Micros,
    pub updated_at: Micros,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MembershipRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub account_id: AccountId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub role: Role,
    pub grants: String,
    pub revokes: String,
    pub expires_at: Option<Micros>,
    pub windows: String,
    pub daily_quota: Option<i64>,
    #[sqlx(try_from = "crate::decode::Text")]
    pub status: MembershipStatus,
    pub accepted_rules_version: i64,
    pub created_at: Micros,
    pub updated_at: Micros,
}

/// An account joined with one member's membership (column names prefixed to stay apart).
#[derive(Debug, Clone, sqlx::FromRow)]
struct AccessRow {
    #[sqlx(flatten)]
    account: AccountRow,
    #[sqlx(try_from = "crate::decode::Text")]
    m_role: Role,
    m_grants: String,
    m_revokes: String,
    m_expires_at: Option<Micros>,
    m_windows: String,
    m_daily_quota: Option<i64>,
    #[sqlx(try_from = "crate::decode::Text")]
    m_status: MembershipStatus,
    m_accepted_rules_version: i64,
    m_created_at: Micros,
    m_updated_at: Micros,
}

/// A membership with the member's identity, for member lists.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    #[sqlx(flatten)]
    pub membership: MembershipRow,
    pub email: String,
    pub display_name: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: InvitationId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub account_id: AccountId,
    pub email: String,
    #[sqlx(try_from = "crate::decode::Text")]
    pub role: Role,
    pub grants: String,
    pub revokes: String,
    pub membership_expires_at: Option<Micros>,
    pub windows: String,
    pub daily_quota: Option<i64>,
    #[sqlx(try_from = "crate::decode::Text")]
    pub invited_by: UserId,
    pub created_at: Micros,
    pub expires_at: Micros,
    pub accepted_at: Option<Micros>,
    pub withdrawn_at: Option<Micros>,
    /// `sent` or `failed` once the invitation email was tried; None without mail.
    pub mail_status: Option<String>,
    /// Why the last email could not be delivered.
    pub mail_error: Option<String>,
}

impl InvitationRow {
    #[must_use]
    pub fn is_pending(&self, now: Micros) -> bool {
        self.accepted_at.is_none() && self.withdrawn_at.is_none() && self.expires_at > now
    }
}

const ACCOUNT_COLUMNS: &str = "a.id, a.platform, a.account_kind, a.handle, a.display_name, a.owner_id, a.time_zone, \
     a.status, a.max_members, a.min_gap_minutes, a.max_posts_per_day, a.max_devices_per_member, a.approvals_required, \
     a.owner_approval_required, a.admins_may_approve_own, a.rules_text, a.rules_version, a.alert_thresholds, \
     a.credential_generation, a.created_at, a.updated_at";
pub(crate) const MEMBERSHIP_COLUMNS: &str = "m.account_id, m.user_id, m.role, m.grants, m.revokes, m.expires_at, m.windows, \
     m.daily_quota, m.status, m.accepted_rules_version, m.created_at, m.updated_at";
const INVITATION_COLUMNS: &str = "i.id, i.account_id, i.email, i.role, i.grants, i.revokes, i.membership_expires_at, \
     i.windows, i.daily_quota, i.invited_by, i.created_at, i.expires_at, i.accepted_at, i.withdrawn_at, i.mail_status, i.mail_error";

fn sql(parts: &[&str]) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(parts.concat())
}

/// A new account and its owner's membership.
pub struct NewAccount<'a> {
    pub id: &'a AccountId,
    pub platform: &'a str,
    pub account_kind: &'a str,
    pub handle: &'a str,
    pub display_name: &'a str,
    pub owner_id: &'a UserId,
    pub time_zone: &'a str,
    pub max_members: i64,
    pub owner_approval_required: bool,
    pub credential_sealed: Option<&'a [u8]>,
    pub now: Micros,
}

/// Fields of a membership as written by invitations and member changes.
#[derive(Debug, Clone)]
pub struct MembershipTerms {
    pub role: String,
    pub grants: String,
    pub revokes: String,
    pub expires_at: Option<Micros>,
    pub windows: String,
    pub daily_quota: Option<i64>,
}

pub struct NewInvitation<'a> {
    pub id: &'a InvitationId,
    pub account_id: &'a AccountId,
    pub email: &'a str,
    pub token_hash: &'a [u8],
    pub terms: &'a MembershipTerms,
    pub invited_by: &'a UserId,
    pub now: Micros,
    pub expires_at: Micros,
}

/// Account settings as a whole, written by a settings change.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    pub max_members: i64,
    pub min_gap_minutes: i64,
    pub max_posts_per_day: Option<i64>,
    pub max_devices_per_member: Option<i64>,
    pub approvals_required: i64,
    pub owner_approval_required: bool,
    pub admins_may_approve_own: bool,
    pub time_zone: String,
    pub rules_text: String,
    pub rules_version: i64,
}

/// One membership: `$1` the account, `$2` the person.
const MEMBERSHIP_OF: &str = " FROM memberships m WHERE m.account_id = $1 AND m.user_id = $2";

impl Store {
    /// The account and the caller's membership of it, in one read: what every authorization
    /// decision starts from. Always read fresh, so revocations apply to the next request.
    pub async fn account_access(
        &self,
        account_id: &AccountId,
        user_id: &UserId,
    ) -> Result<Option<(AccountRow, MembershipRow)>> {
        if let Some(hit) = self.cache.access(account_id, user_id) {
            return Ok(Some(hit));
        }
        let generation = self.cache.generation();
        let q = sql(&[
            "SELECT ",
            ACCOUNT_COLUMNS,
            ", m.role AS m_role, m.grants AS m_grants, m.revokes AS m_revokes, m.expires_at AS m_expires_at, \
             m.windows AS m_windows, m.daily_quota AS m_daily_quota, m.status AS m_status, \
             m.accepted_rules_version AS m_accepted_rules_version, m.created_at AS m_created_at, \
             m.updated_at AS m_updated_at \
             FROM social_accounts a JOIN memberships m ON m.account_id = a.id AND m.user_id = $2 WHERE a.id = $1",
        ]);
        let row = on_pool!(self, |c| sqlx::query_as::<_, AccessRow>(q)
            .bind(account_id.as_str())
            .bind(user_id.as_str())
            .fetch_optional(c)
            .await)?;
        Ok(row.map(|r| {
            let membership = MembershipRow {
                account_id: r.account.id.clone(),
                user_id: user_id.clone(),
                role: r.m_role,
                grants: r.m_grants,
                revokes: r.m_revokes,
                expires_at: r.m_expires_at,
                windows: r.m_windows,
                daily_quota: r.m_daily_quota,
                status: r.m_status,
                accepted_rules_version: r.m_accepted_rules_version,
                created_at: r.m_created_at,
                updated_at: r.m_updated_at,
            };
            let value = (r.account, membership);
            self.cache.put_access(account_id, user_id, generation, &value);
            value
        }))
    }

    pub async fn account_by_id(&self, account_id: &AccountId) -> Result<Option<AccountRow>> {
        let q = sql(&["SELECT ", ACCOUNT_COLUMNS, " FROM social_accounts a WHERE a.id = $1"]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, AccountRow>(q).bind(account_id.as_str()).fetch_optional(c).await)?)
    }

    pub async fn membership(&self, account_id: &AccountId, user_id: &UserId) -> Result<Option<MembershipRow>> {
        let q = sql(&["SELECT ", MEMBERSHIP_COLUMNS, MEMBERSHIP_OF]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, MembershipRow>(q)
            .bind(account_id.as_str())
            .bind(user_id.as_str())
            .fetch_optional(c)
            .await)?)
    }

    /// The accounts `user_id` belongs to, with their membership, oldest first.
    pub async fn accounts_of_user(&self, user_id: &UserId) -> Result<Vec<(AccountRow, MembershipRow)>> {
        let q = sql(&[
            "SELECT ",
            ACCOUNT_COLUMNS,
            " FROM social_accounts a JOIN memberships m ON m.account_id = a.id WHERE m.user_id = $1 ORDER BY a.created_at, a.id",
        ]);
        let accounts =
            on_pool!(self, |c| sqlx::query_as::<_, AccountRow>(q).bind(user_id.as_str()).fetch_all(c).await)?;
        let q = sql(&["SELECT ", MEMBERSHIP_COLUMNS, " FROM memberships m WHERE m.user_id = $1"]);
        let memberships =
            on_pool!(self, |c| sqlx::query_as::<_, MembershipRow>(q).bind(user_id.as_str()).fetch_all(c).await)?;
        Ok(accounts
            .into_iter()
            .filter_map(|a| {
                let m = memberships.iter().find(|m| m.account_id == a.id)?.clone();
                Some((a, m))
            })
            .collect())
    }

    pub async fn members(&self, account_id: &AccountId) -> Result<Vec<MemberRow>> {
        let q = sql(&[
            "SELECT ",
            MEMBERSHIP_COLUMNS,
            ", u.email, u.display_name FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 \
             ORDER BY m.created_at, m.user_id",
        ]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, MemberRow>(q).bind(account_id.as_str()).fetch_all(c).await)?)
    }

    /// Invitations still waiting for an answer, newest first.
    pub async fn pending_invitations(&self, account_id: &AccountId, now: Micros) -> Result<Vec<InvitationRow>> {
        let q = sql(&[
            "SELECT ",
            INVITATION_COLUMNS,
            " FROM invitations i WHERE i.account_id = $1 AND i.accepted_at IS NULL AND i.withdrawn_at IS NULL \
             AND i.expires_at > $2 ORDER BY i.created_at DESC, i.id",
        ]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, InvitationRow>(q)
            .bind(account_id.as_str())
            .bind(now)
            .fetch_all(c)
            .await)?)
    }

    /// Records how the invitation email went. Not audited: bookkeeping of a delivery, no permission.
    pub async fn set_invitation_mail(
        &self,
        id: &InvitationId,
        status: &str,
        error: Option<&str>,
        now: Micros,
    ) -> Result<()> {
        let q = "UPDATE invitations SET mail_status = $2, mail_error = $3, mailed_at = $4 WHERE id = $1";
        on_pool!(self, |c| sqlx::query(q)
            .bind(id.as_str())
            .bind(status)
            .bind(error)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn invitation_by_token_hash(&self, token_hash: &[u8]) -> Result<Option<InvitationRow>> {
        let q = sql(&["SELECT ", INVITATION_COLUMNS, " FROM invitations i WHERE i.token_hash = $1"]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, InvitationRow>(q).bind(token_hash).fetch_optional(c).await)?)
    }

    /// Memberships whose access ended at or before `now` (for the sweeper).
    pub async fn expired_memberships(&self, now: Micros, limit: i64) -> Result<Vec<MembershipRow>> {
        let q = sql(&[
            "SELECT ",
            MEMBERSHIP_COLUMNS,
            " FROM memberships m WHERE m.expires_at IS NOT NULL AND m.expires_at <= $1 AND m.role <> 'owner' LIMIT CAST($2 AS BIGINT)",
        ]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, MembershipRow>(q).bind(now).bind(limit).fetch_all(c).await)?)
    }

    /// The posts a lockdown would cancel now (the same set as [`Tx::cancel_posts_not_approved_by`]),
    /// for the confirmation page: `(id, title, text, state, scheduled_at)`, soonest first.
    pub async fn posts_lockdown_would_cancel(
        &self,
        account_id: &AccountId,
        owner_id: &UserId,
    ) -> Result<Vec<LockdownPostRow>> {
        let q = "SELECT id, title, text, state, scheduled_at FROM posts WHERE account_id = $1 \
                 AND state IN ('approved', 'scheduled') AND NOT EXISTS (SELECT 1 FROM post_approvals a \
                 WHERE a.post_id = posts.id AND a.version = posts.version AND a.approver_id = $2) \
                 ORDER BY scheduled_at, id LIMIT 500";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, LockdownPostRow>(q)
            .bind(account_id.as_str())
            .bind(owner_id.as_str())
            .fetch_all(c)
            .await)?)
    }
}

/// A post a lockdown would cancel.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LockdownPostRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: PostId,
    pub title: Option<String>,
    pub text: String,
    #[sqlx(try_from = "crate::decode::Text")]
    pub state: PostState,
    pub scheduled_at: Option<Micros>,
}

impl Tx {
    /// Locks the account row until commit, so that seat counting and membership changes of one
    /// account never interleave (PostgreSQL; SQLite's IMMEDIATE transaction already excludes
    /// other writers). Returns the account as locked.
    pub async fn lock_account(&mut self, account_id: &AccountId) -> Result<Option<AccountRow>> {
        self.lock_account_with(account_id, " FOR UPDATE").await
    }

    /// As [`Tx::lock_account`], but `None` at once (PostgreSQL) when another transaction holds
    /// the account: for the scheduler, which locks posts before their account while everyone
    /// else locks the account first (lockdown, scheduling, membership changes). Waiting there
    /// could deadlock with a lockdown, and PostgreSQL would then abort one of the two.
    pub async fn lock_account_unless_busy(&mut self, account_id: &AccountId) -> Result<Option<AccountRow>> {
        self.lock_account_with(account_id, " FOR UPDATE SKIP LOCKED").await
    }

    async fn lock_account_with(&mut self, account_id: &AccountId, postgres_lock: &str) -> Result<Option<AccountRow>> {
        let lock = match self.backend {
            Backend::Postgres => postgres_lock,
            Backend::Sqlite => "",
        };
        let q = sql(&["SELECT ", ACCOUNT_COLUMNS, " FROM social_accounts a WHERE a.id = $1", lock]);
        Ok(on_tx!(self, |c| sqlx::query_as::<_, AccountRow>(q).bind(account_id.as_str()).fetch_optional(c).await)?)
    }

    /// The membership as this transaction sees it: after [`Tx::lock_account`], every change
    /// committed under the account's lock before it (a read through the pool could miss one,
    /// e.g. an earlier member of the same SQLite commit group).
    pub async fn membership(&mut self, account_id: &AccountId, user_id: &UserId) -> Result<Option<MembershipRow>> {
        let q = sql(&["SELECT ", MEMBERSHIP_COLUMNS, MEMBERSHIP_OF]);
        Ok(on_tx!(self, |c| sqlx::query_as::<_, MembershipRow>(q)
            .bind(account_id.as_str())
            .bind(user_id.as_str())
            .fetch_optional(c)
            .await)?)
    }

    /// Seats in use at `now`: members (owner included) whose time is not up, plus invitations
    /// still pending. A membership past its expiry frees its seat at that instant, whether or
    /// not the sweeper has removed it yet.
    pub async fn seats_in_use(&mut self, account_id: &AccountId, now: Micros) -> Result<i64> {
        let q = "SELECT (SELECT COUNT(*) FROM memberships WHERE account_id = $1 \
                  AND (role = 'owner' OR expires_at IS NULL OR expires_at > $2)) + \
                 (SELECT COUNT(*) FROM invitations WHERE account_id = $1 AND accepted_at IS NULL \
                  AND withdrawn_at IS NULL AND expires_at > $2)";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(q).bind(account_id.as_str()).bind(now).fetch_one(c).await)?)
    }

    pub async fn insert_account(&mut self, a: NewAccount<'_>) -> Result<()> {
        let q = "INSERT INTO social_accounts (id, platform, account_kind, handle, display_name, owner_id, time_zone, status, \
                 max_members, min_gap_minutes, max_posts_per_day, approvals_required, owner_approval_required, \
                 admins_may_approve_own, rules_text, rules_version, credential_sealed, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, 0, NULL, 1, $9, FALSE, '', 0, $10, $11, $11)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(a.id.as_str())
            .bind(a.platform)
            .bind(a.account_kind)
            .bind(a.handle)
            .bind(a.display_name)
            .bind(a.owner_id.as_str())
            .bind(a.time_zone)
            .bind(a.max_members)
            .bind(a.owner_approval_required)
            .bind(a.credential_sealed)
            .bind(a.now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        let terms = MembershipTerms {
            role: "owner".into(),
            grants: "[]".into(),
            revokes: "[]".into(),
            expires_at: None,
            windows: "[]".into(),
            daily_quota: None,
        };
        self.insert_membership(a.id, a.owner_id, &terms, 0, a.now).await
    }

    pub async fn insert_membership(
        &mut self,
        account_id: &AccountId,
        user_id: &UserId,
        t: &MembershipTerms,
        accepted_rules_version: i64,
        now: Micros,
    ) -> Result<()> {
        let q = "INSERT INTO memberships (account_id, user_id, role, grants, revokes, expires_at, windows, daily_quota, \
                 status, accepted_rules_version, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $10)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(user_id.as_str())
            .bind(&t.role)
            .bind(&t.grants)
            .bind(&t.revokes)
            .bind(t.expires_at)
            .bind(&t.windows)
            .bind(t.daily_quota)
            .bind(accepted_rules_version)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Rewrites a membership's terms and status.
    pub async fn update_membership(
        &mut self,
        account_id: &AccountId,
        user_id: &UserId,
        t: &MembershipTerms,
        status: &str,
        now: Micros,
    ) -> Result<bool> {
        let q = "UPDATE memberships SET role = $3, grants = $4, revokes = $5, expires_at = $6, windows = $7, \
                 daily_quota = $8, status = $9, updated_at = $10 WHERE account_id = $1 AND user_id = $2";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(user_id.as_str())
            .bind(&t.role)
            .bind(&t.grants)
            .bind(&t.revokes)
            .bind(t.expires_at)
            .bind(&t.windows)
            .bind(t.daily_quota)
            .bind(status)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn delete_membership(&mut self, account_id: &AccountId, user_id: &UserId) -> Result<bool> {
        let q = "DELETE FROM memberships WHERE account_id = $1 AND user_id = $2";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(user_id.as_str())
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Deletes a membership only if it is still expired at `now` (the sweeper races with edits).
    pub async fn delete_expired_membership(
        &mut self,
        account_id: &AccountId,
        user_id: &UserId,
        now: Micros,
    ) -> Result<bool> {
        let q = "DELETE FROM memberships WHERE account_id = $1 AND user_id = $2 AND expires_at IS NOT NULL AND expires_at <= $3 \
                 AND role <> 'owner'";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(user_id.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn accept_rules(
        &mut self,
        account_id: &AccountId,
        user_id: &UserId,
        version: i64,
        now: Micros,
    ) -> Result<()> {
        let q = "UPDATE memberships SET accepted_rules_version = $3, updated_at = $4 WHERE account_id = $1 AND user_id = $2";
        on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(user_id.as_str())
            .bind(version)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn update_account_settings(
        &mut self,
        account_id: &AccountId,
        s: &AccountSettings,
        now: Micros,
    ) -> Result<()> {
        let q = "UPDATE social_accounts SET max_members = $2, min_gap_minutes = $3, max_posts_per_day = $4, \
                 approvals_required = $5, owner_approval_required = $6, admins_may_approve_own = $7, time_zone = $8, \
                 rules_text = $9, rules_version = $10, updated_at = $11, max_devices_per_member = $12 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(s.max_members)
            .bind(s.min_gap_minutes)
            .bind(s.max_posts_per_day)
            .bind(s.approvals_required)
            .bind(s.owner_approval_required)
            .bind(s.admins_may_approve_own)
            .bind(&s.time_zone)
            .bind(&s.rules_text)
            .bind(s.rules_version)
            .bind(now)
            .bind(s.max_devices_per_member)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Makes `new_owner` the owner and the previous owner an admin; a conflict (and nothing
    /// changed) unless `old_owner` still owns the account.
    pub async fn transfer_ownership(
        &mut self,
        account_id: &AccountId,
        old_owner: &UserId,
        new_owner: &UserId,
        now: Micros,
    ) -> Result<()> {
        // Only from the owner it was: two transfers at once must not both happen (two owners).
        let acc = "UPDATE social_accounts SET owner_id = $2, updated_at = $3 WHERE id = $1 AND owner_id = $4";
        let moved = on_tx!(self, |c| sqlx::query(acc)
            .bind(account_id.as_str())
            .bind(new_owner.as_str())
            .bind(now)
            .bind(old_owner.as_str())
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        if moved != 1 {
            return Err(StoreError::Conflict("the account is no longer this person's to hand over".into()));
        }
        // The new owner holds everything; overrides and conditions no longer apply to them.
        let up = "UPDATE memberships SET role = 'owner', grants = '[]', revokes = '[]', expires_at = NULL, windows = '[]', \
                  daily_quota = NULL, status = 'active', updated_at = $3 WHERE account_id = $1 AND user_id = $2";
        on_tx!(self, |c| sqlx::query(up)
            .bind(account_id.as_str())
            .bind(new_owner.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        let down = "UPDATE memberships SET role = 'admin', updated_at = $3 WHERE account_id = $1 AND user_id = $2";
        on_tx!(self, |c| sqlx::query(down)
            .bind(account_id.as_str())
            .bind(old_owner.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// `active`, `needs_reconnect`, `locked_down` or `disconnected`.
    pub async fn set_account_status(&mut self, account_id: &AccountId, status: &str, now: Micros) -> Result<()> {
        let q = "UPDATE social_accounts SET status = $2, updated_at = $3 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(status)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// A reconnection makes the account usable again (`active`), unless it is locked down:
    /// lifting a lockdown is a step of its own ([`Tx::end_lockdown`]), never a side effect of
    /// connecting the account again. Whether it is active now.
    pub async fn activate_unless_locked_down(&mut self, account_id: &AccountId, now: Micros) -> Result<bool> {
        let q =
            "UPDATE social_accounts SET status = 'active', updated_at = $2 WHERE id = $1 AND status <> 'locked_down'";
        self.update_account_at(q, account_id, now).await
    }

    /// Runs `q`, an UPDATE of one account whose parameters are the account (`$1`) and now
    /// (`$2`); whether it changed the row.
    async fn update_account_at(&mut self, q: &'static str, account_id: &AccountId, now: Micros) -> Result<bool> {
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Lifts a lockdown: the account is `active` again, or `disconnected` when the lockdown
    /// destroyed its credential (nothing to publish with until the owner connects it again).
    /// Answers the status it set.
    pub async fn end_lockdown(&mut self, account_id: &AccountId, now: Micros) -> Result<String> {
        let q = "UPDATE social_accounts SET status = CASE WHEN credential_sealed IS NULL THEN 'disconnected' \
                 ELSE 'active' END, updated_at = $2 WHERE id = $1 RETURNING status";
        Ok(on_tx!(self, |c| sqlx::query_scalar(q).bind(account_id.as_str()).bind(now).fetch_one(c).await)?)
    }

    /// Lockdown: suspends every active membership of the account except the owner's and
    /// `keep` (the member locking it down); returns the suspended user ids.
    pub async fn suspend_other_members(
        &mut self,
        account_id: &AccountId,
        keep: &UserId,
        now: Micros,
    ) -> Result<Vec<UserId>> {
        let q = "UPDATE memberships SET status = 'suspended', updated_at = $3 WHERE account_id = $1 \
                 AND user_id <> $2 AND role <> 'owner' AND status = 'active' RETURNING user_id";
        let mut ids: Vec<String> = on_tx!(self, |c| sqlx::query_scalar(q)
            .bind(account_id.as_str())
            .bind(keep.as_str())
            .bind(now)
            .fetch_all(c)
            .await)?;
        ids.sort();
        Ok(ids.into_iter().map(UserId::from).collect())
    }

    /// How many memberships of the account are suspended (after a lockdown: not yet reinstated).
    pub async fn suspended_member_count(&mut self, account_id: &AccountId) -> Result<i64> {
        let q = "SELECT COUNT(*) FROM memberships WHERE account_id = $1 AND status = 'suspended'";
        Ok(on_tx!(self, |c| sqlx::query_scalar(q).bind(account_id.as_str()).fetch_one(c).await)?)
    }

    /// Destroys the stored platform credential and its data key (lockdown's "disconnect"):
    /// nothing can open it afterwards. True if there was one. The status is the caller's: a
    /// lockdown stays `locked_down`, and its lift leaves the account `disconnected`.
    pub async fn destroy_credential(&mut self, account_id: &AccountId, now: Micros) -> Result<bool> {
        let q = "UPDATE social_accounts SET credential_sealed = NULL, wrapped_data_key = NULL, \
                 credential_generation = credential_generation + 1, updated_at = $2 WHERE id = $1 AND credential_sealed IS NOT NULL";
        self.update_account_at(q, account_id, now).await
    }

    /// Lockdown: cancels the account's approved or scheduled posts whose current version the
    /// owner has not approved; returns their ids (each gets its own audit event).
    pub async fn cancel_posts_not_approved_by(
        &mut self,
        account_id: &AccountId,
        owner_id: &UserId,
        now: Micros,
    ) -> Result<Vec<PostId>> {
        let q = "UPDATE posts SET state = 'cancelled', updated_at = $3 WHERE account_id = $1 \
                 AND state IN ('approved', 'scheduled') AND NOT EXISTS (SELECT 1 FROM post_approvals a \
                 WHERE a.post_id = posts.id AND a.version = posts.version AND a.approver_id = $2) RETURNING id";
        let mut ids: Vec<String> = on_tx!(self, |c| sqlx::query_scalar(q)
            .bind(account_id.as_str())
            .bind(owner_id.as_str())
            .bind(now)
            .fetch_all(c)
            .await)?;
        ids.sort();
        Ok(ids.into_iter().map(PostId::from).collect())
    }

    /// Sets the account's alert thresholds (validated JSON).
    pub async fn set_alert_thresholds(&mut self, account_id: &AccountId, json: &str) -> Result<()> {
        let q = "UPDATE social_accounts SET alert_thresholds = $2 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(json)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn delete_account(&mut self, account_id: &AccountId) -> Result<bool> {
        let q = "DELETE FROM social_accounts WHERE id = $1";
        let n = on_tx!(self, |c| sqlx::query(q).bind(account_id.as_str()).execute(c).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn insert_invitation(&mut self, i: NewInvitation<'_>) -> Result<()> {
        let q = "INSERT INTO invitations (id, account_id, email, role, token_hash, grants, revokes, membership_expires_at, \
                 windows, daily_quota, invited_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(i.id.as_str())
            .bind(i.account_id.as_str())
            .bind(i.email)
            .bind(&i.terms.role)
            .bind(i.token_hash)
            .bind(&i.terms.grants)
            .bind(&i.terms.revokes)
            .bind(i.terms.expires_at)
            .bind(&i.terms.windows)
            .bind(i.terms.daily_quota)
            .bind(i.invited_by.as_str())
            .bind(i.now)
            .bind(i.expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Gives a pending invitation a new secret (sending it again ends the old link).
    /// Gives a pending invitation a new token, sent by `by`, who vouches for it from then on
    /// (an invitation works only while its sender may still make the membership it offers).
    pub async fn replace_invitation_token(
        &mut self,
        account_id: &AccountId,
        id: &InvitationId,
        token_hash: &[u8],
        by: &UserId,
        now: Micros,
    ) -> Result<bool> {
        let q = "UPDATE invitations SET token_hash = $3, invited_by = $5 WHERE account_id = $1 AND id = $2 \
                 AND accepted_at IS NULL AND withdrawn_at IS NULL AND expires_at > $4";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(id.as_str())
            .bind(token_hash)
            .bind(now)
            .bind(by.as_str())
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Re-reads an invitation inside the transaction (after the account lock).
    pub async fn invitation(&mut self, id: &InvitationId) -> Result<Option<InvitationRow>> {
        let q = sql(&["SELECT ", INVITATION_COLUMNS, " FROM invitations i WHERE i.id = $1"]);
        Ok(on_tx!(self, |c| sqlx::query_as::<_, InvitationRow>(q).bind(id.as_str()).fetch_optional(c).await)?)
    }

    pub async fn pending_invitation_for_email(
        &mut self,
        account_id: &AccountId,
        email: &str,
        now: Micros,
    ) -> Result<bool> {
        let q = "SELECT COUNT(*) FROM invitations WHERE account_id = $1 AND email = $2 AND accepted_at IS NULL \
                 AND withdrawn_at IS NULL AND expires_at > $3";
        let n = on_tx!(self, |c| sqlx::query_scalar::<_, i64>(q)
            .bind(account_id.as_str())
            .bind(email)
            .bind(now)
            .fetch_one(c)
            .await)?;
        Ok(n > 0)
    }

    pub async fn is_member_email(&mut self, account_id: &AccountId, email: &str) -> Result<bool> {
        let q = "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = $1 AND u.email = $2";
        let n =
            on_tx!(self, |c| sqlx::query_scalar::<_, i64>(q).bind(account_id.as_str()).bind(email).fetch_one(c).await)?;
        Ok(n > 0)
    }

    pub async fn mark_invitation_accepted(&mut self, id: &InvitationId, now: Micros) -> Result<bool> {
        let q =
            "UPDATE invitations SET accepted_at = $2 WHERE id = $1 AND accepted_at IS NULL AND withdrawn_at IS NULL";
        let n =
            on_tx!(self, |c| sqlx::query(q).bind(id.as_str()).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Cancels every post of the account not yet out that `user_id` wrote or scheduled
    /// (a draft, in review, approved or scheduled); their ids. Posts being published are left
    /// to the scheduler, which holds them if their scheduler lost the right to publish.
    pub async fn cancel_unpublished_posts_of(
        &mut self,
        account_id: &AccountId,
        user_id: &UserId,
        now: Micros,
    ) -> Result<Vec<PostId>> {
        let q = "UPDATE posts SET state = 'cancelled', scheduled_at = NULL, updated_at = $3 WHERE account_id = $1 \
                 AND (author_id = $2 OR scheduled_by = $2) \
                 AND state IN ('draft', 'in_review', 'approved', 'scheduled') RETURNING id";
        let mut ids: Vec<String> = on_tx!(self, |c| sqlx::query_scalar(q)
            .bind(account_id.as_str())
            .bind(user_id.as_str())
            .bind(now)
            .fetch_all(c)
            .await)?;
        ids.sort();
        Ok(ids.into_iter().map(PostId::from).collect())
    }

    /// Withdraws the account's invitations still pending at `now`: every one (a lockdown), or
    /// those `sent_by` a member who left or was removed (they open nothing any more, and must
    /// not hold seats). Their ids.
    pub async fn withdraw_pending_invitations(
        &mut self,
        account_id: &AccountId,
        sent_by: Option<&UserId>,
        now: Micros,
    ) -> Result<Vec<InvitationId>> {
        let q = "UPDATE invitations SET withdrawn_at = $2 WHERE account_id = $1 AND accepted_at IS NULL \
                 AND withdrawn_at IS NULL AND expires_at > $2 AND ($3 IS NULL OR invited_by = $3) RETURNING id";
        let mut ids: Vec<String> = on_tx!(self, |c| sqlx::query_scalar(q)
            .bind(account_id.as_str())
            .bind(now)
            .bind(sent_by.map(UserId::as_str))
            .fetch_all(c)
            .await)?;
        ids.sort();
        Ok(ids.into_iter().map(InvitationId::from).collect())
    }

    pub async fn withdraw_invitation(
        &mut self,
        account_id: &AccountId,
        id: &InvitationId,
        now: Micros,
    ) -> Result<bool> {
        let q = "UPDATE invitations SET withdrawn_at = $3 WHERE account_id = $1 AND id = $2 AND accepted_at IS NULL \
                 AND withdrawn_at IS NULL AND expires_at > $3";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(id.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}

impl Store {
    /// The invitations a person sent or that were addressed to their email, oldest first.
    pub async fn invitations_of_person(&self, user_id: &UserId, email: &str) -> Result<Vec<InvitationRow>> {
        let q = sql(&[
            "SELECT ",
            INVITATION_COLUMNS,
            " FROM invitations i WHERE i.invited_by = $1 OR i.email = $2 ORDER BY i.created_at, i.id",
        ]);
        Ok(on_pool!(self, |c| sqlx::query_as::<_, InvitationRow>(q)
            .bind(user_id.as_str())
            .bind(email)
            .fetch_all(c)
            .await)?)
    }
}

impl Tx {
    /// How many social accounts `user_id` owns, with every account they belong to locked for
    /// the rest of the transaction (PostgreSQL), as deleting them needs: an ownership transfer
    /// to them (which locks its account) either committed before this count or waits until
    /// this transaction is over (and then finds no membership).
    pub async fn owned_account_count(&mut self, user_id: &UserId) -> Result<i64> {
        if self.backend == Backend::Postgres {
            let lock = "SELECT a.id FROM social_accounts a JOIN memberships m ON m.account_id = a.id \
                        WHERE m.user_id = $1 ORDER BY a.id FOR UPDATE OF a";
            on_tx!(self, |c| sqlx::query(lock).bind(user_id.as_str()).fetch_all(c).await.map(|r| r.len()))?;
        }
        let q = "SELECT COUNT(*) FROM social_accounts WHERE owner_id = $1";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(q).bind(user_id.as_str()).fetch_one(c).await)?)
    }
}
