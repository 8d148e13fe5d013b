//! TikTok connector against the TikTok double.
use std::time::Duration;

use steward_connectors::tiktok::{self, ChunkPlan, PostInfo, PrivacyLevel, PublishState, Retry};
use steward_connectors::{ConnectorError, OauthApp, TokenSet, http, pkce};
use steward_doubles::Fault;
use steward_doubles::tiktok::{Config, Creator, TikTokDouble};

const REDIRECT: &str = "https://steward.example.com/oauth/tiktok/callback";

fn app(d: &TikTokDouble) -> OauthApp {
    OauthApp {
        client_id: d.config().client_key.clone(),
        client_secret: zeroize::Zeroizing::new(d.config().client_secret.clone()),
        auth_base: d.base.clone(),
        api_base: d.base.clone(),
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn client() -> reqwest::Client {
    http::client().unwrap()
}

async fn consent(url: &str) -> reqwest::Url {
    http::install_crypto_provider();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = browser.get(url).send().await.unwrap();
    assert!(r.status().is_redirection(), "TikTok redirects back after consent: {}", r.status());
    reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.to_string())
}

async fn connect(d: &TikTokDouble) -> TokenSet {
    let verifier = pkce::new_verifier();
    let url =
        tiktok::authorize_url(&app(d), REDIRECT, "state-9", &pkce::challenge_s256(&verifier), tiktok::SCOPES).unwrap();
    let back = consent(&url).await;
    assert_eq!(param(&back, "state").as_deref(), Some("state-9"));
    let code = param(&back, "code").expect("code");
    tiktok::exchange_code(&client(), &app(d), &code, REDIRECT, &verifier, now()).await.expect("exchange")
}

fn public(title: &str) -> PostInfo {
    PostInfo::new(title, PrivacyLevel::PublicToEveryone)
}

/// A deterministic, non-repeating-per-chunk buffer.
fn video(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn content_ranges(d: &TikTokDouble) -> Vec<String> {
    d.requests()
        .iter()
        .filter(|r| r.path == "/upload/")
        .map(|r| r.header("content-range").unwrap_or("").to_string())
        .collect()
}

async fn poll_until_done(d: &TikTokDouble, token: &str, publish_id: &str) -> Vec<tiktok::PostStatus> {
    let mut seen = Vec::new();
    for _ in 0..10 {
        let s = tiktok::publish_status(&client(), &app(d), token, publish_id).await.unwrap();
        let done = matches!(s.state, PublishState::PublishComplete | PublishState::Failed);
        seen.push(s);
        if done {
            return seen;
        }
    }
    panic!("the post never finished: {seen:?}");
}

#[tokio::test]
async fn full_oauth_and_identity() {
    let d = TikTokDouble::start(Config::default()).await.unwrap();
    d.set_creator(Creator {
        open_id: "open-123".into(),
        union_id: "union-9".into(),
        display_name: "Cat Videos".into(),
        username: "catvideos".into(),
    });
    let url = tiktok::authorize_url(&app(&d), REDIRECT, "s", "challenge", tiktok::SCOPES).unwrap();
    let parsed = reqwest::Url::parse(&url).unwrap();
    assert_eq!(parsed.path(), "/v2/auth/authorize/");
    assert_eq!(param(&parsed, "client_key").as_deref(), Some("steward-tiktok-key"));
    assert_eq!(
        param(&parsed, "scope").as_deref(),
        Some("user.info.basic,user.info.stats,video.list,video.publish,video.upload")
    );
    assert_eq!(param(&parsed, "response_type").as_deref(), Some("code"));
    assert_eq!(param(&parsed, "code_challenge_method").as_deref(), Some("S256"));
    assert!(param(&parsed, "client_id").is_none(), "TikTok calls it client_key");

    let tokens = connect(&d).await;
    let t0 = now();
    assert!((tokens.expires_at.unwrap() - (t0 + 7_200)).abs() <= 2, "from expires_in");
    assert!((tokens.refresh_expires_at.unwrap() - (t0 + 15_552_000)).abs() <= 2, "from refresh_expires_in");
    assert_eq!(tokens.scope.as_deref(), Some(tiktok::SCOPES));
    let who = tiktok::user_info(&client(), &app(&d), &tokens.access_token).await.unwrap();
    assert_eq!((who.id.as_str(), who.display_name.as_str()), ("open-123", "Cat Videos"));

    let reqs = d.requests();
    let token_call = reqs.iter().find(|r| r.path == "/v2/oauth/token/").unwrap();
    assert_eq!(token_call.header("content-type"), Some("application/x-www-form-urlencoded"));
    for part in ["client_key=steward-tiktok-key", "grant_type=authorization_code", "code_verifier=", "redirect_uri="] {
        assert!(token_call.body.contains(part), "{part} in {}", token_call.body);
    }
    assert!(token_call.header("authorization").is_none());
    let info = reqs.iter().find(|r| r.path == "/v2/user/info/").unwrap();
    assert_eq!(info.query, "fields=open_id%2Cunion_id%2Cavatar_url%2Cdisplay_name");
    assert_eq!(info.header("authorization"), Some(format!("Bearer {}", tokens.access_token).as_str()));
}

#[tokio::test]
async fn codes_need_their_verifier_and_work_once_and_cancel_comes_back() {
    let d = TikTokDouble::start(Config::default()).await.unwrap();
    let verifier = pkce::new_verifier();
    let url = tiktok::authorize_url(&app(&d), REDIRECT, "s", &pkce::challenge_s256(&verifier), tiktok::SCOPES).unwrap();
    let code = param(&consent(&url).await, "code").unwrap();
    let err =
        tiktok::exchange_code(&client(), &app(&d), &code, REDIRECT, &pkce::new_verifier(), now()).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.starts_with("invalid_grant")), "{err:?}");
    tiktok::exchange_code(&client(), &app(&d), &code, REDIRECT, &verifier, now()).await.unwrap();
    let replay = tiktok::exchange_code(&client(), &app(&d), &code, REDIRECT, &verifier, now()).await.unwrap_err();
    assert!(matches!(replay, ConnectorError::Rejected(_)), "a code works once");
    let mut bad = app(&d);
    bad.client_secret = zeroize::Zeroizing::new("wrong".into());
    let err = tiktok::exchange_code(&client(), &bad, &code, REDIRECT, &verifier, now()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Misconfigured(_)), "{err:?}");

    d.cancel_next_authorization();
    let back = consent(&url).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("s"));
    assert!(param(&back, "code").is_none());
}

#[tokio::test]
async fn refresh_rotates_and_the_old_refresh_token_dies() {
    let d =
        TikTokDouble::start(Config { access_ttl: 86_400, refresh_ttl: 31_536_000, ..Config::default() }).await.unwrap();
    let first = connect(&d).await;
    assert!((first.expires_at.unwrap() - (now() + 86_400)).abs() <= 2, "lifetimes follow the answer");
    let c = client();
    let second = tiktok::refresh(&c, &app(&d), &first, now()).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token, "rotated");
    assert_ne!(second.access_token, first.access_token);
    assert!((second.refresh_expires_at.unwrap() - (now() + 31_536_000)).abs() <= 2);

    // The old refresh token is dead — and TikTok says so with HTTP 200.
    let err = tiktok::refresh(&c, &app(&d), &first, now()).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.starts_with("invalid_grant")), "{err:?}");
    let raw = c
        .post(format!("{}/v2/oauth/token/", d.base))
        .form(&[
            ("client_key", d.config().client_key.as_str()),
            ("client_secret", d.config().client_secret.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", first.refresh_token.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200, "the double answers invalid_grant with HTTP 200");
    let body: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["log_id"].is_string());

    // The new one works, and its successor too.
    let third = tiktok::refresh(&c, &app(&d), &second, now()).await.unwrap();
    tiktok::user_info(&c, &app(&d), &third.access_token).await.unwrap();
    let refresh_calls = d.requests().iter().filter(|r| r.body.contains("grant_type=refresh_token")).count();
    assert_eq!(refresh_calls, 4);
}

#[tokio::test]
async fn expired_or_revoked_access_tokens_are_unauthorized() {
    let d = TikTokDouble::start(Config { access_ttl: 60, ..Config::default() }).await.unwrap();
    let tokens = connect(&d).await;
    let c = client();
    d.advance(Duration::from_secs(61));
    let err = tiktok::user_info(&c, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Unauthorized(m) if m.starts_with("access_token_invalid")), "{err:?}");
    let err = tiktok::publish_status(&c, &app(&d), &tokens.access_token, "v_pub_url~v2-1.1").await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unauthorized(_)), "{err:?}");
    let fresh = tiktok::refresh(&c, &app(&d), &tokens, now() + 61).await.unwrap();
    tiktok::creator_info(&c, &app(&d), &fresh.access_token).await.unwrap();
    d.revoke_all();
    let err = tiktok::creator_info(&c, &app(&d), &fresh.access_token).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unauthorized(_)), "{err:?}");
    let err = tiktok::refresh(&c, &app(&d), &fresh, now()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)), "reconnect: {err:?}");
}

#[tokio::test]
async fn creator_info_and_http_200_posting_caps() {
    let d = TikTokDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let c = client();
    let info = tiktok::creator_info(&c, &app(&d), &tokens.access_token).await.unwrap();
    assert_eq!(info.privacy_level_options.len(), 4);
    assert!(info.privacy_level_options.contains(&"PUBLIC_TO_EVERYONE".to_string()));
    assert_eq!(info.max_video_post_duration_sec, 600);
    assert_eq!(info.creator_username, "olivia.owner");
    let call = d.requests().into_iter().find(|r| r.path == "/v2/post/publish/creator_info/query/").unwrap();
    assert_eq!(call.method, "POST");
    assert_eq!(call.header("content-type"), Some("application/json; charset=UTF-8"));

    d.block_posting(Some("spam_risk_too_many_posts"));
    let err = tiktok::creator_info(&c, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.starts_with("spam_risk_too_many_posts")), "{err:?}");
    d.block_posting(None);

    let unaudited = TikTokDouble::start(Config { unaudited: true, ..Config::default() }).await.unwrap();
    let t = connect(&unaudited).await;
    let info = tiktok::creator_info(&c, &app(&unaudited), &t.access_token).await.unwrap();
    assert_eq!(info.privacy_level_options, vec!["SELF_ONLY".to_string()]);
    let err =
        tiktok::init_video_pull(&c, &app(&unaudited), &t.access_token, "https://media.example.com/a.mp4", &public("x"))
            .await
            .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Rejected(m) if m.starts_with("unaudited_client_can_only_post_to_private_accounts")),
        "{err:?}"
    );
    tiktok::init_video_pull(
        &c,
        &app(&unaudited),
        &t.access_token,
        "https://media.example.com/a.mp4",
        &PostInfo::new("x", PrivacyLevel::SelfOnly),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn pull_from_url_post_polls_to_publish_complete() {
    let d =
        TikTokDouble::start(Config { processing_polls: 2, moderation_polls: 1, ..Config::default() }).await.unwrap();
    let tokens = connect(&d).await;
    let c = client();
    let mut post = public("a funny #cat video @tiktok");
    post.disable_comment = true;
    post.video_cover_timestamp_ms = Some(1000);
    let id = tiktok::init_video_pull(&c, &app(&d), &tokens.access_token, "https://media.example.com/cat.mp4", &post)
        .await
        .unwrap();
    assert!(id.starts_with("v_pub_url~v2"), "{id}");
    let init = d.requests().into_iter().find(|r| r.path == "/v2/post/publish/video/init/").unwrap();
    assert_eq!(init.header("content-type"), Some("application/json; charset=UTF-8"));
    let body: serde_json::Value = serde_json::from_str(&init.body).unwrap();
    assert_eq!(
        body["source_info"],
        serde_json::json!({"source": "PULL_FROM_URL", "video_url": "https://media.example.com/cat.mp4"})
    );
    assert_eq!(body["post_info"]["privacy_level"], "PUBLIC_TO_EVERYONE");
    assert_eq!(body["post_info"]["disable_comment"], true);
    assert_eq!(body["post_info"]["video_cover_timestamp_ms"], 1000);

    let seen = poll_until_done(&d, &tokens.access_token, &id).await;
    let states: Vec<_> = seen.iter().map(|s| s.state.clone()).collect();
    assert_eq!(
        states,
        vec![PublishState::ProcessingDownload, PublishState::ProcessingDownload, PublishState::PublishComplete]
    );
    assert!(seen[2].post_ids.is_empty(), "no id before moderation");
    let after = tiktok::publish_status(&c, &app(&d), &tokens.access_token, &id).await.unwrap();
    assert_eq!(after.state, PublishState::PublishComplete);
    assert_eq!(after.post_ids, vec![7_321_234_567_890_123_457], "int64 without float loss");

    let err = tiktok::init_video_pull(&c, &app(&d), &tokens.access_token, "https://elsewhere.example/cat.mp4", &post)
        .await
        .unwrap_err();
    assert!(matches!(&err, ConnectorError::Misconfigured(m) if m.starts_with("url_ownership_unverified")), "{err:?}");
    let err = tiktok::publish_status(&c, &app(&d), &tokens.access_token, "v_pub_url~v2-1.404").await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.starts_with("invalid_publish_id")), "{err:?}");
}

#[tokio::test]
async fn privacy_level_must_be_one_of_the_creators_options() {
    let d = TikTokDouble::start(Config {
        privacy_level_options: vec!["FOLLOWER_OF_CREATOR".into(), "SELF_ONLY".into()],
        ..Config::default()
    })
    .await
    .unwrap();
    let tokens = connect(&d).await;
    let err = tiktok::init_video_pull(
        &client(),
        &app(&d),
        &tokens.access_token,
        "https://media.example.com/a.mp4",
        &public("t"),
    )
    .await
    .unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.starts_with("privacy_level_option_mismatch")), "{err:?}");
    let too_long = PostInfo::new("é".repeat(2201), PrivacyLevel::SelfOnly);
    let err = tiktok::init_video_pull(
        &client(),
        &app(&d),
        &tokens.access_token,
        "https://media.example.com/a.mp4",
        &too_long,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)));
}

#[test]
fn chunk_math_follows_the_media_transfer_guide() {
    let plan = ChunkPlan::new(50_000_123, 10_000_000).unwrap();
    assert_eq!((plan.chunk_size, plan.total_chunk_count, plan.last_chunk_size()), (10_000_000, 5, 10_000_123));
    assert_eq!(plan.ranges().last(), Some(&(40_000_000, 50_000_122)));
    let small = ChunkPlan::new(3_000_000, 10_000_000).unwrap();
    assert_eq!((small.chunk_size, small.total_chunk_count), (3_000_000, 1));
    let twelve = ChunkPlan::new(12_000_000, tiktok::MIN_CHUNK).unwrap();
    assert_eq!((twelve.total_chunk_count, twelve.last_chunk_size()), (2, 12_000_000 - tiktok::MIN_CHUNK));
}

#[tokio::test]
async fn chunked_upload_sends_the_exact_content_ranges() {
    let d = TikTokDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let c = client();
    let bytes = video(12_000_000);
    let session = tiktok::init_video_upload(&c, &app(&d), &tokens.access_token, 12_000_000, 5_242_880, &public("t"))
        .await
        .unwrap();
    assert!(session.publish_id.starts_with("v_pub_file~v2"));
    assert!(!format!("{session:?}").contains("upload_token"), "the upload URL is never printed");
    let init = d.requests().into_iter().find(|r| r.path == "/v2/post/publish/video/init/").unwrap();
    let body: serde_json::Value = serde_json::from_str(&init.body).unwrap();
    assert_eq!(
        body["source_info"],
        serde_json::json!({"source": "FILE_UPLOAD", "video_size": 12_000_000, "chunk_size": 5_242_880, "total_chunk_count": 2})
    );
    let before = tiktok::publish_status(&c, &app(&d), &tokens.access_token, &session.publish_id).await.unwrap();
    assert_eq!((before.state, before.uploaded_bytes), (PublishState::ProcessingUpload, Some(0)));

    tiktok::upload_chunks(&c, &session, "video/mp4", &bytes).await.unwrap();
    assert_eq!(content_ranges(&d), vec!["bytes 0-5242879/12000000", "bytes 5242880-11999999/12000000"]);
    let puts: Vec<_> = d.requests().into_iter().filter(|r| r.path == "/upload/").collect();
    assert!(
        puts.iter().all(|r| r.method == "PUT" && r.header("authorization").is_none()),
        "no bearer to the upload host"
    );
    assert_eq!(puts[0].header("content-length"), Some("5242880"));
    assert_eq!(puts[1].header("content-length"), Some("6757120"));
    assert_eq!(puts[1].header("content-type"), Some("video/mp4"));
    let seen = poll_until_done(&d, &tokens.access_token, &session.publish_id).await;
    assert_eq!(seen.last().unwrap().state, PublishState::PublishComplete);
    assert_eq!(seen[0].state, PublishState::ProcessingUpload);
    assert_eq!(seen[0].uploaded_bytes, Some(12_000_000));
}

const SIXTEEN: usize = 16_000_000;
const R1: &str = "bytes 0-5242879/16000000";
const R2: &str = "bytes 5242880-10485759/16000000";
const R3: &str = "bytes 10485760-15999999/16000000";

async fn three_chunk_session(d: &TikTokDouble) -> (TokenSet, tiktok::UploadSession) {
    let tokens = connect(d).await;
    let s =
        tiktok::init_video_upload(&client(), &app(d), &tokens.access_token, SIXTEEN as u64, 5_242_880, &public("t"))
            .await
            .unwrap();
    assert_eq!(s.plan.total_chunk_count, 3);
    (tokens, s)
}

#[tokio::test]
async fn a_5xx_mid_upload_retries_the_same_chunk() {
    let d = TikTokDouble::start(Config::default()).await.unwrap();
    let (_, s) = three_chunk_session(&d).await;
    let bytes = video(SIXTEEN);
    d.inject_after("/upload/", 1, Fault::ServerError);
    tiktok::upload_chunks(&client(), &s, "video/mp4", &bytes).await.unwrap();
    assert_eq!(content_ranges(&d), vec![R1, R2, R2, R3]);
}

#[tokio::test]
async fn a_chunk_stored_but_answered_5xx_resyncs_through_416() {
    let d = TikTokDouble::start(Config::default()).await.unwrap();
    let (tokens, s) = three_chunk_session(&d).await;
    let bytes = video(SIXTEEN);
    d.store_then_fail_chunk(1);
    tiktok::upload_chunks(&client(), &s, "video/mp4", &bytes).await.unwrap();
    // Chunk 2 is stored, its answer lost; the retry gets 416 with the server's progress and
    // the upload continues with chunk 3.
    assert_eq!(content_ranges(&d), vec![R1, R2, R2, R3]);
    let done = poll_until_done(&d, &tokens.access_token, &s.publish_id).await;
    assert_eq!(done.last().unwrap().state, PublishState::PublishComplete);
}

#[tokio::test]
async fn repeated_5xx_is_transient_and_a_second_call_resumes() {
    let d = TikTokDouble::start(Config::default()).await.unwrap();
    let (_, s) = three_chunk_session(&d).await;
    let bytes = video(SIXTEEN);
    for _ in 0..tiktok::CHUNK_ATTEMPTS {
        d.inject_after("/upload/", 1, Fault::ServerError);
    }
    let err = tiktok::upload_chunks(&client(), &s, "video/mp4", &bytes).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert_eq!(content_ranges(&d), vec![R1, R2, R2, R2]);
    tiktok::upload_chunks(&client(), &s, "video/mp4", &bytes).await.unwrap();
    assert_eq!(content_ranges(&d), vec![R1, R2, R2, R2, R1, R2, R3], "416 on chunk 1 resyncs to chunk 2");
}

#[tokio::test]
async fn a_416_off_the_chunk_grid_is_a_clear_error() {
    let d = TikTokDouble::start(Config::default()).await.unwrap();
    let (_, s) = three_chunk_session(&d).await;
    d.set_upload_progress(&s.publish_id, 1234);
    let err = tiktok::upload_chunks(&client(), &s, "video/mp4", &video(SIXTEEN)).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Protocol(m) if m.contains("bytes 0-1233/16000000")), "{err:?}");
}

#[tokio::test]
async fn expired_and_unknown_upload_urls_are_rejected() {
    let d = TikTokDouble::start(Config::default()).await.unwrap();
    let (_, s) = three_chunk_session(&d).await;
    let bytes = video(SIXTEEN);
    let mut forged = s.clone();
    forged.upload_url = forged.upload_url.replace("upload_token=", "upload_token=forged");
    let err = tiktok::upload_chunks(&client(), &forged, "video/mp4", &bytes).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("no upload task")), "{err:?}");
    d.advance(Duration::from_secs(3_601));
    let err = tiktok::upload_chunks(&client(), &s, "video/mp4", &bytes).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("expired")), "{err:?}");
    let err = tiktok::upload_chunks(&client(), &s, "video/mp4", &bytes[..100]).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)), "the size must match the init");
}

#[tokio::test]
async fn failed_posts_say_whether_to_retry() {
    let d = TikTokDouble::start(Config { processing_polls: 1, ..Config::default() }).await.unwrap();
    let tokens = connect(&d).await;
    for (reason, retry) in [("internal", Retry::Retryable), ("spam_risk_too_many_posts", Retry::Never)] {
        d.fail_next_publish(reason);
        let id = tiktok::init_video_pull(
            &client(),
            &app(&d),
            &tokens.access_token,
            "https://media.example.com/a.mp4",
            &public("t"),
        )
        .await
        .unwrap();
        let seen = poll_until_done(&d, &tokens.access_token, &id).await;
        let last = seen.last().unwrap();
        assert_eq!(last.state, PublishState::Failed);
        assert_eq!(last.fail_reason, Some((reason.to_string(), retry)));
        assert!(last.post_ids.is_empty());
    }
}

#[tokio::test]
async fn rate_limits_are_per_token_per_sliding_minute() {
    let d = TikTokDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let other = connect(&d).await;
    let c = client();
    for _ in 0..6 {
        tiktok::init_video_pull(&c, &app(&d), &tokens.access_token, "https://media.example.com/a.mp4", &public("t"))
            .await
            .unwrap();
    }
    let err =
        tiktok::init_video_pull(&c, &app(&d), &tokens.access_token, "https://media.example.com/a.mp4", &public("t"))
            .await
            .unwrap_err();
    assert!(matches!(err, ConnectorError::RateLimited { retry_after: None }), "{err:?}");
    assert!(err.is_retryable());
    tiktok::init_video_pull(&c, &app(&d), &other.access_token, "https://media.example.com/a.mp4", &public("t"))
        .await
        .expect("another token has its own window");
    d.advance(Duration::from_secs(61));
    let id =
        tiktok::init_video_pull(&c, &app(&d), &tokens.access_token, "https://media.example.com/a.mp4", &public("t"))
            .await
            .expect("the window slid");
    for _ in 0..30 {
        tiktok::publish_status(&c, &app(&d), &tokens.access_token, &id).await.unwrap();
    }
    let err = tiktok::publish_status(&c, &app(&d), &tokens.access_token, &id).await.unwrap_err();
    assert!(matches!(err, ConnectorError::RateLimited { .. }), "status: 30 per minute: {err:?}");
    let err = tiktok::publish_status(&c, &app(&d), &other.access_token, &id).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Rejected(m) if m.starts_with("token_not_authorized_for_specified_publish_id")),
        "{err:?}"
    );
}

#[tokio::test]
async fn injected_429_5xx_and_timeouts() {
    let d = TikTokDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let c = client();
    d.inject("/v2/user/info/", Fault::RateLimited);
    let err = tiktok::user_info(&c, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(err, ConnectorError::RateLimited { retry_after: None }), "{err:?}");
    d.inject("/v2/post/publish/creator_info/", Fault::ServerError);
    let err = tiktok::creator_info(&c, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "HTML 500: {err:?}");
    d.inject("/v2/oauth/token/", Fault::ServerError);
    let err = tiktok::refresh(&c, &app(&d), &tokens, now()).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    d.inject("/v2/user/info/", Fault::Delay(Duration::from_secs(3)));
    let impatient = http::client_with_timeout(Duration::from_millis(300)).unwrap();
    let err = tiktok::user_info(&impatient, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    d.inject("/v2/post/publish/status/fetch/", Fault::Delay(Duration::from_secs(3)));
    let err = tiktok::publish_status(&impatient, &app(&d), &tokens.access_token, "v_pub_url~v2-1.1").await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    // After the faults, everything works again; the refresh token was not spent by the 5xx.
    tiktok::user_info(&c, &app(&d), &tokens.access_token).await.unwrap();
    tiktok::refresh(&c, &app(&d), &tokens, now()).await.unwrap();
}
