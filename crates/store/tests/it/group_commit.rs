//! Group commit on SQLite (store/src/group.rs): many writers at once share commits, yet each
//! `commit` returns only once its own changes are durable and visible to any other connection,
//! a transaction dropped without commit takes back only its own changes, and the audit chain
//! stays gap-free through both.
use std::sync::Arc;

use steward_store::{NewAuditEvent, Store};

fn event(id: &str) -> NewAuditEvent {
    NewAuditEvent {
        id: id.to_string(),
        at: 1_800_000_000_000_000,
        action: "test.write".into(),
        outcome: "allowed".into(),
        detail: "{}".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_commit_durably_and_a_dropped_one_takes_back_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("group.db");
    let store = Store::open(&format!("sqlite://{}", file.display())).await.unwrap();
    let file = Arc::new(file);
    let mut tasks = Vec::new();
    for i in 0..96 {
        let store = store.clone();
        let file = file.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("e{i:03}");
            let mut tx = store.begin().await.unwrap();
            tx.append_audit(event(&id)).await.unwrap();
            if i % 3 == 0 {
                // Dropped without commit: rolled back, whoever else shares the group.
                drop(tx);
                return (id, false);
            }
            tx.commit().await.unwrap();
            // Returned: on disk, for any other connection, at once.
            let other = rusqlite::Connection::open(&*file).unwrap();
            let n: i64 =
                other.query_row("SELECT COUNT(*) FROM audit_events WHERE id = ?1", [&id], |r| r.get(0)).unwrap();
            assert_eq!(n, 1, "{id} was acknowledged before another connection could see it");
            (id, true)
        }));
    }
    let mut committed = Vec::new();
    for t in tasks {
        let (id, kept) = t.await.unwrap();
        if kept {
            committed.push(id);
        }
    }
    committed.sort();
    // Let the dropped transactions' rollbacks run (they run in tasks of their own).
    let settle = store.begin().await.unwrap();
    settle.commit().await.unwrap();
    let rows = store.audit_events_after(0, 1_000).await.unwrap();
    let mut ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, committed, "exactly the committed events");
    for (n, pair) in rows.windows(2).enumerate() {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "a gap after event {n}");
        assert_eq!(pair[1].prev_hash, pair[0].hash, "the chain breaks after event {n}");
    }
    assert_eq!(rows.first().map(|r| r.seq), Some(1));
    assert_eq!(
        store.audit_head().await.unwrap().0,
        i64::try_from(committed.len()).unwrap(),
        "the head is the last event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_store_holds_no_write_lock() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("idle.db");
    let store = Store::open(&format!("sqlite://{}", file.display())).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.append_audit(event("one")).await.unwrap();
    tx.commit().await.unwrap();
    let dropped = store.begin().await.unwrap();
    drop(dropped);
    // Another process (an operator's tool) can take the write lock once nothing is writing.
    let other = rusqlite::Connection::open(&file).unwrap();
    other.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    other.execute_batch("BEGIN IMMEDIATE; COMMIT").expect("the write lock is free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_gives_up_waiting_leaves_no_group_open() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cancel.db");
    let store = Store::open(&format!("sqlite://{}", file.display())).await.unwrap();
    let mut holder = store.begin().await.unwrap();
    // A request given up (its client went away) while it waited for the turn.
    assert!(tokio::time::timeout(std::time::Duration::from_millis(20), store.begin()).await.is_err());
    holder.append_audit(event("held")).await.unwrap();
    let wait = std::time::Duration::from_secs(5);
    tokio::time::timeout(wait, holder.commit()).await.expect("the commit hung").unwrap();
    drop(store.begin().await.unwrap());
    let other = rusqlite::Connection::open(&file).unwrap();
    other.busy_timeout(std::time::Duration::from_secs(2)).unwrap();
    other.execute_batch("BEGIN IMMEDIATE; COMMIT").expect("no group kept SQLite's write lock");
    tokio::time::timeout(wait, store.close()).await.expect("closing the store hung");
}
