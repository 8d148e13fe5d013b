//! SQLite reads the chain's head with a new post, for the event that records it
//! (`Tx::insert_post_with`): only the event that follows at once may use it. A statement in
//! between (another event, a change to the account) makes the append read the head again, so
//! the chain never forks and the alert rules see the account as it is.
use steward_domain::alerts::AlertThresholds;
use steward_domain::ids::{AccountId, PostId, UserId};
use steward_store::{NewAuditEvent, NewPost, Store, Tx};

const NOW: i64 = 1_800_000_000_000_000;

fn event(id: &str, account: Option<&AccountId>, action: &str) -> NewAuditEvent {
    NewAuditEvent {
        id: id.to_string(),
        at: NOW,
        actor_id: Some("owner".into()),
        action: action.into(),
        account_id: account.cloned(),
        outcome: "allowed".into(),
        detail: "{}".into(),
        ..Default::default()
    }
}

async fn insert_post(tx: &mut Tx, id: &str, account: &AccountId, owner: &UserId) {
    let post = NewPost {
        id: &PostId::from(id),
        account_id: account,
        author_id: owner,
        title: None,
        text: "hello",
        media: "[]",
        idempotency: None,
        now: NOW,
    };
    tx.insert_post(post).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_event_right_after_a_new_post_uses_the_head_read_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ahead.db");
    let store = Store::open(&format!("sqlite://{}", file.display())).await.unwrap();
    let (owner, account) = (UserId::from("owner"), AccountId::from("acc"));
    let mut tx = store.begin().await.unwrap();
    crate::owner_and_account(&mut tx, &owner, &account, NOW).await;
    tx.commit().await.unwrap();

    // Another event between the post and its own: both are chained in order.
    let mut tx = store.begin().await.unwrap();
    insert_post(&mut tx, "p1", &account, &owner).await;
    tx.append_audit(event("between", None, "test.other")).await.unwrap();
    tx.append_audit(event("p1-created", Some(&account), "posts.create")).await.unwrap();
    // Right after: the head read with the post.
    insert_post(&mut tx, "p2", &account, &owner).await;
    tx.append_audit(event("p2-created", Some(&account), "posts.create")).await.unwrap();
    tx.commit().await.unwrap();
    let rows = store.audit_events_after(0, 100).await.unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["between", "p1-created", "p2-created"]);
    for pair in rows.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1, "no gap");
        assert_eq!(pair[1].prev_hash, pair[0].hash, "each event follows the one before: no fork");
    }

    // The account changes between the post and its event: the rules see the new thresholds.
    let mut thresholds = AlertThresholds::default();
    thresholds.post_burst.count = 1;
    let mut tx = store.begin().await.unwrap();
    insert_post(&mut tx, "p3", &account, &owner).await;
    tx.set_alert_thresholds(&account, &serde_json::to_string(&thresholds).unwrap()).await.unwrap();
    tx.append_audit(event("p3-created", Some(&account), "posts.create")).await.unwrap();
    tx.commit().await.unwrap();
    let alerts: i64 = rusqlite::Connection::open(&file)
        .unwrap()
        .query_row("SELECT COUNT(*) FROM alerts WHERE account_id = 'acc' AND kind = 'post_burst'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(alerts, 1, "a burst of one post, under the thresholds set just before");
}
