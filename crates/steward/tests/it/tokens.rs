//! Personal access tokens.
use std::time::Duration;
use steward_domain::ids::UserId;

use serde_json::json;

use crate::helpers::*;

both_backends! {
    async fn tokens_are_shown_once_and_stored_hashed(app: TestApp) {
        let s = app.user("tok@example.com").await;
        let r = app.post("/api/v1/me/tokens").auth(&s)
            .json(json!({"name": "drafting assistant", "scopes": ["write", "read"], "accounts": ["acc-1"], "capabilities": ["drafts.create"]}))
            .send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let token = r.body["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("stp_") && token.len() > 40);
        assert_eq!(r.body["scopes"], json!(["read", "write"]));
        assert_eq!(r.body["accounts"], json!(["acc-1"]));
        assert_eq!(r.body["capabilities"], json!(["drafts.create"]));
        let list = app.get("/api/v1/me/tokens").auth(&s).send().await;
        assert_eq!(list.status, 200);
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
        assert!(!list.text.contains(&token), "the secret is shown only at creation");
        assert!(list.body["items"][0].get("token").is_none());
        let me = app.get("/api/v1/me").bearer(&token).send().await;
        assert_eq!(me.status, 200, "{}", me.text);
        assert_eq!(me.body["email"], "tok@example.com");
        assert!(me.body.get("csrf_token").is_none());
        let used = app.get("/api/v1/me/tokens").auth(&s).send().await;
        assert!(used.body["items"][0]["last_used_at"].is_string());
    }

    async fn scopes_limit_what_a_token_may_do(app: TestApp) {
        let s = app.user("scopes@example.com").await;
        let r = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "reader", "scopes": ["read"]})).send().await;
        let reader = r.body["token"].as_str().unwrap().to_string();
        assert_eq!(app.get("/api/v1/me").bearer(&reader).send().await.status, 200);
        assert_eq!(app.get("/api/v1/me/activity").bearer(&reader).send().await.status, 200);
        app.post("/api/v1/auth/logout").bearer(&reader).send().await.assert_problem(403, "forbidden");
        // Account security needs a real session: a token cannot mint tokens or end sessions.
        let r = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "writer", "scopes": ["write"]})).send().await;
        let writer = r.body["token"].as_str().unwrap().to_string();
        app.post("/api/v1/me/tokens").bearer(&writer).json(json!({"name": "x", "scopes": ["read"]})).send().await.assert_problem(403, "forbidden");
        app.get("/api/v1/me/sessions").bearer(&writer).send().await.assert_problem(403, "forbidden");
        app.post("/api/v1/me/sessions/revoke-all").bearer(&writer).json(json!({})).send().await.assert_problem(403, "forbidden");
        app.post("/api/v1/me/totp").bearer(&writer).send().await.assert_problem(403, "forbidden");
        assert_eq!(app.state.store.api_tokens_for_user(&UserId::new(s.user_id.to_string())).await.unwrap().len(), 2);
        // A token narrowed to some capabilities (a reporting key) connects no new account:
        // that belongs to the whole person, as it does for a token narrowed to accounts.
        let body = json!({"name": "reports", "scopes": ["read", "write"], "capabilities": ["analytics.view"]});
        let r = app.post("/api/v1/me/tokens").auth(&s).json(body).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let reports = r.body["token"].as_str().unwrap().to_string();
        let sandbox = json!({"platform": "sandbox", "handle": "@side", "credentials": {}});
        app.post("/api/v1/accounts").bearer(&reports).json(sandbox.clone()).send().await.assert_problem(403, "forbidden");
        let r = app.post("/api/v1/accounts").bearer(&writer).json(sandbox).send().await;
        assert_eq!(r.status, 201, "a token that is not narrowed may: {}", r.text);
        assert_eq!(app.get("/api/v1/accounts").auth(&s).send().await.body["items"].as_array().unwrap().len(), 1);
    }

    async fn revoked_and_expired_tokens_stop_working(app: TestApp) {
        let s = app.user("expiry@example.com").await;
        let at = (app.clock.now() + jiff::SignedDuration::from_hours(1)).to_string();
        let r = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "short", "scopes": ["read"], "expires_at": at})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let short = r.body["token"].as_str().unwrap().to_string();
        let r = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "revoked", "scopes": ["read"]})).send().await;
        let (revoked, revoked_id) = (r.body["token"].as_str().unwrap().to_string(), r.body["id"].as_str().unwrap().to_string());
        assert_eq!(app.get("/api/v1/me").bearer(&revoked).send().await.status, 200);
        assert_eq!(app.delete(&format!("/api/v1/me/tokens/{revoked_id}")).auth(&s).send().await.status, 204);
        app.get("/api/v1/me").bearer(&revoked).send().await.assert_problem(401, "unauthenticated");
        app.delete(&format!("/api/v1/me/tokens/{revoked_id}")).auth(&s).send().await.assert_problem(404, "not-found");
        assert_eq!(app.get("/api/v1/me").bearer(&short).send().await.status, 200);
        app.clock.advance(Duration::from_secs(3601));
        app.get("/api/v1/me").bearer(&short).send().await.assert_problem(401, "unauthenticated");
        // Someone else cannot revoke my token.
        // (An hour after signing in, creating a token needs the password again.)
        let r = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "mine", "scopes": ["read"], "password": PASSWORD})).send().await;
        let mine = r.body["id"].as_str().unwrap().to_string();
        let other = app.user("other@example.com").await;
        app.delete(&format!("/api/v1/me/tokens/{mine}")).auth(&other).send().await.assert_problem(404, "not-found");
    }

    async fn token_requests_are_validated(app: TestApp) {
        let s = app.user("valid@example.com").await;
        let past = (app.clock.now() - jiff::SignedDuration::from_hours(1)).to_string();
        for (body, field) in [
            (json!({"name": "", "scopes": ["read"]}), "name"),
            (json!({"name": "x", "scopes": []}), "scopes"),
            (json!({"name": "x", "scopes": ["admin"]}), "scopes"),
            (json!({"name": "x", "scopes": ["read"], "expires_at": "tomorrow"}), "expires_at"),
            (json!({"name": "x", "scopes": ["read"], "expires_at": past}), "expires_at"),
            (json!({"name": "x", "scopes": ["read"], "accounts": []}), "accounts"),
        ] {
            let r = app.post("/api/v1/me/tokens").auth(&s).json(body).send().await;
            r.assert_problem(422, "validation");
            assert_eq!(r.body["errors"][0]["field"], field, "{}", r.text);
        }
        assert!(app.state.store.api_tokens_for_user(&UserId::new(s.user_id.to_string())).await.unwrap().is_empty());
    }

    async fn tokens_expire_in_90_days_unless_told_and_never_after_a_year(app: TestApp) {
        let s = app.user("ttl@example.com").await;
        let r = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "default", "scopes": ["read"]})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let expires: jiff::Timestamp = r.body["expires_at"].as_str().unwrap().parse().unwrap();
        // Measured from the token's own creation instant (the clock moves on after it).
        let created: jiff::Timestamp = r.body["created_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(expires.as_second() - created.as_second(), 90 * 86_400, "{}", r.text);
        let too_late = app.clock.now().checked_add(jiff::SignedDuration::from_hours(24 * 400)).unwrap().to_string();
        let r = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "long", "scopes": ["read"], "expires_at": too_late})).send().await;
        r.assert_problem(422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "expires_at");
        let within = app.clock.now().checked_add(jiff::SignedDuration::from_hours(24 * 360)).unwrap().to_string();
        let r = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "year", "scopes": ["read"], "expires_at": within})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        // The default token stops working after its 90 days.
        let t = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "d2", "scopes": ["read"]})).send().await;
        let secret = t.body["token"].as_str().unwrap().to_string();
        assert_eq!(app.get("/api/v1/me").bearer(&secret).send().await.status, 200);
        app.clock.advance(Duration::from_secs(90 * 86_400 + 1));
        assert_eq!(app.get("/api/v1/me").bearer(&secret).send().await.status, 401);
    }

    async fn creating_a_token_needs_a_re_authentication_within_10_minutes(app: TestApp) {
        let s = app.user("reauth@example.com").await;
        app.clock.advance(Duration::from_secs(11 * 60));
        let create = |extra: serde_json::Value| {
            let mut body = json!({"name": "late", "scopes": ["read"]});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            app.post("/api/v1/me/tokens").auth(&s).json(body)
        };
        create(json!({})).send().await.assert_problem(403, "reauth-required");
        create(json!({"password": "not-the-password-1"})).send().await.assert_problem(403, "forbidden");
        assert!(app.get("/api/v1/me/tokens").auth(&s).send().await.body["items"].as_array().unwrap().is_empty());
        let ok = create(json!({"password": PASSWORD})).send().await;
        assert_eq!(ok.status, 201, "{}", ok.text);
        // That re-authentication counts for the next 10 minutes, and no longer.
        assert_eq!(create(json!({})).send().await.status, 201);
        app.clock.advance(Duration::from_secs(11 * 60));
        create(json!({})).send().await.assert_problem(403, "reauth-required");
    }

    async fn log_out_everywhere_revokes_tokens_when_asked(app: TestApp) {
        let s = app.user("all@example.com").await;
        let t = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "script", "scopes": ["read"]})).send().await;
        let token = t.body["token"].as_str().unwrap().to_string();
        let r = app.post("/api/v1/me/sessions/revoke-all").auth(&s).json(json!({"keep_current": true})).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(app.get("/api/v1/me").bearer(&token).send().await.status, 200, "tokens stay unless asked");
        let r = app.post("/api/v1/me/sessions/revoke-all").auth(&s)
            .json(json!({"keep_current": true, "include_tokens": true})).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(app.get("/api/v1/me").bearer(&token).send().await.status, 401);
        assert_eq!(app.get("/api/v1/me").auth(&s).send().await.status, 200, "the current session was kept");
        // The web form ticks "revoke my access tokens too" by default.
        let (status, html) = crate::helpers::html::page(&app, &s, "/security").await;
        assert_eq!(status, 200);
        assert!(html.contains("name=\"include_tokens\" value=\"true\" checked"), "{html}");
        let t = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "web", "scopes": ["read"]})).send().await;
        let token = t.body["token"].as_str().unwrap().to_string();
        let csrf = crate::helpers::html::csrf_in(&html);
        let (status, location, _) = crate::helpers::html::post_form(&app, &s.cookie(), "/security/sessions/revoke-all",
            &[("csrf_token", &csrf), ("confirm", "yes"), ("keep_current", "false"), ("include_tokens", "true")]).await;
        assert_eq!((status, location.as_str()), (303, "/signin?notice=everywhere"));
        assert_eq!(app.get("/api/v1/me").bearer(&token).send().await.status, 401, "the form revoked the tokens");
        assert_eq!(app.get("/api/v1/me").auth(&s).send().await.status, 401);
    }

    async fn with_2fa_a_code_re_authenticates_for_a_token(app: TestApp) {
        let s = app.user("code-reauth@example.com").await;
        let r = app.post("/api/v1/me/totp").auth(&s).send().await;
        let secret = r.body["secret"].as_str().unwrap().to_string();
        let on = app.post("/api/v1/me/totp/confirm").auth(&s).json(json!({"code": totp_code(&secret, &app, 0)})).send().await;
        assert_eq!(on.status, 200, "{}", on.text);
        app.clock.advance(Duration::from_secs(11 * 60));
        let create = |extra: serde_json::Value| {
            let mut body = json!({"name": "agent", "scopes": ["read"]});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            app.post("/api/v1/me/tokens").auth(&s).json(body)
        };
        create(json!({"password": PASSWORD})).send().await.assert_problem(401, "totp-required");
        create(json!({"totp": "000000"})).send().await.assert_problem(403, "forbidden");
        let ok = create(json!({"totp": totp_code(&secret, &app, 0)})).send().await;
        assert_eq!(ok.status, 201, "{}", ok.text);
    }
}
