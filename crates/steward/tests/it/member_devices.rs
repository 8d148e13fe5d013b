//! Each member's devices: the owner lists a collaborator's live sessions and ends one, and an
//! account's device limit keeps a collaborator to their oldest devices.
use reqwest::Method;
use serde_json::json;

use crate::helpers::accounts::{member, sandbox_account};
use crate::helpers::html::{csrf_in, page, post_form};
use crate::helpers::*;

const FIREFOX_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";

both_backends! {
    async fn the_owner_sees_and_ends_a_collaborators_sessions(app: TestApp) {
        let owner = app.user("devices-owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@devices").await;
        let editor = member(&app, &owner, &account, "devices-editor@example.com", "editor").await;
        let r = app.post("/api/v1/auth/login").header("user-agent", FIREFOX_WINDOWS)
            .json(json!({"email": "devices-editor@example.com", "password": PASSWORD})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let laptop = Session::from_login(&r);
        let base = format!("/api/v1/accounts/{account}/members/{}/sessions", editor.user_id);

        let list = app.get(&base).auth(&owner).send().await;
        assert_eq!(list.status, 200, "{}", list.text);
        let items = list.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{}", list.text);
        let row = items.iter().find(|x| x["id"] == laptop.session_id.as_str()).expect("the laptop's session is listed");
        assert_eq!(row["device"], "Firefox on Windows");
        assert!(row["place"].is_string() && row["last_seen_at"].is_string(), "{row}");
        assert!(!list.text.contains(&laptop.token), "a session's token is never shown");

        // An editor may not look at another member's devices; nobody sees the owner's here.
        app.get(&base).auth(&editor).send().await.assert_problem(403, "forbidden");
        let owners = format!("/api/v1/accounts/{account}/members/{}/sessions", owner.user_id);
        app.get(&owners).auth(&owner).send().await.assert_problem(403, "forbidden");

        let end = app.delete(&format!("{base}/{}", laptop.session_id)).auth(&owner).send().await;
        assert_eq!(end.status, 204, "{}", end.text);
        assert_eq!(app.get("/api/v1/me").auth(&laptop).send().await.status, 401, "the ended session no longer works");
        assert_eq!(app.get("/api/v1/me").auth(&editor).send().await.status, 200, "the other session still does");
        let again = app.delete(&format!("{base}/{}", laptop.session_id)).auth(&owner).send().await;
        again.assert_problem(404, "not-found");
        // Another person's session id under this member is not theirs to end.
        let stray = app.delete(&format!("{base}/{}", owner.session_id)).auth(&owner).send().await;
        stray.assert_problem(404, "not-found");
        assert_eq!(app.get("/api/v1/me").auth(&owner).send().await.status, 200);

        let log = app.get(&format!("/api/v1/accounts/{account}/activity?action=members.session.revoke")).auth(&owner).send().await;
        assert_eq!(log.status, 200, "{}", log.text);
        assert_eq!(log.body["items"].as_array().unwrap().iter().filter(|e| e["outcome"] == "allowed").count(), 1, "{}", log.text);
    }

    async fn a_device_limit_keeps_a_collaborator_to_their_oldest_devices(app: TestApp) {
        let owner = app.user("limit-owner@example.com").await;
        let account = sandbox_account(&app, &owner, "@limit").await;
        let laptop = member(&app, &owner, &account, "limit-editor@example.com", "editor").await;
        let settings = format!("/api/v1/accounts/{account}/settings");
        let one = format!("/api/v1/accounts/{account}");

        // Out of bounds is refused and changes nothing.
        for bad in [json!(0), json!(21), json!("two")] {
            let r = app.req(Method::PATCH, &settings).auth(&owner).json(json!({"max_devices_per_member": bad})).send().await;
            assert_eq!(r.status, 422, "{bad}: {}", r.text);
            assert!(r.text.contains("max_devices_per_member"), "{}", r.text);
        }
        let r = app.req(Method::PATCH, &settings).auth(&owner).json(json!({"max_devices_per_member": 1})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["settings"]["max_devices_per_member"], 1, "{}", r.text);

        // The device already in use keeps its access; a second sign-in gets none on the account,
        // with a sentence that says why, but keeps the person's own pages.
        assert_eq!(app.get(&one).auth(&laptop).send().await.status, 200);
        let r = app.post("/api/v1/auth/login").header("user-agent", FIREFOX_WINDOWS)
            .json(json!({"email": "limit-editor@example.com", "password": PASSWORD})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let phone = Session::from_login(&r);
        let refused = app.get(&one).auth(&phone).send().await;
        refused.assert_problem(403, "device-limit");
        assert!(refused.text.contains("1 device at once"), "{}", refused.text);
        let draft = app.post(&format!("/api/v1/accounts/{account}/posts")).auth(&phone)
            .json(json!({"text": "from a second device"})).send().await;
        draft.assert_problem(403, "device-limit");
        assert_eq!(app.get("/api/v1/me").auth(&phone).send().await.status, 200);
        // The web app asks the same authorization point: no way round it through the pages.
        let (status, html) = page(&app, &phone, &format!("/accounts/{account}/posts")).await;
        assert_eq!(status, 403, "{html}");
        assert!(html.contains("1 device at once"), "{html}");
        assert_eq!(app.get(&one).auth(&laptop).send().await.status, 200, "the first device is never taken over");

        // An access token is a device too: a token made now is past the limit on this account.
        let t = app.post("/api/v1/me/tokens").auth(&laptop)
            .json(json!({"name": "script", "scopes": ["read", "write"], "password": PASSWORD})).send().await;
        assert_eq!(t.status, 201, "{}", t.text);
        let token = Session::bearer_only(t.body["token"].as_str().unwrap());
        app.get(&one).auth(&token).send().await.assert_problem(403, "device-limit");

        // The owner is never limited.
        let owner2 = app.post("/api/v1/auth/login").json(json!({"email": "limit-owner@example.com", "password": PASSWORD})).send().await;
        assert_eq!(app.get(&one).auth(&Session::from_login(&owner2)).send().await.status, 200);

        // The web app shows the member's devices to the owner; signing the laptop out there
        // frees its place for the phone at once.
        let member_page = format!("/accounts/{account}/members/{}", laptop.user_id);
        let (status, html) = page(&app, &owner, &member_page).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Firefox on Windows"), "{html}");
        let end = format!("{member_page}/sessions/{}/end", laptop.session_id);
        assert!(html.contains(&end), "{html}");
        let (status, location, body) = post_form(&app, &owner.cookie(), &end, &[("csrf_token", &csrf_in(&html))]).await;
        assert_eq!(status, 303, "{body}");
        assert!(location.ends_with("?notice=device_ended"), "{location}");
        assert_eq!(app.get("/api/v1/me").auth(&laptop).send().await.status, 401);
        assert_eq!(app.get(&one).auth(&phone).send().await.status, 200, "the phone is now the oldest device");
        app.get(&one).auth(&token).send().await.assert_problem(403, "device-limit");

        // No limit: every device again.
        let r = app.req(Method::PATCH, &settings).auth(&owner).json(json!({"max_devices_per_member": null})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body["settings"]["max_devices_per_member"].is_null(), "{}", r.text);
        assert_eq!(app.get(&one).auth(&token).send().await.status, 200);
    }
}
