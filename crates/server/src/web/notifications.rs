//! Notifications: the viewer's notifications (newest first, unread marked, each linking to its
//! post) with "mark as read", and their preferences (mail for each, the daily digest). The
//! same use cases as `GET /api/v1/notifications` and `/me/notification-preferences`.
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use steward_app::notifications::inbox::{self, NotificationView, NotificationsQuery};
use steward_app::notifications::preferences::{self, NotificationPreferences};
use steward_domain::ids::NotificationId;

use crate::error::{ApiError, Path, Query};
use crate::state::AppState;
use crate::web::html::Html;
use crate::web::time::when_mine;
use crate::web::{Form, FormData, Layout, OrPage, PageError, Viewer, render, render_failed, see_other};

pub struct NotificationItem {
    pub id: NotificationId,
    pub text: String,
    pub post: Option<String>,
    pub at: Html,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    layout: Layout,
    csrf: String,
    items: Vec<NotificationItem>,
    older: Option<String>,
    form: Form,
    mail_enabled: bool,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NotificationsPageQuery {
    notice: Option<String>,
    cursor: Option<String>,
}

fn item(n: NotificationView, viewer: &Viewer) -> NotificationItem {
    NotificationItem {
        at: when_mine(&n.created_at, viewer.tz.as_ref()),
        unread: n.read_at.is_none(),
        post: n.post_id.map(|p| format!("/posts/{p}")),
        id: n.id,
        text: n.text,
    }
}

fn preferences_form(csrf: &str, p: NotificationPreferences) -> Form {
    let mut form = Form::new("prefs", csrf);
    if p.email {
        form = form.value("email", "on");
    }
    if p.daily_digest {
        form = form.value("daily_digest", "on");
    }
    form
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    cursor: Option<String>,
    form: Option<Form>,
) -> Result<NotificationsPage, ApiError> {
    let who = &viewer.principal;
    let list =
        inbox::list_notifications(state, who, &NotificationsQuery { unread: None, limit: Some(50), cursor }).await?;
    let older = list
        .next_cursor
        .map(|c| format!("/notifications?{}", serde_urlencoded::to_string([("cursor", c)]).unwrap_or_default()));
    let form = match form {
        Some(f) => f,
        None => preferences_form(&viewer.csrf, preferences::get_preferences(state, who).await?),
    };
    Ok(NotificationsPage {
        layout: viewer.layout("Notifications"),
        csrf: viewer.csrf.clone(),
        items: list.items.into_iter().map(|n| item(n, viewer)).collect(),
        older,
        form,
        mail_enabled: state.settings.mail_enabled(),
        error: None,
    })
}

fn notice(key: Option<&str>) -> Option<String> {
    match key? {
        "read" => Some("The notification is marked as read.".into()),
        "saved" => Some("Your notification preferences are saved.".into()),
        _ => None,
    }
}

pub async fn notifications_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NotificationsPageQuery>,
) -> Result<Response, PageError> {
    let mut p = page(&state, &viewer, q.cursor, None).await.or_page(&viewer)?;
    p.layout.notice = notice(q.notice.as_deref());
    Ok(render(StatusCode::OK, &p))
}

pub async fn mark_read(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<NotificationId>,
) -> Result<Response, PageError> {
    match inbox::mark_read(&state, &viewer.ctx(), &viewer.principal, &id).await {
        Ok(()) => Ok(see_other("/notifications?notice=read")),
        Err(e) => {
            let e = ApiError(e);
            let mut p = page(&state, &viewer, None, None).await.or_page(&viewer)?;
            p.error = Some(crate::web::sentence(&e));
            Ok(render_failed(&p, &e))
        }
    }
}

pub async fn preferences_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    data: FormData,
) -> Result<Response, PageError> {
    // Without mail on the server the mail box is not shown; what was chosen before is kept.
    let email = if state.settings.mail_enabled() {
        data.checked("email")
    } else {
        preferences::get_preferences(&state, &viewer.principal).await.or_page(&viewer)?.email
    };
    let body = NotificationPreferences { email, daily_digest: data.checked("daily_digest") };
    match preferences::put_preferences(&state, &viewer.ctx(), &viewer.principal, body).await.map_err(ApiError) {
        Ok(_) => Ok(see_other("/notifications?notice=saved")),
        Err(e) => {
            let form = Form::new("prefs", &viewer.csrf).with_values(data).failed(&e);
            let p = page(&state, &viewer, None, Some(form)).await.or_page(&viewer)?;
            Ok(render_failed(&p, &e))
        }
    }
}
