//! Every two seconds: notification mail left waiting (a server stopped between a change's
//! commit and its mail) is sent, and today's daily digests not yet claimed by any replica
//! (`steward_app::notifications::{mail_pending, digest::run_once}`).
use steward_app::Services;
use steward_app::notifications::digest::{NOTIFY_POLL, run_once};
use steward_app::notifications::mail_pending;

/// Sends waiting notification mail and due digests until the task is aborted.
pub async fn run(state: Services) {
    let mut tick = tokio::time::interval(NOTIFY_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = mail_pending(&state).await {
            tracing::warn!(error = %e, "notification mail round failed");
        }
        if let Err(e) = run_once(&state).await {
            tracing::warn!(error = %e, "daily digest round failed");
        }
    }
}
