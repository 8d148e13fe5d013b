//! Every ten minutes, clean-up that needs no exactness: sign-in attempts older than a day.
use steward_app::Services;

/// Periodic clean-up that needs no exactness.
pub async fn run(state: Services) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        let cutoff = state.clock.now_us() - 24 * 3600 * 1_000_000;
        if let Err(e) = state.store.prune_login_attempts(cutoff).await {
            tracing::warn!(error = %e, "pruning old sign-in attempts failed");
        }
        if let Err(e) = state.store.prune_password_resets(cutoff).await {
            tracing::warn!(error = %e, "pruning old password reset requests and links failed");
        }
    }
}
