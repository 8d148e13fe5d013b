-- OAuth connection attempts: a single-use `state` bound to the session that started it, with
-- the PKCE verifier sealed under the master key. Only the state's hash is stored.
CREATE TABLE oauth_states (
    state_hash BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    account_kind TEXT NOT NULL,
    verifier_sealed BYTEA NOT NULL,
    reconnect_account_id TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
