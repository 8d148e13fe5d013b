//! Activity (`GET /accounts/{id}/activity`, `GET /me/activity`): the audit events a person may
//! read, filtered, paged, or exported whole as CSV or JSON Lines.
//!
//! An export streams: it reads the filtered set from the database one keyset page at a time
//! and writes each page into the response body before reading the next, so memory stays flat
//! whatever the size (BENCHMARKS.md measures a million events).
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_app::AppError;
use steward_domain::audit::Action;
use steward_domain::capability::Capability;
use steward_store::{ActivityFilter, AuditEventRow, Store};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult, FieldError, Json, Path, Problem, Query};
use crate::request::Ctx;
use crate::routes::{Page, page_limit};
use crate::state::AppState;
use steward_app::authz::{Need, authorize};
use steward_app::clock::rfc3339;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(account_activity)).routes(routes!(my_activity))
}

/// One entry of an activity log. `detail` says in words what happened; `data` holds the same
/// facts as recorded, for programs.
#[derive(Serialize, ToSchema)]
pub struct ActivityEvent {
    pub id: String,
    pub at: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub session_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target: Option<String>,
    /// `allowed` or `denied`.
    pub outcome: String,
    /// What happened, in words.
    pub detail: String,
    /// The recorded facts behind `detail`.
    #[schema(value_type = Object)]
    pub data: Value,
}

/// The CSV columns: API.md's event field names, in its order.
pub const CSV_COLUMNS: [&str; 11] =
    ["id", "at", "actor_id", "actor_email", "session_id", "ip", "user_agent", "action", "target", "outcome", "detail"];

impl From<AuditEventRow> for ActivityEvent {
    fn from(e: AuditEventRow) -> Self {
        let data: Value = serde_json::from_str(&e.detail).unwrap_or(Value::Null);
        Self {
            detail: describe(&e, &data),
            data,
            id: e.id,
            at: rfc3339(e.at),
            actor_id: e.actor_id,
            actor_email: e.actor_email,
            session_id: e.session_id,
            ip: e.ip,
            user_agent: e.user_agent,
            action: e.action,
            target: e.target,
            outcome: e.outcome,
        }
    }
}

pub use steward_domain::audit::words_for as action_words;

/// The event as a sentence a person can read: who did what to what, allowed or refused, and
/// why (for denials) or the main facts (for changes).
#[must_use]
pub fn describe(e: &AuditEventRow, data: &Value) -> String {
    let who = e.actor_email.as_deref().or(e.actor_id.as_deref()).unwrap_or("Steward");
    let what = action_words(&e.action);
    let target = e.target.as_deref().map(|t| format!(" ({t})")).unwrap_or_default();
    let mut s = if e.outcome == "denied" {
        let why = data["reason"].as_str().unwrap_or("not allowed");
        format!("{who} was refused: {what}{target} — {why}")
    } else {
        format!("{who} {what}{target}")
    };
    if e.outcome != "denied"
        && let Some(obj) = data.as_object()
    {
        let facts: Vec<String> = obj
            .iter()
            .filter(|(_, v)| !v.is_null() && *v != &Value::Bool(false))
            .map(|(k, v)| match v {
                Value::String(t) => format!("{}: {t}", k.replace('_', " ")),
                other => format!("{}: {other}", k.replace('_', " ")),
            })
            .collect();
        if !facts.is_empty() {
            s.push_str(" — ");
            s.push_str(&facts.join("; "));
        }
    }
    s
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
pub struct ActivityQuery {
    /// 1 to 500; default 50.
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// A user id.
    pub actor: Option<String>,
    /// An exact action, or a prefix ending in `.` such as `members.`.
    pub action: Option<String>,
    /// `allowed` or `denied`.
    pub outcome: Option<String>,
    /// RFC 3339, inclusive.
    pub since: Option<String>,
    /// RFC 3339, exclusive.
    pub until: Option<String>,
    /// `json` (default), `csv` or `jsonl`: csv and jsonl stream the whole filtered set.
    pub format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Page,
    Csv,
    JsonLines,
}

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
    fn parse(&self, headers: &HeaderMap) -> ApiResult<Parsed> {
        let mut errors = Vec::new();
        let since = instant("since", self.since.as_deref(), &mut errors);
        let until = instant("until", self.until.as_deref(), &mut errors);
        if let Some(o) = &self.outcome
            && o != "allowed"
            && o != "denied"
        {
            errors.push(FieldError::new("outcome", "must be `allowed` or `denied`"));
        }
        if self.action.as_deref().is_some_and(|a| a.is_empty() || a.len() > 200) {
            errors.push(FieldError::new("action", "must be an action name or a prefix ending in `.`"));
        }
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
        let format = match self.format.as_deref() {
            Some("csv") => Format::Csv,
            Some("jsonl") => Format::JsonLines,
            Some("json") => Format::Page,
            Some(_) => {
                errors.push(FieldError::new("format", "must be `json`, `csv` or `jsonl`"));
                Format::Page
            }
            None if accept.contains("text/csv") => Format::Csv,
            None if accept.contains("application/x-ndjson") => Format::JsonLines,
            None => Format::Page,
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
            return Err(ApiError(AppError::Validation(errors)));
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

async fn answer(
    state: &AppState,
    filter: ActivityFilter,
    format: Format,
    cursor: Option<(i64, i64)>,
    limit: Option<i64>,
) -> ApiResult<Response> {
    match format {
        Format::Page => Ok(Json(page(state, &filter, cursor, limit).await?).into_response()),
        Format::Csv | Format::JsonLines => Ok(export(state.store.clone(), filter, format)),
    }
}

async fn page(
    state: &AppState,
    filter: &ActivityFilter,
    cursor: Option<(i64, i64)>,
    limit: Option<i64>,
) -> ApiResult<Page<ActivityEvent>> {
    let limit = page_limit(limit)?;
    let mut rows = state.store.activity(filter, cursor, limit + 1).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        rows.last().map(|r| format!("{}.{}", r.at, r.seq))
    } else {
        None
    };
    Ok(Page { items: rows.into_iter().map(ActivityEvent::from).collect(), next_cursor })
}

/// One page of an account's activity, for the web app: the same authorization, filters and
/// cursor as `GET /accounts/{id}/activity`. Also returns the filter as parsed (the page's
/// chart reads the same set).
pub async fn account_activity_page(
    state: &AppState,
    ctx: &Ctx,
    principal: &Principal,
    id: &str,
    q: &ActivityQuery,
) -> ApiResult<(Page<ActivityEvent>, ActivityFilter)> {
    ctx.slot.set_action(Action::ActivityRead, Some(format!("account:{id}")));
    authorize(state, ctx, principal, id, Need::Capability(Capability::AuditView)).await?;
    let (mut filter, _, cursor) = q.parse(&HeaderMap::new())?;
    filter.account_id = Some(id.to_string());
    Ok((page(state, &filter, cursor, q.limit).await?, filter))
}

/// One page of the caller's own activity, for the web app (as `GET /me/activity`).
pub async fn my_activity_page(
    state: &AppState,
    principal: &Principal,
    q: &ActivityQuery,
) -> ApiResult<(Page<ActivityEvent>, ActivityFilter)> {
    let (mut filter, _, cursor) = q.parse(&HeaderMap::new())?;
    filter.actor_id = Some(principal.user_id.clone());
    Ok((page(state, &filter, cursor, q.limit).await?, filter))
}

/// Rows read per database round trip while exporting.
const EXPORT_PAGE: i64 = 1000;

/// The whole filtered set as a streamed body: one keyset page at a time.
fn export(store: Store, filter: ActivityFilter, format: Format) -> Response {
    struct Cursor {
        store: Store,
        filter: ActivityFilter,
        before: Option<(i64, i64)>,
        header_sent: bool,
        done: bool,
    }
    let start = Cursor { store, filter, before: None, header_sent: format != Format::Csv, done: false };
    let stream = futures_util::stream::unfold(start, move |mut cur| async move {
        if cur.done {
            return None;
        }
        let mut out = Vec::with_capacity(64 * 1024);
        if !cur.header_sent {
            out.extend_from_slice(CSV_COLUMNS.join(",").as_bytes());
            out.extend_from_slice(b"\r\n");
            cur.header_sent = true;
        }
        let rows = match cur.store.activity(&cur.filter, cur.before, EXPORT_PAGE).await {
            Ok(rows) => rows,
            Err(e) => {
                // The status line is gone; cutting the body short tells the client it is incomplete.
                tracing::error!(error = %e, "activity export failed mid-stream");
                return Some((Err(std::io::Error::other("export failed")), Cursor { done: true, ..cur }));
            }
        };
        if (rows.len() as i64) < EXPORT_PAGE {
            cur.done = true;
        }
        cur.before = rows.last().map(|r| (r.at, r.seq));
        for row in rows {
            let ev = ActivityEvent::from(row);
            match format {
                Format::Csv => write_csv_row(&mut out, &ev),
                _ => {
                    if serde_json::to_writer(&mut out, &ev).is_ok() {
                        out.push(b'\n');
                    }
                }
            }
        }
        if out.is_empty() && cur.done {
            return None;
        }
        Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(out)), cur))
    });
    let (content_type, file) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "activity.csv"),
        _ => ("application/x-ndjson", "activity.jsonl"),
    };
    let mut resp = Body::from_stream(stream).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// One CSV record (RFC 4180: quoted when needed, quotes doubled, CRLF). A cell a spreadsheet
/// would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) is prefixed with `'`: actor
/// emails and user agents come from outside, and an export is opened in spreadsheets.
fn write_csv_row(out: &mut Vec<u8>, ev: &ActivityEvent) {
    let cells: [&str; 11] = [
        &ev.id,
        &ev.at,
        ev.actor_id.as_deref().unwrap_or(""),
        ev.actor_email.as_deref().unwrap_or(""),
        ev.session_id.as_deref().unwrap_or(""),
        ev.ip.as_deref().unwrap_or(""),
        ev.user_agent.as_deref().unwrap_or(""),
        &ev.action,
        ev.target.as_deref().unwrap_or(""),
        &ev.outcome,
        &ev.detail,
    ];
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_csv_cell(out, cell);
    }
    out.extend_from_slice(b"\r\n");
}

fn write_csv_cell(out: &mut Vec<u8>, cell: &str) {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || cell.contains([',', '"', '\r', '\n']);
    if quote {
        out.push(b'"');
    }
    if formula {
        out.push(b'\'');
    }
    for b in cell.bytes() {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    if quote {
        out.push(b'"');
    }
}

#[utoipa::path(get, path = "/accounts/{id}/activity", tag = "accounts", params(("id" = String, Path), ActivityQuery),
    responses((status = 200, body = Page<ActivityEvent>, description = "a page; or the whole filtered set as text/csv or application/x-ndjson"),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn account_activity(
    State(state): State<AppState>,
    ctx: Ctx,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<ActivityQuery>,
) -> ApiResult<Response> {
    ctx.slot.set_action(Action::ActivityRead, Some(format!("account:{id}")));
    authorize(&state, &ctx, &principal, &id, Need::Capability(Capability::AuditView)).await?;
    let (mut filter, format, cursor) = q.parse(&headers)?;
    filter.account_id = Some(id);
    answer(&state, filter, format, cursor, q.limit).await
}

#[utoipa::path(get, path = "/me/activity", tag = "me", params(ActivityQuery),
    responses((status = 200, body = Page<ActivityEvent>), (status = 422, body = Problem)))]
async fn my_activity(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    Query(q): Query<ActivityQuery>,
) -> ApiResult<Response> {
    let (mut filter, format, cursor) = q.parse(&headers)?;
    // Only the caller's own events, whatever `actor` says.
    filter.actor_id = Some(principal.user_id.clone());
    answer(&state, filter, format, cursor, q.limit).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        let mut out = Vec::new();
        write_csv_cell(&mut out, "plain");
        out.push(b'|');
        write_csv_cell(&mut out, "a,\"b\"\nc");
        out.push(b'|');
        write_csv_cell(&mut out, "=HYPERLINK(\"x\")");
        assert_eq!(String::from_utf8(out).expect("utf-8"), "plain|\"a,\"\"b\"\"\nc\"|\"'=HYPERLINK(\"\"x\"\")\"");
    }
}
