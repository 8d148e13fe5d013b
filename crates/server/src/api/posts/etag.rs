//! A post's version tag over HTTP: the `ETag` header on every answer that is a post, and
//! `If-Match` read as the version an edit was based on.
//!
//! Decisions where the spec is silent: the tag is `"<version>.<updated_at>"`, so any change
//! to the post (an approval, a state change) makes an earlier `If-Match` stale. `If-Match` is
//! required on PATCH (428 `precondition-required` without it; `*` is refused the same way,
//! since it would defeat the check); a stale one is 412.
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use steward_app::posts::drafts::BasedOn;
use steward_app::posts::view::PostView;

use crate::error::Json;

/// The post as JSON with its `ETag` header.
pub(super) fn post_response(status: StatusCode, view: PostView) -> Response {
    let tag = HeaderValue::from_str(&view.etag);
    let mut response = (status, Json(view)).into_response();
    if let Ok(value) = tag {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The versions `If-Match` names (strong comparison: the tags exactly as sent).
pub(super) fn based_on(headers: &HeaderMap) -> BasedOn {
    let Some(value) = headers.get(header::IF_MATCH) else { return BasedOn::Unstated };
    let value = value.to_str().unwrap_or_default();
    if value.trim() == "*" {
        return BasedOn::AnyVersion;
    }
    BasedOn::Tags(value.split(',').map(|tag| tag.trim().to_string()).collect())
}
