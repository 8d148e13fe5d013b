//! Members and invitations (`/api/v1/accounts/{id}/members*`, `/invitations*`). The use cases
//! are `steward_app::members`.
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use steward_app::members::devices::{self, MemberSessionView};
use steward_app::members::invitations::{self, CreatedInvitation, InvitationRequest, ResentInvitation};
use steward_app::members::membership::{self, MemberUpdate};
use steward_app::members::view::{self, InvitationView, MemberView};
use steward_domain::ids::{AccountId, InvitationId, SessionId, UserId};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Page;
use crate::auth::Principal;
use crate::error::{ApiResult, Json, Path, Problem, Query};
use crate::request::Ctx;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(update_member, remove_member))
        .routes(routes!(list_member_sessions))
        .routes(routes!(end_member_session))
        .routes(routes!(create_invitation, list_invitations))
        .routes(routes!(withdraw_invitation))
        .routes(routes!(resend_invitation))
        .routes(routes!(accept_invitation))
}

#[utoipa::path(get, path = "/accounts/{id}/members", tag = "members", params(("id" = String, Path)),
    responses((status = 200, body = Page<MemberView>), (status = 404, body = Problem)))]
pub(crate) async fn list_members(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
) -> ApiResult<Json<Page<MemberView>>> {
    Ok(Json(Page { items: view::list_members(&state, &ctx, &principal, &id).await?, next_cursor: None }))
}

#[utoipa::path(post, path = "/accounts/{id}/invitations", tag = "members", params(("id" = String, Path)), request_body = InvitationRequest,
    responses((status = 201, body = CreatedInvitation), (status = 403, body = Problem), (status = 409, body = Problem, description = "conflict or member-limit"), (status = 422, body = Problem)))]
pub(crate) async fn create_invitation(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
    Json(body): Json<InvitationRequest>,
) -> ApiResult<(StatusCode, Json<CreatedInvitation>)> {
    let created = invitations::create_invitation(&state, &ctx, &principal, &id, body).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/accounts/{id}/invitations", tag = "members", params(("id" = String, Path)),
    responses((status = 200, body = Page<InvitationView>)))]
pub(crate) async fn list_invitations(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
) -> ApiResult<Json<Page<InvitationView>>> {
    Ok(Json(Page { items: view::list_invitations(&state, &ctx, &principal, &id).await?, next_cursor: None }))
}

#[utoipa::path(delete, path = "/accounts/{id}/invitations/{inv}", tag = "members",
    params(("id" = String, Path), ("inv" = String, Path)), responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn withdraw_invitation(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, inv)): Path<(AccountId, InvitationId)>,
) -> ApiResult<StatusCode> {
    invitations::withdraw_invitation(&state, &ctx, &principal, &id, &inv).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/accounts/{id}/invitations/{inv}/resend", tag = "members",
    params(("id" = String, Path), ("inv" = String, Path)),
    responses((status = 200, body = ResentInvitation, description = "a new link, mailed when mail is on; the old link stops working"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn resend_invitation(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, inv)): Path<(AccountId, InvitationId)>,
) -> ApiResult<Json<ResentInvitation>> {
    Ok(Json(invitations::resend_invitation(&state, &ctx, &principal, &id, &inv).await?))
}

#[utoipa::path(post, path = "/invitations/{token}/accept", tag = "members", params(("token" = String, Path)),
    responses((status = 200, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn accept_invitation(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(token): Path<String>,
) -> ApiResult<Json<MemberView>> {
    Ok(Json(invitations::accept_invitation(&state, &ctx, &principal, &token).await?))
}

#[utoipa::path(patch, path = "/accounts/{id}/members/{user_id}", tag = "members",
    params(("id" = String, Path), ("user_id" = String, Path)), request_body = MemberUpdate,
    responses((status = 200, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn update_member(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, user_id)): Path<(AccountId, UserId)>,
    Json(body): Json<MemberUpdate>,
) -> ApiResult<Json<MemberView>> {
    Ok(Json(membership::update_member(&state, &ctx, &principal, &id, &user_id, body).await?))
}

#[derive(Deserialize, IntoParams)]
pub struct RemoveQuery {
    /// Also cancel the member's scheduled and approved posts (posting issue).
    pub cancel_posts: Option<bool>,
}

#[utoipa::path(delete, path = "/accounts/{id}/members/{user_id}", tag = "members",
    params(("id" = String, Path), ("user_id" = String, Path), RemoveQuery),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, user_id)): Path<(AccountId, UserId)>,
    Query(q): Query<RemoveQuery>,
) -> ApiResult<StatusCode> {
    membership::remove_member(&state, &ctx, &principal, &id, &user_id, q.cancel_posts.unwrap_or(false)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/accounts/{id}/members/{user_id}/sessions", tag = "members",
    params(("id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = Page<MemberSessionView>, description = "the member's live sessions, newest first"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(crate) async fn list_member_sessions(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, user_id)): Path<(AccountId, UserId)>,
) -> ApiResult<Json<Page<MemberSessionView>>> {
    let items = devices::list_member_sessions(&state, &ctx, &principal, &id, &user_id).await?;
    Ok(Json(Page { items, next_cursor: None }))
}

#[utoipa::path(delete, path = "/accounts/{id}/members/{user_id}/sessions/{session_id}", tag = "members",
    params(("id" = String, Path), ("user_id" = String, Path), ("session_id" = String, Path)),
    responses((status = 204, description = "the session is ended"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub(crate) async fn end_member_session(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, user_id, session_id)): Path<(AccountId, UserId, SessionId)>,
) -> ApiResult<StatusCode> {
    devices::end_member_session(&state, &ctx, &principal, &id, &user_id, &session_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
