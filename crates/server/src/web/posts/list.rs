//! The account's posts page: every post, whatever its state, newest first, narrowed by state
//! (including "changes requested" and "held") and author, a page at a time.
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use steward_app::authz::Need;
use steward_app::posts::drafts::{Browse, PostFilter, browse_posts};
use steward_domain::capability::Capability;
use steward_domain::ids::AccountId;
use steward_domain::post::PostState;

use super::shared::{label_of, member_names, name_of, state_label};
use crate::error::{ApiError, Path, Query};
use crate::state::AppState;
use crate::web::account::{access, account_nav, account_zone};
use crate::web::html::Html;
use crate::web::time::when;
use crate::web::{Form, Layout, OrPage, PageError, Viewer, render};

/// Posts a page lists; a row is about 400 bytes, so a page stays far under 100 KB.
const PAGE: i64 = 50;

#[derive(Deserialize)]
pub struct PostsQuery {
    state: Option<String>,
    author: Option<String>,
    cursor: Option<String>,
}

/// The filter's choices: the value in the URL, and the words a person reads.
const FILTERS: [(&str, &str); 11] = [
    ("", "Every state"),
    ("draft", "Drafts"),
    ("changes_requested", "Changes requested"),
    ("in_review", "In review"),
    ("approved", "Approved"),
    ("scheduled", "Scheduled"),
    ("publishing", "Publishing"),
    ("published", "Published"),
    ("held", "Held when due"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
];

fn parse_filter(raw: Option<&str>) -> Result<Option<PostFilter>, ApiError> {
    match raw.unwrap_or("") {
        "" => Ok(None),
        "changes_requested" => Ok(Some(PostFilter::ChangesRequested)),
        "held" => Ok(Some(PostFilter::Held)),
        other => PostState::ALL
            .iter()
            .copied()
            .find(|s| s.as_str() == other)
            .map(|s| Some(PostFilter::State(s)))
            .ok_or_else(|| ApiError::validation("state", "is not one of the states this list offers")),
    }
}

pub struct PostLine {
    pub href: String,
    pub label: String,
    pub state: &'static str,
    /// CSS class of the state's mark.
    pub class: &'static str,
    pub author: String,
    pub updated: Html,
    pub scheduled: Option<Html>,
}

#[derive(Template)]
#[template(path = "posts.html")]
struct PostsPage {
    layout: Layout,
    id: String,
    filters: Form,
    states: Vec<(String, String)>,
    authors: Vec<(String, String)>,
    posts: Vec<PostLine>,
    older_href: Option<String>,
    newest_href: Option<String>,
    filtered: bool,
    can_draft: bool,
}

fn with_query(id: &str, pairs: &[(&str, &str)]) -> String {
    let kept: Vec<(&str, &str)> = pairs.iter().copied().filter(|(_, v)| !v.is_empty()).collect();
    if kept.is_empty() {
        return format!("/accounts/{id}/posts");
    }
    format!("/accounts/{id}/posts?{}", serde_urlencoded::to_string(kept).unwrap_or_default())
}

async fn posts_view(state: &AppState, viewer: &Viewer, id: &AccountId, q: &PostsQuery) -> Result<PostsPage, ApiError> {
    let a = access(state, viewer, id, Need::Capability(Capability::AccountView)).await?;
    let filter = parse_filter(q.state.as_deref())?;
    let author = q.author.as_deref().filter(|a| !a.is_empty());
    let browse = Browse { filter, author, cursor: q.cursor.as_deref(), limit: Some(PAGE) };
    let list = browse_posts(state, &viewer.ctx(), &viewer.principal, id, browse).await?;
    let names = member_names(state, viewer, id).await?;
    let zone = account_zone(&a.account);
    let tz = viewer.tz.as_ref();
    let posts = list
        .items
        .iter()
        .map(|p| {
            let held = p.hold_reason.is_some()
                && p.scheduled_at.is_none()
                && matches!(p.state.as_str(), "approved" | "in_review");
            let (state, class) =
                if held { ("Held when due", "held") } else { (state_label(&p.state), state_class(&p.state)) };
            PostLine {
                href: format!("/posts/{}", p.id),
                label: label_of(p.title.as_deref(), &p.text),
                state,
                class,
                author: name_of(&names, &p.author_id),
                updated: when(&p.updated_at, &zone, tz),
                scheduled: p.scheduled_at.as_deref().map(|at| when(at, &zone, tz)),
            }
        })
        .collect();
    let state_q = q.state.clone().unwrap_or_default();
    let author_q = author.unwrap_or("").to_string();
    let older_href =
        list.next_cursor.map(|c| with_query(id, &[("state", &state_q), ("author", &author_q), ("cursor", &c)]));
    let newest_href = q.cursor.as_ref().map(|_| with_query(id, &[("state", &state_q), ("author", &author_q)]));
    let mut authors: Vec<(String, String)> = names.into_iter().collect();
    authors.sort_by_key(|a| a.1.to_lowercase());
    authors.insert(0, (String::new(), "Everyone".into()));
    let states = FILTERS.iter().map(|(v, l)| ((*v).to_string(), (*l).to_string())).collect();
    let mut layout = viewer.layout(format!("Posts of {}", a.account.display_name));
    layout.account = Some(account_nav(&a, "posts"));
    Ok(PostsPage {
        layout,
        id: id.to_string(),
        filters: Form::new("filter", &viewer.csrf).value("state", state_q.clone()).value("author", author_q.clone()),
        states,
        authors,
        posts,
        older_href,
        newest_href,
        filtered: !state_q.is_empty() || !author_q.is_empty(),
        can_draft: a.has(Capability::DraftsCreate),
    })
}

fn state_class(state: &str) -> &'static str {
    match state {
        "published" => "published",
        "scheduled" | "approved" | "publishing" => "scheduled",
        "in_review" => "in_review",
        "failed" => "failed",
        _ => "plain",
    }
}

pub async fn posts_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    Query(q): Query<PostsQuery>,
) -> Result<Response, PageError> {
    let page = posts_view(&state, &viewer, &id, &q).await.or_page(&viewer)?;
    Ok(render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_offered_filter_reads_and_nothing_else_does() {
        for (value, _) in FILTERS {
            assert!(parse_filter(Some(value)).is_ok(), "{value}");
        }
        assert!(matches!(parse_filter(Some("held")), Ok(Some(PostFilter::Held))));
        assert!(parse_filter(Some("lost")).is_err());
    }
}
