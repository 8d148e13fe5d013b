//! Posts: drafts, versions, review, approval, scheduling rules, media.
use reqwest::Method;
use serde_json::{Value, json};
use steward_domain::ids::{AccountId, PostId};

use crate::helpers::accounts::{member, sandbox_account};
use crate::helpers::*;

fn posts(account: &str) -> String {
    format!("/api/v1/accounts/{account}/posts")
}

fn post_path(id: &str, rest: &str) -> String {
    format!("/api/v1/posts/{id}{rest}")
}

async fn create(app: &TestApp, s: &Session, account: &str, body: Value) -> Resp {
    app.post(&posts(account)).auth(s).json(body).send().await
}

/// Creates a draft and returns its id.
async fn draft(app: &TestApp, s: &Session, account: &str, text: &str) -> String {
    let r = create(app, s, account, json!({"text": text})).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

async fn act(app: &TestApp, s: &Session, id: &str, what: &str, body: Value) -> Resp {
    app.post(&post_path(id, &format!("/{what}"))).auth(s).json(body).send().await
}

async fn get(app: &TestApp, s: &Session, id: &str) -> Resp {
    let r = app.get(&post_path(id, "")).auth(s).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

async fn patch(app: &TestApp, s: &Session, id: &str, etag: Option<&str>, body: Value) -> Resp {
    let mut req = app.req(Method::PATCH, &post_path(id, "")).auth(s).json(body);
    if let Some(tag) = etag {
        req = req.header("if-match", tag);
    }
    req.send().await
}

async fn settings(app: &TestApp, owner: &Session, account: &str, body: Value) {
    let r = app.req(Method::PATCH, &format!("/api/v1/accounts/{account}/settings")).auth(owner).json(body).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Moves the server's clock forward to `target` (which must lie ahead of it), then signs the
/// team in again (their sessions ended on the way).
async fn set_clock_and_sign_in(app: &TestApp, t: &mut Team, target: &str) {
    set_clock(app, target);
    t.owner = app.login("owner@example.com").await;
    t.admin = app.login("admin@example.com").await;
    t.editor = app.login("editor@example.com").await;
}

/// Moves the server's clock forward to `target` (which must lie ahead of it).
fn set_clock(app: &TestApp, target: &str) {
    let target: jiff::Timestamp = target.parse().unwrap();
    let now = app.clock.now();
    assert!(target > now, "the clock only moves forward");
    let micros = u64::try_from(target.as_microsecond() - now.as_microsecond()).unwrap();
    app.clock.advance(std::time::Duration::from_micros(micros));
}

/// Writes `request` (headers only) on a fresh connection and returns the start of the answer.
async fn headers_only(base: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = 0;
    while got < buf.len() && !String::from_utf8_lossy(&buf[..got]).contains('}') {
        match tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buf[got..])).await {
            Ok(Ok(n)) if n > 0 => got += n,
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf[..got]).to_string()
}

/// A post of the owner's, approved by the owner.
async fn approved(app: &TestApp, t: &Team, text: &str) -> String {
    let id = draft(app, &t.owner, &t.account, text).await;
    act(app, &t.owner, &id, "submit", json!({})).await;
    let r = act(app, &t.owner, &id, "approve", json!({"version": 1})).await;
    assert_eq!(r.body["state"], "approved", "{}", r.text);
    id
}

/// An owner, an admin, an editor and a moderator on one sandbox account.
struct Team {
    account: String,
    owner: Session,
    admin: Session,
    editor: Session,
    moderator: Session,
    viewer: Session,
}

async fn team(app: &TestApp) -> Team {
    let owner = app.user("owner@example.com").await;
    let account = sandbox_account(app, &owner, "team").await;
    settings(app, &owner, &account, json!({"max_members": 30})).await;
    let admin = member(app, &owner, &account, "admin@example.com", "admin").await;
    let editor = member(app, &owner, &account, "editor@example.com", "editor").await;
    let moderator = member(app, &owner, &account, "moderator@example.com", "moderator").await;
    let viewer = member(app, &owner, &account, "viewer@example.com", "viewer").await;
    Team { account, owner, admin, editor, moderator, viewer }
}

both_backends! {
    async fn a_post_goes_from_draft_through_review_to_scheduled(app: TestApp) {
        let t = team(&app).await;
        let r = create(&app, &t.editor, &t.account, json!({"text": "Hello", "title": "Hi", "media": [{"url": "https://cdn.example.com/a.png", "kind": "image"}]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!((r.body["state"].as_str(), r.body["version"].as_i64()), (Some("draft"), Some(1)));
        assert_eq!(r.body["author_id"], t.editor.user_id.as_str());
        assert_eq!(r.body["media"][0]["kind"], "image");
        let id = r.body["id"].as_str().unwrap().to_string();
        let etag = r.header("etag").expect("ETag on create").to_string();
        let read = get(&app, &t.viewer, &id).await;
        assert_eq!(read.header("etag"), Some(etag.as_str()));
        for field in ["id", "account_id", "author_id", "state", "text", "media", "version", "approvals", "scheduled_at", "published_at", "external_id", "external_url", "last_error"] {
            assert!(read.body.get(field).is_some(), "GET /posts/{{id}} lacks `{field}`: {}", read.text);
        }

        let submitted = act(&app, &t.editor, &id, "submit", json!({})).await;
        assert_eq!((submitted.status, submitted.body["state"].as_str()), (200, Some("in_review")), "{}", submitted.text);
        let comment = act(&app, &t.moderator, &id, "comments", json!({"body": "Nice one"})).await;
        assert_eq!(comment.status, 201, "{}", comment.text);
        assert_eq!((comment.body["kind"].as_str(), comment.body["version"].as_i64()), (Some("comment"), Some(1)));
        let approved = act(&app, &t.owner, &id, "approve", json!({"version": 1})).await;
        assert_eq!((approved.status, approved.body["state"].as_str()), (200, Some("approved")), "{}", approved.text);
        assert_eq!(approved.body["approvals"][0]["user_id"], t.owner.user_id.as_str());
        assert_eq!(approved.body["approvals"][0]["counts"], true);

        // Whole seconds: instants are stored to the microsecond.
        let at = jiff::Timestamp::from_second(app.clock.now().as_second() + 7200).unwrap().to_string();
        let scheduled = act(&app, &t.admin, &id, "schedule", json!({"at": at})).await;
        assert_eq!((scheduled.status, scheduled.body["state"].as_str()), (200, Some("scheduled")), "{}", scheduled.text);
        let at_back: jiff::Timestamp = scheduled.body["scheduled_at"].as_str().unwrap().parse().unwrap();
        assert_eq!(at_back, at.parse::<jiff::Timestamp>().unwrap());
        assert_eq!(scheduled.body["scheduled_by"], t.admin.user_id.as_str());

        let list = app.get(&format!("{}?state=scheduled", posts(&t.account))).auth(&t.viewer).send().await;
        assert_eq!(list.status, 200, "{}", list.text);
        let ids: Vec<&str> = list.body["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec![id.as_str()]);
        let by_author = app.get(&format!("{}?author={}", posts(&t.account), t.owner.user_id)).auth(&t.viewer).send().await;
        assert_eq!(by_author.body["items"].as_array().unwrap().len(), 0, "{}", by_author.text);

        // Publish now: scheduled for now, answered 202 (the scheduler takes it from there).
        let other = draft(&app, &t.owner, &t.account, "Right away").await;
        act(&app, &t.owner, &other, "submit", json!({})).await;
        act(&app, &t.owner, &other, "approve", json!({"version": 1})).await;
        let now_post = act(&app, &t.owner, &other, "publish-now", json!({})).await;
        // The running scheduler may already have claimed it when the answer is read back.
        assert_eq!(now_post.status, 202, "{}", now_post.text);
        assert!(matches!(now_post.body["state"].as_str(), Some("scheduled" | "publishing")), "{}", now_post.text);
        let when: jiff::Timestamp = now_post.body["scheduled_at"].as_str().unwrap().parse().unwrap();
        assert!(when <= app.clock.now());

        let cancelled = act(&app, &t.editor, &id, "cancel", json!({})).await;
        assert_eq!((cancelled.status, cancelled.body["state"].as_str()), (200, Some("cancelled")), "{}", cancelled.text);
        assert!(cancelled.body["scheduled_at"].is_null());
        assert_eq!(
            audit_actions(&app, &id).await,
            ["posts.create", "posts.submit", "posts.comment", "posts.approve", "posts.schedule", "posts.cancel"]
        );
        let thread = app.get(&post_path(&id, "/comments")).auth(&t.viewer).send().await;
        assert_eq!(thread.body["items"][0]["body"], "Nice one", "{}", thread.text);
    }

    async fn each_step_is_refused_to_the_wrong_role_and_in_the_wrong_state(app: TestApp) {
        let t = team(&app).await;
        create(&app, &t.viewer, &t.account, json!({"text": "x"})).await.assert_problem(403, "forbidden");
        create(&app, &t.moderator, &t.account, json!({"text": "x"})).await.assert_problem(403, "forbidden");
        let id = draft(&app, &t.editor, &t.account, "Mine").await;
        // Not the author: even the owner may not submit someone else's draft.
        act(&app, &t.owner, &id, "submit", json!({})).await.assert_problem(403, "forbidden");
        // Nothing to approve yet.
        act(&app, &t.owner, &id, "approve", json!({"version": 1})).await.assert_problem(409, "conflict");
        act(&app, &t.editor, &id, "submit", json!({})).await;
        act(&app, &t.editor, &id, "submit", json!({})).await.assert_problem(409, "conflict");
        act(&app, &t.editor, &id, "approve", json!({"version": 1})).await.assert_problem(403, "forbidden");
        act(&app, &t.moderator, &id, "request-changes", json!({"comment": "no"})).await.assert_problem(403, "forbidden");
        act(&app, &t.viewer, &id, "comments", json!({"body": "hi"})).await.assert_problem(403, "forbidden");
        // Not approved yet: nothing to schedule.
        let at = app.clock.now().checked_add(jiff::SignedDuration::from_hours(1)).unwrap().to_string();
        act(&app, &t.owner, &id, "schedule", json!({"at": at})).await.assert_problem(409, "conflict");
        act(&app, &t.owner, &id, "approve", json!({"version": 1})).await;
        act(&app, &t.editor, &id, "schedule", json!({"at": at})).await.assert_problem(403, "forbidden");
        act(&app, &t.editor, &id, "publish-now", json!({})).await.assert_problem(403, "forbidden");
        act(&app, &t.viewer, &id, "cancel", json!({})).await.assert_problem(403, "forbidden");
        act(&app, &t.owner, &id, "schedule", json!({"at": "tomorrow"})).await.assert_problem(422, "validation");
        act(&app, &t.owner, &id, "schedule", json!({"at": "2020-01-01T00:00:00Z"})).await.assert_problem(422, "validation");
        act(&app, &t.admin, &id, "cancel", json!({})).await;
        act(&app, &t.editor, &id, "cancel", json!({})).await.assert_problem(409, "conflict");
        let r = patch(&app, &t.editor, &id, get(&app, &t.editor, &id).await.header("etag"), json!({"text": "again"})).await;
        r.assert_problem(409, "conflict");

        // Admins approve their own posts only when the policy says so; the owner always may.
        let own = draft(&app, &t.admin, &t.account, "Admin's").await;
        act(&app, &t.admin, &own, "submit", json!({})).await;
        act(&app, &t.admin, &own, "approve", json!({"version": 1})).await.assert_problem(403, "forbidden");
        settings(&app, &t.owner, &t.account, json!({"admins_may_approve_own": true})).await;
        let account = app.get(&format!("/api/v1/accounts/{}", t.account)).auth(&t.owner).send().await;
        assert_eq!(account.body["settings"]["admins_may_approve_own"], true, "{}", account.text);
        let r = act(&app, &t.admin, &own, "approve", json!({"version": 1})).await;
        assert_eq!((r.status, r.body["state"].as_str()), (200, Some("approved")), "{}", r.text);
        let mine = draft(&app, &t.owner, &t.account, "Owner's").await;
        act(&app, &t.owner, &mine, "submit", json!({})).await;
        let r = act(&app, &t.owner, &mine, "approve", json!({"version": 1})).await;
        assert_eq!(r.body["state"], "approved", "{}", r.text);
        // A post of another account is not even there.
        let stranger = app.user("stranger@example.com").await;
        app.get(&post_path(&own, "")).auth(&stranger).send().await.assert_problem(404, "not-found");
        act(&app, &stranger, &own, "cancel", json!({})).await.assert_problem(404, "not-found");
        app.get(&post_path("no-such-post", "")).auth(&t.owner).send().await.assert_problem(404, "not-found");
    }

    async fn a_stale_if_match_answers_412_and_changes_nothing(app: TestApp) {
        let t = team(&app).await;
        let id = draft(&app, &t.editor, &t.account, "First").await;
        let first = get(&app, &t.editor, &id).await;
        let stale = first.header("etag").unwrap().to_string();
        let r = patch(&app, &t.admin, &id, Some(stale.as_str()), json!({"text": "Second"})).await;
        assert_eq!((r.status, r.body["version"].as_i64(), r.body["text"].as_str()), (200, Some(2), Some("Second")), "{}", r.text);
        let fresh = r.header("etag").unwrap().to_string();
        assert_ne!(fresh, stale);
        let before = app.state.store.audit_event_count().await.unwrap();
        patch(&app, &t.editor, &id, Some(stale.as_str()), json!({"text": "Overwrite"})).await.assert_problem(412, "precondition-failed");
        patch(&app, &t.editor, &id, None, json!({"text": "Overwrite"})).await.assert_problem(428, "precondition-required");
        patch(&app, &t.editor, &id, Some("*"), json!({"text": "Overwrite"})).await.assert_problem(428, "precondition-required");
        let now = get(&app, &t.editor, &id).await;
        assert_eq!((now.body["text"].as_str(), now.body["version"].as_i64()), (Some("Second"), Some(2)));
        assert_eq!(now.header("etag"), Some(fresh.as_str()));
        assert_eq!(app.state.store.audit_event_count().await.unwrap(), before, "refused edits record nothing but denials");

        // Every version is kept.
        let r = patch(&app, &t.editor, &id, Some(fresh.as_str()), json!({"title": "T", "media": [{"url": "http://media.example.org/v.mp4", "kind": "video"}]})).await;
        assert_eq!(r.body["version"], 3, "{}", r.text);
        let versions = app.state.store.post_versions(&PostId::new(id.to_string())).await.unwrap();
        let texts: Vec<(i64, &str, Option<&str>)> = versions.iter().map(|v| (v.version, v.text.as_str(), v.title.as_deref())).collect();
        assert_eq!(texts, vec![(1, "First", None), (2, "Second", None), (3, "Second", Some("T"))]);
        assert_eq!(versions[1].edited_by, t.admin.user_id);
        // A PATCH that changes nothing is no edit.
        let tag = r.header("etag").unwrap().to_string();
        let same = patch(&app, &t.editor, &id, Some(tag.as_str()), json!({"text": "Second"})).await;
        assert_eq!((same.status, same.body["version"].as_i64()), (200, Some(3)), "{}", same.text);
        // Someone else's draft needs drafts.edit_any.
        let other_editor = member(&app, &t.owner, &t.account, "editor2@example.com", "editor").await;
        patch(&app, &other_editor, &id, Some(tag.as_str()), json!({"text": "mine now"})).await.assert_problem(403, "forbidden");
        patch(&app, &t.viewer, &id, Some(tag.as_str()), json!({"text": "mine now"})).await.assert_problem(403, "forbidden");
        assert_eq!(audit_actions(&app, &id).await, ["posts.create", "posts.edit", "posts.edit"]);
    }

    async fn approvals_bind_to_one_version_and_any_edit_returns_to_draft(app: TestApp) {
        let t = team(&app).await;
        settings(&app, &t.owner, &t.account, json!({"approvals_required": 2})).await;
        let id = draft(&app, &t.editor, &t.account, "v1").await;
        act(&app, &t.editor, &id, "submit", json!({})).await;
        let one = act(&app, &t.admin, &id, "approve", json!({"version": 1})).await;
        assert_eq!((one.status, one.body["state"].as_str()), (200, Some("in_review")), "one of two: {}", one.text);
        act(&app, &t.admin, &id, "approve", json!({"version": 1})).await.assert_problem(409, "conflict");
        let tag = get(&app, &t.editor, &id).await.header("etag").unwrap().to_string();
        let edited = patch(&app, &t.editor, &id, Some(tag.as_str()), json!({"text": "v2"})).await;
        assert_eq!((edited.body["state"].as_str(), edited.body["version"].as_i64()), (Some("draft"), Some(2)), "{}", edited.text);
        assert_eq!(edited.body["approvals"], json!([]), "an edit clears the approvals");
        act(&app, &t.editor, &id, "submit", json!({})).await;
        // An approval of the old version is refused and counts for nothing.
        act(&app, &t.owner, &id, "approve", json!({"version": 1})).await.assert_problem(409, "conflict");
        act(&app, &t.owner, &id, "approve", json!({"version": 3})).await.assert_problem(409, "conflict");
        let r = act(&app, &t.owner, &id, "approve", json!({"version": 2})).await;
        assert_eq!(r.body["state"], "in_review", "{}", r.text);
        let r = act(&app, &t.admin, &id, "approve", json!({"version": 2})).await;
        assert_eq!(r.body["state"], "approved", "{}", r.text);
        // Scheduled, then edited: back to draft, schedule and approvals gone.
        let at = app.clock.now().checked_add(jiff::SignedDuration::from_hours(3)).unwrap().to_string();
        let s = act(&app, &t.owner, &id, "schedule", json!({"at": at})).await;
        assert_eq!(s.body["state"], "scheduled", "{}", s.text);
        let tag = s.header("etag").unwrap().to_string();
        let back = patch(&app, &t.editor, &id, Some(tag.as_str()), json!({"text": "v3"})).await;
        assert_eq!(
            (back.body["state"].as_str(), back.body["version"].as_i64(), back.body["scheduled_at"].is_null()),
            (Some("draft"), Some(3), true),
            "{}", back.text
        );
        assert_eq!(back.body["approvals"], json!([]));
        act(&app, &t.owner, &id, "schedule", json!({"at": at})).await.assert_problem(409, "conflict");
        // Request changes: back to draft with the comment in the thread, approvals cleared.
        act(&app, &t.editor, &id, "submit", json!({})).await;
        act(&app, &t.owner, &id, "approve", json!({"version": 3})).await;
        act(&app, &t.owner, &id, "request-changes", json!({"comment": ""})).await.assert_problem(422, "validation");
        let rc = act(&app, &t.admin, &id, "request-changes", json!({"comment": "Shorter, please"})).await;
        assert_eq!((rc.body["state"].as_str(), rc.body["approvals"].clone()), (Some("draft"), json!([])), "{}", rc.text);
        let thread = app.get(&post_path(&id, "/comments")).auth(&t.editor).send().await;
        let last = thread.body["items"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["kind"].as_str(), last["body"].as_str(), last["version"].as_i64()), (Some("changes_requested"), Some("Shorter, please"), Some(3)));
        let events = app.state.store.audit_events_after(0, 10_000).await.unwrap();
        let edit = events.iter().rev().find(|e| e.action == "posts.edit").unwrap();
        let detail: Value = serde_json::from_str(&edit.detail).unwrap();
        assert_eq!((detail["from_state"].as_str(), detail["from_version"].as_i64(), detail["to_version"].as_i64()), (Some("scheduled"), Some(2), Some(3)));
    }

    async fn an_approval_stops_counting_when_its_approver_loses_the_right(app: TestApp) {
        let t = team(&app).await;
        settings(&app, &t.owner, &t.account, json!({"approvals_required": 2})).await;
        let id = draft(&app, &t.editor, &t.account, "needs two").await;
        act(&app, &t.editor, &id, "submit", json!({})).await;
        act(&app, &t.admin, &id, "approve", json!({"version": 1})).await;
        let r = app
            .req(Method::PATCH, &format!("/api/v1/accounts/{}/members/{}", t.account, t.admin.user_id))
            .auth(&t.owner)
            .json(json!({"revoke": ["posts.approve"]}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let read = get(&app, &t.owner, &id).await;
        assert_eq!(read.body["approvals"][0]["counts"], false, "{}", read.text);
        let r = act(&app, &t.owner, &id, "approve", json!({"version": 1})).await;
        assert_eq!(r.body["state"], "in_review", "the demoted admin's approval no longer counts: {}", r.text);
    }

    async fn linkedin_member_profiles_need_the_owners_own_approval(app: TestApp) {
        let owner = app.user("olivia@example.com").await;
        let mut tx = app.state.store.begin().await.unwrap();
        tx.insert_account(steward_store::NewAccount {
            id: &AccountId::from("li-member"),
            platform: "linkedin",
            account_kind: "member",
            handle: "olivia",
            display_name: "Olivia",
            owner_id: &owner.user_id.as_str().into(),
            time_zone: "UTC",
            max_members: 5,
            // Stored as off, as an old row might be: the platform's rule applies regardless.
            owner_approval_required: false,
            credential_sealed: None,
            now: app.clock.now_us(),
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let admin = member(&app, &owner, "li-member", "assistant@example.com", "admin").await;
        let editor = member(&app, &owner, "li-member", "coach@example.com", "editor").await;
        let id = draft(&app, &editor, "li-member", "My week").await;
        act(&app, &editor, &id, "submit", json!({})).await;
        let r = act(&app, &admin, &id, "approve", json!({"version": 1})).await;
        assert_eq!((r.status, r.body["state"].as_str()), (200, Some("in_review")), "an admin's approval is not enough: {}", r.text);
        let at = app.clock.now().checked_add(jiff::SignedDuration::from_hours(1)).unwrap().to_string();
        act(&app, &admin, &id, "schedule", json!({"at": at})).await.assert_problem(409, "conflict");
        let r = app
            .req(Method::PATCH, "/api/v1/accounts/li-member/settings")
            .auth(&owner)
            .json(json!({"owner_approval_required": false}))
            .send()
            .await;
        r.assert_problem(422, "validation");
        let r = act(&app, &owner, &id, "approve", json!({"version": 1})).await;
        assert_eq!(r.body["state"], "approved", "{}", r.text);
        let s = act(&app, &admin, &id, "schedule", json!({"at": at})).await;
        assert_eq!(s.body["state"], "scheduled", "{}", s.text);
    }

    async fn windows_quota_gap_and_daily_maximum_are_enforced_at_schedule_time(app: TestApp) {
        let mut t = team(&app).await;
        settings(&app, &t.owner, &t.account, json!({"time_zone": "Europe/Paris", "min_gap_minutes": 60, "max_posts_per_day": 2})).await;
        let r = app
            .req(Method::PATCH, &format!("/api/v1/accounts/{}/members/{}", t.account, t.admin.user_id))
            .auth(&t.owner)
            .json(json!({"windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}], "daily_quota": 1}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let (a, b, c) = (approved(&app, &t, "a").await, approved(&app, &t, "b").await, approved(&app, &t, "c").await);
        // Monday 2027-01-04, 10:00 in Paris (UTC+1).
        set_clock_and_sign_in(&app, &mut t, "2027-01-04T09:00:00Z").await;
        let ok = act(&app, &t.admin, &a, "schedule", json!({"at": "2027-01-04T15:00:00Z"})).await;
        assert_eq!(ok.status, 200, "16:00 in Paris, inside the window: {}", ok.text);
        act(&app, &t.admin, &b, "schedule", json!({"at": "2027-01-04T17:00:00Z"})).await.assert_problem(403, "outside-window");
        let quota = act(&app, &t.admin, &b, "schedule", json!({"at": "2027-01-04T12:00:00Z"})).await;
        quota.assert_problem(409, "conflict");
        assert!(quota.body["detail"].as_str().unwrap().contains("quota"), "{}", quota.text);
        let gap = act(&app, &t.owner, &b, "schedule", json!({"at": "2027-01-04T15:30:00Z"})).await;
        gap.assert_problem(409, "conflict");
        assert!(gap.body["detail"].as_str().unwrap().contains("60 minutes"), "{}", gap.text);
        let exactly = act(&app, &t.owner, &b, "schedule", json!({"at": "2027-01-04T14:00:00Z"})).await;
        assert_eq!(exactly.status, 200, "exactly the gap is fine: {}", exactly.text);
        let max = act(&app, &t.owner, &c, "schedule", json!({"at": "2027-01-04T21:00:00Z"})).await;
        max.assert_problem(409, "conflict");
        assert!(max.body["detail"].as_str().unwrap().contains("maximum of 2"), "{}", max.text);
        // 23:30Z is already Tuesday in Paris: another day.
        let next_day = act(&app, &t.owner, &c, "schedule", json!({"at": "2027-01-04T23:30:00Z"})).await;
        assert_eq!(next_day.status, 200, "{}", next_day.text);
        // Moving a scheduled post does not collide with itself.
        let moved = act(&app, &t.owner, &c, "schedule", json!({"at": "2027-01-04T23:40:00Z"})).await;
        assert_eq!(moved.status, 200, "{}", moved.text);
        // Outside their window, the admin may not schedule at all (18:30 in Paris).
        set_clock_and_sign_in(&app, &mut t, "2027-01-04T17:30:00Z").await;
        let d = approved(&app, &t, "d").await;
        act(&app, &t.admin, &d, "schedule", json!({"at": "2027-01-05T09:00:00Z"})).await.assert_problem(403, "outside-window");
        act(&app, &t.admin, &d, "publish-now", json!({})).await.assert_problem(403, "outside-window");
        // Refusals changed nothing. (Post `a`, due at 15:00Z, may meanwhile have been published by
        // the scheduler, which runs in the test server: the clock is now past its time.)
        let d_now = get(&app, &t.owner, &d).await.body;
        assert_eq!((d_now["state"].as_str(), d_now["scheduled_at"].as_str()), (Some("approved"), None));
    }

    async fn unreadable_windows_refuse_scheduling_and_hold_due_posts(app: TestApp) {
        let t = team(&app).await;
        let (a, b) = (approved(&app, &t, "a").await, approved(&app, &t, "b").await);
        // While the admin's windows (none) can be read, the admin schedules `a` for an hour on.
        let at = app.clock.now().checked_add(jiff::SignedDuration::from_hours(1)).unwrap().to_string();
        let ok = act(&app, &t.admin, &a, "schedule", json!({"at": at})).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        // Then the stored value becomes unreadable: it must never mean "no restriction".
        app.raw_sql(&format!(
            "UPDATE memberships SET windows = 'not json' WHERE account_id = '{}' AND user_id = '{}'",
            t.account, t.admin.user_id
        ))
        .await;
        act(&app, &t.admin, &b, "schedule", json!({"at": at})).await.assert_problem(403, "outside-window");
        act(&app, &t.admin, &b, "publish-now", json!({})).await.assert_problem(403, "outside-window");
        let b_now = get(&app, &t.owner, &b).await.body;
        assert_eq!((b_now["state"].as_str(), b_now["scheduled_at"].as_str()), (Some("approved"), None));
        // The member list does not show them as "no restriction", and changing the member
        // without sending windows does not quietly clear them.
        let list = app.get(&format!("/api/v1/accounts/{}/members", t.account)).auth(&t.owner).send().await;
        let admin_row = list.body["items"].as_array().unwrap().iter().find(|m| m["user_id"] == t.admin.user_id.as_str()).unwrap();
        assert_eq!(admin_row["windows"], Value::Null, "{}", list.text);
        let patch = app
            .req(Method::PATCH, &format!("/api/v1/accounts/{}/members/{}", t.account, t.admin.user_id))
            .auth(&t.owner)
            .json(json!({"daily_quota": 5}))
            .send()
            .await;
        patch.assert_problem(422, "validation");
        assert_eq!(patch.body["errors"][0]["field"], "windows", "{}", patch.text);
        // When `a` falls due, the scheduler holds it instead of publishing.
        app.clock.advance(std::time::Duration::from_secs(3601));
        let mut held = None;
        for _ in 0..600 {
            let p = app.state.store.post(&PostId::new(a.to_string())).await.unwrap().unwrap();
            if p.state.as_str() != "scheduled" && p.state.as_str() != "publishing" {
                held = Some(p);
                break;
            }
            app.state.scheduler.wake();
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let p = held.expect("the scheduler never handled the due post");
        assert_eq!((p.state.as_str(), p.hold_reason.map(|r| r.as_str())), ("approved", Some("outside_window")), "{p:?}");
        assert!(p.last_error.unwrap_or_default().contains("cannot be read"));
        assert!(app.state.store.sandbox_posts(&AccountId::new(t.account.to_string())).await.unwrap().is_empty(), "nothing was published");
    }

    async fn unreadable_stored_names_fail_closed(app: TestApp) {
        let t = team(&app).await;
        let a = approved(&app, &t, "a").await;
        let account_url = format!("/api/v1/accounts/{}", t.account);
        assert_eq!(app.get(&account_url).auth(&t.admin).send().await.status, 200);
        // A role that is none of the six grants nothing: the row is refused, not read as a default.
        app.raw_sql(&format!(
            "UPDATE memberships SET role = 'superuser' WHERE account_id = '{}' AND user_id = '{}'",
            t.account, t.admin.user_id
        ))
        .await;
        let at = app.clock.now().checked_add(jiff::SignedDuration::from_hours(1)).unwrap().to_string();
        let refused = act(&app, &t.admin, &a, "schedule", json!({"at": at})).await;
        assert_eq!(refused.status, 500, "{}", refused.text);
        assert_eq!(app.get(&account_url).auth(&t.admin).send().await.status, 500);
        let a_now = get(&app, &t.owner, &a).await.body;
        assert_eq!((a_now["state"].as_str(), a_now["scheduled_at"].as_str()), (Some("approved"), None));
        // A post whose stored state is none of ours is not shown as anything, nor acted on.
        app.raw_sql(&format!("UPDATE posts SET state = 'paused' WHERE id = '{a}'")).await;
        assert_eq!(app.get(&post_path(&a, "")).auth(&t.owner).send().await.status, 500);
        assert_eq!(act(&app, &t.owner, &a, "schedule", json!({"at": at})).await.status, 500);
        assert!(app.state.store.post(&PostId::new(a.to_string())).await.is_err(), "the store refuses the row");
        // Nor is an account whose stored status is unknown: not even its owner acts on it.
        app.raw_sql(&format!("UPDATE social_accounts SET status = 'paused' WHERE id = '{}'", t.account)).await;
        assert_eq!(app.get(&account_url).auth(&t.owner).send().await.status, 500);
    }

    async fn an_unreadable_revokes_list_refuses_the_member_instead_of_revoking_nothing(app: TestApp) {
        let t = team(&app).await;
        let a = approved(&app, &t, "a").await;
        let account_url = format!("/api/v1/accounts/{}", t.account);
        assert_eq!(app.get(&account_url).auth(&t.admin).send().await.status, 200);
        app.raw_sql(&format!(
            "UPDATE memberships SET revokes = 'posts.schedule' WHERE account_id = '{}' AND user_id = '{}'",
            t.account, t.admin.user_id
        ))
        .await;
        let at = app.clock.now().checked_add(jiff::SignedDuration::from_hours(1)).unwrap().to_string();
        let refused = act(&app, &t.admin, &a, "schedule", json!({"at": at})).await;
        assert_eq!(refused.status, 403, "{}", refused.text);
        assert_eq!(app.get(&account_url).auth(&t.admin).send().await.status, 403);
        let a_now = get(&app, &t.owner, &a).await.body;
        assert_eq!((a_now["state"].as_str(), a_now["scheduled_at"].as_str()), (Some("approved"), None));
    }

    async fn windows_follow_daylight_saving_gaps_and_overlaps(app: TestApp) {
        let mut t = team(&app).await;
        settings(&app, &t.owner, &t.account, json!({"time_zone": "Europe/Paris"})).await;
        let r = app
            .req(Method::PATCH, &format!("/api/v1/accounts/{}/members/{}", t.account, t.admin.user_id))
            .auth(&t.owner)
            .json(json!({"windows": [
                {"days": ["mon", "tue", "wed", "thu", "fri", "sat"], "start": "00:00", "end": "24:00"},
                {"days": ["sun"], "start": "02:00", "end": "03:00"}
            ]}))
            .send()
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut ids = Vec::new();
        for text in ["gap-1", "gap-2", "fold-1", "fold-2"] {
            let id = draft(&app, &t.owner, &t.account, text).await;
            act(&app, &t.owner, &id, "submit", json!({})).await;
            act(&app, &t.owner, &id, "approve", json!({"version": 1})).await;
            ids.push(id);
        }
        // Saturday 2027-03-27; that night Paris skips 02:00–03:00.
        set_clock_and_sign_in(&app, &mut t, "2027-03-27T10:00:00Z").await;
        for at in ["2027-03-28T00:30:00Z", "2027-03-28T01:30:00Z"] {
            act(&app, &t.admin, &ids[0], "schedule", json!({"at": at})).await.assert_problem(403, "outside-window");
        }
        // On 2027-10-31 Paris has 02:00–03:00 twice: both are inside the window.
        let first = act(&app, &t.admin, &ids[2], "schedule", json!({"at": "2027-10-31T00:30:00Z"})).await;
        assert_eq!(first.status, 200, "02:30 summer time: {}", first.text);
        let second = act(&app, &t.admin, &ids[3], "schedule", json!({"at": "2027-10-31T01:30:00Z"})).await;
        assert_eq!(second.status, 200, "02:30 winter time: {}", second.text);
        act(&app, &t.admin, &ids[1], "schedule", json!({"at": "2027-10-31T02:00:00Z"})).await.assert_problem(403, "outside-window");
    }

    async fn an_idempotency_key_makes_a_create_happen_once(app: TestApp) {
        let t = team(&app).await;
        let send = |key: &'static str, text: &'static str| {
            app.post(&posts(&t.account)).auth(&t.editor).header("idempotency-key", key).json(json!({"text": text})).send()
        };
        let first = send("key-1", "Once").await;
        assert_eq!(first.status, 201, "{}", first.text);
        let again = send("key-1", "Once").await;
        assert_eq!((again.status, again.body["id"].clone()), (201, first.body["id"].clone()), "{}", again.text);
        send("key-1", "Different").await.assert_problem(422, "validation");
        let other = send("key-2", "Once").await;
        assert_ne!(other.body["id"], first.body["id"]);
        let list = app.get(&posts(&t.account)).auth(&t.editor).send().await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 2, "{}", list.text);
        assert_eq!(audit_actions(&app, first.body["id"].as_str().unwrap()).await, ["posts.create"]);
    }

    async fn posts_list_in_pages_newest_first(app: TestApp) {
        let t = team(&app).await;
        let mut made = Vec::new();
        for i in 0..5 {
            made.push(draft(&app, &t.editor, &t.account, &format!("post {i}")).await);
        }
        let first = app.get(&format!("{}?limit=2", posts(&t.account))).auth(&t.viewer).send().await;
        let ids = |r: &Resp| r.body["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(ids(&first), vec![made[4].clone(), made[3].clone()]);
        let cursor = first.body["next_cursor"].as_str().unwrap();
        let second = app.get(&format!("{}?limit=2&cursor={cursor}", posts(&t.account))).auth(&t.viewer).send().await;
        assert_eq!(ids(&second), vec![made[2].clone(), made[1].clone()]);
        let cursor = second.body["next_cursor"].as_str().unwrap();
        let last = app.get(&format!("{}?limit=2&cursor={cursor}", posts(&t.account))).auth(&t.viewer).send().await;
        assert_eq!((ids(&last), last.body["next_cursor"].is_null()), (vec![made[0].clone()], true));
        app.get(&format!("{}?state=nonsense", posts(&t.account))).auth(&t.viewer).send().await.assert_problem(422, "validation");
        app.get(&format!("{}?cursor=!!", posts(&t.account))).auth(&t.viewer).send().await.assert_problem(422, "validation");
    }

    async fn media_by_url_is_checked_and_uploads_are_typed_sized_and_served_to_members(app: TestApp) {
        let t = team(&app).await;
        for (media, field) in [
            (json!([{"url": "ftp://example.com/a.png", "kind": "image"}]), "media[0].url"),
            (json!([{"url": "https://example.com/a.mp3", "kind": "audio"}]), "media[0].kind"),
            (json!([{"url": "javascript:alert(1)", "kind": "image"}]), "media[0].url"),
            // Half an IPv6 literal: no URL parser reads it, so it is never stored to be echoed.
            (json!([{"url": "http://[::1/a.png", "kind": "image"}]), "media[0].url"),
            (json!([{"url": "https://ex]ample.com/a.png", "kind": "image"}]), "media[0].url"),
        ] {
            let r = create(&app, &t.editor, &t.account, json!({"text": "x", "media": media})).await;
            r.assert_problem(422, "validation");
            assert_eq!(r.body["errors"][0]["field"], field, "{}", r.text);
        }
        let upload = |s: &Session, content_type: &str, bytes: Vec<u8>| {
            app.post(&format!("/api/v1/accounts/{}/media", t.account)).auth(s).body(content_type, bytes).send()
        };
        let png: Vec<u8> = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0u8; 64]].concat();
        let r = upload(&t.editor, "image/png", png.clone()).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!((r.body["kind"].as_str(), r.body["size_bytes"].as_u64()), (Some("image"), Some(png.len() as u64)));
        let url = r.body["url"].as_str().unwrap().to_string();
        let path = url.strip_prefix(&app.state.settings.public_url).unwrap().to_string();
        let served = app.client.get(format!("{}{path}", app.base)).bearer_auth(&t.viewer.token).send().await.unwrap();
        assert_eq!(served.status(), 200);
        assert_eq!(served.headers()["content-type"], "image/png");
        assert_eq!(served.bytes().await.unwrap().to_vec(), png);
        let stranger = app.user("stranger@example.com").await;
        app.get(&path).auth(&stranger).send().await.assert_problem(404, "not-found");
        // The URL works in a post.
        let r = create(&app, &t.editor, &t.account, json!({"text": "pic", "media": [{"url": url, "kind": "image"}]})).await;
        assert_eq!(r.status, 201, "{}", r.text);

        upload(&t.viewer, "image/png", png.clone()).await.assert_problem(403, "forbidden");
        upload(&t.editor, "image/jpeg", png.clone()).await.assert_problem(422, "validation");
        upload(&t.editor, "text/html", b"<script>".to_vec()).await.assert_problem(422, "validation");
        // Over 8 MiB for an image, refused from Content-Length before any byte is read (so send
        // only the headers: a client still uploading would race the early answer).
        let raw = headers_only(
            &app.base,
            &format!(
                "POST /api/v1/accounts/{}/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: image/png\r\nContent-Length: {}\r\n\r\n",
                t.account, t.editor.token, 8 * 1024 * 1024 + 1
            ),
        )
        .await;
        assert!(raw.starts_with("HTTP/1.1 413") && raw.contains("urn:steward:problem:payload-too-large"), "{raw}");
        let mp4: Vec<u8> = [b"\0\0\0\x18ftypmp42".as_slice(), &vec![0u8; 2 * 1024 * 1024][..]].concat();
        let video = upload(&t.editor, "video/mp4", mp4).await;
        assert_eq!((video.status, video.body["kind"].as_str()), (201, Some("video")), "a video above the 1 MiB API limit: {}", video.text);
        let uploads: Vec<String> = app.state.store.audit_events_after(0, 10_000).await.unwrap().into_iter().filter(|e| e.action == "media.upload" && e.outcome == "allowed").map(|e| e.action).collect();
        assert_eq!(uploads.len(), 2);
    }
}
