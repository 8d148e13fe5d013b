//! The post editor and the post page (issue 17, items 6 and 11): each platform's preview
//! (LinkedIn's "…see more", TikTok's frame, Mastodon's status, Bluesky's graphemes and link
//! card) rendered by the server from the saved text and by the script as one types, both by
//! `steward_domain::preview`'s rules; media with thumbnails served to members only, alt text
//! kept and sent to the platform, reordered and removed through the API, through the form
//! without a script, and in Chromium.
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use steward_domain::ids::{AccountId, PostId, UserId};
use steward_domain::preview::{
    BLUESKY_MAX_GRAPHEMES, first_link, grapheme_len, link_host, linkedin_fold, published_text, split_graphemes,
};
use steward_doubles::mastodon::{Config as MastodonConfig, MastodonDouble};
use steward_store::NewAccount;
use thirtyfour::prelude::*;

use crate::browser::{Driver, assert_text, check_page_at, fill, press, sign_in};
use crate::helpers::accounts::{bluesky_account, sandbox_account};
use crate::helpers::html::{csrf_in, page, post_form};
use crate::helpers::media::{png, upload};
use crate::helpers::seed::{insert_due_post, publish_outcome, seal_mastodon_account, uuid_v7};
use crate::helpers::*;

/// The width of the phone the story was tried on.
const PHONE: u32 = 390;

/// The first bytes of an MP4 (enough for the upload's type check).
fn mp4() -> Vec<u8> {
    let mut v = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec();
    v.extend_from_slice(&[0u8; 64]);
    v
}

/// An account of `platform` owned by `owner_id`, written as a connection would write it (the
/// editor needs no credential).
async fn platform_account(
    app: &TestApp,
    owner_id: &str,
    platform: &str,
    kind: &str,
    name: &str,
    handle: &str,
) -> String {
    let id = uuid_v7();
    let mut tx = app.state.store.begin().await.unwrap();
    tx.insert_account(NewAccount {
        id: &AccountId::from(id.as_str()),
        platform,
        account_kind: kind,
        handle,
        display_name: name,
        owner_id: &UserId::from(owner_id),
        time_zone: "UTC",
        max_members: 5,
        owner_approval_required: false,
        credential_sealed: None,
        now: app.clock.now_us(),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A draft made through the API; answers its id.
async fn draft(app: &TestApp, s: &Session, account: &str, body: Value) -> String {
    let r = app.post(&format!("/api/v1/accounts/{account}/posts")).auth(s).json(body).send().await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

async fn get_post(app: &TestApp, s: &Session, pid: &str) -> Resp {
    let r = app.get(&format!("/api/v1/posts/{pid}")).auth(s).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

/// Text of HTML as the browser reads it (the escapes askama writes).
fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The content of the element with this id, up to its first closing tag.
fn element(html: &str, id: &str) -> Option<(String, String)> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let open_end = at + html[at..].find('>')?;
    let attrs = html[at..open_end].to_string();
    let rest = &html[open_end + 1..];
    let end = rest.find("</")?;
    Some((attrs, unescape(&rest[..end])))
}

/// The values of every field named `name`, in order.
fn values_of(html: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.match_indices(&marker)
        .map(|(at, _)| {
            let rest = &html[at + marker.len()..];
            unescape(&rest[..rest.find('"').unwrap()])
        })
        .collect()
}

fn urls(post: &Value) -> Vec<String> {
    post["media"].as_array().unwrap().iter().map(|m| m["url"].as_str().unwrap().to_string()).collect()
}

both_backends! {
    async fn alt_text_order_and_removal_through_the_api(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner, "@kites").await;
        let one = upload(&app, &owner, &id, "image/png", png()).await;
        let two = upload(&app, &owner, &id, "image/png", png()).await;
        let clip = upload(&app, &owner, &id, "video/mp4", mp4()).await;
        let pid = draft(&app, &owner, &id, json!({"text": "Kites", "media": [
            {"url": one, "kind": "image", "alt": "  A red kite over the dunes \n"},
            {"url": two, "kind": "image", "alt": "   "},
            {"url": clip, "kind": "video"},
        ]}))
        .await;
        let r = get_post(&app, &owner, &pid).await;
        assert_eq!(r.body["media"][0]["alt"], "A red kite over the dunes", "kept, trimmed: {}", r.text);
        assert!(r.body["media"][1].get("alt").is_none(), "a blank alt text is none: {}", r.text);
        assert!(r.body["media"][2].get("alt").is_none());

        // Reordered: a new version with the list in the order given, alt text travelling along.
        let etag = r.header("etag").unwrap().to_string();
        let r = app.req(Method::PATCH, &format!("/api/v1/posts/{pid}")).auth(&owner).header("if-match", &etag)
            .json(json!({"media": [
                {"url": clip, "kind": "video"},
                {"url": one, "kind": "image", "alt": "A red kite over the dunes"},
                {"url": two, "kind": "image", "alt": "Two kites"},
            ]}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["version"], 2);
        assert_eq!(urls(&r.body), [clip.clone(), one.clone(), two.clone()]);
        assert_eq!(r.body["media"][2]["alt"], "Two kites");

        // Removed: only what is listed stays.
        let etag = r.header("etag").unwrap().to_string();
        let r = app.req(Method::PATCH, &format!("/api/v1/posts/{pid}")).auth(&owner).header("if-match", &etag)
            .json(json!({"media": [{"url": two, "kind": "image", "alt": "Two kites"}]}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["version"], 3);
        assert_eq!(urls(&r.body), vec![two.clone()]);

        // Alt text is for images, and has a length; a refusal changes nothing.
        let etag = r.header("etag").unwrap().to_string();
        for (media, field) in [
            (json!([{"url": clip, "kind": "video", "alt": "A clip"}]), "media[0].alt"),
            (json!([{"url": one, "kind": "image"}, {"url": two, "kind": "image", "alt": "x".repeat(1001)}]), "media[1].alt"),
            (json!([{"url": one, "kind": "image", "alt": "bell\u{7}"}]), "media[0].alt"),
        ] {
            let r = app.req(Method::PATCH, &format!("/api/v1/posts/{pid}")).auth(&owner).header("if-match", &etag)
                .json(json!({"media": media}))
                .send()
                .await;
            r.assert_problem(422, "validation");
            assert_eq!(r.body["errors"][0]["field"], field, "{}", r.text);
        }
        let r = get_post(&app, &owner, &pid).await;
        assert_eq!(r.body["version"], 3, "nothing changed");

        // The API document says it.
        let doc = app.get("/api/openapi.json").send().await;
        let alt = &doc.body["components"]["schemas"]["MediaItem"]["properties"]["alt"];
        assert!(alt["description"].as_str().is_some_and(|d| d.contains("alt text")), "{alt}");
        assert_eq!(alt["maxLength"], 1000, "{alt}");
    }

    async fn thumbnails_are_served_to_members_only_with_their_type(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let stranger = app.user("sam@example.test").await;
        let id = sandbox_account(&app, &owner, "@kites").await;
        let url = upload(&app, &owner, &id, "image/png", png()).await;
        let path = url.strip_prefix(&app.state.settings.public_url).unwrap().to_string();
        let browser = crate::helpers::html::browser();
        let r = browser.get(format!("{}{path}", app.base)).header("cookie", owner.cookie()).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(r.bytes().await.unwrap().as_ref(), png().as_slice());
        let r = browser.get(format!("{}{path}", app.base)).header("cookie", stranger.cookie()).send().await.unwrap();
        assert_eq!(r.status(), 404, "not a member: not found");
        let r = browser.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), 401, "nobody signed in");
        // The page shows the upload as a thumbnail, not as its address.
        let pid = draft(&app, &owner, &id, json!({"text": "Kites", "media": [{"url": url, "kind": "image", "alt": "A red kite"}]})).await;
        let (status, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        assert_eq!(status, 200);
        assert!(html.contains(&format!("<img class=\"thumb\" src=\"{url}\"")), "{html}");
        assert!(html.contains(&format!("<img src=\"{url}\" alt=\"A red kite\">")), "the preview carries the alt text: {html}");
        assert_eq!(values_of(&html, "media_alt"), ["A red kite"]);
        // The review queue's thumbnail carries it too.
        assert_eq!(app.post(&format!("/api/v1/posts/{pid}/submit")).auth(&owner).send().await.status, 200);
        let (_, queue) = page(&app, &owner, &format!("/accounts/{id}/review")).await;
        assert!(queue.contains("alt=\"Image 1 of Kites: A red kite\""), "{queue}");
    }

    async fn the_media_list_works_without_the_script(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let id = sandbox_account(&app, &owner, "@kites").await;
        let one = upload(&app, &owner, &id, "image/png", png()).await;
        let two = upload(&app, &owner, &id, "image/png", png()).await;
        let pid = draft(&app, &owner, &id, json!({"text": "Kites", "media": [
            {"url": one, "kind": "image", "alt": "A red kite"}, {"url": two, "kind": "image"}]})).await;
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        assert_eq!(values_of(&html, "media_url"), [one.clone(), two.clone()]);
        let form = |html: &str, alts: [&str; 2], op: Option<&str>| {
            let urls = values_of(html, "media_url");
            let mut f = vec![
                ("csrf_token".to_string(), csrf_in(html)),
                ("etag".to_string(), values_of(html, "etag")[0].clone()),
                ("title".to_string(), String::new()),
                ("text".to_string(), "Kites on the beach".to_string()),
            ];
            for (i, url) in urls.iter().enumerate() {
                f.push(("media_url".into(), url.clone()));
                f.push(("media_kind".into(), "image".into()));
                f.push(("media_alt".into(), alts.get(i).copied().unwrap_or_default().to_string()));
            }
            f.push(("media".into(), String::new()));
            if let Some(op) = op {
                f.push(("media_op".into(), op.to_string()));
            }
            f
        };
        let send = async |f: Vec<(String, String)>| {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            post_form(&app, &owner.cookie(), &format!("/posts/{pid}"), &f).await
        };
        // "Move down" on the first: the form again with the list changed, the typed text kept,
        // nothing saved.
        let (status, _, moved) = send(form(&html, ["A red kite", "Two kites"], Some("down-0"))).await;
        assert_eq!(status, 200, "{moved}");
        assert_eq!(values_of(&moved, "media_url"), [two.clone(), one.clone()]);
        assert_eq!(values_of(&moved, "media_alt"), ["Two kites", "A red kite"]);
        assert!(moved.contains("not saved yet"), "{moved}");
        assert!(moved.contains("Kites on the beach"), "the typed text is kept");
        let r = get_post(&app, &owner, &pid).await;
        assert_eq!((r.body["version"].as_i64(), urls(&r.body)), (Some(1), vec![one.clone(), two.clone()]), "nothing saved");
        // Saving keeps the new order and the alt text.
        let (status, location, body) = send(form(&moved, ["Two kites", "A red kite"], None)).await;
        assert_eq!(status, 303, "{body}");
        assert!(location.starts_with(&format!("/posts/{pid}")), "{location}");
        let r = get_post(&app, &owner, &pid).await;
        assert_eq!(urls(&r.body), [two.clone(), one.clone()]);
        assert_eq!(r.body["media"][0]["alt"], "Two kites");
        assert_eq!(r.body["media"][1]["alt"], "A red kite");
        // "Remove", then save: one image left.
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        let (status, _, removed) = send(form(&html, ["Two kites", "A red kite"], Some("remove-0"))).await;
        assert_eq!(status, 200);
        assert_eq!(values_of(&removed, "media_url"), vec![one.clone()]);
        let (status, _, _) = send(form(&removed, ["A red kite", ""], None)).await;
        assert_eq!(status, 303);
        let r = get_post(&app, &owner, &pid).await;
        assert_eq!(urls(&r.body), vec![one.clone()]);
        // A new post takes media with alt text from the form too.
        let (_, html) = page(&app, &owner, &format!("/accounts/{id}/posts/new")).await;
        let key = values_of(&html, "idempotency_key")[0].clone();
        let f = [
            ("csrf_token", csrf_in(&html)), ("idempotency_key", key), ("title", String::new()), ("text", "New".into()),
            ("media_url", two.clone()), ("media_kind", "image".into()), ("media_alt", "Two kites".into()), ("media", String::new()),
        ];
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, location, body) = post_form(&app, &owner.cookie(), &format!("/accounts/{id}/posts"), &f).await;
        assert_eq!(status, 303, "{body}");
        let new = location.strip_prefix("/posts/").and_then(|l| l.split('?').next()).unwrap().to_string();
        let r = get_post(&app, &owner, &new).await;
        assert_eq!(r.body["media"], json!([{"url": two, "kind": "image", "alt": "Two kites"}]));
    }

    async fn the_server_renders_each_preview_by_the_domain_rules(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let linkedin = platform_account(&app, &owner.user_id, "linkedin", "organization", "Kite Shop", "kite-shop").await;
        let bluesky = platform_account(&app, &owner.user_id, "bluesky", "account", "Kite Shop", "kites.bsky.social").await;
        let tiktok = platform_account(&app, &owner.user_id, "tiktok", "creator", "Kite Shop", "kiteshop").await;
        let mastodon = platform_account(&app, &owner.user_id, "mastodon", "account", "Kite Shop", "@kites@mastodon.example").await;

        // LinkedIn: the title leads, the fold after the third line, "…see more" shown.
        let text = "Line two\nLine three\nLine four & <more>";
        let pid = draft(&app, &owner, &linkedin, json!({"title": "Sale", "text": text})).await;
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        let full = published_text(Some("Sale"), text);
        let fold = linkedin_fold(&full);
        assert!(fold.folded);
        assert_eq!(element(&html, "preview-text").unwrap().1, fold.shown);
        assert!(!element(&html, "preview-more").unwrap().0.contains("hidden"), "…see more is shown");
        let long = format!("{} and on", "é".repeat(205));
        let pid = draft(&app, &owner, &linkedin, json!({"text": long})).await;
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        assert_eq!(element(&html, "preview-text").unwrap().1, linkedin_fold(&long).shown);
        assert_eq!(element(&html, "preview-text").unwrap().1.chars().count(), 209, "210 characters, the blank trimmed");
        let pid = draft(&app, &owner, &linkedin, json!({"text": "Short and sweet"})).await;
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        assert!(element(&html, "preview-more").unwrap().0.contains("hidden"), "nothing folded");

        // Bluesky: graphemes counted, the first link as a card.
        let text = "Kites 👩‍👩‍👧 e\u{301} 🇫🇷🇩🇪 (see https://Kites.example/sale?x=1). Then http://other.example";
        let pid = draft(&app, &owner, &bluesky, json!({"text": text})).await;
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        let count = element(&html, "preview-graphemes").unwrap().1;
        assert!(count.starts_with(&format!("{} of {BLUESKY_MAX_GRAPHEMES} characters", grapheme_len(text))), "{count}");
        let link = first_link(text).unwrap();
        assert_eq!(link, "https://Kites.example/sale?x=1");
        assert_eq!(element(&html, "preview-card-url").unwrap().1, link);
        assert_eq!(element(&html, "preview-card-host").unwrap().1, link_host(link));
        assert_eq!(link_host(link), "kites.example");
        assert_eq!(element(&html, "preview-text").unwrap().1, text);
        assert!(element(&html, "preview-over").unwrap().0.contains("hidden"));

        // TikTok: the caption under its frame, a placeholder until a video is attached.
        let pid = draft(&app, &owner, &tiktok, json!({"text": "Our kites in the wind", "media": [{"url": "https://cdn.example/k.mp4", "kind": "video"}]})).await;
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        assert!(html.contains("class=\"pv-frame\""), "{html}");
        assert!(html.contains("The video's frame shows here"), "{html}");
        let clip = upload(&app, &owner, &tiktok, "video/mp4", mp4()).await;
        let pid = draft(&app, &owner, &tiktok, json!({"text": "Our kites", "media": [{"url": clip, "kind": "video"}]})).await;
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        assert!(html.contains(&format!("<video id=\"preview-frame\" src=\"{clip}#t=0.1\"")), "the frame is the uploaded video's: {html}");
        assert!(html.contains("id=\"preview-frame-none\" hidden"), "no placeholder: {html}");

        // Mastodon: the status in full, with its author.
        let pid = draft(&app, &owner, &mastodon, json!({"text": "Wind today"})).await;
        let (_, html) = page(&app, &owner, &format!("/posts/{pid}")).await;
        assert_eq!(element(&html, "preview-text").unwrap().1, "Wind today");
        assert!(html.contains("@kites@mastodon.example"));
    }

    async fn alt_text_reaches_the_platform(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let d = MastodonDouble::start(MastodonConfig::default()).await.unwrap();
        let account = seal_mastodon_account(&app.state.store, app.state.vault(), &owner.user_id, &d, app.clock.now_us()).await;
        let url = upload(&app, &owner, &account, "image/png", png()).await;
        let media = json!([{"url": url, "kind": "image", "alt": "A red kite over the dunes"}]).to_string();
        let id = insert_due_post(&app.state.store, &account, &owner.user_id, "Kites", &media, app.clock.now_us()).await;
        let post_id = PostId::new(id.clone());
        assert_eq!(publish_outcome(&app, &post_id).await, "published");
        let statuses = d.statuses();
        assert_eq!(d.media_description(&statuses[0].media_ids[0]).as_deref(), Some("A red kite over the dunes"));
    }
}

both_backends! {
    async fn alt_text_reaches_bluesky(app: TestApp) {
        let double = steward_doubles::bluesky::BlueskyDouble::start(steward_doubles::bluesky::Config::default()).await.unwrap();
        // The local PDS is on a private address.
        let Some((app, owner, account)) = bluesky_account(app, &double).await else { return };
        let url = upload(&app, &owner, &account, "image/png", png()).await;
        let media = json!([{"url": url, "kind": "image", "alt": "A red kite over the dunes"}]).to_string();
        let id = insert_due_post(&app.state.store, &account, &owner.user_id, "Kites", &media, app.clock.now_us()).await;
        let post_id = PostId::new(id.clone());
        assert_eq!(publish_outcome(&app, &post_id).await, "published");
        let records = double.records();
        assert_eq!(records[0].value["embed"]["images"][0]["alt"], "A red kite over the dunes", "{:?}", records[0].value);
    }
}

/// What the script shows in the preview now.
async fn live(b: &WebDriver) -> Value {
    b.execute(
        "function t(id) { var e = document.getElementById(id); return e ? e.textContent : null; }
         function h(id) { var e = document.getElementById(id); return e ? e.hidden : null; }
         var card = document.getElementById('preview-card');
         return { text: t('preview-text'), over: t('preview-over'), overHidden: h('preview-over'),
           more: h('preview-more') === false, count: t('preview-graphemes'),
           card: card && !card.hidden ? card.getAttribute('href') : null, host: t('preview-card-host') };",
        Vec::new(),
    )
    .await
    .unwrap()
    .json()
    .clone()
}

/// Puts `text` in the editor's text field as typing would (characters outside the BMP cannot
/// be typed through chromedriver), firing the same `input` event.
async fn put_text(b: &WebDriver, text: &str) {
    b.execute(
        "var f = document.getElementById('edit-text'); f.value = arguments[0]; f.dispatchEvent(new Event('input', { bubbles: true }));",
        vec![json!(text)],
    )
    .await
    .unwrap();
}

/// Where an element is on the page: left, top, right, bottom.
async fn rect(b: &WebDriver, css: &str) -> [f64; 4] {
    let r = b
        .execute(
            "var r = document.querySelector(arguments[0]).getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];",
            vec![json!(css)],
        )
        .await
        .unwrap();
    let v: Vec<f64> = serde_json::from_value(r.json().clone()).unwrap();
    [v[0], v[1], v[2], v[3]]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_previews_each_platform_and_handles_media_in_chromium() {
    let Some(mut driver) = Driver::start().await else { return };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let base = app.base.clone();
    let owner_api = app.user("olivia@example.test").await;
    let sandbox = sandbox_account(&app, &owner_api, "@kites").await;
    let linkedin =
        platform_account(&app, &owner_api.user_id, "linkedin", "organization", "Kite Shop", "kite-shop").await;
    let tiktok = platform_account(&app, &owner_api.user_id, "tiktok", "creator", "Kite Shop", "kiteshop").await;
    let mastodon =
        platform_account(&app, &owner_api.user_id, "mastodon", "account", "Kite Shop", "@kites@mastodon.example").await;
    let bluesky =
        platform_account(&app, &owner_api.user_id, "bluesky", "account", "Kite Shop", "kites.bsky.social").await;
    let b = driver.browser().await;
    sign_in(&b, &base, "olivia@example.test", PASSWORD).await;

    // LinkedIn: typing updates the preview at once, folding after the third line.
    b.goto(format!("{base}/accounts/{linkedin}/posts/new")).await.unwrap();
    assert_text(&b, "How it will look on LinkedIn").await;
    assert_eq!(live(&b).await["text"], "");
    let typed = "Spring kites are in\nEvery colour\nEvery size\nCome and see them";
    fill(&b, "#edit-title", "Kite sale").await;
    fill(&b, "#edit-text", typed).await;
    let shown = live(&b).await;
    let fold = linkedin_fold(&published_text(Some("Kite sale"), typed)).shown.to_string();
    assert_eq!(shown["text"], fold, "{shown}");
    assert_eq!(shown["text"], "Kite sale\n\nSpring kites are in", "{shown}");
    assert_eq!(shown["more"], true, "…see more: {shown}");
    // Side by side on a wide screen, the preview below the editor on a phone.
    let (edit, preview) = (rect(&b, "#edit-h").await, rect(&b, "#preview").await);
    assert!(preview[0] >= edit[0] + 300.0, "the preview is beside the editor: {edit:?} {preview:?}");
    b.set_window_rect(0, 0, PHONE, 800).await.unwrap();
    let (form, preview) = (rect(&b, ".compose form").await, rect(&b, "#preview").await);
    assert!(preview[1] >= form[3], "stacked on a phone: {form:?} {preview:?}");
    b.set_window_rect(0, 0, 1280, 900).await.unwrap();
    check_page_at(&b, "editor-preview-linkedin", PHONE).await;

    // The script and the domain's rules agree on LinkedIn's fold …
    fill(&b, "#edit-title", "").await;
    for text in
        [format!("{} more words", "a".repeat(205)), "é".repeat(211), "one\n\n\nfour".into(), "a\nb\nc\n\n".into()]
    {
        put_text(&b, &text).await;
        let shown = live(&b).await;
        let fold = linkedin_fold(&text);
        assert_eq!(
            (shown["text"].as_str(), shown["more"].as_bool()),
            (Some(fold.shown), Some(fold.folded)),
            "{text:?}"
        );
    }

    // … and on Bluesky's graphemes, overflow and link card.
    b.goto(format!("{base}/accounts/{bluesky}/posts/new")).await.unwrap();
    for text in [
        format!("{}👩‍👩‍👧 e\u{301} 🇫🇷🇩🇪 https://Kites.example/sale?x=1. And more after the limit", "x".repeat(290)),
        "Kites (https://kites.example/a) 👍🏽".to_string(),
        "xhttps://glued.example no card".to_string(),
    ] {
        put_text(&b, &text).await;
        let shown = live(&b).await;
        let (fits, over) = split_graphemes(&text, BLUESKY_MAX_GRAPHEMES);
        assert_eq!(shown["text"], fits, "{text:?}");
        assert_eq!(shown["over"], over, "{text:?}");
        assert_eq!(shown["overHidden"], over.is_empty());
        let n = grapheme_len(&text);
        assert!(shown["count"].as_str().unwrap().starts_with(&format!("{n} of 300 characters")), "{shown}");
        assert_eq!(shown["card"].as_str(), first_link(&text), "{text:?}");
        if let Some(link) = first_link(&text) {
            assert_eq!(shown["host"].as_str(), Some(link_host(link).as_str()));
        }
    }
    put_text(&b, &format!("{}🇫🇷 past the limit https://kites.example", "x".repeat(299))).await;
    assert_text(&b, "the last").await;
    check_page_at(&b, "editor-preview-bluesky", PHONE).await;

    // TikTok: the caption under the video's frame.
    b.goto(format!("{base}/accounts/{tiktok}/posts/new")).await.unwrap();
    assert_text(&b, "The video's frame shows here").await;
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("kites.mp4");
    std::fs::write(&clip, mp4()).unwrap();
    b.find(By::Css("#upload-file")).await.unwrap().send_keys(clip.display().to_string()).await.unwrap();
    assert_text(&b, "kites.mp4 is uploaded and added to the media").await;
    b.find(By::Css(".pv-frame video:not([hidden])")).await.expect("the frame is the uploaded video");
    assert!(!b.find(By::Css("#preview-frame-none")).await.unwrap().is_displayed().await.unwrap(), "no placeholder");
    b.find(By::Css("#attached video.thumb")).await.expect("the video's thumbnail in the list");
    fill(&b, "#edit-text", "Kites in the wind #kites").await;
    assert_eq!(live(&b).await["text"], "Kites in the wind #kites");
    check_page_at(&b, "editor-preview-tiktok", PHONE).await;

    // Mastodon: the status with its author.
    b.goto(format!("{base}/accounts/{mastodon}/posts/new")).await.unwrap();
    fill(&b, "#edit-text", "Wind today: kites out").await;
    assert_eq!(live(&b).await["text"], "Wind today: kites out");
    assert_text(&b, "@kites@mastodon.example").await;
    check_page_at(&b, "editor-preview-mastodon", PHONE).await;

    // Media: two images uploaded show as thumbnails at once; alt text, reorder and remove.
    b.goto(format!("{base}/accounts/{sandbox}/posts/new")).await.unwrap();
    fill(&b, "#edit-text", "Kites on the beach").await;
    for name in ["red.png", "blue.png"] {
        let file = dir.path().join(name);
        std::fs::write(&file, png()).unwrap();
        b.find(By::Css("#upload-file")).await.unwrap().send_keys(file.display().to_string()).await.unwrap();
        assert_text(&b, &format!("{name} is uploaded and added to the media")).await;
    }
    let thumbs = b.find_all(By::Css("#attached img.thumb")).await.unwrap();
    assert_eq!(thumbs.len(), 2);
    // Each thumbnail is the uploaded image (1×1), once the browser has it.
    let mut loaded = json!(null);
    for _ in 0..50 {
        loaded = b
            .execute("return Array.from(document.querySelectorAll('#attached img.thumb')).map(i => i.complete ? i.naturalWidth : -1);", Vec::new())
            .await
            .unwrap()
            .json()
            .clone();
        if loaded.as_array().is_some_and(|a| a.iter().all(|w| w.as_i64() != Some(-1))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(loaded, json!([1, 1]), "the thumbnails are the uploaded images");
    let url_of = async |b: &WebDriver| -> Vec<String> {
        let v = b
            .execute(
                "return Array.from(document.querySelectorAll('#attached input[name=media_url]')).map(i => i.value);",
                Vec::new(),
            )
            .await
            .unwrap();
        serde_json::from_value(v.json().clone()).unwrap()
    };
    let uploaded = url_of(&b).await;
    fill(&b, "#media-alt-2", "A blue kite").await;
    check_page_at(&b, "editor-media", PHONE).await;
    b.find(By::Css("#attached button[data-media-op=up]:not([hidden])")).await.unwrap().click().await.unwrap();
    assert_eq!(url_of(&b).await, [uploaded[1].clone(), uploaded[0].clone()], "moved up, without leaving the page");
    assert_text(&b, "Image 2 moved up").await;
    assert_eq!(b.find(By::Css("#media-alt-1")).await.unwrap().value().await.unwrap().as_deref(), Some("A blue kite"));
    let removes = b.find_all(By::XPath("//button[starts-with(normalize-space(.), 'Remove')]")).await.unwrap();
    removes[1].click().await.unwrap();
    assert_eq!(url_of(&b).await, [uploaded[1].clone()]);
    press(&b, "Save the draft").await;
    assert_text(&b, "The draft is saved.").await;
    let pid = b.current_url().await.unwrap().path().trim_start_matches("/posts/").to_string();
    let r = get_post(&app, &owner_api, &pid).await;
    assert_eq!(r.body["media"], json!([{"url": uploaded[1], "kind": "image", "alt": "A blue kite"}]));
    // The post page: the thumbnail, its alt text, and the preview's image described by it.
    let alt = b.find(By::Css("#media-alt-1")).await.unwrap().value().await.unwrap();
    assert_eq!(alt.as_deref(), Some("A blue kite"));
    b.find(By::Css("#preview-media img[alt='A blue kite']")).await.expect("the preview's image has the alt text");
    check_page_at(&b, "post-media", PHONE).await;
    // Enter in an alt text field saves the form (it does not press the first media button).
    let field = b.find(By::Css("#media-alt-1")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys("A blue kite over the sea").await.unwrap();
    let before = b.find(By::Css("html")).await.unwrap();
    field.send_keys(Key::Enter).await.unwrap();
    crate::browser::left(&before).await;
    assert_text(&b, "Saved.").await;
    let r = get_post(&app, &owner_api, &pid).await;
    assert_eq!(r.body["media"][0]["alt"], "A blue kite over the sea", "{}", r.text);
    b.quit().await.unwrap();
}
