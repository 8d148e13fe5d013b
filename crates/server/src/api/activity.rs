//! Activity (`GET /accounts/{id}/activity`, `GET /me/activity`): the use cases of
//! `steward_app::activity`, answered as a JSON page or streamed whole as CSV or JSON Lines.
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use steward_app::activity::export::Export;
use steward_app::activity::{ActivityEvent, ActivityQuery, Answer, queries};
use steward_domain::ids::AccountId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Page;
use crate::auth::Principal;
use crate::error::{ApiResult, Json, Path, Problem, Query};
use crate::request::Ctx;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(account_activity)).routes(routes!(my_activity))
}

fn accept(headers: &HeaderMap) -> &str {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("")
}

fn respond(answer: Answer) -> Response {
    match answer {
        Answer::Page(page) => Json(page).into_response(),
        Answer::Export(export) => streamed(export),
    }
}

/// An export as a streamed download.
fn streamed(export: Export) -> Response {
    let mut resp = Body::from_stream(export.body).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(export.format.media_type()));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", export.format.file_name())) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

#[utoipa::path(get, path = "/accounts/{id}/activity", tag = "accounts", params(("id" = String, Path), ActivityQuery),
    responses((status = 200, body = Page<ActivityEvent>, description = "a page; or the whole filtered set as text/csv or application/x-ndjson"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn account_activity(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
    headers: HeaderMap,
    Query(q): Query<ActivityQuery>,
) -> ApiResult<Response> {
    Ok(respond(queries::account_activity(&state, &ctx, &principal, &id, &q, accept(&headers)).await?))
}

#[utoipa::path(get, path = "/me/activity", tag = "me", params(ActivityQuery),
    responses((status = 200, body = Page<ActivityEvent>), (status = 422, body = Problem)))]
async fn my_activity(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Query(q): Query<ActivityQuery>,
) -> ApiResult<Response> {
    Ok(respond(queries::my_activity(&state, &principal, &q, accept(&headers)).await?))
}
