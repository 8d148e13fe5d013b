//! Alerts in the app (`GET /alerts`, `POST /alerts/{id}/ack`) and each person's delivery
//! preferences (`/me/alert-preferences`): the use cases of `steward_app::alerts`.
use axum::extract::State;
use axum::http::StatusCode;
use steward_app::alerts::AlertView;
use steward_app::alerts::inbox::{self, AlertsQuery};
use steward_app::alerts::preferences::{self, PreferencesRequest, PreferencesView};
use steward_domain::ids::AlertId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Page;
use crate::auth::{Principal, SessionPrincipal};
use crate::error::{ApiResult, Json, Path, Problem, Query};
use crate::request::Ctx;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_alerts))
        .routes(routes!(acknowledge))
        .routes(routes!(get_preferences, put_preferences))
        .routes(routes!(rotate_secret))
}

#[utoipa::path(get, path = "/alerts", tag = "alerts", params(AlertsQuery),
    responses((status = 200, body = Page<AlertView>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<AlertsQuery>,
) -> ApiResult<Json<Page<AlertView>>> {
    Ok(Json(inbox::list_alerts(&state, &principal, &q).await?))
}

#[utoipa::path(post, path = "/alerts/{id}/ack", tag = "alerts", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AlertId>,
) -> ApiResult<StatusCode> {
    inbox::acknowledge(&state, &ctx, &principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/me/alert-preferences", tag = "alerts",
    responses((status = 200, body = PreferencesView), (status = 401, body = Problem)))]
pub async fn get_preferences(
    State(state): State<AppState>,
    SessionPrincipal(p): SessionPrincipal,
) -> ApiResult<Json<PreferencesView>> {
    Ok(Json(preferences::get_preferences(&state, &p).await?))
}

#[utoipa::path(put, path = "/me/alert-preferences", tag = "alerts", request_body = PreferencesRequest,
    responses((status = 200, body = PreferencesView), (status = 422, body = Problem)))]
pub async fn put_preferences(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Json(body): Json<PreferencesRequest>,
) -> ApiResult<Json<PreferencesView>> {
    Ok(Json(preferences::put_preferences(&state, &ctx, &p, body).await?))
}

#[utoipa::path(post, path = "/me/alert-preferences/rotate-secret", tag = "alerts",
    responses((status = 200, body = PreferencesView), (status = 409, body = Problem)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
) -> ApiResult<Json<PreferencesView>> {
    Ok(Json(preferences::rotate_secret(&state, &ctx, &p).await?))
}
