//! Alerts: my alerts (unread first) with acknowledge one and acknowledge all, my delivery
//! preferences (email, signed webhook, which kinds), and an account's alert thresholds.
use std::collections::HashMap;
use steward_domain::ids::{AccountId, AlertId};

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use steward_domain::alerts::{AlertKind, AlertThresholds, Threshold};
use steward_domain::capability::Capability;

use crate::error::{ApiError, FieldError, Path, Query};
use crate::state::AppState;
use crate::web::account::{access, account_nav};
use crate::web::html::{Html, escape};
use crate::web::time::when_mine;
use crate::web::{Form, FormData, Layout, OrPage, PageError, Viewer, render, render_failed, see_other};
use steward_app::AppError;
use steward_app::accounts::settings::{SettingsRequest, update_settings};
use steward_app::accounts::view::list_accounts;
use steward_app::alerts::AlertView;
use steward_app::alerts::inbox::{self, AlertsQuery};
use steward_app::alerts::preferences::{self, PreferencesRequest, PreferencesView};
use steward_app::authz::Need;

/// An alert kind in words, for the list and the preferences.
#[must_use]
pub fn kind_words(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::CredentialFailed => "A platform credential stopped working",
        AlertKind::NewDeviceSignIn => "Sign-in from a new device",
        AlertKind::FailedSignIns => "Repeated failed sign-ins",
        AlertKind::DeniedActions => "Repeated refused actions by a member",
        AlertKind::OutsideWindow => "A member acting outside their posting hours",
        AlertKind::PostBurst => "A burst of new posts",
        AlertKind::MemberChangeBurst => "A burst of member changes",
        AlertKind::MemberChanged => "Members changed by someone else",
        AlertKind::RoleChanged => "Roles changed by someone else",
        AlertKind::CredentialChanged => "The credential changed by someone else",
        AlertKind::SettingsChanged => "Settings changed by someone else",
        AlertKind::Lockdown => "Lockdown",
        AlertKind::PostHeld => "A due post was held",
        AlertKind::PostFailed => "A post failed to publish",
    }
}

pub struct AlertItem {
    pub id: AlertId,
    pub severity: String,
    pub kind: String,
    pub summary: String,
    pub detail: String,
    pub count: i64,
    pub account: Option<(String, String)>,
    pub first_seen: Html,
    pub last_seen: Option<Html>,
    pub acknowledged: Option<Html>,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    layout: Layout,
    csrf: String,
    unread: Vec<AlertItem>,
    read: Vec<AlertItem>,
    older: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct AlertsPageQuery {
    notice: Option<String>,
    cursor: Option<String>,
}

fn item(a: AlertView, names: &HashMap<String, String>, viewer: &Viewer) -> AlertItem {
    let tz = viewer.tz.as_ref();
    AlertItem {
        kind: AlertKind::parse(&a.kind).map(kind_words).unwrap_or("Alert").to_string(),
        account: a.account_id.as_ref().map(|id| {
            (format!("/accounts/{id}"), names.get(id.as_str()).cloned().unwrap_or_else(|| "an account".into()))
        }),
        first_seen: when_mine(&a.created_at, tz),
        last_seen: (a.count > 1).then(|| when_mine(&a.last_seen_at, tz)),
        acknowledged: a.acknowledged_at.as_deref().map(|t| when_mine(t, tz)),
        id: a.id,
        severity: a.severity,
        summary: a.summary,
        detail: a.detail,
        count: a.count,
    }
}

async fn alerts_view(state: &AppState, viewer: &Viewer, cursor: Option<String>) -> Result<AlertsPage, ApiError> {
    let who = &viewer.principal;
    let names: HashMap<String, String> =
        list_accounts(state, who).await?.into_iter().map(|a| (a.id.into_string(), a.display_name)).collect();
    let unread = if cursor.is_none() { inbox::unread_alerts(state, who).await? } else { Vec::new() };
    let all =
        inbox::list_alerts(state, who, &AlertsQuery { unacknowledged: Some(false), limit: Some(50), cursor }).await?;
    let older = all
        .next_cursor
        .map(|c| format!("/alerts?{}", serde_urlencoded::to_string([("cursor", c)]).unwrap_or_default()));
    let read = all.items.into_iter().filter(|a| a.acknowledged_at.is_some()).map(|a| item(a, &names, viewer)).collect();
    let unread = unread.into_iter().map(|a| item(a, &names, viewer)).collect();
    Ok(AlertsPage { layout: viewer.layout("Alerts"), csrf: viewer.csrf.clone(), unread, read, older, error: None })
}

fn notice(key: Option<&str>) -> Option<String> {
    match key? {
        "acked" => Some("The alert is marked as read.".into()),
        "all_acked" => Some("Every alert is marked as read.".into()),
        "saved" => Some("Your alert preferences are saved.".into()),
        "rotated" => Some("The webhook secret is new: update your receiver with it.".into()),
        _ => None,
    }
}

pub async fn alerts_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<AlertsPageQuery>,
) -> Result<Response, PageError> {
    let mut page = alerts_view(&state, &viewer, q.cursor).await.or_page(&viewer)?;
    page.layout.notice = notice(q.notice.as_deref());
    Ok(render(StatusCode::OK, &page))
}

async fn alerts_failed(state: &AppState, viewer: &Viewer, e: &ApiError) -> Result<Response, PageError> {
    let mut page = alerts_view(state, viewer, None).await.or_page(viewer)?;
    page.error = Some(crate::web::sentence(e));
    Ok(render_failed(&page, e))
}

pub async fn acknowledge(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AlertId>,
) -> Result<Response, PageError> {
    match inbox::acknowledge(&state, &viewer.ctx(), &viewer.principal, &id).await {
        Ok(()) => Ok(see_other("/alerts?notice=acked")),
        Err(e) => alerts_failed(&state, &viewer, &ApiError(e)).await,
    }
}

/// Acknowledges each unread alert (each audited, as the API's one at a time).
pub async fn acknowledge_all(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    match inbox::acknowledge_all(&state, &viewer.ctx(), &viewer.principal).await {
        Ok(()) => Ok(see_other("/alerts?notice=all_acked")),
        Err(e) => alerts_failed(&state, &viewer, &ApiError(e)).await,
    }
}

#[derive(Template)]
#[template(path = "alert_preferences.html")]
struct PreferencesPage {
    layout: Layout,
    form: Form,
    kinds: Vec<(String, String)>,
    mail_enabled: bool,
    secret: Option<String>,
    csrf: String,
}

fn preferences_form(csrf: &str, p: &PreferencesView) -> Form {
    let mut form = Form::new("prefs", csrf).value("webhook_url", p.webhook_url.clone().unwrap_or_default());
    if p.email {
        form = form.value("email", "on");
    }
    match &p.kinds {
        Some(kinds) => {
            for k in kinds {
                form = form.value("kinds", k.clone());
            }
        }
        None => {
            for k in AlertKind::ALL {
                form = form.value("kinds", k.as_str());
            }
        }
    }
    form
}

fn kind_options() -> Vec<(String, String)> {
    AlertKind::ALL.iter().map(|k| (k.as_str().to_string(), kind_words(*k).to_string())).collect()
}

fn preferences_page(state: &AppState, viewer: &Viewer, form: Form, secret: Option<String>) -> PreferencesPage {
    PreferencesPage {
        layout: viewer.layout("Alert preferences"),
        form,
        kinds: kind_options(),
        mail_enabled: state.settings.mail_enabled(),
        secret,
        csrf: viewer.csrf.clone(),
    }
}

pub async fn preferences(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<AlertsPageQuery>,
) -> Result<Response, PageError> {
    let p = preferences::get_preferences(&state, &viewer.principal).await.or_page(&viewer)?;
    let mut page = preferences_page(&state, &viewer, preferences_form(&viewer.csrf, &p), p.webhook_secret);
    page.layout.notice = notice(q.notice.as_deref());
    Ok(render(StatusCode::OK, &page))
}

pub async fn preferences_submit(State(state): State<AppState>, viewer: Viewer, data: FormData) -> Response {
    let ticked = data.all("kinds");
    // Every kind ticked is "all kinds", so kinds added later are delivered too.
    let kinds = if AlertKind::ALL.iter().all(|k| ticked.iter().any(|t| t == k.as_str())) { None } else { Some(ticked) };
    let body = PreferencesRequest { email: data.checked("email"), webhook_url: data.opt("webhook_url"), kinds };
    match preferences::put_preferences(&state, &viewer.ctx(), &viewer.principal, body).await.map_err(ApiError) {
        Ok(_) => see_other("/alerts/preferences?notice=saved"),
        Err(e) => {
            let secret =
                preferences::get_preferences(&state, &viewer.principal).await.ok().and_then(|p| p.webhook_secret);
            let form = Form::new("prefs", &viewer.csrf).with_values(data).failed(&e);
            render_failed(&preferences_page(&state, &viewer, form, secret), &e)
        }
    }
}

pub async fn rotate_secret(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    Ok(match preferences::rotate_secret(&state, &viewer.ctx(), &viewer.principal).await.map_err(ApiError) {
        Ok(_) => see_other("/alerts/preferences?notice=rotated"),
        Err(e) => {
            let p = preferences::get_preferences(&state, &viewer.principal).await.or_page(&viewer)?;
            let form = preferences_form(&viewer.csrf, &p).failed(&e);
            render_failed(&preferences_page(&state, &viewer, form, p.webhook_secret), &e)
        }
    })
}

/// The four checks with thresholds, in the order of the form: `(key, what it counts)`.
const CHECKS: [(&str, &str); 4] = [
    ("failed_sign_ins", "Failed sign-ins of one member"),
    ("denied_actions", "Refused actions by one member"),
    ("post_burst", "New posts on the account"),
    ("member_change_burst", "Member changes on the account"),
];

fn threshold(t: &AlertThresholds, key: &str) -> Threshold {
    match key {
        "failed_sign_ins" => t.failed_sign_ins,
        "denied_actions" => t.denied_actions,
        "post_burst" => t.post_burst,
        _ => t.member_change_burst,
    }
}

pub struct CheckRow {
    pub key: &'static str,
    pub label: &'static str,
    pub default: String,
}

#[derive(Template)]
#[template(path = "alert_thresholds.html")]
struct ThresholdsPage {
    layout: Layout,
    id: String,
    form: Form,
    checks: Vec<CheckRow>,
}

impl ThresholdsPage {
    /// One fieldset per check: how many times, within how many minutes.
    fn check_fields(&self) -> Html {
        self.checks
            .iter()
            .map(|c| {
                Html::escaped(format!(
                    "<fieldset><legend>{label}</legend><p class=\"hint\">Default: {default}.</p>{count}{minutes}</fieldset>",
                    label = escape(c.label),
                    default = escape(&c.default),
                    count = self.form.input(
                        &format!("alert_thresholds.{}.count", c.key),
                        &format!("{}: alert at this many", c.label),
                        "number",
                        "min=\"1\" max=\"1000\" required"
                    ),
                    minutes = self.form.input(
                        &format!("alert_thresholds.{}.minutes", c.key),
                        &format!("{}: within this many minutes", c.label),
                        "number",
                        "min=\"1\" max=\"1440\" required"
                    ),
                ))
            })
            .collect()
    }
}

fn check_rows() -> Vec<CheckRow> {
    let d = AlertThresholds::default();
    CHECKS
        .iter()
        .map(|(key, label)| {
            let t = threshold(&d, key);
            CheckRow { key, label, default: format!("{} in {} minutes", t.count, t.minutes) }
        })
        .collect()
}

async fn thresholds_view(
    state: &AppState,
    viewer: &Viewer,
    id: &AccountId,
) -> Result<(ThresholdsPage, AlertThresholds), ApiError> {
    let a = access(state, viewer, id, Need::Capability(Capability::SettingsManage)).await?;
    let current = AlertThresholds::from_stored(&a.account.alert_thresholds);
    let mut layout = viewer.layout(format!("Alert thresholds of {}", a.account.display_name));
    layout.account = Some(account_nav(&a, "settings"));
    let page = ThresholdsPage {
        layout,
        id: id.to_string(),
        form: Form::new("thresholds", &viewer.csrf),
        checks: check_rows(),
    };
    Ok((page, current))
}

pub async fn thresholds_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    Query(q): Query<AlertsPageQuery>,
) -> Result<Response, PageError> {
    let (mut page, current) = thresholds_view(&state, &viewer, &id).await.or_page(&viewer)?;
    let mut form = Form::new("thresholds", &viewer.csrf);
    for (key, _) in CHECKS {
        let t = threshold(&current, key);
        form = form
            .value(&format!("alert_thresholds.{key}.count"), t.count.to_string())
            .value(&format!("alert_thresholds.{key}.minutes"), t.minutes.to_string());
    }
    page.form = form;
    page.layout.notice = (q.notice.as_deref() == Some("saved")).then(|| "Saved.".to_string());
    Ok(render(StatusCode::OK, &page))
}

pub async fn thresholds_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    data: FormData,
) -> Result<Response, PageError> {
    let mut unreadable = Vec::new();
    let mut thresholds = serde_json::Map::new();
    for (key, _) in CHECKS {
        let mut t = serde_json::Map::new();
        for part in ["count", "minutes"] {
            let field = format!("alert_thresholds.{key}.{part}");
            match data.text(&field).parse::<i64>() {
                Ok(n) => {
                    t.insert(part.into(), n.into());
                }
                Err(_) => unreadable.push(FieldError::new(&field, "must be a whole number")),
            }
        }
        thresholds.insert(key.into(), t.into());
    }
    let body = SettingsRequest {
        max_members: None,
        min_gap_minutes: None,
        max_posts_per_day: None,
        max_devices_per_member: None,
        approvals_required: None,
        owner_approval_required: None,
        admins_may_approve_own: None,
        time_zone: None,
        rules_text: None,
        alert_thresholds: Some(thresholds.into()),
    };
    // A field that could not even be read saves nothing: those fields are the errors.
    let result = if unreadable.is_empty() {
        update_settings(&state, &viewer.ctx(), &viewer.principal, &id, body).await.map(|_| ())
    } else {
        Err(AppError::Validation(unreadable))
    }
    .map_err(ApiError);
    Ok(match result {
        Ok(()) => see_other(&format!("/accounts/{id}/settings/alerts?notice=saved")),
        Err(e) => {
            let (mut page, _) = thresholds_view(&state, &viewer, &id).await.or_page(&viewer)?;
            page.form = Form::new("thresholds", &viewer.csrf).with_values(data).failed(&e);
            render_failed(&page, &e)
        }
    })
}
