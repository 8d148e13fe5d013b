//! Rows written straight to the store, bypassing the API: posts due now, a Mastodon account
//! whose credential is sealed through the server's vault, and ids for them.
use steward_app::platforms::mastodon::MastodonCredential;
use steward_connectors::mastodon as mastodon_api;
use steward_domain::ids::{AccountId, PostId, UserId};
use steward_doubles::mastodon::MastodonDouble;
use steward_store::{NewAccount, NewPost, PostStateWrite, ScheduleWrite};

use super::{Session, TestApp};

/// A post approved by its owner (`user_id`) and due at `now`, written straight to the store
/// (bypassing the posts API); returns its id.
pub(crate) async fn insert_due_post(
    store: &steward_store::Store,
    account_id: &str,
    user_id: &str,
    text: &str,
    media: &str,
    now: i64,
) -> String {
    let post = ScheduledPost {
        account_id,
        author_id: user_id,
        approver_id: user_id,
        approver_is_owner: true,
        text,
        media,
        at: now,
        now,
    };
    insert_scheduled_post(store, post).await
}

/// A post as a test needs it scheduled: approved by `approver_id`, who also scheduled it for `at`.
pub(crate) struct ScheduledPost<'a> {
    pub account_id: &'a str,
    pub author_id: &'a str,
    pub approver_id: &'a str,
    pub approver_is_owner: bool,
    pub text: &'a str,
    pub media: &'a str,
    /// When it is due (µs).
    pub at: i64,
    pub now: i64,
}

/// Writes `post` straight to the store, in one transaction (bypassing the posts API); returns
/// its id.
pub(crate) async fn insert_scheduled_post(store: &steward_store::Store, post: ScheduledPost<'_>) -> String {
    let id = uuid_v7();
    let post_id = PostId::new(id.clone());
    let mut tx = store.begin().await.unwrap();
    tx.insert_post(NewPost {
        id: &post_id,
        account_id: &AccountId::from(post.account_id),
        author_id: &UserId::from(post.author_id),
        title: None,
        text: post.text,
        media: post.media,
        idempotency: None,
        now: post.now,
    })
    .await
    .unwrap();
    tx.insert_post_approval(&post_id, 1, &UserId::from(post.approver_id), post.approver_is_owner, post.now)
        .await
        .unwrap();
    let write = PostStateWrite {
        state: "scheduled",
        schedule: ScheduleWrite::Set { at: post.at, by: &UserId::from(post.approver_id) },
        hold_reason: None,
        clear_approvals: false,
    };
    assert!(tx.apply_post_transition(&post_id, "draft", 1, &write, post.now).await.unwrap());
    tx.commit().await.unwrap();
    id
}

/// Wakes the scheduler until the post is published or failed (for at most 15 s); answers the
/// state it is in then.
pub(crate) async fn publish_outcome(app: &TestApp, post_id: &PostId) -> String {
    let mut state = String::new();
    for _ in 0..300 {
        app.state.scheduler.wake();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        state = app.state.store.post(post_id).await.unwrap().unwrap().state.as_str().to_string();
        if state == "published" || state == "failed" {
            break;
        }
    }
    state
}

/// A post approved by `owner` and due now, with the scheduler woken for it; returns its id.
pub(crate) async fn due_post(app: &TestApp, account_id: &str, owner: &Session, text: &str, media: &str) -> String {
    let id = insert_due_post(&app.state.store, account_id, &owner.user_id, text, media, app.clock.now_us()).await;
    app.state.scheduler.wake();
    id
}

/// Waits for the post to be published or failed, moving the clock past each retry or poll delay.
pub(crate) async fn settled(app: &TestApp, id: &str) -> steward_store::PostRow {
    let id = &steward_domain::ids::PostId::new(id.to_string());
    for _ in 0..600 {
        let p = app.state.store.post(id).await.unwrap().unwrap();
        if matches!(p.state.as_str(), "published" | "failed") {
            return p;
        }
        if let Some(next) = app.state.store.publish_job(id).await.unwrap().and_then(|j| j.next_attempt_at) {
            let wait = next - app.clock.now_us();
            if wait > 0 {
                app.clock.advance(std::time::Duration::from_micros(u64::try_from(wait).unwrap() + 1));
            }
        }
        app.state.scheduler.wake();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("post {id} never settled");
}

/// Connects to the double as its owner would (OAuth with PKCE), from the test process.
pub async fn mastodon_token(d: &MastodonDouble) -> String {
    let client = steward_connectors::http::client().unwrap();
    let app = mastodon_api::register_app(
        &client,
        &d.base,
        "Steward",
        "http://127.0.0.1:9/oauth/mastodon/callback",
        mastodon_api::SCOPES,
        None,
        true,
    )
    .await
    .unwrap();
    let verifier = steward_connectors::pkce::new_verifier();
    let url = mastodon_api::authorize_url(
        &app,
        mastodon_api::SCOPES,
        "st",
        &steward_connectors::pkce::challenge_s256(&verifier),
    )
    .unwrap();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let back = browser.get(&url).send().await.unwrap();
    let location = reqwest::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    let code = location.query_pairs().find(|(k, _)| k == "code").unwrap().1.to_string();
    let tokens = mastodon_api::exchange_code(&client, &app, &code, &verifier, 0).await.unwrap();
    tokens.access_token.clone()
}

/// A Mastodon account owned by `owner_id`, its credential sealed through the server's vault.
pub async fn seal_mastodon_account(
    store: &steward_store::Store,
    vault: &steward_app::vault::Vault,
    owner_id: &str,
    d: &MastodonDouble,
    now: i64,
) -> String {
    let token = mastodon_token(d).await;
    let id = uuid_v7();
    let cred = MastodonCredential {
        instance: d.base.clone(),
        tokens: steward_connectors::TokenSet {
            access_token: token,
            refresh_token: None,
            expires_at: None,
            refresh_expires_at: None,
            scope: Some(mastodon_api::SCOPES.into()),
        },
        identity: steward_connectors::Identity {
            id: "100".into(),
            handle: "@olivia@mastodon.example".into(),
            display_name: "Olivia".into(),
        },
    };
    let sealed = vault.seal_new_credential(&AccountId::new(id.to_string()), &serde_json::to_vec(&cred).unwrap());
    let mut tx = store.begin().await.unwrap();
    tx.insert_account(NewAccount {
        id: &AccountId::from(id.as_str()),
        platform: "mastodon",
        account_kind: "account",
        handle: "@olivia@mastodon.example",
        display_name: "Olivia",
        owner_id: &UserId::from(owner_id),
        time_zone: "UTC",
        max_members: 10,
        owner_approval_required: false,
        credential_sealed: None,
        now,
    })
    .await
    .unwrap();
    tx.set_account_credential(&AccountId::new(id.to_string()), &sealed.wrapped_data_key, &sealed.credential, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

pub fn uuid_v7() -> String {
    // The suite has no uuid dependency: time and a counter make ids unique enough for tests.
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("t{t:x}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A LinkedIn member profile owned by `owner_id`, inserted as the OAuth callback would (the
/// LinkedIn double is for tests about connecting; see connect.rs).
pub async fn linkedin_member_account(app: &crate::helpers::TestApp, owner_id: &str, id: &str) {
    let mut tx = app.state.store.begin().await.unwrap();
    tx.insert_account(NewAccount {
        id: &AccountId::from(id),
        platform: "linkedin",
        account_kind: "member",
        handle: "olivia-owner",
        display_name: "Olivia",
        owner_id: &UserId::from(owner_id),
        time_zone: "UTC",
        max_members: 5,
        owner_approval_required: true,
        credential_sealed: None,
        now: app.clock.now_us(),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
}
