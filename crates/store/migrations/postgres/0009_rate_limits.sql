-- Platform rate limits, kept per account so that every replica sees them.

-- One row per publish call that counts toward a platform's published limit (not status
-- checks or reconciliations); pruned once older than the longest window (a day).
CREATE TABLE publish_calls (
    account_id TEXT NOT NULL REFERENCES social_accounts(id) ON DELETE CASCADE,
    post_id TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX publish_calls_account_at ON publish_calls(account_id, at);

-- The platform answered "rate limited" until this instant: no publish call for the account
-- before then, whichever post is due.
CREATE TABLE account_rate_limits (
    account_id TEXT PRIMARY KEY REFERENCES social_accounts(id) ON DELETE CASCADE,
    blocked_until BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
