//! The post editor: a new draft, or a post with its length counted against the platform's
//! limit, media by URL or upload, a preview, the differences between versions, the review
//! thread, and the buttons of the workflow actions the viewer may take now.
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use steward_app::AppError;
use steward_app::authz::{AccountAccess, Need};
use steward_app::clock::rfc3339;
use steward_app::posts::drafts::text_limit;
use steward_app::posts::media::stored_media;
use steward_app::posts::rules::approval_rules;
use steward_app::posts::view::{MediaItem, available_actions, parse_media, post_view};
use steward_domain::capability::Capability;
use steward_domain::ids::{AccountId, PostId};
use steward_domain::platform;
use steward_domain::post::PostActionKind;
use steward_store::PostVersionRow;

use super::preview::{PlatformPreview, PreviewMedia, platform_preview};
use super::shared::{hold_sentence, label, member_names, name_of, notice, state_label};
use crate::error::{ApiError, Path, Query};
use crate::state::AppState;
use crate::web::account::{access, account_nav, account_zone, platform_name};
use crate::web::html::{Html, escape};
use crate::web::time::{rfc3339_to_local_input, when};
use crate::web::{Form, Layout, OrPage, PageError, Viewer, render};

/// One version in the list of versions, with a link to its differences from the one before.
pub struct VersionLink {
    pub version: i64,
    pub href: String,
    pub by: String,
    pub at: Html,
    pub current: bool,
}

/// Version N against N-1, rendered on the server.
pub struct DiffView {
    pub from: i64,
    pub to: i64,
    pub title: Option<(String, String)>,
    /// The text with `<del>` and `<ins>` marks.
    pub text_html: Html,
    pub media_added: Vec<String>,
    pub media_removed: Vec<String>,
}

pub struct CommentRow {
    pub author: String,
    pub changes_requested: bool,
    pub body: String,
    pub version: i64,
    pub at: Html,
}

pub struct ChangesRequest {
    pub by: String,
    pub body: String,
    pub at: Html,
}

/// What the viewer may do with the post now (each button is shown only when true).
#[derive(Default)]
pub struct Allowed {
    pub edit: bool,
    pub submit: bool,
    pub approve: bool,
    pub request_changes: bool,
    pub schedule: bool,
    pub publish_now: bool,
    pub cancel: bool,
    pub comment: bool,
    pub upload: bool,
}

#[derive(Template)]
#[template(path = "post.html")]
pub(super) struct EditorPage {
    pub(super) layout: Layout,
    pub(super) account_id: AccountId,
    /// Empty for a new post.
    pid: String,
    heading: String,
    state: String,
    state_label: &'static str,
    version: i64,
    etag: String,
    pub(super) idempotency_key: String,
    platform: String,
    limit: usize,
    pub(super) count: usize,
    author: String,
    pub(super) edit: Form,
    allowed: Allowed,
    facts: Vec<(&'static str, Html)>,
    hold: Option<&'static str>,
    last_error: Option<String>,
    external_url: Option<String>,
    approvals_note: String,
    /// The request for changes the current version got, shown first.
    changes_request: Option<ChangesRequest>,
    /// The post as its platform will show it (from the saved text; the script keeps it live).
    pub(super) preview: PlatformPreview,
    /// The media attached (in order), each with its thumbnail, alt text and buttons.
    pub(super) attached: Vec<PreviewMedia>,
    versions: Vec<VersionLink>,
    diff: Option<DiffView>,
    comments: Vec<CommentRow>,
    pub(super) comment: Form,
    pub(super) changes: Form,
    pub(super) schedule: Form,
    pub(super) actions: Form,
    zone_name: String,
}

impl EditorPage {
    fn is_new(&self) -> bool {
        self.pid.is_empty()
    }

    /// Mastodon statuses may carry a content warning (the only platform that has one).
    fn has_warning(&self) -> bool {
        self.preview.platform == "mastodon"
    }
}

pub(super) fn is_local_media(state: &AppState, url: &str) -> bool {
    url.starts_with(&format!("{}/api/v1/accounts/", state.settings.public_url.trim_end_matches('/')))
}

/// The editor's media field (one URL per line) as a post's media items. The kind of each
/// comes from the post as it was, else from the upload it names, else from the file name.
pub(super) async fn read_media(
    state: &AppState,
    account_id: &AccountId,
    raw: &str,
    before: &[MediaItem],
) -> Result<Vec<MediaItem>, ApiError> {
    let mut items = Vec::new();
    for url in raw.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let kind = if let Some(m) = before.iter().find(|m| m.url == url) {
            m.kind.clone()
        } else if let Ok(Some(row)) = stored_media(state, account_id, url).await {
            row.kind
        } else {
            let path = url.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
            let video = [".mp4", ".mov", ".m4v", ".webm"].iter().any(|ext| path.ends_with(ext));
            if video { "video" } else { "image" }.to_string()
        };
        items.push(MediaItem { url: url.to_string(), kind, alt: None });
    }
    Ok(items)
}

/// A word-level difference (whitespace kept, so line breaks show), escaped for HTML, with
/// neighbouring changes of one kind in one mark.
#[must_use]
pub fn word_diff_html(old: &str, new: &str) -> Html {
    use similar::{ChangeTag, TextDiff};
    let diff = TextDiff::from_words(old, new);
    let mut html = String::with_capacity(new.len() + 64);
    let mut run: Option<(ChangeTag, String)> = None;
    let close = |html: &mut String, run: Option<(ChangeTag, String)>| {
        if let Some((tag, text)) = run {
            let text = escape(&text);
            match tag {
                ChangeTag::Equal => html.push_str(&text),
                ChangeTag::Delete => html.push_str(&format!("<del>{text}</del>")),
                ChangeTag::Insert => html.push_str(&format!("<ins>{text}</ins>")),
            }
        }
    };
    for change in diff.iter_all_changes() {
        match &mut run {
            Some((tag, text)) if *tag == change.tag() => text.push_str(change.value()),
            _ => {
                close(&mut html, run.take());
                run = Some((change.tag(), change.value().to_string()));
            }
        }
    }
    close(&mut html, run);
    Html::escaped(html)
}

fn diff_view(versions: &[PostVersionRow], to: i64) -> Option<DiffView> {
    let new = versions.iter().find(|v| v.version == to)?;
    let old = versions.iter().filter(|v| v.version < to).max_by_key(|v| v.version)?;
    let old_media = parse_media(&old.media);
    let new_media = parse_media(&new.media);
    let title = (old.title != new.title)
        .then(|| (old.title.clone().unwrap_or_default(), new.title.clone().unwrap_or_default()));
    Some(DiffView {
        from: old.version,
        to: new.version,
        title,
        text_html: word_diff_html(&old.text, &new.text),
        media_added: new_media.iter().filter(|m| !old_media.contains(m)).map(|m| m.url.clone()).collect(),
        media_removed: old_media.iter().filter(|m| !new_media.contains(m)).map(|m| m.url.clone()).collect(),
    })
}

#[derive(Deserialize)]
pub struct EditorQuery {
    notice: Option<String>,
    /// Show the differences of this version from the one before (default: the latest).
    compare: Option<i64>,
}

fn approvals_note(a: &AccountAccess) -> String {
    let rules = approval_rules(&a.account);
    let n = rules.policy.approvals_required;
    let mut note = if n == 1 { "It needs 1 approval".to_string() } else { format!("It needs {n} approvals") };
    if rules.owner_approval_required() {
        note.push_str(", one of them the owner's");
    }
    note.push('.');
    note
}

/// The media list of a post (or of a form) as the page shows it.
pub(super) fn shown_media(state: &AppState, media: &[MediaItem]) -> Vec<PreviewMedia> {
    media
        .iter()
        .map(|m| PreviewMedia {
            local: is_local_media(state, &m.url),
            url: m.url.clone(),
            kind: m.kind.clone(),
            alt: m.alt.clone().unwrap_or_default(),
        })
        .collect()
}

/// The preview of this content on the account's platform.
pub(super) fn preview_of(
    state: &AppState,
    a: &AccountAccess,
    title: Option<&str>,
    text: &str,
    warning: Option<&str>,
    media: &[MediaItem],
) -> PlatformPreview {
    platform_preview(
        a.account.platform.as_str(),
        &a.account.display_name,
        &a.account.handle,
        title,
        text,
        warning,
        shown_media(state, media),
    )
}

pub(super) fn new_editor(state: &AppState, viewer: &Viewer, a: &AccountAccess) -> EditorPage {
    let zone = account_zone(&a.account);
    let mut layout = viewer.layout(format!("New post on {}", a.account.display_name));
    layout.account = Some(account_nav(a, "new"));
    EditorPage {
        layout,
        account_id: a.account.id.clone(),
        pid: String::new(),
        heading: String::new(),
        state: "draft".into(),
        state_label: "New draft",
        version: 0,
        etag: String::new(),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
        platform: platform_name(a.account.platform.as_str()),
        limit: text_limit(&a.account),
        count: 0,
        author: viewer.principal.display_name.clone(),
        edit: Form::new("edit", &viewer.csrf),
        allowed: Allowed {
            edit: a.has(Capability::DraftsCreate),
            upload: a.has(Capability::DraftsCreate),
            ..Allowed::default()
        },
        facts: Vec::new(),
        hold: None,
        last_error: None,
        external_url: None,
        approvals_note: approvals_note(a),
        changes_request: None,
        preview: preview_of(state, a, None, "", None, &[]),
        attached: Vec::new(),
        versions: Vec::new(),
        diff: None,
        comments: Vec::new(),
        comment: Form::new("comment", &viewer.csrf),
        changes: Form::new("changes", &viewer.csrf),
        schedule: Form::new("schedule", &viewer.csrf),
        actions: Form::new("actions", &viewer.csrf),
        zone_name: zone.iana_name().unwrap_or("UTC").to_string(),
    }
}

/// The post's page: authorized like `steward_app::posts::drafts::get_post` (the post's account,
/// `account.view`; a post one may not see is not found).
pub(super) async fn editor_view(
    state: &AppState,
    viewer: &Viewer,
    pid: &PostId,
    compare: Option<i64>,
) -> Result<EditorPage, ApiError> {
    let post = state.store.post(pid).await?.ok_or(ApiError(AppError::NotFound))?;
    let a = access(state, viewer, &post.account_id, Need::Capability(Capability::AccountView)).await?;
    let approvals = state.store.post_approvals(pid).await?;
    let names = member_names(state, viewer, &post.account_id).await?;
    let now = state.clock.now_us();
    let actions = available_actions(&a, &post, &approvals, now);
    let zone = account_zone(&a.account);
    let tz = viewer.tz.as_ref();
    let view = post_view(post.clone(), &a.account, &approvals, now);

    let mut facts = vec![
        ("Author", Html::text(&name_of(&names, &post.author_id))),
        ("Version", Html::text(&post.version.to_string())),
    ];
    if let Some(comment) = &post.reply_to {
        let what = format!("the comment {comment}: once approved it is sent as a reply to it, not as a post");
        facts.push(("A reply to", Html::text(&what)));
    }
    if let Some(at) = &view.scheduled_at {
        facts.push(("Scheduled for", when(at, &zone, tz)));
    } else if let Some(at) = &view.planned_for {
        facts.push(("Planned for", when(at, &zone, tz)));
    }
    if let Some(w) = &post.content_warning {
        facts.push(("Content warning", Html::text(w)));
    }
    if let Some(by) = &post.scheduled_by {
        facts.push(("Scheduled by", Html::text(&name_of(&names, by))));
    }
    if let Some(at) = &view.published_at {
        facts.push(("Published", when(at, &zone, tz)));
    }
    let approved_by: Vec<String> = view
        .approvals
        .iter()
        .filter(|x| x.version == post.version && x.counts)
        .map(|x| name_of(&names, &x.user_id))
        .collect();
    if !approved_by.is_empty() {
        facts.push(("Approved by", Html::text(&approved_by.join(", "))));
    }
    facts.push(("Last change", when(&view.updated_at, &zone, tz)));

    let versions_rows = state.store.post_versions(pid).await?;
    let compare = compare.unwrap_or(post.version);
    let versions = versions_rows
        .iter()
        .rev()
        .map(|v| VersionLink {
            version: v.version,
            href: format!("/posts/{pid}?compare={}#changes-h", v.version),
            by: name_of(&names, &v.edited_by),
            at: when(&rfc3339(v.created_at), &zone, tz),
            current: v.version == compare,
        })
        .collect();
    let diff = diff_view(&versions_rows, compare);
    let comments: Vec<CommentRow> = state
        .store
        .post_comments(pid)
        .await?
        .into_iter()
        .map(|c| CommentRow {
            author: c.author_display_name,
            changes_requested: c.kind == "changes_requested",
            body: c.body,
            version: c.version,
            at: when(&rfc3339(c.created_at), &zone, tz),
        })
        .collect();
    // A draft sent back at its current version leads with what was asked (the newest request);
    // an edit raises the version and so ends it.
    let changes_request = (post.state.as_str() == "draft")
        .then(|| comments.iter().rev().find(|c| c.changes_requested && c.version == post.version))
        .flatten()
        .map(|c| ChangesRequest { by: c.author.clone(), body: c.body.clone(), at: c.at.clone() });
    let edit = Form::new("edit", &viewer.csrf)
        .value("title", post.title.clone().unwrap_or_default())
        .value("text", post.text.clone())
        .value("content_warning", post.content_warning.clone().unwrap_or_default())
        .value(
            "planned_for",
            view.planned_for.as_deref().map(|p| rfc3339_to_local_input(p, &zone)).unwrap_or_default(),
        );
    // Scheduling starts from the planned time, when there is one.
    let mut schedule = Form::new("schedule", &viewer.csrf);
    if let (None, Some(p)) = (&view.scheduled_at, &view.planned_for) {
        schedule = schedule.value("at", rfc3339_to_local_input(p, &zone));
    }
    let allowed = Allowed {
        edit: actions.contains(&PostActionKind::Edit),
        submit: actions.contains(&PostActionKind::Submit),
        approve: actions.contains(&PostActionKind::Approve),
        request_changes: actions.contains(&PostActionKind::RequestChanges),
        schedule: actions.contains(&PostActionKind::Schedule),
        publish_now: actions.contains(&PostActionKind::PublishNow),
        cancel: actions.contains(&PostActionKind::Cancel),
        comment: a.has(Capability::ReviewComment),
        upload: actions.contains(&PostActionKind::Edit) && a.has(Capability::DraftsCreate),
    };
    let preview =
        preview_of(state, &a, post.title.as_deref(), &post.text, post.content_warning.as_deref(), &view.media);
    let attached = shown_media(state, &view.media);
    let mut layout = viewer.layout(format!("{} · {}", label(&post), a.account.display_name));
    layout.account = Some(account_nav(&a, "posts"));
    Ok(EditorPage {
        layout,
        account_id: a.account.id.clone(),
        pid: pid.to_string(),
        heading: label(&post),
        state_label: state_label(post.state.as_str()),
        state: post.state.as_str().into(),
        version: post.version,
        etag: view.etag.clone(),
        idempotency_key: String::new(),
        platform: platform_name(a.account.platform.as_str()),
        limit: text_limit(&a.account),
        count: platform::text_chars(&post.text),
        author: name_of(&names, &post.author_id),
        edit,
        allowed,
        facts,
        hold: post.hold_reason.map(|r| hold_sentence(r.as_str())),
        last_error: post.last_error.clone(),
        external_url: post.external_url.clone(),
        approvals_note: approvals_note(&a),
        changes_request,
        preview,
        attached,
        versions,
        diff,
        comments,
        comment: Form::new("comment", &viewer.csrf),
        changes: Form::new("changes", &viewer.csrf),
        schedule,
        actions: Form::new("actions", &viewer.csrf),
        zone_name: zone.iana_name().unwrap_or("UTC").to_string(),
    })
}

pub async fn new_post_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
) -> Result<Response, PageError> {
    let a = access(&state, &viewer, &id, Need::Capability(Capability::DraftsCreate)).await.or_page(&viewer)?;
    Ok(render(StatusCode::OK, &new_editor(&state, &viewer, &a)))
}

pub async fn post_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<PostId>,
    Query(q): Query<EditorQuery>,
) -> Result<Response, PageError> {
    let mut page = editor_view(&state, &viewer, &pid, q.compare).await.or_page(&viewer)?;
    page.layout.notice = notice(q.notice.as_deref());
    Ok(render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_difference_marks_removed_and_added_words_and_escapes_them() {
        let html = word_diff_html("Hello <world>\nbye", "Hello there <world>\nbye now");
        assert_eq!(html.as_str(), "Hello <ins>there </ins>&lt;world&gt;\nbye<ins> now</ins>");
        assert_eq!(word_diff_html("one two three", "one three").as_str(), "one <del>two </del>three");
    }
}
