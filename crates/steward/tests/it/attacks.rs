//! The attack suite: each test is a way a collaborator, a token or a second server could get
//! around the owner's limits, named as the attack, and shows that it no longer works.
use std::process::Stdio;
use std::time::Duration;
use steward_domain::ids::{AccountId, PostId};

use reqwest::Method;
use serde_json::json;
use tokio::process::Command;

use crate::helpers::accounts::{invite, member, sandbox_account};
use crate::helpers::binary::{BIN, start};
use crate::helpers::oauth::with_connected_linkedin_member;
use crate::helpers::seed::insert_due_post;
use crate::helpers::{Backend, Session, TestApp, both_backends};

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
        assert_eq!(r.status, 401, "a session ended elsewhere is refused once its writer returned: {}", r.text);
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
            assert_eq!(r.status, 403, "the suspension written elsewhere applies once its writer returned: {}", r.text);
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
        // Giving the expired member time again needs a free seat: none is left now.
        let extend = |until: String| {
            app.req(Method::PATCH, &format!("/api/v1/accounts/{acc}/members/{}", temp.user_id))
                .auth(&owner)
                .json(json!({"expires_at": until}))
                .send()
        };
        let later = (app.clock.now() + jiff::SignedDuration::from_hours(24)).to_string();
        extend(later.clone()).await.assert_problem(409, "member-limit");
        let pending = r.body["id"].as_str().unwrap();
        let withdrawn = app.delete(&format!("/api/v1/accounts/{acc}/invitations/{pending}")).auth(&owner).send().await;
        assert_eq!(withdrawn.status, 204, "{}", withdrawn.text);
        let r = extend(later).await;
        assert_eq!(r.status, 200, "with the seat free again the owner may extend: {}", r.text);
    }
}

/// A post `author` drafted and submitted, the owner approved, and `scheduler` scheduled an hour
/// from now; its id.
async fn scheduled_by(app: &TestApp, owner: &Session, author: &Session, scheduler: &Session, account: &str) -> String {
    let r = app
        .post(&format!("/api/v1/accounts/{account}/posts"))
        .auth(author)
        .json(json!({"text": "Due soon"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let act = |s: &Session, what: &str, body: serde_json::Value| {
        app.post(&format!("/api/v1/posts/{id}/{what}")).auth(s).json(body).send()
    };
    assert_eq!(act(author, "submit", json!({})).await.status, 200);
    assert_eq!(act(owner, "approve", json!({"version": 1})).await.status, 200);
    let at = jiff::Timestamp::from_second(app.clock.now().as_second() + 3600).unwrap().to_string();
    let r = act(scheduler, "schedule", json!({"at": at})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    id
}

/// The post once the scheduler has settled it (no longer `scheduled`).
async fn settled(app: &TestApp, owner: &Session, id: &str) -> serde_json::Value {
    for _ in 0..300 {
        let r = app.get(&format!("/api/v1/posts/{id}")).auth(owner).send().await;
        if r.body["state"] != "scheduled" && r.body["state"] != "publishing" {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("post {id} was never settled");
}

both_backends! {
    async fn a_post_scheduled_by_an_admin_who_then_lost_the_right_is_not_published(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@held").await;
        let demoted = member(&app, &owner, &acc, "demoted@example.com", "admin").await;
        let removed = member(&app, &owner, &acc, "removed@example.com", "admin").await;
        let first = scheduled_by(&app, &owner, &demoted, &demoted, &acc).await;
        let second = scheduled_by(&app, &owner, &removed, &removed, &acc).await;
        let members = format!("/api/v1/accounts/{acc}/members");
        let r = app.req(Method::PATCH, &format!("{members}/{}", demoted.user_id)).auth(&owner).json(json!({"role": "editor"})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(app.delete(&format!("{members}/{}", removed.user_id)).auth(&owner).send().await.status, 204);

        app.clock.advance(Duration::from_secs(3601));
        for id in [&first, &second] {
            let p = settled(&app, &owner, id).await;
            assert_eq!(p["state"], "approved", "held, not published: {p}");
            assert_eq!(p["hold_reason"], "scheduler_lost_rights", "{p}");
            assert!(p["last_error"].as_str().unwrap().contains("may no longer publish"), "{p}");
        }
        assert!(app.state.store.sandbox_posts(&AccountId::new(acc.to_string())).await.unwrap().is_empty(), "nothing reached the platform");
        let alerts = app.get("/api/v1/alerts").auth(&owner).send().await;
        let held = alerts.body["items"].as_array().unwrap().iter().filter(|a| a["kind"] == "post_held").count();
        assert!(held >= 1, "the owner is told: {}", alerts.text);

        // Removing a member with `cancel_posts=true` cancels, at once, what they wrote or scheduled.
        let leaver = member(&app, &owner, &acc, "leaver@example.com", "admin").await;
        let scheduled = scheduled_by(&app, &owner, &leaver, &leaver, &acc).await;
        let r = app.post(&format!("/api/v1/accounts/{acc}/posts")).auth(&leaver).json(json!({"text": "A draft"})).send().await;
        let draft = r.body["id"].as_str().unwrap().to_string();
        let r = app.delete(&format!("{members}/{}?cancel_posts=true", leaver.user_id)).auth(&owner).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        for id in [&scheduled, &draft] {
            let p = app.get(&format!("/api/v1/posts/{id}")).auth(&owner).send().await;
            assert_eq!(p.body["state"], "cancelled", "{}", p.text);
        }
        let log = app.get(&format!("/api/v1/accounts/{acc}/activity?action=posts.cancel")).auth(&owner).send().await;
        assert_eq!(log.body["items"].as_array().unwrap().len(), 2, "one posts.cancel event each: {}", log.text);
    }
}

both_backends! {
    async fn an_invitation_made_before_a_lockdown_does_not_reopen_the_account(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@total").await;
        let admin = member(&app, &owner, &acc, "admin@example.com", "admin").await;
        let editor = member(&app, &owner, &acc, "editor@example.com", "editor").await;
        let base = format!("/api/v1/accounts/{acc}");
        // The admin prepares a way back in for an accomplice, then locks the account down.
        let sent = invite(&app, &admin, &acc, json!({"email": "accomplice@example.com", "role": "editor"})).await;
        assert_eq!(sent.status, 201, "{}", sent.text);
        let token = sent.body["token"].as_str().unwrap().to_string();
        let r = app.post(&format!("{base}/lockdown")).auth(&admin).json(json!({"disconnect_credential": true})).send().await;
        r.assert_problem(403, "forbidden");
        let r = app.post(&format!("{base}/lockdown")).auth(&admin).json(json!({})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);

        // Registering or accepting with it answers account-locked-down; nothing joins.
        let joined = app
            .post("/api/v1/auth/register")
            .json(json!({"email": "accomplice@example.com", "password": crate::helpers::PASSWORD, "display_name": "A", "invitation": token}))
            .send()
            .await;
        joined.assert_problem(409, "account-locked-down");
        let accomplice = app.user("accomplice@example.com").await;
        app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&accomplice).send().await.assert_problem(409, "account-locked-down");
        app.get(&base).auth(&accomplice).send().await.assert_problem(404, "not-found");
        // The withdrawal is on the record.
        let log = app.get(&format!("{base}/activity?action=members.invitation.withdraw")).auth(&owner).send().await;
        assert_eq!(log.body["items"].as_array().unwrap().len(), 1, "{}", log.text);
        // No new invitations, and only the owner changes memberships until the lockdown is lifted.
        invite(&app, &admin, &acc, json!({"email": "later@example.com", "role": "viewer"})).await.assert_problem(409, "account-locked-down");
        let reinstate = |by: &crate::helpers::Session, who: &str| {
            app.req(Method::PATCH, &format!("{base}/members/{who}")).auth(by).json(json!({"status": "active"})).send()
        };
        reinstate(&admin, &editor.user_id).await.assert_problem(409, "account-locked-down");
        assert_eq!(reinstate(&owner, &editor.user_id).await.status, 200);
    }

    async fn nobody_lifts_their_own_restrictions(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@self").await;
        let until = (app.clock.now() + jiff::SignedDuration::from_hours(48)).to_string();
        let windows = json!([{"days": ["mon"], "start": "09:00", "end": "10:00"}]);
        let body = json!({"email": "admin@example.com", "role": "admin", "expires_at": until, "windows": windows, "daily_quota": 1});
        let sent = invite(&app, &owner, &acc, body).await;
        assert_eq!(sent.status, 201, "{}", sent.text);
        let admin = app.user("admin@example.com").await;
        let token = sent.body["token"].as_str().unwrap();
        assert_eq!(app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&admin).send().await.status, 200);
        let mine = format!("/api/v1/accounts/{acc}/members/{}", admin.user_id);
        for change in [
            json!({"expires_at": null}),
            json!({"windows": []}),
            json!({"daily_quota": null}),
            json!({"grant": ["ownership.transfer"]}),
            json!({"status": "active"}),
        ] {
            let r = app.req(Method::PATCH, &mine).auth(&admin).json(change.clone()).send().await;
            r.assert_problem(403, "own-membership");
        }
        let kept = app.get(&format!("/api/v1/accounts/{acc}/members")).auth(&owner).send().await;
        let row = kept.body["items"].as_array().unwrap().iter().find(|m| m["user_id"] == admin.user_id.as_str()).cloned().unwrap();
        assert!(row["expires_at"].is_string() && row["daily_quota"] == 1, "{row}");
        // Nor does anyone grant what they do not hold: an admin cannot hand out the owner's powers.
        let editor = member(&app, &owner, &acc, "editor@example.com", "editor").await;
        let r = app
            .req(Method::PATCH, &format!("/api/v1/accounts/{acc}/members/{}", editor.user_id))
            .auth(&admin)
            .json(json!({"grant": ["credential.manage"]}))
            .send()
            .await;
        assert!(r.status == 422 || r.status == 403, "granting a capability one lacks is refused: {}", r.text);
    }
}

both_backends! {
    async fn a_post_on_one_account_cannot_carry_another_accounts_media(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let a = sandbox_account(&app, &owner, "@a").await;
        let b = sandbox_account(&app, &owner, "@b").await;
        let upload = app.post(&format!("/api/v1/accounts/{a}/media")).auth(&owner).body("image/gif", b"GIF89a-tiny".to_vec()).send().await;
        assert_eq!(upload.status, 201, "{}", upload.text);
        let media_id = upload.body["id"].as_str().unwrap();
        let base = app.state.settings.public_url.trim_end_matches('/').to_string();
        let own_url = format!("{base}/api/v1/accounts/{a}/media/{media_id}");
        // Named as account B's (the URL's account is not where the file lives), or as A's.
        let forged_url = format!("{base}/api/v1/accounts/{b}/media/{media_id}");
        for url in [&own_url, &forged_url] {
            let r = app
                .post(&format!("/api/v1/accounts/{b}/posts"))
                .auth(&owner)
                .json(json!({"text": "Borrowed", "media": [{"url": url, "kind": "image"}]}))
                .send()
                .await;
            r.assert_problem(422, "validation");
            assert!(r.text.contains("media[0].url"), "{}", r.text);
        }
        // On its own account the file is fine; an edit cannot smuggle it onto another post either.
        let ok = app.post(&format!("/api/v1/accounts/{a}/posts")).auth(&owner).json(json!({"text": "Mine", "media": [{"url": own_url, "kind": "image"}]})).send().await;
        assert_eq!(ok.status, 201, "{}", ok.text);
        let other = app.post(&format!("/api/v1/accounts/{b}/posts")).auth(&owner).json(json!({"text": "Plain"})).send().await;
        let id = other.body["id"].as_str().unwrap();
        let etag = other.header("etag").unwrap().to_string();
        let r = app
            .req(Method::PATCH, &format!("/api/v1/posts/{id}"))
            .auth(&owner)
            .header("if-match", &etag)
            .json(json!({"media": [{"url": own_url, "kind": "image"}]}))
            .send()
            .await;
        r.assert_problem(422, "validation");
    }
}

both_backends! {
    async fn a_narrowed_token_never_leaves_its_scope(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@scoped").await;
        let editor = member(&app, &owner, &acc, "editor@example.com", "editor").await;
        // Something on the editor's personal record: an alert and some activity.
        let r = app.post(&format!("/api/v1/accounts/{acc}/posts")).auth(&editor).json(json!({"text": "Mine"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let body = json!({"name": "drafting agent", "scopes": ["read", "write"], "accounts": [acc], "capabilities": ["drafts.create"]});
        let t = app.post("/api/v1/me/tokens").auth(&editor).json(body).send().await;
        assert_eq!(t.status, 201, "{}", t.text);
        let token = t.body["token"].as_str().unwrap().to_string();

        // What it was made for works.
        let r = app.post(&format!("/api/v1/accounts/{acc}/posts")).bearer(&token).json(json!({"text": "Drafted"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        // The person's own things do not: alerts, their activity everywhere, settings, leaving.
        app.get("/api/v1/alerts").bearer(&token).send().await.assert_problem(403, "forbidden");
        app.post("/api/v1/alerts/any/ack").bearer(&token).send().await.assert_problem(403, "forbidden");
        app.get("/api/v1/me/activity").bearer(&token).send().await.assert_problem(403, "forbidden");
        app.get("/api/v1/me/alert-preferences").bearer(&token).send().await.assert_problem(403, "forbidden");
        app.req(Method::PUT, "/api/v1/me/alert-preferences").bearer(&token).json(json!({})).send().await.assert_problem(403, "forbidden");
        app.post("/api/v1/me/alert-preferences/rotate-secret").bearer(&token).send().await.assert_problem(403, "forbidden");
        app.get("/api/v1/me/sessions").bearer(&token).send().await.assert_problem(403, "forbidden");
        app.get("/api/v1/me/tokens").bearer(&token).send().await.assert_problem(403, "forbidden");
        let leave = format!("/api/v1/accounts/{acc}/members/{}", editor.user_id);
        app.delete(&leave).bearer(&token).send().await.assert_problem(403, "forbidden");
        // Nor what its narrowing leaves out on the account.
        app.get(&format!("/api/v1/accounts/{acc}/activity")).bearer(&token).send().await.assert_problem(403, "forbidden");
        app.get(&format!("/api/v1/accounts/{acc}/members")).bearer(&token).send().await.assert_problem(403, "forbidden");
        // The editor is still a member, and their own session still reaches all of it.
        assert_eq!(app.get(&format!("/api/v1/accounts/{acc}")).auth(&editor).send().await.status, 200);
        assert_eq!(app.get("/api/v1/me/activity").auth(&editor).send().await.status, 200);
        assert_eq!(app.get("/api/v1/alerts").auth(&editor).send().await.status, 200);
    }
}

both_backends! {
    async fn an_admin_cannot_read_away_an_alert_about_themselves(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@watched").await;
        let admin = member(&app, &owner, &acc, "admin@example.com", "admin").await;
        // The admin changes the settings: the owner is alerted, and the admin can see the alert.
        let r = app.req(Method::PATCH, &format!("/api/v1/accounts/{acc}/settings")).auth(&admin).json(json!({"min_gap_minutes": 5})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let find = |body: &serde_json::Value| {
            body["items"].as_array().unwrap().iter().find(|a| a["kind"] == "settings_changed").cloned()
        };
        let seen = app.get("/api/v1/alerts").auth(&admin).send().await;
        let alert = find(&seen.body).unwrap_or_else(|| panic!("the admin sees the alert: {}", seen.text));
        let id = alert["id"].as_str().unwrap().to_string();
        assert_eq!(app.post(&format!("/api/v1/alerts/{id}/ack")).auth(&admin).send().await.status, 204);

        // Read for the admin only.
        let theirs = find(&app.get("/api/v1/alerts").auth(&admin).send().await.body).unwrap();
        assert!(theirs["acknowledged_at"].is_string(), "{theirs}");
        let unread = app.get("/api/v1/alerts?unacknowledged=true").auth(&owner).send().await;
        let owners = find(&unread.body).unwrap_or_else(|| panic!("still unread for the owner: {}", unread.text));
        assert!(owners["acknowledged_at"].is_null(), "{owners}");
        // And the owner sees who acknowledged it, and when.
        let by = owners["acknowledged_by"].as_array().unwrap();
        assert_eq!(by.len(), 1, "{owners}");
        assert_eq!((by[0]["user_id"].as_str(), by[0]["email"].as_str()), (Some(admin.user_id.as_str()), Some("admin@example.com")));
        assert!(by[0]["acknowledged_at"].is_string());
        assert!(theirs["acknowledged_by"].as_array().unwrap().is_empty(), "the admin does not see who acknowledged: {theirs}");

        assert_eq!(app.post(&format!("/api/v1/alerts/{id}/ack")).auth(&owner).send().await.status, 204);
        let after = find(&app.get("/api/v1/alerts").auth(&owner).send().await.body).unwrap();
        assert!(after["acknowledged_at"].is_string() && after["acknowledged_by"].as_array().unwrap().len() == 2, "{after}");
    }
}

both_backends! {
    async fn a_linkedin_member_profile_cannot_be_handed_to_a_collaborator(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        crate::helpers::seed::linkedin_member_account(&app, &owner.user_id, "li-member").await;
        let editor = member(&app, &owner, "li-member", "writer@example.com", "admin").await;
        let r = app
            .post("/api/v1/accounts/li-member/transfer")
            .auth(&owner)
            .json(json!({"to_user_id": editor.user_id, "password": crate::helpers::PASSWORD}))
            .send()
            .await;
        r.assert_problem(409, "member-profile-not-transferable");
        let account = app.get("/api/v1/accounts/li-member").auth(&owner).send().await;
        assert_eq!(account.body["owner_id"], owner.user_id.as_str(), "the profile stays its person's");
    }
}

/// What people write to break out of the page: a script, a redirect away, an attribute escape.
const SCRIPT: &str = "<script>alert(1)</script>";
const REFRESH: &str = "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\">";
const BREAKOUT: &str = "\"><img src=x onerror=alert(1)>";

/// Registers and signs in a person with the display name they chose.
async fn person(app: &TestApp, email: &str, display_name: &str) -> Session {
    let r = app
        .post("/api/v1/auth/register")
        .json(json!({"email": email, "password": crate::helpers::PASSWORD, "display_name": display_name}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    app.login(email).await
}

/// `who` joins `account` as `role` through an invitation from `by`.
async fn joins(app: &TestApp, by: &Session, account: &str, who: &Session, email: &str, role: &str) {
    let r = invite(app, by, account, json!({"email": email, "role": role})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.body["token"].as_str().unwrap();
    let r = app.post(&format!("/api/v1/invitations/{token}/accept")).auth(who).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A page as its viewer gets it (none: a visitor), checked: none of the payloads is markup,
/// and each of `shown` is there as text.
async fn shows_as_text(app: &TestApp, viewer: Option<&Session>, path: &str, shown: &[&str]) {
    let mut req = crate::helpers::html::browser().get(format!("{}{path}", app.base));
    if let Some(s) = viewer {
        req = req.header("cookie", s.cookie());
    }
    let r = req.send().await.unwrap();
    let csp = r.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let status = r.status().as_u16();
    let html = r.text().await.unwrap();
    assert_eq!(status, 200, "{path}: {html}");
    assert!(csp.split(';').any(|d| d.trim() == "form-action 'self'"), "{path}: forms post only to Steward: {csp}");
    for markup in ["<script>alert(1)", "<meta http-equiv", "<img src=x", "onerror=alert(1)>"] {
        assert!(!html.contains(markup), "{path} serves `{markup}` as markup:\n{html}");
    }
    // Askama writes `&#60;`, the server's own markup `&lt;`: both are text.
    let html = html.replace("&#60;", "&lt;").replace("&#62;", "&gt;").replace("&#34;", "&quot;");
    for text in shown {
        let escaped = match *text {
            SCRIPT => "&lt;script&gt;alert(1)&lt;/script&gt;",
            REFRESH => "&lt;meta http-equiv=",
            _ => "&gt;&lt;img src=x onerror=alert(1)&gt;",
        };
        assert!(html.contains(escaped), "{path} shows `{text}` as text (`{escaped}`):\n{html}");
    }
}

both_backends! {
    async fn text_a_person_wrote_is_text_on_every_page(app: TestApp) {
        let owner = person(&app, "owner@example.com", &format!("Olivia {REFRESH}")).await;
        let admin = person(&app, "admin@example.com", &format!("{SCRIPT} Ada {BREAKOUT}")).await;
        let editor = person(&app, "editor@example.com", &format!("Eddie {BREAKOUT}")).await;
        let r = app
            .post("/api/v1/accounts")
            .auth(&owner)
            .json(json!({"platform": "sandbox", "handle": format!("@shop{SCRIPT}"), "display_name": format!("{REFRESH}{BREAKOUT}"), "credentials": {}}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let acc = r.body["id"].as_str().unwrap().to_string();
        joins(&app, &owner, &acc, &admin, "admin@example.com", "admin").await;
        joins(&app, &owner, &acc, &editor, "editor@example.com", "editor").await;

        // Posts whose title and text carry every payload: one in review with a comment, one
        // approved and scheduled.
        let every = format!("{SCRIPT} {REFRESH} {BREAKOUT}");
        let post = |title: String| {
            app.post(&format!("/api/v1/accounts/{acc}/posts")).auth(&editor).json(json!({"title": title, "text": every})).send()
        };
        let act = |s: &Session, id: &str, what: &str, body: serde_json::Value| {
            app.post(&format!("/api/v1/posts/{id}/{what}")).auth(s).json(body).send()
        };
        let in_review = post(format!("Review {every}")).await.body["id"].as_str().unwrap().to_string();
        assert_eq!(act(&editor, &in_review, "submit", json!({})).await.status, 200);
        let r = act(&admin, &in_review, "comments", json!({"body": format!("Comment {every}")})).await;
        assert!(r.status == 200 || r.status == 201, "{}", r.text);
        let scheduled = post(format!("Due {every}")).await.body["id"].as_str().unwrap().to_string();
        assert_eq!(act(&editor, &scheduled, "submit", json!({})).await.status, 200);
        assert_eq!(act(&owner, &scheduled, "approve", json!({"version": 1})).await.status, 200);
        let at = jiff::Timestamp::from_second(app.clock.now().as_second() + 3600).unwrap().to_string();
        let r = act(&owner, &scheduled, "schedule", json!({"at": at})).await;
        assert_eq!(r.status, 200, "{}", r.text);

        // An invitation the admin sent, house rules the admin wrote (the owner gets an alert
        // naming the account), and a token the owner named.
        let sent = invite(&app, &admin, &acc, json!({"email": "guest@example.com", "role": "viewer"})).await;
        assert_eq!(sent.status, 201, "{}", sent.text);
        let token = sent.body["token"].as_str().unwrap();
        let r = app
            .req(Method::PATCH, &format!("/api/v1/accounts/{acc}/settings"))
            .auth(&admin)
            .json(json!({"rules_text": format!("Rules {every}")}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app.post("/api/v1/me/tokens").auth(&owner).json(json!({"name": format!("Token {BREAKOUT}"), "scopes": ["read"]})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);

        let all = [SCRIPT, REFRESH, BREAKOUT];
        shows_as_text(&app, Some(&owner), "/", &all).await;
        shows_as_text(&app, Some(&owner), &format!("/accounts/{acc}"), &all).await;
        shows_as_text(&app, Some(&editor), &format!("/accounts/{acc}"), &all).await;
        shows_as_text(&app, Some(&owner), &format!("/accounts/{acc}/settings"), &all).await;
        shows_as_text(&app, Some(&owner), &format!("/posts/{in_review}"), &all).await;
        shows_as_text(&app, Some(&owner), &format!("/posts/{scheduled}"), &all).await;
        shows_as_text(&app, Some(&owner), &format!("/accounts/{acc}/review"), &all).await;
        shows_as_text(&app, Some(&owner), &format!("/accounts/{acc}/calendar"), &all).await;
        shows_as_text(&app, Some(&owner), &format!("/accounts/{acc}/members"), &all).await;
        shows_as_text(&app, Some(&owner), &format!("/accounts/{acc}/members/{}", admin.user_id), &[SCRIPT, BREAKOUT]).await;
        shows_as_text(&app, Some(&owner), &format!("/accounts/{acc}/activity"), &all).await;
        shows_as_text(&app, Some(&admin), "/activity", &[SCRIPT, BREAKOUT]).await;
        shows_as_text(&app, Some(&owner), &format!("/accounts/{acc}/lockdown"), &all).await;
        shows_as_text(&app, Some(&owner), "/alerts", &all).await;
        shows_as_text(&app, Some(&owner), "/security", &all).await;
        shows_as_text(&app, None, &format!("/invite/{token}"), &all).await;
    }
}

both_backends! {
    async fn a_moderator_cannot_reply_in_a_members_name_without_them(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        crate::helpers::seed::linkedin_member_account(&app, &owner.user_id, "li-voice").await;
        let moderator = member(&app, &owner, "li-voice", "moderator@example.com", "moderator").await;
        let admin = member(&app, &owner, "li-voice", "admin@example.com", "admin").await;
        let r = app
            .post("/api/v1/accounts/li-voice/comments/urn:li:comment:1/reply")
            .auth(&moderator)
            .json(json!({"text": "Thanks, speaking for Olivia!"}))
            .send()
            .await;
        assert_eq!(r.status, 202, "kept as a draft for the owner: {}", r.text);
        assert_eq!((r.body["state"].as_str(), r.body["reply_to"].as_str()), (Some("in_review"), Some("urn:li:comment:1")));
        let draft = r.body["id"].as_str().unwrap().to_string();
        // Neither the moderator nor an admin can send it on: only the owner's approval does.
        app.post(&format!("/api/v1/posts/{draft}/approve")).auth(&moderator).json(json!({"version": 1})).send().await
            .assert_problem(403, "forbidden");
        app.post(&format!("/api/v1/posts/{draft}/publish-now")).auth(&moderator).send().await.assert_problem(403, "forbidden");
        let by_admin = app.post(&format!("/api/v1/posts/{draft}/approve")).auth(&admin).json(json!({"version": 1})).send().await;
        assert_eq!((by_admin.status, by_admin.body["state"].as_str()), (200, Some("in_review")), "{}", by_admin.text);
        app.post(&format!("/api/v1/posts/{draft}/publish-now")).auth(&admin).send().await.assert_problem(409, "conflict");
        let log = app.get("/api/v1/accounts/li-voice/activity?action=comments.reply").auth(&owner).send().await;
        let items = log.body["items"].as_array().unwrap();
        assert!(items.iter().all(|e| e["outcome"] == "denied"), "nothing went out: {}", log.text);
        let job = app.state.store.publish_job(&PostId::new(draft.to_string())).await.unwrap();
        assert!(job.is_none(), "nothing was handed to the scheduler: {job:?}");
    }
}

/// Waits (waking the scheduler) until `done` holds for the post.
async fn post_row_when(
    app: &TestApp,
    id: &str,
    done: impl Fn(&steward_store::PostRow) -> bool,
) -> steward_store::PostRow {
    for _ in 0..400 {
        let p = app.state.store.post(&PostId::new(id.to_string())).await.unwrap().unwrap();
        if done(&p) {
            return p;
        }
        app.state.scheduler.wake();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("post {id} never settled: {:?}", app.state.store.post(&PostId::new(id.to_string())).await.unwrap());
}

/// Gives the scheduler a few rounds, in which nothing should be due.
async fn scheduler_rounds(app: &TestApp) {
    for _ in 0..5 {
        steward_app::scheduler::run_once(&app.state).await.unwrap();
        app.state.scheduler.wake();
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
}

both_backends! {
    async fn a_moderator_reply_on_a_member_profile_waits_for_the_owner(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double, owner, account)) = with_connected_linkedin_member(backend).await else { return };
        let post = insert_due_post(&app.state.store, &account, &owner.user_id, "We are hiring", "[]", app.clock.now_us()).await;
        let urn = post_row_when(&app, &post, |p| p.state.as_str() == "published").await.external_id.unwrap();
        let fan = double.comment_from("urn:li:person:fan", &urn, None, "Congrats!").unwrap();
        let comment = format!("{urn}!{fan}");
        let moderator = member(&app, &owner, &account, "moderator@example.com", "moderator").await;
        let reply = |s: &Session, text: &str| {
            app.post(&format!("/api/v1/accounts/{account}/comments/{comment}/reply")).auth(s).json(json!({"text": text})).send()
        };
        let replies = || double.comments().into_iter().filter(|c| c.parent.as_deref() == Some(fan.as_str())).collect::<Vec<_>>();

        // The moderator's reply is a draft in review: nothing reaches LinkedIn.
        let r = reply(&moderator, "Thank you, glad you like it").await;
        assert_eq!(r.status, 202, "{}", r.text);
        assert_eq!((r.body["state"].as_str(), r.body["reply_to"].as_str()), (Some("in_review"), Some(comment.as_str())));
        let draft = r.body["id"].as_str().unwrap().to_string();
        let (_, html) = crate::helpers::html::page(&app, &owner, &format!("/posts/{draft}")).await;
        assert!(html.contains("A reply to") && html.contains("Thank you, glad you like it"), "the owner sees what they approve: {html}");
        scheduler_rounds(&app).await;
        assert!(replies().is_empty(), "not sent before the owner approves: {:?}", replies());

        // The owner approves it: it goes out once, as a reply to the comment, never as a post.
        let approved = app.post(&format!("/api/v1/posts/{draft}/approve")).auth(&owner).json(json!({"version": 1})).send().await;
        // Scheduled for now: the running worker may already have claimed it when the answer is read.
        assert_eq!(approved.status, 200, "{}", approved.text);
        assert!(matches!(approved.body["state"].as_str(), Some("scheduled" | "publishing" | "published")), "{}", approved.text);
        let sent = post_row_when(&app, &draft, |p| matches!(p.state.as_str(), "published" | "failed")).await;
        assert_eq!(sent.state.as_str(), "published", "{sent:?}");
        scheduler_rounds(&app).await;
        let out = replies();
        assert_eq!(out.len(), 1, "exactly once: {out:?}");
        assert_eq!((out[0].text.as_str(), out[0].object.as_str()), ("Thank you, glad you like it", urn.as_str()));
        assert_eq!(out[0].actor, double.posts()[0].author, "in the member's own name");
        assert_eq!(double.posts().len(), 1, "no new post");
        assert_eq!(sent.external_id.as_deref(), Some(format!("{urn}!{}", out[0].urn).as_str()));
        let creates = double.requests().iter().filter(|r| r.method == "POST" && r.path.contains("/comments")).count();
        assert_eq!(creates, 1, "one call to LinkedIn's comments API");

        // Sent back with changes, or cancelled, a draft never goes out.
        let second = reply(&moderator, "Second thoughts").await.body["id"].as_str().unwrap().to_string();
        let back = app.post(&format!("/api/v1/posts/{second}/request-changes")).auth(&owner).json(json!({"comment": "Not in my name"})).send().await;
        assert_eq!((back.status, back.body["state"].as_str()), (200, Some("draft")), "{}", back.text);
        let third = reply(&moderator, "Third try").await.body["id"].as_str().unwrap().to_string();
        let cancelled = app.post(&format!("/api/v1/posts/{third}/cancel")).auth(&owner).send().await;
        assert_eq!((cancelled.status, cancelled.body["state"].as_str()), (200, Some("cancelled")), "{}", cancelled.text);
        scheduler_rounds(&app).await;
        assert_eq!(replies().len(), 1, "refused drafts stay with Steward: {:?}", replies());

        // The owner's own reply still goes out at once.
        let own = reply(&owner, "Thanks from me").await;
        assert_eq!(own.status, 201, "{}", own.text);
        assert_eq!(replies().len(), 2);

        // The activity log has the moderator's submission and the owner's approval.
        let log = |action: &str| {
            let path = format!("/api/v1/accounts/{account}/activity?action={action}");
            let (app, owner) = (&app, &owner);
            async move { app.get(&path).auth(owner).send().await.body["items"].as_array().unwrap().clone() }
        };
        let target = format!("post:{draft}");
        let submits = log("posts.submit").await;
        assert!(submits.iter().any(|e| e["target"] == target && e["actor_id"] == moderator.user_id.as_str() && e["outcome"] == "allowed"), "{submits:?}");
        let approvals = log("posts.approve").await;
        assert!(approvals.iter().any(|e| e["target"] == target && e["actor_id"] == owner.user_id.as_str() && e["outcome"] == "allowed"), "{approvals:?}");
        let published = log("posts.published").await;
        assert_eq!(published.iter().filter(|e| e["target"] == target).count(), 1, "{published:?}");
    }
}

both_backends! {
    async fn a_lockdown_that_destroys_the_credential_is_still_a_lockdown(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@gone").await;
        let admin = member(&app, &owner, &acc, "admin@example.com", "admin").await;
        let editor = member(&app, &owner, &acc, "editor@example.com", "editor").await;
        let base = format!("/api/v1/accounts/{acc}");
        let r = app.post(&format!("{base}/lockdown")).auth(&owner).json(json!({"disconnect_credential": true})).send().await;
        assert_eq!((r.status, &r.body["credential_disconnected"]), (200, &json!(true)), "{}", r.text);
        assert_eq!(app.get(&base).auth(&owner).send().await.body["status"], "locked_down");
        // The owner lets one admin back in; that admin may not undo the rest of the lockdown.
        let reinstate = |by: &Session, who: &str| {
            app.req(Method::PATCH, &format!("{base}/members/{who}")).auth(by).json(json!({"status": "active"})).send()
        };
        assert_eq!(reinstate(&owner, &admin.user_id).await.status, 200);
        reinstate(&admin, &editor.user_id).await.assert_problem(409, "account-locked-down");
        invite(&app, &admin, &acc, json!({"email": "later@example.com", "role": "viewer"})).await.assert_problem(409, "account-locked-down");
        // Nor remove anyone (removing is a change of membership too)…
        app.delete(&format!("{base}/members/{}?cancel_posts=true", editor.user_id)).auth(&admin).send().await.assert_problem(409, "account-locked-down");
        let id = AccountId::new(acc.to_string());
        assert!(app.state.store.membership(&id, &steward_domain::ids::UserId::from(editor.user_id.as_str())).await.unwrap().is_some());
        // …but anyone may still leave.
        assert_eq!(app.delete(&format!("{base}/members/{}", admin.user_id)).auth(&admin).send().await.status, 204);
        // The owner lifts it: nothing to publish with until the account is connected again.
        let r = app.post(&format!("{base}/lockdown/lift")).auth(&owner).send().await;
        assert_eq!((r.status, r.body["status"].as_str()), (200, Some("disconnected")), "{}", r.text);
        // Even the sandbox then acts for it no more, as a real platform could not.
        let now = app.clock.now_us();
        let live = steward_store::NewSandboxPost { id: "sbx_old", account_id: &id, idempotency_key: "sbx_old", title: None, text: "Old", media: "[]", now };
        app.state.store.sandbox_publish(&live).await.unwrap();
        let comment = steward_app::platforms::sandbox::add_follower_comment(&app.state, &id, "sbx_old", "@fan", "Hi").await.unwrap().unwrap().id;
        let r = app.post(&format!("{base}/comments/{comment}/reply")).auth(&owner).json(json!({"text": "Hello"})).send().await;
        assert_eq!(r.status, 409, "{}", r.text);
        assert_eq!(app.state.store.sandbox_comments(&id).await.unwrap().len(), 1, "no reply went out");
    }

    async fn nothing_is_published_during_a_lockdown_not_even_a_reply(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@quiet").await;
        let id = AccountId::new(acc.to_string());
        let now = app.clock.now_us();
        let live = steward_store::NewSandboxPost { id: "sbx_live", account_id: &id, idempotency_key: "sbx_live", title: None, text: "Live", media: "[]", now };
        app.state.store.sandbox_publish(&live).await.unwrap();
        let comment = steward_app::platforms::sandbox::add_follower_comment(&app.state, &id, "sbx_live", "@fan", "Nice!").await.unwrap().unwrap().id;
        let base = format!("/api/v1/accounts/{acc}");
        assert_eq!(app.post(&format!("{base}/lockdown")).auth(&owner).json(json!({})).send().await.status, 200);
        let reply = || app.post(&format!("{base}/comments/{comment}/reply")).auth(&owner).json(json!({"text": "Thanks!"})).send();
        reply().await.assert_problem(409, "account-locked-down");
        assert_eq!(app.state.store.sandbox_comments(&id).await.unwrap().len(), 1, "no reply went out");
        assert_eq!(app.post(&format!("{base}/lockdown/lift")).auth(&owner).send().await.status, 200);
        let r = reply().await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(app.state.store.sandbox_comments(&id).await.unwrap().len(), 2);
    }
}

both_backends! {
    async fn a_token_narrowed_to_members_manage_manages_no_admins(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@hr").await;
        let editor = member(&app, &owner, &acc, "editor@example.com", "editor").await;
        let body = json!({"name": "hr", "scopes": ["read", "write"], "capabilities": ["account.view", "members.manage"]});
        let r = app.post("/api/v1/me/tokens").auth(&owner).json(body).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let hr = r.body["token"].as_str().unwrap().to_string();
        let base = format!("/api/v1/accounts/{acc}");
        let invite_as = |role: &str| {
            app.post(&format!("{base}/invitations")).bearer(&hr).json(json!({"email": format!("{role}@x.example"), "role": role})).send()
        };
        // Managing admins takes `admins.manage`, which the token was not given (the owner holds it).
        invite_as("admin").await.assert_problem(403, "forbidden");
        let promote = app.req(Method::PATCH, &format!("{base}/members/{}", editor.user_id)).bearer(&hr).json(json!({"role": "admin"})).send().await;
        promote.assert_problem(403, "forbidden");
        let r = invite_as("viewer").await;
        assert_eq!(r.status, 201, "what it was given still works: {}", r.text);
    }

    async fn nobody_hands_out_a_role_holding_what_they_lack(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@roles").await;
        let r = invite(&app, &owner, &acc, json!({"email": "lead@example.com", "role": "editor", "grant": ["members.manage"]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let lead = app.user("lead@example.com").await;
        let token = r.body["token"].as_str().unwrap();
        assert_eq!(app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&lead).send().await.status, 200);
        // A moderator replies to comments; the editor who manages members cannot, so may not make one.
        let r = invite(&app, &lead, &acc, json!({"email": "mod@example.com", "role": "moderator"})).await;
        r.assert_problem(422, "validation");
        assert!(r.text.contains("comments.reply"), "{}", r.text);
        // Revoking what they lack from the role is fine, as is a role within their own rights.
        let r = invite(&app, &lead, &acc, json!({"email": "mod@example.com", "role": "moderator", "revoke": ["comments.reply"]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let analyst = member(&app, &owner, &acc, "analyst@example.com", "analyst").await;
        let r = app.req(Method::PATCH, &format!("/api/v1/accounts/{acc}/members/{}", analyst.user_id)).auth(&lead).json(json!({"role": "moderator"})).send().await;
        r.assert_problem(422, "validation");
        // What a member already holds is not handed out again: the lead still suspends and
        // reinstates a moderator the owner made.
        let moderator = member(&app, &owner, &acc, "moderator@example.com", "moderator").await;
        for status in ["suspended", "active"] {
            let r = app.req(Method::PATCH, &format!("/api/v1/accounts/{acc}/members/{}", moderator.user_id)).auth(&lead).json(json!({"status": status})).send().await;
            assert_eq!(r.status, 200, "{status}: {}", r.text);
        }
    }

    async fn an_invitation_opens_nothing_once_its_sender_may_not(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@sent").await;
        let admin = member(&app, &owner, &acc, "admin@example.com", "admin").await;
        // The admin invites a friend, and is then removed before the friend accepts.
        let r = invite(&app, &admin, &acc, json!({"email": "friend@example.com", "role": "editor"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let token = r.body["token"].as_str().unwrap().to_string();
        let r = app.delete(&format!("/api/v1/accounts/{acc}/members/{}", admin.user_id)).auth(&owner).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        let friend = app.user("friend@example.com").await;
        app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&friend).send().await.assert_problem(409, "conflict");
        app.get(&format!("/api/v1/accounts/{acc}")).auth(&friend).send().await.assert_problem(404, "not-found");
        let log = app.get(&format!("/api/v1/accounts/{acc}/activity?action=members.invitation.withdraw")).auth(&owner).send().await;
        assert_eq!(log.body["items"].as_array().unwrap().len(), 1, "withdrawn with its sender: {}", log.text);
        // A sender who may no longer add members (made an editor): the invitation opens nothing,
        // until the owner sends it again and so vouches for it.
        let admin2 = member(&app, &owner, &acc, "admin2@example.com", "admin").await;
        let r = invite(&app, &admin2, &acc, json!({"email": "friend2@example.com", "role": "viewer"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let (inv, old) = (r.body["id"].as_str().unwrap().to_string(), r.body["token"].as_str().unwrap().to_string());
        let r = app.req(Method::PATCH, &format!("/api/v1/accounts/{acc}/members/{}", admin2.user_id)).auth(&owner).json(json!({"role": "editor"})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let friend2 = app.user("friend2@example.com").await;
        app.post(&format!("/api/v1/invitations/{old}/accept")).auth(&friend2).send().await.assert_problem(409, "conflict");
        let r = app.post(&format!("/api/v1/accounts/{acc}/invitations/{inv}/resend")).auth(&owner).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let new = r.body["token"].as_str().or_else(|| r.body["invite_url"].as_str().and_then(|u| u.rsplit('/').next())).unwrap().to_string();
        let r = app.post(&format!("/api/v1/invitations/{new}/accept")).auth(&friend2).send().await;
        assert_eq!(r.status, 200, "the owner's resend vouches for it: {}", r.text);
        // A sender suspended by the time the invitation is answered: refused; reinstated by the
        // owner, the sender vouches for it again (the sender is checked as they are at acceptance).
        let seats = app.req(Method::PATCH, &format!("/api/v1/accounts/{acc}/settings")).auth(&owner).json(json!({"max_members": 20}));
        assert_eq!(seats.send().await.status, 200);
        let admin3 = member(&app, &owner, &acc, "admin3@example.com", "admin").await;
        let r = invite(&app, &admin3, &acc, json!({"email": "friend3@example.com", "role": "viewer"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let token3 = r.body["token"].as_str().unwrap().to_string();
        let set_status = |status: &'static str| {
            app.req(Method::PATCH, &format!("/api/v1/accounts/{acc}/members/{}", admin3.user_id))
                .auth(&owner)
                .json(json!({"status": status}))
                .send()
        };
        assert_eq!(set_status("suspended").await.status, 200);
        let friend3 = app.user("friend3@example.com").await;
        let r = app.post(&format!("/api/v1/invitations/{token3}/accept")).auth(&friend3).send().await;
        r.assert_problem(409, "conflict");
        assert!(r.text.contains("may no longer add"), "refused for its sender: {}", r.text);
        app.get(&format!("/api/v1/accounts/{acc}")).auth(&friend3).send().await.assert_problem(404, "not-found");
        assert_eq!(set_status("active").await.status, 200);
        let r = app.post(&format!("/api/v1/invitations/{token3}/accept")).auth(&friend3).send().await;
        assert_eq!(r.status, 200, "reinstated, the sender vouches for it again: {}", r.text);
        // A sender whose membership ran out before the invitation was answered: refused.
        let until = (app.clock.now() + jiff::SignedDuration::from_hours(1)).to_string();
        let r = invite(&app, &owner, &acc, json!({"email": "admin4@example.com", "role": "admin", "expires_at": until})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let admin4 = app.user("admin4@example.com").await;
        let joined = app.post(&format!("/api/v1/invitations/{}/accept", r.body["token"].as_str().unwrap())).auth(&admin4).send().await;
        assert_eq!(joined.status, 200, "{}", joined.text);
        let r = invite(&app, &admin4, &acc, json!({"email": "friend4@example.com", "role": "viewer"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let token4 = r.body["token"].as_str().unwrap().to_string();
        app.clock.advance(Duration::from_secs(2 * 3600));
        let friend4 = app.user("friend4@example.com").await;
        let r = app.post(&format!("/api/v1/invitations/{token4}/accept")).auth(&friend4).send().await;
        r.assert_problem(409, "conflict");
        assert!(r.text.contains("may no longer add"), "refused for its sender: {}", r.text);
        app.get(&format!("/api/v1/accounts/{acc}")).auth(&friend4).send().await.assert_problem(404, "not-found");
        // The sweeper that removes the expired membership withdraws its invitations with it, so
        // they hold no seat.
        let withdrawn = |app: &TestApp| {
            let path = format!("/api/v1/accounts/{acc}/activity?action=members.invitation.withdraw");
            let req = app.get(&path).auth(&owner);
            async move { req.send().await.body["items"].as_array().unwrap().len() }
        };
        let before = withdrawn(&app).await;
        assert_eq!(steward_app::sweeper::sweep_expired_memberships(&app.state).await.unwrap(), 1);
        assert_eq!(withdrawn(&app).await, before + 1, "the expired sender's invitation is withdrawn");
        let pending = app.get(&format!("/api/v1/accounts/{acc}/invitations")).auth(&owner).send().await;
        assert!(!pending.text.contains("friend4@example.com"), "{}", pending.text);
    }
}

both_backends! {
    async fn house_rules_are_agreed_to_by_the_person_not_by_a_token(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@rules").await;
        let editor = member(&app, &owner, &acc, "editor@example.com", "editor").await;
        let r = app.req(Method::PATCH, &format!("/api/v1/accounts/{acc}/settings")).auth(&owner).json(json!({"rules_text": "Nothing about clients."})).send().await;
        assert_eq!(r.body["rules"]["version"], 1, "{}", r.text);
        // A token that may only read the account, and one that may do everything the editor may.
        let token = |body: serde_json::Value| async {
            let r = app.post("/api/v1/me/tokens").auth(&editor).json(body).send().await;
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["token"].as_str().unwrap().to_string()
        };
        let reader = token(json!({"name": "reader", "scopes": ["read", "write"], "accounts": [acc.as_str()], "capabilities": ["account.view"]})).await;
        let whole = token(json!({"name": "whole", "scopes": ["read", "write"]})).await;
        for t in [&reader, &whole] {
            let r = app.post(&format!("/api/v1/accounts/{acc}/rules/accept")).bearer(t).json(json!({"version": 1})).send().await;
            r.assert_problem(403, "forbidden");
            assert!(r.text.contains("signed in"), "{}", r.text);
        }
        // Nothing was accepted: the editor's session and tokens are still held at the rules.
        app.get(&format!("/api/v1/accounts/{acc}/members")).auth(&editor).send().await.assert_problem(403, "rules-not-accepted");
        app.get(&format!("/api/v1/accounts/{acc}/members")).bearer(&whole).send().await.assert_problem(403, "rules-not-accepted");
        let r = app.post(&format!("/api/v1/accounts/{acc}/rules/accept")).auth(&editor).json(json!({"version": 1})).send().await;
        assert_eq!(r.status, 204, "signed in, the editor agrees: {}", r.text);
        assert_eq!(app.get(&format!("/api/v1/accounts/{acc}/members")).bearer(&whole).send().await.status, 200);
    }

    async fn an_admin_tightens_the_limits_on_members_but_never_loosens_them(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@policy").await;
        let admin = member(&app, &owner, &acc, "admin@example.com", "admin").await;
        let settings = |by: &Session, body: serde_json::Value| {
            app.req(Method::PATCH, &format!("/api/v1/accounts/{acc}/settings")).auth(by).json(body).send()
        };
        // The way round the approval policy: allow approving one's own posts, approve, publish.
        let r = settings(&admin, json!({"admins_may_approve_own": true})).await;
        r.assert_problem(403, "forbidden");
        assert!(r.text.contains("admins_may_approve_own"), "{}", r.text);
        assert_eq!(settings(&admin, json!({"approvals_required": 2})).await.status, 200, "tightening is fine");
        settings(&admin, json!({"approvals_required": 1})).await.assert_problem(403, "forbidden");
        assert_eq!(settings(&owner, json!({"max_devices_per_member": 2})).await.status, 200);
        settings(&admin, json!({"max_devices_per_member": null})).await.assert_problem(403, "forbidden");
        settings(&admin, json!({"max_members": 20})).await.assert_problem(403, "forbidden");
        assert_eq!(settings(&admin, json!({"max_devices_per_member": 1, "min_gap_minutes": 5})).await.status, 200);
        let a = app.get(&format!("/api/v1/accounts/{acc}")).auth(&owner).send().await.body;
        assert_eq!((a["settings"]["approvals_required"].as_i64(), a["settings"]["admins_may_approve_own"].as_bool()), (Some(2), Some(false)));
        // The owner loosens them.
        assert_eq!(settings(&owner, json!({"approvals_required": 1, "admins_may_approve_own": true, "max_devices_per_member": null})).await.status, 200);
    }
}
