//! In Chromium: a reviewer learns from the header and the notifications page that a post waits
//! for them, opens it, marks the notice read; the owner sees a collaborator's devices on the
//! member page, limits them, and signs one out.
use thirtyfour::prelude::*;

use crate::browser::{Driver, assert_text, check_page_at, fill, press, sign_in, text};
use crate::helpers::accounts::{member, sandbox_account};
use crate::helpers::*;

const PHONE: u32 = 390;
const CHROME_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_and_a_members_devices_in_chromium() {
    let Some(mut driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let base = app.base.clone();
    let owner_api = app.user("nora@example.test").await;
    let id = sandbox_account(&app, &owner_api, "@bakery").await;
    let editor_api = member(&app, &owner_api, &id, "eli@example.test", "editor").await;
    // The editor also works from a Mac: a second device.
    let r = app
        .post("/api/v1/auth/login")
        .header("user-agent", CHROME_MAC)
        .json(serde_json::json!({"email": "eli@example.test", "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mac = Session::from_login(&r);
    let r = app
        .post(&format!("/api/v1/accounts/{id}/posts"))
        .auth(&editor_api)
        .json(serde_json::json!({"text": "Fresh croissants every morning from seven"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let pid = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(app.post(&format!("/api/v1/posts/{pid}/submit")).auth(&editor_api).send().await.status, 200);

    // The header counts the unread notice; the page says what waits, in a sentence.
    let owner = driver.browser().await;
    sign_in(&owner, &base, "nora@example.test", PASSWORD).await;
    let count = owner.find(By::Id("unread-count")).await.expect("an unread count in the header");
    assert!(count.text().await.unwrap().starts_with('1'), "one unread");
    owner.goto(format!("{base}/notifications")).await.unwrap();
    assert_text(&owner, "asks for your review of a post for").await;
    assert_text(&owner, "Fresh croissants every morning from seven").await;
    assert_text(&owner, "sends no email").await;
    check_page_at(&owner, "notifications", PHONE).await;
    press(&owner, "Mark as read").await;
    owner.goto(format!("{base}/notifications")).await.unwrap();
    assert!(owner.find(By::Css(".notifications .badge")).await.is_err(), "nothing is new any more");
    assert!(owner.find(By::Id("unread-count")).await.is_err(), "the header counts nothing");
    owner.find(By::LinkText("Open the post")).await.expect("a link to the post").click().await.unwrap();
    assert_text(&owner, "Fresh croissants every morning from seven").await;
    assert!(text(&owner).await.contains("Approve"), "the reviewer can act from there");

    // The member page lists the editor's devices in words; one device at most from now on.
    owner.goto(format!("{base}/accounts/{id}/settings")).await.unwrap();
    fill(&owner, "#settings-max-devices-per-member", "1").await;
    press(&owner, "Save settings").await;
    assert_text(&owner, "Saved.").await;
    assert_eq!(
        app.get(&format!("/api/v1/accounts/{id}")).auth(&mac).send().await.status,
        403,
        "the Mac is the second device"
    );
    owner.goto(format!("{base}/accounts/{id}/members/{}", editor_api.user_id)).await.unwrap();
    assert_text(&owner, "Where eli is signed in").await;
    assert_text(&owner, "Chrome on macOS").await;
    check_page_at(&owner, "member-devices", PHONE).await;
    let first = owner
        .find(By::Css(format!("form[action$='/sessions/{}/end'] button", editor_api.session_id)))
        .await
        .expect("a button to sign the first device out");
    first.click().await.unwrap();
    assert_text(&owner, "That device is signed out").await;
    assert_eq!(app.get("/api/v1/me").auth(&editor_api).send().await.status, 401);
    assert_eq!(
        app.get(&format!("/api/v1/accounts/{id}")).auth(&mac).send().await.status,
        200,
        "the Mac takes its place"
    );
    owner.quit().await.unwrap();
}
