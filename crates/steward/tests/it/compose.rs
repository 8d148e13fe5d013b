//! One post on several accounts (`POST /api/v1/posts/batch`): one draft per account, each with
//! its own review and approvals; all or nothing; `Idempotency-Key`; narrowed tokens.
use serde_json::{Value, json};

use crate::helpers::accounts::sandbox_account;
use crate::helpers::*;

async fn compose(app: &TestApp, s: &Session, key: Option<&str>, body: Value) -> Resp {
    let mut req = app.post("/api/v1/posts/batch").auth(s).json(body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    req.send().await
}

async fn post_count(app: &TestApp, s: &Session, account: &str) -> usize {
    let r = app.get(&format!("/api/v1/accounts/{account}/posts")).auth(s).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().unwrap().len()
}

both_backends! {
    async fn one_text_on_two_accounts_makes_two_posts_each_with_its_own_approvals(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let a = sandbox_account(&app, &owner, "@shop").await;
        let b = sandbox_account(&app, &owner, "@cafe").await;
        let body = json!({"text": "Spring sale this weekend", "copies": [
            {"account_id": a},
            {"account_id": b, "text": "Spring sale at the café"},
        ]});
        let r = compose(&app, &owner, Some("batch-1"), body.clone()).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let items = r.body["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["account_id"], a.as_str());
        assert_eq!(items[0]["text"], "Spring sale this weekend");
        assert_eq!(items[1]["account_id"], b.as_str());
        assert_eq!(items[1]["text"], "Spring sale at the café");
        assert!(items.iter().all(|p| p["state"] == "draft" && p["author_id"] == owner.user_id.as_str()));
        let (pa, pb) = (items[0]["id"].as_str().unwrap().to_string(), items[1]["id"].as_str().unwrap().to_string());
        assert_eq!(audit_actions(&app, &pa).await, vec!["posts.create"]);
        assert_eq!(audit_actions(&app, &pb).await, vec!["posts.create"]);

        // The same request again answers the same drafts; the key with other content is refused.
        let again = compose(&app, &owner, Some("batch-1"), body).await;
        assert_eq!(again.status, 201, "{}", again.text);
        assert_eq!(again.body["items"][0]["id"], pa.as_str());
        assert_eq!(again.body["items"][1]["id"], pb.as_str());
        let other = compose(&app, &owner, Some("batch-1"), json!({"text": "Something else", "copies": [{"account_id": a}, {"account_id": b}]})).await;
        other.assert_problem(422, "validation");
        assert_eq!(other.body["errors"][0]["field"], "Idempotency-Key", "{}", other.text);
        assert_eq!(post_count(&app, &owner, &a).await, 1);
        assert_eq!(post_count(&app, &owner, &b).await, 1);

        // Each copy is reviewed on its own: approving one leaves the other waiting.
        for pid in [&pa, &pb] {
            let r = app.post(&format!("/api/v1/posts/{pid}/submit")).auth(&owner).send().await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
        let r = app.post(&format!("/api/v1/posts/{pa}/approve")).auth(&owner).json(json!({"version": 1})).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["state"], "approved");
        let other = app.get(&format!("/api/v1/posts/{pb}")).auth(&owner).send().await;
        assert_eq!(other.body["state"], "in_review", "an approval on one never counts for another: {}", other.text);
        assert_eq!(other.body["approvals"], json!([]));
    }

    async fn one_invalid_copy_creates_nothing_and_is_named(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let a = sandbox_account(&app, &owner, "@shop").await;
        let b = sandbox_account(&app, &owner, "@cafe").await;
        let long = "x".repeat(501);
        let r = compose(&app, &owner, None, json!({"text": "Fine here", "copies": [{"account_id": a}, {"account_id": b, "text": long}]})).await;
        r.assert_problem(422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "copies[1].text", "{}", r.text);
        assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("at most 500 characters"), "{}", r.text);
        assert_eq!(post_count(&app, &owner, &a).await, 0, "nothing is created when one copy is refused");
        assert_eq!(post_count(&app, &owner, &b).await, 0);

        // An account chosen twice, none at all, and an account that is not the caller's.
        let r = compose(&app, &owner, None, json!({"text": "x", "copies": [{"account_id": a}, {"account_id": a}]})).await;
        r.assert_problem(422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "copies[1].account_id", "{}", r.text);
        compose(&app, &owner, None, json!({"text": "x", "copies": []})).await.assert_problem(422, "validation");
        let stranger = app.user("sam@example.test").await;
        let theirs = sandbox_account(&app, &stranger, "@elsewhere").await;
        let r = compose(&app, &owner, None, json!({"text": "x", "copies": [{"account_id": a}, {"account_id": theirs}]})).await;
        r.assert_problem(404, "not-found");
        assert_eq!(post_count(&app, &owner, &a).await, 0);
        assert_eq!(post_count(&app, &stranger, &theirs).await, 0);
    }

    async fn a_token_narrowed_to_one_account_composes_only_there(app: TestApp) {
        let owner = app.user("olivia@example.test").await;
        let a = sandbox_account(&app, &owner, "@shop").await;
        let b = sandbox_account(&app, &owner, "@cafe").await;
        let r = app.post("/api/v1/me/tokens").auth(&owner)
            .json(json!({"name": "drafting assistant", "scopes": ["read", "write"], "accounts": [a], "password": PASSWORD}))
            .send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        let token = r.body["token"].as_str().unwrap().to_string();
        let r = app.post("/api/v1/posts/batch").bearer(&token)
            .json(json!({"text": "Hello", "copies": [{"account_id": a}, {"account_id": b}]})).send().await;
        r.assert_problem(403, "forbidden");
        assert_eq!(post_count(&app, &owner, &a).await, 0, "nothing on the account the token reaches either");
        assert_eq!(post_count(&app, &owner, &b).await, 0);
        let r = app.post("/api/v1/posts/batch").bearer(&token)
            .json(json!({"text": "Hello", "copies": [{"account_id": a}]})).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(post_count(&app, &owner, &a).await, 1);
    }
}
