//! Lockdown with a confirmation page: it says exactly who loses access and which posts get
//! cancelled, offers to disconnect the credential, and acts only when the viewer types the
//! account's handle. Then the result, and the way back (reinstating members, lifting it).
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use steward_app::AppError;
use steward_domain::capability::Capability;
use steward_domain::ids::AccountId;

use steward_app::lockdown::{self, LockdownRequest, LockdownView};
use steward_app::members::view::list_members;

use crate::error::{ApiError, FieldError, Path};
use crate::state::AppState;
use crate::web::account::{access, account_nav, account_zone};
use crate::web::html::Html;
use crate::web::time::when;
use crate::web::{Form, FormData, Layout, OrPage, PageError, Viewer, render, render_failed, see_other};
use steward_app::authz::{AccountAccess, Need};

pub struct LosingAccess {
    pub name: String,
    pub email: String,
    pub role: String,
}

pub struct Cancelled {
    pub title: String,
    pub state: String,
    pub when: Option<Html>,
}

#[derive(Template)]
#[template(path = "lockdown.html")]
struct LockdownPage {
    layout: Layout,
    id: String,
    handle: String,
    form: Form,
    losing: Vec<LosingAccess>,
    already_suspended: usize,
    cancelled: Vec<Cancelled>,
    has_credential: bool,
    locked_down: bool,
    can_lift: bool,
    result: Option<LockdownView>,
}

fn post_title(title: Option<&str>, text: &str) -> String {
    let base = title.filter(|t| !t.trim().is_empty()).unwrap_or(text).trim();
    let mut out: String = base.chars().take(80).collect();
    if base.chars().count() > 80 {
        out.push('…');
    }
    if out.is_empty() { "(no text)".into() } else { out }
}

async fn lockdown_view(
    state: &AppState,
    viewer: &Viewer,
    id: &AccountId,
) -> Result<(LockdownPage, AccountAccess), ApiError> {
    let a = access(state, viewer, id, Need::Capability(Capability::Lockdown)).await?;
    let list = list_members(state, &viewer.ctx(), &viewer.principal, id).await?;
    // The same people `suspend_other_members` suspends: active, not the owner, not the viewer.
    let (losing, suspended): (Vec<_>, Vec<_>) = list
        .into_iter()
        .filter(|m| m.role != "owner" && viewer.principal.user_id != m.user_id)
        .partition(|m| m.status == "active");
    let zone = account_zone(&a.account);
    let cancelled = state
        .store
        .posts_lockdown_would_cancel(id, &a.account.owner_id)
        .await?
        .into_iter()
        .map(|p| Cancelled {
            title: post_title(p.title.as_deref(), &p.text),
            when: p.scheduled_at.map(|t| when(&steward_app::clock::rfc3339(t), &zone, viewer.tz.as_ref())),
            state: p.state.as_str().into(),
        })
        .collect();
    let has_credential = state.store.sealed_credential(id).await?.is_some_and(|s| s.credential_sealed.is_some());
    let mut layout = viewer.layout(format!("Lock down {}", a.account.display_name));
    layout.account = Some(account_nav(&a, "lockdown"));
    let page = LockdownPage {
        layout,
        id: id.to_string(),
        handle: a.account.handle.clone(),
        form: Form::new("lockdown", &viewer.csrf),
        losing: losing
            .into_iter()
            .map(|m| LosingAccess { name: m.display_name, email: m.email, role: m.role })
            .collect(),
        already_suspended: suspended.len(),
        cancelled,
        has_credential,
        locked_down: a.account.status == steward_domain::status::AccountStatus::LockedDown,
        can_lift: a.has(Capability::CredentialManage),
        result: None,
    };
    Ok((page, a))
}

pub async fn lockdown_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
) -> Result<Response, PageError> {
    let (page, _) = lockdown_view(&state, &viewer, &id).await.or_page(&viewer)?;
    Ok(render(StatusCode::OK, &page))
}

/// Whether what was typed names the account: its handle, with or without the `@`, any case.
fn confirmed(typed: &str, handle: &str) -> bool {
    let norm = |s: &str| s.trim().trim_start_matches('@').to_lowercase();
    !norm(typed).is_empty() && norm(typed) == norm(handle)
}

pub async fn lockdown_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    data: FormData,
) -> Result<Response, PageError> {
    let (mut page, _) = lockdown_view(&state, &viewer, &id).await.or_page(&viewer)?;
    if !confirmed(&data.text("confirm"), &page.handle) {
        let e = ApiError(AppError::Validation(vec![FieldError::new(
            "confirm",
            format!("must be the account's handle, {}, to confirm; nothing was done", page.handle),
        )]));
        page.form = Form::new("lockdown", &viewer.csrf).with_values(data).failed(&e);
        return Ok(render_failed(&page, &e));
    }
    let body = LockdownRequest { disconnect_credential: data.checked("disconnect_credential") };
    Ok(match lockdown::lockdown(&state, &viewer.ctx(), &viewer.principal, &id, body).await.map_err(ApiError) {
        Ok(view) => {
            let (mut after, _) = lockdown_view(&state, &viewer, &id).await.or_page(&viewer)?;
            after.result = Some(view);
            render(StatusCode::OK, &after)
        }
        Err(e) => {
            page.form = Form::new("lockdown", &viewer.csrf).with_values(data).failed(&e);
            render_failed(&page, &e)
        }
    })
}

pub async fn lift_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
) -> Result<Response, PageError> {
    Ok(match lockdown::lift(&state, &viewer.ctx(), &viewer.principal, &id).await.map_err(ApiError) {
        // A lockdown that destroyed the credential leaves the account to be connected again.
        Ok(lifted) if lifted.status == "disconnected" => {
            see_other(&format!("/accounts/{id}?notice=lifted_disconnected"))
        }
        Ok(_) => see_other(&format!("/accounts/{id}?notice=lifted")),
        Err(e) => {
            let (mut page, _) = lockdown_view(&state, &viewer, &id).await.or_page(&viewer)?;
            page.form = Form::new("lockdown", &viewer.csrf).failed(&e);
            render_failed(&page, &e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_handle_confirms() {
        assert!(confirmed("@shop", "@shop"));
        assert!(confirmed(" Shop ", "@shop"));
        assert!(!confirmed("", "@shop"));
        assert!(!confirmed("@", "@"), "a blank handle confirms nothing");
        assert!(!confirmed("yes", "@shop"));
    }
}
