//! LinkedIn Company Pages against the LinkedIn double: after signing in, the owner chooses
//! which of the pages they administer to connect (API and web), each becomes its own account
//! that posts (with an image), answers comments and reads statistics as the page.
use serde_json::json;
use steward_connectors::linkedin::encode_urn;
use steward_doubles::linkedin::{self, LinkedInDouble};

use crate::helpers::html::{csrf_in, page, post_form};
use crate::helpers::oauth::{ANALYSED, DEVTESTCO, SECOND, callback, landing, start};
use crate::helpers::seed::{due_post, settled};
use crate::helpers::*;

async fn with_pages(backend: Backend) -> Option<(TestApp, LinkedInDouble)> {
    crate::helpers::oauth::with_linkedin_pages(backend).await
}

/// Signs in on LinkedIn for a Company Page: the callback's 303 names the choice; answers its id.
async fn sign_in_for_pages(app: &TestApp, owner: &Session) -> String {
    let back = start(app, owner, json!({"platform": "linkedin", "account_kind": "organization"})).await;
    let r = crate::helpers::html::browser().get(&back).header("cookie", owner.cookie()).send().await.unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let to = r.headers()["location"].to_str().unwrap().to_string();
    to.strip_prefix("/connect/linkedin/pages/").expect("on to the choice").to_string()
}

both_backends! {
    async fn the_owner_chooses_pages_and_each_posts_answers_and_counts_as_the_page(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double)) = with_pages(backend).await else { return };
        let owner = app.user("olivia@example.com").await;
        let choice = sign_in_for_pages(&app, &owner).await;
        let acl = double.requests().into_iter().find(|r| r.path == "/rest/organizationAcls").expect("the ACLs were asked");
        assert!(acl.query.contains("q=roleAssignee&role=ADMINISTRATOR&state=APPROVED"), "{}", acl.query);
        assert_eq!((acl.header("x-restli-protocol-version"), acl.header("linkedin-version").map(str::len)), (Some("2.0.0"), Some(6)));
        assert!(app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().is_empty(),
            "nothing is connected before the choice");

        let path = format!("/api/v1/accounts/connect/linkedin-pages/{choice}");
        let offered = app.get(&path).auth(&owner).send().await;
        assert_eq!(offered.status, 200, "{}", offered.text);
        assert_eq!(offered.body["member"], "Olivia Owner");
        let pages: Vec<(&str, &str)> = offered.body["pages"].as_array().unwrap().iter()
            .map(|p| (p["organization"].as_str().unwrap(), p["name"].as_str().unwrap())).collect();
        assert_eq!(pages, vec![(DEVTESTCO, "Devtestco"), (SECOND, "Second & Sons")], "administered pages only");
        assert!(!offered.text.contains("AQV"), "no token in the answer: {}", offered.text);
        // Another sign-in of the same person does not see it.
        let other = app.login("olivia@example.com").await;
        app.get(&path).auth(&other).send().await.assert_problem(404, "not-found");
        // Refused choices change nothing.
        app.post(&path).auth(&owner).json(json!({"organizations": []})).send().await.assert_problem(422, "validation");
        let r = app.post(&path).auth(&owner).json(json!({"organizations": [DEVTESTCO, ANALYSED]})).send().await;
        r.assert_problem(422, "validation");
        assert!(r.text.contains("organizations[1]"), "{}", r.text);
        app.post(&path).auth(&owner).json(json!({"organizations": [DEVTESTCO, DEVTESTCO]})).send().await.assert_problem(422, "validation");
        app.post(&path).auth(&other).json(json!({"organizations": [DEVTESTCO]})).send().await.assert_problem(404, "not-found");
        assert!(app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().is_empty());

        let r = app.post(&path).auth(&owner).json(json!({"organizations": [SECOND, DEVTESTCO], "time_zone": "Europe/Berlin"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let items = r.body["items"].as_array().unwrap();
        let got: Vec<(&str, &str, &str)> = items.iter()
            .map(|a| (a["display_name"].as_str().unwrap(), a["handle"].as_str().unwrap(), a["account_kind"].as_str().unwrap())).collect();
        assert_eq!(got, vec![("Second & Sons", "second-sons", "organization"), ("Devtestco", "devtestco", "organization")]);
        assert_eq!(items[1]["time_zone"], "Europe/Berlin");
        assert_eq!(items[1]["my_role"], "owner");
        let account = items[1]["id"].as_str().unwrap().to_string();
        // The choice works once.
        app.post(&path).auth(&owner).json(json!({"organizations": [DEVTESTCO]})).send().await.assert_problem(404, "not-found");
        let events = app.state.store.audit_events_after(0, 10_000).await.unwrap();
        let created: Vec<_> = events.iter().filter(|e| e.action == "accounts.create" && e.outcome == "allowed").collect();
        assert_eq!(created.len(), 2, "one event per page");
        assert!(created.iter().any(|e| e.account_id.as_deref() == Some(account.as_str()) && e.detail.contains(DEVTESTCO)));
        assert!(events.iter().any(|e| e.action == "accounts.connect.pages"));
        // Signing in again offers the connected pages as connected, not to choose.
        let again = sign_in_for_pages(&app, &owner).await;
        let offered = app.get(&format!("/api/v1/accounts/connect/linkedin-pages/{again}")).auth(&owner).send().await;
        assert_eq!(offered.body["pages"][0]["connected_account_id"], items[1]["id"], "Devtestco is listed first");
        assert_eq!(offered.body["pages"][1]["connected_account_id"], items[0]["id"]);
        app.post(&format!("/api/v1/accounts/connect/linkedin-pages/{again}")).auth(&owner)
            .json(json!({"organizations": [DEVTESTCO]})).send().await.assert_problem(422, "validation");

        // The check reads the page as its administrator.
        let check = app.post(&format!("/api/v1/accounts/{account}/check")).auth(&owner).send().await;
        assert_eq!((check.status, check.body["status"].as_str()), (200, Some("active")), "{}", check.text);
        assert_eq!(check.body["identity"]["handle"], "devtestco");

        // A post with an image, as the page.
        let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[7u8; 64]].concat();
        let url = crate::helpers::media::upload(&app, &owner, &account, "image/png", png).await;
        let media = json!([{"url": url, "kind": "image"}]).to_string();
        let id = due_post(&app, &account, &owner, "Hello from the page (with a picture)", &media).await;
        let p = settled(&app, &id).await;
        assert_eq!(p.state.as_str(), "published", "{p:?}");
        let posts = double.posts();
        assert_eq!(posts.len(), 1);
        assert_eq!(posts[0].author, DEVTESTCO, "posted as the organization");
        assert_eq!(posts[0].text(), "Hello from the page (with a picture)");
        let image = posts[0].image.clone().expect("with its image");
        assert_eq!(double.image_bytes(&image), Some(72));
        let urn = p.external_id.clone().unwrap();
        assert_eq!(urn, posts[0].urn);

        // Comments on the page's post, and a reply as the page.
        let fan = double.comment_from("urn:li:person:fan1", &urn, None, "Congrats!").unwrap();
        let base = format!("/api/v1/accounts/{account}");
        let list = app.get(&format!("{base}/comments")).auth(&owner).send().await;
        assert_eq!(list.status, 200, "{}", list.text);
        let comments = list.body["items"].as_array().unwrap();
        assert_eq!(comments.len(), 1, "{}", list.text);
        assert_eq!((comments[0]["post_id"].as_str(), comments[0]["text"].as_str()), (Some(id.as_str()), Some("Congrats!")));
        let comment_id = comments[0]["id"].as_str().unwrap().to_string();
        let r = app.post(&format!("{base}/comments/{}/reply", encode_urn(&comment_id))).auth(&owner)
            .json(json!({"text": "Thank you (really)!"})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let reply = double.comments().into_iter().find(|c| c.parent.as_deref() == Some(fan.as_str())).expect("the reply");
        assert_eq!((reply.actor.as_str(), reply.object.as_str()), (DEVTESTCO, urn.as_str()), "answered as the page");
        assert_eq!(reply.text, "Thank you \\(really\\)!", "little text escaped");

        // The page deletes a comment on its own post (LinkedIn offers that to a Page's
        // administrators, not on a member profile): gone at LinkedIn, audited, once.
        let r = app.post(&format!("{base}/comments/{}/delete", encode_urn(&comment_id))).auth(&owner).send().await;
        assert_eq!(r.status, 204, "{}", r.text);
        let deleted = double.requests().into_iter().find(|r| r.method == "DELETE").expect("the delete reached LinkedIn");
        assert!(deleted.path.starts_with("/rest/socialActions/"), "{}", deleted.path);
        let actor = deleted.query.replace("%3A", ":").replace("%3a", ":");
        assert!(actor.contains(&format!("actor={DEVTESTCO}")), "as the page: {}", deleted.query);
        assert!(double.comments().iter().all(|c| c.urn != fan), "the comment is gone at LinkedIn");
        let events = app.state.store.audit_events_after(0, 10_000).await.unwrap();
        assert_eq!(events.iter().filter(|e| e.action == "comments.delete" && e.outcome == "allowed").count(), 1);
        let r = app.post(&format!("{base}/comments/{}/delete", encode_urn(&comment_id))).auth(&owner).send().await;
        assert!(r.status == 404, "a deleted comment is not found again: {}", r.text);

        // Statistics: share statistics per post, the page's followers.
        double.set_share_statistics(&urn, linkedin::ShareCounts { impressions: 500, likes: 9, shares: 2, ..linkedin::ShareCounts::default() });
        let stats = app.get(&format!("{base}/analytics")).auth(&owner).send().await;
        assert_eq!(stats.status, 200, "{}", stats.text);
        assert_eq!(stats.body["followers"], 1200);
        // The double counts the comments it holds: none since the delete above.
        assert_eq!(stats.body["posts"], json!([{"post_id": id, "impressions": 500, "likes": 9, "comments": 0, "shares": 2}]));
        let network = double.requests().into_iter().find(|r| r.path.starts_with("/rest/networkSizes/")).unwrap();
        assert_eq!(network.path, format!("/rest/networkSizes/{}", encode_urn(DEVTESTCO)));
        assert_eq!(network.query, "edgeType=COMPANY_FOLLOWED_BY_MEMBER");
        for secret in double.issued_secrets() {
            for body in [&list.text, &stats.text, &r.text, &check.text] {
                assert!(!body.contains(secret.as_str()));
            }
        }
    }

    async fn the_web_app_lists_the_pages_and_connects_those_ticked(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double)) = with_pages(backend).await else { return };
        let owner = app.user("olivia@example.com").await;
        let choice = sign_in_for_pages(&app, &owner).await;
        let path = format!("/connect/linkedin/pages/{choice}");
        let (status, html) = page(&app, &owner, &path).await;
        assert_eq!(status, 200, "{html}");
        assert!(html.contains("Olivia Owner") && html.contains("Devtestco") && html.contains("Second &amp; Sons"), "{html}");
        assert!(!html.contains("Watched Inc"), "only administered pages");
        assert!(html.contains(&format!("value=\"{DEVTESTCO}\"")), "a checkbox per page");
        let csrf = csrf_in(&html);
        // Nothing ticked: the sentence is next to the checkboxes, nothing connected.
        let (status, _, html) = post_form(&app, &owner.cookie(), &path, &[("csrf_token", csrf.as_str()), ("time_zone", "UTC")]).await;
        assert_eq!(status, 422, "{html}");
        assert!(html.contains("choose at least one"), "{html}");
        let (status, location, html) = post_form(&app, &owner.cookie(), &path,
            &[("csrf_token", csrf.as_str()), ("organizations", DEVTESTCO), ("time_zone", "Europe/Paris")]).await;
        assert_eq!(status, 303, "{html}");
        let items = app.get("/api/v1/accounts").auth(&owner).send().await.body["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), 1);
        assert_eq!((items[0]["display_name"].as_str(), items[0]["time_zone"].as_str()), (Some("Devtestco"), Some("Europe/Paris")));
        assert_eq!(location, format!("/accounts/{}?notice=connected", items[0]["id"].as_str().unwrap()));
        // Used: the page is gone.
        assert_eq!(page(&app, &owner, &path).await.0, 404);

        // A member who administers no page is told so at the callback; nothing is kept.
        double.set_member(linkedin::Member { sub: "noPages1".into(), name: "Nina Nopage".into(), email: "nina@example.com".into() });
        let nina = app.user("nina@example.com").await;
        let back = start(&app, &nina, json!({"platform": "linkedin", "account_kind": "organization"})).await;
        let (status, to) = callback(&app, &nina, &back).await;
        assert_eq!((status, to.as_str()), (303, "/connect?refused=no_pages&platform=linkedin"));
        let (_, html) = landing(&app, &nina, &to).await;
        assert!(html.contains("administers no Company Page that Steward can connect"), "{html}");
        assert!(app.get("/api/v1/accounts").auth(&nina).send().await.body["items"].as_array().unwrap().is_empty());
    }

    async fn a_page_is_reconnected_by_an_administrator_only(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, double)) = with_pages(backend).await else { return };
        let owner = app.user("olivia@example.com").await;
        let choice = sign_in_for_pages(&app, &owner).await;
        let r = app.post(&format!("/api/v1/accounts/connect/linkedin-pages/{choice}")).auth(&owner)
            .json(json!({"organizations": [DEVTESTCO]})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let account = r.body["items"][0]["id"].as_str().unwrap().to_string();
        // Signed in as someone who does not administer the page: refused, nothing changes.
        double.set_member(linkedin::Member { sub: "stranger".into(), name: "Sam Stranger".into(), email: "sam@example.com".into() });
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_id": account})).await;
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!((status, to.as_str()), (303, "/connect?refused=not_page_admin&platform=linkedin"));
        let (_, html) = landing(&app, &owner, &to).await;
        assert!(html.contains("does not administer this Company Page"), "{html}");
        // Another administrator of the page may: the account stays the page.
        double.set_organization_role("otherAdmin", DEVTESTCO, "ADMINISTRATOR");
        double.set_member(linkedin::Member { sub: "otherAdmin".into(), name: "Ada Admin".into(), email: "ada@example.com".into() });
        let back = start(&app, &owner, json!({"platform": "linkedin", "account_id": account})).await;
        let (status, to) = callback(&app, &owner, &back).await;
        assert_eq!((status, to), (303, format!("/accounts/{account}?notice=reconnected")));
        let check = app.post(&format!("/api/v1/accounts/{account}/check")).auth(&owner).send().await;
        assert_eq!(check.body["identity"]["handle"], "devtestco", "{}", check.text);
        let id = due_post(&app, &account, &owner, "After the reconnect", "[]").await;
        assert_eq!(settled(&app, &id).await.state.as_str(), "published");
        assert_eq!(double.posts().last().unwrap().author, DEVTESTCO, "still posting as the page");
    }
}
