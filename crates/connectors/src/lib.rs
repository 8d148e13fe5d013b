//! Platform connectors. Each module speaks one platform's documented HTTP API, with base URLs
//! from configuration so that tests and the demo can point them at local doubles
//! (`steward-doubles`). Tokens pass through here only at the moment of a platform call; nothing
//! in this crate logs or formats a token.
pub mod bluesky;
pub mod http;
pub mod linkedin;
pub mod mastodon;
pub mod net;
mod oauth;
pub mod pkce;
pub mod tiktok;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// What a platform call can fail with, classified for what the caller should do next.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The access token was refused (expired or revoked): refresh once, then reconnect.
    #[error("the platform refused the access token ({0})")]
    Unauthorized(String),
    /// The platform said to slow down; `retry_after` is its hint when it gave one.
    #[error("the platform's rate limit was reached")]
    RateLimited { retry_after: Option<std::time::Duration> },
    /// A server error, timeout or connection failure: retry with backoff.
    #[error("the platform is unavailable ({0})")]
    Transient(String),
    /// The platform refused the request for good (validation, permissions).
    #[error("the platform refused the request: {0}")]
    Rejected(String),
    /// What the request names (a comment, a post) does not exist there, or no longer does.
    #[error("the platform has no such thing: {0}")]
    NotFound(String),
    /// The operator's configuration is wrong (unknown app, retired API version, bad base URL).
    #[error("configuration problem: {0}")]
    Misconfigured(String),
    /// The platform answered something this connector does not understand.
    #[error("unexpected answer from the platform: {0}")]
    Protocol(String),
    /// The platform refused the write because the same content is already live (LinkedIn's
    /// duplicate-422 after an attempt whose answer was lost): a success, with the live post's id.
    #[error("already published as {external_id}")]
    AlreadyPublished { external_id: String },
}

impl ConnectorError {
    /// Whether trying again later may succeed. `AlreadyPublished` is not retryable: the post is
    /// live, and the caller records its id.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, ConnectorError::RateLimited { .. } | ConnectorError::Transient(_))
    }
}

/// An OAuth application registered with a platform by the operator.
#[derive(Clone)]
pub struct OauthApp {
    pub client_id: String,
    pub client_secret: zeroize::Zeroizing<String>,
    /// Origin for the authorization endpoints (`STEWARD_<PLATFORM>_AUTH_BASE`).
    pub auth_base: String,
    /// Origin for the API (`STEWARD_<PLATFORM>_API_BASE`).
    pub api_base: String,
}

impl std::fmt::Debug for OauthApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OauthApp")
            .field("client_id", &self.client_id)
            .field("auth_base", &self.auth_base)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

/// The credential Steward keeps (sealed) for an OAuth account. Lifetimes come from the
/// platform's answers, never from constants.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    /// Unix seconds.
    pub refresh_expires_at: Option<i64>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_at", &self.expires_at)
            .field("refresh_expires_at", &self.refresh_expires_at)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Who the connected account is on the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The platform's stable id (LinkedIn `sub`, TikTok `open_id`, a DID, …).
    pub id: String,
    pub handle: String,
    pub display_name: String,
}
