//! Posts in the browser: the account's calendar (month, week and day), the review queue, and the
//! post editor (length counted against the platform's limit, media by URL or upload, a preview,
//! the differences between versions, the review thread and the workflow's actions).
//!
//! Every change goes through the API's own handler (`routes::posts`), so the same
//! authorization, workflow rules, audit event and errors apply. Buttons are offered only when
//! [`posts::available_actions`] (the domain's own decision, asked in advance) allows them; the
//! handler decides again when one is pressed.
use std::collections::{BTreeMap, HashMap};
use steward_app::AppError;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use steward_domain::capability::Capability;
use steward_domain::platform;
use steward_domain::post::PostActionKind;
use steward_store::{CalendarPostRow, PostListQuery, PostRow, PostVersionRow};

use crate::error::{ApiError, Json, Path, Query};
use crate::routes::members;
use crate::routes::pages::escape;
use crate::routes::posts::{
    self, ApproveRequest, CommentRequest, ContentRequest, EditRequest, MediaItem, RequestChangesRequest,
    ScheduleRequest,
};
use crate::state::AppState;
use crate::web::account::{access, account_nav, account_zone, platform_name};
use crate::web::time::{local_input_to_rfc3339, when};
use crate::web::{Form, FormData, Layout, Viewer, error_page, render, render_failed, see_other};
use steward_app::authz::{AccountAccess, Need};
use steward_app::clock::rfc3339;

/// Posts a day shows in the month view; the rest are a link to that day's week, so a busy
/// month stays a page of a few dozen kilobytes.
const MONTH_DAY_ENTRIES: usize = 6;
/// Posts a day shows in the week view; the rest are a link to the day itself. A week of 1,000
/// posts would otherwise be a page of about 190 KB.
const WEEK_DAY_ENTRIES: usize = 20;
/// Posts a page of the day view shows; a busier day has pages.
const DAY_PAGE_ENTRIES: usize = 100;
/// How many posts in review a page of the queue shows (the rest are on the next page), and how
/// many posts needing changes it lists; each waiting post carries two forms (~1 KB).
const QUEUE_LIMIT: i64 = 50;
/// What the editor says when the post changed since the form was shown (412).
const STALE_EDIT: &str = "Someone else changed this post while you were editing it. Your text is kept below: \
     open the post again to see their version, then make your changes there.";

/// Fixed notices after a post form worked (a key in the URL, never text from it).
fn notice(key: Option<&str>) -> Option<String> {
    let text = match key? {
        "created" => "The draft is saved. Submit it for review when it is ready.",
        "saved" => "Saved. An edit makes the post a draft again: submit it for review when it is ready.",
        "submitted" => "Submitted for review.",
        "approved" => "Approved.",
        "changes" => "Changes requested: the post is a draft again, and the author sees your comment.",
        "scheduled" => "Scheduled.",
        "publishing" => "Publishing now.",
        "cancelled" => "The post is cancelled.",
        "commented" => "Comment added.",
        _ => return None,
    };
    Some(text.into())
}

/// How much of a text stands for its post in lists (the calendar reads one character more).
const LABEL_CHARS: usize = steward_store::CALENDAR_TEXT_CHARS - 1;

/// A post in a list: its title, or the start of its text.
fn label(post: &PostRow) -> String {
    label_of(post.title.as_deref(), &post.text)
}

fn label_of(title: Option<&str>, text: &str) -> String {
    if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) {
        return t.to_string();
    }
    let text = text.trim();
    if text.is_empty() {
        return "(media only)".into();
    }
    let mut short: String = text.chars().take(LABEL_CHARS).collect();
    if text.chars().nth(LABEL_CHARS).is_some() {
        short.push('…');
    }
    short
}

fn state_label(state: &str) -> &'static str {
    match state {
        "draft" => "Draft",
        "in_review" => "In review",
        "approved" => "Approved",
        "scheduled" => "Scheduled",
        "publishing" => "Publishing",
        "published" => "Published",
        "failed" => "Failed",
        "cancelled" => "Cancelled",
        _ => "Unknown",
    }
}

/// Why the scheduler held a post, for its owner and members.
fn hold_sentence(reason: &str) -> &'static str {
    match reason {
        "approvals_no_longer_valid" => {
            "It was held when it was due: some of its approvals no longer count (an approver lost the right to approve). It is back in review."
        }
        "outside_window" => {
            "It was held when it was due: the time fell outside the posting hours of the member who scheduled it. Schedule it again."
        }
        "daily_quota_exceeded" => {
            "It was held when it was due: the member who scheduled it had reached their daily quota. Schedule it again."
        }
        "pace_exceeded" => {
            "It was held when it was due: the account's pace limits did not allow it. Schedule it again."
        }
        "locked_down" => "It was held when it was due: the account is locked down.",
        "needs_reconnect" => {
            "It was held when it was due: the platform no longer accepts the account's connection. The owner must reconnect it, then schedule it again."
        }
        _ => "It was held when it was due. Schedule it again.",
    }
}

/// The account's members by user id, through the API's members list (same authorization).
async fn member_names(
    state: &AppState,
    viewer: &Viewer,
    account_id: &str,
) -> Result<HashMap<String, String>, ApiError> {
    let Json(list) = members::list_members(
        State(state.clone()),
        viewer.ctx(),
        viewer.principal.clone(),
        Path(account_id.to_string()),
    )
    .await?;
    Ok(list.items.into_iter().map(|m| (m.user_id, m.display_name)).collect())
}

fn name_of(names: &HashMap<String, String>, user_id: &str) -> String {
    names.get(user_id).cloned().unwrap_or_else(|| "a former member".into())
}

// ---------------------------------------------------------------------------------------------
// Calendar

#[derive(Deserialize)]
pub struct CalendarQuery {
    view: Option<String>,
    date: Option<String>,
    /// The page of a busy day (day view only), from 1.
    page: Option<String>,
}

/// What the calendar shows: whole weeks of a month, one week, or one day.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CalendarView {
    Month,
    Week,
    Day,
}

impl CalendarView {
    fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw {
            None | Some("" | "month") => Ok(Self::Month),
            Some("week") => Ok(Self::Week),
            Some("day") => Ok(Self::Day),
            Some(_) => Err(ApiError::validation("view", "must be month, week or day")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Week => "week",
            Self::Day => "day",
        }
    }
}

pub struct CalendarEntry {
    pub href: String,
    /// `HH:MM` in the account's time zone.
    pub time: String,
    /// The same instant in the viewer's zone, when it differs.
    pub viewer_time: Option<String>,
    pub label: String,
    pub status: &'static str,
    /// CSS class of the status mark.
    pub class: &'static str,
}

pub struct CalendarDay {
    pub heading: String,
    /// Posts of the day the view leaves out, behind `more_href` (the next view down).
    pub more: usize,
    pub more_href: String,
    pub datetime: String,
    pub outside: bool,
    pub today: bool,
    pub entries: Vec<CalendarEntry>,
}

pub struct DayPages {
    pub first: usize,
    pub last: usize,
    pub earlier_href: Option<String>,
    pub later_href: Option<String>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    layout: Layout,
    id: String,
    heading: String,
    /// `month`, `week` or `day`.
    view: &'static str,
    days: Vec<CalendarDay>,
    /// Which of the day's posts this page of the day view shows, and links to the others.
    day_pages: Option<DayPages>,
    prev_href: String,
    next_href: String,
    today_href: String,
    week_href: String,
    month_href: String,
    zone_name: String,
    viewer_zone: Option<String>,
    shown: usize,
    can_draft: bool,
}

fn date_span(from: Date, days: i64) -> Date {
    from.checked_add(days.days()).unwrap_or(from)
}

/// The first instant of `day` in `zone` (a day that starts in a DST gap starts when it can).
fn day_start_us(day: Date, zone: &TimeZone) -> i64 {
    day.to_zoned(zone.clone()).map(|z| z.timestamp().as_microsecond()).unwrap_or(0)
}

/// One calendar line; `local` is the instant in the account's zone.
fn calendar_entry(post: &CalendarPostRow, local: &jiff::Zoned, viewer: Option<&TimeZone>) -> CalendarEntry {
    let held = post.scheduled_at.is_none() && post.hold_reason.is_some();
    let (status, class) = if held {
        ("Held", "held")
    } else {
        match post.state.as_str() {
            "published" => ("Published", "published"),
            "failed" => ("Failed", "failed"),
            "publishing" => ("Publishing", "scheduled"),
            _ => ("Scheduled", "scheduled"),
        }
    };
    let viewer_time = viewer.filter(|v| v.iana_name() != local.time_zone().iana_name()).map(|v| {
        let there = local.timestamp().to_zoned(v.clone());
        format!("{} {:02}:{:02}", short_weekday(there.weekday()), there.hour(), there.minute())
    });
    CalendarEntry {
        href: format!("/posts/{}", post.id),
        time: format!("{:02}:{:02}", local.hour(), local.minute()),
        viewer_time,
        label: label_of(post.title.as_deref(), &post.text),
        status,
        class,
    }
}

fn short_weekday(day: jiff::civil::Weekday) -> &'static str {
    crate::web::time::DAYS[usize::try_from(day.to_monday_zero_offset()).unwrap_or(0)].1
}

/// The calendar's page model: the visible days (whole weeks, Monday first) and the posts in
/// them, read with one range query of exactly the visible instants.
async fn calendar_view(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    q: &CalendarQuery,
) -> Result<CalendarPage, ApiError> {
    let a = access(state, viewer, id, Need::Capability(Capability::AccountView)).await?;
    let zone = account_zone(&a.account);
    let today = state.clock.now().to_zoned(zone.clone()).date();
    let view = CalendarView::parse(q.view.as_deref())?;
    let date = match q.date.as_deref() {
        None | Some("") => today,
        Some(raw) => {
            raw.parse::<Date>().map_err(|_| ApiError::validation("date", "must be a date such as 2027-01-31"))?
        }
    };
    let page = match q.page.as_deref() {
        None | Some("") => 1,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|p| (1..=100_000).contains(p))
            .ok_or_else(|| ApiError::validation("page", "must be a page number from 1"))?,
    };
    let monday = |d: Date| date_span(d, -i64::from(d.weekday().to_monday_zero_offset()));
    let (first, last, heading, prev, next) = match view {
        CalendarView::Week => {
            let start = monday(date);
            let end = date_span(start, 6);
            let heading = format!("Week of {}", start.strftime("%-d %B %Y"));
            (start, end, heading, date_span(start, -7), date_span(start, 7))
        }
        CalendarView::Day => {
            (date, date, date.strftime("%A %-d %B %Y").to_string(), date_span(date, -1), date_span(date, 1))
        }
        CalendarView::Month => {
            let month = date.first_of_month();
            let start = monday(month);
            let last_day = month.last_of_month();
            let end = date_span(last_day, 6 - i64::from(last_day.weekday().to_monday_zero_offset()));
            let prev = month.checked_sub(1.month()).unwrap_or(month);
            let next = month.checked_add(1.month()).unwrap_or(month);
            (start, end, month.strftime("%B %Y").to_string(), prev, next)
        }
    };
    let from = day_start_us(first, &zone);
    let to = day_start_us(date_span(last, 1), &zone);
    let rows = state.store.calendar_posts(id, from, to).await?;

    let href = |view: &str, d: Date| format!("/accounts/{id}/calendar?view={view}&date={d}");
    // A busy day links to the next view down: the month to the week, the week to the day.
    let (per_day, skip, more_view) = match view {
        CalendarView::Month => (MONTH_DAY_ENTRIES, 0, "week"),
        CalendarView::Week => (WEEK_DAY_ENTRIES, 0, "day"),
        CalendarView::Day => (DAY_PAGE_ENTRIES, (page - 1) * DAY_PAGE_ENTRIES, "day"),
    };
    let mut days = Vec::new();
    let mut index = BTreeMap::new();
    let mut d = first;
    while d <= last {
        index.insert(d, days.len());
        days.push(CalendarDay {
            heading: d.strftime("%a %-d %b").to_string(),
            more: 0,
            more_href: href(more_view, d),
            datetime: d.to_string(),
            outside: view == CalendarView::Month && d.month() != date.month(),
            today: d == today,
            entries: Vec::new(),
        });
        d = date_span(d, 1);
    }
    // Held posts lost their `scheduled_at` when held: they sit where they were held.
    let mut placed: Vec<(i64, &CalendarPostRow)> = rows
        .iter()
        .filter_map(|p| Some((p.scheduled_at.or(p.hold_reason.as_ref().map(|_| p.updated_at))?, p)))
        .collect();
    placed.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.id.cmp(&y.1.id)));
    let tz = viewer.tz.as_ref();
    let mut shown = 0;
    let mut seen_per_day = vec![0usize; days.len()];
    for (at_us, post) in placed {
        let Ok(at) = jiff::Timestamp::from_microsecond(at_us) else { continue };
        let local = at.to_zoned(zone.clone());
        if let Some(&i) = index.get(&local.date()) {
            let day = &mut days[i];
            let nth = seen_per_day[i];
            seen_per_day[i] += 1;
            shown += 1;
            if nth < skip {
                continue;
            }
            if day.entries.len() < per_day {
                day.entries.push(calendar_entry(post, &local, tz));
            } else if view != CalendarView::Day {
                // The day view pages instead of linking to itself.
                day.more += 1;
            }
        }
    }
    let day_pages = (view == CalendarView::Day && (shown > DAY_PAGE_ENTRIES || page > 1)).then(|| {
        let page_href = |p: usize| format!("{}&page={p}", href("day", date));
        DayPages {
            first: (skip + 1).min(shown),
            last: (skip + DAY_PAGE_ENTRIES).min(shown),
            earlier_href: (page > 1).then(|| page_href(page - 1)),
            later_href: (skip + DAY_PAGE_ENTRIES < shown).then(|| page_href(page + 1)),
        }
    });
    let mut layout = viewer.layout(format!("Calendar of {}", a.account.display_name));
    layout.account = Some(account_nav(&a, "calendar"));
    let zone_name = zone.iana_name().unwrap_or("UTC").to_string();
    Ok(CalendarPage {
        layout,
        id: id.to_string(),
        heading,
        view: view.name(),
        days,
        day_pages,
        prev_href: href(view.name(), prev),
        next_href: href(view.name(), next),
        today_href: href(view.name(), today),
        week_href: href("week", date),
        month_href: href("month", date),
        viewer_zone: tz.and_then(TimeZone::iana_name).filter(|v| *v != zone_name).map(str::to_string),
        zone_name,
        shown,
        can_draft: a.has(Capability::DraftsCreate),
    })
}

pub async fn calendar_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<CalendarQuery>,
) -> Response {
    match calendar_view(&state, &viewer, &id, &q).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(Some(&viewer), &e),
    }
}

// ---------------------------------------------------------------------------------------------
// Review queue

pub struct QueueRow {
    pub pid: String,
    pub label: String,
    pub author: String,
    pub version: i64,
    pub updated: String,
    pub note: String,
    pub can_approve: bool,
    pub can_request_changes: bool,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    layout: Layout,
    csrf: String,
    waiting: Vec<QueueRow>,
    others: Vec<QueueRow>,
    needs_changes: Vec<QueueRow>,
    can_approve: bool,
    row_error: Option<String>,
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

async fn review_view(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    before: Option<&str>,
) -> Result<ReviewPage, ApiError> {
    let a = access(state, viewer, id, Need::Capability(Capability::AccountView)).await?;
    let names = member_names(state, viewer, id).await?;
    let zone = account_zone(&a.account);
    let tz = viewer.tz.as_ref();
    let now = state.clock.now_us();
    let before = parse_review_cursor(before)?;
    // One more than a page, to know whether there is a next one.
    let query = PostListQuery { state: Some("in_review"), author_id: None, before, limit: QUEUE_LIMIT + 1 };
    let mut in_review = state.store.list_posts(id, &query).await?;
    let older_href = (in_review.len() > QUEUE_LIMIT as usize).then(|| {
        in_review.truncate(QUEUE_LIMIT as usize);
        let last = &in_review[in_review.len() - 1];
        format!("/accounts/{id}/review?before={}.{}", last.created_at, last.id)
    });
    let (mut waiting, mut others) = (Vec::new(), Vec::new());
    let mut approvals_of: HashMap<String, Vec<steward_store::ApprovalRow>> = HashMap::new();
    if let (Some(newest), Some(oldest)) = (in_review.first(), in_review.last()) {
        for a in state.store.approvals_in_review_between(id, oldest.created_at, newest.created_at).await? {
            approvals_of.entry(a.post_id.clone()).or_default().push(a);
        }
    }
    for post in in_review {
        let approvals = approvals_of.remove(&post.id).unwrap_or_default();
        let actions = posts::available_actions(&a, &post, &approvals, now);
        let mine = approvals.iter().any(|x| x.version == post.version && x.approver_id == viewer.principal.user_id);
        let counted = approvals
            .iter()
            .filter(|x| x.version == post.version && steward_app::posts::rules::approval_counts(&a.account, x, now))
            .count();
        let note = match (mine, counted) {
            (true, _) => "You approved this version; it needs more approvals.".to_string(),
            (false, 0) => "No approvals yet.".to_string(),
            (false, 1) => "1 approval so far.".to_string(),
            (false, n) => format!("{n} approvals so far."),
        };
        let row = QueueRow {
            pid: post.id.clone(),
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
            pid: post.id.clone(),
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
    Path(id): Path<String>,
    Query(q): Query<ReviewQuery>,
) -> Response {
    match review_view(&state, &viewer, &id, q.before.as_deref()).await {
        Ok(mut page) => {
            page.layout.notice = notice(q.notice.as_deref());
            render(StatusCode::OK, &page)
        }
        Err(e) => error_page(Some(&viewer), &e),
    }
}

// ---------------------------------------------------------------------------------------------
// Editor

/// One version in the list of versions, with a link to its differences from the one before.
pub struct VersionLink {
    pub version: i64,
    pub href: String,
    pub by: String,
    pub at: String,
    pub current: bool,
}

/// Version N against N-1, rendered on the server.
pub struct DiffView {
    pub from: i64,
    pub to: i64,
    pub title: Option<(String, String)>,
    /// The text with `<del>` and `<ins>` marks (already escaped).
    pub text_html: String,
    pub media_added: Vec<String>,
    pub media_removed: Vec<String>,
}

pub struct CommentRow {
    pub author: String,
    pub changes_requested: bool,
    pub body: String,
    pub version: i64,
    pub at: String,
}

pub struct PreviewMedia {
    pub url: String,
    pub kind: String,
    /// Uploaded to this server: shown inline (the page's CSP allows only our own images).
    pub local: bool,
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
struct EditorPage {
    layout: Layout,
    account_id: String,
    /// Empty for a new post.
    pid: String,
    heading: String,
    state: String,
    state_label: &'static str,
    version: i64,
    etag: String,
    idempotency_key: String,
    platform: String,
    limit: usize,
    count: usize,
    author: String,
    edit: Form,
    allowed: Allowed,
    facts: Vec<(&'static str, String)>,
    hold: Option<&'static str>,
    last_error: Option<String>,
    external_url: Option<String>,
    approvals_note: String,
    preview_title: Option<String>,
    preview_text: String,
    preview_media: Vec<PreviewMedia>,
    versions: Vec<VersionLink>,
    diff: Option<DiffView>,
    comments: Vec<CommentRow>,
    comment: Form,
    changes: Form,
    schedule: Form,
    actions: Form,
    zone_name: String,
}

impl EditorPage {
    fn is_new(&self) -> bool {
        self.pid.is_empty()
    }
}

fn media_lines(media: &[MediaItem]) -> String {
    media.iter().map(|m| m.url.as_str()).collect::<Vec<_>>().join("\n")
}

fn is_local_media(state: &AppState, url: &str) -> bool {
    url.starts_with(&format!("{}/api/v1/accounts/", state.settings.public_url.trim_end_matches('/')))
}

/// The editor's media field (one URL per line) as the API's media items. The kind of each
/// comes from the post as it was, else from the upload it names, else from the file name.
async fn read_media(state: &AppState, raw: &str, before: &[MediaItem]) -> Result<Vec<MediaItem>, ApiError> {
    let mut items = Vec::new();
    for url in raw.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let kind = if let Some(m) = before.iter().find(|m| m.url == url) {
            m.kind.clone()
        } else if let Some((row, _)) = steward_app::posts::media::stored_media(state, url).await? {
            row.kind
        } else {
            let path = url.split(['?', '#']).next().unwrap_or_default().to_ascii_lowercase();
            let video = [".mp4", ".mov", ".m4v", ".webm"].iter().any(|ext| path.ends_with(ext));
            if video { "video" } else { "image" }.to_string()
        };
        items.push(MediaItem { url: url.to_string(), kind });
    }
    Ok(items)
}

/// A word-level difference (whitespace kept, so line breaks show), escaped for HTML, with
/// neighbouring changes of one kind in one mark.
#[must_use]
pub fn word_diff_html(old: &str, new: &str) -> String {
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
    html
}

fn diff_view(versions: &[PostVersionRow], to: i64) -> Option<DiffView> {
    let new = versions.iter().find(|v| v.version == to)?;
    let old = versions.iter().filter(|v| v.version < to).max_by_key(|v| v.version)?;
    let old_media: Vec<MediaItem> = serde_json::from_str(&old.media).unwrap_or_default();
    let new_media: Vec<MediaItem> = serde_json::from_str(&new.media).unwrap_or_default();
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
    let rules = steward_app::posts::rules::approval_rules(&a.account);
    let n = rules.policy.approvals_required;
    let mut note = if n == 1 { "It needs 1 approval".to_string() } else { format!("It needs {n} approvals") };
    if rules.owner_approval_required() {
        note.push_str(", one of them the owner's");
    }
    note.push('.');
    note
}

fn new_editor(state: &AppState, viewer: &Viewer, a: &AccountAccess) -> EditorPage {
    let zone = account_zone(&a.account);
    let mut layout = viewer.layout(format!("New post on {}", a.account.display_name));
    layout.account = Some(account_nav(a, "new"));
    let _ = state;
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
        platform: platform_name(&a.account.platform),
        limit: posts::text_limit(&a.account),
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
        preview_title: None,
        preview_text: String::new(),
        preview_media: Vec::new(),
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

/// The post's page: authorized like the API's `GET /posts/{id}` (the post's account,
/// `account.view`; a post one may not see is not found).
async fn editor_view(
    state: &AppState,
    viewer: &Viewer,
    pid: &str,
    compare: Option<i64>,
) -> Result<EditorPage, ApiError> {
    let post = state.store.post(pid).await?.ok_or(ApiError(AppError::NotFound))?;
    let a = access(state, viewer, &post.account_id, Need::Capability(Capability::AccountView)).await?;
    let approvals = state.store.post_approvals(pid).await?;
    let names = member_names(state, viewer, &post.account_id).await?;
    let now = state.clock.now_us();
    let actions = posts::available_actions(&a, &post, &approvals, now);
    let zone = account_zone(&a.account);
    let tz = viewer.tz.as_ref();
    let view = posts::post_view(post.clone(), &a.account, &approvals, now);

    let mut facts = vec![("Author", name_of(&names, &post.author_id)), ("Version", post.version.to_string())];
    if let Some(at) = &view.scheduled_at {
        facts.push(("Scheduled for", when(at, &zone, tz)));
    }
    if let Some(by) = &post.scheduled_by {
        facts.push(("Scheduled by", name_of(&names, by)));
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
        facts.push(("Approved by", approved_by.join(", ")));
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
    let comments = state
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
    let edit = Form::new("edit", &viewer.csrf)
        .value("title", post.title.clone().unwrap_or_default())
        .value("text", post.text.clone())
        .value("media", media_lines(&view.media));
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
    let preview_media = view
        .media
        .iter()
        .map(|m| PreviewMedia { local: is_local_media(state, &m.url), url: m.url.clone(), kind: m.kind.clone() })
        .collect();
    let mut layout = viewer.layout(format!("{} · {}", label(&post), a.account.display_name));
    layout.account = Some(account_nav(&a, "post"));
    Ok(EditorPage {
        layout,
        account_id: a.account.id.clone(),
        pid: pid.to_string(),
        heading: label(&post),
        state_label: state_label(&post.state),
        state: post.state.clone(),
        version: post.version,
        etag: posts::etag(&post),
        idempotency_key: String::new(),
        platform: platform_name(&a.account.platform),
        limit: posts::text_limit(&a.account),
        count: platform::text_chars(&post.text),
        author: name_of(&names, &post.author_id),
        edit,
        allowed,
        facts,
        hold: post.hold_reason.as_deref().map(hold_sentence),
        last_error: post.last_error.clone(),
        external_url: post.external_url.clone(),
        approvals_note: approvals_note(&a),
        preview_title: post.title.clone().filter(|t| !t.trim().is_empty()),
        preview_text: post.text.clone(),
        preview_media,
        versions,
        diff,
        comments,
        comment: Form::new("comment", &viewer.csrf),
        changes: Form::new("changes", &viewer.csrf),
        schedule: Form::new("schedule", &viewer.csrf),
        actions: Form::new("actions", &viewer.csrf),
        zone_name: zone.iana_name().unwrap_or("UTC").to_string(),
    })
}

pub async fn new_post_page(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    match access(&state, &viewer, &id, Need::Capability(Capability::DraftsCreate)).await {
        Ok(a) => render(StatusCode::OK, &new_editor(&state, &viewer, &a)),
        Err(e) => error_page(Some(&viewer), &e),
    }
}

pub async fn post_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<String>,
    Query(q): Query<EditorQuery>,
) -> Response {
    match editor_view(&state, &viewer, &pid, q.compare).await {
        Ok(mut page) => {
            page.layout.notice = notice(q.notice.as_deref());
            render(StatusCode::OK, &page)
        }
        Err(e) => error_page(Some(&viewer), &e),
    }
}

/// The edit form's text as the API takes it (browsers send line breaks as CR LF).
fn form_text(data: &FormData, name: &str) -> String {
    data.get(name).unwrap_or("").replace("\r\n", "\n")
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
    Path(id): Path<String>,
    data: FormData,
) -> Response {
    let a = match access(&state, &viewer, &id, Need::Capability(Capability::DraftsCreate)).await {
        Ok(a) => a,
        Err(e) => return error_page(Some(&viewer), &e),
    };
    let result = async {
        let media = read_media(&state, &data.text("media"), &[]).await?;
        let body = ContentRequest { text: form_text(&data, "text"), title: data.opt("title"), media };
        // The form's own key: a second press of "Save" (or a reload) answers the same draft.
        let mut headers = HeaderMap::new();
        if let Some(key) = data.opt("idempotency_key")
            && let Ok(v) = HeaderValue::from_str(&key)
        {
            headers.insert("idempotency-key", v);
        }
        posts::create_post(
            State(state.clone()),
            viewer.ctx(),
            viewer.principal.clone(),
            Path(id.clone()),
            headers,
            Json(body),
        )
        .await
    }
    .await;
    match result {
        Ok(resp) => match created_id(resp).await {
            Some(pid) => see_other(&format!("/posts/{pid}?notice=created")),
            None => see_other(&format!("/accounts/{id}/calendar")),
        },
        Err(e) => {
            let mut page = new_editor(&state, &viewer, &a);
            page.idempotency_key = data.text("idempotency_key");
            render_failed(&refill(page, &viewer, data, &e), &e)
        }
    }
}

/// The id of the post an API answer describes.
async fn created_id(resp: Response) -> Option<String> {
    let bytes = axum::body::to_bytes(resp.into_body(), crate::request::BODY_LIMIT).await.ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v["id"].as_str().map(str::to_string)
}

pub async fn edit_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<String>,
    data: FormData,
) -> Response {
    let result = async {
        let before = state.store.post(&pid).await?.ok_or(ApiError(AppError::NotFound))?;
        let before_media: Vec<MediaItem> = serde_json::from_str(&before.media).unwrap_or_default();
        let media = read_media(&state, &data.text("media"), &before_media).await?;
        let body =
            EditRequest { text: Some(form_text(&data, "text")), title: Some(data.opt("title")), media: Some(media) };
        let mut headers = HeaderMap::new();
        // The version the form was filled from: a stale one is the API's 412.
        let tag = HeaderValue::from_str(&data.text("etag")).unwrap_or(HeaderValue::from_static("\"none\""));
        headers.insert(header::IF_MATCH, tag);
        posts::edit_post(
            State(state.clone()),
            viewer.ctx(),
            viewer.principal.clone(),
            Path(pid.clone()),
            headers,
            Json(body),
        )
        .await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/posts/{pid}?notice=saved")),
        Err(e) => match editor_view(&state, &viewer, &pid, None).await {
            Ok(page) => render_failed(&refill(page, &viewer, data, &e), &e),
            Err(e2) => error_page(Some(&viewer), &e2),
        },
    }
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
async fn after_action(
    state: &AppState,
    viewer: &Viewer,
    pid: &str,
    data: FormData,
    result: Result<Response, ApiError>,
    slot: Slot,
    done: &str,
) -> Response {
    let from_queue = data.get("from") == Some("review");
    match result {
        Ok(_) if from_queue => match state.store.post(pid).await {
            Ok(Some(p)) => see_other(&format!("/accounts/{}/review?notice={done}", p.account_id)),
            _ => see_other(&format!("/posts/{pid}?notice={done}")),
        },
        Ok(_) => see_other(&format!("/posts/{pid}?notice={done}")),
        Err(e) if from_queue => {
            let account_id = match state.store.post(pid).await {
                Ok(Some(p)) => p.account_id,
                _ => return error_page(Some(viewer), &e),
            };
            match review_view(state, viewer, &account_id, None).await {
                Ok(mut page) => {
                    page.row_error = Some(crate::web::sentence(&e));
                    render_failed(&page, &e)
                }
                Err(e2) => error_page(Some(viewer), &e2),
            }
        }
        Err(e) => match editor_view(state, viewer, pid, None).await {
            Ok(mut page) => {
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
                .failed(&e);
                match slot {
                    Slot::Actions => page.actions = form,
                    Slot::Changes => page.changes = form,
                    Slot::Schedule => page.schedule = form,
                    Slot::Comment => page.comment = form,
                }
                render_failed(&page, &e)
            }
            Err(e2) => error_page(Some(viewer), &e2),
        },
    }
}

pub async fn submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<String>,
    data: FormData,
) -> Response {
    let r = posts::submit_post(State(state.clone()), viewer.ctx(), viewer.principal.clone(), Path(pid.clone())).await;
    after_action(&state, &viewer, &pid, data, r, Slot::Actions, "submitted").await
}

pub async fn approve(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<String>,
    data: FormData,
) -> Response {
    let version = data.text("version").parse::<i64>().unwrap_or(-1);
    let r = posts::approve_post(
        State(state.clone()),
        viewer.ctx(),
        viewer.principal.clone(),
        Path(pid.clone()),
        Json(ApproveRequest { version }),
    )
    .await;
    after_action(&state, &viewer, &pid, data, r, Slot::Actions, "approved").await
}

pub async fn request_changes(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<String>,
    data: FormData,
) -> Response {
    let comment = form_text(&data, "comment");
    let r = posts::request_changes(
        State(state.clone()),
        viewer.ctx(),
        viewer.principal.clone(),
        Path(pid.clone()),
        Json(RequestChangesRequest { comment }),
    )
    .await;
    after_action(&state, &viewer, &pid, data, r, Slot::Changes, "changes").await
}

pub async fn schedule(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<String>,
    data: FormData,
) -> Response {
    let r = async {
        let post = state.store.post(&pid).await?.ok_or(ApiError(AppError::NotFound))?;
        // The time is read in the account's zone (the API then authorizes the schedule itself).
        let a = access(&state, &viewer, &post.account_id, Need::Capability(Capability::AccountView)).await?;
        let zone = account_zone(&a.account);
        let at = local_input_to_rfc3339(&data.text("at"), &zone).map_err(|m| ApiError::validation("at", m))?;
        posts::schedule_post(
            State(state.clone()),
            viewer.ctx(),
            viewer.principal.clone(),
            Path(pid.clone()),
            Json(ScheduleRequest { at }),
        )
        .await
    }
    .await;
    after_action(&state, &viewer, &pid, data, r, Slot::Schedule, "scheduled").await
}

pub async fn publish_now(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<String>,
    data: FormData,
) -> Response {
    let r = posts::publish_now(State(state.clone()), viewer.ctx(), viewer.principal.clone(), Path(pid.clone())).await;
    after_action(&state, &viewer, &pid, data, r, Slot::Actions, "publishing").await
}

pub async fn cancel(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<String>,
    data: FormData,
) -> Response {
    let r = posts::cancel_post(State(state.clone()), viewer.ctx(), viewer.principal.clone(), Path(pid.clone())).await;
    after_action(&state, &viewer, &pid, data, r, Slot::Actions, "cancelled").await
}

pub async fn comment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(pid): Path<String>,
    data: FormData,
) -> Response {
    let body = form_text(&data, "body");
    let r = posts::add_comment(
        State(state.clone()),
        viewer.ctx(),
        viewer.principal.clone(),
        Path(pid.clone()),
        Json(CommentRequest { body }),
    )
    .await;
    after_action(&state, &viewer, &pid, data, r, Slot::Comment, "commented").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_difference_marks_removed_and_added_words_and_escapes_them() {
        let html = word_diff_html("Hello <world>\nbye", "Hello there <world>\nbye now");
        assert_eq!(html, "Hello <ins>there </ins>&lt;world&gt;\nbye<ins> now</ins>");
        assert_eq!(word_diff_html("one two three", "one three"), "one <del>two </del>three");
    }
}
