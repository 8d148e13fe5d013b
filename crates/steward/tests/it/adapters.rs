//! The LinkedIn, TikTok and Bluesky publishing adapters through the real scheduler, against the
//! doubles: each platform's own way to be exactly-once, including the
//! committed-but-lost faults (the platform did the work, the answer never arrived); and their
//! engagement: Bluesky threads, replies and counts, LinkedIn member-profile counts.
use std::time::Duration;
use steward_domain::ids::{AccountId, PostId};

use serde_json::json;
use steward_app::platforms::{Outgoing, PublishJournal, PublishOutcome};
use steward_connectors::OauthApp;
use steward_doubles::{bluesky, linkedin, tiktok};
use steward_store::PostRow;

use crate::helpers::accounts::bluesky_account;
use crate::helpers::oauth::{connected, start, with_connected_linkedin_member};
use crate::helpers::seed::due_post;
use crate::helpers::*;

async fn post(app: &TestApp, id: &str) -> PostRow {
    app.state.store.post(&PostId::new(id.to_string())).await.unwrap().unwrap()
}

/// Wakes the scheduler until the post's job is in `job_state` (or the post in a final state).
async fn until(app: &TestApp, id: &str, job_state: &str) {
    for _ in 0..600 {
        let job = app.state.store.publish_job(&PostId::new(id.to_string())).await.unwrap();
        if job.is_some_and(|j| j.state == job_state) {
            return;
        }
        app.state.scheduler.wake();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "job of {id} never reached {job_state}: {:?}",
        app.state.store.publish_job(&PostId::new(id.to_string())).await.unwrap()
    );
}

/// Waits for the post to be published or failed, moving the clock past each retry or poll delay.
async fn retried(app: &TestApp, id: &str) -> PostRow {
    for _ in 0..600 {
        let p = post(app, id).await;
        if matches!(p.state.as_str(), "published" | "failed") {
            return p;
        }
        if let Some(next) =
            app.state.store.publish_job(&PostId::new(id.to_string())).await.unwrap().and_then(|j| j.next_attempt_at)
        {
            let wait = next - app.clock.now_us();
            if wait > 0 {
                app.clock.advance(Duration::from_micros(u64::try_from(wait).unwrap() + 1));
            }
        }
        app.state.scheduler.wake();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("post {id} never settled: {:?}", post(app, id).await);
}

both_backends! {
    async fn engagement_reads_comments_replies_and_counts_on_published_posts(app: TestApp) {
        let owner = app.user("engage@example.com").await;
        let r = app.post("/api/v1/accounts").auth(&owner)
            .json(json!({"platform": "sandbox", "handle": "@engage", "credentials": {}})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let account = r.body["id"].as_str().unwrap().to_string();
        let id = due_post(&app, &account, &owner, "Talk to me", "[]").await;
        let p = retried(&app, &id).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        let ext = p.external_id.clone().unwrap();
        let c = steward_app::platforms::sandbox::add_follower_comment(&app.state, &AccountId::new(account.to_string()), &ext, "@fan", "Nice!")
            .await.unwrap().unwrap();
        let list = app.get(&format!("/api/v1/accounts/{account}/comments")).auth(&owner).send().await;
        assert_eq!(list.status, 200, "{}", list.text);
        let items = list.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!((items[0]["id"].as_str(), items[0]["post_id"].as_str(), items[0]["author"].as_str()), (Some(c.id.as_str()), Some(id.as_str()), Some("@fan")));
        let r = app.post(&format!("/api/v1/accounts/{account}/comments/{}/reply", c.id)).auth(&owner)
            .json(json!({"text": "Thanks!"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!((r.body["parent_id"].as_str(), r.body["post_id"].as_str()), (Some(c.id.as_str()), Some(id.as_str())));
        app.post(&format!("/api/v1/accounts/{account}/comments/{}/reply", c.id)).auth(&owner)
            .json(json!({"text": "  "})).send().await.assert_problem(422, "validation");
        // A comment that is not there is a missing resource.
        app.post(&format!("/api/v1/accounts/{account}/comments/nope/reply")).auth(&owner)
            .json(json!({"text": "Hi"})).send().await.assert_problem(404, "not-found");
        let events = app.state.store.audit_events_after(0, 10_000).await.unwrap();
        let replies: Vec<_> = events.iter().filter(|e| e.action == "comments.reply" && e.outcome == "allowed").collect();
        assert_eq!(replies.len(), 1);
        assert!(replies[0].detail.contains("Thanks!") && replies[0].target.as_deref() == Some(format!("comment:{}", c.id).as_str()));
        assert_eq!(app.get(&format!("/api/v1/accounts/{account}/comments")).auth(&owner).send().await.body["items"].as_array().unwrap().len(), 2);
        assert!(app.state.store.set_sandbox_engagement(&AccountId::new(account.to_string()), &ext, 120, 7, 2).await.unwrap());
        let stats = app.get(&format!("/api/v1/accounts/{account}/analytics")).auth(&owner).send().await;
        assert_eq!(stats.status, 200, "{}", stats.text);
        let s = &stats.body["posts"][0];
        assert_eq!(s["post_id"], id.as_str());
        assert_eq!((s["impressions"].as_i64(), s["likes"].as_i64(), s["comments"].as_i64(), s["shares"].as_i64()), (Some(120), Some(7), Some(2), Some(2)));
    }

    async fn bluesky_reuses_its_record_key_and_finds_a_lost_post(app: TestApp) {
        let double = bluesky::BlueskyDouble::start(bluesky::Config::default()).await.unwrap();
        let Some((app, owner, account)) = bluesky_account(app, &double).await else { return };
        // The PDS stores the record, then the answer is lost.
        double.lose_next_response("/xrpc/com.atproto.repo.createRecord");
        let id = due_post(&app, &account, &owner, "Hello from Steward", "[]").await;
        until(&app, &id, "waiting").await;
        let job = app.state.store.publish_job(&PostId::new(id.to_string())).await.unwrap().unwrap();
        let saved = job.platform_ref.clone().expect("the record key was saved before createRecord");
        let rkey = saved.split(' ').next().unwrap().to_string();
        assert_eq!(double.records().len(), 1);
        assert_eq!(double.records()[0].rkey, rkey, "the record is under the key Steward chose");
        let p = retried(&app, &id).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        assert_eq!(double.records().len(), 1, "found, not posted twice");
        assert!(p.external_id.as_deref().unwrap().ends_with(&format!("/app.bsky.feed.post/{rkey}")), "{p:?}");
        let creates = double.requests().iter().filter(|r| r.path == "/xrpc/com.atproto.repo.createRecord").count();
        assert_eq!(creates, 1, "the retry looked (getRecord) instead of writing again");
        assert!(double.requests().iter().any(|r| r.path == "/xrpc/com.atproto.repo.getRecord"));
    }

    async fn linkedin_looks_up_the_authors_posts_before_a_retry(app: TestApp) {
        let backend = app.backend;
        drop(app);
        // With r_member_social the look-up finds the post; without it LinkedIn refuses the
        // look-up and the duplicate-422 alone keeps it to one post.
        for member_read in [true, false] {
            let double = linkedin::LinkedInDouble::start(linkedin::Config::default()).await.unwrap();
            let (cid, secret, base) = (double.config().client_id.clone(), double.config().client_secret.clone(), double.base.clone());
            let Some(app) = TestApp::spawn_with(backend, move |s| {
                s.linkedin = Some(OauthApp { client_id: cid, client_secret: zeroize::Zeroizing::new(secret), auth_base: base.clone(), api_base: base });
                s.linkedin_member_read = member_read;
            }).await else { return };
            let owner = app.user("olivia@example.com").await;
            let back = start(&app, &owner, json!({"platform": "linkedin", "account_kind": "member"})).await;
            connected(&app, &owner, &back).await;
            let account = app.get("/api/v1/accounts").auth(&owner).send().await.body["items"][0]["id"].as_str().unwrap().to_string();
            double.lose_next_response("/rest/posts");
            let text = "Launch day (finally) #rust";
            let id = due_post(&app, &account, &owner, text, "[]").await;
            until(&app, &id, "waiting").await;
            assert_eq!(double.posts().len(), 1, "LinkedIn has it already");
            let p = retried(&app, &id).await;
            assert_eq!(p.state.as_str(), "published", "{p:?}");
            assert_eq!(double.posts().len(), 1, "not posted twice");
            assert_eq!(p.external_id.as_deref(), Some(double.posts()[0].urn.as_str()));
            assert_eq!(double.posts()[0].commentary, linkedin_escaped(text), "the whole text, escaped");
            let reqs = double.requests();
            let creates = reqs.iter().filter(|r| r.method == "POST" && r.path == "/rest/posts").count();
            assert_eq!(creates, if member_read { 1 } else { 2 }, "found by the look-up, or refused as a duplicate");
            assert!(reqs.iter().any(|r| r.method == "GET" && r.path == "/rest/posts" && r.query.contains("q=author")));
            // A second post, whose first answer is LinkedIn's duplicate-422 (as after a lost answer
            // that the look-up missed), is a success with the live post's URN.
            let id2 = due_post(&app, &account, &owner, text, "[]").await;
            let p2 = retried(&app, &id2).await;
            assert_eq!(p2.state.as_str(), "published", "{p2:?}");
            assert_eq!(p2.external_id, p.external_id, "the duplicate names the live post");
            assert_eq!(double.posts().len(), 1);
        }
    }

    async fn tiktok_saves_the_publish_id_and_polls_it_instead_of_a_second_init(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let double = tiktok::TikTokDouble::start(tiktok::Config::default()).await.unwrap();
        let (cid, secret, base) = (double.config().client_key.clone(), double.config().client_secret.clone(), double.base.clone());
        let Some(app) = TestApp::spawn_with(backend, move |s| {
            s.tiktok = Some(OauthApp { client_id: cid, client_secret: zeroize::Zeroizing::new(secret), auth_base: base.clone(), api_base: base });
        }).await else { return };
        let owner = app.user("creator@example.com").await;
        let back = start(&app, &owner, json!({"platform": "tiktok"})).await;
        connected(&app, &owner, &back).await;
        let account_id = app.get("/api/v1/accounts").auth(&owner).send().await.body["items"][0]["id"].as_str().unwrap().to_string();
        let media = r#"[{"url":"https://media.example.com/clip.mp4","kind":"video"}]"#;
        let id = due_post(&app, &account_id, &owner, "My first clip", media).await;
        let p = retried(&app, &id).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        let inits = |d: &tiktok::TikTokDouble| d.requests().iter().filter(|r| r.path == "/v2/post/publish/video/init/").count();
        assert_eq!(inits(&double), 1);
        let job = app.state.store.publish_job(&PostId::new(id.to_string())).await.unwrap().unwrap();
        let publish_id = job.platform_ref.clone().expect("publish_id saved");
        let init = double.requests().into_iter().find(|r| r.path == "/v2/post/publish/video/init/").unwrap();
        assert!(init.body.contains("PULL_FROM_URL") && init.body.contains("https://media.example.com/clip.mp4"), "{}", init.body);
        // A worker that crashed after saving the publish_id retries with it: TikTok is asked
        // about that post, and no second one is initialised.
        let account = app.state.store.account_by_id(&AccountId::new(account_id.to_string())).await.unwrap().unwrap();
        let journal = PublishJournal::new(app.state.store.clone(), &PostId::new(id.to_string()), "another-worker", Some(publish_id.clone()), app.clock.now_us());
        let key = steward_app::scheduler::idempotency_key(&PostId::new(id.to_string()), 1);
        let out = Outgoing { post_id: &id.as_str().into(), version: 1, idempotency_key: &key, text: "My first clip", title: None, content_warning: None, media: &[steward_app::platforms::MediaRef {
            url: "https://media.example.com/clip.mp4".into(), kind: steward_app::platforms::MediaKind::Video, alt: None }] };
        let outcome = steward_app::platforms::publish(&app.state, &account, &out, &journal).await.unwrap();
        assert!(matches!(outcome, PublishOutcome::Published(_)), "{outcome:?}");
        assert_eq!(inits(&double), 1, "no second init");
        assert!(double.requests().iter().filter(|r| r.path == "/v2/post/publish/status/fetch/").count() >= 2);
        // TikTok's APIs for apps have no comments (tiktok_media.rs checks the sentence and the counts).
        let comments = app.get(&format!("/api/v1/accounts/{account_id}/comments")).auth(&owner).send().await;
        comments.assert_problem(409, "conflict");
        assert!(comments.body["detail"].as_str().unwrap().contains("TikTok"), "{}", comments.text);
    }

    async fn bluesky_engagement_reads_the_thread_replies_under_its_root_and_counts(app: TestApp) {
        let double = bluesky::BlueskyDouble::start(bluesky::Config::default()).await.unwrap();
        let Some((app, owner, account)) = bluesky_account(app, &double).await else { return };
        let id = due_post(&app, &account, &owner, "Ask me anything", "[]").await;
        let p = retried(&app, &id).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        let root = p.external_id.clone().unwrap();
        let bob = double.reply_from("did:plc:bob", "bob.test", &root, "What is Steward?").unwrap();
        let base = format!("/api/v1/accounts/{account}");

        let list = app.get(&format!("{base}/comments")).auth(&owner).send().await;
        assert_eq!(list.status, 200, "{}", list.text);
        let items = list.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", list.text);
        let bob_id = items[0]["id"].as_str().unwrap().to_string();
        assert_eq!(bob_id, format!("did:plc:bob!{}", bob.rsplit('/').next().unwrap()));
        assert_eq!((items[0]["post_id"].as_str(), items[0]["author"].as_str(), items[0]["text"].as_str()),
            (Some(id.as_str()), Some("@bob.test"), Some("What is Steward?")));
        assert!(items[0]["parent_id"].is_null(), "a direct reply to the post");

        let r = app.post(&format!("{base}/comments/{bob_id}/reply")).auth(&owner)
            .json(json!({"text": "A self-hosted publisher"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!((r.body["post_id"].as_str(), r.body["parent_id"].as_str()), (Some(id.as_str()), Some(bob_id.as_str())));
        let ours = double.records().into_iter().find(|r| r.value["text"] == "A self-hosted publisher").unwrap();
        assert_eq!(ours.repo, double.config().did, "posted as the account");
        assert_eq!((ours.value["reply"]["root"]["uri"].as_str(), ours.value["reply"]["parent"]["uri"].as_str()),
            (Some(root.as_str()), Some(bob.as_str())));
        let list = app.get(&format!("{base}/comments")).auth(&owner).send().await;
        let items = list.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{}", list.text);
        assert_eq!(items[1]["parent_id"].as_str(), Some(bob_id.as_str()), "the reply sits under Bob's");
        app.post(&format!("{base}/comments/not-a-bluesky-id/reply")).auth(&owner)
            .json(json!({"text": "Hi"})).send().await.assert_problem(422, "validation");

        double.set_interactions(&root, bluesky::Interactions { likes: 3, reposts: 1, quotes: 1 });
        double.set_followers(7);
        let stats = app.get(&format!("{base}/analytics")).auth(&owner).send().await;
        assert_eq!(stats.status, 200, "{}", stats.text);
        assert_eq!(stats.body["followers"], 7);
        assert_eq!(stats.body["posts"], json!([{"post_id": id, "impressions": null, "likes": 3, "comments": 1, "shares": 2}]),
            "Bluesky counts no impressions; shares are reposts and quotes");
        let secrets = double.issued_secrets();
        for body in [&list.text, &stats.text, &r.text] {
            assert!(secrets.iter().all(|s| !body.contains(s.as_str())));
        }
    }

    async fn linkedin_member_analytics_need_r_member_social_and_report_what_linkedin_tells(app: TestApp) {
        let backend = app.backend;
        drop(app);
        for member_read in [false, true] {
            let double = linkedin::LinkedInDouble::start(linkedin::Config::default()).await.unwrap();
            let (cid, secret, base) = (double.config().client_id.clone(), double.config().client_secret.clone(), double.base.clone());
            let Some(app) = TestApp::spawn_with(backend, move |s| {
                s.linkedin = Some(OauthApp { client_id: cid, client_secret: zeroize::Zeroizing::new(secret), auth_base: base.clone(), api_base: base });
                s.linkedin_member_read = member_read;
            }).await else { return };
            let owner = app.user("olivia@example.com").await;
            let back = start(&app, &owner, json!({"platform": "linkedin", "account_kind": "member"})).await;
            connected(&app, &owner, &back).await;
            let account = app.get("/api/v1/accounts").auth(&owner).send().await.body["items"][0]["id"].as_str().unwrap().to_string();
            let authorize = double.requests().into_iter().find(|r| r.path == "/oauth/v2/authorization").unwrap();
            assert_eq!(authorize.query.contains("r_member_social"), member_read, "{}", authorize.query);
            let id = due_post(&app, &account, &owner, "Member post", "[]").await;
            let p = retried(&app, &id).await;
            assert_eq!(p.state.as_str(), "published", "{p:?}");
            let urn = p.external_id.clone().unwrap();
            double.set_share_statistics(&urn, linkedin::ShareCounts { likes: 9, impressions: 500, ..linkedin::ShareCounts::default() });
            let first = double.comment_from("urn:li:person:fan", &urn, None, "Congrats").unwrap();
            double.comment_from("urn:li:person:fan2", &urn, Some(&first), "Indeed").unwrap();
            let stats = app.get(&format!("/api/v1/accounts/{account}/analytics")).auth(&owner).send().await;
            if !member_read {
                stats.assert_problem(409, "conflict");
                assert!(stats.body["detail"].as_str().unwrap().contains("r_member_social"), "{}", stats.text);
                assert!(!double.requests().iter().any(|r| r.path.starts_with("/rest/socialMetadata")), "not asked in vain");
                continue;
            }
            assert_eq!(stats.status, 200, "{}", stats.text);
            assert!(stats.body["followers"].is_null());
            assert_eq!(stats.body["posts"], json!([{"post_id": id, "impressions": null, "likes": 9, "comments": 2, "shares": null}]),
                "LinkedIn gives apps no impressions or reshares of a member's post");
            assert!(double.requests().iter().any(|r| r.path == format!("/rest/socialMetadata/{}", steward_connectors::linkedin::encode_urn(&urn))));
        }
    }
}

both_backends! {
    async fn a_credential_refused_for_good_is_not_tried_again(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double, owner, account)) = with_connected_linkedin_member(backend).await else { return };
        let base = format!("/api/v1/accounts/{account}");
        let live = due_post(&app, &account, &owner, "Live post", "[]").await;
        let urn = retried(&app, &live).await.external_id.unwrap();
        let fan = double.comment_from("urn:li:person:fan", &urn, None, "Congrats").unwrap();
        // A post whose first attempt met a server error waits for its retry.
        double.inject("/rest/posts", steward_doubles::Fault::ServerError);
        let waiting = due_post(&app, &account, &owner, "Second post", "[]").await;
        until(&app, &waiting, "waiting").await;

        // The member removes the app: the next call is refused, the refresh too, and the
        // account needs its owner to reconnect it.
        double.revoke_all();
        app.get(&format!("{base}/comments")).auth(&owner).send().await.assert_problem(409, "conflict");
        assert_eq!(app.get(&base).auth(&owner).send().await.body["status"], "needs_reconnect");
        let refreshes = |d: &linkedin::LinkedInDouble| d.requests().iter().filter(|r| r.path == "/oauth/v2/accessToken" && r.body.contains("refresh_token")).count();
        assert_eq!(refreshes(&double), 1, "one refresh was tried, and refused");
        let before = double.requests().len();

        // From now on nothing reaches LinkedIn with the dead credential: engagement, the
        // connection check, and the scheduler (a retry that was waiting, and a new due post).
        let comments = app.get(&format!("{base}/comments")).auth(&owner).send().await;
        comments.assert_problem(409, "conflict");
        assert!(comments.text.contains("reconnect"), "{}", comments.text);
        app.post(&format!("{base}/comments/{urn}!{fan}/reply")).auth(&owner).json(json!({"text": "Thanks"})).send().await
            .assert_problem(409, "conflict");
        app.get(&format!("{base}/analytics")).auth(&owner).send().await.assert_problem(409, "conflict");
        let check = app.post(&format!("{base}/check")).auth(&owner).send().await;
        assert_eq!((check.status, check.body["status"].as_str()), (200, Some("needs_reconnect")), "{}", check.text);
        let next = app.state.store.publish_job(&PostId::new(waiting.to_string())).await.unwrap().unwrap().next_attempt_at.unwrap();
        app.clock.advance(Duration::from_micros(u64::try_from(next - app.clock.now_us()).unwrap_or(0) + 1));
        let fresh = due_post(&app, &account, &owner, "Third post", "[]").await;
        for id in [&waiting, &fresh] {
            let mut held = post(&app, id).await;
            for _ in 0..200 {
                if held.hold_reason.is_some() {
                    break;
                }
                app.state.scheduler.wake();
                tokio::time::sleep(Duration::from_millis(50)).await;
                held = post(&app, id).await;
            }
            assert_eq!((held.state.as_str(), held.hold_reason.map(|r| r.as_str())), ("approved", Some("needs_reconnect")), "{held:?}");
        }
        let after: Vec<_> = double.requests().into_iter().skip(before).map(|r| format!("{} {}", r.method, r.path)).collect();
        assert!(after.is_empty(), "nothing was sent with the dead credential: {after:?}");
        assert_eq!(refreshes(&double), 1);
        let failed = app.get(&format!("{base}/activity?action=accounts.credential_failed")).auth(&owner).send().await;
        assert_eq!(failed.body["items"].as_array().unwrap().len(), 1, "recorded once: {}", failed.text);
    }
}

both_backends! {
    async fn bluesky_and_mastodon_accounts_needing_reconnect_are_not_called(app: TestApp) {
        let bsky = bluesky::BlueskyDouble::start(bluesky::Config::default()).await.unwrap();
        let Some((app, owner, bluesky_id)) = bluesky_account(app, &bsky).await else { return };
        let masto = steward_doubles::mastodon::MastodonDouble::start(steward_doubles::mastodon::Config::default()).await.unwrap();
        let mastodon_id = crate::helpers::seed::seal_mastodon_account(
            &app.state.store, app.state.vault(), &owner.user_id, &masto, app.clock.now_us()).await;
        for id in [&bluesky_id, &mastodon_id] {
            let mut tx = app.state.store.begin().await.unwrap();
            tx.set_account_status(&AccountId::new(id.to_string()), "needs_reconnect", app.clock.now_us()).await.unwrap();
            tx.commit().await.unwrap();
        }
        let (bsky_before, masto_before) = (bsky.requests().len(), masto.requests().len());
        for id in [&bluesky_id, &mastodon_id] {
            let account = app.state.store.account_by_id(&AccountId::new(id.to_string())).await.unwrap().unwrap();
            let ids = ["at://did:plc:x/app.bsky.feed.post/1".to_string()];
            let refused = |e: steward_connectors::ConnectorError| matches!(e, steward_connectors::ConnectorError::Unauthorized(_));
            assert!(steward_app::platforms::comments(&app.state, &account, &ids).await.is_err_and(refused));
            assert!(steward_app::platforms::reply(&app.state, &account, "did:plc:bob!3k", "Hi").await.is_err_and(refused));
            assert!(steward_app::platforms::analytics(&app.state, &account, &ids).await.is_err_and(refused));
            let check = app.post(&format!("/api/v1/accounts/{id}/check")).auth(&owner).send().await;
            assert_eq!((check.status, check.body["status"].as_str()), (200, Some("needs_reconnect")), "{}", check.text);
        }
        assert_eq!(bsky.requests().len(), bsky_before, "nothing sent to the PDS");
        assert_eq!(masto.requests().len(), masto_before, "nothing sent to the instance");
    }
}

fn linkedin_escaped(text: &str) -> String {
    steward_connectors::linkedin::escape_little_text(text)
}
