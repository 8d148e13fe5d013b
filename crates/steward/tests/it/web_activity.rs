//! The activity, alerts and lockdown pages over plain HTTP: filters narrow the log, pages go
//! both ways, a member without `audit.view` is refused, acknowledging lowers the unread count,
//! thresholds and preferences are saved through the API's validation, and lockdown acts only
//! once confirmed.
use reqwest::Method;
use serde_json::json;

use crate::helpers::accounts::{member, sandbox_account};
use crate::helpers::html::{browser, csrf_in, page, post_form};
use crate::helpers::*;

/// The log's entries only (the filter form lists action names too).
fn events(html: &str) -> &str {
    match (html.find("<ol class=\"events\">"), html.find("</ol>")) {
        (Some(a), Some(b)) if b > a => &html[a..b],
        _ => "",
    }
}

/// The `href` of the link marked `rel`, unescaped.
fn link(html: &str, rel: &str) -> Option<String> {
    let at = html.find(&format!("rel=\"{rel}\""))?;
    let start = html[..at].rfind("href=\"")? + "href=\"".len();
    Some(html[start..at].trim_end().trim_end_matches('"').replace("&#38;", "&").replace("&amp;", "&"))
}

both_backends! {
    async fn activity_filters_narrow_the_log_and_pages_go_both_ways(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner, "@shop").await;
        let editor = member(&app, &owner, &id, "eddie@example.test", "editor").await;
        // The editor is refused a settings change: a denial on the account's log.
        let r = app.req(Method::PATCH, &format!("/api/v1/accounts/{id}/settings")).auth(&editor).json(json!({"min_gap_minutes": 1})).send().await;
        r.assert_problem(403, "forbidden");
        let log = format!("/accounts/{id}/activity");

        let (status, html) = page(&app, &owner, &log).await;
        assert_eq!(status, 200, "{html}");
        let all = events(&html);
        assert!(all.contains("invited a member") && all.contains("joined") && all.contains("refused"), "{all}");
        assert!(all.contains("eddie@example.test") && all.contains("IP "), "who and from where: {all}");
        assert!(html.contains("<svg class=\"chart\"") && html.contains("The chart as a table"), "the chart and its table");
        assert!(html.contains(&format!("/api/v1/accounts/{id}/activity?format=csv")), "an export link");

        let (_, html) = page(&app, &owner, &format!("{log}?actor={}", editor.user_id)).await;
        let mine = events(&html);
        assert!(mine.contains("joined") && !mine.contains("invited a member"), "only the editor's: {mine}");
        let export = html.split("href=\"").find(|h| h.contains("format=csv")).unwrap_or("");
        assert!(export.contains(&format!("actor={}", editor.user_id)), "the export keeps the filter: {export}");
        let (_, html) = page(&app, &owner, &format!("{log}?outcome=denied")).await;
        let denied = events(&html);
        assert!(denied.contains("refused") && !denied.contains("joined"), "{denied}");
        let (_, html) = page(&app, &owner, &format!("{log}?action=members.")).await;
        let changes = events(&html);
        assert!(changes.contains("invited a member") && changes.contains("joined") && !changes.contains("refused"), "{changes}");
        let tomorrow = app.clock.now().checked_add(jiff::SignedDuration::from_hours(48)).unwrap().strftime("%Y-%m-%d").to_string();
        let (_, html) = page(&app, &owner, &format!("{log}?from={tomorrow}")).await;
        assert!(html.contains("Nothing matches."), "{html}");
        let (status, html) = page(&app, &owner, &format!("{log}?from=yesterday")).await;
        assert_eq!(status, 422);
        assert!(html.contains("id=\"filter-from-err\""), "the error by its field: {html}");

        // The export streams the filtered set as CSV, with the API's columns.
        let r = browser().get(format!("{}/api/v1/accounts/{id}/activity?format=csv&actor={}", app.base, editor.user_id))
            .header("cookie", owner.cookie()).send().await.unwrap();
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
        let csv = r.text().await.unwrap();
        assert!(csv.starts_with("id,at,actor_id,actor_email,session_id,ip,user_agent,action,target,outcome,detail\r\n"), "{csv}");
        assert!(csv.lines().skip(1).all(|l| l.contains("eddie@example.test")), "{csv}");

        // 30 more events: two pages of 25, "Older" then "Newer" back to the first.
        for n in 0..30 {
            let r = app.req(Method::PATCH, &format!("/api/v1/accounts/{id}/settings")).auth(&owner).json(json!({"min_gap_minutes": n})).send().await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        let (_, first) = page(&app, &owner, &log).await;
        assert_eq!(events(&first).matches("<li class=\"event").count(), 25);
        assert!(link(&first, "prev").is_none(), "the first page has nothing newer");
        let older = link(&first, "next").expect("an Older link");
        let (status, second) = page(&app, &owner, &older).await;
        assert_eq!(status, 200, "{older}: {second}");
        assert!(events(&second).matches("<li class=\"event").count() >= 5);
        assert_ne!(events(&second), events(&first));
        let newer = link(&second, "prev").expect("a Newer link");
        let (_, back) = page(&app, &owner, &newer).await;
        assert_eq!(events(&back), events(&first), "Newer leads back to the first page");

        // Someone without `audit.view` is refused, the denial recorded like the API's.
        let (status, html) = page(&app, &editor, &log).await;
        assert_eq!(status, 403, "{html}");
        let (_, html) = page(&app, &editor, &format!("/accounts/{id}")).await;
        assert!(!html.contains(&log), "no Activity tab for an editor");
        let r = app.get(&format!("/api/v1/accounts/{id}/activity?outcome=denied&actor={}", editor.user_id)).auth(&owner).send().await;
        assert!(r.body["items"].as_array().unwrap().iter().any(|e| e["action"] == "accounts.activity.read"), "{}", r.text);

        // My own activity: only mine.
        let (status, html) = page(&app, &editor, "/activity").await;
        assert_eq!(status, 200, "{html}");
        let mine = events(&html);
        assert!(mine.contains("joined") && !mine.contains("invited a member"), "{mine}");
    }

    async fn acknowledging_alerts_lowers_the_unread_count(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner, "@shop").await;
        let admin = member(&app, &owner, &id, "ada@example.test", "admin").await;
        let patch = async |n: i64| {
            let r = app.req(Method::PATCH, &format!("/api/v1/accounts/{id}/settings")).auth(&admin).json(json!({"min_gap_minutes": n})).send().await;
            assert_eq!(r.status, 200, "{}", r.text);
        };
        patch(3).await;
        let (_, home) = page(&app, &owner, "/").await;
        assert!(home.contains("1 unread alert") && home.contains("href=\"/alerts\""), "{home}");
        let (status, html) = page(&app, &owner, "/alerts").await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Unread (1)") && html.contains("made a change on @shop"), "{html}");
        let token = csrf_in(&html);
        let alert = app.get("/api/v1/alerts?unacknowledged=true").auth(&owner).send().await.body["items"][0]["id"].as_str().unwrap().to_string();
        let (status, location, _) = post_form(&app, &owner.cookie(), &format!("/alerts/{alert}/ack"), &[]).await;
        assert_eq!(status, 403, "no CSRF token: refused");
        assert!(location.is_empty());
        let (status, location, _) = post_form(&app, &owner.cookie(), &format!("/alerts/{alert}/ack"), &[("csrf_token", &token)]).await;
        assert_eq!((status, location.as_str()), (303, "/alerts?notice=acked"));
        let (_, home) = page(&app, &owner, "/").await;
        assert!(!home.contains("unread alert"), "{home}");
        let (_, html) = page(&app, &owner, "/alerts").await;
        assert!(html.contains("Unread (0)") && html.contains("made a change on @shop"), "still listed, as read: {html}");

        // Two new ones (the first is acknowledged, so nothing groups into it), then all at once.
        patch(4).await;
        let r = app.post(&format!("/api/v1/accounts/{id}/invitations")).auth(&admin).json(json!({"email": "new@example.test", "role": "viewer"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let (_, home) = page(&app, &owner, "/").await;
        assert!(home.contains("2 unread alerts"), "{home}");
        let (status, location, _) = post_form(&app, &owner.cookie(), "/alerts/ack-all", &[("csrf_token", &token)]).await;
        assert_eq!((status, location.as_str()), (303, "/alerts?notice=all_acked"));
        let r = app.get("/api/v1/alerts?unacknowledged=true").auth(&owner).send().await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{}", r.text);
        let (_, home) = page(&app, &owner, "/").await;
        assert!(!home.contains("unread alert"), "{home}");

        // Preferences go through the API's validation.
        let (status, html) = page(&app, &owner, "/alerts/preferences").await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("This server sends no email"), "mail is off in tests: {html}");
        let (status, _, html) = post_form(&app, &owner.cookie(), "/alerts/preferences", &[("csrf_token", &token), ("email", "on"), ("webhook_url", "ftp://example.test/hook"), ("kinds", "lockdown")]).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("id=\"prefs-webhook-url-err\""), "{html}");
        let (status, location, _) = post_form(&app, &owner.cookie(), "/alerts/preferences", &[("csrf_token", &token), ("email", "on"), ("webhook_url", ""), ("kinds", "lockdown"), ("kinds", "failed_sign_ins")]).await;
        assert_eq!((status, location.as_str()), (303, "/alerts/preferences?notice=saved"));
        let r = app.get("/api/v1/me/alert-preferences").auth(&owner).send().await;
        assert_eq!(r.body["kinds"], json!(["lockdown", "failed_sign_ins"]), "{}", r.text);
    }

    async fn alert_thresholds_are_account_settings(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner, "@shop").await;
        let editor = member(&app, &owner, &id, "eddie@example.test", "editor").await;
        let path = format!("/accounts/{id}/settings/alerts");
        let (status, html) = page(&app, &owner, &path).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("id=\"thresholds-alert-thresholds-failed-sign-ins-count\" name=\"alert_thresholds.failed_sign_ins.count\" type=\"number\" value=\"5\""), "{html}");
        let (_, settings) = page(&app, &owner, &format!("/accounts/{id}/settings")).await;
        assert!(settings.contains(&path), "linked from the settings");
        let token = csrf_in(&html);
        let mut form = vec![("csrf_token", token.as_str())];
        let fields = ["failed_sign_ins", "denied_actions", "post_burst", "member_change_burst"]
            .iter()
            .flat_map(|k| [format!("alert_thresholds.{k}.count"), format!("alert_thresholds.{k}.minutes")])
            .collect::<Vec<_>>();
        for f in &fields {
            form.push((f.as_str(), if f.ends_with("failed_sign_ins.count") { "0" } else { "10" }));
        }
        let (status, _, html) = post_form(&app, &owner.cookie(), &path, &form).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("id=\"thresholds-alert-thresholds-failed-sign-ins-count-err\""), "{html}");
        form.iter_mut().filter(|(k, _)| k.ends_with("failed_sign_ins.count")).for_each(|f| f.1 = "3");
        let (status, location, _) = post_form(&app, &owner.cookie(), &path, &form).await;
        assert_eq!((status, location), (303, format!("{path}?notice=saved")));
        let r = app.get(&format!("/api/v1/accounts/{id}")).auth(&owner).send().await;
        assert_eq!(r.body["settings"]["alert_thresholds"]["failed_sign_ins"], json!({"count": 3, "minutes": 10}));
        let (status, _) = page(&app, &editor, &path).await;
        assert_eq!(status, 403);
    }

    async fn lockdown_acts_only_once_confirmed_and_the_owner_lifts_it(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner, "@shop").await;
        let admin = member(&app, &owner, &id, "ada@example.test", "admin").await;
        let editor = member(&app, &owner, &id, "eddie@example.test", "editor").await;
        let r = app.post(&format!("/api/v1/accounts/{id}/posts")).auth(&editor).json(json!({"text": "Spring sale, all week"})).send().await;
        let post = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(app.post(&format!("/api/v1/posts/{post}/submit")).auth(&editor).send().await.status, 200);
        let r = app.post(&format!("/api/v1/posts/{post}/approve")).auth(&admin).json(json!({"version": 1})).send().await;
        assert_eq!(r.body["state"], "approved", "{}", r.text);

        let path = format!("/accounts/{id}/lockdown");
        let (status, html) = page(&app, &owner, &path).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("eddie@example.test") && html.contains("ada@example.test"), "who loses access: {html}");
        assert!(html.contains("Spring sale, all week"), "which posts get cancelled: {html}");
        assert!(html.contains("Also destroy the stored platform credential"), "{html}");
        let token = csrf_in(&html);
        let (status, _) = page(&app, &editor, &path).await;
        assert_eq!(status, 403, "an editor may not lock down");

        for confirm in ["", "@someone-else"] {
            let (status, _, html) = post_form(&app, &owner.cookie(), &path, &[("csrf_token", &token), ("confirm", confirm)]).await;
            assert_eq!(status, 422, "{html}");
            assert!(html.contains("id=\"lockdown-confirm-err\"") && html.contains("nothing was done"), "{html}");
        }
        assert_eq!(app.get(&format!("/api/v1/accounts/{id}")).auth(&editor).send().await.status, 200, "nothing happened");
        assert_eq!(app.get(&format!("/api/v1/posts/{post}")).auth(&owner).send().await.body["state"], "approved");

        let (status, _, html) = post_form(&app, &owner.cookie(), &path, &[("csrf_token", &token), ("confirm", "@shop")]).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("The account is locked down") && html.contains("2 members lost access"), "{html}");
        assert!(html.contains("1 post not approved by the owner was cancelled"), "{html}");
        app.get(&format!("/api/v1/accounts/{id}")).auth(&editor).send().await.assert_problem(403, "forbidden");
        assert_eq!(app.get(&format!("/api/v1/posts/{post}")).auth(&owner).send().await.body["state"], "cancelled");
        assert_eq!(app.get(&format!("/api/v1/accounts/{id}")).auth(&owner).send().await.body["status"], "locked_down");
        assert!(html.contains("Lift the lockdown"), "the way out: {html}");

        let (status, location, _) = post_form(&app, &owner.cookie(), &format!("{path}/lift"), &[("csrf_token", &token)]).await;
        assert_eq!((status, location), (303, format!("/accounts/{id}?notice=lifted")));
        assert_eq!(app.get(&format!("/api/v1/accounts/{id}")).auth(&owner).send().await.body["status"], "active");
        app.get(&format!("/api/v1/accounts/{id}")).auth(&editor).send().await.assert_problem(403, "forbidden");
    }
}
