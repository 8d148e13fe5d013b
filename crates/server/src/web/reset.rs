//! The forgotten-password pages: asking for a reset link (`/forgot`) and choosing a new
//! password with it (`/reset/{token}`). Both are forms before sign-in, so they carry the
//! pre-session token like the sign-in page.
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use steward_app::AppError;
use steward_app::identity::password::{self, ResetConfirmRequest, ResetRequest};

use crate::error::{ApiError, Path};
use crate::state::AppState;
use crate::web::signin::with_cookie;
use crate::web::{Form, FormData, Layout, Visitor, presession, presession_ok, render, render_failed, see_other};

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    layout: Layout,
    form: Form,
    /// Whether this server sends mail (without it, the page sends people to the operator).
    mail: bool,
    sent: bool,
}

#[derive(Template)]
#[template(path = "reset.html")]
struct ResetPage {
    layout: Layout,
    form: Form,
    token: String,
    /// Some(whether 2FA is on) while the link works; None for a dead link.
    works: Option<bool>,
}

fn expired_form() -> ApiError {
    ApiError(AppError::Forbidden(
        "this page had expired; your browser must accept cookies from this site. Try again".into(),
    ))
}

pub async fn forgot_page(State(state): State<AppState>, visitor: Visitor) -> Response {
    let pre = presession(&state, &visitor.headers);
    let page = ForgotPage {
        layout: Layout::anonymous("Forgot your password?"),
        form: Form::new("forgot", &pre.token),
        mail: state.settings.mail_enabled(),
        sent: false,
    };
    with_cookie(render(StatusCode::OK, &page), pre.set_cookie.as_deref())
}

pub async fn forgot_submit(State(state): State<AppState>, visitor: Visitor, data: FormData) -> Response {
    let pre = presession(&state, &visitor.headers);
    let mut page = ForgotPage {
        layout: Layout::anonymous("Forgot your password?"),
        form: Form::new("forgot", &pre.token).with_values(data.clone()),
        mail: state.settings.mail_enabled(),
        sent: false,
    };
    let result = if presession_ok(&state, &visitor.headers, &data) {
        password::request_reset(&state, &visitor.ctx(), ResetRequest { email: data.text("email") })
            .await
            .map_err(ApiError)
    } else {
        Err(expired_form())
    };
    let resp = match result {
        Ok(()) => {
            page.sent = true;
            render(StatusCode::ACCEPTED, &page)
        }
        Err(e) => {
            page.form = page.form.failed(&e);
            render_failed(&page, &e)
        }
    };
    with_cookie(resp, pre.set_cookie.as_deref())
}

pub async fn reset_page(State(state): State<AppState>, visitor: Visitor, Path(token): Path<String>) -> Response {
    let pre = presession(&state, &visitor.headers);
    let works = password::reset_link_works(&state, &token).await.ok().flatten();
    let status = if works.is_some() { StatusCode::OK } else { StatusCode::NOT_FOUND };
    let page = ResetPage {
        layout: Layout::anonymous("Choose a new password"),
        form: Form::new("reset", &pre.token),
        token,
        works,
    };
    with_cookie(render(status, &page), pre.set_cookie.as_deref())
}

pub async fn reset_submit(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(token): Path<String>,
    data: FormData,
) -> Response {
    let pre = presession(&state, &visitor.headers);
    let result = if presession_ok(&state, &visitor.headers, &data) {
        let body = ResetConfirmRequest {
            token: token.clone(),
            new_password: data.text("new_password"),
            totp: data.opt("totp"),
        };
        password::confirm_reset(&state, &visitor.ctx(), body).await.map_err(ApiError)
    } else {
        Err(expired_form())
    };
    match result {
        Ok(()) => see_other("/signin?notice=password_reset"),
        Err(e) => {
            let works = password::reset_link_works(&state, &token).await.ok().flatten();
            let page = ResetPage {
                layout: Layout::anonymous("Choose a new password"),
                form: Form::new("reset", &pre.token).failed(&e),
                token,
                works,
            };
            with_cookie(render_failed(&page, &e), pre.set_cookie.as_deref())
        }
    }
}
