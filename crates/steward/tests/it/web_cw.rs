//! A Mastodon content warning in Chromium: the editor offers the field on Mastodon accounts
//! only, the live preview folds the status behind the warning as it is typed (a `<details>`
//! whose summary is the warning, closed, as Mastodon shows it), the saved post's page shows it
//! the same way, and the composer offers it on the Mastodon copy only. Screenshots and axe at
//! desktop and 390 px.
use serde_json::json;
use steward_doubles::mastodon::{Config as MastodonConfig, MastodonDouble};
use thirtyfour::prelude::*;

use crate::browser::{Driver, assert_text, check_page_at, fill, press, sign_in};
use crate::helpers::accounts::sandbox_account;
use crate::helpers::seed::seal_mastodon_account;
use crate::helpers::*;

const PHONE: u32 = 390;

async fn summary(b: &WebDriver) -> (String, bool) {
    let details = b.find(By::Css("main details#preview-cw")).await.expect("the status is in a details");
    let open = details.prop("open").await.unwrap().as_deref() == Some("true");
    let text = details.find(By::Css("summary")).await.unwrap().text().await.unwrap();
    (text, open)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_warning_folds_the_status_in_the_preview_and_on_the_post_page_in_chromium() {
    let Some(mut driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let base = app.base.clone();
    let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
    let owner_api = app.user("olivia@example.test").await;
    let masto =
        seal_mastodon_account(&app.state.store, app.state.vault(), &owner_api.user_id, &d, app.clock.now_us()).await;
    let shop = sandbox_account(&app, &owner_api, "@shop").await;

    let b = driver.browser().await;
    sign_in(&b, &base, "olivia@example.test", PASSWORD).await;
    // Without a warning the status shows in full (no summary to open).
    b.goto(format!("{base}/accounts/{masto}/posts/new")).await.unwrap();
    fill(&b, "#edit-text", "The finale was wonderful").await;
    let (shown, open) = summary(&b).await;
    assert_eq!((shown.as_str(), open), ("", true), "no warning: nothing folded");
    let text = b.find(By::Id("preview-text")).await.unwrap().text().await.unwrap();
    assert_eq!(text, "The finale was wonderful");

    // Typed, the warning becomes the summary and the status folds behind it.
    fill(&b, "#edit-content-warning", "Spoilers: the finale").await;
    let (shown, open) = summary(&b).await;
    assert_eq!((shown.as_str(), open), ("Spoilers: the finale", false));
    assert!(!b.find(By::Id("preview-text")).await.unwrap().is_displayed().await.unwrap(), "folded");
    check_page_at(&b, "editor-content-warning", PHONE).await;
    // Opened, as a reader would.
    b.find(By::Css("main details#preview-cw summary")).await.unwrap().click().await.unwrap();
    assert!(b.find(By::Id("preview-text")).await.unwrap().is_displayed().await.unwrap(), "opened");

    press(&b, "Save the draft").await;
    assert_text(&b, "Content warning").await;
    let (shown, open) = summary(&b).await;
    assert_eq!((shown.as_str(), open), ("Spoilers: the finale", false), "the post page folds it too");
    let value = b.find(By::Id("edit-content-warning")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(value.as_deref(), Some("Spoilers: the finale"), "the editor shows the stored warning");
    check_page_at(&b, "post-content-warning", PHONE).await;
    let r = app.get(&format!("/api/v1/accounts/{masto}/posts")).auth(&owner_api).send().await;
    assert_eq!(r.body["items"][0]["content_warning"], json!("Spoilers: the finale"), "{}", r.text);

    // Cleared, the status shows in full again once saved.
    b.execute(
        "const f = document.getElementById('edit-content-warning'); f.value = ''; f.dispatchEvent(new Event('input'));",
        Vec::new(),
    )
    .await
    .unwrap();
    let (_, open) = summary(&b).await;
    assert!(open, "no warning left: shown in full as typed");
    press(&b, "Save changes").await;
    assert_text(&b, "Version 2").await;
    let (shown, open) = summary(&b).await;
    assert_eq!((shown.as_str(), open), ("", true));

    // Another platform has no such field and no fold.
    b.goto(format!("{base}/accounts/{shop}/posts/new")).await.unwrap();
    assert!(b.find(By::Id("edit-content-warning")).await.is_err(), "no warning off Mastodon");
    assert!(b.find(By::Css("main details#preview-cw")).await.is_err());

    // The composer offers it on the Mastodon copy only.
    b.goto(format!("{base}/compose")).await.unwrap();
    assert!(b.find(By::Id(format!("compose-cw-{masto}"))).await.is_ok(), "the Mastodon copy has it");
    assert!(b.find(By::Id(format!("compose-cw-{shop}"))).await.is_err(), "the sandbox copy has none");
    b.quit().await.unwrap();
}
