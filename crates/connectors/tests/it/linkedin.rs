use std::time::Duration;

use steward_connectors::{ConnectorError, OauthApp, TokenSet, http, linkedin, pkce};
use steward_doubles::Fault;
use steward_doubles::linkedin::{Config, LinkedInDouble, Member, ShareCounts};

const REDIRECT: &str = "http://127.0.0.1:9/oauth/linkedin/callback";

fn app(d: &LinkedInDouble) -> OauthApp {
    OauthApp {
        client_id: d.config().client_id.clone(),
        client_secret: zeroize::Zeroizing::new(d.config().client_secret.clone()),
        auth_base: d.base.clone(),
        api_base: d.base.clone(),
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Follows the authorize URL the way a browser would, up to the redirect to Steward.
async fn consent(url: &str) -> reqwest::Url {
    http::install_crypto_provider();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = browser.get(url).send().await.unwrap();
    assert_eq!(r.status(), 303, "LinkedIn redirects back after consent");
    reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap()
}

fn param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.to_string())
}

async fn connect(d: &LinkedInDouble) -> TokenSet {
    connect_with(d, linkedin::MEMBER_SCOPES).await
}

async fn connect_with(d: &LinkedInDouble, scopes: &str) -> TokenSet {
    let verifier = pkce::new_verifier();
    let url =
        linkedin::authorize_url(&app(d), REDIRECT, "state-123", &pkce::challenge_s256(&verifier), scopes).unwrap();
    let back = consent(&url).await;
    assert_eq!(param(&back, "state").as_deref(), Some("state-123"));
    let code = param(&back, "code").expect("code");
    linkedin::exchange_code(&http::client().unwrap(), &app(d), &code, REDIRECT, &verifier, now())
        .await
        .expect("exchange")
}

#[tokio::test]
async fn connect_exchange_and_identity() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    d.set_member(Member { sub: "abc123".into(), name: "Olivia Owner".into(), email: "olivia@example.com".into() });
    let url = linkedin::authorize_url(&app(&d), REDIRECT, "s", "challenge", linkedin::MEMBER_SCOPES).unwrap();
    let parsed = reqwest::Url::parse(&url).unwrap();
    assert_eq!(parsed.path(), "/oauth/v2/authorization");
    assert_eq!(param(&parsed, "scope").as_deref(), Some("openid profile w_member_social"), "space-delimited scopes");
    assert_eq!(param(&parsed, "code_challenge_method").as_deref(), Some("S256"));

    let tokens = connect(&d).await;
    let t0 = now();
    assert!((tokens.expires_at.unwrap() - (t0 + 5_184_000)).abs() <= 2, "lifetime comes from expires_in");
    assert!((tokens.refresh_expires_at.unwrap() - (t0 + 31_536_000)).abs() <= 2);
    let who = linkedin::userinfo(&http::client().unwrap(), &app(&d), &tokens.access_token).await.unwrap();
    assert_eq!(
        (who.id.as_str(), who.display_name.as_str(), who.handle.as_str()),
        ("abc123", "Olivia Owner", "olivia@example.com")
    );

    let reqs = d.requests();
    let token_call = reqs.iter().find(|r| r.path == "/oauth/v2/accessToken").unwrap();
    assert_eq!(token_call.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert!(token_call.body.contains("grant_type=authorization_code") && token_call.body.contains("code_verifier="));
    assert!(token_call.header("authorization").is_none());
    let info_call = reqs.iter().find(|r| r.path == "/v2/userinfo").unwrap();
    assert_eq!(info_call.header("authorization"), Some(format!("Bearer {}", tokens.access_token).as_str()));
}

#[tokio::test]
async fn codes_work_once_and_only_with_their_verifier() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let verifier = pkce::new_verifier();
    let url =
        linkedin::authorize_url(&app(&d), REDIRECT, "s", &pkce::challenge_s256(&verifier), linkedin::MEMBER_SCOPES)
            .unwrap();
    let code = param(&consent(&url).await, "code").unwrap();
    let client = http::client().unwrap();
    let wrong = pkce::new_verifier();
    let err = linkedin::exchange_code(&client, &app(&d), &code, REDIRECT, &wrong, now()).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.starts_with("invalid_redirect_uri")), "{err:?}");
    let err =
        linkedin::exchange_code(&client, &app(&d), &code, "http://elsewhere/cb", &verifier, now()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)));
    linkedin::exchange_code(&client, &app(&d), &code, REDIRECT, &verifier, now())
        .await
        .expect("the right verifier works");
    let replay = linkedin::exchange_code(&client, &app(&d), &code, REDIRECT, &verifier, now()).await.unwrap_err();
    assert!(matches!(replay, ConnectorError::Rejected(_)), "a code works once");
    let mut bad_app = app(&d);
    bad_app.client_secret = zeroize::Zeroizing::new("wrong".into());
    let err = linkedin::exchange_code(&client, &bad_app, &code, REDIRECT, &verifier, now()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Misconfigured(_)), "{err:?}");
}

#[tokio::test]
async fn a_cancelled_consent_comes_back_as_an_error() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    d.cancel_next_authorization();
    let url = linkedin::authorize_url(&app(&d), REDIRECT, "st", "ch", linkedin::MEMBER_SCOPES).unwrap();
    let back = consent(&url).await;
    assert_eq!(param(&back, "error").as_deref(), Some("user_cancelled_authorize"));
    assert_eq!(param(&back, "state").as_deref(), Some("st"));
    assert!(param(&back, "code").is_none());
}

#[tokio::test]
async fn refresh_keeps_the_original_refresh_deadline() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let first = connect(&d).await;
    let ten_days = 10 * 86_400;
    d.advance(Duration::from_secs(ten_days as u64));
    let client = http::client().unwrap();
    let refreshed = linkedin::refresh(&client, &app(&d), &first, now() + ten_days).await.unwrap();
    assert_ne!(refreshed.access_token, first.access_token);
    assert!(
        (refreshed.refresh_expires_at.unwrap() - first.refresh_expires_at.unwrap()).abs() <= 2,
        "the countdown continues"
    );
    assert!((refreshed.expires_at.unwrap() - (now() + ten_days + 5_184_000)).abs() <= 2);
    linkedin::userinfo(&client, &app(&d), &refreshed.access_token).await.unwrap();
}

#[tokio::test]
async fn expired_and_revoked_tokens_are_unauthorized() {
    let d = LinkedInDouble::start(Config { access_ttl: 60, ..Config::default() }).await.unwrap();
    let tokens = connect(&d).await;
    let client = http::client().unwrap();
    d.advance(Duration::from_secs(61));
    let err = linkedin::userinfo(&client, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Unauthorized(m) if m.contains("EXPIRED_ACCESS_TOKEN")), "{err:?}");
    let fresh = linkedin::refresh(&client, &app(&d), &tokens, now() + 61).await.unwrap();
    d.revoke_all();
    let err = linkedin::userinfo(&client, &app(&d), &fresh.access_token).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Unauthorized(m) if m.contains("REVOKED_ACCESS_TOKEN")), "{err:?}");
    let err = linkedin::refresh(&client, &app(&d), &fresh, now() + 61).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)), "a revoked grant cannot be refreshed: reconnect");
}

#[tokio::test]
async fn apps_without_programmatic_refresh_must_reconnect() {
    let d = LinkedInDouble::start(Config { refresh_enabled: false, ..Config::default() }).await.unwrap();
    let tokens = connect(&d).await;
    assert!(tokens.refresh_token.is_none() && tokens.refresh_expires_at.is_none());
    let err = linkedin::refresh(&http::client().unwrap(), &app(&d), &tokens, now()).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)));
}

#[tokio::test]
async fn rate_limits_server_errors_and_timeouts_are_retryable() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let client = http::client().unwrap();
    d.inject("/v2/userinfo", Fault::RateLimited);
    let err = linkedin::userinfo(&client, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(err, ConnectorError::RateLimited { retry_after: None }), "LinkedIn gives no hint: {err:?}");
    assert!(err.is_retryable());
    d.inject("/v2/userinfo", Fault::ServerError);
    let err = linkedin::userinfo(&client, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)) && err.is_retryable(), "{err:?}");
    d.inject("/v2/userinfo", Fault::Delay(Duration::from_secs(3)));
    let impatient = http::client_with_timeout(Duration::from_millis(300)).unwrap();
    let err = linkedin::userinfo(&impatient, &app(&d), &tokens.access_token).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    d.inject("/oauth/v2/accessToken", Fault::ServerError);
    let err = linkedin::refresh(&client, &app(&d), &tokens, now()).await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    // After the faults, everything works again.
    linkedin::userinfo(&client, &app(&d), &tokens.access_token).await.unwrap();
}

#[test]
fn token_sets_never_print_their_secrets() {
    let t = TokenSet {
        access_token: "AQV-secret-access".into(),
        refresh_token: Some("AQW-secret-refresh".into()),
        expires_at: Some(1),
        refresh_expires_at: None,
        scope: None,
    };
    let shown = format!("{t:?}");
    assert!(!shown.contains("secret"), "{shown}");
}

// ---------------------------------------------------------------------------------------------
// Posts, images, comments, statistics.
// ---------------------------------------------------------------------------------------------

const V: &str = linkedin::DEFAULT_VERSION;
/// The member the double's consent screen signs in by default.
const SUB: &str = "782bbtaQ";
const ORG: &str = "urn:li:organization:2414183";

fn me() -> String {
    linkedin::member_urn(SUB)
}

#[tokio::test]
async fn a_member_text_post_sends_the_documented_request() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let client = http::client().unwrap();
    let who = linkedin::userinfo(&client, &app(&d), &tokens.access_token).await.unwrap();
    let author = linkedin::member_urn(&who.id);
    assert_eq!(author, "urn:li:person:782bbtaQ");
    let published =
        linkedin::create_post(&client, &app(&d), V, &tokens.access_token, &author, "Hello, LinkedIn!", None)
            .await
            .unwrap();
    assert!(published.external_id.starts_with("urn:li:share:"), "{published:?}");
    assert_eq!(published.external_url, format!("https://www.linkedin.com/feed/update/{}/", published.external_id));

    let reqs = d.requests();
    let call = reqs.iter().find(|r| r.method == "POST" && r.path == "/rest/posts").unwrap();
    assert_eq!(call.header("authorization"), Some(format!("Bearer {}", tokens.access_token).as_str()));
    assert_eq!(call.header("linkedin-version"), Some(V));
    assert_eq!(call.header("x-restli-protocol-version"), Some("2.0.0"));
    assert_eq!(call.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_str(&call.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "author": "urn:li:person:782bbtaQ", "commentary": "Hello, LinkedIn!", "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": false
        })
    );
    let stored = d.posts();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].urn.as_str(), stored[0].text()), (published.external_id.as_str(), "Hello, LinkedIn!".into()));

    // Posting as someone else is refused.
    let err = linkedin::create_post(&client, &app(&d), V, &tokens.access_token, "urn:li:person:other", "x", None)
        .await
        .unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("ACCESS_DENIED")), "{err:?}");
}

#[tokio::test]
async fn organization_posts_need_a_posting_role_on_the_page() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect_with(&d, linkedin::ORGANIZATION_SCOPES).await;
    let client = http::client().unwrap();
    let post = |author: String| {
        let (client, app, token) = (client.clone(), app(&d), tokens.access_token.clone());
        async move { linkedin::create_post(&client, &app, V, &token, &author, "Page news", None).await }
    };
    let err = post(ORG.into()).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("ACCESS_DENIED")), "no role yet: {err:?}");
    assert!(!err.is_retryable());
    d.set_organization_role(SUB, "urn:li:organization:77", "ANALYST");
    let err = post("urn:li:organization:77".into()).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("ACCESS_DENIED")), "analysts cannot post");
    d.set_organization_role(SUB, ORG, "CONTENT_ADMINISTRATOR");
    let published = post(linkedin::organization_urn("2414183")).await.unwrap();
    assert_eq!(d.posts().iter().filter(|p| p.author == ORG).count(), 1);
    assert_eq!(d.posts()[0].urn, published.external_id);

    // A member-only token cannot post for the page, role or not.
    let member_only = connect(&d).await;
    let err = linkedin::create_post(&client, &app(&d), V, &member_only.access_token, ORG, "other news", None)
        .await
        .unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("ACCESS_DENIED")), "{err:?}");
}

#[tokio::test]
async fn reserved_characters_are_escaped_or_linkedin_cuts_the_post() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let client = http::client().unwrap();
    let text = r"Launch (beta) #1 @ 50% off_now! {a|b} [c] <d> *e* ~f~ back\slash 🎉";
    linkedin::create_post(&client, &app(&d), V, &tokens.access_token, &me(), text, None).await.unwrap();
    assert_eq!(d.posts()[0].text(), text, "escaped, the whole text is published");
    assert_eq!(d.posts()[0].commentary, linkedin::escape_little_text(text));

    // What a client that forgets to escape gets: 201, and a truncated post.
    let raw = client
        .post(format!("{}/rest/posts", d.base))
        .bearer_auth(&tokens.access_token)
        .header("LinkedIn-Version", V)
        .header("X-Restli-Protocol-Version", "2.0.0")
        .json(&serde_json::json!({
            "author": me(), "commentary": "Launch (beta) today", "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED"}, "lifecycleState": "PUBLISHED"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 201);
    assert_eq!(d.posts()[1].text(), "Launch ", "silently truncated at the first unescaped reserved character");
}

#[tokio::test]
async fn a_duplicate_is_already_published_with_the_live_urn() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let client = http::client().unwrap();
    let first =
        linkedin::create_post(&client, &app(&d), V, &tokens.access_token, &me(), "Same words", None).await.unwrap();
    let err =
        linkedin::create_post(&client, &app(&d), V, &tokens.access_token, &me(), "Same words", None).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::AlreadyPublished { external_id } if *external_id == first.external_id),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(d.posts().len(), 1);
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_yields_the_same_urn_and_one_post() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect_with(&d, &linkedin::scopes_for("member", true)).await;
    let client = http::client().unwrap();
    d.lose_next_response("/rest/posts");
    let text = "Committed (but the answer was lost)";
    let err = linkedin::create_post(&client, &app(&d), V, &tokens.access_token, &me(), text, None).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)) && err.is_retryable(), "{err:?}");
    let err = linkedin::create_post(&client, &app(&d), V, &tokens.access_token, &me(), text, None).await.unwrap_err();
    let ConnectorError::AlreadyPublished { external_id } = err else { panic!("expected the duplicate guard: {err:?}") };
    let stored = d.posts();
    assert_eq!(stored.len(), 1, "one post on LinkedIn");
    assert_eq!(external_id, stored[0].urn);
    let published = linkedin::Published::from_urn(&external_id);
    assert_eq!(published.external_url, format!("https://www.linkedin.com/feed/update/{external_id}/"));

    // The author finder sees it too (reconciliation without the duplicate guard).
    let recent = linkedin::posts_by_author(&client, &app(&d), V, &tokens.access_token, &me(), 10).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!((recent[0].id.as_str(), recent[0].author.as_str()), (external_id.as_str(), me().as_str()));
    assert_eq!(recent[0].commentary, linkedin::escape_little_text(text));
    let finder = d.requests().into_iter().rfind(|r| r.method == "GET" && r.path == "/rest/posts").unwrap();
    assert_eq!(finder.header("x-restli-method"), Some("FINDER"));
    assert_eq!(finder.query, "q=author&author=urn%3Ali%3Aperson%3A782bbtaQ&count=10&sortBy=LAST_MODIFIED");
    // Reading a member's posts needs r_member_social.
    let plain = connect(&d).await;
    let err = linkedin::posts_by_author(&client, &app(&d), V, &plain.access_token, &me(), 10).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("ACCESS_DENIED")), "{err:?}");
}

#[tokio::test]
async fn an_image_post_end_to_end() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let client = http::client().unwrap();
    let a = app(&d);
    let token = tokens.access_token.as_str();
    let upload = linkedin::initialize_image_upload(&client, &a, V, token, &me()).await.unwrap();
    assert!(upload.image_urn.starts_with("urn:li:image:"));
    assert_eq!(
        linkedin::image_status(&client, &a, V, token, &upload.image_urn).await.unwrap(),
        linkedin::ImageStatus::WaitingUpload
    );
    let err = linkedin::create_post(&client, &a, V, token, &me(), "Too early", Some((upload.image_urn.clone(), None)))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)), "an image must be AVAILABLE first: {err:?}");
    let bytes = b"\x89PNG\r\n\x1a\n fake image".to_vec();
    linkedin::upload_image(&client, &a, token, &upload.upload_url, bytes.clone()).await.unwrap();
    let mut status = linkedin::ImageStatus::Processing;
    for _ in 0..5 {
        status = linkedin::image_status(&client, &a, V, token, &upload.image_urn).await.unwrap();
        if status != linkedin::ImageStatus::Processing {
            break;
        }
    }
    assert_eq!(status, linkedin::ImageStatus::Available);
    assert_eq!(d.image_bytes(&upload.image_urn), Some(bytes.len()));
    let put = d.requests().into_iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(put.header("authorization"), Some(format!("Bearer {token}").as_str()));

    let published = linkedin::create_post(
        &client,
        &a,
        V,
        token,
        &me(),
        "With a picture",
        Some((upload.image_urn.clone(), Some("A red kite"))),
    )
    .await
    .unwrap();
    assert!(published.external_id.starts_with("urn:li:ugcPost:"), "media posts may be ugcPosts");
    let call = d.requests().into_iter().rfind(|r| r.path == "/rest/posts").unwrap();
    let body: serde_json::Value = serde_json::from_str(&call.body).unwrap();
    assert_eq!(body["content"], serde_json::json!({"media": {"id": upload.image_urn, "altText": "A red kite"}}));
    assert_eq!(d.posts()[0].image.as_deref(), Some(upload.image_urn.as_str()));
    assert_eq!(d.posts()[0].alt_text.as_deref(), Some("A red kite"), "the alt text goes with the image");

    // Failed processing is reported, and an upload URL on a foreign host never gets the token.
    d.fail_next_image_processing();
    let second = linkedin::initialize_image_upload(&client, &a, V, token, &me()).await.unwrap();
    linkedin::upload_image(&client, &a, token, &second.upload_url, bytes.clone()).await.unwrap();
    let mut status = linkedin::ImageStatus::Processing;
    for _ in 0..5 {
        status = linkedin::image_status(&client, &a, V, token, &second.image_urn).await.unwrap();
        if status != linkedin::ImageStatus::Processing {
            break;
        }
    }
    assert_eq!(status, linkedin::ImageStatus::ProcessingFailed);
    let before = d.requests().len();
    let err =
        linkedin::upload_image(&client, &a, token, "https://evil.example/dms-uploads/x", bytes).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Protocol(_)), "{err:?}");
    assert_eq!(d.requests().len(), before);
}

#[tokio::test]
async fn comments_are_listed_and_answered_one_level_deep() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let client = http::client().unwrap();
    let (a, token) = (app(&d), tokens.access_token.as_str());
    let post = linkedin::create_post(&client, &a, V, token, &me(), "Ask me anything", None).await.unwrap().external_id;
    let fan = "urn:li:person:fan42";
    let first = d.comment_from(fan, &post, None, "Great post (really)").unwrap();
    d.comment_from(fan, &post, None, "Second thought").unwrap();

    let page = linkedin::list_comments(&client, &a, V, token, &post, 0, 1).await.unwrap();
    assert_eq!(page.total, Some(2));
    assert_eq!(page.comments.len(), 1, "count is honoured");
    let c = &page.comments[0];
    assert_eq!(
        (c.comment_urn.as_str(), c.actor.as_str(), c.text.as_str()),
        (first.as_str(), fan, "Great post (really)")
    );
    assert!(
        c.comment_urn.starts_with("urn:li:comment:(urn:li:activity:")
            && c.comment_urn.ends_with(&format!(",{})", c.id))
    );
    assert!(c.created_at.is_some() && c.parent_comment.is_none());
    let list_call = d.requests().into_iter().rfind(|r| r.method == "GET" && r.path.contains("socialActions")).unwrap();
    assert_eq!(list_call.query, "start=0&count=1");

    let reply =
        linkedin::reply_to_comment(&client, &a, V, token, &me(), &post, &first, "Thanks (truly)!").await.unwrap();
    assert_eq!(reply.parent_comment.as_deref(), Some(first.as_str()));
    assert_eq!(reply.actor, me());
    let call = d.requests().into_iter().rfind(|r| r.method == "POST" && r.path.contains("socialActions")).unwrap();
    assert_eq!(call.header("linkedin-version"), Some(V));
    let body: serde_json::Value = serde_json::from_str(&call.body).unwrap();
    assert_eq!(body["parentComment"], serde_json::json!(first));
    assert_eq!(body["message"]["text"], "Thanks \\(truly\\)!", "escaped little text");

    let top = linkedin::list_comments(&client, &a, V, token, &post, 0, 10).await.unwrap();
    assert_eq!(top.comments.len(), 2, "replies are not top-level comments");
    let replies = linkedin::list_comments(&client, &a, V, token, &first, 0, 10).await.unwrap();
    assert_eq!(replies.comments.len(), 1);
    assert_eq!(replies.comments[0].comment_urn, reply.comment_urn);
    assert_eq!(replies.comments[0].parent_comment.as_deref(), Some(first.as_str()));

    let err = linkedin::reply_to_comment(&client, &a, V, token, &me(), &post, &reply.comment_urn, "deeper")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)), "threads are one level deep: {err:?}");
    let err = linkedin::reply_to_comment(&client, &a, V, token, ORG, &post, &first, "as the page").await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("ACCESS_DENIED")), "{err:?}");
}

#[tokio::test]
async fn share_statistics_for_a_page_administrator() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect_with(&d, linkedin::ORGANIZATION_SCOPES).await;
    let client = http::client().unwrap();
    let (a, token) = (app(&d), tokens.access_token.as_str());
    d.set_organization_role(SUB, ORG, "ADMINISTRATOR");
    let one = linkedin::create_post(&client, &a, V, token, ORG, "One", None).await.unwrap().external_id;
    let two = linkedin::create_post(&client, &a, V, token, ORG, "Two", None).await.unwrap().external_id;
    linkedin::create_post(&client, &a, V, token, ORG, "Three", None).await.unwrap();
    d.set_share_statistics(
        &one,
        ShareCounts { impressions: 1000, unique_impressions: 800, clicks: 40, likes: 25, shares: 3 },
    );
    d.comment_from("urn:li:person:fan", &one, None, "nice").unwrap();

    let stats = linkedin::share_statistics(&client, &a, V, token, ORG, &[&one, &two]).await.unwrap();
    assert_eq!(stats.len(), 2, "only the shares asked for");
    let s1 = stats.iter().find(|s| s.share == one).unwrap();
    assert_eq!(
        *s1,
        linkedin::ShareStatistics {
            share: one.clone(),
            impressions: 1000,
            unique_impressions: 800,
            clicks: 40,
            likes: 25,
            comments: 1,
            shares: 3
        }
    );
    assert_eq!(stats.iter().find(|s| s.share == two).unwrap().impressions, 0);
    let call = d.requests().into_iter().rfind(|r| r.path == "/rest/organizationalEntityShareStatistics").unwrap();
    assert_eq!(
        call.query,
        format!(
            "q=organizationalEntity&organizationalEntity=urn%3Ali%3Aorganization%3A2414183&shares=List({},{})",
            linkedin::encode_urn(&one),
            linkedin::encode_urn(&two)
        )
    );

    // Content administrators post but do not see statistics.
    d.set_organization_role(SUB, "urn:li:organization:9", "CONTENT_ADMINISTRATOR");
    let err = linkedin::share_statistics(&client, &a, V, token, "urn:li:organization:9", &[]).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("ACCESS_DENIED")), "{err:?}");
}

#[tokio::test]
async fn social_metadata_counts_a_members_post_with_r_member_social_only() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let client = http::client().unwrap();
    let a = app(&d);
    assert_eq!(linkedin::scopes_for("member", false), linkedin::MEMBER_SCOPES);
    assert_eq!(linkedin::scopes_for("organization", true), linkedin::ORGANIZATION_SCOPES);
    let reading = linkedin::scopes_for("member", true);
    assert!(reading.ends_with(" r_member_social"), "{reading}");
    let tokens = connect_with(&d, &reading).await;
    let token = tokens.access_token.as_str();
    let post = linkedin::create_post(&client, &a, V, token, &me(), "Counting", None).await.unwrap().external_id;
    d.set_share_statistics(&post, ShareCounts { likes: 4, ..ShareCounts::default() });
    let first = d.comment_from("urn:li:person:fan", &post, None, "nice").unwrap();
    d.comment_from("urn:li:person:fan2", &post, Some(&first), "agreed").unwrap();

    let m = linkedin::social_metadata(&client, &a, V, token, &post).await.unwrap();
    assert_eq!(
        m,
        linkedin::SocialMetadata {
            entity: post.clone(),
            reactions: 4,
            comments: 2,
            top_level_comments: 1,
            comments_state: Some("OPEN".into()),
        }
    );
    let call = d.requests().into_iter().rfind(|r| r.path.starts_with("/rest/socialMetadata/")).unwrap();
    assert_eq!(call.path, format!("/rest/socialMetadata/{}", linkedin::encode_urn(&post)));
    assert_eq!(call.header("linkedin-version"), Some(V));
    assert_eq!(call.header("x-restli-protocol-version"), Some("2.0.0"));

    // Without the restricted scope LinkedIn refuses a member's own post.
    let plain = connect(&d).await;
    let err = linkedin::social_metadata(&client, &a, V, &plain.access_token, &post).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("ACCESS_DENIED")), "{err:?}");
    let err = linkedin::social_metadata(&client, &a, V, token, "urn:li:share:1").await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)), "unknown post: {err:?}");
}

#[tokio::test]
async fn a_retired_version_is_an_operator_error() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let client = http::client().unwrap();
    let err =
        linkedin::create_post(&client, &app(&d), "202401", &tokens.access_token, &me(), "hi", None).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Misconfigured(m)
            if m.contains("STEWARD_LINKEDIN_VERSION") && m.contains("NONEXISTENT_VERSION") && m.contains("202401")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    let before = d.requests().len();
    let err =
        linkedin::create_post(&client, &app(&d), "2026-01", &tokens.access_token, &me(), "hi", None).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Misconfigured(m) if m.contains("STEWARD_LINKEDIN_VERSION")), "{err:?}");
    assert_eq!(d.requests().len(), before, "a malformed version is caught before any call");
    assert!(d.posts().is_empty());

    // Without the version header LinkedIn refuses the call.
    let raw = client
        .post(format!("{}/rest/posts", d.base))
        .bearer_auth(&tokens.access_token)
        .header("X-Restli-Protocol-Version", "2.0.0")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
}

#[tokio::test]
async fn the_daily_quota_answers_429_without_a_hint_until_utc_midnight() {
    let d = LinkedInDouble::start(Config { member_daily_limit: 2, ..Config::default() }).await.unwrap();
    let tokens = connect_with(&d, &linkedin::scopes_for("member", true)).await;
    let client = http::client().unwrap();
    let post = |text: &'static str| {
        let (client, app, token) = (client.clone(), app(&d), tokens.access_token.clone());
        async move { linkedin::create_post(&client, &app, V, &token, &me(), text, None).await }
    };
    // Start the day just after midnight UTC so the quota cannot roll over mid-test.
    d.advance(Duration::from_secs((86_400 - d.now().rem_euclid(86_400) + 5) as u64));
    post("one").await.unwrap();
    post("two").await.unwrap();
    let err = post("three").await.unwrap_err();
    assert!(matches!(err, ConnectorError::RateLimited { retry_after: None }), "{err:?}");
    assert!(err.is_retryable());
    let raw = client
        .post(format!("{}/rest/posts", d.base))
        .bearer_auth(&tokens.access_token)
        .header("LinkedIn-Version", V)
        .header("X-Restli-Protocol-Version", "2.0.0")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 429);
    assert!(
        raw.headers().keys().all(|k| !k.as_str().contains("ratelimit") && k != "retry-after"),
        "LinkedIn sends no rate-limit headers: {:?}",
        raw.headers()
    );
    // Other endpoints have their own counters.
    linkedin::posts_by_author(&client, &app(&d), V, &tokens.access_token, &me(), 5).await.unwrap();
    d.advance(Duration::from_secs(86_400 - 5 - 60));
    assert!(post("three").await.is_err(), "still the same UTC day");
    d.advance(Duration::from_secs(61));
    post("three").await.expect("a new UTC day resets the quota");
    assert_eq!(d.posts().len(), 3);
}

#[tokio::test]
async fn rest_server_errors_timeouts_and_bad_tokens() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect(&d).await;
    let client = http::client().unwrap();
    d.inject("/rest/posts", Fault::ServerError);
    let err = linkedin::create_post(&client, &app(&d), V, &tokens.access_token, &me(), "a", None).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)) && err.is_retryable(), "{err:?}");
    d.inject("/rest/socialActions", Fault::Delay(Duration::from_secs(3)));
    let impatient = http::client_with_timeout(Duration::from_millis(300)).unwrap();
    let err = linkedin::list_comments(&impatient, &app(&d), V, &tokens.access_token, "urn:li:share:1", 0, 10)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)) && err.is_retryable(), "{err:?}");
    assert!(d.posts().is_empty(), "the 500 was not a lost commit");
    linkedin::create_post(&client, &app(&d), V, &tokens.access_token, &me(), "a", None).await.unwrap();
    d.revoke_all();
    let err = linkedin::create_post(&client, &app(&d), V, &tokens.access_token, &me(), "b", None).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Unauthorized(m) if m.contains("REVOKED_ACCESS_TOKEN")), "{err:?}");
}

#[tokio::test]
async fn a_page_admin_deletes_comments_on_the_pages_posts_and_their_replies() {
    let d = LinkedInDouble::start(Config::default()).await.unwrap();
    let tokens = connect_with(&d, linkedin::ORGANIZATION_SCOPES).await;
    d.set_organization_role(SUB, ORG, "ADMINISTRATOR");
    let client = http::client().unwrap();
    let (a, token) = (app(&d), tokens.access_token.as_str());
    let post = linkedin::create_post(&client, &a, V, token, ORG, "Page news", None).await.unwrap().external_id;
    let troll = d.comment_from("urn:li:person:troll", &post, None, "Spam spam").unwrap();
    d.comment_from("urn:li:person:fan", &post, Some(&troll), "Please stop").unwrap();
    let kept = d.comment_from("urn:li:person:fan", &post, None, "Nice").unwrap();
    assert_eq!(linkedin::comment_id_of(&troll), troll.rsplit_once(',').map(|(_, id)| id.trim_end_matches(')')));

    // A member acting as themselves may not delete someone else's comment on the Page's post.
    let err = linkedin::delete_comment(&client, &a, V, token, &me(), &post, &troll).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("ACCESS_DENIED")), "{err:?}");
    linkedin::delete_comment(&client, &a, V, token, ORG, &post, &troll).await.unwrap();
    let call = d.requests().into_iter().rfind(|r| r.method == "DELETE").unwrap();
    assert!(call.path.starts_with("/rest/socialActions/"), "{}", call.path);
    assert!(call.path.ends_with(&format!("/comments/{}", linkedin::comment_id_of(&troll).unwrap())), "{}", call.path);
    assert_eq!(call.query, format!("actor={}", linkedin::encode_urn(ORG)));
    assert_eq!(call.header("linkedin-version"), Some(V));
    let left: Vec<String> = d.comments().into_iter().map(|c| c.urn).collect();
    assert_eq!(left, [kept], "the comment and its reply are gone");
    // An analyst of the Page may not.
    let other = linkedin::create_post(&client, &a, V, token, ORG, "More news", None).await.unwrap().external_id;
    let c = d.comment_from("urn:li:person:troll", &other, None, "Again").unwrap();
    d.set_organization_role(SUB, "urn:li:organization:77", "ANALYST");
    let err = linkedin::delete_comment(&client, &a, V, token, "urn:li:organization:77", &other, &c).await.unwrap_err();
    assert!(matches!(&err, ConnectorError::Rejected(m) if m.contains("ACCESS_DENIED")), "{err:?}");
    let err = linkedin::delete_comment(&client, &a, V, token, ORG, &other, "urn:li:share:1").await.unwrap_err();
    assert!(matches!(err, ConnectorError::Rejected(_)), "not a comment URN: {err:?}");
}
