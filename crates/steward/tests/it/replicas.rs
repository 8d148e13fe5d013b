//! Several `steward serve` processes on one PostgreSQL database (`helpers::replicas`): they
//! share people and sessions, survive one of them being killed, and a revocation on any one is
//! seen by all before it returns (docs/DESIGN.md invariant 8).
use serde_json::{Value, json};

use crate::helpers::PASSWORD;
use crate::helpers::replicas::Replicas;

async fn call(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c.request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_database_and_survive_a_kill() {
    let Some(mut r) = Replicas::start(3, &[("STEWARD_SIGNUP", "open")]).await else { return };
    assert_eq!(r.len(), 3);
    let bases = r.bases();
    assert_eq!(bases.iter().collect::<std::collections::HashSet<_>>().len(), 3, "one port each: {bases:?}");
    let c = r.client();
    let (st, _) = call(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/auth/register", r.base(0)),
        None,
        Some(json!({ "email": "ann@example.com", "password": PASSWORD, "display_name": "Ann" })),
    )
    .await;
    assert_eq!(st, 201);
    // Signed up on one replica, signed in on another, served by the third.
    let (st, login) = call(
        &c,
        reqwest::Method::POST,
        format!("{}/api/v1/auth/login", r.base(1)),
        None,
        Some(json!({ "email": "ann@example.com", "password": PASSWORD })),
    )
    .await;
    assert_eq!(st, 200);
    let token = login["token"].as_str().unwrap().to_string();
    let (st, me) = call(&c, reqwest::Method::GET, format!("{}/api/v1/me", r.base(2)), Some(&token), None).await;
    assert_eq!((st, me["email"].as_str()), (200, Some("ann@example.com")));

    let before = r.pid(2);
    r.kill(2).await;
    assert!(!r.is_running(2));
    assert!(c.get(format!("{}/healthz", r.base(2))).send().await.is_err(), "a killed replica answers nothing");
    // The others keep serving meanwhile.
    let (st, _) = call(&c, reqwest::Method::GET, format!("{}/api/v1/me", r.base(0)), Some(&token), None).await;
    assert_eq!(st, 200);
    // An operator's change straight to the database while replica 2 is down.
    r.sql("UPDATE users SET display_name = 'Ann B' WHERE email = 'ann@example.com'").await;
    r.restart(2).await;
    assert_ne!(r.pid(2), before);
    assert_eq!(r.base(2), bases[2], "a restarted replica keeps its address");
    let (st, me) = call(&c, reqwest::Method::GET, format!("{}/api/v1/me", r.base(2)), Some(&token), None).await;
    assert_eq!((st, me["display_name"].as_str()), (200, Some("Ann B")), "same database and key after the restart");
    assert!(r.log(2).contains("steward is listening"), "the log is kept across the restart: {}", r.log(2));
}
