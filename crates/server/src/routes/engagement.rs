//! Platform engagement (API.md "Platform engagement"): comments on the account's published
//! posts, replies as the account, and post statistics, through `steward_app::platforms`.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_app::AppError;
use steward_connectors::ConnectorError;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_store::{AccountRow, PostListQuery};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Json, Path, Problem};
use crate::request::Ctx;
use crate::routes::Page;
use crate::state::AppState;
use steward_app::authz::{Need, authorize};
use steward_app::platforms::{self, PlatformComment};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_comments)).routes(routes!(reply)).routes(routes!(analytics))
}

/// How many recent published posts the engagement views look at.
const RECENT_POSTS: i64 = 100;

/// `(Steward post id, platform id)` of the account's recently published posts.
async fn published(state: &AppState, account_id: &str) -> ApiResult<Vec<(String, String)>> {
    let q = PostListQuery { state: Some("published"), limit: RECENT_POSTS, ..PostListQuery::default() };
    Ok(state
        .store
        .list_posts(account_id, &q)
        .await?
        .into_iter()
        .filter_map(|p| p.external_id.map(|e| (p.id, e)))
        .collect())
}

/// A platform failure, as the API says it.
fn platform_problem(state: &AppState, account: &AccountRow, e: ConnectorError) -> ApiError {
    match e {
        ConnectorError::RateLimited { retry_after } => {
            platforms::rate_limited(&account.platform, retry_after, state.clock.now_us()).into()
        }
        ConnectorError::Rejected(m) => ApiError::validation("comment_id", m),
        ConnectorError::Misconfigured(m) => ApiError(AppError::Conflict(m)),
        ConnectorError::Unauthorized(_) => ApiError(AppError::Conflict(format!(
            "{} no longer accepts this account's credential; its owner must reconnect it",
            account.platform
        ))),
        other => ApiError(AppError::PlatformUnavailable(format!("{}: {other}", account.platform))),
    }
}

#[derive(Serialize, ToSchema)]
pub struct CommentView {
    pub id: String,
    /// Steward's post the comment is on (`null` when the platform's post is not one of Steward's).
    pub post_id: Option<String>,
    pub post_external_id: String,
    pub author: String,
    pub text: String,
    pub created_at: String,
    pub hidden: bool,
    pub parent_id: Option<String>,
}

fn view(c: PlatformComment, posts: &[(String, String)]) -> CommentView {
    CommentView {
        post_id: posts.iter().find(|(_, e)| *e == c.post_external_id).map(|(id, _)| id.clone()),
        id: c.id,
        post_external_id: c.post_external_id,
        author: c.author,
        text: c.text,
        created_at: c.created_at,
        hidden: c.hidden,
        parent_id: c.parent_id,
    }
}

#[utoipa::path(get, path = "/accounts/{id}/comments", tag = "engagement", params(("id" = String, Path)),
    responses((status = 200, body = Page<CommentView>), (status = 404, body = Problem), (status = 503, body = Problem)))]
async fn list_comments(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<CommentView>>> {
    let access = authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::AccountView)).await?;
    let posts = published(&state, &id).await?;
    let ids: Vec<String> = posts.iter().map(|(_, e)| e.clone()).collect();
    let items = platforms::comments(&state, &access.account, &ids)
        .await
        .map_err(|e| platform_problem(&state, &access.account, e))?;
    Ok(Json(Page { items: items.into_iter().map(|c| view(c, &posts)).collect(), next_cursor: None }))
}

#[derive(Deserialize, ToSchema)]
pub struct ReplyRequest {
    pub text: String,
}

#[utoipa::path(post, path = "/accounts/{id}/comments/{comment_id}/reply", tag = "engagement",
    params(("id" = String, Path), ("comment_id" = String, Path)), request_body = ReplyRequest,
    responses((status = 201, body = CommentView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem), (status = 503, body = Problem)))]
async fn reply(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, comment_id)): Path<(String, String)>,
    Json(body): Json<ReplyRequest>,
) -> ApiResult<Response> {
    ctx.slot.set_action(Action::CommentReply, Some(format!("account:{id}")));
    let access = authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::CommentsReply)).await?;
    let text = body.text.trim();
    if text.is_empty() || text.chars().count() > 3000 {
        return Err(ApiError::validation("text", "must be 1 to 3000 characters"));
    }
    let posted = platforms::reply(&state, &access.account, &comment_id, text)
        .await
        .map_err(|e| platform_problem(&state, &access.account, e))?;
    // The reply is live on the platform; its audit event records who said what, where.
    let mut tx = state.store.begin().await?;
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        Action::CommentReply,
        Some(format!("comment:{comment_id}")),
        json!({ "platform": access.account.platform, "reply_id": posted.id, "text": text }),
    ))
    .await?;
    tx.commit().await?;
    let posts = published(&state, &id).await?;
    Ok((StatusCode::CREATED, Json(view(posted, &posts))).into_response())
}

/// A post's counts; each is `null` when the platform does not tell it (see docs/platforms.md).
#[derive(Serialize, ToSchema)]
pub struct PostStatsView {
    pub post_id: String,
    pub impressions: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AnalyticsView {
    /// `null` when the platform does not tell.
    pub followers: Option<i64>,
    pub posts: Vec<PostStatsView>,
}

#[utoipa::path(get, path = "/accounts/{id}/analytics", tag = "engagement", params(("id" = String, Path)),
    responses((status = 200, body = AnalyticsView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 503, body = Problem)))]
async fn analytics(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<AnalyticsView>> {
    let access = authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::AnalyticsView)).await?;
    let posts = published(&state, &id).await?;
    let ids: Vec<String> = posts.iter().map(|(_, e)| e.clone()).collect();
    let stats = platforms::analytics(&state, &access.account, &ids)
        .await
        .map_err(|e| platform_problem(&state, &access.account, e))?;
    Ok(Json(AnalyticsView {
        followers: stats.followers,
        posts: stats
            .posts
            .into_iter()
            .filter_map(|s| {
                let post_id = posts.iter().find(|(_, e)| *e == s.external_id)?.0.clone();
                Some(PostStatsView {
                    post_id,
                    impressions: s.impressions,
                    likes: s.likes,
                    comments: s.comments,
                    shares: s.shares,
                })
            })
            .collect(),
    }))
}
