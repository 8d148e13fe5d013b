//! Raising an alert from code that knows of a finding no audit event describes.
use steward_store::{Finding, Raised, Tx};

/// Raises a finding inside the caller's transaction (grouped per API.md; see `store::alerts`).
pub async fn raise(tx: &mut Tx, finding: Finding) -> steward_store::Result<Raised> {
    tx.raise_alert(finding).await
}
