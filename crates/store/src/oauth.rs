//! OAuth connection attempts (`state`), consumed exactly once.
use crate::{Micros, Result, Store, Tx, on_pool, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OauthStateRow {
    pub user_id: String,
    pub session_id: String,
    pub platform: String,
    pub account_kind: String,
    pub verifier_sealed: Vec<u8>,
    pub reconnect_account_id: Option<String>,
    pub created_at: Micros,
    pub expires_at: Micros,
}

pub struct NewOauthState<'a> {
    pub state_hash: &'a [u8],
    pub user_id: &'a str,
    pub session_id: &'a str,
    pub platform: &'a str,
    pub account_kind: &'a str,
    pub verifier_sealed: &'a [u8],
    pub reconnect_account_id: Option<&'a str>,
    pub now: Micros,
    pub expires_at: Micros,
}

impl Tx {
    pub async fn insert_oauth_state(&mut self, s: NewOauthState<'_>) -> Result<()> {
        let q = "INSERT INTO oauth_states (state_hash, user_id, session_id, platform, account_kind, verifier_sealed, \
                 reconnect_account_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(s.state_hash)
            .bind(s.user_id)
            .bind(s.session_id)
            .bind(s.platform)
            .bind(s.account_kind)
            .bind(s.verifier_sealed)
            .bind(s.reconnect_account_id)
            .bind(s.now)
            .bind(s.expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Marks the state used and returns it, or `None` if it does not exist or was used before.
    /// Atomic: of two callbacks racing with the same state, one gets it.
    pub async fn consume_oauth_state(&mut self, state_hash: &[u8], now: Micros) -> Result<Option<OauthStateRow>> {
        let q = "UPDATE oauth_states SET used_at = $2 WHERE state_hash = $1 AND used_at IS NULL \
                 RETURNING user_id, session_id, platform, account_kind, verifier_sealed, reconnect_account_id, \
                 created_at, expires_at";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, OauthStateRow>(q).bind(state_hash).bind(now).fetch_optional(c).await)?)
    }
}

impl Store {
    /// Forgets connection attempts that ended before `before` (housekeeping).
    pub async fn prune_oauth_states(&self, before: Micros) -> Result<u64> {
        let q = "DELETE FROM oauth_states WHERE expires_at < $1";
        Ok(on_pool!(self, |c| sqlx::query(q).bind(before).execute(c).await.map(|r| r.rows_affected()))?)
    }
}
