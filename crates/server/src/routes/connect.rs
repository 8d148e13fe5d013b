//! Connecting an account through the platform's OAuth page: `POST /api/v1/accounts/connect`
//! starts it, the platform sends the browser back to `GET /oauth/{platform}/callback`.
//!
//! The `state` is single-use, expires after 10 minutes and is bound to the Steward session that
//! started it; the PKCE verifier stays on the server, sealed. A refused callback (bad, replayed,
//! expired or foreign state, or the owner cancelling) changes nothing.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_app::AppError;
use steward_connectors::{ConnectorError, OauthApp, linkedin, mastodon, pkce, tiktok};
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::platform::{self, ConnectMethod};
use steward_store::{MastodonAppRow, NewAccount, NewOauthState};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Principal, SessionPrincipal};
use crate::error::{ApiError, ApiResult, FieldError, Json, Path, Problem, Query};
use crate::request::Ctx;
use crate::routes::pages::{escape, page};
use crate::state::AppState;
use steward_app::authz::{Need, authorize};
use steward_app::credentials::{self, OauthCredential};
use steward_app::crypto::{new_token, sha256};

const STATE_TTL_US: i64 = 10 * 60 * 1_000_000;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(connect))
}

pub fn callback_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(callback))
}

#[derive(Deserialize, ToSchema)]
pub struct ConnectRequest {
    pub platform: String,
    pub account_kind: Option<String>,
    /// Mastodon: the instance's URL.
    pub instance_url: Option<String>,
    /// Reconnect this existing account instead of connecting a new one (owner only).
    pub account_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConnectResponse {
    /// Send the owner's browser here; the platform sends it back to Steward's callback.
    pub authorize_url: String,
}

/// The operator's OAuth app for a platform, if configured.
fn oauth_app(state: &AppState, platform: &str) -> Option<OauthApp> {
    match platform {
        "linkedin" => state.settings.linkedin.clone(),
        "tiktok" => state.settings.tiktok.clone(),
        _ => None,
    }
}

/// Trades the callback's code for tokens and asks the platform who the account is.
pub(crate) async fn exchange(
    state: &AppState,
    platform: &str,
    app: &OauthApp,
    code: &str,
    redirect: &str,
    verifier: &str,
) -> Result<OauthCredential, ConnectorError> {
    let now = state.clock.now().as_second();
    let (tokens, identity) = match platform {
        "tiktok" => {
            let tokens = tiktok::exchange_code(&state.http, app, code, redirect, verifier, now).await?;
            let identity = tiktok::user_info(&state.http, app, &tokens.access_token).await?;
            (tokens, identity)
        }
        _ => {
            let tokens = linkedin::exchange_code(&state.http, app, code, redirect, verifier, now).await?;
            let identity = linkedin::userinfo(&state.http, app, &tokens.access_token).await?;
            (tokens, identity)
        }
    };
    Ok(OauthCredential { tokens, identity, instance: None })
}

/// Mastodon's exchange, with the app Steward registered on that instance.
async fn exchange_mastodon(
    state: &AppState,
    app: &mastodon::RegisteredApp,
    code: &str,
    verifier: &str,
) -> Result<OauthCredential, ConnectorError> {
    let now = state.clock.now().as_second();
    let tokens = mastodon::exchange_code(&state.http, app, code, verifier, now).await?;
    let identity = mastodon::verify_credentials(&state.http, &app.instance, &tokens.access_token).await?;
    Ok(OauthCredential { tokens, identity, instance: Some(app.instance.clone()) })
}

/// Opens a stored Mastodon app registration.
fn open_mastodon_app(state: &AppState, row: &MastodonAppRow) -> ApiResult<mastodon::RegisteredApp> {
    let secret = state
        .vault()
        .open(&steward_app::vault::mastodon_app_secret_aad(&row.instance), &row.client_secret_sealed)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("mastodon app for {}: {e}", row.instance)))?;
    Ok(mastodon::RegisteredApp {
        instance: row.instance.clone(),
        client_id: row.client_id.clone(),
        client_secret: zeroize::Zeroizing::new(String::from_utf8_lossy(&secret).to_string()),
        redirect_uri: row.redirect_uri.clone(),
        scopes: row.scopes.clone(),
    })
}

/// A problem about the owner-supplied instance URL, from what the instance (or the check) said.
fn instance_problem(e: ConnectorError) -> ApiError {
    match e {
        ConnectorError::Rejected(m) | ConnectorError::Misconfigured(m) => ApiError::validation("instance_url", m),
        ConnectorError::Protocol(_) => ApiError::validation("instance_url", "does not answer like a Mastodon instance"),
        other => {
            ApiError(AppError::PlatformUnavailable(format!("the Mastodon instance could not be reached: {other}")))
        }
    }
}

/// Steward's app on the instance: the stored registration, or a new one (`POST /api/v1/apps`)
/// that the caller stores (returned as the row to save). `instance` passed the outbound check.
async fn mastodon_app_for(
    state: &AppState,
    instance: &str,
) -> ApiResult<(mastodon::RegisteredApp, Option<MastodonAppRow>)> {
    let redirect = redirect_uri(state, "mastodon");
    if let Some(row) = state.store.mastodon_app(instance).await?
        && row.redirect_uri == redirect
        && row.scopes == mastodon::SCOPES
    {
        return Ok((open_mastodon_app(state, &row)?, None));
    }
    let registered = mastodon::register_app(
        &state.http,
        instance,
        "Steward",
        &redirect,
        mastodon::SCOPES,
        Some(&state.settings.public_url),
        state.settings.allow_private_networks,
    )
    .await
    .map_err(instance_problem)?;
    let row = MastodonAppRow {
        instance: registered.instance.clone(),
        redirect_uri: registered.redirect_uri.clone(),
        scopes: registered.scopes.clone(),
        client_id: registered.client_id.clone(),
        client_secret_sealed: state.vault().seal(
            &steward_app::vault::mastodon_app_secret_aad(&registered.instance),
            registered.client_secret.as_bytes(),
        ),
        created_at: state.clock.now_us(),
    };
    Ok((registered, Some(row)))
}

fn verifier_aad(state_hash: &[u8]) -> String {
    format!("oauth_states:{}:verifier", hex::encode(state_hash))
}

fn redirect_uri(state: &AppState, platform: &str) -> String {
    format!("{}/oauth/{platform}/callback", state.settings.public_url)
}

#[utoipa::path(post, path = "/accounts/connect", tag = "accounts", request_body = ConnectRequest,
    responses((status = 200, body = ConnectResponse), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn connect(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(principal): SessionPrincipal,
    Json(body): Json<ConnectRequest>,
) -> ApiResult<Json<ConnectResponse>> {
    ctx.slot.set_action(Action::AccountConnectStart, None);
    let Some(p) = platform::platform(&body.platform) else {
        return Err(ApiError::validation("platform", "is not a platform Steward knows (see GET /api/v1/platforms)"));
    };
    if p.connect != ConnectMethod::Oauth {
        return Err(ApiError::validation("platform", "connects with credentials: use POST /api/v1/accounts"));
    }
    let session_id = principal.session_id.clone().ok_or(ApiError(AppError::Unauthenticated { presented: true }))?;
    // Reconnecting: only the owner touches the credential, and the kind is the account's own.
    let mut kind_name = body.account_kind.clone();
    let mut reconnect_instance = None;
    if let Some(account_id) = &body.account_id {
        let access =
            authorize(&state, &ctx, &principal, account_id, Need::Capability(Capability::CredentialManage)).await?;
        if access.account.platform != p.id {
            return Err(ApiError::validation("account_id", "is an account on another platform"));
        }
        kind_name = Some(access.account.account_kind.clone());
        if p.id == "mastodon" {
            reconnect_instance = credentials::load(&state, account_id).await.ok().and_then(|c| c.instance);
        }
    }
    let Some(kind) = platform::account_kind(p, kind_name.as_deref()) else {
        return Err(ApiError::validation("account_kind", "is not a kind of account of this platform"));
    };
    // Mastodon: any instance the owner names (checked against private networks), with an app
    // Steward registers there on first use.
    let mut instance = None;
    let mut new_registration = None;
    let mut mastodon_app = if p.id == "mastodon" {
        let requested = match (&body.instance_url, &reconnect_instance) {
            (Some(url), _) => url.trim().to_string(),
            (None, Some(stored)) => stored.clone(),
            (None, None) => {
                return Err(ApiError::validation(
                    "instance_url",
                    "is required for Mastodon (e.g. https://mastodon.social)",
                ));
            }
        };
        let origin = steward_connectors::net::check_outbound_url(&requested, state.settings.allow_private_networks)
            .await
            .map_err(instance_problem)?;
        let origin = origin.as_str().trim_end_matches('/').to_string();
        if reconnect_instance.as_ref().is_some_and(|stored| *stored != origin) {
            return Err(ApiError::validation("instance_url", "is not the instance this account lives on"));
        }
        let (app, new_row) = mastodon_app_for(&state, &origin).await?;
        new_registration = new_row;
        instance = Some(origin);
        Some(app)
    } else {
        None
    };
    let app = if mastodon_app.is_some() {
        None
    } else if let Some(app) = oauth_app(&state, p.id) {
        Some(app)
    } else {
        return Err(ApiError(AppError::Validation(vec![FieldError::new(
            "platform",
            format!(
                "{} is not set up on this server: its operator sets STEWARD_{}_CLIENT_ID and STEWARD_{}_CLIENT_SECRET (see docs/platforms.md)",
                p.name,
                p.id.to_uppercase(),
                p.id.to_uppercase()
            ),
        )])));
    };
    let state_token = zeroize::Zeroizing::new(new_token(""));
    let state_hash = sha256(state_token.as_bytes());
    let verifier = pkce::new_verifier();
    let sealed_verifier = state.vault().seal(&verifier_aad(&state_hash), verifier.as_bytes());
    let now = state.clock.now_us();
    let redirect = redirect_uri(&state, p.id);
    let challenge = pkce::challenge_s256(&verifier);
    let mut tx = state.store.begin().await?;
    let registered_app = new_registration.is_some();
    if let Some(row) = &new_registration {
        // Kept with this attempt's audit event. Of two first connects to one instance, the
        // registration stored first wins and both use it.
        tx.save_mastodon_app(row).await?;
        let stored = tx.mastodon_app(&row.instance).await?.ok_or(ApiError(AppError::NotFound))?;
        mastodon_app = Some(open_mastodon_app(&state, &stored)?);
    }
    let url = match (&mastodon_app, &app) {
        (Some(m), _) => mastodon::authorize_url(m, mastodon::SCOPES, &state_token, &challenge),
        (None, Some(app)) if p.id == "tiktok" => {
            tiktok::authorize_url(app, &redirect, &state_token, &challenge, tiktok::SCOPES)
        }
        (None, Some(app)) => {
            let scopes = linkedin::scopes_for(kind.id, state.settings.linkedin_member_read);
            linkedin::authorize_url(app, &redirect, &state_token, &challenge, &scopes)
        }
        (None, None) => return Err(ApiError::internal(anyhow::anyhow!("no OAuth app for {}", p.id))),
    }
    .map_err(|e| ApiError::internal(anyhow::anyhow!("{e}")))?;
    tx.insert_oauth_state(NewOauthState {
        state_hash: &state_hash,
        user_id: &principal.user_id,
        session_id: &session_id,
        platform: p.id,
        account_kind: kind.id,
        verifier_sealed: &sealed_verifier,
        reconnect_account_id: body.account_id.as_deref(),
        instance: instance.as_deref(),
        now,
        expires_at: now + STATE_TTL_US,
    })
    .await?;
    let mut event = ctx.event(
        &state,
        &principal.actor(),
        Action::AccountConnectStart,
        body.account_id.as_ref().map(|a| format!("account:{a}")),
        json!({
            "platform": p.id, "account_kind": kind.id, "reconnect": body.account_id.is_some(),
            "instance": instance, "registered_app": registered_app,
        }),
    );
    event.account_id = body.account_id.clone();
    tx.append_audit(event).await?;
    tx.commit().await?;
    Ok(Json(ConnectResponse { authorize_url: url }))
}

#[derive(Deserialize, IntoParams)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

fn refused(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Connection refused",
        &format!(
            "<h1>The account was not connected</h1><p>{}</p><p>Nothing was changed. Start again from Steward.</p>",
            escape(message)
        ),
    )
}

/// The platform's browser redirect after the owner approved (or cancelled).
#[utoipa::path(get, path = "/oauth/{platform}/callback", tag = "accounts", params(("platform" = String, Path), CallbackQuery),
    responses((status = 200, description = "connected (HTML)"), (status = 400, description = "refused (HTML)"), (status = 401, body = Problem)))]
pub(crate) async fn callback(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(platform_id): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> ApiResult<Response> {
    ctx.slot.set_action(Action::AccountConnect, None);
    let Some(state_token) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return Ok(refused(StatusCode::BAD_REQUEST, "The platform's answer carried no state."));
    };
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    let state_hash = sha256(state_token.as_bytes());
    let Some(st) = tx.consume_oauth_state(&state_hash, now).await? else {
        return Ok(refused(StatusCode::BAD_REQUEST, "This connection link is not valid or was already used."));
    };
    // Consumed even when refused below: a state works once, whatever happens.
    tx.commit().await?;
    let same_session =
        st.user_id == principal.user_id && principal.session_id.as_deref() == Some(st.session_id.as_str());
    if !same_session {
        return Err(ApiError(AppError::Forbidden("this connection was started by another sign-in".into())));
    }
    if st.expires_at <= now {
        return Ok(refused(StatusCode::BAD_REQUEST, "This connection attempt expired (after 10 minutes)."));
    }
    if st.platform != platform_id {
        return Ok(refused(StatusCode::BAD_REQUEST, "The answer came from another platform than the one asked."));
    }
    if let Some(error) = &q.error {
        let why = q.error_description.clone().unwrap_or_else(|| error.clone());
        return Ok(refused(StatusCode::BAD_REQUEST, &format!("The platform said: {why}")));
    }
    let Some(code) = q.code.as_deref() else {
        return Ok(refused(StatusCode::BAD_REQUEST, "The platform's answer carried no authorization code."));
    };
    let verifier = state
        .vault()
        .open(&verifier_aad(&state_hash), &st.verifier_sealed)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("oauth state: {e}")))?;
    let verifier = String::from_utf8_lossy(&verifier).to_string();
    let exchanged = if st.platform == "mastodon" {
        let instance = st
            .instance
            .as_deref()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a Mastodon connection attempt without an instance")))?;
        let row = state.store.mastodon_app(instance).await?.ok_or_else(|| {
            ApiError(AppError::Conflict(
                "Steward's registration on this instance is gone; start the connection again".into(),
            ))
        })?;
        let app = open_mastodon_app(&state, &row)?;
        let exchanged = exchange_mastodon(&state, &app, code, &verifier).await;
        if let Err(ConnectorError::Misconfigured(_)) = &exchanged {
            // The instance no longer knows Steward's app: register again on the next connect.
            let mut tx = state.store.begin().await?;
            tx.forget_mastodon_app(instance, &row.client_id).await?;
            tx.commit().await?;
        }
        exchanged
    } else {
        let app = oauth_app(&state, &st.platform)
            .ok_or_else(|| ApiError(AppError::Conflict("this platform is no longer set up on this server".into())))?;
        let redirect = redirect_uri(&state, &st.platform);
        exchange(&state, &st.platform, &app, code, &redirect, &verifier).await
    };
    let cred = match exchanged {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(platform = %st.platform, error = %e, "OAuth code exchange failed");
            return Ok(refused(StatusCode::BAD_GATEWAY, &format!("{} refused the connection: {e}", st.platform)));
        }
    };

    let mut tx = state.store.begin().await?;
    let account_id = match &st.reconnect_account_id {
        Some(account_id) => {
            let access =
                authorize(&state, &ctx, &principal, account_id, Need::Capability(Capability::CredentialManage)).await?;
            let previous = credentials::load(&state, account_id).await.ok();
            if previous.as_ref().is_some_and(|p| p.identity.id != cred.identity.id || p.instance != cred.instance) {
                return Ok(refused(
                    StatusCode::CONFLICT,
                    "You signed in to the platform as someone else than this account: sign in as the account's own member and try again.",
                ));
            }
            credentials::store_in(&state, &mut tx, account_id, &cred).await?;
            tx.set_account_status(account_id, "active", now).await?;
            tx.append_audit(ctx.account_event(
                &state,
                &principal.actor(),
                account_id,
                Action::AccountReconnect,
                Some(format!("account:{account_id}")),
                json!({ "platform": access.account.platform }),
            ))
            .await?;
            account_id.clone()
        }
        None => {
            let id = uuid::Uuid::now_v7().to_string();
            let kind = platform::platform(&st.platform).and_then(|p| platform::account_kind(p, Some(&st.account_kind)));
            let (max_members, owner_approval) =
                kind.map(|k| (k.default_max_members, k.owner_approval_required)).unwrap_or((5, true));
            tx.insert_account(NewAccount {
                id: &id,
                platform: &st.platform,
                account_kind: &st.account_kind,
                handle: &cred.identity.handle,
                display_name: &cred.identity.display_name,
                owner_id: &principal.user_id,
                time_zone: "UTC",
                max_members,
                owner_approval_required: owner_approval,
                credential_sealed: None,
                now,
            })
            .await?;
            credentials::store_in(&state, &mut tx, &id, &cred).await?;
            tx.append_audit(ctx.account_event(
                &state,
                &principal.actor(),
                &id,
                Action::AccountCreate,
                Some(format!("account:{id}")),
                json!({ "platform": st.platform, "account_kind": st.account_kind, "handle": cred.identity.handle, "via": "oauth" }),
            ))
            .await?;
            id
        }
    };
    tx.commit().await?;
    Ok(page(
        StatusCode::OK,
        "Connected",
        &format!(
            "<h1>Connected</h1><p><strong>{}</strong> is connected to Steward. Its credential is sealed on this server: \
             nobody you invite will ever see it.</p><p>Account id: <code>{}</code></p>",
            escape(&cred.identity.display_name),
            escape(&account_id)
        ),
    ))
}
