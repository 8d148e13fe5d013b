//! Accounts, invitations, members and their limits.
use std::time::Duration;

use serde_json::{Value, json};
use steward_app::config::SignupMode;

use crate::helpers::accounts::{invite, member, sandbox_account};
use crate::helpers::*;

fn path(account: &str, rest: &str) -> String {
    format!("/api/v1/accounts/{account}{rest}")
}

both_backends! {
    async fn an_owner_connects_a_sandbox_account(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let r = app.post("/api/v1/accounts").auth(&owner)
            .json(json!({"platform": "sandbox", "handle": "@olivia", "time_zone": "europe/paris", "credentials": {"api_key": "sandbox-secret-123"}}))
            .send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let a = &r.body;
        assert_eq!((a["platform"].as_str(), a["account_kind"].as_str(), a["my_role"].as_str()), (Some("sandbox"), Some("creator"), Some("owner")));
        assert_eq!(a["owner_id"], owner.user_id.as_str());
        assert_eq!(a["time_zone"], "Europe/Paris");
        assert_eq!(a["settings"]["max_members"], 5);
        assert_eq!(a["my_capabilities"].as_array().unwrap().len(), 15);
        assert_eq!(a["status"], "active");
        assert!(!r.text.contains("sandbox-secret-123"), "credentials are never returned");
        let list = app.get("/api/v1/accounts").auth(&owner).send().await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
        let platforms = app.get("/api/v1/platforms").auth(&owner).send().await;
        let tiktok = platforms.body["items"].as_array().unwrap().iter().find(|p| p["id"] == "tiktok").unwrap();
        assert_eq!(tiktok["account_kinds"][0]["default_max_members"], 5);
        assert_eq!(tiktok["connect"], "oauth");
        for (body, field) in [
            (json!({"platform": "myspace", "handle": "x", "credentials": {}}), "platform"),
            (json!({"platform": "tiktok", "handle": "x", "credentials": {}}), "platform"),
            (json!({"platform": "sandbox", "account_kind": "page", "handle": "x", "credentials": {}}), "account_kind"),
            (json!({"platform": "sandbox", "handle": "", "credentials": {}}), "handle"),
            (json!({"platform": "sandbox", "handle": "x", "time_zone": "Mars/Olympus", "credentials": {}}), "time_zone"),
            (json!({"platform": "sandbox", "handle": "x", "credentials": "plain"}), "credentials"),
        ] {
            let r = app.post("/api/v1/accounts").auth(&owner).json(body).send().await;
            r.assert_problem(422, "validation");
            assert_eq!(r.body["errors"][0]["field"], field, "{}", r.text);
        }
        assert_eq!(app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().len(), 1);
    }

    async fn invitations_are_single_use_bound_to_email_and_expire(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@o").await;
        let r = invite(&app, &owner, &acc, json!({"email": "Eddie@Example.com", "role": "editor"})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let token = r.body["token"].as_str().unwrap().to_string();
        assert_eq!(r.body["invite_url"], format!("{}/invite/{token}", app.state.settings.public_url));
        let expires: jiff::Timestamp = r.body["expires_at"].as_str().unwrap().parse().unwrap();
        let days = (expires - app.clock.now()).get_seconds() as f64 / 86400.0;
        assert!((6.99..=7.01).contains(&days), "default validity is 7 days, got {days}");
        let listed = app.get(&path(&acc, "/invitations")).auth(&owner).send().await;
        assert_eq!(listed.body["items"][0]["email"], "eddie@example.com");
        assert!(!listed.text.contains(&token), "tokens are shown only at creation");

        let mallory = app.user("mallory@example.com").await;
        app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&mallory).send().await.assert_problem(403, "forbidden");
        let eddie = app.user("eddie@example.com").await;
        let ok = app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&eddie).send().await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        assert_eq!(ok.body["role"], "editor");
        assert_eq!(ok.body["capabilities"], json!(["account.view", "analytics.view", "drafts.create", "review.comment"]));
        app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&eddie).send().await.assert_problem(409, "conflict");
        app.post("/api/v1/invitations/sti_not-a-token/accept").auth(&eddie).send().await.assert_problem(404, "not-found");
        assert_eq!(app.get(&path(&acc, "")).auth(&eddie).send().await.body["my_role"], "editor");

        // Expired and withdrawn invitations cannot be used.
        let late = invite(&app, &owner, &acc, json!({"email": "late@example.com", "role": "viewer"})).await;
        let gone = invite(&app, &owner, &acc, json!({"email": "gone@example.com", "role": "viewer"})).await;
        let gone_id = gone.body["id"].as_str().unwrap();
        assert_eq!(app.delete(&path(&acc, &format!("/invitations/{gone_id}"))).auth(&owner).send().await.status, 204);
        let g = app.user("gone@example.com").await;
        app.post(&format!("/api/v1/invitations/{}/accept", gone.body["token"].as_str().unwrap())).auth(&g).send().await.assert_problem(409, "conflict");
        app.clock.advance(Duration::from_secs(7 * 86400 + 1));
        let l = app.user("late@example.com").await;
        app.post(&format!("/api/v1/invitations/{}/accept", late.body["token"].as_str().unwrap())).auth(&l).send().await.assert_problem(409, "conflict");
        // (A week passed: the owner's session idled out too.)
        let owner = app.login("owner@example.com").await;
        assert!(app.get(&path(&acc, "/invitations")).auth(&owner).send().await.body["items"].as_array().unwrap().is_empty());
    }

    async fn the_member_limit_counts_pending_invitations(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@o").await;
        let mut ids = Vec::new();
        for i in 0..4 {
            let r = invite(&app, &owner, &acc, json!({"email": format!("p{i}@example.com"), "role": "viewer"})).await;
            assert_eq!(r.status, 201, "{}", r.text);
            ids.push(r.body["id"].as_str().unwrap().to_string());
        }
        let full = invite(&app, &owner, &acc, json!({"email": "fifth@example.com", "role": "viewer"})).await;
        full.assert_problem(409, "member-limit");
        let low = app.req(reqwest::Method::PATCH, &path(&acc, "/settings")).auth(&owner).json(json!({"max_members": 3})).send().await;
        low.assert_problem(422, "validation");
        app.delete(&path(&acc, &format!("/invitations/{}", ids[0]))).auth(&owner).send().await;
        assert_eq!(invite(&app, &owner, &acc, json!({"email": "fifth@example.com", "role": "viewer"})).await.status, 201);
        // Duplicate invitations and inviting members are conflicts, not seats.
        invite(&app, &owner, &acc, json!({"email": "p1@example.com", "role": "viewer"})).await.assert_problem(409, "conflict");
        invite(&app, &owner, &acc, json!({"email": "owner@example.com", "role": "viewer"})).await.assert_problem(409, "conflict");
    }

    async fn exactly_one_racer_wins_the_last_seat(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@o").await;
        let r = app.req(reqwest::Method::PATCH, &path(&acc, "/settings")).auth(&owner).json(json!({"max_members": 2})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let attempts = (0..8).map(|i| invite(&app, &owner, &acc, json!({"email": format!("racer{i}@example.com"), "role": "viewer"})));
        let results = futures_join_all(attempts).await;
        let statuses: Vec<u16> = results.iter().map(|r| r.status).collect();
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
        // Two devices accepting the same invitation at once: one membership.
        let winner = results.iter().find(|r| r.status == 201).unwrap();
        let email = winner.body["email"].as_str().unwrap();
        let s = app.user(email).await;
        let token = winner.body["token"].as_str().unwrap();
        let accepts = (0..4).map(|_| app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&s).send());
        let accepted: Vec<u16> = futures_join_all(accepts).await.iter().map(|r| r.status).collect();
        assert_eq!(accepted.iter().filter(|s| **s == 200).count(), 1, "{accepted:?}");
        let members = app.get(&path(&acc, "/members")).auth(&owner).send().await;
        assert_eq!(members.body["items"].as_array().unwrap().len(), 2);
    }

    async fn admins_manage_members_but_never_admins_or_the_owner(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@o").await;
        let admin = member(&app, &owner, &acc, "admin@example.com", "admin").await;
        let editor = member(&app, &owner, &acc, "editor@example.com", "editor").await;
        invite(&app, &admin, &acc, json!({"email": "a2@example.com", "role": "admin"})).await.assert_problem(403, "forbidden");
        assert_eq!(invite(&app, &admin, &acc, json!({"email": "v@example.com", "role": "viewer"})).await.status, 201);
        invite(&app, &editor, &acc, json!({"email": "v2@example.com", "role": "viewer"})).await.assert_problem(403, "forbidden");
        let patch = |who: &Session, user: &str, body: Value| app.req(reqwest::Method::PATCH, &path(&acc, &format!("/members/{user}"))).auth(who).json(body).send();
        patch(&admin, &editor.user_id, json!({"role": "admin"})).await.assert_problem(403, "forbidden");
        patch(&admin, &owner.user_id, json!({"role": "viewer"})).await.assert_problem(403, "forbidden");
        app.delete(&path(&acc, &format!("/members/{}", owner.user_id))).auth(&admin).send().await.assert_problem(403, "forbidden");
        app.delete(&path(&acc, &format!("/members/{}", owner.user_id))).auth(&owner).send().await.assert_problem(409, "conflict");
        // An admin may not grant what they lack, nor anyone owner-only rights.
        let r = patch(&admin, &editor.user_id, json!({"grant": ["credential.manage"]})).await;
        r.assert_problem(422, "validation");
        let r = patch(&owner, &editor.user_id, json!({"grant": ["posts.publish"], "revoke": ["analytics.view"]})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["capabilities"], json!(["account.view", "drafts.create", "posts.publish", "review.comment"]));
        let r = patch(&admin, &editor.user_id, json!({"role": "moderator"})).await;
        assert_eq!((r.status, r.body["role"].as_str()), (200, Some("moderator")), "{}", r.text);
        patch(&owner, &editor.user_id, json!({"role": "owner"})).await.assert_problem(422, "validation");
        // A member may leave on their own.
        assert_eq!(app.delete(&path(&acc, &format!("/members/{}", editor.user_id))).auth(&editor).send().await.status, 204);
        app.get(&path(&acc, "")).auth(&editor).send().await.assert_problem(404, "not-found");
    }

    async fn revocation_applies_to_the_very_next_request(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@o").await;
        let admin = member(&app, &owner, &acc, "admin@example.com", "admin").await;
        assert_eq!(app.get(&path(&acc, "/invitations")).auth(&admin).send().await.status, 200);
        let r = app.req(reqwest::Method::PATCH, &path(&acc, &format!("/members/{}", admin.user_id))).auth(&owner).json(json!({"role": "editor"})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        app.get(&path(&acc, "/invitations")).auth(&admin).send().await.assert_problem(403, "forbidden");
        let r = app.req(reqwest::Method::PATCH, &path(&acc, &format!("/members/{}", admin.user_id))).auth(&owner).json(json!({"status": "suspended"})).send().await;
        assert_eq!(r.body["status"], "suspended");
        app.get(&path(&acc, "/members")).auth(&admin).send().await.assert_problem(403, "forbidden");
        let r = app.req(reqwest::Method::PATCH, &path(&acc, &format!("/members/{}", admin.user_id))).auth(&owner).json(json!({"status": "active"})).send().await;
        assert_eq!(r.body["status"], "active");
        assert_eq!(app.get(&path(&acc, "/members")).auth(&admin).send().await.status, 200);
        assert_eq!(app.delete(&path(&acc, &format!("/members/{}", admin.user_id))).auth(&owner).send().await.status, 204);
        app.get(&path(&acc, "")).auth(&admin).send().await.assert_problem(404, "not-found");
        assert!(app.get("/api/v1/accounts").auth(&admin).send().await.body["items"].as_array().unwrap().is_empty());
    }

    async fn access_ends_at_expiry_and_the_sweeper_removes_it(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@o").await;
        let until = (app.clock.now() + jiff::SignedDuration::from_hours(2)).to_string();
        let r = invite(&app, &owner, &acc, json!({"email": "temp@example.com", "role": "editor", "expires_at": until})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let temp = app.user("temp@example.com").await;
        app.post(&format!("/api/v1/invitations/{}/accept", r.body["token"].as_str().unwrap())).auth(&temp).send().await;
        assert_eq!(app.get(&path(&acc, "/members")).auth(&temp).send().await.status, 200);
        app.clock.advance(Duration::from_secs(2 * 3600));
        app.get(&path(&acc, "/members")).auth(&temp).send().await.assert_problem(403, "forbidden");
        let listed = app.get(&path(&acc, "/members")).auth(&owner).send().await;
        let row = listed.body["items"].as_array().unwrap().iter().find(|m| m["user_id"] == temp.user_id.as_str()).cloned().unwrap();
        assert_eq!(row["status"], "expired");
        assert_eq!(row["capabilities"], json!([]));
        let removed = steward_app::sweeper::sweep_expired_memberships(&app.state).await.unwrap();
        assert_eq!(removed, 1);
        app.get(&path(&acc, "")).auth(&temp).send().await.assert_problem(404, "not-found");
        let events = app.state.store.audit_events_after(0, 1000).await.unwrap();
        let expiry = events.iter().find(|e| e.action == "members.expire").expect("expiry recorded");
        assert_eq!(expiry.account_id.as_deref(), Some(acc.as_str()));
        assert_eq!(expiry.target.as_deref(), Some(format!("user:{}", temp.user_id).as_str()));
    }

    async fn windows_and_quotas_are_validated_and_stored(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@o").await;
        let bad = invite(&app, &owner, &acc, json!({"email": "w@example.com", "role": "editor", "daily_quota": 0,
            "windows": [{"days": ["mon", "funday"], "start": "09:00", "end": "8:00"}, {"days": [], "start": "10:00", "end": "09:00"}]})).await;
        bad.assert_problem(422, "validation");
        let fields: Vec<&str> = bad.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        for f in ["windows[0].days[1]", "windows[0].end", "windows[1].days", "daily_quota"] {
            assert!(fields.contains(&f), "{f} not in {fields:?}");
        }
        let windows = json!([{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:30"}]);
        let ok = invite(&app, &owner, &acc, json!({"email": "w@example.com", "role": "editor", "daily_quota": 3, "windows": windows})).await;
        assert_eq!(ok.status, 201, "{}", ok.text);
        let w = app.user("w@example.com").await;
        app.post(&format!("/api/v1/invitations/{}/accept", ok.body["token"].as_str().unwrap())).auth(&w).send().await;
        let r = app.req(reqwest::Method::PATCH, &path(&acc, "/settings")).auth(&owner).json(json!({"time_zone": "America/New_York"})).send().await;
        assert_eq!(r.body["time_zone"], "America/New_York");
        let members = app.get(&path(&acc, "/members")).auth(&owner).send().await;
        let row = members.body["items"].as_array().unwrap().iter().find(|m| m["email"] == "w@example.com").cloned().unwrap();
        assert_eq!(row["windows"], windows);
        assert_eq!(row["daily_quota"], 3);
        let r = app.req(reqwest::Method::PATCH, &path(&acc, &format!("/members/{}", w.user_id))).auth(&owner).json(json!({"daily_quota": null, "windows": []})).send().await;
        assert_eq!((r.body["daily_quota"].clone(), r.body["windows"].clone()), (Value::Null, json!([])), "{}", r.text);
    }

    async fn house_rules_must_be_accepted_before_anything_else(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@o").await;
        let editor = member(&app, &owner, &acc, "editor@example.com", "editor").await;
        let r = app.req(reqwest::Method::PATCH, &path(&acc, "/settings")).auth(&owner).json(json!({"rules_text": "No posting about politics."})).send().await;
        assert_eq!(r.body["rules"]["version"], 1, "{}", r.text);
        app.get(&path(&acc, "/members")).auth(&editor).send().await.assert_problem(403, "rules-not-accepted");
        let account = app.get(&path(&acc, "")).auth(&editor).send().await;
        assert_eq!(account.status, 200, "reading the account and its rules stays allowed");
        assert_eq!(account.body["rules"], json!({"version": 1, "text": "No posting about politics.", "accepted_version": 0}));
        app.post(&path(&acc, "/rules/accept")).auth(&editor).json(json!({"version": 2})).send().await.assert_problem(409, "conflict");
        assert_eq!(app.post(&path(&acc, "/rules/accept")).auth(&editor).json(json!({"version": 1})).send().await.status, 204);
        assert_eq!(app.get(&path(&acc, "/members")).auth(&editor).send().await.status, 200);
        // A new version asks again; the owner is never blocked by their own rules.
        app.req(reqwest::Method::PATCH, &path(&acc, "/settings")).auth(&owner).json(json!({"rules_text": "No politics. No memes."})).send().await;
        app.get(&path(&acc, "/members")).auth(&editor).send().await.assert_problem(403, "rules-not-accepted");
        assert_eq!(app.get(&path(&acc, "/members")).auth(&owner).send().await.status, 200);
    }

    async fn ownership_transfer_needs_the_password_and_keeps_the_old_owner_as_admin(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@o").await;
        let heir = member(&app, &owner, &acc, "heir@example.com", "editor").await;
        let stranger = app.user("stranger@example.com").await;
        let transfer = |body: Value| app.post(&path(&acc, "/transfer")).auth(&owner).json(body).send();
        transfer(json!({"to_user_id": heir.user_id, "password": "not-my-password"})).await.assert_problem(403, "forbidden");
        transfer(json!({"to_user_id": stranger.user_id, "password": PASSWORD})).await.assert_problem(422, "validation");
        app.post(&path(&acc, "/transfer")).auth(&heir).json(json!({"to_user_id": heir.user_id, "password": PASSWORD})).send().await.assert_problem(403, "forbidden");
        let r = transfer(json!({"to_user_id": heir.user_id, "password": PASSWORD})).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.body["my_role"].as_str(), r.body["owner_id"].as_str()), (Some("admin"), Some(heir.user_id.as_str())));
        app.delete(&path(&acc, "")).auth(&owner).json(json!({"password": PASSWORD})).send().await.assert_problem(403, "forbidden");
        assert_eq!(app.get(&path(&acc, "")).auth(&heir).send().await.body["my_role"], "owner");
        assert_eq!(app.delete(&path(&acc, "")).auth(&heir).json(json!({"password": PASSWORD})).send().await.status, 204);
        app.get(&path(&acc, "")).auth(&heir).send().await.assert_problem(404, "not-found");
    }

    async fn two_transfers_sent_at_once_leave_one_owner(app: TestApp) {
        // The owner hands the account to two people at the same moment: one transfer happens,
        // the other is refused, and the account has exactly one owner (an extra owner could
        // never be removed, not even by lockdown).
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@o").await;
        let x = member(&app, &owner, &acc, "x@example.com", "admin").await;
        let y = member(&app, &owner, &acc, "y@example.com", "editor").await;
        let to = |heir: &Session| {
            app.post(&path(&acc, "/transfer")).auth(&owner).json(json!({"to_user_id": heir.user_id, "password": PASSWORD})).send()
        };
        let answers = futures_join_all([to(&x), to(&y)].into_iter()).await;
        let statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
        assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 1, "one transfer happens: {statuses:?}");
        let refused = answers.iter().find(|r| r.status != 200).unwrap();
        refused.assert_problem(403, "forbidden");
        let owners = count(&app, &format!("SELECT COUNT(*) FROM memberships WHERE account_id = '{}' AND role = 'owner'", acc)).await;
        assert_eq!(owners, 1, "exactly one owner");
        let heir = if statuses[0] == 200 { &x } else { &y };
        assert_eq!(app.get(&path(&acc, "")).auth(heir).send().await.body["owner_id"], heir.user_id.as_str());
        assert_eq!(app.get(&path(&acc, "")).auth(&owner).send().await.body["my_role"], "admin");
    }

    async fn transfer_asks_for_the_owners_second_factor(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@o").await;
        let heir = member(&app, &owner, &acc, "heir@example.com", "admin").await;
        let enrol = app.post("/api/v1/me/totp").auth(&owner).send().await;
        let secret = enrol.body["secret"].as_str().unwrap().to_string();
        app.post("/api/v1/me/totp/confirm").auth(&owner).json(json!({"code": totp_code(&secret, &app, 0)})).send().await;
        let body = |totp: Option<String>| json!({"to_user_id": heir.user_id, "password": PASSWORD, "totp": totp});
        app.post(&path(&acc, "/transfer")).auth(&owner).json(body(None)).send().await.assert_problem(401, "totp-required");
        app.post(&path(&acc, "/transfer")).auth(&owner).json(body(Some("000000".into()))).send().await.assert_problem(403, "forbidden");
        assert_eq!(app.get(&path(&acc, "")).auth(&heir).send().await.body["my_role"], "admin", "nothing changed");
        app.clock.advance(Duration::from_secs(30));
        let r = app.post(&path(&acc, "/transfer")).auth(&owner).json(body(Some(totp_code(&secret, &app, 0)))).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(app.get(&path(&acc, "")).auth(&heir).send().await.body["my_role"], "owner");
    }

    async fn narrowed_tokens_never_exceed_their_user_or_their_narrowing(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let a = sandbox_account(&app, &owner, "@a").await;
        let b = sandbox_account(&app, &owner, "@b").await;
        let agent = app.post("/api/v1/me/tokens").auth(&owner)
            .json(json!({"name": "drafting agent", "scopes": ["read", "write"], "accounts": [a], "capabilities": ["account.view", "drafts.create"]}))
            .send().await;
        let agent = agent.body["token"].as_str().unwrap().to_string();
        assert_eq!(app.get(&path(&a, "")).bearer(&agent).send().await.status, 200);
        app.get(&path(&b, "")).bearer(&agent).send().await.assert_problem(403, "forbidden");
        let listed = app.get("/api/v1/accounts").bearer(&agent).send().await;
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 1, "a narrowed token lists only its accounts");
        app.req(reqwest::Method::PATCH, &path(&a, "/settings")).bearer(&agent).json(json!({"min_gap_minutes": 5})).send().await.assert_problem(403, "forbidden");
        invite(&app, &Session::bearer_only(&agent), &a, json!({"email": "x@example.com", "role": "viewer"})).await.assert_problem(403, "forbidden");
        app.post("/api/v1/accounts").bearer(&agent).json(json!({"platform": "sandbox", "handle": "c", "credentials": {}})).send().await.assert_problem(403, "forbidden");
        // A token loses rights the moment its user does.
        let editor = member(&app, &owner, &a, "editor@example.com", "editor").await;
        let t = app.post("/api/v1/me/tokens").auth(&editor).json(json!({"name": "mine", "scopes": ["read"]})).send().await;
        let t = t.body["token"].as_str().unwrap().to_string();
        assert_eq!(app.get(&path(&a, "/members")).bearer(&t).send().await.status, 200);
        app.delete(&path(&a, &format!("/members/{}", editor.user_id))).auth(&owner).send().await;
        app.get(&path(&a, "/members")).bearer(&t).send().await.assert_problem(404, "not-found");
    }

    async fn account_changes_and_denials_are_in_the_log(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let acc = sandbox_account(&app, &owner, "@o").await;
        let editor = member(&app, &owner, &acc, "editor@example.com", "editor").await;
        app.req(reqwest::Method::PATCH, &path(&acc, "/settings")).auth(&editor).json(json!({"min_gap_minutes": 1})).send().await.assert_problem(403, "forbidden");
        app.req(reqwest::Method::PATCH, &path(&acc, &format!("/members/{}", editor.user_id))).auth(&owner).json(json!({"role": "viewer"})).send().await;
        app.delete(&path(&acc, &format!("/members/{}", editor.user_id))).auth(&owner).send().await;
        let events: Vec<_> = app.state.store.audit_events_after(0, 1000).await.unwrap().into_iter().filter(|e| e.account_id.as_deref() == Some(acc.as_str())).collect();
        let summary: Vec<(&str, &str)> = events.iter().map(|e| (e.action.as_str(), e.outcome.as_str())).collect();
        assert_eq!(summary, [
            ("accounts.create", "allowed"),
            ("members.invite", "allowed"),
            ("members.join", "allowed"),
            ("accounts.settings.update", "denied"),
            ("members.role_change", "allowed"),
            ("members.remove", "allowed"),
        ]);
        let denied = &events[3];
        assert_eq!(denied.actor_id.as_deref(), Some(editor.user_id.as_str()));
        let role_change: Value = serde_json::from_str(&events[4].detail).unwrap();
        assert_eq!(role_change["role"], json!({"from": "editor", "to": "viewer"}));
        assert_eq!(events[4].target.as_deref(), Some(format!("user:{}", editor.user_id).as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invitation_link_explains_the_invitation_in_plain_words() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let owner = app.user("owner@example.com").await;
    let acc = sandbox_account(&app, &owner, "<b>@olivia</b>").await;
    let r = invite(&app, &owner, &acc, json!({"email": "eddie@example.com", "role": "editor"})).await;
    let url = r.body["invite_url"].as_str().unwrap().to_string();
    let page = app.client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(
        html.contains("invited you to help with") && html.contains("eddie@example.com") && html.contains("editor"),
        "{html}"
    );
    assert!(html.contains("write drafts and send them for review"), "abilities are listed in words");
    assert!(!html.contains("approve posts"), "only the role's abilities are listed");
    // The template engine escapes with numeric references (`&#60;`).
    assert!(
        html.contains("&#60;b&#62;@olivia&#60;/b&#62;") && !html.contains("<b>@olivia"),
        "names are escaped: {html}"
    );
    let eddie = app.user("eddie@example.com").await;
    app.post(&format!("/api/v1/invitations/{}/accept", r.body["token"].as_str().unwrap())).auth(&eddie).send().await;
    let used = app.client.get(&url).send().await.unwrap();
    assert_eq!(used.status(), 404);
    assert!(used.text().await.unwrap().contains("not valid"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linkedin_member_profiles_always_need_the_owners_approval() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let owner = app.user("owner@example.com").await;
    crate::helpers::seed::linkedin_member_account(&app, &owner.user_id, "li-1").await;
    let account = app.get("/api/v1/accounts/li-1").auth(&owner).send().await;
    assert_eq!(account.body["settings"]["owner_approval_required"], true, "{}", account.text);
    let r = app
        .req(reqwest::Method::PATCH, "/api/v1/accounts/li-1/settings")
        .auth(&owner)
        .json(json!({"owner_approval_required": false}))
        .send()
        .await;
    r.assert_problem(422, "validation");
    assert_eq!(r.body["errors"][0]["field"], "owner_approval_required");
    let ok = app
        .req(reqwest::Method::PATCH, "/api/v1/accounts/li-1/settings")
        .auth(&owner)
        .json(json!({"approvals_required": 2}))
        .send()
        .await;
    assert_eq!((ok.status, ok.body["settings"]["owner_approval_required"].as_bool()), (200, Some(true)), "{}", ok.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_through_an_invitation_joins_the_account() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.signup = SignupMode::Invite).await.unwrap();
    let owner_user = steward_app::identity::create_user_as_operator(
        &app.state,
        "owner@example.com",
        "Owner",
        PASSWORD.into(),
        "test",
    )
    .await
    .unwrap();
    let owner = app.login(&owner_user.email).await;
    let acc = sandbox_account(&app, &owner, "@o").await;
    let r = invite(&app, &owner, &acc, json!({"email": "newbie@example.com", "role": "analyst"})).await;
    let token = r.body["token"].as_str().unwrap();
    let wrong_email = app
        .post("/api/v1/auth/register")
        .json(json!({"email": "other@example.com", "password": PASSWORD, "display_name": "O", "invitation": token}))
        .send()
        .await;
    wrong_email.assert_problem(422, "validation");
    assert!(
        app.state.store.user_by_email("other@example.com").await.unwrap().is_none(),
        "no user without a valid invitation"
    );
    let ok = app
        .post("/api/v1/auth/register")
        .json(
            json!({"email": "newbie@example.com", "password": PASSWORD, "display_name": "Newbie", "invitation": token}),
        )
        .send()
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    let newbie = app.login("newbie@example.com").await;
    let account = app.get(&path(&acc, "")).auth(&newbie).send().await;
    assert_eq!(account.body["my_role"], "analyst");
}
