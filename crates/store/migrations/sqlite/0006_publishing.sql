-- Publishing (issue 5, DESIGN.md Invariant 10): the scheduler's durable jobs and attempts, and
-- the built-in sandbox platform's posts and comments.
--
-- The schedule itself is `posts.scheduled_at` of posts in state `scheduled` (0005): a worker
-- takes due posts from there. From the moment it decides to publish a post version it keeps a
-- job (one row per post) with a lease, and an attempt row per platform call, each committed
-- BEFORE the call, so that after a crash the call is reconciled with the platform (same
-- idempotency key, or the platform ref the adapter journaled) instead of repeated blindly.
CREATE TABLE publish_jobs (
    post_id TEXT PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES social_accounts(id) ON DELETE CASCADE,
    -- The post version being published and its idempotency key, f(post id, version).
    version BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- running (an attempt is in flight, or was when its worker died: lease expired),
    -- waiting (retry at next_attempt_at), polling (the platform is processing: ask again at
    -- next_attempt_at), done, failed, held, requeued (back to the post's schedule after a
    -- 429), abandoned (the post changed under the job).
    state TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    next_attempt_at BIGINT,
    lease_owner TEXT,
    lease_expires_at BIGINT,
    -- Attempts of this version so far.
    attempts BIGINT NOT NULL,
    -- Since when an attempt of this version may have reached the platform without Steward
    -- learning the outcome (timeout, 5xx, crash): the post then stays `publishing` until
    -- resolved, and platforms whose de-duplication expires are not sent it blindly again.
    uncertain_since BIGINT,
    -- What the adapter journaled (TikTok publish_id, Bluesky rkey, …) for reconciliation.
    platform_ref TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX publish_jobs_next ON publish_jobs(state, next_attempt_at);
CREATE INDEX publish_jobs_lease ON publish_jobs(state, lease_expires_at);

CREATE TABLE publish_attempts (
    id TEXT PRIMARY KEY,
    post_id TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    worker TEXT NOT NULL,
    -- This attempt re-asks the platform about an earlier one whose outcome was not learned.
    reconcile BOOLEAN NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    -- NULL while in flight (or forever, if its worker died); then published, processing,
    -- rate_limited, transient, rejected, unauthorized, held.
    outcome TEXT,
    error TEXT
);
CREATE INDEX publish_attempts_post ON publish_attempts(post_id, attempt);

-- The sandbox platform: a local "network" that keeps what it was sent. A repeat of an
-- idempotency key on one account is a no-op that answers the first post's id.
CREATE TABLE sandbox_posts (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES social_accounts(id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    title TEXT,
    text TEXT NOT NULL,
    media TEXT NOT NULL,
    impressions BIGINT NOT NULL DEFAULT 0,
    likes BIGINT NOT NULL DEFAULT 0,
    shares BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sandbox_posts_key ON sandbox_posts(account_id, idempotency_key);

CREATE TABLE sandbox_comments (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES social_accounts(id) ON DELETE CASCADE,
    post_id TEXT NOT NULL REFERENCES sandbox_posts(id) ON DELETE CASCADE,
    parent_id TEXT,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    hidden BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL
);
CREATE INDEX sandbox_comments_post ON sandbox_comments(post_id, created_at);
