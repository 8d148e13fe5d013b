//! Sign-up, sign-in and sign-out (`/api/v1/auth/*`).
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_app::AppError;
use steward_domain::audit::Action;
use steward_domain::identity::{normalize_email, validate_display_name, validate_new_password};
use steward_store::{NewSession, NewUser, UserRow};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::auth::{Principal, SESSION_TOKEN_PREFIX, clear_session_cookie, csrf_token, session_set_cookie};
use crate::error::{ApiError, ApiResult, FieldError, Json, Problem};
use crate::request::{AuditActor, Ctx};
use crate::state::AppState;
use steward_app::clock::rfc3339;
use steward_app::config::SignupMode;
use steward_app::crypto::{hmac_sha256, new_token, sha256};
use steward_app::twofactor::verify_second_factor;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(register)).routes(routes!(login)).routes(routes!(logout))
}

/// A Steward user as others may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub totp_enabled: bool,
    /// RFC 3339, UTC.
    pub created_at: String,
}

impl From<&UserRow> for UserView {
    fn from(u: &UserRow) -> Self {
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            display_name: u.display_name.clone(),
            totp_enabled: u.totp_enabled,
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    pub email: String,
    /// 12 to 1024 characters, not a common password.
    pub password: String,
    pub display_name: String,
    /// An invitation token, required when sign-up is by invitation only.
    pub invitation: Option<String>,
}

/// Validates a new user's fields together, so the person sees every problem at once.
pub fn validate_new_user(email: &str, display_name: &str, password: &str) -> Result<(String, String), ApiError> {
    let mut errors = Vec::new();
    let email = normalize_email(email).map_err(|e| errors.push(FieldError::new("email", e.to_string()))).ok();
    let name = validate_display_name(display_name).map_err(|e| errors.push(FieldError::new("display_name", e))).ok();
    if let Err(e) = validate_new_password(password, email.as_deref().unwrap_or("")) {
        errors.push(FieldError::new("password", e.to_string()));
    }
    match (email, name) {
        (Some(e), Some(n)) if errors.is_empty() => Ok((e, n)),
        _ => Err(ApiError(AppError::Validation(errors))),
    }
}

/// Creates a user inside `tx` and records it; shared by sign-up, the demo and the admin CLI.
pub async fn create_user(
    state: &AppState,
    tx: &mut steward_store::Tx,
    email: &str,
    display_name: &str,
    password: Zeroizing<String>,
) -> ApiResult<UserRow> {
    let hash = state.passwords.hash(password).await?;
    let id = uuid::Uuid::now_v7().to_string();
    tx.insert_user(NewUser { id: &id, email, display_name, password_hash: &hash, now: state.clock.now_us() })
        .await
        .map_err(|e| match e {
            steward_store::StoreError::Conflict(_) => {
                ApiError(AppError::Conflict("a user with this email address already exists".into()))
            }
            other => other.into(),
        })
}

#[utoipa::path(post, path = "/auth/register", tag = "identity", request_body = RegisterRequest,
    responses((status = 201, body = UserView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn register(
    State(state): State<AppState>,
    ctx: Ctx,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    ctx.slot.set_action(Action::Register, None);
    match state.settings.signup {
        SignupMode::Closed => {
            return Err(ApiError(AppError::Forbidden(
                "sign-up is closed on this server; ask its operator for an account".into(),
            )));
        }
        SignupMode::Invite if body.invitation.is_none() => {
            return Err(ApiError(AppError::Forbidden("sign-up on this server needs an invitation link".into())));
        }
        _ => {}
    }
    let (email, display_name) = validate_new_user(&body.email, &body.display_name, &body.password)?;
    let mut tx = state.store.begin().await?;
    let user = create_user(&state, &mut tx, &email, &display_name, Zeroizing::new(body.password)).await?;
    let actor = AuditActor { user_id: Some(user.id.clone()), email: Some(user.email.clone()), session_id: None };
    tx.append_audit(ctx.event(
        &state,
        &actor,
        Action::Register,
        Some(format!("user:{}", user.id)),
        json!({ "display_name": user.display_name, "with_invitation": body.invitation.is_some() }),
    ))
    .await?;
    if let Some(token) = body.invitation.as_deref() {
        // Registering through an invitation link joins the account in the same transaction;
        // an invalid invitation creates no user either.
        crate::routes::members::redeem_invitation(&state, &ctx, &mut tx, token, &actor, &user.id, &user.email)
            .await
            .map_err(|e| match e {
                ApiError(AppError::NotFound) | ApiError(AppError::Conflict(_)) => ApiError::validation(
                    "invitation",
                    "is not a valid invitation (it may have expired, been withdrawn or used)",
                ),
                ApiError(AppError::Forbidden(_)) => {
                    ApiError::validation("email", "must be the address the invitation was sent to")
                }
                other => other,
            })?;
    }
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// The current code from the authenticator app, or a recovery code, when 2FA is on.
    pub totp: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// The session token, for `Authorization: Bearer`. Also set as the `steward_session` cookie.
    pub token: String,
    pub user: UserView,
    pub session_id: String,
    /// Send as `X-CSRF-Token` with unsafe requests authenticated by the cookie.
    pub csrf_token: String,
}

fn micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Refuses a sign-in attempt while the account or the address has too many recent failures.
pub(crate) async fn throttle(state: &AppState, email: &str, ip: &str, now: i64) -> ApiResult<()> {
    let window = micros(state.settings.login_window);
    let since = now - window;
    let checks = [
        (state.store.failed_logins_for_email(email, since).await?, state.settings.login_max_failures_per_account),
        (state.store.failed_logins_for_ip(ip, since).await?, state.settings.login_max_failures_per_ip),
    ];
    for ((failures, oldest), limit) in checks {
        if failures >= limit {
            let free_at = oldest.unwrap_or(now) + window;
            let retry_after_secs = u64::try_from((free_at - now).max(1_000_000) / 1_000_000).unwrap_or(1);
            return Err(ApiError(AppError::RateLimited { retry_after_secs }));
        }
    }
    Ok(())
}

#[utoipa::path(post, path = "/auth/login", tag = "identity", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = Problem, description = "invalid-credentials or totp-required"),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ctx: Ctx,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Response> {
    ctx.slot.set_action(Action::Login, None);
    let email = normalize_email(&body.email).map_err(|e| ApiError::validation("email", e.to_string()))?;
    ctx.slot.set_actor(AuditActor { user_id: None, email: Some(email.clone()), session_id: None });
    let ip = ctx.meta.ip.clone();
    let now = state.clock.now_us();
    throttle(&state, &email, &ip, now).await?;

    let user = state.store.user_by_email(&email).await?;
    if let Some(u) = &user {
        ctx.slot.set_actor(AuditActor { user_id: Some(u.id.clone()), email: Some(u.email.clone()), session_id: None });
    }
    let password_ok =
        state.passwords.verify(Zeroizing::new(body.password), user.as_ref().map(|u| u.password_hash.clone())).await;
    let (true, Some(user)) = (password_ok, user) else {
        state.store.record_login_attempt(&email, &ip, now, false).await?;
        return Err(ApiError(AppError::InvalidCredentials { detail: "The email address or password is wrong." }));
    };

    let mut tx = state.store.begin().await?;
    let mut second_factor = None;
    if user.totp_enabled {
        let Some(code) = body.totp.as_deref().filter(|c| !c.trim().is_empty()) else {
            return Err(ApiError(AppError::TotpRequired));
        };
        second_factor = verify_second_factor(&state, &mut tx, &user, code).await?;
        if second_factor.is_none() {
            drop(tx);
            state.store.record_login_attempt(&email, &ip, now, false).await?;
            return Err(ApiError(AppError::InvalidCredentials {
                detail: "The two-factor code is wrong, expired or was already used.",
            }));
        }
    }

    let token = Zeroizing::new(new_token(SESSION_TOKEN_PREFIX));
    let session_id = uuid::Uuid::now_v7().to_string();
    let expires_at = now + micros(state.settings.session_absolute);
    tx.insert_session(NewSession {
        id: &session_id,
        user_id: &user.id,
        token_hash: &sha256(token.as_bytes()),
        user_agent: ctx.meta.user_agent.as_deref(),
        ip: Some(&ip),
        now,
        expires_at,
    })
    .await?;
    let device = hmac_sha256(&state.device_key, ctx.meta.user_agent.as_deref().unwrap_or("").as_bytes());
    let new_device = tx.remember_device(&user.id, &device, now).await?;
    // The first device a person ever signs in from is no news (no alert).
    let first_device = new_device && tx.known_device_count(&user.id).await? == 1;
    let actor = AuditActor {
        user_id: Some(user.id.clone()),
        email: Some(user.email.clone()),
        session_id: Some(session_id.clone()),
    };
    tx.append_audit(ctx.event(
        &state,
        &actor,
        Action::Login,
        Some(format!("session:{session_id}")),
        json!({ "second_factor": second_factor, "new_device": new_device, "first_device": first_device }),
    ))
    .await?;
    tx.commit().await?;
    state.store.record_login_attempt(&email, &ip, now, true).await?;
    state.store.clear_failed_logins(&email).await?;

    let body = LoginResponse {
        token: token.to_string(),
        user: UserView::from(&user),
        csrf_token: csrf_token(&state, &session_id),
        session_id,
    };
    let mut resp = Json(body).into_response();
    if let Ok(v) = session_set_cookie(&state, &token).parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[utoipa::path(post, path = "/auth/logout", tag = "identity",
    responses((status = 204, description = "this session ended"), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn logout(State(state): State<AppState>, ctx: Ctx, principal: Principal) -> ApiResult<Response> {
    ctx.slot.set_action(Action::Logout, None);
    let Some(session_id) = principal.session_id.clone() else {
        return Err(ApiError::validation(
            "authorization",
            "a personal access token has no session to end; revoke it with DELETE /api/v1/me/tokens/{id}",
        ));
    };
    let mut tx = state.store.begin().await?;
    tx.revoke_session(&principal.user_id, &session_id, state.clock.now_us()).await?;
    tx.append_audit(ctx.event(
        &state,
        &principal.actor(),
        Action::Logout,
        Some(format!("session:{session_id}")),
        json!({}),
    ))
    .await?;
    tx.commit().await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = clear_session_cookie(&state).parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// Creates a user from the command line (demo, `steward admin create-user`), recorded in the
/// activity log with the command as the actor.
pub async fn create_user_as_operator(
    state: &AppState,
    email: &str,
    display_name: &str,
    password: String,
    via: &str,
) -> ApiResult<UserRow> {
    let password = Zeroizing::new(password);
    let (email, display_name) = validate_new_user(email, display_name, &password)?;
    let mut tx = state.store.begin().await?;
    let user = create_user(state, &mut tx, &email, &display_name, password).await?;
    tx.append_audit(steward_store::NewAuditEvent {
        id: uuid::Uuid::now_v7().to_string(),
        at: state.clock.now_us(),
        actor_email: Some(format!("operator ({via})")),
        action: Action::AdminCreateUser.as_str().into(),
        target: Some(format!("user:{}", user.id)),
        outcome: "allowed".into(),
        detail: json!({ "email": user.email, "display_name": user.display_name, "via": via }).to_string(),
        ..Default::default()
    })
    .await?;
    tx.commit().await?;
    Ok(user)
}
