//! Leaving Steward: the confirmation page for deleting one's own user (the export is the
//! API's `GET /api/v1/me/export`, linked from the security page).
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use steward_app::accounts::view::list_accounts;
use steward_app::identity::leaving::{self, DeleteMeRequest};

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::signin::signed_out_to;
use crate::web::{Form, FormData, Layout, OrPage, PageError, Viewer, render, render_failed};

#[derive(Template)]
#[template(path = "delete_me.html")]
struct DeletePage {
    layout: Layout,
    email: String,
    totp_enabled: bool,
    /// The accounts the person owns (deleting is refused until there are none).
    owned: Vec<String>,
    form: Form,
}

async fn view(state: &AppState, viewer: &Viewer) -> Result<DeletePage, ApiError> {
    let who = &viewer.principal;
    let owned = list_accounts(state, who)
        .await?
        .into_iter()
        .filter(|a| *a.owner_id == *who.user_id)
        .map(|a| format!("{} ({})", a.display_name, a.handle))
        .collect();
    Ok(DeletePage {
        layout: viewer.layout("Delete my user"),
        email: who.email.clone(),
        totp_enabled: who.totp_enabled,
        owned,
        form: Form::new("delete", &viewer.csrf),
    })
}

pub async fn delete_page(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    let page = view(&state, &viewer).await.or_page(&viewer)?;
    Ok(render(StatusCode::OK, &page))
}

pub async fn delete_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    data: FormData,
) -> Result<Response, PageError> {
    let body = DeleteMeRequest { password: data.text("password"), totp: data.opt("totp") };
    match leaving::delete_me(&state, &viewer.ctx(), &viewer.principal, body).await.map_err(ApiError) {
        // Every session ended with the user: clear this browser's cookie as signing out does.
        Ok(()) => Ok(signed_out_to(&state, "/signin?notice=deleted")),
        Err(e) => {
            let mut page = view(&state, &viewer).await.or_page(&viewer)?;
            page.form = Form::new("delete", &viewer.csrf).failed(&e);
            Ok(render_failed(&page, &e))
        }
    }
}
