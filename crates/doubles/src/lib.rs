//! Local doubles of the platforms Steward talks to. Each serves, on 127.0.0.1 and an
//! ephemeral port, the HTTP protocol its platform documents (the pages are cited in each
//! module), records every request so tests can check exact headers and that no token leaks,
//! and can be told to fail the way the real platform fails.
pub mod bluesky;
mod core;
pub mod linkedin;
pub mod mastodon;
pub mod smtp;
pub mod tiktok;

use std::net::SocketAddr;

pub use crate::core::DoubleCore;

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
    let (listener, origin) = bind().await?;
    let addr = listener.local_addr()?;
    spawn(listener, router);
    Ok((origin, addr))
}

/// Binds 127.0.0.1:0; returns the listener and its origin.
pub(crate) async fn bind() -> std::io::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    Ok((listener, origin))
}

/// Serves `router` on `listener` in the background.
pub(crate) fn spawn(listener: tokio::net::TcpListener, router: axum::Router) {
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
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

/// `s` with everything but RFC 3986's unreserved characters percent-encoded.
pub(crate) fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether a PKCE `code_verifier` proves the S256 `code_challenge` given at authorization
/// (RFC 7636 §4.6); with no challenge there is nothing to prove.
pub(crate) fn verifier_matches(challenge: Option<&str>, verifier: Option<&str>) -> bool {
    use base64::Engine;
    use sha2::Digest;
    match (challenge, verifier) {
        (None, _) => true,
        (Some(ch), Some(v)) => {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(v.as_bytes())) == ch
        }
        (Some(_), None) => false,
    }
}

/// The bearer token of a request's `Authorization` header.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
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
