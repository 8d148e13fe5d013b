//! The platform credential of an OAuth account: what is sealed in the vault, and keeping its
//! access token fresh. Refreshes of one account are single-flight, and a rotated refresh token
//! is stored (committed) before the new access token is used, so a crash never loses it.
//!
//! A credential the platform refused for good (the account is `needs_reconnect`, or
//! `disconnected`) is never tried again, not even refreshed: every way to a platform call
//! ([`fresh`], [`with_token`], the Bluesky session and the Mastodon token) asks [`ensure_live`]
//! first, so nothing leaves Steward until the owner reconnects the account.
use std::sync::Arc;
use steward_domain::audit::Action;
use steward_domain::ids::AccountId;

use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_connectors::{ConnectorError, Identity, OauthApp, TokenSet, bluesky, linkedin, mastodon, tiktok};
use steward_domain::platform::Platform;
use steward_domain::status::AccountStatus;
use steward_store::{NewAuditEvent, StoreError, Tx};

use crate::error::{AppError, AppResult};
use crate::services::Services;
use crate::usecase::{self, Audit};

/// Refresh when the access token has less than this left.
const REFRESH_MARGIN_SECS: i64 = 300;

/// What Steward keeps (sealed) for an account connected through OAuth.
#[derive(Clone, Serialize, Deserialize)]
pub struct OauthCredential {
    pub tokens: TokenSet,
    pub identity: Identity,
    /// Mastodon: the instance origin the account lives on (checked when the owner supplied it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

/// Opens an account's sealed credential and parses it as `T`.
pub async fn open_json<T: serde::de::DeserializeOwned>(
    state: &Services,
    account_id: &AccountId,
) -> Result<T, CredentialError> {
    Ok(open_generation(state, account_id).await?.0)
}

/// The account's credential with its generation: which connection it belongs to, so that what
/// is learnt with it (new tokens, a refusal) is stored only while it is still the account's.
async fn open_generation<T: serde::de::DeserializeOwned>(
    state: &Services,
    account_id: &AccountId,
) -> Result<(T, i64), CredentialError> {
    let row = state.store.sealed_credential(account_id).await?.ok_or(CredentialError::AccountNotFound)?;
    let Some(sealed) = row.credential_sealed.as_deref() else {
        return Err(CredentialError::NotStored);
    };
    let plain = state
        .vault()
        .open_stored_credential(account_id, row.wrapped_data_key.as_deref(), sealed)
        .map_err(|e| CredentialError::Unreadable(format!("account {account_id}: {e}")))?;
    let value = serde_json::from_slice(&plain).map_err(|_| {
        CredentialError::Unreadable(format!("account {account_id}: the credential is not of this platform's kind"))
    })?;
    Ok((value, row.credential_generation))
}

/// Seals `value` under a fresh data key and stores it inside `tx`, as a new connection's.
pub async fn seal_json_in<T: Serialize>(
    state: &Services,
    tx: &mut Tx,
    account_id: &AccountId,
    value: &T,
) -> Result<(), CredentialError> {
    let sealed = seal(state, account_id, value)?;
    tx.set_account_credential(account_id, &sealed.wrapped_data_key, &sealed.credential, state.clock.now_us()).await?;
    Ok(())
}

/// Stores renewed tokens of the connection of `generation`, with their `credential.refresh`
/// event, in the replicas' `turn` when there is one. False, and nothing stored: that connection
/// is no longer the account's (the owner reconnected meanwhile, or a lockdown destroyed it).
async fn store_renewal<T: Serialize>(
    state: &Services,
    turn: Option<Tx>,
    account_id: &AccountId,
    generation: i64,
    value: &T,
    platform: &str,
) -> Result<bool, CredentialError> {
    let mut tx = match turn {
        Some(tx) => tx,
        None => state.store.begin().await?,
    };
    let sealed = seal(state, account_id, value)?;
    let now = state.clock.now_us();
    if !tx.renew_account_credential(account_id, generation, &sealed.wrapped_data_key, &sealed.credential, now).await? {
        return Ok(false);
    }
    tx.append_audit(system_event(state, account_id, Action::CredentialRefresh, json!({ "platform": platform })))
        .await?;
    tx.commit().await?;
    Ok(true)
}

fn seal<T: Serialize>(
    state: &Services,
    account_id: &AccountId,
    value: &T,
) -> Result<crate::vault::SealedCredential, CredentialError> {
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(value).map_err(|e| CredentialError::Unreadable(format!("account {account_id}: {e}")))?,
    );
    Ok(state.vault().seal_new_credential(account_id, &plain))
}

pub async fn load(state: &Services, account_id: &AccountId) -> Result<OauthCredential, CredentialError> {
    open_json(state, account_id).await
}

/// Seals `cred` under a fresh data key and stores it inside `tx`.
pub async fn store_in(
    state: &Services,
    tx: &mut Tx,
    account_id: &AccountId,
    cred: &OauthCredential,
) -> Result<(), CredentialError> {
    seal_json_in(state, tx, account_id, cred).await
}

/// Why a usable token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The platform refused for good: the account now needs its owner to reconnect.
    #[error("the platform no longer accepts this account's credential; its owner must reconnect it")]
    NeedsReconnect,
    #[error(transparent)]
    Platform(#[from] ConnectorError),
    /// The account does not exist.
    #[error("not found")]
    AccountNotFound,
    /// Nothing is stored for the account (its credential was destroyed).
    #[error("this account has no stored credential; its owner must connect it again")]
    NotStored,
    /// The stored credential cannot be opened, or is not of the platform's kind: never used.
    #[error("the stored credential cannot be read: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A use case that met a credential failure answers it as the API does.
impl From<CredentialError> for AppError {
    fn from(e: CredentialError) -> Self {
        match e {
            CredentialError::AccountNotFound => AppError::NotFound,
            e @ (CredentialError::NotStored | CredentialError::NeedsReconnect) => AppError::Conflict(e.to_string()),
            CredentialError::Platform(e) => AppError::PlatformUnavailable(e.to_string()),
            CredentialError::Unreadable(m) => AppError::internal(anyhow::anyhow!(m)),
            CredentialError::Store(e) => e.into(),
        }
    }
}

/// Refuses, before any platform call, an account whose credential the platform refused for
/// good: only the owner's reconnection (a new credential, status `active`) lifts it.
pub async fn ensure_live(state: &Services, account_id: &AccountId) -> Result<(), CredentialError> {
    let account = state.store.account_by_id(account_id).await?.ok_or(CredentialError::AccountNotFound)?;
    if matches!(account.status, AccountStatus::NeedsReconnect | AccountStatus::Disconnected) {
        return Err(CredentialError::NeedsReconnect);
    }
    Ok(())
}

fn refresh_lock(state: &Services, account_id: &AccountId) -> Arc<tokio::sync::Mutex<()>> {
    let mut locks = state.refresh_locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    locks.entry(account_id.to_string()).or_default().clone()
}

/// Other replicas take turns at refreshing an account's tokens too: a platform that rotates the
/// refresh token (TikTok, Bluesky) refuses the second of two refreshes made with the same one,
/// and TikTok's refusal would mark the account for reconnection. The turn is a transaction that
/// also stores the result (PostgreSQL). On SQLite one server runs, its callers already take
/// turns in process, and a transaction would hold the one writer through the platform's call.
async fn replicas_turn(state: &Services, account_id: &AccountId) -> Result<Option<Tx>, CredentialError> {
    match state.store.backend() {
        steward_store::Backend::Postgres => {
            let mut tx = state.store.begin().await?;
            tx.take_credential_refresh_turn(account_id).await?;
            Ok(Some(tx))
        }
        steward_store::Backend::Sqlite => Ok(None),
    }
}

fn app_for<'a>(state: &'a Services, platform: &str) -> Result<&'a OauthApp, ConnectorError> {
    let app = match Platform::parse(platform) {
        Some(Platform::LinkedIn) => state.settings.linkedin.as_ref(),
        Some(Platform::TikTok) => state.settings.tiktok.as_ref(),
        // Mastodon registers per instance; the others sign in without an OAuth app.
        Some(Platform::Mastodon | Platform::Bluesky | Platform::Sandbox) | None => None,
    };
    app.ok_or_else(|| {
        ConnectorError::Misconfigured(format!(
            "{platform} is not configured on this server (STEWARD_{}_CLIENT_ID)",
            platform.to_uppercase()
        ))
    })
}

async fn refresh_with_platform(
    state: &Services,
    platform: &str,
    tokens: &TokenSet,
) -> Result<TokenSet, ConnectorError> {
    let now = state.clock.now().as_second();
    match Platform::parse(platform) {
        Some(Platform::LinkedIn) => linkedin::refresh(&state.http, app_for(state, platform)?, tokens, now).await,
        // TikTok rotates the refresh token on every use: the caller stores the result before use.
        Some(Platform::TikTok) => tiktok::refresh(&state.http, app_for(state, platform)?, tokens, now).await,
        // Mastodon tokens live until revoked and come without a refresh token: a refused one
        // cannot be renewed, only reconnected.
        Some(Platform::Mastodon) => {
            Err(ConnectorError::Unauthorized("Mastodon access tokens cannot be refreshed".into()))
        }
        Some(Platform::Bluesky | Platform::Sandbox) | None => {
            Err(ConnectorError::Misconfigured(format!("{platform} has no OAuth tokens to refresh")))
        }
    }
}

/// The account's credential with an access token that is not about to expire: refreshed first
/// when it is (or when `force`, after the platform refused it). Concurrent callers for one
/// account wait for a single refresh and then use its result.
pub async fn fresh(
    state: &Services,
    account_id: &AccountId,
    platform: &str,
    force: bool,
) -> Result<OauthCredential, CredentialError> {
    Ok(fresh_generation(state, account_id, platform, force).await?.0)
}

/// [`fresh`], with the generation of the credential it answers.
async fn fresh_generation(
    state: &Services,
    account_id: &AccountId,
    platform: &str,
    force: bool,
) -> Result<(OauthCredential, i64), CredentialError> {
    ensure_live(state, account_id).await?;
    let (cred, generation) = open_generation::<OauthCredential>(state, account_id).await?;
    let now = state.clock.now().as_second();
    let due = |c: &OauthCredential| c.tokens.expires_at.is_some_and(|e| e - now < REFRESH_MARGIN_SECS);
    if !force && !due(&cred) {
        return Ok((cred, generation));
    }
    let lock = refresh_lock(state, account_id);
    let _guard = lock.lock().await;
    let turn = replicas_turn(state, account_id).await?;
    // Someone may have refreshed while we waited (use theirs), or found it dead (stop).
    ensure_live(state, account_id).await?;
    let (current, generation) = open_generation::<OauthCredential>(state, account_id).await?;
    if current.tokens.access_token != cred.tokens.access_token && !due(&current) {
        return Ok((current, generation));
    }
    match refresh_with_platform(state, platform, &current.tokens).await {
        Ok(tokens) => {
            let renewed =
                OauthCredential { tokens, identity: current.identity.clone(), instance: current.instance.clone() };
            if !store_renewal(state, turn, account_id, generation, &renewed, platform).await? {
                // The old grant's new tokens are dropped: the account's credential stands.
                ensure_live(state, account_id).await?;
                return open_generation(state, account_id).await;
            }
            Ok((renewed, generation))
        }
        Err(e @ (ConnectorError::Rejected(_) | ConnectorError::Unauthorized(_))) => {
            drop(turn);
            if credential_refused(state, account_id, generation, &e.to_string()).await? {
                return Err(CredentialError::NeedsReconnect);
            }
            ensure_live(state, account_id).await?;
            open_generation(state, account_id).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The platform refused the credential of `generation` for good. If it is still the
/// account's, the account is marked `needs_reconnect` (when active; the owner is alerted:
/// `credential_failed`) and the answer is true. False: the owner has connected it again since,
/// so the refusal concerned a grant the account no longer uses, and nothing changes.
pub async fn credential_refused(
    state: &Services,
    account_id: &AccountId,
    generation: i64,
    why: &str,
) -> Result<bool, StoreError> {
    let mut tx = state.store.begin().await?;
    if tx.mark_credential_refused(account_id, generation, state.clock.now_us()).await? {
        tx.append_audit(system_event(state, account_id, Action::CredentialFailed, json!({ "reason": why }))).await?;
        tx.commit().await?;
        return Ok(true);
    }
    drop(tx);
    // Not active (locked down, already marked, disconnected) but the same connection: still
    // refused. Another generation: reconnected.
    let row = state.store.sealed_credential(account_id).await?;
    Ok(row.is_some_and(|r| r.credential_generation == generation))
}

fn system_event(state: &Services, account_id: &AccountId, action: Action, detail: serde_json::Value) -> NewAuditEvent {
    let audit = Audit::on_account(account_id, action).target(format!("account:{account_id}")).detail(detail);
    usecase::system_event("steward (platform credential)", audit, state.clock.now_us())
}

/// Asks the platform who the account is, with the stored credential: refreshing it first if it
/// is about to expire, and once more if the platform refuses the access token.
pub async fn check_identity(
    state: &Services,
    account_id: &AccountId,
    platform: &str,
) -> Result<Identity, CredentialError> {
    let call = |cred: OauthCredential| async move {
        let token = &cred.tokens.access_token;
        match Platform::parse(platform) {
            Some(Platform::Mastodon) => {
                let instance = cred.instance.as_deref().ok_or_else(|| {
                    ConnectorError::Misconfigured("the stored Mastodon credential names no instance".into())
                })?;
                mastodon::verify_credentials(&state.http, instance, token).await
            }
            // A Company Page: the page itself, read as its administrator (which the member must
            // still be); a member profile: the member.
            Some(Platform::LinkedIn) if linkedin::organization_id(&cred.identity.id).is_some() => {
                let version = &state.settings.linkedin_version;
                let app = app_for(state, platform)?;
                let page = linkedin::organization(&state.http, app, version, token, &cred.identity.id).await?;
                Ok(page.identity())
            }
            Some(Platform::LinkedIn) => linkedin::userinfo(&state.http, app_for(state, platform)?, token).await,
            Some(Platform::TikTok) => tiktok::user_info(&state.http, app_for(state, platform)?, token).await,
            Some(Platform::Bluesky | Platform::Sandbox) | None => {
                Err(ConnectorError::Misconfigured(format!("{platform} has no OAuth credential to check")))
            }
        }
    };
    let cred = fresh(state, account_id, platform, false).await?;
    match call(cred).await {
        Err(ConnectorError::Unauthorized(_)) => {
            let (renewed, generation) = fresh_generation(state, account_id, platform, true).await?;
            match call(renewed).await {
                Err(e @ ConnectorError::Unauthorized(_)) => {
                    if credential_refused(state, account_id, generation, &e.to_string()).await? {
                        return Err(CredentialError::NeedsReconnect);
                    }
                    // Reconnected meanwhile: ask again with the new connection.
                    Ok(call(fresh(state, account_id, platform, false).await?).await?)
                }
                other => Ok(other?),
            }
        }
        other => Ok(other?),
    }
}

/// What Steward keeps (sealed) for a Bluesky account: the app password (so a session can be
/// re-created when its refresh token has expired) and the current session.
#[derive(Clone, Serialize, Deserialize)]
pub struct BlueskyCredential {
    pub service: String,
    pub identifier: String,
    pub app_password: String,
    pub session: bluesky::BlueskySession,
}

/// Signs in to the account's PDS with an app password, from `POST /accounts`'s `credentials`
/// (`{identifier, app_password, service?}`): proves the password works before anything is stored.
pub async fn bluesky_sign_in(
    state: &Services,
    credentials: &serde_json::Value,
) -> AppResult<(BlueskyCredential, Identity)> {
    let field = |name: &str| credentials.get(name).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty());
    let (Some(identifier), Some(app_password)) = (field("identifier"), field("app_password")) else {
        return Err(AppError::Validation(vec![crate::error::FieldError::new(
            "credentials",
            "needs `identifier` (handle or DID) and `app_password` (never the account's main password)",
        )]));
    };
    let service = field("service").unwrap_or(bluesky::DEFAULT_PDS).trim_end_matches('/').to_string();
    let allow_private = state.settings.allow_private_networks;
    let platform_error = |e: ConnectorError, what: &str| match e {
        ConnectorError::Rejected(m) | ConnectorError::Unauthorized(m) => {
            AppError::validation("credentials.app_password", m)
        }
        ConnectorError::Misconfigured(m) => AppError::validation("credentials.service", m),
        other => AppError::PlatformUnavailable(format!("Bluesky could not be reached to {what}: {other}")),
    };
    // The PDS address is user-supplied: refuse private and loopback targets before any call.
    steward_connectors::net::check_outbound_url(&service, allow_private)
        .await
        .map_err(|e| AppError::validation("credentials.service", e.to_string()))?;
    let session = bluesky::create_session(&state.http, &service, identifier, app_password, allow_private)
        .await
        .map_err(|e| platform_error(e, "sign in"))?;
    let identity = bluesky::get_profile(&state.http, &service, &session)
        .await
        .map_err(|e| platform_error(e, "read the profile"))?;
    Ok((
        BlueskyCredential {
            service,
            identifier: identifier.to_string(),
            app_password: app_password.to_string(),
            session,
        },
        identity,
    ))
}

/// The stored Bluesky credential.
pub async fn bluesky_load(state: &Services, account_id: &AccountId) -> Result<BlueskyCredential, CredentialError> {
    open_json(state, account_id).await
}

/// A new Bluesky session after the PDS refused the stored one: refreshed, or signed in again
/// with the app password when the refresh token is gone too; stored before it is used. A
/// refused app password marks the account `needs_reconnect`. Single-flight per account.
pub async fn bluesky_renewed(state: &Services, account_id: &AccountId) -> Result<BlueskyCredential, CredentialError> {
    ensure_live(state, account_id).await?;
    let before: BlueskyCredential = open_json(state, account_id).await?;
    let lock = refresh_lock(state, account_id);
    let _guard = lock.lock().await;
    let turn = replicas_turn(state, account_id).await?;
    ensure_live(state, account_id).await?;
    let (mut cred, generation): (BlueskyCredential, i64) = open_generation(state, account_id).await?;
    if cred.session.access_jwt != before.session.access_jwt {
        // Renewed by someone else while we waited.
        return Ok(cred);
    }
    let renewed = match bluesky::refresh_session(&state.http, &cred.service, &cred.session.refresh_jwt).await {
        Ok(s) => s,
        Err(ConnectorError::Unauthorized(_) | ConnectorError::Rejected(_)) => {
            match bluesky::create_session(
                &state.http,
                &cred.service,
                &cred.identifier,
                &cred.app_password,
                state.settings.allow_private_networks,
            )
            .await
            {
                Ok(s) => s,
                Err(e @ (ConnectorError::Unauthorized(_) | ConnectorError::Rejected(_))) => {
                    drop(turn);
                    if credential_refused(state, account_id, generation, &e.to_string()).await? {
                        return Err(CredentialError::NeedsReconnect);
                    }
                    // Reconnected meanwhile with another app password: that one stands.
                    ensure_live(state, account_id).await?;
                    return open_json(state, account_id).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    cred.session = renewed;
    if !store_renewal(state, turn, account_id, generation, &cred, "bluesky").await? {
        // Reconnected (or disconnected) while the PDS answered: the account's credential stands.
        ensure_live(state, account_id).await?;
        return open_json(state, account_id).await;
    }
    Ok(cred)
}

/// "Test connection" for Bluesky: the profile with the stored session, renewing the session
/// (see [`bluesky_renewed`]) when the PDS refuses it.
pub async fn bluesky_check(state: &Services, account_id: &AccountId) -> Result<Identity, CredentialError> {
    ensure_live(state, account_id).await?;
    let cred: BlueskyCredential = open_json(state, account_id).await?;
    match bluesky::get_profile(&state.http, &cred.service, &cred.session).await {
        Err(ConnectorError::Unauthorized(_)) => {}
        other => return Ok(other?),
    }
    let cred = bluesky_renewed(state, account_id).await?;
    Ok(bluesky::get_profile(&state.http, &cred.service, &cred.session).await?)
}

/// Runs a platform call with the account's fresh OAuth access token; when the platform refuses
/// the token, refreshes once and runs it again; refused again, the account needs a reconnect.
pub async fn with_token<T, F, Fut>(
    state: &Services,
    account_id: &AccountId,
    platform: &str,
    call: F,
) -> Result<T, ConnectorError>
where
    F: Fn(OauthCredential) -> Fut,
    Fut: std::future::Future<Output = Result<T, ConnectorError>>,
{
    let cred = fresh(state, account_id, platform, false).await.map_err(credential_failure)?;
    match call(cred).await {
        Err(ConnectorError::Unauthorized(_)) => {
            let (renewed, generation) =
                fresh_generation(state, account_id, platform, true).await.map_err(credential_failure)?;
            match call(renewed).await {
                Err(e @ ConnectorError::Unauthorized(_)) => {
                    // The caller (the scheduler) learns whether the account was reconnected
                    // meanwhile from the account's generation, not from this answer.
                    credential_refused(state, account_id, generation, &e.to_string())
                        .await
                        .map_err(|e| ConnectorError::Transient(format!("Steward's database: {e}")))?;
                    Err(e)
                }
                other => other,
            }
        }
        other => other,
    }
}

/// The same for Bluesky: the stored session, renewed once when the PDS refuses it.
pub async fn with_bluesky_session<T, F, Fut>(
    state: &Services,
    account_id: &AccountId,
    call: F,
) -> Result<T, ConnectorError>
where
    F: Fn(BlueskyCredential) -> Fut,
    Fut: std::future::Future<Output = Result<T, ConnectorError>>,
{
    ensure_live(state, account_id).await.map_err(credential_failure)?;
    let cred = bluesky_load(state, account_id).await.map_err(credential_failure)?;
    match call(cred).await {
        Err(ConnectorError::Unauthorized(_)) => {
            let renewed = bluesky_renewed(state, account_id).await.map_err(credential_failure)?;
            call(renewed).await
        }
        other => other,
    }
}

/// Maps a failure to get a usable credential to the connector classes the scheduler acts on.
pub(crate) fn credential_failure(e: CredentialError) -> ConnectorError {
    match e {
        CredentialError::NeedsReconnect => {
            ConnectorError::Unauthorized("the platform no longer accepts this account's credential".into())
        }
        CredentialError::Platform(e) => e,
        e @ CredentialError::NotStored => ConnectorError::Unauthorized(e.to_string()),
        e @ (CredentialError::AccountNotFound | CredentialError::Unreadable(_) | CredentialError::Store(_)) => {
            ConnectorError::Transient(format!("the credential could not be read: {e}"))
        }
    }
}
