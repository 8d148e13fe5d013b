//! Platform engagement over HTTP (API.md "Platform engagement"): comments on the account's
//! published posts, replies as the account, and post statistics (`steward_app::engagement`).
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use steward_app::engagement::{self, AnalyticsView, CommentView, ReplyOutcome, ReplyRequest};
use steward_app::moderation::moderate;
use steward_app::posts::view::PostView;
use steward_domain::ids::AccountId;
use steward_domain::moderation::ModerationAction;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Page;
use crate::auth::Principal;
use crate::error::{ApiResult, Json, Path, Problem};
use crate::request::Ctx;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_comments))
        .routes(routes!(reply))
        .routes(routes!(delete_comment))
        .routes(routes!(hide_comment))
        .routes(routes!(mute_author))
        .routes(routes!(block_author))
        .routes(routes!(analytics))
}

#[utoipa::path(get, path = "/accounts/{id}/comments", tag = "engagement", params(("id" = String, Path)),
    responses((status = 200, body = Page<CommentView>), (status = 404, body = Problem),
        (status = 409, description = "the platform gives apps no access to comments (TikTok), or the account must be reconnected", body = Problem),
        (status = 503, body = Problem)))]
async fn list_comments(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
) -> ApiResult<Json<Page<CommentView>>> {
    let items = engagement::list_comments(&state, &ctx, &principal, &id).await?;
    Ok(Json(Page { items, next_cursor: None }))
}

#[utoipa::path(post, path = "/accounts/{id}/comments/{comment_id}/reply", tag = "engagement",
    params(("id" = String, Path), ("comment_id" = String, Path)), request_body = ReplyRequest,
    responses((status = 201, description = "sent", body = CommentView),
        (status = 202, description = "on a person's own profile, by anyone but its owner: a reply draft (`reply_to`) in review, sent once the owner approves it", body = PostView),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "the platform gives apps no access to comments (TikTok), the account must be reconnected, or it is locked down (`account-locked-down`: nothing is published until the owner lifts the lockdown)", body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn reply(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, comment_id)): Path<(AccountId, String)>,
    Json(body): Json<ReplyRequest>,
) -> ApiResult<Response> {
    Ok(match engagement::reply(&state, &ctx, &principal, &id, &comment_id, body).await? {
        ReplyOutcome::Sent(posted) => (StatusCode::CREATED, Json(posted)).into_response(),
        ReplyOutcome::AwaitingOwner(draft) => (StatusCode::ACCEPTED, Json(*draft)).into_response(),
    })
}

/// Moderation: each answers 204 when done, 409 where the platform's API does not offer it
/// (docs/platforms.md), and needs `comments.reply`.
async fn moderation(
    state: &AppState,
    ctx: &Ctx,
    principal: &Principal,
    (id, comment_id): (AccountId, String),
    action: ModerationAction,
) -> ApiResult<StatusCode> {
    moderate(state, ctx, principal, &id, &comment_id, action).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes a comment on a LinkedIn Page's post, as the Page.
#[utoipa::path(post, path = "/accounts/{id}/comments/{comment_id}/delete", tag = "engagement",
    params(("id" = String, Path), ("comment_id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "not offered by the account's platform", body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem), (status = 503, body = Problem)))]
async fn delete_comment(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(ids): Path<(AccountId, String)>,
) -> ApiResult<StatusCode> {
    moderation(&state, &ctx, &principal, ids, ModerationAction::Delete).await
}

/// Hides a reply under the account's post (Bluesky: the post's threadgate; the sandbox).
#[utoipa::path(post, path = "/accounts/{id}/comments/{comment_id}/hide", tag = "engagement",
    params(("id" = String, Path), ("comment_id" = String, Path)),
    responses((status = 204, description = "hidden"), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "not offered by the account's platform", body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem), (status = 503, body = Problem)))]
async fn hide_comment(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(ids): Path<(AccountId, String)>,
) -> ApiResult<StatusCode> {
    moderation(&state, &ctx, &principal, ids, ModerationAction::Hide).await
}

/// Mutes the comment's author for the account (Mastodon).
#[utoipa::path(post, path = "/accounts/{id}/comments/{comment_id}/mute-author", tag = "engagement",
    params(("id" = String, Path), ("comment_id" = String, Path)),
    responses((status = 204, description = "muted"), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "not offered by the account's platform", body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem), (status = 503, body = Problem)))]
async fn mute_author(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(ids): Path<(AccountId, String)>,
) -> ApiResult<StatusCode> {
    moderation(&state, &ctx, &principal, ids, ModerationAction::MuteAuthor).await
}

/// Blocks the comment's author for the account (Mastodon).
#[utoipa::path(post, path = "/accounts/{id}/comments/{comment_id}/block-author", tag = "engagement",
    params(("id" = String, Path), ("comment_id" = String, Path)),
    responses((status = 204, description = "blocked"), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "not offered by the account's platform", body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem), (status = 503, body = Problem)))]
async fn block_author(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(ids): Path<(AccountId, String)>,
) -> ApiResult<StatusCode> {
    moderation(&state, &ctx, &principal, ids, ModerationAction::BlockAuthor).await
}

#[utoipa::path(get, path = "/accounts/{id}/analytics", tag = "engagement", params(("id" = String, Path)),
    responses((status = 200, body = AnalyticsView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "the account must be reconnected", body = Problem),
        (status = 503, body = Problem)))]
async fn analytics(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
) -> ApiResult<Json<AnalyticsView>> {
    Ok(Json(engagement::analytics(&state, &ctx, &principal, &id).await?))
}
