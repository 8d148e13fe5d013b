//! `POST /accounts/{id}/lockdown`: the owner's (or an admin's) emergency brake (DESIGN.md
//! "Lockdown"). In one transaction: every other membership suspended (their sessions and
//! tokens are refused on this account from the next request, on every replica, because
//! `authorize` reads the membership fresh), API tokens narrowed to the account revoked,
//! scheduled or approved posts the owner did not approve cancelled, the credential destroyed
//! if asked, the audit event written — and with it the `lockdown` alert (store::alerts).
//!
//! The way out (`POST /accounts/{id}/lockdown/lift`): DESIGN.md undoes a lockdown member by
//! member (`status: "active"`), which gives people their access back but not the account's
//! publishing, held while the account is `locked_down` (Invariant 10). Lifting is the owner's
//! explicit decision that the danger is over: the account is `active` again and due posts go
//! out; suspended members stay suspended until reinstated one by one, and cancelled posts stay
//! cancelled. It is a separate step, not a side effect of reinstating someone, so that letting
//! one trusted person back in never restarts publishing by itself.
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_app::AppError;
use steward_domain::audit::Action;
use steward_domain::audit::LockdownDetail;
use steward_domain::capability::Capability;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, Json, Path, Problem};
use crate::request::Ctx;
use crate::state::AppState;
use steward_app::authz::{Need, authorize};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(lockdown)).routes(routes!(lift))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockdownRequest {
    /// Also destroy the stored platform credential (the owner must connect the account again).
    #[serde(default)]
    pub disconnect_credential: bool,
}

#[derive(Serialize, ToSchema)]
pub struct LockdownView {
    /// How many memberships were suspended.
    pub suspended_members: u64,
    /// How many API tokens narrowed to this account were revoked.
    pub revoked_tokens: u64,
    /// How many scheduled or approved posts not approved by the owner were cancelled.
    pub cancelled_posts: u64,
    pub credential_disconnected: bool,
}

#[utoipa::path(post, path = "/accounts/{id}/lockdown", tag = "accounts", params(("id" = String, Path)), request_body = LockdownRequest,
    responses((status = 200, body = LockdownView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn lockdown(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<LockdownRequest>,
) -> ApiResult<Json<LockdownView>> {
    ctx.slot.set_action(Action::Lockdown, Some(format!("account:{id}")));
    authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::Lockdown)).await?;
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    let account = tx.lock_account(&id).await?.ok_or(ApiError(AppError::NotFound))?;
    let suspended = tx.suspend_other_members(&id, &principal.user_id, now).await?;
    let revoked_tokens = tx.revoke_tokens_narrowed_to(&id, now).await?;
    let cancelled = tx.cancel_posts_not_approved_by(&id, &account.owner_id, now).await?;
    for post_id in &cancelled {
        tx.append_audit(ctx.account_event(
            &state,
            &principal.actor(),
            &id,
            Action::PostCancel,
            Some(format!("post:{post_id}")),
            json!({ "reason": "lockdown: not approved by the owner" }),
        ))
        .await?;
    }
    let cancelled_posts = cancelled.len() as u64;
    let credential_disconnected = body.disconnect_credential && tx.destroy_credential(&id, now).await?;
    if !credential_disconnected {
        tx.set_account_status(&id, "locked_down", now).await?;
    }
    let view = LockdownView {
        suspended_members: suspended.len() as u64,
        revoked_tokens,
        cancelled_posts,
        credential_disconnected,
    };
    tx.append_audit(
        ctx.account_event(
            &state,
            &principal.actor(),
            &id,
            Action::Lockdown,
            Some(format!("account:{id}")),
            serde_json::to_value(LockdownDetail {
                suspended_members: view.suspended_members,
                suspended_user_ids: suspended,
                revoked_tokens: view.revoked_tokens,
                cancelled_posts: view.cancelled_posts,
                credential_disconnected,
            })
            .map_err(ApiError::internal)?,
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(view))
}

#[derive(Serialize, ToSchema)]
pub struct LiftView {
    /// The account's status afterwards: `active`, or what it was when it was not locked down
    /// (`disconnected` after a lockdown that destroyed the credential: connect it again).
    pub status: String,
    /// Whether this call ended a lockdown (false: there was none; nothing changed).
    pub lifted: bool,
}

/// Owner only: `credential.manage`, the owner's own right over the account's platform
/// connection, since lifting lets Steward publish with that credential again.
#[utoipa::path(post, path = "/accounts/{id}/lockdown/lift", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = LiftView), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn lift(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<LiftView>> {
    ctx.slot.set_action(Action::LockdownLift, Some(format!("account:{id}")));
    authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::CredentialManage)).await?;
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    let account = tx.lock_account(&id).await?.ok_or(ApiError(AppError::NotFound))?;
    if account.status != "locked_down" {
        return Ok(Json(LiftView { status: account.status, lifted: false }));
    }
    tx.set_account_status(&id, "active", now).await?;
    let still_suspended = tx.suspended_member_count(&id).await?;
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        Action::LockdownLift,
        Some(format!("account:{id}")),
        json!({ "still_suspended_members": still_suspended }),
    ))
    .await?;
    tx.commit().await?;
    Ok(Json(LiftView { status: "active".into(), lifted: true }))
}
