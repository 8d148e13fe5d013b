//! Alerts in the app (`GET /alerts`, `POST /alerts/{id}/ack`) and each person's delivery
//! preferences (`/me/alert-preferences`).
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_app::AppError;
use steward_domain::alerts::AlertKind;
use steward_domain::audit::Action;
use steward_store::AlertPreferencesRow;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Principal, SessionPrincipal};
use crate::error::{ApiError, ApiResult, FieldError, Json, Path, Problem, Query};
use crate::request::Ctx;
use crate::routes::{Page, page_limit};
use crate::state::AppState;
use steward_app::alerts::{AlertView, new_webhook_secret, webhook_secret_aad};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_alerts))
        .routes(routes!(acknowledge))
        .routes(routes!(get_preferences, put_preferences))
        .routes(routes!(rotate_secret))
}

#[derive(Deserialize, IntoParams)]
pub struct AlertsQuery {
    /// `true`: only alerts not yet acknowledged.
    pub unacknowledged: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/alerts", tag = "alerts", params(AlertsQuery),
    responses((status = 200, body = Page<AlertView>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<AlertsQuery>,
) -> ApiResult<Json<Page<AlertView>>> {
    let limit = page_limit(q.limit)?;
    let before = match q.cursor.as_deref() {
        None => None,
        Some(c) => Some(
            c.split_once('.')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_string())))
                .ok_or_else(|| ApiError::validation("cursor", "is not a cursor this server issued"))?,
        ),
    };
    let now = state.clock.now_us();
    let mut rows = state
        .store
        .alerts_for_user(&principal.user_id, now, q.unacknowledged.unwrap_or(false), before, limit + 1)
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        rows.last().map(|a| format!("{}.{}", a.created_at, a.id))
    } else {
        None
    };
    Ok(Json(Page { items: rows.into_iter().map(AlertView::from).collect(), next_cursor }))
}

#[utoipa::path(post, path = "/alerts/{id}/ack", tag = "alerts", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn acknowledge(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    ctx.slot.set_action(Action::AlertAck, Some(format!("alert:{id}")));
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    // An alert the caller may not see does not exist for them.
    if !tx.acknowledge_alert(&id, &principal.user_id, now).await? {
        return Err(ApiError(AppError::NotFound));
    }
    tx.append_audit(ctx.event(&state, &principal.actor(), Action::AlertAck, Some(format!("alert:{id}")), json!({})))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A person's alert preferences. `webhook_secret` signs webhook deliveries; the server makes it
/// when a webhook URL is first set.
#[derive(Serialize, ToSchema)]
pub struct PreferencesView {
    pub email: bool,
    pub webhook_url: Option<String>,
    /// Kinds delivered by email and webhook; absent: all (the app shows every alert).
    pub kinds: Option<Vec<String>>,
    pub webhook_secret: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesRequest {
    pub email: bool,
    /// An `https` URL (plain `http` and private addresses only with
    /// `STEWARD_ALLOW_PRIVATE_NETWORKS=true`); absent or null: no webhook.
    pub webhook_url: Option<String>,
    pub kinds: Option<Vec<String>>,
}

fn view(state: &AppState, p: Option<AlertPreferencesRow>) -> ApiResult<PreferencesView> {
    let Some(p) = p else {
        return Ok(PreferencesView { email: true, webhook_url: None, kinds: None, webhook_secret: None });
    };
    let webhook_secret = match &p.webhook_secret_sealed {
        Some(sealed) => {
            let open = state
                .vault()
                .open(&webhook_secret_aad(&p.user_id), sealed)
                .map_err(|e| ApiError::internal(anyhow::anyhow!("webhook secret of {}: {e}", p.user_id)))?;
            Some(String::from_utf8_lossy(&open).into_owned())
        }
        None => None,
    };
    Ok(PreferencesView {
        email: p.email,
        webhook_url: p.webhook_url,
        kinds: p.kinds.and_then(|k| serde_json::from_str(&k).ok()),
        webhook_secret,
    })
}

#[utoipa::path(get, path = "/me/alert-preferences", tag = "alerts",
    responses((status = 200, body = PreferencesView), (status = 401, body = Problem)))]
pub async fn get_preferences(
    State(state): State<AppState>,
    SessionPrincipal(p): SessionPrincipal,
) -> ApiResult<Json<PreferencesView>> {
    let row = state.store.alert_preferences(&p.user_id).await?;
    Ok(Json(view(&state, row)?))
}

#[utoipa::path(put, path = "/me/alert-preferences", tag = "alerts", request_body = PreferencesRequest,
    responses((status = 200, body = PreferencesView), (status = 422, body = Problem)))]
pub async fn put_preferences(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
    Json(body): Json<PreferencesRequest>,
) -> ApiResult<Json<PreferencesView>> {
    ctx.slot.set_action(Action::AlertPreferencesUpdate, None);
    let mut errors = Vec::new();
    if let Some(kinds) = &body.kinds {
        for k in kinds {
            if AlertKind::parse(k).is_none() {
                errors.push(FieldError::new("kinds", format!("{k:?} is not an alert kind")));
            }
        }
    }
    let webhook_url = match body.webhook_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => None,
        Some(u) if u.len() > 2000 => {
            errors.push(FieldError::new("webhook_url", "must be at most 2000 characters"));
            None
        }
        Some(u) => {
            match steward_connectors::net::check_outbound_endpoint(u, state.settings.allow_private_networks).await {
                Ok(url) => Some(url.to_string()),
                Err(e) => {
                    errors.push(FieldError::new("webhook_url", e.to_string()));
                    None
                }
            }
        }
    };
    if !errors.is_empty() {
        return Err(ApiError(AppError::Validation(errors)));
    }
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    let before = state.store.alert_preferences(&p.user_id).await?;
    let previous_secret = before.as_ref().and_then(|b| b.webhook_secret_sealed.clone());
    let (webhook_secret_sealed, secret_created) = match (&webhook_url, previous_secret) {
        (None, _) => (None, false),
        (Some(_), Some(sealed)) => (Some(sealed), false),
        (Some(_), None) => {
            let secret = zeroize::Zeroizing::new(new_webhook_secret());
            (Some(state.vault().seal(&webhook_secret_aad(&p.user_id), secret.as_bytes())), true)
        }
    };
    let kinds = body.kinds.as_ref().map(|k| serde_json::to_string(k).unwrap_or_else(|_| "[]".into()));
    let row = AlertPreferencesRow {
        user_id: p.user_id.clone(),
        email: body.email,
        webhook_url: webhook_url.clone(),
        webhook_secret_sealed,
        kinds,
        updated_at: now,
    };
    tx.upsert_alert_preferences(&row).await?;
    let webhook_host =
        webhook_url.as_deref().and_then(|u| reqwest::Url::parse(u).ok()).and_then(|u| u.host_str().map(str::to_string));
    tx.append_audit(ctx.event(
        &state,
        &p.actor(),
        Action::AlertPreferencesUpdate,
        None,
        json!({ "email": body.email, "webhook_host": webhook_host, "kinds": body.kinds, "webhook_secret_created": secret_created }),
    ))
    .await?;
    tx.commit().await?;
    Ok(Json(view(&state, Some(row))?))
}

#[utoipa::path(post, path = "/me/alert-preferences/rotate-secret", tag = "alerts",
    responses((status = 200, body = PreferencesView), (status = 409, body = Problem)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(p): SessionPrincipal,
) -> ApiResult<Json<PreferencesView>> {
    ctx.slot.set_action(Action::WebhookSecretRotate, None);
    let Some(mut row) = state.store.alert_preferences(&p.user_id).await?.filter(|r| r.webhook_url.is_some()) else {
        return Err(ApiError(AppError::Conflict("there is no webhook to sign for; set a webhook URL first".into())));
    };
    let secret = zeroize::Zeroizing::new(new_webhook_secret());
    row.webhook_secret_sealed = Some(state.vault().seal(&webhook_secret_aad(&p.user_id), secret.as_bytes()));
    row.updated_at = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    tx.upsert_alert_preferences(&row).await?;
    tx.append_audit(ctx.event(&state, &p.actor(), Action::WebhookSecretRotate, None, json!({}))).await?;
    tx.commit().await?;
    Ok(Json(view(&state, Some(row))?))
}
