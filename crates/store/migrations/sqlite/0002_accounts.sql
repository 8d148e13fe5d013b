-- Social accounts, memberships and invitations: the delegation model.
CREATE TABLE social_accounts (
    id TEXT PRIMARY KEY,
    platform TEXT NOT NULL,
    account_kind TEXT NOT NULL,
    handle TEXT NOT NULL,
    display_name TEXT NOT NULL,
    owner_id TEXT NOT NULL REFERENCES users(id),
    time_zone TEXT NOT NULL,
    status TEXT NOT NULL,
    max_members BIGINT NOT NULL,
    min_gap_minutes BIGINT NOT NULL,
    max_posts_per_day BIGINT,
    approvals_required BIGINT NOT NULL,
    owner_approval_required BOOLEAN NOT NULL,
    admins_may_approve_own BOOLEAN NOT NULL,
    rules_text TEXT NOT NULL,
    rules_version BIGINT NOT NULL,
    credential_sealed BLOB,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX social_accounts_owner ON social_accounts(owner_id);

-- Capability overrides are JSON lists of capability names; windows a JSON list as in API.md.
CREATE TABLE memberships (
    account_id TEXT NOT NULL REFERENCES social_accounts(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    grants TEXT NOT NULL,
    revokes TEXT NOT NULL,
    expires_at BIGINT,
    windows TEXT NOT NULL,
    daily_quota BIGINT,
    status TEXT NOT NULL,
    accepted_rules_version BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, user_id)
);
CREATE INDEX memberships_user ON memberships(user_id);
CREATE INDEX memberships_expiry ON memberships(expires_at);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES social_accounts(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    grants TEXT NOT NULL,
    revokes TEXT NOT NULL,
    membership_expires_at BIGINT,
    windows TEXT NOT NULL,
    daily_quota BIGINT,
    invited_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    accepted_at BIGINT,
    withdrawn_at BIGINT
);
CREATE INDEX invitations_account ON invitations(account_id, expires_at);
