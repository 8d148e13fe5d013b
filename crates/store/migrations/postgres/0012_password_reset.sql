-- Signing in that holds: password reset links (stored as hashes, single use), the requests
-- for them (throttled per address and per email), when a session last re-authenticated
-- (creating an access token needs it recent), and whether an invitation's email went out.
CREATE TABLE password_resets (
    token_hash BYTEA PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX password_resets_user ON password_resets(user_id);

CREATE TABLE password_reset_requests (
    email TEXT NOT NULL,
    ip TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX password_reset_requests_email ON password_reset_requests(email, at);
CREATE INDEX password_reset_requests_ip ON password_reset_requests(ip, at);

ALTER TABLE sessions ADD COLUMN reauthenticated_at BIGINT;

ALTER TABLE invitations ADD COLUMN mail_status TEXT;
ALTER TABLE invitations ADD COLUMN mail_error TEXT;
ALTER TABLE invitations ADD COLUMN mailed_at BIGINT;
