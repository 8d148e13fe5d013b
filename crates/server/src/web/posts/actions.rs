//! The post forms: create and edit (the form shown again with its errors), and the workflow
//! actions (submit, approve, request changes, schedule, publish now, cancel, comment), each a
//! use case of `steward_app::posts`; the answer goes back to the editor or the review queue.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use steward_app::AppError;
use steward_app::authz::Need;
use steward_app::posts::drafts::{self, BasedOn, ContentRequest, EditRequest};
use steward_app::posts::review::{self, ApproveRequest, CommentRequest, RequestChangesRequest};
use steward_app::posts::scheduling::{self, ScheduleRequest};
use steward_app::posts::view::{MediaItem, available_actions, parse_media};
use steward_domain::capability::Capability;
use steward_domain::ids::{AccountId, PostId};
use steward_domain::platform;
use steward_domain::post::PostActionKind;

use super::editor::{EditorPage, editor_view, new_editor, read_media, shown_media};
use super::review::review_view;
use super::shared::label;
use crate::error::{ApiError, Path};
use crate::state::AppState;
use crate::web::account::{access, account_zone};
use crate::web::confirm::{Confirm, ask, confirmed};
use crate::web::time::{instants_in_words, local_input_to_rfc3339};
use crate::web::{Form, FormData, OrPage, PageError, Viewer, render, render_failed, see_other};

/// What the editor says when the post changed since the form was shown (412).
const STALE_EDIT: &str = "Someone else changed this post while you were editing it. Your text is kept below: \
     open the post again to see their version, then make your changes there.";

/// The edit form's text as the use cases take it (browsers send line breaks as CR LF).
fn form_text(data: &FormData, name: &str) -> String {
    data.get(name).unwrap_or("").replace("\r\n", "\n")
}

/// The media list of the form, in its order, with each image's alt text (the rows of the
/// editor's media list: `media_url`, `media_kind` and `media_alt` once per row).
fn listed_media(data: &FormData) -> Vec<MediaItem> {
    let (kinds, alts) = (data.all("media_kind"), data.all("media_alt"));
    data.all("media_url")
        .into_iter()
        .enumerate()
        .map(|(i, url)| MediaItem {
            url,
            kind: kinds.get(i).cloned().unwrap_or_default(),
            alt: alts.get(i).cloned().filter(|a| !a.trim().is_empty()),
        })
        .collect()
}

/// The form's media: the list, then the web addresses typed in the box below it.
async fn form_media(
    state: &AppState,
    account_id: &AccountId,
    data: &FormData,
    before: &[MediaItem],
) -> Result<Vec<MediaItem>, ApiError> {
    let mut items = listed_media(data);
    items.extend(read_media(state, account_id, &data.text("media"), before).await?);
    Ok(items)
}

/// A button of the media list (without the script): move a row up or down, or remove it.
enum MediaOp {
    Up(usize),
    Down(usize),
    Remove(usize),
}

fn media_op(data: &FormData) -> Option<MediaOp> {
    let (op, at) = data.get("media_op")?.split_once('-')?;
    let at = at.parse().ok()?;
    match op {
        "up" => Some(MediaOp::Up(at)),
        "down" => Some(MediaOp::Down(at)),
        "remove" => Some(MediaOp::Remove(at)),
        _ => None,
    }
}

fn apply_media_op(items: &mut Vec<MediaItem>, op: &MediaOp) {
    match *op {
        MediaOp::Up(i) if i > 0 && i < items.len() => items.swap(i - 1, i),
        MediaOp::Down(i) if i + 1 < items.len() => items.swap(i, i + 1),
        MediaOp::Remove(i) if i < items.len() => {
            items.remove(i);
        }
        _ => {}
    }
}

/// A media button pressed without the script: the form again, its list changed, nothing saved.
fn media_rearranged(
    state: &AppState,
    viewer: &Viewer,
    mut page: EditorPage,
    data: &FormData,
    items: &[MediaItem],
) -> Response {
    page.count = platform::text_chars(&form_text(data, "text"));
    let kept = data.0.iter().filter(|(n, _)| !n.starts_with("media")).cloned().collect();
    page.edit = Form::new("edit", &viewer.csrf).with_values(FormData(kept));
    page.attached = shown_media(state, items);
    page.layout.notice = Some("The media list is changed but not saved yet: save to keep it.".into());
    render(StatusCode::OK, &page)
}

/// The edit form shown again with what was typed, its errors, and the live count of the text.
fn refill(mut page: EditorPage, viewer: &Viewer, data: FormData, e: &ApiError) -> EditorPage {
    page.count = platform::text_chars(&form_text(&data, "text"));
    let shown = if matches!(e, ApiError(AppError::PreconditionFailed)) {
        &ApiError(AppError::Conflict(STALE_EDIT.into()))
    } else {
        e
    };
    page.edit = Form::new("edit", &viewer.csrf).with_values(data).failed(shown);
    page
}

pub async fn create_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    data: FormData,
) -> Result<Response, PageError> {
    let a = access(&state, &viewer, &id, Need::Capability(Capability::DraftsCreate)).await.or_page(&viewer)?;
    if let Some(op) = media_op(&data) {
        let mut items = form_media(&state, &id, &data, &[]).await.or_page(&viewer)?;
        apply_media_op(&mut items, &op);
        let mut page = new_editor(&state, &viewer, &a);
        page.idempotency_key = data.text("idempotency_key");
        return Ok(media_rearranged(&state, &viewer, page, &data, &items));
    }
    let result = async {
        let media = form_media(&state, &id, &data, &[]).await?;
        let planned_for = match data.opt("planned_for") {
            Some(raw) => Some(
                local_input_to_rfc3339(&raw, &account_zone(&a.account))
                    .map_err(|m| ApiError::validation("planned_for", m))?,
            ),
            None => None,
        };
        let body = ContentRequest {
            text: form_text(&data, "text"),
            title: data.opt("title"),
            media,
            content_warning: data.opt("content_warning"),
            planned_for,
        };
        // The form's own key: a second press of "Save" (or a reload) answers the same draft.
        let key = data.opt("idempotency_key");
        Ok::<_, ApiError>(
            drafts::create_post(&state, &viewer.ctx(), &viewer.principal, &id, key.as_deref(), body).await?,
        )
    }
    .await;
    Ok(match result {
        Ok(post) => see_other(&format!("/posts/{}?notice=created", post.id)),
        Err(e) => {
            let mut page = new_editor(&state, &viewer, &a);
            page.idempotency_key = data.text("idempotency_key");
            page.attached = shown_media(&state, &listed_media(&data));
            render_failed(&refill(page, &viewer, data, &e), &e)
        }
    })
}

pub async fn edit_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<PostId>,
    data: FormData,
) -> Result<Response, PageError> {
    if let Some(op) = media_op(&data) {
        let page = editor_view(&state, &viewer, &pid, None).await.or_page(&viewer)?;
        let before = state.store.post(&pid).await.map_err(ApiError::from).or_page(&viewer)?;
        let before = before.map(|p| parse_media(&p.media)).unwrap_or_default();
        let account = page.account_id.clone();
        let mut items = form_media(&state, &account, &data, &before).await.or_page(&viewer)?;
        apply_media_op(&mut items, &op);
        return Ok(media_rearranged(&state, &viewer, page, &data, &items));
    }
    let result = async {
        let before = state.store.post(&pid).await?.ok_or(ApiError(AppError::NotFound))?;
        let media = form_media(&state, &before.account_id, &data, &parse_media(&before.media)).await?;
        // Fields the form did not show (a plan on a scheduled post, a warning off Mastodon) stay as they are.
        let planned_for = match data.get("planned_for").map(str::trim) {
            None => None,
            Some("") => Some(None),
            Some(raw) => {
                let a = access(&state, &viewer, &before.account_id, Need::Capability(Capability::AccountView)).await?;
                Some(Some(
                    local_input_to_rfc3339(raw, &account_zone(&a.account))
                        .map_err(|m| ApiError::validation("planned_for", m))?,
                ))
            }
        };
        let body = EditRequest {
            text: Some(form_text(&data, "text")),
            title: Some(data.opt("title")),
            media: Some(media),
            content_warning: data.get("content_warning").map(|_| data.opt("content_warning")),
            planned_for,
        };
        // The version the form was filled from: a stale one is refused (412 in the API).
        let based_on = BasedOn::Tags(vec![data.text("etag")]);
        Ok::<_, ApiError>(drafts::edit_post(&state, &viewer.ctx(), &viewer.principal, &pid, &based_on, body).await?)
    }
    .await;
    Ok(match result {
        Ok(_) => see_other(&format!("/posts/{pid}?notice=saved")),
        Err(e) => {
            let mut page = editor_view(&state, &viewer, &pid, None).await.or_page(&viewer)?;
            page.attached = shown_media(&state, &listed_media(&data));
            render_failed(&refill(page, &viewer, data, &e), &e)
        }
    })
}

/// Which form of the editor page shows a failed action's error.
#[derive(Clone, Copy)]
enum Slot {
    Actions,
    Changes,
    Schedule,
    Comment,
}

/// After a workflow action: where it worked, back to `next` with a notice; where it did not,
/// the editor (or the review queue it was pressed on) with the error by its form.
async fn after_action<T>(
    state: &AppState,
    viewer: &Viewer,
    pid: &PostId,
    data: FormData,
    result: Result<T, ApiError>,
    slot: Slot,
    done: &str,
) -> Result<Response, PageError> {
    let from_queue = data.get("from") == Some("review");
    Ok(match result {
        Ok(_) if from_queue => match state.store.post(pid).await {
            Ok(Some(p)) => see_other(&format!("/accounts/{}/review?notice={done}", p.account_id)),
            _ => see_other(&format!("/posts/{pid}?notice={done}")),
        },
        Ok(_) => see_other(&format!("/posts/{pid}?notice={done}")),
        Err(e) if from_queue => {
            let account_id = match state.store.post(pid).await {
                Ok(Some(p)) => p.account_id,
                _ => return Err(PageError::new(Some(viewer), e)),
            };
            let mut page = review_view(state, viewer, &account_id, None).await.or_page(viewer)?;
            page.row_error = Some(crate::web::sentence(&e));
            render_failed(&page, &e)
        }
        Err(e) => {
            let mut page = editor_view(state, viewer, pid, None).await.or_page(viewer)?;
            // A refusal that names an instant (the next posting window, a post too close) names
            // it as a time in the account's zone.
            let zone = match state.store.post(pid).await {
                Ok(Some(p)) => access(state, viewer, &p.account_id, Need::Capability(Capability::AccountView))
                    .await
                    .map(|a| account_zone(&a.account))
                    .unwrap_or(jiff::tz::TimeZone::UTC),
                _ => jiff::tz::TimeZone::UTC,
            };
            let form = Form::new(
                match slot {
                    Slot::Actions => "actions",
                    Slot::Changes => "changes",
                    Slot::Schedule => "schedule",
                    Slot::Comment => "comment",
                },
                &viewer.csrf,
            )
            .with_values(data)
            .failed(&e)
            .reword(|g| instants_in_words(g, &zone));
            match slot {
                Slot::Actions => page.actions = form,
                Slot::Changes => page.changes = form,
                Slot::Schedule => page.schedule = form,
                Slot::Comment => page.comment = form,
            }
            render_failed(&page, &e)
        }
    })
}

pub async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<PostId>,
    data: FormData,
) -> Result<Response, PageError> {
    let r = review::submit_post(&state, &viewer.ctx(), &viewer.principal, &pid).await.map_err(ApiError);
    after_action(&state, &viewer, &pid, data, r, Slot::Actions, "submitted").await
}

pub async fn approve(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<PostId>,
    data: FormData,
) -> Result<Response, PageError> {
    let version = data.text("version").parse::<i64>().unwrap_or(-1);
    let input = ApproveRequest { version };
    let r = review::approve_post(&state, &viewer.ctx(), &viewer.principal, &pid, input).await.map_err(ApiError);
    after_action(&state, &viewer, &pid, data, r, Slot::Actions, "approved").await
}

pub async fn request_changes(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<PostId>,
    data: FormData,
) -> Result<Response, PageError> {
    let input = RequestChangesRequest { comment: form_text(&data, "comment") };
    let r = review::request_changes(&state, &viewer.ctx(), &viewer.principal, &pid, input).await.map_err(ApiError);
    after_action(&state, &viewer, &pid, data, r, Slot::Changes, "changes").await
}

pub async fn schedule(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<PostId>,
    data: FormData,
) -> Result<Response, PageError> {
    let r = async {
        let post = state.store.post(&pid).await?.ok_or(ApiError(AppError::NotFound))?;
        // The time is read in the account's zone (the use case then authorizes the schedule itself).
        let a = access(&state, &viewer, &post.account_id, Need::Capability(Capability::AccountView)).await?;
        let zone = account_zone(&a.account);
        let at = local_input_to_rfc3339(&data.text("at"), &zone).map_err(|m| ApiError::validation("at", m))?;
        let input = ScheduleRequest { at };
        Ok::<_, ApiError>(scheduling::schedule_post(&state, &viewer.ctx(), &viewer.principal, &pid, input).await?)
    }
    .await;
    after_action(&state, &viewer, &pid, data, r, Slot::Schedule, "scheduled").await
}

pub async fn publish_now(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<PostId>,
    data: FormData,
) -> Result<Response, PageError> {
    let r = scheduling::publish_now(&state, &viewer.ctx(), &viewer.principal, &pid).await.map_err(ApiError);
    after_action(&state, &viewer, &pid, data, r, Slot::Actions, "publishing").await
}

/// The confirmation page for cancelling, when the viewer could cancel the post now (else the
/// use case answers, and its refusal is shown as for any action).
async fn ask_cancel(state: &AppState, viewer: &Viewer, pid: &PostId) -> Option<Response> {
    let post = state.store.post(pid).await.ok()??;
    let a = access(state, viewer, &post.account_id, Need::Capability(Capability::AccountView)).await.ok()?;
    let approvals = state.store.post_approvals(pid).await.ok()?;
    if !available_actions(&a, &post, &approvals, state.clock.now_us()).contains(&PostActionKind::Cancel) {
        return None;
    }
    let mut details = vec![
        "A cancelled post is never published and cannot be brought back: to post it later, write it again.".to_string(),
    ];
    if post.state.as_str() == "scheduled" {
        details.insert(0, "It is scheduled: it will not go out.".into());
    }
    Some(ask(
        viewer,
        Confirm {
            heading: "Cancel this post?".into(),
            question: format!("Cancel \u{201c}{}\u{201d} on {}?", label(&post), a.account.display_name),
            details,
            action: format!("/posts/{pid}/cancel"),
            keep: Vec::new(),
            yes: "Yes, cancel the post".into(),
            back: format!("/posts/{pid}"),
            password: None,
        },
    ))
}

pub async fn cancel(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<PostId>,
    data: FormData,
) -> Result<Response, PageError> {
    if !confirmed(&data)
        && let Some(page) = ask_cancel(&state, &viewer, &pid).await
    {
        return Ok(page);
    }
    let r = scheduling::cancel_post(&state, &viewer.ctx(), &viewer.principal, &pid).await.map_err(ApiError);
    after_action(&state, &viewer, &pid, data, r, Slot::Actions, "cancelled").await
}

pub async fn comment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<PostId>,
    data: FormData,
) -> Result<Response, PageError> {
    let input = CommentRequest { body: form_text(&data, "body") };
    let r = review::add_comment(&state, &viewer.ctx(), &viewer.principal, &pid, input).await.map_err(ApiError);
    after_action(&state, &viewer, &pid, data, r, Slot::Comment, "commented").await
}
