//! OAuth connection attempts (`state`), consumed exactly once.
use steward_domain::ids::{AccountId, PageChoiceId, SessionId, UserId};

use crate::{Micros, Result, Store, Tx, on_pool, on_tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OauthStateRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub session_id: SessionId,
    pub platform: String,
    pub account_kind: String,
    pub verifier_sealed: Vec<u8>,
    #[sqlx(try_from = "crate::decode::MaybeText")]
    pub reconnect_account_id: Option<AccountId>,
    /// Mastodon: the instance origin the attempt went to.
    pub instance: Option<String>,
    pub created_at: Micros,
    pub expires_at: Micros,
}

pub struct NewOauthState<'a> {
    pub state_hash: &'a [u8],
    pub user_id: &'a UserId,
    pub session_id: &'a SessionId,
    pub platform: &'a str,
    pub account_kind: &'a str,
    pub verifier_sealed: &'a [u8],
    pub reconnect_account_id: Option<&'a AccountId>,
    pub instance: Option<&'a str>,
    pub now: Micros,
    pub expires_at: Micros,
}

impl Tx {
    pub async fn insert_oauth_state(&mut self, s: NewOauthState<'_>) -> Result<()> {
        let q = "INSERT INTO oauth_states (state_hash, user_id, session_id, platform, account_kind, verifier_sealed, \
                 reconnect_account_id, created_at, expires_at, instance) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(s.state_hash)
            .bind(s.user_id.as_str())
            .bind(s.session_id.as_str())
            .bind(s.platform)
            .bind(s.account_kind)
            .bind(s.verifier_sealed)
            .bind(s.reconnect_account_id.map(AccountId::as_str))
            .bind(s.now)
            .bind(s.expires_at)
            .bind(s.instance)
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
                 instance, created_at, expires_at";
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

/// Steward's OAuth application on one Mastodon instance (the client secret sealed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MastodonAppRow {
    pub instance: String,
    pub redirect_uri: String,
    pub scopes: String,
    pub client_id: String,
    pub client_secret_sealed: Vec<u8>,
    pub created_at: Micros,
}

impl Store {
    /// The app registered on `instance` (a normalized origin), if any.
    pub async fn mastodon_app(&self, instance: &str) -> Result<Option<MastodonAppRow>> {
        let q = "SELECT instance, redirect_uri, scopes, client_id, client_secret_sealed, created_at \
                 FROM mastodon_apps WHERE instance = $1";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, MastodonAppRow>(q).bind(instance).fetch_optional(c).await)?)
    }

    /// Every registered app (one per instance; few), for master-key rotation.
    pub async fn mastodon_apps(&self) -> Result<Vec<MastodonAppRow>> {
        let q = "SELECT instance, redirect_uri, scopes, client_id, client_secret_sealed, created_at \
                 FROM mastodon_apps ORDER BY instance";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, MastodonAppRow>(q).fetch_all(c).await)?)
    }
}

impl Tx {
    /// The app registered on `instance`, read inside the transaction.
    pub async fn mastodon_app(&mut self, instance: &str) -> Result<Option<MastodonAppRow>> {
        let q = "SELECT instance, redirect_uri, scopes, client_id, client_secret_sealed, created_at \
                 FROM mastodon_apps WHERE instance = $1";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, MastodonAppRow>(q).bind(instance).fetch_optional(c).await)?)
    }

    /// Keeps a newly registered app, unless another connect registered one for the same instance,
    /// redirect URI and scopes meanwhile (that one is kept; the caller re-reads). A stored app
    /// with another redirect URI or scopes (the server's public URL changed) is replaced.
    pub async fn save_mastodon_app(&mut self, app: &MastodonAppRow) -> Result<()> {
        let q = "INSERT INTO mastodon_apps (instance, redirect_uri, scopes, client_id, client_secret_sealed, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (instance) DO UPDATE SET \
                 redirect_uri = excluded.redirect_uri, scopes = excluded.scopes, client_id = excluded.client_id, \
                 client_secret_sealed = excluded.client_secret_sealed, created_at = excluded.created_at \
                 WHERE mastodon_apps.redirect_uri <> excluded.redirect_uri OR mastodon_apps.scopes <> excluded.scopes";
        on_tx!(self, |c| sqlx::query(q)
            .bind(&app.instance)
            .bind(&app.redirect_uri)
            .bind(&app.scopes)
            .bind(&app.client_id)
            .bind(&app.client_secret_sealed)
            .bind(app.created_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forgets the app `client_id` on `instance` (the instance no longer knows it), so the next
    /// connect registers again.
    pub async fn forget_mastodon_app(&mut self, instance: &str, client_id: &str) -> Result<bool> {
        let q = "DELETE FROM mastodon_apps WHERE instance = $1 AND client_id = $2";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(instance)
            .bind(client_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Replaces the sealed client secret if it is still `old` (master-key rotation); whether it did.
    pub async fn replace_mastodon_app_secret(&mut self, instance: &str, old: &[u8], new: &[u8]) -> Result<bool> {
        let q = "UPDATE mastodon_apps SET client_secret_sealed = $3 WHERE instance = $1 AND client_secret_sealed = $2";
        let n = on_tx!(self, |c| sqlx::query(q)
            .bind(instance)
            .bind(old)
            .bind(new)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}

/// A LinkedIn member's pending choice of Company Pages (their credential sealed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PageChoiceRow {
    #[sqlx(try_from = "crate::decode::Text")]
    pub id: PageChoiceId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub user_id: UserId,
    #[sqlx(try_from = "crate::decode::Text")]
    pub session_id: SessionId,
    pub credential_sealed: Vec<u8>,
    /// JSON: the pages the member administers, as listed at the callback.
    pub pages: String,
    pub created_at: Micros,
    pub expires_at: Micros,
}

impl Tx {
    /// Keeps a pending page choice; choices that ended before `now` are forgotten meanwhile.
    pub async fn insert_page_choice(&mut self, row: &PageChoiceRow) -> Result<()> {
        let prune = "DELETE FROM linkedin_page_choices WHERE expires_at < $1";
        on_tx!(self, |c| sqlx::query(prune).bind(row.created_at).execute(c).await.map(|r| r.rows_affected()))?;
        let q = "INSERT INTO linkedin_page_choices (id, user_id, session_id, credential_sealed, pages, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
        on_tx!(self, |c| sqlx::query(q)
            .bind(row.id.as_str())
            .bind(row.user_id.as_str())
            .bind(row.session_id.as_str())
            .bind(&row.credential_sealed)
            .bind(&row.pages)
            .bind(row.created_at)
            .bind(row.expires_at)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Removes the choice and returns it, or `None` if it does not exist (any more). Atomic: of
    /// two requests choosing at once, one gets it.
    pub async fn take_page_choice(&mut self, id: &PageChoiceId) -> Result<Option<PageChoiceRow>> {
        let q = "DELETE FROM linkedin_page_choices WHERE id = $1 RETURNING id, user_id, session_id, \
                 credential_sealed, pages, created_at, expires_at";
        Ok(on_tx!(self, |c| sqlx::query_as::<_, PageChoiceRow>(q).bind(id.as_str()).fetch_optional(c).await)?)
    }
}

impl Store {
    /// A pending page choice, without taking it.
    pub async fn page_choice(&self, id: &PageChoiceId) -> Result<Option<PageChoiceRow>> {
        let q = "SELECT id, user_id, session_id, credential_sealed, pages, created_at, expires_at \
                 FROM linkedin_page_choices WHERE id = $1";
        Ok(on_pool!(self, |c| sqlx::query_as::<_, PageChoiceRow>(q).bind(id.as_str()).fetch_optional(c).await)?)
    }
}
