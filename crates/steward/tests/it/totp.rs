//! Two-factor sign-in: enrolment, replay protection, recovery codes.
use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

/// Enrols 2FA for a signed-in user; returns (base32 secret, recovery codes).
async fn enrol(app: &TestApp, s: &Session) -> (String, Vec<String>) {
    let r = app.post("/api/v1/me/totp").auth(s).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let uri = r.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Steward:") && uri.contains(&format!("secret={secret}")), "{uri}");
    // A wrong code does not turn 2FA on.
    let wrong = app.post("/api/v1/me/totp/confirm").auth(s).json(json!({"code": "000000"})).send().await;
    if wrong.status != 200 {
        wrong.assert_problem(422, "validation");
    }
    let r = app.post("/api/v1/me/totp/confirm").auth(s).json(json!({"code": totp_code(&secret, app, 0)})).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let codes: Vec<String> =
        r.body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

fn login_body(email: &str, totp: Option<&str>) -> serde_json::Value {
    match totp {
        Some(code) => json!({"email": email, "password": PASSWORD, "totp": code}),
        None => json!({"email": email, "password": PASSWORD}),
    }
}

both_backends! {
    async fn totp_sign_in_and_replay(app: TestApp) {
        let s = app.user("twofa@example.com").await;
        let (secret, _) = enrol(&app, &s).await;
        let me = app.get("/api/v1/me").auth(&s).send().await;
        assert_eq!(me.body["totp_enabled"], true);
        assert_eq!(me.body["recovery_codes_left"], 10);
        // The secret is sealed at rest, never stored in the clear.
        let row = app.state.store.user_by_email("twofa@example.com").await.unwrap().unwrap();
        let sealed = row.totp_secret_sealed.expect("sealed secret");
        let raw = totp_rs::Secret::try_from_base32(&secret).unwrap().as_bytes().to_vec();
        assert!(!sealed.windows(raw.len()).any(|w| w == raw.as_slice()));

        app.post("/api/v1/auth/login").json(login_body("twofa@example.com", None)).send().await.assert_problem(401, "totp-required");
        // The code that confirmed enrolment was consumed: it cannot sign anyone in.
        let enrol_code = totp_code(&secret, &app, 0);
        app.post("/api/v1/auth/login").json(login_body("twofa@example.com", Some(&enrol_code))).send().await
            .assert_problem(401, "invalid-credentials");
        app.clock.advance(Duration::from_secs(30));
        let code = totp_code(&secret, &app, 0);
        let ok = app.post("/api/v1/auth/login").json(login_body("twofa@example.com", Some(&code))).send().await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        // The same code again is a replay.
        app.post("/api/v1/auth/login").json(login_body("twofa@example.com", Some(&code))).send().await.assert_problem(401, "invalid-credentials");
        app.post("/api/v1/auth/login").json(login_body("twofa@example.com", Some("123456"))).send().await.assert_problem(401, "invalid-credentials");
        // One step of clock skew is accepted.
        app.clock.advance(Duration::from_secs(60));
        let behind = totp_code(&secret, &app, -1);
        assert_eq!(app.post("/api/v1/auth/login").json(login_body("twofa@example.com", Some(&behind))).send().await.status, 200);
        // Enrolling again needs 2FA off first.
        app.post("/api/v1/me/totp").auth(&s).send().await.assert_problem(409, "conflict");
    }

    async fn recovery_codes_work_once(app: TestApp) {
        let s = app.user("lostphone@example.com").await;
        let (_, codes) = enrol(&app, &s).await;
        let typed = codes[3].to_lowercase().replace('-', " ");
        let ok = app.post("/api/v1/auth/login").json(login_body("lostphone@example.com", Some(&typed))).send().await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        app.post("/api/v1/auth/login").json(login_body("lostphone@example.com", Some(&codes[3]))).send().await.assert_problem(401, "invalid-credentials");
        let fresh = Session::from_login(&ok);
        assert_eq!(app.get("/api/v1/me").auth(&fresh).send().await.body["recovery_codes_left"], 9);
    }

    async fn new_recovery_codes_carry_120_bits_and_codes_issued_before_keep_working(app: TestApp) {
        let s = app.user("upgrade@example.com").await;
        let (_, codes) = enrol(&app, &s).await;
        for c in &codes {
            let chars: String = c.chars().filter(|ch| *ch != '-').collect();
            assert_eq!(chars.len(), 24, "24 characters of 5 bits each: {c}");
            assert!(chars.chars().all(|ch| "ABCDEFGHJKLMNPQRSTUVWXYZ23456789".contains(ch)), "{c}");
        }
        // A code of the earlier format (12 characters), stored before the upgrade as its hash.
        let old = "K7QX-2M9P-TD4W";
        let hash = hex::encode(steward_app::twofactor::recovery_code_hash(old));
        let literal = match app.backend {
            Backend::Sqlite => format!("X'{hash}'"),
            Backend::Postgres => format!("decode('{hash}', 'hex')"),
        };
        app.raw_sql(&format!("INSERT INTO recovery_codes (user_id, code_hash) VALUES ('{}', {literal});", s.user_id)).await;
        let ok = app.post("/api/v1/auth/login").json(login_body("upgrade@example.com", Some("k7qx 2m9p td4w"))).send().await;
        assert_eq!(ok.status, 200, "the earlier code still signs in: {}", ok.text);
        app.post("/api/v1/auth/login").json(login_body("upgrade@example.com", Some(old))).send().await.assert_problem(401, "invalid-credentials");
        // A new code works too, once.
        let ok = app.post("/api/v1/auth/login").json(login_body("upgrade@example.com", Some(&codes[0]))).send().await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        app.post("/api/v1/auth/login").json(login_body("upgrade@example.com", Some(&codes[0]))).send().await.assert_problem(401, "invalid-credentials");
        // Half of a new code is not a code.
        let half: String = codes[1].chars().take(14).collect();
        app.post("/api/v1/auth/login").json(login_body("upgrade@example.com", Some(&half))).send().await.assert_problem(401, "invalid-credentials");
    }

    async fn turning_totp_off_needs_a_code(app: TestApp) {
        let s = app.user("off@example.com").await;
        let (secret, codes) = enrol(&app, &s).await;
        app.req(reqwest::Method::DELETE, "/api/v1/me/totp").auth(&s).json(json!({"code": "999999"})).send().await.assert_problem(403, "forbidden");
        app.clock.advance(Duration::from_secs(30));
        let r = app.req(reqwest::Method::DELETE, "/api/v1/me/totp").auth(&s).json(json!({"code": totp_code(&secret, &app, 0)})).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(app.post("/api/v1/auth/login").json(login_body("off@example.com", None)).send().await.status, 200);
        // Old recovery codes died with it.
        let row = app.state.store.user_by_email("off@example.com").await.unwrap().unwrap();
        assert!(!row.totp_enabled && row.totp_secret_sealed.is_none());
        assert_eq!(app.state.store.unused_recovery_code_count(&row.id).await.unwrap(), 0);
        let _ = codes;
    }

    async fn the_security_page_keeps_a_pending_secret_says_once_whether_2fa_is_on_and_offers_the_codes(app: TestApp) {
        use crate::helpers::html::{csrf_in, page, post_form};
        let s = app.user("page2fa@example.com").await;
        let (_, html) = page(&app, &s, "/security").await;
        assert_eq!(html.matches("Two-factor authentication is").count(), 1, "{html}");
        assert!(html.contains("Two-factor authentication is off."), "{html}");
        let csrf = csrf_in(&html);
        let (status, _, html) = post_form(&app, &s.cookie(), "/security/totp", &[("csrf_token", &csrf)]).await;
        assert_eq!(status, 200, "{html}");
        let secret_of = |html: &str| {
            let at = html.find("id=\"totp-secret\">").expect("the key") + "id=\"totp-secret\">".len();
            html[at..at + html[at..].find('<').unwrap()].to_string()
        };
        let secret = secret_of(&html);
        assert_eq!(html.matches("Two-factor authentication is").count(), 1, "{html}");
        let (status, _, html) =
            post_form(&app, &s.cookie(), "/security/totp/confirm", &[("csrf_token", &csrf), ("code", "000000")]).await;
        assert_eq!(status, 422, "{html}");
        assert_eq!(secret_of(&html), secret, "a mistyped code keeps the pending secret");
        // Coming back later shows the same enrolment too.
        assert_eq!(secret_of(&page(&app, &s, "/security").await.1), secret);
        let code = totp_code(&secret, &app, 0);
        let (status, _, html) =
            post_form(&app, &s.cookie(), "/security/totp/confirm", &[("csrf_token", &csrf), ("code", &code)]).await;
        assert_eq!(status, 200, "{html}");
        assert_eq!(html.matches("Two-factor authentication is").count(), 1, "{html}");
        assert!(html.contains("Two-factor authentication is on."), "{html}");
        assert!(html.contains("download=\"steward-recovery-codes.txt\"") && html.contains("href=\"data:text/plain;charset=utf-8,"), "{html}");
        assert!(html.contains("data-copy=\"recovery-codes-text\""), "{html}");
        let codes_box = html.find("id=\"recovery-codes-text\"").expect("the codes to copy");
        let rest = &html[codes_box..];
        let inner = &rest[rest.find('>').unwrap() + 1..rest.find("</textarea>").unwrap()];
        assert_eq!(inner.lines().count(), 10, "ten codes: {inner}");
    }
}
