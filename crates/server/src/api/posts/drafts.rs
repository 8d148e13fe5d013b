//! Creating, listing, reading and editing posts over HTTP (`Idempotency-Key` on create,
//! `If-Match` on edit).
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use steward_app::posts::drafts::{self, ContentRequest, EditRequest, ListPostsQuery};
use steward_app::posts::view::PostView;
use steward_domain::ids::{AccountId, PostId};

use super::etag::{based_on, post_response};
use crate::api::Page;
use crate::auth::Principal;
use crate::error::{ApiResult, Json, Path, Problem, Query};
use crate::request::Ctx;
use crate::state::AppState;

#[utoipa::path(post, path = "/accounts/{id}/posts", tag = "posts", params(("id" = String, Path),
    ("Idempotency-Key" = Option<String>, Header, description = "Replays of the same create answer the same post")),
    request_body = ContentRequest,
    responses((status = 201, body = PostView, headers(("ETag" = String))), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn create_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
    headers: HeaderMap,
    Json(body): Json<ContentRequest>,
) -> ApiResult<Response> {
    // A key that is not visible ASCII reads as empty, which the use case refuses.
    let key = headers.get("idempotency-key").map(|v| v.to_str().unwrap_or_default());
    let view = drafts::create_post(&state, &ctx, &principal, &id, key, body).await?;
    Ok(post_response(StatusCode::CREATED, view))
}

#[utoipa::path(get, path = "/accounts/{id}/posts", tag = "posts", params(("id" = String, Path), ListPostsQuery),
    responses((status = 200, body = Page<PostView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn list_posts(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
    Query(q): Query<ListPostsQuery>,
) -> ApiResult<Json<Page<PostView>>> {
    let list = drafts::list_posts(&state, &ctx, &principal, &id, q).await?;
    Ok(Json(Page { items: list.items, next_cursor: list.next_cursor }))
}

#[utoipa::path(get, path = "/posts/{id}", tag = "posts", params(("id" = String, Path)),
    responses((status = 200, body = PostView, headers(("ETag" = String))), (status = 404, body = Problem)))]
pub(super) async fn get_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<PostId>,
) -> ApiResult<Response> {
    let view = drafts::get_post(&state, &ctx, &principal, &id).await?;
    Ok(post_response(StatusCode::OK, view))
}

#[utoipa::path(patch, path = "/posts/{id}", tag = "posts", params(("id" = String, Path),
    ("If-Match" = String, Header, description = "The post's ETag")), request_body = EditRequest,
    responses((status = 200, body = PostView, headers(("ETag" = String))), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem),
        (status = 422, body = Problem), (status = 428, body = Problem)))]
pub(super) async fn edit_post(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<PostId>,
    headers: HeaderMap,
    Json(body): Json<EditRequest>,
) -> ApiResult<Response> {
    let view = drafts::edit_post(&state, &ctx, &principal, &id, &based_on(&headers), body).await?;
    Ok(post_response(StatusCode::OK, view))
}
