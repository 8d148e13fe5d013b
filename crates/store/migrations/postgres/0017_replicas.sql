-- Replicas on one PostgreSQL keep a read cache of sessions and account access (store::cache).
-- A change to the rows that cache holds must reach every replica before it is acknowledged:
--
-- * `rights_epoch.generation` counts those changes. A server bumps it (and NOTIFYs the new
--   value on `steward_rights`) right after committing one, then waits until every live replica
--   has written an `acked` at least that large (store::replicas).
-- * `replicas` lists the servers running, with a heartbeat (database clock, microseconds) and
--   the generation each one has invalidated its cache for.
-- * Statement triggers on the cached tables mark the transaction (`steward.rights_changed`,
--   so the committing server knows to bump and wait) and NOTIFY at commit, so a change made
--   by anything else (an operator's psql) empties every replica's cache too.
CREATE TABLE rights_epoch (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    generation BIGINT NOT NULL
);
INSERT INTO rights_epoch (singleton, generation) VALUES (1, 0);

CREATE TABLE replicas (
    id TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    acked BIGINT NOT NULL
);

CREATE FUNCTION steward_rights_changed() RETURNS trigger AS $$
BEGIN
    PERFORM set_config('steward.rights_changed', '1', true);
    PERFORM pg_notify('steward_rights', 'w');
    RETURN NULL;
END $$ LANGUAGE plpgsql;

-- Sessions: what ends or moves one (not `last_seen_at`, which every request may touch).
CREATE TRIGGER sessions_rights_update AFTER UPDATE OF revoked_at, expires_at, user_id, token_hash ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION steward_rights_changed();
CREATE TRIGGER sessions_rights_delete AFTER DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION steward_rights_changed();
-- Users: what a session lookup carries (not the TOTP step or sealed secrets).
CREATE TRIGGER users_rights_update AFTER UPDATE OF id, email, display_name, totp_enabled, created_at ON users
    FOR EACH STATEMENT EXECUTE FUNCTION steward_rights_changed();
CREATE TRIGGER users_rights_delete AFTER DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION steward_rights_changed();
CREATE TRIGGER social_accounts_rights_update AFTER UPDATE ON social_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION steward_rights_changed();
CREATE TRIGGER social_accounts_rights_delete AFTER DELETE ON social_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION steward_rights_changed();
CREATE TRIGGER memberships_rights_update AFTER UPDATE ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION steward_rights_changed();
CREATE TRIGGER memberships_rights_delete AFTER DELETE ON memberships
    FOR EACH STATEMENT EXECUTE FUNCTION steward_rights_changed();
