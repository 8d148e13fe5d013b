//! Reading activity: an account's log (for members with `audit.view`) and a person's own,
//! with the API's filters and keyset cursor, as a page or as a whole export; and the scan of
//! one scope's events that the web app's chart counts.
use serde::Deserialize;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_domain::ids::AccountId;
use steward_store::{ActivityFilter, AuditEventRow};
use utoipa::IntoParams;

use crate::activity::export::{Export, ExportFormat, export};
use crate::activity::wording::ActivityEvent;
use crate::actor::{Ctx, Principal};
use crate::authz::{Need, authorize};
use crate::error::{AppError, AppResult, FieldError};
use crate::paging::{Page, page_limit};
use crate::services::Services;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
pub struct ActivityQuery {
    /// 1 to 500; default 50.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    #[param(pattern = r"^-?[0-9]{1,18}\.-?[0-9]{1,18}$")]
    pub cursor: Option<String>,
    /// A user id.
    pub actor: Option<String>,
    /// An exact action, or a prefix ending in `.` such as `members.` (1 to 200 characters).
    #[param(min_length = 1, max_length = 200)]
    pub action: Option<String>,
    /// `allowed` or `denied`.
    #[param(pattern = "^(allowed|denied)$")]
    pub outcome: Option<String>,
    /// RFC 3339, inclusive.
    #[param(format = DateTime)]
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    #[param(format = DateTime)]
    pub until: Option<String>,
    /// `json` (default), `csv` or `jsonl`: csv and jsonl stream the whole filtered set.
    #[param(pattern = "^(json|csv|jsonl)$")]
    pub format: Option<String>,
}

/// The events a request may read: the filter as the use case that authorized it fixed it
/// (the account, or the person as actor). Only this module makes one.
#[derive(Debug, Clone)]
pub struct Scope(ActivityFilter);

impl Scope {
    #[must_use]
    pub fn filter(&self) -> &ActivityFilter {
        &self.0
    }
}

/// One page of activity, and the scope it was read from (the web app's chart reads the same).
pub struct EventPage {
    pub page: Page<ActivityEvent>,
    pub scope: Scope,
}

/// What an activity request answers: a page, or the whole filtered set as an export.
pub enum Answer {
    Page(Page<ActivityEvent>),
    Export(Export),
}

/// A page (`None`) or an export.
type Format = Option<ExportFormat>;

fn instant(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<i64> {
    let raw = raw?;
    match raw.parse::<jiff::Timestamp>() {
        Ok(t) => Some(t.as_microsecond()),
        Err(_) => {
            errors.push(FieldError::new(field, "must be an RFC 3339 time such as 2027-01-31T17:00:00Z"));
            None
        }
    }
}

/// A parsed activity request: the filter, the answer's format, and the page cursor `(at, seq)`.
type Parsed = (ActivityFilter, Format, Option<(i64, i64)>);

impl ActivityQuery {
    /// Reads the query; `accept` (the request's `Accept`) picks the format when `format` does not.
    fn parse(&self, accept: &str) -> AppResult<Parsed> {
        let mut errors = Vec::new();
        let since = instant("since", self.since.as_deref(), &mut errors);
        let until = instant("until", self.until.as_deref(), &mut errors);
        if let Some(o) = &self.outcome
            && o != "allowed"
            && o != "denied"
        {
            errors.push(FieldError::new("outcome", "must be `allowed` or `denied`"));
        }
        if self.action.as_deref().is_some_and(|a| a.is_empty() || a.chars().count() > 200) {
            errors.push(FieldError::new("action", "must be an action name or a prefix ending in `.`"));
        }
        let format = match self.format.as_deref() {
            Some("csv") => Some(ExportFormat::Csv),
            Some("jsonl") => Some(ExportFormat::JsonLines),
            Some("json") => None,
            Some(_) => {
                errors.push(FieldError::new("format", "must be `json`, `csv` or `jsonl`"));
                None
            }
            None if accept.contains("text/csv") => Some(ExportFormat::Csv),
            None if accept.contains("application/x-ndjson") => Some(ExportFormat::JsonLines),
            None => None,
        };
        let cursor = match self.cursor.as_deref() {
            None => None,
            Some(c) => match c.split_once('.').and_then(|(a, s)| Some((a.parse().ok()?, s.parse().ok()?))) {
                Some(pair) => Some(pair),
                None => {
                    errors.push(FieldError::new("cursor", "is not a cursor this server issued"));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let filter = ActivityFilter {
            account_id: None,
            actor_id: self.actor.clone(),
            action: self.action.clone(),
            outcome: self.outcome.clone(),
            since,
            until,
        };
        Ok((filter, format, cursor))
    }
}

async fn page(
    s: &Services,
    filter: &ActivityFilter,
    cursor: Option<(i64, i64)>,
    limit: Option<i64>,
) -> AppResult<Page<ActivityEvent>> {
    let limit = page_limit(limit)?;
    let mut rows = s.store.activity(filter, cursor, limit + 1).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        rows.last().map(|r| format!("{}.{}", r.at, r.seq))
    } else {
        None
    };
    Ok(Page { items: rows.into_iter().map(ActivityEvent::from).collect(), next_cursor })
}

async fn answer(
    s: &Services,
    scope: Scope,
    format: Format,
    cursor: Option<(i64, i64)>,
    limit: Option<i64>,
) -> AppResult<Answer> {
    match format {
        None => Ok(Answer::Page(page(s, &scope.0, cursor, limit).await?)),
        Some(format) => Ok(Answer::Export(export(s.store.clone(), scope.0, format))),
    }
}

/// A request in its scope: what it may read, the answer's format, and the page cursor.
type Scoped = (Scope, Format, Option<(i64, i64)>);

/// An account's events, for a member who may view its audit log.
async fn account_scope(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    q: &ActivityQuery,
    accept: &str,
) -> AppResult<Scoped> {
    ctx.slot.set_action(Action::ActivityRead, Some(format!("account:{account_id}")));
    authorize(s, ctx, who, account_id, Need::Capability(Capability::AuditView)).await?;
    let (mut filter, format, cursor) = q.parse(accept)?;
    filter.account_id = Some(account_id.to_string());
    Ok((Scope(filter), format, cursor))
}

/// The person's own events, whatever `actor` says.
fn my_scope(who: &Principal, q: &ActivityQuery, accept: &str) -> AppResult<Scoped> {
    let (mut filter, format, cursor) = q.parse(accept)?;
    filter.actor_id = Some(who.user_id.to_string());
    Ok((Scope(filter), format, cursor))
}

/// An account's activity: a page, or the whole filtered set when `format` (or, failing it,
/// `accept`) asks for CSV or JSON Lines.
pub async fn account_activity(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    q: &ActivityQuery,
    accept: &str,
) -> AppResult<Answer> {
    let (scope, format, cursor) = account_scope(s, ctx, who, account_id, q, accept).await?;
    answer(s, scope, format, cursor, q.limit).await
}

/// The person's own activity, as [`account_activity`] answers.
pub async fn my_activity(s: &Services, who: &Principal, q: &ActivityQuery, accept: &str) -> AppResult<Answer> {
    who.require_whole_person()?;
    let (scope, format, cursor) = my_scope(who, q, accept)?;
    answer(s, scope, format, cursor, q.limit).await
}

/// One page of an account's activity (whatever `format` asks), with its scope.
pub async fn account_activity_page(
    s: &Services,
    ctx: &Ctx,
    who: &Principal,
    account_id: &AccountId,
    q: &ActivityQuery,
) -> AppResult<EventPage> {
    let (scope, _, cursor) = account_scope(s, ctx, who, account_id, q, "").await?;
    Ok(EventPage { page: page(s, &scope.0, cursor, q.limit).await?, scope })
}

/// One page of the person's own activity, with its scope.
pub async fn my_activity_page(s: &Services, who: &Principal, q: &ActivityQuery) -> AppResult<EventPage> {
    who.require_whole_person()?;
    let (scope, _, cursor) = my_scope(who, q, "")?;
    Ok(EventPage { page: page(s, &scope.0, cursor, q.limit).await?, scope })
}

/// Events read per round trip by [`scan`].
const SCAN_PAGE: i64 = 1000;

/// Hands each event of `scope` between `since` (inclusive) and `until` (exclusive) to `each`,
/// newest first, a page at a time, and stops once `cap` were read: answers how many were.
pub async fn scan(
    s: &Services,
    scope: &Scope,
    since: i64,
    until: i64,
    cap: usize,
    mut each: impl FnMut(&AuditEventRow),
) -> AppResult<usize> {
    let mut ranged = scope.0.clone();
    ranged.since = Some(since);
    ranged.until = Some(until);
    let mut seen = 0usize;
    let mut before = None;
    loop {
        let rows = s.store.activity(&ranged, before, SCAN_PAGE).await?;
        let full = rows.len() as i64 == SCAN_PAGE;
        before = rows.last().map(|r| (r.at, r.seq));
        for r in &rows {
            seen += 1;
            each(r);
        }
        if !full || seen >= cap {
            break;
        }
    }
    Ok(seen)
}
