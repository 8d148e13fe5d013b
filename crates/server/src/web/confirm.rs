//! Asking before a click that cannot be undone (cancelling a post, removing a member, logging
//! out everywhere, deleting an account). The form on the page posts without `confirm=yes`; the
//! handler then answers this confirmation page, which changed nothing and posts the same form
//! again with `confirm=yes`. Where the script runs it asks in a `<dialog>` first and adds the
//! field itself, so the page is skipped. The use case still decides when the answer is yes.
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use crate::error::ApiError;
use crate::web::{Form, FormData, Layout, Viewer, render, render_failed};

/// What to ask, and the form that answers yes.
pub struct Confirm {
    pub heading: String,
    pub question: String,
    /// What follows from it, a sentence each.
    pub details: Vec<String>,
    /// Where the answer posts (the action's own route).
    pub action: String,
    /// Fields of the original form to send again.
    pub keep: Vec<(String, String)>,
    pub yes: String,
    /// Where "No" goes back to.
    pub back: String,
    /// Asks for the password (and code) again, as deleting an account does.
    pub password: Option<Form>,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    layout: Layout,
    c: Confirm,
}

/// Whether the person already said yes (on this page, or in the dialog).
#[must_use]
pub fn confirmed(data: &FormData) -> bool {
    data.get("confirm") == Some("yes")
}

/// The confirmation page: nothing was done yet.
#[must_use]
pub fn ask(viewer: &Viewer, c: Confirm) -> Response {
    let layout = viewer.layout(c.heading.clone());
    render(StatusCode::OK, &ConfirmPage { layout, c })
}

/// The confirmation page again with the refusal of the use case (a wrong password).
#[must_use]
pub fn ask_again(viewer: &Viewer, c: Confirm, e: &ApiError) -> Response {
    let layout = viewer.layout(c.heading.clone());
    render_failed(&ConfirmPage { layout, c }, e)
}
