//! Too many writers on SQLite is load, not a fault: when the write lock stays taken past the
//! busy timeout, the store says `Busy` (which the application answers 503 with Retry-After),
//! never an internal error.
use steward_store::{Store, StoreError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_lock_held_past_the_busy_timeout_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("busy.db");
    let store = Store::open(&format!("sqlite://{}", file.display())).await.unwrap();
    // Another process holding the write lock (an operator's tool, say).
    let other = rusqlite::Connection::open(&file).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    match store.begin().await {
        Err(StoreError::Busy(_)) => {}
        Err(e) => panic!("expected Busy, got {e:?}"),
        Ok(_) => panic!("the write lock was taken twice"),
    }
    other.execute_batch("COMMIT").unwrap();
    store.begin().await.expect("free again").commit().await.unwrap();
}
