//! The OAuth connect flow as a browser drives it, against a platform double.
use super::{Session, TestApp};

/// Starts a connection as the browser would (cookie + CSRF) and follows the platform's consent;
/// returns the callback URL the platform redirected to.
pub(crate) async fn start(app: &TestApp, s: &Session, body: serde_json::Value) -> String {
    let r = app
        .post("/api/v1/accounts/connect")
        .header("cookie", &s.cookie())
        .header("x-csrf-token", &s.csrf)
        .json(body)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.body["authorize_url"].as_str().unwrap().to_string();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let consent = browser.get(&url).send().await.unwrap();
    // LinkedIn and TikTok answer 303, Mastodon (Doorkeeper) 302.
    assert!(matches!(consent.status().as_u16(), 302 | 303), "{}", consent.status());
    consent.headers()["location"].to_str().unwrap().to_string()
}

pub(crate) async fn callback(app: &TestApp, s: &Session, url: &str) -> (u16, String) {
    let r = app.client.get(url).header("cookie", s.cookie()).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A server (on `backend`) whose LinkedIn app is a fresh LinkedIn double, and an owner who has
/// connected their member profile through it: `(app, double, owner, account id)`; `None` when
/// the backend is not available here.
pub(crate) async fn with_connected_linkedin_member(
    backend: super::Backend,
) -> Option<(TestApp, steward_doubles::linkedin::LinkedInDouble, Session, String)> {
    use steward_doubles::linkedin;
    let double = linkedin::LinkedInDouble::start(linkedin::Config::default()).await.unwrap();
    let (cid, secret, base) =
        (double.config().client_id.clone(), double.config().client_secret.clone(), double.base.clone());
    let app = TestApp::spawn_with(backend, move |s| {
        s.linkedin = Some(steward_connectors::OauthApp {
            client_id: cid,
            client_secret: zeroize::Zeroizing::new(secret),
            auth_base: base.clone(),
            api_base: base,
        });
    })
    .await?;
    let owner = app.user("olivia@example.com").await;
    let back = start(&app, &owner, serde_json::json!({"platform": "linkedin", "account_kind": "member"})).await;
    assert_eq!(callback(&app, &owner, &back).await.0, 200);
    let accounts = app.get("/api/v1/accounts").auth(&owner).send().await;
    let account = accounts.body["items"][0]["id"].as_str().unwrap().to_string();
    Some((app, double, owner, account))
}
