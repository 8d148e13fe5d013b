//! Issue #17, items 2, 3 and 10: connecting ends in the app (the OAuth callback sends a browser
//! on to the new account's page, or back to the connect page with the reason in words), inviting
//! is quick (posting-hour presets read on the server, the grid's toggles, capabilities marked
//! for the chosen role, the link's Copy button, whether the mail went out), and the app at
//! 390 px (one compact menu, member actions in view, the activity paged with a chart that fits).
//! Over plain HTTP on both backends, and in Chromium.
use serde_json::{Value, json};
use steward_connectors::OauthApp;
use steward_doubles::linkedin::{self, LinkedInDouble};
use steward_doubles::tiktok::{self, TikTokDouble};
use thirtyfour::prelude::*;

use crate::browser::{Driver, assert_text, check_page_at, click, fill, path, press, screenshots_dir, sign_up};
use crate::helpers::accounts::sandbox_account;
use crate::helpers::html::{browser, page, post_form};
use crate::helpers::oauth::{callback, landing, start};
use crate::helpers::*;

/// A server whose LinkedIn and TikTok apps are fresh doubles.
async fn with_platforms(backend: Backend) -> Option<(TestApp, LinkedInDouble, TikTokDouble)> {
    let li = LinkedInDouble::start(linkedin::Config::default()).await.unwrap();
    let tt = TikTokDouble::start(tiktok::Config::default()).await.unwrap();
    let (li_id, li_secret, li_base) =
        (li.config().client_id.clone(), li.config().client_secret.clone(), li.base.clone());
    let (tt_id, tt_secret, tt_base) =
        (tt.config().client_key.clone(), tt.config().client_secret.clone(), tt.base.clone());
    let app = TestApp::spawn_with(backend, move |s| {
        s.linkedin = Some(OauthApp {
            client_id: li_id,
            client_secret: zeroize::Zeroizing::new(li_secret),
            auth_base: li_base.clone(),
            api_base: li_base,
        });
        s.tiktok = Some(OauthApp {
            client_id: tt_id,
            client_secret: zeroize::Zeroizing::new(tt_secret),
            auth_base: tt_base.clone(),
            api_base: tt_base,
        });
    })
    .await?;
    Some((app, li, tt))
}

async fn account_count(app: &TestApp, s: &Session) -> usize {
    app.get("/api/v1/accounts").auth(s).send().await.body["items"].as_array().unwrap().len()
}

/// The invitation link shown once on the members page after inviting.
fn invite_token(html: &str) -> String {
    let at = html.find("id=\"invite-link\" type=\"text\" readonly value=\"").expect("the invitation link");
    let rest = &html[at..];
    let start = rest.find("/invite/").expect("a link") + "/invite/".len();
    rest[start..start + rest[start..].find('"').unwrap()].to_string()
}

/// The windows of the member `email` as the API reads them back.
async fn windows_of(app: &TestApp, owner: &Session, account: &str, email: &str) -> Value {
    let r = app.get(&format!("/api/v1/accounts/{account}/members")).auth(owner).send().await;
    let items = r.body["items"].as_array().unwrap_or_else(|| panic!("{}", r.text)).clone();
    items.into_iter().find(|m| m["email"] == email).unwrap_or_else(|| panic!("{email} in {}", r.text))["windows"]
        .clone()
}

/// Invites `email` through the members page's form with `fields`, accepts as them; answers the
/// page shown after inviting.
async fn invite_by_form(app: &TestApp, owner: &Session, account: &str, email: &str, fields: &[(&str, &str)]) -> String {
    let mut form = vec![("csrf_token", owner.csrf.as_str()), ("email", email), ("role", "editor")];
    form.extend_from_slice(fields);
    let (status, _, html) = post_form(app, &owner.cookie(), &format!("/accounts/{account}/invitations"), &form).await;
    assert_eq!(status, 201, "{html}");
    let invitee = app.user(email).await;
    let token = invite_token(&html);
    let r = app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&invitee).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    html
}

both_backends! {
    async fn the_oauth_callback_sends_a_browser_into_the_app_and_says_why_when_nothing_was_connected(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, li, _tt)) = with_platforms(backend).await else { return };
        let owner = app.user("olivia@example.com").await;

        // LinkedIn: on to the new account's page, which names it; the state works once.
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_kind": "member"})).await;
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!(status, 303, "{to}");
        let items = app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].clone();
        let linkedin_id = items[0]["id"].as_str().unwrap().to_string();
        assert_eq!(to, format!("/accounts/{linkedin_id}?notice=connected"));
        let (status, html) = landing(&app, &owner, &to).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("<p class=\"notice\" role=\"status\">LinkedIn account Olivia Owner is connected."), "{html}");
        let (status, again) = callback(&app, &owner, &back).await;
        assert_eq!((status, again.as_str()), (303, "/connect?refused=unusable&platform=linkedin"));
        assert_eq!(account_count(&app, &owner).await, 1, "a replayed callback created nothing");

        // TikTok: the same way in.
        let back = start(&app, &owner, json!({"platform": "tiktok"})).await;
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!(status, 303, "{to}");
        assert!(to.starts_with("/accounts/") && to.ends_with("?notice=connected") && !to.contains(&linkedin_id), "{to}");
        let (_, html) = landing(&app, &owner, &to).await;
        assert!(html.contains("TikTok account") && html.contains("is connected."), "{html}");
        assert_eq!(account_count(&app, &owner).await, 2);

        // Cancelled on LinkedIn's page: back to the connect page, which says why in words (and
        // never repeats the platform's own text, which a link could forge).
        li.cancel_next_authorization();
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_kind": "member"})).await;
        assert!(back.contains("error_description="), "{back}");
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!((status, to.as_str()), (303, "/connect?refused=cancelled&platform=linkedin"));
        let (status, html) = landing(&app, &owner, &to).await;
        assert_eq!(status, 200);
        assert!(html.contains("Nothing was connected") && html.contains("You cancelled on LinkedIn"), "{html}");
        assert!(!html.contains("The user cancelled the authorization"), "{html}");
        assert_eq!(account_count(&app, &owner).await, 2, "nothing was connected");

        // Expired: 10 minutes at most between starting and coming back.
        let back = start(&app, &owner, json!({"platform": "tiktok"})).await;
        app.clock.advance(std::time::Duration::from_secs(11 * 60));
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!((status, to.as_str()), (303, "/connect?refused=expired&platform=tiktok"));
        let owner = app.login("olivia@example.com").await;
        assert_eq!(account_count(&app, &owner).await, 2);
        let (_, html) = page(&app, &owner, "/connect?refused=expired&platform=tiktok").await;
        assert!(html.contains("Signing in on TikTok took more than 10 minutes"), "{html}");

        // The connect page words only its own keys: anything else in the URL shows nothing.
        let (_, html) = page(&app, &owner, "/connect?refused=%3Cb%3Egive+me+your+password%3C%2Fb%3E&platform=linkedin").await;
        assert!(!html.contains("Nothing was connected") && !html.contains("give me your password"), "{html}");
        let (_, html) = page(&app, &owner, "/connect?refused=platform_refused&platform=%3Cb%3Ezzqx").await;
        assert!(html.contains("The platform did not let Steward finish connecting") && !html.contains("zzqx"), "{html}");

        // A client that sends its session as a bearer token (not the web app's browser) still
        // gets the page with the outcome as its status, as before.
        li.set_member(linkedin::Member { sub: "bearer1".into(), name: "Bea Bearer".into(), email: "bea@example.com".into() });
        let r = app.post("/api/v1/accounts/connect").auth(&owner).json(json!({"platform": "linkedin", "account_kind": "member"})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let consent = browser().get(r.body["authorize_url"].as_str().unwrap()).send().await.unwrap();
        let back = consent.headers()["location"].to_str().unwrap().to_string();
        let r = browser().get(&back).bearer_auth(&owner.token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains("Bea Bearer") && html.contains("is connected"), "{html}");
        let r = browser().get(&back).bearer_auth(&owner.token).send().await.unwrap();
        assert_eq!(r.status(), 400, "the state is spent for bearer clients too");
        assert_eq!(account_count(&app, &owner).await, 3);
    }

    async fn invite_presets_are_read_on_the_server_and_the_grid_still_posts(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner, "@shop").await;
        let members = format!("/accounts/{id}/members");
        let (status, html) = page(&app, &owner, &members).await;
        assert_eq!(status, 200, "{html}");
        for value in ["any", "weekdays", "every_day", "custom"] {
            assert!(html.contains(&format!("name=\"hours\" value=\"{value}\"")), "{value}: {html}");
        }
        assert!(html.contains("id=\"invite-hours-any\" name=\"hours\" value=\"any\" checked"), "no restriction by default");
        assert!(html.contains("Weekdays, 9:00 to 18:00") && html.contains("Every day, 9:00 to 18:00"));
        assert!(html.contains("<details class=\"grid\"><summary>"), "the grid is folded away: {html}");
        assert!(html.contains("data-publish-roles=\"admin\""), "only admins schedule and publish by default: {html}");
        // Capabilities as sentences, marked for the role chosen (editor by default).
        assert!(html.contains("Write drafts and send them for review<span class=\"incl\"> (the <span class=\"role-name\">editor</span> role includes this)"), "{html}");
        assert!(html.contains("Manage admins") || html.contains("Invite and manage"), "{html}");
        assert!(html.contains("Change settings and house rules<span class=\"incl\" hidden>"), "not an editor's: {html}");

        // Weekdays 9–18: the grid's cells are ignored when a preset is chosen.
        let html = invite_by_form(&app, &owner, &id, "wendy@example.test", &[("hours", "weekdays"), ("w", "sun-3")]).await;
        assert!(html.contains("No email was sent: this server does not send mail."), "{html}");
        assert!(html.contains("data-copy=\"invite-link\" hidden>Copy the link</button>"), "{html}");
        assert_eq!(windows_of(&app, &owner, &id, "wendy@example.test").await,
            json!([{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "18:00"}]));
        invite_by_form(&app, &owner, &id, "edgar@example.test", &[("hours", "every_day")]).await;
        assert_eq!(windows_of(&app, &owner, &id, "edgar@example.test").await,
            json!([{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "09:00", "end": "18:00"}]));
        invite_by_form(&app, &owner, &id, "anna@example.test", &[("hours", "any"), ("w", "mon-9")]).await;
        assert_eq!(windows_of(&app, &owner, &id, "anna@example.test").await, json!([]));
        // The grid, chosen or from a form without the presets.
        invite_by_form(&app, &owner, &id, "carl@example.test", &[("hours", "custom"), ("w", "mon-9"), ("w", "mon-10")]).await;
        assert_eq!(windows_of(&app, &owner, &id, "carl@example.test").await,
            json!([{"days": ["mon"], "start": "09:00", "end": "11:00"}]));

        // Something that is not a choice: said by the hours, nothing created.
        let before = app.get(&format!("/api/v1/accounts/{id}/invitations")).auth(&owner).send().await.body["items"].as_array().map(Vec::len);
        let (status, _, html) = post_form(&app, &owner.cookie(), &format!("/accounts/{id}/invitations"),
            &[("csrf_token", &owner.csrf), ("email", "nope@example.test"), ("role", "editor"), ("hours", "sometimes")]).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("Posting hours must be one of the choices offered."), "{html}");
        let after = app.get(&format!("/api/v1/accounts/{id}/invitations")).auth(&owner).send().await.body["items"].as_array().map(Vec::len);
        assert_eq!(before, after, "no invitation was created");

        // The change form shows the member's preset chosen.
        let wendy = app.get(&format!("/api/v1/accounts/{id}/members")).auth(&owner).send().await.body["items"]
            .as_array().unwrap().iter().find(|m| m["email"] == "wendy@example.test").unwrap()["user_id"].as_str().unwrap().to_string();
        let (_, html) = page(&app, &owner, &format!("{members}/{wendy}")).await;
        assert!(html.contains("id=\"member-hours-weekdays\" name=\"hours\" value=\"weekdays\" checked"), "{html}");
        let (status, to, html) = post_form(&app, &owner.cookie(), &format!("{members}/{wendy}"),
            &[("csrf_token", &owner.csrf), ("role", "editor"), ("status", "active"), ("hours", "every_day")]).await;
        assert_eq!((status, to.as_str()), (303, format!("{members}?notice=updated").as_str()), "{html}");
        assert_eq!(windows_of(&app, &owner, &id, "wendy@example.test").await[0]["days"].as_array().unwrap().len(), 7);
    }
}

/// Height in CSS pixels of everything above the page's content (the navigation).
async fn nav_height(b: &WebDriver) -> f64 {
    let top =
        b.execute("return document.getElementById('main').getBoundingClientRect().top;", Vec::new()).await.unwrap();
    let height = top.json().as_f64().unwrap();
    eprintln!("nav-height {}: {height} px", path(b).await);
    height
}

async fn displayed(b: &WebDriver, css: &str) -> bool {
    b.find(By::Css(css)).await.unwrap_or_else(|_| panic!("no {css}")).is_displayed().await.unwrap()
}

async fn js_number(b: &WebDriver, script: &str) -> f64 {
    b.execute(script, Vec::new()).await.unwrap().json().as_f64().unwrap_or_else(|| panic!("{script}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_inviting_and_the_phone_layout_in_chromium() {
    let Some(mut driver) = Driver::start().await else { return };
    let (app, li, _tt) = with_platforms(Backend::Sqlite).await.expect("app");
    let base = app.base.clone();
    let b = driver.browser().await;
    sign_up(&b, &base, "Olivia Owner", "olivia@example.com").await;

    // Connecting LinkedIn: the platform's page, then straight back into the app.
    click(&b, "a[href='/connect']").await;
    press(&b, "Connect with LinkedIn").await;
    assert_text(&b, "LinkedIn account Olivia Owner is connected.").await;
    let account = path(&b).await;
    assert!(account.starts_with("/accounts/"), "{account}");
    check_page_at(&b, "webnav-connected", 390).await;

    // Cancelled on LinkedIn's page: back on the connect page with the reason.
    li.cancel_next_authorization();
    b.goto(format!("{base}/connect")).await.unwrap();
    press(&b, "Connect with LinkedIn").await;
    assert_text(&b, "You cancelled on LinkedIn's page, or did not allow Steward in").await;
    assert_eq!(path(&b).await, "/connect");
    check_page_at(&b, "webnav-connect-cancelled", 390).await;

    // Inviting: the hours follow the role (and a grant of publishing), presets fill the grid,
    // the headers toggle, the capabilities say what the chosen role includes.
    b.goto(format!("{base}{account}/members")).await.unwrap();
    assert!(!displayed(&b, "fieldset.hours").await, "an editor does not schedule or publish: no hours");
    b.find(By::Css("#invite-role option[value='admin']")).await.unwrap().click().await.unwrap();
    assert!(displayed(&b, "fieldset.hours").await, "an admin schedules: hours shown");
    b.find(By::Css("#invite-role option[value='viewer']")).await.unwrap().click().await.unwrap();
    assert!(!displayed(&b, "fieldset.hours").await, "a viewer never schedules: no hours");
    b.find(By::XPath("//summary[normalize-space(.)='Change what the role allows']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let mark = b.find(By::Css("#invite-grant-account-view ~ label .incl")).await.unwrap();
    assert!(
        mark.is_displayed().await.unwrap() && mark.text().await.unwrap().contains("viewer"),
        "the viewer role includes seeing the account"
    );
    assert!(!displayed(&b, "#invite-grant-drafts-create ~ label .incl").await, "but not writing drafts");
    b.find(By::Css("#invite-role option[value='editor']")).await.unwrap().click().await.unwrap();
    assert!(displayed(&b, "#invite-grant-drafts-create ~ label .incl").await, "an editor writes drafts");
    assert!(!displayed(&b, "#invite-grant-posts-publish ~ label .incl").await, "but does not publish");
    click(&b, "#invite-grant-posts-publish").await;
    assert!(displayed(&b, "fieldset.hours").await, "granted publishing: the hours apply");
    click(&b, "#invite-hours-custom").await;
    assert!(displayed(&b, "input[name='w'][value='mon-9']").await, "choosing the grid opens it");
    let ticked = |day: &'static str| {
        format!("return document.querySelectorAll(\"input[name=w][value^='{day}-']:checked\").length;")
    };
    b.find(By::Css("th[data-day='mon'] button")).await.unwrap().click().await.unwrap();
    assert_eq!(js_number(&b, &ticked("mon")).await, 24.0, "the day's button ticks the whole day");
    b.find(By::Css("th[data-day='mon'] button")).await.unwrap().click().await.unwrap();
    assert_eq!(js_number(&b, &ticked("mon")).await, 0.0, "and again unticks it");
    b.find(By::Css("th[data-hour='9'] button")).await.unwrap().click().await.unwrap();
    assert_eq!(
        js_number(&b, "return document.querySelectorAll(\"input[name=w][value$='-9']:checked\").length;").await,
        7.0
    );
    click(&b, "#invite-hours-weekdays").await;
    assert_eq!(js_number(&b, &ticked("tue")).await, 9.0, "the preset shows in the grid");
    assert_eq!(js_number(&b, &ticked("sat")).await, 0.0);
    let form = b.find(By::Css("form[action$='/invitations']")).await.unwrap();
    form.scroll_into_view().await.unwrap();
    form.screenshot(&screenshots_dir().join("webnav-invite-form.png")).await.unwrap();
    fill(&b, "#invite-email", "eddie@example.com").await;
    press(&b, "Create the invitation").await;
    assert_text(&b, "No email was sent: this server does not send mail.").await;
    assert!(displayed(&b, "button[data-copy='invite-link']").await, "the link has a Copy button");
    let link = b.find(By::Css("#invite-link")).await.unwrap().value().await.unwrap().unwrap();
    let token = link.rsplit('/').next().unwrap().to_string();
    let eddie = app.user("eddie@example.com").await;
    let r = app.post(&format!("/api/v1/invitations/{token}/accept")).auth(&eddie).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    b.goto(format!("{base}{account}/members")).await.unwrap();
    assert_text(&b, "mon, tue, wed, thu, fri 09:00–18:00").await;
    check_page_at(&b, "webnav-members", 390).await;

    // Enough activity for more than one page of the log.
    let owner = app.login("olivia@example.com").await;
    let id = account.trim_start_matches("/accounts/");
    for i in 0..30 {
        let r = app
            .post(&format!("/api/v1/accounts/{id}/posts"))
            .auth(&owner)
            .json(json!({"text": format!("Draft {i}")}))
            .send()
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    // At 390 px: one compact menu, the member's actions in view, the log paged, the chart fits.
    b.set_window_rect(0, 0, 390, 800).await.unwrap();
    let height = nav_height(&b).await;
    assert!(height <= 100.0, "the navigation takes {height} px at 390 px");
    assert!(!displayed(&b, "nav.tabs").await && displayed(&b, "details.menu summary").await);
    let remove = b.find(By::XPath("//button[starts-with(normalize-space(.), 'Remove')]")).await.unwrap();
    let right = js_number(&b, "const b = [...document.querySelectorAll('button')].find(x => x.textContent.startsWith('Remove')); return b.getBoundingClientRect().right;").await;
    assert!(remove.is_displayed().await.unwrap() && right <= 390.0, "Remove ends at {right} px");
    b.find(By::Css("details.menu summary")).await.unwrap().click().await.unwrap();
    assert!(displayed(&b, "details.menu a[aria-current='page']").await, "the account's pages are in the menu");
    b.screenshot(&screenshots_dir().join("webnav-menu-open-390.png")).await.unwrap();
    click(&b, "details.menu a[href$='/activity']").await;
    assert_text(&b, "What happened, newest first").await;
    let height = nav_height(&b).await;
    assert!(height <= 100.0, "the navigation takes {height} px at 390 px");
    let chart = js_number(&b, "return document.querySelector('svg.chart').getBoundingClientRect().width;").await;
    let chart_right = js_number(&b, "return document.querySelector('svg.chart').getBoundingClientRect().right;").await;
    // Drawn 360 units wide with 12-unit text: its text is 10 px or taller, and it ends in view.
    assert!(
        chart * 12.0 / 360.0 >= 10.0 && chart_right <= 390.0,
        "the chart is {chart} px wide, ends at {chart_right}"
    );
    click(&b, "a[rel='next']").await;
    assert_text(&b, "Newer").await;
    assert!(b.current_url().await.unwrap().query().unwrap_or("").contains("cursor="));
    b.set_window_rect(0, 0, 1280, 900).await.unwrap();
    check_page_at(&b, "webnav-activity", 390).await;
    // Desktop: the two bars, no menu.
    assert!(displayed(&b, "nav.tabs").await && !displayed(&b, "details.menu").await);
}
