//! Social accounts (`/api/v1/platforms`, `/api/v1/accounts*`): connect, read, settings, house
//! rules, ownership. The use cases are `steward_app::accounts`.
use axum::extract::State;
use axum::http::StatusCode;
use steward_app::accounts::{check, create, ownership, rules, settings, view};
use steward_domain::ids::AccountId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::Page;
use crate::auth::{Principal, SessionPrincipal};
use crate::error::{ApiResult, Json, Path, Problem};
use crate::request::Ctx;
use crate::state::AppState;

use steward_app::accounts::check::CheckView;
use steward_app::accounts::create::CreateAccountRequest;
use steward_app::accounts::ownership::{DeleteAccountRequest, TransferRequest};
use steward_app::accounts::rules::AcceptRulesRequest;
use steward_app::accounts::view::{AccountView, PlatformView};
// The web app's alert-threshold form builds one (until it calls the use case itself).
pub use steward_app::accounts::settings::SettingsRequest;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_platforms))
        .routes(routes!(create_account, list_accounts))
        .routes(routes!(get_account, delete_account))
        .routes(routes!(update_settings))
        .routes(routes!(accept_rules))
        .routes(routes!(transfer_ownership))
        .routes(routes!(check_account))
}

#[utoipa::path(get, path = "/platforms", tag = "accounts", responses((status = 200, body = Page<PlatformView>)))]
pub(crate) async fn list_platforms(_: Principal) -> Json<Page<PlatformView>> {
    Json(Page { items: view::list_platforms(), next_cursor: None })
}

#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = CreateAccountRequest,
    responses((status = 201, body = AccountView), (status = 422, body = Problem)))]
pub(crate) async fn create_account(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Json(body): Json<CreateAccountRequest>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let view = create::create_account(&state, &ctx, &principal, body).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/accounts", tag = "accounts", responses((status = 200, body = Page<AccountView>)))]
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Page<AccountView>>> {
    Ok(Json(Page { items: view::list_accounts(&state, &principal).await?, next_cursor: None }))
}

#[utoipa::path(get, path = "/accounts/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = AccountView), (status = 404, body = Problem)))]
pub(crate) async fn get_account(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(view::get_account(&state, &ctx, &principal, &id).await?))
}

#[utoipa::path(patch, path = "/accounts/{id}/settings", tag = "accounts", params(("id" = String, Path)), request_body = SettingsRequest,
    responses((status = 200, body = AccountView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn update_settings(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
    Json(body): Json<SettingsRequest>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(settings::update_settings(&state, &ctx, &principal, &id, body).await?))
}

/// A signed-in session only: the person agrees to the owner's terms, not a token.
#[utoipa::path(post, path = "/accounts/{id}/rules/accept", tag = "accounts", params(("id" = String, Path)), request_body = AcceptRulesRequest,
    responses((status = 204), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn accept_rules(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
    Json(body): Json<AcceptRulesRequest>,
) -> ApiResult<StatusCode> {
    rules::accept_rules(&state, &ctx, &principal, &id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A signed-in session only: a personal access token cannot give an account away.
#[utoipa::path(post, path = "/accounts/{id}/transfer", tag = "accounts", params(("id" = String, Path)), request_body = TransferRequest,
    responses((status = 200, body = AccountView), (status = 401, body = Problem, description = "totp-required"), (status = 403, body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem, description = "too many wrong passwords or codes; see Retry-After")))]
pub(crate) async fn transfer_ownership(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(principal): SessionPrincipal,
    Path(id): Path<AccountId>,
    Json(body): Json<TransferRequest>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(ownership::transfer_ownership(&state, &ctx, &principal, &id, body).await?))
}

/// Needs the owner's password (and code when 2FA is on) again, throttled like sign-in.
#[utoipa::path(delete, path = "/accounts/{id}", tag = "accounts", params(("id" = String, Path)), request_body = DeleteAccountRequest,
    responses((status = 204, description = "deleted; its credential destroyed"), (status = 401, body = Problem, description = "totp-required"),
        (status = 403, body = Problem, description = "not the owner, or a wrong password or code"), (status = 422, body = Problem),
        (status = 429, body = Problem, description = "too many wrong passwords or codes; see Retry-After")))]
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
    Json(body): Json<DeleteAccountRequest>,
) -> ApiResult<StatusCode> {
    ownership::delete_account(&state, &ctx, &principal, &id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// "Test connection": opens the stored credential and asks the platform who it belongs to. The
/// sandbox platform has no remote end: a credential that opens is a working one.
#[utoipa::path(post, path = "/accounts/{id}/check", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = CheckView), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn check_account(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
) -> ApiResult<Json<CheckView>> {
    Ok(Json(check::check_account(&state, &ctx, &principal, &id).await?))
}
