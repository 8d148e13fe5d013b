//! Posts over HTTP (`/api/v1/accounts/{id}/posts`, `/api/v1/posts/{id}*`,
//! `/api/v1/accounts/{id}/media*`): each handler extracts the request, calls its use case in
//! `steward_app::posts` and answers JSON with the status (and, for a post, the `ETag`) API.md
//! gives it. Publishing itself is the scheduler's.
mod compose;
mod drafts;
mod etag;
mod media;
mod review;
mod scheduling;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(drafts::create_post, drafts::list_posts))
        .routes(routes!(compose::compose_posts))
        .routes(routes!(drafts::get_post, drafts::edit_post))
        .routes(routes!(review::submit_post))
        .routes(routes!(review::approve_post))
        .routes(routes!(review::request_changes))
        .routes(routes!(scheduling::schedule_post))
        .routes(routes!(scheduling::publish_now))
        .routes(routes!(scheduling::cancel_post))
        .routes(routes!(review::list_comments, review::add_comment))
        .routes(routes!(media::upload_media))
        .routes(routes!(media::get_media))
}
