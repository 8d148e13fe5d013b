//! Activity: an account's log (and "my activity") with every filter of the API, cursor pages
//! both ways, the CSV and JSON Lines exports, and a chart of actions per day per member drawn
//! on the server as inline SVG, with the same numbers as a table.
use std::collections::{BTreeMap, HashMap};
use steward_app::AppError;
use steward_domain::audit::Action;
use steward_domain::ids::AccountId;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Deserialize;
use steward_app::activity::wording::action_words;
use steward_app::activity::{ActivityEvent, ActivityQuery, EventPage, Scope, queries};
use steward_app::members::view::list_members;
use steward_store::ActivityFilter;

use crate::error::{ApiError, FieldError, Path, Query};
use crate::state::AppState;
use crate::web::account::{access, account_nav, account_zone};
use crate::web::chart::Frame;
use crate::web::html::Html;
use crate::web::security::device;
use crate::web::time::when;
use crate::web::{Form, FormData, Layout, OrPage, PageError, Viewer, render, render_failed};

/// Events per page of the log.
const PAGE_SIZE: i64 = 25;
/// At most this many events are counted for the chart (it says so when it reaches them).
const CHART_CAP: usize = 20_000;
/// The chart covers at most this many days (the last ones of the chosen range).
const CHART_MAX_DAYS: i64 = 31;
/// Without a chosen range, the chart shows the last two weeks.
const CHART_DEFAULT_DAYS: i64 = 14;
/// Pages remembered for "Newer" (each a cursor in the URL).
const TRAIL_MAX: usize = 40;
/// Colour-blind-safe series colours (Okabe–Ito); members beyond them share the last one.
const COLOURS: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#7A5C00", "#666666"];

/// Whole areas offered as filters (a prefix ending in `.`), before the single actions.
const AREA_CHOICES: [(&str, &str); 6] = [
    ("auth.", "Signing in and out (all)"),
    ("members.", "Members and invitations (all)"),
    ("posts.", "Posts (all)"),
    ("accounts.", "The account itself (all)"),
    ("me.", "Personal security (all)"),
    ("alerts.", "Alerts (all)"),
];

/// Single actions offered as filters.
const ACTION_CHOICES: [Action; 16] = [
    Action::Login,
    Action::Logout,
    Action::MemberInvite,
    Action::MemberJoin,
    Action::MemberUpdate,
    Action::MemberRoleChange,
    Action::MemberRemove,
    Action::PostCreate,
    Action::PostSubmit,
    Action::PostApprove,
    Action::PostSchedule,
    Action::Published,
    Action::PostCancel,
    Action::SettingsUpdate,
    Action::Lockdown,
    Action::AccountReconnect,
];

/// The page's query string: the API's filters, with dates instead of instants (a person picks
/// days, in the account's time zone), and the trail of cursors for "Newer".
#[derive(Debug, Default, Deserialize)]
pub struct LogQuery {
    actor: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    /// First day shown (inclusive), `YYYY-MM-DD`.
    from: Option<String>,
    /// Last day shown (inclusive), `YYYY-MM-DD`.
    to: Option<String>,
    cursor: Option<String>,
    /// The cursors of the pages before this one, `.`-joined pairs separated by `~` (`0`: the
    /// first page).
    trail: Option<String>,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

impl LogQuery {
    /// The filters as URL pairs (blank ones left out): for export links and page links.
    fn filter_pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("actor", &self.actor),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter_map(|(k, v)| given(v).map(|v| (k, v)))
        .collect()
    }

    /// The API query: dates read as whole days in `zone`; unreadable dates are field errors.
    fn api_query(&self, zone: &TimeZone) -> Result<ActivityQuery, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut day = |field: &str, raw: Option<String>, next: bool| -> Option<String> {
            let raw = raw?;
            match raw.parse::<Date>() {
                Ok(d) => {
                    let d = if next { d.tomorrow().ok()? } else { d };
                    match d.to_zoned(zone.clone()) {
                        Ok(z) => Some(z.timestamp().to_string()),
                        Err(_) => {
                            errors.push(FieldError::new(field, "is not a day that exists in this time zone"));
                            None
                        }
                    }
                }
                Err(_) => {
                    errors.push(FieldError::new(field, "must be a date such as 2027-01-31"));
                    None
                }
            }
        };
        let since = day("from", given(&self.from), false);
        let until = day("to", given(&self.to), true);
        if let (Some(s), Some(u)) = (&since, &until)
            && s >= u
        {
            errors.push(FieldError::new("to", "must not be before the first day"));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ActivityQuery {
            limit: Some(PAGE_SIZE),
            cursor: given(&self.cursor).filter(|c| c != "0"),
            actor: given(&self.actor),
            action: given(&self.action),
            outcome: given(&self.outcome),
            since,
            until,
            format: None,
        })
    }

    fn trail(&self) -> Vec<String> {
        given(&self.trail).map(|t| t.split('~').map(str::to_string).collect()).unwrap_or_default()
    }
}

/// One event as a person reads it.
pub struct EventView {
    pub when: Html,
    pub who: String,
    pub device: Option<String>,
    pub session: Option<String>,
    pub ip: Option<String>,
    pub what: String,
    pub action: String,
    pub target: Option<String>,
    pub denied: bool,
    pub detail: String,
}

/// Who is who on this page: user ids to names.
type Names = HashMap<String, String>;

fn who(e: &ActivityEvent, names: &Names) -> String {
    match (&e.actor_id, &e.actor_email) {
        (Some(id), email) => match (names.get(id), email) {
            (Some(name), Some(email)) => format!("{name} ({email})"),
            (Some(name), None) => name.clone(),
            (None, Some(email)) => email.clone(),
            (None, None) => format!("user {}", short(id)),
        },
        (None, Some(email)) => email.clone(),
        (None, None) => "Steward".into(),
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// `post:…`, `account:…`, `user:…` in words.
fn target_words(target: &str, account_id: Option<&str>, names: &Names) -> String {
    let Some((kind, id)) = target.split_once(':') else { return target.to_string() };
    match kind {
        "account" if Some(id) == account_id => "this account".into(),
        "account" => format!("account {}", short(id)),
        "user" | "member" => names.get(id).cloned().unwrap_or_else(|| format!("user {}", short(id))),
        "post" => format!("post {}", short(id)),
        "alert" => format!("alert {}", short(id)),
        "invitation" => format!("invitation {}", short(id)),
        "session" => format!("session {}", short(id)),
        "token" => format!("access token {}", short(id)),
        other => format!("{other} {}", short(id)),
    }
}

fn event_view(
    e: ActivityEvent,
    names: &Names,
    zone: &TimeZone,
    viewer: Option<&TimeZone>,
    account_id: Option<&str>,
) -> EventView {
    EventView {
        when: when(&e.at, zone, viewer),
        who: who(&e, names),
        device: e.user_agent.as_deref().map(|ua| device(Some(ua))),
        session: e.session_id.as_deref().map(|s| short(s).to_string()),
        what: action_words(&e.action).to_string(),
        target: e.target.as_deref().map(|t| target_words(t, account_id, names)),
        denied: e.outcome == "denied",
        ip: e.ip,
        action: e.action,
        detail: e.detail,
    }
}

/// The chart: per day (in the account's zone) and per actor, how many events.
pub struct Chart {
    pub svg: Html,
    pub legend: Vec<(String, String, i64)>,
    /// The members, in the table's column order.
    pub members: Vec<String>,
    /// Rows of the table: a day, the count per member, the day's total.
    pub table: Vec<(String, Vec<i64>, i64)>,
    pub capped: bool,
    pub caption: String,
}

fn chart_range(filter: &ActivityFilter, now: Timestamp, zone: &TimeZone) -> (Date, Date) {
    let to_date = |us: i64| Timestamp::from_microsecond(us).unwrap_or(now).to_zoned(zone.clone()).date();
    // `until` is exclusive: the last day shown is the day of the instant just before it.
    let last = filter.until.map(|u| to_date(u - 1)).unwrap_or_else(|| now.to_zoned(zone.clone()).date());
    let earliest = last.checked_sub((CHART_MAX_DAYS - 1).days()).unwrap_or(last);
    let first =
        filter.since.map(to_date).unwrap_or_else(|| last.checked_sub((CHART_DEFAULT_DAYS - 1).days()).unwrap_or(last));
    (first.max(earliest).min(last), last)
}

async fn chart(state: &AppState, scope: &Scope, zone: &TimeZone, names: &Names) -> Result<Chart, ApiError> {
    let (first, last) = chart_range(scope.filter(), state.clock.now(), zone);
    let start = first.to_zoned(zone.clone()).map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?.timestamp();
    let end = last
        .tomorrow()
        .and_then(|d| d.to_zoned(zone.clone()))
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?
        .timestamp();
    let mut days: Vec<Date> = Vec::new();
    let mut d = first;
    while d <= last {
        days.push(d);
        let Ok(next) = d.tomorrow() else { break };
        d = next;
    }
    let index: HashMap<Date, usize> = days.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    // actor label -> counts per day
    let mut series: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let seen = queries::scan(state, scope, start.as_microsecond(), end.as_microsecond(), CHART_CAP, |r| {
        let day = Timestamp::from_microsecond(r.at).map(|t| t.to_zoned(zone.clone()).date());
        let Some(i) = day.ok().and_then(|d| index.get(&d).copied()) else { return };
        let label = match (&r.actor_id, &r.actor_email) {
            (Some(id), _) if names.contains_key(id) => names[id].clone(),
            (_, Some(email)) => email.clone(),
            (Some(id), None) => format!("user {}", short(id)),
            (None, None) => "Steward".into(),
        };
        series.entry(label).or_insert_with(|| vec![0; days.len()])[i] += 1;
    })
    .await?;
    let capped = seen >= CHART_CAP;
    // Busiest first, so the first colours go to the people who did the most.
    let mut rows: Vec<(String, Vec<i64>, i64)> = series
        .into_iter()
        .map(|(name, counts)| {
            let total = counts.iter().sum();
            (name, counts, total)
        })
        .collect();
    rows.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    let totals: Vec<i64> = (0..days.len()).map(|i| rows.iter().map(|r| r.1[i]).sum()).collect();
    let day_labels: Vec<String> = days.iter().map(|d| d.strftime("%a %-d %b").to_string()).collect();
    let caption = format!(
        "Actions per day per member, {} to {} ({}){}",
        first.strftime("%-d %b %Y"),
        last.strftime("%-d %b %Y"),
        zone.iana_name().unwrap_or("UTC"),
        if capped { format!("; only the latest {CHART_CAP} events are counted") } else { String::new() }
    );
    let legend: Vec<(String, String, i64)> =
        rows.iter().enumerate().map(|(i, r)| (colour(i).to_string(), r.0.clone(), r.2)).collect();
    let svg = svg(&days, &day_labels, &rows, &totals, &caption);
    let table = day_labels
        .into_iter()
        .enumerate()
        .map(|(i, day)| (day, rows.iter().map(|r| r.1[i]).collect(), totals[i]))
        .collect();
    Ok(Chart { svg, legend, members: rows.into_iter().map(|r| r.0).collect(), table, capped, caption })
}

fn colour(i: usize) -> &'static str {
    COLOURS[i.min(COLOURS.len() - 1)]
}

/// Stacked bars, one per day, one colour per member; each bar segment has a tooltip.
fn svg(days: &[Date], labels: &[String], rows: &[(String, Vec<i64>, i64)], totals: &[i64], caption: &str) -> Html {
    let max = totals.iter().copied().max().unwrap_or(0).max(1);
    let total: i64 = totals.iter().sum();
    let desc = format!("{total} actions in all; the busiest day had {max}. The same numbers are in the table below.");
    let mut chart = Frame::open(220.0, 36.0, 28.0, 2.0, days.len(), max, ("chart-title", "chart-desc"), caption, &desc);
    chart.gridlines(|v| v.to_string());
    let label_every = days.len().div_ceil(6).max(1);
    for (i, label) in labels.iter().enumerate() {
        let x = chart.bar_x(i);
        let mut y = chart.baseline();
        for (s, row) in rows.iter().enumerate() {
            let count = row.1[i];
            if count == 0 {
                continue;
            }
            let h = chart.bar_height(count);
            y -= h;
            chart.rect(x, y, h, colour(s), &format!("{}: {} on {}", row.0, count, label));
        }
        if i % label_every == 0 {
            chart.label(chart.slot_middle(i), 10.0, &days[i].strftime("%-d %b").to_string());
        }
    }
    chart.close()
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    layout: Layout,
    heading: String,
    action_path: String,
    filters: Form,
    actors: Vec<(String, String)>,
    actions: Vec<(String, String)>,
    outcomes: Vec<(String, String)>,
    events: Vec<EventView>,
    newer: Option<String>,
    older: Option<String>,
    export_csv: String,
    export_jsonl: String,
    chart: Option<Chart>,
    zone_note: String,
    lockdown: Option<String>,
}

fn link(path: &str, pairs: &[(&str, String)]) -> String {
    let q = serde_urlencoded::to_string(pairs).unwrap_or_default();
    if q.is_empty() { path.to_string() } else { format!("{path}?{q}") }
}

/// Export links to the API's streaming endpoints, with the page's filters as instants.
fn export_links(api_path: &str, q: &ActivityQuery) -> (String, String) {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (k, v) in
        [("actor", &q.actor), ("action", &q.action), ("outcome", &q.outcome), ("since", &q.since), ("until", &q.until)]
    {
        if let Some(v) = v {
            pairs.push((k, v.clone()));
        }
    }
    let with = |format: &str| {
        let mut p = pairs.clone();
        p.insert(0, ("format", format.to_string()));
        link(api_path, &p)
    };
    (with("csv"), with("jsonl"))
}

/// The "Newer" and "Older" links: the trail of earlier cursors goes along in the URL.
fn paging(path: &str, q: &LogQuery, next_cursor: Option<&str>) -> (Option<String>, Option<String>) {
    let filters = q.filter_pairs();
    let trail = q.trail();
    let newer = trail.last().map(|back| {
        let mut p = filters.clone();
        if back != "0" {
            p.push(("cursor", back.clone()));
        }
        if trail.len() > 1 {
            p.push(("trail", trail[..trail.len() - 1].join("~")));
        }
        link(path, &p)
    });
    let older = next_cursor.map(|next| {
        let mut t = trail.clone();
        t.push(given(&q.cursor).unwrap_or_else(|| "0".into()));
        if t.len() > TRAIL_MAX {
            t.remove(0);
        }
        let mut p = filters.clone();
        p.push(("cursor", next.to_string()));
        p.push(("trail", t.join("~")));
        link(path, &p)
    });
    (newer, older)
}

fn filter_form(q: &LogQuery) -> Form {
    let mut f = Form::new("filter", "");
    for (k, v) in q.filter_pairs() {
        f = f.value(k, v);
    }
    f
}

fn action_options() -> Vec<(String, String)> {
    let mut out = vec![(String::new(), "Any action".to_string())];
    out.extend(AREA_CHOICES.iter().map(|(v, l)| ((*v).to_string(), (*l).to_string())));
    out.extend(ACTION_CHOICES.iter().map(|a| (a.as_str().to_string(), format!("Someone {}", a.words()))));
    out
}

fn outcome_options() -> Vec<(String, String)> {
    [("", "Allowed and refused"), ("allowed", "Allowed only"), ("denied", "Refused only")]
        .iter()
        .map(|(v, l)| ((*v).to_string(), (*l).to_string()))
        .collect()
}

fn zone_note(zone: &TimeZone, whose: &str) -> String {
    format!("Days are read in {whose} time zone ({}).", zone.iana_name().unwrap_or("UTC"))
}

pub async fn account_log(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
    Query(q): Query<LogQuery>,
) -> Result<Response, PageError> {
    // Reading the account and its members first: a member without `audit.view` is refused by
    // the activity call below, with the same denial the API records.
    let a = access(&state, &viewer, &id, steward_app::authz::Need::ReadAccountAndRules).await.or_page(&viewer)?;
    let zone = account_zone(&a.account);
    let path = format!("/accounts/{id}/activity");
    let mut layout = viewer.layout(format!("Activity on {}", a.account.display_name));
    layout.account = Some(account_nav(&a, "activity"));
    let api = match q.api_query(&zone) {
        Ok(api) => api,
        Err(errors) => {
            let e = ApiError(AppError::Validation(errors));
            return Ok(render_failed(&empty_page(layout, &q, &path, &zone, "the account's").with_error(&q, &e), &e));
        }
    };
    let EventPage { page, scope } =
        match queries::account_activity_page(&state, &viewer.ctx(), &viewer.principal, &id, &api).await {
            Ok(found) => found,
            Err(e @ AppError::Validation(_)) => {
                let e = ApiError(e);
                let page = empty_page(layout, &q, &path, &zone, "the account's").with_error(&q, &e);
                return Ok(render_failed(&page, &e));
            }
            Err(e) => return Err(PageError::new(Some(&viewer), e)),
        };
    let names: Names = list_members(&state, &viewer.ctx(), &viewer.principal, &id)
        .await
        .or_page(&viewer)?
        .into_iter()
        .map(|m| (m.user_id.into_string(), m.display_name))
        .collect();
    let chart = chart(&state, &scope, &zone, &names).await.or_page(&viewer)?;
    let (newer, older) = paging(&path, &q, page.next_cursor.as_deref());
    let (export_csv, export_jsonl) = export_links(&format!("/api/v1/accounts/{id}/activity"), &api);
    let mut actors = vec![(String::new(), "Anyone".to_string())];
    actors.extend(names.iter().map(|(id, name)| (id.clone(), name.clone())));
    actors[1..].sort_by(|a, b| a.1.cmp(&b.1));
    let tz = viewer.tz.as_ref();
    let page = ActivityPage {
        heading: format!("Activity on {}", a.account.display_name),
        action_path: path,
        filters: filter_form(&q),
        actors,
        actions: action_options(),
        outcomes: outcome_options(),
        events: page.items.into_iter().map(|e| event_view(e, &names, &zone, tz, Some(&id))).collect(),
        newer,
        older,
        export_csv,
        export_jsonl,
        chart: Some(chart),
        zone_note: zone_note(&zone, "the account's"),
        lockdown: a.has(steward_domain::capability::Capability::Lockdown).then(|| format!("/accounts/{id}/lockdown")),
        layout,
    };
    Ok(render(StatusCode::OK, &page))
}

pub async fn my_log(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<LogQuery>,
) -> Result<Response, PageError> {
    let zone = viewer.tz.clone().unwrap_or(TimeZone::UTC);
    let path = "/activity".to_string();
    let layout = viewer.layout("My activity");
    let api = match q.api_query(&zone) {
        Ok(api) => api,
        Err(errors) => {
            let e = ApiError(AppError::Validation(errors));
            return Ok(render_failed(&empty_page(layout, &q, &path, &zone, "your").with_error(&q, &e), &e));
        }
    };
    let EventPage { page, scope } = match queries::my_activity_page(&state, &viewer.principal, &api).await {
        Ok(found) => found,
        Err(e @ AppError::Validation(_)) => {
            let e = ApiError(e);
            return Ok(render_failed(&empty_page(layout, &q, &path, &zone, "your").with_error(&q, &e), &e));
        }
        Err(e) => return Err(PageError::new(Some(&viewer), e)),
    };
    let names: Names = [(viewer.principal.user_id.to_string(), viewer.principal.display_name.clone())].into();
    let chart = chart(&state, &scope, &zone, &names).await.or_page(&viewer)?;
    let (newer, older) = paging(&path, &q, page.next_cursor.as_deref());
    let (export_csv, export_jsonl) = export_links("/api/v1/me/activity", &api);
    let page = ActivityPage {
        heading: "My activity".into(),
        action_path: path,
        filters: filter_form(&q),
        actors: Vec::new(),
        actions: action_options(),
        outcomes: outcome_options(),
        events: page.items.into_iter().map(|e| event_view(e, &names, &zone, None, None)).collect(),
        newer,
        older,
        export_csv,
        export_jsonl,
        chart: Some(chart),
        zone_note: zone_note(&zone, "your"),
        lockdown: None,
        layout,
    };
    Ok(render(StatusCode::OK, &page))
}

fn empty_page(layout: Layout, q: &LogQuery, path: &str, zone: &TimeZone, whose: &str) -> ActivityPage {
    ActivityPage {
        heading: layout.title.clone(),
        action_path: path.to_string(),
        filters: filter_form(q),
        actors: Vec::new(),
        actions: action_options(),
        outcomes: outcome_options(),
        events: Vec::new(),
        newer: None,
        older: None,
        export_csv: String::new(),
        export_jsonl: String::new(),
        chart: None,
        zone_note: zone_note(zone, whose),
        lockdown: None,
        layout,
    }
}

impl ActivityPage {
    fn with_error(mut self, q: &LogQuery, e: &ApiError) -> Self {
        let data = FormData(q.filter_pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect());
        self.filters = Form::new("filter", "").with_values(data).failed(e);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_keeps_the_trail_of_earlier_pages() {
        let first = LogQuery { actor: Some("u1".into()), ..LogQuery::default() };
        let (newer, older) = paging("/activity", &first, Some("10.2"));
        assert_eq!(newer, None);
        assert_eq!(older.as_deref(), Some("/activity?actor=u1&cursor=10.2&trail=0"));
        let second = LogQuery {
            actor: Some("u1".into()),
            cursor: Some("10.2".into()),
            trail: Some("0".into()),
            ..LogQuery::default()
        };
        let (newer, older) = paging("/activity", &second, Some("5.1"));
        assert_eq!(newer.as_deref(), Some("/activity?actor=u1"));
        assert_eq!(older.as_deref(), Some("/activity?actor=u1&cursor=5.1&trail=0%7E10.2"));
        let third = LogQuery { cursor: Some("5.1".into()), trail: Some("0~10.2".into()), ..LogQuery::default() };
        assert_eq!(paging("/activity", &third, None).0.as_deref(), Some("/activity?cursor=10.2&trail=0"));
    }

    #[test]
    fn days_are_read_in_the_zone_and_the_last_day_is_included() {
        let paris = steward_domain::windows::parse_time_zone("Europe/Paris").expect("zone");
        let q = LogQuery { from: Some("2027-01-15".into()), to: Some("2027-01-15".into()), ..LogQuery::default() };
        let api = q.api_query(&paris).expect("readable");
        assert_eq!(api.since.as_deref(), Some("2027-01-14T23:00:00Z"));
        assert_eq!(api.until.as_deref(), Some("2027-01-15T23:00:00Z"));
        let bad = LogQuery { from: Some("yesterday".into()), ..LogQuery::default() };
        assert!(bad.api_query(&paris).is_err());
    }

    #[test]
    fn the_chart_is_an_image_with_a_name_and_a_bar_per_member() {
        let days: Vec<Date> = vec![jiff::civil::date(2027, 1, 1), jiff::civil::date(2027, 1, 2)];
        let labels = vec!["Fri 1 Jan".to_string(), "Sat 2 Jan".to_string()];
        let rows = vec![("Ann <a>".to_string(), vec![3, 0], 3), ("Bob".to_string(), vec![1, 2], 3)];
        let svg = svg(&days, &labels, &rows, &[4, 2], "Actions per day").to_string();
        assert!(svg.starts_with("<svg") && svg.contains("role=\"img\"") && svg.contains("<title id=\"chart-title\">"));
        assert_eq!(svg.matches("<rect").count(), 3, "no bar for a zero");
        assert!(svg.contains("Ann &lt;a&gt;: 3 on Fri 1 Jan"), "{svg}");
    }
}
