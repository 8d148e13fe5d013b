-- Activity filters, alerts and their delivery (issue #6).

-- The activity views list newest first by (at, seq) and filter by actor and time: these
-- indexes serve account + actor + time and account + time (and a user's own activity).
CREATE INDEX audit_events_account_at ON audit_events(account_id, at, seq);
CREATE INDEX audit_events_account_actor_at ON audit_events(account_id, actor_id, at, seq);
CREATE INDEX audit_events_actor_at ON audit_events(actor_id, at, seq);

-- Per-account alert thresholds as a JSON object (absent keys take the defaults).
ALTER TABLE social_accounts ADD COLUMN alert_thresholds TEXT NOT NULL DEFAULT '{}';

-- One row per finding group: a repeat of the same kind (same account or user) while an
-- unacknowledged one was seen in the last 15 minutes raises count and last_seen_at instead.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account_id TEXT REFERENCES social_accounts(id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
    severity TEXT NOT NULL,
    summary TEXT NOT NULL,
    detail TEXT NOT NULL,
    count BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    acknowledged_at BIGINT
);
CREATE INDEX alerts_account ON alerts(account_id, kind, last_seen_at);
CREATE INDEX alerts_user ON alerts(user_id, kind, last_seen_at);

CREATE TABLE alert_preferences (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    email BOOLEAN NOT NULL,
    webhook_url TEXT,
    -- Sealed under a master-derived key (AAD users:{id}:webhook-secret); never stored in clear.
    webhook_secret_sealed BLOB,
    -- JSON list of kinds to deliver, or NULL for all.
    kinds TEXT,
    updated_at BIGINT NOT NULL
);

-- The durable outbox: one row per alert, recipient and channel; a background task delivers
-- due rows and retries with backoff. The webhook URL is read at delivery time.
CREATE TABLE alert_deliveries (
    id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    delivered_at BIGINT,
    gave_up_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX alert_deliveries_due ON alert_deliveries(next_attempt_at) WHERE delivered_at IS NULL AND gave_up_at IS NULL;

-- Retention: events older than the horizon are pruned behind a checkpoint that records the
-- last pruned event's seq and hash, signed with a master-derived key, so verification starts
-- from it instead of the genesis hash.
CREATE TABLE audit_checkpoints (
    seq BIGINT PRIMARY KEY,
    hash BLOB NOT NULL,
    at BIGINT NOT NULL,
    signature BLOB NOT NULL,
    created_at BIGINT NOT NULL
);
