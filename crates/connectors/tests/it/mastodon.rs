//! Mastodon against its double: registration, OAuth with PKCE, identity, idempotent posting,
//! media processing, notifications and threads, and each failure class.
use std::time::Duration;

use steward_connectors::mastodon::{self, RegisteredApp, StatusDraft, Visibility};
use steward_connectors::{ConnectorError, http, pkce};
use steward_doubles::Fault;
use steward_doubles::mastodon::{Config, MastodonDouble};

const REDIRECT: &str = "http://127.0.0.1:9/oauth/mastodon/callback";

fn client() -> reqwest::Client {
    http::client().unwrap()
}

async fn register(d: &MastodonDouble) -> RegisteredApp {
    mastodon::register_app(
        &client(),
        &d.base,
        "Steward",
        REDIRECT,
        mastodon::SCOPES,
        Some("https://steward.example"),
        true,
    )
    .await
    .unwrap()
}

async fn follow(url: &str) -> reqwest::Url {
    http::install_crypto_provider();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = browser.get(url).send().await.unwrap();
    assert_eq!(r.status(), 302, "the instance redirects back after consent");
    reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.to_string())
}

async fn connect(d: &MastodonDouble) -> (RegisteredApp, String) {
    let app = register(d).await;
    let verifier = pkce::new_verifier();
    let url = mastodon::authorize_url(&app, mastodon::SCOPES, "st-1", &pkce::challenge_s256(&verifier)).unwrap();
    let back = follow(&url).await;
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    let code = param(&back, "code").expect("code");
    let tokens = mastodon::exchange_code(&client(), &app, &code, &verifier, 0).await.unwrap();
    assert!(tokens.expires_at.is_none() && tokens.refresh_token.is_none(), "Mastodon tokens do not expire");
    (app, tokens.access_token.clone())
}

fn draft<'a>(text: &'a str, key: &'a str) -> StatusDraft<'a> {
    StatusDraft {
        text,
        media_ids: &[],
        in_reply_to_id: None,
        spoiler_text: None,
        visibility: Visibility::Public,
        idempotency_key: key,
    }
}

#[tokio::test]
async fn register_connect_and_identify() {
    let d = MastodonDouble::start(Config::default()).await.unwrap();
    let app = register(&d).await;
    assert!(!format!("{app:?}").contains(app.client_secret.as_str()));
    let url = reqwest::Url::parse(&mastodon::authorize_url(&app, mastodon::SCOPES, "s", "ch").unwrap()).unwrap();
    assert_eq!(url.path(), "/oauth/authorize");
    assert_eq!(param(&url, "scope").as_deref(), Some(mastodon::SCOPES));
    assert_eq!(param(&url, "code_challenge_method").as_deref(), Some("S256"));

    let (app, token) = connect(&d).await;
    let who = mastodon::verify_credentials(&client(), &app.instance, &token).await.unwrap();
    assert_eq!(who.handle, "@olivia@mastodon.example");
    assert_eq!(who.display_name, "Olivia Owner");

    let reqs = d.requests();
    let reg = reqs.iter().find(|r| r.path == "/api/v1/apps").unwrap();
    assert!(reg.body.contains("\"redirect_uris\":[\"http://127.0.0.1:9/oauth/mastodon/callback\"]"), "{}", reg.body);
    let tok = reqs.iter().find(|r| r.path == "/oauth/token").unwrap();
    assert!(tok.body.contains("code_verifier=") && tok.body.contains("grant_type=authorization_code"));
    let vc = reqs.iter().find(|r| r.path.ends_with("verify_credentials")).unwrap();
    assert_eq!(vc.header("authorization"), Some(format!("Bearer {token}").as_str()));
    assert!(
        reqs.iter()
            .filter(|r| r.path != "/oauth/token" && r.path != "/oauth/revoke")
            .all(|r| !r.body.contains(&token) && !r.query.contains(&token))
    );

    mastodon::revoke(&client(), &app, &token).await.unwrap();
    let err = mastodon::verify_credentials(&client(), &app.instance, &token).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Unauthorized(m) if m.contains("revoked")), "{err:?}");
}

#[tokio::test]
async fn codes_need_their_verifier_and_cancel_comes_back() {
    let d = MastodonDouble::start(Config::default()).await.unwrap();
    let app = register(&d).await;
    let verifier = pkce::new_verifier();
    let url = mastodon::authorize_url(&app, mastodon::SCOPES, "s", &pkce::challenge_s256(&verifier)).unwrap();
    let code = param(&follow(&url).await, "code").unwrap();
    let err = mastodon::exchange_code(&client(), &app, &code, &pkce::new_verifier(), 0).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.starts_with("invalid_grant")), "{err:?}");
    mastodon::exchange_code(&client(), &app, &code, &verifier, 0).await.unwrap();
    assert!(mastodon::exchange_code(&client(), &app, &code, &verifier, 0).await.is_err(), "codes work once");
    let mut wrong = app.clone();
    wrong.client_secret = zeroize::Zeroizing::new("nope".into());
    let err = mastodon::exchange_code(&client(), &wrong, &code, &verifier, 0).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Misconfigured(_)), "{err:?}");

    d.cancel_next_authorization();
    let back = follow(&mastodon::authorize_url(&app, mastodon::SCOPES, "s2", "c").unwrap()).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("s2"));
    let back = follow(&mastodon::authorize_url(&app, "admin:write", "s3", "c").unwrap()).await;
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_scope"), "scopes beyond the registration");

    let err =
        mastodon::register_app(&client(), &d.base, "Steward", "not-absolute", "read", None, true).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("absolute URI")), "{err:?}");
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_publishes_once() {
    let d = MastodonDouble::start(Config::default()).await.unwrap();
    let (app, token) = connect(&d).await;
    let c = client();
    d.lose_next_response("/api/v1/statuses");
    let key = "6d0d2f8e-5a3b-4f6e-9f3c-2b7b1a9d0c11";
    let err = mastodon::post_status(&c, &app.instance, &token, &draft("Hello, fediverse", key)).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert_eq!(d.statuses().len(), 1, "the write happened");
    let posted = mastodon::post_status(&c, &app.instance, &token, &draft("Hello, fediverse", key)).await.unwrap();
    // The replay answers the original, even with another body.
    let again = mastodon::post_status(&c, &app.instance, &token, &draft("different", key)).await.unwrap();
    assert_eq!(posted, again);
    assert_eq!(d.statuses().len(), 1, "exactly one status");
    assert_eq!(posted.id, d.statuses()[0].id);
    assert!(posted.url.as_deref().unwrap().starts_with("https://mastodon.example/@olivia/"));
    let sent: Vec<_> = d.requests().into_iter().filter(|r| r.path == "/api/v1/statuses").collect();
    assert!(sent.iter().all(|r| r.header("idempotency-key") == Some(key)));

    // After the hour the key is forgotten: the same key creates a new status.
    d.advance(Duration::from_secs(3601));
    mastodon::post_status(&c, &app.instance, &token, &draft("Hello again", key)).await.unwrap();
    assert_eq!(d.statuses().len(), 2);
    // A failure stores nothing: 503, then a retry with the same key creates one status.
    d.inject_unavailable("/api/v1/statuses");
    let k2 = "second-key";
    let err = mastodon::post_status(&c, &app.instance, &token, &draft("third", k2)).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)) && err.is_retryable());
    mastodon::post_status(&c, &app.instance, &token, &draft("third", k2)).await.unwrap();
    assert_eq!(d.statuses().len(), 3);
}

#[tokio::test]
async fn media_is_waited_for_then_attached_and_replies_are_read() {
    let d = MastodonDouble::start(Config { processing_polls: 2, ..Config::default() }).await.unwrap();
    let (app, token) = connect(&d).await;
    let c = client();
    let img =
        mastodon::upload_media(&c, &app.instance, &token, b"\x89PNG fake", "image/png", Some("a cat")).await.unwrap();
    assert!(img.ready && img.url.is_some() && img.description.as_deref() == Some("a cat"));
    let video = mastodon::upload_media(&c, &app.instance, &token, b"fake mp4", "video/mp4", None).await.unwrap();
    assert!(!video.ready && video.url.is_none(), "202 accepted, still processing");
    let ids = vec![img.id.clone(), video.id.clone()];
    let early = StatusDraft { media_ids: &ids, ..draft("with media", "k-media-1") };
    let err = mastodon::post_status(&c, &app.instance, &token, &early).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("not finished processing")), "{err:?}");
    let video =
        mastodon::wait_for_media(&c, &app.instance, &token, video, Duration::from_millis(10), Duration::from_secs(5))
            .await
            .unwrap();
    assert!(video.ready && video.url.is_some());
    let polls: Vec<_> = d.requests().into_iter().filter(|r| r.path.starts_with("/api/v1/media/")).collect();
    assert_eq!(polls.len(), 3, "206, 206, 200");
    let posted = mastodon::post_status(
        &c,
        &app.instance,
        &token,
        &StatusDraft { media_ids: &ids, ..draft("with media", "k-media-2") },
    )
    .await
    .unwrap();
    assert_eq!(d.statuses().last().unwrap().media_ids, ids);
    let upload = d.requests().into_iter().find(|r| r.path == "/api/v2/media").unwrap();
    assert!(upload.header("content-type").unwrap().starts_with("multipart/form-data; boundary="));
    let err =
        mastodon::upload_media(&c, &app.instance, &token, b"x", "application/x-msdownload", None).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("content type")), "{err:?}");

    let reply = d.reply_from("bob", &posted.id, "Nice!").unwrap();
    let notes = mastodon::notifications(&c, &app.instance, &token, None, 20).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!((notes[0].kind.as_str(), notes[0].from_acct.as_str()), ("mention", "bob"));
    assert_eq!(notes[0].status.as_ref().unwrap().id, reply);
    assert!(mastodon::notifications(&c, &app.instance, &token, Some(&notes[0].id), 20).await.unwrap().is_empty());
    let ctx = mastodon::status_context(&c, &app.instance, &token, &posted.id).await.unwrap();
    assert_eq!(ctx.descendants.len(), 1);
    assert_eq!(ctx.descendants[0].content, "<p>Nice!</p>");
    let mine = StatusDraft {
        in_reply_to_id: Some(&reply),
        visibility: Visibility::Unlisted,
        ..draft("Thanks Bob", "k-reply")
    };
    let answer = mastodon::post_status(&c, &app.instance, &token, &mine).await.unwrap();
    let ctx = mastodon::status_context(&c, &app.instance, &token, &answer.id).await.unwrap();
    assert_eq!(
        ctx.ancestors.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        vec![posted.id.as_str(), reply.as_str()]
    );
}

#[tokio::test]
async fn errors_are_classified_with_the_reset_as_retry_after() {
    let d = MastodonDouble::start(Config { statuses_limit: 2, statuses_window: 3 * 3600, ..Config::default() })
        .await
        .unwrap();
    let (app, token) = connect(&d).await;
    let c = client();
    let err = mastodon::verify_credentials(&c, &app.instance, "bogus").await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Unauthorized(m) if m.contains("invalid")), "{err:?}");
    let err = mastodon::post_status(&c, &app.instance, &token, &draft("   ", "k0")).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m == "Validation failed: Text can't be blank"), "{err:?}");
    let long = "x".repeat(501);
    let err = mastodon::post_status(&c, &app.instance, &token, &draft(&long, "k00")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)));

    mastodon::post_status(&c, &app.instance, &token, &draft("one", "k1")).await.unwrap();
    mastodon::post_status(&c, &app.instance, &token, &draft("two", "k2")).await.unwrap();
    let err = mastodon::post_status(&c, &app.instance, &token, &draft("three", "k3")).await.unwrap_err();
    let now = d.now();
    let window_end = now - now.rem_euclid(3 * 3600) + 3 * 3600;
    let ConnectorError::RateLimited { retry_after: Some(wait) } = err else { panic!("{err:?}") };
    assert!((wait.as_secs() as i64 - (window_end - now)).abs() <= 2, "{wait:?} vs {}", window_end - now);
    let r = d.requests().into_iter().rev().find(|r| r.path == "/api/v1/statuses").unwrap();
    assert_eq!(r.header("idempotency-key"), Some("k3"));

    d.inject("/api/v1/accounts", Fault::RateLimited);
    let err = mastodon::verify_credentials(&c, &app.instance, &token).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::RateLimited { retry_after: Some(w) } if w <= Duration::from_secs(300)),
        "{err:?}"
    );
    d.inject("/api/v1/accounts", Fault::ServerError);
    assert!(matches!(mastodon::verify_credentials(&c, &app.instance, &token).await, Err(ConnectorError::Transient(_))));
    d.inject_unavailable("/api/v1/accounts");
    assert!(matches!(mastodon::verify_credentials(&c, &app.instance, &token).await, Err(ConnectorError::Transient(_))));
    mastodon::verify_credentials(&c, &app.instance, &token).await.unwrap();
}

#[tokio::test]
async fn private_instances_are_refused_unless_allowed() {
    let d = MastodonDouble::start(Config::default()).await.unwrap();
    let err = mastodon::register_app(&client(), &d.base, "Steward", REDIRECT, mastodon::SCOPES, None, false)
        .await
        .unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("https")), "{err:?}");
    let https_loopback = d.base.replace("http://", "https://");
    let err = mastodon::register_app(&client(), &https_loopback, "Steward", REDIRECT, mastodon::SCOPES, None, false)
        .await
        .unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("non-public")), "{err:?}");
    assert!(d.requests().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_replys_author_is_muted_or_blocked_with_their_scopes() {
    let d = MastodonDouble::start(Config::default()).await.unwrap();
    let (app, token) = connect(&d).await;
    let c = client();
    let posted = mastodon::post_status(&c, &app.instance, &token, &draft("Hello", "k-mod-1")).await.unwrap();
    let reply = d.reply_from("troll", &posted.id, "Boo").unwrap();
    let (author, acct) = mastodon::status_author(&c, &app.instance, &token, &reply).await.unwrap();
    assert_eq!(acct, "troll");
    let r = mastodon::mute_or_block(&c, &app.instance, &token, &author, false).await.unwrap();
    assert!(r.muting && !r.blocking, "{r:?}");
    let r = mastodon::mute_or_block(&c, &app.instance, &token, &author, true).await.unwrap();
    assert!(r.muting && r.blocking, "{r:?}");
    assert_eq!(d.muted_and_blocked_by("olivia"), (vec!["troll".to_string()], vec!["troll".to_string()]));
    let call = d.requests().into_iter().rfind(|r| r.method == "POST").unwrap();
    assert_eq!(call.path, format!("/api/v1/accounts/{author}/block"));
    let err = mastodon::mute_or_block(&c, &app.instance, &token, "999", true).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)), "{err:?}");

    // A token granted before Steward asked for the mute and block scopes is refused.
    let old =
        mastodon::register_app(&c, &d.base, "Old Steward", REDIRECT, "read write:statuses", None, true).await.unwrap();
    let verifier = pkce::new_verifier();
    let url = mastodon::authorize_url(&old, "read write:statuses", "st-2", &pkce::challenge_s256(&verifier)).unwrap();
    let code = param(&follow(&url).await, "code").unwrap();
    let narrow = mastodon::exchange_code(&c, &old, &code, &verifier, 0).await.unwrap().access_token.clone();
    let err = mastodon::mute_or_block(&c, &app.instance, &narrow, &author, false).await.unwrap_err();
    assert!(!matches!(err, ConnectorError::Transient(_)), "refused for good: {err:?}");
}
