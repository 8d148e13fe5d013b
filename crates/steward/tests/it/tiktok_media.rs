//! TikTok against its double: a video uploaded to Steward goes up in chunks (`FILE_UPLOAD`),
//! a failed chunk is sent again (not the whole file), also by the next attempt; the Analyst's
//! counts come from the Display API; comments answer one sentence saying TikTok offers none.
use serde_json::json;
use steward_connectors::OauthApp;
use steward_doubles::tiktok::{self, TikTokDouble};

use crate::helpers::oauth::{connected, start};
use crate::helpers::seed::{insert_due_post, settled};
use crate::helpers::*;

/// 11 MiB: two chunks at TikTok's smallest chunk size (5 MiB + 6 MiB).
const VIDEO_BYTES: usize = 11 * 1024 * 1024;
const CHUNK: u64 = 5 * 1024 * 1024;

async fn with_tiktok(backend: Backend) -> Option<(TestApp, TikTokDouble, Session, String)> {
    let double = TikTokDouble::start(tiktok::Config::default()).await.unwrap();
    let (cid, secret, base) =
        (double.config().client_key.clone(), double.config().client_secret.clone(), double.base.clone());
    let app = TestApp::spawn_with(backend, move |s| {
        s.tiktok = Some(OauthApp {
            client_id: cid,
            client_secret: zeroize::Zeroizing::new(secret),
            auth_base: base.clone(),
            api_base: base,
        });
    })
    .await?;
    let owner = app.user("creator@example.com").await;
    let back = start(&app, &owner, json!({"platform": "tiktok"})).await;
    connected(&app, &owner, &back).await;
    let account =
        app.get("/api/v1/accounts").auth(&owner).send().await.body["items"][0]["id"].as_str().unwrap().to_string();
    Some((app, double, owner, account))
}

/// An MP4-looking file of `len` bytes (the `ftyp` box Steward's upload checks for).
fn mp4(len: usize, fill: u8) -> Vec<u8> {
    let mut v = vec![fill; len];
    v[..12].copy_from_slice(b"\0\0\0\x18ftypisom");
    v
}

/// Uploads an MP4; answers a post's media naming it.
async fn upload(app: &TestApp, owner: &Session, account: &str, bytes: Vec<u8>) -> String {
    let url = crate::helpers::media::upload(app, owner, account, "video/mp4", bytes).await;
    json!([{"url": url, "kind": "video"}]).to_string()
}

/// The `Content-Range` of every chunk PUT to the upload URL, in order.
fn chunk_puts(double: &TikTokDouble) -> Vec<String> {
    double
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path == "/upload/")
        .map(|r| r.header("content-range").unwrap_or_default().to_string())
        .collect()
}

fn inits(double: &TikTokDouble) -> usize {
    double.requests().iter().filter(|r| r.path == "/v2/post/publish/video/init/").count()
}

both_backends! {
    async fn a_video_uploaded_to_steward_goes_up_in_chunks_and_resumes_at_the_failed_chunk(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double, owner, account)) = with_tiktok(backend).await else { return };
        let total = VIDEO_BYTES as u64;
        let first = format!("bytes 0-{}/{total}", CHUNK - 1);
        let second = format!("bytes {CHUNK}-{}/{total}", total - 1);

        // The second chunk fails more often than one attempt retries it: the next attempt finds
        // the upload in the journal and sends only that chunk.
        double.fail_chunk(1, 3);
        let media = upload(&app, &owner, &account, mp4(VIDEO_BYTES, 1)).await;
        let id = insert_due_post(&app.state.store, &account, &owner.user_id, "Made with Steward", &media, app.clock.now_us()).await;
        app.state.scheduler.wake();
        let p = settled(&app, &id).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        assert_eq!(inits(&double), 1, "one post initialised, never a second");
        let init = double.requests().into_iter().find(|r| r.path == "/v2/post/publish/video/init/").unwrap();
        let body: serde_json::Value = serde_json::from_str(&init.body).unwrap();
        assert_eq!(body["source_info"], json!({"source": "FILE_UPLOAD", "video_size": total, "chunk_size": CHUNK, "total_chunk_count": 2}));
        let puts = chunk_puts(&double);
        assert_eq!(puts.iter().filter(|r| **r == first).count(), 1, "the first chunk went once: {puts:?}");
        assert_eq!(puts.iter().filter(|r| **r == second).count(), 4, "three failures, then it went: {puts:?}");
        assert_eq!(double.stored_chunks(), vec![0, 1]);
        let put = double.requests().into_iter().find(|r| r.path == "/upload/").unwrap();
        assert_eq!(put.header("content-type"), Some("video/mp4"));
        assert!(put.header("authorization").is_none(), "the bearer token never goes to the upload URL");
        // The journal never kept the upload URL in clear.
        let events = app.state.store.audit_events_after(0, 10_000).await.unwrap();
        assert!(events.iter().all(|e| !e.detail.contains("upload_token")), "no upload URL in the log");

        // A chunk that fails once is sent again within the same attempt.
        double.fail_chunk(0, 1);
        let media = upload(&app, &owner, &account, mp4(VIDEO_BYTES, 2)).await;
        let before = chunk_puts(&double).len();
        let id = insert_due_post(&app.state.store, &account, &owner.user_id, "Second clip", &media, app.clock.now_us()).await;
        app.state.scheduler.wake();
        let p = settled(&app, &id).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        assert_eq!(&chunk_puts(&double)[before..], &[first.clone(), first, second], "chunk 0 twice, chunk 1 once");
        assert_eq!(inits(&double), 2);

        // A small video (under 5 MB) goes in one piece.
        let media = upload(&app, &owner, &account, mp4(300_000, 3)).await;
        let id = insert_due_post(&app.state.store, &account, &owner.user_id, "Short", &media, app.clock.now_us()).await;
        app.state.scheduler.wake();
        assert_eq!(settled(&app, &id).await.state.as_str(), "published");
        assert_eq!(chunk_puts(&double).last().map(String::as_str), Some("bytes 0-299999/300000"));
    }

    async fn tiktok_counts_come_from_the_display_api_and_comments_say_why_not(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double, owner, account)) = with_tiktok(backend).await else { return };
        let auth = double.requests().into_iter().find(|r| r.path == "/v2/auth/authorize/").unwrap();
        assert!(auth.query.contains("video.list") && auth.query.contains("user.info.stats"), "{}", auth.query);
        // An external URL is still pulled by TikTok.
        let media = r#"[{"url":"https://media.example.com/clip.mp4","kind":"video"}]"#;
        let id = insert_due_post(&app.state.store, &account, &owner.user_id, "Pulled", media, app.clock.now_us()).await;
        app.state.scheduler.wake();
        let p = settled(&app, &id).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        let init = double.requests().into_iter().find(|r| r.path == "/v2/post/publish/video/init/").unwrap();
        assert!(init.body.contains("PULL_FROM_URL"), "{}", init.body);
        let video = p.external_id.clone().unwrap();
        assert!(video.bytes().all(|b| b.is_ascii_digit()), "the public video id: {video}");

        double.set_video_counts(&video, tiktok::VideoCounts { views: 1000, likes: 50, comments: 4, shares: 3 });
        double.set_follower_count(321);
        let analyst = app.user("analyst@example.com").await;
        let r = app.post(&format!("/api/v1/accounts/{account}/invitations")).auth(&owner)
            .json(json!({"email": "analyst@example.com", "role": "analyst"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let token = r.body["token"].as_str().unwrap().to_string();
        let r = app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&analyst).json(json!({})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let stats = app.get(&format!("/api/v1/accounts/{account}/analytics")).auth(&analyst).send().await;
        assert_eq!(stats.status, 200, "{}", stats.text);
        assert_eq!(stats.body["followers"], 321);
        assert_eq!(stats.body["posts"], json!([{"post_id": id, "impressions": 1000, "likes": 50, "comments": 4, "shares": 3}]),
            "views are the impressions");
        let query = double.requests().into_iter().find(|r| r.path == "/v2/video/query/").unwrap();
        assert!(query.query.contains("view_count") && query.query.contains("share_count"), "{}", query.query);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&query.body).unwrap(), json!({"filters": {"video_ids": [video]}}));
        let info = double.requests().into_iter().rfind(|r| r.path == "/v2/user/info/").unwrap();
        assert_eq!(info.query, "fields=follower_count");

        let sentence = steward_app::platforms::tiktok::NO_COMMENTS;
        let comments = app.get(&format!("/api/v1/accounts/{account}/comments")).auth(&owner).send().await;
        comments.assert_problem(409, "conflict");
        assert_eq!(comments.body["detail"], sentence, "{}", comments.text);
        let reply = app.post(&format!("/api/v1/accounts/{account}/comments/123/reply")).auth(&owner)
            .json(json!({"text": "Hi"})).send().await;
        reply.assert_problem(409, "conflict");
        assert_eq!(reply.body["detail"], sentence, "{}", reply.text);
    }
}
