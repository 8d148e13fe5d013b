//! Rows written straight to the store, bypassing the API: posts due now, a Mastodon account
//! whose credential is sealed through the server's vault, and ids for them.
use steward_app::platforms::mastodon::MastodonCredential;
use steward_connectors::mastodon as mastodon_api;
use steward_domain::ids::{AccountId, PostId, UserId};
use steward_doubles::mastodon::MastodonDouble;
use steward_store::{NewAccount, NewPost, PostStateWrite, ScheduleWrite};

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
    let id = uuid_v7();
    let mut tx = store.begin().await.unwrap();
    tx.insert_post(NewPost {
        id: &steward_domain::ids::PostId::from(id.as_str()),
        account_id: &steward_domain::ids::AccountId::from(account_id),
        author_id: &steward_domain::ids::UserId::from(user_id),
        title: None,
        text,
        media,
        idempotency: None,
        now,
    })
    .await
    .unwrap();
    tx.insert_post_approval(&PostId::new(id.to_string()), 1, &UserId::new(user_id.to_string()), true, now)
        .await
        .unwrap();
    let write = PostStateWrite {
        state: "scheduled",
        schedule: ScheduleWrite::Set { at: now, by: &UserId::from(user_id) },
        hold_reason: None,
        clear_approvals: false,
    };
    assert!(tx.apply_post_transition(&PostId::new(id.to_string()), "draft", 1, &write, now).await.unwrap());
    tx.commit().await.unwrap();
    id
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
