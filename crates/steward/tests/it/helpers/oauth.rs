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

/// The platform sends the browser (with its session cookie) back to the callback: its status,
/// and where it sends the browser on (its `Location`), or its body when it is not a redirect.
pub(crate) async fn callback(_app: &TestApp, s: &Session, url: &str) -> (u16, String) {
    let r = super::html::browser().get(url).header("cookie", s.cookie()).send().await.unwrap();
    let status = r.status().as_u16();
    match r.headers().get("location") {
        Some(to) => (status, to.to_str().unwrap().to_string()),
        None => (status, r.text().await.unwrap()),
    }
}

/// The web page a callback sent the browser on to (`location` as the callback answered it).
pub(crate) async fn landing(app: &TestApp, s: &Session, location: &str) -> (u16, String) {
    let r = app.client.get(format!("{}{location}", app.base)).header("cookie", s.cookie()).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A callback that connected a new account: it sends the browser to the account's page with
/// the notice; answers the account id.
pub(crate) async fn connected(app: &TestApp, s: &Session, url: &str) -> String {
    let (status, to) = callback(app, s, url).await;
    assert_eq!(status, 303, "{to}");
    let id = to.strip_prefix("/accounts/").and_then(|r| r.strip_suffix("?notice=connected"));
    id.unwrap_or_else(|| panic!("not on to a new account's page: {to}")).to_string()
}

/// A server (on `backend`) whose LinkedIn app is a fresh LinkedIn double, and an owner who has
/// connected their member profile through it: `(app, double, owner, account id)`; `None` when
/// the backend is not available here.
pub(crate) async fn with_connected_linkedin_member(
    backend: super::Backend,
) -> Option<(TestApp, steward_doubles::linkedin::LinkedInDouble, Session, String)> {
    use steward_doubles::linkedin;
    let double = linkedin::LinkedInDouble::start(linkedin::Config::default()).await.unwrap();
    let app = spawn_with_linkedin(backend, &double).await?;
    let owner = app.user("olivia@example.com").await;
    let back = start(&app, &owner, serde_json::json!({"platform": "linkedin", "account_kind": "member"})).await;
    let account = connected(&app, &owner, &back).await;
    let accounts = app.get("/api/v1/accounts").auth(&owner).send().await;
    assert_eq!(accounts.body["items"][0]["id"].as_str(), Some(account.as_str()));
    Some((app, double, owner, account))
}

/// The LinkedIn member the double signs in, and the pages of [`with_linkedin_pages`].
pub(crate) const MEMBER: &str = "782bbtaQ";
pub(crate) const DEVTESTCO: &str = "urn:li:organization:2414183";
pub(crate) const SECOND: &str = "urn:li:organization:5515715";
pub(crate) const ANALYSED: &str = "urn:li:organization:777";

/// A server whose LinkedIn app is a fresh double on which the member administers two pages
/// (Devtestco, Second & Sons) and is only an analyst of a third.
pub(crate) async fn with_linkedin_pages(
    backend: super::Backend,
) -> Option<(TestApp, steward_doubles::linkedin::LinkedInDouble)> {
    use steward_doubles::linkedin;
    let double = linkedin::LinkedInDouble::start(linkedin::Config::default()).await.unwrap();
    double.add_organization(DEVTESTCO, "Devtestco", "devtestco", 1200);
    double.add_organization(SECOND, "Second & Sons", "second-sons", 40);
    double.add_organization(ANALYSED, "Watched Inc", "watched", 5);
    double.set_organization_role(MEMBER, DEVTESTCO, "ADMINISTRATOR");
    double.set_organization_role(MEMBER, SECOND, "ADMINISTRATOR");
    double.set_organization_role(MEMBER, ANALYSED, "ANALYST");
    let app = spawn_with_linkedin(backend, &double).await?;
    Some((app, double))
}

/// A server whose LinkedIn app is `double` (its client and both its base URLs).
async fn spawn_with_linkedin(
    backend: super::Backend,
    double: &steward_doubles::linkedin::LinkedInDouble,
) -> Option<TestApp> {
    let (cid, secret, base) =
        (double.config().client_id.clone(), double.config().client_secret.clone(), double.base.clone());
    TestApp::spawn_with(backend, move |s| {
        s.linkedin = Some(steward_connectors::OauthApp {
            client_id: cid,
            client_secret: zeroize::Zeroizing::new(secret),
            auth_base: base.clone(),
            api_base: base,
        });
    })
    .await
}
