//! Social accounts (`/api/v1/platforms`, `/api/v1/accounts*`): connect, read, settings, house
//! rules, ownership.
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use steward_app::AppError;
use steward_domain::alerts::AlertThresholds;
use steward_domain::audit::Action;
use steward_domain::capability::{Capability, Role};
use steward_domain::platform::{self, ConnectMethod, MAX_MEMBERS_CEILING, PLATFORMS};
use steward_domain::windows::parse_time_zone;
use steward_store::{AccountRow, AccountSettings, MembershipRow, NewAccount};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zeroize::Zeroizing;

use crate::auth::{Principal, SessionPrincipal};
use crate::error::{ApiError, ApiResult, FieldError, Json, Path, Problem};
use crate::request::Ctx;
use crate::routes::{Page, nullable};
use crate::state::AppState;
use steward_app::authz::{AccountAccess, Need, authorize, membership_rights};
use steward_app::clock::rfc3339;
use steward_app::twofactor::verify_second_factor;

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

#[derive(Serialize, ToSchema)]
pub struct AccountKindView {
    pub id: &'static str,
    pub name: &'static str,
    pub default_max_members: i64,
    pub owner_approval_required: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PlatformView {
    pub id: &'static str,
    pub name: &'static str,
    /// `oauth` or `credentials`.
    pub connect: &'static str,
    pub account_kinds: Vec<AccountKindView>,
}

#[utoipa::path(get, path = "/platforms", tag = "accounts", responses((status = 200, body = Page<PlatformView>)))]
pub(crate) async fn list_platforms(_: Principal) -> Json<Page<PlatformView>> {
    let items = PLATFORMS
        .iter()
        .map(|p| PlatformView {
            id: p.id,
            name: p.name,
            connect: p.connect.as_str(),
            account_kinds: p
                .kinds
                .iter()
                .map(|k| AccountKindView {
                    id: k.id,
                    name: k.name,
                    default_max_members: k.default_max_members,
                    owner_approval_required: k.owner_approval_required,
                })
                .collect(),
        })
        .collect();
    Json(Page { items, next_cursor: None })
}

#[derive(Serialize, ToSchema)]
pub struct SettingsView {
    pub max_members: i64,
    pub min_gap_minutes: i64,
    /// `null`: no daily limit.
    pub max_posts_per_day: Option<i64>,
    pub approvals_required: i64,
    pub owner_approval_required: bool,
    pub admins_may_approve_own: bool,
    /// When findings become alerts: `{failed_sign_ins, denied_actions, post_burst,
    /// member_change_burst}`, each `{count, minutes}`.
    #[schema(value_type = Object)]
    pub alert_thresholds: AlertThresholds,
}

#[derive(Serialize, ToSchema)]
pub struct RulesView {
    /// 0 when the account has no house rules.
    pub version: i64,
    pub text: String,
    /// The version the caller accepted (0: none).
    pub accepted_version: i64,
}

#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub id: String,
    pub platform: String,
    pub account_kind: String,
    pub handle: String,
    pub display_name: String,
    pub owner_id: String,
    pub time_zone: String,
    pub settings: SettingsView,
    pub my_role: String,
    pub my_capabilities: Vec<&'static str>,
    pub rules: RulesView,
    /// `active`, `needs_reconnect`, `locked_down` or `disconnected`.
    pub status: String,
    /// The caller's membership status on it: `active`, `suspended` or `expired`.
    pub my_status: String,
    pub created_at: String,
}

/// The account as `membership`'s holder sees it.
pub fn account_view(state: &AppState, a: AccountRow, m: &MembershipRow) -> AccountView {
    let caps = membership_rights(m).map(|r| r.capabilities.sorted_names()).unwrap_or_default();
    let expired = m.role != "owner" && m.expires_at.is_some_and(|e| e <= state.clock.now_us());
    AccountView {
        settings: SettingsView {
            max_members: a.max_members,
            min_gap_minutes: a.min_gap_minutes,
            max_posts_per_day: a.max_posts_per_day,
            approvals_required: a.approvals_required,
            owner_approval_required: a.owner_approval_required,
            admins_may_approve_own: a.admins_may_approve_own,
            alert_thresholds: AlertThresholds::from_stored(&a.alert_thresholds),
        },
        rules: RulesView { version: a.rules_version, text: a.rules_text, accepted_version: m.accepted_rules_version },
        my_role: m.role.clone(),
        my_capabilities: if expired { Vec::new() } else { caps },
        my_status: if expired { "expired".into() } else { m.status.clone() },
        created_at: rfc3339(a.created_at),
        id: a.id,
        platform: a.platform,
        account_kind: a.account_kind,
        handle: a.handle,
        display_name: a.display_name,
        owner_id: a.owner_id,
        time_zone: a.time_zone,
        status: a.status,
    }
}

fn access_view(state: &AppState, access: AccountAccess) -> AccountView {
    account_view(state, access.account, &access.membership)
}

#[derive(Deserialize, ToSchema)]
pub struct CreateAccountRequest {
    pub platform: String,
    pub account_kind: Option<String>,
    pub handle: String,
    pub display_name: Option<String>,
    /// IANA time zone for schedules and windows; default UTC.
    pub time_zone: Option<String>,
    /// Platform credentials, sealed at rest and never returned (sandbox: any JSON object).
    #[schema(value_type = Object)]
    pub credentials: serde_json::Value,
}

#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = CreateAccountRequest,
    responses((status = 201, body = AccountView), (status = 422, body = Problem)))]
pub(crate) async fn create_account(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Json(body): Json<CreateAccountRequest>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    ctx.slot.set_action(Action::AccountCreate, None);
    if principal.token_accounts.is_some() {
        return Err(ApiError(AppError::Forbidden(
            "an access token narrowed to accounts cannot connect new ones".into(),
        )));
    }
    let mut errors = Vec::new();
    let platform = platform::platform(&body.platform);
    let kind = platform.and_then(|p| platform::account_kind(p, body.account_kind.as_deref()));
    match (platform, kind) {
        (None, _) => {
            errors.push(FieldError::new("platform", "is not a platform Steward knows (see GET /api/v1/platforms)"))
        }
        (Some(_), None) => errors.push(FieldError::new("account_kind", "is not a kind of account of this platform")),
        (Some(p), Some(_)) if p.connect == ConnectMethod::Oauth => errors
            .push(FieldError::new("platform", "connects through its sign-in page: use POST /api/v1/accounts/connect")),
        (Some(p), Some(_)) if p.id != "sandbox" && p.id != "bluesky" => {
            errors.push(FieldError::new("platform", "cannot be connected on this server yet"))
        }
        _ => {}
    }
    let handle = body.handle.trim();
    if handle.is_empty() || handle.chars().count() > 100 {
        errors.push(FieldError::new("handle", "must be 1 to 100 characters"));
    }
    let display_name = body.display_name.as_deref().map(str::trim).filter(|d| !d.is_empty()).unwrap_or(handle);
    if display_name.chars().count() > 100 {
        errors.push(FieldError::new("display_name", "must be at most 100 characters"));
    }
    let raw_zone = body.time_zone.clone().unwrap_or_else(|| "UTC".into());
    // Stored in the database's own spelling ("europe/paris" becomes "Europe/Paris").
    let time_zone = match parse_time_zone(&raw_zone) {
        Ok(tz) => tz.iana_name().unwrap_or(&raw_zone).to_string(),
        Err(e) => {
            errors.push(FieldError::new("time_zone", e.to_string()));
            raw_zone
        }
    };
    if !body.credentials.is_object() {
        errors.push(FieldError::new("credentials", "must be a JSON object"));
    }
    let (Some(platform), Some(kind)) = (platform, kind) else { return Err(ApiError(AppError::Validation(errors))) };
    if !errors.is_empty() {
        return Err(ApiError(AppError::Validation(errors)));
    }
    let id = uuid::Uuid::now_v7().to_string();
    // Bluesky: sign in with the app password first, so a wrong one is refused before anything is
    // stored; the handle and name then come from the PDS, not from the request.
    let (handle, display_name, plaintext) = if platform.id == "bluesky" {
        let (cred, identity) = steward_app::credentials::bluesky_sign_in(&state, &body.credentials).await?;
        let plain = Zeroizing::new(serde_json::to_vec(&cred).map_err(ApiError::internal)?);
        (identity.handle, identity.display_name, plain)
    } else {
        (
            handle.to_string(),
            display_name.to_string(),
            Zeroizing::new(serde_json::to_vec(&body.credentials).map_err(ApiError::internal)?),
        )
    };
    let (handle, display_name) = (handle.as_str(), display_name.as_str());
    // A fresh data key for this account: the credential is sealed under it, and it is stored
    // wrapped by the master key.
    let sealed = state.vault().seal_new_credential(&id, &plaintext);
    drop(plaintext);
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    tx.insert_account(NewAccount {
        id: &id,
        platform: platform.id,
        account_kind: kind.id,
        handle,
        display_name,
        owner_id: &principal.user_id,
        time_zone: &time_zone,
        max_members: kind.default_max_members,
        owner_approval_required: kind.owner_approval_required,
        credential_sealed: None,
        now,
    })
    .await?;
    tx.set_account_credential(&id, &sealed.wrapped_data_key, &sealed.credential, now).await?;
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        Action::AccountCreate,
        Some(format!("account:{id}")),
        json!({ "platform": platform.id, "account_kind": kind.id, "handle": handle }),
    ))
    .await?;
    tx.commit().await?;
    let (account, membership) =
        state.store.account_access(&id, &principal.user_id).await?.ok_or(ApiError(AppError::NotFound))?;
    Ok((StatusCode::CREATED, Json(account_view(&state, account, &membership))))
}

#[utoipa::path(get, path = "/accounts", tag = "accounts", responses((status = 200, body = Page<AccountView>)))]
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Page<AccountView>>> {
    let items = state
        .store
        .accounts_of_user(&principal.user_id)
        .await?
        .into_iter()
        .filter(|(a, _)| principal.token_accounts.as_ref().is_none_or(|ids| ids.contains(&a.id)))
        .map(|(a, m)| account_view(&state, a, &m))
        .collect();
    Ok(Json(Page { items, next_cursor: None }))
}

#[utoipa::path(get, path = "/accounts/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = AccountView), (status = 404, body = Problem)))]
pub(crate) async fn get_account(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountView>> {
    let access = authorize(&state, &ctx, &principal, &id, Need::ReadAccountAndRules).await?;
    Ok(Json(access_view(&state, access)))
}

#[derive(Deserialize, ToSchema)]
pub struct SettingsRequest {
    pub max_members: Option<i64>,
    pub min_gap_minutes: Option<i64>,
    /// `null` removes the daily limit.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub max_posts_per_day: Option<Option<i64>>,
    pub approvals_required: Option<i64>,
    pub owner_approval_required: Option<bool>,
    pub admins_may_approve_own: Option<bool>,
    pub time_zone: Option<String>,
    /// New house rules; a change raises the version and asks every member to accept again.
    pub rules_text: Option<String>,
    /// Alert thresholds; keys left out keep their defaults (DESIGN.md "Alerts").
    #[schema(value_type = Option<Object>)]
    pub alert_thresholds: Option<serde_json::Value>,
}

#[utoipa::path(patch, path = "/accounts/{id}/settings", tag = "accounts", params(("id" = String, Path)), request_body = SettingsRequest,
    responses((status = 200, body = AccountView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn update_settings(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<SettingsRequest>,
) -> ApiResult<Json<AccountView>> {
    ctx.slot.set_action(Action::SettingsUpdate, Some(format!("account:{id}")));
    authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::SettingsManage)).await?;
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    let a = tx.lock_account(&id).await?.ok_or(ApiError(AppError::NotFound))?;
    let seats = tx.seats_in_use(&id, now).await?;
    let mut errors = Vec::new();
    let forced_owner_approval = platform::platform(&a.platform)
        .and_then(|p| platform::account_kind(p, Some(&a.account_kind)))
        .is_some_and(|k| k.owner_approval_required);
    let mut s = AccountSettings {
        max_members: body.max_members.unwrap_or(a.max_members),
        min_gap_minutes: body.min_gap_minutes.unwrap_or(a.min_gap_minutes),
        max_posts_per_day: body.max_posts_per_day.unwrap_or(a.max_posts_per_day),
        approvals_required: body.approvals_required.unwrap_or(a.approvals_required),
        owner_approval_required: body.owner_approval_required.unwrap_or(a.owner_approval_required),
        admins_may_approve_own: body.admins_may_approve_own.unwrap_or(a.admins_may_approve_own),
        time_zone: body.time_zone.clone().unwrap_or_else(|| a.time_zone.clone()),
        rules_text: body.rules_text.clone().unwrap_or_else(|| a.rules_text.clone()),
        rules_version: a.rules_version,
    };
    if !(1..=MAX_MEMBERS_CEILING).contains(&s.max_members) {
        errors.push(FieldError::new("max_members", format!("must be between 1 and {MAX_MEMBERS_CEILING}")));
    } else if s.max_members < seats {
        errors.push(FieldError::new(
            "max_members",
            format!("is below the {seats} seats in use (members and pending invitations); remove some first"),
        ));
    }
    if !(0..=1440).contains(&s.min_gap_minutes) {
        errors.push(FieldError::new("min_gap_minutes", "must be between 0 and 1440"));
    }
    if s.max_posts_per_day.is_some_and(|n| !(1..=100).contains(&n)) {
        errors.push(FieldError::new("max_posts_per_day", "must be between 1 and 100, or null for no limit"));
    }
    if !(1..=10).contains(&s.approvals_required) {
        errors.push(FieldError::new("approvals_required", "must be between 1 and 10"));
    }
    if forced_owner_approval && !s.owner_approval_required {
        errors.push(FieldError::new(
            "owner_approval_required",
            "cannot be turned off: a LinkedIn member profile is personal, so its owner approves every post",
        ));
    }
    match parse_time_zone(&s.time_zone) {
        Ok(tz) => s.time_zone = tz.iana_name().unwrap_or(&s.time_zone).to_string(),
        Err(e) => errors.push(FieldError::new("time_zone", e.to_string())),
    }
    if s.rules_text.chars().count() > 20_000 {
        errors.push(FieldError::new("rules_text", "must be at most 20000 characters"));
    }
    let old_thresholds = AlertThresholds::from_stored(&a.alert_thresholds);
    let thresholds = match &body.alert_thresholds {
        None => old_thresholds,
        Some(v) => match serde_json::from_value::<AlertThresholds>(v.clone()) {
            Ok(t) => {
                errors.extend(t.problems().into_iter().map(|(f, m)| FieldError::new(&f, m)));
                t
            }
            Err(e) => {
                errors.push(FieldError::new(
                    "alert_thresholds",
                    format!("must be an object of {{\"count\": n, \"minutes\": m}} per check ({e})"),
                ));
                old_thresholds
            }
        },
    };
    if !errors.is_empty() {
        return Err(ApiError(AppError::Validation(errors)));
    }
    s.rules_text = s.rules_text.trim().to_string();
    if s.rules_text != a.rules_text {
        s.rules_version = a.rules_version + 1;
    }
    let changed = json!({
        "max_members": [a.max_members, s.max_members],
        "min_gap_minutes": [a.min_gap_minutes, s.min_gap_minutes],
        "max_posts_per_day": [a.max_posts_per_day, s.max_posts_per_day],
        "approvals_required": [a.approvals_required, s.approvals_required],
        "owner_approval_required": [a.owner_approval_required, s.owner_approval_required],
        "admins_may_approve_own": [a.admins_may_approve_own, s.admins_may_approve_own],
        "time_zone": [a.time_zone, s.time_zone],
        "rules_version": [a.rules_version, s.rules_version],
        "alert_thresholds": [old_thresholds, thresholds],
    });
    let changes: serde_json::Map<String, serde_json::Value> = changed
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(_, v)| v[0] != v[1])
                .map(|(k, v)| (k.clone(), json!({"from": v[0], "to": v[1]})))
                .collect()
        })
        .unwrap_or_default();
    tx.update_account_settings(&id, &s, now).await?;
    if thresholds != old_thresholds {
        let stored = serde_json::to_string(&thresholds).map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
        tx.set_alert_thresholds(&id, &stored).await?;
    }
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        Action::SettingsUpdate,
        Some(format!("account:{id}")),
        json!({ "changes": changes }),
    ))
    .await?;
    tx.commit().await?;
    let (account, membership) =
        state.store.account_access(&id, &principal.user_id).await?.ok_or(ApiError(AppError::NotFound))?;
    Ok(Json(account_view(&state, account, &membership)))
}

#[derive(Deserialize, ToSchema)]
pub struct AcceptRulesRequest {
    /// The version being accepted: must be the current one.
    pub version: i64,
}

#[utoipa::path(post, path = "/accounts/{id}/rules/accept", tag = "accounts", params(("id" = String, Path)), request_body = AcceptRulesRequest,
    responses((status = 204), (status = 409, body = Problem)))]
pub(crate) async fn accept_rules(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<AcceptRulesRequest>,
) -> ApiResult<StatusCode> {
    ctx.slot.set_action(Action::RulesAccept, Some(format!("account:{id}")));
    let access = authorize(&state, &ctx, &principal, &id, Need::ReadAccountAndRules).await?;
    if body.version != access.account.rules_version || access.account.rules_version == 0 {
        return Err(ApiError(AppError::Conflict(format!(
            "the current house rules are version {}; read them and accept that version",
            access.account.rules_version
        ))));
    }
    let mut tx = state.store.begin().await?;
    tx.accept_rules(&id, &principal.user_id, body.version, state.clock.now_us()).await?;
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        Action::RulesAccept,
        Some(format!("account:{id}")),
        json!({ "version": body.version }),
    ))
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct TransferRequest {
    pub to_user_id: String,
    /// The owner's password, asked again for this.
    pub password: String,
    /// The owner's current two-factor code, when 2FA is on.
    pub totp: Option<String>,
}

#[utoipa::path(post, path = "/accounts/{id}/transfer", tag = "accounts", params(("id" = String, Path)), request_body = TransferRequest,
    responses((status = 200, body = AccountView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub(crate) async fn transfer_ownership(
    State(state): State<AppState>,
    ctx: Ctx,
    SessionPrincipal(principal): SessionPrincipal,
    Path(id): Path<String>,
    Json(body): Json<TransferRequest>,
) -> ApiResult<Json<AccountView>> {
    ctx.slot.set_action(Action::AccountTransfer, Some(format!("user:{}", body.to_user_id)));
    authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::OwnershipTransfer)).await?;
    let owner = state
        .store
        .user_by_id(&principal.user_id)
        .await?
        .ok_or(ApiError(AppError::Unauthenticated { presented: true }))?;
    if !state.passwords.verify(Zeroizing::new(body.password), Some(owner.password_hash.clone())).await {
        return Err(ApiError(AppError::Forbidden(
            "the password is wrong; transferring ownership needs your password again".into(),
        )));
    }
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    if owner.totp_enabled {
        let Some(code) = body.totp.as_deref().filter(|c| !c.trim().is_empty()) else {
            return Err(ApiError(AppError::TotpRequired));
        };
        if verify_second_factor(&state, &mut tx, &owner, code).await?.is_none() {
            return Err(ApiError(AppError::Forbidden(
                "the two-factor code is wrong, expired or was already used".into(),
            )));
        }
    }
    tx.lock_account(&id).await?.ok_or(ApiError(AppError::NotFound))?;
    let target = state.store.membership(&id, &body.to_user_id).await?;
    match target {
        Some(m) if m.role == "owner" => return Err(ApiError::validation("to_user_id", "is already the owner")),
        Some(m) if m.status == "active" && m.expires_at.is_none_or(|e| e > now) => {}
        _ => return Err(ApiError::validation("to_user_id", "must be an active member of this account")),
    }
    tx.transfer_ownership(&id, &principal.user_id, &body.to_user_id, now).await?;
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        Action::AccountTransfer,
        Some(format!("user:{}", body.to_user_id)),
        json!({ "from": principal.user_id, "to": body.to_user_id, "previous_owner_becomes": Role::Admin.as_str() }),
    ))
    .await?;
    tx.commit().await?;
    let (account, membership) =
        state.store.account_access(&id, &principal.user_id).await?.ok_or(ApiError(AppError::NotFound))?;
    Ok(Json(account_view(&state, account, &membership)))
}

#[utoipa::path(delete, path = "/accounts/{id}", tag = "accounts", params(("id" = String, Path)),
    responses((status = 204, description = "deleted; its credential destroyed"), (status = 403, body = Problem)))]
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    ctx.slot.set_action(Action::AccountDelete, Some(format!("account:{id}")));
    let access = authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::OwnershipTransfer)).await?;
    let mut tx = state.store.begin().await?;
    tx.delete_account(&id).await?;
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        Action::AccountDelete,
        Some(format!("account:{id}")),
        json!({ "platform": access.account.platform, "handle": access.account.handle }),
    ))
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct CheckIdentityView {
    pub handle: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckView {
    /// `active` when the stored credential works; `needs_reconnect` when the platform refused it
    /// for good (the owner must connect the account again).
    pub status: &'static str,
    pub checked_at: String,
    pub identity: Option<CheckIdentityView>,
}

/// "Test connection": opens the stored credential and asks the platform who it belongs to. The
/// sandbox platform has no remote end: a credential that opens is a working one.
#[utoipa::path(post, path = "/accounts/{id}/check", tag = "accounts", params(("id" = String, Path)),
    responses((status = 200, body = CheckView), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub(crate) async fn check_account(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
) -> ApiResult<Json<CheckView>> {
    ctx.slot.set_action(Action::AccountCheck, Some(format!("account:{id}")));
    let access = authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::SettingsManage)).await?;
    if matches!(access.account.platform.as_str(), "linkedin" | "tiktok" | "mastodon" | "bluesky") {
        let now = state.clock.now_us();
        let checked = if access.account.platform == "bluesky" {
            steward_app::credentials::bluesky_check(&state, &id).await
        } else {
            steward_app::credentials::check_identity(&state, &id, &access.account.platform).await
        };
        let (status, identity) = match checked {
            Ok(identity) => ("active", Some(CheckIdentityView { handle: identity.handle })),
            Err(steward_app::credentials::CredentialError::NeedsReconnect) => ("needs_reconnect", None),
            Err(steward_app::credentials::CredentialError::Api(e)) => return Err(e.into()),
            Err(steward_app::credentials::CredentialError::Platform(
                steward_connectors::ConnectorError::RateLimited { retry_after },
            )) => {
                return Err(steward_app::platforms::rate_limited(&access.account.platform, retry_after, now).into());
            }
            Err(steward_app::credentials::CredentialError::Platform(e)) => {
                return Err(ApiError(AppError::PlatformUnavailable(format!(
                    "{} could not be checked: {e}",
                    access.account.platform
                ))));
            }
        };
        let mut tx = state.store.begin().await?;
        tx.append_audit(ctx.account_event(
            &state,
            &principal.actor(),
            &id,
            Action::AccountCheck,
            Some(format!("account:{id}")),
            json!({ "status": status }),
        ))
        .await?;
        tx.commit().await?;
        return Ok(Json(CheckView { status, checked_at: rfc3339(now), identity }));
    }
    if access.account.platform != "sandbox" {
        return Err(ApiError(AppError::Conflict(
            "checking this platform's connection is not available on this server yet".into(),
        )));
    }
    let row = state.store.sealed_credential(&id).await?.ok_or(ApiError(AppError::NotFound))?;
    let Some(sealed) = row.credential_sealed.as_deref() else {
        return Err(ApiError(AppError::Conflict("this account has no stored credential; connect it again".into())));
    };
    let credential = state
        .vault()
        .open_stored_credential(&id, row.wrapped_data_key.as_deref(), sealed)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("account {id}: {e}")))?;
    // The sandbox's "identity call": the credential must at least be the JSON object it was.
    let valid = serde_json::from_slice::<serde_json::Value>(&credential).is_ok_and(|v| v.is_object());
    drop(credential);
    if !valid {
        return Err(ApiError::internal(anyhow::anyhow!("account {id}: the opened credential is not a JSON object")));
    }
    let now = state.clock.now_us();
    let mut tx = state.store.begin().await?;
    tx.append_audit(ctx.account_event(
        &state,
        &principal.actor(),
        &id,
        Action::AccountCheck,
        Some(format!("account:{id}")),
        json!({ "status": "active" }),
    ))
    .await?;
    tx.commit().await?;
    Ok(Json(CheckView {
        status: "active",
        checked_at: rfc3339(now),
        identity: Some(CheckIdentityView { handle: access.account.handle }),
    }))
}
