//! The attack suite: each test is a way a collaborator, a token or a second server could get
//! around the owner's limits, named as the attack, and shows that it no longer works.
use std::process::Stdio;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use tokio::process::Command;

use crate::helpers::accounts::{invite, sandbox_account};
use crate::helpers::binary::{BIN, start};
use crate::helpers::{Backend, both_backends};

both_backends! {
    async fn a_session_ended_by_another_process_is_not_served_from_the_cache(app: TestApp) {
        let s = app.user("victim@example.com").await;
        // Twice, so the second answer may come from the server's read cache.
        for _ in 0..2 {
            assert_eq!(app.get("/api/v1/me").auth(&s).send().await.status, 200);
        }
        // Another process (an operator's tool, an admin command) ends the session in the file.
        app.raw_sql(&format!("UPDATE sessions SET revoked_at = 1 WHERE id = '{}'", s.session_id)).await;
        let r = app.get("/api/v1/me").auth(&s).send().await;
        assert_eq!(r.status, 401, "a session ended elsewhere is refused at once: {}", r.text);
        if app.backend == Backend::Sqlite {
            // And a membership removed elsewhere is not served from the cache either.
            let owner = app.user("owner@example.com").await;
            let account = sandbox_account(&app, &owner, "@cached").await;
            let path = format!("/api/v1/accounts/{account}");
            for _ in 0..2 {
                assert_eq!(app.get(&path).auth(&owner).send().await.status, 200);
            }
            app.raw_sql(&format!("UPDATE memberships SET status = 'suspended', role = 'viewer' WHERE account_id = '{account}'"))
                .await;
            let r = app.get(&path).auth(&owner).send().await;
            assert_eq!(r.status, 403, "the suspension written elsewhere applies at once: {}", r.text);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_sqlite_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(&["serve"], dir.path(), &[]).await;
    let second = Command::new(BIN)
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("STEWARD_LISTEN", "127.0.0.1:0")
        .env("STEWARD_DATA_DIR", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), second).await.expect("the second server stops").unwrap();
    assert!(!out.status.success(), "the second server must not serve the same file");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let pid = std::fs::read_to_string(dir.path().join("steward.db.lock")).unwrap();
    assert!(
        said.contains("another Steward server") && said.contains(&format!("process {}", pid.trim())),
        "it names the server that holds the file: {said}"
    );
    // The first one still serves, and after it stops the file is free again.
    assert!(reqwest::get(format!("{}/healthz", first.base)).await.unwrap().status().is_success());
    first.terminate().await;
    let again = start(&["serve"], dir.path(), &[]).await;
    again.terminate().await;
}

both_backends! {
    async fn an_expired_membership_frees_its_seat_at_its_expiry(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@seats").await;
        let settings = app.req(Method::PATCH, &format!("/api/v1/accounts/{acc}/settings")).auth(&owner);
        assert_eq!(settings.json(json!({"max_members": 2})).send().await.status, 200);
        let until = (app.clock.now() + jiff::SignedDuration::from_hours(1)).to_string();
        let invited = invite(&app, &owner, &acc, json!({"email": "temp@example.com", "role": "editor", "expires_at": until})).await;
        assert_eq!(invited.status, 201, "{}", invited.text);
        let temp = app.user("temp@example.com").await;
        let token = invited.body["token"].as_str().unwrap();
        assert_eq!(app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&temp).send().await.status, 200);
        invite(&app, &owner, &acc, json!({"email": "next@example.com", "role": "viewer"})).await.assert_problem(409, "member-limit");
        // An hour later the editor's time is up; the sweeper has not run, the seat is free anyway.
        app.clock.advance(Duration::from_secs(3600));
        let r = invite(&app, &owner, &acc, json!({"email": "next@example.com", "role": "viewer"})).await;
        assert_eq!(r.status, 201, "the expired membership no longer holds a seat: {}", r.text);
    }
}
