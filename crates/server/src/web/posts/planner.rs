//! The planning calendar (`/calendar`): one week, hour by hour, across the person's accounts
//! (filterable by account), with the posts that have no time yet beside it. An empty hour links
//! to the composer with that time; a scheduled post (or an approved one) has a "Move" link to a
//! form that calls the same use case as `POST /api/v1/posts/{id}/schedule`; the script sends the
//! same form when a post is dragged to another hour.
use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use steward_app::AppError;
use steward_app::accounts::view::get_account;
use steward_app::posts::drafts::get_post;
use steward_app::posts::planner::{Planner, TimedPost, planner};
use steward_app::posts::scheduling::{self, ScheduleRequest};
use steward_domain::ids::{AccountId, PostId};
use steward_domain::windows::parse_time_zone;

use super::shared::{label_of, state_label};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::account::{account_zone, platform_name};
use crate::web::time::{instants_in_words, local_input_to_rfc3339};
use crate::web::{FormData, Layout, OrPage, PageError, Viewer, local_next, render, render_failed, see_other};

/// Posts one hour of one day shows; the rest are a link to that day in the account's calendar.
const CELL_ENTRIES: usize = 3;
/// Posts the whole week shows at most (about 330 bytes each; every other hour with posts is a
/// "N more" link): a week of 500 posts on two accounts is a page of about 90 KB with the
/// stylesheet and script (`web_calendar::a_busy_week_stays_under_100_kb_in_chromium`).
const GRID_ENTRIES: usize = 30;
/// Posts with no time the side list shows.
const UNTIMED_SHOWN: usize = 12;

/// Which week, and which accounts: from the query string (`date`, `account` repeated).
#[derive(Default, Clone)]
pub(super) struct PlannerQuery {
    date: Option<String>,
    accounts: Vec<String>,
    notice: Option<String>,
    /// How many drafts the composer just wrote, and for when (after composing).
    made: Option<String>,
    planned: Option<String>,
}

impl PlannerQuery {
    pub(super) fn parse(raw: Option<&str>) -> Self {
        let mut q = PlannerQuery::default();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "date" => q.date = Some(v.into_owned()),
                "account" if !v.is_empty() => q.accounts.push(v.into_owned()),
                "notice" => q.notice = Some(v.into_owned()),
                "made" => q.made = Some(v.into_owned()),
                "planned" => q.planned = Some(v.into_owned()),
                _ => {}
            }
        }
        q
    }

    /// The query string of this view for another week (`date`), keeping the filter.
    fn href(&self, date: Date) -> String {
        let mut pairs = vec![("date".to_string(), date.to_string())];
        pairs.extend(self.accounts.iter().map(|a| ("account".to_string(), a.clone())));
        format!("/calendar?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    }
}

pub struct Entry {
    pub pid: String,
    pub href: String,
    pub time: String,
    pub label: String,
    pub account: String,
    pub state: &'static str,
    pub class: &'static str,
    /// Its move page, when it may be moved (scheduled or approved, on an account where the
    /// viewer may schedule); the script drags it instead.
    pub move_href: Option<String>,
}

pub struct Cell {
    /// `2026-12-08T14`: the hour as the script and the move form read it.
    pub slot: String,
    /// "Tue 8 Dec, 14:00".
    pub words: String,
    pub entries: Vec<Entry>,
    pub more: usize,
    pub more_href: String,
    /// The composer for this hour, for an hour still to come.
    pub write_href: Option<String>,
    pub today: bool,
}

pub struct HourRow {
    pub label: String,
    pub cells: Vec<Cell>,
}

pub struct DayHead {
    pub label: String,
    pub datetime: String,
    pub today: bool,
}

pub struct FilterAccount {
    pub id: String,
    pub name: String,
    pub checked: bool,
}

#[derive(Template)]
#[template(path = "planner.html")]
pub(super) struct PlannerPage {
    layout: Layout,
    heading: String,
    zone_name: String,
    prev_href: String,
    next_href: String,
    today_href: String,
    days: Vec<DayHead>,
    hours: Vec<HourRow>,
    untimed: Vec<Entry>,
    untimed_more: usize,
    accounts: Vec<FilterAccount>,
    filtered: bool,
    date: String,
    compose_href: Option<String>,
    csrf: String,
    /// Where the move forms come back to.
    back: String,
    /// Why the last move was refused, in words.
    pub(super) error: Option<String>,
    shown: usize,
}

fn add_days(d: Date, n: i64) -> Date {
    d.checked_add(n.days()).unwrap_or(d)
}

/// The zone the week is drawn in: the account's when one account is shown, else the viewer's
/// own when the browser told it, else the first account's, else UTC.
fn grid_zone(plan: &Planner, viewer: &Viewer) -> TimeZone {
    let shown: Vec<_> = plan.accounts.iter().filter(|a| a.shown).collect();
    match shown.as_slice() {
        [one] => account_zone(&one.account),
        _ => viewer.tz.clone().or_else(|| shown.first().map(|a| account_zone(&a.account))).unwrap_or(TimeZone::UTC),
    }
}

fn words(dt: &jiff::Zoned) -> String {
    dt.strftime("%a %-d %b, %H:%M").to_string()
}

/// A refusal in words: an instant the use case names (RFC 3339) reads as a time in `zone`.
fn refusal(e: &ApiError, zone: &TimeZone) -> String {
    instants_in_words(&crate::web::sentence(e), zone)
}

pub(super) async fn planner_view(state: &AppState, viewer: &Viewer, q: &PlannerQuery) -> Result<PlannerPage, ApiError> {
    let only: Vec<AccountId> = q.accounts.iter().map(|a| AccountId::new(a.clone())).collect();
    // The week is found first in UTC, then read again once the zone is known (a week is wide
    // enough on both sides: the range read is the week with a day either side).
    let asked = match q.date.as_deref() {
        None | Some("") => None,
        Some(raw) => {
            Some(raw.parse::<Date>().map_err(|_| ApiError::validation("date", "must be a date such as 2027-01-31"))?)
        }
    };
    let now = state.clock.now();
    let rough = asked.unwrap_or_else(|| now.to_zoned(TimeZone::UTC).date());
    let monday = |d: Date| add_days(d, -i64::from(d.weekday().to_monday_zero_offset()));
    // Today's date in the grid's zone may be another week than in UTC: then read around it.
    let (before, after) = if asked.is_some() { (-1, 9) } else { (-8, 16) };
    let from = add_days(monday(rough), before).to_zoned(TimeZone::UTC).map_err(ApiError::internal)?;
    let to = add_days(monday(rough), after).to_zoned(TimeZone::UTC).map_err(ApiError::internal)?;
    let plan = planner(
        state,
        &viewer.ctx(),
        &viewer.principal,
        &only,
        from.timestamp().as_microsecond(),
        to.timestamp().as_microsecond(),
    )
    .await?;
    let zone = grid_zone(&plan, viewer);
    let today = now.to_zoned(zone.clone()).date();
    let first = monday(asked.unwrap_or(today));
    let names: HashMap<&AccountId, (&str, &str, bool)> = plan
        .accounts
        .iter()
        .map(|a| (&a.account.id, (a.account.display_name.as_str(), a.account.platform.as_str(), a.may_schedule)))
        .collect();
    // Entries name their account only when several are shown.
    let several = plan.accounts.iter().filter(|a| a.shown).count() > 1;
    let account_words =
        |id: &AccountId| names.get(id).filter(|_| several).map(|(n, _, _)| format!("on {n}")).unwrap_or_default();
    let may_schedule = |id: &AccountId| names.get(id).is_some_and(|x| x.2);
    let zone_name = zone.iana_name().unwrap_or("UTC").to_string();
    // The no-script move page of a post, coming back to this week and filter.
    let move_base = {
        let mut pairs = vec![("date".to_string(), first.to_string()), ("zone".to_string(), zone_name.clone())];
        pairs.extend(q.accounts.iter().map(|a| ("account".to_string(), a.clone())));
        format!("/calendar/move?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    };
    let move_href = |pid: &PostId| format!("{move_base}&post={pid}");

    let days: Vec<Date> = (0..7).map(|i| add_days(first, i)).collect();
    let filter_href = q.href(first);
    let compose_base = if plan.accounts.iter().any(|a| a.may_draft) { Some(String::from("/compose")) } else { None };
    let mut hours: Vec<HourRow> = (0..24i8)
        .map(|h| HourRow {
            label: format!("{h:02}:00"),
            cells: days
                .iter()
                .map(|d| {
                    let start = d.at(h, 0, 0, 0).to_zoned(zone.clone()).ok();
                    let slot = format!("{d}T{h:02}");
                    let future = start.as_ref().is_some_and(|s| s.timestamp() > now);
                    Cell {
                        words: start.as_ref().map(words).unwrap_or_else(|| slot.clone()),
                        write_href: compose_base.as_ref().filter(|_| future).map(|c| {
                            let mut pairs = vec![("at".to_string(), format!("{slot}:00"))];
                            pairs.push(("zone".into(), zone_name.clone()));
                            if let [one] = q.accounts.as_slice() {
                                pairs.push(("account".into(), one.clone()));
                            }
                            format!("{c}?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
                        }),
                        slot,
                        entries: Vec::new(),
                        more: 0,
                        more_href: String::new(),
                        today: *d == today,
                    }
                })
                .collect(),
        })
        .collect();

    let mut timed: Vec<_> = plan.timed.iter().filter_map(|t| Some((t.at()?, t))).collect();
    timed.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| x.1.post.id.cmp(&y.1.post.id)));
    // Each hour's posts, in time order.
    let mut per_cell: Vec<Vec<(jiff::Zoned, &TimedPost)>> = vec![Vec::new(); 24 * 7];
    for (at_us, t) in timed {
        let Ok(at) = jiff::Timestamp::from_microsecond(at_us) else { continue };
        let local = at.to_zoned(zone.clone());
        let Some(day) = days.iter().position(|d| *d == local.date()) else { continue };
        let Ok(hour) = usize::try_from(local.hour()) else { continue };
        per_cell[hour * 7 + day].push((local, t));
    }
    let shown: usize = per_cell.iter().map(Vec::len).sum();
    // A busy week shows a first post in as many hours as the budget allows, then a second…
    // (the rest are "N more", linking to that day), so its page stays light.
    let mut budget = GRID_ENTRIES;
    let mut taken = vec![0usize; per_cell.len()];
    for round in 0..CELL_ENTRIES {
        for (i, posts) in per_cell.iter().enumerate() {
            if budget > 0 && posts.len() > round {
                taken[i] += 1;
                budget -= 1;
            }
        }
    }
    for (i, posts) in per_cell.iter().enumerate() {
        let cell = &mut hours[i / 7].cells[i % 7];
        for (n, (local, t)) in posts.iter().enumerate() {
            if n >= taken[i] {
                cell.more += 1;
                cell.more_href = format!("/accounts/{}/calendar?view=day&date={}", t.account_id, local.date());
                continue;
            }
            let held = t.post.scheduled_at.is_none() && t.post.hold_reason.is_some();
            let (state_words, class) = if t.planned() {
                match t.post.state.as_str() {
                    "in_review" => ("Planned, in review", "in_review"),
                    "approved" => ("Planned, approved", "approved"),
                    _ => ("Planned draft", "draft"),
                }
            } else if held {
                ("Held", "held")
            } else {
                match t.post.state.as_str() {
                    "published" => ("Published", "published"),
                    "failed" => ("Failed", "failed"),
                    "publishing" => ("Publishing", "scheduled"),
                    _ => ("Scheduled", "scheduled"),
                }
            };
            // A planned post once approved is scheduled from where it is planned.
            let movable = (t.post.state.as_str() == "scheduled"
                || (t.planned() && t.post.state.as_str() == "approved"))
                && may_schedule(&t.account_id);
            cell.entries.push(Entry {
                pid: t.post.id.to_string(),
                href: format!("/posts/{}", t.post.id),
                time: local.strftime("%H:%M").to_string(),
                label: label_of(t.post.title.as_deref(), &t.post.text),
                account: account_words(&t.account_id),
                state: state_words,
                class,
                move_href: movable.then(|| move_href(&t.post.id)),
            });
        }
        // Only an empty hour offers to write a post for it.
        if !cell.entries.is_empty() || cell.more > 0 {
            cell.write_href = None;
        }
    }
    // A post shown at its planned time this week is not listed again beside the grid.
    let in_grid: std::collections::HashSet<String> =
        hours.iter().flat_map(|h| h.cells.iter()).flat_map(|c| c.entries.iter()).map(|e| e.pid.clone()).collect();
    let waiting: Vec<_> = plan.untimed.iter().filter(|p| !in_grid.contains(p.id.as_str())).collect();
    let untimed: Vec<Entry> = waiting
        .iter()
        .take(UNTIMED_SHOWN)
        .map(|p| Entry {
            pid: p.id.to_string(),
            href: format!("/posts/{}", p.id),
            time: String::new(),
            label: label_of(p.title.as_deref(), &p.text),
            account: account_words(&p.account_id),
            state: state_label(p.state.as_str()),
            class: match p.state.as_str() {
                "in_review" => "in_review",
                "approved" => "approved",
                _ => "draft",
            },
            move_href: (p.state.as_str() == "approved" && may_schedule(&p.account_id)).then(|| move_href(&p.id)),
        })
        .collect();
    let mut layout = viewer.layout(format!("Calendar · week of {}", first.strftime("%-d %B %Y")));
    layout.notice = match q.notice.as_deref() {
        Some("moved") => Some("The post is moved to its new time.".into()),
        Some("composed") => {
            let n = q.made.as_deref().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
            let planned = q
                .planned
                .as_deref()
                .and_then(|p| p.parse::<jiff::civil::DateTime>().ok())
                .map(|p| format!(" for {}", p.strftime("%a %-d %b, %H:%M")))
                .unwrap_or_default();
            let place = if planned.is_empty() { "from \u{201c}Not scheduled yet\u{201d} " } else { "" };
            Some(format!(
                "{n} draft{} written{planned}, one per account{}. Each goes through its own review and approvals: \
                 once one is approved, drag it {place}to its hour, or schedule it with its form.",
                if n == 1 { " is" } else { "s are" },
                if planned.is_empty() { "" } else { ", shown at that hour" }
            ))
        }
        _ => None,
    };
    let checked: Vec<&String> = q.accounts.iter().collect();
    Ok(PlannerPage {
        layout,
        heading: format!("Week of {}", first.strftime("%-d %B %Y")),
        zone_name,
        prev_href: q.href(add_days(first, -7)),
        next_href: q.href(add_days(first, 7)),
        today_href: q.href(today),
        days: days
            .iter()
            .map(|d| DayHead {
                label: d.strftime("%a %-d %b").to_string(),
                datetime: d.to_string(),
                today: *d == today,
            })
            .collect(),
        hours,
        untimed_more: waiting.len().saturating_sub(UNTIMED_SHOWN),
        untimed,
        accounts: plan
            .accounts
            .iter()
            .map(|a| FilterAccount {
                id: a.account.id.to_string(),
                name: format!("{} ({})", a.account.display_name, platform_name(a.account.platform.as_str())),
                checked: checked.iter().any(|c| c.as_str() == a.account.id.as_str()),
            })
            .collect(),
        filtered: !q.accounts.is_empty(),
        date: first.to_string(),
        compose_href: compose_base,
        csrf: viewer.csrf.clone(),
        back: filter_href,
        error: None,
        shown,
    })
}

pub async fn planner_page(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let q = PlannerQuery::parse(raw.as_deref());
    let page = planner_view(&state, &viewer, &q).await.or_page(&viewer)?;
    Ok(render(StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "calendar_move.html")]
struct MovePage {
    layout: Layout,
    label: String,
    account: String,
    now_at: Option<String>,
    pid: PostId,
    at: String,
    zone_name: String,
    back: String,
    csrf: String,
    schedule: bool,
}

/// The move form of one post, for a browser without the script (the calendar's "Move" link).
pub async fn move_page(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let q = PlannerQuery::parse(raw.as_deref());
    let mut pid = String::new();
    let mut zone = TimeZone::UTC;
    for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "post" => pid = v.into_owned(),
            "zone" => zone = parse_time_zone(&v).unwrap_or(TimeZone::UTC),
            _ => {}
        }
    }
    let page = async {
        let post = get_post(&state, &viewer.ctx(), &viewer.principal, &PostId::new(pid.clone())).await?;
        let account = get_account(&state, &viewer.ctx(), &viewer.principal, &post.account_id).await?;
        let at = post
            .scheduled_at
            .as_deref()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| t.to_zoned(zone.clone()));
        let label = label_of(post.title.as_deref(), &post.text);
        let date = q
            .date
            .as_deref()
            .and_then(|d| d.parse::<Date>().ok())
            .unwrap_or_else(|| state.clock.now().to_zoned(zone.clone()).date());
        Ok::<_, ApiError>(MovePage {
            layout: viewer.layout(format!("Move \u{201c}{label}\u{201d}")),
            label,
            account: format!("{} ({})", account.display_name, platform_name(&account.platform)),
            now_at: at.as_ref().map(|t| t.strftime("%a %-d %b %Y, %H:%M").to_string()),
            at: at.as_ref().map(|t| t.strftime("%Y-%m-%dT%H:%M").to_string()).unwrap_or_default(),
            schedule: post.scheduled_at.is_none(),
            pid: post.id,
            zone_name: zone.iana_name().unwrap_or("UTC").to_string(),
            back: q.href(date),
            csrf: viewer.csrf.clone(),
        })
    }
    .await
    .or_page(&viewer)?;
    Ok(render(StatusCode::OK, &page))
}

/// Moves a post to another time: the reschedule form of each post, which the script also
/// submits when a post is dragged to another hour. The time is read in the calendar's zone
/// and handed to the use case the API's `POST /posts/{id}/schedule` calls (same rules, same
/// audit event).
pub async fn move_submit(State(state): State<AppState>, viewer: Viewer, data: FormData) -> Result<Response, PageError> {
    let back = local_next(data.get("back"));
    let back = if back.starts_with("/calendar") { back } else { "/calendar".to_string() };
    let zone = parse_time_zone(data.get("zone").unwrap_or("UTC")).unwrap_or(TimeZone::UTC);
    let result = async {
        let pid = PostId::new(data.text("post"));
        let at = local_input_to_rfc3339(&data.text("at"), &zone).map_err(|m| ApiError::validation("at", m))?;
        scheduling::schedule_post(&state, &viewer.ctx(), &viewer.principal, &pid, ScheduleRequest { at })
            .await
            .map_err(ApiError)
    }
    .await;
    let query = back.split_once('?').map(|(_, q)| q.to_string());
    match result {
        Ok(_) => {
            let sep = if query.is_some() { '&' } else { '?' };
            Ok(see_other(&format!("{back}{sep}notice=moved")))
        }
        Err(e) => {
            let q = PlannerQuery::parse(query.as_deref());
            let mut page = planner_view(&state, &viewer, &q).await.or_page(&viewer)?;
            let reason = match &e {
                ApiError(AppError::Validation(fields)) => fields
                    .iter()
                    .map(|f| crate::web::capitalize_sentence(&format!("The new time {}", f.message)))
                    .collect::<Vec<_>>()
                    .join(" "),
                other => refusal(other, &zone),
            };
            page.error = Some(format!("The post was not moved. {reason}"));
            Ok(render_failed(&page, &e))
        }
    }
}
