//! The web app over plain HTTP (no browser): every form needs its CSRF token, pages show API
//! errors by their fields, and what a member may not do is refused by the server too.
use serde_json::json;
use steward_domain::ids::AccountId;

use crate::helpers::html::{browser, csrf_in, page, post_form};
use crate::helpers::*;

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

/// An editor who accepted the invitation (the account has no house rules to accept).
async fn editor_on(app: &TestApp, owner: &Session, id: &str) -> Session {
    let r = app
        .post(&format!("/api/v1/accounts/{id}/invitations"))
        .auth(owner)
        .json(json!({"email": "eddie@example.test", "role": "editor"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let token = r.body["token"].as_str().unwrap().to_string();
    let editor = app.user("eddie@example.test").await;
    let r = app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&editor).json(json!({})).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    editor
}

/// A hidden field's value in a page.
fn hidden_in(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker).unwrap_or_else(|| panic!("no hidden {name}"));
    let rest = &html[at + marker.len()..];
    rest[..rest.find('"').expect("end of value")].replace("&quot;", "\"").replace("&#34;", "\"")
}

/// Writes a draft through the web form; answers its id.
async fn draft_in_browser(app: &TestApp, s: &Session, id: &str, text: &str) -> String {
    let (status, html) = page(app, s, &format!("/accounts/{id}/posts/new")).await;
    assert_eq!(status, 200, "{html}");
    let form = [
        ("csrf_token", csrf_in(&html)),
        ("idempotency_key", hidden_in(&html, "idempotency_key")),
        ("title", String::new()),
        ("text", text.to_string()),
        ("media", String::new()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, html) = post_form(app, &s.cookie(), &format!("/accounts/{id}/posts"), &form).await;
    assert_eq!(status, 303, "{html}");
    location.strip_prefix("/posts/").and_then(|l| l.split('?').next()).expect("the new post's page").to_string()
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
    async fn post_buttons_follow_capabilities_and_forged_actions_are_refused(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner).await;
        let editor = editor_on(&app, &owner, &id).await;
        let pid = draft_in_browser(&app, &editor, &id, "Spring sale starts Monday").await;
        let (status, html) = page(&app, &editor, &format!("/posts/{pid}")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Submit for review") && !html.contains("Approve version"), "{html}");
        let token = csrf_in(&html);
        let (status, _, _) = post_form(&app, &editor.cookie(), &format!("/posts/{pid}/submit"), &[("csrf_token", &token)]).await;
        assert_eq!(status, 303);

        // The editor may not approve: no button on the post or in the queue, and a forged
        // form is refused by the server (and audited as a denial).
        let (_, html) = page(&app, &editor, &format!("/posts/{pid}")).await;
        assert!(!html.contains("Approve version") && !html.contains("Publish now") && !html.contains("Request changes"), "{html}");
        let (status, html) = page(&app, &editor, &format!("/accounts/{id}/review")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Also in review") && !html.contains("/approve"), "{html}");
        let (status, _, html) = post_form(&app, &editor.cookie(), &format!("/posts/{pid}/approve"), &[("csrf_token", &token), ("version", "1")]).await;
        assert_eq!(status, 403, "{html}");
        assert!(html.contains("You may not approve posts on this account."), "the refusal says why, in words: {html}");
        let (status, _, _) = post_form(&app, &editor.cookie(), &format!("/posts/{pid}/publish-now"), &[("csrf_token", &token)]).await;
        assert_eq!(status, 403);
        let r = app.get(&format!("/api/v1/posts/{pid}")).auth(&owner).send().await;
        assert_eq!(r.body["state"], "in_review", "nothing changed");

        // The owner is told on the home page, approves from the queue and schedules.
        let (_, home) = page(&app, &owner, "/").await;
        assert!(home.contains(&format!("href=\"/accounts/{id}/review\">1 post waiting for your approval")), "{home}");
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/review")).await;
        assert!(html.contains("Waiting for your approval") && html.contains(&format!("/posts/{pid}/approve")), "{html}");
        let owner_token = csrf_in(&html);
        let (status, location, _) = post_form(&app, &owner.cookie(), &format!("/posts/{pid}/approve"), &[("csrf_token", &owner_token), ("version", "1"), ("from", "review")]).await;
        assert_eq!((status, location.as_str()), (303, format!("/accounts/{id}/review?notice=approved").as_str()));
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        assert!(html.contains("Publish now") && html.contains("id=\"schedule-at\""), "{html}");
        let (status, _, html) = post_form(&app, &owner.cookie(), &format!("/posts/{pid}/schedule"), &[("csrf_token", &owner_token), ("at", "2001-01-01T10:00")]).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("id=\"schedule-at-err\"") && html.contains("must be in the future"), "{html}");
        let at = app.clock.now().checked_add(jiff::SignedDuration::from_hours(48)).unwrap();
        let local = at.to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y-%m-%dT%H:%M").to_string();
        let (status, _, html) = post_form(&app, &owner.cookie(), &format!("/posts/{pid}/schedule"), &[("csrf_token", &owner_token), ("at", &local)]).await;
        assert_eq!(status, 303, "{html}");
        let r = app.get(&format!("/api/v1/posts/{pid}")).auth(&owner).send().await;
        assert_eq!(r.body["state"], "scheduled", "{}", r.text);

        // It is on the calendar of that week, with a link to it.
        let day = at.to_zoned(jiff::tz::TimeZone::UTC).date();
        let (status, html) = page(&app, &editor, &format!("/accounts/{id}/calendar?view=week&date={day}")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(&format!("href=\"/posts/{pid}\"")) && html.contains("Spring sale starts Monday"), "{html}");
        let far = at.to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(60)).unwrap();
        let (_, html) = page(&app, &editor, &format!("/accounts/{id}/calendar?date={far}")).await;
        assert!(!html.contains(&format!("/posts/{pid}")), "only the visible range is shown");
    }

    async fn too_long_text_and_stale_edits_are_refused_with_a_sentence(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner).await;
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/posts/new")).await;
        assert!(html.contains("0 of 500 characters"), "the sandbox's limit is shown: {html}");
        let token = csrf_in(&html);
        let long = "é".repeat(501);
        let (status, _, html) = post_form(&app, &owner.cookie(), &format!("/accounts/{id}/posts"), &[("csrf_token", &token), ("text", &long)]).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("id=\"edit-text-err\"") && html.contains("Text must be at most 500 characters on Sandbox"), "{html}");
        assert!(html.contains("501 of 500 characters: 1 too many"), "counted as the browser counts: {html}");
        let r = app.post(&format!("/api/v1/accounts/{id}/posts")).auth(&owner).json(json!({"text": long})).send().await;
        assert_eq!(r.status, 422, "the API refuses it too: {}", r.text);
        let r = app.post(&format!("/api/v1/accounts/{id}/posts")).auth(&owner).json(json!({"text": "é".repeat(500)})).send().await;
        assert_eq!(r.status, 201, "exactly the limit is fine: {}", r.text);

        // Two people edit at once: the second save is refused with a plain sentence.
        let pid = draft_in_browser(&app, &owner, &id, "First words").await;
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        let etag = hidden_in(&html, "etag");
        let token = csrf_in(&html);
        let r = app.get(&format!("/api/v1/posts/{pid}")).auth(&owner).send().await;
        let r = app.req(reqwest::Method::PATCH, &format!("/api/v1/posts/{pid}")).auth(&owner).header("if-match", r.header("etag").unwrap()).json(json!({"text": "Someone else's words"})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let (status, _, html) = post_form(&app, &owner.cookie(), &format!("/posts/{pid}"), &[("csrf_token", &token), ("etag", &etag), ("text", "My words")]).await;
        assert_eq!(status, 412, "{html}");
        assert!(html.contains("Someone else changed this post while you were editing it."), "{html}");
        assert!(html.contains(">My words</textarea>"), "what was typed is kept: {html}");
        let r = app.get(&format!("/api/v1/posts/{pid}")).auth(&owner).send().await;
        assert_eq!(r.body["text"], "Someone else's words");

        // With the current version the save works, and the page shows what changed.
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        let (status, _, html) = post_form(&app, &owner.cookie(), &format!("/posts/{pid}"), &[("csrf_token", &token), ("etag", &hidden_in(&html, "etag")), ("text", "Someone else's better words")]).await;
        assert_eq!(status, 303, "{html}");
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        assert!(html.contains("Version 3 compared with version 2") && html.contains("<ins>better </ins>"), "{html}");
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}?compare=2")).await;
        assert!(html.contains("<del>First</del>") && html.contains("else&#39;s"), "{html}");
    }

    async fn the_calendar_marks_published_failed_and_held_posts(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner).await;
        let at = app.clock.now_us() - 60_000_000;
        let day = jiff::Timestamp::from_microsecond(at).unwrap().to_zoned(jiff::tz::TimeZone::UTC).date();
        let mut ids = Vec::new();
        for (i, text) in ["Went out fine", "Platform said no", "Held back"].iter().enumerate() {
            let r = app.post(&format!("/api/v1/accounts/{id}/posts")).auth(&owner).json(json!({"text": text})).send().await;
            assert_eq!(r.status, 201, "{}", r.text);
            ids.push((i, r.body["id"].as_str().unwrap().to_string()));
        }
        // States the scheduler would leave them in (the scheduler's own tests cover how).
        app.raw_sql(&format!("UPDATE posts SET state = 'published', scheduled_at = {at}, published_at = {at} WHERE id = '{}'", ids[0].1)).await;
        app.raw_sql(&format!("UPDATE posts SET state = 'failed', scheduled_at = {at}, last_error = 'refused' WHERE id = '{}'", ids[1].1)).await;
        app.raw_sql(&format!("UPDATE posts SET state = 'approved', scheduled_at = NULL, hold_reason = 'pace_exceeded', updated_at = {at} WHERE id = '{}'", ids[2].1)).await;
        let (status, html) = page(&app, &owner, &format!("/accounts/{id}/calendar?view=week&date={day}")).await;
        assert_eq!(status, 200, "{html}");
        for (mark, text) in [("Published", "Went out fine"), ("Failed", "Platform said no"), ("Held", "Held back")] {
            assert!(html.contains(&format!("{mark}</span>")) && html.contains(text), "{mark} {text}: {html}");
        }
        assert!(html.contains("3 posts in this view"), "{html}");
        // A busy day: the month view shows six posts and links the rest to the week, the week
        // shows twenty and links the rest to the day, the day shows them in pages of a hundred.
        for i in 0..102 {
            let r = app.post(&format!("/api/v1/accounts/{id}/posts")).auth(&owner).json(json!({"text": format!("Busy {i:03}")})).send().await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        app.raw_sql(&format!("UPDATE posts SET state = 'published', scheduled_at = {at}, published_at = {at} WHERE text LIKE 'Busy%'")).await;
        let marks = |html: &str| html.matches("<span class=\"mark ").count();
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/calendar?date={day}")).await;
        assert!(html.contains("105 posts in this view") && html.contains(&format!("href=\"/accounts/{id}/calendar?view=week&#38;date={day}\">99 more")), "{html}");
        assert_eq!(marks(&html), 6, "{html}");
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/calendar?view=week&date={day}")).await;
        assert!(html.contains("105 posts in this view") && html.contains(&format!("href=\"/accounts/{id}/calendar?view=day&#38;date={day}\">85 more")), "{html}");
        assert_eq!(marks(&html), 20, "{html}");
        let (status, html) = page(&app, &owner, &format!("/accounts/{id}/calendar?view=day&date={day}")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("105 posts in this view; posts 1 to 100 are shown"), "{html}");
        assert_eq!(marks(&html), 100, "{html}");
        let later = format!("/accounts/{id}/calendar?view=day&date={day}&page=2");
        assert!(html.contains(&later.replace('&', "&#38;")) && !html.contains("Earlier posts"), "{html}");
        let (_, html) = page(&app, &owner, &later).await;
        assert!(html.contains("posts 101 to 105 are shown") && html.contains("Earlier posts") && !html.contains("Later posts"), "{html}");
        assert_eq!(marks(&html), 5, "{html}");
        // Posts of other days are not on the day's pages; bad views and pages are refused.
        assert!(!html.contains("Busy 000") && html.contains("Busy 101"), "the last page holds the latest posts: {html}");
        for bad in ["view=year", "view=day&page=0", "view=day&page=two"] {
            let (status, html) = page(&app, &owner, &format!("/accounts/{id}/calendar?date={day}&{bad}")).await;
            assert_eq!(status, 422, "{bad}: {html}");
        }
        let (status, html) = page(&app, &owner, &format!("/posts/{}", ids[2].1)).await;
        assert_eq!(status, 200);
        assert!(html.contains("pace limits did not allow it"), "{html}");
        let (status, _) = page(&app, &owner, &format!("/accounts/{id}/calendar?date=someday")).await;
        assert_eq!(status, 422);
    }
    async fn the_account_calendar_shows_planned_drafts_where_the_planning_calendar_does(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner).await;
        // Tomorrow 10:00 UTC (the account's zone), and the same hour five weeks on.
        let now = jiff::Timestamp::from_microsecond(app.clock.now_us()).unwrap().to_zoned(jiff::tz::TimeZone::UTC);
        let day = now.date().tomorrow().unwrap();
        let at = day.at(10, 0, 0, 0).to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp();
        let later = at.checked_add(jiff::SignedDuration::from_hours(35 * 24)).unwrap();
        for (text, when) in [("Planned launch", at), ("Planned much later", later)] {
            let r = app
                .post(&format!("/api/v1/accounts/{id}/posts"))
                .auth(&owner)
                .json(json!({"text": text, "planned_for": when.to_string()}))
                .send()
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
        }
        let r = app.post(&format!("/api/v1/accounts/{id}/posts")).auth(&owner).json(json!({"text": "No time yet"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        for view in ["day", "week", "month"] {
            let (status, html) = page(&app, &owner, &format!("/accounts/{id}/calendar?view={view}&date={day}")).await;
            assert_eq!(status, 200, "{html}");
            assert!(html.contains("Planned draft</span> 10:00 Planned launch"), "{view}: {html}");
            assert!(!html.contains("Planned much later") && !html.contains("No time yet"), "{view}: {html}");
            assert!(html.contains("1 post in this view"), "{view}: {html}");
        }
        // The planning calendar of the same week agrees.
        let (status, html) = page(&app, &owner, &format!("/calendar?date={day}&account={id}")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Planned launch"), "{html}");
    }
    async fn the_review_queue_shows_fifteen_posts_a_page_with_their_text(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner).await;
        let editor = editor_on(&app, &owner, &id).await;
        // Two approvals needed, so the queue says who approved what so far.
        let r = app.req(reqwest::Method::PATCH, &format!("/api/v1/accounts/{id}/settings")).auth(&owner).json(json!({"approvals_required": 2})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app.post(&format!("/api/v1/accounts/{id}/invitations")).auth(&owner).json(json!({"email": "ada@example.test", "role": "admin"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let admin = app.user("ada@example.test").await;
        let r = app.post(&format!("/api/v1/invitations/{}/accept", r.body["token"].as_str().unwrap())).auth(&admin).json(json!({})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut pids = Vec::new();
        for i in 0..23 {
            let r = app.post(&format!("/api/v1/accounts/{id}/posts")).auth(&editor).json(json!({"text": format!("Queued {i:02}")})).send().await;
            assert_eq!(r.status, 201, "{}", r.text);
            let pid = r.body["id"].as_str().unwrap().to_string();
            let r = app.post(&format!("/api/v1/posts/{pid}/submit")).auth(&editor).json(json!({})).send().await;
            assert_eq!(r.status, 200, "{}", r.text);
            pids.push(pid);
        }
        for (who, pid) in [(&owner, &pids[22]), (&admin, &pids[21]), (&admin, &pids[1])] {
            let r = app.post(&format!("/api/v1/posts/{pid}/approve")).auth(who).json(json!({"version": 1})).send().await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        let note_of = |html: &str, label: &str| -> String {
            let at = html.find(&format!(">{label}</a>")).unwrap_or_else(|| panic!("{label} in the queue: {html}"));
            let rest = &html[at..];
            let p = rest.find("<p class=\"hint\">").unwrap() + "<p class=\"hint\">".len();
            rest[p..p + rest[p..].find('<').unwrap()].to_string()
        };
        let approve_buttons = |html: &str| html.matches("/approve\"").count();
        let (status, html) = page(&app, &owner, &format!("/accounts/{id}/review")).await;
        assert_eq!(status, 200, "{html}");
        assert_eq!(approve_buttons(&html), 14, "15 posts, one of them already approved by the owner: {html}");
        assert!(html.contains("Queued 22") && !html.contains("Queued 02") && !html.contains("Newest posts in review"), "newest first: {html}");
        assert_eq!(note_of(&html, "Queued 22"), "You approved this version; it needs more approvals.");
        assert_eq!(note_of(&html, "Queued 21"), "1 approval so far.");
        assert_eq!(note_of(&html, "Queued 20"), "No approvals yet.");
        // Each post's text is there to read beside its buttons.
        assert!(html.contains("<div class=\"qtext\">Queued 20</div>"), "{html}");
        let at = html.find("href=\"/accounts/").and_then(|_| html.find("?before=")).expect("a link to the older posts");
        let start = html[..at].rfind('"').unwrap() + 1;
        let next = html[start..at + html[at..].find('"').unwrap()].replace("&#38;", "&");
        let (status, html) = page(&app, &owner, &next).await;
        assert_eq!(status, 200, "{html}");
        assert_eq!(approve_buttons(&html), 8, "{html}");
        assert!(html.contains("Queued 00") && html.contains("Queued 07") && !html.contains("Queued 08") && !html.contains("Older posts in review"), "{html}");
        assert!(html.contains("Newest posts in review"), "{html}");
        assert_eq!(note_of(&html, "Queued 01"), "1 approval so far.", "approvals on the second page are read too");
        assert_eq!(note_of(&html, "Queued 00"), "No approvals yet.");
        for bad in ["nonsense", "12.", "x.y"] {
            let (status, html) = page(&app, &owner, &format!("/accounts/{id}/review?before={bad}")).await;
            assert_eq!(status, 422, "{bad}: {html}");
        }
    }
    async fn changes_requested_go_back_to_the_author_with_the_comment(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner).await;
        let editor = editor_on(&app, &owner, &id).await;
        let pid = draft_in_browser(&app, &editor, &id, "Too loud").await;
        let (_, html) = page(&app, &editor, &format!("/posts/{pid}")).await;
        let token = csrf_in(&html);
        let (status, _, _) = post_form(&app, &editor.cookie(), &format!("/posts/{pid}/submit"), &[("csrf_token", &token)]).await;
        assert_eq!(status, 303);
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        let owner_token = csrf_in(&html);
        let (status, _, html) = post_form(&app, &owner.cookie(), &format!("/posts/{pid}/request-changes"), &[("csrf_token", &owner_token), ("comment", "  ")]).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("id=\"changes-comment-err\""), "the error sits by the comment field: {html}");
        let (status, _, _) = post_form(&app, &owner.cookie(), &format!("/posts/{pid}/request-changes"), &[("csrf_token", &owner_token), ("comment", "Softer, please.")]).await;
        assert_eq!(status, 303);
        let (_, html) = page(&app, &editor, &format!("/accounts/{id}/review")).await;
        assert!(html.contains("Needing changes") && html.contains("Changes were requested on your post."), "{html}");
        let (_, html) = page(&app, &editor, &format!("/posts/{pid}")).await;
        assert!(html.contains("requested changes") && html.contains("Softer, please."), "{html}");
        // The request leads the page, and the post no longer reads as waiting for approvals.
        let request = html.find("olivia asked for changes").unwrap_or_else(|| panic!("the request on top: {html}"));
        assert!(request < html.find("What next").unwrap_or(usize::MAX), "{html}");
        assert!(!html.contains("It needs 1 approval"), "{html}");
        // The author's home leads with it too, before their accounts.
        let (_, home) = page(&app, &editor, "/").await;
        let needs = home.find("Needs you").unwrap_or_else(|| panic!("a needs-you list: {home}"));
        assert!(needs < home.find("class=\"cards\"").unwrap(), "{home}");
        assert!(home.contains("Changes requested on") && home.contains("olivia asked: Softer, please."), "{home}");
        assert!(home.contains(&format!("href=\"/posts/{pid}\"")), "{home}");
        let (status, _, _) = post_form(&app, &editor.cookie(), &format!("/posts/{pid}/comments"), &[("csrf_token", &token), ("body", "Will do.")]).await;
        assert_eq!(status, 303);
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        assert!(html.contains("Will do."), "{html}");
        // The author may cancel their own post; nobody may act on it afterwards.
        let (status, _, html) = post_form(&app, &editor.cookie(), &format!("/posts/{pid}/cancel"), &[("csrf_token", &token)]).await;
        assert_eq!(status, 200, "the first press asks");
        assert!(html.contains("Yes, cancel the post"), "{html}");
        let r = app.get(&format!("/api/v1/posts/{pid}")).auth(&editor).send().await;
        assert_eq!(r.body["state"], "draft", "asking changed nothing");
        let (status, _, _) = post_form(&app, &editor.cookie(), &format!("/posts/{pid}/cancel"), &[("csrf_token", &token), ("confirm", "yes")]).await;
        assert_eq!(status, 303);
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        assert!(html.contains("Cancelled") && !html.contains("Publish now") && !html.contains("Save changes"), "{html}");
    }
}

both_backends! {
    async fn a_full_review_queue_stays_under_100_kb_whatever_the_text(app: TestApp) {
        // The worst text for weight: every character escapes to five bytes.
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner).await;
        let editor = editor_on(&app, &owner, &id).await;
        for _ in 0..21 {
            let r = app.post(&format!("/api/v1/accounts/{id}/posts")).auth(&editor).json(json!({"text": "&".repeat(500)})).send().await;
            assert_eq!(r.status, 201, "{}", r.text);
            let pid = r.body["id"].as_str().unwrap().to_string();
            assert_eq!(app.post(&format!("/api/v1/posts/{pid}/submit")).auth(&editor).json(json!({})).send().await.status, 200);
        }
        let (status, html) = page(&app, &owner, &format!("/accounts/{id}/review")).await;
        assert_eq!(status, 200, "{html}");
        assert_eq!(html.matches("/approve\"").count(), 15, "a full page");
        let assets = include_str!("../../../server/src/web/assets/steward.css").len()
            + include_str!("../../../server/src/web/assets/steward.js").len();
        let total = html.len() + assets;
        eprintln!("page-weight review queue, 15 posts of 500 '&': html {} B + assets {assets} B = {total} B", html.len());
        assert!(total <= 100 * 1024, "{total} bytes");
    }
    async fn an_account_whose_credential_was_refused_shows_its_owner_one_reconnect_action(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        crate::helpers::seed::linkedin_member_account(&app, &owner.user_id, "li-dead").await;
        let r = app.post("/api/v1/accounts/li-dead/invitations").auth(&owner)
            .json(json!({"email": "mo@example.test", "role": "moderator"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let moderator = app.user("mo@example.test").await;
        let token = r.body["token"].as_str().unwrap();
        assert_eq!(app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&moderator).send().await.status, 200);

        // While the credential works, the connection card offers a test and a reconnection.
        let (status, html) = page(&app, &owner, "/accounts/li-dead").await;
        assert_eq!(status, 200);
        assert!(!html.contains("Reconnect this account") && html.contains("Test the connection"), "{html}");

        let mut tx = app.state.store.begin().await.unwrap();
        tx.set_account_status(&AccountId::from("li-dead"), "needs_reconnect", app.clock.now_us()).await.unwrap();
        tx.commit().await.unwrap();
        let (status, html) = page(&app, &owner, "/accounts/li-dead").await;
        assert_eq!(status, 200);
        assert!(html.contains("Reconnect this account") && html.contains("role=\"alert\""), "{html}");
        assert_eq!(html.matches("action=\"/connect/oauth\"").count(), 1, "one reconnect action: {html}");
        assert!(html.contains("Reconnect with LinkedIn"), "{html}");
        assert!(!html.contains("Test the connection"), "no action that cannot work: {html}");
        // A collaborator is told, and offered nothing they cannot do.
        let (_, html) = page(&app, &moderator, "/accounts/li-dead").await;
        assert!(html.contains("Reconnect this account") && html.contains("Only the account's owner can reconnect it"), "{html}");
        assert!(!html.contains("action=\"/connect/oauth\""), "{html}");
    }
}

both_backends! {
    async fn the_posts_page_lists_every_post_by_state_and_author_a_page_at_a_time(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner).await;
        let editor = editor_on(&app, &owner, &id).await;
        // A draft saved in the browser has a page that lists it.
        let draft = draft_in_browser(&app, &editor, &id, "Saved for later").await;
        let (status, html) = page(&app, &editor, &format!("/accounts/{id}")).await;
        assert_eq!(status, 200);
        assert!(html.contains(&format!("href=\"/accounts/{id}/posts\"")), "the account links to its posts: {html}");
        let (status, html) = page(&app, &editor, &format!("/accounts/{id}/posts")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains(&format!("href=\"/posts/{draft}\"")) && html.contains("Saved for later"), "{html}");
        // A post sent back, one in review, one held when due, one cancelled, by either author.
        let mk = async |who: &Session, text: &str| {
            let r = app.post(&format!("/api/v1/accounts/{id}/posts")).auth(who).json(json!({"text": text})).send().await;
            assert_eq!(r.status, 201, "{}", r.text);
            r.body["id"].as_str().unwrap().to_string()
        };
        let back = mk(&editor, "Sent back").await;
        assert_eq!(app.post(&format!("/api/v1/posts/{back}/submit")).auth(&editor).send().await.status, 200);
        let r = app.post(&format!("/api/v1/posts/{back}/request-changes")).auth(&owner).json(json!({"comment": "Shorter"})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let waiting = mk(&editor, "Waiting in review").await;
        assert_eq!(app.post(&format!("/api/v1/posts/{waiting}/submit")).auth(&editor).send().await.status, 200);
        let held = mk(&owner, "Held at noon").await;
        app.raw_sql(&format!("UPDATE posts SET state = 'approved', scheduled_at = NULL, hold_reason = 'pace_exceeded' WHERE id = '{held}'")).await;
        let gone = mk(&owner, "Called off").await;
        assert_eq!(app.post(&format!("/api/v1/posts/{gone}/cancel")).auth(&owner).send().await.status, 200);

        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/posts")).await;
        for text in ["Saved for later", "Sent back", "Waiting in review", "Held at noon", "Called off"] {
            assert!(html.contains(text), "{text} is listed: {html}");
        }
        assert!(html.contains("Held when due") && html.contains("Cancelled") && html.contains("In review"), "states in words: {html}");
        let shown = |html: &str| ["Saved for later", "Sent back", "Waiting in review", "Held at noon", "Called off"]
            .into_iter().filter(|t| html.contains(&format!(">{t}</a>"))).collect::<Vec<_>>();
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/posts?state=draft")).await;
        assert_eq!(shown(&html), ["Saved for later", "Sent back"]);
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/posts?state=changes_requested")).await;
        assert_eq!(shown(&html), ["Sent back"]);
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/posts?state=held")).await;
        assert_eq!(shown(&html), ["Held at noon"]);
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/posts?state=cancelled")).await;
        assert_eq!(shown(&html), ["Called off"]);
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/posts?author={}", owner.user_id)).await;
        assert_eq!(shown(&html), ["Held at noon", "Called off"]);
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/posts?state=in_review&author={}", editor.user_id)).await;
        assert_eq!(shown(&html), ["Waiting in review"]);
        let (status, html) = page(&app, &owner, &format!("/accounts/{id}/posts?state=lost")).await;
        assert_eq!(status, 422, "{html}");

        // The owner's home: the post to review and the held post come first.
        let (_, home) = page(&app, &owner, "/").await;
        let needs = home.find("Needs you").unwrap_or_else(|| panic!("{home}"));
        assert!(needs < home.find("class=\"cards\"").unwrap(), "{home}");
        assert!(home.contains("1 post is waiting for your approval") && home.contains("Held: \u{201c}Held at noon\u{201d}"), "{home}");
        assert!(home.contains("the account&#39;s pace limits") || home.contains("the account's pace limits"), "why it was held: {home}");
        // The editor may not reschedule the owner's held post: it is not theirs to see on the home.
        let (_, home) = page(&app, &editor, "/").await;
        assert!(!home.contains("Held at noon") && home.contains("Sent back"), "{home}");

        // Fifty a page, newest first; the next page follows on.
        for i in 0..50 {
            mk(&editor, &format!("Bulk {i:02}")).await;
        }
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/posts?author={}", editor.user_id)).await;
        assert!(html.contains(">Bulk 49</a>") && html.contains(">Bulk 00</a>") && !html.contains("Waiting in review"), "{html}");
        let at = html.find("rel=\"next\"").expect("a link to older posts");
        let start = html[..at].rfind("href=\"").unwrap() + 6;
        let next = html[start..start + html[start..].find('"').unwrap()].replace("&#38;", "&").replace("&amp;", "&");
        let (status, html) = page(&app, &owner, &next).await;
        assert_eq!(status, 200, "{next}: {html}");
        assert!(html.contains("Waiting in review") && html.contains("Saved for later") && html.contains("Newest posts"), "{html}");
        assert!(!html.contains(">Bulk 00</a>") && !html.contains("Held at noon"), "the author filter is kept: {html}");
    }

    async fn cancelling_removing_and_logging_out_everywhere_ask_first(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner).await;
        let editor = editor_on(&app, &owner, &id).await;
        // Removing a member: the first press answers a question and changes nothing.
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/members")).await;
        assert!(html.contains("data-confirm=\"Remove eddie"), "the dialog's question where script runs: {html}");
        let token = csrf_in(&html);
        let remove = format!("/accounts/{id}/members/{}/remove", editor.user_id);
        let (status, _, html) = post_form(&app, &owner.cookie(), &remove, &[("csrf_token", &token)]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Remove eddie") && html.contains("Yes, remove eddie") && html.contains("No, go back"), "{html}");
        assert_eq!(app.get(&format!("/api/v1/accounts/{id}")).auth(&editor).send().await.status, 200, "still a member");
        let (status, location, _) = post_form(&app, &owner.cookie(), &remove, &[("csrf_token", &token), ("confirm", "yes")]).await;
        assert_eq!((status, location.as_str()), (303, format!("/accounts/{id}/members?notice=removed").as_str()));
        assert_eq!(app.get(&format!("/api/v1/accounts/{id}")).auth(&editor).send().await.status, 404);

        // Logging out everywhere.
        let (_, html) = page(&app, &owner, "/security").await;
        let token = csrf_in(&html);
        let (status, _, html) = post_form(&app, &owner.cookie(), "/security/sessions/revoke-all", &[("csrf_token", &token), ("keep_current", "false"), ("include_tokens", "true")]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Yes, log out everywhere") && html.contains("name=\"include_tokens\" value=\"true\""), "{html}");
        assert_eq!(app.get("/api/v1/me").auth(&owner).send().await.status, 200, "still signed in");
        let (status, location, _) = post_form(&app, &owner.cookie(), "/security/sessions/revoke-all", &[("csrf_token", &token), ("keep_current", "false"), ("include_tokens", "true"), ("confirm", "yes")]).await;
        assert_eq!((status, location.as_str()), (303, "/signin?notice=everywhere"));
        assert_eq!(app.get("/api/v1/me").auth(&owner).send().await.status, 401);
    }
}
