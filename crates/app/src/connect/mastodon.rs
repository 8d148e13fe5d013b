//! Mastodon: any instance the owner names (checked against private networks), with an app
//! Steward registers there on first use and keeps, its secret sealed.
use steward_connectors::{ConnectorError, mastodon};
use steward_store::MastodonAppRow;

use crate::credentials::OauthCredential;
use crate::error::{AppError, AppResult};
use crate::services::Services;
use crate::vault::mastodon_app_secret_aad;

/// Opens a stored Mastodon app registration.
pub fn open_app(s: &Services, row: &MastodonAppRow) -> AppResult<mastodon::RegisteredApp> {
    let secret = s
        .vault()
        .open(&mastodon_app_secret_aad(&row.instance), &row.client_secret_sealed)
        .map_err(|e| AppError::internal(anyhow::anyhow!("mastodon app for {}: {e}", row.instance)))?;
    Ok(mastodon::RegisteredApp {
        instance: row.instance.clone(),
        client_id: row.client_id.clone(),
        client_secret: zeroize::Zeroizing::new(String::from_utf8_lossy(&secret).to_string()),
        redirect_uri: row.redirect_uri.clone(),
        scopes: row.scopes.clone(),
    })
}

/// A problem about the owner-supplied instance URL, from what the instance (or the check) said.
#[must_use]
pub fn instance_problem(e: ConnectorError) -> AppError {
    match e {
        ConnectorError::Rejected(m) | ConnectorError::Misconfigured(m) => AppError::validation("instance_url", m),
        ConnectorError::Protocol(_) => AppError::validation("instance_url", "does not answer like a Mastodon instance"),
        other => AppError::PlatformUnavailable(format!("the Mastodon instance could not be reached: {other}")),
    }
}

/// The instance's origin, if the owner's URL passes the outbound check.
pub async fn instance_origin(s: &Services, requested: &str) -> AppResult<String> {
    let origin = steward_connectors::net::check_outbound_url(requested, s.settings.allow_private_networks)
        .await
        .map_err(instance_problem)?;
    Ok(origin.as_str().trim_end_matches('/').to_string())
}

/// Steward's app on the instance: the stored registration, or a new one (`POST /api/v1/apps`)
/// that the caller stores (returned as the row to save). `instance` passed the outbound check.
pub async fn app_for(
    s: &Services,
    instance: &str,
    redirect: &str,
) -> AppResult<(mastodon::RegisteredApp, Option<MastodonAppRow>)> {
    if let Some(row) = s.store.mastodon_app(instance).await?
        && row.redirect_uri == redirect
        && row.scopes == mastodon::SCOPES
    {
        return Ok((open_app(s, &row)?, None));
    }
    let registered = mastodon::register_app(
        &s.http,
        instance,
        "Steward",
        redirect,
        mastodon::SCOPES,
        Some(&s.settings.public_url),
        s.settings.allow_private_networks,
    )
    .await
    .map_err(instance_problem)?;
    let row = MastodonAppRow {
        instance: registered.instance.clone(),
        redirect_uri: registered.redirect_uri.clone(),
        scopes: registered.scopes.clone(),
        client_id: registered.client_id.clone(),
        client_secret_sealed: s
            .vault()
            .seal(&mastodon_app_secret_aad(&registered.instance), registered.client_secret.as_bytes()),
        created_at: s.clock.now_us(),
    };
    Ok((registered, Some(row)))
}

/// Trades the callback's code for tokens with the app Steward registered on `instance`, and
/// asks the instance who the account is. When the instance no longer knows Steward's app, the
/// registration is forgotten so that the next connect registers again.
pub async fn exchange(
    s: &Services,
    instance: &str,
    code: &str,
    verifier: &str,
) -> AppResult<Result<OauthCredential, ConnectorError>> {
    let row = s.store.mastodon_app(instance).await?.ok_or_else(|| {
        AppError::Conflict("Steward's registration on this instance is gone; start the connection again".into())
    })?;
    let app = open_app(s, &row)?;
    let exchanged = exchange_with(s, &app, code, verifier).await;
    if let Err(ConnectorError::Misconfigured(_)) = &exchanged {
        let mut tx = s.store.begin().await?;
        tx.forget_mastodon_app(instance, &row.client_id).await?;
        tx.commit().await?;
    }
    Ok(exchanged)
}

async fn exchange_with(
    s: &Services,
    app: &mastodon::RegisteredApp,
    code: &str,
    verifier: &str,
) -> Result<OauthCredential, ConnectorError> {
    let now = s.clock.now().as_second();
    let tokens = mastodon::exchange_code(&s.http, app, code, verifier, now).await?;
    let identity = mastodon::verify_credentials(&s.http, &app.instance, &tokens.access_token).await?;
    Ok(OauthCredential { tokens, identity, instance: Some(app.instance.clone()) })
}
