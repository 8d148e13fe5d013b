//! Every minute the audit chain's head goes to the anchor file; every hour, retention
//! (`steward_app::audit_verify`).
use steward_app::Services;
use steward_app::audit_verify::{anchor_logged, prune};

/// Every minute: the anchor; every hour: retention (when configured).
pub async fn run(state: Services, mut last: Option<i64>) {
    let period = std::time::Duration::from_secs(60);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut rounds: u64 = 1;
    loop {
        tick.tick().await;
        last = anchor_logged(&state, last).await.or(last);
        if rounds.is_multiple_of(60)
            && let Err(e) = prune(&state).await
        {
            tracing::error!(error = %e, "audit retention failed");
        }
        rounds += 1;
    }
}
