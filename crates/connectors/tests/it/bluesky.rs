//! Bluesky against its PDS double: app-password sessions, refresh rotation, ExpiredToken,
//! posts under a reused rkey, blobs, rate limits and proxy failures.
use std::time::Duration;

use steward_connectors::bluesky::{self, BlueskySession, PostDraft};
use steward_connectors::{ConnectorError, http};
use steward_doubles::Fault;
use steward_doubles::bluesky::{BlueskyDouble, Config, Interactions};

fn client() -> reqwest::Client {
    http::client().unwrap()
}

async fn login(d: &BlueskyDouble) -> BlueskySession {
    bluesky::create_session(&client(), &d.base, &d.config().handle, &d.config().app_password, true).await.unwrap()
}

fn post<'a>(text: &'a str, rkey: &'a str) -> PostDraft<'a> {
    PostDraft { text, created_at: "2026-03-01T12:00:00.000Z", rkey, images: &[], reply: None, langs: &[] }
}

#[tokio::test]
async fn app_password_sessions_refresh_and_rotate() {
    let d = BlueskyDouble::start(Config::default()).await.unwrap();
    let c = client();
    let s = login(&d).await;
    assert_eq!((s.did.as_str(), s.handle.as_str()), (d.config().did.as_str(), d.config().handle.as_str()));
    let exp = s.access_expires_at().unwrap();
    assert!((exp - (d.now() + 7200)).abs() <= 2, "lifetime read from the token");
    assert!(!format!("{s:?}").contains(&s.access_jwt) && !format!("{s:?}").contains(&s.refresh_jwt));

    let err = bluesky::create_session(&c, &d.base, &d.config().handle, "wxyz-wxyz-wxyz-wxyz", true).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Unauthorized(m) if m.starts_with("AuthenticationRequired")), "{err:?}");
    let before = d.requests().len();
    let err = bluesky::create_session(&c, &d.base, &d.config().handle, "my main password", true).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("app password")), "{err:?}");
    assert_eq!(d.requests().len(), before, "a main password is never sent");

    let me = bluesky::get_profile(&c, &d.base, &s).await.unwrap();
    assert_eq!(
        (me.id.as_str(), me.handle.as_str(), me.display_name.as_str()),
        (d.config().did.as_str(), "@alice.bsky.test", "Alice")
    );

    // The PDS answers an expired access token with 400 ExpiredToken, AppView with 401: both Unauthorized.
    d.advance(Duration::from_secs(7201));
    let err = bluesky::create_post(&c, &d.base, &s, &post("hi", &bluesky::new_tid())).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Unauthorized(m) if m.starts_with("ExpiredToken")), "{err:?}");
    let expired = d.requests().into_iter().rev().find(|r| r.path.ends_with("createRecord")).unwrap();
    assert_eq!(expired.header("authorization"), Some(format!("Bearer {}", s.access_jwt).as_str()));
    let err = bluesky::get_profile(&c, &d.base, &s).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unauthorized(_)));

    let s2 = bluesky::refresh_session(&c, &d.base, &s.refresh_jwt).await.unwrap();
    assert_ne!(s2.refresh_jwt, s.refresh_jwt, "rotated");
    bluesky::create_post(&c, &d.base, &s2, &post("after refresh", &bluesky::new_tid())).await.unwrap();
    // The old refresh token keeps working for 2 h and gives the same successor.
    let again = bluesky::refresh_session(&c, &d.base, &s.refresh_jwt).await.unwrap();
    assert_eq!(again.refresh_jwt, s2.refresh_jwt);
    d.advance(Duration::from_secs(2 * 3600));
    let err = bluesky::refresh_session(&c, &d.base, &s.refresh_jwt).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unauthorized(_)), "past the grace: {err:?}");
    bluesky::refresh_session(&c, &d.base, &s2.refresh_jwt).await.unwrap();
    let refresh_call = d.requests().into_iter().find(|r| r.path.ends_with("refreshSession")).unwrap();
    assert!(refresh_call.body.is_empty(), "no body, the refresh token as bearer");
}

#[tokio::test]
async fn a_retried_post_under_the_same_rkey_exists_once() {
    let d = BlueskyDouble::start(Config::default()).await.unwrap();
    let c = client();
    let s = login(&d).await;
    let rkey = bluesky::new_tid();
    d.lose_next_response("/xrpc/com.atproto.repo.createRecord");
    let err = bluesky::create_post(&c, &d.base, &s, &post("Hello Bluesky", &rkey)).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert_eq!(d.records().len(), 1, "committed");
    let r = bluesky::create_post(&c, &d.base, &s, &post("Hello Bluesky", &rkey)).await.unwrap();
    assert_eq!(d.records().len(), 1, "exactly one record");
    assert_eq!(r.uri, format!("at://{}/app.bsky.feed.post/{rkey}", s.did));
    assert_eq!(r.cid, d.records()[0].cid);
    let sent: Vec<_> = d.requests().into_iter().filter(|r| r.path.ends_with("createRecord")).collect();
    assert_eq!(sent.len(), 2);
    for req in &sent {
        let body: serde_json::Value = serde_json::from_str(&req.body).unwrap();
        assert_eq!(body["rkey"], rkey.as_str());
        assert_eq!(body["collection"], "app.bsky.feed.post");
        assert_eq!(body["record"]["$type"], "app.bsky.feed.post");
        assert_eq!(body["record"]["createdAt"], "2026-03-01T12:00:00.000Z");
    }
    let err = bluesky::create_post(&c, &d.base, &s, &post("Another text", &rkey)).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("different post")), "{err:?}");
    let found = bluesky::get_record(&c, &d.base, &s.did, bluesky::POST_COLLECTION, &rkey).await.unwrap().unwrap();
    assert_eq!(found.value["text"], "Hello Bluesky");
    assert!(
        bluesky::get_record(&c, &d.base, &s.did, bluesky::POST_COLLECTION, "3zzzzzzzzzzzz").await.unwrap().is_none()
    );
    let err = bluesky::create_post(&c, &d.base, &s, &post(&"a".repeat(301), &bluesky::new_tid())).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)));
    assert_eq!(d.records().len(), 1);
}

#[tokio::test]
async fn blobs_are_uploaded_and_embedded() {
    let d = BlueskyDouble::start(Config::default()).await.unwrap();
    let c = client();
    let s = login(&d).await;
    let blob = bluesky::upload_blob(&c, &d.base, &s, b"\x89PNG fake image".to_vec(), "image/png").await.unwrap();
    assert!(blob.cid.starts_with("bafkrei") && blob.mime_type == "image/png" && blob.size == 15);
    let up = d.requests().into_iter().find(|r| r.path.ends_with("uploadBlob")).unwrap();
    assert_eq!(up.header("content-type"), Some("image/png"));
    let images = vec![(blob.clone(), "a cat".to_string())];
    let langs = vec!["en".to_string()];
    let (k1, k2) = (bluesky::new_tid(), bluesky::new_tid());
    let draft = PostDraft { images: &images, langs: &langs, ..post("look", &k1) };
    let parent = bluesky::create_post(&c, &d.base, &s, &draft).await.unwrap();
    let stored = &d.records()[0].value;
    assert_eq!(stored["embed"]["$type"], "app.bsky.embed.images");
    assert_eq!(stored["embed"]["images"][0]["image"]["ref"]["$link"], blob.cid.as_str());
    assert_eq!(stored["embed"]["images"][0]["alt"], "a cat");
    let reply = PostDraft { reply: Some((parent.clone(), parent.clone())), ..post("me too", &k2) };
    bluesky::create_post(&c, &d.base, &s, &reply).await.unwrap();
    assert_eq!(d.records()[1].value["reply"]["parent"]["uri"], parent.uri.as_str());

    // An unreferenced blob is collected after a while, and can no longer be embedded.
    let orphan = bluesky::upload_blob(&c, &d.base, &s, b"other".to_vec(), "image/png").await.unwrap();
    assert_eq!(d.blob_count(), 2);
    d.advance(Duration::from_secs(601));
    assert_eq!(d.blob_count(), 1, "the referenced blob stays");
    let s = login(&d).await;
    let late = vec![(orphan, String::new())];
    let err = bluesky::create_post(&c, &d.base, &s, &PostDraft { images: &late, ..post("late", &bluesky::new_tid()) })
        .await
        .unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.starts_with("BlobNotFound")), "{err:?}");
}

#[tokio::test]
async fn rate_limits_and_proxy_failures_are_classified() {
    let d = BlueskyDouble::start(Config { write_points: 7, session_limit: 2, ..Config::default() }).await.unwrap();
    let c = client();
    let s = login(&d).await;
    bluesky::create_post(&c, &d.base, &s, &post("one", &bluesky::new_tid())).await.unwrap();
    bluesky::create_post(&c, &d.base, &s, &post("two", &bluesky::new_tid())).await.unwrap();
    let err = bluesky::create_post(&c, &d.base, &s, &post("three", &bluesky::new_tid())).await.unwrap_err();
    let ConnectorError::RateLimited { retry_after: Some(wait) } = err else { panic!("{err:?}") };
    assert!((3590..=3600).contains(&wait.as_secs()), "from RateLimit-Reset: {wait:?}");
    login(&d).await;
    let err =
        bluesky::create_session(&c, &d.base, &d.config().handle, &d.config().app_password, true).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::RateLimited { retry_after: Some(w) } if w <= Duration::from_secs(300)),
        "{err:?}"
    );

    d.inject_bad_gateway("/xrpc/app.bsky.actor.getProfile");
    let err = bluesky::get_profile(&c, &d.base, &s).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Transient(m) if m.contains("502")), "{err:?}");
    d.inject("/xrpc/app.bsky.actor.getProfile", Fault::ServerError);
    assert!(bluesky::get_profile(&c, &d.base, &s).await.unwrap_err().is_retryable());
    d.inject("/xrpc/app.bsky.actor.getProfile", Fault::RateLimited);
    assert!(matches!(
        bluesky::get_profile(&c, &d.base, &s).await,
        Err(ConnectorError::RateLimited { retry_after: Some(_) })
    ));
    bluesky::get_profile(&c, &d.base, &s).await.unwrap();
}

#[tokio::test]
async fn private_pds_addresses_are_refused_unless_allowed() {
    let d = BlueskyDouble::start(Config::default()).await.unwrap();
    let https = d.base.replace("http://", "https://");
    let err = bluesky::create_session(&client(), &https, &d.config().handle, &d.config().app_password, false)
        .await
        .unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("non-public")), "{err:?}");
    let err = bluesky::create_session(&client(), &d.base, &d.config().handle, &d.config().app_password, false)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)));
    assert!(d.requests().is_empty());
}

#[tokio::test]
async fn threads_replies_and_counts() {
    let d = BlueskyDouble::start(Config::default()).await.unwrap();
    let c = client();
    let s = login(&d).await;
    let root = bluesky::create_post(&c, &d.base, &s, &post("Root post", &bluesky::new_tid())).await.unwrap();
    let bob = d.reply_from("did:plc:bob", "bob.test", &root.uri, "Nice post").unwrap();
    let carol = d.reply_from("did:plc:carol", "carol.test", &bob, "Agreed").unwrap();

    let thread = bluesky::get_post_thread(&c, &d.base, &s, &root.uri, 10).await.unwrap().unwrap();
    assert_eq!(thread.post.uri, root.uri);
    let uris: Vec<&str> = thread.replies.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(uris, [bob.as_str(), carol.as_str()], "parents before their children");
    let (r0, r1) = (&thread.replies[0], &thread.replies[1]);
    assert_eq!((r0.author.handle.as_str(), r0.text()), ("bob.test", "Nice post"));
    let (carol_root, carol_parent) = r1.reply_refs().unwrap();
    assert_eq!((carol_root.uri.as_str(), carol_parent.uri.as_str()), (root.uri.as_str(), bob.as_str()));
    assert!(!r1.created_at().is_empty());
    let call = d.requests().into_iter().rfind(|r| r.path == "/xrpc/app.bsky.feed.getPostThread").unwrap();
    assert!(call.query.contains("depth=10") && call.query.contains("parentHeight=0"), "{}", call.query);
    assert_eq!(call.header("authorization"), Some(format!("Bearer {}", s.access_jwt).as_str()));
    let shallow = bluesky::get_post_thread(&c, &d.base, &s, &root.uri, 1).await.unwrap().unwrap();
    assert_eq!(shallow.replies.len(), 1, "depth 1: direct replies only");
    let gone = format!("at://{}/app.bsky.feed.post/3kgone", s.did);
    assert_eq!(bluesky::get_post_thread(&c, &d.base, &s, &gone, 6).await.unwrap(), None, "NotFound is no thread");

    // A reply to a reply hangs under the thread's root, with both strong refs.
    let rkey = bluesky::new_tid();
    let (created, under) =
        bluesky::reply_to_post(&c, &d.base, &s, &carol, "Thanks both", &rkey, "2026-03-01T12:05:00.000Z")
            .await
            .unwrap();
    assert_eq!(under, bluesky::RecordRef { uri: root.uri.clone(), cid: root.cid.clone() });
    assert!(created.uri.ends_with(&format!("/app.bsky.feed.post/{rkey}")));
    let stored = d.records().into_iter().find(|r| r.rkey == rkey).unwrap();
    assert_eq!(stored.value["reply"]["root"]["uri"], root.uri.as_str());
    assert_eq!(stored.value["reply"]["parent"]["uri"], carol.as_str());
    assert!(stored.value["reply"]["parent"]["cid"].as_str().is_some_and(|c| c.starts_with("bafyrei")));
    let err = bluesky::reply_to_post(&c, &d.base, &s, &gone, "hello?", &bluesky::new_tid(), "2026-03-01T12:06:00.000Z")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)), "{err:?}");

    // Counts come 25 posts per getPosts call.
    d.set_interactions(&root.uri, Interactions { likes: 5, reposts: 2, quotes: 1 });
    d.set_followers(42);
    let mut uris = vec![root.uri.clone()];
    for i in 0..29 {
        uris.push(
            bluesky::create_post(&c, &d.base, &s, &post(&format!("post {i}"), &bluesky::new_tid())).await.unwrap().uri,
        );
    }
    let before = d.requests().len();
    let views = bluesky::get_posts(&c, &d.base, &s, &uris).await.unwrap();
    let calls: Vec<_> =
        d.requests()[before..].iter().filter(|r| r.path == "/xrpc/app.bsky.feed.getPosts").cloned().collect();
    assert_eq!(calls.len(), 2, "30 URIs: 25 + 5");
    assert_eq!(calls[0].query.matches("uris=").count(), 25);
    assert_eq!(views.len(), 30);
    let v = views.iter().find(|v| v.uri == root.uri).unwrap();
    assert_eq!((v.like_count, v.reply_count, v.repost_count, v.quote_count), (Some(5), Some(1), Some(2), Some(1)));
    assert_eq!(bluesky::get_profile_view(&c, &d.base, &s).await.unwrap().followers_count, Some(42));
}

#[tokio::test]
async fn a_reply_is_hidden_through_the_posts_threadgate() {
    let d = BlueskyDouble::start(Config::default()).await.unwrap();
    let (c, s) = (client(), login(&d).await);
    let root = bluesky::create_post(&c, &d.base, &s, &post("Ask me", "3kgate0000001")).await.unwrap();
    let bob = d.reply_from("did:plc:bob", "bob.test", &root.uri, "Spam").unwrap();
    let carol = d.reply_from("did:plc:carol", "carol.test", &bob, "More spam").unwrap();
    assert!(bluesky::hidden_replies(&c, &d.base, &s, &root.uri).await.unwrap().is_empty());

    let at = "2026-03-01T12:05:00.000Z";
    bluesky::hide_reply(&c, &d.base, &s, &bob, at).await.unwrap();
    bluesky::hide_reply(&c, &d.base, &s, &carol, at).await.unwrap();
    bluesky::hide_reply(&c, &d.base, &s, &carol, at).await.unwrap();
    assert_eq!(bluesky::hidden_replies(&c, &d.base, &s, &root.uri).await.unwrap(), [bob.clone(), carol.clone()]);
    let gates: Vec<_> = d.records().into_iter().filter(|r| r.collection == bluesky::THREADGATE_COLLECTION).collect();
    assert_eq!(gates.len(), 1, "one threadgate per post");
    assert_eq!(gates[0].rkey, "3kgate0000001", "under the post's own record key");
    assert_eq!(gates[0].value["post"], serde_json::json!(root.uri));
    assert!(gates[0].value.get("allow").is_none(), "who may reply is left as it was: anyone");
    let puts: Vec<_> = d.requests().into_iter().filter(|r| r.path == "/xrpc/com.atproto.repo.putRecord").collect();
    assert_eq!(puts.len(), 2, "hiding a hidden reply again writes nothing");
    let second: serde_json::Value = serde_json::from_str(&puts[1].body).unwrap();
    assert!(second["swapRecord"].is_string(), "the second write compares and swaps: {second}");

    // A post that is not a reply has nothing to hide it under.
    let err = bluesky::hide_reply(&c, &d.base, &s, &root.uri, at).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("not a reply")), "{err:?}");
}
