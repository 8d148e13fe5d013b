//! The comments inbox and the analytics pages (issue 17, item 12), over plain HTTP on both
//! databases and in Chromium, against the sandbox and the platform doubles: a moderator replies
//! and hides from the inbox; deleting a Company Page's comment asks first; a reply on a member
//! profile waits for the owner, its state under the comment; TikTok's inbox says in one
//! sentence why it is empty; an analyst reads analytics (chart, tables, CSV) but has no inbox;
//! a drafter has neither; the CSV defuses formulas.
use std::time::Duration;

use serde_json::{Value, json};
use steward_connectors::OauthApp;
use steward_domain::ids::{AccountId, PostId};
use steward_doubles::{linkedin, tiktok};
use thirtyfour::prelude::*;

use crate::browser::{Driver, assert_text, check_page_at, click, press, press_and_confirm, sign_in, text};
use crate::helpers::accounts::{invite, member, sandbox_account};
use crate::helpers::html::{browser, csrf_in, page, post_form};
use crate::helpers::oauth::{callback, start, with_connected_linkedin_member};
use crate::helpers::seed::insert_due_post;
use crate::helpers::*;

const PAGE_ORG: &str = "urn:li:organization:2414183";

/// Publishes a post on the account through the real scheduler; its Steward id and platform id.
async fn published(app: &TestApp, account: &str, owner: &Session, text: &str) -> (String, String) {
    let id = insert_due_post(&app.state.store, account, &owner.user_id, text, "[]", app.clock.now_us()).await;
    for _ in 0..600 {
        let p = app.state.store.post(&PostId::new(id.clone())).await.unwrap().unwrap();
        if p.state.as_str() == "published" {
            return (id, p.external_id.unwrap());
        }
        assert_ne!(p.state.as_str(), "failed", "{p:?}");
        if let Some(next) =
            app.state.store.publish_job(&PostId::new(id.clone())).await.unwrap().and_then(|j| j.next_attempt_at)
        {
            let wait = next - app.clock.now_us();
            if wait > 0 {
                app.clock.advance(Duration::from_micros(u64::try_from(wait).unwrap() + 1));
            }
        }
        app.state.scheduler.wake();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("post {id} was never published");
}

/// A follower's comment on a sandbox post; its id.
async fn follower_comment(app: &TestApp, account: &str, external: &str, author: &str, text: &str) -> String {
    steward_app::platforms::sandbox::add_follower_comment(
        &app.state,
        &AccountId::new(account.to_string()),
        external,
        author,
        text,
    )
    .await
    .unwrap()
    .unwrap()
    .id
}

async fn counts(app: &TestApp, account: &str, external: &str, views: i64, likes: i64, shares: i64) {
    let set = app
        .state
        .store
        .set_sandbox_engagement(&AccountId::new(account.to_string()), external, views, likes, shares)
        .await
        .unwrap();
    assert!(set, "the sandbox has the post");
}

/// Invites `email` with an invitation body of one's own (a role with revocations), registers
/// them and accepts.
async fn member_with(app: &TestApp, owner: &Session, account: &str, body: Value) -> Session {
    let email = body["email"].as_str().unwrap().to_string();
    let r = invite(app, owner, account, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let s = app.user(&email).await;
    let token = r.body["token"].as_str().unwrap();
    let a = app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&s).send().await;
    assert_eq!(a.status, 200, "{}", a.text);
    s
}

async fn comments_api(app: &TestApp, who: &Session, account: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/v1/accounts/{account}/comments")).auth(who).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().clone()
}

async fn allowed_events(app: &TestApp, action: &str) -> usize {
    let all = app.state.store.audit_events_after(0, 10_000).await.unwrap();
    all.iter().filter(|e| e.action == action && e.outcome == "allowed").count()
}

/// The CSV download as a browser gets it: status, content type, disposition, body.
async fn csv(app: &TestApp, who: &Session, account: &str) -> (u16, String, String, String) {
    let r = browser()
        .get(format!("{}/accounts/{account}/analytics.csv", app.base))
        .header("cookie", who.cookie())
        .send()
        .await
        .unwrap();
    let header = |h: &str| r.headers().get(h).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let (ct, cd) = (header("content-type"), header("content-disposition"));
    (r.status().as_u16(), ct, cd, r.text().await.unwrap())
}

both_backends! {
    async fn a_moderator_replies_and_hides_and_an_analyst_or_a_drafter_has_no_inbox(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner, "@shop").await;
        let moderator = member(&app, &owner, &id, "maud@example.test", "moderator").await;
        let analyst = member(&app, &owner, &id, "anna@example.test", "analyst").await;
        let drafter = member_with(&app, &owner, &id,
            json!({"email": "dora@example.test", "role": "editor", "revoke": ["analytics.view"]})).await;
        let (_, ext) = published(&app, &id, &owner, "Spring sale, all week").await;
        let spam = follower_comment(&app, &id, &ext, "@troll", "Buy followers here").await;
        let question = follower_comment(&app, &id, &ext, "@fan", "Is the blue one on sale too?").await;
        let inbox = format!("/accounts/{id}/comments");
        let analytics = format!("/accounts/{id}/analytics");

        // Links on the account page only for those who may.
        let links = async |who: &Session| {
            let (status, html) = page(&app, who, &format!("/accounts/{id}")).await;
            assert_eq!(status, 200, "{html}");
            (html.contains(&format!("href=\"{inbox}\"")), html.contains(&format!("href=\"{analytics}\"")))
        };
        assert_eq!(links(&owner).await, (true, true));
        assert_eq!(links(&moderator).await, (true, false));
        assert_eq!(links(&analyst).await, (false, true));
        assert_eq!(links(&drafter).await, (false, false));

        // The moderator's inbox: both comments, a reply form each, Hide (the sandbox's one action).
        let (status, html) = page(&app, &moderator, &inbox).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Buy followers here") && html.contains("Is the blue one on sale too?"), "{html}");
        assert!(html.contains("Spring sale, all week"), "the post they are on: {html}");
        assert_eq!(html.matches("name=\"action\" value=\"hide\"").count(), 2, "{html}");
        assert!(!html.contains("value=\"delete\"") && !html.contains("mute-author"), "only what the sandbox offers: {html}");
        let token = csrf_in(&html);

        // An empty reply is refused by its field; nothing sent.
        let (status, _, html) = post_form(&app, &moderator.cookie(), &format!("{inbox}/reply"),
            &[("csrf_token", &token), ("comment_id", &question), ("text", "   ")]).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("Your reply must be 1 to 3000 characters.") && html.contains("aria-invalid=\"true\""), "{html}");
        assert_eq!(comments_api(&app, &owner, &id).await.len(), 2);
        let (status, location, _) = post_form(&app, &moderator.cookie(), &format!("{inbox}/reply"),
            &[("csrf_token", &token), ("comment_id", &question), ("text", "Yes, all colours!")]).await;
        assert_eq!((status, location.as_str()), (303, format!("{inbox}?notice=replied").as_str()));
        let list = comments_api(&app, &owner, &id).await;
        let reply = list.iter().find(|c| c["parent_id"].as_str() == Some(question.as_str())).expect("the reply is on the platform");
        assert_eq!(reply["text"], "Yes, all colours!");
        assert_eq!(allowed_events(&app, "comments.reply").await, 1);
        let (_, html) = page(&app, &moderator, &format!("{inbox}?notice=replied")).await;
        assert!(html.contains("Your reply is sent.") && html.contains("class=\"comment reply\""), "under its comment: {html}");

        let (status, location, _) = post_form(&app, &moderator.cookie(), &format!("{inbox}/moderate"),
            &[("csrf_token", &token), ("comment_id", &spam), ("action", "hide")]).await;
        assert_eq!((status, location.as_str()), (303, format!("{inbox}?notice=hide").as_str()));
        let list = comments_api(&app, &owner, &id).await;
        assert_eq!(list.iter().find(|c| c["id"].as_str() == Some(spam.as_str())).unwrap()["hidden"], true);
        assert_eq!(allowed_events(&app, "comments.hide").await, 1);
        // What the platform does not offer is refused by the comment, in words; nothing changes.
        let (status, _, html) = post_form(&app, &moderator.cookie(), &format!("{inbox}/moderate"),
            &[("csrf_token", &token), ("comment_id", &question), ("action", "delete"), ("confirm", "yes")]).await;
        assert_eq!(status, 409, "{html}");
        assert!(html.contains("the sandbox only hides comments"), "{html}");
        assert_eq!(comments_api(&app, &owner, &id).await.len(), 3);

        // The analyst: analytics yes, the inbox and its actions no (403 in words, audited).
        let (status, html) = page(&app, &analyst, &inbox).await;
        assert_eq!(status, 403, "{html}");
        assert!(html.contains("You may not reply to and hide comments on the platform on this account."), "{html}");
        let (status, _, html) = post_form(&app, &analyst.cookie(), &format!("{inbox}/reply"),
            &[("csrf_token", &csrf_in(&page(&app, &analyst, &format!("/accounts/{id}")).await.1)), ("comment_id", &question), ("text", "Me too")]).await;
        assert_eq!(status, 403, "{html}");
        let (status, _, html) = post_form(&app, &analyst.cookie(), &format!("{inbox}/moderate"),
            &[("csrf_token", &csrf_in(&page(&app, &analyst, &format!("/accounts/{id}")).await.1)), ("comment_id", &question), ("action", "hide")]).await;
        assert_eq!(status, 403, "{html}");
        assert_eq!(comments_api(&app, &owner, &id).await.len(), 3, "nothing was sent");
        assert!(!comments_api(&app, &owner, &id).await.iter().any(|c| c["id"].as_str() == Some(question.as_str()) && c["hidden"] == true));
        let r = app.get(&format!("/api/v1/accounts/{id}/activity?outcome=denied&actor={}", analyst.user_id)).auth(&owner).send().await;
        assert!(r.body["items"].as_array().unwrap().iter().any(|e| e["action"] == "comments.reply"), "the refusal is recorded: {}", r.text);
        let (status, html) = page(&app, &analyst, &analytics).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Spring sale, all week") && html.contains("<svg class=\"chart\""), "{html}");
        assert_eq!(csv(&app, &analyst, &id).await.0, 200);

        // The drafter: neither.
        for path in [&inbox, &analytics, &format!("/accounts/{id}/analytics.csv")] {
            let (status, html) = page(&app, &drafter, path).await;
            assert_eq!(status, 403, "{path}: {html}");
            assert!(html.contains("You may not"), "in words: {html}");
        }
    }

    async fn a_busy_inbox_pages_by_conversation_and_stays_under_100_kb(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner, "@busy").await;
        let (_, ext) = published(&app, &id, &owner, "Ask me anything").await;
        let long = "<b>&</b> ".repeat(150);
        for n in 0..10 {
            let c = follower_comment(&app, &id, &ext, &format!("@asker{n}"), &format!("Question {n}: {long}")).await;
            for r in 0..5 {
                let reply = app.post(&format!("/api/v1/accounts/{id}/comments/{c}/reply")).auth(&owner)
                    .json(json!({"text": format!("Answer {n}.{r}: {long}")})).send().await;
                assert_eq!(reply.status, 201, "{}", reply.text);
            }
        }
        let mut assets = 0;
        for a in ["/assets/steward.css", "/assets/steward.js"] {
            assets += browser().get(format!("{}{a}", app.base)).send().await.unwrap().bytes().await.unwrap().len();
        }
        let inbox = format!("/accounts/{id}/comments");
        let (status, first) = page(&app, &owner, &inbox).await;
        assert_eq!(status, 200);
        eprintln!("page-weight busy inbox: html {} B + stylesheet and script {assets} B", first.len());
        assert!(first.len() + assets <= 100 * 1024, "{} B of HTML + {assets} B of assets", first.len());
        assert_eq!(first.matches("<li class=\"card thread\">").count(), 6, "six conversations a page");
        assert!(first.contains("Conversations 1 to 6 of 10.") && first.contains("1 more reply is on"), "{first}");
        assert!(first.contains("&#60;b&#62;&#38;&#60;/b&#62;") && !first.contains("<b>&</b>"), "comments are text");
        assert!(first.contains("(the rest is on the platform)"), "long comments are cut");
        assert!(first.contains(&format!("href=\"{inbox}?page=2\" rel=\"next\"")), "{first}");
        let (status, second) = page(&app, &owner, &format!("{inbox}?page=2")).await;
        assert_eq!(status, 200);
        assert_eq!(second.matches("<li class=\"card thread\">").count(), 4);
        assert!(second.contains("Question 0:") && second.contains(&format!("href=\"{inbox}\" rel=\"prev\"")), "the oldest last");
    }

    async fn a_hundred_posts_over_three_years_keep_the_analytics_page_under_100_kb(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner, "@busy").await;
        let label = "<&>".repeat(30);
        let ids: Vec<String> = {
            let mut v = Vec::new();
            for n in 0..100 {
                v.push(insert_due_post(&app.state.store, &id, &owner.user_id, &format!("{label} {n}"), "[]", app.clock.now_us()).await);
            }
            v
        };
        for _ in 0..1200 {
            app.state.scheduler.wake();
            tokio::time::sleep(Duration::from_millis(50)).await;
            let r = app.get(&format!("/api/v1/accounts/{id}/posts?state=published&limit=100")).auth(&owner).send().await;
            if r.body["items"].as_array().map_or(0, Vec::len) == 100 { break; }
        }
        for (n, pid) in ids.iter().enumerate() {
            let back = i64::try_from(n).unwrap() * 11 * 86_400_000_000;
            app.raw_sql(&format!("UPDATE posts SET published_at = published_at - {back} WHERE id = '{pid}'")).await;
        }
        let (status, html) = page(&app, &owner, &format!("/accounts/{id}/analytics")).await;
        assert_eq!(status, 200, "{html}");
        assert_eq!(html.matches("<tr><th scope=\"row\"><a href=\"/posts/").count(), 100, "every post in the table");
        assert!(html.contains("per month"), "{html}");
        let mut assets = 0;
        for a in ["/assets/steward.css", "/assets/steward.js"] {
            assets += browser().get(format!("{}{a}", app.base)).send().await.unwrap().bytes().await.unwrap().len();
        }
        eprintln!("page-weight busy analytics: html {} B + stylesheet and script {assets} B", html.len());
        assert!(html.len() + assets <= 100 * 1024, "{} B of HTML + {assets} B of assets", html.len());
    }

    async fn analytics_show_each_posts_counts_over_time_and_the_csv_defuses_formulas(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner, "@shop").await;
        let (first, ext1) = published(&app, &id, &owner, "=HYPERLINK(\"http://evil.example\",\"Prize\")").await;
        app.clock.advance(Duration::from_secs(3 * 86_400));
        let (_, ext2) = published(&app, &id, &owner, "@everyone +1 -2 sale").await;
        counts(&app, &id, &ext1, 12_345, 67, 8).await;
        counts(&app, &id, &ext2, 900, 40, 2).await;
        follower_comment(&app, &id, &ext2, "@fan", "Nice").await;

        let (status, html) = page(&app, &owner, &format!("/accounts/{id}/analytics")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("12,345") && html.contains("Views") && html.contains("Shares"), "{html}");
        assert!(html.contains("does not tell Steward the number of followers"), "{html}");
        assert_eq!(html.matches("<svg class=\"chart\"").count(), 4, "a panel per count: {html}");
        assert!(html.contains("The chart as a table") && html.contains("<th scope=\"row\">"), "{html}");
        assert!(html.contains(&format!("href=\"/posts/{first}\"")), "each post links to its page");
        assert!(html.contains(&format!("href=\"/accounts/{id}/analytics.csv\"")), "{html}");

        let (status, content_type, disposition, body) = csv(&app, &owner, &id).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(content_type, "text/csv; charset=utf-8");
        assert!(disposition.starts_with("attachment; filename=\"analytics-shop-") && disposition.ends_with(".csv\""), "{disposition}");
        let lines: Vec<&str> = body.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines[0], "Post,Published (UTC),Views,Likes,Comments,Shares,Steward post id", "{body}");
        assert_eq!(lines.len(), 3, "{body}");
        assert!(lines[1].starts_with("'@everyone +1 -2 sale,") || lines[1].starts_with("\"'@everyone +1 -2 sale\","), "{}", lines[1]);
        assert!(lines[1].contains(",900,40,1,2,"), "{}", lines[1]);
        assert!(lines[2].starts_with("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"Prize\"\")\","), "{}", lines[2]);
        assert!(lines[2].ends_with(&format!(",12345,67,0,8,{first}")), "{}", lines[2]);
    }

    async fn a_reply_on_a_member_profile_waits_for_the_owner_and_shows_its_state(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double, owner, account)) = with_connected_linkedin_member(backend).await else { return };
        let moderator = member(&app, &owner, &account, "maud@example.com", "moderator").await;
        let (_, urn) = published(&app, &account, &owner, "Hiring").await;
        double.comment_from("urn:li:person:fan42", &urn, None, "Interested").unwrap();
        let inbox = format!("/accounts/{account}/comments");
        let (status, html) = page(&app, &moderator, &inbox).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("a reply you write here goes out in their name only once they approve it"), "{html}");
        assert!(html.contains("Send for the owner&#39;s approval") || html.contains("Send for the owner's approval"), "{html}");
        assert!(html.contains("Moderation: LinkedIn lets an app delete a member&#39;s own comments only")
            || html.contains("Moderation: LinkedIn lets an app delete a member's own comments only"), "{html}");
        assert!(!html.contains("name=\"action\""), "no moderation button on a member profile: {html}");
        let comment = comments_api(&app, &owner, &account).await[0]["id"].as_str().unwrap().to_string();
        let token = csrf_in(&html);
        let (status, location, _) = post_form(&app, &moderator.cookie(), &format!("{inbox}/reply"),
            &[("csrf_token", &token), ("comment_id", &comment), ("text", "Send us your CV")]).await;
        assert_eq!((status, location.as_str()), (303, format!("{inbox}?notice=waiting").as_str()));
        assert_eq!(double.comments().len(), 1, "nothing went out yet");
        let (_, html) = page(&app, &moderator, &format!("{inbox}?notice=waiting")).await;
        assert!(html.contains("waits for the owner") && html.contains("Waiting for the owner&#39;s approval"), "{html}");
        assert!(html.contains("Send us your CV"), "{html}");
        // The owner sees it under the comment too, linked to where it is approved.
        let (_, html) = page(&app, &owner, &inbox).await;
        assert!(html.contains("Waiting for the owner&#39;s approval") && html.contains("href=\"/posts/"), "{html}");
        assert!(html.contains("Send the reply"), "the owner's own replies go at once: {html}");
    }

    async fn deleting_a_company_pages_comment_asks_first_and_tiktok_says_why_there_is_nothing(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let li = linkedin::LinkedInDouble::start(linkedin::Config::default()).await.unwrap();
        li.add_organization(PAGE_ORG, "Devtestco", "devtestco", 1200);
        li.set_organization_role("782bbtaQ", PAGE_ORG, "ADMINISTRATOR");
        let tt = tiktok::TikTokDouble::start(tiktok::Config::default()).await.unwrap();
        let (lid, lsecret, lbase) = (li.config().client_id.clone(), li.config().client_secret.clone(), li.base.clone());
        let (tid, tsecret, tbase) = (tt.config().client_key.clone(), tt.config().client_secret.clone(), tt.base.clone());
        let Some(app) = TestApp::spawn_with(backend, move |s| {
            s.linkedin = Some(OauthApp { client_id: lid, client_secret: zeroize::Zeroizing::new(lsecret), auth_base: lbase.clone(), api_base: lbase });
            s.tiktok = Some(OauthApp { client_id: tid, client_secret: zeroize::Zeroizing::new(tsecret), auth_base: tbase.clone(), api_base: tbase });
        }).await else { return };
        let owner = app.user("olivia@example.com").await;
        let page_account = connect_company_page(&app, &owner).await;
        let (_, urn) = published(&app, &page_account, &owner, "Hello from the page").await;
        li.comment_from("urn:li:person:troll", &urn, None, "Spam spam").unwrap();
        let inbox = format!("/accounts/{page_account}/comments");
        let (status, html) = page(&app, &owner, &inbox).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("data-confirm=\"Delete this comment by") && html.contains("value=\"delete\""), "{html}");
        assert!(!html.contains("value=\"hide\""), "LinkedIn offers pages deleting only: {html}");
        let comment = comments_api(&app, &owner, &page_account).await[0]["id"].as_str().unwrap().to_string();
        let token = csrf_in(&html);
        let (status, _, html) = post_form(&app, &owner.cookie(), &format!("{inbox}/moderate"),
            &[("csrf_token", &token), ("comment_id", &comment), ("action", "delete"), ("author", "troll")]).await;
        assert_eq!(status, 200, "a question first: {html}");
        assert!(html.contains("Yes, delete the comment") && html.contains("name=\"confirm\" value=\"yes\""), "{html}");
        assert_eq!(li.comments().len(), 1, "nothing deleted yet");
        let (status, location, _) = post_form(&app, &owner.cookie(), &format!("{inbox}/moderate"),
            &[("csrf_token", &token), ("comment_id", &comment), ("action", "delete"), ("confirm", "yes")]).await;
        assert_eq!((status, location.as_str()), (303, format!("{inbox}?notice=delete").as_str()));
        assert!(li.comments().is_empty(), "deleted at LinkedIn");
        assert_eq!(allowed_events(&app, "comments.delete").await, 1);

        // TikTok: the inbox says why in one sentence; analytics come from the Display API.
        let back = start(&app, &owner, json!({"platform": "tiktok"})).await;
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!(status, 303, "{to}");
        let items = app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().clone();
        let tiktok_account = items.iter().find(|a| a["platform"] == "tiktok").unwrap()["id"].as_str().unwrap().to_string();
        let (status, html) = page(&app, &owner, &format!("/accounts/{tiktok_account}/comments")).await;
        assert_eq!(status, 200, "{html}");
        let sentence = steward_app::platforms::tiktok::NO_COMMENTS.replace('\'', "&#39;");
        assert!(html.contains(&sentence), "{html}");
        assert!(!html.contains("Reply to"), "{html}");
        let media = r#"[{"url":"https://media.example.com/clip.mp4","kind":"video"}]"#;
        let pid = insert_due_post(&app.state.store, &tiktok_account, &owner.user_id, "Clip", media, app.clock.now_us()).await;
        app.state.scheduler.wake();
        let video = loop {
            let p = app.state.store.post(&PostId::new(pid.clone())).await.unwrap().unwrap();
            if p.state.as_str() == "published" { break p.external_id.unwrap(); }
            assert_ne!(p.state.as_str(), "failed", "{p:?}");
            if let Some(next) = app.state.store.publish_job(&PostId::new(pid.clone())).await.unwrap().and_then(|j| j.next_attempt_at) {
                let wait = next - app.clock.now_us();
                if wait > 0 { app.clock.advance(Duration::from_micros(u64::try_from(wait).unwrap() + 1)); }
            }
            app.state.scheduler.wake();
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        tt.set_video_counts(&video, tiktok::VideoCounts { views: 1000, likes: 50, comments: 4, shares: 3 });
        tt.set_follower_count(321);
        let (status, html) = page(&app, &owner, &format!("/accounts/{tiktok_account}/analytics")).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Followers on TikTok: <strong>321</strong>") && html.contains("1,000"), "{html}");
    }
}

/// Signs in on LinkedIn for a Company Page and connects it (the API's choice); its account id.
async fn connect_company_page(app: &TestApp, owner: &Session) -> String {
    let back = start(app, owner, json!({"platform": "linkedin", "account_kind": "organization"})).await;
    let r = browser().get(&back).header("cookie", owner.cookie()).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let choice = to.strip_prefix("/connect/linkedin/pages/").expect("on to the choice").to_string();
    let r = app
        .post(&format!("/api/v1/accounts/connect/linkedin-pages/{choice}"))
        .auth(owner)
        .json(json!({"organizations": [PAGE_ORG]}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["items"][0]["id"].as_str().unwrap().to_string()
}

/// In Chromium: the owner replies and hides from the inbox, deletes a Company Page's comment
/// through the dialog, reads the analytics page (chart and tables) and downloads the CSV; each
/// page at desktop width and 390 px, with axe-core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_and_analytics_in_chromium() {
    let Some(mut driver) = Driver::start().await else { return };
    let li = linkedin::LinkedInDouble::start(linkedin::Config::default()).await.unwrap();
    li.add_organization(PAGE_ORG, "Devtestco", "devtestco", 1200);
    li.set_organization_role("782bbtaQ", PAGE_ORG, "ADMINISTRATOR");
    let (cid, secret, base) = (li.config().client_id.clone(), li.config().client_secret.clone(), li.base.clone());
    let app = TestApp::spawn_with(Backend::Sqlite, move |s| {
        s.linkedin = Some(OauthApp {
            client_id: cid,
            client_secret: zeroize::Zeroizing::new(secret),
            auth_base: base.clone(),
            api_base: base,
        });
    })
    .await
    .expect("app");
    let owner = app.user("olivia@example.com").await;
    let id = sandbox_account(&app, &owner, "@shop").await;
    let (_, ext1) = published(&app, &id, &owner, "Spring sale, all week").await;
    app.clock.advance(Duration::from_secs(2 * 86_400));
    let (_, ext2) = published(&app, &id, &owner, "New colours in the shop").await;
    counts(&app, &id, &ext1, 1830, 74, 9).await;
    counts(&app, &id, &ext2, 640, 21, 3).await;
    follower_comment(&app, &id, &ext1, "@troll", "Buy followers here").await;
    follower_comment(&app, &id, &ext2, "@fan", "Is the blue one in stock?").await;
    let page_account = connect_company_page(&app, &owner).await;
    let (_, urn) = published(&app, &page_account, &owner, "Hello from the page").await;
    li.comment_from("urn:li:person:troll", &urn, None, "Spam spam").unwrap();

    let b = driver.browser().await;
    sign_in(&b, &app.base, "olivia@example.com", PASSWORD).await;
    b.goto(format!("{}/accounts/{id}", app.base)).await.unwrap();
    click(&b, "nav.tabs a[href$='/comments']").await;
    assert_text(&b, "Is the blue one in stock?").await;
    // Reply to the latest conversation (the fan's).
    b.find(By::Css("ol.threads > li:first-child details summary")).await.unwrap().click().await.unwrap();
    crate::browser::fill(&b, "ol.threads > li:first-child textarea", "Yes, in every size!").await;
    press(&b, "Send the reply").await;
    assert_text(&b, "Your reply is sent.").await;
    assert_text(&b, "Yes, in every size!").await;
    press(&b, "Hide the comment by @troll").await;
    assert_text(&b, "The comment is hidden.").await;
    assert!(text(&b).await.to_lowercase().contains("hidden"), "marked hidden");
    check_page_at(&b, "comments", 390).await;

    click(&b, "nav.tabs a[href$='/analytics']").await;
    assert_text(&b, "1,830").await;
    b.find(By::Css("svg.chart")).await.expect("the chart");
    b.find(By::Css("table.counts th[scope='row'] a")).await.expect("the table, a post a row");
    check_page_at(&b, "analytics", 390).await;
    // The download, as the browser fetches it (its cookie, no script of ours).
    let got = b
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then(async r => done([r.status, r.headers.get('content-type'),
               r.headers.get('content-disposition'), await r.text()]));",
            vec![json!(format!("/accounts/{id}/analytics.csv"))],
        )
        .await
        .unwrap();
    let got = got.json().clone();
    assert_eq!(got[0], 200);
    assert_eq!(got[1], "text/csv; charset=utf-8");
    assert!(got[2].as_str().unwrap().starts_with("attachment; filename=\"analytics-shop-"), "{got}");
    assert!(got[3].as_str().unwrap().contains("\"Spring sale, all week\","), "{got}");

    // A Company Page's comment is deleted through the dialog.
    b.goto(format!("{}/accounts/{page_account}/comments", app.base)).await.unwrap();
    assert_text(&b, "Spam spam").await;
    check_page_at(&b, "comments-page", 390).await;
    press_and_confirm(&b, "Delete the comment by", "Yes, delete the comment").await;
    assert_text(&b, "The comment is deleted.").await;
    assert!(li.comments().is_empty(), "deleted at LinkedIn");
}
