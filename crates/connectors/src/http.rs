//! The HTTP client every connector uses: rustls with the ring provider (one crypto provider in
//! the whole build), timeouts on every call, no redirects followed (a platform API that
//! redirects is a misconfiguration, and following could leak the bearer token).
use std::time::Duration;

use crate::ConnectorError;

pub fn client() -> Result<reqwest::Client, ConnectorError> {
    client_with_timeout(Duration::from_secs(30))
}

/// The client for calls whose targets users may name: every host name is resolved by
/// [`crate::net::PublicOnlyResolver`], which refuses non-public addresses unless
/// `allow_private`, and the connection goes to the addresses it checked (no DNS rebinding).
pub fn client_for(allow_private: bool) -> Result<reqwest::Client, ConnectorError> {
    builder(Duration::from_secs(30))
        .dns_resolver(crate::net::PublicOnlyResolver::new(allow_private))
        .build()
        .map_err(|e| ConnectorError::Misconfigured(format!("cannot build the HTTP client: {e}")))
}

/// Makes ring the process's TLS crypto provider (the build has exactly one). Call before
/// building any reqwest client; calling again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The same client with another overall timeout per call.
pub fn client_with_timeout(timeout: Duration) -> Result<reqwest::Client, ConnectorError> {
    builder(timeout).build().map_err(|e| ConnectorError::Misconfigured(format!("cannot build the HTTP client: {e}")))
}

fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("steward/", env!("CARGO_PKG_VERSION")))
}

/// Classifies a transport failure (no answer from the platform).
pub fn transport_error(e: &reqwest::Error) -> ConnectorError {
    if e.is_timeout() {
        ConnectorError::Transient("the platform did not answer in time".into())
    } else if e.is_connect() {
        ConnectorError::Transient("could not connect to the platform".into())
    } else {
        // reqwest's message names the URL, never headers, so no token can leak through it.
        ConnectorError::Transient(format!("request failed: {e}"))
    }
}

/// The `Retry-After` hint in seconds, when present.
#[must_use]
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Joins an origin from configuration with a documented path.
#[must_use]
pub fn url(base: &str, path: &str) -> String {
    format!("{}{}", base.trim_end_matches('/'), path)
}
