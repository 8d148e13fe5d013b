//! Planning in Chromium: the week hour by hour across accounts (today marked, a draft beside
//! the grid, a scheduled post in its hour), an empty hour leading to the composer with its time,
//! dragging a post to another hour (moved and audited; into an hour outside the mover's posting
//! windows: refused in words), the no-script move form, and the composer writing one draft per
//! account, each needing its own approval. Screenshots and axe at desktop and 390 px.
use jiff::ToSpan;
use jiff::civil::Date;
use serde_json::{Value, json};
use thirtyfour::prelude::*;

use crate::browser::{Driver, assert_text, check_page_at, fill, press, sign_in, text};
use crate::helpers::accounts::{invite, sandbox_account};
use crate::helpers::*;

const PHONE: u32 = 390;

async fn api_post(app: &TestApp, s: &Session, pid: &str) -> Value {
    let r = app.get(&format!("/api/v1/posts/{pid}")).auth(s).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// A post of the owner's on `account`, approved, and scheduled at `at` when given.
async fn approved_post(app: &TestApp, owner: &Session, account: &str, text: &str, at: Option<String>) -> String {
    let r = app.post(&format!("/api/v1/accounts/{account}/posts")).auth(owner).json(json!({"text": text})).send().await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pid = r.body["id"].as_str().unwrap().to_string();
    let r = app.post(&format!("/api/v1/posts/{pid}/submit")).auth(owner).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.post(&format!("/api/v1/posts/{pid}/approve")).auth(owner).json(json!({"version": 1})).send().await;
    assert_eq!(r.body["state"], "approved", "{}", r.text);
    if let Some(at) = at {
        let r = app.post(&format!("/api/v1/posts/{pid}/schedule")).auth(owner).json(json!({"at": at})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    pid
}

/// Drags the post `pid` onto the hour `slot` (`2026-12-10T14`) as a person would with a
/// mouse: the page's own drag and drop handlers run (WebDriver's pointer actions do not
/// start HTML drag and drop in Chromium, so the events are dispatched).
async fn drag(b: &WebDriver, pid: &str, slot: &str) {
    let before = b.find(By::Css("html")).await.unwrap();
    b.execute(
        "const src = document.querySelector(`[data-post='${arguments[0]}']`);
         const dst = document.querySelector(`td[data-slot='${arguments[1]}']`);
         const dt = new DataTransfer();
         src.dispatchEvent(new DragEvent('dragstart', {bubbles: true, dataTransfer: dt}));
         dst.dispatchEvent(new DragEvent('dragover', {bubbles: true, cancelable: true, dataTransfer: dt}));
         dst.dispatchEvent(new DragEvent('drop', {bubbles: true, cancelable: true, dataTransfer: dt}));",
        vec![json!(pid), json!(slot)],
    )
    .await
    .expect("drag and drop");
    crate::browser::left(&before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planning_week_drag_and_compose_in_chromium() {
    let Some(mut driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let base = app.base.clone();
    // The server's clock on a Wednesday at 10:30 UTC, ahead of now: the week is known.
    let today = app.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let mut wed: Date = today.checked_add(2.days()).unwrap();
    while wed.weekday() != jiff::civil::Weekday::Wednesday {
        wed = wed.checked_add(1.day()).unwrap();
    }
    let target = wed.at(10, 30, 0, 0).to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp();
    let ahead = target.as_microsecond() - app.clock.now().as_microsecond();
    app.clock.advance(std::time::Duration::from_micros(u64::try_from(ahead).unwrap()));
    let day = |n: i64| wed.checked_add(n.days()).unwrap();
    let (monday, thursday, friday) = (day(-2), day(1), day(2));

    // Two accounts (UTC); an admin of the shop who may post from 08:00 to 18:00 only.
    let owner_api = app.user("olivia@example.test").await;
    let shop = sandbox_account(&app, &owner_api, "@shop").await;
    let cafe = sandbox_account(&app, &owner_api, "@cafe").await;
    let every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let r = invite(
        &app,
        &owner_api,
        &shop,
        json!({"email": "ada@example.test", "role": "admin",
        "windows": [{"days": every_day, "start": "08:00", "end": "18:00"}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ada = app.user("ada@example.test").await;
    let token = r.body["token"].as_str().unwrap();
    let r = app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&ada).send().await;
    assert_eq!(r.status, 200, "{}", r.text);

    let scheduled = approved_post(
        &app,
        &owner_api,
        &shop,
        "Opening hours change on Thursday",
        Some(format!("{thursday}T09:00:00Z")),
    )
    .await;
    let waiting = approved_post(&app, &owner_api, &shop, "Thank you to our regulars", None).await;
    let r = app
        .post(&format!("/api/v1/accounts/{cafe}/posts"))
        .auth(&owner_api)
        .json(json!({"text": "New cake recipe, no time yet"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // The week across both accounts: today marked, the draft beside the grid.
    let owner = driver.browser().await;
    sign_in(&owner, &base, "olivia@example.test", PASSWORD).await;
    owner.goto(format!("{base}/calendar")).await.unwrap();
    assert_text(&owner, &format!("Week of {}", monday.strftime("%-d %B %Y"))).await;
    let marked = owner.find(By::Css("th.today .todaymark")).await.expect("today is marked").text().await.unwrap();
    assert_eq!(marked, "Today");
    let side = owner.find(By::Css("section.untimed")).await.unwrap().text().await.unwrap();
    assert!(side.contains("New cake recipe, no time yet") && side.contains("Draft"), "{side}");
    assert!(side.contains("Thank you to our regulars") && side.contains("Approved"), "{side}");
    assert!(!side.contains("Opening hours"), "a scheduled post is in its hour, not beside: {side}");
    check_page_at(&owner, "calendar-planner", PHONE).await;

    // One account (its zone, UTC): the post sits in its hour, in words.
    owner.goto(format!("{base}/calendar?account={shop}")).await.unwrap();
    let cell = owner
        .find(By::Css(format!("td[data-slot='{thursday}T09']")))
        .await
        .expect("Thursday 09:00")
        .text()
        .await
        .unwrap();
    assert!(cell.contains("Scheduled") && cell.contains("09:00 Opening hours change"), "{cell}");
    assert!(!text(&owner).await.contains("cake"), "the filter leaves the café out");

    // Dragging it to Friday 14:00 moves it through the schedule use case, audited as such.
    drag(&owner, &scheduled, &format!("{friday}T14")).await;
    assert_text(&owner, "The post is moved to its new time.").await;
    assert_eq!(api_post(&app, &owner_api, &scheduled).await["scheduled_at"], format!("{friday}T14:00:00Z"));
    assert_eq!(audit_actions(&app, &scheduled).await.iter().filter(|a| *a == "posts.schedule").count(), 2);
    let moved = owner.find(By::Css(format!("td[data-slot='{friday}T14']"))).await.unwrap().text().await.unwrap();
    assert!(moved.contains("Opening hours"), "{moved}");

    // Without the script: the approved post's "Schedule" link leads to its own form.
    crate::browser::click(&owner, &format!("a.mv[href$='post={waiting}']")).await;
    assert_text(&owner, "Schedule \u{201c}Thank you to our regulars\u{201d}").await;
    assert_text(&owner, "It has no time yet.").await;
    check_page_at(&owner, "calendar-move", PHONE).await;
    owner
        .execute("document.getElementById('move-at').value = arguments[0];", vec![json!(format!("{friday}T11:15"))])
        .await
        .unwrap();
    press(&owner, "Schedule the post").await;
    assert_text(&owner, "The post is moved to its new time.").await;
    let body = api_post(&app, &owner_api, &waiting).await;
    assert_eq!(
        (body["state"].as_str(), body["scheduled_at"].as_str()),
        (Some("scheduled"), Some(format!("{friday}T11:15:00Z").as_str()))
    );

    // An empty hour leads to the composer with that time.
    let slot =
        owner.find(By::Css(format!("td[data-slot='{friday}T15'] a.slot"))).await.expect("an empty hour to write in");
    let before = owner.find(By::Css("html")).await.unwrap();
    slot.click().await.unwrap();
    crate::browser::left(&before).await;
    assert_text(&owner, "Write a post for several accounts").await;
    let at = owner.find(By::Id("compose-at")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(at.as_deref(), Some(format!("{friday}T15:00").as_str()));
    let shop_box = owner.find(By::Id(format!("compose-account-{shop}"))).await.unwrap();
    assert!(shop_box.is_selected().await.unwrap(), "the calendar's account is chosen");

    // Two accounts, one text, the café's copy adjusted.
    owner.find(By::Id(format!("compose-account-{cafe}"))).await.unwrap().click().await.unwrap();
    fill(&owner, "#compose-text", "Launch day: come and see us").await;
    fill(&owner, &format!("#compose-text-{cafe}"), "Launch day at the café: cake for everyone").await;
    let shop_copy = owner.find(By::Id(format!("compose-text-{shop}"))).await.unwrap().prop("value").await.unwrap();
    assert_eq!(shop_copy.as_deref(), Some("Launch day: come and see us"), "a copy follows the common text");
    assert_text(&owner, "an approval on one never counts for another").await;
    check_page_at(&owner, "compose-several", PHONE).await;
    press(&owner, "Write the drafts").await;
    assert_text(&owner, "2 drafts are written for").await;
    let mut made = Vec::new();
    for (account, expected) in
        [(&shop, "Launch day: come and see us"), (&cafe, "Launch day at the café: cake for everyone")]
    {
        let r = app.get(&format!("/api/v1/accounts/{account}/posts?state=draft")).auth(&owner_api).send().await;
        let found: Vec<&Value> = r.body["items"].as_array().unwrap().iter().filter(|p| p["text"] == expected).collect();
        assert_eq!(found.len(), 1, "{}", r.text);
        made.push(found[0]["id"].as_str().unwrap().to_string());
    }
    // Each copy needs its own approval: approving the shop's leaves the café's in review.
    for pid in &made {
        assert_eq!(app.post(&format!("/api/v1/posts/{pid}/submit")).auth(&owner_api).send().await.status, 200);
    }
    let r = app
        .post(&format!("/api/v1/posts/{}/approve", made[0]))
        .auth(&owner_api)
        .json(json!({"version": 1}))
        .send()
        .await;
    assert_eq!(r.body["state"], "approved", "{}", r.text);
    assert_eq!(api_post(&app, &owner_api, &made[1]).await["state"], "in_review");

    // A copy too long for its platform: nothing is written, and the page says which and why.
    owner.goto(format!("{base}/compose")).await.unwrap();
    owner.find(By::Id(format!("compose-account-{shop}"))).await.unwrap().click().await.unwrap();
    owner.find(By::Id(format!("compose-account-{cafe}"))).await.unwrap().click().await.unwrap();
    fill(&owner, "#compose-text", "Short and fine").await;
    let long = "y".repeat(501);
    owner
        .execute(
            "document.getElementById(arguments[0]).value = arguments[1];",
            vec![json!(format!("compose-text-{cafe}")), json!(long)],
        )
        .await
        .unwrap();
    press(&owner, "Write the drafts").await;
    assert_text(&owner, "Nothing was written").await;
    assert_text(&owner, "@cafe (Sandbox (local, for trying Steward)): the text must be at most 500 characters").await;
    let r = app.get(&format!("/api/v1/accounts/{shop}/posts?state=draft")).auth(&owner_api).send().await;
    assert!(!r.text.contains("Short and fine"), "nothing was created: {}", r.text);

    // The admin may post from 08:00 to 18:00: a drag into 20:00 is refused, in words.
    let admin = driver.browser().await;
    sign_in(&admin, &base, "ada@example.test", PASSWORD).await;
    admin.goto(format!("{base}/calendar?account={shop}")).await.unwrap();
    drag(&admin, &scheduled, &format!("{friday}T20")).await;
    assert_text(&admin, "The post was not moved.").await;
    let error = admin.find(By::Id("move-error")).await.unwrap().text().await.unwrap();
    assert!(error.contains("outside your posting windows") && error.contains("08:00"), "{error}");
    assert!(!error.contains("T08:00:00Z"), "no raw instant: {error}");
    check_page_at(&admin, "calendar-refused", PHONE).await;
    assert_eq!(
        api_post(&app, &owner_api, &scheduled).await["scheduled_at"],
        format!("{friday}T14:00:00Z"),
        "nothing moved"
    );
    owner.quit().await.unwrap();
    admin.quit().await.unwrap();
}

/// A busy week stays a light page: 500 posts scheduled in one week on two accounts and 60
/// approved ones waiting for a time (each with its move form) weigh at most 100 KB with the
/// stylesheet and script, at desktop and 390 px, and pass axe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_week_stays_under_100_kb_in_chromium() {
    use steward_domain::ids::PostId;
    use steward_store::{NewPost, PostStateWrite, ScheduleWrite};
    let Some(mut driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let base = app.base.clone();
    let owner_api = app.user("olivia@example.test").await;
    let accounts = [sandbox_account(&app, &owner_api, "@shop").await, sandbox_account(&app, &owner_api, "@cafe").await];
    // Next week, from Monday 00:00 UTC: every post is still to come.
    let today = app.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let mut monday = today.checked_add(1.day()).unwrap();
    while monday.weekday() != jiff::civil::Weekday::Monday {
        monday = monday.checked_add(1.day()).unwrap();
    }
    let start = monday.to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp().as_microsecond();
    let week_us = 7 * 86_400_000_000i64;
    let now = app.clock.now_us();
    let mut tx = app.state.store.begin().await.unwrap();
    for i in 0..560i64 {
        let id = crate::helpers::seed::uuid_v7();
        let account = accounts[usize::try_from(i % 2).unwrap()].as_str();
        let text =
            format!("Post number {i}: spring collection, new colours, and a discount for our newsletter readers.");
        tx.insert_post(NewPost {
            id: &steward_domain::ids::PostId::from(id.as_str()),
            account_id: &steward_domain::ids::AccountId::from(account),
            author_id: &steward_domain::ids::UserId::from(owner_api.user_id.as_str()),
            title: None,
            text: &text,
            media: "[]",
            idempotency: None,
            now,
        })
        .await
        .unwrap();
        let write = if i < 500 {
            PostStateWrite {
                state: "scheduled",
                schedule: ScheduleWrite::Set { at: start + week_us / 500 * i, by: &owner_api.user_id.as_str().into() },
                hold_reason: None,
                clear_approvals: false,
            }
        } else {
            PostStateWrite {
                state: "approved",
                schedule: ScheduleWrite::Keep,
                hold_reason: None,
                clear_approvals: false,
            }
        };
        assert!(tx.apply_post_transition(&PostId::new(id), "draft", 1, &write, now).await.unwrap());
    }
    tx.commit().await.unwrap();

    let owner = driver.browser().await;
    sign_in(&owner, &base, "olivia@example.test", PASSWORD).await;
    owner.goto(format!("{base}/calendar?date={monday}")).await.unwrap();
    assert_text(&owner, "500 posts this week.").await;
    check_page_at(&owner, "calendar-busy-week", PHONE).await;
    owner.goto(format!("{base}/calendar?date={monday}&account={}", accounts[0])).await.unwrap();
    assert_text(&owner, "250 posts this week.").await;
    check_page_at(&owner, "calendar-busy-week-one-account", PHONE).await;
    owner.quit().await.unwrap();
}
