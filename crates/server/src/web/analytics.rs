//! Analytics: each recently published post with the counts its platform tells (in the
//! platform's words), a chart of them over time drawn on the server as inline SVG (one small
//! panel per count, readable on a phone), the same numbers as tables, and a CSV download. The
//! report is `steward_app::engagement::report` (`analytics.view`, decided there).
use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use steward_app::authz::Need;
use steward_app::engagement::report::{self, COUNTS, Report, count_names};
use steward_domain::ids::AccountId;

use crate::error::Path;
use crate::state::AppState;
use crate::web::account::{access, account_nav, account_zone, platform_name};
use crate::web::chart::Frame;
use crate::web::html::Html;
use crate::web::time::when;
use crate::web::words::label_of;
use crate::web::{Layout, OrPage, PageError, Viewer, render};

/// The chart shows at most this many days, weeks or months (the latest).
const MAX_PERIODS: usize = 36;

/// A whole number as people write it: `12,345`.
#[must_use]
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// How the chart groups posts in time: by day for a month or less, by week for half a year or
/// less, by month beyond.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unit {
    Day,
    Week,
    Month,
}

impl Unit {
    fn for_span(first: Date, last: Date) -> Unit {
        let days = first.until(last).map(|s| s.get_days()).unwrap_or(0);
        if days < 31 {
            Unit::Day
        } else if days < 7 * 26 {
            Unit::Week
        } else {
            Unit::Month
        }
    }

    /// The first day of the period `d` falls in.
    fn start(self, d: Date) -> Date {
        match self {
            Unit::Day => d,
            Unit::Week => d.checked_sub(i64::from(d.weekday().to_monday_zero_offset()).days()).unwrap_or(d),
            Unit::Month => d.first_of_month(),
        }
    }

    fn next(self, d: Date) -> Option<Date> {
        match self {
            Unit::Day => d.tomorrow().ok(),
            Unit::Week => d.checked_add(7.days()).ok(),
            Unit::Month => d.checked_add(1.month()).ok(),
        }
    }

    fn label(self, d: Date) -> String {
        match self {
            Unit::Day => d.strftime("%-d %b").to_string(),
            Unit::Week => format!("week of {}", d.strftime("%-d %b")),
            Unit::Month => d.strftime("%b %Y").to_string(),
        }
    }

    fn short(self, d: Date) -> String {
        match self {
            Unit::Day | Unit::Week => d.strftime("%-d %b").to_string(),
            Unit::Month => d.strftime("%b").to_string(),
        }
    }

    fn per(self) -> &'static str {
        match self {
            Unit::Day => "per day",
            Unit::Week => "per week",
            Unit::Month => "per month",
        }
    }
}

/// One panel of the chart: a count, summed per period.
pub struct Panel {
    pub name: &'static str,
    pub svg: Html,
}

pub struct Chart {
    pub panels: Vec<Panel>,
    pub caption: String,
    /// The counts shown, in the table's column order.
    pub names: Vec<&'static str>,
    /// A period, its published posts, and the sum of each count shown.
    pub table: Vec<(String, usize, Vec<String>)>,
}

/// Sums the told counts per period of publication (in the account's zone), from the first
/// post's period to today's.
fn chart(report: &Report, zone: &TimeZone, today: Date) -> Option<Chart> {
    let shown: Vec<usize> = (0..COUNTS).filter(|i| report.told[*i]).collect();
    if report.posts.is_empty() || shown.is_empty() {
        return None;
    }
    let day = |us: i64| jiff::Timestamp::from_microsecond(us).map(|t| t.to_zoned(zone.clone()).date()).unwrap_or(today);
    let first = report.posts.iter().map(|p| day(p.published_at)).min()?;
    let last = report.posts.iter().map(|p| day(p.published_at)).max()?.max(today);
    let unit = Unit::for_span(first, last);
    let mut periods: BTreeMap<Date, (usize, [i64; COUNTS])> = BTreeMap::new();
    let mut d = unit.start(first);
    while d <= last {
        periods.insert(d, (0, [0; COUNTS]));
        let Some(next) = unit.next(d) else { break };
        d = next;
    }
    // A long history shows its latest periods only (the tables have every post).
    while periods.len() > MAX_PERIODS {
        periods.pop_first();
    }
    let first = periods.keys().next().copied().unwrap_or(first).max(first);
    for p in &report.posts {
        if let Some(slot) = periods.get_mut(&unit.start(day(p.published_at))) {
            slot.0 += 1;
            for (i, v) in p.values().into_iter().enumerate() {
                slot.1[i] += v.unwrap_or(0);
            }
        }
    }
    let names = count_names(report.platform);
    let starts: Vec<Date> = periods.keys().copied().collect();
    let caption = format!(
        "Counts of the posts published {}, {} to {} ({})",
        unit.per(),
        first.strftime("%-d %b %Y"),
        last.strftime("%-d %b %Y"),
        zone.iana_name().unwrap_or("UTC")
    );
    let panels = shown
        .iter()
        .map(|i| {
            let values: Vec<i64> = periods.values().map(|(_, sums)| sums[*i]).collect();
            Panel { name: names[*i], svg: panel(*i, names[*i], unit, &starts, &values) }
        })
        .collect();
    let table = periods
        .iter()
        .map(|(d, (posts, sums))| (unit.label(*d), *posts, shown.iter().map(|i| grouped(sums[*i])).collect()))
        .collect();
    Some(Chart { panels, caption, names: shown.iter().map(|i| names[*i]).collect(), table })
}

/// A small bar chart of one count; panels sit side by side on wider screens.
fn panel(index: usize, name: &str, unit: Unit, starts: &[Date], values: &[i64]) -> Html {
    let max = values.iter().copied().max().unwrap_or(0);
    let total: i64 = values.iter().sum();
    let busiest = values.iter().enumerate().max_by_key(|(_, v)| **v).map(|(i, _)| i).unwrap_or(0);
    let label = |i: usize| starts.get(i).map(|d| unit.label(*d)).unwrap_or_default();
    let id = format!("chart-{index}");
    let desc = format!(
        "{} in all; the most, {}, {}. The same numbers are in the table below.",
        grouped(total),
        grouped(values.get(busiest).copied().unwrap_or(0)),
        label(busiest),
    );
    let ids = (format!("{id}-t"), format!("{id}-d"));
    let title = format!("{name} {}", unit.per());
    let mut chart = Frame::open(170.0, 44.0, 26.0, 1.5, values.len(), max, (&ids.0, &ids.1), &title, &desc);
    chart.gridlines(compact);
    // At most five labels along the bottom, so they never run into each other.
    let label_every = values.len().div_ceil(5).max(1);
    for (i, v) in values.iter().enumerate() {
        if *v > 0 {
            let h = chart.bar_height(*v);
            chart.rect(chart.bar_x(i), chart.baseline() - h, h, "#0072B2", &format!("{}: {}", label(i), grouped(*v)));
        }
        if i % label_every == 0
            && let Some(d) = starts.get(i)
        {
            chart.label(chart.slot_middle(i).max(chart.left + 16.0), 8.0, &unit.short(*d));
        }
    }
    chart.close()
}

/// An axis value in a few characters: `950`, `12k`, `3.4M`.
fn compact(n: i64) -> String {
    match n {
        n if n >= 10_000_000 => format!("{}M", n / 1_000_000),
        n if n >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n if n >= 10_000 => format!("{}k", n / 1000),
        n if n >= 1000 => format!("{:.1}k", n as f64 / 1e3),
        n => n.to_string(),
    }
}

/// A post's row in the table.
pub struct Row {
    pub href: String,
    pub label: String,
    pub published: Html,
    pub counts: Vec<String>,
}

#[derive(Template)]
#[template(path = "analytics.html")]
struct AnalyticsPage {
    layout: Layout,
    id: String,
    platform: String,
    unavailable: Option<String>,
    followers: Option<String>,
    names: Vec<&'static str>,
    /// The counts the platform does not tell, in words ("views and shares").
    not_told: Option<String>,
    rows: Vec<Row>,
    chart: Option<Chart>,
}

fn and_list(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {}", init.join(", "), last),
    }
}

pub async fn analytics_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
) -> Result<Response, PageError> {
    // The report first: a member without `analytics.view` is refused there, with the same
    // denial as the API's.
    let report = report::analytics_report(&state, &viewer.ctx(), &viewer.principal, &id).await.or_page(&viewer)?;
    let a = access(&state, &viewer, &id, Need::ReadAccountAndRules).await.or_page(&viewer)?;
    let zone = account_zone(&a.account);
    let mut layout = viewer.layout(format!("Analytics of {}", a.account.display_name));
    layout.account = Some(account_nav(&a, "analytics"));
    let names = count_names(report.platform);
    let shown: Vec<usize> = (0..COUNTS).filter(|i| report.told[*i]).collect();
    let hidden: Vec<&str> = (0..COUNTS).filter(|i| !report.told[*i]).map(|i| names[i]).collect();
    let tz = viewer.tz.as_ref();
    let rows = report
        .posts
        .iter()
        .map(|p| {
            let at = jiff::Timestamp::from_microsecond(p.published_at).map(|t| t.to_string()).unwrap_or_default();
            let values = p.values();
            Row {
                href: format!("/posts/{}", p.post_id),
                label: label_of(p.title.as_deref(), &p.text),
                published: when(&at, &zone, tz),
                counts: shown.iter().map(|i| values[*i].map_or_else(|| "not told".to_string(), grouped)).collect(),
            }
        })
        .collect();
    let today = state.clock.now().to_zoned(zone.clone()).date();
    let page = AnalyticsPage {
        id: id.to_string(),
        platform: platform_name(report.platform.as_str()),
        followers: report.followers.map(grouped),
        names: shown.iter().map(|i| names[*i]).collect(),
        not_told: (!report.posts.is_empty() && !hidden.is_empty()).then(|| and_list(&hidden).to_lowercase()),
        rows,
        chart: chart(&report, &zone, today),
        unavailable: report.unavailable,
        layout,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The report as a CSV download (formula-safe cells, see `report::to_csv`).
pub async fn analytics_csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<AccountId>,
) -> Result<Response, PageError> {
    let report = report::analytics_report(&state, &viewer.ctx(), &viewer.principal, &id).await.or_page(&viewer)?;
    let handle: String =
        report.handle.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').take(40).collect();
    let day = state.clock.now().strftime("%Y-%m-%d");
    let name = if handle.is_empty() { format!("analytics-{day}.csv") } else { format!("analytics-{handle}-{day}.csv") };
    let mut resp = report::to_csv(&report).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_people_write_them() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(compact(1500), "1.5k");
        assert_eq!(compact(25_000), "25k");
        assert_eq!(and_list(&["Views", "Shares"]), "Views and Shares");
    }

    #[test]
    fn periods_grow_with_the_span() {
        let d = |m, day| jiff::civil::date(2027, m, day);
        assert_eq!(Unit::for_span(d(1, 1), d(1, 20)), Unit::Day);
        assert_eq!(Unit::for_span(d(1, 1), d(4, 1)), Unit::Week);
        assert_eq!(Unit::for_span(d(1, 1), d(12, 1)), Unit::Month);
        assert_eq!(Unit::Week.start(d(1, 7)), d(1, 4), "weeks start on Monday");
    }

    #[test]
    fn a_panel_is_an_image_with_a_name_and_no_bar_for_a_zero() {
        let starts = [jiff::civil::date(2027, 1, 1), jiff::civil::date(2027, 1, 2)];
        let svg = panel(0, "Views <x>", Unit::Day, &starts, &[1200, 0]).to_string();
        assert!(svg.starts_with("<svg") && svg.contains("role=\"img\"") && svg.contains("Views &lt;x&gt; per day"));
        assert_eq!(svg.matches("<rect").count(), 1);
        assert!(svg.contains("1 Jan: 1,200"), "{svg}");
    }
}
