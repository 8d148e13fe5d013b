//! The sealed columns, for the credential vault and master-key rotation: a credential and its
//! wrapped data key on `social_accounts`, TOTP secrets on `users`. Rotation pages through them by
//! id and replaces each value only if it is still the one it read (compare-and-set), so a change
//! made meanwhile by a running server is never overwritten.
use steward_domain::ids::{AccountId, UserId};

use crate::{Micros, Result, Store, Tx, on_pool, on_tx};

/// An account's sealed credential and wrapped data key (`None` before migration 0003's vault).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealedAccountRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: AccountId,
    pub wrapped_data_key: Option<Vec<u8>>,
    pub credential_sealed: Option<Vec<u8>>,
    /// Which connection of the account the credential belongs to (see
    /// [`Tx::renew_account_credential`]).
    pub credential_generation: i64,
}

/// A user's sealed TOTP secrets (confirmed and pending).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SealedTotpRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: UserId,
    pub totp_secret_sealed: Option<Vec<u8>>,
    pub totp_pending_sealed: Option<Vec<u8>>,
}

impl Store {
    /// The account's sealed credential, if the account exists.
    pub async fn sealed_credential(&self, account_id: &AccountId) -> Result<Option<SealedAccountRow>> {
        let q =
            "SELECT id, wrapped_data_key, credential_sealed, credential_generation FROM social_accounts WHERE id = $1";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, SealedAccountRow>(q)
            .bind(account_id.as_str())
            .fetch_optional(c)
            .await)?)
    }

    /// Up to `limit` accounts holding a credential, with ids after `after`, in id order.
    pub async fn sealed_credentials_page(&self, after: &str, limit: i64) -> Result<Vec<SealedAccountRow>> {
        let q = "SELECT id, wrapped_data_key, credential_sealed, credential_generation FROM social_accounts \
                 WHERE id > $1 AND credential_sealed IS NOT NULL ORDER BY id LIMIT CAST($2 AS BIGINT)";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, SealedAccountRow>(q).bind(after).bind(limit).fetch_all(c).await)?)
    }

    /// Up to `limit` users holding a TOTP secret, with ids after `after`, in id order.
    pub async fn sealed_totp_page(&self, after: &str, limit: i64) -> Result<Vec<SealedTotpRow>> {
        let q = "SELECT id, totp_secret_sealed, totp_pending_sealed FROM users WHERE id > $1 \
                 AND (totp_secret_sealed IS NOT NULL OR totp_pending_sealed IS NOT NULL) ORDER BY id LIMIT CAST($2 AS BIGINT)";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, SealedTotpRow>(q).bind(after).bind(limit).fetch_all(c).await)?)
    }
}

impl Tx {
    /// PostgreSQL: waits until no other replica is refreshing this account's platform tokens,
    /// and holds the turn until this transaction ends (store the refreshed credential in it).
    /// A no-op on SQLite, where one server runs and its callers take turns in process.
    pub async fn take_credential_refresh_turn(&mut self, account_id: &AccountId) -> Result<()> {
        self.lock_keys(&[(crate::throttle::LockClass::CredentialRefresh, account_id.as_str())]).await
    }

    /// Stores the credential of a new connection (connect, reconnect) and its wrapped data key:
    /// a new generation, so a refresh or a refusal of the previous one changes nothing after it.
    pub async fn set_account_credential(
        &mut self,
        account_id: &AccountId,
        wrapped_data_key: &[u8],
        credential_sealed: &[u8],
        now: Micros,
    ) -> Result<bool> {
        self.store_credential(account_id, None, wrapped_data_key, credential_sealed, now).await
    }

    /// Stores a refreshed credential (new tokens of the same connection) if the account's
    /// credential is still of `generation`; whether it did. A refresh that began before the
    /// owner reconnected (or before a lockdown destroyed the credential) must not put the old
    /// grant back.
    pub async fn renew_account_credential(
        &mut self,
        account_id: &AccountId,
        generation: i64,
        wrapped_data_key: &[u8],
        credential_sealed: &[u8],
        now: Micros,
    ) -> Result<bool> {
        self.store_credential(account_id, Some(generation), wrapped_data_key, credential_sealed, now).await
    }

    /// A new connection's credential (`renewing: None`), or renewed tokens of the connection of
    /// that generation.
    async fn store_credential(
        &mut self,
        account_id: &AccountId,
        renewing: Option<i64>,
        wrapped_data_key: &[u8],
        credential_sealed: &[u8],
        now: Micros,
    ) -> Result<bool> {
        let q = match renewing {
            None => {
                "UPDATE social_accounts SET wrapped_data_key = $2, credential_sealed = $3, updated_at = $4, \
                 credential_generation = credential_generation + 1 WHERE id = $1"
            }
            Some(_) => {
                "UPDATE social_accounts SET wrapped_data_key = $2, credential_sealed = $3, updated_at = $4 \
                 WHERE id = $1 AND credential_generation = $5 AND credential_sealed IS NOT NULL"
            }
        };
        let n = on_tx!(self, |c| {
            let mut query =
                sqlx::query(q).bind(account_id.as_str()).bind(wrapped_data_key).bind(credential_sealed).bind(now);
            if let Some(generation) = renewing {
                query = query.bind(generation);
            }
            query.execute(c).await.map(|r| r.rows_affected())
        })?;
        Ok(n == 1)
    }

    /// The platform refused the credential of `generation` for good: marks the account
    /// `needs_reconnect` if it is active and still holds that credential; whether it did. A
    /// refusal of a credential the owner has replaced since (reconnected) changes nothing, and a
    /// locked-down or disconnected account keeps its status.
    pub async fn mark_credential_refused(
        &mut self,
        account_id: &AccountId,
        generation: i64,
        now: Micros,
    ) -> Result<bool> {
        let q = "UPDATE social_accounts SET status = 'needs_reconnect', updated_at = $3 \
                 WHERE id = $1 AND credential_generation = $2 AND status = 'active'";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(generation)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Replaces the wrapped data key if it is still `old`; whether it did.
    pub async fn replace_wrapped_data_key(&mut self, account_id: &AccountId, old: &[u8], new: &[u8]) -> Result<bool> {
        let q = "UPDATE social_accounts SET wrapped_data_key = $3 WHERE id = $1 AND wrapped_data_key = $2";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(old)
            .bind(new)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Moves a credential stored before the vault (sealed directly under the master key, no
    /// data key) to a data key, if it is still `old`; whether it did.
    pub async fn upgrade_legacy_credential(
        &mut self,
        account_id: &AccountId,
        old: &[u8],
        wrapped_data_key: &[u8],
        credential_sealed: &[u8],
    ) -> Result<bool> {
        let q = "UPDATE social_accounts SET wrapped_data_key = $3, credential_sealed = $4 \
                 WHERE id = $1 AND wrapped_data_key IS NULL AND credential_sealed = $2";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(account_id.as_str())
            .bind(old)
            .bind(wrapped_data_key)
            .bind(credential_sealed)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Replaces a user's confirmed (`pending == false`) or pending TOTP secret if it is still
    /// `old`; whether it did.
    pub async fn replace_totp_sealed(
        &mut self,
        user_id: &UserId,
        pending: bool,
        old: &[u8],
        new: &[u8],
    ) -> Result<bool> {
        let q = if pending {
            "UPDATE users SET totp_pending_sealed = $3 WHERE id = $1 AND totp_pending_sealed = $2"
        } else {
            "UPDATE users SET totp_secret_sealed = $3 WHERE id = $1 AND totp_secret_sealed = $2"
        };
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(user_id.as_str())
            .bind(old)
            .bind(new)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}
