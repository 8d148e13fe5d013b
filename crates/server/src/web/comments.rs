//! The comments inbox of an account: comments on its published posts with their replies one
//! level deep, a reply form under each conversation, and only the moderation the platform
//! offers (deleting and blocking ask first). The inbox is `steward_app::engagement::inbox`
//! (`comments.reply`), replies `engagement::reply` (on a person's own profile a reply by anyone
//! else waits for the owner's approval, and its state shows under the comment), moderation
//! `moderation::moderate`: the page decides nothing.
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use steward_app::AppError;
use steward_app::authz::Need;
use steward_app::engagement::inbox::{self, Inbox, ReplyDraft, Thread};
use steward_app::engagement::{self, CommentView, ReplyOutcome, ReplyRequest};
use steward_app::moderation;
use steward_domain::capability::Capability;
use steward_domain::ids::AccountId;
use steward_domain::moderation::{ModerationAction, offered};

use crate::error::{ApiError, FieldError, Path, Query};
use crate::state::AppState;
use crate::web::account::{access, account_nav, account_zone, platform_name};
use crate::web::confirm::{Confirm, ask, confirmed};
use crate::web::html::Html;
use crate::web::time::when;
use crate::web::words::{label_of, reply_state};
use crate::web::{FormData, Layout, OrPage, PageError, Viewer, render, render_failed, see_other, sentence};

/// Conversations per page.
const PAGE_THREADS: usize = 6;
/// Replies shown under one conversation (the rest are on the platform).
const MAX_REPLIES: usize = 4;
/// Characters of a comment shown (LinkedIn's may hold 1,250). With the limits above a page of
/// the busiest inbox (30 comments with two moderation forms each, text that escapes to three
/// times its length) stays under 100 KB.
const TEXT_CHARS: usize = 300;

/// The comment's text, cut at [`TEXT_CHARS`].
fn shown_text(text: &str) -> String {
    if text.chars().nth(TEXT_CHARS).is_none() {
        return text.to_string();
    }
    let mut short: String = text.chars().take(TEXT_CHARS).collect();
    short.push_str("… (the rest is on the platform)");
    short
}

#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    page: Option<usize>,
    notice: Option<String>,
}

/// Fixed notices after an action worked (a key in the URL, never text from it).
fn notice_text(key: Option<&str>) -> Option<String> {
    let text = match key? {
        "replied" => "Your reply is sent.",
        "waiting" => {
            "Your reply is saved and waits for the owner's approval: it is sent once they approve it (its state shows under the comment)."
        }
        "hide" => "The comment is hidden.",
        "delete" => "The comment is deleted.",
        "mute-author" => "Its author is muted for this account.",
        "block-author" => "Its author is blocked for this account.",
        _ => return None,
    };
    Some(text.into())
}

fn is_destructive(action: ModerationAction) -> bool {
    matches!(action, ModerationAction::Delete | ModerationAction::BlockAuthor)
}

fn action_named(name: &str) -> Option<ModerationAction> {
    ModerationAction::ALL.into_iter().find(|a| a.path() == name)
}

/// A moderation button: its label, and for the screen reader whose comment it acts on.
pub struct Button {
    pub action: &'static str,
    pub label: String,
    pub whose: String,
    pub question: String,
    pub yes: String,
}

fn button(action: ModerationAction, author: &str, platform: &str) -> Button {
    let (label, whose, question, yes) = match action {
        ModerationAction::Hide => (
            "Hide".to_string(),
            format!(" the comment by {author}"),
            format!("Hide this comment by {author} on {platform}?"),
            "Yes, hide it".to_string(),
        ),
        ModerationAction::Delete => (
            "Delete".to_string(),
            format!(" the comment by {author}"),
            format!(
                "Delete this comment by {author} on {platform}? It and its replies are gone for everyone; this cannot be undone."
            ),
            "Yes, delete the comment".to_string(),
        ),
        ModerationAction::MuteAuthor => (
            format!("Mute {author}"),
            String::new(),
            format!("Mute {author} for this account?"),
            "Yes, mute them".to_string(),
        ),
        ModerationAction::BlockAuthor => (
            format!("Block {author}"),
            String::new(),
            format!("Block {author} for this account on {platform}? They can no longer follow it or reply to it."),
            format!("Yes, block {author}"),
        ),
    };
    Button { action: action.path(), label, whose, question, yes }
}

/// A reply written through Steward, shown under the comment it answers.
pub struct DraftLine {
    pub href: String,
    pub text: String,
    pub state: &'static str,
}

/// One comment as the page shows it.
pub struct Item {
    pub anchor: String,
    pub is_reply: bool,
    pub comment_id: String,
    pub author: String,
    pub when: Html,
    pub text: String,
    pub hidden: bool,
    pub drafts: Vec<DraftLine>,
    /// Actions that can be taken back on the platform (one form).
    pub soft: Vec<Button>,
    /// The one that cannot (deleting, blocking): its own form, which asks first.
    pub hard: Option<Button>,
    pub error: Option<String>,
}

/// The reply form under a conversation.
pub struct ReplyBox {
    pub field: String,
    pub comment_id: String,
    pub author: String,
    pub text: String,
    pub error: Option<String>,
}

pub struct ThreadView {
    pub post: Option<(String, String)>,
    pub items: Vec<Item>,
    pub more_replies: usize,
    pub reply: ReplyBox,
}

#[derive(Template)]
#[template(path = "comments.html")]
struct CommentsPage {
    layout: Layout,
    id: String,
    platform: String,
    unavailable: Option<String>,
    reply_needs_owner: bool,
    no_actions: Option<String>,
    threads: Vec<ThreadView>,
    newer: Option<String>,
    older: Option<String>,
    page_note: Option<String>,
    send_label: &'static str,
    /// An error that belongs to no comment on this page.
    general: Option<String>,
}

/// What failed, to show by its comment.
struct Failed {
    comment_id: String,
    reply: bool,
    message: String,
    text: String,
}

fn drafts_of(drafts: Option<&Vec<ReplyDraft>>) -> Vec<DraftLine> {
    drafts
        .into_iter()
        .flatten()
        .map(|d| DraftLine {
            href: format!("/posts/{}", d.post_id),
            text: shown_text(&d.text),
            state: reply_state(d.state.as_str()),
        })
        .collect()
}

struct Ctx<'a> {
    inbox: &'a Inbox,
    platform: &'a str,
    zone: &'a jiff::tz::TimeZone,
    viewer_tz: Option<&'a jiff::tz::TimeZone>,
    failed: Option<&'a Failed>,
}

fn item(c: &CommentView, t: &Thread, n: usize, is_reply: bool, cx: &Ctx<'_>) -> Item {
    let mut soft = Vec::new();
    let mut hard = None;
    for a in &cx.inbox.actions {
        if *a == ModerationAction::Hide && c.hidden {
            continue;
        }
        let b = button(*a, &c.author, cx.platform);
        if is_destructive(*a) {
            hard = Some(b);
        } else {
            soft.push(b);
        }
    }
    Item {
        anchor: format!("c{n}"),
        is_reply,
        comment_id: c.id.clone(),
        author: c.author.clone(),
        when: when(&c.created_at, cx.zone, cx.viewer_tz),
        text: shown_text(&c.text),
        hidden: c.hidden,
        drafts: drafts_of(t.drafts.get(&c.id)),
        soft,
        hard,
        error: cx.failed.filter(|f| !f.reply && f.comment_id == c.id).map(|f| f.message.clone()),
    }
}

fn thread_view(t: &Thread, n: usize, cx: &Ctx<'_>) -> ThreadView {
    let mut items = vec![item(&t.comment, t, n * 100, false, cx)];
    for (i, r) in t.replies.iter().take(MAX_REPLIES).enumerate() {
        items.push(item(r, t, n * 100 + i + 1, true, cx));
    }
    let failed = cx.failed.filter(|f| f.reply && f.comment_id == t.comment.id);
    ThreadView {
        post: t.post.as_ref().map(|p| (format!("/posts/{}", p.id), label_of(p.title.as_deref(), &p.text))),
        items,
        more_replies: t.replies.len().saturating_sub(MAX_REPLIES),
        reply: ReplyBox {
            field: format!("reply-{n}"),
            comment_id: t.comment.id.clone(),
            author: t.comment.author.clone(),
            text: failed.map(|f| f.text.clone()).unwrap_or_default(),
            error: failed.map(|f| f.message.clone()),
        },
    }
}

/// Whether the thread holds the comment `id` (itself or one of its replies).
fn holds(t: &Thread, id: &str) -> bool {
    t.comment.id == id || t.replies.iter().any(|r| r.id == id)
}

async fn inbox_page(
    state: &AppState,
    viewer: &Viewer,
    id: &AccountId,
    page: Option<usize>,
    failed: Option<&Failed>,
) -> Result<CommentsPage, ApiError> {
    // The inbox first: a member without `comments.reply` is refused there, as the use case says.
    let inbox = inbox::inbox(state, &viewer.ctx(), &viewer.principal, id).await?;
    let a = access(state, viewer, id, Need::ReadAccountAndRules).await?;
    let zone = account_zone(&a.account);
    let platform = platform_name(inbox.platform.as_str());
    let pages = inbox.threads.len().div_ceil(PAGE_THREADS).max(1);
    // After a failure, the page holding the comment it was about.
    let page = failed
        .and_then(|f| inbox.threads.iter().position(|t| holds(t, &f.comment_id)))
        .map(|i| i / PAGE_THREADS + 1)
        .or(page)
        .unwrap_or(1)
        .clamp(1, pages);
    let cx = Ctx { inbox: &inbox, platform: &platform, zone: &zone, viewer_tz: viewer.tz.as_ref(), failed };
    let start = (page - 1) * PAGE_THREADS;
    let threads: Vec<ThreadView> =
        inbox.threads.iter().enumerate().skip(start).take(PAGE_THREADS).map(|(n, t)| thread_view(t, n, &cx)).collect();
    let general = failed.filter(|f| !inbox.threads.iter().any(|t| holds(t, &f.comment_id))).map(|f| f.message.clone());
    let link = |p: usize| {
        if p == 1 { format!("/accounts/{id}/comments") } else { format!("/accounts/{id}/comments?page={p}") }
    };
    let mut layout = viewer.layout(format!("Comments on {}", a.account.display_name));
    layout.account = Some(account_nav(&a, "comments"));
    Ok(CommentsPage {
        id: id.to_string(),
        unavailable: inbox.unavailable.clone(),
        reply_needs_owner: inbox.reply_needs_owner,
        no_actions: inbox.no_actions.map(crate::web::capitalize_sentence),
        newer: (page > 1).then(|| link(page - 1)),
        older: (page < pages).then(|| link(page + 1)),
        page_note: (pages > 1)
            .then(|| format!("Conversations {} to {} of {}.", start + 1, start + threads.len(), inbox.threads.len())),
        send_label: if inbox.reply_needs_owner { "Send for the owner's approval" } else { "Send the reply" },
        threads,
        platform,
        general,
        layout,
    })
}

pub async fn comments_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    Query(q): Query<InboxQuery>,
) -> Result<Response, PageError> {
    let mut page = inbox_page(&state, &viewer, &id, q.page, None).await.or_page(&viewer)?;
    page.layout.notice = notice_text(q.notice.as_deref());
    Ok(render(StatusCode::OK, &page))
}

/// The page again with what went wrong by its comment (or, when the use case refused the
/// viewer the inbox itself, the error page with the refusal).
async fn failed_page(
    state: &AppState,
    viewer: &Viewer,
    id: &AccountId,
    failed: Failed,
    e: ApiError,
) -> Result<Response, PageError> {
    match inbox_page(state, viewer, id, None, Some(&failed)).await {
        Ok(page) => Ok(render_failed(&page, &e)),
        Err(_) => Err(PageError::new(Some(viewer), e)),
    }
}

/// "Reply": sent at once, or kept for the owner's approval on a person's own profile.
pub async fn reply_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    data: FormData,
) -> Result<Response, PageError> {
    let comment_id = data.text("comment_id");
    let text = data.get("text").unwrap_or("").replace("\r\n", "\n");
    let result = engagement::reply(
        &state,
        &viewer.ctx(),
        &viewer.principal,
        &id,
        &comment_id,
        ReplyRequest { text: text.clone() },
    )
    .await
    .map_err(ApiError);
    match result {
        Ok(ReplyOutcome::Sent(_)) => Ok(see_other(&format!("/accounts/{id}/comments?notice=replied"))),
        Ok(ReplyOutcome::AwaitingOwner(_)) => Ok(see_other(&format!("/accounts/{id}/comments?notice=waiting"))),
        Err(e) => {
            let message = match &e {
                ApiError(AppError::Validation(errors)) => errors
                    .iter()
                    .map(|f: &FieldError| {
                        let what = if f.field == "text" { "Your reply" } else { "The comment" };
                        crate::web::capitalize_sentence(&format!("{what} {}", f.message))
                    })
                    .collect::<Vec<_>>()
                    .join(" "),
                other => sentence(other),
            };
            failed_page(&state, &viewer, &id, Failed { comment_id, reply: true, message, text }, e).await
        }
    }
}

/// A moderation action on a comment; deleting and blocking ask first (the use case decides).
pub async fn moderate_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    data: FormData,
) -> Result<Response, PageError> {
    let comment_id = data.text("comment_id");
    let Some(action) = action_named(data.get("action").unwrap_or("")) else {
        let e = ApiError(AppError::validation("action", "must be one of hide, delete, mute-author, block-author"));
        let failed = Failed {
            comment_id,
            reply: false,
            message: "Choose what to do with the comment.".into(),
            text: String::new(),
        };
        return failed_page(&state, &viewer, &id, failed, e).await;
    };
    if is_destructive(action)
        && !confirmed(&data)
        && let Ok(a) = access(&state, &viewer, &id, Need::Capability(Capability::CommentsReply)).await
        && offered(a.account.platform, &a.account.account_kind, action).is_ok()
    {
        let platform = platform_name(a.account.platform.as_str());
        let author = data.text("author");
        let b = button(action, if author.is_empty() { "its author" } else { &author }, &platform);
        return Ok(ask(
            &viewer,
            Confirm {
                heading: b.label.clone(),
                question: b.question,
                details: Vec::new(),
                action: format!("/accounts/{id}/comments/moderate"),
                keep: vec![("comment_id".into(), comment_id), ("action".into(), action.path().into())],
                yes: b.yes,
                back: format!("/accounts/{id}/comments"),
                password: None,
            },
        ));
    }
    let result = moderation::moderate(&state, &viewer.ctx(), &viewer.principal, &id, &comment_id, action)
        .await
        .map_err(ApiError);
    match result {
        Ok(()) => Ok(see_other(&format!("/accounts/{id}/comments?notice={}", action.path()))),
        Err(e) => {
            let message = sentence(&e);
            failed_page(&state, &viewer, &id, Failed { comment_id, reply: false, message, text: String::new() }, e)
                .await
        }
    }
}
