//! The access matrix: every account-scoped endpoint, called by each kind of caller on
//! the caller's own account (A) and on another owner's account (B), answers exactly what
//! DESIGN.md's roles table and API.md say; so does the editor's access token narrowed to the
//! account and two capabilities. Every new account-scoped endpoint gets its row here: a test
//! below fails when the OpenAPI document lists one that has no row.
use std::sync::atomic::{AtomicUsize, Ordering};
use steward_domain::ids::AccountId;

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;

/// The columns of [`MATRIX`], in order. Everyone but `non-member` and `anonymous` is a member
/// of A with that role (and has accepted A's house rules); nobody here belongs to B.
const CALLERS: [&str; 8] = ["owner", "admin", "editor", "moderator", "analyst", "viewer", "non-member", "anonymous"];

/// Another owner's account: it does not exist for any signed-in caller here (no existence
/// leaks), and nobody gets anywhere without credentials.
const B: [u16; 8] = [404, 404, 404, 404, 404, 404, 404, 401];

/// `(endpoint, statuses on A, statuses on B)`, one status per caller in [`CALLERS`] order.
/// Errors must be problems of the matching type: 401 `unauthenticated`, 403 `forbidden`,
/// 404 `not-found`, 409 `conflict` (something the account's platform does not offer).
#[rustfmt::skip]
const MATRIX: &[(&str, [u16; 8], [u16; 8])] = &[
    //                                               owner admin edit  mod   anal  view  non-m anon
    ("GET /accounts/{id}",                          [200,  200,  200,  200,  200,  200,  404,  401], B),
    ("PATCH /accounts/{id}/settings",               [200,  200,  403,  403,  403,  403,  404,  401], B),
    ("POST /accounts/{id}/check",                   [200,  200,  403,  403,  403,  403,  404,  401], B),
    ("POST /accounts/{id}/rules/accept",            [204,  204,  204,  204,  204,  204,  404,  401], B),
    ("POST /accounts/{id}/transfer",                [200,  403,  403,  403,  403,  403,  404,  401], B),
    ("DELETE /accounts/{id}",                       [204,  403,  403,  403,  403,  403,  404,  401], B),
    ("GET /accounts/{id}/members",                  [200,  200,  200,  200,  200,  200,  404,  401], B),
    ("POST /accounts/{id}/invitations (editor)",    [201,  201,  403,  403,  403,  403,  404,  401], B),
    ("POST /accounts/{id}/invitations (admin)",     [201,  403,  403,  403,  403,  403,  404,  401], B),
    ("GET /accounts/{id}/invitations",              [200,  200,  403,  403,  403,  403,  404,  401], B),
    ("DELETE /accounts/{id}/invitations/{inv}",     [204,  204,  403,  403,  403,  403,  404,  401], B),
    ("POST /accounts/{id}/invitations/{inv}/resend", [200, 200,  403,  403,  403,  403,  404,  401], B),
    ("PATCH /accounts/{id}/members/{user_id}",      [200,  200,  403,  403,  403,  403,  404,  401], B),
    ("DELETE /accounts/{id}/members/{user_id}",     [204,  204,  403,  403,  403,  403,  404,  401], B),
    ("GET /accounts/{id}/members/{user_id}/sessions", [200, 200, 403,  403,  403,  403,  404,  401], B),
    ("DELETE /accounts/{id}/members/{user_id}/sessions/{session_id}", [204, 204, 403, 403, 403, 403, 404, 401], B),
    ("GET /accounts/{id}/comments",                 [200,  200,  200,  200,  200,  200,  404,  401], B),
    ("POST /accounts/{id}/comments/{comment_id}/reply", [201, 201, 403,  201,  403,  403,  404,  401], B),
    // Moderation needs comments.reply; the sandbox offers hiding only (409: not offered).
    ("POST /accounts/{id}/comments/{comment_id}/hide",  [204, 204, 403,  204,  403,  403,  404,  401], B),
    ("POST /accounts/{id}/comments/{comment_id}/delete", [409, 409, 403, 409,  403,  403,  404,  401], B),
    ("POST /accounts/{id}/comments/{comment_id}/mute-author", [409, 409, 403, 409, 403, 403, 404, 401], B),
    ("POST /accounts/{id}/comments/{comment_id}/block-author", [409, 409, 403, 409, 403, 403, 404, 401], B),
    ("GET /accounts/{id}/analytics",                [200,  200,  200,  403,  200,  403,  404,  401], B),
    // Posts. A post's account is the one whose membership decides; a post on B is
    // not there for anyone here. "another's": written by a separate editor of the account.
    ("POST /accounts/{id}/posts",                   [201,  201,  201,  403,  403,  403,  404,  401], B),
    ("GET /accounts/{id}/posts",                    [200,  200,  200,  200,  200,  200,  404,  401], B),
    ("POST /accounts/{id}/media",                   [201,  201,  201,  403,  403,  403,  404,  401], B),
    ("GET /accounts/{id}/media/{media_id}",         [200,  200,  200,  200,  200,  200,  404,  401], B),
    ("GET /posts/{id}",                             [200,  200,  200,  200,  200,  200,  404,  401], B),
    ("PATCH /posts/{id} (another's draft)",         [200,  200,  403,  403,  403,  403,  404,  401], B),
    ("PATCH /posts/{id} (own draft)",               [200,  200,  200,  403,  403,  403,  404,  401], B),
    ("POST /posts/{id}/submit (another's draft)",   [403,  403,  403,  403,  403,  403,  404,  401], B),
    ("POST /posts/{id}/submit (own draft)",         [200,  200,  200,  403,  403,  403,  404,  401], B),
    ("POST /posts/{id}/approve",                    [200,  200,  403,  403,  403,  403,  404,  401], B),
    ("POST /posts/{id}/request-changes",            [200,  200,  403,  403,  403,  403,  404,  401], B),
    ("POST /posts/{id}/schedule",                   [200,  200,  403,  403,  403,  403,  404,  401], B),
    ("POST /posts/{id}/publish-now",                [202,  202,  403,  403,  403,  403,  404,  401], B),
    ("POST /posts/{id}/cancel (another's draft)",   [200,  200,  403,  403,  403,  403,  404,  401], B),
    ("POST /posts/{id}/cancel (own draft)",         [200,  200,  200,  200,  200,  200,  404,  401], B),
    ("GET /posts/{id}/comments",                    [200,  200,  200,  200,  200,  200,  404,  401], B),
    ("POST /posts/{id}/comments",                   [201,  201,  201,  201,  403,  403,  404,  401], B),
    ("GET /accounts/{id}/activity",                 [200,  200,  403,  403,  403,  403,  404,  401], B),
    ("GET /accounts/{id}/activity (csv)",           [200,  200,  403,  403,  403,  403,  404,  401], B),
    // The admin runs first and suspends everyone but the owner: the others' 403 then comes from
    // the suspension as well as from the missing capability (both `forbidden`).
    ("POST /accounts/{id}/lockdown",                [200,  200,  403,  403,  403,  403,  404,  401], B),
    // Lifting a lockdown is the owner's alone (on an account that is not locked down it is a
    // no-op answering 200, so every cell here meets the permission check itself).
    ("POST /accounts/{id}/lockdown/lift",           [200,  403,  403,  403,  403,  403,  404,  401], B),
];

/// The editor's access token narrowed to the row's account A and to `account.view` and
/// `drafts.create` (read and write scopes) is tried on every row right after the editor: it gets
/// exactly the editor's answer where those two capabilities suffice, 403 `forbidden` where the
/// editor needs another one (listed here), and 404 on B. A token never exceeds its user nor
/// its narrowing.
const NARROWED_CAPABILITIES: [&str; 2] = ["account.view", "drafts.create"];
const BEYOND_THE_NARROWING: [&str; 2] = ["GET /accounts/{id}/analytics", "POST /posts/{id}/comments"];
/// Rows that need a signed-in session: every access token is refused there, before the account
/// is looked at (so on B too, without saying whether B exists).
const SESSION_ONLY: [&str; 2] = ["POST /accounts/{id}/transfer", "POST /accounts/{id}/rules/accept"];
const EDITOR: usize = 2;

fn narrowed_want(row: &str, editor_wants: u16) -> u16 {
    let beyond = (200..300).contains(&editor_wants) && BEYOND_THE_NARROWING.contains(&row);
    if beyond || SESSION_ONLY.contains(&row) { 403 } else { editor_wants }
}

/// The order the callers run in within a row: the owner last, because only the owner's calls
/// may end the fixture (transfer, delete). Every other succeeding call either changes nothing
/// (idempotent) or acts on a target made for that one cell.
const RUN_ORDER: [usize; 8] = [1, 2, 3, 4, 5, 6, 7, 0];

/// The members of A as callers, in [`CALLERS`] order (owner excluded).
const MEMBER_ROLES: [&str; 5] = ["admin", "editor", "moderator", "analyst", "viewer"];

const RULES: &str = "Be kind; no posts about competitors.";

struct World<'a> {
    app: &'a TestApp,
    /// Signed-in sessions in [`CALLERS`] order; `None` for the anonymous client.
    callers: Vec<Option<Session>>,
    other_owner: Session,
    next: AtomicUsize,
}

/// One social account made for one row, and its owner (who prepares each cell's target).
struct Account {
    id: String,
    owner: Session,
}

impl World<'_> {
    async fn new(app: &TestApp) -> World<'_> {
        let mut callers = Vec::new();
        for name in &CALLERS[..7] {
            callers.push(Some(app.user(&format!("{name}@example.com")).await));
        }
        callers.push(None);
        let other_owner = app.user("other-owner@example.com").await;
        World { app, callers, other_owner, next: AtomicUsize::new(0) }
    }

    /// A personal access token of the editor, narrowed to `account` and [`NARROWED_CAPABILITIES`].
    async fn narrowed_token(&self, account: &Account) -> String {
        let editor = self.callers[EDITOR].as_ref().expect("the editor signs in");
        let body = json!({"name": "narrowed", "scopes": ["read", "write"], "accounts": [account.id], "capabilities": NARROWED_CAPABILITIES});
        let r = self.app.post("/api/v1/me/tokens").auth(editor).json(body).send().await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["token"].as_str().expect("token").to_string()
    }

    fn fresh_email(&self, what: &str) -> String {
        format!("{what}-{}@example.com", self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// A new sandbox account of `owner` with room for everyone, house rules (version 1), and
    /// `members` (caller index, role) joined and the rules accepted.
    async fn account(&self, owner: &Session, members: &[(usize, &str)]) -> Account {
        let app = self.app;
        let handle = self.fresh_email("handle").replace('@', "-");
        let r = app
            .post("/api/v1/accounts")
            .auth(owner)
            .json(json!({"platform": "sandbox", "handle": handle, "credentials": {}}))
            .send()
            .await;
        assert_eq!(r.status, 201, "create account: {}", r.text);
        let account = Account { id: r.body["id"].as_str().unwrap().to_string(), owner: owner.clone() };
        let r = app
            .req(Method::PATCH, &format!("/api/v1/accounts/{}/settings", account.id))
            .auth(owner)
            .json(json!({"max_members": 30, "rules_text": RULES}))
            .send()
            .await;
        assert_eq!(r.status, 200, "settings: {}", r.text);
        assert_eq!(r.body["rules"]["version"], 1, "{}", r.text);
        for &(i, role) in members {
            let member = self.callers[i].as_ref().unwrap();
            self.join(&account, member, &format!("{}@example.com", CALLERS[i]), role).await;
        }
        account
    }

    /// Invites `email` into `account` as `role`; `member` (signed in as that email) accepts the
    /// invitation and the house rules.
    async fn join(&self, account: &Account, member: &Session, email: &str, role: &str) {
        let app = self.app;
        let token = self.invite(account, email, role).await.1;
        let r = app.post(&format!("/api/v1/invitations/{token}/accept")).auth(member).send().await;
        assert_eq!(r.status, 200, "accept invitation for {email}: {}", r.text);
        let r = app
            .post(&format!("/api/v1/accounts/{}/rules/accept", account.id))
            .auth(member)
            .json(json!({"version": 1}))
            .send()
            .await;
        assert_eq!(r.status, 204, "accept rules for {email}: {}", r.text);
    }

    /// A pending invitation made by the account's owner: `(id, token)`.
    async fn invite(&self, account: &Account, email: &str, role: &str) -> (String, String) {
        let r = self
            .app
            .post(&format!("/api/v1/accounts/{}/invitations", account.id))
            .auth(&account.owner)
            .json(json!({"email": email, "role": role}))
            .send()
            .await;
        assert_eq!(r.status, 201, "invite {email} as {role}: {}", r.text);
        (r.body["id"].as_str().unwrap().to_string(), r.body["token"].as_str().unwrap().to_string())
    }

    /// A new viewer of `account`, made for one cell: its user id.
    async fn spare_viewer(&self, account: &Account) -> String {
        let email = self.fresh_email("spare");
        let spare = self.app.user(&email).await;
        self.join(account, &spare, &email, "viewer").await;
        spare.user_id
    }

    /// A follower's comment on a new live sandbox post of `account`, made for one cell: its id.
    async fn follower_comment(&self, account: &Account) -> String {
        let state = &self.app.state;
        let post_id = format!("sbx_matrix_{}", self.next.fetch_add(1, Ordering::Relaxed));
        let now = self.app.clock.now_us();
        state
            .store
            .sandbox_publish(&steward_store::NewSandboxPost {
                id: &post_id,
                account_id: &AccountId::from(account.id.as_str()),
                idempotency_key: &post_id,
                title: None,
                text: "A live post",
                media: "[]",
                now,
            })
            .await
            .unwrap();
        steward_app::platforms::sandbox::add_follower_comment(
            state,
            &AccountId::new(account.id.to_string()),
            &post_id,
            "@fan",
            "Nice!",
        )
        .await
        .unwrap()
        .unwrap()
        .id
    }

    /// A post on `account` in `state` (`draft`, `in_review` or `approved`), written by
    /// `author` or else by a fresh editor of the account made for this one cell, taken through
    /// the workflow by the API. With an author who may not draft (a moderator, a viewer, a
    /// stranger, nobody), the post is stored directly as theirs, as if written while they could.
    async fn post(&self, account: &Account, author: Option<&Session>, state: &str) -> String {
        let app = self.app;
        let writer = match author {
            Some(a) => a.clone(),
            None => {
                let email = self.fresh_email("writer");
                let writer = app.user(&email).await;
                self.join(account, &writer, &email, "editor").await;
                writer
            }
        };
        let r = app
            .post(&format!("/api/v1/accounts/{}/posts", account.id))
            .auth(&writer)
            .json(json!({"text": "a post"}))
            .send()
            .await;
        let id = if r.status == 201 {
            r.body["id"].as_str().unwrap().to_string()
        } else {
            let id = format!("post-{}", self.next.fetch_add(1, Ordering::Relaxed));
            let mut tx = app.state.store.begin().await.unwrap();
            tx.insert_post(steward_store::NewPost {
                id: &steward_domain::ids::PostId::from(id.as_str()),
                account_id: &steward_domain::ids::AccountId::from(account.id.as_str()),
                author_id: &steward_domain::ids::UserId::from(writer.user_id.as_str()),
                title: None,
                text: "a post",
                media: "[]",
                idempotency: None,
                now: app.clock.now_us(),
            })
            .await
            .unwrap();
            tx.commit().await.unwrap();
            id
        };
        if state == "draft" {
            return id;
        }
        let r = app.post(&format!("/api/v1/posts/{id}/submit")).auth(&writer).send().await;
        assert_eq!(r.status, 200, "submit: {}", r.text);
        if state == "in_review" {
            return id;
        }
        let r = app
            .post(&format!("/api/v1/posts/{id}/approve"))
            .auth(&account.owner)
            .json(json!({"version": 1}))
            .send()
            .await;
        assert_eq!((r.status, r.body["state"].as_str()), (200, Some("approved")), "approve: {}", r.text);
        id
    }

    /// The request of `row` on `account`, with whatever target it needs made fresh for it.
    async fn request(&self, row: &str, account: &Account, caller: Option<&Session>) -> Req {
        let app = self.app;
        let base = format!("/api/v1/accounts/{}", account.id);
        match row {
            "GET /accounts/{id}" => app.get(&base),
            "PATCH /accounts/{id}/settings" => {
                // Idempotent, and the rules stay as they are (a new version would ask everyone again).
                app.req(Method::PATCH, &format!("{base}/settings")).json(json!({"min_gap_minutes": 15}))
            }
            "POST /accounts/{id}/check" => app.post(&format!("{base}/check")),
            "POST /accounts/{id}/rules/accept" => app.post(&format!("{base}/rules/accept")).json(json!({"version": 1})),
            "POST /accounts/{id}/transfer" => {
                let to = self.spare_viewer(account).await;
                app.post(&format!("{base}/transfer")).json(json!({"to_user_id": to, "password": PASSWORD}))
            }
            "DELETE /accounts/{id}" => app.delete(&base).json(json!({"password": PASSWORD})),
            "GET /accounts/{id}/members" => app.get(&format!("{base}/members")),
            "POST /accounts/{id}/invitations (editor)" => app
                .post(&format!("{base}/invitations"))
                .json(json!({"email": self.fresh_email("invitee"), "role": "editor"})),
            "POST /accounts/{id}/invitations (admin)" => app
                .post(&format!("{base}/invitations"))
                .json(json!({"email": self.fresh_email("invitee"), "role": "admin"})),
            "GET /accounts/{id}/invitations" => app.get(&format!("{base}/invitations")),
            "DELETE /accounts/{id}/invitations/{inv}" => {
                let (inv, _) = self.invite(account, &self.fresh_email("withdrawn"), "editor").await;
                app.delete(&format!("{base}/invitations/{inv}"))
            }
            "POST /accounts/{id}/invitations/{inv}/resend" => {
                let (inv, _) = self.invite(account, &self.fresh_email("resent"), "editor").await;
                app.post(&format!("{base}/invitations/{inv}/resend"))
            }
            "PATCH /accounts/{id}/members/{user_id}" => {
                let target = self.spare_viewer(account).await;
                app.req(Method::PATCH, &format!("{base}/members/{target}")).json(json!({"role": "analyst"}))
            }
            "DELETE /accounts/{id}/members/{user_id}" => {
                let target = self.spare_viewer(account).await;
                app.delete(&format!("{base}/members/{target}"))
            }
            "GET /accounts/{id}/members/{user_id}/sessions" => {
                let target = self.spare_viewer(account).await;
                app.get(&format!("{base}/members/{target}/sessions"))
            }
            "DELETE /accounts/{id}/members/{user_id}/sessions/{session_id}" => {
                let email = self.fresh_email("spare");
                let spare = self.app.user(&email).await;
                self.join(account, &spare, &email, "viewer").await;
                app.delete(&format!("{base}/members/{}/sessions/{}", spare.user_id, spare.session_id))
            }
            "GET /accounts/{id}/comments" => app.get(&format!("{base}/comments")),
            "POST /accounts/{id}/comments/{comment_id}/reply" => {
                let comment = self.follower_comment(account).await;
                app.post(&format!("{base}/comments/{comment}/reply")).json(json!({"text": "Thank you!"}))
            }
            "POST /accounts/{id}/comments/{comment_id}/hide"
            | "POST /accounts/{id}/comments/{comment_id}/delete"
            | "POST /accounts/{id}/comments/{comment_id}/mute-author"
            | "POST /accounts/{id}/comments/{comment_id}/block-author" => {
                let comment = self.follower_comment(account).await;
                let action = row.rsplit('/').next().unwrap_or_default();
                app.post(&format!("{base}/comments/{comment}/{action}"))
            }
            "GET /accounts/{id}/analytics" => app.get(&format!("{base}/analytics")),
            "POST /accounts/{id}/posts" => app.post(&format!("{base}/posts")).json(json!({"text": "hello"})),
            "GET /accounts/{id}/posts" => app.get(&format!("{base}/posts")),
            "POST /accounts/{id}/media" => app
                .post(&format!("{base}/media"))
                .body("image/png", [b"\x89PNG\r\n\x1a\n".as_slice(), &[0u8; 8]].concat()),
            "GET /accounts/{id}/media/{media_id}" => {
                let r = app
                    .post(&format!("{base}/media"))
                    .auth(&account.owner)
                    .body("image/gif", b"GIF89a-tiny".to_vec())
                    .send()
                    .await;
                assert_eq!(r.status, 201, "upload: {}", r.text);
                let media_id = r.body["id"].as_str().unwrap();
                app.get(&format!("{base}/media/{media_id}"))
            }
            "GET /posts/{id}" => app.get(&format!("/api/v1/posts/{}", self.post(account, None, "draft").await)),
            "PATCH /posts/{id} (another's draft)" | "PATCH /posts/{id} (own draft)" => {
                let own = row.ends_with("(own draft)");
                let id = self.post(account, own.then_some(caller).flatten(), "draft").await;
                let tag = app.get(&format!("/api/v1/posts/{id}")).auth(&account.owner).send().await;
                let tag = tag.header("etag").unwrap().to_string();
                app.req(Method::PATCH, &format!("/api/v1/posts/{id}"))
                    .header("if-match", &tag)
                    .json(json!({"text": "edited"}))
            }
            "POST /posts/{id}/submit (another's draft)" | "POST /posts/{id}/submit (own draft)" => {
                let own = row.ends_with("(own draft)");
                let id = self.post(account, own.then_some(caller).flatten(), "draft").await;
                app.post(&format!("/api/v1/posts/{id}/submit"))
            }
            "POST /posts/{id}/approve" => {
                let id = self.post(account, None, "in_review").await;
                app.post(&format!("/api/v1/posts/{id}/approve")).json(json!({"version": 1}))
            }
            "POST /posts/{id}/request-changes" => {
                let id = self.post(account, None, "in_review").await;
                app.post(&format!("/api/v1/posts/{id}/request-changes")).json(json!({"comment": "shorter"}))
            }
            "POST /posts/{id}/schedule" => {
                let id = self.post(account, None, "approved").await;
                let at = app.clock.now().checked_add(jiff::SignedDuration::from_hours(5)).unwrap().to_string();
                app.post(&format!("/api/v1/posts/{id}/schedule")).json(json!({"at": at}))
            }
            "POST /posts/{id}/publish-now" => {
                let id = self.post(account, None, "approved").await;
                app.post(&format!("/api/v1/posts/{id}/publish-now"))
            }
            "POST /posts/{id}/cancel (another's draft)" | "POST /posts/{id}/cancel (own draft)" => {
                let own = row.ends_with("(own draft)");
                let id = self.post(account, own.then_some(caller).flatten(), "draft").await;
                app.post(&format!("/api/v1/posts/{id}/cancel"))
            }
            "GET /posts/{id}/comments" => {
                app.get(&format!("/api/v1/posts/{}/comments", self.post(account, None, "draft").await))
            }
            "POST /posts/{id}/comments" => app
                .post(&format!("/api/v1/posts/{}/comments", self.post(account, None, "in_review").await))
                .json(json!({"body": "looks good"})),
            "GET /accounts/{id}/activity" => app.get(&format!("{base}/activity?action=members.&limit=5")),
            "GET /accounts/{id}/activity (csv)" => app.get(&format!("{base}/activity")).header("accept", "text/csv"),
            "POST /accounts/{id}/lockdown" => {
                app.post(&format!("{base}/lockdown")).json(json!({"disconnect_credential": false}))
            }
            "POST /accounts/{id}/lockdown/lift" => app.post(&format!("{base}/lockdown/lift")),
            other => panic!("the access matrix has a row `{other}` but no request for it"),
        }
    }
}

/// `None` when `r` is exactly what the cell expects, else what is wrong.
fn mismatch(r: &Resp, want: u16) -> Option<String> {
    if r.status != want {
        return Some(format!("expected {want}, got {}: {}", r.status, r.text));
    }
    let suffix = match want {
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not-found",
        409 => "conflict",
        _ if want < 400 => return None,
        _ => unreachable!("the matrix holds only 2xx, 401, 403, 404 and 409"),
    };
    let is_problem = r.header("content-type") == Some("application/problem+json")
        && r.body["type"] == format!("urn:steward:problem:{suffix}")
        && r.body["status"] == want
        && r.body["title"].is_string()
        && r.body["detail"].is_string();
    (!is_problem).then(|| format!("expected a `{suffix}` problem, got {:?}: {}", r.header("content-type"), r.text))
}

both_backends! {
    async fn every_caller_gets_exactly_its_answer_on_every_account_endpoint(app: TestApp) {
        let started = std::time::Instant::now();
        let world = World::new(&app).await;
        let members: Vec<(usize, &str)> = MEMBER_ROLES.iter().enumerate().map(|(i, r)| (i + 1, *r)).collect();
        let mut failures = Vec::new();
        let mut cells = 0;
        for (row, on_a, on_b) in MATRIX {
            // A fresh pair of accounts per row, so no row sees what another row did.
            let a = world.account(world.callers[0].as_ref().unwrap(), &members).await;
            let b = world.account(&world.other_owner, &[]).await;
            for i in RUN_ORDER {
                for (name, account, want) in [("A (own)", &a, on_a[i]), ("B (another owner's)", &b, on_b[i])] {
                    let mut req = world.request(row, account, world.callers[i].as_ref()).await;
                    if let Some(session) = &world.callers[i] {
                        req = req.auth(session);
                    }
                    let r = req.send().await;
                    cells += 1;
                    if let Some(wrong) = mismatch(&r, want) {
                        failures.push(format!("{row} | as {} | on account {name}: {wrong}", CALLERS[i]));
                    }
                }
                if i == EDITOR {
                    let token = world.narrowed_token(&a).await;
                    let cases = [
                        ("A (own)", &a, narrowed_want(row, on_a[EDITOR])),
                        ("B (another owner's)", &b, narrowed_want(row, on_b[EDITOR])),
                    ];
                    for (name, account, want) in cases {
                        let r = world.request(row, account, world.callers[EDITOR].as_ref()).await.bearer(&token).send().await;
                        cells += 1;
                        if let Some(wrong) = mismatch(&r, want) {
                            failures.push(format!("{row} | as the editor's narrowed token | on account {name}: {wrong}"));
                        }
                    }
                }
            }
        }
        assert_eq!(cells, MATRIX.len() * (CALLERS.len() + 1) * 2);
        assert!(failures.is_empty(), "{} of {cells} cells are wrong:\n{}", failures.len(), failures.join("\n"));
        eprintln!("{cells} cells on {:?} in {:?}", app.backend, started.elapsed());
    }

    async fn every_account_endpoint_has_a_row(app: TestApp) {
        let doc = app.get("/api/openapi.json").send().await;
        assert_eq!(doc.status, 200, "{}", doc.text);
        let mut documented = Vec::new();
        for (path, item) in doc.body["paths"].as_object().unwrap() {
            let Some(path) = path.strip_prefix("/api/v1") else { continue };
            if !path.starts_with("/accounts/{id}") && !path.starts_with("/posts/{id}") {
                continue;
            }
            for method in item.as_object().unwrap().keys() {
                if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    documented.push(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
        // A row's endpoint is its label up to an optional " (variant)".
        let rows: Vec<&str> = MATRIX.iter().map(|(row, _, _)| row.split(" (").next().unwrap()).collect();
        let missing: Vec<&String> = documented.iter().filter(|e| !rows.contains(&e.as_str())).collect();
        assert!(missing.is_empty(), "account-scoped endpoints without a row in the access matrix: {missing:?}");
        let unknown: Vec<&&str> = rows.iter().filter(|r| !documented.iter().any(|e| e == *r)).collect();
        assert!(unknown.is_empty(), "access-matrix rows for endpoints the server does not document: {unknown:?}");
    }
}
