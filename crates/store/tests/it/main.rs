//! The store's integration tests: one binary (each extra test binary links the store again).
//! Tests that need PostgreSQL create their own database on the server named by
//! `STEWARD_TEST_POSTGRES_URL`, and skip without it (fail under `STEWARD_REQUIRE_ALL=1`, as in CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod busy;
mod group_commit;
mod head_ahead;
mod lock_order;
mod migrations;
mod schema_parity;
mod store_errors;

use steward_domain::ids::{AccountId, UserId};
use steward_store::{NewAccount, NewUser, Tx};

/// A person `owner` (o@example.com) and a sandbox account `account` (@acc) they own, at `now`.
pub(crate) async fn owner_and_account(tx: &mut Tx, owner: &UserId, account: &AccountId, now: i64) {
    let user = NewUser { id: owner, email: "o@example.com", display_name: "O", password_hash: "x", now };
    tx.insert_user(user).await.unwrap();
    let acc = NewAccount {
        id: account,
        platform: "sandbox",
        account_kind: "personal",
        handle: "@acc",
        display_name: "Acc",
        owner_id: owner,
        time_zone: "UTC",
        max_members: 5,
        owner_approval_required: false,
        credential_sealed: None,
        now,
    };
    tx.insert_account(acc).await.unwrap();
}
