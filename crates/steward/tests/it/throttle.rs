//! Throttling that holds: concurrent guesses checked at most up to the limit, device cookies
//! that keep the owner in, IPv6 /64s counted as one address, every step-up throttled, account
//! deletion asking for the password, and refused credentials counted per address and minute.
use std::time::Duration;

use serde_json::{Value, json};
use steward_app::config::Settings;

use crate::helpers::accounts::{member, sandbox_account};
use crate::helpers::*;

const WRONG: &str = "not-the-passphrase";

/// The `steward_device=…` pair a response set, as a browser would send it back.
fn device_cookie(r: &Resp) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("steward_device="))
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
}

fn login(app: &TestApp, email: &str, password: &str) -> Req {
    app.post("/api/v1/auth/login").json(json!({"email": email, "password": password}))
}

/// Fires `n` wrong sign-ins for `email` at once; answers their statuses and Retry-After headers.
async fn concurrent_guesses(app: &TestApp, email: &str, n: usize) -> Vec<(u16, Option<String>)> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (client, url) = (app.client.clone(), format!("{}/api/v1/auth/login", app.base));
        let body = json!({"email": email, "password": WRONG});
        set.spawn(async move {
            let r = client.post(url).json(&body).send().await.expect("request");
            let retry = r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
            (r.status().as_u16(), retry)
        });
    }
    set.join_all().await
}

/// Turns 2FA on for `s`; answers the base32 secret.
async fn turn_on_2fa(app: &TestApp, s: &Session) -> String {
    let r = app.post("/api/v1/me/totp").auth(s).send().await;
    let secret = r.body["secret"].as_str().expect("secret").to_string();
    let r = app.post("/api/v1/me/totp/confirm").auth(s).json(json!({"code": totp_code(&secret, app, 0)})).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    secret
}

fn per_ip(limit: i64) -> impl FnOnce(&mut Settings) {
    move |s: &mut Settings| {
        s.login_max_failures_per_ip = limit;
        s.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    }
}

both_backends! {
    async fn concurrent_guesses_are_checked_at_most_up_to_the_limit(app: TestApp) {
        app.register("target@example.com").await;
        let answers = concurrent_guesses(&app, "target@example.com", 40).await;
        let checked = answers.iter().filter(|(s, _)| *s == 401).count();
        let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == 429).collect();
        assert_eq!(checked + refused.len(), 40, "{answers:?}");
        assert!((1..=5).contains(&checked), "{checked} guesses were checked; the limit is 5");
        for (_, retry) in &refused {
            let secs: u64 = retry.as_deref().expect("Retry-After on every 429").parse().unwrap();
            assert!((1..=900).contains(&secs), "Retry-After {secs}");
        }
        // The store agrees: no more failures were recorded than the limit.
        let failed = app.state.store.failed_attempts("sign_in", "target@example.com", 0).await.unwrap();
        assert_eq!(usize::try_from(failed).unwrap(), checked);
        // And the audit log holds one denial per request, the checked ones as wrong passwords.
        let events = app.state.store.audit_events_after(0, 10_000).await.unwrap();
        let wrong = events.iter().filter(|e| e.action == "auth.login" && e.outcome == "denied" && e.detail.contains("password is wrong")).count();
        assert_eq!(wrong, checked);
    }

    async fn a_device_cookie_keeps_the_owner_in_and_the_alert_still_fires(app: TestApp) {
        app.register("owner@example.com").await;
        app.register("other@example.com").await;
        let first = login(&app, "owner@example.com", PASSWORD).send().await;
        assert_eq!(first.status, 200, "{}", first.text);
        let cookie = device_cookie(&first).expect("every sign-in sets a device cookie");
        let set = first.headers.get_all("set-cookie").iter().find_map(|v| v.to_str().ok().filter(|c| c.starts_with("steward_device="))).unwrap().to_string();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "{set}");
        let others = device_cookie(&login(&app, "other@example.com", PASSWORD).send().await).unwrap();

        // An attacker without the cookie: at most the limit checked, then refused.
        let answers = concurrent_guesses(&app, "owner@example.com", 40).await;
        assert!(answers.iter().filter(|(s, _)| *s == 401).count() <= 5);
        assert!(answers.iter().any(|(s, _)| *s == 429));

        // Without the cookie, even the owner waits; with someone else's or a forged one too.
        login(&app, "owner@example.com", PASSWORD).send().await.assert_problem(429, "rate-limited");
        login(&app, "owner@example.com", PASSWORD).header("cookie", &others).send().await.assert_problem(429, "rate-limited");
        let last = if cookie.ends_with('0') { '1' } else { '0' };
        let forged = format!("{}{last}", &cookie[..cookie.len() - 1]);
        login(&app, "owner@example.com", PASSWORD).header("cookie", &forged).send().await.assert_problem(429, "rate-limited");

        // With their device cookie, the owner signs in, and keeps the same device.
        let back = login(&app, "owner@example.com", PASSWORD).header("cookie", &cookie).send().await;
        assert_eq!(back.status, 200, "{}", back.text);
        assert_eq!(device_cookie(&back).as_deref(), Some(cookie.as_str()));
        // A trusted device has its own limit: its own wrong passwords still count.
        for _ in 0..5 {
            login(&app, "owner@example.com", WRONG).header("cookie", &cookie).send().await.assert_problem(401, "invalid-credentials");
        }
        login(&app, "owner@example.com", PASSWORD).header("cookie", &cookie).send().await.assert_problem(429, "rate-limited");

        // The failed sign-ins were noticed.
        let s = Session::from_login(&back);
        let alerts = app.get("/api/v1/alerts").auth(&s).send().await;
        assert_eq!(alerts.status, 200, "{}", alerts.text);
        assert!(alerts.body["items"].as_array().unwrap().iter().any(|a| a["kind"] == "failed_sign_ins"), "{}", alerts.text);
    }

    async fn the_web_sign_in_sets_the_device_cookie_too(app: TestApp) {
        app.register("browser@example.com").await;
        let page = html::browser().get(format!("{}/signin", app.base)).send().await.unwrap();
        let pre = page.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
        let token = html::csrf_in(&page.text().await.unwrap());
        let r = html::browser().post(format!("{}/signin", app.base)).header("cookie", &pre)
            .form(&[("csrf_token", token.as_str()), ("email", "browser@example.com"), ("password", PASSWORD), ("next", "/")])
            .send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303);
        let cookies: Vec<&str> = r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
        assert!(cookies.iter().any(|c| c.starts_with("steward_session=sts_")), "{cookies:?}");
        let device = cookies.iter().find(|c| c.starts_with("steward_device=v1.")).expect("a device cookie");
        assert!(device.contains("HttpOnly") && device.contains("SameSite=Strict"), "{device}");
    }

    async fn an_ipv6_slash_64_shares_one_limit(app: TestApp) {
        let Some(app) = TestApp::spawn_with(app.backend, per_ip(3)).await else { return };
        let from = |ip: &str, email: &str| login(&app, email, WRONG).header("x-forwarded-for", ip);
        for i in 0..3 {
            from("2001:db8:1:2::1", &format!("spray{i}@example.com")).send().await.assert_problem(401, "invalid-credentials");
        }
        // Another address of the same /64 is the same client.
        from("2001:db8:1:2:ffff::9", "spray9@example.com").send().await.assert_problem(429, "rate-limited");
        // The next /64 is another one; so is an IPv4 address.
        from("2001:db8:1:3::1", "spray9@example.com").send().await.assert_problem(401, "invalid-credentials");
        from("192.0.2.1", "spray9@example.com").send().await.assert_problem(401, "invalid-credentials");
        // The audit log names the client's own address, not the proxy's.
        let events = app.state.store.audit_events_after(0, 10_000).await.unwrap();
        assert!(events.iter().any(|e| e.ip.as_deref() == Some("2001:db8:1:3::1")));
    }

    async fn forwarded_for_is_ignored_from_untrusted_peers(app: TestApp) {
        let Some(app) = TestApp::spawn_with(app.backend, |s| s.login_max_failures_per_ip = 3).await else { return };
        for i in 0..3 {
            login(&app, &format!("spray{i}@example.com"), WRONG).header("x-forwarded-for", &format!("192.0.2.{i}")).send().await.assert_problem(401, "invalid-credentials");
        }
        login(&app, "spray9@example.com", WRONG).header("x-forwarded-for", "198.51.100.7").send().await.assert_problem(429, "rate-limited");
    }

    async fn every_step_up_is_throttled(app: TestApp) {
        let window = app.state.settings.login_window;
        // Ownership transfer.
        let owner = app.user("giver@example.com").await;
        let acc = sandbox_account(&app, &owner, "giving").await;
        let heir = member(&app, &owner, &acc, "heir@example.com", "admin").await;
        let transfer = |password: &str| app.post(&format!("/api/v1/accounts/{acc}/transfer")).auth(&owner).json(json!({"to_user_id": heir.user_id, "password": password})).send();
        for _ in 0..5 {
            transfer(WRONG).await.assert_problem(403, "forbidden");
        }
        let r = transfer(PASSWORD).await;
        r.assert_problem(429, "rate-limited");
        assert!(r.header("retry-after").is_some());
        // The limit is the person's, whatever the step: deleting waits too.
        let delete = |password: &str| app.delete(&format!("/api/v1/accounts/{acc}")).auth(&owner).json(json!({"password": password})).send();
        delete(PASSWORD).await.assert_problem(429, "rate-limited");
        app.clock.advance(window + Duration::from_secs(1));
        assert_eq!(transfer(PASSWORD).await.status, 200);

        // Account deletion (now by the heir, who owns it), which strangers' sign-in guesses do not block.
        for _ in 0..5 {
            login(&app, "heir@example.com", WRONG).send().await;
        }
        let delete = |password: &str| app.delete(&format!("/api/v1/accounts/{acc}")).auth(&heir).json(json!({"password": password})).send();
        for _ in 0..5 {
            delete(WRONG).await.assert_problem(403, "forbidden");
        }
        let r = delete(PASSWORD).await;
        r.assert_problem(429, "rate-limited");
        assert!(r.header("retry-after").is_some());
        assert_eq!(app.get(&format!("/api/v1/accounts/{acc}")).auth(&heir).send().await.status, 200, "still there");

        // Turning 2FA off.
        let careful = app.user("careful@example.com").await;
        let secret = turn_on_2fa(&app, &careful).await;
        let off = |code: String| app.req(reqwest::Method::DELETE, "/api/v1/me/totp").auth(&careful).json(json!({"code": code})).send();
        for _ in 0..5 {
            off("000000".into()).await.assert_problem(403, "forbidden");
        }
        let r = off(totp_code(&secret, &app, 1)).await;
        r.assert_problem(429, "rate-limited");
        assert!(r.header("retry-after").is_some());
        assert_eq!(app.get("/api/v1/me").auth(&careful).send().await.body["totp_enabled"], true);
    }

    async fn deleting_an_account_asks_for_the_password_again(app: TestApp) {
        let owner = app.user("leaving@example.com").await;
        let acc = sandbox_account(&app, &owner, "leaving").await;
        let path = format!("/api/v1/accounts/{acc}");
        let still_there = async || app.get(&path).auth(&owner).send().await.status == 200;
        let r = app.delete(&path).auth(&owner).json(json!({})).send().await;
        r.assert_problem(422, "validation");
        assert!(still_there().await);
        app.delete(&path).auth(&owner).json(json!({"password": WRONG})).send().await.assert_problem(403, "forbidden");
        assert!(still_there().await);
        // With 2FA on, the code too.
        let secret = turn_on_2fa(&app, &owner).await;
        app.delete(&path).auth(&owner).json(json!({"password": PASSWORD})).send().await.assert_problem(401, "totp-required");
        assert!(still_there().await);
        let r = app.delete(&path).auth(&owner).json(json!({"password": PASSWORD, "totp": totp_code(&secret, &app, 1)})).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(app.get(&path).auth(&owner).send().await.status, 404);
        let events = app.state.store.audit_events_after(0, 10_000).await.unwrap();
        assert!(events.iter().any(|e| e.action == "accounts.delete" && e.outcome == "allowed"));
    }

    async fn the_settings_page_deletes_the_account_with_the_password(app: TestApp) {
        let owner = app.user("web-owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "web").await;
        let admin = member(&app, &owner, &acc, "web-admin@example.com", "admin").await;
        let settings = format!("/accounts/{acc}/settings");
        let form = format!("action=\"/accounts/{acc}/delete\"");
        let (status, page) = html::page(&app, &admin, &settings).await;
        assert_eq!(status, 200);
        assert!(!page.contains(&form), "only the owner is offered deletion");
        let (status, page) = html::page(&app, &owner, &settings).await;
        assert_eq!(status, 200);
        assert!(page.contains(&form) && page.contains("type=\"password\""), "{page}");
        let csrf = html::csrf_in(&page);
        let delete = format!("/accounts/{acc}/delete");
        // The first press only asks (a confirmation page); nothing is deleted.
        let (status, _, body) = html::post_form(&app, &owner.cookie(), &delete, &[("csrf_token", &csrf), ("password", PASSWORD)]).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("Yes, delete the account") && body.contains("name=\"confirm\" value=\"yes\""), "{body}");
        assert_eq!(app.get(&format!("/api/v1/accounts/{acc}")).auth(&owner).send().await.status, 200);
        let (status, _, body) = html::post_form(&app, &owner.cookie(), &delete, &[("csrf_token", &csrf), ("confirm", "yes"), ("password", WRONG)]).await;
        assert_eq!(status, 403);
        assert!(body.contains("password is wrong"), "{body}");
        assert_eq!(app.get(&format!("/api/v1/accounts/{acc}")).auth(&owner).send().await.status, 200);
        let (status, location, _) = html::post_form(&app, &owner.cookie(), &delete, &[("csrf_token", &csrf), ("confirm", "yes"), ("password", PASSWORD)]).await;
        assert_eq!((status, location.as_str()), (303, "/?notice=deleted"));
        assert_eq!(app.get(&format!("/api/v1/accounts/{acc}")).auth(&owner).send().await.status, 404);
    }

    async fn refused_credentials_are_one_event_per_address_and_minute(app: TestApp) {
        let Some(app) = TestApp::spawn_with(app.backend, |s| s.refused_credentials_per_minute = 10).await else { return };
        let known = app.user("known@example.com").await;
        // Start at the top of a minute, so the burst below stays within one.
        let now = app.clock.now_us();
        app.clock.advance(Duration::from_micros(u64::try_from(60_000_000 - now.rem_euclid(60_000_000)).unwrap()));
        let before = app.state.store.audit_events_after(0, 10_000).await.unwrap().len();
        let bogus = |token: &'static str| app.get("/api/v1/me").bearer(token).send();
        for i in 0..10 {
            let token = if i % 2 == 0 { "sts_not-a-session" } else { "stp_not-a-token" };
            bogus(token).await.assert_problem(401, "unauthenticated");
        }
        // Past the limit, the address waits for the next minute.
        for _ in 0..2 {
            let r = bogus("sts_still-guessing").await;
            r.assert_problem(429, "rate-limited");
            let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=60).contains(&secs), "{secs}");
        }
        // A signed-out (revoked) session counts the same way.
        app.post("/api/v1/auth/logout").auth(&known).send().await;
        bogus_session(&app, &known).await.assert_problem(429, "rate-limited");
        let events = app.state.store.audit_events_after(0, 10_000).await.unwrap();
        let logged_out = events.iter().filter(|e| e.action == "auth.logout").count();
        assert_eq!(events.len(), before + logged_out, "no event per refused request: {:?}", &events[before..]);

        // The minute over, the next refusal records it: one event with the count.
        app.clock.advance(Duration::from_secs(60));
        bogus("sts_again").await.assert_problem(401, "unauthenticated");
        let events = app.state.store.audit_events_after(0, 10_000).await.unwrap();
        let bursts: Vec<_> = events.iter().filter(|e| e.action == "auth.denied_burst").collect();
        assert_eq!(bursts.len(), 1, "{bursts:?}");
        let detail: Value = serde_json::from_str(&bursts[0].detail).unwrap();
        assert_eq!(detail["count"], 13, "{detail}");
        assert_eq!(bursts[0].ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(bursts[0].outcome, "denied");

        // A known member's own refusals stay individual.
        let member = app.user("member@example.com").await;
        let token = app.post("/api/v1/me/tokens").auth(&member).json(json!({"name": "reader", "scopes": ["read"]})).send().await;
        let reader = token.body["token"].as_str().unwrap().to_string();
        app.post("/api/v1/auth/logout").bearer(&reader).send().await.assert_problem(403, "forbidden");
        let events = app.state.store.audit_events_after(0, 10_000).await.unwrap();
        assert!(events.iter().any(|e| e.outcome == "denied" && e.actor_id.as_deref() == Some(member.user_id.as_str())));
    }
}

async fn bogus_session(app: &TestApp, s: &Session) -> Resp {
    app.get("/api/v1/me").auth(s).send().await
}
