//! Every 30 seconds, the memberships whose time is up are removed and recorded
//! (`steward_app::sweeper`).
use std::time::Duration;

use steward_app::Services;
use steward_app::sweeper::sweep_expired_memberships;

const EVERY: Duration = Duration::from_secs(30);

pub async fn run(state: Services) {
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        if let Err(e) = sweep_expired_memberships(&state).await {
            tracing::warn!(error = %e, "removing expired memberships failed; will retry");
        }
    }
}
