//! Members and invitations (`/api/v1/accounts/{id}/members*`, `/invitations*`).
use std::str::FromStr;
use steward_app::AppError;
use steward_domain::audit::Action;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_domain::capability::{
    Capability, CapabilitySet, MemberRights, Role, can_change_role, can_manage_role, validate_grants_within_granter,
    validate_overrides,
};
use steward_domain::identity::normalize_email;
use steward_domain::windows::{Window, WindowInput, parse_windows, stored_windows};
use steward_store::{InvitationRow, MemberRow, MembershipTerms, NewInvitation, Tx};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, Json, Path, Problem, Query};
use crate::request::{AuditActor, Ctx};
use crate::routes::{Page, future_instant, nullable};
use crate::state::AppState;
use steward_app::authz::{AccountAccess, Need, authorize, capability_set, membership_rights};
use steward_app::clock::rfc3339;
use steward_app::crypto::{new_token, sha256};

pub const INVITATION_TOKEN_PREFIX: &str = "sti_";
const DEFAULT_INVITATION_DAYS: i64 = 7;
const MAX_INVITATION_DAYS: i64 = 30;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_members))
        .routes(routes!(update_member, remove_member))
        .routes(routes!(create_invitation, list_invitations))
        .routes(routes!(withdraw_invitation))
        .routes(routes!(accept_invitation))
}

/// One member of an account.
#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub role: String,
    /// Effective capabilities: the role's, plus `grant`, minus `revoke`.
    pub capabilities: Vec<&'static str>,
    pub grant: Vec<&'static str>,
    pub revoke: Vec<&'static str>,
    pub expires_at: Option<String>,
    /// Weekly posting windows (`[]`: no restriction). `null` when the stored windows cannot be
    /// read: the member may not schedule or publish until they are set again.
    #[schema(value_type = Option<Vec<Object>>)]
    pub windows: serde_json::Value,
    pub daily_quota: Option<i64>,
    /// `active`, `suspended` or `expired`.
    pub status: String,
    pub accepted_rules_version: i64,
    pub joined_at: String,
}

fn member_view(state: &AppState, r: MemberRow) -> MemberView {
    let m = r.membership;
    let expired = m.role != "owner" && m.expires_at.is_some_and(|e| e <= state.clock.now_us());
    MemberView {
        capabilities: if expired {
            Vec::new()
        } else {
            membership_rights(&m).map(|x| x.capabilities.sorted_names()).unwrap_or_default()
        },
        grant: capability_set(&m.grants).sorted_names(),
        revoke: capability_set(&m.revokes).sorted_names(),
        expires_at: m.expires_at.map(rfc3339),
        // Unreadable windows never show as "no restriction".
        windows: stored_windows(&m.windows)
            .ok()
            .and_then(|w| serde_json::to_value(w).ok())
            .unwrap_or(serde_json::Value::Null),
        daily_quota: m.daily_quota,
        status: if expired { "expired".into() } else { m.status },
        accepted_rules_version: m.accepted_rules_version,
        joined_at: rfc3339(m.created_at),
        user_id: m.user_id,
        email: r.email,
        display_name: r.display_name,
        role: m.role,
    }
}

#[utoipa::path(get, path = "/accounts/{id}/members", tag = "members", params(("id" = String, Path)),
    responses((status = 200, body = Page<MemberView>), (status = 404, body = Problem)))]
pub(crate) async fn list_members(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<MemberView>>> {
    authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::AccountView)).await?;
    let items = state.store.members(&id).await?.into_iter().map(|r| member_view(&state, r)).collect();
    Ok(Json(Page { items, next_cursor: None }))
}

fn parse_capability_list(field: &str, names: &[String], errors: &mut Vec<FieldError>) -> CapabilitySet {
    let mut set = CapabilitySet::EMPTY;
    for (i, n) in names.iter().enumerate() {
        match Capability::from_str(n) {
            Ok(c) => set.insert(c),
            Err(_) => errors.push(FieldError::new(format!("{field}[{i}]"), format!("`{n}` is not a capability"))),
        }
    }
    set
}

/// Validates membership conditions as an actor with `actor` rights sets them for `role`.
#[allow(clippy::too_many_arguments)]
fn build_terms(
    actor: &AccountAccess,
    role: Role,
    grant: &[String],
    revoke: &[String],
    windows: &[WindowInput],
    daily_quota: Option<i64>,
    expires_at: Option<i64>,
    errors: &mut Vec<FieldError>,
) -> MembershipTerms {
    let grants = parse_capability_list("grant", grant, errors);
    let revokes = parse_capability_list("revoke", revoke, errors);
    if let Err(e) = validate_overrides(role, grants, revokes) {
        errors.push(FieldError::new("grant", e.to_string()));
    } else if let Err(e) = validate_grants_within_granter(actor.capabilities, grants) {
        errors.push(FieldError::new("grant", e.to_string()));
    }
    let parsed: Vec<Window> = match parse_windows(windows) {
        Ok(w) => w,
        Err(invalid) => {
            errors.extend(invalid.0.iter().map(|e| FieldError::new(e.field(), e.to_string())));
            Vec::new()
        }
    };
    if daily_quota.is_some_and(|q| !(1..=100).contains(&q)) {
        errors.push(FieldError::new("daily_quota", "must be between 1 and 100, or null for no quota"));
    }
    MembershipTerms {
        role: role.as_str().into(),
        grants: serde_json::to_string(&grants).unwrap_or_else(|_| "[]".into()),
        revokes: serde_json::to_string(&revokes).unwrap_or_else(|_| "[]".into()),
        expires_at,
        windows: serde_json::to_string(&parsed).unwrap_or_else(|_| "[]".into()),
        daily_quota,
    }
}

fn parse_role(raw: &str, errors: &mut Vec<FieldError>) -> Option<Role> {
    match Role::from_str(raw) {
        Ok(Role::Owner) => {
            errors.push(FieldError::new("role", "nobody can be made owner this way; the owner transfers ownership"));
            None
        }
        Ok(r) => Some(r),
        Err(_) => {
            errors.push(FieldError::new("role", "must be one of admin, editor, moderator, analyst, viewer"));
            None
        }
    }
}

fn require_manage(actor: &MemberRights, role: Role) -> ApiResult<()> {
    if can_manage_role(actor, role) {
        Ok(())
    } else if role == Role::Admin {
        Err(ApiError(AppError::Forbidden("only the owner manages admins".into())))
    } else {
        Err(ApiError(AppError::Forbidden(format!("you may not manage {}s on this account", role.as_str()))))
    }
}

#[derive(Deserialize, ToSchema)]
pub struct InvitationRequest {
    pub email: String,
    pub role: String,
    /// When the membership ends (RFC 3339); none: until removed.
    pub expires_at: Option<String>,
    /// Weekly posting windows in the account's time zone.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub windows: Vec<WindowInput>,
    pub daily_quota: Option<i64>,
    /// Capabilities added to the role.
    #[serde(default)]
    pub grant: Vec<String>,
    /// Capabilities removed from the role.
    #[serde(default)]
    pub revoke: Vec<String>,
    /// When the invitation link stops working (default 7 days, at most 30).
    pub invitation_expires_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedInvitation {
    pub id: String,
    /// The page where the invitee signs in or registers and accepts. Shown only here.
    pub invite_url: String,
    pub token: String,
    /// When the invitation expires.
    pub expires_at: String,
    pub email: String,
    pub role: String,
}

/// Refuses when the account has no free seat (members plus pending invitations).
pub(crate) async fn require_free_seat(tx: &mut Tx, account_id: &str, max_members: i64, now: i64) -> ApiResult<()> {
    let seats = tx.seats_in_use(account_id, now).await?;
    if seats >= max_members {
        return Err(ApiError(AppError::MemberLimit(format!(
            "this account allows {max_members} people (owner included) and all seats are taken or invited; \
             remove someone, withdraw an invitation or raise max_members"
        ))));
    }
    Ok(())
}

#[utoipa::path(post, path = "/accounts/{id}/invitations", tag = "members", params(("id" = String, Path)), request_body = InvitationRequest,
    responses((status = 201, body = CreatedInvitation), (status = 403, body = Problem), (status = 409, body = Problem, description = "conflict or member-limit"), (status = 422, body = Problem)))]
pub(crate) async fn create_invitation(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<InvitationRequest>,
) -> ApiResult<(StatusCode, Json<CreatedInvitation>)> {
    ctx.slot.set_action(Action::MemberInvite, None);
    let actor = authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::MembersManage)).await?;
    let now = state.clock.now();
    let mut errors = Vec::new();
    let email = normalize_email(&body.email).map_err(|e| errors.push(FieldError::new("email", e.to_string()))).ok();
    let role = parse_role(&body.role, &mut errors);
    if let Some(r) = role {
        require_manage(&actor.rights, r)?;
    }
    let expires_at = body
        .expires_at
        .as_deref()
        .and_then(|raw| future_instant("expires_at", raw, now).map_err(|e| errors.push(e)).ok());
    let invitation_expires_at = match body.invitation_expires_at.as_deref() {
        None => Some(now.as_microsecond() + DEFAULT_INVITATION_DAYS * 86_400_000_000),
        Some(raw) => match future_instant("invitation_expires_at", raw, now) {
            Ok(t) if t <= now.as_microsecond() + MAX_INVITATION_DAYS * 86_400_000_000 => Some(t),
            Ok(_) => {
                errors.push(FieldError::new("invitation_expires_at", "must be within 30 days"));
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    let terms = build_terms(
        &actor,
        role.unwrap_or(Role::Viewer),
        &body.grant,
        &body.revoke,
        &body.windows,
        body.daily_quota,
        expires_at,
        &mut errors,
    );
    let (Some(email), Some(role), Some(invitation_expires_at), true) =
        (email, role, invitation_expires_at, errors.is_empty())
    else {
        return Err(ApiError(AppError::Validation(errors)));
    };
    ctx.slot.set_action(Action::MemberInvite, Some(format!("email:{email}")));
    let now_us = now.as_microsecond();
    let mut tx = state.store.begin().await?;
    let account = tx.lock_account(&id).await?.ok_or(ApiError(AppError::NotFound))?;
    if tx.is_member_email(&id, &email).await? {
        return Err(ApiError(AppError::Conflict(format!("{email} is already a member of this account"))));
    }
    if tx.pending_invitation_for_email(&id, &email, now_us).await? {
        return Err(ApiError(AppError::Conflict(format!(
            "{email} already has a pending invitation; withdraw it first"
        ))));
    }
    require_free_seat(&mut tx, &id, account.max_members, now_us).await?;
    let token = zeroize::Zeroizing::new(new_token(INVITATION_TOKEN_PREFIX));
    let inv_id = uuid::Uuid::now_v7().to_string();
    tx.insert_invitation(NewInvitation {
        id: &inv_id,
        account_id: &id,
        email: &email,
        token_hash: &sha256(token.as_bytes()),
        terms: &terms,
        invited_by: &principal.user_id,
        now: now_us,
        expires_at: invitation_expires_at,
    })
    .await?;
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        Action::MemberInvite,
        Some(format!("email:{email}")),
        json!({ "invitation_id": inv_id, "role": role.as_str(), "grant": body.grant, "revoke": body.revoke,
                "expires_at": expires_at.map(rfc3339), "daily_quota": body.daily_quota, "windows": body.windows.len() }),
    ))
    .await?;
    tx.commit().await?;
    let created = CreatedInvitation {
        invite_url: format!("{}/invite/{}", state.settings.public_url, token.as_str()),
        token: token.to_string(),
        id: inv_id,
        expires_at: rfc3339(invitation_expires_at),
        email,
        role: role.as_str().into(),
    };
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub role: String,
    pub invited_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub membership_expires_at: Option<String>,
}

fn invitation_view(i: InvitationRow) -> InvitationView {
    InvitationView {
        id: i.id,
        email: i.email,
        role: i.role,
        invited_by: i.invited_by,
        created_at: rfc3339(i.created_at),
        expires_at: rfc3339(i.expires_at),
        membership_expires_at: i.membership_expires_at.map(rfc3339),
    }
}

#[utoipa::path(get, path = "/accounts/{id}/invitations", tag = "members", params(("id" = String, Path)),
    responses((status = 200, body = Page<InvitationView>)))]
pub(crate) async fn list_invitations(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<InvitationView>>> {
    authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::MembersManage)).await?;
    let items =
        state.store.pending_invitations(&id, state.clock.now_us()).await?.into_iter().map(invitation_view).collect();
    Ok(Json(Page { items, next_cursor: None }))
}

#[utoipa::path(delete, path = "/accounts/{id}/invitations/{inv}", tag = "members",
    params(("id" = String, Path), ("inv" = String, Path)), responses((status = 204), (status = 404, body = Problem)))]
pub(crate) async fn withdraw_invitation(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, inv)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    ctx.slot.set_action(Action::InvitationWithdraw, Some(format!("invitation:{inv}")));
    let actor = authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::MembersManage)).await?;
    let now = state.clock.now_us();
    let pending = state.store.pending_invitations(&id, now).await?;
    let invitation = pending.into_iter().find(|i| i.id == inv).ok_or(ApiError(AppError::NotFound))?;
    require_manage(&actor.rights, Role::from_str(&invitation.role).unwrap_or(Role::Admin))?;
    let mut tx = state.store.begin().await?;
    if !tx.withdraw_invitation(&id, &inv, now).await? {
        return Err(ApiError(AppError::NotFound));
    }
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        Action::InvitationWithdraw,
        Some(format!("email:{}", invitation.email)),
        json!({ "invitation_id": inv, "role": invitation.role }),
    ))
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turns a pending invitation into a membership for `user_id` inside `tx`. Shared by
/// accepting while signed in and by registering with an invitation.
pub async fn redeem_invitation(
    state: &AppState,
    ctx: &Ctx,
    tx: &mut Tx,
    token: &str,
    actor: &AuditActor,
    user_id: &str,
    email: &str,
) -> ApiResult<InvitationRow> {
    let now = state.clock.now_us();
    let Some(found) = state.store.invitation_by_token_hash(&sha256(token.as_bytes())).await? else {
        return Err(ApiError(AppError::NotFound));
    };
    ctx.slot.set_account(&found.account_id);
    // Re-read after locking the account, so a concurrent accept or withdrawal is seen.
    tx.lock_account(&found.account_id).await?.ok_or(ApiError(AppError::NotFound))?;
    let inv = tx.invitation(&found.id).await?.ok_or(ApiError(AppError::NotFound))?;
    if !inv.is_pending(now) {
        return Err(ApiError(AppError::Conflict("this invitation was already used, withdrawn or has expired".into())));
    }
    if inv.email != email {
        return Err(ApiError(AppError::Forbidden("this invitation was sent to another email address".into())));
    }
    if tx.is_member_email(&inv.account_id, email).await? {
        return Err(ApiError(AppError::Conflict("you are already a member of this account".into())));
    }
    tx.mark_invitation_accepted(&inv.id, now).await?;
    let terms = MembershipTerms {
        role: inv.role.clone(),
        grants: inv.grants.clone(),
        revokes: inv.revokes.clone(),
        expires_at: inv.membership_expires_at,
        windows: inv.windows.clone(),
        daily_quota: inv.daily_quota,
    };
    tx.insert_membership(&inv.account_id, user_id, &terms, 0, now).await?;
    tx.append_audit(ctx.account_event(
        state,
        actor,
        &inv.account_id,
        Action::MemberJoin,
        Some(format!("user:{user_id}")),
        json!({ "invitation_id": inv.id, "role": inv.role, "invited_by": inv.invited_by }),
    ))
    .await?;
    Ok(inv)
}

#[utoipa::path(post, path = "/invitations/{token}/accept", tag = "members", params(("token" = String, Path)),
    responses((status = 200, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn accept_invitation(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(token): Path<String>,
) -> ApiResult<Json<MemberView>> {
    ctx.slot.set_action(Action::MemberJoin, None);
    if principal.token_id.is_some() {
        return Err(ApiError(AppError::Forbidden(
            "accept invitations while signed in, not with an access token".into(),
        )));
    }
    let mut tx = state.store.begin().await?;
    let inv =
        redeem_invitation(&state, &ctx, &mut tx, &token, &principal.actor(), &principal.user_id, &principal.email)
            .await?;
    tx.commit().await?;
    let member = state
        .store
        .members(&inv.account_id)
        .await?
        .into_iter()
        .find(|m| m.membership.user_id == principal.user_id)
        .ok_or(ApiError(AppError::NotFound))?;
    Ok(Json(member_view(&state, member)))
}

#[derive(Deserialize, ToSchema)]
pub struct MemberUpdate {
    pub role: Option<String>,
    /// `null` removes the end date.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
    /// Replaces the windows (`[]`: no restriction).
    #[schema(value_type = Option<Vec<Object>>)]
    pub windows: Option<Vec<WindowInput>>,
    /// `null` removes the quota.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub daily_quota: Option<Option<i64>>,
    /// Replaces the capabilities added to the role.
    pub grant: Option<Vec<String>>,
    /// Replaces the capabilities removed from the role.
    pub revoke: Option<Vec<String>>,
    /// `active` reinstates a suspended member; `suspended` suspends one.
    pub status: Option<String>,
}

#[utoipa::path(patch, path = "/accounts/{id}/members/{user_id}", tag = "members",
    params(("id" = String, Path), ("user_id" = String, Path)), request_body = MemberUpdate,
    responses((status = 200, body = MemberView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn update_member(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, user_id)): Path<(String, String)>,
    Json(body): Json<MemberUpdate>,
) -> ApiResult<Json<MemberView>> {
    ctx.slot.set_action(Action::MemberUpdate, Some(format!("user:{user_id}")));
    let actor = authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::MembersManage)).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.lock_account(&id).await?.ok_or(ApiError(AppError::NotFound))?;
    let current = state.store.membership(&id, &user_id).await?.ok_or(ApiError(AppError::NotFound))?;
    let from = Role::from_str(&current.role).map_err(ApiError::internal)?;
    if from == Role::Owner {
        return Err(ApiError(AppError::Forbidden(
            "nobody can change the owner's membership; the owner can transfer ownership".into(),
        )));
    }
    require_manage(&actor.rights, from)?;
    let mut errors = Vec::new();
    let to = match body.role.as_deref() {
        Some(raw) => parse_role(raw, &mut errors).unwrap_or(from),
        None => from,
    };
    if to != from && !can_change_role(&actor.rights, from, to) {
        return Err(ApiError(AppError::Forbidden("only the owner makes or unmakes admins".into())));
    }
    let expires_at = match &body.expires_at {
        None => current.expires_at,
        Some(None) => None,
        Some(Some(raw)) => future_instant("expires_at", raw, now).map_err(|e| errors.push(e)).ok(),
    };
    let grant: Vec<String> = body
        .grant
        .clone()
        .unwrap_or_else(|| capability_set(&current.grants).sorted_names().iter().map(|s| s.to_string()).collect());
    let revoke: Vec<String> = body
        .revoke
        .clone()
        .unwrap_or_else(|| capability_set(&current.revokes).sorted_names().iter().map(|s| s.to_string()).collect());
    let windows: Vec<WindowInput> = match &body.windows {
        Some(w) => w.clone(),
        // Kept as they are, if they can be read: unreadable windows are never silently
        // replaced by "no restriction".
        None => match stored_windows(&current.windows) {
            Ok(stored) => stored.iter().map(WindowInput::from).collect(),
            Err(e) => {
                errors.push(FieldError::new("windows", format!("{e}; send them again ([] for no restriction)")));
                Vec::new()
            }
        },
    };
    let daily_quota = body.daily_quota.unwrap_or(current.daily_quota);
    let status = match body.status.as_deref() {
        None => current.status.clone(),
        Some(s @ ("active" | "suspended")) => s.to_string(),
        Some(_) => {
            errors.push(FieldError::new("status", "must be `active` or `suspended`"));
            current.status.clone()
        }
    };
    let terms = build_terms(&actor, to, &grant, &revoke, &windows, daily_quota, expires_at, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError(AppError::Validation(errors)));
    }
    tx.update_membership(&id, &user_id, &terms, &status, now.as_microsecond()).await?;
    let action = if to != from { Action::MemberRoleChange } else { Action::MemberUpdate };
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        action,
        Some(format!("user:{user_id}")),
        json!({ "role": {"from": from.as_str(), "to": to.as_str()}, "status": {"from": current.status, "to": status},
                "grant": grant, "revoke": revoke, "expires_at": expires_at.map(rfc3339), "daily_quota": daily_quota,
                "windows": windows.len() }),
    ))
    .await?;
    tx.commit().await?;
    let member = state
        .store
        .members(&id)
        .await?
        .into_iter()
        .find(|m| m.membership.user_id == user_id)
        .ok_or(ApiError(AppError::NotFound))?;
    Ok(Json(member_view(&state, member)))
}

#[derive(Deserialize, IntoParams)]
pub struct RemoveQuery {
    /// Also cancel the member's scheduled and approved posts (posting issue).
    pub cancel_posts: Option<bool>,
}

#[utoipa::path(delete, path = "/accounts/{id}/members/{user_id}", tag = "members",
    params(("id" = String, Path), ("user_id" = String, Path), RemoveQuery),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, user_id)): Path<(String, String)>,
    Query(q): Query<RemoveQuery>,
) -> ApiResult<StatusCode> {
    ctx.slot.set_action(Action::MemberRemove, Some(format!("user:{user_id}")));
    let leaving = user_id == principal.user_id;
    let need = if leaving { Need::Leave } else { Need::Capability(Capability::MembersManage) };
    let actor = authorize(&state, &ctx, &principal, &id, need).await?;
    let mut tx = state.store.begin().await?;
    tx.lock_account(&id).await?.ok_or(ApiError(AppError::NotFound))?;
    let target = state.store.membership(&id, &user_id).await?.ok_or(ApiError(AppError::NotFound))?;
    let role = Role::from_str(&target.role).map_err(ApiError::internal)?;
    if role == Role::Owner {
        return Err(if leaving {
            ApiError(AppError::Conflict("the owner cannot leave; transfer ownership or delete the account".into()))
        } else {
            ApiError(AppError::Forbidden("nobody can remove the owner".into()))
        });
    }
    if !leaving {
        require_manage(&actor.rights, role)?;
    }
    tx.delete_membership(&id, &user_id).await?;
    let action = if leaving { Action::MemberLeave } else { Action::MemberRemove };
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        action,
        Some(format!("user:{user_id}")),
        json!({ "role": role.as_str(), "cancel_posts": q.cancel_posts.unwrap_or(false) }),
    ))
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
