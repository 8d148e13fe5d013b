//! One post on several accounts at once (`POST /posts/batch`): one draft per account, all or
//! none, `Idempotency-Key` honoured like a single create.
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use steward_app::posts::compose::{self, ComposeRequest};
use steward_app::posts::view::PostView;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiResult, Json, Problem};
use crate::request::Ctx;
use crate::state::AppState;

/// The drafts made, one per copy, in the order of `copies`.
#[derive(Serialize, ToSchema)]
pub(super) struct Composed {
    items: Vec<PostView>,
}

#[utoipa::path(post, path = "/posts/batch", tag = "posts",
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays of the same batch answer the same drafts")),
    request_body = ComposeRequest,
    description = "Writes one post on several accounts: one draft per copy, each with its own review, approvals and \
        rules (an approval on one never counts for another). Every account is authorized (`drafts.create`) and every \
        copy validated first; one refused copy creates nothing, and a validation error names it (`copies[1].text`).",
    responses((status = 201, body = Composed), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn compose_posts(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    headers: HeaderMap,
    Json(body): Json<ComposeRequest>,
) -> ApiResult<(StatusCode, Json<Composed>)> {
    // A key that is not visible ASCII reads as empty, which the use case refuses.
    let key = headers.get("idempotency-key").map(|v| v.to_str().unwrap_or_default());
    let items = compose::compose_many(&state, &ctx, &principal, key, body).await?;
    Ok((StatusCode::CREATED, Json(Composed { items })))
}
