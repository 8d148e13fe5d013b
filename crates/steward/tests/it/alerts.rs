//! Suspicious-activity alerts: detection of every DESIGN.md case,
//! grouping, visibility, acknowledgement, preferences, and delivery by real SMTP and by a
//! signed webhook to a local HTTP receiver, with the retry after a failure.
use std::sync::{Arc, Mutex};
use std::time::Duration;
use steward_domain::ids::{AccountId, AlertId};

use reqwest::Method;
use serde_json::{Value, json};
use steward_doubles::smtp::SmtpSink;

use crate::helpers::accounts::{member, sandbox_account};
use crate::helpers::mail::eventually;
use crate::helpers::*;

async fn alerts(app: &TestApp, who: &Session) -> Vec<Value> {
    let r = app.get("/api/v1/alerts").auth(who).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

fn of_kind<'a>(list: &'a [Value], kind: &str) -> Vec<&'a Value> {
    list.iter().filter(|a| a["kind"] == kind).collect()
}

async fn patch_settings(app: &TestApp, who: &Session, account: &str, body: Value) -> Resp {
    app.req(Method::PATCH, &format!("/api/v1/accounts/{account}/settings")).auth(who).json(body).send().await
}

both_backends! {
    async fn a_change_by_someone_other_than_the_owner_alerts_and_repeats_are_grouped(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@grouped").await;
        let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
        let viewer = member(&app, &owner, &account, "viewer@example.com", "viewer").await;

        assert_eq!(patch_settings(&app, &owner, &account, json!({"min_gap_minutes": 5})).await.status, 200);
        assert!(of_kind(&alerts(&app, &owner).await, "settings_changed").is_empty(), "the owner's own change is no news");

        assert_eq!(patch_settings(&app, &admin, &account, json!({"min_gap_minutes": 10})).await.status, 200);
        let list = alerts(&app, &owner).await;
        let changed = of_kind(&list, "settings_changed");
        assert_eq!(changed.len(), 1, "{list:?}");
        let a = changed[0];
        assert_eq!(a["account_id"], account.as_str());
        assert_eq!(a["count"], 1);
        assert_eq!(a["severity"], "info");
        assert!(a["summary"].as_str().unwrap().contains("admin@example.com"), "{a}");
        assert!(a["acknowledged_at"].is_null());
        for f in ["id", "kind", "account_id", "user_id", "severity", "summary", "detail", "count", "created_at", "last_seen_at", "acknowledged_at"] {
            assert!(a.get(f).is_some(), "alert lacks {f}");
        }
        // The member changes of the fixture (the owner invited) raised nothing either.
        assert!(of_kind(&list, "member_changed").is_empty());

        // The same kind again within 15 minutes: the alert's count rises, no new alert.
        app.clock.advance(Duration::from_secs(600));
        assert_eq!(patch_settings(&app, &admin, &account, json!({"min_gap_minutes": 11})).await.status, 200);
        let list = alerts(&app, &owner).await;
        let changed = of_kind(&list, "settings_changed");
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0]["count"], 2);
        assert_ne!(changed[0]["last_seen_at"], changed[0]["created_at"]);
        let id = changed[0]["id"].as_str().unwrap().to_string();

        // Admins see the account's alerts; a viewer does not, and cannot acknowledge them.
        assert_eq!(of_kind(&alerts(&app, &admin).await, "settings_changed").len(), 1);
        assert!(alerts(&app, &viewer).await.iter().all(|a| a["account_id"].is_null()));
        app.post(&format!("/api/v1/alerts/{id}/ack")).auth(&viewer).send().await.assert_problem(404, "not-found");

        let ack = app.post(&format!("/api/v1/alerts/{id}/ack")).auth(&owner).send().await;
        assert_eq!(ack.status, 204, "{}", ack.text);
        let list = alerts(&app, &owner).await;
        assert!(of_kind(&list, "settings_changed")[0]["acknowledged_at"].is_string(), "stays listed, acknowledged");
        let r = app.get("/api/v1/alerts?unacknowledged=true").auth(&owner).send().await;
        assert!(r.body["items"].as_array().unwrap().iter().all(|a| a["id"] != id.as_str()));

        // After an acknowledgement, the next finding is a new alert.
        assert_eq!(patch_settings(&app, &admin, &account, json!({"min_gap_minutes": 12})).await.status, 200);
        assert_eq!(of_kind(&alerts(&app, &owner).await, "settings_changed").len(), 2);
        // And more than 15 minutes after the last one, a new alert too.
        app.clock.advance(Duration::from_secs(16 * 60));
        assert_eq!(patch_settings(&app, &admin, &account, json!({"min_gap_minutes": 13})).await.status, 200);
        assert_eq!(of_kind(&alerts(&app, &owner).await, "settings_changed").len(), 3);
    }

    async fn member_and_role_changes_by_an_admin_alert_the_owner(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@members").await;
        let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
        let editor = member(&app, &owner, &account, "editor@example.com", "editor").await;
        let r = app.req(Method::PATCH, &format!("/api/v1/accounts/{account}/members/{}", editor.user_id))
            .auth(&admin).json(json!({"role": "viewer"})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app.post(&format!("/api/v1/accounts/{account}/invitations")).auth(&admin)
            .json(json!({"email": "new@example.com", "role": "viewer"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let list = alerts(&app, &owner).await;
        assert_eq!(of_kind(&list, "role_changed").len(), 1, "{list:?}");
        assert_eq!(of_kind(&list, "member_changed").len(), 1, "{list:?}");
    }

    async fn repeated_denials_by_one_member_alert_at_the_threshold(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@denied").await;
        let editor = member(&app, &owner, &account, "editor@example.com", "editor").await;
        for i in 1..=10 {
            assert_eq!(patch_settings(&app, &editor, &account, json!({"min_gap_minutes": 5})).await.status, 403);
            let n = of_kind(&alerts(&app, &owner).await, "denied_actions").len();
            assert_eq!(n, usize::from(i == 10), "after {i} denials");
        }
        let list = alerts(&app, &owner).await;
        let a = of_kind(&list, "denied_actions")[0];
        assert!(a["summary"].as_str().unwrap().contains("editor@example.com"), "{a}");
        assert_eq!(a["severity"], "warning");
        patch_settings(&app, &editor, &account, json!({"min_gap_minutes": 5})).await;
        assert_eq!(of_kind(&alerts(&app, &owner).await, "denied_actions")[0]["count"], 2, "grouped");
        assert!(of_kind(&alerts(&app, &editor).await, "denied_actions").is_empty(), "editors do not see account alerts");
    }

    async fn thresholds_are_account_settings_with_defaults_and_validation(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@thresholds").await;
        let r = app.get(&format!("/api/v1/accounts/{account}")).auth(&owner).send().await;
        assert_eq!(r.body["settings"]["alert_thresholds"]["denied_actions"], json!({"count": 10, "minutes": 15}));
        assert_eq!(r.body["settings"]["alert_thresholds"]["post_burst"], json!({"count": 10, "minutes": 60}));
        let bad = patch_settings(&app, &owner, &account, json!({"alert_thresholds": {"denied_actions": {"count": 0, "minutes": 15}}})).await;
        bad.assert_problem(422, "validation");
        assert!(bad.text.contains("alert_thresholds.denied_actions.count"), "{}", bad.text);
        patch_settings(&app, &owner, &account, json!({"alert_thresholds": {"nonsense": 1}})).await.assert_problem(422, "validation");
        let ok = patch_settings(&app, &owner, &account, json!({"max_members": 20, "alert_thresholds": {"member_change_burst": {"count": 3, "minutes": 15}}})).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        assert_eq!(ok.body["settings"]["alert_thresholds"]["member_change_burst"], json!({"count": 3, "minutes": 15}));
        assert_eq!(ok.body["settings"]["alert_thresholds"]["denied_actions"]["count"], 10, "others keep their defaults");

        // Three member changes (by the owner) within 15 minutes now make a burst.
        for i in 0..2 {
            let r = app.post(&format!("/api/v1/accounts/{account}/invitations")).auth(&owner)
                .json(json!({"email": format!("b{i}@example.com"), "role": "viewer"})).send().await;
            assert_eq!(r.status, 201);
        }
        assert!(of_kind(&alerts(&app, &owner).await, "member_change_burst").is_empty());
        app.post(&format!("/api/v1/accounts/{account}/invitations")).auth(&owner)
            .json(json!({"email": "b3@example.com", "role": "viewer"})).send().await;
        assert_eq!(of_kind(&alerts(&app, &owner).await, "member_change_burst").len(), 1);
    }

    async fn sign_ins_from_a_new_device_and_repeated_failures_alert_the_person(app: TestApp) {
        let s = app.user("me@example.com").await;
        assert!(alerts(&app, &s).await.is_empty(), "the first device is no news");
        // The same device again: nothing.
        app.login("me@example.com").await;
        assert!(alerts(&app, &s).await.is_empty());
        let r = app.post("/api/v1/auth/login").header("user-agent", "Evil Browser/1.0")
            .json(json!({"email": "me@example.com", "password": PASSWORD})).send().await;
        assert_eq!(r.status, 200);
        let list = alerts(&app, &s).await;
        let a = of_kind(&list, "new_device_sign_in");
        assert_eq!(a.len(), 1, "{list:?}");
        assert_eq!(a[0]["user_id"], s.user_id.as_str());
        assert!(a[0]["account_id"].is_null());
        assert!(a[0]["detail"].as_str().unwrap().contains("Evil Browser/1.0"));

        for i in 1..=5 {
            let r = app.post("/api/v1/auth/login").json(json!({"email": "me@example.com", "password": "wrong-wrong-wrong"})).send().await;
            assert_eq!(r.status, 401);
            assert_eq!(of_kind(&alerts(&app, &s).await, "failed_sign_ins").len(), usize::from(i == 5), "after {i} failures");
        }
        let other = app.user("other@example.com").await;
        assert!(alerts(&app, &other).await.is_empty(), "personal alerts are personal");
    }

    async fn acting_outside_ones_windows_alerts_the_owner(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@windows").await;
        // A window on another weekday than today (UTC, the account's zone).
        let today = app.clock.now().to_zoned(jiff::tz::TimeZone::UTC).weekday().to_monday_zero_offset();
        let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let other_day = days[usize::try_from((today + 3) % 7).unwrap()];
        let r = app.post(&format!("/api/v1/accounts/{account}/invitations")).auth(&owner)
            .json(json!({"email": "w@example.com", "role": "editor", "windows": [{"days": [other_day], "start": "09:00", "end": "10:00"}]}))
            .send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let editor = app.user("w@example.com").await;
        let token = r.body["token"].as_str().unwrap();
        assert_eq!(app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&editor).send().await.status, 200);
        let list = alerts(&app, &owner).await;
        let a = of_kind(&list, "outside_window");
        assert_eq!(a.len(), 1, "{list:?}");
        assert!(a[0]["summary"].as_str().unwrap().contains("w@example.com"));
    }

    async fn a_failed_credential_and_a_burst_of_posts_alert_the_owner(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@cred").await;
        let id = AccountId::new(account.to_string());
        let generation = app.state.store.account_by_id(&id).await.unwrap().unwrap().credential_generation;
        assert!(steward_app::credentials::credential_refused(&app.state, &id, generation, "invalid_grant").await.unwrap());
        let list = alerts(&app, &owner).await;
        let a = of_kind(&list, "credential_failed");
        assert_eq!(a.len(), 1, "{list:?}");
        assert_eq!(a[0]["severity"], "critical");
        assert!(a[0]["detail"].as_str().unwrap().contains("invalid_grant"));

        // Creating a post records `posts.create`; ten within an hour are a burst.
        for i in 0..10 {
            app.state.store.append_audit(steward_store::NewAuditEvent {
                id: format!("00000000-0000-7000-9000-{i:012}"),
                at: app.clock.now_us(),
                actor_id: Some(owner.user_id.as_str().into()),
                actor_email: Some("owner@example.com".into()),
                action: "posts.create".into(),
                account_id: Some(account.as_str().into()),
                outcome: "allowed".into(),
                detail: "{}".into(),
                ..Default::default()
            }).await.unwrap();
            assert_eq!(of_kind(&alerts(&app, &owner).await, "post_burst").len(), usize::from(i == 9));
        }
    }

    async fn a_post_burst_fires_at_its_threshold_with_thousands_of_events_around_it(app: TestApp) {
        let owner = app.user("busy@example.com").await;
        let account = sandbox_account(&app, &owner, "@busy").await;
        let now = app.clock.now_us();
        let event = |i: usize, at: i64, action: &str| steward_store::NewAuditEvent {
            id: format!("00000000-0000-7000-8000-{i:012}"),
            at,
            actor_id: Some(owner.user_id.as_str().into()),
            actor_email: Some("busy@example.com".into()),
            action: action.into(),
            account_id: Some(account.as_str().into()),
            outcome: "allowed".into(),
            detail: "{}".into(),
            ..Default::default()
        };
        // A full account: 3,000 posts made before the hour's window, 1,000 edits inside it.
        let mut bulk: Vec<_> = (0..3000).map(|i| event(i, now - 2 * 3_600_000_000 - i64::try_from(i).unwrap(), "posts.create")).collect();
        bulk.extend((3000..4000).map(|i| event(i, now - 60_000_000, "posts.update")));
        steward_store::testing::append_audit_bulk(&app.state.store, &bulk).await.unwrap();

        for i in 0..13 {
            app.state.store.append_audit(event(10_000 + i, app.clock.now_us(), "posts.create")).await.unwrap();
            let list = alerts(&app, &owner).await;
            let bursts = of_kind(&list, "post_burst");
            // Nothing before the tenth post of the hour, then one alert that groups the rest.
            assert_eq!(bursts.len(), usize::from(i >= 9), "after post {}: {list:?}", i + 1);
            if i >= 9 {
                assert_eq!(bursts[0]["count"], i - 8, "{list:?}");
                assert!(bursts[0]["summary"].as_str().unwrap().starts_with("10 posts made on @busy"), "{list:?}");
            }
        }
    }

    async fn alert_preferences_validate_and_make_a_webhook_secret(app: TestApp) {
        let s = app.user("prefs@example.com").await;
        let r = app.get("/api/v1/me/alert-preferences").auth(&s).send().await;
        assert_eq!(r.body, json!({"email": true, "webhook_url": null, "kinds": null, "webhook_secret": null}));
        // The test server refuses private networks (STEWARD_ALLOW_PRIVATE_NETWORKS is off).
        let r = app.req(Method::PUT, "/api/v1/me/alert-preferences").auth(&s)
            .json(json!({"email": true, "webhook_url": "http://127.0.0.1:9/hook"})).send().await;
        r.assert_problem(422, "validation");
        assert!(r.text.contains("webhook_url"));
        let r = app.req(Method::PUT, "/api/v1/me/alert-preferences").auth(&s)
            .json(json!({"email": false, "kinds": ["lockdown", "bogus"]})).send().await;
        r.assert_problem(422, "validation");
        app.post("/api/v1/me/alert-preferences/rotate-secret").auth(&s).send().await.assert_problem(409, "conflict");
        let r = app.req(Method::PUT, "/api/v1/me/alert-preferences").auth(&s)
            .json(json!({"email": false, "kinds": ["lockdown"]})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["kinds"], json!(["lockdown"]));
    }

    async fn without_mail_no_email_is_queued_nor_given_up(app: TestApp) {
        assert!(!app.state.settings.mail_enabled(), "the test app has no SMTP server");
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@quiet").await;
        let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
        assert_eq!(patch_settings(&app, &admin, &account, json!({"min_gap_minutes": 9})).await.status, 200);
        let alert = of_kind(&alerts(&app, &owner).await, "settings_changed")[0].clone();
        let deliveries = app.state.store.deliveries_of_alert(&AlertId::from(alert["id"].as_str().unwrap())).await.unwrap();
        assert!(deliveries.is_empty(), "email is on by default, but there is no mail to send: {deliveries:?}");

        // One queued while mail was on (an older server, or the CLI) is dropped quietly by the
        // delivery loop, not retried twelve times.
        let store = app.state.store.clone().with_email_deliveries(true);
        let mut tx = store.begin().await.unwrap();
        let raised = steward_app::alerts::raise(&mut tx, steward_app::alerts::Finding {
            kind: steward_app::alerts::AlertKind::Lockdown,
            account_id: Some(account.as_str().into()),
            user_id: None,
            summary: "queued with mail on".into(),
            detail: "a test".into(),
            at: app.clock.now_us(),
        }).await.unwrap();
        tx.commit().await.unwrap();
        let steward_store::Raised::New { alert_id, deliveries } = raised else { panic!("{raised:?}") };
        assert_eq!(deliveries, 2, "owner and admin, by email");
        let done = eventually("the email deliveries dropped", async || {
            let d = app.state.store.deliveries_of_alert(&alert_id).await.unwrap();
            d.iter().all(|d| d.gave_up_at.is_some()).then_some(d)
        })
        .await;
        assert!(done.iter().all(|d| d.attempts == 1 && d.last_error.as_deref().unwrap().contains("mail is off")), "{done:?}");
    }
}

/// A local HTTP receiver: records each request; answers 500 to the first `fail_first`.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(axum::http::HeaderMap, String)>>>,
    fail_first: Arc<Mutex<usize>>,
}

impl Receiver {
    async fn start(fail_first: usize) -> (Self, String) {
        let me = Receiver { fail_first: Arc::new(Mutex::new(fail_first)), ..Default::default() };
        let state = me.clone();
        let router = axum::Router::new().route(
            "/hooks/steward",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    state.got.lock().unwrap().push((headers, body));
                    let mut fail = state.fail_first.lock().unwrap();
                    if *fail > 0 {
                        *fail -= 1;
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        axum::http::StatusCode::NO_CONTENT
                    }
                }
            }),
        );
        let (origin, _) = steward_doubles::serve(router).await.unwrap();
        (me, format!("{origin}/hooks/steward"))
    }
    fn requests(&self) -> Vec<(axum::http::HeaderMap, String)> {
        self.got.lock().unwrap().clone()
    }
}

fn hmac_hex(secret: &str, msg: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(msg.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

macro_rules! delivery_test {
    ($name:ident, $body:ident) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let sink = SmtpSink::start().await.unwrap();
                let app = crate::helpers::mail::mailing_app(Backend::Sqlite, &sink).await.unwrap();
                super::$body(app, sink).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let sink = SmtpSink::start().await.unwrap();
                if let Some(app) = crate::helpers::mail::mailing_app(Backend::Postgres, &sink).await {
                    super::$body(app, sink).await;
                }
            }
        }
    };
}

delivery_test!(an_alert_is_emailed_over_smtp_with_text_and_html, emailed);
async fn emailed(app: TestApp, sink: SmtpSink) {
    let owner = app.user("owner@example.com").await;
    let account = sandbox_account(&app, &owner, "@mailed").await;
    let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
    // The invitation was mailed too; the alert emails are the others.
    let alert_mails = || -> Vec<_> {
        sink.messages().into_iter().filter(|m| !crate::helpers::mail::readable(m).contains("invites you")).collect()
    };
    assert_eq!(sink.messages().len() - alert_mails().len(), 1, "the admin's invitation");
    assert_eq!(patch_settings(&app, &admin, &account, json!({"min_gap_minutes": 9})).await.status, 200);
    let mails = eventually("the email", async || {
        let m = alert_mails();
        (m.len() >= 2).then_some(m)
    })
    .await;
    // The owner and the admin both receive it (each by their own preferences: email by default).
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["admin@example.com", "owner@example.com"]);
    let m = mails.iter().find(|m| m.to == ["owner@example.com"]).unwrap();
    assert_eq!(m.from, "steward@example.com");
    // Undo quoted-printable soft line breaks and escapes, and header folding, to read it.
    let data = m.data.replace("=\r\n", "").replace("=3D", "=").replace("\r\n ", " ");
    assert!(data.contains("Subject: [Steward] admin@example.com made a change on @mailed"), "{data}");
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("Content-Type: text/plain") && data.contains("Content-Type: text/html"), "{data}");
    assert!(data.contains("<h1>admin@example.com made a change on @mailed"), "{data}");
    assert!(data.contains("Review and acknowledge it in Steward"), "{data}");
    // Grouped repeats send nothing more.
    assert_eq!(patch_settings(&app, &admin, &account, json!({"min_gap_minutes": 8})).await.status, 200);
    let alert = of_kind(&alerts(&app, &owner).await, "settings_changed")[0].clone();
    assert_eq!(alert["count"], 2);
    let deliveries = app.state.store.deliveries_of_alert(&AlertId::from(alert["id"].as_str().unwrap())).await.unwrap();
    assert_eq!(deliveries.len(), 2);
    eventually("both deliveries marked", async || {
        let d = app.state.store.deliveries_of_alert(&AlertId::from(alert["id"].as_str().unwrap())).await.unwrap();
        d.iter().all(|d| d.delivered_at.is_some()).then_some(())
    })
    .await;
    assert_eq!(alert_mails().len(), 2);
}

delivery_test!(a_webhook_is_signed_and_retried_after_a_500, webhooked);
async fn webhooked(app: TestApp, sink: SmtpSink) {
    let (receiver, url) = Receiver::start(1).await;
    let owner = app.user("owner@example.com").await;
    let r = app
        .req(Method::PUT, "/api/v1/me/alert-preferences")
        .auth(&owner)
        .json(json!({"email": false, "webhook_url": url}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let secret = r.body["webhook_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() > 60);
    let again = app.get("/api/v1/me/alert-preferences").auth(&owner).send().await;
    assert_eq!(again.body["webhook_secret"], secret.as_str(), "stable until rotated");

    let account = sandbox_account(&app, &owner, "@hooked").await;
    let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
    assert_eq!(patch_settings(&app, &admin, &account, json!({"min_gap_minutes": 9})).await.status, 200);

    let first = eventually("the first webhook call", async || receiver.requests().first().cloned()).await;
    let (headers, body) = first;
    let ts = headers["steward-timestamp"].to_str().unwrap().to_string();
    let sig = headers["steward-signature"].to_str().unwrap().to_string();
    assert_eq!(sig, format!("v1={}", hmac_hex(&secret, &format!("{ts}.{body}"))));
    let alert: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alert["kind"], "settings_changed");
    assert_eq!(alert["account_id"], account.as_str());
    assert_eq!(headers["content-type"], "application/json");

    // It answered 500: the retry comes within 30 s (10 s on the app's clock).
    let id = AlertId::from(alert["id"].as_str().unwrap());
    let hook = eventually("the failure recorded", async || {
        let d = app.state.store.deliveries_of_alert(&id).await.unwrap();
        d.into_iter().find(|d| d.channel == "webhook" && d.user_id == owner.user_id && d.last_error.is_some())
    })
    .await;
    assert!(hook.delivered_at.is_none());
    assert_eq!(hook.attempts, 1);
    assert!(hook.last_error.as_deref().unwrap().contains("500"));
    assert!(hook.next_attempt_at - app.clock.now_us() <= 30_000_000);
    app.clock.advance(Duration::from_secs(31));
    let second = eventually("the retry", async || receiver.requests().get(1).cloned()).await;
    assert_eq!(second.1, body, "the same alert");
    eventually("the delivery marked done", async || {
        let d = app.state.store.deliveries_of_alert(&id).await.unwrap();
        d.into_iter().find(|d| d.channel == "webhook" && d.user_id == owner.user_id && d.delivered_at.is_some())
    })
    .await;
    assert!(sink.messages().iter().all(|m| m.to != ["owner@example.com"]), "email was turned off");

    // Rotating changes the secret; the next delivery is signed with the new one.
    let rotated = app.post("/api/v1/me/alert-preferences/rotate-secret").auth(&owner).send().await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new_secret = rotated.body["webhook_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    let r = app.post(&format!("/api/v1/accounts/{account}/lockdown")).auth(&owner).json(json!({})).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let third = eventually("the lockdown webhook", async || receiver.requests().get(2).cloned()).await;
    let ts = third.0["steward-timestamp"].to_str().unwrap().to_string();
    assert_eq!(
        third.0["steward-signature"].to_str().unwrap(),
        format!("v1={}", hmac_hex(&new_secret, &format!("{ts}.{}", third.1)))
    );
    assert!(third.1.contains("\"kind\":\"lockdown\""));
}

delivery_test!(a_retried_delivery_does_not_reach_an_admin_removed_meanwhile, removed_meanwhile);
async fn removed_meanwhile(app: TestApp, _sink: SmtpSink) {
    // The admin's receiver fails its first call (500), so the delivery waits for a retry.
    let (receiver, url) = Receiver::start(1).await;
    let owner = app.user("owner@example.com").await;
    let account = sandbox_account(&app, &owner, "@retry").await;
    let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
    let r = app
        .req(Method::PUT, "/api/v1/me/alert-preferences")
        .auth(&admin)
        .json(json!({"email": false, "webhook_url": url}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let other = member(&app, &owner, &account, "other@example.com", "admin").await;
    assert_eq!(patch_settings(&app, &other, &account, json!({"min_gap_minutes": 9})).await.status, 200);
    let (_, body) = eventually("the first webhook call", async || receiver.requests().first().cloned()).await;
    let id = AlertId::from(serde_json::from_str::<Value>(&body).unwrap()["id"].as_str().unwrap());
    let to_admin = async || {
        let d = app.state.store.deliveries_of_alert(&id).await.unwrap();
        d.into_iter().find(|d| d.channel == "webhook" && d.user_id == admin.user_id)
    };
    eventually("the failure recorded", async || to_admin().await.filter(|d| d.last_error.is_some())).await;
    // The owner removes the admin before the retry is due: it is not sent, and says why.
    let r = app.delete(&format!("/api/v1/accounts/{account}/members/{}", admin.user_id)).auth(&owner).send().await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.clock.advance(Duration::from_secs(31));
    let given_up =
        eventually("the delivery given up", async || to_admin().await.filter(|d| d.gave_up_at.is_some())).await;
    assert!(given_up.last_error.as_deref().unwrap().contains("may no longer see"), "{given_up:?}");
    assert!(given_up.delivered_at.is_none());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.requests().len(), 1, "the removed admin's webhook heard nothing more");
}
