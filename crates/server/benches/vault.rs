//! The credential vault: `cargo bench -p steward-server --bench vault`.
//!
//! - `vault/seal_1k`, `vault/open_1k`: sealing and opening a ~1 KB credential, the data key
//!   unwrapped from its wrapped form included in `open` (what a connector pays per platform call).
//! - then, once (only under `cargo bench`, not in `cargo test --benches`): master-key rotation
//!   over 100,000 accounts in a fresh SQLite database (`STEWARD_BENCH_ACCOUNTS` changes the count),
//!   batches of 500 rows per transaction, as `steward admin rotate-master-key` runs it.
#![allow(clippy::expect_used, clippy::unwrap_used)]
use std::hint::black_box;
use std::time::Instant;
use steward_domain::ids::{AccountId, UserId};

use criterion::Criterion;
use steward_app::config::MasterKeySource;
use steward_app::crypto::{Keyring, MasterKey};
use steward_app::vault::Vault;
use steward_app::vault::rotation::{count_stale, rewrap_all};
use steward_store::{NewAccount, NewUser, Store};

fn credential() -> Vec<u8> {
    let token = "x".repeat(900);
    serde_json::to_vec(
        &serde_json::json!({"access_token": token, "refresh_token": "r".repeat(60), "expires_at": 1_900_000_000}),
    )
    .unwrap()
}

fn seal_and_open(c: &mut Criterion) {
    let vault = Vault::from_keyring(&Keyring::from_keys(vec![MasterKey::generate()]).unwrap());
    let plaintext = credential();
    assert!((1000..1100).contains(&plaintext.len()), "{}", plaintext.len());
    let id = "01a2023e-0000-7000-8000-000000000001";
    let stored = vault.seal_new_credential(&AccountId::new(id.to_string()), &plaintext);
    let mut g = c.benchmark_group("vault");
    g.bench_function("seal_1k", |b| {
        b.iter(|| vault.seal_new_credential(black_box(&AccountId::new(id.to_string())), black_box(&plaintext)))
    });
    g.bench_function("open_1k", |b| {
        b.iter(|| {
            vault
                .open_stored_credential(
                    black_box(&AccountId::new(id.to_string())),
                    Some(&stored.wrapped_data_key),
                    black_box(&stored.credential),
                )
                .unwrap()
        })
    });
    g.finish();
}

fn rotation(accounts: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("master.key");
        let url = format!("sqlite://{}/steward.db", dir.path().display());
        let store = Store::open(&url).await.unwrap();
        let vault = Vault::load(&MasterKeySource::File(key_path.clone())).unwrap();
        let plaintext = credential();
        let started = Instant::now();
        let mut tx = store.begin().await.unwrap();
        tx.insert_user(NewUser {
            id: &UserId::from("owner"),
            email: "o@example.com",
            display_name: "O",
            password_hash: "x",
            now: 0,
        })
        .await
        .unwrap();
        for i in 0..accounts {
            let id = AccountId::new(uuid::Uuid::now_v7().to_string());
            let s = vault.seal_new_credential(&id, &plaintext);
            tx.insert_account(NewAccount {
                id: &id,
                platform: "sandbox",
                account_kind: "creator",
                handle: &format!("@a{i}"),
                display_name: "A",
                owner_id: &UserId::from("owner"),
                time_zone: "UTC",
                max_members: 5,
                owner_approval_required: false,
                credential_sealed: None,
                now: 0,
            })
            .await
            .unwrap();
            tx.set_account_credential(&AccountId::new(id.to_string()), &s.wrapped_data_key, &s.credential, 0)
                .await
                .unwrap();
            if i % 10_000 == 9_999 {
                tx.commit().await.unwrap();
                tx = store.begin().await.unwrap();
            }
        }
        tx.commit().await.unwrap();
        eprintln!("built {accounts} accounts in {:.1?}", started.elapsed());

        let old = Keyring::read_file(&key_path).unwrap().unwrap();
        let mut keys = vec![MasterKey::generate()];
        keys.extend(old.into_keys());
        let ring = Keyring::from_keys(keys).unwrap();
        ring.write_file(&key_path).unwrap();
        let vault = Vault::from_keyring(&ring);
        let started = Instant::now();
        let report = rewrap_all(&store, &vault, 500, |_| {}).await.unwrap();
        let rotate = started.elapsed();
        assert_eq!(report.data_keys_rewrapped, accounts as u64);
        assert_eq!(report.remaining, 0);
        let started = Instant::now();
        let finish = rewrap_all(&store, &vault, 500, |_| {}).await.unwrap();
        let stale = count_stale(&store, &vault, 500).await.unwrap();
        let finish_time = started.elapsed();
        assert_eq!((finish.data_keys_rewrapped, stale), (0, 0));
        let per = rotate.as_secs_f64() * 1e6 / accounts as f64;
        println!("vault/rotate_{accounts}: re-wrapped {accounts} data keys in {rotate:.2?} ({per:.1} µs per account)");
        println!("vault/finish_{accounts}: verification pass (nothing left to re-wrap) in {finish_time:.2?}");
        store.close().await;
    });
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    seal_and_open(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        let accounts = std::env::var("STEWARD_BENCH_ACCOUNTS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
        rotation(accounts);
    }
}
