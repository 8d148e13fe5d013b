-- Which connection of the account its credential belongs to: moved by connecting,
-- reconnecting and destroying the credential, not by refreshing its tokens. A refresh, or a
-- platform's refusal, stores its outcome only if the connection it started from is still the
-- account's, so a reconnection made meanwhile is never undone by the old grant.
ALTER TABLE social_accounts ADD COLUMN credential_generation BIGINT NOT NULL DEFAULT 0;
