//! Passwords: changing one (the current one again, other sessions end, a notice by mail) and
//! resetting a forgotten one with a mailed single-use link (30 minutes, the second factor still
//! asked, every session ends, throttled), and the pages for both.
use std::time::Duration;

use serde_json::json;
use steward_doubles::smtp::SmtpSink;

use crate::helpers::html::{browser, csrf_in, page, post_form};
use crate::helpers::mail::{eventually, mails_to, token_after, with_mail};
use crate::helpers::*;

const NEW_PASSWORD: &str = "another-long-passphrase-2026";

async fn status_of_me(app: &TestApp, s: &Session) -> u16 {
    app.get("/api/v1/me").auth(s).send().await.status
}

async fn login_with(app: &TestApp, email: &str, password: &str) -> u16 {
    app.post("/api/v1/auth/login").json(json!({"email": email, "password": password})).send().await.status
}

/// Turns 2FA on; returns the base32 secret (the enrolment used step 0).
async fn enrol(app: &TestApp, s: &Session) -> String {
    let r = app.post("/api/v1/me/totp").auth(s).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let ok = app.post("/api/v1/me/totp/confirm").auth(s).json(json!({"code": totp_code(&secret, app, 0)})).send().await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    secret
}

async fn my_actions(app: &TestApp, s: &Session) -> Vec<String> {
    let r = app.get("/api/v1/me/activity").auth(s).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_string()).collect()
}

/// Asks for a reset link for `email` and returns the token mailed to it.
async fn mailed_reset_token(app: &TestApp, sink: &SmtpSink, email: &str) -> String {
    let before = mails_to(sink, email).len();
    let r = app.post("/api/v1/auth/password-reset").json(json!({"email": email})).send().await;
    assert_eq!(r.status, 202, "{}", r.text);
    let mail = eventually("the reset mail", async || mails_to(sink, email).get(before).cloned()).await;
    assert!(mail.contains("Subject: [Steward] Reset your password"), "{mail}");
    assert!(mail.contains("Content-Type: text/plain") && mail.contains("Content-Type: text/html"), "{mail}");
    assert!(mail.contains(&format!("{}/reset/str_", app.state.settings.public_url)), "{mail}");
    token_after(&mail, "/reset/")
}

with_mail! {
    async fn changing_the_password_needs_the_current_one_ends_other_sessions_and_mails(app: TestApp, sink: SmtpSink) {
        let here = app.user("pat@example.com").await;
        let elsewhere = app.login("pat@example.com").await;
        let change = |current: &str, new: &str| {
            app.post("/api/v1/me/password").auth(&here).json(json!({"current_password": current, "new_password": new}))
        };
        change("not-my-password-at-all", NEW_PASSWORD).send().await.assert_problem(403, "forbidden");
        let weak = change(PASSWORD, "short").send().await;
        weak.assert_problem(422, "validation");
        assert_eq!(weak.body["errors"][0]["field"], "new_password", "{}", weak.text);
        // Refusals changed nothing.
        assert_eq!(status_of_me(&app, &elsewhere).await, 200);
        assert_eq!(login_with(&app, "pat@example.com", PASSWORD).await, 200);
        // An access token cannot change the password.
        let token = app.post("/api/v1/me/tokens").auth(&here).json(json!({"name": "t", "scopes": ["write"]})).send().await;
        assert_eq!(token.status, 201, "{}", token.text);
        let t = token.body["token"].as_str().unwrap();
        app.post("/api/v1/me/password").bearer(t).json(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
            .send().await.assert_problem(403, "forbidden");

        let ok = change(PASSWORD, NEW_PASSWORD).send().await;
        assert_eq!(ok.status, 204, "{}", ok.text);
        assert_eq!(status_of_me(&app, &here).await, 200, "the session that changed it stays");
        assert_eq!(status_of_me(&app, &elsewhere).await, 401, "every other session ended");
        assert_eq!(login_with(&app, "pat@example.com", PASSWORD).await, 401);
        assert_eq!(login_with(&app, "pat@example.com", NEW_PASSWORD).await, 200);
        assert!(my_actions(&app, &here).await.contains(&"me.password.change".to_string()));
        let mail = eventually("the notice", async || mails_to(&sink, "pat@example.com").first().cloned()).await;
        assert!(mail.contains("Subject: [Steward] Your password was changed"), "{mail}");
        assert!(!mail.contains(NEW_PASSWORD) && !mail.contains(PASSWORD), "a mail never carries a password");
    }

    async fn a_reset_link_is_mailed_works_once_and_ends_every_session(app: TestApp, sink: SmtpSink) {
        let s = app.user("rene@example.com").await;
        // An unknown address gets the same answer, and no mail.
        let unknown = app.post("/api/v1/auth/password-reset").json(json!({"email": "nobody@example.com"})).send().await;
        assert_eq!(unknown.status, 202, "{}", unknown.text);
        let token = mailed_reset_token(&app, &sink, "rene@example.com").await;
        assert!(sink.messages().iter().all(|m| m.to != ["nobody@example.com"]));
        // Stored as a hash only.
        let stored: i64 = count(&app, &format!("SELECT COUNT(*) FROM password_resets WHERE user_id = '{}'", s.user_id)).await;
        assert_eq!(stored, 1);

        // The page asks for the new password.
        let (status, html) = page(&app, &Session::bearer_only(""), &format!("/reset/{token}")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("name=\"new_password\"") && !html.contains("name=\"totp\""), "{html}");

        let confirm = |password: &str| {
            app.post("/api/v1/auth/password-reset/confirm").json(json!({"token": token, "new_password": password}))
        };
        let weak = confirm("short").send().await;
        weak.assert_problem(422, "validation");
        assert_eq!(weak.body["errors"][0]["field"], "new_password");
        let ok = confirm(NEW_PASSWORD).send().await;
        assert_eq!(ok.status, 204, "{}", ok.text);
        assert_eq!(status_of_me(&app, &s).await, 401, "every session ended");
        assert_eq!(login_with(&app, "rene@example.com", PASSWORD).await, 401);
        assert_eq!(login_with(&app, "rene@example.com", NEW_PASSWORD).await, 200);
        // Single use.
        let again = app.post("/api/v1/auth/password-reset/confirm")
            .json(json!({"token": token, "new_password": "yet-another-passphrase-9"})).send().await;
        again.assert_problem(422, "validation");
        assert_eq!(again.body["errors"][0]["field"], "token");
        assert_eq!(page(&app, &Session::bearer_only(""), &format!("/reset/{token}")).await.0, 404);
        let fresh = app.login_with_password("rene@example.com", NEW_PASSWORD).await;
        assert!(my_actions(&app, &fresh).await.contains(&"auth.password_reset".to_string()));
    }

    async fn a_reset_link_expires_after_30_minutes_and_only_the_newest_works(app: TestApp, sink: SmtpSink) {
        app.register("kim@example.com").await;
        let first = mailed_reset_token(&app, &sink, "kim@example.com").await;
        let second = mailed_reset_token(&app, &sink, "kim@example.com").await;
        let confirm = |token: &str| {
            app.post("/api/v1/auth/password-reset/confirm").json(json!({"token": token, "new_password": NEW_PASSWORD}))
        };
        confirm(&first).send().await.assert_problem(422, "validation");
        app.clock.advance(Duration::from_secs(31 * 60));
        confirm(&second).send().await.assert_problem(422, "validation");
        assert_eq!(login_with(&app, "kim@example.com", PASSWORD).await, 200, "nothing changed");
    }

    async fn a_reset_never_bypasses_the_second_factor(app: TestApp, sink: SmtpSink) {
        let s = app.user("tfa@example.com").await;
        let secret = enrol(&app, &s).await;
        let token = mailed_reset_token(&app, &sink, "tfa@example.com").await;
        let (status, html) = page(&app, &Session::bearer_only(""), &format!("/reset/{token}")).await;
        assert_eq!(status, 200);
        assert!(html.contains("name=\"totp\""), "{html}");
        let confirm = |code: Option<&str>| {
            app.post("/api/v1/auth/password-reset/confirm")
                .json(json!({"token": token, "new_password": NEW_PASSWORD, "totp": code}))
        };
        confirm(None).send().await.assert_problem(401, "totp-required");
        app.clock.advance(Duration::from_secs(30));
        confirm(Some("000000")).send().await.assert_problem(403, "forbidden");
        assert_eq!(login_with(&app, "tfa@example.com", NEW_PASSWORD).await, 401, "the link still works, nothing changed");
        let ok = confirm(Some(&totp_code(&secret, &app, 0))).send().await;
        assert_eq!(ok.status, 204, "{}", ok.text);
        assert_eq!(status_of_me(&app, &s).await, 401);
    }

    async fn a_reset_link_does_not_let_its_holder_guess_the_second_factor(app: TestApp, sink: SmtpSink) {
        // Someone who took over the mailbox has the link, not the phone: each wrong code counts
        // against the person's step-up limit (five in the window), then even a right one waits.
        let s = app.user("guess@example.com").await;
        let secret = enrol(&app, &s).await;
        let token = mailed_reset_token(&app, &sink, "guess@example.com").await;
        let confirm = |code: &str| {
            app.post("/api/v1/auth/password-reset/confirm")
                .json(json!({"token": token, "new_password": NEW_PASSWORD, "totp": code}))
        };
        app.clock.advance(Duration::from_secs(30));
        let right = totp_code(&secret, &app, 0);
        let wrong = if right == "000000" { "111111" } else { "000000" };
        for _ in 0..5 {
            confirm(wrong).send().await.assert_problem(403, "forbidden");
        }
        let r = confirm(wrong).send().await;
        r.assert_problem(429, "rate-limited");
        assert!(r.header("retry-after").is_some_and(|v| v.parse::<u64>().unwrap() > 0));
        confirm(&right).send().await.assert_problem(429, "rate-limited");
        assert_eq!(login_with(&app, "guess@example.com", NEW_PASSWORD).await, 401, "nothing changed");
        assert_eq!(status_of_me(&app, &s).await, 200, "the person's session still stands");
    }

    async fn reset_requests_are_throttled_per_email_and_per_address(app: TestApp, sink: SmtpSink) {
        app.register("busy@example.com").await;
        for _ in 0..3 {
            let r = app.post("/api/v1/auth/password-reset").json(json!({"email": "busy@example.com"})).send().await;
            assert_eq!(r.status, 202, "{}", r.text);
        }
        let r = app.post("/api/v1/auth/password-reset").json(json!({"email": "busy@example.com"})).send().await;
        r.assert_problem(429, "rate-limited");
        assert!(r.header("retry-after").is_some_and(|v| v.parse::<u64>().unwrap() > 0));
        // Unknown addresses count the same, so the answer tells nothing.
        for i in 0..7 {
            let r = app.post("/api/v1/auth/password-reset").json(json!({"email": format!("x{i}@example.com")})).send().await;
            assert_eq!(r.status, 202, "{}", r.text);
        }
        // Ten from this address in the window: the next is refused whatever the email.
        app.post("/api/v1/auth/password-reset").json(json!({"email": "other@example.com"})).send().await
            .assert_problem(429, "rate-limited");
        eventually("three mails", async || (mails_to(&sink, "busy@example.com").len() == 3).then_some(())).await;
        app.clock.advance(Duration::from_secs(16 * 60));
        let r = app.post("/api/v1/auth/password-reset").json(json!({"email": "busy@example.com"})).send().await;
        assert_eq!(r.status, 202, "the window passed: {}", r.text);
    }

    async fn reset_requests_sent_at_once_get_no_more_than_the_limit(app: TestApp, sink: SmtpSink) {
        // The limit is checked and the request counted in one step: thirty requests sent at
        // once (someone flooding another's inbox) cannot all be checked before any is counted.
        app.register("flood@example.com").await;
        let sent = (0..30).map(|_| app.post("/api/v1/auth/password-reset").json(json!({"email": "flood@example.com"})).send());
        let statuses: Vec<u16> = futures_join_all(sent).await.iter().map(|r| r.status).collect();
        let accepted = statuses.iter().filter(|&&s| s == 202).count();
        assert_eq!(accepted, 3, "three per address in the window, however they arrive: {statuses:?}");
        assert_eq!(statuses.iter().filter(|&&s| s == 429).count(), 27, "{statuses:?}");
        eventually("three mails", async || (mails_to(&sink, "flood@example.com").len() == 3).then_some(())).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(mails_to(&sink, "flood@example.com").len(), 3, "no more than three mails");
        // Each link ends the ones before it, also when they are made at once: one works.
        let live = count(&app, "SELECT COUNT(*) FROM password_resets WHERE used_at IS NULL").await;
        assert_eq!(live, 1, "only the newest link works");
    }

    async fn the_forgot_and_reset_pages_set_a_new_password(app: TestApp, sink: SmtpSink) {
        app.register("web@example.com").await;
        let (status, signin) = page(&app, &Session::bearer_only(""), "/signin").await;
        assert_eq!(status, 200);
        assert!(signin.contains("href=\"/forgot\"") && signin.contains("Forgot your password?"), "{signin}");
        // The forgot page carries the pre-session token, like sign-in.
        let r = browser().get(format!("{}/forgot", app.base)).send().await.unwrap();
        let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
        let html = r.text().await.unwrap();
        assert!(html.contains("name=\"email\""), "{html}");
        let csrf = csrf_in(&html);
        let (status, _, body) = post_form(&app, &cookie, "/forgot", &[("csrf_token", &csrf), ("email", "web@example.com")]).await;
        assert_eq!(status, 202, "{body}");
        assert!(body.contains("we sent it a link"), "{body}");
        let mail = eventually("the mail", async || mails_to(&sink, "web@example.com").first().cloned()).await;
        let token = token_after(&mail, "/reset/");
        let path = format!("/reset/{token}");
        let (status, _, body) = post_form(&app, &cookie, &path, &[("csrf_token", &csrf), ("new_password", "short")]).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("aria-invalid=\"true\""), "{body}");
        let (status, location, _) =
            post_form(&app, &cookie, &path, &[("csrf_token", &csrf), ("new_password", NEW_PASSWORD)]).await;
        assert_eq!((status, location.as_str()), (303, "/signin?notice=password_reset"));
        assert_eq!(login_with(&app, "web@example.com", NEW_PASSWORD).await, 200);
        // Without the pre-session token nothing happens.
        let (status, _, _) = post_form(&app, "", "/forgot", &[("email", "web@example.com")]).await;
        assert_eq!(status, 403);
    }
}

both_backends! {
    async fn without_mail_a_reset_request_still_answers_202_and_the_page_names_the_operator(app: TestApp) {
        app.register("nomail@example.com").await;
        let r = app.post("/api/v1/auth/password-reset").json(json!({"email": "nomail@example.com"})).send().await;
        assert_eq!(r.status, 202, "{}", r.text);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM password_resets").await, 0, "no link nobody can receive");
        app.post("/api/v1/auth/password-reset").json(json!({"email": "not an email"})).send().await.assert_problem(422, "validation");
        let (status, html) = page(&app, &Session::bearer_only(""), "/forgot").await;
        assert_eq!(status, 200);
        assert!(html.contains("steward admin reset-password"), "{html}");
        assert!(!html.contains("name=\"email\""), "no form that cannot work: {html}");
    }

    async fn changing_the_password_with_2fa_needs_a_code(app: TestApp) {
        let s = app.user("code@example.com").await;
        let secret = enrol(&app, &s).await;
        let change = |code: Option<String>| {
            app.post("/api/v1/me/password").auth(&s)
                .json(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "totp": code}))
        };
        change(None).send().await.assert_problem(401, "totp-required");
        app.clock.advance(Duration::from_secs(30));
        change(Some("123456".into())).send().await.assert_problem(403, "forbidden");
        assert_eq!(login_with(&app, "code@example.com", NEW_PASSWORD).await, 401);
        let ok = change(Some(totp_code(&secret, &app, 0))).send().await;
        assert_eq!(ok.status, 204, "{}", ok.text);
    }

    async fn the_security_page_changes_the_password(app: TestApp) {
        let s = app.user("form@example.com").await;
        let other = app.login("form@example.com").await;
        let (status, html) = page(&app, &s, "/security").await;
        assert_eq!(status, 200);
        assert!(html.contains("action=\"/security/password\"") && html.contains("name=\"current_password\""), "{html}");
        let csrf = csrf_in(&html);
        let (status, _, body) = post_form(&app, &s.cookie(), "/security/password",
            &[("csrf_token", &csrf), ("current_password", "wrong-password-here"), ("new_password", NEW_PASSWORD)]).await;
        assert_eq!(status, 403, "{body}");
        let (status, location, _) = post_form(&app, &s.cookie(), "/security/password",
            &[("csrf_token", &csrf), ("current_password", PASSWORD), ("new_password", NEW_PASSWORD)]).await;
        assert_eq!((status, location.as_str()), (303, "/security?notice=password_changed"));
        assert_eq!(status_of_me(&app, &other).await, 401);
        assert_eq!(page(&app, &s, "/security").await.0, 200);
    }
}
