//! Notifications in the app (`GET /notifications`, `POST /notifications/{id}/read`) and each
//! person's notification preferences (`/me/notification-preferences`): the use cases of
//! `steward_app::notifications`.
use axum::extract::State;
use axum::http::StatusCode;
use steward_app::notifications::inbox::{self, NotificationView, NotificationsQuery};
use steward_app::notifications::preferences::{self, NotificationPreferences};
use steward_domain::ids::NotificationId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Page;
use crate::auth::Principal;
use crate::error::{ApiResult, Json, Path, Problem, Query};
use crate::request::Ctx;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(mark_read))
        .routes(routes!(get_notification_preferences, put_notification_preferences))
}

/// The caller's notifications about accounts they still belong to, newest first.
#[utoipa::path(get, path = "/notifications", tag = "notifications", params(NotificationsQuery),
    responses((status = 200, body = Page<NotificationView>), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<NotificationsQuery>,
) -> ApiResult<Json<Page<NotificationView>>> {
    Ok(Json(inbox::list_notifications(&state, &principal, &q).await?))
}

/// Marks one of the caller's own notifications read; anyone else's is not found.
#[utoipa::path(post, path = "/notifications/{id}/read", tag = "notifications", params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn mark_read(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<NotificationId>,
) -> ApiResult<StatusCode> {
    inbox::mark_read(&state, &ctx, &principal, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/me/notification-preferences", tag = "notifications",
    responses((status = 200, body = NotificationPreferences), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn get_notification_preferences(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<NotificationPreferences>> {
    Ok(Json(preferences::get_preferences(&state, &principal).await?))
}

#[utoipa::path(put, path = "/me/notification-preferences", tag = "notifications",
    request_body = NotificationPreferences,
    responses((status = 200, body = NotificationPreferences), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn put_notification_preferences(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Json(body): Json<NotificationPreferences>,
) -> ApiResult<Json<NotificationPreferences>> {
    Ok(Json(preferences::put_preferences(&state, &ctx, &principal, body).await?))
}
