//! The signed-in user's own things (`/api/v1/me/*`): profile, 2FA, sessions and access
//! tokens — the use cases of `steward_app::identity`. (Their activity and alert preferences
//! are in `activity` and `alerts`.)
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use steward_app::identity::leaving::{self, DeleteMeRequest};
use steward_app::identity::password::{self, ChangePasswordRequest};
use steward_app::identity::sessions::{self, RevokeAllRequest, SessionView};
use steward_app::identity::tokens::{self, CreateTokenRequest, CreatedToken, TokenView};
use steward_app::identity::two_factor::{self, CodeRequest, RecoveryCodes, TotpEnrolment};
use steward_app::identity::view::UserView;
use steward_domain::ids::{SessionId, TokenId};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Page;
use crate::auth::{AuthVia, Principal, SessionPrincipal, clear_session_cookie, csrf_token};
use crate::error::{ApiResult, Json, Path, Problem};
use crate::request::Ctx;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me, delete_me))
        .routes(routes!(export_me))
        .routes(routes!(change_password))
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

#[utoipa::path(get, path = "/me", tag = "me", responses((status = 200, body = MeView), (status = 401, body = Problem)))]
pub(crate) async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<MeView>> {
    let me = steward_app::identity::me::me(&state, &principal).await?;
    let csrf = match (principal.via, &principal.session_id) {
        (AuthVia::Cookie, Some(sid)) => Some(csrf_token(&state, sid)),
        _ => None,
    };
    Ok(Json(MeView { user: me.user, csrf_token: csrf, recovery_codes_left: me.recovery_codes_left }))
}

#[utoipa::path(post, path = "/me/password", tag = "me", request_body = ChangePasswordRequest,
    responses((status = 204, description = "changed; the person's other sessions ended"),
        (status = 401, body = Problem, description = "totp-required: 2FA is on and no code was given"),
        (status = 403, body = Problem, description = "the current password or the code is wrong"),
        (status = 422, body = Problem, description = "the new password is too weak")))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Json(body): Json<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    password::change_password(&state, &ctx, &p, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/me/totp", tag = "me",
    responses((status = 200, body = TotpEnrolment), (status = 409, body = Problem, description = "2FA is already on")))]
pub(crate) async fn begin_totp(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
) -> ApiResult<Json<TotpEnrolment>> {
    Ok(Json(two_factor::begin_totp(&state, &ctx, &p).await?))
}

#[utoipa::path(post, path = "/me/totp/confirm", tag = "me", request_body = CodeRequest,
    responses((status = 200, body = RecoveryCodes), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn confirm_totp(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Json(body): Json<CodeRequest>,
) -> ApiResult<Json<RecoveryCodes>> {
    Ok(Json(two_factor::confirm_totp(&state, &ctx, &p, body).await?))
}

#[utoipa::path(delete, path = "/me/totp", tag = "me", request_body = CodeRequest,
    responses((status = 204), (status = 403, body = Problem, description = "a wrong, expired or used code"), (status = 409, body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem, description = "too many wrong codes; see Retry-After")))]
pub(crate) async fn disable_totp(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Json(body): Json<CodeRequest>,
) -> ApiResult<StatusCode> {
    two_factor::disable_totp(&state, &ctx, &p, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/me/sessions", tag = "me", responses((status = 200, body = Page<SessionView>)))]
pub(crate) async fn list_sessions(
    State(state): State<AppState>,
    SessionPrincipal(p): SessionPrincipal,
) -> ApiResult<Json<Page<SessionView>>> {
    let items = sessions::list_sessions(&state, &p).await?;
    Ok(Json(Page { items, next_cursor: None }))
}

#[utoipa::path(delete, path = "/me/sessions/{id}", tag = "me", params(("id" = String, Path, description = "session id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Path(id): Path<SessionId>,
) -> ApiResult<StatusCode> {
    sessions::revoke_session(&state, &ctx, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/me/sessions/revoke-all", tag = "me", request_body = RevokeAllRequest,
    responses((status = 204, description = "every (other) session signed out")))]
pub(crate) async fn revoke_all_sessions(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Json(body): Json<RevokeAllRequest>,
) -> ApiResult<StatusCode> {
    sessions::revoke_all_sessions(&state, &ctx, &p, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/me/tokens", tag = "me", request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 401, body = Problem, description = "totp-required"),
        (status = 403, body = Problem, description = "reauth-required, or a wrong password or code"),
        (status = 422, body = Problem)))]
pub(crate) async fn create_token(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Json(body): Json<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    Ok((StatusCode::CREATED, Json(tokens::create_token(&state, &ctx, &p, body).await?)))
}

#[utoipa::path(get, path = "/me/tokens", tag = "me", responses((status = 200, body = Page<TokenView>)))]
pub(crate) async fn list_tokens(
    State(state): State<AppState>,
    SessionPrincipal(p): SessionPrincipal,
) -> ApiResult<Json<Page<TokenView>>> {
    let items = tokens::list_tokens(&state, &p).await?;
    Ok(Json(Page { items, next_cursor: None }))
}

#[utoipa::path(delete, path = "/me/tokens/{id}", tag = "me", params(("id" = String, Path, description = "token id")),
    responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Path(id): Path<TokenId>,
) -> ApiResult<StatusCode> {
    tokens::revoke_token(&state, &ctx, &p, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The shape of `GET /me/export` (streamed, so described here rather than serialized from it).
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct PersonalExportDoc {
    /// `steward.personal-export.v1`.
    format: String,
    exported_at: String,
    #[schema(value_type = Object)]
    user: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    sessions: serde_json::Value,
    /// Names, scopes and dates of access tokens: never a token or its hash.
    #[schema(value_type = Vec<Object>)]
    tokens: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    memberships: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    invitations: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    notifications: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    posts: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    comments: serde_json::Value,
    /// The caller's own audit events, newest first.
    #[schema(value_type = Vec<Object>)]
    activity: serde_json::Value,
}

#[utoipa::path(get, path = "/me/export", tag = "me",
    responses((status = 200, content_type = "application/json", body = PersonalExportDoc,
        description = "everything Steward holds about the caller, streamed: `user`, `sessions`, `tokens` (never a secret or hash), \
            `memberships`, `invitations`, `notifications`, `posts` and `comments` they wrote, and `activity` (their audit events)"),
        (status = 403, body = Problem, description = "a personal access token")))]
pub(crate) async fn export_me(
    State(state): State<AppState>,
    SessionPrincipal(p): SessionPrincipal,
) -> ApiResult<Response> {
    let export = leaving::export_me(&state, &p).await?;
    let mut resp = Body::from_stream(export.body).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"steward-my-data.json\""));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

#[utoipa::path(delete, path = "/me", tag = "me", request_body = DeleteMeRequest,
    responses((status = 204, description = "the user is deleted; every session and token ended"),
        (status = 401, body = Problem, description = "totp-required: 2FA is on and no code was given"),
        (status = 403, body = Problem, description = "the password or the code is wrong, or a personal access token"),
        (status = 409, body = Problem, description = "the caller still owns social accounts"),
        (status = 422, body = Problem),
        (status = 429, body = Problem, description = "too many wrong passwords or codes; see Retry-After"),
        (status = 503, body = Problem, description = "busy: too many password hashes at once (Retry-After)")))]
pub(crate) async fn delete_me(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Json(body): Json<DeleteMeRequest>,
) -> ApiResult<Response> {
    leaving::delete_me(&state, &ctx, &p, body).await?;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = clear_session_cookie(&state).parse() {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}
