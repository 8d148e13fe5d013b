//! Device sessions: cookies, CSRF, listing, revocation and expiry.
use std::time::Duration;
use steward_domain::ids::UserId;

use serde_json::json;

use crate::helpers::*;

both_backends! {
    async fn cookie_is_http_only_lax_and_needs_csrf_for_writes(app: TestApp) {
        let s = app.user("cookie@example.com").await;
        let c = &s.set_cookie;
        assert!(c.starts_with("steward_session=sts_"), "{c}");
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"), "{c}");
        assert!(!c.contains("Secure"), "plain-http public URL: not Secure ({c})");
        let me = app.get("/api/v1/me").header("cookie", &s.cookie()).send().await;
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!(me.body["csrf_token"], s.csrf.as_str());
        let body = json!({"name": "script", "scopes": ["read"]});
        let no_csrf = app.post("/api/v1/me/tokens").header("cookie", &s.cookie()).json(body.clone()).send().await;
        no_csrf.assert_problem(403, "forbidden");
        let bad_csrf = app.post("/api/v1/me/tokens").header("cookie", &s.cookie()).header("x-csrf-token", "forged").json(body.clone()).send().await;
        bad_csrf.assert_problem(403, "forbidden");
        let tokens = app.state.store.api_tokens_for_user(&UserId::new(s.user_id.to_string())).await.unwrap();
        assert!(tokens.is_empty(), "refused requests changed nothing");
        let ok = app.post("/api/v1/me/tokens").header("cookie", &s.cookie()).header("x-csrf-token", &s.csrf).json(body).send().await;
        assert_eq!(ok.status, 201, "{}", ok.text);
        // Another session's CSRF token does not fit this session.
        let other = app.login("cookie@example.com").await;
        let cross = app.post("/api/v1/auth/logout").header("cookie", &s.cookie()).header("x-csrf-token", &other.csrf).send().await;
        cross.assert_problem(403, "forbidden");
        // Bearer requests need no CSRF token: no browser attaches them on its own.
        assert_eq!(app.post("/api/v1/auth/logout").auth(&s).send().await.status, 204);
    }

    async fn sessions_are_listed_with_the_current_one_marked(app: TestApp) {
        app.register("multi@example.com").await;
        let laptop = app.login("multi@example.com").await;
        let r = app.post("/api/v1/auth/login").header("user-agent", "PhoneBrowser/1.0")
            .json(json!({"email": "multi@example.com", "password": PASSWORD})).send().await;
        let phone = Session::from_login(&r);
        let list = app.get("/api/v1/me/sessions").auth(&laptop).send().await;
        assert_eq!(list.status, 200, "{}", list.text);
        let items = list.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        let current: Vec<_> = items.iter().filter(|i| i["current"] == true).collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0]["id"], laptop.session_id.as_str());
        let phone_row = items.iter().find(|i| i["id"] == phone.session_id.as_str()).unwrap();
        assert_eq!(phone_row["user_agent"], "PhoneBrowser/1.0");
        assert_eq!(phone_row["ip"], "127.0.0.1");
        for f in ["created_at", "last_seen_at"] {
            assert!(phone_row[f].as_str().unwrap().ends_with('Z'), "{f} is RFC 3339 UTC");
        }
        assert!(!list.text.contains(&phone.token), "tokens are never listed");
    }

    async fn a_revoked_session_fails_on_its_very_next_request(app: TestApp) {
        app.register("rev@example.com").await;
        let a = app.login("rev@example.com").await;
        let b = app.login("rev@example.com").await;
        assert_eq!(app.get("/api/v1/me").auth(&b).send().await.status, 200);
        let r = app.delete(&format!("/api/v1/me/sessions/{}", b.session_id)).auth(&a).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        app.get("/api/v1/me").auth(&b).send().await.assert_problem(401, "unauthenticated");
        app.get("/api/v1/me").header("cookie", &b.cookie()).send().await.assert_problem(401, "unauthenticated");
        assert_eq!(app.get("/api/v1/me").auth(&a).send().await.status, 200);
        // Someone else's session id is not found, and revoking twice is not found either.
        let stranger = app.user("stranger@example.com").await;
        app.delete(&format!("/api/v1/me/sessions/{}", a.session_id)).auth(&stranger).send().await.assert_problem(404, "not-found");
        app.delete(&format!("/api/v1/me/sessions/{}", b.session_id)).auth(&a).send().await.assert_problem(404, "not-found");
        assert_eq!(app.get("/api/v1/me").auth(&a).send().await.status, 200);
    }

    async fn log_out_everywhere(app: TestApp) {
        app.register("every@example.com").await;
        let keep = app.login("every@example.com").await;
        let others = [app.login("every@example.com").await, app.login("every@example.com").await];
        let r = app.post("/api/v1/me/sessions/revoke-all").auth(&keep).json(json!({"keep_current": true})).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        for o in &others {
            app.get("/api/v1/me").auth(o).send().await.assert_problem(401, "unauthenticated");
        }
        assert_eq!(app.get("/api/v1/me").auth(&keep).send().await.status, 200);
        let r = app.post("/api/v1/me/sessions/revoke-all").auth(&keep).json(json!({"keep_current": false})).send().await;
        assert_eq!(r.status, 204);
        app.get("/api/v1/me").auth(&keep).send().await.assert_problem(401, "unauthenticated");
        let fresh = app.login("every@example.com").await;
        let list = app.get("/api/v1/me/sessions").auth(&fresh).send().await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    }

    async fn sessions_expire_when_idle_and_absolutely(app: TestApp) {
        app.register("idle@example.com").await;
        let s = app.login("idle@example.com").await;
        let idle = app.state.settings.session_idle;
        app.clock.advance(idle - Duration::from_secs(120));
        assert_eq!(app.get("/api/v1/me").auth(&s).send().await.status, 200, "use keeps it alive");
        app.clock.advance(idle - Duration::from_secs(120));
        assert_eq!(app.get("/api/v1/me").auth(&s).send().await.status, 200);
        app.clock.advance(idle + Duration::from_secs(1));
        app.get("/api/v1/me").auth(&s).send().await.assert_problem(401, "unauthenticated");

        let s = app.login("idle@example.com").await;
        let absolute = app.state.settings.session_absolute;
        let step = idle / 2;
        let mut elapsed = Duration::ZERO;
        while elapsed + step < absolute {
            app.clock.advance(step);
            elapsed += step;
            assert_eq!(app.get("/api/v1/me").auth(&s).send().await.status, 200);
        }
        app.clock.advance(absolute - elapsed + Duration::from_secs(1));
        app.get("/api/v1/me").auth(&s).send().await.assert_problem(401, "unauthenticated");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_are_secure_behind_https() {
    let app =
        TestApp::spawn_with(Backend::Sqlite, |s| s.public_url = "https://steward.example.com".into()).await.unwrap();
    let s = app.user("secure@example.com").await;
    assert!(s.set_cookie.contains("; Secure"), "{}", s.set_cookie);
}
