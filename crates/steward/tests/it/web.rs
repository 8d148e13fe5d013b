//! The web app over plain HTTP (no browser): every form needs its CSRF token, pages show API
//! errors by their fields, and what a member may not do is refused by the server too.
use serde_json::json;

use crate::helpers::*;

/// A browser-like client that does not follow redirects (so 303s can be checked).
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

pub(crate) fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf_token\" value=\"").expect("a form with a CSRF token");
    let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
    rest[..rest.find('"').expect("end of value")].to_string()
}

pub(crate) async fn page(app: &TestApp, s: &Session, path: &str) -> (u16, String) {
    let r = browser().get(format!("{}{path}", app.base)).header("cookie", s.cookie()).send().await.expect("get");
    (r.status().as_u16(), r.text().await.expect("body"))
}

pub(crate) async fn post_form(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let r =
        browser().post(format!("{}{path}", app.base)).header("cookie", cookie).form(form).send().await.expect("post");
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (r.status().as_u16(), location, r.text().await.expect("body"))
}

async fn sandbox_account(app: &TestApp, owner: &Session) -> String {
    let r = app
        .post("/api/v1/accounts")
        .auth(owner)
        .json(json!({"platform": "sandbox", "handle": "@shop", "credentials": {}}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

both_backends! {
    async fn forms_without_their_csrf_token_change_nothing(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner).await;
        let settings = format!("/accounts/{id}/settings");
        let (status, html) = page(&app, &owner, &settings).await;
        assert_eq!(status, 200, "{html}");
        let token = csrf_in(&html);

        let form = [("approvals_required", "2"), ("min_gap_minutes", "0"), ("max_members", "5"), ("time_zone", "UTC"), ("rules_text", "")];
        let (status, _, html) = post_form(&app, &owner.cookie(), &settings, &form).await;
        assert_eq!(status, 403, "no token: refused");
        assert!(html.contains("This form has expired"), "{html}");
        let mut forged = form.to_vec();
        forged.push(("csrf_token", "forged"));
        let (status, _, _) = post_form(&app, &owner.cookie(), &settings, &forged).await;
        assert_eq!(status, 403, "a wrong token: refused");
        let r = app.get(&format!("/api/v1/accounts/{id}")).auth(&owner).send().await;
        assert_eq!(r.body["settings"]["approvals_required"], 1, "nothing changed");

        let mut good = form.to_vec();
        good.push(("csrf_token", &token));
        let (status, location, _) = post_form(&app, &owner.cookie(), &settings, &good).await;
        assert_eq!((status, location.as_str()), (303, format!("{settings}?notice=saved").as_str()));
        let r = app.get(&format!("/api/v1/accounts/{id}")).auth(&owner).send().await;
        assert_eq!(r.body["settings"]["approvals_required"], 2);
    }

    async fn members_see_only_what_they_may_do_and_the_server_refuses_the_rest(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner).await;
        let r = app.post(&format!("/api/v1/accounts/{id}/invitations")).auth(&owner)
            .json(json!({"email": "eddie@example.test", "role": "editor"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let invite_token = r.body["token"].as_str().unwrap().to_string();
        let editor = app.user("eddie@example.test").await;
        let r = app.post(&format!("/api/v1/invitations/{invite_token}/accept")).auth(&editor).json(json!({})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);

        let (status, html) = page(&app, &editor, &format!("/accounts/{id}")).await;
        assert_eq!(status, 200, "{html}");
        assert!(!html.contains(&format!("/accounts/{id}/settings")), "no settings tab for an editor");
        let (status, html) = page(&app, &editor, &format!("/accounts/{id}/members")).await;
        assert_eq!(status, 200, "{html}");
        assert!(!html.contains("Create the invitation") && !html.contains("/remove"), "no invite form, no remove buttons");
        let token = csrf_in(&html);

        // Forms the editor never saw are refused by the server all the same.
        let form = [("csrf_token", token.as_str()), ("approvals_required", "1"), ("min_gap_minutes", "0"), ("max_members", "5"), ("time_zone", "UTC"), ("rules_text", "Mine now")];
        let (status, _, html) = post_form(&app, &editor.cookie(), &format!("/accounts/{id}/settings"), &form).await;
        assert_eq!(status, 403, "{html}");
        let (status, _, _) = post_form(&app, &editor.cookie(), &format!("/accounts/{id}/members/{}/remove", owner.user_id), &[("csrf_token", &token)]).await;
        assert_eq!(status, 403);
        let (status, _, _) = post_form(&app, &editor.cookie(), &format!("/accounts/{id}/invitations"), &[("csrf_token", &token), ("email", "x@example.test"), ("role", "viewer")]).await;
        assert_eq!(status, 403);
        let r = app.get(&format!("/api/v1/accounts/{id}")).auth(&owner).send().await;
        assert_eq!(r.body["rules"]["version"], 0, "nothing changed");
        // The refusals are in the owner's activity log like the API's.
        let r = app.get("/api/v1/me/activity").auth(&editor).send().await;
        let denied = r.body["items"].as_array().unwrap().iter().filter(|e| e["outcome"] == "denied").count();
        assert!(denied >= 3, "the page refusals were audited as denials ({denied})");

        // Someone who is not a member does not even learn the account exists.
        let stranger = app.user("sam@example.test").await;
        let (status, _) = page(&app, &stranger, &format!("/accounts/{id}")).await;
        assert_eq!(status, 404);
    }

    async fn sign_in_needs_the_pre_session_token_and_errors_sit_by_their_field(app: TestApp) {
        app.register("olivia@example.test").await;
        let (status, _, _) = post_form(&app, "", "/signin", &[("email", "olivia@example.test"), ("password", PASSWORD)]).await;
        assert_eq!(status, 403, "a sign-in form from elsewhere is refused (login CSRF)");

        let r = browser().get(format!("{}/signin", app.base)).send().await.unwrap();
        let cookie = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap().split(';').next().unwrap().to_string();
        let token = csrf_in(&r.text().await.unwrap());
        let (status, _, html) = post_form(&app, &cookie, "/signup", &[("csrf_token", &token), ("display_name", "Sam"), ("email", "not-an-email"), ("password", "short")]).await;
        assert_eq!(status, 422);
        assert!(html.contains("id=\"signup-email-err\"") && html.contains("id=\"signup-password-err\""), "{html}");
        assert!(!html.contains("value=\"short\""), "a password is never sent back");

        let r = browser().post(format!("{}/signin", app.base)).header("cookie", &cookie)
            .form(&[("csrf_token", token.as_str()), ("email", "olivia@example.test"), ("password", PASSWORD), ("next", "//evil.example/")])
            .send().await.unwrap();
        assert_eq!(r.status().as_u16(), 303);
        assert_eq!(r.headers().get("location").unwrap(), "/", "only local paths are followed");
        assert!(r.headers().get("set-cookie").and_then(|v| v.to_str().ok()).unwrap().starts_with("steward_session=sts_"));
    }
}
