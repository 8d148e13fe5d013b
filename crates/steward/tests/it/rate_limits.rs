//! Platform rate limits through the real scheduler: a published limit is kept
//! before the platform is called, a 429 without a hint waits for the documented reset, and a
//! rate limit never uses up a post's attempts.
use std::time::Duration;
use steward_domain::ids::PostId;

use serde_json::json;
use steward_connectors::OauthApp;
use steward_doubles::mastodon::{Config as MastodonConfig, MastodonDouble};
use steward_doubles::{Fault, linkedin, tiktok};
use steward_store::PostRow;

use crate::helpers::oauth::{self, start};
use crate::helpers::seed::{insert_due_post, seal_mastodon_account};
use crate::helpers::*;

/// A fresh server (same backend as `app`) configured by `tweak`, with an owner who connected
/// one account through the OAuth flow described by `connect`.
async fn connected(
    app: TestApp,
    tweak: impl FnOnce(&mut steward_server::Settings),
    connect: serde_json::Value,
) -> Option<(TestApp, Session, String)> {
    let backend = app.backend;
    drop(app);
    let app = TestApp::spawn_with(backend, tweak).await?;
    let owner = app.user("owner@example.com").await;
    let back = start(&app, &owner, connect).await;
    oauth::connected(&app, &owner, &back).await;
    let account =
        app.get("/api/v1/accounts").auth(&owner).send().await.body["items"][0]["id"].as_str().unwrap().to_string();
    Some((app, owner, account))
}

async fn post(app: &TestApp, id: &str) -> PostRow {
    app.state.store.post(&PostId::new(id.to_string())).await.unwrap().unwrap()
}

/// Wakes the scheduler until `done` holds for the post.
async fn wait_for(app: &TestApp, id: &str, what: &str, done: impl Fn(&PostRow) -> bool) -> PostRow {
    for _ in 0..600 {
        let p = post(app, id).await;
        if done(&p) {
            return p;
        }
        app.state.scheduler.wake();
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("post {id} never {what}: {:?}", post(app, id).await);
}

fn rescheduled_with_error(p: &PostRow) -> bool {
    p.state.as_str() == "scheduled" && p.last_error.is_some()
}

async fn actions(app: &TestApp, post_id: &str) -> Vec<String> {
    let target = format!("post:{post_id}");
    app.state
        .store
        .audit_events_after(0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.target.as_deref() == Some(target.as_str()) && e.action.starts_with("posts.publish"))
        .map(|e| e.action)
        .collect()
}

both_backends! {
    async fn a_platform_rate_limit_on_a_request_answers_429_with_the_platforms_reset(app: TestApp) {
        let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
        let owner = app.user("limited@example.com").await;
        let account = seal_mastodon_account(&app.state.store, app.state.vault(), &owner.user_id, &d, app.clock.now_us()).await;
        d.inject("/api/v1/accounts/verify_credentials", Fault::RateLimited);
        let reset = (d.now() / d.config().api_window + 1) * d.config().api_window;
        let r = app.post(&format!("/api/v1/accounts/{account}/check")).auth(&owner).send().await;
        r.assert_problem(429, "rate-limited");
        assert!(r.body["detail"].as_str().unwrap().starts_with("Mastodon's rate limit for this account was reached"), "{}", r.text);
        let retry: i64 = r.header("retry-after").expect("Retry-After").parse().unwrap();
        let expected = reset - d.now();
        assert!((expected - 2..=expected + 2).contains(&retry), "Retry-After {retry}, the instance resets in {expected}");
        // Nothing changed: the account is still active, and it works once the limit is gone.
        let r = app.post(&format!("/api/v1/accounts/{account}/check")).auth(&owner).send().await;
        assert_eq!((r.status, r.body["status"].as_str()), (200, Some("active")), "{}", r.text);
    }

    async fn a_hintless_linkedin_429_waits_for_utc_midnight_and_uses_no_attempt(app: TestApp) {
        let double = linkedin::LinkedInDouble::start(linkedin::Config::default()).await.unwrap();
        let c = double.config();
        let oauth = OauthApp { client_id: c.client_id.clone(), client_secret: zeroize::Zeroizing::new(c.client_secret.clone()), auth_base: double.base.clone(), api_base: double.base.clone() };
        let Some((app, owner, account)) = connected(app, |s| s.linkedin = Some(oauth), json!({"platform": "linkedin", "account_kind": "member"})).await else { return };
        let max_attempts = i64::from(app.state.settings.publishing.max_attempts);
        // More refusals in a row than the post has attempts: a daily quota must not fail it.
        let refusals = max_attempts + 1;
        for _ in 0..refusals {
            double.inject("/rest/posts", Fault::RateLimited);
        }
        let id = insert_due_post(&app.state.store, &account, &owner.user_id, "Quota day", "[]", app.clock.now_us()).await;
        for round in 0..refusals {
            let now = app.clock.now_us() / 1_000_000;
            let midnight = (now / 86_400 + 1) * 86_400;
            // Refused, it goes back to its schedule, for the next 00:00 UTC.
            let p = wait_for(&app, &id, &format!("was moved to midnight in round {round}"), |p| {
                rescheduled_with_error(p) && p.scheduled_at == Some(midnight * 1_000_000)
            }).await;
            assert!(p.last_error.as_deref().unwrap().contains("rate limit"), "{p:?}");
            let job = app.state.store.publish_job(&PostId::new(id.to_string())).await.unwrap().unwrap();
            assert_eq!(job.attempts, 0, "round {round}: the refused attempt was given back");
            // Another post of the account, due meanwhile, waits for the same reset without a call.
            if round == 0 {
                let calls = double.requests().iter().filter(|r| r.method == "POST" && r.path == "/rest/posts").count();
                let other = insert_due_post(&app.state.store, &account, &owner.user_id, "Also today", "[]", app.clock.now_us()).await;
                let o = wait_for(&app, &other, "was deferred", rescheduled_with_error).await;
                assert_eq!(o.scheduled_at, Some(midnight * 1_000_000), "{o:?}");
                assert!(o.last_error.as_deref().unwrap().contains("Steward publishes it at"), "{o:?}");
                assert_eq!(double.requests().iter().filter(|r| r.method == "POST" && r.path == "/rest/posts").count(), calls, "no call for the deferred post");
                assert_eq!(actions(&app, &other).await, ["posts.publish_deferred"]);
                // Cancel it, so that it does not take a quota slot of the rounds below.
                let mut tx = app.state.store.begin().await.unwrap();
                let write = steward_store::PostStateWrite { state: "cancelled", schedule: steward_store::ScheduleWrite::Clear, hold_reason: None, clear_approvals: false };
                assert!(tx.apply_post_transition(&PostId::new(other.to_string()), "scheduled", 1, &write, app.clock.now_us()).await.unwrap());
                tx.commit().await.unwrap();
            }
            app.clock.advance(Duration::from_secs(u64::try_from(midnight - now + 1).unwrap()));
        }
        let p = wait_for(&app, &id, "was published", |p| matches!(p.state.as_str(), "published" | "failed")).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        assert_eq!(double.posts().len(), 1);
        let acts = actions(&app, &id).await;
        assert_eq!(acts.iter().filter(|a| *a == "posts.publish_retry").count(), usize::try_from(refusals).unwrap());
        assert_eq!(acts.last().map(String::as_str), Some("posts.published"));
    }

    async fn tiktok_six_posts_a_minute_the_seventh_waits_without_a_call(app: TestApp) {
        let double = tiktok::TikTokDouble::start(tiktok::Config::default()).await.unwrap();
        let c = double.config();
        let oauth = OauthApp { client_id: c.client_key.clone(), client_secret: zeroize::Zeroizing::new(c.client_secret.clone()), auth_base: double.base.clone(), api_base: double.base.clone() };
        let Some((app, owner, account)) = connected(app, |s| s.tiktok = Some(oauth), json!({"platform": "tiktok"})).await else { return };
        let media = r#"[{"url":"https://media.example.com/clip.mp4","kind":"video"}]"#;
        let start_us = app.clock.now_us();
        let mut ids = Vec::new();
        for i in 0..7 {
            ids.push(insert_due_post(&app.state.store, &account, &owner.user_id, &format!("Clip {i}"), media, start_us).await);
        }
        app.state.scheduler.wake();
        let inits = |d: &tiktok::TikTokDouble| d.requests().iter().filter(|r| r.path == "/v2/post/publish/video/init/").count();
        let mut deferred = Vec::new();
        for id in &ids {
            let p = wait_for(&app, id, "left `scheduled` or was deferred", |p| p.state.as_str() != "scheduled" || p.last_error.is_some()).await;
            if p.state.as_str() == "scheduled" {
                deferred.push(p);
            }
        }
        assert_eq!(deferred.len(), 1, "one of seven waits: {deferred:?}");
        // The calls run after the claim commits: wait for them to arrive.
        let inits_reach = async |n: usize| {
            for _ in 0..400 {
                if inits(&double) >= n { break; }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            inits(&double)
        };
        assert_eq!(inits_reach(6).await, 6, "six inits, no seventh");
        let d = &deferred[0];
        assert!(d.last_error.as_deref().unwrap().contains("TikTok allows at most 6 posts per minute"), "{d:?}");
        let first_call = attempt_starts(&app, &ids).await.into_iter().min().unwrap();
        let margin = steward_domain::rate_limits::ARRIVAL_MARGIN;
        let expected = (first_call.div_euclid(1_000_000) + i64::from(first_call % 1_000_000 != 0) + 60 + margin) * 1_000_000;
        assert_eq!(d.scheduled_at, Some(expected), "free when the oldest of the six leaves the minute, with the margin");
        assert!(app.state.store.publish_attempts(&d.id).await.unwrap().is_empty(), "no attempt was used");
        // A minute on, it goes out.
        // The double counts TikTok's sliding minute on its own clock: both move on together.
        let wait = Duration::from_micros(u64::try_from(expected - app.clock.now_us()).unwrap() + 1);
        double.advance(wait);
        app.clock.advance(wait);
        let p = wait_for(&app, &d.id, "was initialised", |p| p.state.as_str() != "scheduled").await;
        assert_ne!(p.state.as_str(), "failed", "{p:?}");
        assert_eq!(inits_reach(7).await, 7);
        // TikTok (whose double enforces the minute) never had to refuse one.
        for id in &ids {
            assert!(!actions(&app, id).await.iter().any(|a| a == "posts.publish_retry"), "{id} was refused");
        }
    }
}

/// When each attempt of these posts started.
async fn attempt_starts(app: &TestApp, ids: &[String]) -> Vec<i64> {
    let mut all = Vec::new();
    for id in ids {
        all.extend(
            app.state
                .store
                .publish_attempts(&PostId::new(id.to_string()))
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.started_at),
        );
    }
    all
}
