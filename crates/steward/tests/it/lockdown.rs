//! Lockdown (DESIGN.md "Lockdown"): when it returns, every other member is
//! suspended and refused on this account (sessions and tokens), tokens narrowed to it are
//! revoked, the credential is destroyed if asked, and it is recorded and alerted.
use reqwest::Method;
use serde_json::json;
use steward_domain::ids::AccountId;

use crate::helpers::accounts::{member, sandbox_account};
use crate::helpers::*;

both_backends! {
    async fn lockdown_shuts_everyone_else_out_of_this_account_only(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@locked").await;
        let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
        let editor = member(&app, &owner, &account, "editor@example.com", "editor").await;
        let viewer = member(&app, &owner, &account, "viewer@example.com", "viewer").await;
        // The editor also works for someone else, and has two tokens: one narrowed to this
        // account (say, an AI agent's key) and one for all their accounts.
        let elsewhere_owner = app.user("else@example.com").await;
        let elsewhere = sandbox_account(&app, &elsewhere_owner, "@elsewhere").await;
        let r = app.post(&format!("/api/v1/accounts/{elsewhere}/invitations")).auth(&elsewhere_owner)
            .json(json!({"email": "editor@example.com", "role": "editor"})).send().await;
        let token = r.body["token"].as_str().unwrap();
        assert_eq!(app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&editor).send().await.status, 200);
        let narrowed = app.post("/api/v1/me/tokens").auth(&editor)
            .json(json!({"name": "agent", "scopes": ["read", "write"], "accounts": [account]})).send().await;
        assert_eq!(narrowed.status, 201, "{}", narrowed.text);
        let narrowed = narrowed.body["token"].as_str().unwrap().to_string();
        let broad = app.post("/api/v1/me/tokens").auth(&editor)
            .json(json!({"name": "cli", "scopes": ["read"]})).send().await;
        let broad = broad.body["token"].as_str().unwrap().to_string();
        let acc = format!("/api/v1/accounts/{account}");
        assert_eq!(app.get(&acc).bearer(&narrowed).send().await.status, 200);
        assert_eq!(app.get(&acc).auth(&viewer).send().await.status, 200);

        let r = app.post(&format!("{acc}/lockdown")).auth(&owner).json(json!({"disconnect_credential": false})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"suspended_members": 3, "revoked_tokens": 1, "cancelled_posts": 0, "credential_disconnected": false}));

        // At once: every other member's session and tokens are refused on this account…
        for s in [&admin, &editor, &viewer] {
            app.get(&acc).auth(s).send().await.assert_problem(403, "forbidden");
            app.get(&format!("{acc}/members")).auth(s).send().await.assert_problem(403, "forbidden");
        }
        app.get(&acc).bearer(&broad).send().await.assert_problem(403, "forbidden");
        // …the narrowed token is revoked altogether…
        app.get("/api/v1/me").bearer(&narrowed).send().await.assert_problem(401, "unauthenticated");
        // …while their work for other owners goes on.
        assert_eq!(app.get(&format!("/api/v1/accounts/{elsewhere}")).auth(&editor).send().await.status, 200);
        assert_eq!(app.get(&format!("/api/v1/accounts/{elsewhere}")).bearer(&broad).send().await.status, 200);
        assert_eq!(app.get("/api/v1/me").auth(&editor).send().await.status, 200, "still signed in to Steward");

        let view = app.get(&acc).auth(&owner).send().await;
        assert_eq!(view.body["status"], "locked_down");
        let members = app.get(&format!("{acc}/members")).auth(&owner).send().await;
        for m in members.body["items"].as_array().unwrap() {
            let want = if m["user_id"] == owner.user_id.as_str() { "active" } else { "suspended" };
            assert_eq!(m["status"], want, "{m}");
        }
        // Recorded, and alerted.
        let events = app.get(&format!("{acc}/activity?action=accounts.lockdown")).auth(&owner).send().await;
        let ev = &events.body["items"][0];
        assert_eq!(ev["actor_id"], owner.user_id.as_str());
        assert_eq!(ev["data"]["suspended_members"], 3);
        let alerts = app.get("/api/v1/alerts").auth(&owner).send().await;
        let lockdown: Vec<_> = alerts.body["items"].as_array().unwrap().iter().filter(|a| a["kind"] == "lockdown").collect();
        assert_eq!(lockdown.len(), 1, "{}", alerts.text);
        assert_eq!(lockdown[0]["severity"], "critical");

        // Undone member by member.
        let r = app.req(Method::PATCH, &format!("{acc}/members/{}", viewer.user_id)).auth(&owner)
            .json(json!({"status": "active"})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(app.get(&acc).auth(&viewer).send().await.status, 200);
        app.get(&acc).auth(&editor).send().await.assert_problem(403, "forbidden");
    }

    async fn an_admins_lockdown_keeps_the_owner_and_leaves_the_credential_to_the_owner(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@brake").await;
        let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
        let other_admin = member(&app, &owner, &account, "admin2@example.com", "admin").await;
        let editor = member(&app, &owner, &account, "editor@example.com", "editor").await;
        let acc = format!("/api/v1/accounts/{account}");
        app.post(&format!("{acc}/lockdown")).auth(&editor).json(json!({})).send().await.assert_problem(403, "forbidden");
        assert!(app.state.store.sealed_credential(&AccountId::new(account.to_string())).await.unwrap().unwrap().credential_sealed.is_some());

        // Only the owner touches the credential (invariant 1), even in an emergency: an admin
        // asking to destroy it is refused and nothing happens.
        let r = app.post(&format!("{acc}/lockdown")).auth(&admin).json(json!({"disconnect_credential": true})).send().await;
        r.assert_problem(403, "forbidden");
        assert_eq!(app.get(&acc).auth(&owner).send().await.body["status"], "active");
        let r = app.post(&format!("{acc}/lockdown")).auth(&admin).json(json!({"disconnect_credential": false})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["suspended_members"], 2, "the other admin and the editor");
        assert_eq!(r.body["credential_disconnected"], false);
        assert!(app.state.store.sealed_credential(&AccountId::new(account.to_string())).await.unwrap().unwrap().credential_sealed.is_some());
        assert_eq!(app.get(&acc).auth(&owner).send().await.body["status"], "locked_down");
        assert_eq!(app.get(&acc).auth(&admin).send().await.status, 200, "the admin who pulled the brake keeps access");
        app.get(&acc).auth(&other_admin).send().await.assert_problem(403, "forbidden");
        app.get(&acc).auth(&editor).send().await.assert_problem(403, "forbidden");
        // The owner is alerted (the suspended admin is not a recipient any more).
        let alerts = app.get("/api/v1/alerts").auth(&owner).send().await;
        assert!(alerts.body["items"].as_array().unwrap().iter().any(|a| a["kind"] == "lockdown" && a["summary"].as_str().unwrap().contains("admin@example.com")), "{}", alerts.text);
        // The owner may destroy it.
        let r = app.post(&format!("{acc}/lockdown")).auth(&owner).json(json!({"disconnect_credential": true})).send().await;
        assert_eq!((r.status, &r.body["credential_disconnected"]), (200, &json!(true)), "{}", r.text);
        let sealed = app.state.store.sealed_credential(&AccountId::new(account.to_string())).await.unwrap().unwrap();
        assert!(sealed.credential_sealed.is_none() && sealed.wrapped_data_key.is_none(), "credential and data key destroyed");
        // Still a lockdown (its rules key on the status): lifting it leaves the account
        // disconnected, to be connected again.
        assert_eq!(app.get(&acc).auth(&owner).send().await.body["status"], "locked_down");
        let r = app.post(&format!("{acc}/lockdown")).auth(&owner).json(json!({"disconnect_credential": "yes"})).send().await;
        r.assert_problem(422, "validation");
        let r = app.post(&format!("{acc}/lockdown/lift")).auth(&owner).send().await;
        assert_eq!((r.status, &r.body), (200, &json!({"status": "disconnected", "lifted": true})), "{}", r.text);
        assert_eq!(app.get(&acc).auth(&owner).send().await.body["status"], "disconnected");
    }

    async fn lockdown_cancels_approved_posts_the_owner_did_not_approve(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@posts").await;
        let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
        let editor = member(&app, &owner, &account, "editor@example.com", "editor").await;
        let mut posts = Vec::new();
        for (text, approver) in [("approved by the admin", &admin), ("approved by the owner", &owner), ("still a draft", &owner)] {
            let r = app.post(&format!("/api/v1/accounts/{account}/posts")).auth(&editor).json(json!({"text": text})).send().await;
            assert_eq!(r.status, 201, "{}", r.text);
            let id = r.body["id"].as_str().unwrap().to_string();
            if text != "still a draft" {
                let r = app.post(&format!("/api/v1/posts/{id}/submit")).auth(&editor).send().await;
                assert_eq!(r.status, 200, "{}", r.text);
                let r = app.post(&format!("/api/v1/posts/{id}/approve")).auth(approver).json(json!({"version": 1})).send().await;
                assert_eq!(r.status, 200, "{}", r.text);
                assert_eq!(r.body["state"], "approved", "{}", r.text);
            }
            posts.push(id);
        }
        let r = app.post(&format!("/api/v1/accounts/{account}/lockdown")).auth(&owner).json(json!({})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["cancelled_posts"], 1, "{}", r.text);
        let state = async |id: &str| app.get(&format!("/api/v1/posts/{id}")).auth(&owner).send().await.body["state"].clone();
        assert_eq!(state(&posts[0]).await, "cancelled");
        assert_eq!(state(&posts[1]).await, "approved", "the owner's own approval stands");
        assert_eq!(state(&posts[2]).await, "draft");
        let events = app.get(&format!("/api/v1/accounts/{account}/activity?action=posts.cancel")).auth(&owner).send().await;
        assert_eq!(events.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(events.body["items"][0]["target"], format!("post:{}", posts[0]));
    }

    async fn reinstating_members_keeps_the_lockdown_until_the_owner_lifts_it(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@lifted").await;
        let admin = member(&app, &owner, &account, "admin@example.com", "admin").await;
        let viewer = member(&app, &owner, &account, "viewer@example.com", "viewer").await;
        let acc = format!("/api/v1/accounts/{account}");
        app.post(&format!("{acc}/lockdown/lift")).auth(&viewer).send().await.assert_problem(403, "forbidden");
        let r = app.post(&format!("{acc}/lockdown/lift")).auth(&owner).send().await;
        assert_eq!((r.status, &r.body), (200, &json!({"status": "active", "lifted": false})), "no lockdown: nothing to lift");
        let r = app.post(&format!("{acc}/lockdown")).auth(&owner).json(json!({})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);

        // Reinstating someone gives them their access back, not the account its publishing.
        let r = app.req(Method::PATCH, &format!("{acc}/members/{}", admin.user_id)).auth(&owner)
            .json(json!({"status": "active"})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(app.get(&acc).auth(&admin).send().await.body["status"], "locked_down");
        // Only the owner lifts it (an admin holds `lockdown`, not the way out).
        app.post(&format!("{acc}/lockdown/lift")).auth(&admin).send().await.assert_problem(403, "forbidden");
        assert_eq!(app.get(&acc).auth(&owner).send().await.body["status"], "locked_down");

        let r = app.post(&format!("{acc}/lockdown/lift")).auth(&owner).send().await;
        assert_eq!((r.status, &r.body), (200, &json!({"status": "active", "lifted": true})), "{}", r.text);
        assert_eq!(app.get(&acc).auth(&owner).send().await.body["status"], "active");
        // Members not reinstated stay suspended; it is recorded.
        app.get(&acc).auth(&viewer).send().await.assert_problem(403, "forbidden");
        let events = app.get(&format!("{acc}/activity?action=accounts.lockdown.lift")).auth(&owner).send().await;
        let ev = &events.body["items"][0];
        assert_eq!((ev["actor_id"].as_str(), ev["outcome"].as_str()), (Some(owner.user_id.as_str()), Some("allowed")), "{}", events.text);
        assert_eq!(ev["data"]["still_suspended_members"], 1);
        assert!(ev["detail"].as_str().unwrap().contains("lifted the lockdown"), "{ev}");
        let r = app.post(&format!("{acc}/lockdown/lift")).auth(&owner).send().await;
        assert_eq!(r.body["lifted"], false, "lifting twice changes nothing");
    }
}
