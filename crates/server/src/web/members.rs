//! Members: the list with the member limit, inviting (role, end date, weekly windows grid,
//! daily quota, extra or removed capabilities), pending invitations, changing or removing.
use std::str::FromStr;
use steward_app::AppError;
use steward_domain::ids::{AccountId, InvitationId, UserId};

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use steward_domain::capability::{Capability, MemberRights, Role, can_manage_role};
use steward_domain::windows::WindowInput;

use steward_app::members::invitations::{
    CreatedInvitation, InvitationRequest, ResentInvitation, create_invitation, resend_invitation, withdraw_invitation,
};
use steward_app::members::membership::{MemberUpdate, remove_member, update_member};
use steward_app::members::view::{MemberView, list_invitations, list_members};

use crate::error::{ApiError, FieldError, Path, Query};
use crate::state::AppState;
use crate::web::account::{NoticeQuery, access, account_nav, account_zone, notice_text};
use crate::web::confirm::{Confirm, ask, confirmed};
use crate::web::html::{Html, capitalize, describe_capability};
use crate::web::time::{
    describe_windows, local_input_to_rfc3339, posted_windows, preset_of, rfc3339_to_local_input, when, windows_to_grid,
};
use crate::web::words::membership_status;
use crate::web::{Form, FormData, Layout, OrPage, PageError, Viewer, render, render_failed, see_other};
use steward_app::authz::{AccountAccess, Need};

pub struct MemberRowView {
    pub view: MemberView,
    pub expires: Option<Html>,
    pub windows: String,
    pub manageable: bool,
    pub is_me: bool,
    pub status: &'static str,
}

pub struct InvitationRowView {
    pub id: InvitationId,
    pub email: String,
    pub role: String,
    pub expires: Html,
    pub manageable: bool,
    /// How the invitation email went: "sent", the delivery error, or nothing without mail.
    pub mail: Option<String>,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    layout: Layout,
    id: String,
    members: Vec<MemberRowView>,
    invitations: Vec<InvitationRowView>,
    can_manage: bool,
    seats_used: usize,
    max_members: i64,
    invite: Form,
    created: Option<CreatedInvitation>,
    /// An invitation just sent again: its email and new link.
    resent: Option<(String, ResentInvitation)>,
    roles: Vec<(String, String)>,
    capabilities: Vec<(String, String, Vec<&'static str>)>,
    publish_roles: Vec<&'static str>,
    csrf: String,
    row_error: Option<String>,
}

/// The roles the viewer may hand out (only the owner makes admins).
fn assignable_roles(rights: &MemberRights) -> Vec<(String, String)> {
    Role::ALL
        .iter()
        .filter(|r| **r != Role::Owner && can_manage_role(rights, **r))
        .map(|r| (r.as_str().to_string(), r.as_str().to_string()))
        .collect()
}

/// A member's stored windows as the page edits them; `None` when they cannot be read (the API
/// shows them as `null`: the member may not schedule or publish until they are set again).
fn member_windows(m: &MemberView) -> Option<Vec<WindowInput>> {
    serde_json::from_value(m.windows.clone()).ok()
}

const UNREADABLE_WINDOWS: &str =
    "The stored posting hours cannot be read: this member may not schedule or publish until they are set again.";

/// The capabilities the viewer may add or take away, each as a sentence with the roles that
/// already include it.
fn capability_options(a: &AccountAccess) -> Vec<(String, String, Vec<&'static str>)> {
    Capability::ALL
        .iter()
        .filter(|c| !c.is_owner_only() && a.has(**c))
        .map(|c| {
            let roles = Role::ALL.iter().filter(|r| **r != Role::Owner && r.preset().contains(*c)).map(|r| r.as_str());
            (c.as_str().to_string(), capitalize(describe_capability(*c)), roles.collect())
        })
        .collect()
}

/// The roles whose members can schedule or publish: posting hours apply to them only.
fn publishing_roles() -> Vec<&'static str> {
    Role::ALL
        .iter()
        .filter(|r| **r != Role::Owner && r.preset().contains(Capability::PostsPublish))
        .map(|r| r.as_str())
        .collect()
}

async fn members_view(state: &AppState, viewer: &Viewer, id: &AccountId) -> Result<MembersPage, ApiError> {
    let a = access(state, viewer, id, Need::ReadAccountAndRules).await?;
    let list = list_members(state, &viewer.ctx(), &viewer.principal, id).await?;
    let can_manage = a.has(Capability::MembersManage);
    let invitations =
        if can_manage { list_invitations(state, &viewer.ctx(), &viewer.principal, id).await? } else { Vec::new() };
    let zone = account_zone(&a.account);
    let tz = viewer.tz.as_ref();
    let members: Vec<MemberRowView> = list
        .into_iter()
        .map(|m| {
            let role = Role::from_str(&m.role).unwrap_or(Role::Owner);
            MemberRowView {
                expires: m.expires_at.as_deref().map(|e| when(e, &zone, tz)),
                windows: member_windows(&m).map_or_else(|| UNREADABLE_WINDOWS.to_string(), |w| describe_windows(&w)),
                manageable: can_manage && role != Role::Owner && can_manage_role(&a.acting(), role),
                is_me: viewer.principal.user_id == m.user_id,
                status: membership_status(&m.status),
                view: m,
            }
        })
        .collect();
    let invitations: Vec<InvitationRowView> = invitations
        .into_iter()
        .map(|i| InvitationRowView {
            manageable: Role::from_str(&i.role).is_ok_and(|r| can_manage_role(&a.acting(), r)),
            expires: when(&i.expires_at, &zone, tz),
            mail: match (i.mail_status.as_deref(), i.mail_error) {
                (Some("sent"), _) => Some("sent".into()),
                (Some(_), Some(err)) => Some(format!("not delivered: {err}")),
                (Some(other), None) => Some(other.to_string()),
                (None, _) => None,
            },
            id: i.id,
            email: i.email,
            role: i.role,
        })
        .collect();
    let mut layout = viewer.layout(format!("Members of {}", a.account.display_name));
    layout.account = Some(account_nav(&a, "members"));
    Ok(MembersPage {
        layout,
        id: id.to_string(),
        seats_used: members.len() + invitations.len(),
        max_members: a.account.max_members,
        members,
        invitations,
        can_manage,
        invite: Form::new("invite", &viewer.csrf).value("role", "editor").value("hours", "any"),
        created: None,
        resent: None,
        roles: assignable_roles(&a.rights),
        capabilities: capability_options(&a),
        publish_roles: publishing_roles(),
        csrf: viewer.csrf.clone(),
        row_error: None,
    })
}

pub async fn members_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    Query(q): Query<crate::web::account::NoticeQuery>,
) -> Result<Response, PageError> {
    let mut page = members_view(&state, &viewer, &id).await.or_page(&viewer)?;
    page.layout.notice = notice_text(q.notice());
    Ok(render(StatusCode::OK, &page))
}

/// The membership terms of the invite and change forms, read in the account's time zone.
struct Terms {
    expires_at: Option<String>,
    daily_quota: Option<i64>,
    windows: Vec<WindowInput>,
    grant: Vec<String>,
    revoke: Vec<String>,
}

fn read_terms(data: &FormData, zone: &jiff::tz::TimeZone, errors: &mut Vec<FieldError>) -> Terms {
    let expires_at = data.opt("expires_at").and_then(|raw| match local_input_to_rfc3339(&raw, zone) {
        Ok(t) => Some(t),
        Err(m) => {
            errors.push(FieldError::new("expires_at", m));
            None
        }
    });
    let daily_quota = data.opt("daily_quota").and_then(|raw| match raw.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push(FieldError::new("daily_quota", "must be a whole number"));
            None
        }
    });
    let windows = posted_windows(data.get("hours"), &data.all("w")).unwrap_or_else(|m| {
        errors.push(FieldError::new("windows", m));
        Vec::new()
    });
    Terms { expires_at, daily_quota, windows, grant: data.all("grant"), revoke: data.all("revoke") }
}

pub async fn invite(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    data: FormData,
) -> Result<Response, PageError> {
    let zone = account_zone(&access(&state, &viewer, &id, Need::ReadAccountAndRules).await.or_page(&viewer)?.account);
    let mut unreadable = Vec::new();
    let terms = read_terms(&data, &zone, &mut unreadable);
    let result = if unreadable.is_empty() {
        let body = InvitationRequest {
            email: data.text("email"),
            role: data.text("role"),
            expires_at: terms.expires_at,
            windows: terms.windows,
            daily_quota: terms.daily_quota,
            grant: terms.grant,
            revoke: terms.revoke,
            invitation_expires_at: None,
        };
        create_invitation(&state, &viewer.ctx(), &viewer.principal, &id, body).await.map_err(ApiError)
    } else {
        Err(ApiError(AppError::Validation(unreadable)))
    };
    let mut page = members_view(&state, &viewer, &id).await.or_page(&viewer)?;
    Ok(match result {
        Ok(created) => {
            page.created = Some(created);
            render(StatusCode::CREATED, &page)
        }
        Err(e) => {
            page.invite = Form::new("invite", &viewer.csrf).with_values(data).failed(&e);
            render_failed(&page, &e)
        }
    })
}

async fn row_failed(state: &AppState, viewer: &Viewer, id: &AccountId, e: &ApiError) -> Result<Response, PageError> {
    let mut page = members_view(state, viewer, id).await.or_page(viewer)?;
    page.row_error = Some(crate::web::sentence(e));
    Ok(render_failed(&page, e))
}

pub async fn withdraw(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, inv)): Path<(AccountId, InvitationId)>,
) -> Result<Response, PageError> {
    let result = withdraw_invitation(&state, &viewer.ctx(), &viewer.principal, &id, &inv).await;
    match result.map_err(ApiError) {
        Ok(()) => Ok(see_other(&format!("/accounts/{id}/members?notice=withdrawn"))),
        Err(e) => row_failed(&state, &viewer, &id, &e).await,
    }
}

/// Sends a pending invitation again, with a new link (shown here too, for when mail is off).
pub async fn resend(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, inv)): Path<(AccountId, InvitationId)>,
) -> Result<Response, PageError> {
    let result = resend_invitation(&state, &viewer.ctx(), &viewer.principal, &id, &inv).await;
    match result.map_err(ApiError) {
        Ok(resent) => {
            let mut page = members_view(&state, &viewer, &id).await.or_page(&viewer)?;
            let email = page.invitations.iter().find(|i| inv == i.id).map(|i| i.email.clone()).unwrap_or_default();
            page.resent = Some((email, resent));
            Ok(render(StatusCode::OK, &page))
        }
        Err(e) => row_failed(&state, &viewer, &id, &e).await,
    }
}

/// The confirmation page for removing a member, when the viewer manages members here (else
/// the use case answers with its refusal).
async fn ask_remove(state: &AppState, viewer: &Viewer, id: &AccountId, user_id: &UserId) -> Option<Response> {
    let a = access(state, viewer, id, Need::Capability(Capability::MembersManage)).await.ok()?;
    let members = list_members(state, &viewer.ctx(), &viewer.principal, id).await.ok()?;
    let member = members.into_iter().find(|m| m.user_id == user_id.as_str())?;
    Some(ask(
        viewer,
        Confirm {
            heading: format!("Remove {}?", member.display_name),
            question: format!("Remove {} from {}?", member.display_name, a.account.display_name),
            details: vec![
                "They lose access at once, on every device; their access tokens for this account stop working.".into(),
                "Their posts stay. To work here again they need a new invitation.".into(),
            ],
            action: format!("/accounts/{id}/members/{user_id}/remove"),
            keep: Vec::new(),
            yes: format!("Yes, remove {}", member.display_name),
            back: format!("/accounts/{id}/members"),
            password: None,
        },
    ))
}

pub async fn remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, user_id)): Path<(AccountId, UserId)>,
    data: FormData,
) -> Result<Response, PageError> {
    if !confirmed(&data)
        && let Some(page) = ask_remove(&state, &viewer, &id, &user_id).await
    {
        return Ok(page);
    }
    let result = remove_member(&state, &viewer.ctx(), &viewer.principal, &id, &user_id, false).await;
    match result.map_err(ApiError) {
        Ok(()) => Ok(see_other(&format!("/accounts/{id}/members?notice=removed"))),
        Err(e) => row_failed(&state, &viewer, &id, &e).await,
    }
}

#[derive(Template)]
#[template(path = "member.html")]
struct MemberPage {
    layout: Layout,
    id: String,
    member: MemberView,
    form: Form,
    roles: Vec<(String, String)>,
    statuses: Vec<(String, String)>,
    capabilities: Vec<(String, String, Vec<&'static str>)>,
    publish_roles: Vec<&'static str>,
    joined: Html,
    /// The member's devices; `None` for the owner (whose devices are the owner's own business).
    devices: Option<Vec<crate::web::member_devices::DeviceLine>>,
}

async fn member_view(
    state: &AppState,
    viewer: &Viewer,
    id: &AccountId,
    user_id: &str,
) -> Result<(MemberPage, jiff::tz::TimeZone), ApiError> {
    let a = access(state, viewer, id, Need::Capability(Capability::MembersManage)).await?;
    let list = list_members(state, &viewer.ctx(), &viewer.principal, id).await?;
    let member = list.into_iter().find(|m| m.user_id == user_id).ok_or(ApiError(AppError::NotFound))?;
    let zone = account_zone(&a.account);
    let mut form = Form::new("member", &viewer.csrf)
        .value("role", member.role.clone())
        .value("status", if member.status == "suspended" { "suspended" } else { "active" })
        .value("expires_at", member.expires_at.as_deref().map(|e| rfc3339_to_local_input(e, &zone)).unwrap_or_default())
        .value("daily_quota", member.daily_quota.map(|q| q.to_string()).unwrap_or_default());
    for g in &member.grant {
        form = form.value("grant", *g);
    }
    for r in &member.revoke {
        form = form.value("revoke", *r);
    }
    match member_windows(&member) {
        Some(windows) => {
            form = form.value("hours", preset_of(&windows));
            for cell in windows_to_grid(&windows) {
                form = form.value("w", cell);
            }
        }
        None => form = form.field_error("windows", UNREADABLE_WINDOWS),
    }
    let devices = crate::web::member_devices::device_lines(state, viewer, id, &member, &zone).await?;
    let mut layout = viewer.layout(format!("{} on {}", member.display_name, a.account.display_name));
    layout.account = Some(account_nav(&a, "members"));
    let page = MemberPage {
        devices,
        layout,
        id: id.to_string(),
        joined: when(&member.joined_at, &zone, viewer.tz.as_ref()),
        statuses: ["active", "suspended"].iter().map(|s| (s.to_string(), s.to_string())).collect(),
        member,
        form,
        roles: assignable_roles(&a.rights),
        capabilities: capability_options(&a),
        publish_roles: publishing_roles(),
    };
    Ok((page, zone))
}

pub async fn member_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, user_id)): Path<(AccountId, String)>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let (mut page, _) = member_view(&state, &viewer, &id, &user_id).await.or_page(&viewer)?;
    page.layout.notice = notice_text(q.notice());
    Ok(render(StatusCode::OK, &page))
}

pub async fn member_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, user_id)): Path<(AccountId, UserId)>,
    data: FormData,
) -> Result<Response, PageError> {
    let (mut page, zone) = member_view(&state, &viewer, &id, &user_id).await.or_page(&viewer)?;
    let mut unreadable = Vec::new();
    let terms = read_terms(&data, &zone, &mut unreadable);
    let result = if unreadable.is_empty() {
        let body = MemberUpdate {
            role: data.opt("role"),
            expires_at: Some(terms.expires_at),
            windows: Some(terms.windows),
            daily_quota: Some(terms.daily_quota),
            grant: Some(terms.grant),
            revoke: Some(terms.revoke),
            status: data.opt("status"),
        };
        update_member(&state, &viewer.ctx(), &viewer.principal, &id, &user_id, body).await.map(|_| ()).map_err(ApiError)
    } else {
        Err(ApiError(AppError::Validation(unreadable)))
    };
    Ok(match result {
        Ok(()) => see_other(&format!("/accounts/{id}/members?notice=updated")),
        Err(e) => {
            page.form = Form::new("member", &viewer.csrf).with_values(data).failed(&e);
            render_failed(&page, &e)
        }
    })
}
