//! In Chromium, the platform side of the whole job: an owner connects LinkedIn Company Pages
//! through LinkedIn's sign-in (the double) and chooses one; when LinkedIn stops accepting the
//! credential the account page says so once, with one "reconnect" action; and a person with no
//! account of their own deletes their user.
use thirtyfour::prelude::*;

use crate::browser::{Driver, assert_text, check_page_at, click, fill, path, press, sign_in, sign_up};
use crate::helpers::oauth::{DEVTESTCO, with_linkedin_pages};
use crate::helpers::*;

const PHONE: u32 = 390;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn company_pages_reconnecting_and_leaving_in_chromium() {
    let Some(mut driver) = Driver::start().await else { return };
    let Some((app, double)) = with_linkedin_pages(Backend::Sqlite).await else { return };
    let base = app.base.clone();
    let _owner = app.user("olivia@example.com").await;

    let b = driver.browser().await;
    sign_in(&b, &base, "olivia@example.com", PASSWORD).await;
    b.goto(format!("{base}/connect")).await.unwrap();
    click(&b, "section[aria-labelledby='c-linkedin'] option[value='organization']").await;
    click(&b, "section[aria-labelledby='c-linkedin'] button[type='submit']").await;
    // LinkedIn's sign-in (the double consents at once) comes back to the choice of pages.
    assert_text(&b, "Choose your LinkedIn pages").await;
    assert_text(&b, "Second & Sons").await;
    assert!(!crate::browser::text(&b).await.contains("Watched Inc"), "only the pages administered");
    check_page_at(&b, "linkedin-pages", PHONE).await;
    click(&b, &format!("input[value='{DEVTESTCO}']")).await;
    fill(&b, "input[name='time_zone']", "Europe/Paris").await;
    press(&b, "Connect the pages chosen").await;
    assert_text(&b, "is connected").await;
    assert!(path(&b).await.starts_with("/accounts/"), "lands on the new account's page");
    let account_page = b.current_url().await.unwrap().path().to_string();

    // LinkedIn refuses the credential from now on: one clear action, nothing more sent.
    double.revoke_all();
    press(&b, "Test the connection").await;
    assert_text(&b, "Reconnect this account").await;
    let before = double.requests().len();
    b.goto(format!("{base}{account_page}")).await.unwrap();
    assert_eq!(
        b.find_all(By::XPath("//button[starts-with(normalize-space(.), 'Reconnect with')]")).await.unwrap().len(),
        1
    );
    check_page_at(&b, "account-needs-reconnect", PHONE).await;
    assert_eq!(double.requests().len(), before, "showing the page calls LinkedIn no more");
    b.quit().await.unwrap();

    // Someone who owns nothing leaves: their user is deleted after the password again.
    let d = driver.browser().await;
    sign_up(&d, &base, "Dana", "dana@example.com").await;
    d.goto(format!("{base}/security/delete")).await.unwrap();
    check_page_at(&d, "delete-me", PHONE).await;
    fill(&d, "input[name='password']", PASSWORD).await;
    press(&d, "Delete my user").await;
    assert_text(&d, "Your user is deleted").await;
    let r = app
        .post("/api/v1/auth/login")
        .json(serde_json::json!({"email": "dana@example.com", "password": PASSWORD}))
        .send()
        .await;
    assert_eq!(r.status, 401, "the user is gone: {}", r.text);
    d.quit().await.unwrap();
}
