-- Audit events written with their change but not yet in the chain (PostgreSQL; SQLite appends
-- to the chain at once, its one writer holding the lock anyway, and leaves this table empty).
-- A write transaction inserts its event here, runs the alert detectors on it (their counts
-- include the events waiting here) and commits without touching `audit_head`, so concurrent
-- writers commit together (one WAL flush for many); right after its commit the writer waits
-- until a sealing round has moved every waiting event into `audit_events` in one transaction:
-- head locked, events numbered and hashed in order, their findings raised in that order
-- (grouping takes turns), head updated.
-- A row left here by a crash is sealed by the next round of any replica.
CREATE TABLE audit_pending (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_id TEXT,
    actor_email TEXT,
    session_id TEXT,
    ip TEXT,
    user_agent TEXT,
    action TEXT NOT NULL,
    target TEXT,
    account_id TEXT,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    -- What the detectors found (a JSON array), raised when the event is sealed; NULL: nothing.
    findings TEXT
);
CREATE INDEX audit_pending_order ON audit_pending(at, id);
