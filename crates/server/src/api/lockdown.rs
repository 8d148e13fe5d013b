//! `POST /accounts/{id}/lockdown`, the emergency brake, and `POST /accounts/{id}/lockdown/lift`,
//! the way out (DESIGN.md "Lockdown"). The use cases are `steward_app::lockdown`.
use axum::extract::State;
use steward_domain::ids::AccountId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Principal;
use crate::error::{ApiResult, Json, Path, Problem};
use crate::request::Ctx;
use crate::state::AppState;

pub use steward_app::lockdown::{LiftView, LockdownRequest, LockdownView};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(lockdown)).routes(routes!(lift))
}

#[utoipa::path(post, path = "/accounts/{id}/lockdown", tag = "accounts", params(("id" = String, Path)), request_body = LockdownRequest,
    responses((status = 200, body = LockdownView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn lockdown(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
    Json(body): Json<LockdownRequest>,
) -> ApiResult<Json<LockdownView>> {
    Ok(Json(steward_app::lockdown::lockdown(&state, &ctx, &principal, &id, body).await?))
}

/// Owner only: `credential.manage`, the owner's own right over the account's platform
/// connection, since lifting lets Steward publish with that credential again.
#[utoipa::path(post, path = "/accounts/{id}/lockdown/lift", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = LiftView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn lift(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
) -> ApiResult<Json<LiftView>> {
    Ok(Json(steward_app::lockdown::lift(&state, &ctx, &principal, &id).await?))
}
