//! Users, sessions, personal access tokens, recovery codes and sign-in attempts.
use steward_domain::ids::{AccountId, SessionId, TokenId, UserId};

use crate::throttle::LockClass;
use crate::{Micros, Result, Store, Tx, on_pool, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub totp_enabled: bool,
    pub totp_secret_sealed: Option<Vec<u8>>,
    pub totp_pending_sealed: Option<Vec<u8>>,
    pub totp_last_step: Option<i64>,
    pub created_at: Micros,
    pub updated_at: Micros,
}

pub struct NewUser<'a> {
    pub id: &'a UserId,
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub now: Micros,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: SessionId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: Micros,
    pub last_seen_at: Micros,
    pub expires_at: Micros,
    pub revoked_at: Option<Micros>,
}

/// A session looked up by its token, with the user it belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuthSessionRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: SessionId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    pub last_seen_at: Micros,
    pub expires_at: Micros,
    pub revoked_at: Option<Micros>,
    pub email: String,
    pub display_name: String,
    pub totp_enabled: bool,
    pub user_created_at: Micros,
}

pub struct NewSession<'a> {
    pub id: &'a SessionId,
    pub user_id: &'a UserId,
    pub token_hash: &'a [u8],
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub now: Micros,
    pub expires_at: Micros,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiTokenRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: TokenId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    pub name: String,
    /// JSON array of scope names.
    pub scopes: String,
    /// JSON array of account ids the token is narrowed to, if any.
    pub accounts: Option<String>,
    /// JSON array of capability names the token is narrowed to, if any.
    pub capabilities: Option<String>,
    pub created_at: Micros,
    pub expires_at: Option<Micros>,
    pub last_used_at: Option<Micros>,
    pub revoked_at: Option<Micros>,
}

/// A personal access token looked up by its secret, with its user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuthTokenRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: TokenId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    pub scopes: String,
    pub accounts: Option<String>,
    pub capabilities: Option<String>,
    pub expires_at: Option<Micros>,
    pub last_used_at: Option<Micros>,
    pub revoked_at: Option<Micros>,
    pub email: String,
    pub display_name: String,
    pub totp_enabled: bool,
    pub user_created_at: Micros,
}

pub struct NewApiToken<'a> {
    pub id: &'a TokenId,
    pub user_id: &'a UserId,
    pub name: &'a str,
    pub token_hash: &'a [u8],
    pub scopes: &'a str,
    pub accounts: Option<&'a str>,
    pub capabilities: Option<&'a str>,
    pub now: Micros,
    pub expires_at: Option<Micros>,
}

const USER_COLUMNS: &str = "id, email, display_name, password_hash, totp_enabled, totp_secret_sealed, \
     totp_pending_sealed, totp_last_step, created_at, updated_at";
const TOKEN_COLUMNS: &str =
    "id, user_id, name, scopes, accounts, capabilities, created_at, expires_at, last_used_at, revoked_at";
const SESSION_COLUMNS: &str = "id, user_id, user_agent, ip, created_at, last_seen_at, expires_at, revoked_at";

macro_rules! sql {
    ($($part:expr),+ $(,)?) => { sqlx::AssertSqlSafe([$($part),+].concat()) };
}

/// The limits a password reset request must fit in: requests per address and per client
/// since `since`.
pub struct ResetLimits {
    pub per_email: i64,
    pub per_ip: i64,
    pub since: Micros,
}

/// Whether a password reset request was counted against its limits.
#[derive(Debug, PartialEq, Eq)]
pub enum ResetReservation {
    Counted,
    /// A limit is reached; `oldest` is when the oldest request it counted was made.
    Refused {
        oldest: Micros,
    },
}

impl Store {
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>> {
        let q = sql!("SELECT ", USER_COLUMNS, " FROM users WHERE email = $1");
        Ok(on_pool!(self, |c| sqlx::query_as::<_, UserRow>(q).bind(email).fetch_optional(c).await)?)
    }

    pub async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRow>> {
        let q = sql!("SELECT ", USER_COLUMNS, " FROM users WHERE id = $1");
        Ok(on_pool!(self, |c| sqlx::query_as::<_, UserRow>(q).bind(id.as_str()).fetch_optional(c).await)?)
    }

    pub async fn session_by_token_hash(&self, token_hash: &[u8]) -> Result<Option<AuthSessionRow>> {
        if let Some(row) = self.cache.session(token_hash) {
            return Ok(Some(row));
        }
        let generation = self.cache.generation();
        let q = "SELECT s.id, s.user_id, s.last_seen_at, s.expires_at, s.revoked_at, u.email, u.display_name, \
                 u.totp_enabled, u.created_at AS user_created_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1";
        let row = on_pool!(self, |c| sqlx::query_as::<_, AuthSessionRow>(q).bind(token_hash).fetch_optional(c).await)?;
        if let Some(r) = &row {
            self.cache.put_session(token_hash, generation, r);
        }
        Ok(row)
    }

    /// Records that a session was used. Not audited: it changes no permission.
    pub async fn touch_session(&self, id: &SessionId, now: Micros) -> Result<()> {
        let q = "UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2";
        on_pool!(self, |c| sqlx::query(q).bind(id.as_str()).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
        self.cache.touched_session(id, now);
        Ok(())
    }

    /// The user's sessions that are neither revoked nor past their absolute expiry, newest first.
    pub async fn live_sessions(&self, user_id: &UserId, now: Micros) -> Result<Vec<SessionRow>> {
        let q = sql!(
            "SELECT ",
            SESSION_COLUMNS,
            " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id DESC"
        );
        Ok(on_pool!(self, |c| sqlx::query_as::<_, SessionRow>(q).bind(user_id.as_str()).bind(now).fetch_all(c).await)?)
    }

    pub async fn api_token_by_hash(&self, token_hash: &[u8]) -> Result<Option<AuthTokenRow>> {
        let q = "SELECT t.id, t.user_id, t.scopes, t.accounts, t.capabilities, t.expires_at, t.last_used_at, \
                 t.revoked_at, u.email, u.display_name, u.totp_enabled, u.created_at AS user_created_at \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, AuthTokenRow>(q).bind(token_hash).fetch_optional(c).await)?)
    }

    pub async fn touch_api_token(&self, id: &TokenId, now: Micros) -> Result<()> {
        let q = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1";
        on_pool!(self, |c| sqlx::query(q).bind(id.as_str()).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The user's tokens that are not revoked, newest first.
    pub async fn api_tokens_for_user(&self, user_id: &UserId) -> Result<Vec<ApiTokenRow>> {
        let q = sql!(
            "SELECT ",
            TOKEN_COLUMNS,
            " FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id DESC"
        );
        Ok(on_pool!(self, |c| sqlx::query_as::<_, ApiTokenRow>(q).bind(user_id.as_str()).fetch_all(c).await)?)
    }

    /// Records one sign-in attempt. Written outside any request transaction on purpose: a
    /// failed attempt must count even though the request it belongs to changes nothing.
    pub async fn record_login_attempt(&self, email: &str, ip: &str, at: Micros, succeeded: bool) -> Result<()> {
        let q = "INSERT INTO login_attempts (email, ip, at, succeeded) VALUES ($1, $2, $3, $4)";
        on_pool!(self, |c| sqlx::query(q)
            .bind(email)
            .bind(ip)
            .bind(at)
            .bind(succeeded)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Failed sign-ins for `email` since `since`: how many, and when the oldest was.
    pub async fn failed_logins_for_email(&self, email: &str, since: Micros) -> Result<(i64, Option<Micros>)> {
        let q = "SELECT COUNT(*), MIN(at) FROM login_attempts WHERE email = $1 AND succeeded = FALSE AND at >= $2";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, (i64, Option<i64>)>(q).bind(email).bind(since).fetch_one(c).await)?)
    }

    /// Failed sign-ins from `ip` since `since`: how many, and when the oldest was.
    pub async fn failed_logins_for_ip(&self, ip: &str, since: Micros) -> Result<(i64, Option<Micros>)> {
        let q = "SELECT COUNT(*), MIN(at) FROM login_attempts WHERE ip = $1 AND succeeded = FALSE AND at >= $2";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, (i64, Option<i64>)>(q).bind(ip).bind(since).fetch_one(c).await)?)
    }

    /// A successful sign-in forgives the account's earlier failures.
    pub async fn clear_failed_logins(&self, email: &str) -> Result<()> {
        let q = "DELETE FROM login_attempts WHERE email = $1 AND succeeded = FALSE";
        on_pool!(self, |c| sqlx::query(q).bind(email).execute(c).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forgets sign-in attempts older than `before` (housekeeping).
    pub async fn prune_login_attempts(&self, before: Micros) -> Result<u64> {
        let q = "DELETE FROM login_attempts WHERE at < $1";
        Ok(on_pool!(self, |c| sqlx::query(q).bind(before).execute(c).await.map(|r| r.rows_affected()))?)
    }

    /// When the session last proved who it is (its sign-in, or a later password or code).
    pub async fn session_reauthenticated_at(&self, session_id: &SessionId) -> Result<Option<Micros>> {
        let q = "SELECT COALESCE(reauthenticated_at, created_at) FROM sessions WHERE id = $1";
        Ok(on_pool!(self, |c| sqlx::query_scalar::<_, i64>(q).bind(session_id.as_str()).fetch_optional(c).await)?)
    }

    /// Counts the reset requests since `limits.since` for `email` and from `ip` and, when both
    /// limits leave room, records this one, in one transaction (as `reserve_attempt` does for
    /// sign-ins): on PostgreSQL under advisory locks on the address and the client, on SQLite
    /// under its single writer. Concurrent requests cannot all be checked before any is counted.
    pub async fn reserve_password_reset_request(
        &self,
        email: &str,
        ip: &str,
        limits: &ResetLimits,
        now: Micros,
    ) -> Result<ResetReservation> {
        let mut tx = self.begin().await?;
        tx.lock_keys(&[(LockClass::ResetEmail, email), (LockClass::ResetIp, ip)]).await?;
        let by_email = "SELECT COUNT(*), MIN(at) FROM password_reset_requests WHERE email = $1 AND at >= $2";
        let by_ip = "SELECT COUNT(*), MIN(at) FROM password_reset_requests WHERE ip = $1 AND at >= $2";
        for (q, key, limit) in [(by_email, email, limits.per_email), (by_ip, ip, limits.per_ip)] {
            let (n, oldest): (i64, Option<i64>) =
                on_tx!(tx, |c| sqlx::query_as(q).bind(key).bind(limits.since).fetch_one(c).await)?;
            if n >= limit {
                return Ok(ResetReservation::Refused { oldest: oldest.unwrap_or(now) });
            }
        }
        let q = "INSERT INTO password_reset_requests (email, ip, at) VALUES ($1, $2, $3)";
        on_tx!(tx, |c| sqlx::query(q).bind(email).bind(ip).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
        tx.commit().await?;
        Ok(ResetReservation::Counted)
    }

    /// Forgets reset requests and reset links older than `before` (housekeeping, and the work an
    /// unknown address's request does in place of storing a link).
    pub async fn prune_password_resets(&self, before: Micros) -> Result<u64> {
        let requests = "DELETE FROM password_reset_requests WHERE at < $1";
        let links = "DELETE FROM password_resets WHERE expires_at < $1";
        let a = on_pool!(self, |c| sqlx::query(requests).bind(before).execute(c).await.map(|r| r.rows_affected()))?;
        let b = on_pool!(self, |c| sqlx::query(links).bind(before).execute(c).await.map(|r| r.rows_affected()))?;
        Ok(a + b)
    }

    /// The user a live (unused, unexpired) reset link belongs to.
    pub async fn password_reset_user(&self, token_hash: &[u8], now: Micros) -> Result<Option<UserId>> {
        let q = "SELECT user_id FROM password_resets WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2";
        let user: Option<String> =
            on_pool!(self, |c| sqlx::query_scalar(q).bind(token_hash).bind(now).fetch_optional(c).await)?;
        Ok(user.map(UserId::from))
    }

    pub async fn unused_recovery_code_count(&self, user_id: &UserId) -> Result<i64> {
        let q = "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL";
        Ok(on_pool!(self, |c| sqlx::query_scalar::<_, i64>(q).bind(user_id.as_str()).fetch_one(c).await)?)
    }
}

impl Tx {
    pub async fn insert_user(&mut self, u: NewUser<'_>) -> Result<UserRow> {
        let q = sql!(
            "INSERT INTO users (id, email, display_name, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
            USER_COLUMNS
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, UserRow>(q)
            .bind(u.id.as_str())
            .bind(u.email)
            .bind(u.display_name)
            .bind(u.password_hash)
            .bind(u.now)
            .fetch_one(c)
            .await)?)
    }

    /// Stores (or clears) a TOTP secret awaiting its first confirmed code.
    pub async fn set_totp_pending(&mut self, user_id: &UserId, sealed: Option<&[u8]>, now: Micros) -> Result<()> {
        let q = "UPDATE users SET totp_pending_sealed = $2, updated_at = $3 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(sealed)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Turns 2FA on with the confirmed secret and replaces the recovery codes.
    pub async fn enable_totp(
        &mut self,
        user_id: &UserId,
        sealed: &[u8],
        step: i64,
        code_hashes: &[Vec<u8>],
        now: Micros,
    ) -> Result<()> {
        let q = "UPDATE users SET totp_enabled = TRUE, totp_secret_sealed = $2, totp_pending_sealed = NULL, \
                 totp_last_step = $3, updated_at = $4 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(sealed)
            .bind(step)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        self.replace_recovery_codes(user_id, code_hashes).await
    }

    pub async fn disable_totp(&mut self, user_id: &UserId, now: Micros) -> Result<()> {
        let q = "UPDATE users SET totp_enabled = FALSE, totp_secret_sealed = NULL, totp_pending_sealed = NULL, \
                 totp_last_step = NULL, updated_at = $2 WHERE id = $1";
        on_tx!(self, |c| sqlx::query(q).bind(user_id.as_str()).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
        self.replace_recovery_codes(user_id, &[]).await
    }

    async fn replace_recovery_codes(&mut self, user_id: &UserId, code_hashes: &[Vec<u8>]) -> Result<()> {
        let del = "DELETE FROM recovery_codes WHERE user_id = $1";
        on_tx!(self, |c| sqlx::query(del).bind(user_id.as_str()).execute(c).await.map(|r| r.rows_affected()))?;
        let ins = "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)";
        for h in code_hashes {
            on_tx!(self, |c| sqlx::query(ins)
                .bind(user_id.as_str())
                .bind(h.as_slice())
                .execute(c)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(())
    }

    /// Accepts TOTP time step `step` for the user unless it (or a later one) was already used:
    /// a code is good once. Returns false for a replay. Atomic, so two racing requests with
    /// the same code cannot both succeed.
    pub async fn claim_totp_step(&mut self, user_id: &UserId, step: i64) -> Result<bool> {
        let q =
            "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)";
        let r = on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(step)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(r == 1)
    }

    /// Marks a recovery code used; false if it does not exist or was used before.
    pub async fn use_recovery_code(&mut self, user_id: &UserId, code_hash: &[u8], now: Micros) -> Result<bool> {
        let q = "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL";
        let r = on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(code_hash)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(r == 1)
    }

    pub async fn insert_session(&mut self, s: NewSession<'_>) -> Result<()> {
        // Signing in is authenticating: it counts as the session's latest re-authentication.
        let q = "INSERT INTO sessions (id, user_id, token_hash, user_agent, ip, created_at, last_seen_at, expires_at, \
                 reauthenticated_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $6)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(s.id.as_str())
            .bind(s.user_id.as_str())
            .bind(s.token_hash)
            .bind(s.user_agent)
            .bind(s.ip)
            .bind(s.now)
            .bind(s.expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Revokes one of the user's sessions; false if it is not theirs or already revoked.
    pub async fn revoke_session(&mut self, user_id: &UserId, session_id: &SessionId, now: Micros) -> Result<bool> {
        let q = "UPDATE sessions SET revoked_at = $3 WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL";
        let r = on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(session_id.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(r == 1)
    }

    /// Revokes all of the user's sessions except `keep`; returns how many were revoked.
    pub async fn revoke_all_sessions(
        &mut self,
        user_id: &UserId,
        keep: Option<&SessionId>,
        now: Micros,
    ) -> Result<u64> {
        let q = "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND ($3 IS NULL OR id <> $3)";
        let r = on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(now)
            .bind(keep.map(SessionId::as_str))
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(r)
    }

    /// Remembers a device fingerprint for the user; true if it had not been seen before.
    pub async fn remember_device(&mut self, user_id: &UserId, device_hash: &[u8], now: Micros) -> Result<bool> {
        let q = "INSERT INTO known_devices (user_id, device_hash, first_seen_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id, device_hash) DO NOTHING";
        let r = on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(device_hash)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(r == 1)
    }

    /// How many devices the user has signed in from (their first sign-in is no news).
    pub async fn known_device_count(&mut self, user_id: &UserId) -> Result<i64> {
        let q = "SELECT COUNT(*) FROM known_devices WHERE user_id = $1";
        Ok(on_tx!(self, |c| sqlx::query_scalar::<_, i64>(q).bind(user_id.as_str()).fetch_one(c).await)?)
    }

    /// Revokes, at `now`, every live API token narrowed to `account_id` (lockdown); returns how many.
    pub async fn revoke_tokens_narrowed_to(&mut self, account_id: &AccountId, now: Micros) -> Result<u64> {
        // `accounts` is a JSON list of ids; ids are UUIDs (no LIKE wildcards), so the quoted id
        // matches only itself.
        let q = "UPDATE api_tokens SET revoked_at = $2 WHERE revoked_at IS NULL AND accounts IS NOT NULL \
                 AND accounts LIKE '%' || $1 || '%'";
        let needle = format!("\"{account_id}\"");
        Ok(on_tx!(self, |c| sqlx::query(q).bind(&needle).bind(now).execute(c).await.map(|r| r.rows_affected()))?)
    }

    pub async fn insert_api_token(&mut self, t: NewApiToken<'_>) -> Result<ApiTokenRow> {
        let q = sql!(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, scopes, accounts, capabilities, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ",
            TOKEN_COLUMNS
        );
        Ok(on_tx!(self, |c| sqlx::query_as::<_, ApiTokenRow>(q)
            .bind(t.id.as_str())
            .bind(t.user_id.as_str())
            .bind(t.name)
            .bind(t.token_hash)
            .bind(t.scopes)
            .bind(t.accounts)
            .bind(t.capabilities)
            .bind(t.now)
            .bind(t.expires_at)
            .fetch_one(c)
            .await)?)
    }

    /// Revokes one of the user's tokens; false if it is not theirs or already revoked.
    pub async fn revoke_api_token(&mut self, user_id: &UserId, token_id: &TokenId, now: Micros) -> Result<bool> {
        let q = "UPDATE api_tokens SET revoked_at = $3 WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL";
        let r = on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(token_id.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(r == 1)
    }

    /// Stores a reset link for the user, ending the links mailed before it (only the newest works).
    pub async fn insert_password_reset(
        &mut self,
        user_id: &UserId,
        token_hash: &[u8],
        now: Micros,
        expires_at: Micros,
    ) -> Result<()> {
        // Requests at once take turns (PostgreSQL; SQLite has one writer): each ends the links
        // committed before it, so however they arrive one link is left working.
        self.lock_keys(&[(LockClass::ResetLinks, user_id.as_str())]).await?;
        let end = "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL";
        on_tx!(self, |c| sqlx::query(end)
            .bind(user_id.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        let q = "INSERT INTO password_resets (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(token_hash)
            .bind(user_id.as_str())
            .bind(now)
            .bind(expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Uses a reset link once: the user it belongs to, or None when it is unknown, used or expired.
    /// Atomic, so two racing confirmations cannot both use it.
    pub async fn use_password_reset(&mut self, token_hash: &[u8], now: Micros) -> Result<Option<UserId>> {
        let q = "UPDATE password_resets SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 RETURNING user_id";
        let user: Option<String> =
            on_tx!(self, |c| sqlx::query_scalar(q).bind(token_hash).bind(now).fetch_optional(c).await)?;
        Ok(user.map(UserId::from))
    }

    /// Ends every unused reset link of the user (the password changed some other way).
    pub async fn end_password_resets(&mut self, user_id: &UserId, now: Micros) -> Result<u64> {
        let q = "UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL";
        Ok(on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?)
    }

    pub async fn set_password_hash(&mut self, user_id: &UserId, hash: &str, now: Micros) -> Result<bool> {
        let q = "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1";
        let r = on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(hash)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(r == 1)
    }

    /// Records that the session proved who it is again (a password or code just now).
    pub async fn mark_session_reauthenticated(&mut self, session_id: &SessionId, now: Micros) -> Result<()> {
        let q = "UPDATE sessions SET reauthenticated_at = $2 WHERE id = $1";
        let id = session_id.as_str();
        on_tx!(self, |c| sqlx::query(q).bind(id).bind(now).execute(c).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Revokes every live personal access token of the user ("log out everywhere" with tokens).
    pub async fn revoke_all_api_tokens(&mut self, user_id: &UserId, now: Micros) -> Result<u64> {
        let q = "UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL";
        Ok(on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?)
    }
}

impl Store {
    /// Every session the user ever had that is still on record (revoked and expired too), newest first.
    pub async fn sessions_on_record(&self, user_id: &UserId) -> Result<Vec<SessionRow>> {
        let q = sql!("SELECT ", SESSION_COLUMNS, " FROM sessions WHERE user_id = $1 ORDER BY created_at DESC, id DESC");
        Ok(on_pool!(self, |c| sqlx::query_as::<_, SessionRow>(q).bind(user_id.as_str()).fetch_all(c).await)?)
    }

    /// Every personal access token of the user on record (revoked too), newest first.
    pub async fn api_tokens_on_record(&self, user_id: &UserId) -> Result<Vec<ApiTokenRow>> {
        let q = sql!("SELECT ", TOKEN_COLUMNS, " FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC");
        Ok(on_pool!(self, |c| sqlx::query_as::<_, ApiTokenRow>(q).bind(user_id.as_str()).fetch_all(c).await)?)
    }
}

/// The email a deleted user's row keeps: unique (the column is), naming nobody, and no address
/// anyone can sign in with or be invited under (`.invalid` is reserved, RFC 2606).
#[must_use]
pub fn tombstone_email(user_id: &UserId) -> String {
    format!("deleted-{user_id}@deleted.invalid")
}

impl Tx {
    /// Erases a person: every session, token, code, device, reset link, alert and preference of
    /// theirs and every membership goes, their sign-in attempts too; the user row stays as a
    /// tombstone (no email, name, password or second factor) because posts, comments, approvals
    /// and media name its id, and so does the hash-chained audit log, which is not rewritten.
    /// False if there was no such user.
    pub async fn erase_user(&mut self, user_id: &UserId, now: Micros) -> Result<bool> {
        let Some(email) = on_tx!(self, |c| sqlx::query_scalar::<_, String>("SELECT email FROM users WHERE id = $1")
            .bind(user_id.as_str())
            .fetch_optional(c)
            .await)?
        else {
            return Ok(false);
        };
        const BY_ID: [&str; 11] = [
            "DELETE FROM sessions WHERE user_id = $1",
            "DELETE FROM api_tokens WHERE user_id = $1",
            "DELETE FROM recovery_codes WHERE user_id = $1",
            "DELETE FROM known_devices WHERE user_id = $1",
            "DELETE FROM password_resets WHERE user_id = $1",
            "DELETE FROM oauth_states WHERE user_id = $1",
            "DELETE FROM alert_deliveries WHERE user_id = $1",
            "DELETE FROM alert_acks WHERE user_id = $1",
            "DELETE FROM alerts WHERE user_id = $1",
            "DELETE FROM alert_preferences WHERE user_id = $1",
            "DELETE FROM memberships WHERE user_id = $1",
        ];
        for q in BY_ID {
            on_tx!(self, |c| sqlx::query(q).bind(user_id.as_str()).execute(c).await.map(|r| r.rows_affected()))?;
        }
        const BY_EMAIL: [&str; 3] = [
            "DELETE FROM auth_attempts WHERE email = $1",
            "DELETE FROM login_attempts WHERE email = $1",
            "DELETE FROM password_reset_requests WHERE email = $1",
        ];
        for q in BY_EMAIL {
            on_tx!(self, |c| sqlx::query(q).bind(&email).execute(c).await.map(|r| r.rows_affected()))?;
        }
        let q = "UPDATE users SET email = $2, display_name = '', password_hash = '', totp_enabled = FALSE, \
                 totp_secret_sealed = NULL, totp_pending_sealed = NULL, totp_last_step = NULL, updated_at = $3 \
                 WHERE id = $1";
        let tomb = tombstone_email(user_id);
        on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(&tomb)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(true)
    }
}
