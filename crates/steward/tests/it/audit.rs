//! The activity log: written with every change, fail-closed, tamper-evident.
use serde_json::json;
use steward_app::audit_verify::{Verdict, VerifyOptions, verify_chain, verify_chain_with, write_anchor};
use steward_domain::audit_chain::ChainBreak;
use steward_domain::ids::UserId;

use crate::helpers::*;

async fn verdict(app: &TestApp) -> Verdict {
    verify_chain(&app.state.store, |_, _| {}).await.unwrap()
}

/// Some activity from two people.
async fn some_activity(app: &TestApp) -> Session {
    let s = app.user("chain@example.com").await;
    app.user("other@example.com").await;
    app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "t", "scopes": ["read"]})).send().await;
    app.post("/api/v1/auth/login")
        .json(json!({"email": "chain@example.com", "password": "wrong-wrong-wrong"}))
        .send()
        .await;
    // PostgreSQL chains in the background: the tests below edit the chain's rows directly.
    app.state.store.audit_head().await.unwrap();
    s
}

both_backends! {
    async fn every_change_and_denial_is_chained(app: TestApp) {
        let s = some_activity(&app).await;
        let events = app.state.store.audit_events_after(0, 1000).await.unwrap();
        let actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["auth.register", "auth.login", "auth.register", "auth.login", "me.token.create", "auth.login"]);
        let last = events.last().unwrap();
        assert_eq!((last.outcome.as_str(), last.actor_id.as_deref()), ("denied", Some(s.user_id.as_str())));
        let token_event = &events[4];
        assert_eq!(token_event.session_id.as_deref(), Some(s.session_id.as_str()));
        assert_eq!(token_event.ip.as_deref(), Some("127.0.0.1"));
        assert!(token_event.target.as_deref().unwrap().starts_with("token:"));
        for pair in events.windows(2) {
            assert_eq!(pair[1].prev_hash, pair[0].hash);
            assert_eq!(pair[1].seq, pair[0].seq + 1);
        }
        assert!(matches!(verdict(&app).await, Verdict::Intact { events: 6 }));
    }

    async fn my_activity_pages_through_my_own_events(app: TestApp) {
        let s = app.user("pager@example.com").await;
        let other = app.user("nosy@example.com").await;
        for i in 0..5 {
            app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": format!("t{i}"), "scopes": ["read"]})).send().await;
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/me/activity?limit=3&cursor={c}"),
                None => "/api/v1/me/activity?limit=3".to_string(),
            };
            let page = app.get(&path).auth(&s).send().await;
            assert_eq!(page.status, 200, "{}", page.text);
            for e in page.body["items"].as_array().unwrap() {
                assert_eq!(e["actor_id"], s.user_id.as_str(), "only my own events");
                for f in ["id", "at", "actor_email", "session_id", "ip", "user_agent", "action", "target", "outcome", "detail"] {
                    assert!(e.get(f).is_some(), "event lacks {f}");
                }
                seen.push(e["action"].as_str().unwrap().to_string());
            }
            cursor = page.body["next_cursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen.len(), 7, "{seen:?}");
        assert_eq!(seen.first().map(String::as_str), Some("me.token.create"), "newest first");
        assert_eq!(seen.last().map(String::as_str), Some("auth.register"));
        let theirs = app.get("/api/v1/me/activity").auth(&other).send().await;
        assert_eq!(theirs.body["items"].as_array().unwrap().len(), 2);
    }

    async fn a_change_whose_event_cannot_be_written_does_not_happen(app: TestApp) {
        let s = app.user("failclosed@example.com").await;
        let before = app.state.store.audit_event_count().await.unwrap();
        app.break_audit_log().await;
        let r = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "ghost", "scopes": ["read"]})).send().await;
        r.assert_problem(500, "internal");
        assert!(app.state.store.api_tokens_for_user(&UserId::new(s.user_id.to_string())).await.unwrap().is_empty(), "no token without its audit event");
        let r = app.post("/api/v1/auth/register").json(json!({"email": "ghost@example.com", "password": PASSWORD, "display_name": "Ghost"})).send().await;
        assert_eq!(r.status, 500);
        assert!(app.state.store.user_by_email("ghost@example.com").await.unwrap().is_none(), "no user without its audit event");
        let r = app.post("/api/v1/me/sessions/revoke-all").auth(&s).json(json!({"keep_current": false})).send().await;
        assert_eq!(r.status, 500);
        assert_eq!(app.get("/api/v1/me").auth(&s).send().await.status, 200, "the session was not revoked");
        app.repair_audit_log().await;
        assert_eq!(app.state.store.audit_event_count().await.unwrap(), before);
        assert!(matches!(verdict(&app).await, Verdict::Intact { .. }));
        let r = app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "real", "scopes": ["read"]})).send().await;
        assert_eq!(r.status, 201);
    }

    async fn verify_names_an_altered_event(app: TestApp) {
        some_activity(&app).await;
        app.raw_sql("UPDATE audit_events SET action = 'me.token.revoke' WHERE seq = 5").await;
        match verdict(&app).await {
            Verdict::Broken(ChainBreak::Altered { seq }) => assert_eq!(seq, 5),
            other => panic!("expected an altered event, got {other:?}"),
        }
    }

    async fn verify_names_a_deleted_event(app: TestApp) {
        some_activity(&app).await;
        app.raw_sql("DELETE FROM audit_events WHERE seq = 3").await;
        match verdict(&app).await {
            Verdict::Broken(ChainBreak::Missing { from, to }) => assert_eq!((from, to), (3, 3)),
            other => panic!("expected a missing event, got {other:?}"),
        }
    }

    async fn verify_walks_a_long_chain_across_batches_and_in_parts(app: TestApp) {
        // More events than one batch of the reader (4,096), walked in one piece and in parts.
        let events: Vec<_> = (0..20_500)
            .map(|i| steward_store::NewAuditEvent {
                id: format!("bulk-{i:06}"),
                at: 1_760_000_000_000_000 + i,
                actor_id: (i % 3 != 0).then(|| UserId::new(format!("user-{}", i % 7))),
                action: "posts.submit".into(),
                target: Some(format!("post:{i}")),
                outcome: "allowed".into(),
                detail: format!("{{\"n\":{i}}}"),
                ..Default::default()
            })
            .collect();
        let head = steward_store::testing::append_audit_bulk(&app.state.store, &events).await.unwrap();
        let whole = VerifyOptions::default();
        let in_parts = VerifyOptions { split_above: Some(1_000), ..Default::default() };
        for opts in [&whole, &in_parts] {
            match verify_chain_with(&app.state.store, opts, |_, _| {}).await.unwrap() {
                Verdict::Intact { events } => assert_eq!(events, u64::try_from(head).unwrap()),
                other => panic!("expected an intact chain, got {other:?}"),
            }
        }
        // The two parts meet after seq `mid`. Each finding is the same whichever way the chain
        // is walked.
        let mid = head / 2;
        let detail_of = |seq: i64| format!("{{\"n\":{}}}", seq - head + 20_499);
        let cases: Vec<(String, String, ChainBreak)> = vec![
            (
                format!("UPDATE audit_events SET detail = '{{}}' WHERE seq = {}", head - 300),
                format!("UPDATE audit_events SET detail = '{}' WHERE seq = {}", detail_of(head - 300), head - 300),
                ChainBreak::Altered { seq: head - 300 },
            ),
            (
                format!("UPDATE audit_events SET seq = -{mid} WHERE seq = {mid}"),
                format!("UPDATE audit_events SET seq = {mid} WHERE seq = -{mid}"),
                ChainBreak::Missing { from: mid, to: mid },
            ),
            (
                format!("UPDATE audit_events SET seq = -{0} WHERE seq = {0}", mid + 1),
                format!("UPDATE audit_events SET seq = {0} WHERE seq = -{0}", mid + 1),
                ChainBreak::Missing { from: mid + 1, to: mid + 1 },
            ),
            (
                // Text where a hash belongs: a broken link, not a crash.
                format!("UPDATE audit_events SET prev_hash = 'not a hash' WHERE seq = {}", mid + 1),
                String::new(),
                ChainBreak::BrokenLink { seq: mid + 1 },
            ),
        ];
        for (tamper, repair, expected) in cases {
            app.raw_sql(&tamper).await;
            for opts in [&whole, &in_parts] {
                match verify_chain_with(&app.state.store, opts, |_, _| {}).await.unwrap() {
                    Verdict::Broken(b) => assert_eq!(b, expected, "{tamper} (parts: {:?})", opts.split_above),
                    other => panic!("{tamper}: expected {expected:?}, got {other:?}"),
                }
            }
            if !repair.is_empty() {
                app.raw_sql(&repair).await;
            }
        }
    }

    async fn an_event_appended_during_the_walk_is_outside_its_snapshot(app: TestApp) {
        let bulk = |from: usize, n: usize| -> Vec<steward_store::NewAuditEvent> {
            (from..from + n)
                .map(|i| steward_store::NewAuditEvent {
                    id: format!("walk-{i:06}"),
                    at: 1_760_000_000_000_000 + i as i64,
                    action: "posts.submit".into(),
                    outcome: "allowed".into(),
                    detail: "{}".into(),
                    ..Default::default()
                })
                .collect()
        };
        let store = &app.state.store;
        let head = steward_store::testing::append_audit_bulk(store, &bulk(0, 20_500)).await.unwrap();
        // More batches than the reader may run ahead: it is still inside its walk.
        let mut batches = store.audit_chain_batches(0, None);
        let first = batches.recv().await.expect("a first batch").unwrap();
        assert_eq!(first.head.as_ref().map(|h| h.0), Some(head), "the first batch carries the head");
        let appended = steward_store::testing::append_audit_bulk(store, &bulk(20_500, 1)).await.unwrap();
        assert_eq!(appended, head + 1);
        let mut last = first.iter().last().map(|e| e.fields.seq).unwrap();
        while let Some(batch) = batches.recv().await {
            let batch = batch.unwrap();
            assert!(batch.head.is_none(), "only the first batch carries the head");
            last = batch.iter().last().map_or(last, |e| e.fields.seq);
        }
        assert_eq!(last, head, "the walk ends at the head of its own snapshot");
        match verdict(&app).await {
            Verdict::Intact { events } => assert_eq!(events, u64::try_from(appended).unwrap()),
            other => panic!("expected an intact chain, got {other:?}"),
        }
    }

    async fn verify_detects_reordering_and_truncation(app: TestApp) {
        some_activity(&app).await;
        // Swap two events' contents while keeping their positions.
        app.raw_sql("UPDATE audit_events SET seq = -2 WHERE seq = 2; UPDATE audit_events SET seq = 2 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = -2;").await;
        assert!(matches!(verdict(&app).await, Verdict::Broken(ChainBreak::BrokenLink { seq: 2 })));
        app.raw_sql("UPDATE audit_events SET seq = -2 WHERE seq = 2; UPDATE audit_events SET seq = 2 WHERE seq = 3; UPDATE audit_events SET seq = 3 WHERE seq = -2;").await;
        assert!(matches!(verdict(&app).await, Verdict::Intact { .. }));
        app.raw_sql("DELETE FROM audit_events WHERE seq = 6").await;
        assert!(matches!(verdict(&app).await, Verdict::Broken(ChainBreak::Truncated { last: 5, head_seq: 6 })));
    }
}

fn keys(app: &TestApp) -> Vec<steward_app::crypto::MasterKey> {
    match &app.state.settings.master_key {
        steward_app::config::MasterKeySource::File(p) => {
            steward_app::crypto::Keyring::read_file(p).unwrap().unwrap().into_keys()
        }
        steward_app::config::MasterKeySource::Inline(b) => {
            vec![steward_app::crypto::MasterKey::from_base64(b).unwrap()]
        }
    }
}

async fn full_verdict(app: &TestApp) -> Verdict {
    let keys = keys(app);
    let opts = VerifyOptions {
        master_keys: &keys,
        anchor_file: Some(&app.state.settings.audit_anchor_file),
        split_above: None,
    };
    verify_chain_with(&app.state.store, &opts, |_, _| {}).await.unwrap()
}

both_backends! {
    async fn the_anchor_file_catches_a_cut_off_end_with_a_rewound_head(app: TestApp) {
        some_activity(&app).await;
        assert_eq!(write_anchor(&app.state, None).await.unwrap(), 6);
        assert!(matches!(full_verdict(&app).await, Verdict::Intact { events: 6 }));
        // Cut the last event off and rewind the head to match: the database alone looks intact…
        app.raw_sql("DELETE FROM audit_events WHERE seq = 6; UPDATE audit_head SET seq = 5, hash = (SELECT hash FROM audit_events WHERE seq = 5) WHERE singleton = 1;").await;
        assert!(matches!(verdict(&app).await, Verdict::Intact { events: 5 }));
        // …but not against the anchor written outside it.
        match full_verdict(&app).await {
            Verdict::Broken(ChainBreak::CutOffAfterAnchor { last, anchored }) => assert_eq!((last, anchored), (5, 6)),
            other => panic!("expected a cut-off end, got {other:?}"),
        }
        let text = std::fs::read_to_string(&app.state.settings.audit_anchor_file).unwrap();
        assert_eq!(text.lines().count(), 1, "one line per head change");
        assert!(text.split_whitespace().nth(1) == Some("6"));
    }

    async fn every_anchor_line_is_signed_and_checked_against_the_chain(app: TestApp) {
        let s = some_activity(&app).await;
        assert_eq!(write_anchor(&app.state, None).await.unwrap(), 6);
        app.post("/api/v1/me/tokens").auth(&s).json(json!({"name": "t2", "scopes": ["read"]})).send().await;
        assert_eq!(write_anchor(&app.state, Some(6)).await.unwrap(), 7);
        let path = app.state.settings.audit_anchor_file.clone();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for l in &lines {
            let fields: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(fields.len(), 5, "at seq hash key_id hmac: {l}");
            assert_eq!(fields[4].len(), 64, "an HMAC-SHA256: {l}");
        }
        assert!(matches!(full_verdict(&app).await, Verdict::Intact { events: 7 }));
        let write = |t: String| std::fs::write(&path, t).unwrap();
        let seventh: Vec<&str> = lines[1].split_whitespace().collect();

        // The first line (not only the last) is checked: its hash swapped for the seventh event's,
        // signature left as it was, is a forgery.
        let mut first: Vec<&str> = lines[0].split_whitespace().collect();
        first[2] = seventh[2];
        write(format!("{}\n{}\n", first.join(" "), lines[1]));
        assert!(matches!(full_verdict(&app).await, Verdict::Broken(ChainBreak::AnchorForged { line: 1 })), "{:?}", full_verdict(&app).await);

        // A file of unsigned lines that agree with the chain was written by someone without the key.
        let unsigned = |l: &str| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
        write(format!("{}\n{}\n", unsigned(lines[0]), unsigned(lines[1])));
        assert!(matches!(full_verdict(&app).await, Verdict::Broken(ChainBreak::AnchorUnsigned { line: 2 })));

        // Lines from before signing are still compared with the chain, every one of them.
        write(format!("{}\n{}\n", unsigned(lines[0]), lines[1]));
        assert!(matches!(full_verdict(&app).await, Verdict::Intact { events: 7 }));
        let mut wrong: Vec<&str> = lines[0].split_whitespace().take(3).collect();
        wrong[2] = seventh[2];
        write(format!("{}\n{}\n", wrong.join(" "), lines[1]));
        assert!(matches!(full_verdict(&app).await, Verdict::Broken(ChainBreak::AnchorMismatch { seq: 6 })));

        // A damaged line is a finding, not something skipped.
        write(format!("{}\nnot an anchor\n{}\n", lines[0], lines[1]));
        assert!(matches!(full_verdict(&app).await, Verdict::Broken(ChainBreak::AnchorMalformed { line: 2 })));

        // Rewriting the chain and re-anchoring it needs the key: a line signed with another key
        // whose id is this key's is refused.
        let other = steward_app::crypto::MasterKey::generate();
        let mut forged = steward_app::audit_verify::anchor_line(&other, 1, 7, &hex::decode(seventh[2]).unwrap());
        let ours = keys(&app)[0].fingerprint();
        let forged_fields: Vec<String> = forged.split_whitespace().map(str::to_string).collect();
        forged = format!("{} {} {} {} {}\n", forged_fields[0], forged_fields[1], forged_fields[2], hex::encode(ours), forged_fields[4]);
        write(format!("{}\n{forged}", lines[0]));
        assert!(matches!(full_verdict(&app).await, Verdict::Broken(ChainBreak::AnchorForged { line: 2 })));
    }

    async fn an_inserted_event_is_detected(app: TestApp) {
        some_activity(&app).await;
        app.raw_sql("INSERT INTO audit_events (seq, id, at, action, outcome, detail, prev_hash, hash) SELECT 7, 'forged', at, 'me.token.create', 'allowed', '{}', hash, hash FROM audit_events WHERE seq = 6;").await;
        assert!(matches!(verdict(&app).await, Verdict::Broken(ChainBreak::Altered { seq: 7 })));
    }
}

mod retention {
    use super::*;

    async fn run(app: TestApp) {
        some_activity(&app).await;
        app.clock.advance(std::time::Duration::from_secs(3 * 86_400));
        let later = app.user("later@example.com").await;
        app.post("/api/v1/me/tokens").auth(&later).json(json!({"name": "t", "scopes": ["read"]})).send().await;
        let before = app.state.store.audit_event_count().await.unwrap();
        // A prune stopped right after its checkpoint: nothing deleted yet, and the chain
        // verifies from the checkpoint all the same.
        assert_eq!(steward_app::audit_verify::record_retention_checkpoint(&app.state).await.unwrap(), Some(6));
        assert_eq!(app.state.store.audit_event_count().await.unwrap(), before);
        match full_verdict(&app).await {
            Verdict::Intact { events } => assert_eq!(events, u64::try_from(before - 6).unwrap()),
            other => panic!("the chain verifies from a checkpoint with events still behind it: {other:?}"),
        }
        // The next prune deletes what is behind it, four per transaction, and records no
        // second checkpoint at the same event.
        let pruned = steward_app::audit_verify::prune_in_batches(&app.state, 4).await.unwrap();
        assert_eq!(pruned, 6, "the six events older than two days");
        assert_eq!(app.state.store.audit_event_count().await.unwrap(), before - 6);
        match full_verdict(&app).await {
            Verdict::Intact { events } => assert_eq!(events, u64::try_from(before - 6).unwrap()),
            other => panic!("the pruned chain verifies from its checkpoint: {other:?}"),
        }
        assert_eq!(steward_app::audit_verify::prune(&app.state).await.unwrap(), 0, "nothing more to prune");
        // A forged checkpoint is refused…
        app.raw_sql("UPDATE audit_checkpoints SET signature = hash;").await;
        assert!(matches!(full_verdict(&app).await, Verdict::Broken(ChainBreak::BadCheckpoint { seq: 6 })));
        // …and without it the pruned start of the chain is simply missing.
        app.raw_sql("DELETE FROM audit_checkpoints;").await;
        assert!(matches!(full_verdict(&app).await, Verdict::Broken(ChainBreak::Missing { from: 1, to: 6 })));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(TestApp::spawn_with(Backend::Sqlite, |s| s.audit_retention_days = Some(2)).await.unwrap()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = TestApp::spawn_with(Backend::Postgres, |s| s.audit_retention_days = Some(2)).await {
            run(app).await;
        }
    }
}
