use std::time::Duration;

use steward_connectors::{ConnectorError, OauthApp, TokenSet, http, linkedin, pkce};
use steward_doubles::Fault;
use steward_doubles::linkedin::{Config, LinkedInDouble, Member};

const REDIRECT: &str = "http://127.0.0.1:9/oauth/linkedin/callback";

fn app(d: &LinkedInDouble) -> OauthApp {
    OauthApp {
        client_id: d.config().client_id.clone(),
        client_secret: zeroize::Zeroizing::new(d.config().client_secret.clone()),
        auth_base: d.base.clone(),
        api_base: d.base.clone(),
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Follows the authorize URL the way a browser would, up to the redirect to Steward.
async fn consent(url: &str) -> reqwest::Url {
    http::install_crypto_provider();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = browser.get(url).send().await.unwrap();
    assert_eq!(r.status(), 303, "LinkedIn redirects back after consent");
    reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.to_string())
}

async fn connect(d: &LinkedInDouble) -> TokenSet {
    let verifier = pkce::new_verifier();
    let url = linkedin::authorize_url(
        &app(d),
        REDIRECT,
        "state-123",
        &pkce::challenge_s256(&verifier),
        linkedin::MEMBER_SCOPES,
    )
    .unwrap();
    let back = consent(&url).await;
    assert_eq!(param(&back, "state").as_deref(), Some("state-123"));
    let code = param(&back, "code").expect("code");
    linkedin::exchange_code(&http::client().unwrap(), &app(d), &code, REDIRECT, &verifier, now())
        .await
        .expect("exchange")
}

#[tokio::test]
async fn connect_exchange_and_identity() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    d.set_member(Member { sub: "abc123".into(), name: "Olivia Owner".into(), email: "olivia@example.com".into() });
    let url = linkedin::authorize_url(&app(&d), REDIRECT, "s", "challenge", linkedin::MEMBER_SCOPES).unwrap();
    let parsed = reqwest::Url::parse(&url).unwrap();
    assert_eq!(parsed.path(), "/oauth/v2/authorization");
    assert_eq!(param(&parsed, "scope").as_deref(), Some("openid profile w_member_social"), "space-delimited scopes");
    assert_eq!(param(&parsed, "code_challenge_method").as_deref(), Some("S256"));

    let tokens = connect(&d).await;
    let t0 = now();
    assert!((tokens.expires_at.unwrap() - (t0 + 5_184_000)).abs() <= 2, "lifetime comes from expires_in");
    assert!((tokens.refresh_expires_at.unwrap() - (t0 + 31_536_000)).abs() <= 2);
    let who = linkedin::userinfo(&http::client().unwrap(), &app(&d), &tokens.access_token).await.unwrap();
    assert_eq!(
        (who.id.as_str(), who.display_name.as_str(), who.handle.as_str()),
        ("abc123", "Olivia Owner", "olivia@example.com")
    );

    let reqs = d.requests();
    let token_call = reqs.iter().find(|r| r.path == "/oauth/v2/accessToken").unwrap();
    assert_eq!(token_call.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert!(token_call.body.contains("grant_type=authorization_code") && token_call.body.contains("code_verifier="));
    assert!(token_call.header("authorization").is_none());
    let info_call = reqs.iter().find(|r| r.path == "/v2/userinfo").unwrap();
    assert_eq!(info_call.header("authorization"), Some(format!("Bearer {}", tokens.access_token).as_str()));
}

#[tokio::test]
async fn codes_work_once_and_only_with_their_verifier() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let verifier = pkce::new_verifier();
    let url =
        linkedin::authorize_url(&app(&d), REDIRECT, "s", &pkce::challenge_s256(&verifier), linkedin::MEMBER_SCOPES)
            .unwrap();
    let code = param(&consent(&url).await, "code").unwrap();
    let client = http::client().unwrap();
    let wrong = pkce::new_verifier();
    let err = linkedin::exchange_code(&client, &app(&d), &code, REDIRECT, &wrong, now()).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.starts_with("invalid_redirect_uri")), "{err:?}");
    let err =
        linkedin::exchange_code(&client, &app(&d), &code, "http://elsewhere/cb", &verifier, now()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)));
    linkedin::exchange_code(&client, &app(&d), &code, REDIRECT, &verifier, now())
        .await
        .expect("the right verifier works");
    let replay = linkedin::exchange_code(&client, &app(&d), &code, REDIRECT, &verifier, now()).await.unwrap_err();
    assert!(matches!(replay, ConnectorError::Rejected(_)), "a code works once");
    let mut bad_app = app(&d);
    bad_app.client_secret = zeroize::Zeroizing::new("wrong".into());
    let err = linkedin::exchange_code(&client, &bad_app, &code, REDIRECT, &verifier, now()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Misconfigured(_)), "{err:?}");
}

#[tokio::test]
async fn a_cancelled_consent_comes_back_as_an_error() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    d.cancel_next_authorization();
    let url = linkedin::authorize_url(&app(&d), REDIRECT, "st", "ch", linkedin::MEMBER_SCOPES).unwrap();
    let back = consent(&url).await;
    assert_eq!(param(&back, "error").as_deref(), Some("user_cancelled_authorize"));
    assert_eq!(param(&back, "state").as_deref(), Some("st"));
    assert!(param(&back, "code").is_none());
}

#[tokio::test]
async fn refresh_keeps_the_original_refresh_deadline() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let first = connect(&d).await;
    let ten_days = 10 * 86_400;
    d.advance(Duration::from_secs(ten_days as u64));
    let client = http::client().unwrap();
    let refreshed = linkedin::refresh(&client, &app(&d), &first, now() + ten_days).await.unwrap();
    assert_ne!(refreshed.access_token, first.access_token);
    assert!(
        (refreshed.refresh_expires_at.unwrap() - first.refresh_expires_at.unwrap()).abs() <= 2,
        "the countdown continues"
    );
    assert!((refreshed.expires_at.unwrap() - (now() + ten_days + 5_184_000)).abs() <= 2);
    linkedin::userinfo(&client, &app(&d), &refreshed.access_token).await.unwrap();
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_unauthorized() {
    let d = LinkedInDouble::start(Config { access_ttl: 60, ..Config::default() }).await.unwrap();
    let tokens = connect(&d).await;
    let client = http::client().unwrap();
    d.advance(Duration::from_secs(61));
    let err = linkedin::userinfo(&client, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Unauthorized(m) if m.contains("EXPIRED_ACCESS_TOKEN")), "{err:?}");
    let fresh = linkedin::refresh(&client, &app(&d), &tokens, now() + 61).await.unwrap();
    d.revoke_all();
    let err = linkedin::userinfo(&client, &app(&d), &fresh.access_token).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Unauthorized(m) if m.contains("REVOKED_ACCESS_TOKEN")), "{err:?}");
    let err = linkedin::refresh(&client, &app(&d), &fresh, now() + 61).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)), "a revoked grant cannot be refreshed: reconnect");
}

#[tokio::test]
async fn apps_without_programmatic_refresh_must_reconnect() {
    let d = LinkedInDouble::start(Config { refresh_enabled: false, ..Config::default() }).await.unwrap();
    let tokens = connect(&d).await;
    assert!(tokens.refresh_token.is_none() && tokens.refresh_expires_at.is_none());
    let err = linkedin::refresh(&http::client().unwrap(), &app(&d), &tokens, now()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)));
}

#[tokio::test]
async fn rate_limits_server_errors_and_timeouts_are_retryable() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let client = http::client().unwrap();
    d.inject("/v2/userinfo", Fault::RateLimited);
    let err = linkedin::userinfo(&client, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(err, ConnectorError::RateLimited { retry_after: None }), "LinkedIn gives no hint: {err:?}");
    assert!(err.is_retryable());
    d.inject("/v2/userinfo", Fault::ServerError);
    let err = linkedin::userinfo(&client, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)) && err.is_retryable(), "{err:?}");
    d.inject("/v2/userinfo", Fault::Delay(Duration::from_secs(3)));
    let impatient = http::client_with_timeout(Duration::from_millis(300)).unwrap();
    let err = linkedin::userinfo(&impatient, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    d.inject("/oauth/v2/accessToken", Fault::ServerError);
    let err = linkedin::refresh(&client, &app(&d), &tokens, now()).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    // After the faults, everything works again.
    linkedin::userinfo(&client, &app(&d), &tokens.access_token).await.unwrap();
}

#[test]
fn token_sets_never_print_their_secrets() {
    let t = TokenSet {
        access_token: "AQV-secret-access".into(),
        refresh_token: Some("AQW-secret-refresh".into()),
        expires_at: Some(1),
        refresh_expires_at: None,
        scope: None,
    };
    let shown = format!("{t:?}");
    assert!(!shown.contains("secret"), "{shown}");
}
