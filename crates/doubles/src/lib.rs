//! Local doubles of the platforms Steward talks to. Each serves, on 127.0.0.1 and an
//! ephemeral port, the HTTP protocol its platform documents (the pages are cited in each
//! module), records every request so tests can check exact headers and that no token leaks,
//! and can be told to fail the way the real platform fails.
pub mod bluesky;
pub mod linkedin;
pub mod mastodon;
pub mod smtp;
pub mod tiktok;

use std::net::SocketAddr;

use serde_json::Value;

/// One request as the double received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RecordedRequest {
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A failure to serve instead of the next matching answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 500 with an HTML body, as a proxy in front of the platform would answer.
    ServerError,
    /// The platform's rate-limit answer (with exactly its headers, or none).
    RateLimited,
    /// Waits this long before answering normally (longer than a client's timeout = timeout).
    Delay(std::time::Duration),
}

/// Binds 127.0.0.1:0 and serves `router` in the background; returns the origin.
pub async fn serve(router: axum::Router) -> std::io::Result<(String, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((format!("http://{addr}"), addr))
}

pub(crate) fn random_token(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("{prefix}{t}{n}{}", std::process::id()).as_bytes());
    use base64::Engine;
    format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..24]))
}

pub(crate) fn json_error(status: u16, body: Value) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(body)).into_response()
}

/// Decodes a query-string value (`%XX` escapes, `+` as space).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
