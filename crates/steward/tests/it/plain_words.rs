//! No internal code or format reaches a person: every page an owner and an editor open is read
//! as the words it shows (tags and attributes removed), and fails on capability ids, stored
//! state names, RFC 3339 instants, JSON, "IANA" and raw browser identifiers.
use serde_json::json;
use steward_domain::capability::Capability;

use crate::helpers::html::page;
use crate::helpers::*;

/// The text a person reads: the page without its tags, comments and attribute values.
fn visible_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&quot;", "\"").replace("&#34;", "\"").replace("&#39;", "'").replace("&amp;", "&").replace("&#38;", "&")
}

/// What in `text` a person should never have to read, one finding each.
fn internal_words(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    // `lockdown` is a word as well as an id: only the dotted ids are codes.
    for c in Capability::ALL.into_iter().filter(|c| c.as_str().contains('.')) {
        if text.contains(c.as_str()) {
            found.push(format!("the capability id {}", c.as_str()));
        }
    }
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '@' || c == '.')) {
        let word = word.trim_matches('.');
        if word.starts_with('@') || word.contains('@') {
            continue;
        }
        // snake_case: lower-case words joined by underscores (`locked_down`, `in_review`).
        let parts: Vec<&str> = word.split('_').collect();
        if parts.len() > 1 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase())) {
            found.push(format!("the code {word}"));
        }
    }
    let bytes = text.as_bytes();
    for i in 0..bytes.len().saturating_sub(16) {
        let w = &bytes[i..i + 16];
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        if digits(0..4)
            && w[4] == b'-'
            && digits(5..7)
            && w[7] == b'-'
            && digits(8..10)
            && w[10] == b'T'
            && digits(11..13)
            && w[13] == b':'
            && digits(14..16)
        {
            found.push(format!("the instant {}", String::from_utf8_lossy(w)));
        }
    }
    for raw in ["{\"", "IANA", "Mozilla/5.0"] {
        if text.contains(raw) {
            found.push(format!("{raw:?}"));
        }
    }
    found
}

#[test]
fn the_reader_finds_what_it_is_meant_to_find() {
    let bad = visible_text(
        r#"<p title="in_review">Status: locked_down at 2026-12-04T10:00:00Z; {"a":1} IANA posts.approve Mozilla/5.0</p>"#,
    );
    let found = internal_words(&bad);
    assert_eq!(found.len(), 6, "{found:?}");
    let good = visible_text(
        r#"<p title="in_review" data-x="2026-12-04T10:00:00Z">Locked down · Fri 4 Dec 2026, 10:00 · eddie@example_shop.test · @my_shop</p>"#,
    );
    assert!(internal_words(&good).is_empty(), "{:?}", internal_words(&good));
}

both_backends! {
    async fn no_page_shows_internal_codes_to_an_owner_or_an_editor(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let r = app.post("/api/v1/accounts").auth(&owner)
            .json(json!({"platform": "sandbox", "handle": "@shop", "time_zone": "Europe/Paris", "credentials": {}})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.body["id"].as_str().unwrap().to_string();
        let editor = crate::helpers::accounts::member(&app, &owner, &id, "eddie@example.test", "editor").await;
        // Some history: settings changed, a post written, submitted, sent back, another held.
        // From a browser: the activity log names it in words, never by its raw identifier.
        let firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        let r = app.req(reqwest::Method::PATCH, &format!("/api/v1/accounts/{id}/settings")).auth(&owner)
            .header("user-agent", firefox).json(json!({"min_gap_minutes": 5})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app.post(&format!("/api/v1/accounts/{id}/posts")).auth(&editor).json(json!({"text": "Hello"})).send().await;
        let post = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(app.post(&format!("/api/v1/posts/{post}/submit")).auth(&editor).send().await.status, 200);
        let r = app.post(&format!("/api/v1/posts/{post}/request-changes")).auth(&owner).json(json!({"comment": "Warmer"})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app.post(&format!("/api/v1/accounts/{id}/posts")).auth(&owner).json(json!({"text": "Held one"})).send().await;
        let held = r.body["id"].as_str().unwrap().to_string();
        app.raw_sql(&format!("UPDATE posts SET state = 'approved', hold_reason = 'scheduler_lost_rights' WHERE id = '{held}'")).await;

        let account_pages = ["", "/posts", "/calendar", "/review", "/posts/new", "/members", "/activity", "/comments", "/analytics"];
        let owner_pages = ["/settings", "/settings/alerts", "/lockdown"];
        let mut paths: Vec<(String, &Session)> = Vec::new();
        for who in [&owner, &editor] {
            for p in ["/", "/security", "/activity", "/alerts", "/alerts/preferences", "/connect", "/calendar", "/compose"] {
                paths.push((p.to_string(), who));
            }
            for p in account_pages {
                paths.push((format!("/accounts/{id}{p}"), who));
            }
            paths.push((format!("/posts/{post}"), who));
            paths.push((format!("/posts/{held}"), who));
            paths.push((format!("/accounts/{id}/members/{}", editor.user_id), &owner));
        }
        for p in owner_pages {
            paths.push((format!("/accounts/{id}{p}"), &owner));
        }
        let mut failures = Vec::new();
        for (path, who) in &paths {
            let (status, html) = page(&app, who, path).await;
            if status != 200 {
                // A page the editor may not open says so in words; it is checked all the same.
                assert!(status == 403 || status == 404, "{path}: {status}");
            }
            for f in internal_words(&visible_text(&html)) {
                failures.push(format!("{path} (as {}): {f}", if who.user_id == owner.user_id { "owner" } else { "editor" }));
            }
        }
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/activity")).await;
        assert!(html.contains("Firefox on Windows"), "the browser in words: {html}");
        // A locked-down account says so in words wherever its status shows.
        let mut tx = app.state.store.begin().await.unwrap();
        tx.set_account_status(&steward_domain::ids::AccountId::new(id.clone()), "locked_down", app.clock.now_us()).await.unwrap();
        tx.commit().await.unwrap();
        for (path, who) in [("/".to_string(), &owner), (format!("/accounts/{id}"), &owner), ("/".to_string(), &editor)] {
            let (_, html) = page(&app, who, &path).await;
            assert!(html.contains("Locked down"), "{path}: {html}");
            for f in internal_words(&visible_text(&html)) {
                failures.push(format!("{path} (locked down): {f}"));
            }
        }
        failures.sort();
        failures.dedup();
        assert!(failures.is_empty(), "internal words on pages:\n{}", failures.join("\n"));
    }
}

both_backends! {
    async fn no_schedule_refusal_names_a_raw_instant(app: TestApp) {
        use crate::helpers::html::{csrf_in, post_form};
        use jiff::ToSpan;
        // Wednesday 10:30 UTC, a known hour: the posting windows below are open now.
        let today = app.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
        let mut wed = today.checked_add(1.day()).unwrap();
        while wed.weekday() != jiff::civil::Weekday::Wednesday {
            wed = wed.checked_add(1.day()).unwrap();
        }
        let target = wed.at(10, 30, 0, 0).to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp();
        app.clock.advance(std::time::Duration::from_micros(u64::try_from(target.as_microsecond() - app.clock.now_us()).unwrap()));
        let thu = wed.checked_add(1.day()).unwrap();

        let owner = app.user("olivia@example.test").await;
        let r = app.post("/api/v1/accounts").auth(&owner)
            .json(json!({"platform": "sandbox", "handle": "@shop", "time_zone": "Europe/Paris", "credentials": {}})).send().await;
        let id = r.body["id"].as_str().unwrap().to_string();
        let r = app.req(reqwest::Method::PATCH, &format!("/api/v1/accounts/{id}/settings")).auth(&owner)
            .json(json!({"min_gap_minutes": 60})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let r = crate::helpers::accounts::invite(&app, &owner, &id, json!({"email": "ada@example.test", "role": "admin",
            "windows": [{"days": every_day, "start": "09:00", "end": "19:00"}]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let ada = app.user("ada@example.test").await;
        let token = r.body["token"].as_str().unwrap();
        assert_eq!(app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&ada).send().await.status, 200);
        let approved = |text: &'static str| {
            let (app, owner, id) = (&app, &owner, &id);
            async move {
                let r = app.post(&format!("/api/v1/accounts/{id}/posts")).auth(owner).json(json!({"text": text})).send().await;
                let pid = r.body["id"].as_str().unwrap().to_string();
                assert_eq!(app.post(&format!("/api/v1/posts/{pid}/submit")).auth(owner).send().await.status, 200);
                let r = app.post(&format!("/api/v1/posts/{pid}/approve")).auth(owner).json(json!({"version": 1})).send().await;
                assert_eq!(r.body["state"], "approved", "{}", r.text);
                pid
            }
        };
        let first = approved("First").await;
        let r = app.post(&format!("/api/v1/posts/{first}/schedule")).auth(&owner).json(json!({"at": format!("{thu}T08:00:00Z")})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let second = approved("Second").await;

        let mut failures = Vec::new();
        let mut check = |what: &str, html: &str, expected: &str| {
            let words = visible_text(html);
            assert!(words.contains(expected), "{what}: expected {expected:?} in\n{words}");
            for f in internal_words(&words) {
                failures.push(format!("{what}: {f}"));
            }
        };
        // On the post page: too close to another post (09:30 in Paris, 30 minutes after it),
        // and, for Ada, outside her posting hours (20:00 in Paris: her next hours open at 09:00).
        for (who, at, what, expected) in [
            (&owner, format!("{thu}T09:30"), "too close", "Thu"),
            (&ada, format!("{thu}T20:00"), "outside posting hours", "opens at"),
        ] {
            let (_, page_html) = page(&app, who, &format!("/posts/{second}")).await;
            let (status, _, html) = post_form(&app, &who.cookie(), &format!("/posts/{second}/schedule"),
                &[("csrf_token", &csrf_in(&page_html)), ("at", &at)]).await;
            assert!(status == 403 || status == 409, "{what}: {status}");
            check(&format!("the post page ({what})"), &html, expected);
        }
        // On the calendar: the same refusals of a move, read in the grid's zone.
        let (_, cal) = page(&app, &ada, &format!("/calendar?account={id}")).await;
        let (status, _, html) = post_form(&app, &ada.cookie(), "/calendar/move", &[("csrf_token", &csrf_in(&cal)),
            ("back", &format!("/calendar?account={id}")), ("zone", "Europe/Paris"), ("post", &second),
            ("at", &format!("{thu}T20:00"))]).await;
        assert_eq!(status, 403);
        check("the calendar (outside posting hours)", &html, "The post was not moved");
        let (_, cal) = page(&app, &owner, &format!("/calendar?account={id}")).await;
        let (status, _, html) = post_form(&app, &owner.cookie(), "/calendar/move", &[("csrf_token", &csrf_in(&cal)),
            ("back", &format!("/calendar?account={id}")), ("zone", "Europe/Paris"), ("post", &second),
            ("at", &format!("{thu}T09:30"))]).await;
        assert_eq!(status, 409);
        check("the calendar (too close)", &html, "less than 60 minutes away");
        // Accepted, the author is told when in words.
        let (_, post_page) = page(&app, &ada, &format!("/posts/{second}")).await;
        let (status, _, _) = post_form(&app, &ada.cookie(), &format!("/posts/{second}/schedule"),
            &[("csrf_token", &csrf_in(&post_page)), ("at", &format!("{thu}T12:00"))]).await;
        assert_eq!(status, 303);
        let (_, html) = page(&app, &owner, "/notifications").await;
        check("the author's notifications", &html, "(Europe/Paris time)");
        failures.sort();
        assert!(failures.is_empty(), "internal words in refusals:\n{}", failures.join("\n"));
    }
}
