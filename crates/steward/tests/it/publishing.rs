//! The publishing scheduler (DESIGN.md Invariant 10) on both databases: due posts go
//! out once, through the sandbox and through the Mastodon double; 429 waits for the hint, 5xx
//! backs off and reconciles with the same idempotency key, a refusal fails for good, and a due
//! post whose rules no longer hold (lost approval, lockdown, pace, revoked credential) is held
//! with a reason. Time moves with the test clock. The crash test runs the real binary.
use std::time::Duration;
use steward_domain::ids::{AccountId, AttemptId, PostId, UserId};

use serde_json::json;
use steward_doubles::Fault;
use steward_doubles::mastodon::{Config as MastodonConfig, MastodonDouble};
use steward_store::{NewPost, PostRow, PostStateWrite, ScheduleWrite};

use crate::helpers::seed::{ScheduledPost, insert_scheduled_post, seal_mastodon_account, uuid_v7};
use crate::helpers::{Session, TestApp, both_backends};

/// A sandbox account of a new owner.
pub async fn sandbox_owner(app: &TestApp, email: &str) -> (Session, String) {
    let owner = app.user(email).await;
    let r = app
        .post("/api/v1/accounts")
        .auth(&owner)
        .header("x-csrf-token", &owner.csrf)
        .json(json!({"platform": "sandbox", "handle": "@sandbox", "credentials": {}}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    (owner.clone(), r.body["id"].as_str().unwrap().to_string())
}

/// A post approved by `approver_id` and scheduled by `scheduler_id` for `at` (µs), written
/// straight to the store (the posts API is another module's); returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn scheduled_post(
    store: &steward_store::Store,
    account_id: &str,
    author_id: &str,
    approver_id: &str,
    approver_is_owner: bool,
    text: &str,
    at: i64,
    now: i64,
) -> String {
    let post = ScheduledPost { account_id, author_id, approver_id, approver_is_owner, text, media: "[]", at, now };
    insert_scheduled_post(store, post).await
}

async fn post(app: &TestApp, id: &str) -> PostRow {
    app.state.store.post(&PostId::new(id.to_string())).await.unwrap().unwrap()
}

/// Waits (wakes the scheduler, up to a generous deadline) until the post reaches a state the
/// scheduler does not leave on its own.
async fn settled(app: &TestApp, id: &str, wanted: &[&str]) -> PostRow {
    for _ in 0..600 {
        let p = post(app, id).await;
        if wanted.contains(&p.state.as_str()) {
            return p;
        }
        app.state.scheduler.wake();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("post {id} never reached {wanted:?}: {:?}", post(app, id).await);
}

async fn actions(app: &TestApp, post_id: &str) -> Vec<(String, serde_json::Value)> {
    let target = format!("post:{post_id}");
    let mut out = Vec::new();
    for e in app.state.store.audit_events_after(0, 100_000).await.unwrap() {
        if e.target.as_deref() == Some(target.as_str()) {
            out.push((e.action.clone(), serde_json::from_str(&e.detail).unwrap()));
        }
    }
    out
}

fn now_us(app: &TestApp) -> i64 {
    app.clock.now_us()
}

const HOUR: i64 = 3_600_000_000;

both_backends! {
    async fn due_post_goes_out_once_through_the_sandbox(app: TestApp) {
        let (owner, account) = sandbox_owner(&app, "due@example.com").await;
        let now = now_us(&app);
        let id = scheduled_post(&app.state.store, &account, &owner.user_id, &owner.user_id, true, "Hello sandbox", now + HOUR, now).await;
        // Not due yet: a round claims nothing and the post stays scheduled.
        assert_eq!(steward_app::scheduler::run_once(&app.state).await.unwrap(), 0);
        assert_eq!(post(&app, &id).await.state.as_str(), "scheduled");
        assert!(app.state.store.sandbox_posts(&AccountId::new(account.to_string())).await.unwrap().is_empty());

        app.clock.advance(Duration::from_secs(3601));
        let p = settled(&app, &id, &["published", "failed", "approved", "in_review"]).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        let live = app.state.store.sandbox_posts(&AccountId::new(account.to_string())).await.unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].text, "Hello sandbox");
        assert_eq!(p.external_id.as_deref(), Some(live[0].id.as_str()));
        assert_eq!(live[0].idempotency_key, steward_app::scheduler::idempotency_key(&PostId::new(id.to_string()), 1));
        assert!(p.published_at.is_some() && p.last_error.is_none());
        let attempts = app.state.store.publish_attempts(&PostId::new(id.to_string())).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].outcome.as_deref(), Some("published"));
        let job = app.state.store.publish_job(&PostId::new(id.to_string())).await.unwrap().unwrap();
        assert_eq!((job.state.as_str(), job.attempts), ("done", 1));
        let acts: Vec<String> = actions(&app, &id).await.into_iter().map(|(a, _)| a).collect();
        assert_eq!(acts, ["posts.publish_attempt", "posts.published"]);

        // A repeat of the key on the sandbox is a no-op answering the same post.
        let again = app.state.store.sandbox_publish(&steward_store::NewSandboxPost {
            id: "other", account_id: &AccountId::from(account.as_str()), idempotency_key: &live[0].idempotency_key,
            title: None, text: "changed", media: "[]", now,
        }).await.unwrap();
        assert_eq!(again.id, live[0].id);
        assert_eq!(app.state.store.sandbox_posts(&AccountId::new(account.to_string())).await.unwrap().len(), 1);
    }

    async fn sandbox_comments_replies_and_analytics(app: TestApp) {
        let (owner, account) = sandbox_owner(&app, "engage@example.com").await;
        let now = now_us(&app);
        let id = scheduled_post(&app.state.store, &account, &owner.user_id, &owner.user_id, true, "Talk to me", now, now).await;
        let p = settled(&app, &id, &["published", "failed"]).await;
        let ext = p.external_id.clone().unwrap();
        let acct = app.state.store.account_by_id(&AccountId::new(account.to_string())).await.unwrap().unwrap();
        let c = steward_app::platforms::sandbox::add_follower_comment(&app.state, &AccountId::new(account.to_string()), &ext, "@fan", "Nice!")
            .await.unwrap().unwrap();
        assert!(steward_app::platforms::sandbox::add_follower_comment(&app.state, &AccountId::new(account.to_string()), "sbx_nope", "@fan", "x")
            .await.unwrap().is_none());
        let reply = steward_app::platforms::reply(&app.state, &acct, &c.id, "Thanks").await.unwrap();
        assert_eq!((reply.parent_id.as_deref(), reply.post_external_id.as_str()), (Some(c.id.as_str()), ext.as_str()));
        let all = steward_app::platforms::comments(&app.state, &acct, std::slice::from_ref(&ext)).await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].author, "@fan");
        assert!(app.state.store.set_sandbox_engagement(&AccountId::new(account.to_string()), &ext, 120, 7, 2).await.unwrap());
        let stats = steward_app::platforms::analytics(&app.state, &acct, std::slice::from_ref(&ext)).await.unwrap();
        assert_eq!(stats.posts.len(), 1);
        let s = &stats.posts[0];
        assert_eq!((s.impressions, s.likes, s.comments, s.shares), (Some(120), Some(7), Some(2), Some(2)));
    }

    async fn mastodon_post_with_retry_hint_then_published(app: TestApp) {
        let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
        let owner = app.user("masto@example.com").await;
        let now = now_us(&app);
        let account = seal_mastodon_account(&app.state.store, app.state.vault(), &owner.user_id, &d, now).await;
        d.inject("/api/v1/statuses", Fault::RateLimited);
        let reset = (d.now() / d.config().api_window + 1) * d.config().api_window;
        let id = scheduled_post(&app.state.store, &account, &owner.user_id, &owner.user_id, true, "Toot", now, now).await;
        // The 429 sends it back to its schedule at the hint (nothing was published).
        let mut p = post(&app, &id).await;
        for _ in 0..600 {
            p = post(&app, &id).await;
            if p.state.as_str() == "scheduled" && p.last_error.is_some() { break; }
            app.state.scheduler.wake();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(p.state.as_str(), "scheduled", "{p:?}");
        assert!(p.last_error.as_deref().unwrap().contains("rate limit"), "{p:?}");
        let at_secs = p.scheduled_at.unwrap() / 1_000_000;
        // The hint is the reset of the window the 429 was answered in: the one `reset` was read
        // in, or the next when the test crossed a window's end meanwhile (a CI run did).
        let reset_after = (d.now() / d.config().api_window + 1) * d.config().api_window;
        assert!([reset, reset_after].iter().any(|r| (r - 2..=r + 2).contains(&at_secs)), "retry at {at_secs}, reset {reset} or {reset_after}");
        assert!(d.statuses().is_empty());

        app.clock.advance(Duration::from_secs(u64::try_from(at_secs - d.now() + 2).unwrap()));
        let p = settled(&app, &id, &["published", "failed"]).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        let statuses = d.statuses();
        assert_eq!(statuses.len(), 1);
        assert_eq!(p.external_id.as_deref(), Some(statuses[0].id.as_str()));
        let keys: Vec<String> = d.requests().iter().filter(|r| r.path == "/api/v1/statuses")
            .map(|r| r.header("idempotency-key").unwrap().to_string()).collect();
        assert_eq!(keys.len(), 2);
        assert!(keys.iter().all(|k| *k == steward_app::scheduler::idempotency_key(&PostId::new(id.to_string()), 1)));
        let acts: Vec<String> = actions(&app, &id).await.into_iter().map(|(a, _)| a).collect();
        assert_eq!(acts, ["posts.publish_attempt", "posts.publish_retry", "posts.publish_attempt", "posts.published"]);
    }

    async fn server_error_backs_off_and_committed_but_lost_is_reconciled(app: TestApp) {
        let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
        let owner = app.user("lost@example.com").await;
        let now = now_us(&app);
        let account = seal_mastodon_account(&app.state.store, app.state.vault(), &owner.user_id, &d, now).await;
        // The instance publishes, then the answer is lost (500): outcome unknown.
        d.lose_next_response("/api/v1/statuses");
        let id = scheduled_post(&app.state.store, &account, &owner.user_id, &owner.user_id, true, "Once only", now, now).await;
        let mut job = None;
        for _ in 0..600 {
            job = app.state.store.publish_job(&PostId::new(id.to_string())).await.unwrap();
            if job.as_ref().is_some_and(|j| j.state.as_str() == "waiting") { break; }
            app.state.scheduler.wake();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let job = job.unwrap();
        assert_eq!(job.state.as_str(), "waiting", "{job:?}");
        assert!(job.uncertain_since.is_some());
        let p = post(&app, &id).await;
        // In doubt, it stays `publishing` (not editable), with the reason and the next try.
        assert_eq!(p.state.as_str(), "publishing");
        assert!(p.last_error.as_deref().unwrap().contains("tries again"), "{p:?}");
        assert_eq!(d.statuses().len(), 1, "the instance has it already");
        let wait = (job.next_attempt_at.unwrap() - now_us(&app)) / 1_000_000 + 1;
        // Backoff: at least half the base delay (30 s by default), at most the base.
        assert!((15..=31).contains(&wait), "first retry in {wait} s");
        app.clock.advance(Duration::from_secs(u64::try_from(wait).unwrap()));
        let p = settled(&app, &id, &["published", "failed"]).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        assert_eq!(d.statuses().len(), 1, "the retry with the same key returned the original status");
        assert_eq!(p.external_id.as_deref(), Some(d.statuses()[0].id.as_str()));
        let attempts = app.state.store.publish_attempts(&PostId::new(id.to_string())).await.unwrap();
        assert_eq!(attempts.iter().map(|a| a.outcome.clone().unwrap()).collect::<Vec<_>>(), ["transient", "published"]);
        assert!(attempts[1].reconcile);
    }

    async fn a_retry_in_doubt_makes_no_call_while_the_account_is_locked_down(app: TestApp) {
        let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
        let owner = app.user("held@example.com").await;
        let now = now_us(&app);
        let account = seal_mastodon_account(&app.state.store, app.state.vault(), &owner.user_id, &d, now).await;
        // The first call fails (503): Steward cannot know whether it published, so it retries.
        d.inject_unavailable("/api/v1/statuses");
        let id = scheduled_post(&app.state.store, &account, &owner.user_id, &owner.user_id, true, "Not during a lockdown", now, now).await;
        let job = |app: &TestApp| {
            let store = app.state.store.clone();
            let id = PostId::new(id.to_string());
            async move { store.publish_job(&id).await.unwrap().unwrap() }
        };
        for _ in 0..600 {
            if app.state.store.publish_job(&PostId::new(id.to_string())).await.unwrap().is_some_and(|j| j.state.as_str() == "waiting") { break; }
            app.state.scheduler.wake();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(job(&app).await.state.as_str(), "waiting");
        assert!(d.statuses().is_empty());
        // The owner locks the account down while the retry waits; its time comes and goes.
        let r = app.post(&format!("/api/v1/accounts/{account}/lockdown")).auth(&owner).json(json!({})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        app.clock.advance(Duration::from_secs(120));
        let mut held = None;
        for _ in 0..600 {
            let j = job(&app).await;
            if j.last_error.as_deref().is_some_and(|e| e.contains("locked down")) { held = Some(j); break; }
            app.state.scheduler.wake();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let held = held.expect("the retry came due during the lockdown");
        assert_eq!(held.state.as_str(), "waiting", "{held:?}");
        assert!(held.uncertain_since.is_some(), "the doubt is kept for after the lockdown");
        assert!(d.statuses().is_empty(), "no publishing call while locked down");
        let p = post(&app, &id).await;
        assert_eq!(p.state.as_str(), "publishing");
        assert!(p.last_error.as_deref().unwrap().contains("locked down"), "{p:?}");
        // Lifted: the retry goes out (reconciling with the same key) and publishes it once.
        let r = app.post(&format!("/api/v1/accounts/{account}/lockdown/lift")).auth(&owner).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        app.clock.advance(Duration::from_secs(31));
        let p = settled(&app, &id, &["published", "failed"]).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        assert_eq!(d.statuses().len(), 1);
    }

    async fn rejection_fails_for_good_with_a_clear_error(app: TestApp) {
        let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
        let owner = app.user("reject@example.com").await;
        let now = now_us(&app);
        let account = seal_mastodon_account(&app.state.store, app.state.vault(), &owner.user_id, &d, now).await;
        let long = "x".repeat(501);
        let id = scheduled_post(&app.state.store, &account, &owner.user_id, &owner.user_id, true, &long, now, now).await;
        let p = settled(&app, &id, &["published", "failed"]).await;
        assert_eq!(p.state.as_str(), "failed");
        let e = p.last_error.unwrap();
        assert!(e.contains("Mastodon did not publish the post") && e.contains("character limit"), "{e}");
        let acts = actions(&app, &id).await;
        assert_eq!(acts.last().unwrap().0, "posts.publish_failed");
        assert!(d.statuses().is_empty());
    }

    async fn revoked_credential_holds_the_post_and_marks_the_account(app: TestApp) {
        let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
        let owner = app.user("revoked@example.com").await;
        let now = now_us(&app);
        let account = seal_mastodon_account(&app.state.store, app.state.vault(), &owner.user_id, &d, now).await;
        d.revoke_all();
        let id = scheduled_post(&app.state.store, &account, &owner.user_id, &owner.user_id, true, "Hi", now, now).await;
        let p = settled(&app, &id, &["approved", "failed", "published"]).await;
        assert_eq!((p.state.as_str(), p.hold_reason.map(|r| r.as_str())), ("approved", Some("needs_reconnect")), "{p:?}");
        assert!(p.last_error.unwrap().contains("reconnect"));
        let acc = app.state.store.account_by_id(&AccountId::new(account.to_string())).await.unwrap().unwrap();
        assert_eq!(acc.status.as_str(), "needs_reconnect");
        let acts: Vec<String> = actions(&app, &id).await.into_iter().map(|(a, _)| a).collect();
        assert!(acts.contains(&"posts.held".to_string()), "{acts:?}");
    }

    async fn lost_approval_holds_for_review(app: TestApp) {
        let (owner, account) = sandbox_owner(&app, "hold-owner@example.com").await;
        let admin = app.user("hold-admin@example.com").await;
        let now = now_us(&app);
        app.raw_sql(&format!(
            "INSERT INTO memberships (account_id, user_id, role, grants, revokes, expires_at, windows, daily_quota, status, \
             accepted_rules_version, created_at, updated_at) VALUES ('{account}', '{}', 'admin', '[]', '[]', NULL, '[]', NULL, \
             'active', 0, {now}, {now})", admin.user_id)).await;
        let id = scheduled_post(&app.state.store, &account, &owner.user_id, &admin.user_id, false, "Approved by admin", now + HOUR, now).await;
        // The admin loses posts.approve before the post is due.
        app.raw_sql(&format!("UPDATE memberships SET revokes = '[\"posts.approve\"]' WHERE user_id = '{}'", admin.user_id)).await;
        app.clock.advance(Duration::from_secs(3601));
        let p = settled(&app, &id, &["in_review", "approved", "published", "failed"]).await;
        assert_eq!((p.state.as_str(), p.hold_reason.map(|r| r.as_str())), ("in_review", Some("approvals_no_longer_valid")));
        assert!(p.scheduled_at.is_none() && p.last_error.unwrap().contains("approval"));
        let acts = actions(&app, &id).await;
        assert_eq!(acts.len(), 1);
        assert_eq!(acts[0].0, "posts.held");
        assert_eq!(acts[0].1["reason"], "approvals_no_longer_valid");
        assert!(app.state.store.sandbox_posts(&AccountId::new(account.to_string())).await.unwrap().is_empty());
    }

    async fn a_held_post_alerts_the_owner_and_its_author(app: TestApp) {
        let (owner, account) = sandbox_owner(&app, "told-owner@example.com").await;
        let editor = app.user("told-editor@example.com").await;
        let now = now_us(&app);
        app.raw_sql(&format!(
            "INSERT INTO memberships (account_id, user_id, role, grants, revokes, expires_at, windows, daily_quota, status, \
             accepted_rules_version, created_at, updated_at) VALUES ('{account}', '{}', 'editor', '[]', '[]', NULL, '[]', NULL, \
             'active', 0, {now}, {now})", editor.user_id)).await;
        let id = scheduled_post(&app.state.store, &account, &editor.user_id, &owner.user_id, true, "Held", now + HOUR, now).await;
        app.raw_sql(&format!("UPDATE social_accounts SET status = 'locked_down' WHERE id = '{account}'")).await;
        app.clock.advance(Duration::from_secs(3601));
        let p = settled(&app, &id, &["approved", "published", "failed"]).await;
        assert_eq!(p.hold_reason.map(|r| r.as_str()), Some("locked_down"));
        for (who, expect_account) in [(&owner, true), (&editor, false)] {
            let r = app.get("/api/v1/alerts").auth(who).send().await;
            assert_eq!(r.status, 200, "{}", r.text);
            let held: Vec<&serde_json::Value> =
                r.body["items"].as_array().unwrap().iter().filter(|a| a["kind"] == "post_held").collect();
            assert_eq!(held.len(), 1, "{}: {}", who.user_id, r.text);
            assert_eq!(held[0]["account_id"].is_string(), expect_account, "{}", r.text);
            assert!(held[0]["detail"].as_str().unwrap().contains(&id), "{}", r.text);
        }
    }

    async fn lockdown_and_pace_hold_due_posts(app: TestApp) {
        let (owner, account) = sandbox_owner(&app, "pace@example.com").await;
        app.raw_sql(&format!("UPDATE social_accounts SET min_gap_minutes = 60 WHERE id = '{account}'")).await;
        let now = now_us(&app);
        let first = scheduled_post(&app.state.store, &account, &owner.user_id, &owner.user_id, true, "first", now, now).await;
        assert_eq!(settled(&app, &first, &["published", "failed"]).await.state.as_str(), "published");
        // Ten minutes later, another one: the account wants an hour between posts.
        app.clock.advance(Duration::from_secs(600));
        let now = now_us(&app);
        let second = scheduled_post(&app.state.store, &account, &owner.user_id, &owner.user_id, true, "second", now, now).await;
        let p = settled(&app, &second, &["approved", "published", "failed"]).await;
        assert_eq!((p.state.as_str(), p.hold_reason.map(|r| r.as_str())), ("approved", Some("pace_exceeded")));
        assert!(p.last_error.unwrap().contains("60 minutes"));

        app.raw_sql(&format!("UPDATE social_accounts SET min_gap_minutes = 0, status = 'locked_down' WHERE id = '{account}'")).await;
        let third = scheduled_post(&app.state.store, &account, &owner.user_id, &owner.user_id, true, "third", now, now).await;
        let p = settled(&app, &third, &["approved", "published", "failed"]).await;
        assert_eq!((p.state.as_str(), p.hold_reason.map(|r| r.as_str())), ("approved", Some("locked_down")));
        assert_eq!(app.state.store.sandbox_posts(&AccountId::new(account.to_string())).await.unwrap().len(), 1);
    }
}

/// Bounded attempts: every try answered 5xx, the post fails with the count in its error.
mod gives_up_after_max_attempts {
    use super::*;

    async fn run(app: TestApp) {
        let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
        let owner = app.user("giveup@example.com").await;
        let now = now_us(&app);
        let account = seal_mastodon_account(&app.state.store, app.state.vault(), &owner.user_id, &d, now).await;
        d.inject("/api/v1/statuses", Fault::ServerError);
        d.inject("/api/v1/statuses", Fault::ServerError);
        let id =
            scheduled_post(&app.state.store, &account, &owner.user_id, &owner.user_id, true, "never", now, now).await;
        for _ in 0..600 {
            let p = post(&app, &id).await;
            if p.state.as_str() == "failed" {
                break;
            }
            if let Some(j) = app.state.store.publish_job(&PostId::new(id.to_string())).await.unwrap()
                && j.state.as_str() == "waiting"
            {
                app.clock.advance(Duration::from_secs(120));
            }
            app.state.scheduler.wake();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let p = post(&app, &id).await;
        assert_eq!(p.state.as_str(), "failed", "{p:?}");
        assert!(p.last_error.unwrap().contains("after 2 attempts"));
        assert!(d.statuses().is_empty());
    }

    fn tweak(s: &mut steward_server::Settings) {
        s.publishing.max_attempts = 2;
        s.publishing.backoff_base = Duration::from_secs(60);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(TestApp::spawn_with(crate::helpers::Backend::Sqlite, tweak).await.unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = TestApp::spawn_with(crate::helpers::Backend::Postgres, tweak).await {
            run(app).await;
        }
    }
}

/// A restart with a post in flight: the dead worker's job is reconciled (the platform already
/// has the post, so it is recorded, not sent again). On SQLite the restarted server does it at
/// once; on PostgreSQL, where another replica might still hold the lease, at the lease's expiry,
/// not at the (here hour-long) idle re-check.
mod restart_with_a_post_in_flight {
    use steward_store::{JobStart, PublishAttemptRow};

    use super::*;

    /// A post left `publishing` by a worker killed mid-call (its lease runs until `lease_until`),
    /// written in one transaction so no live worker sees it `scheduled`; the sandbox already
    /// holds it, as if the call went out just before the kill. Returns the post id.
    async fn crashed_mid_publish(app: &TestApp, account: &str, owner: &str, lease_until: i64) -> String {
        let store = &app.state.store;
        let now = now_us(app);
        let id = uuid_v7();
        let key = steward_app::scheduler::idempotency_key(&PostId::new(id.to_string()), 1);
        let text = "In flight at the crash";
        let mut tx = store.begin().await.unwrap();
        tx.insert_post(NewPost {
            id: &steward_domain::ids::PostId::from(id.as_str()),
            account_id: &steward_domain::ids::AccountId::from(account),
            author_id: &steward_domain::ids::UserId::from(owner),
            title: None,
            text,
            media: "[]",
            idempotency: None,
            now,
        })
        .await
        .unwrap();
        tx.insert_post_approval(&PostId::new(id.to_string()), 1, &UserId::new(owner.to_string()), true, now)
            .await
            .unwrap();
        let schedule = PostStateWrite {
            state: "scheduled",
            schedule: ScheduleWrite::Set { at: now, by: &UserId::from(owner) },
            hold_reason: None,
            clear_approvals: false,
        };
        assert!(tx.apply_post_transition(&PostId::new(id.to_string()), "draft", 1, &schedule, now).await.unwrap());
        let publishing = PostStateWrite {
            state: "publishing",
            schedule: ScheduleWrite::Keep,
            hold_reason: None,
            clear_approvals: false,
        };
        assert!(
            tx.apply_post_transition(&PostId::new(id.to_string()), "scheduled", 1, &publishing, now).await.unwrap()
        );
        let job = JobStart {
            post_id: &PostId::from(id.as_str()),
            account_id: &AccountId::from(account),
            version: 1,
            idempotency_key: &key,
            due_at: now,
            worker: "worker-killed",
            lease_expires_at: lease_until,
            now,
        };
        tx.start_publish_job(&job).await.unwrap();
        tx.insert_publish_attempt(&PublishAttemptRow {
            id: AttemptId::new(uuid_v7()),
            post_id: id.clone().into(),
            version: 1,
            attempt: 1,
            idempotency_key: key.clone(),
            worker: "worker-killed".into(),
            reconcile: false,
            started_at: now,
            finished_at: None,
            outcome: None,
            error: None,
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
        store
            .sandbox_publish(&steward_store::NewSandboxPost {
                id: &uuid_v7(),
                account_id: &AccountId::from(account),
                idempotency_key: &key,
                title: None,
                text,
                media: "[]",
                now,
            })
            .await
            .unwrap();
        id
    }

    /// Polls (never waking the worker, never moving the clock) until the post is published.
    async fn published_within(app: &TestApp, id: &str, bound: Duration) -> PostRow {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let p = post(app, id).await;
            if p.state.as_str() == "published" || tokio::time::Instant::now() > deadline {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Published once: the sandbox still holds one post, the one the dead worker sent, and
    /// the attempt after the crash says it reconciled.
    async fn reconciled_once(app: &TestApp, account: &str, id: &str, p: &PostRow) {
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        let live = app.state.store.sandbox_posts(&AccountId::new(account.to_string())).await.unwrap();
        assert_eq!(live.len(), 1, "{live:?}");
        assert_eq!(p.external_id.as_deref(), Some(live[0].id.as_str()));
        let attempts = app.state.store.publish_attempts(&PostId::new(id.to_string())).await.unwrap();
        assert_eq!(attempts.len(), 2, "{attempts:?}");
        assert!(attempts[0].finished_at.is_some(), "the dead worker's attempt is closed: {attempts:?}");
        assert!(attempts[1].reconcile, "{attempts:?}");
        assert_eq!(attempts[1].outcome.as_deref(), Some("published"));
    }

    fn tweak(s: &mut steward_server::Settings) {
        s.publishing.recheck = Duration::from_secs(3600);
        s.publishing.lease = Duration::from_secs(3600);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_settles_at_once_after_a_restart() {
        let mut app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, tweak).await.unwrap();
        let (owner, account) = sandbox_owner(&app, "inflight@example.com").await;
        let id = crashed_mid_publish(&app, &account, &owner.user_id, now_us(&app) + 24 * HOUR).await;
        // While the lease runs, a round leaves the job alone.
        assert_eq!(steward_app::scheduler::run_once(&app.state).await.unwrap(), 0);
        assert_eq!(post(&app, &id).await.state.as_str(), "publishing");

        app.restart().await;
        let p = published_within(&app, &id, Duration::from_secs(10)).await;
        reconciled_once(&app, &account, &id, &p).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_waits_for_the_lease_and_wakes_at_its_expiry() {
        let Some(mut app) = TestApp::spawn_with(crate::helpers::Backend::Postgres, tweak).await else { return };
        let (owner, account) = sandbox_owner(&app, "inflight@example.com").await;
        let lease_until = now_us(&app) + 4_000_000;
        let id = crashed_mid_publish(&app, &account, &owner.user_id, lease_until).await;

        app.restart().await;
        // Another replica could still hold the lease: nothing is reclaimed before it runs out.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let job = app.state.store.publish_job(&PostId::new(id.to_string())).await.unwrap().unwrap();
        assert!(now_us(&app) < lease_until, "the machine was too slow for this check");
        assert_eq!((job.state.as_str(), job.lease_owner.as_deref()), ("running", Some("worker-killed")));
        // The worker sleeps until the lease's expiry, well before its hour-long re-check.
        let p = published_within(&app, &id, Duration::from_secs(20)).await;
        reconciled_once(&app, &account, &id, &p).await;
    }
}

/// Exactly once across crashes: N posts go out through the Mastodon double while
/// `steward serve` is killed with SIGKILL at random moments and restarted; at the end the
/// double holds each post once.
mod crash {
    use std::path::Path;
    use std::process::Stdio;

    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::process::{Child, Command};

    use super::*;

    const BIN: &str = env!("CARGO_BIN_EXE_steward");
    const POSTS: usize = 24;

    /// `steward serve` on `database_url`, with a short lease so a killed worker's jobs are
    /// reclaimed quickly; returns the child and its URL.
    async fn serve(dir: &Path, database_url: &str, n: usize) -> (Child, String) {
        let log = std::fs::File::create(dir.join(format!("serve-{n}.log"))).unwrap();
        let mut child = Command::new(BIN)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("STEWARD_LISTEN", "127.0.0.1:0")
            .env("STEWARD_DATA_DIR", dir)
            .env("STEWARD_DATABASE_URL", database_url)
            .env("STEWARD_SIGNUP", "open")
            .env("STEWARD_ALLOW_PRIVATE_NETWORKS", "true")
            .env("STEWARD_SCHEDULER_LEASE_SECS", "2")
            .env("STEWARD_SCHEDULER_RECHECK_SECS", "1")
            .env("STEWARD_PUBLISH_BACKOFF_SECS", "1")
            .env("STEWARD_PUBLISH_BACKOFF_MAX_SECS", "2")
            .env("STEWARD_PUBLISH_MAX_ATTEMPTS", "100")
            .env("STEWARD_SCHEDULER_BATCH", "4")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("spawn steward");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(i) = line.find("http://") {
                    return line[i..].split_whitespace().next().unwrap().to_string();
                }
            }
            panic!("steward exited before announcing its address");
        })
        .await
        .expect("steward started");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        (child, base)
    }

    fn kill(child: &Child) {
        let pid = child.id().unwrap().to_string();
        assert!(std::process::Command::new("kill").args(["-KILL", &pid]).status().unwrap().success());
    }

    fn random_below(n: u64) -> u64 {
        let mut b = [0u8; 8];
        std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut b).unwrap();
        u64::from_le_bytes(b) % n.max(1)
    }

    async fn run(database_url: String, replicas: usize) {
        steward_connectors::http::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
        let mut started = 0;
        let (first, base) = serve(dir.path(), &database_url, started).await;
        started += 1;
        let mut children = vec![first];
        for _ in 1..replicas {
            children.push(serve(dir.path(), &database_url, started).await.0);
            started += 1;
        }
        // The owner signs up through the API; the Mastodon account and the posts are written
        // from this process with the server's own vault and store (the key file the server made).
        let client = reqwest::Client::new();
        let r = client
            .post(format!("{base}/api/v1/auth/register"))
            .json(&json!({"email": "crash@example.com", "password": crate::helpers::PASSWORD, "display_name": "Crash"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let owner_id = r.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();
        let store = steward_store::Store::open(&database_url).await.unwrap();
        let vault =
            steward_app::vault::Vault::load(&steward_app::config::MasterKeySource::File(dir.path().join("master.key")))
                .unwrap();
        let now = steward_app::clock::Clock::default().now_us();
        let account = seal_mastodon_account(&store, &vault, &owner_id, &d, now).await;
        // Slow answers and lost answers, so kills land mid-call and after the instance committed.
        for i in 0..POSTS {
            d.inject("/api/v1/statuses", Fault::Delay(Duration::from_millis(150)));
            if i % 4 == 0 {
                d.lose_next_response("/api/v1/statuses");
            }
        }
        let mut ids = Vec::new();
        for i in 0..POSTS {
            let at = now + i64::try_from(i).unwrap() * 150_000;
            ids.push(
                scheduled_post(&store, &account, &owner_id, &owner_id, true, &format!("crash post {i}"), at, now).await,
            );
        }

        let mut kills = 0;
        for _round in 0..400 {
            let mut published = 0;
            for id in &ids {
                if store.post(&PostId::new(id.to_string())).await.unwrap().unwrap().state.as_str() == "published" {
                    published += 1;
                }
            }
            if published == POSTS {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100 + random_below(400))).await;
            if kills < 12 {
                let victim = usize::try_from(random_below(children.len() as u64)).unwrap();
                kill(&children[victim]);
                let _ = children[victim].wait().await;
                kills += 1;
                children[victim] = serve(dir.path(), &database_url, started).await.0;
                started += 1;
            }
        }
        for c in &children {
            kill(c);
        }
        let statuses = d.statuses();
        let mut texts: Vec<String> = statuses.iter().map(|s| s.text.clone()).collect();
        texts.sort();
        let mut expected: Vec<String> = (0..POSTS).map(|i| format!("crash post {i}")).collect();
        expected.sort();
        assert_eq!(texts, expected, "each post exactly once on the instance (after {kills} kills)");
        for id in &ids {
            let p = store.post(&PostId::new(id.to_string())).await.unwrap().unwrap();
            assert_eq!(p.state.as_str(), "published", "{p:?}");
            let s = statuses.iter().find(|s| Some(s.id.as_str()) == p.external_id.as_deref()).expect("its status");
            assert_eq!(s.text, p.text);
        }
        assert!(kills > 0);
        store.close().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/crash.db", dir.path().display());
        run(url, 1).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        let Some(admin) = crate::helpers::postgres_admin_url() else { return };
        let url = steward_store::testing::create_postgres_database(&admin, "steward_crash").await.unwrap();
        run(url.clone(), 1).await;
        steward_store::testing::drop_postgres_database(&admin, &url).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_two_replicas() {
        let Some(admin) = crate::helpers::postgres_admin_url() else { return };
        let url = steward_store::testing::create_postgres_database(&admin, "steward_crash2").await.unwrap();
        run(url.clone(), 2).await;
        steward_store::testing::drop_postgres_database(&admin, &url).await;
    }
}

/// PostgreSQL, where the scheduler takes a due post's account only if no other transaction
/// holds it (a lockdown, say): the post waits for a later round, the round counts as idle (so
/// the worker pauses instead of trying again at once), and once the account is free it goes out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_post_whose_account_is_busy_waits_a_round_without_spinning() {
    use sqlx::Connection;
    let Some(app) = TestApp::spawn(crate::helpers::Backend::Postgres).await else { return };
    let (owner, account) = sandbox_owner(&app, "busy@example.com").await;
    let now = now_us(&app);
    let due = now + 60_000_000;
    let id =
        scheduled_post(&app.state.store, &account, &owner.user_id, &owner.user_id, true, "Held up", due, now).await;
    // Another transaction holds the account (as a lockdown would), without blocking inserts
    // that only reference it.
    let mut holder = sqlx::PgConnection::connect(&app.database_url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT id FROM social_accounts WHERE id = $1 FOR NO KEY UPDATE")
        .bind(&account)
        .execute(&mut holder)
        .await
        .unwrap();
    app.clock.advance(Duration::from_secs(61));
    // A round that finds the post but not its account claims nothing: it answers 0, so the
    // worker pauses rather than going round again at once (the background worker runs rounds
    // too; one that holds the post meanwhile hides it from this one, which also answers 0).
    for _ in 0..20 {
        let claimed = steward_app::scheduler::run_once(app.state.services()).await.unwrap();
        assert_eq!(claimed, 0, "a post left for a later round is not work done");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pause = steward_app::scheduler::idle_wait(app.state.services()).await;
    assert!(pause >= Duration::from_millis(100), "something is due but held: a pause, not a spin ({pause:?})");
    let p = post(&app, &id).await;
    assert_eq!((p.state.as_str(), p.hold_reason), ("scheduled", None), "untouched while busy: {p:?}");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    let p = settled(&app, &id, &["published", "failed", "approved"]).await;
    assert_eq!(p.state.as_str(), "published", "{p:?}");
}
