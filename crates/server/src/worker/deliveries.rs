//! Twice a second, alert deliveries that are due are claimed and sent
//! (`steward_app::alerts::deliver_due`: email or signed webhook, with retries).
use steward_app::Services;
use steward_app::alerts::{DELIVERY_POLL, deliver_due};

/// Sends due deliveries until the task is aborted.
pub async fn run(state: Services) {
    let mut tick = tokio::time::interval(DELIVERY_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = deliver_due(&state).await {
            tracing::warn!(error = %e, "alert delivery round failed");
        }
    }
}
