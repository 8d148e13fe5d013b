//! The signed-in user's own things (`/api/v1/me/*`): profile, 2FA, sessions, access tokens and
//! their own activity.
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_app::AppError;
use steward_domain::audit::Action;
use steward_store::{NewApiToken, UserRow};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::auth::{API_TOKEN_PREFIX, AuthVia, Principal, SessionPrincipal, csrf_token};
use crate::error::{ApiError, ApiResult, FieldError, Json, Path, Problem};
use crate::request::Ctx;
use crate::routes::Page;
use crate::routes::identity::UserView;
use crate::state::AppState;
use steward_app::clock::rfc3339;
use steward_app::crypto::{new_token, sha256};
use steward_app::twofactor::{self, new_recovery_codes, recovery_code_hash, secret_aad, verify_second_factor};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(begin_totp, disable_totp))
        .routes(routes!(confirm_totp))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(revoke_all_sessions))
        .routes(routes!(create_token, list_tokens))
        .routes(routes!(revoke_token))
}

#[derive(Serialize, ToSchema)]
pub struct MeView {
    #[serde(flatten)]
    pub user: UserView,
    /// Present when signed in with the session cookie: send it as `X-CSRF-Token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    /// How many unused recovery codes remain (2FA on only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes_left: Option<i64>,
}

pub(crate) async fn load_user(state: &AppState, id: &str) -> ApiResult<UserRow> {
    state.store.user_by_id(id).await?.ok_or(ApiError(AppError::Unauthenticated { presented: true }))
}

#[utoipa::path(get, path = "/me", tag = "me", responses((status = 200, body = MeView), (status = 401, body = Problem)))]
pub(crate) async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<MeView>> {
    // Everything but the recovery-code count came with authentication: one query per request.
    let recovery_codes_left = if principal.totp_enabled {
        Some(state.store.unused_recovery_code_count(&principal.user_id).await?)
    } else {
        None
    };
    let csrf = match (principal.via, &principal.session_id) {
        (AuthVia::Cookie, Some(sid)) => Some(csrf_token(&state, sid)),
        _ => None,
    };
    let user = UserView {
        id: principal.user_id,
        email: principal.email,
        display_name: principal.display_name,
        totp_enabled: principal.totp_enabled,
        created_at: rfc3339(principal.user_created_at),
    };
    Ok(Json(MeView { user, csrf_token: csrf, recovery_codes_left }))
}

#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// Base32, for typing into an authenticator app.
    pub secret: String,
    /// `otpauth://` URI, for a QR code.
    pub otpauth_uri: String,
}

#[utoipa::path(post, path = "/me/totp", tag = "me",
    responses((status = 200, body = TotpEnrolment), (status = 409, body = Problem, description = "2FA is already on")))]
pub(crate) async fn begin_totp(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
) -> ApiResult<Json<TotpEnrolment>> {
    ctx.slot.set_action(Action::TotpBegin, None);
    let user = load_user(&state, &p.user_id).await?;
    if user.totp_enabled {
        return Err(ApiError(AppError::Conflict(
            "two-factor authentication is already on; turn it off first to enrol a new device".into(),
        )));
    }
    let secret = twofactor::new_secret();
    let totp = twofactor::build_totp(&secret, &user.email)?;
    let uri = totp.to_url().map_err(|e| ApiError::internal(anyhow::anyhow!("otpauth uri: {e}")))?;
    let sealed = state.sealer.seal(&secret_aad(&user.id), &secret);
    let mut tx = state.store.begin().await?;
    tx.set_totp_pending(&user.id, Some(&sealed), state.clock.now_us()).await?;
    tx.append_audit(ctx.event(&state, &p.actor(), Action::TotpBegin, Some(format!("user:{}", user.id)), json!({})))
        .await?;
    tx.commit().await?;
    Ok(Json(TotpEnrolment { secret: twofactor::secret_base32(&secret), otpauth_uri: uri }))
}

#[derive(Deserialize, ToSchema)]
pub struct CodeRequest {
    /// A 6-digit code from the authenticator app (or, to turn 2FA off, a recovery code).
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Shown once. Each works once, in place of a code, if the authenticator is lost.
    pub recovery_codes: Vec<String>,
}

#[utoipa::path(post, path = "/me/totp/confirm", tag = "me", request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn confirm_totp(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Json(body): Json<CodeRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    ctx.slot.set_action(Action::TotpEnable, None);
    let user = load_user(&state, &p.user_id).await?;
    if user.totp_enabled {
        return Err(ApiError(AppError::Conflict("two-factor authentication is already on".into())));
    }
    let Some(sealed) = user.totp_pending_sealed.as_deref() else {
        return Err(ApiError(AppError::Conflict("start enrolment first with POST /api/v1/me/totp".into())));
    };
    let secret = state.sealer.open(&secret_aad(&user.id), sealed).map_err(ApiError::internal)?;
    let now_secs = u64::try_from(state.clock.now().as_second()).unwrap_or(0);
    let Some(step) = twofactor::matching_step(&secret, &user.email, &body.code, now_secs)? else {
        return Err(ApiError::validation(
            "code",
            "is not the current code of the authenticator app; check the device's clock",
        ));
    };
    let codes = new_recovery_codes();
    let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery_code_hash(c)).collect();
    let mut tx = state.store.begin().await?;
    // The confirming code's step is recorded as used, so it cannot also sign someone in.
    tx.enable_totp(&user.id, sealed, step, &hashes, state.clock.now_us()).await?;
    tx.append_audit(ctx.event(&state, &p.actor(), Action::TotpEnable, Some(format!("user:{}", user.id)), json!({})))
        .await?;
    tx.commit().await?;
    Ok(Json(RecoveryCodes { recovery_codes: codes }))
}

#[utoipa::path(delete, path = "/me/totp", tag = "me", request_body = CodeRequest,
    responses((status = 204), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn disable_totp(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Json(body): Json<CodeRequest>,
) -> ApiResult<StatusCode> {
    ctx.slot.set_action(Action::TotpDisable, None);
    let user = load_user(&state, &p.user_id).await?;
    if !user.totp_enabled {
        return Err(ApiError(AppError::Conflict("two-factor authentication is not on".into())));
    }
    let mut tx = state.store.begin().await?;
    if verify_second_factor(&state, &mut tx, &user, &body.code).await?.is_none() {
        return Err(ApiError::validation("code", "is wrong, expired or was already used"));
    }
    tx.disable_totp(&user.id, state.clock.now_us()).await?;
    tx.append_audit(ctx.event(&state, &p.actor(), Action::TotpDisable, Some(format!("user:{}", user.id)), json!({})))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    /// True for the session making this request.
    pub current: bool,
}

#[utoipa::path(get, path = "/me/sessions", tag = "me", responses((status = 200, body = Page<SessionView>)))]
pub(crate) async fn list_sessions(
    State(state): State<AppState>,
    SessionPrincipal(p): SessionPrincipal,
) -> ApiResult<Json<Page<SessionView>>> {
    let now = state.clock.now_us();
    let idle = i64::try_from(state.settings.session_idle.as_micros()).unwrap_or(i64::MAX);
    let items = state
        .store
        .live_sessions(&p.user_id, now)
        .await?
        .into_iter()
        .filter(|s| s.last_seen_at.saturating_add(idle) > now)
        .map(|s| SessionView {
            current: p.session_id.as_deref() == Some(s.id.as_str()),
            id: s.id,
            user_agent: s.user_agent,
            ip: s.ip,
            created_at: rfc3339(s.created_at),
            last_seen_at: rfc3339(s.last_seen_at),
            expires_at: rfc3339(s.expires_at),
        })
        .collect();
    Ok(Json(Page { items, next_cursor: None }))
}

#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "me", params(("id" = String, Path, description = "session id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    ctx.slot.set_action(Action::SessionRevoke, Some(format!("session:{id}")));
    let mut tx = state.store.begin().await?;
    if !tx.revoke_session(&p.user_id, &id, state.clock.now_us()).await? {
        return Err(ApiError(AppError::NotFound));
    }
    tx.append_audit(ctx.event(&state, &p.actor(), Action::SessionRevoke, Some(format!("session:{id}")), json!({})))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct RevokeAllRequest {
    /// Keep the session making this request signed in.
    #[serde(default)]
    pub keep_current: bool,
}

#[utoipa::path(post, path = "/me/sessions/revoke-all", tag = "me", request_body = RevokeAllRequest,
    responses((status = 204, description = "every (other) session signed out")))]
pub(crate) async fn revoke_all_sessions(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Json(body): Json<RevokeAllRequest>,
) -> ApiResult<StatusCode> {
    ctx.slot.set_action(Action::SessionsRevokeAll, None);
    let keep = if body.keep_current { p.session_id.as_deref() } else { None };
    let mut tx = state.store.begin().await?;
    let revoked = tx.revoke_all_sessions(&p.user_id, keep, state.clock.now_us()).await?;
    tx.append_audit(ctx.event(
        &state,
        &p.actor(),
        Action::SessionsRevokeAll,
        Some(format!("user:{}", p.user_id)),
        json!({ "revoked": revoked, "kept_current": body.keep_current }),
    ))
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct CreateTokenRequest {
    pub name: String,
    /// `read` and/or `write` (`write` includes reading).
    pub scopes: Vec<String>,
    /// RFC 3339; the token stops working then.
    pub expires_at: Option<String>,
    /// Narrow the token to these social accounts.
    pub accounts: Option<Vec<String>>,
    /// Narrow the token to these capabilities (names as in the API, e.g. `drafts.create`).
    pub capabilities: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub accounts: Option<Vec<String>>,
    pub capabilities: Option<Vec<String>>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// The secret: shown this once, stored only as a hash.
    pub token: String,
}

fn token_view(t: steward_store::ApiTokenRow) -> TokenView {
    TokenView {
        id: t.id,
        name: t.name,
        scopes: serde_json::from_str(&t.scopes).unwrap_or_default(),
        accounts: t.accounts.as_deref().and_then(|a| serde_json::from_str(a).ok()),
        capabilities: t.capabilities.as_deref().and_then(|c| serde_json::from_str(c).ok()),
        created_at: rfc3339(t.created_at),
        expires_at: t.expires_at.map(rfc3339),
        last_used_at: t.last_used_at.map(rfc3339),
    }
}

fn validate_list(field: &str, list: Option<&Vec<String>>, errors: &mut Vec<FieldError>) {
    if let Some(items) = list {
        if items.is_empty() {
            errors.push(FieldError::new(field, "must not be empty when given (leave it out for no narrowing)"));
        } else if items.len() > 100 {
            errors.push(FieldError::new(field, "must have at most 100 entries"));
        } else if items.iter().any(|s| s.trim().is_empty() || s.len() > 200) {
            errors.push(FieldError::new(field, "entries must be non-empty strings"));
        }
    }
}

#[utoipa::path(post, path = "/me/tokens", tag = "me", request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 422, body = Problem)))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Json(body): Json<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    ctx.slot.set_action(Action::TokenCreate, None);
    let now = state.clock.now();
    let mut errors = Vec::new();
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        errors.push(FieldError::new("name", "must be 1 to 100 characters"));
    }
    let mut scopes: Vec<String> = body.scopes.clone();
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty() || scopes.iter().any(|s| s != "read" && s != "write") {
        errors.push(FieldError::new("scopes", "must be a non-empty list of `read` and/or `write`"));
    }
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(raw) => match raw.parse::<jiff::Timestamp>() {
            Ok(t) if t > now => Some(t.as_microsecond()),
            Ok(_) => {
                errors.push(FieldError::new("expires_at", "must be in the future"));
                None
            }
            Err(_) => {
                errors.push(FieldError::new("expires_at", "must be an RFC 3339 time such as 2027-01-31T00:00:00Z"));
                None
            }
        },
    };
    validate_list("accounts", body.accounts.as_ref(), &mut errors);
    validate_list("capabilities", body.capabilities.as_ref(), &mut errors);
    if !errors.is_empty() {
        return Err(ApiError(AppError::Validation(errors)));
    }
    let token = Zeroizing::new(new_token(API_TOKEN_PREFIX));
    let id = uuid::Uuid::now_v7().to_string();
    let scopes_json = serde_json::to_string(&scopes).map_err(ApiError::internal)?;
    let accounts_json = body.accounts.as_ref().map(serde_json::to_string).transpose().map_err(ApiError::internal)?;
    let caps_json = body.capabilities.as_ref().map(serde_json::to_string).transpose().map_err(ApiError::internal)?;
    let mut tx = state.store.begin().await?;
    let row = tx
        .insert_api_token(NewApiToken {
            id: &id,
            user_id: &p.user_id,
            name,
            token_hash: &sha256(token.as_bytes()),
            scopes: &scopes_json,
            accounts: accounts_json.as_deref(),
            capabilities: caps_json.as_deref(),
            now: now.as_microsecond(),
            expires_at,
        })
        .await?;
    tx.append_audit(ctx.event(
        &state,
        &p.actor(),
        Action::TokenCreate,
        Some(format!("token:{id}")),
        json!({ "name": name, "scopes": scopes, "accounts": body.accounts, "capabilities": body.capabilities }),
    ))
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { view: token_view(row), token: token.to_string() })))
}

#[utoipa::path(get, path = "/me/tokens", tag = "me", responses((status = 200, body = Page<TokenView>)))]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    SessionPrincipal(p): SessionPrincipal,
) -> ApiResult<Json<Page<TokenView>>> {
    let now = state.clock.now_us();
    let items = state
        .store
        .api_tokens_for_user(&p.user_id)
        .await?
        .into_iter()
        .filter(|t| t.expires_at.is_none_or(|e| e > now))
        .map(token_view)
        .collect();
    Ok(Json(Page { items, next_cursor: None }))
}

#[utoipa::path(delete, path = "/me/tokens/{id}", tag = "me", params(("id" = String, Path, description = "token id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    ctx.slot.set_action(Action::TokenRevoke, Some(format!("token:{id}")));
    let mut tx = state.store.begin().await?;
    if !tx.revoke_api_token(&p.user_id, &id, state.clock.now_us()).await? {
        return Err(ApiError(AppError::NotFound));
    }
    tx.append_audit(ctx.event(&state, &p.actor(), Action::TokenRevoke, Some(format!("token:{id}")), json!({}))).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
