//! Sign-up, sign-in and throttling.
use serde_json::json;
use steward_app::config::SignupMode;

use crate::helpers::*;

both_backends! {
    async fn register_login_and_me(app: TestApp) {
        let user = app.register("Olivia@Example.com").await;
        assert_eq!(user["email"], "olivia@example.com", "emails are normalized");
        assert_eq!(user["totp_enabled"], false);
        assert!(user.get("password").is_none() && user.get("password_hash").is_none());
        let s = app.login("olivia@example.com").await;
        assert!(s.token.starts_with("sts_"));
        let me = app.get("/api/v1/me").auth(&s).send().await;
        assert_eq!(me.status, 200, "{}", me.text);
        for field in ["id", "email", "display_name", "totp_enabled", "created_at"] {
            assert!(me.body.get(field).is_some(), "missing {field}");
        }
        assert_eq!(me.body["id"], user["id"]);
        // Stored password is an Argon2id hash, never the password.
        let stored = app.state.store.user_by_email("olivia@example.com").await.unwrap().unwrap();
        assert!(stored.password_hash.starts_with("$argon2id$"));
        assert!(!stored.password_hash.contains(PASSWORD));
    }

    async fn registration_validates_every_field(app: TestApp) {
        let r = app.post("/api/v1/auth/register").json(json!({"email": "nope", "password": "short", "display_name": " "})).send().await;
        r.assert_problem(422, "validation");
        let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["email", "display_name", "password"]);
        let common = app.post("/api/v1/auth/register").json(json!({"email": "a@example.com", "password": "Password1234", "display_name": "A"})).send().await;
        common.assert_problem(422, "validation");
        assert!(common.text.contains("common"), "{}", common.text);
        let long = app.post("/api/v1/auth/register").json(json!({"email": "a@example.com", "password": "x".repeat(1025), "display_name": "A"})).send().await;
        long.assert_problem(422, "validation");
        assert!(app.state.store.user_by_email("a@example.com").await.unwrap().is_none(), "nothing was created");
    }

    async fn duplicate_email_is_a_conflict(app: TestApp) {
        app.register("dup@example.com").await;
        let r = app.post("/api/v1/auth/register").json(json!({"email": "DUP@example.com", "password": PASSWORD, "display_name": "Again"})).send().await;
        r.assert_problem(409, "conflict");
    }

    async fn wrong_password_and_unknown_email_answer_alike(app: TestApp) {
        app.register("known@example.com").await;
        let wrong = app.post("/api/v1/auth/login").json(json!({"email": "known@example.com", "password": "not-the-passphrase"})).send().await;
        let unknown = app.post("/api/v1/auth/login").json(json!({"email": "nobody@example.com", "password": "not-the-passphrase"})).send().await;
        wrong.assert_problem(401, "invalid-credentials");
        unknown.assert_problem(401, "invalid-credentials");
        assert_eq!(wrong.text, unknown.text, "the answers must not tell which emails exist");
        assert!(wrong.header("set-cookie").is_none());
    }

    async fn sign_in_is_throttled_per_account(app: TestApp) {
        app.register("target@example.com").await;
        for _ in 0..5 {
            let r = app.post("/api/v1/auth/login").json(json!({"email": "target@example.com", "password": "guess-guess-guess"})).send().await;
            r.assert_problem(401, "invalid-credentials");
        }
        // Even the right password is refused while throttled.
        let r = app.post("/api/v1/auth/login").json(json!({"email": "target@example.com", "password": PASSWORD})).send().await;
        r.assert_problem(429, "rate-limited");
        let retry: u64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
        assert!((1..=900).contains(&retry), "retry after {retry}");
        // The throttle is per account: another account from the same address still signs in.
        app.register("other@example.com").await;
        app.login("other@example.com").await;
        // Once the window has passed, the owner signs in again.
        app.clock.advance(std::time::Duration::from_secs(retry + 1));
        app.login("target@example.com").await;
    }

    async fn sign_in_is_throttled_per_ip(app: TestApp) {
        for i in 0..20 {
            let r = app.post("/api/v1/auth/login").json(json!({"email": format!("spray{i}@example.com"), "password": "guess-guess-guess"})).send().await;
            r.assert_problem(401, "invalid-credentials");
        }
        app.register("victim@example.com").await;
        let r = app.post("/api/v1/auth/login").json(json!({"email": "victim@example.com", "password": PASSWORD})).send().await;
        r.assert_problem(429, "rate-limited");
        assert!(r.header("retry-after").is_some());
    }

    async fn failed_sign_ins_are_recorded_as_denied(app: TestApp) {
        let s = app.user("careful@example.com").await;
        app.post("/api/v1/auth/login").json(json!({"email": "careful@example.com", "password": "wrong-wrong-wrong"})).send().await;
        let activity = app.get("/api/v1/me/activity").auth(&s).send().await;
        assert_eq!(activity.status, 200, "{}", activity.text);
        let items = activity.body["items"].as_array().unwrap();
        let denied = items.iter().find(|e| e["action"] == "auth.login" && e["outcome"] == "denied").expect("denied sign-in listed");
        assert_eq!(denied["actor_email"], "careful@example.com");
        assert_eq!(denied["ip"], "127.0.0.1");
        assert!(items.iter().any(|e| e["action"] == "auth.login" && e["outcome"] == "allowed"));
        assert!(items.iter().any(|e| e["action"] == "auth.register"));
    }

    async fn logout_ends_the_session(app: TestApp) {
        let s = app.user("leaver@example.com").await;
        let r = app.post("/api/v1/auth/logout").auth(&s).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
        app.get("/api/v1/me").auth(&s).send().await.assert_problem(401, "unauthenticated");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_modes_are_enforced() {
    let closed = TestApp::spawn_with(Backend::Sqlite, |s| s.signup = SignupMode::Closed).await.unwrap();
    let body = json!({"email": "new@example.com", "password": PASSWORD, "display_name": "New"});
    closed.post("/api/v1/auth/register").json(body.clone()).send().await.assert_problem(403, "forbidden");
    let invite = TestApp::spawn_with(Backend::Sqlite, |s| s.signup = SignupMode::Invite).await.unwrap();
    let r = invite.post("/api/v1/auth/register").json(body.clone()).send().await;
    r.assert_problem(403, "forbidden");
    assert!(r.body["detail"].as_str().unwrap().contains("invitation"));
    let mut with_bogus = body.clone();
    with_bogus["invitation"] = json!("not-a-real-invitation");
    invite.post("/api/v1/auth/register").json(with_bogus).send().await.assert_problem(422, "validation");
    assert!(invite.state.store.user_by_email("new@example.com").await.unwrap().is_none());
}
