//! Notifications that move the work: a post entering review tells the members who may approve
//! it (in the app and, per their preference, by real SMTP), its author hears when it is
//! approved, sent back, scheduled, published or held; each person reads and marks only their
//! own, only while they still belong to the account; the owner's daily digest goes out once a
//! day; the web app's header counts what is unread.
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::accounts::{member, sandbox_account};
use crate::helpers::html::{csrf_in, page, post_form};
use crate::helpers::mail::{eventually, mails_to, with_mail};
use crate::helpers::*;

/// The notification mails `to` got (invitations and the like left out).
fn posts_mailed(sink: &steward_doubles::smtp::SmtpSink, to: &str) -> Vec<String> {
    mails_to(sink, to).into_iter().filter(|m| m.contains("/posts/")).collect()
}

async fn notifications(app: &TestApp, who: &Session, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/notifications{query}")).auth(who).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

fn kinds(list: &[Value]) -> Vec<&str> {
    list.iter().map(|n| n["kind"].as_str().unwrap()).collect()
}

async fn draft(app: &TestApp, author: &Session, account: &str, text: &str) -> String {
    let r =
        app.post(&format!("/api/v1/accounts/{account}/posts")).auth(author).json(json!({"text": text})).send().await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

async fn act(app: &TestApp, who: &Session, post: &str, step: &str, body: Value) -> Value {
    let r = app.post(&format!("/api/v1/posts/{post}/{step}")).auth(who).json(body).send().await;
    assert!(r.status == 200 || r.status == 202, "{step}: {}", r.text);
    r.body
}

async fn preferences(app: &TestApp, who: &Session, email: bool, daily_digest: bool) {
    let r = app
        .req(Method::PUT, "/api/v1/me/notification-preferences")
        .auth(who)
        .json(json!({"email": email, "daily_digest": daily_digest}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"email": email, "daily_digest": daily_digest}));
}

/// Waits (waking the scheduler) until the post is in `state`.
async fn settled(app: &TestApp, post: &str, state: &str) {
    eventually(&format!("post {post} {state}"), async || {
        app.state.scheduler.wake();
        let p = app.state.store.post(&steward_domain::ids::PostId::new(post)).await.unwrap().unwrap();
        (p.state.as_str() == state).then_some(())
    })
    .await;
}

with_mail! {
    async fn review_and_its_outcomes_reach_the_right_people(app: TestApp, sink: SmtpSink) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@work").await;
        let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
        let editor = member(&app, &owner, &account, "editor@example.com", "editor").await;
        let moderator = member(&app, &owner, &account, "moderator@example.com", "moderator").await;

        // Defaults: mail on, no digest.
        let r = app.get("/api/v1/me/notification-preferences").auth(&admin).send().await;
        assert_eq!(r.body, json!({"email": true, "daily_digest": false}), "{}", r.text);

        let post = draft(&app, &editor, &account, "Spring sale starts Monday").await;
        assert!(notifications(&app, &owner, "").await.is_empty(), "a draft tells nobody");
        act(&app, &editor, &post, "submit", json!({})).await;

        // Everyone who may approve is told, in the app and by mail; nobody else.
        for reviewer in [&owner, &admin] {
            let list = notifications(&app, reviewer, "").await;
            assert_eq!(kinds(&list), ["review_requested"], "{list:?}");
            let n = &list[0];
            assert_eq!((n["post_id"].as_str(), n["account_id"].as_str()), (Some(post.as_str()), Some(account.as_str())));
            assert!(n["text"].as_str().unwrap().contains("Spring sale starts Monday"), "{n}");
            assert!(n["read_at"].is_null() && n["created_at"].is_string() && n["id"].is_string(), "{n}");
        }
        assert!(notifications(&app, &moderator, "").await.is_empty(), "a moderator cannot approve");
        assert!(notifications(&app, &editor, "").await.is_empty(), "the author is not asked to review");
        for to in ["owner@example.com", "admin@example.com"] {
            let mail = eventually(to, async || posts_mailed(&sink, to).into_iter().next()).await;
            assert!(mail.contains("Spring sale starts Monday"), "{mail}");
            assert!(mail.contains(&format!("/posts/{post}")), "{mail}");
        }
        assert!(posts_mailed(&sink, "moderator@example.com").is_empty());

        // The admin turns mail off: still told in the app, no longer by mail.
        preferences(&app, &admin, false, false).await;
        act(&app, &admin, &post, "request-changes", json!({"comment": "Say which Monday"})).await;
        let list = notifications(&app, &editor, "").await;
        assert_eq!(kinds(&list), ["changes_requested"]);
        assert!(list[0]["text"].as_str().unwrap().contains("Say which Monday"), "{list:?}");
        eventually("the author's mail", async || {
            mails_to(&sink, "editor@example.com").into_iter().find(|m| m.contains("Say which Monday"))
        })
        .await;

        let etag = app.get(&format!("/api/v1/posts/{post}")).auth(&editor).send().await.header("etag").unwrap().to_string();
        let r = app
            .req(Method::PATCH, &format!("/api/v1/posts/{post}"))
            .auth(&editor)
            .header("if-match", &etag)
            .json(json!({"text": "Spring sale starts Monday 3 March"}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        act(&app, &editor, &post, "submit", json!({})).await;
        assert_eq!(kinds(&notifications(&app, &admin, "").await), ["review_requested", "review_requested"]);
        eventually("the owner's second mail", async || (posts_mailed(&sink, "owner@example.com").len() == 2).then_some(())).await;
        assert_eq!(posts_mailed(&sink, "admin@example.com").len(), 1, "mail is off for the admin");

        let version = app.get(&format!("/api/v1/posts/{post}")).auth(&owner).send().await.body["version"].clone();
        act(&app, &owner, &post, "approve", json!({"version": version})).await;
        let at = jiff::Timestamp::from_microsecond(app.clock.now_us() + 3_600_000_000).unwrap().to_string();
        act(&app, &owner, &post, "schedule", json!({"at": at})).await;
        app.clock.advance(Duration::from_secs(3700));
        settled(&app, &post, "published").await;

        let list = notifications(&app, &editor, "").await;
        assert_eq!(kinds(&list), ["published", "scheduled", "approved", "changes_requested"], "{list:?}");
        eventually("the published mail", async || {
            mails_to(&sink, "editor@example.com").into_iter().find(|m| m.contains("is published"))
        })
        .await;
        // The owner acted: the owner is not told of their own steps.
        assert_eq!(kinds(&notifications(&app, &owner, "").await), ["review_requested", "review_requested"]);

        // Marking read: one's own only, once.
        let id = list[0]["id"].as_str().unwrap().to_string();
        app.post(&format!("/api/v1/notifications/{id}/read")).auth(&owner).send().await.assert_problem(404, "not-found");
        app.post("/api/v1/notifications/nothing/read").auth(&editor).send().await.assert_problem(404, "not-found");
        let r = app.post(&format!("/api/v1/notifications/{id}/read")).auth(&editor).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        let list = notifications(&app, &editor, "").await;
        assert!(list[0]["read_at"].is_string(), "{list:?}");
        let unread = notifications(&app, &editor, "?unread=true").await;
        assert_eq!(kinds(&unread), ["scheduled", "approved", "changes_requested"]);
        // Paged like every list.
        let r = app.get("/api/v1/notifications?limit=2").auth(&editor).send().await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
        let next = r.body["next_cursor"].as_str().unwrap().to_string();
        let r = app.get(&format!("/api/v1/notifications?limit=2&cursor={next}")).auth(&editor).send().await;
        assert_eq!(kinds(r.body["items"].as_array().unwrap()), ["approved", "changes_requested"]);
        assert!(r.body["next_cursor"].is_null());
        app.get("/api/v1/notifications?limit=0").auth(&editor).send().await.assert_problem(422, "validation");

        // Reading is audited.
        let events = app.get("/api/v1/me/activity?action=notifications.read").auth(&editor).send().await;
        assert_eq!(events.body["items"].as_array().unwrap().len(), 1, "{}", events.text);
    }

    async fn the_daily_digest_goes_out_once_a_day(app: TestApp, sink: SmtpSink) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@digest").await;
        let editor = member(&app, &owner, &account, "editor@example.com", "editor").await;
        let post = draft(&app, &editor, &account, "For the digest").await;
        act(&app, &editor, &post, "submit", json!({})).await;
        // Nobody gets a digest without asking, and a person who owns nothing gets none.
        preferences(&app, &editor, true, true).await;
        preferences(&app, &owner, false, true).await;

        let digest = eventually("the digest", async || {
            mails_to(&sink, "owner@example.com").into_iter().find(|m| m.contains("daily digest"))
        })
        .await;
        assert!(digest.contains("@digest") && digest.contains("1 in review"), "{digest}");
        // Today's digest is claimed in the database: any other replica's claim fails.
        let now = app.clock.now_us();
        let day = jiff::Timestamp::from_microsecond(now).unwrap().to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
        assert!(!app.state.store.claim_digest(&steward_domain::ids::UserId::new(owner.user_id.clone()), &day, now).await.unwrap());
        // The next day brings the next one.
        app.clock.advance(Duration::from_secs(24 * 3600));
        eventually("the second digest", async || {
            (mails_to(&sink, "owner@example.com").iter().filter(|m| m.contains("daily digest")).count() == 2).then_some(())
        })
        .await;
        let digests = mails_to(&sink, "owner@example.com").iter().filter(|m| m.contains("daily digest")).count();
        assert_eq!(digests, 2);
        assert!(mails_to(&sink, "editor@example.com").iter().all(|m| !m.contains("daily digest")));
    }
}

both_backends! {
    async fn only_live_members_read_their_notifications(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@gone").await;
        let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
        let editor = member(&app, &owner, &account, "editor@example.com", "editor").await;
        let post = draft(&app, &editor, &account, "Who is told").await;
        act(&app, &editor, &post, "submit", json!({})).await;
        let list = notifications(&app, &admin, "").await;
        assert_eq!(kinds(&list), ["review_requested"]);
        let id = list[0]["id"].as_str().unwrap().to_string();

        // A read-only token reads but does not mark; a narrowed one reaches no personal endpoint.
        let t = app.post("/api/v1/me/tokens").auth(&admin).json(json!({"name": "reader", "scopes": ["read"]})).send().await;
        assert_eq!(t.status, 201, "{}", t.text);
        let reader = t.body["token"].as_str().unwrap().to_string();
        assert_eq!(app.get("/api/v1/notifications").bearer(&reader).send().await.status, 200);
        app.post(&format!("/api/v1/notifications/{id}/read")).bearer(&reader).send().await.assert_problem(403, "forbidden");
        let body = json!({"name": "narrow", "scopes": ["read", "write"], "accounts": [account]});
        let t = app.post("/api/v1/me/tokens").auth(&admin).json(body).send().await;
        assert_eq!(t.status, 201, "{}", t.text);
        let narrow = t.body["token"].as_str().unwrap().to_string();
        app.get("/api/v1/notifications").bearer(&narrow).send().await.assert_problem(403, "forbidden");
        app.post(&format!("/api/v1/notifications/{id}/read")).bearer(&narrow).send().await.assert_problem(403, "forbidden");
        app.get("/api/v1/me/notification-preferences").bearer(&narrow).send().await.assert_problem(403, "forbidden");

        // Removed from the account: its notifications are gone for them, and cannot be marked.
        let r = app.delete(&format!("/api/v1/accounts/{account}/members/{}", admin.user_id)).auth(&owner).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert!(notifications(&app, &admin, "").await.is_empty());
        app.post(&format!("/api/v1/notifications/{id}/read")).auth(&admin).send().await.assert_problem(404, "not-found");
        // The owner still sees theirs.
        assert_eq!(kinds(&notifications(&app, &owner, "").await), ["review_requested"]);

        // Bad preferences change nothing.
        let r = app.req(Method::PUT, "/api/v1/me/notification-preferences").auth(&owner).json(json!({"email": "yes", "daily_digest": false})).send().await;
        r.assert_problem(422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "email", "{}", r.text);
        let r = app.get("/api/v1/me/notification-preferences").auth(&owner).send().await;
        assert_eq!(r.body, json!({"email": true, "daily_digest": false}));
    }

    async fn a_held_post_tells_its_author_why(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@held").await;
        let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
        let editor = member(&app, &owner, &account, "editor@example.com", "editor").await;
        let post = draft(&app, &editor, &account, "Held back").await;
        act(&app, &editor, &post, "submit", json!({})).await;
        act(&app, &admin, &post, "approve", json!({"version": 1})).await;
        let at = jiff::Timestamp::from_microsecond(app.clock.now_us() + 3_600_000_000).unwrap().to_string();
        act(&app, &admin, &post, "schedule", json!({"at": at})).await;
        // The member who scheduled it leaves before it is due (their posts stay): it is held.
        let r = app
            .delete(&format!("/api/v1/accounts/{account}/members/{}?cancel_posts=false", admin.user_id))
            .auth(&owner)
            .send()
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        app.clock.advance(Duration::from_secs(3700));
        eventually("the hold", async || {
            app.state.scheduler.wake();
            let list = notifications(&app, &editor, "").await;
            (list.first().is_some_and(|n| n["kind"] == "held")).then_some(())
        })
        .await;
        let list = notifications(&app, &editor, "").await;
        assert_eq!(kinds(&list), ["held", "scheduled", "approved"], "{list:?}");
        let text = list[0]["text"].as_str().unwrap();
        assert!(text.contains("was held") && text.contains("approval policy"), "the reason, in words: {list:?}");
    }

    async fn the_header_counts_unread_notifications_and_the_page_marks_them_read(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@pages").await;
        let editor = member(&app, &owner, &account, "editor@example.com", "editor").await;
        let (status, html) = page(&app, &owner, "/").await;
        assert_eq!(status, 200);
        assert!(!html.contains("unread-count"), "nothing unread, no count");
        for text in ["First for review", "Second for review"] {
            let post = draft(&app, &editor, &account, text).await;
            act(&app, &editor, &post, "submit", json!({})).await;
        }
        let (_, html) = page(&app, &owner, "/").await;
        assert!(html.contains("id=\"unread-count\">2<span class=\"sr\"> unread</span>"), "{html}");
        let (status, html) = page(&app, &owner, "/notifications").await;
        assert_eq!(status, 200);
        assert!(html.contains("First for review") && html.contains("Second for review"), "{html}");

        let id = notifications(&app, &owner, "").await[0]["id"].as_str().unwrap().to_string();
        let csrf = csrf_in(&html);
        let (status, location, _) =
            post_form(&app, &owner.cookie(), &format!("/notifications/{id}/read"), &[("csrf_token", &csrf)]).await;
        assert_eq!((status, location.as_str()), (303, "/notifications?notice=read"));
        let (_, html) = page(&app, &owner, "/notifications").await;
        assert!(html.contains("id=\"unread-count\">1<"), "{html}");
        // Without the CSRF token nothing is marked.
        let other = notifications(&app, &owner, "?unread=true").await[0]["id"].as_str().unwrap().to_string();
        let (status, _, _) = post_form(&app, &owner.cookie(), &format!("/notifications/{other}/read"), &[]).await;
        assert_eq!(status, 403);
        // The preferences form saves the digest choice.
        let (status, location, _) =
            post_form(&app, &owner.cookie(), "/notifications", &[("csrf_token", &csrf), ("daily_digest", "on")]).await;
        assert_eq!((status, location.as_str()), (303, "/notifications?notice=saved"));
        let r = app.get("/api/v1/me/notification-preferences").auth(&owner).send().await;
        assert_eq!(r.body["daily_digest"], true, "{}", r.text);
    }
}
