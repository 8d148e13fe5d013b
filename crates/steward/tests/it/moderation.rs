//! Moderation through the API, on both databases, against the platform doubles: what each
//! platform's API offers (hiding a Bluesky reply with the post's threadgate, muting or blocking
//! a Mastodon reply's author, hiding in the sandbox) works and is audited; what it does not
//! offer answers 409 saying why; only `comments.reply` may moderate, never a read-only token;
//! and LinkedIn replies are listed under their comments, one level deep.
use std::time::Duration;

use serde_json::json;
use steward_doubles::{bluesky, mastodon};

use crate::helpers::accounts::{bluesky_account, member, sandbox_account};
use crate::helpers::oauth::with_connected_linkedin_member;
use crate::helpers::seed::{insert_due_post, seal_mastodon_account};
use crate::helpers::*;

/// Publishes a post on the account through the real scheduler; its platform id.
async fn published(app: &TestApp, account: &str, owner: &Session, text: &str) -> String {
    let id = insert_due_post(&app.state.store, account, &owner.user_id, text, "[]", app.clock.now_us()).await;
    for _ in 0..600 {
        let p = app.state.store.post(&steward_domain::ids::PostId::new(id.clone())).await.unwrap().unwrap();
        if p.state.as_str() == "published" {
            return p.external_id.unwrap();
        }
        assert_ne!(p.state.as_str(), "failed", "{p:?}");
        app.state.scheduler.wake();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("post {id} was never published");
}

async fn comments(app: &TestApp, who: &Session, account: &str) -> Vec<serde_json::Value> {
    let r = app.get(&format!("/api/v1/accounts/{account}/comments")).auth(who).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

async fn events(app: &TestApp, action: &str) -> Vec<steward_store::AuditEventRow> {
    let all = app.state.store.audit_events_after(0, 10_000).await.unwrap();
    all.into_iter().filter(|e| e.action == action && e.outcome == "allowed").collect()
}

both_backends! {
    async fn a_moderator_hides_a_sandbox_comment_and_the_rest_is_refused(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@moderated").await;
        let moderator = member(&app, &owner, &account, "moderator@example.com", "moderator").await;
        let editor = member(&app, &owner, &account, "editor@example.com", "editor").await;
        let ext = published(&app, &account, &owner, "Comments welcome").await;
        let c = steward_app::platforms::sandbox::add_follower_comment(&app.state, &steward_domain::ids::AccountId::new(account.clone()), &ext, "@troll", "Spam")
            .await.unwrap().unwrap();
        let base = format!("/api/v1/accounts/{account}/comments/{}", c.id);

        app.post(&format!("{base}/hide")).auth(&editor).send().await.assert_problem(403, "forbidden");
        let t = app.post("/api/v1/me/tokens").auth(&moderator).json(json!({"name": "reader", "scopes": ["read"]})).send().await;
        assert_eq!(t.status, 201, "{}", t.text);
        let reader = t.body["token"].as_str().unwrap().to_string();
        app.post(&format!("{base}/hide")).bearer(&reader).send().await.assert_problem(403, "forbidden");
        assert_eq!(comments(&app, &owner, &account).await[0]["hidden"], false, "refusals change nothing");

        let r = app.post(&format!("{base}/hide")).auth(&moderator).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        let list = comments(&app, &owner, &account).await;
        assert_eq!((list[0]["id"].as_str(), list[0]["hidden"].as_bool()), (Some(c.id.as_str()), Some(true)));
        let hid = events(&app, "comments.hide").await;
        assert_eq!(hid.len(), 1);
        assert_eq!(hid[0].target.as_deref(), Some(format!("comment:{}", c.id).as_str()));
        assert_eq!(hid[0].actor_id.as_deref(), Some(moderator.user_id.as_str()));

        for action in ["delete", "mute-author", "block-author"] {
            let r = app.post(&format!("{base}/{action}")).auth(&moderator).send().await;
            r.assert_problem(409, "conflict");
            assert!(r.body["detail"].as_str().unwrap().contains("sandbox only hides"), "{}", r.text);
        }
        let r = app.post(&format!("/api/v1/accounts/{account}/comments/sbc_nothing/hide")).auth(&moderator).send().await;
        // A comment that does not exist is not found, as for a reply.
        r.assert_problem(404, "not-found");
    }

    async fn mastodon_mutes_and_blocks_a_replys_author_and_hides_nothing(app: TestApp) {
        let double = mastodon::MastodonDouble::start(mastodon::Config::default()).await.unwrap();
        let backend = app.backend;
        drop(app);
        let Some(app) = TestApp::spawn_with(backend, |s| s.allow_private_networks = true).await else { return };
        let owner = app.user("olivia@example.com").await;
        let account =
            seal_mastodon_account(&app.state.store, app.state.vault(), &owner.user_id, &double, app.clock.now_us()).await;
        let status = published(&app, &account, &owner, "Toot").await;
        let reply = double.reply_from("troll", &status, "Boo").unwrap();
        let list = comments(&app, &owner, &account).await;
        assert_eq!(list[0]["id"].as_str(), Some(reply.as_str()), "{list:?}");
        let base = format!("/api/v1/accounts/{account}/comments/{reply}");

        let r = app.post(&format!("{base}/mute-author")).auth(&owner).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(double.muted_and_blocked_by("olivia"), (vec!["troll".to_string()], vec![]));
        let r = app.post(&format!("{base}/block-author")).auth(&owner).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(double.muted_and_blocked_by("olivia").1, ["troll"]);
        let blocked = events(&app, "comments.block_author").await;
        assert_eq!(blocked.len(), 1);
        assert!(blocked[0].detail.contains("troll"), "the author is recorded: {}", blocked[0].detail);
        for action in ["hide", "delete"] {
            let r = app.post(&format!("{base}/{action}")).auth(&owner).send().await;
            r.assert_problem(409, "conflict");
            assert!(r.body["detail"].as_str().unwrap().contains("Mastodon"), "{}", r.text);
        }
    }

    async fn bluesky_hides_a_reply_under_the_accounts_post(app: TestApp) {
        let double = bluesky::BlueskyDouble::start(bluesky::Config::default()).await.unwrap();
        let Some((app, owner, account)) = bluesky_account(app, &double).await else { return };
        let root = published(&app, &account, &owner, "Ask me anything").await;
        let bob = double.reply_from("did:plc:bob", "bob.test", &root, "Spam").unwrap();
        let list = comments(&app, &owner, &account).await;
        assert_eq!(list[0]["hidden"], false);
        let id = list[0]["id"].as_str().unwrap().to_string();

        let r = app.post(&format!("/api/v1/accounts/{account}/comments/{id}/hide")).auth(&owner).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        let gate = double.records().into_iter().find(|r| r.collection == "app.bsky.feed.threadgate").unwrap();
        assert_eq!(gate.value["hiddenReplies"], json!([bob]));
        assert_eq!(gate.value["post"], json!(root));
        let list = comments(&app, &owner, &account).await;
        assert_eq!((list[0]["id"].as_str(), list[0]["hidden"].as_bool()), (Some(id.as_str()), Some(true)), "still listed, marked hidden");
        assert_eq!(events(&app, "comments.hide").await.len(), 1);
        for action in ["delete", "mute-author", "block-author"] {
            app.post(&format!("/api/v1/accounts/{account}/comments/{id}/{action}")).auth(&owner).send().await
                .assert_problem(409, "conflict");
        }
    }

    async fn linkedin_lists_replies_under_their_comments_and_deletes_nothing_on_a_member_profile(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double, owner, account)) = with_connected_linkedin_member(backend).await else { return };
        let urn = published(&app, &account, &owner, "Hiring").await;
        let fan = "urn:li:person:fan42";
        let first = double.comment_from(fan, &urn, None, "Interested").unwrap();
        let reply = double.comment_from("urn:li:person:other", &urn, Some(&first), "Me too").unwrap();
        let list = comments(&app, &owner, &account).await;
        assert_eq!(list.len(), 2, "{list:?}");
        assert_eq!(list[0]["id"].as_str(), Some(format!("{urn}!{first}").as_str()));
        assert!(list[0]["parent_id"].is_null());
        assert_eq!(list[1]["id"].as_str(), Some(format!("{urn}!{reply}").as_str()));
        assert_eq!(list[1]["parent_id"].as_str(), Some(format!("{urn}!{first}").as_str()), "one level deep");
        let id = list[0]["id"].as_str().unwrap().to_string();
        let r = app.post(&format!("/api/v1/accounts/{account}/comments/{id}/delete")).auth(&owner).send().await;
        r.assert_problem(409, "conflict");
        assert!(r.body["detail"].as_str().unwrap().contains("own comments"), "{}", r.text);
        assert_eq!(double.comments().len(), 2, "nothing was deleted");
    }
}
