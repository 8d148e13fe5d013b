//! Submitting, approving, requesting changes and the review thread over HTTP.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use steward_app::posts::review::{self, ApproveRequest, CommentRequest, RequestChangesRequest};
use steward_app::posts::view::{CommentView, PostView};
use steward_domain::ids::PostId;

use super::etag::post_response;
use crate::api::Page;
use crate::auth::Principal;
use crate::error::{ApiResult, Json, Path, Problem};
use crate::request::Ctx;
use crate::state::AppState;

#[utoipa::path(post, path = "/posts/{id}/submit", tag = "posts", params(("id" = String, Path)),
    responses((status = 200, body = PostView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn submit_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<PostId>,
) -> ApiResult<Response> {
    let view = review::submit_post(&state, &ctx, &principal, &id).await?;
    Ok(post_response(StatusCode::OK, view))
}

#[utoipa::path(post, path = "/posts/{id}/approve", tag = "posts", params(("id" = String, Path)), request_body = ApproveRequest,
    responses((status = 200, body = PostView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn approve_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<PostId>,
    Json(body): Json<ApproveRequest>,
) -> ApiResult<Response> {
    let view = review::approve_post(&state, &ctx, &principal, &id, body).await?;
    Ok(post_response(StatusCode::OK, view))
}

#[utoipa::path(post, path = "/posts/{id}/request-changes", tag = "posts", params(("id" = String, Path)), request_body = RequestChangesRequest,
    responses((status = 200, body = PostView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn request_changes(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<PostId>,
    Json(body): Json<RequestChangesRequest>,
) -> ApiResult<Response> {
    let view = review::request_changes(&state, &ctx, &principal, &id, body).await?;
    Ok(post_response(StatusCode::OK, view))
}

#[utoipa::path(get, path = "/posts/{id}/comments", tag = "posts", operation_id = "list_review_comments", params(("id" = String, Path)),
    responses((status = 200, body = Page<CommentView>), (status = 404, body = Problem)))]
pub(super) async fn list_comments(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<PostId>,
) -> ApiResult<Json<Page<CommentView>>> {
    let items = review::list_comments(&state, &ctx, &principal, &id).await?;
    Ok(Json(Page { items, next_cursor: None }))
}

#[utoipa::path(post, path = "/posts/{id}/comments", tag = "posts", operation_id = "add_review_comment", params(("id" = String, Path)), request_body = CommentRequest,
    responses((status = 201, body = CommentView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn add_comment(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<PostId>,
    Json(body): Json<CommentRequest>,
) -> ApiResult<Response> {
    let comment = review::add_comment(&state, &ctx, &principal, &id, body).await?;
    Ok((StatusCode::CREATED, Json(comment)).into_response())
}
