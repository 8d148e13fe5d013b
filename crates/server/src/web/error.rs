//! Whole-page errors. A page handler answers `Result<Response, PageError>` and meets an error
//! with `?` ([`OrPage::or_page`]): the error page then says what went wrong in a sentence, with
//! the status of the error, marked as a denial for the audit log when it is one. Errors that
//! belong next to a form's field are shown by the form instead ([`super::Form::failed`]).
use askama::Template;
use axum::response::{IntoResponse, Response};
use steward_app::AppError;

use crate::error::ApiError;
use crate::web::{Layout, Viewer, render_failed, see_other, sentence};

/// An error shown as a whole page, in the frame of the viewer's pages (or anonymous ones).
pub struct PageError {
    /// Boxed: a `Result` with this error stays small.
    layout: Box<Layout>,
    error: ApiError,
}

impl PageError {
    /// `viewer`: whose frame the page has (none before sign-in).
    pub fn new(viewer: Option<&Viewer>, error: impl Into<ApiError>) -> Self {
        let layout = viewer.map_or_else(|| Layout::anonymous(""), |v| v.layout(""));
        PageError { layout: Box::new(layout), error: error.into() }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let PageError { layout, error } = self;
        let mut layout = *layout;
        if matches!(error, ApiError(AppError::Unauthenticated { .. })) {
            return see_other("/signin");
        }
        let heading = match error {
            ApiError(AppError::NotFound) | ApiError(AppError::NotFoundDenied(_)) => "Not found",
            ApiError(AppError::Forbidden(_)) | ApiError(AppError::RulesNotAccepted) => "Not allowed",
            _ => "Something went wrong",
        };
        layout.title = heading.into();
        layout.notice = None;
        render_failed(&ErrorPage { layout, heading: heading.into(), message: sentence(&error) }, &error)
    }
}

/// `result.or_page(&viewer)?`: an error becomes the viewer's error page.
pub trait OrPage<T> {
    fn or_page(self, viewer: &Viewer) -> Result<T, PageError>;
}

impl<T, E: Into<ApiError>> OrPage<T> for Result<T, E> {
    fn or_page(self, viewer: &Viewer) -> Result<T, PageError> {
        self.map_err(|e| PageError::new(Some(viewer), e))
    }
}
