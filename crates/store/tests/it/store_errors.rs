//! What the store cannot do is not a conflict: `StoreError::Conflict` means a unique rule
//! refused the change (the API answers 409, "try something else"), so a finding that names
//! nobody, which is a caller's bug, must come back as another error (a 500 at the edge).
use steward_domain::alerts::AlertKind;
use steward_store::{Finding, Store, StoreError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_that_names_nobody_is_refused_as_a_bug_not_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&format!("sqlite://{}", dir.path().join("errors.db").display())).await.unwrap();
    store.migrate().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let nobody = Finding {
        kind: AlertKind::DeniedActions,
        account_id: None,
        user_id: None,
        summary: "s".into(),
        detail: "d".into(),
        at: 1_800_000_000_000_000,
    };
    let refused = tx.raise_alert(nobody).await.unwrap_err();
    assert!(matches!(refused, StoreError::Database(sqlx::Error::Encode(_))), "{refused:?}");
    assert!(refused.to_string().contains("names neither an account nor a person"), "{refused}");
}
