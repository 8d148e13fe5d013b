-- Posts (issue 5, DESIGN.md "Post workflow"): the current content and workflow state of each
-- post, every content version ever saved, approvals (each of one exact version), the review
-- thread, and uploaded media. The scheduler's publish jobs live in their own tables (0006).
CREATE TABLE posts (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES social_accounts(id) ON DELETE CASCADE,
    author_id TEXT NOT NULL REFERENCES users(id),
    -- draft, in_review, approved, scheduled, publishing, published, failed, cancelled
    state TEXT NOT NULL,
    -- The current content version: raised by every content edit, never by a state change.
    version BIGINT NOT NULL,
    title TEXT,
    text TEXT NOT NULL,
    -- JSON list of {"url","kind"} with kind image or video.
    media TEXT NOT NULL,
    scheduled_at BIGINT,
    -- Who scheduled it: their windows and daily quota apply, at scheduling and again when due.
    scheduled_by TEXT,
    published_at BIGINT,
    -- The platform's id of the live post, and its URL when the platform gives one.
    external_id TEXT,
    external_url TEXT,
    last_error TEXT,
    -- Why the scheduler held a due post (domain HoldReason, snake_case), until it is rescheduled.
    hold_reason TEXT,
    -- Idempotency-Key of the create request, with a hash of its body to detect reuse.
    idempotency_key TEXT,
    request_hash BYTEA,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX posts_account ON posts(account_id, created_at, id);
CREATE INDEX posts_account_schedule ON posts(account_id, state, scheduled_at);
CREATE INDEX posts_due ON posts(state, scheduled_at);
CREATE UNIQUE INDEX posts_idempotency ON posts(account_id, author_id, idempotency_key);

-- Every content version, version 1 being the content the post was created with.
CREATE TABLE post_versions (
    post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    title TEXT,
    text TEXT NOT NULL,
    media TEXT NOT NULL,
    edited_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (post_id, version)
);

-- Approvals that still stand: an edit or a request for changes deletes them (the audit log
-- keeps the history). `by_owner`: the approver was the account's owner when approving.
CREATE TABLE post_approvals (
    post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    approver_id TEXT NOT NULL REFERENCES users(id),
    by_owner BOOLEAN NOT NULL,
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (post_id, version, approver_id)
);

-- The review thread. `kind` is `comment`, or `changes_requested` for the comment that came
-- with a request for changes; `version` is the version the comment was written about.
CREATE TABLE post_comments (
    id TEXT PRIMARY KEY,
    post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    author_id TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX post_comments_post ON post_comments(post_id, created_at, id);

-- Uploaded media: the bytes live in STEWARD_DATA_DIR/media/<id>, this row says what they are.
CREATE TABLE media_uploads (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES social_accounts(id) ON DELETE CASCADE,
    uploaded_by TEXT NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX media_uploads_account ON media_uploads(account_id, created_at);
