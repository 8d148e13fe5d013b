//! The account's calendar: whole weeks of a month, one week, or one day, with the posts
//! scheduled, published or held in them, in the account's time zone.
use std::collections::BTreeMap;
use steward_domain::ids::AccountId;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Deserialize;
use steward_app::authz::Need;
use steward_app::posts::planner::{self, TimedPost};
use steward_domain::capability::Capability;

use super::shared::label_of;
use crate::error::{ApiError, Path, Query};
use crate::state::AppState;
use crate::web::account::{access, account_nav, account_zone};
use crate::web::{Layout, OrPage, PageError, Viewer, render};

/// Posts a day shows in the month view; the rest are a link to that day's week, so a busy
/// month stays a page of a few dozen kilobytes.
const MONTH_DAY_ENTRIES: usize = 6;
/// Posts a day shows in the week view; the rest are a link to the day itself. A week of 1,000
/// posts would otherwise be a page of about 190 KB.
const WEEK_DAY_ENTRIES: usize = 20;
/// Posts a page of the day view shows; a busier day has pages.
const DAY_PAGE_ENTRIES: usize = 100;
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
    /// The planning calendar on this account alone: the week hour by hour, drag to move.
    hours_href: String,
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
fn calendar_entry(timed: &TimedPost, local: &jiff::Zoned, viewer: Option<&TimeZone>) -> CalendarEntry {
    let post = &timed.post;
    let held = post.scheduled_at.is_none() && post.hold_reason.is_some();
    let (status, class) = if timed.planned() {
        // Words and marks as on the planning calendar: a plan, not a schedule.
        match post.state.as_str() {
            "in_review" => ("Planned, in review", "in_review"),
            "approved" => ("Planned, approved", "approved"),
            _ => ("Planned draft", "draft"),
        }
    } else if held {
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
    id: &AccountId,
    q: &CalendarQuery,
) -> Result<CalendarPage, ApiError> {
    // The zone decides the range, so the account is read (and access checked) first.
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
    let (a, rows) = planner::account_calendar(state, &viewer.ctx(), &viewer.principal, id, from, to).await?;

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
    // Held posts lost their `scheduled_at` when held: they sit where they were held; posts not
    // yet scheduled sit where they are planned.
    let mut placed: Vec<(i64, &TimedPost)> = rows.iter().filter_map(|t| Some((t.at()?, t))).collect();
    placed.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.post.id.cmp(&y.1.post.id)));
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
        hours_href: format!("/calendar?date={date}&account={id}"),
        viewer_zone: tz.and_then(TimeZone::iana_name).filter(|v| *v != zone_name).map(str::to_string),
        zone_name,
        shown,
        can_draft: a.has(Capability::DraftsCreate),
    })
}

pub async fn calendar_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    Query(q): Query<CalendarQuery>,
) -> Result<Response, PageError> {
    let page = calendar_view(&state, &viewer, &id, &q).await.or_page(&viewer)?;
    Ok(render(StatusCode::OK, &page))
}
