-- A LinkedIn member who connected "a Company Page" picks which of the pages they administer
-- become Steward accounts. Between the callback and the choice, the member's credential waits
-- here, sealed under the master key, bound to the session that connected, for 10 minutes;
-- choosing deletes the row (it works once).
CREATE TABLE linkedin_page_choices (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    session_id TEXT NOT NULL,
    credential_sealed BYTEA NOT NULL,
    pages TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX linkedin_page_choices_expiry ON linkedin_page_choices(expires_at);
