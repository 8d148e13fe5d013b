//! Scheduling, publishing now and cancelling over HTTP (publish-now answers 202: the
//! publishing worker takes it from there).
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use steward_app::posts::scheduling::{self, ScheduleRequest};
use steward_app::posts::view::PostView;
use steward_domain::ids::PostId;

use super::etag::post_response;
use crate::auth::Principal;
use crate::error::{ApiResult, Json, Path, Problem};
use crate::request::Ctx;
use crate::state::AppState;

#[utoipa::path(post, path = "/posts/{id}/schedule", tag = "posts", params(("id" = String, Path)), request_body = ScheduleRequest,
    responses((status = 200, body = PostView), (status = 403, body = Problem, description = "forbidden, or outside-window"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "wrong state, or the account's pace rules"),
        (status = 422, body = Problem)))]
pub(super) async fn schedule_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<PostId>,
    Json(body): Json<ScheduleRequest>,
) -> ApiResult<Response> {
    let view = scheduling::schedule_post(&state, &ctx, &principal, &id, body).await?;
    Ok(post_response(StatusCode::OK, view))
}

#[utoipa::path(post, path = "/posts/{id}/publish-now", tag = "posts", params(("id" = String, Path)),
    responses((status = 202, body = PostView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn publish_now(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<PostId>,
) -> ApiResult<Response> {
    let view = scheduling::publish_now(&state, &ctx, &principal, &id).await?;
    Ok(post_response(StatusCode::ACCEPTED, view))
}

#[utoipa::path(post, path = "/posts/{id}/cancel", tag = "posts", params(("id" = String, Path)),
    responses((status = 200, body = PostView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn cancel_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<PostId>,
) -> ApiResult<Response> {
    let view = scheduling::cancel_post(&state, &ctx, &principal, &id).await?;
    Ok(post_response(StatusCode::OK, view))
}
