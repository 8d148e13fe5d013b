//! Home (my accounts), an account's overview with its house rules, and its settings.
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use steward_app::AppError;
use steward_domain::capability::Capability;
use steward_domain::ids::AccountId;
use steward_domain::platform;
use steward_domain::windows::parse_time_zone;

use steward_app::accounts::check;
use steward_app::accounts::ownership::{self, DeleteAccountRequest};
use steward_app::accounts::rules::{self, AcceptRulesRequest};
use steward_app::accounts::settings::{self, SettingsRequest};
use steward_app::accounts::view::{AccountView, account_view, list_accounts};
use steward_app::members::membership;
use steward_app::posts::needs_you::{AccountNeeds, needs_you};

use crate::web::confirm::{Confirm, ask, ask_again, confirmed};
use crate::web::time::zones_datalist;
use crate::web::words::{account_status, hold_sentence, label_of, membership_status};

use crate::error::{ApiError, Path, Query};
use crate::state::AppState;
use crate::web::html::{Html, describe_capability};
use crate::web::{
    AccountNav, Form, FormData, Layout, OrPage, PageError, Tab, Viewer, render, render_failed, see_other,
};
use steward_app::authz::{AccountAccess, Need, authorize};

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

impl NoticeQuery {
    #[must_use]
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }
}

/// Fixed notices after a form worked (a key in the URL, never text from it).
pub fn notice_text(key: Option<&str>) -> Option<String> {
    let text = match key? {
        "joined" => "Welcome: you are now a member of this account.",
        "rules" => "Thank you: you accepted the house rules.",
        "saved" => "Saved.",
        "connected" => {
            "The account is connected. Its credential is sealed on this server: nobody you invite will ever see it."
        }
        "removed" => "The member was removed.",
        "withdrawn" => "The invitation was withdrawn.",
        "left" => "You left the account.",
        "updated" => "The member's access was changed.",
        "totp_off" => "You turned two-factor authentication off.",
        "password_changed" => "Your password is changed, and your other sessions are signed out.",
        "resent" => "The invitation was sent again with a new link; the old link no longer works.",
        "revoked" => "Revoked.",
        "others_out" => "Every other session is signed out.",
        "lifted" => "The lockdown is lifted: Steward publishes on this account again.",
        "lifted_disconnected" => {
            "The lockdown is lifted. Its platform connection was removed during the lockdown: connect the account again before Steward can publish."
        }
        "deleted" => "The account is deleted from Steward.",
        "device_ended" => "That device is signed out; the member signs in again there to come back.",
        _ => return None,
    };
    Some(text.into())
}

/// The account's time zone (an unreadable stored zone shows as UTC rather than failing).
#[must_use]
pub fn account_zone(a: &steward_store::AccountRow) -> jiff::tz::TimeZone {
    parse_time_zone(&a.time_zone).unwrap_or(jiff::tz::TimeZone::UTC)
}

#[must_use]
pub fn platform_name(id: &str) -> String {
    platform::platform(id).map(|p| p.name.to_string()).unwrap_or_else(|| id.to_string())
}

/// The account's tabs: only those the viewer may use.
#[must_use]
pub fn account_nav(access: &AccountAccess, current: &str) -> AccountNav {
    let id = &access.account.id;
    let mut tabs = vec![("overview", format!("/accounts/{id}"), "Overview")];
    if access.has(Capability::AccountView) {
        tabs.push(("posts", format!("/accounts/{id}/posts"), "Posts"));
        tabs.push(("calendar", format!("/accounts/{id}/calendar"), "Calendar"));
        tabs.push(("review", format!("/accounts/{id}/review"), "Review queue"));
    }
    if access.has(Capability::DraftsCreate) {
        tabs.push(("new", format!("/accounts/{id}/posts/new"), "New post"));
    }
    if access.has(Capability::CommentsReply) {
        tabs.push(("comments", format!("/accounts/{id}/comments"), "Comments"));
    }
    if access.has(Capability::AnalyticsView) {
        tabs.push(("analytics", format!("/accounts/{id}/analytics"), "Analytics"));
    }
    if access.has(Capability::AccountView) {
        tabs.push(("members", format!("/accounts/{id}/members"), "Members"));
    }
    if access.has(Capability::SettingsManage) {
        tabs.push(("settings", format!("/accounts/{id}/settings"), "Settings"));
    }
    if access.has(Capability::AuditView) {
        tabs.push(("activity", format!("/accounts/{id}/activity"), "Activity"));
    }
    if access.has(Capability::Lockdown) {
        tabs.push(("lockdown", format!("/accounts/{id}/lockdown"), "Lockdown"));
    }
    AccountNav {
        id: id.to_string(),
        name: access.account.display_name.clone(),
        tabs: tabs.into_iter().map(|(key, href, label)| Tab { href, label, current: key == current }).collect(),
    }
}

/// Authorizes the viewer on the account through the one authorization point.
pub async fn access(state: &AppState, viewer: &Viewer, id: &AccountId, need: Need) -> Result<AccountAccess, ApiError> {
    Ok(authorize(state, &viewer.ctx(), &viewer.principal, id, need).await?)
}

pub struct AccountCard {
    pub view: AccountView,
    pub platform: String,
    pub rules_pending: bool,
    /// Posts in review the viewer could approve (0 when they do not approve posts here).
    pub awaiting_approval: i64,
    pub status: &'static str,
    pub my_status: &'static str,
}

/// A line of "needs you": what waits, where it is, and why.
pub struct NeedLine {
    pub href: String,
    pub what: String,
    pub account: String,
    /// The request for changes, or why the post was held.
    pub detail: Option<String>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    accounts: Vec<AccountCard>,
    unread_alerts: usize,
    needs_you: Vec<NeedLine>,
}

fn need_lines(needs: &[AccountNeeds]) -> Vec<NeedLine> {
    let mut lines = Vec::new();
    // Unread notifications join this list first once Steward has them (a line each, or one
    // line with their count and a link), before the posts below.
    for n in needs {
        if n.to_review > 0 {
            lines.push(NeedLine {
                href: format!("/accounts/{}/review", n.account_id),
                what: if n.to_review == 1 {
                    "1 post is waiting for your approval".into()
                } else {
                    format!("{} posts are waiting for your approval", n.to_review)
                },
                account: n.account_name.clone(),
                detail: None,
            });
        }
        for b in &n.sent_back {
            lines.push(NeedLine {
                href: format!("/posts/{}", b.post_id),
                what: format!("Changes requested on \u{201c}{}\u{201d}", label_of(b.title.as_deref(), &b.text)),
                account: n.account_name.clone(),
                detail: Some(format!("{} asked: {}", b.requested_by, b.request)),
            });
        }
        for h in &n.held {
            lines.push(NeedLine {
                href: format!("/posts/{}", h.post_id),
                what: format!("Held: \u{201c}{}\u{201d}", label_of(h.title.as_deref(), &h.text)),
                account: n.account_name.clone(),
                detail: Some(hold_sentence(h.reason.map(|r| r.as_str()).unwrap_or("")).to_string()),
            });
        }
    }
    lines
}

pub async fn home(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let views = list_accounts(&state, &viewer.principal).await.or_page(&viewer)?;
    let needs = needs_you(&state, &viewer.ctx(), &viewer.principal).await.or_page(&viewer)?;
    let accounts = views
        .into_iter()
        .map(|view| AccountCard {
            platform: platform_name(&view.platform),
            rules_pending: view.my_role != "owner" && view.rules.version > view.rules.accepted_version,
            awaiting_approval: needs.iter().find(|n| n.account_id == view.id).map_or(0, |n| n.to_review),
            status: account_status(&view.status),
            my_status: membership_status(&view.my_status),
            view,
        })
        .collect();
    let unread_alerts = steward_app::alerts::inbox::unread_count(&state, &viewer.principal).await.or_page(&viewer)?;
    let mut layout = viewer.layout("My accounts");
    layout.notice = notice_text(q.notice.as_deref());
    Ok(render(StatusCode::OK, &HomePage { layout, accounts, unread_alerts, needs_you: need_lines(&needs) }))
}

#[derive(Template)]
#[template(path = "account.html")]
struct OverviewPage {
    layout: Layout,
    id: String,
    view: AccountView,
    platform: String,
    status: &'static str,
    my_status: &'static str,
    oauth: bool,
    created: Html,
    abilities: Vec<&'static str>,
    rules_pending: bool,
    can_check: bool,
    can_reconnect: bool,
    /// The platform refused the credential for good: Steward sends nothing until it is
    /// reconnected, and the page leads with that one action.
    needs_reconnect: bool,
    is_owner: bool,
    rules_form: Form,
    check_form: Form,
    leave_form: Form,
    check_result: Option<String>,
}

async fn overview_page(
    state: &AppState,
    viewer: &Viewer,
    id: &AccountId,
    notice: Option<String>,
) -> Result<OverviewPage, ApiError> {
    let a = access(state, viewer, id, Need::ReadAccountAndRules).await?;
    let zone = account_zone(&a.account);
    let nav = account_nav(&a, "overview");
    let can_check = a.has(Capability::SettingsManage);
    let can_reconnect = a.has(Capability::CredentialManage);
    let is_owner = a.is_owner();
    let abilities = a.capabilities.iter().map(describe_capability).collect();
    let needs_reconnect = matches!(a.account.status.as_str(), "needs_reconnect" | "disconnected");
    let view = account_view(state, a.account, &a.membership);
    let mut layout = viewer.layout(view.display_name.clone());
    layout.account = Some(nav);
    layout.notice = notice;
    Ok(OverviewPage {
        id: id.to_string(),
        platform: platform_name(&view.platform),
        status: account_status(&view.status),
        my_status: membership_status(&view.my_status),
        oauth: platform::platform(&view.platform).is_some_and(|p| p.connect == platform::ConnectMethod::Oauth),
        created: crate::web::time::when(&view.created_at, &zone, viewer.tz.as_ref()),
        abilities,
        rules_pending: !is_owner && view.rules.version > view.rules.accepted_version,
        can_check,
        can_reconnect,
        needs_reconnect,
        is_owner,
        rules_form: Form::new("rules", &viewer.csrf),
        check_form: Form::new("check", &viewer.csrf),
        leave_form: Form::new("leave", &viewer.csrf),
        check_result: None,
        view,
        layout,
    })
}

pub async fn overview(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let mut page = overview_page(&state, &viewer, &id, notice_text(q.notice.as_deref())).await.or_page(&viewer)?;
    // Connected (the sandbox, Bluesky, LinkedIn pages, or back from a platform's consent): the
    // notice names the account, from what is stored, never from the URL.
    if let Some(verb) = match q.notice.as_deref() {
        Some("connected") => Some("is connected"),
        Some("reconnected") => Some("is connected again"),
        _ => None,
    } {
        page.layout.notice = Some(format!(
            "{} account {} {verb}. Its credential is sealed on this server: nobody you invite will ever see it.",
            page.platform.split(" (").next().unwrap_or_default(),
            page.view.display_name
        ));
    }
    Ok(render(StatusCode::OK, &page))
}

pub async fn accept_rules(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    data: FormData,
) -> Result<Response, PageError> {
    let version = data.text("version").parse::<i64>().unwrap_or(-1);
    let result =
        rules::accept_rules(&state, &viewer.ctx(), &viewer.principal, &id, AcceptRulesRequest { version }).await;
    Ok(match result.map_err(ApiError) {
        Ok(()) => see_other(&format!("/accounts/{id}?notice=rules")),
        Err(e) => {
            let mut page = overview_page(&state, &viewer, &id, None).await.or_page(&viewer)?;
            page.rules_form = Form::new("rules", &viewer.csrf).failed(&e);
            render_failed(&page, &e)
        }
    })
}

/// "Test connection".
pub async fn check(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
) -> Result<Response, PageError> {
    let result = check::check_account(&state, &viewer.ctx(), &viewer.principal, &id).await.map_err(ApiError);
    let mut page = overview_page(&state, &viewer, &id, None).await.or_page(&viewer)?;
    Ok(match result {
        Ok(check) => {
            page.check_result = Some(match check.status {
                "active" => format!(
                    "The connection works: the platform knows this account as {}.",
                    check.identity.map(|i| i.handle).unwrap_or_default()
                ),
                _ => "The platform refused the stored credential: connect the account again.".into(),
            });
            render(StatusCode::OK, &page)
        }
        Err(e) => {
            page.check_form = Form::new("check", &viewer.csrf).failed(&e);
            render_failed(&page, &e)
        }
    })
}

/// A member leaves the account (the same use case as removing oneself).
pub async fn leave(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
) -> Result<Response, PageError> {
    let result = membership::leave(&state, &viewer.ctx(), &viewer.principal, &id).await;
    Ok(match result.map_err(ApiError) {
        Ok(()) => see_other("/?notice=left"),
        Err(e) => {
            let mut page = overview_page(&state, &viewer, &id, None).await.or_page(&viewer)?;
            page.leave_form = Form::new("leave", &viewer.csrf).failed(&e);
            render_failed(&page, &e)
        }
    })
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    id: String,
    form: Form,
    forced_owner_approval: bool,
    /// Deleting the account (the owner only), which asks for the password again.
    delete: Option<Form>,
    zones: Html,
}

async fn settings_view(
    state: &AppState,
    viewer: &Viewer,
    id: &AccountId,
) -> Result<(SettingsPage, AccountView), ApiError> {
    let a = access(state, viewer, id, Need::Capability(Capability::SettingsManage)).await?;
    let forced_owner_approval = platform::kind_of(a.account.platform.as_str(), &a.account.account_kind)
        .is_some_and(|k| k.owner_approval_required);
    let nav = account_nav(&a, "settings");
    let delete = a.has(Capability::OwnershipTransfer).then(|| Form::new("delete", &viewer.csrf));
    let view = account_view(state, a.account, &a.membership);
    let mut layout = viewer.layout(format!("Settings of {}", view.display_name));
    layout.account = Some(nav);
    let page = SettingsPage {
        layout,
        id: id.to_string(),
        form: Form::new("settings", &viewer.csrf),
        forced_owner_approval,
        delete,
        zones: zones_datalist(),
    };
    Ok((page, view))
}

fn settings_values(form: Form, v: &AccountView) -> Form {
    let s = &v.settings;
    let mut form = form
        .value("approvals_required", s.approvals_required.to_string())
        .value("min_gap_minutes", s.min_gap_minutes.to_string())
        .value("max_posts_per_day", s.max_posts_per_day.map(|n| n.to_string()).unwrap_or_default())
        .value("max_members", s.max_members.to_string())
        .value("max_devices_per_member", s.max_devices_per_member.map(|n| n.to_string()).unwrap_or_default())
        .value("time_zone", v.time_zone.clone())
        .value("rules_text", v.rules.text.clone());
    if s.owner_approval_required {
        form = form.value("owner_approval_required", "on");
    }
    if s.admins_may_approve_own {
        form = form.value("admins_may_approve_own", "on");
    }
    form
}

pub async fn settings_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let (mut page, view) = settings_view(&state, &viewer, &id).await.or_page(&viewer)?;
    page.form = settings_values(page.form, &view);
    page.layout.notice = notice_text(q.notice.as_deref());
    Ok(render(StatusCode::OK, &page))
}

/// Saves settings through the use case, unless a field could not even be read (then nothing
/// is saved and those fields are the errors).
async fn save_settings(
    state: &AppState,
    viewer: &Viewer,
    id: &AccountId,
    body: SettingsRequest,
    unreadable: Vec<crate::error::FieldError>,
) -> Result<(), ApiError> {
    if !unreadable.is_empty() {
        return Err(ApiError(AppError::Validation(unreadable)));
    }
    settings::update_settings(state, &viewer.ctx(), &viewer.principal, id, body).await?;
    Ok(())
}

/// A number field: blank is `None`; anything unreadable is a field error for the page.
fn number(data: &FormData, name: &str, errors: &mut Vec<(String, &'static str)>) -> Option<i64> {
    let raw = data.opt(name)?;
    match raw.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.push((name.to_string(), "must be a whole number"));
            None
        }
    }
}

pub async fn settings_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    data: FormData,
) -> Result<Response, PageError> {
    let mut unreadable = Vec::new();
    let body = SettingsRequest {
        max_members: number(&data, "max_members", &mut unreadable),
        min_gap_minutes: number(&data, "min_gap_minutes", &mut unreadable),
        max_posts_per_day: Some(number(&data, "max_posts_per_day", &mut unreadable)),
        max_devices_per_member: Some(number(&data, "max_devices_per_member", &mut unreadable)),
        approvals_required: number(&data, "approvals_required", &mut unreadable),
        owner_approval_required: Some(data.checked("owner_approval_required")),
        admins_may_approve_own: Some(data.checked("admins_may_approve_own")),
        time_zone: Some(data.text("time_zone")),
        rules_text: Some(data.get("rules_text").unwrap_or("").replace("\r\n", "\n")),
        // Alert thresholds have their own form (web::alerts): left as they are.
        alert_thresholds: None,
    };
    let unreadable = unreadable.into_iter().map(|(f, m)| crate::error::FieldError::new(f, m)).collect();
    let result = save_settings(&state, &viewer, &id, body, unreadable).await;
    Ok(match result {
        Ok(()) => see_other(&format!("/accounts/{id}/settings?notice=saved")),
        Err(e) => {
            let (mut page, _) = settings_view(&state, &viewer, &id).await.or_page(&viewer)?;
            page.form = Form::new("settings", &viewer.csrf).with_values(data).failed(&e);
            render_failed(&page, &e)
        }
    })
}

/// What deleting the account asks, with the password (and code) fields.
fn delete_question(id: &str, name: &str, form: Form) -> Confirm {
    Confirm {
        heading: format!("Delete {name}?"),
        question: format!("Delete {name} from Steward for good?"),
        details: vec![
            "Its members lose access, its posts and their history are deleted, and the stored platform credential is destroyed. This cannot be undone.".into(),
            "Enter your password again (and your two-factor code when it is on).".into(),
        ],
        action: format!("/accounts/{id}/delete"),
        keep: Vec::new(),
        yes: "Yes, delete the account".into(),
        back: format!("/accounts/{id}/settings"),
        password: Some(form),
    }
}

/// Deletes the account once the owner confirmed and gave their password (and code) again,
/// through the same use case as `DELETE /api/v1/accounts/{id}`; a refusal shows by the form.
pub async fn delete_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    data: FormData,
) -> Result<Response, PageError> {
    if !confirmed(&data)
        && let Ok(a) = access(&state, &viewer, &id, Need::Capability(Capability::OwnershipTransfer)).await
    {
        let form = Form::new("delete", &viewer.csrf);
        return Ok(ask(&viewer, delete_question(&id, &a.account.display_name, form)));
    }
    let body =
        DeleteAccountRequest { password: data.get("password").unwrap_or("").to_string(), totp: data.opt("totp") };
    let result = ownership::delete_account(&state, &viewer.ctx(), &viewer.principal, &id, body).await.map_err(ApiError);
    Ok(match result {
        Ok(()) => see_other("/?notice=deleted"),
        Err(e) => match access(&state, &viewer, &id, Need::Capability(Capability::OwnershipTransfer)).await {
            // The owner gave a wrong password or code: asked again, the error by its field.
            Ok(a) => {
                let form = Form::new("delete", &viewer.csrf).failed(&e);
                ask_again(&viewer, delete_question(&id, &a.account.display_name, form), &e)
            }
            Err(_) => {
                let (mut page, view) = settings_view(&state, &viewer, &id).await.or_page(&viewer)?;
                page.form = settings_values(page.form, &view);
                page.delete = Some(Form::new("delete", &viewer.csrf).failed(&e));
                render_failed(&page, &e)
            }
        },
    })
}
