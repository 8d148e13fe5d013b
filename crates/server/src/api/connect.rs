//! Connecting an account through the platform's OAuth page: `POST /api/v1/accounts/connect`
//! starts it, the platform sends the browser back to `GET /oauth/{platform}/callback`. The
//! decisions are `steward_app::connect::oauth`'s; this edge answers JSON, or the callback's page.
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use steward_app::connect::linkedin_pages::{self, ChoosePagesRequest, ChosenPages, PageChoiceView};
use steward_app::connect::oauth::{self, CallbackOutcome, CallbackQuery, ConnectRequest, ConnectResponse, Refusal};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{AuthVia, Principal, SessionPrincipal};
use crate::error::{ApiResult, Json, Path, Problem, Query};
use crate::escape::escape;
use crate::request::Ctx;
use crate::state::AppState;
use steward_domain::ids::PageChoiceId;
use steward_domain::platform;

pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(connect)).routes(routes!(page_choice, choose_pages))
}

pub fn callback_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(callback))
}

/// A signed-in session only: the platform's callback comes back to it.
#[utoipa::path(post, path = "/accounts/connect", tag = "accounts", request_body = ConnectRequest,
    responses((status = 200, body = ConnectResponse), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn connect(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(principal): SessionPrincipal,
    Json(body): Json<ConnectRequest>,
) -> ApiResult<Json<ConnectResponse>> {
    Ok(Json(oauth::start_connect(&state, &ctx, &principal, body).await?))
}

/// The LinkedIn Company Pages the member who just signed in administers, to choose from (the
/// callback of a `"account_kind": "organization"` connection sends the browser to the web page
/// of the same choice). Only the sign-in that connected sees it, for 10 minutes.
#[utoipa::path(get, path = "/accounts/connect/linkedin-pages/{choice_id}", tag = "accounts",
    params(("choice_id" = String, Path)),
    responses((status = 200, body = PageChoiceView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub(crate) async fn page_choice(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(principal): SessionPrincipal,
    Path(choice_id): Path<PageChoiceId>,
) -> ApiResult<Json<PageChoiceView>> {
    Ok(Json(linkedin_pages::page_choice(&state, &ctx, &principal, &choice_id).await?))
}

/// Connects the chosen pages, each as its own account owned by the caller (201, in the order
/// asked). Works once: the choice is gone afterwards.
#[utoipa::path(post, path = "/accounts/connect/linkedin-pages/{choice_id}", tag = "accounts",
    params(("choice_id" = String, Path)), request_body = ChoosePagesRequest,
    responses((status = 201, body = ChosenPages), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn choose_pages(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(principal): SessionPrincipal,
    Path(choice_id): Path<PageChoiceId>,
    Json(body): Json<ChoosePagesRequest>,
) -> ApiResult<(StatusCode, Json<ChosenPages>)> {
    let chosen = linkedin_pages::choose_pages(&state, &ctx, &principal, &choice_id, body).await?;
    Ok((StatusCode::CREATED, Json(chosen)))
}

/// The callback's answer: a complete, self-contained HTML page (no external resources).
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{} · Steward</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1f2933}}\
         h1{{font-size:1.5rem}}code{{background:#f0f4f8;padding:.1rem .3rem;border-radius:3px}}li{{margin:.2rem 0}}</style>\
         </head><body><main>{}</main></body></html>",
        escape(title),
        body
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'"),
        ],
        html,
    )
        .into_response()
}

fn refused(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Connection refused",
        &format!(
            "<h1>The account was not connected</h1><p>{}</p><p>Nothing was changed. Start again from Steward.</p>",
            escape(message)
        ),
    )
}

/// Where a browser goes next: a `303` into the web app.
fn see_other(location: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location), (header::CACHE_CONTROL, "no-store".into())]).into_response()
}

/// The platform's browser redirect after the owner approved (or cancelled).
///
/// A browser signed in to the web app (the session cookie) is sent on into the app: to the
/// account's page with a notice, to the choice of LinkedIn pages, or back to the connect page
/// with a sentence saying why nothing was connected. A client that sends its session as a
/// bearer token (not a browser of the web app) gets a small page with the outcome as its status.
#[utoipa::path(get, path = "/oauth/{platform}/callback", tag = "accounts", params(("platform" = String, Path), CallbackQuery),
    responses(
        (status = 303, description = "With the session cookie (a browser of the web app): connected → `/accounts/{id}?notice=connected` \
            (`notice=reconnected` when an existing account was reconnected); a LinkedIn Company Page connection → the choice of pages \
            `/connect/linkedin/pages/{choice_id}`; refused or cancelled → `/connect?refused={reason}&platform={platform}`, where \
            `reason` is `unusable` (bad, replayed or foreign state, no code), `expired`, `cancelled` (the owner cancelled or did not \
            allow Steward: `access_denied` and the like), `platform_error` (another `error`), `platform_refused` (the code exchange \
            failed), `other_identity`, `not_page_admin` or `no_pages`; nothing was changed"),
        (status = 200, description = "With a bearer session: connected (HTML)"),
        (status = 400, description = "With a bearer session: refused or cancelled (HTML)"), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "the connection was started by another sign-in; nothing was changed"),
        (status = 409, description = "With a bearer session: refused: another identity, or no page to connect (HTML)"),
        (status = 502, description = "With a bearer session: the platform refused the code (HTML)")))]
pub(crate) async fn callback(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(platform_id): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> ApiResult<Response> {
    let browser = principal.via == AuthVia::Cookie;
    Ok(match oauth::finish_connect(&state, &ctx, &principal, &platform_id, q).await? {
        CallbackOutcome::Refused { why, .. } if browser => {
            // A key, never the platform's text: the connect page words it (a link cannot make it
            // say anything else).
            let platform = platform::platform(&platform_id).map_or("", |p| p.id);
            see_other(format!("/connect?refused={}&platform={platform}", why.as_str()))
        }
        CallbackOutcome::Refused { why, message } => {
            let status = match why {
                Refusal::Unusable | Refusal::Expired | Refusal::Cancelled | Refusal::PlatformError => {
                    StatusCode::BAD_REQUEST
                }
                Refusal::PlatformRefused => StatusCode::BAD_GATEWAY,
                Refusal::OtherIdentity | Refusal::NotPageAdmin | Refusal::NoPages => StatusCode::CONFLICT,
            };
            refused(status, &message)
        }
        CallbackOutcome::ChoosePages { choice_id, .. } => see_other(format!("/connect/linkedin/pages/{choice_id}")),
        CallbackOutcome::Connected { account_id, reconnected, .. } if browser => {
            let notice = if reconnected { "reconnected" } else { "connected" };
            see_other(format!("/accounts/{account_id}?notice={notice}"))
        }
        CallbackOutcome::Connected { account_id, display_name, .. } => page(
            StatusCode::OK,
            "Connected",
            &format!(
                "<h1>Connected</h1><p><strong>{}</strong> is connected to Steward. Its credential is sealed on this server: \
                 nobody you invite will ever see it.</p><p>Account id: <code>{}</code></p>",
                escape(&display_name),
                escape(&account_id)
            ),
        ),
    })
}
