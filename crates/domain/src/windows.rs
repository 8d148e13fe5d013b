//! Posting windows (Invariant 5): weekly ranges of local wall-clock time, in the account's
//! IANA time zone, inside which a member may schedule or publish.
//!
//! A window is `[start, end)` in wall-clock time on each of its days. Wall-clock time is what
//! the owner means by "weekdays 09:00–17:30", so daylight-saving changes are read literally:
//! in a spring-forward gap the skipped wall-clock times never happen, so they are not inside
//! any window; in a fall-back overlap the repeated wall-clock times happen twice, and both
//! instants are inside when the wall-clock time is.
//!
//! Windows cannot cross midnight (`end` must be after `start`); an overnight range is two
//! windows, and `end` may be `"24:00"` so that a window can run to the end of its day.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{self, Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// At most this many windows per membership: enough for any real week, small enough that
/// checking them stays trivial and a client cannot store an unbounded list.
pub const MAX_WINDOWS: usize = 50;

/// Longest time zone name accepted (the longest IANA name is about 30 characters).
pub const MAX_TIME_ZONE_NAME_LEN: usize = 64;

/// A day of the week, serialised as `"mon"` … `"sun"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] =
        [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }

    #[must_use]
    pub const fn from_civil(day: civil::Weekday) -> Weekday {
        match day {
            civil::Weekday::Monday => Weekday::Mon,
            civil::Weekday::Tuesday => Weekday::Tue,
            civil::Weekday::Wednesday => Weekday::Wed,
            civil::Weekday::Thursday => Weekday::Thu,
            civil::Weekday::Friday => Weekday::Fri,
            civil::Weekday::Saturday => Weekday::Sat,
            civil::Weekday::Sunday => Weekday::Sun,
        }
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Weekday {
    type Err = ();

    /// Only the exact lowercase three-letter names: one spelling per day keeps stored data
    /// and audit records uniform.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Weekday::ALL.into_iter().find(|day| day.as_str() == name).ok_or(())
    }
}

/// A wall-clock time of day with minute precision, written `"HH:MM"`. `24:00` (the end of the
/// day) is representable so that a window can end at midnight; [`Window`] only allows it as
/// an `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LocalTime {
    minute_of_day: u16,
}

impl LocalTime {
    pub const MIDNIGHT: LocalTime = LocalTime { minute_of_day: 0 };
    pub const END_OF_DAY: LocalTime = LocalTime { minute_of_day: 24 * 60 };

    /// `None` unless `hour` is 0–23 and `minute` 0–59, or the time is exactly 24:00.
    #[must_use]
    pub const fn new(hour: u8, minute: u8) -> Option<LocalTime> {
        if (hour < 24 && minute < 60) || (hour == 24 && minute == 0) {
            Some(LocalTime { minute_of_day: hour as u16 * 60 + minute as u16 })
        } else {
            None
        }
    }

    #[must_use]
    pub const fn hour(self) -> u8 {
        (self.minute_of_day / 60) as u8
    }

    #[must_use]
    pub const fn minute(self) -> u8 {
        (self.minute_of_day % 60) as u8
    }

    #[must_use]
    pub const fn is_end_of_day(self) -> bool {
        self.minute_of_day == LocalTime::END_OF_DAY.minute_of_day
    }

    /// Nanoseconds since local midnight, to compare with a civil time of day.
    const fn nanos_of_day(self) -> i64 {
        self.minute_of_day as i64 * 60 * 1_000_000_000
    }

    /// As a civil time; `None` for 24:00, which is not a time of day.
    fn to_civil(self) -> Option<civil::Time> {
        civil::Time::new(self.hour() as i8, self.minute() as i8, 0, 0).ok()
    }

    /// Parses exactly `HH:MM`: two ASCII digits each, hours 00–23 (or `24:00`), minutes 00–59.
    fn parse(text: &str) -> Option<LocalTime> {
        let &[h1, h0, b':', m1, m0] = text.as_bytes() else {
            return None;
        };
        let digit = |byte: u8| byte.is_ascii_digit().then(|| byte - b'0');
        let hour = digit(h1)? * 10 + digit(h0)?;
        let minute = digit(m1)? * 10 + digit(m0)?;
        LocalTime::new(hour, minute)
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        LocalTime::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a time HH:MM")))
    }
}

/// A window as it arrives in a request, before validation: plain strings, so that every
/// problem can be reported with the field it is in rather than as one opaque parse error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowInput {
    pub days: Vec<String>,
    pub start: String,
    pub end: String,
}

/// Which time field of a window is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    Start,
    End,
}

impl TimeField {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            TimeField::Start => "start",
            TimeField::End => "end",
        }
    }
}

impl TimeField {
    const fn accepted_times(self) -> &'static str {
        match self {
            TimeField::Start => "hours 00–23, minutes 00–59",
            TimeField::End => "hours 00–23, minutes 00–59, or 24:00",
        }
    }
}

impl fmt::Display for TimeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A problem within one window.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("must list at least one day")]
    NoDays,
    #[error("`{value}` is not a day; use mon, tue, wed, thu, fri, sat or sun")]
    UnknownDay { position: usize, value: String },
    #[error("`{day}` is listed more than once")]
    DuplicateDay { position: usize, day: Weekday },
    #[error("`{value}` is not a time HH:MM ({})", .field.accepted_times())]
    BadTime { field: TimeField, value: String },
    #[error("must be after start ({start}); split a window that crosses midnight in two")]
    EndNotAfterStart { start: LocalTime, end: LocalTime },
}

impl WindowError {
    /// The field within the window, e.g. `days[2]` or `end`.
    #[must_use]
    pub fn field(&self) -> String {
        match self {
            WindowError::NoDays => "days".to_owned(),
            WindowError::UnknownDay { position, .. } | WindowError::DuplicateDay { position, .. } => {
                format!("days[{position}]")
            }
            WindowError::BadTime { field, .. } => field.as_str().to_owned(),
            WindowError::EndNotAfterStart { .. } => TimeField::End.as_str().to_owned(),
        }
    }
}

/// A problem with a list of windows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowListError {
    #[error("at most {max} windows are allowed, got {count}")]
    TooMany { count: usize, max: usize },
    #[error("window {index}: {error}")]
    Window { index: usize, error: WindowError },
}

impl WindowListError {
    /// The request field, e.g. `windows[0].days[2]`, for the API's validation `errors` list.
    #[must_use]
    pub fn field(&self) -> String {
        match self {
            WindowListError::TooMany { .. } => "windows".to_owned(),
            WindowListError::Window { index, error } => {
                format!("windows[{index}].{}", error.field())
            }
        }
    }
}

/// Every problem found in a list of windows, so that a client can fix them all at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid posting windows: {}", .0.iter().map(|e| format!("{}: {e}", e.field())).collect::<Vec<_>>().join("; "))]
pub struct InvalidWindows(pub Vec<WindowListError>);

/// A validated posting window: on each of `days`, local wall-clock time in `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WindowInput")]
pub struct Window {
    days: Vec<Weekday>,
    start: LocalTime,
    end: LocalTime,
}

impl Window {
    pub fn new(days: Vec<Weekday>, start: LocalTime, end: LocalTime) -> Result<Window, WindowError> {
        if days.is_empty() {
            return Err(WindowError::NoDays);
        }
        for (position, day) in days.iter().enumerate() {
            if days[..position].contains(day) {
                return Err(WindowError::DuplicateDay { position, day: *day });
            }
        }
        if start.is_end_of_day() {
            return Err(WindowError::BadTime { field: TimeField::Start, value: start.to_string() });
        }
        if end <= start {
            return Err(WindowError::EndNotAfterStart { start, end });
        }
        Ok(Window { days, start, end })
    }

    /// Validates one window given as strings, reporting the first problem of each field.
    pub fn parse(input: &WindowInput) -> Result<Window, Vec<WindowError>> {
        let mut errors = Vec::new();
        let mut days = Vec::with_capacity(input.days.len());
        if input.days.is_empty() {
            errors.push(WindowError::NoDays);
        }
        for (position, name) in input.days.iter().enumerate() {
            match name.parse::<Weekday>() {
                Ok(day) if days.contains(&day) => {
                    errors.push(WindowError::DuplicateDay { position, day });
                }
                Ok(day) => days.push(day),
                Err(()) => {
                    errors.push(WindowError::UnknownDay { position, value: name.clone() });
                }
            }
        }
        let start = LocalTime::parse(&input.start).filter(|start| !start.is_end_of_day());
        if start.is_none() {
            errors.push(WindowError::BadTime { field: TimeField::Start, value: input.start.clone() });
        }
        let end = LocalTime::parse(&input.end);
        if end.is_none() {
            errors.push(WindowError::BadTime { field: TimeField::End, value: input.end.clone() });
        }
        if let (Some(start), Some(end)) = (start, end)
            && end <= start
        {
            errors.push(WindowError::EndNotAfterStart { start, end });
        }
        match (start, end) {
            (Some(start), Some(end)) if errors.is_empty() => Ok(Window { days, start, end }),
            _ => Err(errors),
        }
    }

    #[must_use]
    pub fn days(&self) -> &[Weekday] {
        &self.days
    }

    #[must_use]
    pub fn start(&self) -> LocalTime {
        self.start
    }

    #[must_use]
    pub fn end(&self) -> LocalTime {
        self.end
    }

    /// Whether a local wall-clock date and time is inside this window.
    #[must_use]
    pub fn contains(&self, local: DateTime) -> bool {
        let time = local.time();
        let nanos_of_day = i64::from(time.hour()) * 3_600_000_000_000
            + i64::from(time.minute()) * 60_000_000_000
            + i64::from(time.second()) * 1_000_000_000
            + i64::from(time.subsec_nanosecond());
        self.days.contains(&Weekday::from_civil(local.weekday()))
            && self.start.nanos_of_day() <= nanos_of_day
            && nanos_of_day < self.end.nanos_of_day()
    }
}

impl From<&Window> for WindowInput {
    /// A valid window written back as a request would send it (to edit stored windows).
    fn from(w: &Window) -> Self {
        WindowInput {
            days: w.days.iter().map(|d| d.as_str().to_owned()).collect(),
            start: w.start.to_string(),
            end: w.end.to_string(),
        }
    }
}

impl TryFrom<WindowInput> for Window {
    type Error = InvalidWindows;

    fn try_from(input: WindowInput) -> Result<Self, Self::Error> {
        Window::parse(&input).map_err(|errors| {
            InvalidWindows(errors.into_iter().map(|error| WindowListError::Window { index: 0, error }).collect())
        })
    }
}

/// Validates a membership's `windows` as sent by a client, reporting every problem.
pub fn parse_windows(input: &[WindowInput]) -> Result<Vec<Window>, InvalidWindows> {
    if input.len() > MAX_WINDOWS {
        // Reported alone: there is no point listing problems in windows that must go anyway.
        return Err(InvalidWindows(vec![WindowListError::TooMany { count: input.len(), max: MAX_WINDOWS }]));
    }
    let mut windows = Vec::with_capacity(input.len());
    let mut errors = Vec::new();
    for (index, window) in input.iter().enumerate() {
        match Window::parse(window) {
            Ok(window) => windows.push(window),
            Err(found) => errors.extend(found.into_iter().map(|error| WindowListError::Window { index, error })),
        }
    }
    if errors.is_empty() { Ok(windows) } else { Err(InvalidWindows(errors)) }
}

/// A membership's stored `windows` that cannot be read back as a list of valid windows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored posting windows cannot be read: {0}")]
pub struct UnreadableWindows(pub String);

/// Reads a membership's stored `windows` (JSON, as [`parse_windows`] validated and stored it).
/// An unreadable value is an error, never "no windows": every caller refuses what the windows
/// would have allowed (fail closed), since an empty list means no restriction at all.
pub fn stored_windows(json: &str) -> Result<Vec<Window>, UnreadableWindows> {
    serde_json::from_str(json).map_err(|e| UnreadableWindows(e.to_string()))
}

/// Why a time zone name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeZoneError {
    #[error("the time zone must not be empty")]
    Empty,
    #[error("`{name}` is not an IANA time zone name such as Europe/Paris")]
    Unknown { name: String },
}

/// Looks up an IANA time zone name (e.g. `Europe/Paris`, `America/New_York`, `UTC`).
///
/// Only names in the time zone database are accepted: no fixed offsets or POSIX TZ strings,
/// because those do not follow a place's daylight-saving rules. Store the returned zone's
/// `iana_name()`, which is the database's spelling of the name.
pub fn parse_time_zone(name: &str) -> Result<TimeZone, TimeZoneError> {
    parse_time_zone_in(jiff::tz::db(), name)
}

/// [`parse_time_zone`] against `db` (the process's shared database keeps every zone it parsed).
fn parse_time_zone_in(db: &jiff::tz::TimeZoneDatabase, name: &str) -> Result<TimeZone, TimeZoneError> {
    if name.is_empty() {
        return Err(TimeZoneError::Empty);
    }
    let unknown = || TimeZoneError::Unknown { name: name.to_owned() };
    // The database may be files on disk: keep names to the characters IANA uses, so that no
    // name can be read as a path outside it.
    let plausible = name.len() <= MAX_TIME_ZONE_NAME_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        && name.split('/').all(|part| !part.is_empty());
    if !plausible {
        return Err(unknown());
    }
    let time_zone = db.get(name).map_err(|_| unknown())?;
    if time_zone.is_unknown() {
        return Err(unknown());
    }
    Ok(time_zone)
}

/// Every name [`parse_time_zone`] accepts in the database's own spelling, sorted: the API
/// document lists them, so a client can offer exactly the names the server takes.
#[must_use]
pub fn time_zone_names() -> Vec<String> {
    // Checked against a database of their own, dropped after: the shared one would keep all
    // ~600 zones parsed (1.3 MiB) for the life of the process, where a server needs a few.
    let db = jiff::tz::TimeZoneDatabase::from_env();
    let mut names: Vec<String> = db
        .available()
        .map(|name| name.as_str().to_owned())
        .filter(|name| parse_time_zone_in(&db, name).is_ok_and(|tz| tz.iana_name() == Some(name.as_str())))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Whether `at` falls inside one of the windows, in the time zone's wall-clock time. No
/// windows at all means no restriction.
#[must_use]
pub fn is_within_windows(windows: &[Window], time_zone: &TimeZone, at: Timestamp) -> bool {
    if windows.is_empty() {
        return true;
    }
    let local = time_zone.to_datetime(at);
    windows.iter().any(|window| window.contains(local))
}

/// How far ahead [`next_window_start`] looks: two weeks and a bit covers every weekday twice,
/// so a window swallowed once by a daylight-saving gap is found the next week.
const SEARCH_HORIZON_DAYS: i64 = 16;

/// The first instant at or after `at` that is inside a window: `at` itself when it already
/// is (or when there are no windows). `None` only when no instant within the next two weeks
/// is inside any window.
///
/// Being inside can only begin where the wall clock reaches a window's `start`, or at a time
/// zone transition (where the wall clock jumps, possibly into the middle of a window), so
/// those instants are the only candidates that need checking.
#[must_use]
pub fn next_window_start(windows: &[Window], time_zone: &TimeZone, at: Timestamp) -> Option<Timestamp> {
    if is_within_windows(windows, time_zone, at) {
        return Some(at);
    }
    let horizon = at.checked_add(SignedDuration::from_hours(SEARCH_HORIZON_DAYS * 24)).unwrap_or(Timestamp::MAX);
    // Start a day early: a transition can move the wall clock back across midnight.
    let first_date = time_zone.to_datetime(at).date();
    let first_date = first_date.yesterday().unwrap_or(first_date);

    let mut candidates: Vec<Timestamp> = time_zone
        .following(at)
        .map(|transition| transition.timestamp())
        .take_while(|instant| *instant <= horizon)
        .collect();
    for date in
        (0..=SEARCH_HORIZON_DAYS + 1).map_while(|offset| first_date.checked_add(jiff::Span::new().days(offset)).ok())
    {
        let weekday = Weekday::from_civil(date.weekday());
        for window in windows.iter().filter(|window| window.days.contains(&weekday)) {
            let Some(start) = window.start.to_civil() else {
                continue;
            };
            candidates.extend(instants_of_wall_time(time_zone, date.to_datetime(start)));
        }
    }
    candidates
        .into_iter()
        .filter(|candidate| *candidate >= at && is_within_windows(windows, time_zone, *candidate))
        .min()
}

/// The instants at which the wall clock shows `local`: one normally, two in a fall-back
/// overlap, none in a spring-forward gap.
fn instants_of_wall_time(time_zone: &TimeZone, local: DateTime) -> Vec<Timestamp> {
    let offsets = match time_zone.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => vec![offset],
        AmbiguousOffset::Fold { before, after } => vec![before, after],
        AmbiguousOffset::Gap { .. } => vec![],
    };
    offsets.into_iter().filter_map(|offset| offset.to_timestamp(local).ok()).collect()
}

/// The first instant whose local date is `date` or later: local midnight normally; the end of
/// the gap when midnight is skipped; the earlier midnight when it happens twice.
fn first_instant_of(time_zone: &TimeZone, date: Date) -> Option<Timestamp> {
    let midnight = date.to_datetime(civil::Time::midnight());
    match time_zone.to_ambiguous_timestamp(midnight).offset() {
        AmbiguousOffset::Unambiguous { offset } | AmbiguousOffset::Fold { before: offset, .. } => {
            offset.to_timestamp(midnight).ok()
        }
        // Read with the offset after the gap, midnight lands before the transition; the
        // transition that follows is where the day begins.
        AmbiguousOffset::Gap { after, .. } => {
            let before_transition = after.to_timestamp(midnight).ok()?;
            time_zone.following(before_transition).next().map(|transition| transition.timestamp())
        }
    }
}

/// The `[start, end)` of the local calendar day that contains `at`, for daily quotas: usually
/// 24 hours, 23 or 25 on daylight-saving days. Clamped to jiff's range at its very ends.
#[must_use]
pub fn local_day_bounds(time_zone: &TimeZone, at: Timestamp) -> (Timestamp, Timestamp) {
    let date = time_zone.to_datetime(at).date();
    let start = first_instant_of(time_zone, date).unwrap_or(Timestamp::MIN);
    let end = date.tomorrow().ok().and_then(|tomorrow| first_instant_of(time_zone, tomorrow)).unwrap_or(Timestamp::MAX);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_time_zones_are_exactly_accepted_names() {
        let names = time_zone_names();
        assert!(names.len() > 300, "{}", names.len());
        for name in ["UTC", "Europe/Paris", "America/Argentina/Buenos_Aires"] {
            assert!(names.iter().any(|n| n == name), "{name}");
        }
        assert!(names.iter().all(|n| parse_time_zone(n).is_ok()));
        assert!(!names.iter().any(|n| n.is_empty() || n.contains(' ')));
    }

    #[test]
    fn stored_windows_fail_closed_when_unreadable() {
        assert_eq!(stored_windows("[]"), Ok(Vec::new()));
        let read = stored_windows(r#"[{"days":["mon"],"start":"09:00","end":"17:00"}]"#).expect("readable");
        assert_eq!(read.len(), 1);
        assert_eq!(
            WindowInput::from(&read[0]),
            WindowInput { days: vec!["mon".into()], start: "09:00".into(), end: "17:00".into() }
        );
        for unreadable in ["", "not json", "{}", "null", r#"[{"days":["mon"],"start":"17:00","end":"09:00"}]"#] {
            assert!(stored_windows(unreadable).is_err(), "{unreadable:?} must not read as no restriction");
        }
    }

    fn tz(name: &str) -> TimeZone {
        parse_time_zone(name).expect("time zone")
    }

    /// A timestamp from an RFC 3339 string with an explicit offset, so that each test states
    /// unambiguously which instant it means.
    fn ts(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn window(days: &[&str], start: &str, end: &str) -> Window {
        Window::parse(&input(days, start, end)).expect("valid window")
    }

    fn input(days: &[&str], start: &str, end: &str) -> WindowInput {
        WindowInput {
            days: days.iter().map(|day| (*day).to_owned()).collect(),
            start: start.to_owned(),
            end: end.to_owned(),
        }
    }

    fn errors_of(windows: &[WindowInput]) -> Vec<(String, WindowListError)> {
        match parse_windows(windows) {
            Ok(_) => panic!("expected errors"),
            Err(InvalidWindows(errors)) => errors.into_iter().map(|e| (e.field(), e)).collect(),
        }
    }

    // --- serde ---

    #[test]
    fn windows_use_the_api_json_shape() {
        let json = r#"[{"days":["mon","tue"],"start":"09:00","end":"17:30"}]"#;
        let windows: Vec<Window> = serde_json::from_str(json).expect("deserialise");
        assert_eq!(windows, vec![window(&["mon", "tue"], "09:00", "17:30")]);
        assert_eq!(serde_json::to_string(&windows).expect("serialise"), json);
        assert_eq!(windows[0].days(), [Weekday::Mon, Weekday::Tue]);
        assert_eq!(windows[0].start(), LocalTime::new(9, 0).expect("time"));
        assert_eq!(windows[0].end().to_string(), "17:30");
    }

    #[test]
    fn deserialising_a_window_validates_it() {
        let bad = r#"{"days":["mon"],"start":"17:00","end":"09:00"}"#;
        let error = serde_json::from_str::<Window>(bad).expect_err("end before start");
        assert!(error.to_string().contains("must be after start"), "{error}");
        assert!(serde_json::from_str::<Window>(r#"{"days":[],"start":"09:00","end":"10:00"}"#).is_err());
    }

    #[test]
    fn every_weekday_round_trips() {
        for day in Weekday::ALL {
            assert_eq!(day.as_str().parse::<Weekday>(), Ok(day));
            let json = serde_json::to_string(&day).expect("serialise");
            assert_eq!(json, format!("\"{day}\""));
        }
    }

    // --- validation ---

    #[test]
    fn valid_windows_parse() {
        let windows = parse_windows(&[
            input(&["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "00:00", "24:00"),
            input(&["sat"], "23:59", "24:00"),
            input(&["sun"], "00:00", "00:01"),
        ])
        .expect("valid");
        assert_eq!(windows.len(), 3);
        assert!(parse_windows(&[]).expect("no windows is valid").is_empty());
    }

    #[test]
    fn unknown_days_are_named() {
        for bad in ["Mon", "monday", "", "lun", "MON", " mon"] {
            let errors = errors_of(&[input(&["tue", bad], "09:00", "10:00")]);
            assert_eq!(
                errors,
                vec![(
                    "windows[0].days[1]".to_owned(),
                    WindowListError::Window {
                        index: 0,
                        error: WindowError::UnknownDay { position: 1, value: bad.to_owned() }
                    }
                )],
                "{bad:?}"
            );
        }
    }

    #[test]
    fn empty_days_are_refused() {
        let errors = errors_of(&[input(&["mon"], "09:00", "10:00"), input(&[], "09:00", "10:00")]);
        assert_eq!(
            errors,
            vec![("windows[1].days".to_owned(), WindowListError::Window { index: 1, error: WindowError::NoDays })]
        );
    }

    #[test]
    fn duplicate_days_are_refused() {
        let errors = errors_of(&[input(&["mon", "tue", "mon"], "09:00", "10:00")]);
        assert_eq!(
            errors,
            vec![(
                "windows[0].days[2]".to_owned(),
                WindowListError::Window {
                    index: 0,
                    error: WindowError::DuplicateDay { position: 2, day: Weekday::Mon }
                }
            )]
        );
        assert_eq!(
            Window::new(vec![Weekday::Fri, Weekday::Fri], LocalTime::MIDNIGHT, LocalTime::END_OF_DAY),
            Err(WindowError::DuplicateDay { position: 1, day: Weekday::Fri })
        );
    }

    #[test]
    fn malformed_times_are_refused() {
        let bad_times = [
            "9:00",
            "09:0",
            "24:01",
            "25:00",
            "09:60",
            "0900",
            "09-00",
            "",
            "09:00:00",
            "ab:cd",
            "+9:00",
            "09:+0",
            "٠٩:٠٠",
            "99:99",
            "-1:00",
        ];
        for bad in bad_times {
            let errors = errors_of(&[input(&["mon"], bad, "23:00")]);
            assert_eq!(
                errors,
                vec![(
                    "windows[0].start".to_owned(),
                    WindowListError::Window {
                        index: 0,
                        error: WindowError::BadTime { field: TimeField::Start, value: bad.to_owned() }
                    }
                )],
                "start {bad:?}"
            );
            let errors = errors_of(&[input(&["mon"], "00:00", bad)]);
            assert_eq!(errors.len(), 1, "end {bad:?}");
            assert_eq!(errors[0].0, "windows[0].end");
        }
        // 24:00 is the end of the day: fine as an end, meaningless as a start.
        let errors = errors_of(&[input(&["mon"], "24:00", "24:00")]);
        assert_eq!(errors[0].0, "windows[0].start");
        assert_eq!(errors.len(), 1, "no extra end-before-start error for an unparsed start");
    }

    #[test]
    fn end_must_be_after_start() {
        for (start, end) in [("17:00", "09:00"), ("09:00", "09:00"), ("22:00", "02:00")] {
            let errors = errors_of(&[input(&["mon"], start, end)]);
            assert_eq!(
                errors,
                vec![(
                    "windows[0].end".to_owned(),
                    WindowListError::Window {
                        index: 0,
                        error: WindowError::EndNotAfterStart {
                            start: LocalTime::parse(start).expect("time"),
                            end: LocalTime::parse(end).expect("time"),
                        }
                    }
                )]
            );
        }
    }

    #[test]
    fn at_most_fifty_windows() {
        let fifty = vec![input(&["mon"], "09:00", "10:00"); MAX_WINDOWS];
        assert_eq!(parse_windows(&fifty).expect("fifty is fine").len(), 50);
        let fifty_one = vec![input(&["mon"], "09:00", "10:00"); MAX_WINDOWS + 1];
        assert_eq!(
            errors_of(&fifty_one),
            vec![("windows".to_owned(), WindowListError::TooMany { count: 51, max: 50 })]
        );
    }

    #[test]
    fn all_problems_are_reported_together() {
        let errors = errors_of(&[input(&["mon"], "09:00", "10:00"), input(&["xyz", "tue", "tue"], "9am", "25:00")]);
        let fields: Vec<&str> = errors.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(fields, ["windows[1].days[0]", "windows[1].days[2]", "windows[1].start", "windows[1].end"]);
        let message = InvalidWindows(errors.into_iter().map(|(_, e)| e).collect()).to_string();
        assert!(message.contains("windows[1].start: window 1: `9am` is not a time HH:MM"), "{message}");
    }

    #[test]
    fn time_zone_names_are_checked() {
        assert_eq!(tz("Europe/Paris").iana_name(), Some("Europe/Paris"));
        // Lookup ignores case; the database's spelling is what gets stored.
        assert_eq!(tz("europe/paris").iana_name(), Some("Europe/Paris"));
        assert!(parse_time_zone("America/New_York").is_ok());
        assert!(parse_time_zone("UTC").is_ok());
        assert!(parse_time_zone("America/Argentina/Buenos_Aires").is_ok());
        assert!(parse_time_zone("Etc/GMT+5").is_ok());
        assert_eq!(parse_time_zone(""), Err(TimeZoneError::Empty));
        for bad in [
            "Europe/Atlantis",
            "Mars/Olympus_Mons",
            "+02:00",
            "CET-1CEST,M3.5.0,M10.5.0/3",
            "../zoneinfo/UTC",
            "/usr/share/zoneinfo/UTC",
            "Europe//Paris",
            "Etc/Unknown",
            "Europe/Paris ",
            &"A".repeat(65),
        ] {
            assert_eq!(
                parse_time_zone(bad).map(|_| ()),
                Err(TimeZoneError::Unknown { name: bad.to_owned() }),
                "{bad:?}"
            );
        }
    }

    // --- membership ---

    #[test]
    fn no_windows_means_no_restriction() {
        let paris = tz("Europe/Paris");
        let at = ts("2026-03-29T01:30:00Z");
        assert!(is_within_windows(&[], &paris, at));
        assert_eq!(next_window_start(&[], &paris, at), Some(at));
    }

    #[test]
    fn windows_are_half_open_in_local_time() {
        let paris = tz("Europe/Paris");
        let weekdays = [window(&["mon", "tue", "wed", "thu", "fri"], "09:00", "17:30")];
        // 2026-01-05 is a Monday; Paris is UTC+1 in winter.
        assert!(!is_within_windows(&weekdays, &paris, ts("2026-01-05T07:59:59.999Z")));
        assert!(is_within_windows(&weekdays, &paris, ts("2026-01-05T08:00:00Z")));
        assert!(is_within_windows(&weekdays, &paris, ts("2026-01-05T16:29:59.999999999Z")));
        assert!(!is_within_windows(&weekdays, &paris, ts("2026-01-05T16:30:00Z")));
        // Saturday 10:00 local.
        assert!(!is_within_windows(&weekdays, &paris, ts("2026-01-10T09:00:00Z")));
        // The same instant is Monday 10:00 in Paris but Monday 04:00 in New York.
        let new_york = tz("America/New_York");
        assert!(!is_within_windows(&weekdays, &new_york, ts("2026-01-05T09:00:00Z")));
    }

    #[test]
    fn windows_near_midnight() {
        let paris = tz("Europe/Paris");
        // Friday night 22:00 to Saturday 02:00, as two windows.
        let overnight = [window(&["fri"], "22:00", "24:00"), window(&["sat"], "00:00", "02:00")];
        // 2026-01-09 is a Friday.
        assert!(!is_within_windows(&overnight, &paris, ts("2026-01-09T20:59:59+00:00")));
        assert!(is_within_windows(&overnight, &paris, ts("2026-01-09T23:59:59.999+01:00")));
        assert!(is_within_windows(&overnight, &paris, ts("2026-01-10T00:00:00+01:00")));
        assert!(is_within_windows(&overnight, &paris, ts("2026-01-10T01:59:59+01:00")));
        assert!(!is_within_windows(&overnight, &paris, ts("2026-01-10T02:00:00+01:00")));
        // Thursday 23:00 is not Friday.
        assert!(!is_within_windows(&overnight, &paris, ts("2026-01-08T23:00:00+01:00")));
        // Sunday 00:30 is not Saturday.
        assert!(!is_within_windows(&overnight, &paris, ts("2026-01-11T00:30:00+01:00")));

        // Last minute of the week, first minute of the week.
        let edges = [window(&["sun"], "23:59", "24:00"), window(&["mon"], "00:00", "00:01")];
        assert!(is_within_windows(&edges, &paris, ts("2026-01-11T23:59:30+01:00")));
        assert!(is_within_windows(&edges, &paris, ts("2026-01-12T00:00:30+01:00")));
        assert!(!is_within_windows(&edges, &paris, ts("2026-01-12T00:01:00+01:00")));
        assert_eq!(
            next_window_start(&edges, &paris, ts("2026-01-12T00:01:00+01:00")),
            Some(ts("2026-01-18T23:59:00+01:00"))
        );
        assert_eq!(
            next_window_start(&edges, &paris, ts("2026-01-11T12:00:00+01:00")),
            Some(ts("2026-01-11T23:59:00+01:00"))
        );
    }

    // --- daylight saving: Europe/Paris springs forward 2026-03-29 02:00 -> 03:00 and falls
    // back 2026-10-25 03:00 -> 02:00; America/New_York springs forward 2026-03-08 02:00 ->
    // 03:00 and falls back 2026-11-01 02:00 -> 01:00. ---

    #[test]
    fn paris_spring_forward_gap_is_never_inside() {
        let paris = tz("Europe/Paris");
        let in_gap = [window(&["sun"], "02:15", "02:45")];
        // The whole day goes by without entering the window ...
        for minutes in 0..24 * 60 {
            let at = ts("2026-03-28T23:00:00Z") + SignedDuration::from_mins(minutes);
            assert!(!is_within_windows(&in_gap, &paris, at), "{at}");
        }
        // ... so the next start is the following Sunday.
        assert_eq!(
            next_window_start(&in_gap, &paris, ts("2026-03-29T00:00:00+01:00")),
            Some(ts("2026-04-05T02:15:00+02:00"))
        );
    }

    #[test]
    fn paris_spring_forward_window_spanning_the_gap() {
        let paris = tz("Europe/Paris");
        let early = [window(&["sun"], "01:30", "03:30")];
        // 01:30 CET until 03:30 CEST: one hour of real time, not two.
        assert!(!is_within_windows(&early, &paris, ts("2026-03-29T01:29:59+01:00")));
        assert!(is_within_windows(&early, &paris, ts("2026-03-29T01:30:00+01:00")));
        assert!(is_within_windows(&early, &paris, ts("2026-03-29T01:59:59+01:00")));
        assert!(is_within_windows(&early, &paris, ts("2026-03-29T03:00:00+02:00")));
        assert!(!is_within_windows(&early, &paris, ts("2026-03-29T03:30:00+02:00")));

        // A window that starts inside the gap begins when the clocks jump to 03:00.
        let starts_in_gap = [window(&["sun"], "02:30", "04:00")];
        assert_eq!(
            next_window_start(&starts_in_gap, &paris, ts("2026-03-29T00:00:00+01:00")),
            Some(ts("2026-03-29T03:00:00+02:00"))
        );
        assert!(is_within_windows(&starts_in_gap, &paris, ts("2026-03-29T01:00:00Z")));
        assert!(!is_within_windows(&starts_in_gap, &paris, ts("2026-03-29T00:59:59Z")));
    }

    #[test]
    fn paris_fall_back_overlap_counts_twice() {
        let paris = tz("Europe/Paris");
        let in_overlap = [window(&["sun"], "02:00", "02:30")];
        // 02:10 happens at 00:10Z (CEST) and again at 01:10Z (CET): both are inside.
        assert!(is_within_windows(&in_overlap, &paris, ts("2026-10-25T02:10:00+02:00")));
        assert!(is_within_windows(&in_overlap, &paris, ts("2026-10-25T02:10:00+01:00")));
        assert!(!is_within_windows(&in_overlap, &paris, ts("2026-10-25T02:45:00+02:00")));
        // First occurrence ...
        assert_eq!(
            next_window_start(&in_overlap, &paris, ts("2026-10-25T01:00:00+02:00")),
            Some(ts("2026-10-25T02:00:00+02:00"))
        );
        // ... and after it ended, the second occurrence the same night.
        assert_eq!(
            next_window_start(&in_overlap, &paris, ts("2026-10-25T02:45:00+02:00")),
            Some(ts("2026-10-25T02:00:00+01:00"))
        );
        // After the second, next Sunday.
        assert_eq!(
            next_window_start(&in_overlap, &paris, ts("2026-10-25T02:30:00+01:00")),
            Some(ts("2026-11-01T02:00:00+01:00"))
        );
    }

    #[test]
    fn paris_fall_back_re_entering_a_window_at_the_transition() {
        let paris = tz("Europe/Paris");
        let spanning = [window(&["sun"], "01:30", "02:30")];
        // Inside from 01:30 CEST to 02:30 CEST, outside until the clocks go back from 03:00
        // CEST to 02:00 CET, which is inside again until 02:30 CET.
        assert!(!is_within_windows(&spanning, &paris, ts("2026-10-25T02:45:00+02:00")));
        assert_eq!(
            next_window_start(&spanning, &paris, ts("2026-10-25T02:45:00+02:00")),
            Some(ts("2026-10-25T02:00:00+01:00"))
        );
        assert!(!is_within_windows(&spanning, &paris, ts("2026-10-25T02:30:00+01:00")));
    }

    #[test]
    fn new_york_spring_forward() {
        let new_york = tz("America/New_York");
        let spanning = [window(&["sun"], "01:00", "04:00")];
        assert!(is_within_windows(&spanning, &new_york, ts("2026-03-08T01:59:59-05:00")));
        assert!(is_within_windows(&spanning, &new_york, ts("2026-03-08T03:00:00-04:00")));
        assert!(!is_within_windows(&spanning, &new_york, ts("2026-03-08T04:00:00-04:00")));
        let in_gap = [window(&["sun"], "02:00", "03:00")];
        assert!(!is_within_windows(&in_gap, &new_york, ts("2026-03-08T07:00:00Z")));
        assert_eq!(
            next_window_start(&in_gap, &new_york, ts("2026-03-08T00:00:00-05:00")),
            Some(ts("2026-03-15T02:00:00-04:00"))
        );
        let starts_in_gap = [window(&["sun"], "02:30", "03:30")];
        assert_eq!(
            next_window_start(&starts_in_gap, &new_york, ts("2026-03-08T00:00:00-05:00")),
            Some(ts("2026-03-08T03:00:00-04:00"))
        );
    }

    #[test]
    fn new_york_fall_back() {
        let new_york = tz("America/New_York");
        let in_overlap = [window(&["sun"], "01:00", "01:30")];
        assert!(is_within_windows(&in_overlap, &new_york, ts("2026-11-01T01:15:00-04:00")));
        assert!(is_within_windows(&in_overlap, &new_york, ts("2026-11-01T01:15:00-05:00")));
        assert_eq!(
            next_window_start(&in_overlap, &new_york, ts("2026-11-01T01:45:00-04:00")),
            Some(ts("2026-11-01T01:00:00-05:00"))
        );
        // A window spanning the overlap lasts an hour longer in real time that night.
        let spanning = [window(&["sun"], "00:30", "02:30")];
        let start = ts("2026-11-01T00:30:00-04:00");
        let mut inside_minutes = 0;
        for minutes in 0..6 * 60 {
            if is_within_windows(&spanning, &new_york, start + SignedDuration::from_mins(minutes)) {
                inside_minutes += 1;
            }
        }
        assert_eq!(inside_minutes, 3 * 60);
    }

    #[test]
    fn next_window_start_basics() {
        let paris = tz("Europe/Paris");
        let weekdays = [window(&["mon", "tue", "wed", "thu", "fri"], "09:00", "17:30")];
        let inside = ts("2026-01-05T10:00:00+01:00");
        assert_eq!(next_window_start(&weekdays, &paris, inside), Some(inside));
        // Friday evening -> Monday morning.
        assert_eq!(
            next_window_start(&weekdays, &paris, ts("2026-01-09T17:30:00+01:00")),
            Some(ts("2026-01-12T09:00:00+01:00"))
        );
        // Monday early morning -> the same morning.
        assert_eq!(
            next_window_start(&weekdays, &paris, ts("2026-01-12T06:00:00+01:00")),
            Some(ts("2026-01-12T09:00:00+01:00"))
        );
        // The earliest of several windows wins.
        let several = [window(&["wed"], "12:00", "13:00"), window(&["tue"], "18:00", "19:00")];
        assert_eq!(
            next_window_start(&several, &paris, ts("2026-01-05T10:00:00+01:00")),
            Some(ts("2026-01-06T18:00:00+01:00"))
        );
        // Across the spring-forward change, the local time is kept: 09:00 CEST on Monday.
        assert_eq!(
            next_window_start(&weekdays, &paris, ts("2026-03-27T18:00:00+01:00")),
            Some(ts("2026-03-30T09:00:00+02:00"))
        );
    }

    #[test]
    fn next_window_start_is_inside_and_nothing_earlier_is() {
        // Brute force over a fall-back week, minute by minute, in both zones.
        for (name, from) in [
            ("Europe/Paris", "2026-10-24T00:00:00Z"),
            ("America/New_York", "2026-10-31T00:00:00Z"),
            ("Europe/Paris", "2026-03-28T00:00:00Z"),
            ("America/New_York", "2026-03-07T00:00:00Z"),
        ] {
            let zone = tz(name);
            let windows = [
                window(&["sun"], "01:30", "02:30"),
                window(&["sun"], "02:15", "02:45"),
                window(&["sat"], "23:00", "24:00"),
                window(&["mon"], "00:00", "00:15"),
            ];
            let from = ts(from);
            for step in (0..3 * 24 * 60).step_by(31) {
                let at = from + SignedDuration::from_mins(step);
                let next = next_window_start(&windows, &zone, at).expect("some window");
                assert!(next >= at);
                assert!(is_within_windows(&windows, &zone, next), "{name} {at} -> {next}");
                let mut probe = at;
                while probe < next {
                    assert!(!is_within_windows(&windows, &zone, probe), "{name} {at}: {probe}");
                    probe += SignedDuration::from_mins(1);
                }
            }
        }
    }

    // --- day bounds ---

    #[test]
    fn local_day_bounds_on_ordinary_days() {
        let paris = tz("Europe/Paris");
        assert_eq!(
            local_day_bounds(&paris, ts("2026-01-05T12:00:00Z")),
            (ts("2026-01-05T00:00:00+01:00"), ts("2026-01-06T00:00:00+01:00"))
        );
        // 23:30Z on the 5th is already the 6th in Paris.
        assert_eq!(
            local_day_bounds(&paris, ts("2026-01-05T23:30:00Z")),
            (ts("2026-01-06T00:00:00+01:00"), ts("2026-01-07T00:00:00+01:00"))
        );
        // The start is inside the day, the end is not.
        let (start, end) = local_day_bounds(&paris, ts("2026-01-05T00:00:00+01:00"));
        assert_eq!(start, ts("2026-01-05T00:00:00+01:00"));
        assert_eq!(local_day_bounds(&paris, end).0, end);
    }

    #[test]
    fn local_day_bounds_on_daylight_saving_days() {
        for (name, at, hours) in [
            ("Europe/Paris", "2026-03-29T12:00:00Z", 23),
            ("Europe/Paris", "2026-10-25T12:00:00Z", 25),
            ("America/New_York", "2026-03-08T12:00:00Z", 23),
            ("America/New_York", "2026-11-01T12:00:00Z", 25),
            ("UTC", "2026-11-01T12:00:00Z", 24),
        ] {
            let zone = tz(name);
            let (start, end) = local_day_bounds(&zone, ts(at));
            assert_eq!(end.duration_since(start), SignedDuration::from_hours(hours), "{name} {at}");
            assert_eq!(zone.to_datetime(start).time(), civil::Time::midnight());
            assert_eq!(zone.to_datetime(end).time(), civil::Time::midnight());
        }
    }

    #[test]
    fn local_day_bounds_when_midnight_is_skipped() {
        // America/Havana springs forward at midnight: 2026-03-08 00:00 -> 01:00.
        let havana = tz("America/Havana");
        let (start, end) = local_day_bounds(&havana, ts("2026-03-08T12:00:00-04:00"));
        assert_eq!(start, ts("2026-03-08T01:00:00-04:00"));
        assert_eq!(end, ts("2026-03-09T00:00:00-04:00"));
        let (_, end_before) = local_day_bounds(&havana, ts("2026-03-07T12:00:00-05:00"));
        assert_eq!(end_before, start);
    }
}
