//! Migrations that move data, run on a database as the migration before them left it.
use sqlx::Connection;
use steward_domain::ids::{AccountId, UserId};
use steward_domain::status::AccountStatus;
use steward_store::{NewAccount, Store};

const NOW: i64 = 1_800_000_000_000_000;

/// Migration 0034: a lockdown that destroyed the credential used to leave its account
/// `disconnected` (no other path ever set that status), which the lockdown's rules did not
/// recognise. After the upgrade such an account is `locked_down`; the others are untouched.
async fn upgrading_to_0034_keeps_a_disconnecting_lockdown_a_lockdown(url: &str) {
    let store = Store::connect(url).await.unwrap();
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::migrate!("./migrations/sqlite").run_to(33, &mut c).await.unwrap();
        c.close().await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::migrate!("./migrations/postgres").run_to(33, &mut c).await.unwrap();
        c.close().await.unwrap();
    }
    let (owner, active, locked) = (UserId::from("owner"), AccountId::from("acc"), AccountId::from("locked"));
    let mut tx = store.begin().await.unwrap();
    crate::owner_and_account(&mut tx, &owner, &active, NOW).await;
    let second = NewAccount {
        id: &locked,
        platform: "sandbox",
        account_kind: "personal",
        handle: "@locked",
        display_name: "Locked",
        owner_id: &owner,
        time_zone: "UTC",
        max_members: 5,
        owner_approval_required: false,
        credential_sealed: None,
        now: NOW,
    };
    tx.insert_account(second).await.unwrap();
    tx.set_account_status(&locked, "disconnected", NOW).await.unwrap();
    tx.commit().await.unwrap();

    store.migrate().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.lock_account(&locked).await.unwrap().unwrap().status, AccountStatus::LockedDown);
    assert_eq!(tx.lock_account(&active).await.unwrap().unwrap().status, AccountStatus::Active);
    drop(tx);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_to_0034_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    upgrading_to_0034_keeps_a_disconnecting_lockdown_a_lockdown(&format!(
        "sqlite://{}",
        dir.path().join("old.db").display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrading_to_0034_on_postgres() {
    let Some(admin) = steward_store::testing::postgres_admin_url() else { return };
    let url = steward_store::testing::create_postgres_database(&admin, "steward_migration_0034").await.unwrap();
    upgrading_to_0034_keeps_a_disconnecting_lockdown_a_lockdown(&url).await;
    steward_store::testing::drop_postgres_database(&admin, &url).await;
}
