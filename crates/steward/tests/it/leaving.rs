//! Leaving cleanly: a person's export holds what Steward knows of them and no secret; deleting
//! one's own user asks for the password, waits while they own accounts, ends every way in, and
//! leaves the audit chain verifiable.
use serde_json::{Value, json};
use steward_app::audit_verify::{Verdict, verify_chain};

use crate::helpers::accounts::{member, sandbox_account};
use crate::helpers::html::{browser, csrf_in, page, post_form};
use crate::helpers::*;

async fn export(app: &TestApp, s: &Session) -> (Resp, Value) {
    let r = app.get("/api/v1/me/export").auth(s).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let doc: Value = serde_json::from_str(&r.text).expect("the export is one JSON document");
    (r, doc)
}

async fn intact(app: &TestApp) -> bool {
    matches!(verify_chain(&app.state.store, |_, _| {}).await.unwrap(), Verdict::Intact { .. })
}

both_backends! {
    async fn an_heir_who_leaves_as_the_account_is_handed_to_them_never_leaves_it_ownerless(app: TestApp) {
        // The owner hands accounts to X while X deletes themselves, at the same moment, in
        // several rounds: whichever goes first, each account keeps an owner who is a person.
        let owner = app.user("owner@example.com").await;
        for round in 0..4 {
            let acc = sandbox_account(&app, &owner, &format!("@heir{round}")).await;
            let heir = member(&app, &owner, &acc, &format!("heir{round}@example.com"), "admin").await;
            let transfer = app.post(&format!("/api/v1/accounts/{acc}/transfer")).auth(&owner)
                .json(json!({"to_user_id": heir.user_id, "password": PASSWORD})).send();
            let leave = app.delete("/api/v1/me").auth(&heir).json(json!({"password": PASSWORD})).send();
            let (t, l) = tokio::join!(transfer, leave);
            assert!(t.status == 200 || l.status == 204, "one of them happens: {} {}", t.text, l.text);
            let owned = count(&app, &format!(
                "SELECT COUNT(*) FROM social_accounts a JOIN memberships m ON m.account_id = a.id \
                 AND m.user_id = a.owner_id AND m.role = 'owner' JOIN users u ON u.id = a.owner_id \
                 WHERE a.id = '{acc}' AND u.email NOT LIKE '%@deleted.invalid'")).await;
            assert_eq!(owned, 1, "round {round}: transfer {} ({}), leave {} ({})", t.status, t.text, l.status, l.text);
        }
    }

    async fn the_export_holds_their_posts_and_no_secret(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@leaving").await;
        let editor = member(&app, &owner, &account, "editor@example.com", "editor").await;
        let post = app.post(&format!("/api/v1/accounts/{account}/posts")).auth(&editor)
            .json(json!({"text": "A post the editor wrote"})).send().await;
        assert_eq!(post.status, 201, "{}", post.text);
        let post_id = post.body["id"].as_str().unwrap().to_string();
        let c = app.post(&format!("/api/v1/posts/{post_id}/comments")).auth(&editor)
            .json(json!({"body": "A comment of theirs"})).send().await;
        assert!(c.status == 201 || c.status == 200, "{}", c.text);
        let token = app.post("/api/v1/me/tokens").auth(&editor)
            .json(json!({"name": "script", "scopes": ["read"], "password": PASSWORD})).send().await;
        assert_eq!(token.status, 201, "{}", token.text);
        let secret = token.body["token"].as_str().unwrap().to_string();

        let (r, doc) = export(&app, &editor).await;
        assert!(r.header("content-type").unwrap().starts_with("application/json"));
        assert!(r.header("content-disposition").unwrap().contains("attachment"));
        assert_eq!(doc["user"]["email"], "editor@example.com");
        assert_eq!(doc["posts"].as_array().unwrap().len(), 1, "{doc}");
        assert_eq!(doc["posts"][0]["id"], post_id.as_str());
        assert_eq!(doc["posts"][0]["text"], "A post the editor wrote");
        assert_eq!(doc["comments"][0]["body"], "A comment of theirs");
        assert_eq!(doc["memberships"][0]["account_id"], account.as_str());
        assert_eq!(doc["memberships"][0]["role"], "editor");
        assert!(doc["invitations"].as_array().unwrap().iter().any(|i| i["email"] == "editor@example.com"), "{doc}");
        assert_eq!(doc["tokens"][0]["name"], "script");
        assert!(doc["sessions"].as_array().unwrap().iter().any(|s| s["id"] == editor.session_id.as_str()), "{doc}");
        let actions: Vec<&str> = doc["activity"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
        assert!(actions.contains(&"auth.register") && actions.contains(&"me.token.create"), "{actions:?}");
        assert!(doc["notifications"].is_array());
        // No secret: not the access token, nor the session token, nor any password hash.
        assert!(!r.text.contains(&secret), "the access token leaked");
        assert!(!r.text.contains(&editor.token), "the session token leaked");
        assert!(!r.text.contains("$argon2"), "a password hash leaked");
        assert!(!r.text.contains(PASSWORD), "the password leaked");
        // Only their own posts: the owner's export has none of the editor's, but holds the
        // notification that the editor's post waits for their review.
        let submit = app.post(&format!("/api/v1/posts/{post_id}/submit")).auth(&editor).json(json!({})).send().await;
        assert!(submit.status == 200 || submit.status == 202, "{}", submit.text);
        let (_, theirs) = export(&app, &owner).await;
        assert_eq!(theirs["posts"].as_array().unwrap().len(), 0);
        let told = theirs["notifications"].as_array().unwrap();
        assert_eq!(told.len(), 1, "{theirs}");
        assert_eq!(told[0]["kind"], "review_requested");
        assert_eq!(told[0]["post_id"], post_id.as_str());
        // Removed from the account, the editor's export no longer shows its posts: an admin may
        // have rewritten and scheduled them since, and that is the account's, not theirs.
        let r = app.delete(&format!("/api/v1/accounts/{account}/members/{}?cancel_posts=false", editor.user_id)).auth(&owner).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        let (_, after) = export(&app, &editor).await;
        assert_eq!(after["posts"].as_array().unwrap().len(), 0, "{after}");
        assert_eq!(after["comments"][0]["body"], "A comment of theirs", "their own words stay theirs");
        // An access token does not reach it (a session is needed).
        app.get("/api/v1/me/export").bearer(&secret).send().await.assert_problem(403, "forbidden");
    }

    async fn deleting_asks_again_waits_while_they_own_accounts_and_ends_every_way_in(app: TestApp) {
        let owner = app.user("owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@kept").await;
        let editor = member(&app, &owner, &account, "leaver@example.com", "editor").await;
        let post = app.post(&format!("/api/v1/accounts/{account}/posts")).auth(&editor)
            .json(json!({"text": "Stays with the account"})).send().await;
        assert_eq!(post.status, 201, "{}", post.text);
        let post_id = post.body["id"].as_str().unwrap().to_string();
        let token = app.post("/api/v1/me/tokens").auth(&editor)
            .json(json!({"name": "t", "scopes": ["read"], "password": PASSWORD})).send().await;
        let secret = token.body["token"].as_str().unwrap().to_string();

        // Bad input changes nothing; a wrong password is refused and counted.
        let r = app.delete("/api/v1/me").auth(&editor).json(json!({"pasword": PASSWORD})).send().await;
        r.assert_problem(422, "validation");
        app.delete("/api/v1/me").auth(&editor).json(json!({"password": "not-the-passphrase"})).send().await
            .assert_problem(403, "forbidden");
        // Not with an access token.
        app.delete("/api/v1/me").bearer(&secret).json(json!({"password": PASSWORD})).send().await
            .assert_problem(403, "forbidden");
        // The owner of an account must transfer or delete it first.
        let r = app.delete("/api/v1/me").auth(&owner).json(json!({"password": PASSWORD})).send().await;
        r.assert_problem(409, "conflict");
        assert!(r.body["detail"].as_str().unwrap().contains("transfer"), "{}", r.text);
        assert_eq!(app.get("/api/v1/me").auth(&owner).send().await.status, 200, "the refused owner is still there");

        let r = app.delete("/api/v1/me").auth(&editor).json(json!({"password": PASSWORD})).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        // Every way in is gone: the session, the access token, signing in again.
        assert_eq!(app.get("/api/v1/me").auth(&editor).send().await.status, 401);
        assert_eq!(app.get("/api/v1/me").bearer(&secret).send().await.status, 401);
        app.post("/api/v1/auth/login").json(json!({"email": "leaver@example.com", "password": PASSWORD})).send().await
            .assert_problem(401, "invalid-credentials");
        // The row is a tombstone: no email, name or password; the post keeps its author's id.
        let user = app.state.store.user_by_id(&editor.user_id.as_str().into()).await.unwrap().expect("the tombstone stays");
        assert!(!user.email.contains("leaver"), "{}", user.email);
        assert!(user.display_name.is_empty() && user.password_hash.is_empty() && !user.totp_enabled);
        let members = app.get(&format!("/api/v1/accounts/{account}/members")).auth(&owner).send().await;
        assert!(!members.text.contains("leaver@example.com"), "{}", members.text);
        let p = app.get(&format!("/api/v1/posts/{post_id}")).auth(&owner).send().await;
        assert_eq!(p.status, 200, "{}", p.text);
        // The email can be registered again, as a new person.
        let again = app.register("leaver@example.com").await;
        assert_ne!(again["id"].as_str(), Some(editor.user_id.as_str()));

        // The audit log keeps their id, names the deletion, and still verifies.
        let events = app.state.store.audit_events_after(0, 10_000).await.unwrap();
        let refused = events.iter().filter(|e| e.action == "me.delete" && e.outcome == "denied").count();
        assert_eq!(refused, 1, "the wrong password is recorded as a refusal");
        let deleted = events.iter().find(|e| e.action == "me.delete" && e.outcome == "allowed").expect("the deletion is recorded");
        assert_eq!(deleted.actor_id.as_deref(), Some(editor.user_id.as_str()));
        assert_eq!(deleted.actor_email, None);
        assert!(events.iter().any(|e| e.actor_id.as_deref() == Some(editor.user_id.as_str()) && e.action == "auth.register"));
        assert!(intact(&app).await, "the chain verifies after a deletion");
    }

    async fn the_security_page_links_the_export_and_deletes_after_confirmation(app: TestApp) {
        let s = app.user("page@example.com").await;
        let (status, html) = page(&app, &s, "/security").await;
        assert_eq!(status, 200);
        assert!(html.contains("href=\"/api/v1/me/export\"") && html.contains("href=\"/security/delete\""), "{html}");
        let (status, html) = page(&app, &s, "/security/delete").await;
        assert_eq!(status, 200);
        assert!(html.contains("cannot be undone"), "{html}");
        let csrf = csrf_in(&html);
        // A wrong password: the page again, with the sentence by the field.
        let (status, _, html) = post_form(&app, &s.cookie(), "/security/delete", &[("csrf_token", &csrf), ("password", "nope-nope-nope")]).await;
        assert_eq!(status, 403, "{html}");
        assert!(html.contains("password is wrong"), "{html}");
        let (status, location, _) = post_form(&app, &s.cookie(), "/security/delete", &[("csrf_token", &csrf), ("password", PASSWORD)]).await;
        assert_eq!((status, location.as_str()), (303, "/signin?notice=deleted"));
        let r = browser().get(format!("{}/security", app.base)).header("cookie", s.cookie()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303, "signed out");
    }
}
