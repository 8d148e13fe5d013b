//! A time chosen on the calendar stays with the draft, in Chromium: an empty hour leads to the
//! composer, the saved draft sits in that hour after a reload (marked as planned, not listed
//! beside the grid), its page says when it is planned and, once approved, its schedule form
//! starts from that time; a refusal there names times in words; changing only the plan keeps
//! the post approved and moves it on the calendar. Screenshots and axe at desktop and 390 px.
use jiff::ToSpan;
use jiff::civil::Date;
use serde_json::{Value, json};
use thirtyfour::prelude::*;

use crate::browser::{Driver, assert_text, check_page_at, fill, press, sign_in, text};
use crate::helpers::accounts::sandbox_account;
use crate::helpers::*;

const PHONE: u32 = 390;

async fn cell(b: &WebDriver, slot: &str) -> String {
    b.find(By::Css(format!("td[data-slot='{slot}']"))).await.expect("the hour").text().await.unwrap()
}

async fn api(app: &TestApp, s: &Session, method: reqwest::Method, path: &str, body: Value) -> Value {
    let r = app.req(method, path).auth(s).json(body).send().await;
    assert!(r.status < 300, "{path}: {}", r.text);
    r.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_chosen_on_the_calendar_stays_with_the_draft_in_chromium() {
    use reqwest::Method;
    let Some(mut driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let base = app.base.clone();
    // Next week: every hour of it is still to come.
    let today = app.clock.now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let mut monday: Date = today.checked_add(1.day()).unwrap();
    while monday.weekday() != jiff::civil::Weekday::Monday {
        monday = monday.checked_add(1.day()).unwrap();
    }
    let wed = monday.checked_add(2.days()).unwrap();
    let owner_api = app.user("olivia@example.test").await;
    let shop = sandbox_account(&app, &owner_api, "@shop").await;
    api(&app, &owner_api, Method::PATCH, &format!("/api/v1/accounts/{shop}/settings"), json!({"min_gap_minutes": 60}))
        .await;

    let b = driver.browser().await;
    sign_in(&b, &base, "olivia@example.test", PASSWORD).await;
    let week = format!("{base}/calendar?account={shop}&date={monday}");
    b.goto(&week).await.unwrap();
    crate::browser::click(&b, &format!("td[data-slot='{wed}T15'] a.slot")).await;
    assert_text(&b, "Write a post for several accounts").await;
    let at = b.find(By::Id("compose-at")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(at.as_deref(), Some(format!("{wed}T15:00").as_str()));
    fill(&b, "#compose-text", "Autumn sale starts today").await;
    press(&b, "Write the drafts").await;
    assert_text(&b, "shown at that hour").await;

    // After a reload, the draft is in the hour it was written for, and only there.
    b.goto(&week).await.unwrap();
    let hour = cell(&b, &format!("{wed}T15")).await;
    assert!(hour.contains("Planned draft") && hour.contains("Autumn sale starts today"), "{hour}");
    let side = b.find(By::Css("section.untimed")).await.unwrap().text().await.unwrap();
    assert!(!side.contains("Autumn sale"), "not listed again beside the grid: {side}");
    check_page_at(&b, "calendar-planned-draft", PHONE).await;
    let list = app.get(&format!("/api/v1/accounts/{shop}/posts?state=draft")).auth(&owner_api).send().await;
    let pid = list.body["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(list.body["items"][0]["planned_for"], format!("{wed}T15:00:00Z"));

    // Approved, its page starts the schedule from the planned time.
    api(&app, &owner_api, Method::POST, &format!("/api/v1/posts/{pid}/submit"), json!({})).await;
    api(&app, &owner_api, Method::POST, &format!("/api/v1/posts/{pid}/approve"), json!({"version": 1})).await;
    let other =
        api(&app, &owner_api, Method::POST, &format!("/api/v1/accounts/{shop}/posts"), json!({"text": "Other"})).await;
    let other = other["id"].as_str().unwrap().to_string();
    api(&app, &owner_api, Method::POST, &format!("/api/v1/posts/{other}/submit"), json!({})).await;
    api(&app, &owner_api, Method::POST, &format!("/api/v1/posts/{other}/approve"), json!({"version": 1})).await;
    let at = format!("{wed}T15:30:00Z");
    api(&app, &owner_api, Method::POST, &format!("/api/v1/posts/{other}/schedule"), json!({"at": at})).await;
    b.goto(format!("{base}/posts/{pid}")).await.unwrap();
    assert_text(&b, "Planned for").await;
    let prefilled = b.find(By::Id("schedule-at")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(prefilled.as_deref(), Some(format!("{wed}T15:00").as_str()));
    // 30 minutes from the other post: refused, the other post's time in words.
    press(&b, "Schedule").await;
    assert_text(&b, "less than 60 minutes away").await;
    let page = text(&b).await;
    let words = wed.at(15, 30, 0, 0).strftime("%a %-d %b %Y, 15:30").to_string();
    assert!(page.contains(&words), "the time in words ({words}): {page}");
    assert!(!page.contains(&format!("{wed}T15:30")), "no raw instant: {page}");
    check_page_at(&b, "post-schedule-refused", PHONE).await;

    // The plan moved to 17:00 in the editor: still approved, now at 17:00 on the calendar.
    b.goto(format!("{base}/posts/{pid}")).await.unwrap();
    b.find(By::Css("main summary#edit-h")).await.unwrap().click().await.unwrap();
    b.execute("document.getElementById('edit-planned-for').value = arguments[0];", vec![json!(format!("{wed}T17:00"))])
        .await
        .unwrap();
    press(&b, "Save changes").await;
    let body = api(&app, &owner_api, Method::GET, &format!("/api/v1/posts/{pid}"), Value::Null).await;
    assert_eq!((body["state"].as_str(), body["version"].as_i64()), (Some("approved"), Some(1)), "{body}");
    assert_eq!(body["planned_for"], format!("{wed}T17:00:00Z"));
    b.goto(&week).await.unwrap();
    let hour = cell(&b, &format!("{wed}T17")).await;
    assert!(hour.contains("Planned, approved") && hour.contains("Autumn sale"), "{hour}");
    assert!(!cell(&b, &format!("{wed}T15")).await.contains("Autumn sale"));
    b.quit().await.unwrap();
}
