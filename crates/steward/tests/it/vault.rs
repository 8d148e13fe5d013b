//! The credential vault and master-key rotation (DESIGN.md invariant 2: the credential
//! never leaves).
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use steward_domain::ids::AccountId;

use base64::Engine;
use serde_json::{Value, json};
use steward_app::config::MasterKeySource;
use steward_app::crypto::{Keyring, MasterKey};
use steward_app::vault::Vault;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_steward");

fn marker(what: &str) -> String {
    format!("{what}-{}", hex::encode(steward_app::crypto::random_array::<12>()))
}

/// A sandbox account whose credential is `{"access_token": token}`; its id.
async fn account_with_token(app: &TestApp, owner: &Session, handle: &str, token: &str) -> String {
    let r = app
        .post("/api/v1/accounts")
        .auth(owner)
        .json(json!({"platform": "sandbox", "handle": handle, "credentials": {"access_token": token}}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!r.text.contains(token), "the credential is never returned");
    r.body["id"].as_str().unwrap().to_string()
}

async fn check(app: &TestApp, s: &Session, account: &str) -> Resp {
    app.post(&format!("/api/v1/accounts/{account}/check")).auth(s).send().await
}

fn key_file(app: &TestApp) -> PathBuf {
    match &app.state.settings.master_key {
        MasterKeySource::File(p) => p.clone(),
        MasterKeySource::Inline(_) => panic!("tests use a key file"),
    }
}

/// Every byte the database holds: all files of the SQLite data directory (database, WAL,
/// shared memory) but the master key file, or a `pg_dump` of the PostgreSQL database.
async fn database_bytes(app: &TestApp) -> Vec<u8> {
    match app.backend {
        Backend::Sqlite => {
            let mut all = Vec::new();
            let dir = app.state.settings.data_dir.clone();
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() && path != key_file(app) {
                    all.extend(std::fs::read(&path).unwrap());
                }
            }
            assert!(all.len() > 4096, "the data directory holds the database");
            all
        }
        Backend::Postgres => {
            let out = tokio::process::Command::new("pg_dump")
                .arg("--no-owner")
                .arg(&app.database_url)
                .output()
                .await
                .expect("run pg_dump (apt package postgresql-client)");
            assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
            assert!(String::from_utf8_lossy(&out.stdout).contains("social_accounts"));
            out.stdout
        }
    }
}

/// Where `needle` occurs in `haystack` in the clear, in base64 (either alphabet) or in hex (how
/// pg_dump prints BYTEA).
fn traces(haystack: &[u8], needle: &str) -> Vec<&'static str> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let lower = haystack.to_ascii_lowercase();
    let contains = |h: &[u8], n: &[u8]| h.windows(n.len()).any(|w| w == n);
    let mut found = Vec::new();
    if contains(haystack, needle.as_bytes()) {
        found.push("plain");
    }
    // Base64 of the marker at each of the three alignments it can have inside a longer value.
    for shift in 0..3 {
        let padded = format!("{}{needle}", "x".repeat(shift));
        let b64 = STANDARD.encode(padded.as_bytes());
        let url = URL_SAFE_NO_PAD.encode(padded.as_bytes());
        // Skip the characters that depend on the padding bytes.
        let skip = (shift * 4).div_ceil(3) + 1;
        if contains(haystack, &b64.as_bytes()[skip..b64.len() - 4])
            || contains(haystack, &url.as_bytes()[skip..url.len() - 4])
        {
            found.push("base64");
        }
    }
    if contains(&lower, hex::encode(needle.as_bytes()).as_bytes()) {
        found.push("hex");
    }
    found
}

both_backends! {
    async fn a_known_token_leaves_no_trace_in_the_database(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let secret = marker("MARKER");
        let account = account_with_token(&app, &owner, "@vaulted", &secret).await;
        // A control: a marker stored in a field that is *not* secret is found by the same search,
        // so the search can fail.
        let visible = marker("VISIBLE");
        account_with_token(&app, &owner, &visible, "unrelated").await;
        let r = check(&app, &owner, &account).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "active");
        assert_eq!(r.body["identity"]["handle"], "@vaulted");
        assert!(r.body["checked_at"].as_str().unwrap().ends_with('Z'), "{}", r.text);
        assert!(!r.text.contains(&secret));

        let bytes = database_bytes(&app).await;
        assert!(!traces(&bytes, &visible).is_empty(), "the control marker must be found");
        assert_eq!(traces(&bytes, &secret), Vec::<&str>::new(), "the credential left a trace in the database");
        // Nor does the master key (or its base64) sit in the database.
        let ring = Keyring::read_file(&key_file(&app)).unwrap().unwrap();
        let key_b64 = ring.primary().to_base64();
        assert!(!bytes.windows(key_b64.len()).any(|w| w == key_b64.as_bytes()));
    }

    async fn each_account_has_its_own_data_key_and_tampering_is_caught(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let token = marker("MARKER");
        let a = account_with_token(&app, &owner, "@a", &token).await;
        let b = account_with_token(&app, &owner, "@b", &token).await;
        let ra = app.state.store.sealed_credential(&AccountId::new(a.to_string())).await.unwrap().unwrap();
        let rb = app.state.store.sealed_credential(&AccountId::new(b.to_string())).await.unwrap().unwrap();
        let (wa, wb) = (ra.wrapped_data_key.clone().unwrap(), rb.wrapped_data_key.clone().unwrap());
        assert_ne!(wa, wb, "wrapped data keys differ per account");
        assert_eq!(wa.len(), 1 + 4 + 24 + 32 + 16);
        let (ca, cb) = (ra.credential_sealed.clone().unwrap(), rb.credential_sealed.clone().unwrap());
        assert_ne!(ca, cb, "the same token seals differently");
        let vault = app.state.vault();
        let ka = vault.unwrap(&AccountId::new(a.to_string()), &wa).unwrap();
        let kb = vault.unwrap(&AccountId::new(b.to_string()), &wb).unwrap();
        assert!(Vault::open_credential(&AccountId::new(b.to_string()), &ka, &cb).is_err(), "a's data key does not open b's credential");
        assert_eq!(
            serde_json::from_slice::<Value>(&Vault::open_credential(&AccountId::new(b.to_string()), &kb, &cb).unwrap()).unwrap()["access_token"],
            token.as_str()
        );
        assert_eq!(check(&app, &owner, &b).await.status, 200);

        // b's row given a's ciphertext: b's associated data and key refuse it.
        let hex_ca = hex::encode(&ca);
        let literal = match app.backend { Backend::Sqlite => format!("X'{hex_ca}'"), Backend::Postgres => format!("'\\x{hex_ca}'::bytea") };
        app.raw_sql(&format!("UPDATE social_accounts SET credential_sealed = {literal} WHERE id = '{b}'")).await;
        let r = check(&app, &owner, &b).await;
        r.assert_problem(500, "internal");
        assert!(!r.text.contains(&token));
        // Even with a's wrapped key beside it, b's associated data refuses the pair.
        let hex_wa = hex::encode(&wa);
        let literal = match app.backend { Backend::Sqlite => format!("X'{hex_wa}'"), Backend::Postgres => format!("'\\x{hex_wa}'::bytea") };
        app.raw_sql(&format!("UPDATE social_accounts SET wrapped_data_key = {literal} WHERE id = '{b}'")).await;
        check(&app, &owner, &b).await.assert_problem(500, "internal");

        // a's wrapped key with one bit flipped.
        assert_eq!(check(&app, &owner, &a).await.status, 200);
        let mut tampered = wa.clone();
        tampered[40] ^= 0x01;
        let mut tx = app.state.store.begin().await.unwrap();
        assert!(tx.replace_wrapped_data_key(&AccountId::new(a.to_string()), &wa, &tampered).await.unwrap());
        tx.commit().await.unwrap();
        let r = check(&app, &owner, &a).await;
        r.assert_problem(500, "internal");
        assert!(!r.text.contains(&token) && !r.text.contains(&hex::encode(&tampered)));
    }

    async fn rotating_the_master_key_while_serving(app: TestApp) {
        let app = Arc::new(app);
        let owner = app.user("owner@example.com").await;
        let mut accounts = Vec::new();
        for i in 0..25 {
            let token = marker("MARKER");
            accounts.push((account_with_token(&app, &owner, &format!("@acc{i}"), &token).await, token));
        }
        let (secret, _) = enrol_totp(&app, &owner).await;
        let path = key_file(&app);
        let old_ring = Keyring::read_file(&path).unwrap().unwrap();
        let old_id = old_ring.primary().fingerprint();

        // Traffic throughout: checks (which open credentials) and new accounts, all must succeed.
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let traffic = {
            let (app, owner, stop, served) = (app.clone(), owner.clone(), stop.clone(), served.clone());
            let ids: Vec<String> = accounts.iter().map(|(id, _)| id.clone()).collect();
            tokio::spawn(async move {
                let mut created = Vec::new();
                let mut i = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let r = check(&app, &owner, &ids[i % ids.len()]).await;
                    assert_eq!(r.status, 200, "check during rotation: {}", r.text);
                    if i.is_multiple_of(5) {
                        created.push(account_with_token(&app, &owner, &format!("@during{i}"), &marker("MARKER")).await);
                    }
                    i += 1;
                    served.fetch_add(1, Ordering::Relaxed);
                }
                created
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let out = admin(&app, &["rotate-master-key", "--batch-size", "4"]).await;
        assert!(out.status.success(), "rotate: {}\n{}", out.stdout, out.stderr);
        assert!(out.stdout.contains("re-wrapped"), "{}", out.stdout);
        let ring = Keyring::read_file(&path).unwrap().unwrap();
        assert_eq!(ring.keys().len(), 2, "new key first, old key kept until --finish");
        let new_id = ring.primary().fingerprint();
        assert_ne!(new_id, old_id);
        assert_eq!(ring.keys()[1].fingerprint(), old_id);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let out = admin(&app, &["rotate-master-key", "--finish", "--batch-size", "4"]).await;
        assert!(out.status.success(), "finish: {}\n{}", out.stdout, out.stderr);
        assert!(out.stdout.contains("finished"), "{}", out.stdout);
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.store(true, Ordering::Relaxed);
        let created = traffic.await.expect("traffic ran without a failure");
        assert!(served.load(Ordering::Relaxed) > 10, "traffic kept flowing during the rotation");
        let ring = Keyring::read_file(&path).unwrap().unwrap();
        assert_eq!(ring.keys().len(), 1);
        assert_eq!(ring.primary().fingerprint(), new_id);

        // Every wrapped data key and the TOTP secret are under the new key now.
        let vault = app.state.vault();
        let all: Vec<String> = accounts.iter().map(|(id, _)| id.clone()).chain(created.iter().cloned()).collect();
        let old_only = Vault::from_keyring(&Keyring::from_keys(old_ring.into_keys()).unwrap());
        let new_only = Vault::load(&MasterKeySource::File(path.clone())).unwrap();
        for id in &all {
            let row = app.state.store.sealed_credential(&AccountId::new(id.to_string())).await.unwrap().unwrap();
            let wrapped = row.wrapped_data_key.unwrap();
            assert_eq!(vault.key_id_of(&wrapped), Some(new_id), "account {id} re-wrapped");
            assert!(old_only.unwrap(&AccountId::new(id.to_string()), &wrapped).is_err(), "the old key no longer opens account {id}");
            new_only.open_stored_credential(&AccountId::new(id.to_string()), Some(&wrapped), &row.credential_sealed.unwrap()).unwrap();
        }
        for (id, token) in &accounts {
            let row = app.state.store.sealed_credential(&AccountId::new(id.to_string())).await.unwrap().unwrap();
            let plain = new_only.open_stored_credential(&AccountId::new(id.to_string()), row.wrapped_data_key.as_deref(), &row.credential_sealed.unwrap()).unwrap();
            assert_eq!(serde_json::from_slice::<Value>(&plain).unwrap()["access_token"], token.as_str());
        }
        let user = app.state.store.user_by_email("owner@example.com").await.unwrap().unwrap();
        let totp = user.totp_secret_sealed.unwrap();
        assert_eq!(vault.key_id_of(&totp), Some(new_id));
        assert!(old_only.open(&format!("users:{}:totp", user.id), &totp).is_err());

        // The server that started with the old key, never restarted, still serves everything.
        for id in &all {
            assert_eq!(check(&app, &owner, id).await.status, 200);
        }
        app.clock.advance(Duration::from_secs(60));
        let login = app.post("/api/v1/auth/login")
            .json(json!({"email": "owner@example.com", "password": PASSWORD, "totp": totp_code(&secret, &app, 0)}))
            .send().await;
        assert_eq!(login.status, 200, "two-factor sign-in after the rotation: {}", login.text);
        let fresh = account_with_token(&app, &owner, "@after", &marker("MARKER")).await;
        let row = app.state.store.sealed_credential(&AccountId::new(fresh.to_string())).await.unwrap().unwrap();
        assert_eq!(vault.key_id_of(&row.wrapped_data_key.unwrap()), Some(new_id), "new accounts use the new key");

        // A second --finish has nothing to do; a restarted server works with the new file alone.
        let out = admin(&app, &["rotate-master-key", "--finish"]).await;
        assert!(out.status.success() && out.stdout.contains("nothing to finish"), "{}", out.stdout);
        for text in [&out.stdout, &out.stderr] {
            assert!(!text.contains(ring.primary().to_base64().as_str()), "no key is ever printed");
        }
    }
}

/// Enrols 2FA for a signed-in user; returns (base32 secret, recovery codes).
async fn enrol_totp(app: &TestApp, s: &Session) -> (String, Vec<Value>) {
    let r = app.post("/api/v1/me/totp").auth(s).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let r = app.post("/api/v1/me/totp/confirm").auth(s).json(json!({"code": totp_code(&secret, app, 0)})).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    (secret, r.body["recovery_codes"].as_array().unwrap().clone())
}

struct Output {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `steward admin <args>` against the test server's database and key file.
async fn admin(app: &TestApp, args: &[&str]) -> Output {
    admin_with(app, args, &[("STEWARD_MASTER_KEY_FILE", &key_file(app).display().to_string())]).await
}

async fn admin_with(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out = tokio::process::Command::new(BIN)
        .arg("admin")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("STEWARD_DATA_DIR", &app.state.settings.data_dir)
        .env("STEWARD_DATABASE_URL", &app.database_url)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("run steward admin");
    Output {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_master_key_cannot_be_rotated_in_place_and_says_how() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let inline = MasterKey::generate().to_base64();
    let out = admin_with(&app, &["rotate-master-key"], &[("STEWARD_MASTER_KEY", inline.as_str())]).await;
    assert!(!out.status.success());
    assert!(out.stderr.contains("STEWARD_MASTER_KEY_FILE"), "{}", out.stderr);
    assert!(!out.stderr.contains(inline.as_str()) && !out.stdout.contains(inline.as_str()), "the key is never printed");
    // And a missing key file is refused rather than created.
    let missing = app.state.settings.data_dir.join("nowhere.key");
    let out =
        admin_with(&app, &["rotate-master-key"], &[("STEWARD_MASTER_KEY_FILE", &missing.display().to_string())]).await;
    assert!(!out.status.success() && out.stderr.contains("no master key file"), "{}", out.stderr);
    assert!(!Path::new(&missing).exists());
}
