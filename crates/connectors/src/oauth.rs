//! The OAuth 2.0 pieces the platforms share: the consent URL, the token endpoint call, the error body.
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::http::{transport_error, url};
use crate::{ConnectorError, TokenSet};

/// The consent page: `endpoint` with the platform's documented query. `problem` says what is
/// misconfigured when `endpoint` is not a URL.
pub(crate) fn authorize_url(endpoint: &str, query: &[(&str, &str)], problem: &str) -> Result<String, ConnectorError> {
    reqwest::Url::parse_with_params(endpoint, query)
        .map(|u| u.to_string())
        .map_err(|e| ConnectorError::Misconfigured(format!("{problem}: {e}")))
}

/// The error body of RFC 6749 §5.2 (`{"error","error_description"}`).
#[derive(Deserialize)]
pub(crate) struct ErrorBody {
    pub error: String,
    pub error_description: Option<String>,
}

impl ErrorBody {
    pub(crate) fn parse(body: &str) -> Option<Self> {
        serde_json::from_str(body).ok()
    }
}

/// A token endpoint's answer, for the platform to classify.
pub(crate) struct Answer<'a> {
    pub status: StatusCode,
    pub headers: &'a HeaderMap,
    /// `None` when the body could not be read. A platform that needs it to decide leaves the
    /// answer unclassified, and the call fails as a transport failure.
    pub body: Option<&'a str>,
}

/// What differs between the platforms' token endpoints.
pub(crate) struct TokenEndpoint {
    /// The endpoint's path on the origin that serves it.
    pub path: &'static str,
    /// Who answers, as error messages name it ("LinkedIn", "the instance").
    pub who: &'static str,
    /// Whether the platform's access tokens expire, so that an answer without `expires_in` is
    /// not the documented one.
    pub expiring: bool,
    /// The platform's error for an answer, or `None` when the answer carries tokens. Some
    /// platforms answer errors with HTTP 200, so the status alone cannot decide.
    pub error: fn(&Answer<'_>) -> Option<ConnectorError>,
}

/// The token answer of RFC 6749 §5.1, with the refresh token's lifetime some platforms add.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<i64>,
    scope: Option<String>,
    refresh_token: Option<String>,
    /// LinkedIn's name; TikTok's is `refresh_expires_in`.
    #[serde(alias = "refresh_expires_in")]
    refresh_token_expires_in: Option<i64>,
}

/// The refresh token to present, or the refusal when the platform gave none: the owner must
/// connect again.
pub(crate) fn refresh_token<'a>(tokens: &'a TokenSet, endpoint: &TokenEndpoint) -> Result<&'a str, ConnectorError> {
    tokens.refresh_token.as_deref().ok_or_else(|| {
        ConnectorError::Rejected(format!("{} gave no refresh token; the owner must reconnect", endpoint.who))
    })
}

/// Posts `form` to the token endpoint on `origin`: the platform's classified error, or the token
/// set, its lifetimes counted from `now_secs`.
pub(crate) async fn token_call(
    client: &reqwest::Client,
    origin: &str,
    endpoint: &TokenEndpoint,
    form: &[(&str, &str)],
    now_secs: i64,
) -> Result<TokenSet, ConnectorError> {
    let resp = client.post(url(origin, endpoint.path)).form(form).send().await.map_err(|e| transport_error(&e))?;
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.text().await;
    if let Some(err) = (endpoint.error)(&Answer { status, headers: &headers, body: body.as_deref().ok() }) {
        return Err(err);
    }
    let body = body.map_err(|e| transport_error(&e))?;
    let undocumented =
        || ConnectorError::Protocol(format!("{}'s token answer is not the documented JSON", endpoint.who));
    let t: TokenAnswer = serde_json::from_str(&body).map_err(|_| undocumented())?;
    if endpoint.expiring && t.expires_in.is_none() {
        return Err(undocumented());
    }
    Ok(TokenSet {
        expires_at: t.expires_in.map(|s| now_secs + s),
        refresh_expires_at: t.refresh_token_expires_in.map(|s| now_secs + s),
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        scope: t.scope,
    })
}
