//! The account's review queue: posts in review (those the viewer may approve first), and posts
//! sent back for changes, with approve and request-changes forms on each row.
use std::collections::HashMap;
use steward_domain::ids::{AccountId, PostId};

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use steward_app::authz::Need;
use steward_app::clock::rfc3339;
use steward_app::posts::rules::approval_counts;
use steward_app::posts::view::{available_actions, parse_media};
use steward_domain::capability::Capability;
use steward_domain::post::PostActionKind;
use steward_store::{ApprovalRow, PostListQuery, PostRow};

use super::editor::is_local_media;
use super::shared::{label, member_names, name_of, notice};
use crate::error::{ApiError, Path, Query};
use crate::state::AppState;
use crate::web::account::{access, account_nav, account_zone};
use crate::web::html::Html;
use crate::web::time::when;
use crate::web::{Layout, OrPage, PageError, Viewer, render};

/// How many posts in review a page of the queue shows (the rest are on the next page), and how
/// many posts needing changes it lists. Each waiting post carries two forms (~1.5 KB) and up to
/// [`QUEUE_TEXT_CHARS`] of its text: 15 keep a full page under 100 KB even for the worst text,
/// every character escaping to five bytes (`web::a_full_review_queue_stays_under_100_kb…`).
const QUEUE_LIMIT: i64 = 15;
pub struct QueueRow {
    pub pid: String,
    pub label: String,
    pub author: String,
    pub version: i64,
    pub updated: Html,
    pub note: String,
    pub can_approve: bool,
    pub can_request_changes: bool,
    /// The text as it will go out (its start, when it is long: the post page has it all).
    pub text: String,
    pub text_cut: bool,
    pub media: Vec<QueueMedia>,
}

/// A post's media in the queue: uploads shown as thumbnails, anything else as a link.
pub struct QueueMedia {
    pub url: String,
    pub image: bool,
    pub local: bool,
    /// The image's alt text (empty when it has none: the thumbnail is then named by its place).
    pub alt: String,
}

/// How much of a post's text a queue row shows: enough to judge most posts (the whole text is
/// one click away), while a full page stays under 100 KB even when every character escapes to
/// five (`&` → `&amp;`): 20 rows × (~1.5 KB of forms + 280 × 5 B).
const QUEUE_TEXT_CHARS: usize = 280;

fn queue_text(text: &str) -> (String, bool) {
    let cut = text.chars().nth(QUEUE_TEXT_CHARS).is_some();
    let mut shown: String = text.chars().take(QUEUE_TEXT_CHARS).collect();
    if cut {
        shown.push('…');
    }
    (shown, cut)
}

fn queue_media(state: &AppState, post: &PostRow) -> Vec<QueueMedia> {
    parse_media(&post.media)
        .into_iter()
        .map(|m| QueueMedia {
            local: is_local_media(state, &m.url),
            image: m.kind == "image",
            alt: m.alt.unwrap_or_default(),
            url: m.url,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "review.html")]
pub(super) struct ReviewPage {
    pub(super) layout: Layout,
    csrf: String,
    waiting: Vec<QueueRow>,
    others: Vec<QueueRow>,
    needs_changes: Vec<QueueRow>,
    can_approve: bool,
    pub(super) row_error: Option<String>,
    /// The next page of posts in review, when there are more.
    older_href: Option<String>,
    /// The first page, when this is not it.
    newest_href: Option<String>,
    /// More posts need changes than the page lists.
    more_needing_changes: bool,
}

#[derive(Deserialize)]
pub struct ReviewQuery {
    notice: Option<String>,
    /// The last post of the previous page: `<created_at µs>.<post id>`.
    before: Option<String>,
}

fn parse_review_cursor(raw: Option<&str>) -> Result<Option<(i64, &str)>, ApiError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else { return Ok(None) };
    let bad = || ApiError::validation("before", "is not a page of this queue: open the review queue again");
    let (at, pid) = raw.split_once('.').ok_or_else(bad)?;
    let at = at.parse::<i64>().map_err(|_| bad())?;
    if pid.is_empty() {
        return Err(bad());
    }
    Ok(Some((at, pid)))
}

pub(super) async fn review_view(
    state: &AppState,
    viewer: &Viewer,
    id: &AccountId,
    before: Option<&str>,
) -> Result<ReviewPage, ApiError> {
    let a = access(state, viewer, id, Need::Capability(Capability::AccountView)).await?;
    let names = member_names(state, viewer, id).await?;
    let zone = account_zone(&a.account);
    let tz = viewer.tz.as_ref();
    let now = state.clock.now_us();
    let before = parse_review_cursor(before)?;
    // One more than a page, to know whether there is a next one.
    let query = PostListQuery { state: Some("in_review"), before, limit: QUEUE_LIMIT + 1, ..PostListQuery::default() };
    let mut in_review = state.store.list_posts(id, &query).await?;
    let older_href = (in_review.len() > QUEUE_LIMIT as usize).then(|| {
        in_review.truncate(QUEUE_LIMIT as usize);
        let last = &in_review[in_review.len() - 1];
        format!("/accounts/{id}/review?before={}.{}", last.created_at, last.id)
    });
    let (mut waiting, mut others) = (Vec::new(), Vec::new());
    let mut approvals_of: HashMap<PostId, Vec<ApprovalRow>> = HashMap::new();
    if let (Some(newest), Some(oldest)) = (in_review.first(), in_review.last()) {
        for a in state.store.approvals_in_review_between(id, oldest.created_at, newest.created_at).await? {
            approvals_of.entry(a.post_id.clone()).or_default().push(a);
        }
    }
    for post in in_review {
        let approvals = approvals_of.remove(&post.id).unwrap_or_default();
        let actions = available_actions(&a, &post, &approvals, now);
        let mine = approvals.iter().any(|x| x.version == post.version && x.approver_id == viewer.principal.user_id);
        let counted =
            approvals.iter().filter(|x| x.version == post.version && approval_counts(&a.account, x, now)).count();
        let note = match (mine, counted) {
            (true, _) => "You approved this version; it needs more approvals.".to_string(),
            (false, 0) => "No approvals yet.".to_string(),
            (false, 1) => "1 approval so far.".to_string(),
            (false, n) => format!("{n} approvals so far."),
        };
        let (text, text_cut) = queue_text(&post.text);
        let row = QueueRow {
            text,
            text_cut,
            media: queue_media(state, &post),
            pid: post.id.to_string(),
            label: label(&post),
            author: name_of(&names, &post.author_id),
            version: post.version,
            updated: when(&rfc3339(post.updated_at), &zone, tz),
            note,
            can_approve: actions.contains(&PostActionKind::Approve),
            can_request_changes: actions.contains(&PostActionKind::RequestChanges),
        };
        if row.can_approve { waiting.push(row) } else { others.push(row) }
    }
    let mut needing_changes = state.store.posts_needing_changes(id, QUEUE_LIMIT + 1).await?;
    let more_needing_changes = needing_changes.len() > QUEUE_LIMIT as usize;
    needing_changes.truncate(QUEUE_LIMIT as usize);
    let needs_changes = needing_changes
        .into_iter()
        .map(|post| QueueRow {
            pid: post.id.to_string(),
            label: label(&post),
            author: name_of(&names, &post.author_id),
            version: post.version,
            updated: when(&rfc3339(post.updated_at), &zone, tz),
            note: if post.author_id == viewer.principal.user_id {
                "Changes were requested on your post.".into()
            } else {
                "Changes were requested.".into()
            },
            can_approve: false,
            can_request_changes: false,
            text: String::new(),
            text_cut: false,
            media: Vec::new(),
        })
        .collect();
    let mut layout = viewer.layout(format!("Review queue of {}", a.account.display_name));
    layout.account = Some(account_nav(&a, "review"));
    Ok(ReviewPage {
        layout,
        csrf: viewer.csrf.clone(),
        waiting,
        others,
        needs_changes,
        can_approve: a.has(Capability::PostsApprove),
        row_error: None,
        older_href,
        newest_href: before.is_some().then(|| format!("/accounts/{id}/review")),
        more_needing_changes,
    })
}

pub async fn review_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    Query(q): Query<ReviewQuery>,
) -> Result<Response, PageError> {
    let mut page = review_view(&state, &viewer, &id, q.before.as_deref()).await.or_page(&viewer)?;
    page.layout.notice = notice(q.notice.as_deref());
    Ok(render(StatusCode::OK, &page))
}
