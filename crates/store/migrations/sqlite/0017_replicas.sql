-- Replicas on one PostgreSQL keep a read cache of sessions and account access; the tables and
-- triggers that make that safe there (see the PostgreSQL twin of this migration) exist here too
-- so both schemas agree. On SQLite one server owns the file and its cache watches
-- `PRAGMA data_version` instead; these triggers only count the changes in `rights_epoch`.
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

CREATE TRIGGER sessions_rights_update AFTER UPDATE OF revoked_at, expires_at, user_id, token_hash ON sessions
    BEGIN UPDATE rights_epoch SET generation = generation + 1; END;
CREATE TRIGGER sessions_rights_delete AFTER DELETE ON sessions
    BEGIN UPDATE rights_epoch SET generation = generation + 1; END;
CREATE TRIGGER users_rights_update AFTER UPDATE OF id, email, display_name, totp_enabled, created_at ON users
    BEGIN UPDATE rights_epoch SET generation = generation + 1; END;
CREATE TRIGGER users_rights_delete AFTER DELETE ON users
    BEGIN UPDATE rights_epoch SET generation = generation + 1; END;
CREATE TRIGGER social_accounts_rights_update AFTER UPDATE ON social_accounts
    BEGIN UPDATE rights_epoch SET generation = generation + 1; END;
CREATE TRIGGER social_accounts_rights_delete AFTER DELETE ON social_accounts
    BEGIN UPDATE rights_epoch SET generation = generation + 1; END;
CREATE TRIGGER memberships_rights_update AFTER UPDATE ON memberships
    BEGIN UPDATE rights_epoch SET generation = generation + 1; END;
CREATE TRIGGER memberships_rights_delete AFTER DELETE ON memberships
    BEGIN UPDATE rights_epoch SET generation = generation + 1; END;
