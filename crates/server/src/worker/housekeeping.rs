//! Clean-up that needs no exactness: sign-in attempts older than a day, media chunks of
//! uploads that never completed and connection attempts past their expiry (every ten minutes),
//! and every minute the closed minutes of refused credentials written as `auth.denied_burst`
//! events (a refused request also writes them; this catches an address that went quiet).
use steward_app::Services;
use steward_app::identity::denials::flush_denied_bursts;

/// Periodic clean-up that needs no exactness.
pub async fn run(state: Services) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    let mut ticks: u64 = 0;
    loop {
        tick.tick().await;
        if let Err(e) = flush_denied_bursts(&state).await {
            tracing::warn!(error = %e, "recording refused credentials failed");
        }
        ticks += 1;
        if ticks % 10 != 1 {
            continue;
        }
        let cutoff = state.clock.now_us() - 24 * 3600 * 1_000_000;
        if let Err(e) = state.store.prune_login_attempts(cutoff).await {
            tracing::warn!(error = %e, "pruning old sign-in attempts failed");
        }
        if let Err(e) = state.store.prune_password_resets(cutoff).await {
            tracing::warn!(error = %e, "pruning old password reset requests and links failed");
        }
        if let Err(e) = state.store.prune_auth_attempts(cutoff).await {
            tracing::warn!(error = %e, "pruning old sign-in attempts failed");
        }
        if let Err(e) = state.store.prune_oauth_states(state.clock.now_us()).await {
            tracing::warn!(error = %e, "pruning expired connection attempts failed");
        }
        if let Err(e) = state.store.prune_orphan_media_chunks(cutoff).await {
            tracing::warn!(error = %e, "pruning chunks of unfinished uploads failed");
        }
    }
}
