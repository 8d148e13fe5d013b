//! The scheduler locks due posts before their account, everyone else the account before its
//! posts (lockdown, scheduling, membership changes). On PostgreSQL a scheduler that waited for
//! an account a lockdown holds, while the lockdown waited for a post the scheduler holds, would
//! deadlock, and PostgreSQL would abort one of them: perhaps the lockdown, the owner's brake.
//! So the scheduler takes the account only if it is free, and leaves the post for a later round.
use std::time::Duration;

use steward_domain::ids::{AccountId, PostId, UserId};
use steward_store::{NewPost, Store};

const NOW: i64 = 1_800_000_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_never_waits_for_an_account_a_lockdown_holds() {
    let Some(admin) = steward_store::testing::postgres_admin_url() else { return };
    let url = steward_store::testing::create_postgres_database(&admin, "steward_lock_order").await.unwrap();
    let store = Store::open(&url).await.unwrap();
    let (owner, account, post) = (UserId::from("owner"), AccountId::from("acc"), PostId::from("p1"));
    let mut tx = store.begin().await.unwrap();
    crate::owner_and_account(&mut tx, &owner, &account, NOW).await;
    let draft = NewPost {
        id: &post,
        account_id: &account,
        author_id: &owner,
        title: None,
        text: "due",
        media: "[]",
        idempotency: None,
        now: NOW,
    };
    tx.insert_post(draft).await.unwrap();
    tx.commit().await.unwrap();
    {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query("UPDATE posts SET state = 'scheduled', scheduled_at = $1").bind(NOW).execute(&mut c).await.unwrap();
    }

    // The scheduler's round holds the due post; the lockdown holds the account and goes for
    // the post, waiting for the round.
    let mut round = store.begin().await.unwrap();
    assert_eq!(round.lock_due_post_ids(NOW, 10).await.unwrap(), vec![post.clone()]);
    let mut lockdown = store.begin().await.unwrap();
    lockdown.lock_account(&account).await.unwrap().expect("the account");
    let (a, o) = (account.clone(), owner.clone());
    let cancelling = tokio::spawn(async move {
        let cancelled = lockdown.cancel_posts_not_approved_by(&a, &o, NOW).await;
        (lockdown, cancelled)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!cancelling.is_finished(), "the lockdown waits for the post the round holds");

    // The round does not wait for the account (waiting is the deadlock).
    let got = tokio::time::timeout(Duration::from_secs(5), round.lock_account_unless_busy(&account))
        .await
        .expect("the round does not wait for a busy account")
        .unwrap();
    assert!(got.is_none(), "a busy account is left for a later round");
    round.commit().await.unwrap();
    let (lockdown, cancelled) =
        tokio::time::timeout(Duration::from_secs(5), cancelling).await.expect("the lockdown goes on").unwrap();
    assert_eq!(cancelled.unwrap(), vec![post.clone()], "the lockdown cancelled the post");
    lockdown.commit().await.unwrap();

    // A free account is taken as before.
    let mut tx = store.begin().await.unwrap();
    assert!(tx.lock_account_unless_busy(&account).await.unwrap().is_some());
    drop(tx);
    store.close().await;
    steward_store::testing::drop_postgres_database(&admin, &url).await;
}
