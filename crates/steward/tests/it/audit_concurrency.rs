//! Many writers at once: the audit chain stays whole and gap-free, every change has its event,
//! and the detectors still see the events one after another (one alert, counted up), on both
//! backends. On PostgreSQL this exercises the sealing rounds (`steward_store`'s
//! `audit_seal.rs`): writers commit their change and its pending event without the chain's
//! head and hand it to the server's background sealer, whose rounds chain it; readers of the
//! chain seal what is pending before they read.
use serde_json::json;
use steward_app::audit_verify::{Verdict, verify_chain};

use crate::helpers::accounts::sandbox_account;
use crate::helpers::*;

const WRITERS: usize = 32;
const DRAFTS_EACH: usize = 6;

both_backends! {
    async fn thirty_two_concurrent_writers_leave_one_whole_chain(app: TestApp) {
        let owner = app.user("writers@example.com").await;
        let account = sandbox_account(&app, &owner, "@writers").await;
        let before = app.state.store.audit_event_count().await.unwrap();

        let url = format!("/api/v1/accounts/{account}/posts");
        let mut writers = tokio::task::JoinSet::new();
        for w in 0..WRITERS {
            let req = (0..DRAFTS_EACH)
                .map(|d| app.post(&url).auth(&owner).json(json!({"text": format!("Draft {d} of writer {w}")})))
                .collect::<Vec<_>>();
            writers.spawn(async move {
                let mut ids = Vec::new();
                for r in req {
                    let r = r.send().await;
                    assert_eq!(r.status, 201, "{}", r.text);
                    ids.push(r.body["id"].as_str().unwrap().to_string());
                }
                ids
            });
        }
        let mut drafts = Vec::new();
        while let Some(ids) = writers.join_next().await {
            drafts.extend(ids.unwrap());
        }
        let n = WRITERS * DRAFTS_EACH;
        assert_eq!(drafts.len(), n);

        // PostgreSQL: the background sealer chains every event without a reader asking, woken
        // by the writers (its sweep alone would take 10 s). SQLite chains each event at once.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
        loop {
            let pending = app.state.store.audit_pending_count().await.unwrap();
            if pending == 0 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{pending} events still pending after 8 s");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let total = app.state.store.audit_event_count().await.unwrap();
        assert_eq!(total, before + n as i64, "one event per draft");
        let events = app.state.store.audit_events_after(before, 10_000).await.unwrap();
        let mut created: Vec<String> = events
            .iter()
            .filter(|e| e.action == "posts.create")
            .filter_map(|e| e.target.as_deref().and_then(|t| t.rsplit(':').next()).map(str::to_string))
            .collect();
        created.sort();
        drafts.sort();
        assert_eq!(created, drafts, "each draft has exactly one event");
        for pair in events.windows(2) {
            assert_eq!(pair[1].seq, pair[0].seq + 1, "no gap in the chain");
            assert_eq!(pair[1].prev_hash, pair[0].hash, "each event follows the one before");
        }
        match verify_chain(&app.state.store, |_, _| {}).await.unwrap() {
            Verdict::Intact { events } => assert_eq!(events as i64, total),
            other => panic!("the chain does not verify: {other:?}"),
        }

        // The post-burst detector (10 an hour): one alert, never two racing to be created,
        // counted up once for each draft that saw at least nine before it. On SQLite writers
        // take turns, so that is every draft from the tenth on; on PostgreSQL a draft does not
        // see the drafts committing at the same instant (at most the other writers), so up to
        // WRITERS - 1 of the drafts around the tenth may not count.
        let r = app.get("/api/v1/alerts").auth(&owner).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        let bursts: Vec<&serde_json::Value> = r.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "post_burst")
            .collect();
        assert_eq!(bursts.len(), 1, "one post-burst alert: {bursts:?}");
        let count = bursts[0]["count"].as_u64().unwrap() as usize;
        match app.backend {
            Backend::Sqlite => assert_eq!(count, n - 9, "{bursts:?}"),
            Backend::Postgres => assert!((n - 9 - (WRITERS - 1)..=n - 9).contains(&count), "{bursts:?}"),
        }
    }
}

/// Writes a pending event as a writer that crashed after its commit leaves it (PostgreSQL).
async fn leave_pending(app: &TestApp, id: &str, user_id: &impl std::fmt::Display, account: &impl std::fmt::Display) {
    let at = app.clock.now_us();
    app.raw_sql(&format!(
        "INSERT INTO audit_pending (id, at, actor_id, action, target, account_id, outcome, detail) \
         VALUES ('{id}', {at}, '{user_id}', 'posts.create', 'post:{id}', '{account}', 'allowed', '{{}}')"
    ))
    .await;
}

/// PostgreSQL: an event whose writer committed but never saw it sealed (it crashed, or another
/// replica's round had not run yet) is sealed before the activity view answers, so a change
/// never shows without its event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_event_is_sealed_before_the_activity_answers() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    let owner = app.user("pending@example.com").await;
    let account = sandbox_account(&app, &owner, "@pending").await;
    leave_pending(&app, "left-pending", &owner.user_id, &account).await;
    assert_eq!(app.state.store.audit_pending_count().await.unwrap(), 1, "written as a crashed writer leaves it");
    let r = app.get(&format!("/api/v1/accounts/{account}/activity?limit=50")).auth(&owner).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["items"].as_array().unwrap().iter().filter_map(|e| e["id"].as_str()).collect();
    assert!(ids.contains(&"left-pending"), "the pending event is in the answer: {ids:?}");
    assert_eq!(app.state.store.audit_pending_count().await.unwrap(), 0, "and it was sealed into the chain");
    match verify_chain(&app.state.store, |_, _| {}).await.unwrap() {
        Verdict::Intact { .. } => {}
        other => panic!("the chain does not verify: {other:?}"),
    }
}

/// PostgreSQL: a replica that shuts down chains what is pending before it goes, rather than
/// leaving it to another replica's sweep or its own next start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_stops_seals_what_is_pending() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    let owner = app.user("stopping@example.com").await;
    let account = sandbox_account(&app, &owner, "@stopping").await;
    // A second replica on the same database, past its first sweep (which runs at start).
    let replica = steward_store::Store::open(&app.database_url).await.unwrap();
    replica.start_replica_sync();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    leave_pending(&app, "pending-at-stop", &owner.user_id, &account).await;
    // Neither replica's sweep comes round for seconds yet; closing is what seals it.
    replica.close().await;
    let reader = steward_store::Store::connect(&app.database_url).await.unwrap();
    assert_eq!(reader.audit_pending_count().await.unwrap(), 0, "sealed when the replica stopped");
    reader.close().await;
}
