//! Each member's devices: the owner lists a collaborator's live sessions and ends one.
use serde_json::json;

use crate::helpers::accounts::{member, sandbox_account};
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
}
