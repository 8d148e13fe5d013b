//! What a post carries besides its text: a Mastodon content warning (accepted on Mastodon only,
//! counted with the text, kept with each version, published as `spoiler_text`) and a planned
//! time (a plan the calendar shows, never a schedule: changing it alone keeps the post's
//! version, state and approvals).
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use steward_domain::ids::PostId;
use steward_doubles::mastodon::{Config as MastodonConfig, MastodonDouble};

use crate::helpers::seed::seal_mastodon_account;
use crate::helpers::{Resp, Session, TestApp, both_backends};

async fn sandbox(app: &TestApp, owner: &Session) -> String {
    let r = app
        .post("/api/v1/accounts")
        .auth(owner)
        .json(json!({"platform": "sandbox", "handle": "@shop", "time_zone": "Europe/Paris", "credentials": {}}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

async fn create(app: &TestApp, s: &Session, account: &str, body: Value) -> Resp {
    app.post(&format!("/api/v1/accounts/{account}/posts")).auth(s).json(body).send().await
}

async fn get(app: &TestApp, s: &Session, id: &str) -> Resp {
    let r = app.get(&format!("/api/v1/posts/{id}")).auth(s).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

async fn patch(app: &TestApp, s: &Session, id: &str, body: Value) -> Resp {
    let etag = get(app, s, id).await.header("etag").unwrap().to_string();
    app.req(Method::PATCH, &format!("/api/v1/posts/{id}")).auth(s).header("if-match", &etag).json(body).send().await
}

async fn act(app: &TestApp, s: &Session, id: &str, what: &str, body: Value) -> Resp {
    app.post(&format!("/api/v1/posts/{id}/{what}")).auth(s).json(body).send().await
}

#[track_caller]
fn refused_on(r: &Resp, field: &str) -> String {
    r.assert_problem(422, "validation");
    let errors = r.body["errors"].as_array().unwrap();
    let e = errors.iter().find(|e| e["field"] == field).unwrap_or_else(|| panic!("no error on {field}: {}", r.text));
    e["message"].as_str().unwrap().to_string()
}

both_backends! {
    async fn a_content_warning_is_mastodons_and_goes_out_as_its_spoiler_text(app: TestApp) {
        let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
        let owner = app.user("olivia@example.test").await;
        let masto = seal_mastodon_account(&app.state.store, app.state.vault(), &owner.user_id, &d, app.clock.now_us()).await;
        let shop = sandbox(&app, &owner).await;

        // Refused on any other platform, with the field named and the platform in words.
        let r = create(&app, &owner, &shop, json!({"text": "Hello", "content_warning": "Spoilers"})).await;
        assert!(refused_on(&r, "content_warning").contains("Mastodon accounts only"), "{}", r.text);
        // A blank warning is no warning: accepted anywhere, stored as none.
        let r = create(&app, &owner, &shop, json!({"text": "Hello", "content_warning": "  "})).await;
        assert_eq!((r.status, &r.body["content_warning"]), (201, &Value::Null), "{}", r.text);
        // Mastodon counts the warning with the text against its 500 characters.
        let r = create(&app, &owner, &masto, json!({"text": "a".repeat(490), "content_warning": "b".repeat(11)})).await;
        assert!(refused_on(&r, "content_warning").contains("500"), "{}", r.text);
        let r = create(&app, &owner, &masto, json!({"text": "Hi", "content_warning": "one\ntwo"})).await;
        refused_on(&r, "content_warning");

        let r = create(&app, &owner, &masto, json!({"text": "The finale was great", "content_warning": " Spoilers: the finale "})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["content_warning"], "Spoilers: the finale");
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(get(&app, &owner, &id).await.body["content_warning"], "Spoilers: the finale");

        // An edit of the text keeps the warning; the warning changed is a new version; each
        // version keeps the warning it had.
        let r = patch(&app, &owner, &id, json!({"text": "The finale was wonderful"})).await;
        assert_eq!((r.status, r.body["version"].as_i64()), (200, Some(2)), "{}", r.text);
        assert_eq!(r.body["content_warning"], "Spoilers: the finale");
        let r = patch(&app, &owner, &id, json!({"content_warning": null})).await;
        assert_eq!((r.status, r.body["version"].as_i64(), &r.body["content_warning"]), (200, Some(3), &Value::Null), "{}", r.text);
        let r = patch(&app, &owner, &id, json!({"content_warning": "Finale spoilers"})).await;
        assert_eq!((r.status, r.body["version"].as_i64()), (200, Some(4)), "{}", r.text);
        let r = patch(&app, &owner, &id, json!({"text": "a".repeat(490)})).await;
        assert!(refused_on(&r, "content_warning").contains("500"), "an edit is counted the same way: {}", r.text);
        let versions = app.state.store.post_versions(&PostId::new(id.clone())).await.unwrap();
        let warnings: Vec<Option<&str>> = versions.iter().map(|v| v.content_warning.as_deref()).collect();
        assert_eq!(warnings, [Some("Spoilers: the finale"), Some("Spoilers: the finale"), None, Some("Finale spoilers")]);
        // A sandbox post cannot be given one by an edit either.
        let plain = create(&app, &owner, &shop, json!({"text": "Plain"})).await.body["id"].as_str().unwrap().to_string();
        refused_on(&patch(&app, &owner, &plain, json!({"content_warning": "CW"})).await, "content_warning");

        // Published: the status carries it at the instance, folded behind it.
        assert_eq!(act(&app, &owner, &id, "submit", json!({})).await.status, 200);
        let r = act(&app, &owner, &id, "approve", json!({"version": 4})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = act(&app, &owner, &id, "publish-now", json!({})).await;
        assert_eq!(r.status, 202, "{}", r.text);
        let mut statuses = d.statuses();
        for _ in 0..600 {
            if !statuses.is_empty() { break; }
            app.state.scheduler.wake();
            tokio::time::sleep(Duration::from_millis(50)).await;
            statuses = d.statuses();
        }
        assert_eq!(statuses.len(), 1, "published once");
        assert_eq!((statuses[0].text.as_str(), statuses[0].spoiler_text.as_str()), ("The finale was wonderful", "Finale spoilers"));
        let sent = d.requests().into_iter().find(|r| r.path == "/api/v1/statuses").unwrap();
        assert!(sent.body.contains("\"spoiler_text\":\"Finale spoilers\""), "{sent:?}");
    }

    async fn the_composer_gives_a_warning_to_mastodon_copies_only_and_every_draft_its_plan(app: TestApp) {
        let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
        let owner = app.user("olivia@example.test").await;
        let masto = seal_mastodon_account(&app.state.store, app.state.vault(), &owner.user_id, &d, app.clock.now_us()).await;
        let shop = sandbox(&app, &owner).await;
        let at = jiff::Timestamp::from_second(app.clock.now().as_second() + 86_400).unwrap().to_string();
        let r = app.post("/api/v1/posts/batch").auth(&owner).json(json!({"text": "Sale", "planned_for": at, "copies": [
            {"account_id": masto, "content_warning": "Shopping"}, {"account_id": shop, "content_warning": "Shopping"}]})).send().await;
        assert!(refused_on(&r, "copies[1].content_warning").contains("Mastodon accounts only"), "{}", r.text);
        let r = app.post("/api/v1/posts/batch").auth(&owner).json(json!({"text": "Sale", "planned_for": at, "copies": [
            {"account_id": masto, "content_warning": "Shopping"}, {"account_id": shop}]})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let items = r.body["items"].as_array().unwrap();
        assert_eq!((&items[0]["content_warning"], &items[1]["content_warning"]), (&json!("Shopping"), &Value::Null));
        for item in items {
            let stored = get(&app, &owner, item["id"].as_str().unwrap()).await;
            let planned: jiff::Timestamp = stored.body["planned_for"].as_str().unwrap().parse().unwrap();
            assert_eq!(planned, at.parse::<jiff::Timestamp>().unwrap());
        }
    }

    async fn a_planned_time_is_a_plan_kept_apart_from_content_and_schedule(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let shop = sandbox(&app, &owner).await;
        let at = jiff::Timestamp::from_second(app.clock.now().as_second() + 3 * 86_400).unwrap();
        let r = create(&app, &owner, &shop, json!({"text": "Plan", "planned_for": "next tuesday"})).await;
        refused_on(&r, "planned_for");
        let r = create(&app, &owner, &shop, json!({"text": "Plan", "planned_for": at.to_string()})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(r.body["planned_for"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap(), at);
        assert_eq!(r.body["scheduled_at"], Value::Null, "a plan is not a schedule");

        // Approved, then re-planned: still approved, same version, nothing scheduled.
        assert_eq!(act(&app, &owner, &id, "submit", json!({})).await.status, 200);
        assert_eq!(act(&app, &owner, &id, "approve", json!({"version": 1})).await.status, 200);
        let later = jiff::Timestamp::from_second(at.as_second() + 3600).unwrap();
        let r = patch(&app, &owner, &id, json!({"planned_for": later.to_string()})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.body["state"].as_str(), r.body["version"].as_i64()), (Some("approved"), Some(1)), "{}", r.text);
        assert_eq!(r.body["approvals"].as_array().unwrap().len(), 1, "{}", r.text);
        assert_eq!(r.body["planned_for"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap(), later);
        // Cleared by null; an edit of the text keeps the plan (and makes the post a draft).
        let r = patch(&app, &owner, &id, json!({"planned_for": null})).await;
        assert_eq!((r.status, &r.body["planned_for"], r.body["state"].as_str()), (200, &Value::Null, Some("approved")), "{}", r.text);
        patch(&app, &owner, &id, json!({"planned_for": at.to_string()})).await;
        let r = patch(&app, &owner, &id, json!({"text": "Plan, reworded"})).await;
        assert_eq!((r.status, r.body["state"].as_str(), r.body["version"].as_i64()), (200, Some("draft"), Some(2)), "{}", r.text);
        assert_eq!(r.body["planned_for"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap(), at);

        // Another member may not change the plan of a post they may not edit.
        let viewer = crate::helpers::accounts::member(&app, &owner, &shop, "vera@example.test", "viewer").await;
        let r = patch(&app, &viewer, &id, json!({"planned_for": null})).await;
        assert_eq!(r.status, 403, "{}", r.text);
        // The scheduler never publishes a plan.
        app.clock.advance(Duration::from_secs(4 * 86_400));
        app.state.scheduler.wake();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(get(&app, &owner, &id).await.body["state"], "draft");
    }
}
