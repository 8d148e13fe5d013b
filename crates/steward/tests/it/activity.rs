//! The activity dashboard: filters, cursor pages, CSV and JSON Lines export.
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::accounts::{member, sandbox_account};
use crate::helpers::*;

/// An account with an owner and an editor, some member changes an hour apart, and denials.
struct Fixture {
    owner: Session,
    editor: Session,
    account: String,
    /// RFC 3339 instant between the first and the second half of the activity.
    midpoint: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let owner = app.user("owner@example.com").await;
    let account = sandbox_account(app, &owner, "@acts").await;
    let editor = member(app, &owner, &account, "editor@example.com", "editor").await;
    app.clock.advance(Duration::from_secs(3600));
    let midpoint = app.clock.now().to_string();
    app.clock.advance(Duration::from_secs(3600));
    for i in 0..3 {
        let r = app
            .post(&format!("/api/v1/accounts/{account}/invitations"))
            .auth(&owner)
            .json(json!({"email": format!("invitee{i}@example.com"), "role": "viewer"}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // The editor tries twice what an editor may not do.
    for _ in 0..2 {
        let r = app
            .req(Method::PATCH, &format!("/api/v1/accounts/{account}/settings"))
            .auth(&editor)
            .json(json!({"min_gap_minutes": 5}))
            .send()
            .await;
        assert_eq!(r.status, 403);
    }
    Fixture { owner, editor, account, midpoint }
}

async fn items(app: &TestApp, who: &Session, path: &str) -> Vec<Value> {
    let r = app.get(path).auth(who).send().await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

fn actions(items: &[Value]) -> Vec<&str> {
    items.iter().map(|e| e["action"].as_str().unwrap()).collect()
}

both_backends! {
    async fn account_activity_filters_by_actor_action_outcome_and_time(app: TestApp) {
        let f = fixture(&app).await;
        let base = format!("/api/v1/accounts/{}/activity", f.account);
        let all = items(&app, &f.owner, &format!("{base}?limit=500")).await;
        assert_eq!(
            actions(&all),
            ["accounts.settings.update", "accounts.settings.update", "members.invite", "members.invite", "members.invite",
             "members.join", "members.invite", "accounts.create"],
            "newest first, only this account's events"
        );
        for e in &all {
            for field in ["id", "at", "actor_id", "actor_email", "session_id", "ip", "user_agent", "action", "target", "outcome", "detail"] {
                assert!(e.get(field).is_some(), "event lacks {field}: {e}");
            }
            assert!(e["detail"].is_string(), "detail is words: {e}");
        }
        let denied = &all[0];
        assert_eq!(denied["outcome"], "denied");
        assert_eq!(denied["actor_email"], "editor@example.com");
        let words = denied["detail"].as_str().unwrap();
        assert!(words.starts_with("editor@example.com was refused: changed the settings"), "{words}");
        assert!(words.contains("settings.manage"), "the reason is given: {words}");
        let invite_words = all[2]["detail"].as_str().unwrap();
        assert!(invite_words.starts_with("owner@example.com invited a member"), "{invite_words}");

        let by_editor = items(&app, &f.owner, &format!("{base}?actor={}", f.editor.user_id)).await;
        assert_eq!(actions(&by_editor), ["accounts.settings.update", "accounts.settings.update", "members.join"]);
        let exact = items(&app, &f.owner, &format!("{base}?action=members.invite")).await;
        assert_eq!(exact.len(), 4);
        let prefix = items(&app, &f.owner, &format!("{base}?action=members.")).await;
        assert_eq!(prefix.len(), 5, "members.invite ×4 and members.join");
        let no_dot = items(&app, &f.owner, &format!("{base}?action=members")).await;
        assert!(no_dot.is_empty(), "without the dot it is an exact action");
        let denied = items(&app, &f.owner, &format!("{base}?outcome=denied")).await;
        assert_eq!(denied.len(), 2);
        let allowed_by_editor = items(&app, &f.owner, &format!("{base}?outcome=allowed&actor={}", f.editor.user_id)).await;
        assert_eq!(actions(&allowed_by_editor), ["members.join"]);

        let since = items(&app, &f.owner, &format!("{base}?since={}", f.midpoint)).await;
        assert_eq!(since.len(), 5, "the three invitations and two denials came after the midpoint");
        let until = items(&app, &f.owner, &format!("{base}?until={}", f.midpoint)).await;
        assert_eq!(actions(&until), ["members.join", "members.invite", "accounts.create"]);
        // since is inclusive and until exclusive: an event exactly at the bound is in `since` only.
        let at = all[0]["at"].as_str().unwrap();
        let exactly = items(&app, &f.owner, &format!("{base}?since={at}&until={at}")).await;
        assert!(exactly.is_empty());
        let from_it = items(&app, &f.owner, &format!("{base}?since={at}&outcome=denied")).await;
        assert!(!from_it.is_empty());
        let q = format!("{base}?actor={}&since={}&action=accounts.", f.editor.user_id, f.midpoint);
        assert_eq!(items(&app, &f.owner, &q).await.len(), 2, "filters combine");
    }

    async fn account_activity_pages_with_a_cursor(app: TestApp) {
        let f = fixture(&app).await;
        let base = format!("/api/v1/accounts/{}/activity", f.account);
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("{base}?limit=3&cursor={c}"),
                None => format!("{base}?limit=3"),
            };
            let page = app.get(&path).auth(&f.owner).send().await;
            assert_eq!(page.status, 200, "{}", page.text);
            let got = page.body["items"].as_array().unwrap();
            assert!(got.len() <= 3);
            seen.extend(got.iter().map(|e| e["id"].as_str().unwrap().to_string()));
            cursor = page.body["next_cursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        let all = items(&app, &f.owner, &format!("{base}?limit=500")).await;
        let ids: Vec<String> = all.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
        assert_eq!(seen, ids, "pages cover everything once, in order");
    }

    async fn bad_filters_are_validation_problems(app: TestApp) {
        let f = fixture(&app).await;
        let base = format!("/api/v1/accounts/{}/activity", f.account);
        for (q, field) in [("outcome=maybe", "outcome"), ("since=yesterday", "since"), ("until=2027-13-01", "until"),
                           ("cursor=nope", "cursor"), ("format=xml", "format"), ("limit=0", "limit")] {
            let r = app.get(&format!("{base}?{q}")).auth(&f.owner).send().await;
            r.assert_problem(422, "validation");
            assert!(r.text.contains(field), "{q}: {}", r.text);
        }
    }

    async fn csv_and_jsonl_export_the_whole_filtered_set(app: TestApp) {
        let f = fixture(&app).await;
        let base = format!("/api/v1/accounts/{}/activity", f.account);
        let all = items(&app, &f.owner, &format!("{base}?limit=500")).await;

        let csv = app.get(&format!("{base}?format=csv")).auth(&f.owner).send().await;
        assert_eq!(csv.status, 200);
        assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
        let mut lines = csv.text.split("\r\n");
        assert_eq!(lines.next(), Some("id,at,actor_id,actor_email,session_id,ip,user_agent,action,target,outcome,detail"));
        let rows: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
        assert_eq!(rows.len(), all.len());
        for (row, ev) in rows.iter().zip(&all) {
            assert!(row.starts_with(&format!("{},{},", ev["id"].as_str().unwrap(), ev["at"].as_str().unwrap())), "{row}");
            assert!(row.contains(ev["action"].as_str().unwrap()));
        }
        let by_accept = app.get(&base).auth(&f.owner).header("accept", "text/csv").send().await;
        assert_eq!(by_accept.text, csv.text, "Accept: text/csv is the same export");

        let denied_csv = app.get(&format!("{base}?format=csv&outcome=denied")).auth(&f.owner).send().await;
        assert_eq!(denied_csv.text.split("\r\n").filter(|l| !l.is_empty()).count(), 3, "header and two denials");

        let jsonl = app.get(&base).auth(&f.owner).header("accept", "application/x-ndjson").send().await;
        assert_eq!(jsonl.status, 200);
        assert_eq!(jsonl.header("content-type"), Some("application/x-ndjson"));
        let parsed: Vec<Value> = jsonl.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(&parsed, &all, "JSON Lines carries the same events as the pages");
        let by_param = app.get(&format!("{base}?format=jsonl&action=members.")).auth(&f.owner).send().await;
        assert_eq!(by_param.text.lines().count(), 5);
    }

    async fn an_export_larger_than_a_page_streams_every_event(app: TestApp) {
        let owner = app.user("bulk@example.com").await;
        let account = sandbox_account(&app, &owner, "@bulk").await;
        // More events than one export page (1000): recorded straight into the store.
        for i in 0..2_345 {
            app.state.store.append_audit(steward_store::NewAuditEvent {
                id: uuid_like(i),
                at: app.clock.now_us() + i,
                actor_id: Some(owner.user_id.as_str().into()),
                actor_email: Some("bulk@example.com".into()),
                action: "accounts.check".into(),
                account_id: Some(account.as_str().into()),
                outcome: "allowed".into(),
                detail: "{\"status\":\"active\"}".into(),
                ..Default::default()
            }).await.unwrap();
        }
        let csv = app.get(&format!("/api/v1/accounts/{account}/activity?format=csv&action=accounts.check")).auth(&owner).send().await;
        assert_eq!(csv.status, 200);
        assert_eq!(csv.text.split("\r\n").filter(|l| !l.is_empty()).count(), 2_346);
        let ids: std::collections::HashSet<&str> = csv.text.split("\r\n").skip(1).filter_map(|l| l.split(',').next()).filter(|s| !s.is_empty()).collect();
        assert_eq!(ids.len(), 2_345, "no event twice, none missing");
    }

    async fn my_activity_has_the_same_shape_and_filters(app: TestApp) {
        let f = fixture(&app).await;
        let mine = items(&app, &f.editor, "/api/v1/me/activity?limit=500").await;
        assert!(mine.iter().all(|e| e["actor_id"] == f.editor.user_id.as_str()));
        assert_eq!(actions(&mine)[..3], ["accounts.settings.update", "accounts.settings.update", "members.join"]);
        let denied = items(&app, &f.editor, "/api/v1/me/activity?outcome=denied").await;
        assert_eq!(denied.len(), 2);
        // `actor` cannot widen it to someone else's events.
        let other = items(&app, &f.editor, &format!("/api/v1/me/activity?actor={}", f.owner.user_id)).await;
        assert!(other.iter().all(|e| e["actor_id"] == f.editor.user_id.as_str()));
        let csv = app.get("/api/v1/me/activity?format=csv").auth(&f.editor).send().await;
        assert_eq!(csv.text.split("\r\n").filter(|l| !l.is_empty()).count(), mine.len() + 1);
    }
}

fn uuid_like(i: i64) -> String {
    format!("00000000-0000-7000-8000-{i:012}")
}
