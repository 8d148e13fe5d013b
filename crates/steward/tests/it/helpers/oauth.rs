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
