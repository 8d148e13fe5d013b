//! LinkedIn: 3-legged OAuth 2.0 and the member's identity.
//!
//! Protocol (learn.microsoft.com/en-us/linkedin/): `shared/authentication/authorization-code-flow`
//! (authorize, `POST /oauth/v2/accessToken`, errors `{"error","error_description"}`),
//! `shared/authentication/programmatic-refresh-tokens` (refresh: the refresh token's lifetime
//! counts down from the first grant), `consumer/integrations/self-serve/sign-in-with-linkedin-v2`
//! (`GET /v2/userinfo`), `shared/api-guide/concepts/error-handling` (REST errors
//! `{"status","serviceErrorCode","code","message"}`), `shared/api-guide/concepts/rate-limits`
//! (429 without headers). `/oauth/v2/*` goes to the auth origin, `/v2/*` and `/rest/*` to the
//! API origin.
use serde::Deserialize;

use crate::http::{retry_after, transport_error, url};
use crate::{ConnectorError, Identity, OauthApp, TokenSet};

pub const DEFAULT_AUTH_BASE: &str = "https://www.linkedin.com";
pub const DEFAULT_API_BASE: &str = "https://api.linkedin.com";
/// Member profiles: sign-in identity and posting as the member.
pub const MEMBER_SCOPES: &str = "openid profile w_member_social";
/// Company Pages: identity, posting, comments and statistics as the organization.
pub const ORGANIZATION_SCOPES: &str =
    "openid profile w_organization_social r_organization_social rw_organization_admin";

#[must_use]
pub fn scopes_for(account_kind: &str) -> &'static str {
    if account_kind == "organization" { ORGANIZATION_SCOPES } else { MEMBER_SCOPES }
}

/// The page the owner is sent to, to let Steward act for them.
pub fn authorize_url(
    app: &OauthApp,
    redirect_uri: &str,
    state: &str,
    code_challenge: &str,
    scopes: &str,
) -> Result<String, ConnectorError> {
    let params = [
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", redirect_uri),
        ("state", state),
        // Space-delimited; the URL encoder turns spaces into `%20`-equivalent `+`.
        ("scope", scopes),
        ("code_challenge", code_challenge),
        ("code_challenge_method", "S256"),
    ];
    reqwest::Url::parse_with_params(&url(&app.auth_base, "/oauth/v2/authorization"), params)
        .map(|u| u.to_string())
        .map_err(|e| ConnectorError::Misconfigured(format!("STEWARD_LINKEDIN_AUTH_BASE is not a URL origin: {e}")))
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: i64,
    scope: Option<String>,
    refresh_token: Option<String>,
    refresh_token_expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct OauthError {
    error: String,
    error_description: Option<String>,
}

async fn token_call(
    client: &reqwest::Client,
    app: &OauthApp,
    form: &[(&str, &str)],
    now_secs: i64,
) -> Result<TokenSet, ConnectorError> {
    let resp = client
        .post(url(&app.auth_base, "/oauth/v2/accessToken"))
        .form(form)
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    let status = resp.status();
    if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(ConnectorError::RateLimited { retry_after: retry_after(resp.headers()) });
    }
    if status.is_server_error() {
        return Err(ConnectorError::Transient(format!("LinkedIn answered {status}")));
    }
    let body = resp.text().await.map_err(|e| transport_error(&e))?;
    if !status.is_success() {
        let err: Option<OauthError> = serde_json::from_str(&body).ok();
        let message = err
            .map(|e| format!("{}: {}", e.error, e.error_description.unwrap_or_default()))
            .unwrap_or_else(|| format!("LinkedIn answered {status}"));
        return Err(if status == reqwest::StatusCode::UNAUTHORIZED && message.starts_with("invalid_client") {
            ConnectorError::Misconfigured(format!("LinkedIn refused the app's client id or secret ({message})"))
        } else {
            ConnectorError::Rejected(message)
        });
    }
    let t: TokenResponse = serde_json::from_str(&body)
        .map_err(|_| ConnectorError::Protocol("LinkedIn's token answer is not the documented JSON".into()))?;
    Ok(TokenSet {
        expires_at: Some(now_secs + t.expires_in),
        refresh_expires_at: t.refresh_token_expires_in.map(|s| now_secs + s),
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        scope: t.scope,
    })
}

/// Exchanges the authorization code from the callback for tokens.
pub async fn exchange_code(
    client: &reqwest::Client,
    app: &OauthApp,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
    now_secs: i64,
) -> Result<TokenSet, ConnectorError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", code_verifier),
    ];
    token_call(client, app, &form, now_secs).await
}

/// Uses the refresh token (only apps approved for programmatic refresh get one). The new
/// refresh token's lifetime keeps counting down from the first grant, as LinkedIn returns it.
pub async fn refresh(
    client: &reqwest::Client,
    app: &OauthApp,
    tokens: &TokenSet,
    now_secs: i64,
) -> Result<TokenSet, ConnectorError> {
    let Some(refresh_token) = tokens.refresh_token.as_deref() else {
        return Err(ConnectorError::Rejected("LinkedIn gave no refresh token; the owner must reconnect".into()));
    };
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.as_str()),
    ];
    token_call(client, app, &form, now_secs).await
}

#[derive(Deserialize)]
struct UserInfo {
    sub: String,
    name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct RestError {
    #[serde(rename = "serviceErrorCode")]
    service_error_code: Option<i64>,
    code: Option<String>,
    message: Option<String>,
}

/// Maps a non-success LinkedIn REST answer to a connector error.
pub(crate) async fn rest_error(resp: reqwest::Response) -> ConnectorError {
    let status = resp.status();
    let retry = retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    let parsed: Option<RestError> = serde_json::from_str(&body).ok();
    let message = parsed
        .as_ref()
        .map(|e| {
            let code = e.code.clone().or_else(|| e.service_error_code.map(|c| c.to_string())).unwrap_or_default();
            format!("{code} {}", e.message.clone().unwrap_or_default()).trim().to_string()
        })
        .unwrap_or_else(|| format!("LinkedIn answered {status}"));
    match status.as_u16() {
        401 => ConnectorError::Unauthorized(message),
        // LinkedIn retires each API version after about a year: the operator must move on.
        426 => ConnectorError::Misconfigured(format!(
            "LinkedIn no longer serves the configured API version (STEWARD_LINKEDIN_VERSION): {message}"
        )),
        429 => ConnectorError::RateLimited { retry_after: retry },
        500..=599 => ConnectorError::Transient(message),
        _ => ConnectorError::Rejected(message),
    }
}

/// The connected member, from OpenID Connect's userinfo endpoint.
pub async fn userinfo(
    client: &reqwest::Client,
    app: &OauthApp,
    access_token: &str,
) -> Result<Identity, ConnectorError> {
    let resp = client
        .get(url(&app.api_base, "/v2/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    if !resp.status().is_success() {
        return Err(rest_error(resp).await);
    }
    let info: UserInfo = resp
        .json()
        .await
        .map_err(|_| ConnectorError::Protocol("LinkedIn's userinfo answer is not the documented JSON".into()))?;
    let name = info
        .name
        .or_else(|| match (info.given_name, info.family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (g, f) => g.or(f),
        })
        .unwrap_or_else(|| "LinkedIn member".into());
    Ok(Identity { handle: info.email.unwrap_or_else(|| name.clone()), display_name: name, id: info.sub })
}
