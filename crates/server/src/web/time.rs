//! Times as people read them: in the account's time zone and in the viewer's own, and the
//! weekly windows grid turned into the API's windows and back.
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use steward_domain::windows::WindowInput;

use crate::web::html::{Html, escape};

pub const DAYS: [(&str, &str); 7] =
    [("mon", "Mon"), ("tue", "Tue"), ("wed", "Wed"), ("thu", "Thu"), ("fri", "Fri"), ("sat", "Sat"), ("sun", "Sun")];

fn zone_name(tz: &TimeZone) -> &str {
    tz.iana_name().unwrap_or("UTC")
}

fn format_in(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%a %-d %b %Y, %H:%M").to_string()
}

/// An instant (RFC 3339) as HTML: in `zone` (the account's, or the viewer's for personal
/// things), and also in the viewer's own zone when that differs.
#[must_use]
pub fn when(rfc3339: &str, zone: &TimeZone, viewer: Option<&TimeZone>) -> Html {
    let Ok(t) = rfc3339.parse::<Timestamp>() else { return Html::text(rfc3339) };
    let mut out = format!(
        "<time datetime=\"{}\">{} <span class=\"tz\">{}</span></time>",
        escape(rfc3339),
        escape(&format_in(t, zone)),
        escape(zone_name(zone))
    );
    if let Some(v) = viewer
        && zone_name(v) != zone_name(zone)
    {
        out.push_str(&format!(
            " <span class=\"alt\">({} your time, {})</span>",
            escape(&format_in(t, v)),
            escape(zone_name(v))
        ));
    }
    Html::escaped(out)
}

/// The regions of the time-zone database a person picks a city in (the rest are old aliases).
const REGIONS: [&str; 9] =
    ["Africa", "America", "Antarctica", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"];

/// The time zones to pick from, by region then city (`Europe/Paris`), and UTC: the
/// suggestions of every time-zone field (`list="zones"`), so typing "Par" offers Paris.
pub fn zones_datalist() -> Html {
    static LIST: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut names: Vec<String> = jiff::tz::db()
            .available()
            .map(|n| n.as_str().to_string())
            .filter(|n| n.split_once('/').is_some_and(|(region, _)| REGIONS.contains(&region)))
            .collect();
        names.sort();
        names.dedup();
        names.push("UTC".into());
        let options: String = names.iter().map(|n| format!("<option value=\"{}\">", escape(n))).collect();
        format!("<datalist id=\"zones\">{options}</datalist>")
    });
    Html::escaped(LIST.clone())
}

/// An instant for the viewer's own things (sessions, tokens): their zone, else UTC.
#[must_use]
pub fn when_mine(rfc3339: &str, viewer: Option<&TimeZone>) -> Html {
    when(rfc3339, viewer.unwrap_or(&TimeZone::UTC), None)
}

/// A sentence with every RFC 3339 instant in it (as a refusal names one) written as a time in
/// `zone`: "opens at 2026-12-07T08:00:00Z." reads "opens at Mon 7 Dec 2026, 09:00." in Paris.
#[must_use]
pub fn instants_in_words(text: &str, zone: &TimeZone) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split(' ') {
        let bare = word.trim_end_matches(['.', ';', ',', ')']);
        match bare.parse::<jiff::Timestamp>() {
            Ok(t) => {
                out.push_str(&t.to_zoned(zone.clone()).strftime("%a %-d %b %Y, %H:%M").to_string());
                out.push_str(&word[bare.len()..]);
            }
            Err(_) => out.push_str(word),
        }
        out.push(' ');
    }
    out.trim_end().to_string()
}

/// A `datetime-local` input's value, read in `zone`, as RFC 3339 UTC.
pub fn local_input_to_rfc3339(raw: &str, zone: &TimeZone) -> Result<String, &'static str> {
    let dt: DateTime = raw.parse().map_err(|_| "must be a date and time")?;
    let zoned = dt.to_zoned(zone.clone()).map_err(|_| "is not a time that exists in the account's time zone")?;
    Ok(zoned.timestamp().to_string())
}

/// RFC 3339 to a `datetime-local` value in `zone` (to fill a form in again).
#[must_use]
pub fn rfc3339_to_local_input(rfc3339: &str, zone: &TimeZone) -> String {
    rfc3339
        .parse::<Timestamp>()
        .map(|t| t.to_zoned(zone.clone()).strftime("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// The grid's ticked cells (`mon-9`: Monday 09:00–10:00) as windows: consecutive hours of a day
/// become one range, and days with the same ranges share a window.
#[must_use]
pub fn grid_to_windows(cells: &[String]) -> Vec<WindowInput> {
    let mut hours = [[false; 24]; 7];
    for cell in cells {
        let Some((day, hour)) = cell.split_once('-') else { continue };
        let (Some(d), Ok(h)) = (DAYS.iter().position(|(k, _)| *k == day), hour.parse::<usize>()) else { continue };
        if h < 24 {
            hours[d][h] = true;
        }
    }
    let mut windows: Vec<WindowInput> = Vec::new();
    for (d, day_hours) in hours.iter().enumerate() {
        let mut h = 0;
        while h < 24 {
            if !day_hours[h] {
                h += 1;
                continue;
            }
            let start = h;
            while h < 24 && day_hours[h] {
                h += 1;
            }
            let (s, e) = (format!("{start:02}:00"), format!("{h:02}:00"));
            let day = DAYS[d].0.to_string();
            match windows.iter_mut().find(|w| w.start == s && w.end == e) {
                Some(w) => w.days.push(day),
                None => windows.push(WindowInput { days: vec![day], start: s, end: e }),
            }
        }
    }
    windows
}

/// The posting-hours presets of the invite and member forms (`hours=`), besides `custom` (the
/// grid): none (any day, any hour), weekdays 9–18, every day 9–18.
pub const HOURS_PRESETS: [(&str, &str); 4] = [
    ("any", "No restriction: any day, any hour"),
    ("weekdays", "Weekdays, 9:00 to 18:00"),
    ("every_day", "Every day, 9:00 to 18:00"),
    ("custom", "Only the hours ticked below"),
];

/// A preset's windows (`None` for `custom` and for anything that is not a preset).
#[must_use]
pub fn preset_windows(preset: &str) -> Option<Vec<WindowInput>> {
    let days = |n: usize| DAYS[..n].iter().map(|(k, _)| (*k).to_string()).collect();
    match preset {
        "any" => Some(Vec::new()),
        "weekdays" => Some(vec![WindowInput { days: days(5), start: "09:00".into(), end: "18:00".into() }]),
        "every_day" => Some(vec![WindowInput { days: days(7), start: "09:00".into(), end: "18:00".into() }]),
        _ => None,
    }
}

/// Which preset stored windows are (for the member form), else `custom`.
#[must_use]
pub fn preset_of(windows: &[WindowInput]) -> &'static str {
    let mut cells = windows_to_grid(windows);
    cells.sort();
    for (key, _) in &HOURS_PRESETS[..3] {
        let mut preset = preset_windows(key).map(|w| windows_to_grid(&w)).unwrap_or_default();
        preset.sort();
        if preset == cells {
            return key;
        }
    }
    "custom"
}

/// The windows a form posted: a preset, or the grid's ticked cells (`custom`, or a form
/// without the presets).
pub fn posted_windows(preset: Option<&str>, cells: &[String]) -> Result<Vec<WindowInput>, &'static str> {
    match preset {
        None | Some("custom") => Ok(grid_to_windows(cells)),
        Some(p) => preset_windows(p).ok_or("must be one of the choices offered"),
    }
}

/// Stored windows back to grid cells (hours touched by a window are ticked).
#[must_use]
pub fn windows_to_grid(windows: &[WindowInput]) -> Vec<String> {
    let minutes = |t: &str| -> Option<u32> {
        let (h, m) = t.split_once(':')?;
        Some(h.parse::<u32>().ok()? * 60 + m.parse::<u32>().ok()?)
    };
    let mut cells = Vec::new();
    for w in windows {
        let (Some(start), Some(end)) = (minutes(&w.start), minutes(&w.end)) else { continue };
        for day in &w.days {
            let key = day.to_ascii_lowercase();
            for hour in 0..24u32 {
                if hour * 60 < end && (hour + 1) * 60 > start {
                    cells.push(format!("{}-{hour}", &key[..key.len().min(3)]));
                }
            }
        }
    }
    cells
}

/// Windows in words, e.g. "Mon, Tue 09:00–17:00".
#[must_use]
pub fn describe_windows(windows: &[WindowInput]) -> String {
    if windows.is_empty() {
        return "any time".into();
    }
    windows.iter().map(|w| format!("{} {}–{}", w.days.join(", "), w.start, w.end)).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_round_trips_through_windows() {
        let cells: Vec<String> =
            ["mon-9", "mon-10", "tue-9", "tue-10", "fri-23"].iter().map(|s| s.to_string()).collect();
        let windows = grid_to_windows(&cells);
        assert_eq!(
            windows,
            vec![
                WindowInput { days: vec!["mon".into(), "tue".into()], start: "09:00".into(), end: "11:00".into() },
                WindowInput { days: vec!["fri".into()], start: "23:00".into(), end: "24:00".into() },
            ]
        );
        let mut back = windows_to_grid(&windows);
        back.sort();
        let mut expected = cells.clone();
        expected.sort();
        assert_eq!(back, expected);
    }

    #[test]
    fn presets_are_windows_and_are_recognised_back() {
        let weekdays = posted_windows(Some("weekdays"), &["sun-3".to_string()]).expect("a preset");
        assert_eq!(weekdays[0].days, vec!["mon", "tue", "wed", "thu", "fri"]);
        assert_eq!((weekdays[0].start.as_str(), weekdays[0].end.as_str()), ("09:00", "18:00"));
        assert_eq!(preset_of(&weekdays), "weekdays");
        assert_eq!(preset_of(&[]), "any");
        assert!(posted_windows(Some("any"), &["mon-9".to_string()]).expect("a preset").is_empty());
        let grid = posted_windows(Some("custom"), &["mon-9".to_string()]).expect("the grid");
        assert_eq!(preset_of(&grid), "custom");
        assert_eq!(posted_windows(None, &["mon-9".to_string()]), Ok(grid));
        assert!(posted_windows(Some("sometimes"), &[]).is_err());
    }

    #[test]
    fn local_times_are_read_in_the_accounts_zone() {
        let paris = steward_domain::windows::parse_time_zone("Europe/Paris").expect("zone");
        assert_eq!(local_input_to_rfc3339("2027-01-15T17:30", &paris).as_deref(), Ok("2027-01-15T16:30:00Z"));
        assert!(local_input_to_rfc3339("tomorrow", &paris).is_err());
        assert_eq!(rfc3339_to_local_input("2027-01-15T16:30:00Z", &paris), "2027-01-15T17:30");
        let html = when("2027-01-15T16:30:00Z", &paris, Some(&TimeZone::UTC)).to_string();
        assert!(html.contains("Fri 15 Jan 2027, 17:30") && html.contains("16:30 your time"), "{html}");
    }
}
