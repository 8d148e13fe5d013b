//! Removes memberships whose time is up (Invariant 4). Authorization already refuses them
//! from the instant they expire; the sweeper makes the removal visible and records it.
use steward_domain::audit::Action;

use serde_json::json;

use crate::members::invitations::withdraw_pending;
use crate::services::Services;
use crate::usecase::{self, Audit};

/// Removes every membership expired at the clock's now; returns how many were removed.
pub async fn sweep_expired_memberships(state: &Services) -> steward_store::Result<usize> {
    let now = state.clock.now_us();
    let mut removed = 0;
    for m in state.store.expired_memberships(now, 500).await? {
        let mut tx = state.store.begin().await?;
        // Re-checked inside the transaction: the owner may have extended it meanwhile.
        if tx.delete_expired_membership(&m.account_id, &m.user_id, now).await? {
            let expired = Audit::on_account(&m.account_id, Action::MemberExpire)
                .target(format!("user:{}", m.user_id))
                .detail(json!({ "role": m.role, "expired_at": m.expires_at.map(crate::clock::rfc3339) }));
            tx.append_audit(usecase::system_event("steward (expiry)", expired, now)).await?;
            // As when a member is removed: their pending invitations could not be accepted any
            // more, and would hold seats until they expire.
            let reason = "its sender's membership expired";
            for withdrawn in withdraw_pending(&mut tx, &m.account_id, Some(&m.user_id), now, reason).await? {
                tx.append_audit(usecase::system_event("steward (expiry)", withdrawn, now)).await?;
            }
            tx.commit().await?;
            removed += 1;
        }
    }
    Ok(removed)
}
