//! Exporting activity whole, as CSV or JSON Lines. The export streams: it reads the filtered
//! set one keyset page at a time and hands each page on before reading the next, so memory
//! stays flat whatever the size (BENCHMARKS.md measures a million events).
use futures_util::stream::{BoxStream, StreamExt};
use steward_store::{ActivityFilter, Store};

use crate::activity::wording::ActivityEvent;

/// The CSV columns: API.md's event field names, in its order.
pub const CSV_COLUMNS: [&str; 11] =
    ["id", "at", "actor_id", "actor_email", "session_id", "ip", "user_agent", "action", "target", "outcome", "detail"];

/// Rows read per database round trip while exporting.
const EXPORT_PAGE: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    JsonLines,
}

impl ExportFormat {
    /// The media type of the export.
    #[must_use]
    pub fn media_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::JsonLines => "application/x-ndjson",
        }
    }

    /// The name the export is saved under.
    #[must_use]
    pub fn file_name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "activity.csv",
            ExportFormat::JsonLines => "activity.jsonl",
        }
    }
}

/// An export under way: its format, and its bytes as they are read. A read that fails midway
/// ends the stream with an error (the reader sees the export is incomplete).
pub struct Export {
    pub format: ExportFormat,
    pub body: BoxStream<'static, Result<Vec<u8>, std::io::Error>>,
}

/// The whole filtered set as a stream: one keyset page at a time.
pub(crate) fn export(store: Store, filter: ActivityFilter, format: ExportFormat) -> Export {
    struct Cursor {
        store: Store,
        filter: ActivityFilter,
        before: Option<(i64, i64)>,
        header_sent: bool,
        done: bool,
    }
    let start = Cursor { store, filter, before: None, header_sent: format != ExportFormat::Csv, done: false };
    let body = futures_util::stream::unfold(start, move |mut cur| async move {
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
                ExportFormat::Csv => write_csv_row(&mut out, &ev),
                ExportFormat::JsonLines => {
                    if serde_json::to_writer(&mut out, &ev).is_ok() {
                        out.push(b'\n');
                    }
                }
            }
        }
        if out.is_empty() && cur.done {
            return None;
        }
        Some((Ok(out), cur))
    });
    Export { format, body: body.boxed() }
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

pub(crate) fn write_csv_cell(out: &mut Vec<u8>, cell: &str) {
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
