//! Accounts and members made through the API, as their owner would make them.
use serde_json::{Value, json};

use steward_doubles::bluesky::BlueskyDouble;

use super::{Resp, Session, TestApp};

/// A sandbox account owned by `owner`; returns its id.
pub async fn sandbox_account(app: &TestApp, owner: &Session, handle: &str) -> String {
    let r = app
        .post("/api/v1/accounts")
        .auth(owner)
        .json(json!({"platform": "sandbox", "handle": handle, "credentials": {"k": "v"}}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

pub async fn invite(app: &TestApp, by: &Session, account: &str, body: Value) -> Resp {
    app.post(&format!("/api/v1/accounts/{account}/invitations")).auth(by).json(body).send().await
}

/// Invites `email` with `role`, registers them and accepts; returns their session.
pub async fn member(app: &TestApp, owner: &Session, account: &str, email: &str, role: &str) -> Session {
    let r = invite(app, owner, account, json!({"email": email, "role": role})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let s = app.user(email).await;
    let token = r.body["token"].as_str().unwrap();
    let a = app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&s).send().await;
    assert_eq!(a.status, 200, "{}", a.text);
    s
}

/// A fresh server (same backend as `app`, private networks allowed for the local PDS) with
/// alice's Bluesky account on `double`, added with her app password.
pub async fn bluesky_account(app: TestApp, double: &BlueskyDouble) -> Option<(TestApp, Session, String)> {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, |s| s.allow_private_networks = true).await?;
    let owner = app.user("alice@example.com").await;
    let r = add_bluesky_account(&app, &owner, double).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let account = r.body["id"].as_str().unwrap().to_string();
    Some((app, owner, account))
}

/// `owner` adds alice's Bluesky account on `double` with her app password; the answer.
pub async fn add_bluesky_account(app: &TestApp, owner: &Session, double: &BlueskyDouble) -> Resp {
    app.post("/api/v1/accounts")
        .auth(owner)
        .json(json!({"platform": "bluesky", "handle": "alice", "credentials": {
            "identifier": "alice.bsky.test", "app_password": double.config().app_password, "service": double.base}}))
        .send()
        .await
}
