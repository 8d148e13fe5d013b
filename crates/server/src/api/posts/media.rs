//! Media uploads and downloads over HTTP: the request body is streamed to the use case as it
//! arrives; a stored file is streamed back as it is read, with its own type, sandboxed.
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use steward_app::posts::media::{self, Upload};
use steward_app::posts::view::MediaView;
use steward_domain::ids::{AccountId, MediaId};

use crate::auth::Principal;
use crate::error::{ApiResult, Json, Path, Problem};
use crate::request::Ctx;
use crate::state::AppState;

#[utoipa::path(post, path = "/accounts/{id}/media", tag = "posts", params(("id" = String, Path)),
    request_body(content = Vec<u8>, description = "The file itself: image/png, image/jpeg, image/gif or image/webp up to 8 MiB; video/mp4 or video/quicktime up to 256 MiB",
        content_type = "application/octet-stream"),
    responses((status = 201, body = MediaView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn upload_media(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<AccountId>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let header_text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let upload = Upload {
        content_type: header_text(header::CONTENT_TYPE).unwrap_or_default().to_string(),
        declared_len: header_text(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok()),
        body: body.into_data_stream(),
    };
    let view = media::upload_media(&state, &ctx, &principal, &id, upload).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

#[utoipa::path(get, path = "/accounts/{id}/media/{media_id}", tag = "posts", params(("id" = String, Path), ("media_id" = String, Path)),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 404, body = Problem)))]
pub(super) async fn get_media(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path((id, media_id)): Path<(AccountId, MediaId)>,
) -> ApiResult<Response> {
    let file = media::media_file(&state, &ctx, &principal, &id, &media_id).await?;
    let mut response = Response::new(Body::from_stream(file.body));
    response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(file.size_bytes));
    if let Ok(v) = HeaderValue::from_str(&file.content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    Ok(response)
}
