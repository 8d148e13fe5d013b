//! The publishing worker's loop: what a round does (claim, call, record) is the application's
//! (`steward_app::scheduler`); this only runs rounds and sleeps between them.
use std::time::Duration;

use steward_app::Services;
use steward_app::scheduler;
use steward_domain::ids::PostId;
use tracing::Instrument;

/// The worker loop, spawned by `App::serve`: a round, then sleep until something may be due.
pub async fn run(state: Services) {
    if let Err(e) = scheduler::recover_in_flight(&state).await {
        tracing::warn!(error = %e, "could not reclaim the publish jobs left in flight at the last stop");
    }
    let mut round: u64 = 0;
    loop {
        round += 1;
        // Every log line of a round carries the worker and the round, so one round's claims,
        // calls and outcomes read together in the log.
        let span = tracing::info_span!("publish_round", worker = %state.scheduler.worker_id(), round);
        let pause = match scheduler::run_once(&state).instrument(span).await {
            Ok(0) => scheduler::idle_wait(&state).await,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    post_id = e.post_id().map(PostId::as_str),
                    "the publishing scheduler failed a round; trying again shortly"
                );
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = state.scheduler.rung() => {}
            () = state.clock.moved() => {}
        }
    }
}
