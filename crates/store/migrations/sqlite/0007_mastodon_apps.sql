-- Steward's OAuth application on each Mastodon instance: registered (POST /api/v1/apps) on the
-- first connect to that instance and reused by later ones. The client secret is sealed under
-- the master key (AAD `mastodon_apps:{instance}:client_secret`); master-key rotation re-seals it.
CREATE TABLE mastodon_apps (
    instance TEXT PRIMARY KEY,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL,
    client_id TEXT NOT NULL,
    client_secret_sealed BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

-- A Mastodon connection attempt remembers which instance it went to.
ALTER TABLE oauth_states ADD COLUMN instance TEXT;
