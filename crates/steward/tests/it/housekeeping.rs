//! Housekeeping's clean-ups forget what can no longer be used, and nothing else.
use crate::helpers::oauth::with_connected_linkedin_member;
use crate::helpers::*;

both_backends! {
    async fn expired_connection_attempts_are_forgotten(app: TestApp) {
        let backend = app.backend;
        drop(app);
        let Some((app, _double, owner, _account)) = with_connected_linkedin_member(backend).await else { return };
        // A second attempt, left unfinished.
        let _ = crate::helpers::oauth::start(&app, &owner, serde_json::json!({"platform": "linkedin", "account_kind": "member"})).await;
        let now = app.state.clock.now_us();
        assert_eq!(app.state.store.prune_oauth_states(now).await.unwrap(), 0, "live attempts are kept");
        let later = now + 24 * 3600 * 1_000_000;
        assert_eq!(app.state.store.prune_oauth_states(later).await.unwrap(), 2, "the used one and the abandoned one");
        assert_eq!(app.state.store.prune_oauth_states(later).await.unwrap(), 0);
    }
}
