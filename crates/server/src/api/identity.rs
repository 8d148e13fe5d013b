//! Sign-up, sign-in and sign-out (`/api/v1/auth/*`): the use cases of
//! `steward_app::identity`, with the session cookie and the CSRF token added here.
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use steward_app::identity::password::{self, ResetConfirmRequest, ResetRequest};
use steward_app::identity::registration::{self, RegisterRequest};
use steward_app::identity::sign_in::{self, LoginRequest};
use steward_app::identity::view::UserView;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Principal, clear_session_cookie, csrf_token, device_set_cookie, session_set_cookie};
use crate::error::{ApiResult, Json, Problem};
use crate::request::Ctx;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(password_reset))
        .routes(routes!(password_reset_confirm))
}

#[utoipa::path(post, path = "/auth/register", tag = "identity", request_body = RegisterRequest,
    responses((status = 201, body = UserView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem),
        (status = 503, body = Problem, description = "busy: too many password hashes at once (Retry-After)")))]
pub(crate) async fn register(
    State(state): State<AppState>,
    ctx: Ctx,
    Json(body): Json<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let user = registration::register(&state, &ctx, body).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// The session token, for `Authorization: Bearer`. Also set as the `steward_session` cookie
    /// (`__Host-steward_session` when `STEWARD_PUBLIC_URL` is https).
    pub token: String,
    pub user: UserView,
    pub session_id: String,
    /// Send as `X-CSRF-Token` with unsafe requests authenticated by the cookie.
    pub csrf_token: String,
}

#[utoipa::path(post, path = "/auth/login", tag = "identity", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = Problem, description = "invalid-credentials or totp-required"),
        (status = 422, body = Problem), (status = 429, body = Problem),
        (status = 503, body = Problem, description = "busy: too many password hashes at once (Retry-After)")))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ctx: Ctx,
    Json(body): Json<LoginRequest>,
) -> ApiResult<Response> {
    let signed_in = sign_in::login(&state, &ctx, body).await?;
    let body = LoginResponse {
        token: signed_in.token.to_string(),
        user: signed_in.user,
        csrf_token: csrf_token(&state, &signed_in.session_id),
        session_id: signed_in.session_id.into_string(),
    };
    let mut resp = Json(body).into_response();
    if let Ok(v) = session_set_cookie(&state, &signed_in.token).parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    if let Ok(v) = device_set_cookie(&state, &signed_in.device_cookie).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[utoipa::path(post, path = "/auth/logout", tag = "identity",
    responses((status = 204, description = "this session ended"), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn logout(State(state): State<AppState>, ctx: Ctx, principal: Principal) -> ApiResult<Response> {
    sign_in::logout(&state, &ctx, &principal).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = clear_session_cookie(&state).parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

#[utoipa::path(post, path = "/auth/password-reset", tag = "identity", request_body = ResetRequest,
    responses((status = 202, description = "accepted for any address: a known one gets a mail with a link valid 30 minutes"),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub(crate) async fn password_reset(
    State(state): State<AppState>,
    ctx: Ctx,
    Json(body): Json<ResetRequest>,
) -> ApiResult<StatusCode> {
    password::request_reset(&state, &ctx, body).await?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(post, path = "/auth/password-reset/confirm", tag = "identity", request_body = ResetConfirmRequest,
    responses((status = 204, description = "the password is set and every session ended"),
        (status = 401, body = Problem, description = "totp-required: 2FA is on and no code was given"),
        (status = 403, body = Problem, description = "the code is wrong"), (status = 422, body = Problem),
        (status = 429, body = Problem, description = "rate-limited: too many wrong codes for this person lately (Retry-After)")))]
pub(crate) async fn password_reset_confirm(
    State(state): State<AppState>,
    ctx: Ctx,
    Json(body): Json<ResetConfirmRequest>,
) -> ApiResult<StatusCode> {
    password::confirm_reset(&state, &ctx, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
